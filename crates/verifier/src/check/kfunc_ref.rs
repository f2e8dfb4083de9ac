//! Kfunc references and BTF-typed kfunc pointers: the `KF_ACQUIRE` and
//! `KF_RELEASE` bookkeeping of `check_kfunc_args`/`check_kfunc_call`,
//! `KF_ARG_PTR_TO_BTF_ID` arguments (the trusted-argument rules, the
//! offset rules of `check_func_arg_reg_off`, and
//! `process_kf_arg_ptr_to_btf_id`'s type match), and the returns of
//! struct pointers and sized memory.
//!
//! The profile's 6.18 kfunc flags come from a source without
//! `KF_TRUSTED_ARGS` (plus the kfuncs proven to have it): where a kfunc
//! has neither `KF_RCU` nor `KF_RELEASE` nor a known `KF_TRUSTED_ARGS`
//! and the answer would depend on that flag (a pointer that is not
//! trusted), the call is `unsupported`.

use bpfcheck_btf::{BtfKind, BtfTypeId};
use bpfcheck_profile::kfuncs::KfuncFlags;
use bpfcheck_uapi::{Errno, ProgType};

use super::Checker;
use super::btf_match::{ids_match, is_projection_of, nocast_alias};
use super::sock::ref_obj_id;
use crate::error::{ErrorCode, Stop};
use crate::prepare::kfunc::{KfuncDesc, Pointee};
use crate::state::btf_ptr::TypeName;
use crate::state::{BtfPtr, MemKind, MemTag, PtrFields, RegState, Trust};

/// The references a kfunc call's arguments carry (`meta->ref_obj_id`,
/// `meta->release_regno`).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct KfuncRefs {
    /// The reference of the last referenced argument.
    pub(super) ref_obj_id: u32,
    /// The argument a `KF_RELEASE` kfunc releases.
    pub(super) release_regno: Option<u8>,
}

/// `is_trusted_reg`: a referenced register, a socket or map of
/// `reg2btf_ids`, or a trusted kernel BTF pointer, never maybe-NULL.
pub(super) fn is_trusted(reg: &RegState) -> bool {
    if ref_obj_id(reg) != 0 {
        return true;
    }
    match reg {
        RegState::PtrToSocket(p) | RegState::PtrToSockCommon(p) | RegState::PtrToTcpSock(p) => {
            !p.maybe_null
        }
        RegState::ConstPtrToMap { .. } => true,
        RegState::PtrToBtfId { ptr, btf } => {
            // `MEM_ALLOC`, `NON_OWN_REF` and `PTR_TRUSTED` are the trusted
            // modifiers; any other flag is unsafe.
            let flag =
                btf.trust == Trust::Trusted || (btf.owner.local() && btf.trust == Trust::Plain);
            !ptr.maybe_null && flag && btf.mem == MemKind::Kernel
        }
        _ => false,
    }
}

/// `is_rcu_reg`.
fn is_rcu(reg: &RegState) -> bool {
    matches!(reg, RegState::PtrToBtfId { btf, .. } if btf.trust == Trust::Rcu)
}

/// The struct a `reg2btf_ids` register type stands for.
fn reg2btf_name(reg: &RegState) -> Option<&'static str> {
    match reg {
        RegState::PtrToSocket(_) => Some("sock"),
        RegState::PtrToSockCommon(_) => Some("sock_common"),
        RegState::PtrToTcpSock(_) => Some("tcp_sock"),
        RegState::ConstPtrToMap { .. } => Some("bpf_map"),
        _ => None,
    }
}

/// `btf_type_str` of a kind.
fn kind_str(kind: BtfKind) -> &'static str {
    match kind {
        BtfKind::Void => "UNKNOWN",
        k => k.name(),
    }
}

