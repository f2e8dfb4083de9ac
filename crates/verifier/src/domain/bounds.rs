//! The eight range bounds of a scalar register plus its tnum, and the
//! kernel's operations that keep them consistent with each other.

use super::Era;
use super::tnum::Tnum;

/// What the verifier knows about a scalar: the value lies in the tnum and
/// in all eight ranges at once (`struct bpf_reg_state`'s numeric part).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scalar {
    /// Known and unknown bits.
    pub var_off: Tnum,
    /// Smallest value as `s64`.
    pub smin: i64,
    /// Largest value as `s64`.
    pub smax: i64,
    /// Smallest value as `u64`.
    pub umin: u64,
    /// Largest value as `u64`.
    pub umax: u64,
    /// Smallest low half as `s32`.
    pub s32_min: i32,
    /// Largest low half as `s32`.
    pub s32_max: i32,
    /// Smallest low half as `u32`.
    pub u32_min: u32,
    /// Largest low half as `u32`.
    pub u32_max: u32,
}

/// Which of the kernel's consistency rules a [`Scalar`] breaks
/// (`reg_bounds_sanity_check`'s messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoundsViolation {
    /// Some minimum exceeds its maximum: `range bounds violation`.
    Range,
    /// The tnum is constant but a 64-bit bound disagrees:
    /// `const tnum out of sync with range bounds`.
    Const64,
    /// The low half is constant but a 32-bit bound disagrees:
    /// `const subreg tnum out of sync with range bounds`.
    Const32,
}

impl BoundsViolation {
    /// The kernel's wording.
    pub fn message(self) -> &'static str {
        match self {
            BoundsViolation::Range => "range bounds violation",
            BoundsViolation::Const64 => "const tnum out of sync with range bounds",
            BoundsViolation::Const32 => "const subreg tnum out of sync with range bounds",
        }
    }
}

const LOW32: u64 = 0xffff_ffff;

impl Default for Scalar {
    fn default() -> Self {
        Scalar::unknown()
    }
}

impl Scalar {
    /// A completely unknown value (`__mark_reg_unknown`).
    pub const fn unknown() -> Scalar {
        Scalar {
            var_off: Tnum::UNKNOWN,
            smin: i64::MIN,
            smax: i64::MAX,
            umin: 0,
            umax: u64::MAX,
            s32_min: i32::MIN,
            s32_max: i32::MAX,
            u32_min: 0,
            u32_max: u32::MAX,
        }
    }

    /// The constant `v` (`__mark_reg_known`).
    pub const fn constant(v: u64) -> Scalar {
        Scalar {
            var_off: Tnum::constant(v),
            smin: v as i64,
            smax: v as i64,
            umin: v,
            umax: v,
            s32_min: v as i32,
            s32_max: v as i32,
            u32_min: v as u32,
            u32_max: v as u32,
        }
    }

    /// The value of an instruction immediate as `__mark_reg_known` gets it
    /// for a 64-bit operation: sign-extended.
    pub const fn from_imm(imm: i32) -> Scalar {
        Scalar::constant(imm as i64 as u64)
    }

    /// Sets to unknown in place (`__mark_reg_unknown`).
    pub fn mark_unknown(&mut self) {
        *self = Scalar::unknown();
    }

    /// Sets to the constant `v` (`__mark_reg_known`).
    pub fn mark_known(&mut self, v: u64) {
        *self = Scalar::constant(v);
    }

    /// Makes the low half the constant `v`, keeping the high half's bits
    /// (`__mark_reg32_known`); the 64-bit bounds are left as they are.
    pub fn mark_32_known(&mut self, v: u32) {
        self.var_off = self.var_off.const_subreg(v);
        self.s32_min = v as i32;
        self.s32_max = v as i32;
        self.u32_min = v;
        self.u32_max = v;
    }

    /// Forgets all eight bounds, keeping the tnum (`__mark_reg_unbounded`).
    pub fn mark_unbounded(&mut self) {
        self.mark_64_unbounded();
        self.mark_32_unbounded();
    }

