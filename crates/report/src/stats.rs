//! Verification cost per program in the spirit of veristat: tables of
//! `check` records, sorting and filtering them, and comparing two runs
//! (two builds, or two kernels).

use std::{cmp::Ordering, fmt::Write};

use serde::Serialize;

use crate::record::Record;

/// The kernel's complexity limit (`BPF_COMPLEXITY_LIMIT_INSNS`).
pub const INSN_LIMIT: u64 = 1_000_000;
/// Share of [`INSN_LIMIT`] from which a program is flagged as close to it.
pub const NEAR_LIMIT_PERCENT: u64 = 80;

/// A column of the statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsField {
    /// The input file.
    Object,
    /// Program name.
    Program,
    /// Program type.
    ProgType,
    /// Kernel profile.
    Kernel,
    /// Verdict.
    Verdict,
    /// Processed instructions.
    Insns,
    /// Total states.
    States,
    /// Peak states.
    PeakStates,
    /// Largest per-instruction state count.
    MaxStatesPerInsn,
    /// Stack depth of the program (all subprograms summed).
    Stack,
    /// Verification time.
    Duration,
}

impl StatsField {
    /// Every field with its names (the first is the canonical one).
    const NAMES: &[(Self, &[&str])] = &[
        (Self::Object, &["object", "file"]),
        (Self::Program, &["program", "prog", "prog_name"]),
        (Self::ProgType, &["prog_type", "type"]),
        (Self::Kernel, &["kernel"]),
        (Self::Verdict, &["verdict"]),
        (Self::Insns, &["insns", "insns_processed"]),
        (Self::States, &["states", "total_states"]),
        (Self::PeakStates, &["peak_states", "peak"]),
        (
            Self::MaxStatesPerInsn,
            &["max_states_per_insn", "max_states"],
        ),
        (Self::Stack, &["stack", "stack_depth"]),
        (Self::Duration, &["duration", "duration_us", "time"]),
    ];

    /// The field of this name.
    pub fn from_name(name: &str) -> Result<Self, String> {
        Self::NAMES
            .iter()
            .find(|(_, names)| names.contains(&name))
            .map(|(f, _)| *f)
            .ok_or_else(|| {
                let all: Vec<&str> = Self::NAMES.iter().map(|(_, n)| n[0]).collect();
                format!("unknown field `{name}` (fields: {})", all.join(", "))
            })
    }

    fn value(self, r: &Record) -> Value<'_> {
        match self {
            Self::Object => Value::Text(&r.object),
            Self::Program => Value::Text(&r.program),
            Self::ProgType => Value::Text(&r.prog_type),
            Self::Kernel => Value::Text(r.profile_name()),
            Self::Verdict => Value::Text(&r.verdict),
            Self::Insns => Value::Num(r.insns_processed),
            Self::States => Value::Num(r.total_states),
            Self::PeakStates => Value::Num(r.peak_states),
            Self::MaxStatesPerInsn => Value::Num(r.max_states_per_insn),
            Self::Stack => Value::Num(stack_total(r)),
            Self::Duration => Value::Num(r.duration_us),
        }
    }
}

fn stack_total(r: &Record) -> Option<u64> {
    r.stack_depth
        .as_ref()
        .map(|d| d.iter().map(|&x| u64::from(x)).sum())
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Value<'a> {
    Num(Option<u64>),
    Text(&'a str),
}

/// Sorts records by a field; numbers largest first, text in order.
pub fn sort_records(records: &mut [Record], field: StatsField) {
    records.sort_by(|a, b| match (field.value(a), field.value(b)) {
        (Value::Num(x), Value::Num(y)) => y.cmp(&x),
        (x, y) => x.cmp(&y),
    });
}

/// A filter `FIELD OP VALUE`; OP is one of `= != < <= > >= ~` (`~`: contains).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    field: StatsField,
    op: &'static str,
    value: String,
}

