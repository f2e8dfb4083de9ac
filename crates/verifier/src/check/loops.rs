//! Loops (6.17+): the strongly connected components of the control-flow
//! graph, the checkpoints still being explored, and the backedges whose
//! precision marks are settled once a loop is left.
//!
//! A checkpoint counts the paths still walked from it (`branches`); while
//! any is, the checkpoint is not known to be safe and is compared only to
//! detect an infinite loop (the same registers and stack come back). A
//! checkpoint inside a loop whose exploration is unfinished (its SCC visit
//! holds backedges) is compared with all scalar ranges, its precision
//! marks being incomplete; a path it covers is remembered as a backedge,
//! and when the state that entered the loop finishes, precision is
//! propagated along all backedges to a fixed point.

use bpfcheck_uapi::RawInsn;

use super::equiv;
use super::precision::{ChainStart, PathMeta};
use super::{Checker, Flow};
use crate::error::Stop;
use crate::liveness::successors;
use crate::state::{RegState, VerifierState};

/// `MAX_BACKEDGE_ITERS`.
const MAX_BACKEDGE_ITERS: u32 = 64;

/// `bpf_compute_scc`: the SCC id of each instruction, 0 for instructions
/// in no loop. Ids are handed out in the order Tarjan's algorithm closes
/// components, walking successors in `check_cfg`'s order.
pub(crate) fn compute_scc(insns: &[RawInsn]) -> Vec<u32> {
    compute_scc_with(insns, &[])
}

/// [`compute_scc`] where `kfunc_callbacks[i]` marks the kfunc calls that
/// call a callback (`bpf_rbtree_add_impl`'s `less`), each a loop of its
/// own like a callback-calling helper's.
pub(crate) fn compute_scc_with(insns: &[RawInsn], kfunc_callbacks: &[bool]) -> Vec<u32> {
    const NOT_ON_STACK: u32 = u32::MAX;
    let n = insns.len();
    let mut scc = vec![0u32; n];
    let mut pre = vec![0u32; n];
    let mut low = vec![0u32; n];
    let mut stack: Vec<usize> = Vec::with_capacity(n);
    let succ: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            let mut s = successors(insns, i);
            s.retain(|&t| t < n);
            s
        })
        .collect();
    let mut next_pre = 1u32;
    let mut next_scc = 1u32;
    // Each frame: the vertex and how many of its successors were looked at.
    let mut dfs: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if pre[root] != 0 {
            continue;
        }
        dfs.push((root, 0));
        while let Some(&mut (w, ref mut j)) = dfs.last_mut() {
            if pre[w] == 0 {
                pre[w] = next_pre;
                low[w] = next_pre;
                next_pre += 1;
                stack.push(w);
            }
            if let Some(&s) = succ[w].get(*j) {
                *j += 1;
                if pre[s] == 0 {
                    dfs.push((s, 0));
                } else {
                    low[w] = low[w].min(low[s]);
                }
                continue;
            }
            dfs.pop();
            // The child's low is taken by the parent once it resumes.
            if let Some(&(parent, _)) = dfs.last() {
                low[parent] = low[parent].min(low[w]);
            }
            if low[w] < pre[w] {
                continue;
            }
            // A callback-calling helper call is a loop of its own.
            let assign = stack.last() != Some(&w)
                || succ[w].contains(&w)
                || super::callback::calls_callback(&insns[w])
                || kfunc_callbacks.get(w).copied().unwrap_or(false);
            loop {
                let t = stack.pop().unwrap_or(w);
                low[t] = NOT_ON_STACK;
                if assign {
                    scc[t] = next_scc;
                }
                if t == w {
                    break;
                }
            }
            if assign {
                next_scc += 1;
            }
        }
    }
    scc
}

/// A path pruned by a checkpoint of an unfinished loop
/// (`struct bpf_scc_backedge`).
pub(super) struct Backedge {
    state: VerifierState,
    start: ChainStart,
    /// The checkpoint that covered it (`equal_state`).
    equal: usize,
}

/// The exploration of one loop for one call chain (`struct bpf_scc_visit`).
#[derive(Default)]
pub(super) struct SccVisit {
    /// The checkpoint that entered the loop, while paths from it are
    /// walked (`entry_state`).
    entry: Option<usize>,
    /// Newest first.
    backedges: Vec<Backedge>,
}

/// Which exploration a checkpoint belongs to (`struct bpf_scc_callchain`):
/// the call sites of the outer frames down to the outermost one inside a
/// loop, and that loop's SCC. A loop in a subprogram called from within a
/// loop (a callback's body, say) is part of the outer loop's exploration.
pub(super) type SccKey = (Vec<usize>, u32);

/// `format_callchain`: `(callsite,…,scc)`, the call sites up to the first
/// zero.
fn fmt_scc_key((callsites, scc): &SccKey) -> String {
    let mut out = String::from("(");
    for c in callsites.iter().take_while(|&&c| c != 0) {
        out.push_str(&format!("{c},"));
    }
    out.push_str(&format!("{scc})"));
    out
}

