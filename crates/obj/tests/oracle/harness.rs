//! The libbpf oracle and the live-kernel comparison, shared by
//! `tests/oracle.rs` (the committed fixtures) and `examples/libbpf_corpus.rs`
//! (any set of objects, e.g. the BPF selftests).
//!
//! For every program of an object, `dump_insns --each` loads it with libbpf
//! on its own and prints the instructions libbpf relocated and what the
//! kernel said. bpfcheck builds its load request of the same program (with
//! the running kernel's BTF, kconfig and symbols, as libbpf does), which
//! must hold the same instructions, and loads that request with
//! `bpfcheck-sys`: the kernel must give it the same verdict.
#![allow(dead_code, unreachable_pub, clippy::print_stderr, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use bpfcheck_obj::{LoadOptions, Object, object_name_from_path};
use bpfcheck_uapi::{AttachType, LoadRequest, RawInsn, op};

/// The oracle binary, built from `dump_insns.c`.
pub struct Oracle {
    pub path: PathBuf,
    /// `libbpf X.Y` it was linked with.
    pub libbpf: String,
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Builds the oracle against the system libbpf, or against a libbpf
/// installed under `$BPFCHECK_LIBBPF_ROOT` (a `make install DESTDIR=` tree
/// holding `usr/include/bpf` and a static `libbpf.a`), e.g. the libbpf 1.5
/// of the Linux 6.12 sources that bpfcheck-obj follows, which
/// `tools/libbpf/build.sh` builds into `~/.cache/bpfcheck/libbpf-1.5`.
pub fn build_oracle() -> Result<Oracle, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/dump_insns.c");
    // One binary per call: tests of one process build theirs concurrently.
    static BUILT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = BUILT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!("bpfcheck-obj-oracle-{}-{n}", std::process::id()));
    let mut cc = Command::new("cc");
    cc.arg("-O2").arg("-o").arg(&out);
    let root = std::env::var_os("BPFCHECK_LIBBPF_ROOT").map(PathBuf::from);
    let header;
    if let Some(root) = &root {
        let inc = root.join("usr/include");
        header = inc.join("bpf/libbpf_version.h");
        let lib = ["usr/lib64/libbpf.a", "usr/lib/libbpf.a"]
            .iter()
            .map(|l| root.join(l))
            .find(|p| p.exists())
            .ok_or_else(|| format!("no libbpf.a under {}", root.display()))?;
        cc.arg("-I")
            .arg(&inc)
            .arg(&src)
            .arg(&lib)
            .args(["-lelf", "-lz"]);
    } else {
        header = PathBuf::from("/usr/include/bpf/libbpf_version.h");
        if !Path::new("/usr/include/bpf/libbpf.h").exists() {
            return Err("libbpf-dev headers not installed".into());
        }
        cc.arg(&src).arg("-lbpf");
    }
    let status = cc.status().map_err(|e| format!("cc not runnable: {e}"))?;
    if !status.success() {
        return Err(format!("cc failed: {status}"));
    }
    let text = std::fs::read_to_string(&header).unwrap_or_default();
    let num = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("#define {key} ")))
            .map_or("?", str::trim)
            .to_owned()
    };
    Ok(Oracle {
        path: out,
        libbpf: format!(
            "libbpf {}.{}",
            num("LIBBPF_MAJOR_VERSION"),
            num("LIBBPF_MINOR_VERSION")
        ),
    })
}

/// What the kernel (or libbpf before it) said about one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Rejected(i32),
    /// libbpf failed before `BPF_PROG_LOAD`: errno and its first warning.
    Unprepared(i32, String),
}

impl Verdict {
    pub fn prepared(&self) -> bool {
        !matches!(self, Self::Unprepared(..))
    }
}

/// One program as libbpf loaded it.
#[derive(Clone, Debug)]
pub struct OracleProg {
    pub name: String,
    /// Program type, expected attach type, flags.
    pub meta: [u32; 3],
    pub verdict: Verdict,
    pub insns: Vec<RawInsn>,
}

