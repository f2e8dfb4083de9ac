//! The passes the kernel runs before abstract interpretation, in its order
//! (`bpf_prog_load` in syscall.c, then `bpf_check` up to `do_check_main`):
//!
//! 1. [`attr`]: attribute checks `bpf_prog_load` makes before the verifier
//!    exists (no log is written for these).
//! 2. [`subprogs`]: `add_subprog_and_kfunc` and `check_subprogs`.
//! 3. [`ldimm64`]: `resolve_pseudo_ldimm64`, which also rejects unknown
//!    opcodes and malformed `LDX` encodings.
//! 4. [`cfg`]: `check_cfg`, the depth-first walk for unreachable code,
//!    out-of-range jumps and (without `CAP_BPF`) back-edges.
//! 5. [`sleepable`]: the sleepable flag against the program type
//!    (`check_attach_btf_id`), then [`attach`]: the BTF attach target of
//!    tracing and LSM programs.

pub(crate) mod attach;
pub(crate) mod attr;
pub(crate) mod cfg;
pub(crate) mod exception_cb;
pub(crate) mod graph_btf;
pub(crate) mod iter_target;
pub(crate) mod kfunc;
pub(crate) mod kptr_btf;
pub(crate) mod ldimm64;
pub(crate) mod lsm;
pub(crate) mod map_btf;
pub(crate) mod sleepable;
pub(crate) mod subprogs;

use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::LoadRequest;

use crate::{
    error::{Stop, Unsupported},
    log::Log,
};

/// Runs the passes; stops at the first refusal, as the kernel does.
/// Gives the kfuncs the program calls.
pub(crate) fn run(
    req: &LoadRequest,
    profile: &KernelProfile,
    log: &mut Log,
) -> Result<kfunc::KfuncTab, Stop> {
    attr::check(req, profile)?;
    if !profile.features.exceptions && matches!(exception_cb::find(req), Ok(Some(_))) {
        // Such a kernel ignores the decl tag: the callback is a subprogram
        // only if something calls it, and `func_info` then may count one
        // function more than the kernel's subprograms (its
        // `check_btf_func` count check is not modelled).
        return Err(Stop::Unsupported(Unsupported::new(
            "an exception callback (decl tag) on a kernel without exceptions",
            None,
        )));
    }
    let mut kfuncs = kfunc::KfuncTab::default();
    let (subprog_starts, exception_cb) = subprogs::discover(req, profile, log, &mut kfuncs)?;
    subprogs::check_ranges(&req.insns, &subprog_starts, &profile.isa)?;
    subprogs::check_abnormal_return(req, &subprog_starts)?;
    ldimm64::resolve(req, profile)?;
    cfg::check(req, &subprog_starts, exception_cb, profile)?;
    sleepable::check(req, profile)?;
    attach::check(req, profile)?;
    Ok(kfuncs)
}
