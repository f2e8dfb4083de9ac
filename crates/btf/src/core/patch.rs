//! Rewriting the relocated instruction (libbpf's `bpf_core_patch_insn`).
//!
//! Four forms may carry a CO-RE relocation: ALU/ALU64 with an immediate
//! (`imm` rewritten), LDX/ST/STX (`off` rewritten, and the access size
//! when the field's size changed and that is known to be safe), and
//! `ld_imm64` of a plain constant (both halves rewritten). Anything else
//! is refused. A relocation that resolved to "poison" turns the
//! instruction (both halves for `ld_imm64`) into `call 0xbad2310`, which
//! the verifier rejects only if it is reachable.

use bpfcheck_uapi::{RawInsn, op};

use crate::core::CoreValue;

/// The helper id of a poisoned instruction: `0xbad2310`, "bad relo".
pub const POISON_HELPER: i32 = 0x0bad_2310;

/// A poisoned instruction: `call 0xbad2310`.
pub const POISON_INSN: RawInsn = RawInsn::new(op::JMP | op::CALL, 0, 0, 0, POISON_HELPER);

const LD_IMM64: u8 = op::LD | op::IMM | op::DW;

/// What patching did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorePatch {
    /// `imm` of an ALU instruction changed (or was confirmed).
    Imm {
        /// Previous `imm`.
        old: i32,
        /// New `imm`.
        new: i32,
    },
    /// `off` of a load/store changed, and maybe its access size.
    Off {
        /// Previous `off`.
        old: i16,
        /// New `off`.
        new: i16,
        /// `(old, new)` access size in bytes, when it changed.
        size: Option<(u32, u32)>,
    },
    /// The 64-bit immediate of `ld_imm64` changed.
    Imm64 {
        /// Previous value.
        old: u64,
        /// New value.
        new: u64,
    },
    /// The instruction (both halves of `ld_imm64`) became `call 0xbad2310`.
    Poisoned {
        /// Why: the relocation failed, or the load/store could not be
        /// resized safely.
        why: PoisonCause,
    },
}

/// Why an instruction was poisoned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoisonCause {
    /// No candidate resolved the relocation.
    Unresolved,
    /// The field's size changed and the load/store cannot be resized
    /// safely (not a pointer or an unsigned integer on both sides).
    MemSizeAdjust,
}

/// Why the instruction could not be patched (libbpf fails the load).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorePatchError {
    /// The instruction index is outside the program (or `ld_imm64` is cut).
    OutOfRange,
    /// Not one of the patchable forms.
    Unrecognized {
        /// The instruction.
        insn: RawInsn,
    },
    /// `ld_imm64` with a pseudo source, an offset, or a malformed second half.
    BadLdImm64,
    /// The instruction does not hold the value the compiler's local
    /// type implies.
    UnexpectedValue {
        /// Found in the instruction.
        got: u64,
        /// Expected from the local BTF.
        expected: u64,
        /// What the target asks for.
        new: u64,
    },
    /// A new offset above `i16::MAX`.
    OffsetTooBig {
        /// The offset.
        new: u64,
    },
    /// The load/store's size is not the field's local size.
    UnexpectedMemSize {
        /// The instruction's access size in bytes.
        got: u32,
        /// The local field size.
        expected: u32,
    },
    /// The target field's size is not 1, 2, 4 or 8.
    BadNewMemSize {
        /// The size.
        size: u32,
    },
}

impl std::fmt::Display for CorePatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OutOfRange => write!(f, "instruction outside the program"),
            Self::Unrecognized { insn } => write!(
                f,
                "trying to relocate unrecognized insn (code {:#x}, src {:#x}, dst {:#x}, off {:#x}, imm {:#x})",
                insn.code, insn.src, insn.dst, insn.off, insn.imm
            ),
            Self::BadLdImm64 => write!(f, "ld_imm64 has unexpected form"),
            Self::UnexpectedValue { got, expected, new } => {
                write!(
                    f,
                    "unexpected insn value: got {got}, exp {expected} -> {new}"
                )
            }
            Self::OffsetTooBig { new } => write!(f, "LDX/ST/STX value too big: {new}"),
            Self::UnexpectedMemSize { got, expected } => {
                write!(f, "unexpected mem size: got {got}, exp {expected}")
            }
            Self::BadNewMemSize { size } => write!(f, "invalid new mem size: {size}"),
        }
    }
}

