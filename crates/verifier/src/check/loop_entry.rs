//! Loops up to 6.16 (profiles without `scc_loops`): loop entries.
//!
//! Before strongly connected components, the kernel found loops in the
//! tree of states itself: every state may name a *loop entry*, a state on
//! the current DFS path (one still being explored) that a path from it
//! came back to. A finished checkpoint whose outermost loop entry is still
//! being explored is in an unfinished loop: its read and precision marks
//! may be incomplete, so it is compared with all scalar ranges and the
//! same stack slot types, and a path it covers joins that loop. When a
//! state's last path ends, its loop entry passes to its parent.
//!
//! A checkpoint ever named as a loop entry is never freed when evicted,
//! and 6.12's `peak_states` is the count of states taken and not freed.

use super::Checker;
use super::equiv::Strictness;
use super::precision::PathMeta;
use crate::state::live::DONE;

/// A state whose loop entry is read or set: the current one, or a
/// checkpoint.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum St {
    Cur,
    Cp(usize),
}

impl Checker<'_> {
    fn loop_entry_slot(&mut self, s: St) -> &mut Option<usize> {
        match s {
            St::Cur => &mut self.path.loop_entry,
            St::Cp(c) => &mut self.checkpoints[c].meta.loop_entry,
        }
    }

    /// `dfs_depth`: checkpoints above the state.
    fn dfs_depth(&self, s: St) -> u32 {
        match s {
            St::Cur => self
                .path
                .parent
                .map_or(0, |p| self.checkpoints[p].dfs_depth + 1),
            St::Cp(c) => self.checkpoints[c].dfs_depth,
        }
    }

    /// `get_loop_entry`: the outermost loop entry known for `s`; the chain
    /// is shortened on the way, as the kernel does (which decides which
    /// state a later update marks as used).
    pub(super) fn get_loop_entry(&mut self, s: St) -> Option<usize> {
        let mut top = *self.loop_entry_slot(s);
        // The chain follows DFS depths upwards; the bound only guards
        // against a cycle the kernel would spin on.
        let mut guard = self.checkpoints.len();
        while let Some(t) = top {
            match self.checkpoints[t].meta.loop_entry {
                Some(next) if next != t && guard > 0 => {
                    top = Some(next);
                    guard -= 1;
                }
                _ => break,
            }
        }
        let mut st = Some(s);
        while let Some(x) = st {
            let slot = self.loop_entry_slot(x);
            if *slot == top {
                break;
            }
            let old = std::mem::replace(slot, top);
            st = old.map(St::Cp);
        }
        top
    }

    /// `update_loop_entry`: `hdr` becomes the loop entry of `cur` when the
    /// outermost entry of `hdr` is on the current DFS path and not below
    /// that of `cur`.
    pub(super) fn update_loop_entry(&mut self, cur: St, hdr: usize) {
        let cur1 = self.get_loop_entry(cur).map_or(cur, St::Cp);
        let hdr1 = self.get_loop_entry(St::Cp(hdr)).unwrap_or(hdr);
        let h = &self.checkpoints[hdr1];
        if h.branches > 0 && h.dfs_depth <= self.dfs_depth(cur1) {
            *self.loop_entry_slot(cur) = Some(hdr);
            self.checkpoints[hdr].used_as_loop_entry = true;
        }
    }

    /// The outermost loop entry of checkpoint `c`, when it is still being
    /// explored (`force_exact`).
    pub(super) fn exploring_loop_entry(&mut self, c: usize) -> Option<usize> {
        self.get_loop_entry(St::Cp(c))
            .filter(|&e| self.checkpoints[e].branches > 0)
    }

    /// The strictness of comparisons with a checkpoint of an unfinished
    /// loop: 6.12's `RANGE_WITHIN` also wants the same slot types.
    pub(super) fn loop_strictness(&self) -> Strictness {
        if self.profile.features.scc_loops {
            Strictness::RangeWithin
        } else {
            Strictness::RangeWithinTyped
        }
    }

    /// `update_branch_counts` of 6.12 when the current path ends: each
    /// state whose last path this was hands its loop entry to its parent.
    pub(super) fn finish_path_loop_entries(&mut self, path: PathMeta) {
        // The current state itself.
        if let (Some(p), Some(e)) = (path.parent, path.loop_entry) {
            self.update_loop_entry(St::Cp(p), e);
        }
        let mut st = path.parent;
        while let Some(c) = st {
            let cp = &mut self.checkpoints[c];
            cp.branches = cp.branches.saturating_sub(1);
            if cp.branches > 0 {
                break;
            }
            let (parent, entry) = (cp.meta.parent, cp.meta.loop_entry);
            if let (Some(p), Some(e)) = (parent, entry) {
                self.update_loop_entry(St::Cp(p), e);
            }
            st = parent;
        }
    }

    /// 6.12's eviction of checkpoint `c`: freed (and no longer counted in
    /// `peak_states`) when cleaned and never a loop entry; otherwise kept
    /// on the free list to the end.
    pub(super) fn evict_612(&mut self, c: usize) {
        let cp = &self.checkpoints[c];
        let done = if self.read_marks {
            cp.state.frames[0].live.regs[0].flags & DONE != 0
        } else {
            cp.cleaned
        };
        if done && !cp.used_as_loop_entry {
            self.peak_states -= 1;
        } else {
            self.checkpoints[c].in_free_list = true;
        }
    }
}
