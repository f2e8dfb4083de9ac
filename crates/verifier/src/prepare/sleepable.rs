//! The sleepable flag against the program type, the first check of
//! `check_attach_btf_id` (after `check_cfg`): only some types may sleep,
//! and `syscall` programs must.

use bpfcheck_isa::LogEra;
use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::{AttachType, Errno, LoadRequest, ProgType, load::BPF_F_SLEEPABLE};

use crate::error::{ErrorCode, Stop, VerifierError};

/// `can_be_sleepable`: 6.12 to 6.18, or 7.x's longer list
/// (`tracepoints`, the profile's `sleepable_tracepoints`). Kprobes pass
/// here; their attach type is checked when they are attached.
fn can_be_sleepable(t: ProgType, attach: AttachType, tracepoints: bool) -> bool {
    use AttachType as A;
    // BPF_TRACE_FSESSION, BPF_TRACE_FENTRY_MULTI, BPF_TRACE_FEXIT_MULTI and
    // BPF_TRACE_FSESSION_MULTI follow BPF_TRACE_UPROBE_SESSION (7.x).
    let v7_tracing = |a: AttachType| {
        a == A::TRACE_RAW_TP
            || (A::TRACE_UPROBE_SESSION.0 + 1..=A::TRACE_UPROBE_SESSION.0 + 4).contains(&a.0)
    };
    match t {
        ProgType::TRACING => {
            matches!(
                attach,
                A::TRACE_FENTRY | A::TRACE_FEXIT | A::MODIFY_RETURN | A::TRACE_ITER
            ) || (tracepoints && v7_tracing(attach))
        }
        ProgType::LSM => attach != A::LSM_CGROUP,
        ProgType::KPROBE | ProgType::STRUCT_OPS => true,
        ProgType::RAW_TRACEPOINT | ProgType::TRACEPOINT => tracepoints,
        _ => false,
    }
}

/// The check, on the kernels whose rules [`can_be_sleepable`] gives.
pub(crate) fn check(req: &LoadRequest, profile: &KernelProfile) -> Result<(), Stop> {
    if !matches!(
        profile.log_era,
        LogEra::V6_1 | LogEra::V6_12 | LogEra::V6_18 | LogEra::V7_2
    ) {
        return Ok(());
    }
    let sleepable = req.prog_flags & BPF_F_SLEEPABLE != 0;
    let refuse = |msg: &str| {
        Err(Stop::Reject(VerifierError::new(
            ErrorCode::InvalidAttr,
            Errno::EINVAL,
            None,
            msg,
        )))
    };
    if req.prog_type == ProgType::SYSCALL {
        return if sleepable {
            Ok(())
        } else {
            refuse("Syscall programs can only be sleepable")
        };
    }
    if profile.log_era == LogEra::V6_1 {
        // 6.1 lets tracing, LSM and kprobe programs sleep (the attach
        // target decides later), nothing else.
        let may = matches!(
            req.prog_type,
            ProgType::TRACING | ProgType::LSM | ProgType::KPROBE
        );
        if sleepable && !may {
            return refuse(
                "Only fentry/fexit/fmod_ret, lsm, and kprobe/uprobe programs can be sleepable",
            );
        }
        return Ok(());
    }
    let tracepoints = profile.features.sleepable_tracepoints;
    if sleepable && !can_be_sleepable(req.prog_type, req.expected_attach_type, tracepoints) {
        return refuse(if tracepoints {
            "Program of this type cannot be sleepable"
        } else {
            "Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs can be sleepable"
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(prog_type: ProgType, attach: AttachType, profile: &str) -> Option<String> {
        let req = LoadRequest {
            prog_type,
            expected_attach_type: attach,
            prog_flags: BPF_F_SLEEPABLE,
            ..LoadRequest::default()
        };
        let profile = KernelProfile::builtin(profile).unwrap();
        match check(&req, &profile) {
            Ok(()) => None,
            Err(Stop::Reject(e)) => Some(e.message),
            Err(Stop::Unsupported(u)) => panic!("unsupported: {u:?}"),
        }
    }

    #[test]
    fn tracepoints_may_sleep_from_7x_and_the_refusal_changes_words() {
        let tp = (ProgType::TRACEPOINT, AttachType::default());
        assert_eq!(
            message(tp.0, tp.1, "6.18").as_deref(),
            Some(
                "Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs can be sleepable"
            )
        );
        assert_eq!(message(tp.0, tp.1, "7.2"), None);
        assert_eq!(
            message(ProgType::RAW_TRACEPOINT, AttachType::default(), "7.2"),
            None
        );
        assert_eq!(
            message(ProgType::TRACING, AttachType::TRACE_RAW_TP, "7.2"),
            None
        );
        assert!(message(ProgType::TRACING, AttachType::TRACE_RAW_TP, "6.18").is_some());
        assert_eq!(
            message(ProgType::XDP, AttachType::default(), "7.2").as_deref(),
            Some("Program of this type cannot be sleepable")
        );
        assert_eq!(
            message(ProgType::TRACING, AttachType::TRACE_FENTRY, "7.2"),
            None
        );
    }
}
