//! `union bpf_attr` members and `struct bpf_prog_info`, laid out as in the
//! 6.18 uapi header, one `#[repr(C)]` struct per command this crate issues.
//!
//! Every struct has the complete 6.18 layout (so that offsets can be checked
//! against the header), but what goes to the kernel is only
//! [`Attr::wire_size`] bytes: the end of the last field that is actually
//! set. A kernel older than a field copies at most its own `sizeof(union
//! bpf_attr)` and rejects the call with `E2BIG` when any byte past that is
//! non-zero; sending only what is used keeps every load that does not need a
//! newer field working on older kernels, exactly like libbpf's
//! `offsetofend()` sizes.
//!
//! Pointers are `u64` addresses, as in the uapi. The structs are plain data;
//! only the crate-private syscall wrapper hands them to the kernel, and each
//! of its callers owns the buffers the addresses point to for the duration of
//! the call.

use std::mem::{offset_of, size_of};

/// `BPF_MAP_CREATE`.
pub const BPF_MAP_CREATE: u32 = 0;
/// `BPF_MAP_UPDATE_ELEM`.
pub const BPF_MAP_UPDATE_ELEM: u32 = 2;
/// `BPF_PROG_LOAD`.
pub const BPF_PROG_LOAD: u32 = 5;
/// `BPF_PROG_TEST_RUN` (alias `BPF_PROG_RUN`).
pub const BPF_PROG_TEST_RUN: u32 = 10;
/// `BPF_OBJ_GET_INFO_BY_FD`.
pub const BPF_OBJ_GET_INFO_BY_FD: u32 = 15;
/// `BPF_BTF_LOAD`.
pub const BPF_BTF_LOAD: u32 = 18;
/// `BPF_MAP_FREEZE`.
pub const BPF_MAP_FREEZE: u32 = 22;

/// `BPF_LOG_FIXED`: keep the head of an overflowing log instead of the tail.
pub const BPF_LOG_FIXED: u32 = 8;
/// `BPF_OBJ_NAME_LEN`: names are 15 bytes plus a NUL.
pub const BPF_OBJ_NAME_LEN: usize = 16;

/// End offset of a field (`offsetofend()`).
macro_rules! end_of {
    ($ty:ty, $field:ident) => {
        offset_of!($ty, $field) + size_of_field(|a: &$ty| &a.$field)
    };
}

/// Size of a field, through a projection (keeps [`end_of!`] free of values).
const fn size_of_field<T, F>(_: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

/// A `bpf_attr` member: which command it belongs to and how many bytes of
/// it the kernel must see.
pub trait Attr: Sized {
    /// The `bpf()` command that takes this member.
    const CMD: u32;
    /// Name of the command, for errors.
    const NAME: &'static str;
    /// Bytes to pass as the `size` argument: the end of the last field that
    /// is non-zero, but never less than the fields the command always needs
    /// (including output fields the caller reads back).
    fn wire_size(&self) -> usize;
}

/// Copies a name into a `[u8; 16]`, keeping at most 15 bytes so that the
/// kernel always finds the terminating NUL. Bytes after an embedded NUL are
/// irrelevant to the kernel and dropped.
pub fn obj_name(name: &str) -> [u8; BPF_OBJ_NAME_LEN] {
    let mut out = [0u8; BPF_OBJ_NAME_LEN];
    for (dst, src) in out
        .iter_mut()
        .zip(name.bytes().take_while(|b| *b != 0))
        .take(BPF_OBJ_NAME_LEN - 1)
    {
        *dst = src;
    }
    out
}

/// The `BPF_MAP_CREATE` member.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct MapCreateAttr {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub inner_map_fd: u32,
    pub numa_node: u32,
    pub map_name: [u8; BPF_OBJ_NAME_LEN],
    pub map_ifindex: u32,
    pub btf_fd: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub map_extra: u64,
    pub value_type_btf_obj_fd: i32,
    pub map_token_fd: i32,
    pub excl_prog_hash: u64,
    pub excl_prog_hash_size: u32,
    /// Tail padding of the 6.18 layout, always zero.
    pub _pad: u32,
}

impl Attr for MapCreateAttr {
    const CMD: u32 = BPF_MAP_CREATE;
    const NAME: &'static str = "BPF_MAP_CREATE";

    fn wire_size(&self) -> usize {
        if self.excl_prog_hash != 0 || self.excl_prog_hash_size != 0 {
            end_of!(Self, excl_prog_hash_size)
        } else if self.map_token_fd != 0 {
            end_of!(Self, map_token_fd)
        } else if self.value_type_btf_obj_fd != 0 {
            end_of!(Self, value_type_btf_obj_fd)
        } else if self.map_extra != 0 {
            end_of!(Self, map_extra)
        } else {
            // Everything up to the BTF ids exists since 5.6.
            end_of!(Self, btf_vmlinux_value_type_id)
        }
    }
}

