//! Golden level-1 and level-2 logs of `do_check` for the `dc_*` fixtures
//! and the fixtures whose programs the interpreter models completely.
//!
//! Each log (with the statistics trailer) is compared with a committed
//! golden file, so machines without `bpf()` still check it, and — where the
//! live kernel is available — with the log the kernel writes for the same
//! program, byte for byte. `BPFCHECK_BLESS=1` rewrites the golden files
//! from bpfcheck's output (review the diff against the kernel's first).

use std::path::{Path, PathBuf};

use bpfcheck_asm::Fixture;
use bpfcheck_isa::normalize_kernel_addresses;
use bpfcheck_profile::KernelProfile;
use bpfcheck_sys::LoadOptions;
use bpfcheck_sys::test_support::kernel_or_skip;
use bpfcheck_verifier::{LOG_LEVEL1, LOG_LEVEL2, Verdict, VerifyOptions, stats_trailer, verify};

/// Every fixture of `fixtures/asm` with a golden level-2 log: adding a
/// fixture to this test is adding its golden files (create an empty
/// `NAME.l2.log`, bless, then review against the kernel's log).
fn fixtures() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".l2.log").map(str::to_owned)
        })
        .filter(|name| root().join(format!("fixtures/asm/{name}.s")).exists())
        .collect();
    names.sort();
    assert!(
        names.len() >= 40,
        "golden logs missing from {}",
        dir.display()
    );
    names
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> Fixture {
    let path = root().join(format!("fixtures/asm/{name}.s"));
    let text = std::fs::read_to_string(&path).unwrap();
    Fixture::parse(&text).unwrap()
}

/// The 6.18 profile on a machine with two possible CPUs, as the
/// development host and CI have: `bpf_get_smp_processor_id`'s range is
/// in the golden logs. (The live comparison below checks it is the host's.)
fn profile() -> KernelProfile {
    KernelProfile::builtin("6.18")
        .unwrap()
        .with_possible_cpus(Some(HOST_CPUS))
}

/// The possible CPUs of the machines the golden logs were recorded on.
const HOST_CPUS: u32 = 2;

/// bpfcheck's complete log at `level`, trailer included.
fn our_log(name: &str, level: u32) -> String {
    let req = fixture(name).load_request(name);
    let v = verify(&req, &profile(), &VerifyOptions { log_level: level });
    assert_ne!(
        v.verdict,
        Verdict::Unsupported,
        "{name}: {:?}",
        v.unsupported
    );
    let log = v.log.expect("a log");
    let stats = v.stats.expect("stats");
    format!("{log}{}", stats_trailer(level, &stats, 0))
}

#[test]
fn logs_match_the_golden_files() {
    let bless = std::env::var_os("BPFCHECK_BLESS").is_some();
    for name in &fixtures() {
        for level in [LOG_LEVEL1, LOG_LEVEL2] {
            let ours = our_log(name, level);
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("tests/golden/{name}.l{level}.log"));
            if bless {
                std::fs::write(&path, &ours).unwrap();
                continue;
            }
            let golden = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(ours, golden, "{name} at level {level}");
        }
    }
}

#[test]
fn logs_match_the_live_kernel() {
    let Some(kernel) = kernel_or_skip("logs_match_the_live_kernel") else {
        return;
    };
    let host_cpus = std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|t| bpfcheck_profile::parse_possible_cpus(&t));
    for name in &fixtures() {
        // Those logs show the CPU count of the machine they were made on.
        if host_cpus != Some(HOST_CPUS) && name.starts_with("smp_") {
            eprintln!("{name}: skipped against the live kernel: not a {HOST_CPUS}-CPU machine");
            continue;
        }
        let req = fixture(name).load_request(name);
        for level in [LOG_LEVEL1, LOG_LEVEL2] {
            let opts = LoadOptions {
                log_level: level,
                log_size: 1 << 20,
                fixed_log: false,
            };
            let out = kernel.load(&req, &opts).unwrap();
            // Map references print as kernel addresses, which differ.
            let norm = |s: &str| {
                s.lines()
                    .map(normalize_kernel_addresses)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(
                norm(&our_log(name, level)),
                norm(&out.log),
                "{name} at level {level}"
            );
        }
    }
}
