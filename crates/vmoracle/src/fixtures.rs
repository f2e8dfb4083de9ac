//! The repository's assembly fixtures as a batch, and their comparison
//! with the `;! expect:` the recording kernel (6.18) gave.

use std::path::{Path, PathBuf};

use bpfcheck_asm::{Expectation, Fixture};
use bpfcheck_uapi::Errno;
use serde::{Deserialize, Serialize};

use crate::{VmError, protocol::NamedRequest, protocol::ProgramResult};

/// A fixture as loaded: its batch name, file and recorded expectation.
#[derive(Clone, Debug)]
pub struct FixtureProgram {
    /// `dir/stem`, e.g. `malformed/div_k_zero`.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The `;! expect:` line, when present.
    pub expect: Option<Expectation>,
}

/// `prog_name` for a fixture: the characters the kernel allows
/// (alphanumerics, `_`, `.`), at most 15 bytes.
fn prog_name(stem: &str) -> String {
    stem.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(15)
        .collect()
}

/// Reads every `*.s` of each directory (sorted by name) as a fixture.
///
/// A fixture that names kernel symbols (`call kfunc(NAME)`,
/// `btf_id(NAME)`) is left out, with a line on stderr: its BTF ids are
/// those of the guest kernel, which the host cannot read (resolving them
/// in the guest is not implemented).
pub fn collect(dirs: &[PathBuf]) -> Result<(Vec<NamedRequest>, Vec<FixtureProgram>), VmError> {
    let mut requests = Vec::new();
    let mut programs = Vec::new();
    for dir in dirs {
        let entries =
            std::fs::read_dir(dir).map_err(|e| VmError::io(dir, "listing fixtures", e))?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| VmError::io(dir, "listing fixtures", e))?;
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "s") {
                files.push(path);
            }
        }
        files.sort();
        let prefix = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for path in files {
            let Some((req, prog)) = load_fixture(&prefix, &path)? else {
                continue;
            };
            requests.push(req);
            programs.push(prog);
        }
    }
    Ok((requests, programs))
}

