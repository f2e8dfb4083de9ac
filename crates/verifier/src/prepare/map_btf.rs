//! The special fields of a map value described by BTF, found the way
//! 6.18's `map_check_btf` asks `btf_parse_fields` to find them.
//!
//! The kernel walks the value type's members (or a data section's
//! variables), flattening arrays and descending into nested structs, and
//! recognises fields by their type: structs named `bpf_spin_lock`,
//! `bpf_res_spin_lock`, `bpf_timer`, `bpf_wq`, `bpf_task_work`,
//! `bpf_refcount`, `bpf_list_head` and `bpf_rb_root` of the kernel's size
//! at an aligned offset, and pointers to a type tag (`kptr`,
//! `kptr_untrusted`, `percpu_kptr`, `uptr`). Graph nodes (`bpf_list_node`,
//! `bpf_rb_node`) are not in the mask a map asks for: in a map value they
//! are plain memory.
//!
//! The fields found, with their offsets, are the map's record: with none
//! the map is plain memory to the verifier. A walk that would make the kernel's
//! parse fail (duplicate singletons, unknown or stacked type tags, offsets
//! inside a byte, nesting too deep) is reported as such rather than
//! second-guessed.

use bpfcheck_btf::{Btf, BtfKind, BtfTypeId, Type};

/// `MAX_RESOLVE_DEPTH`: array flattening and struct nesting limit.
const MAX_DEPTH: u32 = 32;

/// A kind of special field the verifier would have to model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpecialField {
    SpinLock,
    ResSpinLock,
    Timer,
    Workqueue,
    TaskWork,
    Refcount,
    ListHead,
    RbRoot,
    /// A pointer tagged with the named type tag.
    Kptr(&'static str),
}

impl SpecialField {
    /// How the field is spelled in C, for messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::SpinLock => "struct bpf_spin_lock",
            Self::ResSpinLock => "struct bpf_res_spin_lock",
            Self::Timer => "struct bpf_timer",
            Self::Workqueue => "struct bpf_wq",
            Self::TaskWork => "struct bpf_task_work",
            Self::Refcount => "struct bpf_refcount",
            Self::ListHead => "struct bpf_list_head",
            Self::RbRoot => "struct bpf_rb_root",
            Self::Kptr(tag) => match tag {
                "kptr" => "__kptr",
                "kptr_untrusted" => "__kptr_untrusted",
                "percpu_kptr" => "__percpu_kptr",
                _ => "__uptr",
            },
        }
    }

    /// Size and alignment the kernel requires (`btf_field_type_size`,
    /// `btf_field_type_align`).
    fn size_align(self) -> (u32, u32) {
        match self {
            Self::SpinLock | Self::ResSpinLock | Self::Refcount => (4, 4),
            Self::Timer | Self::Workqueue | Self::ListHead | Self::RbRoot => (16, 8),
            Self::TaskWork | Self::Kptr(_) => (8, 8),
        }
    }

    fn by_struct_name(name: &str) -> Option<Self> {
        Some(match name {
            "bpf_spin_lock" => Self::SpinLock,
            "bpf_res_spin_lock" => Self::ResSpinLock,
            "bpf_timer" => Self::Timer,
            "bpf_wq" => Self::Workqueue,
            "bpf_task_work" => Self::TaskWork,
            "bpf_refcount" => Self::Refcount,
            "bpf_list_head" => Self::ListHead,
            "bpf_rb_root" => Self::RbRoot,
            _ => return None,
        })
    }
}

/// One special field of a map value (`struct btf_field`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) kind: SpecialField,
    /// Byte offset in the value.
    pub(crate) offset: u32,
    /// For a kptr: the struct it points to, in the program's BTF
    /// (modifiers skipped); 0 otherwise.
    pub(crate) target: u32,
    /// For a kptr: that struct in the kernel's BTF, once resolved
    /// ([`super::kptr_btf`]).
    pub(crate) kernel: Option<super::kptr_btf::KptrTarget>,
}

impl Field {
    /// Bytes the field covers (`btf_field_type_size`).
    pub(crate) fn size(self) -> u32 {
        self.kind.size_align().0
    }
}

/// What the walk found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ValueFields {
    /// Plain memory.
    None,
    /// The special fields, in layout order (`btf_record`).
    Special(Vec<Field>),
    /// The kernel's parse would fail or the BTF is unreadable here.
    Unparsable(String),
}

