//! `print_verifier_state`: the ` R0=… fp-8=…` list of a frame.

use crate::state::reg::fmt_reg;
use crate::state::stack::fmt_slot;
use crate::state::{FuncState, VerifierState};

/// The registers and slots of the current frame, each preceded by a
/// space, and a newline. With `only`, just the scratched registers and
/// slots (bit masks); otherwise all.
pub(super) fn state(st: &VerifierState, only: Option<(u16, u64)>) -> String {
    frame(st.cur(), only)
}

/// The registers and slots of one frame, as [`state`] prints them.
pub(super) fn frame(frame: &FuncState, only: Option<(u16, u64)>) -> String {
    let mut out = String::new();
    if frame.frameno != 0 {
        out.push_str(&format!(" frame{}:", frame.frameno));
    }
    for (i, reg) in frame.regs.iter().enumerate() {
        if matches!(reg, crate::state::RegState::NotInit) {
            continue;
        }
        if let Some((regs, _)) = only
            && regs & (1 << i) == 0
        {
            continue;
        }
        out.push_str(&format!(" R{i}="));
        fmt_reg(&mut out, reg, frame.frameno);
    }
    for (spi, slot) in frame.stack.iter().enumerate() {
        if let Some((_, slots)) = only
            && (spi >= 64 || slots & (1 << spi) == 0)
        {
            continue;
        }
        fmt_slot(&mut out, spi, slot, frame.frameno);
    }
    out.push('\n');
    out
}
