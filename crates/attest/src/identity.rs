//! Device identity in the IEEE 802.1AR style: a manufacturer CA and device certificates.
//!
//! * The manufacturer CA is a self-signed X.509 certificate (`basicConstraints cA=TRUE`,
//!   `keyCertSign`) whose private key (Ed25519 or ECDSA P-256) stays in the maker's SCU.
//! * A device certificate (the 802.1AR "IDevID") binds the device's ECDSA P-256 key, which
//!   stays in the device's SCU, to its subject: `O` = maker, `CN` = model, `serialNumber`
//!   (X.520, OID 2.5.4.5) = the device serial number.
//! * [`validate_device_certificate`] checks the chain (signature, validity period, CA basic
//!   constraints, revocation list) and returns a [`VerifiedDevice`], which only it can build.

use std::cell::RefCell;
use std::collections::BTreeSet;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, IsCa, Issuer,
    KeyUsagePurpose, PublicKeyData, SerialNumber, SignatureAlgorithm, SigningKey,
};
use serde::{Deserialize, Serialize};
use shinrai_scu::{Algorithm, KeyStore, PublicKey, Purpose, UsagePolicy};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::{Error, Result, Sha256};

/// OID of the X.520 `serialNumber` attribute, which carries the device serial (802.1AR).
const OID_SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];

/// Largest certificate this crate parses.
pub const MAX_CERTIFICATE_BYTES: usize = 16 * 1024;

/// The purpose a manufacturer CA key signs certificates for.
pub fn certificate_purpose() -> Purpose {
    // "certificate" is a valid purpose name (constant in shinrai-scu), so this cannot fail.
    Purpose::new(Purpose::CERTIFICATE).unwrap_or_else(|_| Purpose::statement())
}

/// The usage policy a manufacturer key should be generated with: certificates and vouchers.
pub fn manufacturer_key_policy() -> Result<UsagePolicy> {
    Ok(UsagePolicy::new([
        certificate_purpose(),
        Purpose::new(crate::voucher::VOUCHER_PURPOSE)?,
        Purpose::statement(),
    ])?)
}

/// The usage policy a device identity key should be generated with: evidence only.
pub fn device_key_policy() -> Result<UsagePolicy> {
    Ok(UsagePolicy::new([Purpose::device_evidence()])?)
}

/// A validity period in seconds since the Unix epoch (inclusive at both ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validity {
    /// First second the certificate is valid.
    pub not_before: u64,
    /// Last second the certificate is valid.
    pub not_after: u64,
}

impl Validity {
    /// `years` of 365 days starting at `start`.
    pub fn years_from(start: u64, years: u64) -> Self {
        Validity {
            not_before: start,
            not_after: start.saturating_add(years.saturating_mul(365 * 86_400)),
        }
    }

    fn to_time(self) -> Result<(time::OffsetDateTime, time::OffsetDateTime)> {
        if self.not_after <= self.not_before {
            return Err(Error::InvalidArgument(
                "a validity period must end after it starts".into(),
            ));
        }
        let conv = |s: u64| {
            i64::try_from(s)
                .ok()
                .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                .ok_or_else(|| Error::InvalidArgument(format!("time {s} is out of range")))
        };
        Ok((conv(self.not_before)?, conv(self.not_after)?))
    }
}

/// Who a device is: what its certificate says about it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeviceIdentity {
    /// The manufacturer's name (certificate subject `O`, equal to the CA's `O`).
    pub maker: String,
    /// The model (certificate subject `CN`).
    pub model: String,
    /// The device serial number (certificate subject `serialNumber`).
    pub serial: String,
}

impl DeviceIdentity {
    /// The device's UEID (RFC 9711 section 4.2.1): type byte `0x01` (RAND) followed by the 32-byte
    /// SHA-256 of maker and serial, so that every verifier derives the same id from the certificate.
    pub fn ueid(&self) -> Vec<u8> {
        let h = Sha256::of_parts(&[
            b"shinrai-ueid/v1",
            self.maker.as_bytes(),
            self.serial.as_bytes(),
        ]);
        let mut out = Vec::with_capacity(33);
        out.push(0x01);
        out.extend_from_slice(&h.0);
        out
    }
}

