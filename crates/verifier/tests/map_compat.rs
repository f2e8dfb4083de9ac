//! `check_map_func_compatibility` as a table: each map kind passed to each
//! map-taking helper, judged by bpfcheck and, where `bpf()` is available,
//! by the live kernel, which must agree on the verdict and the error line.

use bpfcheck_asm::Fixture;
use bpfcheck_profile::KernelProfile;
use bpfcheck_sys::test_support::kernel_or_skip;
use bpfcheck_sys::{LoadOptions, error_line};
use bpfcheck_verifier::{LOG_LEVEL1, Verdict, VerifyOptions, verify};

/// Maps by their `;! map:` spec.
const MAPS: &[&str] = &[
    "hash:4:8:1",
    "array:4:8:1",
    "prog_array:4:4:1",
    "perf_event_array:4:4:1",
    "stack_trace:4:8:1",
    "ringbuf:0:0:4096",
    "cgroup_storage:16:8:0",
    "devmap:4:4:1",
    "sockmap:4:4:1",
    "queue:0:4:1",
];

/// A helper call with map 0, after zeroed key (`fp-48`) and value
/// (`fp-32`) buffers, and the program types it is tried in.
const CALLS: &[(&str, &[&str], &str)] = &[
    (
        "lookup",
        &["socket_filter", "sched_cls", "xdp"],
        "r1 = map_fd(0)\nr2 = r10\nr2 += -48\ncall bpf_map_lookup_elem",
    ),
    (
        "update",
        &["socket_filter", "raw_tracepoint"],
        "r1 = map_fd(0)\nr2 = r10\nr2 += -48\nr3 = r10\nr3 += -32\nr4 = 0\ncall bpf_map_update_elem",
    ),
    (
        "delete",
        &["sched_cls", "raw_tracepoint", "sock_ops"],
        "r1 = map_fd(0)\nr2 = r10\nr2 += -48\ncall bpf_map_delete_elem",
    ),
    (
        "local_storage",
        &["cgroup_skb"],
        "r1 = map_fd(0)\nr2 = 0\ncall bpf_get_local_storage",
    ),
    (
        "redirect_map",
        &["xdp"],
        "r1 = map_fd(0)\nr2 = 0\nr3 = 0\ncall bpf_redirect_map",
    ),
    (
        "tail_call",
        &["socket_filter"],
        "r2 = map_fd(0)\nr3 = 0\ncall bpf_tail_call",
    ),
    (
        "perf_event_output",
        &["sched_cls"],
        "r2 = map_fd(0)\nr3 = 0\nr4 = r10\nr4 += -32\nr5 = 8\ncall bpf_perf_event_output",
    ),
    (
        "get_stackid",
        &["kprobe"],
        "r2 = map_fd(0)\nr3 = 0\ncall bpf_get_stackid",
    ),
    (
        "ringbuf_output",
        &["socket_filter"],
        "r1 = map_fd(0)\nr2 = r10\nr2 += -32\nr3 = 8\nr4 = 0\ncall bpf_ringbuf_output",
    ),
];

fn program(map: &str, prog_type: &str, call: &str) -> String {
    let mut text = format!(";! prog_type: {prog_type}\n;! map: {map}\nr0 = 0\n");
    for off in (8..=48).step_by(8) {
        text.push_str(&format!("*(u64 *)(r10 -{off}) = r0\n"));
    }
    text.push_str(call);
    text.push_str("\nr0 = 0\nexit\n");
    text
}

#[test]
fn helper_map_pairs_agree_with_the_kernel() {
    let kernel = kernel_or_skip("helper_map_pairs_agree_with_the_kernel");
    let profile = KernelProfile::builtin("6.18").unwrap();
    let opts = LoadOptions {
        log_level: LOG_LEVEL1,
        log_size: 1 << 20,
        fixed_log: false,
    };
    let (mut judged, mut refused) = (0, 0);
    for map in MAPS {
        for (name, prog_types, call) in CALLS {
            for prog_type in *prog_types {
                let what = format!("{name} with {map} in {prog_type}");
                let text = program(map, prog_type, call);
                let req = Fixture::parse(&text)
                    .unwrap_or_else(|e| panic!("{what}: {e}"))
                    .load_request(name);
                let v = verify(&req, &profile, &VerifyOptions { log_level: 1 });
                if v.verdict == Verdict::Unsupported {
                    continue;
                }
                judged += 1;
                let ours = v.error.as_ref().map(|e| e.message.clone());
                if ours
                    .as_deref()
                    .is_some_and(|m| m.starts_with("cannot pass map_type"))
                {
                    refused += 1;
                }
                let Some(kernel) = &kernel else {
                    continue;
                };
                let Ok(out) = kernel.load(&req, &opts) else {
                    // The map itself could not be created here.
                    continue;
                };
                let theirs = error_line(&out.log);
                assert_eq!(
                    v.verdict == Verdict::Accepted,
                    out.accepted,
                    "{what}: bpfcheck {ours:?}, kernel {theirs:?}"
                );
                if let Some(ours) = ours {
                    assert_eq!(Some(ours.as_str()), theirs.as_deref(), "{what}");
                }
            }
        }
    }
    assert!(
        judged >= 60 && refused >= 40,
        "judged {judged}, refused {refused}"
    );
}
