//! Loads and stores through a map pointer (`check_ptr_to_map_access`):
//! a privileged program may read the kernel's struct of the map
//! (`map->ops->map_btf_id`, e.g. `struct bpf_array`) as the kernel's BTF
//! describes it. Implemented: the refusals before the walk (a loader
//! without `CAP_PERFMON`, a negative offset, a write), then the load as a
//! walk of that struct (`btf_struct_access`, module `btf_walk`) from a
//! flagless BTF pointer: a number, or a BTF pointer carrying only the
//! member's type tags (`__rcu`, `__user`, `__percpu`), never a trust flag
//! (untrusted on 6.17+, `Features::btf_walk_untrusted`).
//! Not modelled (`unsupported`): strict alignment, map types whose ops
//! name no struct here (`BPF_MAP_TYPE_INSN_ARRAY`), members that are
//! pointers to non-structs on kernels that type them, unions on the way
//! to a pointer.

use bpfcheck_btf::BtfKind;
use bpfcheck_uapi::{Errno, MapType};

use super::Checker;
use super::btf_walk::{Tag, Walked, struct_access};
use super::mem::Access;
use crate::error::{ErrorCode, Stop};
use crate::state::btf_ptr::{BtfPtr, MemKind, Trust};
use crate::state::{MapIdx, PtrFields, RegState};

/// The struct the map type's ops name in `map_btf_id` (the
/// `BTF_ID_LIST_SINGLE` beside each `bpf_map_ops` of kernel/bpf and
/// net/).
fn map_struct_name(t: MapType) -> Option<&'static str> {
    Some(match t {
        MapType::ARRAY
        | MapType::PERCPU_ARRAY
        | MapType::PROG_ARRAY
        | MapType::PERF_EVENT_ARRAY
        | MapType::CGROUP_ARRAY
        | MapType::ARRAY_OF_MAPS => "bpf_array",
        MapType::HASH
        | MapType::LRU_HASH
        | MapType::PERCPU_HASH
        | MapType::LRU_PERCPU_HASH
        | MapType::HASH_OF_MAPS => "bpf_htab",
        MapType::STACK_TRACE => "bpf_stack_map",
        MapType::LPM_TRIE => "lpm_trie",
        MapType::DEVMAP | MapType::DEVMAP_HASH => "bpf_dtab",
        MapType::SOCKMAP => "bpf_stab",
        MapType::SOCKHASH => "bpf_shtab",
        MapType::CPUMAP => "bpf_cpu_map",
        MapType::XSKMAP => "xsk_map",
        MapType::CGROUP_STORAGE | MapType::PERCPU_CGROUP_STORAGE => "bpf_cgroup_storage_map",
        MapType::REUSEPORT_SOCKARRAY => "reuseport_array",
        MapType::QUEUE | MapType::STACK => "bpf_queue_stack",
        MapType::SK_STORAGE
        | MapType::INODE_STORAGE
        | MapType::TASK_STORAGE
        | MapType::CGRP_STORAGE => "bpf_local_storage_map",
        MapType::STRUCT_OPS => "bpf_struct_ops_map",
        MapType::RINGBUF | MapType::USER_RINGBUF => "bpf_ringbuf_map",
        MapType::BLOOM_FILTER => "bpf_bloom_filter",
        MapType::ARENA => "bpf_arena",
        _ => return None,
    })
}

impl Checker<'_> {
    /// `check_ptr_to_map_access` for an access of `access` at `off` from
    /// the map pointer to `map` in `regno`.
    pub(super) fn map_ptr_access(
        &self,
        regno: u8,
        map: MapIdx,
        off: i16,
        access: Access,
    ) -> Result<(), Stop> {
        let unsupported = || {
            self.unsupported("access through a map pointer (CONST_PTR_TO_MAP, BTF struct access)")
        };
        if self.strict_alignment || self.profile.btf.is_none() {
            return Err(unsupported());
        }
        let Some(tname) = self
            .maps
            .get(map.0 as usize)
            .and_then(|m| map_struct_name(m.map_type))
        else {
            return Err(unsupported());
        };
        if !self.profile.caps.perfmon {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EPERM,
                format!("'struct {tname}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN"),
            ));
        }
        let reject = |msg: String| self.reject(ErrorCode::InvalidMemAccess, Errno::EACCES, msg);
        if off < 0 {
            return Err(reject(format!(
                "R{regno} is {tname} invalid negative access: off={off}"
            )));
        }
        if access == Access::Write {
            return Err(reject(format!("only read from {tname} is supported")));
        }
        Ok(())
    }

    /// A load of `size` bytes at `off` through the map pointer to `map` in
    /// `regno`: the checks of [`Self::map_ptr_access`], then what the walk
    /// of the map's struct reaches.
    pub(super) fn map_ptr_load(
        &mut self,
        regno: u8,
        map: MapIdx,
        off: i16,
        size: i32,
    ) -> Result<RegState, Stop> {
        self.map_ptr_access(regno, map, off, Access::Read)?;
        let tname = self
            .maps
            .get(map.0 as usize)
            .and_then(|m| map_struct_name(m.map_type))
            .ok_or_else(|| self.unsupported("map types without a kernel struct"))?;
        let btf = self.kernel_btf()?;
        let Some(st) = btf.find_by_name_kind(tname, BtfKind::Struct) else {
            // The kernel's `map_btf_id` is 0 when its build lacks the
            // struct; bpfcheck cannot know the map type's number for the
            // message it gives then without the map: judged as unknown.
            return Err(self.unsupported("map structs missing from the kernel's BTF"));
        };
        let untrusted_mem = self.profile.features.btf_walk_untrusted;
        let walked = match struct_access(btf, st.id().0, i32::from(off), size, untrusted_mem) {
            Ok(w) => w,
            Err(e) if e.msg.is_empty() => {
                return Err(self.unsupported("BTF struct walks the kernel refuses silently"));
            }
            Err(e) => return Err(self.reject(ErrorCode::InvalidMemAccess, e.errno, e.msg)),
        };
        let (btf_id, tag) = match walked {
            Walked::Scalar => return Ok(RegState::unknown()),
            Walked::Ptr {
                via_union: true, ..
            }
            | Walked::UntrustedMem => {
                return Err(self.unsupported("map struct members of this pointer kind"));
            }
            Walked::Ptr { btf_id, tag, .. } => (btf_id, tag),
        };
        let name = self.btf_type_name(btf, btf_id)?;
        let (trust, mem) = match tag {
            // 6.17+ marks what the walk reaches untrusted (seen on the live
            // 6.18: `untrusted_ptr_bpf_map()` from `bpf_htab`'s
            // `inner_map_meta`).
            None if untrusted_mem => (Trust::Untrusted, MemKind::Kernel),
            Some(_) if untrusted_mem => {
                return Err(self.unsupported("tagged map struct members on 6.17+"));
            }
            None => (Trust::Plain, MemKind::Kernel),
            Some(Tag::Rcu) => (Trust::Rcu, MemKind::Kernel),
            Some(Tag::User) => (Trust::Plain, MemKind::User),
            Some(Tag::Percpu) => (Trust::Plain, MemKind::Percpu),
        };
        Ok(RegState::PtrToBtfId {
            ptr: PtrFields::fresh(0, false),
            btf: BtfPtr {
                btf_id,
                name,
                trust,
                mem,
                owner: crate::state::btf_ptr::Owner::Kernel,
            },
        })
    }
}