/// An SCU key seen by `rcgen` as a certificate signing key: private keys never leave the SCU.
struct ScuKey<'a> {
    store: &'a dyn KeyStore,
    label: &'a str,
    purpose: Purpose,
    public: PublicKey,
    error: RefCell<Option<shinrai_scu::Error>>,
}

impl<'a> ScuKey<'a> {
    fn new(store: &'a dyn KeyStore, label: &'a str) -> Result<Self> {
        Ok(ScuKey {
            store,
            label,
            purpose: certificate_purpose(),
            public: store.public_key(label)?,
            error: RefCell::new(None),
        })
    }

    /// Turns an rcgen failure into ours, keeping the SCU's error when there was one.
    fn explain(&self, e: rcgen::Error) -> Error {
        match self.error.borrow_mut().take() {
            Some(scu) => Error::Scu(scu),
            None => Error::CertificateBuild(e.to_string()),
        }
    }
}

fn rcgen_alg(a: Algorithm) -> &'static SignatureAlgorithm {
    match a {
        Algorithm::Ed25519 => &rcgen::PKCS_ED25519,
        Algorithm::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
    }
}

impl PublicKeyData for ScuKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.public.bytes
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        rcgen_alg(self.public.algorithm)
    }
}

impl SigningKey for ScuKey<'_> {
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
        match self.store.sign(self.label, &self.purpose, msg) {
            // X.509 wants DER ECDSA signatures (RFC 5758) and raw Ed25519 ones (RFC 8410).
            Ok(sig) => Ok(sig.to_der()),
            Err(e) => {
                *self.error.borrow_mut() = Some(e);
                Err(rcgen::Error::RemoteKeyError)
            }
        }
    }
}

/// A public key that is being certified (the device's key).
struct SubjectKey<'a>(&'a PublicKey);

impl PublicKeyData for SubjectKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.0.bytes
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        rcgen_alg(self.0.algorithm)
    }
}

fn random_serial() -> Result<SerialNumber> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b)
        .map_err(|_| Error::CertificateBuild("no randomness for the serial number".into()))?;
    b[0] &= 0x7f; // positive INTEGER
    b[0] |= 0x01; // and no leading zero byte, so the DER length is fixed
    Ok(SerialNumber::from_slice(&b))
}

fn check_name(what: &str, v: &str) -> Result<()> {
    if v.trim().is_empty() || v.len() > 64 || v.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(format!(
            "{what} must be 1-64 printable characters, got {v:?}"
        )));
    }
    Ok(())
}

/// A manufacturer's certificate authority: the root of every device identity it issues.
#[derive(Debug, Clone)]
pub struct ManufacturerCa {
    cert: CertificateInfo,
}

