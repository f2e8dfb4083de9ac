//! The compiled objects of the cache, each program's status, and the
//! harness that runs them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bpfcheck_btf::Btf;
use bpfcheck_obj::{LoadOptions, Object};
use bpfcheck_report::{KernelSide, Record};
use bpfcheck_sys::Kernel;
use bpfcheck_uapi::load::{BPF_F_TEST_REG_INVARIANTS, BPF_F_TEST_RND_HI32};
use bpfcheck_uapi::{LoadRequest, ProgType, RawInsn, op};
use bpfcheck_verifier::{KernelProfile, LOG_LEVEL2, Verdict};
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
/// source line of the failing instruction, and does it give a causal
/// account (the instructions on the failing path that wrote the values
/// the error names)?
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct DiagnosticCheck {
    /// The failing instruction has a source line (file and line).
    pub source_line: bool,
    /// The failing path explains a value the error names.
    pub causal: bool,
    /// The rejection's class in the catalogue, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
}

/// The diagnostic check of a kernel rejection of `req`, or `None` when the
/// program carries no usable line info.
fn diagnostic_check(req: &LoadRequest, kernel: &KernelSide) -> Option<DiagnosticCheck> {
    let btf = bpfcheck_btf::Btf::parse(req.prog_btf.as_deref()?).ok()?;
    if req.line_info.is_empty() {
        return None;
    }
    let table = bpfcheck_btf::lines::LineTable::new(&btf, &req.line_info);
    let message = kernel.error.as_deref().unwrap_or_default();
    let source_line = kernel
        .error_insn
        .and_then(|i| table.locate(i))
        .is_some_and(|l| !l.file.is_empty() && l.line > 0);
    let trace = bpfcheck_report::Trace::from_kernel_log(kernel.log.as_deref().unwrap_or_default());
    // Causal: the error names a register and the failing path shows where
    // its value was made (the path alone, for an error that names none,
    // does not count).
    let named: Vec<&str> = message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.strip_prefix('R').is_some_and(|n| n.parse::<u8>().is_ok()))
        .collect();
    let causal = trace.steps.iter().any(|s| {
        s.reg_changes
            .iter()
            .any(|c| named.contains(&c.reg.as_str()))
    });
    let class = bpfcheck_report::classify(Some(message), None).map(|c| c.id.to_owned());
    Some(DiagnosticCheck {
        source_line,
        causal,
        class,
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
        if kside.verdict == "rejected" {
            rep.diagnostic = diagnostic_check(&req, &kside);
        }

        let id = ProgramId {
            object,
            program: name,
            section,
        };
        let (record, v) = diff_record(id, &req, &self.profile, level, kside);
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
