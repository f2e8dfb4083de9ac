//! The verifier's encoding checks, with the kernel's exact messages.
//!
//! The kernel interleaves encoding checks with register-state checks, so
//! they are split here by *when* the kernel performs them; the verifier calls
//! each at its point:
//!
//! 1. [`check_prepass`] — the load-time loop of `resolve_pseudo_ldimm64`
//!    over all slots, before any path is walked: `BPF_LDX uses reserved
//!    fields` (and, before 5.12, `BPF_STX uses reserved fields`), the
//!    `ld_imm64` pair ([`check_ld_imm64_pair`]) and `unknown opcode %02x`
//!    ([`opcode_in_insntable`]).
//! 2. [`check_fields`] — on each visit in `do_check`, before the first
//!    `check_reg_arg`: reserved fields, invalid opcodes, atomic opcode and
//!    size, `may_goto` operands, `ld_imm` size. For `BPF_LD_[ABS|IND]` the
//!    kernel first rejects program types without skb access and use inside
//!    callbacks; for `addr_space_cast` it checks the program's arena after
//!    the immediate. Those are program facts and stay with the verifier.
//! 3. [`check_reg`] — the encoding half of every `check_reg_arg` call
//!    (`R%d is invalid`, `frame pointer is read only`); its state half
//!    (`R%d !read_ok`) is the verifier's. [`reg_args`] lists the calls an
//!    instruction makes, in order.
//! 4. [`check_jmp_operand_fields`] — conditional jumps check their reserved
//!    fields only after reading `dst_reg` (before 6.1: before reading any
//!    register, see [`IsaFeatures::jmp_dst_first`]).
//! 5. [`check_alu_imm`] — `div by zero` and `invalid shift %d`, after the
//!    operand registers were read.
//!
//! [`check_all_fields`] runs 2–5 in kernel order for one instruction,
//! assuming every state check in between passes.

use bpfcheck_uapi::{RawInsn, RegNo, op};

use crate::error::{InsnError, InsnErrorKind};
use crate::features::IsaFeatures;
use crate::table::opcode_in_insntable;

/// How `check_reg_arg` uses a register.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RegArg {
    /// `SRC_OP`: read.
    Src,
    /// `DST_OP`: written, old value discarded.
    Dst,
    /// `DST_OP_NO_MARK`: written later by the instruction's own logic.
    DstNoMark,
}

/// The slot at `idx`, or an [`InsnErrorKind::OutOfRange`] error.
pub(crate) fn slot(insns: &[RawInsn], idx: usize) -> Result<RawInsn, InsnError> {
    insns.get(idx).copied().ok_or_else(|| {
        InsnError::new(
            InsnErrorKind::OutOfRange,
            idx,
            format!(
                "insn {idx} is past the end of the program ({} insns)",
                insns.len()
            ),
        )
    })
}

/// `resolve_pseudo_ldimm64`'s check of a `BPF_LD | BPF_IMM | BPF_DW` at
/// `idx`: a second slot with zero code, registers and offset must follow
/// (`invalid bpf_ld_imm64 insn`), and the pseudo source must be one the
/// kernel knows, map fd/idx sources with a zero second immediate
/// (`unrecognized bpf_ld_imm64 insn`). Instructions of other codes pass.
pub fn check_ld_imm64_pair(
    insns: &[RawInsn],
    idx: usize,
    feats: &IsaFeatures,
) -> Result<(), InsnError> {
    let first = slot(insns, idx)?;
    if first.code != op::LD | op::IMM | op::DW {
        return Ok(());
    }
    let second = match insns.get(idx + 1) {
        Some(s) if s.code == 0 && s.dst == 0 && s.src == 0 && s.off == 0 => *s,
        _ => {
            return Err(InsnError::new(
                InsnErrorKind::InvalidLdImm64,
                idx,
                "invalid bpf_ld_imm64 insn",
            ));
        }
    };
    let known = match first.src {
        0 => true,
        op::PSEUDO_BTF_ID => feats.pseudo_btf_id,
        op::PSEUDO_FUNC => feats.pseudo_func,
        op::PSEUDO_MAP_VALUE => true,
        op::PSEUDO_MAP_IDX_VALUE => feats.fd_array_idx,
        op::PSEUDO_MAP_FD => second.imm == 0,
        op::PSEUDO_MAP_IDX => feats.fd_array_idx && second.imm == 0,
        _ => false,
    };
    if known {
        Ok(())
    } else {
        Err(InsnError::new(
            InsnErrorKind::UnrecognizedLdImm64,
            idx,
            "unrecognized bpf_ld_imm64 insn",
        ))
    }
}

