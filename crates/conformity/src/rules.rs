//! in-toto v1.0 artifact rules and their evaluation, as Python in-toto 3.1 evaluates them.
//!
//! A rule is written as in a layout, a list of words:
//! `MATCH <pattern> [IN <prefix>] WITH (MATERIALS|PRODUCTS) [IN <prefix>] FROM <step>`,
//! `CREATE|DELETE|MODIFY|ALLOW|DISALLOW|REQUIRE <pattern>`. Rules run in order over a queue of
//! the step's artifact names; each consumes what it accounts for; `DISALLOW` fails if a queued
//! artifact matches, `REQUIRE` fails if its name is not queued. `MATCH` never fails by itself: an
//! artifact that differs from the other step's stays queued for a later `DISALLOW`. Patterns
//! are Python `fnmatch` globs (`*` also matches `/`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Which artifact set of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ArtifactSet {
    /// What the step consumed.
    Materials,
    /// What the step produced.
    Products,
}

impl ArtifactSet {
    /// `"materials"` or `"products"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactSet::Materials => "materials",
            ArtifactSet::Products => "products",
        }
    }
}

/// One artifact rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactRule {
    /// Consume artifacts equal (same digest) to the named artifacts of another step.
    Match {
        /// Glob over names (after removing `source_prefix`).
        pattern: String,
        /// Prefix of the names in this step.
        source_prefix: Option<String>,
        /// Which set of the other step.
        dest_set: ArtifactSet,
        /// Prefix of the names in the other step.
        dest_prefix: Option<String>,
        /// The other step.
        dest_step: String,
    },
    /// Consume products not among the materials.
    Create(String),
    /// Consume materials not among the products.
    Delete(String),
    /// Consume artifacts present in both sets with different digests.
    Modify(String),
    /// Consume matching artifacts.
    Allow(String),
    /// Fail if a queued artifact matches.
    Disallow(String),
    /// Fail unless this exact name is queued.
    Require(String),
}

impl ArtifactRule {
    /// Reads a rule from its layout form (keywords case-insensitive).
    pub fn parse(words: &[String]) -> Result<Self> {
        let bad = || {
            Error::InvalidSpec(format!(
                "artifact rule {words:?} does not follow the in-toto rule grammar"
            ))
        };
        let kw = |i: usize| words.get(i).map(|w| w.to_ascii_uppercase());
        let arg = |i: usize| words.get(i).cloned().ok_or_else(bad);
        let one = |w: &[String]| {
            if w.len() == 2 {
                Ok(w[1].clone())
            } else {
                Err(bad())
            }
        };
        match kw(0).as_deref() {
            Some("CREATE") => Ok(ArtifactRule::Create(one(words)?)),
            Some("DELETE") => Ok(ArtifactRule::Delete(one(words)?)),
            Some("MODIFY") => Ok(ArtifactRule::Modify(one(words)?)),
            Some("ALLOW") => Ok(ArtifactRule::Allow(one(words)?)),
            Some("DISALLOW") => Ok(ArtifactRule::Disallow(one(words)?)),
            Some("REQUIRE") => Ok(ArtifactRule::Require(one(words)?)),
            Some("MATCH") => {
                let pattern = arg(1)?;
                let mut i = 2;
                let mut source_prefix = None;
                if kw(i).as_deref() == Some("IN") {
                    source_prefix = Some(arg(i + 1)?);
                    i += 2;
                }
                if kw(i).as_deref() != Some("WITH") {
                    return Err(bad());
                }
                let dest_set = match kw(i + 1).as_deref() {
                    Some("MATERIALS") => ArtifactSet::Materials,
                    Some("PRODUCTS") => ArtifactSet::Products,
                    _ => return Err(bad()),
                };
                i += 2;
                let mut dest_prefix = None;
                if kw(i).as_deref() == Some("IN") {
                    dest_prefix = Some(arg(i + 1)?);
                    i += 2;
                }
                if kw(i).as_deref() != Some("FROM") || words.len() != i + 2 {
                    return Err(bad());
                }
                Ok(ArtifactRule::Match {
                    pattern,
                    source_prefix,
                    dest_set,
                    dest_prefix,
                    dest_step: arg(i + 1)?,
                })
            }
            _ => Err(bad()),
        }
    }

