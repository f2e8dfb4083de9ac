//! Arithmetic with a pointer operand (`adjust_reg_min_max_vals` when
//! either side is a pointer, `adjust_ptr_min_max_vals`), the offset range
//! the kernel lets pointers reach (`check_reg_sane_offset_*`) and the rule
//! that a context pointer is only used unmoved (`check_ptr_off_reg`).
//!
//! A pointer's offset is a fixed part (`off`) and a variable part (a
//! scalar); constants move the fixed part as long as it stays an `i32`.
//! Privileged loaders only: no Spectre sanitation (`bypass_spec_v1`).

use bpfcheck_uapi::{Errno, RawInsn, op};

use super::Checker;
use crate::domain::{AluOp, Scalar, Width};
use crate::error::{ErrorCode, Stop};
use crate::state::{RegState, ScalarReg};

/// `BPF_MAX_VAR_OFF`: the largest offset a pointer may be moved by.
pub(super) const MAX_VAR_OFF: i64 = 1 << 29;

/// The kernel's text of an ALU operator (`bpf_alu_string`).
pub(super) fn alu_string(code: u8) -> &'static str {
    match op::alu_op(code) {
        op::ADD => "+=",
        op::SUB => "-=",
        op::MUL => "*=",
        op::DIV => "/=",
        op::OR => "|=",
        op::AND => "&=",
        op::LSH => "<<=",
        op::RSH => ">>=",
        op::NEG => "neg",
        op::MOD => "%=",
        op::XOR => "^=",
        op::MOV => "=",
        op::ARSH => "s>>=",
        _ => "endian",
    }
}

/// The fixed and variable offset of a pointer kind whose arithmetic is
/// modelled here (packets have their own, with ids and ranges).
pub(super) fn offsets(r: &RegState) -> Option<(i32, Scalar)> {
    match *r {
        RegState::PtrToCtx { off, var } | RegState::PtrToMapValue { off, var, .. } => {
            Some((off, var))
        }
        RegState::PtrToMem { ptr, .. }
        | RegState::PtrToBtfId { ptr, .. }
        | RegState::PtrToFlowKeys(ptr)
        | RegState::PtrToTpBuffer(ptr)
        | RegState::ConstPtrToDynptr { ptr, .. }
        | RegState::PtrToMapKey { ptr, .. } => Some((ptr.off, ptr.var)),
        RegState::PtrToStack { off, var, .. } => Some((off, var)),
        _ => None,
    }
}

/// `r` moved to the offsets `off` and `var`.
fn with_offsets(r: &RegState, off: i32, var: Scalar) -> Option<RegState> {
    let mut out = *r;
    match &mut out {
        RegState::PtrToCtx { off: o, var: v } | RegState::PtrToMapValue { off: o, var: v, .. } => {
            (*o, *v) = (off, var);
        }
        RegState::PtrToMem { ptr, .. }
        | RegState::PtrToBtfId { ptr, .. }
        | RegState::PtrToFlowKeys(ptr)
        | RegState::PtrToTpBuffer(ptr)
        | RegState::ConstPtrToDynptr { ptr, .. }
        | RegState::PtrToMapKey { ptr, .. } => {
            (ptr.off, ptr.var) = (off, var);
        }
        RegState::PtrToStack { off: o, var: v, .. } => (*o, *v) = (off, var),
        _ => return None,
    }
    Some(out)
}

/// Whether the pointer may still be NULL (`PTR_MAYBE_NULL`).
pub(super) fn maybe_null(r: &RegState) -> bool {
    match r {
        RegState::PtrToMapValue { maybe_null, .. } => *maybe_null,
        RegState::ConstPtrToMapOrNull { .. } => true,
        RegState::PtrToMem { ptr, .. } | RegState::PtrToBtfId { ptr, .. } => ptr.maybe_null,
        other => super::sock::sock_fields(other).is_some_and(|p| p.maybe_null),
    }
}

