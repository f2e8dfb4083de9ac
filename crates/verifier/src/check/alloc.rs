//! Objects the program allocates (`PTR_TO_BTF_ID | MEM_ALLOC`): the
//! kfuncs that create, free and share them, and loads and stores through
//! them.
//!
//! Implemented, as 6.12 and 6.18 do:
//! - `bpf_obj_new_impl` / `bpf_percpu_obj_new_impl`: the `__k` type id
//!   names a struct of the program's BTF (`local type ID argument must be
//!   in range`, `requires prog BTF`, `must be of a struct`); a per-CPU
//!   object must be at most `BPF_GLOBAL_PERCPU_MA_MAX_SIZE` bytes, a
//!   struct of scalars without special fields. R0 is an acquired,
//!   maybe-NULL allocated object (`MEM_PERCPU` for the per-CPU one).
//! - `bpf_obj_drop_impl` / `bpf_percpu_obj_drop_impl`
//!   (`KF_ARG_PTR_TO_ALLOC_BTF_ID`): the matching kind of referenced
//!   allocated object, released.
//! - `bpf_refcount_acquire_impl` (`KF_ARG_PTR_TO_REFCOUNTED_KPTR`): an
//!   owning or non-owning allocated object of a type with a
//!   `bpf_refcount`; R0 a new reference to it, NULL only when the
//!   argument was non-owning.
//! - `check_ptr_to_btf_access` for allocated objects: reads and writes of
//!   scalar members, `direct access to %s is disallowed` for the fields
//!   of the type's record (`btf_find_struct_meta`), per-CPU memory
//!   refused.
//!
//! Knowingly not: graph nodes (`bpf_list_*`, `bpf_rbtree_*`; their roots
//! are `check::graph`'s), non-owning references' creation, spin locks
//! and kptrs inside allocated objects, loads of pointer members of an
//! allocated object, and kernel 6.1, which has none of this
//! (`walk_v6_1.graph_objects`): those stop the walk as `unsupported`.

use bpfcheck_btf::{Btf, BtfKind, BtfTypeId, Type};
use bpfcheck_profile::kfuncs::KfuncFlags;
use bpfcheck_uapi::Errno;

use super::Checker;
use super::btf_walk::{Walked, struct_access};
use crate::error::{ErrorCode, Stop};
use crate::prepare::map_btf::{SpecialField, ValueFields, value_fields};
use crate::state::{BtfPtr, MemKind, Owner, PtrFields, RegState, Trust, TypeName};

/// `BPF_GLOBAL_PERCPU_MA_MAX_SIZE`.
const PERCPU_MAX_SIZE: u32 = 512;

/// The allocation kfuncs this module models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AllocKfunc {
    ObjNew,
    PercpuObjNew,
    ObjDrop,
    PercpuObjDrop,
    RefcountAcquire,
}

impl AllocKfunc {
    /// The kfunc `name` is, if one of these.
    pub(super) fn of(name: &str) -> Option<Self> {
        Some(match name {
            "bpf_obj_new_impl" => Self::ObjNew,
            "bpf_percpu_obj_new_impl" => Self::PercpuObjNew,
            "bpf_obj_drop_impl" => Self::ObjDrop,
            "bpf_percpu_obj_drop_impl" => Self::PercpuObjDrop,
            "bpf_refcount_acquire_impl" => Self::RefcountAcquire,
            _ => return None,
        })
    }

    fn percpu(self) -> bool {
        matches!(self, Self::PercpuObjNew | Self::PercpuObjDrop)
    }
}

/// What the arguments of an allocation kfunc told its return
/// (`meta->arg_constant`, `meta->arg_btf_id`, `meta->arg_owning_ref`).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct AllocMeta {
    /// The `__k` constant.
    pub(super) constant: Option<u64>,
    /// The allocated object argument's type and name.
    pub(super) arg: Option<(u32, TypeName)>,
    /// Whether that argument was an owning reference.
    pub(super) arg_owning: bool,
}

/// The kind of a field of an allocated object's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AllocField {
    Special(SpecialField),
    ListNode,
    RbNode,
}

