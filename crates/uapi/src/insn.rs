//! The 8-byte instruction as `BPF_PROG_LOAD` takes it, its byte orders, and
//! the encoding constants of `include/uapi/linux/bpf.h` / `bpf_common.h`.
//!
//! Decoding meaning from these bits is `bpfcheck-isa`'s job; this module only
//! moves bytes and names fields.

use std::fmt;

/// Index of an instruction slot in a program (an `ld_imm64` takes two).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct InsnIdx(pub u32);

impl InsnIdx {
    /// The index as a `usize`, for slicing.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for InsnIdx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for InsnIdx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "insn#{}", self.0)
    }
}

impl From<usize> for InsnIdx {
    fn from(i: usize) -> Self {
        Self(u32::try_from(i).unwrap_or(u32::MAX))
    }
}

/// A register number as encoded (0..=15; only 0..=10 exist, R10 is the
/// read-only frame pointer).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct RegNo(pub u8);

impl RegNo {
    /// The read-only frame pointer.
    pub const FP: Self = Self(10);
    /// Number of registers the machine has (`MAX_BPF_REG`).
    pub const COUNT: usize = 11;

    /// Whether the number names an existing register.
    pub fn is_valid(self) -> bool {
        usize::from(self.0) < Self::COUNT
    }
}

impl fmt::Display for RegNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

impl fmt::Debug for RegNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "R{}", self.0)
    }
}

/// Byte order of an instruction stream. BPF objects exist in both (`bpfel`,
/// `bpfeb`); the order also decides which nibble of byte 1 is `dst_reg`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ByteOrder {
    /// `bpfel`: the x86-64 and arm64 layout, and what `--raw` files hold.
    #[default]
    Little,
    /// `bpfeb`: s390x.
    Big,
}

/// One instruction slot, exactly the fields of `struct bpf_insn`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct RawInsn {
    /// Opcode byte.
    pub code: u8,
    /// Destination register field (4 bits).
    pub dst: u8,
    /// Source register field (4 bits).
    pub src: u8,
    /// Signed 16-bit offset.
    pub off: i16,
    /// Signed 32-bit immediate.
    pub imm: i32,
}

impl fmt::Debug for RawInsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{code={:#04x} dst={} src={} off={} imm={}}}",
            self.code, self.dst, self.src, self.off, self.imm
        )
    }
}

/// Size of one instruction slot in bytes.
pub const INSN_SIZE: usize = 8;

impl RawInsn {
    /// Builds an instruction from its fields; `dst` and `src` keep 4 bits.
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        Self {
            code,
            dst: dst & 0xf,
            src: src & 0xf,
            off,
            imm,
        }
    }

    /// Decodes one slot.
    pub fn from_bytes(b: [u8; INSN_SIZE], order: ByteOrder) -> Self {
        let (dst, src, off, imm) = match order {
            ByteOrder::Little => (
                b[1] & 0xf,
                b[1] >> 4,
                i16::from_le_bytes([b[2], b[3]]),
                i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            ),
            ByteOrder::Big => (
                b[1] >> 4,
                b[1] & 0xf,
                i16::from_be_bytes([b[2], b[3]]),
                i32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            ),
        };
        Self {
            code: b[0],
            dst,
            src,
            off,
            imm,
        }
    }

    /// Encodes one slot.
    pub fn to_bytes(self, order: ByteOrder) -> [u8; INSN_SIZE] {
        let (regs, off, imm) = match order {
            ByteOrder::Little => (
                (self.src << 4) | (self.dst & 0xf),
                self.off.to_le_bytes(),
                self.imm.to_le_bytes(),
            ),
            ByteOrder::Big => (
                (self.dst << 4) | (self.src & 0xf),
                self.off.to_be_bytes(),
                self.imm.to_be_bytes(),
            ),
        };
        [
            self.code, regs, off[0], off[1], imm[0], imm[1], imm[2], imm[3],
        ]
    }

    /// Splits a byte buffer into instruction slots. Fails, naming the number
    /// of trailing bytes, when the length is not a multiple of 8.
    pub fn parse_all(bytes: &[u8], order: ByteOrder) -> Result<Vec<Self>, TrailingBytes> {
        let chunks = bytes.chunks_exact(INSN_SIZE);
        if !chunks.remainder().is_empty() {
            return Err(TrailingBytes {
                len: bytes.len(),
                trailing: chunks.remainder().len(),
            });
        }
        Ok(chunks
            .map(|c| {
                let mut a = [0u8; INSN_SIZE];
                a.copy_from_slice(c);
                Self::from_bytes(a, order)
            })
            .collect())
    }

    /// Encodes a program back into bytes.
    pub fn encode_all(insns: &[Self], order: ByteOrder) -> Vec<u8> {
        insns.iter().flat_map(|i| i.to_bytes(order)).collect()
    }

    /// The instruction class (`BPF_CLASS(code)`).
    pub const fn class(self) -> u8 {
        self.code & 0x07
    }
}

/// A byte buffer whose length is not a whole number of instructions.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TrailingBytes {
    /// Length of the buffer.
    pub len: usize,
    /// Bytes after the last whole instruction.
    pub trailing: usize,
}

impl fmt::Display for TrailingBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes is not a whole number of 8-byte instructions ({} trailing bytes at offset {})",
            self.len,
            self.trailing,
            self.len - self.trailing
        )
    }
}

impl std::error::Error for TrailingBytes {}

