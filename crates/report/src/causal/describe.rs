//! The account as text, for a diagnostic's note.

use std::fmt::Write;

use super::{CausalAccount, Cause};
use crate::catalogue::RejectionClass;
use crate::trace::TraceStep;

fn write_step(out: &mut String, step: &TraceStep, with_writes: bool) {
    let _ = write!(out, "\n  insn {:<4} {}", step.insn, step.text);
    if let Some(s) = &step.source {
        let _ = write!(out, "    ({}:{})", s.file, s.line);
    }
    if with_writes {
        for c in &step.reg_changes {
            let _ = write!(out, "\n             {} = {}", c.reg, c.value);
        }
    }
}

impl CausalAccount {
    /// The account as the text of a diagnostic's note: a heading naming
    /// what is explained, then the steps, values and branch decisions.
    pub fn describe(&self, class: Option<&RejectionClass>) -> String {
        let mut out = String::new();
        match &self.cause {
            Cause::Values { names } => {
                let _ = write!(
                    out,
                    "where {} came from, on the path bpfcheck walked to the failure:",
                    names.join(", ")
                );
                for c in &self.found {
                    let _ = write!(out, "\n  found: {} = {}", c.reg, c.value);
                }
                for s in &self.steps {
                    write_step(&mut out, s, true);
                }
                for n in &self.untouched {
                    let _ = write!(out, "\n  {n}");
                }
            }
            Cause::Acquired { .. } => {
                out.push_str("the reference still held was acquired here, on the failing path:");
                for s in &self.steps {
                    write_step(&mut out, s, true);
                }
            }
            Cause::Locked { .. } => {
                out.push_str("the lock still held was taken here, on the failing path:");
                for s in &self.steps {
                    write_step(&mut out, s, false);
                }
            }
            Cause::Loop { insn } => {
                let _ = write!(
                    out,
                    "the path came back to insn {insn} in a state it had already been in, through:"
                );
                for s in &self.steps {
                    write_step(&mut out, s, true);
                }
            }
            Cause::Cost { hottest } => {
                out.push_str("where the processed instructions went (most processed first):");
                for (i, n) in hottest {
                    match self.steps.iter().find(|s| s.insn == *i) {
                        Some(s) => {
                            write_step(&mut out, s, false);
                            let _ = write!(out, "    processed {n} times");
                        }
                        None => {
                            let _ = write!(out, "\n  insn {i:<4} processed {n} times");
                        }
                    }
                }
            }
            Cause::Calls => {
                out.push_str("the calls on the failing path, each adding a frame:");
                for s in &self.steps {
                    write_step(&mut out, s, false);
                }
            }
            Cause::Definitions { reg } => {
                let _ = write!(
                    out,
                    "where {reg} was defined, from the instructions alone (bpfcheck's walk did \
not reach the failure: no values are known):"
                );
                for s in &self.steps {
                    write_step(&mut out, s, false);
                }
                for n in &self.untouched {
                    let _ = write!(out, "\n  {n}");
                }
            }
            Cause::Rule { .. } => {
                let what = class.map_or("the rule", |c| c.title);
                let _ = write!(
                    out,
                    "the instruction alone is refused ({what}); no value or path is involved:"
                );
                for s in &self.steps {
                    write_step(&mut out, s, false);
                }
            }
        }
        if !self.branches.is_empty() {
            out.push_str("\n  the last branch decisions on the way:");
            for b in &self.branches {
                let _ = write!(
                    out,
                    "\n  insn {:<4} {}    {}",
                    b.insn,
                    b.text,
                    if b.taken { "jumped" } else { "fell through" }
                );
                if let Some(s) = &b.source {
                    let _ = write!(out, "    ({}:{})", s.file, s.line);
                }
            }
        }
        out
    }
}
