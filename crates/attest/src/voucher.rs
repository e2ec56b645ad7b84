//! Ownership vouchers in the FIDO Device Onboard style.
//!
//! The manufacturer creates a voucher for one device (its header names the device certificate
//! and the manufacturer's key) and signs the first entry, which names the first owner's public
//! key. Each owner who sells the device appends an entry naming the next owner, signed with its
//! own key. The current owner is the last entry's key. Entry `i` signs
//! `SHA-256(header)` (i = 0) or `SHA-256(entry i-1)` together with the next owner's key and name.

use serde::{Deserialize, Serialize};
use shinrai_scu::{KeyStore, PublicKey, Purpose};

use crate::{Error, Result, Sha256};

/// The SCU purpose voucher signatures are made for.
pub const VOUCHER_PURPOSE: &str = "ownership-voucher";
/// Most entries a voucher may have.
pub const MAX_ENTRIES: usize = 64;

/// What the voucher is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherHeader {
    /// Format version, 1.
    pub version: u32,
    /// Manufacturer name.
    pub maker: String,
    /// The manufacturer's public key (its CA key), which signs entry 0.
    pub maker_key: PublicKey,
    /// Device model.
    pub model: String,
    /// Device serial number.
    pub serial: String,
    /// SHA-256 of the device certificate (DER).
    pub device_certificate_sha256: Sha256,
    /// When the voucher was created, Unix seconds.
    pub created: u64,
}

/// One transfer of ownership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherEntry {
    /// SHA-256 of the header (entry 0) or of the previous entry's JSON.
    pub previous_sha256: Sha256,
    /// The new owner's public key.
    pub owner_key: PublicKey,
    /// The new owner's name.
    pub owner_name: String,
    /// Signature by the previous owner (the manufacturer for entry 0), hex.
    pub signature: String,
}

/// An ownership voucher: header plus the chain of transfers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnershipVoucher {
    /// The device and its manufacturer.
    pub header: VoucherHeader,
    /// Transfers, first (from the manufacturer) to last (to the current owner).
    pub entries: Vec<VoucherEntry>,
}

/// Proof that a voucher's chain was checked: who owns the device now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedOwnership {
    owner_key: PublicKey,
    owner_name: String,
    transfers: usize,
    device_certificate_sha256: Sha256,
}

impl VerifiedOwnership {
    /// The current owner's key.
    pub fn owner_key(&self) -> &PublicKey {
        &self.owner_key
    }
    /// The current owner's name.
    pub fn owner_name(&self) -> &str {
        &self.owner_name
    }
    /// Number of transfers from the manufacturer to the current owner.
    pub fn transfers(&self) -> usize {
        self.transfers
    }
    /// The device certificate the voucher is for.
    pub fn device_certificate_sha256(&self) -> Sha256 {
        self.device_certificate_sha256
    }
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    // Plain structs with string keys: serialisation cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

fn entry_message(previous: &Sha256, owner_key: &PublicKey, owner_name: &str) -> Vec<u8> {
    let h = Sha256::of_parts(&[
        b"shinrai-voucher-entry/v1",
        &previous.0,
        owner_key.algorithm.as_str().as_bytes(),
        &owner_key.bytes,
        owner_name.as_bytes(),
    ]);
    h.0.to_vec()
}

fn purpose() -> Result<Purpose> {
    Ok(Purpose::new(VOUCHER_PURPOSE)?)
}

impl OwnershipVoucher {
    /// The manufacturer creates a voucher for the device described by `header`, signing it over
    /// to `first_owner` with its key `maker_label` (which must be `header.maker_key`).
    pub fn create(
        store: &dyn KeyStore,
        maker_label: &str,
        header: VoucherHeader,
        first_owner: &PublicKey,
        first_owner_name: &str,
    ) -> Result<Self> {
        if store.public_key(maker_label)? != header.maker_key {
            return Err(Error::InvalidArgument(format!(
                "key {maker_label:?} is not the manufacturer key named in the voucher header"
            )));
        }
        let mut v = OwnershipVoucher {
            header,
            entries: Vec::new(),
        };
        v.push(store, maker_label, first_owner, first_owner_name)?;
        Ok(v)
    }

