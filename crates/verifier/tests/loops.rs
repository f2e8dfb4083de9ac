//! Loops that stop at a complexity limit (a million processed
//! instructions, or 8192 queued branches) or that take thousands of
//! checkpoints. Their logs are too big for golden files, so the statistics
//! are checked against the recorded kernel's numbers, and the whole
//! level-1 log against the live kernel's where `bpf()` is available.

use std::path::{Path, PathBuf};

use bpfcheck_asm::Fixture;
use bpfcheck_profile::KernelProfile;
use bpfcheck_sys::LoadOptions;
use bpfcheck_sys::test_support::kernel_or_skip;
use bpfcheck_verifier::{LOG_LEVEL1, LOG_STATS, Verdict, VerifyOptions, stats_trailer, verify};

/// Fixture, verdict, processed instructions, `max_states_per_insn`,
/// `total_states`, `peak_states`, as the 6.18 kernel reported them.
const CASES: &[(&str, Verdict, u64, u64, u64, u64)] = &[
    ("loop_1m", Verdict::Rejected, 1_000_001, 4, 25_000, 25_000),
    (
        "loop_while_true",
        Verdict::Rejected,
        1_000_001,
        4,
        11_112,
        11_112,
    ),
    (
        "loop_short",
        Verdict::Rejected,
        1_000_001,
        4,
        20_453,
        20_453,
    ),
    (
        "loop_short_ctx",
        Verdict::Rejected,
        1_000_001,
        5,
        47_206,
        9_154,
    ),
    ("loop_jmp_seq", Verdict::Rejected, 24_579, 4, 820, 820),
    (
        "may_goto_many_states",
        Verdict::Accepted,
        14_004,
        65,
        1_004,
        1_004,
    ),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> Fixture {
    let path = root().join(format!("fixtures/heavy/{name}.s"));
    let text = std::fs::read_to_string(&path).unwrap();
    Fixture::parse(&text).unwrap()
}

#[test]
fn complexity_limits_match_the_kernels_statistics() {
    let profile = KernelProfile::builtin("6.18").unwrap();
    for &(name, verdict, insns, max, total, peak) in CASES {
        let req = fixture(name).load_request(name);
        let v = verify(
            &req,
            &profile,
            &VerifyOptions {
                log_level: LOG_STATS,
            },
        );
        assert_eq!(v.verdict, verdict, "{name}: {:?}", v.unsupported);
        let s = v.stats.expect("stats");
        assert_eq!(
            (
                s.insns_processed,
                s.max_states_per_insn,
                s.total_states,
                s.peak_states
            ),
            (insns, max, total, peak),
            "{name}"
        );
    }
}

#[test]
fn complexity_limit_logs_match_the_live_kernel() {
    let Some(kernel) = kernel_or_skip("complexity_limit_logs_match_the_live_kernel") else {
        return;
    };
    let profile = KernelProfile::builtin("6.18").unwrap();
    for &(name, ..) in CASES {
        let req = fixture(name).load_request(name);
        let v = verify(
            &req,
            &profile,
            &VerifyOptions {
                log_level: LOG_LEVEL1,
            },
        );
        let ours = format!(
            "{}{}",
            v.log.expect("a log"),
            stats_trailer(LOG_LEVEL1, &v.stats.expect("stats"), 0)
        );
        let opts = LoadOptions {
            log_level: LOG_LEVEL1,
            log_size: 1 << 20,
            fixed_log: false,
        };
        let out = kernel.load(&req, &opts).unwrap();
        assert!(ours == out.log, "{name}: level-1 logs differ");
    }
}
