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
//! The answers are committed in `data/helpers-live-6.18.json`. Without
//! `bpf()` the test checks the recordings against the data; with it, the
//! kernel's answers must equal the recordings (`BPFCHECK_RECORD=1`
//! rewrites them). Tracing, LSM, extension and struct_ops programs need a
//! BTF attach target and are not loaded here.

use std::collections::BTreeMap;

use bpfcheck_profile::Capabilities;
use bpfcheck_profile::helpers::{ArgBase, HelperData, HelperProto, HelperTable};
use bpfcheck_sys::{LoadOptions, test_support::kernel_or_skip};
use bpfcheck_uapi::{AttachType, LoadRequest, MapSpec, MapType, ProgType, RawInsn, op};

const RECORDING: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/helpers-live-6.18.json");

/// Program types loadable without a BTF target, with an attach type the
/// kernel accepts for them.
fn loadable() -> Vec<(ProgType, AttachType)> {
    let skip = [
        ProgType::UNSPEC,
        ProgType::TRACING,
        ProgType::LSM,
        ProgType::EXT,
        ProgType::STRUCT_OPS,
        ProgType::LIRC_MODE2,
    ];
    let eat = |pt| match pt {
        ProgType::CGROUP_SOCK_ADDR => AttachType::CGROUP_INET4_CONNECT,
        ProgType::CGROUP_SOCKOPT => AttachType::CGROUP_GETSOCKOPT,
        ProgType::SK_LOOKUP => AttachType::SK_LOOKUP,
        ProgType::NETFILTER => AttachType::NETFILTER,
        ProgType::CGROUP_SOCK => AttachType::CGROUP_INET_SOCK_CREATE,
        _ => AttachType(0),
    };
    ProgType::all()
        .filter(|pt| !skip.contains(pt) && pt.0 <= ProgType::NETFILTER.0)
        .map(|pt| (pt, eat(pt)))
        .collect()
}

fn table() -> &'static HelperTable {
    HelperData::V6_18.table().expect("6.18 data parses")
}

/// The map an `ARG_CONST_MAP_PTR` of this helper wants.
fn map_for(name: &str) -> MapSpec {
    let (t, k, v, n) = match name {
        n if n.starts_with("bpf_ringbuf_") => (MapType::RINGBUF, 0, 0, 4096),
        "bpf_user_ringbuf_drain" => (MapType::USER_RINGBUF, 0, 0, 4096),
        "bpf_perf_event_output"
        | "bpf_perf_event_read"
        | "bpf_perf_event_read_value"
        | "bpf_skb_output"
        | "bpf_xdp_output" => (MapType::PERF_EVENT_ARRAY, 4, 4, 1),
        "bpf_tail_call" => (MapType::PROG_ARRAY, 4, 4, 1),
        "bpf_sk_redirect_map" | "bpf_sock_map_update" | "bpf_msg_redirect_map" => {
            (MapType::SOCKMAP, 4, 4, 1)
        }
        "bpf_sk_redirect_hash" | "bpf_sock_hash_update" | "bpf_msg_redirect_hash" => {
            (MapType::SOCKHASH, 8, 4, 1)
        }
        "bpf_redirect_map" => (MapType::DEVMAP, 4, 4, 1),
        "bpf_get_stackid" => (MapType::STACK_TRACE, 4, 8 * 16, 1),
        "bpf_current_task_under_cgroup" | "bpf_skb_under_cgroup" => {
            (MapType::CGROUP_ARRAY, 4, 4, 1)
        }
        "bpf_sk_select_reuseport" => (MapType::REUSEPORT_SOCKARRAY, 4, 8, 1),
        "bpf_map_push_elem" | "bpf_map_pop_elem" | "bpf_map_peek_elem" => (MapType::QUEUE, 0, 8, 1),
        "bpf_map_lookup_percpu_elem" => (MapType::PERCPU_HASH, 8, 8, 1),
        _ => (MapType::HASH, 8, 8, 1),
    };
    MapSpec {
        name: "m".into(),
        map_type: t,
        key_size: k,
        value_size: v,
        max_entries: n,
        ..MapSpec::default()
    }
}

