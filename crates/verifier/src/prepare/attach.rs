//! BTF attach targets: the attribute rules of `bpf_prog_load_check_attach`
//! for `attach_btf_id`, and `check_attach_btf_id` / `bpf_check_attach_target`
//! for tracing and LSM programs (after `check_cfg`), in the kernel's order
//! and words. The target is a type of the profile's kernel BTF (what
//! `bpf_get_btf_vmlinux` gives), read only for programs that name one.
//!
//! What this judges: a missing or malformed target (wrong kind, wrong
//! `btf_trace_` prefix), the prototype a trampoline can call, LSM hooks
//! and iterator targets (by the profile's lists: [`super::lsm`],
//! [`super::iter_target`]), `fmod_ret` on `security_` functions. What it
//! cannot: whether the kernel found the target's address or tracepoint,
//! the error-injection list (`fmod_ret` elsewhere, sleepable `fentry`,
//! `fexit` and `fmod_ret`) and the deny lists; programs whose verdict
//! hangs on those are `unsupported`, by their attach type's name.

use bpfcheck_btf::{Btf, BtfTypeId, Type};
use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::{AttachType, Errno, LoadRequest, ProgType, load::BPF_F_SLEEPABLE};

use crate::error::{ErrorCode, Stop, Unsupported, VerifierError};

/// `BTF_MAX_TYPE`.
const BTF_MAX_TYPE: u32 = 0x000f_ffff;
/// The typedef prefix of a raw tracepoint's prototype (`btf_trace_##call`).
const TRACE_PREFIX: &str = "btf_trace_";

/// A resolved attach target (`attach_func_name`, `attach_func_proto`).
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// `attach_func_name`: the function, or the tracepoint without its
    /// `btf_trace_` prefix.
    pub(crate) name: String,
    /// The `FUNC_PROTO` of the target.
    pub(crate) proto: BtfTypeId,
    /// `attach_btf_trace`: the prototype's first parameter is the
    /// tracepoint's `void *__data`, not an argument.
    pub(crate) btf_trace: bool,
}

fn refuse(msg: String) -> Stop {
    VerifierError::new(ErrorCode::InvalidAttr, Errno::EINVAL, None, msg).into()
}

fn unsupported(what: impl Into<String>) -> Stop {
    Unsupported::new(what, None).into()
}

/// Whether the load names a BTF attach target the kernel would look at.
pub(crate) fn names_target(req: &LoadRequest) -> bool {
    req.attach_btf_id != 0
}

/// The `attach_btf_id` part of `bpf_prog_load_check_attach` (no log:
/// `bpf_prog_load` refuses before the verifier exists). The loader is
/// taken to pass no `attach_prog_fd`, which a [`LoadRequest`] cannot hold.
pub(crate) fn check_attr(req: &LoadRequest, profile: &KernelProfile) -> Result<(), Stop> {
    let silent = || {
        Stop::Reject(VerifierError::new(
            ErrorCode::InvalidAttr,
            Errno::EINVAL,
            None,
            "",
        ))
    };
    match req.prog_type {
        // The program types a target prog or BTF would change: judged
        // by their own rules, which are not modelled.
        ProgType::EXT => return Err(unsupported("freplace programs (attach_prog_fd)")),
        ProgType::STRUCT_OPS => return Err(unsupported("struct_ops programs")),
        _ => {}
    }
    if !names_target(req) {
        return Ok(());
    }
    if req.attach_btf_id > BTF_MAX_TYPE {
        return Err(silent());
    }
    if profile.btf.is_none() {
        return Err(unsupported("BTF attach targets without the kernel's BTF"));
    }
    if !matches!(req.prog_type, ProgType::TRACING | ProgType::LSM) {
        return Err(silent());
    }
    Ok(())
}

