//! Context access of socket filters: which bytes of `struct __sk_buff` a
//! load or store may touch (`sk_filter_is_valid_access` on top of
//! `bpf_skb_is_valid_access`, net/core/filter.c), as `check_ctx_access`
//! applies them. Every readable field loads an unknown scalar; the loaded
//! value is then narrowed to the access size like any load.

use std::ops::Range;

use bpfcheck_uapi::{AttachType, Errno, ProgType};

use super::Checker;
use crate::error::{ErrorCode, Stop};
use crate::state::RegState;

/// `sizeof(struct __sk_buff)` (uapi, unchanged since `hwtstamp` was added).
const SK_BUFF_SIZE: i32 = 192;

/// Offsets of `struct __sk_buff` fields the rules name.
mod skb {
    use std::ops::Range;
    pub(super) const CB: Range<i32> = 48..68;
    pub(super) const TC_CLASSID: Range<i32> = 72..76;
    pub(super) const DATA: Range<i32> = 76..80;
    pub(super) const DATA_END: Range<i32> = 80..84;
    /// `family` through `local_port` (addresses and ports).
    pub(super) const FAMILY_TILL_LOCAL_PORT: Range<i32> = 88..140;
    pub(super) const DATA_META: Range<i32> = 140..144;
    pub(super) const FLOW_KEYS: Range<i32> = 144..152;
    pub(super) const TSTAMP: Range<i32> = 152..160;
    pub(super) const WIRE_LEN: Range<i32> = 160..164;
    pub(super) const SK: Range<i32> = 168..176;
    pub(super) const TSTAMP_TYPE: i32 = 180;
    /// Padding after `tstamp_type`.
    pub(super) const PADDING: Range<i32> = 181..184;
    pub(super) const HWTSTAMP: Range<i32> = 184..192;
}

/// Whether a program may access `size` bytes of its context at `off`,
/// and what a load gives.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Allowed; a load gives a scalar.
    Scalar,
    /// Allowed, and a load gives a `sock_common` pointer or NULL
    /// (`__sk_buff.sk`).
    SockPointer,
    /// Allowed, and a load gives a full socket pointer or NULL
    /// (`bpf_sock_ops.sk`).
    FullSockPointer,
    /// Allowed, and a load gives a full socket pointer that is never NULL
    /// (`bpf_sock_addr.sk`, `bpf_sockopt.sk`).
    Socket,
    /// Allowed, and a load gives a packet pointer of this kind.
    Packet(PacketField),
    /// Allowed, and a load gives the flow dissector's `struct
    /// bpf_flow_keys` (`PTR_TO_FLOW_KEYS`).
    FlowKeys,
    /// Allowed, and a load gives the writable raw tracepoint's buffer
    /// (`PTR_TO_TP_BUFFER`).
    TpBuffer,
    /// Allowed, and a load gives a trusted BTF pointer to the kernel
    /// struct of this name (`PTR_TO_BTF_ID | PTR_TRUSTED`, netfilter's
    /// `state` and `skb`).
    TrustedBtf(&'static str),
    /// Allowed, but a load gives a pointer kind not modelled here.
    Unmodelled(&'static str),
    Invalid,
}

impl Verdict {
    /// A plain field access: a scalar when `ok`, else refused.
    pub(super) fn scalar_if(ok: bool) -> Self {
        if ok { Self::Scalar } else { Self::Invalid }
    }
}

/// The context fields that load packet pointers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PacketField {
    /// `data` (`PTR_TO_PACKET`).
    Data,
    /// `data_meta` (`PTR_TO_PACKET_META`).
    Meta,
    /// `data_end` (`PTR_TO_PACKET_END`).
    End,
}

fn in_range(r: &Range<i32>, off: i32) -> bool {
    r.contains(&off)
}

/// `sk_filter_is_valid_access`.
fn socket_filter_access(off: i32, size: i32, write: bool) -> Verdict {
    let hidden = [
        &skb::TC_CLASSID,
        &skb::DATA,
        &skb::DATA_META,
        &skb::DATA_END,
        &skb::FAMILY_TILL_LOCAL_PORT,
        &skb::TSTAMP,
        &skb::WIRE_LEN,
        &skb::HWTSTAMP,
    ];
    if hidden.iter().any(|r| in_range(r, off)) || write && !in_range(&skb::CB, off) {
        return Verdict::Invalid;
    }
    skb_access(off, size, write)
}

/// `bpf_skb_is_valid_access` for the offsets a socket filter reaches.
fn skb_access(off: i32, size: i32, write: bool) -> Verdict {
    const SIZE_DEFAULT: i32 = 4;
    if !(0..SK_BUFF_SIZE).contains(&off) || off % size != 0 {
        return Verdict::Invalid;
    }
    if in_range(&skb::CB, off) {
        return if off + size > skb::CB.end {
            Verdict::Invalid
        } else {
            Verdict::Scalar
        };
    }
    if in_range(&skb::FLOW_KEYS, off) || off == skb::TSTAMP_TYPE || in_range(&skb::PADDING, off) {
        return Verdict::Invalid;
    }
    if in_range(&skb::SK, off) {
        return if write || size != 8 {
            Verdict::Invalid
        } else {
            Verdict::SockPointer
        };
    }
    // Other fields: whole 4-byte writes, narrow (power of two) reads.
    let ok = if write {
        size == SIZE_DEFAULT
    } else {
        size <= SIZE_DEFAULT
    };
    Verdict::scalar_if(ok)
}

