//! The helper side of dynptrs: `ARG_PTR_TO_DYNPTR` arguments of helper
//! prototypes (`check_reg_type`, the release check of `check_func_arg`,
//! then [`super::dynptr`]'s `process_dynptr_func`), and what
//! `check_helper_call` does for the dynptr helpers once the arguments are
//! checked: the release of `bpf_ringbuf_submit_dynptr` /
//! `_discard_dynptr`, `bpf_dynptr_from_mem`'s map value, and the dynptr
//! a `bpf_dynptr_data` slice belongs to.

use bpfcheck_profile::helpers::{ArgType, HelperProto, TypeFlag};
use bpfcheck_uapi::Errno;

use super::Checker;
use super::dynptr::DynptrArg;
use crate::error::{ErrorCode, Stop};
use crate::state::{DynptrKind, RegState};

/// `BPF_FUNC_dynptr_from_mem`.
const DYNPTR_FROM_MEM: u32 = 197;
/// `BPF_FUNC_dynptr_write`.
const DYNPTR_WRITE: u32 = 202;
/// `BPF_FUNC_dynptr_data`.
const DYNPTR_DATA: u32 = 203;

/// The register types `ARG_PTR_TO_DYNPTR` accepts (`dynptr_types`).
const DYNPTR_TYPES: &str = "fp, dynptr_ptr";

/// What a helper's dynptr argument leaves for the rest of the call.
#[derive(Default)]
pub(super) struct DynptrMeta {
    /// The register of the dynptr argument.
    pub(super) regno: Option<u8>,
    /// The call releases that dynptr (`OBJ_RELEASE`).
    pub(super) release: bool,
    /// The kind of the initialised dynptr passed.
    pub(super) kind: Option<DynptrKind>,
}

impl Checker<'_> {
    /// `ARG_PTR_TO_DYNPTR` of a helper in register `regno`.
    pub(super) fn dynptr_helper_arg(
        &mut self,
        regno: u8,
        arg: ArgType,
        meta: &mut DynptrMeta,
    ) -> Result<(), Stop> {
        let Some(what) = DynptrArg::of_helper_arg(arg) else {
            return Err(self.unsupported(&format!("helper argument type {arg}")));
        };
        let reg = *self.cur.cur().reg(regno);
        if !matches!(
            reg,
            RegState::PtrToStack { .. } | RegState::ConstPtrToDynptr { .. }
        ) {
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EACCES,
                format!("R{regno} type={} expected={DYNPTR_TYPES}", reg.type_str()),
            ));
        }
        if arg.flags.has(TypeFlag::ObjRelease) {
            self.dynptr_release_arg(regno)?;
            meta.release = true;
        }
        meta.regno = Some(regno);
        self.process_dynptr_arg(regno, regno - 1, what)?;
        if !what.uninit {
            meta.kind = Some(self.dynptr_of(regno)?.1);
        }
        Ok(())
    }

    /// Whether the helper changes packet data through its dynptr:
    /// `bpf_dynptr_write` into an skb dynptr (its slices then go with
    /// the packet pointers).
    pub(super) fn dynptr_changes_pkt(proto: &HelperProto, meta: &DynptrMeta) -> bool {
        proto.id == DYNPTR_WRITE && meta.kind == Some(DynptrKind::Skb)
    }

    /// The dynptr steps of `check_helper_call` after the arguments (and
    /// after the raw-mode writes): the release, `bpf_dynptr_from_mem`'s
    /// memory check; for `bpf_dynptr_data`, the dynptr's id and reference
    /// its slice takes.
    pub(super) fn dynptr_call_effects(
        &mut self,
        proto: &HelperProto,
        meta: &DynptrMeta,
    ) -> Result<Option<(u32, u32)>, Stop> {
        if let (true, Some(regno)) = (meta.release, meta.regno) {
            self.unmark_stack_slots_dynptr(regno)?;
        }
        match proto.id {
            DYNPTR_FROM_MEM => {
                let r1 = *self.cur.cur().reg(1);
                if !matches!(
                    r1,
                    RegState::PtrToMapValue {
                        maybe_null: false,
                        ..
                    }
                ) {
                    return Err(self.reject(
                        ErrorCode::HelperCall,
                        Errno::EACCES,
                        format!(
                            "Unsupported reg type {} for bpf_dynptr_from_mem data",
                            r1.type_str()
                        ),
                    ));
                }
                Ok(None)
            }
            DYNPTR_DATA => {
                let Some(regno) = meta.regno else {
                    return Err(self.unsupported("bpf_dynptr_data without a dynptr argument"));
                };
                self.dynptr_ids(regno).map(Some)
            }
            _ => Ok(None),
        }
    }
}
