//! Socket activation's untrusted input: `LISTEN_FDS`, `LISTEN_FDNAMES` and `LISTEN_PID` that lie
//! are refused without harm, and honest ones are honoured.
//!
//! This binary has ONE test function on purpose: it changes the process's environment and its
//! descriptors 3 to 5, which no other test may see change under it (the test harness runs the
//! tests of a binary in parallel threads of one process).

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::{IntoRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use common::*;
use gio::prelude::*;
use usher::prelude::*;

/// The descriptors a launcher passes start at 3 (`SD_LISTEN_FDS_START`).
const WEB: RawFd = 3;
const ADMIN: RawFd = 4;
/// The first descriptor after them, which must not be a listening socket.
const BEYOND: RawFd = 5;

/// The descriptor flags of `fd` (`FD_CLOEXEC`), or `None` if it is not open.
fn fd_flags(fd: RawFd) -> Option<i32> {
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    (flags != -1).then_some(flags)
}

/// Whether `fd` is a listening socket (`SO_ACCEPTCONN`).
fn is_listening(fd: RawFd) -> bool {
    let mut on: libc::c_int = 0;
    let mut size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let got = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&raw mut on).cast(),
            &mut size,
        )
    };
    got == 0 && on != 0
}

/// The peak resident set size of this process, in KiB.
fn peak_rss_kib() -> i64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    usage.ru_maxrss
}

/// Makes `target` a listening TCP socket on 127.0.0.1, as a launcher passes it: inherited
/// across `exec`, so without `FD_CLOEXEC`. Returns its address.
fn listen_at(target: RawFd) -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let address = listener.local_addr().unwrap();
    let fd = listener.into_raw_fd();
    if fd != target {
        assert_eq!(unsafe { libc::dup2(fd, target) }, target);
        assert_eq!(unsafe { libc::close(fd) }, 0);
    }
    let flags = fd_flags(target).unwrap();
    assert_eq!(
        unsafe { libc::fcntl(target, libc::F_SETFD, flags & !libc::FD_CLOEXEC) },
        0
    );
    address
}

const VARIABLES: [&str; 3] = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"];

/// Sets the activation variables; `None` unsets one.
fn set_variables(values: [Option<&str>; 3]) {
    for (variable, value) in VARIABLES.into_iter().zip(values) {
        // SAFETY: the only test of this binary; no other thread reads the environment now.
        unsafe {
            match value {
                Some(value) => std::env::set_var(variable, value),
                None => std::env::remove_var(variable),
            }
        }
    }
}

fn variables() -> [Option<String>; 3] {
    VARIABLES.map(|variable| std::env::var(variable).ok())
}

/// What adopting the passed sockets would change: the variables, and the passed descriptors'
/// flags and state.
#[derive(Debug, PartialEq)]
struct Snapshot {
    variables: [Option<String>; 3],
    descriptors: [(Option<i32>, bool); 2],
}

fn snapshot() -> Snapshot {
    Snapshot {
        variables: variables(),
        descriptors: [WEB, ADMIN].map(|fd| (fd_flags(fd), is_listening(fd))),
    }
}

/// What [`activate()`] returns: the service, the result, the names the callback was given, how
/// long it took and by how much the peak RSS grew (KiB).
type Activated = (
    usher::SocketService,
    Result<u32, glib::Error>,
    Vec<String>,
    Duration,
    i64,
);

/// Calls `add_activated_sockets()` on a fresh service.
fn activate(source_object_for: impl Fn(&str) -> Option<glib::Object>) -> Activated {
    activate_named(&[], source_object_for)
}

/// Calls `add_activated_sockets()` on a fresh service, which serves the sockets named so with
/// `named` settings.
fn activate_named(
    named: &[(&str, &usher::SocketSettings)],
    source_object_for: impl Fn(&str) -> Option<glib::Object>,
) -> Activated {
    let service = usher::SocketService::new();
    for (name, settings) in named {
        service.set_named_socket_settings(name, Some(settings));
    }
    let mut names = Vec::new();
    let peak = peak_rss_kib();
    let begun = Instant::now();
    let result = service.add_activated_sockets(|name| {
        names.push(name.to_owned());
        source_object_for(name)
    });
    let took = begun.elapsed();
    (service, result, names, took, peak_rss_kib() - peak)
}

