//! ALU transfer functions on scalars (`adjust_scalar_min_max_vals` and the
//! scalar cases of `check_alu_op`).

use super::bounds::Scalar;
use super::{AluOp, Era, Width};

/// The abstract result of `dst = dst <op> src` on two scalars, as the
/// kernel of `era` computes it. `src` is ignored by `Neg` and `End`; for an
/// immediate operand pass [`Scalar::from_imm`] (the kernel sign-extends the
/// immediate of 32-bit operations too, then looks only at the low half).
///
/// The caller handles what is not a matter of numbers: pointer operands,
/// scalar ids, precision marks, and the state fork of
/// [`split_minus_one_or_zero`] that 6.12.y/6.18.y make before `and`/`or`.
pub fn alu(era: Era, op: AluOp, width: Width, dst: &Scalar, src: &Scalar) -> Scalar {
    match op {
        AluOp::Mov => mov(era, width, src),
        AluOp::MovSx(size) => mov_sx(era, width, src, size),
        AluOp::Neg if era.tracks_neg() => {
            let mut d = Scalar::constant(0);
            arith(era, AluOp::Sub, width, &mut d, dst);
            finish(era, width, d)
        }
        AluOp::End { bits, swap } if era.tracks_end() => byte_swap(era, dst, bits, swap),
        // Before the eras that track them, the kernel marks the
        // destination unknown (`check_reg_arg(DST_OP)`), all 64 bits.
        AluOp::Neg | AluOp::End { .. } => Scalar::unknown(),
        _ => match gate(era, op, width, src) {
            Gate::Unknown => Scalar::unknown(),
            // 6.1 marks these unknown inside the op switch, so the 32-bit
            // zero extension still follows.
            Gate::UnknownExtended => finish(era, width, Scalar::unknown()),
            Gate::Compute => {
                let mut d = *dst;
                arith(era, op, width, &mut d, src);
                finish(era, width, d)
            }
        },
    }
}

/// `maybe_fork_scalars` of 6.12.y and 6.18.y: before `and`/`or` with a
/// constant source (64-bit constant, whatever the width), a destination
/// known to be -1 or 0 (64-bit range first, else 32-bit range) is split.
/// Returns `(pushed, current)`: the state to push as a new branch with the
/// destination 0 and the state to continue with the destination -1, each
/// still to go through [`alu`]. `None` when the kernel does not fork.
pub fn split_minus_one_or_zero(
    era: Era,
    op: AluOp,
    dst: &Scalar,
    src: &Scalar,
) -> Option<(Scalar, Scalar)> {
    if !era.forks_minus_one_or_zero() || !matches!(op, AluOp::And | AluOp::Or) || !src.is_const() {
        return None;
    }
    if dst.smin == -1 && dst.smax == 0 {
        return Some((Scalar::constant(0), Scalar::constant(u64::MAX)));
    }
    if dst.s32_min == -1 && dst.s32_max == 0 {
        let (mut zero, mut ones) = (*dst, *dst);
        zero.mark_32_known(0);
        ones.mark_32_known(u32::MAX);
        return Some((zero, ones));
    }
    None
}

enum Gate {
    Compute,
    Unknown,
    UnknownExtended,
}

