//! Dynptr arguments and returns of kfuncs (`KF_ARG_PTR_TO_DYNPTR` in
//! `check_kfunc_args`, the `bpf_dynptr_slice(_rdwr)` return of
//! `check_kfunc_call`), on top of [`super::dynptr`]'s stack slots.
//!
//! Implemented: a `struct bpf_dynptr *` parameter takes a dynptr on the
//! stack or a callback's `CONST_PTR_TO_DYNPTR` (then read-only); a
//! `__uninit` one constructs it, of the kind `bpf_dynptr_from_skb` /
//! `bpf_dynptr_from_xdp` name, or, for `bpf_dynptr_clone`, of its
//! parent's kind sharing the parent's reference. The first initialised
//! dynptr of a call is remembered (`meta->initialized_dynptr`) for the
//! clone and for the slices: `bpf_dynptr_slice` returns read-only memory
//! of the `__szk` size or NULL, `bpf_dynptr_slice_rdwr` writable memory
//! for programs that may write their packet (`the prog does not allow
//! writes to packet data`); both carry the dynptr's id and kind, so that
//! destroying the dynptr, or a helper that changes the packet for an skb
//! or XDP slice, invalidates them.
//!
//! Knowingly not modelled (`unsupported`): a slice given a buffer (the
//! live 6.18 build tracks the buffer in the slice, `buf=fp[…]`), and
//! `bpf_dynptr_slice_rdwr` there at all (that build refuses it once the
//! arguments are checked); the `skb_meta` dynptr kind of
//! 6.17+ (`bpf_dynptr_from_skb_meta`), a const dynptr passed where a
//! dynptr is constructed (the kernel's internal error), dynptr kfuncs
//! of 7.x's argument rules.

use bpfcheck_profile::kfuncs::KfuncFlags;
use bpfcheck_uapi::{Errno, ProgType};

use super::Checker;
use super::dynptr::DynptrArg;
use crate::error::{ErrorCode, Stop};
use crate::prepare::kfunc::KParam;
use crate::state::{DynptrKind, MemTag, PtrFields, RegState};

/// What a call's arguments leave for its return besides references and
/// iterators (`meta->initialized_dynptr`, `meta->arg_constant`).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct KfuncArgMeta {
    /// The (last) initialised dynptr passed: its id, kind and reference.
    pub(super) initialized: Option<(u32, DynptrKind, u32)>,
    /// The value of the one constant argument (`__k`, `__szk`).
    pub(super) constant: Option<u64>,
    /// A sized memory argument was not NULL (a slice's buffer).
    pub(super) buffer: bool,
}

/// Whether a kfunc parameter is a `struct bpf_dynptr *`
/// (`is_kfunc_arg_dynptr`).
pub(super) fn is_dynptr_param(p: &KParam) -> bool {
    matches!(&p.ty, crate::prepare::kfunc::KType::Ptr(pt) if pt.composite && pt.name == "bpf_dynptr")
}

/// `may_access_direct_pkt_data` for a write without a helper's metadata:
/// the program types that may store into their packet.
fn may_write_pkt_data(t: ProgType) -> bool {
    matches!(
        t,
        ProgType::SCHED_CLS
            | ProgType::SCHED_ACT
            | ProgType::XDP
            | ProgType::LWT_XMIT
            | ProgType::SK_SKB
            | ProgType::SK_MSG
            | ProgType::CGROUP_SOCKOPT
    )
}

