//! The [`Kernel`] handle and the single-command operations: maps, BTF,
//! program info and test runs.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use bpfcheck_uapi::{MapSpec, MapType, ProgType, RawInsn, op};

use crate::{
    SysError, Unavailable,
    attr::{
        BpfProgInfo, BtfLoadAttr, InfoByFdAttr, MapCreateAttr, MapElemAttr, MapFreezeAttr,
        ProgLoadAttr, TestRunAttr, obj_name,
    },
    probe::ProcessFacts,
    syscall::{sys_bpf, sys_bpf_fd},
};

/// Log buffer for the second attempt of a failed `BPF_BTF_LOAD`.
const BTF_LOG_SIZE: usize = 1 << 20;

/// Largest log buffer the kernel accepts (`log_size <= UINT_MAX >> 2`).
pub const MAX_LOG_SIZE: usize = (u32::MAX >> 2) as usize;

/// The address of a buffer as the uapi's `__u64`.
pub(crate) fn addr<T>(p: *const T) -> u64 {
    p as usize as u64
}

/// A descriptor as the uapi's `__u32` fd fields.
pub(crate) fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    // Open descriptors are never negative.
    fd.as_raw_fd().cast_unsigned()
}

/// Turns a length into a `__u32` attribute, refusing what does not fit with
/// the errno the kernel uses for oversized input.
pub(crate) fn len_u32(op: &'static str, what: &str, len: usize) -> Result<u32, SysError> {
    u32::try_from(len).map_err(|_| {
        SysError::new(op, libc::E2BIG).context(format!("{what}: {len} does not fit in 32 bits"))
    })
}

/// Proof that `bpf()` works in this process; every operation hangs off it.
#[derive(Clone, Debug)]
pub struct Kernel {
    release: String,
}

impl Kernel {
    /// Checks that `bpf()` is usable by loading the smallest possible
    /// program (`r0 = 0; exit` as a socket filter, no log) and closing it.
    /// On failure, classifies the errno with [`ProcessFacts`] so that the
    /// error says *why* (not root, no `CAP_BPF`, sysctl, seccomp, no
    /// syscall). Set [`crate::NO_KERNEL_ENV`] to force the unavailable path.
    pub fn probe() -> Result<Self, Unavailable> {
        if let Some(u) = Unavailable::disabled_by_environment() {
            return Err(u);
        }
        let insns = encode_insns(&[
            RawInsn::new(op::ALU64 | op::MOV | op::K, 0, 0, 0, 0),
            RawInsn::new(op::JMP | op::EXIT, 0, 0, 0, 0),
        ]);
        let license = c"GPL";
        let mut attr = ProgLoadAttr {
            prog_type: ProgType::SOCKET_FILTER.0,
            insn_cnt: 2,
            insns: addr(insns.as_ptr()),
            license: addr(license.as_ptr()),
            prog_name: obj_name("bpfcheck_probe"),
            ..ProgLoadAttr::default()
        };
        // SAFETY: `insns` (2 encoded slots) and `license` outlive the call; there is
        // no log buffer.
        match unsafe { sys_bpf_fd(&mut attr) } {
            Ok(_fd) => Ok(Self {
                release: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_default(),
            }),
            Err(e) => Err(Unavailable::classify(e.errno, &ProcessFacts::current())),
        }
    }

    /// The running kernel's release string (`uname -r`), empty if unknown.
    pub fn release(&self) -> &str {
        &self.release
    }

