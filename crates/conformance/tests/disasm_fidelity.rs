//! Disassembly fidelity: every instruction line the live kernel's level-2
//! log prints for the fixture corpus equals bpfcheck's text for that
//! instruction, kernel addresses normalised on both sides.

use std::collections::BTreeSet;

use bpfcheck_conformance::{CorpusProgram, asm_fixtures, object_fixtures, parse_insn_line};
use bpfcheck_isa::{LogEra, disasm, normalize_kernel_addresses};
use bpfcheck_sys::{LoadOptions, test_support::kernel_or_skip};

fn corpus() -> Vec<CorpusProgram> {
    let mut all = asm_fixtures("asm").expect("asm fixtures");
    all.extend(asm_fixtures("malformed").expect("malformed fixtures"));
    all.extend(object_fixtures().expect("C fixtures"));
    all
}

#[test]
fn every_logged_instruction_prints_as_the_kernel_prints_it() {
    let Some(kernel) = kernel_or_skip("every_logged_instruction_prints_as_the_kernel_prints_it")
    else {
        return;
    };
    // kfunc calls print with their names from the kernel's BTF.
    let host = bpfcheck_conformance::host_profile().expect("the running kernel's profile");
    let opts = LoadOptions {
        log_level: 2,
        ..LoadOptions::default()
    };
    let mut compared = 0usize;
    let mut distinct = BTreeSet::new();
    let mut mismatches = Vec::new();
    let mut programs = 0usize;
    for p in corpus() {
        let out = match kernel.load(&p.request, &opts) {
            Ok(o) => o,
            Err(e) => panic!(
                "{}: the kernel load failed outside the verifier: {e}",
                p.label()
            ),
        };
        programs += 1;
        let insns = &p.request.insns;
        for line in out.log.lines() {
            let Some((idx, kernel_text)) = parse_insn_line(line) else {
                continue;
            };
            assert!(
                idx < insns.len(),
                "{}: log names insn {idx} of {}",
                p.label(),
                insns.len()
            );
            let ours = disasm(insns, idx, LogEra::V6_18, &host);
            let (k, o) = (
                normalize_kernel_addresses(kernel_text),
                normalize_kernel_addresses(&ours),
            );
            compared += 1;
            let raw = insns[idx];
            let second = if raw.code == 0x18 {
                insns.get(idx + 1).map(|n| n.imm)
            } else {
                None
            };
            distinct.insert((raw.code, raw.dst, raw.src, raw.off, raw.imm, second));
            if k != o {
                mismatches.push(format!(
                    "{} insn {idx}: kernel `{k}`, bpfcheck `{o}`",
                    p.label()
                ));
            }
        }
    }
    mismatches.dedup();
    // The figure the foundation issue asks for.
    bpfcheck_conformance::report(&format!(
        "disasm fidelity: {programs} programs, {compared} instruction lines, {} distinct encodings, {} mismatches",
        distinct.len(),
        mismatches.len()
    ));
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(
        distinct.len() >= 300,
        "only {} distinct instructions were compared",
        distinct.len()
    );
}