#[test]
fn socket_activation_refuses_lying_variables_unharmed_and_honours_true_ones() {
    // Before GLib opens any descriptor of its own: 3 and 4 listen, 5 is held by a placeholder
    // while GLib sets itself up (its main contexts' eventfds), then freed.
    let web_address = listen_at(WEB);
    let admin_address = listen_at(ADMIN);
    let placeholder = std::fs::File::open("/dev/null").unwrap().into_raw_fd();
    if placeholder != BEYOND {
        assert_eq!(unsafe { libc::dup2(placeholder, BEYOND) }, BEYOND);
        assert_eq!(unsafe { libc::close(placeholder) }, 0);
    }
    let our_pid = std::process::id().to_string();
    let our_pid = Some(our_pid.as_str());

    with_context(|context| {
        drop(usher::SocketService::new());
        assert_eq!(unsafe { libc::close(BEYOND) }, 0);

        // a, b: a count of descriptors far beyond those passed. Descriptor 5 is looked at, and
        // refused, before anything is allocated for the rest or adopted.
        for count in ["2147483644", "10000000"] {
            assert_eq!(fd_flags(BEYOND), None, "descriptor {BEYOND} is not open");
            set_variables([our_pid, Some(count), None]);
            let before = snapshot();
            let (_, result, names, took, growth) = activate(|_| None);
            let error = result.unwrap_err();
            assert!(error.matches(gio::IOErrorEnum::NotSupported), "{error}");
            assert!(
                error.message().contains(&format!("descriptor {BEYOND} ")),
                "{error}"
            );
            assert!(
                took < Duration::from_secs(2),
                "LISTEN_FDS={count}: {took:?}"
            );
            assert!(
                growth < 50 * 1024,
                "LISTEN_FDS={count}: the peak RSS grew by {growth} KiB"
            );
            assert!(names.is_empty(), "{names:?}");
            assert_eq!(snapshot(), before, "LISTEN_FDS={count}: nothing is altered");
        }
        assert_eq!(
            snapshot().descriptors,
            [(Some(0), true), (Some(0), true)],
            "still listening, without FD_CLOEXEC"
        );

        // c: one name for two descriptors, as sd_listen_fds_with_names() refuses (-EINVAL).
        set_variables([our_pid, Some("2"), Some("web")]);
        let before = snapshot();
        let (_, result, names, _, _) = activate(|_| None);
        let error = result.unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::InvalidData), "{error}");
        assert!(names.is_empty(), "{names:?}");
        assert_eq!(snapshot(), before, "one name for two: nothing is altered");

        // f: a name systemd would not take (a control character, beyond 255 bytes, not ASCII,
        // not text), which no handover or store could pass on: refused whole.
        let too_long = format!("web:{}", "n".repeat(256));
        for names in [
            "web:ad\tmin".as_bytes(),
            too_long.as_bytes(),
            "wéb:admin".as_bytes(),
            b"web:\xffadmin",
        ] {
            set_variables([our_pid, Some("2"), None]);
            let names = std::ffi::OsStr::from_bytes(names);
            // SAFETY: the only test of this binary; no other thread reads the environment now.
            unsafe { std::env::set_var("LISTEN_FDNAMES", names) };
            let before = snapshot();
            let (_, result, called, _, _) = activate(|_| None);
            let error = result.unwrap_err();
            assert!(
                error.matches(gio::IOErrorEnum::InvalidData),
                "{names:?}: {error}"
            );
            assert!(error.message().contains("LISTEN_FDNAMES"), "{error}");
            assert!(called.is_empty(), "{called:?}");
            assert_eq!(snapshot(), before, "{names:?}: nothing is altered");
        }

        // g: a service its callback closes midway adopts nothing, and leaves the passed
        // descriptors as they were. (An empty name is one: "web:" names two.)
        set_variables([our_pid, Some("2"), Some("web:")]);
        let before = snapshot();
        let service = usher::SocketService::new();
        let mut called = Vec::new();
        let error = service
            .add_activated_sockets(|name| {
                called.push(name.to_owned());
                if name.is_empty() {
                    service.close();
                }
                None
            })
            .unwrap_err();
        assert!(error.matches(gio::IOErrorEnum::Closed), "{error}");
        assert_eq!(called, ["web", ""]);
        drop(service);
        drain(context);
        assert_eq!(snapshot(), before, "closed midway: nothing is altered");

        // e: variables meant for another process (our launcher, say) are not ours.
        let parent = std::os::unix::process::parent_id().to_string();
        set_variables([Some(&parent), Some("2"), Some("web:admin")]);
        let (_, result, names, _, _) = activate(|_| None);
        assert_eq!(result.unwrap(), 0);
        assert!(names.is_empty(), "{names:?}");
        assert_eq!(
            snapshot().descriptors,
            [(Some(0), true), (Some(0), true)],
            "another process's sockets are left alone"
        );

        // d: true variables. Both sockets are adopted, as close-on-exec duplicates, named and
        // served; the passed descriptors are let go of. The variables stay (unsetting them is
        // unsound in Rust while other threads run): `LISTEN_PID` tells a child they are not its,
        // and a second call adds nothing.
        set_variables([our_pid, Some("2"), Some("web:admin")]);
        let (web, admin) = (tag(), tag());
        // The admin socket has settings of its own, given by its name before it is adopted.
        let admin_settings = usher::SocketSettings::new();
        admin_settings.set_timeout(5);
        let (service, result, names, _, _) = activate_named(&[("admin", &admin_settings)], {
            let (web, admin) = (web.clone(), admin.clone());
            move |name| match name {
                "web" => Some(web.clone()),
                "admin" => Some(admin.clone()),
                _ => None,
            }
        });
        assert_eq!(result.unwrap(), 2);
        assert_eq!(names, ["web", "admin"]);
        let pid = our_pid.map(str::to_owned);
        assert_eq!(
            variables(),
            [pid, Some("2".to_owned()), Some("web:admin".to_owned())]
        );
        for fd in [WEB, ADMIN] {
            assert_eq!(
                fd_flags(fd),
                None,
                "descriptor {fd}, adopted as a duplicate"
            );
        }
        let (_, again, names_again, _, _) = activate(|_| None);
        assert_eq!(again.unwrap(), 0, "adopted already");
        assert!(names_again.is_empty());

        let sources = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        service.connect_incoming({
            let sources = sources.clone();
            move |_, connection, source_object| {
                let settings = usher::SocketSettings::for_connection(connection).unwrap();
                let timeout = connection.socket().timeout();
                sources
                    .borrow_mut()
                    .push((source_object.cloned(), settings, timeout));
                false
            }
        });
        serve_echo(&service);
        for (address, line) in [(web_address, "web"), (admin_address, "admin")] {
            assert_echoed(context, address, line);
        }
        assert_eq!(
            *sources.borrow(),
            [
                (Some(web.clone()), service.socket_settings(), 0),
                (Some(admin.clone()), admin_settings.clone(), 5)
            ]
        );

        // Named again, the sockets already served take the new settings.
        let web_settings = usher::SocketSettings::new();
        web_settings.set_timeout(9);
        service.set_named_socket_settings("web", Some(&web_settings));
        service.set_named_socket_settings("admin", None);
        for (address, line) in [(web_address, "web"), (admin_address, "admin")] {
            assert_echoed(context, address, line);
        }
        assert_eq!(
            sources.borrow()[2..],
            [
                (Some(web), web_settings, 9),
                (Some(admin), service.socket_settings(), 0)
            ]
        );
    })
}
