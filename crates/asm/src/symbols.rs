//! Kernel symbols named in a program: `call kfunc(NAME)` and
//! `rX = btf_id(NAME)`. Their BTF ids belong to one kernel build, so the
//! assembler leaves them open and a caller with that kernel's BTF fills
//! them in.

use std::fmt;

use bpfcheck_uapi::RawInsn;

use crate::AsmError;

/// Which BTF kind a named kernel symbol must have in the kernel's BTF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SymKind {
    /// `call kfunc(NAME)`: a `BTF_KIND_FUNC` of the kernel (the kernel
    /// itself checks that it is a kfunc the program may call).
    Func,
    /// `rX = btf_id(NAME)`: a `BTF_KIND_VAR` (a per-CPU or global kernel
    /// variable) or, failing that, a `BTF_KIND_FUNC` (6.0+ accept functions
    /// in `ld_imm64`). A lookup should prefer the VAR when both exist.
    VarOrFunc,
}

impl SymKind {
    /// How the kind is written in messages: `FUNC`, `VAR or FUNC`.
    pub fn describe(self) -> &'static str {
        match self {
            SymKind::Func => "FUNC",
            SymKind::VarOrFunc => "VAR or FUNC",
        }
    }
}

impl fmt::Display for SymKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A kernel symbol the program names, whose BTF id is still to be filled
/// in: the `imm` of instruction `slot` is 0 until then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSymbol {
    /// Index of the instruction slot whose `imm` takes the BTF id (the
    /// call, or the first slot of the `ld_imm64`).
    pub slot: usize,
    /// The symbol's name, as written.
    pub name: String,
    /// The BTF kind it must have.
    pub kind: SymKind,
    /// 1-based line of the name in the program text.
    pub line: usize,
    /// 1-based column of the name.
    pub column: usize,
}

impl KernelSymbol {
    /// How the program uses the symbol: `kfunc `NAME``, `btf_id `NAME``.
    pub fn describe(&self) -> String {
        match self.kind {
            SymKind::Func => format!("kfunc `{}`", self.name),
            SymKind::VarOrFunc => format!("kernel symbol `{}`", self.name),
        }
    }
}

/// A program as assembled before any kernel is known: the instructions and
/// the kernel symbols whose BTF ids they still lack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assembled {
    /// The instructions; each [`KernelSymbol::slot`] has `imm` 0.
    pub insns: Vec<RawInsn>,
    /// The named kernel symbols, in program order.
    pub kernel_symbols: Vec<KernelSymbol>,
}

/// How a kernel's BTF ids are found: the id of the type named `name` of
/// kind `kind` in that kernel's BTF, or `None` when it has none.
pub type SymbolLookup<'a> = &'a dyn Fn(&str, SymKind) -> Option<u32>;

impl Assembled {
    /// The final instructions, with every kernel symbol's BTF id found by
    /// `lookup`. Fails on the first symbol `lookup` does not find (or whose
    /// id does not fit the 32-bit `imm`), naming it and its line.
    pub fn resolve(mut self, lookup: SymbolLookup<'_>) -> Result<Vec<RawInsn>, AsmError> {
        resolve_into(&mut self.insns, &self.kernel_symbols, lookup)?;
        Ok(self.insns)
    }
}

/// Writes the BTF id of every symbol into its slot's `imm`.
pub(crate) fn resolve_into(
    insns: &mut [RawInsn],
    symbols: &[KernelSymbol],
    lookup: SymbolLookup<'_>,
) -> Result<(), AsmError> {
    for sym in symbols {
        let id = lookup(&sym.name, sym.kind).ok_or_else(|| {
            AsmError::new(
                sym.line,
                sym.column,
                format!(
                    "{}: the kernel's BTF has no {} of that name",
                    sym.describe(),
                    sym.kind
                ),
            )
        })?;
        let imm = i32::try_from(id).map_err(|_| {
            AsmError::new(
                sym.line,
                sym.column,
                format!("{}: BTF id {id} does not fit in 32 bits", sym.describe()),
            )
        })?;
        if let Some(insn) = insns.get_mut(sym.slot) {
            insn.imm = imm;
        }
    }
    Ok(())
}

/// The error [`crate::assemble`] gives for a program that names kernel
/// symbols: it has no final bytes without a kernel's BTF.
pub(crate) fn unresolved_error(sym: &KernelSymbol) -> AsmError {
    AsmError::new(
        sym.line,
        sym.column,
        format!(
            "{} is named: its BTF id depends on the kernel build, so the program \
             has no final bytes without a kernel's BTF (use `assemble_with_symbols` \
             and resolve it against a kernel)",
            sym.describe()
        ),
    )
}
