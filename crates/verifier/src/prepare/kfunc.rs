//! Kfunc calls before `do_check` (`add_kfunc_call`): each distinct
//! `(imm, off)` a program calls is looked up once, the first time the
//! instruction scan meets it, in the profile's kernel BTF (its `FUNC` and
//! `FUNC_PROTO`) and kfunc registrations, and kept in a [`KfuncTab`] for
//! the walk and the liveness pass. Nothing about kfuncs the program does
//! not call is read: there is no index of all kfuncs.

use std::collections::BTreeMap;

use bpfcheck_btf::{Btf, BtfKind, BtfTypeId, Type};
use bpfcheck_profile::KernelProfile;
use bpfcheck_profile::kfuncs::{KfuncAccess, KfuncFlags};
use bpfcheck_uapi::{Errno, LoadRequest, RawInsn, op};

use crate::error::{ErrorCode, Stop, Unsupported, VerifierError};
use crate::log::Log;

/// `MAX_KFUNC_DESCS`.
const MAX_KFUNC_DESCS: usize = 256;
/// `MAX_BPF_FUNC_ARGS`.
const MAX_BPF_FUNC_ARGS: usize = 12;

/// A type as the kfunc checks see it, modifiers and typedefs skipped
/// (`btf_type_skip_modifiers`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KType {
    /// `void` (a return only).
    Void,
    /// An integer or enum of `size` bytes (`btf_type_is_scalar`).
    Scalar { size: u32 },
    /// A pointer.
    Ptr(Pointee),
    /// Anything else, by the kernel's kind name (`STRUCT`, `ARRAY`, …).
    Other(&'static str),
}

/// What a pointer parameter or return points to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pointee {
    /// The pointee's type id, modifiers skipped.
    pub(crate) id: BtfTypeId,
    /// Its kind as `btf_type_str` prints it.
    pub(crate) kind: &'static str,
    /// Its name (`""` when anonymous).
    pub(crate) name: String,
    /// `void`.
    pub(crate) void: bool,
    /// An integer or enum.
    pub(crate) scalar: bool,
    /// A struct or union.
    pub(crate) composite: bool,
    /// A struct whose members are all scalars, recursively
    /// (`__btf_type_is_scalar_struct`).
    pub(crate) scalar_struct: bool,
    /// `btf_resolve_size`, when it has one.
    pub(crate) size: Option<u32>,
}

/// One parameter of a kfunc prototype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KParam {
    /// Its name in the kernel's BTF: the suffixes (`__sz`, `__k`, `__ign`,
    /// …) say how the verifier treats it.
    pub(crate) name: String,
    pub(crate) ty: KType,
    /// A pointer to the program type's context (`btf_is_prog_ctx_type`).
    pub(crate) ctx: bool,
}

impl KParam {
    /// `__kfunc_param_match_suffix`.
    pub(crate) fn has_suffix(&self, suffix: &str) -> bool {
        self.name.len() > suffix.len() && self.name.ends_with(suffix)
    }
}

/// How the program type may call a kfunc (`btf_kfunc_flags` and
/// `btf_kfunc_is_allowed` for this program).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KAccess {
    Allowed(KfuncFlags),
    NotAllowed,
    /// The registration depends on something not modelled; the reason.
    Unknown(String),
}

/// One kfunc a program calls (`struct bpf_kfunc_desc` plus its meta).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KfuncDesc {
    pub(crate) name: String,
    pub(crate) btf_id: u32,
    pub(crate) access: KAccess,
    pub(crate) params: Vec<KParam>,
    pub(crate) ret: KType,
}

/// The kfuncs a program calls, by `(imm, off)` (`kfunc_tab`).
#[derive(Clone, Debug, Default)]
pub(crate) struct KfuncTab(BTreeMap<(i32, i16), KfuncDesc>);

impl KfuncTab {
    /// The kfunc a call instruction names, if the scan met it.
    pub(crate) fn get(&self, insn: &RawInsn) -> Option<&KfuncDesc> {
        self.0.get(&(insn.imm, insn.off))
    }

    /// The name of the kfunc `(imm, off)` names, as the log prints it.
    pub(crate) fn name(&self, imm: i32, off: i16) -> Option<String> {
        self.0.get(&(imm, off)).map(|d| d.name.clone())
    }

