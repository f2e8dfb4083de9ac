//! `bpf_spin_lock` in map values: the lock field found in the map's BTF
//! (`map->record`), the accesses that may not touch it, and the lock's
//! discipline on a path (`process_spin_lock`, the checks `do_check` makes
//! at calls, exits and `BPF_LD_[ABS|IND]` while a lock is held).
//!
//! 6.18 keeps a held lock as an entry of the path's reference state
//! ([`crate::state::Refs`]), whose id (the id of the map value pointer it
//! was taken through) the state print-outs show among the `refs=` and
//! pruning compares with `check_ids`, and the map by identity.

use bpfcheck_uapi::{Errno, RawInsn, op};

use super::Checker;
use crate::error::{ErrorCode, Stop};
use crate::prepare::map_btf::{Field, SpecialField};
use crate::state::{MapIdx, RegState};

/// `BPF_FUNC_spin_lock`, `BPF_FUNC_spin_unlock`, `BPF_FUNC_kptr_xchg`.
pub(super) const SPIN_LOCK: i32 = 93;
pub(super) const SPIN_UNLOCK: i32 = 94;
const KPTR_XCHG: i32 = 194;

/// `BPF_OBJ_NAME_LEN`: the kernel keeps 15 bytes of a map's name.
const OBJ_NAME_LEN: usize = 16;

/// Whether map `map`'s value (by the maps' special-field records) holds a
/// `bpf_spin_lock`.
pub(super) fn holds_spin_lock(fields: &[Vec<Field>], map: MapIdx) -> bool {
    fields
        .get(map.0 as usize)
        .is_some_and(|f| f.iter().any(|f| f.kind == SpecialField::SpinLock))
}

/// Whether kfunc `name` is one that some modelled kernel lets a program
/// call while it holds a lock (`kfunc_spin_allowed`: the graph API, and
/// depending on the kernel the numbers iterator, resilient locks, arena
/// and stream kfuncs). No other kfunc may be called there.
fn may_run_under_lock(name: &str) -> bool {
    const PREFIXES: [&str; 7] = [
        "bpf_list_",
        "bpf_rbtree_",
        "bpf_refcount_acquire",
        "bpf_iter_num_",
        "bpf_res_spin_",
        "bpf_arena_",
        "bpf_stream_",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p))
}

