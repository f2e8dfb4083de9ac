//! The running kernel as libbpf sees it when it loads an object: its BTF
//! (CO-RE, attach targets, typed ksyms and kfuncs), `/proc/config.gz`
//! (`__kconfig`), `/proc/kallsyms` (typeless `__ksym`) and its version
//! (`LINUX_KERNEL_VERSION`, `kern_version`).
//!
//! [`HostResolver::load_options`] gives the [`LoadOptions`] that make
//! [`Object::load_requests`](crate::Object::load_requests) ask what
//! libbpf would ask of this kernel; the libbpf oracle of this crate's
//! tests uses exactly that.

use std::collections::HashMap;

use bpfcheck_btf::{Btf, BtfKind};

use crate::externs::{Extern, ExternKind, ExternResolver, KsymValue};
use crate::request::LoadOptions;

/// The running kernel's externs and BTF. What cannot be read stays empty:
/// externs needing it then do not resolve.
#[derive(Debug)]
pub struct HostResolver {
    vmlinux: Option<Btf<'static>>,
    kconfig: HashMap<String, String>,
    kallsyms: HashMap<String, u64>,
    version_code: u32,
}

/// `KERNEL_VERSION(a, b, c)` of a release string (`6.18.44-fc` →
/// 0x061220; the sublevel capped at 255 as the kernel does).
pub fn version_code(release: &str) -> u32 {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let a = parts.next().unwrap_or(0);
    let b = parts.next().unwrap_or(0);
    let c = parts.next().unwrap_or(0).min(255);
    (a << 16) | (b << 8) | c
}

/// The `CONFIG_X=value` lines of a kernel config.
pub fn parse_kconfig(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("CONFIG_"))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn le_bytes(v: u64, size: usize) -> Vec<u8> {
    let mut b = v.to_le_bytes().to_vec();
    b.resize(size, 0);
    b
}

impl HostResolver {
    /// Reads the running kernel's BTF, config, symbols and release.
    pub fn probe() -> Self {
        let vmlinux = std::fs::read("/sys/kernel/btf/vmlinux")
            .ok()
            .and_then(|b| Btf::from_arc(b.into()).ok());
        // libbpf reads /boot/config-$(uname -r) first, then /proc/config.gz
        // (compressed: the system's gzip reads it).
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let kconfig = std::fs::read_to_string(format!("/boot/config-{}", release.trim()))
            .ok()
            .or_else(|| {
                std::process::Command::new("gzip")
                    .args(["-dc", "/proc/config.gz"])
                    .output()
                    .ok()
                    .filter(|o| o.status.success())
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            })
            .map(|t| parse_kconfig(&t))
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
        Self {
            vmlinux,
            kconfig,
            kallsyms,
            version_code: version_code(release.trim()),
        }
    }

    /// A resolver over given parts.
    pub fn new(
        vmlinux: Option<Btf<'static>>,
        kconfig: HashMap<String, String>,
        kallsyms: HashMap<String, u64>,
        version_code: u32,
    ) -> Self {
        Self {
            vmlinux,
            kconfig,
            kallsyms,
            version_code,
        }
    }

    /// The kernel's BTF, if it exposes one.
    pub fn vmlinux(&self) -> Option<&Btf<'static>> {
        self.vmlinux.as_ref()
    }

    /// `LINUX_VERSION_CODE` of the kernel.
    pub fn version_code(&self) -> u32 {
        self.version_code
    }

    /// What libbpf would use on this kernel: this resolver, the kernel's
    /// BTF as CO-RE and attach target, its version as `kern_version`.
    pub fn load_options(&self) -> LoadOptions<'_> {
        LoadOptions {
            resolver: Some(self),
            kernel_version: Some(self.version_code),
            target_btf: self.vmlinux.as_ref(),
        }
    }
}

impl ExternResolver for HostResolver {
    /// libbpf's values, told apart by size only: `y` / `m` / `n` are 1 / 2
    /// / 0, quoted values strings, others numbers. (A `char` extern gets
    /// 1 for `y`, where libbpf stores the character.)
    fn kconfig(&self, ext: &Extern) -> Option<Vec<u8>> {
        let ExternKind::Kconfig { size, .. } = ext.kind else {
            return None;
        };
        let size = size as usize;
        match ext.name.as_str() {
            "LINUX_KERNEL_VERSION" => return Some(le_bytes(u64::from(self.version_code), size)),
            // libbpf's own virtual options, true on any kernel bpfcheck
            // loads into (x86-64 syscall wrappers since 4.17, BPF cookies
            // since 5.15).
            "LINUX_HAS_SYSCALL_WRAPPER" | "LINUX_HAS_BPF_COOKIE" => {
                return Some(le_bytes(1, size));
            }
            _ => {}
        }
        let v = self.kconfig.get(&ext.name)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_configs() {
        assert_eq!(version_code("6.18.44-fc-v1300"), 0x06_12_2c);
        assert_eq!(version_code("5.4.300"), 0x05_04_ff);
        let k = parse_kconfig("# c\nCONFIG_A=y\nCONFIG_B=\"x\"\nX=1\n");
        assert_eq!(k.len(), 2);
        let ext = |name: &str, size| Extern {
            name: name.into(),
            weak: false,
            kind: ExternKind::Kconfig {
                offset: 0,
                size,
                align: 1,
            },
            btf_id: 1,
            sym_index: 1,
        };
        let mut cfg = HashMap::new();
        cfg.insert("CONFIG_HZ".to_owned(), "250".to_owned());
        cfg.insert("CONFIG_S".to_owned(), "\"abc\"".to_owned());
        cfg.insert("CONFIG_M".to_owned(), "m".to_owned());
        let r = HostResolver::new(None, cfg, HashMap::new(), 0x06_12_00);
        assert_eq!(r.kconfig(&ext("CONFIG_HZ", 4)), Some(vec![250, 0, 0, 0]));
        assert_eq!(r.kconfig(&ext("CONFIG_S", 5)), Some(b"abc\0\0".to_vec()));
        assert_eq!(r.kconfig(&ext("CONFIG_M", 4)), Some(vec![2, 0, 0, 0]));
        assert_eq!(r.kconfig(&ext("CONFIG_NONE", 1)), None);
        assert_eq!(
            r.kconfig(&ext("LINUX_KERNEL_VERSION", 4)),
            Some(vec![0, 0x12, 6, 0])
        );
    }
}