impl std::str::FromStr for Filter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        // Two-character operators first, so that `<=` is not read as `<`.
        const OPS: [&str; 7] = ["!=", "<=", ">=", "=", "<", ">", "~"];
        let (pos, op) = OPS
            .iter()
            .filter_map(|op| s.find(op).map(|p| (p, *op)))
            .min_by_key(|&(p, op)| (p, std::cmp::Reverse(op.len())))
            .ok_or_else(|| {
                format!("filter `{s}`: expected FIELD OP VALUE with OP one of = != < <= > >= ~")
            })?;
        let field = StatsField::from_name(s[..pos].trim())?;
        let value = s[pos + op.len()..].trim().to_owned();
        if matches!(field.value_kind(), Kind::Num) && op != "~" && value.parse::<u64>().is_err() {
            return Err(format!("filter `{s}`: `{value}` is not a number"));
        }
        Ok(Self { field, op, value })
    }
}

enum Kind {
    Num,
    Text,
}

impl StatsField {
    fn value_kind(self) -> Kind {
        match self {
            Self::Object | Self::Program | Self::ProgType | Self::Kernel | Self::Verdict => {
                Kind::Text
            }
            _ => Kind::Num,
        }
    }
}

impl Filter {
    /// Whether the record passes. A missing number passes no comparison.
    pub fn matches(&self, r: &Record) -> bool {
        let ord = |o: Ordering| match self.op {
            "=" => o == Ordering::Equal,
            "!=" => o != Ordering::Equal,
            "<" => o == Ordering::Less,
            "<=" => o != Ordering::Greater,
            ">" => o == Ordering::Greater,
            _ => o != Ordering::Less,
        };
        match self.field.value(r) {
            Value::Text(t) if self.op == "~" => t.contains(&self.value),
            Value::Text(t) => ord(t.cmp(self.value.as_str())),
            Value::Num(n) => {
                let Some(n) = n else { return false };
                if self.op == "~" {
                    return n.to_string().contains(&self.value);
                }
                self.value.parse::<u64>().is_ok_and(|v| ord(n.cmp(&v)))
            }
        }
    }
}

/// Output format of `stats` and `compare`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsFormat {
    /// Aligned columns.
    Table,
    /// Comma-separated values with a header.
    Csv,
    /// A JSON array.
    Json,
}

#[derive(Serialize)]
struct StatsRow<'a> {
    object: &'a str,
    program: &'a str,
    prog_type: &'a str,
    kernel: &'a str,
    verdict: &'a str,
    insns_processed: Option<u64>,
    total_states: Option<u64>,
    peak_states: Option<u64>,
    max_states_per_insn: Option<u64>,
    stack_depth: Option<u64>,
    duration_us: Option<u64>,
}

impl<'a> StatsRow<'a> {
    fn of(r: &'a Record) -> Self {
        Self {
            object: &r.object,
            program: &r.program,
            prog_type: &r.prog_type,
            kernel: r.profile_name(),
            verdict: &r.verdict,
            insns_processed: r.insns_processed,
            total_states: r.total_states,
            peak_states: r.peak_states,
            max_states_per_insn: r.max_states_per_insn,
            stack_depth: stack_total(r),
            duration_us: r.duration_us,
        }
    }

    fn cells(&self) -> [String; 10] {
        let n = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        [
            format!("{}:{}", self.object, self.program),
            self.prog_type.to_owned(),
            self.kernel.to_owned(),
            self.verdict.to_owned(),
            n(self.insns_processed),
            n(self.total_states),
            n(self.peak_states),
            n(self.max_states_per_insn),
            n(self.stack_depth),
            n(self.duration_us),
        ]
    }
}

const HEADER: [&str; 10] = [
    "program", "type", "kernel", "verdict", "insns", "states", "peak", "max/insn", "stack",
    "time_us",
];

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Renders rows of cells as aligned columns; the columns `right` says are
/// right aligned (numbers), the others left aligned.
pub(crate) fn table(
    header: &[&str],
    rows: &[Vec<String>],
    right: &dyn Fn(usize) -> bool,
) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            if right(i) {
                let _ = write!(s, "{c:>w$}");
            } else {
                let _ = write!(s, "{c:<w$}");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut out, &mut header.iter().copied());
    for row in rows {
        line(&mut out, &mut row.iter().map(String::as_str));
    }
    out
}

