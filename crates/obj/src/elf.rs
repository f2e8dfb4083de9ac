//! The ELF layer: sections, symbols and `SHT_REL` relocations of a BPF
//! object, copied out of the file into owned values.
//!
//! Only relocatable ELF64 objects with `e_machine == EM_BPF` (or
//! `EM_NONE`, which old clang emitted) are accepted, in either byte order,
//! as libbpf does. Section contents are borrowed from the input.

use object::Endianness;
use object::elf;
use object::read::elf::{FileHeader, Rel as _, SectionHeader, Sym as _};

use bpfcheck_uapi::ByteOrder;

use crate::error::{ObjError, sec_err};

/// `SHT_LLVM_ADDRSIG`, a section libbpf ignores.
const SHT_LLVM_ADDRSIG: u32 = 0x6fff_4c03;

/// One section, with its contents (empty for `SHT_NOBITS`).
#[derive(Clone, Debug)]
pub(crate) struct Section<'a> {
    pub(crate) name: String,
    pub(crate) sh_type: u32,
    pub(crate) flags: u64,
    /// `sh_size`; for `SHT_NOBITS` the only record of the size.
    pub(crate) size: u64,
    /// `sh_info`: for `SHT_REL`, the section the relocations apply to.
    pub(crate) info: u32,
    pub(crate) entsize: u64,
    pub(crate) data: &'a [u8],
}

impl Section<'_> {
    pub(crate) fn is_exec(&self) -> bool {
        self.sh_type == elf::SHT_PROGBITS && self.flags & u64::from(elf::SHF_EXECINSTR) != 0
    }
}

/// One `.symtab` entry.
#[derive(Clone, Debug)]
pub(crate) struct Symbol {
    pub(crate) name: String,
    pub(crate) shndx: u16,
    pub(crate) value: u64,
    pub(crate) size: u64,
    pub(crate) bind: u8,
    pub(crate) kind: u8,
    pub(crate) visibility: u8,
}

impl Symbol {
    /// libbpf's `sym_is_extern`: an undefined global or weak `NOTYPE`.
    pub(crate) fn is_extern(&self) -> bool {
        self.shndx == elf::SHN_UNDEF
            && (self.bind == elf::STB_GLOBAL || self.bind == elf::STB_WEAK)
            && self.kind == elf::STT_NOTYPE
    }
}

/// One `Elf64_Rel`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rel {
    pub(crate) offset: u64,
    pub(crate) sym: u32,
}

/// A relocation section and the section it applies to.
#[derive(Clone, Debug)]
pub(crate) struct RelSection {
    pub(crate) target: usize,
    pub(crate) rels: Vec<Rel>,
}

/// The parts of an ELF file the loader needs.
#[derive(Clone, Debug)]
pub(crate) struct ElfObject<'a> {
    pub(crate) order: ByteOrder,
    /// Indexed by ELF section index; index 0 is the null section.
    pub(crate) sections: Vec<Section<'a>>,
    pub(crate) symbols: Vec<Symbol>,
    /// Relocation sections for executable sections and `.maps`.
    pub(crate) rel_sections: Vec<RelSection>,
}

fn elf_err(what: impl Into<String>) -> ObjError {
    ObjError::Elf { what: what.into() }
}

impl<'a> ElfObject<'a> {
    /// Reads the section table, the symbol table and relocation sections.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, ObjError> {
        // The identification bytes decide the class before anything else.
        if bytes.len() < 16 || &bytes[..4] != b"\x7fELF" {
            return Err(elf_err("not an ELF file (bad magic)"));
        }
        if bytes[4] != elf::ELFCLASS64 {
            return Err(elf_err("only 64-bit ELF objects hold BPF programs"));
        }
        let header = elf::FileHeader64::<Endianness>::parse(bytes)
            .map_err(|e| elf_err(format!("bad ELF header: {e}")))?;
        let endian = header
            .endian()
            .map_err(|e| elf_err(format!("bad ELF byte order: {e}")))?;
        let order = match endian {
            Endianness::Little => ByteOrder::Little,
            Endianness::Big => ByteOrder::Big,
        };
        // libbpf loads relocatable objects only (what `clang -c` makes).
        if header.e_type(endian) != elf::ET_REL {
            return Err(elf_err(format!(
                "e_type is {}, not ET_REL (a relocatable object)",
                header.e_type(endian)
            )));
        }
        let machine = header.e_machine(endian);
        if machine != elf::EM_BPF && machine != elf::EM_NONE {
            return Err(elf_err(format!(
                "e_machine is {machine}, not EM_BPF ({})",
                elf::EM_BPF
            )));
        }
        let table = header
            .sections(endian, bytes)
            .map_err(|e| elf_err(format!("bad section table: {e}")))?;

