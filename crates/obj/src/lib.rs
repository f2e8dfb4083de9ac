//! clang/libbpf ELF objects turned into the load requests libbpf would make.
//!
//! [`Object::parse`] reads a BPF ELF object (either byte order) and
//! [`Object::load_requests`] produces, for every program, the fd-free
//! [`LoadRequest`](bpfcheck_uapi::LoadRequest) that libbpf 1.5 would pass
//! to `BPF_PROG_LOAD`: map references become indices into
//! `LoadRequest::maps`, which lists every map of the object in libbpf's
//! order.
//!
//! Implemented, following libbpf's rules:
//! - programs: every `STT_FUNC` symbol of an executable section other than
//!   `.text`; type, expected attach type, sleepable / XDP-frags flags and BTF
//!   attach target from the `SEC()` table ([`sec`]); `?` turns autoload off;
//! - calls to `.text` subprograms and callback addresses (`BPF_PSEUDO_FUNC`):
//!   reachable subprograms appended after the main program in depth-first
//!   order of first reference, offsets rewritten (module `reloc`);
//! - maps: BTF-defined `.maps` (including map-in-map inner templates), the
//!   legacy `maps` section (which libbpf ≥ 1.0 rejects; read as libbpf 0.x
//!   did), `.data*` / `.rodata*` / `.bss*` as one-element ARRAY maps with
//!   libbpf's names, flags and contents, and the `.kconfig` map ([`maps`]);
//! - `__kconfig` / `__ksym` externs, resolved by an [`ExternResolver`]
//!   ([`externs`]), e.g. the running kernel's [`HostResolver`], whose
//!   [`HostResolver::load_options`] prepare requests as libbpf would on it;
//! - `license`, `version`, `.BTF.ext` func_info / line_info rebased onto
//!   the linked program, and `.BTF` passed as `prog_btf` after libbpf's
//!   open-time fix-ups (DATASEC sizes and offsets, hidden variables and
//!   functions made static, `.kconfig` / `.ksyms` extern layout with the
//!   `dummy_ksym` variable): byte-identical to libbpf's in the tests.
//!
//! Module `externs` holds what the design calls the `extern` module
//! (`extern` is a Rust keyword); a private `btf_min` module reads BTF
//! because `bpfcheck-btf` was written concurrently.
//!
//! - CO-RE relocations (`.BTF.ext` core_relo) against the target BTF of
//!   [`LoadOptions::target_btf`], as libbpf applies them at load
//!   ([`core_relo`]); each program's request lists its relocations with
//!   their resolutions ([`ProgramRequest::core`]);
//! - with the target BTF, `attach_btf_id` of BTF-attached programs
//!   (`fentry/`, `tp_btf/`, `lsm/`, `iter/`, …) and of struct_ops
//!   programs, whose maps (`.struct_ops`, `.struct_ops.link`) are read
//!   too ([`struct_ops`]); kfuncs resolve by their essential name and a
//!   typed ksym must be compatible with the kernel's type;
//! - exception callbacks (`exception_callback:` decl tags) appended to
//!   their programs;
//! - maps requested as libbpf creates them ([`maps::creation_spec`]), and
//!   an object whose BTF every kernel refuses loaded without it
//!   ([`Object::btf_refused`]), as libbpf falls back.
//!
//! The relocated instructions are checked against libbpf itself, program
//! by program, over the fixture corpus (`tests/oracle.rs`) and over any
//! objects such as the BPF selftests (`examples/libbpf_corpus.rs`), and so
//! is the kernel's verdict on the requests.
//!
//! - light skeletons (`bpftool gen skeleton -L` headers): the loader
//!   program and data blob they embed, as the request `bpf_load_and_run`
//!   makes ([`lskel`]).
//!
//! Knowingly not done (yet): BTF
//! sanitisation for kernels lacking BTF features (libbpf rewrites a copy
//! per kernel; that belongs with the kernel profile), the `__arg_ctx`
//! func_info rewrite for kernels before 6.8, arena globals, map-in-map
//! and prog-array slot contents from `.rel.maps` (filled after loading),
//! `?.struct_ops` maps, and kfuncs, ksyms, attach targets and struct_ops
//! types in module BTF.

#![deny(missing_docs)]

mod btf_min;
pub mod core_relo;
mod elf;
pub mod error;
pub mod externs;
pub mod host;
pub mod lskel;
pub mod maps;
pub(crate) mod reloc;
pub mod request;
pub mod sec;
pub mod struct_ops;

use bpfcheck_uapi::{ByteOrder, FuncInfo, LineInfo, RawInsn};

