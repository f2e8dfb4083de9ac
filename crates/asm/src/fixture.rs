//! Fixture programs: an assembly text whose `;!` comment lines say how to
//! load it and what the kernel answered.
//!
//! ```text
//! ;! prog_type: socket_filter
//! ;! map: hash:4:8:16
//! ;! expect: rejected EACCES R0 !read_ok
//!     exit
//! ```
//!
//! The directives are documented in `fixtures/README.md`.

use bpfcheck_uapi::{AttachType, Errno, FdRef, LoadRequest, MapSpec, ProgType, RawInsn};

use crate::program::assemble_with_symbols;
use crate::symbols::resolve_into;
use crate::{AsmError, KernelSymbol, SymbolLookup};

/// What the kernel did with a fixture when it was recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// `BPF_PROG_LOAD` succeeded.
    Accepted,
    /// `BPF_PROG_LOAD` failed with `errno`; `message` is the last
    /// meaningful verifier log line (empty when the kernel logged nothing).
    Rejected {
        /// The errno `bpf()` returned.
        errno: Errno,
        /// The kernel's error line, verbatim.
        message: String,
    },
}

/// A parsed fixture: load parameters, expectation and instructions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fixture {
    /// `;! prog_type:` (default `socket_filter`).
    pub prog_type: ProgType,
    /// `;! expected_attach_type:` (default 0).
    pub expected_attach_type: AttachType,
    /// `;! prog_flags:` (default 0).
    pub prog_flags: u32,
    /// `;! license:` (default `GPL`).
    pub license: String,
    /// `;! map:` lines, in order: map index i is the i-th line.
    pub maps: Vec<MapSpec>,
    /// `;! fd_array:` entries.
    pub fd_array: Option<Vec<FdRef>>,
    /// `;! map_value:` lines: the special fields (`spin_lock@4`) to give a
    /// map's value type in a generated program BTF.
    pub map_values: Vec<(u32, Vec<(SpecialStruct, u32)>)>,
    /// `;! expect:`, if present.
    pub expect: Option<Expectation>,
    /// The assembled program. Until [`Fixture::resolve_kernel_symbols`]
    /// has run, the slots of [`Fixture::kernel_symbols`] have `imm` 0.
    pub insns: Vec<RawInsn>,
    /// Kernel symbols named by the program whose BTF ids are not filled in.
    kernel_symbols: Vec<KernelSymbol>,
    /// `;! func_info:`: program BTF with one `FUNC` per subprogram.
    funcs: Option<Vec<crate::func_btf::FuncDecl>>,
}

impl Fixture {
    /// Parses the directives and assembles the program. Kernel symbols it
    /// names (`call kfunc(NAME)`, `btf_id(NAME)`) are kept open: see
    /// [`Fixture::kernel_symbols`].
    pub fn parse(text: &str) -> Result<Self, AsmError> {
        let mut f = Fixture {
            prog_type: ProgType::SOCKET_FILTER,
            expected_attach_type: AttachType::default(),
            prog_flags: 0,
            license: "GPL".to_owned(),
            maps: Vec::new(),
            fd_array: None,
            map_values: Vec::new(),
            expect: None,
            insns: Vec::new(),
            kernel_symbols: Vec::new(),
            funcs: None,
        };
        for (i, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            let Some(directive) = trimmed.strip_prefix(";!") else {
                continue;
            };
            let column = line.len() - trimmed.len() + 3;
            let err = |msg: String| AsmError::new(i + 1, column, msg);
            let Some((key, value)) = directive.split_once(':') else {
                return Err(err("expected `;! key: value`".to_owned()));
            };
            f.apply(key.trim(), value.trim()).map_err(err)?;
        }
        let assembled = assemble_with_symbols(text)?;
        f.insns = assembled.insns;
        f.kernel_symbols = assembled.kernel_symbols;
        if let Some(decls) = &f.funcs {
            crate::func_btf::build(decls, &f.insns).map_err(|e| AsmError::new(1, 1, e))?;
        }
        Ok(f)
    }

    /// The kernel symbols the program names whose BTF ids are still to be
    /// filled in (empty for a program without names, and after
    /// [`Fixture::resolve_kernel_symbols`]).
    pub fn kernel_symbols(&self) -> &[KernelSymbol] {
        &self.kernel_symbols
    }

    /// Fills in the BTF id of every kernel symbol, as `lookup` finds it in
    /// a kernel's BTF. Fails, naming the symbol and its line, when `lookup`
    /// finds nothing; the fixture is then unchanged.
    pub fn resolve_kernel_symbols(&mut self, lookup: SymbolLookup<'_>) -> Result<(), AsmError> {
        let mut insns = self.insns.clone();
        resolve_into(&mut insns, &self.kernel_symbols, lookup)?;
        self.insns = insns;
        self.kernel_symbols.clear();
        Ok(())
    }

