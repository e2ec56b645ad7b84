//! The chain walk against a log kept in memory (a real RFC 9162 tree from `shinrai-tlog` with
//! checkpoints signed by an Ed25519 note key) that can be made to misbehave: bytes tampered
//! after signing, bytes swapped by the store, receipts for another entry. The CLI tests
//! (`crates/cli/tests/chain.rs`) run the same walk against the real store over HTTP.

use std::collections::{BTreeMap, HashMap};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use shinrai_conformity::bench::EphemeralSigner;
use shinrai_conformity::chain::{
    ChainOptions, ChainSource, ChainTrust, SourceEntry, SourceError, SourceReceipt, Status,
    verify_chain,
};
use shinrai_conformity::spec::{OrderParameters, OrderSpec, SpecStep, verify_spec};
use shinrai_conformity::verify::{EvidenceInput, VerifyOptions, verify_conformity};
use shinrai_envelope::Signer;
use shinrai_envelope::statement::{Statement, Subject, sign_statement};
use shinrai_evidence::step::{Artifact, StepRecord};
use shinrai_scu::Algorithm;
use shinrai_tlog::{Checkpoint, KeyAlg, MemoryTree, NoteSigner, NoteVerifier};

const ORIGIN: &str = "test.example/log";

struct LogKey(Ed25519KeyPair);
impl NoteSigner for LogKey {
    fn name(&self) -> &str {
        ORIGIN
    }
    fn key_hash(&self) -> [u8; 4] {
        let pk: [u8; 32] = self.0.public_key().as_ref().try_into().expect("32 bytes");
        shinrai_tlog::key_hash(ORIGIN, KeyAlg::Ed25519, &pk)
    }
    fn sign(&self, msg: &[u8]) -> shinrai_tlog::Result<[u8; 64]> {
        Ok(self.0.sign(msg).as_ref().try_into().expect("64 bytes"))
    }
}

fn sha(b: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b))
}

/// An append-only log in memory, with ways to misbehave.
struct MemLog {
    entries: Vec<(Vec<u8>, String)>,
    tree: MemoryTree,
    key: LogKey,
    /// id -> other bytes served instead.
    swap: HashMap<String, Vec<u8>>,
    /// Serve every receipt for index 0.
    wrong_receipts: bool,
}

impl MemLog {
    fn new() -> Self {
        MemLog {
            entries: Vec::new(),
            tree: MemoryTree::new(),
            key: LogKey(Ed25519KeyPair::generate().expect("key")),
            swap: HashMap::new(),
            wrong_receipts: false,
        }
    }
    fn append(&mut self, bytes: Vec<u8>, issuer: &str) -> String {
        self.tree.append_entry(&bytes);
        let id = sha(&bytes);
        self.entries.push((bytes, issuer.to_owned()));
        id
    }
    fn log_key(&self) -> String {
        let pk: [u8; 32] = self.key.0.public_key().as_ref().try_into().expect("32");
        NoteVerifier::new(ORIGIN, KeyAlg::Ed25519, pk)
            .expect("verifier")
            .to_string()
    }
    fn served(&self, i: usize) -> SourceEntry {
        let (bytes, issuer) = &self.entries[i];
        let id = sha(bytes);
        SourceEntry {
            index: i as u64,
            bytes: self.swap.get(&id).cloned().unwrap_or_else(|| bytes.clone()),
            id,
            issuer_org: issuer.clone(),
        }
    }
    fn vsas(&self, pred: impl Fn(&Subject) -> bool) -> Vec<SourceEntry> {
        (0..self.entries.len())
            .filter(|&i| {
                let env = shinrai_envelope::dsse::Envelope::parse(&self.entries[i].0).expect("env");
                let st = Statement::parse(&env.payload).expect("statement");
                st.predicate_type == shinrai_conformity::vsa::VSA_PREDICATE_TYPE
                    && st.subject.iter().any(&pred)
            })
            .map(|i| self.served(i))
            .collect()
    }
}

