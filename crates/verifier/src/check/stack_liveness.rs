//! 6.18's stack-slot liveness (`kernel/bpf/liveness.c`): per call chain
//! (the call instructions leading to a subprogram, then its start), the
//! walk records which slots of every frame each instruction may read and
//! must write. When a path ends or a subprogram returns, a backward
//! fixpoint over the subprogram's instructions in DFS post-order computes
//! the slots live before each instruction, and what a callee reads or
//! surely writes of its callers' stacks moves to the call instruction of
//! the caller's chain. The level-2 log prints every change of an
//! instruction's live and must-written sets.

use std::collections::HashMap;

use bpfcheck_uapi::RawInsn;

use crate::liveness::successors;
use crate::state::VerifierState;

/// The largest `MAX_CALL_FRAMES` of the kernels modelled (7.x's).
const MAX_FRAMES: usize = 16;

/// Per-instruction masks of one frame, bit `spi` for the slot at
/// `-8(spi+1)`.
#[derive(Clone, Copy, Default)]
struct Masks {
    may_read: u64,
    must_write: u64,
    must_write_acc: u64,
    live_before: u64,
}

/// The call instruction of each outer frame, then the innermost
/// subprogram's start.
type Chain = Vec<usize>;

/// One subprogram as reached through one call chain (`struct
/// func_instance`).
struct Instance {
    chain: Chain,
    /// The subprogram's first instruction.
    start: usize,
    /// Per frame of the chain, per instruction of the subprogram; a frame
    /// gets its array on its first mark.
    frames: Vec<Option<Vec<Masks>>>,
    must_write_set: Vec<bool>,
    updated: bool,
    must_write_dropped: bool,
}

impl Instance {
    fn masks(&self, frame: usize, idx: usize) -> Option<&Masks> {
        let rel = idx.checked_sub(self.start)?;
        self.frames.get(frame)?.as_ref()?.get(rel)
    }

    fn masks_mut(&mut self, frame: usize, idx: usize) -> Option<&mut Masks> {
        let len = self.must_write_set.len();
        let rel = idx.checked_sub(self.start)?;
        let f = self.frames.get_mut(frame)?;
        f.get_or_insert_with(|| vec![Masks::default(); len])
            .get_mut(rel)
    }
}

pub(super) struct StackLiveness {
    instances: Vec<Instance>,
    by_chain: HashMap<Chain, usize>,
    /// Subprogram starts, then the program's length.
    bounds: Vec<usize>,
    /// Post-order of each subprogram's instructions.
    postorder: Vec<Vec<usize>>,
    cur_instance: Option<usize>,
    write_acc: [u64; MAX_FRAMES],
    write_idx: usize,
    /// Helper calls that call a callback.
    calls_callback: Vec<bool>,
}

/// `bpf_fmt_stack_mask`: `-8,-16,…`.
fn fmt_mask(mask: u64) -> String {
    (0..64)
        .filter(|spi| mask & (1 << spi) != 0)
        .map(|spi| format!("-{}", (spi + 1) * 8))
        .collect::<Vec<_>>()
        .join(",")
}

fn fmt_chain(chain: &[usize]) -> String {
    let parts: Vec<String> = chain.iter().map(usize::to_string).collect();
    format!("({})", parts.join(","))
}

fn log_change(
    out: &mut String,
    chain: &str,
    what: &str,
    frame: usize,
    idx: usize,
    old: u64,
    new: u64,
) {
    let changed = old ^ new;
    if changed == 0 {
        return;
    }
    out.push_str(&format!("{chain} frame {frame} insn {idx} "));
    if new & changed != 0 {
        out.push_str(&format!("+{what} {} ", fmt_mask(new & changed)));
    }
    if !new & changed != 0 {
        out.push_str(&format!("-{what} {}", fmt_mask(!new & changed)));
    }
    out.push('\n');
}

/// The post-order of `start`'s subprogram as `bpf_compute_postorder`
/// walks it: every undiscovered successor is pushed at once (the branch
/// target last, so explored first), a node is emitted when it comes back
/// to the top; calls are not entered.
pub(crate) fn postorder(insns: &[RawInsn], start: usize, state: &mut [u8]) -> Vec<usize> {
    const DISCOVERED: u8 = 1;
    const EXPLORED: u8 = 2;
    let n = insns.len();
    let mut order = Vec::new();
    if start >= n {
        return order;
    }
    let mut stack = vec![start];
    while let Some(&top) = stack.last() {
        state[top] |= DISCOVERED;
        if state[top] & EXPLORED != 0 {
            order.push(top);
            stack.pop();
            continue;
        }
        for s in successors(insns, top) {
            if s < n && state[s] == 0 {
                stack.push(s);
                state[s] |= DISCOVERED;
            }
        }
        state[top] |= EXPLORED;
    }
    order
}

