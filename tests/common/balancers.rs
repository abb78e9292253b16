//! Real load balancers started by the tests on loopback: HAProxy and nginx's stream module,
//! each relaying its frontend to a backend with a PROXY protocol header.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use super::{DEADLINE, Reaped, Scratch, lines_of};

/// A balancer started by the test: its frontend's address, for clients.
pub struct Balancer {
    pub frontend: SocketAddr,
    _process: Reaped,
    _scratch: Scratch,
}

/// Runs `program` with `listener`, the frontend's listening socket, as descriptor 3: the
/// balancer inherits it, so clients may connect before it has started.
fn spawn_with_listener(command: &mut Command, listener: &TcpListener) -> Reaped {
    let fd = listener.as_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if fd == 3 {
                if libc::fcntl(3, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) != 3 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| {
            panic!("{command:?}: {error} (build-aux/install-deps.sh installs it)")
        });
    Reaped(child)
}

/// HAProxy relaying its frontend to `backend` with the server options `options`
/// (`send-proxy`, `send-proxy-v2`, …).
pub fn haproxy(backend: SocketAddr, options: &str) -> Balancer {
    let scratch = Scratch::new("haproxy");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let frontend = listener.local_addr().unwrap();
    let config = scratch.0.join("haproxy.cfg");
    std::fs::write(
        &config,
        format!(
            "global\n    nbthread 1\n\
             defaults\n    mode tcp\n    timeout connect 10s\n    timeout client 30s\n    timeout server 30s\n\
             frontend clients\n    bind fd@3\n    default_backend service\n\
             backend service\n    server usher {backend} {options}\n"
        ),
    )
    .unwrap();
    let process = spawn_with_listener(
        Command::new("haproxy").arg("-db").arg("-f").arg(&config),
        &listener,
    );
    Balancer {
        frontend,
        _process: process,
        _scratch: scratch,
    }
}

/// nginx's stream module relaying its frontend to `backend` with `proxy_protocol on`.
pub fn nginx(backend: SocketAddr) -> Balancer {
    let scratch = Scratch::new("nginx");
    // A free port for nginx, which binds it itself.
    let frontend = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = scratch.0.join("nginx.conf");
    std::fs::write(
        &config,
        format!(
            "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n\
             daemon off;\nmaster_process off;\nworker_processes 1;\n\
             pid {}/nginx.pid;\nerror_log stderr notice;\n\
             events {{ worker_connections 64; }}\n\
             stream {{ server {{ listen {frontend}; proxy_pass {backend}; proxy_protocol on; }} }}\n",
            scratch.0.display()
        ),
    )
    .unwrap();
    let mut child = Command::new("nginx")
        .arg("-p")
        .arg(&scratch.0)
        .arg("-c")
        .arg(&config)
        .arg("-e")
        .arg("stderr")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("nginx: {error} (build-aux/install-deps.sh installs it)"));
    let lines = lines_of(child.stderr.take().unwrap());
    let process = Reaped(child);
    // nginx reports its limits once its sockets listen; clients wait in the backlog from then.
    loop {
        let line = lines
            .recv_timeout(DEADLINE)
            .expect("nginx reports its start");
        assert!(!line.contains("[emerg]"), "{line}");
        if line.contains("getrlimit(RLIMIT_NOFILE)") {
            break;
        }
    }
    Balancer {
        frontend,
        _process: process,
        _scratch: scratch,
    }
}
