//! The echo demos (`examples/echo.rs`, `threaded_echo.rs`, `echo_async.rs`) driven by a client:
//! both ports echo, `shutdown` ends the process with status 0, and so does SIGINT, gracefully.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use common::{DEADLINE, Reaped, example, lines_of, wait_for_line};

/// Two ports free right now on every address of both families.
fn free_ports() -> (u16, u16) {
    // On [::], dual-stack, as the demos listen (`add_inet_port()`): a port free on 127.0.0.1
    // alone may be another demo's, running beside, on [::].
    let first = TcpListener::bind((Ipv6Addr::UNSPECIFIED, 0)).unwrap();
    let second = TcpListener::bind((Ipv6Addr::UNSPECIFIED, 0)).unwrap();
    (
        first.local_addr().unwrap().port(),
        second.local_addr().unwrap().port(),
    )
}

/// Starts the example `name` with `args`; returns it with the lines it prints, read on a thread
/// (to fail rather than hang if a line never comes).
fn start_demo(name: &str, args: &[String]) -> (Reaped, mpsc::Receiver<String>) {
    let mut demo = Reaped(
        Command::new(example(name))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("the {name} example is built by `cargo test`: {error}")),
    );
    let lines = lines_of(demo.stdout.take().unwrap());
    (demo, lines)
}

fn say(port: u16, line: &str) -> String {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    // As telnet sends it.
    stream.write_all(format!("{line}\r\n").as_bytes()).unwrap();
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).unwrap();
    reply
}

#[test]
fn the_echo_demo_echoes_on_both_ports_and_shuts_down() {
    drive("echo");
}

#[test]
fn the_threaded_echo_demo_echoes_on_both_ports_and_shuts_down() {
    drive("threaded_echo");
}

#[test]
fn the_stream_echo_demo_echoes_on_both_ports_and_shuts_down() {
    drive("echo_async");
}

fn drive(name: &str) {
    let (first, second) = free_ports();
    let (mut demo, lines) = start_demo(name, &[first.to_string(), second.to_string()]);
    let next_line = move || {
        lines
            .recv_timeout(DEADLINE)
            .expect("the demo prints its next line")
    };
    assert!(next_line().starts_with("Listening on ports"));

    assert_eq!(say(first, "hello"), "hello\n");
    assert_eq!(next_line(), format!("Accepted! (Source: {first})"));
    assert_eq!(next_line(), "Received: hello");
    assert_eq!(say(second, "world"), "world\n");
    assert_eq!(next_line(), format!("Accepted! (Source: {second})"));
    assert_eq!(next_line(), "Received: world");
    assert_eq!(say(first, "shutdown"), "shutdown\n");

    let status = demo.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn the_hardened_demo_shuts_down_gracefully() {
    let (port, _) = free_ports();
    let (mut demo, lines) = start_demo("hardened_echo", &[port.to_string(), "2".to_owned()]);
    wait_for_line(&lines, "Listening on port");

    // A client that stays, then one that asks for the shutdown.
    let mut staying = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    staying.write_all(b"still here\n").unwrap();
    let mut echo = String::new();
    let mut staying_reader = BufReader::new(staying.try_clone().unwrap());
    staying_reader.read_line(&mut echo).unwrap();
    assert_eq!(echo, "still here\n");
    assert_eq!(say(port, "shutdown"), "shutdown\n");
    wait_for_line(&lines, "Stopped accepting");
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
        "the port is free during the grace period"
    );

    // The staying client leaves within the grace period: the shutdown completes.
    drop(staying_reader);
    staying.shutdown(std::net::Shutdown::Both).unwrap();
    wait_for_line(&lines, "Shut down.");
    let status = demo.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn the_echo_demo_shuts_down_gracefully_on_sigint() {
    let (first, second) = free_ports();
    let (mut demo, lines) = start_demo("echo", &[first.to_string(), second.to_string()]);
    wait_for_line(&lines, "Listening on ports");

    // A client half-way through its line, being served.
    let mut waiting = TcpStream::connect((Ipv4Addr::LOCALHOST, first)).unwrap();
    waiting.set_read_timeout(Some(DEADLINE)).unwrap();
    waiting.write_all(b"half ").unwrap();
    wait_for_line(&lines, &format!("Accepted! (Source: {first})"));

    // SIGINT: the ports are free at once, and the demo waits for its client.
    let pid = libc::pid_t::try_from(demo.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    assert_eq!(
        wait_for_line(&lines, "Shutting down"),
        "Shutting down: the ports are free, waiting for 1 client."
    );
    for port in [first, second] {
        assert!(
            TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
            "port {port} is free"
        );
    }
    assert!(demo.try_wait().unwrap().is_none(), "the demo waits");

    waiting.write_all(b"a line\r\n").unwrap();
    let mut echo = String::new();
    BufReader::new(waiting).read_line(&mut echo).unwrap();
    assert_eq!(echo, "half a line\n");
    wait_for_line(&lines, "Shut down.");
    let status = demo.wait().unwrap();
    assert!(status.success(), "{status}");
}
