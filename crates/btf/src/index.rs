//! Lazy indexes, built on first use and cached inside the [`Btf`]:
//! name → ids, and tagged type → decl tags.

use crate::Btf;
use crate::types::{BtfKind, BtfTypeId, DeclTag, Type};

/// FNV-1a over the name bytes: no dependency, good enough spread for
/// identifiers, and the index verifies every candidate's name anyway.
fn name_hash(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in b {
        h ^= u64::from(c);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `(hash(name), id)` for every named own type, sorted; equal hashes keep
/// id order so lookups return the lowest id first, as libbpf does.
#[derive(Debug, Default)]
pub(crate) struct NameIndex {
    entries: Vec<(u64, u32)>,
}

/// `(target id, decl tag id)` for every own DECL_TAG, sorted.
#[derive(Debug, Default)]
pub(crate) struct DeclTagIndex {
    entries: Vec<(u32, u32)>,
}

impl<'a> Btf<'a> {
    fn name_index(&self) -> &NameIndex {
        self.names.get_or_init(|| {
            let strings = self.strings();
            let base_end = self.str_end() - strings.len() as u32;
            let mut entries = Vec::with_capacity(self.own_type_count());
            for id in self.own_ids() {
                let Ok(raw) = self.raw_by_id(id) else {
                    continue;
                };
                let off = raw.name_off();
                if off == 0 {
                    continue;
                }
                // Names of split types may live in the base's strings.
                let bytes = if off >= base_end {
                    strings.bytes_at(off - base_end).ok()
                } else {
                    self.str_at(off).ok().map(str::as_bytes)
                };
                if let Some(b) = bytes.filter(|b| !b.is_empty()) {
                    entries.push((name_hash(b), id.0));
                }
            }
            entries.sort_unstable();
            NameIndex { entries }
        })
    }

    /// Call `f` on every type named `name`, base first, in id order, until
    /// it returns `false`. Returns `false` if stopped early.
    pub(crate) fn for_each_named(&self, name: &str, f: &mut dyn FnMut(Type<'_>) -> bool) -> bool {
        // Base types are re-viewed through `self` so callers see one BTF.
        let mut through_self = |t: Type<'_>| self.type_by_id(t.id()).map_or(true, &mut *f);
        if let Some(base) = self.base()
            && !base.for_each_named(name, &mut through_self)
        {
            return false;
        }
        if name.is_empty() {
            return true;
        }
        let h = name_hash(name.as_bytes());
        let idx = self.name_index();
        let start = idx.entries.partition_point(|&(eh, _)| eh < h);
        for &(eh, id) in &idx.entries[start..] {
            if eh != h {
                break;
            }
            let Ok(t) = self.type_by_id(BtfTypeId(id)) else {
                continue;
            };
            if t.name().is_ok_and(|n| n == name) && !f(t) {
                return false;
            }
        }
        true
    }

    /// Every type named `name`, in id order (libbpf `btf__find_by_name`
    /// returns the first of these).
    pub fn ids_by_name(&self, name: &str) -> Vec<BtfTypeId> {
        let mut out = Vec::new();
        self.for_each_named(name, &mut |t| {
            out.push(t.id());
            true
        });
        out
    }

    /// The first type named `name` of kind `kind` (libbpf's
    /// `btf__find_by_name_kind`). `Void` with name `"void"` finds id 0.
    pub fn find_by_name_kind(&self, name: &str, kind: BtfKind) -> Option<Type<'_>> {
        if kind == BtfKind::Void && name == "void" {
            return self.type_by_id(BtfTypeId::VOID).ok();
        }
        let mut found = None;
        self.for_each_named(name, &mut |t| {
            if t.kind() == kind {
                found = Some(t.id());
                false
            } else {
                true
            }
        });
        found.and_then(|id| self.type_by_id(id).ok())
    }

    /// The first type named `name`, any kind.
    pub fn find_by_name(&self, name: &str) -> Option<Type<'_>> {
        let mut found = None;
        self.for_each_named(name, &mut |t| {
            found = Some(t.id());
            false
        });
        found.and_then(|id| self.type_by_id(id).ok())
    }

    fn decl_tag_index(&self) -> &DeclTagIndex {
        self.decl_tags.get_or_init(|| {
            let mut entries = Vec::new();
            for id in self.own_ids() {
                if let Ok(raw) = self.raw_by_id(id)
                    && raw.kind() == BtfKind::DeclTag
                {
                    entries.push((raw.size_or_type(), id.0));
                }
            }
            entries.sort_unstable();
            DeclTagIndex { entries }
        })
    }

    /// All DECL_TAGs whose target is `target` (any component), base first.
    pub fn decl_tags_of(&self, target: BtfTypeId) -> Vec<DeclTag<'_>> {
        let mut ids: Vec<BtfTypeId> = match self.base() {
            Some(b) => b.decl_tags_of(target).iter().map(|t| t.id()).collect(),
            None => Vec::new(),
        };
        let idx = self.decl_tag_index();
        let start = idx.entries.partition_point(|&(t, _)| t < target.0);
        ids.extend(
            idx.entries[start..]
                .iter()
                .take_while(|&&(t, _)| t == target.0)
                .map(|&(_, id)| BtfTypeId(id)),
        );
        ids.into_iter()
            .filter_map(|id| match self.type_by_id(id) {
                Ok(Type::DeclTag(d)) => Some(d),
                _ => None,
            })
            .collect()
    }

    /// Whether `target` carries a whole-type decl tag (component -1) named `tag`.
    pub fn has_decl_tag(&self, target: BtfTypeId, tag: &str) -> bool {
        self.decl_tags_of(target)
            .iter()
            .any(|d| d.component_idx() == Ok(None) && d.name().is_ok_and(|n| n == tag))
    }
}
