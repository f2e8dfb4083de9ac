//! The legacy packet loads `BPF_LD_[ABS|IND]` (`check_ld_abs`): a load
//! through the skb in `R6` that may end the program, so the caller-saved
//! registers are clobbered and `R0` gets the loaded number.

use bpfcheck_isa::RegArg;
use bpfcheck_uapi::{Errno, ProgType, RawInsn, op};

use super::Checker;
use crate::error::{ErrorCode, Stop};
use crate::state::RegState;

/// The skb context register of these loads.
const CTX_REG: u8 = 6;

/// `may_access_skb`.
fn may_access_skb(t: ProgType) -> bool {
    matches!(
        t,
        ProgType::SOCKET_FILTER | ProgType::SCHED_CLS | ProgType::SCHED_ACT
    )
}

impl Checker<'_> {
    pub(super) fn ld_abs(&mut self, insn: &RawInsn) -> Result<(), Stop> {
        if !may_access_skb(self.prog_type) {
            return Err(self.reject(
                ErrorCode::InvalidInsn,
                Errno::EINVAL,
                "BPF_LD_[ABS|IND] instructions not allowed for this program type".to_owned(),
            ));
        }
        if self.cur.frames.iter().skip(1).any(|f| f.in_callback_fn) {
            return Err(self.reject(
                ErrorCode::InvalidInsn,
                Errno::EINVAL,
                "cannot use BPF_LD_[ABS|IND] within callback".to_owned(),
            ));
        }
        let ctx = *self.read_reg(CTX_REG)?;
        // The load may end the program, so no reference may be held.
        self.check_resource_leak("BPF_LD_[ABS|IND]")?;
        let RegState::PtrToCtx { .. } = ctx else {
            return Err(self.reject(
                ErrorCode::InvalidInsn,
                Errno::EINVAL,
                "at the time of BPF_LD_ABS|IND R6 != pointer to skb".to_owned(),
            ));
        };
        if op::mode(insn.code) == op::IND {
            self.read_reg(insn.src)?;
        }
        if !ctx.is_unmoved_ctx() {
            return Err(self.unsupported("modified context pointers"));
        }
        for r in 1..=5u8 {
            *self.cur.cur_mut().reg_mut(r) = RegState::NotInit;
        }
        for r in 0..=5u8 {
            self.write_reg(r, RegArg::DstNoMark)?;
        }
        *self.cur.cur_mut().reg_mut(0) = RegState::unknown();
        Ok(())
    }
}
