//! Kfunc calls against the live kernel, as tables:
//!
//! - `kfunc_registrations`: every kfunc of the 6.18 profile's data called
//!   from one program type of each kfunc hook; the kernel refuses the call
//!   with `calling kernel function %s is not allowed` exactly where the
//!   data says it is not registered (this is what checks data generated
//!   from 7.2's source against 6.18);
//! - `kfunc_calls_agree`: modelled calls (scalar and context arguments,
//!   RCU and preemption regions) and wrong arguments in every program
//!   type bpfcheck walks, judged by bpfcheck and the kernel, which must
//!   agree on the verdict and the error line.
//!
//! Without `bpf()` both print a SKIPPED line; the second still checks
//! bpfcheck's own answers on the built-in 6.18 profile.

use std::path::Path;

use bpfcheck_asm::{Fixture, SymKind};
use bpfcheck_btf::BtfKind;
use bpfcheck_profile::kfuncs::{KfuncAccess, KfuncData};
use bpfcheck_profile::{KernelBtf, KernelProfile};
use bpfcheck_sys::test_support::kernel_or_skip;
use bpfcheck_sys::{LoadOptions, error_line};
use bpfcheck_uapi::ProgType;
use bpfcheck_verifier::{LOG_LEVEL1, Verdict, VerifyOptions, verify};

/// The running kernel's profile with its own BTF (BTF ids are per build).
fn host_profile() -> Option<KernelProfile> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let btf = std::fs::read("/sys/kernel/btf/vmlinux").ok()?;
    let btf = KernelBtf::open(btf).ok()?;
    let p = KernelProfile::for_release(release.trim(), Some(btf)).ok()?;
    ((p.version.major, p.version.minor) == (6, 18)).then_some(p)
}

fn request(text: &str, profile: &KernelProfile) -> bpfcheck_uapi::LoadRequest {
    let mut fx = Fixture::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let btf = profile.btf.as_ref().unwrap().btf().unwrap();
    fx.resolve_kernel_symbols(&|name, kind| {
        let k = match kind {
            SymKind::Func => BtfKind::Func,
            SymKind::VarOrFunc => BtfKind::Var,
        };
        btf.find_by_name_kind(name, k).map(|t| t.id().0)
    })
    .unwrap_or_else(|e| panic!("{text}: {e}"));
    fx.load_request("kfunc")
}

const OPTS: LoadOptions = LoadOptions {
    log_level: LOG_LEVEL1,
    log_size: 1 << 22,
    fixed_log: false,
};

/// One program type per kfunc hook, with the flags it loads with.
const HOOK_TYPES: &[(&str, &str)] = &[
    ("socket_filter", ""),
    ("kprobe", ""),
    ("sched_cls", ""),
    ("sched_act", ""),
    ("tracepoint", ""),
    ("xdp", ""),
    ("perf_event", ""),
    ("cgroup_skb", ""),
    ("sock_ops", ""),
    ("lwt_in", ""),
    ("raw_tracepoint", ""),
    ("syscall", ";! prog_flags: BPF_F_SLEEPABLE\n"),
];

