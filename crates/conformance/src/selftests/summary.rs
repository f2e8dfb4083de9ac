//! The figures of a selftests run and their tables.

use std::collections::BTreeMap;
use std::fmt::Write;

use bpfcheck_report::{Record, Summary};
use serde::Serialize;

use super::corpus::{ObjectReport, Status};

/// Per-file figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FileTally {
    /// Programs in the object.
    pub programs: u64,
    /// Programs with `__success` / `__failure` / `__msg`.
    pub annotated: u64,
    /// Annotated programs the kernel judged.
    pub tested: u64,
    /// … whose kernel verdict is the annotated one.
    pub kernel_verdict_ok: u64,
    /// … whose kernel verdict and messages are as annotated.
    pub kernel_all_ok: u64,
    /// … on which bpfcheck gives the kernel's verdict.
    pub bpfcheck_verdict_ok: u64,
    /// … on which bpfcheck said `unsupported`.
    pub bpfcheck_unsupported: u64,
}

/// Everything a run found, for the JSON report and the tables.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CorpusReport {
    /// Objects read.
    pub objects: u64,
    /// Objects that could not be read.
    pub objects_unreadable: u64,
    /// Programs in all objects.
    pub programs: u64,
    /// Programs with `__success` / `__failure` / `__msg` annotations.
    pub annotated: u64,
    /// Programs by status.
    pub by_status: BTreeMap<String, u64>,
    /// Programs with CO-RE relocations among those tested.
    pub tested_with_core_relos: u64,
    /// Kernel verdict as annotated, among those tested.
    pub kernel_verdict_ok: u64,
    /// Kernel verdict and every `__msg` as annotated.
    pub kernel_all_ok: u64,
    /// `object:program: what` for each kernel/annotation difference.
    pub kernel_vs_annotation_differences: Vec<String>,
    /// Programs bpfcheck judged (not unsupported), among those tested
    /// or refused by the kernel before verification.
    pub bpfcheck_judged: u64,
    /// … whose bpfcheck verdict is the annotated one.
    pub bpfcheck_verdict_ok: u64,
    /// … whose bpfcheck verdict and messages are as annotated.
    pub bpfcheck_all_ok: u64,
    /// bpfcheck against the kernel, over the tested programs.
    pub bpfcheck_vs_kernel: Summary,
    /// Per object file.
    pub by_file: BTreeMap<String, FileTally>,
    /// Why requests could not be built or loads failed, by reason.
    pub not_loaded: BTreeMap<String, u64>,
    /// Kernel rejections of programs with line info.
    pub diagnosed: u64,
    /// Of those, the diagnostic names the failing source line.
    pub diagnosed_source_line: u64,
    /// Of those, the diagnostic gives a causal account.
    pub diagnosed_causal: u64,
    /// Rejections without a causal account, by catalogue class.
    pub no_causal_by_class: BTreeMap<String, u64>,
    /// Programs bpfcheck judged whose level-2 logs were compared …
    pub log_level2_compared: u64,
    /// … and were identical to the kernel's.
    pub log_level2_identical: u64,
    /// The judged programs whose level-2 log differs (or is not given).
    pub log_level2_differences: Vec<String>,
    /// Every diagnosed rejection by what bpfcheck's account rests on (or
    /// why it has none).
    pub diagnosed_by_basis: BTreeMap<String, u64>,
    /// Rejections with a causal account, by catalogue class.
    pub causal_by_class: BTreeMap<String, u64>,
}

/// The reason of a `no_request` / `load_failed` program without its
/// names (quoted with `` ` `` or `'`) and numbers, for counting. Of a
/// BTF load's kernel log (`[N] FUNC name type_id=N Invalid arg#1`) only
/// the complaint after the type is kept.
fn reason_class(detail: &str) -> String {
    let owned;
    let d = match detail.split_once("; kernel log: ") {
        Some((head, log)) => {
            let tail = log
                .rsplit_once(" type_id=")
                .and_then(|(_, t)| t.split_once(' '))
                .map_or(log, |(_, t)| t);
            owned = format!("{head}: {tail}");
            owned.as_str()
        }
        None => detail,
    };
    let mut out = String::with_capacity(d.len());
    let mut quote: Option<char> = None;
    for c in d.chars() {
        match (quote, c) {
            (None, '`' | '\'') => {
                quote = Some(c);
                out.push_str("<name>");
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, c) => out.push(c),
        }
    }
    bpfcheck_report::message_class(&out)
}