/// The member of `BPF_MAP_UPDATE_ELEM` (and the other element commands).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct MapElemAttr {
    pub map_fd: u32,
    pub _pad: u32,
    pub key: u64,
    /// `value` or `next_key`.
    pub value: u64,
    pub flags: u64,
}

impl Attr for MapElemAttr {
    const CMD: u32 = BPF_MAP_UPDATE_ELEM;
    const NAME: &'static str = "BPF_MAP_UPDATE_ELEM";

    fn wire_size(&self) -> usize {
        end_of!(Self, flags)
    }
}

/// The member of `BPF_MAP_FREEZE`: just the map fd.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapFreezeAttr {
    /// The map to freeze.
    pub map_fd: u32,
}

impl Attr for MapFreezeAttr {
    const CMD: u32 = BPF_MAP_FREEZE;
    const NAME: &'static str = "BPF_MAP_FREEZE";

    fn wire_size(&self) -> usize {
        end_of!(Self, map_fd)
    }
}

/// The `BPF_PROG_LOAD` member.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ProgLoadAttr {
    pub prog_type: u32,
    pub insn_cnt: u32,
    pub insns: u64,
    pub license: u64,
    pub log_level: u32,
    pub log_size: u32,
    pub log_buf: u64,
    pub kern_version: u32,
    pub prog_flags: u32,
    pub prog_name: [u8; BPF_OBJ_NAME_LEN],
    pub prog_ifindex: u32,
    pub expected_attach_type: u32,
    pub prog_btf_fd: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub func_info_cnt: u32,
    pub line_info_rec_size: u32,
    pub line_info: u64,
    pub line_info_cnt: u32,
    pub attach_btf_id: u32,
    /// `attach_prog_fd` or `attach_btf_obj_fd` (a union in the uapi).
    pub attach_prog_fd: u32,
    pub core_relo_cnt: u32,
    pub fd_array: u64,
    pub core_relos: u64,
    pub core_relo_rec_size: u32,
    /// Output (6.4+): the log size the verifier needed, NUL included.
    pub log_true_size: u32,
    pub prog_token_fd: i32,
    /// 6.14+: number of leading `fd_array` entries bound before verification.
    pub fd_array_cnt: u32,
    /// 6.18+: program signature (not used by bpfcheck, kept for the layout).
    pub signature: u64,
    pub signature_size: u32,
    pub keyring_id: i32,
}

impl ProgLoadAttr {
    /// `attach_btf_obj_fd`, the other name of [`Self::attach_prog_fd`].
    pub fn set_attach_btf_obj_fd(&mut self, fd: u32) {
        self.attach_prog_fd = fd;
    }
}

impl Attr for ProgLoadAttr {
    const CMD: u32 = BPF_PROG_LOAD;
    const NAME: &'static str = "BPF_PROG_LOAD";

    fn wire_size(&self) -> usize {
        if self.signature != 0 || self.signature_size != 0 || self.keyring_id != 0 {
            end_of!(Self, keyring_id)
        } else if self.fd_array_cnt != 0 {
            end_of!(Self, fd_array_cnt)
        } else if self.prog_token_fd != 0 {
            end_of!(Self, prog_token_fd)
        } else {
            // `log_true_size` is an output the loader always wants; a kernel
            // before 6.4 sees a zero there, which it accepts as tail.
            end_of!(Self, log_true_size)
        }
    }
}

/// The `BPF_BTF_LOAD` member.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct BtfLoadAttr {
    pub btf: u64,
    pub btf_log_buf: u64,
    pub btf_size: u32,
    pub btf_log_size: u32,
    pub btf_log_level: u32,
    /// Output (6.4+): the log size needed, NUL included.
    pub btf_log_true_size: u32,
    pub btf_flags: u32,
    pub btf_token_fd: i32,
}

impl Attr for BtfLoadAttr {
    const CMD: u32 = BPF_BTF_LOAD;
    const NAME: &'static str = "BPF_BTF_LOAD";

    fn wire_size(&self) -> usize {
        if self.btf_token_fd != 0 {
            end_of!(Self, btf_token_fd)
        } else if self.btf_flags != 0 {
            end_of!(Self, btf_flags)
        } else {
            end_of!(Self, btf_log_true_size)
        }
    }
}

/// The `BPF_OBJ_GET_INFO_BY_FD` member.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct InfoByFdAttr {
    pub bpf_fd: u32,
    /// In: size of the info buffer; out: bytes the kernel filled.
    pub info_len: u32,
    pub info: u64,
}