#[test]
fn kfunc_registrations() {
    let Some(kernel) = kernel_or_skip("kfunc_registrations") else {
        return;
    };
    let Some(profile) = host_profile() else {
        eprintln!("SKIPPED kfunc_registrations: the running kernel is not a 6.18");
        return;
    };
    let table = KfuncData::V6_18.table().unwrap();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for name in table.names() {
        for (prog_type, flags) in HOOK_TYPES {
            let text = format!(
                ";! prog_type: {prog_type}\n{flags}r1 = 0\nr2 = 0\nr3 = 0\nr4 = 0\nr5 = 0\ncall kfunc({name})\nr0 = 0\nexit\n"
            );
            let req = request(&text, &profile);
            let out = kernel.load(&req, &OPTS).expect("BPF_PROG_LOAD");
            // Refused before the walk (module-less metadata kfuncs …).
            if out.log.contains("processed 0 insns") {
                continue;
            }
            let refused = error_line(&out.log)
                .is_some_and(|l| l == format!("calling kernel function {name} is not allowed"));
            let pt = ProgType::from_name(prog_type).unwrap();
            let ours = match table.access(name, pt) {
                KfuncAccess::NotAllowed => true,
                // A filter function decides by more than the program type.
                KfuncAccess::Allowed(r) if r.filter.is_some() => continue,
                _ => false,
            };
            if ours != refused {
                wrong.push(format!("{name} in {prog_type}: kernel refuses: {refused}"));
            }
            checked += 1;
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked > 1000, "checked {checked}");
}

/// A kfunc call and the program types it is tried in.
const CALLS: &[(&str, &[&str], &str)] = &[
    (
        "rcu_region",
        &[
            "socket_filter",
            "kprobe",
            "sched_cls",
            "xdp",
            "tracepoint",
            "cgroup_skb",
            "sock_ops",
            "lwt_in",
            "raw_tracepoint",
            "perf_event",
        ],
        "call kfunc(bpf_rcu_read_lock)\ncall kfunc(bpf_rcu_read_unlock)",
    ),
    (
        "preempt_region",
        &[
            "socket_filter",
            "sched_cls",
            "xdp",
            "kprobe",
            "cgroup_sock",
            "sock_ops",
        ],
        "call kfunc(bpf_preempt_disable)\ncall kfunc(bpf_preempt_disable)\ncall kfunc(bpf_preempt_enable)\ncall kfunc(bpf_preempt_enable)",
    ),
    (
        "rcu_left_open",
        &["sched_cls", "tracepoint", "cgroup_sysctl"],
        "call kfunc(bpf_rcu_read_lock)",
    ),
    (
        "preempt_left_open",
        &["xdp", "kprobe"],
        "call kfunc(bpf_preempt_disable)\ncall kfunc(bpf_preempt_disable)",
    ),
    (
        "rcu_nested",
        &["sched_cls"],
        "call kfunc(bpf_rcu_read_lock)\ncall kfunc(bpf_rcu_read_lock)",
    ),
    (
        "rcu_unmatched",
        &["sched_cls", "syscall"],
        "call kfunc(bpf_rcu_read_unlock)",
    ),
    (
        "preempt_unmatched",
        &["xdp", "cgroup_device"],
        "call kfunc(bpf_preempt_enable)",
    ),
    (
        "scalar_arg",
        &["socket_filter", "sched_cls", "xdp", "kprobe", "syscall"],
        "r1 = 7\ncall kfunc(bpf_modify_return_test_tp)\nr0 &= 0",
    ),
    (
        "scalar_arg_pointer",
        &["sched_cls", "kprobe"],
        "r1 = r10\ncall kfunc(bpf_modify_return_test_tp)",
    ),
    (
        "scalar_arg_uninit",
        &["sched_cls"],
        "call kfunc(bpf_modify_return_test_tp)",
    ),
    (
        "ctx_arg",
        &["xdp"],
        "r2 = 14\ncall kfunc(bpf_xdp_pull_data)",
    ),
    (
        "ctx_arg_stack",
        &["xdp"],
        "r1 = r10\nr1 += -8\nr2 = 14\ncall kfunc(bpf_xdp_pull_data)",
    ),
    (
        "ctx_arg_moved",
        &["xdp"],
        "r1 += 8\nr2 = 14\ncall kfunc(bpf_xdp_pull_data)",
    ),
    (
        "not_allowed",
        &["kprobe", "socket_filter", "raw_tracepoint", "lwt_in"],
        "r1 = 1\ncall kfunc(bpf_task_from_pid)",
    ),
    (
        "sleepable",
        &["sched_cls", "xdp"],
        "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\nr4 = 0\ncall kfunc(bpf_copy_from_user_str)",
    ),
];

fn call_program(prog_type: &str, call: &str) -> String {
    let flags = if prog_type == "syscall" {
        ";! prog_flags: BPF_F_SLEEPABLE\n"
    } else {
        ""
    };
    let ret = match prog_type {
        "xdp" => 2,
        "cgroup_skb" | "cgroup_sock_addr" | "sock_ops" | "cgroup_sysctl" | "cgroup_device"
        | "cgroup_sock" | "netfilter" => 1,
        _ => 0,
    };
    format!(";! prog_type: {prog_type}\n{flags}{call}\nr0 = {ret}\nexit\n")
}

#[test]
fn kfunc_calls_agree() {
    let kernel = kernel_or_skip("kfunc_calls_agree");
    let live = kernel.as_ref().and(host_profile());
    let profile = live
        .clone()
        .unwrap_or_else(|| KernelProfile::builtin("6.18").unwrap());
    let (mut judged, mut compared) = (0, 0);
    for (name, prog_types, call) in CALLS {
        for prog_type in *prog_types {
            let what = format!("{name} in {prog_type}");
            let text = call_program(prog_type, call);
            let req = request(&text, &profile);
            let v = verify(&req, &profile, &VerifyOptions { log_level: 1 });
            assert_ne!(
                v.verdict,
                Verdict::Unsupported,
                "{what}: {:?}",
                v.unsupported
            );
            judged += 1;
            let (Some(kernel), Some(_)) = (&kernel, &live) else {
                continue;
            };
            let out = kernel.load(&req, &OPTS).expect("BPF_PROG_LOAD");
            let ours = v.error.as_ref().map(|e| e.message.clone());
            let theirs = error_line(&out.log);
            assert_eq!(
                v.verdict == Verdict::Accepted,
                out.accepted,
                "{what}: bpfcheck {ours:?}, kernel {theirs:?}"
            );
            if let Some(ours) = ours {
                assert_eq!(Some(ours.as_str()), theirs.as_deref(), "{what}");
                assert_eq!(
                    v.error.as_ref().map(|e| e.errno.0),
                    out.errno,
                    "{what}: errno"
                );
            }
            compared += 1;
        }
    }
    assert!(judged >= 40, "judged {judged}");
    if live.is_some() {
        assert_eq!(compared, judged);
    }
}

/// The `fixtures/asm/kfunc_*.s` fixtures.
fn kfunc_fixtures() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/asm");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let stem = name.strip_prefix("kfunc_")?.strip_suffix(".s")?;
            let text = std::fs::read_to_string(dir.join(&name)).ok()?;
            Some((format!("kfunc_{stem}"), text))
        })
        .collect();
    out.sort();
    out
}

