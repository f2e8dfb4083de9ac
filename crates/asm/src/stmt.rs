//! One instruction statement: the text of a `print_bpf_insn` line (without
//! its index and opcode prefix) to one or two encoded slots, with any jump
//! or call target left symbolic until every label is known.

use bpfcheck_uapi::{RawInsn, op};

use crate::cursor::{Cursor, Reg, Width, wrap_i32};
use crate::{AsmError, SymKind};

/// Where a jump, call or `func(...)` points, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// `pc+N`, `+N`, `-N`: relative to the next slot.
    Rel(i128),
    /// A label, with the byte offset where it was written (for errors).
    Label(String, usize),
}

/// The part of an instruction that depends on label positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fixup {
    /// Nothing to resolve.
    None,
    /// The 16-bit `off` of the first slot holds the relative target.
    Off(Target),
    /// The 32-bit `imm` of the first slot holds the relative target.
    Imm(Target),
    /// `call NAME`: a bpf-to-bpf call if NAME is a label, else a helper
    /// call by name.
    CallName(String, usize),
    /// `call kfunc(NAME)`, `btf_id(NAME)`: the `imm` of the first slot is
    /// the BTF id of a kernel symbol, left for a kernel's BTF to supply.
    Kernel(String, usize, SymKind),
}

/// A parsed statement: its slots and what is still to resolve.
#[derive(Clone, Debug)]
pub(crate) struct Stmt {
    /// One slot, or two for `ld_imm64`.
    pub(crate) slots: Vec<RawInsn>,
    /// Pending target.
    pub(crate) fixup: Fixup,
}

impl Stmt {
    fn one(insn: RawInsn) -> Self {
        Self {
            slots: vec![insn],
            fixup: Fixup::None,
        }
    }

    fn with(insn: RawInsn, fixup: Fixup) -> Self {
        Self {
            slots: vec![insn],
            fixup,
        }
    }

    fn wide(first: RawInsn, second_imm: i32, fixup: Fixup) -> Self {
        Self {
            slots: vec![first, RawInsn::new(0, 0, 0, 0, second_imm)],
            fixup,
        }
    }
}

/// ALU compound assignments, longer spellings before their prefixes. The
/// flag marks the signed `s/=` / `s%=` forms, encoded with `off = 1`.
const ALU_OPS: &[(&str, (u8, bool))] = &[
    ("s>>=", (op::ARSH, false)),
    ("s/=", (op::DIV, true)),
    ("s%=", (op::MOD, true)),
    ("<<=", (op::LSH, false)),
    (">>=", (op::RSH, false)),
    ("+=", (op::ADD, false)),
    ("-=", (op::SUB, false)),
    ("*=", (op::MUL, false)),
    ("/=", (op::DIV, false)),
    ("|=", (op::OR, false)),
    ("&=", (op::AND, false)),
    ("%=", (op::MOD, false)),
    ("^=", (op::XOR, false)),
];

/// Conditional jump operators, longer spellings first. `jmp` is how the
/// printer shows the (invalid) `BPF_JA | BPF_X` and JMP32 `BPF_JA` codes in
/// an `if`.
const JMP_OPS: &[(&str, u8)] = &[
    ("s>=", op::JSGE),
    ("s<=", op::JSLE),
    ("s>", op::JSGT),
    ("s<", op::JSLT),
    ("==", op::JEQ),
    ("!=", op::JNE),
    (">=", op::JGE),
    ("<=", op::JLE),
    (">", op::JGT),
    ("<", op::JLT),
    ("&", op::JSET),
    ("jmp", op::JA),
];

/// Atomic read-modify-write operators of `lock *(..) OP= rS`.
const LOCK_OPS: &[(&str, u8)] = &[
    ("+=", op::ADD),
    ("&=", op::AND),
    ("|=", op::OR),
    ("^=", op::XOR),
];

/// Access size of a `*(SIZE *)` or `(SIZE *)` cast: size bits and whether
/// the load sign-extends.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Size {
    pub(crate) bits: u8,
    pub(crate) signed: bool,
}

fn size_of_name(name: &str) -> Option<Size> {
    let (bits, signed) = match name {
        "u8" => (op::B, false),
        "u16" => (op::H, false),
        "u32" => (op::W, false),
        "u64" => (op::DW, false),
        "s8" => (op::B, true),
        "s16" => (op::H, true),
        "s32" => (op::W, true),
        _ => return None,
    };
    Some(Size { bits, signed })
}