impl Checker<'_> {
    /// `compute_scc_callchain` of checkpoint `c`.
    fn scc_key(&self, c: usize) -> Option<SccKey> {
        let cp = &self.checkpoints[c];
        let st = &cp.state;
        let n = st.frames.len();
        let mut callsites = Vec::new();
        for i in 0..n {
            let at = if i + 1 == n {
                cp.insn_idx
            } else {
                st.frames[i + 1].callsite.unwrap_or(0)
            };
            let scc = self.scc.get(at).copied().unwrap_or(0);
            if scc != 0 {
                return Some((callsites, scc));
            }
            callsites.push(at);
        }
        None
    }

    /// `incomplete_read_marks`: the loop of checkpoint `c` still has
    /// pending backedges.
    pub(super) fn incomplete_marks(&self, c: usize) -> bool {
        self.scc_key(c)
            .and_then(|k| self.visits.get(&k))
            .is_some_and(|v| !v.backedges.is_empty())
    }

    /// `update_peak_states`.
    pub(super) fn update_peak(&mut self) {
        let cur = self.explored_size + self.free_list_size + self.num_backedges;
        self.peak_states = self.peak_states.max(cur);
    }

    /// `maybe_enter_scc` for the new checkpoint `c`.
    pub(super) fn maybe_enter_scc(&mut self, c: usize) {
        let Some(key) = self.scc_key(c) else {
            return;
        };
        let text = fmt_scc_key(&key);
        let v = self.visits.entry(key).or_default();
        if v.entry.is_none() {
            v.entry = Some(c);
            if self.log.level2() {
                self.log.push(&format!("SCC enter {text}\n"));
            }
        }
    }

    /// `maybe_exit_scc` for checkpoint `c`, all of whose paths ended.
    fn maybe_exit_scc(&mut self, c: usize) -> Result<(), Stop> {
        let Some(key) = self.scc_key(c) else {
            return Ok(());
        };
        let Some(visit) = self.visits.get_mut(&key).filter(|v| v.entry == Some(c)) else {
            return Ok(());
        };
        visit.entry = None;
        let n = visit.backedges.len() as u64;
        if self.log.level2() {
            self.log.push(&format!("SCC exit {}\n", fmt_scc_key(&key)));
        }
        self.num_backedges -= n;
        self.update_peak();
        self.propagate_backedges(&key)
    }

    /// `propagate_backedges`: precision from each backedge's covering
    /// checkpoint into the backedge's ancestors, until nothing changes.
    fn propagate_backedges(&mut self, key: &SccKey) -> Result<(), Stop> {
        let backedges = self
            .visits
            .get_mut(key)
            .map(|v| std::mem::take(&mut v.backedges))
            .unwrap_or_default();
        let mut iters = 0;
        loop {
            iters += 1;
            if iters > MAX_BACKEDGE_ITERS + 1 {
                if self.log.level2() {
                    self.log.push("propagate_backedges: too many iterations\n");
                }
                for b in &backedges {
                    self.mark_all_scalars_precise(b.start.meta.parent);
                }
                break;
            }
            let mut changed = false;
            for b in &backedges {
                changed |= self.propagate_precision(b.equal, &b.start, b.state.frames.len())?;
            }
            if !changed {
                break;
            }
        }
        Ok(())
    }

    /// Remembers the current path, pruned at `idx` by checkpoint `equal`
    /// of an unfinished loop (`add_scc_backedge`).
    pub(super) fn add_backedge(&mut self, equal: usize, idx: usize) {
        let Some(key) = self.scc_key(equal) else {
            return;
        };
        let start = ChainStart {
            meta: self.path,
            insn_idx: idx,
            hist: Some(self.path_hist().to_vec()),
        };
        if self.log.level2() {
            self.log
                .push(&format!("SCC backedge {}\n", fmt_scc_key(&key)));
        }
        let b = Backedge {
            state: self.cur.clone(),
            start,
            equal,
        };
        self.visits.entry(key).or_default().backedges.insert(0, b);
        self.num_backedges += 1;
        self.update_peak();
    }

    /// `update_branch_counts` when the current path ends: every
    /// checkpoint whose last path this was is finished, leaves its loop,
    /// and is freed if it had been evicted.
    pub(super) fn finish_path(&mut self, path: PathMeta) -> Result<(), Stop> {
        if !self.profile.features.scc_loops {
            self.finish_path_loop_entries(path);
            return Ok(());
        }
        let mut st = path.parent;
        while let Some(c) = st {
            let cp = &mut self.checkpoints[c];
            cp.branches = cp.branches.saturating_sub(1);
            if cp.branches > 0 {
                break;
            }
            self.maybe_exit_scc(c)?;
            self.maybe_free(c);
            st = self.checkpoints[c].meta.parent;
        }
        Ok(())
    }

    /// `maybe_free_verifier_state`.
    pub(super) fn maybe_free(&mut self, c: usize) {
        let cp = &self.checkpoints[c];
        if !cp.in_free_list || cp.branches != 0 || self.incomplete_marks(c) {
            return;
        }
        self.checkpoints[c].in_free_list = false;
        self.free_list_size -= 1;
    }

    /// `states_maybe_looping`: the current frame's registers are those of
    /// checkpoint `c`, precision aside.
    pub(super) fn maybe_looping(&self, c: usize) -> bool {
        let old = &self.checkpoints[c].state;
        old.frames.len() == self.cur.frames.len()
            && old
                .cur()
                .regs
                .iter()
                .zip(self.cur.cur().regs.iter())
                .all(|(o, c)| equiv::same_reg(o, c))
    }
}

