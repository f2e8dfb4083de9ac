//! Relocations: recording them per function, and linking a main program
//! with the subprograms it reaches, the way libbpf's
//! `bpf_object__reloc_code` / `append_subprog_code` do.
//!
//! Linking appends each reachable `.text` subprogram once, in depth-first
//! order of first reference, and rewrites `call pc+N` and `ld_imm64`
//! (`BPF_PSEUDO_FUNC`) offsets to the appended copies. func_info and
//! line_info follow the code. Map, global data and extern references are
//! resolved afterwards on the linked program (see `request`).

use object::elf;

use bpfcheck_uapi::{FuncInfo, LineInfo, RawInsn, op};

use crate::Function;
use crate::elf::ElfObject;
use crate::error::ObjError;
use crate::externs::Extern;
use crate::maps::{MapOrigin, ObjMap};

/// `BPF_LD | BPF_IMM | BPF_DW`.
pub(crate) const LD_IMM64: u8 = op::LD | op::IMM | op::DW;
/// `BPF_JMP | BPF_CALL`.
pub(crate) const CALL: u8 = op::JMP | op::CALL;

/// What an instruction refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RelocKind {
    /// `call` of a `.text` function at this byte offset (plus `imm`).
    Call { sym_off: u64 },
    /// Address of a `.text` function (`ld_imm64`, callbacks).
    SubprogAddr { sym_off: u64 },
    /// A map by index (`BPF_PSEUDO_MAP_FD`).
    Map { map: usize },
    /// A global variable: `sym_off` bytes into the value of a data map.
    Data { map: usize, sym_off: u64 },
    /// `ld_imm64` of an extern variable.
    ExternLd { ext: usize },
    /// `call` of an extern function (kfunc).
    ExternCall { ext: usize },
}

/// One recorded relocation, at an instruction index relative to the start
/// of its function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reloc {
    pub(crate) insn: usize,
    pub(crate) kind: RelocKind,
}

/// libbpf's `insn_is_subprog_call`.
pub(crate) fn is_subprog_call(i: &RawInsn) -> bool {
    i.code == CALL && i.src == op::PSEUDO_CALL && i.dst == 0 && i.off == 0
}

fn is_pseudo_func(i: &RawInsn) -> bool {
    i.code == LD_IMM64 && i.src == op::PSEUDO_FUNC
}

/// Context for recording relocations.
pub(crate) struct RelocCtx<'a> {
    pub(crate) elf: &'a ElfObject<'a>,
    pub(crate) text_shndx: Option<usize>,
    pub(crate) maps: &'a [ObjMap],
    pub(crate) externs: &'a [Extern],
    /// Sections whose symbols name maps (`.maps`, legacy `maps`).
    pub(crate) map_sections: &'a [usize],
}

/// The function of section `sec` containing instruction `insn` (an index
/// within the section); `functions` is sorted by section and offset.
pub(crate) fn find_function(functions: &[Function], sec: usize, insn: usize) -> Option<usize> {
    let i = functions.partition_point(|f| (f.section_index, f.insn_offset) <= (sec, insn));
    let idx = i.checked_sub(1)?;
    let f = &functions[idx];
    (f.section_index == sec && insn < f.insn_offset + f.insns.len()).then_some(idx)
}

/// Records the relocations of every executable section into its functions,
/// and marks `ld_imm64` of subprogram addresses as `BPF_PSEUDO_FUNC`.
pub(crate) fn collect(ctx: &RelocCtx<'_>, functions: &mut [Function]) -> Result<(), ObjError> {
    for rs in &ctx.elf.rel_sections {
        let target = &ctx.elf.sections[rs.target];
        if !target.is_exec() {
            continue;
        }
        for rel in &rs.rels {
            let sym = ctx.elf.symbols.get(rel.sym as usize);
            let sym_name = match sym {
                Some(s) if s.kind == elf::STT_SECTION && s.name.is_empty() => {
                    ctx.elf.section_name(usize::from(s.shndx))
                }
                Some(s) => s.name.clone(),
                None => format!("#{}", rel.sym),
            };
            let err = |what: String| ObjError::Reloc {
                section: target.name.clone(),
                offset: rel.offset,
                symbol: sym_name.clone(),
                what,
            };
            let sym = sym.ok_or_else(|| err(format!("symbol index {} out of range", rel.sym)))?;
            if rel.offset % 8 != 0 || rel.offset >= target.data.len() as u64 {
                return Err(err("offset is not an instruction of the section".into()));
            }
            let sec_insn = (rel.offset / 8) as usize;
            // Relocations in code no program covers are skipped, as libbpf does.
            let Some(fidx) = find_function(functions, rs.target, sec_insn) else {
                continue;
            };
            let f = &mut functions[fidx];
            let insn = sec_insn - f.insn_offset;
            let kind = classify(ctx, sym, rel.sym as usize, &f.insns[insn], &err)?;
            if matches!(kind, RelocKind::SubprogAddr { .. }) {
                f.insns[insn].src = op::PSEUDO_FUNC;
            }
            f.relocs.push(Reloc { insn, kind });
        }
    }
    for f in functions.iter_mut() {
        f.relocs.sort_by_key(|r| r.insn);
    }
    Ok(())
}

