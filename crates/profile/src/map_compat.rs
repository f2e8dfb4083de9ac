//! Which helpers a map may be passed to (`check_map_func_compatibility`).
//!
//! The kernel checks both directions after a helper's arguments: a map
//! type that only some helpers may take (a program array only by
//! `bpf_tail_call`), and a helper that only some map types serve
//! (`bpf_redirect_map` only device, CPU and socket maps). Map types and
//! helpers in neither table take anything.
//!
//! The rules are the same from 6.12 to 7.2 for every map type those
//! kernels share (checked against both sources and the 6.18 host); 7.2's
//! instruction arrays refuse every helper, and a map type a kernel lacks
//! never reaches the check (`Features::map_type_end`), so one table serves
//! every profile with helper data.

use bpfcheck_uapi::{AttachType, MapType, ProgType, helper_id};

/// The helpers a map type is limited to; types not listed take any helper
/// the second table allows.
const MAP_TO_HELPERS: &[(&[MapType], &[&str])] = &[
    (&[MapType::PROG_ARRAY], &["bpf_tail_call"]),
    (
        &[MapType::PERF_EVENT_ARRAY],
        &[
            "bpf_perf_event_read",
            "bpf_perf_event_output",
            "bpf_skb_output",
            "bpf_perf_event_read_value",
            "bpf_xdp_output",
        ],
    ),
    (
        &[MapType::RINGBUF],
        &[
            "bpf_ringbuf_output",
            "bpf_ringbuf_reserve",
            "bpf_ringbuf_query",
            "bpf_ringbuf_reserve_dynptr",
            "bpf_ringbuf_submit_dynptr",
            "bpf_ringbuf_discard_dynptr",
        ],
    ),
    (&[MapType::USER_RINGBUF], &["bpf_user_ringbuf_drain"]),
    (&[MapType::STACK_TRACE], &["bpf_get_stackid"]),
    (
        &[MapType::CGROUP_ARRAY],
        &["bpf_skb_under_cgroup", "bpf_current_task_under_cgroup"],
    ),
    (
        &[MapType::CGROUP_STORAGE, MapType::PERCPU_CGROUP_STORAGE],
        &["bpf_get_local_storage"],
    ),
    (
        &[MapType::DEVMAP, MapType::DEVMAP_HASH],
        &["bpf_redirect_map", "bpf_map_lookup_elem"],
    ),
    (&[MapType::CPUMAP], &["bpf_redirect_map"]),
    (
        &[MapType::XSKMAP],
        &["bpf_redirect_map", "bpf_map_lookup_elem"],
    ),
    (
        &[MapType::ARRAY_OF_MAPS, MapType::HASH_OF_MAPS],
        &["bpf_map_lookup_elem"],
    ),
    (
        &[MapType::SOCKMAP],
        &[
            "bpf_sk_redirect_map",
            "bpf_sock_map_update",
            "bpf_msg_redirect_map",
            "bpf_sk_select_reuseport",
            "bpf_map_lookup_elem",
        ],
    ),
    (
        &[MapType::SOCKHASH],
        &[
            "bpf_sk_redirect_hash",
            "bpf_sock_hash_update",
            "bpf_msg_redirect_hash",
            "bpf_sk_select_reuseport",
            "bpf_map_lookup_elem",
        ],
    ),
    (
        &[MapType::REUSEPORT_SOCKARRAY],
        &["bpf_sk_select_reuseport"],
    ),
    (
        &[MapType::QUEUE, MapType::STACK],
        &["bpf_map_peek_elem", "bpf_map_pop_elem", "bpf_map_push_elem"],
    ),
    (
        &[MapType::SK_STORAGE],
        &[
            "bpf_sk_storage_get",
            "bpf_sk_storage_delete",
            "bpf_kptr_xchg",
        ],
    ),
    (
        &[MapType::INODE_STORAGE],
        &[
            "bpf_inode_storage_get",
            "bpf_inode_storage_delete",
            "bpf_kptr_xchg",
        ],
    ),
    (
        &[MapType::TASK_STORAGE],
        &[
            "bpf_task_storage_get",
            "bpf_task_storage_delete",
            "bpf_kptr_xchg",
        ],
    ),
    (
        &[MapType::CGRP_STORAGE],
        &[
            "bpf_cgrp_storage_get",
            "bpf_cgrp_storage_delete",
            "bpf_kptr_xchg",
        ],
    ),
    (
        &[MapType::BLOOM_FILTER],
        &["bpf_map_peek_elem", "bpf_map_push_elem"],
    ),
    (&[MapType::INSN_ARRAY], &[]),
];

