//! Context access of the networking program types that see packets:
//! tc classifiers and actions (`tc_cls_act_is_valid_access` on top of the
//! full `bpf_skb_is_valid_access`) and XDP (`xdp_is_valid_access`),
//! net/core/filter.c. Their `data`, `data_meta` and `data_end` fields load
//! packet pointers.

use std::ops::Range;

use super::ctx::{PacketField, Verdict};

/// `sizeof(struct __sk_buff)`.
const SK_BUFF_SIZE: i32 = 192;
/// `sizeof(struct xdp_md)`.
const XDP_MD_SIZE: i32 = 24;

/// `struct __sk_buff` fields named by the tc rules (byte ranges).
mod skb {
    use std::ops::Range;
    pub(super) const MARK: Range<i32> = 8..12;
    pub(super) const QUEUE_MAPPING: Range<i32> = 12..16;
    pub(super) const PRIORITY: Range<i32> = 32..36;
    pub(super) const TC_INDEX: Range<i32> = 44..48;
    pub(super) const CB: Range<i32> = 48..68;
    pub(super) const TC_CLASSID: Range<i32> = 72..76;
    pub(super) const DATA: Range<i32> = 76..80;
    pub(super) const DATA_END: Range<i32> = 80..84;
    /// `family` through `local_port`: socket addresses, hidden from tc.
    pub(super) const FAMILY_TILL_LOCAL_PORT: Range<i32> = 88..140;
    /// `remote_ip4` through `local_ip6[3]`: whole words only.
    pub(super) const ADDRESSES: Range<i32> = 92..132;
    pub(super) const DATA_META: Range<i32> = 140..144;
    pub(super) const FLOW_KEYS: Range<i32> = 144..152;
    pub(super) const TSTAMP: Range<i32> = 152..160;
    pub(super) const SK: Range<i32> = 168..176;
    pub(super) const TSTAMP_TYPE: i32 = 180;
    /// Padding after `tstamp_type`.
    pub(super) const PADDING: Range<i32> = 181..184;
    pub(super) const HWTSTAMP: Range<i32> = 184..192;
}

/// `struct xdp_md` offsets.
mod xdp {
    pub(super) const DATA: i32 = 0;
    pub(super) const DATA_END: i32 = 4;
    pub(super) const DATA_META: i32 = 8;
    pub(super) const EGRESS_IFINDEX: i32 = 20;
}

fn within(r: &Range<i32>, off: i32) -> bool {
    r.contains(&off)
}

/// The packet field at `off` of a `struct __sk_buff`, if any.
fn skb_packet_field(off: i32) -> Option<PacketField> {
    if within(&skb::DATA, off) {
        Some(PacketField::Data)
    } else if within(&skb::DATA_META, off) {
        Some(PacketField::Meta)
    } else if within(&skb::DATA_END, off) {
        Some(PacketField::End)
    } else {
        None
    }
}

/// `tc_cls_act_is_valid_access`.
pub(super) fn tc_access(off: i32, size: i32, write: bool, ldsx: bool) -> Verdict {
    let writable = [
        &skb::MARK,
        &skb::TC_INDEX,
        &skb::PRIORITY,
        &skb::TC_CLASSID,
        &skb::CB,
        &skb::TSTAMP,
        &skb::QUEUE_MAPPING,
    ];
    if write && !writable.iter().any(|r| within(r, off)) {
        return Verdict::Invalid;
    }
    if within(&skb::FAMILY_TILL_LOCAL_PORT, off) {
        return Verdict::Invalid;
    }
    if off == skb::TSTAMP_TYPE {
        return if size == 1 {
            Verdict::Scalar
        } else {
            Verdict::Invalid
        };
    }
    match (
        skb_full_access(off, size, write, ldsx),
        skb_packet_field(off),
    ) {
        (Verdict::Scalar, Some(field)) => Verdict::Packet(field),
        (v, _) => v,
    }
}

