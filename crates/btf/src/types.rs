//! Type ids, kinds and zero-copy per-kind views of type records.
//!
//! A view borrows the [`Btf`] it came from, so names resolve without
//! passing the BTF around. The trailing data of each record (members,
//! params, enum values, …) had its length checked when the BTF was
//! opened, so reading it cannot fail.

use crate::Btf;
use crate::error::Result;
use crate::header::Endian;
use std::fmt;

/// A BTF type id. Id 0 is `void`; in split BTF, ids continue after the base's.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BtfTypeId(pub u32);

impl BtfTypeId {
    /// The `void` type.
    pub const VOID: Self = Self(0);

    /// Whether this is `void`.
    pub fn is_void(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for BtfTypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.0)
    }
}

impl fmt::Display for BtfTypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.0)
    }
}

/// The kind of a BTF type (`BTF_KIND_*`). `Void` is kind 0, which only
/// type id 0 may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[allow(missing_docs)] // the names are the kernel's
pub enum BtfKind {
    Void = 0,
    Int = 1,
    Ptr = 2,
    Array = 3,
    Struct = 4,
    Union = 5,
    Enum = 6,
    Fwd = 7,
    Typedef = 8,
    Volatile = 9,
    Const = 10,
    Restrict = 11,
    Func = 12,
    FuncProto = 13,
    Var = 14,
    Datasec = 15,
    Float = 16,
    DeclTag = 17,
    TypeTag = 18,
    Enum64 = 19,
}

impl BtfKind {
    /// All kinds, indexed by their number.
    pub const ALL: [BtfKind; 20] = [
        Self::Void,
        Self::Int,
        Self::Ptr,
        Self::Array,
        Self::Struct,
        Self::Union,
        Self::Enum,
        Self::Fwd,
        Self::Typedef,
        Self::Volatile,
        Self::Const,
        Self::Restrict,
        Self::Func,
        Self::FuncProto,
        Self::Var,
        Self::Datasec,
        Self::Float,
        Self::DeclTag,
        Self::TypeTag,
        Self::Enum64,
    ];

    /// The kind with this number, if defined.
    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.get(usize::from(v)).copied()
    }

    /// The kernel's name, as `bpftool btf dump` prints it (`STRUCT`, `FUNC_PROTO`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Void => "UNKN",
            Self::Int => "INT",
            Self::Ptr => "PTR",
            Self::Array => "ARRAY",
            Self::Struct => "STRUCT",
            Self::Union => "UNION",
            Self::Enum => "ENUM",
            Self::Fwd => "FWD",
            Self::Typedef => "TYPEDEF",
            Self::Volatile => "VOLATILE",
            Self::Const => "CONST",
            Self::Restrict => "RESTRICT",
            Self::Func => "FUNC",
            Self::FuncProto => "FUNC_PROTO",
            Self::Var => "VAR",
            Self::Datasec => "DATASEC",
            Self::Float => "FLOAT",
            Self::DeclTag => "DECL_TAG",
            Self::TypeTag => "TYPE_TAG",
            Self::Enum64 => "ENUM64",
        }
    }

    /// Size of the data following `struct btf_type` for a record of this
    /// kind with `vlen` entries.
    pub fn extra_len(self, vlen: u16) -> usize {
        let v = usize::from(vlen);
        match self {
            Self::Int | Self::Var | Self::DeclTag => 4,
            Self::Array => 12,
            Self::Struct | Self::Union | Self::Datasec | Self::Enum64 => 12 * v,
            Self::Enum | Self::FuncProto => 8 * v,
            _ => 0,
        }
    }

    /// Kinds whose `size_or_type` field is a type id.
    pub fn has_ref(self) -> bool {
        matches!(
            self,
            Self::Ptr
                | Self::Typedef
                | Self::Volatile
                | Self::Const
                | Self::Restrict
                | Self::Func
                | Self::FuncProto
                | Self::Var
                | Self::DeclTag
                | Self::TypeTag
        )
    }

    /// Modifiers that [`Btf::resolve`] skips: typedef, volatile, const, restrict, type tag.
    pub fn is_modifier(self) -> bool {
        matches!(
            self,
            Self::Typedef | Self::Volatile | Self::Const | Self::Restrict | Self::TypeTag
        )
    }

    /// Struct or union.
    pub fn is_composite(self) -> bool {
        matches!(self, Self::Struct | Self::Union)
    }
}