impl Attr for InfoByFdAttr {
    const CMD: u32 = BPF_OBJ_GET_INFO_BY_FD;
    const NAME: &'static str = "BPF_OBJ_GET_INFO_BY_FD";

    fn wire_size(&self) -> usize {
        end_of!(Self, info)
    }
}

/// `struct bpf_prog_info` as of 6.18. Every pointer field is left zero, so
/// the kernel copies no arrays, only the scalars.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct BpfProgInfo {
    pub prog_type: u32,
    pub id: u32,
    pub tag: [u8; 8],
    pub jited_prog_len: u32,
    pub xlated_prog_len: u32,
    pub jited_prog_insns: u64,
    pub xlated_prog_insns: u64,
    pub load_time: u64,
    pub created_by_uid: u32,
    pub nr_map_ids: u32,
    pub map_ids: u64,
    pub name: [u8; BPF_OBJ_NAME_LEN],
    pub ifindex: u32,
    /// The storage unit of the `gpl_compatible:1` bitfield.
    pub gpl_bits: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub nr_jited_ksyms: u32,
    pub nr_jited_func_lens: u32,
    pub jited_ksyms: u64,
    pub jited_func_lens: u64,
    pub btf_id: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub nr_func_info: u32,
    pub nr_line_info: u32,
    pub line_info: u64,
    pub jited_line_info: u64,
    pub nr_jited_line_info: u32,
    pub line_info_rec_size: u32,
    pub jited_line_info_rec_size: u32,
    pub nr_prog_tags: u32,
    pub prog_tags: u64,
    pub run_time_ns: u64,
    pub run_cnt: u64,
    pub recursion_misses: u64,
    pub verified_insns: u32,
    pub attach_btf_obj_id: u32,
    pub attach_btf_id: u32,
    /// Tail padding, always zero.
    pub _pad: u32,
}

impl BpfProgInfo {
    /// The `gpl_compatible` bit (the first bitfield bit, which C puts at the
    /// low end on little-endian targets and the high end on big-endian ones).
    pub fn gpl_compatible(&self) -> bool {
        if cfg!(target_endian = "little") {
            self.gpl_bits & 1 != 0
        } else {
            self.gpl_bits & (1 << 31) != 0
        }
    }
}

/// The `BPF_PROG_TEST_RUN` member (`test` in the uapi union).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct TestRunAttr {
    pub prog_fd: u32,
    /// Output: the program's return value.
    pub retval: u32,
    pub data_size_in: u32,
    /// In: size of `data_out`; out: bytes of output data.
    pub data_size_out: u32,
    pub data_in: u64,
    pub data_out: u64,
    pub repeat: u32,
    /// Output: average run time in nanoseconds.
    pub duration: u32,
    pub ctx_size_in: u32,
    pub ctx_size_out: u32,
    pub ctx_in: u64,
    pub ctx_out: u64,
    pub flags: u32,
    pub cpu: u32,
    pub batch_size: u32,
    /// Tail padding, always zero.
    pub _pad: u32,
}

impl Attr for TestRunAttr {
    const CMD: u32 = BPF_PROG_TEST_RUN;
    const NAME: &'static str = "BPF_PROG_TEST_RUN";

