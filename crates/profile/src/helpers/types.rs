//! Argument and return types of helper prototypes: the kernel's
//! `enum bpf_arg_type` / `enum bpf_return_type` split into a base type and
//! a set of `enum bpf_type_flag` modifiers.
//!
//! The kernel encodes both in one integer whose flag bits moved between
//! releases; here the base is an enum and the modifiers a typed set, so a
//! consumer matches on `ArgBase::PtrToMem` and asks `flags.has(MemUninit)`.
//! Aliases such as `ARG_PTR_TO_UNINIT_MEM` are expanded by the generator
//! from the kernel's own header, so each profile carries its kernel's
//! meaning of them.

use std::fmt;

/// Defines a fieldless enum with the kernel's spelling of each variant.
macro_rules! kernel_enum {
    ($(#[$m:meta])* $ty:ident { $($(#[$vm:meta])* $v:ident = $k:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub enum $ty {
            $($(#[$vm])* $v,)*
        }

        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$v,)*];

            /// The kernel's name (`ARG_PTR_TO_MEM`, `MEM_RDONLY`, …).
            pub fn kernel_name(self) -> &'static str {
                match self {
                    $(Self::$v => $k,)*
                }
            }

            /// Looks a variant up by its kernel name.
            pub fn from_kernel_name(name: &str) -> Option<Self> {
                match name {
                    $($k => Some(Self::$v),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.kernel_name())
            }
        }
    };
}

kernel_enum! {
    /// Base argument types (`enum bpf_arg_type`, without flags).
    ArgBase {
        /// Unused argument.
        DontCare = "ARG_DONTCARE",
        /// A map pointer loaded with `ld_imm64`.
        ConstMapPtr = "ARG_CONST_MAP_PTR",
        /// Pointer to a key of the preceding map's key size.
        PtrToMapKey = "ARG_PTR_TO_MAP_KEY",
        /// Pointer to a value of the preceding map's value size.
        PtrToMapValue = "ARG_PTR_TO_MAP_VALUE",
        /// Pointer to memory whose size the next argument gives.
        PtrToMem = "ARG_PTR_TO_MEM",
        /// Pointer into a BPF arena.
        PtrToArena = "ARG_PTR_TO_ARENA",
        /// Constant size, > 0.
        ConstSize = "ARG_CONST_SIZE",
        /// Constant size, ≥ 0.
        ConstSizeOrZero = "ARG_CONST_SIZE_OR_ZERO",
        /// The program's context.
        PtrToCtx = "ARG_PTR_TO_CTX",
        /// Any initialised value.
        Anything = "ARG_ANYTHING",
        /// A scalar.
        Scalar = "ARG_SCALAR",
        /// Pointer to a `bpf_spin_lock` in a map value or allocated object.
        PtrToSpinLock = "ARG_PTR_TO_SPIN_LOCK",
        /// Pointer to `sock_common`.
        PtrToSockCommon = "ARG_PTR_TO_SOCK_COMMON",
        /// Pointer to a full socket (`bpf_sock`).
        PtrToSocket = "ARG_PTR_TO_SOCKET",
        /// Pointer to a kernel struct named by the prototype's BTF id.
        PtrToBtfId = "ARG_PTR_TO_BTF_ID",
        /// Memory reserved from a ring buffer.
        PtrToRingbufMem = "ARG_PTR_TO_RINGBUF_MEM",
        /// Allocation size (6.1: ring buffer reservation size).
        ConstAllocSizeOrZero = "ARG_CONST_ALLOC_SIZE_OR_ZERO",
        /// In-kernel `sock_common`, or the BPF-mirrored `bpf_sock`.
        PtrToBtfIdSockCommon = "ARG_PTR_TO_BTF_ID_SOCK_COMMON",
        /// Pointer to a per-CPU kernel variable.
        PtrToPercpuBtfId = "ARG_PTR_TO_PERCPU_BTF_ID",
        /// A BPF subprogram (callback).
        PtrToFunc = "ARG_PTR_TO_FUNC",
        /// Pointer to the stack.
        PtrToStack = "ARG_PTR_TO_STACK",
        /// Pointer to a NUL-terminated read-only string in a frozen map.
        PtrToConstStr = "ARG_PTR_TO_CONST_STR",
        /// Pointer to a `bpf_timer` in a map value.
        PtrToTimer = "ARG_PTR_TO_TIMER",
        /// Destination of `bpf_kptr_xchg` (6.12 name).
        KptrXchgDest = "ARG_KPTR_XCHG_DEST",
        /// Destination of `bpf_kptr_xchg` (6.1 name).
        PtrToKptr = "ARG_PTR_TO_KPTR",
        /// Pointer to a `bpf_dynptr`.
        PtrToDynptr = "ARG_PTR_TO_DYNPTR",
        /// Allocated memory (6.1: ring buffer records).
        PtrToAllocMem = "ARG_PTR_TO_ALLOC_MEM",
    }
}

