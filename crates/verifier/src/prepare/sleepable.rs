//! The sleepable flag against the program type, the first check of
//! `check_attach_btf_id` (after `check_cfg`): only some types may sleep,
//! and `syscall` programs must.

use bpfcheck_isa::LogEra;
use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::{AttachType, Errno, LoadRequest, ProgType, load::BPF_F_SLEEPABLE};

use crate::error::{ErrorCode, Stop, VerifierError};

/// `can_be_sleepable` of 6.12 to 6.18 (7.x adds tracepoints and more
/// tracing attach types). Kprobes pass here; their attach type is checked
/// when they are attached.
fn can_be_sleepable(t: ProgType, attach: AttachType) -> bool {
    use AttachType as A;
    match t {
        ProgType::TRACING => matches!(
            attach,
            A::TRACE_FENTRY | A::TRACE_FEXIT | A::MODIFY_RETURN | A::TRACE_ITER
        ),
        ProgType::LSM => attach != A::LSM_CGROUP,
        ProgType::KPROBE | ProgType::STRUCT_OPS => true,
        _ => false,
    }
}

/// The check, on the kernels whose rules [`can_be_sleepable`] gives.
pub(crate) fn check(req: &LoadRequest, profile: &KernelProfile) -> Result<(), Stop> {
    if !matches!(profile.log_era, LogEra::V6_12 | LogEra::V6_18) {
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
    if sleepable && !can_be_sleepable(req.prog_type, req.expected_attach_type) {
        return refuse(
            "Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs can be sleepable",
        );
    }
    Ok(())
}