/// libbpf's `bpf_program__record_reloc`.
fn classify(
    ctx: &RelocCtx<'_>,
    sym: &crate::elf::Symbol,
    sym_index: usize,
    insn: &RawInsn,
    err: &dyn Fn(String) -> ObjError,
) -> Result<RelocKind, ObjError> {
    let is_call = insn.code == CALL;
    if !is_call && insn.code != LD_IMM64 {
        return Err(err(format!(
            "relocated instruction has code {:#04x}, not call or ld_imm64",
            insn.code
        )));
    }
    if sym.is_extern() {
        let ext = ctx
            .externs
            .iter()
            .position(|e| e.sym_index == sym_index)
            .ok_or_else(|| err("extern symbol has no extern description".into()))?;
        return Ok(if is_call {
            RelocKind::ExternCall { ext }
        } else {
            RelocKind::ExternLd { ext }
        });
    }
    let shndx = usize::from(sym.shndx);
    if is_call {
        if insn.src != op::PSEUDO_CALL {
            return Err(err("call is not a BPF-to-BPF call (src_reg != 1)".into()));
        }
        if shndx == 0 || Some(shndx) != ctx.text_shndx {
            return Err(err(format!(
                "call target is in section '{}', not .text",
                ctx.elf.section_name(shndx)
            )));
        }
        if !sym.value.is_multiple_of(8) {
            return Err(err(format!(
                "call target offset {} is not an instruction",
                sym.value
            )));
        }
        return Ok(RelocKind::Call { sym_off: sym.value });
    }
    if shndx == 0 || shndx >= usize::from(elf::SHN_LORESERVE) {
        return Err(err(format!(
            "symbol is in special section {shndx:#x}; forgot to initialize a global variable?"
        )));
    }
    let in_text = Some(shndx) == ctx.text_shndx;
    let subprog = in_text
        && ((sym.bind == elf::STB_LOCAL && sym.kind == elf::STT_SECTION)
            || (sym.bind == elf::STB_GLOBAL && sym.kind == elf::STT_FUNC));
    if subprog {
        if !sym.value.is_multiple_of(8) || insn.imm % 8 != 0 {
            return Err(err(format!(
                "subprogram address {}+{} is not an instruction",
                sym.value, insn.imm
            )));
        }
        return Ok(RelocKind::SubprogAddr { sym_off: sym.value });
    }
    if ctx.map_sections.contains(&shndx) {
        let map = ctx
            .maps
            .iter()
            .position(|m| {
                !m.origin.is_internal() && m.section_index == shndx && m.section_offset == sym.value
            })
            .ok_or_else(|| err(format!("no map at offset {} of its section", sym.value)))?;
        return Ok(RelocKind::Map { map });
    }
    let map = ctx
        .maps
        .iter()
        .position(|m| {
            matches!(
                m.origin,
                MapOrigin::Data | MapOrigin::Rodata | MapOrigin::Bss
            ) && m.section_index == shndx
        })
        .ok_or_else(|| {
            err(format!(
                "section '{}' is neither a map nor a global data section",
                ctx.elf.section_name(shndx)
            ))
        })?;
    Ok(RelocKind::Data {
        map,
        sym_off: sym.value,
    })
}