/// The call chain of `st` up to frame `frame` (`compute_callchain`).
fn chain_of(st: &VerifierState, frame: usize, bounds: &[usize]) -> Chain {
    let mut chain: Chain = (0..frame)
        .map(|i| st.frames[i + 1].callsite.unwrap_or(0))
        .collect();
    chain.push(bounds.get(st.frames[frame].subprog).copied().unwrap_or(0));
    chain
}

impl StackLiveness {
    /// `starts`: the subprograms' first instructions, in order.
    pub(super) fn new(insns: &[RawInsn], starts: &[usize]) -> Self {
        let mut state = vec![0u8; insns.len()];
        let postorder = starts
            .iter()
            .map(|&s| postorder(insns, s, &mut state))
            .collect();
        let mut bounds = starts.to_vec();
        bounds.push(insns.len());
        Self {
            instances: Vec::new(),
            by_chain: HashMap::new(),
            bounds,
            postorder,
            cur_instance: None,
            write_acc: [0; MAX_FRAMES],
            write_idx: 0,
            calls_callback: insns.iter().map(super::callback::calls_callback).collect(),
        }
    }

    /// `__lookup_instance`: finds or creates the instance of `chain`.
    fn instance(&mut self, chain: Chain) -> usize {
        if let Some(&i) = self.by_chain.get(&chain) {
            return i;
        }
        let start = chain.last().copied().unwrap_or(0);
        let k = self.bounds.iter().position(|&b| b == start).unwrap_or(0);
        let end = self.bounds.get(k + 1).copied().unwrap_or(start);
        let frames = chain.len();
        self.instances.push(Instance {
            chain: chain.clone(),
            start,
            frames: vec![None; frames],
            must_write_set: vec![false; end.saturating_sub(start)],
            updated: false,
            must_write_dropped: false,
        });
        let i = self.instances.len() - 1;
        self.by_chain.insert(chain, i);
        i
    }

    fn lookup(&mut self, st: &VerifierState, frame: usize) -> usize {
        let chain = chain_of(st, frame, &self.bounds);
        self.instance(chain)
    }

    /// `ensure_cur_instance`.
    fn cur(&mut self, st: &VerifierState) -> usize {
        if let Some(i) = self.cur_instance {
            return i;
        }
        let i = self.lookup(st, st.frames.len() - 1);
        self.cur_instance = Some(i);
        i
    }

    /// `bpf_reset_live_stack_callchain`: the current chain changed.
    pub(super) fn reset_chain(&mut self) {
        self.cur_instance = None;
    }

    fn mark_read(&mut self, inst: usize, frame: usize, idx: usize, mask: u64) {
        let inst = &mut self.instances[inst];
        let Some(m) = inst.masks_mut(frame, idx) else {
            return;
        };
        let new = m.may_read | mask;
        let grows = new != m.may_read && (new | m.live_before) != m.live_before;
        m.may_read = new;
        if grows {
            inst.updated = true;
        }
    }

    /// `bpf_mark_stack_read`: instruction `idx` reads slot `spi` of frame
    /// `frame`.
    pub(super) fn read(&mut self, st: &VerifierState, frame: usize, idx: usize, spi: usize) {
        let inst = self.cur(st);
        self.mark_read(inst, frame, idx, 1u64 << (spi & 63));
    }

    /// `bpf_reset_stack_write_marks`.
    pub(super) fn reset_writes(&mut self, st: &VerifierState, idx: usize) {
        self.cur(st);
        self.write_idx = idx;
        self.write_acc = [0; MAX_FRAMES];
    }

    /// `bpf_mark_stack_write`: a whole slot of frame `frame` written.
    pub(super) fn write(&mut self, frame: usize, spi: usize) {
        if let Some(m) = self.write_acc.get_mut(frame) {
            *m |= 1u64 << (spi & 63);
        }
    }

    /// `bpf_commit_stack_write_marks`: must-write is the intersection
    /// over all visits.
    pub(super) fn commit_writes(&mut self) {
        if let Some(i) = self.cur_instance {
            self.commit_to(i);
        }
    }

    fn commit_to(&mut self, i: usize) {
        let idx = self.write_idx;
        let acc = self.write_acc;
        let inst = &mut self.instances[i];
        let Some(rel) = idx.checked_sub(inst.start) else {
            return;
        };
        let Some(&set) = inst.must_write_set.get(rel) else {
            return;
        };
        for (frame, &acc) in acc.iter().enumerate().take(inst.chain.len()) {
            let mut mask = acc;
            if mask == 0 && !set {
                continue;
            }
            let Some(m) = inst.masks_mut(frame, idx) else {
                continue;
            };
            let old = m.must_write;
            if set {
                mask &= old;
            }
            if old != mask {
                m.must_write = mask;
                inst.updated = true;
            }
            if old & !mask != 0 {
                inst.must_write_dropped = true;
            }
        }
        inst.must_write_set[rel] = true;
        self.write_idx = 0;
    }

