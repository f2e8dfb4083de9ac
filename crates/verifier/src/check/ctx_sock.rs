//! Context access of cgroup socket programs (`sock_filter_is_valid_access`:
//! `struct bpf_sock` by `bpf_sock_is_valid_access`, then which fields the
//! attach type may see or set) and cgroup socket-address programs
//! (`sock_addr_is_valid_access` over `struct bpf_sock_addr`) and socket
//! operation programs (`sock_ops_is_valid_access` over `struct
//! bpf_sock_ops`), net/core/filter.c, and netfilter programs
//! (`nf_is_valid_access`, net/netfilter/nf_bpf_link.c). Every field is a
//! number but the socket pointers ([`super::sock`]) and the packet and
//! BTF pointers, which are not modelled.

use bpfcheck_uapi::AttachType;

use super::ctx::Verdict;

/// `struct bpf_sock` offsets.
mod sock {
    use std::ops::Range;
    pub(super) const BOUND_DEV_IF: i32 = 0;
    pub(super) const FAMILY: i32 = 4;
    pub(super) const TYPE: i32 = 8;
    pub(super) const PROTOCOL: i32 = 12;
    pub(super) const MARK: i32 = 16;
    pub(super) const PRIORITY: i32 = 20;
    pub(super) const SRC_IP4: Range<i32> = 24..28;
    pub(super) const SRC_IP6: Range<i32> = 28..44;
    pub(super) const SRC_PORT: i32 = 44;
    pub(super) const DST_PORT: Range<i32> = 48..50;
    /// The 16 bits of padding after `dst_port`.
    pub(super) const PADDING: Range<i32> = 50..52;
    pub(super) const DST_IP4: Range<i32> = 52..56;
    pub(super) const DST_IP6: Range<i32> = 56..72;
    pub(super) const STATE: i32 = 72;
    pub(super) const RX_QUEUE_MAPPING: i32 = 76;
    pub(super) const SIZE: i32 = 80;
}

/// `struct bpf_sock_addr` offsets.
mod addr {
    use std::ops::Range;
    pub(super) const USER_FAMILY: i32 = 0;
    pub(super) const USER_IP4: Range<i32> = 4..8;
    pub(super) const USER_IP6: Range<i32> = 8..24;
    pub(super) const USER_PORT: Range<i32> = 24..28;
    pub(super) const FAMILY: i32 = 28;
    pub(super) const TYPE: i32 = 32;
    pub(super) const PROTOCOL: i32 = 36;
    pub(super) const MSG_SRC_IP4: Range<i32> = 40..44;
    pub(super) const MSG_SRC_IP6: Range<i32> = 44..60;
    pub(super) const SK: i32 = 64;
    pub(super) const SIZE: i32 = 72;
}

/// `struct bpf_sock_ops` offsets.
mod ops {
    use std::ops::Range;
    pub(super) const REPLY: i32 = 4;
    pub(super) const SK_TXHASH: i32 = 164;
    /// `bytes_received` and `bytes_acked`.
    pub(super) const BYTES: Range<i32> = 168..184;
    pub(super) const SK: Range<i32> = 184..192;
    pub(super) const SKB_DATA: Range<i32> = 192..200;
    pub(super) const SKB_DATA_END: Range<i32> = 200..208;
    pub(super) const SKB_TCP_FLAGS: i32 = 212;
    pub(super) const SKB_HWTSTAMP: Range<i32> = 216..224;
    pub(super) const SIZE: i32 = 224;
}

/// `bpf_ctx_narrow_access_ok`: a power of two no wider than the field.
fn narrow_ok(size: i32, field: i32) -> bool {
    size <= field && size.count_ones() == 1
}

