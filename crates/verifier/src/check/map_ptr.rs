//! Loads and stores through a map pointer (`check_ptr_to_map_access`):
//! a privileged program may read the kernel's struct of the map
//! (`map->ops->map_btf_id`, e.g. `struct bpf_array`) as BTF describes it.
//! The refusals that come before the BTF walk (a negative offset, a
//! write) are judged here; reads, which walk vmlinux BTF
//! (`btf_struct_access`) and may give BTF-typed pointers, are not
//! modelled.

use bpfcheck_uapi::{Errno, MapType};

use super::Checker;
use super::mem::Access;
use crate::error::{ErrorCode, Stop};
use crate::state::MapIdx;

/// The struct the map type's ops name in `map_btf_id`, for the types
/// whose ops are known here (`kernel/bpf/arraymap.c`, `hashtab.c`).
fn map_struct_name(t: MapType) -> Option<&'static str> {
    match t {
        MapType::ARRAY
        | MapType::PERCPU_ARRAY
        | MapType::PROG_ARRAY
        | MapType::PERF_EVENT_ARRAY
        | MapType::CGROUP_ARRAY
        | MapType::ARRAY_OF_MAPS => Some("bpf_array"),
        MapType::HASH
        | MapType::LRU_HASH
        | MapType::PERCPU_HASH
        | MapType::LRU_PERCPU_HASH
        | MapType::HASH_OF_MAPS => Some("bpf_htab"),
        _ => None,
    }
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
        let reject = |msg: String| self.reject(ErrorCode::InvalidMemAccess, Errno::EACCES, msg);
        if off < 0 {
            return Err(reject(format!(
                "R{regno} is {tname} invalid negative access: off={off}"
            )));
        }
        if access == Access::Write {
            return Err(reject(format!("only read from {tname} is supported")));
        }
        Err(unsupported())
    }
}
