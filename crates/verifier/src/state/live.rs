//! Read and write marks of kernels that keep liveness along each state's
//! parentage (`enum bpf_reg_liveness`, up to 6.17): which registers and
//! stack slots a state's descendants read before writing them.
//!
//! Each register and slot of a state has its marks and a parent: the
//! register or slot of a checkpoint its reads propagate to.

/// Read by a 32-bit use (`REG_LIVE_READ32`).
pub const READ32: u8 = 1;
/// Read by a 64-bit use (`REG_LIVE_READ64`).
pub const READ64: u8 = 2;
/// Either read mark (`REG_LIVE_READ`).
pub const READ: u8 = READ32 | READ64;
/// Written since the parent checkpoint (`REG_LIVE_WRITTEN`).
pub const WRITTEN: u8 = 4;
/// The checkpoint was cleaned; no mark changes any more
/// (`REG_LIVE_DONE`).
pub const DONE: u8 = 8;
/// Where a register's or slot's marks propagate: the same register or
/// slot of frame `frame` of checkpoint `checkpoint` (`reg->parent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parent {
    /// Index of the checkpoint, in the order the walk took them.
    pub checkpoint: u32,
    /// Frame of that checkpoint's state.
    pub frame: u8,
}

/// The marks of one register or slot, and where they propagate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mark {
    /// [`READ32`], [`READ64`], [`WRITTEN`], [`DONE`].
    pub flags: u8,
    /// `None` for a register of a fresh frame or a slot allocated after
    /// the last checkpoint.
    pub parent: Option<Parent>,
    /// The parent's register the marks go to when not the same one: 6.1's
    /// `scalar += pointer` copies the pointer register whole, its parent
    /// link included.
    pub parent_reg: Option<u8>,
}

/// The marks of one frame's registers and slots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrameLive {
    /// R0–R10.
    pub regs: [Mark; 11],
    /// One per stack slot, as `FuncState::stack`.
    pub slots: Vec<Mark>,
}

impl FrameLive {
    /// The marks of slot `spi` (none past the allocated stack).
    pub fn slot(&self, spi: usize) -> Mark {
        self.slots.get(spi).copied().unwrap_or_default()
    }

    /// The marks of slot `spi`, mutably, growing the list as needed.
    pub fn slot_mut(&mut self, spi: usize) -> &mut Mark {
        if spi >= self.slots.len() {
            self.slots.resize(spi + 1, Mark::default());
        }
        &mut self.slots[spi]
    }
}

/// `print_liveness`: `_` and the letters of the marks, if any.
pub(crate) fn suffix(out: &mut String, live: u8) {
    if live & (READ | WRITTEN | DONE) == 0 {
        return;
    }
    out.push('_');
    if live & READ != 0 {
        out.push('r');
    }
    if live & WRITTEN != 0 {
        out.push('w');
    }
    if live & DONE != 0 {
        out.push('D');
    }
}
