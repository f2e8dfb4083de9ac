//! Stack accesses through a pointer with a variable offset
//! (`check_stack_access_within_bounds` for a non-constant `var_off`,
//! `check_stack_read_var_off`, `check_stack_write_var_off`, and the
//! variable-offset branch of `check_stack_range_initialized`), as the
//! kernel treats a privileged loader (`bypass_spec_v1`,
//! `allow_ptr_leaks`, `allow_uninit_stack`): such a pointer may read any
//! byte but a dynptr's, iterator's or irq flag's; a read gives an unknown
//! scalar unless every byte it may touch is `STACK_ZERO`; a write may
//! land on any byte of the range, so each becomes `STACK_MISC` (or stays
//! zero when a zero is written) and spills there are forgotten.

use bpfcheck_uapi::Errno;

use super::Checker;
use super::mem::{Access, Value};
use super::ptr_alu::MAX_VAR_OFF;
use crate::domain::Scalar;
use crate::error::{ErrorCode, Stop};
use crate::state::{MAX_STACK, RegState, SLOT_SIZE, SlotType};

/// Slot index and byte index in it of stack offset `off`.
fn slot_of(off: i64) -> (usize, usize) {
    let slot = usize::try_from(-off - 1).unwrap_or(0);
    (slot / SLOT_SIZE, slot % SLOT_SIZE)
}

