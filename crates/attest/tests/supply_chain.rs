//! Ownership vouchers (FDO style) and the device lifecycle: ship, install, update, history.

mod common;

use common::{NOW, World, composition, on_every_backend, on_soft, party_key};
use shinrai_attest::voucher::VoucherHeader;
use shinrai_attest::{
    DeviceRecord, Error, LifecycleEvent, LifecycleState, OwnershipVoucher, ReferenceValues,
    RevocationList, Sha256, validate_device_certificate,
};
use shinrai_scu::KeyStore;

macro_rules! every_backend {
    ($name:ident, $body:expr) => {
        #[test]
        fn $name() {
            on_every_backend(stringify!($name), $body);
        }
    };
}

fn header(w: &World<'_>, cert: &[u8]) -> VoucherHeader {
    VoucherHeader {
        version: 1,
        maker: w.ca.organisation().to_owned(),
        maker_key: w.ca.public_key().clone(),
        model: common::MODEL.into(),
        serial: "SN-0001".into(),
        device_certificate_sha256: Sha256::of(cert),
        created: NOW,
    }
}

/// Maker -> distributor -> operator.
fn two_transfers(w: &World<'_>, store: &dyn KeyStore, cert: &[u8]) -> OwnershipVoucher {
    let dist = party_key(store, "distributor");
    let op = party_key(store, "operator");
    let mut v = OwnershipVoucher::create(store, &w.ca_label, header(w, cert), &dist, "Distributor")
        .expect("create");
    v.transfer(store, "distributor", &op, "Operator")
        .expect("transfer");
    v
}

every_backend!(voucher_chain_from_maker_to_operator_verifies, |store| {
    let w = World::new(store);
    let cert = w.device("dev-1", "SN-0001");
    let v = two_transfers(&w, store, &cert);
    let v = OwnershipVoucher::from_json(&v.to_json()).expect("json round trip");
    let owner = v
        .verify(w.ca.public_key(), &Sha256::of(&cert))
        .expect("verify");
    assert_eq!(owner.owner_name(), "Operator");
    assert_eq!(
        owner.owner_key(),
        &store.public_key("operator").expect("pk")
    );
    assert_eq!(owner.transfers(), 2);
});

