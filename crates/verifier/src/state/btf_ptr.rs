//! What a `PTR_TO_BTF_ID` register carries besides its offsets: the
//! kernel type it points to and the type flags that say how far it may be
//! trusted (`PTR_TRUSTED`, `MEM_RCU`, `PTR_UNTRUSTED`) and what memory it
//! is (`MEM_USER`, `MEM_PERCPU`), printed as `reg_type_str` and
//! `print_reg_state` print them.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

/// How far a BTF pointer is trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Trust {
    /// No flag: the legacy pointer that helpers still take.
    #[default]
    Plain,
    /// `PTR_TRUSTED`: valid for the whole program (arguments, referenced
    /// objects, fields on the trusted lists).
    Trusted,
    /// `MEM_RCU`: valid inside an RCU read-side section.
    Rcu,
    /// `PTR_UNTRUSTED`: loads only, through exception-handled probes.
    Untrusted,
}

/// The memory a BTF pointer points to, when not the kernel's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MemKind {
    /// Kernel memory.
    #[default]
    Kernel,
    /// `MEM_USER` (`__user`): not to be dereferenced.
    User,
    /// `MEM_PERCPU` (`__percpu`): to be turned into a CPU's copy first.
    Percpu,
}

/// A `PTR_TO_BTF_ID`'s type: the kernel type and its flags
/// (`PTR_MAYBE_NULL` is in the pointer's fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtfPtr {
    /// The struct's id in the kernel's BTF.
    pub btf_id: u32,
    /// Its name, for the log (`btf_type_name`).
    pub name: &'static str,
    /// Trust flags.
    pub trust: Trust,
    /// User or per-CPU memory.
    pub mem: MemKind,
}

/// `reg_type_str` of `PTR_TO_BTF_ID` with its flags: the prefixes in the
/// kernel's order (`user_`, `percpu_`, `rcu_`, `untrusted_`, `trusted_`),
/// `ptr_`, and `or_null_` for `PTR_MAYBE_NULL`.
pub fn type_str(p: &BtfPtr, maybe_null: bool) -> &'static str {
    const STRS: [[[&str; 2]; 4]; 3] = [
        [
            ["ptr_", "ptr_or_null_"],
            ["trusted_ptr_", "trusted_ptr_or_null_"],
            ["rcu_ptr_", "rcu_ptr_or_null_"],
            ["untrusted_ptr_", "untrusted_ptr_or_null_"],
        ],
        [
            ["user_ptr_", "user_ptr_or_null_"],
            ["user_trusted_ptr_", "user_trusted_ptr_or_null_"],
            ["user_rcu_ptr_", "user_rcu_ptr_or_null_"],
            ["user_untrusted_ptr_", "user_untrusted_ptr_or_null_"],
        ],
        [
            ["percpu_ptr_", "percpu_ptr_or_null_"],
            ["percpu_trusted_ptr_", "percpu_trusted_ptr_or_null_"],
            ["percpu_rcu_ptr_", "percpu_rcu_ptr_or_null_"],
            ["percpu_untrusted_ptr_", "percpu_untrusted_ptr_or_null_"],
        ],
    ];
    let mem = match p.mem {
        MemKind::Kernel => 0,
        MemKind::User => 1,
        MemKind::Percpu => 2,
    };
    let trust = match p.trust {
        Trust::Plain => 0,
        Trust::Trusted => 1,
        Trust::Rcu => 2,
        Trust::Untrusted => 3,
    };
    STRS[mem][trust][usize::from(maybe_null)]
}

/// The kernel type names registers print, kept for the life of the
/// process so that a register stays `Copy`: one allocation per distinct
/// name, a bounded set (the names of the kernels' BTF).
pub fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(n) = names.get(name) {
        return n;
    }
    let n: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(n);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_print_in_the_kernels_order() {
        let mut p = BtfPtr {
            btf_id: 1,
            name: intern("task_struct"),
            trust: Trust::Trusted,
            mem: MemKind::Kernel,
        };
        assert_eq!(type_str(&p, false), "trusted_ptr_");
        assert_eq!(type_str(&p, true), "trusted_ptr_or_null_");
        p.trust = Trust::Rcu;
        p.mem = MemKind::User;
        assert_eq!(type_str(&p, false), "user_rcu_ptr_");
        assert!(std::ptr::eq(intern("task_struct"), p.name));
    }
}
