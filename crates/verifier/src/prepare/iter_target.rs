//! BPF iterator targets (kernel/bpf/bpf_iter.c): an `iter/` program
//! attaches to `bpf_iter_TARGET`, a target some part of the kernel
//! registered (`bpf_iter_reg_target`), whose `ctx_arg_info` types the
//! context fields it hands over.
//!
//! Implements `bpf_iter_prog_supported` by the profile's generated list of
//! registrations (`bpfcheck_profile::attach`): a name without the prefix is
//! refused without a word, as the kernel does; a target the list lacks is
//! `unsupported` (the list may miss registrations of sources it was not
//! generated from, and of modules).

use bpfcheck_profile::KernelProfile;
use bpfcheck_profile::attach::IterTarget;
use bpfcheck_uapi::{Errno, LoadRequest, MapType};

use super::attach::Target;
use crate::error::{ErrorCode, Stop, Unsupported, VerifierError};

/// `BPF_ITER_FUNC_PREFIX`.
const ITER_PREFIX: &str = "bpf_iter_";

/// The registration of `target`, or the kernel's silent refusal.
pub(crate) fn supported(
    profile: &KernelProfile,
    target: &Target,
) -> Result<&'static IterTarget, Stop> {
    let Some(name) = target.name.strip_prefix(ITER_PREFIX) else {
        return Err(VerifierError::new(ErrorCode::InvalidAttr, Errno::EINVAL, None, "").into());
    };
    let table = profile.attach.and_then(|d| d.table().ok()).ok_or_else(|| {
        Unsupported::new(
            "iterator programs (no iterator targets for this kernel)",
            None,
        )
    })?;
    table.iter_target(name).ok_or_else(|| {
        Unsupported::new(
            format!("iterator target {name} (not in this kernel's registered targets)"),
            None,
        )
        .into()
    })
}

/// Iterator programs that use sock maps: the live 6.18 kernel refused one
/// (`verifier_sockmap_mutate`'s `test_trace_iter`, annotated `__success`)
/// with `EPERM` before its walk, for a reason not found in the source
/// read; such programs are not judged.
pub(crate) fn check_maps(req: &LoadRequest) -> Result<(), Stop> {
    if req
        .maps
        .iter()
        .any(|m| matches!(m.map_type, MapType::SOCKMAP | MapType::SOCKHASH))
    {
        return Err(Unsupported::new(
            "iterator programs using sock maps (refused before the walk on the live 6.18 kernel)",
            None,
        )
        .into());
    }
    Ok(())
}
