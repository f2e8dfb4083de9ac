//! Deciding whether `bpf()` is usable, and saying why not.

use crate::{Unavailable, UnavailableReason};

/// `CAP_SYS_ADMIN`.
const CAP_SYS_ADMIN: u32 = 21;
/// `CAP_BPF` (5.8+).
const CAP_BPF: u32 = 39;

/// The environment variable that makes [`crate::Kernel::probe`] report
/// `bpf()` as unavailable (any value but empty or `0`), so that callers can
/// exercise their no-kernel paths on a machine where it works.
pub const NO_KERNEL_ENV: &str = "BPFCHECK_NO_KERNEL";

/// What the process knows about its own privileges, read from `/proc`. Every
/// field is `None` when its source could not be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessFacts {
    /// Effective uid (`Uid:` line of `/proc/self/status`).
    pub euid: Option<u32>,
    /// Effective capability set (`CapEff:`).
    pub cap_eff: Option<u64>,
    /// Seccomp mode (`Seccomp:`; 2 is "filter").
    pub seccomp_mode: Option<u32>,
    /// `/proc/sys/kernel/unprivileged_bpf_disabled`.
    pub unprivileged_bpf_disabled: Option<u32>,
}

impl ProcessFacts {
    /// Reads the facts of the calling process.
    pub fn current() -> Self {
        let mut facts = std::fs::read_to_string("/proc/self/status")
            .map(|s| Self::from_status(&s))
            .unwrap_or_default();
        facts.unprivileged_bpf_disabled =
            std::fs::read_to_string("/proc/sys/kernel/unprivileged_bpf_disabled")
                .ok()
                .and_then(|s| s.trim().parse().ok());
        facts
    }

    /// Parses the `Uid:`, `CapEff:` and `Seccomp:` lines of a
    /// `/proc/<pid>/status` text.
    pub fn from_status(status: &str) -> Self {
        let mut facts = Self::default();
        for line in status.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key {
                // real, effective, saved, filesystem
                "Uid" => facts.euid = value.split_whitespace().nth(1).and_then(|v| v.parse().ok()),
                "CapEff" => facts.cap_eff = u64::from_str_radix(value, 16).ok(),
                "Seccomp" => facts.seccomp_mode = value.parse().ok(),
                _ => {}
            }
        }
        facts
    }

    fn has_cap(&self, cap: u32) -> bool {
        self.cap_eff.is_some_and(|c| c & (1u64 << cap) != 0)
    }

    fn seccomp_filter(&self) -> bool {
        self.seccomp_mode == Some(2)
    }
}

impl Unavailable {
    /// Classifies the errno of a failed probe load given the process's facts.
    pub fn classify(errno: i32, facts: &ProcessFacts) -> Self {
        let euid = facts.euid.unwrap_or(u32::MAX);
        let privileged = facts.has_cap(CAP_BPF) || facts.has_cap(CAP_SYS_ADMIN);
        let reason = match errno {
            libc::ENOSYS => UnavailableReason::NoSyscall {
                seccomp_filter: facts.seccomp_filter(),
            },
            libc::EPERM | libc::EACCES => {
                if privileged {
                    UnavailableReason::Denied {
                        seccomp_filter: facts.seccomp_filter(),
                    }
                } else if euid != 0 {
                    match facts.unprivileged_bpf_disabled {
                        Some(0) => UnavailableReason::Denied {
                            seccomp_filter: facts.seccomp_filter(),
                        },
                        Some(sysctl) => UnavailableReason::UnprivilegedDisabled { euid, sysctl },
                        None => UnavailableReason::MissingCapability { euid },
                    }
                } else {
                    UnavailableReason::MissingCapability { euid }
                }
            }
            _ => UnavailableReason::Other,
        };
        Self {
            reason,
            errno: Some(errno),
        }
    }

    /// The reason when [`NO_KERNEL_ENV`] is set.
    pub(crate) fn disabled_by_environment() -> Option<Self> {
        let v = std::env::var_os(NO_KERNEL_ENV)?;
        (!v.is_empty() && v != "0").then_some(Self {
            reason: UnavailableReason::DisabledByEnvironment,
            errno: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT_STATUS: &str =
        "Name:\tcargo\nUid:\t0\t0\t0\t0\nCapEff:\t000001ffffffffff\nSeccomp:\t0\n";

    #[test]
    fn parses_status() {
        let f = ProcessFacts::from_status(ROOT_STATUS);
        assert_eq!(f.euid, Some(0));
        assert!(f.has_cap(CAP_BPF) && f.has_cap(CAP_SYS_ADMIN));
        assert_eq!(f.seccomp_mode, Some(0));
        let f = ProcessFacts::from_status("Uid:\t1000\t1001\t1000\t1000\nCapEff:\t0\n");
        assert_eq!(f.euid, Some(1001));
        assert_eq!(f.cap_eff, Some(0));
    }

    #[test]
    fn classifies_probe_errors() {
        let user = ProcessFacts {
            euid: Some(1000),
            cap_eff: Some(0),
            seccomp_mode: Some(0),
            unprivileged_bpf_disabled: Some(2),
        };
        let u = Unavailable::classify(libc::EPERM, &user);
        assert_eq!(
            u.reason,
            UnavailableReason::UnprivilegedDisabled {
                euid: 1000,
                sysctl: 2
            }
        );
        let text = u.to_string();
        assert!(
            text.contains("kernel.unprivileged_bpf_disabled = 2"),
            "{text}"
        );
        assert!(
            text.contains("EPERM (1): Operation not permitted"),
            "{text}"
        );

        let root_no_caps = ProcessFacts {
            euid: Some(0),
            cap_eff: Some(0),
            ..user
        };
        assert_eq!(
            Unavailable::classify(libc::EPERM, &root_no_caps).reason,
            UnavailableReason::MissingCapability { euid: 0 }
        );

        let root_seccomp = ProcessFacts {
            seccomp_mode: Some(2),
            ..ProcessFacts::from_status(ROOT_STATUS)
        };
        let u = Unavailable::classify(libc::EPERM, &root_seccomp);
        assert_eq!(
            u.reason,
            UnavailableReason::Denied {
                seccomp_filter: true
            }
        );
        assert!(u.to_string().contains("seccomp filter is active"));

        let u = Unavailable::classify(libc::ENOSYS, &ProcessFacts::default());
        assert!(
            u.to_string()
                .starts_with("the kernel does not provide bpf()")
        );
        assert!(u.to_string().contains("ENOSYS (38)"));

        assert_eq!(
            Unavailable::classify(libc::EINVAL, &ProcessFacts::default()).reason,
            UnavailableReason::Other
        );
    }
}
