//! Maps: `ld_imm64` map references (`CONST_PTR_TO_MAP`, direct
//! `PTR_TO_MAP_VALUE`), map value accesses (`check_map_access_type`,
//! `check_map_access` on top of `check_mem_region_access`), and the
//! constants a read of a frozen read-only array gives
//! (`bpf_map_direct_read`).

use bpfcheck_uapi::{Errno, FdRef, MapType, RawInsn, op};

use super::Checker;
use crate::domain::Scalar;
use crate::error::{ErrorCode, Stop};
use crate::state::{MapIdx, RegState};

/// `BPF_F_RDONLY_PROG` / `BPF_F_WRONLY_PROG`: the program's view of a map.
const BPF_F_RDONLY_PROG: u32 = 1 << 7;
const BPF_F_WRONLY_PROG: u32 = 1 << 8;

/// `BPF_MAX_VAR_OFF`.
const MAX_VAR_OFF: u64 = 1 << 29;

/// A bounded region a pointer points into, as `__check_mem_access`
/// names it.
#[derive(Clone, Copy)]
pub(super) struct Region {
    /// `map value`, `map key`.
    pub(super) what: &'static str,
    /// `value_size`, `key_size`.
    pub(super) size_name: &'static str,
    pub(super) size: u32,
}

impl Checker<'_> {
    /// The map an `ld_imm64` pseudo source names (the prepare pass has
    /// already refused bad references).
    fn map_of(&self, insn: &RawInsn) -> Option<MapIdx> {
        let by_index = matches!(insn.src, op::PSEUDO_MAP_IDX | op::PSEUDO_MAP_IDX_VALUE);
        let m = if by_index {
            let k = usize::try_from(insn.imm).ok()?;
            match self.req.fd_array.as_ref()?.get(k)? {
                FdRef::Map(m) => *m,
                _ => return None,
            }
        } else {
            u32::try_from(insn.imm).ok()?
        };
        ((m as usize) < self.maps.len()).then_some(MapIdx(m))
    }

    /// `check_ld_imm` for map references.
    pub(super) fn ld_map(&self, insn: &RawInsn, second: &RawInsn) -> Result<RegState, Stop> {
        let map = self
            .map_of(insn)
            .ok_or_else(|| self.unsupported("ld_imm64 map references the prepare pass left"))?;
        Ok(match insn.src {
            op::PSEUDO_MAP_FD | op::PSEUDO_MAP_IDX => RegState::ConstPtrToMap { map },
            _ => {
                let off = i32::try_from(second.imm as u32)
                    .map_err(|_| self.unsupported("direct value offsets"))?;
                RegState::PtrToMapValue {
                    map,
                    off,
                    var: Scalar::constant(0),
                    maybe_null: false,
                    id: 0,
                }
            }
        })
    }

    /// `check_map_access_type` and `check_map_access` for `size` bytes at
    /// `off` from the map value pointer `reg` in register `regno`.
    pub(super) fn map_value_access(
        &mut self,
        regno: u8,
        reg: &RegState,
        off: i32,
        size: i32,
        write: bool,
    ) -> Result<(), Stop> {
        self.map_value_access_sized(regno, reg, off, size, (write, true), false)
    }

    /// [`Self::map_value_access`] where a helper's size argument may allow
    /// an empty access (`zero_size_allowed`); `direct` is false for a
    /// helper's access (`ACCESS_HELPER`).
    pub(super) fn map_value_access_sized(
        &mut self,
        regno: u8,
        reg: &RegState,
        off: i32,
        size: i32,
        (write, direct): (bool, bool),
        zero_ok: bool,
    ) -> Result<(), Stop> {
        let RegState::PtrToMapValue {
            map,
            off: roff,
            var,
            ..
        } = *reg
        else {
            return Err(self.unsupported("map access through this pointer type"));
        };
        let spec = &self.maps[map.0 as usize];
        let value_size = spec.value_size;
        let off = off + roff;
        let forbidden = if write {
            (spec.flags & BPF_F_RDONLY_PROG != 0).then_some("write into")
        } else {
            (spec.flags & BPF_F_WRONLY_PROG != 0).then_some("read from")
        };
        if let Some(what) = forbidden {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!("{what} map forbidden, value_size={value_size} off={off} size={size}"),
            ));
        }
        let off = i64::from(off);
        let region = Region {
            what: "map value",
            size_name: "value_size",
            size: value_size,
        };
        self.mem_region(regno, &var, off, (size, zero_ok), region)?;
        self.map_fields_untouched(map, &var, off, size, direct)
    }

    /// `check_mem_region_access`: the access of `size` bytes at `off`
    /// plus the variable offset `var`, at its least and at its most.
    pub(super) fn mem_region(
        &mut self,
        regno: u8,
        var: &Scalar,
        off: i64,
        (size, zero_ok): (i32, bool),
        region: Region,
    ) -> Result<(), Stop> {
        if var.smin < 0
            && (var.smin == i64::MIN
                || off + var.smin != i64::from((off + var.smin) as i32)
                || var.smin + off < 0)
        {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!(
                    "R{regno} min value is negative, either use unsigned index or do a if (index >=0) check."
                ),
            ));
        }
        let bounds = (size, zero_ok);
        self.mem_in_bounds(regno, var.smin.saturating_add(off), bounds, region, "min")?;
        if var.umax >= MAX_VAR_OFF {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!(
                    "R{regno} unbounded memory access, make sure to bounds check any such access"
                ),
            ));
        }
        let max = i64::try_from(var.umax)
            .unwrap_or(i64::MAX)
            .saturating_add(off);
        self.mem_in_bounds(regno, max, bounds, region, "max")
    }

    /// `__check_mem_access` for a map key or value, with the line
    /// `check_mem_region_access` adds.
    fn mem_in_bounds(
        &mut self,
        regno: u8,
        off: i64,
        (size, zero_ok): (i32, bool),
        region: Region,
        which: &str,
    ) -> Result<(), Stop> {
        let size_ok = size > 0 || (size == 0 && zero_ok);
        if off >= 0 && size_ok && off + i64::from(size) <= i64::from(region.size) {
            return Ok(());
        }
        // The kernel prints the offset as an `int`.
        self.log.line(&format!(
            "invalid access to {}, {}={} off={} size={size}",
            region.what, region.size_name, region.size, off as i32
        ));
        Err(self.reject(
            ErrorCode::InvalidMemAccess,
            Errno::EACCES,
            format!("R{regno} {which} value is outside of the allowed memory range"),
        ))
    }

    /// `bpf_map_direct_read` when `bpf_map_is_rdonly`: a constant-offset
    /// read of a frozen, program-read-only array gives its bytes.
    pub(super) fn map_direct_read(&self, reg: &RegState, off: i32, size: i32) -> Option<u64> {
        let RegState::PtrToMapValue {
            map,
            off: roff,
            var,
            ..
        } = *reg
        else {
            return None;
        };
        let spec = &self.maps[map.0 as usize];
        let rdonly = spec.flags & BPF_F_RDONLY_PROG != 0 && spec.frozen;
        if !rdonly || spec.map_type != MapType::ARRAY {
            return None;
        }
        let at =
            usize::try_from(i64::from(off) + i64::from(roff) + var.const_value()? as i64).ok()?;
        let size = usize::try_from(size).ok()?;
        let mut bytes = [0u8; 8];
        if let Some(init) = &spec.initial_value {
            for (i, b) in bytes.iter_mut().enumerate().take(size) {
                *b = init.get(at + i).copied().unwrap_or(0);
            }
        }
        Some(u64::from_le_bytes(bytes))
    }
}