impl ManufacturerCa {
    /// Creates a self-signed CA certificate for `organisation` with the existing key `label` of
    /// `store` (generate it with [`manufacturer_key_policy`]; Ed25519 or ECDSA P-256).
    pub fn create(
        store: &dyn KeyStore,
        label: &str,
        organisation: &str,
        validity: Validity,
    ) -> Result<Self> {
        check_name("organisation", organisation)?;
        let key = ScuKey::new(store, label)?;
        let (nb, na) = validity.to_time()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, organisation);
        dn.push(
            DnType::CommonName,
            format!("{organisation} Device Identity CA"),
        );
        params.distinguished_name = dn;
        params.not_before = nb;
        params.not_after = na;
        params.serial_number = Some(random_serial()?);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).map_err(|e| key.explain(e))?;
        Self::from_der(cert.der())
    }

    /// Reads a manufacturer CA certificate, checking that it is a self-signed CA
    /// (its validity period is checked at each use, see [`validate_device_certificate`]).
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let cert = CertificateInfo::parse(der)?;
        if !cert.ca {
            return Err(Error::NotACa {
                subject: cert.subject.clone(),
            });
        }
        if cert.issuer_raw != cert.subject_raw {
            return Err(Error::NotACa {
                subject: format!("{} (not self-signed)", cert.subject),
            });
        }
        cert.verify_signed_by(&cert.public_key, &cert.subject)?;
        if cert.identity_maker().is_none() {
            return Err(Error::MalformedCertificate(
                "the CA certificate has no organisation (O) in its subject".into(),
            ));
        }
        Ok(ManufacturerCa { cert })
    }

    /// Reads a PEM `CERTIFICATE` block.
    pub fn from_pem(pem: &str) -> Result<Self> {
        Self::from_der(&pem_to_der(pem)?)
    }

    /// The manufacturer's name (subject `O`).
    pub fn organisation(&self) -> &str {
        self.cert.identity_maker().unwrap_or_default()
    }

    /// The CA certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert.der
    }

    /// The CA certificate, PEM.
    pub fn certificate_pem(&self) -> String {
        der_to_pem(&self.cert.der)
    }

    /// The CA's public key (the key that signs device certificates and vouchers).
    pub fn public_key(&self) -> &PublicKey {
        &self.cert.public_key
    }

    /// Facts read from the CA certificate.
    pub fn info(&self) -> &CertificateInfo {
        &self.cert
    }

    /// rcgen's view of this CA as an issuer. The issuer name must be byte-identical to the CA
    /// certificate's subject, so it is rebuilt exactly as [`ManufacturerCa::create`] wrote it.
    fn issuer<'k>(&self, key: &'k ScuKey<'k>) -> Issuer<'static, &'k ScuKey<'k>> {
        let mut ca_params = CertificateParams::default();
        let mut ca_dn = DistinguishedName::new();
        ca_dn.push(DnType::OrganizationName, self.organisation());
        ca_dn.push(
            DnType::CommonName,
            format!("{} Device Identity CA", self.organisation()),
        );
        ca_params.distinguished_name = ca_dn;
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        Issuer::new(ca_params, key)
    }

    /// Issues an X.509 CRL (RFC 5280) revoking `revoked` (certificates this CA issued), signed
    /// with the CA key `ca_label`: how a manufacturer publishes revocations that verifiers can
    /// check ([`RevocationList::from_crl`]). Times are Unix seconds.
    pub fn issue_crl(
        &self,
        store: &dyn KeyStore,
        ca_label: &str,
        revoked: &[CertificateInfo],
        crl_number: u64,
        this_update: u64,
        next_update: u64,
    ) -> Result<Vec<u8>> {
        let key = ScuKey::new(store, ca_label)?;
        if key.public != self.cert.public_key {
            return Err(Error::InvalidArgument(format!(
                "key {ca_label:?} is not the key of the CA {:?}",
                self.cert.subject
            )));
        }
        let (this, next) = Validity {
            not_before: this_update,
            not_after: next_update,
        }
        .to_time()?;
        let mut revoked_certs = Vec::with_capacity(revoked.len());
        for c in revoked {
            if c.issuer_raw != self.cert.subject_raw {
                return Err(Error::InvalidArgument(format!(
                    "{:?} was not issued by this CA and cannot be in its revocation list",
                    c.subject
                )));
            }
            let serial = hex::decode(&c.serial_hex)
                .map_err(|_| Error::InvalidArgument("bad certificate serial".into()))?;
            revoked_certs.push(rcgen::RevokedCertParams {
                serial_number: SerialNumber::from_slice(&serial),
                revocation_time: this,
                reason_code: None,
                invalidity_date: None,
            });
        }
        let params = rcgen::CertificateRevocationListParams {
            this_update: this,
            next_update: next,
            crl_number: SerialNumber::from_slice(&crl_number.max(1).to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        let crl = params
            .signed_by(&self.issuer(&key))
            .map_err(|e| key.explain(e))?;
        Ok(crl.der().to_vec())
    }

    /// Issues a device identity certificate for `device_key` (ECDSA P-256, in the device's SCU),
    /// signed with this CA's key `ca_label` in `store`. Returns the certificate, DER.
    pub fn issue_device_certificate(
        &self,
        store: &dyn KeyStore,
        ca_label: &str,
        model: &str,
        serial: &str,
        device_key: &PublicKey,
        validity: Validity,
    ) -> Result<Vec<u8>> {
        check_name("model", model)?;
        check_name("serial number", serial)?;
        if device_key.algorithm != Algorithm::EcdsaP256 {
            return Err(Error::UnsupportedAlgorithm(format!(
                "device identity keys must be ECDSA P-256, got {}",
                device_key.algorithm
            )));
        }
        let key = ScuKey::new(store, ca_label)?;
        if key.public != self.cert.public_key {
            return Err(Error::InvalidArgument(format!(
                "key {ca_label:?} is not the key of the CA {:?}",
                self.cert.subject
            )));
        }
        let serial_value = rcgen::string::PrintableString::try_from(serial).map_err(|_| {
            Error::InvalidArgument(format!(
                "serial number {serial:?} must use PrintableString characters (A-Z a-z 0-9 space '()+,-./:=?)"
            ))
        })?;
        let (nb, na) = validity.to_time()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, self.organisation());
        dn.push(DnType::CommonName, model);
        dn.push(
            DnType::CustomDnType(OID_SERIAL_NUMBER.to_vec()),
            DnValue::PrintableString(serial_value),
        );
        params.distinguished_name = dn;
        params.not_before = nb;
        params.not_after = na;
        params.serial_number = Some(random_serial()?);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let issuer = self.issuer(&key);
        let cert = params
            .signed_by(&SubjectKey(device_key), &issuer)
            .map_err(|e| key.explain(e))?;
        let der = cert.der().to_vec();
        let info = CertificateInfo::parse(&der)?;
        if info.issuer_raw != self.cert.subject_raw {
            return Err(Error::CertificateBuild(
                "issued certificate's issuer does not match the CA subject (CA not created by this crate?)".into(),
            ));
        }
        Ok(der)
    }
}