    /// Whether `insn` calls a kfunc that calls a callback synchronously
    /// (`is_sync_callback_calling_kfunc`: `bpf_rbtree_add_impl`'s `less`).
    pub(crate) fn calls_callback(&self, insn: &RawInsn) -> bool {
        insn.code == op::JMP | op::CALL
            && insn.src == op::PSEUDO_KFUNC_CALL
            && self
                .get(insn)
                .is_some_and(|d| d.name == "bpf_rbtree_add_impl")
    }

    /// How many argument registers a kfunc call reads
    /// (`get_call_summary`): known for a kfunc the program may call; one
    /// it may not is taken to read all five.
    pub(crate) fn nargs(&self, insn: &RawInsn) -> Option<u8> {
        self.get(insn)
            .filter(|d| matches!(d.access, KAccess::Allowed(_)))
            .and_then(|d| u8::try_from(d.params.len()).ok())
    }
}

/// Prints kfunc calls by name (`disasm_kfunc_name`), everything else as
/// [`bpfcheck_isa::DefaultSymbolizer`] does.
pub(crate) struct KfuncNames<'a>(pub(crate) &'a KfuncTab);

impl bpfcheck_isa::Symbolizer for KfuncNames<'_> {
    fn kfunc_name(&self, btf_id: i32, fd_idx: i16) -> Option<String> {
        self.0.name(btf_id, fd_idx)
    }
}

fn reject(code: ErrorCode, errno: Errno, insn: usize, msg: impl Into<String>) -> Stop {
    VerifierError::new(code, errno, Some(insn), msg.into()).into()
}

fn unsupported(what: impl Into<String>, insn: usize) -> Stop {
    Unsupported::new(what, Some(insn)).into()
}

/// `add_kfunc_call` for the call at `idx`.
pub(crate) fn add_kfunc_call(
    req: &LoadRequest,
    profile: &KernelProfile,
    log: &mut Log,
    tab: &mut KfuncTab,
    idx: usize,
    insn: &RawInsn,
) -> Result<(), Stop> {
    let Some(kbtf) = profile.btf.as_ref() else {
        return Err(unsupported("kfunc calls without the kernel's BTF", idx));
    };
    if tab.0.is_empty() && !crate::check::gpl_compatible(&req.license) {
        return Err(reject(
            ErrorCode::KfuncCall,
            Errno::EINVAL,
            idx,
            "cannot call kernel function from non-GPL compatible program",
        ));
    }
    // Left for dead-code elimination, which the walk does not model.
    if insn.imm == 0 && insn.off == 0 {
        return Err(unsupported("kfunc calls with btf_id 0", idx));
    }
    if insn.off < 0 {
        log.line("negative offset disallowed for kernel module function call");
        return Err(reject(
            ErrorCode::KfuncCall,
            Errno::EINVAL,
            idx,
            "failed to find BTF for kernel function",
        ));
    }
    if insn.off > 0 {
        if req.fd_array.is_none() {
            log.line("kfunc offset > 0 without fd_array is invalid");
            return Err(reject(
                ErrorCode::KfuncCall,
                Errno::EPROTO,
                idx,
                "failed to find BTF for kernel function",
            ));
        }
        return Err(unsupported("kfunc calls into module BTF", idx));
    }
    if tab.0.contains_key(&(insn.imm, insn.off)) {
        return Ok(());
    }
    if tab.0.len() == MAX_KFUNC_DESCS {
        return Err(reject(
            ErrorCode::KfuncCall,
            Errno::E2BIG,
            idx,
            "too many different kernel function calls",
        ));
    }
    let btf = kbtf
        .btf()
        .map_err(|e| unsupported(format!("kfunc calls (kernel BTF unreadable: {e})"), idx))?;
    let func_id = insn.imm as u32;
    let not_func = || {
        reject(
            ErrorCode::KfuncCall,
            Errno::EINVAL,
            idx,
            format!("kernel btf_id {func_id} is not a function"),
        )
    };
    let Ok(Type::Func(func)) = btf.type_by_id(BtfTypeId(func_id)) else {
        return Err(not_func());
    };
    let Ok(Type::FuncProto(proto)) = btf.type_by_id(func.proto()) else {
        return Err(reject(
            ErrorCode::KfuncCall,
            Errno::EINVAL,
            idx,
            format!("kernel function btf_id {func_id} does not have a valid func_proto"),
        ));
    };
    let name = func.name().unwrap_or("").to_owned();
    let mut access = access(profile, req, &name);
    if matches!(access, KAccess::Unknown(_))
        && !btf.has_decl_tag(BtfTypeId(func_id), "bpf_kfunc")
        && btf.find_kfunc("bpf_rcu_read_lock").is_some()
    {
        // A BTF that tags its kfuncs says this function is in no kfunc
        // set: the kernel finds its address and refuses the call when a
        // path reaches it. (BTF lists only functions with a symbol.)
        access = KAccess::NotAllowed;
    }
    if is_dev_bound(&name) {
        // The request carries no `prog_ifindex`: never device-bound.
        return Err(reject(
            ErrorCode::KfuncCall,
            Errno::EINVAL,
            idx,
            "metadata kfuncs require device-bound program",
        ));
    }
    let mut params = Vec::new();
    for p in proto.params() {
        let ty = ktype(btf, p.ty);
        let ctx = match btf.resolve(p.ty) {
            Ok(Type::Ptr(r)) => crate::check::is_prog_ctx(btf, r.target(), req.prog_type),
            _ => false,
        };
        params.push(KParam {
            name: p.name().unwrap_or("").to_owned(),
            ty,
            ctx,
        });
    }
    let ret = ktype(btf, proto.return_type());
    // `btf_distill_func_proto`: what a JIT can pass.
    let distillable = |t: &KType| matches!(t, KType::Scalar { .. } | KType::Ptr(_));
    if params.len() > MAX_BPF_FUNC_ARGS
        || proto.is_variadic()
        || !params.iter().all(|p| distillable(&p.ty))
        || !(distillable(&ret) || ret == KType::Void)
    {
        return Err(unsupported(
            format!("kfunc {name}: a prototype btf_distill_func_proto may refuse"),
            idx,
        ));
    }
    tab.0.insert(
        (insn.imm, insn.off),
        KfuncDesc {
            name,
            btf_id: func_id,
            access,
            params,
            ret,
        },
    );
    Ok(())
}

