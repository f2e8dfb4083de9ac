//! Circular numbers (7.x's `kernel/bpf/cnum.c`, `include/linux/cnum.h`):
//! one arc of the number circle per width, standing for both the signed
//! and the unsigned range of a scalar.
//!
//! The values `0..=MAX` sit on a circle, `MAX` next to `0`. An arc starts
//! at `base` and runs clockwise over `size` more values (`size` counts the
//! values after `base`, so the whole circle is `size == MAX`). Read
//! unsigned, an arc that passes `MAX → 0` is two ranges; read signed, one
//! that passes `S::MAX → S::MIN` is. The queries ([`Cnum64::umin`] and the
//! like) answer the whole line for such an arc, as the kernel does.
//!
//! The empty arc is the pair `{MAX, MAX}` (`CNUM*_EMPTY`), which the
//! operations test for before anything else.
//!
//! Implemented, with the kernel's results (including where it
//! over-approximates): construction from unsigned and signed ranges, the
//! four bounds, membership, constants, inclusion, intersection (two
//! disjoint pieces answer the smaller operand), addition
//! ([`Cnum64::sum`]), negation with `normalize`'s choice of base for a full
//! circle, and the two cross-width
//! deductions, [`Cnum64::low32`] (`cnum32_from_cnum64`) and
//! [`Cnum64::intersect_low32`] (`cnum64_cnum32_intersect`).
//!
//! Not here: how 7.x's `reg_bounds_sync`, ALU and branch code use these
//! (`walk_v7.cnum_scalars` still refuses 7.x's walk); the module is the
//! domain those will be built on, checked by laws (soundness of every
//! operation for its members: every member of sampled arcs at 8 and 16
//! bits, random ones at 64).