/// `is_safe_to_compute_dst_reg_range` (6.12+) or 6.1's checks at the top
/// of `adjust_scalar_min_max_vals`: whether the kernel computes a range,
/// or makes the destination unknown.
fn gate(era: Era, op: AluOp, width: Width, src: &Scalar) -> Gate {
    let (known, src_const) = match width {
        Width::W32 => {
            let k = src.subreg_is_const();
            (
                k,
                k && src.s32_min == src.s32_max && src.u32_min == src.u32_max,
            )
        }
        Width::W64 => {
            let k = src.is_const();
            (k, k && src.smin == src.smax && src.umin == src.umax)
        }
    };
    let is_shift = matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh);
    if era.bounds_v1() {
        let consistent = match width {
            Width::W32 => src.s32_min <= src.s32_max && src.u32_min <= src.u32_max,
            Width::W64 => src.smin <= src.smax && src.umin <= src.umax,
        };
        if (known && !src_const) || !consistent {
            return Gate::Unknown;
        }
        return match op {
            AluOp::Add | AluOp::Sub | AluOp::And => Gate::Compute,
            _ if !known => Gate::Unknown,
            AluOp::Mul | AluOp::Or | AluOp::Xor => Gate::Compute,
            _ if is_shift && src.umax < width.bits() => Gate::Compute,
            _ => Gate::UnknownExtended,
        };
    }
    let computable = match op {
        AluOp::Add | AluOp::Sub | AluOp::And | AluOp::Or | AluOp::Xor | AluOp::Mul => true,
        _ if is_shift => src_const && src.umax < width.bits(),
        _ => false,
    };
    if computable {
        Gate::Compute
    } else {
        Gate::Unknown
    }
}

/// Zero-extension of 32-bit results, then `reg_bounds_sync`.
fn finish(era: Era, width: Width, mut d: Scalar) -> Scalar {
    if width == Width::W32 {
        d.zext_32_to_64();
    }
    d.sync(era);
    d
}

fn arith(era: Era, op: AluOp, width: Width, d: &mut Scalar, s: &Scalar) {
    match op {
        AluOp::Add => {
            add32(era, d, s);
            add64(era, d, s);
            d.var_off = d.var_off.add(s.var_off);
        }
        AluOp::Sub => {
            sub32(era, d, s);
            sub64(era, d, s);
            d.var_off = d.var_off.sub(s.var_off);
        }
        AluOp::Mul => {
            d.var_off = if era.union_mul() {
                d.var_off.mul(s.var_off)
            } else {
                d.var_off.mul_partial_products(s.var_off)
            };
            mul32(era, d, s);
            mul64(era, d, s);
        }
        AluOp::And | AluOp::Or | AluOp::Xor => bitwise(era, op, d, s),
        AluOp::Lsh => match width {
            Width::W32 => lsh32(d, s),
            Width::W64 => lsh64(era, d, s),
        },
        AluOp::Rsh => match width {
            Width::W32 => rsh32(d, s),
            Width::W64 => rsh64(era, d, s),
        },
        AluOp::Arsh => match width {
            Width::W32 => arsh32(d, s),
            Width::W64 => arsh64(era, d, s),
        },
        _ => d.mark_unknown(),
    }
}

fn add32(era: Era, d: &mut Scalar, s: &Scalar) {
    match (
        d.s32_min.checked_add(s.s32_min),
        d.s32_max.checked_add(s.s32_max),
    ) {
        (Some(lo), Some(hi)) => (d.s32_min, d.s32_max) = (lo, hi),
        _ => (d.s32_min, d.s32_max) = (i32::MIN, i32::MAX),
    }
    let (lo, lo_wrap) = d.u32_min.overflowing_add(s.u32_min);
    let (hi, hi_wrap) = d.u32_max.overflowing_add(s.u32_max);
    (d.u32_min, d.u32_max) = wrap_rule(era, lo, lo_wrap, hi, hi_wrap, (0, u32::MAX));
}

fn add64(era: Era, d: &mut Scalar, s: &Scalar) {
    match (d.smin.checked_add(s.smin), d.smax.checked_add(s.smax)) {
        (Some(lo), Some(hi)) => (d.smin, d.smax) = (lo, hi),
        _ => (d.smin, d.smax) = (i64::MIN, i64::MAX),
    }
    let (lo, lo_wrap) = d.umin.overflowing_add(s.umin);
    let (hi, hi_wrap) = d.umax.overflowing_add(s.umax);
    (d.umin, d.umax) = wrap_rule(era, lo, lo_wrap, hi, hi_wrap, (0, u64::MAX));
}

