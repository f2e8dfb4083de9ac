//! The errno values the `bpf()` command returns, with their C names, so that
//! bpfcheck and the live kernel report rejections in the same terms.

use std::fmt;

/// A positive errno value as `bpf()` reports it (`-errno` in the kernel).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Errno(pub i32);

#[allow(missing_docs)]
impl Errno {
    pub const EPERM: Self = Self(1);
    pub const ENOENT: Self = Self(2);
    pub const ESRCH: Self = Self(3);
    pub const E2BIG: Self = Self(7);
    pub const EBADF: Self = Self(9);
    pub const EAGAIN: Self = Self(11);
    pub const ENOMEM: Self = Self(12);
    pub const EACCES: Self = Self(13);
    pub const EFAULT: Self = Self(14);
    pub const EBUSY: Self = Self(16);
    pub const EEXIST: Self = Self(17);
    pub const EXDEV: Self = Self(18);
    pub const EINVAL: Self = Self(22);
    pub const ENOSPC: Self = Self(28);
    pub const ERANGE: Self = Self(34);
    pub const ENOSYS: Self = Self(38);
    pub const ELOOP: Self = Self(40);
    pub const EPROTO: Self = Self(71);
    pub const EOPNOTSUPP: Self = Self(95);
    pub const ENOTSUPP: Self = Self(524);

    const NAMES: &'static [(i32, &'static str)] = &[
        (1, "EPERM"),
        (2, "ENOENT"),
        (3, "ESRCH"),
        (7, "E2BIG"),
        (9, "EBADF"),
        (11, "EAGAIN"),
        (12, "ENOMEM"),
        (13, "EACCES"),
        (14, "EFAULT"),
        (16, "EBUSY"),
        (17, "EEXIST"),
        (18, "EXDEV"),
        (22, "EINVAL"),
        (28, "ENOSPC"),
        (34, "ERANGE"),
        (38, "ENOSYS"),
        (40, "ELOOP"),
        (71, "EPROTO"),
        (95, "EOPNOTSUPP"),
        (524, "ENOTSUPP"),
    ];

    /// The C name (`EINVAL`), when this table knows it.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES
            .iter()
            .find(|(v, _)| *v == self.0)
            .map(|(_, n)| *n)
    }

    /// Parses `EINVAL` or a number.
    pub fn from_name(s: &str) -> Option<Self> {
        if let Ok(n) = s.parse() {
            return Some(Self(n));
        }
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(v, _)| Self(*v))
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "errno {}", self.0),
        }
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(Errno::EINVAL.to_string(), "EINVAL");
        assert_eq!(Errno::from_name("EPROTO"), Some(Errno(71)));
        assert_eq!(Errno(1234).to_string(), "errno 1234");
    }
}