impl ChainSource for MemLog {
    fn vsas_for_digest(&self, d: &str, _: usize) -> Result<Vec<SourceEntry>, SourceError> {
        let hex = d.trim_start_matches("sha256:").to_owned();
        Ok(self.vsas(|s| s.sha256() == Some(hex.as_str())))
    }
    fn vsas_for_name(&self, name: &str, _: usize) -> Result<Vec<SourceEntry>, SourceError> {
        Ok(self.vsas(|s| s.name == name))
    }
    fn entry(&self, id: &str) -> Result<Option<SourceEntry>, SourceError> {
        Ok((0..self.entries.len())
            .find(|&i| sha(&self.entries[i].0) == id)
            .map(|i| self.served(i)))
    }
    fn receipt(&self, e: &SourceEntry) -> Result<Option<SourceReceipt>, SourceError> {
        let size = self.tree.size();
        let index = if self.wrong_receipts { 0 } else { e.index };
        let proof = shinrai_tlog::inclusion_proof(&self.tree, index, size)
            .map_err(|x| SourceError(x.to_string()))?;
        let cp = Checkpoint::new(ORIGIN, size, self.tree.root());
        let note = shinrai_tlog::sign_checkpoint(&cp, &self.key)
            .map_err(|x| SourceError(x.to_string()))?;
        Ok(Some(SourceReceipt {
            log_index: e.index,
            tree_size: size,
            inclusion_proof: proof
                .iter()
                .map(|h| base64::engine::general_purpose::STANDARD.encode(h))
                .collect(),
            checkpoint: note,
        }))
    }
}

struct World {
    log: MemLog,
    trust: ChainTrust,
    part: Artifact,
    customer: EphemeralSigner,
    maker: EphemeralSigner,
    part_record_id: String,
}

fn tier(
    log: &mut MemLog,
    product: &Artifact,
    materials: Vec<Artifact>,
    (customer, cname): (&EphemeralSigner, &str),
    (maker, mname): (&EphemeralSigner, &str),
    spec_bytes_override: Option<Vec<u8>>,
) -> String {
    let mut spec = OrderSpec {
        name: format!("order for {}", product.name),
        expires: "2099-01-01T00:00:00Z".into(),
        parameters: OrderParameters {
            po_number: format!("PO-{}", product.name),
            lot: product.name.clone(),
            ..Default::default()
        },
        keys: Default::default(),
        steps: Vec::new(),
        rules: Vec::new(),
    };
    let fid = spec.add_key(&maker.key().expect("key"));
    spec.steps = vec![SpecStep::new("make", vec![fid])];
    let spec_env = spec
        .sign(&[customer as &dyn Signer])
        .expect("spec")
        .to_json_bytes();
    log.append(spec_env.clone(), cname);
    let rec = StepRecord::new("make", materials, vec![product.clone()]);
    let rec_env = sign_statement(&rec.to_statement().expect("st"), &[maker as &dyn Signer])
        .expect("rec")
        .to_json_bytes();
    let rec_id = log.append(rec_env.clone(), mname);
    let vspec = verify_spec(&spec_env, &[customer.key().expect("key")], 1).expect("spec");
    let report = verify_conformity(
        &vspec,
        &[EvidenceInput {
            uri: "urn:rec",
            envelope: &rec_env,
        }],
        &VerifyOptions {
            verifier_id: "urn:v".into(),
            now_unix: 1_780_000_000,
            resource_uri: product.name.clone(),
            policy_uri: None,
            dependency_levels: Default::default(),
        },
    )
    .expect("conformity");
    assert!(report.passed(), "{:?}", report.failures());
    let mut vsa = report.vsa().clone();
    if let Some(other) = spec_bytes_override {
        vsa.policy.digest.insert("sha256".into(), sha(&other));
        log.append(other, mname);
    }
    let vsa_env = sign_statement(
        &Statement::with_predicate(
            vec![Subject::new(&product.name, &product.sha256).expect("s")],
            &vsa,
        )
        .expect("st"),
        &[customer as &dyn Signer],
    )
    .expect("vsa")
    .to_json_bytes();
    log.append(vsa_env, cname);
    rec_id
}

