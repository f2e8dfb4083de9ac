//! [`Btf::validate`]: what the kernel's `btf_check_all_metas` and its
//! resolve pass reject, as structured errors.

use crate::Btf;
use crate::error::{BtfError, BtfErrorKind as K, Result, err};
use crate::header::{BTF_MAX_SIZE, BTF_MAX_TYPE};
use crate::types::{BtfKind, BtfTypeId, Linkage, RawType, Type};

/// The kernel's `KSYM_NAME_LEN`, its limit on name length.
const KSYM_NAME_LEN: usize = 512;

#[derive(Clone, Copy, PartialEq, Eq)]
enum NameRule {
    /// Must be empty.
    None,
    /// Anything (INT names such as `long unsigned int`).
    Any,
    /// Empty or a valid identifier.
    OptIdent,
    /// A valid identifier.
    Ident,
    /// Any non-empty string.
    NonEmpty,
    /// Non-empty, printable characters (DATASEC).
    Section,
}

impl<'a> Btf<'a> {
    /// Check every own type as the kernel does when loading BTF: per-kind
    /// meta rules (names, vlen, kind_flag, sizes, encodings, member and
    /// datasec offsets, linkage), then references (ids in range, kinds
    /// allowed in each position), sizes of members/arrays/variables, loops
    /// and the nesting limit, and decl tag targets. Returns the first error.
    pub fn validate(&self) -> Result<()> {
        if self.base().is_none() && self.own_type_count() == 0 {
            return Err(err(K::TruncatedType, "no type found").at(self.header().type_range().start));
        }
        if self.bytes().len() > BTF_MAX_SIZE {
            return Err(err(
                K::BadSectionLayout,
                format!("{} bytes exceed BTF_MAX_SIZE", self.bytes().len()),
            ));
        }
        for id in self.own_ids() {
            let raw = self.raw_by_id(id)?;
            let locate = |e: BtfError| match self.type_file_offset(id) {
                Some(off) if e.offset().is_none() => e.at(off).for_type(id),
                _ => e.for_type(id),
            };
            self.check_meta(&raw).map_err(locate)?;
        }
        for id in self.own_ids() {
            let locate = |e: BtfError| match self.type_file_offset(id) {
                Some(off) if e.offset().is_none() => e.at(off).for_type(id),
                _ => e,
            };
            self.check_refs(id).map_err(locate)?;
        }
        self.check_containment_loops()
    }

    /// The composite a member holds by value, looking through modifiers
    /// and arrays; `None` for anything else (pointers break containment).
    fn contained_composite(&self, mut id: BtfTypeId) -> Result<Option<BtfTypeId>> {
        for _ in 0..crate::query::MAX_RESOLVE_DEPTH {
            let t = self.resolve(id)?;
            match t {
                Type::Array(a) => id = a.elem_type(),
                Type::Struct(_) | Type::Union(_) => return Ok(Some(t.id())),
                _ => return Ok(None),
            }
        }
        Err(err(
            K::DepthExceeded,
            format!("array nesting from {id} too deep"),
        )
        .for_type(id))
    }

