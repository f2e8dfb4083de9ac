//! The causal account of a rejection, built only from bpfcheck's own
//! analysis of the program: the path its verifier walked to the failing
//! instruction ([`Trace`]), the values that instruction found there, and
//! the per-instruction processed counts.
//!
//! What an account holds depends on the class of the rejection:
//! - a value the error names (or, when it names none, the registers and
//!   stack slot the failing instruction reads): its value at the failure,
//!   the steps of the path that wrote it, or that nothing on the path did;
//! - a reference leak: the step that acquired the reference still held;
//! - a lock held across a call: the step that took the lock;
//! - a loop not provably bounded: the steps since the previous visit of
//!   the instruction whose state repeated;
//! - a program too complex: the instructions processed most often;
//! - a rejection of the instruction itself (encoding, control flow, a
//!   helper the program type lacks): the rule, which needs no state.
//!
//! Each also lists the last branch decisions of the path. No account is
//! made when the path does not end at the failing instruction: it would
//! explain some other event.

mod describe;

use serde::{Deserialize, Serialize};

use crate::catalogue::RejectionClass;
use crate::record::SourceLocation;
use crate::trace::{RegChange, Trace, TraceStep};

/// What the account explains.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Cause {
    /// Values the failing instruction found: where each came from.
    Values {
        /// Registers (`R1`) and stack slots (`fp-8`) explained.
        names: Vec<String>,
    },
    /// A reference acquired on the path, still held at the failure.
    Acquired {
        /// The acquiring instruction.
        insn: u32,
    },
    /// A lock taken on the path, still held at the failure.
    Locked {
        /// The locking call.
        insn: u32,
    },
    /// The path came back to an instruction in a state it had been in.
    Loop {
        /// The instruction whose state repeated.
        insn: u32,
    },
    /// The instructions that cost most of the processed budget.
    Cost {
        /// (instruction, times processed), most first.
        hottest: Vec<(u32, u64)>,
    },
    /// The calls of the path that nest the frames.
    Calls,
    /// Where a register named by the error was defined, from the
    /// instructions alone: no walk of bpfcheck's reached the failure, so
    /// no values are known, only the single chain of definitions.
    Definitions {
        /// The register.
        reg: String,
    },
    /// The instruction alone breaks the rule; no state is involved.
    Rule {
        /// The instruction.
        insn: u32,
    },
}

/// A branch decision on the path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branch {
    /// The conditional jump.
    pub insn: u32,
    /// Its text.
    pub text: String,
    /// Whether the path took the jump (else it fell through).
    pub taken: bool,
    /// Its source line.
    pub source: Option<SourceLocation>,
}

/// A rejection explained from bpfcheck's analysis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CausalAccount {
    /// What is explained.
    pub cause: Cause,
    /// The explained values as the failing instruction found them.
    pub found: Vec<RegChange>,
    /// What the path says of explained values no step of it wrote (kept
    /// since the function's entry, clobbered by a call, never written).
    pub untouched: Vec<String>,
    /// The steps that made them, oldest first.
    pub steps: Vec<TraceStep>,
    /// The last branch decisions before the failure, oldest first.
    pub branches: Vec<Branch>,
}

/// How many origin steps an account keeps.
const MAX_STEPS: usize = 6;
/// How many branch decisions an account keeps.
const MAX_BRANCHES: usize = 3;
/// How many hot instructions a cost account keeps.
const MAX_HOT: usize = 5;

/// Calls that open a critical section.
const LOCKS: &[&str] = &[
    "bpf_spin_lock",
    "bpf_res_spin_lock",
    "bpf_rcu_read_lock",
    "bpf_preempt_disable",
    "bpf_local_irq_save",
];

/// Classes whose rule concerns the instruction alone.
const RULE_CLASSES: &[&str] = &["malformed_insn", "unknown_opcode", "helper_not_allowed"];

/// `rN`/`wN`/`RN` → `RN`.
fn reg_name(tok: &str) -> Option<String> {
    let n = tok
        .strip_prefix('r')
        .or_else(|| tok.strip_prefix('w'))
        .or_else(|| tok.strip_prefix('R'))?;
    let n: u8 = n.parse().ok()?;
    (n <= 10).then(|| format!("R{n}"))
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
}

