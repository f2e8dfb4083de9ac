//! Helpers taking or returning BTF-typed kernel pointers.
//!
//! Arguments (`check_reg_type` and `check_func_arg_reg_off`):
//! - `ARG_PTR_TO_BTF_ID` admits a plain, trusted or RCU kernel pointer
//!   (`btf_ptr_types`) whose object at its fixed offset is, or starts
//!   with, the prototype's type (`btf_struct_ids_match`, strict for a
//!   released argument);
//! - `ARG_PTR_TO_BTF_ID_SOCK_COMMON` admits, besides the socket kinds
//!   (`super::sock`), a plain or trusted pointer to a `sock_common`;
//! - `ARG_PTR_TO_PERCPU_BTF_ID` admits a per-CPU pointer, whose type the
//!   `RET_PTR_TO_MEM_OR_BTF_ID` result then takes.
//!
//! Returns: `RET_PTR_TO_BTF_ID` with its `PTR_MAYBE_NULL` / `PTR_TRUSTED`
//! flags, typed by the prototype's `ret_btf_id`; the socket casts
//! (`bpf_skc_to_*`) share their argument's reference.

use bpfcheck_btf::{BtfKind, BtfTypeId};
use bpfcheck_profile::helpers::{ArgBase, ArgType, BtfRef, HelperProto, RetBase, TypeFlag};
use bpfcheck_uapi::Errno;

use super::Checker;
use super::btf_match::struct_ids_match;
use crate::error::{ErrorCode, Stop};
use crate::state::btf_ptr::TypeName;
use crate::state::{BtfPtr, MemKind, PtrFields, RegState, Trust};

/// `BPF_FUNC_sk_release`: its argument matches `sock_common` through
/// first members even though it is released.
const SK_RELEASE: u32 = 86;
/// `BPF_FUNC_kptr_xchg`: its BTF argument's type is the map field's.
const KPTR_XCHG: u32 = 194;
/// The `bpf_skc_to_*` casts whose result shares the argument's reference
/// (`is_ptr_cast_function`; `bpf_skc_to_unix_sock` is not one).
const SKC_CASTS: [u32; 6] = [136, 137, 138, 139, 140, 196];

/// Register types the BTF argument kinds accept, as the kernel lists them
/// when refusing a register.
const BTF_PTR_TYPES: &str = "ptr_, trusted_ptr_, rcu_ptr_";
const PERCPU_BTF_PTR_TYPES: &str = "percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_";

/// What a per-CPU argument tells the return (`meta->ret_btf_id`).
#[derive(Default)]
pub(super) struct BtfArgMeta {
    /// The per-CPU object's type.
    pub(super) percpu: Option<BtfPtr>,
}