impl std::error::Error for CorePatchError {}

fn mem_bytes(code: u8) -> u32 {
    match code & 0x18 {
        op::DW => 8,
        op::W => 4,
        op::H => 2,
        _ => 1,
    }
}

fn size_code(bytes: u32) -> Option<u8> {
    Some(match bytes {
        8 => op::DW,
        4 => op::W,
        2 => op::H,
        1 => op::B,
        _ => return None,
    })
}

fn poison(insns: &mut [RawInsn], at: usize, why: PoisonCause) -> CorePatch {
    let n = if insns[at].code == LD_IMM64 { 2 } else { 1 };
    for i in insns.iter_mut().skip(at).take(n) {
        *i = POISON_INSN;
    }
    CorePatch::Poisoned { why }
}

/// Patch `insns[at]` with `value`. On error the instructions are unchanged.
pub fn patch_insn(
    insns: &mut [RawInsn],
    at: usize,
    value: &CoreValue,
) -> Result<CorePatch, CorePatchError> {
    let insn = *insns.get(at).ok_or(CorePatchError::OutOfRange)?;
    let (orig, new) = (value.orig, value.new);
    match insn.code & 0x07 {
        op::ALU | op::ALU64 => {
            if insn.code & op::X != 0 {
                return Err(CorePatchError::Unrecognized { insn });
            }
            if value.poison {
                return Ok(poison(insns, at, PoisonCause::Unresolved));
            }
            // C compares the s32 `imm` widened to u64.
            let got = i64::from(insn.imm) as u64;
            if value.validate && got != orig {
                return Err(CorePatchError::UnexpectedValue {
                    got,
                    expected: orig,
                    new,
                });
            }
            insns[at].imm = new as i32;
            Ok(CorePatch::Imm {
                old: insn.imm,
                new: new as i32,
            })
        }
        op::LDX | op::ST | op::STX => {
            if value.poison {
                return Ok(poison(insns, at, PoisonCause::Unresolved));
            }
            let got = i64::from(insn.off) as u64;
            if value.validate && got != orig {
                return Err(CorePatchError::UnexpectedValue {
                    got,
                    expected: orig,
                    new,
                });
            }
            if new > i16::MAX as u64 {
                return Err(CorePatchError::OffsetTooBig { new });
            }
            if value.fail_memsz_adjust {
                return Ok(poison(insns, at, PoisonCause::MemSizeAdjust));
            }
            let mut size = None;
            let mut code = insn.code;
            if value.new_size != value.orig_size {
                let got = mem_bytes(insn.code);
                if got != value.orig_size {
                    return Err(CorePatchError::UnexpectedMemSize {
                        got,
                        expected: value.orig_size,
                    });
                }
                let sz = size_code(value.new_size).ok_or(CorePatchError::BadNewMemSize {
                    size: value.new_size,
                })?;
                code = (insn.code & !0x18) | sz;
                size = Some((value.orig_size, value.new_size));
            }
            insns[at].off = new as i16;
            insns[at].code = code;
            Ok(CorePatch::Off {
                old: insn.off,
                new: new as i16,
                size,
            })
        }
        op::LD => {
            let next = insns.get(at + 1).copied();
            let well_formed = insn.code == LD_IMM64
                && insn.src == 0
                && insn.off == 0
                && next.is_some_and(|n| n.code == 0 && n.dst == 0 && n.src == 0 && n.off == 0);
            let Some(next) = next.filter(|_| well_formed) else {
                return Err(CorePatchError::BadLdImm64);
            };
            if value.poison {
                return Ok(poison(insns, at, PoisonCause::Unresolved));
            }
            let got = u64::from(insn.imm as u32) | (u64::from(next.imm as u32) << 32);
            if value.validate && got != orig {
                return Err(CorePatchError::UnexpectedValue {
                    got,
                    expected: orig,
                    new,
                });
            }
            insns[at].imm = new as u32 as i32;
            insns[at + 1].imm = (new >> 32) as u32 as i32;
            Ok(CorePatch::Imm64 { old: got, new })
        }
        _ => Err(CorePatchError::Unrecognized { insn }),
    }
}
