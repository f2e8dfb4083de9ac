//! State equivalence (`states_equal` with `NOT_EXACT`): whether a path
//! arriving at a checkpoint is covered by it, so that it can stop.
//!
//! 6.18 no longer keeps read marks on registers and slots. Before a
//! finished checkpoint is compared for the first time it is *cleaned*:
//! registers not live before its instruction (`compute_live_registers`) and
//! stack slots not live there (the stack liveness of `liveness.c`) are
//! forgotten, so that only what the rest of the program can read is
//! compared. Scalars compare by range only when the checkpoint's copy is
//! precise; scalar ids must map one-to-one between the two states
//! (`check_scalar_ids`).

use super::sock::sock_fields;
use crate::domain::Scalar;
use crate::state::reg::ADD_CONST;
use crate::state::{FuncState, Refs, RegState, SLOT_SIZE, SlotType, StackSlot, VerifierState};

/// `BPF_ID_MAP_SIZE`: pairs of ids one comparison may record.
const ID_MAP_SIZE: usize = (11 + 512 / 8) * 8;

/// The id correspondence built during one comparison (`struct
/// bpf_idmap`).
pub(super) struct IdMap {
    pairs: Vec<(u32, u32)>,
    /// Fresh ids for unlinked current scalars (`tmp_id_gen`), above every
    /// id the walk handed out.
    tmp_id_gen: u32,
    /// Whether precise scalars are compared by their ids too (6.12's
    /// `check_scalar_ids`; 6.1 does not).
    scalar_ids: bool,
    /// Whether held references are compared byte for byte (6.1's
    /// `memcmp` in `refsafe`) rather than by corresponding ids.
    exact_refs: bool,
    /// 6.1's `check_ids`: each old id maps to one current id, but two old
    /// ids may map to the same current one and 0 is an id like any other;
    /// a packet pointer's id is compared only when the old one has one,
    /// and a non-NULL map value's not at all.
    one_way_ids: bool,
}

impl IdMap {
    pub(super) fn new(id_gen: u32) -> Self {
        Self {
            pairs: Vec::new(),
            tmp_id_gen: id_gen,
            scalar_ids: true,
            exact_refs: false,
            one_way_ids: false,
        }
    }

    /// 6.1's `check_ids` and the places `regsafe` calls it.
    pub(super) fn with_one_way_ids(mut self) -> Self {
        self.one_way_ids = true;
        self
    }

    /// 6.1's `refsafe`: the same reference ids, acquired at the same
    /// instructions.
    pub(super) fn with_exact_refs(mut self) -> Self {
        self.exact_refs = true;
        self
    }

    /// 6.1's comparison: scalars by range and bits only.
    pub(super) fn without_scalar_ids(mut self) -> Self {
        self.scalar_ids = false;
        self
    }

    /// `check_ids`: `old` and `cur` must correspond one-to-one.
    fn check(&mut self, old: u32, cur: u32) -> bool {
        if self.one_way_ids {
            // An entry with old id 0 reads as a free slot, as in 6.1.
            for &(o, c) in &self.pairs {
                if o == 0 {
                    break;
                }
                if o == old {
                    return c == cur;
                }
            }
            if self.pairs.len() >= ID_MAP_SIZE {
                return false;
            }
            self.pairs.push((old, cur));
            return true;
        }
        if (old == 0) != (cur == 0) {
            return false;
        }
        if old == 0 {
            return true;
        }
        for &(o, c) in &self.pairs {
            if o == old {
                return c == cur;
            }
            if c == cur {
                return false;
            }
        }
        if self.pairs.len() >= ID_MAP_SIZE {
            return false;
        }
        self.pairs.push((old, cur));
        true
    }

