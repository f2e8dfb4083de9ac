//! The compiled objects of the cache, each program's status, and the
//! harness that runs them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bpfcheck_btf::Btf;
use bpfcheck_btf::lines::LineTable;
use bpfcheck_obj::{LoadOptions, Object};
use bpfcheck_report::{KernelSide, Record, RegChange, SourceLocation, Trace, TraceStep};
use bpfcheck_sys::Kernel;
use bpfcheck_uapi::load::{BPF_F_TEST_REG_INVARIANTS, BPF_F_TEST_RND_HI32};
use bpfcheck_uapi::{LoadRequest, ProgType, RawInsn, op};
use bpfcheck_verifier::{
    KernelProfile, LOG_LEVEL2, Observation, Observe, Verdict, Verification, VerifyOptions,
    verify_observed,
};
use rayon::prelude::*;
use serde::Serialize;

use super::annotations::{SpecSummary, spec_of};
use super::run::{
    AnnotationCheck, ProgramId, ask_kernel, bpfcheck_log, check_annotation, diff_record,
    kernel_side, load_log_level, logs_agree, needs_trampoline, resolve_attach_btf_id,
    strip_stats_lines, visible_log,
};
use bpfcheck_obj::HostResolver;

/// `${XDG_CACHE_HOME:-~/.cache}/bpfcheck/selftests-6.12`, where
/// `tools/selftests/build.sh` puts its output by default.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(base.join("bpfcheck").join("selftests-6.12"))
}

/// The compiled objects of a cache directory (`objs/*.bpf.o`), sorted.
pub fn objects_in(cache: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(cache.join("objs"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.to_string_lossy().ends_with(".bpf.o"));
    v.sort();
    v
}

/// The objects of a cache directory whose file names contain `filter`
/// (all without one), or why there are none.
pub fn objects_matching(cache: &Path, filter: Option<&str>) -> Result<Vec<PathBuf>, String> {
    let mut objects = objects_in(cache);
    if let Some(f) = filter {
        objects.retain(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(f))
        });
    }
    if objects.is_empty() {
        return Err(format!(
            "no objects in {}/objs: run tools/selftests/build.sh first",
            cache.display()
        ));
    }
    Ok(objects)
}

/// What happened to one program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Loaded into the kernel and verified by bpfcheck.
    Tested,
    /// The kernel refuses the program type before verifying (trampoline
    /// attachment or `freplace`): the kernel cannot judge here.
    KernelCannotJudge,
    /// A step before the verifier failed (map or BTF creation).
    LoadFailed,
    /// The load request could not be built (module kfuncs, bad relocation).
    NoRequest,
    /// No `__success` / `__failure` / `__msg`: not a verifier test.
    NotAnnotated,
    /// `__auxiliary`: loaded with other tests, not a test itself.
    Auxiliary,
    /// Annotated only for unprivileged runs, which are off here.
    UnprivOnly,
    /// `__arch_*` excludes x86-64.
    OtherArch,
    /// The annotations do not parse (the test would fail).
    BadAnnotation,
}

impl Status {
    /// The name used in the JSON and the tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tested => "tested",
            Self::KernelCannotJudge => "kernel_cannot_judge",
            Self::LoadFailed => "load_failed",
            Self::NoRequest => "no_request",
            Self::NotAnnotated => "not_annotated",
            Self::Auxiliary => "auxiliary",
            Self::UnprivOnly => "unpriv_only",
            Self::OtherArch => "other_arch",
            Self::BadAnnotation => "bad_annotation",
        }
    }
}

/// One program's result.
#[derive(Clone, Debug, Serialize)]
pub struct ProgramReport {
    /// Program (symbol) name.
    pub program: String,
    /// ELF section.
    pub section: String,
    /// What happened.
    pub status: Status,
    /// Why, for statuses other than `tested`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The privileged run's annotations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotation: Option<SpecSummary>,
    /// CO-RE relocation records of the program's section and of `.text`.
    pub core_relos: u32,
    /// `prog_flags` of the load.
    pub prog_flags: u32,
    /// Log level of both loads.
    pub log_level: u32,
    /// The kernel's answer against the annotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_vs_annotation: Option<AnnotationCheck>,
    /// bpfcheck's answer against the annotation (when not unsupported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bpfcheck_vs_annotation: Option<AnnotationCheck>,
    /// bpfcheck's verdict, with the kernel's answer and their agreement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
    /// What bpfcheck's diagnostic of a kernel rejection can say, for
    /// programs with line info.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostic: Option<DiagnosticCheck>,
    /// For programs bpfcheck judges: whether its level-2 log is the
    /// kernel's, byte for byte (a second load at level 2 when the test's
    /// own level is not 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level2: Option<bool>,
}

