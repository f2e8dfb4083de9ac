//! BTF-typed pointers (`PTR_TO_BTF_ID`): where they come from and what a
//! load through one gives.
//!
//! - `btf_ctx_access` for `tp_btf` programs: the context is the
//!   tracepoint's arguments, one `u64` slot each; a slot holding a pointer
//!   to a struct loads a trusted BTF pointer (logged as the kernel logs it),
//!   other slots load numbers.
//! - `check_ptr_to_btf_access`: a load walks the struct's BTF
//!   ([`super::btf_walk`]); a pointer member gives a BTF pointer whose trust
//!   follows 6.x's rules: untrusted stays untrusted; from a trusted or RCU
//!   pointer, the fields the kernel's `__safe_trusted`/`__safe_rcu` lists
//!   (in its BTF) name keep trust, `__rcu` fields are RCU pointers that may
//!   be NULL, others lose their flags.

use bpfcheck_btf::{Btf, BtfTypeId, Type};
use bpfcheck_uapi::{AttachType, Errno, ProgType};

use super::Checker;
use super::btf_walk::{Tag, Walked, listed, struct_access};
use super::retval::RetvalRange;
use crate::error::{ErrorCode, Stop};
use crate::prepare::attach::Target;
use crate::state::btf_ptr::TypeName;
use crate::state::{BtfPtr, MemKind, PtrFields, RegState, Trust};
use bpfcheck_profile::attach::IterArg;

/// `MAX_BPF_FUNC_ARGS` slots of 8 bytes.
const CTX_ARGS_SIZE: i32 = 12 * 8;

/// Tracepoints whose arguments the kernel marks `PTR_MAYBE_NULL` or as
/// possible error pointers (`raw_tp_null_args`, 6.12's list); the list
/// changes between kernels, so programs attached to these are not judged.
const RAW_TP_NULL_ARGS: &[&str] = &[
    "sched_pi_setprio",
    "sched_process_wait",
    "sched_stick_numa",
    "sched_swap_numa",
    "afs_make_fs_call",
    "afs_make_fs_calli",
    "afs_make_fs_call1",
    "afs_make_fs_call2",
    "afs_protocol_error",
    "afs_flock_ev",
    "cachefiles_lookup",
    "cachefiles_unlink",
    "cachefiles_rename",
    "cachefiles_prep_read",
    "cachefiles_mark_active",
    "cachefiles_mark_failed",
    "cachefiles_mark_inactive",
    "cachefiles_vfs_error",
    "cachefiles_io_error",
    "cachefiles_ondemand_open",
    "cachefiles_ondemand_copen",
    "cachefiles_ondemand_close",
    "cachefiles_ondemand_read",
    "cachefiles_ondemand_cread",
    "cachefiles_ondemand_fd_write",
    "cachefiles_ondemand_fd_release",
    "ext4_mballoc_discard",
    "ext4_mballoc_free",
    "fib_table_lookup",
    "posix_lock_inode",
    "fcntl_setlk",
    "locks_remove_posix",
    "flock_lock_inode",
    "break_lease_noblock",
    "break_lease_block",
    "break_lease_unblock",
    "generic_delete_lease",
    "time_out_leases",
    "host1x_cdma_push_gather",
    "mm_khugepaged_scan_pmd",
    "mm_collapse_huge_page_isolate",
    "mm_khugepaged_scan_file",
    "mm_khugepaged_collapse_file",
    "mm_page_alloc",
    "mm_page_pcpu_drain",
    "mm_page_alloc_zone_locked",
    "netfs_failure",
    "device_pm_callback_start",
    "qdisc_dequeue",
    "rxrpc_recvdata",
    "rxrpc_resend",
    "signal_generate",
    "signal_deliver",
    "xs_stream_read_data",
    "xprt_reserve_cong",
    "xprt_release_cong",
    "xprt_get_cong",
    "xprt_put_cong",
    "tcp_send_reset",
    "tegra_dma_tx_status",
    "tmigr_update_events",
    "writeback_dirty_folio",
    "folio_wait_writeback",
    "mr_integ_alloc",
    "bpf_testmod_test_read",
];

