//! `check_alu_op` for scalars, register copies, and stack pointers moved
//! by constants.

use bpfcheck_isa::{RegArg, check_alu_imm};
use bpfcheck_uapi::{RawInsn, op};

use super::Checker;
use crate::domain::{self, AluOp, Scalar, Width};
use crate::error::{Stop, VerifierError};
use crate::state::reg::{ADD_CONST, ADD_CONST32, ADD_CONST64};
use crate::state::{RegState, ScalarReg};

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
                    if !self.profile.caps.perfmon {
                        return Err(self.unsupported("pointer arithmetic by unprivileged loaders"));
                    }
                    // Negating or swapping a pointer's bytes leaves a number.
                    *self.cur.cur_mut().reg_mut(insn.dst) = RegState::unknown();
                    return Ok(());
                };
                let opk = alu_op(insn).ok_or_else(|| self.unsupported("this ALU opcode"))?;
                // The register is changed in place: its precision mark
                // stays, and so does its link when nothing changes (`le64`
                // on a little-endian machine).
                let value = domain::alu(self.era, opk, width, &s.value, &Scalar::unknown());
                let tracked = match opk {
                    AluOp::Neg => self.era.tracks_neg(),
                    _ => self.era.tracks_end(),
                };
                if !tracked {
                    // Kernels before these were tracked mark it unknown.
                    return self.set_scalar(insn.dst, ScalarReg::new(value));
                }
                let mut out = s;
                out.value = value;
                if opk
                    != (AluOp::End {
                        bits: 64,
                        swap: false,
                    })
                {
                    out.clear_id();
                }
                self.set_scalar(insn.dst, out)
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
        if self.profile.features.walk_v6_1.linked_scalars {
            // 6.1 links whatever has no id yet, constants included.
            let fresh = matches!(self.cur.cur().reg(r), RegState::Scalar(s) if s.id == 0);
            if fresh {
                let id = self.new_id();
                if let Some(s) = self.cur.cur_mut().reg_mut(r).scalar_mut() {
                    s.id = id;
                }
            }
            return;
        }
        let needs = match self.cur.cur().reg(r) {
            RegState::Scalar(s) => s.id & ADD_CONST != 0 || (s.id == 0 && !s.value.is_const()),
            _ => false,
        };
        if !needs {
            return;
        }
        let Some(s) = self.cur.cur_mut().reg_mut(r).scalar_mut() else {
            return;
        };
        if s.id & ADD_CONST != 0 {
            s.clear_id();
        }
        // A constant whose link was dropped needs no new id.
        if !s.value.is_const() {
            let id = self.new_id();
            if let Some(s) = self.cur.cur_mut().reg_mut(r).scalar_mut() {
                s.id = id;
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
        let keep_id = if self.profile.features.walk_v6_1.linked_scalars {
            width == Width::W64 && !sx
        } else if sx {
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
        let (RegState::Scalar(d), RegState::Scalar(s)) = (dst, src) else {
            return self.ptr_alu(insn, width, opk, dst, src);
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
        let link = if self.profile.features.walk_v6_1.linked_scalars {
            None
        } else if self.profile.features.offset_links_v2 {
            let linkable = matches!(opk, AluOp::Add | AluOp::Sub) && out.id != 0 && !same_reg;
            linkable
                .then(|| link_offset(opk, width, &s.value, d.value.umax))
                .flatten()
                .map(|off| match width {
                    Width::W32 => (off, ADD_CONST32),
                    Width::W64 => (off, ADD_CONST64),
                })
        } else {
            // Only `r += K`, K a positive s32. Without the self-add fix
            // the source is read after the addition wrote it.
            let self_add_links = same_reg && !self.profile.features.self_add_clears_id;
            let added = if self_add_links { &out.value } else { &s.value };
            (opk == AluOp::Add
                && width == Width::W64
                && out.id != 0
                && added.is_const()
                && (!same_reg || self_add_links))
                .then_some(added.var_off.value)
                .and_then(|v| i32::try_from(v).ok())
                .map(|off| (off, ADD_CONST64))
        };
        match link {
            Some((off, flag)) if out.id & ADD_CONST == 0 => {
                out.id |= flag;
                out.off = off;
            }
            _ => out.clear_id(),
        }
        self.set_scalar(insn.dst, out)
    }
}

/// The constant offset `dst += K` / `dst -= K` links the result by
/// (`BPF_ADD_CONST`), or `None` when the link is dropped: a source that is
/// not a constant of the operation's width, a 64-bit constant outside
/// `s32`, a 32-bit operation on a value that had upper bits set (its
/// result is no longer the linked value plus `K`), or `-S32_MIN`.
fn link_offset(op: AluOp, width: Width, src: &Scalar, dst_umax: u64) -> Option<i32> {
    let val = match width {
        Width::W64 => {
            let v = src.var_off.is_const().then_some(src.var_off.value)?;
            i32::try_from(v as i64).ok()?;
            v
        }
        Width::W32 => {
            if !src.var_off.subreg_is_const() || dst_umax > u64::from(u32::MAX) {
                return None;
            }
            src.var_off.value & u64::from(u32::MAX)
        }
    };
    let off = val as i32;
    match op {
        AluOp::Sub => off.checked_neg(),
        _ => Some(off),
    }
}
