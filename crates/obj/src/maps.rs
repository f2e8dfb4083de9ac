//! Map definitions: BTF-defined `.maps`, the legacy `maps` section, and the
//! ARRAY maps libbpf makes of global data sections.

use object::elf;

use bpfcheck_uapi::{MapSpec, MapType};

use crate::btf_min::{Btf, VAR_STATIC, kind};
use crate::elf::{ElfObject, read_u32};
use crate::error::ObjError;

/// `BPF_F_RDONLY_PROG`.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_MMAPABLE`.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;
/// Longest map name the kernel keeps (`BPF_OBJ_NAME_LEN - 1`).
pub const MAP_NAME_MAX: usize = 15;

/// Where a map comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapOrigin {
    /// A variable of the BTF-defined `.maps` section.
    Btf,
    /// A `struct bpf_map_def` in the legacy `maps` section.
    Legacy,
    /// `.data` or `.data.*`.
    Data,
    /// `.rodata` or `.rodata.*`.
    Rodata,
    /// `.bss` or `.bss.*`.
    Bss,
    /// The `.kconfig` map holding `__kconfig` extern values.
    Kconfig,
}

impl MapOrigin {
    /// Whether libbpf made this map itself (global data, `.kconfig`).
    pub fn is_internal(self) -> bool {
        !matches!(self, Self::Btf | Self::Legacy)
    }
}

/// A map of the object, in libbpf's map order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjMap {
    /// The name passed to the kernel (at most 15 bytes).
    pub name: String,
    /// The full name: the variable name, or the ELF section name of a
    /// global data map.
    pub real_name: String,
    /// Where the definition came from.
    pub origin: MapOrigin,
    /// ELF section the map lives in (the symbol table for `.kconfig`).
    pub section_index: usize,
    /// Byte offset of the definition in that section.
    pub section_offset: u64,
    /// The map as `BPF_MAP_CREATE` would receive it.
    pub spec: MapSpec,
    /// `numa_node`, when `BPF_F_NUMA_NODE` is used.
    pub numa_node: u32,
    /// `pinning` (`LIBBPF_PIN_NONE` 0 or `LIBBPF_PIN_BY_NAME` 1).
    pub pinning: u32,
}

/// libbpf's name for an internal map: up to 8 bytes of the object name, then
/// the section name (at least 7 bytes reserved for it). Sections with a
/// second dot (`.rodata.foo`) keep only their own name.
pub fn internal_map_name(obj_name: &str, real_name: &str) -> String {
    let sfx_len = real_name.len().clamp(7, MAP_NAME_MAX);
    let custom = real_name.get(1..).is_some_and(|r| r.contains('.'));
    let pfx_len = if custom {
        0
    } else {
        (MAP_NAME_MAX - sfx_len).min(obj_name.len())
    };
    let raw: Vec<u8> = obj_name.as_bytes()[..pfx_len]
        .iter()
        .chain(real_name.as_bytes().iter().take(sfx_len))
        .take(MAP_NAME_MAX)
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' {
                b
            } else {
                b'_'
            }
        })
        .collect();
    String::from_utf8_lossy(&raw).into_owned()
}

fn map_err(map: &str, what: impl Into<String>) -> ObjError {
    ObjError::Map {
        map: map.to_owned(),
        what: what.into(),
    }
}

