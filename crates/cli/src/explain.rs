//! Text output of verdicts: rejections as diagnostics with their source
//! line, instruction and path, coloured on terminals.

use std::io::IsTerminal;

use bpfcheck_isa::disasm;
use bpfcheck_profile::KernelProfile;
use bpfcheck_report::{DiagnosticContext, Record, Trace, render_diagnostic};
use bpfcheck_verifier::{Observe, Verdict, VerifyOptions, verify_observed};

use crate::input::Program;

/// When to colour text output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    /// When stdout is a terminal.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour stdout.
    pub(crate) fn enabled(self) -> bool {
        match self {
            Self::Auto => std::io::stdout().is_terminal(),
            Self::Always => true,
            Self::Never => false,
        }
    }
}

/// One record as text: a diagnostic when rejected. The instruction is
/// printed in the syntax of `profile`'s log; the path is the one bpfcheck's
/// verifier recorded (the record's, or a walk made here for a record of the
/// kernel's answer), else the one the record's log shows. The log itself is
/// printed only with `show_log`.
pub(crate) fn render(
    r: &Record,
    p: Option<&Program>,
    profile: &KernelProfile,
    color: bool,
    show_log: bool,
) -> String {
    let insn_text = r.error_insn.zip(p).and_then(|(i, p)| {
        let idx = usize::try_from(i).ok()?;
        p.request
            .insns
            .get(idx)
            .map(|_| disasm(&p.request.insns, idx, profile.log_era, profile))
    });
    let object = p.map_or_else(|| std::path::PathBuf::from(&r.object), |p| p.object.clone());
    let source_file = r
        .source
        .as_ref()
        .and_then(|s| crate::source::read_source(&object, &s.file));
    let log = r
        .log
        .as_deref()
        .or_else(|| r.live().and_then(|k| k.log.as_deref()));
    // bpfcheck's own walk first: it also knows the values the failing
    // instruction found. Failing that, the path the record's log prints.
    let mut processed = None;
    let own = r.trace.clone().or_else(|| {
        let (trace, counts) = own_walk(r, p?, profile)?;
        processed = Some(counts);
        Some(trace)
    });
    let from_log = own.is_none();
    let with_counts;
    let r = match processed {
        Some(counts) if r.processed_per_insn.is_none() => {
            with_counts = Record {
                processed_per_insn: Some(counts),
                ..r.clone()
            };
            &with_counts
        }
        _ => r,
    };
    let trace = own.or_else(|| log.map(Trace::from_kernel_log));
    let defined = match (from_log, p, r.error.as_deref(), r.error_insn) {
        (true, Some(p), Some(msg), Some(at)) => static_account(p, msg, at, profile),
        _ => None,
    };
    let cx = DiagnosticContext {
        insn_text: insn_text.as_deref(),
        source_file: source_file.as_deref(),
        trace: trace.as_ref().filter(|t| !t.steps.is_empty()),
        trace_from_log: from_log,
        static_account: defined.as_ref(),
    };
    if show_log || r.log.is_none() {
        render_diagnostic(r, &cx, color)
    } else {
        let quiet = Record {
            log: None,
            ..r.clone()
        };
        render_diagnostic(&quiet, &cx, color)
    }
}

/// Where the register a rejection names was defined, from the program's
/// instructions alone (for rejections no walk of bpfcheck's reached).
fn static_account(
    p: &Program,
    message: &str,
    at: u32,
    profile: &KernelProfile,
) -> Option<bpfcheck_report::CausalAccount> {
    use bpfcheck_isa::defs::{self, Def};
    let insns = &p.request.insns;
    let reg = bpfcheck_report::first_named_reg(message)?;
    let at = usize::try_from(at).ok()?;
    let chain = defs::chain(insns, at, reg, 4)?;
    let lines = crate::source::LineTable::of(&p.request);
    let (mut steps, mut notes) = (Vec::new(), Vec::new());
    let mut cur = (at, reg);
    for d in chain {
        match d {
            Def::Insn(i) => {
                let text = disasm(insns, i, profile.log_era, profile);
                let text = text
                    .split_once(") ")
                    .filter(|(code, _)| code.len() == 3)
                    .map_or(text.clone(), |(_, t)| t.to_owned());
                let insn = u32::try_from(i).ok()?;
                steps.push(bpfcheck_report::TraceStep {
                    insn,
                    text,
                    source: lines.as_ref().and_then(|t| t.locate(insn)),
                    reg_changes: Vec::new(),
                });
                cur = (i, insns[i].src);
            }
            end => notes.extend(defs::describe_end(insns, cur.0, cur.1, end)),
        }
    }
    steps.reverse();
    Some(bpfcheck_report::definitions(
        &format!("R{reg}"),
        steps,
        notes,
    ))
}

/// bpfcheck's own path to a rejection recorded without one (the kernel's
/// answer): its walk of the program, when it refuses the same way, or when
/// it stops (at something it does not model) at the failing instruction
/// after as many instructions as the record counts — the same walk.
fn own_walk(r: &Record, p: &Program, profile: &KernelProfile) -> Option<(Trace, Vec<u64>)> {
    if r.verdict != "rejected" || p.unprepared.is_some() {
        return None;
    }
    let v = verify_observed(
        &p.request,
        profile,
        &VerifyOptions::default(),
        Observe {
            path: true,
            processed: true,
            ..Observe::default()
        },
    );
    let obs = v.observation.as_deref()?;
    let same = match v.verdict {
        Verdict::Rejected => v.error.as_ref().map(|e| e.message.as_str()) == r.error.as_deref(),
        Verdict::Unsupported => {
            obs.path.last().map(|s| s.insn) == r.error_insn
                && r.insns_processed == Some(obs.processed.iter().sum())
        }
        Verdict::Accepted => false,
    };
    if same {
        Some((
            crate::records::trace_of(obs, &p.request)?,
            obs.processed.clone(),
        ))
    } else {
        None
    }
}

/// `bpfcheck explain`: records of an earlier `--format json` run, shown as
/// `check` shows them, with the objects they name read again (when they
/// still exist) for the instruction and the source.
pub(crate) fn explain(
    files: &[std::path::PathBuf],
    color: ColorChoice,
    show_log: bool,
) -> anyhow::Result<u8> {
    use anyhow::Context;
    let color = color.enabled();
    let mut all = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        let records: Vec<Record> = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a JSON array of bpfcheck records", f.display()))?;
        all.extend(records);
    }
    let default = crate::commands::resolve_profile(KernelProfile::DEFAULT)?;
    for r in &all {
        let profile = crate::commands::resolve_profile(r.profile_name()).ok();
        let profile = profile.as_ref().unwrap_or(&default);
        let program = program_of(r);
        out_nonl!("{}", render(r, program.as_ref(), profile, color, show_log));
    }
    Ok(crate::commands::exit_status(&all))
}

/// The program a record names, read again from its object (without CO-RE
/// relocation: only the instructions and line info are needed).
fn program_of(r: &Record) -> Option<Program> {
    let opts = crate::input::InputOpts {
        program: Some(r.program.clone()),
        ..Default::default()
    };
    let inputs = crate::input::read_inputs(&[std::path::PathBuf::from(&r.object)], &opts).ok()?;
    crate::input::programs_for(&inputs, &opts, None, None, None)
        .ok()?
        .into_iter()
        .find(|p| p.unprepared.is_none())
}
