//! struct_ops maps (variables of `SEC(".struct_ops")` and
//! `SEC(".struct_ops.link")`) and what they make of the programs their
//! function pointers name, following libbpf 1.5's `init_struct_ops_maps`,
//! `bpf_object__collect_st_ops_relos` and `bpf_map__init_kern_struct_ops`:
//!
//! - each variable is a `STRUCT_OPS` map: key 4 bytes, value the local
//!   struct's size, one entry, `BPF_F_LINK` in `.struct_ops.link`;
//! - at load, against the kernel's BTF, the map's value becomes the
//!   kernel's `struct bpf_struct_ops_<type>` (`btf_vmlinux_value_type_id`
//!   and its size), and every program a member points to is loaded with
//!   `attach_btf_id` = the kernel's `struct <type>` and
//!   `expected_attach_type` = the index of the same-named member there.
//!
//! Types in module BTF are not searched (libbpf searches them).

use bpfcheck_btf::{Btf as TargetBtf, BtfKind};
use bpfcheck_uapi::{MapSpec, MapType};

use crate::Function;
use crate::btf_min::{Btf, kind};
use crate::elf::ElfObject;
use crate::error::{ObjError, sec_err};
use crate::externs::essential_name;
use crate::maps::{MapOrigin, ObjMap, truncate_name};

/// `BPF_F_LINK`: the map is attached through a link.
pub const BPF_F_LINK: u32 = 1 << 13;

/// The value types of struct_ops maps are named with this prefix.
const VALUE_PREFIX: &str = "bpf_struct_ops_";

/// One struct_ops map of the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StructOps {
    /// Index in `Object::maps`.
    pub(crate) map: usize,
    /// The local struct's name (flavour suffix included).
    pub(crate) type_name: String,
    /// `(program name, member name)` for every member naming a program.
    pub(crate) progs: Vec<(String, String)>,
}

/// Whether a section holds struct_ops variables; `Some(true)` for `.link`.
fn struct_ops_section(name: &str) -> Option<bool> {
    match name {
        ".struct_ops" => Some(false),
        ".struct_ops.link" => Some(true),
        _ => None,
    }
}