impl fmt::Display for BtfKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The common part of every type record: `struct btf_type` plus its
/// trailing bytes.
#[derive(Clone, Copy)]
pub struct RawType<'b> {
    pub(crate) btf: &'b Btf<'b>,
    pub(crate) id: BtfTypeId,
    pub(crate) kind: BtfKind,
    pub(crate) name_off: u32,
    pub(crate) info: u32,
    pub(crate) size_or_type: u32,
    pub(crate) extra: &'b [u8],
    pub(crate) endian: Endian,
}

impl fmt::Debug for RawType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawType")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("name_off", &self.name_off)
            .field("info", &format_args!("{:#x}", self.info))
            .field("size_or_type", &self.size_or_type)
            .finish()
    }
}

impl<'b> RawType<'b> {
    /// Type id.
    pub fn id(&self) -> BtfTypeId {
        self.id
    }
    /// Kind.
    pub fn kind(&self) -> BtfKind {
        self.kind
    }
    /// Offset of the name in the string section(s).
    pub fn name_off(&self) -> u32 {
        self.name_off
    }
    /// The name; `""` for anonymous types.
    pub fn name(&self) -> Result<&'b str> {
        self.btf.str_at(self.name_off)
    }
    /// The raw `info` word.
    pub fn info(&self) -> u32 {
        self.info
    }
    /// `vlen`: number of members/params/values/entries (or func linkage).
    pub fn vlen(&self) -> u16 {
        (self.info & 0xffff) as u16
    }
    /// The `kind_flag` bit.
    pub fn kind_flag(&self) -> bool {
        self.info >> 31 != 0
    }
    /// The raw `size`/`type` union.
    pub fn size_or_type(&self) -> u32 {
        self.size_or_type
    }
    /// The trailing bytes after `struct btf_type`.
    pub fn extra(&self) -> &'b [u8] {
        self.extra
    }
    /// The BTF this record belongs to.
    pub fn btf(&self) -> &'b Btf<'b> {
        self.btf
    }
    #[inline]
    fn word(&self, i: usize) -> u32 {
        self.endian.u32_or0(self.extra, i * 4)
    }
}

macro_rules! view {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug)]
        pub struct $name<'b>(pub(crate) RawType<'b>);

        impl<'b> std::ops::Deref for $name<'b> {
            type Target = RawType<'b>;
            fn deref(&self) -> &RawType<'b> {
                &self.0
            }
        }
    };
}

view!(
    /// `BTF_KIND_INT`.
    Int
);
view!(
    /// PTR, TYPEDEF, VOLATILE, CONST, RESTRICT and TYPE_TAG: a single reference.
    Ref
);
view!(
    /// `BTF_KIND_ARRAY`.
    Array
);
view!(
    /// `BTF_KIND_STRUCT` / `BTF_KIND_UNION`.
    Composite
);
view!(
    /// `BTF_KIND_ENUM` / `BTF_KIND_ENUM64`.
    Enum
);
view!(
    /// `BTF_KIND_FWD`.
    Fwd
);
view!(
    /// `BTF_KIND_FUNC`.
    Func
);
view!(
    /// `BTF_KIND_FUNC_PROTO`.
    FuncProto
);
view!(
    /// `BTF_KIND_VAR`.
    Var
);
view!(
    /// `BTF_KIND_DATASEC`.
    Datasec
);
view!(
    /// `BTF_KIND_FLOAT`.
    Float
);
view!(
    /// `BTF_KIND_DECL_TAG`.
    DeclTag
);

/// `BTF_INT_ENCODING` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntEncoding {
    /// Unsigned (no bits set).
    Unsigned,
    /// `BTF_INT_SIGNED`.
    Signed,
    /// `BTF_INT_CHAR`.
    Char,
    /// `BTF_INT_BOOL`.
    Bool,
    /// Any other combination (rejected by validation).
    Other(u8),
}

