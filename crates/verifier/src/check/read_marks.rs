//! Pruning liveness by read marks (kernels up to 6.17, profiles without
//! `static_liveness`): a read of a register or slot marks it read in the
//! parent checkpoints up to the first one whose path wrote it; a
//! finished checkpoint forgets what was never read; a pruned path hands
//! the marks of the checkpoint that covered it to its own ancestors.
//!
//! Modelled for programs of one frame; with bpf-to-bpf calls the kernel
//! links frames in ways not modelled here, and the walk then prunes by
//! the static liveness, without counts or log (see `crate::interpret`).

use bpfcheck_uapi::{RawInsn, op};

use super::Checker;
use crate::state::RegState;
use crate::state::live::{DONE, LINKED, READ, READ32, READ64, WRITTEN};

/// What a mark belongs to.
#[derive(Clone, Copy)]
enum Target {
    Reg(usize),
    Slot(usize),
}

/// `is_reg64` for a register read (`SRC_OP`) by `insn`: whether the use
/// is 64-bit.
fn src_is_64(insn: &RawInsn, reg: &RegState) -> bool {
    let class = insn.class();
    let opc = op::alu_op(insn.code);
    match class {
        op::JMP if opc == op::CALL => insn.src != op::PSEUDO_CALL,
        op::JMP => true,
        op::ALU64 => !(opc == op::END && (insn.imm == 16 || insn.imm == 32)),
        op::ALU => opc == op::END && insn.imm == 64,
        op::JMP32 => false,
        op::STX => !matches!(reg, RegState::Scalar(_)) || op::size(insn.code) == op::DW,
        _ => true,
    }
}

impl Checker<'_> {
    fn live_of(&self, c: Option<usize>, t: Target) -> u8 {
        let frame = match c {
            Some(c) => &self.checkpoints[c].state.frames[0],
            None => &self.cur.frames[0],
        };
        match t {
            Target::Reg(r) => frame.live.regs[r],
            Target::Slot(spi) => frame.live.slot(spi),
        }
    }

    fn live_mut(&mut self, c: Option<usize>, t: Target) -> &mut u8 {
        let frame = match c {
            Some(c) => &mut self.checkpoints[c].state.frames[0],
            None => &mut self.cur.frames[0],
        };
        match t {
            Target::Reg(r) => &mut frame.live.regs[r],
            Target::Slot(spi) => frame.live.slot_mut(spi),
        }
    }

    /// `mark_reg_read` from the current state: up the parentage until a
    /// state that wrote `t`, or whose mark says it was read already.
    /// `cnt` counts marks already set by the caller.
    fn mark_read_from_cur(&mut self, t: Target, flag: u8, mut cnt: u64) {
        let mut state: Option<usize> = None;
        let mut parent = self.path.parent;
        loop {
            let here = self.live_of(state, t);
            if here & WRITTEN != 0 || here & LINKED == 0 {
                break;
            }
            let Some(p) = parent else { break };
            let pl = self.live_of(Some(p), t);
            if pl & READ == flag || pl & READ64 != 0 {
                break;
            }
            let m = self.live_mut(Some(p), t);
            *m |= flag;
            if flag == READ64 {
                *m &= !READ32;
            }
            cnt += 1;
            state = Some(p);
            parent = self.checkpoints[p].meta.parent;
        }
        self.longest_mark_read = self.longest_mark_read.max(cnt);
    }

    /// A register read by the current instruction (`check_reg_arg`'s
    /// `SRC_OP`).
    pub(super) fn live_read_reg(&mut self, r: u8) {
        if !self.read_marks || r >= 10 || self.cur.frames.len() != 1 {
            return;
        }
        let insn = self.insns[self.insn_idx];
        let flag = if src_is_64(&insn, self.cur.cur().reg(r)) {
            READ64
        } else {
            READ32
        };
        self.mark_read_from_cur(Target::Reg(usize::from(r)), flag, 0);
    }

    /// A stack slot of the current frame read.
    pub(super) fn live_read_slot(&mut self, spi: usize) {
        if self.read_marks && self.cur.frames.len() == 1 {
            self.mark_read_from_cur(Target::Slot(spi), READ64, 0);
        }
    }

    /// A register written.
    pub(super) fn live_write_reg(&mut self, r: u8) {
        if self.read_marks && r < 10 {
            self.cur.cur_mut().live.regs[usize::from(r)] |= WRITTEN;
        }
    }

    /// All eight bytes of a stack slot written.
    pub(super) fn live_write_slot(&mut self, spi: usize) {
        if self.read_marks && self.cur.frames.len() == 1 {
            *self.cur.frames[0].live.slot_mut(spi) |= WRITTEN;
        }
    }

    /// The current state's marks after it became a checkpoint: linked to
    /// it, and nothing written yet.
    pub(super) fn live_linked_to_checkpoint(&mut self) {
        if !self.read_marks {
            return;
        }
        let frame = &mut self.cur.frames[0];
        for m in &mut frame.live.regs[..10] {
            *m = LINKED;
        }
        let n = frame.stack.len();
        frame.live.slots.clear();
        frame.live.slots.resize(n, LINKED);
    }

    /// `propagate_liveness`: checkpoint `c` covers the current state, so
    /// what its descendants read, the current state's ancestors read.
    pub(super) fn live_propagate(&mut self, c: usize) {
        if !self.read_marks {
            return;
        }
        let old = &self.checkpoints[c].state.frames[0];
        let slots = old.stack.len().min(self.cur.frames[0].stack.len());
        let targets = (0..10)
            .map(Target::Reg)
            .chain((0..slots).map(Target::Slot))
            .collect::<Vec<_>>();
        for t in targets {
            let flag = self.live_of(Some(c), t) & READ;
            let have = self.live_of(None, t) & READ;
            if have == READ64 || flag == 0 || have == flag {
                continue;
            }
            let m = self.live_mut(None, t);
            *m |= flag;
            if flag == READ64 {
                *m &= !READ32;
            }
            self.mark_read_from_cur(t, flag, 1);
        }
    }

    /// `clean_verifier_state` by read marks: what no descendant read is
    /// forgotten.
    pub(super) fn live_clean(&mut self, c: usize) {
        let frame = &mut self.checkpoints[c].state.frames[0];
        if frame.live.regs[0] & DONE != 0 {
            return;
        }
        for r in 0..10 {
            let live = frame.live.regs[r];
            frame.live.regs[r] |= DONE;
            if live & READ == 0 {
                frame.regs[r] = RegState::NotInit;
            }
        }
        for spi in 0..frame.stack.len() {
            let live = frame.live.slot(spi);
            *frame.live.slot_mut(spi) |= DONE;
            if live & READ == 0 {
                frame.stack[spi] = Default::default();
            }
        }
    }
}
