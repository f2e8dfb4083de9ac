//! The `struct btf_header` and byte-order aware reads.

use crate::error::{BtfErrorKind as K, Result, err};
pub use bpfcheck_uapi::ByteOrder;

/// `BTF_MAGIC`, as read in the blob's own byte order.
pub const BTF_MAGIC: u16 = 0xeb9f;
/// The only BTF version there is.
pub const BTF_VERSION: u8 = 1;
/// Size of the header this crate understands (`sizeof(struct btf_header)`).
pub const HEADER_LEN: usize = 24;
/// `BTF_MAX_TYPE`: the largest type id.
pub const BTF_MAX_TYPE: u32 = 0x000f_ffff;
/// The kernel's `BTF_MAX_SIZE` limit on a whole blob loaded by `BPF_BTF_LOAD` (16 MiB).
pub const BTF_MAX_SIZE: usize = 16 * 1024 * 1024;
/// `BTF_MAX_NAME_OFFSET`: the largest string offset.
pub const BTF_MAX_NAME_OFFSET: u32 = 0x00ff_ffff;

/// Reads fixed-width integers in one byte order. Out-of-range reads return
/// `None`; callers that already checked the bounds use [`Endian::u32_or0`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endian(pub ByteOrder);

impl Endian {
    /// The `u16` at `off`.
    #[inline]
    pub fn u16(self, b: &[u8], off: usize) -> Option<u16> {
        let a: [u8; 2] = b.get(off..off.checked_add(2)?)?.try_into().ok()?;
        Some(match self.0 {
            ByteOrder::Little => u16::from_le_bytes(a),
            ByteOrder::Big => u16::from_be_bytes(a),
        })
    }

    /// The `u32` at `off`.
    #[inline]
    pub fn u32(self, b: &[u8], off: usize) -> Option<u32> {
        let a: [u8; 4] = b.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(match self.0 {
            ByteOrder::Little => u32::from_le_bytes(a),
            ByteOrder::Big => u32::from_be_bytes(a),
        })
    }

    /// The `u32` at `off`, or 0 when out of range. Only used on slices whose
    /// length was checked when the type was indexed, so the fallback is
    /// unreachable in practice; it exists so that no read can panic.
    #[inline]
    pub fn u32_or0(self, b: &[u8], off: usize) -> u32 {
        self.u32(b, off).unwrap_or(0)
    }

    /// Append `v` in this byte order.
    pub fn put_u32(self, out: &mut Vec<u8>, v: u32) {
        match self.0 {
            ByteOrder::Little => out.extend_from_slice(&v.to_le_bytes()),
            ByteOrder::Big => out.extend_from_slice(&v.to_be_bytes()),
        }
    }

    /// Append `v` in this byte order.
    pub fn put_u16(self, out: &mut Vec<u8>, v: u16) {
        match self.0 {
            ByteOrder::Little => out.extend_from_slice(&v.to_le_bytes()),
            ByteOrder::Big => out.extend_from_slice(&v.to_be_bytes()),
        }
    }
}

/// Detect the byte order from a leading 16-bit magic.
pub fn detect_order(data: &[u8], magic: u16) -> Result<ByteOrder> {
    let Some(b) = data.get(..2) else {
        return Err(err(
            K::TruncatedHeader,
            format!("{} bytes, no magic", data.len()),
        )
        .at(0));
    };
    let le = u16::from_le_bytes([b[0], b[1]]);
    if le == magic {
        Ok(ByteOrder::Little)
    } else if le.swap_bytes() == magic {
        Ok(ByteOrder::Big)
    } else {
        Err(err(K::BadMagic, format!("magic {le:#06x}")).at(0))
    }
}

/// A validated `struct btf_header`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtfHeader {
    /// Byte order of the whole blob.
    pub order: ByteOrder,
    /// `hdr_len`: where the sections' offsets count from.
    pub hdr_len: u32,
    /// Type section offset, relative to the end of the header.
    pub type_off: u32,
    /// Type section length.
    pub type_len: u32,
    /// String section offset, relative to the end of the header.
    pub str_off: u32,
    /// String section length.
    pub str_len: u32,
}

impl BtfHeader {
    /// Parse and check the header the way the kernel's `btf_parse_hdr` and
    /// `btf_check_sec_info` do: known header fields, zero tail, sections
    /// inside the blob without gaps or overlap, and the string section last.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let order = detect_order(data, BTF_MAGIC)?;
        let e = Endian(order);
        let Some(hdr_len) = e.u32(data, 4) else {
            return Err(err(K::TruncatedHeader, "hdr_len not found").at(0));
        };
        let version = data.get(2).copied().unwrap_or(0);
        let flags = data.get(3).copied().unwrap_or(0);
        if version != BTF_VERSION {
            return Err(err(K::UnsupportedVersion, format!("version {version}")).at(2));
        }
        if flags != 0 {
            return Err(err(K::UnsupportedHeader, format!("flags {flags:#x}")).at(3));
        }
        let hl = hdr_len as usize;
        if hl < HEADER_LEN || data.len() < hl {
            return Err(err(
                K::TruncatedHeader,
                format!(
                    "hdr_len {hdr_len}, blob has {} bytes, need at least {HEADER_LEN}",
                    data.len()
                ),
            )
            .at(4));
        }
        if let Some(pos) = data[HEADER_LEN..hl].iter().position(|&b| b != 0) {
            return Err(
                err(K::UnsupportedHeader, "non-zero bytes past the known header")
                    .at(HEADER_LEN + pos),
            );
        }
        let h = Self {
            order,
            hdr_len,
            type_off: e.u32_or0(data, 8),
            type_len: e.u32_or0(data, 12),
            str_off: e.u32_or0(data, 16),
            str_len: e.u32_or0(data, 20),
        };
        h.check_layout(data.len())?;
        Ok(h)
    }

    fn check_layout(&self, total: usize) -> Result<()> {
        let body = (total - self.hdr_len as usize) as u64;
        let mut secs = [(self.type_off, self.type_len), (self.str_off, self.str_len)];
        secs.sort_unstable();
        let mut end = 0u64;
        for (off, len) in secs {
            let (off, len) = (u64::from(off), u64::from(len));
            if off != end {
                let what = if off > end {
                    "gap before"
                } else {
                    "overlap at"
                };
                return Err(err(K::BadSectionLayout, format!("{what} section offset {off}")).at(8));
            }
            end = off + len;
            if end > body {
                return Err(err(
                    K::BadSectionLayout,
                    format!("section [{off}, {end}) past the {body} bytes after the header"),
                )
                .at(8));
            }
        }
        if end != body {
            return Err(err(
                K::BadSectionLayout,
                format!("{} trailing bytes after the sections", body - end),
            )
            .at(8));
        }
        if u64::from(self.str_off) + u64::from(self.str_len) != body {
            return Err(err(K::BadSectionLayout, "string section is not at the end").at(16));
        }
        if !self.type_off.is_multiple_of(4) {
            return Err(err(K::BadSectionLayout, "type section is not 4-byte aligned").at(8));
        }
        Ok(())
    }

    /// Byte range of the type section within the blob.
    pub fn type_range(&self) -> std::ops::Range<usize> {
        let s = self.hdr_len as usize + self.type_off as usize;
        s..s + self.type_len as usize
    }

    /// Byte range of the string section within the blob.
    pub fn str_range(&self) -> std::ops::Range<usize> {
        let s = self.hdr_len as usize + self.str_off as usize;
        s..s + self.str_len as usize
    }
}
