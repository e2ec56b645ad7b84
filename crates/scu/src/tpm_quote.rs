//! TPM 2.0 quotes: reading and checking them without a TPM (pure, always built).
//!
//! A quote is what `TPM2_Quote` returns: a `TPMS_ATTEST` structure (the bytes that were signed)
//! and a `TPMT_SIGNATURE` over them made by a restricted attestation key (AK). A verifier that
//! holds the AK's public key checks, from the bytes received and nothing re-encoded:
//!
//! 1. the signature (ECDSA P-256 over SHA-256 of the `TPMS_ATTEST` bytes) by the AK,
//! 2. `magic` = `TPM_GENERATED_VALUE` (the TPM made the structure itself: a restricted key refuses
//!    to sign outside data that starts with it) and `type` = `TPM_ST_ATTEST_QUOTE`,
//! 3. `extraData` = the qualifying data the verifier expects (a hash of its fresh nonce),
//! 4. `pcrSelect` = exactly the PCRs whose values are claimed (SHA-256 bank), and
//! 5. `pcrDigest` = SHA-256 of the claimed PCR values concatenated in selection order.
//!
//! [`ParsedQuote::parse`] does the reading (a truncated or garbled quote is
//! [`Error::MalformedQuote`]); [`ParsedQuote::verify`] runs every check and says which failed
//! ([`Error::QuoteMismatch`]). [`extend`] and [`replay`] compute PCR values from measurements.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Algorithm, Error, PublicKey, Result};

/// `TPM_GENERATED_VALUE`: the first four bytes of every structure a TPM signs itself.
pub const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
/// `TPM_ST_ATTEST_QUOTE`: the `type` of a quote.
pub const TPM_ST_ATTEST_QUOTE: u16 = 0x8018;
/// `TPM_ALG_SHA256`.
pub const TPM_ALG_SHA256: u16 = 0x000b;
/// `TPM_ALG_ECDSA`.
pub const TPM_ALG_ECDSA: u16 = 0x0018;
/// Highest PCR index accepted (a PC-client TPM has PCRs 0 to 23).
pub const MAX_PCR: u8 = 31;

/// A quote as it travels: the signed `TPMS_ATTEST` bytes, the `TPMT_SIGNATURE` bytes, and the
/// PCR values (SHA-256 bank) the quote is claimed to cover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TpmQuote {
    /// `TPMS_ATTEST` exactly as the TPM returned it (what the AK signed).
    #[serde(with = "hex_vec")]
    pub attest: Vec<u8>,
    /// `TPMT_SIGNATURE` exactly as the TPM returned it.
    #[serde(with = "hex_vec")]
    pub signature: Vec<u8>,
    /// Claimed SHA-256 PCR values by PCR index.
    pub pcrs: BTreeMap<u8, PcrValue>,
}

/// A SHA-256 PCR value (32 bytes, hex in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PcrValue(pub [u8; 32]);

impl Serialize for PcrValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for PcrValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let v = hex::decode(&s).map_err(serde::de::Error::custom)?;
        v.try_into().map(PcrValue).map_err(|_| {
            serde::de::Error::custom("a SHA-256 PCR value is 32 bytes (64 hex digits)")
        })
    }
}

mod hex_vec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

/// `TPMS_CLOCK_INFO` of a quote: lets a verifier see reboots (`reset_count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockInfo {
    /// Milliseconds the TPM has been powered (advances monotonically).
    pub clock: u64,
    /// TPM resets (reboots) since the owner was set.
    pub reset_count: u32,
    /// TPM restarts (resume from hibernation) since the last reset.
    pub restart_count: u32,
    /// Whether `clock` is known not to have gone back.
    pub safe: bool,
}

/// What a `TPMS_ATTEST` of type quote says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteInfo {
    /// `qualifiedSigner`: the TPM name of the signing key's hierarchy path.
    pub qualified_signer: Vec<u8>,
    /// `extraData`: the qualifying data given to `TPM2_Quote`.
    pub extra_data: Vec<u8>,
    /// `clockInfo`.
    pub clock: ClockInfo,
    /// `firmwareVersion` (vendor specific).
    pub firmware_version: u64,
    /// `pcrSelect`: (hash algorithm, selected PCR indices ascending) per bank, in order.
    pub pcr_select: Vec<(u16, Vec<u8>)>,
    /// `pcrDigest`.
    pub pcr_digest: Vec<u8>,
}

/// A quote whose bytes were read (not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedQuote {
    /// The signed bytes as received.
    pub attest: Vec<u8>,
    /// Their content.
    pub info: QuoteInfo,
    /// The ECDSA signature as fixed `r || s` (64 bytes).
    pub signature_rs: [u8; 64],
    /// Hash algorithm named in the signature.
    pub signature_hash: u16,
}