/// The BTF crate whose types appear in this API ([`LoadOptions::target_btf`],
/// [`CoreReloReport`]).
pub use bpfcheck_btf;
pub use core_relo::CoreReloReport;
pub use error::ObjError;
pub use externs::{Extern, ExternKind, ExternResolver, KsymValue};
pub use host::HostResolver;
pub use maps::{MapOrigin, ObjMap};
pub use request::{LoadOptions, ProgramRequest};
pub use sec::{SecDef, find_sec_def};

use crate::btf_min::{Btf, BtfExt};
use crate::elf::{ElfObject, read_u32};
use crate::error::sec_err;
use crate::reloc::{Reloc, SecInfo};

/// A function of an executable section: a main program (any section but
/// `.text`) or a `.text` subprogram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// Symbol name.
    pub name: String,
    /// Section name, without the `?` prefix.
    pub section: String,
    /// ELF section index.
    pub section_index: usize,
    /// Index of the first instruction within the section.
    pub insn_offset: usize,
    /// The instructions as in the section.
    pub insns: Vec<RawInsn>,
    /// Loaded by default (`SEC("?…")` clears this).
    pub autoload: bool,
    /// Whether the symbol is global (not `static`).
    pub global: bool,
    /// Global with hidden or internal visibility: libbpf marks its BTF
    /// FUNC static before loading.
    pub hidden: bool,
    /// The matching `SEC()` definition, if any.
    pub sec_def: Option<&'static SecDef>,
    pub(crate) relocs: Vec<Reloc>,
}

/// A parsed BPF object.
#[derive(Clone, Debug)]
pub struct Object {
    /// Object name (file name up to the first `.`), the prefix of internal
    /// map names.
    pub name: String,
    /// Byte order of the object.
    pub byte_order: ByteOrder,
    /// Contents of the `license` section (empty when absent).
    pub license: String,
    /// Contents of the `version` section. Without one libbpf passes the
    /// running kernel's version (see [`LoadOptions::kernel_version`]).
    pub kern_version: Option<u32>,
    /// All functions, sorted by section index and offset (libbpf's order).
    pub functions: Vec<Function>,
    /// All maps, in libbpf's order: legacy `maps`, `.maps`, global data in
    /// section order, `.kconfig`.
    pub maps: Vec<ObjMap>,
    /// All externs, in libbpf's order.
    pub externs: Vec<Extern>,
    /// The raw `.BTF` section.
    pub btf: Option<Vec<u8>>,
    /// Why the kernel refuses [`Object::btf`] (every kernel: the BTF
    /// itself is invalid to it). libbpf then loads the object without BTF
    /// ("BTF is optional, ignoring") unless it has struct_ops maps, and so
    /// do the load requests: no `prog_btf`, func_info, line_info or map BTF
    /// types.
    pub btf_refused: Option<String>,
    /// Whether the object has `.struct_ops` / `.struct_ops.link` sections
    /// (libbpf's `kernel_needs_btf`).
    has_struct_ops: bool,
    text_shndx: Option<usize>,
    /// func_info / line_info by ELF section index; `None` without `.BTF.ext`.
    ext_info: Option<(SecInfo<FuncInfo>, SecInfo<LineInfo>)>,
    kconfig_map: Option<usize>,
    /// `.BTF.ext` CO-RE relocation records by ELF section index.
    core_relos: core_relo::CoreRecords,
    /// The struct_ops maps and the programs they name.
    struct_ops: Vec<struct_ops::StructOps>,
    /// `(program, exception callback)` from `exception_callback:` decl tags.
    exception_cbs: Vec<(String, String)>,
}

/// libbpf's object name for a file path: the file name up to its first `.`.
pub fn object_name_from_path(path: &std::path::Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = file.split('.').next().unwrap_or("");
    maps::truncate_name(base)
}

impl Object {
    /// Parses an object whose name is unknown (internal maps are then
    /// named after their section alone, e.g. `.rodata`).
    pub fn parse(bytes: &[u8]) -> Result<Self, ObjError> {
        Self::parse_named(bytes, "")
    }

