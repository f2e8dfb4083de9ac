//! Loops that stop at a complexity limit (a million processed
//! instructions, or 8192 queued branches) or that take thousands of
//! checkpoints. Their logs are too big for golden files, so the statistics
//! are checked against the recorded kernel's numbers, and the whole
//! level-1 log against the live kernel's where `bpf()` is available.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// Fixtures allowed more than a second of CPU: `loop_short_ctx` asks for
/// the precision of the number added to the context pointer on every
/// exit from its loop, a backtracking walk through the whole history (the
/// kernel takes about 2.5 s on it too).
const CPU_BUDGET: &[(&str, u64)] = &[("loop_short_ctx", 6)];

/// CPU time of this thread (`utime` + `stime` of `/proc/thread-self/stat`,
/// in ticks of 10 ms), so that a loaded machine does not fail the speed
/// check; `None` where it cannot be read.
fn cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised command name, which may hold spaces.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

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
        let (start, cpu_start) = (Instant::now(), cpu_time());
        let v = verify(
            &req,
            &profile,
            &VerifyOptions {
                log_level: LOG_STATS,
            },
        );
        let took = match (cpu_start, cpu_time()) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => start.elapsed(),
        };
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
        // The walk allocates only at checkpoints and branches: about
        // 0.1-0.3 s of CPU each in release builds.
        if !cfg!(debug_assertions) {
            let budget = CPU_BUDGET
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(1, |(_, secs)| *secs);
            assert!(took < Duration::from_secs(budget), "{name}: {took:?}");
        }
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
