//! Shared helpers for the CLI's end-to-end tests: run the real `shinrai` binary against a key
//! store of each backend.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The PIN every test key store uses.
pub const PIN: &str = "correct horse battery staple";

/// A backend under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Sealed file.
    Soft,
    /// SoftHSM2 through PKCS#11.
    Pkcs11,
    /// A TPM 2.0 (swtpm): ECDSA P-256 keys only. Only with `--features tpm`.
    #[cfg(feature = "tpm")]
    Tpm,
}

/// Every backend; every sign/verify test runs on each.
#[cfg(not(feature = "tpm"))]
pub const BACKENDS: [Backend; 2] = [Backend::Soft, Backend::Pkcs11];
/// Every backend; every sign/verify test runs on each (with the TPM one: `--features tpm`).
#[cfg(feature = "tpm")]
pub const BACKENDS: [Backend; 3] = [Backend::Soft, Backend::Pkcs11, Backend::Tpm];

/// TPM backend: the TCTI used (`$SHINRAI_TPM_TCTI`, else a private swtpm this test started).
#[cfg(feature = "tpm")]
pub struct TpmFixture {
    /// How the CLI reaches the TPM.
    pub tcti: String,
    _private: Option<shinrai_scu::tpm::Swtpm>,
}

#[cfg(feature = "tpm")]
impl TpmFixture {
    fn new() -> Self {
        if let Ok(tcti) = std::env::var(shinrai_scu::tpm::TCTI_ENV) {
            return TpmFixture {
                tcti,
                _private: None,
            };
        }
        let s = shinrai_scu::tpm::Swtpm::start().unwrap_or_else(|e| {
            panic!(
                "the tpm backend tests need a TPM: set SHINRAI_TPM_TCTI or install swtpm \
                 (apt-get install swtpm swtpm-tools): {e}"
            )
        });
        TpmFixture {
            tcti: s.tcti(),
            _private: Some(s),
        }
    }
}

/// A temporary working directory with a key store of one backend.
pub struct Env {
    /// The directory (removed on drop).
    pub dir: tempfile::TempDir,
    /// The backend.
    pub backend: Backend,
    /// The TPM, for the tpm backend.
    #[cfg(feature = "tpm")]
    pub tpm: Option<TpmFixture>,
}

/// Path of the SoftHSM2 module.
pub const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

impl Env {
    /// A fresh environment; for PKCS#11, a fresh SoftHSM2 token labelled `shinrai`.
    pub fn new(backend: Backend) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let env = Env {
            dir,
            backend,
            #[cfg(feature = "tpm")]
            tpm: (backend == Backend::Tpm).then(TpmFixture::new),
        };
        if backend == Backend::Pkcs11 {
            assert!(
                Path::new(SOFTHSM).exists(),
                "SoftHSM2 is not installed ({SOFTHSM} missing): run `apt-get install softhsm2` \
                 (bash .ci/run does)"
            );
            let tokens = env.path("tokens");
            std::fs::create_dir_all(&tokens).expect("token dir");
            std::fs::write(
                env.path("softhsm2.conf"),
                format!(
                    "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                    tokens.display()
                ),
            )
            .expect("softhsm conf");
            let out = Command::new("softhsm2-util")
                .env("SOFTHSM2_CONF", env.path("softhsm2.conf"))
                .args([
                    "--init-token",
                    "--free",
                    "--label",
                    "shinrai",
                    "--pin",
                    PIN,
                    "--so-pin",
                    "so-pin-5678",
                ])
                .output()
                .expect("softhsm2-util runs");
            assert!(
                out.status.success(),
                "softhsm2-util: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        env
    }

    /// A path inside the working directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A `shinrai` command set up for this environment's key store and PIN.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_shinrai"));
        c.current_dir(self.dir.path())
            .env("SHINRAI_PIN", PIN)
            .env("SHINRAI_KEYSTORE", self.path("keystore.json"))
            .env_remove("SHINRAI_BACKEND")
            .env("SHINRAI_SCU_AUDIT_DIR", self.dir.path())
            .env_remove("RUST_LOG");
        if self.backend == Backend::Pkcs11 {
            c.env("SOFTHSM2_CONF", self.path("softhsm2.conf"))
                .env("SHINRAI_BACKEND", "pkcs11")
                .env("SHINRAI_PKCS11_MODULE", SOFTHSM)
                .env("SHINRAI_PKCS11_TOKEN", "shinrai");
        }
        #[cfg(feature = "tpm")]
        if let Some(t) = &self.tpm {
            c.env("SHINRAI_BACKEND", "tpm")
                .env("SHINRAI_TPM_TCTI", &t.tcti)
                .env("SHINRAI_KEYSTORE", self.path("tpm"));
        }
        c
    }

    /// Runs `shinrai ARGS` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("shinrai runs")
    }

    /// Runs `shinrai ARGS`, asserting success; returns standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "shinrai {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Writes a file into the working directory and returns its path as a string.
    pub fn write(&self, name: &str, content: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, content).expect("write file");
        p.display().to_string()
    }

    /// Generates key `label` and exports its public key to `<label>.pub.json`; returns that path.
    pub fn key(&self, label: &str, algorithm: &str) -> String {
        self.ok(&["key", "generate", label, "--algorithm", algorithm]);
        let out = self
            .path(&format!("{label}.pub.json"))
            .display()
            .to_string();
        self.ok(&["key", "export", label, "--out", &out]);
        out
    }
}

/// Exit code and combined output of a finished command.
pub fn outcome(out: &Output) -> (Option<i32>, String) {
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The Python interpreter of the interop venv: `$SHINRAI_PYTHON`, else `<repo>/.venv/bin/python`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("SHINRAI_PYTHON") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(
        p.exists(),
        "the interop venv is missing ({}): run `python3 -m venv .venv && .venv/bin/pip install -r \
         tests/python-requirements.txt` or set SHINRAI_PYTHON",
        p.display()
    );
    p
}

/// The securesystemslib interop script.
pub fn sslib_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/sslib.py")
}

/// A `shinrai serve` child on a free loopback port, killed on drop.
pub struct Server {
    /// The server process.
    pub child: Child,
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd serve --data DATA --listen 127.0.0.1:0` (`cmd`: the `shinrai` binary with the
/// caller's environment) and waits for the line that says where it listens.
pub fn serve_with(mut cmd: Command, data: &str) -> Server {
    let mut child = cmd
        .args(["serve", "--data", data, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut url = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(u) = line.strip_prefix("listening on ") {
            url = u.trim().to_owned();
            break;
        }
    }
    assert!(!url.is_empty(), "the server never said where it listens");
    Server { child, url }
}

/// `shinrai serve` on the store in `data` (relative to the environment's directory).
pub fn serve(env: &Env, data: &str) -> Server {
    serve_with(env.cmd(), data)
}
