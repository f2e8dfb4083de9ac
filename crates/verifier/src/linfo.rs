//! The source lines the kernel interleaves with the log of a program that
//! carries `line_info` (`verbose_linfo`): `; <source line> @ <file>:<line>`
//! before the first instruction logged from each new source line; up to
//! 6.2 (`walk_v6_1.linfo_plain`) the source line alone, before each new
//! record even on the same line.

use bpfcheck_btf::Btf;
use bpfcheck_uapi::LoadRequest;

use crate::error::Unsupported;

/// One `bpf_line_info` record with its strings looked up.
#[derive(Clone, Debug)]
struct Line {
    insn_off: usize,
    file_name_off: u32,
    line: u32,
    /// The source text, leading white space removed, then ` @ file:line`
    /// with the file's directories dropped.
    text: String,
}

/// The program's line table and which record was printed last.
///
/// The kernel's memory of the last printed record (`prev_linfo`) is not
/// rolled back when the level-1 log is cut back to a queued branch, and
/// neither is this one.
#[derive(Clone, Debug, Default)]
pub(crate) struct SourceLines {
    lines: Vec<Line>,
    prev: Option<usize>,
    /// 6.1's form: no ` @ file:line`, no merging of records on one line.
    plain: bool,
}

impl SourceLines {
    /// The table of `req`, checked as `check_btf_line` checks it; a table
    /// the kernel would refuse is not modelled.
    pub(crate) fn new(req: &LoadRequest, plain: bool) -> Result<Self, Unsupported> {
        if req.line_info.is_empty() {
            return Ok(Self::default());
        }
        let refused = |why: String| {
            Unsupported::new(
                format!("line_info the kernel refuses (check_btf_line: {why})"),
                None,
            )
        };
        let bytes = req
            .prog_btf
            .as_deref()
            .ok_or_else(|| refused("no program BTF".into()))?;
        let btf = Btf::parse(bytes).map_err(|e| refused(format!("unreadable BTF: {e}")))?;
        let mut lines = Vec::with_capacity(req.line_info.len());
        let mut prev_off: Option<usize> = None;
        for (i, li) in req.line_info.iter().enumerate() {
            let off = li.insn_off as usize;
            let ordered = match prev_off {
                None => off == 0,
                Some(p) => off > p,
            };
            if !ordered || off >= req.insns.len() || req.insns[off].code == 0 {
                return Err(refused(format!("line_info[{i}].insn_off {off}")));
            }
            prev_off = Some(off);
            let (Ok(src), Ok(file)) = (btf.str_at(li.line_off), btf.str_at(li.file_name_off))
            else {
                return Err(refused(format!("line_info[{i}] strings")));
            };
            let file = file.rsplit('/').next().unwrap_or(file);
            lines.push(Line {
                insn_off: off,
                file_name_off: li.file_name_off,
                line: li.line(),
                text: if plain {
                    trim_c_space(src).to_owned()
                } else {
                    format!("{} @ {file}:{}", trim_c_space(src), li.line())
                },
            });
        }
        Ok(Self {
            lines,
            prev: None,
            plain,
        })
    }

    /// Whether the program has line info at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The line to print before something about instruction `insn`, if the
    /// record covering it was not the last one printed and names another
    /// file or line number than that one (columns are not printed).
    /// Forgets the last printed record.
    pub(crate) fn reset(&mut self) {
        self.prev = None;
    }

    pub(crate) fn next_for(&mut self, insn: usize) -> Option<&str> {
        // The rightmost record starting at or before `insn`; the first
        // record starts at 0.
        let at = self
            .lines
            .partition_point(|l| l.insn_off <= insn)
            .checked_sub(1)?;
        if self.prev == Some(at) {
            return None;
        }
        if let Some(p) = self.prev.and_then(|p| self.lines.get(p))
            && !self.plain
        {
            let cur = &self.lines[at];
            if p.file_name_off == cur.file_name_off && p.line == cur.line {
                return None;
            }
        }
        self.prev = Some(at);
        Some(&self.lines[at].text)
    }
}

/// C's `isspace` set, as the kernel's `ltrim` skips it.
fn trim_c_space(s: &str) -> &str {
    s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r'])
}