/// The diagnostic of one rejection with line info: does it name the
/// source line of the failing instruction, and does bpfcheck's own
/// analysis give a causal account of it ([`bpfcheck_report::account`])?
/// The kernel's log is never read for the account: only the kernel's error
/// line and instruction say which rejection is to be explained.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct DiagnosticCheck {
    /// The failing instruction has a source line (file and line).
    pub source_line: bool,
    /// bpfcheck's analysis explains the rejection.
    pub causal: bool,
    /// The rejection's class in the catalogue, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// What the account rests on ([`Basis`]), or why there is none.
    pub basis: Basis,
    /// For [`Basis::StaticDefinition`]: the defining instructions, oldest
    /// first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<u32>,
}

/// What bpfcheck knows of a kernel rejection.
#[derive(Clone, Copy, Debug, Serialize, serde::Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// bpfcheck refuses the same instruction with the same error, and
    /// explains it from the path its walk failed on.
    SamePath,
    /// bpfcheck refuses the same instruction with the same error, and the
    /// rule concerns the instruction alone.
    SameRule,
    /// bpfcheck's walk stopped at the failing instruction (something it
    /// does not model there) after processing as many instructions as the
    /// kernel did: the same walk, explained up to that instruction.
    PathToUnsupported,
    /// bpfcheck could not walk to the failure, but the register the error
    /// names has a single chain of definitions in the instructions (no
    /// values: the instruction that defined it).
    StaticDefinition,
    /// bpfcheck refuses the same way, but its path holds nothing the
    /// class asks for (no account).
    NothingOnPath,
    /// bpfcheck refuses the same error found outside any path (no account).
    NoPath,
    /// bpfcheck stopped as unsupported before its walk began (no account).
    UnsupportedBeforeWalk,
    /// bpfcheck's walk stopped as unsupported elsewhere (no account).
    UnsupportedElsewhere,
    /// bpfcheck answers otherwise than the kernel (no account).
    Disagrees,
}

impl Basis {
    /// The name used in the tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::SamePath => "same rejection, its path",
            Self::SameRule => "same rejection, the instruction's rule",
            Self::PathToUnsupported => "walk stopped (unsupported) at the failing insn",
            Self::StaticDefinition => "no walk; the named register's single definition chain",
            Self::NothingOnPath => "same rejection, nothing on its path",
            Self::NoPath => "same rejection, found outside any path",
            Self::UnsupportedBeforeWalk => "unsupported before the walk",
            Self::UnsupportedElsewhere => "unsupported at another insn",
            Self::Disagrees => "bpfcheck answers otherwise",
        }
    }
}

/// bpfcheck's path as a report trace, with source lines.
fn trace_of(obs: &Observation, table: &LineTable<'_>) -> Trace {
    let change = |w: &bpfcheck_verifier::observe::Written| RegChange {
        reg: w.name.clone(),
        value: w.value.clone(),
    };
    Trace {
        steps: obs
            .path
            .iter()
            .map(|s| TraceStep {
                insn: s.insn,
                text: s.text.clone(),
                source: table.locate(s.insn).map(owned_line),
                reg_changes: s.writes.iter().map(change).collect(),
            })
            .collect(),
        found: obs.stop_state.iter().map(change).collect(),
    }
}

fn owned_line(l: bpfcheck_btf::lines::SourceLine<'_>) -> SourceLocation {
    SourceLocation {
        file: l.file.to_owned(),
        line: l.line,
        column: l.column,
        text: l.text.map(str::to_owned),
    }
}

/// How many definitions a static chain follows.
const CHAIN: usize = 4;

