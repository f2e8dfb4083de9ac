//! Building report records from bpfcheck's and the kernel's answers.

use bpfcheck_isa::normalize_kernel_addresses;
use bpfcheck_report::{
    Agreement, KernelField, KernelSide, Record, RegChange, SCHEMA_VERSION, Trace, TraceStep,
    UnsupportedInfo, classify,
};
use bpfcheck_verifier::{Observation, Verdict, Verification, stats_trailer};

use crate::input::Program;

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Accepted => "accepted",
        Verdict::Rejected => "rejected",
        Verdict::Unsupported => "unsupported",
    }
}

/// The failing path the verifier observed, with each step's source line.
pub(crate) fn trace_of(obs: &Observation, req: &bpfcheck_uapi::LoadRequest) -> Option<Trace> {
    if obs.path.is_empty() {
        return None;
    }
    let lines = crate::source::LineTable::of(req);
    let steps = obs
        .path
        .iter()
        .map(|s| TraceStep {
            insn: s.insn,
            text: s.text.clone(),
            source: lines.as_ref().and_then(|t| t.locate(s.insn)),
            reg_changes: s
                .writes
                .iter()
                .map(|w| RegChange {
                    reg: w.name.clone(),
                    value: w.value.clone(),
                })
                .collect(),
        })
        .collect();
    let found = obs
        .stop_state
        .iter()
        .map(|w| RegChange {
            reg: w.name.clone(),
            value: w.value.clone(),
        })
        .collect();
    Some(Trace { steps, found })
}

/// bpfcheck's record for one program and profile: with the failing path
/// and the per-instruction counts when `v` observed them.
pub(crate) fn from_verification(
    p: &Program,
    profile: &str,
    v: &Verification,
    log_level: u32,
    duration_us: u64,
) -> Record {
    let stats = v.stats.as_ref();
    let log = if log_level == 0 {
        None
    } else {
        v.log.as_ref().map(|l| match stats {
            Some(s) => format!("{l}{}", stats_trailer(log_level, s, duration_us)),
            None => l.clone(),
        })
    };
    let r = Record {
        schema: SCHEMA_VERSION,
        object: p.object.display().to_string(),
        program: p.name.clone(),
        section: p.section.clone(),
        prog_type: p.request.prog_type.to_string(),
        kernel: KernelField::Profile(profile.to_owned()),
        profile: None,
        verdict: verdict_name(v.verdict).to_owned(),
        errno: v.errno().map(|e| e.0),
        error: v
            .error
            .as_ref()
            .map(|e| e.message.clone())
            .filter(|m| !m.is_empty()),
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
        duration_us: Some(duration_us),
        stack_depth: stats.and_then(|s| s.stack_depth.clone()),
        log,
        agree: None,
        source: None,
        hint: None,
        trace: v
            .observation
            .as_deref()
            .and_then(|o| trace_of(o, &p.request)),
        processed_per_insn: v
            .observation
            .as_deref()
            .map(|o| o.processed.clone())
            .filter(|c| !c.is_empty()),
    };
    diagnose(r, &p.request)
}

/// Adds what explains a rejection to a record: the source line of the
/// failing instruction and the catalogue's hint.
pub(crate) fn diagnose(mut r: Record, req: &bpfcheck_uapi::LoadRequest) -> Record {
    if r.verdict != "rejected" {
        return r;
    }
    r.source = r.error_insn.and_then(|i| crate::source::locate(req, i));
    r.hint = classify(r.error.as_deref(), r.error_code.as_deref()).map(|c| c.help.to_owned());
    r
}

/// Compares two kernel-format logs after kernel addresses and the measured
/// verification time are normalised.
pub(crate) fn logs_agree(ours: Option<&str>, theirs: Option<&str>) -> bool {
    let norm = |s: &str| -> String {
        s.lines()
            .map(|l| {
                if l.starts_with("verification time ") {
                    "verification time N usec".to_owned()
                } else {
                    normalize_kernel_addresses(l)
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    match (ours, theirs) {
        (Some(a), Some(b)) => norm(a) == norm(b),
        (None, None) => true,
        _ => false,
    }
}

/// Fills a `check` record's `agree` and turns it into a `diff` record.
pub(crate) fn into_diff(mut ours: Record, k: KernelSide) -> Record {
    let agree = Agreement {
        verdict: ours.verdict == k.verdict,
        error: ours.error == k.error,
        insns_processed: ours.insns_processed == k.insns_processed,
        log: logs_agree(ours.log.as_deref(), k.log.as_deref()),
    };
    ours.agree = Some(agree);
    ours.profile = Some(ours.profile_name().to_owned());
    ours.kernel = KernelField::Live(Box::new(k));
    ours
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_comparison_normalises_time() {
        assert!(logs_agree(
            Some("verification time 1 usec\na"),
            Some("verification time 99 usec\na")
        ));
        assert!(!logs_agree(Some("a"), None));
    }
}
