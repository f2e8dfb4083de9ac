//! 6.1's walk where it differs from 6.12's and is modelled (the switches
//! of [`bpfcheck_profile::WalkV6_1`]): stack spills and fills, the return
//! code check by tnums, `tnum_strn`, `BPF_ST` into the context and the
//! pointers `is_branch_taken` knows not to be NULL.

use bpfcheck_uapi::{Errno, ProgType, RawInsn, op};

use super::Checker;
use super::retval::RetvalRange;
use crate::domain::{JmpOp, Tnum};
use crate::error::{ErrorCode, Stop};
use crate::state::{RegState, SLOT_SIZE, SlotType};

/// What a store writes into a stack slot.
pub(super) enum Stored {
    /// A register (`STX`).
    Reg(u8, RegState),
    /// An immediate (`ST`).
    Imm(i32),
    /// Bytes a helper writes.
    Unknown,
}

/// `__is_scalar_unbounded` negated: some bound or bit is known.
fn bounded(r: &RegState) -> bool {
    let Some(s) = r.scalar() else {
        return false;
    };
    let v = &s.value;
    !(v.var_off.is_unknown()
        && v.smin == i64::MIN
        && v.smax == i64::MAX
        && v.umin == 0
        && v.umax == u64::MAX
        && v.s32_min == i32::MIN
        && v.s32_max == i32::MAX
        && v.u32_min == 0
        && v.u32_max == u32::MAX)
}

fn is_zero(r: &RegState) -> bool {
    r.scalar().is_some_and(|s| s.value.var_off.equals_const(0))
}