/// The account of a register the error names from its definitions alone
/// (no walk reached the failure): the single chain of instructions that
/// defined it, or `None` when the value depends on the path.
pub fn static_account(
    insns: &[RawInsn],
    message: &str,
    at: u32,
    era: bpfcheck_profile::LogEra,
    sym: &dyn bpfcheck_isa::Symbolizer,
    locate: &dyn Fn(u32) -> Option<SourceLocation>,
) -> Option<bpfcheck_report::CausalAccount> {
    use bpfcheck_isa::defs::{self, Def};
    let reg = bpfcheck_report::first_named_reg(message)?;
    let at_idx = usize::try_from(at).ok()?;
    let chain = defs::chain(insns, at_idx, reg, CHAIN)?;
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    let mut cur = (at_idx, reg);
    for d in &chain {
        match *d {
            Def::Insn(i) => {
                let text = bpfcheck_isa::disasm(insns, i, era, sym);
                // `(xx) text`: the opcode is not part of a step's text.
                let text = text
                    .split_once(") ")
                    .filter(|(code, _)| code.len() == 3)
                    .map_or(text.clone(), |(_, t)| t.to_owned());
                let insn = u32::try_from(i).ok()?;
                steps.push(TraceStep {
                    insn,
                    text,
                    source: locate(insn),
                    reg_changes: Vec::new(),
                });
                cur = (i, insns[i].src);
            }
            end => notes.extend(defs::describe_end(insns, cur.0, cur.1, end)),
        }
    }
    steps.reverse();
    Some(bpfcheck_report::definitions(
        &format!("R{reg}"),
        steps,
        notes,
    ))
}

/// The diagnostic check of a kernel rejection of `req`, from bpfcheck's
/// verification `v` (observed: path and processed counts), or `None` when
/// the program carries no usable line info.
fn diagnostic_check(
    req: &LoadRequest,
    kernel: &KernelSide,
    v: &Verification,
    profile: &KernelProfile,
) -> Option<DiagnosticCheck> {
    let btf = bpfcheck_btf::Btf::parse(req.prog_btf.as_deref()?).ok()?;
    if req.line_info.is_empty() {
        return None;
    }
    let table = LineTable::new(&btf, &req.line_info);
    let message = kernel.error.as_deref().unwrap_or_default();
    let source_line = kernel
        .error_insn
        .and_then(|i| table.locate(i))
        .is_some_and(|l| !l.file.is_empty() && l.line > 0);
    let class = bpfcheck_report::classify(Some(message), None);
    let obs = v.observation.as_deref().filter(|o| !o.path.is_empty());
    let explain = |o: &Observation, at: Option<u32>| {
        let trace = trace_of(o, &table);
        let processed = Some(o.processed.as_slice()).filter(|p| !p.is_empty());
        bpfcheck_report::account(message, class, at, &trace, processed)
    };
    let basis = match v.verdict {
        Verdict::Rejected => {
            // The same error line: the same rejection (the kernel's
            // instruction is read from its log, which prints none for some
            // errors and the previous one at a prune point; bpfcheck knows
            // its own).
            let same = v.error.as_ref().is_some_and(|e| e.message == message);
            let at = v.insn().map(|i| i.0);
            match obs {
                _ if !same => Basis::Disagrees,
                _ if bpfcheck_report::is_rule_class(class) && at.is_some() => Basis::SameRule,
                Some(o) if explain(o, at).is_some() => Basis::SamePath,
                Some(_) => Basis::NothingOnPath,
                None => Basis::NoPath,
            }
        }
        Verdict::Unsupported => match obs {
            None => Basis::UnsupportedBeforeWalk,
            Some(o) => {
                let at_failure = o.path.last().map(|s| s.insn) == kernel.error_insn;
                // Equal counts: the walk is the kernel's up to that point.
                let same_walk = kernel.insns_processed == Some(o.processed.iter().sum());
                if at_failure && same_walk && explain(o, kernel.error_insn).is_some() {
                    Basis::PathToUnsupported
                } else {
                    Basis::UnsupportedElsewhere
                }
            }
        },
        Verdict::Accepted => Basis::Disagrees,
    };
    // No walk reached the failure: the instructions alone may still say
    // where the named register was defined.
    let unwalked = matches!(
        basis,
        Basis::UnsupportedBeforeWalk | Basis::UnsupportedElsewhere
    );
    let mut origins = Vec::new();
    let basis = match kernel.error_insn {
        Some(at) if unwalked => {
            let locate = |i: u32| table.locate(i).map(owned_line);
            match static_account(&req.insns, message, at, profile.log_era, profile, &locate) {
                Some(a) => {
                    origins = a.steps.iter().map(|s| s.insn).collect();
                    Basis::StaticDefinition
                }
                None => basis,
            }
        }
        _ => basis,
    };
    Some(DiagnosticCheck {
        source_line,
        causal: matches!(
            basis,
            Basis::SamePath | Basis::SameRule | Basis::PathToUnsupported | Basis::StaticDefinition
        ),
        class: class.map(|c| c.id.to_owned()),
        basis,
        origins,
    })
}

