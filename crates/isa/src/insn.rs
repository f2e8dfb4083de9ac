//! The decoded, semantic instruction.

use bpfcheck_uapi::RegNo;

use crate::table::{AluOp, AtomicOp, Endian, JmpOp, PseudoSrc, Size, SwapBits, Width};

/// The second operand of ALU, store and jump instructions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
pub enum Operand {
    /// A register (`BPF_X`; for stores, `BPF_STX`).
    Reg(RegNo),
    /// An immediate (`BPF_K`; for stores, `BPF_ST`).
    Imm(i32),
}

/// The three kinds of `call`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
pub enum Call {
    /// A helper by id (`src_reg == 0`).
    Helper(i32),
    /// A subprogram, `imm` instructions after the next one (`BPF_PSEUDO_CALL`).
    Subprog(i32),
    /// A kfunc by BTF id; `fd_idx` is 0 for vmlinux, else the `fd_array`
    /// index of the module BTF (`BPF_PSEUDO_KFUNC_CALL`).
    Kfunc {
        /// BTF id of the `FUNC`.
        btf_id: i32,
        /// `fd_array` index of the module BTF, 0 for vmlinux.
        fd_idx: i16,
    },
}

/// A BPF instruction as the 6.18 verifier understands it. Register fields
/// keep their 4-bit encodings (R11–R15 decode; the verifier rejects them
/// with `R%d is invalid` when it reads or writes them).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
pub enum Insn {
    /// `dst op= src` for the binary ALU operations, including `mov`, `sdiv`, `smod`.
    Alu {
        /// 32- or 64-bit.
        width: Width,
        /// The operation.
        op: AluOp,
        /// Destination (and first operand).
        dst: RegNo,
        /// Second operand.
        src: Operand,
    },
    /// `dst = (s8|s16|s32) src` (cpu v4 `movsx`; `s32` only in 64-bit).
    MovSx {
        /// 32- or 64-bit result.
        width: Width,
        /// Width the source is sign-extended from (B, H or W).
        from: Size,
        /// Destination.
        dst: RegNo,
        /// Source.
        src: RegNo,
    },
    /// `dst = addr_space_cast(src, dst_as, src_as)` (arena programs, 6.9).
    AddrSpaceCast {
        /// Destination.
        dst: RegNo,
        /// Source.
        src: RegNo,
        /// Address space cast to (`imm >> 16`).
        dst_as: u16,
        /// Address space cast from (`imm & 0xffff`).
        src_as: u16,
    },
    /// `dst = -dst`.
    Neg {
        /// 32- or 64-bit.
        width: Width,
        /// Operand.
        dst: RegNo,
    },
    /// `dst = le16/be32/... dst` (`BPF_ALU | BPF_END`).
    Endian {
        /// Target byte order.
        order: Endian,
        /// Width converted.
        bits: SwapBits,
        /// Operand.
        dst: RegNo,
    },
    /// `dst = bswap16/32/64 dst` (cpu v4, `BPF_ALU64 | BPF_END`).
    Bswap {
        /// Width swapped.
        bits: SwapBits,
        /// Operand.
        dst: RegNo,
    },
    /// `dst = *(size *)(src + off)`, zero- or sign-extending (`BPF_LDX`).
    Load {
        /// Access size.
        size: Size,
        /// `BPF_MEMSX` (cpu v4; not for DW).
        sign_extend: bool,
        /// Destination.
        dst: RegNo,
        /// Base pointer.
        src: RegNo,
        /// Offset from the base.
        off: i16,
    },
    /// `*(size *)(dst + off) = src` (`BPF_STX` for registers, `BPF_ST` for
    /// immediates).
    Store {
        /// Access size.
        size: Size,
        /// Base pointer.
        dst: RegNo,
        /// Offset from the base.
        off: i16,
        /// Stored value.
        src: Operand,
    },
    /// `BPF_STX | BPF_ATOMIC`: read-modify-write, or (6.15) load-acquire /
    /// store-release. For load-acquire `dst` receives the value and `src`
    /// is the pointer, as encoded.
    Atomic {
        /// Access size (W/DW for read-modify-write).
        size: Size,
        /// The operation (`imm`).
        op: AtomicOp,
        /// `dst_reg` field.
        dst: RegNo,
        /// `src_reg` field.
        src: RegNo,
        /// Offset.
        off: i16,
    },
    /// `if dst op src goto pc+off`.
    Jmp {
        /// `BPF_JMP32` (32-bit) or `BPF_JMP`.
        width: Width,
        /// The comparison.
        op: JmpOp,
        /// First operand.
        dst: RegNo,
        /// Second operand.
        src: Operand,
        /// Branch offset from the next instruction.
        off: i16,
    },
    /// `goto pc+off` (`BPF_JMP | BPF_JA`).
    Ja {
        /// Offset from the next instruction.
        off: i16,
    },
    /// `gotol pc+imm` (`BPF_JMP32 | BPF_JA`, cpu v4).
    Gotol {
        /// Offset from the next instruction.
        imm: i32,
    },
    /// `may_goto pc+off` (`BPF_JMP | BPF_JCOND`, 6.9; `off == 0` since 6.14).
    MayGoto {
        /// Offset from the next instruction.
        off: i16,
    },
    /// `call`.
    Call(Call),
    /// `exit`.
    Exit {
        /// The kernel's `BPF_EXIT` check ignores `off`, so any value loads;
        /// it is kept so that encoding gives back the submitted bytes.
        off: i16,
    },
    /// `dst = imm64` in two slots; `imm` and `next_imm` are the two slots'
    /// immediates, whose meaning depends on `src` (see [`PseudoSrc`]).
    LdImm64 {
        /// Destination.
        dst: RegNo,
        /// Pseudo source.
        src: PseudoSrc,
        /// First slot's `imm` (low half, fd, index, BTF id or offset).
        imm: i32,
        /// Second slot's `imm` (high half, map value offset or BTF fd).
        next_imm: i32,
    },
    /// `r0 = *(size *)skb[imm]` (legacy `BPF_LD | BPF_ABS`).
    LdAbs {
        /// Access size (not DW).
        size: Size,
        /// Packet offset.
        imm: i32,
    },
    /// `r0 = *(size *)skb[src + imm]` (legacy `BPF_LD | BPF_IND`).
    LdInd {
        /// Access size (not DW).
        size: Size,
        /// Offset register.
        src: RegNo,
        /// Constant offset.
        imm: i32,
    },
}

