//! `bpfcheck-vm`: boot a Debian kernel under QEMU and ask its verifier.
//!
//! ```text
//! bpfcheck-vm run --kernel vmlinuz --requests REQ.json --out RESULTS.json [--timeout 120] [--log-level N]
//! bpfcheck-vm run-fixtures --kernel vmlinuz [--out RESULTS.json] fixtures/asm fixtures/malformed
//! bpfcheck-vm requests --out REQ.json fixtures/asm
//! ```
//!
//! Exit status: 0 when every program got an answer, 1 when the VM crashed,
//! timed out or init failed (the results file says which programs are
//! missing and why), 2 when the run could not be set up.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use bpfcheck_uapi::LoadRequest;
use bpfcheck_vmoracle::{
    VmError,
    fixtures::{self, Comparison},
    initramfs::check_static_init,
    protocol::{Batch, NamedRequest},
    qemu::VmConfig,
    results::{RunReport, exit_text},
    session,
};
use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};

/// `println!` that ignores a closed stdout (`bpfcheck-vm … | head`)
/// instead of panicking.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// The same for stderr.
macro_rules! note {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($t)*);
    }};
}

/// Environment variable naming the static init binary.
const INIT_ENV: &str = "BPFCHECK_VM_INIT";
const INIT_NAME: &str = "bpfcheck-vm-init";

#[derive(Parser, Debug)]
#[command(
    name = "bpfcheck-vm",
    version,
    about = "Ask real kernels' verifiers, booted under QEMU"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Load the programs of a request file in the VM.
    Run {
        #[command(flatten)]
        vm: VmOpts,
        /// JSON: a list of `{name, request}`, a list of load requests, or a
        /// batch `{log_level, programs}`.
        #[arg(long)]
        requests: PathBuf,
        /// Where the results go.
        #[arg(long)]
        out: PathBuf,
    },
    /// Assemble fixture directories, load them in the VM and compare with
    /// their recorded `;! expect:` lines.
    RunFixtures {
        #[command(flatten)]
        vm: VmOpts,
        /// Where the results and comparisons go.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Directories of `*.s` fixtures.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Write the request file for fixture directories.
    Requests {
        /// Where the requests go.
        #[arg(long)]
        out: PathBuf,
        /// Directories of `*.s` fixtures, or ELF objects (`*.o`: each
        /// program prepared as libbpf would, without externs).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct VmOpts {
    /// The kernel image (`vmlinuz`, from tools/vm/fetch-kernel.sh).
    #[arg(long)]
    kernel: PathBuf,
    /// Wall-clock limit for the run in seconds, boot included.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Verifier log level of the results (0: no log; 1, 2; add 4 for the
    /// statistics lines).
    #[arg(long, default_value_t = 1)]
    log_level: u32,
    /// Load with exactly --log-level; by default the guest adds 1 (for the
    /// error line) and 4 (for the kernel's own verification time) and
    /// removes from the results what was not asked for.
    #[arg(long)]
    exact_log_level: bool,
    /// First log buffer in bytes (0: bpfcheck-sys's default).
    /// Kernels before 6.4 answer ENOSPC when the log does not fit.
    #[arg(long, default_value_t = 0)]
    log_size: usize,
    /// The static init (default: $BPFCHECK_VM_INIT, else next to this
    /// program or in the target dir's x86_64-unknown-linux-gnu/release).
    #[arg(long)]
    init: Option<PathBuf>,
    /// QEMU binary.
    #[arg(long, default_value = "qemu-system-x86_64")]
    qemu: PathBuf,
    /// Guest memory in MiB.
    #[arg(long, default_value_t = 512)]
    memory: u32,
    /// QEMU machine type.
    #[arg(long, default_value = "q35")]
    machine: String,
    /// Most VMs to boot: after a crash or timeout the unanswered programs
    /// get a fresh VM.
    #[arg(long, default_value_t = 3)]
    vms: usize,
    /// QEMU CPU model.
    #[arg(long, default_value = "max")]
    cpu: String,
    /// Directory for the initramfs and the console and channel logs
    /// (default: a fresh temporary directory, removed after a complete run).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Extra kernel command-line words.
    #[arg(long, default_value = "")]
    append: String,
}

/// The request file formats `run` accepts.
#[derive(Deserialize)]
#[serde(untagged)]
enum RequestFile {
    Batch(Batch),
    Named(Vec<NamedRequest>),
    Plain(Vec<LoadRequest>),
}

/// `run-fixtures` output: the run and the comparison with the recordings.
#[derive(Serialize)]
struct FixtureReport<'a> {
    #[serde(flatten)]
    run: &'a RunReport,
    comparisons: &'a [Comparison],
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Run { vm, requests, out } => read_requests(&requests, &vm).and_then(|batch| {
            let report = run_vm(&vm, &batch)?;
            write_json(&out, &report)?;
            say!("results: {}", out.display());
            Ok(report.complete())
        }),
        Cmd::RunFixtures { vm, out, dirs } => run_fixtures(&vm, out.as_deref(), &dirs),
        Cmd::Requests { out, dirs } => {
            let (objects, dirs): (Vec<PathBuf>, Vec<PathBuf>) = dirs
                .into_iter()
                .partition(|p| p.extension().is_some_and(|x| x == "o"));
            let collected = if dirs.is_empty() {
                Ok((Vec::new(), Vec::new()))
            } else {
                fixtures::collect(&dirs)
            };
            collected
                .and_then(|(mut reqs, _)| {
                    reqs.extend(fixtures::object_requests(&objects)?);
                    Ok(reqs)
                })
                .and_then(|reqs| {
                    write_json(&out, &reqs)?;
                    say!("{} requests: {}", reqs.len(), out.display());
                    Ok(true)
                })
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            note!("bpfcheck-vm: {e}");
            ExitCode::from(2)
        }
    }
}