    /// Forgets the 64-bit bounds (`__mark_reg64_unbounded`).
    pub fn mark_64_unbounded(&mut self) {
        self.smin = i64::MIN;
        self.smax = i64::MAX;
        self.umin = 0;
        self.umax = u64::MAX;
    }

    /// Forgets the 32-bit bounds (`__mark_reg32_unbounded`).
    pub fn mark_32_unbounded(&mut self) {
        self.s32_min = i32::MIN;
        self.s32_max = i32::MAX;
        self.u32_min = 0;
        self.u32_max = u32::MAX;
    }

    /// Whether the value is fully known.
    pub const fn is_const(&self) -> bool {
        self.var_off.is_const()
    }

    /// The value if fully known.
    pub const fn const_value(&self) -> Option<u64> {
        if self.is_const() {
            Some(self.var_off.value)
        } else {
            None
        }
    }

    /// Whether the low half is fully known (`tnum_subreg_is_const`).
    pub const fn subreg_is_const(&self) -> bool {
        self.var_off.subreg_is_const()
    }

    /// Whether the kernel's `tnum_is_unknown` and default bounds hold.
    pub fn is_unknown(&self) -> bool {
        *self == Scalar::unknown()
    }

    /// Whether the concrete `v` satisfies the tnum and all eight bounds.
    pub fn contains(&self, v: u64) -> bool {
        let (s, lo, slo) = (v as i64, v as u32, v as i32);
        self.var_off.contains_value(v)
            && (self.smin..=self.smax).contains(&s)
            && (self.umin..=self.umax).contains(&v)
            && (self.s32_min..=self.s32_max).contains(&slo)
            && (self.u32_min..=self.u32_max).contains(&lo)
    }

    /// The kernel's `reg_bounds_sanity_check` rules.
    pub fn check_sane(&self) -> Result<(), BoundsViolation> {
        if self.umin > self.umax
            || self.smin > self.smax
            || self.u32_min > self.u32_max
            || self.s32_min > self.s32_max
        {
            return Err(BoundsViolation::Range);
        }
        if let Some(v) = self.const_value()
            && (self.umin != v || self.umax != v || self.smin != v as i64 || self.smax != v as i64)
        {
            return Err(BoundsViolation::Const64);
        }
        if self.subreg_is_const() {
            let v = self.var_off.value as u32;
            if self.u32_min != v
                || self.u32_max != v
                || self.s32_min != v as i32
                || self.s32_max != v as i32
            {
                return Err(BoundsViolation::Const32);
            }
        }
        Ok(())
    }

    /// Tightens the 32-bit bounds from the tnum's low half
    /// (`__update_reg32_bounds`).
    pub fn update_bounds_32(&mut self) {
        let t = self.var_off.subreg();
        let (v, m) = (t.value as u32, t.mask as u32);
        // Signed: the sign bit at its worst (set for the minimum) with the
        // other unknown bits at theirs.
        self.s32_min = self.s32_min.max((v | (m & 0x8000_0000)) as i32);
        self.s32_max = self.s32_max.min((v | (m & 0x7fff_ffff)) as i32);
        self.u32_min = self.u32_min.max(v);
        self.u32_max = self.u32_max.min(v | m);
    }

    /// Tightens the 64-bit bounds from the tnum (`__update_reg64_bounds`).
    /// In 6.18 a value that is the only tnum member inside `[umin, umax]`
    /// then becomes known.
    pub fn update_bounds_64(&mut self, era: Era) {
        let (v, m) = (self.var_off.value, self.var_off.mask);
        self.smin = self.smin.max((v | (m & (1 << 63))) as i64);
        self.smax = self.smax.min((v | (m & !(1 << 63))) as i64);
        self.umin = self.umin.max(v);
        self.umax = self.umax.min(v | m);
        if !era.single_member_bounds() {
            return;
        }
        let tmax = v | m;
        let next = self.var_off.next_member(self.umin);
        let umin_member = self.var_off.contains_value(self.umin);
        if umin_member && next > self.umax {
            *self = Scalar::constant(self.umin);
        } else if !umin_member && next == tmax {
            *self = Scalar::constant(tmax);
        } else if !umin_member && next <= self.umax && self.var_off.next_member(next) > self.umax {
            *self = Scalar::constant(next);
        }
    }

