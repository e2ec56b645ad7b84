//! Chain-of-trust verification: walk upstream from a product through a trust store, tier by
//! tier, across organisations, and check at each tier what the tier's verification summary
//! (SLSA VSA v1) claims.
//!
//! The store is read through [`ChainSource`] (HTTP client, in-process store, anything that can
//! answer the four questions); this module does no IO of its own and reads no clock
//! ([`ChainOptions::now_unix`]). What the caller trusts is given in [`ChainTrust`]: the log's
//! note verifier key and the organisations' public keys.
//!
//! At each tier (a product, found by digest), for each VSA whose subject is the product:
//! 1. the VSA's DSSE signature verifies over the bytes received against a trusted
//!    organisation's key (the *verifier organisation*), and the store names the same issuer;
//! 2. its receipt: an RFC 9162 inclusion proof of exactly those bytes under a checkpoint signed
//!    by the log key;
//! 3. the specification it claims: `policy.digest.sha256` is the id of an entry in the store
//!    (itself with a valid receipt) whose signature verifies against a trusted organisation
//!    (the *ordering party*); the VSA was made before the specification expired (and not in
//!    the future); when the specification names a lot, the VSA is about that lot;
//! 4. authority: the verifier organisation is the ordering party or an organisation the
//!    specification names in `parameters.extra.verifiers` (comma-separated); and, below the
//!    root, the ordering party is an organisation that performed the tier above (the one that
//!    consumed this product): specifications are issued downstream-up;
//! 5. evidence: every `inputAttestations` entry is in the store with exactly the digest the
//!    VSA names (missing evidence FAILS); the step records among them produce the product;
//! 6. the verdict: PASSED, or FAILED with the VSA's own reasons.
//!
//! The tier's inputs are the materials of its step records that no step of the same tier
//! produced. Each is walked the same way (depth limit, cycle protection, shared inputs
//! evaluated once). An input with no VSA at its digest is a **broken link** when the store
//! has a VSA for a product of the same name with another digest (the tier below delivered
//! something else), and otherwise *not evaluated*. Nothing is a pass by default: a product
//! with no VSA, a depth limit reached, a store that does not answer, all make the chain
//! not pass.
//!
//! A walk runs in two phases. Phase one reads and checks every product within the depth
//! limit level by level, the products of one level on [`ChainSource::concurrency`] threads
//! (each product's checks need nothing from its siblings). Phase two builds the report depth
//! first from those results and adds the one check that depends on the path: the ordering
//! party against the organisations that consumed the product. Verified checkpoints and
//! specifications are cached for the walk.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use shinrai_envelope::dsse::Envelope;
use shinrai_envelope::keys::SslibKey;
use shinrai_envelope::statement::Statement;
use shinrai_evidence::step::{Artifact, LINK_PREDICATE_TYPE, StepRecord};

use crate::spec::{VerifiedSpec, parse_time, sha256_hex, verify_spec};
use crate::vsa::{Failure, VerifiedVsa, verify_vsa};

/// Most VSAs evaluated for one product (more are reported, not evaluated).
pub const MAX_VSAS_PER_PRODUCT: usize = 16;
/// Default depth limit of a walk.
pub const DEFAULT_MAX_DEPTH: u32 = 16;

/// A failure of the store or of the transport to it (not a verdict).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trust store: {0}")]
pub struct SourceError(pub String);

/// An entry as the store returns it.
#[derive(Debug, Clone)]
pub struct SourceEntry {
    /// Log index.
    pub index: u64,
    /// Entry id (hex SHA-256 of the bytes), as the store names it.
    pub id: String,
    /// The organisation the store says signed it.
    pub issuer_org: String,
    /// The entry bytes (a DSSE envelope), exactly as the store returned them.
    pub bytes: Vec<u8>,
}

/// A receipt as the store returns it (the JSON receipt of `GET /entries/{id}/receipt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceReceipt {
    /// Log index of the entry.
    pub log_index: u64,
    /// Tree size of the checkpoint.
    pub tree_size: u64,
    /// Inclusion proof hashes, base64, from the leaf up.
    pub inclusion_proof: Vec<String>,
    /// The C2SP signed checkpoint note.
    pub checkpoint: String,
}

/// How the chain verifier reads a trust store. Implementations MUST return entry bytes
/// exactly as stored (they are verified here, never trusted) and SHOULD answer `Ok(None)` /
/// an empty list for "not there" rather than an error.
pub trait ChainSource: Sync {
    /// Entries with predicate type [`crate::vsa::VSA_PREDICATE_TYPE`] that have a subject with `digest`
    /// (`sha256:<hex>`), in log order, at most `limit`.
    fn vsas_for_digest(&self, digest: &str, limit: usize) -> Result<Vec<SourceEntry>, SourceError>;
    /// Entries with predicate type [`crate::vsa::VSA_PREDICATE_TYPE`] that have a subject named `name`.
    fn vsas_for_name(&self, name: &str, limit: usize) -> Result<Vec<SourceEntry>, SourceError>;
    /// The entry whose id is `id` (hex SHA-256 of its bytes), if the store has it.
    fn entry(&self, id: &str) -> Result<Option<SourceEntry>, SourceError>;
    /// The receipt of `entry`, if the store can give one.
    fn receipt(&self, entry: &SourceEntry) -> Result<Option<SourceReceipt>, SourceError>;
    /// How many products the walk may evaluate at once through this source (the tiers of one
    /// level are independent). Defaults to the machine's available parallelism; a source that
    /// waits on a network may want more.
    fn concurrency(&self) -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// What the verifier trusts: the log key and the organisations' keys.
#[derive(Debug, Clone, Default)]
pub struct ChainTrust {
    /// The log's C2SP note verifier key (`<name>+<hash>+<key>`); checkpoints must carry its
    /// signature and name its key name as origin.
    pub log_key: String,
    /// Organisation name -> its public keys.
    pub organisations: BTreeMap<String, Vec<SslibKey>>,
}

/// Options of a walk.
#[derive(Debug, Clone)]
pub struct ChainOptions {
    /// Levels below the product that are walked (0: only the product itself).
    pub max_depth: u32,
    /// Now, Unix seconds (VSAs made after it are refused as from the future).
    pub now_unix: i64,
}

/// The verdict on one product's tier, or on a whole chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every check ran and held, and the VSA says PASSED. Only a [`VerifiedTier`] leads here.
    Passed,
    /// Not checked: no VSA for the product, depth limit, store unavailable. Not a pass.
    NotEvaluated,
    /// A check failed or the VSA says FAILED (see the reasons).
    Failed,
}

