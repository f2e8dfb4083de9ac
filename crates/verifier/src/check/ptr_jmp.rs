//! Conditional jumps with a pointer operand other than two packet
//! pointers (`check_cond_jmp_op`): a pointer known not to be NULL decides
//! `==`/`!=` against 0 (`is_branch_taken`), a lookup result compared with
//! 0 is null-checked (`mark_ptr_or_null_regs`), and otherwise both
//! branches are walked with nothing learned (`reg_set_min_max` only
//! narrows scalars).

use bpfcheck_uapi::{RawInsn, op};

use super::jmp::{mark_ptr_or_null, target_of};
use super::packet::flip;
use super::precision::{CMP_DST_STACK, CMP_SRC_STACK};
use super::ptr_alu::{MAX_VAR_OFF, maybe_null};
use super::{Checker, Flow};
use crate::domain::{JmpOp, Width};
use crate::error::Stop;
use crate::state::RegState;

/// The constant of a scalar operand (`is_reg_const`, 64-bit).
fn const_of(r: &RegState) -> Option<u64> {
    r.scalar().and_then(|s| s.value.const_value())
}

/// Whether a variable offset could wrap a non-NULL base to 0 (the
/// offset bounds test of `reg_not_null`).
fn var_may_wrap(r: &RegState) -> bool {
    let var = match r {
        RegState::PtrToMapValue { var, .. } => var,
        RegState::PtrToMem { ptr, .. } => &ptr.var,
        _ => return false,
    };
    var.smin <= -MAX_VAR_OFF || var.smax >= MAX_VAR_OFF
}

/// `reg_not_null` for the kinds the interpreter creates: maps, map values
/// and sized memory never are NULL once checked; the context, the stack
/// and packet pointers are not counted as such by the kernel.
fn not_null(r: &RegState) -> bool {
    // A BTF pointer only when trusted (`is_trusted_reg`).
    if let RegState::PtrToBtfId { ptr, btf } = r {
        return !ptr.maybe_null
            && btf.mem == crate::state::MemKind::Kernel
            && (ptr.ref_obj_id != 0
                || btf.trust == crate::state::Trust::Trusted
                || (btf.owner.local() && super::kfunc_ref::is_trusted(r)));
    }
    matches!(
        r,
        RegState::PtrToMapValue { .. } | RegState::PtrToMem { .. } | RegState::ConstPtrToMap { .. }
    ) && !maybe_null(r)
        && !var_may_wrap(r)
}

