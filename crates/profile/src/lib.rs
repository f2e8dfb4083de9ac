//! Kernel profiles: everything bpfcheck's verifier knows about one kernel.
//!
//! The verifier core never compares version numbers. Every behaviour that
//! changed between kernels is a field of [`KernelProfile`]: which encodings
//! exist ([`IsaFeatures`]), how the log looks ([`LogEra`]), the limits, which
//! program and map types the kernel has, and what the loading process may do
//! ([`Capabilities`]).
//!
//! This crate currently ships built-in profiles for the kernels bpfcheck
//! targets (5.10, 6.1, 6.12, 6.18), with facts taken from those kernels'
//! sources (5.10: Debian bullseye's 5.10.251; 6.1.192; 6.12.117) and, for
//! 6.18, from the running kernel; each is compared with its real kernel's
//! answers in the conformance crate's kernel matrix. A profile may carry the
//! kernel's BTF ([`KernelProfile::with_btf`]; `bpfcheck --kernel host` reads
//! `/sys/kernel/btf/vmlinux`), opened lazily: the bytes are indexed once,
//! name lookups build their index on first use. Helper prototypes and the
//! helpers each program type may call are generated from the kernels'
//! sources and embedded ([`helpers`], [`KernelProfile::helper`]); 5.10 has
//! no helper data.
//!
//! This crate reads no files: callers hand it bytes.

#![deny(missing_docs)]

use std::{
    fmt,
    sync::{Arc, OnceLock},
};

pub mod attach;
mod embedded_btf;
mod features;
pub mod helpers;
pub mod kfuncs;
pub mod map_compat;

pub use embedded_btf::embedded_btf_bytes;
pub use features::{Features, ScalarArith, WalkV6_1, WalkV7};

use bpfcheck_btf::{Btf, BtfError, BtfKind, BtfTypeId};
pub use bpfcheck_isa::{IsaFeatures, LogEra};
use bpfcheck_uapi::{AttachType, MapType, ProgType, load};
use helpers::{HelperData, HelperProto, HelperUnavailable, ProgQuery};

/// A kernel release, `major.minor.patch`.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
pub struct KernelVersion {
    /// Major number.
    pub major: u16,
    /// Minor number.
    pub minor: u16,
    /// Patch (stable) number; 0 when unknown.
    pub patch: u16,
}

