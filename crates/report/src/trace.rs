//! The causal account of a rejection: the instructions on the failing path
//! and what each did to the registers, so that a reader can see where the
//! offending value came from.
//!
//! For bpfcheck's own rejections the CLI builds a [`Trace`] from the path
//! the verifier recorded (`bpfcheck_verifier::observe`, whatever the log
//! level) and keeps it in [`crate::Record::trace`]; for the kernel's, a
//! [`Trace`] is read from a kernel-format log (level 1 or 2), which prints
//! the failing path with the registers each instruction wrote (`; R0_w=…`).

use serde::{Deserialize, Serialize};

use crate::record::SourceLocation;

/// One register or stack slot an instruction wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegChange {
    /// `R0` … `R10`, or a stack slot `fp-8`.
    pub reg: String,
    /// Its abstract value after the instruction, in the kernel's syntax
    /// (`map_value_or_null(id=1,map=m,ks=4,vs=8)`, `scalar(umax=255)`).
    pub value: String,
}

/// One instruction on the path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceStep {
    /// Instruction index.
    pub insn: u32,
    /// The instruction in the kernel's syntax, without the `N: (xx)` prefix.
    pub text: String,
    /// Its source line, when known.
    pub source: Option<SourceLocation>,
    /// Registers and slots it wrote (or the log showed after it).
    pub reg_changes: Vec<RegChange>,
}

/// The failing path, oldest instruction first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// The steps.
    pub steps: Vec<TraceStep>,
    /// The registers and stack slots that held something when the last
    /// step ran (what it found), when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub found: Vec<RegChange>,
}

/// `N: (xx) text` → (N, text).
fn insn_line(line: &str) -> Option<(u32, &str)> {
    let (idx, rest) = line.split_once(": (")?;
    let insn = idx.parse().ok()?;
    let (code, text) = rest.split_once(") ")?;
    (code.len() == 2 && code.bytes().all(|b| b.is_ascii_hexdigit())).then_some((insn, text))
}

/// `; text @ file:line` (the log's source lines).
fn source_line(line: &str) -> Option<SourceLocation> {
    let rest = line.strip_prefix("; ")?;
    let (text, at) = rest.rsplit_once(" @ ")?;
    let (file, line_no) = at.rsplit_once(':')?;
    Some(SourceLocation {
        file: file.to_owned(),
        line: line_no.parse().ok()?,
        column: 0,
        text: Some(text.to_owned()),
    })
}

/// Splits at blanks outside parentheses: values such as
/// `var_off=(0x0; 0x1f)` hold blanks of their own.
fn tokens(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0u32;
    let mut start = None;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c.is_whitespace() && depth == 0 {
            if let Some(st) = start.take() {
                out.push(&s[st..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        out.push(&s[st..]);
    }
    out
}

fn reg_changes(annotation: &str) -> Vec<RegChange> {
    tokens(annotation)
        .into_iter()
        .filter_map(|tok| {
            let (name, value) = tok.split_once('=')?;
            let reg = name.trim_end_matches("_w");
            let is_reg = reg
                .strip_prefix('R')
                .is_some_and(|n| n.parse::<u8>().is_ok());
            (is_reg || reg.starts_with("fp")).then(|| RegChange {
                reg: reg.to_owned(),
                value: value.to_owned(),
            })
        })
        .collect()
}

/// Splits an instruction line's text from the states printed after it:
/// `r1 = 0   ; R1_w=0`, or, after a conditional jump at level 1, the
/// fall-through state `if w1 != 0x0 goto pc-2 2: R1=…`.
fn split_annotation(rest: &str) -> (&str, &str) {
    let mut depth = 0u32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ';' if depth == 0 && rest[i..].starts_with("; ") => {
                return (rest[..i].trim_end(), &rest[i + 2..]);
            }
            _ => {}
        }
    }
    if let Some(g) = rest.find(" goto ") {
        // `goto pc+N` is followed by ` M: ` and the state when one is printed.
        let after = &rest[g + 6..];
        if let Some(sp) = after.find(' ') {
            let tail = &after[sp + 1..];
            if let Some((n, state)) = tail.split_once(": ")
                && n.bytes().all(|b| b.is_ascii_digit())
            {
                return (rest[..g + 6 + sp].trim_end(), state);
            }
        }
    }
    (rest.trim_end(), "")
}

impl Trace {
    /// The path a kernel-format log shows. At level 2 the log holds every
    /// explored path; only the last one (the failing path, after the last
    /// `from X to Y:` line) is kept.
    pub fn from_kernel_log(log: &str) -> Self {
        let mut steps: Vec<TraceStep> = Vec::new();
        let mut source = None;
        for line in log.lines() {
            if line.starts_with("from ") && line.contains(" to ") {
                steps.clear();
                continue;
            }
            if let Some(s) = source_line(line) {
                source = Some(s);
                continue;
            }
            let Some((insn, rest)) = insn_line(line) else {
                continue;
            };
            let (text, annotation) = split_annotation(rest);
            steps.push(TraceStep {
                insn,
                text: text.to_owned(),
                source: source.clone(),
                reg_changes: reg_changes(annotation),
            });
        }
        Self {
            steps,
            found: Vec::new(),
        }
    }

    /// The steps that explain `message`: those that wrote a register the
    /// message names (`R0 invalid mem access …`), at most `max`, most recent
    /// last; without a named register, the last `max` steps.
    pub fn explaining(&self, message: &str, max: usize) -> Vec<&TraceStep> {
        let named: Vec<&str> = message
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| w.strip_prefix('R').is_some_and(|n| n.parse::<u8>().is_ok()))
            .collect();
        let mut picked: Vec<&TraceStep> = if named.is_empty() {
            self.steps.iter().collect()
        } else {
            self.steps
                .iter()
                .filter(|s| {
                    s.reg_changes
                        .iter()
                        .any(|c| named.contains(&c.reg.as_str()))
                })
                .collect()
        };
        if picked.is_empty() {
            picked = self.steps.iter().collect();
        }
        // Around a loop the same instructions repeat: keep the latest visit.
        let mut latest: Vec<&TraceStep> = Vec::new();
        for step in picked.into_iter().rev() {
            if !latest.iter().any(|s| s.insn == step.insn) {
                latest.push(step);
            }
        }
        latest.truncate(max);
        latest.reverse();
        latest
    }
}

