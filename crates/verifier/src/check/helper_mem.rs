//! Memory arguments of helpers: `ARG_PTR_TO_MEM` (with `MEM_RDONLY`,
//! `MEM_UNINIT`, `MEM_WRITE`, `MEM_FIXED_SIZE`, `MEM_ALIGNED`,
//! `PTR_MAYBE_NULL`) and the `ARG_CONST_SIZE[_OR_ZERO]` that sizes it
//! (`check_mem_size_reg`), checked by `check_helper_mem_access` on stack
//! and map-value memory, as the kernel treats a privileged loader.
//!
//! On the stack, a read-only argument leaves the slots as they are (6.14+
//! passes the access type down, so spills stay spills); an argument the
//! helper writes turns zero, never-written and spilled bytes into
//! `STACK_MISC`; an uninitialised-memory argument of constant size is
//! only bounds-checked, and after all arguments `check_helper_call` stores
//! one unknown byte at a time through it.

use bpfcheck_profile::helpers::{ArgType, TypeFlag};
use bpfcheck_uapi::{Errno, ProgType};

use super::Checker;
use super::mem::Access;
use crate::error::{ErrorCode, Stop};
use crate::state::{MAX_STACK, RegState, SLOT_SIZE, SlotType};

/// `BPF_MAX_VAR_SIZ`.
const MAX_VAR_SIZ: u64 = 1 << 29;

/// What memory arguments leave for the rest of the call
/// (`raw_mode`, `access_size`, `regno`, `msize_max_value` of
/// `struct bpf_call_arg_meta`).
#[derive(Default)]
pub(super) struct MemMeta {
    /// The pending pointer argument is uninitialised memory.
    pub(super) raw_mode: bool,
    /// Register and size of the stack bytes the helper will write.
    pub(super) raw_access: Option<(u8, i32)>,
    /// The size argument's largest value.
    pub(super) msize_max: u64,
}

/// `register_is_null`: the scalar 0.
pub(super) fn is_null(reg: &RegState) -> bool {
    matches!(reg, RegState::Scalar(s) if s.value.var_off.equals_const(0))
}

fn access_of(arg: ArgType) -> Access {
    if arg.flags.has(TypeFlag::MemWrite) {
        Access::Write
    } else {
        Access::Read
    }
}