impl Status {
    /// The worse of two statuses (failed > not evaluated > passed).
    pub fn worst(self, other: Status) -> Status {
        self.max(other)
    }
}

/// One check done at a tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// `vsa-signature`, `issuer`, `subject`, `receipt`, `spec`, `spec-receipt`, `spec-expiry`,
    /// `spec-lot`, `authority`, `ordering-party`, `evidence`, `product`, `verdict`.
    pub check: String,
    /// Whether it held.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// What a tier's accepted VSA says (present when a VSA was found and read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VsaSummary {
    /// Store entry id of the VSA.
    pub entry_id: String,
    /// Its log index.
    pub log_index: u64,
    /// `PASSED` or `FAILED`.
    pub verification_result: String,
    /// `timeVerified`.
    pub time_verified: String,
    /// `resourceUri`.
    pub resource_uri: String,
    /// `policy.digest.sha256`: the store entry id of the specification.
    pub spec_digest: String,
    /// The specification's name, PO number and lot (when it was read).
    pub spec_name: String,
    /// Purchase order.
    pub po: String,
    /// Lot.
    pub lot: String,
    /// The organisation whose key signed the VSA.
    pub verifier_org: String,
    /// The organisation whose key signed the specification.
    pub ordering_party: String,
}

/// One product in the chain report. `inputs` are the products it was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainNode {
    /// The product's digest, `sha256:<hex>`.
    pub product: String,
    /// Its name (VSA subject name or material name).
    pub name: String,
    /// Distance from the root product.
    pub depth: u32,
    /// The verdict on this tier alone.
    pub status: Status,
    /// The verdict on this tier and everything upstream of it (the worst).
    pub chain_status: Status,
    /// Organisations that performed the tier (signers of its step records).
    #[serde(default)]
    pub performed_by: Vec<String>,
    /// The VSA the verdict rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vsa: Option<VsaSummary>,
    /// The checks done on that VSA.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Why the tier is not passed (empty when passed).
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The VSA's own failures when it says FAILED.
    #[serde(default)]
    pub failures: Vec<Failure>,
    /// `true` when this product appeared earlier in the report (shared input): its status is
    /// repeated, its inputs are not.
    #[serde(default)]
    pub repeated: bool,
    /// The products this one was made from.
    #[serde(default)]
    pub inputs: Vec<ChainNode>,
}

/// Counts over a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainSummary {
    /// Distinct products evaluated.
    pub products: usize,
    /// Of which passed.
    pub passed: usize,
    /// Of which failed.
    pub failed: usize,
    /// Of which not evaluated.
    pub not_evaluated: usize,
}

/// The result of [`verify_chain`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    /// What was asked for (digest or name).
    pub query: String,
    /// `passed` only when every product of the chain passed.
    pub overall: Status,
    /// Counts.
    pub summary: ChainSummary,
    /// One tree per product matching the query (several when a name matches several digests).
    pub roots: Vec<ChainNode>,
}

impl ChainReport {
    /// Whether the whole chain passed.
    pub fn passed(&self) -> bool {
        self.overall == Status::Passed
    }

    /// Every node, depth first.
    pub fn nodes(&self) -> Vec<&ChainNode> {
        fn walk<'a>(n: &'a ChainNode, out: &mut Vec<&'a ChainNode>) {
            out.push(n);
            for i in &n.inputs {
                walk(i, out);
            }
        }
        let mut out = Vec::new();
        for r in &self.roots {
            walk(r, &mut out);
        }
        out
    }
}

/// A receipt that verified: these bytes are at this index under a checkpoint signed by the log
/// key. Only the chain verifier builds it.
#[derive(Debug, Clone)]
pub struct VerifiedReceipt {
    log_index: u64,
    tree_size: u64,
}

impl VerifiedReceipt {
    /// Log index of the entry.
    pub fn log_index(&self) -> u64 {
        self.log_index
    }
    /// Size of the tree the proof is against.
    pub fn tree_size(&self) -> u64 {
        self.tree_size
    }
}

/// A tier whose VSA passed every check of the walk (signature, issuer, receipt, specification,
/// authority, evidence). Its verdict may still be FAILED: that is the VSA's to say. Only the
/// chain verifier builds it, and [`Status::Passed`] comes only from one whose verdict is PASSED.
#[derive(Debug, Clone)]
pub struct VerifiedTier {
    vsa: VerifiedVsa,
    spec: Arc<VerifiedSpec>,
    receipt: VerifiedReceipt,
    verifier_org: String,
    ordering_party: String,
    performed_by: BTreeSet<String>,
    inputs: Vec<Artifact>,
}

impl VerifiedTier {
    /// The VSA.
    pub fn vsa(&self) -> &VerifiedVsa {
        &self.vsa
    }
    /// The specification it was made against.
    pub fn spec(&self) -> &VerifiedSpec {
        &self.spec
    }
    /// The VSA's receipt.
    pub fn receipt(&self) -> &VerifiedReceipt {
        &self.receipt
    }
    /// Organisation that signed the VSA.
    pub fn verifier_org(&self) -> &str {
        &self.verifier_org
    }
    /// Organisation that signed the specification.
    pub fn ordering_party(&self) -> &str {
        &self.ordering_party
    }
    /// Organisations whose keys signed the tier's step records.
    pub fn performed_by(&self) -> &BTreeSet<String> {
        &self.performed_by
    }
    /// The tier's inputs (materials not produced within the tier).
    pub fn inputs(&self) -> &[Artifact] {
        &self.inputs
    }
}

