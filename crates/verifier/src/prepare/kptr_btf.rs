//! The kernel type behind a kptr field of a map value (`btf_parse_kptr`,
//! called by `map_check_btf` when the map is created).
//!
//! The pointee is looked up by name and kind in the kernel's BTF; a
//! referenced kptr (`__kptr`) also needs a destructor kfunc registered for
//! that type (`btf_find_dtor_kfunc`), else the map cannot be created. A
//! type the kernel's BTF lacks is a program-local type (an object of
//! `bpf_obj_new`) or a module's: neither is modelled. Map types other
//! than those `map_check_btf` admits for kptrs make map creation fail.

use bpfcheck_btf::{Btf, BtfKind, BtfTypeId};
use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::MapType;

use super::map_btf::{Field, SpecialField};
use crate::state::btf_ptr::TypeName;

/// The kinds of kptr (`BPF_KPTR_UNREF`, `BPF_KPTR_REF`, `BPF_KPTR_PERCPU`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KptrKind {
    /// `__kptr_untrusted`.
    Unref,
    /// `__kptr`.
    Ref,
    /// `__percpu_kptr`.
    Percpu,
}

impl KptrKind {
    /// The kind of a special field, if it is a kptr (`__uptr` is not).
    pub(crate) fn of(kind: SpecialField) -> Option<Self> {
        match kind {
            SpecialField::Kptr("kptr_untrusted") => Some(Self::Unref),
            SpecialField::Kptr("kptr") => Some(Self::Ref),
            SpecialField::Kptr("percpu_kptr") => Some(Self::Percpu),
            _ => None,
        }
    }
}

/// A kptr's pointee in the kernel's BTF (`field->kptr.btf_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KptrTarget {
    /// The struct's id in the kernel's BTF.
    pub(crate) btf_id: u32,
    /// Its name (`btf_type_name`).
    pub(crate) name: TypeName,
    /// In the kernel's `rcu_protected_types`: a referenced kptr of it
    /// loads as an RCU pointer inside an RCU section (`rcu_safe_kptr`).
    pub(crate) rcu_protected: bool,
}

/// Kernel types with a destructor kfunc for referenced kptrs
/// (`register_btf_id_dtor_kfuncs` callers), each with that kfunc's name:
/// the type counts only where the profile's BTF has the kfunc.
const DTORS: &[(&str, &str)] = &[
    ("task_struct", "bpf_task_release_dtor"),
    ("cgroup", "bpf_cgroup_release_dtor"),
    ("bpf_cpumask", "bpf_cpumask_release_dtor"),
    ("bpf_crypto_ctx", "bpf_crypto_ctx_release_dtor"),
    ("prog_test_ref_kfunc", "bpf_kfunc_call_test_release_dtor"),
    ("prog_test_member", "bpf_kfunc_call_memb_release_dtor"),
];

/// `rcu_protected_types`.
const RCU_PROTECTED: &[&str] = &[
    "prog_test_ref_kfunc",
    "cgroup",
    "bpf_cpumask",
    "task_struct",
    "bpf_crypto_ctx",
];

/// `map_check_btf`'s map types for kptr fields.
const KPTR_MAP_TYPES: &[MapType] = &[
    MapType::HASH,
    MapType::PERCPU_HASH,
    MapType::LRU_HASH,
    MapType::LRU_PERCPU_HASH,
    MapType::ARRAY,
    MapType::PERCPU_ARRAY,
    MapType::SK_STORAGE,
    MapType::INODE_STORAGE,
    MapType::TASK_STORAGE,
    MapType::CGRP_STORAGE,
];

/// The kernel type of kptr field `f` of a map of type `map_type` whose
/// value BTF is `prog`; `Err` names what is not modelled (or what makes
/// the kernel refuse the map at creation, which the verifier never sees).
pub(crate) fn resolve(
    prog: &Btf<'_>,
    profile: &KernelProfile,
    map_type: MapType,
    f: &Field,
) -> Result<KptrTarget, String> {
    if profile.features.walk_v6_1.kptr_tags {
        return Err("kptrs of kernel 6.1 (walk_v6_1.kptr_tags)".into());
    }
    let kind = KptrKind::of(f.kind).ok_or_else(|| format!("{} fields", f.kind.name()))?;
    if !KPTR_MAP_TYPES.contains(&map_type) {
        return Err("kptrs in a map type whose creation the kernel refuses".into());
    }
    if kind == KptrKind::Percpu {
        return Err("__percpu_kptr fields (bpf_percpu_obj_new objects)".into());
    }
    let kernel = profile
        .btf
        .as_ref()
        .and_then(|b| b.btf().ok())
        .ok_or_else(|| "kptrs without the kernel's BTF".to_string())?;
    let name = prog
        .type_by_id(BtfTypeId(f.target))
        .ok()
        .and_then(|t| t.name().ok())
        .unwrap_or("");
    let found = (!name.is_empty())
        .then(|| kernel.find_by_name_kind(name, BtfKind::Struct))
        .flatten()
        .ok_or_else(|| {
            "kptrs to program-local types (bpf_obj_new objects) or module types".to_string()
        })?;
    if kind == KptrKind::Ref {
        let has_dtor = DTORS
            .iter()
            .any(|(t, dtor)| *t == name && kernel.find_by_name_kind(dtor, BtfKind::Func).is_some());
        if !has_dtor {
            return Err(
                "referenced kptrs to a type without a destructor (map creation fails)".into(),
            );
        }
    }
    let name_held =
        TypeName::new(name).ok_or_else(|| "BTF type names longer than 63 bytes".to_string())?;
    Ok(KptrTarget {
        btf_id: found.id().0,
        name: name_held,
        rcu_protected: RCU_PROTECTED.contains(&name),
    })
}
