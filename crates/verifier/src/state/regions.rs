//! The RCU read-side and non-preemptible regions a path is in
//! (`active_rcu_lock`, `active_preempt_lock`), entered and left by the
//! `bpf_rcu_read_lock`/`unlock` and `bpf_preempt_disable`/`enable` kfuncs.

/// A path's regions; two states are equivalent only with equal regions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Regions {
    /// Inside `bpf_rcu_read_lock()` (not nested: the kernels modelled
    /// refuse a second lock).
    pub rcu: bool,
    /// `bpf_preempt_disable()` calls not yet matched by an enable.
    pub preempt: u32,
}

impl Regions {
    /// Whether the path is in any region.
    pub fn any(self) -> bool {
        self.rcu || self.preempt > 0
    }
}