/// Phase one of a walk: reads and checks tiers. Shared by the worker threads (`&self` only;
/// the caches are behind locks).
struct Walker<'a> {
    source: &'a dyn ChainSource,
    opts: &'a ChainOptions,
    all_keys: Vec<SslibKey>,
    key_by_id: HashMap<String, SslibKey>,
    org_of_key: HashMap<String, String>,
    log_verifier: Result<shinrai_tlog::NoteVerifier, String>,
    /// Verified checkpoint notes: note text -> (size, root).
    checkpoints: Mutex<HashMap<String, CheckpointResult>>,
    /// Verified specifications by entry id (with their receipts checked).
    specs: Mutex<HashMap<String, SpecResult>>,
}

type SpecResult = Result<(Arc<VerifiedSpec>, String), String>;

/// A checkpoint note's verification: (tree size, root) or why not.
type CheckpointResult = Result<(u64, shinrai_tlog::Hash), String>;

/// Phase two of a walk: assembles the report tree from what phase one gathered.
struct Assembler<'a> {
    walker: &'a Walker<'a>,
    gathered: HashMap<String, Gathered>,
    /// Products already placed in the report: digest -> (status, chain status, name).
    done: HashMap<String, (Status, Status, String)>,
}

/// What phase one learnt about one product, before knowing who consumed it.
enum Gathered {
    /// A finished verdict (no VSA, broken link, store error).
    Node(Box<ChainNode>),
    /// The product's VSAs, each checked except for the ordering party.
    Attempts {
        name: String,
        too_many: bool,
        attempts: Vec<Attempt>,
    },
}

impl Gathered {
    /// Inputs that any acceptable VSA names (the walk goes on below them).
    fn inputs(&self) -> impl Iterator<Item = (String, &str)> {
        let attempts: &[Attempt] = match self {
            Gathered::Attempts { attempts, .. } => attempts,
            Gathered::Node(_) => &[],
        };
        attempts
            .iter()
            .filter_map(|a| a.tier.as_ref())
            .flat_map(|t| t.inputs.iter())
            .map(|m| (sha256_digest(&m.sha256), m.name.as_str()))
    }
}

/// Locks a cache; a panic elsewhere leaves it usable (it only holds finished results).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn sha256_digest(hex: &str) -> String {
    format!("sha256:{hex}")
}

/// Verifies the chain of the product `query`: a digest (`sha256:<hex>`, or 64 hex digits) or a
/// name (VSA subject name, e.g. a lot URI; every digest with a VSA of that name is walked).
/// Never errors: every problem is a failed or not-evaluated node.
pub fn verify_chain(
    source: &dyn ChainSource,
    trust: &ChainTrust,
    query: &str,
    opts: &ChainOptions,
) -> ChainReport {
    let mut org_of_key = HashMap::new();
    let mut key_by_id = HashMap::new();
    let mut all_keys = Vec::new();
    for (org, keys) in &trust.organisations {
        for k in keys {
            org_of_key.insert(k.keyid(), org.clone());
            key_by_id.insert(k.keyid(), k.clone());
            all_keys.push(k.clone());
        }
    }
    let walker = Walker {
        source,
        opts,
        all_keys,
        key_by_id,
        org_of_key,
        log_verifier: shinrai_tlog::NoteVerifier::parse(trust.log_key.trim())
            .map_err(|e| format!("the log key is not a note verifier key: {e}")),
        checkpoints: Mutex::new(HashMap::new()),
        specs: Mutex::new(HashMap::new()),
    };
    let q = query.trim();
    let hex = q.strip_prefix("sha256:").unwrap_or(q).to_ascii_lowercase();
    let mut starts: Vec<(String, String)> = Vec::new();
    let mut roots = Vec::new();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        starts.push((sha256_digest(&hex), String::new()));
    } else {
        match source.vsas_for_name(q, MAX_VSAS_PER_PRODUCT) {
            Ok(entries) => {
                let mut digests = BTreeSet::new();
                for e in &entries {
                    for d in subject_digests_named(&e.bytes, q) {
                        digests.insert(d);
                    }
                }
                starts.extend(digests.into_iter().map(|d| (d, q.to_owned())));
                if starts.is_empty() {
                    roots.push(not_evaluated(
                        q,
                        q,
                        0,
                        format!("no verification summary (VSA) in the store names a product {q:?}"),
                    ));
                }
            }
            Err(e) => roots.push(not_evaluated(q, q, 0, e.to_string())),
        }
    }
    let mut w = Assembler {
        walker: &walker,
        gathered: walker.gather_all(&starts),
        done: HashMap::new(),
    };
    for (d, name) in &starts {
        roots.push(w.walk(d, name, 0, None, &mut Vec::new()));
    }
    let mut summary = ChainSummary::default();
    for (status, _, _) in w.done.values() {
        summary.products += 1;
        match status {
            Status::Passed => summary.passed += 1,
            Status::Failed => summary.failed += 1,
            Status::NotEvaluated => summary.not_evaluated += 1,
        }
    }
    // Nodes that were never put in `done` (query errors) count too.
    for r in &roots {
        if !w.done.contains_key(&r.product) {
            summary.products += 1;
            match r.status {
                Status::Passed => summary.passed += 1,
                Status::Failed => summary.failed += 1,
                Status::NotEvaluated => summary.not_evaluated += 1,
            }
        }
    }
    let overall = roots
        .iter()
        .map(|r| r.chain_status)
        .fold(Status::Passed, Status::worst);
    ChainReport {
        query: q.to_owned(),
        overall,
        summary,
        roots,
    }
}

