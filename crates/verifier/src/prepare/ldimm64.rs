//! `resolve_pseudo_ldimm64`: the pass that binds `ld_imm64` pseudo sources
//! to maps and, on the way, rejects unknown opcodes and `LDX` encodings with
//! reserved bits.

use bpfcheck_btf::{Btf, BtfTypeId};
use bpfcheck_isa::check_prepass;
use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::{Errno, FdRef, LoadRequest, MapSpec, MapType, ProgType, load, op};

use super::map_btf::{Field, SpecialField, ValueFields, value_fields};
use crate::error::{ErrorCode, Stop, Unsupported, VerifierError};

fn reject(code: ErrorCode, errno: Errno, insn: usize, msg: impl Into<String>) -> Stop {
    Stop::Reject(VerifierError::new(code, errno, Some(insn), msg))
}

pub(crate) fn resolve(req: &LoadRequest, profile: &KernelProfile) -> Result<(), Stop> {
    let insns = &req.insns;
    // The program's BTF, which libbpf also gives its maps; read on the
    // first map with a BTF value type.
    let mut btf: Option<Btf<'_>> = None;
    // Map indices bound so far, in first-use order (`env->used_maps`).
    let mut used: Vec<u32> = Vec::new();
    let mut i = 0;
    while i < insns.len() {
        // LDX fields, the ld_imm64 pair and the opcode table, in kernel order.
        let width = check_prepass(insns, i, &profile.isa).map_err(VerifierError::from)?;
        let insn = &insns[i];
        if width == 2 {
            let second = insns[i + 1];
            match insn.src {
                op::PSEUDO_BTF_ID => {
                    return Err(
                        Unsupported::new("ld_imm64 of kernel BTF ids (ksyms)", Some(i)).into(),
                    );
                }
                op::PSEUDO_MAP_FD
                | op::PSEUDO_MAP_IDX
                | op::PSEUDO_MAP_VALUE
                | op::PSEUDO_MAP_IDX_VALUE => {
                    let (idx, map) = lookup_map(req, i)?;
                    let fields = if map.btf_value_type_id != 0 {
                        check_value_fields(req, &mut btf, map, i)?
                    } else {
                        Vec::new()
                    };
                    if let Some(inner) = map.inner.as_deref()
                        && inner.btf_value_type_id != 0
                    {
                        // The inner map's fields decide what a lookup in
                        // it gives; one bpfcheck cannot parse is not
                        // walked as plain memory.
                        check_value_fields(req, &mut btf, inner, i)?;
                    }
                    check_map_prog_compatibility(req, profile, map, &fields, i)?;
                    check_modelled_fields(btf.as_ref(), profile, map, &fields, i)?;
                    if matches!(insn.src, op::PSEUDO_MAP_VALUE | op::PSEUDO_MAP_IDX_VALUE) {
                        check_direct_value(map, second.imm as u32, profile, i)?;
                    }
                    if !used.contains(&idx) {
                        bind_map(req, &mut used, idx, profile, i)?;
                    }
                }
                // Plain constants and function references need nothing here.
                _ => {}
            }
        }
        i += width;
    }
    Ok(())
}

/// The map an `ld_imm64` names: `imm` indexes the request's maps directly
/// (fd sources) or through `fd_array` (index sources).
fn lookup_map(req: &LoadRequest, i: usize) -> Result<(u32, &MapSpec), Stop> {
    let insn = &req.insns[i];
    let by_index = matches!(insn.src, op::PSEUDO_MAP_IDX | op::PSEUDO_MAP_IDX_VALUE);
    let fd_ref = if by_index {
        let Some(fd_array) = &req.fd_array else {
            return Err(reject(
                ErrorCode::FdIdxWithoutFdArray,
                Errno::EPROTO,
                i,
                "fd_idx without fd_array is invalid",
            ));
        };
        // The kernel copies fd_array[imm] from user memory; past the end of
        // what the loader passed there is no telling what it reads.
        let slot = usize::try_from(insn.imm).ok().and_then(|k| fd_array.get(k));
        *slot.ok_or_else(|| {
            Unsupported::new("fd_array index beyond the array the loader passed", Some(i))
        })?
    } else {
        u32::try_from(insn.imm).map_or(FdRef::Raw(insn.imm), FdRef::Map)
    };
    match fd_ref {
        FdRef::Map(m) => req
            .maps
            .get(m as usize)
            .map(|map| (m, map))
            .ok_or_else(|| bad_fd(i, i64::from(m))),
        FdRef::Btf(_) => Err(bad_fd(i, -1)),
        FdRef::Raw(fd) => Err(bad_fd(i, i64::from(fd))),
    }
}

/// The index in the request's maps of the map the `ld_imm64` at `i`
/// names, once the passes before accepted it.
pub(crate) fn map_index(req: &LoadRequest, i: usize) -> Option<u32> {
    lookup_map(req, i).ok().map(|(m, _)| m)
}