/// The registers an error message names (`R1 invalid mem access …`).
fn named_regs(message: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in words(message).filter(|w| w.starts_with('R')) {
        if let Some(r) = reg_name(w)
            && !out.contains(&r)
        {
            out.push(r);
        }
    }
    out
}

/// The registers an instruction reads, from its text: all but a plain
/// destination (`r0 = *(u32 *)(r1 +0)` reads R1); `exit` reads R0.
fn operands(text: &str) -> Vec<String> {
    if text == "exit" {
        return vec!["R0".to_owned()];
    }
    let read = match text.split_once(" = ") {
        Some((dst, src)) if reg_name(dst.trim()).is_some() => src,
        _ => text,
    };
    let mut out: Vec<String> = Vec::new();
    for w in words(read) {
        if let Some(r) = reg_name(w)
            && !out.contains(&r)
        {
            out.push(r);
        }
    }
    out
}

/// The stack slot a stack error names (`… stack … off -12+0 …` → `fp-16`).
fn named_slot(message: &str) -> Option<String> {
    if !message.contains("stack") {
        return None;
    }
    let (_, rest) = message.split_once("off")?;
    let rest = rest.trim_start_matches(['=', ' ']);
    let digits: String = rest
        .strip_prefix('-')?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let off: u32 = digits.parse().ok()?;
    Some(format!("fp-{}", off.div_ceil(8) * 8))
}

/// The target of `… goto pc+N` at `insn`.
fn jump_target(insn: u32, text: &str) -> Option<u32> {
    let (_, off) = text.rsplit_once(" goto pc")?;
    let off: i64 = off.parse().ok()?;
    u32::try_from(i64::from(insn) + 1 + off).ok()
}

fn branches(steps: &[TraceStep]) -> Vec<Branch> {
    let mut out: Vec<Branch> = steps
        .windows(2)
        .filter(|w| w[0].text.starts_with("if "))
        .filter_map(|w| {
            let target = jump_target(w[0].insn, &w[0].text)?;
            Some(Branch {
                insn: w[0].insn,
                text: w[0].text.clone(),
                taken: w[1].insn == target && target != w[0].insn + 1,
                source: w[0].source.clone(),
            })
        })
        .collect();
    // Around a loop the same jump repeats: keep its latest decision.
    let mut seen = Vec::new();
    out.reverse();
    out.retain(|b| {
        let first = !seen.contains(&b.insn);
        seen.push(b.insn);
        first
    });
    out.reverse();
    let skip = out.len().saturating_sub(MAX_BRANCHES);
    out.drain(..skip);
    out
}

/// Whether a step clobbers R1-R5: calls, and the legacy packet loads.
fn clobbers(step: &TraceStep) -> bool {
    step.text.starts_with("call ") || step.text.contains("skb[")
}

/// The stack slot a memory operand of the frame pointer addresses
/// (`*(u32 *)(r10 -4)` → `fp-8`).
fn fp_slot(operand: &str) -> Option<String> {
    let (_, rest) = operand.split_once("(r10 -")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let off: u32 = digits.parse().ok()?;
    Some(format!("fp-{}", off.div_ceil(8) * 8))
}

/// `dst op= src` → (dst, op, src); `op` is empty for a plain assignment.
fn assignment(text: &str) -> Option<(&str, &str, &str)> {
    let text = text.strip_prefix("lock ").unwrap_or(text);
    let (head, src) = text.split_once("= ")?;
    let head = head.trim_end();
    let (dst, op) = match head.rsplit_once(' ') {
        Some((dst, op)) if op.chars().all(|c| "+-*/%&|^<>s".contains(c)) => (dst, op),
        _ => (head, ""),
    };
    Some((dst, op, src))
}

/// What a source operand reads: its registers but the frame pointer, and
/// the stack slot it loads from.
fn reads(src: &str) -> Vec<String> {
    let mut out = operands(src);
    out.retain(|r| r != "R10");
    out.extend(fp_slot(src));
    out
}

