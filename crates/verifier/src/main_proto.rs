//! Whether the main function's parameters carry what the kernel's look at
//! its BTF prototype (`btf_prepare_func_args` on subprogram 0, before
//! `do_check`) reads but bpfcheck does not model: `arg:` declaration tags
//! (`arg:ctx`, `arg:nonnull`, …) and type tags on a parameter's type. The
//! rest of that look — the context type, `void` and forward-declared
//! pointees, non-scalar returns — is `check::btf_func`'s, line for line.

use bpfcheck_btf::{Btf, BtfTypeId, Type};
use bpfcheck_uapi::LoadRequest;

/// `true` when the main function's parameters have `arg:` declaration
/// tags or type tags, or its BTF cannot be read.
pub(crate) fn has_arg_tags(req: &LoadRequest) -> bool {
    let Some(fi) = req.func_info.first() else {
        return false;
    };
    let Some(btf) = req.prog_btf.as_deref().and_then(|b| Btf::parse(b).ok()) else {
        return true;
    };
    let decl_tag = btf.iter().any(|t| match t {
        Type::DeclTag(d) => {
            d.target().0 == fi.type_id
                && matches!(d.component_idx(), Ok(Some(_)))
                && d.name().is_ok_and(|n| n.starts_with("arg:"))
        }
        _ => false,
    });
    if decl_tag {
        return true;
    }
    let Ok(Type::Func(func)) = btf.type_by_id(BtfTypeId(fi.type_id)) else {
        return true;
    };
    let Ok(Type::FuncProto(proto)) = btf.type_by_id(func.proto()) else {
        return true;
    };
    proto.params().any(|p| has_type_tag(&btf, p.ty))
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

#[cfg(test)]
mod tests {
    use super::*;
    use bpfcheck_btf::{BtfBuilder, ByteOrder, builder::TypeSpec};
    use bpfcheck_uapi::ProgType;
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
    fn plain_pointers_have_no_tags() {
        assert!(!has_arg_tags(&request(|b| {
            let long = b.int("long", 8, false);
            b.struct_("pt_regs", 8, &[("di", long, 0)]).unwrap()
        })));
        assert!(!has_arg_tags(&request(|_| BtfTypeId::VOID)));
    }

    #[test]
    fn type_tags_are_seen() {
        assert!(has_arg_tags(&request(|b| {
            let long = b.int("long", 8, false);
            b.add(&TypeSpec::TypeTag {
                value: "arena".into(),
                target: long,
                attr: false,
            })
            .unwrap()
        })));
    }
}
