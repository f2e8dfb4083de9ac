//! What a state of several frames needs at a prune point: the kernel's
//! hash bucket of a checkpoint (instruction xor innermost call site), the
//! live registers of every frame (each outer frame at its call site), and
//! the cleaning of a finished checkpoint with the stack liveness of its
//! call chain.

use super::{Checker, equiv};
use crate::state::VerifierState;

impl Checker<'_> {
    /// `explored_state`: the hash bucket of instruction `idx` in the
    /// current frame, `(idx ^ callsite) % len` with the entry frame's call
    /// site `-1`.
    pub(super) fn bucket(&self, idx: usize) -> usize {
        let callsite = self.cur.cur().callsite.map_or(u32::MAX, |c| c as u32);
        ((idx as u32 ^ callsite) % self.insns.len().max(1) as u32) as usize
    }

    /// Registers live in each frame of `st` at `idx`: before the
    /// instruction in the innermost frame, before the call in the others
    /// (`frame_insn_idx`).
    pub(super) fn frame_live_regs(&self, st: &VerifierState, idx: usize) -> Vec<u16> {
        let n = st.frames.len();
        (0..n)
            .map(|i| {
                let ip = if i + 1 == n {
                    idx
                } else {
                    st.frames[i + 1].callsite.unwrap_or(idx)
                };
                self.live_regs.get(ip).copied().unwrap_or(0)
            })
            .collect()
    }

    /// `clean_verifier_state` of a finished checkpoint.
    pub(super) fn clean_checkpoint(&mut self, c: usize) {
        let idx = self.checkpoints[c].insn_idx;
        let st = self.checkpoints[c].state.clone();
        let live = self.frame_live_regs(&st, idx);
        let mut slots = Vec::with_capacity(st.frames.len());
        for (fr, frame) in st.frames.iter().enumerate() {
            let mut mask = 0u64;
            for spi in 0..frame.stack.len().min(64) {
                if self.stack_live.alive(&st, idx, fr, spi) {
                    mask |= 1 << spi;
                }
            }
            slots.push(mask);
        }
        let cp = &mut self.checkpoints[c];
        for (fr, frame) in cp.state.frames.iter_mut().enumerate() {
            equiv::clean_frame(frame, live[fr], slots[fr]);
        }
        cp.cleaned = true;
    }
}
