//! CO-RE against the host kernel's BTF, compared instruction for
//! instruction with libbpf 1.1 (`oracle/dump_insns.c`), plus resolution
//! explanations on the fixtures.
//!
//! Needs /sys/kernel/btf/vmlinux (else SKIPPED). The libbpf comparison
//! also needs `cc`, libbpf-dev and root (else SKIPPED). The fixtures were
//! built against the BTF of the kernel they are compared on; on another
//! kernel the resolutions differ but both sides must still agree.

use std::path::{Path, PathBuf};
use std::process::Command;

use bpfcheck_btf::Btf;
use bpfcheck_btf::core::{CorePatch, POISON_INSN, PoisonCause};
use bpfcheck_btf::ext::CoreReloKind;
use bpfcheck_obj::{LoadOptions, ObjError, Object, object_name_from_path};
use bpfcheck_uapi::RawInsn;

const HOST_BTF: &str = "/sys/kernel/btf/vmlinux";

fn skipped(why: &str) {
    eprintln!("\n*** SKIPPED CO-RE comparison: {why} ***\n");
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/core")
        .join(name)
}

fn host_btf() -> Option<Vec<u8>> {
    std::fs::read(HOST_BTF).ok()
}

fn load(name: &str) -> Object {
    let path = fixture(name);
    let bytes = std::fs::read(&path).expect("fixture");
    Object::parse_named(&bytes, &object_name_from_path(&path)).expect("parse")
}

#[test]
fn no_target_btf_fails_like_libbpf() {
    let obj = load("core.o");
    assert!(obj.has_core_relocations());
    let e = obj.load_requests(&LoadOptions::default()).unwrap_err();
    assert!(matches!(e, ObjError::Core { .. }), "{e}");
}

#[test]
fn host_resolutions_explain_themselves() {
    let Some(bytes) = host_btf() else {
        return skipped("no kernel BTF");
    };
    let target = Btf::parse(&bytes).expect("vmlinux BTF");
    let obj = load("core.o");
    let (_, reports) = obj.core_relocations(&target);
    assert!(reports.len() >= 30, "{} relocations", reports.len());
    let kinds: std::collections::HashSet<_> =
        reports.iter().map(|r| r.resolution.relo.kind).collect();
    assert_eq!(
        kinds.len(),
        13,
        "every relocation kind is exercised: {kinds:?}"
    );
    for r in &reports {
        assert!(!r.is_fatal(), "{}: {:?}", r.resolution.spec, r.failure());
    }
    let pid = reports
        .iter()
        .find(|r| {
            r.resolution.spec == "task_struct::pid"
                && r.resolution.relo.kind == CoreReloKind::FieldByteOffset
        })
        .expect("task_struct::pid");
    let pid_off = target
        .find_by_name_kind("task_struct", bpfcheck_btf::BtfKind::Struct)
        .and_then(|t| target.member_by_name(t.id(), "pid").ok().flatten())
        .map(|m| u64::from(m.bit_offset / 8))
        .expect("kernel task_struct::pid");
    assert_eq!(pid.resolution.result.as_ref().map(|v| v.new), Ok(pid_off));
    // The missing field is poisoned, with a reason.
    let gone: Vec<_> = reports
        .iter()
        .filter(|r| matches!(r.patch, Some(Ok(CorePatch::Poisoned { .. }))))
        .collect();
    assert!(!gone.is_empty());
    for r in &gone {
        assert_eq!(r.after, POISON_INSN);
        let why = r.resolution.poison_reason().expect("reason");
        assert!(
            why.contains("no candidate matches") || why.contains("no "),
            "{why}"
        );
    }
    // The flavoured struct resolves against the kernel's task_struct.
    let flav = reports
        .iter()
        .find(|r| r.resolution.spec == "task_struct___flav::tgid")
        .expect("flavour");
    assert!(
        flav.resolution
            .candidates
            .iter()
            .any(|c| c.name == "task_struct" && c.outcome.is_ok())
    );
}

