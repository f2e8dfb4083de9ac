//! The arguments of a subprogram as its BTF prototype declares them
//! (`btf_prepare_func_args`), a call's registers against them
//! (`btf_check_func_arg_match`), and the registers a global function is
//! verified with (`do_check_common`).
//!
//! Modelled argument kinds: scalars (int and enum); the program's context,
//! by the context type's name (`btf_is_prog_ctx_type`) or by an `arg:ctx`
//! declaration tag, whose pointee `btf_validate_prog_ctx_type` checks per
//! program type (and attach type for tracing); pointers to sized memory of
//! a global function, maybe NULL unless tagged `arg:nonnull`; `arg:trusted`
//! kernel objects (maybe NULL with `arg:nullable`), found in the kernel's
//! BTF by the pointee's name without its `___flavor`; `arg:arena`
//! pointers, which the callee sees as scalars. The tag rules and their
//! messages: tags in static functions, unknown tags, invalid combinations,
//! `arena` with another tag, a tag on a non-pointer.
//!
//! Not modelled (unsupported): `arg:untrusted` (a 6.18 tag), dynptr
//! arguments (`struct bpf_dynptr *`), candidates in kernel modules' BTF and
//! flavoured names in the kernel's, pointees whose size the BTF model cannot
//! compute.

use bpfcheck_btf::{Btf, BtfKind, BtfTypeId, Type};
use bpfcheck_uapi::{AttachType, Errno, ProgType};

use super::Checker;
use super::ptr_alu::offsets;
use crate::error::{ErrorCode, Stop};
use crate::state::btf_ptr::TypeName;
use crate::state::{BtfPtr, MemKind, PtrFields, RegState, Trust};

/// An argument's kind (`sub->args[i].arg_type`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ArgKind {
    /// `ARG_ANYTHING`: a scalar.
    Scalar,
    /// `ARG_PTR_TO_CTX`.
    Ctx,
    /// `ARG_PTR_TO_MEM` of a global function, of this many bytes, with
    /// `PTR_MAYBE_NULL` unless tagged `arg:nonnull`.
    Mem { size: u32, nullable: bool },
    /// `ARG_PTR_TO_DYNPTR`: a `struct bpf_dynptr *`.
    Dynptr,
    /// `ARG_PTR_TO_BTF_ID | PTR_TRUSTED` (`arg:trusted`), with
    /// `PTR_MAYBE_NULL` for `arg:nullable`: the local pointee to look up
    /// in the kernel's BTF.
    Trusted { local: LocalType, nullable: bool },
    /// `ARG_PTR_TO_ARENA` (`arg:arena`).
    Arena,
}

/// A pointee in the program's BTF, as `btf_get_ptr_to_btf_id` looks it up
/// in the kernel's: its kind and name, and the name without a flavour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LocalType {
    kind: BtfKind,
    kind_str: &'static str,
    name: String,
    essential: String,
}

/// What `btf_prepare_func_args` makes of a prototype.
#[derive(Clone, Debug)]
pub(super) enum Prep {
    Args(Vec<ArgKind>),
    /// A static function the kernel gives up on without a word.
    Silent,
    /// A function the kernel refuses, with its log line (global functions
    /// and tags, which only global functions may have).
    Refused(String),
    /// A case not modelled.
    Unsupported(String),
}

/// `enum btf_arg_tag`.
const TAG_CTX: u8 = 1;
const TAG_NONNULL: u8 = 2;
const TAG_TRUSTED: u8 = 4;
const TAG_NULLABLE: u8 = 8;
const TAG_ARENA: u8 = 16;

