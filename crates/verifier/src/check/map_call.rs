//! What `check_helper_call` does with a helper's map after the arguments:
//! `record_func_map`'s refusal of writes into a program-read-only map,
//! `bpf_get_local_storage`'s flags, `check_map_func_compatibility` (the
//! profile's table), and which helper/map pairs the interpreter models.
//! Also the machine-dependent return range of `bpf_get_smp_processor_id`.

use bpfcheck_profile::helpers::HelperProto;
use bpfcheck_profile::map_compat::{MapFuncCompat, map_func_compat};
use bpfcheck_uapi::{Errno, MapType, helper_name};

use super::Checker;
use crate::domain::{Era, Scalar};
use crate::error::{ErrorCode, Stop};
use crate::state::{MapIdx, RegState, ScalarReg};

const MAP_LOOKUP: u32 = 1;
const MAP_UPDATE: u32 = 2;
const MAP_DELETE: u32 = 3;
const TAIL_CALL: u32 = 12;
const GET_LOCAL_STORAGE: u32 = 81;
const MAP_PUSH: u32 = 87;
const MAP_POP: u32 = 88;
const MAP_PEEK: u32 = 89;
const MAP_LOOKUP_PERCPU: u32 = 195;
const RINGBUF_RESERVE: u32 = 131;
const RINGBUF_QUERY: u32 = 134;
const RINGBUF_RESERVE_DYNPTR: u32 = 198;
const USER_RINGBUF_DRAIN: u32 = 209;
const FOR_EACH_MAP_ELEM: u32 = 164;
const TIMER_INIT: u32 = 169;
const TIMER_CANCEL: u32 = 172;

/// `BPF_F_RDONLY_PROG`.
const BPF_F_RDONLY_PROG: u32 = 1 << 7;

/// Helpers whose map argument changes nothing in the verifier but the
/// compatibility check, returning a plain integer: `perf_event_read`,
/// `perf_event_output`, `get_stackid`, `skb_under_cgroup`,
/// `current_task_under_cgroup`, `redirect_map`, `perf_event_read_value`,
/// `ringbuf_output`; the socket map ones: `sk_redirect_map`,
/// `sock_map_update`, `msg_redirect_map`, `sock_hash_update`,
/// `msg_redirect_hash`, `sk_redirect_hash`, `sk_select_reuseport`.
const PLAIN_MAP_HELPERS: [u32; 15] = [22, 25, 27, 33, 37, 51, 55, 130, 52, 53, 60, 70, 71, 72, 82];

/// Map types whose lookups give plain map values of the map's value size.
fn plain_value_map(t: MapType) -> bool {
    matches!(
        t,
        MapType::HASH
            | MapType::ARRAY
            | MapType::PERCPU_HASH
            | MapType::PERCPU_ARRAY
            | MapType::LRU_HASH
            | MapType::LRU_PERCPU_HASH
    )
}

/// The local storage map a storage helper takes: `sk_storage_get` and
/// `_delete`, `inode_`, `task_`, `cgrp_storage_get` and `_delete`. The
/// value is a plain map value of the map's value size.
fn storage_helper_map(id: u32) -> Option<MapType> {
    match id {
        107 | 108 => Some(MapType::SK_STORAGE),
        145 | 146 => Some(MapType::INODE_STORAGE),
        156 | 157 => Some(MapType::TASK_STORAGE),
        210 | 211 => Some(MapType::CGRP_STORAGE),
        _ => None,
    }
}

