//! The `newc` cpio format (`070701`), which is what the kernel unpacks as an
//! initramfs (init/initramfs.c), written and read without external tools.
//!
//! Every header field is eight ASCII hex digits; the name (with its NUL) and
//! the data are each padded to a multiple of four bytes counted from the
//! start of the archive. The archive ends with an entry named `TRAILER!!!`.
//! Only what an initramfs needs is written: directories, regular files and
//! character device nodes, owned by root, with one link each.

use std::fmt;

/// The magic of a `newc` header without checksums.
const MAGIC: &[u8; 6] = b"070701";
/// Magic (6) plus thirteen 8-digit fields.
const HEADER_LEN: usize = 110;
/// Name of the end-of-archive entry.
const TRAILER: &str = "TRAILER!!!";

/// `S_IFMT` and the file types the writer produces.
pub const S_IFMT: u32 = 0o170_000;
/// Directory.
pub const S_IFDIR: u32 = 0o040_000;
/// Regular file.
pub const S_IFREG: u32 = 0o100_000;
/// Character device.
pub const S_IFCHR: u32 = 0o020_000;

/// What went wrong writing or reading an archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpioError {
    /// A path that is empty, absolute, has `.`/`..` components or a NUL.
    BadPath(String),
    /// A file larger than the format's 32-bit size field.
    TooLarge {
        /// The entry.
        path: String,
        /// Its size.
        len: usize,
    },
    /// The archive is malformed at this byte offset.
    Malformed {
        /// Offset of the entry header or field.
        offset: usize,
        /// What is wrong there.
        what: String,
    },
}

impl fmt::Display for CpioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadPath(p) => write!(
                f,
                "cpio path `{p}` must be relative, without `.`, `..` or NUL"
            ),
            Self::TooLarge { path, len } => {
                write!(f, "cpio entry `{path}`: {len} bytes exceed 4 GiB")
            }
            Self::Malformed { offset, what } => {
                write!(f, "malformed cpio archive at byte {offset}: {what}")
            }
        }
    }
}

impl std::error::Error for CpioError {}

/// Builds a `newc` archive in memory.
#[derive(Debug)]
pub struct CpioWriter {
    buf: Vec<u8>,
    next_ino: u32,
}

impl Default for CpioWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl CpioWriter {
    /// An empty archive.
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            // Inode 0 is avoided: some extractors treat it as "no inode".
            next_ino: 1,
        }
    }

    /// Adds a directory with permission bits `perm` (e.g. `0o755`).
    pub fn dir(&mut self, path: &str, perm: u32) -> Result<(), CpioError> {
        self.entry(path, S_IFDIR | (perm & 0o7777), 2, (0, 0), &[])
    }

    /// Adds a regular file with permission bits `perm`.
    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> Result<(), CpioError> {
        self.entry(path, S_IFREG | (perm & 0o7777), 1, (0, 0), data)
    }

    /// Adds a character device node, so that the guest needs no devtmpfs
    /// to open it.
    pub fn char_dev(
        &mut self,
        path: &str,
        perm: u32,
        major: u32,
        minor: u32,
    ) -> Result<(), CpioError> {
        self.entry(path, S_IFCHR | (perm & 0o7777), 1, (major, minor), &[])
    }

    /// Appends the trailer and returns the archive.
    pub fn finish(mut self) -> Vec<u8> {
        self.push_header(0, 0, 1, 0, (0, 0), TRAILER);
        self.buf
    }

    fn entry(
        &mut self,
        path: &str,
        mode: u32,
        nlink: u32,
        rdev: (u32, u32),
        data: &[u8],
    ) -> Result<(), CpioError> {
        check_path(path)?;
        let size = u32::try_from(data.len()).map_err(|_| CpioError::TooLarge {
            path: path.to_owned(),
            len: data.len(),
        })?;
        let ino = self.next_ino;
        self.next_ino = self.next_ino.wrapping_add(1).max(1);
        self.push_header(ino, mode, nlink, size, rdev, path);
        self.buf.extend_from_slice(data);
        self.pad();
        Ok(())
    }

    fn push_header(
        &mut self,
        ino: u32,
        mode: u32,
        nlink: u32,
        size: u32,
        rdev: (u32, u32),
        name: &str,
    ) {
        // Names are at most a few hundred bytes (checked paths or the
        // trailer), far below the 32-bit field.
        let namesize = u32::try_from(name.len() + 1).unwrap_or(u32::MAX);
        let fields = [
            ino, mode, 0, // uid
            0, // gid
            nlink, 0, // mtime: fixed, so that archives are reproducible
            size, 0, // devmajor
            0, // devminor
            rdev.0, rdev.1, namesize, 0, // check
        ];
        self.buf.extend_from_slice(MAGIC);
        for f in fields {
            self.buf.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
    }

    fn pad(&mut self) {
        let padded = self.buf.len().next_multiple_of(4);
        self.buf.resize(padded, 0);
    }
}

fn check_path(path: &str) -> Result<(), CpioError> {
    let bad = path.is_empty()
        || path.len() > 1024
        || path.starts_with('/')
        || path.contains('\0')
        || path == TRAILER
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(CpioError::BadPath(path.to_owned()));
    }
    Ok(())
}

/// One entry of a parsed archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpioEntry {
    /// Path inside the archive.
    pub name: String,
    /// File type and permission bits.
    pub mode: u32,
    /// Inode number.
    pub ino: u32,
    /// Link count.
    pub nlink: u32,
    /// Device number of a device node (major, minor).
    pub rdev: (u32, u32),
    /// File contents.
    pub data: Vec<u8>,
}

