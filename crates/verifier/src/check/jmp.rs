//! Jumps: `ja`/`gotol` and conditional jumps between scalars
//! (`check_cond_jmp_op`), with the queued branch and the refinement of
//! both sides, including registers linked by a scalar id
//! (`sync_linked_regs`).

use bpfcheck_isa::check_jmp_operand_fields;
use bpfcheck_uapi::{RawInsn, op};

use super::precision::LinkedLoc;
use super::spin_lock::holds_spin_lock;
use super::{Checker, Flow};
use crate::domain::{self, AluOp, Era, JmpOp, Scalar, Width};
use crate::error::{Stop, VerifierError};
use crate::prepare::map_btf::Field;
use crate::state::reg::{ADD_CONST, ADD_CONST32};
use crate::state::{RegState, ScalarReg, SlotType, VerifierState};

/// The relative offset of `ja` (`off`) or `gotol` (`imm`).
pub(crate) fn ja_offset(insn: &RawInsn) -> i32 {
    if insn.class() == op::JMP32 {
        insn.imm
    } else {
        i32::from(insn.off)
    }
}

/// Where `ja`/`gotol` at `idx` goes; `check_cfg` proved it in range.
pub(crate) fn ja_target(idx: usize, insn: &RawInsn) -> usize {
    let t = i64::try_from(idx).unwrap_or(0) + 1 + i64::from(ja_offset(insn));
    usize::try_from(t).unwrap_or(0)
}

/// A conditional jump's target; `check_cfg` proved it in range.
pub(super) fn target_of(idx: usize, insn: &RawInsn) -> usize {
    usize::try_from(i64::try_from(idx).unwrap_or(0) + 1 + i64::from(insn.off)).unwrap_or(0)
}

/// `mark_ptr_or_null_regs`: every copy of the lookup result `id` in the
/// state becomes the number 0 (`is_null`) or a plain pointer. A NULL
/// result that was its own reference (`ref_obj_id == id`) holds nothing
/// to release. A map value whose map holds a spin lock (by the maps'
/// special-field records `map_fields`) keeps its id, the lock's identity.
pub(super) fn mark_ptr_or_null(
    state: &mut VerifierState,
    (id, ref_obj_id): (u32, u32),
    is_null: bool,
    map_fields: &[Vec<Field>],
    non_null: &[super::map_in_map::NonNullAs],
    refs_release_swaps: bool,
) {
    if is_null && ref_obj_id != 0 && ref_obj_id == id {
        state.refs.release(id, refs_release_swaps);
    }
    let fix = |r: &mut RegState| {
        if let Some(ptr) = super::sock::sock_fields_mut(r)
            && ptr.maybe_null
            && ptr.id == id
        {
            if is_null {
                *r = RegState::constant(0);
            } else {
                // The reference stays until released.
                ptr.id = 0;
                super::sock::mark_not_null(r);
            }
            return;
        }
        // Memory of a known size (a global function's argument) too.
        if let RegState::PtrToMem { ptr, .. } | RegState::PtrToBtfId { ptr, .. } = r
            && ptr.maybe_null
            && ptr.id == id
        {
            if is_null {
                *r = RegState::constant(0);
            } else {
                ptr.maybe_null = false;
                ptr.id = 0;
            }
            return;
        }
        if let RegState::ConstPtrToMapOrNull { map, id: rid } = *r
            && rid == id
        {
            *r = if is_null {
                RegState::constant(0)
            } else {
                RegState::ConstPtrToMap { map }
            };
            return;
        }
        if let RegState::PtrToMapValue {
            maybe_null: true,
            id: rid,
            ..
        } = r
            && *rid == id
        {
            if is_null {
                *r = RegState::constant(0);
            } else if let RegState::PtrToMapValue {
                maybe_null,
                id,
                map,
                ..
            } = r
            {
                *maybe_null = false;
                if !holds_spin_lock(map_fields, *map) {
                    *id = 0;
                }
                let map = *map;
                super::map_in_map::not_null_map_value(r, non_null, map);
            }
        }
    };
    super::sock::for_each_reg(state, fix);
}