/// Facts read from an X.509 certificate (not yet checked: see [`validate_device_certificate`]).
#[derive(Clone)]
pub struct CertificateInfo {
    der: Vec<u8>,
    /// SHA-256 of the DER certificate.
    pub fingerprint: Sha256,
    /// Subject distinguished name as text (`O=..., CN=..., serialNumber=...`).
    pub subject: String,
    /// Issuer distinguished name as text.
    pub issuer: String,
    /// Certificate serial number, lowercase hex.
    pub serial_hex: String,
    /// Start of the validity period, Unix seconds.
    pub not_before: i64,
    /// End of the validity period, Unix seconds.
    pub not_after: i64,
    /// The subject's public key.
    pub public_key: PublicKey,
    /// Whether basicConstraints says cA=TRUE and keyUsage (if present) allows keyCertSign.
    pub ca: bool,
    org: Option<String>,
    cn: Option<String>,
    serial_attr: Option<String>,
    subject_raw: Vec<u8>,
    issuer_raw: Vec<u8>,
    tbs: Vec<u8>,
    sig_alg: Algorithm,
    signature: Vec<u8>,
}

impl std::fmt::Debug for CertificateInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateInfo")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .field("serial_hex", &self.serial_hex)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

fn oid_str(o: &x509_parser::der_parser::oid::Oid<'_>) -> String {
    o.to_id_string()
}

