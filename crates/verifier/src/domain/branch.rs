//! Conditional jumps between two scalars: deciding the branch
//! (`is_scalar_branch_taken`) and narrowing both operands on each side
//! (`reg_set_min_max` with `regs_refine_cond_op`).

use std::fmt;

use super::bounds::{BoundsViolation, Scalar};
use super::tnum::{Tnum, hex};
use super::{Era, JmpOp, Width};

/// The era's branch logic is not modelled (every era is, today: 6.1's in
/// `branch_v6_1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unmodelled {
    /// The era asked for.
    pub era: Era,
}

impl fmt::Display for Unmodelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scalar branch refinement of {:?}", self.era)
    }
}

impl std::error::Error for Unmodelled {}

/// Both operands on both sides of a conditional jump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BranchStates {
    /// `(dst, src)` where the jump is taken.
    pub taken: (Scalar, Scalar),
    /// `(dst, src)` where it falls through.
    pub fallthrough: (Scalar, Scalar),
    /// The kernel's `REG INVARIANTS VIOLATION` lines, in its order
    /// (`true_reg1`, `true_reg2`, `false_reg1`, `false_reg2`). Each such
    /// register was made unbounded (tnum kept), as the kernel does when not
    /// testing invariants.
    pub violations: Vec<String>,
}

/// The comparison and `BPF_JSET | BPF_X`, which the kernel uses
/// internally for "not set".
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cond {
    Op(JmpOp),
    NotSet,
}

/// The kernel's view of one operand at a width.
struct View {
    t: Tnum,
    umin: u64,
    umax: u64,
    smin: i64,
    smax: i64,
}

fn view(s: &Scalar, width: Width) -> View {
    match width {
        Width::W32 => View {
            t: s.var_off.subreg(),
            umin: u64::from(s.u32_min),
            umax: u64::from(s.u32_max),
            smin: i64::from(s.s32_min),
            smax: i64::from(s.s32_max),
        },
        Width::W64 => View {
            t: s.var_off,
            umin: s.umin,
            umax: s.umax,
            smin: s.smin,
            smax: s.smax,
        },
    }
}

fn is_const(s: &Scalar, width: Width) -> bool {
    match width {
        Width::W32 => s.subreg_is_const(),
        Width::W64 => s.is_const(),
    }
}

fn const_of(s: &Scalar, width: Width) -> u64 {
    match width {
        Width::W32 => s.var_off.subreg().value,
        Width::W64 => s.var_off.value,
    }
}

/// Whether `dst <op> src` is decided: `Some(true)` always taken,
/// `Some(false)` never, `None` either way (`is_scalar_branch_taken`).
pub fn branch_taken(
    era: Era,
    op: JmpOp,
    width: Width,
    dst: &Scalar,
    src: &Scalar,
) -> Result<Option<bool>, Unmodelled> {
    if era.bounds_v1() {
        return Ok(super::branch_v6_1::taken(op, width, dst, src));
    }
    let (a, b) = (view(dst, width), view(src, width));
    let decided = match op {
        JmpOp::Eq | JmpOp::Ne => {
            equality_decided(width, dst, src, &a, &b).map(|eq| eq == (op == JmpOp::Eq))
        }
        JmpOp::Set => {
            let (c, t) = if is_const(src, width) {
                (Some(b.t), a.t)
            } else if is_const(dst, width) {
                (Some(a.t), b.t)
            } else {
                (None, a.t)
            };
            match c {
                None => None,
                Some(c) if t.value & !t.mask & c.value != 0 => Some(true),
                Some(c) if (t.mask | t.value) & c.value == 0 => Some(false),
                Some(_) => None,
            }
        }
        JmpOp::Gt => order(a.umin > b.umax, a.umax <= b.umin),
        JmpOp::Ge => order(a.umin >= b.umax, a.umax < b.umin),
        JmpOp::Lt => order(a.umax < b.umin, a.umin >= b.umax),
        JmpOp::Le => order(a.umax <= b.umin, a.umin > b.umax),
        JmpOp::Sgt => order(a.smin > b.smax, a.smax <= b.smin),
        JmpOp::Sge => order(a.smin >= b.smax, a.smax < b.smin),
        JmpOp::Slt => order(a.smax < b.smin, a.smin >= b.smax),
        JmpOp::Sle => order(a.smax <= b.smin, a.smin > b.smax),
    };
    Ok(decided)
}

fn order(always: bool, never: bool) -> Option<bool> {
    if always {
        Some(true)
    } else if never {
        Some(false)
    } else {
        None
    }
}

/// `Some(true)` when the operands are surely equal, `Some(false)` when
/// surely different.
fn equality_decided(width: Width, dst: &Scalar, src: &Scalar, a: &View, b: &View) -> Option<bool> {
    if a.t.is_const() && b.t.is_const() {
        return Some(a.t.value == b.t.value);
    }
    let disjoint = !a.t.overlaps(b.t)
        || a.umin > b.umax
        || a.umax < b.umin
        || a.smin > b.smax
        || a.smax < b.smin
        || (width == Width::W64
            && (dst.u32_min > src.u32_max
                || dst.u32_max < src.u32_min
                || dst.s32_min > src.s32_max
                || dst.s32_max < src.s32_min));
    if disjoint { Some(false) } else { None }
}

