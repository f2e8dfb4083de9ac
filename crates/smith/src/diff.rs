//! Differential checking: bpfcheck's `verify()` against the running
//! kernel's verifier on the same load request.

use std::os::fd::AsFd as _;

use bpfcheck_interp::{Config, Input, Interpreter};
use bpfcheck_profile::KernelProfile;
use bpfcheck_sys::{Kernel, LoadOptions, SysError, TestRun};
use bpfcheck_uapi::{LoadRequest, ProgType};
use bpfcheck_verifier::{LOG_LEVEL1, LOG_STATS, Verdict, Verification, VerifyOptions, verify};

/// Bytes of the Ethernet header `BPF_PROG_TEST_RUN` parses.
const ETH_HLEN: usize = 14;

/// What the kernel said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelAnswer {
    /// Loaded.
    pub accepted: bool,
    /// errno of a refusal.
    pub errno: Option<i32>,
    /// The verifier's error line of a refusal.
    pub error_line: Option<String>,
    /// `processed N insns`, when the log had statistics.
    pub insns_processed: Option<u64>,
}

/// How bpfcheck and the kernel compare on one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Class {
    /// Same verdict, same error line, same instruction count.
    Agree,
    /// bpfcheck answered `unsupported` (the feature it names).
    Unsupported(String),
    /// A difference.
    Disagree(Disagreement),
}

/// The kinds of difference, most important first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disagreement {
    /// One accepts, the other rejects.
    Verdict {
        /// Whether the kernel is the one accepting.
        kernel_accepted: bool,
        /// bpfcheck's error line, when it rejected.
        bpfcheck_error: Option<String>,
    },
    /// Both reject, with different error lines.
    ErrorLine {
        /// The kernel's line.
        kernel: String,
        /// bpfcheck's line.
        bpfcheck: String,
    },
    /// Same verdict, different `processed N insns`.
    InsnsProcessed {
        /// The kernel's count.
        kernel: u64,
        /// bpfcheck's count.
        bpfcheck: u64,
    },
}

impl Disagreement {
    /// The class a reduction must keep: the kind, which side accepts, and
    /// both error lines with their numbers blanked.
    pub fn key(&self) -> String {
        match self {
            Self::Verdict {
                kernel_accepted, ..
            } => format!(
                "verdict: kernel {}",
                if *kernel_accepted {
                    "accepts"
                } else {
                    "rejects"
                }
            ),
            Self::ErrorLine { kernel, bpfcheck } => format!(
                "error line: kernel `{}`, bpfcheck `{}`",
                blank_numbers(kernel),
                blank_numbers(bpfcheck)
            ),
            Self::InsnsProcessed { .. } => "insns processed".to_owned(),
        }
    }

    /// A one-line description.
    pub fn describe(&self) -> String {
        match self {
            Self::Verdict {
                kernel_accepted: true,
                bpfcheck_error,
            } => format!(
                "kernel accepts, bpfcheck rejects: {}",
                bpfcheck_error.as_deref().unwrap_or("")
            ),
            Self::Verdict { .. } => "kernel rejects, bpfcheck accepts".to_owned(),
            Self::ErrorLine { kernel, bpfcheck } => {
                format!("error line: kernel `{kernel}`, bpfcheck `{bpfcheck}`")
            }
            Self::InsnsProcessed { kernel, bpfcheck } => {
                format!("insns processed: kernel {kernel}, bpfcheck {bpfcheck}")
            }
        }
    }
}

fn blank_numbers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_num = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_num {
                out.push('N');
            }
            in_num = true;
        } else {
            in_num = false;
            out.push(c);
        }
    }
    out
}

/// Compares the two answers.
pub fn classify(k: &KernelAnswer, v: &Verification) -> Class {
    let bpfcheck_error = v.error.as_ref().map(|e| e.message.clone());
    match v.verdict {
        Verdict::Unsupported => {
            let what = v
                .unsupported
                .as_ref()
                .map_or_else(String::new, |u| u.to_string());
            return Class::Unsupported(what);
        }
        Verdict::Accepted if !k.accepted => {
            return Class::Disagree(Disagreement::Verdict {
                kernel_accepted: false,
                bpfcheck_error,
            });
        }
        Verdict::Rejected if k.accepted => {
            return Class::Disagree(Disagreement::Verdict {
                kernel_accepted: true,
                bpfcheck_error,
            });
        }
        Verdict::Rejected => {
            let kernel = k.error_line.clone().unwrap_or_default();
            let ours = bpfcheck_error.unwrap_or_default();
            if kernel.trim_end() != ours.trim_end() {
                return Class::Disagree(Disagreement::ErrorLine {
                    kernel,
                    bpfcheck: ours,
                });
            }
        }
        Verdict::Accepted => {}
    }
    match (
        k.insns_processed,
        v.stats.as_ref().map(|s| s.insns_processed),
    ) {
        (Some(kernel), Some(bpfcheck)) if kernel != bpfcheck => {
            Class::Disagree(Disagreement::InsnsProcessed { kernel, bpfcheck })
        }
        _ => Class::Agree,
    }
}

