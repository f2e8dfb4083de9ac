//! The scalar value domain: what the verifier knows about a number in a
//! register, and how each ALU operation and conditional jump changes it.
//!
//! A [`Scalar`] is the kernel's pair of a [`Tnum`] (known bits) and eight range
//! bounds (signed/unsigned, 64/32-bit). Every function reproduces the kernel's
//! arithmetic bit for bit, because the level-2 log prints these states and any
//! difference would show.
//!
//! # Kernel versions ([`Era`])
//!
//! - [`Era::V6_12`] follows linux 6.12.117 (`kernel/bpf/tnum.c`, `verifier.c`,
//!   `log.c`): the three-pass `reg_bounds_sync` with the 64↔32 cross deductions
//!   (`__reg32_deduce_bounds`, `__reg64_deduce_bounds` including the
//!   sign-boundary-crossing cases, `__reg_deduce_mixed_bounds`),
//!   `is_safe_to_compute_dst_reg_range`, `tnum_overlap` in
//!   `is_scalar_branch_taken`, `regs_refine_cond_op`, `maybe_fork_scalars`.
//!   `neg` and `le`/`be`/`bswap` make the destination unknown; so do
//!   `div`/`mod`/`sdiv`/`smod`.
//! - [`Era::V6_18`] is 6.12 plus what the live 6.18.44 kernel was seen to do
//!   differently: `neg` computed as `0 - x`; byte swaps tracked through the
//!   tnum (`tnum_bswap16/32/64`) with truncation for 16/32 bits and no zero
//!   extension; `mul` bounded by the four corner products and overflow-checked
//!   unsigned ends, and the rewritten `tnum_mul` (with `tnum_union`);
//!   `add`/`sub` keep the unsigned range when both ends wrap alike;
//!   `__update_reg64_bounds` makes a value known when it is the only tnum
//!   member in `[umin, umax]` (`tnum_step`). Division stays unknown.
//! - [`Era::V6_1`] follows 6.1.192 where it differs in arithmetic: the
//!   single-pass `reg_bounds_sync` with the old sign-learning deductions,
//!   `coerce_reg_to_size` via `__reg_combine_64_into_32`, the old gate
//!   (non-constant sources only for `add`/`sub`/`and`; unknown-but-zero-
//!   extended results for over-wide shifts and `div`/`mod`), and the old sign
//!   rule of `and`/`or`/`xor`. Its branch refinement is a different algorithm
//!   that is not modelled: [`branch_taken`] and [`refine`] return
//!   [`Unmodelled`] for it.
//!
//! Checked against the live 6.18.44 kernel: the fixture `kernel_cases.txt`
//! holds the kernel's own level-2 log annotations for about 500 ALU sequences
//! and branches (hand-written and random), each replayed through [`alu`],
//! [`branch_taken`], [`refine`] and [`fmt_scalar`] by the tests and required to
//! match text for text.
//!
//! # Knowingly missing
//!
//! - Pointer arithmetic, scalar ids (`sync_linked_regs`, `BPF_ADD_CONST`),
//!   precision marks and liveness: those belong to the register state around a
//!   [`Scalar`], not to its numbers.
//! - Branch refinement where both operands are the same register, and the
//!   pointer cases of `is_branch_taken` (null checks, packet pointers).
//! - 6.1's branch logic; log printing before 6.12's `print_scalar_ranges` (6.1
//!   printed each bound separately; only its tnum form [`Tnum::to_pair_string`]
//!   is here).
//! - Any arithmetic of kernels newer than the observed 6.18.44 (for example
//!   tracked division ranges). [`Era::V6_12`] and [`Era::V6_1`] are read from
//!   the sources only; no such kernel was run.
//!
//! Like the kernel's, [`Scalar::sync`] is sound but neither idempotent nor
//! monotone: a second sync can still learn, and the sign-extension rule of
//! `__reg_deduce_mixed_bounds` assigns (not intersects) the 64-bit bounds.
//!
//! [`Scalar`]: crate::domain::Scalar
//! [`Tnum`]: crate::domain::Tnum
//! [`Era`]: crate::domain::Era
//! [`Era::V6_12`]: crate::domain::Era::V6_12
//! [`Era::V6_18`]: crate::domain::Era::V6_18
//! [`Era::V6_1`]: crate::domain::Era::V6_1
//! [`branch_taken`]: crate::domain::branch_taken
//! [`refine`]: crate::domain::refine
//! [`Unmodelled`]: crate::domain::Unmodelled
//! [`Scalar::sync`]: crate::domain::Scalar::sync
//! [`alu`]: crate::domain::alu
//! [`fmt_scalar`]: crate::domain::fmt_scalar
//! [`Tnum::to_pair_string`]: crate::domain::Tnum::to_pair_string

mod alu;
mod bounds;
mod branch;
mod branch_v6_1;
pub mod cnum;
mod fmt;
mod tnum;

#[cfg(test)]
mod kernel_cases;
#[cfg(test)]
mod proptests;

pub use alu::{alu, concrete, split_minus_one_or_zero};
pub use bounds::{BoundsViolation, Scalar};
pub use branch::{BranchStates, Unmodelled, branch_taken, refine};
pub use fmt::{fmt_scalar, fmt_scalar_ranges};
pub use tnum::Tnum;

