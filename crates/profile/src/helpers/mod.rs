//! Helper prototypes and which helper each program type may call, as
//! generated from the kernels' sources by `tools/gen-profile/gen_helpers.py`
//! and embedded in the binary (`data/helpers-*.txt`, parsed on first use).
//!
//! The kernel answers "may this program call helper N, and with which
//! prototype?" by calling its program type's `get_func_proto(func_id,
//! prog)`. Those dispatchers switch on the helper id, fall through to
//! shared dispatchers (`bpf_base_func_proto`, `bpf_sk_base_func_proto`…)
//! and test the program (`expected_attach_type`, sleepable, trampoline) and
//! the loader (`bpf_token_capable(…, CAP_BPF)`). The generator executes
//! each dispatcher symbolically per helper id and records the outcome as a
//! first-match list of guarded targets; [`ProgTypeHelpers::resolve`]
//! evaluates it for a [`ProgQuery`].
//!
//! Assumptions the data makes, as the kernel cannot know them at load
//! time either: kernel lockdown is off (`security_locked_down()` passes)
//! and allocations at first use succeed.

mod data;
mod types;

use std::{collections::HashMap, fmt, sync::OnceLock};

use bpfcheck_uapi::{AttachType, ProgType, helper_name};

pub use data::DataError;
pub use types::{ArgBase, ArgType, BtfRef, RetBase, RetType, TypeFlag, TypeFlags};

use crate::Capabilities;

/// One helper prototype (`struct bpf_func_proto`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelperProto {
    /// The prototype's symbol (`bpf_map_lookup_elem_proto`).
    pub symbol: &'static str,
    /// The helper id (`BPF_FUNC_*`) it serves.
    pub id: u32,
    /// Where the kernel defines it (`kernel/bpf/helpers.c:44`).
    pub defined_at: &'static str,
    /// `.func` is set (6.10+ refuses a prototype without one).
    pub has_func: bool,
    /// `.gpl_only`.
    pub gpl_only: bool,
    /// `.pkt_access`: packet pointers are accepted as memory arguments.
    pub pkt_access: bool,
    /// `.might_sleep`: only sleepable programs may call it.
    pub might_sleep: bool,
    /// `.allow_fastcall`.
    pub allow_fastcall: bool,
    /// `.ret_type`.
    pub ret: RetType,
    /// `.arg1_type` … `.arg5_type` (`ARG_DONTCARE` when unused).
    pub args: [ArgType; 5],
    /// `.argN_btf_id`: the type an `ARG_PTR_TO_BTF_ID` argument points to.
    pub arg_btf: [Option<BtfRef>; 5],
    /// `.argN_size`: bytes of a `MEM_FIXED_SIZE` argument.
    pub arg_size: [Option<u32>; 5],
    /// `.ret_btf_id`.
    pub ret_btf: Option<BtfRef>,
    /// `.allowed`: the kernel function that further restricts callers
    /// (e.g. `bpf_d_path_allowed`); its logic is not modelled here.
    pub allowed: Option<&'static str>,
}

impl HelperProto {
    /// The helper's name as the verifier prints it (`bpf_map_lookup_elem`).
    pub fn name(&self) -> &'static str {
        i32::try_from(self.id)
            .ok()
            .and_then(helper_name)
            .unwrap_or("unknown")
    }

    /// Arguments in use (up to the first `ARG_DONTCARE`).
    pub fn used_args(&self) -> &[ArgType] {
        let n = self
            .args
            .iter()
            .position(|a| a.base == ArgBase::DontCare)
            .unwrap_or(5);
        &self.args[..n]
    }
}

/// Why a helper call is refused before its arguments are looked at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelperUnavailable {
    /// The id is outside the kernel's `enum bpf_func_id`.
    UnknownId {
        /// The call's `imm`.
        id: i32,
    },
    /// The program type's `get_func_proto` returns NULL (or, 6.10+, a
    /// prototype without `.func`).
    NotOffered {
        /// The helper id.
        id: u32,
        /// The kernel's wording of the refusal (depends on the release).
        message: &'static str,
    },
    /// The profile carries no helper data (5.10).
    NoData,
    /// The embedded data is defective (never expected; reported as an
    /// internal error by the caller).
    Data(DataError),
}

