//! Memory of a known size (`PTR_TO_MEM`) as a global function receives
//! it for a pointer argument: the caller's side (`check_mem_reg`: the
//! pointed-to memory must allow a read and a write of the argument's
//! size), the callee's loads and stores (`check_mem_region_access` with
//! `invalid access to memory, …`), its null check, and its print-out.
//!
//! Only the unmodified pointer is modelled: arithmetic on it is refused
//! as unsupported where the ALU meets it.

use bpfcheck_uapi::Errno;

use super::Checker;
use super::mem::Access;
use crate::domain::Scalar;
use crate::error::{ErrorCode, Stop};
use crate::state::{PtrFields, RegState};

/// A global function's pointer argument of `size` bytes, maybe NULL.
pub(super) fn mem_arg(id: u32, size: u32) -> RegState {
    RegState::PtrToMem {
        ptr: PtrFields {
            off: 0,
            var: Scalar::constant(0),
            id,
            ref_obj_id: 0,
            maybe_null: true,
        },
        size,
    }
}

impl Checker<'_> {
    /// `check_mem_reg` for register `regno` against `size` bytes: `Ok(None)`
    /// when the caller's pointer fits, `Ok(Some(line))` with the line the
    /// kernel logs when it does not.
    pub(super) fn check_mem_reg(&mut self, regno: u8, size: u32) -> Result<Option<String>, Stop> {
        let saved = *self.cur.cur().reg(regno);
        if saved
            .scalar()
            .is_some_and(|s| s.value.var_off.equals_const(0))
        {
            // NULL is allowed, and must stay exactly NULL.
            self.mark_chain_precision(regno)?;
            return Ok(None);
        }
        // A maybe-NULL map value is checked as if it were not NULL.
        if let RegState::PtrToMapValue {
            maybe_null: true, ..
        } = saved
            && let RegState::PtrToMapValue { maybe_null, .. } = self.cur.cur_mut().reg_mut(regno)
        {
            *maybe_null = false;
        }
        let size = i32::try_from(size).unwrap_or(i32::MAX);
        let mut outcome = self.helper_mem_access(regno, size, Access::Read, true, None);
        if outcome.is_ok() {
            outcome = self.helper_mem_access(regno, size, Access::Write, true, None);
        }
        if matches!(saved, RegState::PtrToMapValue { .. }) {
            *self.cur.cur_mut().reg_mut(regno) = saved;
        }
        match outcome {
            Ok(()) => Ok(None),
            Err(Stop::Reject(e)) => Ok(Some(e.message)),
            Err(u) => Err(u),
        }
    }

    /// A load or store of `size` bytes at `off` through the `PTR_TO_MEM`
    /// in register `regno` (`check_mem_access`'s `PTR_TO_MEM` case).
    pub(super) fn mem_region_access(
        &mut self,
        regno: u8,
        base: &RegState,
        off: i16,
        size: i32,
    ) -> Result<(), Stop> {
        let RegState::PtrToMem {
            ptr,
            size: mem_size,
        } = *base
        else {
            return Err(self.unsupported("memory access through this pointer type"));
        };
        if ptr.maybe_null {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!("R{regno} invalid mem access 'mem_or_null'"),
            ));
        }
        if ptr.off != 0 || !ptr.var.var_off.equals_const(0) {
            return Err(self.unsupported("memory pointers with an offset"));
        }
        let off = i64::from(off);
        if off >= 0 && size > 0 && off + i64::from(size) <= i64::from(mem_size) {
            return Ok(());
        }
        self.log.line(&format!(
            "invalid access to memory, mem_size={mem_size} off={off} size={size}"
        ));
        Err(self.reject(
            ErrorCode::InvalidMemAccess,
            Errno::EACCES,
            format!("R{regno} min value is outside of the allowed memory range"),
        ))
    }
}
