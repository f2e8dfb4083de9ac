//! `check_alu_op` for scalars, register copies, and stack pointers moved
//! by constants.

use bpfcheck_isa::{RegArg, check_alu_imm};
use bpfcheck_uapi::{Errno, RawInsn, op};

use super::Checker;
use crate::domain::{self, AluOp, Scalar, Width};
use crate::error::{ErrorCode, Stop, VerifierError};
use crate::state::reg::ADD_CONST;
use crate::state::{RegState, ScalarReg};

/// `BPF_MAX_VAR_OFF`: the largest offset a pointer may be moved by.
const MAX_VAR_OFF: i64 = 1 << 29;

/// The domain operation of an ALU instruction (encoding already checked).
fn alu_op(insn: &RawInsn) -> Option<AluOp> {
    let signed = insn.off == 1;
    Some(match op::alu_op(insn.code) {
        op::ADD => AluOp::Add,
        op::SUB => AluOp::Sub,
        op::MUL => AluOp::Mul,
        op::DIV if signed => AluOp::SDiv,
        op::DIV => AluOp::Div,
        op::MOD if signed => AluOp::SMod,
        op::MOD => AluOp::Mod,
        op::OR => AluOp::Or,
        op::AND => AluOp::And,
        op::XOR => AluOp::Xor,
        op::LSH => AluOp::Lsh,
        op::RSH => AluOp::Rsh,
        op::ARSH => AluOp::Arsh,
        op::NEG => AluOp::Neg,
        op::END => {
            let bits = u8::try_from(insn.imm).ok()?;
            // x86-64 is little-endian: `be` and `bswap` reverse bytes.
            let swap = insn.class() == op::ALU64 || op::src(insn.code) == op::X;
            AluOp::End { bits, swap }
        }
        _ => return None,
    })
}

/// Bits needed for the largest unsigned value (`get_reg_width`).
fn width_bits(s: &Scalar) -> u32 {
    64 - s.umax.leading_zeros()
}