/// `check_attach_btf_id` for tracing and LSM programs, after the
/// sleepable check.
pub(crate) fn check(req: &LoadRequest, profile: &KernelProfile) -> Result<(), Stop> {
    if !matches!(req.prog_type, ProgType::TRACING | ProgType::LSM) {
        return Ok(());
    }
    if req.attach_btf_id == 0 {
        return Err(refuse("Tracing programs must provide btf_id".to_owned()));
    }
    let btf = kernel_btf(profile)?;
    let target = resolve(req, btf)?;
    let sleepable = req.prog_flags & BPF_F_SLEEPABLE != 0;
    use AttachType as A;
    let attach = req.expected_attach_type;
    match attach {
        A::TRACE_RAW_TP if req.prog_type == ProgType::TRACING => return Ok(()),
        A::TRACE_ITER => {
            distill_func_proto(btf, &target, false)?;
            super::iter_target::supported(profile, &target)?;
            return super::iter_target::check_maps(req);
        }
        _ => {}
    }
    // fentry, fexit, fmod_ret and LSM hooks: a trampoline calls them.
    distill_func_proto(
        btf,
        &target,
        matches!(attach, A::TRACE_FEXIT | A::MODIFY_RETURN),
    )?;
    // The target's address is taken to exist: vmlinux BTF describes the
    // functions pahole found in the symbol table.
    if sleepable {
        if req.prog_type == ProgType::LSM {
            super::lsm::check_sleepable(profile, &target)?;
        } else {
            return Err(unsupported(format!(
                "sleepable {attach} programs (the kernel's error-injection list)"
            )));
        }
    } else if attach == A::MODIFY_RETURN && !target.name.starts_with(SECURITY_PREFIX) {
        // `btf_kfunc_is_modify_return` and `within_error_injection_list`.
        return Err(unsupported(
            "fmod_ret programs (the kernel's error-injection list)",
        ));
    }
    if req.prog_type == ProgType::LSM {
        return super::lsm::verify_prog(req, profile, &target);
    }
    if ATTACH_DENIED.contains(&target.name.as_str())
        || (matches!(attach, A::TRACE_FEXIT | A::MODIFY_RETURN)
            && NORETURN.contains(&target.name.as_str()))
    {
        return Err(unsupported(
            "tracing a function on the kernel's deny lists (btf_id_deny, noreturn_deny)",
        ));
    }
    Ok(())
}

/// The functions whose return value `fmod_ret` programs may change
/// without being on the error-injection list (`SECURITY_PREFIX`).
const SECURITY_PREFIX: &str = "security_";

/// `MAX_BPF_FUNC_ARGS`: what a trampoline saves.
const MAX_BPF_FUNC_ARGS: usize = 12;

/// Functions `btf_id_deny` may hold (which of them depends on the
/// kernel's configuration and version: the union of 6.1 to 7.x). Tracing
/// them is `unsupported` rather than guessed.
const ATTACH_DENIED: &[&str] = &[
    "migrate_disable",
    "migrate_enable",
    "__migrate_enable",
    "___migrate_enable",
    "rcu_read_unlock_strict",
    "preempt_count_add",
    "preempt_count_sub",
    "__rcu_read_lock",
    "__rcu_read_unlock",
];

/// `noreturn_deny`, likewise the union over versions and configurations.
const NORETURN: &[&str] = &[
    "__ia32_sys_exit",
    "__ia32_sys_exit_group",
    "__kunit_abort",
    "kunit_try_catch_throw",
    "__module_put_and_kthread_exit",
    "__x64_sys_exit",
    "__x64_sys_exit_group",
    "do_exit",
    "do_group_exit",
    "kthread_complete_and_exit",
    "kthread_exit",
    "make_task_dead",
];

/// The size a trampoline gives a parameter or return type
/// (`__get_type_size`): pointers 8, numbers and composites their size,
/// void 0; `None` for any other kind, with the type met.
fn trampoline_size<'b>(btf: &'b Btf<'_>, id: BtfTypeId) -> (Option<u32>, Option<Type<'b>>) {
    if id.is_void() {
        return (Some(0), None);
    }
    let Ok(t) = btf.resolve(id) else {
        return (None, None);
    };
    let size = match t {
        Type::Ptr(_) => Some(8),
        Type::Int(_) | Type::Enum(_) | Type::Enum64(_) | Type::Struct(_) | Type::Union(_) => {
            Some(t.raw().size_or_type())
        }
        _ => None,
    };
    (size, Some(t))
}