/// The unsigned ends after an addition or subtraction: before 6.18 any
/// wrap loses the range; 6.18 keeps it when both ends wrap alike.
fn wrap_rule<T>(era: Era, lo: T, lo_wrap: bool, hi: T, hi_wrap: bool, full: (T, T)) -> (T, T) {
    let keep = if era.precise_add_sub() {
        lo_wrap == hi_wrap
    } else {
        !lo_wrap && !hi_wrap
    };
    if keep { (lo, hi) } else { full }
}

fn sub32(era: Era, d: &mut Scalar, s: &Scalar) {
    match (
        d.s32_min.checked_sub(s.s32_max),
        d.s32_max.checked_sub(s.s32_min),
    ) {
        (Some(lo), Some(hi)) => (d.s32_min, d.s32_max) = (lo, hi),
        _ => (d.s32_min, d.s32_max) = (i32::MIN, i32::MAX),
    }
    let (lo, lo_wrap) = d.u32_min.overflowing_sub(s.u32_max);
    let (hi, hi_wrap) = d.u32_max.overflowing_sub(s.u32_min);
    (d.u32_min, d.u32_max) = wrap_rule(era, lo, lo_wrap, hi, hi_wrap, (0, u32::MAX));
}

fn sub64(era: Era, d: &mut Scalar, s: &Scalar) {
    match (d.smin.checked_sub(s.smax), d.smax.checked_sub(s.smin)) {
        (Some(lo), Some(hi)) => (d.smin, d.smax) = (lo, hi),
        _ => (d.smin, d.smax) = (i64::MIN, i64::MAX),
    }
    let (lo, lo_wrap) = d.umin.overflowing_sub(s.umax);
    let (hi, hi_wrap) = d.umax.overflowing_sub(s.umin);
    (d.umin, d.umax) = wrap_rule(era, lo, lo_wrap, hi, hi_wrap, (0, u64::MAX));
}

fn mul32(era: Era, d: &mut Scalar, s: &Scalar) {
    if era.precise_mul() {
        match (
            d.u32_min.checked_mul(s.u32_min),
            d.u32_max.checked_mul(s.u32_max),
        ) {
            (Some(lo), Some(hi)) => (d.u32_min, d.u32_max) = (lo, hi),
            _ => (d.u32_min, d.u32_max) = (0, u32::MAX),
        }
        let corners = [
            d.s32_min.checked_mul(s.s32_min),
            d.s32_min.checked_mul(s.s32_max),
            d.s32_max.checked_mul(s.s32_min),
            d.s32_max.checked_mul(s.s32_max),
        ];
        (d.s32_min, d.s32_max) = corner_range(corners).unwrap_or((i32::MIN, i32::MAX));
        return;
    }
    // Before 6.18 only non-negative factors below 2^16 are tracked.
    if s.s32_min < 0 || d.s32_min < 0 || s.u32_max > 0xffff || d.u32_max > 0xffff {
        d.mark_32_unbounded();
        return;
    }
    d.u32_min *= s.u32_min;
    d.u32_max *= s.u32_max;
    if d.u32_max > i32::MAX as u32 {
        (d.s32_min, d.s32_max) = (i32::MIN, i32::MAX);
    } else {
        (d.s32_min, d.s32_max) = (d.u32_min as i32, d.u32_max as i32);
    }
}

