//! `verify_observed` on every fixture with a golden log: observing changes
//! nothing, the processed counts add up to the statistics, the states are
//! there, and a rejection's failing path is the one the level-1 log shows.

use std::path::Path;

use bpfcheck_asm::Fixture;
use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::LoadRequest;
use bpfcheck_verifier::observe::{ObservedReg, StateKind};
use bpfcheck_verifier::{
    LOG_LEVEL1, LOG_LEVEL2, Observe, Verdict, VerifyOptions, verify, verify_observed,
};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The fixtures of `do_check.rs`: those with a golden level-2 log.
fn fixtures() -> Vec<(String, LoadRequest)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut out: Vec<(String, LoadRequest)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let name = name.strip_suffix(".l2.log")?.to_owned();
            let text =
                std::fs::read_to_string(root().join(format!("fixtures/asm/{name}.s"))).ok()?;
            let req = Fixture::parse(&text).ok()?.load_request(&name);
            Some((name, req))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 40);
    out
}

const ALL: Observe = Observe {
    states: true,
    path: true,
    processed: true,
    explore_all_paths: false,
};

/// The instruction indices of the level-1 log's instruction lines: the
/// failing path as the kernel prints it.
fn log_path(log: &str) -> Vec<u32> {
    log.lines()
        .filter_map(|l| {
            let (idx, rest) = l.split_once(": (")?;
            rest.get(2..4).filter(|s| *s == ") ")?;
            idx.parse().ok()
        })
        .collect()
}

#[test]
fn observing_changes_nothing_and_counts_add_up() {
    let profile = KernelProfile::builtin("6.18")
        .unwrap()
        .with_possible_cpus(Some(2));
    let mut rejected = 0;
    for (name, req) in fixtures() {
        for level in [0, LOG_LEVEL1, LOG_LEVEL2] {
            let opts = VerifyOptions { log_level: level };
            let plain = verify(&req, &profile, &opts);
            let mut seen = verify_observed(&req, &profile, &opts, ALL);
            // Refused before `do_check` (no walk to observe).
            let Some(obs) = seen.observation.take() else {
                assert_eq!(plain, seen, "{name} at level {level}");
                continue;
            };
            assert!(plain.observation.is_none());
            assert_eq!(plain, seen, "{name} at level {level}");
            let stats = plain.stats.as_ref().unwrap();
            assert_eq!(obs.processed.len(), req.insns.len());
            assert_eq!(
                obs.processed.iter().sum::<u64>(),
                stats.insns_processed,
                "{name}"
            );
            // Every executed instruction has its states, and the entry
            // state is the kernel's.
            for (i, n) in obs.processed.iter().enumerate() {
                assert_eq!(*n > 0, !obs.states[i].is_empty(), "{name} insn {i}");
            }
            let entry = &obs.states[0][0];
            assert_eq!(entry.kind, StateKind::Visited);
            assert_eq!(entry.frames[0].regs[0], ObservedReg::NotInit);
            assert_eq!(
                entry.frames[0].regs[10],
                ObservedReg::Pointer { kind: "fp" }
            );
            if plain.verdict == Verdict::Rejected && level == LOG_LEVEL1 {
                rejected += 1;
                let mut want = log_path(plain.log.as_deref().unwrap());
                // Refused at a prune point: the log has no line for the
                // instruction, the path ends with it.
                if let Some(i) = plain.insn().map(|i| i.0)
                    && want.last().is_some_and(|&l| l != i)
                    && !want.is_empty()
                    && plain
                        .error
                        .as_ref()
                        .is_some_and(|e| e.message.starts_with("infinite loop"))
                {
                    want.push(i);
                }
                let got: Vec<u32> = obs.path.iter().map(|s| s.insn).collect();
                assert_eq!(got, want, "{name}: failing path");
                // A refusal after the walk (the static stack checks) has no path.
                let Some(last) = obs.path.last() else {
                    continue;
                };
                assert_eq!(
                    Some(last.insn as usize),
                    plain.insn().map(|i| i.0 as usize),
                    "{name}"
                );
                assert!(last.writes.is_empty());
            }
            if plain.verdict == Verdict::Accepted {
                assert!(obs.path.is_empty(), "{name}");
            }
        }
    }
    assert!(rejected >= 5, "only {rejected} rejections");
}

#[test]
fn paths_show_what_each_instruction_wrote() {
    // The fixture with a missing null check shows the lookup's result.
    let profile = KernelProfile::builtin("6.18")
        .unwrap()
        .with_possible_cpus(Some(2));
    let (name, req) = fixtures()
        .into_iter()
        .find(|(n, _)| n == "map_value_or_null_deref")
        .expect("fixture map_value_or_null_deref");
    let v = verify_observed(
        &req,
        &profile,
        &VerifyOptions::default(),
        Observe::DIAGNOSTICS,
    );
    let path = &v.observation.as_ref().unwrap().path;
    let call = path
        .iter()
        .rev()
        .find(|s| s.text.starts_with("call bpf_map_lookup_elem"))
        .unwrap_or_else(|| panic!("{name}: no lookup on {path:?}"));
    assert_eq!(call.writes[0].name, "R0", "{name}");
    assert!(
        call.writes[0].value.starts_with("map_value_or_null("),
        "{name}: {:?}",
        call.writes
    );
}

