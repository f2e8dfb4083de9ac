//! The initramfs the guest boots: the static init, the batch, and the
//! device nodes and mount points init uses.

use std::path::Path;

use crate::{
    VmError,
    cpio::CpioWriter,
    protocol::{BATCH_PATH, Batch},
};

/// `PT_INTERP`: the program header naming a dynamic loader.
const PT_INTERP: u32 = 3;
/// `EM_X86_64`.
const EM_X86_64: u16 = 62;

/// Checks that `elf` is an x86-64 executable without a program interpreter
/// (static or static-pie), which is what can run as PID 1 in an initramfs
/// that holds no libc.
pub fn check_static_init(path: &Path, elf: &[u8]) -> Result<(), VmError> {
    let bad = |why: &str| VmError::Init {
        path: path.to_owned(),
        message: why.to_owned(),
    };
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        elf.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if elf.get(..4) != Some(b"\x7fELF") {
        return Err(bad("not an ELF file"));
    }
    // EI_CLASS 2 (64-bit), EI_DATA 1 (little endian).
    if elf.get(4..6) != Some(&[2, 1]) || u16_at(18) != Some(EM_X86_64) {
        return Err(bad("not a 64-bit little-endian x86-64 ELF"));
    }
    let phoff = u64_at(32).and_then(|v| usize::try_from(v).ok());
    let (Some(phoff), Some(phentsize), Some(phnum)) = (phoff, u16_at(54), u16_at(56)) else {
        return Err(bad("truncated ELF header"));
    };
    for i in 0..usize::from(phnum) {
        let at = usize::from(phentsize)
            .checked_mul(i)
            .and_then(|o| o.checked_add(phoff));
        match at.and_then(u32_at) {
            Some(PT_INTERP) => {
                return Err(bad("dynamically linked (has PT_INTERP); build it with \
                     RUSTFLAGS=\"-C target-feature=+crt-static\" --target x86_64-unknown-linux-gnu \
                     (tools/vm/build-init.sh)"));
            }
            Some(_) => {}
            None => return Err(bad("program headers out of bounds")),
        }
    }
    Ok(())
}

/// Builds the initramfs: `init` (the static `bpfcheck-vm-init`), the batch
/// as JSON, `/dev/console` (so the kernel gives init a console) and
/// `/dev/ttyS1` (the results channel), and the empty mount points.
pub fn build(init_path: &Path, init: &[u8], batch: &Batch) -> Result<Vec<u8>, VmError> {
    check_static_init(init_path, init)?;
    let json = serde_json::to_vec(batch).map_err(|e| VmError::Encode(e.to_string()))?;
    let mut w = CpioWriter::new();
    let cpio = |e: crate::cpio::CpioError| VmError::Encode(e.to_string());
    for dir in ["dev", "proc", "sys", "tmp"] {
        w.dir(dir, 0o755).map_err(cpio)?;
    }
    // Character devices 5:1 (/dev/console) and 4:65 (ttyS1), as in
    // Documentation/admin-guide/devices.txt.
    w.char_dev("dev/console", 0o600, 5, 1).map_err(cpio)?;
    w.char_dev("dev/ttyS1", 0o600, 4, 65).map_err(cpio)?;
    w.file("init", 0o755, init).map_err(cpio)?;
    w.file(BATCH_PATH, 0o644, &json).map_err(cpio)?;
    Ok(w.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpio::{S_IFCHR, S_IFMT, parse};

    /// A minimal ELF64 x86-64 header with the given program header types.
    fn elf(phdr_types: &[u32]) -> Vec<u8> {
        let mut e = vec![0u8; 64 + 56 * phdr_types.len()];
        e[..4].copy_from_slice(b"\x7fELF");
        e[4] = 2;
        e[5] = 1;
        e[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        e[32..40].copy_from_slice(&64u64.to_le_bytes());
        e[54..56].copy_from_slice(&56u16.to_le_bytes());
        e[56..58].copy_from_slice(&u16::try_from(phdr_types.len()).unwrap().to_le_bytes());
        for (i, t) in phdr_types.iter().enumerate() {
            let o = 64 + 56 * i;
            e[o..o + 4].copy_from_slice(&t.to_le_bytes());
        }
        e
    }

    #[test]
    fn static_check() {
        let p = Path::new("init");
        assert!(check_static_init(p, &elf(&[6, 1, 1, 2])).is_ok());
        let err = check_static_init(p, &elf(&[6, PT_INTERP, 1])).unwrap_err();
        assert!(err.to_string().contains("crt-static"), "{err}");
        assert!(check_static_init(p, b"#!/bin/sh\n").is_err());
        let mut truncated = elf(&[1, 1]);
        truncated.truncate(100);
        assert!(
            check_static_init(p, &truncated)
                .unwrap_err()
                .to_string()
                .contains("out of bounds")
        );
    }

    #[test]
    fn initramfs_contents() {
        let batch = Batch {
            log_level: 1,
            exact_log_level: false,
            log_size: 0,
            programs: Vec::new(),
        };
        let init = elf(&[1]);
        let image = build(Path::new("init"), &init, &batch).unwrap();
        let entries = parse(&image).unwrap();
        let find = |n: &str| entries.iter().find(|e| e.name == n).unwrap();
        assert_eq!(find("init").data, init);
        assert_eq!(find("init").mode & 0o111, 0o111);
        let back: Batch = serde_json::from_slice(&find(BATCH_PATH).data).unwrap();
        assert_eq!(back, batch);
        assert_eq!(find("dev/ttyS1").mode & S_IFMT, S_IFCHR);
        assert_eq!(find("dev/ttyS1").rdev, (4, 65));
        assert_eq!(find("dev/console").rdev, (5, 1));
    }
}
