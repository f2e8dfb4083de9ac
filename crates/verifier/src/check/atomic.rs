//! `BPF_STX | BPF_ATOMIC` (`check_atomic`): the read-modify-write
//! operations (`add`, `or`, `and`, `xor`, each with or without `BPF_FETCH`,
//! `xchg`, `cmpxchg`) and 6.15's `load_acquire` / `store_release`, on the
//! stack and on map values, as the kernel treats a privileged loader (no
//! pointer-leak checks).
//!
//! An operation reads the location (checks only), fetches the old value
//! into its load register (`src`, or `R0` for `cmpxchg`), then stores an
//! unknown value: a stack slot becomes `STACK_MISC`. Map-value accesses
//! are aligned strictly (`strict_alignment_once`). Arena pointers and the
//! other pointer kinds are not modelled.

use bpfcheck_uapi::{Errno, RawInsn};

use super::Checker;
use crate::error::{ErrorCode, Stop};
use crate::state::RegState;
use bpfcheck_isa::RegArg;

/// `BPF_FETCH`.
const FETCH: i32 = 0x01;
/// `BPF_ADD`, `BPF_OR`, `BPF_AND`, `BPF_XOR`.
const RMW_OPS: [i32; 4] = [0x00, 0x40, 0x50, 0xa0];
/// `BPF_XCHG`, `BPF_CMPXCHG` (both include `BPF_FETCH`).
const XCHG: i32 = 0xe0 | FETCH;
const CMPXCHG: i32 = 0xf0 | FETCH;
/// `BPF_LOAD_ACQ`, `BPF_STORE_REL`.
const LOAD_ACQ: i32 = 0x100;
const STORE_REL: i32 = 0x110;

fn size_bytes(code: u8) -> i32 {
    match bpfcheck_uapi::op::size(code) {
        bpfcheck_uapi::op::B => 1,
        bpfcheck_uapi::op::H => 2,
        bpfcheck_uapi::op::W => 4,
        _ => 8,
    }
}

impl Checker<'_> {
    pub(super) fn atomic(&mut self, insn: &RawInsn) -> Result<(), Stop> {
        match insn.imm {
            LOAD_ACQ => self.load_acquire(insn),
            STORE_REL => self.store_release(insn),
            imm if RMW_OPS.contains(&(imm & !FETCH)) || imm == XCHG || imm == CMPXCHG => {
                self.atomic_rmw(insn)
            }
            // The encoding checks refused every other operation already.
            _ => Err(self.unsupported("this atomic operation")),
        }
    }

    /// `atomic_ptr_type_ok`: context, packet, flow-key and socket pointers
    /// are refused; `Err(None)` for pointer kinds not modelled.
    fn atomic_ptr_refused(&self, regno: u8) -> Result<Option<&'static str>, Stop> {
        match self.cur.cur().reg(regno) {
            RegState::PtrToCtx { .. } => Ok(Some("ctx")),
            RegState::PtrToFlowKeys(_) => Ok(Some("flow_keys")),
            r @ (RegState::PtrToPacket { .. } | RegState::PtrToPacketMeta { .. }) => {
                Ok(Some(r.type_str()))
            }
            RegState::NotInit
            | RegState::Scalar(_)
            | RegState::PtrToStack { .. }
            | RegState::PtrToMapValue { .. }
            | RegState::ConstPtrToMap { .. } => Ok(None),
            _ => Err(self.unsupported("atomic operations through this pointer type")),
        }
    }

    fn atomic_refusal(&self, what: &str, regno: u8, ty: &str) -> Stop {
        self.reject(
            ErrorCode::InvalidMemAccess,
            Errno::EACCES,
            format!("BPF_ATOMIC {what} R{regno} {ty} is not allowed"),
        )
    }

    /// `check_generic_ptr_alignment` with `strict`, for a map value:
    /// `misaligned value access off …`.
    pub(super) fn map_value_aligned(&self, regno: u8, off: i16, size: i32) -> Result<(), Stop> {
        let RegState::PtrToMapValue { off: roff, var, .. } = *self.cur.cur().reg(regno) else {
            return Ok(());
        };
        let Some(v) = var.const_value() else {
            return Err(self.unsupported("alignment of variable map value pointers"));
        };
        if v != 0 {
            return Err(self.unsupported("alignment of variable map value pointers"));
        }
        let at = i64::from(roff) + i64::from(off);
        if at.rem_euclid(i64::from(size)) == 0 {
            return Ok(());
        }
        Err(self.reject(
            ErrorCode::InvalidMemAccess,
            Errno::EACCES,
            format!(
                "misaligned value access off {}+{roff}+{off} size {size}",
                self.tnum_str(crate::domain::Tnum::constant(0))
            ),
        ))
    }

    fn load_acquire(&mut self, insn: &RawInsn) -> Result<(), Stop> {
        if let Some(ty) = self.atomic_ptr_refused(insn.src)? {
            return Err(self.atomic_refusal("loads from", insn.src, ty));
        }
        if matches!(
            self.cur.cur().reg(insn.src),
            RegState::PtrToMapValue {
                maybe_null: false,
                ..
            }
        ) {
            self.read_reg(insn.src)?;
            self.write_reg(insn.dst, RegArg::DstNoMark)?;
            self.map_value_aligned(insn.src, insn.off, size_bytes(insn.code))?;
        }
        self.ldx(insn)
    }

    fn store_release(&mut self, insn: &RawInsn) -> Result<(), Stop> {
        if let Some(ty) = self.atomic_ptr_refused(insn.dst)? {
            return Err(self.atomic_refusal("stores into", insn.dst, ty));
        }
        if matches!(
            self.cur.cur().reg(insn.dst),
            RegState::PtrToMapValue {
                maybe_null: false,
                ..
            }
        ) {
            self.read_reg(insn.src)?;
            self.read_reg(insn.dst)?;
            self.map_value_aligned(insn.dst, insn.off, size_bytes(insn.code))?;
        }
        self.stx(insn)
    }

    /// `check_atomic_rmw`.
    fn atomic_rmw(&mut self, insn: &RawInsn) -> Result<(), Stop> {
        let size = size_bytes(insn.code);
        self.read_reg(insn.src)?;
        self.read_reg(insn.dst)?;
        if insn.imm == CMPXCHG {
            self.read_reg(0)?;
        }
        if let Some(ty) = self.atomic_ptr_refused(insn.dst)? {
            return Err(self.atomic_refusal("stores into", insn.dst, ty));
        }
        let load =
            (insn.imm & FETCH != 0).then_some(if insn.imm == CMPXCHG { 0 } else { insn.src });
        if let Some(load) = load {
            self.write_reg(load, RegArg::Dst)?;
        }
        let base = *self.cur.cur().reg(insn.dst);
        match base {
            RegState::PtrToMapValue {
                maybe_null: false, ..
            } => {
                let off = i32::from(insn.off);
                self.map_value_aligned(insn.dst, insn.off, size)?;
                self.map_value_access(insn.dst, &base, off, size, false)?;
                // A kptr there refuses the atomic's mode.
                self.kptr_access(insn, &base, off)?;
                if let Some(load) = load {
                    let v = match self.map_direct_read(&base, off, size) {
                        Some(v) => RegState::constant(v),
                        None => RegState::unknown(),
                    };
                    *self.cur.cur_mut().reg_mut(load) = v;
                    self.coerce_loaded(load, size, false);
                }
                self.map_value_access(insn.dst, &base, off, size, true)
            }
            // Stack pointers, and the refusals of other kinds.
            _ => self.stack_rmw(insn.dst, insn.off, size, load),
        }
    }
}