/// Both verifiers: the running kernel and bpfcheck with its profile.
#[derive(Debug)]
pub struct Oracle {
    kernel: Kernel,
    profile: KernelProfile,
}

impl Oracle {
    /// The running kernel, and bpfcheck with the profile for its release
    /// (`/proc/sys/kernel/osrelease`).
    pub fn host() -> Result<Self, String> {
        let kernel = Kernel::probe().map_err(|e| format!("bpf() unavailable: {e}"))?;
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_err(|e| format!("/proc/sys/kernel/osrelease: {e}"))?;
        let profile = KernelProfile::for_release(release.trim(), None)
            .map_err(|e| format!("no profile for {}: {e:?}", release.trim()))?;
        Ok(Self { kernel, profile })
    }

    /// The profile bpfcheck uses.
    pub fn profile(&self) -> &KernelProfile {
        &self.profile
    }

    /// The kernel's answer.
    pub fn kernel(&self, req: &LoadRequest) -> Result<KernelAnswer, SysError> {
        let opts = LoadOptions {
            log_level: 1 | 4,
            ..LoadOptions::default()
        };
        let out = self.kernel.load(req, &opts)?;
        let insns_processed = out
            .stats
            .as_ref()
            .map(|s| s.insns_processed)
            .or(out.verified_insns.map(u64::from));
        Ok(KernelAnswer {
            accepted: out.accepted,
            errno: out.errno,
            error_line: out.error_line,
            insns_processed,
        })
    }

    /// Loads `req` and, if the kernel accepts it, runs it once with
    /// `BPF_PROG_TEST_RUN` on `packet` next to the interpreter; returns
    /// `(kernel retval, interpreter R0)`, or `None` when the kernel refused
    /// it, the interpreter stopped with a fault, or the result is not
    /// comparable (R0 a pointer, uninitialised stack read).
    pub fn execute(
        &self,
        req: &LoadRequest,
        packet: &[u8],
    ) -> Result<Option<(u32, u64)>, SysError> {
        let out = self.kernel.load(
            req,
            &LoadOptions {
                log_level: 0,
                ..LoadOptions::default()
            },
        )?;
        let Some(fd) = out.prog_fd.as_ref() else {
            return Ok(None);
        };
        let run = TestRun {
            data_in: packet,
            ..TestRun::default()
        };
        let kernel = self.kernel.test_run(fd.as_fd(), &run)?.retval;
        // The test run's skb has `eth_type_trans()` pulled the Ethernet
        // header: a socket filter's data and `len` start after it; tc
        // programs (layer 2) see it pushed back. The other context fields
        // the generator reads stay zero.
        let seen = match req.prog_type {
            ProgType::SOCKET_FILTER => packet.get(ETH_HLEN..).unwrap_or_default(),
            _ => packet,
        };
        let mut ctx = vec![0u8; 192];
        if req.prog_type != ProgType::XDP {
            ctx[..4].copy_from_slice(&(seen.len() as u32).to_le_bytes());
        }
        let input = Input {
            ctx,
            packet: seen.to_vec(),
        };
        // Leftover stack contents and pointer values are not comparable.
        Ok(Interpreter::new(req, Config::default())
            .run(&input)
            .ok()
            .filter(|o| !o.r0_is_pointer && o.uninit_stack_reads == 0)
            .map(|o| (kernel, o.r0)))
    }

    /// bpfcheck's answer.
    pub fn bpfcheck(&self, req: &LoadRequest) -> Verification {
        verify(
            req,
            &self.profile,
            &VerifyOptions {
                log_level: LOG_LEVEL1 | LOG_STATS,
            },
        )
    }

    /// Both answers and how they compare.
    pub fn check(
        &self,
        req: &LoadRequest,
    ) -> Result<(Class, KernelAnswer, Verification), SysError> {
        let k = self.kernel(req)?;
        let v = self.bpfcheck(req);
        Ok((classify(&k, &v), k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_blanked() {
        assert_eq!(
            blank_numbers("R12 invalid mem access 'scalar' off=-8"),
            "RN invalid mem access 'scalar' off=-N"
        );
    }
}