impl CorpusReport {
    /// Summarises object reports.
    pub fn of(objects: &[ObjectReport]) -> Self {
        let mut s = Self::default();
        let mut records: Vec<Record> = Vec::new();
        for o in objects {
            s.objects += 1;
            if o.error.is_some() {
                s.objects_unreadable += 1;
            }
            let file = s.by_file.entry(o.object.clone()).or_default();
            for p in &o.programs {
                s.programs += 1;
                file.programs += 1;
                *s.by_status.entry(p.status.name().to_owned()).or_default() += 1;
                if p.annotation.is_some() {
                    s.annotated += 1;
                    file.annotated += 1;
                }
                if matches!(p.status, Status::NoRequest | Status::LoadFailed)
                    && let Some(d) = &p.detail
                {
                    *s.not_loaded.entry(reason_class(d)).or_default() += 1;
                }
                if let Some(b) = &p.bpfcheck_vs_annotation {
                    s.bpfcheck_judged += 1;
                    s.bpfcheck_verdict_ok += u64::from(b.verdict);
                    s.bpfcheck_all_ok += u64::from(b.all());
                }
                if p.status != Status::Tested {
                    continue;
                }
                file.tested += 1;
                s.tested_with_core_relos += u64::from(p.core_relos > 0);
                if let Some(k) = &p.kernel_vs_annotation {
                    s.kernel_verdict_ok += u64::from(k.verdict);
                    s.kernel_all_ok += u64::from(k.all());
                    file.kernel_verdict_ok += u64::from(k.verdict);
                    file.kernel_all_ok += u64::from(k.all());
                    if !k.all() {
                        let what = if !k.verdict {
                            let kv = p
                                .record
                                .as_ref()
                                .and_then(|r| r.live())
                                .map_or("?", |k| k.verdict.as_str());
                            let err = p
                                .record
                                .as_ref()
                                .and_then(|r| r.live())
                                .and_then(|k| k.error.clone())
                                .map_or_else(String::new, |e| format!(": {e}"));
                            format!("kernel {kv}{err}")
                        } else {
                            format!(
                                "__msg not found: {}",
                                k.first_unmatched.as_deref().unwrap_or("?")
                            )
                        };
                        s.kernel_vs_annotation_differences
                            .push(format!("{}:{}: {what}", o.object, p.program));
                    }
                }
                if let Some(d) = &p.diagnostic {
                    s.diagnosed += 1;
                    s.diagnosed_source_line += u64::from(d.source_line);
                    s.diagnosed_causal += u64::from(d.causal);
                    let class = d.class.clone().unwrap_or_else(|| "(no class)".into());
                    let by_class = if d.causal {
                        &mut s.causal_by_class
                    } else {
                        &mut s.no_causal_by_class
                    };
                    *by_class.entry(class).or_default() += 1;
                    *s.diagnosed_by_basis
                        .entry(d.basis.name().to_owned())
                        .or_default() += 1;
                }
                if let Some(same) = p.log_level2 {
                    s.log_level2_compared += 1;
                    s.log_level2_identical += u64::from(same);
                    if !same {
                        s.log_level2_differences
                            .push(format!("{}:{}", o.object, p.program));
                    }
                }
                if let Some(r) = &p.record {
                    file.bpfcheck_verdict_ok += u64::from(r.agree.is_some_and(|a| a.verdict));
                    file.bpfcheck_unsupported += u64::from(r.verdict == "unsupported");
                    records.push(r.clone());
                }
            }
        }
        s.bpfcheck_vs_kernel = Summary::of(&records);
        s
    }