impl Checker<'_> {
    /// Where map `map`'s value holds its `bpf_spin_lock`, if it has one.
    pub(super) fn spin_lock_off(&self, map: MapIdx) -> Option<u32> {
        self.map_fields
            .get(map.0 as usize)?
            .iter()
            .find(|f| f.kind == SpecialField::SpinLock)
            .map(|f| f.offset)
    }

    /// `reg_may_point_to_spin_lock`: a non-null map value of such a map
    /// gets an id, as the lock's identity.
    pub(super) fn keeps_id(&self, map: MapIdx) -> bool {
        holds_spin_lock(&self.map_fields, map)
    }

    /// The `do_check` rule for calls while a lock is held: only
    /// `bpf_spin_unlock` (and `bpf_kptr_xchg`), static subprograms and the
    /// kfuncs of [`may_run_under_lock`] (those stay `unsupported`).
    pub(super) fn call_under_lock(&self, insn: &RawInsn) -> Result<(), Stop> {
        if self.cur.refs.lock().is_none() {
            return Ok(());
        }
        match insn.src {
            0 if insn.imm != SPIN_UNLOCK && insn.imm != KPTR_XCHG => Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EINVAL,
                "function calls are not allowed while holding a lock".to_owned(),
            )),
            op::PSEUDO_KFUNC_CALL => {
                let name = self.kfuncs.get(insn).map(|d| d.name.as_str());
                match name {
                    Some(n) if insn.off == 0 && !may_run_under_lock(n) => Err(self.reject(
                        ErrorCode::HelperCall,
                        Errno::EINVAL,
                        "function calls are not allowed while holding a lock".to_owned(),
                    )),
                    _ => Err(self.unsupported("kfunc calls while holding a lock")),
                }
            }
            _ => Ok(()),
        }
    }

    /// `check_resource_leak`'s lock rule for `what` (`BPF_EXIT instruction
    /// in main prog`, `BPF_LD_[ABS|IND]`).
    pub(super) fn no_lock_held(&self, what: &str) -> Result<(), Stop> {
        if self.cur.refs.lock().is_none() {
            return Ok(());
        }
        Err(self.reject(
            ErrorCode::InvalidInsn,
            Errno::EINVAL,
            format!("{what} cannot be used inside bpf_spin_lock-ed region"),
        ))
    }

    /// `check_func_call` of a global function while a lock is held.
    pub(super) fn global_call_under_lock(&self) -> Result<(), Stop> {
        if self.cur.refs.lock().is_none() {
            return Ok(());
        }
        Err(self.reject(
            ErrorCode::InvalidCallTarget,
            Errno::EINVAL,
            "global function calls are not allowed while holding a lock,\nuse static function instead"
                .to_owned(),
        ))
    }

    /// `check_map_access`'s look at the value's special fields: no load,
    /// store or helper access may touch any byte of one, but a direct
    /// access of a whole kptr. `off` includes the pointer's fixed offset;
    /// `var` is its variable part.
    pub(super) fn map_fields_untouched(
        &self,
        map: MapIdx,
        var: &crate::domain::Scalar,
        off: i64,
        size: i32,
        direct: bool,
    ) -> Result<(), Stop> {
        let Some(fields) = self.map_fields.get(map.0 as usize) else {
            return Ok(());
        };
        let last = i128::from(var.umax) + i128::from(off) + i128::from(size);
        for f in fields {
            let p = i128::from(f.offset);
            if i128::from(var.smin) + i128::from(off) < p + i128::from(f.size()) && p < last {
                let name = match f.kind {
                    SpecialField::SpinLock => "bpf_spin_lock",
                    SpecialField::Timer => "bpf_timer",
                    SpecialField::Kptr(_)
                        if crate::prepare::kptr_btf::KptrKind::of(f.kind).is_some() =>
                    {
                        self.kptr_overlap(f, var, off, size, direct)?;
                        continue;
                    }
                    _ => return Err(self.unsupported("accesses near this special field")),
                };
                return Err(self.reject(
                    ErrorCode::InvalidMemAccess,
                    Errno::EACCES,
                    format!("{name} cannot be accessed directly by load/store"),
                ));
            }
        }
        Ok(())
    }

    /// `ARG_PTR_TO_SPIN_LOCK` of `bpf_spin_lock` / `bpf_spin_unlock`
    /// (`process_spin_lock`), the register type already checked.
    pub(super) fn spin_lock_arg(&mut self, regno: u8, func_id: u32) -> Result<(), Stop> {
        let reg = *self.cur.cur().reg(regno);
        let RegState::PtrToMapValue {
            map,
            off,
            var,
            maybe_null: false,
            id,
        } = reg
        else {
            return Err(self.unsupported("spin locks outside map values"));
        };
        let einval = |c: &Self, msg: String| c.reject(ErrorCode::HelperCall, Errno::EINVAL, msg);
        let Some(val) = var.const_value() else {
            return Err(einval(
                self,
                format!(
                    "R{regno} doesn't have constant offset. bpf_spin_lock has to be at the constant offset"
                ),
            ));
        };
        let spec = &self.maps[map.0 as usize];
        let name: String = spec.name.chars().take(OBJ_NAME_LEN - 1).collect();
        if spec.btf_value_type_id == 0 && spec.btf_key_type_id == 0 {
            return Err(einval(
                self,
                format!("map '{name}' has to have BTF in order to use bpf_spin_lock"),
            ));
        }
        let Some(lock_off) = self.spin_lock_off(map) else {
            return Err(einval(
                self,
                format!("map '{name}' has no valid bpf_spin_lock"),
            ));
        };
        let at = (val as i64).wrapping_add(i64::from(off));
        if at != i64::from(lock_off) {
            return Err(einval(
                self,
                format!("off {at} doesn't point to 'struct bpf_spin_lock' that is at {lock_off}"),
            ));
        }
        if func_id == SPIN_LOCK as u32 {
            if self.cur.refs.lock().is_some() {
                return Err(einval(
                    self,
                    "Locking two bpf_spin_locks are not allowed".to_owned(),
                ));
            }
            self.cur.refs.acquire_lock(id, self.insn_idx, map);
            if !self.profile.features.resource_leak_v2 {
                // Before 6.14 a held lock is not a reference and is not
                // printed with them (`refs=`); that print is not modelled.
                self.log.mark_inexact();
            }
            return Ok(());
        }
        match self.cur.refs.lock().copied() {
            None => Err(einval(
                self,
                "bpf_spin_unlock without taking a lock".to_owned(),
            )),
            Some(l) if l.id != id || l.lock != Some(map) => {
                Err(einval(self, "bpf_spin_unlock of different lock".to_owned()))
            }
            Some(_) => {
                self.cur.refs.release_lock();
                Ok(())
            }
        }
    }
}
