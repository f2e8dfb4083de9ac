//! A frame's stack: 8-byte slots, each with a per-byte type and, for
//! spills, the register that was written (`struct bpf_stack_state`).

use super::reg::{RegState, fmt_reg};

/// Bytes per slot (`BPF_REG_SIZE`).
pub const SLOT_SIZE: usize = 8;

/// What one stack byte holds (`enum bpf_stack_slot_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SlotType {
    /// Never written (`STACK_INVALID`).
    #[default]
    Invalid,
    /// Part of a spilled register (`STACK_SPILL`).
    Spill,
    /// Some data (`STACK_MISC`).
    Misc,
    /// Known zero (`STACK_ZERO`).
    Zero,
    /// Part of a dynptr (`STACK_DYNPTR`).
    Dynptr,
    /// Part of an iterator (`STACK_ITER`).
    Iter,
    /// An irq flag (`STACK_IRQ_FLAG`).
    IrqFlag,
}

impl SlotType {
    /// The character the log prints for this byte (`slot_type_char`).
    pub fn log_char(self) -> char {
        match self {
            Self::Invalid => '?',
            Self::Spill => 'r',
            Self::Misc => 'm',
            Self::Zero => '0',
            Self::Dynptr => 'd',
            Self::Iter => 'i',
            Self::IrqFlag => 'f',
        }
    }
}

/// One 8-byte slot. `types[j]` is the byte at `-(8 * spi + j + 1)` from
/// the frame pointer: index 7 is the slot's lowest address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct StackSlot {
    /// Per-byte types.
    pub types: [SlotType; SLOT_SIZE],
    /// The spilled register when `types[7]` is [`SlotType::Spill`].
    pub spilled: RegState,
}

impl StackSlot {
    /// `is_spilled_reg`: the slot's last byte belongs to a spill.
    pub fn is_spill(&self) -> bool {
        self.types[SLOT_SIZE - 1] == SlotType::Spill
    }

    /// Bytes of the spill, counted from the slot's low end.
    pub fn spill_size(&self) -> usize {
        self.types
            .iter()
            .rev()
            .take_while(|t| **t == SlotType::Spill)
            .count()
    }

    /// Dynptr, iterator or irq-flag bytes (`is_stack_slot_special`).
    pub fn is_special(&self) -> bool {
        matches!(
            self.types[SLOT_SIZE - 1],
            SlotType::Spill | SlotType::Dynptr | SlotType::Iter | SlotType::IrqFlag
        )
    }

    /// Every written byte becomes `STACK_MISC` (`scrub_special_slot`'s
    /// and a clobbered spill's byte types).
    pub fn written_bytes_to_misc(&mut self) {
        for t in &mut self.types {
            if *t != SlotType::Invalid {
                *t = SlotType::Misc;
            }
        }
    }

    /// Whether any byte was written.
    pub fn is_valid(&self) -> bool {
        self.types.iter().any(|t| *t != SlotType::Invalid)
    }
}

/// `fpN=…` for slot `spi` as `print_verifier_state` writes it, or nothing
/// for a slot never written.
pub(crate) fn fmt_slot(
    out: &mut String,
    spi: usize,
    slot: &StackSlot,
    live: u8,
    frameno: u8,
    maps: &[bpfcheck_uapi::MapSpec],
) {
    if !slot.is_valid() {
        return;
    }
    let chars: String = slot.types.iter().map(|t| t.log_char()).collect();
    let off = -(i64::try_from(spi).unwrap_or(0) + 1) * SLOT_SIZE as i64;
    out.push_str(&format!(" fp{off}"));
    super::live::suffix(out, live);
    out.push('=');
    if slot.is_spill() {
        // The bytes above a narrow spill print before the register.
        let first_spill = slot
            .types
            .iter()
            .position(|t| *t == SlotType::Spill)
            .unwrap_or(SLOT_SIZE);
        out.push_str(&chars[..first_spill]);
        fmt_reg(out, &slot.spilled, frameno, maps);
    } else {
        out.push_str(&chars);
    }
}

