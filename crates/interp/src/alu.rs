//! The BPF machine's arithmetic on concrete 64-bit registers, as the
//! kernel's interpreter and JITs execute it after the verifier's rewrites:
//!
//! * 32-bit operations work on the low halves and zero-extend the result;
//! * shift amounts are masked to the width (the verifier rejects constant
//!   over-wide shifts; a register amount is masked by every JIT);
//! * division by zero gives 0, modulo by zero leaves the dividend (its low
//!   half, zero-extended, for 32-bit `mod`) — the verifier's
//!   `do_misc_fixups` patches exactly that behaviour in;
//! * `sdiv` by -1 negates (so `INT_MIN s/ -1 == INT_MIN`), `smod` by -1
//!   gives 0;
//! * `le`/`be` convert from the host's byte order: this module models a
//!   little-endian host (x86-64, arm64), so `le` truncates and `be` swaps.

use bpfcheck_isa::{AluOp, Endian, JmpOp, Size, SwapBits, Width};

const LOW32: u64 = 0xffff_ffff;

/// `dst op src` at `width`; for an immediate pass it sign-extended to 64
/// bits (as the kernel does for both widths).
pub fn alu(op: AluOp, width: Width, dst: u64, src: u64) -> u64 {
    match width {
        Width::W64 => alu64(op, dst, src),
        Width::W32 => u64::from(alu32(op, dst as u32, src as u32)),
    }
}

fn alu64(op: AluOp, a: u64, b: u64) -> u64 {
    match op {
        AluOp::Add => a.wrapping_add(b),
        AluOp::Sub => a.wrapping_sub(b),
        AluOp::Mul => a.wrapping_mul(b),
        AluOp::Div => a.checked_div(b).unwrap_or(0),
        AluOp::Mod => a.checked_rem(b).unwrap_or(a),
        AluOp::SDiv => match b as i64 {
            0 => 0,
            d => (a as i64).wrapping_div(d) as u64,
        },
        AluOp::SMod => match b as i64 {
            0 => a,
            d => (a as i64).wrapping_rem(d) as u64,
        },
        AluOp::Or => a | b,
        AluOp::And => a & b,
        AluOp::Xor => a ^ b,
        AluOp::Lsh => a << (b & 63),
        AluOp::Rsh => a >> (b & 63),
        AluOp::Arsh => ((a as i64) >> (b & 63)) as u64,
        AluOp::Mov => b,
    }
}

fn alu32(op: AluOp, a: u32, b: u32) -> u32 {
    match op {
        AluOp::Add => a.wrapping_add(b),
        AluOp::Sub => a.wrapping_sub(b),
        AluOp::Mul => a.wrapping_mul(b),
        AluOp::Div => a.checked_div(b).unwrap_or(0),
        AluOp::Mod => a.checked_rem(b).unwrap_or(a),
        AluOp::SDiv => match b as i32 {
            0 => 0,
            d => (a as i32).wrapping_div(d) as u32,
        },
        AluOp::SMod => match b as i32 {
            0 => a,
            d => (a as i32).wrapping_rem(d) as u32,
        },
        AluOp::Or => a | b,
        AluOp::And => a & b,
        AluOp::Xor => a ^ b,
        AluOp::Lsh => a << (b & 31),
        AluOp::Rsh => a >> (b & 31),
        AluOp::Arsh => ((a as i32) >> (b & 31)) as u32,
        AluOp::Mov => b,
    }
}

/// `-dst` at `width`.
pub fn neg(width: Width, dst: u64) -> u64 {
    match width {
        Width::W64 => dst.wrapping_neg(),
        Width::W32 => u64::from((dst as u32).wrapping_neg()),
    }
}

/// `dst = (s8|s16|s32) src` at `width` (`movsx`).
pub fn movsx(width: Width, from: Size, src: u64) -> u64 {
    let v = sign_extend(from, src);
    match width {
        Width::W64 => v,
        Width::W32 => v & LOW32,
    }
}

/// The low `size` bytes of `v`, sign-extended to 64 bits.
pub fn sign_extend(size: Size, v: u64) -> u64 {
    match size {
        Size::B => i64::from(v as i8) as u64,
        Size::H => i64::from(v as i16) as u64,
        Size::W => i64::from(v as i32) as u64,
        Size::DW => v,
    }
}