/// A quote that passed every check of [`ParsedQuote::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedQuote {
    /// PCR values now proven to be what the TPM held when it signed.
    pub pcrs: BTreeMap<u8, PcrValue>,
    /// The TPM clock at the quote.
    pub clock: ClockInfo,
    /// The TPM firmware version.
    pub firmware_version: u64,
}

struct Reader<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8]> {
        if self.rest.len() < n {
            return Err(Error::MalformedQuote(format!(
                "{} is truncated: {field} needs {n} more bytes, {} left",
                self.what,
                self.rest.len()
            )));
        }
        let (h, t) = self.rest.split_at(n);
        self.rest = t;
        Ok(h)
    }
    fn u8(&mut self, field: &str) -> Result<u8> {
        Ok(self.take(1, field)?[0])
    }
    fn u16(&mut self, field: &str) -> Result<u16> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, field: &str) -> Result<u32> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, field: &str) -> Result<u64> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    /// A `TPM2B_*`: 16-bit size then that many bytes (at most `max`).
    fn tpm2b(&mut self, field: &str, max: usize) -> Result<&'a [u8]> {
        let n = self.u16(field)? as usize;
        if n > max {
            return Err(Error::MalformedQuote(format!(
                "{}: {field} claims {n} bytes, at most {max} allowed",
                self.what
            )));
        }
        self.take(n, field)
    }
    fn finish(&self) -> Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Error::MalformedQuote(format!(
                "{} has {} unexpected trailing bytes",
                self.what,
                self.rest.len()
            )))
        }
    }
}

/// Reads a `TPMS_ATTEST` of type quote.
pub fn parse_attest(bytes: &[u8]) -> Result<QuoteInfo> {
    let mut r = Reader {
        rest: bytes,
        what: "TPMS_ATTEST",
    };
    let magic = r.u32("magic")?;
    if magic != TPM_GENERATED_VALUE {
        return Err(Error::MalformedQuote(format!(
            "TPMS_ATTEST magic is {magic:#010x}, not TPM_GENERATED_VALUE (0xff544347): not made by a TPM"
        )));
    }
    let kind = r.u16("type")?;
    if kind != TPM_ST_ATTEST_QUOTE {
        return Err(Error::MalformedQuote(format!(
            "TPMS_ATTEST type is {kind:#06x}, not a quote (TPM_ST_ATTEST_QUOTE 0x8018)"
        )));
    }
    let qualified_signer = r.tpm2b("qualifiedSigner", 2 + 64)?.to_vec();
    let extra_data = r.tpm2b("extraData", 64)?.to_vec();
    let clock = ClockInfo {
        clock: r.u64("clockInfo.clock")?,
        reset_count: r.u32("clockInfo.resetCount")?,
        restart_count: r.u32("clockInfo.restartCount")?,
        safe: match r.u8("clockInfo.safe")? {
            0 => false,
            1 => true,
            v => {
                return Err(Error::MalformedQuote(format!(
                    "TPMS_ATTEST clockInfo.safe is {v}, not 0 or 1"
                )));
            }
        },
    };
    let firmware_version = r.u64("firmwareVersion")?;
    let count = r.u32("pcrSelect.count")?;
    if count > 16 {
        return Err(Error::MalformedQuote(format!(
            "TPMS_ATTEST selects {count} PCR banks, at most 16 allowed"
        )));
    }
    let mut pcr_select = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let hash = r.u16("pcrSelect.hash")?;
        let size = r.u8("pcrSelect.sizeofSelect")?;
        if !(1..=4).contains(&size) {
            return Err(Error::MalformedQuote(format!(
                "TPMS_ATTEST pcrSelect.sizeofSelect is {size}, expected 1 to 4"
            )));
        }
        let bitmap = r.take(size as usize, "pcrSelect.pcrSelect")?;
        let mut indices = Vec::new();
        for (byte, bits) in bitmap.iter().enumerate() {
            for bit in 0..8 {
                if bits & (1 << bit) != 0 {
                    indices.push((byte * 8 + bit) as u8);
                }
            }
        }
        pcr_select.push((hash, indices));
    }
    let pcr_digest = r.tpm2b("pcrDigest", 64)?.to_vec();
    r.finish()?;
    Ok(QuoteInfo {
        qualified_signer,
        extra_data,
        clock,
        firmware_version,
        pcr_select,
        pcr_digest,
    })
}

