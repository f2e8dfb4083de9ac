//! Observing a verification: the abstract states of the walk, the failing
//! path of a rejection, and the processed count of each instruction, as
//! plain data rather than log text.
//!
//! Ask for them with [`verify_observed`](crate::verify_observed);
//! [`Verification::observation`](crate::Verification) then holds an
//! [`Observation`] for every load that reached `do_check` (accepted or
//! rejected there). Nothing is collected when nothing is asked: the walk
//! then only tests one `Option` per hook. Observing never changes the
//! verdict, the error, the log or the statistics — except
//! [`Observe::explore_all_paths`], which is not an observation but a
//! different walk (see there).
//!
//! What each part holds:
//! - [`Observation::states`]: for each instruction, every state the walk
//!   had before executing it ([`StateKind::Visited`]); where a path was
//!   pruned, the state it arrived with ([`StateKind::Pruned`]) and, once
//!   per checkpoint, the checkpoint that covered it as it was compared
//!   ([`StateKind::Checkpoint`]: cleaned of dead registers and slots, with
//!   its precision marks). A pruned path continues, concretely, along the
//!   checkpoint's continuation, whose states are exact only for the
//!   registers the checkpoint marked precise; [`Observe::explore_all_paths`]
//!   removes that caveat for soundness checks.
//! - [`Observation::path`]: on a rejection, the instructions of the failing
//!   path, oldest first (also when the walk stops at something it does not
//!   model: then the path that reached it, whose last step is the
//!   instruction of [`Unsupported::insn`](crate::Unsupported)), each with the registers and stack slots whose
//!   abstract value it changed, printed as the kernel's log prints them
//!   (the data behind the log's `; R0_w=…` annotations, but whatever the
//!   log level). A conditional jump shows the refinement of the branch the
//!   path took; the last step is the rejected instruction.
//! - [`Observation::stop_state`]: with the path, the registers and slots
//!   the last instruction found (what the log prints before it at level 2).
//! - [`Observation::processed`]: how many times each instruction was
//!   processed, pruning points included (their sum is the statistics'
//!   `insns_processed`).

use bpfcheck_uapi::RegNo;

use crate::domain::Scalar;
use crate::state::{FuncState, RegState, VerifierState};

/// What to observe (all off by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Observe {
    /// Record the states before each instruction ([`Observation::states`]).
    pub states: bool,
    /// Record the failing path of a rejection ([`Observation::path`]).
    pub path: bool,
    /// Count the processings of each instruction
    /// ([`Observation::processed`]).
    pub processed: bool,
    /// Never prune: walk every path to its end, so that each concrete
    /// execution follows exactly one abstract path and every scalar
    /// register of the recorded states must contain the concrete value.
    /// For soundness checks only: it changes the statistics (and the log
    /// of pruning points), and a program whose paths explode runs into the
    /// complexity limit sooner than the kernel would.
    pub explore_all_paths: bool,
}

impl Observe {
    /// Everything a diagnostic tool wants: the failing path and the counts.
    pub const DIAGNOSTICS: Self = Self {
        states: false,
        path: true,
        processed: true,
        explore_all_paths: false,
    };

    /// Whether anything is to be recorded.
    pub fn any(&self) -> bool {
        self.states || self.path || self.processed
    }
}

/// One register as a state holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObservedReg {
    /// `NOT_INIT`.
    NotInit,
    /// `SCALAR_VALUE`.
    Scalar {
        /// Known bits and bounds.
        value: Scalar,
        /// The `precise` mark.
        precise: bool,
    },
    /// A pointer, by the kernel's type name (`ctx`, `fp`, `map_value`,
    /// `map_value_or_null` …).
    Pointer {
        /// `reg_type_str` of the kind.
        kind: &'static str,
    },
}

impl ObservedReg {
    fn of(r: &RegState) -> Self {
        match r {
            RegState::NotInit => Self::NotInit,
            RegState::Scalar(s) => Self::Scalar {
                value: s.value,
                precise: s.precise,
            },
            other => Self::Pointer {
                kind: other.type_str(),
            },
        }
    }
}

/// One call frame's registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObservedFrame {
    /// R0–R10.
    pub regs: [ObservedReg; RegNo::COUNT],
}

impl ObservedFrame {
    fn of(f: &FuncState) -> Self {
        Self {
            regs: f.regs.each_ref().map(ObservedReg::of),
        }
    }
}

/// Where a recorded state comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateKind {
    /// A path's state before the instruction executed.
    Visited,
    /// A path's state at a pruning point where a checkpoint covered it;
    /// the instruction was not executed on this path.
    Pruned,
    /// A checkpoint that covered a pruned path, as compared.
    Checkpoint,
}

/// One abstract state before an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedState {
    /// Where it comes from.
    pub kind: StateKind,
    /// Registers live before the instruction (bit `r`), by the verifier's
    /// static liveness: the others are never read again.
    pub live_regs: u16,
    /// Call frames, the innermost (current) last.
    pub frames: Vec<ObservedFrame>,
}

impl ObservedState {
    pub(crate) fn of(st: &VerifierState, kind: StateKind, live_regs: u16) -> Self {
        Self {
            kind,
            live_regs,
            frames: st.frames.iter().map(ObservedFrame::of).collect(),
        }
    }
}

/// A register or stack slot an instruction changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// `R0` … `R10`, or a stack slot `fp-8`.
    pub name: String,
    /// Its abstract value after the instruction, in the log's syntax
    /// (`map_value_or_null(id=1,map=m,ks=4,vs=8)`, `scalar(umax=255)`,
    /// `mmmm????` for a slot).
    pub value: String,
}

/// One instruction of the failing path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathStep {
    /// Instruction index.
    pub insn: u32,
    /// The instruction in the log's syntax, without the `N: (xx) ` prefix.
    pub text: String,
    /// The registers and slots it changed on this path.
    pub writes: Vec<Written>,
}

/// What a verification observed ([`Observe`]); parts not asked for are
/// empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    /// For each instruction, the states before it.
    pub states: Vec<Vec<ObservedState>>,
    /// On a rejection, the failing path, oldest instruction first; on an
    /// `unsupported` verdict reached during the walk, the path to the
    /// instruction it stopped at.
    pub path: Vec<PathStep>,
    /// With [`Self::path`]: the registers and stack slots of the current
    /// frame that held something when the walk reached the instruction it
    /// stopped at (the values that instruction found), in the log's syntax.
    pub stop_state: Vec<Written>,
    /// For each instruction, how many times it was processed.
    pub processed: Vec<u64>,
}