impl CertificateInfo {
    /// Parses a DER certificate. Refuses trailing bytes, algorithms other than Ed25519 and ECDSA
    /// P-256 with SHA-256, and certificates larger than [`MAX_CERTIFICATE_BYTES`].
    pub fn parse(der: &[u8]) -> Result<Self> {
        let bad = |m: String| Error::MalformedCertificate(m);
        if der.len() > MAX_CERTIFICATE_BYTES {
            return Err(bad(format!("{} bytes is more than the limit", der.len())));
        }
        let (rest, c) = X509Certificate::from_der(der)
            .map_err(|e| bad(format!("not a DER X.509 certificate ({e})")))?;
        if !rest.is_empty() {
            return Err(bad(format!(
                "{} trailing bytes after the certificate",
                rest.len()
            )));
        }
        let outer_alg = check_outer_der(der, c.tbs_certificate.as_ref())?;
        let sig_alg = match oid_str(&c.signature_algorithm.algorithm).as_str() {
            "1.2.840.10045.4.3.2" => Algorithm::EcdsaP256,
            "1.3.101.112" => Algorithm::Ed25519,
            other => {
                return Err(Error::UnsupportedAlgorithm(format!(
                    "certificate signature algorithm {other} (use ecdsa-with-SHA256 or Ed25519)"
                )));
            }
        };
        let expected_alg = match sig_alg {
            Algorithm::EcdsaP256 => ALG_ECDSA_SHA256,
            Algorithm::Ed25519 => ALG_ED25519,
        };
        if outer_alg != expected_alg {
            return Err(bad(
                "signature algorithm is not encoded as strict DER".into()
            ));
        }
        if c.signature_algorithm.algorithm != c.tbs_certificate.signature.algorithm {
            return Err(bad("outer and inner signature algorithms differ".into()));
        }
        let spki = c.public_key();
        let key_bytes: &[u8] = &spki.subject_public_key.data;
        let public_key = match oid_str(&spki.algorithm.algorithm).as_str() {
            "1.2.840.10045.2.1" => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string());
                if curve.as_deref() != Some("1.2.840.10045.3.1.7") {
                    return Err(Error::UnsupportedAlgorithm(
                        "EC public key on a curve other than P-256".into(),
                    ));
                }
                PublicKey::from_bytes(Algorithm::EcdsaP256, key_bytes)
                    .map_err(|e| bad(format!("bad P-256 public key: {e}")))?
            }
            "1.3.101.112" => PublicKey::from_bytes(Algorithm::Ed25519, key_bytes)
                .map_err(|e| bad(format!("bad Ed25519 public key: {e}")))?,
            other => {
                return Err(Error::UnsupportedAlgorithm(format!(
                    "public key algorithm {other} (use ECDSA P-256 or Ed25519)"
                )));
            }
        };
        let bc = c
            .basic_constraints()
            .map_err(|e| bad(format!("bad basicConstraints ({e})")))?;
        let ku = c
            .key_usage()
            .map_err(|e| bad(format!("bad keyUsage ({e})")))?;
        let ca = bc.map(|b| b.value.ca).unwrap_or(false)
            && ku.map(|k| k.value.key_cert_sign()).unwrap_or(true);
        let first = |it: &mut dyn Iterator<
            Item = &x509_parser::x509::AttributeTypeAndValue<'_>,
        >| { it.next().and_then(|a| a.as_str().ok()).map(str::to_owned) };
        let subject = c.subject();
        let serial_oid = x509_parser::der_parser::oid::Oid::from(OID_SERIAL_NUMBER)
            .map_err(|_| bad("internal OID error".into()))?;
        let org = first(&mut subject.iter_organization());
        let cn = first(&mut subject.iter_common_name());
        let serial_attr = first(&mut subject.iter_by_oid(&serial_oid));
        let v = c.validity();
        Ok(CertificateInfo {
            der: der.to_vec(),
            fingerprint: Sha256::of(der),
            subject: subject.to_string(),
            issuer: c.issuer().to_string(),
            serial_hex: hex::encode(c.raw_serial()),
            not_before: v.not_before.timestamp(),
            not_after: v.not_after.timestamp(),
            public_key,
            ca,
            org,
            cn,
            serial_attr,
            subject_raw: subject.as_raw().to_vec(),
            issuer_raw: c.issuer().as_raw().to_vec(),
            tbs: c.tbs_certificate.as_ref().to_vec(),
            sig_alg,
            signature: c.signature_value.data.to_vec(),
        })
    }

    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    fn identity_maker(&self) -> Option<&str> {
        self.org.as_deref()
    }

    /// The device identity in the subject (`O`, `CN`, `serialNumber`), if all three are present.
    pub fn device_identity(&self) -> Option<DeviceIdentity> {
        Some(DeviceIdentity {
            maker: self.org.clone()?,
            model: self.cn.clone()?,
            serial: self.serial_attr.clone()?,
        })
    }

    /// Whether the certificate's issuer name is `ca`'s subject name.
    pub fn issued_by_name(&self, ca: &ManufacturerCa) -> bool {
        self.issuer_raw == ca.cert.subject_raw
    }

    fn verify_signed_by(&self, key: &PublicKey, issuer: &str) -> Result<()> {
        let fail = || Error::BadCertificateSignature {
            subject: self.subject.clone(),
            issuer: issuer.to_owned(),
        };
        if key.algorithm != self.sig_alg {
            return Err(fail());
        }
        if crate::verify_signature(key, &self.tbs, &self.signature, true) {
            Ok(())
        } else {
            Err(fail())
        }
    }

    fn check_time(&self, now: u64) -> Result<()> {
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        if now < self.not_before {
            return Err(Error::CertificateNotYetValid {
                subject: self.subject.clone(),
                not_before: self.not_before,
            });
        }
        if now > self.not_after {
            return Err(Error::CertificateExpired {
                subject: self.subject.clone(),
                not_after: self.not_after,
            });
        }
        Ok(())
    }
}