/// One iteration of `resolve_pseudo_ldimm64`'s load-time loop at `idx`, in
/// its order: `BPF_LDX uses reserved fields`, on kernels before 5.12's
/// atomics `BPF_STX uses reserved fields`, the `ld_imm64` pair, then
/// `unknown opcode %02x`. Returns the number of slots the kernel steps
/// over (2 for `ld_imm64`, whose second slot is never checked as an opcode).
pub fn check_prepass(
    insns: &[RawInsn],
    idx: usize,
    feats: &IsaFeatures,
) -> Result<usize, InsnError> {
    let raw = slot(insns, idx)?;
    if feats.fields_at_load {
        return check_at_load(insns, idx, raw, feats);
    }
    if raw.class() == op::LDX {
        let mode = op::mode(raw.code);
        let mode_ok = mode == op::MEM || (feats.cpu_v4 && mode == op::MEMSX);
        if !mode_ok || raw.imm != 0 {
            return Err(InsnError::reserved(idx, "BPF_LDX"));
        }
    }
    // In the BPF_XADD era `imm` of every store was reserved, and the
    // load-time loop checked it for all of them; since 5.12 `imm` selects
    // the atomic operation and `do_check` checks stores one by one.
    if raw.class() == op::STX && !feats.atomics {
        let mode = op::mode(raw.code);
        if (mode != op::MEM && mode != op::ATOMIC) || raw.imm != 0 {
            return Err(InsnError::reserved(idx, "BPF_STX"));
        }
    }
    if raw.code == op::LD | op::IMM | op::DW {
        check_ld_imm64_pair(insns, idx, feats)?;
        return Ok(2);
    }
    if !opcode_in_insntable(raw.code, feats) {
        return Err(InsnError::new(
            InsnErrorKind::UnknownOpcode,
            idx,
            format!("unknown opcode {:02x}", raw.code),
        ));
    }
    Ok(1)
}

/// 7.x's load-time loop: register numbers (but the stack-argument forms
/// that name `BPF_REG_PARAMS`), the `ld_imm64` pair and its reserved `off`,
/// the opcode table, then the class's reserved fields (none for atomics).
fn check_at_load(
    insns: &[RawInsn],
    idx: usize,
    raw: RawInsn,
    feats: &IsaFeatures,
) -> Result<usize, InsnError> {
    const PARAMS: u8 = RegNo::COUNT as u8;
    let dw_mem = |class: u8| raw.code == class | op::MEM | op::DW && raw.off % 8 == 0;
    let stack_arg_store = raw.dst == PARAMS && raw.off < 0 && (dw_mem(op::ST) || dw_mem(op::STX));
    let stack_arg_load = raw.src == PARAMS && raw.off > 0 && dw_mem(op::LDX);
    for (reg, exempt) in [(raw.dst, stack_arg_store), (raw.src, stack_arg_load)] {
        if !RegNo(reg).is_valid() && !exempt {
            return Err(InsnError::new(
                InsnErrorKind::InvalidRegister,
                idx,
                format!("R{reg} is invalid"),
            ));
        }
    }
    if raw.code == op::LD | op::IMM | op::DW {
        check_ld_imm64_pair(insns, idx, feats)?;
        if raw.off != 0 {
            return Err(InsnError::reserved(idx, "BPF_LD_IMM64"));
        }
        return Ok(2);
    }
    if !opcode_in_insntable(raw.code, feats) {
        return Err(InsnError::new(
            InsnErrorKind::UnknownOpcode,
            idx,
            format!("unknown opcode {:02x}", raw.code),
        ));
    }
    if raw.class() == op::LDX {
        let mode = op::mode(raw.code);
        if (mode != op::MEM && mode != op::MEMSX) || raw.imm != 0 {
            return Err(InsnError::reserved(idx, "BPF_LDX"));
        }
    }
    // An atomic's operation and size are left to `check_atomic` in
    // `do_check`, on the paths that reach it.
    if raw.class() == op::STX && op::mode(raw.code) == op::ATOMIC {
        return Ok(1);
    }
    check_fields(insns, idx, feats)?;
    check_jmp_operand_fields(&raw, idx)?;
    Ok(1)
}

