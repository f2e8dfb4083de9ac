//! Precision tracking (`mark_chain_precision`): when the verifier relies
//! on a scalar's exact value — a branch it decides, a pointer offset, a
//! zero written to the stack — every register and spilled slot that value
//! was computed from is marked precise in the checkpoints the current path
//! descends from, so that state comparison later treats them exactly.
//!
//! The walk goes backwards over the instructions of the current path and
//! then of each checkpoint up the parent chain, using the instruction
//! history (`struct bpf_insn_hist_entry`) to know where a jump came from,
//! which loads and stores were spills and fills, and which registers a
//! conditional jump narrowed together. Precision is never set in the
//! current state itself, only in its checkpointed ancestors, as the kernel
//! does; the level-2 log shows each step (`mark_precise: …`).

use bpfcheck_isa::disasm;
use bpfcheck_uapi::{RawInsn, op};

use super::{Checker, print};
use crate::error::Stop;
use crate::state::{FuncState, RegState, VerifierState};

/// The largest `MAX_CALL_FRAMES` of the kernels modelled (7.x's).
const MAX_FRAMES: usize = 16;

/// `BPF_FETCH`, `BPF_CMPXCHG`, `BPF_LOAD_ACQ`.
const FETCH: i32 = 0x01;
const CMPXCHG: i32 = 0xf1;
const LOAD_ACQ: i32 = 0x100;

fn is_atomic(insn: &RawInsn) -> bool {
    insn.class() == op::STX && op::mode(insn.code) == op::ATOMIC
}

/// `is_atomic_load_insn`.
fn is_load_acquire(insn: &RawInsn) -> bool {
    is_atomic(insn) && insn.imm == LOAD_ACQ
}

/// A read-modify-write that loads the old value (`BPF_FETCH`).
fn is_atomic_fetch(insn: &RawInsn) -> bool {
    is_atomic(insn) && insn.imm & FETCH != 0 && insn.imm < LOAD_ACQ
}

/// A scalar narrowed by a conditional jump together with others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinkedLoc {
    /// Register `regno` of frame `frameno`.
    Reg { frameno: u8, regno: u8 },
    /// The spill in slot `spi` of frame `frameno`.
    Slot { frameno: u8, spi: usize },
}

/// One entry of the instruction history.
#[derive(Clone, Debug)]
pub(crate) struct HistEntry {
    pub(super) idx: usize,
    /// The instruction executed before, `-1` for none.
    pub(super) prev_idx: i64,
    /// The spill or fill slot (`INSN_F_STACK_ACCESS`): frame and slot.
    stack: Option<(u8, usize)>,
    /// Registers narrowed together by this jump (`linked_regs`).
    linked: Vec<LinkedLoc>,
    /// Operands of this jump that were stack pointers
    /// (`INSN_F_DST_REG_STACK`, `INSN_F_SRC_REG_STACK`): no precision to
    /// pass on through them.
    pub(super) cmp_stack: u8,
}

/// [`HistEntry::cmp_stack`]: the destination register was a stack pointer.
pub(super) const CMP_DST_STACK: u8 = 1;
/// [`HistEntry::cmp_stack`]: the source register was a stack pointer.
pub(super) const CMP_SRC_STACK: u8 = 2;

/// Where the current path stands in the checkpoint tree: the kernel's
/// `parent`, `first_insn_idx` and `insn_hist_start` of the current state.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PathMeta {
    pub(crate) parent: Option<usize>,
    pub(crate) first_idx: usize,
    pub(crate) hist_start: usize,
    /// The state's loop entry (`loop_entry`, kernels without SCCs).
    pub(crate) loop_entry: Option<usize>,
}