    /// `check_scalar_ids`: an unlinked current scalar gets a fresh id, so
    /// that two old registers sharing an id cannot both match unlinked
    /// ones.
    fn check_scalar(&mut self, old: u32, cur: u32) -> bool {
        if old == 0 {
            return true;
        }
        let cur = if cur != 0 {
            cur
        } else {
            self.tmp_id_gen += 1;
            self.tmp_id_gen
        };
        if !self.check(old, cur) {
            return false;
        }
        if old & ADD_CONST != 0 {
            return self.check(old & !ADD_CONST, cur & !ADD_CONST);
        }
        true
    }
}

/// `range_within`: every bound of `cur` inside `old`'s.
fn range_within(old: &Scalar, cur: &Scalar) -> bool {
    old.umin <= cur.umin
        && old.umax >= cur.umax
        && old.smin <= cur.smin
        && old.smax >= cur.smax
        && old.u32_min <= cur.u32_min
        && old.u32_max >= cur.u32_max
        && old.s32_min <= cur.s32_min
        && old.s32_max >= cur.s32_max
}

/// Outcome of comparing a register kind this verifier does not create.
pub(super) struct Unmodelled;

/// How strictly states are compared (`enum exact_level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Strictness {
    /// Pruning against a finished checkpoint: imprecise scalars match
    /// anything.
    Loose,
    /// Infinite-loop detection: registers and slots must be the same.
    Exact,
    /// Pruning against a checkpoint whose loop is still being explored:
    /// precision marks are not final, so every scalar's range counts.
    RangeWithin,
    /// 6.12's `RANGE_WITHIN`: also the same stack slot types byte for
    /// byte, and an uninitialised register matches only another.
    RangeWithinTyped,
}

/// The register without the fields `regs_exact` leaves to `check_ids`
/// (ids) or does not compare (precision).
fn without_ids(r: &RegState) -> (RegState, u32) {
    let mut r = *r;
    let id = match &mut r {
        RegState::Scalar(s) => {
            s.precise = false;
            std::mem::take(&mut s.id)
        }
        RegState::PtrToMapValue { id, .. } | RegState::ConstPtrToMapOrNull { id, .. } => {
            std::mem::take(id)
        }
        _ => 0,
    };
    (r, id)
}

/// `regs_exact` for socket pointers: the same kind and offsets, ids and
/// references corresponding.
fn socks_exact(old: &RegState, cur: &RegState, ids: &mut IdMap) -> Option<bool> {
    let (o, c) = (sock_fields(old)?, sock_fields(cur)?);
    let same_map = match (old, cur) {
        (
            RegState::PtrToSockMapValue { map: a, .. },
            RegState::PtrToSockMapValue { map: b, .. },
        ) => a == b,
        _ => true,
    };
    Some(
        same_map
            && std::mem::discriminant(old) == std::mem::discriminant(cur)
            && o.maybe_null == c.maybe_null
            && o.off == c.off
            && o.var == c.var
            && ids.check(o.id, c.id)
            && ids.check(o.ref_obj_id, c.ref_obj_id),
    )
}

/// `refsafe`: the same references, in the same order, their ids
/// corresponding.
fn refsafe(old: &Refs, cur: &Refs, ids: &mut IdMap) -> bool {
    if ids.exact_refs {
        return old.len() == cur.len()
            && old
                .iter()
                .zip(cur.iter())
                .all(|(o, c)| o.id == c.id && o.insn_idx == c.insn_idx && o.lock == c.lock);
    }
    old.len() == cur.len()
        && old
            .iter()
            .zip(cur.iter())
            .all(|(o, c)| ids.check(o.id, c.id) && o.lock == c.lock)
}

