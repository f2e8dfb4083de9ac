//! Matching a local access spec against one candidate target type
//! (libbpf's `bpf_core_spec_match`): named members are looked up by name
//! (through anonymous members), array indices must stay within bounds,
//! and field types must be compatible. The result is the target spec, or
//! why the candidate does not match.

use crate::Btf;
use crate::core::compat::{Walk, fields_are_compat, types_are_compat, types_match};
use crate::core::names::essential_name;
use crate::core::{CORE_SPEC_MAX_LEN, CoreAccessor, CoreSpec};
use crate::ext::CoreReloKind;
use crate::types::{BtfTypeId, Type};

/// How one candidate fared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SpecMatch {
    /// The candidate matches; its spec.
    Matched(CoreSpec),
    /// It does not; why, in words.
    NoMatch(String),
}

fn walk_err<T>(r: Walk, ok: T, no: impl FnOnce() -> String) -> Result<SpecMatch, String>
where
    T: FnOnce() -> CoreSpec,
{
    Ok(if r? {
        SpecMatch::Matched(ok())
    } else {
        SpecMatch::NoMatch(no())
    })
}

fn size_bits(btf: &Btf<'_>, id: BtfTypeId, idx: u32) -> Result<u64, String> {
    let sz = btf
        .size_of(id)
        .map_err(|e| format!("size of target {id}: {e}"))?;
    Ok(u64::from(idx) * u64::from(sz) * 8)
}

/// Match `local` (parsed against `local_btf`) to candidate `targ_id` of
/// `targ`. `Err` is a hard error (malformed BTF, too deep), which makes
/// libbpf fail the whole relocation.
pub(crate) fn spec_match(
    local_btf: &Btf<'_>,
    local: &CoreSpec,
    targ: &Btf<'_>,
    targ_id: BtfTypeId,
) -> Result<SpecMatch, String> {
    let mut spec = CoreSpec {
        root_type_id: targ_id,
        kind: local.kind,
        raw: Vec::new(),
        accessors: Vec::new(),
        bit_offset: 0,
    };
    if local.kind.is_type_based() {
        let (r, rule) = if local.kind == CoreReloKind::TypeMatches {
            (
                types_match(local_btf, local.root_type_id, targ, targ_id),
                "does not match (TYPE_MATCHES rules)",
            )
        } else {
            (
                types_are_compat(local_btf, local.root_type_id, targ, targ_id),
                "is not compatible",
            )
        };
        return walk_err(r, || spec, || rule.to_string());
    }
    let Some(first) = local.accessors.first() else {
        return Err("local spec has no accessor".into());
    };
    if local.kind.is_enumval_based() {
        let t = targ
            .resolve(targ_id)
            .map_err(|e| format!("target {targ_id}: {e}"))?;
        let Some(e) = t.as_enum() else {
            return Ok(SpecMatch::NoMatch(format!("is {}, not an enum", t.kind())));
        };
        let want = essential_name(first.name.as_deref().unwrap_or(""));
        for (i, v) in e.values().enumerate() {
            let name = v.name().unwrap_or("");
            if essential_name(name) == want {
                spec.accessors.push(CoreAccessor {
                    type_id: t.id(),
                    idx: i as u32,
                    name: Some(name.to_string()),
                });
                spec.raw.push(i as u32);
                return Ok(SpecMatch::Matched(spec));
            }
        }
        return Ok(SpecMatch::NoMatch(format!("has no enumerator {want}")));
    }
    if !local.kind.is_field_based() {
        return Err(format!(
            "relocation kind {} is not handled",
            local.kind.name()
        ));
    }
    let mut cur = targ_id;
    for (i, acc) in local.accessors.iter().enumerate() {
        let t = targ
            .resolve(cur)
            .map_err(|e| format!("target {cur}: {e}"))?;
        cur = t.id();
        if let Some(name) = &acc.name {
            let local_member = local_btf
                .composite(acc.type_id)
                .ok()
                .and_then(|c| c.member(acc.idx as usize))
                .ok_or_else(|| {
                    format!("local accessor {}:{} is not a member", acc.type_id, acc.idx)
                })?;
            match match_member(local_btf, local_member.ty, name, targ, cur, &mut spec, 0)? {
                Some(next) => cur = next,
                None => {
                    return Ok(SpecMatch::NoMatch(format!(
                        "has no compatible member `{name}`{}",
                        if t.name().unwrap_or("").is_empty() {
                            String::new()
                        } else {
                            format!(" in {}", t.name().unwrap_or(""))
                        }
                    )));
                }
            }
            continue;
        }
        if i > 0 {
            // Index into an array: the previous step led to an array type.
            let Type::Array(a) = t else {
                return Ok(SpecMatch::NoMatch(format!(
                    "indexes {} {}, not an array",
                    t.kind(),
                    t.id()
                )));
            };
            let flex = a.nelems() == 0 && is_flex(targ, spec.accessors.last());
            if !flex && acc.idx >= a.nelems() {
                return Ok(SpecMatch::NoMatch(format!(
                    "index {} is past the end of a {}-element array",
                    acc.idx,
                    a.nelems()
                )));
            }
            cur = targ
                .resolve(a.elem_type())
                .map_err(|e| format!("target array element: {e}"))?
                .id();
        }
        if spec.raw.len() == CORE_SPEC_MAX_LEN {
            return Err(format!("target spec longer than {CORE_SPEC_MAX_LEN}"));
        }
        spec.accessors.push(CoreAccessor {
            type_id: cur,
            idx: acc.idx,
            name: None,
        });
        spec.raw.push(acc.idx);
        spec.bit_offset += size_bits(targ, cur, acc.idx)?;
    }
    Ok(SpecMatch::Matched(spec))
}

