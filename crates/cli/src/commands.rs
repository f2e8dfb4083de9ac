//! The subcommands.

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context, Result, anyhow, bail};
use bpfcheck_isa::disasm_program;
use bpfcheck_profile::{KernelBtf, KernelProfile};
use bpfcheck_report::{
    KernelField, KernelSide, Record, Summary, render_diff, render_matrix, render_record, to_json,
    to_sarif,
};
use bpfcheck_uapi::{last_insn_of_log, strip_level4_lines};
use bpfcheck_verifier::{
    LOG_LEVEL1, LOG_STATS, Observe, Unsupported, Verdict, Verification, VerifyOptions,
    verify_observed,
};
use rayon::prelude::*;

use crate::{
    Format,
    explain::{ColorChoice, render},
    input::{Input, InputOpts, Program, programs_for, read_inputs},
    records::{diagnose, from_verification, into_diff},
};

/// Every program accepted.
pub(crate) const EXIT_ACCEPTED: u8 = 0;
/// At least one program rejected.
pub(crate) const EXIT_REJECTED: u8 = 1;
/// Bad input or usage.
pub(crate) const EXIT_BAD_INPUT: u8 = 2;
/// At least one unsupported verdict and no rejection.
pub(crate) const EXIT_UNSUPPORTED: u8 = 3;

/// The example object `bpfcheck check` judges when given no file.
const EXAMPLE_OBJECT: &[u8] = include_bytes!("../example/example.bpf.o");
const EXAMPLE_NAME: &str = "example.bpf.o (bundled)";

pub(crate) fn exit_status(records: &[Record]) -> u8 {
    if records.iter().any(|r| r.verdict == "rejected") {
        EXIT_REJECTED
    } else if records.iter().any(|r| r.verdict == "unsupported") {
        EXIT_UNSUPPORTED
    } else {
        EXIT_ACCEPTED
    }
}

/// The running kernel's BTF, when it exposes one.
const HOST_BTF: &str = "/sys/kernel/btf/vmlinux";

/// `--cpus`: the machine's possible CPUs, for every profile named.
pub(crate) static CPUS: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// Where the running machine lists its possible CPUs.
const HOST_CPUS: &str = "/sys/devices/system/cpu/possible";

/// One `--kernel` name: a built-in profile (`6.1`), `host` (the running
/// kernel: its release and BTF), or `btf:PATH[@VERSION]` (a BTF file of a
/// kernel bpfcheck ships no profile for, judged with the rules of the
/// nearest older built-in profile).
pub(crate) fn resolve_profile(name: &str) -> Result<KernelProfile> {
    let p = resolve_rules(name)?;
    // The machine's CPU count: the one given, else the host's own.
    let cpus = CPUS.get().copied().or_else(|| {
        (name == "host")
            .then(|| std::fs::read_to_string(HOST_CPUS).ok())
            .flatten()
            .and_then(|t| bpfcheck_profile::parse_possible_cpus(&t))
    });
    Ok(p.with_possible_cpus(cpus))
}

fn resolve_rules(name: &str) -> Result<KernelProfile> {
    if name == "host" {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .context("--kernel host: cannot read /proc/sys/kernel/osrelease")?;
        let btf = std::path::Path::new(HOST_BTF)
            .exists()
            .then(|| lazy_btf_file(HOST_BTF.into()));
        return Ok(KernelProfile::for_release(release.trim(), btf)?);
    }
    if let Some(spec) = name.strip_prefix("btf:") {
        let (path, version) = match spec.rsplit_once('@') {
            Some((p, v)) => (p, v),
            None => (spec, KernelProfile::DEFAULT),
        };
        std::fs::metadata(path).with_context(|| format!("--kernel {name}: cannot read {path}"))?;
        let mut p = KernelProfile::for_release(version, Some(lazy_btf_file(path.into())))?;
        if !spec.contains('@') {
            p.note = Some(format!(
                "{path}: no version given: using the rules of {}",
                p.name
            ));
        }
        p.name = format!("btf:{path}");
        return Ok(p);
    }
    Ok(KernelProfile::builtin(name)?)
}

