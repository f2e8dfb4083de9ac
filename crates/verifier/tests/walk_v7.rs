//! 7.2's walk switches that bpfcheck models, checked against what Debian's
//! 7.2.13 answered under QEMU (`fixtures/kernels/7.2.json`). The walk of
//! the 7.2 profile is still refused as a whole (scalar ranges as circular
//! numbers and the other pervasive switches), so each fixture is verified
//! with a 7.2 profile whose unmodelled switches are off: the fixtures
//! chosen here meet none of those differences, and their verdict, error
//! and processed-instruction count must be 7.2's.

use std::path::PathBuf;

use bpfcheck_asm::Fixture;
use bpfcheck_profile::KernelProfile;
use bpfcheck_verifier::{LOG_LEVEL1, Verdict, VerifyOptions, verify};
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// 7.2 with only the switches bpfcheck models left on.
fn modelled_7_2() -> KernelProfile {
    let mut p = KernelProfile::builtin("7.2").unwrap();
    let v = &mut p.features.walk_v7;
    v.cnum_scalars = false;
    v.ptr_offset_in_var_off = false;
    v.static_stack_liveness = false;
    p
}

fn recorded(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join("kernels/7.2.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["programs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} not recorded"))
        .clone()
}

fn check(name: &str) {
    let text = std::fs::read_to_string(fixtures().join(format!("{name}.s"))).unwrap();
    let req = Fixture::parse(&text).unwrap().load_request(name);
    let v = verify(
        &req,
        &modelled_7_2(),
        &VerifyOptions {
            log_level: LOG_LEVEL1,
        },
    );
    let k = recorded(name);
    match v.verdict {
        Verdict::Accepted => assert_eq!(k["verdict"], "accepted", "{name}"),
        Verdict::Rejected => {
            let e = v.error.unwrap();
            assert_eq!(k["verdict"], "rejected", "{name}");
            assert_eq!(k["error"].as_str(), Some(e.message.as_str()), "{name}");
            assert_eq!(k["errno"].as_i64(), Some(i64::from(e.errno.0)), "{name}");
        }
        Verdict::Unsupported => panic!("{name}: {:?}", v.unsupported),
    }
    let stats = v.stats.expect("statistics");
    assert_eq!(
        k["insns_processed"].as_u64(),
        Some(stats.insns_processed),
        "{name}"
    );
}

#[test]
fn release_of_an_unreferenced_socket_names_the_helper() {
    check("asm/sock_release_unreferenced");
}

#[test]
fn kprobes_write_their_registers() {
    check("asm/ctx_kprobe_write");
}

#[test]
fn a_register_known_to_be_zero_null_checks() {
    check("asm/sock_cmp_scalar");
}

#[test]
fn recursion_is_refused_before_the_walk() {
    check("asm/call_recursion");
    check("malformed/call_self");
}

/// 7.x's statistics lines: `stack depth … max M`, the deepest chain
/// `check_max_stack_depth` found (16 + 16 + 0 bytes, each rounded to 16),
/// and `insns processed` for the main program alone.
#[test]
fn statistics_have_the_maximum_depth_and_the_count_per_function() {
    let name = "asm/call_nested_stack";
    let text = std::fs::read_to_string(fixtures().join(format!("{name}.s"))).unwrap();
    let req = Fixture::parse(&text).unwrap().load_request(name);
    let v = verify(
        &req,
        &modelled_7_2(),
        &VerifyOptions {
            log_level: LOG_LEVEL1 | bpfcheck_verifier::LOG_STATS,
        },
    );
    assert_eq!(v.verdict, Verdict::Accepted, "{:?}", v.unsupported);
    let stats = v.stats.unwrap();
    assert_eq!(
        stats.level4_lines(),
        "stack depth 16+8+0 max 32\ninsns processed 18\n"
    );
    assert_eq!(
        Some(stats.insns_processed),
        recorded(name)["insns_processed"].as_u64()
    );
}

/// How far the modelled switches take the 7.2 profile once the
/// unmodelled ones are off: every recorded fixture, verdict, error and
/// processed instructions, counted (`cargo test --test walk_v7 --
/// --ignored --nocapture`). A measurement, not a check: the differences
/// are those of the unmodelled switches.
#[test]
#[ignore]
fn measure_modelled_switches_on_the_fixtures() {
    let text = std::fs::read_to_string(fixtures().join("kernels/7.2.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let profile = modelled_7_2();
    let (mut judged, mut verdict, mut error, mut rejected, mut insns) = (0, 0, 0, 0, 0);
    for p in doc["programs"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let Ok(text) = std::fs::read_to_string(fixtures().join(format!("{name}.s"))) else {
            continue;
        };
        let fx = Fixture::parse(&text).unwrap();
        if !fx.kernel_symbols().is_empty() {
            continue;
        }
        let v = verify(
            &fx.load_request(name),
            &profile,
            &VerifyOptions {
                log_level: LOG_LEVEL1,
            },
        );
        let ours = match v.verdict {
            Verdict::Unsupported => continue,
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
        };
        judged += 1;
        verdict += u32::from(p["verdict"] == ours);
        if p["verdict"] != ours {
            println!("verdict {name}: kernel {}, bpfcheck {ours}", p["verdict"]);
        }
        if p["verdict"] == "rejected" {
            rejected += 1;
            let msg = v.error.as_ref().map(|e| e.message.as_str());
            let same = p["error"].as_str() == msg;
            error += u32::from(same);
            if !same {
                println!("error {name}: kernel {:?}, bpfcheck {msg:?}", p["error"]);
            }
        }
        let same = p["insns_processed"].as_u64() == v.stats.map(|s| s.insns_processed);
        insns += u32::from(same);
        if !same {
            println!("insns {name}");
        }
    }
    println!(
        "7.2 with the unmodelled switches off: {judged} judged, verdict {verdict}, first error {error} of {rejected}, insns {insns}"
    );
}
