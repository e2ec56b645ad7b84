//! Test helper: one test body on every SCU backend, plus a small device world.
//!
//! The soft backend runs in the test process. The pkcs11 backend (SoftHSM2) needs `SOFTHSM2_CONF`
//! set before the module loads, and changing the environment of a running process is `unsafe`
//! (forbidden here), so the pkcs11 half runs in a child process: this test binary again with
//! `--exact <test>`, on a fresh token. Without SoftHSM2 the test FAILS, saying what to install.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use shinrai_attest::identity::{device_key_policy, manufacturer_key_policy};
use shinrai_attest::voucher::VOUCHER_PURPOSE;
use shinrai_attest::{
    Attester, Component, ComponentKind, Composition, DeviceState, ManufacturerCa, ReferenceValues,
    Sha256, Validity, Verifier,
};
use shinrai_scu::pkcs11::Pkcs11KeyStore;
use shinrai_scu::soft::{KdfParams, SoftKeyStore};
use shinrai_scu::{Algorithm, KeyStore, Purpose, UsagePolicy};

const CHILD_ENV: &str = "SHINRAI_ATTEST_TEST_PKCS11_CHILD";
const TOKEN_LABEL: &str = "shinrai-attest";
const PIN: &str = "1234";

/// 2026-11-01T00:00:00Z: a fixed "now" so results do not depend on the clock.
pub const NOW: u64 = 1_793_491_200;

fn module_path() -> PathBuf {
    std::env::var_os("SHINRAI_PKCS11_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"))
}

/// Runs `body` with a soft key store here, then with a SoftHSM2 token in a child process.
pub fn on_every_backend(test_name: &str, body: fn(&dyn KeyStore)) {
    if std::env::var_os(CHILD_ENV).is_some() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let store = Pkcs11KeyStore::open_with_audit_log(
            module_path(),
            TOKEN_LABEL,
            PIN,
            tmp.path().join("pkcs11.audit"),
        )
        .expect("open SoftHSM2 token");
        body(&store);
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let store = SoftKeyStore::create_with(
        tmp.path().join("keys.scu"),
        "test passphrase",
        KdfParams::insecure_fast_for_tests(),
    )
    .expect("create soft store");
    body(&store);
    drop(store);
    run_pkcs11_child(test_name);
}

/// Runs `body` with a soft key store only.
pub fn on_soft(body: impl FnOnce(&dyn KeyStore)) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let store = SoftKeyStore::create_with(
        tmp.path().join("keys.scu"),
        "test passphrase",
        KdfParams::insecure_fast_for_tests(),
    )
    .expect("create soft store");
    body(&store);
}

