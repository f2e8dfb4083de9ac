//! Acquired references (`struct bpf_reference_state`): objects a helper
//! handed out that the program must give back before it exits, such as
//! the sockets of `bpf_sk_lookup_tcp`.
//!
//! The list belongs to the whole path (6.14 moved it from the frames to
//! the verifier state) and keeps its order when an entry is removed: the
//! log prints it in that order (`refs=2,4`) and `refsafe` compares it
//! position by position.

use std::fmt::Write as _;

/// One acquired reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefEntry {
    /// The id shared with the registers holding it (`ref_obj_id`).
    pub id: u32,
    /// The instruction that acquired it, named by the leak message.
    pub insn_idx: usize,
}

/// The references a path holds, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refs(Vec<RefEntry>);

impl Refs {
    /// Records a reference acquired at `insn_idx` under `id`.
    pub fn acquire(&mut self, id: u32, insn_idx: usize) {
        self.0.push(RefEntry { id, insn_idx });
    }

    /// Drops the reference `id`, keeping the others in order; `false`
    /// when it is not held (`release_reference_nomark`).
    pub fn release(&mut self, id: u32) -> bool {
        match self.0.iter().position(|r| r.id == id) {
            Some(i) => {
                self.0.remove(i);
                true
            }
            None => false,
        }
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The references, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &RefEntry> {
        self.0.iter()
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The ` refs=1,2` suffix of a state print-out, empty without any.
    pub(crate) fn fmt(&self, out: &mut String) {
        for (i, r) in self.0.iter().enumerate() {
            let sep = if i == 0 { " refs=" } else { "," };
            let _ = write!(out, "{sep}{}", r.id);
        }
    }
}