fn log_of(req: &bpfcheck_uapi::LoadRequest, profile: &KernelProfile, level: u32) -> String {
    let v = verify(req, profile, &VerifyOptions { log_level: level });
    assert_ne!(v.verdict, Verdict::Unsupported, "{:?}", v.unsupported);
    let log = v.log.expect("an exact log");
    let stats = v.stats.expect("statistics");
    format!(
        "{log}{}",
        bpfcheck_verifier::stats_trailer(level, &stats, 0)
    )
}

/// Map references print as kernel addresses, which differ.
fn norm(s: &str) -> String {
    s.lines()
        .map(bpfcheck_isa::normalize_kernel_addresses)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Golden level-1 and level-2 logs of the kfunc fixtures with the
/// built-in 6.18 profile's BTF ids (`tests/golden-kfunc`, rewritten by
/// `BPFCHECK_BLESS=1`), and the same logs with the host's ids against the
/// live kernel, byte for byte.
#[test]
fn kfunc_fixture_logs() {
    let bless = std::env::var_os("BPFCHECK_BLESS").is_some();
    let builtin = KernelProfile::builtin("6.18")
        .unwrap()
        .with_possible_cpus(Some(2));
    let fixtures = kfunc_fixtures();
    assert!(fixtures.len() >= 15, "{} kfunc fixtures", fixtures.len());
    for (name, text) in &fixtures {
        let req = request(text, &builtin);
        for level in [1, 2] {
            let ours = log_of(&req, &builtin, level);
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("tests/golden-kfunc/{name}.l{level}.log"));
            if bless {
                std::fs::write(&path, &ours).unwrap();
                continue;
            }
            let golden = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(ours, golden, "{name} at level {level}");
        }
    }
    let Some(kernel) = kernel_or_skip("kfunc_fixture_logs (live)") else {
        return;
    };
    let Some(host) = host_profile() else {
        return;
    };
    for (name, text) in &fixtures {
        let req = request(text, &host);
        for level in [1, 2] {
            let opts = LoadOptions {
                log_level: level,
                log_size: 1 << 20,
                fixed_log: false,
            };
            let out = kernel.load(&req, &opts).unwrap();
            assert_eq!(
                norm(&log_of(&req, &host, level)),
                norm(&out.log),
                "{name} at level {level}"
            );
        }
    }
}
