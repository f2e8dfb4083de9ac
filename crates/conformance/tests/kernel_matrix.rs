//! bpfcheck's profiles for other kernels against those kernels' real
//! answers: `fixtures/kernels/<profile>.json` records what each Debian
//! kernel, booted under QEMU by `bpfcheck-vm run-fixtures`, said about every
//! assembler fixture. Every program bpfcheck judges must get the same
//! verdict, errno and error line — except the divergences listed below,
//! which are known and explained; fixing one makes this test fail until the
//! list is updated, so the list never goes stale. Where the recording has
//! the kernel's processed-instruction and state counts and bpfcheck gives
//! statistics, those must agree too. `fixtures/kernels/logs/<profile>.json`
//! records the kernel's level-1 and level-2 logs (`tools/vm/record-logs.py`):
//! every log bpfcheck gives for that profile must be the kernel's, byte for
//! byte (kernel addresses normalised).

use std::collections::BTreeSet;

use bpfcheck_conformance::{fixtures_dir, report};
use bpfcheck_isa::normalize_kernel_addresses;
use bpfcheck_profile::KernelProfile;
use bpfcheck_verifier::{LOG_LEVEL1, LOG_LEVEL2, Verdict, VerifyOptions, stats_trailer, verify};
use serde_json::Value;

/// Callback fixtures on 5.10, which has no `ld_imm64` of functions (5.13):
/// it counts no callback subprogram and refuses `func_info` first
/// (`number of funcs in func_info doesn't match number of subprogs`);
/// bpfcheck's 5.10 pre-checks refuse the `ld_imm64` first.
const NO_LD_FUNC: &str = "5.10 refuses the callback's func_info before its ld_imm64";

