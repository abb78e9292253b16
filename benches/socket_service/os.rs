//! The system calls and `/proc` readings the benchmark's servers and clients share. It imports
//! nothing of the benchmark: the other files import it, so that their graph has no circle.

use std::net::Ipv4Addr;
use std::os::fd::RawFd;
use std::process::{Command, Stdio};

pub fn write_fd(fd: RawFd, bytes: &[u8]) -> isize {
    unsafe { libc::write(fd, bytes.as_ptr() as *const libc::c_void, bytes.len()) }
}

/// `ip:port` as the socket calls take it.
pub fn native_address(ip: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    let mut native: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    native.sin_family = libc::AF_INET as libc::sa_family_t;
    native.sin_addr.s_addr = u32::from(ip).to_be();
    native.sin_port = port.to_be();
    native
}

/// The CPU time the thread `/proc/{task}` used so far, in seconds, to the nanosecond (its
/// `schedstat`); `thread-self` is the calling thread.
pub fn thread_cpu_time(task: &str) -> f64 {
    let schedstat = std::fs::read_to_string(format!("/proc/{task}/schedstat")).unwrap_or_default();
    let nanoseconds = schedstat
        .split_whitespace()
        .next()
        .and_then(|field| field.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    nanoseconds / 1e9
}

/// The voluntary and involuntary context switches so far of the thread `/proc/{task}`.
pub fn task_context_switches(task: &str) -> u64 {
    let status = std::fs::read_to_string(format!("{task}/status")).unwrap_or_default();
    status
        .lines()
        .filter(|line| line.contains("ctxt_switches"))
        .filter_map(|line| line.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

/// `net.core.somaxconn`: the most any listen backlog is, and what a tuned server asks for.
pub fn somaxconn() -> i32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|maximum| maximum.trim().parse().ok())
        .unwrap_or(4096)
}

/// The backlog the socket listening on 127.0.0.1:`port` has, as `ss` shows it (its `Send-Q`);
/// `None` without `ss`.
pub fn listen_backlog(port: u16) -> Option<u32> {
    let output = Command::new("ss")
        .args(["-Hltn", &format!("sport = :{port}")])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let output = String::from_utf8_lossy(&output.stdout);
    output
        .lines()
        .next()?
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

/// Raises this process's soft limit of file descriptors to its hard limit, and warns if that
/// is fewer than `needed`.
pub fn raise_descriptor_limit(needed: usize) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur as usize) < needed {
        eprintln!("warning: only {} file descriptors", limit.rlim_cur);
    }
}

/// Keeps this thread, and the threads it starts from now on, to `cpu`.
pub fn pin_to(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is an empty set, and the calls only read it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            panic!(
                "cannot keep to CPU {cpu}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}