/// The instruction each line of a level-2 log shows processed: an
/// instruction line, or a pruning point (`N: safe`, `from X to N: safe`).
fn processed_at(line: &str) -> Option<usize> {
    if let Some((idx, rest)) = line.split_once(": (")
        && rest.get(2..4) == Some(") ")
    {
        return idx.parse().ok();
    }
    let head = line.strip_suffix(": safe")?;
    head.rsplit_once(" to ")
        .map_or(head, |(_, to)| to)
        .parse()
        .ok()
}

#[test]
fn counts_are_the_level2_logs_processed_lines() {
    let profile = KernelProfile::builtin("6.18")
        .unwrap()
        .with_possible_cpus(Some(2));
    for (name, req) in fixtures() {
        let v = verify_observed(
            &req,
            &profile,
            &VerifyOptions {
                log_level: LOG_LEVEL2,
            },
            Observe::DIAGNOSTICS,
        );
        let mut want = vec![0u64; req.insns.len()];
        for i in v.log.as_deref().unwrap().lines().filter_map(processed_at) {
            want[i] += 1;
        }
        let Some(obs) = v.observation.as_deref() else {
            assert!(
                want.iter().all(|&n| n == 0),
                "{name}: processed, not observed"
            );
            continue;
        };
        // An instruction refused at its prune point (an infinite loop) was
        // counted as processed, as the kernel counts it, but not printed.
        if v.verdict == Verdict::Rejected
            && let Some(i) = v.insn()
        {
            want[i.0 as usize] = obs.processed[i.0 as usize].max(want[i.0 as usize]);
        }
        assert_eq!(obs.processed, want, "{name}");
    }
}

/// The stack depth of the statistics (`stack depth N` at `BPF_LOG_STATS`)
/// is the running kernel's.
#[test]
fn stack_depth_is_the_kernels() {
    use bpfcheck_sys::{LoadOptions, test_support::kernel_or_skip};
    use bpfcheck_uapi::VerifierStats;
    let Some(kernel) = kernel_or_skip("stack_depth_is_the_kernels") else {
        return;
    };
    let profile = KernelProfile::builtin("6.18")
        .unwrap()
        .with_possible_cpus(Some(2));
    let mut nonzero = 0;
    for (name, req) in fixtures() {
        let ours = verify(&req, &profile, &VerifyOptions { log_level: 4 });
        let opts = LoadOptions {
            log_level: 4,
            log_size: 1 << 16,
            fixed_log: false,
        };
        let out = kernel.load(&req, &opts).unwrap();
        let theirs = VerifierStats::parse_log(&out.log).and_then(|s| s.stack_depth);
        // Programs refused before `do_check`: the depths the kernel prints
        // for them (all zero) are not modelled yet.
        let Some(stats) = ours.stats.filter(|s| s.insns_processed > 0) else {
            continue;
        };
        let ours = stats.stack_depth;
        assert_eq!(ours, theirs, "{name}");
        nonzero += usize::from(ours.is_some_and(|d| d[0] > 0));
    }
    assert!(nonzero >= 10, "{nonzero}");
}

#[test]
fn a_walk_that_stops_unsupported_shows_its_path_and_what_it_found() {
    // An atomic through a stack pointer moved by a variable is not
    // modelled: the walk stops at insn 4, with the path that reached it.
    let text = ";! prog_type: socket_filter\ncall bpf_get_prandom_u32#7\nr0 &= 7\nr1 = r10\nr1 += r0\nlock *(u64 *)(r1 +0) += r0\nr0 = 0\nexit\n";
    let req = Fixture::parse(text).unwrap().load_request("stops");
    let profile = KernelProfile::builtin("6.18").unwrap();
    let v = verify_observed(&req, &profile, &VerifyOptions::default(), ALL);
    assert_eq!(v.verdict, Verdict::Unsupported);
    let stop = v.unsupported.as_ref().and_then(|u| u.insn).map(|i| i.0);
    let obs = v.observation.as_deref().expect("an observation");
    let insns: Vec<u32> = obs.path.iter().map(|s| s.insn).collect();
    assert_eq!(insns, [0, 1, 2, 3, 4]);
    assert_eq!(stop, Some(4));
    assert_eq!(obs.processed.iter().sum::<u64>(), 5);
    let found: Vec<(&str, &str)> = obs
        .stop_state
        .iter()
        .map(|w| (w.name.as_str(), w.value.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "R0",
                "scalar(smin=smin32=0,smax=umax=smax32=umax32=7,var_off=(0x0; 0x7))"
            ),
            (
                "R1",
                "fp(smin=smin32=0,smax=umax=smax32=umax32=7,var_off=(0x0; 0x7))"
            ),
            ("R10", "fp0")
        ]
    );
}