impl<'b> Int<'b> {
    /// Size in bytes.
    pub fn size(&self) -> u32 {
        self.size_or_type
    }
    fn data(&self) -> u32 {
        self.word(0)
    }
    /// The encoding nibble.
    pub fn encoding(&self) -> IntEncoding {
        match (self.data() >> 24) & 0xf {
            0 => IntEncoding::Unsigned,
            1 => IntEncoding::Signed,
            2 => IntEncoding::Char,
            4 => IntEncoding::Bool,
            v => IntEncoding::Other(v as u8),
        }
    }
    /// Whether the encoding is `BTF_INT_SIGNED`.
    pub fn is_signed(&self) -> bool {
        self.encoding() == IntEncoding::Signed
    }
    /// `BTF_INT_OFFSET`: bit offset of the value within its storage.
    pub fn bit_offset(&self) -> u8 {
        (self.data() >> 16) as u8
    }
    /// `BTF_INT_BITS`: number of value bits.
    pub fn bits(&self) -> u8 {
        self.data() as u8
    }
    /// The raw int data word.
    pub fn raw_data(&self) -> u32 {
        self.data()
    }
}

impl<'b> Ref<'b> {
    /// The referenced type.
    pub fn target(&self) -> BtfTypeId {
        BtfTypeId(self.size_or_type)
    }
    /// For TYPE_TAG (6.14+): kind_flag set means the tag is a raw
    /// `__attribute__((…))` rather than a `btf_type_tag`.
    pub fn is_attribute(&self) -> bool {
        self.kind == BtfKind::TypeTag && self.kind_flag()
    }
}

impl<'b> Array<'b> {
    /// Element type.
    pub fn elem_type(&self) -> BtfTypeId {
        BtfTypeId(self.word(0))
    }
    /// Index type.
    pub fn index_type(&self) -> BtfTypeId {
        BtfTypeId(self.word(1))
    }
    /// Number of elements.
    pub fn nelems(&self) -> u32 {
        self.word(2)
    }
}

/// One struct/union member.
#[derive(Clone, Copy, Debug)]
pub struct Member<'b> {
    btf: &'b Btf<'b>,
    /// Index within the parent.
    pub index: u16,
    /// Name offset (0 for anonymous members).
    pub name_off: u32,
    /// Member type.
    pub ty: BtfTypeId,
    /// Offset from the start of the parent, in bits.
    pub bit_offset: u32,
    /// Bitfield width; 0 when not a bitfield (or when the parent lacks
    /// kind_flag and the width lives in an INT's encoding).
    pub bitfield_size: u8,
}

impl<'b> Member<'b> {
    /// The member name; `""` for anonymous members.
    pub fn name(&self) -> Result<&'b str> {
        self.btf.str_at(self.name_off)
    }
}

impl<'b> Composite<'b> {
    /// Size in bytes.
    pub fn size(&self) -> u32 {
        self.size_or_type
    }
    /// Whether this is a union.
    pub fn is_union(&self) -> bool {
        self.kind == BtfKind::Union
    }
    /// Number of members.
    pub fn len(&self) -> usize {
        usize::from(self.vlen())
    }
    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.vlen() == 0
    }
    /// Member `i`, if it exists. With kind_flag set, `offset` packs the
    /// bitfield size (top 8 bits) and the bit offset (low 24 bits).
    pub fn member(&self, i: usize) -> Option<Member<'b>> {
        if i >= self.len() {
            return None;
        }
        let raw = self.0;
        let off = raw.word(i * 3 + 2);
        let (bit_offset, bitfield_size) = if raw.kind_flag() {
            (off & 0x00ff_ffff, (off >> 24) as u8)
        } else {
            (off, 0)
        };
        Some(Member {
            btf: raw.btf,
            index: i as u16,
            name_off: raw.word(i * 3),
            ty: BtfTypeId(raw.word(i * 3 + 1)),
            bit_offset,
            bitfield_size,
        })
    }
    /// All members in order.
    pub fn members(&self) -> impl ExactSizeIterator<Item = Member<'b>> + 'b {
        let this = *self;
        (0..self.len()).map(move |i| {
            // `i < len` so `member` is `Some`; the fallback keeps this total.
            this.member(i).unwrap_or(Member {
                btf: this.0.btf,
                index: i as u16,
                name_off: 0,
                ty: BtfTypeId::VOID,
                bit_offset: 0,
                bitfield_size: 0,
            })
        })
    }
}