    /// Both of the above (`__update_reg_bounds`).
    pub fn update_bounds(&mut self, era: Era) {
        self.update_bounds_32();
        self.update_bounds_64(era);
    }

    /// Cross-deduces signed from unsigned bounds and 32-bit from 64-bit
    /// ones (`__reg_deduce_bounds`) as `era` does.
    pub fn deduce_bounds(&mut self, era: Era) {
        if era.bounds_v1() {
            self.deduce_32_v1();
            self.deduce_64_v1();
        } else {
            self.deduce_32();
            self.deduce_64();
            self.deduce_mixed();
        }
    }

    /// Learns tnum bits from the unsigned ranges (`__reg_bound_offset`).
    pub fn bound_offset(&mut self) {
        let t64 = self.var_off.intersect(Tnum::range(self.umin, self.umax));
        let t32 = t64.subreg().intersect(Tnum::range(
            u64::from(self.u32_min),
            u64::from(self.u32_max),
        ));
        self.var_off = t64.clear_subreg().or(t32);
    }

    /// Makes tnum and bounds agree as far as the kernel does
    /// (`reg_bounds_sync`): bounds from bits, deductions between the
    /// ranges (once in 6.1, three times since), bits from bounds, and
    /// bounds from bits again.
    pub fn sync(&mut self, era: Era) {
        self.update_bounds(era);
        let passes = if era.bounds_v1() { 1 } else { 3 };
        for _ in 0..passes {
            self.deduce_bounds(era);
        }
        self.bound_offset();
        self.update_bounds(era);
    }

    /// A copy after [`Scalar::sync`].
    #[must_use]
    pub fn synced(mut self, era: Era) -> Scalar {
        self.sync(era);
        self
    }

    /// Copies the 32-bit bounds into the 64-bit ones, as after a zero
    /// extension (`__reg_assign_32_into_64`); the signed bounds only when
    /// the signed 32-bit range is non-negative.
    pub fn assign_32_into_64(&mut self) {
        self.umin = u64::from(self.u32_min);
        self.umax = u64::from(self.u32_max);
        if self.s32_min >= 0 && self.s32_max >= 0 {
            self.smin = i64::from(self.s32_min);
            self.smax = i64::from(self.s32_max);
        } else {
            self.smin = 0;
            self.smax = i64::from(u32::MAX);
        }
    }

    /// Zero-extends the low half, as every 32-bit ALU result is
    /// (`zext_32_to_64`). Bounds are not synced.
    pub fn zext_32_to_64(&mut self) {
        self.var_off = self.var_off.subreg();
        self.assign_32_into_64();
    }

    /// Truncates to the low `size` bytes (1, 2 or 4), zero-extending
    /// (`coerce_reg_to_size`, used by narrow loads and `le16`/`le32`).
    pub fn coerce_to_size(&mut self, era: Era, size: u8) {
        if size >= 8 {
            return;
        }
        self.var_off = self.var_off.cast(size);
        let keep = (1u64 << (u32::from(size) * 8)) - 1;
        if self.umin & !keep == self.umax & !keep {
            self.umin &= keep;
            self.umax &= keep;
        } else {
            self.umin = 0;
            self.umax = keep;
        }
        self.smin = self.umin as i64;
        self.smax = self.umax as i64;
        if era.bounds_v1() {
            // 6.1 pushes fitting 64-bit bounds into the 32-bit ones
            // (`__reg_combine_64_into_32`) and, for 4 bytes, does not sync.
            if size < 4 {
                self.mark_32_unbounded();
                if self.smin >= i64::from(i32::MIN) && self.smax <= i64::from(i32::MAX) {
                    self.s32_min = self.smin as i32;
                    self.s32_max = self.smax as i32;
                }
                if self.umax <= LOW32 {
                    self.u32_min = self.umin as u32;
                    self.u32_max = self.umax as u32;
                }
                self.sync(era);
            }
            return;
        }
        if size < 4 {
            self.mark_32_unbounded();
        }
        self.sync(era);
    }

