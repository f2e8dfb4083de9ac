//! 6.1's `__mark_chain_precision` (`walk_v6_1.precision_chain`): one
//! register or one spilled slot per walk, in one frame, with 6.1's log
//! lines.
//!
//! It steps backwards over the same instruction history as the later
//! kernels' walk in `precision.rs` (and with the same per-instruction
//! rules, `backtrack_insn`), but differs in how it goes up the parents:
//! - a register or slot already precise in a parent stays wanted; the
//!   walk stops at the first parent that gained no mark at all (`parent
//!   already had regs=… stack=… marks:`);
//! - a wanted slot past a parent's allocated stack makes every scalar of
//!   the parent's ancestors precise (not the parent's own), silently;
//! - `propagate_precision` starts one walk per precise register or slot
//!   that the covering checkpoint read (`frame %d: propagating r%d`).
//!
//! The log lines are `last_idx N first_idx M`, `regs=%x stack=%llx before
//! N: <insn>` and `parent didn't have regs=%x stack=%llx marks:` with the
//! parent frame printed in full.

use super::precision::{Backtrack, ChainStart, backtrack_insn, crosses_frames};
use super::{Checker, print};
use crate::error::Stop;
use crate::state::live::READ;

/// What one 6.1 walk explains.
#[derive(Clone, Copy)]
pub(super) enum Wanted {
    Reg(u8),
    Slot(usize),
}

