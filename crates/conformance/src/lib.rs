//! The fixture corpus and the comparisons that prove bpfcheck agrees with
//! the kernel: loading every committed fixture into load requests, asking
//! the running kernel about them, and parsing what its log says.
//!
//! The tests of this crate are the differential tests of the project. Each
//! runs against the live kernel when `bpf()` is usable (printing a loud
//! `SKIPPED` line otherwise) and against the recordings committed with the
//! fixtures always, so that a machine without `bpf()` still checks bpfcheck
//! against recorded kernel answers — and a machine with it fails when a
//! recording has gone stale.

#![deny(missing_docs)]

pub mod selftests;

use std::path::{Path, PathBuf};

use bpfcheck_asm::{Expectation, Fixture};
use bpfcheck_uapi::LoadRequest;

/// One program of the corpus.
#[derive(Clone, Debug)]
pub struct CorpusProgram {
    /// The file it comes from.
    pub path: PathBuf,
    /// Program name (file stem for assembler fixtures, symbol for objects).
    pub name: String,
    /// What to load.
    pub request: LoadRequest,
    /// The kernel's recorded answer, for assembler fixtures.
    pub expect: Option<Expectation>,
}

impl CorpusProgram {
    /// `file:program`, for messages.
    pub fn label(&self) -> String {
        format!("{}:{}", self.path.display(), self.name)
    }
}

/// The repository's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn sorted_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == ext));
    files.sort();
    files
}

/// Every assembler fixture of `fixtures/<sub>/`, in name order.
pub fn asm_fixtures(sub: &str) -> Result<Vec<CorpusProgram>, String> {
    sorted_files(&fixtures_dir().join(sub), "s")
        .into_iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let fx = Fixture::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let name = path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            Ok(CorpusProgram {
                request: fx.load_request(&name),
                expect: fx.expect,
                name,
                path,
            })
        })
        .collect()
}

/// Every program of every compiled C fixture (`fixtures/c/*.o`).
pub fn object_fixtures() -> Result<Vec<CorpusProgram>, String> {
    let mut out = Vec::new();
    for path in sorted_files(&fixtures_dir().join("c"), "o") {
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let obj_name = bpfcheck_obj::object_name_from_path(&path);
        let obj = bpfcheck_obj::Object::parse_named(&bytes, &obj_name)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let reqs = obj
            .load_requests(&bpfcheck_obj::LoadOptions::default())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        for p in reqs {
            out.push(CorpusProgram {
                path: path.clone(),
                name: p.name,
                request: p.request,
                expect: None,
            });
        }
    }
    Ok(out)
}

/// The running kernel's profile: its release and, when exposed, its BTF.
/// `None` off Linux or without `/proc`.
pub fn host_profile() -> Option<bpfcheck_profile::KernelProfile> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let btf = std::fs::read("/sys/kernel/btf/vmlinux").ok();
    let btf = btf.and_then(|b| bpfcheck_profile::KernelBtf::open(b).ok());
    bpfcheck_profile::KernelProfile::for_release(release.trim(), btf).ok()
}

/// Prints a measured figure where the test harness does not swallow it
/// (straight to the process's stderr, not through `eprintln!`), so every
/// test run shows the agreement figures.
pub fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// An instruction line of a verifier log: `N: (xx) text`, with any state
/// annotation (`   ; R0=0`) removed. Other lines give `None`.
pub fn parse_insn_line(line: &str) -> Option<(usize, &str)> {
    let (num, rest) = line.split_once(": ")?;
    let idx: usize = num.parse().ok()?;
    let b = rest.as_bytes();
    if b.len() < 4
        || b[0] != b'('
        || b[3] != b')'
        || !b[1].is_ascii_hexdigit()
        || !b[2].is_ascii_hexdigit()
    {
        return None;
    }
    // The verifier appends the changed registers after padding and `;`;
    // no instruction text contains `;`.
    let text = rest.split_once(';').map_or(rest, |(t, _)| t).trim_end();
    Some((idx, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insn_lines_are_recognised() {
        assert_eq!(
            parse_insn_line("0: (b7) r0 = 0                        ; R0=0"),
            Some((0, "(b7) r0 = 0"))
        );
        assert_eq!(
            parse_insn_line("12: (85) call bpf_map_lookup_elem#1"),
            Some((12, "(85) call bpf_map_lookup_elem#1"))
        );
        assert_eq!(parse_insn_line("0: R1=ctx() R10=fp0"), None);
        assert_eq!(parse_insn_line("      0: .1........ (b7) r0 = 0"), None);
        assert_eq!(parse_insn_line("from 1 to 3: R0=0"), None);
    }
}