fn not_evaluated(product: &str, name: &str, depth: u32, reason: String) -> ChainNode {
    ChainNode {
        product: product.to_owned(),
        name: name.to_owned(),
        depth,
        status: Status::NotEvaluated,
        chain_status: Status::NotEvaluated,
        performed_by: Vec::new(),
        vsa: None,
        checks: Vec::new(),
        reasons: vec![reason],
        failures: Vec::new(),
        repeated: false,
        inputs: Vec::new(),
    }
}

/// Subject digests (`sha256:<hex>`) named `name` in an (unverified) statement envelope.
fn subject_digests_named(bytes: &[u8], name: &str) -> Vec<String> {
    statement_of(bytes)
        .map(|st| {
            st.subject
                .iter()
                .filter(|s| s.name == name)
                .filter_map(|s| s.sha256().map(sha256_digest))
                .collect()
        })
        .unwrap_or_default()
}

/// The statement in an envelope whose bytes are authenticated otherwise (by digest).
fn statement_of(bytes: &[u8]) -> Option<Statement> {
    let env = Envelope::parse(bytes).ok()?;
    Statement::parse(&env.payload).ok()
}

/// The outcome of checking one VSA entry.
struct Attempt {
    summary: Option<VsaSummary>,
    checks: Vec<Check>,
    /// Why it is not acceptable (empty when `tier` is present).
    reasons: Vec<String>,
    /// Present when every check held.
    tier: Option<VerifiedTier>,
    /// Where the ordering-party check goes in `checks`, once the consumer is known (present
    /// when the specification was read).
    ordering_at: Option<usize>,
}

impl Attempt {
    /// The ordering-party check, which needs the organisations that consumed the product: the
    /// specification must come from one of them (specifications are issued downstream-up).
    fn check_ordering_party(&mut self, consumers: Option<&BTreeSet<String>>) {
        let (Some(at), Some(c), Some(summary)) = (self.ordering_at, consumers, &self.summary)
        else {
            return;
        };
        let ordering = &summary.ordering_party;
        let check = if c.contains(ordering) {
            Check {
                check: "ordering-party".into(),
                ok: true,
                detail: format!("{ordering} consumed the product and issued its specification"),
            }
        } else {
            let why = format!(
                "the specification was issued by {ordering}, but the product was consumed by {}: specifications are issued by the customer",
                if c.is_empty() {
                    "an unknown organisation".to_owned()
                } else {
                    c.iter().cloned().collect::<Vec<_>>().join(", ")
                }
            );
            self.reasons.push(why.clone());
            self.tier = None;
            Check {
                check: "ordering-party".into(),
                ok: false,
                detail: why,
            }
        };
        self.checks.insert(at.min(self.checks.len()), check);
        self.ordering_at = None;
    }
}

impl Assembler<'_> {
    fn walk(
        &mut self,
        digest: &str,
        name: &str,
        depth: u32,
        consumers: Option<&BTreeSet<String>>,
        path: &mut Vec<String>,
    ) -> ChainNode {
        if path.iter().any(|p| p == digest) {
            let mut n = not_evaluated(
                digest,
                name,
                depth,
                format!(
                    "cycle: {digest} is its own input (path {})",
                    path.join(" <- ")
                ),
            );
            n.status = Status::Failed;
            n.chain_status = Status::Failed;
            return n;
        }
        if let Some((status, chain_status, known)) = self.done.get(digest) {
            let mut n = not_evaluated(
                digest,
                if name.is_empty() { known } else { name },
                depth,
                String::new(),
            );
            n.reasons.clear();
            n.status = *status;
            n.chain_status = *chain_status;
            n.repeated = true;
            return n;
        }
        let mut node = self.evaluate(digest, name, depth, consumers);
        let inputs = std::mem::take(&mut node.inputs);
        // `evaluate` leaves the tier's inputs as placeholders (digest + name) to walk now.
        if !inputs.is_empty() {
            if depth >= self.walker.opts.max_depth {
                node.reasons.push(format!(
                    "depth limit {} reached: {} input(s) not walked",
                    self.walker.opts.max_depth,
                    inputs.len()
                ));
                node.chain_status = node.chain_status.worst(Status::NotEvaluated);
            } else {
                let performers: BTreeSet<String> = node.performed_by.iter().cloned().collect();
                path.push(digest.to_owned());
                for i in inputs {
                    let child = self.walk(&i.product, &i.name, depth + 1, Some(&performers), path);
                    node.chain_status = node.chain_status.worst(child.chain_status);
                    node.inputs.push(child);
                }
                path.pop();
            }
        }
        self.done.insert(
            digest.to_owned(),
            (node.status, node.chain_status, node.name.clone()),
        );
        node
    }

    /// Finishes the tier of `digest` for the consumers that reached it; returns the node with
    /// its inputs as unwalked placeholders.
    fn evaluate(
        &mut self,
        digest: &str,
        name: &str,
        depth: u32,
        consumers: Option<&BTreeSet<String>>,
    ) -> ChainNode {
        // Phase one reaches every product the walk visits; gather here if it somehow did not.
        let gathered = self
            .gathered
            .remove(digest)
            .unwrap_or_else(|| self.walker.gather(digest, name));
        let (first_name, too_many, mut attempts) = match gathered {
            Gathered::Node(n) => {
                let mut n = *n;
                n.depth = depth;
                return n;
            }
            Gathered::Attempts {
                name,
                too_many,
                attempts,
            } => (name, too_many, attempts),
        };
        for a in &mut attempts {
            a.check_ordering_party(consumers);
        }
        let mut node = not_evaluated(digest, name, depth, String::new());
        node.reasons.clear();
        if too_many {
            node.reasons.push(format!(
                "more than {MAX_VSAS_PER_PRODUCT} VSAs for this product: only the first {MAX_VSAS_PER_PRODUCT} evaluated"
            ));
        }
        if node.name.is_empty() {
            node.name = first_name;
        }
        // A verified FAILED verdict wins, then a verified PASSED one; otherwise every reason.
        let pick = attempts
            .iter()
            .position(|a| a.tier.as_ref().is_some_and(|t| !t.vsa.predicate().passed()))
            .or_else(|| attempts.iter().position(|a| a.tier.is_some()));
        match pick {
            Some(i) => {
                let a = attempts.swap_remove(i);
                let Some(tier) = a.tier else {
                    return node;
                };
                node.vsa = a.summary;
                node.checks = a.checks;
                node.performed_by = tier.performed_by.iter().cloned().collect();
                if tier.vsa.predicate().passed() {
                    node.status = Status::Passed;
                } else {
                    node.status = Status::Failed;
                    node.failures = tier.vsa.predicate().failures.clone();
                    node.reasons.push(format!(
                        "the verification summary by {} says FAILED",
                        tier.verifier_org
                    ));
                    if node.failures.is_empty() {
                        node.reasons
                            .push("the VSA is FAILED and gives no reason".to_owned());
                    }
                    for f in &node.failures {
                        node.reasons.push(failure_text(f));
                    }
                }
                node.chain_status = node.status;
                node.inputs = tier
                    .inputs
                    .iter()
                    .map(|m| {
                        let mut p = not_evaluated(
                            &sha256_digest(&m.sha256),
                            &m.name,
                            depth + 1,
                            String::new(),
                        );
                        p.reasons.clear();
                        p
                    })
                    .collect();
            }
            None => {
                node.status = Status::Failed;
                node.chain_status = Status::Failed;
                let n = attempts.len();
                for (k, a) in attempts.into_iter().enumerate() {
                    if a.tier.is_none() {
                        for r in a.reasons {
                            node.reasons.push(if n > 1 {
                                format!("VSA {}/{n}: {r}", k + 1)
                            } else {
                                r
                            });
                        }
                    }
                    if node.vsa.is_none() {
                        node.vsa = a.summary;
                        node.checks = a.checks;
                    }
                }
            }
        }
        node
    }
}

