//! The 6.18 helper data against the running kernel.
//!
//! * For every helper id the data offers to some directly loadable program
//!   type: a call with arguments of the prototype's kinds (stack buffers,
//!   maps created for the purpose, the context, constants), and the same
//!   call with a wrong first argument; the kernel's verdict (or first error
//!   line) is recorded.
//! * For every directly loadable program type and every helper id: whether
//!   the kernel offers it (the refusal `program of this type cannot use
//!   helper NAME#ID` comes before any argument check), compared with the
//!   data.
//!
//! The programs are built by `bpfcheck_conformance::helper_cases`; the
//! answers are committed in `crates/profile/data/helpers-live-6.18.json`. Without
//! `bpf()` the test checks the recordings against the data; with it, the
//! kernel's answers must equal the recordings (`BPFCHECK_RECORD=1`
//! rewrites them). Tracing, LSM, extension and struct_ops programs need a
//! BTF attach target and are not loaded here.

use bpfcheck_conformance::helper_cases::{
    Case, HelperCase, Recording, cases, kernel_answer, loadable, recording_path, request,
    return_zero, table,
};
use bpfcheck_profile::Capabilities;
use bpfcheck_profile::helpers::HelperData;
use bpfcheck_sys::test_support::kernel_or_skip;
use bpfcheck_uapi::{AttachType, ProgType, RawInsn, op};

fn verdict(k: &bpfcheck_sys::Kernel, pt: ProgType, eat: AttachType, insns: Vec<RawInsn>) -> String {
    kernel_answer(k, &request(pt, eat, insns, Vec::new())).line
}

fn expected_refusal(id: u32) -> String {
    format!(
        "program of this type cannot use helper {}#{id}",
        bpfcheck_uapi::helper_name(id as i32).unwrap_or("unknown")
    )
}

const DATA_6_18: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../profile/data/helpers-6.18.txt"
);

/// Rewrites the `offer` records of the 6.18 data: where the 6.12 rules
/// (the `inherit`ed dispatchers) and the live kernel disagree about a
/// loadable program type, the kernel's answer is recorded. A helper newly
/// offered gets the 6.12 prototype of its id.
fn write_offers(live: &Recording) {
    let base = HelperData::V6_12.table().expect("6.12 data parses");
    let text = std::fs::read_to_string(DATA_6_18).expect("6.18 data readable");
    let mut out: String = text
        .lines()
        .take_while(|l| !l.starts_with("offer ") && !l.starts_with("# offers"))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str("# offers proven on Linux 6.18 (BPFCHECK_RECORD=1 cargo test -p bpfcheck-conformance --test helpers_live)\n");
    for (pt, eat) in loadable() {
        let Some(refused) = live.refused.get(&pt.to_string()).cloned() else {
            continue; // not loadable here: nothing proven
        };
        for id in 1..base.max_id() {
            let was = base
                .for_prog_type(pt)
                .resolve(id as i32, eat, Capabilities::ROOT)
                .is_ok();
            let now = !refused.contains(&id);
            if was == now {
                continue;
            }
            // Helpers 6.18 newly offers moved from the tracing dispatchers
            // to the shared ones: prefer the prototype kprobes get.
            let kprobe = base
                .for_prog_type(ProgType::KPROBE)
                .resolve(id as i32, AttachType(0), Capabilities::ROOT)
                .ok();
            let target = if now {
                match kprobe.or_else(|| base.protos().iter().find(|p| p.id == id)) {
                    Some(p) => p.symbol,
                    None => continue,
                }
            } else {
                "-"
            };
            let name = format!("BPF_PROG_TYPE_{}", pt.to_string().to_uppercase());
            out.push_str(&format!("offer {name} {id} {target}\n"));
        }
    }
    std::fs::write(DATA_6_18, out).expect("6.18 data written");
}