/// `bpf_sock_is_valid_access`.
pub(super) fn bpf_sock_access(off: i32, size: i32) -> bool {
    if !(0..sock::SIZE).contains(&off) || off % size != 0 {
        return false;
    }
    let narrow_at = [
        sock::STATE,
        sock::FAMILY,
        sock::TYPE,
        sock::PROTOCOL,
        sock::SRC_PORT,
        sock::RX_QUEUE_MAPPING,
    ];
    let narrow_in = [
        &sock::SRC_IP4,
        &sock::SRC_IP6,
        &sock::DST_IP4,
        &sock::DST_IP6,
    ];
    if narrow_at.contains(&off) || narrow_in.iter().any(|r| r.contains(&off)) {
        return narrow_ok(size, 4);
    }
    if sock::DST_PORT.contains(&off) {
        // A whole word, or the 16-bit port narrowly.
        return size == 4 || narrow_ok(size, 2);
    }
    if sock::PADDING.contains(&off) {
        return false;
    }
    size == 4
}

/// `sock_filter_is_valid_access`: `bpf_sock_is_valid_access`, then
/// `__sock_filter_check_attach_type`.
pub(super) fn cgroup_sock_access(off: i32, size: i32, write: bool, attach: AttachType) -> Verdict {
    use AttachType as A;
    // `bpf_prog_load_fixup_attach_type`: no attach type means socket
    // creation.
    let attach = if attach.0 == 0 {
        A::CGROUP_INET_SOCK_CREATE
    } else {
        attach
    };
    if !bpf_sock_access(off, size) {
        return Verdict::Invalid;
    }
    let post_bind4 = attach == A::CGROUP_INET4_POST_BIND;
    let post_bind6 = attach == A::CGROUP_INET6_POST_BIND;
    let ok = if [sock::BOUND_DEV_IF, sock::MARK, sock::PRIORITY].contains(&off) {
        matches!(
            attach,
            A::CGROUP_INET_SOCK_CREATE | A::CGROUP_INET_SOCK_RELEASE
        )
    } else if sock::SRC_IP4.contains(&off) {
        post_bind4 && !write
    } else if sock::SRC_IP6.contains(&off) {
        post_bind6 && !write
    } else if (sock::SRC_PORT..sock::SRC_PORT + 4).contains(&off) {
        (post_bind4 || post_bind6) && !write
    } else {
        !write
    };
    Verdict::scalar_if(ok)
}

/// `bpf_ctx_wide_access_ok` for an 8-byte access inside `field`.
fn wide_ok(off: i32, size: i32, field: &std::ops::Range<i32>) -> bool {
    size == 8 && off >= field.start && off + 8 <= field.end && off % 8 == 0
}

/// `sock_addr_is_valid_access`.
pub(super) fn sock_addr_access(off: i32, size: i32, write: bool, attach: AttachType) -> Verdict {
    use AttachType as A;
    if !(0..addr::SIZE).contains(&off) || off % size != 0 {
        return Verdict::Invalid;
    }
    // Only the address fields of the attach type's family.
    let family_ok = if addr::USER_IP4.contains(&off) {
        matches!(
            attach,
            A::CGROUP_INET4_BIND
                | A::CGROUP_INET4_CONNECT
                | A::CGROUP_INET4_GETPEERNAME
                | A::CGROUP_INET4_GETSOCKNAME
                | A::CGROUP_UDP4_SENDMSG
                | A::CGROUP_UDP4_RECVMSG
        )
    } else if addr::USER_IP6.contains(&off) {
        matches!(
            attach,
            A::CGROUP_INET6_BIND
                | A::CGROUP_INET6_CONNECT
                | A::CGROUP_INET6_GETPEERNAME
                | A::CGROUP_INET6_GETSOCKNAME
                | A::CGROUP_UDP6_SENDMSG
                | A::CGROUP_UDP6_RECVMSG
        )
    } else if addr::MSG_SRC_IP4.contains(&off) {
        attach == A::CGROUP_UDP4_SENDMSG
    } else if addr::MSG_SRC_IP6.contains(&off) {
        attach == A::CGROUP_UDP6_SENDMSG
    } else {
        true
    };
    if !family_ok {
        return Verdict::Invalid;
    }
    let addresses = [
        &addr::USER_IP4,
        &addr::USER_IP6,
        &addr::MSG_SRC_IP4,
        &addr::MSG_SRC_IP6,
        &addr::USER_PORT,
    ];
    let ok = if addresses.iter().any(|r| r.contains(&off)) {
        wide_ok(off, size, &addr::USER_IP6)
            || wide_ok(off, size, &addr::MSG_SRC_IP6)
            || if write { size == 4 } else { narrow_ok(size, 4) }
    } else if off == addr::SK {
        if write || size != 8 {
            return Verdict::Invalid;
        }
        return Verdict::Socket;
    } else if [addr::USER_FAMILY, addr::FAMILY, addr::TYPE, addr::PROTOCOL].contains(&off) {
        !write && size == 4
    } else {
        false
    };
    Verdict::scalar_if(ok)
}

