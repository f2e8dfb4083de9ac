//! Type compatibility as CO-RE judges it: the loose rule for type-based
//! relocations (`bpf_core_types_are_compat`), the per-field rule used while
//! matching access specs (`bpf_core_fields_are_compat`) and the strict rule
//! of `TYPE_MATCHES` (`bpf_core_types_match`).
//!
//! Each returns `Ok(true/false)`, or `Err` when the BTF cannot be walked
//! (a dangling id, a reference loop, nesting past libbpf's limits), which
//! libbpf treats as a hard error rather than a mismatch.

use crate::Btf;
use crate::core::names::{essential_name, names_match};
use crate::types::{BtfKind, BtfTypeId, Type};

/// libbpf's recursion budget for both compatibility walks.
const MAX_LEVEL: u32 = 32;

pub(crate) type Walk = std::result::Result<bool, String>;

fn is_enum(k: BtfKind) -> bool {
    matches!(k, BtfKind::Enum | BtfKind::Enum64)
}

/// Same kind, or ENUM against ENUM64 (libbpf's `btf_kind_core_compat`).
pub(crate) fn kinds_compat(a: BtfKind, b: BtfKind) -> bool {
    a == b || is_enum(a) && is_enum(b)
}

fn resolved<'b>(btf: &'b Btf<'_>, id: BtfTypeId, side: &str) -> Result<Type<'b>, String> {
    btf.resolve(id)
        .map_err(|e| format!("{side} type {id} cannot be resolved: {e}"))
}

fn int_offset(t: &Type<'_>) -> u8 {
    match t {
        Type::Int(i) => i.bit_offset(),
        _ => 0,
    }
}

fn int_signed(t: &Type<'_>) -> bool {
    match t {
        Type::Int(i) => (i.raw_data() >> 24) & 1 != 0,
        _ => false,
    }
}

/// `bpf_core_types_are_compat`: the rule of type-based relocations. Only
/// the root names were compared (by the candidate search); below the root,
/// names are ignored and only shapes compared.
pub fn types_are_compat(
    local: &Btf<'_>,
    local_id: BtfTypeId,
    targ: &Btf<'_>,
    targ_id: BtfTypeId,
) -> Walk {
    types_are_compat_level(local, local_id, targ, targ_id, MAX_LEVEL)
}

fn types_are_compat_level(
    local: &Btf<'_>,
    mut local_id: BtfTypeId,
    targ: &Btf<'_>,
    mut targ_id: BtfTypeId,
    level: u32,
) -> Walk {
    let lt = local.type_by_id(local_id).map_err(|e| e.to_string())?;
    let tt = targ.type_by_id(targ_id).map_err(|e| e.to_string())?;
    if !kinds_compat(lt.kind(), tt.kind()) {
        return Ok(false);
    }
    for _ in 0..MAX_LEVEL {
        let lt = resolved(local, local_id, "local")?;
        let tt = resolved(targ, targ_id, "target")?;
        if !kinds_compat(lt.kind(), tt.kind()) {
            return Ok(false);
        }
        match (&lt, &tt) {
            (Type::Void(_), _)
            | (Type::Struct(_), _)
            | (Type::Union(_), _)
            | (Type::Enum(_), _)
            | (Type::Enum64(_), _)
            | (Type::Fwd(_), _) => return Ok(true),
            // Deprecated bitfield-like integers are refused; any other two
            // integers are compatible, whatever their size and sign.
            (Type::Int(_), _) => return Ok(int_offset(&lt) == 0 && int_offset(&tt) == 0),
            (Type::Ptr(l), Type::Ptr(t)) => {
                local_id = l.target();
                targ_id = t.target();
            }
            (Type::Array(l), Type::Array(t)) => {
                local_id = l.elem_type();
                targ_id = t.elem_type();
            }
            (Type::FuncProto(l), Type::FuncProto(t)) => {
                if l.len() != t.len() {
                    return Ok(false);
                }
                for (lp, tp) in l.params().zip(t.params()) {
                    if level == 0 {
                        return Err("function prototypes nest too deeply".into());
                    }
                    let li = resolved(local, lp.ty, "local")?.id();
                    let ti = resolved(targ, tp.ty, "target")?.id();
                    if !types_are_compat_level(local, li, targ, ti, level - 1)? {
                        return Ok(false);
                    }
                }
                local_id = resolved(local, l.return_type(), "local")?.id();
                targ_id = resolved(targ, t.return_type(), "target")?.id();
            }
            _ => return Ok(false),
        }
    }
    Err(format!(
        "type chain deeper than {MAX_LEVEL} while comparing {local_id} and {targ_id}"
    ))
}