fn run_pkcs11_child(test_name: &str) {
    let module = module_path();
    assert!(
        module.exists(),
        "SoftHSM2 is required for the pkcs11 tests but {} does not exist: apt-get install softhsm2 \
         (or set SHINRAI_PKCS11_MODULE)",
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
        .args([
            "--init-token",
            "--free",
            "--label",
            TOKEN_LABEL,
            "--pin",
            PIN,
            "--so-pin",
            "5678",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run softhsm2-util ({e}): apt-get install softhsm2"));
    assert!(
        init.status.success(),
        "softhsm2-util --init-token failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new(exe)
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .expect("run the pkcs11 half in a child process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "pkcs11 backend (SoftHSM2) failed for {test_name}:\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
}

pub const MAKER: &str = "Acme Sensors";
pub const MODEL: &str = "TS-100";

/// A release of the TS-100: firmware image, bootloader, a hardware part and its configuration.
pub fn composition(version: &str, firmware: &[u8]) -> Composition {
    Composition {
        maker: MAKER.into(),
        model: MODEL.into(),
        version: version.into(),
        timestamp: NOW - 86_400,
        components: vec![
            Component {
                name: "bootloader".into(),
                version: "2.0".into(),
                kind: ComponentKind::Firmware,
                supplier: None,
                sha256: Sha256::of(b"bootloader 2.0"),
            },
            Component {
                name: "main-firmware".into(),
                version: version.into(),
                kind: ComponentKind::Firmware,
                supplier: None,
                sha256: Sha256::of(firmware),
            },
            Component {
                name: "radio-module".into(),
                version: "B".into(),
                kind: ComponentKind::Hardware,
                supplier: Some("Nordic Parts".into()),
                sha256: Sha256::of(b"radio module rev B"),
            },
            Component {
                name: "sensor-calibration".into(),
                version: "1".into(),
                kind: ComponentKind::Configuration,
                supplier: None,
                sha256: Sha256::of(b"calibration table 1"),
            },
        ],
    }
}

pub fn policy(purpose: &str) -> UsagePolicy {
    UsagePolicy::new([Purpose::new(purpose).expect("purpose")]).expect("policy")
}

/// A maker with its CA (key `label`) and release 1.0 registered at a verifier.
pub struct World<'a> {
    pub store: &'a dyn KeyStore,
    pub ca_label: String,
    pub ca: ManufacturerCa,
    pub v1: Composition,
    pub verifier: Verifier,
}

impl<'a> World<'a> {
    pub fn new(store: &'a dyn KeyStore) -> Self {
        Self::with_ca("acme-ca", store, Algorithm::EcdsaP256, MAKER)
    }

    pub fn with_ca(label: &str, store: &'a dyn KeyStore, alg: Algorithm, maker: &str) -> Self {
        store
            .generate(label, alg, manufacturer_key_policy().expect("policy"))
            .expect("generate CA key");
        let ca = ManufacturerCa::create(
            store,
            label,
            maker,
            Validity::years_from(NOW - 86_400 * 30, 20),
        )
        .expect("create CA");
        let v1 = composition("1.0", b"firmware 1.0");
        let mut verifier = Verifier::new();
        verifier.register_manufacturer(ca.clone());
        if maker == MAKER {
            verifier
                .register_reference_values(ReferenceValues::from_composition(&v1).expect("rv"))
                .expect("register rv");
        }
        World {
            store,
            ca_label: label.to_owned(),
            ca,
            v1,
            verifier,
        }
    }

    /// Generates a device key `label` and a certificate for `serial` (valid from 10 days ago).
    pub fn device(&self, label: &str, serial: &str) -> Vec<u8> {
        let key = self
            .store
            .generate(
                label,
                Algorithm::EcdsaP256,
                device_key_policy().expect("policy"),
            )
            .expect("generate device key");
        self.ca
            .issue_device_certificate(
                self.store,
                &self.ca_label,
                MODEL,
                serial,
                &key.public_key,
                Validity::years_from(NOW - 86_400 * 10, 10),
            )
            .expect("issue device certificate")
    }

    /// A fresh challenge, evidence from `label` with `state`, and its appraisal.
    pub fn attest(
        &mut self,
        label: &str,
        cert: &[u8],
        state: &DeviceState,
    ) -> shinrai_attest::AttestationResult {
        let ch = self.verifier.challenge(NOW).expect("challenge");
        let attester = Attester::new(self.store, label, cert).expect("attester");
        let evidence = attester.attest(&ch, state, NOW + 1).expect("evidence");
        self.verifier
            .appraise(&evidence, cert, NOW + 2)
            .expect("appraise")
    }

    pub fn genuine_state(&self) -> DeviceState {
        DeviceState::from_composition(&self.v1).expect("state")
    }
}

/// A key for supply-chain parties (vouchers).
pub fn party_key(store: &dyn KeyStore, label: &str) -> shinrai_scu::PublicKey {
    store
        .generate(label, Algorithm::EcdsaP256, policy(VOUCHER_PURPOSE))
        .expect("generate party key")
        .public_key
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `$SHINRAI_PYTHON`, else `<repo>/.venv/bin/python`; fails clearly when neither exists.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("SHINRAI_PYTHON") {
        return PathBuf::from(p);
    }
    let p = repo_root().join(".venv/bin/python");
    assert!(
        p.exists(),
        "Python interop needs {}: run `python3 -m venv .venv && .venv/bin/pip install -r \
         tests/python-requirements.txt` in the repository root, or set SHINRAI_PYTHON",
        p.display()
    );
    p
}
