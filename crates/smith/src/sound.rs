//! Soundness by execution: every concrete value a program computes must lie
//! in the abstract state bpfcheck computed for that point.
//!
//! # What the verifier must expose ([`StateHook`])
//!
//! For a program bpfcheck accepts: for each instruction, every abstract
//! state the walk had *before* executing it, including the checkpoints
//! other paths were pruned against (a pruned path is covered by the
//! checkpoint, not by a state of its own). A state is the stack of frames
//! ([`AbstractState::frames`], innermost last), each with its eleven
//! registers as [`AbstractReg`]: not initialised, a scalar with its
//! [`Scalar`] bounds, or some pointer. Precision and liveness do not matter
//! here: a register the verifier no longer reads may hold anything, so
//! only registers it says are scalars are checked.
//!
//! [`check_program`] runs the interpreter on random inputs and checks, at
//! each executed instruction, that some recorded state at that instruction
//! with the same call depth contains every concrete scalar of the current
//! frame. An executed instruction with no recorded state is also reported:
//! the verifier believed it dead.
//!
//! [`verifier_states`] is the hook the verifier provides
//! ([`bpfcheck_verifier::verify_observed`]): it verifies the program with
//! every path walked to its end ([`Observe::explore_all_paths`]), so that
//! each concrete execution follows one abstract path and every scalar the
//! verifier tracks must contain the concrete value, not only the precise
//! ones that pruning relies on. [`check_generated`] runs it over generated
//! programs (`bpfcheck-smith sound --programs N`).
//!
//! [`check_alu_domain`] checks the same property for the scalar domain
//! alone, on far more operations: random sequences of ALU operations and
//! conditional jumps, executed concretely by [`bpfcheck_interp::alu`] and
//! abstractly by [`bpfcheck_verifier::domain`].

use std::collections::HashMap;
use std::fmt;

use bpfcheck_interp::{Config, Input, Interpreter, Observer, Regs};
use bpfcheck_isa::{self as isa, Size, SwapBits};
use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::{InsnIdx, LoadRequest, RegNo};
use bpfcheck_verifier::domain::{self, Era, Scalar, Tnum};
use bpfcheck_verifier::observe::{ObservedReg, ObservedState, StateKind};
use bpfcheck_verifier::{Observe, Verdict, VerifyOptions, verify, verify_observed};

use crate::generator::{GenConfig, generate};
use crate::rng::{Entropy, SeedRng};

/// One register as the verifier sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbstractReg {
    /// `NOT_INIT`.
    NotInit,
    /// `SCALAR_VALUE` with its bounds.
    Scalar(Scalar),
    /// Any pointer type (not checked against concrete addresses).
    Pointer,
}

/// One call frame's registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbstractFrame {
    /// R0–R10.
    pub regs: [AbstractReg; RegNo::COUNT],
}

/// A verifier state before an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbstractState {
    /// Call frames, the innermost (current) last.
    pub frames: Vec<AbstractFrame>,
}

/// What the verifier exposes for soundness checks: every state it had
/// before instruction `pc` (see the module docs).
pub trait StateHook {
    /// The states before `pc`; empty if the walk never reached it.
    fn states_at(&self, pc: InsnIdx) -> &[AbstractState];
}

/// A [`StateHook`] backed by a map, for tests and for verifiers that
/// collect states into one.
#[derive(Clone, Debug, Default)]
pub struct RecordedStates(pub HashMap<InsnIdx, Vec<AbstractState>>);

impl StateHook for RecordedStates {
    fn states_at(&self, pc: InsnIdx) -> &[AbstractState] {
        self.0.get(&pc).map_or(&[], Vec::as_slice)
    }
}

impl AbstractState {
    /// The verifier's state as this module sees it. Registers a cleaned
    /// checkpoint no longer tracks (dead ones) are not initialised here.
    pub fn from_observed(s: &ObservedState) -> Self {
        let frames = s
            .frames
            .iter()
            .map(|f| {
                let mut regs = [AbstractReg::NotInit; RegNo::COUNT];
                for (i, (out, r)) in regs.iter_mut().zip(&f.regs).enumerate() {
                    let dead = s.kind == StateKind::Checkpoint && s.live_regs & (1 << i) == 0;
                    *out = match r {
                        _ if dead => AbstractReg::NotInit,
                        ObservedReg::NotInit => AbstractReg::NotInit,
                        ObservedReg::Scalar { value, .. } => AbstractReg::Scalar(*value),
                        ObservedReg::Pointer { .. } => AbstractReg::Pointer,
                    };
                }
                AbstractFrame { regs }
            })
            .collect();
        Self { frames }
    }
}