/// `btf_type_str`.
fn kind_str(t: &Type<'_>) -> &'static str {
    match t.kind() {
        bpfcheck_btf::BtfKind::Void => "UNKNOWN",
        k => k.name(),
    }
}

/// What a context slot of a BTF-typed context holds.
enum Slot {
    Scalar,
    /// An LSM hook's return value, within its range (`is_retval`).
    Retval(RetvalRange),
    Ptr(BtfPtr),
    /// A field an iterator target types as `PTR_TO_BTF_ID_OR_NULL`.
    PtrOrNull(BtfPtr),
}

impl<'a> Checker<'a> {
    /// The kernel's BTF, borrowed from the profile (not from `self`).
    pub(super) fn kernel_btf(&self) -> Result<&'a Btf<'static>, Stop> {
        let profile: &'a bpfcheck_profile::KernelProfile = self.profile;
        profile
            .btf
            .as_ref()
            .and_then(|b| b.btf().ok())
            .ok_or_else(|| self.unsupported("BTF pointers without the kernel's BTF"))
    }

    /// The name of kernel type `btf_id` as a register holds it.
    pub(super) fn btf_type_name(&self, btf: &Btf<'_>, btf_id: u32) -> Result<TypeName, Stop> {
        let name = btf
            .type_by_id(BtfTypeId(btf_id))
            .ok()
            .and_then(|t| t.name().ok())
            .unwrap_or("");
        TypeName::new(name).ok_or_else(|| self.unsupported("BTF type names longer than 63 bytes"))
    }

    fn invalid_ctx(&mut self, off: i32, size: i32) -> Stop {
        if !self.log.level1() && self.log.has_source_lines() {
            self.log.mark_inexact();
        }
        self.reject(
            ErrorCode::InvalidMemAccess,
            Errno::EACCES,
            format!("invalid bpf_context access off={off} size={size}"),
        )
    }

    /// `tracing_prog_is_valid_access` for a `tp_btf` program, and the
    /// register a load gives.
    pub(super) fn tracing_ctx_access(
        &mut self,
        off: i32,
        size: i32,
        write: bool,
        ldsx: bool,
    ) -> Result<RegState, Stop> {
        let Some(target) = crate::prepare::attach::target(self.req, self.profile) else {
            return Err(self.unsupported("context access of this tracing program"));
        };
        let lsm = self.prog_type == ProgType::LSM;
        if !crate::prepare::attach::walks_tracing(self.req, self.profile) {
            return Err(self.unsupported("context access of this tracing program"));
        }
        if lsm {
            // `btf_ctx_access` alone: no read-only or bounds rule first.
            if write {
                return Err(self.unsupported("writes to an LSM program's context"));
            }
        } else if !(0..CTX_ARGS_SIZE).contains(&off) || write || off % size != 0 {
            // `bpf_tracing_ctx_access`, silent.
            return Err(self.invalid_ctx(off, size));
        }
        if ldsx {
            return Err(self.unsupported("sign-extending loads from a BTF tracing context"));
        }
        match self.btf_ctx_slot(&target, off, size)? {
            Ok(Slot::Scalar) => Ok(RegState::unknown()),
            Ok(Slot::Retval(r)) => {
                // `__mark_reg_s32_range` on an unknown scalar.
                let mut v = crate::domain::Scalar::unknown();
                v.s32_min = r.min;
                v.s32_max = r.max;
                v.smin = r.min.into();
                v.smax = r.max.into();
                v.sync(self.era);
                Ok(RegState::Scalar(crate::state::ScalarReg::new(v)))
            }
            Ok(Slot::Ptr(btf)) => Ok(RegState::PtrToBtfId {
                ptr: PtrFields::fresh(0, false),
                btf,
            }),
            Ok(Slot::PtrOrNull(btf)) => Ok(RegState::PtrToBtfId {
                ptr: PtrFields::fresh(self.new_id(), true),
                btf,
            }),
            Err(msg) => {
                self.log.line(&msg);
                Err(self.invalid_ctx(off, size))
            }
        }
    }

    /// `btf_ctx_access` for a traced function's or raw tracepoint's
    /// prototype: the slot, or the line the kernel logs before refusing.
    /// Argument slots are counted over the whole prototype, a
    /// tracepoint's leading `void *__data` included, and the return value
    /// takes the slot after the last argument (readable by `fexit`).
    fn btf_ctx_slot(
        &mut self,
        target: &Target,
        off: i32,
        size: i32,
    ) -> Result<Result<Slot, String>, Stop> {
        let btf = self.kernel_btf()?;
        let tname = &target.name;
        if off % 8 != 0 {
            return Ok(Err(format!(
                "func '{tname}' offset {off} is not multiple of 8"
            )));
        }
        let Ok(Type::FuncProto(proto)) = btf.type_by_id(target.proto) else {
            return Err(self.unsupported("a tracepoint without a prototype"));
        };
        // `get_ctx_arg_idx` counts slots over the whole prototype, the
        // tracepoint's `void *__data` included.
        let slot_size = |id: BtfTypeId| match btf.resolve(id) {
            Ok(Type::Ptr(_)) => Some(8),
            Ok(t) => Some(t.raw().size_or_type().next_multiple_of(8)),
            Err(_) => None,
        };
        let params: Vec<_> = proto.params().collect();
        let mut end = 0u32;
        let mut arg = params.len() + 1;
        let off_u = u32::try_from(off).unwrap_or(0);
        for (i, p) in params.iter().enumerate() {
            end += slot_size(p.ty).ok_or_else(|| self.unsupported("tracepoint argument types"))?;
            if off_u < end {
                arg = i;
                break;
            }
        }
        if arg > params.len() {
            end += slot_size(proto.return_type())
                .ok_or_else(|| self.unsupported("tracepoint argument types"))?;
            if off_u < end {
                arg = params.len();
            }
        }
        let skip = usize::from(target.btf_trace);
        let nr_args = params.len().saturating_sub(skip);
        let attach = self.req.expected_attach_type;
        let ty = if arg < nr_args {
            params[arg + skip].ty
        } else if arg == nr_args
            && matches!(
                attach,
                AttachType::TRACE_FEXIT
                    | AttachType::LSM_MAC
                    | AttachType::LSM_CGROUP
                    | AttachType::MODIFY_RETURN
            )
        {
            let ret = proto.return_type();
            if attach == AttachType::MODIFY_RETURN {
                let small_int = btf
                    .resolve(ret)
                    .is_ok_and(|t| matches!(t, Type::Int(_)) && t.raw().size_or_type() <= 8);
                if !small_int {
                    return Err(self.unsupported("fmod_ret on a function not returning an integer"));
                }
            }
            if attach == AttachType::LSM_MAC
                && let Some(r) = super::retval::lsm_range(self.req, self.profile, target)?
                && btf.resolve(ret).is_ok_and(|t| matches!(t, Type::Int(_)))
            {
                return Ok(Ok(Slot::Retval(r)));
            }
            ret
        } else {
            return Ok(Err(format!(
                "func '{tname}' doesn't have {}-th argument",
                arg + 1
            )));
        };
        let Ok(t) = btf.resolve(ty) else {
            return Err(self.unsupported("tracepoint argument types"));
        };
        let small_int = matches!(t, Type::Int(_)) && t.raw().size_or_type() <= 8;
        let composite = matches!(t, Type::Struct(_) | Type::Union(_));
        if small_int || composite || matches!(t, Type::Enum(_) | Type::Enum64(_)) {
            return Ok(Ok(Slot::Scalar));
        }
        let Type::Ptr(p) = t else {
            return Ok(Err(format!(
                "func '{tname}' arg{arg} '{}' has type {}. Only pointer access is allowed",
                t.name().unwrap_or(""),
                kind_str(&t)
            )));
        };
        if size != 8 {
            return Ok(Err(format!("func '{tname}' size {size} must be 8")));
        }
        if let Some(slot) = self.iter_ctx_arg(target, off, p.target())? {
            return Ok(Ok(slot));
        }
        if p.target().is_void()
            || btf
                .resolve(p.target())
                .is_ok_and(|t| matches!(t, Type::Int(_)))
        {
            return Ok(Ok(Slot::Scalar));
        }
        if target.btf_trace && RAW_TP_NULL_ARGS.contains(&tname.as_str()) {
            return Err(self.unsupported("tracepoints with nullable arguments (raw_tp_null_args)"));
        }
        let mut mem = MemKind::Kernel;
        if let Ok(tag) = btf.type_by_id(p.target())
            && tag.kind() == bpfcheck_btf::BtfKind::TypeTag
        {
            match tag.name().unwrap_or("") {
                "user" => mem = MemKind::User,
                "percpu" => mem = MemKind::Percpu,
                _ => {}
            }
        }
        let Ok(st) = btf.resolve(p.target()) else {
            return Err(self.unsupported("tracepoint argument types"));
        };
        if !matches!(st, Type::Struct(_) | Type::Union(_)) {
            return Ok(Err(format!(
                "func '{tname}' arg{arg} type {} is not a struct",
                kind_str(&st)
            )));
        }
        let name = st.name().unwrap_or("");
        self.log.line(&format!(
            "func '{tname}' arg{arg} has btf_id {} type {} '{name}'",
            st.id().0,
            kind_str(&st)
        ));
        let Some(name) = TypeName::new(name) else {
            return Err(self.unsupported("BTF type names longer than 63 bytes"));
        };
        // `prog_args_trusted`: a tracepoint's, an iterator's and most LSM
        // hooks' arguments are trusted, a traced function's are not.
        let trusted = target.btf_trace
            || attach == AttachType::TRACE_ITER
            || (self.prog_type == ProgType::LSM
                && !crate::prepare::lsm::hook(self.profile, target)?.is_some_and(|h| h.untrusted));
        let plain = !trusted || self.profile.features.walk_v6_1.btf_tracing_args_plain;
        let nullable = !self.profile.features.walk_v6_1.btf_tracing_args_plain
            && params
                .get(arg + skip)
                .is_some_and(|p| p.name().is_ok_and(|n| n.ends_with("__nullable")));
        if nullable {
            return Err(self.unsupported("__nullable parameters of a BTF tracing target"));
        }
        Ok(Ok(Slot::Ptr(BtfPtr {
            btf_id: st.id().0,
            name,
            trust: if plain { Trust::Plain } else { Trust::Trusted },
            mem,
            owner: crate::state::Owner::Kernel,
        })))
    }

    /// The offset of an access at `insn_off` through the BTF pointer `ptr`
    /// to `struct tname` in `regno`: fixed and non-negative
    /// (`check_ptr_to_btf_access`'s first checks).
    pub(super) fn btf_access_offset(
        &self,
        regno: u8,
        ptr: &PtrFields,
        tname: &str,
        insn_off: i16,
    ) -> Result<i32, Stop> {
        let off = ptr.off + i32::from(insn_off);
        let acc = |msg: String| self.reject(ErrorCode::InvalidMemAccess, Errno::EACCES, msg);
        if off < 0 {
            return Err(acc(format!(
                "R{regno} is ptr_{tname} invalid negative access: off={off}"
            )));
        }
        if !ptr.var.var_off.equals_const(0) {
            return Err(acc(format!(
                "R{regno} is ptr_{tname} invalid variable offset: off={off}, var_off={}",
                ptr.var.var_off
            )));
        }
        Ok(off)
    }

    /// `check_ptr_to_btf_access` for a load of `size` bytes at `insn_off`
    /// through the BTF pointer `base` in `regno`.
    pub(super) fn btf_ptr_load(
        &mut self,
        regno: u8,
        base: &RegState,
        insn_off: i16,
        size: i32,
    ) -> Result<RegState, Stop> {
        let RegState::PtrToBtfId { ptr, btf: bp } = *base else {
            return Err(self.unsupported("memory access through this pointer type"));
        };
        if bp.owner.local() {
            return self
                .alloc_access(regno, base, insn_off, size, false)
                .map(Option::unwrap_or_default);
        }
        if ptr.maybe_null {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!("R{regno} invalid mem access '{}'", base.type_str()),
            ));
        }
        if self.strict_alignment {
            return Err(self.unsupported("strict alignment of BTF pointer accesses"));
        }
        let tname = bp.name;
        if !super::gpl_compatible(&self.req.license)
            && !self.profile.features.walk_v6_1.btf_access_any_license
        {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EINVAL,
                format!("Cannot access kernel 'struct {tname}' from non-GPL compatible program"),
            ));
        }
        let off = self.btf_access_offset(regno, &ptr, tname.as_str(), insn_off)?;
        let acc = |s: &Self, msg: String| s.reject(ErrorCode::InvalidMemAccess, Errno::EACCES, msg);
        match bp.mem {
            MemKind::User => {
                return Err(acc(
                    self,
                    format!("R{regno} is ptr_{tname} access user memory: off={off}"),
                ));
            }
            MemKind::Percpu => {
                return Err(acc(
                    self,
                    format!("R{regno} is ptr_{tname} access percpu memory: off={off}"),
                ));
            }
            MemKind::Kernel => {}
        }
        let btf = self.kernel_btf()?;
        let v617 = self.profile.features.btf_walk_untrusted;
        let walked = match struct_access(btf, bp.btf_id, off, size, v617) {
            Ok(w) => w,
            Err(e) if e.msg.is_empty() => {
                return Err(self.unsupported("BTF struct walks the kernel refuses silently"));
            }
            Err(e) => return Err(self.reject(ErrorCode::InvalidMemAccess, e.errno, e.msg)),
        };
        let (btf_id, field, tag, via_union) = match walked {
            Walked::Scalar => return Ok(RegState::unknown()),
            Walked::UntrustedMem => {
                return Err(self.unsupported("untrusted memory pointers (rdonly_untrusted_mem)"));
            }
            Walked::Ptr {
                btf_id,
                field,
                tag,
                via_union,
            } => (btf_id, field, tag, via_union),
        };
        let name = self.btf_type_name(btf, btf_id)?;
        let mut out = BtfPtr {
            btf_id,
            name,
            trust: Trust::Plain,
            mem: MemKind::Kernel,
            owner: crate::state::Owner::Kernel,
        };
        match tag {
            Some(Tag::User) => out.mem = MemKind::User,
            Some(Tag::Percpu) => out.mem = MemKind::Percpu,
            _ => {}
        }
        let rcu_tag = tag == Some(Tag::Rcu);
        let mut maybe_null = false;
        let trusted_parent =
            (bp.trust == Trust::Trusted || ptr.ref_obj_id != 0) && bp.mem == MemKind::Kernel;
        if bp.trust == Trust::Untrusted {
            out.trust = Trust::Untrusted;
            out.mem = MemKind::Kernel;
        } else if v617 && !trusted_parent && bp.trust == Trust::Plain {
            return Err(self.unsupported("loads through flagless BTF pointers on 6.17+"));
        } else if trusted_parent || bp.trust == Trust::Rcu {
            let is = |suffix: &str| listed(btf, bp.btf_id, &field, btf_id, suffix);
            if is("__safe_trusted") {
                out.trust = Trust::Trusted;
            } else if is("__safe_trusted_or_null") {
                out.trust = Trust::Trusted;
                maybe_null = true;
            } else if self.in_rcu_cs() {
                if is("__safe_rcu") {
                    out.trust = Trust::Rcu;
                } else if rcu_tag || is("__safe_rcu_or_null") {
                    out.trust = Trust::Rcu;
                    maybe_null = true;
                } else if out.mem != MemKind::Kernel {
                    // `__user` and `__percpu` pointers keep their flag.
                } else if v617 {
                    out.trust = Trust::Untrusted;
                } else {
                    out.trust = Trust::Plain;
                }
            } else {
                out.trust = Trust::Untrusted;
                out.mem = MemKind::Kernel;
            }
        }
        if via_union {
            // The union's `PTR_UNTRUSTED` survives `clear_trusted_flags`;
            // with a trust flag added it makes a type not modelled.
            match out.trust {
                Trust::Plain | Trust::Untrusted => out.trust = Trust::Untrusted,
                Trust::Trusted | Trust::Rcu => {
                    return Err(self.unsupported("trusted BTF pointers walked through a union"));
                }
            }
        }
        let id = if maybe_null { self.new_id() } else { 0 };
        Ok(RegState::PtrToBtfId {
            ptr: PtrFields::fresh(id, maybe_null),
            btf: out,
        })
    }

    /// `check_reg_type` of a BTF pointer for a helper's memory argument
    /// (`mem_types`): only a trusted kernel pointer is memory, and only
    /// for a read-only argument.
    pub(super) fn btf_mem_arg_type(
        &self,
        helper: u32,
        regno: u8,
        reg: &RegState,
        arg: bpfcheck_profile::helpers::ArgType,
    ) -> Result<(), Stop> {
        use bpfcheck_profile::helpers::TypeFlag;
        let RegState::PtrToBtfId { ptr, btf } = reg else {
            return Err(self.unsupported("helper memory arguments of this pointer type"));
        };
        if self.profile.features.walk_v6_1.helper_arg_types {
            // 6.1 takes no BTF pointer as helper memory (`trusted_ptr_` is
            // not in its lists, and it prints the type its own way).
            return Err(self
                .unsupported("helper argument types of kernel 6.1 (walk_v6_1.helper_arg_types)"));
        }
        let trusted = btf.trust == Trust::Trusted && btf.mem == MemKind::Kernel;
        if !trusted || (ptr.maybe_null && !arg.maybe_null()) {
            if self.profile.features.walk_v7.ctx_as_memory {
                // 7.x's list ends with `ctx`.
                return Err(self.unsupported(
                    "context pointers as memory arguments of kernel 7.x (walk_v7.ctx_as_memory)",
                ));
            }
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EACCES,
                format!(
                    "R{regno} type={} expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_",
                    reg.type_str()
                ),
            ));
        }
        if !arg.flags.has(TypeFlag::MemRdonly) {
            let name = i32::try_from(helper)
                .ok()
                .and_then(bpfcheck_uapi::helper_name)
                .unwrap_or("?");
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EACCES,
                format!(
                    "{name}() may write into memory pointed by R{regno} type={}",
                    reg.type_str()
                ),
            ));
        }
        Ok(())
    }

    /// `in_rcu_cs`: inside `bpf_rcu_read_lock()`, or any non-sleepable
    /// program (spin lock regions are not reached with BTF pointers here).
    fn in_rcu_cs(&self) -> bool {
        self.cur.regions.rcu || self.req.prog_flags & bpfcheck_uapi::load::BPF_F_SLEEPABLE == 0
    }
}

