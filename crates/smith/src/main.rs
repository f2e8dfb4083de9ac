//! `bpfcheck-smith`: generate programs, fuzz bpfcheck against the running
//! kernel, check the scalar domain's soundness.

use std::path::PathBuf;
use std::process::ExitCode;

use bpfcheck_smith::campaign::{DiffOptions, run_diff};
use bpfcheck_smith::diff::Oracle;
use bpfcheck_smith::fixture::body_lines;
use bpfcheck_smith::generator::{GenConfig, generate};
use bpfcheck_smith::rng::SeedRng;
use bpfcheck_smith::sound::{check_alu_domain, check_generated};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "bpfcheck-smith",
    about = "Generated BPF programs for testing bpfcheck"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Compare bpfcheck with the running kernel on generated programs.
    Diff {
        /// Programs to generate.
        #[arg(long, default_value_t = 1000)]
        count: u64,
        /// First seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Directory for reduced disagreements (e.g. fixtures/regressions).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Stop at the first disagreement.
        #[arg(long)]
        stop: bool,
        /// Chance per mille of a deliberate mistake per snippet.
        #[arg(long, default_value_t = 40)]
        mistakes: u32,
        /// Oracle calls per reduction.
        #[arg(long, default_value_t = 3000)]
        reduce_budget: usize,
        /// Also run accepted programs in the kernel and the interpreter
        /// and compare their results.
        #[arg(long)]
        execute: bool,
    },
    /// Run one seed's program in the kernel and the interpreter; if the
    /// results differ, reduce it to a smallest program that still differs.
    Exec {
        /// The seed.
        #[arg(long)]
        seed: u64,
    },
    /// Print the program of one seed.
    Gen {
        /// The seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Check the scalar domain against concrete execution; with
    /// `--programs`, generated programs bpfcheck accepts, run in the
    /// interpreter against the verifier's recorded states.
    Sound {
        /// Random sequences.
        #[arg(long, default_value_t = 100_000)]
        count: u64,
        /// Seed (the first program's, with `--programs`).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Check this many generated programs instead of the domain alone.
        #[arg(long)]
        programs: Option<u64>,
        /// Random inputs per accepted program.
        #[arg(long, default_value_t = 16)]
        runs: usize,
        /// The kernel profile bpfcheck verifies for.
        #[arg(long, default_value = "6.18")]
        profile: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Gen { seed } => {
            let req = generate(&mut SeedRng::new(seed), &GenConfig::default());
            println!("; prog_type {}", req.prog_type.name().unwrap_or("?"));
            for l in body_lines(&req.insns) {
                println!("{l}");
            }
            ExitCode::SUCCESS
        }
        Cmd::Exec { seed } => exec_one(seed),
        Cmd::Sound {
            programs: Some(n),
            seed,
            runs,
            profile,
            ..
        } => sound_programs(&profile, seed, n, runs),
        Cmd::Sound { count, seed, .. } => {
            let mut e = SeedRng::new(seed);
            for i in 0..count {
                if let Some(v) = check_alu_domain(&mut e, 8) {
                    println!("sequence {i}: {v}");
                    return ExitCode::FAILURE;
                }
            }
            println!("{count} sequences: every abstract result contains the concrete one");
            ExitCode::SUCCESS
        }
        Cmd::Diff {
            count,
            seed,
            out,
            stop,
            mistakes,
            reduce_budget,
            execute,
        } => {
            let oracle = match Oracle::host() {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("bpfcheck-smith: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let opts = DiffOptions {
                count,
                seed,
                out,
                stop_at_first: stop,
                reduce_budget,
                generator: GenConfig {
                    mistakes,
                    ..GenConfig::default()
                },
                execute,
            };
            println!("profile: {}", oracle.profile().name);
            let rep = run_diff(&oracle, &opts, |line| println!("{line}"));
            println!(
                "{} programs: {} agree, {} unsupported, {} disagree ({} classes), {} harness errors; kernel accepted {}",
                rep.programs,
                rep.agree,
                rep.unsupported.values().sum::<u64>(),
                rep.disagreements.values().map(|f| f.count).sum::<u64>(),
                rep.disagreements.len(),
                rep.harness_errors,
                rep.kernel_accepted,
            );
            println!(
                "rate: {:.0} programs/hour both sides (kernel alone {:.0}/h, bpfcheck alone {:.0}/h); reduction took {:.1}s",
                rep.rate_per_hour(),
                rep.side_rate_per_hour(1),
                rep.side_rate_per_hour(2),
                rep.time[3].as_secs_f64()
            );
            if execute {
                println!(
                    "executed {} accepted programs in kernel and interpreter: {} results differ",
                    rep.executed, rep.exec_mismatch_count
                );
                for (seed, k, i) in &rep.exec_mismatches {
                    println!("exec mismatch: seed {seed}: kernel {k:#x}, interpreter {i:#x}");
                }
            }
            for (what, n) in &rep.unsupported {
                println!("unsupported {n:>7}  {what}");
            }
            for (key, f) in &rep.disagreements {
                println!(
                    "disagree {:>7}  {key}  (first: seed {}, {} -> {} insns{})",
                    f.count,
                    f.seed,
                    f.insns.0,
                    f.insns.1,
                    f.fixture
                        .as_ref()
                        .map_or_else(String::new, |p| format!(", {}", p.display()))
                );
            }
            ExitCode::SUCCESS
        }
    }
}

fn exec_one(seed: u64) -> ExitCode {
    let oracle = match Oracle::host() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bpfcheck-smith: {e}");
            return ExitCode::FAILURE;
        }
    };
    let packet = bpfcheck_smith::campaign::exec_packet();
    let differs = |req: &bpfcheck_uapi::LoadRequest| matches!(oracle.execute(req, &packet), Ok(Some((k, i))) if u64::from(k) != i & 0xffff_ffff);
    let req = generate(&mut SeedRng::new(seed), &GenConfig::default());
    if !differs(&req) {
        println!("seed {seed}: kernel and interpreter agree (or the kernel refuses the program)");
        return ExitCode::SUCCESS;
    }
    let small = bpfcheck_smith::reduce::reduce(&req, 3000, differs);
    println!("; prog_type {}", small.prog_type.name().unwrap_or("?"));
    for l in body_lines(&small.insns) {
        println!("{l}");
    }
    if let Ok(Some((k, i))) = oracle.execute(&small, &packet) {
        println!("; kernel {k:#x}, interpreter {i:#x}");
    }
    ExitCode::FAILURE
}

/// `sound --programs N`: the states of the verifier against the interpreter.
fn sound_programs(profile: &str, seed: u64, n: u64, runs: usize) -> ExitCode {
    let profile = match bpfcheck_profile::KernelProfile::builtin(profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("bpfcheck-smith: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cfg = GenConfig::default();
    let rep = check_generated(&profile, &cfg, seed, n, runs);
    for (seed, why) in &rep.walk_differs {
        println!("seed {seed}: accepted, but rejected when every path is walked: {why}");
    }
    for (seed, v) in &rep.violations {
        println!("seed {seed}: {v}");
    }
    println!(
        "{} programs, {} accepted and executed {runs} times each ({} more unsupported and {} too long when every path is walked): {} outside the verifier's states, {} rejected by the full walk",
        rep.programs,
        rep.checked,
        rep.walk_unsupported,
        rep.walk_too_long,
        rep.violations.len(),
        rep.walk_differs.len()
    );
    if rep.violations.is_empty() && rep.walk_differs.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
