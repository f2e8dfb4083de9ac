//! A minimal private reader of `.BTF` and `.BTF.ext`: just what the loader
//! needs (map definitions, DATASEC contents, extern types, func/line info).
//!
//! The workspace's `bpfcheck-btf` crate is the full reader and validator; it
//! was being written at the same time as this crate, so the loader carries
//! this small, bounds-checked reader instead of depending on an API that did
//! not exist yet. Nothing here validates BTF beyond what reading needs: the
//! verifier checks the program's BTF the way the kernel does.

use bpfcheck_uapi::{ByteOrder, FuncInfo, LineInfo};

use crate::elf::read_u32;
use crate::error::ObjError;

/// `BTF_KIND_*` values this reader distinguishes.
#[allow(missing_docs)]
pub(crate) mod kind {
    pub(crate) const INT: u32 = 1;
    pub(crate) const PTR: u32 = 2;
    pub(crate) const ARRAY: u32 = 3;
    pub(crate) const STRUCT: u32 = 4;
    pub(crate) const UNION: u32 = 5;
    pub(crate) const ENUM: u32 = 6;
    pub(crate) const FWD: u32 = 7;
    pub(crate) const TYPEDEF: u32 = 8;
    pub(crate) const VOLATILE: u32 = 9;
    pub(crate) const CONST: u32 = 10;
    pub(crate) const RESTRICT: u32 = 11;
    pub(crate) const FUNC: u32 = 12;
    pub(crate) const FUNC_PROTO: u32 = 13;
    pub(crate) const VAR: u32 = 14;
    pub(crate) const DATASEC: u32 = 15;
    pub(crate) const FLOAT: u32 = 16;
    pub(crate) const DECL_TAG: u32 = 17;
    pub(crate) const TYPE_TAG: u32 = 18;
    pub(crate) const ENUM64: u32 = 19;
}

/// `BTF_VAR_STATIC`.
pub(crate) const VAR_STATIC: u32 = 0;

const BTF_MAGIC: u16 = 0xeb9f;
/// Longest modifier / typedef / array chain followed before giving up, so a
/// cyclic type graph cannot loop forever.
const MAX_CHAIN: usize = 64;

/// One type record: the common 12-byte header and where its trailing data
/// starts within the type section.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TypeRec {
    pub(crate) name_off: u32,
    pub(crate) kind: u32,
    pub(crate) vlen: u32,
    /// `size` or `type`, depending on the kind.
    pub(crate) size_type: u32,
    extra: usize,
}

/// A parsed `.BTF` section.
#[derive(Clone, Debug)]
pub(crate) struct Btf {
    order: ByteOrder,
    /// The whole section, kept so fix-ups can be written back.
    raw: Vec<u8>,
    /// Where the type section starts in `raw`.
    type_base: usize,
    types_data: Vec<u8>,
    strings: Vec<u8>,
    /// Index 0 is the implicit `void`.
    types: Vec<TypeRec>,
}

fn btf_err(offset: usize, what: impl Into<String>) -> ObjError {
    ObjError::Btf {
        offset,
        what: what.into(),
    }
}

/// Byte order of a BTF blob, from its magic.
fn magic_order(data: &[u8]) -> Option<ByteOrder> {
    let m: [u8; 2] = data.get(..2)?.try_into().ok()?;
    if u16::from_le_bytes(m) == BTF_MAGIC {
        Some(ByteOrder::Little)
    } else if u16::from_be_bytes(m) == BTF_MAGIC {
        Some(ByteOrder::Big)
    } else {
        None
    }
}

/// `(offset, length)` of a sub-area after a header of `hdr_len` bytes.
fn area(data_len: usize, hdr_len: usize, off: u32, len: u32) -> Option<(usize, usize)> {
    let start = hdr_len.checked_add(off as usize)?;
    let end = start.checked_add(len as usize)?;
    (end <= data_len).then_some((start, end))
}