impl Checker<'_> {
    /// `mark_ptr_or_null_regs` on both sides of a NULL check of the
    /// pointers with `ids`: the current state falls through, `other` jumps;
    /// `jump_if_not_null` for `!= 0`.
    pub(super) fn mark_null_check(
        &mut self,
        other: &mut crate::state::VerifierState,
        ids: (u32, u32),
        jump_if_not_null: bool,
    ) {
        mark_ptr_or_null(
            &mut self.cur,
            ids,
            jump_if_not_null,
            &self.map_fields,
            self.non_null,
            self.profile.features.refs_release_swaps,
        );
        mark_ptr_or_null(
            other,
            ids,
            !jump_if_not_null,
            &self.map_fields,
            self.non_null,
            self.profile.features.refs_release_swaps,
        );
    }

    /// A conditional jump where `dst` or `src` (the immediate for
    /// `BPF_K`) is a pointer, not both packet pointers.
    pub(super) fn ptr_cond_jmp(
        &mut self,
        insn: &RawInsn,
        opk: JmpOp,
        width: Width,
        dst: &RegState,
        src: &RegState,
    ) -> Result<Flow, Stop> {
        let idx = self.insn_idx;
        let target = target_of(idx, insn);
        let reg_src = op::src(insn.code) == op::X;
        if !self.profile.caps.perfmon {
            return Err(self.unsupported("pointer comparisons by unprivileged loaders"));
        }
        let linked = |r: &RegState| r.scalar().is_some_and(|s| s.id != 0);
        if linked(dst) || reg_src && linked(src) {
            return Err(self.unsupported("pointers compared with linked scalars"));
        }
        // Precision is not passed on to stack pointer operands.
        let is_stack = |r: &RegState| matches!(r, RegState::PtrToStack { .. });
        let mut flags = 0;
        if is_stack(dst) {
            flags |= CMP_DST_STACK;
        }
        if reg_src && is_stack(src) {
            flags |= CMP_SRC_STACK;
        }
        if flags != 0 {
            self.push_hist_cmp_stack(flags);
        }
        let v6_1 = self.profile.features.walk_v6_1.ptr_not_null_v6_1;
        if v6_1 && width == Width::W32 {
            return Err(self.unsupported(
                "32-bit pointer comparisons of kernel 6.1 (walk_v6_1.ptr_not_null_v6_1)",
            ));
        }
        let taken = if v6_1 {
            super::v6_1::ptr_branch_taken_v6_1(opk, dst, src)
        } else {
            ptr_branch_taken(opk, width, dst, src)
        };
        if let Some(taken) = taken {
            // Only the number compared with the pointer needs to be exact.
            if dst.scalar().is_some() {
                self.mark_chain_precision(insn.dst)?;
            }
            if reg_src && src.scalar().is_some() {
                self.mark_chain_precision(insn.src)?;
            }
            self.print_insn_state();
            return Ok(if taken {
                Flow::Goto(target)
            } else {
                Flow::Next
            });
        }
        let eq_ne = matches!(opk, JmpOp::Eq | JmpOp::Ne);
        let mut other = self.cur.clone();
        if width == Width::W64 && reg_src && dst.is_pointer() && src.is_pointer() && eq_ne {
            if maybe_null(dst) && maybe_null(src) {
                return Err(self.unsupported("two maybe-NULL pointers compared"));
            }
            // Equal to a pointer that is not NULL, a maybe-NULL one is not
            // NULL either (on that branch only, keeping its id).
            let eq_branch = match opk {
                JmpOp::Eq => Some(&mut other),
                _ => Some(&mut self.cur),
            };
            let r = if maybe_null(dst) { insn.dst } else { insn.src };
            let btf = |r: &RegState| matches!(r, RegState::PtrToBtfId { .. });
            let infer = (maybe_null(dst) || maybe_null(src)) && !btf(dst) && !btf(src);
            if let Some(state) = eq_branch.filter(|_| infer) {
                let reg = state.cur_mut().reg_mut(r);
                if !super::map_in_map::mark_not_null_keep_id(reg, self.non_null) {
                    return Err(self.unsupported("a maybe-NULL pointer compared with a pointer"));
                }
            }
        } else if width == Width::W64 && eq_ne && maybe_null(dst) {
            // 7.x null-checks against a register known to be 0 too, the
            // zero being a property of the path (made precise).
            let by_register = reg_src
                && self.profile.features.walk_v7.null_check_by_register
                && const_of(src) == Some(0);
            if reg_src && !by_register {
                return Err(self.unsupported("null checks against a register"));
            }
            if by_register {
                self.mark_chain_precision(insn.src)?;
            }
            if by_register || insn.imm == 0 {
                let (id, ref_obj_id) = match *dst {
                    RegState::PtrToMapValue { id, .. }
                    | RegState::ConstPtrToMapOrNull { id, .. } => (id, 0),
                    RegState::PtrToMem { ptr, .. } | RegState::PtrToBtfId { ptr, .. } => {
                        (ptr.id, ptr.ref_obj_id)
                    }
                    _ => (0, 0),
                };
                self.mark_null_check(&mut other, (id, ref_obj_id), opk == JmpOp::Ne);
            }
        }
        self.push_branch(other, target, idx)?;
        self.print_insn_state();
        Ok(Flow::Next)
    }
}

/// `is_branch_taken` with a pointer operand: only a pointer known not
/// to be NULL compared for (in)equality with the constant 0, 64-bit
/// (a valid pointer's low half may well be 0).
fn ptr_branch_taken(opk: JmpOp, width: Width, dst: &RegState, src: &RegState) -> Option<bool> {
    if width != Width::W64 {
        return None;
    }
    let (ptr, opk, c) = match (const_of(src), const_of(dst)) {
        (Some(c), _) => (dst, opk, c),
        (None, Some(c)) => (src, flip(opk), c),
        (None, None) => return None,
    };
    if !not_null(ptr) || c != 0 {
        return None;
    }
    let taken = match opk {
        JmpOp::Eq => false,
        JmpOp::Ne => true,
        _ => return None,
    };
    Some(taken)
}
