//! Where a register's value was defined, from the instructions alone:
//! reaching definitions within one function, over its control-flow graph,
//! without abstract states. It answers "which instruction last wrote R1
//! before insn 12" for programs whose states are not known (a diagnostic's
//! fallback when no walk reached the instruction).
//!
//! Calls (helpers, kfuncs, subprograms) and the legacy packet loads write
//! R0 and clobber R1-R5; a subprogram's body is not entered. The entry of
//! the function is a definition of its own: the context and frame pointer
//! of the main program, the arguments of a subprogram.

use bpfcheck_uapi::{RawInsn, op};

/// A place a register's value may come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Def {
    /// The function's entry (R1 and R10 of the main program, R1-R5 and
    /// R10 of a subprogram); any other register holds nothing there.
    Entry,
    /// Instruction `N` wrote it.
    Insn(usize),
    /// Instruction `N` (a call or a packet load) clobbered it.
    Clobbered(usize),
}

const CLOBBERED: [u8; 5] = [1, 2, 3, 4, 5];

fn is_call(i: &RawInsn) -> bool {
    i.class() == op::JMP && i.code & 0xf0 == op::CALL
}

fn is_ld_imm64(i: &RawInsn) -> bool {
    i.code == op::LD | op::IMM | op::DW
}

fn is_pkt_load(i: &RawInsn) -> bool {
    i.class() == op::LD && matches!(i.code & 0xe0, op::ABS | op::IND)
}

/// What instruction `i` does to register `r`.
fn effect(insns: &[RawInsn], i: usize, r: u8) -> Option<Def> {
    let insn = insns[i];
    if is_call(&insn) || is_pkt_load(&insn) {
        return match r {
            0 => Some(Def::Insn(i)),
            _ if CLOBBERED.contains(&r) => Some(Def::Clobbered(i)),
            _ => None,
        };
    }
    let writes = match insn.class() {
        op::ALU | op::ALU64 | op::LDX => insn.dst == r,
        op::LD => is_ld_imm64(&insn) && insn.dst == r,
        op::STX if insn.code & 0xe0 == op::ATOMIC => match insn.imm {
            op::CMPXCHG => r == 0,
            op::LOAD_ACQ => insn.dst == r,
            imm if imm & op::FETCH != 0 => insn.src == r,
            _ => false,
        },
        _ => false,
    };
    writes.then_some(Def::Insn(i))
}

/// The instructions control may reach after `i`.
fn successors(insns: &[RawInsn], i: usize) -> Vec<usize> {
    let insn = insns[i];
    let next = |d: i64| usize::try_from(i as i64 + 1 + d).ok();
    let out: Vec<Option<usize>> = match insn.class() {
        op::JMP | op::JMP32 => match insn.code & 0xf0 {
            op::EXIT => vec![],
            op::CALL => vec![next(0)],
            op::JA if insn.class() == op::JMP32 => vec![next(i64::from(insn.imm))],
            op::JA => vec![next(i64::from(insn.off))],
            _ => vec![next(0), next(i64::from(insn.off))],
        },
        op::LD if is_ld_imm64(&insn) => vec![next(1)],
        _ => vec![next(0)],
    };
    out.into_iter()
        .flatten()
        .filter(|&t| t < insns.len())
        .collect()
}

/// Function entries: 0 and the targets of subprogram calls and of
/// function-pointer loads.
fn entries(insns: &[RawInsn]) -> Vec<usize> {
    let mut out = vec![0];
    for (i, insn) in insns.iter().enumerate() {
        let pseudo_call = is_call(insn) && insn.src == 1;
        let func_ptr = is_ld_imm64(insn) && insn.src == op::PSEUDO_FUNC;
        if (pseudo_call || func_ptr)
            && let Ok(t) = usize::try_from(i as i64 + 1 + i64::from(insn.imm))
            && t < insns.len()
        {
            out.push(t);
        }
    }
    out
}

/// The entry of the function holding instruction `at` (the last entry at
/// or before it; functions are contiguous).
pub fn function_of(insns: &[RawInsn], at: usize) -> usize {
    entries(insns)
        .into_iter()
        .filter(|&e| e <= at)
        .max()
        .unwrap_or(0)
}

