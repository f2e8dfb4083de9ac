//! The sandboxed address space.
//!
//! Every byte a program can touch lives in a [`Region`]: a stack frame, the
//! context, the packet, a map value. Region `i` occupies the addresses
//! `(i + 1) << 32 ..` so that pointer arithmetic is plain integer
//! arithmetic, NULL (0) is in no region, and an access that strays out of
//! its region (or straddles two) is detected by looking at the address
//! alone. Map objects are regions of size 0: they can be passed to helpers
//! but never dereferenced.
//!
//! Memory is little-endian. Pointers stored to memory as 8-byte values keep
//! their provenance, so a spilled and filled pointer is still known to be
//! one (the soundness check needs to know which registers hold scalars).

use std::collections::HashMap;

use crate::error::Fault;

/// Index of a region.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct RegionId(pub u32);

impl RegionId {
    /// The address of byte `off` of this region.
    pub const fn addr(self, off: u32) -> u64 {
        ((self.0 as u64 + 1) << 32) | off as u64
    }
}

/// What a region holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RegionKind {
    /// The 512-byte stack of call depth `n` (0 is the main program).
    Stack(u8),
    /// The context the program was called with.
    Ctx,
    /// Packet data (`data` .. `data_end`).
    Packet,
    /// The value of an element of map `map`.
    MapValue {
        /// Index of the map in the load request.
        map: u32,
    },
    /// A map itself (what `ld_imm64 map_fd` loads); not dereferenceable.
    MapObject {
        /// Index of the map in the load request.
        map: u32,
    },
}

/// One contiguous, bounds-checked byte range.
#[derive(Clone, Debug)]
pub struct Region {
    /// What it is.
    pub kind: RegionKind,
    /// Its contents.
    pub bytes: Vec<u8>,
    /// Whether stores are allowed.
    pub writable: bool,
    /// For stacks, which bytes were written since the frame was entered;
    /// `None` for regions whose every byte starts defined.
    pub written: Option<Vec<bool>>,
}

/// A register or memory word: the number and, when it is a pointer, the
/// region it was derived from.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Value {
    /// The 64 bits.
    pub bits: u64,
    /// The region of a pointer; `None` for scalars.
    pub region: Option<RegionId>,
}

impl Value {
    /// A scalar.
    pub const fn scalar(bits: u64) -> Self {
        Self { bits, region: None }
    }

    /// A pointer to byte `off` of `region`.
    pub const fn pointer(region: RegionId, off: u32) -> Self {
        Self {
            bits: region.addr(off),
            region: Some(region),
        }
    }
}

/// All regions, and the provenance of pointers stored in them.
#[derive(Clone, Debug, Default)]
pub struct Memory {
    regions: Vec<Region>,
    /// Pointer provenance of 8-byte stores, by address.
    spilled: HashMap<u64, RegionId>,
    /// Loads that read a stack byte never written. Privileged programs may
    /// do that; the kernel's stack then holds whatever was there before,
    /// which the sandbox (zero-filled) cannot reproduce.
    pub uninit_reads: u64,
}

impl Memory {
    /// Adds a region and returns its id, or `None` when the 32-bit region
    /// space is exhausted.
    pub fn add(&mut self, kind: RegionKind, bytes: Vec<u8>, writable: bool) -> Option<RegionId> {
        let id = RegionId(u32::try_from(self.regions.len()).ok()?);
        if id.0 == u32::MAX || u32::try_from(bytes.len()).is_err() {
            return None;
        }
        let written = matches!(kind, RegionKind::Stack(_)).then(|| vec![false; bytes.len()]);
        self.regions.push(Region {
            kind,
            bytes,
            writable,
            written,
        });
        Some(id)
    }

    /// The region with this id.
    pub fn region(&self, id: RegionId) -> Option<&Region> {
        self.regions.get(id.0 as usize)
    }

    /// The region with this id, mutably.
    pub fn region_mut(&mut self, id: RegionId) -> Option<&mut Region> {
        self.regions.get_mut(id.0 as usize)
    }

