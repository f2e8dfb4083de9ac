//! Context access of cgroup socket-buffer programs (`cg_skb_is_valid_access`
//! on top of `bpf_skb_is_valid_access`, net/core/filter.c), for a
//! privileged loader (`CAP_BPF` is held, so `data`, `data_end` and
//! `tstamp` are open), and of lightweight-tunnel programs
//! (`lwt_is_valid_access`). The packet is read-only to all of them but
//! `lwt_xmit`. Also socket-option programs (`cg_sockopt_is_valid_access`,
//! kernel/bpf/cgroup.c), whose option buffer is accessed as a packet, and
//! the device and sysctl programs (`cgroup_dev_is_valid_access`,
//! `sysctl_is_valid_access`), whose small contexts hold numbers.

use std::ops::Range;

use bpfcheck_uapi::{AttachType, Errno, ProgType};

use super::Checker;
use super::ctx::{PacketField, Verdict};
use crate::error::{ErrorCode, Stop};

/// `struct __sk_buff` fields the cgroup rules name.
mod skb {
    use std::ops::Range;
    pub(super) const MARK: Range<i32> = 8..12;
    pub(super) const PRIORITY: Range<i32> = 32..36;
    pub(super) const CB: Range<i32> = 48..68;
    pub(super) const TC_CLASSID: Range<i32> = 72..76;
    pub(super) const DATA: Range<i32> = 76..80;
    pub(super) const DATA_END: Range<i32> = 80..84;
    /// `family`, then the socket addresses, then the two ports.
    pub(super) const FAMILY_TILL_LOCAL_PORT: Range<i32> = 88..140;
    /// `remote_ip4` through `local_ip6[3]`: whole words only.
    pub(super) const ADDRESSES: Range<i32> = 92..132;
    pub(super) const DATA_META: Range<i32> = 140..144;
    pub(super) const TSTAMP: Range<i32> = 152..160;
    pub(super) const WIRE_LEN: Range<i32> = 160..164;
    pub(super) const HWTSTAMP: Range<i32> = 184..192;
}

fn within(r: &Range<i32>, off: i32) -> bool {
    r.contains(&off)
}

/// `cg_skb_is_valid_access`.
pub(super) fn cgroup_skb_access(off: i32, size: i32, write: bool, ldsx: bool) -> Verdict {
    if [&skb::TC_CLASSID, &skb::DATA_META, &skb::WIRE_LEN]
        .iter()
        .any(|r| within(r, off))
    {
        return Verdict::Invalid;
    }
    let writable = [&skb::MARK, &skb::PRIORITY, &skb::CB, &skb::TSTAMP];
    if write && !writable.iter().any(|r| within(r, off)) {
        return Verdict::Invalid;
    }
    if within(&skb::FAMILY_TILL_LOCAL_PORT, off) {
        // Read-only here: the addresses whole, `family` and the ports
        // narrowly like any other field.
        let ok = off % size == 0
            && if within(&skb::ADDRESSES, off) {
                size == 4
            } else {
                size <= 4 && size.count_ones() == 1
            };
        return Verdict::scalar_if(ok);
    }
    match super::ctx_net::skb_full_access(off, size, write, ldsx) {
        Verdict::Scalar if within(&skb::DATA, off) => Verdict::Packet(PacketField::Data),
        Verdict::Scalar if within(&skb::DATA_END, off) => Verdict::Packet(PacketField::End),
        v => v,
    }
}

/// `lwt_is_valid_access`.
pub(super) fn lwt_access(off: i32, size: i32, write: bool, ldsx: bool) -> Verdict {
    let hidden = [
        &skb::TC_CLASSID,
        &skb::FAMILY_TILL_LOCAL_PORT,
        &skb::DATA_META,
        &skb::TSTAMP,
        &skb::WIRE_LEN,
        &skb::HWTSTAMP,
    ];
    if hidden.iter().any(|r| within(r, off)) {
        return Verdict::Invalid;
    }
    let writable = [&skb::MARK, &skb::PRIORITY, &skb::CB];
    if write && !writable.iter().any(|r| within(r, off)) {
        return Verdict::Invalid;
    }
    match super::ctx_net::skb_full_access(off, size, write, ldsx) {
        Verdict::Scalar if within(&skb::DATA, off) => Verdict::Packet(PacketField::Data),
        Verdict::Scalar if within(&skb::DATA_END, off) => Verdict::Packet(PacketField::End),
        v => v,
    }
}