impl Insn {
    /// Number of slots the instruction occupies (2 for `ld_imm64`).
    pub const fn slots(&self) -> usize {
        match self {
            Self::LdImm64 { .. } => 2,
            _ => 1,
        }
    }

    /// `dst = imm` (64-bit).
    pub const fn mov64_imm(dst: RegNo, imm: i32) -> Self {
        Self::alu64_imm(AluOp::Mov, dst, imm)
    }

    /// `dst = src` (64-bit).
    pub const fn mov64_reg(dst: RegNo, src: RegNo) -> Self {
        Self::alu64_reg(AluOp::Mov, dst, src)
    }

    /// `dst op= imm` (64-bit).
    pub const fn alu64_imm(op: AluOp, dst: RegNo, imm: i32) -> Self {
        Self::Alu {
            width: Width::W64,
            op,
            dst,
            src: Operand::Imm(imm),
        }
    }

    /// `dst op= src` (64-bit).
    pub const fn alu64_reg(op: AluOp, dst: RegNo, src: RegNo) -> Self {
        Self::Alu {
            width: Width::W64,
            op,
            dst,
            src: Operand::Reg(src),
        }
    }

    /// `wdst op= imm` (32-bit).
    pub const fn alu32_imm(op: AluOp, dst: RegNo, imm: i32) -> Self {
        Self::Alu {
            width: Width::W32,
            op,
            dst,
            src: Operand::Imm(imm),
        }
    }

    /// `wdst op= wsrc` (32-bit).
    pub const fn alu32_reg(op: AluOp, dst: RegNo, src: RegNo) -> Self {
        Self::Alu {
            width: Width::W32,
            op,
            dst,
            src: Operand::Reg(src),
        }
    }

    /// `dst = *(size *)(src + off)`.
    pub const fn load(size: Size, dst: RegNo, src: RegNo, off: i16) -> Self {
        Self::Load {
            size,
            sign_extend: false,
            dst,
            src,
            off,
        }
    }

    /// `*(size *)(dst + off) = src`.
    pub const fn store_reg(size: Size, dst: RegNo, off: i16, src: RegNo) -> Self {
        Self::Store {
            size,
            dst,
            off,
            src: Operand::Reg(src),
        }
    }

    /// `*(size *)(dst + off) = imm`.
    pub const fn store_imm(size: Size, dst: RegNo, off: i16, imm: i32) -> Self {
        Self::Store {
            size,
            dst,
            off,
            src: Operand::Imm(imm),
        }
    }

    /// `if dst op imm goto pc+off` (64-bit).
    pub const fn jmp_imm(op: JmpOp, dst: RegNo, imm: i32, off: i16) -> Self {
        Self::Jmp {
            width: Width::W64,
            op,
            dst,
            src: Operand::Imm(imm),
            off,
        }
    }

    /// `if dst op src goto pc+off` (64-bit).
    pub const fn jmp_reg(op: JmpOp, dst: RegNo, src: RegNo, off: i16) -> Self {
        Self::Jmp {
            width: Width::W64,
            op,
            dst,
            src: Operand::Reg(src),
            off,
        }
    }

    /// `call` of a helper by id.
    pub const fn call_helper(id: i32) -> Self {
        Self::Call(Call::Helper(id))
    }

    /// `dst = value` as a plain `ld_imm64`.
    pub const fn ld_imm64(dst: RegNo, value: u64) -> Self {
        Self::LdImm64 {
            dst,
            src: PseudoSrc::Imm,
            imm: value as u32 as i32,
            next_imm: (value >> 32) as u32 as i32,
        }
    }

    /// `dst = map` by fd (`BPF_PSEUDO_MAP_FD`).
    pub const fn ld_map_fd(dst: RegNo, fd: i32) -> Self {
        Self::LdImm64 {
            dst,
            src: PseudoSrc::MapFd,
            imm: fd,
            next_imm: 0,
        }
    }
}