    /// `inner_map: IDX TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES[:FLAGS]`: the
    /// inner-map template of map-in-map `IDX` (created first, its fd
    /// passed as `inner_map_fd`).
    fn set_inner_map(&mut self, value: &str) -> Result<(), String> {
        let (idx, spec) = value
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("inner_map `{value}`: expected IDX TYPE:K:V:N"))?;
        let idx = idx
            .parse::<usize>()
            .map_err(|_| format!("inner_map `{value}`: bad map index"))?;
        let mut inner = spec.trim().parse::<MapSpec>().map_err(|e| e.to_string())?;
        let outer = self
            .maps
            .get_mut(idx)
            .ok_or_else(|| format!("inner_map `{value}`: no map {idx} yet"))?;
        inner.name = format!("{}.inner", outer.name);
        inner.name.truncate(15);
        outer.inner = Some(Box::new(inner));
        Ok(())
    }

    fn apply(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "prog_type" => {
                self.prog_type = ProgType::from_name(value)
                    .ok_or_else(|| format!("unknown program type `{value}`"))?;
            }
            "expected_attach_type" => {
                let name = value.strip_prefix("BPF_").unwrap_or(value);
                self.expected_attach_type = AttachType::from_name(name)
                    .ok_or_else(|| format!("unknown attach type `{value}`"))?;
            }
            "prog_flags" => self.prog_flags = bpfcheck_uapi::parse_prog_flags(value)?,
            "license" => value.clone_into(&mut self.license),
            "map" => self
                .maps
                .push(value.parse::<MapSpec>().map_err(|e| e.to_string())?),
            "fd_array" => {
                let entries = value
                    .split_whitespace()
                    .map(parse_fd_ref)
                    .collect::<Result<Vec<_>, _>>()?;
                self.fd_array = Some(entries);
            }
            "map_value" => self.map_values.push(parse_map_value(value)?),
            "inner_map" => self.set_inner_map(value)?,
            "expect" => self.expect = Some(parse_expect(value)?),
            "func_info" => self.funcs = Some(crate::func_btf::parse(value)?),
            _ => return Err(format!("unknown directive `{key}`")),
        }
        Ok(())
    }

    /// The load request this fixture describes, named after `name` (a
    /// file name, say) as the kernel accepts program names
    /// ([`bpfcheck_uapi::prog_name_from`]).
    ///
    /// # Panics
    ///
    /// If kernel symbols are still unresolved: their instructions have no
    /// BTF id yet, and a request with id 0 in their place would be
    /// silently wrong. Call [`Fixture::resolve_kernel_symbols`] first.
    pub fn load_request(&self, name: &str) -> LoadRequest {
        if let Some(sym) = self.kernel_symbols.first() {
            panic!(
                "line {}: {} is not resolved: call Fixture::resolve_kernel_symbols \
                 with a kernel's BTF before Fixture::load_request",
                sym.line,
                sym.describe()
            );
        }
        let mut maps = self.maps.clone();
        // One program BTF per fixture, holding the maps' types and then
        // the functions when there are both.
        let (prog_btf, func_info) = if self.map_values.is_empty() {
            self.funcs
                .as_ref()
                .and_then(|d| crate::func_btf::build(d, &self.insns).ok())
                .map_or((None, Vec::new()), |(b, f)| (Some(b), f))
        } else {
            let (btf, funcs) = map_value_btf(
                &mut maps,
                &self.map_values,
                self.funcs.as_deref(),
                &self.insns,
            );
            (Some(btf), funcs)
        };
        LoadRequest {
            name: bpfcheck_uapi::prog_name_from(name),
            prog_btf,
            func_info,
            prog_type: self.prog_type,
            expected_attach_type: self.expected_attach_type,
            insns: self.insns.clone(),
            license: self.license.clone(),
            prog_flags: self.prog_flags,
            maps,
            fd_array: self.fd_array.clone(),
            ..LoadRequest::default()
        }
    }
}

/// A field the kernel recognises in a map value: a struct by its name and
/// size, or a pointer tagged as a kptr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecialStruct {
    /// `struct bpf_spin_lock` (4 bytes).
    SpinLock,
    /// `struct bpf_timer` (16 bytes).
    Timer,
    /// `struct bpf_wq` (16 bytes).
    Workqueue,
    /// `struct bpf_refcount` (4 bytes).
    Refcount,
    /// A pointer to `struct TARGET` under the type tag `tag` (`kptr`,
    /// `kptr_untrusted`, `percpu_kptr`): written `TAG:TARGET`.
    Kptr {
        /// The type tag.
        tag: String,
        /// The struct's name (a kernel type, found by name).
        target: String,
    },
}

