//! Every helper id's prototype test, judged by bpfcheck: the programs of
//! `bpfcheck_conformance::helper_cases` (a correct call and a call with a
//! wrong first argument, in the first directly loadable program type the
//! 6.18 data offers the helper to) are verified with the 6.18 profile and
//! compared — verdict, errno and first error line — with the 6.18 kernel's
//! recorded answers and, where `bpf()` is available on a 6.18 kernel, with
//! the running kernel directly.
//!
//! The table (one line per helper id: agree, differs or unsupported) is
//! printed on every run:
//! `cargo test -p bpfcheck-conformance --test helper_protos -- --nocapture`.
//! The test fails on any `differs`, and on any `unsupported` helper that
//! is not in [`UNSUPPORTED`] — or in it while judged, so that the list
//! stays exact.

use bpfcheck_conformance::helper_cases::{Answer, Case, Recording, cases, kernel_answer};
use bpfcheck_conformance::report;
use bpfcheck_profile::KernelProfile;
use bpfcheck_sys::test_support::kernel_or_skip;
use bpfcheck_verifier::{Verdict, Verification, VerifyOptions, verify};

/// Helper ids bpfcheck answers `unsupported` for (in the correct call, the
/// wrong one or both), each with the feature it lacks. Must be exact.
const UNSUPPORTED: &[(u32, &str)] = &[];

/// How one program's judgement compares.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Agree,
    Differs(String),
    Unsupported(String),
}

/// bpfcheck's answer in the recording's shape, or the unsupported feature.
fn ours(v: &Verification) -> Result<Answer, String> {
    match v.verdict {
        Verdict::Accepted => Ok(Answer {
            line: "accepted".into(),
            errno: None,
        }),
        Verdict::Rejected => {
            let e = v.error.as_ref().expect("a rejection carries its error");
            Ok(Answer {
                line: e.message.clone(),
                errno: Some(e.errno.0),
            })
        }
        Verdict::Unsupported => Err(v
            .unsupported
            .as_ref()
            .map_or_else(|| "?".into(), |u| u.feature.clone())),
    }
}

/// Compares bpfcheck's answer with each kernel answer (the recording's,
/// the live kernel's); a recorded errno of `None` for a refusal means the
/// recording predates errnos and is not compared.
fn compare(v: &Verification, kernels: &[(&str, Answer)]) -> Outcome {
    let ours = match ours(v) {
        Ok(a) => a,
        Err(feature) => return Outcome::Unsupported(feature),
    };
    for (who, k) in kernels {
        if ours.line != k.line {
            return Outcome::Differs(format!("bpfcheck `{}`, {who} `{}`", ours.line, k.line));
        }
        if k.errno.is_some() && ours.errno != k.errno {
            return Outcome::Differs(format!(
                "`{}`: bpfcheck errno {:?}, {who} {:?}",
                ours.line, ours.errno, k.errno
            ));
        }
    }
    Outcome::Agree
}

/// The helper's outcome: a `differs` of either program wins over an
/// `unsupported`.
fn combine(right: &Outcome, wrong: &Outcome) -> Outcome {
    match (right, wrong) {
        (Outcome::Differs(d), _) => Outcome::Differs(format!("correct call: {d}")),
        (_, Outcome::Differs(d)) => Outcome::Differs(format!("wrong first argument: {d}")),
        (Outcome::Unsupported(u), _) => Outcome::Unsupported(format!("correct call: {u}")),
        (_, Outcome::Unsupported(u)) => Outcome::Unsupported(format!("wrong first argument: {u}")),
        _ => Outcome::Agree,
    }
}

/// Offers that differ between 6.18 builds seen on our machines (as in
/// `helpers_live`): the `-fc-v1300` build refuses `bpf_xdp_adjust_meta`
/// to XDP programs, the `-fc-v1272` build (the recording's, like
/// upstream) offers it. bpfcheck's 6.18 profile follows the recording.
const BUILD_DEPENDENT: &[(&str, u32)] = &[("xdp", 54)];