pub(super) fn jmp_op(code: u8) -> Option<JmpOp> {
    Some(match op::alu_op(code) {
        op::JEQ => JmpOp::Eq,
        op::JNE => JmpOp::Ne,
        op::JGT => JmpOp::Gt,
        op::JGE => JmpOp::Ge,
        op::JLT => JmpOp::Lt,
        op::JLE => JmpOp::Le,
        op::JSGT => JmpOp::Sgt,
        op::JSGE => JmpOp::Sge,
        op::JSLT => JmpOp::Slt,
        op::JSLE => JmpOp::Sle,
        op::JSET => JmpOp::Set,
        _ => return None,
    })
}

/// `LINKED_REGS_MAX`: registers one jump may narrow together.
const LINKED_REGS_MAX: usize = 6;

/// Where a linked scalar lives: a frame's register or spill slot.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Loc {
    Reg(u8, u8),
    Spill(u8, usize),
}

fn at(state: &mut VerifierState, loc: Loc) -> Option<&mut ScalarReg> {
    match loc {
        Loc::Reg(f, r) => state
            .frames
            .get_mut(usize::from(f))?
            .reg_mut(r)
            .scalar_mut(),
        Loc::Spill(f, spi) => state
            .frames
            .get_mut(usize::from(f))?
            .stack
            .get_mut(spi)?
            .spilled
            .scalar_mut(),
    }
}

/// `collect_linked_regs`: per frame from the innermost, live registers
/// (`live[frame]`), then spilled scalars, sharing the base of `id`; past
/// the limit the id is dropped.
/// `full_spills_only`: 6.1 finds spilled registers by the slot's first
/// byte (`bpf_get_spilled_reg`), so a narrower spill is not reached.
fn collect_linked(
    state: &mut VerifierState,
    id: u32,
    live: &[u16],
    full_spills_only: bool,
    out: &mut Vec<Loc>,
) {
    let base = id & !ADD_CONST;
    let mut locs = Vec::new();
    for (f, frame) in state.frames.iter().enumerate().rev() {
        let fr = u8::try_from(f).unwrap_or(u8::MAX);
        let lv = live.get(f).copied().unwrap_or(0);
        locs.extend(
            (0..10u8)
                .filter(|r| lv & (1 << r) != 0)
                .map(|r| Loc::Reg(fr, r)),
        );
        locs.extend(
            (0..frame.stack.len())
                .filter(|spi| {
                    let slot = &frame.stack[*spi];
                    slot.is_spill() && (!full_spills_only || slot.types[0] == SlotType::Spill)
                })
                .map(|spi| Loc::Spill(fr, spi)),
        );
    }
    for loc in locs {
        let Some(s) = at(state, loc) else { continue };
        if s.id & !ADD_CONST != base || out.contains(&loc) {
            continue;
        }
        if out.len() < LINKED_REGS_MAX {
            out.push(loc);
        } else {
            s.clear_id();
        }
    }
}

/// `sync_linked_regs`: the collected registers sharing `known`'s id take
/// its value. `false` when one carries a different constant offset, which
/// is not modelled.
/// `sync_linked_regs`; `false` when a register linked with another
/// offset needs a narrowing this kernel's rules (`v2`: see the profile's
/// `offset_links_v2`) are not modelled for.
fn sync_linked(
    (era, v2): (Era, bool),
    state: &mut VerifierState,
    known: &ScalarReg,
    skip: Loc,
    linked: &[Loc],
) -> bool {
    let base = known.id & !ADD_CONST;
    for &loc in linked {
        if loc == skip {
            continue;
        }
        let Some(s) = at(state, loc) else { continue };
        if s.id & !ADD_CONST != base {
            continue;
        }
        // A 32-bit and a 64-bit offset link do not describe each other.
        if v2 && (s.id ^ known.id) & ADD_CONST == ADD_CONST {
            continue;
        }
        let plain = s.id & ADD_CONST == 0 && known.id & ADD_CONST == 0;
        if plain || s.off == known.off {
            *s = *known;
        } else if !v2 {
            return false;
        } else {
            // This register is the known one moved by the difference of
            // their offsets, zero-extended if either link is 32-bit.
            let delta = Scalar::constant((i64::from(s.off) - i64::from(known.off)) as u64);
            let width = if (s.id | known.id) & ADD_CONST32 != 0 {
                Width::W32
            } else {
                Width::W64
            };
            s.value = domain::alu(era, AluOp::Add, width, &known.value, &delta);
            s.precise = known.precise;
        }
    }
    true
}

