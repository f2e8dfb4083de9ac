//! The string section: NUL-terminated names addressed by byte offset.

use crate::error::{BtfErrorKind as K, Result, err};
use crate::header::BTF_MAX_NAME_OFFSET;

/// One BTF blob's string section. With split BTF, offsets below the
/// base's string length belong to the base; [`crate::Btf::str_at`] routes
/// them, this type only knows its own bytes.
#[derive(Clone, Copy, Debug)]
pub struct StringTable<'a> {
    bytes: &'a [u8],
    /// Byte offset of the section in the blob, for error locations.
    file_off: usize,
}

impl<'a> StringTable<'a> {
    /// Check the section as the kernel's `btf_parse_str_sec` does: it must end
    /// in NUL and, for a base (non-split) BTF, start with the empty string.
    /// A split BTF may have an empty string section.
    pub fn new(bytes: &'a [u8], file_off: usize, split: bool) -> Result<Self> {
        if split && bytes.is_empty() {
            return Ok(Self { bytes, file_off });
        }
        let bad = |d: &str| err(K::BadStringSection, d.to_string()).at(file_off);
        let Some(&last) = bytes.last() else {
            return Err(bad("empty string section"));
        };
        if bytes.len() - 1 > BTF_MAX_NAME_OFFSET as usize {
            return Err(bad("string section longer than BTF_MAX_NAME_OFFSET"));
        }
        if last != 0 {
            return Err(bad("string section is not NUL-terminated"));
        }
        if !split && bytes[0] != 0 {
            return Err(bad("string section does not start with the empty string"));
        }
        Ok(Self { bytes, file_off })
    }

    /// A table already checked by [`StringTable::new`].
    pub(crate) fn from_checked(bytes: &'a [u8], file_off: usize) -> Self {
        Self { bytes, file_off }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the section is empty (only possible for split BTF).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The raw bytes of the NUL-terminated string at `off` (without the NUL).
    pub fn bytes_at(&self, off: u32) -> Result<&'a [u8]> {
        let rest = self
            .bytes
            .get(off as usize..)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                err(
                    K::StringOffsetOutOfRange,
                    format!("string offset {off} >= {}", self.bytes.len()),
                )
            })?;
        // The section ends in NUL (checked in `new`), so a terminator exists.
        let n = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        Ok(&rest[..n])
    }

    /// The string at `off` as UTF-8.
    pub fn get(&self, off: u32) -> Result<&'a str> {
        let b = self.bytes_at(off)?;
        std::str::from_utf8(b).map_err(|_| {
            err(
                K::InvalidUtf8,
                format!("string at offset {off} is not UTF-8"),
            )
            .at(self.file_off + off as usize)
        })
    }

    /// Iterate `(offset, bytes)` over every string in the section.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &'a [u8])> + 'a {
        let bytes = self.bytes;
        let mut pos = 0usize;
        std::iter::from_fn(move || {
            let rest = bytes.get(pos..).filter(|r| !r.is_empty())?;
            let n = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let item = (pos as u32, &rest[..n]);
            pos += n + 1;
            Some(item)
        })
    }
}
