//! Running one annotated program: the kernel's answer, bpfcheck's, and
//! how each compares with the annotations and with the other.

use std::time::Instant;

use bpfcheck_isa::normalize_kernel_addresses;
use bpfcheck_report::{
    Agreement, KernelField, KernelSide, Record, SCHEMA_VERSION, UnsupportedInfo,
};
use bpfcheck_sys::{Kernel, LoadOutcome};
use bpfcheck_uapi::{AttachType, LoadRequest, ProgType};
use bpfcheck_verifier::{
    KernelProfile, LOG_LEVEL1, LOG_STATS, Verdict, Verification, VerifyOptions, stats_trailer,
};
use serde::Serialize;

use super::annotations::{Expectation, MsgPattern, match_msgs};

/// How an annotation's expectation compares with one side's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AnnotationCheck {
    /// The verdict is the expected one.
    pub verdict: bool,
    /// Every `__msg` was found, in order, in the log the test would see.
    pub msgs: bool,
    /// The first `__msg` not found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_unmatched: Option<String>,
}

impl AnnotationCheck {
    /// Both the verdict and the messages are as annotated.
    pub fn all(&self) -> bool {
        self.verdict && self.msgs
    }
}

/// Compares an expectation with a verdict and the log a test would read.
pub fn check_annotation(exp: &Expectation, accepted: bool, log: &str) -> AnnotationCheck {
    let (msgs, first_unmatched) = match match_msgs(log, &exp.msgs) {
        Ok(()) => (true, None),
        Err(i) => (false, exp.msgs.get(i).map(|m: &MsgPattern| m.text.clone())),
    };
    AnnotationCheck {
        verdict: accepted != exp.expect_failure,
        msgs,
        first_unmatched,
    }
}

/// The log level of the load: the annotation's, or 1 when it is 0, since
/// libbpf reloads a failed program at level 1 to fetch its log. What the
/// test sees is [`visible_log`].
pub fn load_log_level(annotated: u32) -> u32 {
    if annotated == 0 {
        LOG_LEVEL1
    } else {
        annotated
    }
}

/// The log `test_loader.c` matches `__msg` against: empty for a program
/// loaded at level 0 that was accepted (libbpf never asked for a log).
pub fn visible_log(annotated_level: u32, accepted: bool, log: &str) -> String {
    if annotated_level == 0 && accepted {
        String::new()
    } else {
        log.to_owned()
    }
}

/// Whether this kernel refuses the program's type before its verifier
/// runs: programs attaching through a BPF trampoline, and `freplace`,
/// which needs a target program's fd that no corpus runner has.
pub fn needs_trampoline(req: &LoadRequest) -> bool {
    req.prog_type == ProgType::LSM
        || req.prog_type == ProgType::EXT
        || (req.prog_type == ProgType::TRACING
            && [
                AttachType::TRACE_FENTRY,
                AttachType::TRACE_FEXIT,
                AttachType::MODIFY_RETURN,
            ]
            .contains(&req.expected_attach_type))
}

/// Fills `attach_btf_id` from the section's target name, as libbpf does
/// at load time: `tp_btf` targets are `btf_trace_*` typedefs, the others
/// functions of vmlinux. Targets in module BTF are not searched.
pub fn resolve_attach_btf_id(req: &mut LoadRequest, vmlinux: &bpfcheck_btf::Btf<'_>) {
    use bpfcheck_btf::BtfKind;
    if req.attach_btf_id != 0 {
        return;
    }
    let Some(target) = &req.attach_target else {
        return;
    };
    let kind = if req.expected_attach_type == AttachType::TRACE_RAW_TP {
        BtfKind::Typedef
    } else {
        BtfKind::Func
    };
    if let Some(t) = vmlinux.find_by_name_kind(target, kind) {
        req.attach_btf_id = t.id().0;
    }
}

/// The kernel's side of one load, in the report's terms.
pub fn kernel_side(out: &LoadOutcome, log_level: u32, wall_us: u64) -> KernelSide {
    let stats = out.stats.as_ref();
    KernelSide {
        verdict: if out.accepted { "accepted" } else { "rejected" }.to_owned(),
        errno: out.errno,
        error: out.error_line.clone(),
        error_insn: if out.accepted {
            None
        } else {
            last_insn_of_log(&out.log)
        },
        insns_processed: stats.map(|s| s.insns_processed),
        max_states_per_insn: stats.map(|s| s.max_states_per_insn),
        total_states: stats.map(|s| s.total_states),
        peak_states: stats.map(|s| s.peak_states),
        duration_us: Some(
            stats
                .and_then(|s| s.verification_time_us)
                .unwrap_or(wall_us),
        ),
        log: (log_level != 0).then(|| out.log.clone()),
    }
}