/// An object as libbpf opened it.
#[derive(Clone, Debug, Default)]
pub struct OracleObject {
    /// libbpf could not open the object: its first warning.
    pub open_failed: Option<String>,
    /// `NAME TYPE KEY VALUE MAX_ENTRIES FLAGS` per map.
    pub maps: Vec<String>,
    pub progs: Vec<OracleProg>,
}

/// Runs `dump_insns OBJ --each`.
pub fn run_oracle(oracle: &Oracle, path: &Path) -> Result<OracleObject, String> {
    let out = Command::new(&oracle.path)
        .arg(path)
        .arg("--each")
        .output()
        .map_err(|e| format!("oracle: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut obj = OracleObject::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("open-failed ") {
            obj.open_failed = Some(rest.split_once(' ').map_or(rest, |(_, w)| w).to_owned());
        } else if let Some(m) = line.strip_prefix("map ") {
            obj.maps.push(m.to_owned());
        } else if let Some(rest) = line.strip_prefix("prog ") {
            let f: Vec<&str> = rest.split(' ').collect();
            let n = |i: usize| f.get(i).and_then(|x| x.parse::<u32>().ok()).unwrap_or(0);
            let errno = n(5) as i32;
            let verdict = match f.get(4).copied() {
                Some("accepted") => Verdict::Accepted,
                Some("rejected") => Verdict::Rejected(errno),
                _ => Verdict::Unprepared(errno, String::new()),
            };
            obj.progs.push(OracleProg {
                name: f[0].to_owned(),
                meta: [n(1), n(2), n(3)],
                verdict,
                insns: Vec::new(),
            });
        } else if let Some(why) = line.strip_prefix("why ") {
            if let Some(Verdict::Unprepared(_, w)) = obj.progs.last_mut().map(|p| &mut p.verdict) {
                *w = why.trim_start_matches("libbpf: ").to_owned();
            }
        } else {
            let f: Vec<i64> = line.split(' ').filter_map(|x| x.parse().ok()).collect();
            if f.len() == 5
                && let Some(p) = obj.progs.last_mut()
            {
                p.insns.push(RawInsn::new(
                    f[0] as u8,
                    f[1] as u8,
                    f[2] as u8,
                    f[3] as i16,
                    f[4] as i32,
                ));
            }
        }
    }
    if obj.open_failed.is_none() && !out.status.success() && obj.progs.is_empty() {
        obj.open_failed = Some(format!("oracle exited with {}", out.status));
    }
    Ok(obj)
}

/// The running kernel as libbpf sees it (BTF, kconfig, kallsyms, version).
pub type Host = bpfcheck_obj::HostResolver;

/// The outcome for one program of the comparison.
#[derive(Clone, Debug)]
pub struct ProgOutcome {
    pub object: String,
    pub program: String,
    pub libbpf: Verdict,
    /// `None`: identical instructions (or libbpf did not prepare it);
    /// `Some(class, detail)`: how bpfcheck differs.
    pub diff: Option<(String, String)>,
    /// bpfcheck's request loaded into the kernel: its verdict, when asked.
    pub ours_kernel: Option<Verdict>,
}

impl ProgOutcome {
    pub fn kernel_agrees(&self) -> Option<bool> {
        let ours = self.ours_kernel.as_ref()?;
        Some(match (&self.libbpf, ours) {
            (Verdict::Accepted, Verdict::Accepted) => true,
            (Verdict::Rejected(a), Verdict::Rejected(b)) => a == b,
            _ => false,
        })
    }
}

/// What the instruction at which two programs first differ is.
fn insn_class(a: &RawInsn) -> String {
    let c = a.code;
    if c == op::JMP | op::CALL {
        return match a.src {
            op::PSEUDO_KFUNC_CALL => "kfunc call".into(),
            op::PSEUDO_CALL => "subprogram call".into(),
            _ => "helper call".into(),
        };
    }
    if c == op::LD | op::IMM | op::DW {
        return format!("ld_imm64 src {}", a.src);
    }
    match c & 7 {
        0x01 | 0x03 => "memory access (CO-RE offset?)".into(),
        0x04 | 0x07 => "alu (CO-RE value?)".into(),
        _ => format!("insn code {c:#04x}"),
    }
}