fn load_fixture(
    prefix: &str,
    path: &Path,
) -> Result<Option<(NamedRequest, FixtureProgram)>, VmError> {
    let text = std::fs::read_to_string(path).map_err(|e| VmError::io(path, "reading", e))?;
    let fixture = Fixture::parse(&text).map_err(|e| VmError::Input {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    if let Some(sym) = fixture.kernel_symbols().first() {
        eprintln!(
            "bpfcheck-vm: skipping {}: it names {} (line {}), whose BTF id only the guest kernel knows",
            path.display(),
            sym.describe(),
            sym.line
        );
        return Ok(None);
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = if prefix.is_empty() {
        stem.clone()
    } else {
        format!("{prefix}/{stem}")
    };
    let request = fixture.load_request(&prog_name(&stem));
    Ok(Some((
        NamedRequest {
            name: name.clone(),
            request,
        },
        FixtureProgram {
            name,
            path: path.to_owned(),
            expect: fixture.expect,
        },
    )))
}

/// One fixture's recorded answer next to a kernel's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    /// Fixture name.
    pub name: String,
    /// The recorded answer (`rejected EACCES R0 !read_ok`), `None` without
    /// an `expect` line.
    pub expected: Option<String>,
    /// This kernel's answer in the same words.
    pub got: String,
    /// Accepted on one side, rejected (or not loaded) on the other.
    pub verdict_differs: bool,
    /// Both rejected, with different errnos.
    pub errno_differs: bool,
    /// Both rejected, with different error lines (trailing blanks ignored).
    pub error_differs: bool,
}

impl Comparison {
    /// Whether anything differs.
    pub fn differs(&self) -> bool {
        self.verdict_differs || self.errno_differs || self.error_differs
    }
}

fn expectation_text(e: &Expectation) -> String {
    match e {
        Expectation::Accepted => "accepted".to_owned(),
        Expectation::Rejected { errno, message } => {
            format!("rejected {errno} {message}").trim_end().to_owned()
        }
    }
}

fn result_text(r: &ProgramResult) -> String {
    match (&r.kernel, &r.setup_error) {
        (Some(k), _) if k.verdict == "accepted" => "accepted".to_owned(),
        (Some(k), _) => {
            let errno = k
                .errno
                .map_or_else(|| "?".to_owned(), |e| Errno(e).to_string());
            format!("rejected {errno} {}", k.error.as_deref().unwrap_or(""))
                .trim_end()
                .to_owned()
        }
        (None, Some(e)) => format!("setup failed: {e}"),
        (None, None) => "no answer".to_owned(),
    }
}

/// Compares each fixture that has an answer in `results` with its
/// recorded expectation.
pub fn compare(fixtures: &[FixtureProgram], results: &[ProgramResult]) -> Vec<Comparison> {
    fixtures
        .iter()
        .filter_map(|f| {
            let r = results.iter().find(|r| r.name == f.name)?;
            let got = result_text(r);
            let accepted = r.kernel.as_ref().is_some_and(|k| k.verdict == "accepted");
            let (verdict_differs, errno_differs, error_differs) = match &f.expect {
                None => (false, false, false),
                Some(Expectation::Accepted) => (!accepted, false, false),
                Some(Expectation::Rejected { errno, message }) => match &r.kernel {
                    Some(k) if !accepted => (
                        false,
                        k.errno != Some(errno.0),
                        k.error.as_deref().unwrap_or("").trim_end() != message.trim_end(),
                    ),
                    _ => (true, false, false),
                },
            };
            Some(Comparison {
                name: f.name.clone(),
                expected: f.expect.as_ref().map(expectation_text),
                got,
                verdict_differs,
                errno_differs,
                error_differs,
            })
        })
        .collect()
}

/// The programs of ELF objects, named `OBJECT:PROGRAM`, prepared as
/// libbpf would without a target kernel (no externs, CO-RE against the
/// object's own BTF).
pub fn object_requests(paths: &[PathBuf]) -> Result<Vec<NamedRequest>, VmError> {
    let mut out = Vec::new();
    for path in paths {
        let bytes = std::fs::read(path).map_err(|e| VmError::io(path, "reading object", e))?;
        let input = |message: String| VmError::Input {
            path: path.clone(),
            message,
        };
        let obj = bpfcheck_obj::Object::parse(&bytes).map_err(|e| input(e.to_string()))?;
        let file = path
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        let reqs = obj
            .load_requests(&bpfcheck_obj::LoadOptions::default())
            .map_err(|e| input(e.to_string()))?;
        out.extend(reqs.into_iter().map(|p| NamedRequest {
            name: format!("{file}:{}", p.name),
            request: p.request,
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfcheck_report::KernelSide;

    fn rejected(errno: i32, error: &str) -> Option<KernelSide> {
        Some(KernelSide {
            verdict: "rejected".into(),
            errno: Some(errno),
            error: Some(error.into()),
            ..KernelSide::default()
        })
    }

    fn result(name: &str, kernel: Option<KernelSide>) -> ProgramResult {
        ProgramResult {
            name: name.into(),
            setup_error: kernel
                .is_none()
                .then(|| "BPF_MAP_CREATE: EINVAL".to_owned()),
            kernel,
            verified_insns: None,
            log_retried: false,
            wall_us: 0,
        }
    }

    fn fixture(name: &str, expect: Option<Expectation>) -> FixtureProgram {
        FixtureProgram {
            name: name.into(),
            path: PathBuf::from(name),
            expect,
        }
    }

    #[test]
    fn differences_are_classified() {
        let r = |e: &str| Expectation::Rejected {
            errno: Errno::EINVAL,
            message: e.into(),
        };
        let fixtures = [
            fixture("same", Some(r("invalid BPF_LD_IMM insn "))),
            fixture("msg", Some(r("a"))),
            fixture("verdict", Some(Expectation::Accepted)),
            fixture("errno", Some(r("a"))),
            fixture("setup", Some(Expectation::Accepted)),
            fixture("noexpect", None),
            fixture("unanswered", Some(Expectation::Accepted)),
        ];
        let results = [
            result("same", rejected(22, "invalid BPF_LD_IMM insn")),
            result("msg", rejected(22, "b")),
            result("verdict", rejected(13, "R0 !read_ok")),
            result("errno", rejected(13, "a")),
            result("setup", None),
            result("noexpect", rejected(22, "x")),
        ];
        let c = compare(&fixtures, &results);
        assert_eq!(c.len(), 6);
        let by = |n: &str| c.iter().find(|x| x.name == n).unwrap();
        assert!(!by("same").differs());
        assert!(by("msg").error_differs && !by("msg").verdict_differs);
        assert!(by("verdict").verdict_differs);
        assert_eq!(by("verdict").got, "rejected EACCES R0 !read_ok");
        assert!(by("errno").errno_differs && !by("errno").error_differs);
        assert!(by("setup").verdict_differs);
        assert!(by("setup").got.starts_with("setup failed"));
        assert!(!by("noexpect").differs());
        assert_eq!(
            by("same").expected.as_deref(),
            Some("rejected EINVAL invalid BPF_LD_IMM insn")
        );
    }

    #[test]
    fn names_fit_prog_name() {
        assert_eq!(prog_name("ld_imm64_map_value_hash"), "ld_imm64_map_va");
        assert_eq!(prog_name("a-b c"), "a_b_c");
    }

    #[test]
    fn repository_fixtures_assemble() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let (reqs, progs) = collect(&[root.join("asm"), root.join("malformed")]).unwrap();
        assert_eq!(reqs.len(), progs.len());
        assert!(reqs.len() > 50);
        assert!(
            progs.iter().all(|p| p.expect.is_some()),
            "every fixture records its verdict"
        );
        assert!(reqs.iter().any(|r| r.name == "malformed/div_k_zero"));
        // Fixtures that name kernel symbols are left out; the numeric
        // forms the kernel recordings were made with are not.
        assert!(!reqs.iter().any(|r| r.name == "asm/kfunc"));
        let (by_id, _) = collect(&[root.join("btf_ids")]).unwrap();
        let names: Vec<_> = by_id.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["btf_ids/kfunc", "btf_ids/ld_btf_id"]);
        let err = collect(&[root.join("does-not-exist")]).unwrap_err();
        assert!(err.to_string().contains("does-not-exist"), "{err}");
    }
}
