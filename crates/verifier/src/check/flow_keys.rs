//! The flow dissector's `struct bpf_flow_keys` (`PTR_TO_FLOW_KEYS`, from
//! `__sk_buff.flow_keys`): plain memory the program reads and writes
//! (`check_flow_keys_access`), moved only by known constants
//! (`adjust_ptr_min_max_vals`), never an atomic's target. A load gives an
//! unknown number; stores are not tracked.

use bpfcheck_uapi::Errno;

use super::Checker;
use crate::error::{ErrorCode, Stop};
use crate::state::RegState;

/// `sizeof(struct bpf_flow_keys)` (unchanged since 5.x).
const FLOW_KEYS_SIZE: i64 = 56;

impl Checker<'_> {
    /// A load or store of `size` bytes at `off` through the flow-keys
    /// pointer `base`.
    pub(super) fn flow_keys_access(
        &mut self,
        base: &RegState,
        off: i16,
        size: i32,
    ) -> Result<(), Stop> {
        let RegState::PtrToFlowKeys(p) = base else {
            return Err(self.unsupported("memory access through this pointer type"));
        };
        if !p.var.var_off.equals_const(0) {
            // Only constants move the pointer, into its fixed offset.
            return Err(self.unsupported("flow keys pointers with a variable offset"));
        }
        // `check_generic_ptr_alignment`.
        let mask = i64::from(size - 1);
        let at = i64::from(p.off) + i64::from(off);
        if self.strict_alignment && at & mask != 0 {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!(
                    "misaligned flow keys access off {}+{}+{off} size {size}",
                    self.tnum_str(p.var.var_off),
                    p.off
                ),
            ));
        }
        if at < 0 || at + i64::from(size) > FLOW_KEYS_SIZE {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!("invalid access to flow keys off={at} size={size}"),
            ));
        }
        Ok(())
    }
}
