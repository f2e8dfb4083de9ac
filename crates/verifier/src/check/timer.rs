//! `bpf_timer` in map values: the `ARG_PTR_TO_TIMER` argument of the
//! timer helpers (`process_timer_func`), the map argument of
//! `bpf_timer_init` that must be the timer's own map, and the callback of
//! `bpf_timer_set_callback`, which runs asynchronously: it is verified as
//! a path of its own (`push_async_cb`), from a fresh state whose only
//! frame runs the callback with the timer's map, key and value as
//! arguments, and whose exit must return 0.

use bpfcheck_uapi::Errno;

use super::precision::PathMeta;
use super::{Checker, JMP_SEQ_LIMIT, Pending};
use crate::domain::Scalar;
use crate::error::{ErrorCode, Stop};
use crate::prepare::map_btf::SpecialField;
use crate::state::{FuncState, MapIdx, PtrFields, RegState, VerifierState};

/// `BPF_OBJ_NAME_LEN`: the kernel keeps 15 bytes of a map's name.
const OBJ_NAME_LEN: usize = 16;

/// A pointer at the start of a map's key, as callbacks receive it
/// (`__mark_reg_known_zero`).
fn key_of(map: MapIdx) -> RegState {
    RegState::PtrToMapKey {
        map,
        ptr: PtrFields::fresh(0, false),
    }
}

impl Checker<'_> {
    /// The arguments a callback over map `map` receives: the map, the
    /// element's key and its value (`R1`–`R3`); the value with a fresh
    /// id where the profile says so.
    pub(super) fn map_elem_args(&mut self, map: MapIdx) -> [RegState; 3] {
        let id = if self.profile.features.callback_value_id {
            self.new_id()
        } else {
            0
        };
        let value = RegState::PtrToMapValue {
            map,
            off: 0,
            var: Scalar::constant(0),
            maybe_null: false,
            id,
        };
        [RegState::ConstPtrToMap { map }, key_of(map), value]
    }

    /// Where map `map`'s value holds its `bpf_timer`, if it has one.
    fn timer_off(&self, map: MapIdx) -> Option<u32> {
        self.map_fields
            .get(map.0 as usize)?
            .iter()
            .find(|f| f.kind == SpecialField::Timer)
            .map(|f| f.offset)
    }

    /// `ARG_PTR_TO_TIMER` (`process_timer_func`): a map value pointer at
    /// the constant offset of the value's `bpf_timer`; the map becomes
    /// the call's map.
    pub(super) fn timer_arg(&self, regno: u8, reg: &RegState) -> Result<MapIdx, Stop> {
        let RegState::PtrToMapValue {
            map,
            off,
            var,
            maybe_null: false,
            ..
        } = *reg
        else {
            let got = reg.type_str();
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EACCES,
                format!("R{regno} type={got} expected=map_value"),
            ));
        };
        let einval = |msg: String| self.reject(ErrorCode::HelperCall, Errno::EINVAL, msg);
        let Some(val) = var.const_value() else {
            return Err(einval(format!(
                "R{regno} doesn't have constant offset. bpf_timer has to be at the constant offset"
            )));
        };
        let spec = &self.maps[map.0 as usize];
        let name: String = spec.name.chars().take(OBJ_NAME_LEN - 1).collect();
        if spec.btf_value_type_id == 0 && spec.btf_key_type_id == 0 {
            return Err(einval(format!(
                "map '{name}' has to have BTF in order to use bpf_timer"
            )));
        }
        let Some(timer_off) = self.timer_off(map) else {
            return Err(einval(format!("map '{name}' has no valid bpf_timer")));
        };
        let at = (val as i64).wrapping_add(i64::from(off));
        if at != i64::from(timer_off) {
            return Err(einval(format!(
                "off {at} doesn't point to 'struct bpf_timer' that is at {timer_off}"
            )));
        }
        Ok(map)
    }

    /// `ARG_CONST_MAP_PTR` after a timer argument (`bpf_timer_init`): the
    /// map must be the timer's. Inner maps (whose `map_uid` tells them
    /// apart) are not modelled, so both uids print as 0.
    pub(super) fn timer_map_matches(&self, timer_map: MapIdx, map: MapIdx) -> Result<(), Stop> {
        if timer_map == map {
            return Ok(());
        }
        Err(self.reject(
            ErrorCode::HelperCall,
            Errno::EINVAL,
            "timer pointer in R1 map_uid=0 doesn't match map pointer in R2 map_uid=0".to_owned(),
        ))
    }

    /// `push_callback_call` of an async callback: `push_async_cb` queues
    /// the callback as a path of its own, from a fresh state whose one
    /// frame runs subprogram `subprog` (`set_timer_callback_state`); the
    /// caller's path goes on after the helper call.
    pub(super) fn push_async_cb(&mut self, subprog: usize, map: MapIdx) -> Result<(), Stop> {
        let idx = self.insn_idx;
        let start = self.subprogs.starts[subprog];
        self.async_cbs.insert(subprog);
        self.cb_subprogs.insert(subprog);
        let mut frame = FuncState::entry();
        frame.subprog = subprog;
        frame.regs[1..4].copy_from_slice(&self.map_elem_args(map));
        frame.in_async_callback_fn = true;
        frame.async_entry_cnt = self.cur.cur().async_entry_cnt + 1;
        let state = VerifierState {
            frames: vec![frame],
            ..VerifierState::entry()
        };
        // `init_func_state` marks the whole state to be printed.
        self.scratch_all();
        self.obs_branch_queued(&state, start, idx);
        // A fresh root: no parent checkpoint waits for it, its history
        // starts where the caller's ends, and (the kernel's state being
        // zeroed memory) its first instruction is 0 until its first
        // checkpoint, which precision backtracking shows.
        let path = PathMeta {
            parent: None,
            first_idx: 0,
            hist_start: self.hist_len,
            loop_entry: None,
        };
        self.queue.push(Pending {
            state,
            insn: start,
            prev: idx,
            log_pos: self.log.pos(),
            path,
            hist_end: self.hist_len,
        });
        if self.queue.len() > JMP_SEQ_LIMIT {
            return Err(self.reject(
                ErrorCode::TooComplex,
                Errno::E2BIG,
                format!(
                    "The sequence of {} jumps is too complex for async cb.",
                    self.queue.len()
                ),
            ));
        }
        Ok(())
    }
}
