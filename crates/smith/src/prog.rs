//! Programs as lists of instructions whose jumps name instructions, not
//! offsets, so that instructions can be inserted and removed (generation,
//! reduction) without breaking control flow.

use bpfcheck_isa::{Call, Insn, decode, encode};
use bpfcheck_uapi::RawInsn;

/// One instruction and, for jumps and subprogram calls, the index of the
/// node it goes to (`== len` means "one past the end").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node {
    /// The instruction; its offset field is recomputed by [`Prog::to_raw`].
    pub insn: Insn,
    /// Jump or call target.
    pub target: Option<usize>,
}

impl Node {
    /// A node without a target.
    pub const fn plain(insn: Insn) -> Self {
        Self { insn, target: None }
    }
}

/// A program as nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prog {
    /// The instructions in order.
    pub nodes: Vec<Node>,
}

/// The relative offset an instruction's jump field holds, if it has one.
fn rel_offset(insn: &Insn) -> Option<i64> {
    match *insn {
        Insn::Jmp { off, .. } | Insn::Ja { off } | Insn::MayGoto { off } => Some(i64::from(off)),
        Insn::Gotol { imm } | Insn::Call(Call::Subprog(imm)) => Some(i64::from(imm)),
        _ => None,
    }
}

fn with_offset(insn: Insn, rel: i64) -> Option<Insn> {
    let off16 = i16::try_from(rel).ok();
    let off32 = i32::try_from(rel).ok();
    Some(match insn {
        Insn::Jmp {
            width,
            op,
            dst,
            src,
            ..
        } => Insn::Jmp {
            width,
            op,
            dst,
            src,
            off: off16?,
        },
        Insn::Ja { .. } => Insn::Ja { off: off16? },
        Insn::MayGoto { .. } => Insn::MayGoto { off: off16? },
        Insn::Gotol { .. } => Insn::Gotol { imm: off32? },
        Insn::Call(Call::Subprog(_)) => Insn::Call(Call::Subprog(off32?)),
        other => other,
    })
}

impl Prog {
    /// Decodes a program whose every slot decodes and whose jumps land on
    /// instruction starts (or one past the end); `None` otherwise.
    pub fn from_raw(insns: &[RawInsn]) -> Option<Self> {
        let mut starts = Vec::new();
        let mut decoded = Vec::new();
        let mut slot = 0;
        while slot < insns.len() {
            let d = decode(insns, slot).ok()?;
            starts.push(slot);
            decoded.push(d.insn);
            slot += d.slots;
        }
        let node_at = |s: i64| -> Option<usize> {
            if s == insns.len() as i64 {
                return Some(starts.len());
            }
            let s = usize::try_from(s).ok()?;
            starts.binary_search(&s).ok()
        };
        let mut nodes = Vec::with_capacity(decoded.len());
        for (i, insn) in decoded.into_iter().enumerate() {
            let target = match rel_offset(&insn) {
                Some(rel) => {
                    let next = (starts[i] + insn.slots()) as i64;
                    Some(node_at(next + rel)?)
                }
                None => None,
            };
            nodes.push(Node { insn, target });
        }
        Some(Self { nodes })
    }

    /// Encodes, computing each jump's offset from its target; `None` when
    /// an offset does not fit its field.
    pub fn to_raw(&self) -> Option<Vec<RawInsn>> {
        let mut starts = Vec::with_capacity(self.nodes.len() + 1);
        let mut slot = 0usize;
        for n in &self.nodes {
            starts.push(slot);
            slot += n.insn.slots();
        }
        starts.push(slot);
        let mut out = Vec::with_capacity(slot);
        for (i, n) in self.nodes.iter().enumerate() {
            let insn = match n.target {
                Some(t) => {
                    let to = *starts.get(t)? as i64;
                    with_offset(n.insn, to - (starts[i] + n.insn.slots()) as i64)?
                }
                None => n.insn,
            };
            out.extend_from_slice(encode(&insn).as_slice());
        }
        Some(out)
    }

    /// The program without node `k`: jumps to it go to its successor.
    pub fn without(&self, k: usize) -> Self {
        self.without_range(k, k + 1)
    }

    /// The program without nodes `lo..hi`: jumps into the range go to the
    /// node after it.
    pub fn without_range(&self, lo: usize, hi: usize) -> Self {
        let hi = hi.min(self.nodes.len());
        let removed = hi.saturating_sub(lo);
        let remap = |t: usize| {
            if t < lo {
                t
            } else if t < hi {
                lo
            } else {
                t - removed
            }
        };
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| !(lo..hi).contains(i))
            .map(|(_, n)| Node {
                insn: n.insn,
                target: n.target.map(remap),
            })
            .collect();
        Self { nodes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfcheck_isa::JmpOp;
    use bpfcheck_uapi::RegNo;

    #[test]
    fn round_trip_and_removal() {
        let r0 = RegNo(0);
        let insns: Vec<RawInsn> = [
            Insn::mov64_imm(r0, 1),
            Insn::jmp_imm(JmpOp::Jeq, r0, 0, 2),
            Insn::ld_imm64(r0, 1 << 40),
            Insn::Exit { off: 0 },
        ]
        .iter()
        .flat_map(|i| encode(i).as_slice().to_vec())
        .collect();
        let p = Prog::from_raw(&insns).unwrap();
        assert_eq!(p.nodes[1].target, Some(3));
        assert_eq!(p.to_raw().unwrap(), insns);
        let q = p.without(2);
        assert_eq!(q.nodes[1].target, Some(2));
        let raw = q.to_raw().unwrap();
        assert_eq!(raw.len(), 3);
        assert_eq!(raw[1].off, 0);
    }
}
