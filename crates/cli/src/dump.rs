//! `bpfcheck dump`: what an object holds, as bpfcheck's loader sees it.

use std::{fmt::Write, path::Path};

use anyhow::{Context, Result, anyhow};
use bpfcheck_obj::{ExternKind, MapOrigin, Object, object_name_from_path};
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

pub(crate) fn dump(files: &[std::path::PathBuf], format: Format) -> Result<u8> {
    let mut all = Vec::new();
    for path in files {
        let bytes =
            std::fs::read(path).with_context(|| format!("{}: cannot read file", path.display()))?;
        let obj = Object::parse_named(&bytes, &object_name_from_path(path))
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        all.push(describe(path, &obj));
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
