//! The walk's hooks for [`crate::observe`]: each is a no-op unless the
//! verification asked to observe something ([`Checker::observe`]).

use bpfcheck_isa::disasm;

use super::{Checker, print};
use crate::observe::{Observation, Observe, ObservedState, PathStep, StateKind, Written};
use crate::state::reg::fmt_reg;
use crate::state::stack::fmt_slot;
use crate::state::{FuncState, RegState, StackSlot, VerifierState};

/// A register or slot an instruction changed, rendered at the end.
#[derive(Clone, Copy, Debug)]
enum Change {
    Reg(u8, RegState),
    Slot(usize, StackSlot),
}

/// One instruction of the current path.
#[derive(Clone, Debug)]
struct Step {
    insn: usize,
    frameno: u8,
    changes: Vec<Change>,
}

/// What is being recorded.
#[derive(Debug)]
pub(crate) struct Recorder {
    want: Observe,
    obs: Observation,
    /// The instruction being executed and the state before it (paths).
    before: Option<(usize, VerifierState)>,
    /// The current path.
    path: Vec<Step>,
    /// Per queued branch (a stack, as the queue): the path's length when
    /// it was queued and the branching instruction as the branch saw it.
    queued: Vec<(usize, Option<Step>)>,
    /// Checkpoints already recorded (by index).
    checkpoint_seen: Vec<bool>,
    /// Every path was walked (a refusal from here on has no path).
    walk_done: bool,
}

/// The registers and slots of `after` that differ from `before` (the
/// current frame). Like the log, it leaves out what holds nothing (a
/// register a call clobbered, a slot no longer written).
fn diff(before: &FuncState, after: &FuncState) -> Vec<Change> {
    let mut out = Vec::new();
    for (i, (b, a)) in before.regs.iter().zip(&after.regs).enumerate() {
        if a != b && !matches!(a, RegState::NotInit) {
            out.push(Change::Reg(i as u8, *a));
        }
    }
    let empty = StackSlot::default();
    for (spi, a) in after.stack.iter().enumerate() {
        if before.stack.get(spi).unwrap_or(&empty) != a && a.is_valid() {
            out.push(Change::Slot(spi, *a));
        }
    }
    out
}

/// Every register and slot of `f` that holds something.
fn held(f: &FuncState) -> Vec<Change> {
    diff(
        &FuncState {
            regs: [RegState::NotInit; bpfcheck_uapi::RegNo::COUNT],
            stack: Vec::new(),
            live: f.live.clone(),
            ..*f
        },
        f,
    )
}

fn step_of(insn: usize, before: &VerifierState, after: &VerifierState) -> Step {
    Step {
        insn,
        frameno: after.cur().frameno,
        changes: diff(before.cur(), after.cur()),
    }
}

