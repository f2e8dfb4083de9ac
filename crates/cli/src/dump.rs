//! `bpfcheck dump`: what an object holds, as bpfcheck's loader sees it,
//! including every CO-RE relocation and how it resolves against a
//! kernel's BTF (`--kernel`, default the running kernel's when it has BTF).

use std::{fmt::Write, path::Path};

use anyhow::{Context, Result, anyhow, bail};
use bpfcheck_obj::bpfcheck_btf::Btf;
use bpfcheck_obj::bpfcheck_btf::core::{CorePatch, CoreResolution, PoisonCause};
use bpfcheck_obj::{CoreReloReport, ExternKind, MapOrigin, Object, object_name_from_path};
use serde_json::{Value, json};

use crate::Format;

fn origin(o: MapOrigin) -> &'static str {
    match o {
        MapOrigin::Btf => ".maps",
        MapOrigin::Legacy => "maps (legacy)",
        MapOrigin::Data => ".data",
        MapOrigin::Rodata => ".rodata",
        MapOrigin::Bss => ".bss",
        MapOrigin::Kconfig => ".kconfig",
    }
}

/// What a relocation asks, in words (`field byte offset`).
fn kind_words(r: &CoreResolution) -> &'static str {
    use bpfcheck_obj::bpfcheck_btf::ext::CoreReloKind as K;
    match r.relo.kind {
        K::FieldByteOffset => "field byte offset",
        K::FieldByteSize => "field byte size",
        K::FieldExists => "field exists",
        K::FieldSigned => "field signed",
        K::FieldLshiftU64 => "field lshift",
        K::FieldRshiftU64 => "field rshift",
        K::TypeIdLocal => "local type id",
        K::TypeIdTarget => "target type id",
        K::TypeExists => "type exists",
        K::TypeSize => "type size",
        K::EnumvalExists => "enum value exists",
        K::EnumvalValue => "enum value",
        K::TypeMatches => "type matches",
    }
}

/// One line: `insn 12: field byte offset task_struct::pid → 2456 (was 2456)`.
fn core_line(r: &CoreReloReport) -> String {
    let res = &r.resolution;
    let head = format!(
        "{} insn {}: {} {}",
        r.function,
        r.insn,
        kind_words(res),
        res.spec
    );
    match (&res.result, &r.patch) {
        (Err(e), _) => format!("{head} → FAILS: {e}"),
        (Ok(_), Some(Err(e))) => format!("{head} → FAILS to patch: {e}"),
        (Ok(_), Some(Ok(CorePatch::Poisoned { why }))) => {
            let why = match why {
                PoisonCause::Unresolved => res.poison_reason().unwrap_or_default(),
                PoisonCause::MemSizeAdjust => {
                    "field size changed and the access cannot be resized safely".into()
                }
            };
            format!("{head} → poisoned (call 0xbad2310): {why}")
        }
        (Ok(v), _) => {
            let target = res
                .target_spec
                .as_ref()
                .filter(|t| **t != res.spec)
                .map(|t| format!(" [as {t}]"))
                .unwrap_or_default();
            let size = match r.patch {
                Some(Ok(CorePatch::Off {
                    size: Some((a, b)), ..
                })) => format!(", access size {a} → {b}"),
                _ => String::new(),
            };
            format!("{head} → {} (was {}){target}{size}", v.new, v.orig)
        }
    }
}

fn core_json(r: &CoreReloReport) -> Value {
    let res = &r.resolution;
    json!({
        "function": r.function,
        "insn": r.insn.0,
        "kind": res.relo.kind.name(),
        "local_type": res.local_name,
        "local_type_id": res.relo.type_id.0,
        "access": res.access,
        "spec": res.spec,
        "target_spec": res.target_spec,
        "candidates": res.candidates.iter().map(|c| json!({
            "type_id": c.type_id.0,
            "name": c.name,
            "matched": c.outcome.is_ok(),
            "why_not": c.outcome.as_ref().err(),
        })).collect::<Vec<_>>(),
        "orig": res.result.as_ref().ok().map(|v| v.orig),
        "new": res.result.as_ref().ok().map(|v| v.new),
        "poisoned": matches!(r.patch, Some(Ok(CorePatch::Poisoned { .. }))),
        "error": r.failure(),
        "text": core_line(r),
    })
}

/// The CO-RE section: every relocation resolved against `target`, or just
/// listed when there is no target BTF.
fn core_section(obj: &Object, target: Option<&Btf<'_>>, note: Option<&str>) -> Value {
    if !obj.has_core_relocations() {
        return Value::Null;
    }
    match target {
        Some(t) => {
            let (_, reports) = obj.core_relocations(t);
            json!({
                "target": note,
                "relocations": reports.iter().map(core_json).collect::<Vec<_>>(),
            })
        }
        None => json!({
            "target": Value::Null,
            "unresolved": note.unwrap_or("no kernel BTF: libbpf would refuse to load this object"),
        }),
    }
}

