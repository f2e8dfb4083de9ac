//! Attach targets the kernel keeps lists of: BPF LSM hooks and BPF
//! iterator targets.
//!
//! The data is generated from kernel sources (`tools/gen-profile/gen_attach.py`,
//! `data/attach-NAME.txt`):
//!
//! ```text
//! rule lsm_retval_range yes|no        bpf_lsm_get_retval_range() exists
//! lsm HOOK ret=int|void|bool [disabled] [sleepable] [untrusted]
//! iter TARGET [FIELD=REG_TYPE]...     a bpf_iter_reg and its ctx_arg_info
//! ```
//!
//! An `lsm` line is one `LSM_HOOK` of `lsm_hook_defs.h` (the
//! `bpf_lsm_hooks` set), named without its `bpf_lsm_` prefix; its flags
//! say which of `bpf_lsm_disabled_hooks`, `sleepable_lsm_hooks` and
//! `untrusted_lsm_hooks` hold it, and `ret=bool` marks `bool_lsm_hooks`.
//! An `iter` line names the context fields (`struct bpf_iter__TARGET`)
//! the registration types, with their register types as the kernel
//! writes them. Hooks and targets are keyed by name; whether the kernel
//! was built with one is its BTF's to say.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// What an LSM hook returns, for its return-value range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LsmRet {
    /// 0 or a negative errno.
    Int,
    /// 0 or 1 (`bool_lsm_hooks`).
    Bool,
    /// Nothing: the program's return value is not checked.
    Void,
}

/// One LSM hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LsmHook {
    /// What it returns.
    pub ret: LsmRet,
    /// In `bpf_lsm_disabled_hooks`.
    pub disabled: bool,
    /// In `sleepable_lsm_hooks`.
    pub sleepable: bool,
    /// In `untrusted_lsm_hooks`: its arguments are not trusted pointers.
    pub untrusted: bool,
}

/// The register type of an iterator's context field (`ctx_arg_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IterArg {
    /// `PTR_TO_BTF_ID_OR_NULL`, `PTR_TRUSTED` when `trusted`.
    BtfIdOrNull {
        /// `PTR_TRUSTED`.
        trusted: bool,
    },
    /// `PTR_TO_BUF | PTR_MAYBE_NULL`, `MEM_RDONLY` when `rdonly`.
    BufOrNull {
        /// `MEM_RDONLY`.
        rdonly: bool,
    },
}

impl IterArg {
    fn parse(s: &str) -> Option<Self> {
        let mut flags: Vec<&str> = s.split('|').collect();
        flags.sort_unstable();
        Some(match flags.as_slice() {
            ["PTR_TO_BTF_ID_OR_NULL"] => Self::BtfIdOrNull { trusted: false },
            ["PTR_TO_BTF_ID_OR_NULL", "PTR_TRUSTED"] => Self::BtfIdOrNull { trusted: true },
            ["PTR_MAYBE_NULL", "PTR_TO_BUF"] => Self::BufOrNull { rdonly: false },
            ["MEM_RDONLY", "PTR_MAYBE_NULL", "PTR_TO_BUF"] => Self::BufOrNull { rdonly: true },
            _ => return None,
        })
    }
}

/// A registered iterator target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IterTarget {
    /// `ctx_arg_info`: the field of `struct bpf_iter__TARGET` and its type.
    pub args: Vec<(String, IterArg)>,
}

/// One kernel's attach-target lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttachTable {
    /// `bpf_lsm_get_retval_range`: LSM programs' return values are
    /// checked against their hook's range.
    pub lsm_retval_range: bool,
    lsm: BTreeMap<String, LsmHook>,
    iters: BTreeMap<String, IterTarget>,
}

