//! Callbacks (6.18): a function reference (`ld_imm64` of a function,
//! `PTR_TO_FUNC`) passed to a helper that calls it.
//!
//! A synchronous callback's helper call queues the callback body as a
//! branch (a new frame whose arguments the helper's setter decides) and
//! the path goes on after the call. The callback's exit goes back to the
//! helper call itself, which may queue the body again; the call
//! instruction always checkpoints, so the iterations stop when a state at
//! the call is covered by an earlier one still being explored. Modelled:
//! `bpf_loop`, `bpf_for_each_map_elem`, `bpf_user_ringbuf_drain` and
//! `bpf_find_vma` (whose callback receives the caller's task pointer and
//! a BTF-typed vma); the timer's async callback is [`super::timer`]'s.

use bpfcheck_uapi::{Errno, MapType, RawInsn, VerifierStats, op};

use super::btf_func::ArgsMatch;
use super::subprog_call::call_target;
use super::{Checker, Flow, print};
use crate::error::{ErrorCode, Stop};
use crate::state::{DynptrKind, FuncState, MapIdx, RegState};

/// `BPF_FUNC_loop`.
pub(super) const LOOP: u32 = 181;
/// `BPF_FUNC_for_each_map_elem`.
pub(super) const FOR_EACH_MAP_ELEM: u32 = 164;
/// `BPF_FUNC_timer_set_callback`, whose callback runs asynchronously.
pub(super) const TIMER_SET_CALLBACK: u32 = 170;
/// `BPF_FUNC_user_ringbuf_drain`.
pub(super) const USER_RINGBUF_DRAIN: u32 = 209;
/// `BPF_FUNC_find_vma`.
const FIND_VMA: u32 = 180;

/// Helpers that call their callback synchronously
/// (`is_sync_callback_calling_function`): `for_each_map_elem`,
/// `find_vma`, `loop`, `user_ringbuf_drain`.
const SYNC_CALLBACK_HELPERS: [i32; 4] = [164, 180, 181, 209];

/// `is_sync_callback_calling_insn` for helpers (`calls_callback`).
pub(crate) fn calls_callback(insn: &RawInsn) -> bool {
    insn.code == op::JMP | op::CALL && insn.src == 0 && SYNC_CALLBACK_HELPERS.contains(&insn.imm)
}

/// Map types whose elements `bpf_for_each_map_elem` can walk (those with
/// `map_set_for_each_callback_args`): arrays and hashes.
fn walkable(t: MapType) -> bool {
    matches!(
        t,
        MapType::ARRAY
            | MapType::PERCPU_ARRAY
            | MapType::HASH
            | MapType::PERCPU_HASH
            | MapType::LRU_HASH
            | MapType::LRU_PERCPU_HASH
    )
}

/// Which helper calls a synchronous callback, which decides the
/// callback's arguments (the kernel's `set_*_callback_state`).
#[derive(Clone, Copy)]
enum Kind {
    /// `bpf_loop`: the iteration and the caller's context.
    Loop,
    /// `bpf_for_each_map_elem` over this map: the map, the element's key
    /// and value, the caller's context.
    MapElem(MapIdx),
    /// `bpf_user_ringbuf_drain`: a local dynptr of the sample
    /// (`mark_dynptr_cb_reg`) and the caller's context.
    UserRingbuf,
    /// `bpf_find_vma`: the caller's task, the vma (a flagless
    /// `struct vm_area_struct` pointer) and the caller's context.
    FindVma(crate::state::BtfPtr),
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

    /// What `check_helper_call` does for a callback-calling helper once
    /// its arguments are checked: `func` is the callback's first
    /// instruction, `map` the call's map.
    pub(super) fn callback_call(
        &mut self,
        id: u32,
        func: Option<u32>,
        map: Option<MapIdx>,
    ) -> Result<(), Stop> {
        if !matches!(
            id,
            LOOP | FOR_EACH_MAP_ELEM | TIMER_SET_CALLBACK | USER_RINGBUF_DRAIN | FIND_VMA
        ) {
            return Ok(());
        }
        let Some(func) = func else {
            return Err(self.unsupported("callback helpers without a callback"));
        };
        if id == LOOP {
            return self.loop_call(func);
        }
        if id == USER_RINGBUF_DRAIN {
            let subprog = self.callback_subprog(func)?;
            if let ArgsMatch::Mismatch(Some(line)) = self.btf_check_call(subprog)? {
                self.log.line(&line);
            }
            return self.push_callback_call(subprog, Kind::UserRingbuf);
        }
        if id == FIND_VMA {
            let vma = self.vma_ptr()?;
            let subprog = self.callback_subprog(func)?;
            if let ArgsMatch::Mismatch(Some(line)) = self.btf_check_call(subprog)? {
                self.log.line(&line);
            }
            return self.push_callback_call(subprog, Kind::FindVma(vma));
        }
        let Some(map) = map else {
            return Err(self.unsupported("callback helpers without a map"));
        };
        let subprog = self.callback_subprog(func)?;
        if let ArgsMatch::Mismatch(Some(line)) = self.btf_check_call(subprog)? {
            self.log.line(&line);
        }
        if id == TIMER_SET_CALLBACK {
            return self.push_async_cb(subprog, map);
        }
        self.push_callback_call(subprog, Kind::MapElem(map))
    }

