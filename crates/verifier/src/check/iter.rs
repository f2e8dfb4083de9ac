//! Open-coded iterators (`STACK_ITER`): the `struct bpf_iter_<type>` a
//! program keeps on its stack between `bpf_iter_<type>_new`, `_next` and
//! `_destroy` (`process_iter_arg`, `process_iter_next_call`).
//!
//! An iterator occupies `size / 8` consecutive slots; the first (the one
//! the pointer names, highest slot index) carries the reference the
//! program must give back with `_destroy`. `_new` wants slots free of any
//! iterator and writes them 8 bytes at a time before marking them; the
//! other kfuncs want an intact iterator of their type.
//!
//! Each `_next` call forks the walk: the current path sees the iterator
//! drained (`NULL` or `false`, and again on every later call), the queued
//! one an element, the iterator still active one iteration deeper. The
//! call is a forced checkpoint; an active state there that an older one
//! still being explored covers (scalar ranges compared, precision marks
//! being unfinished) ends as a loop backedge: the loop converged.

use bpfcheck_uapi::Errno;

use super::Checker;
use super::stack_obj::SpiError;
use crate::error::{ErrorCode, Stop};
use crate::prepare::kfunc::Pointee;
use crate::state::{IterInfo, IterKind, IterState, RegState, SLOT_SIZE, SlotType, VerifierState};

/// What `process_iter_arg` leaves for `process_iter_next_call`
/// (`meta->iter`, `meta->ref_obj_id`).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct IterMeta {
    /// The frame and first slot of the iterator a `_next` call advances.
    pub(super) slot: Option<(usize, usize)>,
    /// The iterator's reference, carried by memory `_next` returns.
    pub(super) ref_obj_id: u32,
}

/// What kind of iterator kfunc a call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum IterOp {
    New,
    Next,
    Destroy,
    /// Any other kfunc taking an `__iter` argument.
    Other,
}

/// The iterator a stack slot holds.
fn slot_iter(reg: &RegState) -> Option<(u32, IterInfo)> {
    match *reg {
        RegState::IterSlot { ref_obj_id, iter } => Some((ref_obj_id, iter)),
        _ => None,
    }
}

/// The modelled iterator type of a `struct bpf_iter_<type> *` parameter,
/// with its slot count.
pub(super) fn iter_type(pt: &Pointee) -> Option<(IterKind, usize)> {
    let kind = IterKind::of_struct(&pt.name)?;
    let size = usize::try_from(pt.size?).ok()?;
    (pt.composite && size > 0 && size % SLOT_SIZE == 0).then_some((kind, size / SLOT_SIZE))
}

/// `iter_active_depths_differ`: an iterator active in `old` is at
/// another depth in `cur`, so the two are different iterations, not an
/// infinite loop.
pub(super) fn active_depths_differ(old: &VerifierState, cur: &VerifierState) -> bool {
    for (fo, fc) in old.frames.iter().zip(&cur.frames).rev() {
        for (spi, so) in fo.stack.iter().enumerate() {
            if so.types[0] != SlotType::Iter {
                continue;
            }
            let Some((_, o)) = slot_iter(&so.spilled) else {
                continue;
            };
            if o.state != IterState::Active {
                continue;
            }
            let c = fc.stack.get(spi).and_then(|s| slot_iter(&s.spilled));
            if c.is_none_or(|(_, c)| c.depth != o.depth) {
                return true;
            }
        }
    }
    false
}

/// Whether the iterator `R1` names in `st` (a `_next` call's argument)
/// is active: the convergence test of `is_state_visited`.
pub(super) fn arg_iter_active(st: &VerifierState) -> bool {
    let RegState::PtrToStack { frameno, off, var } = *st.cur().reg(1) else {
        return false;
    };
    if !var.var_off.is_const() {
        return false;
    }
    let off = off.wrapping_add(var.var_off.value as i32);
    let Ok(spi) = usize::try_from((-i64::from(off) - 1) / SLOT_SIZE as i64) else {
        return false;
    };
    st.frames
        .get(usize::from(frameno))
        .and_then(|f| f.stack.get(spi))
        .and_then(|s| slot_iter(&s.spilled))
        .is_some_and(|(_, i)| i.state == IterState::Active)
}