    /// A struct/union must not contain itself by value, however indirectly
    /// (the kernel's "Loop detected"). One depth-first pass over own
    /// composites with the usual three colours.
    fn check_containment_loops(&self) -> Result<()> {
        const NEW: u8 = 0;
        const ACTIVE: u8 = 1;
        const DONE: u8 = 2;
        let first = self.first_id().0;
        let mut state = vec![NEW; self.own_type_count()];
        let slot = |id: BtfTypeId| id.0.checked_sub(first).map(|i| i as usize);
        for root in self.own_ids() {
            if state[(root.0 - first) as usize] != NEW || self.composite_of(root).is_none() {
                continue;
            }
            // (composite, next member index)
            let mut stack = vec![(root, 0usize)];
            state[(root.0 - first) as usize] = ACTIVE;
            while let Some(&mut (cur, ref mut next)) = stack.last_mut() {
                let Some(c) = self.composite_of(cur) else {
                    stack.pop();
                    continue;
                };
                let Some(m) = c.member(*next) else {
                    if let Some(i) = slot(cur) {
                        state[i] = DONE;
                    }
                    stack.pop();
                    continue;
                };
                *next += 1;
                let Some(inner) = self.contained_composite(m.ty)? else {
                    continue;
                };
                // Base types were validated with the base.
                let Some(i) = slot(inner) else { continue };
                match state.get(i).copied() {
                    Some(ACTIVE) => {
                        let at = self.type_file_offset(inner).unwrap_or(0);
                        return Err(err(K::Loop, format!("{inner} contains itself by value"))
                            .for_type(inner)
                            .at(at));
                    }
                    Some(NEW) => {
                        state[i] = ACTIVE;
                        stack.push((inner, 0));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn composite_of(&self, id: BtfTypeId) -> Option<crate::types::Composite<'_>> {
        self.type_by_id(id).ok().and_then(|t| t.as_composite())
    }

    fn check_name(&self, off: u32, rule: NameRule) -> Result<()> {
        if !self.str_valid(off) {
            return Err(err(
                K::StringOffsetOutOfRange,
                format!("name offset {off} >= {}", self.str_end()),
            ));
        }
        let name = self.str_bytes_at(off)?;
        let bad = |why: &str| {
            let shown = String::from_utf8_lossy(name);
            Err(err(K::InvalidName, format!("name {shown:?}: {why}")))
        };
        match rule {
            NameRule::None if !name.is_empty() => bad("must be anonymous"),
            NameRule::OptIdent if name.is_empty() => Ok(()),
            NameRule::OptIdent | NameRule::Ident if !is_identifier(name) => {
                bad("not a valid identifier")
            }
            NameRule::NonEmpty if name.is_empty() => bad("must not be empty"),
            NameRule::Section if !is_section_name(name) => bad("not a valid section name"),
            _ => Ok(()),
        }
    }

    fn check_meta(&self, t: &RawType<'_>) -> Result<()> {
        use BtfKind as B;
        let k = t.kind();
        // Bits 16-23 and 29-30 are reserved.
        if t.info() & !0x9f00_ffff != 0 {
            return Err(err(
                K::BadInfo,
                format!("info {:#010x} has reserved bits set", t.info()),
            ));
        }
        let kflag_ok = matches!(
            k,
            B::Struct | B::Union | B::Enum | B::Enum64 | B::Fwd | B::DeclTag | B::TypeTag
        );
        if t.kind_flag() && !kflag_ok {
            return Err(err(K::BadKindFlag, format!("kind_flag set on {k}")));
        }
        let vlen_ok = matches!(
            k,
            B::Struct | B::Union | B::Enum | B::Enum64 | B::FuncProto | B::Datasec | B::Func
        );
        if t.vlen() != 0 && !vlen_ok {
            return Err(err(K::BadVlen, format!("vlen {} on {k}", t.vlen())));
        }
        let name_rule = match k {
            B::Ptr | B::Array | B::Volatile | B::Const | B::Restrict | B::FuncProto => {
                NameRule::None
            }
            B::Struct | B::Union | B::Enum | B::Enum64 => NameRule::OptIdent,
            B::Typedef | B::Fwd | B::Func | B::Var => NameRule::Ident,
            B::TypeTag | B::DeclTag => NameRule::NonEmpty,
            B::Datasec => NameRule::Section,
            // INT and FLOAT names are C spellings (`long unsigned int`).
            B::Int | B::Float | B::Void => NameRule::Any,
        };
        self.check_name(t.name_off(), name_rule)?;
        if k.has_ref() && t.size_or_type() > BTF_MAX_TYPE {
            return Err(err(
                K::TypeIdOutOfRange,
                format!("type id {} > BTF_MAX_TYPE", t.size_or_type()),
            ));
        }
        match Type::from_raw(*t) {
            Type::Int(i) => {
                if i.raw_data() & !0x0fff_ffff != 0 {
                    return Err(err(
                        K::BadIntEncoding,
                        format!("int data {:#x}", i.raw_data()),
                    ));
                }
                let nr_bits = u32::from(i.bits()) + u32::from(i.bit_offset());
                if nr_bits > 128 {
                    return Err(err(K::BadIntEncoding, format!("{nr_bits} bits exceed 128")));
                }
                if nr_bits.div_ceil(8) > i.size() {
                    return Err(err(
                        K::BadSize,
                        format!("{nr_bits} bits do not fit {} bytes", i.size()),
                    ));
                }
                if let crate::types::IntEncoding::Other(v) = i.encoding() {
                    return Err(err(K::BadIntEncoding, format!("encoding {v:#x}")));
                }
            }
            Type::Ptr(_)
            | Type::Typedef(_)
            | Type::Volatile(_)
            | Type::Const(_)
            | Type::Restrict(_) => {}
            Type::TypeTag(_) => {}
            Type::Array(a) => {
                if t.size_or_type() != 0 {
                    return Err(err(K::BadSize, "array size field must be 0"));
                }
                for (what, id) in [("element", a.elem_type()), ("index", a.index_type())] {
                    if id.is_void() || id.0 > BTF_MAX_TYPE {
                        return Err(err(
                            K::TypeIdOutOfRange,
                            format!("invalid array {what} type {id}"),
                        ));
                    }
                }
            }
            Type::Struct(c) | Type::Union(c) => {
                let mut last = 0;
                for m in c.members() {
                    self.check_name(m.name_off, NameRule::OptIdent)?;
                    if m.ty.is_void() || m.ty.0 > BTF_MAX_TYPE {
                        return Err(member_err(
                            K::TypeIdOutOfRange,
                            m.index,
                            format!("type {}", m.ty),
                        ));
                    }
                    if c.is_union() && m.bit_offset != 0 {
                        return Err(member_err(
                            K::BadOffset,
                            m.index,
                            "union member at non-zero offset".into(),
                        ));
                    }
                    if m.bit_offset < last {
                        return Err(member_err(
                            K::BadOffset,
                            m.index,
                            "member offsets go backwards".into(),
                        ));
                    }
                    if m.bit_offset.div_ceil(8) > c.size() {
                        return Err(member_err(
                            K::BadOffset,
                            m.index,
                            "member offset past the struct size".into(),
                        ));
                    }
                    last = m.bit_offset;
                }
            }
            Type::Enum(e) | Type::Enum64(e) => {
                // ENUM may be 1..8 bytes since 6.0; only the values differ.
                if e.size() == 0 || e.size() > 8 || !e.size().is_power_of_two() {
                    return Err(err(K::BadSize, format!("enum size {}", e.size())));
                }
                for v in e.values() {
                    self.check_name(v.name_off, NameRule::Ident)?;
                }
            }
            Type::Fwd(_) => {
                if t.size_or_type() != 0 {
                    return Err(err(K::BadSize, "fwd type field must be 0"));
                }
            }
            Type::Func(f) => {
                // The kernel refuses extern funcs (libbpf rewrites them
                // before loading), like extern variables below.
                if !matches!(f.linkage(), Linkage::Static | Linkage::Global) {
                    return Err(err(
                        K::BadLinkage,
                        format!("func linkage {}", f.linkage().raw()),
                    ));
                }
            }
            Type::FuncProto(p) => {
                let n = p.len();
                for (i, prm) in p.params().enumerate() {
                    if prm.ty.is_void() {
                        // Only an unnamed last entry may be void: `...`.
                        if i + 1 != n || prm.name_off != 0 {
                            return Err(err(
                                K::TypeIdOutOfRange,
                                format!("param {i} has type void"),
                            ));
                        }
                        continue;
                    }
                    if prm.ty.0 > BTF_MAX_TYPE {
                        return Err(err(
                            K::TypeIdOutOfRange,
                            format!("param {i} type {}", prm.ty),
                        ));
                    }
                    self.check_name(prm.name_off, NameRule::OptIdent)?;
                }
            }
            Type::Var(v) => {
                if v.ty().is_void() {
                    return Err(err(K::TypeIdOutOfRange, "variable of type void"));
                }
                if !matches!(v.linkage(), Linkage::Static | Linkage::Global) {
                    return Err(err(
                        K::BadLinkage,
                        format!("var linkage {}", v.linkage().raw()),
                    ));
                }
            }
            Type::Datasec(d) => {
                if d.size() == 0 {
                    return Err(err(K::BadSize, "datasec size 0"));
                }
                let mut end = 0u64;
                for (i, e) in d.entries().enumerate() {
                    if e.ty.is_void() || e.ty.0 > BTF_MAX_TYPE {
                        return Err(err(K::TypeIdOutOfRange, format!("entry {i} type {}", e.ty)));
                    }
                    if u64::from(e.offset) < end || e.offset >= d.size() {
                        return Err(err(K::BadOffset, format!("entry {i} offset {}", e.offset)));
                    }
                    if e.size == 0 || e.size > d.size() {
                        return Err(err(K::BadSize, format!("entry {i} size {}", e.size)));
                    }
                    end = u64::from(e.offset) + u64::from(e.size);
                    if end > u64::from(d.size()) {
                        return Err(err(
                            K::BadOffset,
                            format!("entry {i} ends past the section"),
                        ));
                    }
                }
            }
            Type::Float(f) => {
                if !matches!(f.size(), 2 | 4 | 8 | 12 | 16) {
                    return Err(err(K::BadSize, format!("float size {}", f.size())));
                }
            }
            Type::DeclTag(d) => {
                if d.component_idx().is_err() {
                    return Err(err(K::BadComponentIndex, "component_idx < -1"));
                }
            }
            Type::Void(_) => return Err(err(K::UnknownKind, "kind 0")),
        }
        Ok(())
    }

    fn check_ref(&self, id: BtfTypeId, what: &str) -> Result<Type<'_>> {
        self.type_by_id(id).map_err(|_| {
            err(
                K::TypeIdOutOfRange,
                format!("{what} type {id} >= end {}", self.end_id()),
            )
        })
    }

    fn check_refs(&self, id: BtfTypeId) -> Result<()> {
        use BtfKind as B;
        let t = self.type_by_id(id)?;
        match t {
            Type::Ptr(_)
            | Type::Typedef(_)
            | Type::Volatile(_)
            | Type::Const(_)
            | Type::Restrict(_)
            | Type::TypeTag(_) => {
                // No loop made only of pointers and modifiers, and the first
                // type past the modifiers must be sized, void, FWD or a
                // FUNC_PROTO: never FUNC, VAR, DATASEC or DECL_TAG.
                self.chain_end(id)?;
                self.check_tag_order(id)?;
                let next = self.resolve(BtfTypeId(t.raw().size_or_type()))?;
                if matches!(next.kind(), B::Func | B::Datasec | B::Var | B::DeclTag) {
                    return Err(err(
                        K::BadReferencedKind,
                        format!("{} refers to {} {}", t.kind(), next.kind(), next.id()),
                    ));
                }
            }
            Type::Array(a) => {
                self.check_ref(a.index_type(), "array index")?;
                let idx = self.resolve(a.index_type())?;
                if !matches!(idx, Type::Int(i) if int_is_regular(&i)) {
                    return Err(err(
                        K::BadReferencedKind,
                        format!("array index type {} is not a regular int", idx.id()),
                    ));
                }
                self.check_sized(a.elem_type(), "array element")?;
                self.size_of(id)?;
            }
            Type::Struct(c) | Type::Union(c) => {
                for m in c.members() {
                    self.check_member(&c, &m)
                        .map_err(|e| member_err(e.kind(), m.index, e.detail().to_string()))?;
                }
            }
            Type::Func(f) => {
                let p = self.check_ref(f.proto(), "func proto")?;
                if let Type::FuncProto(proto) = p {
                    // A function's parameters are named (only `...` is not).
                    if let Some(i) = proto
                        .params()
                        .position(|q| q.name_off == 0 && !q.ty.is_void())
                    {
                        return Err(err(K::InvalidName, format!("parameter {i} has no name")));
                    }
                }
                if p.kind() != B::FuncProto {
                    return Err(err(
                        K::BadReferencedKind,
                        format!("func points to {}", p.kind()),
                    ));
                }
            }
            Type::FuncProto(p) => {
                // Return and parameter types must have a size (void return
                // and a trailing `...` aside).
                if !p.return_type().is_void() {
                    self.check_sized(p.return_type(), "return")?;
                }
                for (i, prm) in p.params().enumerate() {
                    if prm.ty.is_void() {
                        continue;
                    }
                    self.check_sized(prm.ty, &format!("param {i}"))?;
                }
            }
            Type::Var(v) => {
                self.check_sized(v.ty(), "variable")?;
            }
            Type::Datasec(d) => {
                for (i, e) in d.entries().enumerate() {
                    let vt = self.check_ref(e.ty, "datasec entry")?;
                    if vt.kind() != B::Var {
                        return Err(err(
                            K::BadReferencedKind,
                            format!("datasec entry {i} is {}", vt.kind()),
                        ));
                    }
                    if self.size_of(e.ty)? > e.size {
                        return Err(err(
                            K::BadSize,
                            format!("datasec entry {i} smaller than its variable"),
                        ));
                    }
                }
            }
            Type::DeclTag(d) => {
                let target = self.check_ref(d.target(), "decl tag target")?;
                let comp = d.component_idx().unwrap_or(None);
                let limit = match target {
                    Type::Struct(c) | Type::Union(c) => Some(c.len()),
                    Type::Func(f) => match self.type_by_id(f.proto())? {
                        Type::FuncProto(p) => Some(p.len()),
                        _ => Some(0),
                    },
                    Type::Var(_) | Type::Typedef(_) => None,
                    _ => {
                        return Err(err(
                            K::BadReferencedKind,
                            format!("decl tag on {}", target.kind()),
                        ));
                    }
                };
                match (comp, limit) {
                    (None, _) => {}
                    (Some(_), None) => {
                        return Err(err(K::BadComponentIndex, "component on var/typedef"));
                    }
                    (Some(c), Some(n)) if c as usize >= n => {
                        return Err(err(K::BadComponentIndex, format!("component {c} >= {n}")));
                    }
                    _ => {}
                }
            }
            Type::Int(_)
            | Type::Enum(_)
            | Type::Enum64(_)
            | Type::Fwd(_)
            | Type::Float(_)
            | Type::Void(_) => {}
        }
        Ok(())
    }

    /// Follow PTR and modifier links from `id`, detecting loops and the
    /// depth limit; returns the first other type.
    fn chain_end(&self, id: BtfTypeId) -> Result<Type<'_>> {
        let mut seen = [BtfTypeId::VOID; crate::query::MAX_RESOLVE_DEPTH];
        let mut cur = id;
        for i in 0..seen.len() {
            let t = self.check_ref(cur, "referenced")?;
            if !(t.kind().is_modifier() || t.kind() == BtfKind::Ptr) {
                return Ok(t);
            }
            seen[i] = cur;
            cur = BtfTypeId(t.raw().size_or_type());
            if seen[..=i].contains(&cur) {
                return Err(err(
                    K::Loop,
                    format!("reference chain from {id} loops at {cur}"),
                ));
            }
        }
        Err(err(
            K::DepthExceeded,
            format!("reference chain from {id} longer than the limit"),
        ))
    }

    /// In a modifier chain, type tags must come first: `ptr -> tag -> const
    /// -> int` is fine, `ptr -> const -> tag -> int` is not (the kernel's
    /// "Type tags don't precede modifiers").
    fn check_tag_order(&self, id: BtfTypeId) -> Result<()> {
        let mut t = self.type_by_id(id)?;
        let mut in_tags = t.kind() == B::TypeTag;
        for _ in 0..crate::query::MAX_RESOLVE_DEPTH {
            if !t.kind().is_modifier() {
                return Ok(());
            }
            match (t.kind() == B::TypeTag, in_tags) {
                (true, false) => {
                    return Err(err(
                        K::BadReferencedKind,
                        format!("type tag {} follows a modifier", t.id()),
                    ));
                }
                (false, true) => in_tags = false,
                _ => {}
            }
            t = self.type_by_id(BtfTypeId(t.raw().size_or_type()))?;
        }
        Ok(())
    }

    /// One member against its parent, by the member type's resolved kind,
    /// as the kernel's per-kind `check_member`/`check_kflag_member` do.
    fn check_member(
        &self,
        c: &crate::types::Composite<'_>,
        m: &crate::types::Member<'_>,
    ) -> Result<()> {
        let size = self.check_sized(m.ty, "member")?;
        let struct_bits = u64::from(c.size()) * 8;
        let off = u64::from(m.bit_offset);
        let fits = |bits: u64, start: u64| {
            // Whole bytes touched, from the byte holding `start`.
            let first = start / 8 * 8;
            (start % 8 + bits).div_ceil(8) * 8 + first <= struct_bits
        };
        let exceeds = || Err(err(K::BadOffset, "member exceeds the struct size"));
        let unaligned = || Err(err(K::BadOffset, "member is not byte aligned"));
        match self.resolve(m.ty)? {
            Type::Int(i) if c.kind_flag() => {
                if !int_is_regular(&i) {
                    return Err(err(
                        K::BadReferencedKind,
                        "bitfield base type is not a regular int",
                    ));
                }
                let bits = match u64::from(m.bitfield_size) {
                    0 if off % 8 != 0 => return unaligned(),
                    0 => u64::from(i.bits()),
                    n if n > u64::from(i.bits()) => {
                        return Err(err(K::BadSize, "bitfield wider than its int"));
                    }
                    n => n,
                };
                if off % 8 + bits > 128 || !fits(bits, off) {
                    return exceeds();
                }
            }
            Type::Int(i) => {
                // Without kind_flag a bitfield is an INT with its own bit layout.
                let start = off + u64::from(i.bit_offset());
                let bits = u64::from(i.bits());
                if start % 8 + bits > 128 || !fits(bits, start) {
                    return exceeds();
                }
            }
            Type::Enum(_) | Type::Enum64(_) => {
                let bits = match u64::from(m.bitfield_size) {
                    0 if off % 8 != 0 => return unaligned(),
                    0 if c.kind_flag() => 32,
                    0 => u64::from(size) * 8,
                    n if n > 32 => return Err(err(K::BadSize, "enum bitfield wider than 32 bits")),
                    n => n,
                };
                if off + bits > struct_bits {
                    return exceeds();
                }
            }
            _ => {
                if m.bitfield_size != 0 {
                    return Err(err(K::BadReferencedKind, "bitfield of a non-integer type"));
                }
                if off % 8 != 0 {
                    return unaligned();
                }
                if off + u64::from(size) * 8 > struct_bits {
                    return exceeds();
                }
            }
        }
        Ok(())
    }

    fn check_sized(&self, id: BtfTypeId, what: &str) -> Result<u32> {
        self.check_ref(id, what)?;
        let r = self.resolve(id)?;
        if matches!(
            r.kind(),
            B::Void | B::Fwd | B::Func | B::FuncProto | B::Datasec | B::Var | B::DeclTag
        ) {
            return Err(err(
                K::NotSized,
                format!("{what} type {id} is {}", r.kind()),
            ));
        }
        self.size_of(id)
    }
}

use BtfKind as B;

/// The kernel's "regular" int: whole bytes (1, 2, 4, 8 or 16), no bit offset.
fn int_is_regular(i: &crate::types::Int<'_>) -> bool {
    i.bits().is_multiple_of(8) && i.bit_offset() == 0 && matches!(i.bits() / 8, 1 | 2 | 4 | 8 | 16)
}

fn member_err(kind: K, index: u16, detail: String) -> BtfError {
    err(kind, format!("member {index}: {detail}"))
}

/// The kernel's `isalpha` on a byte: ASCII letters plus the Latin-1
/// letters of its ctype table.
fn kernel_isalpha(c: u8) -> bool {
    c.is_ascii_alphabetic() || matches!(c, 192..=214 | 216..=246 | 248..=255)
}

/// `[alpha_.][alnum_.]*`, shorter than `KSYM_NAME_LEN`, as the kernel's
/// `btf_name_valid_identifier` accepts.
fn is_identifier(b: &[u8]) -> bool {
    let ok = |c: u8, first: bool| {
        kernel_isalpha(c) || c == b'_' || c == b'.' || (!first && c.is_ascii_digit())
    };
    match b.split_first() {
        Some((&c, rest)) => {
            b.len() < KSYM_NAME_LEN && ok(c, true) && rest.iter().all(|&c| ok(c, false))
        }
        None => false,
    }
}

/// Non-empty, printable (ASCII or Latin-1 160..=255), shorter than
/// `KSYM_NAME_LEN`.
fn is_section_name(b: &[u8]) -> bool {
    !b.is_empty()
        && b.len() < KSYM_NAME_LEN
        && b.iter().all(|&c| (0x20..0x7f).contains(&c) || c >= 160)
}