/// Parses `(SIZE *)`.
pub(crate) fn size_cast(cur: &mut Cursor<'_>) -> Result<Size, AsmError> {
    cur.expect("(")?;
    let at = cur.here();
    let size = cur.ident().and_then(size_of_name).ok_or_else(|| {
        cur.error_at(
            at,
            "expected an access size (u8, u16, u32, u64, s8, s16, s32)",
        )
    })?;
    cur.expect("*")?;
    cur.expect(")")?;
    Ok(size)
}

/// Like [`size_cast`], for accesses that cannot sign-extend.
pub(crate) fn unsigned_size_cast(cur: &mut Cursor<'_>) -> Result<u8, AsmError> {
    let at = cur.here();
    let size = size_cast(cur)?;
    if size.signed {
        return Err(cur.error_at(
            at,
            "sign-extending sizes (s8, s16, s32) exist only for loads",
        ));
    }
    Ok(size.bits)
}

/// Parses `(rN +OFF)`, `(rN - 8)` or `(rN)`.
pub(crate) fn address(cur: &mut Cursor<'_>) -> Result<(u8, i16), AsmError> {
    cur.expect("(")?;
    let base = cur.expect_reg64()?;
    let off = if cur.eat(")") {
        return Ok((base, 0));
    } else {
        cur.off16("an offset (+N or -N)")?
    };
    cur.expect(")")?;
    Ok((base, off))
}

/// Parses a jump or call target: `pc+N`, `+N`, `-N` or a label.
pub(crate) fn target(cur: &mut Cursor<'_>) -> Result<Target, AsmError> {
    if cur.eat("pc") {
        return cur
            .expect_number("a relative offset after `pc` (pc+N or pc-N)")
            .map(Target::Rel);
    }
    if let Some(n) = cur.number() {
        return Ok(Target::Rel(n));
    }
    let at = cur.here();
    match cur.ident() {
        Some(name) => Ok(Target::Label(name.to_owned(), at)),
        None => Err(cur.expected("a jump target (pc+N, pc-N or a label)")),
    }
}

pub(crate) fn class_of(width: Width, narrow: u8, wide: u8) -> u8 {
    match width {
        Width::R64 => wide,
        Width::W32 => narrow,
    }
}

/// Requires `reg` to be written with the same width letter as `like`.
pub(crate) fn same_width(
    cur: &Cursor<'_>,
    at: usize,
    reg: Reg,
    like: Width,
) -> Result<(), AsmError> {
    if reg.width == like {
        return Ok(());
    }
    let want = match like {
        Width::R64 => 'r',
        Width::W32 => 'w',
    };
    Err(cur.error_at(
        at,
        format!(
            "expected {want}{}: both operands must have the same width",
            reg.no
        ),
    ))
}

/// Requires the same register number to appear where the printer repeats it.
pub(crate) fn same_reg(
    cur: &Cursor<'_>,
    at: usize,
    got: u8,
    want: u8,
    why: &str,
) -> Result<(), AsmError> {
    if got == want {
        Ok(())
    } else {
        Err(cur.error_at(at, format!("expected r{want} here ({why}), found r{got}")))
    }
}

/// Parses one statement (the cursor is after any index/opcode prefix and
/// label) and requires the line to end after it.
pub(crate) fn parse(cur: &mut Cursor<'_>) -> Result<Stmt, AsmError> {
    let stmt = parse_inner(cur)?;
    cur.finish()?;
    Ok(stmt)
}

fn parse_inner(cur: &mut Cursor<'_>) -> Result<Stmt, AsmError> {
    if cur.eat(".insn") {
        return raw_insn(cur);
    }
    if cur.eat("exit") {
        return Ok(Stmt::one(RawInsn::new(op::JMP | op::EXIT, 0, 0, 0, 0)));
    }
    if cur.eat("nospec") {
        // `BPF_ST | BPF_NOSPEC`: only the kernel inserts it, but it prints.
        return Ok(Stmt::one(RawInsn::new(op::ST | 0xc0, 0, 0, 0, 0)));
    }
    if cur.eat("gotol") {
        let t = target(cur)?;
        return Ok(Stmt::with(
            RawInsn::new(op::JMP32 | op::JA, 0, 0, 0, 0),
            Fixup::Imm(t),
        ));
    }
    if cur.eat("gotox") {
        let dst = cur.expect_reg64()?;
        return Ok(Stmt::one(RawInsn::new(
            op::JMP | op::JA | op::X,
            dst,
            0,
            0,
            0,
        )));
    }
    if cur.eat("goto") {
        let t = target(cur)?;
        return Ok(Stmt::with(
            RawInsn::new(op::JMP | op::JA, 0, 0, 0, 0),
            Fixup::Off(t),
        ));
    }
    if cur.eat("may_goto") {
        let t = target(cur)?;
        let code = op::JMP | op::JCOND;
        return Ok(Stmt::with(
            RawInsn::new(code, 0, op::MAY_GOTO, 0, 0),
            Fixup::Off(t),
        ));
    }
    if cur.eat("call") {
        return call(cur);
    }
    if cur.eat("if") {
        return cond_jump(cur);
    }
    if cur.eat("lock") {
        return lock(cur);
    }
    if cur.eat("store_release") {
        cur.expect("(")?;
        let size = unsigned_size_cast(cur)?;
        let (dst, off) = address(cur)?;
        cur.expect(",")?;
        let src = cur.expect_reg()?;
        cur.expect(")")?;
        let code = op::STX | op::ATOMIC | size;
        return Ok(Stmt::one(RawInsn::new(
            code,
            dst,
            src.no,
            off,
            op::STORE_REL,
        )));
    }
    if cur.eat("*") {
        return store(cur);
    }
    let at = cur.here();
    match cur.reg() {
        Some(dst) => assignment(cur, dst),
        None => {
            cur.reset(at);
            Err(cur.expected("an instruction"))
        }
    }
}

