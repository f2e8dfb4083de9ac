//! Array and hash maps, their elements being regions of the sandbox.

use std::collections::HashMap;

use bpfcheck_uapi::{MapSpec, MapType};

use crate::error::Fault;
use crate::mem::{Memory, RegionId, RegionKind};

/// Largest map (entries × value size) the interpreter allocates up front.
const MAX_ARRAY_BYTES: u64 = 1 << 22;

/// `BPF_NOEXIST`: create only.
const BPF_NOEXIST: u64 = 1;
/// `BPF_EXIST`: update only.
const BPF_EXIST: u64 = 2;

const ENOENT: i64 = 2;
const E2BIG: i64 = 7;
const EEXIST: i64 = 17;
const EINVAL: i64 = 22;

#[derive(Clone, Debug)]
enum Elems {
    /// Every index has an element from the start, zeroed or the spec's
    /// initial value.
    Array(Vec<RegionId>),
    Hash(HashMap<Vec<u8>, RegionId>),
}

/// One map of the load request.
#[derive(Clone, Debug)]
pub(crate) struct Map {
    index: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    elems: Elems,
    /// The region `ld_imm64 map_fd` points at.
    pub(crate) object: RegionId,
}

impl Map {
    /// Creates map `index` of the request in `mem`.
    pub(crate) fn create(index: u32, spec: &MapSpec, mem: &mut Memory) -> Result<Self, Fault> {
        let unsupported = Fault::UnsupportedMap(index);
        let object = mem
            .add(RegionKind::MapObject { map: index }, Vec::new(), false)
            .ok_or_else(|| unsupported.clone())?;
        let value_size = spec.value_size as usize;
        let elems = match spec.map_type {
            MapType::ARRAY => {
                if u64::from(spec.max_entries) * u64::from(spec.value_size) > MAX_ARRAY_BYTES {
                    return Err(unsupported);
                }
                let mut init = vec![0u8; value_size];
                if let Some(v) = &spec.initial_value {
                    let n = v.len().min(value_size);
                    init[..n].copy_from_slice(&v[..n]);
                }
                let mut ids = Vec::with_capacity(spec.max_entries as usize);
                for _ in 0..spec.max_entries {
                    let kind = RegionKind::MapValue { map: index };
                    let id = mem
                        .add(kind, init.clone(), true)
                        .ok_or_else(|| unsupported.clone())?;
                    ids.push(id);
                }
                Elems::Array(ids)
            }
            MapType::HASH => Elems::Hash(HashMap::new()),
            _ => return Err(unsupported),
        };
        Ok(Self {
            index,
            key_size: spec.key_size,
            value_size: spec.value_size,
            max_entries: spec.max_entries,
            elems,
            object,
        })
    }

    /// Bytes of a key.
    pub(crate) fn key_size(&self) -> usize {
        self.key_size as usize
    }

    /// Bytes of a value.
    pub(crate) fn value_size(&self) -> usize {
        self.value_size as usize
    }

    /// Element 0 of an array map, for direct value addressing.
    pub(crate) fn first_value(&self) -> Result<RegionId, Fault> {
        match &self.elems {
            Elems::Array(ids) => ids
                .first()
                .copied()
                .ok_or(Fault::UnsupportedMap(self.index)),
            Elems::Hash(_) => Err(Fault::UnsupportedMap(self.index)),
        }
    }

    /// `bpf_map_lookup_elem`: the element's region, if present.
    pub(crate) fn lookup(&self, key: &[u8]) -> Option<RegionId> {
        match &self.elems {
            Elems::Array(ids) => ids.get(array_index(key)? as usize).copied(),
            Elems::Hash(h) => h.get(key).copied(),
        }
    }

    /// `bpf_map_update_elem`: 0 or a negative errno.
    pub(crate) fn update(
        &mut self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        mem: &mut Memory,
    ) -> Result<i64, Fault> {
        if flags > BPF_EXIST {
            return Ok(-EINVAL);
        }
        let index = self.index;
        match &mut self.elems {
            Elems::Array(ids) => {
                let Some(&id) = array_index(key).and_then(|i| ids.get(i as usize)) else {
                    return Ok(-E2BIG);
                };
                if flags == BPF_NOEXIST {
                    // Array elements always exist.
                    return Ok(-EEXIST);
                }
                copy_value(mem, id, value);
                Ok(0)
            }
            Elems::Hash(h) => {
                if let Some(&id) = h.get(key) {
                    if flags == BPF_NOEXIST {
                        return Ok(-EEXIST);
                    }
                    copy_value(mem, id, value);
                    return Ok(0);
                }
                if flags == BPF_EXIST {
                    return Ok(-ENOENT);
                }
                if h.len() >= self.max_entries as usize {
                    return Ok(-E2BIG);
                }
                let kind = RegionKind::MapValue { map: index };
                let id = mem
                    .add(kind, value.to_vec(), true)
                    .ok_or(Fault::UnsupportedMap(index))?;
                h.insert(key.to_vec(), id);
                Ok(0)
            }
        }
    }

    /// `bpf_map_delete_elem`: 0 or a negative errno. A deleted hash
    /// element's memory stays valid, as it does in the kernel until the
    /// RCU grace period after the program ends.
    pub(crate) fn delete(&mut self, key: &[u8]) -> i64 {
        match &mut self.elems {
            Elems::Array(_) => -EINVAL,
            Elems::Hash(h) => match h.remove(key) {
                Some(_) => 0,
                None => -ENOENT,
            },
        }
    }
}

fn array_index(key: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(key.get(..4)?.try_into().ok()?))
}

fn copy_value(mem: &mut Memory, id: RegionId, value: &[u8]) {
    if let Some(r) = mem.region_mut(id) {
        let n = value.len().min(r.bytes.len());
        r.bytes[..n].copy_from_slice(&value[..n]);
    }
}
