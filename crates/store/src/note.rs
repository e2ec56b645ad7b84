//! C2SP `tlog-checkpoint` bodies in C2SP `signed-note`s with an Ed25519 note key.
//!
//! A checkpoint text is `<origin>\n<size>\n<base64 root>\n`; the note appends a blank line and
//! one signature line `— <name> <base64(key hash[4] || signature[64])>`. The key hash is the
//! first four bytes of `SHA-256(name || "\n" || 0x01 || public key)`, and the verifier key
//! string is `<name>+<hex key hash>+<base64(0x01 || public key)>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::merkle::{Hash, sha256_of};
use crate::{Error, Result};

/// Signs checkpoint notes. The store's implementation uses an SCU key with purpose `checkpoint`.
pub trait NoteSigner: Send + Sync {
    /// The key name in signature lines (by convention the log origin).
    fn name(&self) -> &str;
    /// The raw 32-byte Ed25519 public key.
    fn public_key(&self) -> [u8; 32];
    /// Signs `message` (the checkpoint text) with Ed25519.
    fn sign(&self, message: &[u8]) -> Result<[u8; 64]>;
}

/// The note key hash of an Ed25519 key called `name`.
pub fn key_hash(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut msg = Vec::with_capacity(name.len() + 34);
    msg.extend_from_slice(name.as_bytes());
    msg.push(b'\n');
    msg.push(0x01);
    msg.extend_from_slice(public_key);
    let h = sha256_of(&msg);
    [h[0], h[1], h[2], h[3]]
}

/// The C2SP verifier key string `<name>+<hex hash>+<base64(0x01 || key)>`.
pub fn verifier_key(name: &str, public_key: &[u8; 32]) -> String {
    let mut k = vec![0x01];
    k.extend_from_slice(public_key);
    format!(
        "{name}+{}+{}",
        hex::encode(key_hash(name, public_key)),
        B64.encode(k)
    )
}

/// A note verifier parsed from a verifier key string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    /// Key name.
    pub name: String,
    /// Raw Ed25519 public key.
    pub public_key: [u8; 32],
}

impl NoteVerifier {
    /// Parses `<name>+<hex hash>+<base64(0x01 || key)>`, checking the hash.
    pub fn parse(vkey: &str) -> Result<Self> {
        let bad = |why: &str| Error::InvalidRequest(format!("bad note verifier key: {why}"));
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected <name>+<hash>+<key>"));
        };
        let key = B64.decode(key).map_err(|_| bad("key is not base64"))?;
        if key.len() != 33 || key[0] != 0x01 {
            return Err(bad("only Ed25519 (type 0x01) keys are supported"));
        }
        let mut public_key = [0u8; 32];
        public_key.copy_from_slice(&key[1..]);
        if hex::encode(key_hash(name, &public_key)) != hash {
            return Err(bad("key hash does not match name and key"));
        }
        Ok(NoteVerifier {
            name: name.to_owned(),
            public_key,
        })
    }

    /// Verifies a signed note and returns its text (the part that was signed).
    pub fn verify<'n>(&self, note: &'n str) -> Result<&'n str> {
        let bad = |why: &str| Error::Inconsistent(format!("checkpoint signature: {why}"));
        let split = note
            .find("\n\n")
            .ok_or_else(|| bad("note has no signature block"))?;
        let text = &note[..split + 1];
        let want = key_hash(&self.name, &self.public_key);
        for line in note[split + 2..].lines() {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                return Err(bad("malformed signature line"));
            };
            let Some((name, sig)) = rest.split_once(' ') else {
                return Err(bad("malformed signature line"));
            };
            if name != self.name {
                continue;
            }
            let sig = B64
                .decode(sig)
                .map_err(|_| bad("signature is not base64"))?;
            if sig.len() != 68 || sig[..4] != want {
                continue;
            }
            let pk = aws_lc_rs::signature::UnparsedPublicKey::new(
                &aws_lc_rs::signature::ED25519,
                &self.public_key,
            );
            return pk
                .verify(text.as_bytes(), &sig[4..])
                .map(|()| text)
                .map_err(|_| bad("signature does not verify with the log key"));
        }
        Err(bad("no signature by the log key"))
    }
}

/// A parsed checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log origin line.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
}

impl Checkpoint {
    /// The checkpoint text (what is signed).
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a checkpoint text (extension lines after the root are ignored).
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| Error::Inconsistent(format!("malformed checkpoint: {why}"));
        let mut lines = text.lines();
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("no origin"))?;
        let size = lines
            .next()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| bad("bad size line"))?;
        let root = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .filter(|r| r.len() == 32)
            .ok_or_else(|| bad("bad root line"))?;
        let mut h = [0u8; 32];
        h.copy_from_slice(&root);
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root: h,
        })
    }

    /// Signs the checkpoint into a C2SP signed note.
    pub fn sign(&self, signer: &dyn NoteSigner) -> Result<String> {
        let text = self.text();
        let sig = signer.sign(text.as_bytes())?;
        let mut blob = key_hash(signer.name(), &signer.public_key()).to_vec();
        blob.extend_from_slice(&sig);
        Ok(format!(
            "{text}\n\u{2014} {} {}\n",
            signer.name(),
            B64.encode(blob)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Key(aws_lc_rs::signature::Ed25519KeyPair);
    impl NoteSigner for Key {
        fn name(&self) -> &str {
            "example.com/log"
        }
        fn public_key(&self) -> [u8; 32] {
            use aws_lc_rs::signature::KeyPair;
            let mut k = [0u8; 32];
            k.copy_from_slice(self.0.public_key().as_ref());
            k
        }
        fn sign(&self, m: &[u8]) -> Result<[u8; 64]> {
            let mut s = [0u8; 64];
            s.copy_from_slice(self.0.sign(m).as_ref());
            Ok(s)
        }
    }

    #[test]
    fn signed_checkpoint_verifies_and_tampered_one_does_not() {
        let key = Key(aws_lc_rs::signature::Ed25519KeyPair::generate().expect("key"));
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: 7,
            root: [9u8; 32],
        };
        let note = cp.sign(&key).expect("sign");
        let v =
            NoteVerifier::parse(&verifier_key("example.com/log", &key.public_key())).expect("vkey");
        let text = v.verify(&note).expect("verifies");
        assert_eq!(Checkpoint::parse(text).expect("parse"), cp);
        let tampered = note.replace("\n7\n", "\n8\n");
        assert!(v.verify(&tampered).is_err());
    }
}