/// The steps the values of `names` flow from, walking the path backwards
/// from the failure: a definition `rX = src` hands rX's chain over to what
/// `src` reads (registers, or a stack slot), `rX op= src` adds `src`, a
/// store hands its slot over to the stored register, a call ends the chain
/// of what it returns, and a conditional jump (a refinement) keeps it. At
/// most [`MAX_STEPS`] steps, oldest first.
fn slice(steps: &[TraceStep], names: &[String]) -> Vec<TraceStep> {
    let mut wanted: Vec<String> = names.to_vec();
    let mut out: Vec<TraceStep> = Vec::new();
    for s in steps.iter().rev() {
        if wanted.is_empty() || out.len() == MAX_STEPS {
            break;
        }
        let hit: Vec<String> = s
            .reg_changes
            .iter()
            .filter(|c| wanted.contains(&c.reg))
            .map(|c| c.reg.clone())
            .collect();
        if hit.is_empty() {
            continue;
        }
        out.push(s.clone());
        if s.text.starts_with("if ") {
            continue;
        }
        let Some((dst, op, src)) = assignment(&s.text).filter(|_| !clobbers(s)) else {
            wanted.retain(|w| !hit.contains(w));
            continue;
        };
        let target = reg_name(dst).or_else(|| fp_slot(dst));
        if let Some(t) = target.filter(|t| hit.contains(t)) {
            if op.is_empty() {
                wanted.retain(|w| *w != t);
            }
            for r in reads(src) {
                if !wanted.contains(&r) {
                    wanted.push(r);
                }
            }
        }
    }
    out.reverse();
    out
}

fn values(trace: &Trace, before: &[TraceStep], names: Vec<String>) -> Option<CausalAccount> {
    if names.is_empty() {
        return None;
    }
    let found: Vec<RegChange> = trace
        .found
        .iter()
        .filter(|c| names.contains(&c.reg))
        .cloned()
        .collect();
    let steps = slice(before, &names);
    let untouched = names
        .iter()
        .filter_map(|n| {
            let held = found.iter().any(|c| &c.reg == n);
            let last_write = before
                .iter()
                .rposition(|s| s.reg_changes.iter().any(|c| &c.reg == n));
            // Calls and packet loads clobber R0-R5 (the change to
            // "nothing" is not a write).
            let clobbered = ["R0", "R1", "R2", "R3", "R4", "R5"].contains(&n.as_str());
            let call = before
                .iter()
                .enumerate()
                .rev()
                .take_while(|&(i, _)| last_write.is_none_or(|w| i > w))
                .find(|(_, s)| clobbers(s))
                .map(|(_, s)| s.insn);
            match (held, last_write, call) {
                (false, _, Some(c)) if clobbered => Some(format!(
                    "{n}: holds no value: insn {c} (a call or a packet load) clobbered it"
                )),
                (false, None, _) if n.starts_with('R') => Some(format!(
                    "{n}: holds no value: no instruction on this path wrote it"
                )),
                (false, None, _) => Some(format!("{n}: no instruction on this path wrote it")),
                (true, None, _) if n.starts_with('R') => Some(format!(
                    "{n}: no instruction on this path wrote it: it keeps its value from the entry of the function"
                )),
                _ => None,
            }
        })
        .collect();
    Some(CausalAccount {
        cause: Cause::Values { names },
        found,
        untouched,
        steps,
        branches: branches(&trace.steps),
    })
}

fn single(cause: Cause, trace: &Trace, step: &TraceStep) -> CausalAccount {
    CausalAccount {
        cause,
        found: Vec::new(),
        untouched: Vec::new(),
        steps: vec![step.clone()],
        branches: branches(&trace.steps),
    }
}

