//! Graph roots (`bpf_list_head`, `bpf_rb_root`) in a map value: the
//! `contains:TYPE:FIELD` declaration tag that names what the list or tree
//! holds, checked the way 6.12's and 6.18's `btf_find_graph_root` and
//! `btf_parse_graph_root` check it when the map is created, and the
//! `bpf_spin_lock` the record must also hold.
//!
//! A root passes when its tag is the only `contains:` tag of its member
//! or variable, the struct it names exists in the program's BTF with
//! exactly one member of that name, of the node type of the root's kind
//! at an 8-byte aligned offset. Roots nested in a member struct, and the
//! kernel's ownership checks between several graph types, are not looked
//! at: such values are `unsupported`. With a root in the record the walk
//! still stops at every graph kfunc (not modelled), but programs that only
//! take the lock or touch other fields are judged.

use bpfcheck_btf::{Btf, BtfTypeId, Type};

use super::map_btf::{Field, SpecialField};

/// The root's value type and node offset (`btf_field_graph_root`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GraphRoot {
    /// The struct the nodes are embedded in, in the program's BTF.
    pub(crate) value_btf_id: u32,
    /// The node's offset in it.
    pub(crate) node_offset: u32,
}

/// Checks graph root `f` of the value type `value` (a struct or data
/// section); the reason when the kernel's checks are not all modelled or
/// would fail.
pub(crate) fn check_root(btf: &Btf<'_>, value: BtfTypeId, f: &Field) -> Result<GraphRoot, String> {
    let node_type = match f.kind {
        SpecialField::ListHead => "bpf_list_node",
        SpecialField::RbRoot => "bpf_rb_node",
        _ => return Err("not a graph root".into()),
    };
    let (holder, comp) = component(btf, value, f.offset)?;
    let tag = contains_tag(btf, holder, comp)?;
    let (ty, node) = tag
        .split_once(':')
        .ok_or_else(|| format!("graph root tag `contains:{tag}` without a node field"))?;
    if node.is_empty() {
        return Err(format!(
            "graph root tag `contains:{tag}` without a node field"
        ));
    }
    let Some(vt) = btf.find_by_name_kind(ty, bpfcheck_btf::BtfKind::Struct) else {
        return Err(format!(
            "graph root of struct {ty}, which the program's BTF lacks"
        ));
    };
    let Type::Struct(st) = vt else {
        return Err(format!("graph root of {ty}"));
    };
    let mut found = None;
    for m in st.members() {
        if m.name().unwrap_or("") != node {
            continue;
        }
        if found.is_some() {
            return Err(format!("struct {ty} with two members named {node}"));
        }
        let n = btf.type_by_id(m.ty).map_err(|e| e.to_string())?;
        let is_node = matches!(n, Type::Struct(_)) && n.name().unwrap_or("") == node_type;
        if !is_node || m.bit_offset % 64 != 0 {
            return Err(format!(
                "graph root naming {ty}.{node}, not an aligned {node_type}"
            ));
        }
        found = Some(m.bit_offset / 8);
    }
    let node_offset = found.ok_or_else(|| format!("graph root naming a missing {ty}.{node}"))?;
    Ok(GraphRoot {
        value_btf_id: vt.id().0,
        node_offset,
    })
}

/// The type a root's declaration tag is attached to and its component
/// index: a data section's variable (-1), or a top-level member.
fn component(
    btf: &Btf<'_>,
    value: BtfTypeId,
    off: u32,
) -> Result<(BtfTypeId, Option<u32>), String> {
    let err = |e: bpfcheck_btf::BtfError| e.to_string();
    match btf.resolve(value).map_err(err)? {
        Type::Datasec(sec) => sec
            .entries()
            .find(|v| v.offset == off)
            .map(|v| (v.ty, None))
            .ok_or_else(|| "graph roots inside a variable's struct".into()),
        Type::Struct(st) => {
            let t = st.id();
            st.members()
                .find(|m| m.bit_offset == off * 8 && member_is_root(btf, m.ty))
                .map(|m| (t, Some(u32::from(m.index))))
                .ok_or_else(|| "graph roots inside a nested struct".into())
        }
        _ => Err("graph roots in this value type".into()),
    }
}

fn member_is_root(btf: &Btf<'_>, ty: BtfTypeId) -> bool {
    btf.type_by_id(ty)
        .is_ok_and(|t| matches!(t.name(), Ok("bpf_list_head" | "bpf_rb_root")))
}

/// `btf_find_decl_tag_value(…, "contains:")`: the one such tag's value.
fn contains_tag<'b>(
    btf: &'b Btf<'_>,
    holder: BtfTypeId,
    comp: Option<u32>,
) -> Result<&'b str, String> {
    let mut value = None;
    for t in btf.iter() {
        let Type::DeclTag(tag) = t else {
            continue;
        };
        if tag.target() != holder || tag.component_idx() != Ok(comp) {
            continue;
        }
        let Some(v) = t.name().ok().and_then(|n| n.strip_prefix("contains:")) else {
            continue;
        };
        if value.is_some() {
            return Err("a graph root with two contains: tags".into());
        }
        value = Some(v);
    }
    value.ok_or_else(|| "a graph root without a contains: tag".into())
}
