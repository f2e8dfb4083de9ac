//! Extern values of the running kernel, as libbpf resolves them at load
//! time: `__ksym` from vmlinux BTF (or `/proc/kallsyms` for typeless
//! symbols) and `__kconfig` from `/proc/config.gz`.

use std::collections::HashMap;

use bpfcheck_btf::{Btf, BtfKind};
use bpfcheck_obj::{Extern, ExternKind, ExternResolver, KsymValue};

/// The running kernel's externs. Module BTF (`bpf_testmod` kfuncs) is not
/// searched: those programs cannot be built and say so.
#[derive(Debug)]
pub struct HostResolver {
    vmlinux: Option<Btf<'static>>,
    kconfig: HashMap<String, String>,
    kallsyms: HashMap<String, u64>,
    version_code: u32,
}

/// `KERNEL_VERSION(a, b, c)` of a release string (`6.18.44-fc` →
/// 0x061220, the sublevel capped at 255 as the kernel does).
pub fn version_code(release: &str) -> u32 {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let a = parts.next().unwrap_or(0);
    let b = parts.next().unwrap_or(0);
    let c = parts.next().unwrap_or(0).min(255);
    (a << 16) | (b << 8) | c
}

/// `CONFIG_X=value` lines of a kernel config.
pub fn parse_kconfig(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("CONFIG_"))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

impl HostResolver {
    /// Reads the running kernel's BTF, config and symbols; what cannot be
    /// read stays empty (externs needing it then do not resolve).
    pub fn from_host() -> Self {
        let vmlinux = std::fs::read("/sys/kernel/btf/vmlinux")
            .ok()
            .and_then(|b| Btf::from_arc(b.into()).ok());
        // The config is gzip-compressed; the system's gzip reads it rather
        // than a decompressor linked in for this one file.
        let kconfig = std::process::Command::new("gzip")
            .args(["-dc", "/proc/config.gz"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| parse_kconfig(&String::from_utf8_lossy(&o.stdout)))
            .unwrap_or_default();
        let kallsyms = std::fs::read_to_string("/proc/kallsyms")
            .map(|t| {
                t.lines()
                    .filter_map(|l| {
                        let mut f = l.split_whitespace();
                        let addr = u64::from_str_radix(f.next()?, 16).ok()?;
                        let _kind = f.next()?;
                        Some((f.next()?.to_owned(), addr))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Self {
            vmlinux,
            kconfig,
            kallsyms,
            version_code: version_code(release.trim()),
        }
    }

    /// A resolver over given parts (tests).
    pub fn new(
        vmlinux: Option<Btf<'static>>,
        kconfig: HashMap<String, String>,
        version_code: u32,
    ) -> Self {
        Self {
            vmlinux,
            kconfig,
            kallsyms: HashMap::new(),
            version_code,
        }
    }
}

fn le_bytes(v: u64, size: usize) -> Vec<u8> {
    let mut b = v.to_le_bytes().to_vec();
    b.resize(size, 0);
    b
}

impl ExternResolver for HostResolver {
    fn kconfig(&self, ext: &Extern) -> Option<Vec<u8>> {
        let ExternKind::Kconfig { size, .. } = ext.kind else {
            return None;
        };
        let size = size as usize;
        if ext.name == "LINUX_KERNEL_VERSION" {
            return Some(le_bytes(u64::from(self.version_code), size));
        }
        if ext.name == "LINUX_HAS_SYSCALL_WRAPPER" {
            // x86-64 has had syscall wrappers since 4.17.
            return Some(le_bytes(1, size));
        }
        let v = self.kconfig.get(&ext.name)?;
        // libbpf's rules by declared type; only the size is known here:
        // one byte holds a bool / tristate / char, more an integer or a
        // string.
        match v.as_str() {
            "y" => Some(le_bytes(1, size)),
            "m" => Some(le_bytes(2, size)),
            "n" => Some(le_bytes(0, size)),
            _ if v.starts_with('"') => {
                let s = v.trim_matches('"').as_bytes();
                let mut b = s[..s.len().min(size.saturating_sub(1))].to_vec();
                b.resize(size, 0);
                Some(b)
            }
            _ => {
                let n = match v.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16).ok()?,
                    None => v.parse::<i64>().ok()? as u64,
                };
                Some(le_bytes(n, size))
            }
        }
    }

    fn ksym(&self, ext: &Extern) -> Option<KsymValue> {
        let ExternKind::Ksym { func, type_id } = ext.kind else {
            return None;
        };
        if !func && type_id == 0 {
            return self.kallsyms.get(&ext.name).map(|&a| KsymValue::Address(a));
        }
        let btf = self.vmlinux.as_ref()?;
        let kind = if func { BtfKind::Func } else { BtfKind::Var };
        btf.find_by_name_kind(&ext.name, kind)
            .map(|t| KsymValue::BtfId(t.id().0))
    }
}
