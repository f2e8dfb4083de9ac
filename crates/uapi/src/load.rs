//! A load request: what `BPF_PROG_LOAD` receives, in a form that does not
//! depend on file descriptors, so that the same value can be handed to
//! bpfcheck's verifier and (through `bpfcheck-sys`) to the running kernel.
//!
//! Maps are described, not opened: the `imm` of an `ld_imm64` with a map-fd
//! pseudo source is an index into [`LoadRequest::maps`], and `fd_array`
//! entries name maps or BTF objects by index too. The kernel side replaces
//! each index with the fd of a map it creates from the [`MapSpec`].

use std::{fmt, str::FromStr};

use crate::{AttachType, MapType, ProgType, RawInsn};

/// `BPF_F_STRICT_ALIGNMENT`.
pub const BPF_F_STRICT_ALIGNMENT: u32 = 1 << 0;
/// `BPF_F_ANY_ALIGNMENT`.
pub const BPF_F_ANY_ALIGNMENT: u32 = 1 << 1;
/// `BPF_F_TEST_RND_HI32`.
pub const BPF_F_TEST_RND_HI32: u32 = 1 << 2;
/// `BPF_F_TEST_STATE_FREQ`.
pub const BPF_F_TEST_STATE_FREQ: u32 = 1 << 3;
/// `BPF_F_SLEEPABLE`.
pub const BPF_F_SLEEPABLE: u32 = 1 << 4;
/// `BPF_F_XDP_HAS_FRAGS`.
pub const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;
/// `BPF_F_XDP_DEV_BOUND_ONLY`.
pub const BPF_F_XDP_DEV_BOUND_ONLY: u32 = 1 << 6;
/// `BPF_F_TEST_REG_INVARIANTS`.
pub const BPF_F_TEST_REG_INVARIANTS: u32 = 1 << 7;

/// Program flags by the names `__flag()` annotations and the CLI use.
pub const PROG_FLAG_NAMES: &[(&str, u32)] = &[
    ("BPF_F_STRICT_ALIGNMENT", BPF_F_STRICT_ALIGNMENT),
    ("BPF_F_ANY_ALIGNMENT", BPF_F_ANY_ALIGNMENT),
    ("BPF_F_TEST_RND_HI32", BPF_F_TEST_RND_HI32),
    ("BPF_F_TEST_STATE_FREQ", BPF_F_TEST_STATE_FREQ),
    ("BPF_F_SLEEPABLE", BPF_F_SLEEPABLE),
    ("BPF_F_XDP_HAS_FRAGS", BPF_F_XDP_HAS_FRAGS),
    ("BPF_F_XDP_DEV_BOUND_ONLY", BPF_F_XDP_DEV_BOUND_ONLY),
    ("BPF_F_TEST_REG_INVARIANTS", BPF_F_TEST_REG_INVARIANTS),
];

/// Parses `BPF_F_SLEEPABLE|BPF_F_TEST_STATE_FREQ`, `sleepable`, or a number.
pub fn parse_prog_flags(s: &str) -> Result<u32, String> {
    let mut flags = 0;
    for part in s.split(['|', ',']).map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(hex) = part.strip_prefix("0x") {
            flags |= u32::from_str_radix(hex, 16)
                .map_err(|e| format!("bad flag number `{part}`: {e}"))?;
        } else if let Ok(n) = part.parse::<u32>() {
            flags |= n;
        } else {
            let upper = part.to_ascii_uppercase();
            let full = if upper.starts_with("BPF_F_") {
                upper
            } else {
                format!("BPF_F_{upper}")
            };
            let (_, v) = PROG_FLAG_NAMES
                .iter()
                .find(|(n, _)| *n == full)
                .ok_or_else(|| format!("unknown program flag `{part}`"))?;
            flags |= v;
        }
    }
    Ok(flags)
}

/// A program name the kernel accepts, made from any text (a file name):
/// characters other than ASCII letters, digits, `_` and `.` become `_`,
/// and it keeps the 15 bytes the kernel keeps.
pub fn prog_name_from(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(15)
        .collect()
}

/// A map the program refers to, described well enough to create it.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct MapSpec {
    /// Map name (the kernel keeps 15 bytes).
    pub name: String,
    /// `map_type`.
    pub map_type: MapType,
    /// `key_size` in bytes.
    pub key_size: u32,
    /// `value_size` in bytes.
    pub value_size: u32,
    /// `max_entries`.
    pub max_entries: u32,
    /// `map_flags` (`BPF_F_NO_PREALLOC`, `BPF_F_RDONLY_PROG`, …).
    pub flags: u32,
    /// `map_extra` (bloom filter hashes, arena address).
    pub map_extra: u64,
    /// Key type in the program's BTF, 0 when none.
    pub btf_key_type_id: u32,
    /// Value type in the program's BTF, 0 when none.
    pub btf_value_type_id: u32,
    /// `btf_vmlinux_value_type_id` (struct_ops maps).
    pub btf_vmlinux_value_type_id: u32,
    /// Template of the inner map, for map-in-map types.
    pub inner: Option<Box<MapSpec>>,
    /// Initial contents (global data); a frozen map's loads are constants.
    pub initial_value: Option<Vec<u8>>,
    /// Whether the loader freezes the map before loading programs (libbpf
    /// freezes `.rodata` and `.kconfig`).
    pub frozen: bool,
}

impl MapSpec {
    /// A map of the given shape with no BTF and no contents.
    pub fn new(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32) -> Self {
        Self {
            map_type,
            key_size,
            value_size,
            max_entries,
            ..Self::default()
        }
    }
}

