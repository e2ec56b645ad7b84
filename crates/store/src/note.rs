//! C2SP `tlog-checkpoint`s in C2SP `signed-note`s: formatting, signing and verification are
//! `shinrai-tlog`'s; this module keeps the store's small API over them (a log verifier key with
//! its raw Ed25519 key visible, verification returning the signed text).

pub use shinrai_tlog::{Checkpoint, KeyAlg, NoteSigner};

use crate::{Error, Result};

/// The note key hash of an Ed25519 log key called `name`.
pub fn key_hash(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    shinrai_tlog::key_hash(name, KeyAlg::Ed25519, public_key)
}

/// The C2SP verifier key string `<name>+<hex hash>+<base64(0x01 || key)>`; fails if `name` is
/// not a valid key name (empty, whitespace or `+`).
pub fn verifier_key(name: &str, public_key: &[u8; 32]) -> Result<String> {
    Ok(shinrai_tlog::NoteVerifier::new(name, KeyAlg::Ed25519, *public_key)?.to_string())
}

/// A log's note verifier key (Ed25519), parsed from a verifier key string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    /// Key name.
    pub name: String,
    /// Raw Ed25519 public key.
    pub public_key: [u8; 32],
}

impl NoteVerifier {
    /// Parses `<name>+<hex hash>+<base64(0x01 || key)>` (surrounding whitespace ignored),
    /// checking the hash; only Ed25519 note keys (type 0x01) are log keys.
    pub fn parse(vkey: &str) -> Result<Self> {
        let bad = |why: String| Error::InvalidRequest(format!("bad note verifier key: {why}"));
        let v = shinrai_tlog::NoteVerifier::parse(vkey.trim()).map_err(|e| bad(e.to_string()))?;
        if v.alg() != KeyAlg::Ed25519 {
            return Err(bad("only Ed25519 (type 0x01) keys sign checkpoints".into()));
        }
        Ok(NoteVerifier {
            name: v.name().to_owned(),
            public_key: *v.public_key(),
        })
    }

    /// The same key as a `shinrai-tlog` verifier.
    pub fn to_tlog(&self) -> Result<shinrai_tlog::NoteVerifier> {
        Ok(shinrai_tlog::NoteVerifier::new(
            self.name.clone(),
            KeyAlg::Ed25519,
            self.public_key,
        )?)
    }

    /// Verifies a signed note and returns its text (the part that was signed).
    pub fn verify<'n>(&self, note: &'n str) -> Result<&'n str> {
        let verified = shinrai_tlog::verify_note(note.as_bytes(), &[self.to_tlog()?])
            .map_err(|e| Error::Inconsistent(format!("checkpoint signature: {e}")))?;
        // The verified text is the start of the note (up to and including the newline before
        // the blank line), so slicing the input returns it without a copy.
        let len = verified.text().len();
        match note.get(..len) {
            Some(text) if text == verified.text() => Ok(text),
            _ => Err(Error::Inconsistent(
                "checkpoint signature: note text is not a prefix of the note".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};

    struct Key(Ed25519KeyPair);
    impl Key {
        fn public(&self) -> [u8; 32] {
            self.0.public_key().as_ref().try_into().expect("32 bytes")
        }
    }
    impl NoteSigner for Key {
        fn name(&self) -> &str {
            "example.com/log"
        }
        fn key_hash(&self) -> [u8; 4] {
            key_hash("example.com/log", &self.public())
        }
        fn sign(&self, m: &[u8]) -> shinrai_tlog::Result<[u8; 64]> {
            Ok(self.0.sign(m).as_ref().try_into().expect("64 bytes"))
        }
    }

    #[test]
    fn signed_checkpoint_verifies_and_tampered_one_does_not() {
        let key = Key(Ed25519KeyPair::generate().expect("key"));
        let cp = Checkpoint::new("example.com/log", 7, [9u8; 32]);
        let note = shinrai_tlog::sign_checkpoint(&cp, &key).expect("sign");
        let vkey = verifier_key("example.com/log", &key.public()).expect("vkey");
        let v = NoteVerifier::parse(&format!("{vkey}\n")).expect("parses");
        assert_eq!(v.public_key, key.public());
        let text = v.verify(&note).expect("verifies");
        assert_eq!(Checkpoint::parse(text).expect("parse"), cp);
        let tampered = note.replace("\n7\n", "\n8\n");
        assert!(matches!(v.verify(&tampered), Err(Error::Inconsistent(_))));
    }

    #[test]
    fn rejects_verifier_key_with_wrong_hash() {
        let key = Key(Ed25519KeyPair::generate().expect("key"));
        let vkey = verifier_key("example.com/log", &key.public()).expect("vkey");
        let mut parts: Vec<&str> = vkey.splitn(3, '+').collect();
        parts[1] = "00000000";
        assert!(matches!(
            NoteVerifier::parse(&parts.join("+")),
            Err(Error::InvalidRequest(_))
        ));
    }
}
