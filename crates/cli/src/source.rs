//! Source locations of instructions, from a program's BTF line info, and
//! the source files they name.

use std::path::{Path, PathBuf};

use bpfcheck_btf::Btf;
use bpfcheck_btf::lines::{self, SourceLine};
use bpfcheck_report::SourceLocation;
use bpfcheck_uapi::{LineInfo, LoadRequest};

/// Resolves line-info records of one program against its BTF strings.
#[derive(Debug)]
pub(crate) struct LineTable<'a> {
    btf: Btf<'a>,
    line_info: &'a [LineInfo],
}

fn owned(l: SourceLine<'_>) -> SourceLocation {
    SourceLocation {
        file: l.file.to_owned(),
        line: l.line,
        column: l.column,
        text: l.text.map(str::to_owned),
    }
}

impl<'a> LineTable<'a> {
    /// `None` when the program carries no line info or its BTF does not parse.
    pub(crate) fn of(req: &'a LoadRequest) -> Option<Self> {
        if req.line_info.is_empty() {
            return None;
        }
        let btf = Btf::parse(req.prog_btf.as_deref()?).ok()?;
        Some(Self {
            btf,
            line_info: &req.line_info,
        })
    }

    /// The source location of one instruction.
    pub(crate) fn locate(&self, insn: u32) -> Option<SourceLocation> {
        lines::LineTable::new(&self.btf, self.line_info)
            .locate(insn)
            .map(owned)
    }

    /// The source line of every instruction index in `0..len`.
    pub(crate) fn all(&self, len: usize) -> Vec<Option<SourceLocation>> {
        let table = lines::LineTable::new(&self.btf, self.line_info);
        let mut out = Vec::with_capacity(len);
        let mut next = 0;
        let mut current: Option<SourceLocation> = None;
        for idx in 0..len {
            while let Some(li) = self.line_info.get(next) {
                if usize::try_from(li.insn_off).is_ok_and(|o| o <= idx) {
                    current = table.resolve(li).map(owned);
                    next += 1;
                } else {
                    break;
                }
            }
            out.push(current.clone());
        }
        out
    }
}

/// The source location of one instruction of a program.
pub(crate) fn locate(req: &LoadRequest, insn: u32) -> Option<SourceLocation> {
    LineTable::of(req)?.locate(insn)
}

/// Candidate paths of a recorded file name: as recorded when absolute,
/// else next to the object (build scripts map the build directory to `.`),
/// then relative to the working directory.
fn candidates(object: &Path, file: &str) -> Vec<PathBuf> {
    let f = Path::new(file);
    if f.is_absolute() {
        return vec![f.to_path_buf()];
    }
    let mut v = Vec::new();
    if let Some(dir) = object.parent() {
        v.push(dir.join(f));
    }
    v.push(f.to_path_buf());
    v
}

/// The text of the source file a location names, when it can be read.
pub(crate) fn read_source(object: &Path, file: &str) -> Option<String> {
    candidates(object, file)
        .into_iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_names_are_looked_up_next_to_the_object() {
        let c = candidates(Path::new("/b/x.o"), "./x.c");
        assert_eq!(c[0], Path::new("/b/./x.c"));
        assert_eq!(
            candidates(Path::new("x.o"), "/abs/y.c"),
            vec![PathBuf::from("/abs/y.c")]
        );
    }
}