/// `var + off` without overflow, else the whole range (signed and
/// unsigned apart, as `check_add_overflow` does).
fn add_var(p: &Scalar, v: &Scalar) -> Scalar {
    let mut out = *p;
    (out.smin, out.smax) = match (p.smin.checked_add(v.smin), p.smax.checked_add(v.smax)) {
        (Some(a), Some(b)) => (a, b),
        _ => (i64::MIN, i64::MAX),
    };
    (out.umin, out.umax) = match (p.umin.checked_add(v.umin), p.umax.checked_add(v.umax)) {
        (Some(a), Some(b)) => (a, b),
        _ => (0, u64::MAX),
    };
    out.var_off = p.var_off.add(v.var_off);
    out
}

/// `var - off` without overflow, else the whole range.
fn sub_var(p: &Scalar, v: &Scalar) -> Scalar {
    let mut out = *p;
    (out.smin, out.smax) = match (p.smin.checked_sub(v.smax), p.smax.checked_sub(v.smin)) {
        (Some(a), Some(b)) => (a, b),
        _ => (i64::MIN, i64::MAX),
    };
    (out.umin, out.umax) = if p.umin < v.umax {
        (0, u64::MAX)
    } else {
        (p.umin - v.umax, p.umax - v.umin)
    };
    out.var_off = p.var_off.sub(v.var_off);
    out
}