#[test]
fn reachable_poison() {
    let Some(bytes) = host_btf() else {
        return skipped("no kernel BTF");
    };
    let target = Btf::parse(&bytes).expect("vmlinux BTF");
    let obj = load("core_poison.o");
    let opts = LoadOptions {
        target_btf: Some(&target),
        ..LoadOptions::default()
    };
    let reqs = obj.load_requests(&opts).expect("poison is not fatal");
    let r = &reqs[0];
    assert_eq!(r.core.len(), 2);
    for c in &r.core {
        assert_eq!(
            c.patch,
            Some(Ok(CorePatch::Poisoned {
                why: PoisonCause::Unresolved
            }))
        );
        assert_eq!(r.request.insns[c.insn.get()], POISON_INSN);
    }
    // The enumerator value was an ld_imm64: both halves are poisoned.
    let e = &r.core[1];
    assert_eq!(r.request.insns[e.insn.get() + 1], POISON_INSN);
}

fn build_oracle() -> Result<PathBuf, String> {
    if !Path::new("/usr/include/bpf/libbpf.h").exists() {
        return Err("libbpf-dev headers not installed".into());
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/dump_insns.c");
    let out = std::env::temp_dir().join(format!("bpfcheck-obj-core-oracle-{}", std::process::id()));
    let status = Command::new("cc")
        .args(["-O2", "-o"])
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

/// `prog NAME …` followed by instruction lines, as the oracle prints them.
fn oracle_programs(text: &str) -> Vec<(String, Vec<RawInsn>)> {
    let mut progs: Vec<(String, Vec<RawInsn>)> = Vec::new();
    for line in text.lines() {
        if line.starts_with("btf ") || line.starts_with("map ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("prog ") {
            let name = rest.split(' ').next().unwrap_or("").to_owned();
            progs.push((name, Vec::new()));
            continue;
        }
        let f: Vec<i64> = line
            .split(' ')
            .map(|x| x.parse().expect("number"))
            .collect();
        let insn = RawInsn::new(f[0] as u8, f[1] as u8, f[2] as u8, f[3] as i16, f[4] as i32);
        progs.last_mut().expect("prog first").1.push(insn);
    }
    progs
}

#[test]
fn relocated_like_libbpf() {
    let Some(bytes) = host_btf() else {
        return skipped("no kernel BTF");
    };
    let target = Btf::parse(&bytes).expect("vmlinux BTF");
    let oracle = match build_oracle() {
        Ok(p) => p,
        Err(why) => return skipped(&why),
    };
    let (mut agree, mut total, mut relos) = (0, 0, 0);
    for name in ["core.o", "core_poison.o"] {
        let path = fixture(name);
        let out = Command::new(&oracle)
            .arg(&path)
            .arg("--any")
            .output()
            .expect("run oracle");
        let mut expected = oracle_programs(&String::from_utf8_lossy(&out.stdout));
        // After a failed load libbpf has closed the map fds, so the oracle
        // cannot turn them back into map indices (it prints -1). Those
        // immediates are map references, not CO-RE: take ours.
        let failed = out.status.code() == Some(3);
        if expected.is_empty() {
            let _ = std::fs::remove_file(&oracle);
            return skipped(&format!(
                "libbpf printed no programs for {name} (not root?): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let obj = load(name);
        let opts = LoadOptions {
            target_btf: Some(&target),
            ..LoadOptions::default()
        };
        let reqs = obj.load_requests(&opts).expect("requests");
        let ours: Vec<_> = reqs.iter().filter(|r| r.autoload).collect();
        assert_eq!(ours.len(), expected.len(), "{name}: program count");
        for (r, (pname, insns)) in ours.iter().zip(expected.iter_mut()) {
            assert_eq!(&r.name, pname, "{name}: program order");
            if failed {
                for (i, b) in insns.iter_mut().enumerate() {
                    let map_ref = b.code == 0x18 && matches!(b.src, 1 | 2) && b.imm == -1;
                    if let Some(a) = r.request.insns.get(i).filter(|_| map_ref) {
                        b.imm = a.imm;
                    }
                }
            }
            total += 1;
            relos += r.core.len();
            if r.request.insns == *insns {
                agree += 1;
                continue;
            }
            for (i, (a, b)) in r.request.insns.iter().zip(insns).enumerate() {
                if a != b {
                    eprintln!("{name}/{pname} insn {i}: ours {a:?} libbpf {b:?}");
                }
            }
        }
    }
    let _ = std::fs::remove_file(&oracle);
    eprintln!("libbpf CO-RE oracle: {agree}/{total} programs agree ({relos} relocations)");
    assert_eq!(agree, total, "programs differing from libbpf");
}