fn world(tamper_steel_spec: bool) -> World {
    let customer = EphemeralSigner::generate(Algorithm::Ed25519).expect("k");
    let maker = EphemeralSigner::generate(Algorithm::Ed25519).expect("k");
    let supplier = EphemeralSigner::generate(Algorithm::Ed25519).expect("k");
    let mut log = MemLog::new();
    let steel = Artifact::for_content("steel-1", b"steel");
    let part = Artifact::for_content("part-1", b"part");
    let tampered = tamper_steel_spec.then(|| {
        // The maker's signed spec with its payload edited after signing (signature kept).
        let mut spec = OrderSpec {
            name: "order for steel-1".into(),
            expires: "2099-01-01T00:00:00Z".into(),
            parameters: OrderParameters {
                po_number: "PO-steel-1".into(),
                lot: "steel-1".into(),
                ..Default::default()
            },
            keys: Default::default(),
            steps: Vec::new(),
            rules: Vec::new(),
        };
        let fid = spec.add_key(&supplier.key().expect("k"));
        spec.steps = vec![SpecStep::new("make", vec![fid])];
        let mut env = spec.sign(&[&maker as &dyn Signer]).expect("sign");
        env.payload = String::from_utf8(env.payload)
            .expect("utf8")
            .replace("2099", "2098")
            .into_bytes();
        env.to_json_bytes()
    });
    tier(
        &mut log,
        &steel,
        vec![],
        (&maker, "maker"),
        (&supplier, "supplier"),
        tampered,
    );
    let part_record_id = tier(
        &mut log,
        &part,
        vec![steel],
        (&customer, "customer"),
        (&maker, "maker"),
        None,
    );
    let log_key = log.log_key();
    let organisations: BTreeMap<String, Vec<_>> = [
        ("customer", &customer),
        ("maker", &maker),
        ("supplier", &supplier),
    ]
    .into_iter()
    .map(|(n, k)| (n.to_owned(), vec![k.key().expect("key")]))
    .collect();
    World {
        log,
        trust: ChainTrust {
            log_key,
            organisations,
        },
        part,
        customer,
        maker,
        part_record_id,
    }
}

fn opts() -> ChainOptions {
    ChainOptions {
        max_depth: 8,
        now_unix: 1_780_000_000,
    }
}

#[test]
fn a_two_tier_chain_passes_with_every_check_recorded() {
    let w = world(false);
    let r = verify_chain(&w.log, &w.trust, "part-1", &opts());
    assert!(r.passed(), "{r:#?}");
    assert_eq!(r.summary.products, 2);
    let root = &r.roots[0];
    assert_eq!(root.inputs[0].name, "steel-1");
    assert_eq!(
        root.inputs[0].vsa.as_ref().expect("vsa").ordering_party,
        "maker"
    );
    assert!(root.checks.iter().all(|c| c.ok));
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["roots"][0]["inputs"][0]["status"], "passed");
    let _ = (&w.customer, &w.maker, &w.part);
}

#[test]
fn a_spec_tampered_after_signing_fails_its_tier_even_when_the_store_holds_it() {
    let w = world(true);
    let r = verify_chain(&w.log, &w.trust, "part-1", &opts());
    assert_eq!(r.overall, Status::Failed);
    let steel = &r.roots[0].inputs[0];
    assert_eq!(steel.status, Status::Failed);
    assert!(
        steel
            .reasons
            .iter()
            .any(|x| x.contains("tampered after signing")),
        "{:?}",
        steel.reasons
    );
}

#[test]
fn bytes_swapped_by_the_store_fail_the_signature_or_the_digest() {
    let mut w = world(false);
    // The part's VSA served with one byte changed.
    let vsa = w.log.vsas_for_name("part-1", 4).expect("vsas").remove(0);
    let mut other = vsa.bytes.clone();
    let at = other.len() / 2;
    other[at] ^= 1;
    w.log.swap.insert(vsa.id.clone(), other);
    // By name nothing readable names the part any more: not evaluated, never a pass.
    let r = verify_chain(&w.log, &w.trust, "part-1", &opts());
    assert!(!r.passed());
    // By digest the swapped VSA is found and refused.
    let digest = format!("sha256:{}", w.part.sha256);
    let r = verify_chain(&w.log, &w.trust, &digest, &opts());
    assert_eq!(r.roots[0].status, Status::Failed, "{r:#?}");
    // Evidence swapped: the step record's bytes no longer match the VSA's digest.
    let mut w = world(false);
    let rec = w.log.entry(&w.part_record_id).expect("ok").expect("entry");
    w.log.swap.insert(rec.id, b"{}".to_vec());
    let r = verify_chain(&w.log, &w.trust, "part-1", &opts());
    assert!(
        r.roots[0]
            .reasons
            .iter()
            .any(|x| x.contains("missing evidence")),
        "{:?}",
        r.roots[0].reasons
    );
}

