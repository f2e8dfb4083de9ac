//! Register liveness before each instruction (`compute_live_registers`,
//! 6.15+), and the `Live regs before insn:` table the level-2 log starts
//! with.

use bpfcheck_isa::{LogEra, Symbolizer, disasm};
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
fn use_def(insn: &RawInsn, call_args: &dyn Fn(&RawInsn) -> Option<u8>) -> (RegSet, RegSet) {
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
            op::JA | op::JCOND => (0, 0),
            op::EXIT => (1, 0),
            op::CALL => {
                // A helper or kfunc uses its prototype's arguments; a
                // bpf-to-bpf call, or a callee not known, all five.
                let used = if insn.src == 0 || insn.src == op::PSEUDO_KFUNC_CALL {
                    call_args(insn).map_or(ARGS, |n| ARGS & ((1 << (n + 1)) - 1))
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
    call_args: &dyn Fn(&RawInsn) -> Option<u8>,
) -> Vec<RegSet> {
    let n = insns.len();
    let ud: Vec<(RegSet, RegSet)> = insns.iter().map(|i| use_def(i, call_args)).collect();
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

/// The `Live regs before insn:` table, with each instruction's SCC (blank
/// outside loops).
pub(crate) fn table(
    insns: &[RawInsn],
    live: &[RegSet],
    scc: &[u32],
    era: LogEra,
    sym: &dyn Symbolizer,
) -> String {
    let mut out = String::from("Live regs before insn:\n");
    let mut i = 0;
    while i < insns.len() {
        match scc.get(i).copied().unwrap_or(0) {
            0 => out.push_str("    "),
            n => out.push_str(&format!("{n:3} ")),
        }
        out.push_str(&format!("{i:3}: "));
        for r in 0..10 {
            if live[i] & (1 << r) != 0 {
                out.push_str(&r.to_string());
            } else {
                out.push('.');
            }
        }
        out.push(' ');
        out.push_str(&disasm(insns, i, era, sym));
        out.push('\n');
        i += if is_ldimm64(&insns[i]) { 2 } else { 1 };
    }
    out
}