/// The map types a helper is limited to; helpers not listed take any map
/// the first table allows.
const HELPER_TO_MAPS: &[(&[&str], &[MapType])] = &[
    (&["bpf_tail_call"], &[MapType::PROG_ARRAY]),
    (
        &[
            "bpf_perf_event_read",
            "bpf_perf_event_output",
            "bpf_perf_event_read_value",
            "bpf_skb_output",
            "bpf_xdp_output",
        ],
        &[MapType::PERF_EVENT_ARRAY],
    ),
    (
        &[
            "bpf_ringbuf_output",
            "bpf_ringbuf_reserve",
            "bpf_ringbuf_query",
            "bpf_ringbuf_reserve_dynptr",
            "bpf_ringbuf_submit_dynptr",
            "bpf_ringbuf_discard_dynptr",
        ],
        &[MapType::RINGBUF],
    ),
    (&["bpf_user_ringbuf_drain"], &[MapType::USER_RINGBUF]),
    (&["bpf_get_stackid"], &[MapType::STACK_TRACE]),
    (
        &["bpf_current_task_under_cgroup", "bpf_skb_under_cgroup"],
        &[MapType::CGROUP_ARRAY],
    ),
    (
        &["bpf_redirect_map"],
        &[
            MapType::DEVMAP,
            MapType::DEVMAP_HASH,
            MapType::CPUMAP,
            MapType::XSKMAP,
        ],
    ),
    (
        &[
            "bpf_sk_redirect_map",
            "bpf_msg_redirect_map",
            "bpf_sock_map_update",
        ],
        &[MapType::SOCKMAP],
    ),
    (
        &[
            "bpf_sk_redirect_hash",
            "bpf_msg_redirect_hash",
            "bpf_sock_hash_update",
        ],
        &[MapType::SOCKHASH],
    ),
    (
        &["bpf_get_local_storage"],
        &[MapType::CGROUP_STORAGE, MapType::PERCPU_CGROUP_STORAGE],
    ),
    (
        &["bpf_sk_select_reuseport"],
        &[
            MapType::REUSEPORT_SOCKARRAY,
            MapType::SOCKMAP,
            MapType::SOCKHASH,
        ],
    ),
    (&["bpf_map_pop_elem"], &[MapType::QUEUE, MapType::STACK]),
    (
        &["bpf_map_peek_elem", "bpf_map_push_elem"],
        &[MapType::QUEUE, MapType::STACK, MapType::BLOOM_FILTER],
    ),
    (
        &["bpf_map_lookup_percpu_elem"],
        &[
            MapType::PERCPU_ARRAY,
            MapType::PERCPU_HASH,
            MapType::LRU_PERCPU_HASH,
        ],
    ),
    (
        &["bpf_sk_storage_get", "bpf_sk_storage_delete"],
        &[MapType::SK_STORAGE],
    ),
    (
        &["bpf_inode_storage_get", "bpf_inode_storage_delete"],
        &[MapType::INODE_STORAGE],
    ),
    (
        &["bpf_task_storage_get", "bpf_task_storage_delete"],
        &[MapType::TASK_STORAGE],
    ),
    (
        &["bpf_cgrp_storage_get", "bpf_cgrp_storage_delete"],
        &[MapType::CGRP_STORAGE],
    ),
];

/// The kernel's answer for one map passed to one helper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapFuncCompat {
    /// The helper may take the map.
    Allowed,
    /// `cannot pass map_type %d into func %s#%d`, after `note` when the
    /// kernel logs one first.
    Refused {
        /// A line logged before the refusal (`cannot update sockmap in this
        /// context`).
        note: Option<&'static str>,
    },
}

fn named(names: &[&str], func_id: u32) -> bool {
    names
        .iter()
        .any(|n| helper_id(n).is_some_and(|id| id.unsigned_abs() == func_id))
}