/// `regs_exact`.
pub(super) fn regs_exact(
    old: &RegState,
    cur: &RegState,
    ids: &mut IdMap,
) -> Result<bool, Unmodelled> {
    if let Some(same) = socks_exact(old, cur, ids) {
        return Ok(same);
    }
    if sock_fields(old).is_some() {
        return Ok(false);
    }
    // Memory: every field but the ids, which must correspond.
    if let (
        RegState::PtrToMem {
            ptr: p1,
            size: s1,
            tag: t1,
        },
        RegState::PtrToMem {
            ptr: p2,
            size: s2,
            tag: t2,
        },
    ) = (old, cur)
    {
        return Ok(s1 == s2
            && t1 == t2
            && p1.off == p2.off
            && p1.var == p2.var
            && p1.maybe_null == p2.maybe_null
            && ids.check(p1.id, p2.id)
            && ids.check(p1.ref_obj_id, p2.ref_obj_id));
    }
    if matches!(old, RegState::PtrToMem { .. }) {
        return Ok(false);
    }
    if !matches!(
        old,
        RegState::NotInit
            | RegState::Scalar(_)
            | RegState::PtrToCtx { .. }
            | RegState::PtrToStack { .. }
            | RegState::ConstPtrToMap { .. }
            | RegState::ConstPtrToMapOrNull { .. }
            | RegState::PtrToMapValue { .. }
            | RegState::PtrToMapKey { .. }
            | RegState::PtrToFunc { .. }
            | RegState::PtrToFlowKeys(_)
            | RegState::PtrToTpBuffer(_)
    ) {
        return Err(Unmodelled);
    }
    let ((o, oid), (c, cid)) = (without_ids(old), without_ids(cur));
    Ok(o == c && ids.check(oid, cid))
}

/// `states_maybe_looping`'s comparison of two registers: every field but
/// the precision mark.
pub(super) fn same_reg(old: &RegState, cur: &RegState) -> bool {
    match (old, cur) {
        (RegState::Scalar(o), RegState::Scalar(c)) => {
            o.value == c.value && o.id == c.id && o.off == c.off
        }
        _ => old == cur,
    }
}