    /// The current owner (key `owner_label` in `store`) transfers the device to `next_owner`.
    pub fn transfer(
        &mut self,
        store: &dyn KeyStore,
        owner_label: &str,
        next_owner: &PublicKey,
        next_owner_name: &str,
    ) -> Result<()> {
        let current = self
            .entries
            .last()
            .map(|e| e.owner_key.clone())
            .ok_or_else(|| Error::VoucherChainBroken {
                index: 0,
                reason: "the voucher has no entry".into(),
            })?;
        if store.public_key(owner_label)? != current {
            return Err(Error::InvalidArgument(format!(
                "key {owner_label:?} is not the current owner's key: only the current owner can transfer the device"
            )));
        }
        self.push(store, owner_label, next_owner, next_owner_name)
    }

    fn previous_hash(&self, index: usize) -> Sha256 {
        if index == 0 {
            Sha256::of(&json(&self.header))
        } else {
            Sha256::of(&json(&self.entries[index - 1]))
        }
    }

    fn push(
        &mut self,
        store: &dyn KeyStore,
        label: &str,
        owner: &PublicKey,
        name: &str,
    ) -> Result<()> {
        if self.entries.len() >= MAX_ENTRIES {
            return Err(Error::InvalidArgument(format!(
                "a voucher holds at most {MAX_ENTRIES} transfers"
            )));
        }
        if name.trim().is_empty() {
            return Err(Error::InvalidArgument("the new owner needs a name".into()));
        }
        let previous = self.previous_hash(self.entries.len());
        let sig = store.sign(label, &purpose()?, &entry_message(&previous, owner, name))?;
        self.entries.push(VoucherEntry {
            previous_sha256: previous,
            owner_key: owner.clone(),
            owner_name: name.to_owned(),
            signature: hex::encode(sig.to_der()),
        });
        Ok(())
    }

    /// Checks the chain from the trusted manufacturer key `maker_key` to the current owner, for
    /// the device certificate with fingerprint `device_certificate_sha256`.
    pub fn verify(
        &self,
        maker_key: &PublicKey,
        device_certificate_sha256: &Sha256,
    ) -> Result<VerifiedOwnership> {
        if self.header.version != 1 {
            return Err(Error::MalformedVoucher(format!(
                "unknown voucher version {}",
                self.header.version
            )));
        }
        if self.header.maker_key != *maker_key {
            return Err(Error::VoucherMismatch(format!(
                "the voucher was created with a key that is not {}'s registered key",
                self.header.maker
            )));
        }
        if self.header.device_certificate_sha256 != *device_certificate_sha256 {
            return Err(Error::VoucherMismatch(
                "the voucher is for another device (certificate fingerprint differs)".into(),
            ));
        }
        if self.entries.is_empty() {
            return Err(Error::VoucherChainBroken {
                index: 0,
                reason: "the voucher has no entry: the manufacturer never signed it over".into(),
            });
        }
        if self.entries.len() > MAX_ENTRIES {
            return Err(Error::MalformedVoucher("too many entries".into()));
        }
        let mut signer = maker_key.clone();
        let mut signer_name = self.header.maker.clone();
        for (i, e) in self.entries.iter().enumerate() {
            if e.previous_sha256 != self.previous_hash(i) {
                return Err(Error::VoucherChainBroken {
                    index: i,
                    reason: if i == 0 {
                        "the first entry does not refer to this voucher's header (header altered?)"
                            .into()
                    } else {
                        format!(
                            "the entry does not refer to entry {} (entries removed, reordered or altered)",
                            i - 1
                        )
                    },
                });
            }
            let sig = hex::decode(&e.signature).map_err(|_| Error::VoucherChainBroken {
                index: i,
                reason: "the signature is not hex".into(),
            })?;
            let msg = entry_message(&e.previous_sha256, &e.owner_key, &e.owner_name);
            if !crate::verify_signature(&signer, &msg, &sig, true) {
                return Err(Error::VoucherChainBroken {
                    index: i,
                    reason: format!(
                        "the transfer to {:?} is not signed by the previous owner {:?}",
                        e.owner_name, signer_name
                    ),
                });
            }
            signer = e.owner_key.clone();
            signer_name = e.owner_name.clone();
        }
        Ok(VerifiedOwnership {
            owner_key: signer,
            owner_name: signer_name,
            transfers: self.entries.len(),
            device_certificate_sha256: *device_certificate_sha256,
        })
    }

    /// JSON form.
    pub fn to_json(&self) -> Vec<u8> {
        json(self)
    }

    /// Reads the JSON form (at most 64 KiB).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > crate::MAX_SIGNED_BYTES {
            return Err(Error::MalformedVoucher("voucher larger than 64 KiB".into()));
        }
        serde_json::from_slice(bytes).map_err(|e| Error::MalformedVoucher(e.to_string()))
    }
}