impl Btf {
    /// Parses the header, string section and type records.
    pub(crate) fn parse(data: &[u8]) -> Result<Self, ObjError> {
        let order = magic_order(data).ok_or_else(|| btf_err(0, "bad magic"))?;
        let u =
            |off: usize| read_u32(data, off, order).ok_or_else(|| btf_err(off, "truncated header"));
        let hdr_len = u(4)? as usize;
        if hdr_len < 24 {
            return Err(btf_err(4, format!("header length {hdr_len} < 24")));
        }
        let (type_off, type_len, str_off, str_len) = (u(8)?, u(12)?, u(16)?, u(20)?);
        let (ts, te) = area(data.len(), hdr_len, type_off, type_len)
            .ok_or_else(|| btf_err(8, "type section outside the data"))?;
        let (ss, se) = area(data.len(), hdr_len, str_off, str_len)
            .ok_or_else(|| btf_err(16, "string section outside the data"))?;
        let types_data = data[ts..te].to_vec();
        let strings = data[ss..se].to_vec();

        let mut types = vec![TypeRec {
            name_off: 0,
            kind: 0,
            vlen: 0,
            size_type: 0,
            extra: 0,
        }];
        let mut off = 0;
        while off < types_data.len() {
            let at = |o: usize| {
                read_u32(&types_data, o, order)
                    .ok_or_else(|| btf_err(ts + o, "truncated type record"))
            };
            let name_off = at(off)?;
            let info = at(off + 4)?;
            let size_type = at(off + 8)?;
            let kind = (info >> 24) & 0x1f;
            let vlen = info & 0xffff;
            let extra_len = match kind {
                kind::INT | kind::VAR | kind::DECL_TAG => 4,
                kind::ARRAY => 12,
                kind::STRUCT | kind::UNION | kind::DATASEC | kind::ENUM64 => 12 * vlen as usize,
                kind::ENUM | kind::FUNC_PROTO => 8 * vlen as usize,
                kind::PTR
                | kind::FWD
                | kind::TYPEDEF
                | kind::VOLATILE
                | kind::CONST
                | kind::RESTRICT
                | kind::FUNC
                | kind::FLOAT
                | kind::TYPE_TAG => 0,
                k => return Err(btf_err(ts + off, format!("unknown kind {k}"))),
            };
            let extra = off + 12;
            let next = extra + extra_len;
            if next > types_data.len() {
                return Err(btf_err(ts + off, "type record runs past the type section"));
            }
            types.push(TypeRec {
                name_off,
                kind,
                vlen,
                size_type,
                extra,
            });
            off = next;
        }
        Ok(Self {
            order,
            raw: data.to_vec(),
            type_base: ts,
            types_data,
            strings,
            types,
        })
    }

    /// The section bytes, including fix-ups applied so far.
    pub(crate) fn raw(&self) -> &[u8] {
        &self.raw
    }

    fn put_u32(&mut self, off: usize, v: u32) {
        let b = match self.order {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        };
        if let Some(slot) = self.types_data.get_mut(off..off + 4) {
            slot.copy_from_slice(&b);
        }
        let at = self.type_base + off;
        if let Some(slot) = self.raw.get_mut(at..at + 4) {
            slot.copy_from_slice(&b);
        }
    }

    /// Marks the first global FUNC named `name` static (libbpf does this for
    /// hidden `.text` functions so the verifier checks them with their
    /// callers' context).
    pub(crate) fn mark_func_static(&mut self, name: &str) {
        let found = (1..self.types.len() as u32).find(|&id| {
            self.name(id) == name
                && self
                    .get(id)
                    .is_some_and(|t| t.kind == kind::FUNC && t.vlen == 1)
        });
        if let Some(t) = found.and_then(|id| self.get(id)) {
            self.put_u32(t.extra - 8, kind::FUNC << 24);
            if let Some(rec) = self.types.get_mut(found.unwrap_or(0) as usize) {
                rec.vlen = 0;
            }
        }
    }

    /// The first 32-bit INT (libbpf's `find_int_btf_id`), 0 when none.
    fn int32_id(&self) -> u32 {
        (1..self.types.len() as u32)
            .find(|&id| {
                self.get(id)
                    .is_some_and(|t| t.kind == kind::INT && self.extra_u32(&t, 0) & 0xff == 32)
            })
            .unwrap_or(0)
    }