impl AllocField {
    /// `btf_field_type_name`.
    fn name(self) -> &'static str {
        match self {
            Self::Special(f) => match f {
                SpecialField::SpinLock => "bpf_spin_lock",
                SpecialField::ResSpinLock => "bpf_res_spin_lock",
                SpecialField::Timer => "bpf_timer",
                SpecialField::Workqueue => "bpf_wq",
                SpecialField::TaskWork => "bpf_task_work",
                SpecialField::Refcount => "bpf_refcount",
                SpecialField::ListHead => "bpf_list_head",
                SpecialField::RbRoot => "bpf_rb_root",
                SpecialField::Kptr("percpu_kptr") => "percpu_kptr",
                SpecialField::Kptr("uptr") => "uptr",
                SpecialField::Kptr(_) => "kptr",
            },
            Self::ListNode => "bpf_list_node",
            Self::RbNode => "bpf_rb_node",
        }
    }
}

/// The special fields of a program type (`btf_struct_meta`'s record):
/// `(kind, offset, size)`, in layout order.
#[derive(Clone, Debug, Default)]
pub(super) struct AllocRecord(Vec<(AllocField, u32, u32)>);

impl AllocRecord {
    fn refcount(&self) -> bool {
        self.0
            .iter()
            .any(|(f, ..)| *f == AllocField::Special(SpecialField::Refcount))
    }

    fn spin_lock(&self) -> bool {
        self.0
            .iter()
            .any(|(f, ..)| *f == AllocField::Special(SpecialField::SpinLock))
    }
}

/// The structs `btf_parse_struct_metas` looks for among a type's members.
const META_STRUCTS: [&str; 6] = [
    "bpf_spin_lock",
    "bpf_list_head",
    "bpf_list_node",
    "bpf_rb_root",
    "bpf_rb_node",
    "bpf_refcount",
];

/// `btf_find_struct_meta` for struct `id` of the program's BTF: `None`
/// when the type has no meta; the reason when its fields are not modelled.
fn struct_meta(btf: &Btf<'_>, id: u32) -> Result<Option<AllocRecord>, String> {
    let Ok(Type::Struct(st)) = btf.type_by_id(BtfTypeId(id)) else {
        return Ok(None);
    };
    let special: Vec<BtfTypeId> = META_STRUCTS
        .iter()
        .filter_map(|n| btf.find_by_name_kind(n, BtfKind::Struct).map(|t| t.id()))
        .collect();
    let is_kptr = |ty: BtfTypeId| {
        let Ok(Type::Ptr(p)) = btf.type_by_id(ty) else {
            return false;
        };
        matches!(btf.type_by_id(p.target()), Ok(Type::TypeTag(_)))
    };
    let has_meta = st
        .members()
        .any(|m| special.contains(&m.ty) || is_kptr(m.ty));
    if !has_meta {
        return Ok(None);
    }
    let mut out = Vec::new();
    match value_fields(btf, BtfTypeId(id)) {
        ValueFields::None => {}
        ValueFields::Special(fields) => {
            for f in fields {
                match f.kind {
                    SpecialField::SpinLock
                    | SpecialField::ListHead
                    | SpecialField::RbRoot
                    | SpecialField::Refcount => {}
                    SpecialField::Kptr(_) => {
                        return Err("allocated objects holding kptrs".into());
                    }
                    other => {
                        return Err(format!("allocated objects holding {}", other.name()));
                    }
                }
                out.push((AllocField::Special(f.kind), f.offset, f.size()));
            }
        }
        ValueFields::Unparsable(why) => return Err(why),
    }
    // Graph nodes are not map fields: found here, among the members.
    for m in st.members() {
        let Ok(t) = btf.type_by_id(m.ty) else {
            continue;
        };
        let (kind, size) = match (t.kind(), t.name().unwrap_or("")) {
            (BtfKind::Struct, "bpf_list_node") => (AllocField::ListNode, 24),
            (BtfKind::Struct, "bpf_rb_node") => (AllocField::RbNode, 32),
            _ => continue,
        };
        if t.raw().size_or_type() != size || m.bit_offset % 64 != 0 {
            return Err("graph nodes of an unexpected shape".into());
        }
        out.push((kind, m.bit_offset / 8, size));
    }
    out.sort_by_key(|(_, off, _)| *off);
    Ok(Some(AllocRecord(out)))
}