fn describe(path: &Path, obj: &Object) -> Value {
    let programs: Vec<Value> = obj
        .functions
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "section": f.section,
                "subprogram": obj.is_subprogram(f),
                "prog_type": f.sec_def.map(|d| d.prog_type.to_string()),
                "insns": f.insns.len(),
                "autoload": f.autoload,
                "global": f.global,
            })
        })
        .collect();
    let maps: Vec<Value> = obj
        .maps
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "origin": origin(m.origin),
                "map_type": m.spec.map_type.to_string(),
                "key_size": m.spec.key_size,
                "value_size": m.spec.value_size,
                "max_entries": m.spec.max_entries,
                "flags": m.spec.flags,
                "frozen": m.spec.frozen,
                "btf_key_type_id": m.spec.btf_key_type_id,
                "btf_value_type_id": m.spec.btf_value_type_id,
            })
        })
        .collect();
    let externs: Vec<Value> = obj
        .externs
        .iter()
        .map(|e| {
            let kind = match e.kind {
                ExternKind::Kconfig { .. } => "kconfig",
                ExternKind::Ksym { func: true, .. } => "kfunc",
                ExternKind::Ksym {
                    func: false,
                    type_id: 0,
                } => "ksym (typeless)",
                ExternKind::Ksym { func: false, .. } => "ksym",
            };
            json!({ "name": e.name, "kind": kind, "weak": e.weak })
        })
        .collect();
    json!({
        "object": path.display().to_string(),
        "name": obj.name,
        "byte_order": format!("{:?}", obj.byte_order).to_lowercase(),
        "license": obj.license,
        "kern_version": obj.kern_version,
        "btf": obj.btf.as_ref().map(Vec::len),
        "programs": programs,
        "maps": maps,
        "externs": externs,
    })
}

fn render(v: &Value) -> String {
    let mut out = String::new();
    let s = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    let _ = writeln!(
        out,
        "{}: object `{}`, {}-endian, license `{}`, BTF {}",
        s(&v["object"]),
        s(&v["name"]),
        s(&v["byte_order"]),
        s(&v["license"]),
        v["btf"]
            .as_u64()
            .map_or_else(|| "none".to_owned(), |n| format!("{n} bytes"))
    );
    out.push_str("programs:\n");
    for p in v["programs"].as_array().into_iter().flatten() {
        let what = if p["subprogram"] == true {
            "subprogram".to_owned()
        } else {
            s(&p["prog_type"])
        };
        let _ = writeln!(
            out,
            "  {:<24} {:<28} {:<16} {:>5} insns{}",
            s(&p["name"]),
            s(&p["section"]),
            what,
            p["insns"],
            if p["autoload"] == false {
                "  (autoload off)"
            } else {
                ""
            }
        );
    }
    out.push_str("maps:\n");
    for m in v["maps"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  {:<24} {:<16} key {:>3} value {:>5} max {:>7} flags {:#x} ({}{})",
            s(&m["name"]),
            s(&m["map_type"]),
            m["key_size"],
            m["value_size"],
            m["max_entries"],
            m["flags"].as_u64().unwrap_or(0),
            s(&m["origin"]),
            if m["frozen"] == true { ", frozen" } else { "" }
        );
    }
    if let Some(core) = v["core"].as_object() {
        match core.get("relocations").and_then(Value::as_array) {
            Some(relos) => {
                let _ = writeln!(
                    out,
                    "CO-RE relocations ({}) against {}:",
                    relos.len(),
                    s(&core["target"])
                );
                for r in relos {
                    let _ = writeln!(out, "  {}", s(&r["text"]));
                }
            }
            None => {
                let _ = writeln!(out, "CO-RE relocations: {}", s(&core["unresolved"]));
            }
        }
    }
    let externs = v["externs"].as_array().map_or(&[][..], Vec::as_slice);
    if !externs.is_empty() {
        out.push_str("externs:\n");
        for e in externs {
            let _ = writeln!(
                out,
                "  {:<24} {}{}",
                s(&e["name"]),
                s(&e["kind"]),
                if e["weak"] == true { ", weak" } else { "" }
            );
        }
    }
    out
}

/// `bpfcheck dump` without `--kernel`: CO-RE resolves against the running
/// kernel's BTF when it has one, as libbpf would.
pub(crate) fn dump(files: &[std::path::PathBuf], format: Format) -> Result<u8> {
    let kernel = std::path::Path::new("/sys/kernel/btf/vmlinux")
        .exists()
        .then_some("host");
    dump_with_kernel(files, format, kernel)
}

/// `bpfcheck dump --kernel PROFILE`: CO-RE resolves against that
/// profile's BTF (`host`, a profile name, `btf:PATH`).
pub(crate) fn dump_with_kernel(
    files: &[std::path::PathBuf],
    format: Format,
    kernel: Option<&str>,
) -> Result<u8> {
    let profile = kernel.map(crate::commands::resolve_profile).transpose()?;
    let (btf, note) = match &profile {
        Some(p) => match p.btf.as_ref().map(|b| b.btf()) {
            Some(Ok(b)) => (Some(b), Some(format!("{} BTF", p.name))),
            Some(Err(e)) => (
                None,
                Some(format!("kernel {}: BTF unreadable: {e}", p.name)),
            ),
            None => (None, Some(format!("kernel {} has no BTF", p.name))),
        },
        None => (None, None),
    };
    let mut all = Vec::new();
    for path in files {
        let bytes =
            std::fs::read(path).with_context(|| format!("{}: cannot read file", path.display()))?;
        if bpfcheck_obj::lskel::is_light_skeleton(&bytes) {
            // Its objects are created by the loader program at run time.
            bail!(
                "{}: a light skeleton has no ELF object to list; `check` and `disasm` take its loader program",
                path.display()
            );
        }
        let obj = Object::parse_named(&bytes, &object_name_from_path(path))
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let mut v = describe(path, &obj);
        v["core"] = core_section(&obj, btf, note.as_deref());
        all.push(v);
    }
    match format {
        Format::Json => out!(
            "{}",
            serde_json::to_string_pretty(&all).context("cannot serialise")?
        ),
        Format::Text | Format::Sarif => {
            for v in &all {
                out_nonl!("{}", render(v));
            }
        }
    }
    Ok(0)
}