/// libbpf's flexible-array test on the target side: the array is the
/// last member of the struct/union the previous (named) accessor points
/// into, and has no elements.
fn is_flex(btf: &Btf<'_>, prev: Option<&CoreAccessor>) -> bool {
    let Some(prev) = prev.filter(|p| p.name.is_some()) else {
        return false;
    };
    btf.type_by_id(prev.type_id)
        .ok()
        .and_then(|t| t.as_composite())
        .is_some_and(|c| prev.idx as usize + 1 == c.len())
}

/// Depth-first search of `targ_id`'s members (through anonymous ones) for
/// `name`, extending `spec` on the way; `Some(member type)` when found and
/// compatible with the local member type.
fn match_member(
    local_btf: &Btf<'_>,
    local_ty: BtfTypeId,
    name: &str,
    targ: &Btf<'_>,
    targ_id: BtfTypeId,
    spec: &mut CoreSpec,
    depth: usize,
) -> Result<Option<BtfTypeId>, String> {
    if depth > crate::query::MAX_RESOLVE_DEPTH {
        return Err("anonymous members nest too deeply".into());
    }
    let t = targ
        .resolve(targ_id)
        .map_err(|e| format!("target {targ_id}: {e}"))?;
    let Some(c) = t.as_composite() else {
        return Ok(None);
    };
    for m in c.members() {
        if spec.raw.len() == CORE_SPEC_MAX_LEN {
            return Err(format!("target spec longer than {CORE_SPEC_MAX_LEN}"));
        }
        spec.bit_offset += u64::from(m.bit_offset);
        spec.raw.push(u32::from(m.index));
        let mname = m.name().unwrap_or("");
        if mname.is_empty() {
            let found = match_member(local_btf, local_ty, name, targ, m.ty, spec, depth + 1)?;
            if found.is_some() {
                return Ok(found);
            }
        } else if mname == name {
            // libbpf stops at the first member of that name, compatible or not.
            if fields_are_compat(local_btf, local_ty, targ, m.ty)? {
                spec.accessors.push(CoreAccessor {
                    type_id: t.id(),
                    idx: u32::from(m.index),
                    name: Some(mname.to_string()),
                });
                return Ok(Some(m.ty));
            }
            return Ok(None);
        }
        spec.bit_offset -= u64::from(m.bit_offset);
        spec.raw.pop();
    }
    Ok(None)
}