/// The XDP metadata kfuncs (`bpf_dev_bound_kfunc_id`).
fn is_dev_bound(name: &str) -> bool {
    name.starts_with("bpf_xdp_metadata_rx_")
}

fn access(profile: &KernelProfile, req: &LoadRequest, name: &str) -> KAccess {
    let Some(data) = profile.kfuncs else {
        return KAccess::Unknown(format!("kfunc {name}: no kfunc data for this kernel"));
    };
    let Ok(table) = data.table() else {
        return KAccess::Unknown(format!("kfunc {name}: unreadable kfunc data"));
    };
    match table.access(name, req.prog_type) {
        KfuncAccess::Allowed(r) => match r.filter {
            None => KAccess::Allowed(r.flags),
            Some(f) => KAccess::Unknown(format!("kfunc {name}: registration filter {f}")),
        },
        KfuncAccess::NotAllowed => KAccess::NotAllowed,
        KfuncAccess::Unknown => KAccess::Unknown(format!(
            "kfunc {name}: its kfunc set is not in the profile's data"
        )),
    }
}

/// `btf_type_str`.
fn kind_str(kind: BtfKind) -> &'static str {
    match kind {
        BtfKind::Void => "UNKNOWN",
        k => k.name(),
    }
}

fn ktype(btf: &Btf<'_>, id: BtfTypeId) -> KType {
    let Ok(t) = btf.resolve(id) else {
        return KType::Other("UNKNOWN");
    };
    match t.kind() {
        BtfKind::Void => KType::Void,
        BtfKind::Int | BtfKind::Enum | BtfKind::Enum64 => KType::Scalar {
            size: btf.size_of(t.id()).unwrap_or(0),
        },
        BtfKind::Ptr => KType::Ptr(pointee(btf, BtfTypeId(t.raw().size_or_type()))),
        k => KType::Other(kind_str(k)),
    }
}

fn pointee(btf: &Btf<'_>, id: BtfTypeId) -> Pointee {
    let t = btf.resolve(id).ok();
    let kind = t.as_ref().map_or(BtfKind::Void, Type::kind);
    let rid = t.as_ref().map_or(BtfTypeId::VOID, Type::id);
    Pointee {
        id: rid,
        kind: kind_str(kind),
        name: t
            .as_ref()
            .and_then(|t| t.name().ok())
            .unwrap_or("")
            .to_owned(),
        void: kind == BtfKind::Void,
        scalar: matches!(kind, BtfKind::Int | BtfKind::Enum | BtfKind::Enum64),
        composite: kind.is_composite(),
        scalar_struct: scalar_struct(btf, rid, 0),
        size: if kind == BtfKind::Void {
            None
        } else {
            btf.size_of(rid).ok()
        },
    }
}

