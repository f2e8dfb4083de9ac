//! Pointers to a map's key (`PTR_TO_MAP_KEY`), which only callbacks
//! receive (`bpf_for_each_map_elem`'s and timers'): the element's key,
//! readable within the map's key size and never writable, by loads and
//! by helpers alike.

use bpfcheck_uapi::Errno;

use super::Checker;
use super::map::Region;
use crate::error::{ErrorCode, Stop};
use crate::state::RegState;

impl Checker<'_> {
    /// `check_mem_access` through a map key pointer: `size` bytes at `off`
    /// (the instruction's offset) from the pointer in `regno`.
    pub(super) fn map_key_access(
        &mut self,
        regno: u8,
        reg: &RegState,
        off: i16,
        size: i32,
        write: bool,
    ) -> Result<(), Stop> {
        if self.strict_alignment {
            return Err(self.unsupported("map key accesses under BPF_F_STRICT_ALIGNMENT"));
        }
        if write {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!("write to change key R{regno} not allowed"),
            ));
        }
        self.map_key_region(regno, reg, i32::from(off), size)
    }

    /// `check_helper_mem_access` of a map key: a helper may read it, never
    /// write it, and an empty access is refused whatever the size
    /// argument allows.
    pub(super) fn helper_map_key_access(
        &mut self,
        regno: u8,
        reg: &RegState,
        size: i32,
        write: bool,
    ) -> Result<(), Stop> {
        if write {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!("R{regno} cannot write into {}", reg.type_str()),
            ));
        }
        self.map_key_region(regno, reg, 0, size)
    }

    /// `check_mem_region_access` against the key size.
    fn map_key_region(
        &mut self,
        regno: u8,
        reg: &RegState,
        off: i32,
        size: i32,
    ) -> Result<(), Stop> {
        let RegState::PtrToMapKey { map, ptr } = *reg else {
            return Err(self.unsupported("map key access through this pointer type"));
        };
        let region = Region {
            what: "map key",
            size_name: "key_size",
            size: self.maps[map.0 as usize].key_size,
        };
        let off = i64::from(off) + i64::from(ptr.off);
        self.mem_region(regno, &ptr.var, off, (size, false), region)
    }
}
