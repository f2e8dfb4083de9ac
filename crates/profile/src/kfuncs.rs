//! Kfunc registrations: which kfuncs a kernel registers for which program
//! types, with their `KF_*` flags (`register_btf_kfunc_id_set`).
//!
//! The data is generated from kernel sources and filtered by the profile's
//! BTF (`tools/gen-profile/kfuncs.sh`, `data/kfuncs-NAME.txt`):
//!
//! ```text
//! hook PROG_TYPE HOOK              bpf_prog_type_to_kfunc_hook()
//! kfunc NAME HOOK FLAGS [filter=FN]
//! ```
//!
//! Kfuncs are keyed by name: BTF ids differ between builds of one release,
//! names do not. Prototypes are not here: they are the kernel BTF's, read
//! by the verifier when a program first calls a kfunc.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use bpfcheck_uapi::ProgType;

/// `KF_*` flags of a registration (the kernel's bit values).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KfuncFlags(pub u32);

impl KfuncFlags {
    /// `KF_ACQUIRE`.
    pub const ACQUIRE: u32 = 1 << 0;
    /// `KF_RELEASE`.
    pub const RELEASE: u32 = 1 << 1;
    /// `KF_RET_NULL`.
    pub const RET_NULL: u32 = 1 << 2;
    /// `KF_TRUSTED_ARGS` (gone in 7.x, where trusted arguments are the rule).
    pub const TRUSTED_ARGS: u32 = 1 << 4;
    /// `KF_SLEEPABLE`.
    pub const SLEEPABLE: u32 = 1 << 5;
    /// `KF_DESTRUCTIVE`.
    pub const DESTRUCTIVE: u32 = 1 << 6;
    /// `KF_RCU`.
    pub const RCU: u32 = 1 << 7;
    /// `KF_ITER_NEW`.
    pub const ITER_NEW: u32 = 1 << 8;
    /// `KF_ITER_NEXT`.
    pub const ITER_NEXT: u32 = 1 << 9;
    /// `KF_ITER_DESTROY`.
    pub const ITER_DESTROY: u32 = 1 << 10;
    /// `KF_RCU_PROTECTED`.
    pub const RCU_PROTECTED: u32 = 1 << 11;
    /// `KF_FASTCALL`.
    pub const FASTCALL: u32 = 1 << 12;
    /// `KF_ARENA_RET`.
    pub const ARENA_RET: u32 = 1 << 13;
    /// `KF_ARENA_ARG1`.
    pub const ARENA_ARG1: u32 = 1 << 14;
    /// `KF_ARENA_ARG2`.
    pub const ARENA_ARG2: u32 = 1 << 15;
    /// `KF_IMPLICIT_ARGS`.
    pub const IMPLICIT_ARGS: u32 = 1 << 16;

    const NAMES: [(&'static str, u32); 16] = [
        ("ACQUIRE", Self::ACQUIRE),
        ("RELEASE", Self::RELEASE),
        ("RET_NULL", Self::RET_NULL),
        ("TRUSTED_ARGS", Self::TRUSTED_ARGS),
        ("SLEEPABLE", Self::SLEEPABLE),
        ("DESTRUCTIVE", Self::DESTRUCTIVE),
        ("RCU", Self::RCU),
        ("ITER_NEW", Self::ITER_NEW),
        ("ITER_NEXT", Self::ITER_NEXT),
        ("ITER_DESTROY", Self::ITER_DESTROY),
        ("RCU_PROTECTED", Self::RCU_PROTECTED),
        ("FASTCALL", Self::FASTCALL),
        ("ARENA_RET", Self::ARENA_RET),
        ("ARENA_ARG1", Self::ARENA_ARG1),
        ("ARENA_ARG2", Self::ARENA_ARG2),
        ("IMPLICIT_ARGS", Self::IMPLICIT_ARGS),
    ];

    /// Whether every bit of `flag` is set.
    pub fn has(self, flag: u32) -> bool {
        self.0 & flag == flag
    }

    fn parse(s: &str) -> Option<Self> {
        if s == "-" {
            return Some(Self(0));
        }
        s.split('|').try_fold(Self(0), |acc, name| {
            let (_, bit) = Self::NAMES.iter().find(|(n, _)| *n == name)?;
            Some(Self(acc.0 | bit))
        })
    }
}

/// One kfunc set membership: a kfunc in one hook's set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The hook (`common`, `tracing`, `tc`, …).
    pub hook: &'static str,
    /// The kfunc's flags in that set.
    pub flags: KfuncFlags,
    /// The `btf_kfunc_id_set` filter function that further restricts it.
    pub filter: Option<&'static str>,
}

