//! Test-case reduction: the smallest program (by instructions, then by
//! immediates) that still shows the same behaviour.
//!
//! Delta debugging over instructions (chunks of halving size, with jump
//! targets moved to the next surviving instruction), then replacing each
//! remaining instruction by `r0 = 0`, then simplifying immediates towards
//! 0 and 1. Each step keeps a candidate only if `keeps` holds for it.

use bpfcheck_isa::{Insn, Operand};
use bpfcheck_uapi::{LoadRequest, RegNo};

use crate::prog::{Node, Prog};

/// Reduces `req` while `keeps` holds, calling it at most `budget` times.
/// Programs that do not decode into instructions are returned unchanged.
pub fn reduce(
    req: &LoadRequest,
    budget: usize,
    mut keeps: impl FnMut(&LoadRequest) -> bool,
) -> LoadRequest {
    let Some(mut prog) = Prog::from_raw(&req.insns) else {
        return req.clone();
    };
    let mut calls = 0usize;
    let mut attempt = |p: &Prog, calls: &mut usize| -> bool {
        if *calls >= budget {
            return false;
        }
        let Some(insns) = p.to_raw() else {
            return false;
        };
        *calls += 1;
        let cand = LoadRequest {
            insns,
            ..req.clone()
        };
        keeps(&cand)
    };

    // 1. Remove chunks, halving their size.
    let mut chunk = prog.nodes.len().div_ceil(2).max(1);
    loop {
        let mut lo = 0;
        while lo < prog.nodes.len() {
            let cand = prog.without_range(lo, lo + chunk);
            if !cand.nodes.is_empty() && attempt(&cand, &mut calls) {
                prog = cand;
            } else {
                lo += chunk;
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2);
    }

    // 2. Replace instructions by `r0 = 0`.
    let zero = Insn::mov64_imm(RegNo(0), 0);
    for i in 0..prog.nodes.len() {
        if prog.nodes[i].insn == zero || matches!(prog.nodes[i].insn, Insn::Exit { .. }) {
            continue;
        }
        let mut cand = prog.clone();
        cand.nodes[i] = Node::plain(zero);
        if attempt(&cand, &mut calls) {
            prog = cand;
        }
    }

    // 3. Simplify immediates.
    for i in 0..prog.nodes.len() {
        for simpler in [0, 1] {
            let Some(insn) = with_imm(prog.nodes[i].insn, simpler) else {
                continue;
            };
            if insn == prog.nodes[i].insn {
                break;
            }
            let mut cand = prog.clone();
            cand.nodes[i].insn = insn;
            if attempt(&cand, &mut calls) {
                prog = cand;
                break;
            }
        }
    }
    LoadRequest {
        insns: prog.to_raw().unwrap_or_else(|| req.insns.clone()),
        ..req.clone()
    }
}

fn with_imm(insn: Insn, v: i32) -> Option<Insn> {
    Some(match insn {
        Insn::Alu {
            width,
            op,
            dst,
            src: Operand::Imm(_),
        } => Insn::Alu {
            width,
            op,
            dst,
            src: Operand::Imm(v),
        },
        Insn::Jmp {
            width,
            op,
            dst,
            src: Operand::Imm(_),
            off,
        } => Insn::Jmp {
            width,
            op,
            dst,
            src: Operand::Imm(v),
            off,
        },
        Insn::Store {
            size,
            dst,
            off,
            src: Operand::Imm(_),
        } => Insn::Store {
            size,
            dst,
            off,
            src: Operand::Imm(v),
        },
        Insn::LdImm64 {
            dst,
            src: bpfcheck_isa::PseudoSrc::Imm,
            ..
        } => Insn::ld_imm64(dst, v as u64),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfcheck_isa::{AluOp, encode};

    #[test]
    fn reduces_to_the_instruction_that_matters() {
        let r1 = RegNo(1);
        let body = [
            Insn::mov64_imm(RegNo(0), 5),
            Insn::mov64_imm(RegNo(2), 9),
            Insn::alu64_imm(AluOp::Div, r1, 77),
            Insn::mov64_imm(RegNo(3), 9),
            Insn::Exit { off: 0 },
        ];
        let insns = body
            .iter()
            .flat_map(|i| encode(i).as_slice().to_vec())
            .collect();
        let req = LoadRequest {
            insns,
            ..LoadRequest::default()
        };
        // "Interesting": contains a division.
        let out = reduce(&req, 1000, |r| {
            Prog::from_raw(&r.insns).is_some_and(|p| {
                p.nodes
                    .iter()
                    .any(|n| matches!(n.insn, Insn::Alu { op: AluOp::Div, .. }))
            })
        });
        assert_eq!(out.insns.len(), 1);
        assert_eq!(out.insns[0].imm, 0);
    }
}