/// First use of a map by the program: the per-program limits on maps.
fn bind_map(
    req: &LoadRequest,
    used: &mut Vec<u32>,
    idx: u32,
    profile: &KernelProfile,
    i: usize,
) -> Result<(), Stop> {
    if used.len() >= profile.limits.max_used_maps as usize {
        return Err(reject(
            ErrorCode::InvalidAttr,
            Errno::E2BIG,
            i,
            format!(
                "The total number of maps per program has reached the limit of {}",
                profile.limits.max_used_maps
            ),
        ));
    }
    let map_type = req.maps[idx as usize].map_type;
    let cgroup_storage = matches!(
        map_type,
        MapType::CGROUP_STORAGE | MapType::PERCPU_CGROUP_STORAGE
    );
    if cgroup_storage
        && used
            .iter()
            .any(|u| req.maps[*u as usize].map_type == map_type)
    {
        return Err(reject(
            ErrorCode::InvalidAttr,
            Errno::EBUSY,
            i,
            "only one cgroup storage of each type is allowed",
        ));
    }
    used.push(idx);
    Ok(())
}

fn bad_fd(i: usize, fd: i64) -> Stop {
    // An index that names no map reaches the kernel as that number. Any
    // loader process has 0, 1 and 2 open (not maps: EINVAL); larger numbers
    // name no file (EBADF).
    let errno = if (0..=2).contains(&fd) {
        Errno::EINVAL
    } else {
        Errno::EBADF
    };
    reject(
        ErrorCode::BadMapFd,
        errno,
        i,
        format!("fd {fd} is not pointing to valid bpf_map"),
    )
}

/// `is_tracing_prog_type`.
fn is_tracing(t: ProgType) -> bool {
    matches!(
        t,
        ProgType::KPROBE
            | ProgType::TRACEPOINT
            | ProgType::PERF_EVENT
            | ProgType::RAW_TRACEPOINT
            | ProgType::RAW_TRACEPOINT_WRITABLE
    )
}

fn check_map_prog_compatibility(
    req: &LoadRequest,
    profile: &KernelProfile,
    map: &MapSpec,
    fields: &[Field],
    i: usize,
) -> Result<(), Stop> {
    let has = |k: SpecialField| fields.iter().any(|f| f.kind == k);
    let tracing = is_tracing(req.prog_type);
    if tracing && (has(SpecialField::ListHead) || has(SpecialField::RbRoot)) {
        return Err(reject(
            ErrorCode::InvalidAttr,
            Errno::EINVAL,
            i,
            "tracing progs cannot use bpf_{list_head,rb_root} yet",
        ));
    }
    if has(SpecialField::SpinLock) {
        let refused = if req.prog_type == ProgType::SOCKET_FILTER {
            Some("socket filter progs cannot use bpf_spin_lock yet")
        } else if is_tracing(req.prog_type) {
            Some("tracing progs cannot use bpf_spin_lock yet")
        } else {
            None
        };
        if let Some(msg) = refused {
            return Err(reject(ErrorCode::InvalidAttr, Errno::EINVAL, i, msg));
        }
    }
    if tracing && profile.features.tracing_timers_refused {
        for (kind, name) in [
            (SpecialField::Timer, "bpf_timer"),
            (SpecialField::Workqueue, "bpf_wq"),
        ] {
            if has(kind) {
                return Err(reject(
                    ErrorCode::InvalidAttr,
                    Errno::EINVAL,
                    i,
                    format!("tracing progs cannot use {name} yet"),
                ));
            }
        }
    }
    if map.map_type == MapType::STRUCT_OPS {
        return Err(reject(
            ErrorCode::InvalidAttr,
            Errno::EINVAL,
            i,
            "bpf_struct_ops map cannot be used in prog",
        ));
    }
    if req.prog_flags & load::BPF_F_SLEEPABLE != 0 {
        use MapType as M;
        let ok = [
            M::HASH,
            M::LRU_HASH,
            M::ARRAY,
            M::PERCPU_HASH,
            M::PERCPU_ARRAY,
            M::LRU_PERCPU_HASH,
            M::ARRAY_OF_MAPS,
            M::HASH_OF_MAPS,
            M::RINGBUF,
            M::USER_RINGBUF,
            M::INODE_STORAGE,
            M::SK_STORAGE,
            M::TASK_STORAGE,
            M::CGRP_STORAGE,
            M::QUEUE,
            M::STACK,
            M::ARENA,
        ];
        let inner_checked = profile.features.sleepable_inner_maps;
        let inner_ok = !inner_checked
            || map
                .inner
                .as_deref()
                .is_none_or(|inner| ok.contains(&inner.map_type));
        if !ok.contains(&map.map_type) || !inner_ok {
            let msg = if inner_checked {
                "Sleepable programs can only use array, hash, ringbuf and local storage maps, also as inner maps"
            } else {
                "Sleepable programs can only use array, hash, ringbuf and local storage maps"
            };
            return Err(reject(ErrorCode::InvalidAttr, Errno::EINVAL, i, msg));
        }
    }
    Ok(())
}