/// Error of [`MapSpec::from_str`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpecError(pub String);

impl fmt::Display for MapSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MapSpecError {}

impl FromStr for MapSpec {
    type Err = MapSpecError;

    /// Parses the CLI's `TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES[:FLAGS]`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(':').collect();
        if !(4..=5).contains(&parts.len()) {
            return Err(MapSpecError(format!(
                "map spec `{s}`: expected TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES[:FLAGS]"
            )));
        }
        let map_type = MapType::from_name(parts[0]).ok_or_else(|| {
            MapSpecError(format!("map spec `{s}`: unknown map type `{}`", parts[0]))
        })?;
        let num = |i: usize, what: &str| -> Result<u32, MapSpecError> {
            let p = parts[i];
            let r = match p.strip_prefix("0x") {
                Some(h) => u32::from_str_radix(h, 16),
                None => p.parse(),
            };
            r.map_err(|_| MapSpecError(format!("map spec `{s}`: {what} `{p}` is not a number")))
        };
        let mut spec = MapSpec::new(
            map_type,
            num(1, "key size")?,
            num(2, "value size")?,
            num(3, "max entries")?,
        );
        if parts.len() == 5 {
            spec.flags = num(4, "flags")?;
        }
        spec.name = format!("map{}", map_type.name().unwrap_or("unknown"));
        spec.name.truncate(15);
        Ok(spec)
    }
}

/// What one `fd_array` slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FdRef {
    /// The map at this index of [`LoadRequest::maps`].
    Map(u32),
    /// The BTF object at this index of [`LoadRequest::btf_objects`].
    Btf(u32),
    /// A number passed through as is (for testing the kernel's checks).
    Raw(i32),
}

/// One `bpf_func_info` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FuncInfo {
    /// First instruction of the function.
    pub insn_off: u32,
    /// Its `BTF_KIND_FUNC` id in the program's BTF.
    pub type_id: u32,
}

/// One `bpf_line_info` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LineInfo {
    /// First instruction the line covers.
    pub insn_off: u32,
    /// File name, as an offset into the BTF string section.
    pub file_name_off: u32,
    /// Source line text, as an offset into the BTF string section.
    pub line_off: u32,
    /// `line << 10 | column`.
    pub line_col: u32,
}

impl LineInfo {
    /// Source line number.
    pub fn line(&self) -> u32 {
        self.line_col >> 10
    }
    /// Source column.
    pub fn column(&self) -> u32 {
        self.line_col & 0x3ff
    }
}

/// Everything a program load carries, fd-free.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct LoadRequest {
    /// `prog_name` (the kernel keeps 15 bytes).
    pub name: String,
    /// `prog_type`.
    pub prog_type: ProgType,
    /// `expected_attach_type`.
    pub expected_attach_type: AttachType,
    /// The instructions (`insns`).
    pub insns: Vec<RawInsn>,
    /// `license`.
    pub license: String,
    /// `kern_version`.
    pub kern_version: u32,
    /// `prog_flags`.
    pub prog_flags: u32,
    /// `attach_btf_id` in the kernel's (or the attach object's) BTF.
    pub attach_btf_id: u32,
    /// Name of the attach target (function, tracepoint, struct_ops member),
    /// kept so that a profile can resolve it to its own BTF id.
    pub attach_target: Option<String>,
    /// The program's BTF (`prog_btf_fd`), as raw `.BTF` bytes.
    pub prog_btf: Option<Vec<u8>>,
    /// `func_info`.
    pub func_info: Vec<FuncInfo>,
    /// `line_info`.
    pub line_info: Vec<LineInfo>,
    /// Maps referenced by `ld_imm64` map pseudo sources and `fd_array`.
    pub maps: Vec<MapSpec>,
    /// Other BTF objects referenced from `fd_array` (module BTF for kfuncs).
    pub btf_objects: Vec<Vec<u8>>,
    /// `fd_array`, when the loader passes one.
    pub fd_array: Option<Vec<FdRef>>,
    /// `fd_array_cnt` (6.14+): how many leading `fd_array` entries the
    /// kernel binds to the program before verification.
    pub fd_array_cnt: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_specs_parse() {
        let m: MapSpec = "hash:4:8:16".parse().unwrap();
        assert_eq!(
            (m.map_type, m.key_size, m.value_size, m.max_entries, m.flags),
            (MapType::HASH, 4, 8, 16, 0)
        );
        let m: MapSpec = "array:4:48:1:0x80".parse().unwrap();
        assert_eq!(m.flags, 0x80);
        assert!(
            "hash:4:8"
                .parse::<MapSpec>()
                .unwrap_err()
                .0
                .contains("expected TYPE")
        );
        assert!(
            "nope:4:8:1"
                .parse::<MapSpec>()
                .unwrap_err()
                .0
                .contains("unknown map type")
        );
        assert!(
            "hash:x:8:1"
                .parse::<MapSpec>()
                .unwrap_err()
                .0
                .contains("key size")
        );
    }

    #[test]
    fn names_from_file_names() {
        assert_eq!(
            prog_name_from("smith-verdict-kernel-accepts"),
            "smith_verdict_k"
        );
        assert_eq!(prog_name_from("alu64"), "alu64");
    }

    #[test]
    fn prog_flags_parse() {
        assert_eq!(
            parse_prog_flags("BPF_F_SLEEPABLE|BPF_F_TEST_STATE_FREQ"),
            Ok(0x18)
        );
        assert_eq!(parse_prog_flags("sleepable,0x1"), Ok(0x11));
        assert!(parse_prog_flags("nope").is_err());
    }
}
