//! Resolving one relocation against a target BTF (libbpf's
//! `bpf_core_calc_relo_insn` with its candidate search and cache).

use std::collections::HashMap;
use std::fmt;

use crate::Btf;
use crate::core::calc::{self, Side, SideValue};
use crate::core::matching::{SpecMatch, spec_match};
use crate::core::names::find_candidates;
use crate::core::{CoreSpec, describe_spec};
use crate::ext::{CoreReloKind, CoreReloRec};
use crate::types::{BtfKind, BtfTypeId};

/// The numbers a resolved relocation patches in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreValue {
    /// The value the local BTF implies (what the compiler wrote).
    pub orig: u64,
    /// The value for the target.
    pub new: u64,
    /// The instruction must be poisoned (no target resolved it).
    pub poison: bool,
    /// The instruction must hold `orig` before patching.
    pub validate: bool,
    /// Local field size (byte-offset relocations of whole fields), else 0.
    pub orig_size: u32,
    /// Target field size, else 0.
    pub new_size: u32,
    /// The sizes differ and the load/store cannot be resized safely.
    pub fail_memsz_adjust: bool,
}

/// One candidate target type and how it fared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreCandidate {
    /// Target type id.
    pub type_id: BtfTypeId,
    /// Its name (with flavour).
    pub name: String,
    /// Its kind.
    pub kind: BtfKind,
    /// Matched: the target spec in words and its value; or why not.
    pub outcome: Result<(String, CoreValue), String>,
}

/// Why a relocation could not be resolved at all. libbpf then fails the
/// whole object load (unlike poisoning, which only hurts if reached).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoreError {
    /// The access string does not fit the local type.
    BadLocalSpec(String),
    /// The local root type is anonymous: libbpf searches no candidates.
    AnonymousType,
    /// Matching a candidate hit malformed or too deeply nested BTF.
    Matching {
        /// The candidate.
        candidate: BtfTypeId,
        /// What went wrong.
        detail: String,
    },
    /// Two matching candidates put the field at different bit offsets.
    OffsetAmbiguity {
        /// Bit offset from the first matching candidate.
        first: u64,
        /// The disagreeing bit offset.
        other: u64,
    },
    /// Two matching candidates disagree on the value or on poisoning
    /// (libbpf: "relocation decision ambiguity").
    Ambiguous {
        /// `(poison, value)` from the first matching candidate.
        first: (bool, u64),
        /// The disagreeing `(poison, value)`.
        other: (bool, u64),
    },
    /// This kind cannot be applied to an array element access.
    ArrayAccess(CoreReloKind),
    /// A bitfield that no aligned 8-byte load covers.
    BitfieldTooWide,
    /// A size could not be computed.
    Size(String),
    /// A kind the calculation does not handle for this spec.
    Unsupported(CoreReloKind),
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLocalSpec(d) => write!(f, "access string does not fit the local type: {d}"),
            Self::AnonymousType => write!(f, "relocation doesn't support anonymous types"),
            Self::Matching { candidate, detail } => {
                write!(f, "error matching candidate {candidate}: {detail}")
            }
            Self::OffsetAmbiguity { first, other } => {
                write!(f, "field offset ambiguity: {other} != {first} bits")
            }
            Self::Ambiguous { first, other } => {
                let w =
                    |(p, v): (bool, u64)| format!("{} {v}", if p { "failure" } else { "success" });
                write!(
                    f,
                    "relocation decision ambiguous: {} != {}",
                    w(*other),
                    w(*first)
                )
            }
            Self::ArrayAccess(k) => write!(f, "{} can't be applied to array access", k.name()),
            Self::BitfieldTooWide => write!(f, "bitfield can't be read with a 64-bit load"),
            Self::Size(d) => write!(f, "size unknown: {d}"),
            Self::Unsupported(k) => write!(f, "unrecognized CO-RE relocation {}", k.name()),
        }
    }
}

impl std::error::Error for CoreError {}

/// Everything about one relocation: what was asked, what was considered,
/// what it resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreResolution {
    /// The record.
    pub relo: CoreReloRec,
    /// Its access string (`"0:1"`).
    pub access: String,
    /// Local root type name (`""` if anonymous or unreadable).
    pub local_name: String,
    /// Local root kind.
    pub local_kind: BtfKind,
    /// What was asked, in words (`task_struct::pid`).
    pub spec: String,
    /// Candidates in the target, in id order (empty for `TYPE_ID_LOCAL`).
    pub candidates: Vec<CoreCandidate>,
    /// The values, or why resolution failed.
    pub result: Result<CoreValue, CoreError>,
    /// The target spec chosen, in words, when a candidate matched.
    pub target_spec: Option<String>,
}