/// The instruction a level-2 log line shows being processed: an
/// instruction line `N: (xx) …`, or a pruning point, `N: safe` or
/// `from X to N: safe`, where the verifier counted the instruction and then
/// found the state already covered.
fn processed_at(line: &str) -> Option<u32> {
    if let Some((i, _)) = insn_line(line) {
        return Some(i);
    }
    let head = line.strip_suffix(": safe")?;
    let idx = head.rsplit_once(" to ").map_or(head, |(_, to)| to);
    idx.parse().ok()
}

/// The index of every instruction a kernel-format log at level 2 shows
/// processed, in order, over all paths: counting them gives the processed
/// count per instruction (their total equals the log's `processed N insns`
/// on 6.18, checked on the fixture corpus).
pub fn processed_insns(log: &str) -> Vec<u32> {
    log.lines().filter_map(processed_at).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "func#0 @0
0: R1=ctx() R10=fp0
; int f(void *ctx) @ a.c:7
0: (b7) r1 = 0                        ; R1_w=0
1: (63) *(u32 *)(r10 -4) = r1         ; R1_w=0 R10=fp0 fp-8=0000????
; v = bpf_map_lookup_elem(&m, &k); @ a.c:9
2: (18) r1 = 0xffff888100000000       ; R1_w=map_ptr(map=m,ks=4,vs=8)
4: (85) call bpf_map_lookup_elem#1    ; R0_w=map_value_or_null(id=1,map=m,ks=4,vs=8)
; return *v; @ a.c:10
5: (61) r0 = *(u32 *)(r0 +0)
R0 invalid mem access 'map_value_or_null'
";

    #[test]
    fn log_becomes_steps_with_sources_and_writes() {
        let t = Trace::from_kernel_log(LOG);
        assert_eq!(t.steps.len(), 5);
        assert_eq!(t.steps[3].text, "call bpf_map_lookup_elem#1");
        assert_eq!(t.steps[3].reg_changes[0].reg, "R0");
        assert_eq!(t.steps[3].source.as_ref().map(|s| s.line), Some(9));
        assert_eq!(t.steps[1].reg_changes[2].reg, "fp-8");
        assert_eq!(
            reg_changes("R1=scalar(var_off=(0x0; 0x1f)) R2=0")[0].value,
            "scalar(var_off=(0x0; 0x1f))"
        );
        let why = t.explaining("R0 invalid mem access 'map_value_or_null'", 4);
        assert_eq!(why.len(), 1);
        assert_eq!(why[0].insn, 4);
    }

    #[test]
    fn jump_lines_carry_the_fall_through_state() {
        let (text, state) =
            split_annotation("if w1 != 0x0 goto pc-2 2: R1=scalar(var_off=(0x0; 0x1)) R10=fp0");
        assert_eq!(text, "if w1 != 0x0 goto pc-2");
        assert_eq!(reg_changes(state).len(), 2);
        let (text, state) = split_annotation("r1 = 0   ; R1_w=0");
        assert_eq!((text, state), ("r1 = 0", "R1_w=0"));
    }

    #[test]
    fn loops_show_each_instruction_once() {
        let t = Trace::from_kernel_log(
            "2: (61) r1 = 1 ; R1=1\n3: (05) goto pc-2\n2: (61) r1 = 1 ; R1=1\n",
        );
        assert_eq!(t.explaining("x", 6).len(), 2);
    }

    #[test]
    fn pruning_points_count_as_processed() {
        let log = "0: (b7) r0 = 0 ; R0_w=0\n      1: .......... (95) exit\n3: safe\nfrom 2 to 5: safe\nfrom 2 to 5: R0=1\n";
        assert_eq!(processed_insns(log), [0, 3, 5]);
    }

    #[test]
    fn level2_keeps_the_last_path() {
        let t =
            Trace::from_kernel_log("0: (b7) r0 = 0 ; R0_w=0\nfrom 3 to 5: R0=1\n5: (95) exit\n");
        assert_eq!(t.steps.len(), 1);
        assert_eq!(t.steps[0].insn, 5);
    }
}