/// Adds the struct_ops maps of every struct_ops section to `maps` (after
/// all others, in section order, as libbpf does) and records which
/// programs their members name.
pub(crate) fn collect(
    elf: &ElfObject<'_>,
    btf: Option<&Btf>,
    maps: &mut Vec<ObjMap>,
    functions: &[Function],
) -> Result<Vec<StructOps>, ObjError> {
    let mut out: Vec<StructOps> = Vec::new();
    for (shndx, sec) in elf.sections.iter().enumerate() {
        let Some(link) = struct_ops_section(&sec.name) else {
            continue;
        };
        let btf = btf.ok_or_else(|| sec_err(&sec.name, "struct_ops maps need .BTF"))?;
        let datasec = btf
            .find_by_name(&sec.name)
            .and_then(|id| btf.get(id))
            .filter(|t| t.kind == kind::DATASEC)
            .ok_or_else(|| sec_err(&sec.name, "struct_ops init: DATASEC not found"))?;
        let first = out.len();
        let mut members_of = Vec::new();
        for (var_id, offset, _) in btf.datasec_vars(&datasec) {
            let var_name = btf.name(var_id).to_owned();
            let (type_id, t) = btf
                .get(var_id)
                .and_then(|v| btf.skip_mods(v.size_type))
                .ok_or_else(|| {
                    sec_err(
                        &sec.name,
                        format!("cannot resolve the type of '{var_name}'"),
                    )
                })?;
            let type_name = btf.name(type_id).to_owned();
            if type_name.is_empty() || t.kind != kind::STRUCT {
                return Err(sec_err(
                    &sec.name,
                    format!("struct_ops init: '{var_name}' is not a named struct"),
                ));
            }
            if u64::from(offset) + u64::from(t.size_type) > sec.size {
                return Err(sec_err(
                    &sec.name,
                    format!("struct_ops init: var {var_name} is beyond the end of the section"),
                ));
            }
            let mut spec = MapSpec::new(MapType::STRUCT_OPS, 4, t.size_type, 1);
            spec.name = truncate_name(&var_name);
            spec.btf_value_type_id = type_id;
            if link {
                spec.flags = BPF_F_LINK;
            }
            out.push(StructOps {
                map: maps.len(),
                type_name,
                progs: Vec::new(),
            });
            members_of.push((u64::from(offset), u64::from(t.size_type), btf.members(&t)));
            maps.push(ObjMap {
                name: spec.name.clone(),
                real_name: var_name,
                origin: MapOrigin::Btf,
                section_index: shndx,
                section_offset: u64::from(offset),
                spec,
                numa_node: 0,
                pinning: 0,
            });
        }
        for rs in elf.rel_sections.iter().filter(|r| r.target == shndx) {
            for rel in &rs.rels {
                let sym = elf.symbols.get(rel.sym as usize).ok_or_else(|| {
                    sec_err(
                        &sec.name,
                        format!("relocation names no symbol #{}", rel.sym),
                    )
                })?;
                let prog = functions
                    .iter()
                    .find(|f| {
                        f.section_index == usize::from(sym.shndx)
                            && f.insn_offset as u64 * 8 == sym.value
                    })
                    .ok_or_else(|| {
                        sec_err(
                            &sec.name,
                            format!("relocation to '{}', which is no program", sym.name),
                        )
                    })?;
                let Some(k) = members_of
                    .iter()
                    .position(|(off, size, _)| (*off..off + size).contains(&rel.offset))
                else {
                    return Err(sec_err(
                        &sec.name,
                        format!("relocation at {} is in no struct_ops variable", rel.offset),
                    ));
                };
                let (off, _, members) = &members_of[k];
                let moff_bits = (rel.offset - off) * 8;
                let member = members
                    .iter()
                    .find(|(_, _, bits)| u64::from(bits & 0x00ff_ffff) == moff_bits)
                    .map(|(name_off, _, _)| btf.str_at(*name_off).unwrap_or("").to_owned())
                    .ok_or_else(|| {
                        sec_err(
                            &sec.name,
                            format!("relocation at {} is at no member", rel.offset),
                        )
                    })?;
                out[first + k].progs.push((prog.name.clone(), member));
            }
        }
    }
    Ok(out)
}

impl StructOps {
    /// The kernel's `struct <type>` in the target BTF.
    fn kern_type<'t>(&self, target: &'t TargetBtf<'t>) -> Option<bpfcheck_btf::Type<'t>> {
        target.find_by_name_kind(essential_name(&self.type_name), BtfKind::Struct)
    }

    /// `(attach_btf_id, expected_attach_type)` of a program this map names,
    /// in the target BTF.
    pub(crate) fn attach(&self, prog: &str, target: &TargetBtf<'_>) -> Option<(u32, u32)> {
        let (_, member) = self.progs.iter().find(|(p, _)| p == prog)?;
        let kern = self.kern_type(target)?;
        let comp = kern.as_composite()?;
        let idx = comp
            .members()
            .position(|m| m.name().ok() == Some(member.as_str()))?;
        Some((kern.id().0, u32::try_from(idx).ok()?))
    }

    /// The map as libbpf creates it against the target BTF: the kernel's
    /// value type and its size.
    pub(crate) fn kern_spec(&self, spec: &mut MapSpec, target: &TargetBtf<'_>) {
        let Some(kern) = self.kern_type(target) else {
            return;
        };
        let Ok(tname) = kern.name() else {
            return;
        };
        if let Some(v) =
            target.find_by_name_kind(&format!("{VALUE_PREFIX}{tname}"), BtfKind::Struct)
            && let Some(c) = v.as_composite()
        {
            spec.btf_vmlinux_value_type_id = v.id().0;
            spec.value_size = c.size();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::externs::essential_name;

    #[test]
    fn flavours_are_dropped_like_libbpf() {
        assert_eq!(essential_name("tcp_congestion_ops"), "tcp_congestion_ops");
        assert_eq!(
            essential_name("tcp_congestion_ops___v2"),
            "tcp_congestion_ops"
        );
        assert_eq!(essential_name("a____b"), "a____b");
        assert_eq!(essential_name("x___"), "x___");
    }
}