    /// Re-encodes the section with one more type record and string
    /// appended, in the canonical layout (types, then strings).
    fn append(&mut self, record: &[u32], string: &str) -> Result<(), ObjError> {
        let enc = |v: u32| match self.order {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        };
        let mut types = self.types_data.clone();
        for &w in record {
            types.extend(enc(w));
        }
        let mut strings = self.strings.clone();
        strings.extend(string.as_bytes());
        strings.push(0);
        let too_big = || btf_err(0, "BTF grows past 4 GiB");
        let type_len = u32::try_from(types.len()).map_err(|_| too_big())?;
        let str_len = u32::try_from(strings.len()).map_err(|_| too_big())?;
        let mut raw = Vec::with_capacity(24 + types.len() + strings.len());
        raw.extend(&self.raw[..4]); // magic, version, flags
        for v in [24, 0, type_len, type_len, str_len] {
            raw.extend(enc(v));
        }
        raw.extend(types);
        raw.extend(strings);
        *self = Self::parse(&raw)?;
        Ok(())
    }

    /// libbpf's BTF side of extern collection: `.kconfig` variables get their
    /// map offsets and become allocated; `.ksyms` entries become 4-byte
    /// allocated `int` variables (functions through one `dummy_ksym`
    /// variable, their unnamed parameters named after it), so the kernel
    /// accepts the object's BTF.
    pub(crate) fn fixup_extern_datasecs(
        &mut self,
        kconfig_offset: impl Fn(&str) -> Option<u32>,
        kconfig_size: u32,
    ) -> Result<(), ObjError> {
        const ALLOCATED: u32 = 1;
        const FUNC_GLOBAL: u32 = 1;
        let find_sec = |b: &Self, name: &str| {
            (1..b.types.len() as u32).find(|&id| {
                b.name(id) == name && b.get(id).is_some_and(|t| t.kind == kind::DATASEC)
            })
        };
        if let Some(ksyms) = find_sec(self, ".ksyms") {
            let has_func = self.get(ksyms).is_some_and(|t| {
                self.datasec_vars(&t)
                    .iter()
                    .any(|&(v, _, _)| self.get(v).is_some_and(|vt| vt.kind == kind::FUNC))
            });
            let int_id = self.int32_id();
            let dummy = if has_func {
                let name_off = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
                let id = u32::try_from(self.types.len()).unwrap_or(u32::MAX);
                self.append(
                    &[name_off, kind::VAR << 24, int_id, ALLOCATED],
                    "dummy_ksym",
                )?;
                Some((id, name_off))
            } else {
                None
            };
            let sec = self
                .get(ksyms)
                .ok_or_else(|| btf_err(0, ".ksyms vanished"))?;
            let mut off = 0u32;
            for (i, (var, _, _)) in self.datasec_vars(&sec).into_iter().enumerate() {
                let Some(vt) = self.get(var) else { continue };
                let mut ty = var;
                if vt.kind == kind::FUNC {
                    if let (Some((dummy_id, dummy_name)), Some(proto)) = (
                        dummy,
                        self.get(vt.size_type)
                            .filter(|p| p.kind == kind::FUNC_PROTO),
                    ) {
                        for p in 0..proto.vlen as usize {
                            let (name, pty) = (
                                self.extra_u32(&proto, 2 * p),
                                self.extra_u32(&proto, 2 * p + 1),
                            );
                            if pty != 0 && name == 0 {
                                self.put_u32(proto.extra + 8 * p, dummy_name);
                            }
                        }
                        ty = dummy_id;
                    }
                    self.put_u32(vt.extra - 8, (kind::FUNC << 24) | FUNC_GLOBAL);
                } else if vt.kind == kind::VAR {
                    self.put_u32(vt.extra, ALLOCATED);
                    self.put_u32(vt.extra - 4, int_id);
                }
                self.put_u32(sec.extra + 12 * i, ty);
                self.put_u32(sec.extra + 12 * i + 4, off);
                self.put_u32(sec.extra + 12 * i + 8, 4);
                off = off.saturating_add(4);
            }
            self.put_u32(sec.extra - 4, off);
        }
        if let Some(kcfg) = find_sec(self, ".kconfig") {
            let sec = self
                .get(kcfg)
                .ok_or_else(|| btf_err(0, ".kconfig vanished"))?;
            let mut vars = self.datasec_vars(&sec);
            for var in &mut vars {
                let Some(vt) = self.get(var.0).filter(|v| v.kind == kind::VAR) else {
                    continue;
                };
                let name = self.name(var.0).to_owned();
                let off = kconfig_offset(&name)
                    .ok_or_else(|| btf_err(0, format!("no .kconfig extern for VAR '{name}'")))?;
                self.put_u32(vt.extra, ALLOCATED);
                var.1 = off;
            }
            vars.sort_by_key(|v| v.1);
            for (i, (ty, off, size)) in vars.into_iter().enumerate() {
                self.put_u32(sec.extra + 12 * i, ty);
                self.put_u32(sec.extra + 12 * i + 4, off);
                self.put_u32(sec.extra + 12 * i + 8, size);
            }
            self.put_u32(sec.extra - 4, kconfig_size);
        }
        Ok(())
    }

