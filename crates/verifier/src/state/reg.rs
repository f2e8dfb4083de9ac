//! One register's abstract value (`struct bpf_reg_state`), as a Rust enum
//! of the kernel's register types (`enum bpf_reg_type`).
//!
//! Every kind the kernel has is named so that the rest of the verifier can
//! match exhaustively; the interpreter creates only the kinds it models
//! (`NotInit`, `Scalar`, `PtrToCtx`, `PtrToStack`, `ConstPtrToMap`,
//! `PtrToMapValue`, packets, memory, sockets) and reports the others as
//! unsupported where they would arise.

use std::fmt::Write as _;

use bpfcheck_uapi::MapSpec;

use super::btf_ptr::BtfPtr;
use crate::domain::{Scalar, fmt_scalar_ranges};

/// The `BPF_ADD_CONST64` flag of a scalar id: the register is the linked
/// register plus `off` (a 64-bit addition).
pub(crate) const ADD_CONST64: u32 = 1 << 31;
/// `BPF_ADD_CONST32`: the linked register plus `off` in a 32-bit
/// addition, zero-extended.
pub(crate) const ADD_CONST32: u32 = 1 << 30;
/// Either flag (`BPF_ADD_CONST`).
pub(crate) const ADD_CONST: u32 = ADD_CONST64 | ADD_CONST32;

/// The `range` of a packet pointer known to point at `pkt_end`.
pub(crate) const AT_PKT_END: i32 = -1;
/// The `range` of a packet pointer known to point past `pkt_end`.
pub(crate) const BEYOND_PKT_END: i32 = -2;

/// A scalar register: its numbers, its link id and its precision mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalarReg {
    /// Known bits and bounds.
    pub value: Scalar,
    /// Registers with the same non-zero id hold the same value (plus
    /// `off` when [`ADD_CONST`] is set).
    pub id: u32,
    /// The constant added to the linked value (`BPF_ADD_CONST`).
    pub off: i32,
    /// Whether the exact value matters for safety (`precise`).
    pub precise: bool,
}

impl ScalarReg {
    /// An unlinked, imprecise scalar.
    pub const fn new(value: Scalar) -> Self {
        Self {
            value,
            id: 0,
            off: 0,
            precise: false,
        }
    }

    /// `clear_scalar_id`.
    pub fn clear_id(&mut self) {
        self.id = 0;
        self.off = 0;
    }
}

/// Which map an instruction refers to: its index in the load request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MapIdx(pub u32);

/// The fields shared by the pointer kinds without fields of their own
/// (sockets, packets, memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtrFields {
    /// Fixed offset from the object's start.
    pub off: i32,
    /// Variable part of the offset.
    pub var: Scalar,
    /// Nullness / packet-range id.
    pub id: u32,
    /// Id of the acquired reference, if any.
    pub ref_obj_id: u32,
    /// `PTR_MAYBE_NULL`.
    pub maybe_null: bool,
}

impl PtrFields {
    /// A pointer at the object's start, holding no reference; `id` is its
    /// nullness id when `maybe_null`.
    pub fn fresh(id: u32, maybe_null: bool) -> Self {
        Self {
            off: 0,
            var: Scalar::constant(0),
            id,
            ref_obj_id: 0,
            maybe_null,
        }
    }
}

/// What a `PTR_TO_MEM` points into, besides its size: the type flags
/// `MEM_RDONLY` and `MEM_RINGBUF`, and the dynptr a slice was taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MemTag {
    /// `MEM_RDONLY`: loads only.
    pub rdonly: bool,
    /// `MEM_RINGBUF`: a ring buffer record.
    pub ringbuf: bool,
    /// `dynptr_id`: the dynptr a `bpf_dynptr_data` slice belongs to.
    pub dynptr_id: u32,
    /// The `DYNPTR_TYPE_*` flag of a `bpf_dynptr_slice(_rdwr)` slice: the
    /// kind of the dynptr it was taken from.
    pub dynptr_kind: Option<DynptrKind>,
}

impl MemTag {
    /// A slice of a packet (`reg_is_dynptr_slice_pkt`): gone when the
    /// packet changes.
    pub fn pkt_slice(&self) -> bool {
        matches!(self.dynptr_kind, Some(DynptrKind::Skb | DynptrKind::Xdp))
    }
}

