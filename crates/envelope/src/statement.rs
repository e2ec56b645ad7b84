//! in-toto Statement v1 inside a DSSE envelope.
//!
//! A statement says "these subjects (artifacts named by digest) have this predicate". Shinrai
//! requires a SHA-256 digest on every subject so the trust store can index it.

use std::collections::BTreeMap;

use aws_lc_rs::digest;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dsse::{Envelope, MAX_ENVELOPE_BYTES};
use crate::keys::SslibKey;
use crate::{Error, Result, Signer, Verified};

/// DSSE `payloadType` of in-toto statements.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// A predicate type with a Rust representation, so statements can be built and read typed.
pub trait Predicate: Serialize + DeserializeOwned {
    /// The predicate's `predicateType` URI.
    const PREDICATE_TYPE: &'static str;
}

/// One subject of a statement: an artifact named by its digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The artifact's name (file name, EPCIS event id, ...); may be empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Digests by algorithm name, lowercase hex; `sha256` is required.
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    /// A subject named `name` whose SHA-256 is `sha256_hex` (64 lowercase hex digits).
    pub fn new(name: &str, sha256_hex: &str) -> Result<Self> {
        let s = Subject {
            name: name.to_owned(),
            digest: BTreeMap::from([("sha256".to_owned(), sha256_hex.to_owned())]),
        };
        s.validate(0)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        Ok(s)
    }

    /// A subject named `name` for the artifact `content` (its SHA-256 is computed here).
    pub fn for_content(name: &str, content: &[u8]) -> Self {
        let d = hex::encode(digest::digest(&digest::SHA256, content));
        Subject {
            name: name.to_owned(),
            digest: BTreeMap::from([("sha256".to_owned(), d)]),
        }
    }

    /// The subject's SHA-256 digest in lowercase hex.
    pub fn sha256(&self) -> Option<&str> {
        self.digest.get("sha256").map(String::as_str)
    }

    fn validate(&self, index: usize) -> Result<()> {
        let ok = self.sha256().is_some_and(|d| {
            d.len() == 64
                && d.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidStatement(format!(
                "subject {index} ({:?}) needs a sha256 digest of 64 lowercase hex digits",
                self.name
            )))
        }
    }
}

/// An in-toto Statement v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// What the statement is about; at least one, each with a SHA-256 digest.
    pub subject: Vec<Subject>,
    /// URI naming the predicate's schema.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate (a JSON object), or `null` when absent.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub predicate: Value,
}

impl Statement {
    /// A statement about `subjects` with an untyped predicate (a JSON object or `null`).
    pub fn new(subjects: Vec<Subject>, predicate_type: &str, predicate: Value) -> Result<Self> {
        let s = Statement {
            statement_type: STATEMENT_TYPE.to_owned(),
            subject: subjects,
            predicate_type: predicate_type.to_owned(),
            predicate,
        };
        s.validate()
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        Ok(s)
    }

    /// A statement about `subjects` with the typed predicate `predicate`.
    pub fn with_predicate<P: Predicate>(subjects: Vec<Subject>, predicate: &P) -> Result<Self> {
        let value = serde_json::to_value(predicate)
            .map_err(|e| Error::InvalidArgument(format!("predicate does not serialize: {e}")))?;
        Self::new(subjects, P::PREDICATE_TYPE, value)
    }

    /// The predicate as `P`, after checking the predicate type.
    pub fn predicate_as<P: Predicate>(&self) -> Result<P> {
        if self.predicate_type != P::PREDICATE_TYPE {
            return Err(Error::WrongPredicateType {
                expected: P::PREDICATE_TYPE.to_owned(),
                found: self.predicate_type.clone(),
            });
        }
        serde_json::from_value(self.predicate.clone()).map_err(|e| {
            Error::InvalidStatement(format!(
                "predicate is not a valid {}: {e}",
                P::PREDICATE_TYPE
            ))
        })
    }

    /// Reads and checks a statement from JSON bytes (the payload of a verified envelope).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let s: Statement =
            serde_json::from_slice(bytes).map_err(|e| Error::InvalidStatement(json_reason(&e)))?;
        s.validate()?;
        Ok(s)
    }

    /// The statement as compact JSON, the payload to sign.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::Internal(format!("statement to JSON: {e}")))
    }

    /// Checks `_type`, subjects and their digests, predicate type and predicate shape.
    pub fn validate(&self) -> Result<()> {
        if self.statement_type != STATEMENT_TYPE {
            return Err(Error::InvalidStatement(format!(
                "_type is {:?}; expected {STATEMENT_TYPE:?}",
                self.statement_type
            )));
        }
        if self.subject.is_empty() {
            return Err(Error::InvalidStatement("no subjects".into()));
        }
        for (i, s) in self.subject.iter().enumerate() {
            s.validate(i)?;
        }
        if self.predicate_type.is_empty() {
            return Err(Error::InvalidStatement("empty predicateType".into()));
        }
        if !(self.predicate.is_object() || self.predicate.is_null()) {
            return Err(Error::InvalidStatement(
                "predicate is not a JSON object".into(),
            ));
        }
        Ok(())
    }
}

fn json_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => format!("truncated JSON ({e})"),
        Category::Syntax => format!("not valid JSON ({e})"),
        _ => format!("missing or wrong-typed field ({e})"),
    }
}