/// One width's circular number, its operations written once for every
/// width (`cnum_defs.h` is included once per width in the kernel).
macro_rules! cnum {
    ($(#[$doc:meta])* $name:ident, $u:ty, $s:ty) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name {
            /// The first value of the arc.
            pub base: $u,
            /// How many values follow `base` on the arc.
            pub size: $u,
        }

        impl $name {
            /// Every value (`CNUM*_UNBOUNDED`).
            pub const UNBOUNDED: Self = Self { base: 0, size: <$u>::MAX };
            /// No value (`CNUM*_EMPTY`).
            pub const EMPTY: Self = Self { base: <$u>::MAX, size: <$u>::MAX };

            /// The arc from `min` clockwise to `max` (`cnum*_from_urange`).
            pub fn from_urange(min: $u, max: $u) -> Self {
                Self { base: min, size: max.wrapping_sub(min) }
            }

            /// The arc from signed `min` clockwise to signed `max`
            /// (`cnum*_from_srange`); the whole circle starts at 0.
            pub fn from_srange(min: $s, max: $s) -> Self {
                let size = (max as $u).wrapping_sub(min as $u);
                let base = if size == <$u>::MAX { 0 } else { min as $u };
                Self { base, size }
            }

            /// The single value `v`.
            pub fn constant(v: $u) -> Self {
                Self { base: v, size: 0 }
            }

            /// Whether the arc holds no value (`cnum*_is_empty`).
            pub fn is_empty(self) -> bool {
                self == Self::EMPTY
            }

            /// One value only (`cnum*_is_const`).
            pub fn is_const(self) -> bool {
                self.size == 0
            }

            /// The last value of the arc.
            fn end(self) -> $u {
                self.base.wrapping_add(self.size)
            }

            /// Whether the arc passes from `MAX` to 0
            /// (`cnum*_urange_overflow`).
            fn wraps_unsigned(self) -> bool {
                self.size > <$u>::MAX - self.base
            }

            /// Whether the arc holds both `S::MAX` and `S::MIN`.
            fn wraps_signed(self) -> bool {
                self.contains(<$s>::MAX as $u) && self.contains(<$s>::MIN as $u)
            }

            /// The smallest unsigned member, 0 for an arc through `MAX`.
            pub fn umin(self) -> $u {
                if self.wraps_unsigned() { 0 } else { self.base }
            }

            /// The largest unsigned member, `MAX` for an arc through `MAX`.
            pub fn umax(self) -> $u {
                if self.wraps_unsigned() { <$u>::MAX } else { self.end() }
            }

            /// The smallest signed member, `S::MIN` for an arc through
            /// `S::MAX`.
            pub fn smin(self) -> $s {
                if self.wraps_signed() {
                    <$s>::MIN
                } else {
                    (self.base as $s).min(self.end() as $s)
                }
            }

            /// The largest signed member, `S::MAX` for an arc through
            /// `S::MAX`.
            pub fn smax(self) -> $s {
                if self.wraps_signed() {
                    <$s>::MAX
                } else {
                    (self.base as $s).max(self.end() as $s)
                }
            }

            /// Whether `v` is on the arc (`cnum*_contains`).
            pub fn contains(self, v: $u) -> bool {
                !self.is_empty() && v.wrapping_sub(self.base) <= self.size
            }

            /// Whether every value of `inner` is on `self`
            /// (`cnum*_is_subset`).
            pub fn is_subset_of(self, outer: Self) -> bool {
                if self.is_empty() {
                    return true;
                }
                if outer.is_empty() {
                    return false;
                }
                // Seen from `outer.base`, `outer` is `0..=outer.size`.
                let start = self.base.wrapping_sub(outer.base);
                let inner = Self { base: start, size: self.size };
                if inner.wraps_unsigned() && outer.size < <$u>::MAX {
                    return false;
                }
                start.wrapping_add(self.size) <= outer.size
            }

            /// The values on both arcs (`cnum*_intersect`). Where they meet
            /// in two separate pieces the answer is the shorter operand
            /// (the first on a tie, taking the one with the smaller base
            /// as first).
            pub fn intersect(self, other: Self) -> Self {
                if self.is_empty() || other.is_empty() {
                    return Self::EMPTY;
                }
                let (a, b) = if self.base > other.base { (other, self) } else { (self, other) };
                // Seen from `a.base`: `a` is `0..=a.size`, `b` starts at `d`.
                let d = b.base - a.base;
                let b_seen = Self { base: d, size: b.size };
                if b_seen.wraps_unsigned() {
                    if d <= a.size {
                        // `b` covers the start of `a` and comes back into
                        // it: two pieces.
                        if a.size <= b.size { a } else { b }
                    } else {
                        // Only the part of `b` after the origin meets `a`.
                        Self { base: a.base, size: a.size.min(b_seen.end()) }
                    }
                } else if a.size >= d {
                    Self { base: b.base, size: (a.size - d).min(b.size) }
                } else {
                    Self::EMPTY
                }
            }

            /// A whole circle starts at 0, unless it starts at `S::MAX`
            /// (`cnum*_normalize`).
            fn normalized(self) -> Self {
                if self.size == <$u>::MAX && self.base != 0 && self.base != <$s>::MAX as $u {
                    Self { base: 0, size: self.size }
                } else {
                    self
                }
            }

            /// Every sum of a member of each (`cnum*_add`): the whole circle
            /// when the sizes together exceed it.
            pub fn sum(self, other: Self) -> Self {
                if self.is_empty() || other.is_empty() {
                    return Self::EMPTY;
                }
                match self.size.checked_add(other.size) {
                    None => Self::UNBOUNDED,
                    Some(size) => Self { base: self.base.wrapping_add(other.base), size }.normalized(),
                }
            }

            /// Every negated member (`cnum*_negate`): the arc reversed.
            pub fn negate(self) -> Self {
                if self.is_empty() {
                    return Self::EMPTY;
                }
                Self { base: self.end().wrapping_neg(), size: self.size }.normalized()
            }
        }
    };
}

cnum! {
    /// A 32-bit circular number (`struct cnum32`).
    Cnum32, u32, i32
}
cnum! {
    /// A 64-bit circular number (`struct cnum64`).
    Cnum64, u64, i64
}

