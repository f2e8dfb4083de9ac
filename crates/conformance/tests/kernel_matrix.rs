//! bpfcheck's profiles for other kernels against those kernels' real
//! answers: `fixtures/kernels/<profile>.json` records what each Debian
//! kernel, booted under QEMU by `bpfcheck-vm run-fixtures`, said about every
//! assembler fixture. Every program bpfcheck judges must get the same
//! verdict, errno and error line — except the divergences listed below,
//! which are known and explained; fixing one makes this test fail until the
//! list is updated, so the list never goes stale.

use std::collections::BTreeSet;

use bpfcheck_conformance::{fixtures_dir, report};
use bpfcheck_profile::KernelProfile;
use bpfcheck_verifier::{LOG_LEVEL1, Verdict, VerifyOptions, verify};
use serde_json::Value;

/// (profile, fixture): why bpfcheck differs from that real kernel.
const KNOWN: &[(&str, &str, &str)] = &[
    // bpfcheck has no 7.x profile yet; 6.18's rules stand in.
    (
        "7.2",
        "malformed/ja_x_form",
        "7.x has gotox (indirect jumps)",
    ),
    (
        "7.2",
        "malformed/unknown_ldx_mode_imm",
        "7.x checks the opcode table first",
    ),
    (
        "7.2",
        "malformed/call_self",
        "7.x refuses recursion before the walk (`recursive call from () to ()`)",
    ),
];

fn profile_for(name: &str) -> KernelProfile {
    KernelProfile::builtin(name).unwrap_or_else(|_| KernelProfile::for_release(name, None).unwrap())
}

#[test]
fn profiles_agree_with_the_real_kernels_they_describe() {
    let dir = fixtures_dir().join("kernels");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "recordings missing in {}", dir.display());
    let mut found = BTreeSet::new();
    for file in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let prof_name = doc["profile"].as_str().unwrap();
        let profile = profile_for(prof_name);
        let (mut judged, mut agree, mut unsupported) = (0, 0, 0);
        for p in doc["programs"].as_array().unwrap() {
            let name = p["name"].as_str().unwrap();
            let path = fixtures_dir().join(format!("{name}.s"));
            let text = std::fs::read_to_string(&path).unwrap();
            let req = bpfcheck_asm::Fixture::parse(&text)
                .unwrap()
                .load_request(name);
            let v = verify(
                &req,
                &profile,
                &VerifyOptions {
                    log_level: LOG_LEVEL1,
                },
            );
            let kernel_verdict = p["verdict"].as_str().unwrap();
            let same = match v.verdict {
                Verdict::Unsupported => {
                    unsupported += 1;
                    continue;
                }
                Verdict::Accepted => kernel_verdict == "accepted",
                Verdict::Rejected => {
                    let e = v.error.as_ref().unwrap();
                    let kernel_error = p["error"].as_str().unwrap_or("");
                    kernel_verdict == "rejected"
                        && p["errno"].as_i64() == Some(i64::from(e.errno.0))
                        && kernel_error == e.message
                }
            };
            judged += 1;
            if same {
                agree += 1;
            } else {
                found.insert((prof_name.to_owned(), name.to_owned()));
            }
        }
        report(&format!(
            "kernel matrix: profile {prof_name} vs {} (real kernel): {judged} judged, {agree} agree, {} differ, {unsupported} unsupported",
            doc["release"].as_str().unwrap_or("?"),
            judged - agree
        ));
    }
    let known: BTreeSet<(String, String)> = KNOWN
        .iter()
        .map(|(p, f, _)| ((*p).to_owned(), (*f).to_owned()))
        .collect();
    let new: Vec<_> = found.difference(&known).collect();
    let fixed: Vec<_> = known.difference(&found).collect();
    assert!(
        new.is_empty(),
        "new disagreements with real kernels: {new:?}"
    );
    assert!(
        fixed.is_empty(),
        "known divergences no longer differ (remove them from KNOWN): {fixed:?}"
    );
}
