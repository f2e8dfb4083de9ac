//! The BPF instruction set: one opcode table drives decoding, encoding,
//! validation and the kernel's disassembly text.
//!
//! * [`table`] — the field tables ([`AluOp`], [`JmpOp`], [`Size`],
//!   [`AtomicOp`], [`PseudoSrc`]) with their encodings and kernel texts, and
//!   [`OPCODES`], every opcode of the kernel's public instruction table with
//!   the feature that introduced it ([`opcode_in_insntable`]).
//! * [`Insn`] — the decoded instruction: ALU/ALU64 (incl. cpu v4 `sdiv`,
//!   `smod`, `movsx`, `bswap`), `le`/`be`, `addr_space_cast`, loads incl.
//!   sign-extending, stores, atomics incl. `load_acquire`/`store_release`,
//!   conditional jumps, `ja`, `gotol`, `may_goto`, the three `call` kinds,
//!   `exit`, `ld_imm64` with every pseudo source, legacy `LD_ABS`/`LD_IND`.
//! * [`decode`]/[`encode`] — exact inverses on every encoding the 6.18
//!   verifier's field checks accept.
//! * [`check`] — those field checks with the kernel's messages, split by the
//!   point in the verifier where the kernel makes them, for older kernels
//!   via [`IsaFeatures`].
//! * [`disasm()`] — the verifier log's instruction text for any slot, junk
//!   included, per [`LogEra`].
//!
//! Knowingly not here: checks that need register or program state (the
//! verifier's), kernel-internal encodings a loader cannot submit
//! (`BPF_PROBE_*`, percpu `mov`, `nospec` are only printed), and `gotox`
//! as a decoded instruction (7.x's opcode table, field checks and printer
//! know it; its targets live in jump-table maps, not in the encoding).

#![deny(missing_docs)]

pub mod check;
mod codec;
pub mod defs;
pub mod disasm;
mod error;
mod features;
mod insn;
pub mod table;

pub use check::{
    CheckStep, RegArg, check_all_fields, check_alu_imm, check_fields, check_jmp_operand_fields,
    check_ld_imm64_pair, check_prepass, check_reg, reg_args,
};
pub use codec::{Decoded, Encoded, decode, decode_all, encode};
pub use disasm::{
    DefaultSymbolizer, KERNEL_ADDR_TOKEN, LogEra, Symbolizer, disasm, disasm_program, line,
    normalize_kernel_addresses,
};
pub use error::{InsnError, InsnErrorKind};
pub use features::IsaFeatures;
pub use insn::{Call, Insn, Operand};
pub use table::{
    AluOp, AtomicOp, Endian, JmpOp, OPCODES, Opcode, PseudoSrc, Shape, Size, SwapBits, Width,
    opcode, opcode_in_insntable,
};