/// `btf_type_str` of a type met by [`trampoline_size`].
fn kind_name(t: Option<&Type<'_>>) -> &'static str {
    match t.map(Type::kind) {
        None | Some(bpfcheck_btf::BtfKind::Void) => "UNKNOWN",
        Some(k) => k.name(),
    }
}

/// `btf_distill_func_proto`: the prototype a trampoline can call.
fn distill_func_proto(btf: &Btf<'_>, target: &Target, uses_retval: bool) -> Result<(), Stop> {
    let Ok(Type::FuncProto(proto)) = btf.type_by_id(target.proto) else {
        return Err(refuse(String::new()));
    };
    let name = &target.name;
    let params: Vec<_> = proto.params().collect();
    if params.len() > MAX_BPF_FUNC_ARGS {
        return Err(refuse(format!(
            "The function {name} has {} arguments. Too many.",
            params.len()
        )));
    }
    let (ret, t) = trampoline_size(btf, proto.return_type());
    let composite = matches!(t, Some(Type::Struct(_) | Type::Union(_)));
    let Some(ret) = ret.filter(|_| !composite) else {
        return Err(refuse(format!(
            "The function {name} return type {} is unsupported.",
            kind_name(t.as_ref())
        )));
    };
    for (i, p) in params.iter().enumerate() {
        if i + 1 == params.len() && p.ty.is_void() {
            return Err(refuse(format!(
                "The function {name} with variable args is unsupported."
            )));
        }
        match trampoline_size(btf, p.ty) {
            (Some(0), _) => {
                return Err(refuse(format!(
                    "The function {name} has malformed void argument."
                )));
            }
            (Some(1..=16), _) => {}
            (_, t) => {
                return Err(refuse(format!(
                    "The function {name} arg{i} type {} is unsupported.",
                    kind_name(t.as_ref())
                )));
            }
        }
    }
    if ret > 8 && uses_retval {
        // Trampolines that read the return value refuse it (6.12+); not
        // every kernel does.
        return Err(unsupported(
            "tracing a function with a >8 byte return value",
        ));
    }
    Ok(())
}

fn kernel_btf(profile: &KernelProfile) -> Result<&Btf<'static>, Stop> {
    let Some(k) = profile.btf.as_ref() else {
        return Err(unsupported("BTF attach targets without the kernel's BTF"));
    };
    k.btf()
        .map_err(|e| unsupported(format!("BTF attach targets (kernel BTF unreadable: {e})")))
}

/// `bpf_check_attach_target` without a target program: the kinds and
/// names the attach type wants.
fn resolve(req: &LoadRequest, btf: &Btf<'_>) -> Result<Target, Stop> {
    let id = req.attach_btf_id;
    let Ok(t) = btf.type_by_id(BtfTypeId(id)) else {
        return Err(refuse(format!("attach_btf_id {id} is invalid")));
    };
    let tname = t.name().unwrap_or("").to_owned();
    use AttachType as A;
    match req.expected_attach_type {
        A::TRACE_RAW_TP => {
            let Type::Typedef(r) = t else {
                return Err(refuse(format!("attach_btf_id {id} is not a typedef")));
            };
            let Some(name) = tname.strip_prefix(TRACE_PREFIX) else {
                return Err(refuse(format!(
                    "attach_btf_id {id} points to wrong type name {tname}"
                )));
            };
            // The template's FUNC (found by its kallsyms name) has the
            // typedef's parameter types; the typedef's pointee stands in.
            let proto = match btf.type_by_id(r.target()) {
                Ok(Type::Ptr(p)) => p.target(),
                _ => return Err(unsupported("a btf_trace_ typedef that is not a pointer")),
            };
            match btf.type_by_id(proto) {
                Ok(Type::FuncProto(_)) => Ok(Target {
                    name: name.to_owned(),
                    proto,
                    btf_trace: true,
                }),
                _ => Err(unsupported("a btf_trace_ typedef without a prototype")),
            }
        }
        A::TRACE_ITER
        | A::MODIFY_RETURN
        | A::LSM_MAC
        | A::LSM_CGROUP
        | A::TRACE_FENTRY
        | A::TRACE_FEXIT => {
            let Type::Func(f) = t else {
                return Err(refuse(format!("attach_btf_id {id} is not a function")));
            };
            Ok(Target {
                name: tname,
                proto: f.proto(),
                btf_trace: false,
            })
        }
        // Any other attach type: refused without a word, which the log's
        // statistics line alone would show.
        other => Err(unsupported(format!(
            "attach type {other} of program type {}",
            req.prog_type
        ))),
    }
}

/// Whether `do_check` models this tracing or LSM program: `tp_btf`,
/// `fentry`, `fexit`, `fmod_ret` and iterator programs, and LSM programs
/// on kernels whose return-value rules are modelled (6.12's).
pub(crate) fn walks_tracing(req: &LoadRequest, profile: &KernelProfile) -> bool {
    use AttachType as A;
    match req.prog_type {
        ProgType::TRACING => matches!(
            req.expected_attach_type,
            A::TRACE_RAW_TP | A::TRACE_FENTRY | A::TRACE_FEXIT | A::MODIFY_RETURN | A::TRACE_ITER
        ),
        ProgType::LSM => super::lsm::walked(profile),
        _ => false,
    }
}

/// The target of a program [`check`] accepted (`None` for programs
/// without one).
pub(crate) fn target(req: &LoadRequest, profile: &KernelProfile) -> Option<Target> {
    if !matches!(req.prog_type, ProgType::TRACING | ProgType::LSM) || req.attach_btf_id == 0 {
        return None;
    }
    resolve(req, kernel_btf(profile).ok()?).ok()
}