/// Reads a `newc` archive up to its trailer (used to check what was
/// written, and to inspect an initramfs).
pub fn parse(archive: &[u8]) -> Result<Vec<CpioEntry>, CpioError> {
    let mut entries = Vec::new();
    let mut pos = 0;
    loop {
        let malformed = |offset: usize, what: String| CpioError::Malformed { offset, what };
        let header = archive
            .get(pos..pos + HEADER_LEN)
            .ok_or_else(|| malformed(pos, "truncated header (no trailer)".to_owned()))?;
        if &header[..6] != MAGIC {
            return Err(malformed(pos, "bad magic (expected 070701)".to_owned()));
        }
        let mut fields = [0u32; 13];
        for (i, f) in fields.iter_mut().enumerate() {
            let start = 6 + 8 * i;
            let text = std::str::from_utf8(&header[start..start + 8]).ok();
            *f = text
                .and_then(|t| u32::from_str_radix(t, 16).ok())
                .ok_or_else(|| malformed(pos + start, format!("field {i} is not hex")))?;
        }
        let [
            ino,
            mode,
            _uid,
            _gid,
            nlink,
            _mtime,
            size,
            _maj,
            _min,
            rmaj,
            rmin,
            namesize,
            _,
        ] = fields;
        let name_start = pos + HEADER_LEN;
        let name_end = name_start + namesize as usize;
        let name_bytes = archive
            .get(name_start..name_end)
            .filter(|b| b.last() == Some(&0))
            .ok_or_else(|| malformed(name_start, "name truncated or not NUL-terminated".into()))?;
        let name = String::from_utf8_lossy(&name_bytes[..name_bytes.len() - 1]).into_owned();
        let data_start = name_end.next_multiple_of(4);
        let data_end = data_start + size as usize;
        let data = archive
            .get(data_start..data_end)
            .ok_or_else(|| malformed(data_start, format!("data of `{name}` truncated")))?;
        pos = data_end.next_multiple_of(4);
        if name == TRAILER {
            return Ok(entries);
        }
        entries.push(CpioEntry {
            name,
            mode,
            ino,
            nlink,
            rdev: (rmaj, rmin),
            data: data.to_vec(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut w = CpioWriter::new();
        w.dir("dev", 0o755).unwrap();
        w.char_dev("dev/ttyS1", 0o600, 4, 65).unwrap();
        w.file("init", 0o755, b"\x7fELF...").unwrap();
        w.file("empty", 0o644, b"").unwrap();
        w.file("a/b/c.json", 0o644, b"[1,2,3]").unwrap();
        let bytes = w.finish();
        assert_eq!(bytes.len() % 4, 0);
        let entries = parse(&bytes).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["dev", "dev/ttyS1", "init", "empty", "a/b/c.json"]);
        assert_eq!(entries[0].mode, S_IFDIR | 0o755);
        assert_eq!(entries[1].mode & S_IFMT, S_IFCHR);
        assert_eq!(entries[1].rdev, (4, 65));
        assert_eq!(entries[2].data, b"\x7fELF...");
        assert_eq!(entries[2].mode, S_IFREG | 0o755);
        assert!(entries[3].data.is_empty());
        assert_eq!(entries[4].data, b"[1,2,3]");
        // Distinct inodes: the kernel would hard-link equal ones.
        let mut inos: Vec<u32> = entries.iter().map(|e| e.ino).collect();
        inos.dedup();
        assert_eq!(inos.len(), entries.len());
    }

    #[test]
    fn header_layout_is_newc() {
        let mut w = CpioWriter::new();
        w.file("x", 0o644, b"hi").unwrap();
        let bytes = w.finish();
        assert_eq!(&bytes[..6], b"070701");
        // ino 1, mode 0o100644 = 0x81A4
        assert_eq!(&bytes[6..22], b"00000001000081A4");
        // filesize field (7th) = 2; namesize (12th) = 2 ("x\0")
        assert_eq!(&bytes[6 + 6 * 8..6 + 7 * 8], b"00000002");
        assert_eq!(&bytes[6 + 11 * 8..6 + 12 * 8], b"00000002");
        // name at 110, padded to 112, data at 112
        assert_eq!(&bytes[110..112], b"x\0");
        assert_eq!(&bytes[112..114], b"hi");
        assert_eq!(&bytes[116..122], b"070701");
    }

    #[test]
    fn bad_paths_are_refused() {
        let mut w = CpioWriter::new();
        for p in ["", "/init", "a/../b", "./x", "a//b", "a\0b", "TRAILER!!!"] {
            assert_eq!(w.file(p, 0o644, b""), Err(CpioError::BadPath(p.into())));
        }
    }

    #[test]
    fn malformed_archives_are_errors() {
        assert!(matches!(parse(b""), Err(CpioError::Malformed { .. })));
        assert!(matches!(
            parse(&[b'0'; 200]),
            Err(CpioError::Malformed { .. })
        ));
        let mut w = CpioWriter::new();
        w.file("x", 0o644, b"data").unwrap();
        let bytes = w.finish();
        // Cut inside the data of `x`.
        let err = parse(&bytes[..113]).unwrap_err();
        assert!(err.to_string().contains("data of `x` truncated"), "{err}");
        // No trailer.
        let err = parse(&bytes[..120]).unwrap_err();
        assert!(err.to_string().contains("truncated header"), "{err}");
    }
}
