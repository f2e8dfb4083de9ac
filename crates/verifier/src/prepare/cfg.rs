//! `check_cfg`: an iterative depth-first walk over the control-flow graph
//! from the entry. It finds code no path reaches, jumps into the second
//! half of an `ld_imm64` (5.13+, `Features::cfg_ldimm64_middle_check`),
//! and loops: any for loaders without `CAP_BPF`, and up to 6.1 those closed
//! along a fall-through or call edge even with it
//! (`Features::cfg_loops_on_any_edge`).
//!
//! The walk visits edges in the kernel's order (fall-through before branch,
//! call return before callee) so that when a program has several such
//! faults, the one reported is the one the kernel reports.

use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::{Errno, LoadRequest, MapType, RawInsn, op};

use super::subprogs::is_ldimm64;
use crate::error::{ErrorCode, Stop, Unsupported, VerifierError};

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
    /// First instruction of each subprogram, ascending.
    subprog_starts: &'a [usize],
    /// The program uses a `BPF_MAP_TYPE_INSN_ARRAY` map (jump tables).
    insn_array_maps: bool,
    marks: Vec<Mark>,
    stack: Vec<usize>,
    /// `CAP_BPF`: loops are allowed along the edges `loops_on_any_edge` says.
    bpf_capable: bool,
    loops_on_any_edge: bool,
    /// `ld_imm64` is one two-slot node; else each slot is walked.
    ldimm64_pairs: bool,
}

impl Walk<'_> {
    fn err(code: ErrorCode, t: usize, msg: String) -> Stop {
        Stop::Reject(VerifierError::new(code, Errno::EINVAL, Some(t), msg))
    }

    /// Follows edge `e` from `t` to `w` unless it was followed before.
    /// `jump` says whether the edge is a jump's, which older kernels alone
    /// let close a loop.
    fn push(&mut self, t: usize, w: i64, e: Edge, jump: bool) -> Result<Step, Stop> {
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
                if self.bpf_capable && (jump || self.loops_on_any_edge) {
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
        let width = if self.ldimm64_pairs && is_ldimm64(&insn) {
            2
        } else {
            1
        };
        if is_ldimm64(&insn) && insn.src == op::PSEUDO_FUNC {
            return self.call_like(t, here + i64::from(insn.imm) + 1, width, true);
        }
        let class = insn.class();
        if class != op::JMP && class != op::JMP32 {
            return self.push(t, here + width, Edge::FallThrough, false);
        }
        match op::alu_op(insn.code) {
            op::EXIT => Ok(Step::Done),
            op::CALL => self.call_like(
                t,
                here + i64::from(insn.imm) + 1,
                1,
                insn.src == op::PSEUDO_CALL,
            ),
            op::JA if op::src(insn.code) == op::X => self.gotox(t),
            op::JA => {
                let off = if class == op::JMP {
                    i64::from(insn.off)
                } else {
                    i64::from(insn.imm)
                };
                self.push(t, here + off + 1, Edge::FallThrough, true)
            }
            _ => match self.push(t, here + 1, Edge::FallThrough, true)? {
                Step::Descend => Ok(Step::Descend),
                Step::Done => self.push(t, here + i64::from(insn.off) + 1, Edge::Branch, true),
            },
        }
    }

    /// `gotox`: its targets are the entries of the `BPF_MAP_TYPE_INSN_ARRAY`
    /// jump tables that point into its subprogram.
    fn gotox(&self, t: usize) -> Result<Step, Stop> {
        if self.insn_array_maps {
            return Err(
                Unsupported::new("indirect jumps (gotox) through jump tables", Some(t)).into(),
            );
        }
        let start = self
            .subprog_starts
            .iter()
            .copied()
            .take_while(|&s| s <= t)
            .last()
            .unwrap_or(0);
        Err(Walk::err(
            ErrorCode::InvalidInsn,
            t,
            format!("no jump tables found for subprog starting at {start}"),
        ))
    }

    fn call_like(
        &mut self,
        t: usize,
        callee: i64,
        width: i64,
        visit_callee: bool,
    ) -> Result<Step, Stop> {
        let here = i64::try_from(t).unwrap_or(i64::MAX);
        match self.push(t, here + width, Edge::FallThrough, false)? {
            Step::Descend => Ok(Step::Descend),
            // A function reference's edge may close a loop (a callback
            // naming a function being visited: `bpf_pseudo_func` is
            // `push_insn`'s `loop_ok`); a call's may not.
            Step::Done if visit_callee => {
                let func_ref = is_ldimm64(&self.insns[t]);
                self.push(t, callee, Edge::Branch, func_ref)
            }
            Step::Done => Ok(Step::Done),
        }
    }
}

