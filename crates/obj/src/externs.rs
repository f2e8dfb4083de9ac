//! `__kconfig` and `__ksym` externs: found in the symbol table, typed through
//! the `.kconfig` / `.ksyms` DATASECs of BTF, and resolved at request time
//! by an [`ExternResolver`] (a kernel profile).
//!
//! (The module is `externs` because `extern` is a Rust keyword.)

use object::elf;

use crate::btf_min::{Btf, kind};
use crate::elf::ElfObject;
use crate::error::ObjError;

/// Largest `.kconfig` map value accepted (kconfig values are small
/// scalars and strings; this only stops crafted objects from allocating
/// gigabytes).
pub(crate) const KCONFIG_MAX: u32 = 1 << 20;

/// `BTF_VAR_GLOBAL_EXTERN` / `BTF_FUNC_EXTERN`.
const LINKAGE_EXTERN: u32 = 2;

/// What an extern is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternKind {
    /// A `.kconfig` value, stored in the `.kconfig` map at `offset`.
    Kconfig {
        /// Offset in the `.kconfig` map value.
        offset: u32,
        /// Size of the value in bytes.
        size: u32,
        /// Alignment of the value.
        align: u32,
    },
    /// A `.ksyms` kernel symbol: a variable or a kfunc.
    Ksym {
        /// Whether it is a function (kfunc).
        func: bool,
        /// The object BTF type of the variable (after modifiers) or the
        /// function prototype; 0 for a typeless `extern const void x`.
        type_id: u32,
    },
}

/// One extern, in libbpf's order (kconfig by alignment, size and name, then
/// ksyms by name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extern {
    /// Name as declared.
    pub name: String,
    /// Declared `__weak`: left at zero when unresolved instead of failing.
    pub weak: bool,
    /// What it is.
    pub kind: ExternKind,
    /// Its VAR or FUNC id in the object's BTF.
    pub btf_id: u32,
    /// Its index in the ELF symbol table.
    pub sym_index: usize,
}

impl Extern {
    /// `.kconfig` or `.ksyms`.
    pub fn section(&self) -> &'static str {
        match self.kind {
            ExternKind::Kconfig { .. } => ".kconfig",
            ExternKind::Ksym { .. } => ".ksyms",
        }
    }
}

/// How a kernel symbol resolves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KsymValue {
    /// A BTF id in vmlinux BTF: a typed variable (`ld_imm64` with
    /// `BPF_PSEUDO_BTF_ID`) or a kfunc (`call` with `BPF_PSEUDO_KFUNC_CALL`).
    BtfId(u32),
    /// The address of a typeless symbol (`ld_imm64` of a plain constant).
    Address(u64),
}

/// Supplies extern values: implemented by a kernel profile.
pub trait ExternResolver {
    /// The bytes of a `.kconfig` extern, exactly the extern's size, in the
    /// object's byte order; `None` when the kernel has no such option.
    fn kconfig(&self, ext: &Extern) -> Option<Vec<u8>>;
    /// A `.ksyms` extern; `None` when the kernel has no such symbol.
    /// kfuncs are asked by their essential name (without a `___flavour`
    /// suffix: `bpf_task_acquire___one` is `bpf_task_acquire`), as libbpf
    /// looks them up in the kernel's BTF.
    fn ksym(&self, ext: &Extern) -> Option<KsymValue>;
}

/// libbpf's `bpf_core_essential_name_len`: a name without its
/// `___flavour` suffix.
pub fn essential_name(name: &str) -> &str {
    let b = name.as_bytes();
    let n = b.len();
    if n >= 5 {
        for i in (0..=n - 5).rev() {
            if b[i] != b'_' && &b[i + 1..i + 4] == b"___" && b[i + 4] != b'_' {
                return &name[..=i];
            }
        }
    }
    name
}

/// Asks `resolver` for a ksym as libbpf looks it up: kfuncs by their
/// essential name, variables by their full name.
pub(crate) fn resolve_ksym(resolver: &dyn ExternResolver, e: &Extern) -> Option<KsymValue> {
    let func = matches!(e.kind, ExternKind::Ksym { func: true, .. });
    let essential = essential_name(&e.name);
    if func && essential.len() != e.name.len() {
        let mut asked = e.clone();
        asked.name = essential.to_owned();
        resolver.ksym(&asked)
    } else {
        resolver.ksym(e)
    }
}