/// `regsafe`.
fn regsafe(
    old: &RegState,
    cur: &RegState,
    ids: &mut IdMap,
    exact: Strictness,
) -> Result<bool, Unmodelled> {
    if exact == Strictness::Exact {
        return regs_exact(old, cur, ids);
    }
    if matches!(old, RegState::NotInit) {
        return Ok(exact != Strictness::RangeWithinTyped || matches!(cur, RegState::NotInit));
    }
    if std::mem::discriminant(old) != std::mem::discriminant(cur) {
        return Ok(false);
    }
    Ok(match (old, cur) {
        (RegState::Scalar(o), RegState::Scalar(c)) => {
            if !o.precise && exact == Strictness::Loose {
                return Ok(true);
            }
            if !ids.scalar_ids {
                return Ok(
                    range_within(&o.value, &c.value) && o.value.var_off.contains(c.value.var_off)
                );
            }
            // The offset-link flags must be the same (32-bit links
            // zero-extend, 64-bit ones do not), and so must the offsets.
            let flags = o.id & ADD_CONST;
            if o.id != 0 && flags != c.id & ADD_CONST || flags != 0 && o.off != c.off {
                return Ok(false);
            }
            ids.check_scalar(o.id, c.id)
                && range_within(&o.value, &c.value)
                && o.value.var_off.contains(c.value.var_off)
        }
        (
            RegState::PtrToStack {
                frameno: f1,
                off: o1,
                var: v1,
            },
            RegState::PtrToStack {
                frameno: f2,
                off: o2,
                var: v2,
            },
        ) => f1 == f2 && o1 == o2 && v1 == v2,
        // `regs_exact`: a context pointer has no id.
        (RegState::PtrToCtx { .. }, RegState::PtrToCtx { .. }) => old == cur,
        // `regs_exact`: a map pointer has no id.
        (RegState::ConstPtrToMap { map: m1 }, RegState::ConstPtrToMap { map: m2 }) => m1 == m2,
        // `regs_exact`: the same map, ids mapped.
        (
            RegState::ConstPtrToMapOrNull { map: m1, id: i1 },
            RegState::ConstPtrToMapOrNull { map: m2, id: i2 },
        ) => m1 == m2 && ids.check(*i1, *i2),
        (
            RegState::PtrToMapValue {
                map: m1,
                off: o1,
                var: v1,
                maybe_null: n1,
                id: i1,
            },
            RegState::PtrToMapValue {
                map: m2,
                off: o2,
                var: v2,
                maybe_null: n2,
                id: i2,
            },
        ) => {
            m1 == m2
                && o1 == o2
                && n1 == n2
                && range_within(v1, v2)
                && v1.var_off.contains(v2.var_off)
                && (ids.one_way_ids && !*n1 || ids.check(*i1, *i2))
        }
        // A callback's key: as a map value, the old offsets covering the
        // new.
        (
            RegState::PtrToMapKey { map: m1, ptr: p1 },
            RegState::PtrToMapKey { map: m2, ptr: p2 },
        ) => {
            m1 == m2
                && p1.off == p2.off
                && range_within(&p1.var, &p2.var)
                && p1.var.var_off.contains(p2.var.var_off)
                && ids.check(p1.id, p2.id)
        }
        // Memory of a known size: the old offsets must cover the new.
        (
            RegState::PtrToMem {
                ptr: p1,
                size: s1,
                tag: t1,
            },
            RegState::PtrToMem {
                ptr: p2,
                size: s2,
                tag: t2,
            },
        ) => {
            s1 == s2
                && t1 == t2
                && p1.off == p2.off
                && p1.maybe_null == p2.maybe_null
                && range_within(&p1.var, &p2.var)
                && p1.var.var_off.contains(p2.var.var_off)
                && ids.check(p1.id, p2.id)
                && ids.check(p1.ref_obj_id, p2.ref_obj_id)
        }
        (
            RegState::PtrToPacket { ptr: p1, range: r1 },
            RegState::PtrToPacket { ptr: p2, range: r2 },
        )
        | (
            RegState::PtrToPacketMeta { ptr: p1, range: r1 },
            RegState::PtrToPacketMeta { ptr: p2, range: r2 },
        ) => {
            // At least the old range; the markers at and past the end
            // only match themselves.
            let range_ok = if *r1 < 0 || *r2 < 0 {
                r1 == r2
            } else {
                r1 <= r2
            };
            range_ok
                && p1.off == p2.off
                && (ids.one_way_ids && p1.id == 0 || ids.check(p1.id, p2.id))
                && range_within(&p1.var, &p2.var)
                && p1.var.var_off.contains(p2.var.var_off)
        }
        (RegState::PtrToPacketEnd, RegState::PtrToPacketEnd) => true,
        // `regs_exact`: the same type, flags and offsets, ids mapped.
        (RegState::PtrToBtfId { ptr: p1, btf: b1 }, RegState::PtrToBtfId { ptr: p2, btf: b2 }) => {
            b1 == b2
                && p1.off == p2.off
                && p1.var == p2.var
                && p1.maybe_null == p2.maybe_null
                && ids.check(p1.id, p2.id)
                && ids.check(p1.ref_obj_id, p2.ref_obj_id)
        }
        // `regs_exact`: flow keys have no id.
        (RegState::PtrToFlowKeys(a), RegState::PtrToFlowKeys(b)) => a == b,
        // `regs_exact`: the tracepoint buffer has no id.
        (RegState::PtrToTpBuffer(a), RegState::PtrToTpBuffer(b)) => a == b,
        // `regs_exact`: the same dynptr fields and offsets, ids mapped.
        (
            RegState::ConstPtrToDynptr {
                ptr: p1,
                dynptr: d1,
            },
            RegState::ConstPtrToDynptr {
                ptr: p2,
                dynptr: d2,
            },
        ) => {
            d1 == d2
                && p1.off == p2.off
                && p1.var == p2.var
                && ids.check(p1.id, p2.id)
                && ids.check(p1.ref_obj_id, p2.ref_obj_id)
        }
        (RegState::PtrToFunc { subprog_start: a }, RegState::PtrToFunc { subprog_start: b }) => {
            a == b
        }
        _ => match socks_exact(old, cur, ids) {
            Some(same) => same,
            None => return Err(Unmodelled),
        },
    })
}

