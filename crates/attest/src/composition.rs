//! What a device model is made of: a CycloneDX 1.6 composition and the reference values
//! (expected SHA-256 measurements per component) a verifier compares evidence with.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Error, Result, Sha256};

/// The kind of a component, which decides which trust-vector claim its measurement feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentKind {
    /// Firmware (CycloneDX `firmware`): feeds the `executables` claim.
    Firmware,
    /// Software running on the device (CycloneDX `application`): feeds `executables`.
    Software,
    /// A hardware part (CycloneDX `device`), measured e.g. by its identity ROM: feeds `hardware`.
    Hardware,
    /// Configuration data (CycloneDX `data`): feeds `configuration`.
    Configuration,
}

impl ComponentKind {
    /// The CycloneDX component `type`.
    pub fn cyclonedx_type(self) -> &'static str {
        match self {
            ComponentKind::Firmware => "firmware",
            ComponentKind::Software => "application",
            ComponentKind::Hardware => "device",
            ComponentKind::Configuration => "data",
        }
    }

    fn from_cyclonedx_type(t: &str) -> Option<Self> {
        Some(match t {
            "firmware" => ComponentKind::Firmware,
            "application" | "library" | "operating-system" | "framework" => ComponentKind::Software,
            "device" => ComponentKind::Hardware,
            "data" => ComponentKind::Configuration,
            _ => return None,
        })
    }

    /// The word used in messages for people.
    pub fn word(self) -> &'static str {
        match self {
            ComponentKind::Firmware => "firmware",
            ComponentKind::Software => "software",
            ComponentKind::Hardware => "hardware part",
            ComponentKind::Configuration => "configuration",
        }
    }
}

/// One component of a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// Name, unique within the composition (also the measurement name in evidence).
    pub name: String,
    /// Version or release label.
    pub version: String,
    /// Kind of component.
    pub kind: ComponentKind,
    /// Supplier, if not the maker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    /// Expected SHA-256 measurement (image hash, hardware identity hash, config hash).
    pub sha256: Sha256,
}

/// A device model's composition, emitted as CycloneDX 1.6 JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Composition {
    /// Manufacturer name (as in its CA certificate's `O`).
    pub maker: String,
    /// Model name (as in device certificates' `CN`).
    pub model: String,
    /// Release of this composition (e.g. `1.0`, then `1.1` after an update).
    pub version: String,
    /// When the composition was declared, Unix seconds (CycloneDX `metadata.timestamp`).
    pub timestamp: u64,
    /// The components, in order.
    pub components: Vec<Component>,
}

fn rfc3339(t: u64) -> Result<String> {
    let dt = i64::try_from(t)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .ok_or_else(|| Error::InvalidArgument(format!("timestamp {t} out of range")))?;
    dt.format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| Error::InvalidArgument(format!("timestamp {t}: {e}")))
}

fn bom_ref(kind: &str, name: &str, version: &str) -> String {
    format!("{kind}:{name}@{version}")
}