    /// libbpf's `btf_fixup_datasec` for every DATASEC: clang leaves DATASEC
    /// sizes and variable offsets zero, so they are taken from the ELF
    /// section size and the variables' symbols; hidden globals become
    /// static; variables are sorted by offset. `.kconfig` and `.ksyms` are
    /// left alone (their layout belongs to extern resolution).
    ///
    /// `section_size(name)` and `var_symbol(name)` (value, hidden) come
    /// from the ELF file.
    pub(crate) fn fixup_datasecs(
        &mut self,
        section_size: impl Fn(&str) -> Option<u64>,
        var_symbol: impl Fn(&str) -> Option<(u64, bool)>,
    ) -> Result<(), ObjError> {
        for id in 1..self.types.len() as u32 {
            let Some(t) = self.get(id).filter(|t| t.kind == kind::DATASEC) else {
                continue;
            };
            let name = self.name(id).to_owned();
            if name == ".kconfig" || name == ".ksyms" {
                continue;
            }
            let at = self.type_base + t.extra;
            let fix_offsets = t.size_type == 0;
            if fix_offsets {
                let size = section_size(&name)
                    .filter(|&s| s > 0)
                    .and_then(|s| u32::try_from(s).ok())
                    .ok_or_else(|| {
                        btf_err(
                            at,
                            format!("DATASEC '{name}' has no ELF section to size it"),
                        )
                    })?;
                self.put_u32(t.extra - 4, size);
            }
            let mut vars = self.datasec_vars(&t);
            for (i, var) in vars.iter_mut().enumerate() {
                let vt = self
                    .get(var.0)
                    .filter(|v| v.kind == kind::VAR)
                    .ok_or_else(|| {
                        btf_err(at, format!("DATASEC '{name}' entry #{i} is not a VAR"))
                    })?;
                let linkage = self.var_linkage(&vt).unwrap_or(0);
                // Static and extern variables keep what clang wrote.
                if linkage == VAR_STATIC || linkage == 2 {
                    continue;
                }
                let var_name = self.name(var.0).to_owned();
                let (value, hidden) = var_symbol(&var_name).ok_or_else(|| {
                    btf_err(
                        at,
                        format!("DATASEC '{name}': no ELF symbol for VAR '{var_name}'"),
                    )
                })?;
                if fix_offsets {
                    var.1 = u32::try_from(value).unwrap_or(u32::MAX);
                }
                if hidden {
                    self.put_u32(vt.extra, VAR_STATIC);
                }
            }
            vars.sort_by_key(|v| v.1);
            for (i, (ty, off, size)) in vars.into_iter().enumerate() {
                self.put_u32(t.extra + 12 * i, ty);
                self.put_u32(t.extra + 12 * i + 4, off);
                self.put_u32(t.extra + 12 * i + 8, size);
            }
            // Re-read the record: its size may have changed.
            if let Some(rec) = self.types.get_mut(id as usize) {
                rec.size_type = read_u32(&self.types_data, t.extra - 4, self.order).unwrap_or(0);
            }
        }
        Ok(())
    }