/// Signs `statement` into a DSSE envelope with payload type [`PAYLOAD_TYPE`].
pub fn sign_statement(statement: &Statement, signers: &[&dyn Signer]) -> Result<Envelope> {
    statement
        .validate()
        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
    Envelope::sign(PAYLOAD_TYPE, &statement.to_json_bytes()?, signers)
}

/// Reads a DSSE envelope (at most [`MAX_ENVELOPE_BYTES`]), checks its payload type is
/// [`PAYLOAD_TYPE`], verifies that `threshold` distinct `trusted` keys signed it, and only then
/// parses the statement from the verified payload bytes.
pub fn verify_statement(
    envelope_bytes: &[u8],
    trusted: &[SslibKey],
    threshold: usize,
) -> Result<Verified<Statement>> {
    let envelope = Envelope::parse_with_limit(envelope_bytes, MAX_ENVELOPE_BYTES)?;
    verify_statement_envelope(&envelope, trusted, threshold)
}

/// [`verify_statement`] for an envelope already parsed.
pub fn verify_statement_envelope(
    envelope: &Envelope,
    trusted: &[SslibKey],
    threshold: usize,
) -> Result<Verified<Statement>> {
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(Error::WrongPayloadType {
            expected: PAYLOAD_TYPE.to_owned(),
            found: envelope.payload_type.clone(),
        });
    }
    let verified = envelope.verify(trusted, threshold)?;
    let statement = Statement::parse(verified.payload_bytes())?;
    Ok(verified.with_value(statement))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestSigner;
    use shinrai_scu::Algorithm;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Torque {
        newton_metres_milli: i64,
    }
    impl Predicate for Torque {
        const PREDICATE_TYPE: &'static str = "https://shinrai.example/torque/v1";
    }

    fn signed(s: &TestSigner) -> Vec<u8> {
        let st = Statement::with_predicate(
            vec![Subject::for_content("bolt-7", b"event")],
            &Torque {
                newton_metres_milli: 22_500,
            },
        )
        .expect("statement");
        sign_statement(&st, &[s]).expect("sign").to_json_bytes()
    }

    #[test]
    fn verified_statement_exposes_typed_predicate_signers_and_payload() {
        let s = TestSigner::new(Algorithm::EcdsaP256);
        let key = s.sslib_key().expect("key");
        let v = verify_statement(&signed(&s), std::slice::from_ref(&key), 1).expect("verifies");
        assert_eq!(
            v.value()
                .predicate_as::<Torque>()
                .expect("typed")
                .newton_metres_milli,
            22_500
        );
        assert_eq!(v.signers(), &[key]);
        assert_eq!(
            Statement::parse(v.payload_bytes()).expect("parse"),
            *v.value()
        );
    }

    #[test]
    fn rejects_wrong_payload_type() {
        let s = TestSigner::new(Algorithm::Ed25519);
        let env = Envelope::sign("application/json", b"{}", &[&s]).expect("sign");
        let err = verify_statement(&env.to_json_bytes(), &[s.sslib_key().expect("key")], 1)
            .expect_err("wrong type");
        assert!(matches!(err, Error::WrongPayloadType { .. }), "{err}");
    }

    #[test]
    fn rejects_wrong_statement_type_and_subjects_without_sha256() {
        let s = TestSigner::new(Algorithm::Ed25519);
        let key = s.sslib_key().expect("key");
        let bad = [
            (
                r#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"name":"a","digest":{"sha256":"00"}}],"predicateType":"p"}"#,
                "_type",
            ),
            (
                r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha512":"00"}}],"predicateType":"p"}"#,
                "sha256",
            ),
            (
                r#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"p"}"#,
                "no subjects",
            ),
            (
                r#"{"_type":"https://in-toto.io/Statement/v1","subject":"x","predicateType":"p"}"#,
                "wrong-typed",
            ),
            (
                r#"{"_type":"https://in-toto.io/Statement/v1","subj"#,
                "truncated",
            ),
        ];
        for (payload, needle) in bad {
            let env = Envelope::sign(PAYLOAD_TYPE, payload.as_bytes(), &[&s]).expect("sign");
            let err = verify_statement(&env.to_json_bytes(), std::slice::from_ref(&key), 1)
                .expect_err(needle);
            assert!(matches!(err, Error::InvalidStatement(_)), "{err}");
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
        }
    }

    #[test]
    fn rejects_wrong_predicate_type_when_reading_typed() {
        let st = Statement::new(
            vec![Subject::for_content("a", b"a")],
            "https://other/v1",
            serde_json::json!({}),
        )
        .expect("statement");
        assert!(matches!(
            st.predicate_as::<Torque>(),
            Err(Error::WrongPredicateType { .. })
        ));
    }

    #[test]
    fn rejects_tampered_statement_payload() {
        let s = TestSigner::new(Algorithm::Ed25519);
        let mut env = Envelope::parse(&signed(&s)).expect("parse");
        let text = String::from_utf8(env.payload.clone()).expect("utf8");
        env.payload = text.replace("22500", "25000").into_bytes();
        let err = verify_statement(&env.to_json_bytes(), &[s.sslib_key().expect("key")], 1)
            .expect_err("tampered");
        assert!(matches!(err, Error::BadSignature { .. }), "{err}");
    }
}