/// A main program with its subprograms appended.
#[derive(Clone, Debug, Default)]
pub(crate) struct Linked {
    pub(crate) insns: Vec<RawInsn>,
    /// Relocations at absolute instruction indices of `insns`.
    pub(crate) relocs: Vec<Reloc>,
    pub(crate) func_info: Option<Vec<FuncInfo>>,
    pub(crate) line_info: Option<Vec<LineInfo>>,
    /// Where each function of the object landed in `insns`, if it did.
    pub(crate) placed: Vec<Option<usize>>,
}

/// `.BTF.ext` records by ELF section index (offsets in bytes).
pub(crate) type SecInfo<T> = Vec<(usize, Vec<T>)>;

/// The func_info and line_info of an object.
pub(crate) struct ExtInfo<'a> {
    pub(crate) func_info: &'a [(usize, Vec<FuncInfo>)],
    pub(crate) line_info: &'a [(usize, Vec<LineInfo>)],
}

/// Which step of the info merge failed (libbpf tolerates a missing first
/// record set but not a later one).
enum InfoStep {
    Found,
    Missing,
}

/// Appends the records of function `f` to `out`, rebased to `sub_off`.
fn append_info<T: Copy>(
    recs: &[(usize, Vec<T>)],
    f: &Function,
    sub_off: usize,
    out: &mut Vec<T>,
    insn_off: impl Fn(&mut T) -> &mut u32,
) -> InfoStep {
    let Some((_, list)) = recs.iter().find(|(sec, _)| *sec == f.section_index) else {
        return InfoStep::Missing;
    };
    let start = f.insn_offset;
    let end = f.insn_offset + f.insns.len();
    let mut found = false;
    for rec in list {
        let mut rec = *rec;
        let off = (*insn_off(&mut rec) / 8) as usize;
        if off < start {
            continue;
        }
        if off >= end {
            break;
        }
        found = true;
        *insn_off(&mut rec) = u32::try_from(off - start + sub_off).unwrap_or(u32::MAX);
        out.push(rec);
    }
    if found {
        InfoStep::Found
    } else {
        InfoStep::Missing
    }
}

/// Merges func_info / line_info of one (sub)program into the main
/// program's, with libbpf's policy: a main program without records drops
/// that kind of record entirely; a subprogram without them is an error.
fn merge_info<T: Copy>(
    recs: &[(usize, Vec<T>)],
    f: &Function,
    sub_off: usize,
    is_main: bool,
    acc: &mut Option<Vec<T>>,
    what: &str,
    insn_off: impl Fn(&mut T) -> &mut u32,
) -> Result<(), ObjError> {
    if is_main {
        let mut v = Vec::new();
        if let InfoStep::Found = append_info(recs, f, sub_off, &mut v, insn_off) {
            *acc = Some(v);
        }
        return Ok(());
    }
    let Some(v) = acc else {
        return Ok(());
    };
    match append_info(recs, f, sub_off, v, insn_off) {
        InfoStep::Found => Ok(()),
        InfoStep::Missing => Err(ObjError::Program {
            program: f.name.clone(),
            insn: None,
            what: format!("missing .BTF.ext {what} for this subprogram"),
        }),
    }
}

