//! libbpf's `SEC()` name table: which program type, expected attach type and
//! load flags a section name implies.
//!
//! The table is data, in libbpf 1.5's order (first match wins). A pattern
//! ending in `+` matches the bare name or the name followed by `/…`; one
//! ending in `/` requires the suffix; any other pattern matches exactly.

use bpfcheck_uapi::load::{BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS};
use bpfcheck_uapi::{AttachType, ProgType};

/// Flags of a section definition (libbpf's `enum sec_def_flags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SecFlags(u8);

impl SecFlags {
    /// No flag.
    pub const NONE: Self = Self(0);
    /// `expected_attach_type` may be dropped on kernels that lack it.
    pub const EXP_ATTACH_OPT: Self = Self(1);
    /// Historical marker of `BPF_PROG_ATTACH` programs; no effect on loading.
    pub const ATTACHABLE: Self = Self(2);
    /// `ATTACHABLE | EXP_ATTACH_OPT`.
    pub const ATTACHABLE_OPT: Self = Self(3);
    /// The attach target is a BTF id named after the `/` of the section.
    pub const ATTACH_BTF: Self = Self(4);
    /// Loaded with `BPF_F_SLEEPABLE`.
    pub const SLEEPABLE: Self = Self(8);
    /// XDP loaded with `BPF_F_XDP_HAS_FRAGS`.
    pub const XDP_FRAGS: Self = Self(16);
    /// USDT: attach type becomes `BPF_TRACE_UPROBE_MULTI` where supported.
    pub const USDT: Self = Self(32);

    /// Whether all bits of `other` are set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    const fn or(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// One entry of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecDef {
    /// The pattern, e.g. `kprobe+`, `cgroup/bind4`.
    pub pattern: &'static str,
    /// Program type.
    pub prog_type: ProgType,
    /// Expected attach type (0 where libbpf passes none).
    pub attach_type: AttachType,
    /// Flags.
    pub flags: SecFlags,
}

impl SecDef {
    /// Whether a section name (without the `?` prefix) matches.
    pub fn matches(&self, sec_name: &str) -> bool {
        if let Some(prefix) = self.pattern.strip_suffix('+') {
            match sec_name.strip_prefix(prefix) {
                Some(rest) => rest.is_empty() || rest.starts_with('/'),
                None => false,
            }
        } else if self.pattern.ends_with('/') {
            sec_name.starts_with(self.pattern)
        } else {
            sec_name == self.pattern
        }
    }

    /// `prog_flags` the definition implies.
    pub fn prog_flags(&self) -> u32 {
        let mut flags = 0;
        if self.flags.contains(SecFlags::SLEEPABLE) {
            flags |= BPF_F_SLEEPABLE;
        }
        if self.prog_type == ProgType::XDP && self.flags.contains(SecFlags::XDP_FRAGS) {
            flags |= BPF_F_XDP_HAS_FRAGS;
        }
        flags
    }

    /// The expected attach type libbpf passes on a current kernel (USDT
    /// programs use uprobe-multi links there).
    pub fn expected_attach_type(&self) -> AttachType {
        if self.flags.contains(SecFlags::USDT) {
            AttachType::TRACE_UPROBE_MULTI
        } else {
            self.attach_type
        }
    }

    /// For BTF-attached programs, the name of the kernel BTF type to attach
    /// to: the text after the first `/`, with the prefix the kernel's BTF
    /// uses for this attach type (`btf_trace_` typedefs for `tp_btf`,
    /// `bpf_lsm_` functions for LSM, `bpf_iter_` functions for iterators).
    /// `None` when the section names no target.
    pub fn attach_btf_name(&self, sec_name: &str) -> Option<String> {
        if !self.flags.contains(SecFlags::ATTACH_BTF) {
            return None;
        }
        let (_, target) = sec_name.split_once('/')?;
        let prefix = match self.attach_type {
            AttachType::TRACE_RAW_TP => "btf_trace_",
            AttachType::LSM_MAC | AttachType::LSM_CGROUP => "bpf_lsm_",
            AttachType::TRACE_ITER => "bpf_iter_",
            _ => "",
        };
        Some(format!("{prefix}{target}"))
    }
}

/// Finds the definition for a section name (without the `?` prefix).
pub fn find_sec_def(sec_name: &str) -> Option<&'static SecDef> {
    SECTION_DEFS.iter().find(|d| d.matches(sec_name))
}

const fn def(
    pattern: &'static str,
    prog_type: ProgType,
    attach: AttachType,
    flags: SecFlags,
) -> SecDef {
    SecDef {
        pattern,
        prog_type,
        attach_type: attach,
        flags,
    }
}

