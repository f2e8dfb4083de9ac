//! Jumps: `ja`/`gotol` and conditional jumps between scalars
//! (`check_cond_jmp_op`), with the queued branch and the refinement of
//! both sides, including registers linked by a scalar id
//! (`sync_linked_regs`).

use bpfcheck_isa::check_jmp_operand_fields;
use bpfcheck_uapi::{RawInsn, op};

use super::precision::LinkedLoc;
use super::{Checker, Flow};
use crate::domain::{self, JmpOp, Scalar, Width};
use crate::error::{Stop, VerifierError};
use crate::state::reg::ADD_CONST;
use crate::state::{RegState, ScalarReg, VerifierState};

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
/// state becomes the number 0 (`is_null`) or a plain map value pointer.
fn mark_ptr_or_null(state: &mut VerifierState, id: u32, is_null: bool) {
    let fix = |r: &mut RegState| {
        // Memory of a known size (a global function's argument) too.
        if let RegState::PtrToMem { ptr, .. } = r
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
        if let RegState::PtrToMapValue {
            maybe_null: true,
            id: rid,
            ..
        } = r
            && *rid == id
        {
            if is_null {
                *r = RegState::constant(0);
            } else if let RegState::PtrToMapValue { maybe_null, id, .. } = r {
                *maybe_null = false;
                *id = 0;
            }
        }
    };
    for frame in &mut state.frames {
        frame.regs.iter_mut().for_each(fix);
        for slot in &mut frame.stack {
            if slot.is_spill() {
                fix(&mut slot.spilled);
            }
        }
    }
}

fn jmp_op(code: u8) -> Option<JmpOp> {
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
fn collect_linked(state: &mut VerifierState, id: u32, live: &[u16], out: &mut Vec<Loc>) {
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
                .filter(|spi| frame.stack[*spi].is_spill())
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
fn sync_linked(state: &mut VerifierState, known: &ScalarReg, skip: Loc, linked: &[Loc]) -> bool {
    let base = known.id & !ADD_CONST;
    let mut ok = true;
    for &loc in linked {
        if loc == skip {
            continue;
        }
        let Some(s) = at(state, loc) else { continue };
        if s.id & !ADD_CONST != base {
            continue;
        }
        let plain = s.id & ADD_CONST == 0 && known.id & ADD_CONST == 0;
        if plain || s.off == known.off {
            *s = *known;
        } else {
            ok = false;
        }
    }
    ok
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
        if super::packet::is_pkt_any(&dst) || super::packet::is_pkt_any(&src) {
            return self.pkt_cond_jmp(insn, opk, width, &dst, &src);
        }
        if !reg_src
            && matches!(
                dst,
                RegState::PtrToMapValue { .. } | RegState::PtrToMem { .. }
            )
        {
            return self.cond_jmp_map_ptr(insn, opk, width, &dst, target_of(idx, insn));
        }
        let (RegState::Scalar(d), RegState::Scalar(s)) = (dst, src) else {
            return Err(self.unsupported("comparisons involving pointers"));
        };
        if reg_src && insn.src == insn.dst {
            return Err(self.unsupported("comparing a register with itself"));
        }
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
        let mut linked = Vec::new();
        if reg_src && s.id != 0 {
            collect_linked(&mut self.cur, s.id, &live, &mut linked);
        }
        if d.id != 0 {
            collect_linked(&mut self.cur, d.id, &live, &mut linked);
        }
        let curframe = self.cur.cur().frameno;
        if linked.len() > 1 {
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
                ok &= sync_linked(state, &news, Loc::Reg(curframe, insn.src), &linked);
            }
            if d.id != 0 {
                ok &= sync_linked(state, &newd, Loc::Reg(curframe, insn.dst), &linked);
            }
            ok
        };
        let ok_other = apply(&mut other, refined.taken);
        let ok_this = apply(&mut self.cur, refined.fallthrough);
        if !ok_other || !ok_this {
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
        let (maybe_null, id) = match *dst {
            RegState::PtrToMapValue { maybe_null, id, .. } => (maybe_null, id),
            RegState::PtrToMem { ptr, .. } => (ptr.maybe_null, ptr.id),
            _ => return Err(self.unsupported("comparisons involving pointers")),
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
            mark_ptr_or_null(&mut self.cur, id, opk == JmpOp::Ne);
            mark_ptr_or_null(&mut other, id, opk == JmpOp::Eq);
        }
        self.push_branch(other, target, self.insn_idx)?;
        self.print_insn_state();
        Ok(Flow::Next)
    }
}