/// `bpf_rcu_read_unlock`: RCU pointers become untrusted and lose their
/// NULL mark.
pub(super) fn rcu_unlock(state: &mut crate::state::VerifierState) {
    super::sock::for_each_reg(state, |r| {
        if let RegState::PtrToBtfId { ptr, btf } = r
            && btf.trust == Trust::Rcu
        {
            btf.trust = Trust::Untrusted;
            ptr.maybe_null = false;
        }
    });
}

impl Checker<'_> {
    /// The `ctx_arg_info` of an iterator target for the context field at
    /// `off`, if it types one: `PTR_TO_BTF_ID_OR_NULL` of the field's
    /// pointee (`pointee`), without the line `btf_ctx_access` logs for
    /// other pointers.
    fn iter_ctx_arg(
        &mut self,
        target: &Target,
        off: i32,
        pointee: BtfTypeId,
    ) -> Result<Option<Slot>, Stop> {
        if self.req.expected_attach_type != AttachType::TRACE_ITER {
            return Ok(None);
        }
        let reg = crate::prepare::iter_target::supported(self.profile, target)?;
        let btf = self.kernel_btf()?;
        let tname = target.name.trim_start_matches("bpf_iter_");
        let ctx_name = format!("bpf_iter__{tname}");
        let Some(st) = btf.find_by_name_kind(&ctx_name, bpfcheck_btf::BtfKind::Struct) else {
            return Err(self.unsupported("iterator targets without their context struct in BTF"));
        };
        let off = u32::try_from(off).unwrap_or(u32::MAX);
        let Some(arg) = iter_field(btf, &st, 0, off, &reg.args) else {
            return Ok(None);
        };
        let trusted = match arg {
            IterArg::BufOrNull { .. } => {
                return Err(self.unsupported("iterator buffers (PTR_TO_BUF context fields)"));
            }
            IterArg::BtfIdOrNull { trusted } => trusted,
        };
        let Ok(st) = btf.resolve(pointee) else {
            return Err(self.unsupported("iterator context field types"));
        };
        if !matches!(st, Type::Struct(_) | Type::Union(_)) {
            return Err(self.unsupported("iterator context field types"));
        }
        let name = self.btf_type_name(btf, st.id().0)?;
        Ok(Some(Slot::PtrOrNull(BtfPtr {
            btf_id: st.id().0,
            name,
            trust: if trusted {
                Trust::Trusted
            } else {
                Trust::Plain
            },
            mem: MemKind::Kernel,
            owner: crate::state::Owner::Kernel,
        })))
    }
}

/// The `ctx_arg_info` entry of the field at byte `off` of an iterator's
/// context struct (`__bpf_md_ptr` wraps each field in an anonymous union).
fn iter_field(
    btf: &Btf<'_>,
    st: &Type<'_>,
    base: u32,
    off: u32,
    args: &[(String, IterArg)],
) -> Option<IterArg> {
    let (Type::Struct(c) | Type::Union(c)) = st else {
        return None;
    };
    for m in c.members() {
        let at = base + m.bit_offset / 8;
        let name = m.name().unwrap_or("");
        if name.is_empty() {
            if let Ok(inner) = btf.resolve(m.ty)
                && let Some(a) = iter_field(btf, &inner, at, off, args)
            {
                return Some(a);
            }
            continue;
        }
        if at == off
            && let Some((_, a)) = args.iter().find(|(f, _)| f == name)
        {
            return Some(*a);
        }
    }
    None
}
