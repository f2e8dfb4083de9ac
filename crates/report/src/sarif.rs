//! SARIF 2.1.0 output: one run, one rule per error class, one result per
//! rejected or unsupported program.

use serde_json::{Value, json};

use crate::record::Record;

const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Renders records as a SARIF 2.1.0 log. Rejections are `error` results,
/// unsupported verdicts `note` results; acceptances produce no result.
pub fn to_sarif(records: &[Record], tool_version: &str) -> String {
    let mut rules: Vec<String> = Vec::new();
    let mut results = Vec::new();
    for r in records {
        let (rule, level, text) = match r.verdict.as_str() {
            "rejected" => (
                r.error_code
                    .clone()
                    .unwrap_or_else(|| "rejected".to_owned()),
                "error",
                r.error
                    .clone()
                    .unwrap_or_else(|| "refused before verification".to_owned()),
            ),
            "unsupported" => (
                "unsupported".to_owned(),
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
        let rule_index = match rules.iter().position(|x| *x == rule) {
            Some(i) => i,
            None => {
                rules.push(rule.clone());
                rules.len() - 1
            }
        };
        let insn = r.error_insn.or(r.unsupported.as_ref().and_then(|u| u.insn));
        let logical = match insn {
            Some(i) => format!("{}+{i}", r.program),
            None => r.program.clone(),
        };
        results.push(json!({
            "ruleId": rule,
            "ruleIndex": rule_index,
            "level": level,
            "message": { "text": format!("{text} [program {} on kernel {}]", r.program, r.profile_name()) },
            "locations": [{
                "physicalLocation": { "artifactLocation": { "uri": r.object } },
                "logicalLocations": [{ "name": logical, "kind": "function" }]
            }],
            "properties": { "kernel": r.profile_name(), "program": r.program, "insn": insn }
        }));
    }
    let rules: Vec<Value> = rules
        .iter()
        .map(
            |id| json!({ "id": id, "shortDescription": { "text": format!("BPF verifier: {id}") } }),
        )
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