/// Reads a DER tag-length header: returns (header length, content length), requiring the
/// minimal (canonical) length encoding.
fn der_header(b: &[u8]) -> Option<(usize, usize)> {
    let first = *b.get(1)?;
    if first < 0x80 {
        return Some((2, first as usize));
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 3 || b.len() < 2 + n || b[2] == 0 {
        return None;
    }
    let len = b[2..2 + n]
        .iter()
        .fold(0usize, |acc, x| (acc << 8) | *x as usize);
    if len < 0x80 {
        return None;
    }
    Some((2 + n, len))
}

/// The parts of a certificate the signature does not cover must be strict DER:
/// `SEQUENCE { tbs, SEQUENCE algorithm, BIT STRING signature }` and nothing else, so that one
/// certificate has one encoding apart from the signature value itself.
fn check_outer_der<'d>(der: &'d [u8], tbs: &[u8]) -> Result<&'d [u8]> {
    let bad = |m: &str| Err(Error::MalformedCertificate(format!("not strict DER: {m}")));
    let Some((h, len)) = der_header(der) else {
        return bad("certificate length");
    };
    if der[0] != 0x30 || h + len != der.len() {
        return bad("the certificate is not one DER SEQUENCE");
    }
    // `tbs` is a sub-slice of `der`: find where it starts without unsafe code.
    let offset = (tbs.as_ptr() as usize).wrapping_sub(der.as_ptr() as usize);
    if offset != h || tbs.first() != Some(&0x30) {
        return bad("the signed part is not the first SEQUENCE");
    }
    let rest = &der[h + tbs.len()..];
    let Some((ah, alen)) = der_header(rest) else {
        return bad("signature algorithm length");
    };
    if rest[0] != 0x30 || rest.len() < ah + alen {
        return bad("signature algorithm is not a SEQUENCE");
    }
    let sig = &rest[ah + alen..];
    let Some((sh, slen)) = der_header(sig) else {
        return bad("signature length");
    };
    if sig[0] != 0x03 || sh + slen != sig.len() || slen < 2 || sig[sh] != 0 {
        return bad("signature is not a whole-byte BIT STRING ending the certificate");
    }
    Ok(&rest[..ah + alen])
}