impl Checker<'_> {
    /// `tnum_strn`: 6.1 prints every tnum as a `(value; mask)` pair.
    pub(super) fn tnum_str(&self, t: Tnum) -> String {
        if self.profile.features.walk_v6_1.tnum_str_hex {
            t.to_pair_string()
        } else {
            t.to_string()
        }
    }

    /// 6.1's refusal of `BPF_ST` into the context, made in `do_check`
    /// before the access is checked.
    pub(super) fn st_into_ctx(&self, insn: &RawInsn) -> Result<(), Stop> {
        if !self.profile.features.walk_v6_1.st_ctx_refused {
            return Ok(());
        }
        let reg = self.cur.cur().reg(insn.dst);
        if !matches!(reg, RegState::PtrToCtx { .. }) {
            return Ok(());
        }
        Err(self.reject(
            ErrorCode::InvalidMemAccess,
            Errno::EACCES,
            format!(
                "BPF_ST stores into R{} {} is not allowed",
                insn.dst,
                reg.type_str()
            ),
        ))
    }

    /// 6.1's `check_return_code` for the main program's exit, `range`
    /// being 6.12's for the program: `R0`'s bits within the range's tnum,
    /// nothing made precise. Kprobes have no range (no sessions in 6.1).
    pub(super) fn return_code_v6_1(&mut self, range: RetvalRange) -> Result<(), Stop> {
        if self.prog_type == ProgType::KPROBE {
            return Ok(());
        }
        let r0 = *self.cur.cur().reg(0);
        let RegState::Scalar(s) = r0 else {
            return Err(self.reject(
                ErrorCode::ReturnValue,
                Errno::EINVAL,
                format!(
                    "At program exit the register R0 is not a known value ({})",
                    r0.type_str()
                ),
            ));
        };
        let (min, max) = (range.min as u64, range.max as u64);
        let want = Tnum::range(min, max);
        if want.contains(s.value.var_off) {
            return Ok(());
        }
        let has = if s.value.var_off.is_unknown() {
            "has unknown scalar value".to_owned()
        } else {
            format!("has value {}", s.value.var_off.to_pair_string())
        };
        Err(self.reject(
            ErrorCode::ReturnValue,
            Errno::EINVAL,
            format!(
                "At program exit the register R0 {has} should have been in {}",
                want.to_pair_string()
            ),
        ))
    }

    /// Whether the current instruction addresses the stack through `R10`
    /// (6.1's backtracking only follows such accesses).
    fn through_fp(&self) -> bool {
        let insn = &self.insns[self.insn_idx];
        match insn.class() {
            op::LDX => insn.src == 10,
            op::ST | op::STX => insn.dst == 10,
            _ => false,
        }
    }

    /// 6.1's `check_stack_write_fixed_off` past the checks both kernels
    /// make: where the slot's bytes go. `Ok(false)`: 6.12's rules apply
    /// (pointer spills and stores of partial slots are the same).
    pub(super) fn stack_write_v6_1(
        &mut self,
        spi: usize,
        off: i32,
        width: usize,
        value: Stored,
    ) -> Result<bool, Stop> {
        let aligned = off % 8 == 0;
        let fp = self.through_fp();
        let zero = match &value {
            Stored::Reg(r, reg) if reg.scalar().is_some() => {
                if aligned && bounded(reg) && !is_zero(reg) {
                    if !fp {
                        self.mark_chain_precision(*r)?;
                    }
                    let mut spilled = *reg;
                    if let Some(s) = spilled.scalar_mut()
                        && 64 - s.value.umax.leading_zeros() > 8 * width as u32
                    {
                        s.id = 0;
                    }
                    self.save_spill_v6_1(spi, spilled, width, fp);
                    return Ok(true);
                }
                let zero = is_zero(reg);
                if zero {
                    self.mark_chain_precision(*r)?;
                }
                zero
            }
            Stored::Reg(_, reg) => {
                if self.access_frame + 1 != self.cur.frames.len()
                    && matches!(reg, RegState::PtrToStack { .. })
                {
                    return Err(self.reject(
                        ErrorCode::InvalidMemAccess,
                        Errno::EINVAL,
                        "cannot spill pointers to stack into stack frame of the caller".to_owned(),
                    ));
                }
                return Ok(false);
            }
            Stored::Imm(imm) if aligned && *imm != 0 => {
                let v = RegState::constant(i64::from(*imm) as u64);
                self.save_spill_v6_1(spi, v, width, fp);
                return Ok(true);
            }
            Stored::Imm(imm) => *imm == 0,
            Stored::Unknown => false,
        };
        let frame = &mut self.cur.frames[self.access_frame];
        let slot = &mut frame.stack[spi];
        slot.spilled = RegState::NotInit;
        if slot.is_special() {
            slot.written_bytes_to_misc();
        }
        let ty = if zero { SlotType::Zero } else { SlotType::Misc };
        for i in 0..width {
            let at = off + i32::try_from(i).unwrap_or(0);
            let slot_no = usize::try_from(-at - 1).unwrap_or(0);
            if let Some(slot) = frame.stack.get_mut(slot_no / SLOT_SIZE) {
                slot.types[slot_no % SLOT_SIZE] = ty;
            }
        }
        Ok(true)
    }

    fn save_spill_v6_1(&mut self, spi: usize, reg: RegState, width: usize, fp: bool) {
        let slot = &mut self.cur.frames[self.access_frame].stack[spi];
        slot.spilled = reg;
        for (j, t) in slot.types.iter_mut().enumerate() {
            if j >= SLOT_SIZE - width {
                *t = SlotType::Spill;
            } else if *t != SlotType::Invalid {
                // 6.1's `scrub_spilled_slot`: zeros too (6.12's
                // `mark_stack_slot_misc` keeps them).
                *t = SlotType::Misc;
            }
        }
        if fp {
            self.push_hist_stack(spi);
        }
    }

    /// 6.1's `check_stack_read_fixed_off` for a fill into `dst` (or only
    /// its checks without one): the register read, `None` when 6.12's
    /// rules give the same.
    pub(super) fn stack_read_v6_1(
        &mut self,
        spi: usize,
        off: i32,
        bytes: &[SlotType],
        dst: Option<u8>,
    ) -> Result<Option<RegState>, Stop> {
        let slot = self.cur.frames[self.access_frame].stack[spi];
        let width = bytes.len();
        let fp = self.through_fp();
        let bad_byte = |allowed: &dyn Fn(SlotType) -> bool| bytes.iter().position(|t| !allowed(*t));
        if slot.is_spill() {
            let spill = slot.spill_size();
            if width == SLOT_SIZE && spill == SLOT_SIZE {
                if fp {
                    self.push_hist_stack(spi);
                }
                return Ok(Some(slot.spilled));
            }
            if slot.spilled.scalar().is_none() || dst.is_none() {
                // `invalid size of register fill`, or a helper's read.
                return Ok(None);
            }
            if off % 8 == 0 && width == spill {
                if fp {
                    self.push_hist_stack(spi);
                }
                return Ok(Some(slot.spilled));
            }
            if let Some(i) =
                bad_byte(&|t| matches!(t, SlotType::Spill | SlotType::Misc | SlotType::Invalid))
            {
                return Err(self.invalid_stack_read(off, i, width));
            }
            return Ok(Some(RegState::unknown()));
        }
        if let Some(i) =
            bad_byte(&|t| matches!(t, SlotType::Misc | SlotType::Zero | SlotType::Invalid))
        {
            return Err(self.invalid_stack_read(off, i, width));
        }
        if bytes.iter().all(|t| *t == SlotType::Zero) {
            // Backtracking does not see `STACK_ZERO`: the 0 is made exact.
            let mut zero = RegState::constant(0);
            if let Some(s) = zero.scalar_mut() {
                s.precise = true;
            }
            return Ok(Some(zero));
        }
        Ok(Some(RegState::unknown()))
    }

    fn invalid_stack_read(&self, off: i32, i: usize, size: usize) -> Stop {
        self.reject(
            ErrorCode::InvalidMemAccess,
            Errno::EACCES,
            format!("invalid read from stack off {off}+{i} size {size}"),
        )
    }
}

/// 6.1's `is_branch_taken` with a pointer destination: decided only for
/// the types `reg_type_not_null` lists against the constant 0; a pointer
/// as source is never decided.
pub(super) fn ptr_branch_taken_v6_1(opk: JmpOp, dst: &RegState, src: &RegState) -> Option<bool> {
    let c = src.scalar().and_then(|s| s.value.const_value())?;
    let not_null = match dst {
        RegState::PtrToMapValue { maybe_null, .. } => !maybe_null,
        RegState::PtrToMapKey { .. } => true,
        _ => false,
    };
    if !not_null || c != 0 {
        return None;
    }
    match opk {
        JmpOp::Eq => Some(false),
        JmpOp::Ne => Some(true),
        _ => None,
    }
}