/// `.insn CODE DST SRC OFF IMM`: one slot with any field values.
fn raw_insn(cur: &mut Cursor<'_>) -> Result<Stmt, AsmError> {
    let code = cur.number_in("opcode", 0, 0xff)?;
    let mut reg_field = |what: &str| -> Result<u8, AsmError> {
        if let Some(r) = cur.reg() {
            return Ok(r.no);
        }
        let v = cur.number_in(what, 0, 15)?;
        Ok(u8::try_from(v).unwrap_or_default())
    };
    let dst = reg_field("dst register field")?;
    let src = reg_field("src register field")?;
    let off = cur.number_in("offset", i128::from(i16::MIN), i128::from(u16::MAX))?;
    let imm = cur.imm32("immediate")?;
    // Offsets may be given as their unsigned bit pattern, like immediates.
    let off = (off as u16) as i16;
    Ok(Stmt::one(RawInsn::new(
        u8::try_from(code).unwrap_or_default(),
        dst,
        src,
        off,
        imm,
    )))
}

/// `call bpf_name#ID`, `call pc+N`, `call kfunc(ID[, OFF])`,
/// `call kfunc(NAME)`, `call ID`, `call label` / `call helper_name`.
fn call(cur: &mut Cursor<'_>) -> Result<Stmt, AsmError> {
    let code = op::JMP | op::CALL;
    if cur.eat("pc") {
        let n = cur.expect_number("a relative offset after `pc` (pc+N or pc-N)")?;
        let t = Target::Rel(n);
        return Ok(Stmt::with(
            RawInsn::new(code, 0, op::PSEUDO_CALL, 0, 0),
            Fixup::Imm(t),
        ));
    }
    if cur.eat("kfunc") {
        cur.expect("(")?;
        let name_at = cur.here();
        if let Some(name) = cur.ident() {
            if cur.eat(",") {
                return Err(cur.error_at(
                    name_at,
                    "a kfunc named by NAME is one of vmlinux: write a module kfunc \
                     as kfunc(ID, OFF)",
                ));
            }
            cur.expect(")")?;
            return Ok(Stmt::with(
                RawInsn::new(code, 0, op::PSEUDO_KFUNC_CALL, 0, 0),
                Fixup::Kernel(name.to_owned(), name_at, SymKind::Func),
            ));
        }
        let id = cur.imm32("kfunc BTF id or kernel function name")?;
        let off = if cur.eat(",") {
            cur.off16("BTF fd_array index")?
        } else {
            0
        };
        cur.expect(")")?;
        return Ok(Stmt::one(RawInsn::new(
            code,
            0,
            op::PSEUDO_KFUNC_CALL,
            off,
            id,
        )));
    }
    if let Some(id) = cur.number() {
        let id = i32::try_from(id).map_err(|_| cur.expected("a helper id that fits in 32 bits"))?;
        return Ok(Stmt::one(RawInsn::new(code, 0, 0, 0, id)));
    }
    let at = cur.here();
    let Some(name) = cur.ident() else {
        return Err(cur.expected("a call target (helper name, pc+N, kfunc(ID) or a label)"));
    };
    if !cur.eat("#") {
        return Ok(Stmt::with(
            RawInsn::new(code, 0, 0, 0, 0),
            Fixup::CallName(name.to_owned(), at),
        ));
    }
    let id = cur.imm32("call id after `#`")?;
    let helper = bpfcheck_uapi::helper_name(id);
    let src = if name == "unknown" || helper == Some(name) {
        0
    } else if bpfcheck_uapi::helper_id(name).is_some() {
        return Err(cur.error_at(
            at,
            format!(
                "helper `{name}` has id {}, not {id}",
                bpfcheck_uapi::helper_id(name).unwrap_or_default()
            ),
        ));
    } else {
        // The verifier prints a kfunc call as its BTF name and id.
        op::PSEUDO_KFUNC_CALL
    };
    Ok(Stmt::one(RawInsn::new(code, 0, src, 0, id)))
}