/// A checkpoint (an explored state).
#[derive(Clone, Debug)]
pub(crate) struct Checkpoint {
    pub(crate) state: VerifierState,
    /// Dead registers and slots were forgotten (`cleaned`).
    pub(crate) cleaned: bool,
    pub(crate) hit_cnt: u32,
    pub(crate) miss_cnt: u32,
    pub(crate) meta: PathMeta,
    /// The instruction before the checkpoint on its path, `-1` for none.
    pub(crate) last_idx: i64,
    /// Its own instruction history, from its parent to it (each state
    /// owns its `jmp_history` in 6.18).
    pub(crate) hist: Vec<HistEntry>,
    /// The instruction it was taken at.
    pub(crate) insn_idx: usize,
    /// Paths from it still being walked (`branches`): while non-zero,
    /// the checkpoint is not known to be safe.
    pub(crate) branches: u32,
    /// Evicted from its instruction's list, not freed yet (`in_free_list`).
    pub(crate) in_free_list: bool,
    /// Checkpoints above it (`dfs_depth`).
    pub(crate) dfs_depth: u32,
    /// Named as some state's loop entry (`used_as_loop_entry`, kernels
    /// without SCCs): never freed when evicted.
    pub(crate) used_as_loop_entry: bool,
}

/// Where a precision walk starts: the current path, or a state copied
/// when a loop iteration was pruned (a backedge).
#[derive(Clone, Debug)]
pub(crate) struct ChainStart {
    pub(crate) meta: PathMeta,
    pub(crate) insn_idx: usize,
    /// The starting state's own history; `None` for the current path's.
    pub(crate) hist: Option<Vec<HistEntry>>,
}

/// Registers and slots still to explain, per frame (`struct
/// backtrack_state`).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Backtrack {
    frame: usize,
    pub(super) regs: [u32; MAX_FRAMES],
    pub(super) slots: [u64; MAX_FRAMES],
}

impl Backtrack {
    /// Nothing wanted yet, the walk's current frame `frame`.
    pub(super) fn in_frame(frame: usize) -> Self {
        Self {
            frame,
            ..Self::default()
        }
    }
    pub(super) fn empty(&self) -> bool {
        self.regs[..=self.frame].iter().all(|m| *m == 0)
            && self.slots[..=self.frame].iter().all(|m| *m == 0)
    }
    fn is_reg(&self, r: u8) -> bool {
        self.regs[self.frame] & (1 << r) != 0
    }
    pub(super) fn set_reg(&mut self, r: u8) {
        self.regs[self.frame] |= 1 << r;
    }
    fn clear_reg(&mut self, r: u8) {
        self.regs[self.frame] &= !(1 << r);
    }
    pub(super) fn set_slot(&mut self, frame: usize, spi: usize) {
        if frame < MAX_FRAMES && spi < 64 {
            self.slots[frame] |= 1 << spi;
        }
    }
    fn is_slot(&self, frame: usize, spi: usize) -> bool {
        frame < MAX_FRAMES && spi < 64 && self.slots[frame] & (1 << spi) != 0
    }
    fn is_loc(&self, loc: LinkedLoc) -> bool {
        match loc {
            LinkedLoc::Reg { frameno, regno } => {
                usize::from(frameno) < MAX_FRAMES
                    && self.regs[usize::from(frameno)] & (1 << regno) != 0
            }
            LinkedLoc::Slot { frameno, spi } => self.is_slot(usize::from(frameno), spi),
        }
    }
    fn set_loc(&mut self, loc: LinkedLoc) {
        match loc {
            LinkedLoc::Reg { frameno, regno } => {
                if let Some(m) = self.regs.get_mut(usize::from(frameno)) {
                    *m |= 1 << regno;
                }
            }
            LinkedLoc::Slot { frameno, spi } => self.set_slot(usize::from(frameno), spi),
        }
    }
}