/// `alloc_insn=N` in a leak message.
fn alloc_insn(message: &str) -> Option<u32> {
    let (_, rest) = message.split_once("alloc_insn=")?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The account of a rejection at `error_insn` with `message`, from the
/// path bpfcheck's verifier walked to it (`trace`, whose last step must be
/// the failing instruction) and its processed counts. `None` when the path
/// does not reach the failure or explains nothing the class asks for.
pub fn account(
    message: &str,
    class: Option<&RejectionClass>,
    error_insn: Option<u32>,
    trace: &Trace,
    processed: Option<&[u64]>,
) -> Option<CausalAccount> {
    let (last, before) = trace.steps.split_last()?;
    if error_insn.is_some_and(|i| i != last.insn) {
        return None;
    }
    let id = class.map_or("", |c| c.id);
    if RULE_CLASSES.contains(&id) {
        return Some(rule(last.insn, last.text.clone(), last.source.clone()));
    }
    match id {
        "reference_leak" => {
            let step = match alloc_insn(message) {
                Some(i) => before.iter().rev().find(|s| s.insn == i),
                None => {
                    // The id of the reference still held is on the last
                    // value that carries one; it was acquired by the first
                    // step that shows it (later steps only refine the
                    // pointer, e.g. its null check).
                    let held = before
                        .iter()
                        .rev()
                        .find_map(|s| s.reg_changes.iter().find_map(|c| ref_obj_id(&c.value)))?;
                    before.iter().find(|s| {
                        s.reg_changes
                            .iter()
                            .any(|c| ref_obj_id(&c.value) == Some(held))
                    })
                }
            }?;
            return Some(single(Cause::Acquired { insn: step.insn }, trace, step));
        }
        "lock_across_call" => {
            let step = before.iter().rev().find(|s| {
                s.text.starts_with("call ") && LOCKS.iter().any(|l| s.text.contains(l))
            })?;
            return Some(single(Cause::Locked { insn: step.insn }, trace, step));
        }
        "infinite_loop" => {
            let from = before.iter().rposition(|s| s.insn == last.insn)?;
            let mut account = single(Cause::Loop { insn: last.insn }, trace, last);
            account.steps = before[from..].to_vec();
            account.steps.truncate(2 * MAX_STEPS);
            return Some(account);
        }
        "too_complex" => {
            let counts = processed?;
            let mut hot: Vec<(u32, u64)> = counts
                .iter()
                .enumerate()
                .filter(|&(_, &n)| n > 0)
                .filter_map(|(i, &n)| Some((u32::try_from(i).ok()?, n)))
                .collect();
            hot.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            hot.truncate(MAX_HOT);
            let steps = hot
                .iter()
                .filter_map(|(i, _)| trace.steps.iter().rev().find(|s| s.insn == *i))
                .cloned()
                .collect();
            return (!hot.is_empty()).then(|| CausalAccount {
                cause: Cause::Cost { hottest: hot },
                found: Vec::new(),
                untouched: Vec::new(),
                steps,
                branches: Vec::new(),
            });
        }
        _ if message.contains("call stack of") => {
            let calls: Vec<TraceStep> = trace
                .steps
                .iter()
                .filter(|s| s.text.starts_with("call pc"))
                .cloned()
                .collect();
            return (!calls.is_empty()).then(|| CausalAccount {
                cause: Cause::Calls,
                found: Vec::new(),
                untouched: Vec::new(),
                steps: calls,
                branches: Vec::new(),
            });
        }
        _ => {}
    }
    let mut names = named_regs(message);
    if names.is_empty()
        && let Some(r) = arg_reg(message)
    {
        names.push(format!("R{r}"));
    }
    if names.is_empty() {
        names = operands(&last.text);
        // The frame pointer explains nothing by itself: the slot does.
        names.retain(|n| n != "R10");
    }
    // Arithmetic is refused for both operands' sake: name the source too
    // (`R0 tried to subtract pointer from scalar` is about `r0 -= r1`).
    if let Some((_, _, src)) = assignment(&last.text).filter(|(_, op, _)| !op.is_empty()) {
        for r in reads(src) {
            if !names.contains(&r) {
                names.push(r);
            }
        }
    }
    if let Some(slot) = named_slot(message) {
        names.push(slot);
    }
    if last.text.starts_with("call ")
        && named_regs(message).is_empty()
        && arg_reg(message).is_none()
    {
        // A call reads the arguments its prototype lists, which its text
        // does not show: explain the argument registers that held values.
        names = trace
            .found
            .iter()
            .filter(|c| ["R1", "R2", "R3", "R4", "R5"].contains(&c.reg.as_str()))
            .map(|c| c.reg.clone())
            .collect();
    }
    values(trace, before, names)
}

/// The account of an instruction refused for itself (its encoding, its
/// place in the control flow, a helper the program type lacks).
pub fn rule(insn: u32, text: String, source: Option<SourceLocation>) -> CausalAccount {
    CausalAccount {
        cause: Cause::Rule { insn },
        found: Vec::new(),
        untouched: Vec::new(),
        steps: vec![TraceStep {
            insn,
            text,
            source,
            reg_changes: Vec::new(),
        }],
        branches: Vec::new(),
    }
}

/// The account of a register from its definitions alone: `steps` the
/// chain of instructions that defined it (oldest first), `notes` what the
/// chain ends in when no instruction (the function's entry, a clobber).
pub fn definitions(reg: &str, steps: Vec<TraceStep>, notes: Vec<String>) -> CausalAccount {
    CausalAccount {
        cause: Cause::Definitions {
            reg: reg.to_owned(),
        },
        found: Vec::new(),
        untouched: notes,
        steps,
        branches: Vec::new(),
    }
}

/// The register of a call argument an error message names by number:
/// the kernel counts helper arguments and unacquired references by
/// register (`helper arg2`, `arg 1 is an unacquired reference`) and
/// kfunc, dynptr and iterator arguments from 0 (`trusted arg0`,
/// `arg#1`, `as arg #0`: R1 is argument 0).
fn arg_reg(message: &str) -> Option<u8> {
    let number = |rest: &str| -> Option<u8> {
        rest.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    };
    if let Some((_, rest)) = message.split_once("helper arg") {
        return number(rest).filter(|r| (1..=5).contains(r));
    }
    if message.contains("is an unacquired reference") {
        let (_, rest) = message.split_once("arg ")?;
        return number(rest).filter(|r| (1..=5).contains(r));
    }
    let (_, rest) = message.split_once("arg")?;
    let rest = rest.trim_start_matches([' ', '#']);
    number(rest).map(|n| n + 1).filter(|r| (1..=5).contains(r))
}

/// The register an error message is about: the first it names (`R1`), or
/// the call argument it names by number.
pub fn first_named_reg(message: &str) -> Option<u8> {
    named_regs(message)
        .first()
        .and_then(|r| r.strip_prefix('R')?.parse().ok())
        .or_else(|| arg_reg(message))
}

/// Whether an account of `class` may rest on the instruction alone.
pub fn is_rule_class(class: Option<&RejectionClass>) -> bool {
    class.is_some_and(|c| RULE_CLASSES.contains(&c.id))
}

/// The `ref_obj_id=N` of a printed register value.
fn ref_obj_id(value: &str) -> Option<u32> {
    let rest = &value[value.find("ref_obj_id=")? + "ref_obj_id=".len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::classify;

    fn step(insn: u32, text: &str, writes: &[(&str, &str)]) -> TraceStep {
        TraceStep {
            insn,
            text: text.to_owned(),
            source: None,
            reg_changes: writes
                .iter()
                .map(|(r, v)| RegChange {
                    reg: (*r).to_owned(),
                    value: (*v).to_owned(),
                })
                .collect(),
        }
    }

    fn trace(steps: Vec<TraceStep>, found: &[(&str, &str)]) -> Trace {
        Trace {
            steps,
            found: found
                .iter()
                .map(|(r, v)| RegChange {
                    reg: (*r).to_owned(),
                    value: (*v).to_owned(),
                })
                .collect(),
        }
    }

    fn of(msg: &str, insn: u32, t: &Trace) -> Option<CausalAccount> {
        account(msg, classify(Some(msg), None), Some(insn), t, None)
    }

    #[test]
    fn a_named_register_is_traced_to_its_writer() {
        let t = trace(
            vec![
                step(0, "r1 = 0", &[("R1", "0")]),
                step(
                    1,
                    "call bpf_map_lookup_elem#1",
                    &[("R0", "map_value_or_null(id=1)")],
                ),
                step(2, "if r2 == 0x0 goto pc+1", &[]),
                step(3, "r0 = *(u32 *)(r0 +0)", &[]),
            ],
            &[("R0", "map_value_or_null(id=1)"), ("R1", "0")],
        );
        let a = of("R0 invalid mem access 'map_value_or_null'", 3, &t).unwrap();
        assert_eq!(a.steps.len(), 1);
        assert_eq!(a.steps[0].insn, 1);
        assert_eq!(a.found.len(), 1);
        assert_eq!(a.branches.len(), 1);
        assert!(!a.branches[0].taken);
        assert!(of("R0 invalid mem access 'map_value_or_null'", 4, &t).is_none());
    }

    #[test]
    fn without_a_named_register_the_operands_are_explained() {
        let t = trace(
            vec![step(0, "r0 = *(u32 *)(r1 +76)", &[])],
            &[("R1", "ctx()")],
        );
        let a = of("invalid bpf_context access off=76 size=4", 0, &t).unwrap();
        assert_eq!(
            a.cause,
            Cause::Values {
                names: vec!["R1".into()]
            }
        );
        assert_eq!(a.untouched.len(), 1);
        assert!(a.untouched[0].starts_with("R1: no instruction"));
        assert_eq!(operands("*(u64 *)(r10 -8) = r1"), ["R10", "R1"]);
        assert_eq!(
            named_slot("invalid read from stack off -12+0 size 4").as_deref(),
            Some("fp-16")
        );
    }

    #[test]
    fn the_slice_follows_copies_and_spills() {
        let steps = vec![
            step(0, "r6 = 7", &[("R6", "7")]),
            step(1, "r1 = 9", &[("R1", "9")]),
            step(2, "*(u64 *)(r10 -8) = r6", &[("fp-8", "7")]),
            step(3, "r2 = *(u64 *)(r10 -8)", &[("R2", "7")]),
            step(4, "r2 += r1", &[("R2", "16")]),
        ];
        let insns: Vec<u32> = slice(&steps, &["R2".to_owned()])
            .iter()
            .map(|s| s.insn)
            .collect();
        assert_eq!(insns, [0, 1, 2, 3, 4]);
        let insns: Vec<u32> = slice(&steps, &["R1".to_owned()])
            .iter()
            .map(|s| s.insn)
            .collect();
        assert_eq!(insns, [1]);
        assert_eq!(
            assignment("lock *(u64 *)(r10 -8) += r1"),
            Some(("*(u64 *)(r10 -8)", "+", "r1"))
        );
    }

    #[test]
    fn arguments_named_by_number() {
        assert_eq!(
            first_named_reg("Possibly NULL pointer passed to trusted arg0"),
            Some(1)
        );
        assert_eq!(
            first_named_reg("Expected an initialized dynptr as arg #2"),
            Some(3)
        );
        assert_eq!(first_named_reg("arg 1 is an unacquired reference"), Some(1));
        assert_eq!(
            first_named_reg("Possibly NULL pointer passed to helper arg2"),
            Some(2)
        );
        assert_eq!(
            first_named_reg("arg#2 arg#3 memory, len pair leads to invalid memory access"),
            Some(3)
        );
        assert_eq!(first_named_reg("R7 invalid mem access 'scalar'"), Some(7));
        assert_eq!(
            first_named_reg("BPF_EXIT instruction in main prog would lead to reference leak"),
            None
        );
    }

    #[test]
    fn leaks_locks_and_loops() {
        let t = trace(
            vec![
                step(
                    3,
                    "call bpf_sk_lookup_tcp#84",
                    &[("R0", "sock_or_null(id=2,ref_obj_id=2)")],
                ),
                step(4, "if r0 == 0x0 goto pc+1", &[]),
                step(5, "r0 = 0", &[("R0", "0")]),
                step(6, "exit", &[]),
            ],
            &[],
        );
        let a = of(
            "BPF_EXIT instruction in main prog would lead to reference leak",
            6,
            &t,
        )
        .unwrap();
        assert_eq!(a.cause, Cause::Acquired { insn: 3 });
        assert!(!a.branches[0].taken);
        let t = trace(
            vec![
                step(1, "call bpf_spin_lock#93", &[]),
                step(2, "call bpf_get_prandom_u32#7", &[]),
            ],
            &[],
        );
        let a = of("function calls are not allowed while holding a lock", 2, &t).unwrap();
        assert_eq!(a.cause, Cause::Locked { insn: 1 });
        let t = trace(
            vec![
                step(1, "r1 = 0", &[]),
                step(2, "goto pc-2", &[]),
                step(1, "r1 = 0", &[]),
            ],
            &[],
        );
        let a = of("infinite loop detected at insn 1", 1, &t).unwrap();
        assert_eq!(a.steps.len(), 2);
    }
}
