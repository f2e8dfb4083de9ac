//! Direct packet access: the pointers `data`, `data_meta` and `data_end`
//! loads give, their arithmetic (`adjust_ptr_min_max_vals` for packet
//! pointers), the comparisons that prove bytes in bounds
//! (`try_match_pkt_pointers`, `find_good_pkt_pointers`, `mark_pkt_end`,
//! `is_pkt_ptr_branch_taken`), loads and stores (`check_packet_access`)
//! and the helpers that invalidate every packet pointer
//! (`clear_all_pkt_pointers`).
//!
//! A packet pointer's `range` is how many bytes from its fixed offset's
//! base are known to lie before `pkt_end`; every pointer sharing its type
//! and id learns the range one comparison proves. Privileged loaders only:
//! invalidated pointers become unknown numbers.

use bpfcheck_uapi::{Errno, RawInsn, op};

use super::ctx::PacketField;
use super::jmp::target_of;
use super::ptr_alu::{MAX_VAR_OFF, alu_string};
use super::{Checker, Flow};
use crate::domain::{AluOp, JmpOp, Scalar, Width};
use crate::error::{ErrorCode, Stop};
use crate::state::reg::{AT_PKT_END, BEYOND_PKT_END};
use crate::state::{PtrFields, RegState, ScalarReg, VerifierState};

/// `MAX_PACKET_OFF`.
const MAX_PACKET_OFF: u64 = 0xffff;

/// The helpers after which no packet pointer is valid
/// (`bpf_helper_changes_pkt_data`, unchanged from 6.12 to 7.2).
const CHANGES_PKT_DATA: [i32; 23] = [
    13,  // clone_redirect
    10,  // l3_csum_replace
    11,  // l4_csum_replace
    73,  // lwt_push_encap
    76,  // lwt_seg6_action
    75,  // lwt_seg6_adjust_srh
    74,  // lwt_seg6_store_bytes
    91,  // msg_pop_data
    63,  // msg_pull_data
    90,  // msg_push_data
    50,  // skb_adjust_room
    43,  // skb_change_head
    31,  // skb_change_proto
    38,  // skb_change_tail
    39,  // skb_pull_data
    9,   // skb_store_bytes
    19,  // skb_vlan_pop
    18,  // skb_vlan_push
    143, // store_hdr_opt
    44,  // xdp_adjust_head
    54,  // xdp_adjust_meta
    65,  // xdp_adjust_tail
    12,  // tail_call (the callee may change the packet)
];

/// Whether helper `id` changes packet data.
pub(super) fn changes_pkt_data(id: i32) -> bool {
    CHANGES_PKT_DATA.contains(&id)
}

/// The register a context load of `field` gives (`mark_reg_known_zero`
/// with the field's type).
pub(super) fn loaded_pointer(field: PacketField) -> RegState {
    let ptr = PtrFields {
        off: 0,
        var: Scalar::constant(0),
        id: 0,
        ref_obj_id: 0,
        maybe_null: false,
    };
    match field {
        PacketField::Data => RegState::PtrToPacket { ptr, range: 0 },
        PacketField::Meta => RegState::PtrToPacketMeta { ptr, range: 0 },
        PacketField::End => RegState::PtrToPacketEnd,
    }
}

/// Whether `r` is any of the three packet pointer kinds.
pub(super) fn is_pkt_any(r: &RegState) -> bool {
    matches!(
        r,
        RegState::PtrToPacket { .. } | RegState::PtrToPacketMeta { .. } | RegState::PtrToPacketEnd
    )
}

/// The offsets and range of a `pkt` or `pkt_meta` pointer.
fn fields(r: &RegState) -> Option<(PtrFields, i32)> {
    match *r {
        RegState::PtrToPacket { ptr, range } | RegState::PtrToPacketMeta { ptr, range } => {
            Some((ptr, range))
        }
        _ => None,
    }
}

/// `r` with new offsets and range, same kind.
fn with_fields(r: &RegState, ptr: PtrFields, range: i32) -> RegState {
    match r {
        RegState::PtrToPacketMeta { .. } => RegState::PtrToPacketMeta { ptr, range },
        _ => RegState::PtrToPacket { ptr, range },
    }
}

/// Every register and spilled register of every frame
/// (`bpf_for_each_reg_in_vstate`).
fn for_each_reg(state: &mut VerifierState, mut f: impl FnMut(&mut RegState)) {
    for frame in &mut state.frames {
        frame.regs.iter_mut().for_each(&mut f);
        for slot in &mut frame.stack {
            if slot.is_spill() {
                f(&mut slot.spilled);
            }
        }
    }
}

