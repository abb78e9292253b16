//! Usher against GLib's `GSocketService` and a bare epoll accept loop, side by side, on loopback.
//!
//! ```text
//! cargo bench --bench socket_service [-- --rounds N --backlog N --processes [--pin] --workloads LIST
//!                                       --max-per-peer N --verbose]
//! ```
//!
//! Three servers: Usher's `SocketService` and GLib's `GSocketService` (through gio-rs) with the
//! same handler (read a line, echo it, close: GLib's documentation's echo, with callbacks), and the
//! floor, an epoll loop that accepts until the backlog is empty and does the same with no GLib. By
//! default each runs on a thread of this process. With `--processes`, each runs in a process of its
//! own, as users run them (threads of one process share an allocator and a scheduler): this binary
//! again, in a hidden server mode (`--serve floor|glib|usher [--backlog N] [--tls CERT KEY]`) that
//! listens on 127.0.0.1:0, prints its port, serves until its standard input closes and is measured
//! from outside, through `/proc/PID`. `--pin` then keeps the clients to CPU 0 and each server to
//! CPU 1, so that where the scheduler puts the threads does not swing the measures from round to
//! round (by a third, unpinned, for churn). The plain TCP clients run on this process's main
//! thread, with non-blocking sockets on epoll, from 64 loopback addresses so that they do not run
//! out of ephemeral ports (see `clients::SOURCE_ADDRESSES`); the TLS clients in Python (see
//! `tls_client.py` for why).
//!
//! Workloads, each with a fresh server:
//!
//! * burst: 5,000 clients connect at once and send one line each; the time until every echo is
//!   back, and the p50/p99 of the clients' latencies (from their connect to their echo). Every
//!   server listens with `--backlog` (default 4096); see [`server::Config::backlog`] for how
//!   GLib and Usher are given more than `GSocketListener`'s 2000;
//! * burst, untuned: the same with each server's default listen backlog: GLib's 10, Usher's
//!   `net.core.somaxconn`, and `net.core.somaxconn` for the floor, as a tuned server would. A
//!   server that has not echoed every client after [`UNTUNED_DEADLINE`] is shown as `> 10 s`,
//!   with how many it had echoed by then. The table's header gives each server's backlog as
//!   the kernel has it (`ss`);
//! * churn: 32 clients at a time connect, send a line, read the echo and close, over and over:
//!   connections per second (at most 2 s or 20,000 connections a round), and the CPU time per
//!   connection of the server (its thread, or its process) and of the clients. On loopback a
//!   packet is processed on the CPU that sends it: the clients' CPU processes both ends of each
//!   handshake, and whichever side closes last processes the freeing of both ends. So with
//!   `--pin` the clients' CPU is as busy as the server's or more, and the rate also depends on
//!   which side a server makes close last (with the same handler, GLib's and the floor's
//!   connections mostly close on the server's side first). The CPU rows show each side's work;
//! * idle: 1,000 connections held open, waiting: the server's wakeups per second (context
//!   switches, from `/proc`), over 2 s: of the server thread, or with `--processes` of every
//!   thread of the server process;
//! * memory: a fresh server in a process of its own, in both modes (a thread's memory cannot be
//!   told from its process's), warmed up with 8 echoes, then 2,000 connections held open: the
//!   growth of the process's resident memory (`VmRSS` in `/proc/PID/status`) divided by 2,000.
//!   The held clients connect and send nothing, like keep-alive clients between two requests:
//!   the server has accepted each and its handler waits in its read (for GLib and Usher, the
//!   handler's `GDataInputStream`, with its 4 KiB buffer, counts);
//! * TLS handshakes: 8 clients at a time connect, complete a TLS handshake, have one line
//!   echoed and close, over and over for 2 s: handshakes per second, and the server's CPU per
//!   handshake;
//! * TLS names: the same against Usher alone with the certificate chosen by the server name of
//!   each client's ClientHello among 4 names and wildcards (the service peeks at every
//!   ClientHello), shown against the TLS handshakes of one certificate in a table of its own;
//! * TLS burst: 500 clients do the same once, all at once: the time until every echo is back;
//! * PROXY burst and PROXY churn: Usher alone, trusting 127.0.0.0/8 to send a PROXY protocol
//!   header, with clients that send a v1 header before their line, as HAProxy's `send-proxy`
//!   does; measured as burst and churn are, and shown against them in a table of their own;
//! * scale, in two modes, run only when named (`scale-keep`, `scale-read`: minutes each): after
//!   64 connections held as a warm-up, 18 steps of 1,000 more connections held open, up to
//!   18,000, each server in a process of its own (a server's and its clients' descriptors would
//!   not fit in one process's 20,000). The clients connect from the 64 source addresses, send
//!   nothing and stay. At each step: the server's CPU time over the step per connection
//!   accepted (all its threads but the one that answers the benchmark), and the growth of its
//!   resident memory since the warm-up per connection held. `scale-keep`'s handler only keeps a
//!   reference to each connection, so that only the service's own work counts; `scale-read`'s
//!   starts the echo's read, which stays pending (the floor watches each connection with its
//!   epoll; in `scale-keep`, it only holds them). A table gives every step, another the first
//!   and last steps, the median CPU per accept of the first and last thirds of the steps, and
//!   its growth between them.
//!
//! For TLS, a self-signed ECDSA P-256 certificate for `localhost` and 127.0.0.1 is made with the
//! `openssl` command in a temporary directory, removed afterwards; the clients trust it alone.
//! Usher has it as `tls-certificate` and keeps the plain echo handler; GLib's handler runs the
//! same handshake by hand (`g_tls_server_connection_new()`, `g_tls_connection_handshake_async()`)
//! and echoes over the TLS streams. Both use glib-networking's TLS backend. There is no floor.
//!
//! Each workload runs `--rounds` times (default 5) per server, a different server first each
//! round; the table shows medians, in the Markdown README.md has. `--workloads` runs some only:
//! a comma-separated list of `burst`, `untuned`, `churn`, `idle`, `memory`, `tls-rate`,
//! `tls-burst`, `tls-names`, `proxy-burst` and `proxy-churn` (the default: all of them),
//! `scale-keep` and `scale-read`. `--max-per-peer N` sets Usher's `max-connections-per-peer` in
//! every workload, to measure what counting peers costs. `--verbose` prints each measure, and the
//! CPU time of the server (its thread,
//! or its process) that made it.