/// Maps of the legacy `maps` section. libbpf ≥ 1.0 refuses this section;
/// bpfcheck reads it the way libbpf 0.x and iproute2 did, so that old
/// objects can still be checked: every symbol in the section is a map, and
/// the definition size is the section size over the symbol count.
pub(crate) fn legacy_maps(elf: &ElfObject<'_>, shndx: usize) -> Result<Vec<ObjMap>, ObjError> {
    let sec = &elf.sections[shndx];
    let mut syms: Vec<_> = elf
        .symbols
        .iter()
        .filter(|s| usize::from(s.shndx) == shndx && s.kind != elf::STT_SECTION)
        .collect();
    if syms.is_empty() {
        return Ok(Vec::new());
    }
    let def_size = sec.data.len() / syms.len();
    if def_size == 0 || !def_size.is_multiple_of(4) || def_size * syms.len() != sec.data.len() {
        return Err(ObjError::Section {
            section: sec.name.clone(),
            what: format!(
                "{} bytes do not split into {} map definitions",
                sec.data.len(),
                syms.len()
            ),
        });
    }
    // Symbol table order is libbpf 0.x's map order.
    syms.sort_by_key(|s| s.value);
    let mut maps = Vec::with_capacity(syms.len());
    for sym in syms {
        let off = usize::try_from(sym.value).unwrap_or(usize::MAX);
        let def = off
            .checked_add(def_size)
            .and_then(|end| sec.data.get(off..end))
            .ok_or_else(|| map_err(&sym.name, format!("definition at {off} is out of section")))?;
        let field = |i: usize| read_u32(def, 4 * i, elf.order).unwrap_or(0);
        // `struct bpf_map_def` has five fields; a longer definition is only
        // accepted if the rest is zero, as libbpf 0.x required.
        if def
            .get(20..)
            .is_some_and(|rest| rest.iter().any(|&b| b != 0))
        {
            return Err(map_err(
                &sym.name,
                "definition has non-zero bytes beyond struct bpf_map_def",
            ));
        }
        let mut spec = MapSpec::new(MapType(field(0)), field(1), field(2), field(3));
        spec.flags = field(4);
        spec.name = truncate_name(&sym.name);
        maps.push(ObjMap {
            name: spec.name.clone(),
            real_name: sym.name.clone(),
            origin: MapOrigin::Legacy,
            section_index: shndx,
            section_offset: sym.value,
            spec,
            numa_node: 0,
            pinning: 0,
        });
    }
    Ok(maps)
}

