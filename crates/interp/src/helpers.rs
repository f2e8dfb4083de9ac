//! The helpers generated programs call.

use bpfcheck_uapi::RegNo;

use crate::error::Fault;
use crate::exec::Machine;
use crate::mem::{RegionKind, Value};

/// `BPF_FUNC_map_lookup_elem`.
pub const MAP_LOOKUP_ELEM: i32 = 1;
/// `BPF_FUNC_map_update_elem`.
pub const MAP_UPDATE_ELEM: i32 = 2;
/// `BPF_FUNC_map_delete_elem`.
pub const MAP_DELETE_ELEM: i32 = 3;
/// `BPF_FUNC_ktime_get_ns`.
pub const KTIME_GET_NS: i32 = 5;
/// `BPF_FUNC_trace_printk`.
pub const TRACE_PRINTK: i32 = 6;
/// `BPF_FUNC_get_prandom_u32`.
pub const GET_PRANDOM_U32: i32 = 7;
/// `BPF_FUNC_get_smp_processor_id`.
pub const GET_SMP_PROCESSOR_ID: i32 = 8;

/// Helper ids the interpreter executes.
pub const MODELLED_HELPERS: &[i32] = &[
    MAP_LOOKUP_ELEM,
    MAP_UPDATE_ELEM,
    MAP_DELETE_ELEM,
    KTIME_GET_NS,
    TRACE_PRINTK,
    GET_PRANDOM_U32,
    GET_SMP_PROCESSOR_ID,
];

impl Machine<'_> {
    pub(crate) fn helper(&mut self, id: i32) -> Result<Value, Fault> {
        let r0 = match id {
            MAP_LOOKUP_ELEM => {
                let map = self.map_arg(RegNo(1))?;
                let key = self.arg_bytes(RegNo(2), self.map_ref(map)?.key_size())?;
                match self.map_ref(map)?.lookup(&key) {
                    Some(region) => Value::pointer(region, 0),
                    None => Value::scalar(0),
                }
            }
            MAP_UPDATE_ELEM => {
                let map = self.map_arg(RegNo(1))?;
                let m = self.map_ref(map)?;
                let (ks, vs) = (m.key_size(), m.value_size());
                let key = self.arg_bytes(RegNo(2), ks)?;
                let value = self.arg_bytes(RegNo(3), vs)?;
                let flags = self.read(RegNo(4))?.bits;
                let m = self
                    .maps
                    .get_mut(map as usize)
                    .and_then(Option::as_mut)
                    .ok_or(Fault::UnsupportedMap(map))?;
                Value::scalar(m.update(&key, &value, flags, &mut self.mem)? as u64)
            }
            MAP_DELETE_ELEM => {
                let map = self.map_arg(RegNo(1))?;
                let key = self.arg_bytes(RegNo(2), self.map_ref(map)?.key_size())?;
                let m = self
                    .maps
                    .get_mut(map as usize)
                    .and_then(Option::as_mut)
                    .ok_or(Fault::UnsupportedMap(map))?;
                Value::scalar(m.delete(&key) as u64)
            }
            KTIME_GET_NS => Value::scalar(self.ktime_ns()),
            TRACE_PRINTK => Value::scalar(self.trace_printk()? as u64),
            GET_PRANDOM_U32 => Value::scalar(u64::from(self.next_prandom())),
            GET_SMP_PROCESSOR_ID => Value::scalar(0),
            _ => return Err(Fault::UnsupportedHelper(id)),
        };
        Ok(r0)
    }

    /// The map index a register points at.
    fn map_arg(&self, r: RegNo) -> Result<u32, Fault> {
        let v = self.read(r)?;
        let region = v.region.ok_or(Fault::NotAMap(r))?;
        match self.mem.region(region).map(|reg| reg.kind) {
            Some(RegionKind::MapObject { map }) => Ok(map),
            _ => Err(Fault::NotAMap(r)),
        }
    }

    fn map_ref(&self, map: u32) -> Result<&crate::maps::Map, Fault> {
        self.maps
            .get(map as usize)
            .and_then(Option::as_ref)
            .ok_or(Fault::UnsupportedMap(map))
    }

    fn arg_bytes(&mut self, r: RegNo, len: usize) -> Result<Vec<u8>, Fault> {
        let addr = self.read(r)?.bits;
        Ok(self.mem.read_bytes(addr, len)?.to_vec())
    }

    /// `bpf_trace_printk(fmt, size, ...)`: nothing is printed; returns the
    /// length of the format string, which is what the kernel returns for a
    /// format without conversions (conversions are not expanded), or
    /// -EINVAL when `fmt` has no NUL within `size` bytes.
    fn trace_printk(&mut self) -> Result<i64, Fault> {
        let size = self.read(RegNo(2))?.bits;
        let size = usize::try_from(size).map_err(|_| Fault::OutOfBounds {
            addr: self.read(RegNo(1)).map_or(0, |v| v.bits),
            size: u8::MAX,
        })?;
        let fmt = self.arg_bytes(RegNo(1), size)?;
        Ok(match fmt.iter().position(|b| *b == 0) {
            Some(n) => n as i64,
            None => -22,
        })
    }

    /// xorshift64*: deterministic from the configured seed.
    fn next_prandom(&mut self) -> u32 {
        let mut x = self.prandom_state | 1;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.prandom_state = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}
