//! `bpfcheck stats` and `bpfcheck compare`: verification cost per program,
//! and its change between two runs.

use std::{collections::BTreeMap, path::Path, path::PathBuf};

use anyhow::{Context, Result, bail};
use bpfcheck_report::{
    Filter, Record, SourceLineCost, StatsField, StatsFormat, compare, processed_insns,
    render_compare, render_stats, render_top_lines, sort_records,
};
use bpfcheck_verifier::{LOG_LEVEL2, LOG_STATS};

use crate::{
    commands::{
        EXIT_ACCEPTED, ask_kernel_with_stats, exit_status, inputs, judge_all, live_kernel,
        live_record, live_release, pairs, prepare_all, profiles, resolve_profile,
    },
    input::{InputOpts, Program},
    source::LineTable,
};

/// Options of `stats`.
#[derive(Debug)]
pub(crate) struct StatsOpts {
    pub(crate) kernels: Vec<String>,
    pub(crate) sort: Option<String>,
    pub(crate) filters: Vec<String>,
    pub(crate) format: StatsFormat,
    pub(crate) top_src_lines: Option<usize>,
    pub(crate) live: bool,
}

/// How often each instruction was processed, from a level-2 log: at that
/// level the verifier prints every instruction it processes, on every path,
/// and never rewinds the log.
fn processed_per_insn(log: &str, len: usize) -> Vec<u64> {
    let mut counts = vec![0; len];
    for step in processed_insns(log) {
        if let Some(c) = usize::try_from(step).ok().and_then(|i| counts.get_mut(i)) {
            *c += 1;
        }
    }
    counts
}

/// Adds one program's per-instruction counts to the per-line totals.
fn add_line_costs(
    totals: &mut BTreeMap<(String, u32), SourceLineCost>,
    p: &Program,
    counts: &[u64],
) {
    let Some(table) = LineTable::of(&p.request) else {
        return;
    };
    for (loc, n) in table.all(counts.len()).into_iter().zip(counts) {
        let Some(loc) = loc else { continue };
        if *n == 0 {
            continue;
        }
        let e = totals
            .entry((loc.file.clone(), loc.line))
            .or_insert_with(|| SourceLineCost {
                file: loc.file.clone(),
                line: loc.line,
                text: loc.text.clone(),
                insns: 0,
            });
        e.insns += n;
    }
}

pub(crate) fn stats(files: &[PathBuf], input: &InputOpts, o: &StatsOpts) -> Result<u8> {
    let sort = o
        .sort
        .as_deref()
        .map(StatsField::from_name)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let filters: Vec<Filter> = o
        .filters
        .iter()
        .map(|f| f.parse().map_err(anyhow::Error::msg))
        .collect::<Result<_>>()?;
    // Statistics (stack depth, time) always. Per-line costs come from the
    // verifier's per-instruction counts when bpfcheck judges, and from a
    // level-2 log, which shows every processed instruction, when the
    // running kernel does.
    let lines = o.top_src_lines.is_some();
    let log_level = LOG_STATS | if lines && o.live { LOG_LEVEL2 } else { 0 };
    let inputs = inputs(files, input)?;
    let (mut records, judged): (Vec<Record>, Vec<Program>) = if o.live {
        let k = live_kernel()?;
        let host = resolve_profile("host")?;
        let progs = crate::commands::programs_for_host(&inputs, input, &host, &host)?;
        let release = live_release();
        let bar = crate::progress::bar(progs.len(), "loading");
        let mut records = Vec::new();
        for p in &progs {
            let (side, stats) = ask_kernel_with_stats(&k, p, log_level)?;
            records.push(live_record(p, &release, side, stats));
            bar.inc(1);
        }
        bar.finish_and_clear();
        (records, progs)
    } else {
        let profiles = profiles(&o.kernels)?;
        let per_kernel = prepare_all(&inputs, input, &profiles)?;
        let pairs = pairs(&per_kernel, &profiles);
        let records = judge_all(&pairs, log_level, lines);
        let progs = pairs.iter().map(|(p, _)| (*p).clone()).collect();
        (records, progs)
    };
    let mut top = BTreeMap::new();
    let mut total = 0;
    let mut without_log = 0;
    if o.top_src_lines.is_some() {
        for (r, p) in records.iter().zip(&judged) {
            let counts = r.processed_per_insn.clone().or_else(|| {
                r.log
                    .as_deref()
                    .map(|log| processed_per_insn(log, p.request.insns.len()))
            });
            match counts {
                Some(counts) => {
                    total += counts.iter().sum::<u64>();
                    add_line_costs(&mut top, p, &counts);
                }
                None => without_log += 1,
            }
        }
    }
    let status = exit_status(&records);
    records.retain(|r| filters.iter().all(|f| f.matches(r)));
    if let Some(field) = sort {
        sort_records(&mut records, field);
    }
    // The logs and counts served the line costs; they are not part of the
    // table.
    for r in &mut records {
        r.log = None;
        r.processed_per_insn = None;
    }
    out_nonl!("{}", render_stats(&records, o.format));
    if let Some(n) = o.top_src_lines {
        let mut lines: Vec<SourceLineCost> = top.into_values().collect();
        lines.sort_by(|a, b| {
            b.insns
                .cmp(&a.insns)
                .then_with(|| (&a.file, a.line).cmp(&(&b.file, b.line)))
        });
        lines.truncate(n);
        out!("\nsource lines where the verifier spends its work ({total} processed insns):");
        out_nonl!("{}", render_top_lines(&lines, total));
        if without_log > 0 {
            eprintln!(
                "bpfcheck: {without_log} program(s) have no per-instruction counts (bpfcheck could not judge them): use --live to count with the running kernel"
            );
        }
    }
    Ok(status)
}

fn read_records(path: &Path) -> Result<Vec<Record>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let records: Vec<Record> = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not the JSON output of `bpfcheck check --format json`",
            path.display()
        )
    })?;
    Ok(records)
}

pub(crate) fn compare_files(a: &Path, b: &Path, format: StatsFormat) -> Result<u8> {
    let (ra, rb) = (read_records(a)?, read_records(b)?);
    if ra.is_empty() && rb.is_empty() {
        bail!("both files hold no records");
    }
    out_nonl!("{}", render_compare(&compare(&ra, &rb), format));
    Ok(EXIT_ACCEPTED)
}
