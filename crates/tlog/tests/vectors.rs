//! Runs every inclusion and consistency vector of the transparency-dev `merkle` project
//! (shared at `../shared/data/merkle-testdata/testdata`, see its README) through the byte-level
//! verifiers and asserts the outcome each file expects (`wantErr`).

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use shinrai_tlog::{verify_consistency_bytes, verify_inclusion_bytes};

const TESTDATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/merkle-testdata/testdata"
);

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read test vectors at {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

fn load(kind: &str) -> Vec<(PathBuf, Value)> {
    let mut files = Vec::new();
    json_files(&Path::new(TESTDATA).join(kind), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read vector");
            let v: Value = serde_json::from_str(&text).expect("vector is JSON");
            (p, v)
        })
        .collect()
}

fn b64(v: &Value) -> Vec<u8> {
    STANDARD
        .decode(v.as_str().expect("base64 string"))
        .expect("valid base64")
}

fn proof(v: &Value) -> Vec<Vec<u8>> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().map(b64).collect(),
        other => panic!("unexpected proof {other}"),
    }
}

fn u64_field(v: &Value, name: &str) -> u64 {
    v[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} is a u64"))
}

#[test]
fn every_inclusion_vector_has_the_expected_outcome() {
    let vectors = load("inclusion");
    assert!(vectors.len() >= 90, "found only {} vectors", vectors.len());
    let mut failures = Vec::new();
    for (path, v) in &vectors {
        let got = verify_inclusion_bytes(
            u64_field(v, "leafIdx"),
            u64_field(v, "treeSize"),
            &b64(&v["leafHash"]),
            &proof(&v["proof"]),
            &b64(&v["root"]),
        );
        let want_err = v["wantErr"].as_bool().expect("wantErr");
        if got.is_err() != want_err {
            failures.push(format!(
                "{}: want_err={want_err}, got {got:?}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_consistency_vector_has_the_expected_outcome() {
    let vectors = load("consistency");
    assert!(vectors.len() >= 90, "found only {} vectors", vectors.len());
    let mut failures = Vec::new();
    for (path, v) in &vectors {
        let got = verify_consistency_bytes(
            u64_field(v, "size1"),
            u64_field(v, "size2"),
            &proof(&v["proof"]),
            &b64(&v["root1"]),
            &b64(&v["root2"]),
        );
        let want_err = v["wantErr"].as_bool().expect("wantErr");
        if got.is_err() != want_err {
            failures.push(format!(
                "{}: want_err={want_err}, got {got:?}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn vector_directories_contain_passing_and_failing_cases() {
    for kind in ["inclusion", "consistency"] {
        let vectors = load(kind);
        let passing = vectors
            .iter()
            .filter(|(_, v)| v["wantErr"] == Value::Bool(false))
            .count();
        assert!(passing > 0 && passing < vectors.len(), "{kind}");
    }
}