/// `may_update_sockmap`: socket maps are updated and deleted from only
/// where no locked socket can be at hand. The error holds what the kernel
/// logs when it refuses: a note for an update or delete, nothing for other
/// helpers.
fn sockmap_update(
    func_id: u32,
    prog_type: ProgType,
    attach: AttachType,
) -> Result<(), Option<&'static str>> {
    let update = named(&["bpf_map_update_elem"], func_id);
    let delete = named(&["bpf_map_delete_elem"], func_id);
    if !update && !delete {
        return Err(None);
    }
    let allowed = match prog_type {
        ProgType::TRACING => attach == AttachType::TRACE_ITER,
        ProgType::SOCK_OPS => delete,
        ProgType::SOCKET_FILTER
        | ProgType::SCHED_CLS
        | ProgType::SCHED_ACT
        | ProgType::XDP
        | ProgType::SK_REUSEPORT
        | ProgType::FLOW_DISSECTOR
        | ProgType::SK_LOOKUP => true,
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(Some("cannot update sockmap in this context"))
    }
}

/// `check_map_func_compatibility` for a map of `map_type` passed to helper
/// `func_id` by a program of `prog_type` expecting `attach`.
pub fn map_func_compat(
    map_type: MapType,
    func_id: u32,
    prog_type: ProgType,
    attach: AttachType,
) -> MapFuncCompat {
    let refused = |note| MapFuncCompat::Refused { note };
    if let Some((_, helpers)) = MAP_TO_HELPERS.iter().find(|(m, _)| m.contains(&map_type))
        && !named(helpers, func_id)
    {
        if matches!(map_type, MapType::SOCKMAP | MapType::SOCKHASH) {
            if let Err(note) = sockmap_update(func_id, prog_type, attach) {
                return refused(note);
            }
        } else {
            return refused(None);
        }
    }
    match HELPER_TO_MAPS.iter().find(|(h, _)| named(h, func_id)) {
        Some((_, maps)) if !maps.contains(&map_type) => refused(None),
        _ => MapFuncCompat::Allowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> u32 {
        helper_id(name).unwrap().unsigned_abs()
    }

    #[test]
    fn every_name_is_a_helper() {
        let names = MAP_TO_HELPERS
            .iter()
            .flat_map(|(_, h)| h.iter())
            .chain(HELPER_TO_MAPS.iter().flat_map(|(h, _)| h.iter()));
        for n in names {
            assert!(helper_id(n).is_some(), "{n}");
        }
    }

    #[test]
    fn both_directions() {
        let sf = ProgType::SOCKET_FILTER;
        let none = AttachType::default();
        let c = |m, f: &str| map_func_compat(m, id(f), sf, none);
        assert_eq!(
            c(MapType::HASH, "bpf_map_lookup_elem"),
            MapFuncCompat::Allowed
        );
        assert_eq!(
            c(MapType::PROG_ARRAY, "bpf_map_lookup_elem"),
            MapFuncCompat::Refused { note: None }
        );
        assert_eq!(
            c(MapType::HASH, "bpf_tail_call"),
            MapFuncCompat::Refused { note: None }
        );
        assert_eq!(
            c(MapType::HASH, "bpf_get_local_storage"),
            MapFuncCompat::Refused { note: None }
        );
        assert_eq!(
            c(MapType::SOCKMAP, "bpf_map_update_elem"),
            MapFuncCompat::Allowed
        );
        assert_eq!(
            map_func_compat(
                MapType::SOCKMAP,
                id("bpf_map_update_elem"),
                ProgType::RAW_TRACEPOINT,
                none
            ),
            MapFuncCompat::Refused {
                note: Some("cannot update sockmap in this context")
            }
        );
        assert_eq!(
            map_func_compat(
                MapType::SOCKHASH,
                id("bpf_map_delete_elem"),
                ProgType::SOCK_OPS,
                none
            ),
            MapFuncCompat::Allowed
        );
        assert_eq!(
            c(MapType::INSN_ARRAY, "bpf_map_lookup_elem"),
            MapFuncCompat::Refused { note: None }
        );
    }
}