/// Reads an ECDSA `TPMT_SIGNATURE`: returns (hash algorithm, fixed `r || s`).
pub fn parse_signature(bytes: &[u8]) -> Result<(u16, [u8; 64])> {
    let mut r = Reader {
        rest: bytes,
        what: "TPMT_SIGNATURE",
    };
    let alg = r.u16("sigAlg")?;
    if alg != TPM_ALG_ECDSA {
        return Err(Error::MalformedQuote(format!(
            "TPMT_SIGNATURE algorithm is {alg:#06x}, only ECDSA (0x0018) is accepted"
        )));
    }
    let hash = r.u16("hash")?;
    let mut rs = [0u8; 64];
    for (i, field) in ["signatureR", "signatureS"].into_iter().enumerate() {
        let mut v = r.tpm2b(field, 33)?;
        while v.len() > 32 && v[0] == 0 {
            v = &v[1..];
        }
        if v.is_empty() || v.len() > 32 {
            return Err(Error::MalformedQuote(format!(
                "TPMT_SIGNATURE {field} has {} bytes; a P-256 value has 1 to 32",
                v.len()
            )));
        }
        rs[i * 32 + 32 - v.len()..(i + 1) * 32].copy_from_slice(v);
    }
    r.finish()?;
    Ok((hash, rs))
}

/// `PCR_new = SHA-256(PCR_old || digest)`: what `TPM2_PCR_Extend` does in the SHA-256 bank.
pub fn extend(pcr: &PcrValue, digest: &[u8; 32]) -> PcrValue {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(&pcr.0);
    ctx.update(digest);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    PcrValue(out)
}

/// The value of a PCR reset to zeros and then extended with each of `digests` in order.
pub fn replay<'a>(digests: impl IntoIterator<Item = &'a [u8; 32]>) -> PcrValue {
    digests
        .into_iter()
        .fold(PcrValue([0u8; 32]), |pcr, d| extend(&pcr, d))
}