impl Checker<'_> {
    fn ptr_reject(&self, errno: Errno, msg: String) -> Stop {
        let code = if errno == Errno::EACCES {
            ErrorCode::PointerArithmetic
        } else {
            ErrorCode::InvalidInsn
        };
        self.reject(code, errno, msg)
    }

    /// `check_reg_sane_offset_scalar`: the number `var` (a linked scalar's
    /// constant `off` included) moving a pointer of type `ty`.
    pub(super) fn sane_offset_scalar(&self, var: &Scalar, off: i64, ty: &str) -> Result<(), Stop> {
        let msg = if let Some(c) = var.const_value().map(|c| c as i64)
            && (c >= MAX_VAR_OFF || c <= -MAX_VAR_OFF)
        {
            format!("math between {ty} pointer and {c} is not allowed")
        } else if off >= MAX_VAR_OFF || off <= -MAX_VAR_OFF {
            format!("{ty} pointer offset {off} is not allowed")
        } else if var.smin == i64::MIN {
            format!(
                "math between {ty} pointer and register with unbounded min value is not allowed"
            )
        } else if var.smin >= MAX_VAR_OFF || var.smin <= -MAX_VAR_OFF {
            format!("value {} makes {ty} pointer be out of bounds", var.smin)
        } else {
            return Ok(());
        };
        Err(self.ptr_reject(Errno::EINVAL, msg))
    }

    /// `check_reg_sane_offset_ptr`: a pointer of type `ty` with fixed
    /// offset `off` and variable part `var`.
    pub(super) fn sane_offset_ptr(&self, var: &Scalar, off: i64, ty: &str) -> Result<(), Stop> {
        // Kernels before the split check the pointer as they check the
        // number.
        if !self.profile.features.sane_offset_split {
            return self.sane_offset_scalar(var, off, ty);
        }
        let known = var.const_value().map(|c| c as i64);
        let bad = |v: i64| v >= MAX_VAR_OFF || v <= -MAX_VAR_OFF;
        let culprit = match known {
            Some(c) if bad(c) => Some(c),
            _ if bad(off) => Some(off),
            _ if bad(var.smin) => Some(var.smin),
            _ => None,
        };
        match culprit {
            Some(v) => Err(self.ptr_reject(
                Errno::EINVAL,
                format!("{ty} pointer offset {v} is not allowed"),
            )),
            None => Ok(()),
        }
    }

    /// `__check_ptr_off_reg` with no fixed offset allowed: the context
    /// pointer in `regno` must be the one the program received.
    pub(super) fn check_ptr_off_reg(&self, regno: u8, reg: &RegState) -> Result<(), Stop> {
        let Some((off, var)) = offsets(reg) else {
            return Ok(());
        };
        self.ptr_off_reg(regno, reg, off, &var, false)
    }

    /// `__check_ptr_off_reg` of pointer `reg` in `regno` at offsets `off`
    /// and `var`: never negative, never variable, and moved only when
    /// `fixed_off_ok`.
    pub(super) fn ptr_off_reg(
        &self,
        regno: u8,
        reg: &RegState,
        off: i32,
        var: &Scalar,
        fixed_off_ok: bool,
    ) -> Result<(), Stop> {
        let ty = reg.type_str();
        let msg = if off < 0 {
            format!("negative offset {ty} ptr R{regno} off={off} disallowed")
        } else if !fixed_off_ok && off != 0 {
            format!("dereference of modified {ty} ptr R{regno} off={off} disallowed")
        } else if !var.var_off.equals_const(0) {
            format!("variable {ty} access var_off={} disallowed", var.var_off)
        } else {
            return Ok(());
        };
        Err(self.reject(ErrorCode::InvalidMemAccess, Errno::EACCES, msg))
    }

    /// An ALU operation with a pointer on either side: `dst` and `src`
    /// are the operands (`src` the immediate for `BPF_K`), at least one a
    /// pointer.
    pub(super) fn ptr_alu(
        &mut self,
        insn: &RawInsn,
        width: Width,
        opk: AluOp,
        dst: RegState,
        src: RegState,
    ) -> Result<(), Stop> {
        let reg_src = op::src(insn.code) == op::X;
        match (dst, src) {
            (RegState::Scalar(d), ptr) => {
                // `scalar += pointer`: the pointer moves, into `dst`.
                self.mark_chain_precision(insn.dst)?;
                if self.profile.features.walk_v6_1.state_print {
                    // 6.1 copies the whole pointer register into `dst`,
                    // its liveness marks and parent link too: `dst`
                    // prints the pointer's marks and its later reads mark
                    // the pointer's register in the parent.
                    self.live_copy_reg(insn.dst, insn.src);
                }
                self.adjust_ptr(insn, width, opk, &ptr, &d, true)
            }
            (ptr, RegState::Scalar(s)) => {
                if reg_src {
                    // The pointer's offset rests on the scalar's value.
                    self.mark_chain_precision(insn.src)?;
                }
                self.adjust_ptr(insn, width, opk, &ptr, &s, false)
            }
            _ => {
                // Two pointers make a number: only their difference, and
                // only for a loader allowed to see pointers.
                if opk == AluOp::Sub && self.profile.caps.perfmon {
                    *self.cur.cur_mut().reg_mut(insn.dst) = RegState::unknown();
                    return Ok(());
                }
                Err(self.ptr_reject(
                    Errno::EACCES,
                    format!(
                        "R{} pointer {} pointer prohibited",
                        insn.dst,
                        alu_string(insn.code)
                    ),
                ))
            }
        }
    }

    /// `adjust_ptr_min_max_vals`: `ptr` moved by the scalar `off` into
    /// `insn.dst`; `reversed` when the pointer is the source operand.
    fn adjust_ptr(
        &mut self,
        insn: &RawInsn,
        width: Width,
        opk: AluOp,
        ptr: &RegState,
        off: &ScalarReg,
        reversed: bool,
    ) -> Result<(), Stop> {
        let dst = insn.dst;
        let ty = ptr.type_str();
        if width != Width::W64 {
            // 32-bit arithmetic on a pointer gives a meaningless number.
            if opk == AluOp::Sub && self.profile.caps.perfmon {
                *self.cur.cur_mut().reg_mut(dst) = RegState::unknown();
                return Ok(());
            }
            return Err(self.ptr_reject(
                Errno::EACCES,
                format!("R{dst} 32-bit pointer arithmetic prohibited"),
            ));
        }
        if maybe_null(ptr) {
            return Err(self.ptr_reject(
                Errno::EACCES,
                format!("R{dst} pointer arithmetic on {ty} prohibited, null-check it first"),
            ));
        }
        let known = off.value.const_value().map(|c| c as i64);
        match ptr {
            RegState::PtrToCtx { .. }
            | RegState::PtrToStack { .. }
            | RegState::PtrToMapValue { .. }
            | RegState::PtrToMapKey { .. }
            | RegState::PtrToMem { .. }
            | RegState::PtrToTpBuffer(_)
            | RegState::ConstPtrToDynptr { .. }
            | RegState::PtrToBtfId { .. } => {}
            RegState::PtrToPacket { .. } | RegState::PtrToPacketMeta { .. } => {
                return self.pkt_ptr_arith(insn, opk, ptr, off, reversed);
            }
            // `map + 0` is the map (a compiler's artefact).
            RegState::ConstPtrToMap { .. } if known == Some(0) && opk == AluOp::Add => {
                *self.cur.cur_mut().reg_mut(dst) = *ptr;
                return Ok(());
            }
            // Flow keys move by known amounts only.
            RegState::PtrToFlowKeys(_) if known.is_some() => {}
            RegState::ConstPtrToMap { .. }
            | RegState::PtrToPacketEnd
            | RegState::PtrToFlowKeys(_) => {
                return Err(self.ptr_reject(
                    Errno::EACCES,
                    format!("R{dst} pointer arithmetic on {ty} prohibited"),
                ));
            }
            // Sockets never move (the `default` of the kernel's switch).
            p if super::sock::sock_fields(p).is_some() => {
                return Err(self.ptr_reject(
                    Errno::EACCES,
                    format!("R{dst} pointer arithmetic on {ty} prohibited"),
                ));
            }
            _ => return Err(self.unsupported("pointer arithmetic on this pointer type")),
        }
        let Some((poff, pvar)) = offsets(ptr) else {
            return Err(self.unsupported("pointer arithmetic on this pointer type"));
        };
        if i64::from(off.off).abs() >= MAX_VAR_OFF {
            // Whether 6.18 looks at a linked number's constant here is not
            // known.
            return Err(self.unsupported("pointer arithmetic with a huge linked constant"));
        }
        self.sane_offset_scalar(&off.value, i64::from(off.off), ty)?;
        self.sane_offset_ptr(&pvar, i64::from(poff), ty)?;
        let mut var = pvar;
        var.mark_32_unbounded();
        let v = &off.value;
        let fixed = |n: i64| i32::try_from(n).ok();
        let mut new_off = poff;
        match opk {
            AluOp::Add => match known.and_then(|c| fixed(i64::from(poff) + c)) {
                Some(o) => new_off = o,
                None => var = add_var(&var, v),
            },
            AluOp::Sub if reversed => {
                return Err(self.ptr_reject(
                    Errno::EACCES,
                    format!("R{dst} tried to subtract pointer from scalar"),
                ));
            }
            AluOp::Sub if matches!(ptr, RegState::PtrToStack { .. }) => {
                // JITs may not cope with a frame pointer moved down by a
                // subtraction; `fp += -K` is fine.
                return Err(self.ptr_reject(
                    Errno::EACCES,
                    format!("R{dst} subtraction from stack pointer prohibited"),
                ));
            }
            AluOp::Sub => match known.and_then(|c| fixed(i64::from(poff) - c)) {
                Some(o) => new_off = o,
                None => var = sub_var(&var, v),
            },
            AluOp::And | AluOp::Or | AluOp::Xor => {
                return Err(self.ptr_reject(
                    Errno::EACCES,
                    format!(
                        "R{dst} bitwise operator {} on pointer prohibited",
                        alu_string(insn.code)
                    ),
                ));
            }
            _ => {
                return Err(self.ptr_reject(
                    Errno::EACCES,
                    format!(
                        "R{dst} pointer arithmetic with {} operator prohibited",
                        alu_string(insn.code)
                    ),
                ));
            }
        }
        self.sane_offset_ptr(&var, i64::from(new_off), ty)?;
        var.sync(self.era);
        let Some(moved) = with_offsets(ptr, new_off, var) else {
            return Err(self.unsupported("pointer arithmetic on this pointer type"));
        };
        *self.cur.cur_mut().reg_mut(dst) = moved;
        Ok(())
    }
}
