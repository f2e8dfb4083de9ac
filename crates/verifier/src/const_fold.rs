//! 7.x's constant folding before the walk (`kernel/bpf/const_fold.c`):
//! `bpf_compute_const_regs` finds, by a forward fixpoint over each
//! subprogram's instructions, which of `R0`–`R10` hold a known value, and
//! `bpf_prune_dead_branches` rewrites every conditional jump those values
//! decide into a `goto` (`goto +0` when it falls through). Later passes —
//! the call graph's topological sort, the SCCs, register liveness and the
//! walk — see the rewritten program.

use bpfcheck_uapi::{LoadRequest, MapType, RawInsn, op};

use crate::error::Unsupported;

/// `MAX_BPF_REG`: the registers the analysis follows (`R0`–`R10`).
const REGS: usize = 11;
/// `ARRAY_SIZE(const_reg_vals)`: the registers whose constants are kept.
const KEPT_REGS: usize = 10;
/// `BPF_F_RDONLY_PROG`.
const RDONLY_PROG: u32 = 1 << 7;

/// `enum const_arg_state`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum Kind {
    #[default]
    Unvisited,
    Unknown,
    Const,
    MapPtr,
    MapValue,
    Subprog,
}

/// `struct const_arg_info`. The kernel leaves the fields a state does not
/// use as they were, and its join compares all three, so they are kept
/// (a map pointer keeps the value of what the register held before).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
struct Info {
    kind: Kind,
    map: u32,
    val: u64,
}

const UNKNOWN: Info = Info {
    kind: Kind::Unknown,
    map: 0,
    val: 0,
};

type Regs = [Info; REGS];

/// What the pass did: the program the later passes see, and the jumps it
/// rewrote.
pub(crate) struct Folded {
    pub(crate) insns: Vec<RawInsn>,
    pub(crate) rewritten: Vec<usize>,
}

fn is_ldimm64(insn: &RawInsn) -> bool {
    insn.code == op::LD | op::IMM | op::DW
}

/// `bpf_insn_is_cond_jump`, `may_goto` excluded.
fn is_cond_jump(insn: &RawInsn) -> bool {
    let o = op::alu_op(insn.code);
    match insn.class() {
        op::JMP32 => o != op::JA,
        op::JMP => !matches!(o, op::JA | op::EXIT | op::CALL | op::JCOND),
        _ => false,
    }
}

/// `bpf_atomic_load_reg`: the register an atomic instruction writes.
fn atomic_load_reg(insn: &RawInsn) -> Option<usize> {
    if insn.class() != op::STX || op::mode(insn.code) != op::ATOMIC {
        return None;
    }
    match insn.imm {
        op::LOAD_ACQ => Some(usize::from(insn.dst)),
        op::CMPXCHG => Some(0),
        imm if imm & op::FETCH != 0 => Some(usize::from(insn.src)),
        _ => None,
    }
}

struct Analysis<'a> {
    req: &'a LoadRequest,
    starts: &'a [usize],
}

