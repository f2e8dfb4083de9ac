//! Structured verdict reasons: every rejection carries a stable code, the
//! instruction it is tied to, the errno `bpf()` would return and the
//! kernel's exact message.

use std::fmt;

use bpfcheck_isa::{InsnError, InsnErrorKind};
use bpfcheck_uapi::{Errno, InsnIdx};

/// Stable identifier of a rejection class. The serialised names are part of
/// bpfcheck's JSON schema: add, never rename.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// `BPF_PROG_LOAD` attributes refused before the verifier runs (no log).
    InvalidAttr,
    /// Zero instructions, or more than the loader may submit.
    ProgramSize,
    /// `unknown opcode %02x`.
    UnknownOpcode,
    /// `BPF_* uses reserved fields` and other encoding checks.
    ReservedFields,
    /// `invalid bpf_ld_imm64 insn` / `unrecognized bpf_ld_imm64 insn`.
    InvalidLdImm64,
    /// `jump into the middle of ldimm64 insn %d`.
    JumpIntoLdImm64,
    /// `call to invalid destination`.
    InvalidCallTarget,
    /// `too many subprograms`.
    TooManySubprogs,
    /// `jump out of range from insn %d to %d`.
    JumpOutOfRange,
    /// `last insn is not an exit or jmp`.
    FallThroughSubprog,
    /// `unreachable insn %d`.
    UnreachableInsn,
    /// `back-edge from insn %d to %d` (loops without `CAP_BPF`).
    BackEdge,
    /// Subprograms or kfuncs without `CAP_BPF`.
    NeedsCapBpf,
    /// `fd_idx without fd_array is invalid`.
    FdIdxWithoutFdArray,
    /// `fd %d is not pointing to valid bpf_map`.
    BadMapFd,
    /// Direct map-value addressing refused (offset, map type, bounds).
    MapValueAddress,
    /// `invalid shift %d`.
    InvalidShift,
    /// `div by zero` (constant divisor 0 in the K form, older kernels).
    DivByZero,
    /// `R%d is invalid` / `frame pointer is read only`.
    InvalidRegister,
    /// `unknown insn class %d` and other encoding errors.
    InvalidInsn,
    /// `R%d !read_ok`: a register read before any write on the path.
    UninitRegister,
    /// Memory access refused: bounds, alignment, pointer type, spill size.
    InvalidMemAccess,
    /// Pointer arithmetic refused.
    PointerArithmetic,
    /// Complexity limits: too many instructions or queued branches.
    TooComplex,
    /// A helper call refused: unknown or unavailable helper, license,
    /// argument types.
    HelperCall,
    /// `infinite loop detected at insn %d`.
    InfiniteLoop,
    /// The main program's return value is outside its type's range
    /// (`check_return_code`).
    ReturnValue,
    /// A path ends, tail-calls or uses `LD_ABS` while holding a reference
    /// (`... would lead to reference leak`).
    ReferenceLeak,
    /// A dynptr argument or stack slot in the wrong state (`Expected an
    /// initialized dynptr …`, `cannot overwrite referenced dynptr`, …).
    DynptrState,
    /// A kfunc call refused: unknown or not allowed kfunc, license,
    /// arguments, sleepable and RCU/preemption rules.
    KfuncCall,
    /// Exceptions refused: a bad exception callback, `bpf_throw` from a
    /// callback or with a lock or region held.
    Exception,
}