/// `btf_type_str`: the kernel's name of a kind, as its messages print it.
pub(super) fn kind_str(t: &Type<'_>) -> &'static str {
    match t {
        Type::Void(_) => "UNKNOWN",
        t => t.raw().kind().name(),
    }
}

/// `bpf_core_essential_name_len`: the name up to its last `X___Y` flavour
/// separator.
fn essential_name(name: &str) -> &str {
    let b = name.as_bytes();
    let n = b.len();
    for i in (0..n.saturating_sub(4)).rev() {
        if b[i] != b'_' && &b[i + 1..i + 4] == b"___" && b[i + 4] != b'_' {
            return &name[..=i];
        }
    }
    name
}

/// The context struct a program type's `arg:ctx` may name when no special
/// case applies (`find_canonical_prog_ctx_type` with typedefs resolved);
/// `None` when the context is not a struct (`void *` and integers).
fn canonical_ctx(prog_type: ProgType) -> Option<&'static str> {
    match prog_type {
        ProgType::KPROBE => Some("pt_regs"),
        ProgType::TRACEPOINT | ProgType::LIRC_MODE2 => None,
        t => super::btf_func::ctx_names(t).first().copied(),
    }
}

/// `btf_validate_prog_ctx_type`: the pointee of an `arg:ctx` argument.
fn validate_ctx(
    btf: &Btf<'_>,
    pointee: BtfTypeId,
    i: usize,
    prog_type: ProgType,
    attach: AttachType,
) -> Result<Result<(), String>, String> {
    let bad = |why: &str| format!("the arg:ctx pointee of argument {i} ({why})");
    if matches!(prog_type, ProgType::KPROBE | ProgType::PERF_EVENT)
        && let Ok(Type::Typedef(t)) = btf.skip_mods(pointee)
        && t.name() == Ok("bpf_user_pt_regs_t")
    {
        return Ok(Ok(()));
    }
    let t = btf.resolve(pointee).map_err(|_| bad("unresolvable"))?;
    if matches!(t, Type::Void(_)) {
        return Ok(Ok(()));
    }
    let name = t.name().unwrap_or("");
    if name.is_empty() {
        return Ok(Err(format!("arg#{i} type doesn't have a name")));
    }
    let is_struct = |want: &str| matches!(&t, Type::Struct(_)) && name == want;
    let is_u64 = matches!(&t, Type::Int(n) if n.size() == 8);
    let special = match prog_type {
        ProgType::KPROBE => is_struct("pt_regs"),
        // x86's `bpf_user_pt_regs_t` is `struct pt_regs`.
        ProgType::PERF_EVENT => is_struct("pt_regs"),
        ProgType::RAW_TRACEPOINT | ProgType::RAW_TRACEPOINT_WRITABLE => is_u64,
        ProgType::TRACING => match attach {
            AttachType::TRACE_RAW_TP => is_struct("bpf_raw_tracepoint_args") || is_u64,
            AttachType::TRACE_ITER => {
                matches!(&t, Type::Struct(_)) && name.starts_with("bpf_iter__")
            }
            AttachType::TRACE_FENTRY | AttachType::TRACE_FEXIT | AttachType::MODIFY_RETURN => {
                is_u64
            }
            _ => false,
        },
        ProgType::LSM | ProgType::STRUCT_OPS => is_u64,
        ProgType::TRACEPOINT | ProgType::SYSCALL | ProgType::EXT => true,
        _ => false,
    };
    if special {
        return Ok(Ok(()));
    }
    Ok(match canonical_ctx(prog_type) {
        None => Err(format!("arg#{i} should be void pointer")),
        Some(c) if is_struct(c) => Ok(()),
        Some(c) => Err(format!("arg#{i} should be `struct {c} *`")),
    })
}

/// `btf_is_dynptr_ptr`: a pointer to `struct bpf_dynptr`, defined or
/// forward-declared.
fn is_dynptr(btf: &Btf<'_>, pointee: BtfTypeId) -> bool {
    match btf.resolve(pointee) {
        Ok(Type::Struct(c)) => c.name() == Ok("bpf_dynptr"),
        Ok(Type::Fwd(f)) => !f.is_union() && f.name() == Ok("bpf_dynptr"),
        _ => false,
    }
}