impl KernelVersion {
    /// Builds a version.
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// Parses `6.1`, `6.12.117`, or a `uname -r` string such as
    /// `6.18.44-fc-v657` (anything after the numbers is ignored).
    pub fn parse(s: &str) -> Option<Self> {
        let head: String = s
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let mut it = head
            .split('.')
            .filter(|p| !p.is_empty())
            .map(|p| p.parse::<u16>().ok());
        let major = it.next()??;
        let minor = it.next()??;
        let patch = it.next().flatten().unwrap_or(0);
        Some(Self {
            major,
            minor,
            patch,
        })
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patch == 0 {
            write!(f, "{}.{}", self.major, self.minor)
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

/// Capabilities of the loading process, as the verifier derives its
/// privilege knobs from them (`bpf_check`: `bpf_capable`, `allow_ptr_leaks`,
/// `allow_uninit_stack`, `bypass_spec_v1/v4`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Capabilities {
    /// `CAP_BPF` (or `CAP_SYS_ADMIN`): loops, subprograms, kfuncs, 1M insns.
    pub bpf: bool,
    /// `CAP_PERFMON`: pointer leaks, uninitialised stack reads, no Spectre masking.
    pub perfmon: bool,
    /// `CAP_NET_ADMIN`: networking program types.
    pub net_admin: bool,
    /// `CAP_SYS_ADMIN`.
    pub sys_admin: bool,
}

impl Capabilities {
    /// A root loader: every capability.
    pub const ROOT: Self = Self {
        bpf: true,
        perfmon: true,
        net_admin: true,
        sys_admin: true,
    };
}

/// The verifier's numeric limits.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// `BPF_COMPLEXITY_LIMIT_INSNS`: processed instructions, and the longest
    /// program a `bpf_capable` loader may submit.
    pub complexity_insns: u32,
    /// `BPF_MAXINSNS`: the longest program without `CAP_BPF`.
    pub max_insns_unpriv: u32,
    /// `BPF_COMPLEXITY_LIMIT_JMP_SEQ`: pending branch states.
    pub jmp_seq: u32,
    /// `BPF_MAX_SUBPROGS`.
    pub max_subprogs: u32,
    /// `MAX_CALL_FRAMES`.
    pub max_call_frames: u32,
    /// `MAX_BPF_STACK`.
    pub stack_size: u32,
    /// `MAX_USED_MAPS`.
    pub max_used_maps: u32,
    /// `BPF_MAX_VAR_OFF`.
    pub max_var_off: u32,
}

impl Limits {
    /// The limits every kernel from 5.2 to 6.18 has.
    pub const MODERN: Self = Self {
        complexity_insns: 1_000_000,
        max_insns_unpriv: 4096,
        jmp_seq: 8192,
        max_subprogs: 256,
        max_call_frames: 8,
        stack_size: 512,
        max_used_maps: 64,
        max_var_off: 1 << 29,
    };
}

/// `prog_flags` of 5.10's `bpf_prog_load`.
const PROG_FLAGS_5_10: u32 = load::BPF_F_STRICT_ALIGNMENT
    | load::BPF_F_ANY_ALIGNMENT
    | load::BPF_F_TEST_STATE_FREQ
    | load::BPF_F_SLEEPABLE
    | load::BPF_F_TEST_RND_HI32;

/// `BPF_F_TOKEN_FD` (6.9), which the uapi crate does not name.
const BPF_F_TOKEN_FD: u32 = 1 << 16;

/// `prog_flags` of 6.12's (and 6.18's) `bpf_prog_load`.
const PROG_FLAGS_6_12: u32 = PROG_FLAGS_5_10
    | load::BPF_F_XDP_HAS_FRAGS
    | load::BPF_F_XDP_DEV_BOUND_ONLY
    | load::BPF_F_TEST_REG_INVARIANTS
    | BPF_F_TOKEN_FD;

/// Where a kernel's BTF comes from, and the BTF once it has been opened.
struct BtfSource {
    /// What to call it in messages (a path).
    label: String,
    /// Reads the bytes; called at most once, on first use.
    read: Box<dyn Fn() -> Result<Vec<u8>, String> + Send + Sync>,
    opened: OnceLock<Result<Btf<'static>, String>>,
}

/// A kernel's BTF (vmlinux), shared, and read only when a query first
/// needs it: a program that uses nothing BTF-typed never pays for reading
/// and indexing several megabytes. Once read, the bytes are indexed once
/// (type offsets) and name lookups build their index on first use.
#[derive(Clone)]
pub struct KernelBtf(Arc<BtfSource>);

impl KernelBtf {
    /// BTF already in memory, opened now (header check and offset index).
    pub fn open(bytes: Vec<u8>) -> Result<Self, BtfError> {
        let btf = Btf::from_arc(Arc::from(bytes))?;
        let src = BtfSource {
            label: "in-memory BTF".into(),
            read: Box::new(|| Err("already opened".into())),
            opened: OnceLock::from(Ok(btf)),
        };
        Ok(Self(Arc::new(src)))
    }

    /// BTF that `read` produces when first needed; `label` names it in errors.
    pub fn lazy(
        label: impl Into<String>,
        read: impl Fn() -> Result<Vec<u8>, String> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(BtfSource {
            label: label.into(),
            read: Box::new(read),
            opened: OnceLock::new(),
        }))
    }

    /// Whether the BTF has been read yet.
    pub fn is_loaded(&self) -> bool {
        self.0.opened.get().is_some()
    }

