//! Memory of a known size (`PTR_TO_MEM`): as a global function receives
//! it for a pointer argument, the caller's side (`check_mem_reg`: the
//! pointed-to memory must allow a read and a write of the argument's
//! size); for any `PTR_TO_MEM` (arguments, ring buffer records, dynptr
//! slices), loads and stores through it at fixed and variable offsets
//! (`check_mem_region_access` with `invalid access to memory, …`, and
//! `MEM_RDONLY`'s refusal of stores).

use bpfcheck_uapi::Errno;

use super::Checker;
use super::mem::Access;
use crate::domain::Scalar;
use crate::error::{ErrorCode, Stop};
use crate::state::{MemTag, PtrFields, RegState};

/// A global function's pointer argument of `size` bytes, maybe NULL
/// unless tagged `arg:nonnull`.
pub(super) fn mem_arg(id: u32, size: u32, maybe_null: bool) -> RegState {
    RegState::PtrToMem {
        ptr: PtrFields {
            off: 0,
            var: Scalar::constant(0),
            id,
            ref_obj_id: 0,
            maybe_null,
        },
        size,
        tag: MemTag::default(),
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
        write: bool,
    ) -> Result<(), Stop> {
        let RegState::PtrToMem { ptr, tag, .. } = *base else {
            return Err(self.unsupported("memory access through this pointer type"));
        };
        if ptr.maybe_null {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!("R{regno} invalid mem access '{}'", base.type_str()),
            ));
        }
        if self.strict_alignment && size != 1 {
            return Err(self.unsupported("strict alignment of memory pointers"));
        }
        if write && tag.rdonly {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!("R{regno} cannot write into {}", base.type_str()),
            ));
        }
        self.mem_region_bounds(regno, base, i32::from(off), size, false)
    }

    /// `check_mem_region_access` for `size` bytes at `off` past the fixed
    /// offset of the `PTR_TO_MEM` `base` in register `regno`.
    pub(super) fn mem_region_bounds(
        &mut self,
        regno: u8,
        base: &RegState,
        off: i32,
        size: i32,
        zero_ok: bool,
    ) -> Result<(), Stop> {
        let RegState::PtrToMem {
            ptr,
            size: mem_size,
            ..
        } = *base
        else {
            return Err(self.unsupported("memory access through this pointer type"));
        };
        let off = i64::from(off) + i64::from(ptr.off);
        let var = ptr.var;
        let fail =
            |c: &Self, msg: String| c.reject(ErrorCode::InvalidMemAccess, Errno::EACCES, msg);
        if var.smin < 0
            && (var.smin == i64::MIN
                || off + var.smin != i64::from((off + var.smin) as i32)
                || var.smin + off < 0)
        {
            return Err(fail(
                self,
                format!(
                    "R{regno} min value is negative, either use unsigned index or do a if (index >=0) check."
                ),
            ));
        }
        // `__check_mem_access` takes the offset as an `int`.
        let in_bounds = |o: i64| {
            let o = i64::from(o as i32);
            let size_ok = size > 0 || (size == 0 && zero_ok);
            o >= 0 && size_ok && o + i64::from(size) <= i64::from(mem_size)
        };
        let lo = var.smin.wrapping_add(off);
        if !in_bounds(lo) {
            self.log.line(&format!(
                "invalid access to memory, mem_size={mem_size} off={} size={size}",
                lo as i32
            ));
            return Err(fail(
                self,
                format!("R{regno} min value is outside of the allowed memory range"),
            ));
        }
        if var.umax >= 1 << 29 {
            return Err(fail(
                self,
                format!(
                    "R{regno} unbounded memory access, make sure to bounds check any such access"
                ),
            ));
        }
        let hi = (var.umax as i64).wrapping_add(off);
        if !in_bounds(hi) {
            self.log.line(&format!(
                "invalid access to memory, mem_size={mem_size} off={} size={size}",
                hi as i32
            ));
            return Err(fail(
                self,
                format!("R{regno} max value is outside of the allowed memory range"),
            ));
        }
        Ok(())
    }
}