impl Checker<'_> {
    /// `check_stack_access_within_bounds` for the variable-offset stack
    /// pointer in `regno` (fixed part `off`, variable part `var`) and an
    /// access of `size` bytes; `what` is the kernel's `err_extra` (" read
    /// from", " write to", " indirect access to"). Returns the lowest and
    /// highest start offsets (`smin + off`, `smax + off`).
    pub(super) fn stack_var_bounds(
        &mut self,
        regno: u8,
        frameno: u8,
        off: i32,
        var: &Scalar,
        size: i32,
        what: &str,
    ) -> Result<(i64, i64), Stop> {
        if self.profile.features.walk_v6_1.var_off_stack {
            return Err(self.unsupported(
                "variable-offset stack accesses of kernel 6.1 (walk_v6_1.var_off_stack)",
            ));
        }
        if var.smax >= MAX_VAR_OFF || var.smin <= -MAX_VAR_OFF {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!("invalid unbounded variable-offset{what} stack R{regno}"),
            ));
        }
        let min = var.smin + i64::from(off);
        let max = var.smax + i64::from(off);
        // A privileged loader may touch all 512 bytes, written or not.
        let errno = if !(-i64::from(MAX_STACK)..=-1).contains(&min) {
            Some(Errno::EACCES)
        } else if max + i64::from(size) > 0 {
            Some(Errno::EINVAL)
        } else {
            None
        };
        if let Some(errno) = errno {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                errno,
                format!(
                    "invalid variable-offset{what} stack R{regno} var_off={} off={off} size={size}",
                    var.var_off
                ),
            ));
        }
        self.grow_stack(frameno, usize::try_from(-min).unwrap_or(0));
        Ok((min, max))
    }

    /// `check_ptr_alignment` of a stack access (always strict) through a
    /// variable-offset pointer.
    fn stack_var_aligned(
        &self,
        off: i32,
        var: &Scalar,
        insn_off: i16,
        size: i32,
    ) -> Result<(), Stop> {
        let at = var.var_off.add(crate::domain::Tnum::constant(
            (i64::from(off) + i64::from(insn_off)) as u64,
        ));
        if at.is_aligned(u64::try_from(size).unwrap_or(1)) {
            return Ok(());
        }
        Err(self.reject(
            ErrorCode::InvalidMemAccess,
            Errno::EACCES,
            format!(
                "misaligned stack access off {}+{off}+{insn_off} size {size}",
                var.var_off
            ),
        ))
    }

    /// An `LDX` into `dst` or a store of `value` through the
    /// variable-offset stack pointer in `regno`, at `insn_off` from it.
    pub(super) fn stack_var_access(
        &mut self,
        regno: u8,
        insn_off: i16,
        size: i32,
        access: Access,
        dst_or_value: Result<u8, Value>,
    ) -> Result<(), Stop> {
        let RegState::PtrToStack { frameno, off, var } = *self.cur.cur().reg(regno) else {
            return Err(self.unsupported("stack pointers with variable offsets"));
        };
        self.stack_var_aligned(off, &var, insn_off, size)?;
        let off = off + i32::from(insn_off);
        let what = match access {
            Access::Read => " read from",
            Access::Write => " write to",
        };
        let (min, max) = self.stack_var_bounds(regno, frameno, off, &var, size, what)?;
        self.access_frame = usize::from(frameno);
        match dst_or_value {
            Ok(dst) => {
                self.stack_var_range(
                    regno,
                    frameno,
                    &var,
                    min,
                    max + i64::from(size),
                    size,
                    false,
                )?;
                self.stack_var_read(frameno, min, max + i64::from(size), dst);
                self.fastcall_contract(i32::try_from(min).unwrap_or(0));
                Ok(())
            }
            Err(value) => self.stack_var_write(frameno, min, max + i64::from(size), value),
        }
    }

    /// The byte loop of `check_stack_range_initialized` over `min..end`
    /// of frame `frameno` for a variable-offset pointer: every byte must
    /// be data or a spill (a privileged loader may read never-written
    /// bytes and spilled pointers); `clobber` when a helper may write
    /// there. Marks the slots read.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn stack_var_range(
        &mut self,
        regno: u8,
        frameno: u8,
        var: &Scalar,
        min: i64,
        end: i64,
        size: i32,
        clobber: bool,
    ) -> Result<(), Stop> {
        let fr = usize::from(frameno);
        let mut read = Vec::new();
        for o in min..end {
            let (spi, b) = slot_of(o);
            let Some(slot) = self.cur.frames[fr].stack.get_mut(spi) else {
                return Err(self.unsupported("stack reads past the allocated stack"));
            };
            if super::helper_mem::touch_stack_byte(slot, b, clobber).is_some() {
                let typed = self.profile.features.helper_mem_access_types;
                let extra = if clobber && !typed { " indirect" } else { "" };
                return Err(self.reject(
                    ErrorCode::InvalidMemAccess,
                    Errno::EACCES,
                    format!(
                        "invalid{extra} read from stack R{regno} var_off {}+{} size {size}",
                        var.var_off,
                        o - min
                    ),
                ));
            }
            if !read.contains(&spi) {
                read.push(spi);
            }
        }
        for spi in read {
            self.stack_live.read(&self.cur, fr, self.insn_idx, spi);
            self.live_read_slot(fr, spi);
        }
        Ok(())
    }

    /// `mark_reg_stack_read`: `dst` is zero when every byte of
    /// `min..end` is `STACK_ZERO`, else unknown.
    fn stack_var_read(&mut self, frameno: u8, min: i64, end: i64, dst: u8) {
        let fr = usize::from(frameno);
        let mut zero = true;
        for o in min..end {
            let (spi, b) = slot_of(o);
            self.scratch_slot(spi);
            let t = self.cur.frames[fr].stack.get(spi).map(|s| s.types[b]);
            if t != Some(SlotType::Zero) {
                zero = false;
                break;
            }
        }
        *self.cur.cur_mut().reg_mut(dst) = if zero {
            RegState::constant(0)
        } else {
            RegState::unknown()
        };
    }

    /// `check_stack_write_var_off` for the bytes `min..end` of frame
    /// `frameno`.
    fn stack_var_write(
        &mut self,
        frameno: u8,
        min: i64,
        end: i64,
        value: Value,
    ) -> Result<(), Stop> {
        let fr = usize::from(frameno);
        let writing_zero = match value {
            Value::Reg(r) => matches!(self.cur.cur().reg(r),
                RegState::Scalar(s) if s.value.var_off.equals_const(0)),
            Value::Imm(imm) => imm == 0,
            Value::Unknown => false,
        };
        for o in min..end {
            self.destroy_if_dynptr_slot(fr, slot_of(o).0)?;
        }
        self.fastcall_contract(i32::try_from(min).unwrap_or(0));
        let mut zero_used = false;
        for o in min..end {
            let (spi, b) = slot_of(o);
            self.scratch_slot(spi);
            let slot = &mut self.cur.frames[fr].stack[spi];
            if writing_zero
                && slot.types[b] == SlotType::Spill
                && matches!(slot.spilled, RegState::Scalar(s) if s.value.var_off.equals_const(0))
            {
                zero_used = true;
                continue;
            }
            // `scrub_special_slot`: whatever was spilled here is gone.
            slot.spilled = RegState::NotInit;
            if slot.is_special() {
                slot.written_bytes_to_misc();
            }
            slot.types[b] = if writing_zero && slot.types[b] == SlotType::Zero {
                zero_used = true;
                SlotType::Zero
            } else {
                SlotType::Misc
            };
        }
        if zero_used && let Value::Reg(r) = value {
            // Backtracking cannot follow the zero into the slots.
            self.mark_chain_precision(r)?;
        }
        Ok(())
    }
}
