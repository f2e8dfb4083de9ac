//! Context access of the socket-level program types, net/core/filter.c:
//! stream parsers and verdicts (`sk_skb_is_valid_access` on top of
//! `bpf_skb_is_valid_access`), message verdicts (`sk_msg_is_valid_access`
//! over `struct sk_msg_md`), the flow dissector
//! (`flow_dissector_is_valid_access`: only `data`, `data_end` and
//! `flow_keys`), reuseport selection (`sk_reuseport_is_valid_access` over
//! `struct sk_reuseport_md`) and socket lookup (`sk_lookup_is_valid_access`
//! over `struct bpf_sk_lookup`). All are read-only but two `__sk_buff`
//! words of `sk_skb`. The rules are the same from 6.12 to 7.2.

use std::ops::Range;

use super::ctx::{PacketField, Verdict};
use super::ctx_net::skb_full_access;

/// `sizeof(struct __sk_buff)`.
const SK_BUFF_SIZE: i32 = 192;

/// `struct __sk_buff` fields these rules name (byte ranges).
mod skb {
    use std::ops::Range;
    pub(super) const MARK: Range<i32> = 8..12;
    pub(super) const PRIORITY: Range<i32> = 32..36;
    pub(super) const TC_INDEX: Range<i32> = 44..48;
    pub(super) const TC_CLASSID: Range<i32> = 72..76;
    pub(super) const DATA: Range<i32> = 76..80;
    pub(super) const DATA_END: Range<i32> = 80..84;
    pub(super) const DATA_META: Range<i32> = 140..144;
    pub(super) const FLOW_KEYS: Range<i32> = 144..152;
    pub(super) const TSTAMP: Range<i32> = 152..160;
    pub(super) const WIRE_LEN: Range<i32> = 160..164;
    pub(super) const HWTSTAMP: Range<i32> = 184..192;
}

/// `struct sk_msg_md` offsets.
mod msg {
    use std::ops::Range;
    pub(super) const DATA: Range<i32> = 0..8;
    pub(super) const DATA_END: Range<i32> = 8..16;
    /// `family` through `size`: eleven words.
    pub(super) const WORDS: Range<i32> = 16..72;
    pub(super) const SK: Range<i32> = 72..80;
}

/// `struct sk_reuseport_md` offsets.
mod reuseport {
    use std::ops::Range;
    pub(super) const DATA: i32 = 0;
    pub(super) const DATA_END: i32 = 8;
    pub(super) const LEN: Range<i32> = 16..20;
    pub(super) const ETH_PROTOCOL: Range<i32> = 20..24;
    /// `ip_protocol` and `bind_inany`.
    pub(super) const IP_PROTOCOL_TILL_BIND_INANY: Range<i32> = 24..32;
    pub(super) const HASH: i32 = 32;
    pub(super) const SK: i32 = 40;
    pub(super) const MIGRATING_SK: i32 = 48;
    pub(super) const SIZE: i32 = 56;
}

/// `struct bpf_sk_lookup` offsets.
mod lookup {
    use std::ops::Range;
    pub(super) const SK: Range<i32> = 0..8;
    /// `family` through `remote_ip6[3]`.
    pub(super) const FAMILY_TILL_REMOTE_IP6: Range<i32> = 8..36;
    pub(super) const REMOTE_PORT: Range<i32> = 36..38;
    /// The 16 bits of zero padding after `remote_port`.
    pub(super) const PADDING: Range<i32> = 38..40;
    /// `local_ip4` through `ingress_ifindex`.
    pub(super) const LOCAL_IP4_TILL_IFINDEX: Range<i32> = 40..68;
    pub(super) const SIZE: i32 = 72;
}

/// `bpf_ctx_narrow_access_ok`: a power of two no wider than the field.
fn narrow_ok(size: i32, field: i32) -> bool {
    size <= field && size.count_ones() == 1
}

fn within(r: &Range<i32>, off: i32) -> bool {
    r.contains(&off)
}