/// Compares bpfcheck's requests for one object with the oracle's, and
/// when `kernel` is given loads bpfcheck's request of every program libbpf
/// prepared.
pub fn compare_object(
    path: &Path,
    oracle: &OracleObject,
    host: &Host,
    kernel: Option<&bpfcheck_sys::Kernel>,
) -> Vec<ProgOutcome> {
    let object = path.display().to_string();
    let parsed = std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|b| {
            Object::parse_named(&b, &object_name_from_path(path)).map_err(|e| e.to_string())
        });
    let opts: LoadOptions<'_> = host.load_options();
    let mut out = Vec::new();
    for p in &oracle.progs {
        let mut outcome = ProgOutcome {
            object: object.clone(),
            program: p.name.clone(),
            libbpf: p.verdict.clone(),
            diff: None,
            ours_kernel: None,
        };
        if !p.verdict.prepared() {
            out.push(outcome);
            continue;
        }
        // One request at a time, as a loader asked for one program would:
        // another program's failure is not this one's.
        let req = match parsed.as_ref().map_err(Clone::clone).and_then(|o| {
            o.load_request(&p.name, &opts)
                .map(|r| (o, r))
                .map_err(|e| e.to_string())
        }) {
            Err(e) => {
                outcome.diff = Some(("bpfcheck failed to build the request".into(), e));
                out.push(outcome);
                continue;
            }
            Ok((obj, r)) => {
                let our_maps: Vec<String> = obj
                    .maps
                    .iter()
                    .map(|m| {
                        let s = &m.spec;
                        format!(
                            "{} {} {} {} {} {}",
                            m.name, s.map_type.0, s.key_size, s.value_size, s.max_entries, s.flags
                        )
                    })
                    .collect();
                // libbpf names maps in full; the kernel (and bpfcheck's
                // requests) keep 15 bytes.
                let libbpf_maps: Vec<String> = oracle
                    .maps
                    .iter()
                    .map(|m| match m.split_once(' ') {
                        Some((name, rest)) => {
                            format!("{} {rest}", &name[..name.len().min(15)])
                        }
                        None => m.clone(),
                    })
                    .collect();
                let q = &r.request;
                if [q.prog_type.0, q.expected_attach_type.0] != [p.meta[0], p.meta[1]] {
                    outcome.diff = Some((
                        "program type / expected attach type".into(),
                        format!(
                            "ours {} {} libbpf {} {}",
                            q.prog_type.0, q.expected_attach_type.0, p.meta[0], p.meta[1]
                        ),
                    ));
                } else if our_maps != libbpf_maps {
                    outcome.diff = Some((
                        "map definitions".into(),
                        format!("ours {our_maps:?} libbpf {libbpf_maps:?}"),
                    ));
                } else if q.insns != p.insns {
                    let first = q
                        .insns
                        .iter()
                        .zip(&p.insns)
                        .position(|(a, b)| a != b)
                        .unwrap_or(q.insns.len().min(p.insns.len()));
                    let class = match (q.insns.get(first), p.insns.get(first)) {
                        (Some(a), Some(_)) => format!("instructions: {}", insn_class(a)),
                        _ => "instruction count".into(),
                    };
                    outcome.diff = Some((
                        class,
                        format!(
                            "first at {first}: ours {:?} libbpf {:?} ({} vs {} insns)",
                            q.insns.get(first),
                            p.insns.get(first),
                            q.insns.len(),
                            p.insns.len()
                        ),
                    ));
                }
                r.request.clone()
            }
        };
        if let Some(k) = kernel {
            outcome.ours_kernel = Some(load(k, req));
        }
        out.push(outcome);
    }
    out
}

/// Loads a request as `bpfcheck kernel` does.
fn load(k: &bpfcheck_sys::Kernel, req: LoadRequest) -> Verdict {
    let opts = bpfcheck_sys::LoadOptions {
        log_level: 0,
        log_size: 0,
        fixed_log: false,
    };
    match k.load(&req, &opts) {
        Ok(o) if o.accepted => Verdict::Accepted,
        Ok(o) => Verdict::Rejected(o.errno.unwrap_or(0)),
        Err(e) => Verdict::Unprepared(e.errno().0, e.to_string()),
    }
}