    /// Sign-extends the low `size` bytes (1, 2 or 4) into all 64 bits
    /// (`coerce_reg_to_size_sx`, for `movsx` and `ldsx`). Bounds survive
    /// when the whole signed range keeps its upper bits and the extended
    /// ends have one sign; otherwise they become the extended type's range.
    pub fn coerce_to_size_sx(&mut self, size: u8) {
        let bits = u32::from(size.clamp(1, 4)) * 8;
        if let Some(v) = self.const_value() {
            *self = Scalar::constant(sign_extend(v, bits) as u64);
            return;
        }
        let top = |x: i64| (x as u64).checked_shr(bits).unwrap_or(0);
        if top(self.smax) == top(self.smin) {
            let (a, b) = (
                sign_extend(self.smax as u64, bits),
                sign_extend(self.smin as u64, bits),
            );
            let (lo, hi) = (a.min(b), a.max(b));
            if (lo >= 0) == (hi >= 0) {
                self.smin = lo;
                self.smax = hi;
                self.s32_min = lo as i32;
                self.s32_max = hi as i32;
                self.umin = lo as u64;
                self.umax = hi as u64;
                self.u32_min = lo as u32;
                self.u32_max = hi as u32;
                self.var_off = Tnum::range(lo as u64, hi as u64);
                return;
            }
        }
        let (lo, hi) = signed_limits(bits);
        self.smin = lo;
        self.smax = hi;
        self.s32_min = lo as i32;
        self.s32_max = hi as i32;
        self.umin = 0;
        self.umax = u64::MAX;
        self.u32_min = 0;
        self.u32_max = u32::MAX;
        self.var_off = Tnum::UNKNOWN;
    }

    /// Sign-extends the low `size` bytes (1 or 2) into the low 32 bits
    /// (`coerce_subreg_to_size_sx`, for 32-bit `movsx`). The 64-bit part is
    /// left for the caller's zero extension; like the kernel, a constant
    /// operand gets a sign-extended 64-bit tnum here.
    pub fn coerce_subreg_to_size_sx(&mut self, size: u8) {
        let bits = u32::from(size.clamp(1, 2)) * 8;
        if let Some(v) = self.const_value() {
            let x = sign_extend(v, bits);
            self.var_off = Tnum::constant(x as u64);
            self.s32_min = x as i32;
            self.s32_max = x as i32;
            self.u32_min = x as u32;
            self.u32_max = x as u32;
            return;
        }
        let top = |x: i32| (x as u32) >> bits;
        if top(self.s32_max) == top(self.s32_min) {
            let a = sign_extend(u64::from(self.s32_max as u32), bits) as i32;
            let b = sign_extend(u64::from(self.s32_min as u32), bits) as i32;
            let (lo, hi) = (a.min(b), a.max(b));
            if (lo >= 0) == (hi >= 0) {
                self.s32_min = lo;
                self.s32_max = hi;
                self.u32_min = lo as u32;
                self.u32_max = hi as u32;
                self.var_off = Tnum::range(i64::from(lo) as u64, i64::from(hi) as u64).subreg();
                return;
            }
        }
        let (lo, hi) = signed_limits(bits);
        self.s32_min = lo as i32;
        self.s32_max = hi as i32;
        self.u32_min = 0;
        self.u32_max = u32::MAX;
        self.var_off = Tnum::UNKNOWN.subreg();
    }

    // ---- 6.12+ deductions ----