/// The instruction index of the last instruction line of a log.
fn last_insn_of_log(log: &str) -> Option<u32> {
    log.lines()
        .rev()
        .find_map(crate::parse_insn_line)
        .and_then(|(i, _)| u32::try_from(i).ok())
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Accepted => "accepted",
        Verdict::Rejected => "rejected",
        Verdict::Unsupported => "unsupported",
    }
}

/// bpfcheck's full log at `log_level`: the log and its statistics trailer.
pub fn bpfcheck_log(v: &Verification, log_level: u32, duration_us: u64) -> Option<String> {
    if log_level == 0 {
        return None;
    }
    v.log.as_ref().map(|l| match &v.stats {
        Some(s) => format!("{l}{}", stats_trailer(log_level, s, duration_us)),
        None => l.clone(),
    })
}

/// Compares two logs after kernel addresses and measured times are
/// normalised.
pub fn logs_agree(ours: Option<&str>, theirs: Option<&str>) -> bool {
    let norm = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| {
                if l.starts_with("verification time ") {
                    "verification time N usec".to_owned()
                } else {
                    normalize_kernel_addresses(l)
                }
            })
            .collect()
    };
    match (ours, theirs) {
        (Some(a), Some(b)) => norm(a) == norm(b),
        (None, None) => true,
        _ => false,
    }
}

/// Identity of one program in the records.
#[derive(Clone, Copy, Debug)]
pub struct ProgramId<'a> {
    /// Object file name.
    pub object: &'a str,
    /// Program name.
    pub program: &'a str,
    /// ELF section.
    pub section: &'a str,
}

/// bpfcheck's verification of `req`, as a `diff` record against the
/// kernel's side `k`.
pub fn diff_record(
    id: ProgramId<'_>,
    req: &LoadRequest,
    profile: &KernelProfile,
    log_level: u32,
    k: KernelSide,
) -> (Record, Verification) {
    let start = Instant::now();
    let v = bpfcheck_verifier::verify(req, profile, &VerifyOptions { log_level });
    let us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    let stats = v.stats.as_ref();
    let log = bpfcheck_log(&v, log_level, us);
    let error = v
        .error
        .as_ref()
        .map(|e| e.message.clone())
        .filter(|m| !m.is_empty());
    let verdict = verdict_name(v.verdict).to_owned();
    let agree = Agreement {
        verdict: verdict == k.verdict,
        error: error == k.error,
        insns_processed: stats.map(|s| s.insns_processed) == k.insns_processed,
        log: logs_agree(log.as_deref(), k.log.as_deref()),
    };
    let rec = Record {
        schema: SCHEMA_VERSION,
        object: id.object.to_owned(),
        program: id.program.to_owned(),
        section: Some(id.section.to_owned()),
        prog_type: req.prog_type.to_string(),
        kernel: KernelField::Live(Box::new(k)),
        profile: Some(profile.name.clone()),
        verdict,
        errno: v.errno().map(|e| e.0),
        error,
        error_code: v.error.as_ref().map(|e| e.code.as_str().to_owned()),
        error_insn: v
            .insn()
            .map(|i| i.0)
            .filter(|_| v.verdict == Verdict::Rejected),
        unsupported: v.unsupported.as_ref().map(|u| UnsupportedInfo {
            feature: u.feature.clone(),
            insn: u.insn.map(|i| i.0),
        }),
        insns_processed: stats.map(|s| s.insns_processed),
        max_states_per_insn: stats.map(|s| s.max_states_per_insn),
        total_states: stats.map(|s| s.total_states),
        peak_states: stats.map(|s| s.peak_states),
        duration_us: Some(us),
        stack_depth: None,
        log,
        agree: Some(agree),
        source: None,
        hint: None,
        trace: None,
        processed_per_insn: None,
    };
    (rec, v)
}

/// Loads `req` into the running kernel at `log_level` (statistics always
/// asked for, so the verification time is the kernel's own).
pub fn ask_kernel(
    k: &Kernel,
    req: &LoadRequest,
    log_level: u32,
) -> Result<(LoadOutcome, u64), String> {
    let opts = bpfcheck_sys::LoadOptions {
        log_level: log_level | LOG_STATS,
        ..Default::default()
    };
    let start = Instant::now();
    let out = k.load(req, &opts).map_err(|e| e.to_string())?;
    let wall = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    Ok((out, wall))
}

/// Removes the lines only `LOG_STATS` adds, for a log requested without it.
pub fn strip_stats_lines(log: &str, log_level: u32) -> String {
    if log_level & LOG_STATS != 0 {
        return log.to_owned();
    }
    bpfcheck_uapi::strip_level4_lines(log)
}