/// `struct bpf_sockopt` offsets.
mod sockopt {
    use std::ops::Range;
    pub(super) const SK: Range<i32> = 0..8;
    pub(super) const OPTVAL: Range<i32> = 8..16;
    pub(super) const OPTVAL_END: Range<i32> = 16..24;
    pub(super) const LEVEL: i32 = 24;
    pub(super) const OPTNAME: i32 = 28;
    pub(super) const OPTLEN: i32 = 32;
    pub(super) const RETVAL: Range<i32> = 36..40;
    pub(super) const SIZE: i32 = 40;
}

/// `cg_sockopt_is_valid_access`: `optval`/`optval_end` bound the option
/// buffer as a packet; `getsockopt` programs see and set `retval`,
/// `setsockopt` programs set `level` and `optname`, both set `optlen`.
pub(super) fn sockopt_access(off: i32, size: i32, write: bool, attach: AttachType) -> Verdict {
    let get = attach == AttachType::CGROUP_GETSOCKOPT;
    if !(0..sockopt::SIZE).contains(&off) || off % size != 0 {
        return Verdict::Invalid;
    }
    let ok = if write {
        size == 4
            && match off {
                o if o == sockopt::RETVAL.start => get,
                sockopt::LEVEL | sockopt::OPTNAME => attach == AttachType::CGROUP_SETSOCKOPT,
                sockopt::OPTLEN => true,
                _ => false,
            }
    } else if within(&sockopt::SK, off) {
        if size != 8 {
            return Verdict::Invalid;
        }
        return Verdict::Socket;
    } else if within(&sockopt::OPTVAL, off) || within(&sockopt::OPTVAL_END, off) {
        if size != 8 {
            return Verdict::Invalid;
        }
        return Verdict::Packet(if within(&sockopt::OPTVAL, off) {
            PacketField::Data
        } else {
            PacketField::End
        });
    } else if within(&sockopt::RETVAL, off) {
        size == 4 && get
    } else {
        size == 4
    };
    Verdict::scalar_if(ok)
}

/// `cgroup_dev_is_valid_access`: `struct bpf_cgroup_dev_ctx` is three
/// read-only words, the first also narrowly.
pub(super) fn device_access(off: i32, size: i32, write: bool) -> Verdict {
    let ok = !write
        && off >= 0
        && off + size <= 12
        && off % size == 0
        && if off < 4 {
            size.count_ones() == 1 && size <= 4
        } else {
            size == 4
        };
    Verdict::scalar_if(ok)
}

/// `sysctl_is_valid_access`: `struct bpf_sysctl` is `write` (read-only)
/// and `file_pos` (written whole), both read narrowly.
pub(super) fn sysctl_access(off: i32, size: i32, write: bool) -> Verdict {
    let ok = off >= 0
        && off + size <= 8
        && off % size == 0
        && if write {
            off >= 4 && size == 4
        } else {
            size.count_ones() == 1 && size <= 4
        };
    Verdict::scalar_if(ok)
}

/// Whether packet pointers passed to a helper need its `pkt_access`
/// (`may_access_direct_pkt_data` with the call's metadata): socket-option
/// programs pass their buffer to any helper.
pub(super) fn helpers_need_pkt_access(prog_type: ProgType) -> bool {
    prog_type != ProgType::CGROUP_SOCKOPT
}

/// Whether a program type may store into its packet through packet
/// pointers (`may_access_direct_pkt_data` for a write); cgroup
/// socket-buffer, reuseport and flow dissector programs and most tunnel
/// programs may only read it.
pub(super) fn may_write_packet(prog_type: ProgType) -> bool {
    !matches!(
        prog_type,
        ProgType::CGROUP_SKB
            | ProgType::LWT_IN
            | ProgType::LWT_OUT
            | ProgType::LWT_SEG6LOCAL
            | ProgType::SK_REUSEPORT
            | ProgType::FLOW_DISSECTOR
    )
}