/// Why [`verifier_states`] has no states to check against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoStates {
    /// bpfcheck does not accept the program (rejected or unsupported).
    NotAccepted(Verdict),
    /// Walking every path meets something bpfcheck does not model on a
    /// path the pruned walk never finished: what.
    Unsupported(String),
    /// Walking every path reaches the complexity limits: a loop the
    /// pruned walk proved bounded only by pruning (expected, no finding).
    WalkTooLong,
    /// Walking every path rejects the program for another reason (a path
    /// pruning hid): the error.
    WalkDiffers(String),
}

/// The states bpfcheck's verifier had before each instruction of `req`,
/// when it accepts it, from a walk of every path
/// ([`Observe::explore_all_paths`]).
pub fn verifier_states(
    req: &LoadRequest,
    profile: &KernelProfile,
) -> Result<RecordedStates, NoStates> {
    let opts = VerifyOptions::default();
    let plain = verify(req, profile, &opts);
    if plain.verdict != Verdict::Accepted {
        return Err(NoStates::NotAccepted(plain.verdict));
    }
    let want = Observe {
        states: true,
        explore_all_paths: true,
        ..Observe::default()
    };
    let v = verify_observed(req, profile, &opts, want);
    if let Some(u) = v.unsupported {
        return Err(NoStates::Unsupported(u.to_string()));
    }
    if let Some(e) = v.error {
        let limit = e.message.starts_with("BPF program is too large")
            || (e.message.starts_with("The sequence of ")
                && e.message.ends_with("is too complex."));
        if limit {
            return Err(NoStates::WalkTooLong);
        }
        return Err(NoStates::WalkDiffers(format!(
            "{:?} at insn {:?}",
            e.message, e.insn
        )));
    }
    let obs = v.observation.unwrap_or_default();
    let mut map = HashMap::new();
    for (i, at) in obs.states.iter().enumerate() {
        if !at.is_empty() {
            map.insert(
                InsnIdx(i as u32),
                at.iter().map(AbstractState::from_observed).collect(),
            );
        }
    }
    Ok(RecordedStates(map))
}

/// What [`check_generated`] found.
#[derive(Clone, Debug, Default)]
pub struct GeneratedReport {
    /// Programs generated.
    pub programs: u64,
    /// Accepted by bpfcheck and executed.
    pub checked: u64,
    /// Accepted, but walking every path met something bpfcheck does not
    /// model (not checked).
    pub walk_unsupported: u64,
    /// Accepted programs whose every-path walk reaches the complexity
    /// limits (loops that only pruning bounds): not checked.
    pub walk_too_long: u64,
    /// Accepted, but walking every path gave another verdict (seed, why).
    pub walk_differs: Vec<(u64, String)>,
    /// Concrete executions outside the recorded states (seed, violation).
    pub violations: Vec<(u64, Violation)>,
}

/// Generates the programs of seeds `first..first + count`, and for each
/// that bpfcheck accepts for `profile`, runs [`check_program`] with
/// `runs` random inputs against [`verifier_states`].
pub fn check_generated(
    profile: &KernelProfile,
    cfg: &GenConfig,
    first: u64,
    count: u64,
    runs: usize,
) -> GeneratedReport {
    let mut rep = GeneratedReport::default();
    for seed in first..first + count {
        rep.programs += 1;
        let req = generate(&mut SeedRng::new(seed), cfg);
        let hook = match verifier_states(&req, profile) {
            Ok(h) => h,
            Err(NoStates::NotAccepted(_)) => continue,
            Err(NoStates::Unsupported(_)) => {
                rep.walk_unsupported += 1;
                continue;
            }
            Err(NoStates::WalkTooLong) => {
                rep.walk_too_long += 1;
                continue;
            }
            Err(NoStates::WalkDiffers(why)) => {
                rep.walk_differs.push((seed, why));
                continue;
            }
        };
        rep.checked += 1;
        let mut e = SeedRng::new(seed ^ 0x5eed_5eed);
        if let Some(v) = check_program(&req, &hook, &mut e, runs) {
            rep.violations.push((seed, v));
        }
    }
    rep
}

/// A concrete execution outside the abstract states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The instruction.
    pub pc: InsnIdx,
    /// The concrete registers of the current frame (scalars only).
    pub concrete: Vec<(RegNo, u64)>,
    /// What is wrong.
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "insn {}: {} (concrete:", self.pc, self.what)?;
        for (r, v) in &self.concrete {
            write!(f, " {r}={v:#x}")?;
        }
        f.write_str(")")
    }
}

struct Containment<'h> {
    hook: &'h dyn StateHook,
    first: Option<Violation>,
}

