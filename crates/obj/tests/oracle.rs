//! Differential test against libbpf itself, over the whole fixture corpus
//! (`fixtures/c`, `fixtures/c/loader`, `tests/fixtures`, `tests/fixtures/core`):
//! `oracle/dump_insns.c` loads every program of every object with the
//! system libbpf (or the one under `$BPFCHECK_LIBBPF_ROOT`, e.g. libbpf 1.5
//! built by `tools/libbpf/build.sh`; see `oracle/harness.rs`) and prints the relocated instructions (map fds
//! normalised to map indices) and the kernel's verdict. bpfcheck's load
//! request of every program libbpf prepared must hold the same
//! instructions, and loaded into the running kernel must get the same
//! verdict.
//!
//! Needs `cc`, libbpf-dev and permission to load programs (root); otherwise
//! the test prints a loud SKIPPED and passes. The same comparison over any
//! objects (the BPF selftests): `cargo run -p bpfcheck-obj --example
//! libbpf_corpus -- --kernel [PATH...]`.

#[path = "oracle/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::Command;

use bpfcheck_obj::{Object, object_name_from_path};

fn skipped(why: &str) {
    eprintln!("\n*** SKIPPED libbpf oracle comparison: {why} ***\n");
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every fixture object, in a stable order.
fn corpus() -> Vec<PathBuf> {
    let root = manifest();
    let dirs = [
        root.join("../../fixtures/c"),
        root.join("../../fixtures/c/loader"),
        root.join("tests/fixtures"),
        root.join("tests/fixtures/core"),
    ];
    let mut out = Vec::new();
    for d in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .expect("fixture directory")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "o"))
            .collect();
        files.sort();
        out.extend(files);
    }
    out
}

/// Differences from libbpf that are understood, by the libbpf version
/// they show with: (libbpf, program, difference class, reason).
const KNOWN: &[(&str, &str, &str, &str)] = &[
    (
        "libbpf 1.1",
        "weak_kfunc",
        "instructions: helper call",
        "an unresolved weak kfunc: libbpf 1.1 leaves `call kfunc 0`, \
         libbpf >= 1.2 (followed by bpfcheck) poisons it as a helper call \
         POISON_CALL_KFUNC_BASE + extern index",
    ),
    (
        "libbpf 1.1",
        "uses_ksym",
        "instructions: helper call",
        "the same unresolved weak kfunc rewrite",
    ),
    (
        "libbpf 1.1",
        "throwing",
        "instruction count",
        "libbpf 1.1 does not append the exception callback named by an \
         `exception_callback:` decl tag (libbpf >= 1.3 does, and bpfcheck): \
         the kernel then refuses bpf_throw() without the callback",
    ),
    (
        "libbpf 1.1",
        "flavored_kfunc",
        "instructions: ld_imm64 src 3",
        "libbpf 1.1 looks kfuncs up by their full name: `bpf_task_acquire___one` \
         stays unresolved; libbpf >= 1.2 (followed by bpfcheck) drops the ___flavour",
    ),
];

/// Objects libbpf cannot open (with any libbpf, or only with the one
/// named), with why bpfcheck reads them all the same.
const UNOPENED: &[(&str, Option<&str>, &str)] = &[
    (
        "progs_eb.o",
        None,
        "big-endian: libbpf opens only host-endian objects",
    ),
    (
        "legacy.o",
        None,
        "legacy `maps` section: refused by libbpf >= 1.0, read as 0.x did",
    ),
    (
        "maps_legacy.v3.o",
        None,
        "legacy `maps` section: refused by libbpf >= 1.0, read as 0.x did",
    ),
    (
        "maps_legacy.v4.o",
        None,
        "legacy `maps` section: refused by libbpf >= 1.0, read as 0.x did",
    ),
    (
        "bad_static.o",
        None,
        "a static program outside .text: refused by both",
    ),
    (
        "struct_ops.v3.o",
        Some("libbpf 1.1"),
        "SEC(\"struct_ops.s/…\") is newer than libbpf 1.1",
    ),
    (
        "struct_ops.v4.o",
        Some("libbpf 1.1"),
        "SEC(\"struct_ops.s/…\") is newer than libbpf 1.1",
    ),
];

