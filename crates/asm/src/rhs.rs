//! Right-hand sides of `DST = …`: moves, negation, byte swaps, loads,
//! packet loads, fetching atomics, `ld_imm64` and its pseudo sources.

use bpfcheck_uapi::{RawInsn, op};

use crate::cursor::{Cursor, Reg, Width};
use crate::stmt::{
    Fixup, Stmt, address, class_of, same_reg, same_width, size_cast, split64, target,
    unsigned_size_cast,
};
use crate::{AsmError, SymKind};

/// `BPF_ADDR_SPACE_CAST`, the `off` of an arena address-space cast.
const ADDR_SPACE_CAST_OFF: i16 = 1;
/// The `off` the kernel gives its internal per-CPU address move.
const PERCPU_ADDR_OFF: i16 = -1;

/// Parses what follows `DST =`.
pub(crate) fn value(cur: &mut Cursor<'_>, dst: Reg) -> Result<Stmt, AsmError> {
    let class = class_of(dst.width, op::ALU, op::ALU64);
    let mark = cur.mark();

    // `r1 = -r1` (negation) versus `r1 = -5` (a negative immediate).
    if cur.eat("-") {
        let at = cur.here();
        if let Some(src) = cur.reg() {
            same_width(cur, at, src, dst.width)?;
            same_reg(cur, at, src.no, dst.no, "negation is in place")?;
            return Ok(Stmt::single(RawInsn::new(class | op::NEG, dst.no, 0, 0, 0)));
        }
        cur.reset(mark);
    }

    // `r1 = (s8)r2`: sign-extending move.
    if cur.eat("(") {
        let ext = cur.ident().and_then(|w| match w {
            "s8" => Some(8),
            "s16" => Some(16),
            "s32" => Some(32),
            _ => None,
        });
        if let Some(bits) = ext.filter(|_| cur.eat(")")) {
            let at = cur.here();
            let src = cur.expect_reg()?;
            same_width(cur, at, src, dst.width)?;
            let code = class | op::MOV | op::X;
            return Ok(Stmt::single(RawInsn::new(code, dst.no, src.no, bits, 0)));
        }
        cur.reset(mark);
    }

    if cur.eat("*") {
        return load(cur, dst);
    }

    if cur.eat("&") {
        // `r1 = &(void __percpu *)(r2)`, the kernel's own per-CPU rewrite.
        cur.expect("(")?;
        cur.expect("void")?;
        cur.expect("__percpu")?;
        cur.expect("*")?;
        cur.expect(")")?;
        cur.expect("(")?;
        let src = cur.expect_reg64()?;
        cur.expect(")")?;
        let dst = wide_dst(cur, mark, dst)?;
        let code = op::ALU64 | op::MOV | op::X;
        return Ok(Stmt::single(RawInsn::new(
            code,
            dst,
            src,
            PERCPU_ADDR_OFF,
            0,
        )));
    }

    if let Some(src) = cur.reg() {
        same_width(cur, mark, src, dst.width)?;
        let code = class | op::MOV | op::X;
        return Ok(Stmt::single(RawInsn::new(code, dst.no, src.no, 0, 0)));
    }

    let word_at = cur.here();
    if let Some(word) = cur.ident() {
        return named(cur, dst, word, word_at);
    }

    immediate(cur, dst, class)
}

/// `r1 = 5` (mov), `r1 = 0x1234` / `r1 = 5 ll` (ld_imm64).
fn immediate(cur: &mut Cursor<'_>, dst: Reg, class: u8) -> Result<Stmt, AsmError> {
    let at = cur.here();
    let hex = cur.next_is_hex();
    let v = cur.expect_number("a register, immediate or load")?;
    let ll = cur.eat("ll");
    // The kernel prints `ld_imm64` values in hex and `mov` immediates in
    // decimal; LLVM marks `ld_imm64` with `ll`. Both readings are honoured.
    if (ll || hex) && dst.width == Width::R64 {
        if !(i128::from(i64::MIN)..=i128::from(u64::MAX)).contains(&v) {
            return Err(cur.error_at(at, format!("value {v} does not fit in 64 bits")));
        }
        let (lo, hi) = split64(v);
        let first = RawInsn::new(op::LD | op::IMM | op::DW, dst.no, 0, 0, lo);
        return Ok(Stmt::ld_imm64(first, hi, Fixup::None));
    }
    if ll {
        return Err(cur.error_at(at, "ld_imm64 (`ll`) needs a 64-bit register rN"));
    }
    if !(i128::from(i32::MIN)..=i128::from(u32::MAX)).contains(&v) {
        return Err(cur.error_at(
            at,
            format!("immediate {v} does not fit in 32 bits (write `{v} ll` for ld_imm64)"),
        ));
    }
    let imm = crate::cursor::wrap_i32(v);
    Ok(Stmt::single(RawInsn::new(
        class | op::MOV | op::K,
        dst.no,
        0,
        0,
        imm,
    )))
}