/// DER `AlgorithmIdentifier` of ecdsa-with-SHA256 (RFC 5758: no parameters).
const ALG_ECDSA_SHA256: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
];
/// DER `AlgorithmIdentifier` of Ed25519 (RFC 8410: no parameters).
const ALG_ED25519: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];

/// Device certificates a manufacturer has revoked (input to validation, e.g. from the trust store).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationList {
    /// `(issuer DN text, certificate serial hex)` pairs.
    revoked: BTreeSet<(String, String)>,
}

impl RevocationList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }
    /// Revokes a certificate by issuer and serial number.
    pub fn revoke(&mut self, cert: &CertificateInfo) {
        self.revoked
            .insert((cert.issuer.clone(), cert.serial_hex.clone()));
    }
    /// Whether `cert` is revoked.
    pub fn is_revoked(&self, cert: &CertificateInfo) -> bool {
        !self.revoked.is_empty()
            && self
                .revoked
                .contains(&(cert.issuer.clone(), cert.serial_hex.clone()))
    }
    /// Reads an X.509 CRL issued by `ca` (see [`ManufacturerCa::issue_crl`]): checks the issuer
    /// name, the CA's signature and that the list is current at `now` (`thisUpdate <= now <=
    /// nextUpdate`), and returns the revoked certificates.
    pub fn from_crl(ca: &ManufacturerCa, der: &[u8], now: u64) -> Result<Self> {
        use x509_parser::revocation_list::CertificateRevocationList;
        let bad = |m: String| Error::MalformedRevocationList(m);
        if der.len() > 4 * 1024 * 1024 {
            return Err(bad("larger than 4 MiB".into()));
        }
        let (rest, crl) = CertificateRevocationList::from_der(der)
            .map_err(|e| bad(format!("not a DER X.509 CRL ({e})")))?;
        if !rest.is_empty() {
            return Err(bad("trailing bytes after the CRL".into()));
        }
        if crl.tbs_cert_list.issuer.as_raw() != ca.cert.subject_raw.as_slice() {
            return Err(Error::UnknownIssuer {
                issuer: crl.tbs_cert_list.issuer.to_string(),
            });
        }
        let key = &ca.cert.public_key;
        let alg_ok = matches!(
            (
                key.algorithm,
                oid_str(&crl.signature_algorithm.algorithm).as_str()
            ),
            (Algorithm::EcdsaP256, "1.2.840.10045.4.3.2") | (Algorithm::Ed25519, "1.3.101.112")
        );
        if !alg_ok
            || !crate::verify_signature(
                key,
                crl.tbs_cert_list.as_ref(),
                &crl.signature_value.data,
                true,
            )
        {
            return Err(Error::BadCertificateSignature {
                subject: "revocation list".into(),
                issuer: ca.cert.subject.clone(),
            });
        }
        let now_i = i64::try_from(now).unwrap_or(i64::MAX);
        let this_update = crl.last_update().timestamp();
        let next_update = crl.next_update().map(|t| t.timestamp());
        if now_i < this_update || next_update.is_some_and(|n| now_i > n) {
            return Err(Error::StaleRevocationList {
                this_update,
                next_update: next_update.unwrap_or(0),
            });
        }
        let issuer = ca.cert.subject.clone();
        Ok(RevocationList {
            revoked: crl
                .iter_revoked_certificates()
                .map(|r| (issuer.clone(), hex::encode(r.raw_serial())))
                .collect(),
        })
    }

    /// Adds every entry of `other`.
    pub fn merge(&mut self, other: RevocationList) {
        self.revoked.extend(other.revoked);
    }

    /// Number of revoked certificates.
    pub fn len(&self) -> usize {
        self.revoked.len()
    }
    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.revoked.is_empty()
    }
}