fn covers(frame: &AbstractFrame, regs: &Regs) -> bool {
    frame
        .regs
        .iter()
        .zip(regs.iter())
        .all(|(a, c)| match (a, c) {
            (AbstractReg::Scalar(s), Some(v)) if v.region.is_none() => s.contains(v.bits),
            _ => true,
        })
}

impl Observer for Containment<'_> {
    fn before(&mut self, pc: InsnIdx, depth: usize, regs: &Regs) {
        if self.first.is_some() {
            return;
        }
        let states = self.hook.states_at(pc);
        let ok = states.iter().any(|s| {
            s.frames.len() == depth + 1 && s.frames.last().is_some_and(|f| covers(f, regs))
        });
        if !ok {
            let concrete = regs
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    v.filter(|v| v.region.is_none())
                        .map(|v| (RegNo(i as u8), v.bits))
                })
                .collect();
            let what = if states.is_empty() {
                "executed, but the verifier has no state here".to_owned()
            } else {
                format!("outside all {} abstract states", states.len())
            };
            self.first = Some(Violation { pc, concrete, what });
        }
    }
}

/// Runs `req` on `runs` random inputs and returns the first violation.
/// Runs that fault (the interpreter's own limits) are skipped.
pub fn check_program(
    req: &LoadRequest,
    hook: &dyn StateHook,
    e: &mut impl Entropy,
    runs: usize,
) -> Option<Violation> {
    for _ in 0..runs {
        let config = Config {
            prandom_seed: e.next_u64(),
            ktime_ns: e.next_u64() >> 8,
            ..Config::default()
        };
        let input = Input {
            ctx: (0..192).map(|_| e.below(256) as u8).collect(),
            packet: (0..e.below(128)).map(|_| e.below(256) as u8).collect(),
        };
        let mut obs = Containment { hook, first: None };
        let _ = Interpreter::new(req, config).run_observed(&input, &mut obs);
        if obs.first.is_some() {
            return obs.first;
        }
    }
    None
}

/// A distance of random magnitude (below 2^40).
fn spread(e: &mut impl Entropy) -> u64 {
    let bits = e.below(40);
    e.below(1 << bits)
}

/// A concrete value and an abstract scalar containing it.
fn sample(e: &mut impl Entropy) -> (u64, Scalar) {
    const EDGES: &[u64] = &[
        0,
        1,
        2,
        0x7f,
        0x80,
        0xff,
        0xffff,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
    ];
    let v = match e.below(4) {
        0 => e.next_u64(),
        1 => e.below(64),
        2 => e.pick(EDGES).unwrap_or(0),
        _ => (e.pick(EDGES).unwrap_or(0) as i64).wrapping_neg() as u64,
    };
    let abs = match e.below(5) {
        0 => Scalar::constant(v),
        1 => Scalar::unknown(),
        2 => {
            // An unsigned range around v.
            let (a, b) = (spread(e), spread(e));
            let lo = v.saturating_sub(a);
            let hi = v.saturating_add(b);
            let mut s = Scalar::unknown();
            s.var_off = Tnum::range(lo, hi);
            s.umin = lo;
            s.umax = hi;
            s.synced(Era::V6_18)
        }
        3 => {
            // A signed range around v.
            let sv = v as i64;
            let (a, b) = (spread(e), spread(e));
            let lo = sv.saturating_sub(a as i64);
            let hi = sv.saturating_add(b as i64);
            let mut s = Scalar::unknown();
            s.smin = lo;
            s.smax = hi;
            s.synced(Era::V6_18)
        }
        _ => {
            let mask = e.next_u64() & e.next_u64();
            let mut s = Scalar::unknown();
            s.var_off = Tnum::new(v & !mask, mask);
            s.synced(Era::V6_18)
        }
    };
    (v, abs)
}

fn isa_op(op: domain::AluOp) -> Option<isa::AluOp> {
    use domain::AluOp as D;
    Some(match op {
        D::Add => isa::AluOp::Add,
        D::Sub => isa::AluOp::Sub,
        D::Mul => isa::AluOp::Mul,
        D::Div => isa::AluOp::Div,
        D::Mod => isa::AluOp::Mod,
        D::SDiv => isa::AluOp::SDiv,
        D::SMod => isa::AluOp::SMod,
        D::Or => isa::AluOp::Or,
        D::And => isa::AluOp::And,
        D::Xor => isa::AluOp::Xor,
        D::Lsh => isa::AluOp::Lsh,
        D::Rsh => isa::AluOp::Rsh,
        D::Arsh => isa::AluOp::Arsh,
        D::Mov => isa::AluOp::Mov,
        D::Neg | D::MovSx(_) | D::End { .. } => return None,
    })
}

