//! A local service, as GNOME's agents and daemons are: two Unix sockets in one service, an admin
//! socket only root may use and a socket for every user, with the files made right.
//!
//! ```text
//! cargo run --example local_service [DIRECTORY]
//! ```
//!
//! It listens on `DIRECTORY/admin.sock` (mode 0600, and only peers whose process runs as root
//! are served, whatever the file allows) and `DIRECTORY/user.sock` (mode 0666, anyone), in
//! `$XDG_RUNTIME_DIR/usher-example` by default. A second instance started while this one runs
//! is refused; one started after this one was killed replaces its stale files. Each line a
//! client sends is echoed with who sent it (the peer's uid and pid); a line `shutdown` on the
//! admin socket stops it, and it removes its files, unless another instance has taken them
//! over meanwhile. Try it with `nc -U DIRECTORY/user.sock`, or Python:
//!
//! ```text
//! python3 -c 'import socket, sys; c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1]); c.sendall(b"hello\n"); print(c.recv(99).decode(), end="")' DIRECTORY/user.sock
//! ```

use std::path::PathBuf;

use gio::prelude::*;
use usher::prelude::*;

fn main() -> glib::ExitCode {
    let directory = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| glib::user_runtime_dir().join("usher-example"));
    match serve(directory) {
        Ok(()) => glib::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            glib::ExitCode::FAILURE
        }
    }
}

fn serve(directory: PathBuf) -> Result<(), glib::Error> {
    std::fs::create_dir_all(&directory)
        .map_err(|error| glib::Error::new(gio::IOErrorEnum::Failed, &error.to_string()))?;
    let service = usher::SocketService::new();

    let admin = usher::SocketSettings::new();
    admin.set_unix_mode(0o600);
    admin.try_set_allowed_users(&["root"])?;
    let user = usher::SocketSettings::new();
    user.set_unix_mode(0o666);
    for (name, settings) in [("admin.sock", &admin), ("user.sock", &user)] {
        let path = directory.join(name);
        service.add_address_with_settings(
            &gio::UnixSocketAddress::new(&path),
            gio::SocketType::Stream,
            gio::SocketProtocol::Default,
            None::<&glib::Object>,
            Some(settings),
        )?;
        println!("Listening on {}", path.display());
    }
    // A refused peer: its uid and pid, once per connection.
    service.connect_accept_error(|_, error| eprintln!("{error}"));

    let main_loop = glib::MainLoop::new(None, false);
    service.connect_incoming({
        let main_loop = main_loop.clone();
        move |_, connection, _| {
            let is_admin =
                usher::SocketSettings::for_connection(connection).as_ref() == Some(&admin);
            glib::spawn_future_local(echo_lines(connection.clone(), is_admin, main_loop.clone()));
            false
        }
    });
    main_loop.run();
    // Shut down at once, which removes the files, if they are still the service's own.
    service.shutdown_async(gio::Cancellable::NONE, |_| {});
    Ok(())
}

/// Echoes every line of `connection`, saying who sent it; `shutdown` from the admin socket
/// quits `main_loop`.
async fn echo_lines(connection: gio::SocketConnection, is_admin: bool, main_loop: glib::MainLoop) {
    let peer = usher::SocketService::peer_credentials(&connection).map_or_else(
        |_| "someone".to_owned(),
        |credentials| {
            format!(
                "uid {} (pid {})",
                credentials.unix_user().unwrap_or(u32::MAX),
                credentials.unix_pid().unwrap_or(-1)
            )
        },
    );
    let input = gio::DataInputStream::new(&connection.input_stream());
    let output = connection.output_stream();
    while let Ok(Some(line)) = input.read_line_utf8_future(glib::Priority::DEFAULT).await {
        let reply = format!("{line} (from {peer})\n").into_bytes();
        if output
            .write_all_future(reply, glib::Priority::DEFAULT)
            .await
            .is_err()
        {
            return;
        }
        if is_admin && line == "shutdown" {
            main_loop.quit();
            return;
        }
    }
}
