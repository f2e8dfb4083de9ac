//! Every fixture in the repository parses, and says what the kernel did.

use std::path::Path;

use bpfcheck_asm::{Expectation, Fixture};

fn fixtures(dir: &str) -> Vec<(String, Fixture)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(dir);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&root).expect("fixture directory") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "s") {
            let text = std::fs::read_to_string(&path).expect("fixture text");
            let name = path.display().to_string();
            match Fixture::parse(&text) {
                Ok(f) => out.push((name, f)),
                Err(e) => panic!("{name}: {e}"),
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn asm_fixtures_parse_and_record_a_verdict() {
    let all = fixtures("asm");
    assert!(all.len() >= 15);
    for (name, f) in &all {
        assert!(f.expect.is_some(), "{name} has no `;! expect:`");
        assert!(!f.insns.is_empty(), "{name} is empty");
    }
}

#[test]
fn malformed_fixtures_are_all_rejected() {
    let all = fixtures("malformed");
    assert!(all.len() >= 45);
    for (name, f) in &all {
        assert!(
            matches!(f.expect, Some(Expectation::Rejected { .. })),
            "{name} is not recorded as rejected"
        );
    }
}