/// `syscall_prog_is_valid_access`: the context is the caller's buffer,
/// read and written freely below `U16_MAX` at aligned offsets (its size is
/// checked when the program runs, against `max_ctx_offset`).
fn syscall_access(off: i32, size: i32) -> Verdict {
    Verdict::scalar_if((0..i32::from(u16::MAX)).contains(&off) && off % size == 0)
}

impl Checker<'_> {
    /// `sizeof(struct NAME)` of a context struct in the kernel's BTF: the
    /// uapi structs grow a field at a time, and the kernel's
    /// `is_valid_access` refuses what lies past its own end. `default`
    /// (the newest layout bpfcheck knows) without the kernel's BTF.
    fn uapi_struct_size(&self, name: &str, default: i32) -> i32 {
        let size = self
            .profile
            .btf
            .as_ref()
            .and_then(|b| b.btf().ok())
            .and_then(|btf| {
                let t = btf.find_by_name_kind(name, bpfcheck_btf::BtfKind::Struct)?;
                btf.size_of(t.id()).ok()
            });
        size.and_then(|s| i32::try_from(s).ok()).unwrap_or(default)
    }

    /// `check_ctx_access` for a load (`write == false`, `ldsx` for a
    /// sign-extending one) or store through the context pointer `base` in
    /// `regno` at constant offset `off`; what a load gives.
    pub(super) fn ctx_access(
        &mut self,
        regno: u8,
        base: &RegState,
        off: i16,
        size: i32,
        write: bool,
        ldsx: bool,
    ) -> Result<RegState, Stop> {
        let RegState::PtrToCtx { off: reg_off, var } = *base else {
            return Err(self.unsupported("memory access through this pointer type"));
        };
        if self.prog_type == ProgType::SYSCALL && self.profile.features.walk_v7.ctx_as_memory {
            return Err(self.unsupported(
                "syscall contexts accessed as memory by kernel 7.x (walk_v7.ctx_as_memory)",
            ));
        }
        // `check_generic_ptr_alignment`.
        let at = var.var_off.add(crate::domain::Tnum::constant(
            (i64::from(reg_off) + i64::from(off)) as u64,
        ));
        let mask = u64::try_from(size - 1).unwrap_or(0);
        if self.strict_alignment && (at.value | at.mask) & mask != 0 {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!(
                    "misaligned context access off {}+{reg_off}+{off} size {size}",
                    self.tnum_str(var.var_off)
                ),
            ));
        }
        self.check_ptr_off_reg(regno, base)?;
        let off = i32::from(off);
        let verdict = match self.prog_type {
            ProgType::SOCKET_FILTER => socket_filter_access(off, size, write),
            ProgType::SCHED_CLS | ProgType::SCHED_ACT => {
                super::ctx_net::tc_access(off, size, write, ldsx)
            }
            ProgType::XDP => {
                let devmap = self.req.expected_attach_type == AttachType::XDP_DEVMAP;
                super::ctx_net::xdp_access(off, size, write, ldsx, devmap)
            }
            ProgType::KPROBE => super::ctx_trace::kprobe_access(
                off,
                size,
                write,
                self.profile.features.walk_v7.kprobe_ctx_writes,
            ),
            ProgType::TRACEPOINT => super::ctx_trace::tracepoint_access(off, size, write),
            ProgType::RAW_TRACEPOINT => super::ctx_trace::raw_tp_access(off, size, write),
            ProgType::RAW_TRACEPOINT_WRITABLE => {
                super::ctx_trace::raw_tp_writable_access(off, size, write)
            }
            ProgType::PERF_EVENT => super::ctx_trace::perf_event_access(off, size, write),
            ProgType::CGROUP_SKB => super::ctx_cgroup::cgroup_skb_access(off, size, write, ldsx),
            ProgType::LWT_IN | ProgType::LWT_OUT | ProgType::LWT_XMIT | ProgType::LWT_SEG6LOCAL => {
                super::ctx_cgroup::lwt_access(off, size, write, ldsx)
            }
            ProgType::CGROUP_SOCK => {
                super::ctx_sock::cgroup_sock_access(off, size, write, self.req.expected_attach_type)
            }
            ProgType::SOCK_OPS => super::ctx_sock::sock_ops_access(
                off,
                size,
                write,
                self.uapi_struct_size("bpf_sock_ops", 224),
            ),
            ProgType::CGROUP_DEVICE => super::ctx_cgroup::device_access(off, size, write),
            ProgType::CGROUP_SYSCTL => super::ctx_cgroup::sysctl_access(off, size, write),
            ProgType::CGROUP_SOCKOPT => {
                super::ctx_cgroup::sockopt_access(off, size, write, self.req.expected_attach_type)
            }
            ProgType::NETFILTER => super::ctx_sock::netfilter_access(off, size, write),
            ProgType::SYSCALL => syscall_access(off, size),
            ProgType::CGROUP_SOCK_ADDR => {
                super::ctx_sock::sock_addr_access(off, size, write, self.req.expected_attach_type)
            }
            ProgType::SK_SKB => super::ctx_sk::sk_skb_access(off, size, write, ldsx),
            ProgType::SK_MSG => super::ctx_sk::sk_msg_access(off, size, write),
            ProgType::FLOW_DISSECTOR => {
                super::ctx_sk::flow_dissector_access(off, size, write, ldsx)
            }
            ProgType::SK_REUSEPORT => super::ctx_sk::sk_reuseport_access(off, size, write),
            ProgType::SK_LOOKUP => super::ctx_sk::sk_lookup_access(off, size, write),
            ProgType::TRACING | ProgType::LSM => {
                return self.tracing_ctx_access(off, size, write, ldsx);
            }
            _ => return Err(self.unsupported("context access of this program type")),
        };
        match verdict {
            Verdict::Scalar => Ok(RegState::unknown()),
            Verdict::Packet(field) => Ok(super::packet::loaded_pointer(field)),
            Verdict::FlowKeys => Ok(RegState::PtrToFlowKeys(crate::state::PtrFields::fresh(
                0, false,
            ))),
            Verdict::SockPointer => Ok(RegState::PtrToSockCommon(crate::state::PtrFields::fresh(
                self.new_id(),
                true,
            ))),
            Verdict::FullSockPointer => Ok(RegState::PtrToSocket(crate::state::PtrFields::fresh(
                self.new_id(),
                true,
            ))),
            Verdict::Socket => Ok(RegState::PtrToSocket(crate::state::PtrFields::fresh(
                0, false,
            ))),
            Verdict::TpBuffer => Ok(RegState::PtrToTpBuffer(crate::state::PtrFields::fresh(
                0, false,
            ))),
            Verdict::TrustedBtf(name) => {
                let btf = self.kernel_btf()?;
                let Some(t) = btf.find_by_name_kind(name, bpfcheck_btf::BtfKind::Struct) else {
                    return Err(
                        self.unsupported("context pointers to structs the kernel's BTF lacks")
                    );
                };
                let btf_id = t.id().0;
                let name = self.btf_type_name(btf, btf_id)?;
                Ok(RegState::PtrToBtfId {
                    ptr: crate::state::PtrFields::fresh(0, false),
                    btf: crate::state::BtfPtr {
                        btf_id,
                        name,
                        trust: crate::state::Trust::Trusted,
                        mem: crate::state::MemKind::Kernel,
                        owner: crate::state::btf_ptr::Owner::Kernel,
                    },
                })
            }
            Verdict::Unmodelled(what) => Err(self.unsupported(what)),
            Verdict::Invalid => {
                // The kernel prints the source line after this message;
                // only a log without instruction lines can show it there.
                if !self.log.level1() && self.log.has_source_lines() {
                    self.log.mark_inexact();
                }
                Err(self.reject(
                    ErrorCode::InvalidMemAccess,
                    Errno::EACCES,
                    format!("invalid bpf_context access off={off} size={size}"),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Verdict, socket_filter_access};

    #[test]
    fn socket_filter_rules() {
        // len: narrow reads, no 8-byte read, no write.
        assert_eq!(socket_filter_access(0, 4, false), Verdict::Scalar);
        assert_eq!(socket_filter_access(2, 2, false), Verdict::Scalar);
        assert_eq!(socket_filter_access(3, 1, false), Verdict::Scalar);
        assert_eq!(socket_filter_access(0, 8, false), Verdict::Invalid);
        assert_eq!(socket_filter_access(0, 4, true), Verdict::Invalid);
        // cb[]: any aligned size inside, read and write.
        assert_eq!(socket_filter_access(48, 8, true), Verdict::Scalar);
        assert_eq!(socket_filter_access(64, 4, true), Verdict::Scalar);
        assert_eq!(socket_filter_access(64, 8, false), Verdict::Invalid);
        assert_eq!(socket_filter_access(52, 8, false), Verdict::Invalid);
        // Hidden from socket filters.
        assert_eq!(socket_filter_access(76, 4, false), Verdict::Invalid);
        assert_eq!(socket_filter_access(92, 4, false), Verdict::Invalid);
        assert_eq!(socket_filter_access(152, 8, false), Verdict::Invalid);
        // Pointers and padding.
        assert_eq!(socket_filter_access(168, 8, false), Verdict::SockPointer);
        assert_eq!(socket_filter_access(172, 4, false), Verdict::Invalid);
        assert_eq!(socket_filter_access(181, 1, false), Verdict::Invalid);
        assert_eq!(socket_filter_access(192, 4, false), Verdict::Invalid);
        assert_eq!(socket_filter_access(-4, 4, false), Verdict::Invalid);
    }
}