    /// The rule in its layout form.
    pub fn to_words(&self) -> Vec<String> {
        let w = |k: &str, p: &str| vec![k.to_owned(), p.to_owned()];
        match self {
            ArtifactRule::Create(p) => w("CREATE", p),
            ArtifactRule::Delete(p) => w("DELETE", p),
            ArtifactRule::Modify(p) => w("MODIFY", p),
            ArtifactRule::Allow(p) => w("ALLOW", p),
            ArtifactRule::Disallow(p) => w("DISALLOW", p),
            ArtifactRule::Require(p) => w("REQUIRE", p),
            ArtifactRule::Match {
                pattern,
                source_prefix,
                dest_set,
                dest_prefix,
                dest_step,
            } => {
                let mut v = vec!["MATCH".to_owned(), pattern.clone()];
                if let Some(p) = source_prefix {
                    v.extend(["IN".to_owned(), p.clone()]);
                }
                v.extend(["WITH".to_owned(), dest_set.as_str().to_ascii_uppercase()]);
                if let Some(p) = dest_prefix {
                    v.extend(["IN".to_owned(), p.clone()]);
                }
                v.extend(["FROM".to_owned(), dest_step.clone()]);
                v
            }
        }
    }
}

/// A step's artifacts by name -> SHA-256, as the rules see them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepArtifacts {
    /// Materials by name.
    pub materials: BTreeMap<String, String>,
    /// Products by name.
    pub products: BTreeMap<String, String>,
}

impl StepArtifacts {
    fn set(&self, s: ArtifactSet) -> &BTreeMap<String, String> {
        match s {
            ArtifactSet::Materials => &self.materials,
            ArtifactSet::Products => &self.products,
        }
    }
}

fn join_prefix(prefix: &str, path: &str) -> String {
    // os.path.join(prefix, path) with '/' separators.
    if prefix.is_empty() || prefix.ends_with('/') {
        format!("{prefix}{path}")
    } else {
        format!("{prefix}/{path}")
    }
}

/// Evaluates `rules` over the `set` of step `step` as in-toto does. `steps` holds the artifacts
/// of every step that has evidence. Returns the reason of the first failing rule.
pub fn verify_rules(
    step: &str,
    set: ArtifactSet,
    rules: &[ArtifactRule],
    steps: &BTreeMap<String, StepArtifacts>,
) -> std::result::Result<(), String> {
    let Some(own) = steps.get(step) else {
        return Err(format!("no evidence for step {step:?}"));
    };
    let artifacts = own.set(set);
    let mut queue: BTreeSet<String> = artifacts.keys().cloned().collect();
    let materials: BTreeSet<&String> = own.materials.keys().collect();
    let products: BTreeSet<&String> = own.products.keys().collect();
    for rule in rules {
        let consumed: BTreeSet<String> = match rule {
            ArtifactRule::Match { pattern, source_prefix, dest_set, dest_prefix, dest_step } => {
                let Some(dest) = steps.get(dest_step) else {
                    continue;
                };
                let dest_artifacts = dest.set(*dest_set);
                let mut consumed = BTreeSet::new();
                for full in &queue {
                    let rel = match source_prefix {
                        Some(p) => {
                            let norm = join_prefix(p, "");
                            match full.strip_prefix(&norm) {
                                Some(r) => r,
                                None => continue,
                            }
                        }
                        None => full.as_str(),
                    };
                    if !fnmatch(rel, pattern) {
                        continue;
                    }
                    let dest_path = match dest_prefix {
                        Some(p) => join_prefix(p, rel),
                        None => rel.to_owned(),
                    };
                    if dest_artifacts.get(&dest_path) == artifacts.get(full) {
                        consumed.insert(full.clone());
                    }
                }
                consumed
            }
            ArtifactRule::Create(p) => queue
                .iter()
                .filter(|a| fnmatch(a, p) && products.contains(a) && !materials.contains(a))
                .cloned()
                .collect(),
            ArtifactRule::Delete(p) => queue
                .iter()
                .filter(|a| fnmatch(a, p) && materials.contains(a) && !products.contains(a))
                .cloned()
                .collect(),
            ArtifactRule::Modify(p) => queue
                .iter()
                .filter(|a| {
                    fnmatch(a, p)
                        && matches!((own.materials.get(*a), own.products.get(*a)), (Some(m), Some(q)) if m != q)
                })
                .cloned()
                .collect(),
            ArtifactRule::Allow(p) => queue.iter().filter(|a| fnmatch(a, p)).cloned().collect(),
            ArtifactRule::Disallow(p) => {
                let hit: Vec<&String> = queue.iter().filter(|a| fnmatch(a, p)).collect();
                if !hit.is_empty() {
                    return Err(format!(
                        "step {step:?} {}: 'DISALLOW {p}' matched {hit:?} (not accounted for by the earlier rules, e.g. not matching the other step's artifacts)",
                        set.as_str()
                    ));
                }
                BTreeSet::new()
            }
            ArtifactRule::Require(name) => {
                if !queue.contains(name) {
                    return Err(format!("step {step:?} {}: 'REQUIRE {name}' did not find it", set.as_str()));
                }
                BTreeSet::new()
            }
        };
        queue.retain(|a| !consumed.contains(a));
    }
    Ok(())
}

