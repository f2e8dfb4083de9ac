//! The compiled C fixtures against the live kernel: every program
//! bpfcheck judges gets the kernel's verdict, first error,
//! processed-instruction count and level-2 log.
//!
//! - `fixtures/c/*.o` are self-contained programs, judged on the 6.18
//!   profile as they are.
//! - `fixtures/c/loader/*.o` need the kernel to be prepared (kfunc and
//!   variable `__ksym`s, `__kconfig`, CO-RE, BTF attach targets): they are
//!   prepared as libbpf would on this machine and judged on the host's
//!   profile, so the BTF ids in the request are the ones the profile reads.

use std::path::PathBuf;

use bpfcheck_conformance::selftests::run::{ProgramId, ask_kernel, diff_record, strip_stats_lines};
use bpfcheck_obj::{HostResolver, LoadOptions, Object};
use bpfcheck_profile::KernelProfile;
use bpfcheck_sys::test_support::kernel_or_skip;
use bpfcheck_verifier::LOG_LEVEL2;

/// Programs whose difference is a listed known divergence (README), with
/// the divergence; each must still differ, so a fix shows up here.
const KNOWN: &[(&str, &str, &str)] = &[(
    "v4_ops.v4.o",
    "v4_ops",
    "known divergence 9: `r1 = (s32)r3` keeps fewer bounds than 6.18",
)];

/// Programs that must be judged (not `unsupported`), so that a feature
/// measured only here cannot fall back to `unsupported` unnoticed.
const MUST_JUDGE: &[(&str, &str)] = &[
    // Exceptions: bpf_throw from a subprogram, with an exception callback.
    ("loader/exceptions.v3.o", "throwing"),
    ("loader/exceptions.v4.o", "throwing"),
    ("loader/exceptions.v3.o", "not_throwing"),
    // Allocated objects: bpf_obj_new, the per-CPU forms, refcounts.
    ("loader/obj_new.v4.o", "obj_new_drop"),
    ("loader/obj_new.v4.o", "percpu_new_drop"),
    ("loader/obj_new.v4.o", "refcount_acquire_owning"),
    ("loader/obj_new.v3.o", "refcount_direct_access"),
    // Graph roots in global data: the lock they need, calls under it.
    ("loader/graph_roots.v4.o", "lock_only"),
    ("loader/graph_roots.v4.o", "rbtree_first_unlocked"),
    ("loader/graph_roots.v3.o", "kfunc_under_lock"),
];

fn objects(sub: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/c")
        .join(sub);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "o"))
        .collect();
    v.sort();
    v
}

#[test]
fn judged_c_fixtures_agree_with_the_live_kernel() {
    let Some(kernel) = kernel_or_skip("judged_c_fixtures_agree_with_the_live_kernel") else {
        return;
    };
    let builtin = KernelProfile::builtin("6.18").unwrap();
    let host = bpfcheck_conformance::host_profile();
    if host.is_none() {
        bpfcheck_sys::test_support::skipped(
            "no bpfcheck profile for the running kernel",
            "c_fixtures: fixtures/c/loader",
        );
    }
    let resolver = HostResolver::probe();
    let (mut judged, mut total, mut cannot_judge) = (0, 0, 0);
    let mut differ = Vec::new();
    let mut must: Vec<&(&str, &str)> = MUST_JUDGE.iter().filter(|_| host.is_some()).collect();
    let self_contained = objects("").into_iter().map(|p| (p, "", false));
    let loader = objects("loader")
        .into_iter()
        .filter(|_| host.is_some())
        .map(|p| (p, "loader/", true));
    for (path, dir, needs_kernel) in self_contained.chain(loader) {
        let file = format!("{dir}{}", path.file_name().unwrap().to_string_lossy());
        let (profile, opts) = if let (true, Some(host)) = (needs_kernel, &host) {
            (host, resolver.load_options())
        } else {
            (&builtin, LoadOptions::default())
        };
        let obj =
            Object::parse(&std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("{file}: {e}"));
        for (name, req) in obj.load_requests_each(&opts) {
            let Ok(p) = req else { continue };
            total += 1;
            let (out, wall) = ask_kernel(&kernel, &p.request, LOG_LEVEL2)
                .unwrap_or_else(|e| panic!("{file}:{name}: {e}"));
            // This machine's kernel refuses trampoline programs before
            // its verifier runs (EPERM, no log); Debian's kernels under
            // QEMU judge them (`selftests-vm`).
            let trampoline = ["fentry", "fexit", "fmod_ret", "lsm"]
                .iter()
                .any(|t| p.section.split(['/', '.']).next() == Some(t));
            if trampoline && !out.accepted && out.errno == Some(1) && out.log.is_empty() {
                cannot_judge += 1;
                continue;
            }
            let mut kside =
                bpfcheck_conformance::selftests::run::kernel_side(&out, LOG_LEVEL2, wall);
            kside.log = Some(strip_stats_lines(&out.log, LOG_LEVEL2));
            let id = ProgramId {
                object: &file,
                program: &name,
                section: &p.section,
            };
            let (record, _) = diff_record(id, &p.request, profile, LOG_LEVEL2, kside);
            let Some(a) = record.agree else { continue };
            if record.verdict == "unsupported" {
                continue;
            }
            must.retain(|m| !(m.0 == file && m.1 == name));
            judged += 1;
            let same = a.verdict && a.error && a.insns_processed && a.log;
            let known = KNOWN.iter().find(|k| k.0 == file && k.1 == name);
            match (same, known) {
                (false, None) => differ.push(format!("{file}:{name}: {a:?}")),
                (true, Some(k)) => differ.push(format!(
                    "{file}:{name} now agrees: remove it from KNOWN ({})",
                    k.2
                )),
                _ => {}
            }
        }
    }
    bpfcheck_conformance::report(&format!(
        "C fixtures: {total} programs, {cannot_judge} refused by this kernel before its verifier \
         runs (trampolines), {judged} judged by bpfcheck, {} differ from the live kernel",
        differ.len()
    ));
    assert!(differ.is_empty(), "differences:\n{}", differ.join("\n"));
    assert!(must.is_empty(), "not judged (or not prepared): {must:?}");
    assert!(judged >= 20, "only {judged} C fixture programs judged");
}
