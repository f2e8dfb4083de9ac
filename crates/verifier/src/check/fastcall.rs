//! `bpf_fastcall` (6.12+, `Features::fastcall`): clang surrounds a call
//! to a function that clobbers fewer registers than the ABI allows with
//! spills and fills of the registers it keeps live, in the lowest stack
//! slots of the subprogram. Before the walk the kernel finds these
//! patterns (`mark_fastcall_patterns`); during it, any other access to
//! those slots voids them for the subprogram
//! (`check_fastcall_stack_contract`); after it, the pairs around calls the
//! JIT inlines are removed and the subprogram's stack depth shrinks to the
//! slots above them (`remove_fastcall_spills_fills`), which is what the
//! statistics and `check_max_stack_depth` then see.
//!
//! A pattern, for a call at `c` in a subprogram whose lowest 8-byte spill
//! is at `fp{lo}`: pairs `*(u64 *)(r10 {lo + 8k}) = rX` at `c - 1 - k` and
//! `rX = *(u64 *)(r10 {lo + 8k})` at `c + 1 + k`, each `rX` a caller-saved
//! register the callee keeps (`R0` for a void function, `R1`–`R5` past
//! its parameters) and used once, none of the instructions from the first
//! spill's successor to the last fill a jump target. The walk stops at the
//! first pair that does not fit.

use bpfcheck_profile::KernelProfile;
use bpfcheck_profile::helpers::{ArgBase, RetBase};
use bpfcheck_profile::kfuncs::KfuncFlags;
use bpfcheck_uapi::{LoadRequest, RawInsn, op};

use super::subprog_call::call_target;
use super::{Checker, jmp};
use crate::prepare::kfunc::{KAccess, KType, KfuncTab};
use crate::prepare::subprogs::is_ldimm64;

/// `ARRAY_SIZE(caller_saved)`: `R0`–`R5`.
const CALLER_SAVED: usize = 6;

/// What a pattern needs to know of a call (`struct bpf_call_summary`).
struct CallSummary {
    params: u32,
    is_void: bool,
    /// The call is inlined, so that its spills and fills can go.
    inlined: bool,
}

/// The marks of `mark_fastcall_patterns`, as the walk may void them.
pub(super) struct Fastcall {
    /// The instruction is a spill or fill of a pattern
    /// (`insn_aux_data.fastcall_pattern`).
    pattern: Vec<bool>,
    /// Pairs removable around this call (`fastcall_spills_num`).
    spills: Vec<u8>,
    /// Per subprogram: where its pattern slots end (`fastcall_stack_off`;
    /// below every offset once voided).
    stack_off: Vec<i32>,
    /// Per subprogram: a pattern around a call that is not inlined pins
    /// the slots (`keep_fastcall_stack`).
    keep: Vec<bool>,
    /// First instruction of each subprogram.
    starts: Vec<usize>,
}

/// Voided: lower than any stack offset (`S16_MIN`).
const VOID: i32 = i16::MIN as i32;

impl Fastcall {
    /// No pattern anywhere (kernels before 6.12).
    pub(super) fn none(n: usize, starts: &[usize]) -> Self {
        Self {
            pattern: vec![false; n],
            spills: vec![0; n],
            stack_off: vec![0; starts.len()],
            keep: vec![false; starts.len()],
            starts: starts.to_vec(),
        }
    }

    /// `mark_fastcall_patterns` over every subprogram.
    pub(super) fn mark(
        req: &LoadRequest,
        profile: &KernelProfile,
        starts: &[usize],
        kfuncs: &KfuncTab,
    ) -> Self {
        let insns = &req.insns[..];
        let mut f = Self::none(insns.len(), starts);
        if !profile.features.fastcall {
            return f;
        }
        let targets = jump_targets(insns);
        for (k, &start) in starts.iter().enumerate() {
            let end = starts.get(k + 1).copied().unwrap_or(insns.len());
            let lowest = insns[start..end]
                .iter()
                .filter(|i| is_spill(i))
                .map(|i| i32::from(i.off))
                .fold(0, i32::min);
            for c in start..end {
                if insns[c].code != op::JMP | op::CALL {
                    continue;
                }
                if let Some(cs) = summary(req, profile, kfuncs, &insns[c]) {
                    f.mark_call(insns, &targets, k, c, lowest, &cs);
                }
            }
        }
        f
    }

    /// `mark_fastcall_pattern_for_call`.
    fn mark_call(
        &mut self,
        insns: &[RawInsn],
        targets: &[bool],
        k: usize,
        c: usize,
        lowest: i32,
        cs: &CallSummary,
    ) {
        // R0 if the call returns something, R1.. for its parameters.
        let clobbered = u32::from(!cs.is_void) | (((1u32 << cs.params) - 1) << 1);
        let mut expected = !clobbered & ((1 << CALLER_SAVED) - 1);
        let mut i = 1;
        let mut off = lowest;
        while i <= CALLER_SAVED {
            let (Some(s), Some(l)) = (c.checked_sub(i), Some(c + i).filter(|l| *l < insns.len()))
            else {
                break;
            };
            if targets[s + 1] || targets[l] {
                break;
            }
            let (stx, ldx) = (&insns[s], &insns[l]);
            let fits = is_spill(stx)
                && ldx.code == op::LDX | op::MEM | op::DW
                && ldx.src == 10
                && stx.src == ldx.dst
                && expected & (1 << (stx.src & 15)) != 0
                && i32::from(stx.off) == off
                && i32::from(ldx.off) == off;
            if !fits {
                break;
            }
            expected &= !(1 << stx.src);
            self.pattern[s] = true;
            self.pattern[l] = true;
            i += 1;
            off += 8;
        }
        if i == 1 {
            return;
        }
        if cs.inlined {
            self.spills[c] = u8::try_from(i - 1).unwrap_or(u8::MAX);
        } else {
            self.keep[k] = true;
        }
        self.stack_off[k] = self.stack_off[k].min(off);
    }

