//! Kfunc calls in the walk (`check_kfunc_call`, `check_kfunc_args`): the
//! registration (`calling kernel function %s is not allowed`), the
//! destructive and sleepable rules, the arguments the prototype in the
//! kernel's BTF asks for, the RCU read-side and non-preemptible regions of
//! `bpf_rcu_read_lock`/`unlock` and `bpf_preempt_disable`/`enable`, and
//! the return.
//!
//! Modelled arguments: scalars (`__k` constants made precise, `__ign`
//! skipped), the program's context, `NULL` for a `__nullable`/`__opt`
//! pointer, iterators of the types `check::iter` models, BTF-typed
//! pointers and references (`check::kfunc_ref`). Modelled returns:
//! `void`, scalars, `void *` (a scalar), an iterator's element, struct
//! pointers (acquired or not), sized memory, the casts' BTF pointers.
//! Everything else stops the walk as `unsupported`, naming the kfunc and
//! what it needs (memory arguments, dynptrs, other iterators, graph
//! nodes, …).

use bpfcheck_profile::kfuncs::KfuncFlags;
use bpfcheck_uapi::{Errno, RawInsn, load};

use super::Checker;
use super::alloc::{AllocKfunc, AllocMeta};
use super::iter::{self, IterMeta, IterOp};
use super::kfunc_dynptr::{KfuncArgMeta, is_dynptr_param};
use super::kfunc_ref::KfuncRefs;
use crate::error::{ErrorCode, Stop};
use crate::prepare::kfunc::{KAccess, KParam, KType, KfuncDesc, KfuncTab};
use crate::state::{MemTag, PtrFields, RegState};

/// `MAX_BPF_FUNC_REG_ARGS`.
const MAX_REG_ARGS: usize = 5;

/// What a kfunc needs beyond the modelled rules, by its name and flags:
/// the feature that makes the call `unsupported`.
fn special(name: &str, flags: KfuncFlags) -> Option<&'static str> {
    const GRAPH: [&str; 6] = [
        "bpf_obj_new",
        "bpf_percpu_obj_",
        "bpf_obj_drop",
        "bpf_refcount_acquire",
        "bpf_list_",
        "bpf_rbtree_",
    ];
    if AllocKfunc::of(name).is_none() && GRAPH.iter().any(|p| name.starts_with(p)) {
        return Some("allocated objects and graph nodes (obj_new, list, rbtree)");
    }
    if flags.has(KfuncFlags::RCU_PROTECTED) {
        return Some("KF_RCU_PROTECTED");
    }
    if flags.has(KfuncFlags::IMPLICIT_ARGS)
        || flags.has(KfuncFlags::ARENA_RET)
        || flags.has(KfuncFlags::ARENA_ARG1)
        || flags.has(KfuncFlags::ARENA_ARG2)
    {
        return Some("implicit or arena arguments");
    }
    match name {
        // Returns the kernel types specially (untrusted, writable).
        "bpf_get_kmem_cache" | "bpf_session_cookie" => Some("special returns"),
        "bpf_res_spin_lock" | "bpf_res_spin_lock_irqsave" | "bpf_local_irq_save" => {
            Some("resilient spin locks and IRQ regions")
        }
        "bpf_wq_set_callback_impl" | "bpf_task_work_schedule_signal_impl" => {
            Some("kfunc callbacks")
        }
        _ => None,
    }
}

/// A pointer parameter's special kind by its name or pointee
/// (`get_kfunc_ptr_arg_type`), which the walk does not model.
fn special_ptr_arg(p: &KParam) -> Option<&'static str> {
    let KType::Ptr(pt) = &p.ty else {
        return None;
    };
    let by_suffix = [
        ("__alloc", "allocated objects"),
        ("__refcounted_kptr", "refcounted kptrs"),
        ("__str", "constant string arguments"),
        ("__map", "map arguments"),
        ("__irq_flag", "IRQ flag arguments"),
        ("__prog", "program arguments"),
        ("__uninit", "uninitialised (__uninit) arguments"),
    ];
    if let Some((_, what)) = by_suffix.iter().find(|(s, _)| p.has_suffix(s)) {
        return Some(what);
    }
    if !pt.composite {
        return None;
    }
    match pt.name.as_str() {
        "bpf_dynptr" | "bpf_dynptr_kern" => Some("dynptrs"),
        "bpf_list_head" | "bpf_list_node" | "bpf_rb_root" | "bpf_rb_node" => Some("graph nodes"),
        "bpf_wq" | "bpf_timer" | "bpf_task_work" | "bpf_res_spin_lock" => {
            Some("special map value fields")
        }
        n if n.starts_with("bpf_iter_") => Some("open-coded iterators"),
        _ => None,
    }
}