#[test]
fn every_helper_prototype_is_judged_as_the_6_18_kernel_judges_it() {
    let recorded = Recording::load();
    let cases = cases();
    assert_eq!(
        recorded.helpers.iter().map(|h| h.id).collect::<Vec<_>>(),
        cases.iter().map(|c| c.id).collect::<Vec<_>>(),
        "the recording is stale (BPFCHECK_RECORD=1 cargo test -p bpfcheck-conformance --test helpers_live)"
    );
    let kernel = kernel_or_skip("every_helper_prototype_is_judged_as_the_6_18_kernel_judges_it")
        .filter(|k| {
            let is_618 = k.release().starts_with("6.18");
            if !is_618 {
                bpfcheck_sys::test_support::skipped("not a 6.18 kernel", "helper_protos (live)");
            }
            is_618
        });
    // bpf_get_smp_processor_id's range needs a CPU count; no program here
    // depends on it. The host's, else the recording machine's (2).
    let cpus = std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|t| bpfcheck_profile::parse_possible_cpus(&t));
    let profile = KernelProfile::builtin("6.18")
        .expect("6.18 profile")
        .with_possible_cpus(cpus.or(Some(2)));
    let opts = VerifyOptions { log_level: 1 };

    // BPFCHECK_HELPER=ID prints bpfcheck's verdict and log for that helper.
    let debug: Option<u32> = std::env::var("BPFCHECK_HELPER")
        .ok()
        .and_then(|s| s.parse().ok());
    let mut rows = Vec::new();
    for (c, rec) in cases.iter().zip(&recorded.helpers) {
        let judge = |wrong: bool| {
            let req = c.request(wrong);
            let (line, errno) = if wrong {
                (&rec.wrong, rec.wrong_errno)
            } else {
                (&rec.right, rec.right_errno)
            };
            let mut kernels = vec![(
                "recorded",
                Answer {
                    line: line.clone(),
                    errno,
                },
            )];
            if let Some(k) = &kernel {
                let live = kernel_answer(k, &req);
                let build_dependent = BUILD_DEPENDENT
                    .iter()
                    .any(|&(pt, id)| id == c.id && c.prog_type.to_string() == pt);
                if build_dependent && live.line != kernels[0].1.line {
                    println!(
                        "NOTICE: this 6.18 build answers helper {} ({}) differently from the \
                         recording (`{}`), a known difference between 6.18 builds",
                        c.id, c.prog_type, live.line
                    );
                } else {
                    kernels.push(("live", live));
                }
            }
            let v = verify(&req, &profile, &opts);
            if debug == Some(c.id) {
                report(&format!(
                    "helper {} ({}), wrong={wrong}: {:?} {:?} {:?}\n{}",
                    c.id,
                    c.prog_type,
                    v.verdict,
                    v.error,
                    v.unsupported,
                    v.log.as_deref().unwrap_or("")
                ));
            }
            compare(&v, &kernels)
        };
        let (right, wrong) = (judge(false), judge(true));
        let outcome = combine(&right, &wrong);
        rows.push((c, [right, wrong], outcome));
    }
    print_table(&rows);
    print_uncovered(&cases);

    let mut failures = Vec::new();
    for (c, _, outcome) in &rows {
        let listed = UNSUPPORTED.iter().find(|(id, _)| *id == c.id);
        match (outcome, listed) {
            (Outcome::Differs(d), _) => failures.push(format!("{}#{}: {d}", c.proto.name(), c.id)),
            (Outcome::Unsupported(u), None) => failures.push(format!(
                "{}#{}: unsupported ({u}) and not in UNSUPPORTED",
                c.proto.name(),
                c.id
            )),
            (Outcome::Agree, Some(_)) => failures.push(format!(
                "{}#{}: judged now, remove it from UNSUPPORTED",
                c.proto.name(),
                c.id
            )),
            _ => {}
        }
    }
    for (id, _) in UNSUPPORTED {
        assert!(
            cases.iter().any(|c| c.id == *id),
            "UNSUPPORTED names helper {id}, which has no case"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn print_table(rows: &[(&Case, [Outcome; 2], Outcome)]) {
    let count = |f: fn(&Outcome) -> bool| rows.iter().filter(|(_, _, o)| f(o)).count();
    let word = |o: &Outcome| match o {
        Outcome::Agree => "agree",
        Outcome::Differs(_) => "differs",
        Outcome::Unsupported(_) => "unsupported",
    };
    report("helper prototypes, bpfcheck (6.18 profile) against the 6.18 kernel:");
    report(&format!(
        "{:>4}  {:<32} {:<16} {:<11} {:<11} {:<11} detail",
        "id", "helper", "prog type", "correct", "wrong arg", "helper"
    ));
    for (c, [right, wrong], o) in rows {
        let detail = match o {
            Outcome::Agree => "",
            Outcome::Differs(d) | Outcome::Unsupported(d) => d.as_str(),
        };
        report(&format!(
            "{:>4}  {:<32} {:<16} {:<11} {:<11} {:<11} {detail}",
            c.id,
            c.proto.name(),
            c.prog_type.to_string(),
            word(right),
            word(wrong),
            word(o)
        ));
    }
    report(&format!(
        "helper ids with a loadable program type: {}; agree {}, differ {}, unsupported {}",
        rows.len(),
        count(|o| *o == Outcome::Agree),
        count(|o| matches!(o, Outcome::Differs(_))),
        count(|o| matches!(o, Outcome::Unsupported(_))),
    ));
}

/// The helper ids no directly loadable program type is offered: those a
/// tracing or LSM program gets (they need a BTF attach target, which the
/// running kernel cannot load without trampolines), and the rest.
fn print_uncovered(cases: &[Case]) {
    use bpfcheck_profile::Capabilities;
    use bpfcheck_profile::helpers::ProgQuery;
    use bpfcheck_uapi::{AttachType, ProgType};
    let t = bpfcheck_conformance::helper_cases::table();
    let targets = [
        (ProgType::TRACING, AttachType::TRACE_FENTRY),
        (ProgType::TRACING, AttachType::TRACE_ITER),
        (ProgType::TRACING, AttachType::TRACE_RAW_TP),
        (ProgType::LSM, AttachType::LSM_MAC),
    ];
    let (mut tracing, mut other) = (Vec::new(), Vec::new());
    for id in (1..t.max_id()).filter(|id| cases.iter().all(|c| c.id != *id)) {
        let offered = targets.iter().any(|(pt, eat)| {
            [false, true].iter().any(|&sleepable| {
                let q = ProgQuery {
                    sleepable,
                    ..ProgQuery::new(*pt, *eat, Capabilities::ROOT)
                };
                t.resolve(id as i32, &q).is_ok()
            })
        });
        let name = bpfcheck_uapi::helper_name(id as i32).unwrap_or("unknown");
        let entry = format!("{name}#{id}");
        if offered {
            tracing.push(entry);
        } else {
            other.push(entry);
        }
    }
    report(&format!(
        "helper ids offered only to tracing/LSM programs (not loadable here): {}: {}",
        tracing.len(),
        tracing.join(" ")
    ));
    report(&format!(
        "helper ids offered to none of those in this data (struct_ops, lirc, options the build lacks): {}: {}",
        other.len(),
        other.join(" ")
    ));
}
