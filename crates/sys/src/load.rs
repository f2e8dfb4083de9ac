//! [`Kernel::load`]: what a loader does with an fd-free
//! [`LoadRequest`], ending in `BPF_PROG_LOAD` with a verifier log.

use std::{
    ffi::CString,
    os::fd::{AsFd, AsRawFd, OwnedFd},
};

use bpfcheck_uapi::{FdRef, LoadRequest, RawInsn, VerifierStats, op};

use crate::{
    Kernel, SysError,
    attr::{Attr, BPF_LOG_FIXED, ProgLoadAttr, obj_name},
    kernel::{MAX_LOG_SIZE, MapFd, addr, encode_insns, fd_u32, len_u32, log_to_string},
    log::error_line,
    syscall::sys_bpf_fd,
};

const OP: &str = "BPF_PROG_LOAD";

/// Default log buffer: 1 MiB, enough for the level-2 logs of most programs;
/// a larger log is fetched by the retry (6.4+ kernels report the size they
/// need). Kept moderate on purpose: once glibc has freed one buffer of many
/// megabytes it serves the next from the heap and must zero it all, which
/// made every load pay for 16 MiB of memset.
pub const DEFAULT_LOG_SIZE: usize = 1 << 20;

/// How the verifier log is requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// `log_level` (1: errors and states at branches, 2: every instruction,
    /// 4: statistics; may be combined). 0 asks for no log at all.
    pub log_level: u32,
    /// Size of the first log buffer. 0 with a non-zero level passes no
    /// buffer, which 6.4+ kernels treat as a size query (the program loads,
    /// `log_true_size` is set, no text is returned).
    pub log_size: usize,
    /// Adds `BPF_LOG_FIXED`: an overflowing log keeps its head rather than
    /// its tail (6.4+; before that the log was always fixed).
    pub fixed_log: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            log_level: 1,
            log_size: DEFAULT_LOG_SIZE,
            fixed_log: false,
        }
    }
}

/// What the kernel said about a program, and everything created to load it.
/// The program, maps and BTF objects are closed when this is dropped.
#[derive(Debug)]
pub struct LoadOutcome {
    /// Whether `BPF_PROG_LOAD` returned a program fd.
    pub accepted: bool,
    /// The errno of a rejected load.
    pub errno: Option<i32>,
    /// The complete verifier log (empty with log level 0).
    pub log: String,
    /// `log_true_size` of the last attempt: the bytes the whole log needs,
    /// terminating NUL included (0 on kernels before 6.4 or at level 0).
    pub log_true_size: u32,
    /// Whether the first attempt's buffer was too small (`ENOSPC`) and the
    /// load was repeated with a buffer of `log_true_size + 1` bytes.
    pub log_retried: bool,
    /// The attribute size passed to `BPF_PROG_LOAD` (see [`Attr::wire_size`]).
    pub attr_size: usize,
    /// The statistics trailer, when the log has one.
    pub stats: Option<VerifierStats>,
    /// For a rejected load, the verifier's error line (see
    /// [`error_line`](crate::error_line) for the rule).
    pub error_line: Option<String>,
    /// `verified_insns` of the accepted program.
    pub verified_insns: Option<u32>,
    /// `xlated_prog_len` (bytes) of the accepted program, after the
    /// verifier's rewrites.
    pub xlated_len: Option<u32>,
    /// The accepted program.
    pub prog_fd: Option<OwnedFd>,
    maps: Vec<MapFd>,
    btf: Vec<OwnedFd>,
}

impl LoadOutcome {
    /// The map created for `LoadRequest::maps[index]`.
    pub fn map(&self, index: usize) -> Option<&MapFd> {
        self.maps.get(index)
    }

    /// The program's BTF object and then each of `btf_objects`, in order.
    pub fn btf_fds(&self) -> &[OwnedFd] {
        &self.btf
    }
}

