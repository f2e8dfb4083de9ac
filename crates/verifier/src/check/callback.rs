//! Synchronous callbacks (6.18): a function reference (`ld_imm64` of a
//! function, `PTR_TO_FUNC`) passed to a helper that calls it an unknown
//! number of times.
//!
//! The helper call queues the callback body as a branch (a new frame whose
//! arguments the helper's setter decides) and the path goes on after the
//! call. The callback's exit goes back to the helper call itself, which
//! may queue the body again; the call instruction always checkpoints, so
//! the iterations stop when a state at the call is covered by an earlier
//! one still being explored. Only `bpf_loop` is modelled; the other
//! callback-calling helpers are reported as unsupported.

use bpfcheck_uapi::{Errno, RawInsn, VerifierStats, op};

use super::btf_func::ArgsMatch;
use super::subprog_call::{MAX_CALL_FRAMES, call_target};
use super::{Checker, Flow, print};
use crate::error::{ErrorCode, Stop};
use crate::state::{FuncState, RegState};

/// `BPF_FUNC_loop`.
pub(super) const LOOP: u32 = 181;

/// Helpers that call their callback synchronously
/// (`is_sync_callback_calling_function`): `for_each_map_elem`,
/// `find_vma`, `loop`, `user_ringbuf_drain`.
const SYNC_CALLBACK_HELPERS: [i32; 4] = [164, 180, 181, 209];

/// `BPF_FUNC_timer_set_callback`, whose callback runs asynchronously.
const TIMER_SET_CALLBACK: i32 = 170;

/// `is_sync_callback_calling_insn` for helpers (`calls_callback`).
pub(crate) fn calls_callback(insn: &RawInsn) -> bool {
    insn.code == op::JMP | op::CALL && insn.src == 0 && SYNC_CALLBACK_HELPERS.contains(&insn.imm)
}

/// Whether a helper call takes a callback this verifier does not model.
pub(super) fn unmodelled_callback_helper(id: i32) -> Option<&'static str> {
    match id {
        164 => Some("bpf_for_each_map_elem callbacks"),
        180 => Some("bpf_find_vma callbacks"),
        209 => Some("bpf_user_ringbuf_drain callbacks"),
        TIMER_SET_CALLBACK => Some("async callbacks (bpf_timer_set_callback)"),
        _ => None,
    }
}

/// What `bpf_loop` at one call instruction has shown so far
/// (`bpf_loop_inline_state`): whether every visit had a zero `flags`
/// argument and the same callback.
#[derive(Clone, Copy)]
pub(super) struct LoopInline {
    fit: bool,
    subprog_start: u32,
}