impl Checker<'_> {
    pub(super) fn alu(&mut self, insn: &RawInsn) -> Result<(), Stop> {
        let width = if insn.class() == op::ALU64 {
            Width::W64
        } else {
            Width::W32
        };
        match op::alu_op(insn.code) {
            op::MOV => self.mov(insn, width),
            op::NEG | op::END => {
                self.read_reg(insn.dst)?;
                self.write_reg(insn.dst, RegArg::DstNoMark)?;
                let Some(s) = self.cur.cur().reg(insn.dst).scalar().copied() else {
                    return Err(self.unsupported("pointer arithmetic"));
                };
                let opk = alu_op(insn).ok_or_else(|| self.unsupported("this ALU opcode"))?;
                let v = domain::alu(self.era, opk, width, &s.value, &Scalar::unknown());
                self.set_scalar(insn.dst, ScalarReg::new(v))
            }
            _ => self.binary(insn, width),
        }
    }

    fn set_scalar(&mut self, r: u8, s: ScalarReg) -> Result<(), Stop> {
        if let Err(v) = s.value.check_sane() {
            let _ = v;
            return Err(self.unsupported("register bounds invariant violations"));
        }
        *self.cur.cur_mut().reg_mut(r) = RegState::Scalar(s);
        Ok(())
    }

    /// `assign_scalar_id_before_mov`.
    fn assign_id(&mut self, r: u8) {
        let needs = match self.cur.cur().reg(r) {
            RegState::Scalar(s) => s.id & ADD_CONST != 0 || (s.id == 0 && !s.value.is_const()),
            _ => false,
        };
        if needs {
            let id = self.new_id();
            if let Some(s) = self.cur.cur_mut().reg_mut(r).scalar_mut() {
                if s.id & ADD_CONST != 0 {
                    s.clear_id();
                }
                if !s.value.is_const() {
                    s.id = id;
                }
            }
        }
    }

    fn mov(&mut self, insn: &RawInsn, width: Width) -> Result<(), Stop> {
        let reg_src = op::src(insn.code) == op::X;
        if reg_src {
            self.read_reg(insn.src)?;
        }
        self.write_reg(insn.dst, RegArg::DstNoMark)?;
        if !reg_src {
            let v = match width {
                Width::W64 => i64::from(insn.imm) as u64,
                Width::W32 => u64::from(insn.imm as u32),
            };
            *self.cur.cur_mut().reg_mut(insn.dst) = RegState::constant(v);
            return Ok(());
        }
        if insn.class() == op::ALU64 && insn.imm != 0 {
            return Err(self.unsupported("addr_space_cast (arenas)"));
        }
        let src = *self.cur.cur().reg(insn.src);
        let sx = insn.off != 0;
        let Some(s) = src.scalar().copied() else {
            if width == Width::W64 && !sx {
                *self.cur.cur_mut().reg_mut(insn.dst) = src;
                return Ok(());
            }
            // A privileged loader may copy part of a pointer: the result
            // is an unknown number.
            let v = domain::alu(
                self.era,
                AluOp::Mov,
                width,
                &Scalar::unknown(),
                &Scalar::unknown(),
            );
            return self.set_scalar(insn.dst, ScalarReg::new(v));
        };
        let keep_id = if sx {
            let bits = u32::try_from(insn.off).unwrap_or(64);
            bits < 64 && s.value.umax < (1u64 << (bits - 1))
        } else {
            width == Width::W64 || width_bits(&s.value) <= 32
        };
        if keep_id {
            self.assign_id(insn.src);
        }
        let Some(mut copy) = self.cur.cur().reg(insn.src).scalar().copied() else {
            return Err(self.unsupported("register copies"));
        };
        if !keep_id {
            copy.clear_id();
        }
        let opk = if sx {
            AluOp::MovSx(u8::try_from(insn.off).unwrap_or(0))
        } else {
            AluOp::Mov
        };
        copy.value = domain::alu(self.era, opk, width, &copy.value, &copy.value);
        self.set_scalar(insn.dst, copy)
    }

    fn binary(&mut self, insn: &RawInsn, width: Width) -> Result<(), Stop> {
        let reg_src = op::src(insn.code) == op::X;
        if reg_src {
            self.read_reg(insn.src)?;
        }
        self.read_reg(insn.dst)?;
        check_alu_imm(insn, self.insn_idx).map_err(VerifierError::from)?;
        self.write_reg(insn.dst, RegArg::DstNoMark)?;
        let opk = alu_op(insn).ok_or_else(|| self.unsupported("this ALU opcode"))?;
        let dst = *self.cur.cur().reg(insn.dst);
        let src = if reg_src {
            *self.cur.cur().reg(insn.src)
        } else {
            RegState::Scalar(ScalarReg::new(Scalar::from_imm(insn.imm)))
        };
        if dst.is_pointer() && matches!(src, RegState::Scalar(_)) && width != Width::W64 {
            // `adjust_ptr_min_max_vals`: 32-bit arithmetic on a pointer gives
            // a meaningless scalar — allowed for a subtraction by a loader
            // that may leak pointers, refused otherwise — whatever the
            // pointer's kind or null-ness.
            if reg_src {
                self.mark_chain_precision(insn.src)?;
            }
            if opk == AluOp::Sub && self.profile.caps.perfmon {
                return self.set_scalar(insn.dst, ScalarReg::new(Scalar::unknown()));
            }
            return Err(self.reject(
                ErrorCode::PointerArithmetic,
                Errno::EACCES,
                format!("R{} 32-bit pointer arithmetic prohibited", insn.dst),
            ));
        }
        let (d, s) = match (dst, src) {
            (RegState::Scalar(d), RegState::Scalar(s)) => (d, s),
            (RegState::PtrToStack { frameno, off }, RegState::Scalar(s)) => {
                if reg_src {
                    // The pointer's offset rests on the scalar's value.
                    self.mark_chain_precision(insn.src)?;
                }
                return self.stack_ptr_arith(insn, width, opk, frameno, off, &s);
            }
            (RegState::PtrToMapValue { .. }, RegState::Scalar(s)) => {
                if width != Width::W64 {
                    return Err(self.reject(
                        ErrorCode::PointerArithmetic,
                        Errno::EACCES,
                        format!("R{} 32-bit pointer arithmetic prohibited", insn.dst),
                    ));
                }
                if reg_src {
                    self.mark_chain_precision(insn.src)?;
                }
                return self.map_ptr_arith(insn, opk, &dst, &s.value);
            }
            (
                RegState::PtrToPacket { .. }
                | RegState::PtrToPacketMeta { .. }
                | RegState::PtrToPacketEnd,
                RegState::Scalar(s),
            ) => {
                if reg_src {
                    self.mark_chain_precision(insn.src)?;
                }
                return self.pkt_ptr_arith(insn, opk, &dst, &s, false);
            }
            (
                RegState::Scalar(d),
                RegState::PtrToPacket { .. }
                | RegState::PtrToPacketMeta { .. }
                | RegState::PtrToPacketEnd,
            ) => {
                // `scalar += pointer`: the result is the pointer moved.
                self.mark_chain_precision(insn.dst)?;
                if width != Width::W64 {
                    if opk == AluOp::Sub && self.profile.caps.perfmon {
                        return self.set_scalar(insn.dst, ScalarReg::new(Scalar::unknown()));
                    }
                    return Err(self.reject(
                        ErrorCode::PointerArithmetic,
                        Errno::EACCES,
                        format!("R{} 32-bit pointer arithmetic prohibited", insn.dst),
                    ));
                }
                return self.pkt_ptr_arith(insn, opk, &src, &d, true);
            }
            (_, _) if reg_src && dst.is_pointer() && src.is_pointer() && opk == AluOp::Sub => {
                // Pointer difference, allowed to privileged loaders.
                return self.set_scalar(insn.dst, ScalarReg::new(Scalar::unknown()));
            }
            _ => return Err(self.unsupported("pointer arithmetic")),
        };
        if reg_src && d.precise {
            self.mark_chain_precision(insn.src)?;
        }
        let mut cur = d;
        if let Some((zero, ones)) =
            domain::split_minus_one_or_zero(self.era, opk, &d.value, &s.value)
        {
            let mut branch = self.cur.clone();
            let mut z = d;
            z.value = zero;
            if d.value.smin == -1 && d.value.smax == 0 {
                z.clear_id();
            }
            *branch.cur_mut().reg_mut(insn.dst) = RegState::Scalar(z);
            self.push_branch(branch, self.insn_idx, self.insn_idx)?;
            cur.value = ones;
            if d.value.smin == -1 && d.value.smax == 0 {
                cur.clear_id();
            }
        }
        let mut out = cur;
        out.value = domain::alu(self.era, opk, width, &cur.value, &s.value);
        let same_reg = reg_src && insn.src == insn.dst;
        let self_add_links = same_reg && !self.profile.features.self_add_clears_id;
        // Without the fix the source is read after the addition wrote it.
        let added = if self_add_links { &out.value } else { &s.value };
        let src_const = added.is_const();
        if opk == AluOp::Add
            && width == Width::W64
            && out.id != 0
            && src_const
            && (!same_reg || self_add_links)
        {
            let val = added.var_off.value;
            if out.id & ADD_CONST != 0 || val > i32::MAX as u64 {
                out.clear_id();
            } else {
                out.id |= ADD_CONST;
                out.off = val as i32;
            }
        } else {
            out.clear_id();
        }
        self.set_scalar(insn.dst, out)
    }

    /// `fp + K` / `fp - K` with a known scalar: the pointer moves.
    fn stack_ptr_arith(
        &mut self,
        insn: &RawInsn,
        width: Width,
        opk: AluOp,
        frameno: u8,
        off: i32,
        s: &ScalarReg,
    ) -> Result<(), Stop> {
        if width != Width::W64 {
            return Err(self.reject(
                ErrorCode::PointerArithmetic,
                Errno::EACCES,
                format!("R{} 32-bit pointer arithmetic prohibited", insn.dst),
            ));
        }
        let Some(val) = s.value.const_value() else {
            return Err(self.unsupported("stack pointers with variable offsets"));
        };
        let val = val as i64;
        let new = match opk {
            AluOp::Add => i64::from(off) + val,
            AluOp::Sub => i64::from(off) - val,
            _ => return Err(self.unsupported("pointer arithmetic")),
        };
        if val.abs() >= MAX_VAR_OFF || new.abs() >= MAX_VAR_OFF {
            return Err(self.unsupported("pointer arithmetic out of the kernel's offset range"));
        }
        if opk == AluOp::Sub {
            // `fp -= K` is refused (JITs may not cope); `fp += -K` is fine.
            return Err(self.reject(
                ErrorCode::PointerArithmetic,
                Errno::EACCES,
                format!("R{} subtraction from stack pointer prohibited", insn.dst),
            ));
        }
        let off = i32::try_from(new).map_err(|_| self.unsupported("pointer arithmetic"))?;
        *self.cur.cur_mut().reg_mut(insn.dst) = RegState::PtrToStack { frameno, off };
        Ok(())
    }
}