/// Python `fnmatch.fnmatchcase`: `*` any run (including `/`), `?` one character, `[seq]`,
/// `[!seq]` with ranges.
pub fn fnmatch(name: &str, pattern: &str) -> bool {
    let n: Vec<char> = name.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // Iterative matcher with single-star backtracking.
    let (mut i, mut j) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < n.len() {
        if j < p.len() {
            match p[j] {
                '*' => {
                    star = Some((j, i));
                    j += 1;
                    continue;
                }
                '?' => {
                    i += 1;
                    j += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(&p, j, n[i]) {
                        if matched {
                            i += 1;
                            j = next;
                            continue;
                        }
                    } else if n[i] == '[' {
                        i += 1;
                        j += 1;
                        continue;
                    }
                }
                c if c == n[i] => {
                    i += 1;
                    j += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sj, si)) => {
                j = sj + 1;
                i = si + 1;
                star = Some((sj, si + 1));
            }
            None => return false,
        }
    }
    p[j..].iter().all(|c| *c == '*')
}

/// Matches `c` against the class starting at `p[j] == '['`; returns (matched, index after `]`),
/// or `None` when the class is not closed (then `[` is literal, as in Python).
fn class(p: &[char], j: usize, c: char) -> Option<(bool, usize)> {
    let mut k = j + 1;
    let negate = p.get(k) == Some(&'!');
    if negate {
        k += 1;
    }
    let start = k;
    let mut matched = false;
    while k < p.len() {
        if p[k] == ']' && k > start {
            return Some((matched != negate, k + 1));
        }
        if k + 2 < p.len() && p[k + 1] == '-' && p[k + 2] != ']' {
            if p[k] <= c && c <= p[k + 2] {
                matched = true;
            }
            k += 3;
        } else {
            if p[k] == c {
                matched = true;
            }
            k += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn fnmatch_behaves_like_python() {
        assert!(fnmatch("lot/a.bin", "*"));
        assert!(fnmatch("lot/a.bin", "lot/*.bin"));
        assert!(fnmatch("a/b/c", "a*c"));
        assert!(fnmatch("x1", "x?"));
        assert!(!fnmatch("x12", "x?"));
        assert!(fnmatch("b", "[abc]"));
        assert!(!fnmatch("d", "[abc]"));
        assert!(fnmatch("d", "[!abc]"));
        assert!(fnmatch("5", "[0-9]"));
        assert!(fnmatch("[", "["));
        assert!(!fnmatch("abc", "ab"));
        assert!(fnmatch("", "*"));
    }

    #[test]
    fn rules_parse_and_print_in_layout_form() {
        for s in [
            "MATCH * WITH PRODUCTS FROM cast",
            "MATCH *.bin IN src WITH MATERIALS IN out FROM press",
            "CREATE *",
            "DISALLOW *",
            "REQUIRE body",
        ] {
            let r = ArtifactRule::parse(&w(s)).expect(s);
            assert_eq!(r.to_words(), w(s));
        }
        assert!(ArtifactRule::parse(&w("MATCH * WITH THINGS FROM x")).is_err());
        assert!(ArtifactRule::parse(&w("EXPLODE *")).is_err());
        assert!(ArtifactRule::parse(&w("CREATE")).is_err());
    }

    #[test]
    fn a_swapped_artifact_stays_queued_and_is_disallowed() {
        let mut steps = BTreeMap::new();
        steps.insert(
            "cast".to_owned(),
            StepArtifacts {
                materials: BTreeMap::new(),
                products: BTreeMap::from([("part".to_owned(), "aa".to_owned())]),
            },
        );
        steps.insert(
            "mill".to_owned(),
            StepArtifacts {
                materials: BTreeMap::from([("part".to_owned(), "bb".to_owned())]),
                products: BTreeMap::new(),
            },
        );
        let rules = [
            ArtifactRule::parse(&w("MATCH * WITH PRODUCTS FROM cast")).expect("rule"),
            ArtifactRule::parse(&w("DISALLOW *")).expect("rule"),
        ];
        let err = verify_rules("mill", ArtifactSet::Materials, &rules, &steps).expect_err("swap");
        assert!(err.contains("DISALLOW"), "{err}");
        steps
            .get_mut("mill")
            .expect("mill")
            .materials
            .insert("part".into(), "aa".into());
        verify_rules("mill", ArtifactSet::Materials, &rules, &steps).expect("match");
    }
}