/// `find_good_pkt_pointers`: `dst` (a `pkt` or `pkt_meta` pointer) was
/// proved at most at the packet's end (`right_open`: strictly before it),
/// so every pointer of its kind and id gains the bytes up to its offset.
fn find_good_pkt_pointers(state: &mut VerifierState, dst: &RegState, right_open: bool) {
    let Some((ptr, _)) = fields(dst) else { return };
    if ptr.off < 0 || ptr.off == 0 && right_open {
        return;
    }
    let off = u64::try_from(ptr.off).unwrap_or(u64::MAX);
    if ptr.var.umax > MAX_PACKET_OFF || ptr.var.umax + off > MAX_PACKET_OFF {
        return;
    }
    let new_range = ptr.off + i32::from(right_open);
    let kind = std::mem::discriminant(dst);
    for_each_reg(state, |r| {
        if std::mem::discriminant(r) != kind {
            return;
        }
        if let RegState::PtrToPacket { ptr: p, range } | RegState::PtrToPacketMeta { ptr: p, range } =
            r
            && p.id == ptr.id
        {
            *range = (*range).max(new_range);
        }
    });
}

/// `mark_pkt_end`: register `regno` of a `pkt` pointer is at
/// (`AT_PKT_END`) or past (`BEYOND_PKT_END`) the packet's end.
fn mark_pkt_end(state: &mut VerifierState, regno: u8, beyond: bool) {
    if let RegState::PtrToPacket { range, .. } = state.cur_mut().reg_mut(regno) {
        *range = if beyond { BEYOND_PKT_END } else { AT_PKT_END };
    }
}

/// `reg_is_init_pkt_pointer(reg, PTR_TO_PACKET)`.
fn is_init_pkt(r: &RegState) -> bool {
    matches!(r, RegState::PtrToPacket { ptr, .. }
        if ptr.id == 0 && ptr.off == 0 && ptr.var.var_off.equals_const(0))
}

/// `flip_opcode`: the operator with its operands swapped.
pub(super) fn flip(opk: JmpOp) -> JmpOp {
    match opk {
        JmpOp::Gt => JmpOp::Lt,
        JmpOp::Lt => JmpOp::Gt,
        JmpOp::Ge => JmpOp::Le,
        JmpOp::Le => JmpOp::Ge,
        JmpOp::Sgt => JmpOp::Slt,
        JmpOp::Slt => JmpOp::Sgt,
        JmpOp::Sge => JmpOp::Sle,
        JmpOp::Sle => JmpOp::Sge,
        other => other,
    }
}

/// `is_pkt_ptr_branch_taken` for two packet pointers of a 64-bit jump.
fn pkt_branch_taken(dst: &RegState, src: &RegState, opk: JmpOp) -> Option<bool> {
    let (pkt, opk) = match (dst, src) {
        (_, RegState::PtrToPacketEnd) => (dst, opk),
        (RegState::PtrToPacketEnd, _) => (src, flip(opk)),
        _ => return None,
    };
    let (_, range) = fields(pkt)?;
    match opk {
        JmpOp::Le | JmpOp::Gt if range == BEYOND_PKT_END => Some(opk == JmpOp::Gt),
        JmpOp::Lt | JmpOp::Ge if range == BEYOND_PKT_END || range == AT_PKT_END => {
            Some(opk == JmpOp::Ge)
        }
        _ => None,
    }
}

