//! `selftests-vm`: the selftests corpus against a Debian kernel booted
//! under QEMU, and bpfcheck's answers for that kernel's profile compared
//! with it, in the live-kernel runner's tables.
//!
//! ```text
//! selftests-vm --profile 6.12 --image ~/.cache/bpfcheck/kernels/bookworm-backports/vmlinuz \
//!     --init target/release/bpfcheck-vm-init [--filter verifier_] [--json OUT] [--timeout 1800] \
//!     [--unannotated]
//! ```
//!
//! `--unannotated` also loads the programs without a verdict annotation
//! (the guest's answer is the judge). The `config` beside the image, when
//! there is one, resolves `__kconfig` externs, and `__ksym`s resolve in the
//! profile's BTF, as libbpf would in the guest.
//!
//! Kernel images come from `tools/vm/fetch-kernel.sh`, the static init
//! from `tools/vm/build-init.sh`, the corpus from `tools/selftests/build.sh`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bpfcheck_conformance::selftests::{corpus, default_cache_dir, vm};
use bpfcheck_verifier::{KernelProfile, LOG_LEVEL1};
use bpfcheck_vmoracle::protocol::{Batch, NamedRequest};
use bpfcheck_vmoracle::qemu::VmConfig;
use bpfcheck_vmoracle::session;

const USAGE: &str = "usage: selftests-vm --profile NAME --image VMLINUZ --init INIT \
[--cache DIR] [--filter SUBSTR] [--json FILE] [--timeout SECS] [--unannotated]";

struct Args {
    profile: String,
    image: PathBuf,
    init: PathBuf,
    cache: Option<PathBuf>,
    filter: Option<String>,
    json: Option<PathBuf>,
    timeout: u64,
    unannotated: bool,
}

fn parse_args() -> Result<Args, String> {
    let (mut profile, mut image, mut init) = (None, None, None);
    let mut a = Args {
        profile: String::new(),
        image: PathBuf::new(),
        init: PathBuf::new(),
        cache: None,
        filter: None,
        json: None,
        timeout: 1800,
        unannotated: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--profile" => profile = Some(value()?),
            "--image" => image = Some(PathBuf::from(value()?)),
            "--init" => init = Some(PathBuf::from(value()?)),
            "--cache" => a.cache = Some(value()?.into()),
            "--filter" => a.filter = Some(value()?),
            "--json" => a.json = Some(value()?.into()),
            "--timeout" => {
                a.timeout = value()?.parse().map_err(|e| format!("--timeout: {e}"))?;
            }
            "--unannotated" => a.unannotated = true,
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown argument {arg:?}\n{USAGE}")),
        }
    }
    a.profile = profile.ok_or(USAGE)?;
    a.image = image.ok_or(USAGE)?;
    a.init = init.ok_or(USAGE)?;
    Ok(a)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let profile = KernelProfile::builtin(&args.profile)
        .map_err(|e| e.to_string())?
        .with_possible_cpus(Some(bpfcheck_vmoracle::qemu::GUEST_CPUS));
    let cache = args
        .cache
        .or_else(default_cache_dir)
        .ok_or("no cache directory: pass --cache")?;
    let objects = corpus::objects_matching(&cache, args.filter.as_deref())?;
    let kconfig = args
        .image
        .parent()
        .map(|d| d.join("config"))
        .and_then(|c| std::fs::read_to_string(c).ok())
        .map(|t| bpfcheck_obj::host::parse_kconfig(&t));
    let with = vm::PrepareOptions {
        unannotated: args.unannotated,
        kconfig,
    };
    let (prepared, skipped) = vm::prepare_with(&objects, &profile, &with);
    let batch = Batch {
        log_level: LOG_LEVEL1,
        exact_log_level: false,
        log_size: 0,
        programs: prepared
            .iter()
            .map(|p| NamedRequest {
                name: p.label(),
                request: p.request.clone(),
            })
            .collect(),
    };
    let work = std::env::temp_dir().join(format!("selftests-vm-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let mut cfg = VmConfig::new(args.image.clone(), args.init.clone(), work.clone());
    cfg.timeout = Duration::from_secs(args.timeout);
    cfg.memory_mb = 1024;
    let start = Instant::now();
    let report = session::run_resuming(&cfg, &batch, 6).map_err(|e| e.to_string())?;
    let wall = start.elapsed();
    let _ = std::fs::remove_dir_all(&work);
    let mut answers = vec![None; prepared.len()];
    let mut setup_errors = 0u64;
    for r in &report.programs {
        if let Some(i) = prepared.iter().position(|p| p.label() == r.name) {
            if r.kernel.is_none() {
                setup_errors += 1;
            }
            answers[i] = r.kernel.clone();
        }
    }
    let (records, summary) = vm::compare(&prepared, &answers, &profile, LOG_LEVEL1);
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "profile": profile.name,
            "kernel_image": report.kernel_image,
            "release": report.release,
            "skipped": skipped,
            "missing": report.missing.len(),
            "setup_errors": setup_errors,
            "wall_seconds": wall.as_secs_f64(),
            "summary": summary,
            "records": records,
        });
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!(
        "selftests on {} (profile {}), {:.0} s: {} programs loaded, {} answered, {} without an answer, {} could not be set up in the guest",
        report.release.as_deref().unwrap_or("?"),
        profile.name,
        wall.as_secs_f64(),
        prepared.len(),
        records.len(),
        report.missing.len(),
        setup_errors
    );
    for (why, n) in &skipped {
        println!("  left out: {n:>5}  {why}");
    }
    print!("{}", summary.render());
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("selftests-vm: {e}");
            ExitCode::FAILURE
        }
    }
}
