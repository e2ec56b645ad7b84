//! Test helper: runs one test body against every key store backend.
//!
//! The soft backend runs in the test process. The pkcs11 backend needs SoftHSM2 configured through
//! the `SOFTHSM2_CONF` environment variable before the module is initialised, and setting the
//! environment of a running process is `unsafe` (forbidden here), so each pkcs11 run happens in a
//! child process: this test binary run again with `--exact <test>`, `SOFTHSM2_CONF` pointing to a
//! fresh token directory in a temporary folder, and a token initialised with `softhsm2-util`.
//! If SoftHSM2 is not installed the test FAILS with a message saying what to install.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use shinrai_scu::pkcs11::Pkcs11KeyStore;
use shinrai_scu::soft::{KdfParams, SoftKeyStore};
use shinrai_scu::{Error, KeyStore};

const CHILD_ENV: &str = "SHINRAI_SCU_TEST_PKCS11_CHILD";
const DIR_ENV: &str = "SHINRAI_SCU_TEST_DIR";
pub const TOKEN_LABEL: &str = "shinrai-test";
pub const PIN: &str = "1234";
pub const SO_PIN: &str = "5678";
pub const PASSPHRASE: &str = "correct horse battery staple";

/// The SoftHSM2 module: `$SHINRAI_PKCS11_MODULE` or Debian's path.
pub fn module_path() -> PathBuf {
    std::env::var_os("SHINRAI_PKCS11_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"))
}

/// Which backend a fixture opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Soft,
    Pkcs11,
}

/// A key store set up for one test: open it, reopen it, find its audit log.
pub struct Fixture {
    pub backend: Backend,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl Fixture {
    fn soft() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        let store = SoftKeyStore::create_with(
            dir.join("keys.scu"),
            PASSPHRASE,
            KdfParams::insecure_fast_for_tests(),
        )
        .expect("create soft store");
        drop(store);
        Fixture {
            backend: Backend::Soft,
            dir,
            _tmp: Some(tmp),
        }
    }

    fn pkcs11_in_child() -> Self {
        let dir = PathBuf::from(std::env::var_os(DIR_ENV).expect("test dir from parent"));
        Fixture {
            backend: Backend::Pkcs11,
            dir,
            _tmp: None,
        }
    }

    /// The soft store's file.
    pub fn soft_path(&self) -> PathBuf {
        self.dir.join("keys.scu")
    }

    /// The correct PIN or passphrase.
    pub fn secret(&self) -> &'static str {
        match self.backend {
            Backend::Soft => PASSPHRASE,
            Backend::Pkcs11 => PIN,
        }
    }

    /// The audit log of the store.
    pub fn audit_path(&self) -> PathBuf {
        match self.backend {
            Backend::Soft => SoftKeyStore::audit_path_for(&self.soft_path()),
            Backend::Pkcs11 => self.dir.join("pkcs11.audit"),
        }
    }

    /// Opens the store with `secret`.
    pub fn open_with(&self, secret: &str) -> Result<Box<dyn KeyStore>, Error> {
        Ok(match self.backend {
            Backend::Soft => Box::new(SoftKeyStore::open(self.soft_path(), secret)?),
            Backend::Pkcs11 => Box::new(self.open_pkcs11_with(secret)?),
        })
    }

    /// Opens the store with the correct secret.
    pub fn open(&self) -> Box<dyn KeyStore> {
        self.open_with(self.secret()).expect("open key store")
    }

    /// Opens the pkcs11 store as its concrete type.
    pub fn open_pkcs11_with(&self, pin: &str) -> Result<Pkcs11KeyStore, Error> {
        Pkcs11KeyStore::open_with_audit_log(module_path(), TOKEN_LABEL, pin, self.audit_path())
    }
}

/// Runs `body` on the soft backend here, then on the pkcs11 backend in a child process.
pub fn on_every_backend(test_name: &str, body: fn(&Fixture)) {
    if std::env::var_os(CHILD_ENV).is_some() {
        body(&Fixture::pkcs11_in_child());
        return;
    }
    body(&Fixture::soft());
    run_pkcs11_child(test_name);
}

/// Runs `body` on the pkcs11 backend only (in a child process).
pub fn on_pkcs11(test_name: &str, body: fn(&Fixture)) {
    if std::env::var_os(CHILD_ENV).is_some() {
        body(&Fixture::pkcs11_in_child());
        return;
    }
    run_pkcs11_child(test_name);
}

fn run_pkcs11_child(test_name: &str) {
    let module = module_path();
    assert!(
        module.exists(),
        "SoftHSM2 is required for the pkcs11 backend tests but {} does not exist: \
         install it (apt-get install softhsm2) or set SHINRAI_PKCS11_MODULE",
        module.display()
    );
    let tmp = tempfile::tempdir().expect("temp dir");
    let tokens = tmp.path().join("tokens");
    std::fs::create_dir(&tokens).expect("token dir");
    let conf = tmp.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        ),
    )
    .expect("write softhsm2.conf");
    let init = Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args(["--init-token", "--free", "--label", TOKEN_LABEL, "--pin", PIN, "--so-pin", SO_PIN])
        .output()
        .unwrap_or_else(|e| {
            panic!("SoftHSM2 is required for the pkcs11 tests: cannot run softhsm2-util ({e}); apt-get install softhsm2")
        });
    assert!(
        init.status.success(),
        "softhsm2-util --init-token failed: {}{}",
        String::from_utf8_lossy(&init.stdout),
        String::from_utf8_lossy(&init.stderr)
    );
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new(exe)
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .env(DIR_ENV, tmp.path())
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .expect("run the pkcs11 half of the test in a child process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "pkcs11 backend (SoftHSM2) failed for {test_name}:\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
}

/// Reads a file's lines (without the final newline).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("read audit log")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Writes lines back, each ending with a newline.
pub fn write_lines(path: &Path, lines: &[String]) {
    let mut s = String::new();
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    std::fs::write(path, s).expect("write audit log");
}
