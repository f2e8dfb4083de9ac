//! Static bpf-to-bpf calls (`check_func_call`, `prepare_func_exit`) and
//! the stack-size checks that depend on them (`grow_stack_state`'s
//! per-subprogram depth, `check_max_stack_depth`).
//!
//! A call pushes a frame whose `R1`–`R5` are the caller's and whose `R10`
//! points to its own, empty stack; the caller loses `R0`–`R5`. An exit
//! from a callee copies `R0` back and pops the frame. Both print the
//! frames involved at log level 1 and above, as the kernel does.

use bpfcheck_uapi::{Errno, LoadRequest, RawInsn, op};

use super::btf_func::ArgsMatch;
use super::{Checker, Flow, print};
use crate::error::{ErrorCode, Stop, VerifierError};
use crate::state::{FuncState, MAX_STACK, RegState, SLOT_SIZE};

/// `BPF_FUNC_tail_call`.
pub(super) const TAIL_CALL: i32 = 12;

/// The program's subprograms: their first instructions and the stack
/// depth each has been seen to use (`subprog_info[].start/.stack_depth`).
pub(super) struct Subprogs {
    pub(super) starts: Vec<usize>,
    depth: Vec<u32>,
    /// `subprog_info[].insns_total`.
    insns: Vec<u64>,
    /// `env->max_stack_depth`, raised as `check_max_stack_depth` goes.
    max_depth: std::cell::Cell<u32>,
}

/// The target of a bpf-to-bpf call or function reference at `i`.
pub(super) fn call_target(insns: &[RawInsn], i: usize) -> Option<usize> {
    let insn = insns[i];
    let pseudo_call = insn.code == op::JMP | op::CALL && insn.src == op::PSEUDO_CALL;
    let func_ref = insn.code == op::LD | op::IMM | op::DW && insn.src == op::PSEUDO_FUNC;
    if !(pseudo_call || func_ref) {
        return None;
    }
    usize::try_from(i64::try_from(i).ok()? + i64::from(insn.imm) + 1).ok()
}