use AttachType as A;
use ProgType as P;
use SecFlags as F;

/// No expected attach type.
const NO: AttachType = AttachType(0);

/// libbpf 1.5's `section_defs`, in its order.
pub static SECTION_DEFS: &[SecDef] = &[
    def("socket", P::SOCKET_FILTER, NO, F::NONE),
    def(
        "sk_reuseport/migrate",
        P::SK_REUSEPORT,
        A::SK_REUSEPORT_SELECT_OR_MIGRATE,
        F::ATTACHABLE,
    ),
    def(
        "sk_reuseport",
        P::SK_REUSEPORT,
        A::SK_REUSEPORT_SELECT,
        F::ATTACHABLE,
    ),
    def("kprobe+", P::KPROBE, NO, F::NONE),
    def("uprobe+", P::KPROBE, NO, F::NONE),
    def("uprobe.s+", P::KPROBE, NO, F::SLEEPABLE),
    def("kretprobe+", P::KPROBE, NO, F::NONE),
    def("uretprobe+", P::KPROBE, NO, F::NONE),
    def("uretprobe.s+", P::KPROBE, NO, F::SLEEPABLE),
    def("kprobe.multi+", P::KPROBE, A::TRACE_KPROBE_MULTI, F::NONE),
    def(
        "kretprobe.multi+",
        P::KPROBE,
        A::TRACE_KPROBE_MULTI,
        F::NONE,
    ),
    def(
        "kprobe.session+",
        P::KPROBE,
        A::TRACE_KPROBE_SESSION,
        F::NONE,
    ),
    def("uprobe.multi+", P::KPROBE, A::TRACE_UPROBE_MULTI, F::NONE),
    def(
        "uretprobe.multi+",
        P::KPROBE,
        A::TRACE_UPROBE_MULTI,
        F::NONE,
    ),
    def(
        "uprobe.multi.s+",
        P::KPROBE,
        A::TRACE_UPROBE_MULTI,
        F::SLEEPABLE,
    ),
    def(
        "uretprobe.multi.s+",
        P::KPROBE,
        A::TRACE_UPROBE_MULTI,
        F::SLEEPABLE,
    ),
    def("ksyscall+", P::KPROBE, NO, F::NONE),
    def("kretsyscall+", P::KPROBE, NO, F::NONE),
    def("usdt+", P::KPROBE, NO, F::USDT),
    def("usdt.s+", P::KPROBE, NO, F::USDT.or(F::SLEEPABLE)),
    def("tc/ingress", P::SCHED_CLS, A::TCX_INGRESS, F::NONE),
    def("tc/egress", P::SCHED_CLS, A::TCX_EGRESS, F::NONE),
    def("tcx/ingress", P::SCHED_CLS, A::TCX_INGRESS, F::NONE),
    def("tcx/egress", P::SCHED_CLS, A::TCX_EGRESS, F::NONE),
    def("tc", P::SCHED_CLS, NO, F::NONE),
    def("classifier", P::SCHED_CLS, NO, F::NONE),
    def("action", P::SCHED_ACT, NO, F::NONE),
    def("netkit/primary", P::SCHED_CLS, A::NETKIT_PRIMARY, F::NONE),
    def("netkit/peer", P::SCHED_CLS, A::NETKIT_PEER, F::NONE),
    def("tracepoint+", P::TRACEPOINT, NO, F::NONE),
    def("tp+", P::TRACEPOINT, NO, F::NONE),
    def("raw_tracepoint+", P::RAW_TRACEPOINT, NO, F::NONE),
    def("raw_tp+", P::RAW_TRACEPOINT, NO, F::NONE),
    def("raw_tracepoint.w+", P::RAW_TRACEPOINT_WRITABLE, NO, F::NONE),
    def("raw_tp.w+", P::RAW_TRACEPOINT_WRITABLE, NO, F::NONE),
    def("tp_btf+", P::TRACING, A::TRACE_RAW_TP, F::ATTACH_BTF),
    def("fentry+", P::TRACING, A::TRACE_FENTRY, F::ATTACH_BTF),
    def("fmod_ret+", P::TRACING, A::MODIFY_RETURN, F::ATTACH_BTF),
    def("fexit+", P::TRACING, A::TRACE_FEXIT, F::ATTACH_BTF),
    def(
        "fentry.s+",
        P::TRACING,
        A::TRACE_FENTRY,
        F::ATTACH_BTF.or(F::SLEEPABLE),
    ),
    def(
        "fmod_ret.s+",
        P::TRACING,
        A::MODIFY_RETURN,
        F::ATTACH_BTF.or(F::SLEEPABLE),
    ),
    def(
        "fexit.s+",
        P::TRACING,
        A::TRACE_FEXIT,
        F::ATTACH_BTF.or(F::SLEEPABLE),
    ),
    def("freplace+", P::EXT, NO, F::ATTACH_BTF),
    def("lsm+", P::LSM, A::LSM_MAC, F::ATTACH_BTF),
    def("lsm.s+", P::LSM, A::LSM_MAC, F::ATTACH_BTF.or(F::SLEEPABLE)),
    def("lsm_cgroup+", P::LSM, A::LSM_CGROUP, F::ATTACH_BTF),
    def("iter+", P::TRACING, A::TRACE_ITER, F::ATTACH_BTF),
    def(
        "iter.s+",
        P::TRACING,
        A::TRACE_ITER,
        F::ATTACH_BTF.or(F::SLEEPABLE),
    ),
    def("syscall", P::SYSCALL, NO, F::SLEEPABLE),
    def("xdp.frags/devmap", P::XDP, A::XDP_DEVMAP, F::XDP_FRAGS),
    def("xdp/devmap", P::XDP, A::XDP_DEVMAP, F::ATTACHABLE),
    def("xdp.frags/cpumap", P::XDP, A::XDP_CPUMAP, F::XDP_FRAGS),
    def("xdp/cpumap", P::XDP, A::XDP_CPUMAP, F::ATTACHABLE),
    def("xdp.frags", P::XDP, A::XDP, F::XDP_FRAGS),
    def("xdp", P::XDP, A::XDP, F::ATTACHABLE_OPT),
    def("perf_event", P::PERF_EVENT, NO, F::NONE),
    def("lwt_in", P::LWT_IN, NO, F::NONE),
    def("lwt_out", P::LWT_OUT, NO, F::NONE),
    def("lwt_xmit", P::LWT_XMIT, NO, F::NONE),
    def("lwt_seg6local", P::LWT_SEG6LOCAL, NO, F::NONE),
    def(
        "sockops",
        P::SOCK_OPS,
        A::CGROUP_SOCK_OPS,
        F::ATTACHABLE_OPT,
    ),
    def(
        "sk_skb/stream_parser",
        P::SK_SKB,
        A::SK_SKB_STREAM_PARSER,
        F::ATTACHABLE_OPT,
    ),
    def(
        "sk_skb/stream_verdict",
        P::SK_SKB,
        A::SK_SKB_STREAM_VERDICT,
        F::ATTACHABLE_OPT,
    ),
    def(
        "sk_skb/verdict",
        P::SK_SKB,
        A::SK_SKB_VERDICT,
        F::ATTACHABLE_OPT,
    ),
    def("sk_skb", P::SK_SKB, NO, F::NONE),
    def("sk_msg", P::SK_MSG, A::SK_MSG_VERDICT, F::ATTACHABLE_OPT),
    def(
        "lirc_mode2",
        P::LIRC_MODE2,
        A::LIRC_MODE2,
        F::ATTACHABLE_OPT,
    ),
    def(
        "flow_dissector",
        P::FLOW_DISSECTOR,
        A::FLOW_DISSECTOR,
        F::ATTACHABLE_OPT,
    ),
    def(
        "cgroup_skb/ingress",
        P::CGROUP_SKB,
        A::CGROUP_INET_INGRESS,
        F::ATTACHABLE_OPT,
    ),
    def(
        "cgroup_skb/egress",
        P::CGROUP_SKB,
        A::CGROUP_INET_EGRESS,
        F::ATTACHABLE_OPT,
    ),
    def("cgroup/skb", P::CGROUP_SKB, NO, F::NONE),
    def(
        "cgroup/sock_create",
        P::CGROUP_SOCK,
        A::CGROUP_INET_SOCK_CREATE,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/sock_release",
        P::CGROUP_SOCK,
        A::CGROUP_INET_SOCK_RELEASE,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/sock",
        P::CGROUP_SOCK,
        A::CGROUP_INET_SOCK_CREATE,
        F::ATTACHABLE_OPT,
    ),
    def(
        "cgroup/post_bind4",
        P::CGROUP_SOCK,
        A::CGROUP_INET4_POST_BIND,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/post_bind6",
        P::CGROUP_SOCK,
        A::CGROUP_INET6_POST_BIND,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/bind4",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_INET4_BIND,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/bind6",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_INET6_BIND,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/connect4",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_INET4_CONNECT,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/connect6",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_INET6_CONNECT,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/connect_unix",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_UNIX_CONNECT,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/sendmsg4",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_UDP4_SENDMSG,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/sendmsg6",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_UDP6_SENDMSG,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/sendmsg_unix",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_UNIX_SENDMSG,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/recvmsg4",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_UDP4_RECVMSG,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/recvmsg6",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_UDP6_RECVMSG,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/recvmsg_unix",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_UNIX_RECVMSG,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/getpeername4",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_INET4_GETPEERNAME,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/getpeername6",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_INET6_GETPEERNAME,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/getpeername_unix",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_UNIX_GETPEERNAME,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/getsockname4",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_INET4_GETSOCKNAME,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/getsockname6",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_INET6_GETSOCKNAME,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/getsockname_unix",
        P::CGROUP_SOCK_ADDR,
        A::CGROUP_UNIX_GETSOCKNAME,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/sysctl",
        P::CGROUP_SYSCTL,
        A::CGROUP_SYSCTL,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/getsockopt",
        P::CGROUP_SOCKOPT,
        A::CGROUP_GETSOCKOPT,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/setsockopt",
        P::CGROUP_SOCKOPT,
        A::CGROUP_SETSOCKOPT,
        F::ATTACHABLE,
    ),
    def(
        "cgroup/dev",
        P::CGROUP_DEVICE,
        A::CGROUP_DEVICE,
        F::ATTACHABLE_OPT,
    ),
    def("struct_ops+", P::STRUCT_OPS, NO, F::NONE),
    def("struct_ops.s+", P::STRUCT_OPS, NO, F::SLEEPABLE),
    def("sk_lookup", P::SK_LOOKUP, A::SK_LOOKUP, F::ATTACHABLE),
    def("netfilter", P::NETFILTER, A::NETFILTER, F::NONE),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> (ProgType, AttachType, u32) {
        let d = find_sec_def(name).unwrap_or_else(|| panic!("{name} not found"));
        (d.prog_type, d.expected_attach_type(), d.prog_flags())
    }

    #[test]
    fn patterns_match_like_libbpf() {
        assert_eq!(lookup("kprobe/do_sys_open").0, ProgType::KPROBE);
        assert_eq!(lookup("kprobe").0, ProgType::KPROBE);
        // `kprobe+` needs a `/` separator; `kprobe.multi/…` is its own entry.
        assert_eq!(
            lookup("kprobe.multi/foo*").1,
            AttachType::TRACE_KPROBE_MULTI
        );
        assert!(find_sec_def("kprobefoo").is_none());
        assert_eq!(lookup("xdp"), (ProgType::XDP, AttachType::XDP, 0));
        assert_eq!(
            lookup("xdp.frags"),
            (ProgType::XDP, AttachType::XDP, BPF_F_XDP_HAS_FRAGS)
        );
        assert!(find_sec_def("xdp/foo").is_none());
        assert_eq!(lookup("xdp/devmap").1, AttachType::XDP_DEVMAP);
        assert_eq!(lookup("tc/ingress").1, AttachType::TCX_INGRESS);
        assert_eq!(lookup("tc").0, ProgType::SCHED_CLS);
        assert_eq!(
            lookup("cgroup/connect6").1,
            AttachType::CGROUP_INET6_CONNECT
        );
        assert_eq!(lookup("cgroup/sock").1, AttachType::CGROUP_INET_SOCK_CREATE);
        assert_eq!(lookup("fentry.s/foo").2, BPF_F_SLEEPABLE);
        assert_eq!(lookup("syscall").2, BPF_F_SLEEPABLE);
        assert_eq!(lookup("usdt/a:b:c").1, AttachType::TRACE_UPROBE_MULTI);
        assert_eq!(lookup("netfilter").1, AttachType::NETFILTER);
        assert_eq!(lookup("struct_ops/test_1").0, ProgType::STRUCT_OPS);
        assert_eq!(
            lookup("sk_reuseport/migrate").1,
            AttachType::SK_REUSEPORT_SELECT_OR_MIGRATE
        );
    }

    #[test]
    fn attach_targets_carry_kernel_prefixes() {
        let name = |s: &str| find_sec_def(s).and_then(|d| d.attach_btf_name(s));
        assert_eq!(name("fentry/tcp_connect").as_deref(), Some("tcp_connect"));
        assert_eq!(
            name("tp_btf/sched_switch").as_deref(),
            Some("btf_trace_sched_switch")
        );
        assert_eq!(
            name("lsm.s/file_open").as_deref(),
            Some("bpf_lsm_file_open")
        );
        assert_eq!(name("iter/task").as_deref(), Some("bpf_iter_task"));
        assert_eq!(name("fentry"), None);
        assert_eq!(name("kprobe/foo"), None);
    }
}
