//! Plain-text renderings for terminals and logs.

use std::fmt::Write;

use crate::record::Record;

pub(crate) fn errno_name(errno: i32) -> String {
    let name = match errno {
        1 => "EPERM",
        2 => "ENOENT",
        7 => "E2BIG",
        9 => "EBADF",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        22 => "EINVAL",
        28 => "ENOSPC",
        71 => "EPROTO",
        95 => "EOPNOTSUPP",
        524 => "ENOTSUPP",
        _ => return format!("errno {errno}"),
    };
    name.to_owned()
}

fn headline(r: &Record, who: &str) -> String {
    let mut s = format!(
        "{}: {} ({}) on {}: {}",
        r.object, r.program, r.prog_type, who, r.verdict
    );
    if let Some(e) = r.errno {
        let _ = write!(s, " ({})", errno_name(e));
    }
    s
}

/// One verdict, with the error or the unsupported feature and the figures.
pub fn render_record(r: &Record) -> String {
    let mut out = headline(r, r.profile_name());
    out.push('\n');
    if let Some(e) = &r.error {
        let at = r
            .error_insn
            .map(|i| format!(" (insn {i})"))
            .unwrap_or_default();
        let _ = writeln!(out, "  error: {e}{at}");
    } else if r.verdict == "rejected" {
        out.push_str("  error: refused before verification, no verifier log\n");
    }
    if let Some(u) = &r.unsupported {
        let at = u.insn.map(|i| format!(" (insn {i})")).unwrap_or_default();
        let _ = writeln!(out, "  cannot judge yet: {}{at}", u.feature);
    }
    if let Some(n) = r.insns_processed {
        let _ = writeln!(
            out,
            "  processed {n} insns, states: total {} peak {} max/insn {}",
            r.total_states.unwrap_or(0),
            r.peak_states.unwrap_or(0),
            r.max_states_per_insn.unwrap_or(0)
        );
    }
    if let Some(log) = &r.log {
        out.push_str("  log:\n");
        for line in log.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// A `diff` record: both sides, then the agreement.
pub fn render_diff(r: &Record) -> String {
    let mut out = render_record(r);
    let Some(k) = r.live() else { return out };
    let _ = write!(out, "  kernel (live): {}", k.verdict);
    if let Some(e) = k.errno {
        let _ = write!(out, " ({})", errno_name(e));
    }
    out.push('\n');
    if let Some(e) = &k.error {
        let _ = writeln!(out, "    error: {e}");
    }
    if let Some(n) = k.insns_processed {
        let _ = writeln!(
            out,
            "    processed {n} insns, states: total {} peak {} max/insn {}",
            k.total_states.unwrap_or(0),
            k.peak_states.unwrap_or(0),
            k.max_states_per_insn.unwrap_or(0)
        );
    }
    if let Some(a) = &r.agree {
        let mark = |b: bool| if b { "yes" } else { "NO" };
        let _ = writeln!(
            out,
            "  agree: verdict {}, error {}, insns {}, log {} => {}",
            mark(a.verdict),
            mark(a.error),
            mark(a.insns_processed),
            mark(a.log),
            if a.all() { "AGREE" } else { "DIFFER" }
        );
    }
    out
}

/// Records of several kernels as one table: a row per program, a column per
/// kernel, each cell the verdict; rejections are listed under the table
/// with the kernel's error, so that the table stays narrow.
pub fn render_matrix(records: &[Record]) -> String {
    let mut kernels: Vec<&str> = Vec::new();
    let mut programs: Vec<(String, &str)> = Vec::new();
    for r in records {
        if !kernels.contains(&r.profile_name()) {
            kernels.push(r.profile_name());
        }
        let key = (r.object.clone(), r.program.as_str());
        if !programs.contains(&key) {
            programs.push(key);
        }
    }
    let cell = |obj: &str, prog: &str, k: &str| {
        records
            .iter()
            .find(|r| r.object == obj && r.program == prog && r.profile_name() == k)
    };
    let name_w = programs
        .iter()
        .map(|(o, p)| o.len() + p.len() + 1)
        .max()
        .unwrap_or(7)
        .max(7);
    let col_w = kernels.iter().map(|k| k.len()).max().unwrap_or(0).max(11);
    let mut out = format!("{:<name_w$}", "program");
    for k in &kernels {
        let _ = write!(out, "  {k:<col_w$}");
    }
    out.push('\n');
    let mut notes = Vec::new();
    for (obj, prog) in &programs {
        let _ = write!(out, "{:<name_w$}", format!("{obj}:{prog}"));
        for k in &kernels {
            let verdict = cell(obj, prog, k).map_or("-", |r| r.verdict.as_str());
            let _ = write!(out, "  {verdict:<col_w$}");
            if let Some(r) = cell(obj, prog, k) {
                let why = match (r.verdict.as_str(), &r.error, &r.unsupported) {
                    ("rejected", Some(e), _) => Some(e.clone()),
                    ("rejected", None, _) => r
                        .errno
                        .map(|e| format!("{} before verification", errno_name(e))),
                    ("unsupported", _, Some(u)) => Some(format!("cannot judge yet: {}", u.feature)),
                    _ => None,
                };
                if let Some(why) = why {
                    notes.push(format!("  {obj}:{prog} on {k}: {why}"));
                }
            }
        }
        out.push('\n');
    }
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            out.push_str(&n);
            out.push('\n');
        }
    }
    out
}
