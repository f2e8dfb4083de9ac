//! 6.1's narrowing of two scalars on each side of an undecided
//! conditional jump (`check_cond_jmp_op` with `reg_set_min_max`,
//! `reg_set_min_max_inv` and `reg_combine_min_max`).
//!
//! Unlike 6.12+, which narrows both operands against each other's ranges,
//! 6.1 learns only from a constant: when one operand's value (or, for a
//! 32-bit jump, its low half) is known, the other is narrowed against it;
//! between two unknowns only `==`/`!=` of 64-bit values teaches anything
//! (the tnums are intersected, the ranges clamped to each other). Each
//! narrowed side then recomputes its other half wholesale
//! (`__reg_combine_64_into_32` / `__reg_combine_32_into_64`), which can
//! lose what was known there, and is synced once. 6.1 has no invariant
//! checks, so there are never violations.

use super::bounds::Scalar;
use super::branch::BranchStates;
use super::tnum::Tnum;
use super::{Era, JmpOp, Width};

/// `flip_opcode`: `a <op> b` as `b <op'> a`.
fn flip(op: JmpOp) -> JmpOp {
    match op {
        JmpOp::Gt => JmpOp::Lt,
        JmpOp::Ge => JmpOp::Le,
        JmpOp::Lt => JmpOp::Gt,
        JmpOp::Le => JmpOp::Ge,
        JmpOp::Sgt => JmpOp::Slt,
        JmpOp::Sge => JmpOp::Sle,
        JmpOp::Slt => JmpOp::Sgt,
        JmpOp::Sle => JmpOp::Sge,
        JmpOp::Eq | JmpOp::Ne | JmpOp::Set => op,
    }
}

/// The value a 32-bit or 64-bit jump compares against, when known.
fn known(s: &Scalar, width: Width) -> Option<(u64, u32)> {
    let low = s.var_off.subreg();
    if s.var_off.is_const() || width == Width::W32 && low.is_const() {
        Some((s.var_off.value, low.value as u32))
    } else {
        None
    }
}

/// Both operands on both sides of `dst <op> src` (both scalars, the jump
/// not decided), as 6.1 narrows them.
pub(super) fn refine(op: JmpOp, width: Width, dst: &Scalar, src: &Scalar) -> BranchStates {
    let (mut t_dst, mut f_dst, mut t_src, mut f_src) = (*dst, *dst, *src, *src);
    if let Some((val, val32)) = known(src, width) {
        set_min_max(&mut t_dst, &mut f_dst, val, val32, op, width);
    } else if let Some((val, val32)) = known(dst, width) {
        set_min_max(&mut t_src, &mut f_src, val, val32, flip(op), width);
    } else if width == Width::W64 {
        match op {
            JmpOp::Eq => combine(&mut t_src, &mut t_dst),
            JmpOp::Ne => combine(&mut f_src, &mut f_dst),
            _ => {}
        }
    }
    BranchStates {
        taken: (t_dst, t_src),
        fallthrough: (f_dst, f_src),
        violations: Vec::new(),
    }
}

/// `reg_set_min_max`: `t` where `reg <op> val` holds, `f` where it does
/// not (both the register before the jump).
fn set_min_max(t: &mut Scalar, f: &mut Scalar, val: u64, val32: u32, op: JmpOp, width: Width) {
    let w32 = width == Width::W32;
    let (mut t64, mut f64) = (t.var_off, f.var_off);
    let (mut t32, mut f32) = (t.var_off.subreg(), f.var_off.subreg());
    let sval = val as i64;
    let sval32 = val32 as i32;
    match op {
        // The id is kept: a register equal to a constant is that constant
        // in every register linked to it.
        JmpOp::Eq if w32 => {
            t.mark_32_known(val32);
            t32 = t.var_off.subreg();
        }
        JmpOp::Eq => {
            known_64(t, val);
            t64 = t.var_off;
        }
        JmpOp::Ne if w32 => {
            f.mark_32_known(val32);
            f32 = f.var_off.subreg();
        }
        JmpOp::Ne => {
            known_64(f, val);
            f64 = f.var_off;
        }
        JmpOp::Set => {
            // Ranges are forgotten before the bits narrow, so that a dead
            // side cannot contradict itself.
            f.mark_unbounded();
            if w32 {
                f32 = f32.and(Tnum::constant(u64::from(!val32)));
                if val32.is_power_of_two() {
                    t32 = t32.or(Tnum::constant(u64::from(val32)));
                }
            } else {
                f64 = f64.and(Tnum::constant(!val));
                if val.is_power_of_two() {
                    t64 = t64.or(Tnum::constant(val));
                }
            }
        }
        JmpOp::Ge | JmpOp::Gt => {
            let gt = op == JmpOp::Gt;
            if w32 {
                f.u32_max = f
                    .u32_max
                    .min(if gt { val32 } else { val32.wrapping_sub(1) });
                t.u32_min = t
                    .u32_min
                    .max(if gt { val32.wrapping_add(1) } else { val32 });
            } else {
                f.umax = f.umax.min(if gt { val } else { val.wrapping_sub(1) });
                t.umin = t.umin.max(if gt { val.wrapping_add(1) } else { val });
            }
        }
        JmpOp::Sge | JmpOp::Sgt => {
            let gt = op == JmpOp::Sgt;
            if w32 {
                f.s32_max = f
                    .s32_max
                    .min(if gt { sval32 } else { sval32.wrapping_sub(1) });
                t.s32_min = t
                    .s32_min
                    .max(if gt { sval32.wrapping_add(1) } else { sval32 });
            } else {
                f.smax = f.smax.min(if gt { sval } else { sval.wrapping_sub(1) });
                t.smin = t.smin.max(if gt { sval.wrapping_add(1) } else { sval });
            }
        }
        JmpOp::Le | JmpOp::Lt => {
            let lt = op == JmpOp::Lt;
            if w32 {
                f.u32_min = f
                    .u32_min
                    .max(if lt { val32 } else { val32.wrapping_add(1) });
                t.u32_max = t
                    .u32_max
                    .min(if lt { val32.wrapping_sub(1) } else { val32 });
            } else {
                f.umin = f.umin.max(if lt { val } else { val.wrapping_add(1) });
                t.umax = t.umax.min(if lt { val.wrapping_sub(1) } else { val });
            }
        }
        JmpOp::Sle | JmpOp::Slt => {
            let lt = op == JmpOp::Slt;
            if w32 {
                f.s32_min = f
                    .s32_min
                    .max(if lt { sval32 } else { sval32.wrapping_add(1) });
                t.s32_max = t
                    .s32_max
                    .min(if lt { sval32.wrapping_sub(1) } else { sval32 });
            } else {
                f.smin = f.smin.max(if lt { sval } else { sval.wrapping_add(1) });
                t.smax = t.smax.min(if lt { sval.wrapping_sub(1) } else { sval });
            }
        }
    }
    if w32 {
        f.var_off = f64.clear_subreg().or(f32.subreg());
        t.var_off = t64.clear_subreg().or(t32.subreg());
        combine_32_into_64(f);
        combine_32_into_64(t);
    } else {
        f.var_off = f64;
        t.var_off = t64;
        combine_64_into_32(f);
        combine_64_into_32(t);
    }
}

