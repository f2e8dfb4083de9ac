//! Ring buffer records (`bpf_ringbuf_reserve`, `_submit`, `_discard`):
//! memory of the reserved size (`PTR_TO_MEM | MEM_RINGBUF`, maybe NULL)
//! that the program owns by a reference until it submits or discards the
//! record (`ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE`), and the `PTR_TO_MEM`
//! returns of the other helpers (`bpf_dynptr_data`'s slices).

use bpfcheck_profile::helpers::{ArgType, HelperProto, RetType, TypeFlag};
use bpfcheck_uapi::Errno;

use super::Checker;
use crate::domain::Scalar;
use crate::error::{ErrorCode, Stop};
use crate::state::{MemTag, PtrFields, RegState};

/// `BPF_FUNC_ringbuf_reserve`, the helper that acquires a record
/// (`is_acquire_function`).
pub(super) const RINGBUF_RESERVE: u32 = 131;

/// The register type `ARG_PTR_TO_RINGBUF_MEM` accepts
/// (`ringbuf_mem_types`).
const RINGBUF_MEM_TYPES: &str = "ringbuf_mem";

impl Checker<'_> {
    /// `check_reg_type` and `check_func_arg_reg_off` for
    /// `ARG_PTR_TO_RINGBUF_MEM`: a record, not NULL, at its start.
    pub(super) fn ringbuf_mem_arg(&self, regno: u8, arg: ArgType) -> Result<(), Stop> {
        if arg.flags.iter().any(|f| f != TypeFlag::ObjRelease) {
            return Err(self.unsupported(&format!("helper argument type {arg}")));
        }
        let reg = *self.cur.cur().reg(regno);
        let ok = matches!(
            reg,
            RegState::PtrToMem { ptr, tag, .. }
                if tag.ringbuf && !tag.rdonly && !ptr.maybe_null
        );
        if !ok && self.profile.features.walk_v6_1.helper_arg_types {
            return Err(self
                .unsupported("helper argument types of kernel 6.1 (walk_v6_1.helper_arg_types)"));
        }
        if !ok {
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EACCES,
                format!(
                    "R{regno} type={} expected={RINGBUF_MEM_TYPES}",
                    reg.type_str()
                ),
            ));
        }
        if arg.flags.has(TypeFlag::ObjRelease)
            && let RegState::PtrToMem { ptr, .. } = reg
            && ptr.off != 0
        {
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EINVAL,
                format!(
                    "R{regno} must have zero offset when passed to release func or trusted arg to kfunc"
                ),
            ));
        }
        self.check_ptr_off_reg(regno, &reg)
    }

    /// `R0` of a helper returning `RET_PTR_TO_MEM`: `alloc_size` bytes
    /// (the `ARG_CONST_ALLOC_SIZE_OR_ZERO` argument), a fresh nullness id,
    /// and for a ring buffer record the reference it acquires.
    pub(super) fn mem_ret(
        &mut self,
        proto: &HelperProto,
        alloc_size: Option<u64>,
        slice_of: Option<(u32, u32)>,
    ) -> Result<RegState, Stop> {
        let ret: RetType = proto.ret;
        let known = [
            TypeFlag::PtrMaybeNull,
            TypeFlag::MemRingbuf,
            TypeFlag::MemRdonly,
        ];
        if ret.flags.iter().any(|f| !known.contains(&f)) {
            return Err(self.unsupported(&format!("helper return type {ret}")));
        }
        let Some(size) = alloc_size.and_then(|s| u32::try_from(s).ok()) else {
            return Err(self.unsupported(&format!("helper return type {ret} of this helper")));
        };
        let maybe_null = ret.flags.has(TypeFlag::PtrMaybeNull);
        let mut ptr = PtrFields {
            off: 0,
            var: Scalar::constant(0),
            id: if maybe_null { self.new_id() } else { 0 },
            ref_obj_id: 0,
            maybe_null,
        };
        let mut tag = MemTag {
            rdonly: ret.flags.has(TypeFlag::MemRdonly),
            ringbuf: ret.flags.has(TypeFlag::MemRingbuf),
            ..MemTag::default()
        };
        if let Some((dynptr_id, ref_obj_id)) = slice_of {
            // A slice shares its dynptr's reference (`is_dynptr_ref_function`).
            tag.dynptr_id = dynptr_id;
            ptr.ref_obj_id = ref_obj_id;
        } else if proto.id == RINGBUF_RESERVE {
            let id = self.new_id();
            self.cur.refs.acquire(id, self.insn_idx);
            ptr.id = id;
            ptr.ref_obj_id = id;
        } else {
            return Err(self.unsupported(&format!("helper return type {ret} of this helper")));
        }
        Ok(RegState::PtrToMem { ptr, size, tag })
    }
}