/// The statistics of `check` records.
pub fn render_stats(records: &[Record], format: StatsFormat) -> String {
    let rows: Vec<StatsRow<'_>> = records.iter().map(StatsRow::of).collect();
    match format {
        StatsFormat::Json => {
            let mut s = serde_json::to_string_pretty(&rows).unwrap_or_default();
            s.push('\n');
            s
        }
        StatsFormat::Csv => {
            let mut s = HEADER.join(",");
            s.push('\n');
            for r in &rows {
                let cells: Vec<String> = r.cells().iter().map(|c| csv_cell(c)).collect();
                s.push_str(&cells.join(","));
                s.push('\n');
            }
            s
        }
        StatsFormat::Table => {
            let cells: Vec<Vec<String>> = rows.iter().map(|r| r.cells().to_vec()).collect();
            table(&HEADER, &cells, &|i| i >= 4)
        }
    }
}

/// One program in two runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProgramChange {
    /// `object:program`.
    pub program: String,
    /// Kernel profile (of run A; `->` joined when the two differ).
    pub kernel: String,
    /// Verdict in A and B (`-` when the program is absent from a run).
    pub verdict: (String, String),
    /// Processed instructions in A and B.
    pub insns: (Option<u64>, Option<u64>),
    /// Total states in A and B.
    pub states: (Option<u64>, Option<u64>),
    /// Verification time in A and B.
    pub duration_us: (Option<u64>, Option<u64>),
    /// B's processed instructions reach [`NEAR_LIMIT_PERCENT`] of the limit.
    pub near_limit: bool,
}

impl ProgramChange {
    /// Whether anything but time changed.
    pub fn changed(&self) -> bool {
        self.verdict.0 != self.verdict.1
            || self.insns.0 != self.insns.1
            || self.states.0 != self.states.1
    }
}

/// Pairs the programs of two runs. Programs are matched by object file
/// name (not directory, so that two build trees compare), program name,
/// and — when both runs hold several kernels — by kernel; when each run is
/// of one kernel, the kernels may differ (comparing kernels).
pub fn compare(a: &[Record], b: &[Record]) -> Vec<ProgramChange> {
    let base = |r: &Record| {
        let name = std::path::Path::new(&r.object)
            .file_name()
            .map_or_else(|| r.object.clone(), |n| n.to_string_lossy().into_owned());
        format!("{name}:{}", r.program)
    };
    let kernels = |rs: &[Record]| {
        let mut k: Vec<&str> = rs.iter().map(Record::profile_name).collect();
        k.sort_unstable();
        k.dedup();
        k.len()
    };
    let by_kernel = kernels(a) > 1 || kernels(b) > 1;
    let key = |r: &Record| {
        if by_kernel {
            format!("{}@{}", base(r), r.profile_name())
        } else {
            base(r)
        }
    };
    let mut out: Vec<ProgramChange> = Vec::new();
    let mut seen_b = vec![false; b.len()];
    for ra in a {
        let k = key(ra);
        let found = b.iter().position(|rb| key(rb) == k);
        let rb = found.map(|i| {
            seen_b[i] = true;
            &b[i]
        });
        out.push(change(base(ra), Some(ra), rb));
    }
    for (rb, seen) in b.iter().zip(seen_b) {
        if !seen {
            out.push(change(base(rb), None, Some(rb)));
        }
    }
    out
}

