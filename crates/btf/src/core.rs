//! CO-RE relocation, following libbpf's `relo_core.c` (the behaviour, not
//! the code).
//!
//! A `bpf_core_relo` names a root type in the program's (local) BTF and an
//! access string such as `"0:1:2"`. [`CoreSpec::parse`] turns the pair into
//! a list of accessors against the local BTF, as libbpf's
//! `bpf_core_parse_spec` does: the first index steps over the root pointer
//! as an array, later ones pick struct/union members or array elements.
//!
//! [`resolve`] (or a [`CoreResolver`], which keeps libbpf's per-type
//! candidate cache across relocations) then finds the target types with
//! the same essential name (`___flavour` suffixes ignored, module
//! [`names`]), matches the spec against each (members by name through
//! anonymous members, array bounds, field compatibility; the type rules of
//! module [`compat`]), computes the local and target values of every
//! matching candidate, and refuses ambiguity. The returned
//! [`CoreResolution`] says what was asked, which candidates were
//! considered and why they did or did not match, and the values.
//! [`patch_insn`] rewrites the instruction, or poisons it with
//! `call 0xbad2310` ([`POISON_INSN`]).
//!
//! Knowingly not done: candidates from kernel module BTFs (libbpf looks
//! there when vmlinux has none), and libbpf's log messages word for word.
//! Bitfield shifts follow the local BTF's byte order (libbpf uses the byte
//! order it was built for, which equals it whenever it can load the object).

mod calc;
pub mod compat;
mod matching;
pub mod names;
mod patch;
mod resolve;

pub use compat::{types_are_compat, types_match};
pub use names::{essential_name, find_candidates};
pub use patch::{CorePatch, CorePatchError, POISON_HELPER, POISON_INSN, PoisonCause, patch_insn};
pub use resolve::{CoreCandidate, CoreError, CoreResolution, CoreResolver, CoreValue, resolve};

use crate::Btf;
use crate::error::{BtfErrorKind as K, Result, err};
use crate::ext::CoreReloKind;
use crate::types::{BtfTypeId, Type};

/// libbpf's `BPF_CORE_SPEC_MAX_LEN`: the longest access string.
pub const CORE_SPEC_MAX_LEN: usize = 64;

/// One step of a spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreAccessor {
    /// The type indexed into (modifiers and typedefs skipped): the
    /// struct/union for a member step, the element type for an array step,
    /// the root type for the first step, the enum for an enumerator.
    pub type_id: BtfTypeId,
    /// The member, element or enumerator index.
    pub idx: u32,
    /// The member or enumerator name; `None` for array steps.
    pub name: Option<String>,
}

/// A parsed access spec against one BTF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreSpec {
    /// The relocation's root type id, as written in the record.
    pub root_type_id: BtfTypeId,
    /// Relocation kind.
    pub kind: CoreReloKind,
    /// The raw indices of the access string.
    pub raw: Vec<u32>,
    /// Named steps (anonymous members are walked through but not listed,
    /// as libbpf does); empty for type-based relocations.
    pub accessors: Vec<CoreAccessor>,
    /// Bit offset of the accessed field from the root pointer (field-based
    /// relocations only).
    pub bit_offset: u64,
}

fn bad(detail: impl Into<String>) -> crate::error::BtfError {
    err(K::BadAccessString, detail)
}

/// Split `"0:1:2"` into indices: non-empty, decimal, non-negative, at
/// most [`CORE_SPEC_MAX_LEN`] of them.
pub fn parse_access_string(s: &str) -> Result<Vec<u32>> {
    if s.is_empty() {
        return Err(bad("empty access string"));
    }
    let mut out = Vec::new();
    for part in s.split(':') {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!("access string {s:?}: bad index {part:?}")));
        }
        let v: u32 = part
            .parse()
            .map_err(|_| bad(format!("access string {s:?}: index {part} too large")))?;
        if v > i32::MAX as u32 {
            return Err(bad(format!("access string {s:?}: index {part} too large")));
        }
        out.push(v);
        if out.len() > CORE_SPEC_MAX_LEN {
            return Err(bad(format!(
                "access string longer than {CORE_SPEC_MAX_LEN} steps"
            )));
        }
    }
    Ok(out)
}