/// Whether a program's attach type is one libbpf resolves a BTF target for.
pub fn is_tracing(at: AttachType) -> bool {
    [
        AttachType::TRACE_FENTRY,
        AttachType::TRACE_FEXIT,
        AttachType::MODIFY_RETURN,
        AttachType::TRACE_RAW_TP,
    ]
    .contains(&at)
}

/// The figures of a run.
#[derive(Debug, Default)]
pub struct Summary {
    pub objects: usize,
    pub objects_unopened: BTreeMap<String, usize>,
    pub programs: usize,
    pub prepared: usize,
    pub identical: usize,
    pub unprepared: BTreeMap<String, usize>,
    pub differences: BTreeMap<String, Vec<String>>,
    pub kernel_asked: usize,
    pub kernel_same: usize,
    pub kernel_differences: Vec<String>,
}

impl Summary {
    pub fn add_object(&mut self, oracle: &OracleObject, outcomes: &[ProgOutcome]) {
        self.objects += 1;
        if let Some(why) = &oracle.open_failed {
            *self.objects_unopened.entry(classify_why(why)).or_default() += 1;
        }
        for o in outcomes {
            self.programs += 1;
            if let Verdict::Unprepared(_, why) = &o.libbpf {
                *self.unprepared.entry(classify_why(why)).or_default() += 1;
                continue;
            }
            self.prepared += 1;
            match &o.diff {
                None => self.identical += 1,
                Some((class, detail)) => self
                    .differences
                    .entry(class.clone())
                    .or_default()
                    .push(format!("{}/{}: {detail}", o.object, o.program)),
            }
            if let Some(same) = o.kernel_agrees() {
                self.kernel_asked += 1;
                if same {
                    self.kernel_same += 1;
                } else {
                    self.kernel_differences.push(format!(
                        "{}/{}: libbpf {:?}, bpfcheck {:?}",
                        o.object,
                        o.program,
                        o.libbpf,
                        o.ours_kernel.as_ref().expect("asked")
                    ));
                }
            }
        }
    }

    pub fn print(&self, libbpf: &str) {
        let pct = |a: usize, b: usize| {
            if b == 0 {
                100.0
            } else {
                100.0 * a as f64 / b as f64
            }
        };
        println!("oracle: {libbpf}");
        println!("objects: {}", self.objects);
        for (why, n) in &self.objects_unopened {
            println!("  not opened by libbpf: {n}: {why}");
        }
        println!("programs: {}", self.programs);
        println!(
            "programs libbpf prepared: {} ({} not prepared)",
            self.prepared,
            self.programs - self.prepared
        );
        for (why, n) in &self.unprepared {
            println!("  not prepared: {n}: {why}");
        }
        println!(
            "programs identical to libbpf: {}/{} ({:.2}%)",
            self.identical,
            self.prepared,
            pct(self.identical, self.prepared)
        );
        for (class, list) in &self.differences {
            println!("  differences: {}: {class}", list.len());
            for l in list {
                println!("    {l}");
            }
        }
        if self.kernel_asked > 0 {
            println!(
                "same kernel verdict as libbpf: {}/{} ({:.2}%)",
                self.kernel_same,
                self.kernel_asked,
                pct(self.kernel_same, self.kernel_asked)
            );
            for l in &self.kernel_differences {
                println!("    {l}");
            }
        }
    }
}

/// A libbpf warning with its names and numbers removed, to count alike.
pub fn classify_why(why: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for c in why.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                if quoted {
                    out.push_str("'…");
                } else {
                    out.push('\'');
                }
            }
            _ if quoted => {}
            '0'..='9' => {
                if !out.ends_with('N') {
                    out.push('N');
                }
            }
            _ => out.push(c),
        }
    }
    out.replace("prog '…': ", "")
        .replace("map '…': ", "")
        .chars()
        .take(120)
        .collect()
}
