//! The table of medians, in the Markdown README.md has.

use std::collections::HashMap;

use crate::scale::Step;
use crate::server::Kind;
use crate::workload::{BURST_CLIENTS, Options, SCALE_STEP, UNTUNED_DEADLINE, Workload};

/// The samples of one measure of one server, over the rounds.
pub type Samples = HashMap<(Kind, &'static str), Vec<f64>>;

/// The steps of the scale workload, in each of its modes, of one server, over the rounds.
pub type ScaleSamples = HashMap<(Kind, Workload), Vec<Vec<Step>>>;

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

/// The medians of each step of the scale workload in `mode`, over the rounds: the CPU per accept
/// (seconds) and the memory per held connection (bytes), of each server in `Kind::ALL`'s order.
fn scale_medians(mode: Workload, scales: &ScaleSamples) -> Vec<[Option<(f64, f64)>; 3]> {
    let steps = scales
        .iter()
        .filter(|((_, workload), _)| *workload == mode)
        .flat_map(|(_, rounds)| rounds.iter().map(Vec::len))
        .min()
        .unwrap_or(0);
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    (0..steps)
        .map(|step| {
            Kind::ALL.map(|kind| {
                let rounds = scales.get(&(kind, mode))?;
                let pick = |measure: fn(&Step) -> f64| {
                    median(rounds.iter().map(|steps| measure(&steps[step])).collect())
                };
                Some((
                    pick(|step| step.cpu_per_accept),
                    pick(|step| step.memory_per_connection),
                ))
            })
        })
        .collect()
}

fn scale_mode(mode: Workload) -> &'static str {
    match mode {
        Workload::ScaleKeep => "the handler keeps each connection",
        Workload::ScaleRead => "the handler starts a read on each connection",
        other => unreachable!("{other:?} is no scale workload"),
    }
}

/// Every step of the scale workload in `mode`: the CPU per accept and memory per held
/// connection of each server, and Usher's against GLib's.
pub fn scale_steps_markdown(mode: Workload, scales: &ScaleSamples) -> String {
    let mut table = format!(
        "Scale, {}: the server's CPU per accept in each step of {} connections, and its \
         resident memory per held connection.\n\n\
         | held | CPU: floor | GLib | Usher | Usher / GLib | RSS: floor | GLib | Usher | Usher / GLib |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        scale_mode(mode),
        thousands(SCALE_STEP as f64),
    );
    for (index, step) in scale_medians(mode, scales).iter().enumerate() {
        let cpu = step.map(|step| step.map(|(cpu, _)| Value::Exact(cpu)));
        let memory = step.map(|step| step.map(|(_, memory)| Value::Exact(memory)));
        let cells = |values: [Option<Value>; 3], unit| {
            let [floor, glib, usher] =
                values.map(|value| value.map_or("–".to_owned(), |value| format(value, unit)));
            format!(
                "{floor} | {glib} | {usher} | {}",
                ratio(values[2], values[1])
            )
        };
        table += &format!(
            "| {} | {} | {} |\n",
            thousands(((index + 1) * SCALE_STEP) as f64),
            cells(cpu, Unit::Microseconds),
            cells(memory, Unit::Bytes),
        );
    }
    table
}

/// The scale workload's first and last steps, the median CPU per accept of its first and last
/// thirds and how much it grew between them, if it ran. (A single step can come cheaper to every
/// server, the floor too, when the clients' `connect()`s come quicker and the servers find more
/// clients waiting per wakeup: the thirds' medians tell growth from that.)
pub fn scale_markdown(scales: &ScaleSamples) -> Option<String> {
    let mut table = String::from(
        "| scale | floor | GLib | Usher | Usher / GLib |\n\
         |---|---|---|---|---|\n",
    );
    let mut any = false;
    for mode in [Workload::ScaleKeep, Workload::ScaleRead] {
        let medians = scale_medians(mode, scales);
        let (Some(first), Some(last)) = (medians.first(), medians.last()) else {
            continue;
        };
        any = true;
        let held = |steps: usize| thousands((steps * SCALE_STEP) as f64);
        let (first_held, last_held) = (held(1), held(medians.len()));
        let third = (medians.len() / 3).max(1);
        let label = match mode {
            Workload::ScaleKeep => "keep only",
            _ => "a read pending",
        };
        let row = |name: String, values: [Option<f64>; 3], unit: Option<Unit>| {
            let values = values.map(|value| value.map(Value::Exact));
            let cell = |value: Option<Value>| match (value, unit) {
                (None, _) => "–".to_owned(),
                (Some(value), Some(unit)) => format(value, unit),
                (Some(value), None) => format!("{:.2}×", value.bound()),
            };
            format!(
                "| {label}: {name} | {} | {} | {} | {} |\n",
                cell(values[0]),
                cell(values[1]),
                cell(values[2]),
                ratio(values[2], values[1]),
            )
        };
        let pick = |step: &[Option<(f64, f64)>; 3], measure: fn((f64, f64)) -> f64| {
            step.map(|step| step.map(measure))
        };
        // The median CPU per accept of each server over `steps`.
        let cpu_over = |steps: &[[Option<(f64, f64)>; 3]]| {
            [0, 1, 2].map(|server| {
                let mut values: Vec<f64> = steps
                    .iter()
                    .filter_map(|step| step[server].map(|(cpu, _)| cpu))
                    .collect();
                values.sort_by(f64::total_cmp);
                values.get(values.len() / 2).copied()
            })
        };
        let (early, late) = (
            cpu_over(&medians[..third]),
            cpu_over(&medians[medians.len() - third..]),
        );
        let growth = [0, 1, 2].map(|server| Some(late[server]? / early[server]?));
        let (early_held, late_held) = (
            format!("{first_held}–{}", held(third)),
            format!("{}–{last_held}", held(medians.len() - third + 1)),
        );
        let cpu = |step: (f64, f64)| step.0;
        let memory = |step: (f64, f64)| step.1;
        table += &row(
            format!("CPU per accept, {first_held} held"),
            pick(first, cpu),
            Some(Unit::Microseconds),
        );
        table += &row(
            format!("CPU per accept, {last_held} held"),
            pick(last, cpu),
            Some(Unit::Microseconds),
        );
        table += &row(
            format!("CPU per accept, median of the steps {early_held}"),
            early,
            Some(Unit::Microseconds),
        );
        table += &row(
            format!("CPU per accept, median of the steps {late_held}"),
            late,
            Some(Unit::Microseconds),
        );
        table += &row(
            format!("CPU per accept, growth from {early_held} to {late_held}"),
            growth,
            None,
        );
        table += &row(
            format!("RSS per held connection, {first_held} held"),
            pick(first, memory),
            Some(Unit::Bytes),
        );
        table += &row(
            format!("RSS per held connection, {last_held} held"),
            pick(last, memory),
            Some(Unit::Bytes),
        );
    }
    any.then_some(table)
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
