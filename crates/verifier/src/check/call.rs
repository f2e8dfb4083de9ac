//! Helper calls (`check_helper_call`): the prototype comes from the kernel
//! profile (`get_func_proto` of the program type), the arguments are
//! checked in order (`check_func_arg`), caller-saved registers are
//! clobbered and `R0` takes the return type.
//!
//! Modelled argument kinds: `ARG_ANYTHING`, `ARG_CONST_MAP_PTR`,
//! `ARG_PTR_TO_MAP_KEY`, `ARG_PTR_TO_MAP_VALUE` (read), `ARG_PTR_TO_CTX`,
//! with stack and map-value pointers as memory. Modelled returns:
//! `RET_INTEGER`, `RET_VOID`, `RET_PTR_TO_MAP_VALUE_OR_NULL`. Helpers that
//! take a map are modelled with the plain hash and array maps, for
//! `bpf_map_lookup_elem`, `bpf_map_update_elem` and `bpf_map_delete_elem`.
//! Everything else is reported as unsupported, naming the feature.

use bpfcheck_profile::helpers::{
    ArgBase, ArgType, HelperProto, HelperUnavailable, ProgQuery, RetBase, TypeFlag,
};
use bpfcheck_uapi::{Errno, MapType, RawInsn, load, op};

use super::Checker;
use crate::domain::Scalar;
use crate::error::{ErrorCode, Stop};
use crate::state::{MapIdx, RegState, SLOT_SIZE, SlotType};

/// `BPF_FUNC_map_lookup_elem`, `_update_elem`, `_delete_elem`.
const MAP_LOOKUP: u32 = 1;
const MAP_UPDATE: u32 = 2;
const MAP_DELETE: u32 = 3;

/// The register types `ARG_PTR_TO_MAP_KEY`/`_VALUE` and `ARG_PTR_TO_MEM`
/// accept (`map_key_value_types`, `mem_types`), as the kernel lists them
/// when refusing a register.
const MEM_TYPES: &str =
    "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_";

/// `license_is_gpl_compatible`.
fn gpl_compatible(license: &str) -> bool {
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
}