impl CoreSpec {
    /// Parse `access` for a relocation of `kind` rooted at `root` in `btf`.
    pub fn parse(btf: &Btf<'_>, root: BtfTypeId, access: &str, kind: CoreReloKind) -> Result<Self> {
        let raw = parse_access_string(access)?;
        let mut spec = Self {
            root_type_id: root,
            kind,
            raw,
            accessors: Vec::new(),
            bit_offset: 0,
        };
        if kind.is_type_based() {
            if access != "0" {
                return Err(bad(format!(
                    "type-based relocation with access string {access:?}"
                )));
            }
            return Ok(spec);
        }
        let root_t = btf.resolve(root)?;
        let first = spec.raw[0];
        if kind.is_enumval_based() {
            let Some(e) = root_t.as_enum() else {
                return Err(bad(format!(
                    "enumerator relocation on {} {}",
                    root_t.kind(),
                    root_t.id()
                )));
            };
            let v = e.value(first as usize).filter(|_| spec.raw.len() == 1);
            let Some(v) = v else {
                return Err(bad(format!(
                    "enumerator index {access} out of range for {}",
                    root_t.id()
                )));
            };
            spec.accessors.push(CoreAccessor {
                type_id: root_t.id(),
                idx: first,
                name: Some(v.name()?.to_string()),
            });
            return Ok(spec);
        }
        // Field-based: the first index walks the root pointer as an array.
        spec.accessors.push(CoreAccessor {
            type_id: root_t.id(),
            idx: first,
            name: None,
        });
        let size = u64::from(btf.size_of(root_t.id())?);
        spec.bit_offset = bits_of(first, size)?;
        let mut cur = root_t.id();
        for &idx in &spec.raw[1..] {
            let t = btf.resolve(cur)?;
            match t {
                Type::Struct(c) | Type::Union(c) => {
                    let Some(m) = c.member(idx as usize) else {
                        return Err(bad(format!(
                            "member {idx} out of range for {} ({} members)",
                            t.id(),
                            c.len()
                        )));
                    };
                    spec.bit_offset = add_bits(spec.bit_offset, u64::from(m.bit_offset))?;
                    if m.name_off != 0 {
                        let name = m.name()?;
                        if name.is_empty() {
                            return Err(bad(format!(
                                "member {idx} of {} has an empty name",
                                t.id()
                            )));
                        }
                        spec.accessors.push(CoreAccessor {
                            type_id: t.id(),
                            idx,
                            name: Some(name.to_string()),
                        });
                    }
                    cur = m.ty;
                }
                Type::Array(a) => {
                    let elem = btf.resolve(a.elem_type())?;
                    if a.nelems() == 0 && !is_flex_member(btf, spec.accessors.last())
                        || a.nelems() != 0 && idx >= a.nelems()
                    {
                        return Err(bad(format!(
                            "array index {idx} out of range for {}",
                            t.id()
                        )));
                    }
                    spec.accessors.push(CoreAccessor {
                        type_id: elem.id(),
                        idx,
                        name: None,
                    });
                    let step = bits_of(idx, u64::from(btf.size_of(elem.id())?))?;
                    spec.bit_offset = add_bits(spec.bit_offset, step)?;
                    cur = elem.id();
                }
                _ => {
                    return Err(bad(format!(
                        "access index {idx} into {} {}, not a struct, union or array",
                        t.kind(),
                        t.id()
                    )));
                }
            }
        }
        Ok(spec)
    }
}

/// `idx` elements of `size` bytes, in bits.
fn bits_of(idx: u32, size: u64) -> Result<u64> {
    u64::from(idx)
        .checked_mul(size)
        .and_then(|b| b.checked_mul(8))
        .ok_or_else(|| err(K::SizeOverflow, "access offset overflows"))
}

fn add_bits(a: u64, b: u64) -> Result<u64> {
    a.checked_add(b)
        .ok_or_else(|| err(K::SizeOverflow, "access offset overflows"))
}

/// A zero-length array may be indexed past its end only when it is the
/// last member of a struct (a flexible array member).
fn is_flex_member(btf: &Btf<'_>, prev: Option<&CoreAccessor>) -> bool {
    let Some(prev) = prev.filter(|p| p.name.is_some()) else {
        return false;
    };
    match btf.type_by_id(prev.type_id) {
        Ok(Type::Struct(c) | Type::Union(c)) => prev.idx as usize + 1 == c.len(),
        _ => false,
    }
}

/// A spec in words: `task_struct::pid`, `task_struct::comm[3]`,
/// `sk_buff::__sk_common.skc_daddr`, `struct task_struct` for type-based
/// kinds, `enum pid_type::PIDTYPE_TGID` for enumerators.
pub fn describe_spec(btf: &Btf<'_>, spec: &CoreSpec) -> String {
    let root = btf.type_by_id(spec.root_type_id).ok();
    let name = root
        .as_ref()
        .and_then(|t| t.name().ok())
        .filter(|n| !n.is_empty())
        .unwrap_or("<anon>");
    if spec.kind.is_type_based() {
        let kw = match root.as_ref().map(|t| t.kind()) {
            Some(crate::BtfKind::Struct) => "struct ",
            Some(crate::BtfKind::Union) => "union ",
            Some(crate::BtfKind::Enum | crate::BtfKind::Enum64) => "enum ",
            Some(crate::BtfKind::Typedef) => "typedef ",
            _ => "",
        };
        return format!("{kw}{name}");
    }
    let mut out = name.to_string();
    if spec.kind.is_enumval_based() {
        if let Some(n) = spec.accessors.first().and_then(|a| a.name.as_deref()) {
            out = format!("enum {name}::{n}");
        }
        return out;
    }
    let mut first_name = true;
    for (i, acc) in spec.accessors.iter().enumerate() {
        match &acc.name {
            Some(n) => {
                out.push_str(if first_name { "::" } else { "." });
                out.push_str(n);
                first_name = false;
            }
            None if i > 0 || acc.idx > 0 => out.push_str(&format!("[{}]", acc.idx)),
            None => {}
        }
    }
    out
}