/// What the end of a chain says of register `r` at instruction `at`, in
/// words: the function's entry or a clobber (`None` for an instruction).
pub fn describe_end(insns: &[RawInsn], at: usize, r: u8, def: Def) -> Option<String> {
    match def {
        Def::Insn(_) => None,
        Def::Clobbered(i) => Some(format!(
            "R{r}: clobbered by insn {i} (a call or a packet load): it holds no value after it"
        )),
        Def::Entry => Some(match (function_of(insns, at), r) {
            (_, 10) => "R10: the frame pointer, from the function's entry".to_owned(),
            (0, 1) => "R1: the context pointer the program was given at its entry".to_owned(),
            (f, 1..=5) if f > 0 => {
                format!("R{r}: argument {r} of the function at insn {f}, from its caller")
            }
            _ => format!(
                "R{r}: no instruction writes it before insn {at} on any path: it holds no value"
            ),
        }),
    }
}

/// Every definition of `r` that reaches instruction `at` (before it runs),
/// sorted; empty when `at` is out of range.
pub fn reaching(insns: &[RawInsn], at: usize, r: u8) -> Vec<Def> {
    if at >= insns.len() || r > 10 {
        return Vec::new();
    }
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); insns.len()];
    for i in 0..insns.len() {
        for s in successors(insns, i) {
            preds[s].push(i);
        }
    }
    let starts = entries(insns);
    let mut defs: Vec<Def> = Vec::new();
    let mut seen = vec![false; insns.len()];
    let mut work = vec![at];
    while let Some(i) = work.pop() {
        if starts.contains(&i) && !defs.contains(&Def::Entry) {
            defs.push(Def::Entry);
        }
        for &p in &preds[i] {
            if std::mem::replace(&mut seen[p], true) {
                continue;
            }
            match effect(insns, p, r) {
                Some(d) => {
                    if !defs.contains(&d) {
                        defs.push(d);
                    }
                }
                None => work.push(p),
            }
        }
    }
    defs.sort();
    defs
}

/// The single definition chain of `r` before `at`, newest first: while the
/// register has exactly one reaching definition that copies another
/// register (`rX = rY`), the chain continues with that one. `None` when a
/// step has several reaching definitions (the value depends on the path).
pub fn chain(insns: &[RawInsn], at: usize, r: u8, max: usize) -> Option<Vec<Def>> {
    let mut out = Vec::new();
    let (mut at, mut r) = (at, r);
    while out.len() < max {
        let defs = reaching(insns, at, r);
        let [d] = defs.as_slice() else {
            return None;
        };
        out.push(*d);
        let Def::Insn(i) = *d else { break };
        let insn = insns[i];
        let copy = matches!(insn.class(), op::ALU | op::ALU64)
            && insn.code & 0xf0 == op::MOV
            && insn.code & op::X != 0
            && insn.off == 0;
        if !copy {
            break;
        }
        (at, r) = (i, insn.src);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mov_k(dst: u8, imm: i32) -> RawInsn {
        RawInsn::new(op::ALU64 | op::MOV | op::K, dst, 0, 0, imm)
    }
    fn mov_x(dst: u8, src: u8) -> RawInsn {
        RawInsn::new(op::ALU64 | op::MOV | op::X, dst, src, 0, 0)
    }
    fn exit() -> RawInsn {
        RawInsn::new(op::JMP | op::EXIT, 0, 0, 0, 0)
    }

    #[test]
    fn one_path_and_copies() {
        let insns = [
            mov_k(2, 1),
            mov_x(3, 2),
            RawInsn::new(op::JMP | op::JEQ | op::K, 3, 0, 1, 0),
            mov_k(3, 5),
            mov_x(0, 3),
            exit(),
        ];
        assert_eq!(reaching(&insns, 4, 3), [Def::Insn(1), Def::Insn(3)]);
        assert_eq!(chain(&insns, 4, 3, 4), None);
        assert_eq!(
            chain(&insns, 2, 3, 4),
            Some(vec![Def::Insn(1), Def::Insn(0)])
        );
        assert_eq!(reaching(&insns, 0, 1), [Def::Entry]);
    }

    #[test]
    fn calls_clobber_the_arguments() {
        let insns = [
            mov_k(2, 1),
            RawInsn::new(op::JMP | op::CALL, 0, 0, 0, 7),
            mov_x(0, 2),
            exit(),
        ];
        assert_eq!(reaching(&insns, 2, 2), [Def::Clobbered(1)]);
        assert_eq!(reaching(&insns, 2, 0), [Def::Insn(1)]);
        assert_eq!(reaching(&insns, 2, 6), [Def::Entry]);
    }
}
