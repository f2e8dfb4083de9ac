//! Dynptrs on the stack (`STACK_DYNPTR`): the two slots a `struct
//! bpf_dynptr` occupies, their construction, use and destruction as
//! `process_dynptr_func` and its helpers treat them.
//!
//! A dynptr lives in two consecutive 8-byte slots; the upper one (its
//! first slot, the lower `spi + 1`… address-wise the one the pointer
//! names) carries the dynptr's id, kind and, for a ring buffer dynptr,
//! the reference the program must give back. Constructors (`MEM_UNINIT`)
//! write both slots and mark them; users need both slots intact; a store
//! into either slot destroys the whole dynptr and turns the slices taken
//! from it into unknown numbers, unless it holds a reference, which
//! cannot be dropped that way (`cannot overwrite referenced dynptr`).
//!
//! The entry point, [`Checker::process_dynptr_arg`], takes the argument's
//! meaning as a [`DynptrArg`], so that kfunc calls can share it with
//! helper calls.

use bpfcheck_profile::helpers::{ArgType, TypeFlag};
use bpfcheck_uapi::Errno;

use super::Checker;
use super::mem::{Access, Value};
use super::stack_obj::SpiError;
use crate::domain::Scalar;
use crate::error::{ErrorCode, Stop};
use crate::state::{DynptrInfo, DynptrKind, PtrFields, RegState, SLOT_SIZE, SlotType};

/// `BPF_DYNPTR_NR_SLOTS`.
const NR_SLOTS: usize = 2;

/// What an `ARG_PTR_TO_DYNPTR` argument asks of its register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DynptrArg {
    /// `MEM_UNINIT`: the callee constructs a dynptr there.
    pub(crate) uninit: bool,
    /// `MEM_RDONLY`: the callee does not change the dynptr itself.
    pub(crate) rdonly: bool,
    /// `OBJ_RELEASE`: the callee destroys the dynptr and its reference.
    pub(crate) release: bool,
    /// The `DYNPTR_TYPE_*` flag: the kind constructed or expected; `None`
    /// takes any kind.
    pub(crate) kind: Option<DynptrKind>,
    /// A clone's parent's reference, which the clone shares instead of
    /// acquiring its own (`clone_ref_obj_id`); 0 otherwise.
    pub(crate) clone_ref: u32,
}

impl DynptrArg {
    /// The meaning of a helper prototype's `ARG_PTR_TO_DYNPTR` flags;
    /// `None` when a flag is not one of those above.
    pub(crate) fn of_helper_arg(arg: ArgType) -> Option<Self> {
        let mut out = Self {
            uninit: false,
            rdonly: false,
            release: false,
            kind: None,
            clone_ref: 0,
        };
        for f in arg.flags.iter() {
            match f {
                TypeFlag::MemUninit => out.uninit = true,
                TypeFlag::MemRdonly => out.rdonly = true,
                TypeFlag::ObjRelease => out.release = true,
                // The constructor writes the slots; nothing more to it.
                TypeFlag::MemWrite => {}
                TypeFlag::DynptrTypeLocal => out.kind = Some(DynptrKind::Local),
                TypeFlag::DynptrTypeRingbuf => out.kind = Some(DynptrKind::Ringbuf),
                TypeFlag::DynptrTypeSkb => out.kind = Some(DynptrKind::Skb),
                TypeFlag::DynptrTypeXdp => out.kind = Some(DynptrKind::Xdp),
                _ => return None,
            }
        }
        Some(out)
    }
}

/// The dynptr of a stack slot, when the slot holds one.
fn slot_dynptr(reg: &RegState) -> Option<(PtrFields, DynptrInfo)> {
    match *reg {
        RegState::ConstPtrToDynptr { ptr, dynptr } => Some((ptr, dynptr)),
        _ => None,
    }
}