fn concrete_alu(op: domain::AluOp, width: isa::Width, dst: u64, src: u64) -> u64 {
    use bpfcheck_interp::alu;
    match op {
        domain::AluOp::Neg => alu::neg(width, dst),
        domain::AluOp::MovSx(bits) => {
            let from = match bits {
                8 => Size::B,
                16 => Size::H,
                _ => Size::W,
            };
            alu::movsx(width, from, src)
        }
        domain::AluOp::End { bits, swap } => {
            let b = match bits {
                16 => SwapBits::B16,
                32 => SwapBits::B32,
                _ => SwapBits::B64,
            };
            if swap {
                alu::bswap(b, dst)
            } else {
                alu::endian(isa::Endian::Le, b, dst)
            }
        }
        other => isa_op(other).map_or(0, |o| alu::alu(o, width, dst, src)),
    }
}

fn isa_jmp(op: domain::JmpOp) -> isa::JmpOp {
    use domain::JmpOp as D;
    match op {
        D::Eq => isa::JmpOp::Jeq,
        D::Ne => isa::JmpOp::Jne,
        D::Gt => isa::JmpOp::Jgt,
        D::Ge => isa::JmpOp::Jge,
        D::Lt => isa::JmpOp::Jlt,
        D::Le => isa::JmpOp::Jle,
        D::Sgt => isa::JmpOp::Jsgt,
        D::Sge => isa::JmpOp::Jsge,
        D::Slt => isa::JmpOp::Jslt,
        D::Sle => isa::JmpOp::Jsle,
        D::Set => isa::JmpOp::Jset,
    }
}

/// A step of [`check_alu_domain`] whose abstract result misses the
/// concrete one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainViolation {
    /// The operation, as text.
    pub op: String,
    /// Abstract and concrete inputs.
    pub inputs: [(Scalar, u64); 2],
    /// The abstract result and the concrete value outside it.
    pub result: (Scalar, u64),
}

impl fmt::Display for DomainViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: dst {} = {:#x}, src {} = {:#x} gave {} which misses {:#x}",
            self.op,
            domain::fmt_scalar(&self.inputs[0].0),
            self.inputs[0].1,
            domain::fmt_scalar(&self.inputs[1].0),
            self.inputs[1].1,
            domain::fmt_scalar(&self.result.0),
            self.result.1
        )
    }
}

const DOMAIN_OPS: &[domain::AluOp] = &[
    domain::AluOp::Add,
    domain::AluOp::Sub,
    domain::AluOp::Mul,
    domain::AluOp::Div,
    domain::AluOp::Mod,
    domain::AluOp::SDiv,
    domain::AluOp::SMod,
    domain::AluOp::Or,
    domain::AluOp::And,
    domain::AluOp::Xor,
    domain::AluOp::Lsh,
    domain::AluOp::Rsh,
    domain::AluOp::Arsh,
    domain::AluOp::Neg,
    domain::AluOp::Mov,
    domain::AluOp::MovSx(8),
    domain::AluOp::MovSx(16),
    domain::AluOp::MovSx(32),
    domain::AluOp::End {
        bits: 16,
        swap: true,
    },
    domain::AluOp::End {
        bits: 32,
        swap: true,
    },
    domain::AluOp::End {
        bits: 64,
        swap: true,
    },
    domain::AluOp::End {
        bits: 16,
        swap: false,
    },
    domain::AluOp::End {
        bits: 32,
        swap: false,
    },
];