    /// The tables, as plain text.
    pub fn render(&self) -> String {
        let pct = |n: u64, d: u64| {
            if d == 0 {
                "-".to_owned()
            } else {
                format!("{:.1}%", 100.0 * n as f64 / d as f64)
            }
        };
        let mut out = String::new();
        let tested = self.by_status.get("tested").copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "selftests corpus: {} objects ({} unreadable), {} programs, {} annotated",
            self.objects, self.objects_unreadable, self.programs, self.annotated
        );
        let _ = writeln!(out, "\nprograms by status:");
        for (k, v) in &self.by_status {
            let _ = writeln!(out, "  {k:<22} {v:>6}");
        }
        if !self.not_loaded.is_empty() {
            let _ = writeln!(out, "\nnot loaded (no request / load failed), by reason:");
            let mut v: Vec<_> = self.not_loaded.iter().collect();
            v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            for (k, n) in v {
                let _ = writeln!(out, "  {n:>5}  {k}");
            }
        }
        let _ = writeln!(
            out,
            "\nkernel vs annotation ({tested} tested, {} with CO-RE relocations):\n  \
             verdict as annotated      {:>5}  {}\n  \
             verdict and __msg         {:>5}  {}",
            self.tested_with_core_relos,
            self.kernel_verdict_ok,
            pct(self.kernel_verdict_ok, tested),
            self.kernel_all_ok,
            pct(self.kernel_all_ok, tested),
        );
        for d in &self.kernel_vs_annotation_differences {
            let _ = writeln!(out, "    {d}");
        }
        let _ = writeln!(
            out,
            "\nbpfcheck vs annotation ({} judged, i.e. not unsupported):\n  \
             verdict as annotated      {:>5}  {}\n  \
             verdict and __msg         {:>5}  {}",
            self.bpfcheck_judged,
            self.bpfcheck_verdict_ok,
            pct(self.bpfcheck_verdict_ok, self.bpfcheck_judged),
            self.bpfcheck_all_ok,
            pct(self.bpfcheck_all_ok, self.bpfcheck_judged),
        );
        let _ = writeln!(
            out,
            "\ndiagnostics of the kernel's rejections with line info ({}):\n  \
             names the source line     {:>5}  {}\n  \
             causal account            {:>5}  {}",
            self.diagnosed,
            self.diagnosed_source_line,
            pct(self.diagnosed_source_line, self.diagnosed),
            self.diagnosed_causal,
            pct(self.diagnosed_causal, self.diagnosed),
        );
        let _ = writeln!(out, "  by what bpfcheck's account rests on:");
        for (basis, n) in &self.diagnosed_by_basis {
            let _ = writeln!(out, "    {n:>5}  {basis}");
        }
        for (class, n) in &self.causal_by_class {
            let _ = writeln!(out, "    causal account:    {n:>4}  {class}");
        }
        for (class, n) in &self.no_causal_by_class {
            let _ = writeln!(out, "    no causal account: {n:>4}  {class}");
        }
        let _ = writeln!(
            out,
            "\nlevel-2 logs of the programs bpfcheck judges ({}):\n  \
             identical to the kernel's {:>5}  {}",
            self.log_level2_compared,
            self.log_level2_identical,
            pct(self.log_level2_identical, self.log_level2_compared),
        );
        let _ = writeln!(out, "\nbpfcheck vs kernel (tested programs):");
        out.push_str(&self.bpfcheck_vs_kernel.render());
        let _ = writeln!(
            out,
            "\nper file (files with annotated programs):\n  \
             {:<44} {:>5} {:>5} {:>6} {:>7} {:>7} {:>7} {:>6}",
            "file", "progs", "annot", "tested", "k=annot", "k+msgs", "b=k", "unsupp"
        );
        for (f, t) in self.by_file.iter().filter(|(_, t)| t.annotated > 0) {
            let _ = writeln!(
                out,
                "  {f:<44} {:>5} {:>5} {:>6} {:>7} {:>7} {:>7} {:>6}",
                t.programs,
                t.annotated,
                t.tested,
                t.kernel_verdict_ok,
                t.kernel_all_ok,
                t.bpfcheck_verdict_ok,
                t.bpfcheck_unsupported
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::reason_class;

    #[test]
    fn reasons_lose_names_and_numbers() {
        assert_eq!(
            reason_class("BPF_MAP_CREATE (map 1 `ringbuf`): EINVAL (22): Invalid argument"),
            "BPF_MAP_CREATE (map N <name>): EINVAL (22): Invalid argument"
        );
        assert_eq!(
            reason_class(
                "BPF_BTF_LOAD (program BTF): EINVAL (22): Invalid argument; kernel log: \
                 [283] FUNC f type_id=281 Invalid arg#1"
            ),
            "BPF_BTF_LOAD (program BTF): EINVAL (22): Invalid argument: Invalid arg#1"
        );
        assert_eq!(
            reason_class("extern 'bpf_kfunc_x' (.ksyms) is not resolved"),
            "extern <name> (.ksyms) is not resolved"
        );
    }
}
