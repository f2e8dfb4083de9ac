//! Helper calls (`check_helper_call`): the prototype comes from the kernel
//! profile (`get_func_proto` of the program type), the arguments are
//! checked in order (`check_func_arg`), caller-saved registers are
//! clobbered and `R0` takes the return type.
//!
//! Modelled argument kinds: `ARG_ANYTHING`, `ARG_CONST_MAP_PTR`,
//! `ARG_PTR_TO_MAP_KEY`, `ARG_PTR_TO_MAP_VALUE` (read), `ARG_PTR_TO_CTX`,
//! `ARG_PTR_TO_MEM` and its `ARG_CONST_SIZE[_OR_ZERO]` ([`super::helper_mem`]),
//! with stack and map-value pointers as memory, and the socket kinds
//! ([`super::sock`]). Modelled returns:
//! `RET_INTEGER` (refined for the `*_str` and stack helpers), `RET_VOID`,
//! `RET_PTR_TO_MAP_VALUE_OR_NULL`, the socket pointers ([`super::sock`]).
//! Which helpers take which maps, and which of those pairs are modelled,
//! is [`super::map_call`]'s; spin lock arguments are
//! [`super::spin_lock`]'s. Everything else is reported as unsupported,
//! naming the feature.

use bpfcheck_profile::KernelProfile;
use bpfcheck_profile::helpers::{
    ArgBase, ArgType, HelperProto, HelperUnavailable, ProgQuery, RetBase, TypeFlag, TypeFlags,
};
use bpfcheck_uapi::{Errno, LoadRequest, MapType, RawInsn, load, op};

use super::Checker;
use super::helper_mem::{self, MemMeta};
use super::mem::Access;
use crate::domain::{Era, Scalar};
use crate::error::{ErrorCode, Stop};
use crate::state::{MapIdx, RegState, SLOT_SIZE, ScalarReg, SlotType};

/// `BPF_FUNC_map_lookup_elem`.
const MAP_LOOKUP: u32 = 1;
/// `BPF_FUNC_tail_call`.
const TAIL_CALL: i32 = 12;
/// `BPF_FUNC_get_smp_processor_id`.
const GET_SMP_PROCESSOR_ID: u32 = 8;
/// Helpers whose integer return is at most their size argument
/// (`do_refine_retval_range`): `get_stack`, `probe_read_str`,
/// `get_task_stack`, `probe_read_user_str`, `probe_read_kernel_str`.
const STR_RETURNS: [u32; 5] = [67, 45, 141, 114, 115];

/// `MAX_ERRNO`.
const MAX_ERRNO: i32 = 4095;

/// `do_refine_retval_range` for [`STR_RETURNS`]: a negative errno or at
/// most `msize_max` bytes.
fn refined_str_return(era: Era, msize_max: u64) -> RegState {
    let mut v = Scalar::unknown();
    v.smax = msize_max as i64;
    v.s32_max = msize_max as i32;
    v.smin = -i64::from(MAX_ERRNO);
    v.s32_min = -MAX_ERRNO;
    v.sync(era);
    RegState::Scalar(ScalarReg::new(v))
}

/// The register types `ARG_PTR_TO_MAP_KEY`/`_VALUE` and `ARG_PTR_TO_MEM`
/// accept (`map_key_value_types`, `mem_types`), as the kernel lists them
/// when refusing a register.
const MEM_TYPES: &str =
    "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_";

/// The register types `ARG_PTR_TO_SPIN_LOCK` accepts (`spin_lock_types`).
const SPIN_LOCK_TYPES: &str = "map_value, ptr_";

/// `license_is_gpl_compatible`.
pub(crate) fn gpl_compatible(license: &str) -> bool {
    matches!(
        license,
        "GPL"
            | "GPL v2"
            | "GPL and additional rights"
            | "Dual BSD/GPL"
            | "Dual MIT/GPL"
            | "Dual MPL/GPL"
    )
}