impl Checker<'_> {
    /// `record_func_map`: a map the program may only read takes no update,
    /// delete, push or pop.
    pub(super) fn record_func_map(&self, func_id: u32, map: Option<MapIdx>) -> Result<(), Stop> {
        let Some(map) = map else {
            return Ok(());
        };
        let spec = &self.maps[map.0 as usize];
        // Device maps are made read-only for programs when created.
        let rdonly = spec.flags & BPF_F_RDONLY_PROG != 0
            || matches!(spec.map_type, MapType::DEVMAP | MapType::DEVMAP_HASH);
        if rdonly && matches!(func_id, MAP_UPDATE | MAP_DELETE | MAP_PUSH | MAP_POP) {
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EACCES,
                "write into map forbidden".to_owned(),
            ));
        }
        Ok(())
    }

    /// `record_func_key`: a tail call's index known to be in range is
    /// precise (the JIT may call the target directly).
    pub(super) fn record_func_key(
        &mut self,
        func_id: u32,
        map: Option<MapIdx>,
    ) -> Result<(), Stop> {
        let Some(map) = map.filter(|_| func_id == TAIL_CALL) else {
            return Ok(());
        };
        let spec = &self.maps[map.0 as usize];
        if spec.map_type != MapType::PROG_ARRAY {
            // Refused here, with a message the kernel logs without its
            // newline.
            return Err(self.unsupported("tail calls through maps other than program arrays"));
        }
        let max = u64::from(spec.max_entries);
        let index = self
            .cur
            .cur()
            .reg(3)
            .scalar()
            .and_then(|s| s.value.const_value());
        if index.is_some_and(|k| k < max) {
            self.mark_chain_precision(3)?;
        }
        Ok(())
    }

    /// `bpf_get_local_storage`'s flags must be a known zero, which is then
    /// precise.
    pub(super) fn local_storage_flags(&mut self, func_id: u32) -> Result<(), Stop> {
        if func_id != GET_LOCAL_STORAGE {
            return Ok(());
        }
        let zero = self
            .cur
            .cur()
            .reg(2)
            .scalar()
            .is_some_and(|s| s.value.const_value() == Some(0));
        if !zero {
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EINVAL,
                "get_local_storage() doesn't support non-zero flags".to_owned(),
            ));
        }
        if self
            .profile
            .features
            .walk_v6_1
            .local_storage_flags_imprecise
        {
            return Ok(());
        }
        self.mark_chain_precision(2)
    }

    /// `check_map_func_compatibility`, then whether this verifier models
    /// what the helper does with that kind of map.
    pub(super) fn map_func_compat(
        &mut self,
        proto: &HelperProto,
        map: Option<MapIdx>,
    ) -> Result<(), Stop> {
        let Some(map) = map else {
            return Ok(());
        };
        let map_type = self.maps[map.0 as usize].map_type;
        let id = proto.id;
        let verdict = map_func_compat(
            map_type,
            id,
            self.req.prog_type,
            self.req.expected_attach_type,
        );
        if let MapFuncCompat::Refused { note } = verdict {
            if let Some(note) = note {
                self.log.line(note);
            }
            let name = i32::try_from(id)
                .ok()
                .and_then(helper_name)
                .unwrap_or("unknown");
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EINVAL,
                format!("cannot pass map_type {} into func {name}#{id}", map_type.0),
            ));
        }
        let modelled = match id {
            MAP_LOOKUP | MAP_UPDATE | MAP_DELETE if plain_value_map(map_type) => true,
            // Deleting from a socket map takes only its key; an update's
            // value is a socket (`resolve_map_arg_type`, checked as one).
            MAP_DELETE | MAP_UPDATE => matches!(map_type, MapType::SOCKMAP | MapType::SOCKHASH),
            // A referenced socket (`super::sock_map`).
            MAP_LOOKUP => super::sock_map::holds_sockets(map_type) || self.lookup_modelled(map)?,
            // A tail call is a helper returning nothing (the packet
            // pointers it invalidates are those of `changes_pkt_data`);
            // with subprograms its stack rule is `check_max_stack_depth`'s.
            // Whether a global function changes packet data through one is
            // not modelled.
            TAIL_CALL if !self.has_global_subprogs() => true,
            TAIL_CALL => {
                return Err(self.unsupported("tail calls in programs with global functions"));
            }
            GET_LOCAL_STORAGE => true,
            // Queue and stack maps copy one value in or out.
            MAP_PUSH | MAP_POP | MAP_PEEK => matches!(map_type, MapType::QUEUE | MapType::STACK),
            // One CPU's element of a per-CPU map: a plain value.
            MAP_LOOKUP_PERCPU => plain_value_map(map_type),
            // Ring buffer records and dynptrs (`check::ringbuf`,
            // `check::dynptr`); `bpf_ringbuf_query` returns a number.
            RINGBUF_RESERVE | RINGBUF_QUERY | RINGBUF_RESERVE_DYNPTR => {
                map_type == MapType::RINGBUF
            }
            USER_RINGBUF_DRAIN => map_type == MapType::USER_RINGBUF,
            // The kptr field of the destination's map (`check::kptr`).
            super::kptr::KPTR_XCHG => true,
            // Callbacks over the elements, and the timer helpers on the
            // timer's own map.
            FOR_EACH_MAP_ELEM | TIMER_INIT..=TIMER_CANCEL => plain_value_map(map_type),
            _ => PLAIN_MAP_HELPERS.contains(&id) || storage_helper_map(id) == Some(map_type),
        };
        if modelled {
            Ok(())
        } else {
            let name = i32::try_from(id).ok().and_then(helper_name).unwrap_or("?");
            Err(self.unsupported(&format!(
                "helper/map type compatibility ({name} with {map_type} maps)"
            )))
        }
    }

    /// `do_refine_retval_range` of `bpf_get_smp_processor_id`: a CPU
    /// number below `nr_cpu_ids`, the machine's count of possible CPUs.
    pub(super) fn smp_processor_id_return(&self) -> Result<RegState, Stop> {
        let Some(cpus) = self.profile.possible_cpus.filter(|n| *n > 0) else {
            return Err(self
                .unsupported("bpf_get_smp_processor_id's return range (the machine's CPU count)"));
        };
        let max = cpus - 1;
        let mut v = Scalar::unknown();
        v.umin = 0;
        v.umax = u64::from(max);
        v.smin = 0;
        v.smax = i64::from(max);
        v.u32_min = 0;
        v.u32_max = max;
        v.s32_min = 0;
        v.s32_max = i32::try_from(max).unwrap_or(i32::MAX);
        v.sync(Era::V6_18);
        Ok(RegState::Scalar(ScalarReg::new(v)))
    }
}
