//! One prototype test per helper id: the programs and the recording of
//! the live kernel's answers, shared by the test that records the 6.18
//! kernel (`tests/helpers_live.rs`) and the test that runs bpfcheck's
//! verifier on the same programs (`tests/helper_protos.rs`).
//!
//! For every helper id the 6.18 data offers to a directly loadable program
//! type, two programs are built in the first such type: a call with
//! arguments of the prototype's kinds (zeroed stack buffers, a map created
//! for the purpose, the context, constants) and the same call with a wrong
//! first argument (a constant where a pointer is wanted, a stack pointer
//! where a scalar is). Tracing, LSM, extension and struct_ops programs
//! need a BTF attach target and are not built here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bpfcheck_profile::Capabilities;
use bpfcheck_profile::helpers::{ArgBase, HelperData, HelperProto, HelperTable};
use bpfcheck_uapi::{AttachType, LoadRequest, MapSpec, MapType, ProgType, RawInsn, op};

/// The committed answers of the 6.18 kernel
/// (`crates/profile/data/helpers-live-6.18.json`).
pub fn recording_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../profile/data/helpers-live-6.18.json")
}

/// The 6.18 helper data these cases are built from.
pub fn table() -> &'static HelperTable {
    HelperData::V6_18.table().expect("6.18 data parses")
}

/// Program types loadable without a BTF target, with an attach type the
/// kernel accepts for them.
pub fn loadable() -> Vec<(ProgType, AttachType)> {
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

/// The map an `ARG_CONST_MAP_PTR` of helper `name` wants.
pub fn map_for(name: &str) -> MapSpec {
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

/// `dst = imm`.
pub fn mov_imm(dst: u8, imm: i32) -> RawInsn {
    RawInsn::new(op::ALU64 | op::MOV | op::K, dst, 0, 0, imm)
}

fn mov_reg(dst: u8, src: u8) -> RawInsn {
    RawInsn::new(op::ALU64 | op::MOV | op::X, dst, src, 0, 0)
}

/// `r0 = 0; exit`.
pub fn return_zero() -> [RawInsn; 2] {
    [mov_imm(0, 0), RawInsn::new(op::JMP | op::EXIT, 0, 0, 0, 0)]
}

/// `call id` with arguments of the prototype's kinds; `wrong` replaces the
/// first argument by a value of another kind.
pub fn program(p: &HelperProto, wrong: bool) -> (Vec<RawInsn>, Vec<MapSpec>) {
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
    insns.extend(return_zero());
    (insns, maps)
}

/// The load request of one case's program, as the recording loads it.
pub fn request(
    pt: ProgType,
    eat: AttachType,
    insns: Vec<RawInsn>,
    maps: Vec<MapSpec>,
) -> LoadRequest {
    LoadRequest {
        name: "h".into(),
        prog_type: pt,
        expected_attach_type: eat,
        insns,
        license: "GPL".into(),
        // Syscall programs must be sleepable (BPF_F_SLEEPABLE).
        prog_flags: if pt == ProgType::SYSCALL { 1 << 4 } else { 0 },
        maps,
        ..LoadRequest::default()
    }
}

/// One helper id's test: where it is tried and its prototype.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// The helper id.
    pub id: u32,
    /// The first directly loadable program type the data offers it to.
    pub prog_type: ProgType,
    /// The attach type used with it.
    pub attach_type: AttachType,
    /// The prototype that program type gets.
    pub proto: &'static HelperProto,
}

impl Case {
    /// The load request of the correct call (`wrong == false`) or of the
    /// call with a wrong first argument.
    pub fn request(&self, wrong: bool) -> LoadRequest {
        let (insns, maps) = program(self.proto, wrong);
        request(self.prog_type, self.attach_type, insns, maps)
    }
}

/// For each helper: the first directly loadable program type the data
/// offers it to (unconditionally, as root), with its prototype.
pub fn cases() -> Vec<Case> {
    let t = table();
    let mut out = Vec::new();
    for id in 1..t.max_id() {
        for (pt, eat) in loadable() {
            if let Ok(p) = t
                .for_prog_type(pt)
                .resolve(id as i32, eat, Capabilities::ROOT)
            {
                out.push(Case {
                    id,
                    prog_type: pt,
                    attach_type: eat,
                    proto: p,
                });
                break;
            }
        }
    }
    out
}

/// The kernel's answer to one program.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Answer {
    /// `accepted`, or the kernel's first error line.
    pub line: String,
    /// The errno of a refusal.
    pub errno: Option<i32>,
}

/// One helper's recorded answers.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HelperCase {
    /// The helper id.
    pub id: u32,
    /// The program type it was tried in.
    pub prog_type: String,
    /// The prototype's symbol.
    pub proto: String,
    /// `accepted`, or the kernel's first error line.
    pub right: String,
    /// The same for the wrong first argument.
    pub wrong: String,
    /// The errno of a refused correct call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right_errno: Option<i32>,
    /// The errno of a refused wrong call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrong_errno: Option<i32>,
}

/// The recording of the 6.18 kernel.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Recording {
    /// The kernel release it was made on (`6.18`).
    pub kernel: String,
    /// One entry per [`Case`], in id order.
    pub helpers: Vec<HelperCase>,
    /// Program type -> helper ids the kernel refuses as not offered.
    pub refused: BTreeMap<String, Vec<u32>>,
    /// Program types whose trivial program the kernel refuses, and why.
    #[serde(default)]
    pub not_loadable: BTreeMap<String, String>,
}

impl Recording {
    /// The committed recording (empty if absent).
    pub fn load() -> Self {
        let text = std::fs::read_to_string(recording_path()).unwrap_or_else(|_| {
            "{\"kernel\":\"\",\"helpers\":[],\"refused\":{},\"not_loadable\":{}}".into()
        });
        serde_json::from_str(&text).expect("recording parses")
    }
}

/// Loads `req` into the running kernel: `accepted`, or its first error
/// line, with the errno.
pub fn kernel_answer(k: &bpfcheck_sys::Kernel, req: &LoadRequest) -> Answer {
    match k.load(req, &bpfcheck_sys::LoadOptions::default()) {
        Ok(o) if o.accepted => Answer {
            line: "accepted".into(),
            errno: None,
        },
        Ok(o) => Answer {
            line: o
                .error_line
                .unwrap_or_else(|| format!("refused, errno {:?}, no log", o.errno)),
            errno: o.errno,
        },
        Err(e) => Answer {
            line: format!("setup: {e}"),
            errno: None,
        },
    }
}