impl AttachTable {
    /// Parses the data format of the module documentation.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut t = Self::default();
        for (n, line) in text.lines().enumerate() {
            let bad = || format!("attach data line {}: {line:?}", n + 1);
            let mut w = line.split_whitespace();
            match w.next() {
                None | Some("kernel") => {}
                Some(c) if c.starts_with('#') => {}
                Some("rule") => match (w.next(), w.next()) {
                    (Some("lsm_retval_range"), Some(v)) => t.lsm_retval_range = v == "yes",
                    _ => return Err(bad()),
                },
                Some("lsm") => {
                    let name = w.next().ok_or_else(bad)?;
                    let mut hook = LsmHook {
                        ret: LsmRet::Int,
                        disabled: false,
                        sleepable: false,
                        untrusted: false,
                    };
                    for f in w {
                        match f {
                            "ret=int" => hook.ret = LsmRet::Int,
                            "ret=bool" => hook.ret = LsmRet::Bool,
                            "ret=void" => hook.ret = LsmRet::Void,
                            "disabled" => hook.disabled = true,
                            "sleepable" => hook.sleepable = true,
                            "untrusted" => hook.untrusted = true,
                            _ => return Err(bad()),
                        }
                    }
                    t.lsm.insert(name.to_owned(), hook);
                }
                Some("iter") => {
                    let name = w.next().ok_or_else(bad)?;
                    let mut args = Vec::new();
                    for a in w {
                        let (field, ty) = a.split_once('=').ok_or_else(bad)?;
                        args.push((field.to_owned(), IterArg::parse(ty).ok_or_else(bad)?));
                    }
                    t.iters.insert(name.to_owned(), IterTarget { args });
                }
                Some(_) => return Err(bad()),
            }
        }
        Ok(t)
    }

    /// The hook of `bpf_lsm_NAME`, by `NAME`.
    pub fn lsm_hook(&self, name: &str) -> Option<&LsmHook> {
        self.lsm.get(name)
    }

    /// The registered iterator target `TARGET` (of `bpf_iter_TARGET`).
    pub fn iter_target(&self, name: &str) -> Option<&IterTarget> {
        self.iters.get(name)
    }
}

/// The kernels with embedded attach-target data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttachData {
    /// Linux 6.1 (Debian's source subset).
    V6_1,
    /// Linux 6.12 (Debian's source subset).
    V6_12,
    /// Linux 6.18: what 6.12's and 7.2's data share.
    V6_18,
    /// Linux 7.2 (Debian sid's source).
    V7_2,
}

static TEXT_6_1: &str = include_str!("../data/attach-6.1.txt");
static TEXT_6_12: &str = include_str!("../data/attach-6.12.txt");
static TEXT_6_18: &str = include_str!("../data/attach-6.18.txt");
static TEXT_7_2: &str = include_str!("../data/attach-7.2.txt");

type Loaded = OnceLock<Result<AttachTable, String>>;
static TABLE_6_1: Loaded = OnceLock::new();
static TABLE_6_12: Loaded = OnceLock::new();
static TABLE_6_18: Loaded = OnceLock::new();
static TABLE_7_2: Loaded = OnceLock::new();

impl AttachData {
    /// The embedded text.
    pub fn text(self) -> &'static str {
        match self {
            Self::V6_1 => TEXT_6_1,
            Self::V6_12 => TEXT_6_12,
            Self::V6_18 => TEXT_6_18,
            Self::V7_2 => TEXT_7_2,
        }
    }

    /// The parsed table, parsed on first use.
    pub fn table(self) -> Result<&'static AttachTable, String> {
        let cell = match self {
            Self::V6_1 => &TABLE_6_1,
            Self::V6_12 => &TABLE_6_12,
            Self::V6_18 => &TABLE_6_18,
            Self::V7_2 => &TABLE_7_2,
        };
        cell.get_or_init(|| AttachTable::parse(self.text()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_parses() {
        for d in [
            AttachData::V6_1,
            AttachData::V6_12,
            AttachData::V6_18,
            AttachData::V7_2,
        ] {
            let t = d.table().unwrap();
            assert!(t.lsm.len() > 200, "{d:?}");
            assert!(t.iter_target("task").is_some(), "{d:?}");
        }
    }

    #[test]
    fn hooks_and_targets_per_kernel() {
        let t = AttachData::V6_12.table().unwrap();
        assert!(t.lsm_retval_range);
        let h = t.lsm_hook("file_open").unwrap();
        assert_eq!(h.ret, LsmRet::Int);
        assert!(h.sleepable && !h.untrusted && !h.disabled);
        assert!(t.lsm_hook("task_free").unwrap().untrusted);
        assert!(t.lsm_hook("getprocattr").unwrap().disabled);
        assert_eq!(t.lsm_hook("audit_rule_known").unwrap().ret, LsmRet::Bool);
        assert_eq!(t.lsm_hook("file_free_security").unwrap().ret, LsmRet::Void);
        assert_eq!(
            t.iter_target("task").unwrap().args,
            vec![("task".to_owned(), IterArg::BtfIdOrNull { trusted: true })]
        );
        assert_eq!(
            t.iter_target("sockmap").unwrap().args[0].1,
            IterArg::BufOrNull { rdonly: true }
        );
        let old = AttachData::V6_1.table().unwrap();
        assert!(!old.lsm_retval_range);
        assert_eq!(
            old.iter_target("task").unwrap().args[0].1,
            IterArg::BtfIdOrNull { trusted: false }
        );
    }
}