/// Requires a 64-bit destination for forms only the `rN` view names.
fn wide_dst(cur: &Cursor<'_>, at: usize, dst: Reg) -> Result<u8, AsmError> {
    match dst.width {
        Width::R64 => Ok(dst.no),
        Width::W32 => Err(cur.error_at(
            at,
            format!(
                "this form needs the 64-bit register r{}, not w{}",
                dst.no, dst.no
            ),
        )),
    }
}

/// `*(SIZE *)(rS OFF)` (LDX / LDX MEMSX) or `*(SIZE *)skb[…]` (LD ABS/IND).
fn load(cur: &mut Cursor<'_>, dst: Reg) -> Result<Stmt, AsmError> {
    let size = size_cast(cur)?;
    let skb_at = cur.here();
    if cur.eat("skb") {
        if dst.no != 0 || dst.width != Width::R64 {
            return Err(cur.error_at(skb_at, "packet loads (skb[…]) always load into r0"));
        }
        if size.signed {
            return Err(cur.error_at(skb_at, "packet loads do not sign-extend"));
        }
        return packet_load(cur, size.bits);
    }
    let (src, off) = address(cur)?;
    let mode = if size.signed { op::MEMSX } else { op::MEM };
    Ok(Stmt::single(RawInsn::new(
        op::LDX | mode | size.bits,
        dst.no,
        src,
        off,
        0,
    )))
}

/// `r0 = *(u8 *)skb[12]` (ABS) or `r0 = *(u32 *)skb[r6 + 4]` (IND).
fn packet_load(cur: &mut Cursor<'_>, size: u8) -> Result<Stmt, AsmError> {
    cur.expect("[")?;
    let stmt = if let Some(src) = cur.reg() {
        let m = cur.mark();
        let closes = cur.eat("]");
        cur.reset(m);
        // The printer writes `skb[r6 + %d]`, so a negative offset is `+ -2`.
        cur.eat("+");
        let imm = if closes {
            0
        } else {
            cur.imm32("an offset (+N)")?
        };
        let code = op::LD | op::IND | size;
        Stmt::single(RawInsn::new(code, 0, src.no, 0, imm))
    } else {
        let imm = cur.imm32("a packet offset or register")?;
        Stmt::single(RawInsn::new(op::LD | op::ABS | size, 0, 0, 0, imm))
    };
    cur.expect("]")?;
    Ok(stmt)
}

/// Forms introduced by a word: byte swaps, atomics, casts, pseudo sources.
fn named(cur: &mut Cursor<'_>, dst: Reg, word: &str, at: usize) -> Result<Stmt, AsmError> {
    if let Some((code, bits)) = endian(word) {
        let dst_no = wide_dst(cur, at, dst)?;
        let src_at = cur.here();
        let src = cur.expect_reg64()?;
        same_reg(cur, src_at, src, dst_no, "byte swaps are in place")?;
        return Ok(Stmt::single(RawInsn::new(code, dst_no, 0, 0, bits)));
    }
    if let Some(rest) = word.strip_prefix("atomic") {
        return fetching_atomic(cur, dst, rest, at);
    }
    match word {
        "load_acquire" => {
            cur.expect("(")?;
            let size = unsigned_size_cast(cur)?;
            let (src, off) = address(cur)?;
            cur.expect(")")?;
            let code = op::STX | op::ATOMIC | size;
            Ok(Stmt::single(RawInsn::new(
                code,
                dst.no,
                src,
                off,
                op::LOAD_ACQ,
            )))
        }
        "addr_space_cast" => {
            let dst = wide_dst(cur, at, dst)?;
            cur.expect("(")?;
            let src = cur.expect_reg64()?;
            cur.expect(",")?;
            let to = cur.number_in("destination address space", 0, 0xffff)?;
            cur.expect(",")?;
            let from = cur.number_in("source address space", 0, 0xffff)?;
            cur.expect(")")?;
            let imm = crate::cursor::wrap_i32((to << 16) | from);
            let code = op::ALU64 | op::MOV | op::X;
            Ok(Stmt::single(RawInsn::new(
                code,
                dst,
                src,
                ADDR_SPACE_CAST_OFF,
                imm,
            )))
        }
        "map_fd" | "map_idx" | "btf_id" => {
            let dst = wide_dst(cur, at, dst)?;
            let src = match word {
                "map_fd" => op::PSEUDO_MAP_FD,
                "map_idx" => op::PSEUDO_MAP_IDX,
                _ => op::PSEUDO_BTF_ID,
            };
            cur.expect("(")?;
            let name_at = cur.here();
            if word == "btf_id"
                && let Some(name) = cur.ident()
            {
                cur.expect(")")?;
                let first = RawInsn::new(op::LD | op::IMM | op::DW, dst, src, 0, 0);
                let fixup = Fixup::Kernel(name.to_owned(), name_at, SymKind::VarOrFunc);
                return Ok(Stmt::ld_imm64(first, 0, fixup));
            }
            let what = if word == "btf_id" {
                "a BTF id or kernel symbol name"
            } else {
                "an index or id"
            };
            let n = cur.imm32(what)?;
            cur.expect(")")?;
            let first = RawInsn::new(op::LD | op::IMM | op::DW, dst, src, 0, n);
            Ok(Stmt::ld_imm64(first, 0, Fixup::None))
        }
        "map_value" | "map_idx_value" => {
            let dst = wide_dst(cur, at, dst)?;
            let src = if word == "map_value" {
                op::PSEUDO_MAP_VALUE
            } else {
                op::PSEUDO_MAP_IDX_VALUE
            };
            cur.expect("(")?;
            let n = cur.imm32("a map index")?;
            cur.expect(",")?;
            let off = cur.imm32("an offset into the map value")?;
            cur.expect(")")?;
            let first = RawInsn::new(op::LD | op::IMM | op::DW, dst, src, 0, n);
            Ok(Stmt::ld_imm64(first, off, Fixup::None))
        }
        "func" => {
            let dst = wide_dst(cur, at, dst)?;
            cur.expect("(")?;
            let t = target(cur)?;
            cur.expect(")")?;
            let first = RawInsn::new(op::LD | op::IMM | op::DW, dst, op::PSEUDO_FUNC, 0, 0);
            Ok(Stmt::ld_imm64(first, 0, Fixup::Imm(t)))
        }
        _ => {
            cur.reset(at);
            Err(cur.expected("a register, immediate, load or operation"))
        }
    }
}