/// A map name cut to what the kernel keeps.
pub(crate) fn truncate_name(name: &str) -> String {
    let mut end = name.len().min(MAP_NAME_MAX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

/// Parsed `__uint`/`__type`/`__array` members of one definition struct.
#[derive(Default)]
struct BtfMapDef {
    spec: MapSpec,
    numa_node: u32,
    pinning: u32,
    inner: Option<Box<BtfMapDef>>,
}

/// Maps of the BTF-defined `.maps` section, in DATASEC order.
pub(crate) fn btf_maps(
    elf: &ElfObject<'_>,
    shndx: usize,
    btf: &Btf,
) -> Result<Vec<ObjMap>, ObjError> {
    let sec = &elf.sections[shndx];
    let datasec = btf
        .find_by_name(".maps")
        .and_then(|id| btf.get(id))
        .filter(|t| t.kind == kind::DATASEC)
        .ok_or_else(|| ObjError::Section {
            section: sec.name.clone(),
            what: "no DATASEC '.maps' in BTF".into(),
        })?;
    let mut maps = Vec::new();
    for (var_id, offset, size) in btf.datasec_vars(&datasec) {
        let var = btf
            .get(var_id)
            .filter(|v| v.kind == kind::VAR)
            .ok_or_else(|| ObjError::Btf {
                offset: 0,
                what: format!(".maps entry type [{var_id}] is not a VAR"),
            })?;
        let name = btf.name(var_id).to_owned();
        if u64::from(offset) + u64::from(size) > sec.size {
            return Err(map_err(
                &name,
                "BTF variable lies outside the .maps section",
            ));
        }
        let (_, def_t) = btf
            .skip_mods(var.size_type)
            .filter(|(_, t)| t.kind == kind::STRUCT)
            .ok_or_else(|| map_err(&name, "definition is not a struct"))?;
        let def = parse_btf_map_def(btf, &name, &def_t, true)?;
        let mut spec = def.spec;
        spec.name = truncate_name(&name);
        if let Some(inner) = def.inner {
            let mut inner_spec = inner.spec;
            inner_spec.name = truncate_name(&format!("{name}.inner"));
            spec.inner = Some(Box::new(inner_spec));
        }
        maps.push(ObjMap {
            name: spec.name.clone(),
            real_name: name,
            origin: MapOrigin::Btf,
            section_index: shndx,
            section_offset: u64::from(offset),
            spec,
            numa_node: def.numa_node,
            pinning: def.pinning,
        });
    }
    Ok(maps)
}

/// `__uint(name, N)` is a pointer to an array of N elements.
fn field_int(btf: &Btf, map: &str, field: &str, ty: u32) -> Result<u32, ObjError> {
    let (_, ptr) = btf
        .skip_mods(ty)
        .filter(|(_, t)| t.kind == kind::PTR)
        .ok_or_else(|| map_err(map, format!("attr '{field}': expected PTR")))?;
    btf.get(ptr.size_type)
        .and_then(|arr| btf.array(&arr))
        .map(|(_, n)| n)
        .ok_or_else(|| {
            map_err(
                map,
                format!("attr '{field}': type [{}] is not an array", ptr.size_type),
            )
        })
}

/// The pointee size and id of `__type(name, T)`.
fn field_type(btf: &Btf, map: &str, field: &str, ty: u32) -> Result<(u32, u32), ObjError> {
    let ptr = btf
        .get(ty)
        .filter(|t| t.kind == kind::PTR)
        .ok_or_else(|| map_err(map, format!("{field} spec is not PTR")))?;
    let size = btf
        .resolve_size(ptr.size_type)
        .and_then(|s| u32::try_from(s).ok())
        .ok_or_else(|| {
            map_err(
                map,
                format!("can't determine {field} size for type [{}]", ptr.size_type),
            )
        })?;
    Ok((size, ptr.size_type))
}

fn set_size(map: &str, what: &str, slot: &mut u32, size: u32) -> Result<(), ObjError> {
    if *slot != 0 && *slot != size {
        return Err(map_err(
            map,
            format!("conflicting {what} {} vs {size}", *slot),
        ));
    }
    *slot = size;
    Ok(())
}

fn parse_btf_map_def(
    btf: &Btf,
    map: &str,
    def_t: &crate::btf_min::TypeRec,
    outer: bool,
) -> Result<BtfMapDef, ObjError> {
    let mut def = BtfMapDef::default();
    let members = btf.members(def_t);
    let count = members.len();
    for (i, (name_off, ty, _)) in members.into_iter().enumerate() {
        let field = btf
            .str_at(name_off)
            .ok_or_else(|| map_err(map, format!("member #{i} has an invalid name")))?;
        let s = &mut def.spec;
        match field {
            "type" => s.map_type = MapType(field_int(btf, map, field, ty)?),
            "max_entries" => s.max_entries = field_int(btf, map, field, ty)?,
            "map_flags" => s.flags = field_int(btf, map, field, ty)?,
            "numa_node" => def.numa_node = field_int(btf, map, field, ty)?,
            "key_size" => {
                let v = field_int(btf, map, field, ty)?;
                set_size(map, "key size", &mut s.key_size, v)?;
            }
            "value_size" => {
                let v = field_int(btf, map, field, ty)?;
                set_size(map, "value size", &mut s.value_size, v)?;
            }
            "key" => {
                let (size, id) = field_type(btf, map, "key", ty)?;
                set_size(map, "key size", &mut s.key_size, size)?;
                s.btf_key_type_id = id;
            }
            "value" => {
                let (size, id) = field_type(btf, map, "value", ty)?;
                set_size(map, "value size", &mut s.value_size, size)?;
                s.btf_value_type_id = id;
            }
            "values" => {
                let map_in_map =
                    matches!(s.map_type, MapType::ARRAY_OF_MAPS | MapType::HASH_OF_MAPS);
                let prog_array = s.map_type == MapType::PROG_ARRAY;
                if !outer {
                    return Err(map_err(map, "multi-level inner maps not supported"));
                }
                if i + 1 != count {
                    return Err(map_err(map, "'values' must be the last member"));
                }
                if !map_in_map && !prog_array {
                    return Err(map_err(map, "should be map-in-map or prog-array"));
                }
                set_size(map, "value size", &mut s.value_size, 4)?;
                let arr = btf
                    .get(ty)
                    .and_then(|t| btf.array(&t))
                    .filter(|&(_, n)| n == 0)
                    .ok_or_else(|| map_err(map, "'values' must be a zero-sized array"))?;
                let (_, ptr) = btf
                    .skip_mods(arr.0)
                    .filter(|(_, t)| t.kind == kind::PTR)
                    .ok_or_else(|| map_err(map, "'values' elements must be pointers"))?;
                let (_, target) = btf
                    .skip_mods(ptr.size_type)
                    .ok_or_else(|| map_err(map, "'values' pointee is invalid"))?;
                if prog_array {
                    if target.kind != kind::FUNC_PROTO {
                        return Err(map_err(map, "prog-array value must point to a function"));
                    }
                    continue;
                }
                if target.kind != kind::STRUCT {
                    return Err(map_err(map, "map-in-map inner def must be a struct"));
                }
                let inner = parse_btf_map_def(btf, &format!("{map}.inner"), &target, false)?;
                def.inner = Some(Box::new(inner));
            }
            "pinning" => {
                if !outer {
                    return Err(map_err(map, "inner map pinning is not supported"));
                }
                let v = field_int(btf, map, field, ty)?;
                if v > 1 {
                    return Err(map_err(map, format!("invalid pinning value {v}")));
                }
                def.pinning = v;
            }
            "map_extra" => {
                let (_, t) = btf
                    .skip_mods(ty)
                    .ok_or_else(|| map_err(map, "attr 'map_extra': invalid type"))?;
                s.map_extra = match t.kind {
                    kind::PTR => u64::from(field_int(btf, map, field, ty)?),
                    _ => btf
                        .first_enum_value(&t)
                        .ok_or_else(|| map_err(map, "attr 'map_extra': expected PTR or ENUM"))?,
                };
            }
            other => {
                return Err(map_err(map, format!("unknown field '{other}'")));
            }
        }
    }
    if def.spec.map_type == MapType::UNSPEC {
        return Err(map_err(map, "map type isn't specified"));
    }
    if matches!(def.spec.map_type, MapType::RINGBUF | MapType::USER_RINGBUF) {
        def.spec.max_entries = ringbuf_size(def.spec.max_entries);
    }
    Ok(def)
}

/// The page size libbpf rounds ring buffers to. libbpf asks the loading
/// host; bpfcheck models the x86-64 and arm64 (4 KiB) kernels it targets.
pub const PAGE_SIZE: u32 = 4096;

/// libbpf's `adjust_ringbuf_sz`: the kernel wants a ring buffer's size to be
/// a power-of-two number of pages, so libbpf rounds a size that is not up
/// to the next such size (0 stays 0, for the kernel to refuse).
pub fn ringbuf_size(size: u32) -> u32 {
    if size == 0 || (size.is_multiple_of(PAGE_SIZE) && (size / PAGE_SIZE).is_power_of_two()) {
        return size;
    }
    let mut pages: u32 = 1;
    while let Some(bytes) = pages.checked_mul(PAGE_SIZE) {
        if bytes > size {
            return bytes;
        }
        match pages.checked_mul(2) {
            Some(p) => pages = p,
            None => break,
        }
    }
    size
}

#[cfg(test)]
mod ringbuf_tests {
    use super::ringbuf_size;

    #[test]
    fn sizes_round_up_to_power_of_two_pages() {
        assert_eq!(ringbuf_size(0), 0);
        assert_eq!(ringbuf_size(4096), 4096);
        assert_eq!(ringbuf_size(8192), 8192);
        assert_eq!(ringbuf_size(12288), 16384);
        assert_eq!(ringbuf_size(1), 4096);
        assert_eq!(ringbuf_size(256 * 1024 + 1), 512 * 1024);
        assert_eq!(ringbuf_size(u32::MAX - 1), u32::MAX - 1);
    }
}

/// Kind of a section that becomes a global data map.
pub(crate) fn data_section_origin(name: &str, sh_type: u32) -> Option<MapOrigin> {
    let is =
        |base: &str| name == base || name.strip_prefix(base).is_some_and(|r| r.starts_with('.'));
    match sh_type {
        elf::SHT_PROGBITS if is(".data") => Some(MapOrigin::Data),
        elf::SHT_PROGBITS if is(".rodata") => Some(MapOrigin::Rodata),
        elf::SHT_NOBITS if is(".bss") => Some(MapOrigin::Bss),
        _ => None,
    }
}

/// One ARRAY map per non-empty global data section, in section order.
pub(crate) fn data_maps(elf: &ElfObject<'_>, btf: Option<&Btf>, obj_name: &str) -> Vec<ObjMap> {
    let mut maps = Vec::new();
    for (index, sec) in elf.sections.iter().enumerate().skip(1) {
        let Some(origin) = data_section_origin(&sec.name, sec.sh_type) else {
            continue;
        };
        if sec.size == 0 || (origin != MapOrigin::Bss && sec.data.is_empty()) {
            continue;
        }
        // `.bss` starts zeroed: no contents to carry.
        let contents = match origin {
            MapOrigin::Bss => None,
            _ => Some(sec.data.to_vec()),
        };
        let size = u32::try_from(sec.size).unwrap_or(u32::MAX);
        maps.push(internal_map(
            btf, obj_name, &sec.name, index, origin, size, contents,
        ));
    }
    maps
}

/// An internal ARRAY map of one `size`-byte element holding `contents`
/// (all zero when `None`).
pub(crate) fn internal_map(
    btf: Option<&Btf>,
    obj_name: &str,
    real_name: &str,
    section_index: usize,
    origin: MapOrigin,
    size: u32,
    contents: Option<Vec<u8>>,
) -> ObjMap {
    let mut spec = MapSpec::new(MapType::ARRAY, 4, size, 1);
    let read_only = matches!(origin, MapOrigin::Rodata | MapOrigin::Kconfig);
    if read_only {
        spec.flags |= BPF_F_RDONLY_PROG;
    }
    // The value type is the DATASEC of the same name, when BTF has one
    // (clang emits none for merged string sections such as `.rodata.str1.1`).
    let datasec = btf.and_then(|b| {
        let id = b.find_by_name(real_name)?;
        Some((b, id, b.get(id)?))
    });
    if let Some((b, id, t)) = datasec {
        spec.btf_value_type_id = id;
        // Mappable when some variable is visible to user space (global).
        let exposed = t.kind == kind::DATASEC
            && b.datasec_vars(&t).iter().any(|&(v, _, _)| {
                b.get(v)
                    .and_then(|vt| b.var_linkage(&vt))
                    .is_some_and(|l| l != VAR_STATIC)
            });
        if exposed {
            spec.flags |= BPF_F_MMAPABLE;
        }
    }
    spec.name = internal_map_name(obj_name, real_name);
    spec.initial_value = contents;
    spec.frozen = read_only;
    ObjMap {
        name: spec.name.clone(),
        real_name: real_name.to_owned(),
        origin,
        section_index,
        section_offset: 0,
        spec,
        numa_node: 0,
        pinning: 0,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn cpu_lists_count_like_libbpf() {
        assert_eq!(parse_cpu_list("0-7"), Some(8));
        assert_eq!(parse_cpu_list("0"), Some(1));
        assert_eq!(parse_cpu_list("0,2-3,8"), Some(4));
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn creation_drops_btf_where_libbpf_does() {
        let mut perf = MapSpec::new(MapType::PERF_EVENT_ARRAY, 4, 4, 0);
        perf.btf_key_type_id = 3;
        perf.btf_value_type_id = 3;
        let c = creation_spec(&perf, Some(6));
        assert_eq!(
            (c.btf_key_type_id, c.btf_value_type_id, c.max_entries),
            (0, 0, 6)
        );
        // An explicit size is kept; an unknown CPU count leaves 0.
        perf.max_entries = 2;
        assert_eq!(creation_spec(&perf, Some(6)).max_entries, 2);
        perf.max_entries = 0;
        assert_eq!(creation_spec(&perf, None).max_entries, 0);

        let mut inner = MapSpec::new(MapType::QUEUE, 0, 8, 4);
        inner.btf_value_type_id = 5;
        let mut outer = MapSpec::new(MapType::ARRAY_OF_MAPS, 4, 4, 2);
        outer.btf_key_type_id = 2;
        outer.inner = Some(Box::new(inner));
        let c = creation_spec(&outer, None);
        assert_eq!(c.btf_key_type_id, 0);
        assert_eq!(c.inner.as_ref().map(|i| i.btf_value_type_id), Some(0));

        let mut hash = MapSpec::new(MapType::HASH, 4, 8, 1);
        hash.btf_key_type_id = 7;
        hash.btf_value_type_id = 8;
        assert_eq!(creation_spec(&hash, None), hash);

        let mut ops = MapSpec::new(MapType::STRUCT_OPS, 4, 64, 1);
        ops.btf_value_type_id = 9;
        assert_eq!(creation_spec(&ops, None).btf_value_type_id, 0);
    }
    use super::*;

    #[test]
    fn internal_names_follow_libbpf() {
        assert_eq!(
            internal_map_name("my_object_name", ".rodata"),
            "my_objec.rodata"
        );
        assert_eq!(internal_map_name("my_object_name", ".bss"), "my_objec.bss");
        assert_eq!(
            internal_map_name("my_object_name", ".kconfig"),
            "my_obje.kconfig"
        );
        assert_eq!(internal_map_name("progs", ".data"), "progs.data");
        assert_eq!(
            internal_map_name("x", ".rodata.abracadabra"),
            ".rodata.abracad"
        );
        assert_eq!(internal_map_name("x", ".data.custom"), ".data.custom");
        assert_eq!(internal_map_name("a-b", ".bss"), "a_b.bss");
    }
}

/// The map types libbpf creates without BTF key and value types (its
/// `bpf_object__create_map`: the kernel refuses or ignores them for these).
const CREATED_WITHOUT_BTF: [MapType; 14] = [
    MapType::PERF_EVENT_ARRAY,
    MapType::CGROUP_ARRAY,
    MapType::STACK_TRACE,
    MapType::ARRAY_OF_MAPS,
    MapType::HASH_OF_MAPS,
    MapType::DEVMAP,
    MapType::DEVMAP_HASH,
    MapType::CPUMAP,
    MapType::XSKMAP,
    MapType::SOCKMAP,
    MapType::SOCKHASH,
    MapType::QUEUE,
    MapType::STACK,
    MapType::ARENA,
];

/// What libbpf changes in a map definition when it creates the map (and
/// its inner template): no BTF key / value types for the map types of
/// [`CREATED_WITHOUT_BTF`], no BTF value type for struct_ops maps, and a
/// `PERF_EVENT_ARRAY` without `max_entries` sized to the possible CPUs
/// (`map_set_def_max_entries`; left 0 when `possible_cpus` is unknown).
pub fn creation_spec(spec: &MapSpec, possible_cpus: Option<u32>) -> MapSpec {
    let mut s = spec.clone();
    if CREATED_WITHOUT_BTF.contains(&s.map_type) {
        s.btf_key_type_id = 0;
        s.btf_value_type_id = 0;
    } else if s.map_type == MapType::STRUCT_OPS {
        s.btf_value_type_id = 0;
    }
    if s.map_type == MapType::PERF_EVENT_ARRAY && s.max_entries == 0 {
        s.max_entries = possible_cpus.unwrap_or(0);
    }
    if let Some(inner) = &s.inner {
        s.inner = Some(Box::new(creation_spec(inner, possible_cpus)));
    }
    s
}

/// libbpf's `libbpf_num_possible_cpus`: the CPUs listed in
/// `/sys/devices/system/cpu/possible` (`0-7`, `0,2-3`, …); `None` when it
/// cannot be read.
pub fn host_possible_cpus() -> Option<u32> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible").ok()?;
    parse_cpu_list(text.trim())
}

/// The number of CPUs in a kernel CPU list such as `0-3,8`.
pub fn parse_cpu_list(list: &str) -> Option<u32> {
    let mut n = 0u32;
    for part in list.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?),
            None => {
                let a = part.trim().parse::<u32>().ok()?;
                (a, a)
            }
        };
        n = n.checked_add(b.checked_sub(a)?.checked_add(1)?)?;
    }
    (n > 0).then_some(n)
}