fn mul64(era: Era, d: &mut Scalar, s: &Scalar) {
    if era.precise_mul() {
        match (d.umin.checked_mul(s.umin), d.umax.checked_mul(s.umax)) {
            (Some(lo), Some(hi)) => (d.umin, d.umax) = (lo, hi),
            _ => (d.umin, d.umax) = (0, u64::MAX),
        }
        let corners = [
            d.smin.checked_mul(s.smin),
            d.smin.checked_mul(s.smax),
            d.smax.checked_mul(s.smin),
            d.smax.checked_mul(s.smax),
        ];
        (d.smin, d.smax) = corner_range(corners).unwrap_or((i64::MIN, i64::MAX));
        return;
    }
    if s.smin < 0 || d.smin < 0 || s.umax > u64::from(u32::MAX) || d.umax > u64::from(u32::MAX) {
        d.mark_64_unbounded();
        return;
    }
    d.umin *= s.umin;
    d.umax *= s.umax;
    if d.umax > i64::MAX as u64 {
        (d.smin, d.smax) = (i64::MIN, i64::MAX);
    } else {
        (d.smin, d.smax) = (d.umin as i64, d.umax as i64);
    }
}

/// The range of four corner products, unless one overflowed.
fn corner_range<T: Ord + Copy>(corners: [Option<T>; 4]) -> Option<(T, T)> {
    let mut vals = [corners[0]?, corners[1]?, corners[2]?, corners[3]?];
    vals.sort_unstable();
    Some((vals[0], vals[3]))
}

/// `and`, `or`, `xor`: the tnum first, then each width's bounds from it.
fn bitwise(era: Era, op: AluOp, d: &mut Scalar, s: &Scalar) {
    let old = *d;
    d.var_off = match op {
        AluOp::And => d.var_off.and(s.var_off),
        AluOp::Or => d.var_off.or(s.var_off),
        _ => d.var_off.xor(s.var_off),
    };
    // 32-bit half.
    let t32 = d.var_off.subreg();
    if s.subreg_is_const() && d.var_off.subreg_is_const() {
        d.mark_32_known(t32.value as u32);
    } else {
        let (v, m) = (t32.value as u32, t32.mask as u32);
        (d.u32_min, d.u32_max) = match op {
            AluOp::And => (v, d.u32_max.min(s.u32_max)),
            AluOp::Or => (d.u32_min.max(s.u32_min), v | m),
            _ => (v, v | m),
        };
        let same_sign = if era.bounds_v1() {
            old.s32_min >= 0 && s.s32_min >= 0
        } else {
            (d.u32_min as i32) <= (d.u32_max as i32)
        };
        (d.s32_min, d.s32_max) = if same_sign {
            (d.u32_min as i32, d.u32_max as i32)
        } else {
            (i32::MIN, i32::MAX)
        };
    }
    // 64-bit half.
    if s.is_const() && d.var_off.is_const() {
        *d = Scalar::constant(d.var_off.value);
        return;
    }
    let (v, m) = (d.var_off.value, d.var_off.mask);
    (d.umin, d.umax) = match op {
        AluOp::And => (v, d.umax.min(s.umax)),
        AluOp::Or => (d.umin.max(s.umin), v | m),
        _ => (v, v | m),
    };
    let same_sign = if era.bounds_v1() {
        old.smin >= 0 && s.smin >= 0
    } else {
        (d.umin as i64) <= (d.umax as i64)
    };
    (d.smin, d.smax) = if same_sign {
        (d.umin as i64, d.umax as i64)
    } else {
        (i64::MIN, i64::MAX)
    };
    d.update_bounds(era);
}

/// The 32-bit bounds of a left shift by `[lo, hi]`; `hi` up to 63 comes
/// from 64-bit shifts, whose low half the kernel also recomputes here.
fn lsh32_bounds(d: &mut Scalar, lo: u64, hi: u64) {
    (d.s32_min, d.s32_max) = (i32::MIN, i32::MAX);
    if hi > 31 || u64::from(d.u32_max) > 1u64 << (31 - hi) {
        (d.u32_min, d.u32_max) = (0, u32::MAX);
    } else {
        d.u32_min = shl(d.u32_min, lo);
        d.u32_max = shl(d.u32_max, hi);
    }
}

