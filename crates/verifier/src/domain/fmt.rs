//! A scalar as the 6.12+ level-2 log prints it (`print_reg_state` and
//! `print_scalar_ranges` in kernel/bpf/log.c).

use std::fmt::Write as _;

use super::bounds::Scalar;
use super::tnum::hex;

/// Signed numbers in `[i16::MIN, i16::MAX]` print in decimal, others as
/// the 64-bit pattern in hex (`verbose_snum`).
pub(crate) fn snum(v: i64) -> String {
    if (i64::from(i16::MIN)..=i64::from(i16::MAX)).contains(&v) {
        v.to_string()
    } else {
        hex(v as u64)
    }
}

/// Unsigned numbers up to `u16::MAX` print in decimal, others in hex
/// (`verbose_unum`).
pub(crate) fn unum(v: u64) -> String {
    if v <= u64::from(u16::MAX) {
        v.to_string()
    } else {
        hex(v)
    }
}

/// The register text of a scalar without id or precision mark: a constant
/// as a number (`5`, `-1`, `0xfffe`), otherwise
/// `scalar(<ranges>,var_off=(v; m))` with defaults left out, e.g.
/// `scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))`
/// or `scalar()`.
pub fn fmt_scalar(s: &Scalar) -> String {
    if s.is_const() {
        return snum(s.var_off.value as i64);
    }
    format!("scalar({})", fmt_scalar_ranges(s))
}

/// The comma-separated inside of `scalar(...)` for a non-constant scalar:
/// the bounds that differ from their defaults, each merged with the later
/// ones of equal value and sign (in the kernel's pairing order), then
/// `var_off` unless fully unknown. Callers that print an `id=` put it, and
/// a comma, in front.
pub fn fmt_scalar_ranges(s: &Scalar) -> String {
    // Hex-printed 32-bit signed bounds are not sign-extended, so that
    // `smin32=0xfffffffe` cannot read as the 64-bit `0xff…fe`.
    let s32 = |v: i32| {
        if (i32::from(i16::MIN)..=i32::from(i16::MAX)).contains(&v) {
            i64::from(v) as u64
        } else {
            u64::from(v as u32)
        }
    };
    let mut items = [
        ("smin", s.smin as u64, s.smin == i64::MIN),
        ("smax", s.smax as u64, s.smax == i64::MAX),
        ("umin", s.umin, s.umin == 0),
        ("umax", s.umax, s.umax == u64::MAX),
        ("smin32", s32(s.s32_min), s.s32_min == i32::MIN),
        ("smax32", s32(s.s32_max), s.s32_max == i32::MAX),
        ("umin32", u64::from(s.u32_min), s.u32_min == 0),
        ("umax32", u64::from(s.u32_max), s.u32_max == u32::MAX),
    ];
    let mut out = String::new();
    for i in 0..items.len() {
        let (name, val, omit) = items[i];
        if omit {
            continue;
        }
        let signed = name.starts_with('s');
        let negative = signed && (val as i64) < 0;
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(name);
        out.push('=');
        // Minima pair with minima and maxima with maxima: every second
        // entry after this one.
        for j in (i + 2..items.len()).step_by(2) {
            let (name2, val2, omit2) = items[j];
            if omit2 || val2 != val {
                continue;
            }
            if (name2.starts_with('s') && (val2 as i64) < 0) != negative {
                continue;
            }
            items[j].2 = true;
            out.push_str(name2);
            out.push('=');
        }
        out.push_str(&if signed { snum(val as i64) } else { unum(val) });
    }
    if !s.var_off.is_unknown() {
        if !out.is_empty() {
            out.push(',');
        }
        let _ = write!(out, "var_off={}", s.var_off);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Tnum;

    #[test]
    fn constants_and_unknown() {
        assert_eq!(fmt_scalar(&Scalar::constant(5)), "5");
        assert_eq!(fmt_scalar(&Scalar::constant(u64::MAX)), "-1");
        assert_eq!(fmt_scalar(&Scalar::constant(0xfffe)), "0xfffe");
        assert_eq!(
            fmt_scalar(&Scalar::constant(0x8000_0000_0000_0000)),
            "0x8000000000000000"
        );
        assert_eq!(fmt_scalar(&Scalar::unknown()), "scalar()");
    }

    #[test]
    fn merged_byte_range() {
        let mut s = Scalar::unknown();
        s.var_off = Tnum::new(0, 0xff);
        s.sync(crate::domain::Era::V6_12);
        assert_eq!(
            fmt_scalar(&s),
            "scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))"
        );
    }
}