impl Checker<'_> {
    pub(super) fn cond_jmp(&mut self, insn: &RawInsn) -> Result<Flow, Stop> {
        let idx = self.insn_idx;
        self.read_reg(insn.dst)?;
        check_jmp_operand_fields(insn, idx).map_err(VerifierError::from)?;
        let reg_src = op::src(insn.code) == op::X;
        if reg_src {
            self.read_reg(insn.src)?;
        }
        let opk = jmp_op(insn.code).ok_or_else(|| self.unsupported("this jump opcode"))?;
        let width = if insn.class() == op::JMP32 {
            Width::W32
        } else {
            Width::W64
        };
        let dst = *self.cur.cur().reg(insn.dst);
        let src = if reg_src {
            *self.cur.cur().reg(insn.src)
        } else {
            RegState::Scalar(ScalarReg::new(Scalar::from_imm(insn.imm)))
        };
        if super::packet::is_pkt_any(&dst) && super::packet::is_pkt_any(&src) {
            return self.pkt_cond_jmp(insn, opk, width, &dst, &src);
        }
        let sock_cmp = reg_src
            && (super::sock::sock_fields(&dst).is_some()
                || super::sock::sock_fields(&src).is_some());
        if sock_cmp && self.profile.features.walk_v6_1.sock_compare {
            return Err(self
                .unsupported("socket pointer comparisons of kernel 6.1 (walk_v6_1.sock_compare)"));
        }
        if !reg_src && super::sock::sock_fields(&dst).is_some() {
            return self.cond_jmp_map_ptr(insn, opk, width, &dst, target_of(idx, insn));
        }
        if reg_src
            && let (Some(dp), Some(sp)) = (
                super::sock::sock_fields(&dst),
                super::sock::sock_fields(&src),
            )
        {
            return self.cond_jmp_socks(insn, opk, width, (dp.maybe_null, sp.maybe_null));
        }
        if reg_src {
            let sock_vs_scalar = match (&dst, &src) {
                (RegState::Scalar(sc), p) => super::sock::sock_fields(p).map(|p| (p, sc, insn.dst)),
                (p, RegState::Scalar(sc)) => super::sock::sock_fields(p).map(|p| (p, sc, insn.src)),
                _ => None,
            };
            if let Some((p, sc, scalar_reg)) = sock_vs_scalar {
                if sc.id != 0 {
                    return Err(
                        self.unsupported("comparisons of socket pointers with linked scalars")
                    );
                }
                let zero_eq_ne = width == Width::W64
                    && sc.value.var_off.equals_const(0)
                    && matches!(opk, JmpOp::Eq | JmpOp::Ne);
                let null_test = zero_eq_ne && !p.maybe_null;
                // 7.x: a maybe-NULL socket compared with a register known
                // to be 0 is null-checked (the socket the destination).
                let null_check = (zero_eq_ne
                    && p.maybe_null
                    && scalar_reg == insn.src
                    && self.profile.features.walk_v7.null_check_by_register)
                    .then_some((p.id, p.ref_obj_id));
                return self.cond_jmp_sock_scalar(insn, opk, null_test, null_check, scalar_reg);
            }
        }
        if dst.is_pointer() || src.is_pointer() {
            return self.ptr_cond_jmp(insn, opk, width, &dst, &src);
        }
        let (RegState::Scalar(d), RegState::Scalar(s)) = (dst, src) else {
            return Err(self.unsupported("comparisons involving uninitialised registers"));
        };
        if reg_src && d.id != 0 && d.id & !ADD_CONST == s.id & !ADD_CONST {
            return Err(self.unsupported("comparing linked scalars"));
        }
        let target = target_of(idx, insn);
        let taken = domain::branch_taken(self.era, opk, width, &d.value, &s.value)
            .map_err(|e| self.unsupported(&e.to_string()))?;
        if let Some(taken) = taken {
            // The outcome rests on the operands' exact values.
            self.mark_chain_precision(insn.dst)?;
            if reg_src {
                self.mark_chain_precision(insn.src)?;
            }
            self.print_insn_state();
            return Ok(if taken {
                Flow::Goto(target)
            } else {
                Flow::Next
            });
        }
        if reg_src && insn.src == insn.dst {
            // 6.18 narrows the register as both operands at once, in place.
            return Err(self.unsupported("comparing a register with itself, undecided"));
        }
        let refined = domain::refine(self.era, opk, width, &d.value, &s.value)
            .map_err(|e| self.unsupported(&e.to_string()))?;
        if !refined.violations.is_empty() {
            return Err(self.unsupported("register bounds invariant violations"));
        }
        let live = if self.profile.features.linked_regs_live_only {
            self.frame_live_regs(&self.cur, idx)
        } else {
            vec![u16::MAX; self.cur.frames.len()]
        };
        let v6_1_links = self.profile.features.walk_v6_1.linked_scalars;
        let mut linked = Vec::new();
        if reg_src && s.id != 0 {
            collect_linked(&mut self.cur, s.id, &live, v6_1_links, &mut linked);
        }
        if d.id != 0 {
            collect_linked(&mut self.cur, d.id, &live, v6_1_links, &mut linked);
        }
        let curframe = self.cur.cur().frameno;
        if linked.len() > 1 && !self.profile.features.walk_v6_1.linked_scalars {
            let locs = linked
                .iter()
                .map(|l| match *l {
                    Loc::Reg(frameno, regno) => LinkedLoc::Reg { frameno, regno },
                    Loc::Spill(frameno, spi) => LinkedLoc::Slot { frameno, spi },
                })
                .collect();
            self.push_hist(None, locs);
        }
        // Dropped ids of registers past the limit are part of both sides.
        let (d, s) = match (
            self.cur.cur().reg(insn.dst),
            reg_src.then(|| self.cur.cur().reg(insn.src)),
        ) {
            (RegState::Scalar(d2), Some(RegState::Scalar(s2))) => (*d2, *s2),
            (RegState::Scalar(d2), _) => (*d2, s),
            _ => (d, s),
        };
        let mut other = self.cur.clone();
        let era = self.era;
        let rules = (era, self.profile.features.offset_links_v2);
        let apply = |state: &mut VerifierState, (nd, ns): (Scalar, Scalar)| -> bool {
            let mut ok = true;
            let mut newd = d;
            newd.value = nd;
            *state.cur_mut().reg_mut(insn.dst) = RegState::Scalar(newd);
            let mut news = s;
            news.value = ns;
            if reg_src {
                *state.cur_mut().reg_mut(insn.src) = RegState::Scalar(news);
            }
            if reg_src && s.id != 0 {
                ok &= sync_linked(rules, state, &news, Loc::Reg(curframe, insn.src), &linked);
            }
            if d.id != 0 {
                ok &= sync_linked(rules, state, &newd, Loc::Reg(curframe, insn.dst), &linked);
            }
            ok
        };
        if !apply(&mut other, refined.taken) | !apply(&mut self.cur, refined.fallthrough) {
            return Err(self.unsupported("linked scalars with constant offsets (BPF_ADD_CONST)"));
        }
        self.push_branch(other, target, idx)?;
        self.print_insn_state();
        Ok(Flow::Next)
    }
}

