//! `print_verifier_state`: the ` R0=… fp-8=…` list of a frame.

use bpfcheck_isa::{PseudoSrc, Symbolizer};
use bpfcheck_uapi::MapSpec;

use crate::state::print_v6_1;
use crate::state::reg::fmt_reg;
use crate::state::stack::{fmt_dynptr, fmt_iter, fmt_slot};
use crate::state::{FuncState, Refs, SLOT_SIZE, SlotType, VerifierState};

/// How states print: the request's maps (for `map=…,ks=…,vs=…`) and
/// whether in 6.1's form (`walk_v6_1.state_print`,
/// [`crate::state::print_v6_1`]).
#[derive(Clone, Copy)]
pub(crate) struct Style<'a> {
    pub(crate) maps: &'a [MapSpec],
    pub(crate) v6_1: bool,
}

/// The registers and slots of the current frame, each preceded by a
/// space, and a newline. With `only`, just the scratched registers and
/// slots (bit masks); otherwise all.
pub(super) fn state(st: &VerifierState, only: Option<(u16, u64)>, style: Style<'_>) -> String {
    frame(st.cur(), only, style, &st.refs)
}

/// The registers and slots of one frame, as [`state`] prints them, then
/// the path's references (printed with every frame since they belong to
/// the whole state).
pub(super) fn frame(
    frame: &FuncState,
    only: Option<(u16, u64)>,
    style: Style<'_>,
    refs: &Refs,
) -> String {
    let maps = style.maps;
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
        out.push_str(&format!(" R{i}"));
        crate::state::live::suffix(&mut out, frame.live.regs[i].flags);
        out.push('=');
        if style.v6_1 {
            print_v6_1::fmt_reg(&mut out, reg, maps);
        } else {
            fmt_reg(&mut out, reg, frame.frameno, maps);
        }
    }
    let mut spi = 0;
    while spi < frame.stack.len() {
        let here = spi;
        spi += 1;
        if let Some((_, slots)) = only
            && (here >= 64 || slots & (1 << here) == 0)
        {
            continue;
        }
        let slot = &frame.stack[here];
        if style.v6_1 {
            // 6.1 prints every slot alike, dynptr slots as their `d` bytes.
            print_v6_1::fmt_slot(&mut out, here, slot, frame.live.slot(here).flags);
            continue;
        }
        if slot.types[SLOT_SIZE - 1] == SlotType::Dynptr {
            // The kernel prints a dynptr at the slot above the one it
            // meets first, and skips that slot.
            if let Some(next) = frame.stack.get(here + 1) {
                fmt_dynptr(&mut out, here + 1, next, frame.live.slot(here + 1).flags);
            }
            spi += 1;
            continue;
        }
        if slot.types[SLOT_SIZE - 1] == SlotType::Iter {
            fmt_iter(&mut out, here, slot, frame.live.slot(here).flags);
            continue;
        }
        fmt_slot(
            &mut out,
            here,
            slot,
            frame.live.slot(here).flags,
            frame.frameno,
            maps,
        );
    }
    refs.fmt(&mut out);
    if frame.in_callback_fn {
        out.push_str(" cb");
    }
    if frame.in_async_callback_fn {
        out.push_str(" async_cb");
    }
    out.push('\n');
    out
}

/// Disassembles `ld_imm64` map references as the kernel's log does after
/// `resolve_pseudo_ldimm64`: as a kernel address (`0xffff` and twelve hex
/// digits). The address itself is made up, but it has the length of a
/// real one, so that the padding of the `; R1=…` annotation after it is
/// the kernel's; log comparisons replace every such address by a token
/// (`bpfcheck_isa::normalize_kernel_addresses`).
pub(super) struct KernelAddrs<'a>(pub(super) &'a crate::prepare::kfunc::KfuncTab);

/// Where the made-up addresses start (the x86-64 direct map).
const FAKE_KERNEL_BASE: u64 = 0xffff_8880_0000_0000;

impl Symbolizer for KernelAddrs<'_> {
    fn kfunc_name(&self, btf_id: i32, fd_idx: i16) -> Option<String> {
        self.0.name(btf_id, fd_idx)
    }

    fn ld_imm64_text(&self, src: u8, value: u64) -> Option<String> {
        PseudoSrc::from_bits(src)
            .filter(|s| s.is_kernel_pointer())
            .map(|_| {
                // Map index in the low word, value offset in the high word.
                let map = value & 0xffff;
                let off = (value >> 32) & 0xfff_ffff;
                format!("{:#x}", FAKE_KERNEL_BASE + (map << 32) + off)
            })
    }
}