impl Checker<'_> {
    /// The refusal of a store into a read-only packet (`check_mem_access`),
    /// checked before the access's bounds.
    pub(super) fn check_packet_write(&self) -> Result<(), Stop> {
        if may_write_packet(self.prog_type) {
            return Ok(());
        }
        if self.strict_alignment {
            // The kernel checks the alignment first.
            return Err(self.unsupported("packet access with BPF_F_STRICT_ALIGNMENT"));
        }
        Err(self.reject(
            ErrorCode::InvalidMemAccess,
            Errno::EACCES,
            "cannot write into packet".to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_skb_rules() {
        assert_eq!(cgroup_skb_access(0, 4, false, false), Verdict::Scalar);
        assert_eq!(cgroup_skb_access(88, 2, false, false), Verdict::Scalar);
        assert_eq!(cgroup_skb_access(133, 1, false, false), Verdict::Scalar);
        assert_eq!(cgroup_skb_access(92, 4, false, false), Verdict::Scalar);
        assert_eq!(cgroup_skb_access(92, 2, false, false), Verdict::Invalid);
        assert_eq!(cgroup_skb_access(72, 4, false, false), Verdict::Invalid);
        assert_eq!(cgroup_skb_access(140, 4, false, false), Verdict::Invalid);
        assert_eq!(cgroup_skb_access(160, 4, false, false), Verdict::Invalid);
        assert_eq!(cgroup_skb_access(8, 4, true, false), Verdict::Scalar);
        assert_eq!(cgroup_skb_access(32, 4, true, false), Verdict::Scalar);
        assert_eq!(cgroup_skb_access(152, 8, true, false), Verdict::Scalar);
        assert_eq!(cgroup_skb_access(44, 4, true, false), Verdict::Invalid);
        assert_eq!(cgroup_skb_access(0, 4, true, false), Verdict::Invalid);
        assert_eq!(cgroup_skb_access(88, 4, true, false), Verdict::Invalid);
        assert_eq!(cgroup_skb_access(180, 1, false, false), Verdict::Invalid);
        assert_eq!(
            cgroup_skb_access(76, 4, false, false),
            Verdict::Packet(PacketField::Data)
        );
        assert_eq!(
            cgroup_skb_access(80, 4, false, false),
            Verdict::Packet(PacketField::End)
        );
        assert_eq!(cgroup_skb_access(76, 2, false, false), Verdict::Invalid);
        assert_eq!(cgroup_skb_access(76, 4, true, false), Verdict::Invalid);
    }

    #[test]
    fn sockopt_rules() {
        let get = AttachType::CGROUP_GETSOCKOPT;
        let set = AttachType::CGROUP_SETSOCKOPT;
        assert_eq!(
            sockopt_access(8, 8, false, get),
            Verdict::Packet(PacketField::Data)
        );
        assert_eq!(
            sockopt_access(16, 8, false, set),
            Verdict::Packet(PacketField::End)
        );
        assert_eq!(sockopt_access(8, 4, false, get), Verdict::Invalid);
        assert_eq!(sockopt_access(36, 4, false, get), Verdict::Scalar);
        assert_eq!(sockopt_access(36, 4, false, set), Verdict::Invalid);
        assert_eq!(sockopt_access(36, 4, true, get), Verdict::Scalar);
        assert_eq!(sockopt_access(24, 4, true, get), Verdict::Invalid);
        assert_eq!(sockopt_access(24, 4, true, set), Verdict::Scalar);
        assert_eq!(sockopt_access(32, 4, true, get), Verdict::Scalar);
        assert_eq!(sockopt_access(32, 2, false, get), Verdict::Invalid);
        assert_eq!(sockopt_access(40, 4, false, get), Verdict::Invalid);
    }

    #[test]
    fn device_and_sysctl_rules() {
        assert_eq!(device_access(0, 2, false), Verdict::Scalar);
        assert_eq!(device_access(4, 2, false), Verdict::Invalid);
        assert_eq!(device_access(8, 4, false), Verdict::Scalar);
        assert_eq!(device_access(8, 8, false), Verdict::Invalid);
        assert_eq!(device_access(0, 8, false), Verdict::Invalid);
        assert_eq!(device_access(0, 4, true), Verdict::Invalid);
        assert_eq!(sysctl_access(0, 1, false), Verdict::Scalar);
        assert_eq!(sysctl_access(0, 4, true), Verdict::Invalid);
        assert_eq!(sysctl_access(4, 4, true), Verdict::Scalar);
        assert_eq!(sysctl_access(4, 2, true), Verdict::Invalid);
        assert_eq!(sysctl_access(6, 2, false), Verdict::Scalar);
        assert_eq!(sysctl_access(0, 8, false), Verdict::Invalid);
    }

    #[test]
    fn lwt_rules() {
        assert_eq!(lwt_access(0, 4, false, false), Verdict::Scalar);
        assert_eq!(lwt_access(8, 4, true, false), Verdict::Scalar);
        assert_eq!(lwt_access(88, 4, false, false), Verdict::Invalid);
        assert_eq!(lwt_access(152, 8, false, false), Verdict::Invalid);
        assert_eq!(lwt_access(184, 8, false, false), Verdict::Invalid);
        assert_eq!(lwt_access(152, 8, true, false), Verdict::Invalid);
        assert_eq!(
            lwt_access(76, 4, false, false),
            Verdict::Packet(PacketField::Data)
        );
        assert!(!may_write_packet(ProgType::LWT_IN));
        assert!(may_write_packet(ProgType::LWT_XMIT));
    }
}