/// One enumerator of an ENUM or ENUM64.
#[derive(Clone, Copy, Debug)]
pub struct EnumValue<'b> {
    btf: &'b Btf<'b>,
    /// Name offset.
    pub name_off: u32,
    /// The value as 64 bits: sign-extended from 32 bits for a signed ENUM,
    /// zero-extended for an unsigned one.
    pub raw: u64,
}

impl<'b> EnumValue<'b> {
    /// The enumerator's name.
    pub fn name(&self) -> Result<&'b str> {
        self.btf.str_at(self.name_off)
    }
    /// The value read as signed.
    pub fn as_i64(&self) -> i64 {
        self.raw as i64
    }
}

impl<'b> Enum<'b> {
    /// Size in bytes.
    pub fn size(&self) -> u32 {
        self.size_or_type
    }
    /// kind_flag: the values are signed.
    pub fn is_signed(&self) -> bool {
        self.kind_flag()
    }
    /// Whether this is an ENUM64.
    pub fn is_64(&self) -> bool {
        self.kind == BtfKind::Enum64
    }
    /// Number of enumerators.
    pub fn len(&self) -> usize {
        usize::from(self.vlen())
    }
    /// Whether there are no enumerators (a forward-declared enum).
    pub fn is_empty(&self) -> bool {
        self.vlen() == 0
    }
    /// Enumerator `i`.
    pub fn value(&self, i: usize) -> Option<EnumValue<'b>> {
        if i >= self.len() {
            return None;
        }
        let raw = self.0;
        let (name_off, v) = if self.is_64() {
            let lo = u64::from(raw.word(i * 3 + 1));
            let hi = u64::from(raw.word(i * 3 + 2));
            (raw.word(i * 3), hi << 32 | lo)
        } else {
            let v = raw.word(i * 2 + 1);
            let v = if self.is_signed() {
                i64::from(v as i32) as u64
            } else {
                u64::from(v)
            };
            (raw.word(i * 2), v)
        };
        Some(EnumValue {
            btf: raw.btf,
            name_off,
            raw: v,
        })
    }
    /// All enumerators in order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = EnumValue<'b>> + 'b {
        let this = *self;
        (0..self.len()).map(move |i| {
            this.value(i).unwrap_or(EnumValue {
                btf: this.0.btf,
                name_off: 0,
                raw: 0,
            })
        })
    }
}

impl<'b> Fwd<'b> {
    /// kind_flag: a forward-declared union rather than a struct.
    pub fn is_union(&self) -> bool {
        self.kind_flag()
    }
}

/// `enum btf_func_linkage`, and for VAR, `BTF_VAR_*` (same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Linkage {
    /// `static`.
    Static,
    /// Global (for VAR: `BTF_VAR_GLOBAL_ALLOCATED`).
    Global,
    /// `extern`.
    Extern,
    /// Any other value (rejected by validation).
    Other(u32),
}

impl Linkage {
    /// From the raw number.
    pub fn from_raw(v: u32) -> Self {
        match v {
            0 => Self::Static,
            1 => Self::Global,
            2 => Self::Extern,
            v => Self::Other(v),
        }
    }
    /// The raw number.
    pub fn raw(self) -> u32 {
        match self {
            Self::Static => 0,
            Self::Global => 1,
            Self::Extern => 2,
            Self::Other(v) => v,
        }
    }
}

impl<'b> Func<'b> {
    /// The FUNC_PROTO.
    pub fn proto(&self) -> BtfTypeId {
        BtfTypeId(self.size_or_type)
    }
    /// Linkage (kept in vlen).
    pub fn linkage(&self) -> Linkage {
        Linkage::from_raw(u32::from(self.vlen()))
    }
}