/// `sock_ops_is_valid_access`; `ctx_size` is `sizeof(struct
/// bpf_sock_ops)` of the kernel (216 before `skb_hwtstamp`, 6.2).
pub(super) fn sock_ops_access(off: i32, size: i32, write: bool, ctx_size: i32) -> Verdict {
    if !(0..ctx_size.min(ops::SIZE)).contains(&off) || off % size != 0 {
        return Verdict::Invalid;
    }
    let ok = if write {
        (off == ops::REPLY || off == ops::SK_TXHASH) && size == 4
    } else if ops::SK.contains(&off) {
        if size != 8 {
            return Verdict::Invalid;
        }
        return Verdict::FullSockPointer;
    } else if ops::SKB_DATA.contains(&off) || ops::SKB_DATA_END.contains(&off) {
        if size != 8 {
            return Verdict::Invalid;
        }
        return Verdict::Unmodelled("direct packet access in sock_ops programs");
    } else if ops::BYTES.contains(&off) || ops::SKB_HWTSTAMP.contains(&off) {
        size == 8
    } else if off == ops::SKB_TCP_FLAGS {
        narrow_ok(size, 4)
    } else {
        size == 4
    };
    Verdict::scalar_if(ok)
}

/// `nf_is_valid_access`: `struct bpf_nf_ctx` holds two pointers, to the
/// hook state and to the `sk_buff`, read whole.
pub(super) fn netfilter_access(off: i32, size: i32, write: bool) -> Verdict {
    if !(0..16).contains(&off) || off % size != 0 || write || size != 8 {
        return Verdict::Invalid;
    }
    // `const struct nf_hook_state *state; struct sk_buff *skb;`
    Verdict::TrustedBtf(if off < 8 { "nf_hook_state" } else { "sk_buff" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use AttachType as A;

    #[test]
    fn cgroup_sock_rules() {
        let create = A::CGROUP_INET_SOCK_CREATE;
        let post4 = A::CGROUP_INET4_POST_BIND;
        assert_eq!(cgroup_sock_access(0, 4, true, create), Verdict::Scalar);
        assert_eq!(cgroup_sock_access(0, 4, false, post4), Verdict::Invalid);
        assert_eq!(cgroup_sock_access(0, 2, false, create), Verdict::Invalid);
        assert_eq!(cgroup_sock_access(4, 2, false, create), Verdict::Scalar);
        assert_eq!(cgroup_sock_access(5, 1, false, create), Verdict::Invalid);
        assert_eq!(cgroup_sock_access(4, 4, true, create), Verdict::Invalid);
        assert_eq!(cgroup_sock_access(24, 4, false, create), Verdict::Invalid);
        assert_eq!(cgroup_sock_access(25, 1, false, post4), Verdict::Scalar);
        assert_eq!(cgroup_sock_access(44, 4, false, post4), Verdict::Scalar);
        assert_eq!(cgroup_sock_access(49, 1, false, create), Verdict::Scalar);
        assert_eq!(cgroup_sock_access(48, 4, false, create), Verdict::Scalar);
        assert_eq!(cgroup_sock_access(50, 2, false, create), Verdict::Invalid);
        assert_eq!(cgroup_sock_access(52, 4, false, create), Verdict::Scalar);
        assert_eq!(cgroup_sock_access(80, 4, false, create), Verdict::Invalid);
        assert_eq!(cgroup_sock_access(16, 4, true, A(0)), Verdict::Scalar);
    }

    #[test]
    fn netfilter_rules() {
        assert_eq!(
            netfilter_access(8, 8, false),
            Verdict::TrustedBtf("sk_buff")
        );
        assert_eq!(
            netfilter_access(0, 8, false),
            Verdict::TrustedBtf("nf_hook_state")
        );
        assert_eq!(netfilter_access(8, 4, false), Verdict::Invalid);
        assert_eq!(netfilter_access(0, 8, true), Verdict::Invalid);
        assert_eq!(netfilter_access(16, 8, false), Verdict::Invalid);
    }

    #[test]
    fn sock_ops_rules() {
        assert_eq!(sock_ops_access(0, 4, false, ops::SIZE), Verdict::Scalar);
        assert_eq!(sock_ops_access(0, 2, false, ops::SIZE), Verdict::Invalid);
        assert_eq!(sock_ops_access(4, 4, true, ops::SIZE), Verdict::Scalar);
        assert_eq!(sock_ops_access(8, 4, true, ops::SIZE), Verdict::Invalid);
        assert_eq!(sock_ops_access(164, 4, true, ops::SIZE), Verdict::Scalar);
        assert_eq!(sock_ops_access(168, 8, false, ops::SIZE), Verdict::Scalar);
        assert_eq!(sock_ops_access(168, 4, false, ops::SIZE), Verdict::Invalid);
        assert_eq!(sock_ops_access(213, 1, false, ops::SIZE), Verdict::Invalid);
        assert_eq!(sock_ops_access(212, 1, false, ops::SIZE), Verdict::Scalar);
        assert_eq!(sock_ops_access(216, 8, false, ops::SIZE), Verdict::Scalar);
        assert_eq!(sock_ops_access(224, 4, false, ops::SIZE), Verdict::Invalid);
        assert!(matches!(
            sock_ops_access(192, 8, false, ops::SIZE),
            Verdict::Unmodelled(_)
        ));
        assert_eq!(sock_ops_access(184, 4, false, ops::SIZE), Verdict::Invalid);
    }

    #[test]
    fn sock_addr_rules() {
        let c4 = A::CGROUP_INET4_CONNECT;
        let s6 = A::CGROUP_UDP6_SENDMSG;
        assert_eq!(sock_addr_access(4, 4, true, c4), Verdict::Scalar);
        assert_eq!(sock_addr_access(5, 1, false, c4), Verdict::Scalar);
        assert_eq!(sock_addr_access(4, 2, true, c4), Verdict::Invalid);
        assert_eq!(sock_addr_access(8, 4, false, c4), Verdict::Invalid);
        assert_eq!(sock_addr_access(8, 8, true, s6), Verdict::Scalar);
        assert_eq!(sock_addr_access(16, 8, false, s6), Verdict::Scalar);
        assert_eq!(sock_addr_access(48, 8, false, s6), Verdict::Scalar);
        assert_eq!(sock_addr_access(24, 2, false, c4), Verdict::Scalar);
        assert_eq!(sock_addr_access(0, 4, false, c4), Verdict::Scalar);
        assert_eq!(sock_addr_access(0, 4, true, c4), Verdict::Invalid);
        assert_eq!(sock_addr_access(28, 2, false, c4), Verdict::Invalid);
        assert_eq!(sock_addr_access(60, 4, false, s6), Verdict::Invalid);
        assert_eq!(sock_addr_access(64, 8, false, c4), Verdict::Socket);
        assert_eq!(sock_addr_access(64, 8, true, c4), Verdict::Invalid);
    }
}
