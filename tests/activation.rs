//! Socket activation: the echo demo (`examples/echo.rs --activation`) started by
//! `systemd-socket-activate` serves through the sockets it was passed, TCP and Unix; started
//! without activation, it finds none.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;

mod common;

use common::{DEADLINE, Reaped, example, lines_of, wait_for_line};

/// Starts the echo demo under `systemd-socket-activate -l listen --fdname=echo`, once it
/// listens; returns it with its standard output.
fn activate(listen: &str) -> (Reaped, mpsc::Receiver<String>) {
    let mut launcher = Reaped(
        Command::new("systemd-socket-activate")
            .args(["-l", listen, "--fdname=echo"])
            .arg(example("echo"))
            .arg("--activation")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("systemd-socket-activate (Debian's systemd package) is installed"),
    );
    let stderr = lines_of(launcher.stderr.take().unwrap());
    let stdout = lines_of(launcher.stdout.take().unwrap());
    // "Listening on 127.0.0.1:PORT as 3."
    wait_for_line(&stderr, "Listening on");
    (launcher, stdout)
}

fn say(mut stream: impl Read + Write, line: &str) -> String {
    stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).unwrap();
    reply
}

fn finish(mut demo: Reaped, stdout: &mpsc::Receiver<String>) {
    wait_for_line(stdout, "Received: shutdown");
    let status = demo.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn an_activated_tcp_socket_is_served() {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (demo, stdout) = activate(&format!("127.0.0.1:{port}"));
    let connect = || {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream
    };
    // The first connection starts the demo, which then takes the socket over.
    assert_eq!(say(connect(), "hello"), "hello\n");
    assert_eq!(
        wait_for_line(&stdout, "1 sockets"),
        "1 sockets from socket activation"
    );
    assert_eq!(
        wait_for_line(&stdout, "Accepted!"),
        "Accepted! (Source: echo)"
    );
    assert_eq!(say(connect(), "shutdown"), "shutdown\n");
    finish(demo, &stdout);
}

#[test]
fn an_activated_unix_socket_is_served() {
    let directory = std::env::temp_dir().join(format!("usher-activation-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("echo.sock");
    let (demo, stdout) = activate(path.to_str().unwrap());
    assert_eq!(
        say(UnixStream::connect(&path).unwrap(), "over unix"),
        "over unix\n"
    );
    assert_eq!(
        wait_for_line(&stdout, "Accepted!"),
        "Accepted! (Source: echo)"
    );
    assert_eq!(
        say(UnixStream::connect(&path).unwrap(), "shutdown"),
        "shutdown\n"
    );
    finish(demo, &stdout);
    let _ = std::fs::remove_dir_all(directory);
}

/// Runs the demo with `--activation` through `sh -c script`; returns its status and output.
fn run_demo_in_shell(script: &str) -> (std::process::ExitStatus, String, String) {
    let output = Command::new("sh")
        .args(["-c", script, "sh"])
        .arg(example("echo"))
        .output()
        .unwrap();
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn without_activation_the_demo_finds_no_socket() {
    let (status, stdout, stderr) = run_demo_in_shell("exec \"$1\" --activation");
    assert_eq!(stdout, "0 sockets from socket activation\n");
    assert!(stderr.contains("Not socket-activated"), "{stderr}");
    assert!(!status.success());

    // Variables meant for another process (the launcher's parent, say) are not ours.
    let (_, stdout, _) = run_demo_in_shell("LISTEN_PID=1 LISTEN_FDS=1 exec \"$1\" --activation");
    assert_eq!(stdout, "0 sockets from socket activation\n");
}

#[test]
fn a_passed_descriptor_that_is_not_a_listening_socket_is_refused() {
    // `$$` is the shell's process id, which exec gives to the demo.
    let (status, stdout, stderr) = run_demo_in_shell(
        "export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$1\" --activation 3</dev/null",
    );
    assert!(!status.success());
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("The passed descriptor 3 is not a listening stream socket"),
        "{stderr}"
    );
}
