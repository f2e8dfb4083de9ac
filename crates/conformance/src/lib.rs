//! The fixture corpus and the comparisons that prove bpfcheck agrees with
//! the kernel: loading every committed fixture into load requests, asking
//! the running kernel about them, and parsing what its log says.
//!
//! The tests of this crate are the differential tests of the project. Each
//! runs against the live kernel when `bpf()` is usable (printing a loud
//! `SKIPPED` line otherwise) and against the recordings committed with the
//! fixtures always, so that a machine without `bpf()` still checks bpfcheck
//! against recorded kernel answers — and a machine with it fails when a
//! recording has gone stale.

#![deny(missing_docs)]

pub mod helper_cases;
pub mod selftests;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bpfcheck_asm::{Expectation, Fixture, SymKind};
use bpfcheck_btf::{Btf, BtfKind};
use bpfcheck_uapi::LoadRequest;

/// One program of the corpus.
#[derive(Clone, Debug)]
pub struct CorpusProgram {
    /// The file it comes from.
    pub path: PathBuf,
    /// Program name (file stem for assembler fixtures, symbol for objects).
    pub name: String,
    /// What to load.
    pub request: LoadRequest,
    /// The kernel's recorded answer, for assembler fixtures.
    pub expect: Option<Expectation>,
}

impl CorpusProgram {
    /// `file:program`, for messages.
    pub fn label(&self) -> String {
        format!("{}:{}", self.path.display(), self.name)
    }
}

/// The repository's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn sorted_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == ext));
    files.sort();
    files
}

/// The running kernel's BTF, which the kernel symbols named by fixtures
/// (`call kfunc(NAME)`, `btf_id(NAME)`) are resolved against.
pub const HOST_BTF: &str = "/sys/kernel/btf/vmlinux";

