//! The gate of 7.x's walk: the profile names, one switch each
//! ([`bpfcheck_profile::WalkV7`]), what 7.x's `do_check` does differently
//! from 6.18's. The passes 7.x adds between the checks `prepare` models
//! and the walk are modelled here ([`before_walk`]: constant folding and
//! the call graph's topological sort, which refuses recursion); a switch
//! that changes nothing for the program at hand (no jump folded, no stack
//! argument) lets it through. Any other switch that is on answers
//! `unsupported` naming the first, so that nothing is judged with 6.18's
//! rules where 7.x's differ.

use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::{Errno, LoadRequest};

use crate::error::{ErrorCode, Stop, Unsupported, VerifierError};
use crate::log::Log;
use crate::{check, const_fold, subprog_topo};

/// What each switch is, in the words of the `unsupported` answer.
fn describe(name: &str) -> &'static str {
    match name {
        "cnum_scalars" => "scalar ranges as circular numbers",
        "ptr_offset_in_var_off" => "pointer offsets kept in var_off",
        "static_stack_liveness" => "7.1's static stack liveness",
        "const_fold_branches" => "conditional jumps decided by constant folding before the walk",
        "recursion_before_walk" => "recursion refused by the call graph's topological sort",
        "ctx_as_memory" => "context pointers as memory arguments",
        "kprobe_ctx_writes" => "kprobe context writes",
        "null_check_by_register" => "null checks against a register known to be 0",
        "release_ref_message" => "release of unreferenced pointers",
        "stack_args" => "stack arguments (BPF_REG_PARAMS)",
        "stats_insns_processed" => "the insns processed statistics line",
        "dynptr_args" => "7.x's dynptr argument checks",
        _ => "a 7.x walk behaviour",
    }
}

/// `BPF_REG_PARAMS`, the register of stack arguments.
const REG_PARAMS: u8 = 11;

/// The first instruction naming `BPF_REG_PARAMS`.
fn first_stack_arg(req: &LoadRequest) -> Option<usize> {
    req.insns
        .iter()
        .position(|i| i.dst == REG_PARAMS || i.src == REG_PARAMS)
}

/// The program the passes after constant folding see, and the jumps
/// folded (none when the profile does not fold).
fn folded(req: &LoadRequest, profile: &KernelProfile) -> Result<const_fold::Folded, Unsupported> {
    if !profile.features.walk_v7.const_fold_branches {
        return Ok(const_fold::Folded {
            insns: req.insns.clone(),
            rewritten: Vec::new(),
        });
    }
    const_fold::fold(req, &check::subprog_starts(req))
}

/// 7.x's passes between `check_attach_btf_id` and the walk that can refuse
/// a program: `bpf_compute_const_regs`, `bpf_prune_dead_branches` and
/// `sort_subprogs_topo` (`recursive call from %s() to %s()`, `EINVAL`,
/// nothing processed). At level 2 the sort logs the order it found.
pub(crate) fn before_walk(
    req: &LoadRequest,
    profile: &KernelProfile,
    log: &mut Log,
) -> Result<(), Stop> {
    let v = &profile.features.walk_v7;
    if !v.recursion_before_walk {
        return Ok(());
    }
    if v.stack_args
        && let Some(i) = first_stack_arg(req)
    {
        return Err(refusal(profile, "stack_args", i).into());
    }
    let program = folded(req, profile)?;
    let starts = check::subprog_starts(req);
    match subprog_topo::sort(&program.insns, &starts) {
        Err(r) => Err(VerifierError::new(
            ErrorCode::InvalidCallTarget,
            Errno::EINVAL,
            None,
            format!(
                "recursive call from {}() to {}()",
                subprog_topo::subprog_name(req, r.from),
                subprog_topo::subprog_name(req, r.to)
            ),
        )
        .into()),
        Ok(order) => {
            if log.level2() {
                for (i, k) in order.iter().enumerate() {
                    log.line(&format!(
                        "topo_order[{i}] = {}",
                        subprog_topo::subprog_name(req, *k)
                    ));
                }
            }
            Ok(())
        }
    }
}

fn refusal(profile: &KernelProfile, name: &str, at: usize) -> Unsupported {
    Unsupported::new(
        format!(
            "do_check of kernel {}: {} (walk_v7.{name})",
            profile.name,
            describe(name)
        ),
        Some(at),
    )
}

/// The first 7.x walk behaviour of `profile` that bpfcheck does not model
/// and that `req` meets.
pub(crate) fn unmodelled(req: &LoadRequest, profile: &KernelProfile) -> Option<Unsupported> {
    for name in profile.features.walk_v7.enabled() {
        let at = match name {
            // Modelled in `before_walk`.
            "recursion_before_walk" => continue,
            // Modelled in the statistics (`VerifierStats::insns_by_function`).
            "stats_insns_processed" => continue,
            // Modelled in the walk, or refused there at the instruction
            // that meets them (`ctx_as_memory`, `dynptr_args`).
            "release_ref_message"
            | "null_check_by_register"
            | "kprobe_ctx_writes"
            | "ctx_as_memory"
            | "dynptr_args" => continue,
            "stack_args" => match first_stack_arg(req) {
                Some(i) => i,
                None => continue,
            },
            "const_fold_branches" => match folded(req, profile) {
                Ok(f) => match f.rewritten.first() {
                    Some(&i) => i,
                    None => continue,
                },
                Err(u) => return Some(u),
            },
            _ => 0,
        };
        return Some(refusal(profile, name, at));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_two_is_refused_by_name_and_6_18_passes() {
        let p = KernelProfile::builtin("7.2").unwrap();
        let empty = LoadRequest::default();
        let u = unmodelled(&empty, &p).expect("7.2's walk is not modelled");
        assert_eq!(
            u.feature,
            "do_check of kernel 7.2: scalar ranges as circular numbers (walk_v7.cnum_scalars)"
        );
        for name in ["6.18", "6.12", "6.1", "5.10"] {
            assert!(unmodelled(&empty, &KernelProfile::builtin(name).unwrap()).is_none());
        }
        for name in p.features.walk_v7.enabled() {
            assert_ne!(describe(name), "a 7.x walk behaviour", "{name}");
        }
        // `MAX_CALL_FRAMES` is profile data the walk reads, and the
        // statistics line is modelled: neither refuses alone.
        let mut only_modelled = p;
        only_modelled.features.walk_v7 = Default::default();
        only_modelled.features.walk_v7.stats_insns_processed = true;
        assert!(unmodelled(&empty, &only_modelled).is_none());
    }
}