kernel_enum! {
    /// Base return types (`enum bpf_return_type`, without flags).
    RetBase {
        /// A scalar.
        Integer = "RET_INTEGER",
        /// No value (`r0` is not readable afterwards).
        Void = "RET_VOID",
        /// A map value of the map argument.
        PtrToMapValue = "RET_PTR_TO_MAP_VALUE",
        /// A full socket.
        PtrToSocket = "RET_PTR_TO_SOCKET",
        /// A `bpf_tcp_sock`.
        PtrToTcpSock = "RET_PTR_TO_TCP_SOCK",
        /// A `sock_common`.
        PtrToSockCommon = "RET_PTR_TO_SOCK_COMMON",
        /// Memory of a size given by the prototype or an argument.
        PtrToMem = "RET_PTR_TO_MEM",
        /// Allocated memory (6.1: ring buffer records).
        PtrToAllocMem = "RET_PTR_TO_ALLOC_MEM",
        /// Memory, or a BTF-typed pointer, depending on the argument.
        PtrToMemOrBtfId = "RET_PTR_TO_MEM_OR_BTF_ID",
        /// A kernel struct named by the prototype's return BTF id.
        PtrToBtfId = "RET_PTR_TO_BTF_ID",
    }
}

kernel_enum! {
    /// Type modifiers (`enum bpf_type_flag`) that prototypes use.
    TypeFlag {
        /// The pointer may be NULL.
        PtrMaybeNull = "PTR_MAYBE_NULL",
        /// The memory is only read.
        MemRdonly = "MEM_RDONLY",
        /// Ring buffer memory.
        MemRingbuf = "MEM_RINGBUF",
        /// User-space memory.
        MemUser = "MEM_USER",
        /// Per-CPU memory.
        MemPercpu = "MEM_PERCPU",
        /// The argument is released (its reference ends).
        ObjRelease = "OBJ_RELEASE",
        /// Untrusted pointer.
        PtrUntrusted = "PTR_UNTRUSTED",
        /// The memory may be uninitialised (the helper writes it).
        MemUninit = "MEM_UNINIT",
        /// A local dynptr.
        DynptrTypeLocal = "DYNPTR_TYPE_LOCAL",
        /// A ring buffer dynptr.
        DynptrTypeRingbuf = "DYNPTR_TYPE_RINGBUF",
        /// The size is fixed by the prototype (`argN_size`).
        MemFixedSize = "MEM_FIXED_SIZE",
        /// Allocated object.
        MemAlloc = "MEM_ALLOC",
        /// Trusted pointer.
        PtrTrusted = "PTR_TRUSTED",
        /// RCU-protected pointer.
        MemRcu = "MEM_RCU",
        /// Non-owning reference.
        NonOwnRef = "NON_OWN_REF",
        /// An skb dynptr.
        DynptrTypeSkb = "DYNPTR_TYPE_SKB",
        /// An xdp dynptr.
        DynptrTypeXdp = "DYNPTR_TYPE_XDP",
        /// The memory must be aligned to its size.
        MemAligned = "MEM_ALIGNED",
        /// The helper writes the memory.
        MemWrite = "MEM_WRITE",
    }
}

/// A set of [`TypeFlag`]s.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TypeFlags(u32);

impl TypeFlags {
    /// No modifiers.
    pub const EMPTY: Self = Self(0);

    /// Whether `flag` is in the set.
    pub fn has(self, flag: TypeFlag) -> bool {
        self.0 & (1 << flag as u32) != 0
    }

    /// The set with `flag` added.
    #[must_use]
    pub fn with(self, flag: TypeFlag) -> Self {
        Self(self.0 | 1 << flag as u32)
    }