impl Checker<'_> {
    /// The kernel type a prototype names (`BTF_ID(struct, task_struct)`).
    fn proto_btf_type(&self, r: BtfRef) -> Result<(u32, TypeName), Stop> {
        let BtfRef::Named { kind, name } = r else {
            return Err(self.unsupported("BPF_PTR_POISON prototype types"));
        };
        let kind = match kind {
            "struct" => BtfKind::Struct,
            "union" => BtfKind::Union,
            _ => return Err(self.unsupported("helper BTF types other than structs")),
        };
        let btf = self.kernel_btf()?;
        let t = btf
            .find_by_name_kind(name, kind)
            .ok_or_else(|| self.unsupported(&format!("helper type {r} absent from kernel BTF")))?;
        let tn =
            TypeName::new(name).ok_or_else(|| self.unsupported("BTF type names over 63 bytes"))?;
        Ok((t.id().0, tn))
    }

    fn btf_arg_mismatch(&self, regno: u8, reg: &RegState, expected: &str) -> Stop {
        if self.profile.features.walk_v6_1.helper_arg_types {
            return self
                .unsupported("helper argument types of kernel 6.1 (walk_v6_1.helper_arg_types)");
        }
        self.reject(
            ErrorCode::HelperCall,
            Errno::EACCES,
            format!("R{regno} type={} expected={expected}", reg.type_str()),
        )
    }

    /// The type lists and flags here are 6.12's and later; 6.1 knew no
    /// trusted or RCU pointers.
    fn btf_helpers_modelled(&self) -> Result<(), Stop> {
        if self.profile.features.walk_v6_1.helper_arg_types {
            return Err(self.unsupported("BTF-typed helper pointers on kernel 6.1"));
        }
        Ok(())
    }

    /// The vma `bpf_find_vma` hands its callback
    /// (`btf_tracing_ids[BTF_TRACING_TYPE_VMA]`), no flags.
    pub(super) fn vma_ptr(&self) -> Result<BtfPtr, Stop> {
        let (btf_id, name) = self.proto_btf_type(BtfRef::Named {
            kind: "struct",
            name: "vm_area_struct",
        })?;
        Ok(BtfPtr {
            btf_id,
            name,
            trust: Trust::Plain,
            mem: MemKind::Kernel,
            owner: crate::state::Owner::Kernel,
        })
    }

    /// `ARG_PTR_TO_BTF_ID` and `ARG_PTR_TO_PERCPU_BTF_ID` (a NULL the
    /// argument allows was let through before).
    pub(super) fn btf_helper_arg(
        &mut self,
        proto: &HelperProto,
        i: usize,
        reg: &RegState,
        meta: &mut BtfArgMeta,
    ) -> Result<(), Stop> {
        self.btf_helpers_modelled()?;
        let arg = proto.args[i];
        let regno = u8::try_from(i + 1).unwrap_or(1);
        let known = [TypeFlag::PtrMaybeNull, TypeFlag::ObjRelease];
        if arg.flags.iter().any(|f| !known.contains(&f)) {
            return Err(self.unsupported(&format!("helper argument type {arg}")));
        }
        let percpu = arg.base == ArgBase::PtrToPercpuBtfId;
        let RegState::PtrToBtfId { ptr, btf } = *reg else {
            let expected = if percpu {
                PERCPU_BTF_PTR_TYPES
            } else {
                BTF_PTR_TYPES
            };
            return Err(self.btf_arg_mismatch(regno, reg, expected));
        };
        if btf.owner.local() {
            return Err(self.unsupported("allocated objects (program-BTF pointers) here"));
        }
        if percpu {
            let fits = btf.mem == MemKind::Percpu
                && btf.trust != Trust::Untrusted
                && (!ptr.maybe_null || arg.maybe_null());
            if !fits {
                return Err(self.btf_arg_mismatch(regno, reg, PERCPU_BTF_PTR_TYPES));
            }
            self.btf_arg_off(regno, reg, arg, false)?;
            meta.percpu = Some(btf);
            return Ok(());
        }
        let fits = btf.mem == MemKind::Kernel
            && btf.trust != Trust::Untrusted
            && (!ptr.maybe_null || arg.maybe_null());
        if !fits {
            return Err(self.btf_arg_mismatch(regno, reg, BTF_PTR_TYPES));
        }
        let Some(want) = proto.arg_btf[i] else {
            return Err(self.unsupported("ARG_PTR_TO_BTF_ID without a BTF id"));
        };
        self.btf_arg_matches(proto.id, regno, arg, &ptr, &btf, want)?;
        let fixed_ok = !ptr.maybe_null;
        self.btf_arg_off(regno, reg, arg, fixed_ok)
    }

    /// `ARG_PTR_TO_BTF_ID_SOCK_COMMON` given a BTF pointer: a plain or
    /// trusted one to (a struct starting with) `sock_common`.
    pub(super) fn btf_sock_common_arg(
        &self,
        func_id: u32,
        regno: u8,
        arg: ArgType,
        reg: &RegState,
    ) -> Result<(), Stop> {
        let expected = super::sock::BTF_ID_SOCK_COMMON_TYPES;
        self.btf_helpers_modelled()?;
        let RegState::PtrToBtfId { ptr, btf } = *reg else {
            return Err(self.btf_arg_mismatch(regno, reg, expected));
        };
        if btf.owner.local() {
            return Err(self.unsupported("allocated objects (program-BTF pointers) here"));
        }
        let fits = btf.mem == MemKind::Kernel
            && matches!(btf.trust, Trust::Plain | Trust::Trusted)
            && (!ptr.maybe_null || arg.maybe_null());
        if !fits {
            return Err(self.btf_arg_mismatch(regno, reg, expected));
        }
        let want = BtfRef::Named {
            kind: "struct",
            name: "sock_common",
        };
        self.btf_arg_matches(func_id, regno, arg, &ptr, &btf, want)?;
        self.btf_arg_off(regno, reg, arg, !ptr.maybe_null)
    }

    /// The type match of `check_reg_type` for an accepted BTF pointer.
    fn btf_arg_matches(
        &self,
        func_id: u32,
        regno: u8,
        arg: ArgType,
        ptr: &PtrFields,
        btf: &BtfPtr,
        want: BtfRef,
    ) -> Result<(), Stop> {
        let release = arg.flags.has(TypeFlag::ObjRelease);
        if ptr.maybe_null && (!arg.maybe_null() || release) {
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EACCES,
                format!("Possibly NULL pointer passed to helper arg{regno}"),
            ));
        }
        if want == BtfRef::FromContext {
            if func_id == KPTR_XCHG {
                return Err(self.unsupported("bpf_kptr_xchg's kptr field types"));
            }
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EACCES,
                format!("verifier internal error:R{regno} has non-overwritten BPF_PTR_POISON type"),
            ));
        }
        let (want_id, want_name) = self.proto_btf_type(want)?;
        let strict = release && func_id != SK_RELEASE;
        let kbtf = self.kernel_btf()?;
        if struct_ids_match(kbtf, btf.btf_id, ptr.off, want_id, strict) {
            return Ok(());
        }
        let have = kbtf
            .type_by_id(BtfTypeId(btf.btf_id))
            .ok()
            .and_then(|t| t.name().ok())
            .unwrap_or("");
        Err(self.reject(
            ErrorCode::HelperCall,
            Errno::EACCES,
            format!("R{regno} is of type {have} but {want_name} is expected"),
        ))
    }

    /// `check_func_arg_reg_off` for a BTF pointer: a released one must be
    /// unmoved; `fixed_ok` lets a flagless, trusted or RCU pointer that
    /// may not be NULL keep a fixed offset; none may have a variable one.
    fn btf_arg_off(
        &self,
        regno: u8,
        reg: &RegState,
        arg: ArgType,
        fixed_ok: bool,
    ) -> Result<(), Stop> {
        let RegState::PtrToBtfId { ptr, .. } = reg else {
            return Ok(());
        };
        let release = arg.flags.has(TypeFlag::ObjRelease);
        if release && ptr.off != 0 {
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EINVAL,
                format!(
                    "R{regno} must have zero offset when passed to release func or trusted arg to kfunc"
                ),
            ));
        }
        self.ptr_off_reg(regno, reg, ptr.off, &ptr.var, fixed_ok && !release)
    }

    /// `R0` of `RET_PTR_TO_BTF_ID` and `RET_PTR_TO_MEM_OR_BTF_ID`; `None`
    /// for other returns.
    pub(super) fn btf_helper_ret(
        &mut self,
        proto: &HelperProto,
        meta: &BtfArgMeta,
        ref_obj_id: u32,
    ) -> Result<Option<RegState>, Stop> {
        let ret = proto.ret;
        if matches!(ret.base, RetBase::PtrToBtfId | RetBase::PtrToMemOrBtfId) {
            self.btf_helpers_modelled()?;
        }
        let maybe_null = ret.flags.has(TypeFlag::PtrMaybeNull);
        let btf = match ret.base {
            RetBase::PtrToBtfId => {
                let known = [TypeFlag::PtrMaybeNull, TypeFlag::PtrTrusted];
                if ret.flags.iter().any(|f| !known.contains(&f)) {
                    return Err(self.unsupported(&format!("helper return type {ret}")));
                }
                let Some(r) = proto.ret_btf else {
                    return Err(self.unsupported("RET_PTR_TO_BTF_ID without a BTF id"));
                };
                if r == BtfRef::FromContext {
                    return Err(self.unsupported("bpf_kptr_xchg's kptr field types"));
                }
                let (btf_id, name) = self.proto_btf_type(r)?;
                let trust = if ret.flags.has(TypeFlag::PtrTrusted) {
                    Trust::Trusted
                } else {
                    Trust::Plain
                };
                BtfPtr {
                    btf_id,
                    name,
                    trust,
                    mem: MemKind::Kernel,
                    owner: crate::state::Owner::Kernel,
                }
            }
            RetBase::PtrToMemOrBtfId => {
                let known = [TypeFlag::PtrMaybeNull, TypeFlag::MemRdonly];
                if ret.flags.iter().any(|f| !known.contains(&f)) {
                    return Err(self.unsupported(&format!("helper return type {ret}")));
                }
                let Some(p) = meta.percpu else {
                    return Err(self.unsupported("RET_PTR_TO_MEM_OR_BTF_ID without its argument"));
                };
                // Per-CPU BTF pointers come from struct members here, so
                // the CPU's copy is a struct: `MEM_RDONLY` is dropped.
                let kbtf = self.kernel_btf()?;
                let is_struct = kbtf
                    .resolve(BtfTypeId(p.btf_id))
                    .is_ok_and(|t| matches!(t.kind(), BtfKind::Struct | BtfKind::Union));
                if !is_struct {
                    return Err(self.unsupported("per-CPU pointers to non-structs"));
                }
                BtfPtr {
                    trust: Trust::Plain,
                    mem: MemKind::Kernel,
                    owner: crate::state::Owner::Kernel,
                    ..p
                }
            }
            _ => return Ok(None),
        };
        let mut ptr = PtrFields::fresh(if maybe_null { self.new_id() } else { 0 }, maybe_null);
        if SKC_CASTS.contains(&proto.id) {
            ptr.ref_obj_id = ref_obj_id;
        }
        Ok(Some(RegState::PtrToBtfId { ptr, btf }))
    }
}