/// `__btf_type_is_scalar_struct`: `Err` with the kernel's line when the
/// nesting is too deep.
fn scalar_struct(btf: &Btf<'_>, id: BtfTypeId, rec: u32) -> Result<bool, &'static str> {
    let Ok(t) = btf.type_by_id(id) else {
        return Ok(false);
    };
    let Some(c) = t.as_composite() else {
        return Ok(false);
    };
    for m in c.members() {
        let Ok(mt) = btf.resolve(m.ty) else {
            return Ok(false);
        };
        let mt = match mt {
            Type::Struct(_) | Type::Union(_) => {
                if rec >= 3 {
                    return Err("max struct nesting depth exceeded");
                }
                if !scalar_struct(btf, mt.id(), rec + 1)? {
                    return Ok(false);
                }
                continue;
            }
            Type::Array(a) => {
                if a.nelems() == 0 {
                    return Ok(false);
                }
                match btf.resolve(a.elem_type()) {
                    Ok(e) => e,
                    Err(_) => return Ok(false),
                }
            }
            other => other,
        };
        if !matches!(mt.kind(), BtfKind::Int | BtfKind::Enum) {
            return Ok(false);
        }
    }
    Ok(true)
}

impl<'a> Checker<'a> {
    /// The program's BTF, parsed again for each use.
    fn prog_btf(&self) -> Result<Option<Btf<'a>>, Stop> {
        let req: &'a bpfcheck_uapi::LoadRequest = self.req;
        match req.prog_btf.as_deref() {
            None => Ok(None),
            Some(bytes) => Btf::parse(bytes)
                .map(Some)
                .map_err(|_| self.unsupported("allocated objects: an unreadable program BTF")),
        }
    }

    /// The record of program type `id`, or `unsupported`.
    fn alloc_record(&self, btf: &Btf<'_>, id: u32) -> Result<Option<AllocRecord>, Stop> {
        struct_meta(btf, id).map_err(|why| self.unsupported(&why))
    }

    fn alloc_reject(&self, msg: String) -> Stop {
        self.reject(ErrorCode::KfuncCall, Errno::EINVAL, msg)
    }

    /// Whether the profile models allocation kfunc `name` (its
    /// `unsupported` reason otherwise).
    pub(super) fn alloc_kfunc_modelled(&self, name: &str) -> Result<(), Stop> {
        if self.profile.features.walk_v6_1.graph_objects {
            return Err(self.unsupported(&format!(
                "kfunc {name}: allocated objects of kernel 6.1 (walk_v6_1.graph_objects)"
            )));
        }
        self.kfunc_v7_rules(name)
    }

    /// `KF_ARG_PTR_TO_ALLOC_BTF_ID` and `KF_ARG_PTR_TO_REFCOUNTED_KPTR`:
    /// argument `i` (in `regno`) of allocation kfunc `op`, its NULL check
    /// and reference bookkeeping done.
    pub(super) fn alloc_kfunc_arg(
        &mut self,
        op: AllocKfunc,
        flags: KfuncFlags,
        i: usize,
        regno: u8,
        reg: &RegState,
        meta: &mut AllocMeta,
    ) -> Result<(), Stop> {
        let release = flags.has(KfuncFlags::RELEASE);
        let rcu = flags.has(KfuncFlags::RCU);
        let trusted_args = flags.has(KfuncFlags::TRUSTED_ARGS) || release;
        let alloc_arg = matches!(op, AllocKfunc::ObjDrop | AllocKfunc::PercpuObjDrop);
        // The trusted-argument rule counts for the allocated object
        // argument only; the refcounted one is checked by kind below.
        if alloc_arg && (trusted_args || rcu) && !super::kfunc_ref::is_trusted(reg) {
            if !rcu {
                return Err(self.alloc_reject(format!("R{regno} must be referenced or trusted")));
            }
            if !matches!(reg, RegState::PtrToBtfId { btf, .. } if btf.trust == Trust::Rcu) {
                return Err(self.alloc_reject(format!("R{regno} must be a rcu pointer")));
            }
        }
        let referenced = super::sock::ref_obj_id(reg) != 0;
        self.kfunc_arg_reg_off(regno, reg, release && referenced)?;
        let alloc = match reg {
            RegState::PtrToBtfId { ptr, btf } if btf.owner.local() => Some((ptr, btf)),
            _ => None,
        };
        if alloc_arg {
            let want_percpu = op.percpu();
            let exact = alloc.filter(|(p, b)| {
                b.owner == Owner::Alloc && !p.maybe_null && b.trust == Trust::Plain
            });
            match exact {
                Some((_, b)) if (b.mem == MemKind::Percpu) == want_percpu => {}
                Some((_, b)) if b.mem == MemKind::Percpu => {
                    return Err(self
                        .alloc_reject(format!("arg#{i} expected for bpf_percpu_obj_drop_impl()")));
                }
                Some((_, b)) if b.mem == MemKind::Kernel => {
                    return Err(
                        self.alloc_reject(format!("arg#{i} expected for bpf_obj_drop_impl()"))
                    );
                }
                _ => {
                    return Err(
                        self.alloc_reject(format!("arg#{i} expected pointer to allocated object"))
                    );
                }
            }
            if !referenced {
                return Err(self.alloc_reject("allocated object must be referenced".into()));
            }
            let (_, b) = exact.unwrap_or_else(|| unreachable!("matched above"));
            meta.arg = Some((b.btf_id, b.name));
            return Ok(());
        }
        // `bpf_refcount_acquire_impl`.
        let Some((_, b)) = alloc else {
            return Err(self.alloc_reject(format!("arg#{i} is neither owning or non-owning ref")));
        };
        if b.owner == Owner::Alloc && referenced {
            meta.arg_owning = true;
        }
        let Some(btf) = self.prog_btf()? else {
            return Err(self.unsupported("allocated objects without the program's BTF"));
        };
        let Some(rec) = self.alloc_record(&btf, b.btf_id)? else {
            // An internal error whose text changed (6.18's `verifier bug`).
            return Err(self.unsupported(
                "bpf_refcount_acquire of a type without special fields (the kernel's internal error)",
            ));
        };
        if !rec.refcount() {
            return Err(self.alloc_reject(format!(
                "arg#{i} doesn't point to a type with bpf_refcount field"
            )));
        }
        meta.arg = Some((b.btf_id, b.name));
        Ok(())
    }

    /// R0 of allocation kfunc `op`, the argument registers already
    /// cleared; `None` for the drops (which return nothing).
    pub(super) fn alloc_kfunc_ret(
        &mut self,
        op: AllocKfunc,
        flags: KfuncFlags,
        meta: &AllocMeta,
    ) -> Result<Option<RegState>, Stop> {
        let (btf_id, name, mem) = match op {
            AllocKfunc::ObjDrop | AllocKfunc::PercpuObjDrop => return Ok(None),
            AllocKfunc::RefcountAcquire => {
                let Some((id, name)) = meta.arg else {
                    return Err(self.unsupported("bpf_refcount_acquire without its argument"));
                };
                (id, name, MemKind::Kernel)
            }
            AllocKfunc::ObjNew | AllocKfunc::PercpuObjNew => {
                let (id, name) = self.obj_new_type(op, meta)?;
                let mem = if op.percpu() {
                    MemKind::Percpu
                } else {
                    MemKind::Kernel
                };
                (id, name, mem)
            }
        };
        let mut ptr = PtrFields::fresh(0, false);
        // `is_kfunc_ret_null`: a reference taken from an owning one is
        // never NULL.
        let ret_null = flags.has(KfuncFlags::RET_NULL)
            && !(op == AllocKfunc::RefcountAcquire && meta.arg_owning);
        if ret_null {
            ptr.maybe_null = true;
            ptr.id = self.new_id();
        }
        if flags.has(KfuncFlags::ACQUIRE) {
            let id = self.new_id();
            self.cur.refs.acquire(id, self.insn_idx);
            if ret_null {
                ptr.id = id;
            }
            ptr.ref_obj_id = id;
        }
        // An object holding a lock keeps its id through NULL checks
        // (`reg_may_point_to_spin_lock`): not modelled.
        if mem == MemKind::Kernel {
            let lock = match self.prog_btf()? {
                Some(btf) => self
                    .alloc_record(&btf, btf_id)?
                    .is_some_and(|r| r.spin_lock()),
                None => false,
            };
            if lock {
                return Err(self.unsupported("allocated objects holding a bpf_spin_lock"));
            }
        }
        Ok(Some(RegState::PtrToBtfId {
            ptr,
            btf: BtfPtr {
                btf_id,
                name,
                trust: Trust::Plain,
                mem,
                owner: Owner::Alloc,
            },
        }))
    }

    /// The type `bpf_obj_new_impl`/`bpf_percpu_obj_new_impl` allocate: the
    /// `__k` constant as a struct of the program's BTF.
    fn obj_new_type(&mut self, op: AllocKfunc, meta: &AllocMeta) -> Result<(u32, TypeName), Stop> {
        let Some(value) = meta.constant else {
            return Err(self.unsupported("bpf_obj_new without its constant"));
        };
        let Ok(id) = u32::try_from(value) else {
            return Err(
                self.alloc_reject("local type ID argument must be in range [0, U32_MAX]".into())
            );
        };
        let Some(btf) = self.prog_btf()? else {
            return Err(
                self.alloc_reject("bpf_obj_new/bpf_percpu_obj_new requires prog BTF".into())
            );
        };
        let t = btf.type_by_id(BtfTypeId(id)).ok();
        let Some(st) = t.filter(|t| matches!(t.kind(), BtfKind::Struct | BtfKind::Union)) else {
            return Err(self.alloc_reject(
                "bpf_obj_new/bpf_percpu_obj_new type ID argument must be of a struct".into(),
            ));
        };
        let size = st.raw().size_or_type();
        let rec = self.alloc_record(&btf, id)?;
        if op.percpu() {
            if size > PERCPU_MAX_SIZE {
                return Err(self.alloc_reject(format!(
                    "bpf_percpu_obj_new type size ({size}) is greater than {PERCPU_MAX_SIZE}"
                )));
            }
            let scalars = match scalar_struct(&btf, BtfTypeId(id), 0) {
                Ok(s) => s,
                Err(line) => {
                    self.log.line(line);
                    false
                }
            };
            if !scalars {
                return Err(self.alloc_reject(
                    "bpf_percpu_obj_new type ID argument must be of a struct of scalars".into(),
                ));
            }
            if rec.is_some() {
                return Err(self.alloc_reject(
                    "bpf_percpu_obj_new type ID argument must not contain special fields".into(),
                ));
            }
        }
        let name = st.name().unwrap_or("");
        let name = TypeName::new(name)
            .ok_or_else(|| self.unsupported("BTF type names longer than 63 bytes"))?;
        Ok((id, name))
    }

    /// `check_ptr_to_btf_access` through an allocated object: the loaded
    /// register for a read (`value` is `None`), nothing for a write.
    pub(super) fn alloc_access(
        &mut self,
        regno: u8,
        base: &RegState,
        insn_off: i16,
        size: i32,
        write: bool,
    ) -> Result<Option<RegState>, Stop> {
        let RegState::PtrToBtfId { ptr, btf: bp } = *base else {
            return Err(self.unsupported("memory access through this pointer type"));
        };
        let acc = |s: &Self, msg: String| s.reject(ErrorCode::InvalidMemAccess, Errno::EACCES, msg);
        if ptr.maybe_null {
            return Err(acc(
                self,
                format!("R{regno} invalid mem access '{}'", base.type_str()),
            ));
        }
        self.alloc_kfunc_modelled("allocated objects")?;
        if self.strict_alignment {
            return Err(self.unsupported("strict alignment of BTF pointer accesses"));
        }
        let tname = bp.name;
        let off = self.btf_access_offset(regno, &ptr, tname.as_str(), insn_off)?;
        if bp.mem == MemKind::Percpu {
            return Err(acc(
                self,
                format!("R{regno} is ptr_{tname} access percpu memory: off={off}"),
            ));
        }
        if bp.trust == Trust::Untrusted || bp.mem != MemKind::Kernel {
            return Err(self.unsupported("untrusted pointers to program types"));
        }
        if bp.owner == Owner::Alloc && bp.trust == Trust::Plain && ptr.ref_obj_id == 0 {
            return Err(self.unsupported("unreferenced allocated objects"));
        }
        let Some(btf) = self.prog_btf()? else {
            return Err(self.unsupported("allocated objects without the program's BTF"));
        };
        if let Some(rec) = self.alloc_record(&btf, bp.btf_id)? {
            let hit = rec.0.iter().find(|(_, start, len)| {
                i64::from(off) < i64::from(start + len) && i64::from(*start) < i64::from(off + size)
            });
            if let Some((f, ..)) = hit {
                return Err(acc(
                    self,
                    format!("direct access to {} is disallowed", f.name()),
                ));
            }
        }
        let v617 = self.profile.features.btf_walk_untrusted;
        match struct_access(&btf, bp.btf_id, off, size, v617) {
            Ok(Walked::Scalar) if write => Ok(None),
            Ok(Walked::Scalar) => Ok(Some(RegState::unknown())),
            Ok(_) => Err(self.unsupported("pointer members of allocated objects")),
            Err(e) if e.msg.is_empty() => {
                Err(self.unsupported("BTF struct walks the kernel refuses silently"))
            }
            Err(e) => Err(self.reject(ErrorCode::InvalidMemAccess, e.errno, e.msg)),
        }
    }
}