fn lsh32(d: &mut Scalar, s: &Scalar) {
    let (lo, hi) = (u64::from(s.u32_min), u64::from(s.u32_max));
    let sub = d.var_off.subreg();
    lsh32_bounds(d, lo, hi);
    d.var_off = sub.lshift(lo as u8).subreg();
    d.mark_64_unbounded();
    d.update_bounds_32();
}

fn lsh64(era: Era, d: &mut Scalar, s: &Scalar) {
    let (lo, hi) = (s.umin, s.umax);
    // `<< 32` keeps the s32 bounds as the high half: the sign-extension
    // idiom `<<32 s>>32`.
    if lo == 32 && hi == 32 {
        d.smax = i64::from(d.s32_max) << 32;
        d.smin = i64::from(d.s32_min) << 32;
    } else {
        (d.smin, d.smax) = (i64::MIN, i64::MAX);
    }
    if d.umax > shl(1u64, 63u64.saturating_sub(hi)) {
        (d.umin, d.umax) = (0, u64::MAX);
    } else {
        d.umin = shl(d.umin, lo);
        d.umax = shl(d.umax, hi);
    }
    lsh32_bounds(d, lo, hi);
    d.var_off = d.var_off.lshift(lo as u8);
    d.update_bounds(era);
}

fn rsh32(d: &mut Scalar, s: &Scalar) {
    let sub = d.var_off.subreg();
    (d.s32_min, d.s32_max) = (i32::MIN, i32::MAX);
    d.var_off = sub.rshift(s.u32_min as u8);
    d.u32_min = shr(d.u32_min, u64::from(s.u32_max));
    d.u32_max = shr(d.u32_max, u64::from(s.u32_min));
    d.mark_64_unbounded();
    d.update_bounds_32();
}

fn rsh64(era: Era, d: &mut Scalar, s: &Scalar) {
    (d.smin, d.smax) = (i64::MIN, i64::MAX);
    d.var_off = d.var_off.rshift(s.umin as u8);
    d.umin = shr(d.umin, s.umax);
    d.umax = shr(d.umax, s.umin);
    d.mark_32_unbounded();
    d.update_bounds(era);
}

fn arsh32(d: &mut Scalar, s: &Scalar) {
    let sh = s.u32_min.min(31);
    d.s32_min >>= sh;
    d.s32_max >>= sh;
    d.var_off = d.var_off.subreg().arshift(sh as u8, 32);
    (d.u32_min, d.u32_max) = (0, u32::MAX);
    d.mark_64_unbounded();
    d.update_bounds_32();
}

fn arsh64(era: Era, d: &mut Scalar, s: &Scalar) {
    let sh = s.umin.min(63);
    d.smin >>= sh;
    d.smax >>= sh;
    d.var_off = d.var_off.arshift(sh as u8, 64);
    (d.umin, d.umax) = (0, u64::MAX);
    d.mark_32_unbounded();
    d.update_bounds(era);
}

/// `x << n`, zero once everything is shifted out (the kernel never shifts
/// by the width or more for consistent inputs).
fn shl<T: Into<u64> + TryFrom<u64> + Copy + Default>(x: T, n: u64) -> T {
    let bits = 8 * std::mem::size_of::<T>() as u64;
    if n >= bits {
        T::default()
    } else {
        T::try_from((x.into() << n) & mask(bits)).unwrap_or_default()
    }
}

/// `x >> n`, zero once everything is shifted out.
fn shr<T: Into<u64> + TryFrom<u64> + Copy + Default>(x: T, n: u64) -> T {
    let bits = 8 * std::mem::size_of::<T>() as u64;
    if n >= bits {
        T::default()
    } else {
        T::try_from(x.into() >> n).unwrap_or_default()
    }
}

fn mask(bits: u64) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    }
}

/// `mov`: a 64-bit copy is the source itself; a 32-bit one zero-extends.
fn mov(era: Era, width: Width, src: &Scalar) -> Scalar {
    match width {
        Width::W64 => *src,
        Width::W32 => finish(era, width, *src),
    }
}