fn ext_err(name: &str, what: impl Into<String>) -> ObjError {
    ObjError::Extern {
        name: name.to_owned(),
        what: what.into(),
    }
}

/// The extern VAR or FUNC named `name` in BTF.
fn find_extern_btf_id(btf: &Btf, name: &str) -> Option<u32> {
    (1..btf.len() as u32).find(|&id| {
        btf.name(id) == name
            && btf.get(id).is_some_and(|t| match t.kind {
                kind::VAR => btf.var_linkage(&t) == Some(LINKAGE_EXTERN),
                kind::FUNC => t.vlen == LINKAGE_EXTERN,
                _ => false,
            })
    })
}

/// Name of the DATASEC that lists `var_id`.
fn extern_section(btf: &Btf, var_id: u32) -> Option<String> {
    (1..btf.len() as u32).find_map(|id| {
        let t = btf.get(id).filter(|t| t.kind == kind::DATASEC)?;
        btf.datasec_vars(&t)
            .iter()
            .any(|&(v, _, _)| v == var_id)
            .then(|| btf.name(id).to_owned())
    })
}

/// Collects and orders the object's externs and lays out `.kconfig`.
pub(crate) fn collect(elf: &ElfObject<'_>, btf: Option<&Btf>) -> Result<Vec<Extern>, ObjError> {
    let mut externs = Vec::new();
    for (sym_index, sym) in elf.symbols.iter().enumerate() {
        if !sym.is_extern() || sym.name.is_empty() {
            continue;
        }
        let btf = btf.ok_or_else(|| ext_err(&sym.name, "externs need BTF to be typed"))?;
        let btf_id = find_extern_btf_id(btf, &sym.name)
            .ok_or_else(|| ext_err(&sym.name, "no extern BTF VAR or FUNC of this name"))?;
        let t = btf
            .get(btf_id)
            .ok_or_else(|| ext_err(&sym.name, "BTF id out of range"))?;
        let section = extern_section(btf, btf_id)
            .ok_or_else(|| ext_err(&sym.name, "not listed in any DATASEC"))?;
        let kind = match section.as_str() {
            ".kconfig" => {
                if t.kind == kind::FUNC {
                    return Err(ext_err(&sym.name, "a function can't be a .kconfig extern"));
                }
                let size = btf
                    .resolve_size(t.size_type)
                    .filter(|&s| s > 0)
                    .ok_or_else(|| ext_err(&sym.name, "can't determine the value size"))?;
                let align = btf
                    .align_of(t.size_type)
                    .filter(|&a| a > 0)
                    .ok_or_else(|| ext_err(&sym.name, "can't determine the value alignment"))?;
                ExternKind::Kconfig {
                    offset: 0,
                    size: u32::try_from(size).unwrap_or(u32::MAX),
                    align: u32::try_from(align).unwrap_or(8),
                }
            }
            ".ksyms" => ExternKind::Ksym {
                func: t.kind == kind::FUNC,
                type_id: btf.skip_mods(t.size_type).map_or(0, |(id, _)| id),
            },
            other => {
                return Err(ext_err(
                    &sym.name,
                    format!("extern in section '{other}' is neither .kconfig nor .ksyms"),
                ));
            }
        };
        externs.push(Extern {
            name: btf.name(btf_id).to_owned(),
            weak: sym.bind == elf::STB_WEAK,
            kind,
            btf_id,
            sym_index,
        });
    }
    externs.sort_by(|a, b| {
        let key = |e: &Extern| match e.kind {
            ExternKind::Kconfig { size, align, .. } => (0, u32::MAX - align, size),
            ExternKind::Ksym { .. } => (1, 0, 0),
        };
        key(a).cmp(&key(b)).then_with(|| a.name.cmp(&b.name))
    });
    let mut off: u32 = 0;
    for e in &mut externs {
        if let ExternKind::Kconfig {
            offset,
            size,
            align,
        } = &mut e.kind
        {
            *offset = off.div_ceil(*align).saturating_mul(*align);
            off = offset.saturating_add(*size);
        }
    }
    Ok(externs)
}

/// Size of the `.kconfig` map value: the end of the last kconfig extern.
pub(crate) fn kconfig_size(externs: &[Extern]) -> Option<u32> {
    externs.iter().rev().find_map(|e| match e.kind {
        ExternKind::Kconfig { offset, size, .. } => Some(offset.saturating_add(size)),
        ExternKind::Ksym { .. } => None,
    })
}