impl CoreResolution {
    /// Why the instruction is poisoned, in words, if it is.
    pub fn poison_reason(&self) -> Option<String> {
        if !matches!(&self.result, Ok(v) if v.poison) {
            return None;
        }
        if self.candidates.is_empty() {
            return Some(format!(
                "no {} named {} in the target BTF",
                self.local_kind,
                crate::core::names::essential_name(&self.local_name)
            ));
        }
        let why: Vec<String> = self
            .candidates
            .iter()
            .filter_map(|c| {
                c.outcome
                    .as_ref()
                    .err()
                    .map(|e| format!("{} {e}", c.type_id))
            })
            .collect();
        Some(format!("no candidate matches: {}", why.join("; ")))
    }
}

/// Resolves relocations against one target, keeping libbpf's candidate
/// cache: the candidates of a local type are searched once, and each
/// relocation that finds matches narrows them to those that matched, so
/// later relocations of the same type only consider those. The order of
/// [`CoreResolver::resolve`] calls therefore matters, as it does in libbpf.
#[derive(Debug)]
pub struct CoreResolver<'l, 't, 'a, 'b> {
    local: &'l Btf<'a>,
    target: &'t Btf<'b>,
    cache: HashMap<BtfTypeId, Vec<(BtfTypeId, BtfKind)>>,
}

/// Resolve one relocation with a fresh candidate cache.
pub fn resolve(local: &Btf<'_>, target: &Btf<'_>, relo: &CoreReloRec) -> CoreResolution {
    CoreResolver::new(local, target).resolve(relo)
}

impl<'l, 't, 'a, 'b> CoreResolver<'l, 't, 'a, 'b> {
    /// A resolver from `local` (the program's BTF) to `target`.
    pub fn new(local: &'l Btf<'a>, target: &'t Btf<'b>) -> Self {
        Self {
            local,
            target,
            cache: HashMap::new(),
        }
    }

    /// Resolve `relo`.
    pub fn resolve(&mut self, relo: &CoreReloRec) -> CoreResolution {
        let local = self.local;
        let access = local.str_at(relo.access_str_off).unwrap_or("").to_string();
        let lt = local.type_by_id(relo.type_id).ok();
        let local_name = lt
            .as_ref()
            .and_then(|t| t.name().ok())
            .unwrap_or("")
            .to_string();
        let mut res = CoreResolution {
            relo: *relo,
            access: access.clone(),
            local_kind: lt.as_ref().map_or(BtfKind::Void, |t| t.kind()),
            spec: format!("{local_name} {access}"),
            local_name,
            candidates: Vec::new(),
            result: Err(CoreError::AnonymousType),
            target_spec: None,
        };
        if lt.is_none() {
            res.result = Err(CoreError::BadLocalSpec(format!(
                "no local type {}",
                relo.type_id
            )));
            return res;
        }
        // libbpf searches candidates before parsing the spec; both fail
        // the load, so only the order of the messages differs.
        let local_spec = match CoreSpec::parse(local, relo.type_id, &access, relo.kind) {
            Ok(s) => s,
            Err(e) => {
                res.result = Err(CoreError::BadLocalSpec(e.to_string()));
                return res;
            }
        };
        res.spec = describe_spec(local, &local_spec);
        if relo.kind == CoreReloKind::TypeIdLocal {
            // Type ids may change when objects are linked: never checked.
            res.result = Ok(CoreValue {
                orig: u64::from(relo.type_id.0),
                new: u64::from(relo.type_id.0),
                ..CoreValue::default()
            });
            return res;
        }
        if res.local_name.is_empty() {
            res.result = Err(CoreError::AnonymousType);
            return res;
        }
        let target = self.target;
        let cands = self
            .cache
            .entry(relo.type_id)
            .or_insert_with(|| find_candidates(local, relo.type_id, target));
        let order = local.byte_order();
        let mut chosen: Option<(CoreSpec, CoreValue)> = None;
        let mut kept = Vec::new();
        for &(id, kind) in cands.iter() {
            let name = target
                .type_by_id(id)
                .ok()
                .and_then(|t| t.name().ok())
                .unwrap_or("")
                .to_string();
            let cand_spec = match spec_match(local, &local_spec, target, id) {
                Ok(SpecMatch::Matched(s)) => s,
                Ok(SpecMatch::NoMatch(why)) => {
                    res.candidates.push(CoreCandidate {
                        type_id: id,
                        name,
                        kind,
                        outcome: Err(why),
                    });
                    continue;
                }
                Err(detail) => {
                    res.result = Err(CoreError::Matching {
                        candidate: id,
                        detail,
                    });
                    return res;
                }
            };
            let value = match calc_relo(local, &local_spec, target, Some(&cand_spec), order) {
                Ok(v) => v,
                Err(e) => {
                    res.result = Err(e);
                    return res;
                }
            };
            res.candidates.push(CoreCandidate {
                type_id: id,
                name,
                kind,
                outcome: Ok((describe_spec(target, &cand_spec), value)),
            });
            match &chosen {
                None => {
                    res.target_spec = Some(describe_spec(target, &cand_spec));
                    chosen = Some((cand_spec, value));
                }
                Some((first, _)) if first.bit_offset != cand_spec.bit_offset => {
                    res.result = Err(CoreError::OffsetAmbiguity {
                        first: first.bit_offset,
                        other: cand_spec.bit_offset,
                    });
                    return res;
                }
                Some((_, v)) if v.poison != value.poison || v.new != value.new => {
                    res.result = Err(CoreError::Ambiguous {
                        first: (v.poison, v.new),
                        other: (value.poison, value.new),
                    });
                    return res;
                }
                Some(_) => {}
            }
            kept.push((id, kind));
        }
        if !kept.is_empty() {
            *cands = kept;
        }
        res.result = match chosen {
            Some((_, v)) => Ok(v),
            None => calc_relo(local, &local_spec, target, None, order),
        };
        res
    }
}