    fn deduce_32(&mut self) {
        // A 64-bit range whose upper halves agree maps onto a 32-bit range.
        if self.umin >> 32 == self.umax >> 32 {
            self.u32_min = self.u32_min.max(self.umin as u32);
            self.u32_max = self.u32_max.min(self.umax as u32);
            if (self.umin as i32) <= (self.umax as i32) {
                self.s32_min = self.s32_min.max(self.umin as i32);
                self.s32_max = self.s32_max.min(self.umax as i32);
            }
        }
        if self.smin >> 32 == self.smax >> 32 {
            if (self.smin as u32) <= (self.smax as u32) {
                self.u32_min = self.u32_min.max(self.smin as u32);
                self.u32_max = self.u32_max.min(self.smax as u32);
            }
            if (self.smin as i32) <= (self.smax as i32) {
                self.s32_min = self.s32_min.max(self.smin as i32);
                self.s32_max = self.s32_max.min(self.smax as i32);
            }
        }
        // Upper halves that are consecutive, with the low halves crossing
        // from negative to non-negative, still form one s32 range.
        let crosses = |lo: u64, hi: u64| {
            ((lo >> 32) as u32).wrapping_add(1) == (hi >> 32) as u32
                && (lo as i32) < 0
                && (hi as i32) >= 0
        };
        if crosses(self.umin, self.umax) {
            self.s32_min = self.s32_min.max(self.umin as i32);
            self.s32_max = self.s32_max.min(self.umax as i32);
        }
        if crosses(self.smin as u64, self.smax as u64) {
            self.s32_min = self.s32_min.max(self.smin as i32);
            self.s32_max = self.s32_max.min(self.smax as i32);
        }
        if (self.u32_min as i32) <= (self.u32_max as i32) {
            self.s32_min = self.s32_min.max(self.u32_min as i32);
            self.s32_max = self.s32_max.min(self.u32_max as i32);
        }
        if (self.s32_min as u32) <= (self.s32_max as u32) {
            self.u32_min = self.u32_min.max(self.s32_min as u32);
            self.u32_max = self.u32_max.min(self.s32_max as u32);
        } else if self.u32_max < self.s32_min as u32 {
            // The unsigned range meets only the non-negative part.
            self.s32_min = self.u32_min as i32;
            self.u32_max = self.u32_max.min(self.s32_max as u32);
        } else if (self.s32_max as u32) < self.u32_min {
            // The unsigned range meets only the negative part.
            self.s32_max = self.u32_max as i32;
            self.u32_min = self.u32_min.max(self.s32_min as u32);
        }
    }

    fn deduce_64(&mut self) {
        if (self.umin as i64) <= (self.umax as i64) {
            self.smin = self.smin.max(self.umin as i64);
            self.smax = self.smax.min(self.umax as i64);
        }
        if (self.smin as u64) <= (self.smax as u64) {
            self.umin = self.umin.max(self.smin as u64);
            self.umax = self.umax.min(self.smax as u64);
        } else if self.umax < self.smin as u64 {
            self.smin = self.umin as i64;
            self.umax = self.umax.min(self.smax as u64);
        } else if (self.smax as u64) < self.umin {
            self.smax = self.umax as i64;
            self.umin = self.umin.max(self.smin as u64);
        }
    }

    fn deduce_mixed(&mut self) {
        // The 32-bit ranges bound the low halves of the 64-bit ends.
        let high = |x: u64| x & !LOW32;
        self.umin = self.umin.max(high(self.umin) | u64::from(self.u32_min));
        self.umax = self.umax.min(high(self.umax) | u64::from(self.u32_max));
        self.smin = self
            .smin
            .max((high(self.smin as u64) | u64::from(self.u32_min)) as i64);
        self.smax = self
            .smax
            .min((high(self.smax as u64) | u64::from(self.u32_max)) as i64);
        if (self.s32_min as u32) <= (self.s32_max as u32) {
            let (lo, hi) = (
                u64::from(self.s32_min as u32),
                u64::from(self.s32_max as u32),
            );
            self.umin = self.umin.max(high(self.umin) | lo);
            self.umax = self.umax.min(high(self.umax) | hi);
            self.smin = self.smin.max((high(self.smin as u64) | lo) as i64);
            self.smax = self.smax.min((high(self.smax as u64) | hi) as i64);
        }
        // A sign-extended non-negative s32 inside [S32_MIN, S32_MAX] cannot
        // have all-ones upper bits.
        if self.s32_min >= 0 && self.smin >= i64::from(i32::MIN) && self.smax <= i64::from(i32::MAX)
        {
            self.smin = i64::from(self.s32_min);
            self.smax = i64::from(self.s32_max);
            self.umin = self.s32_min as u64;
            self.umax = self.s32_max as u64;
            self.var_off = self
                .var_off
                .intersect(Tnum::range(self.smin as u64, self.smax as u64));
        }
    }