impl Checker<'_> {
    /// `__mark_chain_precision(frame, regno | spi)` of 6.1 from `start`;
    /// `true` when a checkpoint gained a mark.
    pub(super) fn chain_v6_1(
        &mut self,
        frame: usize,
        wanted: Wanted,
        start: &ChainStart,
    ) -> Result<bool, Stop> {
        let mut bt = Backtrack::in_frame(frame);
        // Only a scalar is tracked; anything else ends the walk unlogged.
        let func = &self.cur.frames[frame];
        match wanted {
            Wanted::Reg(r) => {
                if func.reg(r).scalar().is_none() {
                    return Ok(false);
                }
                bt.set_reg(r);
            }
            Wanted::Slot(spi) => {
                let spilled_scalar = func
                    .stack
                    .get(spi)
                    .is_some_and(|s| s.is_spill() && s.spilled.scalar().is_some());
                if !spilled_scalar {
                    return Ok(false);
                }
                bt.set_slot(frame, spi);
            }
        }
        let mut st: Option<usize> = None;
        let mut changed = false;
        let mut first_idx = start.meta.first_idx;
        let mut last_idx = i64::try_from(start.insn_idx).unwrap_or(-1);
        let mut skip_first = true;
        loop {
            let meta = match st {
                None => start.meta,
                Some(c) => self.checkpoints[c].meta,
            };
            if self.log.level2() {
                self.log
                    .push(&format!("last_idx {last_idx} first_idx {first_idx}\n"));
            }
            let Ok(mut i) = usize::try_from(last_idx) else {
                // The entry of a global function verified on its own: its
                // arguments are what a caller can have wanted.
                let global_entry = st.is_some_and(|c| {
                    let f = &self.checkpoints[c].state.frames;
                    f.len() == 1 && f[0].subprog > 0 && f[0].callsite.is_none()
                });
                if global_entry && frame == 0 && bt.slots[0] == 0 && bt.regs[0] & !0x3e == 0 {
                    return Ok(changed);
                }
                return Err(self.unsupported("precision at a function entry"));
            };
            let mut hist_end = self.seg(st, start).len();
            loop {
                if skip_first {
                    skip_first = false;
                } else {
                    let seg = self.seg(st, start);
                    let hist = (hist_end > 0 && seg[hist_end - 1].idx == i)
                        .then(|| seg[hist_end - 1].clone());
                    if self.insns[i].code != 0 {
                        if self.log.level2() {
                            let text = format!(
                                "regs={:x} stack={:x} before {i}: {}\n",
                                bt.regs[frame],
                                bt.slots[frame],
                                self.backtrack_text(i)
                            );
                            self.log.push(&text);
                        }
                        if crosses_frames(&self.insns[i])
                            && self.profile.features.walk_v6_1.precision_across_calls
                        {
                            return Err(self.unsupported(
                                "precision backtracking across calls of kernel 6.1 (walk_v6_1.precision_across_calls)",
                            ));
                        }
                        let step =
                            backtrack_insn(self.insns, &[], i, -1, hist.as_ref(), &mut bt, true);
                        if !self.stepped(step, start.meta.parent)? {
                            return Ok(changed);
                        }
                    }
                }
                if bt.empty() {
                    return Ok(changed);
                }
                match self.prev_insn_idx(st, start, i, first_idx, &mut hist_end)? {
                    Some(p) => i = p,
                    None => break,
                }
            }
            let Some(parent) = meta.parent else { break };
            let Some(new_marks) = self.mark_in_parent_v6_1(parent, frame, &mut bt) else {
                // A wanted slot past the parent's stack.
                let above = self.checkpoints[parent].meta.parent;
                self.mark_all_scalars_precise(above);
                return Ok(changed);
            };
            changed |= new_marks;
            if bt.empty() || !new_marks {
                break;
            }
            last_idx = self.checkpoints[parent].last_idx;
            first_idx = self.checkpoints[parent].meta.first_idx;
            st = Some(parent);
        }
        Ok(changed)
    }

    /// Marks the wanted registers and slots of `frame` precise in
    /// checkpoint `parent`, dropping what is not a scalar there; whether
    /// any was not precise yet, or `None` for a slot past its stack.
    fn mark_in_parent_v6_1(
        &mut self,
        parent: usize,
        frame: usize,
        bt: &mut Backtrack,
    ) -> Option<bool> {
        let style = self.print_style();
        let level2 = self.log.level2();
        let state = &mut self.checkpoints[parent].state;
        let func = state.frames.get_mut(frame)?;
        let mut new_marks = false;
        for r in 0..32u8 {
            if bt.regs[frame] & (1 << r) == 0 {
                continue;
            }
            match func
                .regs
                .get_mut(usize::from(r))
                .and_then(|x| x.scalar_mut())
            {
                Some(s) => {
                    new_marks |= !s.precise;
                    s.precise = true;
                }
                None => bt.regs[frame] &= !(1 << r),
            }
        }
        for spi in 0..64usize {
            if bt.slots[frame] & (1 << spi) == 0 {
                continue;
            }
            let slot = func.stack.get_mut(spi)?;
            match slot.is_spill().then(|| slot.spilled.scalar_mut()).flatten() {
                Some(s) => {
                    new_marks |= !s.precise;
                    s.precise = true;
                }
                None => bt.slots[frame] &= !(1 << spi),
            }
        }
        if level2 {
            let mut text = format!(
                "parent {} regs={:x} stack={:x} marks:",
                if new_marks {
                    "didn't have"
                } else {
                    "already had"
                },
                bt.regs[frame],
                bt.slots[frame]
            );
            text.push_str(&print::frame(func, None, style, &state.refs));
            self.log.push(&text);
        }
        Some(new_marks)
    }

    /// 6.1's `propagate_precision`: one walk for each precise scalar the
    /// covering checkpoint `old` read, innermost frame first.
    pub(super) fn propagate_precision_v6_1(
        &mut self,
        old: usize,
        start: &ChainStart,
    ) -> Result<bool, Stop> {
        let mut wanted = Vec::new();
        for (fr, func) in self.checkpoints[old].state.frames.iter().enumerate().rev() {
            for (r, reg) in func.regs.iter().enumerate().take(10) {
                if reg.scalar().is_some_and(|s| s.precise) && func.live.regs[r].flags & READ != 0 {
                    wanted.push((fr, Wanted::Reg(r as u8)));
                }
            }
            for (spi, slot) in func.stack.iter().enumerate() {
                if slot.is_spill()
                    && slot.spilled.scalar().is_some_and(|s| s.precise)
                    && func.live.slot(spi).flags & READ != 0
                {
                    wanted.push((fr, Wanted::Slot(spi)));
                }
            }
        }
        let mut changed = false;
        for (fr, w) in wanted {
            if self.log.level2() {
                let what = match w {
                    Wanted::Reg(r) => format!("r{r}"),
                    Wanted::Slot(spi) => {
                        format!("fp{}", -(i64::try_from(spi).unwrap_or(0) + 1) * 8)
                    }
                };
                self.log.push(&format!("frame {fr}: propagating {what}\n"));
            }
            changed |= self.chain_v6_1(fr, w, start)?;
        }
        Ok(changed)
    }
}
