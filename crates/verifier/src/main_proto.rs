//! Whether the kernel's look at the main function's BTF prototype
//! (`btf_prepare_func_args` on subprogram 0, before `do_check`) is
//! certain to log nothing. It logs when the prototype does not fit (a
//! `void` or forward-declared pointee, an unsupported argument, a
//! non-scalar return, tags); bpfcheck does not reproduce those lines yet,
//! so a program whose prototype might make them gets no exact log.

use bpfcheck_btf::types::Linkage;
use bpfcheck_btf::{Btf, BtfTypeId, Type};
use bpfcheck_uapi::{LoadRequest, ProgType};

/// `true` when the main function's prototype certainly gives no log line:
/// a global function returning an integer, taking nothing, a number, or
/// one pointer to a named struct or union or to an integer (the context,
/// or plain memory), without `arg:` declaration tags on its parameter or
/// type tags on the parameter's type.
pub(crate) fn logs_nothing(req: &LoadRequest) -> bool {
    let Some(fi) = req.func_info.first() else {
        return true;
    };
    let Some(btf) = req.prog_btf.as_deref().and_then(|b| Btf::parse(b).ok()) else {
        return false;
    };
    let arg_tag = btf.iter().any(|t| match t {
        Type::DeclTag(d) => {
            d.target().0 == fi.type_id
                && matches!(d.component_idx(), Ok(Some(_)))
                && d.name().is_ok_and(|n| n.starts_with("arg:"))
        }
        _ => false,
    });
    if arg_tag {
        return false;
    }
    let Ok(Type::Func(func)) = btf.type_by_id(BtfTypeId(fi.type_id)) else {
        return false;
    };
    if func.linkage() != Linkage::Global {
        return false;
    }
    let Ok(Type::FuncProto(proto)) = btf.type_by_id(func.proto()) else {
        return false;
    };
    if !is_number(btf.resolve(proto.return_type()).ok()) || proto.len() > 1 {
        return false;
    }
    proto.params().all(|p| {
        !has_type_tag(&btf, p.ty)
            && match btf.resolve(p.ty) {
                Ok(Type::Ptr(r)) => pointee_is_plain(&btf, r.target(), req.prog_type),
                t => is_number(t.ok()),
            }
    })
}

/// Whether a type tag appears among the modifiers and pointers of `id`.
fn has_type_tag(btf: &Btf<'_>, mut id: BtfTypeId) -> bool {
    for _ in 0..32 {
        match btf.type_by_id(id) {
            Ok(Type::TypeTag(_)) => return true,
            Ok(
                Type::Ptr(r)
                | Type::Const(r)
                | Type::Volatile(r)
                | Type::Restrict(r)
                | Type::Typedef(r),
            ) => id = r.target(),
            _ => return false,
        }
    }
    true
}

fn is_number(t: Option<Type<'_>>) -> bool {
    matches!(t, Some(Type::Int(_) | Type::Enum(_) | Type::Enum64(_)))
}

fn pointee_is_plain(btf: &Btf<'_>, target: BtfTypeId, prog_type: ProgType) -> bool {
    // Kprobes' context may be spelled by its typedef.
    if prog_type == ProgType::KPROBE
        && let Ok(Type::Typedef(t)) = btf.skip_mods(target)
        && matches!(t.name(), Ok("bpf_user_pt_regs_t"))
    {
        return true;
    }
    match btf.resolve(target) {
        Ok(Type::Struct(c) | Type::Union(c)) => {
            matches!(c.name(), Ok(n) if !n.is_empty() && n != "bpf_dynptr")
        }
        t => is_number(t.ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfcheck_btf::{BtfBuilder, ByteOrder, builder::TypeSpec};
    use bpfcheck_uapi::load::FuncInfo;

    /// A kprobe whose main function takes a pointer to `param`.
    fn request(param: impl FnOnce(&mut BtfBuilder) -> BtfTypeId) -> LoadRequest {
        let mut b = BtfBuilder::new();
        let int = b.int("int", 4, true);
        let arg = param(&mut b);
        let ptr = b.ptr(arg);
        let f = b.func("prog", int, &[("ctx", ptr)]).unwrap();
        LoadRequest {
            prog_type: ProgType::KPROBE,
            prog_btf: Some(b.to_bytes(ByteOrder::Little)),
            func_info: vec![FuncInfo {
                insn_off: 0,
                type_id: f.0,
            }],
            ..LoadRequest::default()
        }
    }

    #[test]
    fn named_structs_and_the_kprobe_typedef_log_nothing() {
        assert!(logs_nothing(&request(|b| {
            let long = b.int("long", 8, false);
            b.struct_("pt_regs", 8, &[("di", long, 0)]).unwrap()
        })));
        assert!(logs_nothing(&request(|b| {
            let fwd = b
                .add(&TypeSpec::Fwd {
                    name: "pt_regs".into(),
                    union: false,
                })
                .unwrap();
            b.add(&TypeSpec::Typedef {
                name: "bpf_user_pt_regs_t".into(),
                ty: fwd,
            })
            .unwrap()
        })));
    }

    #[test]
    fn void_and_forward_pointees_may_log() {
        assert!(!logs_nothing(&request(|_| BtfTypeId::VOID)));
        assert!(!logs_nothing(&request(|b| {
            b.add(&TypeSpec::Fwd {
                name: "pt_regs".into(),
                union: false,
            })
            .unwrap()
        })));
    }
}