    // ---- 6.1 deductions ----

    fn deduce_32_v1(&mut self) {
        if self.s32_min >= 0 || self.s32_max < 0 {
            let lo = (self.s32_min as u32).max(self.u32_min);
            let hi = (self.s32_max as u32).min(self.u32_max);
            self.s32_min = lo as i32;
            self.u32_min = lo;
            self.s32_max = hi as i32;
            self.u32_max = hi;
            return;
        }
        if (self.u32_max as i32) >= 0 {
            self.s32_min = self.u32_min as i32;
            let hi = (self.s32_max as u32).min(self.u32_max);
            self.s32_max = hi as i32;
            self.u32_max = hi;
        } else if (self.u32_min as i32) < 0 {
            let lo = (self.s32_min as u32).max(self.u32_min);
            self.s32_min = lo as i32;
            self.u32_min = lo;
            self.s32_max = self.u32_max as i32;
        }
    }

    fn deduce_64_v1(&mut self) {
        if self.smin >= 0 || self.smax < 0 {
            let lo = (self.smin as u64).max(self.umin);
            let hi = (self.smax as u64).min(self.umax);
            self.smin = lo as i64;
            self.umin = lo;
            self.smax = hi as i64;
            self.umax = hi;
            return;
        }
        if (self.umax as i64) >= 0 {
            self.smin = self.umin as i64;
            let hi = (self.smax as u64).min(self.umax);
            self.smax = hi as i64;
            self.umax = hi;
        } else if (self.umin as i64) < 0 {
            let lo = (self.smin as u64).max(self.umin);
            self.smin = lo as i64;
            self.umin = lo;
            self.smax = self.umax as i64;
        }
    }
}

/// `v`'s low `bits` bits as a signed number.
fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// The signed range of a `bits`-bit integer.
fn signed_limits(bits: u32) -> (i64, i64) {
    let hi = (1i64 << (bits - 1)) - 1;
    (-hi - 1, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_learns_from_tnum() {
        let mut s = Scalar::unknown();
        s.var_off = Tnum::new(0, 0xff);
        s.sync(Era::V6_12);
        assert_eq!((s.umin, s.umax, s.smin, s.smax), (0, 255, 0, 255));
        assert_eq!(
            (s.u32_min, s.u32_max, s.s32_min, s.s32_max),
            (0, 255, 0, 255)
        );
        assert!(s.check_sane().is_ok());
    }

    #[test]
    fn sync_learns_bits_from_bounds() {
        let mut s = Scalar::unknown();
        s.umax = 10;
        s.sync(Era::V6_12);
        assert_eq!(s.var_off, Tnum::new(0, 0xf));
        assert_eq!(s.smax, 10);
        assert_eq!(s.u32_max, 10);
    }

    #[test]
    fn coerce_sx_examples() {
        let mut s = Scalar::constant(0x80);
        s.coerce_to_size_sx(1);
        assert_eq!(s, Scalar::constant(-128i64 as u64));
        let mut s = Scalar::unknown();
        s.coerce_to_size_sx(2);
        assert_eq!((s.smin, s.smax, s.umax), (-32768, 32767, u64::MAX));
    }

    #[test]
    fn sanity_check_reports() {
        let mut s = Scalar::constant(5);
        s.umax = 6;
        assert_eq!(s.check_sane(), Err(BoundsViolation::Const64));
        s.umin = 7;
        assert_eq!(s.check_sane(), Err(BoundsViolation::Range));
    }
}
