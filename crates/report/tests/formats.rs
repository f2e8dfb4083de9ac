//! The machine-readable outputs: SARIF 2.1.0 checked against the schema's
//! required structure, JSON records round-tripped with the source fields,
//! and the text diagnostic's colour switch.

use bpfcheck_report::{
    DiagnosticContext, KernelField, Record, SCHEMA_VERSION, SourceLocation, UnsupportedInfo,
    render_diagnostic, to_json, to_sarif,
};
use serde_json::Value;

fn record(verdict: &str, error: Option<&str>, source: Option<SourceLocation>) -> Record {
    Record {
        schema: SCHEMA_VERSION,
        object: "build/prog.bpf.o".into(),
        program: "count".into(),
        section: Some("xdp".into()),
        prog_type: "xdp".into(),
        kernel: KernelField::Profile("6.18".into()),
        profile: None,
        verdict: verdict.into(),
        errno: error.map(|_| 13),
        error: error.map(str::to_owned),
        error_code: None,
        error_insn: error.map(|_| 7),
        unsupported: (verdict == "unsupported").then(|| UnsupportedInfo {
            feature: "kfunc calls".into(),
            insn: Some(3),
        }),
        insns_processed: Some(7),
        max_states_per_insn: Some(0),
        total_states: Some(0),
        peak_states: Some(0),
        duration_us: Some(12),
        stack_depth: Some(vec![8]),
        log: None,
        agree: None,
        source,
        hint: None,
        trace: None,
        processed_per_insn: None,
    }
}

fn null_deref_source() -> SourceLocation {
    SourceLocation {
        file: "./prog.bpf.c".into(),
        line: 28,
        column: 9,
        text: Some("\treturn v->slots[0];".into()),
    }
}

fn sample() -> Vec<Record> {
    vec![
        record(
            "rejected",
            Some("R0 invalid mem access 'map_value_or_null'"),
            Some(null_deref_source()),
        ),
        record("rejected", Some("unknown opcode 8d"), None),
        record(
            "rejected",
            Some("R0 invalid mem access 'map_value_or_null'"),
            None,
        ),
        record("unsupported", None, None),
        record("accepted", None, None),
    ]
}

fn str_field<'a>(v: &'a Value, key: &str, at: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{at}: `{key}` must be a string: {v}"))
}

fn message_string(v: &Value, at: &str) {
    assert!(v.is_object(), "{at}: must be an object");
    str_field(v, "text", at);
}

/// The parts of the SARIF 2.1.0 schema's constraints that apply to what
/// bpfcheck writes (required properties, enums, minimums, and the rule
/// index/id consistency the specification requires, §3.27.6).
fn check_sarif(log: &Value) {
    assert_eq!(log["version"], "2.1.0");
    assert!(
        log["$schema"]
            .as_str()
            .is_some_and(|s| s.contains("sarif-2.1.0"))
    );
    let runs = log["runs"].as_array().expect("runs is an array");
    assert!(!runs.is_empty());
    for run in runs {
        let driver = &run["tool"]["driver"];
        str_field(driver, "name", "driver");
        let rules = driver["rules"].as_array().expect("rules is an array");
        let mut ids = std::collections::HashSet::new();
        for rule in rules {
            let id = str_field(rule, "id", "rule");
            assert!(ids.insert(id.to_owned()), "duplicate rule {id}");
            for key in ["shortDescription", "fullDescription", "help"] {
                if let Some(m) = rule.get(key) {
                    message_string(m, key);
                }
            }
        }
        for result in run["results"].as_array().expect("results is an array") {
            message_string(&result["message"], "result.message");
            let level = str_field(result, "level", "result");
            assert!(["none", "note", "warning", "error"].contains(&level));
            let idx = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
            assert!(idx < rules.len());
            assert_eq!(rules[idx]["id"], result["ruleId"]);
            for loc in result["locations"].as_array().expect("locations") {
                let phys = &loc["physicalLocation"];
                str_field(&phys["artifactLocation"], "uri", "artifactLocation");
                if let Some(region) = phys.get("region") {
                    assert!(region["startLine"].as_u64().is_some_and(|l| l >= 1));
                    if let Some(c) = region.get("startColumn") {
                        assert!(c.as_u64().is_some_and(|c| c >= 1));
                    }
                }
                for l in loc["logicalLocations"]
                    .as_array()
                    .expect("logicalLocations")
                {
                    str_field(l, "name", "logicalLocation");
                    str_field(l, "kind", "logicalLocation");
                }
            }
        }
    }
}

#[test]
fn sarif_has_the_required_structure_and_source_locations() {
    let log: Value = serde_json::from_str(&to_sarif(&sample(), "0.1.0")).unwrap();
    check_sarif(&log);
    let run = &log["runs"][0];
    let results = run["results"].as_array().unwrap();
    // Acceptances give no result.
    assert_eq!(results.len(), 4);
    let with_source = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(with_source["artifactLocation"]["uri"], "prog.bpf.c");
    assert_eq!(with_source["region"]["startLine"], 28);
    assert_eq!(with_source["region"]["startColumn"], 9);
    let without = &results[1]["locations"][0];
    assert_eq!(
        without["physicalLocation"]["artifactLocation"]["uri"],
        "build/prog.bpf.o"
    );
    assert!(without["physicalLocation"].get("region").is_none());
    assert_eq!(without["logicalLocations"][0]["name"], "count+7");
    // One rule per class, with the catalogue's help.
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["missing_null_check", "unknown_opcode", "unsupported"]);
    assert!(rules[0]["help"]["text"].as_str().unwrap().contains("NULL"));
    assert_eq!(results[2]["ruleIndex"], 0);
}

#[test]
fn json_records_round_trip_with_source_and_hint() {
    let mut records = sample();
    records[0].hint = Some("test it".into());
    let text = to_json(&records);
    let back: Vec<Record> = serde_json::from_str(&text).unwrap();
    assert_eq!(back, records);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v[0]["source"]["file"], "./prog.bpf.c");
    assert_eq!(v[0]["source"]["line"], 28);
    assert_eq!(v[0]["source"]["column"], 9);
    assert_eq!(v[0]["hint"], "test it");
    // Absent, not null, when unknown: older readers see the old shape.
    assert!(v[1].get("source").is_none() && v[1].get("hint").is_none());
    // Records written before these fields existed still read.
    let mut old = v[1].clone();
    old.as_object_mut().unwrap().remove("stack_depth");
    let r: Record = serde_json::from_value(old).unwrap();
    assert!(r.source.is_none() && r.stack_depth.is_none());
}

#[test]
fn colour_only_when_asked() {
    let r = &sample()[0];
    let cx = DiagnosticContext::default();
    let plain = render_diagnostic(r, &cx, false);
    let styled = render_diagnostic(r, &cx, true);
    assert!(!plain.contains('\u{1b}'), "{plain}");
    assert!(styled.contains('\u{1b}'), "{styled}");
    insta::assert_snapshot!(plain);
}

#[test]
fn a_stale_source_file_falls_back_to_the_compilers_line() {
    let r = &sample()[0];
    let file = "a\nb\nc\n".repeat(20);
    let cx = DiagnosticContext {
        source_file: Some(&file),
        ..DiagnosticContext::default()
    };
    let out = render_diagnostic(r, &cx, false);
    assert!(out.contains("return v->slots[0];"), "{out}");
    assert!(
        out.contains("has changed since the object was built"),
        "{out}"
    );
}