/// `if rA OP (rB | IMM) goto TARGET`.
fn cond_jump(cur: &mut Cursor<'_>) -> Result<Stmt, AsmError> {
    let dst = cur.expect_reg()?;
    let class = class_of(dst.width, op::JMP32, op::JMP);
    let Some(opc) = cur.eat_one_of(JMP_OPS) else {
        return Err(cur.expected("a comparison (==, !=, >, >=, <, <=, s>, s>=, s<, s<=, &)"));
    };
    let at = cur.here();
    let (code, src, imm) = if let Some(src) = cur.reg() {
        same_width(cur, at, src, dst.width)?;
        (class | opc | op::X, src.no, 0)
    } else {
        (
            class | opc | op::K,
            0,
            cur.imm32("a register or 32-bit immediate")?,
        )
    };
    cur.expect("goto")?;
    let t = target(cur)?;
    Ok(Stmt::with(
        RawInsn::new(code, dst.no, src, 0, imm),
        Fixup::Off(t),
    ))
}

/// `lock *(SIZE *)(rD OFF) OP= rS`.
fn lock(cur: &mut Cursor<'_>) -> Result<Stmt, AsmError> {
    cur.expect("*")?;
    let size = unsigned_size_cast(cur)?;
    let (dst, off) = address(cur)?;
    let Some(alu) = cur.eat_one_of(LOCK_OPS) else {
        return Err(cur.expected("an atomic operator (+=, &=, |=, ^=)"));
    };
    let src = cur.expect_reg()?;
    let code = op::STX | op::ATOMIC | size;
    Ok(Stmt::one(RawInsn::new(
        code,
        dst,
        src.no,
        off,
        i32::from(alu),
    )))
}

/// `*(SIZE *)(rD OFF) = rS` (STX) or `= IMM` (ST).
fn store(cur: &mut Cursor<'_>) -> Result<Stmt, AsmError> {
    let size = unsigned_size_cast(cur)?;
    let (dst, off) = address(cur)?;
    cur.expect("=")?;
    if let Some(src) = cur.reg() {
        let code = op::STX | op::MEM | size;
        return Ok(Stmt::one(RawInsn::new(code, dst, src.no, off, 0)));
    }
    let imm = cur.imm32("a register or 32-bit immediate")?;
    Ok(Stmt::one(RawInsn::new(
        op::ST | op::MEM | size,
        dst,
        0,
        off,
        imm,
    )))
}

/// Everything that starts with a destination register.
fn assignment(cur: &mut Cursor<'_>, dst: Reg) -> Result<Stmt, AsmError> {
    let class = class_of(dst.width, op::ALU, op::ALU64);
    if let Some((alu, signed)) = cur.eat_one_of(ALU_OPS) {
        let off = i16::from(signed);
        let at = cur.here();
        if let Some(src) = cur.reg() {
            same_width(cur, at, src, dst.width)?;
            return Ok(Stmt::one(RawInsn::new(
                class | alu | op::X,
                dst.no,
                src.no,
                off,
                0,
            )));
        }
        let imm = cur.imm32("a register or 32-bit immediate")?;
        return Ok(Stmt::one(RawInsn::new(
            class | alu | op::K,
            dst.no,
            0,
            off,
            imm,
        )));
    }
    cur.expect("=")?;
    crate::rhs::value(cur, dst)
}

impl Stmt {
    /// A one-slot statement.
    pub(crate) fn single(insn: RawInsn) -> Self {
        Self::one(insn)
    }

    /// A two-slot `ld_imm64` whose second slot carries `second_imm`.
    pub(crate) fn ld_imm64(first: RawInsn, second_imm: i32, fixup: Fixup) -> Self {
        Self::wide(first, second_imm, fixup)
    }
}

/// Splits a 64-bit value into the two `imm` halves of `ld_imm64`.
pub(crate) fn split64(v: i128) -> (i32, i32) {
    let bits = v as u64;
    (
        wrap_i32(i128::from(bits as u32)),
        wrap_i32(i128::from(bits >> 32)),
    )
}
