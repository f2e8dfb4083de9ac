//! Pruning liveness by read marks (kernels up to 6.17, profiles without
//! `static_liveness`): a read of a register or slot marks it read in the
//! checkpoints up its parentage, up to the first one whose path wrote it;
//! a finished checkpoint forgets what was never read; a pruned path hands
//! the marks of the checkpoint that covered it to its own ancestors.
//!
//! A register's parent is the same register of the checkpoint taken last,
//! but for a caller's `R0`–`R5`, which keep theirs; a callee's arguments
//! bring their parents from the caller's registers, and the callee's `R0`
//! brings its own back.

use bpfcheck_uapi::{RawInsn, op};

use super::Checker;
use crate::state::RegState;
use crate::state::live::{DONE, Mark, Parent, READ, READ32, READ64, WRITTEN};

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

/// Sets a read mark; a 64-bit read supersedes a 32-bit one.
fn set_read(m: &mut Mark, flag: u8) {
    m.flags |= flag;
    if flag == READ64 {
        m.flags &= !READ32;
    }
}

impl Checker<'_> {
    fn cur_mark(&mut self, frame: usize, t: Target) -> Option<&mut Mark> {
        let live = &mut self.cur.frames.get_mut(frame)?.live;
        Some(match t {
            Target::Reg(r) => &mut live.regs[r],
            Target::Slot(spi) => live.slot_mut(spi),
        })
    }

    fn parent_mark(&mut self, p: Parent, t: Target) -> Option<&mut Mark> {
        let cp = self.checkpoints.get_mut(p.checkpoint as usize)?;
        let live = &mut cp.state.frames.get_mut(usize::from(p.frame))?.live;
        Some(match t {
            Target::Reg(r) => &mut live.regs[r],
            Target::Slot(spi) => live.slot_mut(spi),
        })
    }

    /// `mark_reg_read` from `from`, a mark of the current state: up the
    /// parentage until a state that wrote `t`, or whose mark says it was
    /// read already. `cnt` counts marks the caller set.
    fn mark_read_up(&mut self, from: Mark, t: Target, flag: u8, mut cnt: u64) {
        let mut here = from;
        let mut t = t;
        while here.flags & WRITTEN == 0 {
            let Some(p) = here.parent else { break };
            if let (Target::Reg(_), Some(r)) = (t, here.parent_reg) {
                t = Target::Reg(usize::from(r));
            }
            let Some(m) = self.parent_mark(p, t) else {
                break;
            };
            if m.flags & READ == flag || m.flags & READ64 != 0 {
                break;
            }
            set_read(m, flag);
            cnt += 1;
            here = *m;
        }
        self.longest_mark_read = self.longest_mark_read.max(cnt);
    }

    /// A register of the current frame read by the current instruction
    /// (`check_reg_arg`'s `SRC_OP`).
    pub(super) fn live_read_reg(&mut self, r: u8) {
        if !self.read_marks || r >= 10 {
            return;
        }
        let insn = self.insns[self.insn_idx];
        let flag = if src_is_64(&insn, self.cur.cur().reg(r)) {
            READ64
        } else {
            READ32
        };
        let from = self.cur.cur().live.regs[usize::from(r)];
        self.mark_read_up(from, Target::Reg(usize::from(r)), flag, 0);
    }

    /// `mark_reg_read(…, REG_LIVE_READ64)` of a register of the current
    /// frame, whatever the instruction (a callback's `R0` at its exit).
    pub(super) fn live_read_reg_64(&mut self, r: u8) {
        if !self.read_marks || r >= 10 {
            return;
        }
        let from = self.cur.cur().live.regs[usize::from(r)];
        self.mark_read_up(from, Target::Reg(usize::from(r)), READ64, 0);
    }

    /// A stack slot of frame `frame` read.
    pub(super) fn live_read_slot(&mut self, frame: usize, spi: usize) {
        if !self.read_marks {
            return;
        }
        if let Some(from) = self.cur.frames.get(frame).map(|f| f.live.slot(spi)) {
            self.mark_read_up(from, Target::Slot(spi), READ64, 0);
        }
    }

    /// 6.1's `scalar += pointer`: `dst` takes the marks and parent link of
    /// the pointer register `src` (the kernel copies the register whole).
    pub(super) fn live_copy_reg(&mut self, dst: u8, src: u8) {
        if !self.read_marks || dst >= 10 || src >= 10 {
            return;
        }
        let live = &mut self.cur.cur_mut().live;
        let mut m = live.regs[usize::from(src)];
        m.parent_reg = m.parent_reg.or(Some(src));
        live.regs[usize::from(dst)] = m;
    }

    /// A register of the current frame written.
    pub(super) fn live_write_reg(&mut self, r: u8) {
        if self.read_marks && r < 10 {
            self.cur.cur_mut().live.regs[usize::from(r)].flags |= WRITTEN;
        }
    }

    /// All eight bytes of a stack slot of frame `frame` written.
    pub(super) fn live_write_slot(&mut self, frame: usize, spi: usize) {
        if self.read_marks
            && let Some(m) = self.cur_mark(frame, Target::Slot(spi))
        {
            m.flags |= WRITTEN;
        }
    }

    /// A static callee's frame was pushed: its arguments keep the marks
    /// and parents of the caller's registers, which are clobbered.
    pub(super) fn live_call(&mut self) {
        let n = self.cur.frames.len();
        if !self.read_marks || n < 2 {
            return;
        }
        let args: [Mark; 5] = std::array::from_fn(|i| self.cur.frames[n - 2].live.regs[i + 1]);
        self.cur.frames[n - 1].live.regs[1..=5].copy_from_slice(&args);
        self.live_clobber_caller_saved(n - 2);
    }

    /// `clear_caller_saved_regs`: `R0`–`R5` of `frame` written.
    pub(super) fn live_clobber_caller_saved(&mut self, frame: usize) {
        if !self.read_marks {
            return;
        }
        for m in &mut self.cur.frames[frame].live.regs[..=5] {
            m.flags |= WRITTEN;
        }
    }

    /// The callee's frame is about to be popped: the caller's `R0` takes
    /// the callee's, marks and parent included.
    pub(super) fn live_return(&mut self) {
        let n = self.cur.frames.len();
        if self.read_marks && n >= 2 {
            self.cur.frames[n - 2].live.regs[0] = self.cur.frames[n - 1].live.regs[0];
        }
    }

    /// The current state's marks after it became checkpoint `id`: linked
    /// to it (a caller's frame only from `R6`), and nothing written yet.
    pub(super) fn live_linked_to_checkpoint(&mut self, id: usize) {
        if !self.read_marks {
            return;
        }
        let cur = self.cur.frames.len() - 1;
        let checkpoint = u32::try_from(id).unwrap_or(u32::MAX);
        for (j, frame) in self.cur.frames.iter_mut().enumerate() {
            let parent = Some(Parent {
                checkpoint,
                frame: u8::try_from(j).unwrap_or(u8::MAX),
            });
            let first = if j < cur { 6 } else { 0 };
            for (i, m) in frame.live.regs[..10].iter_mut().enumerate() {
                if i >= first {
                    m.parent = parent;
                    m.parent_reg = None;
                }
                m.flags = 0;
            }
            let n = frame.stack.len();
            frame.live.slots.clear();
            frame.live.slots.resize(
                n,
                Mark {
                    flags: 0,
                    parent,
                    parent_reg: None,
                },
            );
        }
    }

    /// `propagate_liveness`: checkpoint `c` covers the current state, so
    /// what its descendants read, the current state's ancestors read.
    pub(super) fn live_propagate(&mut self, c: usize) {
        if !self.read_marks {
            return;
        }
        let cur = self.cur.frames.len() - 1;
        for f in 0..=cur {
            let old = &self.checkpoints[c].state.frames[f];
            let slots = old.stack.len().min(self.cur.frames[f].stack.len());
            let first = if f < cur { 6 } else { 0 };
            let targets: Vec<Target> = (first..10)
                .map(Target::Reg)
                .chain((0..slots).map(Target::Slot))
                .collect();
            for t in targets {
                let old = &self.checkpoints[c].state.frames[f].live;
                let flag = match t {
                    Target::Reg(r) => old.regs[r].flags,
                    Target::Slot(spi) => old.slot(spi).flags,
                } & READ;
                let Some(m) = self.cur_mark(f, t) else {
                    continue;
                };
                let have = m.flags & READ;
                if have == READ64 || flag == 0 || have == flag {
                    continue;
                }
                set_read(m, flag);
                let from = *m;
                self.mark_read_up(from, t, flag, 1);
            }
        }
    }

    /// `clean_verifier_state` by read marks: what no descendant read is
    /// forgotten.
    pub(super) fn live_clean(&mut self, c: usize) {
        let st = &mut self.checkpoints[c].state;
        if st.frames[0].live.regs[0].flags & DONE != 0 {
            return;
        }
        for frame in &mut st.frames {
            for r in 0..10 {
                let live = frame.live.regs[r].flags;
                frame.live.regs[r].flags |= DONE;
                if live & READ == 0 {
                    frame.regs[r] = RegState::NotInit;
                }
            }
            for spi in 0..frame.stack.len() {
                let live = frame.live.slot(spi).flags;
                frame.live.slot_mut(spi).flags |= DONE;
                if live & READ == 0 {
                    frame.stack[spi] = Default::default();
                }
            }
        }
    }
}
