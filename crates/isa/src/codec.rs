//! Decoding raw slots into [`Insn`] and encoding them back.
//!
//! The decoder accepts exactly the encodings the 6.18 verifier's encoding
//! checks accept ([`check_prepass`], [`check_fields`] and
//! [`check_jmp_operand_fields`] with [`IsaFeatures::V6_18`]), so every decoded
//! instruction re-encodes to the same bits. Checks that depend on values
//! rather than fields (`div by zero`, `invalid shift`, register numbers)
//! are not applied: such instructions are well-formed, just rejected later.

use bpfcheck_uapi::{RawInsn, RegNo, op};

use crate::check::{check_fields, check_jmp_operand_fields, check_prepass, slot};
use crate::error::{InsnError, InsnErrorKind};
use crate::features::IsaFeatures;
use crate::insn::{Call, Insn, Operand};
use crate::table::{AluOp, AtomicOp, Endian, PseudoSrc, Shape, Size, SwapBits, Width, opcode};

/// A decoded instruction and the slots it took.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Decoded {
    /// The instruction.
    pub insn: Insn,
    /// Slots consumed: 1, or 2 for `ld_imm64`.
    pub slots: usize,
}

/// The encoding of one instruction: one slot, or two for `ld_imm64`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Encoded {
    /// A single slot.
    One(RawInsn),
    /// `ld_imm64`'s two slots.
    Two([RawInsn; 2]),
}

impl Encoded {
    /// The slots, in program order.
    pub fn as_slice(&self) -> &[RawInsn] {
        match self {
            Self::One(r) => std::slice::from_ref(r),
            Self::Two(r) => r,
        }
    }
}

/// Decodes the instruction starting at slot `idx`.
pub fn decode(insns: &[RawInsn], idx: usize) -> Result<Decoded, InsnError> {
    let feats = IsaFeatures::V6_18;
    let slots = check_prepass(insns, idx, &feats)?;
    check_fields(insns, idx, &feats)?;
    let raw = slot(insns, idx)?;
    check_jmp_operand_fields(&raw, idx)?;
    // The checks above admit only table opcodes; a miss here would be a
    // table/check mismatch, reported rather than trusted.
    let shape = opcode(raw.code).map(|o| o.shape).ok_or_else(|| {
        InsnError::new(
            InsnErrorKind::UnknownOpcode,
            idx,
            format!("unknown opcode {:02x}", raw.code),
        )
    })?;
    let next_imm = insns.get(idx + 1).map_or(0, |n| n.imm);
    let insn = from_shape(shape, raw, next_imm).ok_or_else(|| {
        InsnError::new(
            InsnErrorKind::ReservedFields,
            idx,
            format!(
                "insn {:02x} passed the encoding checks but has no decoding",
                raw.code
            ),
        )
    })?;
    Ok(Decoded { insn, slots })
}

fn reg(n: u8) -> RegNo {
    RegNo(n)
}

fn from_shape(shape: Shape, raw: RawInsn, next_imm: i32) -> Option<Insn> {
    let (dst, src) = (reg(raw.dst), reg(raw.src));
    Some(match shape {
        Shape::Alu {
            width,
            op: bits,
            reg: true,
        } if bits == op::MOV && raw.off != 0 => {
            if width == Width::W64 && raw.off == 1 {
                let imm = raw.imm as u32;
                Insn::AddrSpaceCast {
                    dst,
                    src,
                    dst_as: (imm >> 16) as u16,
                    src_as: imm as u16,
                }
            } else {
                let from = match raw.off {
                    8 => Size::B,
                    16 => Size::H,
                    32 => Size::W,
                    _ => return None,
                };
                Insn::MovSx {
                    width,
                    from,
                    dst,
                    src,
                }
            }
        }
        Shape::Alu {
            width,
            op: bits,
            reg: is_reg,
        } => Insn::Alu {
            width,
            op: AluOp::from_code(bits, raw.off)?,
            dst,
            src: if is_reg {
                Operand::Reg(src)
            } else {
                Operand::Imm(raw.imm)
            },
        },
        Shape::Neg(width) => Insn::Neg { width, dst },
        Shape::Endian(order) => Insn::Endian {
            order,
            bits: SwapBits::from_imm(raw.imm)?,
            dst,
        },
        Shape::Bswap => Insn::Bswap {
            bits: SwapBits::from_imm(raw.imm)?,
            dst,
        },
        Shape::Ldx { size, sign_extend } => Insn::Load {
            size,
            sign_extend,
            dst,
            src,
            off: raw.off,
        },
        Shape::Stx(size) => Insn::Store {
            size,
            dst,
            off: raw.off,
            src: Operand::Reg(src),
        },
        Shape::St(size) => Insn::Store {
            size,
            dst,
            off: raw.off,
            src: Operand::Imm(raw.imm),
        },
        Shape::Atomic(size) => Insn::Atomic {
            size,
            op: AtomicOp::from_bits(raw.imm)?,
            dst,
            src,
            off: raw.off,
        },
        Shape::Jmp {
            width,
            op,
            reg: is_reg,
        } => Insn::Jmp {
            width,
            op,
            dst,
            src: if is_reg {
                Operand::Reg(src)
            } else {
                Operand::Imm(raw.imm)
            },
            off: raw.off,
        },
        Shape::Ja => Insn::Ja { off: raw.off },
        Shape::Gotol => Insn::Gotol { imm: raw.imm },
        Shape::MayGoto => Insn::MayGoto { off: raw.off },
        Shape::Call => Insn::Call(match raw.src {
            0 => Call::Helper(raw.imm),
            op::PSEUDO_CALL => Call::Subprog(raw.imm),
            op::PSEUDO_KFUNC_CALL => Call::Kfunc {
                btf_id: raw.imm,
                fd_idx: raw.off,
            },
            _ => return None,
        }),
        Shape::Exit => Insn::Exit { off: raw.off },
        Shape::LdImm64 => Insn::LdImm64 {
            dst,
            src: PseudoSrc::from_bits(raw.src)?,
            imm: raw.imm,
            next_imm,
        },
        Shape::LdAbs(size) => Insn::LdAbs { size, imm: raw.imm },
        Shape::LdInd(size) => Insn::LdInd {
            size,
            src,
            imm: raw.imm,
        },
    })
}