    /// The flags, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = TypeFlag> {
        TypeFlag::ALL.iter().copied().filter(move |f| self.has(*f))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for TypeFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// `BASE | FLAG | …` as the kernel writes it.
fn write_typed(f: &mut fmt::Formatter<'_>, base: &str, flags: TypeFlags) -> fmt::Result {
    f.write_str(base)?;
    for fl in flags.iter() {
        write!(f, " | {fl}")?;
    }
    Ok(())
}

/// Parses `BASE|FLAG|FLAG` given a base parser.
fn parse_typed<B>(s: &str, base: impl Fn(&str) -> Option<B>) -> Option<(B, TypeFlags)> {
    let mut parts = s.split('|');
    let b = base(parts.next()?)?;
    let mut flags = TypeFlags::EMPTY;
    for p in parts {
        flags = flags.with(TypeFlag::from_kernel_name(p)?);
    }
    Some((b, flags))
}

/// An argument type: base plus modifiers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ArgType {
    /// The base type.
    pub base: ArgBase,
    /// Its modifiers.
    pub flags: TypeFlags,
}

impl ArgType {
    /// An unused argument.
    pub const DONTCARE: Self = Self {
        base: ArgBase::DontCare,
        flags: TypeFlags::EMPTY,
    };

    /// Parses the data file's `BASE|FLAG|…` spelling.
    pub fn parse(s: &str) -> Option<Self> {
        parse_typed(s, ArgBase::from_kernel_name).map(|(base, flags)| Self { base, flags })
    }

    /// Whether the argument may be NULL (`PTR_MAYBE_NULL`).
    pub fn maybe_null(self) -> bool {
        self.flags.has(TypeFlag::PtrMaybeNull)
    }
}

impl fmt::Display for ArgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_typed(f, self.base.kernel_name(), self.flags)
    }
}

/// A return type: base plus modifiers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RetType {
    /// The base type.
    pub base: RetBase,
    /// Its modifiers.
    pub flags: TypeFlags,
}

impl RetType {
    /// Parses the data file's `BASE|FLAG|…` spelling.
    pub fn parse(s: &str) -> Option<Self> {
        parse_typed(s, RetBase::from_kernel_name).map(|(base, flags)| Self { base, flags })
    }
}

impl fmt::Display for RetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_typed(f, self.base.kernel_name(), self.flags)
    }
}

/// The kernel type a BTF-typed argument or return value points to.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum BtfRef {
    /// A named type, e.g. `struct task_struct`: kind keyword and name.
    Named {
        /// `struct`, `union`, `typedef`…
        kind: &'static str,
        /// The type's name.
        name: &'static str,
    },
    /// `BPF_PTR_POISON`: the verifier takes the type from elsewhere (the
    /// map's kptr field, the spin lock's owner).
    FromContext,
}

impl BtfRef {
    fn parse(s: &'static str) -> Option<Self> {
        if s == "poison" {
            return Some(Self::FromContext);
        }
        let (kind, name) = s.split_once(':')?;
        Some(Self::Named { kind, name })
    }
}

impl fmt::Display for BtfRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Named { kind, name } => write!(f, "{kind} {name}"),
            Self::FromContext => f.write_str("BPF_PTR_POISON"),
        }
    }
}

pub(crate) fn parse_btf_ref(s: &'static str) -> Option<BtfRef> {
    BtfRef::parse(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse_and_print_like_the_kernel() {
        let a = ArgType::parse("ARG_PTR_TO_MEM|MEM_RDONLY|PTR_MAYBE_NULL").unwrap();
        assert_eq!(a.base, ArgBase::PtrToMem);
        assert!(a.maybe_null() && a.flags.has(TypeFlag::MemRdonly));
        assert!(!a.flags.has(TypeFlag::MemUninit));
        assert_eq!(
            a.to_string(),
            "ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_RDONLY"
        );
        assert_eq!(ArgType::parse("ARG_NOPE"), None);
        assert_eq!(ArgType::parse("ARG_ANYTHING|NOT_A_FLAG"), None);
        let r = RetType::parse("RET_PTR_TO_MAP_VALUE|PTR_MAYBE_NULL").unwrap();
        assert_eq!(r.base, RetBase::PtrToMapValue);
        assert_eq!(
            BtfRef::parse("struct:task_struct").unwrap().to_string(),
            "struct task_struct"
        );
    }
}
