//! A differential fuzzing campaign: generate, compare, reduce, record.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bpfcheck_uapi::{LoadRequest, op};

use crate::diff::{Class, Oracle, classify};
use crate::fixture::fixture_text;
use crate::generator::{GenConfig, generate};
use crate::reduce::reduce;
use crate::rng::SeedRng;

/// What to run.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// Programs to generate.
    pub count: u64,
    /// Seed of the first program; program `i` uses `seed + i`.
    pub seed: u64,
    /// Where reduced disagreements are written as fixtures (none: not written).
    pub out: Option<PathBuf>,
    /// Stop at the first disagreement instead of collecting them.
    pub stop_at_first: bool,
    /// Oracle calls each reduction may make.
    pub reduce_budget: usize,
    /// The generator's settings.
    pub generator: GenConfig,
    /// Also run each program the kernel accepts, in the kernel
    /// (`BPF_PROG_TEST_RUN`) and in the interpreter, and compare R0.
    pub execute: bool,
}

/// One class of disagreement found.
#[derive(Clone, Debug)]
pub struct Found {
    /// How many programs showed it.
    pub count: u64,
    /// Seed of the first.
    pub seed: u64,
    /// The first one's description.
    pub describe: String,
    /// Instructions before and after reduction.
    pub insns: (usize, usize),
    /// Where the reduced fixture was written.
    pub fixture: Option<PathBuf>,
}

/// The campaign's results.
#[derive(Clone, Debug, Default)]
pub struct DiffReport {
    /// Programs generated.
    pub programs: u64,
    /// Programs both judged alike.
    pub agree: u64,
    /// Programs the kernel accepted.
    pub kernel_accepted: u64,
    /// bpfcheck `unsupported`, by feature.
    pub unsupported: BTreeMap<String, u64>,
    /// Disagreements by class key.
    pub disagreements: BTreeMap<String, Found>,
    /// Programs the kernel could not be asked about (map creation failed…).
    pub harness_errors: u64,
    /// Time in generation, the kernel, bpfcheck, reduction.
    pub time: [Duration; 4],
    /// Programs run in both the kernel and the interpreter.
    pub executed: u64,
    /// Seeds (up to 20) where the interpreter's R0 differed from the
    /// kernel's return value: `(seed, kernel, interpreter)`.
    pub exec_mismatches: Vec<(u64, u32, u64)>,
    /// Number of such programs.
    pub exec_mismatch_count: u64,
}

impl DiffReport {
    /// Programs per hour through both verifiers (generation included,
    /// reduction excluded).
    pub fn rate_per_hour(&self) -> f64 {
        let t = self.time[0] + self.time[1] + self.time[2];
        per_hour(self.programs, t)
    }

    /// Programs per hour of one side alone (1: kernel, 2: bpfcheck).
    pub fn side_rate_per_hour(&self, side: usize) -> f64 {
        per_hour(
            self.programs,
            self.time.get(side).copied().unwrap_or_default(),
        )
    }
}

fn per_hour(n: u64, t: Duration) -> f64 {
    let s = t.as_secs_f64();
    if s == 0.0 { 0.0 } else { n as f64 * 3600.0 / s }
}

fn slug(key: &str) -> String {
    let mut s: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let short: String = s.trim_matches('-').chars().take(60).collect();
    // Keys can share their first 60 characters: a hash keeps names apart.
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{short}-{:08x}", hash as u32)
}

