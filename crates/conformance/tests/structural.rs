//! Structural checks: on the malformed fixtures, bpfcheck's verdict, errno
//! and first error line equal the kernel's — the recorded answer always,
//! and the live kernel's where `bpf()` is usable (which also proves the
//! recordings are current).

use bpfcheck_asm::Expectation;
use bpfcheck_conformance::{CorpusProgram, asm_fixtures};
use bpfcheck_profile::KernelProfile;
use bpfcheck_sys::{LoadOptions, test_support::kernel_or_skip};
use bpfcheck_uapi::Errno;
use bpfcheck_verifier::{LOG_LEVEL1, Verdict, VerifyOptions, verify};

fn recorded(p: &CorpusProgram) -> (Errno, String) {
    match &p.expect {
        Some(Expectation::Rejected { errno, message }) => (*errno, message.clone()),
        other => panic!(
            "{}: malformed fixture must record a rejection, has {other:?}",
            p.label()
        ),
    }
}

#[test]
fn malformed_programs_get_the_kernels_first_error() {
    let profile = KernelProfile::builtin("6.18").unwrap();
    let mut agree = 0;
    let mut unjudged = Vec::new();
    let mut wrong = Vec::new();
    let corpus = asm_fixtures("malformed").unwrap();
    for p in &corpus {
        let (errno, message) = recorded(p);
        let v = verify(
            &p.request,
            &profile,
            &VerifyOptions {
                log_level: LOG_LEVEL1,
            },
        );
        match v.verdict {
            Verdict::Rejected => {
                let e = v.error.as_ref().unwrap();
                if e.errno == errno && e.message == message {
                    agree += 1;
                } else {
                    wrong.push(format!(
                        "{}: kernel {errno} `{message}`, bpfcheck {} `{}`",
                        p.label(),
                        e.errno,
                        e.message
                    ));
                }
            }
            // Errors that need register state come from the abstract
            // interpreter; bpfcheck must say it cannot judge them yet.
            Verdict::Unsupported => unjudged.push(format!("{} ({message})", p.name)),
            Verdict::Accepted => wrong.push(format!(
                "{}: kernel rejects ({message}), bpfcheck accepts",
                p.label()
            )),
        }
    }
    bpfcheck_conformance::report(&format!(
        "structural checks: {} malformed programs, {agree} first errors identical, {} unsupported (need abstract interpretation): {}",
        corpus.len(),
        unjudged.len(),
        unjudged.join(", ")
    ));
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(agree >= 40, "only {agree} first errors identical");
}

#[test]
fn recordings_match_the_live_kernel() {
    let Some(kernel) = kernel_or_skip("recordings_match_the_live_kernel") else {
        return;
    };
    let opts = LoadOptions {
        log_level: LOG_LEVEL1,
        ..LoadOptions::default()
    };
    let mut stale = Vec::new();
    let mut checked = 0;
    for sub in ["malformed", "asm", "heavy"] {
        for p in asm_fixtures(sub).unwrap() {
            let Some(expect) = &p.expect else { continue };
            let out = kernel
                .load(&p.request, &opts)
                .unwrap_or_else(|e| panic!("{}: {e}", p.label()));
            let live = if out.accepted {
                Expectation::Accepted
            } else {
                Expectation::Rejected {
                    errno: Errno(out.errno.unwrap_or(0)),
                    message: out.error_line.clone().unwrap_or_default(),
                }
            };
            checked += 1;
            if &live != expect {
                stale.push(format!(
                    "{}: recorded {expect:?}, live kernel {live:?}",
                    p.label()
                ));
            }
        }
    }
    bpfcheck_conformance::report(&format!(
        "recordings: {checked} fixtures re-checked against the live kernel, {} stale",
        stale.len()
    ));
    assert!(stale.is_empty(), "stale recordings:\n{}", stale.join("\n"));
}