fn read_requests(path: &Path, opts: &VmOpts) -> Result<Batch, VmError> {
    let text = std::fs::read(path).map_err(|e| VmError::io(path, "reading requests", e))?;
    let file: RequestFile = serde_json::from_slice(&text).map_err(|e| VmError::Input {
        path: path.to_owned(),
        message: format!(
            "not a request file (a batch, a list of {{name, request}}, or a list of load requests): {e}"
        ),
    })?;
    let programs = match file {
        RequestFile::Batch(b) => b.programs,
        RequestFile::Named(n) => n,
        RequestFile::Plain(p) => p
            .into_iter()
            .enumerate()
            .map(|(i, request)| NamedRequest {
                name: if request.name.is_empty() {
                    format!("#{i}")
                } else {
                    request.name.clone()
                },
                request,
            })
            .collect(),
    };
    Ok(Batch {
        log_level: opts.log_level,
        exact_log_level: opts.exact_log_level,
        log_size: opts.log_size,
        programs,
    })
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), VmError> {
    let mut text =
        serde_json::to_string_pretty(value).map_err(|e| VmError::Encode(e.to_string()))?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| VmError::io(path, "writing results", e))
}

/// The init binary: the option, the environment, or a static build next
/// to this program.
fn find_init(opt: Option<&Path>) -> Result<PathBuf, VmError> {
    if let Some(p) = opt {
        return Ok(p.to_owned());
    }
    if let Some(p) = std::env::var_os(INIT_ENV) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| VmError::Init {
        path: PathBuf::from(INIT_NAME),
        message: format!("cannot locate this program to find the init next to it: {e}"),
    })?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let mut candidates = vec![dir.join(INIT_NAME)];
    if let Some(target) = dir.parent() {
        candidates.push(
            target
                .join("x86_64-unknown-linux-gnu/release")
                .join(INIT_NAME),
        );
    }
    let mut rejected = Vec::new();
    for c in &candidates {
        let Ok(bytes) = std::fs::read(c) else {
            continue;
        };
        match check_static_init(c, &bytes) {
            Ok(()) => return Ok(c.clone()),
            Err(e) => rejected.push(e.to_string()),
        }
    }
    Err(VmError::Init {
        path: candidates[0].clone(),
        message: format!(
            "no static {INIT_NAME} found (looked at {}{}); build it with tools/vm/build-init.sh, \
             or pass --init / set {INIT_ENV}",
            candidates
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if rejected.is_empty() {
                String::new()
            } else {
                format!("; unusable: {}", rejected.join("; "))
            }
        ),
    })
}