/// The checks `do_check` makes on the instruction at `idx` before it
/// consults any register state, in the kernel's order (see the module docs
/// for what comes later).
pub fn check_fields(insns: &[RawInsn], idx: usize, feats: &IsaFeatures) -> Result<(), InsnError> {
    let raw = slot(insns, idx)?;
    match raw.class() {
        op::ALU | op::ALU64 => alu_fields(raw, idx, feats),
        // The LDX reserved fields are checked in the pre-pass only.
        op::LDX => Ok(()),
        op::STX => stx_fields(raw, idx, feats),
        op::ST => {
            if op::mode(raw.code) != op::MEM || raw.src != 0 {
                return Err(InsnError::reserved(idx, "BPF_ST"));
            }
            Ok(())
        }
        op::JMP | op::JMP32 => jmp_fields(raw, idx, feats),
        _ => ld_fields(raw, idx),
    }
}

fn alu_fields(raw: RawInsn, idx: usize, feats: &IsaFeatures) -> Result<(), InsnError> {
    let opb = op::alu_op(raw.code);
    let reg_src = op::src(raw.code) == op::X;
    let alu64 = raw.class() == op::ALU64;
    match opb {
        op::NEG => {
            if reg_src || raw.src != 0 || raw.off != 0 || raw.imm != 0 {
                return Err(InsnError::reserved(idx, "BPF_NEG"));
            }
        }
        op::END => {
            // ALU64 | END is bswap since cpu v4, which has no BE form.
            let class_ok = !alu64 || (feats.cpu_v4 && !reg_src);
            if raw.src != 0 || raw.off != 0 || !matches!(raw.imm, 16 | 32 | 64) || !class_ok {
                return Err(InsnError::reserved(idx, "BPF_END"));
            }
        }
        op::MOV if reg_src => {
            if alu64 && feats.addr_space_cast && raw.off == 1 {
                if raw.imm != 1 && raw.imm != 1 << 16 {
                    return Err(InsnError::new(
                        InsnErrorKind::InvalidAddrSpaceCast,
                        idx,
                        "addr_space_cast insn can only convert between address space 1 and 0",
                    ));
                }
                return Ok(());
            }
            // movsx: 8/16 for both widths, 32 only for ALU64.
            let sx_ok = feats.cpu_v4 && (raw.off == 8 || raw.off == 16 || (alu64 && raw.off == 32));
            if (raw.off != 0 && !sx_ok) || raw.imm != 0 {
                return Err(InsnError::reserved(idx, "BPF_MOV"));
            }
        }
        op::MOV => {
            if raw.src != 0 || raw.off != 0 {
                return Err(InsnError::reserved(idx, "BPF_MOV"));
            }
        }
        _ if opb > op::END => {
            return Err(InsnError::new(
                InsnErrorKind::InvalidAluOpcode,
                idx,
                format!("invalid BPF_ALU opcode {opb:x}"),
            ));
        }
        _ => {
            let signed_div = feats.cpu_v4 && raw.off == 1 && (opb == op::DIV || opb == op::MOD);
            let off_ok = raw.off == 0 || signed_div;
            let other_ok = if reg_src { raw.imm == 0 } else { raw.src == 0 };
            if !off_ok || !other_ok {
                return Err(InsnError::reserved(idx, "BPF_ALU"));
            }
        }
    }
    Ok(())
}