/// `bpf_core_fields_are_compat`: may a local field of type `local_id` be
/// read from a target field of type `targ_id`? Composites always match
/// each other (their members are matched by name later), enums and
/// forward declarations need equal essential names unless one is
/// anonymous, integers must not be old-style bitfields, arrays compare
/// their element types.
pub(crate) fn fields_are_compat(
    local: &Btf<'_>,
    mut local_id: BtfTypeId,
    targ: &Btf<'_>,
    mut targ_id: BtfTypeId,
) -> Walk {
    for _ in 0..MAX_LEVEL {
        let lt = resolved(local, local_id, "local")?;
        let tt = resolved(targ, targ_id, "target")?;
        if lt.kind().is_composite() && tt.kind().is_composite() {
            return Ok(true);
        }
        if !kinds_compat(lt.kind(), tt.kind()) {
            return Ok(false);
        }
        match (&lt, &tt) {
            (Type::Ptr(_), _) | (Type::Float(_), _) => return Ok(true),
            (Type::Fwd(_) | Type::Enum(_) | Type::Enum64(_), _) => {
                let ln = essential_name(lt.name().unwrap_or(""));
                let tn = essential_name(tt.name().unwrap_or(""));
                return Ok(ln.is_empty() || tn.is_empty() || ln == tn);
            }
            (Type::Int(_), _) => return Ok(int_offset(&lt) == 0 && int_offset(&tt) == 0),
            (Type::Array(l), Type::Array(t)) => {
                local_id = l.elem_type();
                targ_id = t.elem_type();
            }
            _ => return Ok(false),
        }
    }
    Err(format!(
        "array nesting deeper than {MAX_LEVEL} while comparing fields"
    ))
}

/// `bpf_core_types_match`: the `TYPE_MATCHES` rule. Modifiers and typedefs
/// are skipped; names must match modulo flavours at every level; kinds must
/// be equal except that a struct/union behind a pointer may match a forward
/// declaration of the same flavour, and ENUM may match ENUM64; integers
/// need equal size and signedness; arrays equal lengths; every local
/// member or enumerator needs a same-named target counterpart (members
/// recursively matching); function prototypes match argument by argument.
pub fn types_match(
    local: &Btf<'_>,
    local_id: BtfTypeId,
    targ: &Btf<'_>,
    targ_id: BtfTypeId,
) -> Walk {
    types_match_level(local, local_id, targ, targ_id, false, MAX_LEVEL)
}

fn types_match_level(
    local: &Btf<'_>,
    mut local_id: BtfTypeId,
    targ: &Btf<'_>,
    mut targ_id: BtfTypeId,
    mut behind_ptr: bool,
    level: u32,
) -> Walk {
    if level == 0 {
        return Err("types nest too deeply for TYPE_MATCHES".into());
    }
    for _ in 0..MAX_LEVEL {
        let lt = resolved(local, local_id, "local")?;
        let tt = resolved(targ, targ_id, "target")?;
        if !names_match(lt.name().unwrap_or(""), tt.name().unwrap_or("")) {
            return Ok(false);
        }
        let (lk, tk) = (lt.kind(), tt.kind());
        match &lt {
            Type::Void(_) => return Ok(lk == tk),
            Type::Fwd(lf) => {
                let union = lf.is_union();
                return Ok(match &tt {
                    Type::Fwd(tf) => union == tf.is_union(),
                    Type::Struct(_) if behind_ptr => !union,
                    Type::Union(_) if behind_ptr => union,
                    _ => false,
                });
            }
            Type::Enum(le) | Type::Enum64(le) => {
                let Some(te) = tt.as_enum() else {
                    return Ok(false);
                };
                if le.size() != te.size() || le.len() > te.len() {
                    return Ok(false);
                }
                for lv in le.values() {
                    let ln = lv.name().unwrap_or("");
                    if !te
                        .values()
                        .any(|tv| names_match(ln, tv.name().unwrap_or("")))
                    {
                        return Ok(false);
                    }
                }
                return Ok(true);
            }
            Type::Struct(lc) | Type::Union(lc) => {
                if behind_ptr {
                    return Ok(lk == tk
                        || matches!(&tt, Type::Fwd(f) if f.is_union() == (lk == BtfKind::Union)));
                }
                if lk != tk {
                    return Ok(false);
                }
                let Some(tc) = tt.as_composite() else {
                    return Ok(false);
                };
                if lc.len() > tc.len() {
                    return Ok(false);
                }
                for lm in lc.members() {
                    let ln = lm.name().unwrap_or("");
                    let mut matched = false;
                    for tm in tc.members() {
                        if !names_match(ln, tm.name().unwrap_or("")) {
                            continue;
                        }
                        if types_match_level(local, lm.ty, targ, tm.ty, behind_ptr, level - 1)? {
                            matched = true;
                            break;
                        }
                    }
                    if !matched {
                        return Ok(false);
                    }
                }
                return Ok(true);
            }
            Type::Int(l) => {
                return Ok(match &tt {
                    Type::Int(t) => l.size() == t.size() && int_signed(&lt) == int_signed(&tt),
                    _ => false,
                });
            }
            Type::Ptr(l) => {
                let Type::Ptr(t) = &tt else {
                    return Ok(false);
                };
                behind_ptr = true;
                local_id = l.target();
                targ_id = t.target();
            }
            Type::Array(l) => {
                let Type::Array(t) = &tt else {
                    return Ok(false);
                };
                if l.nelems() != t.nelems() {
                    return Ok(false);
                }
                local_id = l.elem_type();
                targ_id = t.elem_type();
            }
            Type::FuncProto(l) => {
                let Type::FuncProto(t) = &tt else {
                    return Ok(false);
                };
                if l.len() != t.len() {
                    return Ok(false);
                }
                for (lp, tp) in l.params().zip(t.params()) {
                    if !types_match_level(local, lp.ty, targ, tp.ty, behind_ptr, level - 1)? {
                        return Ok(false);
                    }
                }
                local_id = l.return_type();
                targ_id = t.return_type();
            }
            _ => return Ok(false),
        }
    }
    Err(format!(
        "type chain deeper than {MAX_LEVEL} while matching {local_id} and {targ_id}"
    ))
}