impl Kernel {
    /// Loads a program as a loader would:
    ///
    /// 1. `prog_btf` with `BPF_BTF_LOAD`;
    /// 2. each map of `maps` ([`Kernel::create_map`]: inner template,
    ///    initial value, freeze), with the program's BTF for its type ids;
    /// 3. each of `btf_objects`;
    /// 4. `fd_array` from the [`FdRef`]s (an index that names nothing
    ///    becomes -1, which the kernel rejects as a bad fd);
    /// 5. a copy of the instructions where every `ld_imm64` with
    ///    `BPF_PSEUDO_MAP_FD` or `BPF_PSEUDO_MAP_VALUE` gets the fd of map
    ///    `imm` (an `imm` that names no map is left alone, so the kernel's
    ///    own error shows; `MAP_IDX`/`MAP_IDX_VALUE` index `fd_array` and are
    ///    kept);
    /// 6. `BPF_PROG_LOAD` with the log of `opts`, repeated once with a buffer
    ///    of `log_true_size + 1` bytes when the log did not fit.
    ///
    /// A rejected program is an `Ok` outcome with `accepted == false`;
    /// `Err` means a step before the verifier failed (the request is
    /// malformed, or a map or BTF object could not be created).
    pub fn load(&self, req: &LoadRequest, opts: &LoadOptions) -> Result<LoadOutcome, SysError> {
        if opts.log_size > MAX_LOG_SIZE {
            return Err(SysError::new(OP, libc::EINVAL).context(format!(
                "log_size {} exceeds the kernel's limit {MAX_LOG_SIZE}",
                opts.log_size
            )));
        }
        let mut btf = Vec::new();
        let prog_btf = match &req.prog_btf {
            Some(data) => {
                btf.push(self.load_btf(data).map_err(|e| e.context("program BTF"))?);
                Some(0)
            }
            None => None,
        };
        let mut maps = Vec::with_capacity(req.maps.len());
        for (i, spec) in req.maps.iter().enumerate() {
            let btf_fd = prog_btf.map(|i| btf[i].as_fd());
            let map = self
                .create_map(spec, btf_fd)
                .map_err(|e| e.context(format!("map {i} `{}`", spec.name)))?;
            maps.push(map);
        }
        let first_object = btf.len();
        for (i, data) in req.btf_objects.iter().enumerate() {
            btf.push(
                self.load_btf(data)
                    .map_err(|e| e.context(format!("BTF object {i}")))?,
            );
        }
        let objects = &btf[first_object..];

        let fd_array: Option<Vec<i32>> = req.fd_array.as_ref().map(|refs| {
            refs.iter()
                .map(|r| match *r {
                    FdRef::Map(i) => maps.get(i as usize).map_or(-1, |m| m.as_fd().as_raw_fd()),
                    FdRef::Btf(i) => objects.get(i as usize).map_or(-1, |b| b.as_raw_fd()),
                    FdRef::Raw(fd) => fd,
                })
                .collect()
        });
        if let Some(arr) = &fd_array
            && req.fd_array_cnt as usize > arr.len()
        {
            // The kernel would read past the array; refuse rather than let
            // it read unrelated memory.
            return Err(SysError::new(OP, libc::EINVAL).context(format!(
                "fd_array_cnt {} exceeds the {} fd_array entries",
                req.fd_array_cnt,
                arr.len()
            )));
        }

        let insns = encode_insns(&patch_map_fds(&req.insns, |i| {
            maps.get(i).map(|m| m.as_fd().as_raw_fd())
        }));
        let license = CString::new(req.license.as_bytes())
            .map_err(|_| SysError::new(OP, libc::EINVAL).context("license contains a NUL byte"))?;
        let func_info: Vec<u32> = req
            .func_info
            .iter()
            .flat_map(|f| [f.insn_off, f.type_id])
            .collect();
        let line_info: Vec<u32> = req
            .line_info
            .iter()
            .flat_map(|l| [l.insn_off, l.file_name_off, l.line_off, l.line_col])
            .collect();

        let mut attr = ProgLoadAttr {
            prog_type: req.prog_type.0,
            insn_cnt: len_u32(OP, "instruction count", req.insns.len())?,
            insns: addr(insns.as_ptr()),
            license: addr(license.as_ptr()),
            kern_version: req.kern_version,
            prog_flags: req.prog_flags,
            prog_name: obj_name(&req.name),
            expected_attach_type: req.expected_attach_type.0,
            prog_btf_fd: prog_btf.map_or(0, |i| fd_u32(btf[i].as_fd())),
            attach_btf_id: req.attach_btf_id,
            fd_array: fd_array.as_ref().map_or(0, |a| addr(a.as_ptr())),
            fd_array_cnt: req.fd_array_cnt,
            ..ProgLoadAttr::default()
        };
        if !func_info.is_empty() {
            attr.func_info_rec_size = 8;
            attr.func_info = addr(func_info.as_ptr());
            attr.func_info_cnt = len_u32(OP, "func_info count", req.func_info.len())?;
        }
        if !line_info.is_empty() {
            attr.line_info_rec_size = 16;
            attr.line_info = addr(line_info.as_ptr());
            attr.line_info_cnt = len_u32(OP, "line_info count", req.line_info.len())?;
        }
        if opts.log_level != 0 {
            attr.log_level = opts.log_level | if opts.fixed_log { BPF_LOG_FIXED } else { 0 };
        }

        // `insns`, `license`, `func_info`, `line_info` and `fd_array` live
        // until the end of this function, past every attempt.
        let mut log_size = if opts.log_level == 0 {
            0
        } else {
            opts.log_size
        };
        let mut log_retried = false;
        let (result, log) = loop {
            let mut log = vec![0u8; log_size];
            attr.log_buf = if log.is_empty() {
                0
            } else {
                addr(log.as_mut_ptr())
            };
            attr.log_size = log_size as u32; // bounded by MAX_LOG_SIZE
            attr.log_true_size = 0;
            // SAFETY: every address in `attr` points into a buffer owned by
            // this function (see above) with the length stored beside it;
            // `log` is writable for `log_size` bytes.
            let result = unsafe { sys_bpf_fd(&mut attr) };
            let needed = attr.log_true_size as usize;
            let truncated = matches!(&result, Err(e) if e.errno == libc::ENOSPC)
                && !log.is_empty()
                && needed > log.len();
            if truncated && !log_retried {
                log_retried = true;
                log_size = needed.saturating_add(1).min(MAX_LOG_SIZE);
                continue;
            }
            break (result, log_to_string(&log));
        };

        let (prog_fd, errno) = match result {
            Ok(fd) => (Some(fd), None),
            Err(e) => (None, Some(e.errno)),
        };
        let info = prog_fd
            .as_ref()
            .map(|fd| self.prog_info(fd.as_fd()))
            .transpose()
            .map_err(|e| e.context("info of the accepted program"))?;
        Ok(LoadOutcome {
            accepted: prog_fd.is_some(),
            errno,
            stats: VerifierStats::parse_log(&log),
            error_line: if prog_fd.is_some() {
                None
            } else {
                error_line(&log)
            },
            log,
            log_true_size: attr.log_true_size,
            log_retried,
            attr_size: attr.wire_size(),
            verified_insns: info.as_ref().map(|i| i.verified_insns),
            xlated_len: info.as_ref().map(|i| i.xlated_prog_len),
            prog_fd,
            maps,
            btf,
        })
    }
}

