//! The server names a certificate is chosen for: exact names (`a.example.org`) and wildcards
//! (`*.example.org`, one label, as RFC 6125 §6.4.3 matches them), compared without regard to
//! ASCII case or a trailing dot.

use std::fmt;

/// A name, or a wildcard, a certificate is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePattern {
    /// This name only.
    Exact(String),
    /// Any name of one more label before this suffix: `*.example.org` holds `example.org`, and
    /// matches `a.example.org`, neither `example.org` nor `a.b.example.org`.
    Wildcard(String),
}

/// A name as names are compared: ASCII lowercase, without a trailing dot.
pub fn normalize(name: &str) -> String {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.to_ascii_lowercase()
}

impl NamePattern {
    /// A pattern from a name (`a.example.org`) or a wildcard (`*.example.org`), or why it is
    /// neither: an IDN is given as its A-label (`xn--…`).
    pub fn parse(text: &str) -> Result<NamePattern, String> {
        let name = normalize(text);
        let invalid = |why: &str| Err(format!("{text:?} is not a server name: {why}"));
        if name.is_empty() {
            return invalid("it is empty");
        }
        if name.len() > 253 {
            return invalid("longer than 253 characters");
        }
        let (wildcard, rest) = match name.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, name.as_str()),
        };
        for label in rest.split('.') {
            if label.is_empty() {
                return invalid("an empty label");
            }
            if label.len() > 63 {
                return invalid("a label longer than 63 characters");
            }
            if label.contains('*') {
                return invalid("a wildcard is a whole first label (`*.example.org`)");
            }
            if !label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
            {
                return invalid(
                    "letters, digits, '-' and '_' only (an IDN as its A-label, `xn--…`)",
                );
            }
        }
        Ok(if wildcard {
            NamePattern::Wildcard(rest.to_owned())
        } else {
            NamePattern::Exact(rest.to_owned())
        })
    }

    /// Whether `name`, normalized, is this name or matches this wildcard.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            NamePattern::Exact(exact) => exact == name,
            NamePattern::Wildcard(suffix) => name
                .strip_suffix(suffix.as_str())
                .and_then(|label| label.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty() && !label.contains('.')),
        }
    }
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamePattern::Exact(name) => f.write_str(name),
            NamePattern::Wildcard(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

/// What `entries` have for `name` (normalized): its exact name's, else the wildcard's that
/// matches it; `None` for no name, or a name no entry has.
pub fn choose<'a, T>(entries: &'a [(NamePattern, T)], name: Option<&str>) -> Option<&'a T> {
    let name = name?;
    let exact = entries
        .iter()
        .find(|(pattern, _)| matches!(pattern, NamePattern::Exact(_)) && pattern.matches(name));
    exact
        .or_else(|| entries.iter().find(|(pattern, _)| pattern.matches(name)))
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_wildcards_are_parsed_lowercase_without_a_trailing_dot() {
        assert_eq!(
            NamePattern::parse("A.Test."),
            Ok(NamePattern::Exact("a.test".into()))
        );
        assert_eq!(
            NamePattern::parse("*.Wild.test"),
            Ok(NamePattern::Wildcard("wild.test".into()))
        );
        assert_eq!(
            NamePattern::parse("*.wild.test").unwrap().to_string(),
            "*.wild.test"
        );
        for bad in [
            "", ".", "*", "*.", "a..test", "a*.test", "*.*.test", "x.*.test", "é.test", "a test",
            "a/test",
        ] {
            assert!(NamePattern::parse(bad).is_err(), "{bad:?}");
        }
        assert!(NamePattern::parse(&"a".repeat(64)).is_err());
        assert!(NamePattern::parse(&["a"; 127].join(".")).is_ok(), "253");
        assert!(
            NamePattern::parse(&["a"; 128].join(".")).is_err(),
            "253 at most"
        );
        assert!(NamePattern::parse("xn--bcher-kva.example").is_ok());
        assert!(NamePattern::parse("_acme-challenge.example").is_ok());
    }

    #[test]
    fn a_wildcard_matches_one_label_and_an_exact_name_comes_first() {
        let wild = NamePattern::parse("*.wild.test").unwrap();
        assert!(wild.matches("x.wild.test"));
        assert!(!wild.matches("wild.test"));
        assert!(!wild.matches("y.x.wild.test"));
        assert!(!wild.matches(".wild.test"));
        assert!(!wild.matches("xwild.test"));

        let entries = [
            (NamePattern::parse("*.wild.test").unwrap(), 1),
            (NamePattern::parse("a.test").unwrap(), 2),
            (NamePattern::parse("exact.wild.test").unwrap(), 3),
        ];
        assert_eq!(choose(&entries, Some("a.test")), Some(&2));
        assert_eq!(choose(&entries, Some("x.wild.test")), Some(&1));
        assert_eq!(
            choose(&entries, Some("exact.wild.test")),
            Some(&3),
            "exact first"
        );
        assert_eq!(choose(&entries, Some("b.test")), None);
        assert_eq!(choose(&entries, None), None);
        assert_eq!(normalize("X.Wild.Test."), "x.wild.test");
    }
}