/// `r0,r2,r4`.
fn fmt_regs(mask: u32) -> String {
    (0..32)
        .filter(|i| mask & (1 << i) != 0)
        .map(|i| format!("r{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `-8,-24`.
fn fmt_slots(mask: u64) -> String {
    (0..64i64)
        .filter(|i| mask & (1 << i) != 0)
        .map(|i| (-(i + 1) * 8).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// `bt_sync_linked_regs`: if one of the registers a jump narrowed together
/// is wanted, all are.
fn sync_linked(bt: &mut Backtrack, hist: Option<&HistEntry>) {
    let Some(h) = hist else { return };
    if h.linked.iter().any(|l| bt.is_loc(*l)) {
        for l in &h.linked {
            bt.set_loc(*l);
        }
    }
}

/// The slot of `R10 + off` (`(-off - 1) / 8`).
fn fp_slot(off: i16) -> usize {
    usize::try_from((-i32::from(off) - 1) / 8).unwrap_or(usize::MAX)
}

/// An exit or a bpf-to-bpf call: backtracking through it changes frames.
pub(super) fn crosses_frames(insn: &RawInsn) -> bool {
    insn.code == op::JMP | op::EXIT
        || insn.code == op::JMP | op::CALL && insn.src == op::PSEUDO_CALL
}

/// Why a backtracking step stopped short.
pub(super) enum StepErr {
    /// The kernel gives up and marks every scalar precise (`-ENOTSUPP`).
    Fallback,
    /// A case this verifier does not model.
    Unsupported(&'static str),
}

/// `R1`–`R5`.
const ARGS: u32 = 0b11_1110;

/// Backwards over a static call instruction: the callee's arguments are
/// the caller's `R1`–`R5`; nothing else may still be wanted in the callee.
fn leave_callee(bt: &mut Backtrack) -> Result<(), StepErr> {
    let fr = bt.frame;
    if bt.regs[fr] & !ARGS != 0 || bt.slots[fr] != 0 || fr == 0 {
        return Err(StepErr::Unsupported(
            "a precision backtracking bug at a call",
        ));
    }
    let args = bt.regs[fr] & ARGS;
    bt.regs[fr] &= !ARGS;
    bt.regs[fr - 1] |= args;
    bt.frame -= 1;
    Ok(())
}

/// Backwards over a callee's exit: into the callee's frame, with `R0`
/// wanted there if the caller wanted it after the call.
fn enter_callee(insns: &[RawInsn], subseq_idx: i64, bt: &mut Backtrack) -> Result<(), StepErr> {
    if bt.frame + 1 >= MAX_FRAMES {
        return Err(StepErr::Unsupported(
            "a precision backtracking bug at an exit",
        ));
    }
    let after_call = usize::try_from(subseq_idx - 1)
        .ok()
        .and_then(|p| insns.get(p))
        .is_some_and(|c| c.code == op::JMP | op::CALL && c.src == op::PSEUDO_CALL);
    // A callback's exit returns to the helper call, where the caller's
    // arguments may well be wanted.
    if after_call && bt.regs[bt.frame] & ARGS != 0 {
        return Err(StepErr::Unsupported(
            "a precision backtracking bug at an exit",
        ));
    }
    let r0 = after_call && bt.is_reg(0);
    bt.clear_reg(0);
    bt.frame += 1;
    if r0 {
        bt.set_reg(0);
    }
    Ok(())
}

/// `backtrack_insn`: what instruction `idx` needs precise before it, given
/// what is needed after it. `v6_1`: 6.1's rules, where a copy from `R10`
/// puts `R10` itself in the mask (a later store through it gives up) and
/// stack slots are found from `R10`-based offsets, fills of zeros too.
pub(super) fn backtrack_insn(
    insns: &[RawInsn],
    globals: &[usize],
    i: usize,
    subseq_idx: i64,
    hist: Option<&HistEntry>,
    bt: &mut Backtrack,
    v6_1: bool,
) -> Result<(), StepErr> {
    let insn = &insns[i];
    let class = insn.class();
    let opc = op::alu_op(insn.code);
    let (dreg, sreg) = (insn.dst, insn.src);
    let reg_src = op::src(insn.code) == op::X;
    sync_linked(bt, hist);
    match class {
        op::ALU | op::ALU64 => {
            if !bt.is_reg(dreg) || opc == op::END || opc == op::NEG {
                return Ok(());
            }
            if opc == op::MOV {
                bt.clear_reg(dreg);
            }
            if reg_src && (sreg != 10 || v6_1) {
                bt.set_reg(sreg);
            }
        }
        // `load_acquire` is a load into `dst` (`is_atomic_load_insn`).
        _ if class == op::LDX || is_load_acquire(insn) => {
            if !bt.is_reg(dreg) {
                return Ok(());
            }
            bt.clear_reg(dreg);
            if v6_1 {
                if sreg == 10 {
                    bt.set_slot(bt.frame, fp_slot(insn.off));
                }
                return Ok(());
            }
            let Some((fr, spi)) = hist.and_then(|h| h.stack) else {
                return Ok(());
            };
            bt.set_slot(usize::from(fr), spi);
        }
        op::STX | op::ST => {
            if is_atomic_fetch(insn) {
                // 6.18.y stable releases differ here (the fetch is treated
                // as a load since a late fix): only the cases where both
                // agree — nothing tracked at this instruction — are walked.
                let load = if insn.imm == CMPXCHG { 0 } else { sreg };
                let slot = hist.and_then(|h| h.stack);
                let slot_tracked = slot.is_some_and(|(fr, spi)| bt.is_slot(usize::from(fr), spi));
                if bt.is_reg(load) || bt.is_reg(dreg) || slot_tracked {
                    return Err(StepErr::Unsupported("precision through atomic fetches"));
                }
                return Ok(());
            }
            if bt.is_reg(dreg) {
                return Err(StepErr::Fallback);
            }
            let slot = if v6_1 {
                (dreg == 10).then(|| (bt.frame, fp_slot(insn.off)))
            } else {
                hist.and_then(|h| h.stack)
                    .map(|(fr, spi)| (usize::from(fr), spi))
            };
            let Some((fr, spi)) = slot else {
                return Ok(());
            };
            if !bt.is_slot(fr, spi) {
                return Ok(());
            }
            bt.slots[fr] &= !(1 << spi);
            if class == op::STX {
                bt.set_reg(sreg);
            }
        }
        op::JMP | op::JMP32 => match opc {
            // Backwards into the helper call from its callback's first
            // instruction: the callback's arguments come from the helper.
            op::CALL
                if super::callback::calls_callback(insn)
                    && i64::try_from(i).is_ok_and(|i| i != subseq_idx - 1) =>
            {
                let fr = bt.frame;
                if bt.regs[fr] & !ARGS != 0 || bt.slots[fr] != 0 || fr == 0 {
                    return Err(StepErr::Unsupported(
                        "a precision backtracking bug at a callback call",
                    ));
                }
                bt.regs[fr] &= !ARGS;
                bt.frame -= 1;
            }
            // A helper or kfunc sets `R0` and reads its arguments.
            op::CALL if insn.src == 0 || insn.src == op::PSEUDO_KFUNC_CALL => {
                bt.clear_reg(0);
                if bt.regs[bt.frame] & 0b11_1110 != 0 {
                    return Err(StepErr::Unsupported("precision of helper arguments"));
                }
            }
            op::CALL if insn.src == op::PSEUDO_CALL => {
                let target = i64::try_from(i).unwrap_or(0) + i64::from(insn.imm) + 1;
                if usize::try_from(target).is_ok_and(|t| globals.contains(&t)) {
                    // A global function sets `R0` and keeps nothing else.
                    bt.clear_reg(0);
                    if bt.regs[bt.frame] & ARGS != 0 {
                        return Err(StepErr::Unsupported(
                            "a precision backtracking bug at a global call",
                        ));
                    }
                    return Ok(());
                }
                return leave_callee(bt);
            }
            op::CALL => return Err(StepErr::Unsupported("precision across this call")),
            op::EXIT => return enter_callee(insns, subseq_idx, bt),
            op::JA | op::JCOND => {}
            _ if reg_src => {
                if !bt.is_reg(dreg) && !bt.is_reg(sreg) {
                    return Ok(());
                }
                let stack = hist.map_or(0, |h| h.cmp_stack);
                if stack & CMP_SRC_STACK == 0 {
                    bt.set_reg(sreg);
                }
                if stack & CMP_DST_STACK == 0 {
                    bt.set_reg(dreg);
                }
            }
            _ => {}
        },
        _ => {
            if op::mode(insn.code) == op::IMM {
                bt.clear_reg(dreg);
                return Ok(());
            }
            // `BPF_LD_[ABS|IND]` set only R0 (R1-R5 are dead after it); the
            // kernel gives up on a tracked R0 and marks everything precise.
            if bt.is_reg(dreg) {
                return Err(StepErr::Fallback);
            }
            return Ok(());
        }
    }
    sync_linked(bt, hist);
    Ok(())
}

impl Checker<'_> {
    /// `push_insn_history`: one entry per instruction; a second push from
    /// the same instruction adds to the first.
    pub(super) fn push_hist(&mut self, stack: Option<usize>, linked: Vec<LinkedLoc>) {
        self.push_hist_entry(stack, linked, 0);
    }

    /// Records which operands of the current conditional jump are stack
    /// pointers ([`CMP_DST_STACK`], [`CMP_SRC_STACK`]).
    pub(super) fn push_hist_cmp_stack(&mut self, flags: u8) {
        self.push_hist_entry(None, Vec::new(), flags);
    }

    fn push_hist_entry(&mut self, stack: Option<usize>, linked: Vec<LinkedLoc>, cmp_stack: u8) {
        // A stack access names the frame it went to.
        let frameno = u8::try_from(self.access_frame).unwrap_or(0);
        if let Some(e) = self.cur_hist_ent.and_then(|i| self.hist.get_mut(i)) {
            if stack.is_some() {
                e.stack = stack.map(|spi| (frameno, spi));
            }
            if cmp_stack == 0 {
                e.linked = linked;
            }
            e.cmp_stack |= cmp_stack;
            return;
        }
        let entry = HistEntry {
            idx: self.insn_idx,
            prev_idx: self.hist_prev,
            stack: stack.map(|spi| (frameno, spi)),
            linked,
            cmp_stack,
        };
        // Entries past the current path's end are overwritten, not
        // dropped: a backedge state may still read them, as in the
        // kernel's shared `insn_hist` array.
        if self.hist_len < self.hist.len() {
            self.hist[self.hist_len] = entry;
        } else {
            self.hist.push(entry);
        }
        self.cur_hist_ent = Some(self.hist_len);
        self.hist_len += 1;
    }

    /// Records a spill or fill of slot `spi` of the current frame.
    pub(super) fn push_hist_stack(&mut self, spi: usize) {
        self.push_hist(Some(spi), Vec::new());
    }

    /// `mark_all_scalars_imprecise` on the current state, before it
    /// becomes a checkpoint.
    pub(super) fn forget_precision(&mut self) {
        for frame in &mut self.cur.frames {
            for r in &mut frame.regs[..10] {
                if let Some(s) = r.scalar_mut() {
                    s.precise = false;
                }
            }
            for slot in &mut frame.stack {
                if slot.is_spill()
                    && let Some(s) = slot.spilled.scalar_mut()
                {
                    s.precise = false;
                }
            }
        }
    }

    /// `mark_chain_precision(regno)` for a scalar register of the current
    /// frame.
    pub(crate) fn mark_chain_precision(&mut self, regno: u8) -> Result<(), Stop> {
        if !matches!(self.cur.cur().reg(regno), RegState::Scalar(_)) {
            return Err(self.unsupported("precision of a non-scalar register"));
        }
        let start = self.chain_start();
        if self.profile.features.walk_v6_1.precision_chain {
            let frame = self.cur.frames.len() - 1;
            let wanted = super::precision_v6_1::Wanted::Reg(regno);
            return self.chain_v6_1(frame, wanted, &start).map(|_| ());
        }
        let mut bt = Backtrack {
            frame: self.cur.frames.len() - 1,
            ..Backtrack::default()
        };
        bt.set_reg(regno);
        self.backtrack_chain(bt, &start).map(|_| ())
    }

    /// `mark_chain_precision_batch` for stack slot `spi` of frame `frame`,
    /// which holds a spilled constant the verifier relies on.
    pub(super) fn mark_slot_precision(&mut self, frame: usize, spi: usize) -> Result<(), Stop> {
        let mut bt = Backtrack {
            frame: self.cur.frames.len() - 1,
            ..Backtrack::default()
        };
        bt.set_slot(frame, spi);
        let start = self.chain_start();
        self.backtrack_chain(bt, &start).map(|_| ())
    }

    /// The current path as the start of a precision walk.
    pub(super) fn chain_start(&self) -> ChainStart {
        ChainStart {
            meta: self.path,
            insn_idx: self.insn_idx,
            hist: None,
        }
    }

    /// `propagate_precision`: a path that checkpoint `old` covers needs
    /// precise whatever `old` has precise.
    /// Starting from `start` (the current path unless a backedge); `true`
    /// when a checkpoint gained a mark.
    pub(super) fn propagate_precision(
        &mut self,
        old: usize,
        start: &ChainStart,
        frames: usize,
    ) -> Result<bool, Stop> {
        if self.profile.features.walk_v6_1.precision_chain {
            return self.propagate_precision_v6_1(old, start);
        }
        let mut bt = Backtrack {
            frame: frames - 1,
            ..Backtrack::default()
        };
        let mut text = String::new();
        let mut newline = false;
        for (fr, func) in self.checkpoints[old].state.frames.iter().enumerate().rev() {
            let mut first = true;
            let mut note = |text: &mut String, what: String| {
                text.push_str(&if first {
                    format!("frame {fr}: propagating {what}")
                } else {
                    format!(",{what}")
                });
                first = false;
            };
            for (r, reg) in func.regs.iter().enumerate().take(10) {
                if reg.scalar().is_some_and(|s| s.precise) {
                    note(&mut text, format!("r{r}"));
                    bt.regs[fr] |= 1 << r;
                }
            }
            for (spi, slot) in func.stack.iter().enumerate() {
                if slot.is_spill() && slot.spilled.scalar().is_some_and(|s| s.precise) {
                    let off = -(i64::try_from(spi).unwrap_or(0) + 1) * 8;
                    note(&mut text, format!("fp{off}"));
                    bt.set_slot(fr, spi);
                }
            }
            if !first {
                text.push('\n');
                newline = true;
            }
        }
        if self.log.level2() {
            self.log.push(&text);
        } else if newline {
            // The line's end is written at every level.
            self.log.push("\n");
        }
        if bt.empty() {
            return Ok(false);
        }
        self.backtrack_chain(bt, start)
    }

    /// The current path's history since its last checkpoint.
    pub(super) fn path_hist(&self) -> &[HistEntry] {
        &self.hist[self.path.hist_start..self.hist_len]
    }

    /// The history of checkpoint `st`, or of the walk's starting state.
    pub(super) fn seg<'s>(&'s self, st: Option<usize>, start: &'s ChainStart) -> &'s [HistEntry] {
        match (st, &start.hist) {
            (Some(c), _) => &self.checkpoints[c].hist,
            (None, Some(h)) => h,
            (None, None) => &self.hist[start.meta.hist_start..self.hist_len],
        }
    }

    /// Instruction `i` as the backtracking lines print it.
    pub(super) fn backtrack_text(&self, i: usize) -> String {
        let names = crate::prepare::kfunc::KfuncNames(&self.kfuncs);
        disasm(self.insns, i, self.profile.log_era, &names)
    }

    /// The outcome of one `backtrack_insn` step: `Ok(false)` when the
    /// kernel gives up there and every scalar from `parent` up is made
    /// precise.
    pub(super) fn stepped(
        &mut self,
        step: Result<(), StepErr>,
        parent: Option<usize>,
    ) -> Result<bool, Stop> {
        match step {
            Ok(()) => Ok(true),
            Err(StepErr::Fallback) => {
                self.mark_all_scalars_precise(parent);
                Ok(false)
            }
            Err(StepErr::Unsupported(what)) => Err(self.unsupported(what)),
        }
    }

    /// `get_prev_insn_idx`: the instruction executed before `i` in the
    /// history of `st` (its first `*hist_end` entries still unread), or
    /// `None` at the segment's first instruction `first_idx`.
    pub(super) fn prev_insn_idx(
        &self,
        st: Option<usize>,
        start: &ChainStart,
        i: usize,
        first_idx: usize,
        hist_end: &mut usize,
    ) -> Result<Option<usize>, Stop> {
        let seg = self.seg(st, start);
        let cnt = *hist_end;
        if i == first_idx && (cnt == 0 || cnt == 1 && seg[0].idx == i) {
            return Ok(None);
        }
        let prev = if cnt > 0 && seg[cnt - 1].idx == i {
            *hist_end -= 1;
            seg[cnt - 1].prev_idx
        } else {
            i64::try_from(i).unwrap_or(0) - 1
        };
        match usize::try_from(prev) {
            Ok(p) if p < self.insns.len() => Ok(Some(p)),
            _ => Err(self.unsupported("precision backtracking past insn 0")),
        }
    }

    /// The walk of `__mark_chain_precision` from `start`.
    fn backtrack_chain(&mut self, mut bt: Backtrack, start: &ChainStart) -> Result<bool, Stop> {
        let globals = self
            .btf_funcs
            .as_ref()
            .map(|b| b.global_starts(&self.subprogs.starts))
            .unwrap_or_default();
        // `None` is the starting state, `Some(c)` checkpoint `c`.
        let mut st: Option<usize> = None;
        let mut changed = false;
        let mut first_idx = start.meta.first_idx;
        let mut last_idx = i64::try_from(start.insn_idx).unwrap_or(-1);
        let mut subseq_idx: i64 = -1;
        let mut skip_first = true;
        loop {
            let meta = match st {
                None => start.meta,
                Some(c) => self.checkpoints[c].meta,
            };
            let mut hist_end = self.seg(st, start).len();
            if self.log.level2() {
                self.log.push(&format!(
                    "mark_precise: frame{}: last_idx {last_idx} first_idx {first_idx} subseq_idx {subseq_idx} \n",
                    bt.frame
                ));
            }
            let Ok(mut i) = usize::try_from(last_idx) else {
                // The entry of a global function verified on its own: its
                // arguments (already marked in that checkpoint) are all
                // the caller can have wanted.
                let global_entry = st.is_some_and(|c| {
                    let f = &self.checkpoints[c].state.frames;
                    f.len() == 1 && f[0].subprog > 0 && f[0].callsite.is_none()
                });
                if global_entry && bt.frame == 0 && bt.slots[0] == 0 && bt.regs[0] & !ARGS == 0 {
                    return Ok(changed);
                }
                return Err(self.unsupported("precision at a function entry"));
            };
            loop {
                if skip_first {
                    skip_first = false;
                } else {
                    let seg = self.seg(st, start);
                    let hist = (hist_end > 0 && seg[hist_end - 1].idx == i)
                        .then(|| seg[hist_end - 1].clone());
                    let insn = self.insns[i];
                    if insn.code != 0 {
                        if self.log.level2() {
                            let text = format!(
                                "mark_precise: frame{}: regs={} stack={} before {i}: {}\n",
                                bt.frame,
                                fmt_regs(bt.regs[bt.frame]),
                                fmt_slots(bt.slots[bt.frame]),
                                self.backtrack_text(i)
                            );
                            self.log.push(&text);
                        }
                        let step = backtrack_insn(
                            self.insns,
                            &globals,
                            i,
                            subseq_idx,
                            hist.as_ref(),
                            &mut bt,
                            false,
                        );
                        if !self.stepped(step, start.meta.parent)? {
                            return Ok(changed);
                        }
                    }
                }
                if bt.empty() {
                    return Ok(changed);
                }
                subseq_idx = i64::try_from(i).unwrap_or(-1);
                match self.prev_insn_idx(st, start, i, first_idx, &mut hist_end)? {
                    Some(p) => i = p,
                    None => break,
                }
            }
            let Some(parent) = meta.parent else { break };
            changed |= self.mark_in_parent(parent, &mut bt);
            if bt.empty() {
                return Ok(changed);
            }
            subseq_idx = i64::try_from(first_idx).unwrap_or(-1);
            last_idx = self.checkpoints[parent].last_idx;
            first_idx = self.checkpoints[parent].meta.first_idx;
            st = Some(parent);
        }
        if !bt.empty() {
            self.mark_all_scalars_precise(start.meta.parent);
        }
        Ok(changed)
    }

    /// Marks the wanted registers and slots precise in checkpoint
    /// `parent`; those already precise there (or not scalars) need no
    /// further walk.
    fn mark_in_parent(&mut self, parent: usize, bt: &mut Backtrack) -> bool {
        let level2 = self.log.level2();
        let mut changed = false;
        let mut text = String::new();
        let style = self.print_style();
        let state = &mut self.checkpoints[parent].state;
        for fr in (0..=bt.frame).rev() {
            let Some(func) = state.frames.get_mut(fr) else {
                continue;
            };
            for r in 0..32u8 {
                if bt.regs[fr] & (1 << r) == 0 {
                    continue;
                }
                match func
                    .regs
                    .get_mut(usize::from(r))
                    .and_then(|x| x.scalar_mut())
                {
                    Some(s) if !s.precise => {
                        s.precise = true;
                        changed = true;
                    }
                    _ => bt.regs[fr] &= !(1 << r),
                }
            }
            for spi in 0..64usize {
                if bt.slots[fr] & (1 << spi) == 0 {
                    continue;
                }
                let slot = func.stack.get_mut(spi).filter(|s| s.is_spill());
                match slot.and_then(|s| s.spilled.scalar_mut()) {
                    Some(s) if !s.precise => {
                        s.precise = true;
                        changed = true;
                    }
                    _ => bt.slots[fr] &= !(1 << spi),
                }
            }
            if level2 {
                text.push_str(&format!(
                    "mark_precise: frame{fr}: parent state regs={} stack={}: ",
                    fmt_regs(bt.regs[fr]),
                    fmt_slots(bt.slots[fr])
                ));
                text.push_str(&print::frame(func, None, style, &state.refs));
            }
        }
        self.log.push(&text);
        changed
    }

    /// `mark_all_scalars_precise`: the conservative fallback, over every
    /// checkpoint from `parent` up.
    pub(super) fn mark_all_scalars_precise(&mut self, parent: Option<usize>) {
        let mut text = String::new();
        // 6.1 logs nothing of it.
        let level2 = self.log.level2() && !self.profile.features.walk_v6_1.precision_chain;
        if level2 {
            text.push_str(&format!(
                "mark_precise: frame{}: falling back to forcing all scalars precise\n",
                self.cur.frames.len() - 1
            ));
        }
        let mut st = parent;
        while let Some(c) = st {
            let cp = &mut self.checkpoints[c];
            for (i, func) in cp.state.frames.iter_mut().enumerate() {
                force_precise(func, i, level2.then_some(&mut text));
            }
            st = cp.meta.parent;
        }
        self.log.push(&text);
    }
}

fn force_precise(func: &mut FuncState, frame: usize, mut text: Option<&mut String>) {
    for (j, r) in func.regs[..10].iter_mut().enumerate() {
        if let Some(s) = r.scalar_mut()
            && !s.precise
        {
            s.precise = true;
            if let Some(t) = text.as_deref_mut() {
                t.push_str(&format!(
                    "force_precise: frame{frame}: forcing r{j} to be precise\n"
                ));
            }
        }
    }
    for (j, slot) in func.stack.iter_mut().enumerate() {
        if !slot.is_spill() {
            continue;
        }
        if let Some(s) = slot.spilled.scalar_mut()
            && !s.precise
        {
            s.precise = true;
            if let Some(t) = text.as_deref_mut() {
                let off = -(i64::try_from(j).unwrap_or(0) + 1) * 8;
                t.push_str(&format!(
                    "force_precise: frame{frame}: forcing fp{off} to be precise\n"
                ));
            }
        }
    }
}