/// Which kernel's arithmetic to reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Era {
    /// Linux 6.1.y.
    V6_1,
    /// Linux 6.12.y.
    V6_12,
    /// Linux 6.18.y.
    V6_18,
}

impl Era {
    /// The arithmetic of `profile`'s kernel.
    pub fn of(profile: &bpfcheck_profile::KernelProfile) -> Self {
        match profile.features.scalar_arith {
            bpfcheck_profile::ScalarArith::V6_1 => Era::V6_1,
            bpfcheck_profile::ScalarArith::V6_12 => Era::V6_12,
            bpfcheck_profile::ScalarArith::V6_18 => Era::V6_18,
        }
    }

    /// 6.1's deductions, gates and sign rules.
    pub(crate) fn bounds_v1(self) -> bool {
        self == Era::V6_1
    }

    pub(crate) fn tracks_neg(self) -> bool {
        self >= Era::V6_18
    }

    pub(crate) fn tracks_end(self) -> bool {
        self >= Era::V6_18
    }

    pub(crate) fn precise_add_sub(self) -> bool {
        self >= Era::V6_18
    }

    pub(crate) fn precise_mul(self) -> bool {
        self >= Era::V6_18
    }

    pub(crate) fn union_mul(self) -> bool {
        self >= Era::V6_18
    }

    pub(crate) fn single_member_bounds(self) -> bool {
        self >= Era::V6_18
    }

    pub(crate) fn forks_minus_one_or_zero(self) -> bool {
        self >= Era::V6_12
    }
}

/// Operand width: `BPF_ALU64`/`BPF_JMP` or `BPF_ALU`/`BPF_JMP32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    /// 32-bit: the low halves; ALU results are zero-extended.
    W32,
    /// 64-bit.
    W64,
}

impl Width {
    /// 32 or 64.
    pub const fn bits(self) -> u64 {
        match self {
            Width::W32 => 32,
            Width::W64 => 64,
        }
    }
}

/// An ALU operation on scalars.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AluOp {
    /// `+=`
    Add,
    /// `-=`
    Sub,
    /// `*=`
    Mul,
    /// Unsigned `/=`.
    Div,
    /// Unsigned `%=`.
    Mod,
    /// Signed `s/=` (`off == 1`).
    SDiv,
    /// Signed `s%=` (`off == 1`).
    SMod,
    /// `|=`
    Or,
    /// `&=`
    And,
    /// `^=`
    Xor,
    /// `<<=`
    Lsh,
    /// Logical `>>=`.
    Rsh,
    /// Arithmetic `s>>=`.
    Arsh,
    /// `dst = -dst`.
    Neg,
    /// `dst = src`.
    Mov,
    /// `dst = (s8|s16|s32) src`; the field is the source width in bits
    /// (the instruction's `off`).
    MovSx(u8),
    /// `le16/32/64`, `be16/32/64`, `bswap16/32/64`. The width passed to
    /// [`alu`] is ignored: `le64`/`be64` are 64-bit despite their
    /// `BPF_ALU` class.
    End {
        /// 16, 32 or 64 (the instruction's `imm`).
        bits: u8,
        /// Whether bytes are reversed: always for `bswap` (ALU64), for
        /// `be` on a little-endian host, for `le` on a big-endian one.
        swap: bool,
    },
}

/// A conditional jump's comparison (`BPF_JA` and calls are not ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// Unsigned `>`.
    Gt,
    /// Unsigned `>=`.
    Ge,
    /// Unsigned `<`.
    Lt,
    /// Unsigned `<=`.
    Le,
    /// Signed `s>`.
    Sgt,
    /// Signed `s>=`.
    Sge,
    /// Signed `s<`.
    Slt,
    /// Signed `s<=`.
    Sle,
    /// `&` is non-zero.
    Set,
}

impl JmpOp {
    /// Every comparison.
    pub const ALL: [JmpOp; 11] = [
        JmpOp::Eq,
        JmpOp::Ne,
        JmpOp::Gt,
        JmpOp::Ge,
        JmpOp::Lt,
        JmpOp::Le,
        JmpOp::Sgt,
        JmpOp::Sge,
        JmpOp::Slt,
        JmpOp::Sle,
        JmpOp::Set,
    ];

    /// Whether `a <op> b` holds for concrete values at `width`.
    pub fn holds(self, width: Width, a: u64, b: u64) -> bool {
        let (a, b, sa, sb) = match width {
            Width::W32 => (
                a & 0xffff_ffff,
                b & 0xffff_ffff,
                i64::from(a as i32),
                i64::from(b as i32),
            ),
            Width::W64 => (a, b, a as i64, b as i64),
        };
        match self {
            JmpOp::Eq => a == b,
            JmpOp::Ne => a != b,
            JmpOp::Gt => a > b,
            JmpOp::Ge => a >= b,
            JmpOp::Lt => a < b,
            JmpOp::Le => a <= b,
            JmpOp::Sgt => sa > sb,
            JmpOp::Sge => sa >= sb,
            JmpOp::Slt => sa < sb,
            JmpOp::Sle => sa <= sb,
            JmpOp::Set => a & b != 0,
        }
    }
}
