//! Program, attach and map types (`enum bpf_prog_type`, `enum bpf_attach_type`,
//! `enum bpf_map_type`) with the names the kernel's tools use for them.
//!
//! Each is a newtype over the raw `u32` rather than a closed Rust enum: a load
//! request may carry a value a newer kernel defines, and bpfcheck must be able
//! to say "unknown program type 40" instead of refusing to represent it.

use std::fmt;

/// Defines a `u32` newtype with one associated constant per kernel value and
/// the lower-case name (libbpf's and bpftool's spelling) of each.
macro_rules! uapi_enum {
    ($(#[$m:meta])* $ty:ident, $what:literal { $($name:ident / $lname:literal = $val:literal,)* }) => {
        $(#[$m])*
        /// The default is 0, the value an all-zero `bpf_attr` carries.
        #[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $ty(pub u32);

        #[allow(missing_docs)]
        impl $ty {
            $(pub const $name: Self = Self($val);)*

            const TABLE: &'static [(u32, &'static str)] = &[$(($val, $lname),)*];

            /// The kernel's lower-case name, e.g. `socket_filter`; `None` for a value this
            /// build does not know.
            pub fn name(self) -> Option<&'static str> {
                Self::TABLE.iter().find(|(v, _)| *v == self.0).map(|(_, n)| *n)
            }

            /// Looks a value up by its lower-case name (case-insensitive) or its number.
            pub fn from_name(name: &str) -> Option<Self> {
                if let Ok(n) = name.parse::<u32>() {
                    return Some(Self(n));
                }
                Self::TABLE
                    .iter()
                    .find(|(_, n)| n.eq_ignore_ascii_case(name))
                    .map(|(v, _)| Self(*v))
            }

            /// Every value this build knows, in numeric order.
            pub fn all() -> impl Iterator<Item = Self> {
                Self::TABLE.iter().map(|(v, _)| Self(*v))
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, concat!("unknown ", $what, " {}"), self.0),
                }
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
    };
}

uapi_enum! {
    /// A program type (`BPF_PROG_TYPE_*`).
    ProgType, "program type" {
        UNSPEC / "unspec" = 0,
        SOCKET_FILTER / "socket_filter" = 1,
        KPROBE / "kprobe" = 2,
        SCHED_CLS / "sched_cls" = 3,
        SCHED_ACT / "sched_act" = 4,
        TRACEPOINT / "tracepoint" = 5,
        XDP / "xdp" = 6,
        PERF_EVENT / "perf_event" = 7,
        CGROUP_SKB / "cgroup_skb" = 8,
        CGROUP_SOCK / "cgroup_sock" = 9,
        LWT_IN / "lwt_in" = 10,
        LWT_OUT / "lwt_out" = 11,
        LWT_XMIT / "lwt_xmit" = 12,
        SOCK_OPS / "sock_ops" = 13,
        SK_SKB / "sk_skb" = 14,
        CGROUP_DEVICE / "cgroup_device" = 15,
        SK_MSG / "sk_msg" = 16,
        RAW_TRACEPOINT / "raw_tracepoint" = 17,
        CGROUP_SOCK_ADDR / "cgroup_sock_addr" = 18,
        LWT_SEG6LOCAL / "lwt_seg6local" = 19,
        LIRC_MODE2 / "lirc_mode2" = 20,
        SK_REUSEPORT / "sk_reuseport" = 21,
        FLOW_DISSECTOR / "flow_dissector" = 22,
        CGROUP_SYSCTL / "cgroup_sysctl" = 23,
        RAW_TRACEPOINT_WRITABLE / "raw_tracepoint_writable" = 24,
        CGROUP_SOCKOPT / "cgroup_sockopt" = 25,
        TRACING / "tracing" = 26,
        STRUCT_OPS / "struct_ops" = 27,
        EXT / "ext" = 28,
        LSM / "lsm" = 29,
        SK_LOOKUP / "sk_lookup" = 30,
        SYSCALL / "syscall" = 31,
        NETFILTER / "netfilter" = 32,
    }
}