/// Both operands narrowed for each side of `dst <op> src`, then synced and
/// sanity-checked (`reg_set_min_max`). Meant for undecided branches; on a
/// decided one the impossible side may come out with violations.
pub fn refine(
    era: Era,
    op: JmpOp,
    width: Width,
    dst: &Scalar,
    src: &Scalar,
) -> Result<BranchStates, Unmodelled> {
    if era.bounds_v1() {
        return Ok(super::branch_v6_1::refine(op, width, dst, src));
    }
    let reverse = match op {
        JmpOp::Eq => Cond::Op(JmpOp::Ne),
        JmpOp::Ne => Cond::Op(JmpOp::Eq),
        JmpOp::Set => Cond::NotSet,
        JmpOp::Gt => Cond::Op(JmpOp::Le),
        JmpOp::Ge => Cond::Op(JmpOp::Lt),
        JmpOp::Lt => Cond::Op(JmpOp::Ge),
        JmpOp::Le => Cond::Op(JmpOp::Gt),
        JmpOp::Sgt => Cond::Op(JmpOp::Sle),
        JmpOp::Sge => Cond::Op(JmpOp::Slt),
        JmpOp::Slt => Cond::Op(JmpOp::Sge),
        JmpOp::Sle => Cond::Op(JmpOp::Sgt),
    };
    let (mut f1, mut f2) = (*dst, *src);
    refine_cond(reverse, width, &mut f1, &mut f2);
    f1.sync(era);
    f2.sync(era);
    let (mut t1, mut t2) = (*dst, *src);
    refine_cond(Cond::Op(op), width, &mut t1, &mut t2);
    t1.sync(era);
    t2.sync(era);
    let mut violations = Vec::new();
    for (ctx, reg) in [
        ("true_reg1", &mut t1),
        ("true_reg2", &mut t2),
        ("false_reg1", &mut f1),
        ("false_reg2", &mut f2),
    ] {
        if let Err(v) = reg.check_sane() {
            violations.push(violation_message(ctx, v, reg));
            reg.mark_unbounded();
        }
    }
    Ok(BranchStates {
        taken: (t1, t2),
        fallthrough: (f1, f2),
        violations,
    })
}

/// The kernel's `REG INVARIANTS VIOLATION` log line for `reg`.
pub(crate) fn violation_message(ctx: &str, v: BoundsViolation, reg: &Scalar) -> String {
    format!(
        "REG INVARIANTS VIOLATION ({ctx}): {} u64=[{}, {}] s64=[{}, {}] u32=[{}, {}] s32=[{}, {}] var_off=({}, {})",
        v.message(),
        hex(reg.umin),
        hex(reg.umax),
        hex(reg.smin as u64),
        hex(reg.smax as u64),
        hex(u64::from(reg.u32_min)),
        hex(u64::from(reg.u32_max)),
        hex(u64::from(reg.s32_min as u32)),
        hex(u64::from(reg.s32_max as u32)),
        hex(reg.var_off.value),
        hex(reg.var_off.mask),
    )
}