/// `is_stack_all_misc` for a privileged loader (never-written bytes count
/// as data).
fn all_misc(slot: &StackSlot) -> bool {
    slot.types
        .iter()
        .all(|t| matches!(t, SlotType::Misc | SlotType::Invalid))
}

/// `scalar_reg_for_stack`: a 64-bit scalar spill, or an unknown scalar for
/// a slot of plain data.
fn scalar_for_slot(slot: &StackSlot) -> Option<RegState> {
    if slot.types[0] == SlotType::Spill && matches!(slot.spilled, RegState::Scalar(_)) {
        Some(slot.spilled)
    } else if all_misc(slot) {
        Some(RegState::unknown())
    } else {
        None
    }
}

/// `stacksafe` of a dynptr slot: the same kind and half, and a reference
/// that maps to the old one.
fn dynptr_slot_safe(old: &RegState, cur: &RegState, ids: &mut IdMap) -> bool {
    match (old, cur) {
        (
            RegState::ConstPtrToDynptr {
                ptr: p1,
                dynptr: d1,
            },
            RegState::ConstPtrToDynptr {
                ptr: p2,
                dynptr: d2,
            },
        ) => d1 == d2 && ids.check(p1.ref_obj_id, p2.ref_obj_id),
        _ => false,
    }
}

/// `stacksafe` of an iterator slot: the same type and state, references
/// corresponding; the depth is not compared, or loops would never
/// converge.
fn iter_slot_safe(old: &RegState, cur: &RegState, ids: &mut IdMap) -> bool {
    match (old, cur) {
        (
            RegState::IterSlot {
                ref_obj_id: r1,
                iter: i1,
            },
            RegState::IterSlot {
                ref_obj_id: r2,
                iter: i2,
            },
        ) => i1.btf_id == i2.btf_id && i1.state == i2.state && ids.check(*r1, *r2),
        _ => false,
    }
}

/// `stacksafe`, for a privileged loader.
fn stacksafe(
    old: &FuncState,
    cur: &FuncState,
    ids: &mut IdMap,
    exact: Strictness,
) -> Result<bool, Unmodelled> {
    for (spi, os) in old.stack.iter().enumerate() {
        let cs = cur.stack.get(spi);
        let mut j = 0;
        while j < SLOT_SIZE {
            let ot = os.types[j];
            let typed = matches!(exact, Strictness::Exact | Strictness::RangeWithinTyped);
            if typed && cs.is_none_or(|cs| cs.types[j] != ot) {
                return Ok(false);
            }
            if matches!(ot, SlotType::Invalid | SlotType::Misc) {
                j += 1;
                continue;
            }
            let Some(cs) = cs else { return Ok(false) };
            if let (Some(o), Some(c)) = (scalar_for_slot(os), scalar_for_slot(cs)) {
                if !regsafe(&o, &c, ids, exact)? {
                    return Ok(false);
                }
                break;
            }
            let ct = cs.types[j];
            if ot != ct {
                return Ok(false);
            }
            if j == SLOT_SIZE - 1 {
                match os.types[SLOT_SIZE - 1] {
                    SlotType::Spill => {
                        if !regsafe(&os.spilled, &cs.spilled, ids, exact)? {
                            return Ok(false);
                        }
                    }
                    SlotType::Misc | SlotType::Zero | SlotType::Invalid => {}
                    SlotType::Dynptr => {
                        if !dynptr_slot_safe(&os.spilled, &cs.spilled, ids) {
                            return Ok(false);
                        }
                    }
                    SlotType::Iter => {
                        if !iter_slot_safe(&os.spilled, &cs.spilled, ids) {
                            return Ok(false);
                        }
                    }
                    SlotType::IrqFlag => {
                        return Err(Unmodelled);
                    }
                }
            }
            j += 1;
        }
    }
    Ok(true)
}

/// `same_callsites`: the same frames, called from the same instructions.
pub(super) fn same_callsites(a: &VerifierState, b: &VerifierState) -> bool {
    a.frames.len() == b.frames.len()
        && a.frames
            .iter()
            .zip(&b.frames)
            .all(|(x, y)| x.callsite == y.callsite)
}

