//! A device's life: shipped (the maker proves its configuration), installed (the operator
//! confirms it and records it), updated (new reference values, re-attestation), with history.
//!
//! Each step needs an affirming [`AttestationResult`] about this very device; installation also
//! needs a checked ownership voucher naming the installing operator as owner.

use serde::{Deserialize, Serialize};
use shinrai_scu::PublicKey;

use crate::{AttestationResult, Error, Result, Sha256, Status, VerifiedDevice, VerifiedOwnership};

/// Where a device is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LifecycleState {
    /// Certified by its maker, not yet shipped.
    Manufactured,
    /// Shipped with a proven configuration.
    Shipped,
    /// Installed by its operator.
    Installed,
}

/// One recorded step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum LifecycleEvent {
    /// The maker attested the device before shipping.
    Shipped {
        /// Maker's name.
        by: String,
        /// Release the device was shipped with.
        release: String,
    },
    /// The operator attested the device and recorded it as installed.
    Installed {
        /// Operator's name (the voucher's current owner).
        operator: String,
        /// The operator's key, hex.
        operator_key: String,
        /// Where it was installed.
        site: String,
        /// Release found at installation.
        release: String,
    },
    /// The device was updated and re-attested against new reference values.
    Updated {
        /// Release before.
        from: String,
        /// Release after.
        to: String,
    },
    /// A routine re-attestation with no change of release.
    Reattested {
        /// Release found.
        release: String,
    },
}

/// A step with the attestation result that allowed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleEntry {
    /// When, Unix seconds.
    pub time: u64,
    /// What happened.
    pub event: LifecycleEvent,
    /// Status of the attestation result.
    pub status: Status,
    /// SHA-256 of the attestation result's JSON (register the result itself in the trust store).
    pub result_sha256: Sha256,
}

/// A device's lifecycle record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Manufacturer.
    pub maker: String,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// UEID, hex.
    pub ueid: String,
    /// SHA-256 of the device certificate.
    pub certificate_sha256: Sha256,
    state: LifecycleState,
    release: Option<String>,
    history: Vec<LifecycleEntry>,
}

impl DeviceRecord {
    /// A new record for a device whose certificate chain was checked.
    pub fn new(device: &VerifiedDevice) -> Self {
        let id = device.identity();
        DeviceRecord {
            maker: id.maker.clone(),
            model: id.model.clone(),
            serial: id.serial.clone(),
            ueid: hex::encode(id.ueid()),
            certificate_sha256: device.certificate().fingerprint,
            state: LifecycleState::Manufactured,
            release: None,
            history: Vec::new(),
        }
    }

    /// Current state.
    pub fn state(&self) -> LifecycleState {
        self.state
    }

    /// Release last proven by attestation.
    pub fn release(&self) -> Option<&str> {
        self.release.as_deref()
    }

    /// Every recorded step, oldest first.
    pub fn history(&self) -> &[LifecycleEntry] {
        &self.history
    }

    /// The record as JSON (to keep it between runs or hand it on with the device).
    pub fn to_json(&self) -> Vec<u8> {
        // Plain structs with string keys: serialisation cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Reads a record from its JSON form.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::InvalidArgument(format!("device record is not valid JSON: {e}")))
    }

    /// Checks that `ear` affirms this device and returns the release it matched.
    fn accept(&self, ear: &AttestationResult, step: &str) -> Result<String> {
        let dev = ear.device().ok_or_else(|| {
            Error::Lifecycle(format!("{step}: the attestation result names no device"))
        })?;
        if dev.certificate_sha256 != self.certificate_sha256 || dev.ueid != self.ueid {
            return Err(Error::Lifecycle(format!(
                "{step}: the attestation result is about another device ({} {})",
                dev.model, dev.serial
            )));
        }
        if ear.status() != Status::Affirming {
            return Err(Error::Lifecycle(format!(
                "{step} refused: the device did not pass attestation ({}):\n{}",
                ear.status(),
                ear.explain()
            )));
        }
        ear.appraisal()
            .and_then(|a| a.reference_version.clone())
            .ok_or_else(|| Error::Lifecycle(format!("{step}: no release was matched")))
    }

    fn push(&mut self, ear: &AttestationResult, event: LifecycleEvent) {
        self.history.push(LifecycleEntry {
            time: ear.iat,
            event,
            status: ear.status(),
            result_sha256: Sha256::of(&ear.to_json()),
        });
    }

    /// Shipping: the maker proves the configuration with an affirming result.
    pub fn ship(&mut self, ear: &AttestationResult) -> Result<()> {
        if self.state != LifecycleState::Manufactured {
            return Err(Error::Lifecycle(format!(
                "only a manufactured device can be shipped (state is {:?})",
                self.state
            )));
        }
        let release = self.accept(ear, "shipping")?;
        self.push(
            ear,
            LifecycleEvent::Shipped {
                by: self.maker.clone(),
                release: release.clone(),
            },
        );
        self.release = Some(release);
        self.state = LifecycleState::Shipped;
        Ok(())
    }

    /// Installation: the operator (key `operator_key`) confirms the device with its own affirming
    /// result and a voucher chain that makes it the owner of this device.
    pub fn install(
        &mut self,
        ear: &AttestationResult,
        ownership: &VerifiedOwnership,
        operator_key: &PublicKey,
        site: &str,
    ) -> Result<()> {
        if self.state != LifecycleState::Shipped {
            return Err(Error::Lifecycle(format!(
                "only a shipped device can be installed (state is {:?})",
                self.state
            )));
        }
        if ownership.device_certificate_sha256() != self.certificate_sha256 {
            return Err(Error::Lifecycle(
                "the ownership voucher is for another device".into(),
            ));
        }
        if ownership.owner_key() != operator_key {
            return Err(Error::Lifecycle(format!(
                "the ownership voucher makes {:?} the owner, not this operator",
                ownership.owner_name()
            )));
        }
        let release = self.accept(ear, "installation")?;
        self.push(
            ear,
            LifecycleEvent::Installed {
                operator: ownership.owner_name().to_owned(),
                operator_key: hex::encode(&operator_key.bytes),
                site: site.to_owned(),
                release: release.clone(),
            },
        );
        self.release = Some(release);
        self.state = LifecycleState::Installed;
        Ok(())
    }

    /// After an update (or routinely): records an affirming re-attestation; a new release is an
    /// `Updated` event, the same release a `Reattested` one.
    pub fn reattest(&mut self, ear: &AttestationResult) -> Result<()> {
        if self.state != LifecycleState::Installed {
            return Err(Error::Lifecycle(format!(
                "only an installed device is re-attested (state is {:?})",
                self.state
            )));
        }
        let release = self.accept(ear, "re-attestation")?;
        let event = match &self.release {
            Some(old) if *old != release => LifecycleEvent::Updated {
                from: old.clone(),
                to: release.clone(),
            },
            _ => LifecycleEvent::Reattested {
                release: release.clone(),
            },
        };
        self.push(ear, event);
        self.release = Some(release);
        Ok(())
    }
}