/// The kind of a dynptr (`enum bpf_dynptr_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DynptrKind {
    /// Memory of the program (`BPF_DYNPTR_TYPE_LOCAL`).
    Local,
    /// A ring buffer record (`BPF_DYNPTR_TYPE_RINGBUF`).
    Ringbuf,
    /// A socket buffer (`BPF_DYNPTR_TYPE_SKB`).
    Skb,
    /// An XDP buffer (`BPF_DYNPTR_TYPE_XDP`).
    Xdp,
}

impl DynptrKind {
    /// `dynptr_type_str`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Ringbuf => "ringbuf",
            Self::Skb => "skb",
            Self::Xdp => "xdp",
        }
    }

    /// Whether a dynptr of this kind holds a reference
    /// (`dynptr_type_refcounted`).
    pub fn referenced(self) -> bool {
        self == Self::Ringbuf
    }
}

/// A dynptr's own fields (`reg->dynptr`), as its stack slots and a
/// `CONST_PTR_TO_DYNPTR` hold them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DynptrInfo {
    /// Its kind.
    pub kind: DynptrKind,
    /// The slot is the dynptr's first (the one a pointer to it names).
    pub first_slot: bool,
}

/// The iterator types whose state the walk models, by the name of their
/// `struct bpf_iter_<type>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IterKind {
    /// `bpf_iter_num`.
    Num,
    /// `bpf_iter_bits`.
    Bits,
}

impl IterKind {
    /// The kind of `struct bpf_iter_<type>`, when modelled.
    pub fn of_struct(name: &str) -> Option<Self> {
        match name.strip_prefix("bpf_iter_")? {
            "num" => Some(Self::Num),
            "bits" => Some(Self::Bits),
            _ => None,
        }
    }

    /// `iter_type_str`: the name without its `bpf_iter_` prefix.
    pub fn name(self) -> &'static str {
        match self {
            Self::Num => "num",
            Self::Bits => "bits",
        }
    }
}

/// Where an iterator stands (`enum bpf_iter_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IterState {
    /// More elements may come (`BPF_ITER_STATE_ACTIVE`).
    Active,
    /// `next` returned NULL, and will again (`BPF_ITER_STATE_DRAINED`).
    Drained,
}

impl IterState {
    /// `iter_state_str`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Drained => "drained",
        }
    }
}

/// An iterator's fields (`reg->iter`) in each of its stack slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IterInfo {
    /// Its type.
    pub kind: IterKind,
    /// The BTF id of its `struct bpf_iter_<type>`.
    pub btf_id: u32,
    /// Its state.
    pub state: IterState,
    /// Iterations simulated so far: keeps two iterations apart for the
    /// infinite-loop check, never compared when pruning.
    pub depth: u32,
}