/// What `btf_kfunc_flags`/`btf_kfunc_is_allowed` answer for one kfunc and
/// one program type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KfuncAccess<'a> {
    /// Registered for the program (the common hook first, then the
    /// program type's).
    Allowed(&'a Registration),
    /// Registered for other program types only: `calling kernel function
    /// %s is not allowed`.
    NotAllowed,
    /// Not in any set this data knows (a kfunc of source the generator did
    /// not read, or no kfunc at all).
    Unknown,
}

/// A kernel's parsed kfunc registrations.
#[derive(Debug, Default)]
pub struct KfuncTable {
    hooks: BTreeMap<&'static str, &'static str>,
    by_name: BTreeMap<&'static str, Vec<Registration>>,
    /// `trusted_args listed`: only the kfuncs carrying `KF_TRUSTED_ARGS`
    /// are known to have it (a source without the flag, facts proven on
    /// the live kernel added).
    trusted_args_listed: bool,
}

impl KfuncTable {
    /// Parses the generated text.
    pub fn parse(text: &'static str) -> Result<Self, String> {
        let mut t = Self::default();
        for (n, line) in text.lines().enumerate() {
            let bad = || format!("kfunc data line {}: {line}", n + 1);
            let words: Vec<&'static str> = line.split_whitespace().collect();
            match words.as_slice() {
                [] => {}
                [first, ..] if first.starts_with('#') => {}
                ["hook", prog_type, hook] => {
                    t.hooks.insert(prog_type, hook);
                }
                ["trusted_args", "listed"] => t.trusted_args_listed = true,
                ["kfunc", name, hook, flags, rest @ ..] => {
                    let flags = KfuncFlags::parse(flags).ok_or_else(bad)?;
                    let filter = match rest {
                        [] => None,
                        [f] => Some(f.strip_prefix("filter=").ok_or_else(bad)?),
                        _ => return Err(bad()),
                    };
                    t.by_name.entry(name).or_default().push(Registration {
                        hook,
                        flags,
                        filter,
                    });
                }
                _ => return Err(bad()),
            }
        }
        Ok(t)
    }

    /// The hook a program type's kfuncs are looked up in
    /// (`bpf_prog_type_to_kfunc_hook`); `None` for types without one.
    pub fn hook_of(&self, prog_type: ProgType) -> Option<&'static str> {
        self.hooks.get(prog_type.name()?).copied()
    }

    /// Every registration of `name`.
    pub fn registrations(&self, name: &str) -> &[Registration] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// Whether any registration carries `flag` (a kernel whose data never
    /// does may not know it).
    pub fn uses_flag(&self, flag: u32) -> bool {
        self.by_name.values().flatten().any(|r| r.flags.has(flag))
    }

    /// Whether the data says if `name` has `KF_TRUSTED_ARGS`: a source
    /// with the flag says it of every kfunc; one without it (7.x, where
    /// trusted arguments are the rule) only of the kfuncs proven to have
    /// it.
    pub fn trusted_args_known(&self, name: &str) -> bool {
        if self.trusted_args_listed {
            self.registrations(name)
                .iter()
                .any(|r| r.flags.has(KfuncFlags::TRUSTED_ARGS))
        } else {
            self.uses_flag(KfuncFlags::TRUSTED_ARGS)
        }
    }

    /// Every kfunc name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_name.keys().copied()
    }

    /// Whether `name` may be called by a program of `prog_type`, and with
    /// which flags: the common hook's set first, then the type's hook.
    pub fn access(&self, name: &str, prog_type: ProgType) -> KfuncAccess<'_> {
        let regs = self.registrations(name);
        if regs.is_empty() {
            return KfuncAccess::Unknown;
        }
        let hook = self.hook_of(prog_type);
        let find = |h: &str| regs.iter().find(|r| r.hook == h);
        match find("common").or_else(|| hook.and_then(find)) {
            Some(r) => KfuncAccess::Allowed(r),
            None => KfuncAccess::NotAllowed,
        }
    }
}

/// The kernels with embedded kfunc data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KfuncData {
    /// Linux 6.12 (Debian's source, its BTF).
    V6_12,
    /// Linux 6.18: 7.2's source, kept to the kfuncs 6.18's BTF tags.
    V6_18,
    /// Linux 7.2 (Debian sid's source, its BTF).
    V7_2,
}