impl Checker<'_> {
    /// The reference bookkeeping of `check_kfunc_args` for a pointer
    /// argument, after its NULL check.
    pub(super) fn kfunc_arg_ref(
        &self,
        name: &str,
        flags: KfuncFlags,
        regno: u8,
        reg: &RegState,
        refs: &mut KfuncRefs,
    ) -> Result<(), Stop> {
        let id = ref_obj_id(reg);
        if id == 0 {
            return Ok(());
        }
        self.kfunc_v7_rules(name)?;
        let release = flags.has(KfuncFlags::RELEASE);
        if release && refs.ref_obj_id != 0 {
            return Err(self.unsupported(&format!(
                "kfunc {name}: two referenced arguments to a release kfunc"
            )));
        }
        refs.ref_obj_id = id;
        if release {
            refs.release_regno = Some(regno);
        }
        Ok(())
    }

    /// `KF_ARG_PTR_TO_BTF_ID`: argument `i` (in `regno`) of a kfunc
    /// taking a pointer to `pt`, given a BTF-typed register.
    pub(super) fn kfunc_btf_arg(
        &mut self,
        desc: &KfuncDesc,
        flags: KfuncFlags,
        i: usize,
        regno: u8,
        reg: &RegState,
        pt: &Pointee,
    ) -> Result<(), Stop> {
        let name = desc.name.as_str();
        self.kfunc_v7_rules(name)?;
        if matches!(reg, RegState::PtrToXdpSock(_)) {
            return Err(self.unsupported(&format!("kfunc {name}: XDP socket arguments")));
        }
        if matches!(reg, RegState::PtrToBtfId { btf, .. } if btf.owner.local()) {
            return Err(self.unsupported(&format!(
                "kfunc {name}: allocated objects as BTF-typed arguments"
            )));
        }
        if !pt.composite {
            return Err(self.kfunc_reject_ref(
                Errno::EINVAL,
                format!(
                    "kernel function {name} args#{i} pointer type {} {} is not supported",
                    pt.kind, pt.name
                ),
            ));
        }
        let release = flags.has(KfuncFlags::RELEASE);
        let trusted_args = flags.has(KfuncFlags::TRUSTED_ARGS) || release;
        let rcu = flags.has(KfuncFlags::RCU);
        if trusted_args || rcu {
            if !is_trusted(reg) {
                if !rcu {
                    return Err(self.kfunc_reject_ref(
                        Errno::EINVAL,
                        format!("R{regno} must be referenced or trusted"),
                    ));
                }
                if !is_rcu(reg) {
                    return Err(self.kfunc_reject_ref(
                        Errno::EINVAL,
                        format!("R{regno} must be a rcu pointer"),
                    ));
                }
            }
        } else if !is_trusted(reg) && !self.trusted_args_known(name) {
            return Err(self.unsupported(&format!("kfunc {name}: whether it has KF_TRUSTED_ARGS")));
        }
        self.kfunc_arg_reg_off(regno, reg, release && ref_obj_id(reg) != 0)?;
        // Only the base type is checked so far.
        if let RegState::PtrToBtfId { ptr, btf } = reg {
            let unsafe_flags =
                ptr.maybe_null || btf.mem != MemKind::Kernel || btf.trust == Trust::Untrusted;
            if unsafe_flags && btf.trust != Trust::Rcu {
                let expected = if btf.trust == Trust::Trusted {
                    "trusted_ptr_"
                } else {
                    "ptr_"
                };
                return Err(self.kfunc_reject_ref(
                    Errno::EINVAL,
                    format!(
                        "arg#{i} is {} expected {expected} or socket",
                        reg.type_str()
                    ),
                ));
            }
        }
        self.kfunc_btf_type_match(desc, flags, i, reg, pt)
    }

    /// `process_kf_arg_ptr_to_btf_id`: the register's struct must be the
    /// argument's, or (not for a release or `___init` alias) have it
    /// first, or be the kernel struct behind a context projection.
    fn kfunc_btf_type_match(
        &mut self,
        desc: &KfuncDesc,
        flags: KfuncFlags,
        i: usize,
        reg: &RegState,
        pt: &Pointee,
    ) -> Result<(), Stop> {
        let name = desc.name.as_str();
        let btf = self.kernel_btf()?;
        let (have, off) = match reg {
            RegState::PtrToBtfId { ptr, btf: bp } => (bp.btf_id, ptr.off),
            _ => {
                let Some(sname) = reg2btf_name(reg) else {
                    return Err(self.unsupported(&format!(
                        "kfunc {name}: BTF-typed arguments of this register type"
                    )));
                };
                let Some(t) = btf.find_by_name_kind(sname, BtfKind::Struct) else {
                    return Err(self.unsupported(&format!("kfunc {name}: struct {sname}")));
                };
                (t.id().0, 0)
            }
        };
        let Ok(have_t) = btf.type_by_id(BtfTypeId(have)) else {
            return Err(self.unsupported(&format!("kfunc {name}: BTF-typed arguments")));
        };
        let have_name = have_t.name().unwrap_or("");
        let strict = (flags.has(KfuncFlags::RELEASE) && ref_obj_id(reg) != 0)
            || nocast_alias(have_name, &pt.name);
        let Some(same) = ids_match(btf, have, off, pt.id.0, strict) else {
            return Err(
                self.unsupported(&format!("kfunc {name}: BTF struct walks the kernel logs"))
            );
        };
        if same || is_projection_of(&pt.name, have_name) {
            return Ok(());
        }
        Err(self.kfunc_reject_ref(
            Errno::EINVAL,
            format!(
                "kernel function {name} args#{i} expected pointer to {} {} but R{} has a pointer to {} {have_name}",
                pt.kind,
                pt.name,
                i + 1,
                kind_str(have_t.kind()),
            ),
        ))
    }

    /// `check_func_arg_reg_off` for a kfunc's BTF-typed argument:
    /// a released pointer must be unmoved, other plain, trusted or RCU
    /// BTF pointers may have a fixed offset, none a variable one.
    pub(super) fn kfunc_arg_reg_off(
        &self,
        regno: u8,
        reg: &RegState,
        release: bool,
    ) -> Result<(), Stop> {
        let ptr: PtrFields = match reg {
            RegState::PtrToBtfId { ptr, .. }
            | RegState::PtrToSocket(ptr)
            | RegState::PtrToSockCommon(ptr)
            | RegState::PtrToTcpSock(ptr) => *ptr,
            _ => return Ok(()),
        };
        if release && ptr.off != 0 {
            return Err(self.kfunc_reject_ref(
                Errno::EINVAL,
                format!(
                    "R{regno} must have zero offset when passed to release func or trusted arg to kfunc"
                ),
            ));
        }
        let fixed_off_ok = !release
            && matches!(reg, RegState::PtrToBtfId { ptr, btf }
                if !ptr.maybe_null && btf.mem == MemKind::Kernel && btf.trust != Trust::Untrusted);
        self.ptr_off_reg(regno, reg, ptr.off, &ptr.var, fixed_off_ok)
    }

    /// The release of `check_kfunc_call`, once the arguments are checked.
    pub(super) fn kfunc_release(&mut self, desc: &KfuncDesc, refs: &KfuncRefs) -> Result<(), Stop> {
        let Some(regno) = refs.release_regno else {
            return Ok(());
        };
        let id = ref_obj_id(self.cur.cur().reg(regno));
        if self.release_reference(id) {
            return Ok(());
        }
        Err(self.kfunc_reject_ref(
            Errno::EINVAL,
            format!(
                "kfunc {}#{} reference has not been acquired before",
                desc.name, desc.btf_id
            ),
        ))
    }

    /// `R0` of a kfunc returning a pointer to the struct `p`: a plain BTF
    /// pointer, maybe NULL with a fresh id, holding a new reference for
    /// `KF_ACQUIRE`.
    pub(super) fn kfunc_struct_ret(
        &mut self,
        desc: &KfuncDesc,
        flags: KfuncFlags,
        p: &Pointee,
    ) -> Result<RegState, Stop> {
        let name = desc.name.as_str();
        self.kfunc_v7_rules(name)?;
        if p.kind != "STRUCT" {
            return Err(self.unsupported(&format!("kfunc {name}: returned unions")));
        }
        let Some(tname) = TypeName::new(&p.name) else {
            return Err(self.unsupported("BTF type names longer than 63 bytes"));
        };
        let mut ptr = PtrFields::fresh(0, false);
        self.kfunc_ret_ids(flags, &mut ptr);
        Ok(RegState::PtrToBtfId {
            ptr,
            btf: BtfPtr {
                btf_id: p.id.0,
                name: tname,
                trust: Trust::Plain,
                mem: MemKind::Kernel,
                owner: crate::state::Owner::Kernel,
            },
        })
    }

    /// `R0` of a kfunc returning a pointer to anything but a struct:
    /// read-only memory of the pointee's size, tied to the arguments'
    /// reference.
    pub(super) fn kfunc_mem_ret(
        &mut self,
        desc: &KfuncDesc,
        flags: KfuncFlags,
        p: &Pointee,
        refs: &KfuncRefs,
    ) -> Result<RegState, Stop> {
        let name = desc.name.as_str();
        self.kfunc_v7_rules(name)?;
        let size = p.size.unwrap_or(0);
        if size == 0 {
            return Err(self.kfunc_reject_ref(
                Errno::EINVAL,
                format!(
                    "kernel function {name} returns pointer type {} {} is not supported",
                    p.kind, p.name
                ),
            ));
        }
        let mut ptr = PtrFields {
            ref_obj_id: refs.ref_obj_id,
            ..PtrFields::fresh(0, false)
        };
        self.kfunc_ret_ids(flags, &mut ptr);
        Ok(RegState::PtrToMem {
            ptr,
            size,
            tag: MemTag {
                rdonly: true,
                ..MemTag::default()
            },
        })
    }

    /// `KF_RET_NULL` and `KF_ACQUIRE` on a returned pointer: the nullness
    /// id is drawn first, then the reference's, which replaces it.
    pub(super) fn kfunc_ret_ids(&mut self, flags: KfuncFlags, ptr: &mut PtrFields) {
        let ret_null = flags.has(KfuncFlags::RET_NULL);
        if ret_null {
            ptr.maybe_null = true;
            ptr.id = self.new_id();
        }
        if flags.has(KfuncFlags::ACQUIRE) {
            let id = self.new_id();
            self.cur.refs.acquire(id, self.insn_idx);
            if ret_null {
                ptr.id = id;
            }
            ptr.ref_obj_id = id;
        }
    }

    /// 7.x's default-trusted kfunc rules, not modelled: the parts of a
    /// call this module judges are `unsupported` there.
    pub(super) fn kfunc_v7_rules(&self, name: &str) -> Result<(), Stop> {
        if self.profile.features.kfunc_trusted_by_default {
            return Err(self.unsupported(&format!(
                "kfunc {name}: references and BTF-typed pointers under 7.x's default-trusted kfunc rules"
            )));
        }
        Ok(())
    }

    fn kfunc_reject_ref(&self, errno: Errno, msg: String) -> Stop {
        self.reject(ErrorCode::KfuncCall, errno, msg)
    }
}