impl Checker<'_> {
    /// `iter_get_spi`: the frame and first slot of an iterator of
    /// `nr_slots` the stack pointer in `regno` points to.
    fn iter_spi(&mut self, regno: u8, nr_slots: usize) -> Result<(usize, usize), SpiError> {
        self.stack_obj_spi(regno, "iter", nr_slots)
    }

    /// `process_iter_arg` for argument `argno` (register `argno + 1`), a
    /// pointer to `struct bpf_iter_<kind>` of `nr_slots` slots.
    pub(super) fn process_iter_arg(
        &mut self,
        argno: usize,
        op: IterOp,
        (kind, nr_slots): (IterKind, usize),
        btf_id: u32,
        meta: &mut IterMeta,
    ) -> Result<(), Stop> {
        let regno = u8::try_from(argno + 1).unwrap_or(1);
        if !matches!(self.cur.cur().reg(regno), RegState::PtrToStack { .. }) {
            return Err(self.reject(
                ErrorCode::KfuncCall,
                Errno::EINVAL,
                format!("arg#{argno} expected pointer to an iterator on stack"),
            ));
        }
        let name = kind.name();
        if op == IterOp::New {
            let free = match self.iter_spi(regno, nr_slots) {
                Err(SpiError::Range) => true,
                Err(SpiError::Invalid) => false,
                Ok((frame, spi)) => (0..nr_slots).all(|k| {
                    !self.cur.frames[frame].stack[spi - k]
                        .types
                        .contains(&SlotType::Iter)
                }),
            };
            if !free {
                return Err(self.reject(
                    ErrorCode::KfuncCall,
                    Errno::EINVAL,
                    format!("expected uninitialized iter_{name} as arg #{argno}"),
                ));
            }
            for k in 0..nr_slots {
                let off = i16::try_from(k * SLOT_SIZE).unwrap_or(0);
                self.helper_stack_store(regno, off)?;
            }
            return self.mark_stack_slots_iter(regno, kind, btf_id, nr_slots);
        }
        let valid = match self.iter_spi(regno, nr_slots) {
            Ok((frame, spi)) => self.iter_valid_init(frame, spi, btf_id, nr_slots),
            Err(_) => false,
        };
        if !valid {
            return Err(self.reject(
                ErrorCode::KfuncCall,
                Errno::EINVAL,
                format!("expected an initialized iter_{name} as arg #{argno}"),
            ));
        }
        let Ok((frame, spi)) = self.iter_spi(regno, nr_slots) else {
            unreachable!("checked above")
        };
        // `mark_iter_read`.
        for k in 0..nr_slots {
            self.stack_live
                .read(&self.cur, frame, self.insn_idx, spi - k);
            self.live_read_slot(frame, spi - k);
            self.scratch_slot(spi - k);
        }
        meta.slot = Some((frame, spi));
        meta.ref_obj_id =
            slot_iter(&self.cur.frames[frame].stack[spi].spilled).map_or(0, |(r, _)| r);
        if op == IterOp::Destroy {
            self.unmark_stack_slots_iter(frame, spi, nr_slots, meta.ref_obj_id);
        }
        Ok(())
    }

    /// `is_iter_reg_valid_init`: every slot an iterator of this type, the
    /// reference in the first only.
    fn iter_valid_init(&self, frame: usize, spi: usize, btf_id: u32, nr_slots: usize) -> bool {
        let stack = &self.cur.frames[frame].stack;
        (0..nr_slots).all(|k| {
            let slot = &stack[spi - k];
            let Some((ref_obj_id, iter)) = slot_iter(&slot.spilled) else {
                return false;
            };
            (ref_obj_id != 0) == (k == 0)
                && iter.btf_id == btf_id
                && slot.types.iter().all(|t| *t == SlotType::Iter)
        })
    }

    /// `mark_stack_slots_iter`: a new reference, the slots an active
    /// iterator at depth 0.
    fn mark_stack_slots_iter(
        &mut self,
        regno: u8,
        kind: IterKind,
        btf_id: u32,
        nr_slots: usize,
    ) -> Result<(), Stop> {
        let Ok((frame, spi)) = self.iter_spi(regno, nr_slots) else {
            return Err(self.unsupported("iterator slots outside the stack"));
        };
        let id = self.new_id();
        self.cur.refs.acquire(id, self.insn_idx);
        let iter = IterInfo {
            kind,
            btf_id,
            state: IterState::Active,
            depth: 0,
        };
        for k in 0..nr_slots {
            let slot = &mut self.cur.frames[frame].stack[spi - k];
            slot.types = [SlotType::Iter; SLOT_SIZE];
            slot.spilled = RegState::IterSlot {
                ref_obj_id: if k == 0 { id } else { 0 },
                iter,
            };
            self.stack_live.write(frame, spi - k);
            self.live_write_slot(frame, spi - k);
            self.scratch_slot(spi - k);
        }
        Ok(())
    }

    /// `unmark_stack_slots_iter`: the reference released (and whatever
    /// `_next` returned with it), the slots never written.
    fn unmark_stack_slots_iter(&mut self, frame: usize, spi: usize, nr_slots: usize, id: u32) {
        self.release_reference(id);
        for k in 0..nr_slots {
            let slot = &mut self.cur.frames[frame].stack[spi - k];
            slot.types = [SlotType::Invalid; SLOT_SIZE];
            slot.spilled = RegState::NotInit;
            self.stack_live.write(frame, spi - k);
            self.live_write_slot(frame, spi - k);
            self.scratch_slot(spi - k);
        }
    }

    /// `process_iter_next_call`: an active iterator forks into the queued
    /// state (an element in `R0`, one iteration deeper, its imprecise
    /// scalars widened against the previous iteration) and the current
    /// one, drained with `R0` zero.
    pub(super) fn process_iter_next_call(&mut self, meta: &IterMeta) -> Result<(), Stop> {
        let idx = self.insn_idx;
        let Some((frame, spi)) = meta.slot else {
            return Err(self.unsupported("iterator next calls without an iterator"));
        };
        let Some((_, iter)) = slot_iter(&self.cur.frames[frame].stack[spi].spilled) else {
            return Err(self.unsupported("iterator next calls without an iterator"));
        };
        if iter.state == IterState::Active {
            // The call is a forced checkpoint: the path's parent is the
            // checkpoint just taken here.
            let Some(parent) = self.path.parent.filter(|&p| {
                self.checkpoints[p].insn_idx == idx
                    && super::equiv::same_callsites(&self.checkpoints[p].state, &self.cur)
            }) else {
                // The kernel's "bad parent state" bug check.
                return Err(self.unsupported("an iterator next call without its checkpoint"));
            };
            let prev = self.find_prev_entry(self.checkpoints[parent].dfs_depth, idx);
            let mut queued = self.cur.clone();
            if let RegState::IterSlot { iter, .. } = &mut queued.frames[frame].stack[spi].spilled {
                iter.state = IterState::Active;
                iter.depth += 1;
            }
            if let Some(p) = prev {
                super::loops::widen_imprecise_scalars(
                    &self.checkpoints[p].state,
                    &mut queued,
                    self.id_gen,
                );
            }
            mark_ptr_not_null(queued.cur_mut().reg_mut(0));
            self.push_branch(queued, idx + 1, idx)?;
        }
        if let RegState::IterSlot { iter, .. } = &mut self.cur.frames[frame].stack[spi].spilled {
            iter.state = IterState::Drained;
        }
        *self.cur.cur_mut().reg_mut(0) = RegState::constant(0);
        Ok(())
    }
}