/// The low `size` bytes of `v`, zero-extended.
pub fn truncate(size: Size, v: u64) -> u64 {
    match size {
        Size::B => v & 0xff,
        Size::H => v & 0xffff,
        Size::W => v & LOW32,
        Size::DW => v,
    }
}

/// `le`/`be` on a little-endian host: `le` keeps the low bits, `be`
/// reverses their bytes; both zero-extend.
pub fn endian(order: Endian, bits: SwapBits, dst: u64) -> u64 {
    match order {
        Endian::Le => truncate_bits(bits, dst),
        Endian::Be => bswap(bits, dst),
    }
}

/// `bswap16/32/64`: reverse the low bytes, zero-extend.
pub fn bswap(bits: SwapBits, dst: u64) -> u64 {
    match bits {
        SwapBits::B16 => u64::from((dst as u16).swap_bytes()),
        SwapBits::B32 => u64::from((dst as u32).swap_bytes()),
        SwapBits::B64 => dst.swap_bytes(),
    }
}

fn truncate_bits(bits: SwapBits, v: u64) -> u64 {
    match bits {
        SwapBits::B16 => v & 0xffff,
        SwapBits::B32 => v & LOW32,
        SwapBits::B64 => v,
    }
}

/// Whether `dst op src` holds at `width` (for an immediate pass it
/// sign-extended; `JMP32` compares the low halves).
pub fn jmp(op: JmpOp, width: Width, dst: u64, src: u64) -> bool {
    let (a, b, sa, sb) = match width {
        Width::W64 => (dst, src, dst as i64, src as i64),
        Width::W32 => (
            dst & LOW32,
            src & LOW32,
            i64::from(dst as i32),
            i64::from(src as i32),
        ),
    };
    match op {
        JmpOp::Jeq => a == b,
        JmpOp::Jne => a != b,
        JmpOp::Jgt => a > b,
        JmpOp::Jge => a >= b,
        JmpOp::Jlt => a < b,
        JmpOp::Jle => a <= b,
        JmpOp::Jsgt => sa > sb,
        JmpOp::Jsge => sa >= sb,
        JmpOp::Jslt => sa < sb,
        JmpOp::Jsle => sa <= sb,
        JmpOp::Jset => a & b != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_edge_cases() {
        assert_eq!(alu(AluOp::Div, Width::W64, 7, 0), 0);
        assert_eq!(alu(AluOp::Mod, Width::W64, 7, 0), 7);
        // 32-bit mod by zero keeps only the low half.
        assert_eq!(alu(AluOp::Mod, Width::W32, 0x1_0000_0007, 0), 7);
        assert_eq!(
            alu(AluOp::SDiv, Width::W64, i64::MIN as u64, u64::MAX),
            i64::MIN as u64
        );
        assert_eq!(alu(AluOp::SMod, Width::W64, i64::MIN as u64, u64::MAX), 0);
        assert_eq!(
            alu(AluOp::SDiv, Width::W32, 0x8000_0000, u64::MAX),
            0x8000_0000
        );
        assert_eq!(alu(AluOp::SMod, Width::W32, (-7i64) as u64, 0), 0xffff_fff9);
    }

    #[test]
    fn shifts_are_masked() {
        assert_eq!(alu(AluOp::Lsh, Width::W64, 1, 64), 1);
        assert_eq!(alu(AluOp::Lsh, Width::W32, 1, 32), 1);
        assert_eq!(alu(AluOp::Arsh, Width::W32, 0x8000_0000, 31), 0xffff_ffff);
    }

    #[test]
    fn byte_order() {
        assert_eq!(endian(Endian::Be, SwapBits::B16, 0x1234_5678), 0x7856);
        assert_eq!(
            endian(Endian::Le, SwapBits::B32, 0x1_2345_6789),
            0x2345_6789
        );
        assert_eq!(movsx(Width::W32, Size::B, 0x80), 0xffff_ff80);
        assert_eq!(movsx(Width::W64, Size::H, 0x8000), 0xffff_ffff_ffff_8000);
    }
}
