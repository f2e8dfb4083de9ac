//! [`BtfBuilder`]: assemble types and strings and write `.BTF` bytes, and
//! [`TypeSpec`], an owned description of one type that both the builder
//! takes and [`Btf::type_spec`] returns (so BTF can be copied or compared).

use crate::Btf;
use crate::error::{BtfErrorKind as K, Result, err};
use crate::header::{BTF_MAGIC, BTF_VERSION, ByteOrder, Endian, HEADER_LEN};
use crate::types::{BtfKind, BtfTypeId, Linkage, Type, VarSecInfo};
use std::collections::HashMap;

/// One struct/union member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSpec {
    /// Name (`""` for anonymous).
    pub name: String,
    /// Type.
    pub ty: BtfTypeId,
    /// Offset in bits from the start of the parent.
    pub bit_offset: u32,
    /// Bitfield width, 0 if not a bitfield. Any non-zero width makes the
    /// builder set the parent's kind_flag.
    pub bitfield_size: u8,
}

/// An owned description of one type, names as strings.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // fields mirror the kernel's records
pub enum TypeSpec {
    Int {
        name: String,
        size: u32,
        encoding: u8,
        offset: u8,
        bits: u8,
    },
    Ptr {
        ty: BtfTypeId,
    },
    Array {
        elem: BtfTypeId,
        index: BtfTypeId,
        nelems: u32,
    },
    Struct {
        name: String,
        size: u32,
        members: Vec<MemberSpec>,
    },
    Union {
        name: String,
        size: u32,
        members: Vec<MemberSpec>,
    },
    /// `values` hold the 64-bit reading (see [`crate::types::EnumValue::raw`]).
    Enum {
        name: String,
        size: u32,
        signed: bool,
        values: Vec<(String, u64)>,
    },
    Enum64 {
        name: String,
        size: u32,
        signed: bool,
        values: Vec<(String, u64)>,
    },
    Fwd {
        name: String,
        union: bool,
    },
    Typedef {
        name: String,
        ty: BtfTypeId,
    },
    Volatile {
        ty: BtfTypeId,
    },
    Const {
        ty: BtfTypeId,
    },
    Restrict {
        ty: BtfTypeId,
    },
    Func {
        name: String,
        proto: BtfTypeId,
        linkage: Linkage,
    },
    /// A trailing `("", VOID)` parameter means `...`.
    FuncProto {
        ret: BtfTypeId,
        params: Vec<(String, BtfTypeId)>,
    },
    Var {
        name: String,
        ty: BtfTypeId,
        linkage: Linkage,
    },
    Datasec {
        name: String,
        size: u32,
        entries: Vec<VarSecInfo>,
    },
    Float {
        name: String,
        size: u32,
    },
    /// `component: None` is -1 (the whole type). `attr` is the 6.14+ kind_flag.
    DeclTag {
        value: String,
        target: BtfTypeId,
        component: Option<u32>,
        attr: bool,
    },
    TypeTag {
        value: String,
        target: BtfTypeId,
        attr: bool,
    },
}

/// Builds a BTF blob. Ids are handed out in order from 1 (or after the
/// base, for split BTF); strings are de-duplicated.
#[derive(Clone, Debug)]
pub struct BtfBuilder {
    /// Encoded records as words, in id order.
    types: Vec<Vec<u32>>,
    strings: Vec<u8>,
    str_map: HashMap<Vec<u8>, u32>,
    first_id: u32,
    str_start: u32,
}

impl Default for BtfBuilder {
    fn default() -> Self {
        Self::new()
    }
}

fn info(kind: BtfKind, vlen: usize, kflag: bool) -> Result<u32> {
    let vlen = u16::try_from(vlen).map_err(|_| err(K::Builder, format!("vlen {vlen} > 65535")))?;
    Ok(u32::from(kflag) << 31 | u32::from(kind as u8) << 24 | u32::from(vlen))
}

impl BtfBuilder {
    /// An empty base BTF.
    pub fn new() -> Self {
        let mut str_map = HashMap::new();
        str_map.insert(Vec::new(), 0);
        Self {
            types: Vec::new(),
            strings: vec![0],
            str_map,
            first_id: 1,
            str_start: 0,
        }
    }

