//! Differential test against libbpf itself: `oracle/dump_insns.c` loads each
//! fixture with the system libbpf and prints the relocated instructions of
//! every program (map fds normalised to map indices); bpfcheck's load
//! requests must hold exactly the same instructions.
//!
//! Needs `cc`, libbpf-dev and permission to load programs (root); otherwise
//! the test prints a loud SKIPPED and passes.

use std::path::{Path, PathBuf};
use std::process::Command;

use bpfcheck_obj::{LoadOptions, Object, object_name_from_path};
use bpfcheck_uapi::RawInsn;

/// Fixtures libbpf can load on the running kernel without extern resolution.
const ORACLE_FIXTURES: &[&str] = &["progs.o", "calls.o"];
/// Fixtures whose BTF (after libbpf's fix-ups) is compared even though
/// their programs may not load here.
const BTF_FIXTURES: &[&str] = &["progs.o", "calls.o", "externs.o"];

fn skipped(why: &str) {
    eprintln!("\n*** SKIPPED libbpf oracle comparison: {why} ***\n");
}

fn build_oracle() -> Result<PathBuf, String> {
    if !Path::new("/usr/include/bpf/libbpf.h").exists() {
        return Err("libbpf-dev headers not installed".into());
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/dump_insns.c");
    let out = std::env::temp_dir().join(format!("bpfcheck-obj-oracle-{}", std::process::id()));
    let status = Command::new("cc")
        .arg("-O2")
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .arg("-lbpf")
        .status()
        .map_err(|e| format!("cc not runnable: {e}"))?;
    if !status.success() {
        return Err(format!("cc failed: {status}"));
    }
    Ok(out)
}

/// A program as the oracle prints it: name, type, expected attach type,
/// flags, instructions.
type OracleProg = (String, [u32; 3], Vec<RawInsn>);

/// Decodes the oracle's `btf HEX` line.
fn oracle_btf(text: &str) -> Option<Vec<u8>> {
    let hex = text.lines().find_map(|l| l.strip_prefix("btf "))?;
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

/// Parses the oracle's output into map lines and programs.
fn parse_oracle(text: &str) -> (Vec<String>, Vec<OracleProg>) {
    let mut maps = Vec::new();
    let mut progs: Vec<OracleProg> = Vec::new();
    for line in text.lines() {
        if line.starts_with("btf ") {
            continue;
        }
        if let Some(m) = line.strip_prefix("map ") {
            maps.push(m.to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("prog ") {
            let f: Vec<&str> = rest.split(' ').collect();
            let n = |i: usize| f[i].parse::<u32>().expect("number");
            progs.push((f[0].to_owned(), [n(1), n(2), n(3)], Vec::new()));
            continue;
        }
        let f: Vec<i64> = line
            .split(' ')
            .map(|x| x.parse().expect("number"))
            .collect();
        let insn = RawInsn::new(f[0] as u8, f[1] as u8, f[2] as u8, f[3] as i16, f[4] as i32);
        progs.last_mut().expect("prog line first").2.push(insn);
    }
    (maps, progs)
}

#[test]
fn relocated_instructions_match_libbpf() {
    let oracle = match build_oracle() {
        Ok(p) => p,
        Err(why) => return skipped(&why),
    };
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let (mut agree, mut total) = (0, 0);
    for name in ORACLE_FIXTURES {
        let path = fixtures.join(name);
        let out = Command::new(&oracle)
            .arg(&path)
            .output()
            .expect("run oracle");
        if !out.status.success() {
            let _ = std::fs::remove_file(&oracle);
            return skipped(&format!(
                "libbpf could not load {name} here (not root, or no bpf()): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let (maps, expected) = parse_oracle(&String::from_utf8_lossy(&out.stdout));
        let bytes = std::fs::read(&path).expect("fixture");
        let obj = Object::parse_named(&bytes, &object_name_from_path(&path)).expect("parse");
        let reqs = obj
            .load_requests(&LoadOptions::default())
            .expect("requests");
        let ours: Vec<_> = reqs.iter().filter(|r| r.autoload).collect();
        assert_eq!(
            ours.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            expected
                .iter()
                .map(|(n, _, _)| n.as_str())
                .collect::<Vec<_>>(),
            "{name}: program order"
        );
        let our_maps: Vec<String> = obj
            .maps
            .iter()
            .map(|m| {
                let s = &m.spec;
                format!(
                    "{} {} {} {} {} {}",
                    m.name, s.map_type.0, s.key_size, s.value_size, s.max_entries, s.flags
                )
            })
            .collect();
        assert_eq!(our_maps, maps, "{name}: maps");
        for (r, (pname, meta, insns)) in ours.iter().zip(&expected) {
            total += 1;
            let q = &r.request;
            // libbpf reports only user-set flags; ours add the SEC() ones.
            assert_eq!(
                [q.prog_type.0, q.expected_attach_type.0],
                [meta[0], meta[1]],
                "{name}/{pname}: type and attach type"
            );
            assert_eq!(meta[2], 0, "{name}/{pname}: unexpected user flags");
            if &r.request.insns == insns {
                agree += 1;
            } else {
                for (i, (a, b)) in r.request.insns.iter().zip(insns).enumerate() {
                    if a != b {
                        eprintln!("{name}/{pname} insn {i}: ours {a:?} libbpf {b:?}");
                    }
                }
                eprintln!(
                    "{name}/{pname}: {} insns ours, {} libbpf",
                    r.request.insns.len(),
                    insns.len()
                );
            }
        }
    }
    for name in BTF_FIXTURES {
        let path = fixtures.join(name);
        let out = Command::new(&oracle)
            .arg(&path)
            .output()
            .expect("run oracle");
        let Some(expected) = oracle_btf(&String::from_utf8_lossy(&out.stdout)) else {
            skipped(&format!("libbpf printed no BTF for {name}"));
            continue;
        };
        let bytes = std::fs::read(&path).expect("fixture");
        let obj = Object::parse_named(&bytes, &object_name_from_path(&path)).expect("parse");
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
    let _ = std::fs::remove_file(&oracle);
    eprintln!("libbpf oracle: {agree}/{total} programs agree");
    assert_eq!(agree, total, "programs differing from libbpf");
}