fn stx_fields(raw: RawInsn, idx: usize, feats: &IsaFeatures) -> Result<(), InsnError> {
    if op::mode(raw.code) != op::ATOMIC {
        // Before 5.12 `do_check` does not look at a plain store's fields:
        // the pre-pass has checked them.
        if !feats.atomics {
            return Ok(());
        }
        if op::mode(raw.code) != op::MEM || raw.imm != 0 {
            return Err(InsnError::reserved(idx, "BPF_STX"));
        }
        return Ok(());
    }
    let size = op::size(raw.code);
    if !feats.atomics {
        // Before 5.12 this mode was BPF_XADD: add only, W and DW only.
        // (The pre-pass has already refused a non-zero `imm` and the
        // opcode table the other sizes, so on a real load this never
        // fires; it is `check_xadd`'s own check.)
        if (size != op::W && size != op::DW) || raw.imm != 0 {
            return Err(InsnError::reserved(idx, "BPF_XADD"));
        }
        return Ok(());
    }
    let known = crate::table::AtomicOp::from_bits(raw.imm)
        .filter(|a| a.is_rmw() || feats.load_acquire_store_release);
    match known {
        None => Err(InsnError::new(
            InsnErrorKind::InvalidAtomicOpcode,
            idx,
            format!("BPF_ATOMIC uses invalid atomic opcode {:02x}", raw.imm),
        )),
        Some(a) if a.is_rmw() && size != op::W && size != op::DW => Err(InsnError::new(
            InsnErrorKind::InvalidAtomicSize,
            idx,
            "invalid atomic operand size",
        )),
        Some(_) => Ok(()),
    }
}

fn jmp_fields(raw: RawInsn, idx: usize, feats: &IsaFeatures) -> Result<(), InsnError> {
    let opb = op::alu_op(raw.code);
    let reg_src = op::src(raw.code) == op::X;
    let jmp32 = raw.class() == op::JMP32;
    match opb {
        op::CALL => {
            let kfunc = feats.kfunc_calls && raw.src == op::PSEUDO_KFUNC_CALL;
            let src_ok = raw.src == 0 || raw.src == op::PSEUDO_CALL || kfunc;
            // `off` selects the module BTF of a kfunc (5.18+); else reserved.
            let off_ok =
                raw.off == 0 || (raw.src == op::PSEUDO_KFUNC_CALL && feats.kfunc_module_btf);
            if reg_src || !off_ok || !src_ok || raw.dst != 0 || jmp32 {
                return Err(InsnError::reserved(idx, "BPF_CALL"));
            }
        }
        op::JA if reg_src && feats.gotox => {
            if raw.src != 0 || raw.imm != 0 || raw.off != 0 {
                return Err(InsnError::reserved(idx, "BPF_JA|BPF_X"));
            }
        }
        op::JA => {
            let target_ok = if jmp32 {
                feats.gotol && raw.off == 0
            } else {
                raw.imm == 0
            };
            if reg_src || raw.src != 0 || raw.dst != 0 || !target_ok {
                return Err(InsnError::reserved(idx, "BPF_JA"));
            }
        }
        op::EXIT => {
            if reg_src || raw.imm != 0 || raw.src != 0 || raw.dst != 0 || jmp32 {
                return Err(InsnError::reserved(idx, "BPF_EXIT"));
            }
        }
        _ => {
            let last = if feats.may_goto { op::JCOND } else { op::JSLE };
            if opb > last {
                return Err(InsnError::new(
                    InsnErrorKind::InvalidJmpOpcode,
                    idx,
                    format!("invalid BPF_JMP/JMP32 opcode {opb:x}"),
                ));
            }
            if opb == op::JCOND
                && (raw.code != op::JMP | op::JCOND
                    || raw.src != op::MAY_GOTO
                    || raw.dst != 0
                    || raw.imm != 0
                    || (raw.off == 0 && !feats.may_goto_off_zero))
            {
                let message = if feats.may_goto_off_zero {
                    format!("invalid may_goto imm {}", raw.imm)
                } else {
                    format!("invalid may_goto off {} imm {}", raw.off, raw.imm)
                };
                return Err(InsnError::new(InsnErrorKind::InvalidMayGoto, idx, message));
            }
        }
    }
    Ok(())
}