/// What the arguments established (`struct bpf_call_arg_meta`).
#[derive(Default)]
struct Meta {
    map: Option<MapIdx>,
    /// An array lookup's constant key (`const_map_key`).
    const_key: Option<u64>,
    /// Memory arguments.
    mem: MemMeta,
    /// The reference an argument carries or releases.
    refs: super::sock::RefMeta,
    /// The callback's first instruction (`subprogno`).
    func: Option<u32>,
    /// An `ARG_CONST_ALLOC_SIZE_OR_ZERO` argument's value (`mem_size`).
    alloc_size: Option<u64>,
    /// The dynptr argument.
    dynptr: super::dynptr_call::DynptrMeta,
    /// A per-CPU BTF argument.
    btf: super::helper_btf::BtfArgMeta,
    /// `bpf_kptr_xchg`'s destination (`kptr_field`).
    kptr: Option<super::kptr::XchgDest>,
}

impl Checker<'_> {
    pub(super) fn call(&mut self, insn: &RawInsn) -> Result<(), Stop> {
        match insn.src {
            op::PSEUDO_CALL => return Err(self.unsupported("bpf-to-bpf calls")),
            op::PSEUDO_KFUNC_CALL => return self.kfunc_call(insn),
            _ => {}
        }
        let proto = self.helper_proto(insn.imm)?;
        if !gpl_compatible(&self.req.license) && proto.gpl_only {
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EINVAL,
                "cannot call GPL-restricted function from non-GPL compatible program".to_owned(),
            ));
        }
        self.helper_allowed(proto)?;
        // An async callback never sleeps (`in_sleepable`).
        let sleepable = self.req.prog_flags & load::BPF_F_SLEEPABLE != 0
            && !self.cur.frames[0].in_async_callback_fn;
        if proto.might_sleep && !sleepable {
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EINVAL,
                "helper call might sleep in a non-sleepable prog".to_owned(),
            ));
        }
        if proto.might_sleep && self.cur.regions.any() {
            return Err(self.unsupported("sleepable helpers inside RCU or preemption regions"));
        }
        let mut meta = Meta::default();
        for i in 0..proto.args.len() {
            self.check_func_arg(proto, i, &mut meta)?;
        }
        self.record_func_map(proto.id, meta.map)?;
        self.record_func_key(proto.id, meta.map)?;
        if let Some((regno, size)) = meta.mem.raw_access {
            self.helper_raw_writes(regno, size)?;
        }
        self.release_arg(proto, &meta.refs)?;
        let slice_of = self.dynptr_call_effects(proto, &meta.dynptr)?;
        if insn.imm == TAIL_CALL {
            self.check_resource_leak("tail_call")?;
        }
        self.local_storage_flags(proto.id)?;
        self.callback_call(proto.id, meta.func, meta.map)?;
        // The kernel refuses a map it may not take only after setting R0,
        // which no log line shows.
        self.map_func_compat(proto, meta.map)?;
        let frame = self.cur.cur_mut();
        for r in 1..=5u8 {
            *frame.reg_mut(r) = RegState::NotInit;
        }
        for r in 0..=5u8 {
            self.scratch_reg(r);
            self.live_write_reg(r);
        }
        let ret = proto.ret;
        let r0 = match ret.base {
            RetBase::Integer if ret.flags.is_empty() => {
                if proto.id == GET_SMP_PROCESSOR_ID {
                    self.smp_processor_id_return()?
                } else if STR_RETURNS.contains(&proto.id) {
                    refined_str_return(self.era, meta.mem.msize_max)
                } else {
                    RegState::unknown()
                }
            }
            RetBase::Void => RegState::NotInit,
            RetBase::PtrToMapValue if super::sock_map::is_lookup(proto.id, meta.map, self.maps) => {
                self.sock_map_lookup_ret(meta.map)?
            }
            RetBase::PtrToMapValue if self.xsk_lookup_gives_sock(proto.id, meta.map) => {
                RegState::PtrToXdpSock(crate::state::PtrFields::fresh(self.new_id(), true))
            }
            RetBase::PtrToMapValue if self.inner_map_of(meta.map).is_some() => {
                self.map_in_map_lookup_ret(meta.map)?
            }
            RetBase::PtrToMapValue
                if ret.flags == Default::default() || ret.flags.has(TypeFlag::PtrMaybeNull) =>
            {
                let Some(map) = meta.map else {
                    return Err(self.unsupported("map value returns without a map argument"));
                };
                let spec = &self.maps[map.0 as usize];
                // An array element named by a constant in-range key exists.
                let elided = proto.id == MAP_LOOKUP
                    && meta
                        .const_key
                        .is_some_and(|k| k < u64::from(spec.max_entries));
                let maybe_null = ret.flags.has(TypeFlag::PtrMaybeNull) && !elided;
                // A value holding a spin lock is known by its id.
                let with_id = maybe_null || self.keeps_id(map);
                RegState::PtrToMapValue {
                    map,
                    off: 0,
                    var: Scalar::constant(0),
                    maybe_null,
                    id: if with_id { self.new_id() } else { 0 },
                }
            }
            RetBase::PtrToMem => self.mem_ret(proto, meta.alloc_size, slice_of)?,
            RetBase::PtrToBtfId
                if proto.id == super::kptr::KPTR_XCHG
                    && ret.flags == TypeFlags::EMPTY.with(TypeFlag::PtrMaybeNull) =>
            {
                self.kptr_xchg_ret(meta.kptr)?
            }
            RetBase::PtrToBtfId | RetBase::PtrToMemOrBtfId => self
                .btf_helper_ret(proto, &meta.btf, meta.refs.ref_obj_id)?
                .ok_or_else(|| self.unsupported(&format!("helper return type {ret}")))?,
            RetBase::PtrToSocket | RetBase::PtrToSockCommon | RetBase::PtrToTcpSock => self
                .sock_ret(proto, &meta.refs)?
                .ok_or_else(|| self.unsupported(&format!("helper return type {ret}")))?,
            _ => return Err(self.unsupported(&format!("helper return type {ret}"))),
        };
        *self.cur.cur_mut().reg_mut(0) = r0;
        // A tail call that returns did not run the callee: since 6.13 it
        // leaves the packet alone.
        let keeps = insn.imm == TAIL_CALL && self.profile.features.tail_call_keeps_pkt;
        let dynptr_write = Self::dynptr_changes_pkt(proto, &meta.dynptr);
        if (super::packet::changes_pkt_data(insn.imm) || dynptr_write) && !keeps {
            self.clear_all_pkt_pointers();
        }
        Ok(())
    }

    /// `get_helper_proto` with the kernel's messages.
    fn helper_proto(&self, id: i32) -> Result<&'static HelperProto, Stop> {
        let target = lsm_target(self.req, self.profile);
        match self
            .profile
            .helper_for(id, &helper_query(self.req, self.profile, target.as_deref()))
        {
            Ok(p) => Ok(p),
            Err(
                e @ (HelperUnavailable::UnknownId { .. } | HelperUnavailable::NotOffered { .. }),
            ) => Err(self.reject(ErrorCode::HelperCall, Errno::EINVAL, e.to_string())),
            Err(e) => Err(self.unsupported(&format!("helper prototypes ({e})"))),
        }
    }

    fn type_mismatch(&self, regno: u8, expected: &str) -> Stop {
        if self.profile.features.walk_v6_1.helper_arg_types {
            return self
                .unsupported("helper argument types of kernel 6.1 (walk_v6_1.helper_arg_types)");
        }
        let got = self.cur.cur().reg(regno).type_str();
        self.reject(
            ErrorCode::HelperCall,
            Errno::EACCES,
            format!("R{regno} type={got} expected={expected}"),
        )
    }

    /// `check_func_arg` for argument `i` (register `R{i+1}`).
    fn check_func_arg(
        &mut self,
        proto: &HelperProto,
        i: usize,
        meta: &mut Meta,
    ) -> Result<(), Stop> {
        let arg = proto.args[i];
        let regno = u8::try_from(i + 1).unwrap_or(1);
        if arg.base == ArgBase::DontCare {
            return Ok(());
        }
        self.read_reg(regno)?;
        let reg = *self.cur.cur().reg(regno);
        let pkt = matches!(
            reg,
            RegState::PtrToPacket { .. } | RegState::PtrToPacketMeta { .. }
        );
        if pkt
            && arg.base != ArgBase::Anything
            && !proto.pkt_access
            && super::ctx_cgroup::helpers_need_pkt_access(self.prog_type)
        {
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EACCES,
                "helper access to the packet is not allowed".to_owned(),
            ));
        }
        // NULL where NULL is allowed skips the type check.
        let null_ok = arg.maybe_null() && helper_mem::is_null(&reg);
        if null_ok && self.profile.features.null_arg_precise {
            // Whether the argument is NULL decides what the helper may
            // touch, so the zero is a precise value.
            self.mark_chain_precision(regno)?;
        }
        self.check_arg_type(proto, i, &reg, null_ok, meta)?;
        if arg.base == ArgBase::PtrToDynptr {
            // The dynptr's slots, not the stack pointer, hold what is
            // released (`dynptr_helper_arg`).
            return Ok(());
        }
        self.arg_refs(regno, arg, &reg, &mut meta.refs)
    }

    /// The type and memory checks of `check_func_arg` for one argument.
    fn check_arg_type(
        &mut self,
        proto: &HelperProto,
        i: usize,
        reg: &RegState,
        null_ok: bool,
        meta: &mut Meta,
    ) -> Result<(), Stop> {
        let arg = proto.args[i];
        let regno = u8::try_from(i + 1).unwrap_or(1);
        let reg = *reg;
        match arg.base {
            ArgBase::PtrToSocket | ArgBase::PtrToSockCommon | ArgBase::PtrToBtfIdSockCommon => {
                if null_ok {
                    Ok(())
                } else if arg.base == ArgBase::PtrToBtfIdSockCommon
                    && matches!(reg, RegState::PtrToBtfId { .. })
                {
                    self.btf_sock_common_arg(proto.id, regno, arg, &reg)
                } else {
                    self.sock_arg(regno, arg, &reg)
                }
            }
            // bpf_kptr_xchg's source: checked against the destination field.
            ArgBase::PtrToBtfId
                if proto.id == super::kptr::KPTR_XCHG
                    && arg.flags
                        == TypeFlags::EMPTY
                            .with(TypeFlag::PtrMaybeNull)
                            .with(TypeFlag::ObjRelease) =>
            {
                if null_ok {
                    return Ok(());
                }
                self.kptr_xchg_src(regno, &reg, meta.kptr)
            }
            ArgBase::PtrToBtfId | ArgBase::PtrToPercpuBtfId => {
                if null_ok {
                    Ok(())
                } else {
                    self.btf_helper_arg(proto, i, &reg, &mut meta.btf)
                }
            }
            ArgBase::PtrToMem => {
                self.mem_ptr_flags_known(arg)?;
                if !null_ok {
                    if let RegState::PtrToBtfId { .. } = reg {
                        self.btf_mem_arg_type(proto.id, regno, &reg, arg)?;
                    } else {
                        self.check_mem_arg_type(regno, &reg, arg)?;
                    }
                }
                self.mem_ptr_arg(regno, arg, proto.arg_size[i], &mut meta.mem)
            }
            ArgBase::ConstSize | ArgBase::ConstSizeOrZero if arg.flags.is_empty() => {
                let ptr_arg = i
                    .checked_sub(1)
                    .map(|p| proto.args[p])
                    .filter(|p| p.base == ArgBase::PtrToMem)
                    .ok_or_else(|| self.unsupported("size arguments without a memory argument"))?;
                let zero_ok = arg.base == ArgBase::ConstSizeOrZero;
                self.mem_size_arg(regno, ptr_arg, zero_ok, &mut meta.mem)
            }
            // A privileged loader may pass pointers as numbers.
            ArgBase::Anything => Ok(()),
            ArgBase::Scalar if arg.flags.is_empty() => {
                match (reg, self.profile.features.scalar_arg_typed) {
                    (RegState::Scalar(_), _) | (_, Some(false)) => Ok(()),
                    (_, Some(true)) => Err(self.type_mismatch(regno, "scalar")),
                    (_, None) => {
                        Err(self.unsupported("a pointer for an ARG_SCALAR argument on this kernel"))
                    }
                }
            }
            ArgBase::PtrToFunc if arg.flags.is_empty() => match reg {
                RegState::PtrToFunc { subprog_start } => {
                    meta.func = Some(subprog_start);
                    Ok(())
                }
                _ => Err(self.type_mismatch(regno, "func")),
            },
            ArgBase::PtrToStack if null_ok => Ok(()),
            ArgBase::PtrToStack if arg.flags == Default::default() || arg.maybe_null() => match reg
            {
                RegState::PtrToStack { .. } => Ok(()),
                _ => Err(self.type_mismatch(regno, "fp")),
            },
            ArgBase::ConstMapPtr if arg.flags.is_empty() => {
                let RegState::ConstPtrToMap { map } = reg else {
                    return Err(self.type_mismatch(regno, "map_ptr"));
                };
                // Only a timer argument comes before a map argument.
                if let Some(timer_map) = meta.map {
                    self.timer_map_matches(timer_map, map)?;
                }
                meta.map = Some(map);
                Ok(())
            }
            ArgBase::PtrToTimer if arg.flags.is_empty() => {
                meta.map = Some(self.timer_arg(regno, &reg)?);
                Ok(())
            }
            ArgBase::PtrToCtx
                if arg.flags.is_empty()
                    || arg.flags == TypeFlags::EMPTY.with(TypeFlag::PtrMaybeNull) =>
            {
                if null_ok {
                    return Ok(());
                }
                self.ctx_arg(regno, &reg)
            }
            ArgBase::ConstAllocSizeOrZero if arg.flags.is_empty() => {
                self.alloc_size_arg(regno, &reg)?;
                meta.alloc_size = reg.scalar().and_then(|s| s.value.const_value());
                Ok(())
            }
            ArgBase::PtrToRingbufMem => self.ringbuf_mem_arg(regno, arg),
            ArgBase::PtrToDynptr => self.dynptr_helper_arg(regno, arg, &mut meta.dynptr),
            // A local storage's initial value may be NULL.
            ArgBase::PtrToMapValue if null_ok => Ok(()),
            ArgBase::PtrToMapKey | ArgBase::PtrToMapValue
                if arg.flags.is_empty()
                    || map_value_out(arg)
                    || (arg.base == ArgBase::PtrToMapValue
                        && arg.flags == TypeFlags::EMPTY.with(TypeFlag::PtrMaybeNull)) =>
            {
                // `resolve_map_arg_type`: a socket map's value is a socket.
                let sock_map = meta.map.is_some_and(|m| {
                    matches!(
                        self.maps[m.0 as usize].map_type,
                        MapType::SOCKMAP | MapType::SOCKHASH
                    )
                });
                if arg.base == ArgBase::PtrToMapValue && sock_map {
                    let as_sock = ArgType {
                        base: ArgBase::PtrToBtfIdSockCommon,
                        flags: arg.flags,
                    };
                    if let RegState::PtrToBtfId { .. } = reg {
                        return self.btf_sock_common_arg(proto.id, regno, as_sock, &reg);
                    }
                    return self.sock_arg(regno, as_sock, &reg);
                }
                self.check_mem_arg_type(regno, &reg, arg)?;
                let Some(map) = meta.map else {
                    let what = if arg.base == ArgBase::PtrToMapKey {
                        "key"
                    } else {
                        "value"
                    };
                    return Err(self.reject(
                        ErrorCode::HelperCall,
                        Errno::EACCES,
                        format!("invalid map_ptr to access map->{what}"),
                    ));
                };
                let spec = &self.maps[map.0 as usize];
                let size = if arg.base == ArgBase::PtrToMapKey {
                    spec.key_size
                } else {
                    spec.value_size
                };
                // `can_elide_value_nullness`: the key is examined for every
                // helper taking an array's key, used only by lookups.
                let key_of_array_lookup = arg.base == ArgBase::PtrToMapKey
                    && self.profile.features.array_lookup_not_null
                    && matches!(spec.map_type, MapType::ARRAY | MapType::PERCPU_ARRAY);
                let size = i32::try_from(size).map_err(|_| self.unsupported("huge map keys"))?;
                // Where the helper writes the value (pop, peek) the bytes
                // need not be initialised: written after the arguments.
                let out = map_value_out(arg);
                meta.mem.raw_mode = out;
                let access = if out { Access::Write } else { Access::Read };
                self.helper_mem_access(regno, size, access, false, out.then_some(&mut meta.mem))?;
                if key_of_array_lookup {
                    meta.const_key = self.constant_map_key(&reg, size)?;
                }
                Ok(())
            }
            ArgBase::PtrToSpinLock if arg.flags.is_empty() => match reg {
                RegState::PtrToMapValue {
                    maybe_null: false, ..
                } => self.spin_lock_arg(regno, proto.id),
                RegState::PtrToBtfId { .. } => {
                    Err(self.unsupported("spin locks in allocated objects"))
                }
                _ => Err(self.type_mismatch(regno, SPIN_LOCK_TYPES)),
            },
            ArgBase::KptrXchgDest | ArgBase::PtrToKptr if arg.flags.is_empty() => {
                let (map, dest) = self.kptr_xchg_dest(regno, &reg)?;
                meta.map = Some(map);
                meta.kptr = Some(dest);
                Ok(())
            }
            // Only a map value can hold the string; what it says needs the
            // frozen read-only map's contents.
            ArgBase::PtrToConstStr if arg.flags.is_empty() => match reg {
                RegState::PtrToMapValue {
                    maybe_null: false, ..
                } => Err(self.unsupported("ARG_PTR_TO_CONST_STR: a read-only map's contents")),
                _ => Err(self.type_mismatch(regno, "map_value")),
            },
            _ => Err(self.unsupported(&format!("helper argument type {arg}"))),
        }
    }

    /// `ARG_PTR_TO_CTX`: the context itself, at offset 0.
    fn ctx_arg(&self, regno: u8, reg: &RegState) -> Result<(), Stop> {
        match reg {
            RegState::PtrToCtx { .. } => self.check_ptr_off_reg(regno, reg),
            _ => Err(self.type_mismatch(regno, "ctx")),
        }
    }

    /// `ARG_CONST_ALLOC_SIZE_OR_ZERO`: a known size, which is then precise.
    fn alloc_size_arg(&mut self, regno: u8, reg: &RegState) -> Result<(), Stop> {
        let Some(s) = reg.scalar() else {
            return Err(self.type_mismatch(regno, "scalar"));
        };
        if !s.value.is_const() {
            // The kernel's message has a stray quote.
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EACCES,
                format!("R{regno} is not a known constant'"),
            ));
        }
        self.mark_chain_precision(regno)
    }

    /// `check_reg_type` for the memory argument kinds (`arg`'s
    /// `MEM_RDONLY` and `PTR_MAYBE_NULL` admit those kinds of memory).
    fn check_mem_arg_type(&self, regno: u8, reg: &RegState, arg: ArgType) -> Result<(), Stop> {
        let checked = self.check_mem_arg_type_v6(regno, reg, arg);
        // 7.x also takes a context pointer as memory, and lists `ctx`
        // among the types it expected.
        let ctx = matches!(reg, RegState::PtrToCtx { .. });
        if self.profile.features.walk_v7.ctx_as_memory
            && (ctx || matches!(checked, Err(Stop::Reject(_))))
        {
            return Err(self.unsupported(
                "context pointers as memory arguments of kernel 7.x (walk_v7.ctx_as_memory)",
            ));
        }
        checked
    }

    fn check_mem_arg_type_v6(&self, regno: u8, reg: &RegState, arg: ArgType) -> Result<(), Stop> {
        if let RegState::PtrToMem { ptr, tag, .. } = reg {
            let fits = (!tag.rdonly || arg.flags.has(TypeFlag::MemRdonly))
                && (!ptr.maybe_null || arg.maybe_null());
            return if fits {
                Ok(())
            } else {
                Err(self.type_mismatch(regno, MEM_TYPES))
            };
        }
        match reg {
            RegState::PtrToStack { .. }
            | RegState::PtrToPacket { .. }
            | RegState::PtrToPacketMeta { .. }
            | RegState::PtrToMapKey { .. }
            | RegState::PtrToMapValue {
                maybe_null: false, ..
            } => Ok(()),
            RegState::PtrToBuf(_) | RegState::PtrToBtfId { .. } => {
                Err(self.unsupported("helper memory arguments of this pointer type"))
            }
            _ => Err(self.type_mismatch(regno, MEM_TYPES)),
        }
    }

    /// `get_constant_map_key` for an array lookup: `Ok(Some(k))` when the
    /// key is the constant `k`, `Ok(None)` when it is not known.
    fn constant_map_key(&mut self, reg: &RegState, key_size: i32) -> Result<Option<u64>, Stop> {
        let RegState::PtrToStack { frameno, off, var } = *reg else {
            return Ok(None);
        };
        // Only a constant offset names one key.
        if !var.var_off.equals_const(0) {
            return Ok(None);
        }
        let slot = usize::try_from(-off - 1).unwrap_or(0);
        let frame = &self.cur.frames[usize::from(frameno)];
        let Some(st) = frame.stack.get(slot / SLOT_SIZE) else {
            return Ok(None);
        };
        let run = |t: SlotType| {
            st.types[..=slot % SLOT_SIZE]
                .iter()
                .rev()
                .take_while(|x| **x == t)
                .count()
        };
        let key_size = usize::try_from(key_size).unwrap_or(0);
        if run(SlotType::Zero) >= key_size {
            return Ok(Some(0));
        }
        let spilled_scalar = st.is_spill() && matches!(st.spilled, RegState::Scalar(_));
        if !spilled_scalar || run(SlotType::Spill) != key_size {
            return Ok(None);
        }
        match st.spilled.scalar().and_then(|s| s.value.const_value()) {
            Some(k) => {
                // The lookup relies on the value: no pruning may forget it.
                self.mark_slot_precision(usize::from(frameno), slot / SLOT_SIZE)?;
                Ok(Some(k))
            }
            None => Ok(None),
        }
    }
}