    /// The subprogram whose first instruction is `start`.
    fn callback_subprog(&self, start: u32) -> Result<usize, Stop> {
        usize::try_from(start)
            .ok()
            .and_then(|s| self.subprogs.index_of(s))
            .ok_or_else(|| self.unsupported("callbacks into no subprogram"))
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
        if self.cur.cur().reg(1).scalar().is_none() {
            // A pointer count passed the argument check (6.18): the
            // kernel's precision walk refuses to start from it.
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EFAULT,
                "verifier bug: backtracking misuse".to_owned(),
            ));
        }
        self.mark_chain_precision(1)?;
        let Some(nr_loops) = self.cur.cur().reg(1).scalar().map(|s| s.value.umax) else {
            return Err(self.unsupported("bpf_loop with a non-scalar count"));
        };
        if u64::from(self.cur.cur().callback_depth) < nr_loops {
            let subprog = self.callback_subprog(subprog_start)?;
            if let ArgsMatch::Mismatch(Some(line)) = self.btf_check_call(subprog)? {
                self.log.line(&line);
            }
            return self.push_callback_call(subprog, Kind::Loop);
        }
        self.cur.cur_mut().callback_depth = 0;
        if self.log.level2() {
            let frame = self.cur.frames.len() - 1;
            self.log
                .line(&format!("frame{frame} bpf_loop iteration limit reached"));
        }
        Ok(())
    }

    /// `push_callback_call` of a synchronous callback, after
    /// `btf_check_subprog_call`: the callback body is queued in a new
    /// frame with the arguments `kind` gives (`set_loop_callback_state`,
    /// `set_map_elem_callback_state`).
    fn push_callback_call(&mut self, subprog: usize, kind: Kind) -> Result<(), Stop> {
        self.cb_subprogs.insert(subprog);
        let idx = self.insn_idx;
        let depth = self.cur.frames.len();
        if depth >= self.max_call_frames() {
            return Err(self.reject(
                ErrorCode::TooComplex,
                Errno::E2BIG,
                format!("the call stack of {} frames is too deep", depth + 1),
            ));
        }
        let mut st = self.cur.clone();
        let frameno = u8::try_from(depth).unwrap_or(u8::MAX);
        let mut callee = FuncState::callee(frameno, idx, subprog);
        match kind {
            Kind::Loop => {
                callee.regs[1] = RegState::unknown();
                callee.regs[2] = *st.cur().reg(3);
            }
            Kind::FindVma(vma) => {
                callee.regs[1] = *st.cur().reg(1);
                callee.regs[2] = RegState::PtrToBtfId {
                    ptr: crate::state::PtrFields::fresh(0, false),
                    btf: vma,
                };
                callee.regs[3] = *st.cur().reg(4);
            }
            Kind::UserRingbuf => {
                let id = self.new_id();
                callee.regs[1] = super::dynptr::dynptr_reg(DynptrKind::Local, true, id, 0);
                callee.regs[2] = *st.cur().reg(3);
            }
            Kind::MapElem(map) => {
                let spec = &self.maps[map.0 as usize];
                if !walkable(spec.map_type) {
                    return Err(self.reject(
                        ErrorCode::HelperCall,
                        Errno::ENOTSUPP,
                        "callback function not allowed for map".to_owned(),
                    ));
                }
                if super::spin_lock::holds_spin_lock(&self.map_fields, map) {
                    // Whether a lock taken through the value the callback
                    // receives (which has no id before 6.18) behaves as
                    // one taken through a lookup's is not known.
                    return Err(self.unsupported(
                        "bpf_for_each_map_elem callbacks over values with a bpf_spin_lock",
                    ));
                }
                let [m, key, value] = self.map_elem_args(map);
                callee.regs[1] = m;
                callee.regs[2] = key;
                callee.regs[3] = value;
                callee.regs[4] = *st.cur().reg(3);
            }
        }
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
                print::frame(&callee, None, self.print_style(), &self.cur.refs),
                print::frame(self.cur.cur(), None, self.print_style(), &self.cur.refs)
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