/// `maybe_widen_reg`: an imprecise scalar that changed since the previous
/// iteration forgets its value, so that `may_goto` loops converge. 6.18
/// compares with `regs_exact`, ids included.
fn widen_reg(old: &RegState, cur: &mut RegState, ids: &mut equiv::IdMap) {
    if let (RegState::Scalar(o), RegState::Scalar(c)) = (old, &*cur)
        && !o.precise
        && !c.precise
        && !equiv::regs_exact(old, cur, ids).unwrap_or(false)
    {
        *cur = RegState::unknown();
    }
}

/// `widen_imprecise_scalars` of `cur` against the previous iteration's
/// `old`, registers and spilled scalars, with one id map for all.
pub(super) fn widen_imprecise_scalars(old: &VerifierState, cur: &mut VerifierState, id_gen: u32) {
    let mut ids = equiv::IdMap::new(id_gen);
    for (fo, fc) in old.frames.iter().zip(cur.frames.iter_mut()).rev() {
        for (ro, rc) in fo.regs.iter().zip(fc.regs.iter_mut()) {
            widen_reg(ro, rc, &mut ids);
        }
        for (so, sc) in fo.stack.iter().zip(fc.stack.iter_mut()) {
            if so.is_spill() && sc.is_spill() {
                widen_reg(&so.spilled, &mut sc.spilled, &mut ids);
            }
        }
    }
}

impl Checker<'_> {
    /// `find_prev_entry`: the newest checkpoint at `idx` still being
    /// explored and above `depth` in the current path's tree.
    pub(super) fn find_prev_entry(&self, depth: u32, idx: usize) -> Option<usize> {
        self.checkpoint_at[self.bucket(idx)]
            .iter()
            .rev()
            .copied()
            .find(|&c| {
                let cp = &self.checkpoints[c];
                cp.insn_idx == idx
                    && cp.branches > 0
                    && super::equiv::same_callsites(&cp.state, &self.cur)
                    && cp.dfs_depth < depth
            })
    }

    /// `may_goto`: the jump is taken first; the fall-through, one
    /// iteration deeper and widened against the previous iteration, is
    /// queued.
    pub(super) fn may_goto(&mut self, insn: &RawInsn) -> Result<Flow, Stop> {
        let idx = self.insn_idx;
        let prev = self
            .path
            .parent
            .and_then(|p| self.find_prev_entry(self.checkpoints[p].dfs_depth, idx));
        let mut queued = self.cur.clone();
        queued.may_goto_depth += 1;
        if let Some(p) = prev {
            widen_imprecise_scalars(&self.checkpoints[p].state, &mut queued, self.id_gen);
        }
        self.push_branch(queued, idx + 1, idx)?;
        let target = i64::try_from(idx).unwrap_or(0) + 1 + i64::from(insn.off);
        Ok(Flow::Goto(usize::try_from(target).unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::compute_scc;

    fn scc_of(text: &str) -> Vec<u32> {
        let f = bpfcheck_asm::Fixture::parse(text).unwrap();
        compute_scc(&f.load_request("t").insns)
    }

    /// Ids as the 6.18 kernel's `Live regs before insn:` table shows them:
    /// components are numbered as Tarjan's walk closes them, so the last
    /// loop of a chain gets the first id.
    #[test]
    fn sccs_are_numbered_in_closing_order() {
        let text = "r1 = 0\nl1:\nr1 += 1\nif r1 < 2 goto l1\nr2 = 0\nl2:\nr2 += 1\n\
                    if r2 < 2 goto l2\nl3:\ngoto l4\nl4:\nr0 = 0\nif r0 != 0 goto l3\nexit\n";
        assert_eq!(scc_of(text), [0, 3, 3, 0, 2, 2, 1, 1, 1, 0]);
    }

    #[test]
    fn a_self_loop_is_a_component_and_a_nest_is_one() {
        assert_eq!(scc_of("l:\nif r1 > 0 goto l\nr0 = 0\nexit\n"), [1, 0, 0]);
        let nest = "r1 = 0\nouter:\nr2 = 0\ninner:\nr2 += 1\nif r2 < 3 goto inner\n\
                    r1 += 1\nif r1 < 3 goto outer\nr0 = 0\nexit\n";
        assert_eq!(scc_of(nest), [0, 1, 1, 1, 1, 1, 0, 0]);
    }
}
