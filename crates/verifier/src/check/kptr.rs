//! Kptr fields of map values: loads and stores of them
//! (`check_map_access`'s rules for a field it overlaps,
//! `check_map_kptr_access`, `map_kptr_match_type`) and `bpf_kptr_xchg`
//! (`process_kptr_func` for its destination, the released source, the
//! acquired result).
//!
//! Only kptrs to kernel types are judged: the prepare pass refuses the
//! others by name ([`crate::prepare::kptr_btf`]). A loaded kptr is a
//! BTF pointer that may be NULL: an RCU pointer for a referenced kptr of
//! an RCU-protected type inside an RCU section (`rcu_safe_kptr`,
//! `in_rcu_cs`), else untrusted. Stores go to unreferenced kptrs only, of
//! a NULL or a BTF pointer of the field's type; referenced ones change
//! only through `bpf_kptr_xchg`.

use bpfcheck_uapi::{Errno, RawInsn, op};

use super::Checker;
use crate::domain::Scalar;
use crate::error::{ErrorCode, Stop};
use crate::prepare::kptr_btf::{KptrKind, KptrTarget};
use crate::prepare::map_btf::Field;
use crate::state::{BtfPtr, MapIdx, MemKind, PtrFields, RegState, Trust};

/// `BPF_FUNC_kptr_xchg`.
pub(super) const KPTR_XCHG: u32 = 194;

/// `BPF_OBJ_NAME_LEN`: the kernel keeps 15 bytes of a map's name.
const OBJ_NAME_LEN: usize = 16;

/// The kptr field a destination argument of `bpf_kptr_xchg` names.
#[derive(Clone, Copy)]
pub(super) struct XchgDest {
    kind: KptrKind,
    target: KptrTarget,
}