impl fmt::Display for HelperUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // func_id_name() names ids out of range `unknown`.
            Self::UnknownId { id } => write!(f, "invalid func unknown#{id}"),
            Self::NotOffered { id, message } => {
                let name = i32::try_from(*id)
                    .ok()
                    .and_then(helper_name)
                    .unwrap_or("unknown");
                write!(f, "{message} {name}#{id}")
            }
            Self::NoData => f.write_str("this kernel profile has no helper data"),
            Self::Data(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for HelperUnavailable {}

/// What `get_func_proto` looks at in a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgQuery<'a> {
    /// `prog->type`.
    pub prog_type: ProgType,
    /// `prog->expected_attach_type`.
    pub expected_attach_type: AttachType,
    /// `BPF_F_SLEEPABLE`.
    pub sleepable: bool,
    /// The attach target's name: the kernel function (LSM hook
    /// `bpf_lsm_…`) or, for struct_ops, the member implemented.
    pub attach_target: Option<&'a str>,
    /// For `BPF_PROG_TYPE_STRUCT_OPS`: the struct_ops type
    /// (`tcp_congestion_ops`), whose verifier ops answer.
    pub struct_ops: Option<&'a str>,
    /// For `BPF_PROG_TYPE_EXT`: the target program's type and attach
    /// type, whose verifier ops answer.
    pub ext_target: Option<(ProgType, AttachType)>,
    /// The loader's capabilities.
    pub caps: Capabilities,
}

impl ProgQuery<'_> {
    /// A query for a non-sleepable program without attach target.
    pub fn new(prog_type: ProgType, expected_attach_type: AttachType, caps: Capabilities) -> Self {
        Self {
            prog_type,
            expected_attach_type,
            sleepable: false,
            attach_target: None,
            struct_ops: None,
            ext_target: None,
            caps,
        }
    }

    /// `resolve_prog_type()`: an extension answers as its target.
    fn resolved(&self) -> (ProgType, AttachType) {
        match (self.prog_type, self.ext_target) {
            (ProgType::EXT, Some(t)) => t,
            _ => (self.prog_type, self.expected_attach_type),
        }
    }
}

/// Capabilities the dispatchers test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cap {
    Bpf,
    Perfmon,
    SysAdmin,
    NetAdmin,
}

impl Cap {
    fn from_kernel_name(s: &str) -> Option<Self> {
        Some(match s {
            "CAP_BPF" => Self::Bpf,
            "CAP_PERFMON" => Self::Perfmon,
            "CAP_SYS_ADMIN" => Self::SysAdmin,
            "CAP_NET_ADMIN" => Self::NetAdmin,
            _ => return None,
        })
    }

    /// `bpf_token_capable()` / `bpf_capable()` / `perfmon_capable()`:
    /// CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON.
    fn held(self, c: Capabilities) -> bool {
        match self {
            Self::Bpf => c.bpf || c.sys_admin,
            Self::Perfmon => c.perfmon || c.sys_admin,
            Self::SysAdmin => c.sys_admin,
            Self::NetAdmin => c.net_admin,
        }
    }
}