/// `check_reg_sane_offset`: whether a pointer's or offset's numbers stay
/// in the range the kernel lets pointer arithmetic work with.
fn sane_offset(v: &Scalar, fixed_off: i64) -> bool {
    let lim = MAX_VAR_OFF;
    let known_ok = v
        .const_value()
        .is_none_or(|c| (c as i64) < lim && (c as i64) > -lim);
    known_ok
        && fixed_off < lim
        && fixed_off > -lim
        && v.smin != i64::MIN
        && v.smin < lim
        && v.smin > -lim
}

impl Checker<'_> {
    /// `adjust_ptr_min_max_vals` for a map value pointer and a scalar:
    /// constants move the fixed offset, other scalars the variable part.
    fn map_ptr_arith(
        &mut self,
        insn: &RawInsn,
        opk: AluOp,
        ptr: &RegState,
        off: &Scalar,
    ) -> Result<(), Stop> {
        let RegState::PtrToMapValue {
            map,
            off: poff,
            var,
            maybe_null,
            id,
        } = *ptr
        else {
            return Err(self.unsupported("pointer arithmetic"));
        };
        if maybe_null {
            return Err(self.reject(
                ErrorCode::PointerArithmetic,
                Errno::EACCES,
                format!(
                    "R{} pointer arithmetic on {} prohibited, null-check it first",
                    insn.dst,
                    ptr.type_str()
                ),
            ));
        }
        if !sane_offset(off, 0) || !sane_offset(&var, i64::from(poff)) {
            return Err(self.unsupported("pointer arithmetic out of the kernel's offset range"));
        }
        let known = off.const_value().map(|c| c as i64);
        let (new_off, new_var) = match (opk, known) {
            (AluOp::Add, Some(c))
                if i64::from(poff) + c == i64::from((i64::from(poff) + c) as i32) =>
            {
                ((i64::from(poff) + c) as i32, var)
            }
            (AluOp::Sub, Some(c))
                if c != i64::MIN
                    && i64::from(poff) - c == i64::from((i64::from(poff) - c) as i32) =>
            {
                ((i64::from(poff) - c) as i32, var)
            }
            (AluOp::Add, _) => {
                let mut v = Scalar::unknown();
                match (
                    var.smin.checked_add(off.smin),
                    var.smax.checked_add(off.smax),
                ) {
                    (Some(a), Some(b)) => (v.smin, v.smax) = (a, b),
                    _ => (v.smin, v.smax) = (i64::MIN, i64::MAX),
                }
                match (
                    var.umin.checked_add(off.umin),
                    var.umax.checked_add(off.umax),
                ) {
                    (Some(a), Some(b)) => (v.umin, v.umax) = (a, b),
                    _ => (v.umin, v.umax) = (0, u64::MAX),
                }
                v.var_off = var.var_off.add(off.var_off);
                v.mark_32_unbounded();
                v.sync(self.era);
                (poff, v)
            }
            _ => return Err(self.unsupported("pointer arithmetic of this kind on map values")),
        };
        if !sane_offset(&new_var, i64::from(new_off)) {
            return Err(self.unsupported("pointer arithmetic out of the kernel's offset range"));
        }
        *self.cur.cur_mut().reg_mut(insn.dst) = RegState::PtrToMapValue {
            map,
            off: new_off,
            var: new_var,
            maybe_null,
            id,
        };
        Ok(())
    }
}