/// The iterator kfunc kind of a call, by its flags.
fn iter_op(flags: KfuncFlags) -> Option<IterOp> {
    if flags.has(KfuncFlags::ITER_NEW) {
        Some(IterOp::New)
    } else if flags.has(KfuncFlags::ITER_NEXT) {
        Some(IterOp::Next)
    } else if flags.has(KfuncFlags::ITER_DESTROY) {
        Some(IterOp::Destroy)
    } else {
        None
    }
}

/// Whether an iterator kfunc's iterator (its first argument) is of a
/// type the walk models; the unsupported feature otherwise.
fn unmodelled_iter(desc: &KfuncDesc) -> Option<String> {
    let first = desc.params.first().map(|p| &p.ty);
    match first {
        Some(KType::Ptr(pt)) if iter::iter_type(pt).is_some() => None,
        Some(KType::Ptr(pt)) => Some(format!(
            "open-coded iterators of struct {} (BTF-typed pointers)",
            pt.name
        )),
        _ => Some("open-coded iterators without an iterator argument".to_owned()),
    }
}

/// Whether a register holds the constant 0 (`register_is_null`).
fn is_null(reg: &RegState) -> bool {
    matches!(reg, RegState::Scalar(s) if s.value.const_value() == Some(0))
}

impl Checker<'_> {
    /// The kfuncs the program calls, looked up before the walk.
    pub(crate) fn set_kfuncs(&mut self, tab: KfuncTab) {
        // `mark_fastcall_patterns` sees kfunc calls by their prototypes.
        self.fastcall =
            super::fastcall::Fastcall::mark(self.req, self.profile, &self.subprogs.starts, &tab);
        self.kfuncs = tab;
        // `check_cfg` checkpoints every iterator next call, always.
        for i in 0..self.insns.len() {
            if self.is_iter_next(i) {
                self.prune_point[i] = true;
                self.force_checkpoint[i] = true;
            }
            // `is_sync_callback_calling_insn` for kfuncs.
            if self.kfuncs.calls_callback(&self.insns[i]) {
                self.calls_callback[i] = true;
                self.force_checkpoint[i] = true;
                self.prune_point[i] = true;
                self.jmp_point[i] = true;
            }
        }
    }

    /// Whether instruction `idx` calls an iterator's next kfunc
    /// (`is_iter_next_insn`).
    pub(super) fn is_iter_next(&self, idx: usize) -> bool {
        let Some(insn) = self.insns.get(idx) else {
            return false;
        };
        use bpfcheck_uapi::op;
        let call = insn.class() == op::JMP && op::alu_op(insn.code) == op::CALL;
        if !call || insn.src != op::PSEUDO_KFUNC_CALL {
            return false;
        }
        matches!(
            self.kfuncs.get(insn).map(|d| &d.access),
            Some(KAccess::Allowed(f)) if f.has(KfuncFlags::ITER_NEXT)
        )
    }

    fn kfunc_reject(&self, errno: Errno, msg: String) -> Stop {
        self.reject(ErrorCode::KfuncCall, errno, msg)
    }

    /// `check_kfunc_call`.
    pub(super) fn kfunc_call(&mut self, insn: &RawInsn) -> Result<(), Stop> {
        let Some(desc) = self.kfuncs.get(insn).cloned() else {
            return Err(self.unsupported("kfunc calls the scan did not resolve"));
        };
        let name = desc.name.as_str();
        let flags = match &desc.access {
            KAccess::Allowed(f) => *f,
            KAccess::NotAllowed => {
                return Err(self.kfunc_reject(
                    Errno::EACCES,
                    format!("calling kernel function {name} is not allowed"),
                ));
            }
            KAccess::Unknown(why) => return Err(self.unsupported(why)),
        };
        let iter_op = iter_op(flags);
        if iter_op.is_some() {
            if let Some(what) = unmodelled_iter(&desc) {
                return Err(self.unsupported(&format!("kfunc {name}: {what}")));
            }
            if !self.profile.features.scc_loops {
                return Err(self.unsupported(&format!(
                    "kfunc {name}: open-coded iterators converging by loop entries"
                )));
            }
        }
        if let Some(what) = special(name, flags) {
            let what = format!("kfunc {name}: {what}");
            if name.starts_with("bpf_list_") || name.starts_with("bpf_rbtree_") {
                return Err(self.graph_root_arg(&desc, &what));
            }
            return Err(self.unsupported(&what));
        }
        let alloc_op = AllocKfunc::of(name);
        if alloc_op.is_some() {
            self.alloc_kfunc_modelled(name)?;
        }
        let cast = matches!(name, "bpf_cast_to_kern_ctx" | "bpf_rdonly_cast");
        if flags.has(KfuncFlags::ACQUIRE) || flags.has(KfuncFlags::RELEASE) || cast {
            self.kfunc_v7_rules(name)?;
        }
        if flags.has(KfuncFlags::DESTRUCTIVE) && !self.profile.caps.sys_admin {
            return Err(self.unsupported(&format!(
                "kfunc {name}: CAP_SYS_BOOT of a loader without CAP_SYS_ADMIN"
            )));
        }
        let sleepable = flags.has(KfuncFlags::SLEEPABLE);
        if sleepable && self.req.prog_flags & load::BPF_F_SLEEPABLE == 0 {
            return Err(self.kfunc_reject(
                Errno::EACCES,
                format!("program must be sleepable to call sleepable kfunc {name}"),
            ));
        }
        let (iter_meta, refs, alloc_meta, arg_meta) = self.kfunc_args(&desc, flags)?;
        let cast = self.kfunc_cast_ret(name)?;
        self.kfunc_regions(name, sleepable)?;
        self.kfunc_release(&desc, &refs)?;
        if name == "bpf_throw" {
            self.throw_cookie()?;
        }
        let frame = self.cur.cur_mut();
        for r in 1..=5u8 {
            *frame.reg_mut(r) = RegState::NotInit;
        }
        for r in 0..=5u8 {
            self.scratch_reg(r);
            self.live_write_reg(r);
        }
        let struct_ptr = matches!(&desc.ret, KType::Ptr(p) if p.composite);
        let alloc_ret =
            alloc_op.is_some_and(|op| op != AllocKfunc::ObjDrop && op != AllocKfunc::PercpuObjDrop);
        if flags.has(KfuncFlags::ACQUIRE) && !struct_ptr && !alloc_ret {
            return Err(self.kfunc_reject(
                Errno::EINVAL,
                "acquire kernel function does not return PTR_TO_BTF_ID".to_owned(),
            ));
        }
        let alloc_r0 = match alloc_op {
            Some(op) => self.alloc_kfunc_ret(op, flags, &alloc_meta)?,
            None => None,
        };
        let slice = matches!(name, "bpf_dynptr_slice" | "bpf_dynptr_slice_rdwr");
        let r0 = match &desc.ret {
            _ if cast.is_some() => cast.unwrap_or_default(),
            _ if alloc_r0.is_some() => alloc_r0.unwrap_or_default(),
            _ if slice => self.kfunc_slice_ret(name, flags, &arg_meta)?,
            KType::Void => RegState::NotInit,
            KType::Scalar { .. } => RegState::unknown(),
            // `void *` is a number to the program.
            KType::Ptr(p) if p.void => RegState::unknown(),
            KType::Ptr(p) if p.composite && iter_op.is_none() => {
                self.kfunc_struct_ret(&desc, flags, p)?
            }
            KType::Ptr(p) if p.composite => {
                return Err(self.unsupported(&format!("kfunc {name}: BTF-typed pointers")));
            }
            // An iterator's element: read-only memory of the pointee's
            // size, tied to the iterator's reference.
            KType::Ptr(p) if iter_op == Some(IterOp::Next) && p.size.is_some_and(|s| s > 0) => {
                let ret_null = flags.has(KfuncFlags::RET_NULL);
                RegState::PtrToMem {
                    ptr: PtrFields {
                        off: 0,
                        var: crate::domain::Scalar::constant(0),
                        id: if ret_null { self.new_id() } else { 0 },
                        ref_obj_id: iter_meta.ref_obj_id,
                        maybe_null: ret_null,
                    },
                    size: p.size.unwrap_or(0),
                    tag: MemTag {
                        rdonly: true,
                        ..MemTag::default()
                    },
                }
            }
            KType::Ptr(p) if iter_op.is_none() => self.kfunc_mem_ret(&desc, flags, p, &refs)?,
            KType::Ptr(_) => {
                return Err(self.unsupported(&format!("kfunc {name}: returned memory")));
            }
            KType::Other(_) => {
                return Err(self.unsupported(&format!("kfunc {name}: its return type")));
            }
        };
        *self.cur.cur_mut().reg_mut(0) = r0;
        // `bpf_is_kfunc_pkt_changing`.
        if name == "bpf_xdp_pull_data" {
            self.clear_all_pkt_pointers();
        }
        if iter_op == Some(IterOp::Next) {
            self.process_iter_next_call(&iter_meta)?;
        }
        Ok(())
    }

    /// `check_kfunc_args`.
    fn kfunc_args(
        &mut self,
        desc: &KfuncDesc,
        flags: KfuncFlags,
    ) -> Result<(IterMeta, KfuncRefs, AllocMeta, KfuncArgMeta), Stop> {
        let mut iter_meta = IterMeta::default();
        let mut alloc_meta = AllocMeta::default();
        let alloc_op = AllocKfunc::of(&desc.name);
        let mut refs = KfuncRefs::default();
        let mut meta = KfuncArgMeta::default();
        let name = desc.name.as_str();
        let nargs = desc.params.len();
        if nargs > MAX_REG_ARGS {
            return Err(self.kfunc_reject(
                Errno::EINVAL,
                format!("Function {name} has {nargs} > {MAX_REG_ARGS} args"),
            ));
        }
        let mut skip_size = false;
        for (i, p) in desc.params.iter().enumerate() {
            let regno = u8::try_from(i + 1).unwrap_or(1);
            let reg = *self.cur.cur().reg(regno);
            // A memory argument's size was checked with it.
            if std::mem::take(&mut skip_size) || p.has_suffix("__ign") {
                continue;
            }
            match &p.ty {
                KType::Scalar { .. } => {
                    if !matches!(reg, RegState::Scalar(_)) {
                        return Err(
                            self.kfunc_reject(Errno::EINVAL, format!("R{regno} is not a scalar"))
                        );
                    }
                    if p.has_suffix("__k") {
                        if meta.constant.is_some() {
                            return Err(
                                self.unsupported(&format!("kfunc {name}: two constant arguments"))
                            );
                        }
                        let RegState::Scalar(s) = reg else {
                            unreachable!("checked above")
                        };
                        let Some(v) = s.value.const_value() else {
                            return Err(self.kfunc_reject(
                                Errno::EINVAL,
                                format!("R{regno} must be a known constant"),
                            ));
                        };
                        self.mark_chain_precision(regno)?;
                        alloc_meta.constant = Some(v);
                        meta.constant = Some(v);
                    } else if p.name == "rdonly_buf_size" || p.name == "rdwr_buf_size" {
                        return Err(self.unsupported(&format!(
                            "kfunc {name}: returned buffers (rdonly/rdwr_buf_size)"
                        )));
                    }
                }
                KType::Ptr(pt) => {
                    let nullable = p.has_suffix("__nullable") || p.has_suffix("__opt");
                    let maybe_null = is_null(&reg) || reg_maybe_null(&reg);
                    // `is_kfunc_trusted_args` counts release kfuncs in.
                    let trusted = flags.has(KfuncFlags::TRUSTED_ARGS)
                        || flags.has(KfuncFlags::RELEASE)
                        || flags.has(KfuncFlags::RCU);
                    if maybe_null && !nullable {
                        if trusted {
                            return Err(self.kfunc_reject(
                                Errno::EACCES,
                                format!("Possibly NULL pointer passed to trusted arg{i}"),
                            ));
                        }
                        if !self.trusted_args_known(name) {
                            return Err(self.unsupported(&format!(
                                "kfunc {name}: whether it has KF_TRUSTED_ARGS"
                            )));
                        }
                    }
                    self.kfunc_arg_ref(name, flags, regno, &reg, &mut refs)?;
                    let next_reg = match u8::try_from(i + 2) {
                        Ok(r) if r <= 5 => *self.cur.cur().reg(r),
                        _ => RegState::NotInit,
                    };
                    let mem_size =
                        super::kfunc_mem::sizes_memory(desc.params.get(i + 1), &next_reg);
                    if p.ctx || name == "bpf_cast_to_kern_ctx" {
                        self.kfunc_ctx_arg(i, regno, &reg)?;
                        continue;
                    }
                    if nullable && is_null(&reg) && !mem_size {
                        continue;
                    }
                    if is_dynptr_param(p) {
                        self.kfunc_dynptr_arg(name, i, p, &mut meta)?;
                        continue;
                    }
                    // `KF_ARG_PTR_TO_ITER`: an iterator kfunc's first
                    // argument, or any `__iter` one.
                    let op = iter_op(flags);
                    if op.map_or(p.has_suffix("__iter"), |_| i == 0) {
                        let Some(ty) = iter::iter_type(pt) else {
                            return Err(self.unsupported(&format!(
                                "kfunc {name}: open-coded iterators of struct {}",
                                pt.name
                            )));
                        };
                        let op = op.unwrap_or(IterOp::Other);
                        self.process_iter_arg(i, op, ty, pt.id.0, &mut iter_meta)?;
                        continue;
                    }
                    let alloc_arg = p.has_suffix("__alloc") || p.has_suffix("__refcounted_kptr");
                    if let Some(op) = alloc_op.filter(|_| alloc_arg) {
                        self.alloc_kfunc_arg(op, flags, i, regno, &reg, &mut alloc_meta)?;
                        continue;
                    }
                    if let Some(what) = special_ptr_arg(p) {
                        return Err(self.unsupported(&format!("kfunc {name}: {what}")));
                    }
                    if btf_typed(&reg) {
                        self.kfunc_btf_arg(desc, flags, i, regno, &reg, pt)?;
                        continue;
                    }
                    if matches!(pt.kind, "FUNC_PROTO") {
                        return Err(self.unsupported(&format!("kfunc {name}: callbacks")));
                    }
                    if !(pt.scalar || pt.scalar_struct || mem_size && pt.void) {
                        return Err(self.kfunc_reject(
                            Errno::EINVAL,
                            format!(
                                "arg#{i} pointer type {} {} must point to {}scalar, or struct with scalar",
                                pt.kind,
                                pt.name,
                                if mem_size { "void, " } else { "" }
                            ),
                        ));
                    }
                    if mem_size {
                        let size_p = &desc.params[i + 1];
                        self.kfunc_mem_size_arg(i, size_p, &mut meta)?;
                        skip_size = true;
                        continue;
                    }
                    let Some(size) = pt.size else {
                        return Err(self.unsupported(&format!(
                            "kfunc {name}: memory arguments of a type without a size"
                        )));
                    };
                    self.kfunc_mem_arg(regno, size)?;
                }
                KType::Void | KType::Other(_) => {
                    let kind = match &p.ty {
                        KType::Other(k) => k,
                        _ => "UNKNOWN",
                    };
                    return Err(self
                        .kfunc_reject(Errno::EINVAL, format!("Unrecognized arg#{i} type {kind}")));
                }
            }
        }
        if flags.has(KfuncFlags::RELEASE) && refs.release_regno.is_none() {
            return Err(self.kfunc_reject(
                Errno::EINVAL,
                format!("release kernel function {name} expects refcounted PTR_TO_BTF_ID"),
            ));
        }
        Ok((iter_meta, refs, alloc_meta, meta))
    }

    /// `KF_ARG_PTR_TO_CTX`: `check_func_arg_reg_off`, then the type.
    fn kfunc_ctx_arg(&mut self, i: usize, regno: u8, reg: &RegState) -> Result<(), Stop> {
        match reg {
            RegState::PtrToCtx { .. } => self.check_ptr_off_reg(regno, reg),
            RegState::Scalar(_)
            | RegState::PtrToStack { .. }
            | RegState::PtrToMapValue { .. }
            | RegState::PtrToMapKey { .. }
            | RegState::PtrToPacket { .. }
            | RegState::PtrToPacketMeta { .. } => Err(self.kfunc_reject(
                Errno::EINVAL,
                format!(
                    "arg#{i} expected pointer to ctx, but got {}",
                    reg.type_str()
                ),
            )),
            _ => Err(self.unsupported("kfunc context arguments of this register type")),
        }
    }

    /// Whether the profile's kfunc data says if `name` has
    /// `KF_TRUSTED_ARGS` (7.x made every argument trusted and dropped the
    /// flag from the source the 6.18 data comes from: there only the
    /// kfuncs proven on the live kernel are known).
    pub(super) fn trusted_args_known(&self, name: &str) -> bool {
        self.profile
            .kfuncs
            .and_then(|d| d.table().ok())
            .is_some_and(|t| t.trusted_args_known(name))
    }

    /// The RCU and preemption bookkeeping of `check_kfunc_call`.
    fn kfunc_regions(&mut self, name: &str, sleepable: bool) -> Result<(), Stop> {
        let rcu_lock = name == "bpf_rcu_read_lock";
        let rcu_unlock = name == "bpf_rcu_read_unlock";
        let preempt_disable = name == "bpf_preempt_disable";
        let preempt_enable = name == "bpf_preempt_enable";
        let regions = &mut self.cur.regions;
        if regions.rcu {
            if rcu_lock {
                return Err(self.kfunc_reject(
                    Errno::EINVAL,
                    format!("nested rcu read lock (kernel function {name})"),
                ));
            } else if rcu_unlock {
                regions.rcu = false;
                super::btf_ptr::rcu_unlock(&mut self.cur);
            } else if sleepable {
                return Err(self.unsupported(&format!(
                    "kfunc {name}: a sleepable kfunc in an RCU read-side region"
                )));
            }
        } else if rcu_lock {
            regions.rcu = true;
        } else if rcu_unlock {
            return Err(self.kfunc_reject(
                Errno::EINVAL,
                format!("unmatched rcu read unlock (kernel function {name})"),
            ));
        }
        let regions = &mut self.cur.regions;
        if regions.preempt > 0 {
            if preempt_disable {
                regions.preempt += 1;
            } else if preempt_enable {
                regions.preempt -= 1;
            } else if sleepable {
                return Err(self.unsupported(&format!(
                    "kfunc {name}: a sleepable kfunc in a non-preemptible region"
                )));
            }
        } else if preempt_disable {
            regions.preempt = 1;
        } else if preempt_enable {
            return Err(self.kfunc_reject(
                Errno::EINVAL,
                format!("unmatched attempt to enable preemption (kernel function {name})"),
            ));
        }
        Ok(())
    }

    /// The region rules of `check_resource_leak` after the reference
    /// check (6.14+; `what` names the instruction).
    pub(super) fn no_region_held(&self, what: &str) -> Result<(), Stop> {
        let regions = self.cur.regions;
        let region = if regions.rcu {
            "bpf_rcu_read_lock"
        } else if regions.preempt > 0 {
            "bpf_preempt_disable"
        } else {
            return Ok(());
        };
        Err(self.kfunc_reject(
            Errno::EINVAL,
            format!("{what} cannot be used inside {region}-ed region"),
        ))
    }

    /// The region rules of a main program's exit before 6.14.
    pub(super) fn no_region_at_exit_v1(&self) -> Result<(), Stop> {
        let regions = self.cur.regions;
        if regions.rcu {
            return Err(
                self.kfunc_reject(Errno::EINVAL, "bpf_rcu_read_unlock is missing".to_owned())
            );
        }
        if regions.preempt > 0 {
            let n = regions.preempt;
            let tail = if n == 1 { " is" } else { "(s) are" };
            return Err(self.kfunc_reject(
                Errno::EINVAL,
                format!("{n} bpf_preempt_enable{tail} missing"),
            ));
        }
        Ok(())
    }
}

/// `type_may_be_null`.
fn reg_maybe_null(reg: &RegState) -> bool {
    match reg {
        RegState::PtrToMapValue { maybe_null, .. } => *maybe_null,
        RegState::PtrToSocket(p)
        | RegState::PtrToSockCommon(p)
        | RegState::PtrToTcpSock(p)
        | RegState::PtrToBtfId { ptr: p, .. }
        | RegState::PtrToMem { ptr: p, .. } => p.maybe_null,
        _ => false,
    }
}

/// Register types `get_kfunc_ptr_arg_type` takes as BTF-typed
/// (`PTR_TO_BTF_ID` and the types of `reg2btf_ids`).
fn btf_typed(reg: &RegState) -> bool {
    matches!(
        reg,
        RegState::PtrToBtfId { .. }
            | RegState::PtrToSocket(_)
            | RegState::PtrToSockCommon(_)
            | RegState::PtrToTcpSock(_)
            | RegState::PtrToXdpSock(_)
            | RegState::ConstPtrToMap { .. }
    )
}
