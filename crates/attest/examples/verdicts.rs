//! Prints the verifier's verdict for a genuine, a counterfeit, a cloned, a tampered, a replayed,
//! a revoked and a legitimately updated device (soft-key SCU in a temporary folder).
//!
//! Run: `cargo run -p shinrai-attest --example verdicts`

use shinrai_attest::identity::{device_key_policy, manufacturer_key_policy};
use shinrai_attest::{
    Attester, CertificateInfo, Component, ComponentKind, Composition, DeviceState, ManufacturerCa,
    ReferenceValues, Sha256, Validity, Verifier, now_secs,
};
use shinrai_scu::soft::{KdfParams, SoftKeyStore};
use shinrai_scu::{Algorithm, KeyStore};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn release(version: &str) -> Composition {
    let c = |name: &str, kind, data: &[u8]| Component {
        name: name.into(),
        version: version.into(),
        kind,
        supplier: None,
        sha256: Sha256::of(data),
    };
    Composition {
        maker: "Acme Sensors".into(),
        model: "TS-100".into(),
        version: version.into(),
        timestamp: 1_790_000_000,
        components: vec![
            c(
                "main-firmware",
                ComponentKind::Firmware,
                format!("firmware {version}").as_bytes(),
            ),
            c("radio-module", ComponentKind::Hardware, b"radio rev B"),
        ],
    }
}

fn main() -> Res<()> {
    let dir = tempfile::tempdir()?;
    let scu = SoftKeyStore::create_with(
        dir.path().join("keys.scu"),
        "demo",
        KdfParams::insecure_fast_for_tests(),
    )?;
    let now = now_secs();
    let make_ca = |label: &str, org: &str| -> Res<ManufacturerCa> {
        scu.generate(label, Algorithm::EcdsaP256, manufacturer_key_policy()?)?;
        Ok(ManufacturerCa::create(
            &scu,
            label,
            org,
            Validity::years_from(now - 3600, 20),
        )?)
    };
    let device = |ca: &ManufacturerCa, ca_label: &str, label: &str, serial: &str| -> Res<Vec<u8>> {
        let k = scu.generate(label, Algorithm::EcdsaP256, device_key_policy()?)?;
        Ok(ca.issue_device_certificate(
            &scu,
            ca_label,
            "TS-100",
            serial,
            &k.public_key,
            Validity::years_from(now - 3600, 10),
        )?)
    };
    let acme = make_ca("acme", "Acme Sensors")?;
    let fake = make_ca("fake", "Acme Sensors")?; // same name, not the real maker's key
    let v1 = release("1.0");
    let mut verifier = Verifier::new();
    verifier.register_manufacturer(acme.clone());
    verifier.register_reference_values(ReferenceValues::from_composition(&v1)?)?;

    let show = |name: &str,
                label: &str,
                cert: &[u8],
                state: &DeviceState,
                v: &mut Verifier|
     -> Res<Vec<u8>> {
        let ch = v.challenge(now)?;
        let evidence = Attester::new(&scu, label, cert)?.attest(&ch, state, now)?;
        let ear = v.appraise(&evidence, cert, now)?;
        println!("== {name}\n{}\n", ear.explain());
        Ok(evidence)
    };
    let genuine = device(&acme, "acme", "dev-genuine", "SN-0001")?;
    let state = DeviceState::from_composition(&v1)?;
    let evidence = show(
        "genuine device",
        "dev-genuine",
        &genuine,
        &state,
        &mut verifier,
    )?;

    let counterfeit = device(&fake, "fake", "dev-fake", "SN-0002")?;
    show(
        "counterfeit (certificate not from the maker)",
        "dev-fake",
        &counterfeit,
        &state,
        &mut verifier,
    )?;

    let mut clone = state.clone();
    clone.bootseed = [1; 32];
    show(
        "cloned (same certificate and key on a second device)",
        "dev-genuine",
        &genuine,
        &clone,
        &mut verifier,
    )?;

    let tampered_cert = device(&acme, "acme", "dev-tampered", "SN-0003")?;
    let mut tampered = DeviceState::from_composition(&v1)?;
    tampered.set_measurement("main-firmware", Sha256::of(b"patched firmware"));
    show(
        "tampered firmware",
        "dev-tampered",
        &tampered_cert,
        &tampered,
        &mut verifier,
    )?;

    let ear = verifier.appraise(&evidence, &genuine, now)?;
    println!("== replayed evidence\n{}\n", ear.explain());

    let revoked = device(&acme, "acme", "dev-revoked", "SN-0004")?;
    verifier.revoke(&CertificateInfo::parse(&revoked)?);
    show(
        "revoked certificate",
        "dev-revoked",
        &revoked,
        &DeviceState::from_composition(&v1)?,
        &mut verifier,
    )?;

    let updated = device(&acme, "acme", "dev-updated", "SN-0005")?;
    let v11 = release("1.1");
    verifier.register_reference_values(ReferenceValues::from_composition(&v11)?)?;
    let mut st = DeviceState::from_composition(&v1)?;
    st.apply_update(&v11)?;
    show(
        "legitimately updated to 1.1",
        "dev-updated",
        &updated,
        &st,
        &mut verifier,
    )?;
    Ok(())
}
