//! The gate of 6.1's walk: the program properties whose 6.1 behaviour
//! ([`bpfcheck_profile::WalkV6_1`]) bpfcheck does not model are refused
//! before the walk, naming the switch. The modelled switches act in
//! `check` (module `check::v6_1`).

use bpfcheck_btf::types::Linkage;
use bpfcheck_btf::{Btf, BtfTypeId, Type};
use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::{LoadRequest, RawInsn, op};

use crate::error::Unsupported;

/// `bpf_ringbuf_reserve`.
const RINGBUF_RESERVE: i32 = 131;
/// `bpf_spin_lock`, `bpf_spin_unlock`.
const SPIN_LOCK_HELPERS: [i32; 2] = [93, 94];
/// `bpf_timer_init` to `bpf_timer_cancel`.
const TIMER_HELPERS: std::ops::RangeInclusive<i32> = 169..=172;

fn is_helper_call(insn: &RawInsn) -> bool {
    insn.code == op::JMP | op::CALL && insn.src == 0
}

/// A jump to itself: a loop of one instruction, which the SCCs may not
/// count as a component of its own.
fn jumps_to_itself(insn: &RawInsn) -> bool {
    matches!(insn.class(), op::JMP | op::JMP32)
        && insn.off == -1
        && insn.code & 0xf0 != op::CALL
        && insn.code & 0xf0 != op::EXIT
}

/// The first instruction of a global subprogram other than the main
/// program, by its `func_info` and BTF.
fn global_subprog(req: &LoadRequest) -> Option<usize> {
    if req.func_info.len() < 2 {
        return None;
    }
    let btf = Btf::parse(req.prog_btf.as_deref()?).ok()?;
    req.func_info
        .iter()
        .skip(1)
        .find_map(|fi| match btf.type_by_id(BtfTypeId(fi.type_id)) {
            Ok(Type::Func(f)) if f.linkage() == Linkage::Global => Some(fi.insn_off as usize),
            _ => None,
        })
}

/// The first 6.1 walk behaviour not modelled that `req` would meet, by
/// what the program holds.
pub(crate) fn unmodelled(req: &LoadRequest, profile: &KernelProfile) -> Option<Unsupported> {
    let v = &profile.features.walk_v6_1;
    let refuse = |what: &str, switch: &str, at: usize| {
        Some(Unsupported::new(
            format!(
                "do_check of kernel {}: {what} (walk_v6_1.{switch})",
                profile.name
            ),
            Some(at),
        ))
    };
    for (i, insn) in req.insns.iter().enumerate() {
        if v.callbacks_once && insn.code == op::LD | op::DW | op::IMM && insn.src == op::PSEUDO_FUNC
        {
            return refuse("callbacks walked once", "callbacks_once", i);
        }
        if v.alloc_mem_ringbuf && is_helper_call(insn) && insn.imm == RINGBUF_RESERVE {
            return refuse("ring buffer memory as alloc_mem", "alloc_mem_ringbuf", i);
        }
        if v.lock_rules
            && is_helper_call(insn)
            && (SPIN_LOCK_HELPERS.contains(&insn.imm) || TIMER_HELPERS.contains(&insn.imm))
        {
            return refuse("6.1's spin lock and timer rules", "lock_rules", i);
        }
    }
    if v.state_freq_pruning && req.prog_flags & bpfcheck_uapi::load::BPF_F_TEST_STATE_FREQ != 0 {
        return refuse(
            "checkpoints forced by BPF_F_TEST_STATE_FREQ",
            "state_freq_pruning",
            0,
        );
    }
    if v.global_funcs
        && let Some(at) = global_subprog(req)
    {
        return refuse("global functions verified first", "global_funcs", at);
    }
    if v.loops_without_entries {
        let scc = crate::check::compute_scc(&req.insns);
        let looping = scc
            .iter()
            .position(|&c| c != 0)
            .or_else(|| req.insns.iter().position(jumps_to_itself));
        if let Some(i) = looping {
            return refuse(
                "loops pruned without loop entries",
                "loops_without_entries",
                i,
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(insns: Vec<RawInsn>) -> LoadRequest {
        LoadRequest {
            insns,
            ..LoadRequest::default()
        }
    }

    #[test]
    fn six_one_refuses_loops_callbacks_and_locks_by_name() {
        let p61 = KernelProfile::builtin("6.1").unwrap();
        let p612 = KernelProfile::builtin("6.12").unwrap();
        let mov0 = RawInsn::new(op::ALU64 | op::MOV | op::K, 0, 0, 0, 0);
        let exit = RawInsn::new(op::JMP | op::EXIT, 0, 0, 0, 0);
        // r0 = 0; if r0 != 0 goto -2; exit: a loop.
        let looping = req(vec![
            mov0,
            RawInsn::new(op::JMP | op::JNE | op::K, 0, 0, -2, 0),
            exit,
        ]);
        let u = unmodelled(&looping, &p61).expect("6.1's loop pruning is not modelled");
        assert_eq!(
            u.feature,
            "do_check of kernel 6.1: loops pruned without loop entries (walk_v6_1.loops_without_entries)"
        );
        assert!(unmodelled(&looping, &p612).is_none());
        let lock = req(vec![
            RawInsn::new(op::JMP | op::CALL, 0, 0, 0, 93),
            mov0,
            exit,
        ]);
        assert!(
            unmodelled(&lock, &p61)
                .unwrap()
                .feature
                .ends_with("(walk_v6_1.lock_rules)")
        );
        assert!(unmodelled(&req(vec![mov0, exit]), &p61).is_none());
    }
}