/// `be16`…`le64` (`BPF_ALU | BPF_END`) and `bswap16`…`bswap64`
/// (`BPF_ALU64 | BPF_END`): the code and the width in `imm`.
fn endian(word: &str) -> Option<(u8, i32)> {
    let (code, bits) = if let Some(b) = word.strip_prefix("bswap") {
        (op::ALU64 | op::END | op::TO_LE, b)
    } else if let Some(b) = word.strip_prefix("be") {
        (op::ALU | op::END | op::TO_BE, b)
    } else {
        (op::ALU | op::END | op::TO_LE, word.strip_prefix("le")?)
    };
    // Only 16, 32 and 64 are valid, but the printer shows any `imm`.
    if bits.is_empty() || bits.len() > 10 || !bits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let bits = bits.parse::<i32>().ok()?;
    Some((code, bits))
}

/// `rS = atomic[64]_fetch_OP((SIZE *)(rD OFF), rS)`,
/// `rS = atomic[64]_xchg((SIZE *)(rD OFF), rS)` and
/// `r0 = atomic[64]_cmpxchg((SIZE *)(rD OFF), r0, rS)`; `rest` is the word
/// after `atomic`.
fn fetching_atomic(
    cur: &mut Cursor<'_>,
    lhs: Reg,
    rest: &str,
    at: usize,
) -> Result<Stmt, AsmError> {
    let (wide, name) = match rest.strip_prefix("64_") {
        Some(n) => (true, n),
        None => (false, rest.strip_prefix('_').unwrap_or("")),
    };
    let imm = match name {
        "fetch_add" => i32::from(op::ADD) | op::FETCH,
        "fetch_and" => i32::from(op::AND) | op::FETCH,
        "fetch_or" => i32::from(op::OR) | op::FETCH,
        "fetch_xor" => i32::from(op::XOR) | op::FETCH,
        "xchg" => op::XCHG,
        "cmpxchg" => op::CMPXCHG,
        _ => {
            cur.reset(at);
            return Err(cur.expected(
                "an atomic operation (atomic[64]_fetch_add/and/or/xor, atomic[64]_xchg, atomic[64]_cmpxchg)",
            ));
        }
    };
    cur.expect("(")?;
    let size_at = cur.here();
    let size = unsigned_size_cast(cur)?;
    // The printer adds `64` exactly for double words; LLVM never does, so
    // only a `64` on a narrower access is contradictory.
    if wide && size != op::DW {
        return Err(cur.error_at(size_at, "`atomic64_` operations access (u64 *)"));
    }
    let (dst, off) = address(cur)?;
    cur.expect(",")?;
    if imm == op::CMPXCHG {
        let r0_at = cur.here();
        let r0 = cur.expect_reg()?;
        same_reg(cur, r0_at, r0.no, 0, "cmpxchg compares with r0")?;
        same_reg(cur, at, lhs.no, 0, "cmpxchg returns the old value in r0")?;
        cur.expect(",")?;
    }
    let src_at = cur.here();
    let src = cur.expect_reg()?;
    if imm != op::CMPXCHG {
        same_reg(
            cur,
            src_at,
            src.no,
            lhs.no,
            "the fetched value replaces the source register",
        )?;
    }
    cur.expect(")")?;
    let code = op::STX | op::ATOMIC | size;
    Ok(Stmt::single(RawInsn::new(code, dst, src.no, off, imm)))
}