impl Analysis<'_> {
    /// The index of the map an `ld_imm64` at `i` names.
    fn map_index(&self, i: usize) -> u32 {
        crate::prepare::ldimm64::map_index(self.req, i).unwrap_or(u32::MAX)
    }

    /// `bpf_map_direct_read` when `bpf_map_is_rdonly`: the bytes of a
    /// frozen read-only single-entry array, `None` when the kernel reads
    /// nothing.
    fn direct_read(&self, map: u32, off: i64, size: usize, signed: bool) -> Option<u64> {
        let spec = self.req.maps.get(map as usize)?;
        let rdonly = spec.flags & RDONLY_PROG != 0 && spec.frozen;
        if !rdonly || spec.map_type != MapType::ARRAY || spec.max_entries != 1 {
            return None;
        }
        let at = usize::try_from(off).ok()?;
        if at + size > spec.value_size as usize {
            return None;
        }
        let mut bytes = [0u8; 8];
        for (k, b) in bytes.iter_mut().enumerate().take(size) {
            *b = spec
                .initial_value
                .as_ref()
                .and_then(|v| v.get(at + k).copied())
                .unwrap_or(0);
        }
        let raw = u64::from_le_bytes(bytes);
        let bits = size * 8;
        Some(if signed && bits < 64 {
            let shift = 64 - bits;
            (((raw << shift) as i64) >> shift) as u64
        } else {
            raw
        })
    }

    /// `const_reg_xfer`: the registers after instruction `i`.
    fn transfer(&self, regs: &mut Regs, i: usize) -> Result<(), Unsupported> {
        let insns = &self.req.insns;
        let insn = insns[i];
        let (d, s) = (usize::from(insn.dst), usize::from(insn.src));
        if d >= REGS || s >= REGS {
            return Err(Unsupported::new(
                "stack arguments (BPF_REG_PARAMS) in 7.x's constant folding",
                Some(i),
            ));
        }
        let class = insn.class();
        match class {
            op::ALU | op::ALU64 => {
                let src = regs[s];
                let dst = &mut regs[d];
                let o = op::alu_op(insn.code) | op::src(insn.code);
                match o {
                    _ if o == op::MOV | op::K => {
                        dst.kind = Kind::Const;
                        dst.val = i64::from(insn.imm) as u64;
                    }
                    _ if o == op::MOV | op::X => {
                        *dst = src;
                        if insn.off != 0 {
                            if dst.kind == Kind::Const {
                                dst.val = match insn.off {
                                    8 => i64::from(dst.val as i8) as u64,
                                    16 => i64::from(dst.val as i16) as u64,
                                    32 => i64::from(dst.val as i32) as u64,
                                    _ => {
                                        *dst = UNKNOWN;
                                        dst.val
                                    }
                                };
                            } else {
                                *dst = UNKNOWN;
                            }
                        }
                    }
                    _ if o == op::ADD | op::K || o == op::SUB | op::K => {
                        if matches!(dst.kind, Kind::Const | Kind::MapValue) {
                            let k = i64::from(insn.imm) as u64;
                            dst.val = if o == op::ADD | op::K {
                                dst.val.wrapping_add(k)
                            } else {
                                dst.val.wrapping_sub(k)
                            };
                        } else {
                            *dst = UNKNOWN;
                        }
                    }
                    _ if o == op::AND | op::K => {
                        if dst.kind == Kind::Const {
                            dst.val &= i64::from(insn.imm) as u64;
                        } else if insn.imm == 0 {
                            dst.kind = Kind::Const;
                            dst.val = 0;
                        } else {
                            *dst = UNKNOWN;
                        }
                    }
                    _ if o == op::AND | op::X => {
                        if dst.kind == Kind::Const && dst.val == 0 {
                        } else if src.kind == Kind::Const && src.val == 0 {
                            dst.kind = Kind::Const;
                            dst.val = 0;
                        } else if dst.kind != Kind::Const || src.kind != Kind::Const {
                            *dst = UNKNOWN;
                        } else {
                            dst.val &= src.val;
                        }
                    }
                    _ => *dst = UNKNOWN,
                }
                if class == op::ALU {
                    if dst.kind == Kind::Const {
                        dst.val &= u64::from(u32::MAX);
                    } else if dst.kind != Kind::Unknown {
                        *dst = UNKNOWN;
                    }
                }
            }
            op::LD => match op::mode(insn.code) {
                op::ABS | op::IND => regs[..=5].fill(UNKNOWN),
                op::IMM if is_ldimm64(&insn) => {
                    let dst = &mut regs[d];
                    match insn.src {
                        op::PSEUDO_FUNC => {
                            let target = i64::try_from(i).unwrap_or(0) + i64::from(insn.imm) + 1;
                            match usize::try_from(target)
                                .ok()
                                .and_then(|t| self.starts.binary_search(&t).ok())
                            {
                                Some(k) => {
                                    dst.kind = Kind::Subprog;
                                    dst.val = k as u64;
                                }
                                None => *dst = UNKNOWN,
                            }
                        }
                        op::PSEUDO_MAP_VALUE | op::PSEUDO_MAP_IDX_VALUE => {
                            dst.kind = Kind::MapValue;
                            dst.map = self.map_index(i);
                            dst.val = u64::from(insns[i + 1].imm as u32);
                        }
                        op::PSEUDO_MAP_FD | op::PSEUDO_MAP_IDX => {
                            dst.kind = Kind::MapPtr;
                            dst.map = self.map_index(i);
                        }
                        0 => {
                            dst.kind = Kind::Const;
                            dst.val = u64::from(insn.imm as u32)
                                | (u64::from(insns[i + 1].imm as u32) << 32);
                        }
                        _ => *dst = UNKNOWN,
                    }
                }
                _ => {}
            },
            op::LDX => {
                let src = regs[s];
                let mode = op::mode(insn.code);
                let size = match op::size(insn.code) {
                    op::B => 1,
                    op::H => 2,
                    op::W => 4,
                    _ => 8,
                };
                let read = (src.kind == Kind::MapValue)
                    .then(|| {
                        // `int off = src->val + insn->off`.
                        let off = src.val.wrapping_add(i64::from(insn.off) as u64) as u32 as i32;
                        self.direct_read(src.map, i64::from(off), size, mode == op::MEMSX)
                    })
                    .flatten();
                regs[d] = match read {
                    Some(v) => Info {
                        kind: Kind::Const,
                        val: v,
                        ..regs[d]
                    },
                    None => UNKNOWN,
                };
            }
            op::JMP if op::alu_op(insn.code) == op::CALL => regs[..=5].fill(UNKNOWN),
            op::STX => {
                if let Some(r) = atomic_load_reg(&insn) {
                    regs[r] = UNKNOWN;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// `const_reg_join`: merges `out` into a successor's `into`.
fn join(into: &mut Regs, out: &Regs) -> bool {
    let mut changed = false;
    for (old, new) in into.iter_mut().zip(out) {
        if old.kind == Kind::Unvisited && new.kind != Kind::Unvisited {
            *old = *new;
            changed = true;
        } else if !matches!(old.kind, Kind::Unknown | Kind::Unvisited) && old != new {
            old.kind = Kind::Unknown;
            changed = true;
        }
    }
    changed
}

/// `eval_const_branch`.
fn taken(code: u8, d: u64, s: u64) -> bool {
    match op::alu_op(code) {
        op::JEQ => d == s,
        op::JNE => d != s,
        op::JGT => d > s,
        op::JGE => d >= s,
        op::JLT => d < s,
        op::JLE => d <= s,
        op::JSGT => (d as i64) > (s as i64),
        op::JSGE => (d as i64) >= (s as i64),
        op::JSLT => (d as i64) < (s as i64),
        op::JSLE => (d as i64) <= (s as i64),
        _ => d & s != 0,
    }
}

/// The program after `bpf_compute_const_regs` and
/// `bpf_prune_dead_branches`. `starts` are the subprograms' first
/// instructions.
pub(crate) fn fold(req: &LoadRequest, starts: &[usize]) -> Result<Folded, Unsupported> {
    let insns = &req.insns;
    let n = insns.len();
    let a = Analysis { req, starts };
    let mut state = vec![0u8; n];
    let order: Vec<usize> = starts
        .iter()
        .flat_map(|&s| crate::check::insn_postorder(insns, s, &mut state))
        .collect();
    let mut at: Vec<Regs> = vec![[Info::default(); REGS]; n];
    for &s in starts {
        if s < n {
            at[s] = [UNKNOWN; REGS];
        }
    }
    loop {
        let mut changed = false;
        for &i in order.iter().rev() {
            let mut out = at[i];
            a.transfer(&mut out, i)?;
            for succ in crate::liveness::successors(insns, i) {
                if succ < n {
                    changed |= join(&mut at[succ], &out);
                }
            }
        }
        if !changed {
            break;
        }
    }
    // Only constants that fit in 32 bits are kept for the rewrite.
    let known = |i: usize, r: u8| {
        let r = usize::from(r);
        let c = at[i].get(r).filter(|_| r < KEPT_REGS)?;
        (c.kind == Kind::Const && c.val >> 32 == 0).then_some(c.val)
    };
    let mut out = insns.clone();
    let mut rewritten = Vec::new();
    for (i, insn) in insns.iter().enumerate() {
        if !is_cond_jump(insn) {
            continue;
        }
        let Some(mut d) = known(i, insn.dst) else {
            continue;
        };
        let mut s = if op::src(insn.code) == op::K {
            i64::from(insn.imm) as u64
        } else {
            match known(i, insn.src) {
                Some(v) => v,
                None => continue,
            }
        };
        if insn.class() == op::JMP32 {
            d = i64::from(d as i32) as u64;
            s = i64::from(s as i32) as u64;
        }
        let off = if taken(insn.code, d, s) { insn.off } else { 0 };
        out[i] = RawInsn::new(op::JMP | op::JA, 0, 0, off, 0);
        rewritten.push(i);
    }
    Ok(Folded {
        insns: out,
        rewritten,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(insns: Vec<RawInsn>) -> LoadRequest {
        LoadRequest {
            insns,
            ..LoadRequest::default()
        }
    }

    #[test]
    fn constant_jumps_become_gotos_and_merges_forget() {
        let mov = |r, k| RawInsn::new(op::ALU64 | op::MOV | op::K, r, 0, 0, k);
        let exit = RawInsn::new(op::JMP | op::EXIT, 0, 0, 0, 0);
        // 0: r1 = 5; 1: if r1 > 3 goto +1; 2: r1 = 7; 3: if r1 == 5 goto +0;
        // 4: r0 = 0; 5: exit
        let p = req(vec![
            mov(1, 5),
            RawInsn::new(op::JMP | op::JGT | op::K, 1, 0, 1, 3),
            mov(1, 7),
            RawInsn::new(op::JMP | op::JEQ | op::K, 1, 0, 0, 5),
            mov(0, 0),
            exit,
        ]);
        let f = fold(&p, &[0]).unwrap();
        assert_eq!(f.rewritten, vec![1]);
        assert_eq!(f.insns[1], RawInsn::new(op::JMP | op::JA, 0, 0, 1, 0));
        // Negative constants are not kept: `if r1 == -1` stays.
        let q = req(vec![
            mov(1, -1),
            RawInsn::new(op::JMP | op::JEQ | op::K, 1, 0, 0, -1),
            mov(0, 0),
            exit,
        ]);
        assert!(fold(&q, &[0]).unwrap().rewritten.is_empty());
        // A 32-bit jump compares the sign-extended low halves: 1 s< 2.
        let r = req(vec![
            mov(1, 1),
            RawInsn::new(op::JMP32 | op::JSGT | op::K, 1, 0, 0, 2),
            mov(0, 0),
            exit,
        ]);
        let f = fold(&r, &[0]).unwrap();
        assert_eq!(f.insns[1], RawInsn::new(op::JMP | op::JA, 0, 0, 0, 0));
    }
}