    /// `bpf_update_live_stack`: the fixpoint of every instance of `st`'s
    /// chain, innermost first, logged into `log` when given.
    pub(super) fn update(
        &mut self,
        st: &VerifierState,
        insns: &[RawInsn],
        prune_point: &[bool],
        mut log: Option<&mut String>,
    ) {
        self.cur_instance = None;
        for frame in (0..st.frames.len()).rev() {
            let i = self.lookup(st, frame);
            if self.instances[i].updated {
                self.update_instance(i, insns, prune_point, log.as_deref_mut());
                self.instances[i].updated = false;
                self.instances[i].must_write_dropped = false;
            }
        }
    }

    fn update_instance(
        &mut self,
        i: usize,
        insns: &[RawInsn],
        prune_point: &[bool],
        mut log: Option<&mut String>,
    ) {
        let start = self.instances[i].start;
        let chain_text = fmt_chain(&self.instances[i].chain);
        if self.instances[i].must_write_dropped {
            for m in self.instances[i].frames.iter_mut().flatten().flatten() {
                m.must_write_acc = 0;
            }
        }
        let k = self.bounds.iter().position(|&b| b == start).unwrap_or(0);
        let order = self.postorder.get(k).cloned().unwrap_or_default();
        let nframes = self.instances[i].chain.len();
        let mut iterations = 0;
        loop {
            iterations += 1;
            let mut changed = false;
            for frame in 0..nframes {
                if self.instances[i].frames[frame].is_none() {
                    continue;
                }
                for &idx in &order {
                    let inst = &mut self.instances[i];
                    let succ = successors(insns, idx);
                    if succ.is_empty() {
                        continue;
                    }
                    let mut after = 0;
                    let mut acc = u64::MAX;
                    for s in &succ {
                        let sm = inst.masks(frame, *s).copied().unwrap_or_default();
                        after |= sm.live_before;
                        acc &= sm.must_write_acc;
                    }
                    let Some(m) = inst.masks_mut(frame, idx) else {
                        continue;
                    };
                    acc |= m.must_write;
                    let before = (after & !m.must_write) | m.may_read;
                    changed |= before != m.live_before || acc != m.must_write_acc;
                    if let Some(out) = log.as_deref_mut()
                        && (m.may_read != 0
                            || m.must_write != 0
                            || idx == start
                            || prune_point[idx])
                    {
                        log_change(out, &chain_text, "live", frame, idx, m.live_before, before);
                        log_change(
                            out,
                            &chain_text,
                            "written",
                            frame,
                            idx,
                            m.must_write_acc,
                            acc,
                        );
                    }
                    m.live_before = before;
                    m.must_write_acc = acc;
                }
            }
            if !changed {
                break;
            }
        }
        if let Some(out) = log {
            out.push_str(&format!(
                "{chain_text} live stack update done in {iterations} iterations\n"
            ));
        }
        if nframes > 1 {
            self.propagate_to_outer(i);
        }
    }

    /// `propagate_to_outer_instance`: what the callee's entry reads and
    /// surely writes of outer frames belongs to the call instruction.
    fn propagate_to_outer(&mut self, i: usize) {
        let inst = &self.instances[i];
        let start = inst.start;
        let depth = inst.chain.len() - 1;
        let callsite = inst.chain[depth - 1];
        let entry: Vec<Option<Masks>> = (0..depth).map(|f| inst.masks(f, start).copied()).collect();
        let mut outer_chain: Chain = inst.chain[..depth - 1].to_vec();
        let outer_sub = self
            .bounds
            .iter()
            .rposition(|&b| b <= callsite)
            .map_or(0, |k| self.bounds[k]);
        outer_chain.push(outer_sub);
        let outer = self.instance(outer_chain);
        self.write_idx = callsite;
        self.write_acc = [0; MAX_FRAMES];
        for (frame, m) in entry.iter().enumerate() {
            let Some(m) = m else { continue };
            self.write_acc[frame] |= m.must_write_acc;
            self.mark_read(outer, frame, callsite, m.live_before);
        }
        self.commit_to(outer);
    }

    /// `bpf_stack_slot_alive` for a checkpoint `st` at `idx`: read later in
    /// its own subprogram, or after the call in some caller.
    pub(super) fn alive(
        &mut self,
        st: &VerifierState,
        idx: usize,
        frame: usize,
        spi: usize,
    ) -> bool {
        let bit = 1u64 << (spi & 63);
        let cur = st.frames.len() - 1;
        let live = |s: &Self, inst: usize, at: usize| {
            s.instances[inst]
                .masks(frame, at)
                .is_some_and(|m| m.live_before & bit != 0)
        };
        let ci = self.lookup(st, cur);
        if live(self, ci, idx) {
            return true;
        }
        for i in frame..cur {
            let callsite = self.instances[ci].chain[i];
            let inst = self.lookup(st, i);
            // After a callback-calling helper the callback may run again.
            let after = if self.calls_callback.get(callsite).copied().unwrap_or(false) {
                callsite
            } else {
                callsite + 1
            };
            if live(self, inst, after) {
                return true;
            }
        }
        false
    }
}
