//! The gate of 7.x's walk: the profile names, one switch each
//! ([`bpfcheck_profile::WalkV7`]), what 7.x's `do_check` does differently
//! from 6.18's, and bpfcheck's walk models none of those yet. A profile
//! with any of them on gets `unsupported` naming the first, so that
//! nothing is judged with 6.18's rules where 7.x's differ.

use bpfcheck_profile::KernelProfile;

use crate::error::Unsupported;

/// The `MAX_CALL_FRAMES` the walk is written for.
const MODELLED_CALL_FRAMES: u32 = 8;

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
        _ => "a 7.x walk behaviour",
    }
}

/// The first 7.x walk behaviour of `profile` that bpfcheck does not model.
pub(crate) fn unmodelled(profile: &KernelProfile) -> Option<Unsupported> {
    if let Some(name) = profile.features.walk_v7.enabled().first() {
        return Some(Unsupported::new(
            format!(
                "do_check of kernel {}: {} (walk_v7.{name})",
                profile.name,
                describe(name)
            ),
            Some(0),
        ));
    }
    let frames = profile.limits.max_call_frames;
    (frames != MODELLED_CALL_FRAMES).then(|| {
        Unsupported::new(
            format!(
                "do_check of kernel {}: MAX_CALL_FRAMES {frames}",
                profile.name
            ),
            Some(0),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_two_is_refused_by_name_and_6_18_passes() {
        let p = KernelProfile::builtin("7.2").unwrap();
        let u = unmodelled(&p).expect("7.2's walk is not modelled");
        assert_eq!(
            u.feature,
            "do_check of kernel 7.2: scalar ranges as circular numbers (walk_v7.cnum_scalars)"
        );
        for name in ["6.18", "6.12", "6.1", "5.10"] {
            assert!(unmodelled(&KernelProfile::builtin(name).unwrap()).is_none());
        }
        for name in p.features.walk_v7.enabled() {
            assert_ne!(describe(name), "a 7.x walk behaviour", "{name}");
        }
        let mut only_frames = p;
        only_frames.features.walk_v7 = Default::default();
        assert_eq!(
            unmodelled(&only_frames).unwrap().feature,
            "do_check of kernel 7.2: MAX_CALL_FRAMES 16"
        );
    }
}
