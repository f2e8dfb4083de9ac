//! Calls: the helpers that take no argument and return a plain number.
//! Everything else a call can be is reported as unsupported.

use bpfcheck_uapi::{RawInsn, op};

use super::Checker;
use crate::error::Stop;
use crate::state::RegState;

/// Helper ids whose call this verifier models: no arguments, an unknown
/// scalar in R0 (`bpf_ktime_get_ns`, `bpf_get_prandom_u32`,
/// `bpf_get_smp_processor_id`), all in every program type's base set.
pub(crate) const MODELLED_HELPERS: [i32; 3] = [5, 7, 8];

/// Argument count of a modelled helper, for liveness.
pub(crate) fn helper_args(id: i32) -> Option<u8> {
    MODELLED_HELPERS.contains(&id).then_some(0)
}

impl Checker<'_> {
    pub(super) fn call(&mut self, insn: &RawInsn) -> Result<(), Stop> {
        match insn.src {
            op::PSEUDO_CALL => return Err(self.unsupported("bpf-to-bpf calls")),
            op::PSEUDO_KFUNC_CALL => return Err(self.unsupported("kfunc calls")),
            _ => {}
        }
        if !MODELLED_HELPERS.contains(&insn.imm) {
            return Err(self.unsupported("helper calls"));
        }
        let frame = self.cur.cur_mut();
        for r in 1..=5u8 {
            *frame.reg_mut(r) = RegState::NotInit;
        }
        *frame.reg_mut(0) = RegState::unknown();
        for r in 0..=5u8 {
            self.scratch_reg(r);
        }
        Ok(())
    }
}