impl<'a> Checker<'a> {
    /// `R0` of the cast kfuncs, decided once their arguments are checked
    /// (before the argument registers are cleared): `bpf_cast_to_kern_ctx`
    /// gives a trusted pointer to the kernel struct behind the program's
    /// context (`get_kern_ctx_btf_id`), `bpf_rdonly_cast` an untrusted
    /// pointer to the struct its constant names.
    pub(super) fn kfunc_cast_ret(&mut self, name: &str) -> Result<Option<RegState>, Stop> {
        if matches!(name, "bpf_cast_to_kern_ctx" | "bpf_rdonly_cast") {
            self.kfunc_v7_rules(name)?;
        }
        let (btf_id, trust) = match name {
            "bpf_cast_to_kern_ctx" => (self.kern_ctx_btf_id()?, Trust::Trusted),
            "bpf_rdonly_cast" => {
                let r2 = *self.cur.cur().reg(2);
                let Some(id) = (match r2 {
                    RegState::Scalar(s) => s.value.const_value(),
                    _ => None,
                }) else {
                    return Err(self.unsupported("kfunc bpf_rdonly_cast: its type id"));
                };
                let btf = self.kernel_btf()?;
                let is_struct = u32::try_from(id)
                    .ok()
                    .and_then(|id| btf.type_by_id(BtfTypeId(id)).ok())
                    .is_some_and(|t| matches!(t.kind(), BtfKind::Struct | BtfKind::Union));
                if !is_struct {
                    // 6.18 also casts to `void *` (untrusted memory).
                    return Err(
                        self.unsupported("kfunc bpf_rdonly_cast: a type id that is not a struct")
                    );
                }
                (u32::try_from(id).unwrap_or(0), Trust::Untrusted)
            }
            _ => return Ok(None),
        };
        let btf = self.kernel_btf()?;
        let tname = self.btf_type_name(btf, btf_id)?;
        Ok(Some(RegState::PtrToBtfId {
            ptr: PtrFields::fresh(0, false),
            btf: BtfPtr {
                btf_id,
                name: tname,
                trust,
                mem: MemKind::Kernel,
                owner: crate::state::Owner::Kernel,
            },
        }))
    }