/// A predicate a guard literal tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pred {
    AttachType(AttachType),
    ProgType(ProgType),
    Capable(Cap),
    Sleepable,
    HasTrampoline,
    CheckRecur,
    LockedDown(&'static str),
    TargetIn(&'static str),
    Member(&'static str),
    /// The dispatcher (index) answers non-NULL.
    Answers(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lit {
    neg: bool,
    pred: Pred,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Proto(usize),
    Null,
    Call(usize),
    Try(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Alt {
    guard: Vec<Lit>,
    target: Target,
}

#[derive(Clone, Debug)]
pub(crate) struct Dispatcher {
    name: &'static str,
    file: &'static str,
    defined: bool,
    rows: HashMap<u32, Vec<Alt>>,
    default: Vec<Alt>,
}

/// Nesting the kernel's dispatchers never approach; a cycle in defective
/// data ends here instead of overflowing the stack.
const MAX_DEPTH: u32 = 16;

/// One kernel's helper data.
#[derive(Debug)]
pub struct HelperTable(data::Table);

impl HelperTable {
    /// The kernel the data describes.
    pub fn kernel(&self) -> &str {
        &self.0.kernel
    }

    /// `__BPF_FUNC_MAX_ID`.
    pub fn max_id(&self) -> u32 {
        self.0.max_id
    }

    /// Every prototype, in helper-id order.
    pub fn protos(&self) -> &[HelperProto] {
        &self.0.protos
    }

    /// A prototype by its kernel symbol.
    pub fn proto(&self, symbol: &str) -> Option<&HelperProto> {
        self.0.proto_by_sym.get(symbol).map(|&i| &self.0.protos[i])
    }

    /// Names of the dispatch functions, sorted.
    pub fn dispatchers(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.0.dispatchers.iter().map(|d| d.name).collect();
        v.sort_unstable();
        v
    }

    /// Program types the kernel has, with their dispatcher's name (`None`:
    /// answered by a target, as for struct_ops and extensions).
    pub fn prog_types(&self) -> Vec<(ProgType, Option<&'static str>)> {
        let mut v: Vec<_> = self
            .0
            .prog_types
            .iter()
            .map(|(pt, d)| (*pt, d.map(|i| self.0.dispatchers[i].name)))
            .collect();
        v.sort_unstable_by_key(|(pt, _)| *pt);
        v
    }

    /// The helpers of one program type.
    pub fn for_prog_type(&self, prog_type: ProgType) -> ProgTypeHelpers<'_> {
        ProgTypeHelpers {
            table: self,
            prog_type,
        }
    }

    /// The prototype helper `id` resolves to for `q`.
    pub fn resolve(&self, id: i32, q: &ProgQuery<'_>) -> Result<&HelperProto, HelperUnavailable> {
        let t = &self.0;
        let uid = u32::try_from(id)
            .ok()
            .filter(|&u| u < t.max_id)
            .ok_or(HelperUnavailable::UnknownId { id })?;
        let refused = HelperUnavailable::NotOffered {
            id: uid,
            message: self.unavailable_message(),
        };
        let found = if let Some(target) = t.offers.get(&(q.prog_type, uid)) {
            self.target(*target, uid, q, 0)
        } else {
            let root = match q.prog_type {
                ProgType::STRUCT_OPS => q.struct_ops.and_then(|s| t.struct_ops.get(s).copied()),
                ProgType::EXT => q
                    .ext_target
                    .and_then(|(pt, _)| t.prog_types.get(&pt).copied().flatten()),
                pt => t.prog_types.get(&pt).copied().flatten(),
            };
            match root {
                Some(d) => self.eval(d, uid, q, 0),
                None => None,
            }
        };
        match found.map(|i| &t.protos[i]) {
            Some(p) if p.has_func || !t.requires_func => Ok(p),
            _ => Err(refused),
        }
    }

    fn unavailable_message(&self) -> &'static str {
        // The two wordings the kernels use; the data names which.
        if self.0.msg_unavailable == "unknown func" {
            "unknown func"
        } else {
            "program of this type cannot use helper"
        }
    }

    fn eval(&self, d: usize, id: u32, q: &ProgQuery<'_>, depth: u32) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        let disp = &self.0.dispatchers[d];
        let alts = disp.rows.get(&id).unwrap_or(&disp.default);
        for alt in alts {
            if !alt.guard.iter().all(|l| self.holds(*l, id, q, depth)) {
                continue;
            }
            match alt.target {
                Target::Try(g) => {
                    if let Some(p) = self.eval(g, id, q, depth + 1) {
                        return Some(p);
                    }
                }
                t => return self.target(t, id, q, depth),
            }
        }
        None
    }

    fn target(&self, t: Target, id: u32, q: &ProgQuery<'_>, depth: u32) -> Option<usize> {
        match t {
            Target::Proto(p) => Some(p),
            Target::Null => None,
            Target::Call(g) | Target::Try(g) => self.eval(g, id, q, depth + 1),
        }
    }

    fn holds(&self, l: Lit, id: u32, q: &ProgQuery<'_>, depth: u32) -> bool {
        let (pt, eat) = q.resolved();
        let v = match l.pred {
            Pred::AttachType(a) => q.expected_attach_type == a,
            Pred::ProgType(p) => q.prog_type == p,
            Pred::Capable(c) => c.held(q.caps),
            Pred::Sleepable => q.sleepable,
            // bpf_prog_has_trampoline(): fentry/fexit/fmod_ret and LSM hooks.
            Pred::HasTrampoline => {
                (q.prog_type == ProgType::TRACING
                    && matches!(
                        q.expected_attach_type,
                        AttachType::TRACE_FENTRY
                            | AttachType::TRACE_FEXIT
                            | AttachType::MODIFY_RETURN
                    ))
                    || (q.prog_type == ProgType::LSM
                        && q.expected_attach_type == AttachType::LSM_MAC)
            }
            // bpf_prog_check_recur(): every type but iterators, struct_ops
            // and LSM runs under the trampoline's recursion protection.
            Pred::CheckRecur => match pt {
                ProgType::TRACING => eat != AttachType::TRACE_ITER,
                ProgType::STRUCT_OPS | ProgType::LSM => false,
                _ => true,
            },
            Pred::LockedDown(_) => false,
            Pred::TargetIn(set) => match (q.attach_target, self.0.btf_sets.get(set)) {
                (Some(t), Some(funcs)) => funcs.contains(&t),
                _ => false,
            },
            Pred::Member(m) => q.attach_target == Some(m),
            Pred::Answers(g) => self.eval(g, id, q, depth + 1).is_some(),
        };
        v != l.neg
    }
}

/// Whether a program type is offered a helper, over all attach types and
/// sleepability, for given capabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// Offered whatever the attach type.
    Always,
    /// Offered for some attach types (or only when sleepable, or only for
    /// some attach targets).
    Conditional,
    /// Never offered.
    Never,
}

/// The helpers of one program type.
#[derive(Clone, Copy, Debug)]
pub struct ProgTypeHelpers<'a> {
    table: &'a HelperTable,
    prog_type: ProgType,
}

impl<'a> ProgTypeHelpers<'a> {
    /// The prototype helper `id` resolves to.
    pub fn resolve(
        &self,
        id: i32,
        expected_attach_type: AttachType,
        caps: Capabilities,
    ) -> Result<&'a HelperProto, HelperUnavailable> {
        self.table.resolve(
            id,
            &ProgQuery::new(self.prog_type, expected_attach_type, caps),
        )
    }

    /// Whether helper `id` is offered: tries every attach type the data's
    /// guards name (and those `bpf_prog_has_trampoline` and
    /// `bpf_prog_check_recur` test), sleepable or not, and every attach
    /// target the data names.
    pub fn offer(&self, id: u32, caps: Capabilities) -> Offer {
        let Ok(id) = i32::try_from(id) else {
            return Offer::Never;
        };
        let targets: Vec<Option<&str>> = std::iter::once(None)
            .chain(
                self.table
                    .0
                    .btf_sets
                    .values()
                    .flat_map(|v| v.iter().map(|s| Some(*s))),
            )
            .collect();
        // Only the attach types some guard names can change the answer.
        let mut eats = vec![AttachType(0)];
        for d in &self.table.0.dispatchers {
            for alt in d.rows.values().flatten().chain(&d.default) {
                for l in &alt.guard {
                    if let Pred::AttachType(a) = l.pred
                        && !eats.contains(&a)
                    {
                        eats.push(a);
                    }
                }
            }
        }
        eats.extend([
            AttachType::TRACE_FENTRY,
            AttachType::TRACE_ITER,
            AttachType::LSM_MAC,
        ]);
        let (mut yes, mut no) = (false, false);
        for eat in eats {
            for sleepable in [false, true] {
                for target in &targets {
                    let q = ProgQuery {
                        sleepable,
                        attach_target: *target,
                        ..ProgQuery::new(self.prog_type, eat, caps)
                    };
                    match self.table.resolve(id, &q) {
                        Ok(_) => yes = true,
                        Err(_) => no = true,
                    }
                }
            }
        }
        match (yes, no) {
            (true, false) => Offer::Always,
            (true, true) => Offer::Conditional,
            _ => Offer::Never,
        }
    }
}

/// The kernels with embedded helper data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HelperData {
    /// Linux 6.1 (Debian bookworm).
    V6_1,
    /// Linux 6.12 (Debian bookworm-security).
    V6_12,
    /// Linux 6.18: 6.12's data plus differences proven on a live 6.18.
    V6_18,
    /// Linux 7.2 (Debian sid's source and cloud kernel config).
    V7_2,
}