/// libbpf's `bpf_core_calc_relo`: the local and target values of one
/// candidate (`targ = None`: no candidate matched).
fn calc_relo(
    local: &Btf<'_>,
    local_spec: &CoreSpec,
    target: &Btf<'_>,
    targ: Option<&CoreSpec>,
    order: crate::header::ByteOrder,
) -> Result<CoreValue, CoreError> {
    let kind = local_spec.kind;
    let side = |btf: &Btf<'_>, spec: Option<&CoreSpec>| -> Result<Side, CoreError> {
        if kind.is_field_based() {
            calc::field(kind, btf, spec, order)
        } else if kind.is_type_based() {
            calc::ty(kind, btf, spec)
        } else {
            calc::enumval(kind, btf, spec)
        }
    };
    let poisoned = |orig: SideValue| CoreValue {
        orig: orig.val,
        poison: true,
        validate: orig.validate,
        ..CoreValue::default()
    };
    let orig = match side(local, Some(local_spec))? {
        Side::Value(v) => v,
        Side::Poison => {
            return Ok(CoreValue {
                poison: true,
                validate: true,
                ..CoreValue::default()
            });
        }
    };
    let new = match side(target, targ)? {
        Side::Value(v) => v,
        Side::Poison => return Ok(poisoned(orig)),
    };
    let mut v = CoreValue {
        orig: orig.val,
        new: new.val,
        poison: false,
        validate: orig.validate,
        orig_size: orig.mem_size,
        new_size: new.mem_size,
        fail_memsz_adjust: false,
    };
    if kind.is_field_based() && v.orig_size != v.new_size {
        // Resizing a load is safe for pointers (a 32-bit kernel's are
        // zero-extended) and unsigned integers; anything else would read
        // a wrong value.
        let lt = local.type_by_id(orig.type_id).ok();
        let tt = target.type_by_id(new.type_id).ok();
        let unsigned_int = |t: &Option<crate::Type<'_>>| matches!(t, Some(crate::Type::Int(i)) if (i.raw_data() >> 24) & 0xf != 1);
        let both_ptr = matches!(
            (&lt, &tt),
            (Some(crate::Type::Ptr(_)), Some(crate::Type::Ptr(_)))
        );
        v.fail_memsz_adjust = !(both_ptr || unsigned_int(&lt) && unsigned_int(&tt));
    }
    Ok(v)
}