/// The spilled-register half of a dynptr slot, or a callback's dynptr
/// argument (`__mark_dynptr_reg`).
pub(super) fn dynptr_reg(kind: DynptrKind, first_slot: bool, id: u32, ref_obj_id: u32) -> RegState {
    RegState::ConstPtrToDynptr {
        ptr: PtrFields {
            off: 0,
            var: Scalar::constant(0),
            id,
            ref_obj_id,
            maybe_null: false,
        },
        dynptr: DynptrInfo { kind, first_slot },
    }
}

impl Checker<'_> {
    /// `dynptr_get_spi`: the frame and first slot of the dynptr the
    /// stack pointer in `regno` points to.
    fn dynptr_spi(&mut self, regno: u8) -> Result<(usize, usize), SpiError> {
        self.stack_obj_spi(regno, "dynptr", NR_SLOTS)
    }

    /// `process_dynptr_func` for argument register `regno` (`argno` is
    /// its position as the messages count it).
    pub(crate) fn process_dynptr_arg(
        &mut self,
        regno: u8,
        argno: u8,
        arg: DynptrArg,
    ) -> Result<(), Stop> {
        if !self.profile.features.dynptr_slots_v2 {
            return Err(self.unsupported("dynptrs as this kernel tracks them (read marks)"));
        }
        if self.profile.features.walk_v7.dynptr_args {
            return Err(self.unsupported("dynptr arguments of kernel 7.x (walk_v7.dynptr_args)"));
        }
        let reg = *self.cur.cur().reg(regno);
        let is_const = matches!(reg, RegState::ConstPtrToDynptr { .. });
        if !is_const && !matches!(reg, RegState::PtrToStack { .. }) {
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EINVAL,
                format!("arg#{argno} expected pointer to stack or const struct bpf_dynptr"),
            ));
        }
        if let RegState::ConstPtrToDynptr { ptr, dynptr } = reg {
            return self.const_dynptr_arg(regno, argno, arg, &ptr, dynptr);
        }
        if arg.uninit {
            if arg.rdonly {
                return Err(self.unsupported("dynptr arguments both MEM_UNINIT and MEM_RDONLY"));
            }
            if self.dynptr_spi(regno) == Err(SpiError::Invalid) {
                return Err(self.reject(
                    ErrorCode::DynptrState,
                    Errno::EINVAL,
                    "Dynptr has to be an uninitialized dynptr".to_owned(),
                ));
            }
            // The constructor writes the 16 bytes, 8 at a time.
            for off in [0i16, 8] {
                self.helper_stack_store(regno, off)?;
            }
            let Some(kind) = arg.kind else {
                return Err(self.unsupported("dynptr constructors of no kind"));
            };
            return self.mark_stack_slots_dynptr(regno, kind, arg.clone_ref);
        }
        let valid = match self.dynptr_spi(regno) {
            Ok((frame, spi)) => {
                let st = &self.cur.frames[frame].stack;
                let first = slot_dynptr(&st[spi].spilled).is_some_and(|(_, d)| d.first_slot);
                let whole = st[spi].types.iter().all(|t| *t == SlotType::Dynptr)
                    && st[spi - 1].types.iter().all(|t| *t == SlotType::Dynptr);
                (first && whole).then_some((frame, spi))
            }
            Err(_) => None,
        };
        let Some((frame, spi)) = valid else {
            return Err(self.reject(
                ErrorCode::DynptrState,
                Errno::EINVAL,
                format!("Expected an initialized dynptr as arg #{argno}"),
            ));
        };
        let (_, info) = slot_dynptr(&self.cur.frames[frame].stack[spi].spilled)
            .ok_or_else(|| self.unsupported("dynptr slots without a dynptr"))?;
        if let Some(kind) = arg.kind
            && kind != info.kind
        {
            return Err(self.reject(
                ErrorCode::DynptrState,
                Errno::EINVAL,
                format!("Expected a dynptr of type {} as arg #{argno}", kind.name()),
            ));
        }
        // `mark_dynptr_read`: both slots are read.
        for s in [spi, spi - 1] {
            self.stack_live.read(&self.cur, frame, self.insn_idx, s);
            self.live_read_slot(frame, s);
            self.scratch_slot(s);
        }
        Ok(())
    }

    /// `process_dynptr_func` for a `CONST_PTR_TO_DYNPTR` (a callback's
    /// dynptr): always initialised, never constructed, released or
    /// changed.
    fn const_dynptr_arg(
        &mut self,
        regno: u8,
        argno: u8,
        arg: DynptrArg,
        ptr: &PtrFields,
        dynptr: DynptrInfo,
    ) -> Result<(), Stop> {
        if ptr.off != 0 || !ptr.var.var_off.equals_const(0) {
            // `check_func_arg_reg_off`: a callback's dynptr is passed on
            // unmoved.
            let reg = *self.cur.cur().reg(regno);
            self.ptr_off_reg(regno, &reg, ptr.off, &ptr.var, false)?;
        }
        if arg.uninit {
            return Err(self.reject(
                ErrorCode::DynptrState,
                Errno::EINVAL,
                "Dynptr has to be an uninitialized dynptr".to_owned(),
            ));
        }
        if !arg.rdonly {
            return Err(self.reject(
                ErrorCode::DynptrState,
                Errno::EINVAL,
                "cannot pass pointer to const bpf_dynptr, the helper mutates it".to_owned(),
            ));
        }
        if let Some(kind) = arg.kind
            && kind != dynptr.kind
        {
            return Err(self.reject(
                ErrorCode::DynptrState,
                Errno::EINVAL,
                format!("Expected a dynptr of type {} as arg #{argno}", kind.name()),
            ));
        }
        let _ = regno;
        Ok(())
    }

    /// One 8-byte `BPF_WRITE` of an unknown value at `off` from the stack
    /// pointer in `regno`, as `check_mem_access` makes it for a
    /// constructor.
    pub(super) fn helper_stack_store(&mut self, regno: u8, off: i16) -> Result<(), Stop> {
        let base = *self.cur.cur().reg(regno);
        self.mem_access(regno, &base, off, 8, Access::Write)?;
        let at = self.stack_off(&base, off);
        self.stack_write(at, 8, Value::Unknown)
    }

    /// `mark_stack_slots_dynptr`: both slots become the new dynptr, with
    /// a reference for the kinds that hold one.
    fn mark_stack_slots_dynptr(
        &mut self,
        regno: u8,
        kind: DynptrKind,
        clone_ref: u32,
    ) -> Result<(), Stop> {
        let Ok((frame, spi)) = self.dynptr_spi(regno) else {
            return Err(self.unsupported("dynptr slots outside the stack"));
        };
        self.destroy_if_dynptr_slot(frame, spi)?;
        self.destroy_if_dynptr_slot(frame, spi - 1)?;
        let id = self.new_id();
        let ref_obj_id = if kind.referenced() && clone_ref != 0 {
            clone_ref
        } else if kind.referenced() {
            let r = self.new_id();
            self.cur.refs.acquire(r, self.insn_idx);
            r
        } else {
            0
        };
        let stack = &mut self.cur.frames[frame].stack;
        for (s, first) in [(spi, true), (spi - 1, false)] {
            stack[s].types = [SlotType::Dynptr; SLOT_SIZE];
            stack[s].spilled = dynptr_reg(kind, first, id, ref_obj_id);
        }
        self.slots_written(frame, spi);
        Ok(())
    }

    /// Both slots of the dynptr at `spi` are overwritten as a whole
    /// (`REG_LIVE_WRITTEN`, 6.18's `bpf_mark_stack_write`).
    fn slots_written(&mut self, frame: usize, spi: usize) {
        for s in [spi, spi - 1] {
            self.stack_live.write(frame, s);
            self.live_write_slot(frame, s);
        }
    }

    /// `destroy_if_dynptr_stack_slot` for slot `spi` of `frame`, before
    /// anything is written there.
    pub(super) fn destroy_if_dynptr_slot(&mut self, frame: usize, spi: usize) -> Result<(), Stop> {
        let stack = &self.cur.frames[frame].stack;
        let Some(slot) = stack.get(spi) else {
            return Ok(());
        };
        if slot.types[0] != SlotType::Dynptr {
            return Ok(());
        }
        let Some((_, info)) = slot_dynptr(&slot.spilled) else {
            return Err(self.unsupported("dynptr slots without a dynptr"));
        };
        let first = if info.first_slot { spi } else { spi + 1 };
        let Some((ptr, info)) = stack.get(first).and_then(|s| slot_dynptr(&s.spilled)) else {
            return Err(self.unsupported("dynptr slots without a dynptr"));
        };
        if info.kind.referenced() {
            return Err(self.reject(
                ErrorCode::DynptrState,
                Errno::EINVAL,
                "cannot overwrite referenced dynptr".to_owned(),
            ));
        }
        self.scratch_slot(first);
        self.scratch_slot(first - 1);
        let stack = &mut self.cur.frames[frame].stack;
        for s in [first, first - 1] {
            stack[s].types = [SlotType::Invalid; SLOT_SIZE];
        }
        // Slices taken from this dynptr are gone with it.
        let invalid = self.invalid_reg();
        super::sock::for_each_reg(&mut self.cur, |r| {
            if let RegState::PtrToMem { tag, .. } = r
                && tag.dynptr_id == ptr.id
                && (tag.dynptr_kind.is_some() || (!tag.rdonly && !tag.ringbuf))
            {
                *r = invalid;
            }
        });
        let stack = &mut self.cur.frames[frame].stack;
        for s in [first, first - 1] {
            stack[s].spilled = RegState::NotInit;
        }
        self.slots_written(frame, first);
        Ok(())
    }

    /// What `mark_reg_invalid` leaves: an unknown number for a loader
    /// allowed to leak pointers, else nothing readable.
    pub(super) fn invalid_reg(&self) -> RegState {
        let caps = self.profile.caps;
        if caps.perfmon || caps.sys_admin {
            RegState::unknown()
        } else {
            RegState::NotInit
        }
    }

    /// The release check of `check_func_arg` for a dynptr argument:
    /// only a dynptr on the stack holding a reference can be released.
    pub(crate) fn dynptr_release_arg(&mut self, regno: u8) -> Result<(), Stop> {
        if self.profile.features.walk_v7.dynptr_args {
            return Err(self.unsupported("dynptr arguments of kernel 7.x (walk_v7.dynptr_args)"));
        }
        if !matches!(self.cur.cur().reg(regno), RegState::PtrToStack { .. }) {
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EINVAL,
                "cannot release unowned const bpf_dynptr".to_owned(),
            ));
        }
        let held = match self.dynptr_spi(regno) {
            Ok((frame, spi)) => slot_dynptr(&self.cur.frames[frame].stack[spi].spilled)
                .is_some_and(|(p, _)| p.ref_obj_id != 0),
            Err(_) => false,
        };
        if held {
            return Ok(());
        }
        Err(self.reject(
            ErrorCode::HelperCall,
            Errno::EINVAL,
            format!("arg {regno} is an unacquired reference"),
        ))
    }

    /// `unmark_stack_slots_dynptr`: a released dynptr's slots become
    /// never-written; a referenced one's reference goes, with every slice
    /// and every copy of the dynptr that shares it.
    pub(crate) fn unmark_stack_slots_dynptr(&mut self, regno: u8) -> Result<(), Stop> {
        let Ok((frame, spi)) = self.dynptr_spi(regno) else {
            return Err(self.unsupported("released dynptrs outside the stack"));
        };
        let Some((ptr, info)) = slot_dynptr(&self.cur.frames[frame].stack[spi].spilled) else {
            return Err(self.unsupported("dynptr slots without a dynptr"));
        };
        if !info.kind.referenced() {
            self.invalidate_dynptr(frame, spi);
            return Ok(());
        }
        let id = ptr.ref_obj_id;
        self.release_reference(id);
        let n = self.cur.frames[frame].stack.len();
        for s in 1..n {
            let Some((p, d)) = slot_dynptr(&self.cur.frames[frame].stack[s].spilled) else {
                continue;
            };
            if p.ref_obj_id == id && d.first_slot {
                self.invalidate_dynptr(frame, s);
            }
        }
        Ok(())
    }

    /// `invalidate_dynptr`: both slots never written.
    fn invalidate_dynptr(&mut self, frame: usize, spi: usize) {
        let stack = &mut self.cur.frames[frame].stack;
        for s in [spi, spi - 1] {
            stack[s].types = [SlotType::Invalid; SLOT_SIZE];
            stack[s].spilled = RegState::NotInit;
        }
        self.slots_written(frame, spi);
    }

    /// The dynptr the argument `regno` names (its id and reference), for
    /// `bpf_dynptr_data`'s slice.
    pub(crate) fn dynptr_ids(&mut self, regno: u8) -> Result<(u32, u32), Stop> {
        self.dynptr_of(regno).map(|(p, _)| (p.id, p.ref_obj_id))
    }

    /// The initialised dynptr the argument `regno` names: its id and
    /// reference, and its kind (`dynptr_id`, `dynptr_ref_obj_id`,
    /// `dynptr_get_type`).
    pub(crate) fn dynptr_of(&mut self, regno: u8) -> Result<(PtrFields, DynptrKind), Stop> {
        match *self.cur.cur().reg(regno) {
            RegState::ConstPtrToDynptr { ptr, dynptr } => Ok((ptr, dynptr.kind)),
            _ => {
                let Ok((frame, spi)) = self.dynptr_spi(regno) else {
                    return Err(self.unsupported("dynptr slots outside the stack"));
                };
                slot_dynptr(&self.cur.frames[frame].stack[spi].spilled)
                    .map(|(p, d)| (p, d.kind))
                    .ok_or_else(|| self.unsupported("dynptr slots without a dynptr"))
            }
        }
    }

    /// `check_stack_range_initialized`'s refusal of a helper writing
    /// uninitialised memory over a dynptr: the bytes `bytes` from the
    /// frame pointer of `frame`.
    pub(super) fn no_dynptr_under(
        &self,
        frame: usize,
        bytes: std::ops::Range<i32>,
    ) -> Result<(), Stop> {
        let stack = &self.cur.frames[frame].stack;
        for o in bytes {
            let Ok(slot) = usize::try_from(-o - 1) else {
                continue;
            };
            // Writes may go past the stack allocated so far.
            let Some(s) = stack.get(slot / SLOT_SIZE) else {
                continue;
            };
            if s.types[slot % SLOT_SIZE] == SlotType::Dynptr {
                return Err(self.reject(
                    ErrorCode::DynptrState,
                    Errno::EACCES,
                    format!("potential write to dynptr at off={o} disallowed"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bpfcheck_profile::helpers::ArgType;

    use super::DynptrArg;
    use crate::state::DynptrKind;

    #[test]
    fn helper_dynptr_arguments() {
        let arg = |s| DynptrArg::of_helper_arg(ArgType::parse(s).unwrap());
        let ctor = arg("ARG_PTR_TO_DYNPTR|DYNPTR_TYPE_RINGBUF|MEM_UNINIT|MEM_WRITE").unwrap();
        assert!(ctor.uninit && !ctor.rdonly && !ctor.release);
        assert_eq!(ctor.kind, Some(DynptrKind::Ringbuf));
        let rel = arg("ARG_PTR_TO_DYNPTR|DYNPTR_TYPE_RINGBUF|OBJ_RELEASE").unwrap();
        assert!(rel.release && !rel.uninit);
        let any = arg("ARG_PTR_TO_DYNPTR|MEM_RDONLY").unwrap();
        assert!(any.rdonly && any.kind.is_none());
        // A flag with no meaning for dynptrs is not guessed at.
        assert!(arg("ARG_PTR_TO_DYNPTR|PTR_MAYBE_NULL").is_none());
    }
}
