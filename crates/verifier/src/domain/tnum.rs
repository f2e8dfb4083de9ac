//! Tracked numbers: per-bit knowledge of a 64-bit value (kernel/bpf/tnum.c).
//!
//! Bit `i` is known to be `value`'s bit `i` when `mask`'s bit `i` is clear,
//! and unknown when it is set. A well-formed tnum never has a bit set in both
//! `value` and `mask`; every operation here keeps that invariant for
//! well-formed inputs.

use std::fmt;

/// A 64-bit value some of whose bits are known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Tnum {
    /// The known bits (zero where unknown).
    pub value: u64,
    /// The unknown bits.
    pub mask: u64,
}

impl Tnum {
    /// Nothing is known (`tnum_unknown`).
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };

    /// A tnum with the given parts, unchecked.
    pub const fn new(value: u64, mask: u64) -> Tnum {
        Tnum { value, mask }
    }

    /// The constant `v` (`tnum_const`).
    pub const fn constant(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    /// The smallest tnum holding every value of `[min, max]`
    /// (`tnum_range`): the common high bits of `min` and `max`, the rest
    /// unknown.
    pub fn range(min: u64, max: u64) -> Tnum {
        let differing = min ^ max;
        let bits = 64 - differing.leading_zeros();
        if bits > 63 {
            return Tnum::UNKNOWN;
        }
        let delta = (1u64 << bits) - 1;
        Tnum {
            value: min & !delta,
            mask: delta,
        }
    }

    /// Whether every bit is known (`tnum_is_const`).
    pub const fn is_const(self) -> bool {
        self.mask == 0
    }

    /// Whether this is the constant `v` (`tnum_equals_const`).
    pub const fn equals_const(self, v: u64) -> bool {
        self.is_const() && self.value == v
    }

    /// Whether no bit is known (`tnum_is_unknown`).
    pub const fn is_unknown(self) -> bool {
        self.mask == u64::MAX
    }

    /// Shift left by a known amount; the amount is taken modulo 64 as the
    /// kernel's callers never pass more than 63.
    pub const fn lshift(self, shift: u8) -> Tnum {
        let s = (shift & 63) as u32;
        Tnum {
            value: self.value << s,
            mask: self.mask << s,
        }
    }

    /// Logical shift right by a known amount (modulo 64).
    pub const fn rshift(self, shift: u8) -> Tnum {
        let s = (shift & 63) as u32;
        Tnum {
            value: self.value >> s,
            mask: self.mask >> s,
        }
    }

    /// Arithmetic shift right (`tnum_arshift`): with `bits == 32` the low
    /// half is shifted as an `s32` and the result zero-extended, otherwise
    /// the whole value as an `s64`. An unknown sign bit stays unknown in the
    /// bits it is copied into.
    pub const fn arshift(self, min_shift: u8, bits: u8) -> Tnum {
        if bits == 32 {
            let s = (min_shift & 31) as u32;
            Tnum {
                value: ((self.value as u32 as i32) >> s) as u32 as u64,
                mask: ((self.mask as u32 as i32) >> s) as u32 as u64,
            }
        } else {
            let s = (min_shift & 63) as u32;
            Tnum {
                value: ((self.value as i64) >> s) as u64,
                mask: ((self.mask as i64) >> s) as u64,
            }
        }
    }

    /// Sum (`tnum_add`): the carries that unknown bits may or may not
    /// produce are the bits where the all-unknown-set sum and the
    /// all-unknown-clear sum differ.
    pub const fn add(self, b: Tnum) -> Tnum {
        let sm = self.mask.wrapping_add(b.mask);
        let sv = self.value.wrapping_add(b.value);
        let sigma = sm.wrapping_add(sv);
        let chi = sigma ^ sv;
        let mu = chi | self.mask | b.mask;
        Tnum {
            value: sv & !mu,
            mask: mu,
        }
    }

    /// Difference (`tnum_sub`), the borrow counterpart of [`Tnum::add`].
    pub const fn sub(self, b: Tnum) -> Tnum {
        let dv = self.value.wrapping_sub(b.value);
        let alpha = dv.wrapping_add(self.mask);
        let beta = dv.wrapping_sub(b.mask);
        let chi = alpha ^ beta;
        let mu = chi | self.mask | b.mask;
        Tnum {
            value: dv & !mu,
            mask: mu,
        }
    }

    /// Two's-complement negation, `0 - a` (`tnum_neg` of newer kernels).
    pub const fn neg(self) -> Tnum {
        Tnum::constant(0).sub(self)
    }

    /// Bitwise and (`tnum_and`).
    pub const fn and(self, b: Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = b.value | b.mask;
        let v = self.value & b.value;
        Tnum {
            value: v,
            mask: alpha & beta & !v,
        }
    }

    /// Bitwise or (`tnum_or`).
    pub const fn or(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v,
            mask: mu & !v,
        }
    }

    /// Bitwise exclusive or (`tnum_xor`).
    pub const fn xor(self, b: Tnum) -> Tnum {
        let v = self.value ^ b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// Product as 6.18 computes it (`tnum_mul` after its rewrite): shift-
    /// and-add over `self`'s bits, where an unknown bit joins the sums with
    /// and without the shifted `b` ([`Tnum::union`]).
    pub const fn mul(self, b: Tnum) -> Tnum {
        let mut acc = Tnum::constant(0);
        let (mut a, mut b) = (self, b);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc = acc.add(b);
            } else if a.mask & 1 != 0 {
                acc = acc.union(acc.add(b));
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        acc
    }

    /// Product as 6.1 and 6.12 compute it (`tnum_mul` of the partial-
    /// product algorithm): the product of the known parts plus, for every
    /// bit of `self` that is one or unknown, the shifted unknown (or
    /// possibly-set) bits of `b`, summed as tnums.
    pub const fn mul_partial_products(self, b: Tnum) -> Tnum {
        let known_product = self.value.wrapping_mul(b.value);
        let mut acc = Tnum::constant(0);
        let (mut a, mut b) = (self, b);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc = acc.add(Tnum::new(0, b.mask));
            } else if a.mask & 1 != 0 {
                acc = acc.add(Tnum::new(0, b.value | b.mask));
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        Tnum::constant(known_product).add(acc)
    }

    /// Whether some value fits both (`tnum_overlap`): their known bits
    /// agree wherever both are known.
    pub const fn overlaps(self, b: Tnum) -> bool {
        let both_known = !self.mask & !b.mask;
        self.value & both_known == b.value & both_known
    }

    /// The values both allow (`tnum_intersect`). Where the two disagree on a
    /// known bit the result claims a one, as the kernel's does; callers only
    /// intersect tnums that overlap.
    pub const fn intersect(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask & b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// The smallest tnum holding the values of both (`tnum_union`, new with
    /// 6.18's multiplication).
    pub const fn union(self, b: Tnum) -> Tnum {
        let mu = self.mask | b.mask | (self.value ^ b.value);
        Tnum {
            value: self.value & !mu,
            mask: mu,
        }
    }

    /// Keeps the low `size` bytes (`tnum_cast`); `size >= 8` keeps all.
    pub const fn cast(self, size: u8) -> Tnum {
        if size >= 8 {
            return self;
        }
        let keep = (1u64 << (size as u32 * 8)) - 1;
        Tnum {
            value: self.value & keep,
            mask: self.mask & keep,
        }
    }

    /// Whether every value is a multiple of `size`, a power of two
    /// (`tnum_is_aligned`); size 0 counts as aligned.
    pub const fn is_aligned(self, size: u64) -> bool {
        if size == 0 {
            return true;
        }
        (self.value | self.mask) & (size - 1) == 0
    }

    /// Whether every value of `b` is a value of `self` (`tnum_in`).
    pub const fn contains(self, b: Tnum) -> bool {
        if b.mask & !self.mask != 0 {
            return false;
        }
        self.value == b.value & !self.mask
    }

    /// Whether the concrete `v` is one of the values.
    pub const fn contains_value(self, v: u64) -> bool {
        v & !self.mask == self.value
    }

    /// The smallest member greater than `z`, or the largest member when
    /// there is none (`tnum_step`).
    pub fn next_member(self, z: u64) -> u64 {
        let tmax = self.value | self.mask;
        if z >= tmax {
            return tmax;
        }
        if z < self.value {
            return self.value;
        }
        // The smallest member >= z + 1 agrees with z + 1 above some bit i,
        // has a one at i where z + 1 has a zero, and is minimal below.
        let target = z + 1;
        let conflict = (target ^ self.value) & !self.mask;
        if conflict == 0 {
            return target;
        }
        let may_be_one = self.value | self.mask;
        (0..64)
            .filter(|&i| {
                let above_ok = conflict.checked_shr(i + 1).unwrap_or(0) == 0;
                above_ok && target >> i & 1 == 0 && may_be_one >> i & 1 == 1
            })
            .map(|i| {
                let above = target
                    .checked_shr(i + 1)
                    .and_then(|x| x.checked_shl(i + 1))
                    .unwrap_or(0);
                above | 1 << i | (self.value & ((1u64 << i) - 1))
            })
            .next()
            .unwrap_or(tmax)
    }

    /// The low 32 bits, zero-extended (`tnum_subreg`).
    pub const fn subreg(self) -> Tnum {
        self.cast(4)
    }

    /// The high 32 bits with the low half cleared (`tnum_clear_subreg`).
    pub const fn clear_subreg(self) -> Tnum {
        self.rshift(32).lshift(32)
    }

    /// `self`'s high half with `sub`'s low half (`tnum_with_subreg`).
    pub const fn with_subreg(self, sub: Tnum) -> Tnum {
        self.clear_subreg().or(sub.subreg())
    }

    /// `self`'s high half with the known low half `v` (`tnum_const_subreg`).
    pub const fn const_subreg(self, v: u32) -> Tnum {
        self.with_subreg(Tnum::constant(v as u64))
    }

    /// Whether the low 32 bits are known (`tnum_subreg_is_const`).
    pub const fn subreg_is_const(self) -> bool {
        self.subreg().is_const()
    }

    /// Reverses the low two bytes, clearing the rest (`tnum_bswap16`).
    pub const fn bswap16(self) -> Tnum {
        Tnum {
            value: (self.value as u16).swap_bytes() as u64,
            mask: (self.mask as u16).swap_bytes() as u64,
        }
    }

    /// Reverses the low four bytes, clearing the rest (`tnum_bswap32`).
    pub const fn bswap32(self) -> Tnum {
        Tnum {
            value: (self.value as u32).swap_bytes() as u64,
            mask: (self.mask as u32).swap_bytes() as u64,
        }
    }

    /// Reverses all eight bytes (`tnum_bswap64`).
    pub const fn bswap64(self) -> Tnum {
        Tnum {
            value: self.value.swap_bytes(),
            mask: self.mask.swap_bytes(),
        }
    }

    /// The tristate binary expansion, most significant bit first, `x` for
    /// unknown bits (`tnum_sbin`).
    pub fn to_sbin(self) -> String {
        (0..64)
            .rev()
            .map(|bit| {
                if self.mask >> bit & 1 != 0 {
                    'x'
                } else if self.value >> bit & 1 != 0 {
                    '1'
                } else {
                    '0'
                }
            })
            .collect()
    }

    /// The 6.1 log form, always a pair: `(0x5; 0x0)`.
    pub fn to_pair_string(self) -> String {
        format!("({}; {})", hex(self.value), hex(self.mask))
    }
}

/// `%#llx` as the kernel's `vsnprintf` prints it: `0x0` for zero too.
pub(crate) fn hex(v: u64) -> String {
    format!("{v:#x}")
}

/// The 6.12+ `tnum_strn` form: a constant as a number (decimal up to
/// `u16::MAX`, hex above), otherwise `(value; mask)` in hex.
impl fmt::Display for Tnum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_const() {
            if self.value <= u64::from(u16::MAX) {
                write!(f, "{}", self.value)
            } else {
                f.write_str(&hex(self.value))
            }
        } else {
            write!(f, "({}; {})", hex(self.value), hex(self.mask))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_examples() {
        assert_eq!(Tnum::range(0, 255), Tnum::new(0, 0xff));
        assert_eq!(Tnum::range(5, 5), Tnum::constant(5));
        assert_eq!(Tnum::range(4, 7), Tnum::new(4, 3));
        assert_eq!(Tnum::range(0, u64::MAX), Tnum::UNKNOWN);
        assert_eq!(
            Tnum::range(1 << 63, u64::MAX),
            Tnum::new(1 << 63, (1 << 63) - 1)
        );
    }

    #[test]
    fn arithmetic_examples() {
        let byte = Tnum::new(0, 0xff);
        assert_eq!(byte.add(Tnum::constant(1)), Tnum::new(0, 0x1ff));
        assert_eq!(Tnum::constant(3).mul(Tnum::constant(5)), Tnum::constant(15));
        assert_eq!(
            Tnum::constant(3).mul_partial_products(Tnum::constant(5)),
            Tnum::constant(15)
        );
        assert_eq!(byte.and(Tnum::constant(0x0f)), Tnum::new(0, 0x0f));
        assert_eq!(byte.or(Tnum::constant(0x100)), Tnum::new(0x100, 0xff));
        assert_eq!(
            Tnum::new(0x8000_0000, 0x7fff_ffff).arshift(4, 32),
            Tnum::new(0xf800_0000, 0x07ff_ffff)
        );
        assert_eq!(Tnum::new(0, 0xff0).bswap16(), Tnum::new(0, 0xf00f));
        assert_eq!(Tnum::new(0, 0xff).neg(), Tnum::UNKNOWN);
    }

    #[test]
    fn text_forms() {
        assert_eq!(Tnum::new(0, 0xff).to_string(), "(0x0; 0xff)");
        assert_eq!(Tnum::constant(65535).to_string(), "65535");
        assert_eq!(Tnum::constant(65536).to_string(), "0x10000");
        assert_eq!(Tnum::constant(0).to_pair_string(), "(0x0; 0x0)");
        let s = Tnum::new(0b10, 0b01).to_sbin();
        assert_eq!(s.len(), 64);
        assert!(s.ends_with("1x"));
    }

    #[test]
    fn subreg_helpers() {
        let t = Tnum::new(0x1_0000_0000, 0xff);
        assert_eq!(t.subreg(), Tnum::new(0, 0xff));
        assert_eq!(t.clear_subreg(), Tnum::constant(0x1_0000_0000));
        assert_eq!(t.const_subreg(7), Tnum::constant(0x1_0000_0007));
        assert!(!t.subreg_is_const());
        assert!(Tnum::new(0, 0xff).contains(Tnum::constant(0x7f)));
        assert!(!Tnum::new(0, 0xff).contains(Tnum::constant(0x100)));
    }
}
