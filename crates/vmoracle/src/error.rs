//! The oracle's errors: each names the file or program involved and what
//! failed.

use std::{fmt, path::PathBuf};

/// Why a run could not be set up or finished.
#[derive(Debug)]
pub enum VmError {
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done (`reading the kernel image`).
        action: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The init binary is missing or unusable.
    Init {
        /// Where it was looked for.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A request file or fixture cannot be read as requests.
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Something could not be encoded (batch JSON, cpio entry).
    Encode(String),
    /// QEMU could not be started or controlled.
    Qemu(String),
}

impl VmError {
    /// An [`VmError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            action,
            source,
        }
    }
}

impl fmt::Display for VmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io {
                path,
                action,
                source,
            } => write!(f, "{}: {action}: {source}", path.display()),
            Self::Init { path, message } => {
                write!(f, "init binary {}: {message}", path.display())
            }
            Self::Input { path, message } => write!(f, "{}: {message}", path.display()),
            Self::Encode(m) => write!(f, "cannot encode the initramfs: {m}"),
            Self::Qemu(m) => write!(f, "qemu: {m}"),
        }
    }
}

impl std::error::Error for VmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