uapi_enum! {
    /// An expected attach type (`BPF_*` of `enum bpf_attach_type`).
    AttachType, "attach type" {
        CGROUP_INET_INGRESS / "cgroup_inet_ingress" = 0,
        CGROUP_INET_EGRESS / "cgroup_inet_egress" = 1,
        CGROUP_INET_SOCK_CREATE / "cgroup_inet_sock_create" = 2,
        CGROUP_SOCK_OPS / "cgroup_sock_ops" = 3,
        SK_SKB_STREAM_PARSER / "sk_skb_stream_parser" = 4,
        SK_SKB_STREAM_VERDICT / "sk_skb_stream_verdict" = 5,
        CGROUP_DEVICE / "cgroup_device" = 6,
        SK_MSG_VERDICT / "sk_msg_verdict" = 7,
        CGROUP_INET4_BIND / "cgroup_inet4_bind" = 8,
        CGROUP_INET6_BIND / "cgroup_inet6_bind" = 9,
        CGROUP_INET4_CONNECT / "cgroup_inet4_connect" = 10,
        CGROUP_INET6_CONNECT / "cgroup_inet6_connect" = 11,
        CGROUP_INET4_POST_BIND / "cgroup_inet4_post_bind" = 12,
        CGROUP_INET6_POST_BIND / "cgroup_inet6_post_bind" = 13,
        CGROUP_UDP4_SENDMSG / "cgroup_udp4_sendmsg" = 14,
        CGROUP_UDP6_SENDMSG / "cgroup_udp6_sendmsg" = 15,
        LIRC_MODE2 / "lirc_mode2" = 16,
        FLOW_DISSECTOR / "flow_dissector" = 17,
        CGROUP_SYSCTL / "cgroup_sysctl" = 18,
        CGROUP_UDP4_RECVMSG / "cgroup_udp4_recvmsg" = 19,
        CGROUP_UDP6_RECVMSG / "cgroup_udp6_recvmsg" = 20,
        CGROUP_GETSOCKOPT / "cgroup_getsockopt" = 21,
        CGROUP_SETSOCKOPT / "cgroup_setsockopt" = 22,
        TRACE_RAW_TP / "trace_raw_tp" = 23,
        TRACE_FENTRY / "trace_fentry" = 24,
        TRACE_FEXIT / "trace_fexit" = 25,
        MODIFY_RETURN / "modify_return" = 26,
        LSM_MAC / "lsm_mac" = 27,
        TRACE_ITER / "trace_iter" = 28,
        CGROUP_INET4_GETPEERNAME / "cgroup_inet4_getpeername" = 29,
        CGROUP_INET6_GETPEERNAME / "cgroup_inet6_getpeername" = 30,
        CGROUP_INET4_GETSOCKNAME / "cgroup_inet4_getsockname" = 31,
        CGROUP_INET6_GETSOCKNAME / "cgroup_inet6_getsockname" = 32,
        XDP_DEVMAP / "xdp_devmap" = 33,
        CGROUP_INET_SOCK_RELEASE / "cgroup_inet_sock_release" = 34,
        XDP_CPUMAP / "xdp_cpumap" = 35,
        SK_LOOKUP / "sk_lookup" = 36,
        XDP / "xdp" = 37,
        SK_SKB_VERDICT / "sk_skb_verdict" = 38,
        SK_REUSEPORT_SELECT / "sk_reuseport_select" = 39,
        SK_REUSEPORT_SELECT_OR_MIGRATE / "sk_reuseport_select_or_migrate" = 40,
        PERF_EVENT / "perf_event" = 41,
        TRACE_KPROBE_MULTI / "trace_kprobe_multi" = 42,
        LSM_CGROUP / "lsm_cgroup" = 43,
        STRUCT_OPS / "struct_ops" = 44,
        NETFILTER / "netfilter" = 45,
        TCX_INGRESS / "tcx_ingress" = 46,
        TCX_EGRESS / "tcx_egress" = 47,
        TRACE_UPROBE_MULTI / "trace_uprobe_multi" = 48,
        CGROUP_UNIX_CONNECT / "cgroup_unix_connect" = 49,
        CGROUP_UNIX_SENDMSG / "cgroup_unix_sendmsg" = 50,
        CGROUP_UNIX_RECVMSG / "cgroup_unix_recvmsg" = 51,
        CGROUP_UNIX_GETPEERNAME / "cgroup_unix_getpeername" = 52,
        CGROUP_UNIX_GETSOCKNAME / "cgroup_unix_getsockname" = 53,
        NETKIT_PRIMARY / "netkit_primary" = 54,
        NETKIT_PEER / "netkit_peer" = 55,
        TRACE_KPROBE_SESSION / "trace_kprobe_session" = 56,
        TRACE_UPROBE_SESSION / "trace_uprobe_session" = 57,
    }
}