/// A BTF file read only when a check first needs the kernel's types.
fn lazy_btf_file(path: String) -> KernelBtf {
    KernelBtf::lazy(path.clone(), move || {
        std::fs::read(&path).map_err(|e| e.to_string())
    })
}

pub(crate) fn profiles(names: &[String]) -> Result<Vec<KernelProfile>> {
    let mut out: Vec<KernelProfile> = Vec::new();
    for name in names
        .iter()
        .flat_map(|n| n.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        if name == "all" {
            out.extend(KernelProfile::all_builtin());
        } else {
            out.push(resolve_profile(name)?);
        }
    }
    out.dedup_by(|a, b| a.name == b.name);
    if out.is_empty() {
        bail!("no kernel profile named");
    }
    for p in &out {
        if let Some(note) = &p.note {
            eprintln!("bpfcheck: note: {note}");
        }
    }
    Ok(out)
}

/// Text output with diagnostics: each record with the program and profile
/// it was judged with.
fn emit_explained(
    records: &[Record],
    judged: &[(&Program, &KernelProfile)],
    format: Format,
    color: ColorChoice,
    show_log: bool,
) {
    if format != Format::Text {
        return emit(records, format, false);
    }
    let color = color.enabled();
    for (r, (p, k)) in records.iter().zip(judged) {
        out_nonl!("{}", render(r, Some(p), k, color, show_log));
    }
}

fn emit(records: &[Record], format: Format, diff: bool) {
    match format {
        Format::Text => {
            for r in records {
                out_nonl!(
                    "{}",
                    if diff {
                        render_diff(r)
                    } else {
                        render_record(r)
                    }
                );
            }
        }
        Format::Json => out_nonl!("{}", to_json(records)),
        Format::Sarif => out_nonl!("{}", to_sarif(records, env!("CARGO_PKG_VERSION"))),
    }
}

/// The inputs, or the bundled example when none is given (parsed from
/// memory: it never touches the file system).
pub(crate) fn inputs(files: &[PathBuf], input: &InputOpts) -> Result<Vec<Input>> {
    if files.is_empty() {
        // `include_bytes!` data has no alignment; the ELF reader wants the
        // headers aligned, which a heap copy is.
        #[allow(
            clippy::unnecessary_to_owned,
            reason = "the copy is what aligns the data"
        )]
        let object = bpfcheck_obj::Object::parse_named(&EXAMPLE_OBJECT.to_vec(), "example")
            .map_err(|e| anyhow!("the bundled example: {e}"))?;
        return Ok(vec![Input::Object {
            path: PathBuf::from(EXAMPLE_NAME),
            object: Box::new(object),
        }]);
    }
    read_inputs(files, input)
}

/// The kernel's BTF of a profile, for CO-RE. A BTF that cannot be read is
/// an error here: the user named that kernel.
fn target_btf(profile: &KernelProfile) -> Result<Option<&bpfcheck_btf::Btf<'static>>> {
    profile
        .btf
        .as_ref()
        .map(|b| b.btf().map_err(|e| anyhow!("kernel {}: {e}", profile.name)))
        .transpose()
}

/// The programs of the inputs prepared for one kernel.
pub(crate) fn programs(
    inputs: &[Input],
    input: &InputOpts,
    profile: &KernelProfile,
) -> Result<Vec<Program>> {
    programs_loaded_into(inputs, input, profile, profile)
}

/// [`programs`], with the kernel symbols fixtures name taken from the BTF
/// of `loaded_into`, the kernel that will load them (`diff` judges with
/// one profile and loads into the running kernel).
pub(crate) fn programs_loaded_into(
    inputs: &[Input],
    input: &InputOpts,
    profile: &KernelProfile,
    loaded_into: &KernelProfile,
) -> Result<Vec<Program>> {
    programs_with(inputs, input, profile, loaded_into, None)
}

/// [`programs_loaded_into`] the running kernel: its externs (`__kconfig`,
/// `__ksym`) and version are what libbpf would find there.
pub(crate) fn programs_for_host(
    inputs: &[Input],
    input: &InputOpts,
    profile: &KernelProfile,
    host: &KernelProfile,
) -> Result<Vec<Program>> {
    let resolver = inputs
        .iter()
        .any(|i| matches!(i, Input::Object { .. }))
        .then(bpfcheck_obj::HostResolver::probe);
    programs_with(inputs, input, profile, host, resolver.as_ref())
}