    /// `check_fastcall_stack_contract`: an access at `off` to the stack
    /// of subprogram `k` by instruction `idx`.
    pub(super) fn access(&mut self, k: usize, idx: usize, off: i32) {
        let Some(&slots_end) = self.stack_off.get(k) else {
            return;
        };
        if slots_end <= off || self.pattern.get(idx).copied().unwrap_or(false) {
            return;
        }
        self.stack_off[k] = VOID;
        let end = self
            .starts
            .get(k + 1)
            .copied()
            .unwrap_or(self.pattern.len());
        for i in self.starts[k]..end {
            self.pattern[i] = false;
            self.spills[i] = 0;
        }
    }

    /// `remove_fastcall_spills_fills`: the stack depth of subprogram `k`
    /// once its removable pairs are gone, if they change it.
    pub(super) fn reduced_depth(&self, k: usize) -> Option<u32> {
        let start = *self.starts.get(k)?;
        let end = self.starts.get(k + 1).copied().unwrap_or(self.spills.len());
        let removed = self.spills[start..end].iter().any(|n| *n > 0);
        (removed && !self.keep[k]).then(|| self.stack_off[k].unsigned_abs())
    }
}

/// An 8-byte store of a register to the frame pointer.
fn is_spill(insn: &RawInsn) -> bool {
    insn.code == op::STX | op::MEM | op::DW && insn.dst == 10
}

/// `bpf_get_call_summary`: a helper's prototype, or an allowed kfunc's
/// BTF prototype and `KF_FASTCALL`. Bpf-to-bpf calls have none, and
/// neither do calls the walk will refuse.
fn summary(
    req: &LoadRequest,
    profile: &KernelProfile,
    kfuncs: &KfuncTab,
    insn: &RawInsn,
) -> Option<CallSummary> {
    if insn.src == op::PSEUDO_KFUNC_CALL {
        let d = kfuncs.get(insn)?;
        let KAccess::Allowed(flags) = d.access else {
            return None;
        };
        return Some(CallSummary {
            params: u32::try_from(d.params.len()).unwrap_or(5),
            is_void: matches!(d.ret, KType::Void),
            inlined: flags.has(KfuncFlags::FASTCALL),
        });
    }
    if insn.src != 0 {
        return None;
    }
    // A helper the program may not call is refused when the walk reaches it.
    let target = super::call::lsm_target(req, profile);
    let q = super::call::helper_query(req, profile, target.as_deref());
    let proto = profile.helper_for(insn.imm, &q).ok()?;
    let params = proto
        .args
        .iter()
        .take_while(|a| a.base != ArgBase::DontCare)
        .count();
    Some(CallSummary {
        params: u32::try_from(params).unwrap_or(5),
        is_void: proto.ret.base == RetBase::Void,
        // `verifier_inlines_helper_call`: only `bpf_get_smp_processor_id`
        // is both `allow_fastcall` and inlined (x86-64, JIT on).
        inlined: proto.allow_fastcall,
    })
}

/// `insn_aux_data.jump_target` as `check_cfg` marks it: targets of
/// branches, `ja`, calls into subprograms and function references.
fn jump_targets(insns: &[RawInsn]) -> Vec<bool> {
    let n = insns.len();
    let mut t = vec![false; n];
    let mut mark = |to: i64| {
        if let Ok(to) = usize::try_from(to)
            && to < n
        {
            t[to] = true;
        }
    };
    for (i, insn) in insns.iter().enumerate() {
        if i > 0 && is_ldimm64(&insns[i - 1]) {
            continue;
        }
        if let Some(callee) = call_target(insns, i) {
            mark(i64::try_from(callee).unwrap_or(-1));
            continue;
        }
        let class = insn.class();
        if class != op::JMP && class != op::JMP32 {
            continue;
        }
        let here = i64::try_from(i).unwrap_or(i64::MAX);
        match op::alu_op(insn.code) {
            op::EXIT | op::CALL => {}
            op::JA => mark(here + 1 + i64::from(jmp::ja_offset(insn))),
            _ => mark(here + 1 + i64::from(insn.off)),
        }
    }
    t
}

impl Checker<'_> {
    /// `check_fastcall_stack_contract` for an access at `off` to the stack
    /// of the frame being accessed.
    pub(super) fn fastcall_contract(&mut self, off: i32) {
        let k = self.cur.frames[self.access_frame].subprog;
        self.fastcall.access(k, self.insn_idx, off);
    }

    /// `remove_fastcall_spills_fills`: the stack depths after the walk.
    pub(super) fn remove_fastcall_spills(&mut self) {
        for k in 0..self.subprogs.starts.len() {
            if let Some(depth) = self.fastcall.reduced_depth(k) {
                self.subprogs.set_depth(k, depth);
            }
        }
    }
}