/// Runs one random sequence of `len` ALU operations and conditional jumps
/// over three registers, concretely and in the 6.18 scalar domain, and
/// returns the first step whose abstract result misses the concrete one.
pub fn check_alu_domain(e: &mut impl Entropy, len: usize) -> Option<DomainViolation> {
    let era = Era::V6_18;
    let mut regs: Vec<(u64, Scalar)> = (0..3).map(|_| sample(e)).collect();
    for _ in 0..len {
        let d = e.below(3) as usize;
        let (sv, sa) = if e.chance(400) {
            let imm = (e.next_u64() as i32) >> e.below(32);
            (i64::from(imm) as u64, Scalar::from_imm(imm))
        } else {
            regs[e.below(3) as usize]
        };
        let (dv, da) = regs[d];
        let width = if e.chance(500) {
            isa::Width::W64
        } else {
            isa::Width::W32
        };
        let dw = match width {
            isa::Width::W64 => domain::Width::W64,
            isa::Width::W32 => domain::Width::W32,
        };
        if e.chance(250) {
            let op = e.pick(&domain::JmpOp::ALL).unwrap_or(domain::JmpOp::Eq);
            let holds = bpfcheck_interp::alu::jmp(isa_jmp(op), width, dv, sv);
            let text = format!("if {:?}{} {op:?}", width, d);
            let Ok(decided) = domain::branch_taken(era, op, dw, &da, &sa) else {
                continue;
            };
            if let Some(b) = decided {
                if b != holds {
                    return Some(DomainViolation {
                        op: format!("{text}: decided {b}"),
                        inputs: [(da, dv), (sa, sv)],
                        result: (da, dv),
                    });
                }
                continue;
            }
            let Ok(states) = domain::refine(era, op, dw, &da, &sa) else {
                continue;
            };
            let (nd, _) = if holds {
                states.taken
            } else {
                states.fallthrough
            };
            if !nd.contains(dv) {
                return Some(DomainViolation {
                    op: format!(
                        "{text}: refined ({})",
                        if holds { "taken" } else { "fallthrough" }
                    ),
                    inputs: [(da, dv), (sa, sv)],
                    result: (nd, dv),
                });
            }
            regs[d] = (dv, nd);
            continue;
        }
        let op = e.pick(DOMAIN_OPS).unwrap_or(domain::AluOp::Add);
        if matches!(op, domain::AluOp::MovSx(32)) && width == isa::Width::W32 {
            continue;
        }
        // Constant shift amounts beyond the width are rejected by the
        // verifier, and register ones leave the result unknown: both fine,
        // but the abstract input must be the one the verifier would pass.
        let result = concrete_alu(op, width, dv, sv);
        let abs = domain::alu(era, op, dw, &da, &sa);
        if !abs.contains(result) {
            return Some(DomainViolation {
                op: format!("{op:?} {width:?}"),
                inputs: [(da, dv), (sa, sv)],
                result: (abs, result),
            });
        }
        regs[d] = (result, abs);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeedRng;
    use bpfcheck_isa::{Insn, encode};

    #[test]
    fn scalar_domain_contains_concrete_results() {
        let mut e = SeedRng::new(7);
        for i in 0..20_000 {
            if let Some(v) = check_alu_domain(&mut e, 8) {
                panic!("sequence {i}: {v}");
            }
        }
    }

    fn frame(r0: AbstractReg) -> AbstractFrame {
        let mut regs = [AbstractReg::NotInit; RegNo::COUNT];
        regs[0] = r0;
        regs[1] = AbstractReg::Pointer;
        regs[10] = AbstractReg::Pointer;
        AbstractFrame { regs }
    }

    fn socket_filters() -> GenConfig {
        GenConfig {
            prog_types: vec![bpfcheck_uapi::ProgType::SOCKET_FILTER],
            ..GenConfig::default()
        }
    }

    #[test]
    fn generated_programs_stay_in_the_verifiers_states() {
        let profile = KernelProfile::builtin("6.18").expect("6.18 profile");
        let rep = check_generated(&profile, &socket_filters(), 0, 400, 8);
        assert!(rep.checked >= 20, "only {} of 400 checked", rep.checked);
        assert!(rep.walk_differs.is_empty(), "{:?}", rep.walk_differs);
        if let Some((seed, v)) = rep.violations.first() {
            panic!("seed {seed}: {v}");
        }
    }

    #[test]
    fn program_check_finds_a_state_that_misses() {
        let insns = [Insn::mov64_imm(RegNo(0), 5), Insn::Exit { off: 0 }]
            .iter()
            .flat_map(|i| encode(i).as_slice().to_vec())
            .collect();
        let req = LoadRequest {
            insns,
            ..LoadRequest::default()
        };
        let state = |r0| AbstractState {
            frames: vec![frame(r0)],
        };
        let mut good = RecordedStates::default();
        good.0.insert(InsnIdx(0), vec![state(AbstractReg::NotInit)]);
        good.0.insert(
            InsnIdx(1),
            vec![state(AbstractReg::Scalar(Scalar::constant(5)))],
        );
        let mut e = SeedRng::new(1);
        assert_eq!(check_program(&req, &good, &mut e, 3), None);

        let mut bad = good.clone();
        bad.0.insert(
            InsnIdx(1),
            vec![state(AbstractReg::Scalar(Scalar::constant(6)))],
        );
        let v = check_program(&req, &bad, &mut e, 1).expect("violation");
        assert_eq!(v.pc, InsnIdx(1));

        let mut dead = good;
        dead.0.remove(&InsnIdx(1));
        assert!(check_program(&req, &dead, &mut e, 1).is_some());
    }
}
