//! Registers and stack slots as 6.1's `print_verifier_state` writes them
//! (`walk_v6_1.state_print`).
//!
//! What sets 6.1's form apart from the 6.12+ one in `reg.rs`:
//! - constants are full decimal `%lld` (`4294967290`, never `0xfffffffa`),
//!   and a constant stack pointer is `fp-8` in every frame (no `fp[1]`);
//! - every other pointer prints `off=` (zero too), packet pointers `r=`,
//!   map pointers `ks=,vs=` (no map name), and a constant variable offset
//!   as `imm=` in hex without `0x`;
//! - a pointer's `id=` and `ref_obj_id=`, the latter only for the kinds
//!   that may hold references (sockets, TCP sockets, memory, BTF objects);
//! - non-constant bounds are the 6.1 list: `smin`/`smax` only where they
//!   differ from `umin`/`umax`, the 32-bit halves only where they differ
//!   from the 64-bit ones, `u32_min`/`u32_max` printed signed, and nothing
//!   merged;
//! - a spilled register prints its type only (`fp-8_w=ctx`), a spilled
//!   scalar its precision mark and, when constant, its value;
//! - one type prefix (`rdonly_`, `alloc_`, `user_`, `percpu_`,
//!   `untrusted_`, the last that applies) and no trusted or RCU flags,
//!   which 6.1 does not have.

use std::fmt::Write as _;

use bpfcheck_uapi::MapSpec;

use super::btf_ptr::{MemKind, Trust};
use super::reg::{MapIdx, MemTag, PtrFields, RegState};
use super::stack::StackSlot;
use crate::domain::Scalar;

/// `reg_type_str` of 6.1 for `reg`: the one prefix, the base name and the
/// null suffix (`or_null_` before a BTF type name, `_or_null` otherwise).
fn type_str(reg: &RegState) -> String {
    let (prefix, maybe_null) = match reg {
        RegState::PtrToMem { ptr, tag, .. } => (mem_prefix(*tag), ptr.maybe_null),
        RegState::PtrToBtfId { ptr, btf } => {
            let prefix = match (btf.trust, btf.mem) {
                (Trust::Untrusted, _) => "untrusted_",
                (_, MemKind::Percpu) => "percpu_",
                (_, MemKind::User) => "user_",
                _ => "",
            };
            return format!(
                "{prefix}ptr_{}",
                if ptr.maybe_null { "or_null_" } else { "" }
            );
        }
        RegState::PtrToMapValue { maybe_null, .. } => ("", *maybe_null),
        RegState::ConstPtrToMapOrNull { .. } | RegState::PtrToSockMapValue { .. } => ("", true),
        RegState::PtrToSocket(p)
        | RegState::PtrToSockCommon(p)
        | RegState::PtrToTcpSock(p)
        | RegState::PtrToXdpSock(p) => ("", p.maybe_null),
        _ => ("", false),
    };
    let base = base_name(reg);
    format!("{prefix}{base}{}", if maybe_null { "_or_null" } else { "" })
}

/// 6.1 has no ring buffer flag: ring buffer records are `MEM_ALLOC`, whose
/// prefix wins over `rdonly_`.
fn mem_prefix(tag: MemTag) -> &'static str {
    if tag.ringbuf {
        "alloc_"
    } else if tag.rdonly {
        "rdonly_"
    } else {
        ""
    }
}

fn base_name(reg: &RegState) -> &'static str {
    match reg {
        RegState::NotInit => "?",
        RegState::Scalar(_) => "scalar",
        RegState::PtrToCtx { .. } => "ctx",
        RegState::PtrToStack { .. } => "fp",
        RegState::ConstPtrToMap { .. } | RegState::ConstPtrToMapOrNull { .. } => "map_ptr",
        RegState::PtrToMapValue { .. } | RegState::PtrToSockMapValue { .. } => "map_value",
        RegState::PtrToMapKey { .. } => "map_key",
        RegState::PtrToPacket { .. } => "pkt",
        RegState::PtrToPacketMeta { .. } => "pkt_meta",
        RegState::PtrToPacketEnd => "pkt_end",
        RegState::PtrToFlowKeys(_) => "flow_keys",
        RegState::PtrToSocket(_) => "sock",
        RegState::PtrToSockCommon(_) => "sock_common",
        RegState::PtrToTcpSock(_) => "tcp_sock",
        RegState::PtrToTpBuffer(_) => "tp_buffer",
        RegState::PtrToXdpSock(_) => "xdp_sock",
        RegState::PtrToBtfId { .. } => "ptr_",
        RegState::PtrToMem { .. } => "mem",
        RegState::PtrToBuf(_) => "buf",
        RegState::PtrToFunc { .. } => "func",
        RegState::ConstPtrToDynptr { .. } => "dynptr_ptr",
        // Kinds 6.1 does not have; the walk never makes them on 6.1.
        RegState::IterSlot { .. } => "fp",
        RegState::PtrToArena => "arena",
        RegState::PtrToInsn(_) => "insn",
    }
}