impl Walker<'_> {
    /// Phase one: reads and checks every product reachable from `starts` within the depth
    /// limit, level by level, the products of a level in parallel.
    fn gather_all(&self, starts: &[(String, String)]) -> HashMap<String, Gathered> {
        let mut out = HashMap::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut frontier: Vec<(String, String)> = starts
            .iter()
            .filter(|(d, _)| seen.insert(d.clone()))
            .cloned()
            .collect();
        let mut depth = 0;
        while !frontier.is_empty() {
            let results = self.gather_level(&frontier);
            let mut next = Vec::new();
            for ((d, _), g) in frontier.iter().zip(results) {
                if depth < self.opts.max_depth {
                    for (i, n) in g.inputs() {
                        if seen.insert(i.clone()) {
                            next.push((i, n.to_owned()));
                        }
                    }
                }
                out.insert(d.clone(), g);
            }
            frontier = next;
            depth += 1;
        }
        out
    }

    /// Gathers one level's products on up to [`ChainSource::concurrency`] threads.
    fn gather_level(&self, level: &[(String, String)]) -> Vec<Gathered> {
        let workers = self.source.concurrency().clamp(1, 64).min(level.len());
        if workers <= 1 {
            return level.iter().map(|(d, n)| self.gather(d, n)).collect();
        }
        let next = AtomicUsize::new(0);
        let mut slots: Vec<Option<Gathered>> = level.iter().map(|_| None).collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    s.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some((d, n)) = level.get(i) else {
                                break;
                            };
                            mine.push((i, self.gather(d, n)));
                        }
                        mine
                    })
                })
                .collect();
            for h in handles {
                match h.join() {
                    Ok(done) => {
                        for (i, g) in done {
                            slots[i] = Some(g);
                        }
                    }
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
        slots
            .into_iter()
            .zip(level)
            .map(|(g, (d, n))| g.unwrap_or_else(|| self.gather(d, n)))
            .collect()
    }

    /// Reads the VSAs of `digest` and checks each (all but the ordering party).
    fn gather(&self, digest: &str, name: &str) -> Gathered {
        let entries = match self
            .source
            .vsas_for_digest(digest, MAX_VSAS_PER_PRODUCT + 1)
        {
            Ok(e) => e,
            Err(e) => {
                return Gathered::Node(Box::new(not_evaluated(digest, name, 0, e.to_string())));
            }
        };
        if entries.is_empty() {
            return Gathered::Node(Box::new(self.no_vsa(digest, name, 0)));
        }
        let attempts = entries
            .iter()
            .take(MAX_VSAS_PER_PRODUCT)
            .map(|e| self.check_tier(digest, e))
            .collect();
        Gathered::Attempts {
            name: if name.is_empty() {
                entries
                    .first()
                    .map(|e| subject_name_of(&e.bytes, digest))
                    .unwrap_or_default()
            } else {
                String::new()
            },
            too_many: entries.len() > MAX_VSAS_PER_PRODUCT,
            attempts,
        }
    }

    /// No VSA at this digest: a broken link if the store has a VSA for a product of the same
    /// name with another digest, otherwise not evaluated.
    fn no_vsa(&self, digest: &str, name: &str, depth: u32) -> ChainNode {
        if !name.is_empty()
            && let Ok(entries) = self.source.vsas_for_name(name, MAX_VSAS_PER_PRODUCT)
        {
            let delivered: BTreeSet<String> = entries
                .iter()
                .flat_map(|e| subject_digests_named(&e.bytes, name))
                .filter(|d| d != digest)
                .collect();
            if !delivered.is_empty() {
                let mut n = not_evaluated(
                    digest,
                    name,
                    depth,
                    format!(
                        "broken link: the tier above consumed {name:?} with digest {digest}, but the tier below delivered {name:?} with digest {}",
                        delivered.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                );
                n.status = Status::Failed;
                n.chain_status = Status::Failed;
                return n;
            }
        }
        not_evaluated(
            digest,
            name,
            depth,
            "no verification summary (VSA) for this product in the store".to_owned(),
        )
    }

    fn verify_receipt_of(&self, entry: &SourceEntry) -> Result<VerifiedReceipt, String> {
        let r = self
            .source
            .receipt(entry)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the store gave no receipt".to_owned())?;
        let cached = lock(&self.checkpoints).get(&r.checkpoint).cloned();
        let (size, root) = match cached {
            Some(v) => v?,
            None => {
                let v = match &self.log_verifier {
                    Ok(lv) => shinrai_tlog::verify_checkpoint(
                        r.checkpoint.as_bytes(),
                        lv.name(),
                        std::slice::from_ref(lv),
                    )
                    .map(|c| (c.checkpoint().size, c.checkpoint().root))
                    .map_err(|e| format!("checkpoint not signed by the log key: {e}")),
                    Err(e) => Err(e.clone()),
                };
                lock(&self.checkpoints).insert(r.checkpoint.clone(), v.clone());
                v?
            }
        };
        if size != r.tree_size {
            return Err(format!(
                "receipt says tree size {} but its checkpoint is for {size}",
                r.tree_size
            ));
        }
        let proof = r
            .inclusion_proof
            .iter()
            .map(|h| {
                B64.decode(h)
                    .ok()
                    .and_then(|b| <shinrai_tlog::Hash>::try_from(b.as_slice()).ok())
                    .ok_or_else(|| "inclusion proof hash is not 32 base64 bytes".to_owned())
            })
            .collect::<Result<Vec<_>, _>>()?;
        shinrai_tlog::verify_inclusion(
            r.log_index,
            size,
            &shinrai_tlog::leaf_hash(&entry.bytes),
            &proof,
            &root,
        )
        .map_err(|e| format!("inclusion proof does not hold for these bytes: {e}"))?;
        Ok(VerifiedReceipt {
            log_index: r.log_index,
            tree_size: size,
        })
    }

    /// The trusted keys an envelope's keyid hints name (all trusted keys when it names none of
    /// them, so the error says what it should). Hints only select: signatures are verified.
    fn candidates(&self, bytes: &[u8]) -> Vec<SslibKey> {
        let named: Vec<SslibKey> = Envelope::parse(bytes)
            .map(|e| {
                e.signatures
                    .iter()
                    .filter_map(|s| s.keyid.as_deref().and_then(|k| self.key_by_id.get(k)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if named.is_empty() {
            self.all_keys.clone()
        } else {
            named
        }
    }

    fn orgs_of(&self, keyids: &[String]) -> BTreeSet<String> {
        keyids
            .iter()
            .filter_map(|k| self.org_of_key.get(k).cloned())
            .collect()
    }

    /// The specification entry `id`, verified (signature, receipt); cached.
    fn spec(&self, id: &str) -> SpecResult {
        if let Some(v) = lock(&self.specs).get(id) {
            return v.clone();
        }
        // Not under the lock: two threads may load the same specification once each.
        let v = self.load_spec(id);
        lock(&self.specs).insert(id.to_owned(), v.clone());
        v
    }

    fn load_spec(&self, id: &str) -> SpecResult {
        let valid_id = id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid_id {
            return Err(format!("the VSA's policy digest {id:?} is not a SHA-256"));
        }
        let entry = self
            .source
            .entry(id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!("the specification the VSA claims ({id}) is not in the store")
            })?;
        if sha256_hex(&entry.bytes) != id {
            return Err(format!(
                "the store returned other bytes for specification {id}"
            ));
        }
        let spec = verify_spec(&entry.bytes, &self.candidates(&entry.bytes), 1).map_err(|e| {
            format!(
                "the specification {id} does not verify (tampered after signing, or not signed by a registered organisation): {e}"
            )
        })?;
        let orgs = self.orgs_of(spec.signer_keyids());
        let Some(ordering) = orgs.into_iter().next() else {
            return Err(format!(
                "specification {id} is signed by no registered organisation"
            ));
        };
        self.verify_receipt_of(&entry)
            .map_err(|e| format!("specification {id}: receipt: {e}"))?;
        Ok((Arc::new(spec), ordering))
    }

    fn check_tier(&self, digest: &str, entry: &SourceEntry) -> Attempt {
        let mut checks = Vec::new();
        let mut reasons = Vec::new();
        let note = |checks: &mut Vec<Check>,
                    reasons: &mut Vec<String>,
                    c: &str,
                    r: Result<String, String>| {
            match r {
                Ok(detail) => checks.push(Check {
                    check: c.into(),
                    ok: true,
                    detail,
                }),
                Err(why) => {
                    checks.push(Check {
                        check: c.into(),
                        ok: false,
                        detail: why.clone(),
                    });
                    reasons.push(why);
                }
            }
        };
        // 1. signature and issuer.
        let vsa = match verify_vsa(&entry.bytes, &self.candidates(&entry.bytes), 1) {
            Ok(v) => v,
            Err(e) => {
                note(
                    &mut checks,
                    &mut reasons,
                    "vsa-signature",
                    Err(format!(
                        "VSA entry {} does not verify against any registered organisation key: {e}",
                        entry.id
                    )),
                );
                return Attempt {
                    summary: None,
                    checks,
                    reasons,
                    tier: None,
                    ordering_at: None,
                };
            }
        };
        let signer_orgs = self.orgs_of(vsa.signer_keyids());
        let verifier_org = signer_orgs.iter().next().cloned().unwrap_or_default();
        note(
            &mut checks,
            &mut reasons,
            "vsa-signature",
            Ok(format!("signed by {verifier_org}")),
        );
        let p = vsa.predicate();
        let spec_id = p.policy.digest.get("sha256").cloned().unwrap_or_default();
        let mut summary = VsaSummary {
            entry_id: entry.id.clone(),
            log_index: entry.index,
            verification_result: if p.passed() {
                "PASSED".into()
            } else {
                "FAILED".into()
            },
            time_verified: p.time_verified.clone(),
            resource_uri: p.resource_uri.clone(),
            spec_digest: spec_id.clone(),
            spec_name: String::new(),
            po: String::new(),
            lot: String::new(),
            verifier_org: verifier_org.clone(),
            ordering_party: String::new(),
        };
        note(
            &mut checks,
            &mut reasons,
            "issuer",
            if signer_orgs.contains(&entry.issuer_org) {
                Ok(format!("the store names {} as issuer", entry.issuer_org))
            } else {
                Err(format!(
                    "the store names {:?} as issuer, but the VSA is signed by {verifier_org}",
                    entry.issuer_org
                ))
            },
        );
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        note(
            &mut checks,
            &mut reasons,
            "subject",
            if vsa.subjects().iter().any(|s| s.sha256() == Some(hex)) {
                Ok("the VSA is about this product".into())
            } else {
                Err(format!("the VSA's subjects do not include {digest}"))
            },
        );
        // 2. receipt.
        let receipt = self.verify_receipt_of(entry);
        note(
            &mut checks,
            &mut reasons,
            "receipt",
            receipt
                .as_ref()
                .map(|r| format!("in the log at index {} of {}", r.log_index, r.tree_size))
                .map_err(|e| format!("VSA receipt: {e}")),
        );
        // 3. specification.
        let spec = self.spec(&spec_id);
        note(
            &mut checks,
            &mut reasons,
            "spec",
            spec.as_ref()
                .map(|(s, o)| format!("{:?} signed by {o}", s.spec().name))
                .map_err(Clone::clone),
        );
        let mut tier_spec = None;
        let mut ordering_at = None;
        if let Ok((s, ordering)) = &spec {
            summary.spec_name = s.spec().name.clone();
            summary.po = s.spec().parameters.po_number.clone();
            summary.lot = s.spec().parameters.lot.clone();
            summary.ordering_party = ordering.clone();
            let made = parse_time(&p.time_verified);
            let expiry = s.spec().expires_unix();
            note(
                &mut checks,
                &mut reasons,
                "spec-expiry",
                match (made, expiry) {
                    (Ok(m), Ok(x)) if m >= x => Err(format!(
                        "the VSA was made at {} but the specification expired at {}",
                        p.time_verified,
                        s.spec().expires
                    )),
                    (Ok(m), Ok(_)) if m > self.opts.now_unix + 300 => Err(format!(
                        "the VSA claims to be made in the future ({})",
                        p.time_verified
                    )),
                    (Ok(_), Ok(_)) => Ok(format!("valid until {}", s.spec().expires)),
                    (Err(e), _) | (_, Err(e)) => Err(format!("unreadable time: {e}")),
                },
            );
            let lot = &s.spec().parameters.lot;
            let names: Vec<&str> = vsa
                .subjects()
                .iter()
                .filter(|x| x.sha256() == Some(hex))
                .map(|x| x.name.as_str())
                .collect();
            note(
                &mut checks,
                &mut reasons,
                "spec-lot",
                if lot.is_empty() || p.resource_uri == *lot || names.contains(&lot.as_str()) {
                    Ok(if lot.is_empty() {
                        "the specification names no lot".into()
                    } else {
                        format!("the specification is for lot {lot}")
                    })
                } else {
                    Err(format!(
                        "the VSA is for a different specification: the specification is for lot {lot:?}, the VSA is about {:?}",
                        names.first().copied().unwrap_or(p.resource_uri.as_str())
                    ))
                },
            );
            // 4. authority.
            let named: BTreeSet<String> = s
                .spec()
                .parameters
                .extra
                .get("verifiers")
                .map(|v| {
                    v.split(',')
                        .map(|x| x.trim().to_owned())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            note(
                &mut checks,
                &mut reasons,
                "authority",
                if signer_orgs.contains(ordering) || signer_orgs.iter().any(|o| named.contains(o)) {
                    Ok(format!(
                        "{verifier_org} may verify against a specification of {ordering}"
                    ))
                } else {
                    Err(format!(
                        "{verifier_org} is not authorised to verify against the specification of {ordering} (neither the ordering party nor a verifier it names)"
                    ))
                },
            );
            ordering_at = Some(checks.len());
            tier_spec = Some(s.clone());
        }
        // 5. evidence.
        let mut records = Vec::new();
        let mut performers = BTreeSet::new();
        let mut missing = Vec::new();
        for a in &p.input_attestations {
            let Some(id) = a.digest.get("sha256") else {
                missing.push(format!("{} (no sha256 digest)", a.uri));
                continue;
            };
            match self.source.entry(id) {
                Ok(Some(e)) if sha256_hex(&e.bytes) == *id => {
                    if let Ok(env) = Envelope::parse(&e.bytes)
                        && let Ok(st) = Statement::parse(&env.payload)
                        && st.predicate_type == LINK_PREDICATE_TYPE
                        && let Ok(r) = StepRecord::from_statement(&st)
                    {
                        let ids: Vec<String> = env
                            .signatures
                            .iter()
                            .filter_map(|s| s.keyid.clone())
                            .collect();
                        performers.extend(self.orgs_of(&ids));
                        records.push(r);
                    }
                }
                Ok(Some(_)) => missing.push(format!("{} (the store returned other bytes)", a.uri)),
                Ok(None) => missing.push(format!("{} ({id})", a.uri)),
                Err(e) => missing.push(format!("{} ({e})", a.uri)),
            }
        }
        note(
            &mut checks,
            &mut reasons,
            "evidence",
            if !missing.is_empty() {
                Err(format!(
                    "missing evidence: {} of the VSA's {} input attestations are not in the store: {}",
                    missing.len(),
                    p.input_attestations.len(),
                    missing.join(", ")
                ))
            } else if p.input_attestations.is_empty() {
                Err("missing evidence: the VSA lists no input attestations".into())
            } else {
                Ok(format!(
                    "{} input attestations in the store",
                    p.input_attestations.len()
                ))
            },
        );
        let products: BTreeSet<&str> = records
            .iter()
            .flat_map(|r| r.products.iter().map(|a| a.sha256.as_str()))
            .collect();
        if p.passed() {
            note(
                &mut checks,
                &mut reasons,
                "product",
                if products.contains(hex) {
                    Ok("the tier's step records produce this product".into())
                } else {
                    Err(format!("none of the tier's step records produces {digest}"))
                },
            );
        }
        let mut inputs: Vec<Artifact> = records
            .iter()
            .flat_map(|r| r.materials.iter())
            .filter(|m| !products.contains(m.sha256.as_str()))
            .cloned()
            .collect();
        inputs.sort();
        inputs.dedup();
        note(
            &mut checks,
            &mut reasons,
            "verdict",
            Ok(summary.verification_result.clone()),
        );
        let tier = match (reasons.is_empty(), receipt, tier_spec, spec) {
            (true, Ok(receipt), Some(spec), Ok((_, ordering))) => Some(VerifiedTier {
                vsa,
                spec,
                receipt,
                verifier_org,
                ordering_party: ordering,
                performed_by: performers,
                inputs,
            }),
            _ => None,
        };
        Attempt {
            summary: Some(summary),
            checks,
            reasons,
            tier,
            ordering_at,
        }
    }
}

fn subject_name_of(bytes: &[u8], digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    statement_of(bytes)
        .and_then(|st| {
            st.subject
                .into_iter()
                .find(|s| s.sha256() == Some(hex))
                .map(|s| s.name)
        })
        .unwrap_or_default()
}

fn failure_text(f: &Failure) -> String {
    let mut s = format!("[{}]", f.check);
    if !f.step.is_empty() {
        s.push_str(&format!(" step {}:", f.step));
    }
    s.push(' ');
    s.push_str(&f.reason);
    if !f.value.is_empty() {
        s.push_str(&format!(" (value {})", f.value));
    }
    s
}

/// Renders a report as an indented text tree (one line per product, reasons below it).
pub fn render_text(report: &ChainReport) -> String {
    fn line(n: &ChainNode, indent: usize, out: &mut String) {
        let pad = "  ".repeat(indent);
        let mark = match n.status {
            Status::Passed => "PASSED",
            Status::Failed => "FAILED",
            Status::NotEvaluated => "NOT EVALUATED",
        };
        let who = n
            .vsa
            .as_ref()
            .map(|v| {
                format!(
                    " [verified by {}, spec {:?} of {}]",
                    v.verifier_org, v.spec_name, v.ordering_party
                )
            })
            .unwrap_or_default();
        let by = if n.performed_by.is_empty() {
            String::new()
        } else {
            format!(" made by {}", n.performed_by.join(", "))
        };
        let name = if n.name.is_empty() {
            "?"
        } else {
            n.name.as_str()
        };
        out.push_str(&format!(
            "{pad}{mark:<13} {name} ({}){by}{who}{}\n",
            short(&n.product),
            match (n.repeated, n.status, n.chain_status) {
                (true, _, _) => " (shown above)",
                (false, Status::Passed, Status::Failed) => " <- upstream FAILED",
                (false, Status::Passed, Status::NotEvaluated) => " <- upstream NOT EVALUATED",
                _ => "",
            }
        ));
        for r in &n.reasons {
            out.push_str(&format!("{pad}              - {r}\n"));
        }
        for i in &n.inputs {
            line(i, indent + 1, out);
        }
    }
    let mut out = String::new();
    for r in &report.roots {
        line(r, 0, &mut out);
    }
    let s = &report.summary;
    out.push_str(&format!(
        "chain of {}: {} ({} products: {} passed, {} failed, {} not evaluated)\n",
        report.query,
        match report.overall {
            Status::Passed => "PASSED",
            Status::Failed => "FAILED",
            Status::NotEvaluated => "NOT EVALUATED",
        },
        s.products,
        s.passed,
        s.failed,
        s.not_evaluated
    ));
    out
}

fn short(d: &str) -> String {
    match d.strip_prefix("sha256:") {
        Some(h) if h.len() > 12 => format!("sha256:{}…", &h[..12]),
        _ => d.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_orders_failed_above_not_evaluated_above_passed() {
        assert_eq!(
            Status::Passed.worst(Status::NotEvaluated),
            Status::NotEvaluated
        );
        assert_eq!(Status::NotEvaluated.worst(Status::Failed), Status::Failed);
        assert_eq!(Status::Passed.worst(Status::Passed), Status::Passed);
    }

    #[test]
    fn status_serialises_in_snake_case() {
        assert_eq!(
            serde_json::to_string(&Status::NotEvaluated).expect("json"),
            "\"not_evaluated\""
        );
    }

    struct Empty;
    impl ChainSource for Empty {
        fn vsas_for_digest(&self, _: &str, _: usize) -> Result<Vec<SourceEntry>, SourceError> {
            Ok(Vec::new())
        }
        fn vsas_for_name(&self, _: &str, _: usize) -> Result<Vec<SourceEntry>, SourceError> {
            Ok(Vec::new())
        }
        fn entry(&self, _: &str) -> Result<Option<SourceEntry>, SourceError> {
            Ok(None)
        }
        fn receipt(&self, _: &SourceEntry) -> Result<Option<SourceReceipt>, SourceError> {
            Ok(None)
        }
    }

    #[test]
    fn an_empty_store_is_never_a_pass() {
        let opts = ChainOptions {
            max_depth: 4,
            now_unix: 0,
        };
        let r = verify_chain(
            &Empty,
            &ChainTrust::default(),
            &format!("sha256:{}", "a".repeat(64)),
            &opts,
        );
        assert_eq!(r.overall, Status::NotEvaluated);
        assert!(!r.passed());
        let r = verify_chain(&Empty, &ChainTrust::default(), "urn:lot:1", &opts);
        assert_eq!(r.overall, Status::NotEvaluated);
        assert!(r.roots[0].reasons[0].contains("no verification summary"));
    }
}