    /// Parses an object; `name` is what libbpf derives from the file name
    /// (see [`object_name_from_path`]).
    pub fn parse_named(bytes: &[u8], name: &str) -> Result<Self, ObjError> {
        let elf = ElfObject::parse(bytes)?;
        let order = elf.order;
        let mut obj = Self {
            name: maps::truncate_name(name),
            byte_order: order,
            license: String::new(),
            kern_version: None,
            functions: Vec::new(),
            maps: Vec::new(),
            externs: Vec::new(),
            btf: None,
            btf_refused: None,
            has_struct_ops: elf
                .sections
                .iter()
                .any(|s| s.name == ".struct_ops" || s.name == ".struct_ops.link"),
            text_shndx: None,
            ext_info: None,
            kconfig_map: None,
            core_relos: Vec::new(),
            struct_ops: Vec::new(),
            exception_cbs: Vec::new(),
        };
        let mut legacy_shndx = None;
        let mut btf_maps_shndx = None;
        let mut btf_ext_data = None;
        for (index, sec) in elf.sections.iter().enumerate().skip(1) {
            if ElfObject::is_ignored(sec) {
                continue;
            }
            match sec.name.as_str() {
                "license" => {
                    let end = sec
                        .data
                        .iter()
                        .position(|&b| b == 0)
                        .unwrap_or(sec.data.len());
                    let text = &sec.data[..end.min(63)];
                    obj.license = String::from_utf8_lossy(text).into_owned();
                }
                "version" => {
                    obj.kern_version = Some(
                        (sec.data.len() == 4)
                            .then(|| read_u32(sec.data, 0, order))
                            .flatten()
                            .ok_or_else(|| sec_err("version", "must hold exactly one u32"))?,
                    );
                }
                "maps" => legacy_shndx = Some(index),
                ".maps" => btf_maps_shndx = Some(index),
                ".BTF" => {
                    obj.btf = Some(sec.data.to_vec());
                }
                ".BTF.ext" => btf_ext_data = Some(sec.data),
                _ if sec.is_exec() && !sec.data.is_empty() => {
                    if sec.name == ".text" {
                        obj.text_shndx = Some(index);
                    }
                    obj.add_functions(&elf, index)?;
                }
                _ => {}
            }
        }
        obj.functions
            .sort_by_key(|f| (f.section_index, f.insn_offset));
        // clang never emits overlapping functions; refusing them keeps the
        // copies of their code within the size of the file.
        for w in obj.functions.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            if a.section_index == b.section_index && a.insn_offset + a.insns.len() > b.insn_offset {
                return Err(sec_err(
                    &a.section,
                    format!("functions '{}' and '{}' overlap", a.name, b.name),
                ));
            }
        }

        let mut btf = obj.btf.as_deref().map(Btf::parse).transpose()?;
        obj.externs = externs::collect(&elf, btf.as_ref())?;
        let kconfig_size = externs::kconfig_size(&obj.externs);
        if let Some(btf) = btf.as_mut() {
            if !obj.externs.is_empty() {
                let kconfig_offset = |name: &str| {
                    obj.externs
                        .iter()
                        .find(|e| e.name == name)
                        .and_then(|e| match e.kind {
                            ExternKind::Kconfig { offset, .. } => Some(offset),
                            ExternKind::Ksym { .. } => None,
                        })
                };
                btf.fixup_extern_datasecs(kconfig_offset, kconfig_size.unwrap_or(0))?;
            }
            btf.fixup_datasecs(
                |name| elf.section_by_name(name).map(|i| elf.sections[i].size),
                |name| {
                    elf.symbols
                        .iter()
                        .find(|s| {
                            s.kind == object::elf::STT_OBJECT
                                && (s.bind == object::elf::STB_GLOBAL
                                    || s.bind == object::elf::STB_WEAK)
                                && s.name == name
                        })
                        .map(|s| {
                            let hidden = s.visibility == object::elf::STV_HIDDEN
                                || s.visibility == object::elf::STV_INTERNAL;
                            (s.value, hidden)
                        })
                },
            )?;
            for f in &obj.functions {
                if f.hidden && Some(f.section_index) == obj.text_shndx {
                    btf.mark_func_static(&f.name);
                }
            }
            obj.btf = Some(btf.raw().to_vec());
            obj.btf_refused = btf.kernel_refusal();
            obj.exception_cbs = btf.exception_callbacks();
        }
        if let Some(shndx) = legacy_shndx {
            obj.maps.extend(maps::legacy_maps(&elf, shndx)?);
        }
        if let Some(shndx) = btf_maps_shndx {
            let btf = btf
                .as_ref()
                .ok_or_else(|| sec_err(".maps", "BTF-defined maps need .BTF"))?;
            obj.maps.extend(maps::btf_maps(&elf, shndx, btf)?);
        }
        obj.maps
            .extend(maps::data_maps(&elf, btf.as_ref(), &obj.name));
        if let Some(size) = kconfig_size {
            let symtab = elf
                .sections
                .iter()
                .position(|s| s.sh_type == object::elf::SHT_SYMTAB)
                .unwrap_or(0);
            if size > externs::KCONFIG_MAX {
                return Err(ObjError::Map {
                    map: ".kconfig".into(),
                    what: format!("{size} bytes of kconfig externs is implausibly large"),
                });
            }
            obj.kconfig_map = Some(obj.maps.len());
            obj.maps.push(maps::internal_map(
                btf.as_ref(),
                &obj.name,
                ".kconfig",
                symtab,
                MapOrigin::Kconfig,
                size,
                None,
            ));
        }

        obj.struct_ops = struct_ops::collect(&elf, btf.as_ref(), &mut obj.maps, &obj.functions)?;

