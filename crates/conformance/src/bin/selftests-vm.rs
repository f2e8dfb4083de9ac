//! `selftests-vm`: the selftests corpus against a Debian kernel booted
//! under QEMU, and bpfcheck's answers for that kernel's profile compared
//! with it, in the live-kernel runner's tables.
//!
//! ```text
//! selftests-vm --profile 6.12 --image ~/.cache/bpfcheck/kernels/bookworm-backports/vmlinuz \
//!     --init target/release/bpfcheck-vm-init [--filter verifier_] [--json OUT] \
//!     [--answers OUT.answers.jsonl] [--resume] [--batch 200] [--program-timeout 120] \
//!     [--timeout 1800] [--untested]
//! ```
//!
//! `--untested` also loads the programs no annotation gives a verdict
//! (bpfcheck is compared with the kernel, not with the annotation): 6.1's
//! own selftests mostly predate the annotations, and most `fentry`,
//! `fexit` and LSM programs carry none. The `config` beside the image,
//! when there is one, resolves `__kconfig` externs, and `__ksym`s resolve
//! in the profile's BTF, as libbpf would in the guest.
//!
//! The programs are loaded in batches (`--batch`, one VM each); every
//! batch's answers are appended to the answers file (default: the `--json`
//! path with `.answers.jsonl` added) as it ends, so a run that is killed
//! keeps them, and `--resume` loads only what the file does not answer. A
//! program the guest's verifier is still busy with after
//! `--program-timeout` seconds ends its VM and is recorded as timed out;
//! the batch goes on after it. `--timeout` bounds one VM. A progress line
//! goes to stderr after each batch.
//!
//! Kernel images come from `tools/vm/fetch-kernel.sh`, the static init
//! from `tools/vm/build-init.sh`, the corpus from `tools/selftests/build.sh`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bpfcheck_conformance::selftests::vm_batches::{
    AnswerFile, BatchOptions, read_answers, run_batches,
};
use bpfcheck_conformance::selftests::{corpus, default_cache_dir, vm};
use bpfcheck_verifier::{KernelProfile, LOG_LEVEL1};
use bpfcheck_vmoracle::protocol::{Batch, NamedRequest};
use bpfcheck_vmoracle::qemu::VmConfig;

const USAGE: &str = "usage: selftests-vm --profile NAME --image VMLINUZ --init INIT \
[--cache DIR] [--filter SUBSTR] [--json FILE] [--answers FILE] [--resume] [--batch N] \
[--program-timeout SECS] [--timeout SECS] [--untested]";

struct Args {
    profile: String,
    image: PathBuf,
    init: PathBuf,
    cache: Option<PathBuf>,
    filter: Option<String>,
    json: Option<PathBuf>,
    answers: Option<PathBuf>,
    resume: bool,
    batch: usize,
    program_timeout: u64,
    timeout: u64,
    untested: bool,
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
        answers: None,
        resume: false,
        batch: 200,
        program_timeout: 120,
        timeout: 1800,
        untested: false,
    };
    let number = |arg: &str, v: String| -> Result<u64, String> {
        v.parse().map_err(|e| format!("{arg}: {e}"))
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
            "--answers" => a.answers = Some(value()?.into()),
            "--resume" => a.resume = true,
            "--untested" => a.untested = true,
            "--batch" => {
                a.batch = usize::try_from(number(&arg, value()?)?).map_err(|e| e.to_string())?;
            }
            "--program-timeout" => a.program_timeout = number(&arg, value()?)?,
            "--timeout" => a.timeout = number(&arg, value()?)?,
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown argument {arg:?}\n{USAGE}")),
        }
    }
    a.profile = profile.ok_or(USAGE)?;
    a.image = image.ok_or(USAGE)?;
    a.init = init.ok_or(USAGE)?;
    Ok(a)
}