/// The parts of a register 6.1 prints inside the parentheses.
struct Parts {
    id: u32,
    ref_obj_id: Option<u32>,
    off: i32,
    var: Scalar,
}

fn parts(reg: &RegState) -> Parts {
    let of = |p: &PtrFields, refs: bool| Parts {
        id: p.id,
        ref_obj_id: refs.then_some(p.ref_obj_id),
        off: p.off,
        var: p.var,
    };
    match reg {
        RegState::PtrToCtx { off, var } | RegState::PtrToStack { off, var, .. } => Parts {
            id: 0,
            ref_obj_id: None,
            off: *off,
            var: *var,
        },
        RegState::PtrToMapValue { off, var, id, .. } => Parts {
            id: *id,
            ref_obj_id: None,
            off: *off,
            var: *var,
        },
        RegState::ConstPtrToMapOrNull { id, .. } => Parts {
            id: *id,
            ref_obj_id: None,
            off: 0,
            var: Scalar::constant(0),
        },
        RegState::PtrToSocket(p)
        | RegState::PtrToTcpSock(p)
        | RegState::PtrToMem { ptr: p, .. }
        | RegState::PtrToBtfId { ptr: p, .. } => of(p, true),
        RegState::PtrToMapKey { ptr: p, .. }
        | RegState::PtrToPacket { ptr: p, .. }
        | RegState::PtrToPacketMeta { ptr: p, .. }
        | RegState::PtrToFlowKeys(p)
        | RegState::PtrToSockMapValue { ptr: p, .. }
        | RegState::PtrToSockCommon(p)
        | RegState::PtrToTpBuffer(p)
        | RegState::PtrToXdpSock(p)
        | RegState::PtrToBuf(p)
        | RegState::ConstPtrToDynptr { ptr: p, .. }
        | RegState::PtrToInsn(p) => of(p, false),
        _ => Parts {
            id: 0,
            ref_obj_id: None,
            off: 0,
            var: Scalar::constant(0),
        },
    }
}

fn map_of(reg: &RegState) -> Option<MapIdx> {
    match reg {
        RegState::ConstPtrToMap { map }
        | RegState::ConstPtrToMapOrNull { map, .. }
        | RegState::PtrToMapValue { map, .. }
        | RegState::PtrToMapKey { map, .. }
        | RegState::PtrToSockMapValue { map, .. } => Some(*map),
        _ => None,
    }
}

/// 6.1's bounds of a non-constant value, each item preceded by `sep`
/// handling in `items`.
fn push_ranges(items: &mut Vec<String>, s: &Scalar) {
    if s.smin as u64 != s.umin && s.smin != i64::MIN {
        items.push(format!("smin={}", s.smin));
    }
    if s.smax as u64 != s.umax && s.smax != i64::MAX {
        items.push(format!("smax={}", s.smax));
    }
    if s.umin != 0 {
        items.push(format!("umin={}", s.umin));
    }
    if s.umax != u64::MAX {
        items.push(format!("umax={}", s.umax));
    }
    if !s.var_off.is_unknown() {
        items.push(format!("var_off={}", s.var_off));
    }
    // The kernel compares each 32-bit bound with its 64-bit counterpart
    // as 64-bit numbers (sign- or zero-extended).
    if i64::from(s.s32_min) != s.smin && s.s32_min != i32::MIN {
        items.push(format!("s32_min={}", s.s32_min));
    }
    if i64::from(s.s32_max) != s.smax && s.s32_max != i32::MAX {
        items.push(format!("s32_max={}", s.s32_max));
    }
    if u64::from(s.u32_min) != s.umin && s.u32_min != 0 {
        items.push(format!("u32_min={}", s.u32_min as i32));
    }
    if u64::from(s.u32_max) != s.umax && s.u32_max != u32::MAX {
        items.push(format!("u32_max={}", s.u32_max as i32));
    }
}

