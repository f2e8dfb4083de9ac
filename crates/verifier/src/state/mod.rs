//! The verifier state of one path (`struct bpf_verifier_state`): the call
//! frames with their registers and stacks.
//!
//! States are cloned at every branch the interpreter queues; a frame is a
//! fixed register array plus a vector of only the stack slots in use, so a
//! clone is two small copies (measured: well under a microsecond for the
//! fixtures' states), and no copy-on-write indirection is needed yet.

/// Read and write marks of kernels that keep liveness along parentage.
pub mod btf_ptr;
pub mod live;
pub(crate) mod print_v6_1;
pub(crate) mod refs;
pub(crate) mod reg;
pub(crate) mod regions;
pub(crate) mod stack;

use bpfcheck_uapi::RegNo;

pub use btf_ptr::{BtfPtr, MemKind, Owner, Trust, TypeName};
pub use refs::{RefEntry, Refs};
pub use reg::{
    DynptrInfo, DynptrKind, IterInfo, IterKind, IterState, MapIdx, MemTag, PtrFields, RegState,
    ScalarReg,
};
pub use regions::Regions;
pub use stack::{SLOT_SIZE, SlotType, StackSlot};

/// `MAX_BPF_STACK`.
pub const MAX_STACK: i32 = 512;

/// One function's frame (`struct bpf_func_state`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncState {
    /// R0–R10.
    pub regs: [RegState; RegNo::COUNT],
    /// Slots in use, `stack[spi]` covering `[-8(spi+1), -8spi)`.
    pub stack: Vec<StackSlot>,
    /// Call depth of this frame.
    pub frameno: u8,
    /// The call instruction that created this frame; `None` for the entry
    /// frame (`BPF_MAIN_FUNC`).
    pub callsite: Option<usize>,
    /// Index of the subprogram this frame runs (`subprogno`).
    pub subprog: usize,
    /// Read and write marks, on kernels that keep them.
    pub live: live::FrameLive,
    /// The frame runs a synchronous callback (`in_callback_fn`): its exit
    /// returns to the helper call, which may call it again.
    pub in_callback_fn: bool,
    /// Callback iterations started from this frame's current helper call
    /// (`callback_depth`).
    pub callback_depth: u32,
    /// The frame runs an async callback (`in_async_callback_fn`): the
    /// entry frame of a path of its own, whose exit must return 0.
    pub in_async_callback_fn: bool,
    /// Async callbacks entered to reach this frame (`async_entry_cnt`).
    pub async_entry_cnt: u32,
    /// The frame is the exception callback verified on its own
    /// (`in_exception_callback_fn`): its exit returns for the program.
    pub in_exception_cb: bool,
}

impl FuncState {
    /// The entry frame of a main program: `R1` the context, `R10` the frame
    /// pointer, all else uninitialised (`init_func_state`).
    pub fn entry() -> Self {
        let mut regs = [RegState::NotInit; RegNo::COUNT];
        regs[1] = RegState::ctx();
        regs[10] = RegState::fp(0, 0);
        Self {
            regs,
            stack: Vec::new(),
            frameno: 0,
            callsite: None,
            subprog: 0,
            live: live::FrameLive::default(),
            in_callback_fn: false,
            callback_depth: 0,
            in_async_callback_fn: false,
            async_entry_cnt: 0,
            in_exception_cb: false,
        }
    }

    /// A callee's frame before its arguments are copied in: only `R10`
    /// (`init_func_state`).
    pub fn callee(frameno: u8, callsite: usize, subprog: usize) -> Self {
        let mut regs = [RegState::NotInit; RegNo::COUNT];
        regs[10] = RegState::fp(frameno, 0);
        Self {
            regs,
            stack: Vec::new(),
            frameno,
            callsite: Some(callsite),
            subprog,
            live: live::FrameLive::default(),
            in_callback_fn: false,
            callback_depth: 0,
            in_async_callback_fn: false,
            async_entry_cnt: 0,
            in_exception_cb: false,
        }
    }

    /// The register `r`.
    pub fn reg(&self, r: u8) -> &RegState {
        &self.regs[usize::from(r)]
    }

    /// The register `r`, mutably.
    pub fn reg_mut(&mut self, r: u8) -> &mut RegState {
        &mut self.regs[usize::from(r)]
    }

    /// Grows the stack to `bytes` (`grow_stack_state`), in whole slots.
    pub fn grow_stack(&mut self, bytes: usize) {
        let slots = bytes.div_ceil(SLOT_SIZE);
        if slots > self.stack.len() {
            self.stack.resize(slots, StackSlot::default());
        }
    }
}

/// The state of one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierState {
    /// Call frames, innermost last.
    pub frames: Vec<FuncState>,
    /// `may_goto` iterations taken on this path (`may_goto_depth`).
    pub may_goto_depth: u32,
    /// References acquired and not released yet (`refs`).
    pub refs: Refs,
    /// Callback bodies entered on this path (`callback_unroll_depth`).
    pub callback_unroll_depth: u32,
    /// RCU and non-preemptible regions the path is in.
    pub regions: Regions,
}

impl VerifierState {
    /// The state at a main program's first instruction.
    pub fn entry() -> Self {
        Self {
            frames: vec![FuncState::entry()],
            may_goto_depth: 0,
            refs: Refs::default(),
            callback_unroll_depth: 0,
            regions: Regions::default(),
        }
    }

    /// The innermost frame.
    pub fn cur(&self) -> &FuncState {
        // A state always has its entry frame.
        &self.frames[self.frames.len() - 1]
    }

    /// The innermost frame, mutably.
    pub fn cur_mut(&mut self) -> &mut FuncState {
        let last = self.frames.len() - 1;
        &mut self.frames[last]
    }
}