/// A register's abstract value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RegState {
    /// Never written on this path (`NOT_INIT`).
    #[default]
    NotInit,
    /// A number (`SCALAR_VALUE`).
    Scalar(ScalarReg),
    /// The program's context (`PTR_TO_CTX`); only an unmoved one may be
    /// dereferenced or passed on.
    PtrToCtx {
        /// Fixed offset into the context.
        off: i32,
        /// Variable part of the offset.
        var: Scalar,
    },
    /// A pointer into a function frame's stack (`PTR_TO_STACK`), at
    /// `off` plus `var` from that frame's `r10`.
    PtrToStack {
        /// The frame whose stack it points into.
        frameno: u8,
        /// Fixed offset from that frame's `r10` (non-positive when in
        /// bounds).
        off: i32,
        /// Variable part of the offset: the constant 0 unless a scalar
        /// that was not a known constant was added.
        var: Scalar,
    },
    /// A map (`CONST_PTR_TO_MAP`).
    ConstPtrToMap {
        /// Which map.
        map: MapIdx,
    },
    /// A map-in-map lookup result not checked yet, on kernels that give
    /// the inner map at once (`CONST_PTR_TO_MAP | PTR_MAYBE_NULL`).
    ConstPtrToMapOrNull {
        /// The inner map's meta map.
        map: MapIdx,
        /// Nullness id shared by copies of the lookup result.
        id: u32,
    },
    /// A pointer into a map value (`PTR_TO_MAP_VALUE`).
    PtrToMapValue {
        /// Which map.
        map: MapIdx,
        /// Fixed offset.
        off: i32,
        /// Variable offset.
        var: Scalar,
        /// `PTR_MAYBE_NULL` (a lookup result not checked yet).
        maybe_null: bool,
        /// Nullness id shared by copies of one lookup result.
        id: u32,
    },
    /// A pointer to a map key (`PTR_TO_MAP_KEY`).
    PtrToMapKey {
        /// Which map.
        map: MapIdx,
        /// The pointer's offsets.
        ptr: PtrFields,
    },
    /// Packet data (`PTR_TO_PACKET`).
    PtrToPacket {
        /// The pointer's offsets and id.
        ptr: PtrFields,
        /// Bytes known to be in bounds, or `AT_PKT_END` /
        /// `BEYOND_PKT_END`.
        range: i32,
    },
    /// Packet metadata (`PTR_TO_PACKET_META`).
    PtrToPacketMeta {
        /// The pointer's offsets and id.
        ptr: PtrFields,
        /// Bytes known to be in bounds.
        range: i32,
    },
    /// The end of packet data (`PTR_TO_PACKET_END`).
    PtrToPacketEnd,
    /// `struct bpf_flow_keys` (`PTR_TO_FLOW_KEYS`).
    PtrToFlowKeys(PtrFields),
    /// A socket map or hash lookup not null-checked yet: the kernel's
    /// `PTR_TO_MAP_VALUE | PTR_MAYBE_NULL` of that map, carrying the
    /// reference the lookup acquired; a `PtrToSocket` once checked.
    PtrToSockMapValue {
        /// The socket map.
        map: MapIdx,
        /// Nullness id and reference (always `maybe_null`).
        ptr: PtrFields,
    },
    /// A socket (`PTR_TO_SOCKET`).
    PtrToSocket(PtrFields),
    /// `struct sock_common` (`PTR_TO_SOCK_COMMON`).
    PtrToSockCommon(PtrFields),
    /// A TCP socket (`PTR_TO_TCP_SOCK`).
    PtrToTcpSock(PtrFields),
    /// A raw tracepoint's writable buffer (`PTR_TO_TP_BUFFER`).
    PtrToTpBuffer(PtrFields),
    /// An XDP socket (`PTR_TO_XDP_SOCK`).
    PtrToXdpSock(PtrFields),
    /// A kernel object described by BTF (`PTR_TO_BTF_ID`).
    PtrToBtfId {
        /// The pointer's offsets, id and reference.
        ptr: PtrFields,
        /// Its type and type flags.
        btf: BtfPtr,
    },
    /// Memory of a known size (`PTR_TO_MEM`).
    PtrToMem {
        /// The pointer's offsets, id and reference.
        ptr: PtrFields,
        /// Accessible bytes.
        size: u32,
        /// Type flags and the dynptr of a slice.
        tag: MemTag,
    },
    /// A read-only or read-write buffer (`PTR_TO_BUF`).
    PtrToBuf(PtrFields),
    /// A BPF function (`PTR_TO_FUNC`).
    PtrToFunc {
        /// The subprogram's first instruction.
        subprog_start: u32,
    },
    /// A dynptr (`CONST_PTR_TO_DYNPTR`): as a callback's argument, and
    /// the state a dynptr's stack slots hold.
    ConstPtrToDynptr {
        /// Its id and reference.
        ptr: PtrFields,
        /// Its kind and slot.
        dynptr: DynptrInfo,
    },
    /// The state an iterator's stack slots hold (the kernel's
    /// `PTR_TO_STACK` with `reg->iter`); only its first slot carries the
    /// reference.
    IterSlot {
        /// The iterator's reference (0 in the slots after the first).
        ref_obj_id: u32,
        /// Its type and state.
        iter: IterInfo,
    },
    /// Arena memory (`PTR_TO_ARENA`).
    PtrToArena,
    /// An instruction array slot (`PTR_TO_INSN`).
    PtrToInsn(PtrFields),
}

impl RegState {
    /// An unknown scalar (`mark_reg_unknown`).
    pub const fn unknown() -> Self {
        Self::Scalar(ScalarReg::new(Scalar::unknown()))
    }

    /// The scalar constant `v` (`__mark_reg_known`).
    pub const fn constant(v: u64) -> Self {
        Self::Scalar(ScalarReg::new(Scalar::constant(v)))
    }

    /// A stack pointer at the constant offset `off` of frame `frameno`.
    pub const fn fp(frameno: u8, off: i32) -> Self {
        Self::PtrToStack {
            frameno,
            off,
            var: Scalar::constant(0),
        }
    }

    /// The context pointer as the program receives it.
    pub const fn ctx() -> Self {
        Self::PtrToCtx {
            off: 0,
            var: Scalar::constant(0),
        }
    }