impl ProgramReport {
    fn new(program: &str, section: &str, status: Status) -> Self {
        Self {
            program: program.to_owned(),
            section: section.to_owned(),
            status,
            detail: None,
            annotation: None,
            core_relos: 0,
            prog_flags: 0,
            log_level: 0,
            kernel_vs_annotation: None,
            bpfcheck_vs_annotation: None,
            record: None,
            diagnostic: None,
            log_level2: None,
        }
    }

    fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
}

/// One object's results.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectReport {
    /// File name (`verifier_and.bpf.o`).
    pub object: String,
    /// Why the object could not be read, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Its programs, in libbpf's order.
    pub programs: Vec<ProgramReport>,
}

/// CO-RE relocation records per section name, from `.BTF.ext`
/// (`core_relo_off` / `core_relo_len`, present when `hdr_len` ≥ 32).
pub fn core_relos_by_section(elf: &[u8], btf: &Btf<'_>) -> HashMap<String, u32> {
    use object::{Object as _, ObjectSection as _};
    let mut out = HashMap::new();
    let Ok(file) = object::File::parse(elf) else {
        return out;
    };
    let Some(data) = file.section_by_name(".BTF.ext").and_then(|s| s.data().ok()) else {
        return out;
    };
    let u32_at = |off: usize| -> Option<u32> {
        let b = data.get(off..off + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let Some(hdr_len) = u32_at(4).map(|v| v as usize) else {
        return out;
    };
    if hdr_len < 32 {
        return out;
    }
    let (Some(off), Some(len)) = (u32_at(24), u32_at(28)) else {
        return out;
    };
    let start = hdr_len.saturating_add(off as usize);
    let end = start.saturating_add(len as usize).min(data.len());
    let Some(rec_size) = u32_at(start).map(|v| v as usize) else {
        return out;
    };
    let mut pos = start + 4;
    while rec_size > 0 && pos + 8 <= end {
        let (Some(name_off), Some(n)) = (u32_at(pos), u32_at(pos + 4)) else {
            break;
        };
        let name = btf.str_at(name_off).unwrap_or("").to_owned();
        *out.entry(name).or_default() += n;
        // Counts come from the file: a block claiming more records than
        // the subsection holds ends the walk instead of overflowing.
        let Some(next) = (n as usize)
            .checked_mul(rec_size)
            .and_then(|b| b.checked_add(pos + 8))
        else {
            break;
        };
        pos = next;
    }
    out
}

/// Runs the corpus against the running kernel and bpfcheck.
#[derive(Debug)]
pub struct Harness {
    kernel: Kernel,
    profile: KernelProfile,
    resolver: HostResolver,
    vmlinux: Option<Btf<'static>>,
    testing_flags: u32,
}

impl Harness {
    /// A harness for `kernel`, with bpfcheck judging for `profile`.
    pub fn new(kernel: Kernel, profile: KernelProfile) -> Self {
        let testing_flags = probe_testing_flags(&kernel);
        let vmlinux = std::fs::read("/sys/kernel/btf/vmlinux")
            .ok()
            .and_then(|b| Btf::from_arc(b.into()).ok());
        Self {
            kernel,
            profile,
            resolver: HostResolver::probe(),
            vmlinux,
            testing_flags,
        }
    }

    /// The flags every test load starts from (`testing_prog_flags()`).
    pub fn testing_flags(&self) -> u32 {
        self.testing_flags
    }

    /// Runs every object, in parallel.
    pub fn run_all(&self, objects: &[PathBuf]) -> Vec<ObjectReport> {
        objects.par_iter().map(|p| self.run_object(p)).collect()
    }

    /// Runs every program of one object.
    pub fn run_object(&self, path: &Path) -> ObjectReport {
        let object = path
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        let fail = |e: String| ObjectReport {
            object: object.clone(),
            error: Some(e),
            programs: Vec::new(),
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => return fail(e.to_string()),
        };
        let obj = match Object::parse_named(&bytes, &bpfcheck_obj::object_name_from_path(path)) {
            Ok(o) => o,
            Err(e) => return fail(e.to_string()),
        };
        let Some(btf_bytes) = obj.btf.clone() else {
            return fail("object has no BTF".into());
        };
        let btf = match Btf::parse(&btf_bytes) {
            Ok(b) => b,
            Err(e) => return fail(format!("BTF: {e}")),
        };
        let core = core_relos_by_section(&bytes, &btf);
        let text_relos = core.get(".text").copied().unwrap_or(0);
        let programs = obj
            .programs()
            .map(|f| {
                let relos = core.get(&f.section).copied().unwrap_or(0) + text_relos;
                let mut r = self.run_program(path, &object, &obj, &btf, &f.name, &f.section);
                r.core_relos = relos;
                r
            })
            .collect();
        ObjectReport {
            object,
            error: None,
            programs,
        }
    }

    fn run_program(
        &self,
        path: &Path,
        object: &str,
        obj: &Object,
        btf: &Btf<'_>,
        name: &str,
        section: &str,
    ) -> ProgramReport {
        let spec = match spec_of(btf, name) {
            Ok(s) => s,
            Err(e) => return ProgramReport::new(name, section, Status::BadAnnotation).detail(e),
        };
        let status = if spec.auxiliary {
            Some(Status::Auxiliary)
        } else if !spec.has_verdict {
            Some(Status::NotAnnotated)
        } else if !spec.priv_mode {
            Some(Status::UnprivOnly)
        } else if !spec.runs_on_x86_64() {
            Some(Status::OtherArch)
        } else {
            None
        };
        let mut rep = ProgramReport::new(name, section, status.unwrap_or(Status::Tested));
        if spec.has_verdict {
            rep.annotation = Some(SpecSummary::from(&spec));
        }
        if status.is_some() {
            return rep;
        }
        // `__btf_path(FILE)`: CO-RE resolves against FILE's BTF (an object
        // beside the test, as test_loader opens it) instead of vmlinux.
        let custom = match &spec.btf_path {
            Some(file) => match custom_btf(&path.with_file_name(file)) {
                Ok(b) => Some(b),
                Err(e) => {
                    rep.status = Status::NoRequest;
                    return rep.detail(format!("__btf_path {file}: {e}"));
                }
            },
            None => None,
        };
        let opts = LoadOptions {
            resolver: Some(&self.resolver),
            kernel_version: None,
            target_btf: custom.as_ref().or(self.vmlinux.as_ref()),
        };
        let mut req: LoadRequest = match obj.load_request(name, &opts) {
            Ok(p) => p.request,
            Err(e) => {
                rep.status = Status::NoRequest;
                return rep.detail(e.to_string());
            }
        };
        if let Some(v) = &self.vmlinux {
            resolve_attach_btf_id(&mut req, v);
        }
        req.prog_flags = spec.prog_flags(self.testing_flags, req.prog_flags);
        rep.prog_flags = req.prog_flags;
        let level = load_log_level(spec.log_level);
        rep.log_level = level;

        let (out, wall) = match ask_kernel(&self.kernel, &req, level) {
            Ok(x) => x,
            Err(e) => {
                rep.status = Status::LoadFailed;
                return rep.detail(e);
            }
        };
        let kernel_log = strip_stats_lines(&out.log, level);
        if !out.accepted && needs_trampoline(&req) {
            rep.status = Status::KernelCannotJudge;
            rep.detail = Some(format!(
                "{} refused before verification: errno {}{}",
                req.prog_type,
                out.errno.unwrap_or(0),
                out.error_line
                    .as_deref()
                    .map_or_else(String::new, |l| format!(", `{l}`"))
            ));
        } else {
            let seen = visible_log(spec.log_level, out.accepted, &kernel_log);
            rep.kernel_vs_annotation =
                Some(check_annotation(&spec.privileged, out.accepted, &seen));
        }
        let mut kside = kernel_side(&out, level, wall);
        kside.log = Some(kernel_log);
        drop(out);
        let rejected = kside.verdict == "rejected";
        let kernel_rejection = rejected.then(|| kside.clone());

        let id = ProgramId {
            object,
            program: name,
            section,
        };
        let (record, v) = diff_record(id, &req, &self.profile, level, kside);
        if let Some(k) = &kernel_rejection {
            // The walk again, observed (deterministic): its path and counts
            // are bpfcheck's own account of the kernel's rejection.
            let observed = (v.verdict != Verdict::Accepted).then(|| {
                verify_observed(
                    &req,
                    &self.profile,
                    &VerifyOptions::default(),
                    Observe {
                        path: true,
                        processed: true,
                        ..Observe::default()
                    },
                )
            });
            rep.diagnostic =
                diagnostic_check(&req, k, observed.as_ref().unwrap_or(&v), &self.profile);
        }
        if v.verdict != Verdict::Unsupported {
            let accepted = v.verdict == Verdict::Accepted;
            let log = bpfcheck_log(&v, level, 0).unwrap_or_default();
            let seen = visible_log(spec.log_level, accepted, &log);
            rep.bpfcheck_vs_annotation = Some(check_annotation(&spec.privileged, accepted, &seen));
            rep.log_level2 = if level & LOG_LEVEL2 != 0 {
                record.agree.map(|a| a.log)
            } else {
                self.level2_logs_agree(&req)
            };
        }
        rep.record = Some(record);
        rep
    }
}

impl Harness {
    /// Loads `req` into the kernel and into bpfcheck at log level 2 and
    /// compares the logs (`None` when the kernel load itself failed).
    fn level2_logs_agree(&self, req: &LoadRequest) -> Option<bool> {
        let (out, _) = ask_kernel(&self.kernel, req, LOG_LEVEL2).ok()?;
        let theirs = strip_stats_lines(&out.log, LOG_LEVEL2);
        let v = bpfcheck_verifier::verify(
            req,
            &self.profile,
            &bpfcheck_verifier::VerifyOptions {
                log_level: LOG_LEVEL2,
            },
        );
        let ours = bpfcheck_log(&v, LOG_LEVEL2, 0);
        Some(logs_agree(ours.as_deref(), Some(&theirs)))
    }
}

/// `testing_prog_flags()`: the test-only flags this kernel takes.
fn probe_testing_flags(k: &Kernel) -> u32 {
    let insns = vec![
        RawInsn::new(op::ALU64 | op::MOV | op::K, 0, 0, 0, 0),
        RawInsn::new(op::JMP | op::EXIT, 0, 0, 0, 0),
    ];
    let mut flags = 0;
    for f in [BPF_F_TEST_RND_HI32, BPF_F_TEST_REG_INVARIANTS] {
        let req = LoadRequest {
            name: "flag-test".into(),
            prog_type: ProgType::SOCKET_FILTER,
            insns: insns.clone(),
            license: "GPL".into(),
            prog_flags: f,
            ..LoadRequest::default()
        };
        let opts = bpfcheck_sys::LoadOptions {
            log_level: 0,
            log_size: 0,
            fixed_log: false,
        };
        if k.load(&req, &opts).is_ok_and(|o| o.accepted) {
            flags |= f;
        }
    }
    flags
}

/// The BTF of the object at `path` (for `__btf_path`), owned.
fn custom_btf(path: &Path) -> Result<Btf<'static>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let obj = Object::parse(&bytes).map_err(|e| e.to_string())?;
    let btf = obj.btf.ok_or_else(|| "no BTF".to_owned())?;
    Btf::from_arc(btf.into()).map_err(|e| e.to_string())
}