/// One parameter of a FUNC_PROTO.
#[derive(Clone, Copy, Debug)]
pub struct Param<'b> {
    btf: &'b Btf<'b>,
    /// Name offset (0 when unnamed).
    pub name_off: u32,
    /// Parameter type; void for the trailing `...` entry.
    pub ty: BtfTypeId,
}

impl<'b> Param<'b> {
    /// The parameter name; `""` when unnamed.
    pub fn name(&self) -> Result<&'b str> {
        self.btf.str_at(self.name_off)
    }
}

impl<'b> FuncProto<'b> {
    /// Return type (void is id 0).
    pub fn return_type(&self) -> BtfTypeId {
        BtfTypeId(self.size_or_type)
    }
    /// Number of entries, including a trailing variadic marker.
    pub fn len(&self) -> usize {
        usize::from(self.vlen())
    }
    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.vlen() == 0
    }
    /// Parameter `i`.
    pub fn param(&self, i: usize) -> Option<Param<'b>> {
        (i < self.len()).then(|| Param {
            btf: self.0.btf,
            name_off: self.0.word(i * 2),
            ty: BtfTypeId(self.0.word(i * 2 + 1)),
        })
    }
    /// All entries, including a trailing variadic marker.
    pub fn params(&self) -> impl ExactSizeIterator<Item = Param<'b>> + 'b {
        let this = *self;
        (0..self.len()).map(move |i| Param {
            btf: this.0.btf,
            name_off: this.0.word(i * 2),
            ty: BtfTypeId(this.0.word(i * 2 + 1)),
        })
    }
    /// Whether the last entry is the `...` marker (void type, no name).
    pub fn is_variadic(&self) -> bool {
        self.len()
            .checked_sub(1)
            .and_then(|i| self.param(i))
            .is_some_and(|p| p.ty.is_void() && p.name_off == 0)
    }
}

impl<'b> Var<'b> {
    /// Variable type.
    pub fn ty(&self) -> BtfTypeId {
        BtfTypeId(self.size_or_type)
    }
    /// `btf_var.linkage`.
    pub fn linkage(&self) -> Linkage {
        Linkage::from_raw(self.word(0))
    }
}

/// One `btf_var_secinfo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VarSecInfo {
    /// The VAR (or FUNC, for `.ksyms`).
    pub ty: BtfTypeId,
    /// Offset within the section.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

impl<'b> Datasec<'b> {
    /// Section size.
    pub fn size(&self) -> u32 {
        self.size_or_type
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        usize::from(self.vlen())
    }
    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.vlen() == 0
    }
    /// All entries.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = VarSecInfo> + 'b {
        let raw = self.0;
        (0..self.len()).map(move |i| VarSecInfo {
            ty: BtfTypeId(raw.word(i * 3)),
            offset: raw.word(i * 3 + 1),
            size: raw.word(i * 3 + 2),
        })
    }
}

impl<'b> Float<'b> {
    /// Size in bytes.
    pub fn size(&self) -> u32 {
        self.size_or_type
    }
}

impl<'b> DeclTag<'b> {
    /// The tagged type.
    pub fn target(&self) -> BtfTypeId {
        BtfTypeId(self.size_or_type)
    }
    /// `component_idx`: `None` for the type itself (-1), else the member
    /// or parameter index. Other negative values are returned as `Err(raw)`.
    pub fn component_idx(&self) -> std::result::Result<Option<u32>, i32> {
        match self.word(0) as i32 {
            -1 => Ok(None),
            v if v >= 0 => Ok(Some(v as u32)),
            v => Err(v),
        }
    }
    /// kind_flag (6.14+): the tag is a raw `__attribute__((…))`.
    pub fn is_attribute(&self) -> bool {
        self.kind_flag()
    }
}

