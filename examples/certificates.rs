//! A TLS echo server for several names, whose certificates are files it watches: replace one
//! (an ACME client renewing it, `mv new.pem example.org.pem`) and the next handshakes get the
//! new certificate, without a restart; write a bad one and the old one goes on serving.
//!
//! ```text
//! cargo run --example certificates [PORT] DIRECTORY
//! ```
//!
//! `DIRECTORY` holds PEM files, each a certificate and its private key: `default.pem`, served
//! to clients that ask for no name or an unknown one, and one per server name,
//! `NAME.pem` (`a.example.org.pem`, or `_.example.org.pem` for the wildcard
//! `*.example.org`). A name asked for that has no certificate yet is looked up in the
//! directory when the client asks (`select-certificate`): drop `NAME.pem` there and clients
//! of that name are served it from then on. `kill -HUP` reloads every certificate at once.
//! It echoes every line, saying which name the client asked for; a line `shutdown` stops it.
//!
//! Try it with certificates made by `openssl` (`-addext subjectAltName=DNS:a.test`), then
//! `openssl s_client -connect localhost:PORT -servername a.test`.

use std::path::{Path, PathBuf};

use gio::prelude::*;
use usher::prelude::*;

fn main() -> glib::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (port, directory) = match &args[..] {
        [directory] => (Ok(8443), directory),
        [port, directory] => (port.parse::<u16>(), directory),
        _ => {
            eprintln!("usage: certificates [PORT] DIRECTORY");
            return glib::ExitCode::FAILURE;
        }
    };
    let Ok(port) = port else {
        eprintln!("usage: certificates [PORT] DIRECTORY");
        return glib::ExitCode::FAILURE;
    };
    match serve(port, Path::new(directory)) {
        Ok(()) => glib::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            glib::ExitCode::FAILURE
        }
    }
}

/// The server name a certificate file is for: `a.example.org.pem` is for `a.example.org`,
/// `_.example.org.pem` for `*.example.org`.
fn name_of(file: &Path) -> Option<String> {
    let stem = file.file_name()?.to_str()?.strip_suffix(".pem")?;
    match stem {
        "default" => None,
        _ => Some(match stem.strip_prefix("_.") {
            Some(rest) => format!("*.{rest}"),
            None => stem.to_owned(),
        }),
    }
}

fn serve(port: u16, directory: &Path) -> Result<(), glib::Error> {
    let service = usher::SocketService::new();
    let settings = service.socket_settings();
    // Every certificate of the directory, watched from now on.
    settings.set_tls_certificate_files(directory.join("default.pem"), None)?;
    let entries = std::fs::read_dir(directory)
        .map_err(|error| glib::Error::new(gio::IOErrorEnum::Failed, &error.to_string()))?;
    for file in entries.filter_map(|entry| Some(entry.ok()?.path())) {
        if let Some(name) = name_of(&file) {
            match settings.set_tls_certificate_files_for_name(&name, &file, None) {
                Ok(()) => println!("{name}: {}", file.display()),
                Err(error) => eprintln!("{name} left out: {}", error.message()),
            }
        }
    }
    // A bad file is reported, and the certificate loaded before goes on serving.
    settings.connect_tls_certificate_reload_failed(|_, file, error| {
        eprintln!("{file} not taken: {}", error.message());
    });
    settings.connect_notify_local(None, |_, property| {
        if property.name().starts_with("tls-certificate") {
            println!("{} changed", property.name());
        }
    });

    // A name learned at run time: its certificate, if the directory has one now.
    let names = directory.to_owned();
    service.connect_select_certificate(move |service, _connection, hello| {
        let name = hello.server_name()?;
        let settings = service.socket_settings();
        if settings
            .tls_certificate_names()
            .iter()
            .any(|known| known == &name)
        {
            return None;
        }
        let file: PathBuf = names.join(format!("{name}.pem"));
        // Loaded, checked and watched from now on, as the others.
        settings
            .set_tls_certificate_files_for_name(&name, &file, None)
            .ok()?;
        println!("{name}: {} (learned)", file.display());
        settings.tls_certificate_for_name(Some(&name))
    });

    service.add_inet_port(port, None::<&glib::Object>)?;
    service.connect_accept_error(|_, error| eprintln!("{}", error.message()));
    println!(
        "TLS on port {port}; kill -HUP {} reloads.",
        std::process::id()
    );

    glib_unix::unix_signal_add_local(libc::SIGHUP, {
        let settings = settings.clone();
        move || {
            match settings.reload_tls_certificates() {
                Ok(()) => println!("reloaded"),
                Err(error) => eprintln!("reload: {}", error.message()),
            }
            glib::ControlFlow::Continue
        }
    });

    let main_loop = glib::MainLoop::new(None, false);
    service.connect_incoming({
        let main_loop = main_loop.clone();
        move |_, connection, _| {
            let hello = usher::ClientHello::for_connection(connection);
            let name = hello
                .and_then(|hello| hello.server_name())
                .unwrap_or_else(|| "no name".into());
            glib::spawn_future_local(echo_lines(connection.clone(), name, main_loop.clone()));
            false
        }
    });
    main_loop.run();
    Ok(())
}

/// Echoes every line of `connection`; `shutdown` quits `main_loop`.
async fn echo_lines(connection: gio::SocketConnection, name: String, main_loop: glib::MainLoop) {
    let input = gio::DataInputStream::new(&connection.input_stream());
    let output = connection.output_stream();
    while let Ok(Some(line)) = input.read_line_utf8_future(glib::Priority::DEFAULT).await {
        println!("Received (for {name}): {line}");
        let reply = format!("{line}\n").into_bytes();
        if output
            .write_all_future(reply, glib::Priority::DEFAULT)
            .await
            .is_err()
        {
            return;
        }
        if line == "shutdown" {
            main_loop.quit();
            return;
        }
    }
}