static TEXT_6_1: &str = include_str!("../../data/helpers-6.1.txt");
static TEXT_6_12: &str = include_str!("../../data/helpers-6.12.txt");
static TEXT_6_18: &str = include_str!("../../data/helpers-6.18.txt");
static TEXT_7_2: &str = include_str!("../../data/helpers-7.2.txt");

type Loaded = OnceLock<Result<HelperTable, DataError>>;
static TABLE_6_1: Loaded = OnceLock::new();
static TABLE_6_12: Loaded = OnceLock::new();
static TABLE_6_18: Loaded = OnceLock::new();
static TABLE_7_2: Loaded = OnceLock::new();

impl HelperData {
    /// The embedded text (for size accounting and tests).
    pub fn text(self) -> &'static str {
        match self {
            Self::V6_1 => TEXT_6_1,
            Self::V6_12 => TEXT_6_12,
            Self::V6_18 => TEXT_6_18,
            Self::V7_2 => TEXT_7_2,
        }
    }

    /// The parsed table, parsed on first use.
    pub fn table(self) -> Result<&'static HelperTable, DataError> {
        let cell = match self {
            Self::V6_1 => &TABLE_6_1,
            Self::V6_12 => &TABLE_6_12,
            Self::V6_18 => &TABLE_6_18,
            Self::V7_2 => &TABLE_7_2,
        };
        cell.get_or_init(|| {
            let base = |name: &str| -> Result<data::Table, DataError> {
                let d = match name {
                    "6.1" => Self::V6_1,
                    "6.12" => Self::V6_12,
                    _ => {
                        return Err(DataError {
                            line: 0,
                            what: format!("cannot inherit from {name}"),
                        });
                    }
                };
                data::parse(d.text(), None)
            };
            data::parse(self.text(), Some(&base)).map(HelperTable)
        })
        .as_ref()
        .map_err(Clone::clone)
    }
}

#[cfg(test)]
mod tests;