/// The running kernel's BTF, read once; an error when it exposes none.
pub fn host_btf() -> Result<&'static Btf<'static>, String> {
    static HOST: OnceLock<Result<Btf<'static>, String>> = OnceLock::new();
    HOST.get_or_init(|| {
        let bytes = std::fs::read(HOST_BTF).map_err(|e| format!("{HOST_BTF}: {e}"))?;
        Btf::from_arc(bytes.into()).map_err(|e| format!("{HOST_BTF}: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The BTF id of a kernel symbol in `btf`: the FUNC named `name` for a
/// kfunc call, the VAR (else FUNC) for `btf_id(NAME)`.
pub fn find_kernel_symbol(btf: &Btf<'_>, name: &str, kind: SymKind) -> Option<u32> {
    let find = |k| btf.find_by_name_kind(name, k).map(|t| t.id().0);
    match kind {
        SymKind::Func => find(BtfKind::Func),
        SymKind::VarOrFunc => find(BtfKind::Var).or_else(|| find(BtfKind::Func)),
    }
}

/// Fills in the BTF ids of the kernel symbols `fx` names from `btf`.
pub fn resolve_kernel_symbols(fx: &mut Fixture, btf: &Btf<'_>) -> Result<(), String> {
    fx.resolve_kernel_symbols(&|name, kind| find_kernel_symbol(btf, name, kind))
        .map_err(|e| e.to_string())
}

/// Every assembler fixture of `fixtures/<sub>/`, in name order. Kernel
/// symbols a fixture names are resolved against the running kernel's BTF
/// ([`HOST_BTF`]); without it such a fixture is left out, with a printed
/// `SKIPPED` line saying why. A symbol the kernel's BTF lacks is an error.
pub fn asm_fixtures(sub: &str) -> Result<Vec<CorpusProgram>, String> {
    let mut out = Vec::new();
    for path in sorted_files(&fixtures_dir().join(sub), "s") {
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut fx = Fixture::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some(sym) = fx.kernel_symbols().first() {
            match host_btf() {
                Ok(btf) => resolve_kernel_symbols(&mut fx, btf)
                    .map_err(|e| format!("{} (against {HOST_BTF}): {e}", path.display()))?,
                Err(why) => {
                    report(&format!(
                        "SKIPPED {}: it names {} and the running kernel's BTF is unavailable ({why})",
                        path.display(),
                        sym.describe()
                    ));
                    continue;
                }
            }
        }
        let name = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        out.push(CorpusProgram {
            request: fx.load_request(&name),
            expect: fx.expect,
            name,
            path,
        });
    }
    Ok(out)
}

/// Every program of every compiled C fixture (`fixtures/c/*.o`).
pub fn object_fixtures() -> Result<Vec<CorpusProgram>, String> {
    let mut out = Vec::new();
    for path in sorted_files(&fixtures_dir().join("c"), "o") {
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let obj_name = bpfcheck_obj::object_name_from_path(&path);
        let obj = bpfcheck_obj::Object::parse_named(&bytes, &obj_name)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let reqs = obj
            .load_requests(&bpfcheck_obj::LoadOptions::default())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        for p in reqs {
            out.push(CorpusProgram {
                path: path.clone(),
                name: p.name,
                request: p.request,
                expect: None,
            });
        }
    }
    Ok(out)
}

/// The running kernel's profile: its release and, when exposed, its BTF.
/// `None` off Linux or without `/proc`.
pub fn host_profile() -> Option<bpfcheck_profile::KernelProfile> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let btf = std::fs::read(HOST_BTF).ok();
    let btf = btf.and_then(|b| bpfcheck_profile::KernelBtf::open(b).ok());
    let cpus = std::fs::read_to_string("/sys/devices/system/cpu/possible").ok();
    let cpus = cpus.and_then(|t| bpfcheck_profile::parse_possible_cpus(&t));
    bpfcheck_profile::KernelProfile::for_release(release.trim(), btf)
        .ok()
        .map(|p| p.with_possible_cpus(cpus))
}

/// Prints a measured figure where the test harness does not swallow it
/// (straight to the process's stderr, not through `eprintln!`), so every
/// test run shows the agreement figures.
pub fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// An instruction line of a verifier log: `N: (xx) text`, with any state
/// annotation (`   ; R0=0`) removed. Other lines give `None`.
pub fn parse_insn_line(line: &str) -> Option<(usize, &str)> {
    let (num, rest) = line.split_once(": ")?;
    let idx: usize = num.parse().ok()?;
    let b = rest.as_bytes();
    if b.len() < 4
        || b[0] != b'('
        || b[3] != b')'
        || !b[1].is_ascii_hexdigit()
        || !b[2].is_ascii_hexdigit()
    {
        return None;
    }
    // The verifier appends the changed registers after padding and `;`;
    // no instruction text contains `;`.
    let text = rest.split_once(';').map_or(rest, |(t, _)| t).trim_end();
    Some((idx, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_symbols_are_found_by_name_and_kind() {
        use bpfcheck_btf::builder::TypeSpec;
        use bpfcheck_btf::types::Linkage;
        let mut b = bpfcheck_btf::BtfBuilder::new();
        let int = b.int("int", 4, true);
        let f = b.func("both", int, &[]).unwrap();
        let v = b
            .add(&TypeSpec::Var {
                name: "both".into(),
                ty: int,
                linkage: Linkage::Global,
            })
            .unwrap();
        let only_f = b.func("only_func", int, &[]).unwrap();
        let bytes = b.to_bytes(bpfcheck_btf::ByteOrder::Little);
        let btf = Btf::parse(&bytes).unwrap();
        // A kfunc must be a FUNC; `btf_id(NAME)` prefers the VAR.
        assert_eq!(find_kernel_symbol(&btf, "both", SymKind::Func), Some(f.0));
        assert_eq!(
            find_kernel_symbol(&btf, "both", SymKind::VarOrFunc),
            Some(v.0)
        );
        assert_eq!(
            find_kernel_symbol(&btf, "only_func", SymKind::VarOrFunc),
            Some(only_f.0)
        );
        assert_eq!(find_kernel_symbol(&btf, "int", SymKind::VarOrFunc), None);
        assert_eq!(find_kernel_symbol(&btf, "nothing", SymKind::Func), None);

        let mut fx = Fixture::parse("call kfunc(only_func)\nr1 = btf_id(both)\nexit").unwrap();
        resolve_kernel_symbols(&mut fx, &btf).unwrap();
        assert_eq!(
            (fx.insns[0].imm, fx.insns[1].imm),
            (only_f.0 as i32, v.0 as i32)
        );
        let mut fx = Fixture::parse("exit\ncall kfunc(nothing)").unwrap();
        let e = resolve_kernel_symbols(&mut fx, &btf).unwrap_err();
        assert!(e.contains("line 2") && e.contains("kfunc `nothing`"), "{e}");
    }

    #[test]
    fn fixtures_naming_kernel_symbols_get_the_running_kernels_ids() {
        let Ok(btf) = host_btf() else {
            report(
                "SKIPPED fixtures_naming_kernel_symbols_get_the_running_kernels_ids: no /sys/kernel/btf/vmlinux",
            );
            return;
        };
        let asm = asm_fixtures("asm").unwrap();
        let kfunc = asm.iter().find(|p| p.name == "kfunc").unwrap();
        let lock = find_kernel_symbol(btf, "bpf_rcu_read_lock", SymKind::Func).unwrap();
        assert_eq!(kfunc.request.insns[0].imm as u32, lock);
        let ld = asm.iter().find(|p| p.name == "ld_btf_id").unwrap();
        let var = find_kernel_symbol(btf, "bpf_prog_active", SymKind::VarOrFunc).unwrap();
        assert_eq!(ld.request.insns[0].imm as u32, var);
    }

    #[test]
    fn insn_lines_are_recognised() {
        assert_eq!(
            parse_insn_line("0: (b7) r0 = 0                        ; R0=0"),
            Some((0, "(b7) r0 = 0"))
        );
        assert_eq!(
            parse_insn_line("12: (85) call bpf_map_lookup_elem#1"),
            Some((12, "(85) call bpf_map_lookup_elem#1"))
        );
        assert_eq!(parse_insn_line("0: R1=ctx() R10=fp0"), None);
        assert_eq!(parse_insn_line("      0: .1........ (b7) r0 = 0"), None);
        assert_eq!(parse_insn_line("from 1 to 3: R0=0"), None);
    }
}