    /// The region and offset of `addr` if `size` bytes from there lie inside
    /// one region.
    pub fn locate(&self, addr: u64, size: usize) -> Result<(RegionId, usize), Fault> {
        let oob = Fault::OutOfBounds {
            addr,
            size: u8::try_from(size).unwrap_or(u8::MAX),
        };
        let Some(idx) = (addr >> 32).checked_sub(1) else {
            return Err(oob);
        };
        let id = RegionId(u32::try_from(idx).map_err(|_| oob.clone())?);
        let off = (addr & 0xffff_ffff) as usize;
        match self.region(id) {
            Some(r)
                if off
                    .checked_add(size)
                    .is_some_and(|end| end <= r.bytes.len()) =>
            {
                Ok((id, off))
            }
            _ => Err(oob),
        }
    }

    /// Reads `size` (1, 2, 4 or 8) bytes at `addr`, zero-extended, with
    /// the provenance of an 8-byte pointer stored there.
    pub fn load(&mut self, addr: u64, size: usize) -> Result<Value, Fault> {
        let bytes = self.read_bytes(addr, size)?;
        let mut buf = [0u8; 8];
        buf[..size].copy_from_slice(bytes);
        let bits = u64::from_le_bytes(buf);
        let region = if size == 8 {
            self.spilled.get(&addr).copied()
        } else {
            None
        };
        Ok(Value { bits, region })
    }

    /// Writes the low `size` bytes of `v` at `addr`.
    pub fn store(&mut self, addr: u64, size: usize, v: Value) -> Result<(), Fault> {
        let bytes = v.bits.to_le_bytes();
        self.write_bytes(addr, &bytes[..size.min(8)])?;
        if size == 8
            && let Some(r) = v.region
        {
            self.spilled.insert(addr, r);
        }
        Ok(())
    }

    /// `len` bytes at `addr`.
    pub fn read_bytes(&mut self, addr: u64, len: usize) -> Result<&[u8], Fault> {
        let (id, off) = self.locate(addr, len)?;
        let r = &self.regions[id.0 as usize];
        if r.written
            .as_ref()
            .is_some_and(|w| w[off..off + len].contains(&false))
        {
            self.uninit_reads += 1;
        }
        Ok(&r.bytes[off..off + len])
    }

    /// Overwrites bytes at `addr`, forgetting the provenance of any pointer
    /// the write overlaps.
    pub fn write_bytes(&mut self, addr: u64, data: &[u8]) -> Result<(), Fault> {
        let (id, off) = self.locate(addr, data.len())?;
        let r = &mut self.regions[id.0 as usize];
        if !r.writable {
            return Err(Fault::ReadOnly { addr });
        }
        r.bytes[off..off + data.len()].copy_from_slice(data);
        if let Some(w) = r.written.as_mut() {
            w[off..off + data.len()].fill(true);
        }
        if !self.spilled.is_empty() {
            let first = addr.saturating_sub(7);
            for a in first..addr + data.len() as u64 {
                self.spilled.remove(&a);
            }
        }
        Ok(())
    }

    /// Zeroes a region and forgets the pointers stored in it (a stack frame
    /// being reused by a new call).
    pub fn clear(&mut self, id: RegionId) {
        if let Some(r) = self.regions.get_mut(id.0 as usize) {
            r.bytes.fill(0);
            if let Some(w) = r.written.as_mut() {
                w.fill(false);
            }
            let lo = id.addr(0);
            let hi = lo + r.bytes.len() as u64;
            self.spilled.retain(|a, _| !(lo..hi).contains(a));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_provenance() {
        let mut m = Memory::default();
        let s = m.add(RegionKind::Stack(0), vec![0; 16], true).unwrap();
        let o = m
            .add(RegionKind::MapObject { map: 0 }, Vec::new(), false)
            .unwrap();
        assert!(m.load(0, 1).is_err());
        assert!(m.load(s.addr(9), 8).is_err());
        assert!(m.load(s.addr(8), 8).is_ok());
        assert!(m.load(o.addr(0), 1).is_err());
        m.store(s.addr(0), 8, Value::pointer(o, 0)).unwrap();
        assert_eq!(m.load(s.addr(0), 8).unwrap().region, Some(o));
        m.store(s.addr(3), 1, Value::scalar(1)).unwrap();
        assert_eq!(m.load(s.addr(0), 8).unwrap().region, None);
    }
}