/// The `arg:` declaration tags of parameter `i` of function `func`, in
/// the order of their ids (`btf_find_next_decl_tag`).
fn arg_tags<'b>(btf: &'b Btf<'_>, func: BtfTypeId, i: usize) -> Vec<&'b str> {
    btf.decl_tags_of(func)
        .into_iter()
        .filter(|d| d.component_idx() == Ok(u32::try_from(i).ok()))
        .filter_map(|d| d.name().ok())
        .filter_map(|n| n.strip_prefix("arg:"))
        .collect()
}

/// `btf_prepare_func_args` for function `func` of prototype `proto_id`.
pub(super) fn prepare(
    btf: &Btf<'_>,
    func: BtfTypeId,
    proto_id: BtfTypeId,
    global: bool,
    name: &str,
    prog_type: ProgType,
    attach: AttachType,
) -> Prep {
    // A static function is given up on silently; a global one is refused
    // with the kernel's line.
    let fail = |line: String| {
        if global {
            Prep::Refused(line)
        } else {
            Prep::Silent
        }
    };
    let Ok(Type::FuncProto(proto)) = btf.type_by_id(proto_id) else {
        return Prep::Unsupported(format!("function {name}() without a prototype"));
    };
    let nargs = proto.len();
    if nargs > 5 {
        return fail(format!(
            "Global function {name}() with {nargs} > 5 args. Buggy compiler."
        ));
    }
    match btf.resolve(proto.return_type()) {
        Ok(Type::Int(_) | Type::Enum(_) | Type::Enum64(_)) => {}
        Ok(_) => {
            return fail(format!(
                "Global function {name}() doesn't return scalar. Only those are supported."
            ));
        }
        Err(_) => return Prep::Unsupported(format!("the return type of {name}()")),
    }
    let mut args = Vec::with_capacity(nargs);
    for (i, p) in proto.params().enumerate() {
        let mut tags = 0u8;
        for tag in arg_tags(btf, func, i) {
            if !global {
                return Prep::Refused(format!(
                    "arg#{i} type tag is not supported in static functions"
                ));
            }
            tags |= match tag {
                "ctx" => TAG_CTX,
                "trusted" => TAG_TRUSTED,
                "nonnull" => TAG_NONNULL,
                "nullable" => TAG_NULLABLE,
                "arena" => TAG_ARENA,
                "untrusted" => {
                    return Prep::Unsupported(format!("arg:untrusted arguments of {name}()"));
                }
                _ => return Prep::Refused(format!("arg#{i} has unsupported set of tags")),
            };
        }
        let combination = || Prep::Refused(format!("arg#{i} has invalid combination of tags"));
        let Ok(t) = btf.resolve(p.ty) else {
            return Prep::Unsupported(format!("the argument types of {name}()"));
        };
        if let Type::Ptr(r) = t {
            let pointee = BtfTypeId(r.size_or_type());
            if tags & TAG_CTX != 0 || super::btf_func::is_prog_ctx(btf, pointee, prog_type) {
                if tags & !TAG_CTX != 0 {
                    return combination();
                }
                if tags & TAG_CTX != 0 {
                    match validate_ctx(btf, pointee, i, prog_type, attach) {
                        Ok(Ok(())) => {}
                        Ok(Err(line)) => return Prep::Refused(line),
                        Err(why) => return Prep::Unsupported(why),
                    }
                }
                args.push(ArgKind::Ctx);
                continue;
            }
            if is_dynptr(btf, pointee) {
                if tags != 0 {
                    return combination();
                }
                args.push(ArgKind::Dynptr);
                continue;
            }
            if tags & TAG_TRUSTED != 0 {
                if tags & TAG_NONNULL != 0 {
                    return combination();
                }
                let Ok(target) = btf.resolve(pointee) else {
                    return Prep::Unsupported(format!("the argument types of {name}()"));
                };
                let tname = target.name().unwrap_or("").to_owned();
                args.push(ArgKind::Trusted {
                    local: LocalType {
                        kind: target.kind(),
                        kind_str: kind_str(&target),
                        essential: essential_name(&tname).to_owned(),
                        name: tname,
                    },
                    nullable: tags & TAG_NULLABLE != 0,
                });
                continue;
            }
            if tags & TAG_ARENA != 0 {
                if tags & !TAG_ARENA != 0 {
                    return Prep::Refused(format!(
                        "arg#{i} arena cannot be combined with any other tags"
                    ));
                }
                args.push(ArgKind::Arena);
                continue;
            }
            if !global {
                return Prep::Silent;
            }
            if tags & TAG_NULLABLE != 0 {
                return combination();
            }
            // A generic memory pointer: its pointee must have a size
            // (`btf_resolve_size`); the message names the pointee
            // without its modifiers.
            let Ok(target) = btf.resolve(pointee) else {
                return Prep::Unsupported(format!("the argument types of {name}()"));
            };
            match btf.size_of(pointee) {
                Ok(size) => args.push(ArgKind::Mem {
                    size,
                    nullable: tags & TAG_NONNULL == 0,
                }),
                Err(_) if matches!(target, Type::Void(_) | Type::Fwd(_)) => {
                    let tname = target.name().unwrap_or("");
                    return Prep::Refused(format!(
                        "arg#{i} reference type('{} {tname}') size cannot be determined: -22",
                        kind_str(&target)
                    ));
                }
                Err(_) => {
                    return Prep::Unsupported(format!("the argument sizes of {name}()"));
                }
            }
            continue;
        }
        if tags != 0 {
            return Prep::Refused(format!(
                "arg#{i} has pointer tag, but is not a pointer type"
            ));
        }
        match t {
            Type::Int(_) | Type::Enum(_) | Type::Enum64(_) => args.push(ArgKind::Scalar),
            other => {
                let kind = other.raw().kind().name();
                return fail(format!(
                    "Arg#{i} type {kind} in {name}() is not supported yet."
                ));
            }
        }
    }
    Prep::Args(args)
}

