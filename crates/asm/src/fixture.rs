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
        let (prog_btf, func_info) = self
            .funcs
            .as_ref()
            .and_then(|d| crate::func_btf::build(d, &self.insns).ok())
            .map_or((None, Vec::new()), |(b, f)| (Some(b), f));
        LoadRequest {
            name: bpfcheck_uapi::prog_name_from(name),
            prog_btf,
            func_info,
            prog_type: self.prog_type,
            expected_attach_type: self.expected_attach_type,
            insns: self.insns.clone(),
            license: self.license.clone(),
            prog_flags: self.prog_flags,
            maps: self.maps.clone(),
            fd_array: self.fd_array.clone(),
            ..LoadRequest::default()
        }
    }
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
