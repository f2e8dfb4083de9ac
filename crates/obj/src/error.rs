//! Errors, each naming the ELF section, symbol, relocation or byte offset at
//! fault and what is wrong with it.

use std::fmt;

/// Why an object could not be read or turned into load requests.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjError {
    /// The ELF container itself (header, section table, symbol table).
    Elf {
        /// What is wrong.
        what: String,
    },
    /// A section's header or contents.
    Section {
        /// Section name (or `#index` when the name is unreadable).
        section: String,
        /// What is wrong.
        what: String,
    },
    /// A symbol table entry.
    Symbol {
        /// Symbol name, possibly empty.
        symbol: String,
        /// Index in `.symtab`.
        index: usize,
        /// What is wrong.
        what: String,
    },
    /// A relocation entry of a program section.
    Reloc {
        /// The section the relocation applies to.
        section: String,
        /// `r_offset`: byte offset within that section.
        offset: u64,
        /// The symbol the relocation refers to.
        symbol: String,
        /// What is wrong.
        what: String,
    },
    /// A program (main program or subprogram).
    Program {
        /// Program name.
        program: String,
        /// Instruction index in the final program, when one is at fault.
        insn: Option<u32>,
        /// What is wrong.
        what: String,
    },
    /// A map definition (`.maps`, legacy `maps`, global data).
    Map {
        /// Map name.
        map: String,
        /// What is wrong.
        what: String,
    },
    /// The `.BTF` section.
    Btf {
        /// Byte offset within `.BTF`.
        offset: usize,
        /// What is wrong.
        what: String,
    },
    /// The `.BTF.ext` section.
    BtfExt {
        /// Byte offset within `.BTF.ext`.
        offset: usize,
        /// What is wrong.
        what: String,
    },
    /// An extern (`__kconfig`, `__ksym`) declaration.
    Extern {
        /// Extern name.
        name: String,
        /// What is wrong.
        what: String,
    },
    /// A program uses an extern that nothing resolved and that is not weak.
    UnresolvedExtern {
        /// Extern name.
        name: String,
        /// `.kconfig` or `.ksyms`.
        section: &'static str,
        /// The program that references it.
        program: String,
    },
    /// A program whose section name matches no entry of the `SEC()` table,
    /// so it has no program type (libbpf fails its load the same way).
    UnknownSection {
        /// Program name.
        program: String,
        /// Section name.
        section: String,
    },
    /// A CO-RE relocation libbpf could not apply (the whole load fails).
    Core {
        /// The function holding the relocated instruction, if known.
        program: Option<String>,
        /// Instruction index within that function.
        insn: Option<u32>,
        /// What went wrong.
        what: String,
    },
    /// Something libbpf refuses too.
    Unsupported {
        /// What it is.
        what: String,
    },
}

impl fmt::Display for ObjError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Elf { what } => write!(f, "ELF: {what}"),
            Self::Section { section, what } => write!(f, "section '{section}': {what}"),
            Self::Symbol {
                symbol,
                index,
                what,
            } => write!(f, "symbol #{index} '{symbol}': {what}"),
            Self::Reloc {
                section,
                offset,
                symbol,
                what,
            } => write!(
                f,
                "section '{section}': relocation at offset {offset} against '{symbol}': {what}"
            ),
            Self::Program {
                program,
                insn: Some(i),
                what,
            } => write!(f, "prog '{program}': insn #{i}: {what}"),
            Self::Program {
                program,
                insn: None,
                what,
            } => write!(f, "prog '{program}': {what}"),
            Self::Map { map, what } => write!(f, "map '{map}': {what}"),
            Self::Btf { offset, what } => write!(f, ".BTF at byte {offset}: {what}"),
            Self::BtfExt { offset, what } => write!(f, ".BTF.ext at byte {offset}: {what}"),
            Self::Extern { name, what } => write!(f, "extern '{name}': {what}"),
            Self::UnresolvedExtern {
                name,
                section,
                program,
            } => write!(
                f,
                "prog '{program}': extern '{name}' ({section}) is not resolved and not weak; \
                 supply a kernel profile to resolve it"
            ),
            Self::UnknownSection { program, section } => write!(
                f,
                "prog '{program}': section '{section}' matches no known SEC() definition, \
                 so its program type is unknown"
            ),
            Self::Core {
                program,
                insn,
                what,
            } => {
                write!(f, "CO-RE")?;
                if let Some(p) = program {
                    write!(f, ": prog '{p}'")?;
                }
                if let Some(i) = insn {
                    write!(f, ": insn #{i}")?;
                }
                write!(f, ": {what}")
            }
            Self::Unsupported { what } => write!(f, "unsupported: {what}"),
        }
    }
}

impl std::error::Error for ObjError {}

/// Shorthand used by the parsers.
pub(crate) fn sec_err(section: &str, what: impl Into<String>) -> ObjError {
    ObjError::Section {
        section: section.to_owned(),
        what: what.into(),
    }
}