/// `states_equal(old, cur, exact)`: the same call sites and every frame
/// covered; `live_regs` are each frame's live registers.
pub(super) fn states_equal(
    old: &VerifierState,
    cur: &VerifierState,
    live_regs: &[u16],
    ids: &mut IdMap,
    exact: Strictness,
) -> Result<bool, Unmodelled> {
    if !same_callsites(old, cur)
        || !refsafe(&old.refs, &cur.refs, ids)
        || old.regions != cur.regions
    {
        return Ok(false);
    }
    for (i, (o, c)) in old.frames.iter().zip(&cur.frames).enumerate() {
        // A callback frame that ran fewer iterations is not covered.
        if o.callback_depth > c.callback_depth {
            return Ok(false);
        }
        let live = live_regs.get(i).copied().unwrap_or(0);
        for r in 0..o.regs.len() {
            if live & (1 << r) != 0 && !regsafe(&o.regs[r], &c.regs[r], ids, exact)? {
                return Ok(false);
            }
        }
        if !stacksafe(o, c, ids, exact)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `clean_func_state`: forgets the registers and slots of a frame that
/// are dead at the checkpoint.
pub(super) fn clean_frame(frame: &mut FuncState, live_regs: u16, live_slots: u64) {
    for (r, reg) in frame.regs.iter_mut().enumerate().take(10) {
        if live_regs & (1 << r) == 0 {
            *reg = RegState::NotInit;
        }
    }
    for (spi, slot) in frame.stack.iter_mut().enumerate() {
        if spi >= 64 || live_slots & (1 << spi) == 0 {
            *slot = StackSlot::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{IdMap, Strictness, states_equal};
    use crate::state::{RegState, SlotType, StackSlot, VerifierState};

    fn equal(old: &VerifierState, cur: &VerifierState, exact: Strictness) -> bool {
        states_equal(old, cur, &[u16::MAX], &mut IdMap::new(0), exact).is_ok_and(|same| same)
    }

    fn with_r2(reg: RegState) -> VerifierState {
        let mut st = VerifierState::entry();
        *st.cur_mut().reg_mut(2) = reg;
        st
    }

    fn with_slot(types: [SlotType; 8]) -> VerifierState {
        let mut st = VerifierState::entry();
        st.cur_mut().grow_stack(8);
        st.cur_mut().stack[0] = StackSlot {
            types,
            spilled: RegState::NotInit,
        };
        st
    }

    /// 6.18's `RANGE_WITHIN` lets an uninitialised register cover
    /// anything; 6.12's only another uninitialised one.
    #[test]
    fn an_uninitialised_register_covers_only_itself_in_612_loops() {
        let old = with_r2(RegState::NotInit);
        let cur = with_r2(RegState::constant(7));
        assert!(equal(&old, &cur, Strictness::Loose));
        assert!(equal(&old, &cur, Strictness::RangeWithin));
        assert!(!equal(&old, &cur, Strictness::RangeWithinTyped));
        assert!(equal(&old, &old.clone(), Strictness::RangeWithinTyped));
    }

    /// 6.12's `RANGE_WITHIN` wants the same slot types byte for byte:
    /// never-written bytes no longer cover data.
    #[test]
    fn slot_types_must_be_the_same_in_612_loops() {
        let old = with_slot([SlotType::Invalid; 8]);
        let cur = with_slot([SlotType::Misc; 8]);
        assert!(equal(&old, &cur, Strictness::RangeWithin));
        assert!(!equal(&old, &cur, Strictness::RangeWithinTyped));
        let zero = with_slot([SlotType::Zero; 8]);
        let misc = with_slot([SlotType::Misc; 8]);
        assert!(equal(&misc, &zero, Strictness::RangeWithin));
        assert!(!equal(&misc, &zero, Strictness::RangeWithinTyped));
    }
}