impl ErrorCode {
    /// The stable snake-case name used in JSON and SARIF.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidAttr => "invalid_attr",
            Self::HelperCall => "helper_call",
            Self::ProgramSize => "program_size",
            Self::UnknownOpcode => "unknown_opcode",
            Self::ReservedFields => "reserved_fields",
            Self::InvalidLdImm64 => "invalid_ld_imm64",
            Self::JumpIntoLdImm64 => "jump_into_ld_imm64",
            Self::InvalidCallTarget => "invalid_call_target",
            Self::TooManySubprogs => "too_many_subprogs",
            Self::JumpOutOfRange => "jump_out_of_range",
            Self::FallThroughSubprog => "fall_through_subprog",
            Self::UnreachableInsn => "unreachable_insn",
            Self::BackEdge => "back_edge",
            Self::NeedsCapBpf => "needs_cap_bpf",
            Self::FdIdxWithoutFdArray => "fd_idx_without_fd_array",
            Self::BadMapFd => "bad_map_fd",
            Self::MapValueAddress => "map_value_address",
            Self::InvalidShift => "invalid_shift",
            Self::DivByZero => "div_by_zero",
            Self::InvalidRegister => "invalid_register",
            Self::InvalidInsn => "invalid_insn",
            Self::UninitRegister => "uninit_register",
            Self::InvalidMemAccess => "invalid_mem_access",
            Self::PointerArithmetic => "pointer_arithmetic",
            Self::TooComplex => "too_complex",
            Self::InfiniteLoop => "infinite_loop",
            Self::ReturnValue => "return_value",
            Self::ReferenceLeak => "reference_leak",
            Self::DynptrState => "dynptr_state",
            Self::KfuncCall => "kfunc_call",
            Self::Exception => "exception",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the kernel refuses a program.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct VerifierError {
    /// Stable class.
    pub code: ErrorCode,
    /// What `bpf()` returns.
    pub errno: Errno,
    /// The instruction the error is tied to, when there is one.
    pub insn: Option<InsnIdx>,
    /// The kernel's message, exactly, without the newline. Empty when the
    /// kernel refuses the load without writing a log.
    pub message: String,
    /// The kernel writes the message without its newline, so the next
    /// log line (the statistics) runs on from it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unterminated: bool,
}

impl VerifierError {
    pub(crate) fn new(
        code: ErrorCode,
        errno: Errno,
        insn: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code,
            errno,
            insn: insn.map(InsnIdx::from),
            message: message.into(),
            unterminated: false,
        }
    }

    /// The same error, logged without a newline.
    pub(crate) fn unterminated(mut self) -> Self {
        self.unterminated = true;
        self
    }
}

impl ErrorCode {
    /// The class of an encoding error found by `bpfcheck-isa`.
    pub fn from_insn_error(kind: InsnErrorKind) -> Self {
        use InsnErrorKind as K;
        match kind {
            K::UnknownOpcode => Self::UnknownOpcode,
            K::ReservedFields => Self::ReservedFields,
            K::InvalidLdImm64 | K::UnrecognizedLdImm64 => Self::InvalidLdImm64,
            K::InvalidShift => Self::InvalidShift,
            K::DivByZero => Self::DivByZero,
            K::InvalidRegister | K::FramePointerReadOnly => Self::InvalidRegister,
            _ => Self::InvalidInsn,
        }
    }
}

impl From<InsnError> for VerifierError {
    /// Encoding errors are all `EINVAL` in the kernel, except the register
    /// checks of `check_reg_arg`, which are `EINVAL` too, and the frame
    /// pointer write (`EACCES`).
    fn from(e: InsnError) -> Self {
        let errno = if e.kind == InsnErrorKind::FramePointerReadOnly {
            Errno::EACCES
        } else {
            Errno::EINVAL
        };
        Self {
            code: ErrorCode::from_insn_error(e.kind),
            errno,
            insn: Some(e.insn),
            message: e.message,
            unterminated: false,
        }
    }
}

impl fmt::Display for VerifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{} (no verifier log)", self.errno)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for VerifierError {}

/// A feature the program uses that bpfcheck cannot judge yet.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Unsupported {
    /// What is missing, in words a user understands (`kfunc calls`).
    pub feature: String,
    /// The first instruction that needs it, when there is one.
    pub insn: Option<InsnIdx>,
}

impl Unsupported {
    pub(crate) fn new(feature: impl Into<String>, insn: Option<usize>) -> Self {
        Self {
            feature: feature.into(),
            insn: insn.map(InsnIdx::from),
        }
    }
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.insn {
            Some(i) => write!(f, "{} (first needed at insn {i})", self.feature),
            None => f.write_str(&self.feature),
        }
    }
}

/// How a preparation pass ends early.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Stop {
    Reject(VerifierError),
    Unsupported(Unsupported),
}

impl From<VerifierError> for Stop {
    fn from(e: VerifierError) -> Self {
        Self::Reject(e)
    }
}

impl From<Unsupported> for Stop {
    fn from(u: Unsupported) -> Self {
        Self::Unsupported(u)
    }
}
