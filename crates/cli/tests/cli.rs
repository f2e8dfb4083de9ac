//! The `bpfcheck` binary as users run it: exit statuses, output shapes,
//! errors that name the file, and no panic on any input.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use proptest::prelude::*;

fn bpfcheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfcheck"))
        .args(args)
        .output()
        .expect("run bpfcheck")
}

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(rel)
        .display()
        .to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bpfcheck-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn rejection_record_has_the_documented_fields() {
    let o = bpfcheck(&[
        "check",
        &fixture("malformed/unknown_alu_op.s"),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    let r = &v[0];
    for field in [
        "object",
        "program",
        "section",
        "prog_type",
        "kernel",
        "verdict",
        "errno",
        "error",
        "error_insn",
        "insns_processed",
        "max_states_per_insn",
        "total_states",
        "peak_states",
        "duration_us",
    ] {
        assert!(r.get(field).is_some(), "missing `{field}` in {r}");
    }
    assert_eq!(r["verdict"], "rejected");
    assert_eq!(r["errno"], 22);
    assert_eq!(r["error"], "unknown opcode e4");
    assert_eq!(r["kernel"], "6.18");
}

#[test]
fn log_level_gives_the_kernel_format_log() {
    let o = bpfcheck(&[
        "check",
        &fixture("malformed/unknown_alu_op.s"),
        "--format",
        "json",
        "--log-level",
        "2",
    ]);
    let log = json(&o)[0]["log"].as_str().unwrap().to_owned();
    assert_eq!(
        log,
        "func#0 @0\nunknown opcode e4\nprocessed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"
    );
}

#[test]
fn bundled_example_runs_without_arguments() {
    let o = bpfcheck(&["check"]);
    let out = stdout(&o);
    assert!(
        out.contains("example.bpf.o (bundled): count_and_filter (xdp) on 6.18"),
        "{out}"
    );
    // The XDP example is judged (the live kernel accepts it too).
    assert_eq!(o.status.code(), Some(0), "{out}");
}

#[test]
fn one_record_per_program_and_kernel() {
    let o = bpfcheck(&[
        "check",
        &fixture("malformed/jump_out_forward.s"),
        "--kernel",
        "5.10,6.1",
        "--kernel",
        "6.18",
        "--format",
        "json",
    ]);
    let v = json(&o);
    let kernels: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kernel"].as_str().unwrap())
        .collect();
    assert_eq!(kernels, ["5.10", "6.1", "6.18"]);
    let all = json(&bpfcheck(&[
        "check",
        &fixture("malformed/jump_out_forward.s"),
        "--kernel",
        "all",
        "--format",
        "json",
    ]));
    assert_eq!(all.as_array().unwrap().len(), 5);
}

#[test]
fn sarif_is_2_1_0_with_a_rule_per_class() {
    let o = bpfcheck(&[
        "check",
        &fixture("malformed/unknown_alu_op.s"),
        &fixture("malformed/unreachable_insn.s"),
        "--format",
        "sarif",
    ]);
    let v = json(&o);
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "bpfcheck");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    // Rules are the catalogue's classes; bpfcheck's finer error code stays
    // in the result's properties.
    assert_eq!(rules, ["unknown_opcode", "malformed_insn"]);
    assert_eq!(run["results"].as_array().unwrap().len(), 2);
    assert_eq!(run["results"][1]["level"], "error");
    assert_eq!(
        run["results"][1]["properties"]["errorCode"],
        "unreachable_insn"
    );
    assert!(run["tool"]["driver"]["rules"][1]["help"]["text"].is_string());
}

#[test]
fn disasm_prints_objects_in_the_kernels_syntax() {
    let o = bpfcheck(&["disasm", &fixture("c/socket_filter.v4.o")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.lines().any(|l| l.starts_with("0: (")), "{out}");
    assert!(out.contains("exit"), "{out}");
}

#[test]
fn raw_input_with_maps() {
    // r1 = map_fd(0); r0 = 0; exit — checked with one --map.
    let insns: [u8; 32] = [
        0x18, 0x11, 0, 0, 0, 0, 0, 0, //
        0, 0, 0, 0, 0, 0, 0, 0, //
        0xb7, 0, 0, 0, 0, 0, 0, 0, //
        0x95, 0, 0, 0, 0, 0, 0, 0,
    ];
    let p = tmp("maps.bin", &insns);
    let o = bpfcheck(&["check", "--raw", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(
        json(&o)[0]["error"],
        "fd 0 is not pointing to valid bpf_map"
    );
    let o = bpfcheck(&[
        "check",
        "--raw",
        p.to_str().unwrap(),
        "--map",
        "hash:4:8:16",
        "--format",
        "json",
    ]);
    // The kernel loads it (checked on 6.18); bpfcheck's verifier agrees.
    assert_eq!(json(&o)[0]["verdict"], "accepted");
}

#[test]
fn bad_input_is_exit_2_and_names_the_file() {
    let p = tmp("trunc.bin", &[0xb7, 0, 0, 0, 0]);
    let o = bpfcheck(&["check", "--raw", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("trunc.bin") && err.contains("trailing"),
        "{err}"
    );

    let p = tmp("junk.o", b"\x7fELF not really");
    let o = bpfcheck(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("junk.o"), "{}", stderr(&o));

    let o = bpfcheck(&["check", "/nonexistent/x.o"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/x.o"));

    let o = bpfcheck(&[
        "check",
        &fixture("malformed/unknown_alu_op.s"),
        "--kernel",
        "4.19",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown kernel profile `4.19`"),
        "{}",
        stderr(&o)
    );

    let ok = tmp(
        "ok.bin",
        &[0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
    );
    let o = bpfcheck(&[
        "check",
        "--raw",
        ok.to_str().unwrap(),
        "--map",
        "nosuch:4:4:1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown map type"), "{}", stderr(&o));
}

#[test]
fn light_skeletons_are_checked_as_their_loader_program() {
    let h = fixture("c/lskel_counter.lskel.h");
    let o = bpfcheck(&["check", &h, "--kernel", "6.18", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = &json(&o)[0];
    assert_eq!(r["program"], "__loader.prog");
    assert_eq!(r["prog_type"], "syscall");
    assert_eq!(r["verdict"], "accepted");

    // A malformed header: the file, line and column are named, exit 2.
    let text = std::fs::read_to_string(&h).unwrap();
    let at = text.find("opts.insns = (void *)\"").unwrap();
    let line = text[..at].matches('\n').count() + 1;
    let cases = [
        (
            "bad_escape.lskel.h",
            text.replacen("opts.insns = (void *)\"", "opts.insns = (void *)\"\\q", 1),
            format!("line {line}, column 24: unknown escape `\\q`"),
        ),
        (
            "bad_size.lskel.h",
            text.replacen("opts.insns_sz = ", "opts.insns_sz = 1", 1),
            "but the string holds".to_owned(),
        ),
        (
            "no_insns.lskel.h",
            text.replacen("opts.insns = (void *)", "opts.insns = ", 1),
            "no `opts.insns` string".to_owned(),
        ),
    ];
    for (name, body, want) in cases {
        let p = tmp(name, body.as_bytes());
        let o = bpfcheck(&["check", p.to_str().unwrap(), "--kernel", "6.18"]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(name) && err.contains(&want), "{name}: {err}");
    }
}

#[test]
fn diff_against_the_live_kernel() {
    if bpfcheck_sys::test_support::kernel_or_skip("diff_against_the_live_kernel").is_none() {
        return;
    }
    let o = bpfcheck(&[
        "diff",
        &fixture("malformed/unknown_alu_op.s"),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = &json(&o)[0];
    // By default bpfcheck judges with the running kernel's own profile.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(r["profile"], release.trim());
    assert_eq!(r["kernel"]["verdict"], "rejected");
    assert_eq!(r["kernel"]["error"], "unknown opcode e4");
    assert_eq!(
        r["agree"],
        serde_json::json!({"verdict": true, "error": true, "insns_processed": true, "log": true})
    );

    let o = bpfcheck(&["kernel", &fixture("asm/alu64.s"), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)[0]["verdict"], "accepted");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever the bytes, bpfcheck answers with a status, never a panic.
    #[test]
    fn random_inputs_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), elf in any::<bool>()) {
        let mut data = bytes;
        if elf {
            data.splice(0..0, *b"\x7fELF\x02\x01\x01\0");
        }
        let p = tmp("random.bin", &data);
        for args in [vec!["check", "--raw"], vec!["check"], vec!["disasm", "--raw"]] {
            let mut a = args.clone();
            a.push(p.to_str().unwrap());
            let o = bpfcheck(&a);
            let code = o.status.code();
            prop_assert!(matches!(code, Some(0..=3)), "{a:?}: status {code:?}: {}", stderr(&o));
            prop_assert!(!stderr(&o).contains("panicked"), "{a:?}: {}", stderr(&o));
        }
    }
}

#[test]
fn dump_lists_programs_maps_and_internal_maps_as_libbpf_names_them() {
    let o = bpfcheck(&["dump", &fixture("c/tc_globals.v4.o"), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = &json(&o)[0];
    assert_eq!(v["programs"][0]["prog_type"], "sched_cls");
    let maps: Vec<&str> = v["maps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    // libbpf: object-name prefix cut to fit 15 bytes with the section suffix.
    assert_eq!(maps, ["tc_globa.rodata", "tc_globa.bss", "tc_globa.data"]);
    assert_eq!(v["maps"][0]["frozen"], true);
    let text = stdout(&bpfcheck(&["dump", &fixture("c/tc_globals.v4.o")]));
    assert!(
        text.contains("tc_globa.rodata") && text.contains("frozen"),
        "{text}"
    );
}

#[test]
fn fixtures_naming_kernel_symbols_take_their_ids_from_the_profiles_btf() {
    let kfunc = fixture("asm/kfunc.s");
    // A built-in profile carries its kernel's BTF: 6.18's names both
    // kfuncs; 5.10 predates them, and the missing symbol is named.
    let o = bpfcheck(&["disasm", &kfunc, "--kernel", "6.18"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("call bpf_rcu_read_lock#"),
        "{}",
        stdout(&o)
    );
    for cmd in ["check", "disasm"] {
        let o = bpfcheck(&[cmd, &kfunc, "--kernel", "5.10"]);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("kfunc.s") && err.contains("kfunc `bpf_rcu_read_lock`"),
            "{cmd}: {err}"
        );
    }

    // A kernel BTF with the two kfuncs, at ids of its own.
    let mut b = bpfcheck_btf::BtfBuilder::new();
    let int = b.int("int", 4, true);
    b.func("unrelated", int, &[]).unwrap();
    let lock = b
        .func("bpf_rcu_read_lock", bpfcheck_btf::BtfTypeId(0), &[])
        .unwrap();
    let unlock = b
        .func("bpf_rcu_read_unlock", bpfcheck_btf::BtfTypeId(0), &[])
        .unwrap();
    let btf = tmp("kfuncs.btf", &b.to_bytes(bpfcheck_btf::ByteOrder::Little));
    let kernel = format!("btf:{}@6.18", btf.display());
    let o = bpfcheck(&["disasm", &kfunc, "--kernel", &kernel]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains(&format!("#{}", lock.0)) && text.contains(&format!("#{}", unlock.0)),
        "{text}"
    );
    // Their prototypes come from that BTF, their registrations from the
    // 6.18 rules: the RCU region is judged.
    let o = bpfcheck(&["check", &kfunc, "--kernel", &kernel, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // A symbol the kernel's BTF lacks is named, with its line.
    let o = bpfcheck(&["check", &fixture("asm/ld_btf_id.s"), "--kernel", &kernel]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("ld_btf_id.s") && err.contains("`bpf_prog_active`") && err.contains("line 6"),
        "{err}"
    );
}

/// `stats --top-src-lines` counts bpfcheck's judged programs from the
/// verifier's per-instruction counts: the lines add up to the processed
/// instructions, with no log asked for.
#[test]
fn top_source_lines_come_from_the_verifiers_counts() {
    let obj = fixture("c/socket_filter.v3.o");
    let o = bpfcheck(&["stats", &obj, "--format", "json"]);
    let insns = json(&o)[0]["insns_processed"].as_u64().expect("insns");
    let o = bpfcheck(&["stats", &obj, "--top-src-lines", "100"]);
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "source lines where the verifier spends its work ({insns} processed insns)"
        )),
        "{out}"
    );
    let (_, lines) = out.split_once("processed insns):").unwrap();
    let sum: u64 = lines
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(sum, insns, "{out}");
    assert!(!stderr(&o).contains("no per-instruction"), "{}", stderr(&o));
}