impl Checker<'_> {
    /// `btf_get_ptr_to_btf_id`: the kernel type an `arg:trusted` pointee
    /// names, or the line the kernel logs when there is not exactly one.
    pub(super) fn trusted_arg_type(
        &self,
        i: usize,
        local: &LocalType,
    ) -> Result<Result<BtfPtr, String>, Stop> {
        let kbtf = self.kernel_btf()?;
        let cands: Vec<BtfTypeId> = kbtf
            .ids_by_name(&local.essential)
            .into_iter()
            .filter(|id| kbtf.type_by_id(*id).is_ok_and(|t| t.kind() == local.kind))
            .collect();
        let (kind, name) = (local.kind_str, &local.name);
        let [id] = cands[..] else {
            let why = if cands.is_empty() {
                "has no matches"
            } else {
                "is ambiguous"
            };
            return Ok(Err(format!(
                "arg#{i} reference type('{kind} {name}') {why}"
            )));
        };
        let kname = kbtf
            .type_by_id(id)
            .ok()
            .and_then(|t| t.name().ok())
            .unwrap_or("");
        let name =
            TypeName::new(kname).ok_or_else(|| self.unsupported("BTF type names over 63 bytes"))?;
        Ok(Ok(BtfPtr {
            btf_id: id.0,
            name,
            trust: Trust::Trusted,
            mem: MemKind::Kernel,
            owner: crate::state::Owner::Kernel,
        }))
    }

    /// The kernel types of a prototype's `arg:trusted` arguments, in order,
    /// or the line of the first that has none (the end of
    /// `btf_prepare_func_args`, before any register is looked at).
    pub(super) fn trusted_arg_types(
        &self,
        args: &[ArgKind],
    ) -> Result<Result<Vec<Option<BtfPtr>>, String>, Stop> {
        let mut out = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            let ty = match a {
                ArgKind::Trusted { local, .. } => match self.trusted_arg_type(i, local)? {
                    Ok(p) => Some(p),
                    Err(line) => return Ok(Err(line)),
                },
                _ => None,
            };
            out.push(ty);
        }
        Ok(Ok(out))
    }

    /// `check_func_arg_reg_off` with `ARG_DONTCARE`: pointers to the
    /// stack, packets, maps, memory, buffers and arenas may be moved;
    /// BTF pointers by a fixed offset only; others not at all.
    fn dontcare_reg_off(&self, regno: u8, reg: &RegState) -> Result<(), Stop> {
        let Some((off, var)) = offsets(reg) else {
            return Ok(());
        };
        let fixed_ok = match reg {
            RegState::PtrToStack { .. } => return Ok(()),
            RegState::PtrToMapKey { ptr, .. } if !ptr.maybe_null => return Ok(()),
            RegState::PtrToMapValue {
                maybe_null: false, ..
            } => return Ok(()),
            RegState::PtrToMem { ptr, .. } if !ptr.maybe_null => return Ok(()),
            RegState::PtrToBtfId { ptr, btf } => {
                !ptr.maybe_null
                    && btf.mem == MemKind::Kernel
                    && matches!(btf.trust, Trust::Plain | Trust::Trusted | Trust::Rcu)
            }
            _ => false,
        };
        self.ptr_off_reg(regno, reg, off, &var, fixed_ok)
    }

    /// One argument of a call against its kind (`btf_check_func_arg_match`'s
    /// loop body): `Ok(None)` when it fits, else the line the kernel logs.
    pub(super) fn check_global_arg(
        &mut self,
        i: usize,
        arg: &ArgKind,
        trusted: Option<BtfPtr>,
    ) -> Result<Option<String>, Stop> {
        let regno = u8::try_from(i + 1).unwrap_or(5);
        let reg = *self.cur.cur().reg(regno);
        let outcome = match arg {
            ArgKind::Scalar => match reg {
                RegState::Scalar(_) => Ok(()),
                _ => return Ok(Some(format!("R{regno} is not a scalar"))),
            },
            ArgKind::Ctx => self.dontcare_reg_off(regno, &reg).and_then(|()| match reg {
                RegState::PtrToCtx { .. } => Ok(()),
                _ => Err(self.reject(
                    ErrorCode::InvalidCallTarget,
                    Errno::EINVAL,
                    format!("arg#{i} expects pointer to ctx"),
                )),
            }),
            ArgKind::Mem { size, nullable } => {
                if let Err(e) = self.dontcare_reg_off(regno, &reg) {
                    return as_line(e);
                }
                if let Some(line) = self.check_mem_reg(regno, *size)? {
                    return Ok(Some(line));
                }
                if !nullable && super::ptr_alu::maybe_null(&reg) {
                    return Ok(Some(format!("arg#{i} is expected to be non-NULL")));
                }
                Ok(())
            }
            ArgKind::Arena => match reg {
                RegState::PtrToArena | RegState::Scalar(_) => Ok(()),
                _ => {
                    return Ok(Some(format!(
                        "R{regno} is not a pointer to arena or scalar."
                    )));
                }
            },
            ArgKind::Trusted { nullable, .. } => {
                let Some(want) = trusted else {
                    return Err(self.unsupported("arg:trusted arguments without their type"));
                };
                let is_null = reg
                    .scalar()
                    .is_some_and(|s| s.value.var_off.equals_const(0));
                let v2 = self.profile.features.global_trusted_arg_v2;
                if is_null && *nullable {
                    if v2 {
                        self.mark_chain_precision(regno)?;
                    }
                    return Ok(None);
                }
                let first = if v2 {
                    self.trusted_arg_v2(regno, &reg, is_null)
                } else {
                    Ok(())
                };
                first.and_then(|()| self.trusted_arg(regno, &reg, &want, *nullable))
            }
            ArgKind::Dynptr => return Err(self.unsupported("dynptr arguments")),
        };
        match outcome {
            Ok(()) => Ok(None),
            Err(e) => as_line(e),
        }
    }

    /// What 6.18 checks of an `arg:trusted` argument before its type
    /// (`global_trusted_arg_v2`), as far as it is known: NULL is refused;
    /// trusted and referenced pointers go on to the type check.
    fn trusted_arg_v2(&self, regno: u8, reg: &RegState, is_null: bool) -> Result<(), Stop> {
        match reg {
            RegState::Scalar(_) if is_null => Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EINVAL,
                format!("R{regno} must be referenced or trusted"),
            )),
            RegState::PtrToBtfId { ptr, btf }
                if btf.trust == Trust::Trusted || ptr.ref_obj_id != 0 =>
            {
                Ok(())
            }
            _ => Err(self.unsupported(
                "arg:trusted arguments other than NULL, trusted or referenced pointers (6.18)",
            )),
        }
    }

    /// `check_reg_type` and `check_func_arg_reg_off` of an `arg:trusted`
    /// argument: a plain, trusted or RCU kernel pointer to (a struct
    /// starting with) the argument's type.
    fn trusted_arg(
        &self,
        regno: u8,
        reg: &RegState,
        want: &BtfPtr,
        nullable: bool,
    ) -> Result<(), Stop> {
        let acc = |msg: String| self.reject(ErrorCode::HelperCall, Errno::EACCES, msg);
        let RegState::PtrToBtfId { ptr, btf } = *reg else {
            return Err(acc(format!(
                "R{regno} type={} expected=ptr_, trusted_ptr_, rcu_ptr_",
                reg.type_str()
            )));
        };
        let fits = btf.mem == MemKind::Kernel
            && btf.trust != Trust::Untrusted
            && (!ptr.maybe_null || nullable);
        if !fits {
            return Err(acc(format!(
                "R{regno} type={} expected=ptr_, trusted_ptr_, rcu_ptr_",
                reg.type_str()
            )));
        }
        let kbtf = self.kernel_btf()?;
        if !super::btf_match::struct_ids_match(kbtf, btf.btf_id, ptr.off, want.btf_id, false) {
            return Err(acc(format!(
                "R{regno} is of type {} but {} is expected",
                btf.name.as_str(),
                want.name.as_str()
            )));
        }
        self.ptr_off_reg(regno, reg, ptr.off, &ptr.var, !ptr.maybe_null)
    }

    /// The register a global function receives for argument `arg`
    /// (`do_check_common`); `trusted` is the kernel type of an
    /// `arg:trusted` one.
    pub(super) fn global_arg_reg(
        &mut self,
        arg: &ArgKind,
        trusted: Option<BtfPtr>,
    ) -> Result<RegState, Stop> {
        Ok(match arg {
            ArgKind::Scalar | ArgKind::Arena => RegState::unknown(),
            ArgKind::Ctx => RegState::ctx(),
            // Only memory that may be NULL needs an id for its check.
            ArgKind::Mem { size, nullable } => {
                let id = if *nullable { self.new_id() } else { 0 };
                super::mem_arg::mem_arg(id, *size, *nullable)
            }
            ArgKind::Trusted { nullable, .. } => {
                let Some(btf) = trusted else {
                    return Err(self.unsupported("arg:trusted arguments without their type"));
                };
                let id = self.new_id();
                RegState::PtrToBtfId {
                    ptr: PtrFields::fresh(id, *nullable),
                    btf,
                }
            }
            ArgKind::Dynptr => return Err(self.unsupported("dynptr arguments")),
        })
    }
}

/// A refusal turned into the line a mismatch logs; anything else stops.
fn as_line(e: Stop) -> Result<Option<String>, Stop> {
    match e {
        Stop::Reject(e) => Ok(Some(e.message)),
        other => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::essential_name;

    #[test]
    fn flavours_are_cut_at_the_last_separator() {
        assert_eq!(essential_name("task_struct___local"), "task_struct");
        assert_eq!(essential_name("task_struct"), "task_struct");
        assert_eq!(essential_name("a___b___c"), "a___b");
        assert_eq!(essential_name("nf_conn___init"), "nf_conn");
        assert_eq!(essential_name("x____y"), "x____y");
    }
}