fn programs_with(
    inputs: &[Input],
    input: &InputOpts,
    profile: &KernelProfile,
    loaded_into: &KernelProfile,
    host: Option<&bpfcheck_obj::HostResolver>,
) -> Result<Vec<Program>> {
    // Objects that need no kernel types and fixtures without kernel
    // symbols do not read the kernel's BTF.
    let core = inputs
        .iter()
        .any(|i| matches!(i, Input::Object { object, .. } if object.needs_kernel_btf()));
    let symbols = inputs.iter().any(|i| matches!(i, Input::Fixture { .. }));
    let btf = if core { target_btf(profile)? } else { None };
    let symbol_btf = if symbols {
        target_btf(loaded_into)?
    } else {
        None
    };
    programs_for(inputs, input, btf, symbol_btf, host)
}

pub(crate) fn judge(p: &Program, profile: &KernelProfile, log_level: u32) -> Record {
    judge_observed(p, profile, log_level, false)
}

/// [`judge`], with the per-instruction processed counts when `counts`. A
/// rejection always carries its failing path: the program is verified a
/// second time, untimed, to record it (the walk is deterministic), so that
/// accepted programs pay nothing for it.
pub(crate) fn judge_observed(
    p: &Program,
    profile: &KernelProfile,
    log_level: u32,
    counts: bool,
) -> Record {
    let start = Instant::now();
    let observe = Observe {
        processed: counts,
        ..Observe::default()
    };
    let mut v = match &p.unprepared {
        Some(why) => Verification {
            verdict: Verdict::Unsupported,
            error: None,
            unsupported: Some(Unsupported {
                feature: why.clone(),
                insn: None,
            }),
            log: None,
            stats: None,
            observation: None,
        },
        None => verify_observed(&p.request, profile, &VerifyOptions { log_level }, observe),
    };
    let us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    if v.verdict == Verdict::Rejected && p.unprepared.is_none() {
        let again = verify_observed(
            &p.request,
            profile,
            &VerifyOptions::default(),
            Observe {
                path: true,
                ..Observe::default()
            },
        );
        if let Some(again) = again.observation {
            let obs = v.observation.get_or_insert_with(Default::default);
            obs.path = again.path;
            obs.stop_state = again.stop_state;
        }
    }
    from_verification(p, &profile.name, &v, log_level, us)
}

/// Every (program, kernel) pair of the inputs, the programs prepared for
/// each kernel (CO-RE differs), in input order.
pub(crate) fn prepare_all(
    inputs: &[Input],
    input: &InputOpts,
    profiles: &[KernelProfile],
) -> Result<Vec<Vec<Program>>> {
    profiles
        .iter()
        .map(|k| programs(inputs, input, k))
        .collect()
}

/// The pairs of [`prepare_all`]'s result, program-major.
pub(crate) fn pairs<'a>(
    per_kernel: &'a [Vec<Program>],
    profiles: &'a [KernelProfile],
) -> Vec<(&'a Program, &'a KernelProfile)> {
    let count = per_kernel.first().map_or(0, Vec::len);
    (0..count)
        .flat_map(|i| {
            per_kernel
                .iter()
                .zip(profiles)
                .filter_map(move |(progs, k)| progs.get(i).map(|p| (p, k)))
        })
        .collect()
}

