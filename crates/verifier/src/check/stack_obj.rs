//! `stack_slot_obj_get_spi`: where on the stack an object that lives in
//! stack slots (a dynptr, an iterator) starts, from the pointer an
//! argument passes.

use super::Checker;
use crate::state::{RegState, SLOT_SIZE};

/// Why no slot was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SpiError {
    /// The pointer is misplaced; the kernel logged why.
    Invalid,
    /// The slots are past the frame's stack so far (`-ERANGE`).
    Range,
}

impl Checker<'_> {
    /// The frame and first slot of the `nr_slots` slots of a `kind`
    /// object (`dynptr`, `iter`) the stack pointer in `regno` points to.
    pub(super) fn stack_obj_spi(
        &mut self,
        regno: u8,
        kind: &str,
        nr_slots: usize,
    ) -> Result<(usize, usize), SpiError> {
        let RegState::PtrToStack { frameno, off, var } = *self.cur.cur().reg(regno) else {
            return Err(SpiError::Invalid);
        };
        if !var.var_off.is_const() {
            self.log
                .line(&format!("{kind} has to be at a constant offset"));
            return Err(SpiError::Invalid);
        }
        let off = off.wrapping_add(var.var_off.value as i32);
        let misplaced = |c: &mut Self| {
            c.log
                .line(&format!("cannot pass in {kind} at an offset={off}"));
            Err(SpiError::Invalid)
        };
        if off % SLOT_SIZE as i32 != 0 {
            return misplaced(self);
        }
        // `__get_spi` divides as C does, toward zero.
        let spi = (-i64::from(off) - 1) / SLOT_SIZE as i64;
        if spi + 1 < nr_slots as i64 {
            return misplaced(self);
        }
        let frame = usize::from(frameno);
        let spi = usize::try_from(spi).map_err(|_| SpiError::Invalid)?;
        if spi >= self.cur.frames[frame].stack.len() {
            return Err(SpiError::Range);
        }
        Ok((frame, spi))
    }
}
