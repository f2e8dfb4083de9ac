//! The exception callback a program names (`bpf_find_exception_callback_insn_off`).
//!
//! A main program picks the function that runs when `bpf_throw` unwinds
//! it with a BTF decl tag `exception_callback:NAME` on its own `func_info`
//! type. The function must be a global `FUNC` of the program's BTF with a
//! `func_info` entry; it becomes a subprogram even though nothing calls
//! it, and is verified as a root of its own.

use bpfcheck_btf::types::Linkage;
use bpfcheck_btf::{Btf, BtfTypeId, Type};
use bpfcheck_uapi::{Errno, LoadRequest};

use crate::error::{ErrorCode, VerifierError};

const TAG: &str = "exception_callback:";

/// The first instruction of the exception callback the main program's BTF
/// names, `None` when it names none (or the program has no `func_info`).
pub(crate) fn find(req: &LoadRequest) -> Result<Option<usize>, VerifierError> {
    let Some(main) = req.func_info.first() else {
        return Ok(None);
    };
    // Unreadable BTF is refused by the BTF checks before this runs.
    let Some(btf) = req.prog_btf.as_deref().and_then(|b| Btf::parse(b).ok()) else {
        return Ok(None);
    };
    let main_id = BtfTypeId(main.type_id);
    if btf.type_by_id(main_id).is_err() {
        return Err(refuse(
            Errno::EINVAL,
            "invalid btf id for main subprog in func_info".to_owned(),
        ));
    }
    let mut names = btf.iter().filter_map(|t| match t {
        Type::DeclTag(d) if d.target() == main_id && matches!(d.component_idx(), Ok(None)) => {
            d.name().ok().and_then(|n| n.strip_prefix(TAG))
        }
        _ => None,
    });
    let Some(name) = names.next() else {
        return Ok(None);
    };
    if names.next().is_some() {
        return Err(refuse(
            Errno::EEXIST,
            "multiple exception callback tags for main subprog".to_owned(),
        ));
    }
    // `btf_find_by_name_kind`: the first function of that name.
    let found = btf.own_ids().find_map(|id| match btf.type_by_id(id) {
        Ok(Type::Func(f)) if f.name().is_ok_and(|n| n == name) => Some((id, f.linkage())),
        _ => None,
    });
    let Some((id, linkage)) = found else {
        return Err(refuse(
            Errno::ENOENT,
            format!("exception callback '{name}' could not be found in BTF"),
        ));
    };
    if linkage != Linkage::Global {
        return Err(refuse(
            Errno::EINVAL,
            format!("exception callback '{name}' must have global linkage"),
        ));
    }
    match req.func_info.iter().find(|fi| fi.type_id == id.0) {
        Some(fi) if fi.insn_off == 0 => Err(refuse(
            Errno::EINVAL,
            "invalid exception callback insn_off in func_info: 0".to_owned(),
        )),
        Some(fi) => Ok(Some(fi.insn_off as usize)),
        None => Err(refuse(
            Errno::EINVAL,
            "exception callback type id not found in func_info".to_owned(),
        )),
    }
}

fn refuse(errno: Errno, message: String) -> VerifierError {
    VerifierError::new(ErrorCode::Exception, errno, None, message)
}