impl SpecialStruct {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "spin_lock" => Self::SpinLock,
            "timer" => Self::Timer,
            "wq" => Self::Workqueue,
            "refcount" => Self::Refcount,
            _ => {
                let (tag, target) = s.split_once(':')?;
                if !matches!(tag, "kptr" | "kptr_untrusted" | "percpu_kptr") || target.is_empty() {
                    return None;
                }
                Self::Kptr {
                    tag: tag.to_owned(),
                    target: target.to_owned(),
                }
            }
        })
    }

    /// The C struct's name and size (a kptr's pointee, for a kptr).
    fn shape(&self) -> (&str, u32) {
        match self {
            Self::SpinLock => ("bpf_spin_lock", 4),
            Self::Timer => ("bpf_timer", 16),
            Self::Workqueue => ("bpf_wq", 16),
            Self::Refcount => ("bpf_refcount", 4),
            Self::Kptr { target, .. } => (target, 4),
        }
    }
}

/// `N KIND@OFF…`: map index N's value holds each KIND (`spin_lock`,
/// `timer`, `wq`, `refcount`, or a kptr `kptr:task_struct`) at byte OFF.
fn parse_map_value(value: &str) -> Result<(u32, Vec<(SpecialStruct, u32)>), String> {
    let mut words = value.split_whitespace();
    let idx = words
        .next()
        .and_then(|w| w.parse::<u32>().ok())
        .ok_or_else(|| format!("map_value `{value}`: expected a map index first"))?;
    let fields = words
        .map(|w| {
            let (kind, off) = w
                .split_once('@')
                .ok_or_else(|| format!("map_value field `{w}`: expected KIND@OFFSET"))?;
            let kind = SpecialStruct::parse(kind)
                .ok_or_else(|| format!("map_value field `{w}`: unknown kind `{kind}`"))?;
            let off = off
                .parse::<u32>()
                .map_err(|_| format!("map_value field `{w}`: bad offset"))?;
            Ok((kind, off))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((idx, fields))
}

/// A program BTF in which each named map's key is an integer of its key
/// size and its value a struct of its value size holding the given
/// special structs (as libbpf passes a map's BTF).
fn map_value_btf(
    maps: &mut [MapSpec],
    values: &[(u32, Vec<(SpecialStruct, u32)>)],
    funcs: Option<&[crate::func_btf::FuncDecl]>,
    insns: &[bpfcheck_uapi::RawInsn],
) -> (Vec<u8>, Vec<bpfcheck_uapi::FuncInfo>) {
    use bpfcheck_btf::{BtfBuilder, ByteOrder};
    let mut b = BtfBuilder::new();
    let u32_ = b.int("unsigned int", 4, false);
    for (idx, fields) in values {
        let Some(map) = maps.get_mut(*idx as usize) else {
            continue;
        };
        let key = b.int(&format!("key{idx}"), map.key_size, false);
        let mut members = Vec::new();
        let names: Vec<String> = (0..fields.len()).map(|k| format!("f{k}")).collect();
        for ((kind, off), name) in fields.iter().zip(&names) {
            let (sname, size) = kind.shape();
            let st = b
                .struct_(sname, size, &[("__opaque", u32_, 0)])
                .unwrap_or_default();
            let ty = match kind {
                SpecialStruct::Kptr { tag, .. } => {
                    let tagged = b
                        .add(&bpfcheck_btf::builder::TypeSpec::TypeTag {
                            value: tag.clone(),
                            target: st,
                            attr: false,
                        })
                        .unwrap_or_default();
                    b.ptr(tagged)
                }
                _ => st,
            };
            members.push((name.as_str(), ty, *off));
        }
        let value = b
            .struct_(&format!("val{idx}"), map.value_size, &members)
            .unwrap_or_default();
        map.btf_key_type_id = key.0;
        map.btf_value_type_id = value.0;
    }
    let func_info = funcs
        .and_then(|d| crate::func_btf::add_to(&mut b, d, insns).ok())
        .unwrap_or_default();
    (b.to_bytes(ByteOrder::Little), func_info)
}

/// `mapN`, `btfN` or a raw number.
fn parse_fd_ref(s: &str) -> Result<FdRef, String> {
    let index = |digits: &str| digits.parse::<u32>().ok();
    if let Some(n) = s.strip_prefix("map").and_then(index) {
        return Ok(FdRef::Map(n));
    }
    if let Some(n) = s.strip_prefix("btf").and_then(index) {
        return Ok(FdRef::Btf(n));
    }
    s.parse::<i32>()
        .map(FdRef::Raw)
        .map_err(|_| format!("fd_array entry `{s}`: expected mapN, btfN or a number"))
}

/// `accepted` or `rejected ERRNO [message]`.
fn parse_expect(value: &str) -> Result<Expectation, String> {
    if value == "accepted" {
        return Ok(Expectation::Accepted);
    }
    let rest = value
        .strip_prefix("rejected")
        .filter(|r| r.is_empty() || r.starts_with(' '))
        .ok_or_else(|| {
            format!("expect `{value}`: expected `accepted` or `rejected ERRNO MESSAGE`")
        })?
        .trim_start();
    let (name, message) = rest.split_once(' ').unwrap_or((rest, ""));
    let errno = Errno::from_name(name)
        .ok_or_else(|| format!("expect `{value}`: `{name}` is not an errno name"))?;
    Ok(Expectation::Rejected {
        errno,
        message: message.to_owned(),
    })
}
