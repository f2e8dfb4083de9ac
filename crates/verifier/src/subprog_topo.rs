//! 7.x's `sort_subprogs_topo`: the subprograms in the post-order of a
//! depth-first walk of the call graph (callees before their callers). It
//! runs after constant folding, on the instructions each subprogram can
//! still reach, and refuses recursion there, before any instruction is
//! walked. A function reference (`ld_imm64` of a callback) is an edge of
//! the graph but never makes a cycle.

use bpfcheck_btf::{Btf, BtfTypeId, Type};
use bpfcheck_uapi::{LoadRequest, RawInsn, op};

use crate::check::insn_postorder;

/// A call `from` → `to` closing a cycle (subprogram indices).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Recursion {
    pub(crate) from: usize,
    pub(crate) to: usize,
}

/// The subprograms in topological order, or the call that closes the
/// first cycle found. `insns` is the program after constant folding,
/// `starts` the subprograms' first instructions.
pub(crate) fn sort(insns: &[RawInsn], starts: &[usize]) -> Result<Vec<usize>, Recursion> {
    let mut state = vec![0u8; insns.len()];
    let reach: Vec<Vec<usize>> = starts
        .iter()
        .map(|&s| insn_postorder(insns, s, &mut state))
        .collect();
    // The callee of a call or function reference at `i`, and whether it is
    // a function reference.
    let callee = |i: usize| {
        let insn = insns[i];
        let call = insn.code == op::JMP | op::CALL && insn.src == op::PSEUDO_CALL;
        let func = insn.code == op::LD | op::IMM | op::DW && insn.src == op::PSEUDO_FUNC;
        if !(call || func) {
            return None;
        }
        let target = usize::try_from(i64::try_from(i).ok()? + i64::from(insn.imm) + 1).ok()?;
        starts.binary_search(&target).ok().map(|k| (k, func))
    };
    const FRESH: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let mut color = vec![FRESH; starts.len()];
    let mut order = Vec::with_capacity(starts.len());
    for root in 0..starts.len() {
        if color[root] != FRESH {
            continue;
        }
        color[root] = OPEN;
        let mut stack = vec![root];
        while let Some(&cur) = stack.last() {
            // The kernel rescans the subprogram from its start each time
            // it comes back to the top: the first edge not yet done wins.
            let mut next = None;
            for &i in &reach[cur] {
                let Some((to, func)) = callee(i) else {
                    continue;
                };
                match color[to] {
                    DONE => continue,
                    OPEN if func => continue,
                    OPEN => return Err(Recursion { from: cur, to }),
                    _ => {
                        next = Some(to);
                        break;
                    }
                }
            }
            match next {
                Some(to) => {
                    color[to] = OPEN;
                    stack.push(to);
                }
                None => {
                    color[cur] = DONE;
                    order.push(cur);
                    stack.pop();
                }
            }
        }
    }
    Ok(order)
}

/// `subprog_name`: the name of subprogram `k`'s `func_info` type, empty
/// without `func_info`.
pub(crate) fn subprog_name(req: &LoadRequest, k: usize) -> String {
    let Some(fi) = req.func_info.get(k) else {
        return String::new();
    };
    let Some(btf) = req.prog_btf.as_deref().and_then(|b| Btf::parse(b).ok()) else {
        return String::new();
    };
    match btf.type_by_id(BtfTypeId(fi.type_id)) {
        Ok(Type::Func(f)) => f.name().unwrap_or_default().to_owned(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callees_come_first_and_recursion_is_named() {
        let call = |to: i32| RawInsn::new(op::JMP | op::CALL, 0, op::PSEUDO_CALL, 0, to);
        let mov0 = RawInsn::new(op::ALU64 | op::MOV | op::K, 0, 0, 0, 0);
        let exit = RawInsn::new(op::JMP | op::EXIT, 0, 0, 0, 0);
        // main: call f; exit. f (2): call g; exit. g (4): r0 = 0; exit.
        let chain = [call(1), exit, call(1), exit, mov0, exit];
        assert_eq!(sort(&chain, &[0, 2, 4]), Ok(vec![2, 1, 0]));
        // main: call f; exit. f (2): call f; exit.
        let self_call = [call(1), exit, call(-1), exit];
        assert_eq!(sort(&self_call, &[0, 2]), Err(Recursion { from: 1, to: 1 }));
    }
}
