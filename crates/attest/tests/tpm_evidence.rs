//! Evidence from a device whose SCU is a TPM (swtpm): the quote travels in the claims and the
//! verifier checks it. Needs `--features tpm`. With `SHINRAI_TPM_TCTI` set the tests use that TPM
//! and fail if it is unreachable; otherwise each starts a private swtpm, and skips only when
//! swtpm is not installed.
#![cfg(feature = "tpm")]

mod common;

use common::{NOW, World};
use shinrai_attest::evidence::{
    MEASUREMENT_PCR, QuoteClaim, measurement_digests, quote_qualifying_data,
};
use shinrai_attest::{Attester, DeviceState, Error, ReasonCode, Sha256, Status};
use shinrai_scu::tpm::{Swtpm, TCTI_ENV, TpmKeyStore};

struct Tpm {
    tcti: String,
    _private: Option<Swtpm>,
}

fn tpm() -> Option<Tpm> {
    if let Ok(tcti) = std::env::var(TCTI_ENV) {
        return Some(Tpm {
            tcti,
            _private: None,
        });
    }
    match Swtpm::start() {
        Ok(s) => Some(Tpm {
            tcti: s.tcti(),
            _private: Some(s),
        }),
        Err(e) if e.to_string().contains("cannot run swtpm") => {
            eprintln!("SKIPPED: no TPM: {TCTI_ENV} is not set and {e}");
            None
        }
        Err(e) => panic!("swtpm is installed but failed: {e}"),
    }
}

/// A TPM key store, a maker whose CA key is in it, and a device key certified by that maker.
struct Setup {
    _dir: tempfile::TempDir,
    store: TpmKeyStore,
    _tpm: Tpm,
}

fn setup() -> Option<Setup> {
    let tpm = tpm()?;
    let dir = tempfile::tempdir().expect("dir");
    let store = TpmKeyStore::create(&tpm.tcti, dir.path(), "pin").expect("TPM key store");
    Some(Setup {
        _dir: dir,
        store,
        _tpm: tpm,
    })
}

/// Appraises evidence whose quote is made over `quoted` measurements for the nonce of
/// `quote_nonce_of` (this challenge's if `None`), while the claims report `reported`.
fn appraise_with(
    s: &Setup,
    reported: &DeviceState,
    quoted: &DeviceState,
    other_challenge: bool,
    edit: impl FnOnce(&mut QuoteClaim),
) -> Result<shinrai_attest::AttestationResult, Error> {
    let mut w = World::new(&s.store);
    let cert = w.device("device", "SN-TPM-1");
    let ch = w.verifier.challenge(NOW).expect("challenge");
    let quote_nonce = if other_challenge {
        w.verifier.challenge(NOW).expect("challenge").nonce
    } else {
        ch.nonce
    };
    let q = s
        .store
        .measure_and_quote(
            MEASUREMENT_PCR,
            &measurement_digests(&quoted.measurements),
            &quote_qualifying_data(&quote_nonce),
        )
        .expect("quote");
    let mut claim = QuoteClaim {
        ak: q.ak,
        measurement_pcr: MEASUREMENT_PCR,
        quote: q.quote,
    };
    edit(&mut claim);
    let evidence = Attester::new(&s.store, "device", &cert)
        .expect("attester")
        .attest_with_quote(&ch, reported, NOW + 1, claim)
        .expect("evidence");
    w.verifier.appraise(&evidence, &cert, NOW + 2)
}

/// The state of a device built as release 1.0 of the test world says.
fn genuine() -> DeviceState {
    DeviceState::from_composition(&common::composition("1.0", b"firmware 1.0")).expect("state")
}

fn codes(r: &shinrai_attest::AttestationResult) -> Vec<ReasonCode> {
    r.reasons().iter().map(|r| r.code).collect()
}

#[test]
fn genuine_tpm_device_with_a_fresh_quote_is_affirmed() {
    let Some(s) = setup() else { return };
    let state = genuine();
    let r = appraise_with(&s, &state, &state, false, |_| {}).expect("appraise");
    assert_eq!(r.status(), Status::Affirming, "{}", r.explain());
    assert!(
        codes(&r).contains(&ReasonCode::TpmQuoteValid),
        "{}",
        r.explain()
    );
}

#[test]
fn a_quote_for_another_challenge_is_a_replay() {
    let Some(s) = setup() else { return };
    let state = genuine();
    let r = appraise_with(&s, &state, &state, true, |_| {}).expect("appraise");
    assert_eq!(r.status(), Status::Contraindicated);
    let reason = r
        .reasons()
        .iter()
        .find(|x| x.code == ReasonCode::TpmQuoteInvalid)
        .expect("quote reason");
    assert!(
        reason.message.contains("another challenge"),
        "{}",
        reason.message
    );
}

#[test]
fn measurements_reported_differently_from_what_the_tpm_recorded_are_caught() {
    let Some(s) = setup() else { return };
    let genuine = genuine();
    let mut tampered = genuine.clone();
    tampered.set_measurement("firmware", Sha256::of(b"evil firmware"));
    // The TPM measured the tampered firmware; the device software reports the genuine hashes.
    let r = appraise_with(&s, &genuine, &tampered, false, |_| {}).expect("appraise");
    assert_eq!(r.status(), Status::Contraindicated);
    assert!(
        codes(&r).contains(&ReasonCode::TpmMeasurementsMismatch),
        "{}",
        r.explain()
    );
}

#[test]
fn pcr_values_not_signed_by_the_tpm_and_a_foreign_ak_are_caught() {
    let Some(s) = setup() else { return };
    let state = genuine();
    let r = appraise_with(&s, &state, &state, false, |c| {
        let v = c.quote.pcrs.get_mut(&MEASUREMENT_PCR).expect("pcr");
        v.0[0] ^= 1;
    })
    .expect("appraise");
    assert!(
        codes(&r).contains(&ReasonCode::TpmQuoteInvalid),
        "{}",
        r.explain()
    );

    let Some(s) = setup() else { return };
    let other_dir = tempfile::tempdir().expect("dir");
    let other = TpmKeyStore::create(&s._tpm.tcti, other_dir.path(), "pin").expect("store");
    let foreign = other.attestation_key().expect("ak");
    let r = appraise_with(&s, &state, &state, false, |c| c.ak = foreign).expect("appraise");
    let reason = r
        .reasons()
        .iter()
        .find(|x| x.code == ReasonCode::TpmQuoteInvalid)
        .expect("quote reason");
    assert!(reason.message.contains("not signed"), "{}", reason.message);
}

#[test]
fn a_truncated_quote_is_malformed_evidence() {
    let state = genuine();
    for cut in [0usize, 6, 40] {
        let Some(s) = setup() else { return };
        let e = appraise_with(&s, &state, &state, false, |c| c.quote.attest.truncate(cut))
            .expect_err("truncated quote accepted");
        assert!(
            matches!(&e, Error::MalformedEvidence(m) if m.contains("TPM quote")),
            "{e}"
        );
    }
}
