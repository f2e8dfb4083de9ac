//! 6.18's stack-slot liveness (`kernel/bpf/liveness.c`) for the main
//! program's single call chain: the walk records which slots each
//! instruction may read and must write, and at every program exit a
//! backward fixpoint over the instructions in DFS post-order computes the
//! slots live before each instruction. The level-2 log prints every change
//! of an instruction's live and must-written sets.

use bpfcheck_uapi::RawInsn;

use crate::liveness::successors;
use crate::prepare::subprogs::is_ldimm64;

/// Per-instruction masks, bit `spi` for the slot at `-8(spi+1)`.
#[derive(Clone, Copy, Default)]
struct Masks {
    may_read: u64,
    must_write: u64,
    must_write_acc: u64,
    live_before: u64,
    must_write_set: bool,
}

pub(super) struct StackLiveness {
    masks: Vec<Masks>,
    postorder: Vec<usize>,
    updated: bool,
    must_write_dropped: bool,
    write_acc: u64,
    write_idx: usize,
}

/// `bpf_fmt_stack_mask`: `-8,-16,…`.
fn fmt_mask(mask: u64) -> String {
    (0..64)
        .filter(|spi| mask & (1 << spi) != 0)
        .map(|spi| format!("-{}", (spi + 1) * 8))
        .collect::<Vec<_>>()
        .join(",")
}

fn log_change(out: &mut String, what: &str, idx: usize, old: u64, new: u64) {
    let changed = old ^ new;
    if changed == 0 {
        return;
    }
    out.push_str(&format!("(0) frame 0 insn {idx} "));
    if new & changed != 0 {
        out.push_str(&format!("+{what} {} ", fmt_mask(new & changed)));
    }
    if !new & changed != 0 {
        out.push_str(&format!("-{what} {}", fmt_mask(!new & changed)));
    }
    out.push('\n');
}

/// The instruction post-order of `bpf_compute_postorder`: an explicit
/// stack where an instruction, when first reached, pushes all its
/// successors not yet discovered (fall-through first, so the branch
/// target is walked first) and is emitted when reached again.
fn postorder(insns: &[RawInsn]) -> Vec<usize> {
    let n = insns.len();
    let mut discovered = vec![false; n];
    let mut explored = vec![false; n];
    let mut order = Vec::with_capacity(n);
    if n == 0 {
        return order;
    }
    let mut stack = vec![0usize];
    while let Some(&top) = stack.last() {
        discovered[top] = true;
        if explored[top] {
            order.push(top);
            stack.pop();
            continue;
        }
        for s in successors(insns, top) {
            if s < n && !discovered[s] {
                discovered[s] = true;
                stack.push(s);
            }
        }
        explored[top] = true;
    }
    order
}

impl StackLiveness {
    pub(super) fn new(insns: &[RawInsn]) -> Self {
        Self {
            masks: vec![Masks::default(); insns.len()],
            postorder: postorder(insns),
            updated: false,
            must_write_dropped: false,
            write_acc: 0,
            write_idx: 0,
        }
    }

    /// Slots live before instruction `idx` as far as the walk has
    /// explored (`bpf_stack_slot_alive` for the main program).
    pub(super) fn live_before(&self, idx: usize) -> u64 {
        self.masks.get(idx).map_or(0, |m| m.live_before)
    }

    /// `bpf_mark_stack_read`.
    pub(super) fn read(&mut self, idx: usize, spi: usize) {
        let Some(m) = self.masks.get_mut(idx) else {
            return;
        };
        let bit = 1u64 << (spi & 63);
        let new = m.may_read | bit;
        if new != m.may_read && (new | m.live_before) != m.live_before {
            self.updated = true;
        }
        m.may_read = new;
    }

    /// `bpf_reset_stack_write_marks`.
    pub(super) fn reset_writes(&mut self, idx: usize) {
        self.write_idx = idx;
        self.write_acc = 0;
    }

    /// `bpf_mark_stack_write`: a whole slot written.
    pub(super) fn write(&mut self, spi: usize) {
        self.write_acc |= 1u64 << (spi & 63);
    }

    /// `bpf_commit_stack_write_marks`: must-write is the intersection
    /// over all visits.
    pub(super) fn commit_writes(&mut self) {
        let Some(m) = self.masks.get_mut(self.write_idx) else {
            return;
        };
        let mut mask = self.write_acc;
        if mask != 0 || m.must_write_set {
            let old = m.must_write;
            if m.must_write_set {
                mask &= old;
            }
            if old != mask {
                m.must_write = mask;
                self.updated = true;
            }
            if old & !mask != 0 {
                self.must_write_dropped = true;
            }
        }
        m.must_write_set = true;
        self.write_idx = 0;
    }

    /// `bpf_update_live_stack`: the fixpoint, logged into `log` when given.
    pub(super) fn update(
        &mut self,
        insns: &[RawInsn],
        prune_point: &[bool],
        mut log: Option<&mut String>,
    ) {
        if !self.updated {
            return;
        }
        if self.must_write_dropped {
            for m in &mut self.masks {
                m.must_write_acc = 0;
            }
        }
        let mut iterations = 0;
        loop {
            iterations += 1;
            let mut changed = false;
            for &i in &self.postorder {
                let succ: Vec<usize> = successors(insns, i)
                    .into_iter()
                    .filter(|s| *s < insns.len())
                    .collect();
                if succ.is_empty() {
                    continue;
                }
                let mut after = 0;
                let mut acc = u64::MAX;
                for s in &succ {
                    after |= self.masks[*s].live_before;
                    acc &= self.masks[*s].must_write_acc;
                }
                let m = self.masks[i];
                acc |= m.must_write;
                let before = (after & !m.must_write) | m.may_read;
                changed |= before != m.live_before || acc != m.must_write_acc;
                if let Some(out) = log.as_deref_mut()
                    && (m.may_read != 0 || m.must_write != 0 || i == 0 || prune_point[i])
                {
                    log_change(out, "live", i, m.live_before, before);
                    log_change(out, "written", i, m.must_write_acc, acc);
                }
                self.masks[i].live_before = before;
                self.masks[i].must_write_acc = acc;
            }
            if !changed {
                break;
            }
        }
        if let Some(out) = log {
            out.push_str(&format!(
                "(0) live stack update done in {iterations} iterations\n"
            ));
        }
        self.updated = false;
        self.must_write_dropped = false;
        let _ = is_ldimm64;
    }
}