impl Checker<'_> {
    /// `KF_ARG_PTR_TO_DYNPTR` for argument `i` of kfunc `name` in
    /// register `regno`.
    pub(super) fn kfunc_dynptr_arg(
        &mut self,
        name: &str,
        i: usize,
        p: &KParam,
        meta: &mut KfuncArgMeta,
    ) -> Result<(), Stop> {
        let regno = u8::try_from(i + 1).unwrap_or(1);
        let reg = *self.cur.cur().reg(regno);
        self.kfunc_mem_reg_off(regno, &reg)?;
        let is_const = matches!(reg, RegState::ConstPtrToDynptr { .. });
        let uninit = p.has_suffix("__uninit");
        let mut arg = DynptrArg {
            uninit,
            rdonly: is_const,
            release: false,
            kind: None,
            clone_ref: 0,
        };
        match name {
            "bpf_dynptr_from_skb" => arg.kind = Some(DynptrKind::Skb),
            "bpf_dynptr_from_xdp" => arg.kind = Some(DynptrKind::Xdp),
            "bpf_dynptr_from_skb_meta" => {
                return Err(self.unsupported(&format!("kfunc {name}: skb_meta dynptrs")));
            }
            "bpf_dynptr_clone" if uninit => {
                let Some((_, kind, ref_obj_id)) = meta.initialized else {
                    return Err(self.unsupported("kfunc bpf_dynptr_clone without a parent dynptr"));
                };
                arg.kind = Some(kind);
                arg.clone_ref = ref_obj_id;
            }
            _ if uninit && !name.starts_with("bpf_dynptr_") => {
                return Err(self.unsupported(&format!(
                    "kfunc {name}: dynptr constructors of no known kind"
                )));
            }
            _ => {}
        }
        if uninit && is_const {
            return Err(self.unsupported("dynptr arguments both MEM_UNINIT and MEM_RDONLY"));
        }
        self.process_dynptr_arg(regno, regno - 1, arg)?;
        if !uninit {
            let (ptr, kind) = self.dynptr_of(regno)?;
            meta.initialized = Some((ptr.id, kind, ptr.ref_obj_id));
        }
        Ok(())
    }

    /// `check_func_arg_reg_off` for a kfunc argument that is not released:
    /// the pointer types that may be passed moved, and the others at
    /// their start only.
    pub(super) fn kfunc_mem_reg_off(&self, regno: u8, reg: &RegState) -> Result<(), Stop> {
        match reg {
            RegState::Scalar(_)
            | RegState::PtrToStack { .. }
            | RegState::PtrToPacket { .. }
            | RegState::PtrToPacketMeta { .. }
            | RegState::PtrToMapKey { .. }
            | RegState::PtrToBuf(_)
            | RegState::PtrToMapValue {
                maybe_null: false, ..
            } => Ok(()),
            RegState::PtrToMem { ptr, tag, .. } if !ptr.maybe_null && tag.dynptr_kind.is_none() => {
                Ok(())
            }
            RegState::PtrToBtfId { .. } => {
                Err(self.unsupported("BTF-typed pointers as kfunc memory or dynptr arguments"))
            }
            _ => self.check_ptr_off_reg(regno, reg),
        }
    }

    /// `R0` of `bpf_dynptr_slice` / `bpf_dynptr_slice_rdwr`: memory of the
    /// constant `size` in the dynptr `meta` names, or NULL.
    pub(super) fn kfunc_slice_ret(
        &mut self,
        name: &str,
        flags: KfuncFlags,
        meta: &KfuncArgMeta,
    ) -> Result<RegState, Stop> {
        let Some(size) = meta.constant.and_then(|s| u32::try_from(s).ok()) else {
            return Err(self.unsupported(&format!("kfunc {name}: slices without a constant size")));
        };
        if meta.buffer {
            // The live 6.18 build remembers the buffer in the slice
            // (`buf=fp[0]-32+14` in its state), a rule not modelled.
            return Err(self.unsupported(&format!(
                "kfunc {name}: dynptr slices with a buffer (the live 6.18 build tracks it)"
            )));
        }
        let Some((id, kind, _)) = meta.initialized else {
            return Err(self.unsupported(&format!("kfunc {name}: slices without a dynptr")));
        };
        let rdwr = name == "bpf_dynptr_slice_rdwr";
        if rdwr {
            // The live 6.18 build refuses the call once its arguments are
            // checked (`bpf_dynptr_slice_rdwr() is not allowed`), which
            // the profile's kfunc data does not say: the writable slice
            // below is what upstream kernels return.
            return Err(self.unsupported(&format!(
                "kfunc {name}: writable dynptr slices (refused by the live 6.18 build)"
            )));
        }
        if rdwr && !may_write_pkt_data(self.prog_type) {
            return Err(self.reject(
                ErrorCode::KfuncCall,
                Errno::EINVAL,
                "the prog does not allow writes to packet data".to_owned(),
            ));
        }
        let mut ptr = PtrFields::fresh(0, false);
        self.kfunc_ret_ids(flags, &mut ptr);
        Ok(RegState::PtrToMem {
            ptr,
            size,
            tag: MemTag {
                rdonly: !rdwr,
                dynptr_id: id,
                dynptr_kind: Some(kind),
                ..MemTag::default()
            },
        })
    }
}