impl Checker<'_> {
    /// Whether `arg` is a memory argument modelled here; others (ring
    /// buffer records, dynptr memory, …) accept other register types.
    pub(super) fn mem_ptr_flags_known(&self, arg: ArgType) -> Result<(), Stop> {
        let known = [
            TypeFlag::MemRdonly,
            TypeFlag::MemUninit,
            TypeFlag::MemWrite,
            TypeFlag::PtrMaybeNull,
            TypeFlag::MemFixedSize,
            TypeFlag::MemAligned,
        ];
        if arg.flags.iter().any(|f| !known.contains(&f)) {
            return Err(self.unsupported(&format!("helper argument type {arg}")));
        }
        Ok(())
    }

    /// `ARG_PTR_TO_MEM` after the type check: records `raw_mode`, and
    /// checks a `MEM_FIXED_SIZE` argument of `fixed` bytes at once.
    pub(super) fn mem_ptr_arg(
        &mut self,
        regno: u8,
        arg: ArgType,
        fixed: Option<u32>,
        meta: &mut MemMeta,
    ) -> Result<(), Stop> {
        meta.raw_mode = arg.flags.has(TypeFlag::MemUninit);
        if !arg.flags.has(TypeFlag::MemFixedSize) {
            return Ok(());
        }
        let Some(size) = fixed.and_then(|s| i32::try_from(s).ok()) else {
            return Err(self.unsupported("fixed-size memory arguments without a size"));
        };
        self.helper_mem_access(regno, size, access_of(arg), false, Some(meta))?;
        if arg.flags.has(TypeFlag::MemAligned) {
            self.helper_mem_aligned(regno, size)?;
        }
        Ok(())
    }

    /// `check_ptr_alignment` with strict alignment for a `MEM_ALIGNED`
    /// argument.
    fn helper_mem_aligned(&mut self, regno: u8, size: i32) -> Result<(), Stop> {
        let (what, off) = match *self.cur.cur().reg(regno) {
            RegState::PtrToStack { var, .. } if !var.var_off.is_const() => {
                return Err(self.unsupported("alignment of variable stack pointers"));
            }
            RegState::PtrToStack { off, .. } => ("stack ", off),
            RegState::PtrToMapValue { off, var, .. } if var.var_off.is_const() => {
                if var.var_off.value != 0 {
                    return Err(self.unsupported("alignment of variable map value pointers"));
                }
                ("value ", off)
            }
            RegState::PtrToMapValue { .. } => {
                return Err(self.unsupported("alignment of variable map value pointers"));
            }
            _ => return Ok(()),
        };
        if off.rem_euclid(size) == 0 {
            return Ok(());
        }
        Err(self.reject(
            ErrorCode::InvalidMemAccess,
            Errno::EACCES,
            format!(
                "misaligned {what}access off {}+{off}+0 size {size}",
                self.tnum_str(crate::domain::Tnum::constant(0))
            ),
        ))
    }

    /// `check_mem_size_reg` for the size in `regno` of the memory the
    /// previous argument `ptr_arg` points to.
    pub(super) fn mem_size_arg(
        &mut self,
        regno: u8,
        ptr_arg: ArgType,
        zero_ok: bool,
        meta: &mut MemMeta,
    ) -> Result<(), Stop> {
        self.mem_size_access(regno, access_of(ptr_arg), zero_ok, meta)
    }

    /// `check_mem_size_reg` for an `access` of the memory the register
    /// before `regno` points to.
    pub(super) fn mem_size_access(
        &mut self,
        regno: u8,
        access: Access,
        zero_ok: bool,
        meta: &mut MemMeta,
    ) -> Result<(), Stop> {
        let RegState::Scalar(s) = *self.cur.cur().reg(regno) else {
            let got = self.cur.cur().reg(regno).type_str();
            return Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EACCES,
                format!("R{regno} type={got} expected=scalar"),
            ));
        };
        let v = s.value;
        meta.msize_max = v.umax;
        // A variable size cannot say which bytes the helper writes: the
        // memory is then checked as if read (`meta = NULL`).
        let meta = if v.var_off.is_const() {
            Some(meta)
        } else {
            None
        };
        let fail = |msg: String| self.reject(ErrorCode::InvalidMemAccess, Errno::EACCES, msg);
        if v.smin < 0 {
            return Err(fail(format!(
                "R{regno} min value is negative, either use unsigned or 'var &= const'"
            )));
        }
        if v.umin == 0 && !zero_ok {
            if self.profile.features.walk_v6_1.zero_size_checks {
                return Err(self.unsupported(
                    "zero-sized helper memory of kernel 6.1 (walk_v6_1.zero_size_checks)",
                ));
            }
            return Err(fail(format!(
                "R{regno} invalid zero-sized read: u64=[{},{}]",
                v.umin as i64, v.umax as i64
            )));
        }
        if v.umax >= MAX_VAR_SIZ {
            return Err(fail(format!(
                "R{regno} unbounded memory access, use 'var &= const' or 'if (var < const)'"
            )));
        }
        let size = i32::try_from(v.umax).unwrap_or(i32::MAX);
        self.helper_mem_access(regno - 1, size, access, zero_ok, meta)?;
        self.mark_chain_precision(regno)
    }

    /// `check_helper_mem_access` for `size` bytes at the pointer in
    /// `regno`.
    pub(super) fn helper_mem_access(
        &mut self,
        regno: u8,
        size: i32,
        access: Access,
        zero_ok: bool,
        meta: Option<&mut MemMeta>,
    ) -> Result<(), Stop> {
        let reg = *self.cur.cur().reg(regno);
        match reg {
            RegState::PtrToStack { frameno, off, var } if !var.var_off.is_const() => {
                self.helper_stack_var_range(regno, frameno, off, &var, size, zero_ok, access)
            }
            RegState::PtrToStack { frameno, off, .. } => {
                self.helper_stack_range(regno, frameno, off, size, zero_ok, access, meta)
            }
            RegState::PtrToMapValue {
                maybe_null: false, ..
            } => {
                let write = access == Access::Write;
                self.map_value_access_sized(regno, &reg, 0, size, (write, false), zero_ok)
            }
            RegState::PtrToCtx { .. } if !converts_ctx_access(self.prog_type) => {
                // Without a rewrite of context accesses the kernel cannot
                // size the context, and checks the last byte the helper
                // would touch as a one-byte access of its own.
                if size == 0 {
                    return if zero_ok {
                        Ok(())
                    } else {
                        Err(self.reject(ErrorCode::HelperCall, Errno::EACCES, String::new()))
                    };
                }
                let last = i16::try_from(size - 1).unwrap_or(i16::MAX);
                self.ctx_access(regno, &reg, last, 1, access == Access::Write, false)
                    .map(drop)
            }
            RegState::Scalar(_) | RegState::PtrToCtx { .. } => {
                // An empty access through NULL is allowed for any type.
                if zero_ok && size == 0 && is_null(&reg) {
                    return Ok(());
                }
                Err(self.reject(
                    ErrorCode::HelperCall,
                    Errno::EACCES,
                    format!("R{regno} type={} expected=fp", reg.type_str()),
                ))
            }
            RegState::PtrToPacket { .. } | RegState::PtrToPacketMeta { .. } => {
                self.check_packet_access(regno, &reg, 0, size, zero_ok)
            }
            RegState::PtrToMem { tag, .. } => {
                if tag.rdonly && access == Access::Write {
                    return Err(self.reject(
                        ErrorCode::InvalidMemAccess,
                        Errno::EACCES,
                        format!("R{regno} cannot write into {}", reg.type_str()),
                    ));
                }
                self.mem_region_bounds(regno, &reg, 0, size, zero_ok)
            }
            RegState::PtrToMapKey { .. } => {
                self.helper_map_key_access(regno, &reg, size, access == Access::Write)
            }
            // `check_ptr_to_btf_access` as a read, whatever the helper does.
            RegState::PtrToBtfId { ptr, .. } if !ptr.maybe_null && size > 0 => {
                self.btf_ptr_load(regno, &reg, 0, size).map(drop)
            }
            _ => Err(self.unsupported("helper memory arguments of this pointer type")),
        }
    }

    /// `check_stack_range_initialized` for a helper's access through a
    /// stack pointer with a variable offset: never raw (uninitialised
    /// memory would stay uninitialised where the helper did not write),
    /// so every byte it may touch is checked as for a read.
    #[allow(clippy::too_many_arguments)]
    fn helper_stack_var_range(
        &mut self,
        regno: u8,
        frameno: u8,
        off: i32,
        var: &crate::domain::Scalar,
        size: i32,
        zero_ok: bool,
        access: Access,
    ) -> Result<(), Stop> {
        if size == 0 && !zero_ok {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                "invalid zero-sized read".to_owned(),
            ));
        }
        let typed = self.profile.features.helper_mem_access_types;
        let what = match access {
            _ if !typed => " indirect access to",
            Access::Read => " read from",
            Access::Write => " write to",
        };
        let (min, max) = self.stack_var_bounds(regno, frameno, off, var, size, what)?;
        // Before access types, a helper could write any stack argument.
        let clobber = access == Access::Write || !typed;
        self.stack_var_range(
            regno,
            frameno,
            var,
            min,
            max + i64::from(size),
            size,
            clobber,
        )
    }

    /// `check_stack_range_initialized` for a helper's access at the
    /// constant offset `off` from frame `frameno`'s frame pointer.
    #[allow(clippy::too_many_arguments)]
    fn helper_stack_range(
        &mut self,
        regno: u8,
        frameno: u8,
        off: i32,
        size: i32,
        zero_ok: bool,
        access: Access,
        meta: Option<&mut MemMeta>,
    ) -> Result<(), Stop> {
        let reject = |errno, msg: String| self.reject(ErrorCode::InvalidMemAccess, errno, msg);
        if size == 0 && !zero_ok {
            return Err(reject(Errno::EACCES, "invalid zero-sized read".to_owned()));
        }
        // `check_stack_access_within_bounds`: a privileged loader may
        // touch the whole 512 bytes.
        let errno = if !(-MAX_STACK..=-1).contains(&off) {
            Some(Errno::EACCES)
        } else if off + size > 0 {
            Some(Errno::EINVAL)
        } else {
            None
        };
        let typed = self.profile.features.helper_mem_access_types;
        if let Some(errno) = errno {
            let what = match access {
                _ if !typed => "indirect access to",
                Access::Read => "read from",
                Access::Write => "write to",
            };
            return Err(reject(
                errno,
                format!("invalid {what} stack R{regno} off={off} size={size}"),
            ));
        }
        self.grow_stack(frameno, usize::try_from(-off).unwrap_or(0));
        let fr = usize::from(frameno);
        let bytes = off..off + size;
        let slot_of = |o: i32| {
            let slot = usize::try_from(-o - 1).unwrap_or(0);
            (slot / SLOT_SIZE, slot % SLOT_SIZE)
        };
        if let Some(meta) = meta.filter(|m| m.raw_mode) {
            // Only bounds now; the writes follow the last argument.
            self.no_dynptr_under(fr, bytes)?;
            meta.raw_access = Some((regno, size));
            return Ok(());
        }
        // Before access types, a helper could write any stack argument.
        let clobber = access == Access::Write || !typed;
        let mut read = Vec::new();
        for o in bytes {
            let (spi, b) = slot_of(o);
            let slot = &mut self.cur.frames[fr].stack[spi];
            match touch_stack_byte(slot, b, clobber) {
                None => {}
                Some(SlotType::Dynptr | SlotType::Iter) => {
                    let extra = if typed { "" } else { " indirect" };
                    return Err(self.reject(
                        ErrorCode::InvalidMemAccess,
                        Errno::EACCES,
                        format!(
                            "invalid{extra} read from stack R{regno} off {off}+{} size {size}",
                            o - off
                        ),
                    ));
                }
                Some(_) => {
                    return Err(self.unsupported("helper access to irq-flag stack slots"));
                }
            }
            if !read.contains(&spi) {
                read.push(spi);
            }
        }
        for spi in read {
            self.stack_live.read(&self.cur, fr, self.insn_idx, spi);
            self.live_read_slot(fr, spi);
        }
        Ok(())
    }
}

