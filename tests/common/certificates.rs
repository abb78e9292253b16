//! Certificates for the TLS tests, made by `openssl`, and a TLS client not written with Usher.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use gio::prelude::*;

use super::{Client, Scratch, spawn_client};

/// A certificate authority, a server certificate for localhost and 127.0.0.1, and a client
/// certificate, all made by `openssl` in a directory removed afterwards.
pub struct Certificates {
    scratch: Scratch,
}

impl Certificates {
    pub fn new() -> Self {
        let scratch = Scratch::new("tls");
        let dir = &scratch.0;
        let openssl = |args: &[&str]| {
            let status = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl is installed (build-aux/install-deps.sh)");
            assert!(status.success(), "openssl {args:?}");
        };
        let key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509"][..],
                &key,
                &["-keyout", "ca.key", "-out", "ca.pem"],
            ]
            .concat()
            .iter()
            .copied()
            // A CA's key usage, which strict verification (Python ≥ 3.13's default) requires.
            .chain(["-days", "2", "-subj", "/CN=Usher test CA"])
            .chain(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            .collect::<Vec<_>>(),
        );
        for (name, extension) in [
            ("server", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
            ("client", "extendedKeyUsage=clientAuth"),
        ] {
            let (request, key_file, cert_file) = (
                format!("{name}.csr"),
                format!("{name}.key"),
                format!("{name}.pem"),
            );
            let mut args = vec!["req"];
            args.extend(key);
            args.extend(["-keyout", &key_file, "-out", &request]);
            args.extend([
                "-subj",
                if name == "server" {
                    "/CN=localhost"
                } else {
                    "/CN=client"
                },
            ]);
            openssl(&args);
            std::fs::write(dir.join(format!("{name}.ext")), extension).unwrap();
            let extfile = format!("{name}.ext");
            openssl(&[
                "x509",
                "-req",
                "-in",
                &request,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &extfile,
                "-out",
                &cert_file,
            ]);
        }
        Self { scratch }
    }

    pub fn path(&self, file: &str) -> String {
        self.scratch.0.join(file).to_str().unwrap().to_owned()
    }

    pub fn server(&self) -> gio::TlsCertificate {
        gio::TlsCertificate::from_files(self.path("server.pem"), self.path("server.key")).unwrap()
    }

    pub fn database(&self) -> gio::TlsDatabase {
        gio::TlsFileDatabase::new(self.path("ca.pem"))
            .unwrap()
            .upcast()
    }
}

/// Runs `tests/tls_client.py` with `args` in a thread: its lines, or its error.
pub fn python_client(
    context: &glib::MainContext,
    address: SocketAddr,
    certificates: &Certificates,
    args: &[&str],
) -> Client<Result<Vec<String>, String>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls_client.py");
    let mut command = Command::new("/usr/bin/python3");
    command
        .arg(script)
        .arg(address.port().to_string())
        .arg(certificates.path("ca.pem"))
        .args(args);
    spawn_client(context, move || {
        let output = command.output().expect("python3");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let lines = stdout.lines().map(str::to_owned).collect();
        if output.status.success() {
            Ok(lines)
        } else {
            Err(stdout)
        }
    })
}
