//! Errors: a failed `bpf()` command ([`SysError`]) and the reason the
//! syscall cannot be used at all ([`Unavailable`]).

use std::fmt;

use bpfcheck_uapi::Errno;

/// `strerror`-style text for an errno: `EACCES (13): Permission denied`.
pub fn errno_text(errno: i32) -> String {
    let desc = std::io::Error::from_raw_os_error(errno).to_string();
    // std renders OS errors as "<strerror> (os error N)"; keep the libc part.
    let desc = desc
        .strip_suffix(&format!(" (os error {errno})"))
        .unwrap_or(&desc)
        .to_owned();
    match Errno(errno).name() {
        Some(name) if errno == Errno::ENOTSUPP.0 => {
            // Kernel-internal value that libc has no text for.
            format!("{name} ({errno}): operation not supported (kernel-internal)")
        }
        Some(name) => format!("{name} ({errno}): {desc}"),
        None => format!("errno {errno}: {desc}"),
    }
}

/// A `bpf()` command (or the preparation of one) failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysError {
    /// The command, e.g. `BPF_MAP_CREATE`.
    pub op: &'static str,
    /// The positive errno (for a request the crate refused before calling
    /// the kernel: the errno the kernel would have given, e.g. `EINVAL`).
    pub errno: i32,
    /// `strerror`-style text: `EACCES (13): Permission denied`.
    pub message: String,
    /// What the command was doing, e.g. ``map 1 `counts` ``; may be empty.
    pub context: String,
    /// The kernel's log for commands that have one (`BPF_BTF_LOAD`).
    pub log: Option<String>,
}

impl SysError {
    /// An error for `op` with the given errno and no context.
    pub fn new(op: &'static str, errno: i32) -> Self {
        Self {
            op,
            errno,
            message: errno_text(errno),
            context: String::new(),
            log: None,
        }
    }

    /// Adds what the command was doing; an existing context becomes the
    /// inner part (`outer: inner`).
    pub fn context(mut self, context: impl Into<String>) -> Self {
        let outer = context.into();
        self.context = if self.context.is_empty() {
            outer
        } else {
            format!("{outer}: {}", self.context)
        };
        self
    }

    /// The errno as the uapi newtype.
    pub fn errno(&self) -> Errno {
        Errno(self.errno)
    }
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.op)?;
        if !self.context.is_empty() {
            write!(f, " ({})", self.context)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(last) = self
            .log
            .as_deref()
            .and_then(|l| l.lines().rev().find(|x| !x.trim().is_empty()))
        {
            write!(f, "; kernel log: {last}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SysError {}

/// Why `bpf()` cannot be used in this process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnavailableReason {
    /// `BPFCHECK_NO_KERNEL` is set in the environment.
    DisabledByEnvironment,
    /// `ENOSYS`: the kernel has no `bpf()` (no `CONFIG_BPF_SYSCALL`, or not
    /// Linux), or a seccomp filter answers `ENOSYS`.
    NoSyscall {
        /// Whether a seccomp filter is installed on this process.
        seccomp_filter: bool,
    },
    /// `EPERM` for an unprivileged user, because the sysctl
    /// `kernel.unprivileged_bpf_disabled` is non-zero.
    UnprivilegedDisabled {
        /// Effective uid.
        euid: u32,
        /// The sysctl's value (1: until reboot, 2: until changed by root).
        sysctl: u32,
    },
    /// `EPERM` without `CAP_BPF` or `CAP_SYS_ADMIN` in the effective set.
    MissingCapability {
        /// Effective uid.
        euid: u32,
    },
    /// `EPERM` although the process looks privileged: a seccomp filter, an
    /// LSM (SELinux, AppArmor, lockdown) or a container policy denies it.
    Denied {
        /// Whether a seccomp filter is installed on this process.
        seccomp_filter: bool,
    },
    /// Any other errno from the probe.
    Other,
}

/// `bpf()` is not usable; [`fmt::Display`] explains why in one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unavailable {
    /// The classified cause.
    pub reason: UnavailableReason,
    /// The probe's errno, when a probe ran.
    pub errno: Option<i32>,
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seccomp = |on: bool| {
            if on {
                " (a seccomp filter is active on this process)"
            } else {
                ""
            }
        };
        match &self.reason {
            UnavailableReason::DisabledByEnvironment => {
                f.write_str("disabled by BPFCHECK_NO_KERNEL in the environment")?;
            }
            UnavailableReason::NoSyscall { seccomp_filter } => write!(
                f,
                "the kernel does not provide bpf() (no CONFIG_BPF_SYSCALL, or seccomp returns ENOSYS){}",
                seccomp(*seccomp_filter)
            )?,
            UnavailableReason::UnprivilegedDisabled { euid, sysctl } => write!(
                f,
                "not root (euid {euid}) and kernel.unprivileged_bpf_disabled = {sysctl}; run as root or with CAP_BPF"
            )?,
            UnavailableReason::MissingCapability { euid } => write!(
                f,
                "missing CAP_BPF / CAP_SYS_ADMIN (euid {euid}); run as root or grant CAP_BPF"
            )?,
            UnavailableReason::Denied { seccomp_filter } => write!(
                f,
                "denied although privileged: seccomp, an LSM (SELinux, AppArmor, lockdown) or a container policy{}",
                seccomp(*seccomp_filter)
            )?,
            UnavailableReason::Other => f.write_str("the probe load failed")?,
        }
        if let Some(e) = self.errno {
            write!(f, " [{}]", errno_text(e))?;
        }
        Ok(())
    }
}

impl std::error::Error for Unavailable {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_text_is_strerror_style() {
        assert_eq!(errno_text(13), "EACCES (13): Permission denied");
        assert_eq!(errno_text(28), "ENOSPC (28): No space left on device");
        assert!(errno_text(524).starts_with("ENOTSUPP (524)"));
        assert!(errno_text(19).starts_with("errno 19: "));
    }

    #[test]
    fn sys_error_display() {
        let mut e = SysError::new("BPF_BTF_LOAD", 22).context("program BTF");
        e.log = Some("magic: 0xeb9f\nInvalid name\n\n".into());
        assert_eq!(
            e.to_string(),
            "BPF_BTF_LOAD (program BTF): EINVAL (22): Invalid argument; kernel log: Invalid name"
        );
        assert_eq!(e.errno(), Errno::EINVAL);
    }
}