        let mut sections = Vec::with_capacity(table.len());
        let mut ranges = Vec::new();
        let mut rel_sections = Vec::new();
        let mut symtab = None;
        for (index, sh) in table.enumerate() {
            let name = match table.section_name(endian, sh) {
                Ok(n) => String::from_utf8_lossy(n).into_owned(),
                Err(_) if index.0 == 0 => String::new(),
                Err(e) => return Err(sec_err(&format!("#{}", index.0), format!("bad name: {e}"))),
            };
            let sh_type = sh.sh_type(endian);
            let data: &'a [u8] = if sh_type == elf::SHT_NOBITS {
                &[]
            } else {
                sh.data(endian, bytes)
                    .map_err(|e| sec_err(&name, format!("contents outside the file: {e}")))?
            };
            if !data.is_empty() {
                ranges.push((sh.sh_offset(endian), data.len() as u64, index.0));
            }
            if sh_type == elf::SHT_SYMTAB {
                if symtab.is_some() {
                    return Err(elf_err("more than one symbol table"));
                }
                symtab = Some((index.0, sh));
            }
            sections.push(Section {
                name,
                sh_type,
                flags: sh.sh_flags(endian),
                size: sh.sh_size(endian),
                info: sh.sh_info(endian),
                entsize: sh.sh_entsize(endian),
                data,
            });
        }

        // Sections of a real object never share bytes. Refusing overlaps
        // bounds what later copies can cost to the size of the file.
        ranges.sort_unstable();
        for w in ranges.windows(2) {
            let ((a_off, a_len, a), (b_off, _, b)) = (w[0], w[1]);
            if a_off.saturating_add(a_len) > b_off {
                return Err(elf_err(format!(
                    "sections #{a} ('{}') and #{b} ('{}') overlap in the file",
                    sections[a].name, sections[b].name
                )));
            }
        }

        let (symtab_index, symtab_sh) =
            symtab.ok_or_else(|| elf_err("no symbol table (stripped object?)"))?;
        let symbols = Self::read_symbols(bytes, endian, &table, symtab_index, symtab_sh)?;

        for (index, sh) in table.enumerate() {
            if sh.sh_type(endian) != elf::SHT_REL {
                continue;
            }
            let sec = &sections[index.0];
            if ignored_rel_section(&sec.name) {
                continue;
            }
            if sec.entsize != 16 {
                return Err(sec_err(
                    &sec.name,
                    format!("sh_entsize {} is not 16", sec.entsize),
                ));
            }
            let target = sec.info as usize;
            let Some(target_sec) = sections.get(target) else {
                return Err(sec_err(
                    &sec.name,
                    format!("applies to section #{target}, which does not exist"),
                ));
            };
            // libbpf keeps relocations of code, of `.maps` (map-in-map
            // slots) and of struct_ops variables (their programs);
            // everything else (DWARF, `.BTF`) needs none.
            if !target_sec.is_exec()
                && !matches!(
                    target_sec.name.as_str(),
                    ".maps" | ".struct_ops" | ".struct_ops.link"
                )
            {
                continue;
            }
            let rels: &[elf::Rel64<Endianness>] = sh
                .data_as_array(endian, bytes)
                .map_err(|e| sec_err(&sec.name, format!("unreadable relocations: {e}")))?;
            let rels = rels
                .iter()
                .map(|r| Rel {
                    offset: r.r_offset(endian),
                    sym: r.r_sym(endian),
                })
                .collect();
            rel_sections.push(RelSection { target, rels });
        }

        Ok(Self {
            order,
            sections,
            symbols,
            rel_sections,
        })
    }

    fn read_symbols(
        bytes: &'a [u8],
        endian: Endianness,
        table: &object::read::elf::SectionTable<'_, elf::FileHeader64<Endianness>>,
        symtab_index: usize,
        symtab_sh: &elf::SectionHeader64<Endianness>,
    ) -> Result<Vec<Symbol>, ObjError> {
        if symtab_sh.sh_entsize(endian) != 24 {
            return Err(sec_err(".symtab", "sh_entsize is not sizeof(Elf64_Sym)"));
        }
        let symtab = table
            .symbol_table_by_index(endian, bytes, object::SectionIndex(symtab_index))
            .map_err(|e| sec_err(".symtab", format!("unreadable: {e}")))?;
        let mut symbols = Vec::with_capacity(symtab.symbols().len());
        for (index, sym) in symtab.symbols().iter().enumerate() {
            let name = symtab
                .symbol_name(endian, sym)
                .map_err(|e| ObjError::Symbol {
                    symbol: String::new(),
                    index,
                    what: format!("bad name offset: {e}"),
                })?;
            symbols.push(Symbol {
                name: String::from_utf8_lossy(name).into_owned(),
                shndx: sym.st_shndx(endian),
                value: sym.st_value(endian),
                size: sym.st_size(endian),
                bind: sym.st_bind(),
                kind: sym.st_type(),
                visibility: sym.st_visibility(),
            });
        }
        Ok(symbols)
    }

    /// Name of a section by index, `#N` when there is none.
    pub(crate) fn section_name(&self, index: usize) -> String {
        self.sections
            .get(index)
            .map_or_else(|| format!("#{index}"), |s| s.name.clone())
    }

    /// Index of the section with this name.
    pub(crate) fn section_by_name(&self, name: &str) -> Option<usize> {
        self.sections.iter().position(|s| s.name == name)
    }

    /// Whether a section exists and is worth keeping, by libbpf's rules.
    pub(crate) fn is_ignored(sec: &Section<'_>) -> bool {
        sec.sh_type == elf::SHT_STRTAB
            || sec.sh_type == SHT_LLVM_ADDRSIG
            || (sec.sh_type == elf::SHT_PROGBITS && sec.size == 0 && sec.name == ".text")
            || is_dwarf(&sec.name)
    }
}

fn is_dwarf(name: &str) -> bool {
    name.starts_with(".debug_")
}

fn ignored_rel_section(name: &str) -> bool {
    match name.strip_prefix(".rel") {
        Some(rest) => is_dwarf(rest) || rest == ".BTF" || rest == ".BTF.ext",
        None => false,
    }
}

/// Reads a `u32` at `off` in the object's byte order, if in bounds.
pub(crate) fn read_u32(data: &[u8], off: usize, order: ByteOrder) -> Option<u32> {
    let b: [u8; 4] = data.get(off..off.checked_add(4)?)?.try_into().ok()?;
    Some(match order {
        ByteOrder::Little => u32::from_le_bytes(b),
        ByteOrder::Big => u32::from_be_bytes(b),
    })
}