impl Checker<'_> {
    /// Starts recording what `want` asks for.
    pub(crate) fn observe(&mut self, want: Observe) {
        if !want.any() && !want.explore_all_paths {
            return;
        }
        let n = self.insns.len();
        self.obs = Some(Box::new(Recorder {
            want,
            obs: Observation {
                states: if want.states {
                    vec![Vec::new(); n]
                } else {
                    Vec::new()
                },
                path: Vec::new(),
                stop_state: Vec::new(),
                processed: if want.processed {
                    vec![0; n]
                } else {
                    Vec::new()
                },
            },
            before: None,
            path: Vec::new(),
            queued: Vec::new(),
            checkpoint_seen: Vec::new(),
            walk_done: false,
        }));
    }

    /// Whether checkpoints must never cover a path.
    pub(super) fn explores_all_paths(&self) -> bool {
        self.obs.as_ref().is_some_and(|r| r.want.explore_all_paths)
    }

    /// Instruction `idx` is processed (before any pruning).
    pub(super) fn obs_processed(&mut self, idx: usize) {
        if let Some(r) = self.obs.as_deref_mut()
            && let Some(c) = r.obs.processed.get_mut(idx)
        {
            *c += 1;
        }
    }

    /// Instruction `idx` is about to execute on the current state.
    pub(super) fn obs_before_step(&mut self, idx: usize) {
        let Some(r) = self.obs.as_deref_mut() else {
            return;
        };
        if r.want.states {
            let live = self.live_regs.get(idx).copied().unwrap_or(u16::MAX);
            if let Some(at) = r.obs.states.get_mut(idx) {
                at.push(ObservedState::of(&self.cur, StateKind::Visited, live));
            }
        }
        if r.want.path {
            r.before = Some((idx, self.cur.clone()));
        }
    }

    /// Every path was walked: what is refused from here on (the static
    /// stack checks) is the program's, not a path's.
    pub(super) fn obs_walk_done(&mut self) {
        if let Some(r) = self.obs.as_deref_mut() {
            r.before = None;
            r.path.clear();
            r.walk_done = true;
        }
    }

    /// The instruction began by [`Self::obs_before_step`] succeeded.
    pub(super) fn obs_after_step(&mut self) {
        let Some(r) = self.obs.as_deref_mut() else {
            return;
        };
        if let Some((idx, before)) = r.before.take() {
            r.path.push(step_of(idx, &before, &self.cur));
        }
    }

    /// `state` is queued to resume at `insn`, branching off at `prev`.
    pub(super) fn obs_branch_queued(&mut self, state: &VerifierState, insn: usize, prev: usize) {
        let Some(r) = self.obs.as_deref_mut() else {
            return;
        };
        if !r.want.path {
            return;
        }
        // A fork that re-executes its instruction shows it when it does.
        let step = match &r.before {
            Some((i, before)) if *i == prev && insn != prev => Some(step_of(prev, before, state)),
            _ => None,
        };
        r.queued.push((r.path.len(), step));
    }

    /// The newest queued branch became the current path.
    pub(super) fn obs_branch_resumed(&mut self) {
        let Some(r) = self.obs.as_deref_mut() else {
            return;
        };
        if let Some((len, step)) = r.queued.pop() {
            r.path.truncate(len);
            r.path.extend(step);
        }
        r.before = None;
    }

    /// The current path reached `idx` and checkpoint `c` covers it.
    pub(super) fn obs_pruned(&mut self, idx: usize, c: usize) {
        let Some(r) = self.obs.as_deref_mut() else {
            return;
        };
        if !r.want.states {
            return;
        }
        let live = self.live_regs.get(idx).copied().unwrap_or(u16::MAX);
        let Some(at) = r.obs.states.get_mut(idx) else {
            return;
        };
        at.push(ObservedState::of(&self.cur, StateKind::Pruned, live));
        if r.checkpoint_seen.len() <= c {
            r.checkpoint_seen.resize(c + 1, false);
        }
        if !r.checkpoint_seen[c]
            && let Some(cp) = self.checkpoints.get(c)
        {
            r.checkpoint_seen[c] = true;
            at.push(ObservedState::of(&cp.state, StateKind::Checkpoint, live));
        }
    }

    /// What was observed; `stopped` when the walk ended in a rejection or
    /// at something it does not model (the current path is then the one
    /// that reached that instruction).
    pub(crate) fn take_observation(&mut self, stopped: bool) -> Option<Box<Observation>> {
        let mut r = self.obs.take()?;
        if !r.want.any() {
            return None;
        }
        if r.want.path && stopped {
            // The instruction it stopped at did not finish: no changes.
            // A refusal at a prune point (an infinite loop) comes before
            // the instruction began.
            // What the stopping instruction found: the state before it, or
            // at a prune point the state that arrived there.
            let found = r.before.as_ref().map_or(&self.cur, |(_, st)| st).cur();
            let stop_frame = found.frameno;
            let stop_state = held(found);
            let refused = r.before.take().map(|(idx, _)| idx).or_else(|| {
                let at_prune_point =
                    !r.walk_done && r.path.last().is_some_and(|s| s.insn != self.insn_idx);
                at_prune_point.then_some(self.insn_idx)
            });
            if let Some(idx) = refused {
                r.path.push(Step {
                    insn: idx,
                    frameno: self.cur.cur().frameno,
                    changes: Vec::new(),
                });
            }
            let era = self.profile.log_era;
            r.obs.path = r
                .path
                .iter()
                .map(|s| {
                    let text = disasm(self.insns, s.insn, era, &print::KernelAddrs(&self.kfuncs));
                    // `(xx) text`: the opcode is not part of the text.
                    let text = match text.split_once(") ") {
                        Some((code, rest)) if code.starts_with('(') && code.len() == 3 => {
                            rest.to_owned()
                        }
                        _ => text,
                    };
                    PathStep {
                        insn: u32::try_from(s.insn).unwrap_or(u32::MAX),
                        text,
                        writes: s
                            .changes
                            .iter()
                            .map(|c| render(c, s.frameno, self.maps))
                            .collect(),
                    }
                })
                .collect();
            r.obs.stop_state = stop_state
                .iter()
                .map(|c| render(c, stop_frame, self.maps))
                .collect();
        }
        Some(Box::new(r.obs))
    }
}

fn render(c: &Change, frameno: u8, maps: &[bpfcheck_uapi::MapSpec]) -> Written {
    match c {
        Change::Reg(i, reg) => {
            let mut value = String::new();
            fmt_reg(&mut value, reg, frameno, maps);
            Written {
                name: format!("R{i}"),
                value,
            }
        }
        Change::Slot(spi, slot) => {
            let mut text = String::new();
            fmt_slot(&mut text, *spi, slot, 0, frameno, maps);
            // ` fp-8=…` (the slot holds something: see `diff`).
            let (name, value) = text.trim_start().split_once('=').unwrap_or_default();
            Written {
                name: name.to_owned(),
                value: value.to_owned(),
            }
        }
    }
}