        let map_sections: Vec<usize> = legacy_shndx.into_iter().chain(btf_maps_shndx).collect();
        let ctx = reloc::RelocCtx {
            elf: &elf,
            text_shndx: obj.text_shndx,
            maps: &obj.maps,
            externs: &obj.externs,
            map_sections: &map_sections,
        };
        reloc::collect(&ctx, &mut obj.functions)?;

        if let (Some(data), Some(btf)) = (btf_ext_data, btf.as_ref()) {
            let ext = BtfExt::parse(data, btf)?;
            let by_index = |name: &str| elf.section_by_name(name);
            let func = ext
                .func_info
                .into_iter()
                .filter_map(|(n, v)| Some((by_index(&n)?, v)))
                .collect();
            let line = ext
                .line_info
                .into_iter()
                .filter_map(|(n, v)| Some((by_index(&n)?, v)))
                .collect();
            obj.ext_info = Some((func, line));
        }
        if let (Some(data), Some(btf_bytes)) = (btf_ext_data, obj.btf.as_deref()) {
            let local = bpfcheck_btf::Btf::parse(btf_bytes).map_err(|e| ObjError::Btf {
                offset: e.offset().unwrap_or(0),
                what: e.to_string(),
            })?;
            obj.core_relos = core_relo::collect(data, &local, |n| elf.section_by_name(n))?;
        }
        Ok(obj)
    }

    /// libbpf's `bpf_object__add_programs` for one executable section.
    fn add_functions(&mut self, elf: &ElfObject<'_>, shndx: usize) -> Result<(), ObjError> {
        let sec = &elf.sections[shndx];
        let is_text = Some(shndx) == self.text_shndx;
        for (index, sym) in elf.symbols.iter().enumerate() {
            if usize::from(sym.shndx) != shndx || sym.kind != object::elf::STT_FUNC {
                continue;
            }
            let sym_err = |what: String| ObjError::Symbol {
                symbol: sym.name.clone(),
                index,
                what,
            };
            let (off, size) = (sym.value, sym.size);
            let end = off
                .checked_add(size)
                .filter(|&e| e <= sec.data.len() as u64)
                .ok_or_else(|| sym_err(format!("crosses the end of section '{}'", sec.name)))?;
            if size == 0 || size % 8 != 0 || off % 8 != 0 {
                return Err(sym_err(format!(
                    "corrupted program in '{}': offset {off}, size {size}",
                    sec.name
                )));
            }
            if !is_text && sym.bind == object::elf::STB_LOCAL {
                return Err(ObjError::Unsupported {
                    what: format!(
                        "program '{}' in section '{}' is static; libbpf supports static functions only in .text",
                        sym.name, sec.name
                    ),
                });
            }
            let insns = RawInsn::parse_all(&sec.data[off as usize..end as usize], elf.order)
                .map_err(|e| sym_err(e.to_string()))?;
            let (section, autoload) = match sec.name.strip_prefix('?') {
                Some(rest) => (rest.to_owned(), false),
                None => (sec.name.clone(), true),
            };
            let global = sym.bind != object::elf::STB_LOCAL;
            let hidden = global
                && (sym.visibility == object::elf::STV_HIDDEN
                    || sym.visibility == object::elf::STV_INTERNAL);
            self.functions.push(Function {
                name: sym.name.clone(),
                sec_def: sec::find_sec_def(&section),
                section,
                section_index: shndx,
                insn_offset: (off / 8) as usize,
                insns,
                autoload,
                global,
                hidden,
                relocs: Vec::new(),
            });
        }
        Ok(())
    }

    /// Whether a function is a `.text` subprogram rather than a program.
    pub fn is_subprogram(&self, f: &Function) -> bool {
        Some(f.section_index) == self.text_shndx
    }

    /// Whether preparing the object needs the target kernel's BTF, as libbpf
    /// asks for it: CO-RE relocations, struct_ops, `__ksym` externs, or
    /// programs attached through kernel BTF (`fentry/`, `tp_btf/`, `lsm/`…).
    pub fn needs_kernel_btf(&self) -> bool {
        self.has_core_relocations()
            || self.has_struct_ops
            || self
                .externs
                .iter()
                .any(|e| matches!(e.kind, externs::ExternKind::Ksym { .. }))
            || self.programs().any(|f| {
                f.sec_def
                    .is_some_and(|d| d.attach_btf_name(&f.section).is_some())
            })
    }

    /// The main programs, in libbpf's order.
    pub fn programs(&self) -> impl Iterator<Item = &Function> {
        self.functions.iter().filter(|f| !self.is_subprogram(f))
    }

    /// A main program by name.
    pub fn program(&self, name: &str) -> Option<&Function> {
        self.programs().find(|f| f.name == name)
    }

    /// Index of the `.kconfig` map in [`Object::maps`], if any.
    pub fn kconfig_map(&self) -> Option<usize> {
        self.kconfig_map
    }
}