    /// Whether this is the context pointer as received (no offset).
    pub fn is_unmoved_ctx(&self) -> bool {
        matches!(self, Self::PtrToCtx { off: 0, var } if var.is_const() && var.var_off.value == 0)
    }

    /// The scalar, when this is one.
    pub fn scalar(&self) -> Option<&ScalarReg> {
        match self {
            Self::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The scalar, mutably.
    pub fn scalar_mut(&mut self) -> Option<&mut ScalarReg> {
        match self {
            Self::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the register holds a pointer of any kind.
    pub fn is_pointer(&self) -> bool {
        !matches!(self, Self::NotInit | Self::Scalar(_))
    }

    /// The kernel's name of the type (`reg_type_str`) for the kinds this
    /// verifier creates; other kinds print their kernel base name.
    pub fn type_str(&self) -> &'static str {
        match self {
            Self::NotInit => "?",
            Self::Scalar(_) => "scalar",
            Self::PtrToCtx { .. } => "ctx",
            Self::PtrToStack { .. } => "fp",
            Self::ConstPtrToMap { .. } => "map_ptr",
            Self::ConstPtrToMapOrNull { .. } => "map_ptr_or_null",
            Self::PtrToMapValue {
                maybe_null: false, ..
            } => "map_value",
            Self::PtrToMapValue {
                maybe_null: true, ..
            } => "map_value_or_null",
            Self::PtrToMapKey { .. } => "map_key",
            Self::PtrToPacket { .. } => "pkt",
            Self::PtrToPacketMeta { .. } => "pkt_meta",
            Self::PtrToPacketEnd => "pkt_end",
            Self::PtrToFlowKeys(_) => "flow_keys",
            Self::PtrToSockMapValue { .. } => "map_value_or_null",
            Self::PtrToSocket(p) if p.maybe_null => "sock_or_null",
            Self::PtrToSocket(_) => "sock",
            Self::PtrToSockCommon(p) if p.maybe_null => "sock_common_or_null",
            Self::PtrToSockCommon(_) => "sock_common",
            Self::PtrToTcpSock(p) if p.maybe_null => "tcp_sock_or_null",
            Self::PtrToTcpSock(_) => "tcp_sock",
            Self::PtrToTpBuffer(_) => "tp_buffer",
            Self::PtrToXdpSock(p) if p.maybe_null => "xdp_sock_or_null",
            Self::PtrToXdpSock(_) => "xdp_sock",
            Self::PtrToBtfId { ptr, btf } => super::btf_ptr::type_str(btf, ptr.maybe_null),
            Self::PtrToMem { ptr, tag, .. } => {
                mem_type_str(tag.rdonly, tag.ringbuf, ptr.maybe_null)
            }
            Self::PtrToBuf(_) => "buf",
            Self::PtrToFunc { .. } => "func",
            Self::ConstPtrToDynptr { .. } => "dynptr_ptr",
            Self::IterSlot { .. } => "fp",
            Self::PtrToArena => "arena",
            Self::PtrToInsn(_) => "insn",
        }
    }
}

/// `reg_type_str` of `PTR_TO_MEM` with its flags.
fn mem_type_str(rdonly: bool, ringbuf: bool, maybe_null: bool) -> &'static str {
    match (rdonly, ringbuf, maybe_null) {
        (false, false, false) => "mem",
        (false, false, true) => "mem_or_null",
        (true, false, false) => "rdonly_mem",
        (true, false, true) => "rdonly_mem_or_null",
        (false, true, false) => "ringbuf_mem",
        (false, true, true) => "ringbuf_mem_or_null",
        (true, true, false) => "rdonly_ringbuf_mem",
        (true, true, true) => "rdonly_ringbuf_mem_or_null",
    }
}

/// `map=NAME,ks=K,vs=V` (the name only when the map has one).
fn fmt_map(out: &mut String, maps: &[MapSpec], map: MapIdx) {
    let Some(m) = maps.get(map.0 as usize) else {
        out.push_str("map=?");
        return;
    };
    if !m.name.is_empty() {
        let name: String = m.name.chars().take(15).collect();
        let _ = write!(out, "map={name},");
    }
    let _ = write!(out, "ks={},vs={}", m.key_size, m.value_size);
}

/// The kernel's `verbose_snum`: decimal inside `i16`, else 64-bit hex.
pub(crate) fn snum(v: i64) -> String {
    if (i64::from(i16::MIN)..=i64::from(i16::MAX)).contains(&v) {
        v.to_string()
    } else {
        format!("{:#x}", v as u64)
    }
}

/// A pointer's variable offset as `print_reg_state` ends it: `imm=` for
/// a non-zero constant, else the ranges.
fn push_var(items: &mut Vec<String>, var: &Scalar) {
    if var.is_const() {
        if var.var_off.value != 0 {
            items.push(format!("imm={}", snum(var.var_off.value as i64)));
        }
    } else {
        let ranges = fmt_scalar_ranges(var);
        if !ranges.is_empty() {
            items.push(ranges);
        }
    }
}

/// `print_reg_state` for the kinds this verifier creates, as the 6.18 log
/// prints them; `frameno` is the frame being printed, `maps` the load
/// request's maps (named by [`MapIdx`]).
pub(crate) fn fmt_reg(out: &mut String, reg: &RegState, frameno: u8, maps: &[MapSpec]) {
    match reg {
        RegState::NotInit => out.push('?'),
        RegState::Scalar(s) => {
            if s.precise {
                out.push('P');
            }
            if s.value.is_const() {
                out.push_str(&snum(s.value.var_off.value as i64));
                return;
            }
            out.push_str("scalar(");
            let mut sep = "";
            if s.id != 0 {
                let _ = write!(out, "id={}", s.id & !ADD_CONST);
                sep = ",";
            }
            if s.id & ADD_CONST != 0 {
                let _ = write!(out, "{:+}", s.off);
            }
            let ranges = fmt_scalar_ranges(&s.value);
            if !ranges.is_empty() {
                out.push_str(sep);
                out.push_str(&ranges);
            }
            out.push(')');
        }
        RegState::PtrToStack {
            frameno: f,
            off,
            var,
        } => {
            out.push_str("fp");
            if *f != frameno {
                let _ = write!(out, "[{f}]");
            }
            if var.is_const() {
                out.push_str(&snum(
                    i64::from(*off).wrapping_add(var.var_off.value as i64),
                ));
                return;
            }
            let mut items = Vec::new();
            if *off != 0 {
                items.push(format!("off={}", snum(i64::from(*off))));
            }
            push_var(&mut items, var);
            let _ = write!(out, "({})", items.join(","));
        }
        RegState::PtrToCtx { off, var } => {
            out.push_str("ctx(");
            let mut items = Vec::new();
            if *off != 0 {
                items.push(format!("off={}", snum(i64::from(*off))));
            }
            push_var(&mut items, var);
            out.push_str(&items.join(","));
            out.push(')');
        }
        RegState::ConstPtrToMap { map } => {
            out.push_str("map_ptr(");
            fmt_map(out, maps, *map);
            out.push(')');
        }
        RegState::ConstPtrToMapOrNull { map, id } => {
            out.push_str("map_ptr_or_null(");
            if *id != 0 {
                let _ = write!(out, "id={id},");
            }
            fmt_map(out, maps, *map);
            out.push(')');
        }
        RegState::PtrToMapValue {
            map, off, var, id, ..
        }
        | RegState::PtrToMapKey {
            map,
            ptr: PtrFields { off, var, id, .. },
        } => {
            out.push_str(reg.type_str());
            out.push('(');
            if *id != 0 {
                let _ = write!(out, "id={id},");
            }
            fmt_map(out, maps, *map);
            if *off != 0 {
                let _ = write!(out, ",off={}", snum(i64::from(*off)));
            }
            if var.is_const() {
                if var.var_off.value != 0 {
                    let _ = write!(out, ",imm={}", snum(var.var_off.value as i64));
                }
            } else {
                let ranges = fmt_scalar_ranges(var);
                if !ranges.is_empty() {
                    out.push(',');
                    out.push_str(&ranges);
                }
            }
            out.push(')');
        }
        RegState::PtrToSockMapValue { map, ptr } => {
            out.push_str(reg.type_str());
            out.push('(');
            if ptr.id != 0 {
                let _ = write!(out, "id={},", ptr.id);
            }
            if ptr.ref_obj_id != 0 {
                let _ = write!(out, "ref_obj_id={},", ptr.ref_obj_id);
            }
            fmt_map(out, maps, *map);
            out.push(')');
        }
        RegState::PtrToMem { ptr, size, .. } => {
            out.push_str(reg.type_str());
            out.push('(');
            let mut parts = id_items(ptr);
            parts.push(format!("sz={size}"));
            if ptr.var.is_const() {
                if ptr.var.var_off.value != 0 {
                    parts.push(format!("imm={}", snum(ptr.var.var_off.value as i64)));
                }
            } else {
                parts.push(fmt_scalar_ranges(&ptr.var));
            }
            out.push_str(&parts.join(","));
            out.push(')');
        }
        RegState::PtrToPacket { ptr, range } | RegState::PtrToPacketMeta { ptr, range } => {
            out.push_str(reg.type_str());
            out.push('(');
            let mut items = Vec::new();
            if ptr.id != 0 {
                items.push(format!("id={}", ptr.id));
            }
            if ptr.off != 0 {
                items.push(format!("off={}", snum(i64::from(ptr.off))));
            }
            // The range prints as the kernel's unsigned 64-bit widening.
            let r = i64::from(*range) as u64;
            items.push(if r <= u64::from(u16::MAX) {
                format!("r={r}")
            } else {
                format!("r={r:#x}")
            });
            push_var_items(&mut items, &ptr.var);
            out.push_str(&items.join(","));
            out.push(')');
        }
        RegState::PtrToSocket(ptr)
        | RegState::PtrToSockCommon(ptr)
        | RegState::PtrToTcpSock(ptr)
        | RegState::PtrToXdpSock(ptr)
        | RegState::PtrToTpBuffer(ptr)
        | RegState::PtrToFlowKeys(ptr) => {
            out.push_str(reg.type_str());
            out.push('(');
            let mut items = id_items(ptr);
            push_var_items(&mut items, &ptr.var);
            out.push_str(&items.join(","));
            out.push(')');
        }
        RegState::PtrToBtfId { ptr, btf } => {
            out.push_str(reg.type_str());
            out.push_str(btf.name.as_str());
            out.push('(');
            let mut items = id_items(ptr);
            if btf.owner == super::btf_ptr::Owner::NonOwning {
                // After `ref_obj_id=`, before `off=`.
                let at = items.iter().take_while(|i| !i.starts_with("off=")).count();
                items.insert(at, "non_own_ref".to_owned());
            }
            push_var_items(&mut items, &ptr.var);
            out.push_str(&items.join(","));
            out.push(')');
        }
        RegState::ConstPtrToDynptr { ptr, dynptr } => {
            out.push_str("dynptr_ptr(");
            let mut items = id_items(ptr);
            items.push(format!("type={}", dynptr.kind.name()));
            push_var_items(&mut items, &ptr.var);
            out.push_str(&items.join(","));
            out.push(')');
        }
        other => {
            // Kinds the interpreter never creates; kept printable so that
            // a state dump can never fail.
            out.push_str(other.type_str());
            out.push_str("()");
        }
    }
}

/// The `id=`, `ref_obj_id=` and `off=` a pointer prints, those not zero.
fn id_items(ptr: &PtrFields) -> Vec<String> {
    let mut items = Vec::new();
    if ptr.id != 0 {
        items.push(format!("id={}", ptr.id));
    }
    if ptr.ref_obj_id != 0 {
        items.push(format!("ref_obj_id={}", ptr.ref_obj_id));
    }
    if ptr.off != 0 {
        items.push(format!("off={}", snum(i64::from(ptr.off))));
    }
    items
}

/// A pointer's variable offset as the kernel prints it: `imm=` for a
/// non-zero constant, else its ranges.
fn push_var_items(items: &mut Vec<String>, var: &Scalar) {
    if var.is_const() {
        if var.var_off.value != 0 {
            items.push(format!("imm={}", snum(var.var_off.value as i64)));
        }
    } else {
        let ranges = fmt_scalar_ranges(var);
        if !ranges.is_empty() {
            items.push(ranges);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{MemTag, PtrFields, RegState, fmt_reg};
    use crate::domain::Scalar;

    #[test]
    fn memory_prints_its_flags_and_reference() {
        let ptr = PtrFields {
            off: 0,
            var: Scalar::constant(0),
            id: 2,
            ref_obj_id: 2,
            maybe_null: true,
        };
        let tag = MemTag {
            ringbuf: true,
            ..MemTag::default()
        };
        let reg = RegState::PtrToMem { ptr, size: 16, tag };
        let mut out = String::new();
        fmt_reg(&mut out, &reg, 0, &[]);
        assert_eq!(out, "ringbuf_mem_or_null(id=2,ref_obj_id=2,sz=16)");
        let rdonly = RegState::PtrToMem {
            ptr: PtrFields {
                maybe_null: false,
                ..ptr
            },
            size: 8,
            tag: MemTag {
                rdonly: true,
                ..MemTag::default()
            },
        };
        assert_eq!(rdonly.type_str(), "rdonly_mem");
    }
}