fn change(program: String, a: Option<&Record>, b: Option<&Record>) -> ProgramChange {
    let verdict = |r: Option<&Record>| r.map_or_else(|| "-".to_owned(), |r| r.verdict.clone());
    let num = |f: fn(&Record) -> Option<u64>| (a.and_then(f), b.and_then(f));
    let kernel = match (a.map(Record::profile_name), b.map(Record::profile_name)) {
        (Some(x), Some(y)) if x != y => format!("{x}->{y}"),
        (Some(x), _) | (None, Some(x)) => x.to_owned(),
        (None, None) => String::new(),
    };
    let insns = num(|r| r.insns_processed);
    ProgramChange {
        program,
        kernel,
        verdict: (verdict(a), verdict(b)),
        insns,
        states: num(|r| r.total_states),
        duration_us: num(|r| r.duration_us),
        near_limit: insns
            .1
            .is_some_and(|n| n * 100 >= INSN_LIMIT * NEAR_LIMIT_PERCENT),
    }
}

/// `A -> B (+x.y%)`.
fn delta(pair: (Option<u64>, Option<u64>)) -> String {
    match pair {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => {
            let pct = if a == 0 {
                "new".to_owned()
            } else {
                format!("{:+.1}%", (b as f64 - a as f64) * 100.0 / a as f64)
            };
            format!("{a} -> {b} ({pct})")
        }
        (a, b) => format!(
            "{} -> {}",
            a.map_or_else(|| "-".to_owned(), |v| v.to_string()),
            b.map_or_else(|| "-".to_owned(), |v| v.to_string())
        ),
    }
}

/// The comparison as a table (or CSV/JSON), changed programs marked `*`,
/// programs near the complexity limit marked `!` and listed after it.
pub fn render_compare(changes: &[ProgramChange], format: StatsFormat) -> String {
    if format == StatsFormat::Json {
        let mut s = serde_json::to_string_pretty(changes).unwrap_or_default();
        s.push('\n');
        return s;
    }
    let header = [
        "", "program", "kernel", "verdict", "insns", "states", "time_us",
    ];
    let rows: Vec<Vec<String>> = changes
        .iter()
        .map(|c| {
            let verdict = if c.verdict.0 == c.verdict.1 {
                c.verdict.0.clone()
            } else {
                format!("{} -> {}", c.verdict.0, c.verdict.1)
            };
            let mark = match (c.changed(), c.near_limit) {
                (_, true) => "!",
                (true, false) => "*",
                (false, false) => "",
            };
            vec![
                mark.to_owned(),
                c.program.clone(),
                c.kernel.clone(),
                verdict,
                delta(c.insns),
                delta(c.states),
                delta(c.duration_us),
            ]
        })
        .collect();
    if format == StatsFormat::Csv {
        let mut s = "changed,program,kernel,verdict_a,verdict_b,insns_a,insns_b,states_a,states_b,time_us_a,time_us_b,near_limit\n".to_owned();
        let n = |v: Option<u64>| v.map_or_else(String::new, |v| v.to_string());
        for c in changes {
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{},{},{},{},{}",
                c.changed(),
                csv_cell(&c.program),
                csv_cell(&c.kernel),
                c.verdict.0,
                c.verdict.1,
                n(c.insns.0),
                n(c.insns.1),
                n(c.states.0),
                n(c.states.1),
                n(c.duration_us.0),
                n(c.duration_us.1),
                c.near_limit
            );
        }
        return s;
    }
    let mut out = table(&header, &rows, &|i| i >= 4);
    let changed = changes.iter().filter(|c| c.changed()).count();
    let _ = writeln!(
        out,
        "\n{changed} of {} programs changed (`*`)",
        changes.len()
    );
    let near: Vec<&ProgramChange> = changes.iter().filter(|c| c.near_limit).collect();
    if !near.is_empty() {
        let _ = writeln!(
            out,
            "{} programs at or above {NEAR_LIMIT_PERCENT}% of the {INSN_LIMIT}-instruction limit (`!`):",
            near.len()
        );
        for c in near {
            let _ = writeln!(out, "  {} ({} insns)", c.program, c.insns.1.unwrap_or(0));
        }
    }
    out
}