    /// An empty split BTF on top of `base`: ids start at `base.end_id()` and
    /// string offsets at the base's string length. The empty name maps to
    /// offset 0, the base's empty string.
    pub fn new_split(base: &Btf<'_>) -> Self {
        let mut str_map = HashMap::new();
        str_map.insert(Vec::new(), 0);
        Self {
            types: Vec::new(),
            strings: Vec::new(),
            str_map,
            first_id: base.end_id().0,
            str_start: base.str_end(),
        }
    }

    /// The id the next added type will get.
    pub fn next_id(&self) -> BtfTypeId {
        BtfTypeId(self.first_id + self.types.len() as u32)
    }

    /// Intern `s` and return its string offset.
    pub fn add_str(&mut self, s: &str) -> u32 {
        if let Some(&off) = self.str_map.get(s.as_bytes()) {
            return off;
        }
        let off = self.str_start + self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        self.str_map.insert(s.as_bytes().to_vec(), off);
        off
    }

    /// Append a raw record: `name_off`, `info`, `size_or_type` and trailing
    /// words, unchecked. For tests that need malformed BTF.
    pub fn add_raw(
        &mut self,
        name_off: u32,
        info: u32,
        size_or_type: u32,
        extra: &[u32],
    ) -> BtfTypeId {
        let id = self.next_id();
        let mut w = vec![name_off, info, size_or_type];
        w.extend_from_slice(extra);
        self.types.push(w);
        id
    }

    /// Add a type described by `spec`.
    pub fn add(&mut self, spec: &TypeSpec) -> Result<BtfTypeId> {
        use BtfKind as B;
        let (name, info, sot, extra): (&str, u32, u32, Vec<u32>) = match spec {
            TypeSpec::Int {
                name,
                size,
                encoding,
                offset,
                bits,
            } => {
                let data =
                    u32::from(*encoding & 0xf) << 24 | u32::from(*offset) << 16 | u32::from(*bits);
                (name, info(B::Int, 0, false)?, *size, vec![data])
            }
            TypeSpec::Ptr { ty } => ("", info(B::Ptr, 0, false)?, ty.0, vec![]),
            TypeSpec::Array {
                elem,
                index,
                nelems,
            } => (
                "",
                info(B::Array, 0, false)?,
                0,
                vec![elem.0, index.0, *nelems],
            ),
            TypeSpec::Struct {
                name,
                size,
                members,
            }
            | TypeSpec::Union {
                name,
                size,
                members,
            } => {
                let kind = if matches!(spec, TypeSpec::Struct { .. }) {
                    B::Struct
                } else {
                    B::Union
                };
                let kflag = members.iter().any(|m| m.bitfield_size != 0);
                let mut extra = Vec::with_capacity(members.len() * 3);
                for m in members {
                    let off = if kflag {
                        if m.bit_offset > 0x00ff_ffff {
                            return Err(err(
                                K::Builder,
                                "bitfield struct member offset needs > 24 bits",
                            ));
                        }
                        u32::from(m.bitfield_size) << 24 | m.bit_offset
                    } else {
                        m.bit_offset
                    };
                    extra.extend([self.add_str(&m.name), m.ty.0, off]);
                }
                (name, info(kind, members.len(), kflag)?, *size, extra)
            }
            TypeSpec::Enum {
                name,
                size,
                signed,
                values,
            } => {
                let mut extra = Vec::with_capacity(values.len() * 2);
                for (n, v) in values {
                    extra.extend([self.add_str(n), *v as u32]);
                }
                (name, info(B::Enum, values.len(), *signed)?, *size, extra)
            }
            TypeSpec::Enum64 {
                name,
                size,
                signed,
                values,
            } => {
                let mut extra = Vec::with_capacity(values.len() * 3);
                for (n, v) in values {
                    extra.extend([self.add_str(n), *v as u32, (*v >> 32) as u32]);
                }
                (name, info(B::Enum64, values.len(), *signed)?, *size, extra)
            }
            TypeSpec::Fwd { name, union } => (name, info(B::Fwd, 0, *union)?, 0, vec![]),
            TypeSpec::Typedef { name, ty } => (name, info(B::Typedef, 0, false)?, ty.0, vec![]),
            TypeSpec::Volatile { ty } => ("", info(B::Volatile, 0, false)?, ty.0, vec![]),
            TypeSpec::Const { ty } => ("", info(B::Const, 0, false)?, ty.0, vec![]),
            TypeSpec::Restrict { ty } => ("", info(B::Restrict, 0, false)?, ty.0, vec![]),
            TypeSpec::Func {
                name,
                proto,
                linkage,
            } => (
                name,
                info(B::Func, linkage.raw() as usize, false)?,
                proto.0,
                vec![],
            ),
            TypeSpec::FuncProto { ret, params } => {
                let mut extra = Vec::with_capacity(params.len() * 2);
                for (n, t) in params {
                    extra.extend([self.add_str(n), t.0]);
                }
                ("", info(B::FuncProto, params.len(), false)?, ret.0, extra)
            }
            TypeSpec::Var { name, ty, linkage } => {
                (name, info(B::Var, 0, false)?, ty.0, vec![linkage.raw()])
            }
            TypeSpec::Datasec {
                name,
                size,
                entries,
            } => {
                let extra = entries
                    .iter()
                    .flat_map(|e| [e.ty.0, e.offset, e.size])
                    .collect();
                (name, info(B::Datasec, entries.len(), false)?, *size, extra)
            }
            TypeSpec::Float { name, size } => (name, info(B::Float, 0, false)?, *size, vec![]),
            TypeSpec::DeclTag {
                value,
                target,
                component,
                attr,
            } => {
                let c = component.map_or(u32::MAX, |c| c);
                (value, info(B::DeclTag, 0, *attr)?, target.0, vec![c])
            }
            TypeSpec::TypeTag {
                value,
                target,
                attr,
            } => (value, info(B::TypeTag, 0, *attr)?, target.0, vec![]),
        };
        let name_off = self.add_str(name);
        Ok(self.add_raw(name_off, info, sot, &extra))
    }