#[test]
fn a_receipt_for_another_entry_fails_the_receipt_check() {
    let mut w = world(false);
    w.log.wrong_receipts = true;
    let r = verify_chain(&w.log, &w.trust, "part-1", &opts());
    assert_eq!(r.overall, Status::Failed);
    let c = r.roots[0]
        .checks
        .iter()
        .find(|c| c.check == "receipt")
        .expect("receipt check");
    assert!(!c.ok && c.detail.contains("inclusion proof"), "{c:?}");
}

#[test]
fn a_vsa_signed_by_an_unknown_organisation_is_not_trusted() {
    let mut w = world(false);
    w.trust.organisations.remove("customer");
    let r = verify_chain(&w.log, &w.trust, "part-1", &opts());
    assert_eq!(r.roots[0].status, Status::Failed);
    assert!(
        r.roots[0].reasons[0].contains("does not verify against any registered organisation key")
    );
}

/// assembly <- part-a, part-b <- (both) ore: a shared input, walked in parallel per level.
fn diamond(ore_spec_by_maker: bool) -> (MemLog, ChainTrust) {
    let key = || EphemeralSigner::generate(Algorithm::Ed25519).expect("k");
    let (customer, maker, supplier, miner) = (key(), key(), key(), key());
    let mut log = MemLog::new();
    let ore = Artifact::for_content("ore-1", b"ore");
    let a = Artifact::for_content("part-a", b"a");
    let b = Artifact::for_content("part-b", b"b");
    let asm = Artifact::for_content("assembly-1", b"asm");
    let ore_customer = if ore_spec_by_maker {
        (&maker, "maker")
    } else {
        (&supplier, "supplier")
    };
    tier(
        &mut log,
        &ore,
        vec![],
        ore_customer,
        (&miner, "miner"),
        None,
    );
    for p in [&a, &b] {
        tier(
            &mut log,
            p,
            vec![ore.clone()],
            (&maker, "maker"),
            (&supplier, "supplier"),
            None,
        );
    }
    tier(
        &mut log,
        &asm,
        vec![a, b],
        (&customer, "customer"),
        (&maker, "maker"),
        None,
    );
    let trust = ChainTrust {
        log_key: log.log_key(),
        organisations: [
            ("customer", &customer),
            ("maker", &maker),
            ("supplier", &supplier),
            ("miner", &miner),
        ]
        .into_iter()
        .map(|(n, k)| (n.to_owned(), vec![k.key().expect("key")]))
        .collect(),
    };
    (log, trust)
}

#[test]
fn a_shared_input_is_evaluated_once_and_repeated_where_it_is_consumed_again() {
    let (log, trust) = diamond(false);
    let r = verify_chain(&log, &trust, "assembly-1", &opts());
    assert!(r.passed(), "{}", shinrai_conformity::chain::render_text(&r));
    assert_eq!(r.summary.products, 4);
    let ores: Vec<_> = r
        .nodes()
        .into_iter()
        .filter(|n| n.name == "ore-1")
        .collect();
    assert_eq!(ores.len(), 2, "ore appears under both parts");
    assert_eq!(ores.iter().filter(|n| n.repeated).count(), 1);
    let first = ores.iter().find(|n| !n.repeated).expect("first");
    assert!(
        first
            .checks
            .iter()
            .any(|c| c.check == "ordering-party" && c.ok && c.detail.contains("supplier")),
        "{:?}",
        first.checks
    );
}

#[test]
fn a_spec_not_issued_by_the_consumer_fails_the_shared_input_everywhere() {
    let (log, trust) = diamond(true);
    let r = verify_chain(&log, &trust, "assembly-1", &opts());
    assert!(!r.passed());
    assert_eq!(r.summary.failed, 1, "{:?}", r.summary);
    for n in r.nodes().into_iter().filter(|n| n.name == "ore-1") {
        assert_eq!(n.status, shinrai_conformity::chain::Status::Failed);
    }
    let text = shinrai_conformity::chain::render_text(&r);
    assert!(
        text.contains("issued by maker, but the product was consumed by supplier"),
        "{text}"
    );
    assert_eq!(
        r.roots[0].chain_status,
        shinrai_conformity::chain::Status::Failed
    );
}