/// A map whose value type has BTF: its special fields (`btf_record`).
/// Spin locks and timers are modelled; the other fields the verifier
/// tracks (workqueues, kptrs, graph roots …) are not.
fn check_value_fields<'a>(
    req: &'a LoadRequest,
    btf: &mut Option<Btf<'a>>,
    map: &MapSpec,
    i: usize,
) -> Result<Vec<Field>, Stop> {
    let unsupported = |what: String| Stop::from(Unsupported::new(what, Some(i)));
    if btf.is_none() {
        // libbpf creates a program's maps with the program's BTF; a map
        // value type without it names types this request does not carry.
        let bytes = req
            .prog_btf
            .as_deref()
            .ok_or_else(|| unsupported("maps with BTF value types but no program BTF".into()))?;
        let parsed = Btf::parse(bytes)
            .map_err(|e| unsupported(format!("maps with unreadable BTF ({e})")))?;
        *btf = Some(parsed);
    }
    let Some(btf) = btf.as_ref() else {
        return Ok(Vec::new());
    };
    match value_fields(btf, BtfTypeId(map.btf_value_type_id)) {
        ValueFields::None => Ok(Vec::new()),
        ValueFields::Special(fields) => Ok(fields),
        ValueFields::Unparsable(why) => Err(unsupported(format!(
            "map value BTF the kernel's field parser refuses ({why})"
        ))),
    }
}

/// Spin locks, timers, kptrs to kernel types and graph roots whose
/// declaration the kernel accepts (`prepare::graph_btf`; the graph kfuncs
/// themselves stay unsupported) are modelled; the first other field names
/// what is not.
fn check_modelled_fields(
    btf: Option<&Btf<'_>>,
    profile: &KernelProfile,
    map: &MapSpec,
    fields: &[Field],
    i: usize,
) -> Result<(), Stop> {
    for f in fields {
        let why = match f.kind {
            SpecialField::SpinLock | SpecialField::Timer => continue,
            SpecialField::ListHead | SpecialField::RbRoot
                if profile.features.walk_v6_1.graph_objects =>
            {
                "graph roots, plain memory to kernel 6.1 (walk_v6_1.graph_objects)".into()
            }
            SpecialField::ListHead | SpecialField::RbRoot => {
                let locked = fields.iter().any(|g| g.kind == SpecialField::SpinLock);
                let root = btf.map(|btf| {
                    super::graph_btf::check_root(btf, BtfTypeId(map.btf_value_type_id), f)
                });
                match root {
                    Some(Ok(_)) if locked => continue,
                    Some(Ok(_)) => {
                        "graph roots without a bpf_spin_lock (map creation fails)".into()
                    }
                    Some(Err(why)) => why,
                    None => "graph roots without the program's BTF".into(),
                }
            }
            SpecialField::Kptr(_) => match btf {
                Some(btf) => match super::kptr_btf::resolve(btf, profile, map.map_type, f) {
                    Ok(_) => continue,
                    Err(why) => why,
                },
                None => "kptrs without the program's BTF".into(),
            },
            k => k.name().to_owned(),
        };
        return Err(Unsupported::new(
            format!("map values with BTF special fields ({why})"),
            Some(i),
        )
        .into());
    }
    Ok(())
}

/// `BPF_PSEUDO_MAP_VALUE`: only single-entry arrays hand out a direct
/// value address (`array_map_direct_value_addr`).
fn check_direct_value(
    map: &MapSpec,
    off: u32,
    profile: &KernelProfile,
    i: usize,
) -> Result<(), Stop> {
    if off >= profile.limits.max_var_off {
        return Err(reject(
            ErrorCode::MapValueAddress,
            Errno::EINVAL,
            i,
            format!("direct value offset of {off} is not allowed"),
        ));
    }
    match map.map_type {
        MapType::ARRAY => {
            let errno = if map.max_entries != 1 {
                Some(Errno::ENOTSUPP)
            } else if off >= map.value_size {
                Some(Errno::EINVAL)
            } else {
                None
            };
            match errno {
                Some(errno) => Err(reject(
                    ErrorCode::MapValueAddress,
                    errno,
                    i,
                    format!(
                        "invalid access to map value pointer, value_size={} off={off}",
                        map.value_size
                    ),
                )),
                None => Ok(()),
            }
        }
        MapType::ARENA => Err(Unsupported::new("arena maps", Some(i)).into()),
        _ => Err(reject(
            ErrorCode::MapValueAddress,
            Errno::EINVAL,
            i,
            "no direct value access support for this map type",
        )),
    }
}