/// `sk_skb_is_valid_access`: no metadata, classid, timestamps or `mark`;
/// only `tc_index` and `priority` written; `data` and `data_end` load
/// packet pointers.
pub(super) fn sk_skb_access(off: i32, size: i32, write: bool, ldsx: bool) -> Verdict {
    let hidden = [
        &skb::TC_CLASSID,
        &skb::DATA_META,
        &skb::TSTAMP,
        &skb::WIRE_LEN,
        &skb::HWTSTAMP,
        &skb::MARK,
    ];
    if hidden.iter().any(|r| within(r, off)) {
        return Verdict::Invalid;
    }
    if write && !within(&skb::TC_INDEX, off) && !within(&skb::PRIORITY, off) {
        return Verdict::Invalid;
    }
    let field = if within(&skb::DATA, off) {
        Some(PacketField::Data)
    } else if within(&skb::DATA_END, off) {
        Some(PacketField::End)
    } else {
        None
    };
    match (skb_full_access(off, size, write, ldsx), field) {
        (Verdict::Scalar, Some(field)) => Verdict::Packet(field),
        (v, _) => v,
    }
}

/// `sk_msg_is_valid_access`: the two packet pointers and the socket
/// whole, every other field a whole word.
pub(super) fn sk_msg_access(off: i32, size: i32, write: bool) -> Verdict {
    if write || off % size != 0 {
        return Verdict::Invalid;
    }
    let (ok, what) = if within(&msg::DATA, off) {
        (size == 8, Verdict::Packet(PacketField::Data))
    } else if within(&msg::DATA_END, off) {
        (size == 8, Verdict::Packet(PacketField::End))
    } else if within(&msg::SK, off) {
        (size == 8, Verdict::Socket)
    } else if within(&msg::WORDS, off) {
        (size == 4, Verdict::Scalar)
    } else {
        (false, Verdict::Invalid)
    };
    if ok { what } else { Verdict::Invalid }
}

/// `flow_dissector_is_valid_access`: reads of `data`, `data_end` (whole
/// words, not sign-extended) and the `flow_keys` pointer, nothing else.
pub(super) fn flow_dissector_access(off: i32, size: i32, write: bool, ldsx: bool) -> Verdict {
    if !(0..SK_BUFF_SIZE).contains(&off) || off % size != 0 || write {
        return Verdict::Invalid;
    }
    if within(&skb::DATA, off) || within(&skb::DATA_END, off) {
        if ldsx || size != 4 {
            return Verdict::Invalid;
        }
        let field = if within(&skb::DATA, off) {
            PacketField::Data
        } else {
            PacketField::End
        };
        return Verdict::Packet(field);
    }
    if within(&skb::FLOW_KEYS, off) && size == 8 {
        return Verdict::FlowKeys;
    }
    Verdict::Invalid
}

/// `sk_reuseport_is_valid_access`: the pointers whole at their own
/// offsets, `hash` whole, the other numbers narrowly (`eth_protocol` at
/// least as wide as `skb->protocol`).
pub(super) fn sk_reuseport_access(off: i32, size: i32, write: bool) -> Verdict {
    if !(0..reuseport::SIZE).contains(&off) || off % size != 0 || write {
        return Verdict::Invalid;
    }
    let whole = |v: Verdict, want: i32| if size == want { v } else { Verdict::Invalid };
    match off {
        reuseport::DATA => whole(Verdict::Packet(PacketField::Data), 8),
        reuseport::DATA_END => whole(Verdict::Packet(PacketField::End), 8),
        reuseport::HASH => whole(Verdict::Scalar, 4),
        reuseport::SK => whole(Verdict::Socket, 8),
        reuseport::MIGRATING_SK => whole(Verdict::SockPointer, 8),
        _ if within(&reuseport::ETH_PROTOCOL, off) && size < 2 => Verdict::Invalid,
        _ if within(&reuseport::LEN, off)
            || within(&reuseport::ETH_PROTOCOL, off)
            || within(&reuseport::IP_PROTOCOL_TILL_BIND_INANY, off) =>
        {
            Verdict::scalar_if(narrow_ok(size, 4))
        }
        _ => Verdict::Invalid,
    }
}

