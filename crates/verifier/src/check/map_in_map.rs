//! Map-in-map (`BPF_MAP_TYPE_ARRAY_OF_MAPS`, `BPF_MAP_TYPE_HASH_OF_MAPS`)
//! and XDP socket map lookups. A lookup in either is a
//! `map_value_or_null` of the map until its NULL check, which
//! (`mark_ptr_not_null_reg`) turns it into a `CONST_PTR_TO_MAP` of the
//! outer map's `inner_map_meta`, or a `PTR_TO_XDP_SOCK`.
//!
//! The kernel's `inner_map_meta` is a map of its own, built from the
//! template the outer map was created with (type, sizes, flags and
//! special fields, but no name: the log prints `map_ptr(ks=…,vs=…)`).
//! Here it is one more entry of the checker's map table, after the load
//! request's maps, so that a [`MapIdx`] names it like any other map.

use bpfcheck_uapi::{MapSpec, MapType};

use super::Checker;
use crate::error::Stop;
use crate::state::{MapIdx, RegState};

/// `BPF_FUNC_map_lookup_elem`.
const MAP_LOOKUP: u32 = 1;

/// What a lookup result of a map becomes once checked not NULL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NonNullAs {
    /// A map value (`PTR_TO_MAP_VALUE`).
    Value,
    /// The inner map's meta map (`CONST_PTR_TO_MAP`).
    InnerMap(MapIdx),
    /// An XDP socket (`PTR_TO_XDP_SOCK`).
    XdpSock,
}

/// The load request's maps followed by the inner-map metas of its
/// map-in-maps, and what each map's lookup results become.
pub(crate) struct MapTable {
    /// Every map a [`MapIdx`] may name.
    pub(crate) maps: Vec<MapSpec>,
    /// Per map, what its non-NULL lookup result is.
    pub(crate) non_null: Vec<NonNullAs>,
}

impl MapTable {
    pub(crate) fn new(req_maps: &[MapSpec]) -> Self {
        let mut maps = req_maps.to_vec();
        let mut non_null = Vec::with_capacity(maps.len());
        for m in req_maps {
            let kind = match (m.map_type, &m.inner) {
                (MapType::ARRAY_OF_MAPS | MapType::HASH_OF_MAPS, Some(inner)) => {
                    let idx = MapIdx(u32::try_from(maps.len()).unwrap_or(u32::MAX));
                    // `bpf_map_meta_alloc` copies no name.
                    let mut meta = MapSpec::clone(inner);
                    meta.name = String::new();
                    meta.inner = None;
                    maps.push(meta);
                    NonNullAs::InnerMap(idx)
                }
                (MapType::XSKMAP, _) => NonNullAs::XdpSock,
                _ => NonNullAs::Value,
            };
            non_null.push(kind);
        }
        // The metas are not map-in-maps themselves (one level only).
        non_null.resize(maps.len(), NonNullAs::Value);
        Self { maps, non_null }
    }
}

/// `mark_ptr_not_null_reg` for a map lookup result of `map` that is not
/// NULL.
pub(super) fn not_null_map_value(reg: &mut RegState, non_null: &[NonNullAs], map: MapIdx) {
    match non_null.get(map.0 as usize) {
        Some(NonNullAs::InnerMap(inner)) => *reg = RegState::ConstPtrToMap { map: *inner },
        Some(NonNullAs::XdpSock) => {
            let id = match reg {
                RegState::PtrToMapValue { id, .. } => *id,
                _ => 0,
            };
            *reg = RegState::PtrToXdpSock(crate::state::PtrFields::fresh(id, false));
        }
        _ => {}
    }
}

/// `mark_ptr_not_null_reg` alone (a maybe-NULL pointer found equal to
/// one that is not NULL): the register keeps its id. False for a kind
/// whose non-NULL form would need an id the state does not carry (a
/// map pointer's).
pub(super) fn mark_not_null_keep_id(reg: &mut RegState, non_null: &[NonNullAs]) -> bool {
    match reg {
        RegState::PtrToMapValue {
            maybe_null,
            map,
            id,
            ..
        } => {
            let map = *map;
            if *id != 0 && matches!(non_null.get(map.0 as usize), Some(NonNullAs::InnerMap(_))) {
                return false;
            }
            *maybe_null = false;
            not_null_map_value(reg, non_null, map);
            true
        }
        RegState::PtrToMem { ptr, .. } => {
            ptr.maybe_null = false;
            true
        }
        _ => false,
    }
}

impl Checker<'_> {
    /// Whether helper `id` is a lookup in the XDP socket map `map` that
    /// gives the socket at once (`xdp_sock_or_null`, with
    /// `Features::sockmap_lookup_socket`).
    pub(super) fn xsk_lookup_gives_sock(&self, id: u32, map: Option<MapIdx>) -> bool {
        id == MAP_LOOKUP
            && self.profile.features.sockmap_lookup_socket
            && map.is_some_and(|m| self.non_null.get(m.0 as usize) == Some(&NonNullAs::XdpSock))
    }

    /// The inner map's meta map when `map` is a map-in-map and this
    /// kernel's lookups in it give that map at once.
    pub(super) fn inner_map_of(&self, map: Option<MapIdx>) -> Option<MapIdx> {
        if !self.profile.features.map_in_map_lookup_map_ptr {
            return None;
        }
        match self.non_null.get(map?.0 as usize) {
            Some(NonNullAs::InnerMap(inner)) => Some(*inner),
            _ => None,
        }
    }

    /// `R0` of a lookup in a map-in-map (on kernels with
    /// `map_in_map_lookup_map_ptr`): the inner map, maybe NULL, with a
    /// fresh id.
    pub(super) fn map_in_map_lookup_ret(&mut self, map: Option<MapIdx>) -> Result<RegState, Stop> {
        let Some(inner) = self.inner_map_of(map) else {
            return Err(self.unsupported("map-in-map lookups without an inner map"));
        };
        Ok(RegState::ConstPtrToMapOrNull {
            map: inner,
            id: self.new_id(),
        })
    }

    /// Whether a lookup in `map` is modelled: a map-in-map whose inner
    /// map has no special fields (a timer or workqueue there would give
    /// the result a `map_uid`, which the state does not carry), or an
    /// XDP socket map.
    pub(super) fn lookup_modelled(&self, map: MapIdx) -> Result<bool, Stop> {
        match self.non_null.get(map.0 as usize) {
            Some(NonNullAs::InnerMap(inner)) => {
                if self
                    .map_fields
                    .get(inner.0 as usize)
                    .is_some_and(|f| !f.is_empty())
                {
                    return Err(
                        self.unsupported("map-in-map inner maps with BTF special fields (map_uid)")
                    );
                }
                Ok(true)
            }
            Some(NonNullAs::XdpSock) => Ok(true),
            _ => Ok(false),
        }
    }
}
