//! Rejections rendered as diagnostics, one snapshot per class of the
//! catalogue, on committed fixtures: `tests/diagnostics/rejections.c`
//! (built with `clang-19 -g`, so that line info exists) with the running
//! kernel's recorded answers in `recorded.json`, and assembler fixtures
//! whose kernel answers are recorded in their `;! expect:` lines.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

fn bpfcheck(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_bpfcheck"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run bpfcheck");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn diagnostics_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics")
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn recorded() -> Vec<Value> {
    let text = std::fs::read_to_string(diagnostics_dir().join("recorded.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `bpfcheck explain` of the one recorded record of `program`.
fn explain(program: &str) -> String {
    let rec = recorded()
        .into_iter()
        .find(|r| r["program"] == program)
        .unwrap_or_else(|| panic!("no recorded program {program}"));
    let tmp = std::env::temp_dir().join(format!(
        "bpfcheck-diag-{}-{program}.json",
        std::process::id()
    ));
    std::fs::write(&tmp, serde_json::to_string(&vec![rec]).unwrap()).unwrap();
    let (code, out, err) = bpfcheck(
        &diagnostics_dir(),
        &["explain", tmp.to_str().unwrap(), "--color", "never"],
    );
    let _ = std::fs::remove_file(&tmp);
    assert_eq!(code, Some(1), "{err}");
    out
}

macro_rules! class_snapshot {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let out = explain(stringify!($name));
            assert!(out.starts_with(concat!("error[", stringify!($name), "]")), "{out}");
            assert!(out.contains("= help: "), "{out}");
            insta::assert_snapshot!(out);
        }
    )*};
}

class_snapshot!(
    missing_null_check,
    helper_arg_type,
    packet_range,
    reordered_bound_check,
    unbounded_index,
    stack_bounds,
    uninit_register,
    reference_leak,
    lock_across_call,
    infinite_loop,
    too_complex,
    helper_not_allowed,
);

/// bpfcheck's own rejection of a committed assembler fixture (whose
/// `;! expect:` line records the kernel's same answer), with the causal
/// account its walk gives: one per class bpfcheck can judge.
fn own_account(fixture: &str) -> String {
    let (code, out, err) = bpfcheck(&fixtures_dir(), &["check", fixture, "--color", "never"]);
    assert_eq!(code, Some(1), "{err}");
    out
}

macro_rules! own_account_snapshot {
    ($($name:ident: $class:literal in $fixture:literal),* $(,)?) => {$(
        #[test]
        fn $name() {
            let out = own_account($fixture);
            assert!(out.starts_with(concat!("error[", $class, "]")), "{out}");
            assert!(out.contains("= help: "), "{out}");
            // The account, not the bare path.
            assert!(!out.contains("where the values came from"), "{out}");
            insta::assert_snapshot!(out);
        }
    )*};
}

own_account_snapshot!(
    account_missing_null_check: "missing_null_check" in "asm/map_value_or_null_deref.s",
    account_helper_arg_type: "helper_arg_type" in "asm/map_arg_ctx.s",
    account_packet_range: "packet_range" in "asm/pkt_beyond_access.s",
    account_reordered_bound_check: "reordered_bound_check" in "asm/pkt_neg_var.s",
    account_unbounded_index: "unbounded_index" in "asm/map_value_oob.s",
    account_stack_bounds: "stack_bounds" in "asm/call_too_deep.s",
    account_uninit_register: "uninit_register" in "asm/dc_uninit_on_one_path.s",
    account_uninit_register_clobbered: "uninit_register" in "asm/ld_abs_clobbers.s",
    account_infinite_loop: "infinite_loop" in "asm/loop_infinite.s",
    account_helper_not_allowed: "helper_not_allowed" in "asm/ld_abs_xdp.s",
    account_scalar_deref: "scalar_deref" in "asm/dc_scalar_deref.s",
    account_ctx_access: "ctx_access" in "asm/ctx_cgroup_skb_hidden.s",
    account_malformed_insn: "malformed_insn" in "malformed/call_out_of_range.s",
    account_malformed_insn_constant: "malformed_insn" in "malformed/div_k_zero.s",
    account_pointer_arith_constant: "pointer_arith" in "asm/pkt_off_limit.s",
    account_unknown_opcode: "unknown_opcode" in "malformed/unknown_alu_op.s",
    account_return_value: "return_value" in "asm/retval_cgroup_skb_egress.s",
    account_object_access: "object_access" in "asm/atomic_map_rdonly.s",
    account_pointer_arith: "pointer_arith" in "asm/pkt_end_arith.s",
);

