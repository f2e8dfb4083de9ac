//! `bpf_map_lookup_elem` on a socket map or hash (`is_acquire_function`
//! with such a map): the result may be NULL and holds a reference to the
//! socket it found, which the program must release (`bpf_sk_release`);
//! the NULL branch of its check drops the reference. On 6.12 it is a map
//! value until null-checked (`mark_ptr_not_null_reg` makes it the
//! socket); the live 6.18 build gives the socket at once
//! (`Features::sockmap_lookup_socket`).

use bpfcheck_uapi::{MapSpec, MapType};

use super::Checker;
use crate::error::Stop;
use crate::state::{MapIdx, RegState};

/// `BPF_FUNC_map_lookup_elem`.
const MAP_LOOKUP: u32 = 1;

/// Map types whose lookups hand out referenced sockets.
pub(super) fn holds_sockets(t: MapType) -> bool {
    matches!(t, MapType::SOCKMAP | MapType::SOCKHASH)
}

/// Whether helper `id` called with `map` is a socket map lookup.
pub(super) fn is_lookup(id: u32, map: Option<MapIdx>, maps: &[MapSpec]) -> bool {
    id == MAP_LOOKUP
        && map
            .and_then(|m| maps.get(m.0 as usize))
            .is_some_and(|m| holds_sockets(m.map_type))
}

impl Checker<'_> {
    /// `R0` of a socket map lookup: a fresh nullness id, then the
    /// reference acquired, whose id it takes.
    pub(super) fn sock_map_lookup_ret(&mut self, map: Option<MapIdx>) -> Result<RegState, Stop> {
        let Some(map) = map else {
            return Err(self.unsupported("map value returns without a map argument"));
        };
        let _ = self.new_id();
        let id = self.new_id();
        self.cur.refs.acquire(id, self.insn_idx);
        let mut ptr = crate::state::PtrFields::fresh(id, true);
        ptr.ref_obj_id = id;
        if self.profile.features.sockmap_lookup_socket {
            return Ok(RegState::PtrToSocket(ptr));
        }
        Ok(RegState::PtrToSockMapValue { map, ptr })
    }
}
