//! Graph kfuncs (`bpf_list_*`, `bpf_rbtree_*`): only their first
//! argument, the root, is judged, and only when it is in a map value
//! (`KF_ARG_PTR_TO_LIST_HEAD`, `KF_ARG_PTR_TO_RB_ROOT`,
//! `__process_kf_arg_ptr_to_graph_root`): a constant offset, a root of the
//! kfunc's kind there, and the value's `bpf_spin_lock` held
//! (`check_reg_allocation_locked`). A root that passes leaves the call
//! `unsupported`, as do roots in allocated objects.
//!
//! Knowingly not: the node arguments, owning and non-owning references,
//! `bpf_rbtree_add`'s callback, the returns; so a graph kfunc call never
//! passes here.

use bpfcheck_uapi::Errno;

use super::Checker;
use crate::error::{ErrorCode, Stop};
use crate::prepare::kfunc::{KType, KfuncDesc};
use crate::prepare::map_btf::SpecialField;
use crate::state::RegState;

/// The root kind a graph kfunc's first parameter points to.
fn root_kind(desc: &KfuncDesc) -> Option<(SpecialField, &'static str)> {
    let Some(KType::Ptr(p)) = desc.params.first().map(|p| &p.ty) else {
        return None;
    };
    match p.name.as_str() {
        "bpf_list_head" if p.composite => Some((SpecialField::ListHead, "bpf_list_head")),
        "bpf_rb_root" if p.composite => Some((SpecialField::RbRoot, "bpf_rb_root")),
        _ => None,
    }
}

impl Checker<'_> {
    /// The root argument of graph kfunc `desc`, before the call is
    /// reported `unsupported`: `Err` with the kernel's refusal, or with
    /// the unsupported stop naming `what`.
    pub(super) fn graph_root_arg(&mut self, desc: &KfuncDesc, what: &str) -> Stop {
        match self.graph_root_check(desc) {
            Ok(()) => self.unsupported(what),
            Err(stop) => stop,
        }
    }

    fn graph_root_check(&mut self, desc: &KfuncDesc) -> Result<(), Stop> {
        let name = desc.name.as_str();
        let unsupported = |s: &Self| s.unsupported(&format!("kfunc {name}: graph roots"));
        if self.profile.features.walk_v6_1.graph_objects
            || self.profile.features.kfunc_trusted_by_default
        {
            return Err(unsupported(self));
        }
        let Some((kind, kind_name)) = root_kind(desc) else {
            return Err(unsupported(self));
        };
        let reg = *self.cur.cur().reg(1);
        let RegState::PtrToMapValue {
            map,
            off,
            var,
            maybe_null: false,
            id,
        } = reg
        else {
            return Err(unsupported(self));
        };
        let einval = |s: &Self, msg: String| s.reject(ErrorCode::KfuncCall, Errno::EINVAL, msg);
        let Some(v) = var.const_value() else {
            return Err(einval(
                self,
                format!(
                    "R1 doesn't have constant offset. {kind_name} has to be at the constant offset"
                ),
            ));
        };
        let at = (i64::from(off)).wrapping_add(v as i64);
        let fields = self
            .map_fields
            .get(map.0 as usize)
            .cloned()
            .unwrap_or_default();
        if !fields
            .iter()
            .any(|f| f.kind == kind && i64::from(f.offset) == at)
        {
            return Err(einval(
                self,
                format!("{kind_name} not found at offset={}", at as u32),
            ));
        }
        let Some(lock_off) = self.spin_lock_off(map) else {
            return Err(unsupported(self));
        };
        let held = self.cur.refs.lock().copied();
        let same = held.is_some_and(|l| l.lock == Some(map) && l.id == id);
        if held.is_some() && !same {
            self.log
                .line("held lock and object are not in the same allocation");
        }
        if !same {
            return Err(einval(
                self,
                format!("bpf_spin_lock at off={lock_off} must be held for {kind_name}"),
            ));
        }
        Ok(())
    }
}