    /// Creates a map as a loader does: the inner-map template first for
    /// map-in-map types (closed again once the outer map holds its shape),
    /// then the map; writes `initial_value` at key 0 and freezes it when the
    /// spec says so. BTF type ids are passed only with a `btf` object to
    /// resolve them in; `btf_vmlinux_value_type_id` always.
    pub fn create_map(
        &self,
        spec: &MapSpec,
        btf: Option<BorrowedFd<'_>>,
    ) -> Result<MapFd, SysError> {
        let inner = spec
            .inner
            .as_deref()
            .map(|inner| {
                self.create_map(inner, btf)
                    .map_err(|e| e.context(format!("inner map of `{}`", spec.name)))
            })
            .transpose()?;
        let mut attr = MapCreateAttr {
            map_type: spec.map_type.0,
            key_size: spec.key_size,
            value_size: spec.value_size,
            max_entries: spec.max_entries,
            map_flags: spec.flags,
            inner_map_fd: inner.as_ref().map_or(0, |m| fd_u32(m.as_fd())),
            map_name: obj_name(&spec.name),
            btf_vmlinux_value_type_id: spec.btf_vmlinux_value_type_id,
            map_extra: spec.map_extra,
            ..MapCreateAttr::default()
        };
        // A struct_ops map's value is a kernel type, but the kernel still
        // wants the program's BTF (`map_create`: "the bpf_prog.o must have
        // BTF to begin with"), as libbpf passes it.
        if let Some(btf) = btf
            && (spec.btf_key_type_id != 0
                || spec.btf_value_type_id != 0
                || spec.btf_vmlinux_value_type_id != 0)
        {
            attr.btf_fd = fd_u32(btf);
            attr.btf_key_type_id = spec.btf_key_type_id;
            attr.btf_value_type_id = spec.btf_value_type_id;
        }
        // SAFETY: the map-create member holds no addresses.
        let fd = unsafe { sys_bpf_fd(&mut attr) }?;
        let map = MapFd {
            fd,
            map_type: spec.map_type,
            key_size: spec.key_size,
            value_size: spec.value_size,
        };
        drop(inner);
        if let Some(init) = &spec.initial_value {
            let value = map.initial_value_buffer(init)?;
            let key = vec![0u8; spec.key_size as usize];
            map.update(&key, &value, 0)?;
        }
        if spec.frozen {
            map.freeze()?;
        }
        Ok(map)
    }

    /// Loads a BTF blob (`BPF_BTF_LOAD`). The first attempt has no log; if
    /// it fails, the load is repeated with a log so that the error carries
    /// the kernel's reason in [`SysError::log`].
    pub fn load_btf(&self, data: &[u8]) -> Result<OwnedFd, SysError> {
        let btf_size = len_u32("BPF_BTF_LOAD", "BTF size", data.len())?;
        let mut attr = BtfLoadAttr {
            btf: addr(data.as_ptr()),
            btf_size,
            ..BtfLoadAttr::default()
        };
        // SAFETY: `data` is readable for `btf_size` bytes; no log buffer.
        let first = unsafe { sys_bpf_fd(&mut attr) };
        let Err(err) = first else { return first };
        if err.errno == libc::ENOSYS || err.errno == libc::EPERM {
            return Err(err);
        }
        let mut log = vec![0u8; BTF_LOG_SIZE];
        attr.btf_log_buf = addr(log.as_mut_ptr());
        attr.btf_log_size = BTF_LOG_SIZE as u32;
        attr.btf_log_level = 1;
        // SAFETY: `data` as above; `log` is writable for `btf_log_size` bytes.
        match unsafe { sys_bpf_fd(&mut attr) } {
            Ok(fd) => Ok(fd),
            Err(mut e) => {
                e.log = Some(log_to_string(&log));
                Err(e)
            }
        }
    }

    /// `BPF_OBJ_GET_INFO_BY_FD` for a program.
    pub fn prog_info(&self, prog: BorrowedFd<'_>) -> Result<ProgInfo, SysError> {
        let mut info = BpfProgInfo::default();
        let mut attr = InfoByFdAttr {
            bpf_fd: fd_u32(prog),
            info_len: size_of::<BpfProgInfo>() as u32,
            info: addr(std::ptr::from_mut(&mut info)),
        };
        // SAFETY: `info` is writable for `info_len` bytes and its pointer
        // fields are zero, so the kernel copies no arrays.
        unsafe { sys_bpf(&mut attr) }?;
        Ok(ProgInfo::from_raw(&info))
    }