fn mov_imm(dst: u8, imm: i32) -> RawInsn {
    RawInsn::new(op::ALU64 | op::MOV | op::K, dst, 0, 0, imm)
}

fn mov_reg(dst: u8, src: u8) -> RawInsn {
    RawInsn::new(op::ALU64 | op::MOV | op::X, dst, src, 0, 0)
}

/// `call id` with arguments of the prototype's kinds; `wrong` replaces the
/// first argument by a value of another kind.
fn program(p: &HelperProto, wrong: bool) -> (Vec<RawInsn>, Vec<MapSpec>) {
    let mut insns = vec![mov_reg(6, 1)];
    // 64 zeroed stack bytes at fp-64 serve as key, value and buffer.
    for k in 1..=8 {
        insns.push(RawInsn::new(op::ST | op::MEM | op::DW, 10, 0, -8 * k, 0));
    }
    let mut maps = Vec::new();
    for (i, a) in p.used_args().iter().enumerate() {
        let r = i as u8 + 1;
        let stack = |insns: &mut Vec<RawInsn>| {
            insns.push(mov_reg(r, 10));
            insns.push(RawInsn::new(op::ALU64 | op::ADD | op::K, r, 0, 0, -64));
        };
        let pointer = !matches!(
            a.base,
            ArgBase::Anything
                | ArgBase::Scalar
                | ArgBase::ConstSize
                | ArgBase::ConstSizeOrZero
                | ArgBase::ConstAllocSizeOrZero
                | ArgBase::DontCare
        );
        if wrong && i == 0 {
            if pointer {
                insns.push(mov_imm(r, 0));
            } else {
                stack(&mut insns);
            }
            continue;
        }
        match a.base {
            ArgBase::ConstMapPtr => {
                insns.push(RawInsn::new(
                    op::LD | op::IMM | op::DW,
                    r,
                    op::PSEUDO_MAP_FD,
                    0,
                    maps.len() as i32,
                ));
                insns.push(RawInsn::new(0, 0, 0, 0, 0));
                maps.push(map_for(p.name()));
            }
            ArgBase::PtrToCtx => insns.push(mov_reg(r, 6)),
            ArgBase::ConstSize | ArgBase::ConstSizeOrZero | ArgBase::ConstAllocSizeOrZero => {
                insns.push(mov_imm(r, 8));
            }
            ArgBase::Anything | ArgBase::Scalar | ArgBase::DontCare => insns.push(mov_imm(r, 0)),
            _ => stack(&mut insns),
        }
    }
    insns.push(RawInsn::new(op::JMP | op::CALL, 0, 0, 0, p.id as i32));
    insns.push(mov_imm(0, 0));
    insns.push(RawInsn::new(op::JMP | op::EXIT, 0, 0, 0, 0));
    (insns, maps)
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct HelperCase {
    id: u32,
    prog_type: String,
    proto: String,
    /// `accepted`, or the kernel's first error line.
    right: String,
    wrong: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
struct Recording {
    kernel: String,
    helpers: Vec<HelperCase>,
    /// Program type -> helper ids the kernel refuses as not offered.
    refused: BTreeMap<String, Vec<u32>>,
    /// Program types whose trivial program the kernel refuses, and why.
    #[serde(default)]
    not_loadable: BTreeMap<String, String>,
}

/// For each helper: the first directly loadable program type the data
/// offers it to (unconditionally, as root), with its prototype.
fn cases() -> Vec<(u32, ProgType, AttachType, &'static HelperProto)> {
    let t = table();
    let mut out = Vec::new();
    for id in 1..t.max_id() {
        for (pt, eat) in loadable() {
            if let Ok(p) = t
                .for_prog_type(pt)
                .resolve(id as i32, eat, Capabilities::ROOT)
            {
                out.push((id, pt, eat, p));
                break;
            }
        }
    }
    out
}

fn verdict(
    k: &bpfcheck_sys::Kernel,
    pt: ProgType,
    eat: AttachType,
    insns: Vec<RawInsn>,
    maps: Vec<MapSpec>,
) -> String {
    let req = LoadRequest {
        name: "h".into(),
        prog_type: pt,
        expected_attach_type: eat,
        insns,
        license: "GPL".into(),
        // Syscall programs must be sleepable (BPF_F_SLEEPABLE).
        prog_flags: if pt == ProgType::SYSCALL { 1 << 4 } else { 0 },
        maps,
        ..LoadRequest::default()
    };
    match k.load(&req, &LoadOptions::default()) {
        Ok(o) if o.accepted => "accepted".into(),
        Ok(o) => o
            .error_line
            .unwrap_or_else(|| format!("refused, errno {:?}, no log", o.errno)),
        Err(e) => format!("setup: {e}"),
    }
}

fn expected_refusal(id: u32) -> String {
    format!(
        "program of this type cannot use helper {}#{id}",
        bpfcheck_uapi::helper_name(id as i32).unwrap_or("unknown")
    )
}

const DATA_6_18: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/helpers-6.18.txt");

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
    out.push_str("# offers proven on Linux 6.18 (BPFCHECK_RECORD=1 cargo test -p bpfcheck-profile --test helpers_live)\n");
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
fn check_recording(
    recorded: &Recording,
    cases: &[(u32, ProgType, AttachType, &'static HelperProto)],
) {
    let t = table();
    assert_eq!(
        recorded
            .helpers
            .iter()
            .map(|c| (c.id, c.prog_type.clone(), c.proto.clone()))
            .collect::<Vec<_>>(),
        cases
            .iter()
            .map(|(id, pt, _, p)| (*id, pt.to_string(), p.symbol.to_owned()))
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
    let mut recorded: Recording =
        serde_json::from_str(&std::fs::read_to_string(RECORDING).unwrap_or_else(|_| {
            "{\"kernel\":\"\",\"helpers\":[],\"refused\":{},\"not_loadable\":{}}".into()
        }))
        .expect("recording parses");
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
    for (id, pt, eat, p) in &cases {
        let (insns, maps) = program(p, false);
        let right = verdict(&k, *pt, *eat, insns, maps);
        let (insns, maps) = program(p, true);
        let wrong = verdict(&k, *pt, *eat, insns, maps);
        live.helpers.push(HelperCase {
            id: *id,
            prog_type: pt.to_string(),
            proto: p.symbol.into(),
            right,
            wrong,
        });
    }
    for (pt, eat) in loadable() {
        // A type whose trivial program is refused proves nothing.
        let trivial = vec![mov_imm(0, 0), RawInsn::new(op::JMP | op::EXIT, 0, 0, 0, 0)];
        let v = verdict(&k, pt, eat, trivial, Vec::new());
        if v != "accepted" {
            live.not_loadable.insert(pt.to_string(), v);
            continue;
        }
        let mut refused = Vec::new();
        for id in 1..t.max_id() {
            let insns = vec![
                RawInsn::new(op::JMP | op::CALL, 0, 0, 0, id as i32),
                mov_imm(0, 0),
                RawInsn::new(op::JMP | op::EXIT, 0, 0, 0, 0),
            ];
            if verdict(&k, pt, eat, insns, Vec::new()) == expected_refusal(id) {
                refused.push(id);
            }
        }
        live.refused.insert(pt.to_string(), refused);
    }
    if std::env::var_os("BPFCHECK_RECORD").is_some() {
        let text = serde_json::to_string_pretty(&live).expect("serialises");
        std::fs::write(RECORDING, text + "\n").expect("recording written");
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
