//! SARIF 2.1.0 output: one run, one rule per error class (the catalogue's
//! classes, with their help), one result per rejected or unsupported
//! program, located at its source line when the program has line info.

use serde_json::{Value, json};

use crate::{catalogue::classify, record::Record};

const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// A rule: id, short description, help.
fn rule_for(r: &Record) -> (String, String, Option<&'static str>) {
    if r.verdict == "unsupported" {
        return (
            "unsupported".to_owned(),
            "bpfcheck cannot judge this program yet".to_owned(),
            None,
        );
    }
    match classify(r.error.as_deref(), r.error_code.as_deref()) {
        Some(c) => (c.id.to_owned(), c.title.to_owned(), Some(c.help)),
        None => {
            let id = r
                .error_code
                .clone()
                .unwrap_or_else(|| "rejected".to_owned());
            let text = format!("BPF verifier: {id}");
            (id, text, None)
        }
    }
}

/// Where a result is: the source line when known (with the object and the
/// instruction as a logical location), else the object.
fn location(r: &Record, insn: Option<u32>) -> Value {
    let logical = match insn {
        Some(i) => format!("{}+{i}", r.program),
        None => r.program.clone(),
    };
    let logical = json!([{ "name": logical, "fullyQualifiedName": format!("{}:{logical}", r.object), "kind": "function" }]);
    match &r.source {
        Some(s) => {
            let mut region = json!({ "startLine": s.line.max(1) });
            if s.column > 0 {
                region["startColumn"] = json!(s.column);
            }
            if let Some(t) = &s.text {
                region["snippet"] = json!({ "text": t });
            }
            // Compilers record `./x.c` for files of the build directory.
            let uri = s.file.strip_prefix("./").unwrap_or(&s.file);
            let mut artifact = json!({ "uri": uri });
            if !uri.starts_with('/') {
                // Relative to where the compiler ran: for code-scanning
                // tools, the root of the checkout when builds run there.
                artifact["uriBaseId"] = json!("%SRCROOT%");
            }
            json!({
                "physicalLocation": { "artifactLocation": artifact, "region": region },
                "logicalLocations": logical
            })
        }
        None => json!({
            "physicalLocation": { "artifactLocation": { "uri": r.object } },
            "logicalLocations": logical
        }),
    }
}

/// Renders records as a SARIF 2.1.0 log. Rejections are `error` results,
/// unsupported verdicts `note` results; acceptances produce no result.
pub fn to_sarif(records: &[Record], tool_version: &str) -> String {
    let mut rules: Vec<(String, String, Option<&'static str>)> = Vec::new();
    let mut results = Vec::new();
    for r in records {
        let (level, text) = match r.verdict.as_str() {
            "rejected" => (
                "error",
                r.error
                    .clone()
                    .unwrap_or_else(|| "refused before verification".to_owned()),
            ),
            "unsupported" => (
                "note",
                format!(
                    "bpfcheck cannot judge this program yet: {}",
                    r.unsupported
                        .as_ref()
                        .map_or("unknown feature", |u| u.feature.as_str())
                ),
            ),
            _ => continue,
        };
        let rule = rule_for(r);
        let rule_index = match rules.iter().position(|x| x.0 == rule.0) {
            Some(i) => i,
            None => {
                rules.push(rule.clone());
                rules.len() - 1
            }
        };
        let insn = r.error_insn.or(r.unsupported.as_ref().and_then(|u| u.insn));
        results.push(json!({
            "ruleId": rule.0,
            "ruleIndex": rule_index,
            "level": level,
            "message": { "text": format!("{text} [program {} on kernel {}]", r.program, r.profile_name()) },
            "locations": [location(r, insn)],
            "properties": {
                "kernel": r.profile_name(),
                "program": r.program,
                "object": r.object,
                "insn": insn,
                "errorCode": r.error_code,
            }
        }));
    }
    let rules: Vec<Value> = rules
        .iter()
        .map(|(id, short, help)| {
            let mut v = json!({
                "id": id,
                "shortDescription": { "text": short },
            });
            if let Some(h) = help {
                v["help"] = json!({ "text": h });
                v["fullDescription"] = json!({ "text": format!("{short}: {h}") });
            }
            v
        })
        .collect();
    let log = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "bpfcheck",
                "version": tool_version,
                "informationUri": "https://example.invalid/bpfcheck",
                "rules": rules
            }},
            "results": results
        }]
    });
    let mut s = serde_json::to_string_pretty(&log).unwrap_or_default();
    s.push('\n');
    s
}