impl Checker<'_> {
    /// `clear_all_pkt_pointers` after a helper that changes packet data:
    /// a privileged loader keeps them as unknown numbers.
    pub(super) fn clear_all_pkt_pointers(&mut self) {
        for_each_reg(&mut self.cur, |r| {
            let pkt_slice = matches!(r, RegState::PtrToMem { tag, .. } if tag.pkt_slice());
            if is_pkt_any(r) || pkt_slice {
                *r = RegState::unknown();
            }
        });
    }

    fn pkt_reject(&self, errno: Errno, msg: String) -> Stop {
        let code = if errno == Errno::EACCES {
            ErrorCode::PointerArithmetic
        } else {
            ErrorCode::InvalidInsn
        };
        self.reject(code, errno, msg)
    }

    /// `adjust_ptr_min_max_vals` for a 64-bit operation on a packet
    /// pointer `ptr` and the scalar `off`, into `insn.dst`; `reversed`
    /// when the pointer is the source (`scalar += pointer`).
    pub(super) fn pkt_ptr_arith(
        &mut self,
        insn: &RawInsn,
        opk: AluOp,
        ptr: &RegState,
        off: &ScalarReg,
        reversed: bool,
    ) -> Result<(), Stop> {
        let dst = insn.dst;
        let ty = ptr.type_str();
        let Some((p, range)) = fields(ptr) else {
            return Err(self.pkt_reject(
                Errno::EACCES,
                format!("R{dst} pointer arithmetic on {ty} prohibited"),
            ));
        };
        if i64::from(off.off).abs() >= MAX_VAR_OFF {
            // Whether 6.18 looks at a linked number's constant here is not
            // known.
            return Err(self.unsupported("packet arithmetic with a huge linked constant"));
        }
        self.sane_offset_scalar(&off.value, i64::from(off.off), ty)?;
        self.sane_offset_ptr(&p.var, i64::from(p.off), ty)?;
        if reversed && opk == AluOp::Sub {
            return Err(self.pkt_reject(
                Errno::EACCES,
                format!("R{dst} tried to subtract pointer from scalar"),
            ));
        }
        let v = &off.value;
        let known = v.const_value().map(|c| c as i64);
        let mut var = p.var;
        var.mark_32_unbounded();
        let (mut new, mut new_range) = (p, range);
        match (opk, known) {
            (AluOp::Add, Some(c)) if i32::try_from(i64::from(p.off) + c).is_ok() => {
                new.off = (i64::from(p.off) + c) as i32;
            }
            (AluOp::Sub, Some(c)) if i32::try_from(i64::from(p.off) - c).is_ok() => {
                new.off = (i64::from(p.off) - c) as i32;
            }
            (AluOp::Add, _) => {
                (var.smin, var.smax) = match (
                    p.var.smin.checked_add(v.smin),
                    p.var.smax.checked_add(v.smax),
                ) {
                    (Some(a), Some(b)) => (a, b),
                    _ => (i64::MIN, i64::MAX),
                };
                (var.umin, var.umax) = match (
                    p.var.umin.checked_add(v.umin),
                    p.var.umax.checked_add(v.umax),
                ) {
                    (Some(a), Some(b)) => (a, b),
                    _ => (0, u64::MAX),
                };
                var.var_off = p.var.var_off.add(v.var_off);
                new.id = self.new_id();
                new_range = 0;
            }
            (AluOp::Sub, _) => {
                (var.smin, var.smax) = match (
                    p.var.smin.checked_sub(v.smax),
                    p.var.smax.checked_sub(v.smin),
                ) {
                    (Some(a), Some(b)) => (a, b),
                    _ => (i64::MIN, i64::MAX),
                };
                (var.umin, var.umax) = if p.var.umin < v.umax {
                    (0, u64::MAX)
                } else {
                    (p.var.umin - v.umax, p.var.umax - v.umin)
                };
                var.var_off = p.var.var_off.sub(v.var_off);
                new.id = self.new_id();
                if v.smin < 0 {
                    new_range = 0;
                }
            }
            (AluOp::And | AluOp::Or | AluOp::Xor, _) => {
                return Err(self.pkt_reject(
                    Errno::EACCES,
                    format!(
                        "R{dst} bitwise operator {} on pointer prohibited",
                        alu_string(insn.code)
                    ),
                ));
            }
            _ => {
                return Err(self.pkt_reject(
                    Errno::EACCES,
                    format!(
                        "R{dst} pointer arithmetic with {} operator prohibited",
                        alu_string(insn.code)
                    ),
                ));
            }
        }
        // Any arithmetic forgets that the pointer was at or past the end
        // (a 6.18.y fix).
        if new_range < 0 && self.profile.features.pkt_arith_forgets_end {
            new_range = 0;
        }
        self.sane_offset_ptr(&var, i64::from(new.off), ty)?;
        var.sync(self.era);
        new.var = var;
        *self.cur.cur_mut().reg_mut(dst) = with_fields(ptr, new, new_range);
        Ok(())
    }

    /// `check_mem_access` through a `pkt` or `pkt_meta` pointer in
    /// `regno` at constant offset `off`. Socket filters never hold packet
    /// pointers, and tc and XDP programs may write packets, so loads and
    /// stores are checked alike.
    pub(super) fn pkt_access(
        &mut self,
        regno: u8,
        base: &RegState,
        off: i16,
        size: i32,
    ) -> Result<(), Stop> {
        self.pkt_aligned(base, off, size)?;
        self.check_packet_access(regno, base, i64::from(off), size, false)
    }

    /// `check_pkt_ptr_alignment`: with `BPF_F_STRICT_ALIGNMENT`, accesses
    /// wider than a byte must be aligned as if the packet started two
    /// bytes past an aligned address (`NET_IP_ALIGN`).
    fn pkt_aligned(&self, base: &RegState, off: i16, size: i32) -> Result<(), Stop> {
        const IP_ALIGN: i64 = 2;
        let Some((p, _)) = fields(base) else {
            return Ok(());
        };
        if !self.strict_alignment || size == 1 {
            return Ok(());
        }
        let fixed = IP_ALIGN + i64::from(p.off) + i64::from(off);
        let at = p
            .var
            .var_off
            .add(crate::domain::Tnum::constant(fixed as u64));
        let mask = u64::try_from(size - 1).unwrap_or(0);
        if (at.value | at.mask) & mask == 0 {
            return Ok(());
        }
        Err(self.reject(
            ErrorCode::InvalidMemAccess,
            Errno::EACCES,
            format!(
                "misaligned packet access off {IP_ALIGN}+{}+{}+{off} size {size}",
                self.tnum_str(p.var.var_off),
                p.off
            ),
        ))
    }

    /// `check_packet_access`: `size` bytes at `off` past the pointer's
    /// fixed offset must lie in its proven range.
    pub(super) fn check_packet_access(
        &mut self,
        regno: u8,
        base: &RegState,
        off: i64,
        size: i32,
        zero_ok: bool,
    ) -> Result<(), Stop> {
        let Some((p, range)) = fields(base) else {
            return Err(self.unsupported("memory access through this pointer type"));
        };
        if p.var.smin < 0 {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!(
                    "R{regno} min value is negative, either use unsigned index or do a if (index >=0) check."
                ),
            ));
        }
        let off = off + i64::from(p.off);
        let size_ok = size > 0 || size == 0 && zero_ok;
        let errno = if range < 0 {
            Some(Errno::EINVAL)
        } else if off >= 0 && size_ok && off + i64::from(size) <= i64::from(range) {
            None
        } else {
            self.log.line(&format!(
                "invalid access to packet, off={off} size={size}, R{regno}(id={},off={off},r={range})",
                p.id
            ));
            Some(Errno::EACCES)
        };
        match errno {
            None => Ok(()),
            Some(errno) => Err(self.reject(
                ErrorCode::InvalidMemAccess,
                errno,
                format!("R{regno} offset is outside of the packet"),
            )),
        }
    }

    /// A conditional jump with a packet pointer on either side.
    pub(super) fn pkt_cond_jmp(
        &mut self,
        insn: &RawInsn,
        opk: JmpOp,
        width: Width,
        dst: &RegState,
        src: &RegState,
    ) -> Result<Flow, Stop> {
        let idx = self.insn_idx;
        let target = target_of(idx, insn);
        let both = is_pkt_any(dst) && is_pkt_any(src);
        if !both {
            let other = if is_pkt_any(dst) { src } else { dst };
            match other {
                RegState::Scalar(s) if s.id == 0 => {}
                RegState::Scalar(_) => {
                    return Err(self.unsupported("packet pointers compared with linked scalars"));
                }
                _ => return Err(self.unsupported("comparisons involving pointers")),
            }
        }
        if both
            && width == Width::W64
            && let Some(taken) = pkt_branch_taken(dst, src, opk)
        {
            self.print_insn_state();
            return Ok(if taken {
                Flow::Goto(target)
            } else {
                Flow::Next
            });
        }
        let mut other = self.cur.clone();
        let reg_src = op::src(insn.code) == op::X;
        if both && reg_src && width == Width::W64 {
            self.match_pkt_pointers(insn, opk, dst, src, &mut other);
        }
        self.push_branch(other, target, idx)?;
        self.print_insn_state();
        Ok(Flow::Next)
    }

    /// `try_match_pkt_pointers`: `this` is the fall-through state (the
    /// current one), `other` the jump's.
    fn match_pkt_pointers(
        &mut self,
        insn: &RawInsn,
        opk: JmpOp,
        dst: &RegState,
        src: &RegState,
        other: &mut VerifierState,
    ) {
        // `pkt' OP pkt_end` or `pkt_meta' OP pkt`, and the mirrored forms.
        let dst_moved = matches!(dst, RegState::PtrToPacket { .. })
            && matches!(src, RegState::PtrToPacketEnd)
            || matches!(dst, RegState::PtrToPacketMeta { .. }) && is_init_pkt(src);
        let src_moved = matches!(dst, RegState::PtrToPacketEnd)
            && matches!(src, RegState::PtrToPacket { .. })
            || is_init_pkt(dst) && matches!(src, RegState::PtrToPacketMeta { .. });
        // Which state learns the range (the jump's, or the fall-through)
        // and whether the proof is strict; in the other state the moved
        // pointer is at (strict proof) or past (non-strict) the end.
        let (good_is_jump, open) = match (opk, dst_moved, src_moved) {
            (JmpOp::Gt, true, _) | (JmpOp::Lt, false, true) => (false, false),
            (JmpOp::Gt, false, true) | (JmpOp::Lt, true, _) => (true, true),
            (JmpOp::Ge, true, _) | (JmpOp::Le, false, true) => (false, true),
            (JmpOp::Ge, false, true) | (JmpOp::Le, true, _) => (true, false),
            _ => return,
        };
        let (moved, regno) = if dst_moved {
            (dst, insn.dst)
        } else {
            (src, insn.src)
        };
        let (good, bad) = if good_is_jump {
            (other, &mut self.cur)
        } else {
            (&mut self.cur, other)
        };
        find_good_pkt_pointers(good, moved, open);
        mark_pkt_end(bad, regno, !open);
    }
}