/// (profile, fixture): why bpfcheck differs from that real kernel.
const KNOWN: &[(&str, &str, &str)] = &[
    ("5.10", "asm/callback_bad_ret", NO_LD_FUNC),
    ("5.10", "asm/callback_counter", NO_LD_FUNC),
    ("5.10", "asm/callback_limit", NO_LD_FUNC),
    ("5.10", "asm/callback_loop", NO_LD_FUNC),
    ("5.10", "asm/callback_nested", NO_LD_FUNC),
    ("5.10", "asm/callback_not_static", NO_LD_FUNC),
    ("5.10", "asm/callback_stack_write", NO_LD_FUNC),
    ("5.10", "asm/for_each_array", NO_LD_FUNC),
    ("5.10", "asm/for_each_bad_map", NO_LD_FUNC),
    ("5.10", "asm/for_each_bad_ret", NO_LD_FUNC),
    ("5.10", "asm/for_each_key_helper_write", NO_LD_FUNC),
    ("5.10", "asm/for_each_key_oob", NO_LD_FUNC),
    ("5.10", "asm/for_each_key_write", NO_LD_FUNC),
    ("5.10", "asm/for_each_lookup", NO_LD_FUNC),
    ("5.10", "asm/for_each_timer", NO_LD_FUNC),
    ("5.10", "asm/timer_async_stack", NO_LD_FUNC),
    ("5.10", "asm/timer_cb_ret", NO_LD_FUNC),
    ("5.10", "asm/timer_ok", NO_LD_FUNC),
    ("5.10", "asm/loop_pointer_count", NO_LD_FUNC),
    (
        "6.12",
        "asm/loop_pointer_count",
        "a pointer passed as bpf_loop's count: the 6.12 source bpfcheck's profile follows refuses its type (`R1 type=fp expected=scalar`); Debian's 6.12.95 build fails later with EFAULT in precision backtracking, a build difference not yet a profile switch",
    ),
    (
        "5.10",
        "asm/spin_lock_socket_filter",
        "5.10 refuses spin locks in socket filters with the tracing message (`tracing progs cannot use bpf_spin_lock yet`); its message is not a profile fact yet",
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
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "recordings missing in {}", dir.display());
    let mut found = BTreeSet::new();
    for file in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let prof_name = doc["profile"].as_str().unwrap();
        let profile = profile_for(prof_name);
        let (mut judged, mut agree, mut unsupported, mut skipped) = (0, 0, 0, 0);
        // Programs with recorded counts that bpfcheck gives counts for, and
        // how many of those agree.
        let (mut counted, mut counts_agree, mut no_counts) = (0, 0, 0);
        for p in doc["programs"].as_array().unwrap() {
            let name = p["name"].as_str().unwrap();
            let path = fixtures_dir().join(format!("{name}.s"));
            let text = std::fs::read_to_string(&path).unwrap();
            let fx = bpfcheck_asm::Fixture::parse(&text).unwrap();
            // Kernel symbols by name need that kernel's BTF, which only the
            // booted kernel has (the recordings of `btf_ids/` are of the
            // numeric forms).
            if let Some(sym) = fx.kernel_symbols().first() {
                report(&format!(
                    "SKIPPED kernel matrix {prof_name} {name}: it names {} and that kernel's BTF is not here",
                    sym.describe()
                ));
                skipped += 1;
                continue;
            }
            let req = fx.load_request(name);
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
            let recorded = p["insns_processed"].as_u64();
            let same_counts = match (recorded, &v.stats) {
                (Some(insns), Some(st)) => {
                    counted += 1;
                    let same = insns == st.insns_processed
                        && p["total_states"].as_u64() == Some(st.total_states)
                        && p["peak_states"].as_u64() == Some(st.peak_states)
                        && p["max_states_per_insn"].as_u64() == Some(st.max_states_per_insn);
                    counts_agree += u32::from(same);
                    same
                }
                (Some(_), None) => {
                    no_counts += 1;
                    true
                }
                (None, _) => true,
            };
            let same = same && same_counts;
            judged += 1;
            if same {
                agree += 1;
            } else {
                found.insert((prof_name.to_owned(), name.to_owned()));
            }
        }
        report(&format!(
            "kernel matrix: profile {prof_name} vs {} (real kernel): {judged} judged, {agree} agree, {} differ, {unsupported} unsupported, {skipped} skipped; processed instructions and states: {counts_agree} of {counted} agree, {no_counts} judged without counts",
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

/// (profile, fixture and log level): why bpfcheck's log differs from that
/// real kernel's, the verdict, error and counts agreeing.
const KNOWN_LOGS: &[(&str, &str, &str)] = &[
    (
        "6.1",
        "asm/ptr_cmp_fp_precision l2",
        "6.1 backtracks a conditional jump between a number and a stack pointer into the pointer's register (`regs=404`); bpfcheck's 6.1 precision walk keeps only the number",
    ),
    (
        "6.1",
        "asm/ptr_cmp_stack_precision l2",
        "as asm/ptr_cmp_fp_precision",
    ),
];

#[test]
fn logs_agree_with_the_real_kernels_logs() {
    let dir = fixtures_dir().join("kernels/logs");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let norm = |s: &str| {
        s.lines()
            .map(|l| normalize_kernel_addresses(&five_level_addresses(l)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut differ = Vec::new();
    let mut known_seen = BTreeSet::new();
    for file in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let prof_name = doc["profile"].as_str().unwrap();
        let profile = profile_for(prof_name);
        let (mut same, mut without) = (0, 0);
        for (name, logs) in doc["logs"].as_object().unwrap() {
            let text = std::fs::read_to_string(fixtures_dir().join(format!("{name}.s"))).unwrap();
            let fx = bpfcheck_asm::Fixture::parse(&text).unwrap();
            if !fx.kernel_symbols().is_empty() {
                continue;
            }
            let req = fx.load_request(name);
            for (key, level) in [("l1", LOG_LEVEL1), ("l2", LOG_LEVEL2)] {
                let v = verify(&req, &profile, &VerifyOptions { log_level: level });
                let (Some(log), Some(stats)) = (v.log, v.stats) else {
                    without += 1;
                    continue;
                };
                let ours = format!("{log}{}", stats_trailer(level, &stats, 0));
                let theirs = logs[key].as_str().unwrap();
                let which = format!("{name} {key}");
                let known = KNOWN_LOGS
                    .iter()
                    .any(|(p, n, _)| *p == prof_name && *n == which);
                if norm(&ours) == norm(theirs) {
                    same += 1;
                } else if known {
                    known_seen.insert((prof_name.to_owned(), which));
                } else {
                    differ.push(format!("{prof_name} {name} {key}"));
                    // `BPFCHECK_LOG_DIFFS=DIR` keeps both logs of each
                    // difference, for `diff -u`.
                    if let Some(dir) = std::env::var_os("BPFCHECK_LOG_DIFFS") {
                        let base = std::path::Path::new(&dir)
                            .join(prof_name)
                            .join(format!("{}.{key}", name.replace('/', "_")));
                        std::fs::create_dir_all(base.parent().unwrap()).unwrap();
                        std::fs::write(base.with_extension(format!("{key}.ours")), norm(&ours))
                            .unwrap();
                        std::fs::write(base.with_extension(format!("{key}.kernel")), norm(theirs))
                            .unwrap();
                    }
                }
            }
        }
        report(&format!(
            "kernel logs: profile {prof_name} vs {}: {same} logs byte-identical, {} differ, {without} without a log from bpfcheck",
            doc["release"].as_str().unwrap_or("?"),
            differ.len()
        ));
    }
    assert!(
        differ.is_empty(),
        "logs differ from the real kernel's: {differ:?}"
    );
    let stale: Vec<_> = KNOWN_LOGS
        .iter()
        .filter(|(p, n, _)| !known_seen.contains(&((*p).to_owned(), (*n).to_owned())))
        .collect();
    assert!(
        stale.is_empty(),
        "known log differences no longer differ (remove them from KNOWN_LOGS): {stale:?}"
    );
}

/// A guest under QEMU with five-level paging maps kernel memory at
/// `0xff1…`–`0xff4…` rather than `0xffff…`: such 16-digit addresses are
/// rewritten into the `0xffff…` form that [`normalize_kernel_addresses`]
/// replaces.
fn five_level_addresses(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find("0xff") {
        let hex = rest[pos + 2..]
            .bytes()
            .take_while(u8::is_ascii_hexdigit)
            .count();
        out.push_str(&rest[..pos]);
        if hex == 16 {
            out.push_str("0xffff");
            out.push_str(&rest[pos + 6..pos + 18]);
        } else {
            out.push_str(&rest[pos..pos + 2 + hex]);
        }
        rest = &rest[pos + 2 + hex..];
    }
    out.push_str(rest);
    out
}