/// The first instruction of every subprogram, in order: the entry, every
/// call or function-reference target and the exception callback (which
/// the passes before accepted only where the kernel has exceptions).
pub(crate) fn subprog_starts(req: &LoadRequest) -> Vec<usize> {
    let insns = &req.insns[..];
    let mut starts: Vec<usize> = (0..insns.len())
        .filter_map(|i| call_target(insns, i))
        .chain(exception_cb(req))
        .filter(|t| *t < insns.len())
        .collect();
    starts.push(0);
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// The first instruction of the exception callback the program names.
pub(crate) fn exception_cb(req: &LoadRequest) -> Option<usize> {
    crate::prepare::exception_cb::find(req).ok().flatten()
}

impl Subprogs {
    /// The subprograms of a program `prepare` accepted.
    pub(super) fn new(req: &LoadRequest) -> Self {
        let starts = subprog_starts(req);
        let depth = vec![0; starts.len()];
        let insns = vec![0; starts.len()];
        Self {
            starts,
            depth,
            insns,
            max_depth: std::cell::Cell::new(0),
        }
    }

    /// `account_processed_insn` with the path accounting folded in: one
    /// instruction processed by a state whose frames run `frames`.
    pub(super) fn count_processed(&mut self, frames: impl Iterator<Item = usize>) {
        for k in frames {
            if let Some(n) = self.insns.get_mut(k) {
                *n += 1;
            }
        }
    }

    /// The `insns processed` figures: the main program's, then each
    /// global function's, in subprogram order.
    pub(super) fn insns_by_function(&self, is_global: impl Fn(usize) -> bool) -> Vec<u64> {
        (0..self.insns.len())
            .filter(|&k| k == 0 || is_global(k))
            .map(|k| self.insns[k])
            .collect()
    }

    /// `env->max_stack_depth`.
    pub(super) fn max_depth(&self) -> u32 {
        self.max_depth.get()
    }

    pub(super) fn index_of(&self, start: usize) -> Option<usize> {
        self.starts.binary_search(&start).ok()
    }

    /// The stack depth of every subprogram, for the statistics.
    pub(super) fn depths(&self) -> Vec<u32> {
        self.depth.clone()
    }

    /// Subprogram `k`'s depth, as `remove_fastcall_spills_fills` sets it.
    pub(super) fn set_depth(&mut self, k: usize, depth: u32) {
        if let Some(d) = self.depth.get_mut(k) {
            *d = depth;
        }
    }

    /// `round_up_stack_depth` of a JIT-compiled program.
    fn rounded(&self, k: usize) -> u32 {
        self.depth[k].div_ceil(16) * 16
    }
}

impl Checker<'_> {
    /// `MAX_CALL_FRAMES`.
    pub(super) fn max_call_frames(&self) -> usize {
        usize::try_from(self.profile.limits.max_call_frames).unwrap_or(usize::MAX)
    }

    /// Whether `bpf_enable_priv_stack` may give a subprogram of this
    /// program a private stack, which `env->max_stack_depth` would then
    /// count alone: a program type that may have one, no tail call, and a
    /// subprogram using at least `BPF_PRIV_STACK_MIN_SIZE` (64) bytes.
    pub(crate) fn may_use_private_stack(&self) -> bool {
        use bpfcheck_uapi::ProgType;
        let typed = [
            ProgType::KPROBE,
            ProgType::TRACEPOINT,
            ProgType::PERF_EVENT,
            ProgType::RAW_TRACEPOINT,
            ProgType::TRACING,
            ProgType::LSM,
            ProgType::STRUCT_OPS,
        ]
        .contains(&self.prog_type);
        let tail_call = self
            .insns
            .iter()
            .any(|i| i.code == op::JMP | op::CALL && i.src == 0 && i.imm == TAIL_CALL);
        typed
            && !tail_call
            && (0..self.subprogs.depth.len()).any(|k| self.subprogs.rounded(k) >= 64)
    }

    /// `check_func_call`: the arguments against the callee's BTF, if any;
    /// a global callee is assumed valid, a static one gets a new frame.
    pub(super) fn pseudo_call(&mut self) -> Result<Flow, Stop> {
        let idx = self.insn_idx;
        let target =
            call_target(self.insns, idx).and_then(|t| self.subprogs.index_of(t).map(|k| (t, k)));
        let Some((target, subprog)) = target else {
            return Err(self.unsupported("calls to an unknown subprogram"));
        };
        // `btf_check_subprog_call`, with `func_info` only.
        let matched = match self.btf_check_call(subprog)? {
            ArgsMatch::Match => true,
            ArgsMatch::Mismatch(line) => {
                if let Some(line) = line {
                    self.log.line(&line);
                }
                false
            }
        };
        if self
            .btf_funcs
            .as_ref()
            .is_some_and(|b| b.is_global(subprog))
        {
            self.global_call(subprog, matched)?;
            return Ok(Flow::Next);
        }
        let depth = self.cur.frames.len();
        if depth >= self.max_call_frames() {
            return Err(self.reject(
                ErrorCode::TooComplex,
                Errno::E2BIG,
                format!("the call stack of {} frames is too deep", depth + 1),
            ));
        }
        let frameno = u8::try_from(depth).unwrap_or(u8::MAX);
        let mut callee = FuncState::callee(frameno, idx, subprog);
        let caller = self.cur.cur_mut();
        callee.regs[1..=5].copy_from_slice(&caller.regs[1..=5]);
        for r in &mut caller.regs[..=5] {
            *r = RegState::NotInit;
        }
        self.cur.frames.push(callee);
        self.live_call();
        self.stack_live.reset_chain();
        self.scratch_all();
        if self.log.level1() {
            let n = self.cur.frames.len();
            let text = format!(
                "caller:\n{}callee:\n{}",
                print::frame(
                    &self.cur.frames[n - 2],
                    None,
                    self.print_style(),
                    &self.cur.refs
                ),
                print::frame(
                    &self.cur.frames[n - 1],
                    None,
                    self.print_style(),
                    &self.cur.refs
                )
            );
            self.log.push(&text);
        }
        Ok(Flow::Goto(target))
    }

    /// The exit of a callee (`process_bpf_exit_full` with frames left):
    /// the stack liveness of the chain is brought up to date, then
    /// `prepare_func_exit`.
    /// Whether a tail call or `BPF_LD_[ABS|IND]` just checked may leave
    /// the current subprogram's frame (`tail_call_exits_subprog`).
    pub(super) fn abnormal_exit_leaves_frame(&self) -> bool {
        self.cur.frames.len() > 1 && self.profile.features.tail_call_exits_subprog
    }

    /// A tail call that succeeded, or a packet load that failed, leaves
    /// the subprogram with the `R0` it set; the walk past it is queued
    /// first.
    pub(super) fn abnormal_exit(&mut self) -> Result<Flow, Stop> {
        if self.cur.cur().in_callback_fn {
            return Err(self.unsupported("tail calls and LD_ABS/IND in callbacks"));
        }
        let mut past = self.cur.clone();
        if self.insns[self.insn_idx].code == op::JMP | op::CALL {
            // Only the exit sees the tail-called program's `R0`.
            *past.cur_mut().reg_mut(0) = RegState::NotInit;
        } else {
            // A packet load that fails returns 0.
            *self.cur.cur_mut().reg_mut(0) = RegState::constant(0);
        }
        self.push_branch(past, self.insn_idx + 1, self.insn_idx)?;
        // The caller's state is not printed again after this return.
        Ok(match self.subprog_exit()? {
            Flow::Return(t) => Flow::Goto(t),
            other => other,
        })
    }

    pub(super) fn subprog_exit(&mut self) -> Result<Flow, Stop> {
        self.update_stack_liveness();
        let callee = self.cur.cur();
        let r0 = *callee.reg(0);
        if matches!(r0, RegState::PtrToStack { .. }) {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EINVAL,
                "cannot return stack pointer to the caller".to_owned(),
            ));
        }
        if callee.in_callback_fn {
            return self.callback_exit();
        }
        let ret = callee.callsite.map_or(0, |c| c + 1);
        self.live_return();
        let Some(callee) = self.cur.frames.pop() else {
            return Err(self.unsupported("an exit without a frame"));
        };
        *self.cur.cur_mut().reg_mut(0) = r0;
        if self.log.level1() {
            let text = format!(
                "returning from callee:\n{}to caller at {ret}:\n{}",
                print::frame(&callee, None, self.print_style(), &self.cur.refs),
                print::frame(self.cur.cur(), None, self.print_style(), &self.cur.refs)
            );
            self.log.push(&text);
        }
        Ok(Flow::Return(ret))
    }

    /// `grow_stack_state` of frame `frameno` to `bytes`, recording the
    /// subprogram's stack depth.
    pub(super) fn grow_stack(&mut self, frameno: u8, bytes: usize) {
        let Some(frame) = self.cur.frames.get_mut(usize::from(frameno)) else {
            return;
        };
        let size = bytes.div_ceil(SLOT_SIZE) * SLOT_SIZE;
        if size <= frame.stack.len() * SLOT_SIZE {
            return;
        }
        frame.grow_stack(size);
        let k = frame.subprog;
        if let Some(d) = self.subprogs.depth.get_mut(k) {
            *d = (*d).max(u32::try_from(size).unwrap_or(u32::MAX));
        }
    }

    /// `check_max_stack_depth` after the walk: the stacks of every static
    /// call chain together stay within `MAX_BPF_STACK`.
    pub(super) fn check_max_stack_depth(&mut self) -> Result<(), Stop> {
        self.obs_walk_done();
        self.remove_fastcall_spills();
        // Async callbacks and the exception callback run on a stack of
        // their own: each is a root, checked before the main program, last
        // subprogram first.
        let roots: std::collections::BTreeSet<usize> = self
            .async_cbs
            .iter()
            .copied()
            .chain(self.exception_cb)
            .collect();
        for &k in roots.iter().rev() {
            self.stack_depth_from(k, 0, 0, false)?;
        }
        self.stack_depth_from(0, 0, 0, false)
    }

    /// Whether subprogram `k` calls `bpf_tail_call` (`has_tail_call`).
    fn has_tail_call(&self, k: usize) -> bool {
        let start = self.subprogs.starts[k];
        let end = self
            .subprogs
            .starts
            .get(k + 1)
            .copied()
            .unwrap_or(self.insns.len());
        self.insns[start..end]
            .iter()
            .any(|i| i.code == op::JMP | op::CALL && i.src == 0 && i.imm == TAIL_CALL)
    }

    /// Whether subprogram `k` runs on a stack of its own (`is_async_cb`).
    fn is_async_root(&self, k: usize) -> bool {
        self.async_cbs.contains(&k) || self.exception_cb == Some(k)
    }

    /// Whether subprogram `k` is a callback (`is_cb`).
    fn is_cb(&self, k: usize) -> bool {
        self.cb_subprogs.contains(&k) || self.exception_cb == Some(k)
    }

    /// The walk from subprogram `k` at call depth `frame`: `under_cb` when
    /// a caller on the chain is a callback.
    fn stack_depth_from(
        &self,
        k: usize,
        frame: usize,
        depth: u32,
        under_cb: bool,
    ) -> Result<(), Stop> {
        // A tail call unwinds only its own frame: the callers' stacks stay,
        // up to 33 times over, so they may use less than 256 bytes.
        if k != 0 && self.has_tail_call(k) {
            if self.exception_cb.is_some() {
                return Err(self.unsupported("tail calls in programs with an exception callback"));
            }
            if depth >= 256 {
                return Err(self.reject(
                    ErrorCode::InvalidMemAccess,
                    Errno::EACCES,
                    format!(
                        "tail_calls are not allowed when call stack of previous frames is {depth} bytes. Too large"
                    ),
                ));
            }
        }
        let own = if self.profile.features.walk_v6_1.stack_round_32 {
            // 6.1 rounds to the interpreter's 32 bytes, JIT or not.
            self.subprogs.depth[k].max(1).div_ceil(32) * 32
        } else {
            self.subprogs.rounded(k)
        };
        let depth = depth + own;
        self.subprogs
            .max_depth
            .set(self.subprogs.max_depth.get().max(depth));
        if depth > MAX_STACK.unsigned_abs() {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!(
                    "combined stack size of {} calls is {depth}. Too large",
                    frame + 1
                ),
            ));
        }
        let in_cb = under_cb || self.is_cb(k);
        let start = self.subprogs.starts[k];
        let end = self
            .subprogs
            .starts
            .get(k + 1)
            .copied()
            .unwrap_or(self.insns.len());
        for i in start..end {
            if in_cb && self.is_throw(&self.insns[i]) {
                return Err(Stop::Reject(VerifierError::new(
                    ErrorCode::Exception,
                    Errno::EINVAL,
                    Some(i),
                    format!(
                        "bpf_throw kfunc (insn {i}) cannot be called from callback subprog {k}"
                    ),
                )));
            }
            let Some(callee) = call_target(self.insns, i).and_then(|t| self.subprogs.index_of(t))
            else {
                continue;
            };
            // An async callback adds to the stack only when called; the
            // exception callback may not be called at all.
            let called = self.insns[i].code == op::JMP | op::CALL;
            if self.is_async_root(callee) {
                if !called {
                    continue;
                }
                if self.exception_cb == Some(callee) {
                    // The kernel's message has no newline.
                    return Err(Stop::Reject(
                        VerifierError::new(
                            ErrorCode::Exception,
                            Errno::EINVAL,
                            Some(i),
                            format!("insn {i} cannot call exception cb directly"),
                        )
                        .unterminated(),
                    ));
                }
            }
            if frame + 1 >= self.max_call_frames() {
                return Err(self.reject(
                    ErrorCode::TooComplex,
                    Errno::E2BIG,
                    format!("the call stack of {} frames is too deep !", frame + 1),
                ));
            }
            self.stack_depth_from(callee, frame + 1, depth, in_cb)?;
        }
        Ok(())
    }
}