/// `sk_lookup_is_valid_access`: the selected socket (or NULL) whole, the
/// numbers narrowly; `remote_port` also as a whole word and its padding
/// readable, for older programs.
pub(super) fn sk_lookup_access(off: i32, size: i32, write: bool) -> Verdict {
    if !(0..lookup::SIZE).contains(&off) || off % size != 0 || write {
        return Verdict::Invalid;
    }
    if within(&lookup::SK, off) {
        return if size == 8 {
            Verdict::FullSockPointer
        } else {
            Verdict::Invalid
        };
    }
    let ok = if within(&lookup::FAMILY_TILL_REMOTE_IP6, off)
        || within(&lookup::LOCAL_IP4_TILL_IFINDEX, off)
    {
        narrow_ok(size, 4)
    } else if within(&lookup::REMOTE_PORT, off) {
        size == 4 || narrow_ok(size, 2)
    } else if within(&lookup::PADDING, off) {
        narrow_ok(size, 2)
    } else {
        false
    };
    Verdict::scalar_if(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sk_skb_rules() {
        assert_eq!(
            sk_skb_access(76, 4, false, false),
            Verdict::Packet(PacketField::Data)
        );
        assert_eq!(
            sk_skb_access(80, 4, false, false),
            Verdict::Packet(PacketField::End)
        );
        assert_eq!(sk_skb_access(76, 4, false, true), Verdict::Invalid);
        assert_eq!(sk_skb_access(140, 4, false, false), Verdict::Invalid);
        assert_eq!(sk_skb_access(8, 4, false, false), Verdict::Invalid);
        assert_eq!(sk_skb_access(0, 2, false, false), Verdict::Scalar);
        // Only tc_index and priority are written, whole.
        assert_eq!(sk_skb_access(44, 4, true, false), Verdict::Scalar);
        assert_eq!(sk_skb_access(32, 4, true, false), Verdict::Scalar);
        assert_eq!(sk_skb_access(32, 2, true, false), Verdict::Invalid);
        assert_eq!(sk_skb_access(48, 4, true, false), Verdict::Invalid);
        // cb[] is readable; socket fields too (addresses whole).
        assert_eq!(sk_skb_access(48, 8, false, false), Verdict::Scalar);
        assert_eq!(sk_skb_access(88, 2, false, false), Verdict::Scalar);
        assert_eq!(sk_skb_access(92, 4, false, false), Verdict::Scalar);
        assert_eq!(sk_skb_access(92, 2, false, false), Verdict::Invalid);
        assert_eq!(sk_skb_access(132, 2, false, false), Verdict::Scalar);
        assert_eq!(sk_skb_access(168, 8, false, false), Verdict::SockPointer);
        assert_eq!(sk_skb_access(152, 8, false, false), Verdict::Invalid);
        assert_eq!(sk_skb_access(180, 1, false, false), Verdict::Invalid);
        assert_eq!(sk_skb_access(144, 8, false, false), Verdict::Invalid);
    }

    #[test]
    fn sk_msg_rules() {
        assert_eq!(
            sk_msg_access(0, 8, false),
            Verdict::Packet(PacketField::Data)
        );
        assert_eq!(
            sk_msg_access(8, 8, false),
            Verdict::Packet(PacketField::End)
        );
        assert_eq!(sk_msg_access(0, 4, false), Verdict::Invalid);
        assert_eq!(sk_msg_access(0, 8, true), Verdict::Invalid);
        assert_eq!(sk_msg_access(16, 4, false), Verdict::Scalar);
        assert_eq!(sk_msg_access(16, 2, false), Verdict::Invalid);
        assert_eq!(sk_msg_access(68, 4, false), Verdict::Scalar);
        assert_eq!(sk_msg_access(68, 4, true), Verdict::Invalid);
        assert_eq!(sk_msg_access(72, 8, false), Verdict::Socket);
        assert_eq!(sk_msg_access(72, 4, false), Verdict::Invalid);
        assert_eq!(sk_msg_access(80, 4, false), Verdict::Invalid);
        assert_eq!(sk_msg_access(30, 4, false), Verdict::Invalid);
    }

    #[test]
    fn flow_dissector_rules() {
        assert_eq!(
            flow_dissector_access(76, 4, false, false),
            Verdict::Packet(PacketField::Data)
        );
        assert_eq!(
            flow_dissector_access(80, 4, false, false),
            Verdict::Packet(PacketField::End)
        );
        assert_eq!(flow_dissector_access(80, 4, false, true), Verdict::Invalid);
        assert_eq!(flow_dissector_access(76, 2, false, false), Verdict::Invalid);
        assert_eq!(
            flow_dissector_access(144, 8, false, false),
            Verdict::FlowKeys
        );
        assert_eq!(
            flow_dissector_access(144, 4, false, false),
            Verdict::Invalid
        );
        assert_eq!(flow_dissector_access(144, 8, true, false), Verdict::Invalid);
        assert_eq!(flow_dissector_access(0, 4, false, false), Verdict::Invalid);
        assert_eq!(flow_dissector_access(48, 4, false, false), Verdict::Invalid);
    }

    #[test]
    fn sk_reuseport_rules() {
        assert_eq!(
            sk_reuseport_access(0, 8, false),
            Verdict::Packet(PacketField::Data)
        );
        assert_eq!(sk_reuseport_access(4, 4, false), Verdict::Invalid);
        assert_eq!(
            sk_reuseport_access(8, 8, false),
            Verdict::Packet(PacketField::End)
        );
        assert_eq!(sk_reuseport_access(16, 4, false), Verdict::Scalar);
        assert_eq!(sk_reuseport_access(18, 2, false), Verdict::Scalar);
        assert_eq!(sk_reuseport_access(16, 4, true), Verdict::Invalid);
        assert_eq!(sk_reuseport_access(20, 1, false), Verdict::Invalid);
        assert_eq!(sk_reuseport_access(22, 2, false), Verdict::Scalar);
        assert_eq!(sk_reuseport_access(25, 1, false), Verdict::Scalar);
        assert_eq!(sk_reuseport_access(32, 4, false), Verdict::Scalar);
        assert_eq!(sk_reuseport_access(32, 2, false), Verdict::Invalid);
        assert_eq!(sk_reuseport_access(36, 4, false), Verdict::Invalid);
        assert_eq!(sk_reuseport_access(40, 8, false), Verdict::Socket);
        assert_eq!(sk_reuseport_access(48, 8, false), Verdict::SockPointer);
        assert_eq!(sk_reuseport_access(48, 4, false), Verdict::Invalid);
        assert_eq!(sk_reuseport_access(56, 4, false), Verdict::Invalid);
    }

    #[test]
    fn sk_lookup_rules() {
        assert_eq!(sk_lookup_access(0, 8, false), Verdict::FullSockPointer);
        assert_eq!(sk_lookup_access(0, 4, false), Verdict::Invalid);
        assert_eq!(sk_lookup_access(0, 8, true), Verdict::Invalid);
        assert_eq!(sk_lookup_access(8, 4, false), Verdict::Scalar);
        assert_eq!(sk_lookup_access(9, 1, false), Verdict::Scalar);
        assert_eq!(sk_lookup_access(8, 8, false), Verdict::Invalid);
        assert_eq!(sk_lookup_access(36, 4, false), Verdict::Scalar);
        assert_eq!(sk_lookup_access(36, 2, false), Verdict::Scalar);
        assert_eq!(sk_lookup_access(37, 1, false), Verdict::Scalar);
        assert_eq!(sk_lookup_access(38, 2, false), Verdict::Scalar);
        assert_eq!(sk_lookup_access(38, 4, false), Verdict::Invalid);
        assert_eq!(sk_lookup_access(64, 4, false), Verdict::Scalar);
        assert_eq!(sk_lookup_access(68, 4, false), Verdict::Invalid);
        assert_eq!(sk_lookup_access(72, 4, false), Verdict::Invalid);
    }
}