/// Every map's record, by map index: what the prepare pass let through
/// (spin locks, timers, kptrs with their kernel types) or nothing.
pub(crate) fn map_records(
    req: &bpfcheck_uapi::LoadRequest,
    maps: &[bpfcheck_uapi::MapSpec],
    profile: &bpfcheck_profile::KernelProfile,
) -> Vec<Vec<Field>> {
    let btf = req.prog_btf.as_deref().and_then(|b| Btf::parse(b).ok());
    maps.iter()
        .map(|m| match (&btf, m.btf_value_type_id) {
            (Some(btf), id) if id != 0 => match value_fields(btf, BtfTypeId(id)) {
                ValueFields::Special(mut fields) => {
                    for f in &mut fields {
                        if matches!(f.kind, SpecialField::Kptr(_)) {
                            f.kernel = super::kptr_btf::resolve(btf, profile, m.map_type, f).ok();
                        }
                    }
                    fields
                }
                _ => Vec::new(),
            },
            _ => Vec::new(),
        })
        .collect()
}

impl ValueFields {
    /// The first field in layout order, if any.
    #[cfg(test)]
    pub(crate) fn first(&self) -> Option<SpecialField> {
        match self {
            Self::Special(f) => f.first().map(|f| f.kind),
            _ => None,
        }
    }
}

/// The special fields of value type `value` (`btf_value_type_id`).
pub(crate) fn value_fields(btf: &Btf<'_>, value: BtfTypeId) -> ValueFields {
    // `btf_type_id_size` resolves the value type through typedefs and
    // modifiers before the fields are looked for.
    let mut found = Vec::new();
    let walk = match btf.resolve(value) {
        Ok(Type::Struct(_)) => walk_struct(btf, value, 0, 0, &mut found),
        Ok(Type::Datasec(sec)) => walk_datasec(btf, sec.entries(), &mut found),
        // Neither a struct nor a section: the kernel's record is an error
        // pointer, which every user treats as "no fields".
        Ok(_) => Ok(()),
        Err(e) => Err(format!("map value type {}: {e}", value.0)),
    };
    match walk.and_then(|()| check_singletons(&found)) {
        Ok(()) if found.is_empty() => ValueFields::None,
        Ok(()) => {
            found.sort_by_key(|f| f.offset);
            ValueFields::Special(found)
        }
        Err(why) => ValueFields::Unparsable(why),
    }
}

/// `btf_parse_fields` allows one of each kind but kptrs and graph roots,
/// and not both kinds of spin lock.
fn check_singletons(found: &[Field]) -> Result<(), String> {
    for (i, f) in found.iter().enumerate() {
        let repeatable = matches!(
            f.kind,
            SpecialField::Kptr(_) | SpecialField::ListHead | SpecialField::RbRoot
        );
        if !repeatable && found[..i].iter().any(|g| g.kind == f.kind) {
            return Err(format!("two {} in a map value", f.kind.name()));
        }
    }
    let has = |k| found.iter().any(|f| f.kind == k);
    if has(SpecialField::SpinLock) && has(SpecialField::ResSpinLock) {
        return Err("both kinds of spin lock in a map value".into());
    }
    Ok(())
}

type Found = Result<(), String>;

fn walk_struct(btf: &Btf<'_>, id: BtfTypeId, base: u32, level: u32, out: &mut Vec<Field>) -> Found {
    let st = btf
        .composite(btf.resolve(id).map_err(|e| e.to_string())?.id())
        .map_err(|e| e.to_string())?;
    for m in st.members() {
        if !m.bit_offset.is_multiple_of(8) {
            return Err(format!(
                "member at bit offset {} in a map value",
                m.bit_offset
            ));
        }
        let at = Place {
            base,
            off: m.bit_offset / 8,
        };
        field_one(btf, m.ty, at, None, level, out)?;
    }
    Ok(())
}

fn walk_datasec(
    btf: &Btf<'_>,
    vars: impl Iterator<Item = bpfcheck_btf::types::VarSecInfo>,
    out: &mut Vec<Field>,
) -> Found {
    for v in vars {
        let var_type = match btf.type_by_id(v.ty).map_err(|e| e.to_string())? {
            Type::Var(var) => var.ty(),
            // `.ksyms`-style FUNC entries: the kernel reads their `type`
            // (the prototype), which holds no field.
            other => BtfTypeId(other.raw().size_or_type()),
        };
        let at = Place {
            base: 0,
            off: v.offset,
        };
        field_one(btf, var_type, at, Some(v.size), 0, out)?;
    }
    Ok(())
}

/// Where a member lies: its offset in the struct that declares it, whose
/// own offset in the value is `base` (alignment is checked on `off`).
#[derive(Clone, Copy)]
struct Place {
    base: u32,
    off: u32,
}