    /// Convenience: a signed or unsigned integer of `size` bytes.
    pub fn int(&mut self, name: &str, size: u32, signed: bool) -> BtfTypeId {
        let spec = TypeSpec::Int {
            name: name.into(),
            size,
            encoding: u8::from(signed),
            offset: 0,
            bits: (size * 8) as u8,
        };
        self.add_infallible(&spec)
    }

    /// Convenience: a pointer to `ty`.
    pub fn ptr(&mut self, ty: BtfTypeId) -> BtfTypeId {
        self.add_infallible(&TypeSpec::Ptr { ty })
    }

    /// Convenience: a struct with byte-aligned, non-bitfield members given
    /// as `(name, type, byte offset)`.
    pub fn struct_(
        &mut self,
        name: &str,
        size: u32,
        members: &[(&str, BtfTypeId, u32)],
    ) -> Result<BtfTypeId> {
        let members = members
            .iter()
            .map(|&(n, ty, off)| MemberSpec {
                name: n.into(),
                ty,
                bit_offset: off * 8,
                bitfield_size: 0,
            })
            .collect();
        self.add(&TypeSpec::Struct {
            name: name.into(),
            size,
            members,
        })
    }

    /// Convenience: a FUNC_PROTO plus a global FUNC named `name`.
    pub fn func(
        &mut self,
        name: &str,
        ret: BtfTypeId,
        params: &[(&str, BtfTypeId)],
    ) -> Result<BtfTypeId> {
        let params = params.iter().map(|&(n, t)| (n.to_string(), t)).collect();
        let proto = self.add(&TypeSpec::FuncProto { ret, params })?;
        self.add(&TypeSpec::Func {
            name: name.into(),
            proto,
            linkage: Linkage::Global,
        })
    }

    fn add_infallible(&mut self, spec: &TypeSpec) -> BtfTypeId {
        // Specs without variable-length parts cannot fail to encode.
        self.add(spec).unwrap_or(BtfTypeId::VOID)
    }