    /// Runs a loaded program once or `repeat` times (`BPF_PROG_TEST_RUN`).
    pub fn test_run(
        &self,
        prog: BorrowedFd<'_>,
        req: &TestRun<'_>,
    ) -> Result<TestRunOutcome, SysError> {
        const OP: &str = "BPF_PROG_TEST_RUN";
        let mut data_out = vec![0u8; req.data_out_size];
        let mut attr = TestRunAttr {
            prog_fd: fd_u32(prog),
            data_size_in: len_u32(OP, "data_in", req.data_in.len())?,
            data_in: addr(req.data_in.as_ptr()),
            repeat: req.repeat,
            ..TestRunAttr::default()
        };
        if !data_out.is_empty() {
            attr.data_out = addr(data_out.as_mut_ptr());
            attr.data_size_out = len_u32(OP, "data_out", data_out.len())?;
        }
        if let Some(ctx) = req.ctx_in {
            attr.ctx_in = addr(ctx.as_ptr());
            attr.ctx_size_in = len_u32(OP, "ctx_in", ctx.len())?;
        }
        // SAFETY: `data_in` and `ctx_in` are readable and `data_out` writable
        // for the sizes stored next to their addresses.
        unsafe { sys_bpf(&mut attr) }?;
        data_out.truncate(attr.data_size_out as usize);
        Ok(TestRunOutcome {
            retval: attr.retval,
            duration_ns: attr.duration,
            data_out,
        })
    }
}

/// Encodes instructions in the host's byte order, the only one the running
/// kernel accepts.
pub(crate) fn encode_insns(insns: &[RawInsn]) -> Vec<u8> {
    let order = if cfg!(target_endian = "little") {
        bpfcheck_uapi::ByteOrder::Little
    } else {
        bpfcheck_uapi::ByteOrder::Big
    };
    RawInsn::encode_all(insns, order)
}

/// The NUL-terminated text the kernel wrote into a log buffer.
pub(crate) fn log_to_string(buf: &[u8]) -> String {
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A map created by [`Kernel::create_map`]; closed on drop.
#[derive(Debug)]
pub struct MapFd {
    fd: OwnedFd,
    map_type: MapType,
    key_size: u32,
    value_size: u32,
}

impl AsFd for MapFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl MapFd {
    /// The map type it was created with.
    pub fn map_type(&self) -> MapType {
        self.map_type
    }

    /// Bytes `BPF_MAP_UPDATE_ELEM` reads from the value pointer: the value
    /// size, or for per-CPU maps the value size rounded up to 8 times the
    /// number of possible CPUs.
    pub fn value_buffer_size(&self) -> Result<usize, SysError> {
        let per_cpu = matches!(
            self.map_type,
            MapType::PERCPU_HASH
                | MapType::PERCPU_ARRAY
                | MapType::LRU_PERCPU_HASH
                | MapType::PERCPU_CGROUP_STORAGE
        );
        if !per_cpu {
            return Ok(self.value_size as usize);
        }
        let cpus = possible_cpus().ok_or_else(|| {
            SysError::new("BPF_MAP_UPDATE_ELEM", libc::EINVAL)
                .context("cannot read /sys/devices/system/cpu/possible for a per-CPU value")
        })?;
        Ok((self.value_size as usize).next_multiple_of(8) * cpus)
    }

    /// `BPF_MAP_UPDATE_ELEM`. The key must be `key_size` bytes and the value
    /// [`Self::value_buffer_size`] bytes, because the kernel reads exactly
    /// that many; anything else is refused with `EINVAL` before the call.
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), SysError> {
        const OP: &str = "BPF_MAP_UPDATE_ELEM";
        let want = self.value_buffer_size()?;
        if key.len() != self.key_size as usize || value.len() != want {
            return Err(SysError::new(OP, libc::EINVAL).context(format!(
                "key of {} bytes and value of {} bytes for a map with key_size {} and value buffer {want}",
                key.len(),
                value.len(),
                self.key_size
            )));
        }
        let mut attr = MapElemAttr {
            map_fd: fd_u32(self.fd.as_fd()),
            key: addr(key.as_ptr()),
            value: addr(value.as_ptr()),
            flags,
            ..MapElemAttr::default()
        };
        // SAFETY: `key` and `value` are readable for the sizes the kernel
        // reads for this map (checked above).
        unsafe { sys_bpf(&mut attr) }.map(drop)
    }

    /// `BPF_MAP_FREEZE`: no more writes from user space.
    pub fn freeze(&self) -> Result<(), SysError> {
        let mut attr = MapFreezeAttr {
            map_fd: fd_u32(self.fd.as_fd()),
        };
        // SAFETY: the freeze member holds no addresses.
        unsafe { sys_bpf(&mut attr) }.map(drop)
    }

    /// The value to write for a spec's `initial_value`: zero-padded to the
    /// value size (and repeated per CPU for per-CPU maps).
    fn initial_value_buffer(&self, init: &[u8]) -> Result<Vec<u8>, SysError> {
        let size = self.value_size as usize;
        if init.len() > size {
            return Err(
                SysError::new("BPF_MAP_UPDATE_ELEM", libc::E2BIG).context(format!(
                    "initial value of {} bytes for value_size {size}",
                    init.len()
                )),
            );
        }
        let total = self.value_buffer_size()?;
        let stride = if total == size {
            size
        } else {
            size.next_multiple_of(8)
        };
        let mut buf = vec![0u8; total];
        for chunk in buf.chunks_mut(stride.max(1)) {
            chunk[..init.len()].copy_from_slice(init);
        }
        Ok(buf)
    }
}