/// One member or variable of type `ty` at `at`; `expected` is the section
/// entry's size for data-section variables.
fn field_one(
    btf: &Btf<'_>,
    mut ty: BtfTypeId,
    at: Place,
    expected: Option<u32>,
    level: u32,
    out: &mut Vec<Field>,
) -> Found {
    let err = |e: bpfcheck_btf::BtfError| e.to_string();
    // Arrays are flattened (no modifiers are skipped on the way, as in the
    // kernel: a typedef'd array is not looked into).
    let mut nelems: u64 = 1;
    let mut depth = 0;
    let mut t = btf.type_by_id(ty).map_err(err)?;
    while let Type::Array(a) = t {
        depth += 1;
        if depth >= MAX_DEPTH {
            return Err("array nesting too deep in a map value".into());
        }
        nelems = nelems.saturating_mul(u64::from(a.nelems()));
        ty = a.elem_type();
        t = btf.type_by_id(ty).map_err(err)?;
    }
    if nelems == 0 {
        return Ok(());
    }
    let name = t.raw().name().map_err(|e| e.to_string())?;
    let is_struct = t.kind() == BtfKind::Struct;
    let size_matches =
        |sz: u32| expected.is_none_or(|e| u64::from(e) == u64::from(sz).saturating_mul(nelems));
    let off = at.off;
    // Repeated elements are laid out one after another.
    let copies = |f: SpecialField, target: u32, out: &mut Vec<Field>| -> Found {
        if nelems > 1 && !matches!(f, SpecialField::Kptr(_)) {
            // Arrays of locks, timers or roots: the kernel's record would
            // have one entry per element; not modelled.
            return Err(format!("an array of {} in a map value", f.name()));
        }
        let sz = f.size_align().0;
        for k in 0..u32::try_from(nelems).map_err(|_| "huge array in a map value".to_string())? {
            out.push(Field {
                kind: f,
                offset: at.base + off + k * sz,
                target,
                kernel: None,
            });
        }
        Ok(())
    };
    let candidate = match SpecialField::by_struct_name(name) {
        Some(f) => f,
        None if is_struct => {
            if !size_matches(t.raw().size_or_type()) {
                return Ok(());
            }
            if level + 1 >= MAX_DEPTH {
                return Err("struct nesting too deep in a map value".into());
            }
            if nelems > 1 {
                // The kernel repeats a nested struct's fields per element.
                let mut inner = Vec::new();
                walk_struct(btf, ty, at.base + off, level + 1, &mut inner)?;
                if inner.is_empty() {
                    return Ok(());
                }
                return Err("an array of structs with special fields in a map value".into());
            }
            return walk_struct(btf, ty, at.base + off, level + 1, out);
        }
        // Everything else is a kptr candidate, decided by its tag below.
        None => SpecialField::Kptr("kptr"),
    };
    let (sz, align) = candidate.size_align();
    if !size_matches(sz) || !off.is_multiple_of(align) {
        return Ok(());
    }
    match candidate {
        SpecialField::Kptr(_) => match kptr_tag(btf, t)? {
            Some((f, target)) => copies(f, target, out),
            None => Ok(()),
        },
        // Named like a special struct but not one of the kernel's shape.
        f if is_struct && t.raw().size_or_type() == sz => copies(f, 0, out),
        _ => Ok(()),
    }
}

/// `btf_find_kptr`: a (possibly volatile) pointer to exactly one type tag
/// naming the kind of kptr, over a struct (whose id, modifiers skipped,
/// comes with the kind).
fn kptr_tag(btf: &Btf<'_>, t: Type<'_>) -> Result<Option<(SpecialField, u32)>, String> {
    let err = |e: bpfcheck_btf::BtfError| e.to_string();
    let t = match t {
        Type::Volatile(r) => btf.type_by_id(r.target()).map_err(err)?,
        t => t,
    };
    let Type::Ptr(p) = t else {
        return Ok(None);
    };
    let Type::TypeTag(tag) = btf.type_by_id(p.target()).map_err(err)? else {
        return Ok(None);
    };
    if btf.type_by_id(tag.target()).map_err(err)?.kind() == BtfKind::TypeTag {
        return Err("pointer with more than one type tag in a map value".into());
    }
    let kind = match tag.name().map_err(err)? {
        "kptr" => "kptr",
        "kptr_untrusted" => "kptr_untrusted",
        "percpu_kptr" => "percpu_kptr",
        "uptr" => "uptr",
        other => return Err(format!("pointer tagged \"{other}\" in a map value")),
    };
    let target = btf.resolve(tag.target()).map_err(err)?;
    if target.kind() != BtfKind::Struct {
        return Err(format!("__{kind} pointer to a non-struct in a map value"));
    }
    Ok(Some((SpecialField::Kptr(kind), target.id().0)))
}

#[cfg(test)]
mod tests {
    use bpfcheck_btf::{Btf, BtfBuilder, BtfTypeId, ByteOrder, builder::TypeSpec};

    use super::{SpecialField, ValueFields, value_fields};

    fn fields(build: impl FnOnce(&mut BtfBuilder) -> BtfTypeId) -> ValueFields {
        let mut b = BtfBuilder::new();
        let value = build(&mut b);
        let bytes = b.to_bytes(ByteOrder::Little);
        let btf = Btf::parse(&bytes).expect("builder output parses");
        value_fields(&btf, value)
    }