/// `mark_ptr_not_null_reg` for what a `_next` call returns: the id stays.
fn mark_ptr_not_null(reg: &mut RegState) {
    if let RegState::PtrToMem { ptr, .. } = reg {
        ptr.maybe_null = false;
    }
}

#[cfg(test)]
mod tests {
    use super::{active_depths_differ, arg_iter_active};
    use crate::state::{
        IterInfo, IterKind, IterState, RegState, SLOT_SIZE, SlotType, StackSlot, VerifierState,
    };

    fn with_iter(state: IterState, depth: u32) -> VerifierState {
        let mut st = VerifierState::entry();
        st.cur_mut().grow_stack(8);
        st.cur_mut().stack[0] = StackSlot {
            types: [SlotType::Iter; SLOT_SIZE],
            spilled: RegState::IterSlot {
                ref_obj_id: 1,
                iter: IterInfo {
                    kind: IterKind::Num,
                    btf_id: 9,
                    state,
                    depth,
                },
            },
        };
        *st.cur_mut().reg_mut(1) = RegState::PtrToStack {
            frameno: 0,
            off: -8,
            var: crate::domain::Scalar::constant(0),
        };
        st
    }

    /// Only an active iterator's depth keeps two states apart in the
    /// infinite-loop check: a drained one is sticky.
    #[test]
    fn depths_of_active_iterators_tell_iterations_apart() {
        let a1 = with_iter(IterState::Active, 1);
        let a2 = with_iter(IterState::Active, 2);
        assert!(active_depths_differ(&a1, &a2));
        assert!(!active_depths_differ(&a1, &a1.clone()));
        let d1 = with_iter(IterState::Drained, 1);
        let d2 = with_iter(IterState::Drained, 2);
        assert!(!active_depths_differ(&d1, &d2));
    }

    #[test]
    fn the_next_call_argument_names_the_iterator() {
        assert!(arg_iter_active(&with_iter(IterState::Active, 0)));
        assert!(!arg_iter_active(&with_iter(IterState::Drained, 0)));
        let mut st = with_iter(IterState::Active, 0);
        *st.cur_mut().reg_mut(1) = RegState::constant(0);
        assert!(!arg_iter_active(&st));
    }
}