every_backend!(broken_voucher_chains_fail_with_the_broken_entry, |store| {
    let w = World::new(store);
    let cert = w.device("dev-1", "SN-0001");
    let good = two_transfers(&w, store, &cert);
    let fp = Sha256::of(&cert);

    // A middle entry removed: the operator's entry no longer follows the maker's.
    let mut skipped = good.clone();
    skipped.entries.remove(0);
    let err = skipped
        .verify(w.ca.public_key(), &fp)
        .expect_err("must be refused");
    assert!(
        matches!(err, Error::VoucherChainBroken { index: 0, .. }),
        "{err}"
    );

    // The last transfer re-pointed to a thief's key: signature no longer covers it.
    let thief = party_key(store, "thief");
    let mut redirected = good.clone();
    redirected.entries[1].owner_key = thief.clone();
    let err = redirected
        .verify(w.ca.public_key(), &fp)
        .expect_err("must be refused");
    assert!(
        matches!(err, Error::VoucherChainBroken { index: 1, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("not signed by the previous owner"),
        "{err}"
    );

    // A transfer signed by someone who is not the current owner.
    let mut forged = good.clone();
    let err = forged
        .transfer(store, "thief", &thief, "Thief")
        .expect_err("must be refused");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    let mut appended = good.clone();
    let mut last = appended.entries[1].clone();
    last.owner_name = "Thief".into();
    appended.entries.push(last);
    let err = appended
        .verify(w.ca.public_key(), &fp)
        .expect_err("must be refused");
    assert!(
        matches!(err, Error::VoucherChainBroken { index: 2, .. }),
        "{err}"
    );

    // Header altered (another serial): the first entry no longer refers to it.
    let mut altered = good.clone();
    altered.header.serial = "SN-9999".into();
    let err = altered
        .verify(w.ca.public_key(), &fp)
        .expect_err("must be refused");
    assert!(
        matches!(err, Error::VoucherChainBroken { index: 0, .. }),
        "{err}"
    );

    // Wrong device or wrong maker.
    assert!(matches!(
        good.verify(w.ca.public_key(), &Sha256::of(b"other")),
        Err(Error::VoucherMismatch(_))
    ));
    assert!(matches!(
        good.verify(&thief, &fp),
        Err(Error::VoucherMismatch(_))
    ));
    forged.entries.clear();
    assert!(matches!(
        forged.verify(w.ca.public_key(), &fp),
        Err(Error::VoucherChainBroken { index: 0, .. })
    ));
    assert!(matches!(
        OwnershipVoucher::from_json(b"{\"header\":"),
        Err(Error::MalformedVoucher(_))
    ));
});

every_backend!(
    device_is_shipped_installed_and_updated_with_history,
    |store| {
        let mut w = World::new(store);
        let cert = w.device("dev-1", "SN-0001");
        let verified =
            validate_device_certificate(&w.ca, &cert, NOW, &RevocationList::new()).expect("valid");
        let mut record = DeviceRecord::new(&verified);
        assert_eq!(record.state(), LifecycleState::Manufactured);
        let mut state = w.genuine_state();

        // Shipping: the maker proves the configuration.
        let ear = w.attest("dev-1", &cert, &state);
        record.ship(&ear).expect("ship");
        assert_eq!(record.state(), LifecycleState::Shipped);

        // Installation: the operator checks ownership and attests again with its own challenge.
        let voucher = two_transfers(&w, store, &cert);
        let ownership = voucher
            .verify(w.ca.public_key(), &verified.certificate().fingerprint)
            .expect("voucher");
        let op_key = store.public_key("operator").expect("pk");
        let ear = w.attest("dev-1", &cert, &state);
        // The distributor cannot install it: the voucher names the operator.
        let dist_key = store.public_key("distributor").expect("pk");
        assert!(matches!(
            record
                .clone()
                .install(&ear, &ownership, &dist_key, "Plant 1"),
            Err(Error::Lifecycle(_))
        ));
        record
            .install(&ear, &ownership, &op_key, "Plant 1, line 3")
            .expect("install");
        assert_eq!(record.state(), LifecycleState::Installed);

        // Update: the vendor registers 1.1, the device updates and re-attests.
        let v11 = composition("1.1", b"firmware 1.1");
        w.verifier
            .register_reference_values(ReferenceValues::from_composition(&v11).expect("rv"))
            .expect("register");
        state.apply_update(&v11).expect("update");
        let ear = w.attest("dev-1", &cert, &state);
        record.reattest(&ear).expect("re-attest");
        assert_eq!(record.release(), Some("1.1"));

        let events: Vec<&LifecycleEvent> = record.history().iter().map(|e| &e.event).collect();
        assert!(matches!(events[0], LifecycleEvent::Shipped { release, .. } if release == "1.0"));
        assert!(
            matches!(events[1], LifecycleEvent::Installed { operator, .. } if operator == "Operator")
        );
        assert!(
            matches!(events[2], LifecycleEvent::Updated { from, to } if from == "1.0" && to == "1.1")
        );
    }
);

#[test]
fn lifecycle_refuses_a_failing_result_and_steps_out_of_order() {
    on_soft(|store| {
        let mut w = World::new(store);
        let cert = w.device("dev-1", "SN-0001");
        let other = w.device("dev-2", "SN-0002");
        let verified =
            validate_device_certificate(&w.ca, &cert, NOW, &RevocationList::new()).expect("valid");
        let mut record = DeviceRecord::new(&verified);

        let genuine = w.genuine_state();
        let mut tampered = genuine.clone();
        tampered.set_measurement("main-firmware", Sha256::of(b"evil"));
        let bad = w.attest("dev-1", &cert, &tampered);
        let err = record.ship(&bad).expect_err("must be refused");
        assert!(
            err.to_string().contains("did not pass attestation"),
            "{err}"
        );
        assert!(err.to_string().contains("tampered"), "{err}");

        // A result about another device cannot ship this one.
        let ear_other = w.attest("dev-2", &other, &w.genuine_state());
        assert!(
            record
                .ship(&ear_other)
                .expect_err("must be refused")
                .to_string()
                .contains("another device")
        );

        // Re-attestation before installation is out of order.
        let good = w.attest("dev-1", &cert, &genuine);
        assert!(matches!(record.reattest(&good), Err(Error::Lifecycle(_))));
        record.ship(&good).expect("ship");
        assert!(matches!(record.ship(&good), Err(Error::Lifecycle(_))));
        assert_eq!(record.history().len(), 1);
    });
}