/// `regs_refine_cond_op`: narrows `r1` and `r2` assuming `r1 <cond> r2`.
fn refine_cond(cond: Cond, width: Width, r1: &mut Scalar, r2: &mut Scalar) {
    // `>`-style comparisons are the `<`-style ones with operands swapped.
    let (cond, r1, r2) = match cond {
        Cond::Op(JmpOp::Ge) => (Cond::Op(JmpOp::Le), r2, r1),
        Cond::Op(JmpOp::Gt) => (Cond::Op(JmpOp::Lt), r2, r1),
        Cond::Op(JmpOp::Sge) => (Cond::Op(JmpOp::Sle), r2, r1),
        Cond::Op(JmpOp::Sgt) => (Cond::Op(JmpOp::Slt), r2, r1),
        c => (c, r1, r2),
    };
    let w32 = width == Width::W32;
    match cond {
        Cond::Op(JmpOp::Eq) => {
            if w32 {
                r1.u32_min = r1.u32_min.max(r2.u32_min);
                r1.u32_max = r1.u32_max.min(r2.u32_max);
                r1.s32_min = r1.s32_min.max(r2.s32_min);
                r1.s32_max = r1.s32_max.min(r2.s32_max);
                (r2.u32_min, r2.u32_max, r2.s32_min, r2.s32_max) =
                    (r1.u32_min, r1.u32_max, r1.s32_min, r1.s32_max);
                let t = r1.var_off.subreg().intersect(r2.var_off.subreg());
                r1.var_off = r1.var_off.with_subreg(t);
                r2.var_off = r2.var_off.with_subreg(t);
            } else {
                r1.umin = r1.umin.max(r2.umin);
                r1.umax = r1.umax.min(r2.umax);
                r1.smin = r1.smin.max(r2.smin);
                r1.smax = r1.smax.min(r2.smax);
                (r2.umin, r2.umax, r2.smin, r2.smax) = (r1.umin, r1.umax, r1.smin, r1.smax);
                r1.var_off = r1.var_off.intersect(r2.var_off);
                r2.var_off = r1.var_off;
            }
        }
        Cond::Op(JmpOp::Ne) => {
            let Some((r1, val)) = const_side(width, r1, r2) else {
                return;
            };
            // Only a constant at an edge of the range excludes anything.
            if w32 {
                let v = val as u32;
                if r1.u32_min == v {
                    r1.u32_min = r1.u32_min.wrapping_add(1);
                }
                if r1.u32_max == v {
                    r1.u32_max = r1.u32_max.wrapping_sub(1);
                }
                if r1.s32_min == v as i32 {
                    r1.s32_min = r1.s32_min.wrapping_add(1);
                }
                if r1.s32_max == v as i32 {
                    r1.s32_max = r1.s32_max.wrapping_sub(1);
                }
            } else {
                if r1.umin == val {
                    r1.umin = r1.umin.wrapping_add(1);
                }
                if r1.umax == val {
                    r1.umax = r1.umax.wrapping_sub(1);
                }
                if r1.smin == val as i64 {
                    r1.smin = r1.smin.wrapping_add(1);
                }
                if r1.smax == val as i64 {
                    r1.smax = r1.smax.wrapping_sub(1);
                }
            }
        }
        Cond::Op(JmpOp::Set) => {
            let Some((r1, val)) = const_side(width, r1, r2) else {
                return;
            };
            // Only a single tested bit is then known to be set.
            if !val.is_power_of_two() {
                return;
            }
            if w32 {
                let t = r1.var_off.subreg().or(Tnum::constant(val));
                r1.var_off = r1.var_off.with_subreg(t);
            } else {
                r1.var_off = r1.var_off.or(Tnum::constant(val));
            }
        }
        Cond::NotSet => {
            let Some((r1, val)) = const_side(width, r1, r2) else {
                return;
            };
            // Ranges are dropped first so a dead branch's narrowed tnum
            // cannot contradict them.
            r1.mark_unbounded();
            if w32 {
                let t = r1.var_off.subreg().and(Tnum::constant(!val));
                r1.var_off = r1.var_off.with_subreg(t);
            } else {
                r1.var_off = r1.var_off.and(Tnum::constant(!val));
            }
        }
        Cond::Op(JmpOp::Le) => {
            if w32 {
                r1.u32_max = r1.u32_max.min(r2.u32_max);
                r2.u32_min = r1.u32_min.max(r2.u32_min);
            } else {
                r1.umax = r1.umax.min(r2.umax);
                r2.umin = r1.umin.max(r2.umin);
            }
        }
        Cond::Op(JmpOp::Lt) => {
            if w32 {
                r1.u32_max = r1.u32_max.min(r2.u32_max.wrapping_sub(1));
                r2.u32_min = r1.u32_min.wrapping_add(1).max(r2.u32_min);
            } else {
                r1.umax = r1.umax.min(r2.umax.wrapping_sub(1));
                r2.umin = r1.umin.wrapping_add(1).max(r2.umin);
            }
        }
        Cond::Op(JmpOp::Sle) => {
            if w32 {
                r1.s32_max = r1.s32_max.min(r2.s32_max);
                r2.s32_min = r1.s32_min.max(r2.s32_min);
            } else {
                r1.smax = r1.smax.min(r2.smax);
                r2.smin = r1.smin.max(r2.smin);
            }
        }
        Cond::Op(JmpOp::Slt) => {
            if w32 {
                r1.s32_max = r1.s32_max.min(r2.s32_max.wrapping_sub(1));
                r2.s32_min = r1.s32_min.wrapping_add(1).max(r2.s32_min);
            } else {
                r1.smax = r1.smax.min(r2.smax.wrapping_sub(1));
                r2.smin = r1.smin.wrapping_add(1).max(r2.smin);
            }
        }
        Cond::Op(JmpOp::Ge | JmpOp::Gt | JmpOp::Sge | JmpOp::Sgt) => {}
    }
}

/// The non-constant operand (preferring `r1`) and the other's constant
/// value at `width`, or `None` when neither is constant.
fn const_side<'a>(
    width: Width,
    r1: &'a mut Scalar,
    r2: &'a mut Scalar,
) -> Option<(&'a mut Scalar, u64)> {
    if is_const(r2, width) {
        let v = const_of(r2, width);
        Some((r1, v))
    } else if is_const(r1, width) {
        let v = const_of(r1, width);
        Some((r2, v))
    } else {
        None
    }
}
