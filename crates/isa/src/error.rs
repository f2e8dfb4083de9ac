//! Structured instruction errors carrying the kernel's message text.

use std::fmt;

use bpfcheck_uapi::InsnIdx;

/// Stable codes for instruction-level errors, one per kernel message.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InsnErrorKind {
    /// `unknown opcode %02x`
    UnknownOpcode,
    /// `BPF_<class> uses reserved fields` (NEG, END, MOV, ALU, LDX, STX, ST,
    /// CALL, JA, EXIT, JMP/JMP32, LD_[ABS|IND], LD_IMM64, XADD).
    ReservedFields,
    /// `invalid bpf_ld_imm64 insn`: missing or malformed second slot.
    InvalidLdImm64,
    /// `unrecognized bpf_ld_imm64 insn`: unknown pseudo source.
    UnrecognizedLdImm64,
    /// `invalid BPF_LD_IMM insn`: `BPF_LD | BPF_IMM` of a size other than DW.
    InvalidLdImm,
    /// `invalid BPF_LD mode`
    InvalidLdMode,
    /// `invalid BPF_ALU opcode %x`
    InvalidAluOpcode,
    /// `invalid BPF_JMP/JMP32 opcode %x`
    InvalidJmpOpcode,
    /// `invalid may_goto imm %d` (before 6.14 `invalid may_goto off %d imm %d`)
    InvalidMayGoto,
    /// `BPF_ATOMIC uses invalid atomic opcode %02x`
    InvalidAtomicOpcode,
    /// `invalid atomic operand size`
    InvalidAtomicSize,
    /// `addr_space_cast insn can only convert between address space 1 and 0`
    InvalidAddrSpaceCast,
    /// `invalid shift %d`
    InvalidShift,
    /// `div by zero`
    DivByZero,
    /// `R%d is invalid`
    InvalidRegister,
    /// `frame pointer is read only`
    FramePointerReadOnly,
    /// The index is past the end of the program (not a kernel message: the
    /// kernel never looks there).
    OutOfRange,
}

/// An instruction rejected for its encoding alone.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct InsnError {
    /// What is wrong.
    pub kind: InsnErrorKind,
    /// The offending instruction slot.
    pub insn: InsnIdx,
    /// The kernel's log text, without trailing newline.
    pub message: String,
}

impl InsnError {
    #[cold]
    pub(crate) fn new(kind: InsnErrorKind, idx: usize, message: impl Into<String>) -> Self {
        Self {
            kind,
            insn: InsnIdx::from(idx),
            message: message.into(),
        }
    }

    #[cold]
    pub(crate) fn reserved(idx: usize, what: &str) -> Self {
        Self::new(
            InsnErrorKind::ReservedFields,
            idx,
            format!("{what} uses reserved fields"),
        )
    }
}

impl fmt::Display for InsnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InsnError {}