/// `__btf_type_is_scalar_struct`: a struct whose members are scalars,
/// arrays of scalars or such structs, at most `MAX_RESOLVE_DEPTH` deep.
fn scalar_struct(btf: &Btf<'_>, id: BtfTypeId, depth: u32) -> bool {
    let Ok(Type::Struct(s)) = btf.resolve(id) else {
        return false;
    };
    if depth >= 32 {
        return false;
    }
    s.members().all(|m| {
        let Ok(mt) = btf.resolve(m.ty) else {
            return false;
        };
        let mt = match mt {
            Type::Array(a) => match btf.resolve(a.elem_type()) {
                Ok(e) => e,
                Err(_) => return false,
            },
            other => other,
        };
        match mt.kind() {
            BtfKind::Int | BtfKind::Enum | BtfKind::Enum64 => true,
            BtfKind::Struct => scalar_struct(btf, mt.id(), depth + 1),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfcheck_uapi::{ProgType, op};

    fn param(name: &str) -> KParam {
        KParam {
            name: name.to_owned(),
            ty: KType::Scalar { size: 4 },
            ctx: false,
        }
    }

    #[test]
    fn suffixes_need_a_name_before_them() {
        assert!(param("len__sz").has_suffix("__sz"));
        assert!(param("flags__k").has_suffix("__k"));
        assert!(!param("__sz").has_suffix("__sz"));
        assert!(!param("size").has_suffix("__sz"));
    }

    fn call(profile: &KernelProfile, name: &str, prog_type: ProgType) -> (KfuncTab, RawInsn) {
        let btf = profile.btf.as_ref().unwrap().btf().unwrap();
        let id = btf.find_kfunc(name).unwrap().id().0 as i32;
        let insn = RawInsn::new(op::JMP | op::CALL, 0, op::PSEUDO_KFUNC_CALL, 0, id);
        let req = LoadRequest {
            prog_type,
            license: "GPL".into(),
            insns: vec![insn],
            ..LoadRequest::default()
        };
        let mut tab = KfuncTab::default();
        let mut log = Log::new(0);
        add_kfunc_call(&req, profile, &mut log, &mut tab, 0, &insn).unwrap();
        (tab, insn)
    }

    #[test]
    fn prototypes_are_read_for_the_kfuncs_called() {
        let profile = KernelProfile::builtin("6.18").unwrap();
        let (tab, insn) = call(&profile, "bpf_xdp_pull_data", ProgType::XDP);
        let d = tab.get(&insn).unwrap();
        assert_eq!(d.name, "bpf_xdp_pull_data");
        assert!(matches!(d.access, KAccess::Allowed(_)));
        assert_eq!(d.params.len(), 2);
        assert!(d.params[0].ctx && !d.params[1].ctx);
        assert_eq!(d.ret, KType::Scalar { size: 4 });
        assert_eq!(tab.nargs(&insn), Some(2));
        assert_eq!(tab.name(insn.imm, 0).as_deref(), Some("bpf_xdp_pull_data"));
        // Not registered for socket filters: refused at the call, and its
        // call taken to read every argument register.
        let (tab, insn) = call(&profile, "bpf_xdp_pull_data", ProgType::SOCKET_FILTER);
        assert_eq!(tab.get(&insn).unwrap().access, KAccess::NotAllowed);
        assert_eq!(tab.nargs(&insn), None);
    }

    #[test]
    fn pointees_are_classified() {
        let profile = KernelProfile::builtin("6.18").unwrap();
        let (tab, insn) = call(&profile, "bpf_copy_from_user_str", ProgType::SYSCALL);
        let d = tab.get(&insn).unwrap();
        let KType::Ptr(dst) = &d.params[0].ty else {
            panic!("{:?}", d.params[0]);
        };
        assert!(dst.void && !dst.scalar && !dst.composite);
        assert!(d.params[1].has_suffix("__sz"));
        let KAccess::Allowed(flags) = d.access else {
            panic!("{:?}", d.access);
        };
        assert!(flags.has(KfuncFlags::SLEEPABLE));
    }
}