/// `bpf_skb_is_valid_access`, every field.
pub(super) fn skb_full_access(off: i32, size: i32, write: bool, ldsx: bool) -> Verdict {
    const SIZE_DEFAULT: i32 = 4;
    if !(0..SK_BUFF_SIZE).contains(&off) || off % size != 0 {
        return Verdict::Invalid;
    }
    let ok = if within(&skb::CB, off) {
        off + size <= skb::CB.end
    } else if skb_packet_field(off).is_some() {
        !ldsx && size == SIZE_DEFAULT
    } else if within(&skb::ADDRESSES, off) {
        // The addresses whole; `family` and the ports are plain fields.
        size == SIZE_DEFAULT
    } else if within(&skb::FLOW_KEYS, off) || off == skb::TSTAMP_TYPE || within(&skb::PADDING, off)
    {
        false
    } else if within(&skb::HWTSTAMP, off) {
        !write && size == 8
    } else if within(&skb::TSTAMP, off) {
        size == 8
    } else if within(&skb::SK, off) {
        if write || size != 8 {
            return Verdict::Invalid;
        }
        return Verdict::SockPointer;
    } else if write {
        size == SIZE_DEFAULT
    } else {
        // Narrow reads of a power-of-two size (`bpf_ctx_narrow_access_ok`).
        size <= SIZE_DEFAULT && size.count_ones() == 1
    };
    Verdict::scalar_if(ok)
}

/// `xdp_is_valid_access` for a program that is not offloaded; `devmap`
/// when it is attached to a device map (`BPF_XDP_DEVMAP`).
pub(super) fn xdp_access(off: i32, size: i32, write: bool, ldsx: bool, devmap: bool) -> Verdict {
    let field = match off {
        xdp::DATA => Some(PacketField::Data),
        xdp::DATA_END => Some(PacketField::End),
        xdp::DATA_META => Some(PacketField::Meta),
        _ => None,
    };
    if !devmap && off == xdp::EGRESS_IFINDEX || write || field.is_some() && ldsx {
        return Verdict::Invalid;
    }
    if !(0..XDP_MD_SIZE).contains(&off) || off % size != 0 || size != 4 {
        return Verdict::Invalid;
    }
    field.map_or(Verdict::Scalar, Verdict::Packet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tc_rules() {
        assert_eq!(
            tc_access(76, 4, false, false),
            Verdict::Packet(PacketField::Data)
        );
        assert_eq!(
            tc_access(80, 4, false, false),
            Verdict::Packet(PacketField::End)
        );
        assert_eq!(
            tc_access(140, 4, false, false),
            Verdict::Packet(PacketField::Meta)
        );
        assert_eq!(tc_access(76, 2, false, false), Verdict::Invalid);
        assert_eq!(tc_access(76, 4, false, true), Verdict::Invalid);
        assert_eq!(tc_access(76, 4, true, false), Verdict::Invalid);
        // Writable fields, whole words only.
        assert_eq!(tc_access(8, 4, true, false), Verdict::Scalar);
        assert_eq!(tc_access(8, 2, true, false), Verdict::Invalid);
        assert_eq!(tc_access(0, 4, true, false), Verdict::Invalid);
        assert_eq!(tc_access(152, 8, true, false), Verdict::Scalar);
        assert_eq!(tc_access(152, 4, false, false), Verdict::Invalid);
        // Narrow reads; sockets' addresses hidden.
        assert_eq!(tc_access(2, 2, false, false), Verdict::Scalar);
        assert_eq!(tc_access(92, 4, false, false), Verdict::Invalid);
        assert_eq!(tc_access(180, 1, false, false), Verdict::Scalar);
        assert_eq!(tc_access(180, 4, false, false), Verdict::Invalid);
        assert_eq!(tc_access(184, 8, false, false), Verdict::Scalar);
        assert_eq!(tc_access(184, 8, true, false), Verdict::Invalid);
    }

    #[test]
    fn xdp_rules() {
        assert_eq!(
            xdp_access(0, 4, false, false, false),
            Verdict::Packet(PacketField::Data)
        );
        assert_eq!(
            xdp_access(4, 4, false, false, false),
            Verdict::Packet(PacketField::End)
        );
        assert_eq!(
            xdp_access(8, 4, false, false, false),
            Verdict::Packet(PacketField::Meta)
        );
        assert_eq!(xdp_access(0, 8, false, false, false), Verdict::Invalid);
        assert_eq!(xdp_access(12, 2, false, false, false), Verdict::Invalid);
        assert_eq!(xdp_access(12, 4, true, false, false), Verdict::Invalid);
        assert_eq!(xdp_access(20, 4, false, false, false), Verdict::Invalid);
        assert_eq!(xdp_access(20, 4, false, false, true), Verdict::Scalar);
        assert_eq!(xdp_access(24, 4, false, false, false), Verdict::Invalid);
    }
}