/// `___mark_reg_known`: every bound and bit set to `v` (id kept).
fn known_64(s: &mut Scalar, v: u64) {
    *s = Scalar::constant(v);
}

/// `__reg_combine_32_into_64`: the 64-bit bounds from the 32-bit ones when
/// the high half is known zero, else forgotten; then synced.
fn combine_32_into_64(s: &mut Scalar) {
    if s.var_off.clear_subreg().equals_const(0) {
        s.assign_32_into_64();
    } else {
        s.mark_64_unbounded();
    }
    s.sync(Era::V6_1);
}

/// `__reg_combine_64_into_32`: the 32-bit bounds rebuilt from the 64-bit
/// ones where those fit in 32 bits, else forgotten; then synced.
fn combine_64_into_32(s: &mut Scalar) {
    s.mark_32_unbounded();
    let fits_s32 = |v: i64| i32::try_from(v).is_ok();
    if fits_s32(s.smin) && fits_s32(s.smax) {
        s.s32_min = s.smin as i32;
        s.s32_max = s.smax as i32;
    }
    let fits_u32 = |v: u64| u32::try_from(v).is_ok();
    if fits_u32(s.umin) && fits_u32(s.umax) {
        s.u32_min = s.umin as u32;
        s.u32_max = s.umax as u32;
    }
    s.sync(Era::V6_1);
}

/// `__reg_combine_min_max`: two registers known equal take the tighter of
/// each bound and the intersection of their bits.
fn combine(a: &mut Scalar, b: &mut Scalar) {
    let umin = a.umin.max(b.umin);
    let umax = a.umax.min(b.umax);
    let smin = a.smin.max(b.smin);
    let smax = a.smax.min(b.smax);
    let var_off = a.var_off.intersect(b.var_off);
    for s in [&mut *a, &mut *b] {
        (s.umin, s.umax, s.smin, s.smax, s.var_off) = (umin, umax, smin, smax, var_off);
        s.sync(Era::V6_1);
    }
}

/// 6.1's `is_branch_taken` for two scalars: decided only against a known
/// `src` (its low half for a 32-bit jump), by `dst`'s bits for `==`, `!=`
/// and `&`, by its bounds otherwise; a known `dst` against an unknown
/// `src` decides nothing.
pub(super) fn taken(op: JmpOp, width: Width, dst: &Scalar, src: &Scalar) -> Option<bool> {
    let (t, umin, umax, smin, smax, val) = match width {
        Width::W32 => {
            let low = src.var_off.subreg();
            if !low.is_const() {
                return None;
            }
            let v = low.value;
            (
                dst.var_off.subreg(),
                u64::from(dst.u32_min),
                u64::from(dst.u32_max),
                i64::from(dst.s32_min),
                i64::from(dst.s32_max),
                (v, i64::from(v as u32 as i32)),
            )
        }
        Width::W64 => {
            if !src.var_off.is_const() {
                return None;
            }
            let v = src.var_off.value;
            (
                dst.var_off,
                dst.umin,
                dst.umax,
                dst.smin,
                dst.smax,
                (v, v as i64),
            )
        }
    };
    let (val, sval) = val;
    let order = |yes: bool, no: bool| {
        if yes {
            Some(true)
        } else if no {
            Some(false)
        } else {
            None
        }
    };
    match op {
        JmpOp::Eq => t.is_const().then_some(t.value == val),
        JmpOp::Ne => t.is_const().then_some(t.value != val),
        JmpOp::Set => order(t.value & !t.mask & val != 0, (t.mask | t.value) & val == 0),
        JmpOp::Gt => order(umin > val, umax <= val),
        JmpOp::Sgt => order(smin > sval, smax <= sval),
        JmpOp::Lt => order(umax < val, umin >= val),
        JmpOp::Slt => order(smax < sval, smin >= sval),
        JmpOp::Ge => order(umin >= val, umax < val),
        JmpOp::Sge => order(smin >= sval, smax < sval),
        JmpOp::Le => order(umax <= val, umin > val),
        JmpOp::Sle => order(smax <= sval, smin > sval),
    }
}