/// `bpfcheck explain` of the kernel's recorded answer for an assembler
/// fixture (`recorded-asm.json`, from `bpfcheck kernel … --format json`),
/// for classes whose programs bpfcheck does not judge: the account, when
/// there is one, is from bpfcheck's own walk of the fixture.
fn explain_fixture(program: &str) -> String {
    let text = std::fs::read_to_string(diagnostics_dir().join("recorded-asm.json")).unwrap();
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    let rec = all
        .into_iter()
        .find(|r| r["program"] == program)
        .unwrap_or_else(|| panic!("no recorded program {program}"));
    let tmp = std::env::temp_dir().join(format!(
        "bpfcheck-diag-asm-{}-{program}.json",
        std::process::id()
    ));
    std::fs::write(&tmp, serde_json::to_string(&vec![rec]).unwrap()).unwrap();
    let (code, out, err) = bpfcheck(
        &fixtures_dir(),
        &["explain", tmp.to_str().unwrap(), "--color", "never"],
    );
    let _ = std::fs::remove_file(&tmp);
    assert_eq!(code, Some(1), "{err}");
    out
}

#[test]
fn account_dynptr_iter_state_from_a_walk_stopped_at_the_call() {
    let out = explain_fixture("dynptr_read_uninit");
    assert!(out.starts_with("error[dynptr_iter_state]"), "{out}");
    // `arg #2` is R3, and bpfcheck's walk (which stops at the dynptr
    // helper, unsupported) shows where it came from.
    assert!(
        out.contains("where R3 came from, on the path bpfcheck walked"),
        "{out}"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn attach_target_has_a_hint_and_no_account() {
    let out = explain_fixture("tracing_no_attach");
    assert!(out.starts_with("error[attach_target]"), "{out}");
    assert!(out.contains("= help: "), "{out}");
    assert!(!out.contains("\nnote: "), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn every_recorded_rejection_has_a_source_line_and_a_hint() {
    let all = recorded();
    let rejected: Vec<&Value> = all.iter().filter(|r| r["verdict"] == "rejected").collect();
    assert_eq!(rejected.len(), 12);
    for r in rejected {
        assert!(r["source"]["line"].as_u64().is_some(), "{r}");
        assert!(r["hint"].as_str().is_some(), "{r}");
    }
}

/// bpfcheck's own rejection of a program without line info: the object
/// and instruction stand in for the source.
#[test]
fn unknown_opcode_without_line_info() {
    let (code, out, err) = bpfcheck(
        &fixtures_dir(),
        &["check", "malformed/unknown_alu_op.s", "--color", "never"],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(out.starts_with("error[unknown_opcode]"), "{out}");
    insta::assert_snapshot!(out);
}

/// bpfcheck's own verdict, with the path from its own log.
#[test]
fn stack_out_of_bounds_from_bpfchecks_own_log() {
    let (code, out, err) = bpfcheck(
        &fixtures_dir(),
        &["check", "asm/dc_stack_oob.s", "--color", "never"],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(out.starts_with("error[stack_bounds]"), "{out}");
    insta::assert_snapshot!(out);
}

/// `check` shows the failing path of its own rejections from the
/// verifier's recorded path, without a log level, the same instructions the
/// level-1 log shows; `--format json` carries it as `trace`.
#[test]
fn own_rejections_show_the_path_without_a_log_level() {
    let dir = fixtures_dir();
    let fx = "asm/map_value_or_null_deref.s";
    let (code, out, err) = bpfcheck(&dir, &["check", fx, "--color", "never"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        out.contains("on the path bpfcheck walked to the failure:")
            && out.contains("call bpf_map_lookup_elem#1")
            && out.contains("R0 = map_value_or_null(id=1,"),
        "{out}"
    );
    let (_, logged, _) = bpfcheck(&dir, &["check", fx, "--color", "never", "--log-level", "1"]);
    let path = |s: &str| {
        s.split_once("on the path bpfcheck walked to the failure:")
            .map(|(_, p)| {
                p.lines()
                    .take_while(|l| !l.starts_with("  log:"))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
    };
    assert_eq!(path(&out), path(&logged));
    let (_, json, _) = bpfcheck(&dir, &["check", fx, "--format", "json"]);
    let v: Value = serde_json::from_str(&json).unwrap();
    let steps = v[0]["trace"]["steps"].as_array().expect("trace steps");
    assert_eq!(steps.last().unwrap()["insn"], v[0]["error_insn"]);
    let (_, accepted, _) = bpfcheck(&dir, &["check", "asm/dc_branches.s", "--format", "json"]);
    assert!(!accepted.contains("\"trace\""), "{accepted}");
}

#[test]
fn colour_follows_the_flag() {
    let dir = fixtures_dir();
    let (_, always, _) = bpfcheck(
        &dir,
        &["check", "malformed/unknown_alu_op.s", "--color", "always"],
    );
    assert!(always.contains('\u{1b}'), "{always}");
    // Piped (as here), `auto` means none.
    let (_, auto, _) = bpfcheck(&dir, &["check", "malformed/unknown_alu_op.s"]);
    assert!(!auto.contains('\u{1b}'), "{auto}");
}

#[test]
fn sarif_of_the_kernels_answers_points_at_source_lines() {
    let (_, out, err) = bpfcheck(
        &diagnostics_dir(),
        &[
            "check",
            "../../../../fixtures/malformed/unknown_alu_op.s",
            "--format",
            "sarif",
        ],
    );
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    assert_eq!(v["runs"][0]["results"][0]["ruleId"], "unknown_opcode");
}

#[test]
fn stats_and_compare() {
    let dir = fixtures_dir();
    let (code, table, err) = bpfcheck(
        &dir,
        &[
            "stats",
            "malformed/unknown_alu_op.s",
            "asm/alu64.s",
            "--sort",
            "insns",
            "--format",
            "csv",
        ],
    );
    assert!(code.is_some_and(|c| c <= 3), "{err}");
    let mut lines = table.lines();
    assert_eq!(
        lines.next(),
        Some("program,type,kernel,verdict,insns,states,peak,max/insn,stack,time_us")
    );
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("asm/alu64.s:alu64,")),
        "{table}"
    );
    let (_, filtered, _) = bpfcheck(
        &dir,
        &[
            "stats",
            "malformed/unknown_alu_op.s",
            "asm/alu64.s",
            "--filter",
            "verdict=rejected",
        ],
    );
    assert_eq!(filtered.lines().count(), 2, "{filtered}");
    assert!(filtered.contains("unknown_alu_op"), "{filtered}");

    let tmp = std::env::temp_dir().join(format!("bpfcheck-cmp-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for k in ["6.1", "6.18"] {
        let (_, json, _) = bpfcheck(
            &dir,
            &[
                "check",
                "malformed/unknown_alu_op.s",
                "asm/alu64.s",
                "--kernel",
                k,
                "--format",
                "json",
            ],
        );
        std::fs::write(tmp.join(format!("{k}.json")), json).unwrap();
    }
    let a = tmp.join("6.1.json");
    let b = tmp.join("6.18.json");
    let (code, out, err) = bpfcheck(&dir, &["compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("unknown_alu_op.s:unknown_alu_op"), "{out}");
    assert!(out.contains("6.1->6.18"), "{out}");
    assert!(out.contains("programs changed"), "{out}");
    let _ = std::fs::remove_dir_all(&tmp);
}