fn run_vm(opts: &VmOpts, batch: &Batch) -> Result<RunReport, VmError> {
    let init = find_init(opts.init.as_deref())?;
    let temporary = opts.work_dir.is_none();
    let work_dir = opts.work_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("bpfcheck-vm-{}", std::process::id()))
    });
    let mut cfg = VmConfig::new(opts.kernel.clone(), init, work_dir.clone());
    cfg.qemu.clone_from(&opts.qemu);
    cfg.memory_mb = opts.memory;
    cfg.machine.clone_from(&opts.machine);
    cfg.cpu.clone_from(&opts.cpu);
    cfg.timeout = Duration::from_secs(opts.timeout);
    cfg.extra_append.clone_from(&opts.append);
    note!(
        "booting {} with {} programs (timeout {} s)",
        opts.kernel.display(),
        batch.programs.len(),
        opts.timeout
    );
    let report = session::run_resuming(&cfg, batch, opts.vms)?;
    print_summary(&report);
    if temporary && report.complete() {
        let _ = std::fs::remove_dir_all(&work_dir);
    } else {
        say!("work directory kept: {}", work_dir.display());
    }
    Ok(report)
}

fn print_summary(r: &RunReport) {
    let ms = |v: Option<u64>| {
        v.map_or_else(|| "?".to_owned(), |v| format!("{:.2} s", v as f64 / 1000.0))
    };
    say!(
        "kernel:   {} ({})",
        r.release.as_deref().unwrap_or("?"),
        r.kernel_image
    );
    say!(
        "boot:     {} to init (host), guest uptime at init {}",
        ms(r.timing.host_to_init_ms),
        ms(r.timing.guest_boot_ms)
    );
    let accepted = r
        .programs
        .iter()
        .filter(|p| p.kernel.as_ref().is_some_and(|k| k.verdict == "accepted"))
        .count();
    let setup = r
        .programs
        .iter()
        .filter(|p| p.setup_error.is_some())
        .count();
    let total_us: u64 = r.programs.iter().map(|p| p.wall_us).sum();
    let mean_ms = total_us as f64 / r.programs.len().max(1) as f64 / 1000.0;
    say!(
        "programs: {} answered ({accepted} accepted, {} rejected, {setup} setup failures), {} missing; \
         {} for all, {mean_ms:.1} ms per program",
        r.programs.len(),
        r.programs.len() - accepted - setup,
        r.missing.len(),
        ms(r.timing.guest_programs_ms),
    );
    say!(
        "total:    {} ({})",
        ms(Some(r.timing.total_ms)),
        exit_text(&r.exit)
    );
    for m in &r.missing {
        say!("missing:  {}: {}", m.name, m.reason);
    }
    if let Some(t) = &r.console_tail {
        say!("--- console tail ---\n{t}\n---");
    }
}

fn run_fixtures(opts: &VmOpts, out: Option<&Path>, dirs: &[PathBuf]) -> Result<bool, VmError> {
    let (programs, fixtures) = fixtures::collect(dirs)?;
    let batch = Batch {
        log_level: opts.log_level,
        exact_log_level: opts.exact_log_level,
        log_size: opts.log_size,
        programs,
    };
    let report = run_vm(opts, &batch)?;
    let comparisons = fixtures::compare(&fixtures, &report.programs);
    if let Some(out) = out {
        write_json(
            out,
            &FixtureReport {
                run: &report,
                comparisons: &comparisons,
            },
        )?;
        say!("results: {}", out.display());
    }
    let differing: Vec<&Comparison> = comparisons.iter().filter(|c| c.differs()).collect();
    let count = |f: fn(&Comparison) -> bool| differing.iter().filter(|c| f(c)).count();
    say!(
        "versus the 6.18 recordings: {} of {} differ ({} verdicts, {} errnos, {} error lines)",
        differing.len(),
        comparisons.len(),
        count(|c| c.verdict_differs),
        count(|c| c.errno_differs),
        count(|c| c.error_differs),
    );
    for c in &differing {
        say!(
            "  {}\n    6.18: {}\n    this: {}",
            c.name,
            c.expected.as_deref().unwrap_or("(no expectation)"),
            c.got
        );
    }
    Ok(report.complete())
}