/// What decides which helpers a program may call and with which
/// prototypes (`env->ops->get_func_proto` for this program).
pub(super) fn helper_query<'a>(
    req: &LoadRequest,
    profile: &KernelProfile,
    attach_target: Option<&'a str>,
) -> ProgQuery<'a> {
    ProgQuery {
        sleepable: req.prog_flags & load::BPF_F_SLEEPABLE != 0,
        attach_target,
        ..ProgQuery::new(req.prog_type, req.expected_attach_type, profile.caps)
    }
}

/// The LSM hook an LSM program attaches to, which some of its helpers
/// depend on (`bpf_lsm_func_proto`); `None` for other programs.
pub(super) fn lsm_target(req: &LoadRequest, profile: &KernelProfile) -> Option<String> {
    if req.prog_type != bpfcheck_uapi::ProgType::LSM {
        return None;
    }
    crate::prepare::attach::target(req, profile).map(|t| t.name)
}

/// `ARG_PTR_TO_MAP_VALUE | MEM_UNINIT | MEM_WRITE`: a value the helper
/// copies out of the map (`bpf_map_pop_elem`, `bpf_map_peek_elem`).
fn map_value_out(arg: ArgType) -> bool {
    arg.base == ArgBase::PtrToMapValue
        && arg.flags
            == bpfcheck_profile::helpers::TypeFlags::EMPTY
                .with(TypeFlag::MemUninit)
                .with(TypeFlag::MemWrite)
}