    /// Why every kernel refuses this BTF at `BPF_BTF_LOAD`, for the one
    /// refusal that clang's output can trigger: a FUNC whose prototype has
    /// a typed argument without a name (`btf_func_check`: "Invalid arg#N";
    /// clang emits such prototypes for `__naked` functions).
    pub(crate) fn kernel_refusal(&self) -> Option<String> {
        for id in 1..self.types.len() as u32 {
            let t = self.get(id)?;
            if t.kind != kind::FUNC {
                continue;
            }
            let Some(proto) = self.get(t.size_type).filter(|p| p.kind == kind::FUNC_PROTO) else {
                continue;
            };
            for i in 0..proto.vlen as usize {
                let (name_off, ty) = (
                    self.extra_u32(&proto, 2 * i),
                    self.extra_u32(&proto, 2 * i + 1),
                );
                if name_off == 0 && ty != 0 {
                    return Some(format!(
                        "[{id}] FUNC {} type_id={} Invalid arg#{}",
                        self.name(id),
                        t.size_type,
                        i + 1
                    ));
                }
            }
        }
        None
    }

    /// `(program, callback)` for every `exception_callback:<callback>` decl
    /// tag on a global FUNC (libbpf's `bpf_prog_assign_exc_cb`).
    pub(crate) fn exception_callbacks(&self) -> Vec<(String, String)> {
        const PREFIX: &str = "exception_callback:";
        let mut out = Vec::new();
        for id in 1..self.types.len() as u32 {
            let Some(t) = self.get(id).filter(|t| t.kind == kind::DECL_TAG) else {
                continue;
            };
            if self.extra_u32(&t, 0) != u32::MAX {
                continue;
            }
            let Some(cb) = self.str_at(t.name_off).and_then(|n| n.strip_prefix(PREFIX)) else {
                continue;
            };
            // A FUNC's vlen is its linkage; 1 is global.
            let Some(func) = self
                .get(t.size_type)
                .filter(|f| f.kind == kind::FUNC && f.vlen == 1)
            else {
                continue;
            };
            if !cb.is_empty() {
                out.push((
                    self.str_at(func.name_off).unwrap_or("").to_owned(),
                    cb.to_owned(),
                ));
            }
        }
        out
    }

    /// A type by id.
    pub(crate) fn get(&self, id: u32) -> Option<TypeRec> {
        self.types.get(id as usize).copied()
    }

    /// Number of type ids, including `void`.
    pub(crate) fn len(&self) -> usize {
        self.types.len()
    }

    /// A string by offset; `None` when out of bounds or not NUL-terminated.
    pub(crate) fn str_at(&self, off: u32) -> Option<&str> {
        let rest = self.strings.get(off as usize..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&rest[..end]).ok()
    }

    /// The name of a type, empty when anonymous or unreadable.
    pub(crate) fn name(&self, id: u32) -> &str {
        self.get(id)
            .and_then(|t| self.str_at(t.name_off))
            .unwrap_or("")
    }

    fn extra_u32(&self, t: &TypeRec, word: usize) -> u32 {
        // Record bounds were checked in `parse`.
        read_u32(&self.types_data, t.extra + 4 * word, self.order).unwrap_or(0)
    }

    /// First type with this name (libbpf's `btf__find_by_name`).
    pub(crate) fn find_by_name(&self, name: &str) -> Option<u32> {
        (1..self.types.len() as u32).find(|&id| self.name(id) == name)
    }

    /// Follows typedefs and modifiers (`skip_mods_and_typedefs`).
    pub(crate) fn skip_mods(&self, mut id: u32) -> Option<(u32, TypeRec)> {
        for _ in 0..MAX_CHAIN {
            let t = self.get(id)?;
            match t.kind {
                kind::TYPEDEF | kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG => {
                    id = t.size_type;
                }
                _ => return Some((id, t)),
            }
        }
        None
    }