impl Composition {
    /// Checks names are non-empty and component names unique.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::MalformedComposition(m));
        if self.maker.trim().is_empty() || self.model.trim().is_empty() {
            return bad("maker and model must not be empty".into());
        }
        if self.version.trim().is_empty() {
            return bad("the composition needs a version".into());
        }
        if self.components.is_empty() {
            return bad("a composition needs at least one component".into());
        }
        let mut seen = BTreeSet::new();
        for c in &self.components {
            if c.name.trim().is_empty() || c.version.trim().is_empty() {
                return bad("every component needs a name and a version".into());
            }
            if !seen.insert(c.name.as_str()) {
                return bad(format!("component name {:?} appears twice", c.name));
            }
        }
        Ok(())
    }

    /// The CycloneDX 1.6 JSON document (deterministic: same composition, same bytes).
    /// Its `serialNumber` is a name-based UUID derived from the content.
    pub fn to_cyclonedx(&self) -> Result<Vec<u8>> {
        self.check()?;
        let device_ref = bom_ref("device", &self.model, &self.version);
        let components: Vec<Value> = self
            .components
            .iter()
            .map(|c| {
                let mut v = json!({
                    "type": c.kind.cyclonedx_type(),
                    "bom-ref": bom_ref(c.kind.cyclonedx_type(), &c.name, &c.version),
                    "name": c.name,
                    "version": c.version,
                    "hashes": [{"alg": "SHA-256", "content": c.sha256.to_hex()}],
                });
                if let Some(s) = &c.supplier {
                    v["supplier"] = json!({"name": s});
                }
                v
            })
            .collect();
        let refs: Vec<Value> = components.iter().map(|c| c["bom-ref"].clone()).collect();
        let mut doc = json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "serialNumber": "",
            "version": 1,
            "metadata": {
                "timestamp": rfc3339(self.timestamp)?,
                "manufacturer": {"name": self.maker},
                "component": {
                    "type": "device",
                    "bom-ref": device_ref,
                    "name": self.model,
                    "version": self.version,
                    "manufacturer": {"name": self.maker},
                },
            },
            "components": components,
            "dependencies": [{"ref": device_ref, "dependsOn": refs}],
        });
        // Name-based UUID (version 5 layout) from the content without the serial number.
        let body = serde_json::to_vec(&doc)
            .map_err(|e| Error::InvalidArgument(format!("encode CycloneDX: {e}")))?;
        let h = Sha256::of_parts(&[b"shinrai-cyclonedx-serial/v1", &body]).0;
        let mut u = [0u8; 16];
        u.copy_from_slice(&h[..16]);
        u[6] = (u[6] & 0x0f) | 0x50;
        u[8] = (u[8] & 0x3f) | 0x80;
        let x = hex::encode(u);
        doc["serialNumber"] = json!(format!(
            "urn:uuid:{}-{}-{}-{}-{}",
            &x[0..8],
            &x[8..12],
            &x[12..16],
            &x[16..20],
            &x[20..32]
        ));
        serde_json::to_vec_pretty(&doc)
            .map_err(|e| Error::InvalidArgument(format!("encode CycloneDX: {e}")))
    }

    /// The composition digest: SHA-256 of the CycloneDX document bytes from [`Self::to_cyclonedx`].
    pub fn digest(&self) -> Result<Sha256> {
        Ok(Sha256::of(&self.to_cyclonedx()?))
    }

    /// Reads a CycloneDX 1.6 JSON document: the device from `metadata.component`, the maker
    /// from its `manufacturer` (or `metadata.manufacturer`), and every component with a SHA-256 hash.
    pub fn from_cyclonedx(bytes: &[u8]) -> Result<Self> {
        let bad = |m: &str| Error::MalformedComposition(m.to_owned());
        if bytes.len() > crate::MAX_SIGNED_BYTES * 16 {
            return Err(bad("CycloneDX document too large"));
        }
        let doc: Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::MalformedComposition(format!("not JSON ({e})")))?;
        if doc["bomFormat"] != "CycloneDX" {
            return Err(bad("bomFormat is not CycloneDX"));
        }
        let s = |v: &Value| v.as_str().map(str::to_owned);
        let meta = &doc["metadata"];
        let device = &meta["component"];
        let model = s(&device["name"]).ok_or_else(|| bad("metadata.component.name missing"))?;
        let version =
            s(&device["version"]).ok_or_else(|| bad("metadata.component.version missing"))?;
        let maker = s(&device["manufacturer"]["name"])
            .or_else(|| s(&meta["manufacturer"]["name"]))
            .ok_or_else(|| bad("no manufacturer name"))?;
        let timestamp = match meta["timestamp"].as_str() {
            Some(t) => {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| bad("metadata.timestamp is not RFC 3339"))?
                    .unix_timestamp()
                    .max(0) as u64
            }
            None => 0,
        };
        let mut components = Vec::new();
        for c in doc["components"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let kind = c["type"]
                .as_str()
                .and_then(ComponentKind::from_cyclonedx_type)
                .ok_or_else(|| bad("component with an unsupported type"))?;
            let sha = c["hashes"]
                .as_array()
                .and_then(|hs| hs.iter().find(|h| h["alg"] == "SHA-256"))
                .and_then(|h| h["content"].as_str())
                .ok_or_else(|| bad("component without a SHA-256 hash"))?;
            components.push(Component {
                name: s(&c["name"]).ok_or_else(|| bad("component without a name"))?,
                version: s(&c["version"]).unwrap_or_default(),
                kind,
                supplier: s(&c["supplier"]["name"]),
                sha256: sha.to_ascii_lowercase().parse()?,
            });
        }
        let c = Composition {
            maker,
            model,
            version,
            timestamp,
            components,
        };
        c.check()?;
        Ok(c)
    }
}

/// One expected measurement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceMeasurement {
    /// Component name (as in the composition and in evidence).
    pub component: String,
    /// Its kind.
    pub kind: ComponentKind,
    /// Its version (for messages).
    pub version: String,
    /// Expected SHA-256.
    pub sha256: Sha256,
}

/// What a genuine, unmodified device of one model and release measures (the maker's endorsement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceValues {
    /// Manufacturer name.
    pub maker: String,
    /// Model name.
    pub model: String,
    /// Release these values describe (the composition's version).
    pub version: String,
    /// Expected measurements, one per component.
    pub measurements: Vec<ReferenceMeasurement>,
    /// Digest of the CycloneDX composition the device must report.
    pub composition_digest: Sha256,
}

impl ReferenceValues {
    /// The reference values implied by a composition: one measurement per component and the
    /// composition's digest.
    pub fn from_composition(c: &Composition) -> Result<Self> {
        Ok(ReferenceValues {
            maker: c.maker.clone(),
            model: c.model.clone(),
            version: c.version.clone(),
            measurements: c
                .components
                .iter()
                .map(|k| ReferenceMeasurement {
                    component: k.name.clone(),
                    kind: k.kind,
                    version: k.version.clone(),
                    sha256: k.sha256,
                })
                .collect(),
            composition_digest: c.digest()?,
        })
    }

    /// JSON form (for registration in the trust store).
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain structs with string keys cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads the JSON form.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::MalformedComposition(format!("reference values: {e}")))
    }
}
