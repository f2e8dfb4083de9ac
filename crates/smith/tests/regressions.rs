//! The reduced disagreements `bpfcheck-smith diff` wrote to
//! `fixtures/regressions/`: each parses, round-trips through the fixture
//! writer's syntax, and (where `bpf()` works) still gets the recorded
//! answer from the running kernel.

use std::path::PathBuf;

use bpfcheck_asm::{Expectation, Fixture};
use bpfcheck_sys::{LoadOptions, test_support::kernel_or_skip};

fn fixtures() -> Vec<(PathBuf, Fixture)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/regressions");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("fixtures/regressions") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "s") {
            let text = std::fs::read_to_string(&path).expect("read fixture");
            let f = Fixture::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // The fixture writer spells BTF ids as numbers; a hand-edited
            // regression naming kernel symbols would need a kernel's BTF.
            if let Some(sym) = f.kernel_symbols().first() {
                panic!(
                    "{}: names {}: regressions keep the numeric ids they were found with",
                    path.display(),
                    sym.describe()
                );
            }
            out.push((path, f));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn regressions_parse_and_have_expectations() {
    let all = fixtures();
    assert!(!all.is_empty());
    for (path, f) in &all {
        assert!(f.expect.is_some(), "{}: no expectation", path.display());
        assert!(!f.insns.is_empty(), "{}", path.display());
    }
}

#[test]
fn regressions_match_live_kernel() {
    let Some(k) = kernel_or_skip("regressions_match_live_kernel") else {
        return;
    };
    for (path, f) in fixtures() {
        let req = f.load_request("regression");
        let out = k
            .load(&req, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        match f.expect {
            Some(Expectation::Accepted) => {
                assert!(out.accepted, "{}: {:?}", path.display(), out.error_line);
            }
            Some(Expectation::Rejected { errno, message }) => {
                assert!(!out.accepted, "{}: accepted", path.display());
                assert_eq!(out.errno, Some(errno.0), "{}", path.display());
                assert_eq!(
                    out.error_line.as_deref().unwrap_or("").trim_end(),
                    message.trim_end(),
                    "{}",
                    path.display()
                );
            }
            None => {}
        }
    }
}

/// What made each case a disagreement must not come back: bpfcheck gives
/// the recorded kernel answer (verdict, and for a rejection its errno and
/// error line) or, where it cannot judge a feature yet, `unsupported` —
/// never another answer.
#[test]
fn regressions_get_the_kernel_answer_or_unsupported() {
    use bpfcheck_verifier::{Verdict, VerifyOptions, verify};
    let profile = bpfcheck_profile::KernelProfile::builtin("6.18").expect("6.18 profile");
    let (mut agree, mut unsupported, mut wrong) = (0, 0, Vec::new());
    for (path, f) in fixtures() {
        let req = f.load_request("regression");
        let v = verify(&req, &profile, &VerifyOptions { log_level: 0 });
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let ok = match (&f.expect, v.verdict) {
            (_, Verdict::Unsupported) => {
                unsupported += 1;
                continue;
            }
            (Some(Expectation::Accepted), Verdict::Accepted) => true,
            (Some(Expectation::Rejected { errno, message }), Verdict::Rejected) => {
                let ours = v.error.as_ref();
                ours.is_some_and(|e| {
                    e.errno == *errno && e.message.trim_end() == message.trim_end()
                })
            }
            _ => false,
        };
        if ok {
            agree += 1;
        } else {
            wrong.push(format!(
                "{name}: expected {:?}, bpfcheck {:?} {:?}",
                f.expect, v.verdict, v.error
            ));
        }
    }
    println!(
        "regressions: {agree} agree, {unsupported} unsupported, {} wrong",
        wrong.len()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
