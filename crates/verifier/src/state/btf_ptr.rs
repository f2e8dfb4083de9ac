//! What a `PTR_TO_BTF_ID` register carries besides its offsets: the
//! kernel type it points to and the type flags that say how far it may be
//! trusted (`PTR_TRUSTED`, `MEM_RCU`, `PTR_UNTRUSTED`) and what memory it
//! is (`MEM_USER`, `MEM_PERCPU`), printed as `reg_type_str` and
//! `print_reg_state` print them.

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

/// Whose object a BTF pointer points to, and so which BTF its type id
/// is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Owner {
    /// A kernel object, typed by the kernel's BTF.
    #[default]
    Kernel,
    /// An object of a type of the program's BTF that the program
    /// allocated (`MEM_ALLOC`): `bpf_obj_new`, `bpf_refcount_acquire`,
    /// a local kptr taken out of a map value.
    Alloc,
    /// Such an object a list or tree owns, reachable while its lock is
    /// held (`MEM_ALLOC | NON_OWN_REF`).
    NonOwning,
}

impl Owner {
    /// Whether the type id is in the program's BTF.
    pub fn local(self) -> bool {
        self != Self::Kernel
    }
}

/// A `PTR_TO_BTF_ID`'s type: the kernel or program type and its flags
/// (`PTR_MAYBE_NULL` is in the pointer's fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtfPtr {
    /// The struct's id in the kernel's BTF, or in the program's for an
    /// allocated object ([`Owner::local`]).
    pub btf_id: u32,
    /// Its name, for the log (`btf_type_name`).
    pub name: TypeName,
    /// Trust flags.
    pub trust: Trust,
    /// User or per-CPU memory.
    pub mem: MemKind,
    /// Kernel object or allocated one.
    pub owner: Owner,
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

/// A kernel type's name held in the register itself, so that a register
/// stays `Copy` without a table shared between verifications.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TypeName {
    len: u8,
    bytes: [u8; TypeName::CAP],
}

impl TypeName {
    /// The longest name held; longer ones are `unsupported` where a
    /// pointer would get them.
    pub const CAP: usize = 63;

    /// `name`, if it fits.
    pub fn new(name: &str) -> Option<Self> {
        let len = name.len();
        if len > Self::CAP {
            return None;
        }
        let mut bytes = [0; Self::CAP];
        bytes[..len].copy_from_slice(name.as_bytes());
        Some(Self {
            len: len as u8,
            bytes,
        })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Built from a `&str` cut at its own end: always UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl std::fmt::Debug for TypeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for TypeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_print_in_the_kernels_order() {
        let mut p = BtfPtr {
            btf_id: 1,
            name: TypeName::new("task_struct").unwrap(),
            trust: Trust::Trusted,
            mem: MemKind::Kernel,
            owner: Owner::Kernel,
        };
        assert_eq!(type_str(&p, false), "trusted_ptr_");
        assert_eq!(type_str(&p, true), "trusted_ptr_or_null_");
        p.trust = Trust::Rcu;
        p.mem = MemKind::User;
        assert_eq!(type_str(&p, false), "user_rcu_ptr_");
        assert_eq!(p.name.as_str(), "task_struct");
    }
}