    /// The BTF, reading and opening it on the first call.
    pub fn btf(&self) -> Result<&Btf<'static>, String> {
        let src = &self.0;
        src.opened
            .get_or_init(|| {
                let bytes = (src.read)().map_err(|e| format!("{}: {e}", src.label))?;
                Btf::from_arc(Arc::from(bytes)).map_err(|e| format!("{}: {e}", src.label))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The name of a function by BTF id, as the verifier prints kfunc calls.
    pub fn func_name(&self, id: u32) -> Option<String> {
        let btf = self.btf().ok()?;
        let t = btf.type_by_id(BtfTypeId(id)).ok()?;
        if t.kind() != BtfKind::Func {
            return None;
        }
        t.name().ok().map(str::to_owned)
    }
}

impl PartialEq for KernelBtf {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for KernelBtf {}

impl fmt::Debug for KernelBtf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.opened.get() {
            Some(Ok(b)) => write!(
                f,
                "KernelBtf({}: {} bytes, {} types)",
                self.0.label,
                b.bytes().len(),
                b.own_type_count()
            ),
            Some(Err(e)) => write!(f, "KernelBtf({e})"),
            None => write!(f, "KernelBtf({}: not read yet)", self.0.label),
        }
    }
}

/// Everything the verifier may ask about one kernel.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct KernelProfile {
    /// Short name used on the command line and in reports (`6.18`).
    pub name: String,
    /// The release the facts come from.
    pub version: KernelVersion,
    /// Which build the facts were taken from, for the record.
    pub build: String,
    /// Instruction encodings the kernel accepts.
    pub isa: IsaFeatures,
    /// Log format era.
    pub log_era: LogEra,
    /// Numeric limits.
    pub limits: Limits,
    /// Non-encoding switches.
    pub features: Features,
    /// What the loading process may do.
    pub caps: Capabilities,
    /// The kernel's BTF, when known.
    #[serde(skip)]
    pub btf: Option<KernelBtf>,
    /// Set when the rules of another kernel's profile stand in for this one
    /// (a kernel bpfcheck ships no profile for).
    pub note: Option<String>,
    /// The embedded helper data of this kernel, if any.
    #[serde(skip)]
    pub helpers: Option<HelperData>,
    /// The embedded kfunc registrations of this kernel, if any.
    #[serde(skip)]
    pub kfuncs: Option<kfuncs::KfuncData>,
    /// The embedded LSM hook and iterator target lists of this kernel, if any.
    #[serde(skip)]
    pub attach: Option<attach::AttachData>,
    /// The machine's possible CPUs (`nr_cpu_ids`), which bounds what
    /// `bpf_get_smp_processor_id` returns: a fact of the machine, not of
    /// the kernel release, so built-in profiles have none until told
    /// ([`Self::with_possible_cpus`]; the host's is read from
    /// `/sys/devices/system/cpu/possible`, see [`parse_possible_cpus`]).
    #[serde(default)]
    pub possible_cpus: Option<u32>,
}

/// A `--kernel` name that names no profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownKernel(pub String);

impl fmt::Display for UnknownKernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown kernel profile `{}` (known: {})",
            self.0,
            KernelProfile::BUILTIN.join(", ")
        )
    }
}

impl std::error::Error for UnknownKernel {}

