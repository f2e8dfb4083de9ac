//! Why a run stopped without reaching `exit` of the main program.

use std::fmt;

use bpfcheck_isa::InsnError;
use bpfcheck_uapi::{InsnIdx, RegNo};

/// What went wrong. Every access the sandbox cannot prove in bounds, every
/// read of a register no path wrote, and every feature outside the model is
/// one of these; the interpreter never panics on a program.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The slot does not decode (see [`bpfcheck_isa::decode`]).
    Decode(InsnError),
    /// Control reached a slot outside the program (fell off the end, or a
    /// jump target out of range).
    PcOutOfRange(i64),
    /// A register that was never written (or was clobbered by a call) is read.
    UninitRegister(RegNo),
    /// A register number above R10.
    InvalidRegister(RegNo),
    /// A write to R10.
    FramePointerWrite,
    /// A load or store of `size` bytes at `addr` that is not inside one
    /// region (NULL included).
    OutOfBounds {
        /// The address accessed.
        addr: u64,
        /// The access size in bytes.
        size: u8,
    },
    /// A store into a read-only region (a map object, the context's
    /// pointer fields).
    ReadOnly {
        /// The address written.
        addr: u64,
    },
    /// The step budget ran out.
    StepBudget(u64),
    /// More nested bpf-to-bpf calls than the kernel allows (8 frames).
    CallDepth,
    /// A helper the interpreter does not model.
    UnsupportedHelper(i32),
    /// A map type the interpreter does not model, or a map index with no map.
    UnsupportedMap(u32),
    /// A helper argument that must name a map does not.
    NotAMap(RegNo),
    /// An instruction outside the model (kfunc calls, `addr_space_cast`,
    /// `ld_imm64` of BTF ids or `fd_array` indices).
    Unsupported(&'static str),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(e) => write!(f, "undecodable instruction: {e}"),
            Self::PcOutOfRange(pc) => write!(f, "control reached slot {pc}, outside the program"),
            Self::UninitRegister(r) => write!(f, "{r} read before it was written"),
            Self::InvalidRegister(r) => write!(f, "register {r} does not exist"),
            Self::FramePointerWrite => f.write_str("write to the frame pointer r10"),
            Self::OutOfBounds { addr, size } => {
                write!(
                    f,
                    "access of {size} bytes at {addr:#x} is outside every region"
                )
            }
            Self::ReadOnly { addr } => write!(f, "store to read-only memory at {addr:#x}"),
            Self::StepBudget(n) => write!(f, "step budget of {n} instructions exhausted"),
            Self::CallDepth => f.write_str("more than 8 nested call frames"),
            Self::UnsupportedHelper(id) => write!(f, "helper #{id} is not modelled"),
            Self::UnsupportedMap(i) => write!(f, "map {i} is missing or of an unmodelled type"),
            Self::NotAMap(r) => write!(f, "{r} does not hold a map"),
            Self::Unsupported(what) => write!(f, "{what} is not modelled"),
        }
    }
}

/// A [`Fault`] at an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterpError {
    /// The slot executing when the run stopped.
    pub pc: InsnIdx,
    /// What happened.
    pub fault: Fault,
}

impl fmt::Display for InterpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "insn {}: {}", self.pc, self.fault)
    }
}

impl std::error::Error for InterpError {}