    /// Number of types added.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether no types were added.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// Serialize: header, type section, string section.
    pub fn to_bytes(&self, order: ByteOrder) -> Vec<u8> {
        let e = Endian(order);
        let type_len: usize = self.types.iter().map(|w| w.len() * 4).sum();
        let mut out = Vec::with_capacity(HEADER_LEN + type_len + self.strings.len());
        e.put_u16(&mut out, BTF_MAGIC);
        out.push(BTF_VERSION);
        out.push(0);
        for v in [
            HEADER_LEN as u32,
            0,
            type_len as u32,
            type_len as u32,
            self.strings.len() as u32,
        ] {
            e.put_u32(&mut out, v);
        }
        for w in self.types.iter().flatten() {
            e.put_u32(&mut out, *w);
        }
        out.extend_from_slice(&self.strings);
        out
    }
}

impl<'a> Btf<'a> {
    /// An owned description of type `id`, for copying into a builder or
    /// comparing BTFs.
    pub fn type_spec(&self, id: BtfTypeId) -> Result<TypeSpec> {
        let t = self.type_by_id(id)?;
        let name = t.name()?.to_string();
        Ok(match t {
            Type::Void(_) => return Err(err(K::NotFound, "void has no spec")),
            Type::Int(i) => {
                let encoding = ((i.raw_data() >> 24) & 0xf) as u8;
                TypeSpec::Int {
                    name,
                    size: i.size(),
                    encoding,
                    offset: i.bit_offset(),
                    bits: i.bits(),
                }
            }
            Type::Ptr(r) => TypeSpec::Ptr { ty: r.target() },
            Type::Array(a) => TypeSpec::Array {
                elem: a.elem_type(),
                index: a.index_type(),
                nelems: a.nelems(),
            },
            Type::Struct(c) | Type::Union(c) => {
                let members = c
                    .members()
                    .map(|m| {
                        Ok(MemberSpec {
                            name: m.name()?.to_string(),
                            ty: m.ty,
                            bit_offset: m.bit_offset,
                            bitfield_size: m.bitfield_size,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                if c.is_union() {
                    TypeSpec::Union {
                        name,
                        size: c.size(),
                        members,
                    }
                } else {
                    TypeSpec::Struct {
                        name,
                        size: c.size(),
                        members,
                    }
                }
            }
            Type::Enum(e) | Type::Enum64(e) => {
                let values = e
                    .values()
                    .map(|v| Ok((v.name()?.to_string(), v.raw)))
                    .collect::<Result<Vec<_>>>()?;
                if e.is_64() {
                    TypeSpec::Enum64 {
                        name,
                        size: e.size(),
                        signed: e.is_signed(),
                        values,
                    }
                } else {
                    TypeSpec::Enum {
                        name,
                        size: e.size(),
                        signed: e.is_signed(),
                        values,
                    }
                }
            }
            Type::Fwd(f) => TypeSpec::Fwd {
                name,
                union: f.is_union(),
            },
            Type::Typedef(r) => TypeSpec::Typedef {
                name,
                ty: r.target(),
            },
            Type::Volatile(r) => TypeSpec::Volatile { ty: r.target() },
            Type::Const(r) => TypeSpec::Const { ty: r.target() },
            Type::Restrict(r) => TypeSpec::Restrict { ty: r.target() },
            Type::Func(f) => TypeSpec::Func {
                name,
                proto: f.proto(),
                linkage: f.linkage(),
            },
            Type::FuncProto(p) => TypeSpec::FuncProto {
                ret: p.return_type(),
                params: p
                    .params()
                    .map(|q| Ok((q.name()?.to_string(), q.ty)))
                    .collect::<Result<Vec<_>>>()?,
            },
            Type::Var(v) => TypeSpec::Var {
                name,
                ty: v.ty(),
                linkage: v.linkage(),
            },
            Type::Datasec(d) => TypeSpec::Datasec {
                name,
                size: d.size(),
                entries: d.entries().collect(),
            },
            Type::Float(f) => TypeSpec::Float {
                name,
                size: f.size(),
            },
            Type::DeclTag(d) => TypeSpec::DeclTag {
                value: name,
                target: d.target(),
                component: d.component_idx().unwrap_or(None),
                attr: d.is_attribute(),
            },
            Type::TypeTag(r) => TypeSpec::TypeTag {
                value: name,
                target: r.target(),
                attr: r.is_attribute(),
            },
        })
    }
}