/// A device certificate whose chain to its manufacturer CA was checked at a given time.
/// Only [`validate_device_certificate`] (and the verifier) can build one.
#[derive(Debug, Clone)]
pub struct VerifiedDevice {
    cert: CertificateInfo,
    identity: DeviceIdentity,
    checked_at: u64,
}

impl VerifiedDevice {
    /// The device certificate.
    pub fn certificate(&self) -> &CertificateInfo {
        &self.cert
    }
    /// Who the device is.
    pub fn identity(&self) -> &DeviceIdentity {
        &self.identity
    }
    /// The device's public identity key.
    pub fn public_key(&self) -> &PublicKey {
        &self.cert.public_key
    }
    /// When the chain was checked (Unix seconds).
    pub fn checked_at(&self) -> u64 {
        self.checked_at
    }
}

/// The time-independent part of chain validation: names, signature, constraints, identity.
pub(crate) fn check_issued(ca: &ManufacturerCa, cert: &CertificateInfo) -> Result<DeviceIdentity> {
    if !cert.issued_by_name(ca) {
        return Err(Error::UnknownIssuer {
            issuer: cert.issuer.clone(),
        });
    }
    cert.verify_signed_by(&ca.cert.public_key, &ca.cert.subject)?;
    if cert.ca {
        return Err(Error::DeviceCertificateIsCa {
            subject: cert.subject.clone(),
        });
    }
    if cert.public_key.algorithm != Algorithm::EcdsaP256 {
        return Err(Error::UnsupportedAlgorithm(
            "device identity keys must be ECDSA P-256".into(),
        ));
    }
    let id = cert.device_identity().ok_or_else(|| {
        Error::MalformedCertificate(
            "the device certificate lacks O (maker), CN (model) or serialNumber in its subject"
                .into(),
        )
    })?;
    if id.maker != ca.organisation() {
        return Err(Error::MalformedCertificate(format!(
            "the device certificate names maker {:?} but was issued by {:?}",
            id.maker,
            ca.organisation()
        )));
    }
    Ok(id)
}

/// The time- and list-dependent part of chain validation.
pub(crate) fn check_current(
    ca: &ManufacturerCa,
    cert: &CertificateInfo,
    now: u64,
    revoked: &RevocationList,
) -> Result<()> {
    ca.cert.check_time(now)?;
    cert.check_time(now)?;
    if revoked.is_revoked(cert) {
        return Err(Error::CertificateRevoked {
            serial: cert.serial_hex.clone(),
            subject: cert.subject.clone(),
        });
    }
    Ok(())
}

/// Validates a device certificate (DER) against its manufacturer's CA at time `now` (Unix
/// seconds): issuer name, signature, CA basic constraints, both validity periods, revocation,
/// a P-256 device key and the 802.1AR subject fields.
pub fn validate_device_certificate(
    ca: &ManufacturerCa,
    device_der: &[u8],
    now: u64,
    revoked: &RevocationList,
) -> Result<VerifiedDevice> {
    let cert = CertificateInfo::parse(device_der)?;
    let identity = check_issued(ca, &cert)?;
    check_current(ca, &cert, now, revoked)?;
    Ok(VerifiedDevice {
        cert,
        identity,
        checked_at: now,
    })
}

/// Encodes DER as a PEM `CERTIFICATE` block.
pub fn der_to_pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Decodes the first PEM `CERTIFICATE` block.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>> {
    use base64::Engine;
    let begin = "-----BEGIN CERTIFICATE-----";
    let end = "-----END CERTIFICATE-----";
    let start = pem
        .find(begin)
        .ok_or_else(|| Error::MalformedCertificate("no PEM CERTIFICATE block".into()))?
        + begin.len();
    let stop = pem[start..]
        .find(end)
        .ok_or_else(|| Error::MalformedCertificate("unterminated PEM block".into()))?
        + start;
    let body: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| Error::MalformedCertificate("PEM body is not base64".into()))
}
