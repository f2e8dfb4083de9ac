//! `LDX`, `STX` and `ST` on the stack (`check_mem_access` with
//! `check_stack_read_fixed_off` / `check_stack_write_fixed_off`), as the
//! kernel treats a privileged loader (`bpf_capable`, `allow_ptr_leaks`,
//! `allow_uninit_stack`, no speculative-store sanitation).

use bpfcheck_isa::RegArg;
use bpfcheck_uapi::{Errno, RawInsn, op};

use super::Checker;
use crate::error::{ErrorCode, Stop};
use crate::state::{MAX_STACK, RegState, SLOT_SIZE, SlotType, StackSlot};

/// The direction of an access (`enum bpf_access_type`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    Read,
    Write,
}

/// What a store writes.
#[derive(Clone, Copy)]
pub(super) enum Value {
    Reg(u8),
    Imm(i32),
    /// Bytes a helper writes (`value_regno` -1): nothing known.
    Unknown,
}

/// A stack pointer whose offset is not a known constant
/// (`!tnum_is_const(reg->var_off)`).
fn is_var_stack(r: &RegState) -> bool {
    matches!(r, RegState::PtrToStack { var, .. } if !var.var_off.is_const())
}

fn size_bytes(code: u8) -> i32 {
    match op::size(code) {
        op::B => 1,
        op::H => 2,
        op::W => 4,
        _ => 8,
    }
}

