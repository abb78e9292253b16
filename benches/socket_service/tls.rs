//! The TLS workloads: a certificate made by `openssl`, and clients in Python (`tls_client.py`,
//! its `ssl` module, on one asyncio loop in a process of its own), which explains why they are
//! not gio's.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::workload::{TLS_BURST_CLIENTS, TLS_CONCURRENCY, TLS_TIME};

/// A self-signed ECDSA P-256 certificate for `localhost` and 127.0.0.1, and its key, in a
/// temporary directory removed on drop.
pub struct Certificates {
    dir: PathBuf,
}

impl Certificates {
    pub fn new() -> Certificates {
        let dir = std::env::temp_dir().join(format!("usher-bench-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let certificates = Certificates { dir };
        let (certificate, key) = certificates.files();
        let status = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
            .args(["-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(key)
            .arg("-out")
            .arg(certificate)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("the openssl command, to make the TLS certificate");
        assert!(status.success(), "openssl could not make the certificate");
        certificates
    }

    /// The certificate's and the key's PEM files.
    pub fn files(&self) -> (PathBuf, PathBuf) {
        (self.dir.join("server.pem"), self.dir.join("server.key"))
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `tls_client.py MODE PORT CA ARGS…`: the two numbers it prints.
fn python(mode: &str, address: SocketAddr, certificates: &Certificates, args: &[String]) -> f64 {
    let output = Command::new("python3")
        .arg("-c")
        .arg(include_str!("tls_client.py"))
        .arg(mode)
        .arg(address.port().to_string())
        .arg(certificates.files().0)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("python3, for the TLS clients");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the TLS clients failed: {stdout}");
    let numbers: Vec<f64> = stdout
        .split_whitespace()
        .filter_map(|number| number.parse().ok())
        .collect();
    let [value, failures] = numbers[..] else {
        panic!("the TLS clients said {stdout:?}")
    };
    assert_eq!(failures, 0.0, "TLS clients failed ({mode})");
    value
}

/// Complete TLS echoes per second, [`TLS_CONCURRENCY`] clients at a time for [`TLS_TIME`].
pub fn handshake_rate(address: SocketAddr, certificates: &Certificates) -> f64 {
    let args = [
        TLS_CONCURRENCY.to_string(),
        TLS_TIME.as_secs_f64().to_string(),
    ];
    python("rate", address, certificates, &args)
}

/// [`TLS_BURST_CLIENTS`] clients start at once: the time, in seconds, until every one has its
/// echo.
pub fn burst(address: SocketAddr, certificates: &Certificates) -> f64 {
    python(
        "burst",
        address,
        certificates,
        &[TLS_BURST_CLIENTS.to_string()],
    )
}