impl Checker<'_> {
    /// `check_map_access`'s rules for kptr field `f`, which an access of
    /// `size` bytes at `off` (with the pointer's variable part `var`)
    /// overlaps; `direct` for loads and stores (`ACCESS_DIRECT`), not
    /// helpers.
    pub(super) fn kptr_overlap(
        &self,
        f: &Field,
        var: &Scalar,
        off: i64,
        size: i32,
        direct: bool,
    ) -> Result<(), Stop> {
        if f.kernel.is_none() {
            // An inner map's kptr the prepare pass never looked at.
            return Err(self.unsupported("kptr fields the prepare pass did not resolve"));
        }
        let acc = |msg: String| self.reject(ErrorCode::InvalidMemAccess, Errno::EACCES, msg);
        if !direct {
            return Err(acc("kptr cannot be accessed indirectly by helper".into()));
        }
        let Some(v) = var.const_value() else {
            return Err(acc("kptr access cannot have variable offset".into()));
        };
        let at = (off as u64).wrapping_add(v);
        if u64::from(f.offset) != at {
            return Err(acc(format!(
                "kptr access misaligned expected={} off={at}",
                f.offset
            )));
        }
        if size != 8 {
            return Err(acc("kptr access size must be BPF_DW".into()));
        }
        Ok(())
    }

    /// The kptr field at exactly where a constant-offset map value pointer
    /// `reg` plus `off` points (`btf_record_find(…, BPF_KPTR)`).
    fn kptr_at(&self, reg: &RegState, off: i32) -> Option<Field> {
        let RegState::PtrToMapValue {
            map,
            off: roff,
            var,
            ..
        } = *reg
        else {
            return None;
        };
        let at = (i64::from(roff) + i64::from(off)).wrapping_add(var.const_value()? as i64);
        self.map_fields
            .get(map.0 as usize)?
            .iter()
            .find(|f| i64::from(f.offset) == at && KptrKind::of(f.kind).is_some())
            .copied()
    }

    /// `check_map_kptr_access` for instruction `insn` through map value
    /// pointer `base` at `off`, once `check_map_access` let it through:
    /// `false` when no kptr is there; a load's register is set here.
    pub(super) fn kptr_access(
        &mut self,
        insn: &RawInsn,
        base: &RegState,
        off: i32,
    ) -> Result<bool, Stop> {
        let Some(f) = self.kptr_at(base, off) else {
            return Ok(false);
        };
        let (Some(kind), Some(target)) = (KptrKind::of(f.kind), f.kernel) else {
            return Err(self.unsupported("kptr fields the prepare pass did not resolve"));
        };
        let acc = |s: &Self, msg: String| s.reject(ErrorCode::InvalidMemAccess, Errno::EACCES, msg);
        if op::mode(insn.code) != op::MEM {
            return Err(acc(
                self,
                "kptr in map can only be accessed using BPF_MEM instruction mode".into(),
            ));
        }
        let class = insn.class();
        if class != op::LDX && kind != KptrKind::Unref {
            return Err(acc(self, "store to referenced kptr disallowed".into()));
        }
        match class {
            op::LDX => {
                let loaded = self.kptr_loaded(kind, target);
                *self.cur.cur_mut().reg_mut(insn.dst) = loaded;
            }
            op::STX => {
                let val = *self.cur.cur().reg(insn.src);
                if super::helper_mem::is_null(&val) {
                    // Only a zero may go there: no pruning may forget it.
                    self.mark_chain_precision(insn.src)?;
                } else {
                    self.kptr_match(kind, target, insn.src, &val)?;
                }
            }
            op::ST if insn.imm != 0 => {
                return Err(acc(
                    self,
                    format!(
                        "BPF_ST imm must be 0 when storing to kptr at off={}",
                        f.offset
                    ),
                ));
            }
            op::ST => {}
            _ => {
                return Err(acc(
                    self,
                    "kptr in map can only be accessed using BPF_LDX/BPF_STX/BPF_ST".into(),
                ));
            }
        }
        Ok(true)
    }

    /// `btf_ld_kptr_type` with `mark_btf_ld_reg`: the register a load of
    /// a kptr gives, with a fresh nullness id.
    fn kptr_loaded(&mut self, kind: KptrKind, target: KptrTarget) -> RegState {
        let rcu = kind == KptrKind::Ref && target.rcu_protected && self.kptr_in_rcu_cs();
        let btf = BtfPtr {
            btf_id: target.btf_id,
            name: target.name,
            trust: if rcu { Trust::Rcu } else { Trust::Untrusted },
            mem: MemKind::Kernel,
            owner: crate::state::Owner::Kernel,
        };
        let id = self.new_id();
        RegState::PtrToBtfId {
            ptr: PtrFields::fresh(id, true),
            btf,
        }
    }

    /// `in_rcu_cs`: inside `bpf_rcu_read_lock()` or a spin lock, or any
    /// program that does not sleep.
    fn kptr_in_rcu_cs(&self) -> bool {
        let sleepable = self.req.prog_flags & bpfcheck_uapi::load::BPF_F_SLEEPABLE != 0;
        self.cur.regions.rcu || self.cur.refs.lock().is_some() || !sleepable
    }

    /// `map_kptr_match_type`: register `regno` may go into a kptr of
    /// `kind` pointing to `target`.
    fn kptr_match(
        &self,
        kind: KptrKind,
        target: KptrTarget,
        regno: u8,
        reg: &RegState,
    ) -> Result<(), Stop> {
        let bad = |reg_name: &str| {
            let also = if kind == KptrKind::Unref {
                format!(" or untrusted_ptr_{}", target.name)
            } else {
                String::new()
            };
            self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!(
                    "invalid kptr access, R{regno} type={}{reg_name} expected=ptr_{}{also}",
                    reg.type_str(),
                    target.name
                ),
            )
        };
        let RegState::PtrToBtfId { ptr, btf } = reg else {
            return Err(bad(""));
        };
        if btf.owner.local() {
            return Err(self.unsupported("allocated objects (program-BTF pointers) here"));
        }
        // Trusted, RCU and plain pointers fit; untrusted ones only an
        // unreferenced kptr; user and per-CPU memory never.
        let trust_ok = btf.trust != Trust::Untrusted || kind == KptrKind::Unref;
        if !trust_ok || btf.mem != MemKind::Kernel {
            return Err(bad(""));
        }
        let reg_name = btf.name;
        self.ptr_off_reg(regno, reg, ptr.off, &ptr.var, true)?;
        // `btf_struct_ids_match`: the same type at offset 0; a referenced
        // kptr asks for nothing else (strict).
        if ptr.off == 0 && btf.btf_id == target.btf_id {
            return Ok(());
        }
        if kind != KptrKind::Unref {
            return Err(bad(reg_name.as_str()));
        }
        let btf_k = self.kernel_btf()?;
        match super::btf_match::ids_match(btf_k, btf.btf_id, ptr.off, target.btf_id, false) {
            Some(true) => Ok(()),
            Some(false) => Err(bad(reg_name.as_str())),
            None => Err(self.unsupported(
                "kptr stores whose type match the kernel logs (btf_struct_ids_match walk)",
            )),
        }
    }

    /// `ARG_KPTR_XCHG_DEST` (`check_reg_type` against
    /// `kptr_xchg_dest_types`, then `process_kptr_func`): a map value
    /// pointer at a referenced kptr; its map becomes the call's map.
    pub(super) fn kptr_xchg_dest(
        &self,
        regno: u8,
        reg: &RegState,
    ) -> Result<(MapIdx, XchgDest), Stop> {
        let RegState::PtrToMapValue {
            map,
            off,
            var,
            maybe_null: false,
            ..
        } = *reg
        else {
            if matches!(reg, RegState::PtrToBtfId { .. }) {
                return Err(self.unsupported("bpf_kptr_xchg into allocated objects"));
            }
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EACCES,
                format!("R{regno} type={} expected=map_value, ptr_", reg.type_str()),
            ));
        };
        let einval = |msg: String| self.reject(ErrorCode::HelperCall, Errno::EINVAL, msg);
        let spec = &self.maps[map.0 as usize];
        if spec.btf_value_type_id == 0 && spec.btf_key_type_id == 0 {
            let name: String = spec.name.chars().take(OBJ_NAME_LEN - 1).collect();
            return Err(einval(format!(
                "map '{name}' has to have BTF in order to use bpf_kptr_xchg"
            )));
        }
        let Some(v) = var.const_value() else {
            return Err(einval(format!(
                "R{regno} doesn't have constant offset. kptr has to be at the constant offset"
            )));
        };
        let fields = self.map_fields.get(map.0 as usize);
        let kptrs = || {
            fields
                .into_iter()
                .flatten()
                .filter(|f| KptrKind::of(f.kind).is_some())
        };
        if kptrs().next().is_none() {
            return Err(einval(format!("R{regno} has no valid kptr")));
        }
        let at = (i64::from(off)).wrapping_add(v as i64) as i32;
        let acc = |msg: String| self.reject(ErrorCode::HelperCall, Errno::EACCES, msg);
        let Some(f) = kptrs().find(|f| i64::from(f.offset) == i64::from(at)) else {
            return Err(acc(format!("off={at} doesn't point to kptr")));
        };
        let kind = KptrKind::of(f.kind).unwrap_or(KptrKind::Unref);
        if kind == KptrKind::Unref {
            return Err(acc(format!("off={at} kptr isn't referenced kptr")));
        }
        let Some(target) = f.kernel else {
            return Err(self.unsupported("kptr fields the prepare pass did not resolve"));
        };
        Ok((map, XchgDest { kind, target }))
    }

    /// `bpf_kptr_xchg`'s source (`ARG_PTR_TO_BTF_ID_OR_NULL |
    /// OBJ_RELEASE`), not NULL: a BTF pointer of `btf_ptr_types`, not
    /// maybe-NULL, matching the destination's kptr.
    pub(super) fn kptr_xchg_src(
        &self,
        regno: u8,
        reg: &RegState,
        dest: Option<XchgDest>,
    ) -> Result<(), Stop> {
        let Some(dest) = dest else {
            return Err(self.unsupported("bpf_kptr_xchg without its destination"));
        };
        if matches!(reg, RegState::PtrToBtfId { btf, .. } if btf.owner.local()) {
            return Err(self.unsupported("allocated objects (program-BTF pointers) here"));
        }
        let fits = matches!(
            reg,
            RegState::PtrToBtfId { btf, .. }
                if btf.mem == MemKind::Kernel && btf.trust != Trust::Untrusted
        );
        if !fits {
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EACCES,
                format!(
                    "R{regno} type={} expected=ptr_, trusted_ptr_, rcu_ptr_",
                    reg.type_str()
                ),
            ));
        }
        if let RegState::PtrToBtfId { ptr, .. } = reg
            && ptr.maybe_null
        {
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EACCES,
                format!("Possibly NULL pointer passed to helper arg{regno}"),
            ));
        }
        self.kptr_match(dest.kind, dest.target, regno, reg)
    }

    /// `R0` of `bpf_kptr_xchg`: the old kptr, maybe NULL, as a new
    /// reference (`RET_PTR_TO_BTF_ID_OR_NULL`, `is_acquire_function`).
    pub(super) fn kptr_xchg_ret(&mut self, dest: Option<XchgDest>) -> Result<RegState, Stop> {
        let Some(dest) = dest else {
            return Err(self.unsupported("bpf_kptr_xchg without its destination"));
        };
        // The nullness id comes first, then the reference replaces it.
        self.new_id();
        let id = self.new_id();
        self.cur.refs.acquire(id, self.insn_idx);
        Ok(RegState::PtrToBtfId {
            ptr: PtrFields {
                ref_obj_id: id,
                ..PtrFields::fresh(id, true)
            },
            btf: BtfPtr {
                btf_id: dest.target.btf_id,
                name: dest.target.name,
                trust: Trust::Plain,
                mem: MemKind::Kernel,
                owner: crate::state::Owner::Kernel,
            },
        })
    }
}