/// Number of possible CPUs from `/sys/devices/system/cpu/possible`
/// (`0-3`, `0,2-5`).
fn possible_cpus() -> Option<usize> {
    parse_cpu_list(
        std::fs::read_to_string("/sys/devices/system/cpu/possible")
            .ok()?
            .trim(),
    )
}

fn parse_cpu_list(s: &str) -> Option<usize> {
    let mut n = 0usize;
    for part in s.split(',') {
        n += match part.split_once('-') {
            Some((a, b)) => b.parse::<usize>().ok()?.checked_sub(a.parse().ok()?)? + 1,
            None => part.parse::<usize>().map(|_| 1).ok()?,
        };
    }
    (n > 0).then_some(n)
}

/// The scalar part of `struct bpf_prog_info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgInfo {
    /// Program type.
    pub prog_type: ProgType,
    /// Kernel-wide program id.
    pub id: u32,
    /// `prog_name` as the kernel stored it.
    pub name: String,
    /// The program tag (hash of the instructions).
    pub tag: [u8; 8],
    /// Instructions the verifier processed (`verified_insns`, 5.16+).
    pub verified_insns: u32,
    /// Size of the translated program in bytes (8 per instruction).
    pub xlated_prog_len: u32,
    /// Size of the JITed image in bytes (0 without JIT).
    pub jited_prog_len: u32,
    /// Whether the license is GPL-compatible.
    pub gpl_compatible: bool,
    /// Id of the program's BTF object, 0 when none.
    pub btf_id: u32,
}

impl ProgInfo {
    fn from_raw(raw: &BpfProgInfo) -> Self {
        Self {
            prog_type: ProgType(raw.prog_type),
            id: raw.id,
            name: log_to_string(&raw.name),
            tag: raw.tag,
            verified_insns: raw.verified_insns,
            xlated_prog_len: raw.xlated_prog_len,
            jited_prog_len: raw.jited_prog_len,
            gpl_compatible: raw.gpl_compatible(),
            btf_id: raw.btf_id,
        }
    }
}

/// Input of [`Kernel::test_run`].
#[derive(Clone, Debug, Default)]
pub struct TestRun<'a> {
    /// Packet data (`data_in`); socket filters and XDP need at least an
    /// Ethernet header (14 bytes).
    pub data_in: &'a [u8],
    /// Context (`ctx_in`), for the program types that take one.
    pub ctx_in: Option<&'a [u8]>,
    /// Run count (`repeat`; 0 means 1).
    pub repeat: u32,
    /// Capacity for the output packet; 0 for none.
    pub data_out_size: usize,
}

/// Output of [`Kernel::test_run`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRunOutcome {
    /// The program's return value.
    pub retval: u32,
    /// Average duration of one run in nanoseconds.
    pub duration_ns: u32,
    /// The output packet, as long as the kernel reported.
    pub data_out: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0"), Some(1));
        assert_eq!(parse_cpu_list("0-3"), Some(4));
        assert_eq!(parse_cpu_list("0,2-5"), Some(5));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list(""), None);
    }

    #[test]
    fn log_text_stops_at_nul() {
        assert_eq!(log_to_string(b"abc\n\0junk"), "abc\n");
        assert_eq!(log_to_string(b"abc"), "abc");
    }
}