mod clients;
mod floor;
mod os;
mod scale;
mod server;
mod table;
mod tls;
mod workload;

use std::collections::HashMap;
use std::time::Duration;

use clients::Prefix;
use server::{Config, Kind, Server};
use table::{Samples, ScaleSamples};
use workload::{
    BURST_CLIENTS, CLIENT_CPU, DEADLINE, Options, SCALE_STEP, SCALE_STEPS, SCALE_WARM_UP,
    SERVER_CPU, TLS_TIME, UNTUNED_DEADLINE, Workload,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        return server::serve_from_arguments(&args[1..]);
    }
    let options = Options::parse(args.into_iter());
    if options.pin {
        os::pin_to(CLIENT_CPU);
    }
    let scale_held = SCALE_WARM_UP + SCALE_STEPS * SCALE_STEP;
    let needed = if options.workloads.iter().any(|workload| workload.scale()) {
        scale_held.max(2 * BURST_CLIENTS)
    } else {
        2 * BURST_CLIENTS
    };
    os::raise_descriptor_limit(needed + 200);
    let certificates = options
        .workloads
        .iter()
        .any(|workload| workload.tls())
        .then(tls::Certificates::new);

    let mut samples = Samples::new();
    let mut scales = ScaleSamples::new();
    // The listen backlog each server really listens with, as `ss` reports it: tuned, untuned.
    let mut backlogs: HashMap<(Kind, bool), Option<u32>> = HashMap::new();
    for round in 1..=options.rounds {
        eprintln!("round {round}/{}", options.rounds);
        for &workload in &options.workloads {
            // A fresh server for each workload, and a different server first each round, so
            // that no measure depends on what ran before it.
            let mut order = if workload.proxy() || workload == Workload::TlsNames {
                vec![Kind::Usher]
            } else if workload.tls() {
                vec![Kind::Glib, Kind::Usher]
            } else {
                Kind::ALL.to_vec()
            };
            let turn = round % order.len();
            order.rotate_left(turn);
            for kind in order {
                let config = Config {
                    backlog: (workload != Workload::Untuned).then_some(options.backlog),
                    tls: certificates
                        .as_ref()
                        .filter(|_| workload.tls())
                        .map(|certificates| certificates.files()),
                    cpu: options.pin.then_some(SERVER_CPU),
                    proxy: workload.proxy(),
                    keep: workload == Workload::ScaleKeep,
                    max_per_peer: options.max_per_peer,
                    names: workload == Workload::TlsNames,
                };
                // The scale workload's server and clients would not fit in one process's
                // descriptors.
                let process = options.processes || workload == Workload::Memory || workload.scale();
                let mut server = Server::start(kind, &config, process);
                if matches!(workload, Workload::Burst | Workload::Untuned) {
                    backlogs
                        .entry((kind, workload == Workload::Burst))
                        .or_insert_with(|| os::listen_backlog(server.address.port()));
                }
                let mut record = |name, value| samples.entry((kind, name)).or_default().push(value);
                let prefix = if workload.proxy() {
                    Prefix::ProxyHeader
                } else {
                    Prefix::None
                };
                // The PROXY workloads' measures are named as the others', after `proxy-`.
                let prefixed = |name: &'static str| -> &'static str {
                    match (workload.proxy(), name) {
                        (false, _) => name,
                        (true, "burst") => "proxy-burst",
                        (true, "p50") => "proxy-p50",
                        (true, "p99") => "proxy-p99",
                        (true, "churn") => "proxy-churn",
                        (true, "churn-server") => "proxy-churn-server",
                        (true, "churn-clients") => "proxy-churn-clients",
                        (true, other) => unreachable!("no PROXY measure {other}"),
                    }
                };
                match workload {
                    Workload::Burst | Workload::ProxyBurst => {
                        let burst = clients::burst(server.address, BURST_CLIENTS, DEADLINE, prefix);
                        assert!(
                            burst.total.is_some(),
                            "{kind:?}: the burst did not finish: {} of {BURST_CLIENTS} echoed",
                            burst.echoed
                        );
                        record(prefixed("burst"), seconds(burst.total));
                        record(prefixed("p50"), burst.p50.as_secs_f64());
                        record(prefixed("p99"), burst.p99.as_secs_f64());
                    }
                    Workload::Untuned => {
                        let burst = clients::burst(
                            server.address,
                            BURST_CLIENTS,
                            UNTUNED_DEADLINE,
                            Prefix::None,
                        );
                        record("untuned", seconds(burst.total));
                        record("untuned-echoed", burst.echoed as f64);
                    }
                    Workload::Churn | Workload::ProxyChurn => {
                        let before = server.cpu_time();
                        let churn = clients::churn(server.address, prefix);
                        let per_connection = |seconds: f64| seconds / churn.completed as f64;
                        record(prefixed("churn"), churn.rate);
                        record(
                            prefixed("churn-server"),
                            per_connection(server.cpu_time() - before),
                        );
                        record(prefixed("churn-clients"), per_connection(churn.clients_cpu));
                    }
                    Workload::Idle => record("idle", clients::idle(&mut server)),
                    Workload::Memory => record("memory", clients::memory(&mut server)),
                    Workload::TlsRate | Workload::TlsNames => {
                        let before = server.cpu_time();
                        let rate =
                            tls::handshake_rate(server.address, certificates.as_ref().unwrap());
                        let handshakes = rate * TLS_TIME.as_secs_f64();
                        let name = workload.name();
                        record(name, rate);
                        record(
                            if workload == Workload::TlsRate {
                                "tls-rate-server"
                            } else {
                                "tls-names-server"
                            },
                            (server.cpu_time() - before) / handshakes,
                        );
                    }
                    Workload::TlsBurst => record(
                        "tls-burst",
                        tls::burst(server.address, certificates.as_ref().unwrap()),
                    ),
                    Workload::ScaleKeep | Workload::ScaleRead => scales
                        .entry((kind, workload))
                        .or_default()
                        .push(scale::scale(&mut server)),
                }
                if options.verbose && workload.scale() {
                    let steps = scales[&(kind, workload)].last().unwrap();
                    let cpu: Vec<String> = steps
                        .iter()
                        .map(|step| format!("{:.1}", step.cpu_per_accept * 1e6))
                        .collect();
                    let memory: Vec<String> = steps
                        .iter()
                        .map(|step| format!("{:.0}", step.memory_per_connection))
                        .collect();
                    eprintln!(
                        "  {} {}: µs per accept {}; B per connection {}",
                        workload.name(),
                        kind.label(),
                        cpu.join(" "),
                        memory.join(" ")
                    );
                } else if options.verbose {
                    let name = prefixed(match workload {
                        Workload::ProxyBurst => "burst",
                        Workload::ProxyChurn => "churn",
                        other => other.name(),
                    });
                    eprintln!(
                        "  {name} {}: {:.4}; the server used {:.2} s of CPU{}",
                        kind.label(),
                        samples[&(kind, name)].last().unwrap(),
                        server.cpu_time(),
                        server
                            .pid()
                            .map_or(String::new(), |pid| format!(" (pid {pid})")),
                    );
                }
                server.stop();
            }
        }
    }
    drop(certificates);

    println!();
    println!("{}", header(&options, &backlogs));
    if options.workloads.iter().any(|workload| !workload.scale()) {
        println!();
        print!("{}", table::markdown(&options, &samples));
    }
    if let Some(proxy) = table::proxy_markdown(&options, &samples) {
        println!();
        print!("{proxy}");
    }
    if let Some(names) = table::names_markdown(&options, &samples) {
        println!();
        print!("{names}");
    }
    for workload in [Workload::ScaleKeep, Workload::ScaleRead] {
        if options.workloads.contains(&workload) {
            println!();
            print!("{}", table::scale_steps_markdown(workload, &scales));
        }
    }
    if let Some(summary) = table::scale_markdown(&scales) {
        println!();
        print!("{summary}");
    }
}