uapi_enum! {
    /// A map type (`BPF_MAP_TYPE_*`).
    MapType, "map type" {
        UNSPEC / "unspec" = 0,
        HASH / "hash" = 1,
        ARRAY / "array" = 2,
        PROG_ARRAY / "prog_array" = 3,
        PERF_EVENT_ARRAY / "perf_event_array" = 4,
        PERCPU_HASH / "percpu_hash" = 5,
        PERCPU_ARRAY / "percpu_array" = 6,
        STACK_TRACE / "stack_trace" = 7,
        CGROUP_ARRAY / "cgroup_array" = 8,
        LRU_HASH / "lru_hash" = 9,
        LRU_PERCPU_HASH / "lru_percpu_hash" = 10,
        LPM_TRIE / "lpm_trie" = 11,
        ARRAY_OF_MAPS / "array_of_maps" = 12,
        HASH_OF_MAPS / "hash_of_maps" = 13,
        DEVMAP / "devmap" = 14,
        SOCKMAP / "sockmap" = 15,
        CPUMAP / "cpumap" = 16,
        XSKMAP / "xskmap" = 17,
        SOCKHASH / "sockhash" = 18,
        CGROUP_STORAGE / "cgroup_storage" = 19,
        REUSEPORT_SOCKARRAY / "reuseport_sockarray" = 20,
        PERCPU_CGROUP_STORAGE / "percpu_cgroup_storage" = 21,
        QUEUE / "queue" = 22,
        STACK / "stack" = 23,
        SK_STORAGE / "sk_storage" = 24,
        DEVMAP_HASH / "devmap_hash" = 25,
        STRUCT_OPS / "struct_ops" = 26,
        RINGBUF / "ringbuf" = 27,
        INODE_STORAGE / "inode_storage" = 28,
        TASK_STORAGE / "task_storage" = 29,
        BLOOM_FILTER / "bloom_filter" = 30,
        USER_RINGBUF / "user_ringbuf" = 31,
        CGRP_STORAGE / "cgrp_storage" = 32,
        ARENA / "arena" = 33,
        INSN_ARRAY / "insn_array" = 34,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(ProgType::XDP.name(), Some("xdp"));
        assert_eq!(
            ProgType::from_name("socket_filter"),
            Some(ProgType::SOCKET_FILTER)
        );
        assert_eq!(ProgType::from_name("SCHED_CLS"), Some(ProgType(3)));
        assert_eq!(ProgType::from_name("7"), Some(ProgType::PERF_EVENT));
        assert_eq!(ProgType(99).to_string(), "unknown program type 99");
        assert_eq!(AttachType::TRACE_FENTRY.name(), Some("trace_fentry"));
        assert_eq!(
            MapType::from_name("percpu_cgroup_storage"),
            Some(MapType(21))
        );
        for t in ProgType::all().chain(AttachType::all().map(|a| ProgType(a.0))) {
            let _ = t.to_string();
        }
    }
}
