//! Certificates for the TLS tests, made by `openssl`, and a TLS client not written with Usher.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

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
        make_ca(dir, "/CN=Usher test CA");
        make_signed(
            dir,
            "server",
            "/CN=localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            None,
        );
        make_signed(
            dir,
            "client",
            "/CN=client",
            "extendedKeyUsage=clientAuth",
            None,
        );
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

/// Runs `openssl ARGS…` in `dir`, which must succeed.
fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed (build-aux/install-deps.sh)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The options of `openssl req` for a new key: EC, on P-256, unencrypted.
const NEW_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
];

/// Makes a certificate authority in `dir`, named `subject`: `ca.pem` and its key `ca.key`.
fn make_ca(dir: &Path, subject: &str) {
    openssl(
        dir,
        &[
            &["req", "-x509"][..],
            &NEW_KEY,
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"],
            &["-subj", subject],
            // A CA's key usage, which strict verification (Python ≥ 3.13's default) requires.
            &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ]
        .concat(),
    );
}

/// Makes a certificate for `subject` with `extension` in `dir`, signed by the CA of
/// [`make_ca`]: `STEM.pem` and its key `STEM.key`, with `serial`, or one counted in `ca.srl`.
fn make_signed(dir: &Path, stem: &str, subject: &str, extension: &str, serial: Option<u32>) {
    let (request, key, pem, ext) = (
        format!("{stem}.csr"),
        format!("{stem}.key"),
        format!("{stem}.pem"),
        format!("{stem}.ext"),
    );
    openssl(
        dir,
        &[
            &["req"][..],
            &NEW_KEY,
            &["-keyout", &key, "-out", &request, "-subj", subject],
        ]
        .concat(),
    );
    std::fs::write(dir.join(&ext), format!("{extension}\n")).unwrap();
    let serial = serial.map(|serial| format!("0x{serial:x}"));
    let mut args = vec![
        "x509", "-req", "-in", &request, "-CA", "ca.pem", "-CAkey", "ca.key",
    ];
    match &serial {
        Some(serial) => args.extend(["-set_serial", serial]),
        None => args.push("-CAcreateserial"),
    }
    args.extend(["-days", "2", "-extfile", &ext, "-out", &pem]);
    openssl(dir, &args);
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

/// The certificates of the server-name tests, made once per test binary (in cargo's temporary
/// directory for tests): a CA, and certificates it signed, each with its own key and serial.
pub struct Named {
    dir: std::path::PathBuf,
}

/// The certificates of [`Named`]: file stem, DNS name, serial.
pub const NAMED: [(&str, &str, u32); 7] = [
    ("default", "default.test", 0xd1),
    ("default2", "default.test", 0xd2),
    ("a", "a.test", 0xa1),
    ("a2", "a.test", 0xa2),
    ("b", "b.test", 0xb1),
    ("wild", "*.wild.test", 0xc1),
    ("late", "late.test", 0xe1),
];

impl Named {
    /// The certificates, made by the first caller of the process.
    pub fn get() -> &'static Named {
        static NAMED_CERTIFICATES: std::sync::OnceLock<Named> = std::sync::OnceLock::new();
        NAMED_CERTIFICATES.get_or_init(Named::make)
    }

    fn make() -> Named {
        // Made anew by each run of the test binary: the files of an earlier run go.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("usher-named-certificates");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        make_ca(&dir, "/CN=Usher names CA");
        for (stem, name, serial) in NAMED {
            make_signed(
                &dir,
                stem,
                &format!("/CN={name}"),
                &format!("subjectAltName=DNS:{name}"),
                Some(serial),
            );
            // The certificate and its key in one file, as some tools write them.
            let both = [
                std::fs::read(dir.join(format!("{stem}.pem"))).unwrap(),
                std::fs::read(dir.join(format!("{stem}.key"))).unwrap(),
            ]
            .concat();
            std::fs::write(dir.join(format!("{stem}.both.pem")), both).unwrap();
        }
        Named { dir }
    }

    pub fn path(&self, file: &str) -> std::path::PathBuf {
        self.dir.join(file)
    }

    pub fn ca(&self) -> String {
        self.path("ca.pem").to_str().unwrap().to_owned()
    }

    /// The certificate `stem` with its key.
    pub fn certificate(&self, stem: &str) -> gio::TlsCertificate {
        gio::TlsCertificate::from_files(
            self.path(&format!("{stem}.pem")),
            self.path(&format!("{stem}.key")),
        )
        .unwrap()
    }

    /// The serial of the certificate `stem`, in lowercase hex, as `sni_client.py` prints it.
    pub fn serial(&self, stem: &str) -> String {
        let (_, _, serial) = NAMED.iter().find(|(name, _, _)| *name == stem).unwrap();
        format!("{serial:x}")
    }
}

/// Runs `tests/sni_client.py PORT CA ARGS…` in a thread: its lines, or its output with the
/// error.
pub fn sni_client(
    context: &glib::MainContext,
    address: SocketAddr,
    args: &[&str],
) -> Client<Result<Vec<String>, String>> {
    let mut command = sni_command(address, args);
    spawn_client(context, move || {
        let output = command.output().expect("python3");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() {
            Ok(stdout.lines().map(str::to_owned).collect())
        } else {
            Err(format!(
                "{stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    })
}

/// The command of `tests/sni_client.py PORT CA ARGS…`.
pub fn sni_command(address: SocketAddr, args: &[&str]) -> Command {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sni_client.py");
    let mut command = Command::new("/usr/bin/python3");
    command
        .arg(script)
        .arg(address.port().to_string())
        .arg(Named::get().ca())
        .args(args);
    command
}