#[test]
fn relocated_instructions_and_verdicts_match_libbpf() {
    let oracle = match harness::build_oracle() {
        Ok(p) => p,
        Err(why) => return skipped(&why),
    };
    let kernel = match bpfcheck_sys::Kernel::probe() {
        Ok(k) => k,
        Err(e) => return skipped(&format!("libbpf cannot load programs here: {e}")),
    };
    let host = harness::Host::probe();
    let files = corpus();
    assert!(
        files.len() >= 60,
        "the fixture corpus has {} objects",
        files.len()
    );
    let mut summary = harness::Summary::default();
    let mut unexplained = Vec::new();
    for path in &files {
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        let o = harness::run_oracle(&oracle, path).expect("oracle runs");
        if let Some(why) = &o.open_failed {
            let known = UNOPENED
                .iter()
                .any(|(f, v, _)| *f == file && v.is_none_or(|v| v == oracle.libbpf));
            if !known {
                unexplained.push(format!("{file}: libbpf did not open it: {why}"));
            }
        }
        let outcomes = harness::compare_object(path, &o, &host, Some(&kernel));
        for p in &outcomes {
            if let Some((class, detail)) = &p.diff {
                let known = KNOWN
                    .iter()
                    .any(|(v, prog, c, _)| *v == oracle.libbpf && *prog == p.program && c == class);
                if !known {
                    unexplained.push(format!("{file}/{}: {class}: {detail}", p.program));
                }
            }
            // A program whose instructions differ as KNOWN says may get
            // another verdict (`throwing`).
            let known_program = KNOWN
                .iter()
                .any(|(v, prog, _, _)| *v == oracle.libbpf && *prog == p.program);
            if p.kernel_agrees() == Some(false) && !known_program {
                unexplained.push(format!(
                    "{file}/{}: kernel verdict: libbpf {:?}, bpfcheck {:?}",
                    p.program, p.libbpf, p.ours_kernel
                ));
            }
        }
        summary.add_object(&o, &outcomes);
    }
    summary.print(&oracle.libbpf);
    // Against the libbpf bpfcheck follows (1.5, see harness.rs) every
    // program is identical; an older one differs only as KNOWN says.
    if oracle.libbpf != "libbpf 1.1" {
        assert!(
            summary.identical * 100 >= summary.prepared * 99,
            "fewer than 99% of programs identical"
        );
    }
    assert!(unexplained.is_empty(), "unexplained: {unexplained:#?}");
}

/// Fixtures whose BTF (after libbpf's fix-ups) is compared byte for byte.
const BTF_FIXTURES: &[&str] = &["progs.o", "calls.o", "externs.o"];

/// Decodes the oracle's `btf HEX` line.
fn oracle_btf(text: &str) -> Option<Vec<u8>> {
    let hex = text.lines().find_map(|l| l.strip_prefix("btf "))?;
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

#[test]
fn fixed_up_btf_matches_libbpf() {
    let oracle = match harness::build_oracle() {
        Ok(p) => p,
        Err(why) => return skipped(&why),
    };
    let fixtures = manifest().join("tests/fixtures");
    for name in BTF_FIXTURES {
        let path: &Path = &fixtures.join(name);
        let out = Command::new(&oracle.path)
            .arg(path)
            .arg("--any")
            .output()
            .expect("run oracle");
        let Some(expected) = oracle_btf(&String::from_utf8_lossy(&out.stdout)) else {
            skipped(&format!("libbpf printed no BTF for {name}"));
            continue;
        };
        let bytes = std::fs::read(path).expect("fixture");
        let obj = Object::parse_named(&bytes, &object_name_from_path(path)).expect("parse");
        assert_eq!(
            obj.btf.as_deref(),
            Some(&expected[..]),
            "{name}: fixed-up BTF differs"
        );
        eprintln!(
            "libbpf oracle: {name}: BTF after fix-ups identical ({} bytes)",
            expected.len()
        );
    }
}