impl Checker<'_> {
    pub(super) fn ldx(&mut self, insn: &RawInsn) -> Result<(), Stop> {
        // The source's type before the load (which may overwrite it); a
        // bad register number is refused by the load first.
        let base = self.cur.cur().regs.get(usize::from(insn.src)).copied();
        self.load(insn)?;
        base.map_or(Ok(()), |b| self.save_ptr_type(&b))
    }

    /// `save_aux_ptr_type`: one load or store instruction must not go
    /// through the context (or a socket) on one path and through other
    /// memory on another, since the kernel rewrites context accesses.
    fn save_ptr_type(&mut self, base: &RegState) -> Result<(), Stop> {
        let ty = base.type_str();
        let special = |t: &str| {
            matches!(
                t,
                "ctx" | "sock" | "sock_common" | "tcp_sock" | "xdp_sock" | "arena"
            ) || t.contains("ptr_")
        };
        // Loads may mix trusted and untrusted BTF pointers, and memory
        // (`allow_trust_mismatch`).
        let btf_or_mem = |t: &str| t.contains("ptr_") || t.ends_with("mem");
        let seen = &mut self.ptr_type_seen[self.insn_idx];
        match *seen {
            None => *seen = Some(ty),
            Some(prev) if btf_or_mem(prev) && btf_or_mem(ty) => {}
            Some(prev) if prev != ty && (special(prev) || special(ty)) => {
                return Err(self.reject(
                    ErrorCode::InvalidMemAccess,
                    Errno::EINVAL,
                    "same insn cannot be used with different pointers".to_owned(),
                ));
            }
            Some(_) => {}
        }
        Ok(())
    }

    fn load(&mut self, insn: &RawInsn) -> Result<(), Stop> {
        self.read_reg(insn.src)?;
        self.write_reg(insn.dst, RegArg::DstNoMark)?;
        let size = size_bytes(insn.code);
        let base = *self.cur.cur().reg(insn.src);
        let ldsx = op::mode(insn.code) == op::MEMSX;
        if let RegState::PtrToCtx { .. } = base {
            let loaded = self.ctx_access(insn.src, &base, insn.off, size, false, ldsx)?;
            *self.cur.cur_mut().reg_mut(insn.dst) = loaded;
        } else if matches!(
            base,
            RegState::PtrToPacket { .. } | RegState::PtrToPacketMeta { .. }
        ) {
            self.pkt_access(insn.src, &base, insn.off, size)?;
            *self.cur.cur_mut().reg_mut(insn.dst) = RegState::unknown();
        } else if let RegState::PtrToMapValue {
            maybe_null: false, ..
        } = base
        {
            if self.strict_alignment {
                self.map_value_aligned(insn.src, insn.off, size)?;
            }
            self.map_value_access(insn.src, &base, i32::from(insn.off), size, false)?;
            if !self.kptr_access(insn, &base, i32::from(insn.off))? {
                let v = match self.map_direct_read(&base, i32::from(insn.off), size) {
                    Some(v) => RegState::constant(v),
                    None => RegState::unknown(),
                };
                *self.cur.cur_mut().reg_mut(insn.dst) = v;
            }
        } else if let RegState::PtrToMem { .. } = base {
            self.mem_region_access(insn.src, &base, insn.off, size, false)?;
            *self.cur.cur_mut().reg_mut(insn.dst) = RegState::unknown();
        } else if let RegState::PtrToFlowKeys(_) = base {
            self.flow_keys_access(&base, insn.off, size)?;
            *self.cur.cur_mut().reg_mut(insn.dst) = RegState::unknown();
        } else if let RegState::PtrToMapKey { .. } = base {
            self.map_key_access(insn.src, &base, insn.off, size, false)?;
            *self.cur.cur_mut().reg_mut(insn.dst) = RegState::unknown();
        } else if let RegState::PtrToBtfId { .. } = base {
            let loaded = self.btf_ptr_load(insn.src, &base, insn.off, size)?;
            *self.cur.cur_mut().reg_mut(insn.dst) = loaded;
        } else if let RegState::PtrToTpBuffer(p) = base {
            self.tp_buffer_access(insn.src, &p, insn.off, size)?;
            *self.cur.cur_mut().reg_mut(insn.dst) = RegState::unknown();
        } else if let RegState::ConstPtrToMap { map } = base {
            let loaded = self.map_ptr_load(insn.src, map, insn.off, size)?;
            *self.cur.cur_mut().reg_mut(insn.dst) = loaded;
        } else if super::sock::sock_fields(&base).is_some() {
            self.sock_access(insn.src, &base, insn.off, size, Access::Read)?;
            *self.cur.cur_mut().reg_mut(insn.dst) = RegState::unknown();
        } else if is_var_stack(&base) {
            self.stack_var_access(insn.src, insn.off, size, Access::Read, Ok(insn.dst))?;
        } else {
            self.mem_access(insn.src, &base, insn.off, size, Access::Read)?;
            let off = self.stack_off(&base, insn.off);
            self.stack_read(off, size, Some(insn.dst))?;
        }
        self.coerce_loaded(insn.dst, size, ldsx);
        Ok(())
    }

    /// A load narrower than 8 bytes keeps the loaded width's value
    /// (`coerce_reg_to_size`, or its sign-extending form for `MEMSX`).
    pub(super) fn coerce_loaded(&mut self, dst: u8, size: i32, sx: bool) {
        if size < 8
            && let Some(s) = self.cur.cur_mut().reg_mut(dst).scalar_mut()
        {
            let bytes = u8::try_from(size).unwrap_or(8);
            if sx {
                s.value.coerce_to_size_sx(bytes);
            } else {
                s.value.coerce_to_size(self.era, bytes);
            }
        }
    }

    /// The read-modify-write of an atomic instruction on the stack at
    /// `off` from the pointer in `regno`: a check-only read, the fetch
    /// into `load` if any, then a store of an unknown value.
    pub(super) fn stack_rmw(
        &mut self,
        regno: u8,
        off: i16,
        size: i32,
        load: Option<u8>,
    ) -> Result<(), Stop> {
        let base = *self.cur.cur().reg(regno);
        self.mem_access(regno, &base, off, size, Access::Read)?;
        let at = self.stack_off(&base, off);
        self.stack_read(at, size, None)?;
        if let Some(load) = load {
            self.stack_read(at, size, Some(load))?;
            self.coerce_loaded(load, size, false);
        }
        let base = *self.cur.cur().reg(regno);
        self.mem_access(regno, &base, off, size, Access::Write)?;
        self.stack_write(at, size, Value::Unknown)
    }

    pub(super) fn stx(&mut self, insn: &RawInsn) -> Result<(), Stop> {
        self.read_reg(insn.src)?;
        self.read_reg(insn.dst)?;
        self.store(insn, Value::Reg(insn.src))
    }

    pub(super) fn st(&mut self, insn: &RawInsn) -> Result<(), Stop> {
        self.read_reg(insn.dst)?;
        self.st_into_ctx(insn)?;
        self.store(insn, Value::Imm(insn.imm))
    }

    fn store(&mut self, insn: &RawInsn, value: Value) -> Result<(), Stop> {
        let base = self.cur.cur().regs.get(usize::from(insn.dst)).copied();
        self.store_access(insn, value)?;
        base.map_or(Ok(()), |b| self.save_ptr_type(&b))
    }

    fn store_access(&mut self, insn: &RawInsn, value: Value) -> Result<(), Stop> {
        let size = size_bytes(insn.code);
        let base = *self.cur.cur().reg(insn.dst);
        if let RegState::PtrToCtx { .. } = base {
            // The context's memory is not tracked; a privileged loader may
            // store pointers there too.
            return self
                .ctx_access(insn.dst, &base, insn.off, size, true, false)
                .map(|_| ());
        }
        if matches!(
            base,
            RegState::PtrToPacket { .. } | RegState::PtrToPacketMeta { .. }
        ) {
            // Packet memory is not tracked; a privileged loader may store
            // pointers there too.
            self.check_packet_write()?;
            return self.pkt_access(insn.dst, &base, insn.off, size);
        }
        if let RegState::PtrToMapValue {
            maybe_null: false, ..
        } = base
        {
            // Map memory is not tracked; a privileged loader may store
            // pointers there too.
            if self.strict_alignment {
                self.map_value_aligned(insn.dst, insn.off, size)?;
            }
            self.map_value_access(insn.dst, &base, i32::from(insn.off), size, true)?;
            return self.kptr_access(insn, &base, i32::from(insn.off)).map(drop);
        }
        if let RegState::PtrToMem { .. } = base {
            // Memory of a known size is not tracked either.
            return self.mem_region_access(insn.dst, &base, insn.off, size, true);
        }
        if let RegState::PtrToMapKey { .. } = base {
            return self.map_key_access(insn.dst, &base, insn.off, size, true);
        }
        if let RegState::PtrToBtfId { btf, .. } = base
            && btf.owner.local()
        {
            return self
                .alloc_access(insn.dst, &base, insn.off, size, true)
                .map(drop);
        }
        if super::sock::sock_fields(&base).is_some() {
            return self.sock_access(insn.dst, &base, insn.off, size, Access::Write);
        }
        if let RegState::PtrToFlowKeys(_) = base {
            // Flow keys are not tracked; a privileged loader may store
            // pointers there too.
            return self.flow_keys_access(&base, insn.off, size);
        }
        if let RegState::PtrToTpBuffer(p) = base {
            // Nor is the tracepoint's buffer.
            return self.tp_buffer_access(insn.dst, &p, insn.off, size);
        }
        if is_var_stack(&base) {
            return self.stack_var_access(insn.dst, insn.off, size, Access::Write, Err(value));
        }
        self.mem_access(insn.dst, &base, insn.off, size, Access::Write)?;
        let off = self.stack_off(&base, insn.off);
        self.stack_write(off, size, value)
    }

    /// The byte stores `check_helper_call` makes through register `regno`
    /// for an uninitialised-memory argument of `size` bytes on the stack
    /// (`meta.access_size`): each is a one-byte `BPF_WRITE` of an unknown
    /// value, checked as a store instruction would be.
    pub(super) fn helper_raw_writes(&mut self, regno: u8, size: i32) -> Result<(), Stop> {
        for i in 0..size {
            let base = *self.cur.cur().reg(regno);
            let off = i16::try_from(i).map_err(|_| self.unsupported("huge helper writes"))?;
            self.mem_access(regno, &base, off, 1, Access::Write)?;
            let at = self.stack_off(&base, off);
            self.stack_write(at, 1, Value::Unknown)?;
        }
        Ok(())
    }

    pub(super) fn stack_off(&self, base: &RegState, off: i16) -> i32 {
        match base {
            RegState::PtrToStack { off: roff, var, .. } => {
                roff.wrapping_add(var.var_off.value as i32) + i32::from(off)
            }
            _ => 0,
        }
    }

    /// The pointer-type dispatch of `check_mem_access`, alignment and
    /// bounds; only stack pointers get through.
    pub(super) fn mem_access(
        &mut self,
        regno: u8,
        base: &RegState,
        off: i16,
        size: i32,
        access: Access,
    ) -> Result<(), Stop> {
        match base {
            RegState::PtrToStack { var, .. } if !var.var_off.is_const() => {
                Err(self
                    .unsupported("stack pointers with variable offsets (atomics, helper writes)"))
            }
            RegState::PtrToStack {
                frameno, off: roff, ..
            } => {
                // The frame whose stack the access goes to (a callee may
                // hold a pointer into its callers' stacks).
                self.access_frame = usize::from(*frameno);
                let full = roff + i32::from(off);
                if full.rem_euclid(size) != 0 {
                    return Err(self.reject(
                        ErrorCode::InvalidMemAccess,
                        Errno::EACCES,
                        format!(
                            "misaligned stack access off {}+{roff}+{off} size {size}",
                            self.tnum_str(crate::domain::Tnum::constant(0))
                        ),
                    ));
                }
                if !(-MAX_STACK..=-1).contains(&full) || full + size > 0 {
                    let what = match access {
                        Access::Read => "read from",
                        Access::Write => "write to",
                    };
                    return Err(self.reject(
                        ErrorCode::InvalidMemAccess,
                        Errno::EACCES,
                        format!("invalid {what} stack R{regno} off={full} size={size}"),
                    ));
                }
                let need = usize::try_from(-full).unwrap_or(0);
                self.grow_stack(*frameno, need);
                Ok(())
            }
            RegState::Scalar(_) => Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!("R{regno} invalid mem access 'scalar'"),
            )),
            RegState::PtrToMapValue {
                maybe_null: true, ..
            }
            | RegState::PtrToPacketEnd
            | RegState::ConstPtrToMapOrNull { .. }
            | RegState::ConstPtrToDynptr { .. } => Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!("R{regno} invalid mem access '{}'", base.type_str()),
            )),
            // `check_ptr_to_map_access` walks the kernel's `struct bpf_map`
            // (or the map type's own struct) in vmlinux BTF, as signed
            // loaders do to read a map's hash.
            RegState::ConstPtrToMap { map } => self.map_ptr_access(regno, *map, off, access),
            _ => Err(self.unsupported("memory access through this pointer type")),
        }
    }

    /// Slot index and byte index in it of stack offset `off`.
    fn slot_of(off: i32) -> (usize, usize) {
        let slot = usize::try_from(-off - 1).unwrap_or(0);
        (slot / SLOT_SIZE, slot % SLOT_SIZE)
    }

    pub(super) fn stack_write(&mut self, off: i32, size: i32, value: Value) -> Result<(), Stop> {
        let (spi, _) = Self::slot_of(off);
        self.destroy_if_dynptr_slot(self.access_frame, spi)?;
        self.fastcall_contract(off);
        self.scratch_slot(spi);
        if size == 8 {
            self.stack_live.write(self.access_frame, spi);
            self.live_write_slot(self.access_frame, spi);
        }
        let width = usize::try_from(size).unwrap_or(8);
        let aligned = off % 8 == 0;
        let reg = match value {
            Value::Reg(r) => Some(*self.cur.cur().reg(r)),
            Value::Imm(_) | Value::Unknown => None,
        };
        if self.profile.features.walk_v6_1.spill_rules {
            let stored = match (value, reg) {
                (Value::Reg(r), Some(reg)) => super::v6_1::Stored::Reg(r, reg),
                (Value::Imm(imm), _) => super::v6_1::Stored::Imm(imm),
                _ => super::v6_1::Stored::Unknown,
            };
            if self.stack_write_v6_1(spi, off, width, stored)? {
                return Ok(());
            }
        }
        match (reg, value) {
            (Some(RegState::Scalar(s)), Value::Reg(r)) if aligned => {
                let fits = 64 - s.value.umax.leading_zeros() <= 8 * size.unsigned_abs();
                if fits {
                    self.assign_spill_id(r);
                }
                let mut spilled = *self.cur.cur().reg(r);
                if !fits && let Some(s) = spilled.scalar_mut() {
                    s.id = 0;
                }
                self.save_spill(spi, spilled, width);
                self.push_hist_stack(spi);
            }
            (None, Value::Imm(imm)) if aligned => {
                let v = RegState::constant(i64::from(imm) as u64);
                self.save_spill(spi, v, width);
                self.push_hist_stack(spi);
            }
            (Some(r), _) if r.is_pointer() => {
                if size != 8 {
                    self.log.source_line(self.insn_idx, "; ");
                    return Err(self.reject(
                        ErrorCode::InvalidMemAccess,
                        Errno::EACCES,
                        "invalid size of register spill".to_owned(),
                    ));
                }
                self.save_spill(spi, r, width);
                self.push_hist_stack(spi);
            }
            _ => {
                let zero = match (reg, value) {
                    (Some(RegState::Scalar(s)), _) => s.value.var_off.equals_const(0),
                    (None, Value::Imm(0)) => true,
                    _ => false,
                };
                if zero && let Value::Reg(r) = value {
                    // No longer a spill: the zero must stay exact.
                    self.mark_chain_precision(r)?;
                }
                let frame = &mut self.cur.frames[self.access_frame];
                let slot = &mut frame.stack[spi];
                slot.spilled = RegState::NotInit;
                if slot.is_special() {
                    slot.written_bytes_to_misc();
                }
                let ty = if zero { SlotType::Zero } else { SlotType::Misc };
                for i in 0..width {
                    let (s2, b) = Self::slot_of(off + i32::try_from(i).unwrap_or(0));
                    if let Some(slot) = frame.stack.get_mut(s2) {
                        slot.types[b] = ty;
                    }
                }
            }
        }
        Ok(())
    }

    /// `assign_scalar_id_before_mov` on a spilled register.
    fn assign_spill_id(&mut self, r: u8) {
        let needs = matches!(self.cur.cur().reg(r),
            RegState::Scalar(s) if (s.id == 0 && !s.value.is_const()) || s.id & crate::state::reg::ADD_CONST != 0);
        if !needs {
            return;
        }
        let Some(s) = self.cur.cur_mut().reg_mut(r).scalar_mut() else {
            return;
        };
        if s.id & crate::state::reg::ADD_CONST != 0 {
            s.clear_id();
        }
        // A constant whose link was dropped needs no new id.
        if !s.value.is_const() {
            let id = self.new_id();
            if let Some(s) = self.cur.cur_mut().reg_mut(r).scalar_mut() {
                s.id = id;
            }
        }
    }

    /// `save_register_state`: the top `size` bytes become the spill; the
    /// bytes above keep zeros and (privileged) never-written marks.
    fn save_spill(&mut self, spi: usize, reg: RegState, size: usize) {
        let slot = &mut self.cur.frames[self.access_frame].stack[spi];
        slot.spilled = reg;
        for (j, t) in slot.types.iter_mut().enumerate() {
            if j >= SLOT_SIZE - size {
                *t = SlotType::Spill;
            } else if !matches!(*t, SlotType::Zero | SlotType::Invalid) {
                *t = SlotType::Misc;
            }
        }
    }

    /// `check_stack_read_fixed_off` into `dst`, or only the checks (and
    /// the history entry of a full fill) when there is none.
    fn stack_read(&mut self, off: i32, size: i32, dst: Option<u8>) -> Result<(), Stop> {
        self.fastcall_contract(off);
        let (spi, _) = Self::slot_of(off);
        // 6.1 marks a slot for printing when written, not when read.
        if !self.profile.features.walk_v6_1.state_print {
            self.scratch_slot(spi);
        }
        self.stack_live
            .read(&self.cur, self.access_frame, self.insn_idx, spi);
        self.live_read_slot(self.access_frame, spi);
        let width = usize::try_from(size).unwrap_or(8);
        let slot: StackSlot = self.cur.frames[self.access_frame].stack[spi];
        let bytes: Vec<SlotType> = (0..width)
            .map(|i| {
                let (s2, b) = Self::slot_of(off + i32::try_from(i).unwrap_or(0));
                self.cur.frames[self.access_frame]
                    .stack
                    .get(s2)
                    .map_or(SlotType::Invalid, |s| s.types[b])
            })
            .collect();
        let v6_1 = if self.profile.features.walk_v6_1.spill_rules {
            self.stack_read_v6_1(spi, off, &bytes, dst)?
        } else {
            None
        };
        let new = if let Some(v) = v6_1 {
            v
        } else if slot.is_spill() {
            let spill = slot.spill_size();
            if width == SLOT_SIZE && spill == SLOT_SIZE {
                self.push_hist_stack(spi);
                slot.spilled
            } else {
                let RegState::Scalar(s) = slot.spilled else {
                    self.log.source_line(self.insn_idx, "; ");
                    return Err(self.reject(
                        ErrorCode::InvalidMemAccess,
                        Errno::EACCES,
                        "invalid size of register fill".to_owned(),
                    ));
                };
                let Some(_) = dst else {
                    return Ok(());
                };
                // `bpf_stack_narrow_access_ok`: the low end of the spill.
                let narrow_ok = width <= spill && off % 8 == 0;
                if narrow_ok {
                    self.push_hist_stack(spi);
                    let mut s = s;
                    if 64 - s.value.umax.leading_zeros() > 8 * size.unsigned_abs() {
                        s.id = 0;
                    }
                    RegState::Scalar(s)
                } else {
                    let spills = bytes.iter().filter(|t| **t == SlotType::Spill).count();
                    let zeros = bytes.iter().filter(|t| **t == SlotType::Zero).count();
                    if spills == width && s.value.var_off.equals_const(0) {
                        self.push_hist_stack(spi);
                        RegState::constant(0)
                    } else if zeros == width {
                        RegState::constant(0)
                    } else {
                        RegState::unknown()
                    }
                }
            }
        } else if bytes.iter().all(|t| *t == SlotType::Zero) {
            RegState::constant(0)
        } else if bytes
            .iter()
            .all(|t| matches!(t, SlotType::Misc | SlotType::Zero | SlotType::Invalid))
        {
            RegState::unknown()
        } else if let Some(i) = bytes
            .iter()
            .position(|t| matches!(t, SlotType::Dynptr | SlotType::Iter))
        {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!("invalid read from stack off {off}+{i} size {size}"),
            ));
        } else {
            return Err(self.unsupported("stack reads of irq-flag slots"));
        };
        if let Some(dst) = dst {
            *self.cur.cur_mut().reg_mut(dst) = new;
        }
        Ok(())
    }
}

impl Checker<'_> {
    /// `check_tp_buffer_access`: a writable raw tracepoint's buffer is
    /// accessed at fixed, non-negative offsets (its size is checked when
    /// the program is attached, not here).
    pub(super) fn tp_buffer_access(
        &mut self,
        regno: u8,
        ptr: &crate::state::PtrFields,
        insn_off: i16,
        size: i32,
    ) -> Result<(), Stop> {
        let off = ptr.off + i32::from(insn_off);
        let reject =
            |s: &Self, msg: String| s.reject(ErrorCode::InvalidMemAccess, Errno::EACCES, msg);
        if off < 0 {
            return Err(reject(
                self,
                format!("R{regno} invalid tracepoint buffer access: off={off}, size={size}"),
            ));
        }
        if !ptr.var.var_off.equals_const(0) {
            return Err(reject(
                self,
                format!(
                    "R{regno} invalid variable buffer offset: off={off}, var_off={}",
                    self.tnum_str(ptr.var.var_off)
                ),
            ));
        }
        Ok(())
    }
}