impl KernelProfile {
    /// Names of the built-in profiles, oldest first.
    pub const BUILTIN: &'static [&'static str] = &["5.10", "6.1", "6.12", "6.18", "7.2"];

    /// The profile bpfcheck uses when none is named: the kernel of the
    /// development host, the one whose verifier bpfcheck interprets.
    pub const DEFAULT: &'static str = "6.18";

    /// A built-in profile by name (`6.1`, `v6.1`, `6.1.192` all name 6.1).
    pub fn builtin(name: &str) -> Result<Self, UnknownKernel> {
        let trimmed = name.trim().trim_start_matches('v');
        let v = KernelVersion::parse(trimmed).ok_or_else(|| UnknownKernel(name.to_owned()))?;
        let p = match (v.major, v.minor) {
            (5, 10) => Self::v5_10(),
            (6, 1) => Self::v6_1(),
            (6, 12) => Self::v6_12(),
            (6, 18) => Self::v6_18(),
            (7, 2) => Self::v7_2(),
            _ => return Err(UnknownKernel(name.to_owned())),
        };
        Ok(p)
    }

    /// Every built-in profile, oldest first.
    pub fn all_builtin() -> Vec<Self> {
        vec![
            Self::v5_10(),
            Self::v6_1(),
            Self::v6_12(),
            Self::v6_18(),
            Self::v7_2(),
        ]
    }

    fn v5_10() -> Self {
        Self {
            name: "5.10".into(),
            version: KernelVersion::new(5, 10, 0),
            build: "Linux 5.10 (Debian bullseye)".into(),
            isa: IsaFeatures::V5_10,
            log_era: LogEra::V5_10,
            limits: Limits::MODERN,
            features: Features {
                bpf_attr_size: 120,
                helper_id_end: 156,
                fd_array: false,
                fd_array_cnt: false,
                prog_flags: PROG_FLAGS_5_10,
                attach_type_end: AttachType::XDP.0 + 1,
                sk_reuseport_attach_check: false,
                cfg_ldimm64_middle_check: false,
                cfg_loops_on_any_edge: false,
                prog_type_end: ProgType::SK_LOOKUP.0 + 1,
                map_type_end: MapType::INODE_STORAGE.0 + 1,
                log_subprog_table: true,
                sleepable_inner_maps: false,
                refs_release_swaps: true,
                may_goto_stack_extra: 0,
                // `bpf_timer` came in 5.15: to 5.10 it is a plain struct.
                tracing_timers_refused: false,
                do_check: false,
                scalar_arith: ScalarArith::V6_1,
                live_regs_table: false,
                static_liveness: false,
                scc_loops: false,
                helper_mem_access_types: false,
                array_lookup_not_null: false,
                sane_offset_split: false,
                pkt_arith_forgets_end: false,
                linked_regs_live_only: false,
                null_arg_precise: false,
                scalar_arg_typed: Some(true),
                self_add_clears_id: false,
                offset_links_v2: false,
                resource_leak_v2: false,
                tail_call_keeps_pkt: false,
                dynptr_slots_v2: false,
                fastcall: false,
                exceptions: false,
                sockmap_lookup_socket: false,
                map_in_map_lookup_map_ptr: false,
                callback_value_id: false,
                sleepable_tracepoints: false,
                btf_walk_untrusted: false,
                kfunc_trusted_by_default: false,
                global_trusted_arg_v2: false,
                tail_call_exits_subprog: false,
                walk_v7: WalkV7::default(),
                walk_v6_1: WalkV6_1::V6_1,
            },
            caps: Capabilities::ROOT,
            btf: embedded_btf::btf_of("5.10"),
            note: None,
            helpers: None,
            kfuncs: None,
            attach: None,
            possible_cpus: None,
        }
    }

    fn v6_1() -> Self {
        Self {
            name: "6.1".into(),
            version: KernelVersion::new(6, 1, 0),
            build: "Linux 6.1 (Debian bookworm, linux-source-6.1)".into(),
            isa: IsaFeatures::V6_1,
            log_era: LogEra::V6_1,
            limits: Limits::MODERN,
            features: Features {
                bpf_attr_size: 144,
                helper_id_end: 210,
                fd_array: true,
                fd_array_cnt: false,
                prog_flags: PROG_FLAGS_5_10 | load::BPF_F_XDP_HAS_FRAGS,
                attach_type_end: AttachType::LSM_CGROUP.0 + 1,
                sk_reuseport_attach_check: true,
                cfg_ldimm64_middle_check: true,
                cfg_loops_on_any_edge: false,
                prog_type_end: ProgType::SYSCALL.0 + 1,
                map_type_end: MapType::USER_RINGBUF.0 + 1,
                log_subprog_table: true,
                sleepable_inner_maps: false,
                refs_release_swaps: true,
                may_goto_stack_extra: 0,
                tracing_timers_refused: true,
                do_check: true,
                scalar_arith: ScalarArith::V6_1,
                live_regs_table: false,
                static_liveness: false,
                scc_loops: false,
                helper_mem_access_types: false,
                array_lookup_not_null: false,
                sane_offset_split: false,
                pkt_arith_forgets_end: false,
                linked_regs_live_only: false,
                null_arg_precise: false,
                scalar_arg_typed: Some(true),
                self_add_clears_id: false,
                offset_links_v2: false,
                resource_leak_v2: false,
                tail_call_keeps_pkt: true,
                dynptr_slots_v2: false,
                fastcall: false,
                exceptions: false,
                sockmap_lookup_socket: false,
                map_in_map_lookup_map_ptr: false,
                callback_value_id: false,
                sleepable_tracepoints: false,
                btf_walk_untrusted: false,
                kfunc_trusted_by_default: false,
                global_trusted_arg_v2: false,
                tail_call_exits_subprog: false,
                walk_v7: WalkV7::default(),
                walk_v6_1: WalkV6_1::V6_1,
            },
            caps: Capabilities::ROOT,
            btf: embedded_btf::btf_of("6.1"),
            note: None,
            helpers: Some(HelperData::V6_1),
            kfuncs: None,
            attach: Some(attach::AttachData::V6_1),
            possible_cpus: None,
        }
    }

    fn v6_12() -> Self {
        Self {
            name: "6.12".into(),
            version: KernelVersion::new(6, 12, 0),
            build: "Linux 6.12 (Debian bookworm-security, linux-source-6.12)".into(),
            isa: IsaFeatures::V6_12,
            log_era: LogEra::V6_12,
            limits: Limits::MODERN,
            features: Features {
                bpf_attr_size: 152,
                helper_id_end: 212,
                fd_array: true,
                fd_array_cnt: false,
                prog_flags: PROG_FLAGS_6_12,
                attach_type_end: AttachType::TRACE_KPROBE_SESSION.0 + 1,
                sk_reuseport_attach_check: true,
                cfg_ldimm64_middle_check: true,
                cfg_loops_on_any_edge: true,
                prog_type_end: ProgType::NETFILTER.0 + 1,
                map_type_end: MapType::ARENA.0 + 1,
                log_subprog_table: true,
                sleepable_inner_maps: false,
                refs_release_swaps: true,
                may_goto_stack_extra: 8,
                tracing_timers_refused: true,
                do_check: true,
                scalar_arith: ScalarArith::V6_12,
                live_regs_table: false,
                static_liveness: false,
                scc_loops: false,
                helper_mem_access_types: false,
                array_lookup_not_null: false,
                sane_offset_split: false,
                pkt_arith_forgets_end: false,
                linked_regs_live_only: false,
                null_arg_precise: false,
                scalar_arg_typed: Some(true),
                self_add_clears_id: false,
                offset_links_v2: false,
                resource_leak_v2: false,
                tail_call_keeps_pkt: false,
                dynptr_slots_v2: false,
                fastcall: true,
                exceptions: true,
                sockmap_lookup_socket: false,
                map_in_map_lookup_map_ptr: false,
                callback_value_id: false,
                sleepable_tracepoints: false,
                btf_walk_untrusted: false,
                kfunc_trusted_by_default: false,
                global_trusted_arg_v2: false,
                tail_call_exits_subprog: false,
                walk_v7: WalkV7::default(),
                walk_v6_1: WalkV6_1::default(),
            },
            caps: Capabilities::ROOT,
            btf: embedded_btf::btf_of("6.12"),
            note: None,
            helpers: Some(HelperData::V6_12),
            kfuncs: Some(kfuncs::KfuncData::V6_12),
            attach: Some(attach::AttachData::V6_12),
            possible_cpus: None,
        }
    }

    fn v6_18() -> Self {
        Self {
            name: "6.18".into(),
            version: KernelVersion::new(6, 18, 0),
            build: "Linux 6.18 (the development host's kernel)".into(),
            isa: IsaFeatures::V6_18,
            log_era: LogEra::V6_18,
            limits: Limits::MODERN,
            features: Features {
                // The 6.18 `BPF_PROG_LOAD` member ends at 168 bytes; every
                // field a `LoadRequest` can set lies before that.
                bpf_attr_size: 168,
                helper_id_end: bpfcheck_uapi::HELPER_ID_END.unsigned_abs(),
                fd_array: true,
                fd_array_cnt: true,
                prog_flags: PROG_FLAGS_6_12,
                attach_type_end: AttachType::TRACE_UPROBE_SESSION.0 + 1,
                sk_reuseport_attach_check: true,
                cfg_ldimm64_middle_check: true,
                cfg_loops_on_any_edge: true,
                prog_type_end: ProgType::NETFILTER.0 + 1,
                map_type_end: MapType::ARENA.0 + 1,
                log_subprog_table: true,
                sleepable_inner_maps: true,
                refs_release_swaps: false,
                may_goto_stack_extra: 16,
                tracing_timers_refused: true,
                do_check: true,
                scalar_arith: ScalarArith::V6_18,
                live_regs_table: true,
                static_liveness: true,
                scc_loops: true,
                helper_mem_access_types: true,
                array_lookup_not_null: true,
                sane_offset_split: true,
                pkt_arith_forgets_end: true,
                linked_regs_live_only: true,
                null_arg_precise: true,
                scalar_arg_typed: Some(false),
                self_add_clears_id: true,
                offset_links_v2: true,
                resource_leak_v2: true,
                tail_call_keeps_pkt: true,
                dynptr_slots_v2: true,
                fastcall: true,
                exceptions: true,
                sockmap_lookup_socket: true,
                map_in_map_lookup_map_ptr: true,
                callback_value_id: true,
                sleepable_tracepoints: false,
                btf_walk_untrusted: true,
                kfunc_trusted_by_default: false,
                global_trusted_arg_v2: true,
                tail_call_exits_subprog: true,
                walk_v7: WalkV7::default(),
                walk_v6_1: WalkV6_1::default(),
            },
            caps: Capabilities::ROOT,
            btf: embedded_btf::btf_of("6.18"),
            note: None,
            helpers: Some(HelperData::V6_18),
            kfuncs: Some(kfuncs::KfuncData::V6_18),
            attach: Some(attach::AttachData::V6_18),
            possible_cpus: None,
        }
    }

    fn v7_2() -> Self {
        Self {
            name: "7.2".into(),
            version: KernelVersion::new(7, 2, 0),
            build: "Linux 7.2 (Debian sid, linux-source-7.2 7.2.13)".into(),
            isa: IsaFeatures::V7_2,
            log_era: LogEra::V7_2,
            limits: Limits {
                max_call_frames: 16,
                ..Limits::MODERN
            },
            features: Features {
                fd_array_cnt: true,
                // BPF_TRACE_FSESSION, BPF_TRACE_FENTRY_MULTI,
                // BPF_TRACE_FEXIT_MULTI, BPF_TRACE_FSESSION_MULTI.
                attach_type_end: AttachType::TRACE_UPROBE_SESSION.0 + 5,
                map_type_end: MapType::INSN_ARRAY.0 + 1,
                sleepable_inner_maps: false,
                refs_release_swaps: false,
                tracing_timers_refused: false,
                sockmap_lookup_socket: false,
                // 7.2.13 says `map_value_or_null` for an unchecked lookup
                // in a map-in-map (`map_in_map_unchecked`), as 6.12's
                // source does.
                map_in_map_lookup_map_ptr: false,
                callback_value_id: false,
                sleepable_tracepoints: true,
                // 7.x's walk differs in named switches; the first one not
                // modelled refuses it (`verifier::walk_v7`).
                walk_v7: WalkV7::V7_2,
                kfunc_trusted_by_default: true,
                global_trusted_arg_v2: true,
                tail_call_exits_subprog: true,
                do_check: true,
                scalar_arg_typed: None,
                ..Self::v6_18().features
            },
            caps: Capabilities::ROOT,
            btf: embedded_btf::btf_of("7.2"),
            note: None,
            helpers: Some(HelperData::V7_2),
            kfuncs: Some(kfuncs::KfuncData::V7_2),
            attach: Some(attach::AttachData::V7_2),
            possible_cpus: None,
        }
    }

    /// This profile on a machine with `cpus` possible CPUs.
    pub fn with_possible_cpus(mut self, cpus: Option<u32>) -> Self {
        self.possible_cpus = cpus;
        self
    }

    /// This profile with the kernel's BTF.
    pub fn with_btf(mut self, btf: KernelBtf) -> Self {
        self.btf = Some(btf);
        self
    }

    /// A profile for a kernel known by its release string (`uname -r`) and,
    /// optionally, its BTF: the built-in profile of that version, or the
    /// newest built-in one not newer than it (saying so in [`Self::note`]).
    pub fn for_release(release: &str, btf: Option<KernelBtf>) -> Result<Self, UnknownKernel> {
        let v = KernelVersion::parse(release).ok_or_else(|| UnknownKernel(release.to_owned()))?;
        let mut nearest: Option<Self> = None;
        for p in Self::all_builtin() {
            if (p.version.major, p.version.minor) <= (v.major, v.minor) {
                nearest = Some(p);
            }
        }
        let mut p = nearest.ok_or_else(|| UnknownKernel(release.to_owned()))?;
        if (p.version.major, p.version.minor) != (v.major, v.minor) {
            p.note = Some(format!("no profile for {v}: using the rules of {}", p.name));
        }
        p.build = format!("Linux {release}");
        p.name = release.to_owned();
        p.version = v;
        p.btf = btf;
        Ok(p)
    }

    /// The prototype helper `id` resolves to for a program of `prog_type`
    /// expecting `expected_attach_type`, loaded with this profile's
    /// capabilities (not sleepable, no attach target; see
    /// [`Self::helper_for`]). The error displays as the kernel's message.
    pub fn helper(
        &self,
        id: i32,
        prog_type: ProgType,
        expected_attach_type: AttachType,
    ) -> Result<&'static HelperProto, HelperUnavailable> {
        self.helper_for(
            id,
            &ProgQuery::new(prog_type, expected_attach_type, self.caps),
        )
    }

    /// [`Self::helper`] with everything `get_func_proto` may look at.
    pub fn helper_for(
        &self,
        id: i32,
        q: &ProgQuery<'_>,
    ) -> Result<&'static HelperProto, HelperUnavailable> {
        let data = self.helpers.ok_or(HelperUnavailable::NoData)?;
        let table = data.table().map_err(HelperUnavailable::Data)?;
        table.resolve(id, q)
    }

    /// Whether the loader may use loops, subprograms and kfuncs (`env->bpf_capable`).
    pub fn bpf_capable(&self) -> bool {
        self.caps.bpf || self.caps.sys_admin
    }

    /// The longest program the loader may submit.
    pub fn max_prog_len(&self) -> u32 {
        if self.bpf_capable() {
            self.limits.complexity_insns
        } else {
            self.limits.max_insns_unpriv
        }
    }
}