impl Checker<'_> {
    /// A map value pointer compared with a constant (`is_branch_taken`
    /// for pointers, then the null check of a lookup result).
    fn cond_jmp_map_ptr(
        &mut self,
        insn: &RawInsn,
        opk: JmpOp,
        width: Width,
        dst: &RegState,
        target: usize,
    ) -> Result<Flow, Stop> {
        let (maybe_null, id, ref_obj_id) = match *dst {
            RegState::PtrToMapValue { maybe_null, id, .. } => (maybe_null, id, 0),
            RegState::PtrToMem { ptr, .. } => (ptr.maybe_null, ptr.id, ptr.ref_obj_id),
            ref r => match super::sock::sock_fields(r) {
                Some(p) => (p.maybe_null, p.id, p.ref_obj_id),
                None => return Err(self.unsupported("comparisons involving pointers")),
            },
        };
        let eq_ne = matches!(opk, JmpOp::Eq | JmpOp::Ne);
        // A valid pointer is never 0; its low half may well be.
        if width == Width::W64 && !maybe_null && insn.imm == 0 && eq_ne {
            self.print_insn_state();
            return Ok(if opk == JmpOp::Ne {
                Flow::Goto(target)
            } else {
                Flow::Next
            });
        }
        let mut other = self.cur.clone();
        if width == Width::W64 && insn.imm == 0 && eq_ne && maybe_null {
            self.mark_null_check(&mut other, (id, ref_obj_id), opk == JmpOp::Ne);
        }
        self.push_branch(other, target, self.insn_idx)?;
        self.print_insn_state();
        Ok(Flow::Next)
    }
}