    /// `(elem_type, nelems)` of an array.
    pub(crate) fn array(&self, t: &TypeRec) -> Option<(u32, u32)> {
        (t.kind == kind::ARRAY).then(|| (self.extra_u32(t, 0), self.extra_u32(t, 2)))
    }

    /// `(name_off, type, offset)` members of a struct or union.
    pub(crate) fn members(&self, t: &TypeRec) -> Vec<(u32, u32, u32)> {
        if t.kind != kind::STRUCT && t.kind != kind::UNION {
            return Vec::new();
        }
        (0..t.vlen as usize)
            .map(|i| {
                (
                    self.extra_u32(t, 3 * i),
                    self.extra_u32(t, 3 * i + 1),
                    self.extra_u32(t, 3 * i + 2),
                )
            })
            .collect()
    }

    /// `(type, offset, size)` entries of a DATASEC.
    pub(crate) fn datasec_vars(&self, t: &TypeRec) -> Vec<(u32, u32, u32)> {
        if t.kind != kind::DATASEC {
            return Vec::new();
        }
        (0..t.vlen as usize)
            .map(|i| {
                (
                    self.extra_u32(t, 3 * i),
                    self.extra_u32(t, 3 * i + 1),
                    self.extra_u32(t, 3 * i + 2),
                )
            })
            .collect()
    }

    /// `linkage` of a VAR.
    pub(crate) fn var_linkage(&self, t: &TypeRec) -> Option<u32> {
        (t.kind == kind::VAR).then(|| self.extra_u32(t, 0))
    }

    /// Value of the first enumerator of an ENUM / ENUM64 (how `__ulong()`
    /// encodes 64-bit map attributes).
    pub(crate) fn first_enum_value(&self, t: &TypeRec) -> Option<u64> {
        if t.vlen == 0 {
            return None;
        }
        match t.kind {
            kind::ENUM => Some(u64::from(self.extra_u32(t, 1))),
            kind::ENUM64 => {
                Some(u64::from(self.extra_u32(t, 1)) | (u64::from(self.extra_u32(t, 2)) << 32))
            }
            _ => None,
        }
    }

    /// `btf__resolve_size`: the byte size of a type.
    pub(crate) fn resolve_size(&self, id: u32) -> Option<u64> {
        let mut id = id;
        let mut nelems: u64 = 1;
        for _ in 0..MAX_CHAIN {
            let t = self.get(id)?;
            let size = match t.kind {
                kind::INT
                | kind::STRUCT
                | kind::UNION
                | kind::ENUM
                | kind::ENUM64
                | kind::DATASEC
                | kind::FLOAT => u64::from(t.size_type),
                kind::PTR => 8,
                kind::TYPEDEF
                | kind::VOLATILE
                | kind::CONST
                | kind::RESTRICT
                | kind::TYPE_TAG
                | kind::VAR
                | kind::DECL_TAG => {
                    id = t.size_type;
                    continue;
                }
                kind::ARRAY => {
                    let (elem, n) = self.array(&t)?;
                    nelems = nelems.checked_mul(u64::from(n))?;
                    id = elem;
                    continue;
                }
                _ => return None,
            };
            let total = nelems.checked_mul(size)?;
            return (total <= u64::from(u32::MAX)).then_some(total);
        }
        None
    }

    /// `btf__align_of`: the natural alignment of a type.
    pub(crate) fn align_of(&self, id: u32) -> Option<u64> {
        // A visit budget keeps crafted (cyclic, wide) type graphs from
        // taking exponential time.
        let mut budget = 4096usize;
        self.align_depth(id, 0, &mut budget)
    }

    fn align_depth(&self, id: u32, depth: usize, budget: &mut usize) -> Option<u64> {
        *budget = budget.checked_sub(1)?;
        if depth > MAX_CHAIN {
            return None;
        }
        let (_, t) = self.skip_mods(id)?;
        match t.kind {
            kind::INT | kind::ENUM | kind::ENUM64 | kind::FLOAT => {
                Some(u64::from(t.size_type).clamp(1, 8))
            }
            kind::PTR => Some(8),
            kind::ARRAY => self.align_depth(self.array(&t)?.0, depth + 1, budget),
            kind::STRUCT | kind::UNION => {
                let mut align = 1;
                for (_, ty, _) in self.members(&t) {
                    align = align.max(self.align_depth(ty, depth + 1, budget)?);
                }
                Some(align)
            }
            _ => None,
        }
    }
}