/// `nr_cpu_ids` from the text of `/sys/devices/system/cpu/possible`
/// (`0-3`, `0`, `0-3,8-11`): one more than the highest CPU listed.
pub fn parse_possible_cpus(text: &str) -> Option<u32> {
    let mut highest: Option<u32> = None;
    for range in text.trim().split(',') {
        let last = range.rsplit('-').next()?.trim().parse::<u32>().ok()?;
        highest = highest.max(Some(last));
    }
    highest?.checked_add(1)
}

/// Instruction text as this kernel's verifier prints it: kfunc calls are
/// named from the kernel's BTF when the profile has it.
impl bpfcheck_isa::Symbolizer for KernelProfile {
    fn helper_name(&self, id: i32) -> Option<String> {
        if u32::try_from(id).ok()? >= self.features.helper_id_end {
            return None;
        }
        bpfcheck_uapi::helper_name(id).map(str::to_owned)
    }

    fn kfunc_name(&self, btf_id: i32, fd_idx: i16) -> Option<String> {
        // A non-zero fd_idx names a module's BTF, which the profile lacks.
        if fd_idx != 0 {
            return None;
        }
        self.btf.as_ref()?.func_name(u32::try_from(btf_id).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn possible_cpus_are_one_past_the_highest_listed() {
        assert_eq!(parse_possible_cpus("0-1\n"), Some(2));
        assert_eq!(parse_possible_cpus("0"), Some(1));
        assert_eq!(parse_possible_cpus("0-3,8-11"), Some(12));
        assert_eq!(parse_possible_cpus(""), None);
        assert_eq!(parse_possible_cpus("x"), None);
    }

    #[test]
    fn versions_parse() {
        assert_eq!(
            KernelVersion::parse("6.18.44-fc-v657"),
            Some(KernelVersion::new(6, 18, 44))
        );
        assert_eq!(
            KernelVersion::parse("6.1"),
            Some(KernelVersion::new(6, 1, 0))
        );
        assert_eq!(KernelVersion::parse("x"), None);
        assert_eq!(KernelVersion::new(6, 12, 117).to_string(), "6.12.117");
    }

    #[test]
    fn builtins_resolve() {
        for name in KernelProfile::BUILTIN {
            assert_eq!(KernelProfile::builtin(name).unwrap().name, *name);
        }
        assert_eq!(KernelProfile::builtin("v6.1.192").unwrap().name, "6.1");
        let e = KernelProfile::builtin("4.19").unwrap_err();
        assert!(e.to_string().contains("known: 5.10, 6.1, 6.12, 6.18, 7.2"));
        assert!(KernelProfile::builtin(KernelProfile::DEFAULT).is_ok());
    }

    #[test]
    fn releases_without_a_profile_borrow_the_nearest_older_rules() {
        let p = KernelProfile::for_release("6.6.30", None).unwrap();
        assert_eq!(p.log_era, LogEra::V6_1);
        assert_eq!(p.name, "6.6.30");
        assert!(p.note.unwrap().contains("using the rules of 6.1"));
        let p = KernelProfile::for_release("6.18.44-fc-v657", None).unwrap();
        assert_eq!((p.log_era, p.note), (LogEra::V6_18, None));
        assert!(KernelProfile::for_release("4.19", None).is_err());
    }

    #[test]
    fn kfunc_names_come_from_the_kernel_btf() {
        use bpfcheck_btf::BtfBuilder;
        use bpfcheck_isa::Symbolizer;
        let mut b = BtfBuilder::new();
        let int = b.int("int", 4, true);
        let f = b.func("bpf_rcu_read_lock", int, &[]).unwrap();
        let bytes = b.to_bytes(bpfcheck_btf::ByteOrder::Little);
        let p = KernelProfile::builtin("6.18")
            .unwrap()
            .with_btf(KernelBtf::open(bytes).unwrap());
        assert_eq!(
            p.kfunc_name(f.0 as i32, 0).as_deref(),
            Some("bpf_rcu_read_lock")
        );
        assert_eq!(p.kfunc_name(f.0 as i32, 1), None);
        assert_eq!(p.kfunc_name(int.0 as i32, 0), None);
    }

    #[test]
    fn helper_names_stop_at_the_kernels_table() {
        use bpfcheck_isa::Symbolizer;
        let p61 = KernelProfile::builtin("6.1").unwrap();
        let p612 = KernelProfile::builtin("6.12").unwrap();
        let p510 = KernelProfile::builtin("5.10").unwrap();
        assert_eq!(
            p61.helper_name(209).as_deref(),
            Some("bpf_user_ringbuf_drain")
        );
        assert_eq!(p61.helper_name(210), None);
        assert_eq!(
            p612.helper_name(211).as_deref(),
            Some("bpf_cgrp_storage_delete")
        );
        assert_eq!(p510.helper_name(155).as_deref(), Some("bpf_redirect_peer"));
        assert_eq!(p510.helper_name(156), None);
        assert_eq!(p510.helper_name(-1), None);
    }

    #[test]
    fn lazy_btf_is_read_once_and_only_when_asked() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let reads = Arc::new(AtomicUsize::new(0));
        let r = Arc::clone(&reads);
        let btf = KernelBtf::lazy("test", move || {
            r.fetch_add(1, Ordering::SeqCst);
            Err("gone".into())
        });
        assert!(!btf.is_loaded());
        assert_eq!(reads.load(Ordering::SeqCst), 0);
        assert_eq!(btf.btf().unwrap_err(), "test: gone");
        assert_eq!(btf.func_name(1), None);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }
}