/// The deductions between a wide arc and the arc of its low half, written
/// once for 64/32 bits (and, in the tests, 16/8).
macro_rules! cross {
    ($wide:ident, $wu:ty, $narrow:ident, $nu:ty) => {
        impl $wide {
            /// The low halves of the members (`cnum32_from_cnum64`): the
            /// arc's own low half when it is shorter than the narrow circle,
            /// else every value.
            pub fn low32(self) -> $narrow {
                if self.is_empty() {
                    return $narrow::EMPTY;
                }
                if self.size >= <$nu>::MAX as $wu {
                    $narrow::UNBOUNDED
                } else {
                    $narrow {
                        base: self.base as $nu,
                        size: self.size as $nu,
                    }
                }
            }

            /// The members whose low half is on `low`
            /// (`cnum64_cnum32_intersect`): the arc trimmed at both ends
            /// to where its first and last low halves meet `low`. Only the
            /// ends move, so a member whose low half misses `low` may stay
            /// in the middle.
            pub fn intersect_low32(self, low: $narrow) -> Self {
                if self.is_empty() || low.is_empty() {
                    return Self::EMPTY;
                }
                // Seen from the low half of `self.base`: the arc starts at
                // narrow 0, `low` at `lb`.
                let lb = low.base.wrapping_sub(self.base as $nu);
                let low_seen = $narrow {
                    base: lb,
                    size: low.size,
                };
                let tail = self.size as $nu;
                let mut t = self;
                if low_seen.wraps_unsigned() {
                    // `low` covers the start: only the far end can move,
                    // back to the last value of `low` before it.
                    let low_end = low_seen.end();
                    if tail > low_end && tail < lb {
                        t.size -= <$wu>::from(tail - low_end);
                    }
                    return t;
                }
                // The start moves forward to `low`'s first value.
                if t.size < <$wu>::from(lb) {
                    return Self::EMPTY;
                }
                t.base = t.base.wrapping_add(<$wu>::from(lb));
                t.size -= <$wu>::from(lb);
                // The end moves back to `low`'s last value.
                let low_end = <$wu>::from(lb) + <$wu>::from(low.size);
                let narrow_circle: $wu = 1 << <$nu>::BITS;
                let back = if tail < lb {
                    <$wu>::from(tail) + (narrow_circle - low_end)
                } else if <$wu>::from(tail) >= low_end {
                    <$wu>::from(tail) - low_end
                } else {
                    0
                };
                if t.size < back {
                    return Self::EMPTY;
                }
                t.size -= back;
                t
            }
        }
    };
}

cross!(Cnum64, u64, Cnum32, u32);

#[cfg(test)]
mod laws {
    //! Soundness laws: each operation keeps every member its operands
    //! describe. At 8/16 bits arcs sampled evenly over every base and
    //! size, with all (or evenly spaced) members; at 64 bits random arcs
    //! near the interesting boundaries.
    // The narrow widths exist for the exhaustive checks only, which need
    // not every operation.
    #![allow(dead_code, unreachable_pub)]

    use proptest::prelude::*;

    use super::*;

    cnum! {
        /// 8 bits, for exhaustive checks.
        Cnum8, u8, i8
    }
    cnum! {
        /// 16 bits, the wide side of the exhaustive cross-width checks.
        Cnum16, u16, i16
    }
    cross!(Cnum16, u16, Cnum8, u8);

    fn members8(c: Cnum8) -> impl Iterator<Item = u8> {
        (0..=u8::MAX).filter(move |&v| c.contains(v))
    }

    fn all8() -> impl Iterator<Item = Cnum8> {
        (0..=u8::MAX).flat_map(|base| (0..=u8::MAX).map(move |size| Cnum8 { base, size }))
    }

    #[test]
    fn bounds_and_membership_at_8_bits() {
        for c in all8().step_by(7).filter(|c| !c.is_empty()) {
            let m: Vec<u8> = members8(c).collect();
            assert_eq!(m.len(), usize::from(c.size) + 1, "{c:?}");
            for &v in &m {
                assert!(c.umin() <= v && v <= c.umax(), "{c:?} {v}");
                assert!(c.smin() <= v as i8 && v as i8 <= c.smax(), "{c:?} {v}");
            }
            // Exact where the arc does not wrap.
            if !c.wraps_unsigned() {
                assert_eq!((c.umin(), c.umax()), (m[0], *m.last().unwrap()));
            }
        }
        assert_eq!(members8(Cnum8::EMPTY).count(), 0);
        assert_eq!(Cnum8::from_urange(3, 7), Cnum8 { base: 3, size: 4 });
        assert_eq!(Cnum8::from_srange(-2, 1), Cnum8 { base: 254, size: 3 });
        assert_eq!(Cnum8::from_srange(i8::MIN, i8::MAX), Cnum8::UNBOUNDED);
    }

