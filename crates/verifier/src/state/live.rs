//! Read and write marks of kernels that keep liveness along each state's
//! parentage (`enum bpf_reg_liveness`, up to 6.17): which registers and
//! stack slots a state's descendants read before writing them.
//!
//! Each register and slot of a state has its marks; a mark's parent is
//! the same register or slot of the state's parent checkpoint, when
//! [`LINKED`] says it has one (a slot allocated after the checkpoint was
//! taken, or a register of the entry state, has none).

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
/// The mark has a parent (`reg->parent != NULL`).
pub const LINKED: u8 = 16;

/// The marks of one frame's registers and slots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrameLive {
    /// R0–R10.
    pub regs: [u8; 11],
    /// One per stack slot, as `FuncState::stack`.
    pub slots: Vec<u8>,
}

impl FrameLive {
    /// The marks of slot `spi` (none past the allocated stack).
    pub fn slot(&self, spi: usize) -> u8 {
        self.slots.get(spi).copied().unwrap_or(0)
    }

    /// The marks of slot `spi`, mutably, growing the list as needed.
    pub fn slot_mut(&mut self, spi: usize) -> &mut u8 {
        if spi >= self.slots.len() {
            self.slots.resize(spi + 1, 0);
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