/// Links main program `main` of `functions`.
///
/// `exception_cb`, the program's exception callback, is appended after
/// the subprograms it calls unless one of them already called it (libbpf
/// appends it so, then relocates it like any subprogram).
pub(crate) fn link(
    functions: &[Function],
    main: usize,
    text_shndx: Option<usize>,
    ext: Option<&ExtInfo<'_>>,
    exception_cb: Option<usize>,
) -> Result<Linked, ObjError> {
    let mut out = Linked::default();
    // Where each function landed in this main program, if appended.
    let mut placed: Vec<Option<usize>> = vec![None; functions.len()];
    placed[main] = Some(0);
    out.insns.extend_from_slice(&functions[main].insns);
    add_function(functions, main, 0, true, ext, &mut out)?;

    // Depth-first, like libbpf's recursion: a newly appended subprogram is
    // scanned before the rest of its caller.
    let mut stack = vec![(main, 0usize)];
    let mut pending_cb = exception_cb;
    loop {
        let Some((fidx, start)) = stack.pop() else {
            match pending_cb.take() {
                Some(cb) if placed[cb].is_none() => {
                    let off = out.insns.len();
                    placed[cb] = Some(off);
                    out.insns.extend_from_slice(&functions[cb].insns);
                    out.relocs
                        .extend(functions[cb].relocs.iter().map(|r| Reloc {
                            insn: r.insn + off,
                            kind: r.kind,
                        }));
                    add_info(functions, cb, off, ext, &mut out)?;
                    stack.push((cb, 0));
                    continue;
                }
                _ => break,
            }
        };
        let f = &functions[fidx];
        let base = placed[fidx].unwrap_or(0);
        for i in start..f.insns.len() {
            let insn = out.insns[base + i];
            if !is_subprog_call(&insn) && !is_pseudo_func(&insn) {
                continue;
            }
            let relo = f
                .relocs
                .binary_search_by_key(&i, |r| r.insn)
                .ok()
                .map(|k| &f.relocs[k]);
            let err = |what: String| ObjError::Program {
                program: f.name.clone(),
                insn: Some(u32::try_from(base + i).unwrap_or(u32::MAX)),
                what,
            };
            let target = match relo.map(|r| r.kind) {
                // kfunc calls are resolved with the data relocations.
                Some(RelocKind::ExternCall { .. }) => continue,
                Some(RelocKind::Call { sym_off }) => (sym_off / 8) as i64 + i64::from(insn.imm) + 1,
                Some(RelocKind::SubprogAddr { sym_off }) => {
                    (sym_off as i64).saturating_add(i64::from(insn.imm)) / 8
                }
                Some(other) => return Err(err(format!("unexpected relocation {other:?}"))),
                None if is_pseudo_func(&insn) => {
                    return Err(err("subprogram address without relocation".into()));
                }
                // A call within the same section carries no relocation;
                // `imm` is relative to the original position.
                None => (f.insn_offset + i) as i64 + i64::from(insn.imm) + 1,
            };
            let sub = text_shndx
                .and_then(|t| usize::try_from(target).ok().map(|x| (t, x)))
                .and_then(|(t, x)| find_function(functions, t, x))
                .ok_or_else(|| err(format!("call target insn {target} is not a .text function")))?;
            if let Some(sub_off) = placed[sub] {
                fix_offset(&mut out.insns[base + i], sub_off_delta(sub_off, base + i))?;
                continue;
            }
            let off = out.insns.len();
            placed[sub] = Some(off);
            out.insns.extend_from_slice(&functions[sub].insns);
            out.relocs
                .extend(functions[sub].relocs.iter().map(|r| Reloc {
                    insn: r.insn + off,
                    kind: r.kind,
                }));
            add_info(functions, sub, off, ext, &mut out)?;
            // Fix this instruction now (its target is known), scan the
            // subprogram, then resume after this instruction.
            fix_offset(&mut out.insns[base + i], sub_off_delta(off, base + i))?;
            stack.push((fidx, i + 1));
            stack.push((sub, 0));
            break;
        }
    }
    out.placed = placed;
    Ok(out)
}

fn sub_off_delta(target: usize, at: usize) -> i64 {
    target as i64 - at as i64 - 1
}

fn fix_offset(insn: &mut RawInsn, delta: i64) -> Result<(), ObjError> {
    insn.imm = i32::try_from(delta).map_err(|_| ObjError::Unsupported {
        what: format!("call offset {delta} does not fit in imm"),
    })?;
    Ok(())
}

fn add_function(
    functions: &[Function],
    fidx: usize,
    off: usize,
    is_main: bool,
    ext: Option<&ExtInfo<'_>>,
    out: &mut Linked,
) -> Result<(), ObjError> {
    let f = &functions[fidx];
    if is_main {
        out.relocs.extend(f.relocs.iter().copied());
    }
    let Some(ext) = ext else { return Ok(()) };
    merge_info(
        ext.func_info,
        f,
        off,
        is_main,
        &mut out.func_info,
        "func_info",
        |r: &mut FuncInfo| &mut r.insn_off,
    )?;
    merge_info(
        ext.line_info,
        f,
        off,
        is_main,
        &mut out.line_info,
        "line_info",
        |r: &mut LineInfo| &mut r.insn_off,
    )
}

fn add_info(
    functions: &[Function],
    fidx: usize,
    off: usize,
    ext: Option<&ExtInfo<'_>>,
    out: &mut Linked,
) -> Result<(), ObjError> {
    add_function(functions, fidx, off, false, ext, out)
}
