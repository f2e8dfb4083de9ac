//! `check_cfg`: an iterative depth-first walk over the control-flow graph
//! from the entry. It finds code no path reaches, jumps into the second
//! half of an `ld_imm64`, and — for loaders without `CAP_BPF` — loops.
//!
//! The walk visits edges in the kernel's order (fall-through before branch,
//! call return before callee) so that when a program has several such
//! faults, the one reported is the one the kernel reports.

use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::{Errno, RawInsn, op};

use super::subprogs::is_ldimm64;
use crate::error::{ErrorCode, Stop, VerifierError};

/// Per-instruction walk state; an instruction on the DFS stack remembers
/// which of its edges it has already pushed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum Mark {
    #[default]
    Unseen,
    /// On the stack; `pushed` counts edges already followed.
    Discovered { pushed: Edge },
    /// Every successor done.
    Explored,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default)]
enum Edge {
    #[default]
    None,
    FallThrough,
    Branch,
}

enum Step {
    /// A new instruction was pushed; keep walking from it.
    Descend,
    /// This instruction has no edge left.
    Done,
}

struct Walk<'a> {
    insns: &'a [RawInsn],
    marks: Vec<Mark>,
    stack: Vec<usize>,
    allow_loops: bool,
}

impl Walk<'_> {
    fn err(code: ErrorCode, t: usize, msg: String) -> Stop {
        Stop::Reject(VerifierError::new(code, Errno::EINVAL, Some(t), msg))
    }

    /// Follows edge `e` from `t` to `w` unless it was followed before.
    fn push(&mut self, t: usize, w: i64, e: Edge) -> Result<Step, Stop> {
        if let Mark::Discovered { pushed } = self.marks[t]
            && pushed >= e
        {
            return Ok(Step::Done);
        }
        let Some(w) = usize::try_from(w).ok().filter(|w| *w < self.insns.len()) else {
            return Err(Self::err(
                ErrorCode::JumpOutOfRange,
                t,
                format!("jump out of range from insn {t} to {w}"),
            ));
        };
        match self.marks[w] {
            Mark::Unseen => {
                self.marks[t] = Mark::Discovered { pushed: e };
                self.marks[w] = Mark::Discovered { pushed: Edge::None };
                self.stack.push(w);
                Ok(Step::Descend)
            }
            Mark::Discovered { .. } => {
                if self.allow_loops {
                    Ok(Step::Done)
                } else {
                    Err(Self::err(
                        ErrorCode::BackEdge,
                        t,
                        format!("back-edge from insn {t} to {w}"),
                    ))
                }
            }
            Mark::Explored => {
                self.marks[t] = Mark::Discovered { pushed: e };
                Ok(Step::Done)
            }
        }
    }

    fn visit(&mut self, t: usize) -> Result<Step, Stop> {
        let insn = self.insns[t];
        let here = i64::try_from(t).unwrap_or(i64::MAX);
        let width = if is_ldimm64(&insn) { 2 } else { 1 };
        if is_ldimm64(&insn) && insn.src == op::PSEUDO_FUNC {
            return self.call_like(t, here + i64::from(insn.imm) + 1, width, true);
        }
        let class = insn.class();
        if class != op::JMP && class != op::JMP32 {
            return self.push(t, here + width, Edge::FallThrough);
        }
        match op::alu_op(insn.code) {
            op::EXIT => Ok(Step::Done),
            op::CALL => self.call_like(
                t,
                here + i64::from(insn.imm) + 1,
                1,
                insn.src == op::PSEUDO_CALL,
            ),
            op::JA => {
                // `JA|X` never gets here: it is not in the opcode table.
                let off = if class == op::JMP {
                    i64::from(insn.off)
                } else {
                    i64::from(insn.imm)
                };
                self.push(t, here + off + 1, Edge::FallThrough)
            }
            _ => match self.push(t, here + 1, Edge::FallThrough)? {
                Step::Descend => Ok(Step::Descend),
                Step::Done => self.push(t, here + i64::from(insn.off) + 1, Edge::Branch),
            },
        }
    }

    fn call_like(
        &mut self,
        t: usize,
        callee: i64,
        width: i64,
        visit_callee: bool,
    ) -> Result<Step, Stop> {
        let here = i64::try_from(t).unwrap_or(i64::MAX);
        match self.push(t, here + width, Edge::FallThrough)? {
            Step::Descend => Ok(Step::Descend),
            Step::Done if visit_callee => self.push(t, callee, Edge::Branch),
            Step::Done => Ok(Step::Done),
        }
    }
}

pub(crate) fn check(insns: &[RawInsn], profile: &KernelProfile) -> Result<(), Stop> {
    let mut walk = Walk {
        insns,
        marks: vec![Mark::Unseen; insns.len()],
        stack: vec![0],
        allow_loops: profile.bpf_capable(),
    };
    walk.marks[0] = Mark::Discovered { pushed: Edge::None };
    while let Some(&t) = walk.stack.last() {
        if let Step::Done = walk.visit(t)? {
            walk.marks[t] = Mark::Explored;
            walk.stack.pop();
        }
    }
    let mut i = 0;
    while i < insns.len() {
        if walk.marks[i] != Mark::Explored {
            return Err(Walk::err(
                ErrorCode::UnreachableInsn,
                i,
                format!("unreachable insn {i}"),
            ));
        }
        if is_ldimm64(&insns[i]) {
            if walk.marks.get(i + 1).is_some_and(|m| *m != Mark::Unseen) {
                return Err(Walk::err(
                    ErrorCode::JumpIntoLdImm64,
                    i,
                    format!("jump into the middle of ldimm64 insn {i}"),
                ));
            }
            i += 1;
        }
        i += 1;
    }
    Ok(())
}