impl Checker<'_> {
    pub(super) fn call(&mut self, insn: &RawInsn) -> Result<(), Stop> {
        match insn.src {
            op::PSEUDO_CALL => return Err(self.unsupported("bpf-to-bpf calls")),
            op::PSEUDO_KFUNC_CALL => return Err(self.unsupported("kfunc calls")),
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
        if proto.allowed.is_some() {
            return Err(self.unsupported("helpers with an `allowed` callback"));
        }
        if proto.might_sleep && self.req.prog_flags & load::BPF_F_SLEEPABLE == 0 {
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EINVAL,
                "helper call might sleep in a non-sleepable prog".to_owned(),
            ));
        }
        let mut meta = Meta::default();
        for (i, arg) in proto.args.iter().enumerate() {
            let regno = u8::try_from(i + 1).unwrap_or(1);
            self.check_func_arg(regno, *arg, &mut meta)?;
        }
        self.check_map_func_compat(proto, &meta)?;
        let frame = self.cur.cur_mut();
        for r in 1..=5u8 {
            *frame.reg_mut(r) = RegState::NotInit;
        }
        for r in 0..=5u8 {
            self.scratch_reg(r);
        }
        let ret = proto.ret;
        let r0 = match ret.base {
            RetBase::Integer if ret.flags.is_empty() => RegState::unknown(),
            RetBase::Void => RegState::NotInit,
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
                RegState::PtrToMapValue {
                    map,
                    off: 0,
                    var: Scalar::constant(0),
                    maybe_null,
                    id: if maybe_null { self.new_id() } else { 0 },
                }
            }
            _ => return Err(self.unsupported(&format!("helper return type {ret}"))),
        };
        *self.cur.cur_mut().reg_mut(0) = r0;
        Ok(())
    }

    /// `get_helper_proto` with the kernel's messages.
    fn helper_proto(&self, id: i32) -> Result<&'static HelperProto, Stop> {
        let q = ProgQuery {
            sleepable: self.req.prog_flags & load::BPF_F_SLEEPABLE != 0,
            ..ProgQuery::new(
                self.req.prog_type,
                self.req.expected_attach_type,
                self.profile.caps,
            )
        };
        match self.profile.helper_for(id, &q) {
            Ok(p) => Ok(p),
            Err(
                e @ (HelperUnavailable::UnknownId { .. } | HelperUnavailable::NotOffered { .. }),
            ) => Err(self.reject(ErrorCode::HelperCall, Errno::EINVAL, e.to_string())),
            Err(e) => Err(self.unsupported(&format!("helper prototypes ({e})"))),
        }
    }

    fn type_mismatch(&self, regno: u8, expected: &str) -> Stop {
        let got = self.cur.cur().reg(regno).type_str();
        self.reject(
            ErrorCode::HelperCall,
            Errno::EACCES,
            format!("R{regno} type={got} expected={expected}"),
        )
    }

    /// `check_func_arg` for one argument.
    fn check_func_arg(&mut self, regno: u8, arg: ArgType, meta: &mut Meta) -> Result<(), Stop> {
        if arg.base == ArgBase::DontCare {
            return Ok(());
        }
        self.read_reg(regno)?;
        let reg = *self.cur.cur().reg(regno);
        match arg.base {
            // A privileged loader may pass pointers as numbers.
            ArgBase::Anything => Ok(()),
            ArgBase::ConstMapPtr if arg.flags.is_empty() => {
                let RegState::ConstPtrToMap { map } = reg else {
                    return Err(self.type_mismatch(regno, "map_ptr"));
                };
                meta.map = Some(map);
                Ok(())
            }
            ArgBase::PtrToCtx if arg.flags.is_empty() => match reg {
                RegState::PtrToCtx { off: 0 } => Ok(()),
                RegState::PtrToCtx { .. } => Err(self.unsupported("modified context pointers")),
                _ => Err(self.type_mismatch(regno, "ctx")),
            },
            ArgBase::PtrToMapKey | ArgBase::PtrToMapValue if arg.flags.is_empty() => {
                self.check_mem_arg_type(regno, &reg)?;
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
                    && matches!(spec.map_type, MapType::ARRAY | MapType::PERCPU_ARRAY);
                let size = i32::try_from(size).map_err(|_| self.unsupported("huge map keys"))?;
                self.helper_mem_read(regno, &reg, size)?;
                if key_of_array_lookup {
                    meta.const_key = self.constant_map_key(&reg, size)?;
                }
                Ok(())
            }
            _ => Err(self.unsupported(&format!("helper argument type {arg}"))),
        }
    }

    /// `check_reg_type` for the memory argument kinds.
    fn check_mem_arg_type(&self, regno: u8, reg: &RegState) -> Result<(), Stop> {
        match reg {
            RegState::PtrToStack { .. }
            | RegState::PtrToMapValue {
                maybe_null: false, ..
            } => Ok(()),
            RegState::PtrToPacket { .. }
            | RegState::PtrToPacketMeta { .. }
            | RegState::PtrToMapKey { .. }
            | RegState::PtrToMem { .. }
            | RegState::PtrToBuf(_)
            | RegState::PtrToBtfId { .. } => {
                Err(self.unsupported("helper memory arguments of this pointer type"))
            }
            _ => Err(self.type_mismatch(regno, MEM_TYPES)),
        }
    }

    /// `check_helper_mem_access` for a read of `size` bytes.
    fn helper_mem_read(&mut self, regno: u8, reg: &RegState, size: i32) -> Result<(), Stop> {
        match *reg {
            RegState::PtrToStack { frameno, off } => {
                if usize::from(frameno) + 1 != self.cur.frames.len() {
                    return Err(self.unsupported("pointers to a caller's stack"));
                }
                if off < -crate::state::MAX_STACK || off + size > 0 || size <= 0 {
                    // 6.18 answers EINVAL here (measured on the live
                    // kernel), unlike direct stack accesses.
                    return Err(self.reject(
                        ErrorCode::InvalidMemAccess,
                        Errno::EINVAL,
                        format!("invalid read from stack R{regno} off={off} size={size}"),
                    ));
                }
                let need = usize::try_from(-off).unwrap_or(0);
                self.cur.cur_mut().grow_stack(need);
                // Privileged: never-written bytes may be read; dynptr,
                // iterator and irq-flag slots are not modelled.
                let mut spis = Vec::new();
                for o in off..off + size {
                    let slot = usize::try_from(-o - 1).unwrap_or(0);
                    let (spi, b) = (slot / SLOT_SIZE, slot % SLOT_SIZE);
                    let t = self.cur.cur().stack[spi].types[b];
                    if matches!(t, SlotType::Dynptr | SlotType::Iter | SlotType::IrqFlag) {
                        return Err(self.unsupported("helper reads of special stack slots"));
                    }
                    if !spis.contains(&spi) {
                        spis.push(spi);
                    }
                }
                for spi in spis {
                    self.stack_live.read(self.insn_idx, spi);
                }
                Ok(())
            }
            RegState::PtrToMapValue { .. } => {
                self.map_value_access(regno, reg, 0, size, false)?;
                Ok(())
            }
            _ => Err(self.type_mismatch(regno, MEM_TYPES)),
        }
    }

    /// `get_constant_map_key` for an array lookup: `Ok(Some(k))` when the
    /// key is the constant `k`, `Ok(None)` when it is not known.
    fn constant_map_key(&self, reg: &RegState, key_size: i32) -> Result<Option<u64>, Stop> {
        let RegState::PtrToStack { off, .. } = *reg else {
            return Ok(None);
        };
        let slot = usize::try_from(-off - 1).unwrap_or(0);
        let Some(st) = self.cur.cur().stack.get(slot / SLOT_SIZE) else {
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
        match st.spilled.scalar() {
            Some(s) if s.value.is_const() => {
                // The kernel marks the slot precise here (its own log lines).
                Err(self.unsupported("array lookups with a spilled constant key"))
            }
            _ => Ok(None),
        }
    }

    /// `check_map_func_compatibility` for the cases modelled: the map
    /// helpers on plain hash and array maps.
    fn check_map_func_compat(&self, proto: &HelperProto, meta: &Meta) -> Result<(), Stop> {
        let Some(map) = meta.map else {
            return Ok(());
        };
        let plain = matches!(
            self.maps[map.0 as usize].map_type,
            MapType::HASH
                | MapType::ARRAY
                | MapType::PERCPU_HASH
                | MapType::PERCPU_ARRAY
                | MapType::LRU_HASH
                | MapType::LRU_PERCPU_HASH
        );
        if plain && matches!(proto.id, MAP_LOOKUP | MAP_UPDATE | MAP_DELETE) {
            Ok(())
        } else {
            Err(self.unsupported("helper/map type compatibility"))
        }
    }
}
