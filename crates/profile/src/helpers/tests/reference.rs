//! Cross-check against the reference CSVs of another extraction.

use super::*;

const DIR: &str = "/work/shared/reference";

fn csv(name: &str) -> Option<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(format!("{DIR}/{name}")).ok()?;
    Some(text.lines().map(split).collect())
}

/// Splits one CSV line (fields may be double-quoted).
fn split(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// The reference writes kernel aliases; the data expands them.
fn expand(t: &str) -> String {
    let t = t.replace(' ', "");
    let mut parts: Vec<String> = Vec::new();
    for p in t.split('|') {
        let alias = match p {
            "ARG_PTR_TO_UNINIT_MEM" => "ARG_PTR_TO_MEM|MEM_UNINIT|MEM_WRITE",
            "ARG_PTR_TO_FIXED_SIZE_MEM" => "ARG_PTR_TO_MEM|MEM_FIXED_SIZE",
            _ => p,
        };
        let alias = match alias.strip_suffix("_OR_NULL") {
            Some(base) => format!("{base}|PTR_MAYBE_NULL"),
            None => alias.to_owned(),
        };
        parts.extend(alias.split('|').map(str::to_owned));
    }
    let mut flags: Vec<_> = parts
        .iter()
        .filter(|p| !p.starts_with("ARG_") && !p.starts_with("RET_"))
        .cloned()
        .collect();
    flags.sort();
    flags.dedup();
    let base: Vec<_> = parts
        .iter()
        .filter(|p| p.starts_with("ARG_") || p.starts_with("RET_"))
        .cloned()
        .collect();
    base.into_iter().chain(flags).collect::<Vec<_>>().join("|")
}

fn mine(t: &str) -> String {
    // Our Display writes `A | B`; compare in the same sorted form.
    expand(t)
}

fn check_protos(d: HelperData, file: &str) -> Option<Vec<String>> {
    let rows = csv(file)?;
    let t = table(d);
    let mut diffs = Vec::new();
    let mut seen = 0;
    for r in &rows[1..] {
        let (id, sym) = (&r[0], &r[2]);
        let Some(p) = t.proto(sym) else {
            diffs.push(format!("{id} {sym}: not in data"));
            continue;
        };
        seen += 1;
        if p.id.to_string() != *id {
            diffs.push(format!("{sym}: id {} vs {id}", p.id));
        }
        if p.gpl_only != (r[4] == "true") {
            diffs.push(format!("{sym}: gpl_only"));
        }
        if mine(&p.ret.to_string()) != expand(&r[5]) {
            diffs.push(format!("{sym}: ret {} vs {}", p.ret, r[5]));
        }
        for k in 0..5 {
            let theirs = if r[6 + k].is_empty() {
                "ARG_DONTCARE".to_owned()
            } else {
                expand(&r[6 + k])
            };
            if mine(&p.args[k].to_string()) != theirs {
                diffs.push(format!("{sym}: arg{} {} vs {}", k + 1, p.args[k], r[6 + k]));
            }
        }
        if p.pkt_access != (r[14] == "true") || p.might_sleep != (r[15] == "true") {
            diffs.push(format!("{sym}: pkt_access/might_sleep"));
        }
    }
    let extra = t.protos().len().saturating_sub(seen);
    eprintln!(
        "{file}: {} reference rows, {seen} matched by symbol, {extra} only in data",
        rows.len() - 1
    );
    Some(diffs)
}

fn check_progtypes(d: HelperData, file: &str) -> Option<(usize, Vec<String>)> {
    let rows = csv(file)?;
    let t = table(d);
    let header = &rows[0];
    let mut diffs = Vec::new();
    let mut cells = 0;
    for r in &rows[2..] {
        let Ok(id) = r[0].parse::<u32>() else {
            continue;
        };
        for (col, name) in header.iter().enumerate().skip(2) {
            if name.contains(':') || name == "struct_ops" || name == "ext" {
                continue; // answered by a target, not the program type
            }
            let Some(pt) = ProgType::from_name(name) else {
                diffs.push(format!("column {name}"));
                continue;
            };
            if !t.0.prog_types.contains_key(&pt) {
                continue; // not built in this configuration (lirc_mode2)
            }
            let h = t.for_prog_type(pt);
            let cell = r.get(col).map_or("", String::as_str);
            cells += 1;
            for (caps, want) in [
                (
                    Capabilities::ROOT,
                    match cell.chars().next() {
                        Some('Y') => Offer::Always,
                        Some('C') => Offer::Conditional,
                        _ => Offer::Never,
                    },
                ),
                (
                    NOBODY,
                    match cell {
                        "Y" => Offer::Always,
                        "C" => Offer::Conditional,
                        _ => Offer::Never,
                    },
                ),
            ] {
                let got = h.offer(id, caps);
                if got != want {
                    diffs.push(format!(
                        "{name} {id} {} caps={}: {got:?} vs `{cell}`",
                        r[1], caps.bpf
                    ));
                }
            }
        }
    }
    Some((cells, diffs))
}

#[test]
fn agrees_with_the_reference_extraction() {
    for (d, v) in [(HelperData::V6_1, "6.1"), (HelperData::V6_12, "6.12")] {
        let Some(p) = check_protos(d, &format!("helper-protos-{v}.csv")) else {
            eprintln!("skipped: no reference CSVs in {DIR}");
            return;
        };
        for l in &p {
            eprintln!("{v} proto: {l}");
        }
        let (cells, c) =
            check_progtypes(d, &format!("helper-progtype-{v}.csv")).unwrap_or_default();
        for l in &c {
            eprintln!("{v} progtype: {l}");
        }
        eprintln!(
            "{v}: {cells} cells compared, {} proto diffs, {} cell diffs",
            p.len(),
            c.len()
        );
    }
}