    #[test]
    fn subset_is_inclusion_at_8_bits() {
        let some: Vec<Cnum8> = all8().step_by(1031).chain([Cnum8::EMPTY]).collect();
        for &a in &some {
            for &b in &some {
                let included = members8(a).all(|v| b.contains(v));
                assert_eq!(a.is_subset_of(b), included, "{a:?} in {b:?}");
            }
        }
    }

    #[test]
    fn intersection_add_and_negation_are_sound_at_8_bits() {
        let some: Vec<Cnum8> = all8().step_by(1553).collect();
        for &a in &some {
            let neg = a.negate();
            for v in members8(a) {
                assert!(neg.contains(v.wrapping_neg()), "-{a:?} {v}");
            }
            for &b in &some {
                let i = a.intersect(b);
                let sum = a.sum(b);
                for v in members8(a) {
                    if b.contains(v) {
                        assert!(i.contains(v), "{a:?} & {b:?} lost {v}");
                    }
                    for w in members8(b).step_by(29) {
                        assert!(sum.contains(v.wrapping_add(w)), "{a:?} + {b:?}");
                    }
                }
                assert!(i.is_subset_of(a) || i.is_subset_of(b), "{a:?} & {b:?}");
            }
        }
    }

    #[test]
    fn cross_width_deductions_are_sound_at_16_bits() {
        let wide: Vec<Cnum16> = (0..=u16::MAX)
            .step_by(4099)
            .flat_map(|base| {
                [0u16, 7, 255, 256, 300, 700, 40000, u16::MAX].map(|size| Cnum16 { base, size })
            })
            .collect();
        let narrow: Vec<Cnum8> = all8().step_by(1031).collect();
        for &a in &wide {
            let low = a.low32();
            let members: Vec<u16> = (0..=a.size)
                .step_by(37)
                .map(|d| a.base.wrapping_add(d))
                .chain([a.base.wrapping_add(a.size)])
                .collect();
            for &v in &members {
                assert!(low.contains(v as u8), "{a:?} low {v}");
            }
            for &b in &narrow {
                let t = a.intersect_low32(b);
                for &v in members.iter().filter(|&&v| b.contains(v as u8)) {
                    assert!(t.contains(v), "{a:?} & low {b:?} lost {v}");
                }
                assert!(t.is_subset_of(a), "{a:?} & low {b:?} = {t:?}");
            }
        }
    }

    fn arc64() -> impl Strategy<Value = Cnum64> {
        let near = prop_oneof![
            any::<u64>(),
            (0u64..64).prop_map(|d| d.wrapping_sub(32)),
            (0u64..64).prop_map(|d| (1u64 << 63).wrapping_add(d).wrapping_sub(32)),
            (0u64..64).prop_map(|d| (1u64 << 32).wrapping_add(d).wrapping_sub(32)),
        ];
        let size = (any::<u64>(), 0u32..64).prop_map(|(v, s)| v >> s);
        (near, size).prop_map(|(base, size)| Cnum64 { base, size })
    }

    proptest! {
        #[test]
        fn operations_are_sound_at_64_bits(a in arc64(), b in arc64(), x in any::<u64>(), y in any::<u64>()) {
            prop_assume!(!a.is_empty() && !b.is_empty());
            // Members at the given distances from each base.
            let v = a.base.wrapping_add(x % a.size.saturating_add(1).max(1));
            let w = b.base.wrapping_add(y % b.size.saturating_add(1).max(1));
            prop_assert!(a.contains(v) && b.contains(w));
            prop_assert!(a.sum(b).contains(v.wrapping_add(w)));
            prop_assert!(a.negate().contains(v.wrapping_neg()));
            prop_assert!(a.umin() <= v && v <= a.umax());
            prop_assert!(a.smin() <= v as i64 && v as i64 <= a.smax());
            prop_assert!(a.low32().contains(v as u32));
            if b.contains(v) {
                prop_assert!(a.intersect(b).contains(v));
            }
            let low = Cnum32 { base: b.base as u32, size: (b.size >> 32) as u32 };
            if low.contains(v as u32) {
                prop_assert!(a.intersect_low32(low).contains(v));
            }
            prop_assert!(a.intersect_low32(low).is_subset_of(a));
        }
    }
}