pub(crate) fn check(
    req: &LoadRequest,
    subprog_starts: &[usize],
    exception_cb: Option<usize>,
    profile: &KernelProfile,
) -> Result<(), Stop> {
    let insns = &req.insns[..];
    let mut walk = Walk {
        insns,
        subprog_starts,
        insn_array_maps: req.maps.iter().any(|m| m.map_type == MapType::INSN_ARRAY),
        marks: vec![Mark::Unseen; insns.len()],
        stack: vec![0],
        bpf_capable: profile.bpf_capable(),
        loops_on_any_edge: profile.features.cfg_loops_on_any_edge,
        ldimm64_pairs: profile.features.cfg_ldimm64_middle_check,
    };
    walk.marks[0] = Mark::Discovered { pushed: Edge::None };
    // The exception callback, which nothing calls, is a second root,
    // walked once the main program's walk is done.
    for root in [Some(0), exception_cb].into_iter().flatten() {
        if root != 0 {
            walk.marks[root] = Mark::Discovered { pushed: Edge::None };
            walk.stack.push(root);
        }
        while let Some(&t) = walk.stack.last() {
            if let Step::Done = walk.visit(t)? {
                walk.marks[t] = Mark::Explored;
                walk.stack.pop();
            }
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
        if walk.ldimm64_pairs && is_ldimm64(&insns[i]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(insns: &[RawInsn], profile: &str) -> Result<(), String> {
        let p = KernelProfile::builtin(profile).unwrap();
        let req = LoadRequest {
            insns: insns.to_vec(),
            ..LoadRequest::default()
        };
        check(&req, &[0], None, &p).map_err(|e| match e {
            Stop::Reject(e) => e.message,
            Stop::Unsupported(u) => u.to_string(),
        })
    }

    #[test]
    fn gotox_needs_a_jump_table() {
        // 0: r1 = 0; 1: gotox r1; 2: exit (7.x only).
        let prog = [
            RawInsn::new(0xb7, 1, 0, 0, 0),
            RawInsn::new(0x0d, 1, 0, 0, 0),
            RawInsn::new(0x95, 0, 0, 0, 0),
        ];
        assert_eq!(
            run(&prog, "7.2").unwrap_err(),
            "no jump tables found for subprog starting at 0"
        );
    }

    #[test]
    fn loops_closed_by_a_fall_through_edge() {
        // 0: goto 2; 1: r0 = 1; 2: if r0 == 0 goto 1; 3: exit. The walk
        // reaches 1 from 2's branch, and 1 falls through to 2, still on
        // the stack.
        let prog = [
            RawInsn::new(0x05, 0, 0, 1, 0),
            RawInsn::new(0xb7, 0, 0, 0, 1),
            RawInsn::new(0x15, 0, 0, -2, 0),
            RawInsn::new(0x95, 0, 0, 0, 0),
        ];
        assert_eq!(run(&prog, "6.12"), Ok(()));
        assert_eq!(run(&prog, "6.1").unwrap_err(), "back-edge from insn 1 to 2");
        assert_eq!(
            run(&prog, "5.10").unwrap_err(),
            "back-edge from insn 1 to 2"
        );
    }

    #[test]
    fn a_callback_may_name_a_function_being_visited() {
        // 0: call 3; 1: r0 = 0; 2: exit; 3-4: r1 = &func(3); 5: r0 = 0;
        // 6: exit. The reference at 3 names its own function: a loop the
        // kernel allows for references (6.1's `loop_ok`), not for calls.
        let prog = [
            RawInsn::new(0x85, 0, 1, 0, 2),
            RawInsn::new(0xb7, 0, 0, 0, 0),
            RawInsn::new(0x95, 0, 0, 0, 0),
            RawInsn::new(0x18, 1, 4, 0, -1),
            RawInsn::new(0, 0, 0, 0, 0),
            RawInsn::new(0xb7, 0, 0, 0, 0),
            RawInsn::new(0x95, 0, 0, 0, 0),
        ];
        assert_eq!(run(&prog, "6.1"), Ok(()));
        assert_eq!(run(&prog, "6.12"), Ok(()));
    }

    #[test]
    fn jumps_into_ld_imm64() {
        let prog = [
            RawInsn::new(0xb7, 0, 0, 0, 0),
            RawInsn::new(0x15, 0, 0, 1, 0),
            RawInsn::new(0x18, 1, 0, 0, 0),
            RawInsn::new(0, 0, 0, 0, 1),
            RawInsn::new(0x95, 0, 0, 0, 0),
        ];
        assert_eq!(
            run(&prog, "6.1").unwrap_err(),
            "jump into the middle of ldimm64 insn 2"
        );
        // 5.10 walks the second slot as an instruction: nothing to report.
        assert_eq!(run(&prog, "5.10"), Ok(()));
    }
}