    /// `get_kern_ctx_btf_id`: the `_kern` member of `struct
    /// bpf_ctx_convert` for the program type, which must be a struct.
    fn kern_ctx_btf_id(&self) -> Result<u32, Stop> {
        let Some(pname) = self
            .prog_type
            .name()
            .filter(|_| self.prog_type != ProgType::EXT)
        else {
            return Err(self.unsupported("kfunc bpf_cast_to_kern_ctx: this program type"));
        };
        let btf = self.kernel_btf()?;
        let member = format!("BPF_PROG_TYPE_{}_kern", pname.to_ascii_uppercase());
        let found = btf
            .find_by_name_kind("bpf_ctx_convert", BtfKind::Struct)
            .and_then(|conv| match conv {
                bpfcheck_btf::Type::Struct(c) => c
                    .members()
                    .find(|m| m.name() == Ok(member.as_str()))
                    .map(|m| m.ty),
                _ => None,
            });
        let Some(ty) = found else {
            return Err(self.unsupported("kfunc bpf_cast_to_kern_ctx: this program type"));
        };
        let is_struct = btf
            .type_by_id(ty)
            .is_ok_and(|t| matches!(t.kind(), BtfKind::Struct | BtfKind::Union));
        if !is_struct {
            return Err(self.kfunc_reject_ref(
                Errno::EINVAL,
                format!("kern ctx type id {} is not a struct", ty.0),
            ));
        }
        Ok(ty.0)
    }
}
