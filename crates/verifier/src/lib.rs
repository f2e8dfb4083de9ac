//! bpfcheck's verifier: a pure function from a load request and a kernel
//! profile to the verdict, error, log and statistics that kernel's
//! verifier would produce.
//!
//! [`verify`] reads no files, keeps no global state, and uses no `unsafe`.
//! The program arrives as a [`LoadRequest`] (what `BPF_PROG_LOAD` receives;
//! never an ELF) and everything about the kernel comes from the
//! [`KernelProfile`].
//!
//! # Kernel checks implemented
//!
//! Attribute checks of `bpf_prog_load` (syscall.c), no log written:
//! - unknown `prog_flags` bits (`EINVAL`); zero or too many instructions
//!   (`E2BIG`); unknown program type (`EINVAL`);
//! - `expected_attach_type` against the program type for programs without a
//!   BTF attach target (`bpf_prog_load_check_attach`).
//!
//! The passes of `bpf_check` before abstract interpretation, in order, with
//! the kernel's messages and errnos:
//! - `add_subprog_and_kfunc`: subprogram discovery from bpf-to-bpf calls and
//!   `ld_imm64` function references, `call to invalid destination`,
//!   `too many subprograms`, the `CAP_BPF` requirement, the level-2
//!   `func#N @M` table;
//! - `check_subprogs`: `jump out of range from insn %d to %d`,
//!   `last insn is not an exit or jmp`;
//! - `resolve_pseudo_ldimm64`: `BPF_LDX uses reserved fields`,
//!   `invalid bpf_ld_imm64 insn`, `unrecognized bpf_ld_imm64 insn`,
//!   `fd_idx without fd_array is invalid`, bad map references, direct
//!   map-value addressing (`direct value offset …`, `no direct value access
//!   support for this map type`, `invalid access to map value pointer …`),
//!   the map/program compatibility rules that need no BTF (struct_ops maps,
//!   sleepable programs' map types), the per-program map limit, one cgroup
//!   storage per type, and `unknown opcode %02x`;
//! - `check_cfg`: `unreachable insn %d`, `jump into the middle of ldimm64
//!   insn %d`, `back-edge from insn %d to %d` when loops are not allowed.
//!
//! Per-instruction encoding checks that `do_check` makes when it first
//! reaches an instruction (`BPF_ALU uses reserved fields`, `invalid shift`,
//! `BPF_ATOMIC uses invalid atomic opcode …` …) are applied in instruction
//! order after the passes above; see "Knowingly not implemented".
//!
//! # Knowingly not implemented (yet)
//!
//! - Abstract interpretation (`do_check`): register and stack state,
//!   memory access, helpers, branches, pruning. A program that passes every
//!   check above gets the `unsupported` verdict naming it; it is never
//!   accepted on a guess.
//! - Because of that, a per-instruction encoding error is reported for the
//!   first such instruction in program order, while the kernel reports it
//!   only if a path reaches it, after any state error earlier on that path,
//!   and never in code its branch analysis proves dead. The log of such a
//!   rejection is not produced (the kernel's holds the states of the path).
//! - Anything that needs the kernel's or the program's BTF: kfunc calls,
//!   `ld_imm64` of BTF ids, maps with BTF-described values, BTF attach
//!   targets, `func_info`/`line_info` validation, exception callbacks. Each
//!   gives `unsupported` naming the feature.

#![deny(missing_docs)]

/// The scalar value domain: tnums, range bounds, ALU and branch transfer
/// functions, and their log text.
pub mod domain;
mod error;
mod log;
mod prepare;

use bpfcheck_isa::check_all_fields;
pub use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::{Errno, InsnIdx, LoadRequest, VerifierStats};
pub use error::{ErrorCode, Unsupported, VerifierError};
pub use log::{LOG_LEVEL1, LOG_LEVEL2, LOG_STATS, stats_trailer};

use crate::{error::Stop, log::Log};

/// Options of one verification, as `BPF_PROG_LOAD`'s log attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// `log_level`: bits [`LOG_LEVEL1`], [`LOG_LEVEL2`], [`LOG_STATS`].
    pub log_level: u32,
}

/// The judgement on a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The kernel would load it.
    Accepted,
    /// The kernel would refuse it.
    Rejected,
    /// bpfcheck cannot judge it yet; [`Verification::unsupported`] says why.
    Unsupported,
}

/// Everything [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// The verdict.
    pub verdict: Verdict,
    /// Why it was rejected.
    pub error: Option<VerifierError>,
    /// What bpfcheck could not judge.
    pub unsupported: Option<Unsupported>,
    /// The kernel-format log before the statistics trailer, when bpfcheck
    /// can produce it exactly; `None` when it cannot (see the crate docs).
    pub log: Option<String>,
    /// The statistics, when known (see [`stats_trailer`] to render them).
    pub stats: Option<VerifierStats>,
}

impl Verification {
    /// The errno `bpf()` would return, when rejected.
    pub fn errno(&self) -> Option<Errno> {
        self.error.as_ref().map(|e| e.errno)
    }

    /// The instruction of the error or of the unsupported feature.
    pub fn insn(&self) -> Option<InsnIdx> {
        self.error
            .as_ref()
            .and_then(|e| e.insn)
            .or(self.unsupported.as_ref().and_then(|u| u.insn))
    }
}

/// Verifies one program as `profile`'s kernel would.
pub fn verify(req: &LoadRequest, profile: &KernelProfile, opts: &VerifyOptions) -> Verification {
    let mut log = Log::new(opts.log_level);
    // Statistics of a load refused before interpretation: nothing processed.
    let zero_stats = || VerifierStats {
        insn_limit: u64::from(profile.limits.complexity_insns),
        ..VerifierStats::default()
    };
    match prepare::run(req, profile, &mut log) {
        Err(Stop::Reject(err)) => {
            // Attribute refusals happen before the verifier's log exists.
            let pre_verifier = err.message.is_empty();
            log.line(&err.message);
            Verification {
                verdict: Verdict::Rejected,
                error: Some(err),
                unsupported: None,
                log: if pre_verifier {
                    Some(String::new())
                } else {
                    Some(log.into_text())
                },
                stats: if pre_verifier {
                    None
                } else {
                    Some(zero_stats())
                },
            }
        }
        Err(Stop::Unsupported(u)) => unsupported(u),
        Ok(()) => match first_encoding_error(req, profile) {
            Some(err) => Verification {
                verdict: Verdict::Rejected,
                error: Some(err),
                unsupported: None,
                log: None,
                stats: None,
            },
            None => unsupported(Unsupported::new(
                "abstract interpretation (do_check)",
                Some(0),
            )),
        },
    }
}

fn unsupported(u: Unsupported) -> Verification {
    Verification {
        verdict: Verdict::Unsupported,
        error: None,
        unsupported: Some(u),
        log: None,
        stats: None,
    }
}

/// The first instruction whose encoding `do_check` would refuse.
fn first_encoding_error(req: &LoadRequest, profile: &KernelProfile) -> Option<VerifierError> {
    let mut i = 0;
    while i < req.insns.len() {
        if let Err(e) = check_all_fields(&req.insns, i, &profile.isa) {
            return Some(e.into());
        }
        i += if prepare::subprogs::is_ldimm64(&req.insns[i]) {
            2
        } else {
            1
        };
    }
    None
}
