//! BPF LSM hooks (kernel/bpf/bpf_lsm.c): which `bpf_lsm_*` functions an LSM
//! program may attach to, and which of them may sleep, by the profile's
//! generated lists (`bpfcheck_profile::attach`).
//!
//! Implements `bpf_lsm_verify_prog` (GPL license, disabled hooks, hooks
//! outside `bpf_lsm_hooks`), `bpf_lsm_is_sleepable_hook` for sleepable
//! programs, and gives the walk a hook's return type and argument trust
//! (`bpf_lsm_is_trusted`). Kernels without lists, or whose return-value
//! rules are not modelled (6.1's), leave LSM programs `unsupported`.

use bpfcheck_profile::KernelProfile;
use bpfcheck_profile::attach::{AttachTable, LsmHook};
use bpfcheck_uapi::{Errno, LoadRequest};

use super::attach::Target;
use crate::error::{ErrorCode, Stop, Unsupported, VerifierError};

/// The prefix of every BPF LSM hook's function.
const LSM_PREFIX: &str = "bpf_lsm_";

fn refuse(msg: String) -> Stop {
    VerifierError::new(ErrorCode::InvalidAttr, Errno::EINVAL, None, msg).into()
}

fn table(profile: &KernelProfile) -> Result<&'static AttachTable, Stop> {
    let Some(data) = profile.attach else {
        return Err(
            Unsupported::new("LSM programs (no LSM hook list for this kernel)", None).into(),
        );
    };
    data.table().map_err(|e| {
        Unsupported::new(format!("LSM programs (hook list unreadable: {e})"), None).into()
    })
}

/// The hook `target` is, if it is one.
pub(crate) fn hook(profile: &KernelProfile, target: &Target) -> Result<Option<LsmHook>, Stop> {
    let t = table(profile)?;
    Ok(target
        .name
        .strip_prefix(LSM_PREFIX)
        .and_then(|n| t.lsm_hook(n))
        .copied())
}

/// Whether the walk models LSM programs on this kernel.
pub(crate) fn walked(profile: &KernelProfile) -> bool {
    profile
        .attach
        .and_then(|d| d.table().ok())
        .is_some_and(|t| t.lsm_retval_range)
}

/// `bpf_lsm_is_sleepable_hook`, for a sleepable LSM program.
pub(crate) fn check_sleepable(profile: &KernelProfile, target: &Target) -> Result<(), Stop> {
    match hook(profile, target)? {
        Some(h) if h.sleepable => Ok(()),
        _ => Err(refuse(format!("{} is not sleepable", target.name))),
    }
}

/// `bpf_lsm_verify_prog`.
pub(crate) fn verify_prog(
    req: &LoadRequest,
    profile: &KernelProfile,
    target: &Target,
) -> Result<(), Stop> {
    if !crate::check::gpl_compatible(&req.license) {
        return Err(refuse(
            "LSM programs must have a GPL compatible license".to_owned(),
        ));
    }
    let id = req.attach_btf_id;
    let name = &target.name;
    match hook(profile, target)? {
        Some(h) if h.disabled => Err(refuse(format!(
            "attach_btf_id {id} points to disabled hook {name}"
        ))),
        Some(_) => Ok(()),
        None => Err(refuse(format!(
            "attach_btf_id {id} points to wrong type name {name}"
        ))),
    }
}
