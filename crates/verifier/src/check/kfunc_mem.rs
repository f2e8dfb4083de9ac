//! Memory arguments of kfuncs (`KF_ARG_PTR_TO_MEM` and
//! `KF_ARG_PTR_TO_MEM_SIZE` of `check_kfunc_args`).
//!
//! Implemented: a pointer to a scalar or a struct of scalars is memory of
//! the pointee's size, which must allow a read and a write
//! (`check_mem_reg`; NULL passes); a pointer followed by a scalar `__sz`
//! or `__szk` parameter (whose register holds a number) is memory of that
//! size, checked the same way by `check_kfunc_mem_size_reg`, with the kernel's closing line (`arg#%d
//! arg#%d memory, len pair leads to invalid memory access`); an `__szk`
//! size must be a known constant and is the call's one constant
//! argument. A maybe-NULL pointer is checked as if it were not NULL.
//!
//! Knowingly not modelled: the memory types `check_helper_mem_access`
//! does not model (they stop the walk there); a NULL sized buffer (the
//! live 6.18 build marks a NULL `__opt` one precise, 6.12 does not, 7.x
//! skips `__nullable` ones instead).

use bpfcheck_uapi::Errno;

use super::Checker;
use super::helper_mem::{MemMeta, is_null};
use super::kfunc_dynptr::KfuncArgMeta;
use super::mem::Access;
use crate::error::{ErrorCode, Stop};
use crate::prepare::kfunc::{KParam, KType};
use crate::state::RegState;

/// Whether the parameter after a pointer sizes it
/// (`is_kfunc_arg_mem_size` / `is_kfunc_arg_const_mem_size`): a scalar
/// named `__sz` or `__szk` whose register holds a number.
pub(super) fn sizes_memory(next: Option<&KParam>, next_reg: &RegState) -> bool {
    next.is_some_and(|n| {
        matches!(n.ty, KType::Scalar { .. })
            && matches!(next_reg, RegState::Scalar(_))
            && (n.has_suffix("__sz") || n.has_suffix("__szk"))
    })
}

/// The register with its maybe-NULL mark dropped (`mark_ptr_not_null_reg`).
fn not_null(reg: &RegState) -> RegState {
    let mut r = *reg;
    match &mut r {
        RegState::PtrToMapValue { maybe_null, .. } => *maybe_null = false,
        RegState::PtrToSocket(p)
        | RegState::PtrToSockCommon(p)
        | RegState::PtrToTcpSock(p)
        | RegState::PtrToBtfId { ptr: p, .. }
        | RegState::PtrToMem { ptr: p, .. } => p.maybe_null = false,
        _ => {}
    }
    r
}

impl Checker<'_> {
    /// Runs `f` with register `regno` taken as not NULL, then puts the
    /// register back.
    fn with_not_null<T>(
        &mut self,
        regno: u8,
        f: impl FnOnce(&mut Self) -> Result<T, Stop>,
    ) -> Result<T, Stop> {
        let saved = *self.cur.cur().reg(regno);
        *self.cur.cur_mut().reg_mut(regno) = not_null(&saved);
        let out = f(self);
        *self.cur.cur_mut().reg_mut(regno) = saved;
        out
    }

    /// `KF_ARG_PTR_TO_MEM`: `size` bytes at the pointer in `regno`
    /// (`check_mem_reg`).
    pub(super) fn kfunc_mem_arg(&mut self, regno: u8, size: u32) -> Result<(), Stop> {
        let reg = *self.cur.cur().reg(regno);
        self.kfunc_mem_reg_off(regno, &reg)?;
        if is_null(&reg) {
            return Ok(());
        }
        let size = i32::try_from(size).unwrap_or(i32::MAX);
        self.with_not_null(regno, |c| {
            c.helper_mem_access(regno, size, Access::Read, true, None)?;
            c.helper_mem_access(regno, size, Access::Write, true, None)
        })
    }

    /// `KF_ARG_PTR_TO_MEM_SIZE` for argument `i` (in `regno`) and its size
    /// parameter `size_p` (in `regno + 1`).
    pub(super) fn kfunc_mem_size_arg(
        &mut self,
        i: usize,
        size_p: &KParam,
        meta: &mut KfuncArgMeta,
    ) -> Result<(), Stop> {
        let regno = u8::try_from(i + 1).unwrap_or(1);
        let reg = *self.cur.cur().reg(regno);
        self.kfunc_mem_reg_off(regno, &reg)?;
        if is_null(&reg) {
            // The live 6.18 build marks a NULL `__opt` buffer precise,
            // which 6.12's source does not; 7.x takes `__nullable` ones.
            return Err(self.unsupported("kfunc memory arguments: a NULL sized buffer"));
        }
        meta.buffer = true;
        let checked = self.with_not_null(regno, |c| {
            let mut m = MemMeta::default();
            c.mem_size_access(regno + 1, Access::Read, true, &mut m)?;
            let mut m = MemMeta::default();
            c.mem_size_access(regno + 1, Access::Write, true, &mut m)
        });
        match checked {
            Ok(()) => {}
            Err(Stop::Reject(e)) => {
                if !e.message.is_empty() {
                    self.log.line(&e.message);
                }
                return Err(self.reject(
                    ErrorCode::KfuncCall,
                    e.errno,
                    format!(
                        "arg#{i} arg#{} memory, len pair leads to invalid memory access",
                        i + 1
                    ),
                ));
            }
            Err(u) => return Err(u),
        }
        if size_p.has_suffix("__szk") {
            if meta.constant.is_some() {
                return Err(self.unsupported("kfunc calls with two constant arguments"));
            }
            let RegState::Scalar(s) = *self.cur.cur().reg(regno + 1) else {
                return Err(self.unsupported("kfunc constant sizes that are not numbers"));
            };
            let Some(v) = s.value.const_value() else {
                return Err(self.reject(
                    ErrorCode::KfuncCall,
                    Errno::EINVAL,
                    format!("R{} must be a known constant", regno + 1),
                ));
            };
            meta.constant = Some(v);
        }
        Ok(())
    }
}