fn one(code: u8, dst: RegNo, src: RegNo, off: i16, imm: i32) -> Encoded {
    Encoded::One(RawInsn::new(code, dst.0, src.0, off, imm))
}

/// Encodes an instruction. Inverse of [`decode`] on everything it accepts.
pub fn encode(insn: &Insn) -> Encoded {
    let z = RegNo(0);
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let code = width.alu_class() | op.bits();
            match src {
                Operand::Reg(s) => one(code | op::X, dst, s, op.off(), 0),
                Operand::Imm(i) => one(code | op::K, dst, z, op.off(), i),
            }
        }
        Insn::MovSx {
            width,
            from,
            dst,
            src,
        } => {
            let off = i16::from(from.bytes()) * 8;
            one(width.alu_class() | op::MOV | op::X, dst, src, off, 0)
        }
        Insn::AddrSpaceCast {
            dst,
            src,
            dst_as,
            src_as,
        } => {
            let imm = ((u32::from(dst_as) << 16) | u32::from(src_as)) as i32;
            one(op::ALU64 | op::MOV | op::X, dst, src, 1, imm)
        }
        Insn::Neg { width, dst } => one(width.alu_class() | op::NEG, dst, z, 0, 0),
        Insn::Endian { order, bits, dst } => {
            let o = match order {
                Endian::Le => op::TO_LE,
                Endian::Be => op::TO_BE,
            };
            one(op::ALU | op::END | o, dst, z, 0, bits.imm())
        }
        Insn::Bswap { bits, dst } => one(op::ALU64 | op::END | op::TO_LE, dst, z, 0, bits.imm()),
        Insn::Load {
            size,
            sign_extend,
            dst,
            src,
            off,
        } => {
            let mode = if sign_extend { op::MEMSX } else { op::MEM };
            one(op::LDX | mode | size.bits(), dst, src, off, 0)
        }
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => match src {
            Operand::Reg(s) => one(op::STX | op::MEM | size.bits(), dst, s, off, 0),
            Operand::Imm(i) => one(op::ST | op::MEM | size.bits(), dst, z, off, i),
        },
        Insn::Atomic {
            size,
            op: a,
            dst,
            src,
            off,
        } => one(op::STX | op::ATOMIC | size.bits(), dst, src, off, a.bits()),
        Insn::Jmp {
            width,
            op: j,
            dst,
            src,
            off,
        } => {
            let code = width.jmp_class() | j.bits();
            match src {
                Operand::Reg(s) => one(code | op::X, dst, s, off, 0),
                Operand::Imm(i) => one(code | op::K, dst, z, off, i),
            }
        }
        Insn::Ja { off } => one(op::JMP | op::JA, z, z, off, 0),
        Insn::Gotol { imm } => one(op::JMP32 | op::JA, z, z, 0, imm),
        Insn::MayGoto { off } => one(op::JMP | op::JCOND, z, RegNo(op::MAY_GOTO), off, 0),
        Insn::Call(c) => {
            let (src, off, imm) = match c {
                Call::Helper(id) => (0, 0, id),
                Call::Subprog(rel) => (op::PSEUDO_CALL, 0, rel),
                Call::Kfunc { btf_id, fd_idx } => (op::PSEUDO_KFUNC_CALL, fd_idx, btf_id),
            };
            one(op::JMP | op::CALL, z, RegNo(src), off, imm)
        }
        Insn::Exit { off } => one(op::JMP | op::EXIT, z, z, off, 0),
        Insn::LdImm64 {
            dst,
            src,
            imm,
            next_imm,
        } => Encoded::Two([
            RawInsn::new(op::LD | op::IMM | op::DW, dst.0, src.bits(), 0, imm),
            RawInsn::new(0, 0, 0, 0, next_imm),
        ]),
        Insn::LdAbs { size, imm } => one(op::LD | op::ABS | size.bits(), z, z, 0, imm),
        Insn::LdInd { size, src, imm } => one(op::LD | op::IND | size.bits(), z, src, 0, imm),
    }
}

/// Decodes a whole program, slot by slot (an `ld_imm64` takes two).
pub fn decode_all(insns: &[RawInsn]) -> Result<Vec<Decoded>, InsnError> {
    let mut out = Vec::with_capacity(insns.len());
    let mut idx = 0;
    while idx < insns.len() {
        let d = decode(insns, idx)?;
        idx += d.slots;
        out.push(d);
    }
    Ok(out)
}