/// `fpN=dynptr_KIND(id=…,ref_id=…)` for the dynptr whose first slot is
/// `spi`, as `print_verifier_state` writes it.
pub(crate) fn fmt_dynptr(out: &mut String, spi: usize, slot: &StackSlot, live: u8) {
    let off = -(i64::try_from(spi).unwrap_or(0) + 1) * SLOT_SIZE as i64;
    out.push_str(&format!(" fp{off}"));
    super::live::suffix(out, live);
    let RegState::ConstPtrToDynptr { ptr, dynptr } = slot.spilled else {
        out.push_str("=dynptr_<invalid>()");
        return;
    };
    out.push_str(&format!("=dynptr_{}(", dynptr.kind.name()));
    let mut items = Vec::new();
    if ptr.id != 0 {
        items.push(format!("id={}", ptr.id));
    }
    if ptr.ref_obj_id != 0 {
        items.push(format!("ref_id={}", ptr.ref_obj_id));
    }
    // The kernel prints the slot's `dynptr_id`, which shares its bytes
    // with `dynptr.first_slot`: 1 for a first slot.
    if dynptr.first_slot {
        items.push("dynptr_id=1".to_owned());
    }
    out.push_str(&items.join(","));
    out.push(')');
}

/// `fpN=iter_TYPE(ref_id=…,state=…,depth=…)` for an iterator's first
/// slot `spi`, as `print_verifier_state` writes it; its other slots print
/// nothing.
pub(crate) fn fmt_iter(out: &mut String, spi: usize, slot: &StackSlot, live: u8) {
    let RegState::IterSlot { ref_obj_id, iter } = slot.spilled else {
        return;
    };
    if ref_obj_id == 0 {
        return;
    }
    let off = -(i64::try_from(spi).unwrap_or(0) + 1) * SLOT_SIZE as i64;
    out.push_str(&format!(" fp{off}"));
    super::live::suffix(out, live);
    out.push_str(&format!(
        "=iter_{}(ref_id={ref_obj_id},state={},depth={})",
        iter.kind.name(),
        iter.state.name(),
        iter.depth
    ));
}

#[cfg(test)]
mod tests {
    use super::{SLOT_SIZE, SlotType, StackSlot, fmt_dynptr};
    use crate::domain::Scalar;
    use crate::state::{DynptrInfo, DynptrKind, PtrFields, RegState};

    fn slot(kind: DynptrKind, first_slot: bool, id: u32, ref_obj_id: u32) -> StackSlot {
        StackSlot {
            types: [SlotType::Dynptr; SLOT_SIZE],
            spilled: RegState::ConstPtrToDynptr {
                ptr: PtrFields {
                    off: 0,
                    var: Scalar::constant(0),
                    id,
                    ref_obj_id,
                    maybe_null: false,
                },
                dynptr: DynptrInfo { kind, first_slot },
            },
        }
    }

    #[test]
    fn iterator_slots_print_their_first_slot_only() {
        use super::fmt_iter;
        use crate::state::{IterInfo, IterKind, IterState};
        let iter = IterInfo {
            kind: IterKind::Bits,
            btf_id: 7,
            state: IterState::Drained,
            depth: 2,
        };
        let first = StackSlot {
            types: [SlotType::Iter; SLOT_SIZE],
            spilled: RegState::IterSlot {
                ref_obj_id: 3,
                iter,
            },
        };
        let mut out = String::new();
        fmt_iter(&mut out, 2, &first, 0);
        assert_eq!(out, " fp-24=iter_bits(ref_id=3,state=drained,depth=2)");
        let other = StackSlot {
            spilled: RegState::IterSlot {
                ref_obj_id: 0,
                iter,
            },
            ..first
        };
        out.clear();
        fmt_iter(&mut out, 1, &other, 0);
        assert_eq!(out, "");
    }

    #[test]
    fn dynptr_slots_print_as_the_kernel_prints_them() {
        let mut out = String::new();
        fmt_dynptr(&mut out, 1, &slot(DynptrKind::Ringbuf, true, 3, 4), 0);
        assert_eq!(out, " fp-16=dynptr_ringbuf(id=3,ref_id=4,dynptr_id=1)");
        out.clear();
        fmt_dynptr(&mut out, 2, &slot(DynptrKind::Local, false, 2, 0), 0);
        assert_eq!(out, " fp-24=dynptr_local(id=2)");
    }
}
