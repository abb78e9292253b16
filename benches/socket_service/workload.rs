//! The workloads, their sizes and the command line's options. It imports nothing of the
//! benchmark: the workloads' files and the table import it.

use std::time::Duration;

pub const BURST_CLIENTS: usize = 5000;
/// How long the untuned burst may take: with GLib's backlog of 10, the clients the kernel drops
/// retry after 1, 3, 7, 15, 31… s, and the last would be echoed minutes later.
pub const UNTUNED_DEADLINE: Duration = Duration::from_secs(10);
pub const CHURN_CONCURRENCY: usize = 32;
pub const CHURN_LIMIT: usize = 20_000;
pub const CHURN_TIME: Duration = Duration::from_secs(2);
pub const IDLE_CONNECTIONS: usize = 1000;
pub const IDLE_WINDOW: Duration = Duration::from_secs(2);
pub const HELD_CONNECTIONS: usize = 2000;
pub const TLS_CONCURRENCY: usize = 8;
pub const TLS_TIME: Duration = Duration::from_secs(2);
pub const TLS_BURST_CLIENTS: usize = 500;
/// The longest a workload may take before the benchmark gives up on it.
pub const DEADLINE: Duration = Duration::from_secs(60);
/// The listen backlog of the tuned workloads unless `--backlog` says otherwise: the kernel's
/// default `net.core.somaxconn` since Linux 5.4, which caps it.
pub const DEFAULT_BACKLOG: i32 = 4096;
/// The scale workload holds connections open in steps of this many…
pub const SCALE_STEP: usize = 1000;
/// …up to this many steps: 18,000 connections, a server's and its clients' descriptors each
/// within a `RLIMIT_NOFILE` of 20,000.
pub const SCALE_STEPS: usize = 18;
/// Connections held before the first step, so that what a server does once (its first
/// connection's types and classes, a peer's first connection) is not counted.
pub const SCALE_WARM_UP: usize = 64;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Workload {
    Burst,
    Untuned,
    Churn,
    Idle,
    Memory,
    TlsRate,
    TlsBurst,
    TlsNames,
    ProxyBurst,
    ProxyChurn,
    ScaleKeep,
    ScaleRead,
}

impl Workload {
    /// What a run without `--workloads` runs: all but the scale workload, which takes minutes.
    pub const DEFAULT: [Workload; 10] = [
        Workload::Burst,
        Workload::Untuned,
        Workload::Churn,
        Workload::Idle,
        Workload::Memory,
        Workload::TlsRate,
        Workload::TlsBurst,
        Workload::TlsNames,
        Workload::ProxyBurst,
        Workload::ProxyChurn,
    ];

    pub const ALL: [Workload; 12] = [
        Workload::Burst,
        Workload::Untuned,
        Workload::Churn,
        Workload::Idle,
        Workload::Memory,
        Workload::TlsRate,
        Workload::TlsBurst,
        Workload::TlsNames,
        Workload::ProxyBurst,
        Workload::ProxyChurn,
        Workload::ScaleKeep,
        Workload::ScaleRead,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Burst => "burst",
            Workload::Untuned => "untuned",
            Workload::Churn => "churn",
            Workload::Idle => "idle",
            Workload::Memory => "memory",
            Workload::TlsRate => "tls-rate",
            Workload::TlsBurst => "tls-burst",
            Workload::TlsNames => "tls-names",
            Workload::ProxyBurst => "proxy-burst",
            Workload::ProxyChurn => "proxy-churn",
            Workload::ScaleKeep => "scale-keep",
            Workload::ScaleRead => "scale-read",
        }
    }

    pub fn tls(self) -> bool {
        matches!(
            self,
            Workload::TlsRate | Workload::TlsBurst | Workload::TlsNames
        )
    }

    /// Whether the clients send a PROXY protocol header, to Usher alone.
    pub fn proxy(self) -> bool {
        matches!(self, Workload::ProxyBurst | Workload::ProxyChurn)
    }

    /// Whether it is the scale workload, in one of its modes.
    pub fn scale(self) -> bool {
        matches!(self, Workload::ScaleKeep | Workload::ScaleRead)
    }
}

/// The CPUs of `--pin`.
pub const CLIENT_CPU: usize = 0;
pub const SERVER_CPU: usize = 1;

pub struct Options {
    pub rounds: usize,
    pub backlog: i32,
    pub processes: bool,
    /// With `processes`: the clients keep to CPU 0 and each server to CPU 1, so that the
    /// scheduler's placement of the threads does not swing the measures from round to round.
    pub pin: bool,
    pub workloads: Vec<Workload>,
    /// Print each server's CPU time after each workload.
    pub verbose: bool,
    /// Usher's `max-connections-per-peer` in every workload (0: none), to measure what the cap
    /// costs; set high enough, it refuses no client.
    pub max_per_peer: u32,
}

impl Options {
    pub fn parse(mut args: impl Iterator<Item = String>) -> Options {
        let mut options = Options {
            rounds: 5,
            backlog: DEFAULT_BACKLOG,
            processes: false,
            pin: false,
            workloads: Workload::DEFAULT.to_vec(),
            verbose: false,
            max_per_peer: 0,
        };
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .unwrap_or_else(|| panic!("{name} needs a value"))
            };
            match arg.as_str() {
                "--rounds" => options.rounds = value("--rounds").parse().expect("--rounds N"),
                "--backlog" => options.backlog = value("--backlog").parse().expect("--backlog N"),
                "--processes" => options.processes = true,
                "--pin" => options.pin = true,
                "--verbose" => options.verbose = true,
                "--max-per-peer" => {
                    options.max_per_peer =
                        value("--max-per-peer").parse().expect("--max-per-peer N")
                }
                "--workloads" => {
                    let list = value("--workloads");
                    options.workloads = list
                        .split(',')
                        .map(|name| {
                            *Workload::ALL
                                .iter()
                                .find(|workload| workload.name() == name)
                                .unwrap_or_else(|| panic!("no workload {name:?}"))
                        })
                        .collect();
                }
                _ => {} // cargo bench passes `--bench`
            }
        }
        assert!(options.rounds > 0, "--rounds must be at least 1");
        assert!(
            !options.pin || options.processes,
            "--pin keeps server processes apart from the clients: it needs --processes"
        );
        options
    }
}
