//! The kernel's BPF user-space interface as plain Rust values.
//!
//! This is the leaf of the bpfcheck workspace: raw instructions and their
//! byte orders ([`RawInsn`]), program / attach / map types with the kernel's
//! names, helper ids, the fd-free [`LoadRequest`] that the object loader
//! produces and both the verifier and the `bpf()` layer consume, and the
//! verifier's statistics trailer. It has no logic beyond encoding, names and
//! parsing, and no dependency but serde.

#![deny(missing_docs)]

pub mod errno;
pub mod helper;
pub mod insn;
pub mod load;
pub mod stats;
pub mod types;

pub use errno::Errno;
pub use helper::{HELPER_ID_END, helper_id, helper_name};
pub use insn::{ByteOrder, INSN_SIZE, InsnIdx, RawInsn, RegNo, TrailingBytes, op};
pub use load::{
    FdRef, FuncInfo, LineInfo, LoadRequest, MapSpec, MapSpecError, parse_prog_flags, prog_name_from,
};
pub use stats::{
    VerifierStats, is_level4_line, is_stats_line, last_insn_of_log, strip_level4_lines,
};
pub use types::{AttachType, MapType, ProgType};
