//! Acquired references (`struct bpf_reference_state`): objects a helper
//! handed out that the program must give back before it exits, such as
//! the sockets of `bpf_sk_lookup_tcp`.
//!
//! The list belongs to the whole path (6.14 moved it from the frames to
//! the verifier state) and keeps its order when an entry is removed: the
//! log prints it in that order (`refs=2,4`) and `refsafe` compares it
//! position by position.

use std::fmt::Write as _;

use super::MapIdx;

/// One acquired reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefEntry {
    /// The id shared with the registers holding it (`ref_obj_id`); for a
    /// lock, the id of the map value pointer it was taken through (0 for a
    /// direct value address).
    pub id: u32,
    /// The instruction that acquired it, named by the leak message.
    pub insn_idx: usize,
    /// A `bpf_spin_lock` held in this map's value (`REF_TYPE_LOCK`), not
    /// an object to release (`REF_TYPE_PTR`).
    pub lock: Option<MapIdx>,
}

/// The references a path holds, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refs(Vec<RefEntry>);

impl Refs {
    /// Records a reference acquired at `insn_idx` under `id`.
    pub fn acquire(&mut self, id: u32, insn_idx: usize) {
        self.0.push(RefEntry {
            id,
            insn_idx,
            lock: None,
        });
    }

    /// Records a spin lock of `map`'s value taken at `insn_idx` through a
    /// pointer with `id` (`acquire_lock_state`).
    pub fn acquire_lock(&mut self, id: u32, insn_idx: usize, map: MapIdx) {
        self.0.push(RefEntry {
            id,
            insn_idx,
            lock: Some(map),
        });
    }

    /// The spin lock held, if any (`active_locks`).
    pub fn lock(&self) -> Option<&RefEntry> {
        self.0.iter().find(|r| r.lock.is_some())
    }

    /// Drops the spin lock (`release_lock_state`).
    pub fn release_lock(&mut self) {
        self.0.retain(|r| r.lock.is_none());
    }

    /// The references to objects, which must be released, oldest first.
    pub fn pointers(&self) -> impl Iterator<Item = &RefEntry> {
        self.0.iter().filter(|r| r.lock.is_none())
    }

    /// Drops the reference `id`, keeping the others in order, or with
    /// `swap` moving the last one into its place (up to 6.12); `false`
    /// when it is not held (`release_reference_nomark`).
    pub fn release(&mut self, id: u32, swap: bool) -> bool {
        match self.0.iter().position(|r| r.id == id && r.lock.is_none()) {
            Some(i) if swap => {
                // Up to 6.12 locks are not references: the last reference
                // to an object is the one moved.
                let last = self.0.iter().rposition(|r| r.lock.is_none()).unwrap_or(i);
                self.0.swap(i, last);
                self.0.remove(last);
                true
            }
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
        // The kernel prints nothing when the oldest entry has no id (a
        // lock taken through a direct value address), and skips later
        // entries without one.
        if self.0.first().is_none_or(|r| r.id == 0) {
            return;
        }
        for (i, r) in self.0.iter().filter(|r| r.id != 0).enumerate() {
            let sep = if i == 0 { " refs=" } else { "," };
            let _ = write!(out, "{sep}{}", r.id);
        }
    }
}