/// `movsx` (6.6+): sign-extends the low 8, 16 or 32 bits of the source.
fn mov_sx(era: Era, width: Width, src: &Scalar, size_bits: u8) -> Scalar {
    let mut d = *src;
    match width {
        Width::W64 => {
            d.coerce_to_size_sx(size_bits / 8);
            d
        }
        Width::W32 => {
            d.coerce_subreg_to_size_sx(size_bits / 8);
            finish(era, width, d)
        }
    }
}

/// `le`/`be`/`bswap` as 6.18 tracks them: the tnum's bytes reversed when a
/// swap happens (bounds then rebuilt from it), and truncation to 16 or 32
/// bits. No zero extension: `le64`/`be64` are 64-bit in the `BPF_ALU`
/// class.
fn byte_swap(era: Era, dst: &Scalar, bits: u8, swap: bool) -> Scalar {
    let mut d = *dst;
    if swap {
        d.var_off = match bits {
            16 => d.var_off.bswap16(),
            32 => d.var_off.bswap32(),
            _ => d.var_off.bswap64(),
        };
        d.mark_unbounded();
    }
    if bits == 16 || bits == 32 {
        d.coerce_to_size(era, bits / 8);
    }
    d.sync(era);
    d
}

/// The concrete result of `op` as the BPF machine computes it (division by
/// zero gives 0, modulo by zero the dividend), for soundness checks.
pub fn concrete(op: AluOp, width: Width, dst: u64, src: u64) -> u64 {
    let w32 = width == Width::W32;
    let (a, b) = if w32 {
        (dst & 0xffff_ffff, src & 0xffff_ffff)
    } else {
        (dst, src)
    };
    let shift_mask = if w32 { 31 } else { 63 };
    let r = match op {
        AluOp::Add => a.wrapping_add(b),
        AluOp::Sub => a.wrapping_sub(b),
        AluOp::Mul => a.wrapping_mul(b),
        AluOp::Div => a.checked_div(b).unwrap_or(0),
        AluOp::Mod => a.checked_rem(b).unwrap_or(a),
        AluOp::SDiv | AluOp::SMod => signed_div_mod(op, w32, a, b),
        AluOp::Or => a | b,
        AluOp::And => a & b,
        AluOp::Xor => a ^ b,
        AluOp::Lsh => a << (b & shift_mask),
        AluOp::Rsh => a >> (b & shift_mask),
        AluOp::Arsh if w32 => u64::from(((a as u32 as i32) >> (b & 31)) as u32),
        AluOp::Arsh => ((a as i64) >> (b & 63)) as u64,
        AluOp::Neg => a.wrapping_neg(),
        AluOp::Mov => b,
        AluOp::MovSx(bits) => {
            let sh = 64 - u32::from(bits.clamp(8, 32));
            (((src << sh) as i64) >> sh) as u64
        }
        AluOp::End { bits, swap } => {
            let v = if swap {
                match bits {
                    16 => u64::from((dst as u16).swap_bytes()),
                    32 => u64::from((dst as u32).swap_bytes()),
                    _ => dst.swap_bytes(),
                }
            } else {
                dst
            };
            return match bits {
                16 => v & 0xffff,
                32 => v & 0xffff_ffff,
                _ => v,
            };
        }
    };
    if w32 { r & 0xffff_ffff } else { r }
}

fn signed_div_mod(op: AluOp, w32: bool, a: u64, b: u64) -> u64 {
    let (a, b) = if w32 {
        (i64::from(a as u32 as i32), i64::from(b as u32 as i32))
    } else {
        (a as i64, b as i64)
    };
    let r = match op {
        AluOp::SDiv if b == 0 => 0,
        AluOp::SDiv => a.wrapping_div(b),
        _ if b == 0 => a,
        _ => a.wrapping_rem(b),
    };
    r as u64
}