/// Judges every pair in parallel, keeping their order, with a progress bar
/// on stderr when it is a terminal and there is more than one pair.
pub(crate) fn judge_all(
    pairs: &[(&Program, &KernelProfile)],
    log_level: u32,
    counts: bool,
) -> Vec<Record> {
    let bar = crate::progress::bar(pairs.len(), "judging");
    let records = pairs
        .par_iter()
        .map(|(p, k)| {
            let r = judge_observed(p, k, log_level, counts);
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    records
}

pub(crate) fn check(
    files: &[PathBuf],
    input: &InputOpts,
    kernels: &[String],
    log_level: u32,
    format: Format,
    color: ColorChoice,
    requests_out: Option<&Path>,
) -> Result<u8> {
    let profiles = profiles(kernels)?;
    let inputs = inputs(files, input)?;
    let per_kernel = prepare_all(&inputs, input, &profiles)?;
    if let (Some(path), Some(progs)) = (requests_out, per_kernel.first()) {
        write_requests(path, progs)?;
    }
    // Every (program, kernel) pair is independent: judge them in parallel,
    // keeping the records in input order.
    let pairs = pairs(&per_kernel, &profiles);
    let records = judge_all(&pairs, log_level, false);
    if format == Format::Text && profiles.len() > 1 && log_level == 0 {
        out_nonl!("{}", render_matrix(&records));
    } else {
        emit_explained(&records, &pairs, format, color, log_level > 0);
    }
    Ok(exit_status(&records))
}

/// The prepared programs as `{name, request}` records (programs that
/// could not be prepared are left out).
fn write_requests(path: &Path, progs: &[Program]) -> Result<()> {
    let list: Vec<serde_json::Value> = progs
        .iter()
        .filter(|p| p.unprepared.is_none())
        .map(|p| {
            let stem = p.object.file_stem().map_or_else(
                || p.object.display().to_string(),
                |s| s.to_string_lossy().into_owned(),
            );
            serde_json::json!({
                "name": format!("{stem}/{}", p.name),
                "request": p.request,
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&list)?;
    std::fs::write(path, text).with_context(|| path.display().to_string())
}

pub(crate) fn disasm(files: &[PathBuf], input: &InputOpts, kernel: &str) -> Result<u8> {
    let profile = resolve_profile(kernel)?;
    let progs = programs(&inputs(files, input)?, input, &profile)?;
    for (n, p) in progs.iter().enumerate() {
        if n > 0 {
            out!();
        }
        match &p.section {
            Some(s) => out!(
                "{}: {} (section {s}, {}):",
                p.object.display(),
                p.name,
                p.request.prog_type
            ),
            None => out!(
                "{}: {} ({}):",
                p.object.display(),
                p.name,
                p.request.prog_type
            ),
        }
        for line in disasm_program(&p.request.insns, profile.log_era, &profile) {
            out!("{line}");
        }
    }
    Ok(EXIT_ACCEPTED)
}

pub(crate) fn live_kernel() -> Result<bpfcheck_sys::Kernel> {
    bpfcheck_sys::Kernel::probe().map_err(|e| anyhow!("the running kernel cannot be asked: {e}"))
}

pub(crate) fn live_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "live".into(), |s| format!("live {}", s.trim()))
}

/// Loads one program into the running kernel and describes the answer.
fn ask_kernel(k: &bpfcheck_sys::Kernel, p: &Program, log_level: u32) -> Result<KernelSide> {
    ask_kernel_with_stats(k, p, log_level).map(|(side, _)| side)
}

/// [`ask_kernel`], with the statistics the kernel printed.
pub(crate) fn ask_kernel_with_stats(
    k: &bpfcheck_sys::Kernel,
    p: &Program,
    log_level: u32,
) -> Result<(KernelSide, Option<bpfcheck_uapi::VerifierStats>)> {
    // Always ask for the statistics lines so the kernel's own verification
    // time can be reported; they are removed again unless asked for.
    let opts = bpfcheck_sys::LoadOptions {
        log_level: log_level.max(LOG_LEVEL1) | LOG_STATS,
        ..Default::default()
    };
    let start = Instant::now();
    let out = k
        .load(&p.request, &opts)
        .with_context(|| format!("{}: {}", p.object.display(), p.name))?;
    let wall = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    let stats = out.stats.clone();
    let log = if log_level == 0 {
        None
    } else if log_level & LOG_STATS != 0 {
        Some(out.log.clone())
    } else {
        Some(strip_level4_lines(&out.log))
    };
    let side = KernelSide {
        verdict: if out.accepted { "accepted" } else { "rejected" }.to_owned(),
        errno: out.errno,
        error: out.error_line.clone(),
        error_insn: if out.accepted {
            None
        } else {
            last_insn_of_log(&out.log)
        },
        insns_processed: stats.as_ref().map(|s| s.insns_processed),
        max_states_per_insn: stats.as_ref().map(|s| s.max_states_per_insn),
        total_states: stats.as_ref().map(|s| s.total_states),
        peak_states: stats.as_ref().map(|s| s.peak_states),
        duration_us: Some(
            stats
                .as_ref()
                .and_then(|s| s.verification_time_us)
                .unwrap_or(wall),
        ),
        log,
    };
    Ok((side, stats))
}

pub(crate) fn kernel(
    files: &[PathBuf],
    input: &InputOpts,
    log_level: u32,
    format: Format,
    color: ColorChoice,
) -> Result<u8> {
    let k = live_kernel()?;
    // The running kernel relocates CO-RE against its own BTF.
    let host = resolve_profile("host")?;
    let progs = programs_for_host(&inputs(files, input)?, input, &host, &host)?;
    let release = live_release();
    let mut records = Vec::new();
    for p in &progs {
        let (side, stats) = ask_kernel_with_stats(&k, p, log_level)?;
        records.push(live_record(p, &release, side, stats));
    }
    let judged: Vec<(&Program, &KernelProfile)> = progs.iter().map(|p| (p, &host)).collect();
    // Level 1 is the default, asked for the error line: the log is shown
    // from level 2 on.
    emit_explained(&records, &judged, format, color, log_level > 1);
    Ok(exit_status(&records))
}

/// The running kernel's answer as a record of its own (`kernel`, `stats --live`).
pub(crate) fn live_record(
    p: &Program,
    release: &str,
    side: KernelSide,
    stats: Option<bpfcheck_uapi::VerifierStats>,
) -> Record {
    diagnose(
        Record {
            schema: bpfcheck_report::SCHEMA_VERSION,
            object: p.object.display().to_string(),
            program: p.name.clone(),
            section: p.section.clone(),
            prog_type: p.request.prog_type.to_string(),
            kernel: KernelField::Profile(release.to_owned()),
            profile: None,
            verdict: side.verdict,
            errno: side.errno,
            error: side.error,
            error_code: None,
            error_insn: side.error_insn,
            unsupported: None,
            insns_processed: side.insns_processed,
            max_states_per_insn: side.max_states_per_insn,
            total_states: side.total_states,
            peak_states: side.peak_states,
            duration_us: side.duration_us,
            stack_depth: stats.and_then(|s| s.stack_depth),
            log: side.log,
            agree: None,
            source: None,
            hint: None,
            trace: None,
            processed_per_insn: None,
        },
        &p.request,
    )
}

/// The corpus report `diff --report` writes.
#[derive(serde::Serialize)]
struct CorpusReport<'a> {
    schema: u32,
    kernel_release: String,
    profile: &'a str,
    summary: &'a Summary,
    records: &'a [Record],
}

pub(crate) fn diff(
    files: &[PathBuf],
    input: &InputOpts,
    kernel: &str,
    log_level: u32,
    format: Format,
    report: Option<&Path>,
) -> Result<u8> {
    let profile = resolve_profile(kernel)?;
    let k = live_kernel()?;
    // Kernel symbols are the running kernel's: it loads the programs.
    let host = resolve_profile("host")?;
    let progs = programs_for_host(&inputs(files, input)?, input, &profile, &host)?;
    let log_level = log_level.max(LOG_LEVEL1);
    // Both sides of every program, in parallel across programs; the order of
    // the records stays the order of the inputs.
    let records: Vec<Record> = progs
        .par_iter()
        .map(|p| {
            let ours = judge(p, &profile, log_level);
            ask_kernel(&k, p, log_level).map(|theirs| into_diff(ours, theirs))
        })
        .collect::<Result<_>>()?;
    match report {
        Some(path) => {
            let summary = Summary::of(&records);
            let doc = CorpusReport {
                schema: bpfcheck_report::SCHEMA_VERSION,
                kernel_release: live_release(),
                profile: &profile.name,
                summary: &summary,
                records: &records,
            };
            let json = serde_json::to_string_pretty(&doc).context("cannot serialise the report")?;
            std::fs::write(path, json + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?;
            out_nonl!("{}", summary.render());
        }
        None => emit(&records, format, true),
    }
    let all_agree = records
        .iter()
        .all(|r| r.agree.is_some_and(|a| a.verdict && a.error));
    Ok(if all_agree {
        EXIT_ACCEPTED
    } else {
        EXIT_REJECTED
    })
}