/// A type record viewed according to its kind.
#[derive(Clone, Copy, Debug)]
#[allow(missing_docs)] // one variant per kind, named as the kernel does
pub enum Type<'b> {
    Void(RawType<'b>),
    Int(Int<'b>),
    Ptr(Ref<'b>),
    Array(Array<'b>),
    Struct(Composite<'b>),
    Union(Composite<'b>),
    Enum(Enum<'b>),
    Fwd(Fwd<'b>),
    Typedef(Ref<'b>),
    Volatile(Ref<'b>),
    Const(Ref<'b>),
    Restrict(Ref<'b>),
    Func(Func<'b>),
    FuncProto(FuncProto<'b>),
    Var(Var<'b>),
    Datasec(Datasec<'b>),
    Float(Float<'b>),
    DeclTag(DeclTag<'b>),
    TypeTag(Ref<'b>),
    Enum64(Enum<'b>),
}

impl<'b> Type<'b> {
    pub(crate) fn from_raw(r: RawType<'b>) -> Self {
        match r.kind {
            BtfKind::Void => Self::Void(r),
            BtfKind::Int => Self::Int(Int(r)),
            BtfKind::Ptr => Self::Ptr(Ref(r)),
            BtfKind::Array => Self::Array(Array(r)),
            BtfKind::Struct => Self::Struct(Composite(r)),
            BtfKind::Union => Self::Union(Composite(r)),
            BtfKind::Enum => Self::Enum(Enum(r)),
            BtfKind::Fwd => Self::Fwd(Fwd(r)),
            BtfKind::Typedef => Self::Typedef(Ref(r)),
            BtfKind::Volatile => Self::Volatile(Ref(r)),
            BtfKind::Const => Self::Const(Ref(r)),
            BtfKind::Restrict => Self::Restrict(Ref(r)),
            BtfKind::Func => Self::Func(Func(r)),
            BtfKind::FuncProto => Self::FuncProto(FuncProto(r)),
            BtfKind::Var => Self::Var(Var(r)),
            BtfKind::Datasec => Self::Datasec(Datasec(r)),
            BtfKind::Float => Self::Float(Float(r)),
            BtfKind::DeclTag => Self::DeclTag(DeclTag(r)),
            BtfKind::TypeTag => Self::TypeTag(Ref(r)),
            BtfKind::Enum64 => Self::Enum64(Enum(r)),
        }
    }

    /// The common record.
    pub fn raw(&self) -> &RawType<'b> {
        match self {
            Self::Void(r) => r,
            Self::Int(v) => &v.0,
            Self::Ptr(v)
            | Self::Typedef(v)
            | Self::Volatile(v)
            | Self::Const(v)
            | Self::Restrict(v) => &v.0,
            Self::TypeTag(v) => &v.0,
            Self::Array(v) => &v.0,
            Self::Struct(v) | Self::Union(v) => &v.0,
            Self::Enum(v) | Self::Enum64(v) => &v.0,
            Self::Fwd(v) => &v.0,
            Self::Func(v) => &v.0,
            Self::FuncProto(v) => &v.0,
            Self::Var(v) => &v.0,
            Self::Datasec(v) => &v.0,
            Self::Float(v) => &v.0,
            Self::DeclTag(v) => &v.0,
        }
    }

    /// Type id.
    pub fn id(&self) -> BtfTypeId {
        self.raw().id
    }
    /// Kind.
    pub fn kind(&self) -> BtfKind {
        self.raw().kind
    }
    /// Name (`""` if anonymous).
    pub fn name(&self) -> Result<&'b str> {
        self.raw().name()
    }
    /// The single referenced type for PTR, modifiers, FUNC, VAR, DECL_TAG
    /// (and the return type for FUNC_PROTO); `None` for other kinds.
    pub fn ref_type(&self) -> Option<BtfTypeId> {
        self.kind()
            .has_ref()
            .then(|| BtfTypeId(self.raw().size_or_type))
    }
    /// The composite view, for STRUCT and UNION.
    pub fn as_composite(&self) -> Option<Composite<'b>> {
        match self {
            Self::Struct(c) | Self::Union(c) => Some(*c),
            _ => None,
        }
    }
    /// The enum view, for ENUM and ENUM64.
    pub fn as_enum(&self) -> Option<Enum<'b>> {
        match self {
            Self::Enum(e) | Self::Enum64(e) => Some(*e),
            _ => None,
        }
    }
}