/// The answers file: `--answers`, else next to `--json`, else in the
/// current directory under the profile's name.
fn answers_path(args: &Args) -> PathBuf {
    if let Some(p) = &args.answers {
        return p.clone();
    }
    match &args.json {
        Some(j) => {
            let mut s = j.clone().into_os_string();
            s.push(".answers.jsonl");
            s.into()
        }
        None => PathBuf::from(format!("selftests-vm-{}.answers.jsonl", args.profile)),
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let profile = KernelProfile::builtin(&args.profile)
        .map_err(|e| e.to_string())?
        .with_possible_cpus(Some(bpfcheck_vmoracle::qemu::GUEST_CPUS));
    let cache = args
        .cache
        .clone()
        .or_else(default_cache_dir)
        .ok_or("no cache directory: pass --cache")?;
    let objects = corpus::objects_matching(&cache, args.filter.as_deref())?;
    // The guest's configuration, fetched beside its image, resolves
    // `__kconfig` externs; `__ksym`s resolve in the profile's BTF.
    let kconfig = args
        .image
        .parent()
        .map(|d| d.join("config"))
        .and_then(|c| std::fs::read_to_string(c).ok())
        .map(|t| bpfcheck_obj::host::parse_kconfig(&t));
    let (prepared, skipped) =
        vm::prepare_programs(&objects, &profile, args.untested, kconfig.as_ref());
    let programs: Vec<NamedRequest> = prepared
        .iter()
        .map(|p| NamedRequest {
            name: p.label(),
            request: p.request.clone(),
        })
        .collect();
    let base = Batch {
        log_level: LOG_LEVEL1,
        exact_log_level: false,
        log_size: 0,
        programs: Vec::new(),
    };
    let answers_file = answers_path(&args);
    let earlier = if args.resume {
        read_answers(&answers_file)?
    } else {
        Default::default()
    };
    let mut file = AnswerFile::open(&answers_file, !args.resume)?;
    let work = std::env::temp_dir().join(format!("selftests-vm-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let mut cfg = VmConfig::new(args.image.clone(), args.init.clone(), work.clone());
    cfg.timeout = Duration::from_secs(args.timeout);
    cfg.program_timeout =
        (args.program_timeout > 0).then(|| Duration::from_secs(args.program_timeout));
    cfg.memory_mb = 1024;
    let opts = BatchOptions {
        batch_size: args.batch,
        max_vms: 6,
    };
    let start = Instant::now();
    let outcome = run_batches(&cfg, &base, &programs, &earlier, opts, &mut file, |p| {
        eprintln!("selftests-vm: {}", p.line());
    });
    let wall = start.elapsed();
    let _ = std::fs::remove_dir_all(&work);
    let outcome = outcome?;
    let mut answers = vec![None; prepared.len()];
    let (mut setup_errors, mut missing) = (0u64, 0u64);
    let mut timed_out: Vec<(String, String)> = Vec::new();
    for (slot, a) in answers.iter_mut().zip(&outcome.answers) {
        let Some(a) = a else {
            missing += 1;
            continue;
        };
        if a.timed_out {
            timed_out.push((a.name.clone(), a.missing.clone().unwrap_or_default()));
        } else if a.setup_error.is_some() {
            setup_errors += 1;
        } else if a.kernel.is_none() {
            missing += 1;
        }
        slot.clone_from(&a.kernel);
    }
    let (records, summary) = vm::compare(&prepared, &answers, &profile, LOG_LEVEL1);
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "profile": profile.name,
            "kernel_image": args.image.display().to_string(),
            "release": outcome.release,
            "skipped": skipped,
            "missing": missing,
            "setup_errors": setup_errors,
            "timed_out": timed_out.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            "resumed": outcome.resumed,
            "vms": outcome.vms,
            "wall_seconds": wall.as_secs_f64(),
            "summary": summary,
            "records": records,
        });
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!(
        "selftests on {} (profile {}), {:.0} s, {} VMs: {} programs loaded ({} answered earlier), {} answered, {} timed out, {} without an answer, {} could not be set up in the guest",
        outcome.release.as_deref().unwrap_or("?"),
        profile.name,
        wall.as_secs_f64(),
        outcome.vms,
        prepared.len(),
        outcome.resumed,
        records.len(),
        timed_out.len(),
        missing,
        setup_errors
    );
    for (name, why) in &timed_out {
        println!("  {name}: {why}");
    }
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