/// One register's text after `R%d=` (liveness letters printed by the
/// caller).
pub(crate) fn fmt_reg(out: &mut String, reg: &RegState, maps: &[MapSpec]) {
    if let RegState::Scalar(s) = reg {
        if s.precise {
            out.push('P');
        }
        if s.value.is_const() {
            let _ = write!(out, "{}", s.value.var_off.value as i64);
            return;
        }
        out.push_str("scalar(");
        let mut items = Vec::new();
        if s.id != 0 {
            items.push(format!("id={}", s.id));
        }
        push_ranges(&mut items, &s.value);
        out.push_str(&items.join(","));
        out.push(')');
        return;
    }
    if let RegState::PtrToStack { off, var, .. } = reg
        && var.is_const()
    {
        let _ = write!(
            out,
            "fp{}",
            (var.var_off.value as i64).wrapping_add(i64::from(*off))
        );
        return;
    }
    out.push_str(&type_str(reg));
    if let RegState::PtrToBtfId { btf, .. } = reg {
        out.push_str(btf.name.as_str());
    }
    let p = parts(reg);
    let mut items = Vec::new();
    if p.id != 0 {
        items.push(format!("id={}", p.id));
    }
    if let Some(r) = p.ref_obj_id
        && r != 0
    {
        items.push(format!("ref_obj_id={r}"));
    }
    items.push(format!("off={}", p.off));
    if let RegState::PtrToPacket { range, .. } | RegState::PtrToPacketMeta { range, .. } = reg {
        items.push(format!("r={range}"));
    } else if let Some(map) = map_of(reg) {
        match maps.get(map.0 as usize) {
            Some(m) => items.push(format!("ks={},vs={}", m.key_size, m.value_size)),
            None => items.push("ks=?,vs=?".to_owned()),
        }
    }
    if p.var.is_const() {
        items.push(format!("imm={:x}", p.var.var_off.value));
    } else {
        push_ranges(&mut items, &p.var);
    }
    out.push('(');
    out.push_str(&items.join(","));
    out.push(')');
}

/// `fpN…=…` for slot `spi`, or nothing for a slot never written;
/// `live` are the slot's liveness letters.
pub(crate) fn fmt_slot(out: &mut String, spi: usize, slot: &StackSlot, live: u8) {
    if !slot.is_valid() {
        return;
    }
    let off = -(i64::try_from(spi).unwrap_or(0) + 1) * super::SLOT_SIZE as i64;
    let _ = write!(out, " fp{off}");
    super::live::suffix(out, live);
    out.push('=');
    if slot.types[super::SLOT_SIZE - 1] == super::SlotType::Spill {
        match &slot.spilled {
            RegState::Scalar(s) => {
                if s.precise {
                    out.push('P');
                }
                if s.value.is_const() {
                    let _ = write!(out, "{}", s.value.var_off.value as i64);
                }
            }
            other => out.push_str(&type_str(other)),
        }
    } else {
        let chars: String = slot.types.iter().map(|t| t.log_char()).collect();
        out.push_str(&chars);
    }
}

#[cfg(test)]
mod tests {
    use super::fmt_reg;
    use crate::domain::{Scalar, Tnum};
    use crate::state::reg::{RegState, ScalarReg};

    fn text(reg: &RegState) -> String {
        let mut out = String::new();
        fmt_reg(&mut out, reg, &[]);
        out
    }

    #[test]
    fn pointers_print_off_and_imm() {
        assert_eq!(text(&RegState::ctx()), "ctx(off=0,imm=0)");
        assert_eq!(text(&RegState::fp(1, -8)), "fp-8");
    }

    #[test]
    fn constants_are_full_decimal() {
        assert_eq!(text(&RegState::constant(0xffff_fffa)), "4294967290");
        assert_eq!(text(&RegState::constant(u64::MAX)), "-1");
    }

    #[test]
    fn bounds_are_not_merged() {
        let mut s = Scalar::unknown();
        s.var_off = Tnum::new(0, 0xffff_ffff);
        s.sync(crate::domain::Era::V6_1);
        assert_eq!(
            text(&RegState::Scalar(ScalarReg::new(s))),
            "scalar(umax=4294967295,var_off=(0x0; 0xffffffff))"
        );
    }
}