/// `BPF_LD | BPF_IMM | BPF_DW`.
const LD_IMM64: u8 = op::LD | op::IMM | op::DW;

/// Copies `insns`, replacing the map index in `imm` of each `ld_imm64` with
/// a map-fd pseudo source by the created map's fd.
fn patch_map_fds(insns: &[RawInsn], fd_of: impl Fn(usize) -> Option<i32>) -> Vec<RawInsn> {
    let mut out = insns.to_vec();
    let mut i = 0;
    while i < out.len() {
        let insn = &mut out[i];
        if insn.code == LD_IMM64 {
            let is_map_fd = insn.src == op::PSEUDO_MAP_FD || insn.src == op::PSEUDO_MAP_VALUE;
            if is_map_fd && let Some(fd) = usize::try_from(insn.imm).ok().and_then(&fd_of) {
                insn.imm = fd;
            }
            // The second slot carries the upper half (or the value offset),
            // never an opcode.
            i += 2;
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_only_map_fd_pseudo_sources() {
        let ld = |src, imm| RawInsn::new(LD_IMM64, 1, src, 0, imm);
        let hi = |imm| RawInsn::new(0, 0, 0, 0, imm);
        let insns = [
            ld(op::PSEUDO_MAP_FD, 0),
            hi(0),
            ld(op::PSEUDO_MAP_VALUE, 1),
            hi(1),                    // value offset: an index-looking number that must stay
            ld(op::PSEUDO_MAP_FD, 7), // names no map: left for the kernel
            hi(0),
            ld(op::PSEUDO_MAP_IDX, 0),
            hi(0),
            ld(op::PSEUDO_MAP_IDX_VALUE, 1),
            hi(0),
            ld(0, 1),
            hi(0),
            RawInsn::new(op::ALU64 | op::MOV | op::K, 0, 0, 0, 1),
        ];
        let fds = [100, 101];
        let out = patch_map_fds(&insns, |i| fds.get(i).copied());
        let imms: Vec<i32> = out.iter().map(|i| i.imm).collect();
        assert_eq!(imms, [100, 0, 101, 1, 7, 0, 0, 0, 1, 0, 1, 0, 1]);
    }
}