fn ld_fields(raw: RawInsn, idx: usize) -> Result<(), InsnError> {
    let mode = op::mode(raw.code);
    if mode == op::ABS || mode == op::IND {
        if raw.dst != 0
            || raw.off != 0
            || op::size(raw.code) == op::DW
            || (mode == op::ABS && raw.src != 0)
        {
            return Err(InsnError::reserved(idx, "BPF_LD_[ABS|IND]"));
        }
    } else if mode == op::IMM {
        if op::size(raw.code) != op::DW {
            return Err(InsnError::new(
                InsnErrorKind::InvalidLdImm,
                idx,
                "invalid BPF_LD_IMM insn",
            ));
        }
        if raw.off != 0 {
            return Err(InsnError::reserved(idx, "BPF_LD_IMM64"));
        }
    } else {
        return Err(InsnError::new(
            InsnErrorKind::InvalidLdMode,
            idx,
            "invalid BPF_LD mode",
        ));
    }
    Ok(())
}

/// The encoding half of the kernel's `check_reg_arg(regno, t)` for the
/// instruction at `idx`: `R%d is invalid` for registers past R10, and
/// `frame pointer is read only` for writes to R10.
pub fn check_reg(idx: usize, reg: u8, arg: RegArg) -> Result<(), InsnError> {
    if !RegNo(reg).is_valid() {
        return Err(InsnError::new(
            InsnErrorKind::InvalidRegister,
            idx,
            format!("R{reg} is invalid"),
        ));
    }
    if arg != RegArg::Src && RegNo(reg) == RegNo::FP {
        return Err(InsnError::new(
            InsnErrorKind::FramePointerReadOnly,
            idx,
            "frame pointer is read only",
        ));
    }
    Ok(())
}

/// Conditional jumps' reserved fields, which the kernel checks after
/// `check_reg_arg(dst_reg, SRC_OP)`: a register compare must have `imm == 0`,
/// an immediate compare `src_reg == 0`. Other instructions pass.
pub fn check_jmp_operand_fields(raw: &RawInsn, idx: usize) -> Result<(), InsnError> {
    if !is_cond_jmp(raw) {
        return Ok(());
    }
    let bad = if op::src(raw.code) == op::X {
        raw.imm != 0
    } else {
        raw.src != 0
    };
    if bad {
        return Err(InsnError::reserved(idx, "BPF_JMP/JMP32"));
    }
    Ok(())
}

fn is_cond_jmp(raw: &RawInsn) -> bool {
    matches!(raw.class(), op::JMP | op::JMP32)
        && !matches!(
            op::alu_op(raw.code),
            op::JA | op::CALL | op::EXIT | op::JCOND
        )
}

fn is_binary_alu(raw: &RawInsn) -> bool {
    matches!(raw.class(), op::ALU | op::ALU64)
        && !matches!(op::alu_op(raw.code), op::NEG | op::END | op::MOV)
        && op::alu_op(raw.code) <= op::END
}

/// `div by zero` and `invalid shift %d`, which the kernel checks for
/// immediate ALU operands after reading the operand registers. Other
/// instructions pass.
pub fn check_alu_imm(raw: &RawInsn, idx: usize) -> Result<(), InsnError> {
    if !is_binary_alu(raw) || op::src(raw.code) != op::K {
        return Ok(());
    }
    let opb = op::alu_op(raw.code);
    if (opb == op::DIV || opb == op::MOD) && raw.imm == 0 {
        return Err(InsnError::new(InsnErrorKind::DivByZero, idx, "div by zero"));
    }
    if matches!(opb, op::LSH | op::RSH | op::ARSH) {
        let bits = if raw.class() == op::ALU64 { 64 } else { 32 };
        if raw.imm < 0 || raw.imm >= bits {
            return Err(InsnError::new(
                InsnErrorKind::InvalidShift,
                idx,
                format!("invalid shift {}", raw.imm),
            ));
        }
    }
    Ok(())
}

/// A point in an instruction's check sequence.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CheckStep {
    /// `check_reg_arg(reg, arg)`.
    Reg(u8, RegArg),
    /// [`check_jmp_operand_fields`].
    JmpOperandFields,
    /// [`check_alu_imm`].
    AluImm,
}