static TEXT_6_12: &str = include_str!("../data/kfuncs-6.12.txt");
static TEXT_6_18: &str = include_str!("../data/kfuncs-6.18.txt");
static TEXT_7_2: &str = include_str!("../data/kfuncs-7.2.txt");

type Loaded = OnceLock<Result<KfuncTable, String>>;
static TABLE_6_12: Loaded = OnceLock::new();
static TABLE_6_18: Loaded = OnceLock::new();
static TABLE_7_2: Loaded = OnceLock::new();

impl KfuncData {
    /// The embedded text.
    pub fn text(self) -> &'static str {
        match self {
            Self::V6_12 => TEXT_6_12,
            Self::V6_18 => TEXT_6_18,
            Self::V7_2 => TEXT_7_2,
        }
    }

    /// The parsed table, parsed on first use.
    pub fn table(self) -> Result<&'static KfuncTable, String> {
        let cell = match self {
            Self::V6_12 => &TABLE_6_12,
            Self::V6_18 => &TABLE_6_18,
            Self::V7_2 => &TABLE_7_2,
        };
        cell.get_or_init(|| KfuncTable::parse(self.text()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_parses() {
        for d in [KfuncData::V6_12, KfuncData::V6_18, KfuncData::V7_2] {
            let t = d.table().unwrap();
            assert!(t.names().count() > 100, "{d:?}");
            assert_eq!(t.hook_of(ProgType::XDP), Some("xdp"));
            assert_eq!(t.hook_of(ProgType::SCHED_CLS), Some("tc"));
        }
    }

    #[test]
    fn trusted_args_are_known_where_the_data_says() {
        let t = KfuncData::V6_12.table().unwrap();
        assert!(t.trusted_args_known("bpf_task_acquire"));
        let t = KfuncData::V6_18.table().unwrap();
        assert!(t.trusted_args_known("bpf_cpumask_acquire"));
        assert!(!t.trusted_args_known("bpf_task_acquire"));
        let t = KfuncData::V7_2.table().unwrap();
        assert!(!t.trusted_args_known("bpf_cpumask_acquire"));
    }

    #[test]
    fn common_kfuncs_everywhere_typed_ones_by_hook() {
        let t = KfuncData::V6_18.table().unwrap();
        for pt in [ProgType::SOCKET_FILTER, ProgType::XDP, ProgType::KPROBE] {
            assert!(matches!(
                t.access("bpf_rcu_read_lock", pt),
                KfuncAccess::Allowed(_)
            ));
        }
        let KfuncAccess::Allowed(r) = t.access("bpf_task_acquire", ProgType::TRACEPOINT) else {
            panic!("bpf_task_acquire for tracepoints");
        };
        assert!(r.flags.has(KfuncFlags::ACQUIRE | KfuncFlags::RET_NULL));
        assert_eq!(
            t.access("bpf_task_acquire", ProgType::SOCKET_FILTER),
            KfuncAccess::NotAllowed
        );
        assert_eq!(
            t.access("no_such_kfunc", ProgType::XDP),
            KfuncAccess::Unknown
        );
    }

    #[test]
    fn hooks_differ_between_6_12_and_7_2() {
        // 7.x looks raw tracepoints up in the tracing hook and sock_ops
        // programs in the cgroup hook; 6.12 has no hook for either.
        let old = KfuncData::V6_12.table().unwrap();
        let new = KfuncData::V7_2.table().unwrap();
        assert_eq!(old.hook_of(ProgType::RAW_TRACEPOINT), None);
        assert_eq!(new.hook_of(ProgType::RAW_TRACEPOINT), Some("tracing"));
        assert_eq!(old.hook_of(ProgType::SOCK_OPS), None);
        assert_eq!(new.hook_of(ProgType::SOCK_OPS), Some("cgroup"));
    }

    #[test]
    fn flags_parse() {
        assert_eq!(KfuncFlags::parse("-"), Some(KfuncFlags(0)));
        assert_eq!(
            KfuncFlags::parse("ACQUIRE|RET_NULL"),
            Some(KfuncFlags(KfuncFlags::ACQUIRE | KfuncFlags::RET_NULL))
        );
        assert_eq!(KfuncFlags::parse("NOPE"), None);
    }
}
