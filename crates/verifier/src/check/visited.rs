//! `is_state_visited`: at a prune point, the current state is compared
//! with the checkpoints taken there. A finished checkpoint that covers it
//! ends the path; one still being explored (a loop) only serves to detect
//! an infinite loop; otherwise a new checkpoint may be taken, following
//! the kernel's heuristics.

use bpfcheck_uapi::Errno;

use super::equiv::{self, Strictness};
use super::loop_entry::St;
use super::precision::{Checkpoint, PathMeta};
use super::{Checker, HISTORY_FORCE, print};
use crate::error::{ErrorCode, Stop};

/// `is_may_goto_insn`.
fn is_may_goto(insn: &bpfcheck_uapi::RawInsn) -> bool {
    insn.code == bpfcheck_uapi::op::JMP | bpfcheck_uapi::op::JCOND
        && insn.src == bpfcheck_uapi::op::MAY_GOTO
}

/// Inside a loop a new checkpoint waits for this many jumps or
/// instructions since the last one.
const LOOP_JMPS_GAP: u64 = 20;
const LOOP_INSNS_GAP: u64 = 100;

impl Checker<'_> {
    /// `true` when a checkpoint covers the current state, which then
    /// ends.
    pub(super) fn is_state_visited(&mut self) -> Result<bool, Stop> {
        let idx = self.insn_idx;
        // Checkpoints live in the kernel's hash buckets (instruction and
        // innermost call site), which decide what `max_states_per_insn`
        // counts.
        let bucket = self.bucket(idx);
        // Read marks clean whole checkpoints: every register compares.
        let live_regs = if self.read_marks {
            vec![u16::MAX; self.cur.frames.len()]
        } else {
            self.frame_live_regs(&self.cur, idx)
        };
        let force_new = self.test_state_freq
            || self.force_checkpoint[idx]
            || self.hist_len - self.path.hist_start > HISTORY_FORCE;
        let jmps = self.jmps_processed - self.prev_jmps_processed;
        let insns = self.insn_processed - self.prev_insn_processed;
        let mut add = force_new || jmps >= 2 && insns >= 8;
        self.clean_live_states(idx, bucket);
        let mut states_cnt = 0u64;
        // Newest first, as the kernel's list.
        let mut k = self.checkpoint_at[bucket].len();
        while k > 0 {
            k -= 1;
            let c = self.checkpoint_at[bucket][k];
            states_cnt += 1;
            if self.checkpoints[c].insn_idx != idx {
                continue;
            }
            let exploring = self.checkpoints[c].branches > 0;
            let old_depth = self.checkpoints[c].state.may_goto_depth;
            let same_depth = old_depth == self.cur.may_goto_depth;
            let looping = self.loop_strictness();
            // Another `may_goto` iteration in a state the checkpoint
            // covers: the loop converged.
            let may_goto_hit = exploring
                && is_may_goto(&self.insns[idx])
                && !same_depth
                && self.compare(c, &live_regs, looping)?;
            if may_goto_hit && !self.profile.features.scc_loops {
                self.update_loop_entry(St::Cur, c);
            }
            // At a callback-calling helper, an iteration the earlier one
            // covers ends the path; one it does not is not a loop either.
            let calls_callback = exploring && self.calls_callback[idx];
            let callback_hit =
                !may_goto_hit && calls_callback && self.compare(c, &live_regs, looping)?;
            // Another entry into an async callback is no loop.
            let other_async_entry = {
                let old = self.checkpoints[c].state.cur();
                old.in_async_callback_fn && old.async_entry_cnt != self.cur.cur().async_entry_cnt
            };
            // At an iterator's next call, an active iterator in a state
            // the earlier iteration covers: the loop converged.
            let iter_next = exploring && !other_async_entry && self.is_iter_next(idx);
            let iter_hit = iter_next
                && !may_goto_hit
                && self.compare(c, &live_regs, looping)?
                && super::iter::arg_iter_active(&self.cur);
            if iter_hit && !self.profile.features.scc_loops {
                self.update_loop_entry(St::Cur, c);
            }
            let loop_hit = may_goto_hit || callback_hit || iter_hit;
            if exploring && !loop_hit {
                if !calls_callback
                    && !iter_next
                    && !other_async_entry
                    && self.maybe_looping(c)
                    && self.compare(c, &live_regs, Strictness::Exact)?
                    && !super::iter::active_depths_differ(&self.checkpoints[c].state, &self.cur)
                    && same_depth
                    && self.checkpoints[c].state.callback_unroll_depth
                        == self.cur.callback_unroll_depth
                {
                    return Err(self.infinite_loop(c));
                }
                if !force_new && jmps < LOOP_JMPS_GAP && insns < LOOP_INSNS_GAP {
                    add = false;
                }
            } else {
                // A finished checkpoint in a loop still being explored:
                // 6.18 knows it by its SCC visit, 6.12 by its loop entry.
                let (in_loop, entry) = if loop_hit {
                    (true, None)
                } else if self.profile.features.scc_loops {
                    (self.incomplete_marks(c), None)
                } else {
                    let e = self.exploring_loop_entry(c);
                    (e.is_some(), e)
                };
                let exact = if in_loop { looping } else { Strictness::Loose };
                if (loop_hit || self.compare(c, &live_regs, exact)?) && !self.explores_all_paths() {
                    if let Some(e) = entry {
                        self.update_loop_entry(St::Cur, e);
                    }
                    self.obs_pruned(idx, c);
                    self.checkpoints[c].hit_cnt += 1;
                    if self.jmp_point[idx] {
                        self.push_hist(None, Vec::new());
                    }
                    self.live_propagate(c);
                    let start = self.chain_start();
                    self.propagate_precision(c, &start, self.cur.frames.len())?;
                    if in_loop && self.profile.features.scc_loops {
                        self.add_backedge(c, idx);
                    }
                    return Ok(true);
                }
            }
            let cp = &mut self.checkpoints[c];
            if add {
                cp.miss_cnt += 1;
            }
            let n = if self.force_checkpoint[idx] && cp.branches > 0 {
                64
            } else {
                3
            };
            if cp.miss_cnt > cp.hit_cnt * n + n {
                // Unlikely to be useful: off the list, freed once no path
                // from it is walked any more (6.18), or now if it can be
                // (6.12).
                self.checkpoint_at[bucket].remove(k);
                self.explored_size -= 1;
                if self.profile.features.scc_loops {
                    self.checkpoints[c].in_free_list = true;
                    self.free_list_size += 1;
                    self.maybe_free(c);
                } else {
                    self.evict_612(c);
                }
            }
        }
        self.max_states_per_insn = self.max_states_per_insn.max(states_cnt);
        if !add {
            return Ok(false);
        }
        self.total_states += 1;
        self.explored_size += 1;
        if self.profile.features.scc_loops {
            self.update_peak();
        } else {
            // 6.12 counts states taken, less those freed.
            self.peak_states += 1;
        }
        self.prev_jmps_processed = self.jmps_processed;
        self.prev_insn_processed = self.insn_processed;
        self.forget_precision();
        let id = self.checkpoints.len();
        self.checkpoints.push(Checkpoint {
            state: self.cur.clone(),
            cleaned: false,
            hit_cnt: 0,
            miss_cnt: 0,
            meta: self.path,
            last_idx: self.hist_prev,
            hist: self.path_hist().to_vec(),
            insn_idx: idx,
            branches: 1,
            in_free_list: false,
            dfs_depth: self
                .path
                .parent
                .map_or(0, |p| self.checkpoints[p].dfs_depth + 1),
            used_as_loop_entry: false,
        });
        self.checkpoint_at[bucket].push(id);
        if self.profile.features.scc_loops {
            self.maybe_enter_scc(id);
        }
        self.path = PathMeta {
            parent: Some(id),
            first_idx: idx,
            hist_start: self.hist_len,
            loop_entry: self.path.loop_entry,
        };
        self.live_linked_to_checkpoint(id);
        Ok(false)
    }

    /// `clean_live_states`: finished checkpoints of this instruction and
    /// call chain whose loop (if any) is settled forget their dead
    /// registers and slots, once.
    fn clean_live_states(&mut self, idx: usize, bucket: usize) {
        for k in 0..self.checkpoint_at[bucket].len() {
            let c = self.checkpoint_at[bucket][k];
            if self.checkpoints[c].branches != 0 || self.unsettled_loop(c) {
                continue;
            }
            let cp = &self.checkpoints[c];
            if cp.insn_idx != idx || !equiv::same_callsites(&cp.state, &self.cur) || cp.cleaned {
                continue;
            }
            if self.read_marks {
                self.live_clean(c);
            } else {
                self.clean_checkpoint(c);
            }
        }
    }

    /// Whether finished checkpoint `c` is in a loop still being explored,
    /// its marks incomplete (6.18: its SCC visit has backedges; 6.12: its
    /// outermost loop entry is being explored).
    fn unsettled_loop(&mut self, c: usize) -> bool {
        if self.profile.features.scc_loops {
            self.incomplete_marks(c)
        } else {
            self.exploring_loop_entry(c).is_some()
        }
    }

    /// `states_equal` of checkpoint `c` and the current state.
    fn compare(&self, c: usize, live_regs: &[u16], exact: Strictness) -> Result<bool, Stop> {
        let mut ids = equiv::IdMap::new(self.id_gen);
        if self.profile.features.walk_v6_1.linked_scalars {
            ids = ids.without_scalar_ids();
        }
        if self.profile.features.walk_v6_1.refs_exact {
            ids = ids.with_exact_refs();
        }
        if self.profile.features.walk_v6_1.one_way_ids {
            ids = ids.with_one_way_ids();
        }
        equiv::states_equal(
            &self.checkpoints[c].state,
            &self.cur,
            live_regs,
            &mut ids,
            exact,
        )
        .map_err(|_| self.unsupported("state comparison of these register kinds"))
    }

    /// `infinite loop detected at insn %d`, with both states in the log.
    fn infinite_loop(&mut self, c: usize) -> Stop {
        let idx = self.insn_idx;
        let message = format!("infinite loop detected at insn {idx}");
        if self.log.enabled() {
            self.log.source_line(idx, "; ");
            let cur = print::state(&self.cur, None, self.print_style());
            let old = print::state(&self.checkpoints[c].state, None, self.print_style());
            self.log
                .push(&format!("{message}\ncur state:{cur}old state:{old}"));
        }
        self.error_logged = true;
        self.reject(ErrorCode::InfiniteLoop, Errno::EINVAL, message)
    }
}