/// The register reads/writes (and late encoding checks) the kernel performs
/// for `raw` after [`check_fields`] passed, in order. State checks the
/// kernel interleaves (`!read_ok`, pointer leaks, memory access) are not
/// listed; the verifier runs them between these steps. Calls list nothing:
/// their argument registers depend on the callee's prototype.
pub fn reg_args(raw: &RawInsn, feats: &IsaFeatures) -> Vec<CheckStep> {
    use CheckStep::{AluImm, JmpOperandFields, Reg};
    use RegArg::{Dst, DstNoMark, Src};
    let (dst, src) = (raw.dst, raw.src);
    let opb = op::alu_op(raw.code);
    let reg_src = op::src(raw.code) == op::X;
    match raw.class() {
        op::ALU | op::ALU64 => match opb {
            op::NEG | op::END => vec![Reg(dst, Src), Reg(dst, Dst)],
            op::MOV if reg_src => vec![Reg(src, Src), Reg(dst, DstNoMark)],
            op::MOV => vec![Reg(dst, DstNoMark)],
            _ if reg_src => vec![Reg(src, Src), Reg(dst, Src), AluImm, Reg(dst, DstNoMark)],
            _ => vec![Reg(dst, Src), AluImm, Reg(dst, DstNoMark)],
        },
        op::LDX => vec![Reg(src, Src), Reg(dst, DstNoMark)],
        op::STX if op::mode(raw.code) == op::ATOMIC => {
            match crate::table::AtomicOp::from_bits(raw.imm) {
                _ if !feats.atomics => vec![Reg(src, Src), Reg(dst, Src)],
                Some(crate::table::AtomicOp::LoadAcquire) => {
                    vec![Reg(src, Src), Reg(dst, DstNoMark)]
                }
                Some(crate::table::AtomicOp::StoreRelease) => vec![Reg(src, Src), Reg(dst, Src)],
                Some(crate::table::AtomicOp::Cmpxchg) => {
                    vec![Reg(src, Src), Reg(dst, Src), Reg(0, Src), Reg(0, Dst)]
                }
                Some(a) if a.fetches() => vec![Reg(src, Src), Reg(dst, Src), Reg(src, Dst)],
                _ => vec![Reg(src, Src), Reg(dst, Src)],
            }
        }
        op::STX => vec![Reg(src, Src), Reg(dst, Src)],
        op::ST => vec![Reg(dst, Src)],
        op::JMP | op::JMP32 if is_cond_jmp(raw) => {
            let mut steps = Vec::with_capacity(3);
            if feats.jmp_dst_first {
                steps.push(Reg(dst, Src));
            }
            steps.push(JmpOperandFields);
            if reg_src {
                steps.push(Reg(src, Src));
            }
            if !feats.jmp_dst_first {
                steps.push(Reg(dst, Src));
            }
            steps
        }
        op::JMP | op::JMP32 => Vec::new(),
        _ => match op::mode(raw.code) {
            op::ABS => vec![Reg(6, Src)],
            op::IND => vec![Reg(6, Src), Reg(src, Src)],
            _ => vec![Reg(dst, Dst)],
        },
    }
}

/// Every encoding check `do_check` makes on the instruction at `idx`, in
/// kernel order, as if every register-state check in between passed:
/// [`check_fields`], then the steps of [`reg_args`]. The load-time
/// [`check_prepass`] is not included (the kernel runs it over the whole
/// program first).
pub fn check_all_fields(
    insns: &[RawInsn],
    idx: usize,
    feats: &IsaFeatures,
) -> Result<(), InsnError> {
    check_fields(insns, idx, feats)?;
    let raw = slot(insns, idx)?;
    for step in reg_args(&raw, feats) {
        match step {
            CheckStep::Reg(r, arg) => check_reg(idx, r, arg)?,
            CheckStep::JmpOperandFields => check_jmp_operand_fields(&raw, idx)?,
            CheckStep::AluImm => check_alu_imm(&raw, idx)?,
        }
    }
    Ok(())
}