/// A duration in seconds, infinite for one that did not finish.
fn seconds(duration: Option<Duration>) -> f64 {
    duration.map_or(f64::INFINITY, |duration| duration.as_secs_f64())
}

/// The conditions of the measures, above the table.
fn header(options: &Options, backlogs: &HashMap<(Kind, bool), Option<u32>>) -> String {
    let mode = if options.processes {
        "each server in a process of its own"
    } else {
        "the servers on threads of one process (memory: in a process of their own)"
    };
    let mut header = format!(
        "Loopback, {} cores, {} round{}, medians; {mode}.",
        glib::num_processors(),
        options.rounds,
        if options.rounds == 1 { "" } else { "s" }
    );
    let effective = |tuned: bool| {
        Kind::ALL
            .iter()
            .filter_map(|&kind| {
                let backlog = backlogs.get(&(kind, tuned))?;
                let backlog = backlog.map_or("?".to_owned(), |backlog| backlog.to_string());
                Some(format!("{} {backlog}", kind.label()))
            })
            .collect::<Vec<_>>()
    };
    let (tuned, untuned) = (effective(true), effective(false));
    if !tuned.is_empty() || !untuned.is_empty() {
        header += " Listen backlogs, as `ss` shows them:";
        if !tuned.is_empty() {
            header += &format!(
                " with `--backlog {}`, {}",
                options.backlog,
                tuned.join(", ")
            );
        }
        if !untuned.is_empty() {
            if !tuned.is_empty() {
                header += ";";
            }
            header += &format!(" untuned, {}", untuned.join(", "));
        }
        header += ".";
    }
    header += " The ratios divide the values: above 1, the first takes longer or more (times, \
               bytes), or does more (rates).";
    header
}