impl Checker<'_> {
    /// `check_ld_imm` of a function reference.
    pub(super) fn ld_func(&mut self, insn: &RawInsn) -> Result<RegState, Stop> {
        let idx = self.insn_idx;
        let subprog = call_target(self.insns, idx).and_then(|t| self.subprogs.index_of(t));
        let Some(subprog) = subprog else {
            return Err(self.unsupported("function references to no subprogram"));
        };
        let Some(funcs) = self.btf_funcs.as_ref() else {
            return Err(self.reject(
                ErrorCode::InvalidInsn,
                Errno::EINVAL,
                "missing btf func_info".to_owned(),
            ));
        };
        if funcs.is_global(subprog) {
            return Err(self.reject(
                ErrorCode::InvalidInsn,
                Errno::EINVAL,
                "callback function not static".to_owned(),
            ));
        }
        if subprog == 0 {
            return Err(self.reject(
                ErrorCode::InvalidInsn,
                Errno::EINVAL,
                "callback function cannot be the main program".to_owned(),
            ));
        }
        let _ = insn;
        let start = u32::try_from(self.subprogs.starts[subprog]).unwrap_or(u32::MAX);
        Ok(RegState::PtrToFunc {
            subprog_start: start,
        })
    }

    /// `bpf_loop` after its arguments: the inlining bookkeeping (which
    /// makes a zero `flags` precise), `nr_loops` precise, then another
    /// iteration of the callback unless this frame has run as many as
    /// `nr_loops` allows.
    pub(super) fn loop_call(&mut self, subprog_start: u32) -> Result<(), Stop> {
        let idx = self.insn_idx;
        let flags_zero = self
            .cur
            .cur()
            .reg(4)
            .scalar()
            .is_some_and(|s| s.value.is_const() && s.value.var_off.value == 0);
        match self.loop_inline.get(&idx).copied() {
            None => {
                if flags_zero {
                    self.mark_chain_precision(4)?;
                }
                self.loop_inline.insert(
                    idx,
                    LoopInline {
                        fit: flags_zero,
                        subprog_start,
                    },
                );
            }
            Some(st) if st.fit => {
                if flags_zero {
                    self.mark_chain_precision(4)?;
                }
                let fit = flags_zero && st.subprog_start == subprog_start;
                self.loop_inline.insert(idx, LoopInline { fit, ..st });
            }
            Some(_) => {}
        }
        self.mark_chain_precision(1)?;
        let Some(nr_loops) = self.cur.cur().reg(1).scalar().map(|s| s.value.umax) else {
            return Err(self.unsupported("bpf_loop with a non-scalar count"));
        };
        if u64::from(self.cur.cur().callback_depth) < nr_loops {
            return self.push_callback_call(subprog_start);
        }
        self.cur.cur_mut().callback_depth = 0;
        if self.log.level2() {
            let frame = self.cur.frames.len() - 1;
            self.log
                .line(&format!("frame{frame} bpf_loop iteration limit reached"));
        }
        Ok(())
    }

    /// `push_callback_call` with `set_loop_callback_state`: the callback
    /// body is queued with `R1` the iteration (an unknown scalar) and `R2`
    /// the caller's `R3`.
    fn push_callback_call(&mut self, subprog_start: u32) -> Result<(), Stop> {
        let idx = self.insn_idx;
        let Some(subprog) = usize::try_from(subprog_start)
            .ok()
            .and_then(|s| self.subprogs.index_of(s))
        else {
            return Err(self.unsupported("callbacks into no subprogram"));
        };
        if let ArgsMatch::Mismatch(Some(line)) = self.btf_check_call(subprog)? {
            self.log.line(&line);
        }
        let depth = self.cur.frames.len();
        if depth >= MAX_CALL_FRAMES {
            return Err(self.reject(
                ErrorCode::TooComplex,
                Errno::E2BIG,
                format!("the call stack of {} frames is too deep", depth + 1),
            ));
        }
        let mut st = self.cur.clone();
        let frameno = u8::try_from(depth).unwrap_or(u8::MAX);
        let mut callee = FuncState::callee(frameno, idx, subprog);
        callee.regs[1] = RegState::unknown();
        callee.regs[2] = *st.cur().reg(3);
        callee.in_callback_fn = true;
        st.cur_mut().callback_depth += 1;
        st.frames.push(callee);
        st.callback_unroll_depth += 1;
        self.cur.cur_mut().callback_depth = 0;
        self.scratch_all();
        self.push_branch(st, self.subprogs.starts[subprog], idx)
    }

    /// The exit of a callback (`prepare_func_exit` with `in_callback_fn`):
    /// `R0` must be a precise scalar in `[0, 1]`; the path goes back to
    /// the helper call, its scalars widened against the previous
    /// iteration's.
    pub(super) fn callback_exit(&mut self) -> Result<Flow, Stop> {
        if !matches!(self.cur.cur().reg(0), RegState::Scalar(_)) {
            return Err(self.reject(
                ErrorCode::ReturnValue,
                Errno::EACCES,
                "R0 not a scalar value".to_owned(),
            ));
        }
        // With read marks (6.12) the value returned is read.
        self.live_read_reg_64(0);
        self.mark_chain_precision(0)?;
        if let Some(s) = self.cur.cur().reg(0).scalar() {
            let v = s.value;
            if !(0 <= v.smin && v.smax <= 1) {
                let msg = super::retval::invalid_scalar("At callback return", &v, 0, 1);
                return Err(self.reject(ErrorCode::ReturnValue, Errno::EINVAL, msg));
            }
        }
        let Some(callee) = self.cur.frames.pop() else {
            return Err(self.unsupported("an exit without a frame"));
        };
        let ret = callee.callsite.unwrap_or(0);
        if self.log.level1() {
            let text = format!(
                "returning from callee:\n{}to caller at {ret}:\n{}",
                print::frame(&callee, None, self.maps, &self.cur.refs),
                print::frame(self.cur.cur(), None, self.maps, &self.cur.refs)
            );
            self.log.push(&text);
        }
        let depth = self
            .path
            .parent
            .map_or(0, |p| self.checkpoints[p].dfs_depth + 1);
        if let Some(p) = self.find_prev_entry(depth, ret) {
            let old = self.checkpoints[p].state.clone();
            super::loops::widen_imprecise_scalars(&old, &mut self.cur, self.id_gen);
        }
        Ok(Flow::Return(ret))
    }

    /// `optimize_bpf_loop` after a successful walk: a subprogram with a
    /// `bpf_loop` call fit for inlining gets three more stack slots, after
    /// rounding its depth up to a slot.
    pub(crate) fn add_inlined_loop_stack(&self, stats: &mut VerifierStats) {
        let Some(depths) = stats.stack_depth.as_mut() else {
            return;
        };
        // Once per subprogram, however many calls are inlined.
        let mut inlined: Vec<usize> = self
            .loop_inline
            .iter()
            .filter(|(_, st)| st.fit)
            .map(|(&idx, _)| self.subprogs.starts.partition_point(|&s| s <= idx) - 1)
            .collect();
        inlined.sort_unstable();
        inlined.dedup();
        for k in inlined {
            if let Some(d) = depths.get_mut(k) {
                *d = d.next_multiple_of(8) + 24;
            }
        }
    }
}