/// Processed instructions attributed to one source line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceLineCost {
    /// File as recorded.
    pub file: String,
    /// Line number.
    pub line: u32,
    /// Line text, when known.
    pub text: Option<String>,
    /// Instructions processed on this line, summed over the programs.
    pub insns: u64,
}

/// The `n` most expensive source lines as a table.
pub fn render_top_lines(lines: &[SourceLineCost], total: u64) -> String {
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            let pct = if total == 0 {
                "-".to_owned()
            } else {
                format!("{:.1}%", l.insns as f64 * 100.0 / total as f64)
            };
            vec![
                l.insns.to_string(),
                pct,
                format!("{}:{}", l.file, l.line),
                l.text
                    .as_deref()
                    .map(|t| t.trim().replace('\t', " "))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    table(&["insns", "share", "source", "line"], &rows, &|i| i < 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{KernelField, SCHEMA_VERSION};

    pub(crate) fn rec(program: &str, kernel: &str, verdict: &str, insns: u64) -> Record {
        Record {
            schema: SCHEMA_VERSION,
            object: "build/a.o".into(),
            program: program.into(),
            section: None,
            prog_type: "xdp".into(),
            kernel: KernelField::Profile(kernel.into()),
            profile: None,
            verdict: verdict.into(),
            errno: None,
            error: None,
            error_code: None,
            error_insn: None,
            unsupported: None,
            insns_processed: Some(insns),
            max_states_per_insn: Some(1),
            total_states: Some(insns / 10),
            peak_states: Some(2),
            duration_us: Some(5),
            stack_depth: Some(vec![8, 16]),
            log: None,
            agree: None,
            source: None,
            hint: None,
            trace: None,
            processed_per_insn: None,
        }
    }

    #[test]
    fn filters_parse_and_match() {
        let r = rec("count", "6.18", "accepted", 1200);
        let f = |s: &str| s.parse::<Filter>().unwrap().matches(&r);
        assert!(f("insns>1000"));
        assert!(f("insns >= 1200"));
        assert!(!f("insns<1200"));
        assert!(f("verdict=accepted"));
        assert!(f("verdict!=rejected"));
        assert!(f("program~cou"));
        assert!(f("stack=24"));
        assert!("insns>x".parse::<Filter>().is_err());
        assert!("nope=1".parse::<Filter>().is_err());
        assert!("insns".parse::<Filter>().is_err());
    }

    #[test]
    fn sorting_puts_the_largest_first() {
        let mut v = vec![
            rec("a", "6.18", "accepted", 5),
            rec("b", "6.18", "accepted", 50),
        ];
        sort_records(&mut v, StatsField::Insns);
        assert_eq!(v[0].program, "b");
        sort_records(&mut v, StatsField::Program);
        assert_eq!(v[0].program, "a");
    }

    #[test]
    fn compare_two_kernels_with_percentages_and_the_limit() {
        let a = vec![
            rec("p", "6.1", "accepted", 1000),
            rec("q", "6.1", "accepted", 900_000),
        ];
        let mut b = vec![
            rec("p", "6.18", "rejected", 1500),
            rec("q", "6.18", "accepted", 900_000),
        ];
        b[0].object = "other/a.o".into();
        let c = compare(&a, &b);
        assert_eq!(c.len(), 2);
        assert!(c[0].changed() && !c[1].changed());
        assert!(c[1].near_limit);
        let text = render_compare(&c, StatsFormat::Table);
        assert!(text.contains("1000 -> 1500 (+50.0%)"), "{text}");
        assert!(text.contains("accepted -> rejected"), "{text}");
        assert!(text.contains("a.o:q (900000 insns)"), "{text}");
    }

    #[test]
    fn csv_has_a_header_and_a_row_per_record() {
        let s = render_stats(&[rec("p", "6.18", "accepted", 7)], StatsFormat::Csv);
        assert_eq!(
            s,
            "program,type,kernel,verdict,insns,states,peak,max/insn,stack,time_us\nbuild/a.o:p,xdp,6.18,accepted,7,0,2,1,24,5\n"
        );
    }
}