    fn array(b: &mut BtfBuilder, elem: BtfTypeId, nelems: u32) -> BtfTypeId {
        let index = b.int("unsigned int", 4, false);
        b.add(&TypeSpec::Array {
            elem,
            index,
            nelems,
        })
        .expect("array")
    }

    fn kptr(b: &mut BtfBuilder, tag: &str) -> BtfTypeId {
        let int = b.int("int", 4, true);
        let task = b
            .struct_("task_struct", 4, &[("pid", int, 0)])
            .expect("struct");
        let tagged = b
            .add(&TypeSpec::TypeTag {
                value: tag.into(),
                target: task,
                attr: false,
            })
            .expect("tag");
        b.ptr(tagged)
    }

    #[test]
    fn scalars_and_plain_structs_are_plain_memory() {
        assert_eq!(fields(|b| b.int("long", 8, true)), ValueFields::None);
        let got = fields(|b| {
            let int = b.int("int", 4, true);
            let arr = array(b, int, 4);
            let inner = b.struct_("inner", 4, &[("x", int, 0)]).expect("struct");
            b.struct_(
                "val",
                24,
                &[("a", int, 0), ("arr", arr, 4), ("in", inner, 20)],
            )
            .expect("struct")
        });
        assert_eq!(got, ValueFields::None);
    }

    #[test]
    fn spin_lock_found_directly_nested_and_by_size_only() {
        let lock = |b: &mut BtfBuilder, size| {
            let int = b.int("unsigned int", 4, false);
            b.struct_("bpf_spin_lock", size, &[("val", int, 0)])
                .expect("struct")
        };
        let direct = fields(|b| {
            let l = lock(b, 4);
            let int = b.int("int", 4, true);
            b.struct_("val", 8, &[("cnt", int, 0), ("lock", l, 4)])
                .expect("struct")
        });
        assert_eq!(direct.first(), Some(SpecialField::SpinLock));
        let nested = fields(|b| {
            let l = lock(b, 4);
            let inner = b.struct_("inner", 4, &[("lock", l, 0)]).expect("struct");
            b.struct_("val", 4, &[("in", inner, 0)]).expect("struct")
        });
        assert_eq!(nested.first(), Some(SpecialField::SpinLock));
        // A struct of that name but not the kernel's size is plain memory.
        let wrong_size = fields(|b| {
            let l = lock(b, 8);
            b.struct_("val", 8, &[("lock", l, 0)]).expect("struct")
        });
        assert_eq!(wrong_size, ValueFields::None);
    }

    #[test]
    fn graph_nodes_are_not_map_fields_but_roots_are() {
        let u64_ = |b: &mut BtfBuilder| b.int("unsigned long long", 8, false);
        let node = fields(|b| {
            let u = u64_(b);
            let arr = array(b, u, 3);
            let n = b
                .struct_("bpf_list_node", 24, &[("__opaque", arr, 0)])
                .expect("struct");
            b.struct_("val", 24, &[("node", n, 0)]).expect("struct")
        });
        assert_eq!(node, ValueFields::None);
        let root = fields(|b| {
            let u = u64_(b);
            let arr = array(b, u, 2);
            let r = b
                .struct_("bpf_rb_root", 16, &[("__opaque", arr, 0)])
                .expect("struct");
            b.struct_("val", 16, &[("root", r, 0)]).expect("struct")
        });
        assert_eq!(root.first(), Some(SpecialField::RbRoot));
    }

    #[test]
    fn kptrs_by_type_tag() {
        let got = fields(|b| {
            let p = kptr(b, "kptr");
            b.struct_("val", 8, &[("task", p, 0)]).expect("struct")
        });
        assert_eq!(got.first(), Some(SpecialField::Kptr("kptr")));
        // Arrays of kptrs are flattened.
        let arr = fields(|b| {
            let p = kptr(b, "percpu_kptr");
            let a = array(b, p, 2);
            b.struct_("val", 16, &[("tasks", a, 0)]).expect("struct")
        });
        assert_eq!(arr.first(), Some(SpecialField::Kptr("percpu_kptr")));
        // A tag the kernel does not know makes its parse fail.
        let unknown = fields(|b| {
            let p = kptr(b, "user");
            b.struct_("val", 8, &[("task", p, 0)]).expect("struct")
        });
        assert!(matches!(unknown, ValueFields::Unparsable(_)));
        // An untagged pointer is plain memory.
        let plain = fields(|b| {
            let int = b.int("int", 4, true);
            let p = b.ptr(int);
            b.struct_("val", 8, &[("p", p, 0)]).expect("struct")
        });
        assert_eq!(plain, ValueFields::None);
    }
}