/// SHA-256 of PCR values concatenated in ascending index order: a quote's `pcrDigest` for them.
pub fn pcr_digest(pcrs: &BTreeMap<u8, PcrValue>) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for v in pcrs.values() {
        ctx.update(&v.0);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

impl ParsedQuote {
    /// Reads a quote's `TPMS_ATTEST` and `TPMT_SIGNATURE`. Errors are
    /// [`Error::MalformedQuote`] saying which field is wrong or truncated.
    pub fn parse(quote: &TpmQuote) -> Result<Self> {
        let info = parse_attest(&quote.attest)?;
        let (signature_hash, signature_rs) = parse_signature(&quote.signature)?;
        Ok(ParsedQuote {
            attest: quote.attest.clone(),
            info,
            signature_rs,
            signature_hash,
        })
    }

    /// Whether `ak` (ECDSA P-256) signed the attest bytes.
    pub fn signature_valid(&self, ak: &PublicKey) -> bool {
        ak.algorithm == Algorithm::EcdsaP256
            && self.signature_hash == TPM_ALG_SHA256
            && ak.verify(&self.attest, &self.signature_rs).is_ok()
    }

    /// Whether the quote selects exactly the PCRs in `pcrs` (one SHA-256 bank).
    pub fn selects_exactly(&self, pcrs: &BTreeMap<u8, PcrValue>) -> bool {
        let claimed: Vec<u8> = pcrs.keys().copied().collect();
        matches!(self.info.pcr_select.as_slice(), [(TPM_ALG_SHA256, sel)] if *sel == claimed)
    }

    /// Whether `pcrDigest` is the digest of the values in `pcrs`.
    pub fn digest_matches(&self, pcrs: &BTreeMap<u8, PcrValue>) -> bool {
        self.info.pcr_digest == pcr_digest(pcrs)
    }

    /// Every check: AK signature, qualifying data, PCR selection and digest. The first failure is
    /// an [`Error::QuoteMismatch`] that says what does not match.
    pub fn verify(
        &self,
        ak: &PublicKey,
        qualifying_data: &[u8],
        pcrs: &BTreeMap<u8, PcrValue>,
    ) -> Result<VerifiedQuote> {
        if !self.signature_valid(ak) {
            return Err(Error::QuoteMismatch(
                "the quote is not signed by the attestation key".into(),
            ));
        }
        if self.info.extra_data != qualifying_data {
            return Err(Error::QuoteMismatch(
                "the quote answers another challenge (extraData is not the expected nonce hash)"
                    .into(),
            ));
        }
        if !self.selects_exactly(pcrs) {
            return Err(Error::QuoteMismatch(format!(
                "the quote covers PCRs {:?}, the claimed values are for SHA-256 PCRs {:?}",
                self.info.pcr_select,
                pcrs.keys().collect::<Vec<_>>()
            )));
        }
        if !self.digest_matches(pcrs) {
            return Err(Error::QuoteMismatch(
                "the claimed PCR values are not the ones the TPM quoted (pcrDigest differs)".into(),
            ));
        }
        Ok(VerifiedQuote {
            pcrs: pcrs.clone(),
            clock: self.info.clock,
            firmware_version: self.info.firmware_version,
        })
    }
}

impl TpmQuote {
    /// Parses and checks the quote in one call (see [`ParsedQuote::verify`]).
    pub fn verify(&self, ak: &PublicKey, qualifying_data: &[u8]) -> Result<VerifiedQuote> {
        ParsedQuote::parse(self)?.verify(ak, qualifying_data, &self.pcrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attest_bytes(extra: &[u8], select: &[u8], digest: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&TPM_GENERATED_VALUE.to_be_bytes());
        v.extend_from_slice(&TPM_ST_ATTEST_QUOTE.to_be_bytes());
        v.extend_from_slice(&[0, 2, 0xaa, 0xbb]); // qualifiedSigner
        v.extend_from_slice(&(extra.len() as u16).to_be_bytes());
        v.extend_from_slice(extra);
        v.extend_from_slice(&7u64.to_be_bytes());
        v.extend_from_slice(&1u32.to_be_bytes());
        v.extend_from_slice(&0u32.to_be_bytes());
        v.push(1);
        v.extend_from_slice(&42u64.to_be_bytes());
        v.extend_from_slice(&1u32.to_be_bytes());
        v.extend_from_slice(&TPM_ALG_SHA256.to_be_bytes());
        v.push(select.len() as u8);
        v.extend_from_slice(select);
        v.extend_from_slice(&(digest.len() as u16).to_be_bytes());
        v.extend_from_slice(digest);
        v
    }

    #[test]
    fn parses_a_well_formed_quote_and_reads_the_selection() {
        let info = parse_attest(&attest_bytes(b"nonce", &[0, 0, 0x80], &[9; 32])).expect("parse");
        assert_eq!(info.extra_data, b"nonce");
        assert_eq!(info.pcr_select, vec![(TPM_ALG_SHA256, vec![23])]);
        assert_eq!(info.clock.clock, 7);
        assert!(info.clock.safe);
        assert_eq!(info.firmware_version, 42);
    }

    #[test]
    fn every_truncation_is_a_clear_error() {
        let full = attest_bytes(b"nonce", &[1, 0, 0], &[9; 32]);
        for n in 0..full.len() {
            match parse_attest(&full[..n]) {
                Err(Error::MalformedQuote(m)) => assert!(m.contains("truncated"), "{n}: {m}"),
                other => panic!("prefix {n}: {other:?}"),
            }
        }
        let mut long = full.clone();
        long.push(0);
        assert!(
            matches!(parse_attest(&long), Err(Error::MalformedQuote(m)) if m.contains("trailing"))
        );
    }

    #[test]
    fn rejects_wrong_magic_and_type() {
        let mut a = attest_bytes(b"n", &[1, 0, 0], &[9; 32]);
        a[0] = 0;
        assert!(matches!(parse_attest(&a), Err(Error::MalformedQuote(m)) if m.contains("magic")));
        let mut b = attest_bytes(b"n", &[1, 0, 0], &[9; 32]);
        b[5] = 0x17; // TPM_ST_ATTEST_CERTIFY
        assert!(
            matches!(parse_attest(&b), Err(Error::MalformedQuote(m)) if m.contains("not a quote"))
        );
    }

    #[test]
    fn signature_parsing_pads_short_values_and_rejects_other_algorithms() {
        let mut s = Vec::new();
        s.extend_from_slice(&TPM_ALG_ECDSA.to_be_bytes());
        s.extend_from_slice(&TPM_ALG_SHA256.to_be_bytes());
        s.extend_from_slice(&[0, 31]);
        s.extend_from_slice(&[1; 31]);
        s.extend_from_slice(&[0, 32]);
        s.extend_from_slice(&[2; 32]);
        let (hash, rs) = parse_signature(&s).expect("parse");
        assert_eq!(hash, TPM_ALG_SHA256);
        assert_eq!(rs[0], 0);
        assert_eq!(&rs[1..32], &[1; 31]);
        assert_eq!(&rs[32..], &[2; 32]);
        for n in 0..s.len() {
            assert!(parse_signature(&s[..n]).is_err(), "prefix {n}");
        }
        let mut rsa = s.clone();
        rsa[1] = 0x14; // TPM_ALG_RSASSA
        assert!(parse_signature(&rsa).is_err());
    }

    #[test]
    fn replay_matches_extend_by_hand() {
        let m1 = [1u8; 32];
        let m2 = [2u8; 32];
        let by_hand = extend(&extend(&PcrValue([0; 32]), &m1), &m2);
        assert_eq!(replay([&m1, &m2]), by_hand);
        assert_ne!(replay([&m2, &m1]), by_hand, "order matters");
    }
}
