//! Runs the compiled BPF selftests (see `tools/selftests/build.sh`) against
//! the running kernel and bpfcheck, and writes a JSON report and tables.
//!
//! Usage: `selftests [--cache DIR] [--json FILE] [--filter SUBSTR]`
//! The cache defaults to `${XDG_CACHE_HOME:-~/.cache}/bpfcheck/selftests-6.12`;
//! `--filter` keeps objects whose file name contains SUBSTR. The tables go
//! to stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use bpfcheck_conformance::selftests::{CorpusReport, Harness, corpus, default_cache_dir};

struct Args {
    cache: Option<PathBuf>,
    json: Option<PathBuf>,
    filter: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        cache: None,
        json: None,
        filter: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--cache" => a.cache = Some(value()?.into()),
            "--json" => a.json = Some(value()?.into()),
            "--filter" => a.filter = Some(value()?),
            "-h" | "--help" => {
                return Err(
                    "usage: selftests [--cache DIR] [--json FILE] [--filter SUBSTR]".into(),
                );
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    Ok(a)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let cache = args
        .cache
        .or_else(default_cache_dir)
        .ok_or("no cache directory: pass --cache")?;
    let objects = corpus::objects_matching(&cache, args.filter.as_deref())?;
    let kernel = bpfcheck_sys::Kernel::probe()
        .map_err(|e| format!("the running kernel cannot be asked: {e}"))?;
    let profile =
        bpfcheck_conformance::host_profile().ok_or("no profile for the running kernel")?;
    let harness = Harness::new(kernel, profile);
    let reports = harness.run_all(&objects);
    let summary = CorpusReport::of(&reports);
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "cache": cache.display().to_string(),
            "testing_prog_flags": harness.testing_flags(),
            "summary": summary,
            "objects": reports,
        });
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    print!("{}", summary.render());
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("selftests: {e}");
            ExitCode::FAILURE
        }
    }
}