/// The func_info and line_info of `.BTF.ext`, grouped by ELF section name.
/// Instruction offsets stay in bytes, as clang wrote them.
#[derive(Clone, Debug, Default)]
pub(crate) struct BtfExt {
    pub(crate) func_info: Vec<(String, Vec<FuncInfo>)>,
    pub(crate) line_info: Vec<(String, Vec<LineInfo>)>,
}

fn ext_err(offset: usize, what: impl Into<String>) -> ObjError {
    ObjError::BtfExt {
        offset,
        what: what.into(),
    }
}

impl BtfExt {
    /// Parses `.BTF.ext`, naming sections through the strings of `btf`.
    pub(crate) fn parse(data: &[u8], btf: &Btf) -> Result<Self, ObjError> {
        let order = magic_order(data).ok_or_else(|| ext_err(0, "bad magic"))?;
        let u = |off: usize| read_u32(data, off, order).ok_or_else(|| ext_err(off, "truncated"));
        let hdr_len = u(4)? as usize;
        if hdr_len < 24 || hdr_len > data.len() {
            return Err(ext_err(4, format!("header length {hdr_len} is invalid")));
        }
        let mut ext = Self::default();
        let func = Self::info_area(data, order, hdr_len, u(8)?, u(12)?, 8, btf, |rec| {
            FuncInfo {
                insn_off: rec[0],
                type_id: rec[1],
            }
        })?;
        ext.func_info = func;
        let line = Self::info_area(data, order, hdr_len, u(16)?, u(20)?, 16, btf, |rec| {
            LineInfo {
                insn_off: rec[0],
                file_name_off: rec[1],
                line_off: rec[2],
                line_col: rec[3],
            }
        })?;
        ext.line_info = line;
        Ok(ext)
    }

    /// Reads one info area: a record size, then per-section blocks of
    /// `(sec_name_off, num_info, records…)`.
    #[allow(clippy::too_many_arguments)]
    fn info_area<T>(
        data: &[u8],
        order: ByteOrder,
        hdr_len: usize,
        off: u32,
        len: u32,
        min_rec: usize,
        btf: &Btf,
        make: impl Fn(&[u32]) -> T,
    ) -> Result<Vec<(String, Vec<T>)>, ObjError> {
        let mut out = Vec::new();
        if len == 0 {
            return Ok(out);
        }
        let (start, end) = area(data.len(), hdr_len, off, len)
            .ok_or_else(|| ext_err(8, "info area outside the data"))?;
        let u = |o: usize| {
            if o + 4 > end {
                return Err(ext_err(o, "truncated info"));
            }
            read_u32(data, o, order).ok_or_else(|| ext_err(o, "truncated info"))
        };
        let rec_size = u(start)? as usize;
        if rec_size < min_rec || !rec_size.is_multiple_of(4) {
            return Err(ext_err(start, format!("record size {rec_size} is invalid")));
        }
        let mut pos = start + 4;
        while pos < end {
            let name_off = u(pos)?;
            let num = u(pos + 4)? as usize;
            let name = btf
                .str_at(name_off)
                .ok_or_else(|| ext_err(pos, format!("bad section name offset {name_off}")))?
                .to_owned();
            pos += 8;
            let bytes = num
                .checked_mul(rec_size)
                .filter(|b| pos + b <= end)
                .ok_or_else(|| ext_err(pos, format!("{num} records overrun the area")))?;
            let mut recs = Vec::with_capacity(num);
            for r in 0..num {
                let base = pos + r * rec_size;
                let words: Vec<u32> = (0..min_rec / 4)
                    .map(|w| u(base + 4 * w))
                    .collect::<Result<_, _>>()?;
                recs.push(make(&words));
            }
            pos += bytes;
            out.push((name, recs));
        }
        Ok(out)
    }
}