impl Checker<'_> {
    /// Two socket pointers compared: the outcome is open, and when they
    /// are equal a NULL-or-socket one equals a socket, so it is not NULL
    /// there (`mark_ptr_not_null_reg` on that register only, keeping its
    /// id).
    fn cond_jmp_socks(
        &mut self,
        insn: &RawInsn,
        opk: JmpOp,
        width: Width,
        (dst_null, src_null): (bool, bool),
    ) -> Result<Flow, Stop> {
        let target = target_of(self.insn_idx, insn);
        let mut other = self.cur.clone();
        if width == Width::W64 && dst_null != src_null {
            let eq_branch = match opk {
                JmpOp::Eq => Some(&mut other),
                JmpOp::Ne => Some(&mut self.cur),
                _ => None,
            };
            if let Some(state) = eq_branch {
                let r = if dst_null { insn.dst } else { insn.src };
                super::sock::mark_not_null(state.cur_mut().reg_mut(r));
            }
        }
        self.push_branch(other, target, self.insn_idx)?;
        self.print_insn_state();
        Ok(Flow::Next)
    }

    /// A socket pointer compared with a number held in a register: a
    /// socket against 0 is decided (the number's zero made precise), a
    /// maybe-NULL one against 0 is null-checked on 7.x (`null_check`:
    /// its ids), anything else is an open fork without refinement.
    fn cond_jmp_sock_scalar(
        &mut self,
        insn: &RawInsn,
        opk: JmpOp,
        null_test: bool,
        null_check: Option<(u32, u32)>,
        scalar_reg: u8,
    ) -> Result<Flow, Stop> {
        let target = target_of(self.insn_idx, insn);
        if null_test {
            self.mark_chain_precision(scalar_reg)?;
            self.print_insn_state();
            return Ok(if opk == JmpOp::Ne {
                Flow::Goto(target)
            } else {
                Flow::Next
            });
        }
        let mut other = self.cur.clone();
        if let Some(ids) = null_check {
            self.mark_chain_precision(scalar_reg)?;
            self.mark_null_check(&mut other, ids, opk == JmpOp::Ne);
        }
        self.push_branch(other, target, self.insn_idx)?;
        self.print_insn_state();
        Ok(Flow::Next)
    }
}