/// Whether the program type's verifier ops rewrite context accesses
/// (`convert_ctx_access`); those without one take a helper's context
/// argument only where a byte access would be valid.
fn converts_ctx_access(t: ProgType) -> bool {
    !matches!(
        t,
        ProgType::KPROBE
            | ProgType::TRACEPOINT
            | ProgType::RAW_TRACEPOINT
            | ProgType::RAW_TRACEPOINT_WRITABLE
            | ProgType::TRACING
            | ProgType::LSM
            | ProgType::SYSCALL
            | ProgType::CGROUP_DEVICE
            | ProgType::EXT
            | ProgType::STRUCT_OPS
            | ProgType::NETFILTER
            | ProgType::LIRC_MODE2
    )
}

/// A helper's (or a variable-offset) access to byte `b` of a stack slot
/// (`check_stack_range_initialized`): a clobbering access turns what it
/// touches into `STACK_MISC`, and a spill it touches into an unknown
/// scalar. Gives the slot type of a dynptr, iterator or IRQ-flag slot,
/// which such an access may not touch (the caller says how).
pub(super) fn touch_stack_byte(
    slot: &mut crate::state::StackSlot,
    b: usize,
    clobber: bool,
) -> Option<SlotType> {
    match slot.types[b] {
        SlotType::Misc => {}
        // Privileged: never-written bytes may be passed too.
        SlotType::Zero | SlotType::Invalid => {
            if clobber {
                slot.types[b] = SlotType::Misc;
            }
        }
        SlotType::Spill => {
            if clobber {
                slot.spilled = RegState::unknown();
                slot.written_bytes_to_misc();
            }
        }
        special @ (SlotType::Dynptr | SlotType::Iter | SlotType::IrqFlag) => return Some(special),
    }
    None
}
