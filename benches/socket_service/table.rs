//! The table of medians, in the Markdown README.md has.

use crate::server::Kind;
use crate::{BURST_CLIENTS, Options, Samples, UNTUNED_DEADLINE, Workload};

#[derive(Clone, Copy)]
enum Unit {
    Seconds,
    Milliseconds,
    Microseconds,
    /// Per second, or a count.
    Number,
    Bytes,
}

/// A median: a measure, or a bound for a burst that did not finish.
#[derive(Clone, Copy)]
enum Value {
    Exact(f64),
    /// More than this (seconds), with the median count of clients echoed by then.
    MoreThan(f64, f64),
}

impl Value {
    fn bound(self) -> f64 {
        match self {
            Value::Exact(value) | Value::MoreThan(value, _) => value,
        }
    }
}

/// The median of a measure of a server, over the rounds.
fn median(samples: &Samples, kind: Kind, name: &str) -> Option<f64> {
    let mut values = samples.get(&(kind, name))?.clone();
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

/// Usher with and without a PROXY protocol header, if the PROXY workloads ran.
pub fn proxy_markdown(options: &Options, samples: &Samples) -> Option<String> {
    let rows = [
        (
            Workload::ProxyBurst,
            "burst",
            "burst: 5,000 clients connect at once, all echoed",
            Unit::Seconds,
        ),
        (
            Workload::ProxyBurst,
            "p50",
            "burst: p50 latency",
            Unit::Milliseconds,
        ),
        (
            Workload::ProxyBurst,
            "p99",
            "burst: p99 latency",
            Unit::Milliseconds,
        ),
        (
            Workload::ProxyChurn,
            "churn",
            "churn: connections/s, 32 at a time",
            Unit::Number,
        ),
        (
            Workload::ProxyChurn,
            "churn-server",
            "churn: the server's CPU per connection",
            Unit::Microseconds,
        ),
        (
            Workload::ProxyChurn,
            "churn-clients",
            "churn: the clients' CPU per connection",
            Unit::Microseconds,
        ),
    ];
    let mut table = String::from(
        "| workload | Usher | Usher, each client with a PROXY v1 header | with / without |\n\
         |---|---|---|---|\n",
    );
    let mut any = false;
    for (workload, name, label, unit) in rows {
        if !options.workloads.contains(&workload) {
            continue;
        }
        any = true;
        let value = |name: &str| median(samples, Kind::Usher, name).map(Value::Exact);
        let (without, with) = (value(name), value(&format!("proxy-{name}")));
        let cell =
            |value: Option<Value>| value.map_or("–".to_owned(), |value| format(value, unit));
        table += &format!(
            "| {label} | {} | {} | {} |\n",
            cell(without),
            cell(with),
            ratio(with, without)
        );
    }
    any.then_some(table)
}

/// Usher with one certificate and with certificates chosen by server name, if the `tls-names`
/// workload ran (beside `tls-rate`, for the one certificate).
pub fn names_markdown(options: &Options, samples: &Samples) -> Option<String> {
    if !options.workloads.contains(&Workload::TlsNames) {
        return None;
    }
    let rows = [
        (
            "tls-rate",
            "tls-names",
            "TLS: handshakes/s, 8 clients at a time",
            Unit::Number,
        ),
        (
            "tls-rate-server",
            "tls-names-server",
            "TLS: the server's CPU per handshake",
            Unit::Microseconds,
        ),
    ];
    let mut table = String::from(
        "| workload | Usher, one certificate | Usher, 4 names chosen by the ClientHello | names / one |\n\
         |---|---|---|---|\n",
    );
    for (one, names, label, unit) in rows {
        let value = |name: &str| median(samples, Kind::Usher, name).map(Value::Exact);
        let (one, names) = (value(one), value(names));
        let cell =
            |value: Option<Value>| value.map_or("–".to_owned(), |value| format(value, unit));
        table += &format!(
            "| {label} | {} | {} | {} |\n",
            cell(one),
            cell(names),
            ratio(names, one)
        );
    }
    Some(table)
}

pub fn markdown(options: &Options, samples: &Samples) -> String {
    let median = |kind: Kind, name: &str| median(samples, kind, name);
    let value = |kind: Kind, name: &str| -> Option<Value> {
        let value = median(kind, name)?;
        Some(if value.is_finite() {
            Value::Exact(value)
        } else {
            let echoed = median(kind, &format!("{name}-echoed")).unwrap_or(f64::NAN);
            Value::MoreThan(UNTUNED_DEADLINE.as_secs_f64(), echoed)
        })
    };

    let rows = [
        (
            Workload::Burst,
            "burst",
            "burst: 5,000 clients connect at once, all echoed",
            Unit::Seconds,
        ),
        (
            Workload::Burst,
            "p50",
            "burst: p50 latency",
            Unit::Milliseconds,
        ),
        (
            Workload::Burst,
            "p99",
            "burst: p99 latency",
            Unit::Milliseconds,
        ),
        (
            Workload::Untuned,
            "untuned",
            "burst, each server's default backlog: all echoed",
            Unit::Seconds,
        ),
        (
            Workload::Churn,
            "churn",
            "churn: connections/s, 32 at a time",
            Unit::Number,
        ),
        (
            Workload::Churn,
            "churn-server",
            "churn: the server's CPU per connection",
            Unit::Microseconds,
        ),
        (
            Workload::Churn,
            "churn-clients",
            "churn: the clients' CPU per connection",
            Unit::Microseconds,
        ),
        (
            Workload::Idle,
            "idle",
            "idle: server wakeups/s, 1,000 held connections",
            Unit::Number,
        ),
        (
            Workload::Memory,
            "memory",
            "memory: RSS per held connection, 2,000 held",
            Unit::Bytes,
        ),
        (
            Workload::TlsRate,
            "tls-rate",
            "TLS: handshakes/s, 8 clients at a time",
            Unit::Number,
        ),
        (
            Workload::TlsBurst,
            "tls-burst",
            "TLS burst: 500 clients at once, all echoed",
            Unit::Seconds,
        ),
    ];
    let mut table = String::from(
        "| workload | floor | GLib | Usher | GLib / Usher | Usher / floor |\n\
         |---|---|---|---|---|---|\n",
    );
    for (workload, name, label, unit) in rows {
        if !options.workloads.contains(&workload) {
            continue;
        }
        let [floor, glib, usher] = Kind::ALL.map(|kind| value(kind, name));
        let cell =
            |value: Option<Value>| value.map_or("–".to_owned(), |value| format(value, unit));
        table += &format!(
            "| {label} | {} | {} | {} | {} | {} |\n",
            cell(floor),
            cell(glib),
            cell(usher),
            ratio(glib, usher),
            ratio(usher, floor),
        );
    }
    table
}

fn format(value: Value, unit: Unit) -> String {
    match value {
        Value::Exact(value) => match unit {
            Unit::Seconds => format!("{value:.3} s"),
            Unit::Milliseconds if value >= 0.1 => format!("{} ms", thousands(value * 1000.0)),
            Unit::Milliseconds => format!("{:.1} ms", value * 1000.0),
            Unit::Microseconds => format!("{:.1} µs", value * 1e6),
            Unit::Number if value != 0.0 && value.abs() < 10.0 => format!("{value:.1}"),
            Unit::Number => thousands(value),
            Unit::Bytes => format!("{} B", thousands(value)),
        },
        Value::MoreThan(seconds, echoed) => format!(
            "> {seconds:.0} s ({} of {} echoed)",
            thousands(echoed),
            thousands(BURST_CLIENTS as f64)
        ),
    }
}

/// `a / b`, to two decimals; a bound when one is a bound; `–` when meaningless.
fn ratio(a: Option<Value>, b: Option<Value>) -> String {
    let (Some(a), Some(b)) = (a, b) else {
        return "–".to_owned();
    };
    let quotient = a.bound() / b.bound();
    if !quotient.is_finite() || b.bound() == 0.0 {
        return "–".to_owned();
    }
    match (a, b) {
        (Value::Exact(_), Value::Exact(_)) => format!("{quotient:.2}"),
        (Value::MoreThan(..), Value::Exact(_)) => format!("> {quotient:.1}"),
        (Value::Exact(_), Value::MoreThan(..)) => format!("< {quotient:.2}"),
        (Value::MoreThan(..), Value::MoreThan(..)) => "–".to_owned(),
    }
}

/// `value` rounded, with commas between thousands.
fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return "?".to_owned();
    }
    let rounded = value.round() as i64;
    let digits = rounded.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if rounded < 0 {
        grouped.insert(0, '-');
    }
    grouped
}
