//! Source lines of instructions: a program's `line_info` (sorted by
//! instruction, as the kernel requires) read against its BTF strings.

use bpfcheck_uapi::LineInfo;

use crate::Btf;

/// One instruction's source line, borrowed from the BTF strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceLine<'a> {
    /// The file name as the compiler recorded it.
    pub file: &'a str,
    /// 1-based line number.
    pub line: u32,
    /// 1-based column; 0 when the compiler recorded none.
    pub column: u32,
    /// The line's text, when BTF carries it.
    pub text: Option<&'a str>,
}

/// A program's line info with the BTF its offsets point into.
#[derive(Debug)]
pub struct LineTable<'a> {
    btf: &'a Btf<'a>,
    line_info: &'a [LineInfo],
}

impl<'a> LineTable<'a> {
    /// The table of `line_info` against `btf` (the program's BTF).
    pub fn new(btf: &'a Btf<'a>, line_info: &'a [LineInfo]) -> Self {
        Self { btf, line_info }
    }

    /// The record covering `insn`: the last one starting at or before it.
    fn covering(&self, insn: u32) -> Option<&'a LineInfo> {
        let after = self.line_info.partition_point(|l| l.insn_off <= insn);
        self.line_info[..after].last()
    }

    /// The source line of instruction `insn`.
    pub fn locate(&self, insn: u32) -> Option<SourceLine<'a>> {
        self.resolve(self.covering(insn)?)
    }

    /// The source line of a record.
    pub fn resolve(&self, li: &LineInfo) -> Option<SourceLine<'a>> {
        let file = self.btf.str_at(li.file_name_off).ok()?;
        let text = self.btf.str_at(li.line_off).ok().filter(|t| !t.is_empty());
        Some(SourceLine {
            file,
            line: li.line(),
            column: li.column(),
            text,
        })
    }

    /// The records, in instruction order.
    pub fn records(&self) -> &'a [LineInfo] {
        self.line_info
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BtfBuilder, ByteOrder};

    fn li(insn_off: u32, line: u32) -> LineInfo {
        LineInfo {
            insn_off,
            file_name_off: 0,
            line_off: 0,
            line_col: line << 10,
        }
    }

    #[test]
    fn the_covering_record_is_the_last_at_or_before() {
        let mut b = BtfBuilder::new();
        b.int("int", 4, true);
        let bytes = b.to_bytes(ByteOrder::Little);
        let btf = Btf::parse(&bytes).expect("BTF");
        let v = [li(0, 1), li(3, 2), li(7, 3)];
        let t = LineTable::new(&btf, &v);
        let line = |i| t.locate(i).map(|l| l.line);
        assert_eq!(line(0), Some(1));
        assert_eq!(line(5), Some(2));
        assert_eq!(line(7), Some(3));
        assert_eq!(line(100), Some(3));
        let one = [li(2, 1)];
        assert!(LineTable::new(&btf, &one).locate(1).is_none());
    }
}
