//! Register liveness before each instruction (`compute_live_registers`,
//! 6.15+), and the `Live regs before insn:` table the level-2 log starts
//! with.

use bpfcheck_isa::{DefaultSymbolizer, LogEra, disasm};
use bpfcheck_uapi::{RawInsn, op};

use crate::prepare::subprogs::is_ldimm64;

/// A set of registers, bit `n` for `Rn`.
pub(crate) type RegSet = u16;

const CALLER_SAVED: RegSet = 0b11_1111;
const ARGS: RegSet = 0b11_1110;
const ALL: RegSet = 0b11_1111_1111;

fn bit(r: u8) -> RegSet {
    if r < 16 { 1 << r } else { 0 }
}

/// Registers an instruction reads and writes.
fn use_def(insn: &RawInsn, helper_args: &dyn Fn(i32) -> Option<u8>) -> (RegSet, RegSet) {
    let (d, s) = (bit(insn.dst), bit(insn.src));
    let reg_src = op::src(insn.code) == op::X;
    let opb = op::alu_op(insn.code);
    match insn.class() {
        op::ALU | op::ALU64 => match opb {
            op::MOV if reg_src => (s, d),
            op::MOV => (0, d),
            op::NEG | op::END => (d, d),
            _ if reg_src => (d | s, d),
            _ => (d, d),
        },
        op::LDX => (s, d),
        op::ST => (d, 0),
        op::STX if op::mode(insn.code) == op::ATOMIC => {
            let mut used = d | s;
            let mut def = 0;
            // `load_acquire` (BPF_LOAD_ACQ) loads through `src` into `dst`.
            if insn.imm == 0x100 {
                return (s, d);
            }
            if insn.imm == 0xf1 {
                used |= 1;
                def |= 1;
            } else if insn.imm & 1 != 0 {
                def |= s;
            }
            (used, def)
        }
        op::STX => (d | s, 0),
        op::LD => match op::mode(insn.code) {
            op::IMM => (0, d),
            // Packet loads may end the program, so everything stays live.
            op::ABS | op::IND => (ALL, CALLER_SAVED),
            _ => (0, 0),
        },
        op::JMP | op::JMP32 => match opb {
            op::JA => (0, 0),
            op::EXIT => (1, 0),
            op::CALL => {
                let used = if insn.src == 0 {
                    helper_args(insn.imm).map_or(ARGS, |n| ARGS & ((1 << (n + 1)) - 1))
                } else {
                    ARGS
                };
                (used, CALLER_SAVED)
            }
            _ if reg_src => (d | s, 0),
            _ => (d, 0),
        },
        _ => (0, 0),
    }
}

/// The instructions control can reach right after `i`.
pub(crate) fn successors(insns: &[RawInsn], i: usize) -> Vec<usize> {
    let insn = insns[i];
    let next = i + if is_ldimm64(&insn) { 2 } else { 1 };
    let class = insn.class();
    if class != op::JMP && class != op::JMP32 {
        return vec![next];
    }
    let rel = |off: i64| usize::try_from(i64::try_from(i).unwrap_or(0) + off + 1).ok();
    match op::alu_op(insn.code) {
        op::EXIT => Vec::new(),
        op::CALL => vec![next],
        op::JA => {
            let off = if class == op::JMP {
                i64::from(insn.off)
            } else {
                i64::from(insn.imm)
            };
            rel(off).into_iter().collect()
        }
        _ => {
            let mut v = vec![next];
            v.extend(rel(i64::from(insn.off)));
            v
        }
    }
}

/// Live registers before each instruction, by backward fixpoint.
pub(crate) fn live_before(
    insns: &[RawInsn],
    helper_args: &dyn Fn(i32) -> Option<u8>,
) -> Vec<RegSet> {
    let n = insns.len();
    let ud: Vec<(RegSet, RegSet)> = insns.iter().map(|i| use_def(i, helper_args)).collect();
    let succ: Vec<Vec<usize>> = (0..n).map(|i| successors(insns, i)).collect();
    let mut live = vec![0 as RegSet; n];
    let mut changed = true;
    while changed {
        changed = false;
        for i in (0..n).rev() {
            if i > 0 && is_ldimm64(&insns[i - 1]) {
                continue;
            }
            let out = succ[i]
                .iter()
                .filter(|s| **s < n)
                .fold(0, |acc, s| acc | live[*s]);
            let (used, def) = ud[i];
            let before = used | (out & !def);
            if before != live[i] {
                live[i] = before;
                changed = true;
            }
        }
    }
    live
}

/// The `Live regs before insn:` table. Loops are refused before this is
/// printed, so no instruction belongs to a strongly connected component
/// and the SCC column is blank.
pub(crate) fn table(insns: &[RawInsn], live: &[RegSet], era: LogEra) -> String {
    let mut out = String::from("Live regs before insn:\n");
    let mut i = 0;
    while i < insns.len() {
        out.push_str(&format!("    {i:3}: "));
        for r in 0..10 {
            if live[i] & (1 << r) != 0 {
                out.push_str(&r.to_string());
            } else {
                out.push('.');
            }
        }
        out.push(' ');
        out.push_str(&disasm(insns, i, era, &DefaultSymbolizer));
        out.push('\n');
        i += if is_ldimm64(&insns[i]) { 2 } else { 1 };
    }
    out
}

/// Whether the control-flow graph from the entry has a cycle.
pub(crate) fn has_loop(insns: &[RawInsn]) -> Option<usize> {
    has_loop_from(insns, 0)
}

/// Whether the control-flow graph from `start` (calls not entered) has a
/// cycle.
pub(crate) fn has_loop_from(insns: &[RawInsn], start: usize) -> Option<usize> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let n = insns.len();
    let mut mark = vec![Mark::New; n];
    if start >= n {
        return None;
    }
    let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
    mark[start] = Mark::Open;
    while let Some(&mut (node, ref mut next)) = stack.last_mut() {
        let succ = successors(insns, node);
        if let Some(&s) = succ.get(*next) {
            *next += 1;
            if s >= n {
                continue;
            }
            match mark[s] {
                Mark::Open => return Some(node),
                Mark::New => {
                    mark[s] = Mark::Open;
                    stack.push((s, 0));
                }
                Mark::Done => {}
            }
        } else {
            mark[node] = Mark::Done;
            stack.pop();
        }
    }
    None
}