/// Runs the campaign; `progress` receives one line per finding.
pub fn run_diff(oracle: &Oracle, opts: &DiffOptions, mut progress: impl FnMut(&str)) -> DiffReport {
    let mut rep = DiffReport::default();
    for i in 0..opts.count {
        let seed = opts.seed.wrapping_add(i);
        let t0 = Instant::now();
        let req = generate(&mut SeedRng::new(seed), &opts.generator);
        let t1 = Instant::now();
        let kernel = oracle.kernel(&req);
        let t2 = Instant::now();
        let ours = oracle.bpfcheck(&req);
        let t3 = Instant::now();
        rep.time[0] += t1 - t0;
        rep.time[1] += t2 - t1;
        rep.time[2] += t3 - t2;
        rep.programs += 1;
        let Ok(kernel) = kernel else {
            rep.harness_errors += 1;
            continue;
        };
        rep.kernel_accepted += u64::from(kernel.accepted);
        if opts.execute && kernel.accepted && !uses_nondeterminism(&req) {
            execute(oracle, &req, seed, &mut rep);
        }
        match classify(&kernel, &ours) {
            Class::Agree => rep.agree += 1,
            Class::Unsupported(what) => {
                let key: String = what.chars().filter(|c| !c.is_ascii_digit()).collect();
                *rep.unsupported.entry(key).or_default() += 1;
            }
            Class::Disagree(d) => {
                let key = d.key();
                if let Some(f) = rep.disagreements.get_mut(&key) {
                    f.count += 1;
                    continue;
                }
                let t4 = Instant::now();
                let small = reduce(
                    &req,
                    opts.reduce_budget,
                    |cand| matches!(oracle.check(cand), Ok((Class::Disagree(d2), _, _)) if d2.key() == key),
                );
                let fixture = opts
                    .out
                    .as_deref()
                    .and_then(|dir| write_fixture(oracle, dir, &small, &key, seed).ok());
                rep.time[3] += t4.elapsed();
                progress(&format!(
                    "seed {seed}: {} ({} -> {} insns){}",
                    d.describe(),
                    req.insns.len(),
                    small.insns.len(),
                    fixture
                        .as_ref()
                        .map_or_else(String::new, |p| format!(", {}", p.display()))
                ));
                rep.disagreements.insert(
                    key,
                    Found {
                        count: 1,
                        seed,
                        describe: d.describe(),
                        insns: (req.insns.len(), small.insns.len()),
                        fixture,
                    },
                );
                if opts.stop_at_first {
                    break;
                }
            }
        }
    }
    rep
}

/// Helpers whose results the interpreter cannot reproduce: time, random
/// numbers, the CPU.
fn uses_nondeterminism(req: &LoadRequest) -> bool {
    req.insns
        .iter()
        .any(|i| i.code == (op::JMP | op::CALL) && i.src == 0 && matches!(i.imm, 5 | 7 | 8))
}

/// The packet accepted programs run on: 64 bytes, none of them zero.
pub fn exec_packet() -> Vec<u8> {
    (0..64u32)
        .map(|i| (i.wrapping_mul(37) ^ 0x5a) as u8)
        .collect()
}

/// Runs one accepted program on a fixed packet in the kernel and the
/// interpreter.
fn execute(oracle: &Oracle, req: &LoadRequest, seed: u64, rep: &mut DiffReport) {
    let packet: Vec<u8> = (0..64u32)
        .map(|i| (i.wrapping_mul(37) ^ 0x5a) as u8)
        .collect();
    if let Ok(Some((kernel, ours))) = oracle.execute(req, &packet) {
        rep.executed += 1;
        if u64::from(kernel) != ours & 0xffff_ffff {
            rep.exec_mismatch_count += 1;
            if rep.exec_mismatches.len() < 20 {
                rep.exec_mismatches.push((seed, kernel, ours));
            }
        }
    }
}

/// Writes the reduced program with the kernel's answer and bpfcheck's.
fn write_fixture(
    oracle: &Oracle,
    dir: &Path,
    req: &LoadRequest,
    key: &str,
    seed: u64,
) -> Result<PathBuf, String> {
    let (class, kernel, ours) = oracle.check(req).map_err(|e| e.to_string())?;
    let ours_text = match (&ours.error, &ours.unsupported) {
        (Some(e), _) => format!("bpfcheck: rejected {} {}", e.errno, e.message),
        (None, Some(u)) => format!("bpfcheck: unsupported: {u}"),
        (None, None) => format!("bpfcheck: {:?}", ours.verdict),
    };
    let describe = match class {
        Class::Disagree(d) => d.describe(),
        other => format!("{other:?}"),
    };
    let comments = vec![
        format!("bpfcheck-smith diff, seed {seed}, reduced; class: {key}"),
        describe,
        ours_text,
        format!(
            "insns processed: kernel {:?}, bpfcheck {:?}",
            kernel.insns_processed,
            ours.stats.as_ref().map(|s| s.insns_processed)
        ),
    ];
    let text = fixture_text(req, &kernel, &comments)?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let path = dir.join(format!("smith-{}.s", slug(key)));
    std::fs::write(&path, text).map_err(|e| e.to_string())?;
    Ok(path)
}