/// Encoding constants, named as in the kernel's uapi headers.
#[allow(missing_docs)]
pub mod op {
    // Classes.
    pub const LD: u8 = 0x00;
    pub const LDX: u8 = 0x01;
    pub const ST: u8 = 0x02;
    pub const STX: u8 = 0x03;
    pub const ALU: u8 = 0x04;
    pub const JMP: u8 = 0x05;
    pub const JMP32: u8 = 0x06;
    pub const ALU64: u8 = 0x07;

    // Sizes (load/store).
    pub const W: u8 = 0x00;
    pub const H: u8 = 0x08;
    pub const B: u8 = 0x10;
    pub const DW: u8 = 0x18;

    // Modes (load/store).
    pub const IMM: u8 = 0x00;
    pub const ABS: u8 = 0x20;
    pub const IND: u8 = 0x40;
    pub const MEM: u8 = 0x60;
    pub const LEN: u8 = 0x80;
    pub const MSH: u8 = 0xa0;
    pub const MEMSX: u8 = 0x80;
    pub const ATOMIC: u8 = 0xc0;

    // Source operand (ALU/JMP).
    pub const K: u8 = 0x00;
    pub const X: u8 = 0x08;
    /// `BPF_TO_LE` for `BPF_END`.
    pub const TO_LE: u8 = 0x00;
    /// `BPF_TO_BE` for `BPF_END`.
    pub const TO_BE: u8 = 0x08;

    // ALU operations.
    pub const ADD: u8 = 0x00;
    pub const SUB: u8 = 0x10;
    pub const MUL: u8 = 0x20;
    pub const DIV: u8 = 0x30;
    pub const OR: u8 = 0x40;
    pub const AND: u8 = 0x50;
    pub const LSH: u8 = 0x60;
    pub const RSH: u8 = 0x70;
    pub const NEG: u8 = 0x80;
    pub const MOD: u8 = 0x90;
    pub const XOR: u8 = 0xa0;
    pub const MOV: u8 = 0xb0;
    pub const ARSH: u8 = 0xc0;
    pub const END: u8 = 0xd0;

    // Jump operations.
    pub const JA: u8 = 0x00;
    pub const JEQ: u8 = 0x10;
    pub const JGT: u8 = 0x20;
    pub const JGE: u8 = 0x30;
    pub const JSET: u8 = 0x40;
    pub const JNE: u8 = 0x50;
    pub const JSGT: u8 = 0x60;
    pub const JSGE: u8 = 0x70;
    pub const CALL: u8 = 0x80;
    pub const EXIT: u8 = 0x90;
    pub const JLT: u8 = 0xa0;
    pub const JLE: u8 = 0xb0;
    pub const JSLT: u8 = 0xc0;
    pub const JSLE: u8 = 0xd0;
    /// `may_goto` (`BPF_JCOND`).
    pub const JCOND: u8 = 0xe0;

    // Atomic operations (in `imm` of `BPF_STX | BPF_ATOMIC`).
    pub const FETCH: i32 = 0x01;
    pub const XCHG: i32 = 0xe0 | FETCH;
    pub const CMPXCHG: i32 = 0xf0 | FETCH;
    pub const LOAD_ACQ: i32 = 0x100;
    pub const STORE_REL: i32 = 0x110;

    /// `BPF_MAY_GOTO`, the only `BPF_JCOND` source in 6.18.
    pub const MAY_GOTO: u8 = 0;

    // Pseudo sources of `ld_imm64` (`src_reg`).
    pub const PSEUDO_MAP_FD: u8 = 1;
    pub const PSEUDO_MAP_VALUE: u8 = 2;
    pub const PSEUDO_BTF_ID: u8 = 3;
    pub const PSEUDO_FUNC: u8 = 4;
    pub const PSEUDO_MAP_IDX: u8 = 5;
    pub const PSEUDO_MAP_IDX_VALUE: u8 = 6;

    // Pseudo sources of `call` (`src_reg`).
    pub const PSEUDO_CALL: u8 = 1;
    pub const PSEUDO_KFUNC_CALL: u8 = 2;

    /// The opcode field of an ALU or JMP code.
    pub const fn alu_op(code: u8) -> u8 {
        code & 0xf0
    }
    /// The size field of a load/store code.
    pub const fn size(code: u8) -> u8 {
        code & 0x18
    }
    /// The mode field of a load/store code.
    pub const fn mode(code: u8) -> u8 {
        code & 0xe0
    }
    /// The source bit of an ALU/JMP code.
    pub const fn src(code: u8) -> u8 {
        code & 0x08
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nibbles_follow_byte_order() {
        let i = RawInsn::new(0xbf, 1, 2, -3, 0x0102_0304);
        assert_eq!(
            i.to_bytes(ByteOrder::Little),
            [0xbf, 0x21, 0xfd, 0xff, 4, 3, 2, 1]
        );
        assert_eq!(
            i.to_bytes(ByteOrder::Big),
            [0xbf, 0x12, 0xff, 0xfd, 1, 2, 3, 4]
        );
    }

    #[test]
    fn trailing_bytes_are_reported() {
        let e = RawInsn::parse_all(&[0u8; 12], ByteOrder::Little).unwrap_err();
        assert_eq!(e.trailing, 4);
        assert!(e.to_string().contains("offset 8"));
    }

    proptest! {
        #[test]
        fn bytes_round_trip(b in any::<[u8; 8]>(), big in any::<bool>()) {
            let order = if big { ByteOrder::Big } else { ByteOrder::Little };
            prop_assert_eq!(RawInsn::from_bytes(b, order).to_bytes(order), b);
        }
    }
}