    fn wire_size(&self) -> usize {
        if self.batch_size != 0 {
            end_of!(Self, batch_size)
        } else if self.flags != 0 || self.cpu != 0 {
            end_of!(Self, cpu)
        } else {
            end_of!(Self, ctx_out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offsets from the 6.18 `union bpf_attr` (checked with pahole-style
    /// arithmetic on /sys/kernel/btf/vmlinux and the 6.12 uapi header).
    #[test]
    fn prog_load_offsets() {
        type A = ProgLoadAttr;
        assert_eq!(offset_of!(A, insns), 8);
        assert_eq!(offset_of!(A, license), 16);
        assert_eq!(offset_of!(A, log_level), 24);
        assert_eq!(offset_of!(A, log_buf), 32);
        assert_eq!(offset_of!(A, kern_version), 40);
        assert_eq!(offset_of!(A, prog_flags), 44);
        assert_eq!(offset_of!(A, prog_name), 48);
        assert_eq!(offset_of!(A, prog_ifindex), 64);
        assert_eq!(offset_of!(A, expected_attach_type), 68);
        assert_eq!(offset_of!(A, prog_btf_fd), 72);
        assert_eq!(offset_of!(A, func_info_rec_size), 76);
        assert_eq!(offset_of!(A, func_info), 80);
        assert_eq!(offset_of!(A, func_info_cnt), 88);
        assert_eq!(offset_of!(A, line_info_rec_size), 92);
        assert_eq!(offset_of!(A, line_info), 96);
        assert_eq!(offset_of!(A, line_info_cnt), 104);
        assert_eq!(offset_of!(A, attach_btf_id), 108);
        assert_eq!(offset_of!(A, attach_prog_fd), 112);
        assert_eq!(offset_of!(A, core_relo_cnt), 116);
        assert_eq!(offset_of!(A, fd_array), 120);
        assert_eq!(offset_of!(A, core_relos), 128);
        assert_eq!(offset_of!(A, core_relo_rec_size), 136);
        assert_eq!(offset_of!(A, log_true_size), 140);
        assert_eq!(offset_of!(A, prog_token_fd), 144);
        assert_eq!(offset_of!(A, fd_array_cnt), 148);
        assert_eq!(offset_of!(A, signature), 152);
        assert_eq!(offset_of!(A, signature_size), 160);
        assert_eq!(offset_of!(A, keyring_id), 164);
        assert_eq!(size_of::<A>(), 168);
    }

    #[test]
    fn other_offsets() {
        assert_eq!(offset_of!(MapCreateAttr, map_name), 28);
        assert_eq!(offset_of!(MapCreateAttr, map_ifindex), 44);
        assert_eq!(offset_of!(MapCreateAttr, btf_vmlinux_value_type_id), 60);
        assert_eq!(offset_of!(MapCreateAttr, map_extra), 64);
        assert_eq!(offset_of!(MapCreateAttr, map_token_fd), 76);
        assert_eq!(offset_of!(MapCreateAttr, excl_prog_hash_size), 88);
        assert_eq!(size_of::<MapCreateAttr>(), 96);
        assert_eq!(offset_of!(MapElemAttr, key), 8);
        assert_eq!(offset_of!(MapElemAttr, flags), 24);
        assert_eq!(offset_of!(BtfLoadAttr, btf_size), 16);
        assert_eq!(offset_of!(BtfLoadAttr, btf_log_true_size), 28);
        assert_eq!(offset_of!(BtfLoadAttr, btf_token_fd), 36);
        assert_eq!(offset_of!(InfoByFdAttr, info), 8);
        assert_eq!(offset_of!(TestRunAttr, data_in), 16);
        assert_eq!(offset_of!(TestRunAttr, repeat), 32);
        assert_eq!(offset_of!(TestRunAttr, duration), 36);
        assert_eq!(offset_of!(TestRunAttr, ctx_in), 48);
        assert_eq!(offset_of!(TestRunAttr, batch_size), 72);
        assert_eq!(offset_of!(BpfProgInfo, xlated_prog_len), 20);
        assert_eq!(offset_of!(BpfProgInfo, name), 64);
        assert_eq!(offset_of!(BpfProgInfo, gpl_bits), 84);
        assert_eq!(offset_of!(BpfProgInfo, btf_id), 128);
        assert_eq!(offset_of!(BpfProgInfo, verified_insns), 216);
        assert_eq!(offset_of!(BpfProgInfo, attach_btf_id), 224);
        assert_eq!(size_of::<BpfProgInfo>(), 232);
    }

    #[test]
    fn wire_size_is_offsetofend_of_last_used_field() {
        let mut a = ProgLoadAttr::default();
        assert_eq!(a.wire_size(), 144, "always covers log_true_size");
        a.prog_token_fd = 3;
        assert_eq!(a.wire_size(), 148);
        a.fd_array_cnt = 1;
        assert_eq!(a.wire_size(), 152);
        a.keyring_id = -1;
        assert_eq!(a.wire_size(), 168);

        let mut m = MapCreateAttr::default();
        assert_eq!(m.wire_size(), 64);
        m.map_extra = 3;
        assert_eq!(m.wire_size(), 72);
        m.map_token_fd = 4;
        assert_eq!(m.wire_size(), 80);

        let mut b = BtfLoadAttr::default();
        assert_eq!(b.wire_size(), 32);
        b.btf_flags = 1;
        assert_eq!(b.wire_size(), 36);

        let mut t = TestRunAttr::default();
        assert_eq!(t.wire_size(), 64);
        t.flags = 1;
        assert_eq!(t.wire_size(), 72);
        assert_eq!(MapFreezeAttr::default().wire_size(), 4);
        assert_eq!(MapElemAttr::default().wire_size(), 32);
        assert_eq!(InfoByFdAttr::default().wire_size(), 16);
    }

    #[test]
    fn names_keep_fifteen_bytes() {
        assert_eq!(&obj_name("abc")[..4], b"abc\0");
        let n = obj_name("a_very_long_program_name");
        assert_eq!(&n[..15], b"a_very_long_pro");
        assert_eq!(n[15], 0);
        assert_eq!(&obj_name("ab\0cd")[..3], b"ab\0");
    }
}