/// The recordings describe this data: same cases, same availability.
fn check_recording(recorded: &Recording, cases: &[Case]) {
    let t = table();
    assert_eq!(
        recorded
            .helpers
            .iter()
            .map(|c| (c.id, c.prog_type.clone(), c.proto.clone()))
            .collect::<Vec<_>>(),
        cases
            .iter()
            .map(|c| (c.id, c.prog_type.to_string(), c.proto.symbol.to_owned()))
            .collect::<Vec<_>>(),
        "recorded helper cases are stale (rerun with BPFCHECK_RECORD=1 on a 6.18 host)"
    );
    for (pt, eat) in loadable() {
        let Some(refused) = recorded.refused.get(&pt.to_string()).cloned() else {
            assert!(
                recorded.not_loadable.contains_key(&pt.to_string()),
                "{pt} not recorded"
            );
            continue;
        };
        let h = t.for_prog_type(pt);
        for id in 1..t.max_id() {
            let offered = h.resolve(id as i32, eat, Capabilities::ROOT).is_ok();
            assert_eq!(
                offered,
                !refused.contains(&id),
                "{pt} helper {id}: data says offered={offered}, the 6.18 kernel disagreed"
            );
        }
    }
    // The refusal text is 6.18's for every refused cell.
    assert!(
        t.for_prog_type(ProgType::SOCKET_FILTER)
            .resolve(9, AttachType(0), Capabilities::ROOT)
            .unwrap_err()
            .to_string()
            == expected_refusal(9)
    );
}

#[test]
fn live_kernel_agrees_with_the_6_18_helper_data() {
    let mut recorded = Recording::load();
    let t = table();

    // Without bpf(): the recordings must describe this data.
    let cases = cases();
    let recording = std::env::var_os("BPFCHECK_RECORD").is_some();
    if !recording {
        check_recording(&recorded, &cases);
    }

    let Some(k) = kernel_or_skip("live_kernel_agrees_with_the_6_18_helper_data") else {
        return;
    };
    if !k.release().starts_with("6.18") {
        bpfcheck_sys::test_support::skipped("not a 6.18 kernel", "helpers_live");
        return;
    }
    let mut live = Recording {
        kernel: "6.18".into(),
        ..Recording::default()
    };
    for c in &cases {
        let right = kernel_answer(&k, &c.request(false));
        let wrong = kernel_answer(&k, &c.request(true));
        live.helpers.push(HelperCase {
            id: c.id,
            prog_type: c.prog_type.to_string(),
            proto: c.proto.symbol.into(),
            right: right.line,
            wrong: wrong.line,
            right_errno: right.errno,
            wrong_errno: wrong.errno,
        });
    }
    for (pt, eat) in loadable() {
        // A type whose trivial program is refused proves nothing.
        let v = verdict(&k, pt, eat, return_zero().to_vec());
        if v != "accepted" {
            live.not_loadable.insert(pt.to_string(), v);
            continue;
        }
        let mut refused = Vec::new();
        for id in 1..t.max_id() {
            let mut insns = vec![RawInsn::new(op::JMP | op::CALL, 0, 0, 0, id as i32)];
            insns.extend(return_zero());
            if verdict(&k, pt, eat, insns) == expected_refusal(id) {
                refused.push(id);
            }
        }
        live.refused.insert(pt.to_string(), refused);
    }
    if std::env::var_os("BPFCHECK_RECORD").is_some() {
        let text = serde_json::to_string_pretty(&live).expect("serialises");
        std::fs::write(recording_path(), text + "\n").expect("recording written");
        write_offers(&live);
        return;
    }
    for (pt, id) in BUILD_DEPENDENT {
        let differs = |r: &Recording| r.refused.get(*pt).map(|v| v.contains(id));
        if differs(&live) != differs(&recorded) {
            println!(
                "NOTICE: this 6.18 build's {pt} programs differ from the recording on helper {id}, \
                 a known difference between 6.18 builds"
            );
        }
        for r in [&mut live, &mut recorded] {
            if let Some(v) = r.refused.get_mut(*pt) {
                v.retain(|x| x != id);
            }
            r.helpers
                .retain(|c| (c.prog_type.as_str(), c.id) != (*pt, *id));
        }
    }
    assert_eq!(
        live, recorded,
        "the kernel's answers differ from the recording"
    );
}

/// Offers that differ between 6.18 builds seen on our machines: the
/// `-fc-v1300` build refuses `bpf_xdp_adjust_meta` to XDP programs, the
/// `-fc-v1272` build (the recording's, like upstream) offers it.
const BUILD_DEPENDENT: &[(&str, u32)] = &[("xdp", 54)];
