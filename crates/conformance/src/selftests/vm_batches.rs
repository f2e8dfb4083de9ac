//! The VM runner's programs in batches of a few hundred, one VM per batch,
//! each batch's answers appended to a JSON-lines file as soon as it ends:
//! a run that is killed keeps what it had, and `--resume` skips what the
//! file already answers. A program that keeps the guest's verifier busy
//! past the per-program timeout ends its VM, is recorded as timed out and
//! the batch goes on in a new VM after it (see
//! [`bpfcheck_vmoracle::session::run_resuming`]).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bpfcheck_report::KernelSide;
use bpfcheck_vmoracle::protocol::{Batch, NamedRequest};
use bpfcheck_vmoracle::qemu::VmConfig;
use bpfcheck_vmoracle::results::exit_text;
use bpfcheck_vmoracle::session;
use serde::{Deserialize, Serialize};

/// One program's outcome, one line of the answers file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// [`NamedRequest::name`] (`object:program`).
    pub name: String,
    /// The kernel's answer; `None` when there is none (see the other fields).
    pub kernel: Option<KernelSide>,
    /// The guest could not set the load up (a map or BTF it could not
    /// create): the `bpf()` command and its error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_error: Option<String>,
    /// The per-program timeout ended its VM.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
    /// The per-program timeout of the run that timed it out, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_timeout_s: Option<u64>,
    /// Why there is no answer (crash, hang, timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
    /// Wall time of the load in the guest, microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_us: Option<u64>,
    /// `uname -r` of the guest that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
}

impl Answer {
    /// Whether `--resume` should leave it alone: answered, refused by the
    /// guest's set-up, or timed out under a per-program timeout at least
    /// `timeout` (a second try would take as long; a longer timeout tries
    /// again). A program lost to a crash is tried again.
    pub fn is_final_under(&self, timeout: Option<Duration>) -> bool {
        let timed_out_for_good = self.timed_out
            && match (timeout, self.program_timeout_s) {
                (None, _) => false,
                (Some(t), Some(had)) => t.as_secs() <= had,
                (Some(_), None) => true,
            };
        self.kernel.is_some() || self.setup_error.is_some() || timed_out_for_good
    }

    /// [`Answer::is_final_under`] the timeout it was given.
    pub fn is_final(&self) -> bool {
        self.kernel.is_some() || self.setup_error.is_some() || self.timed_out
    }
}

/// The answers file.
#[derive(Debug)]
pub struct AnswerFile {
    path: PathBuf,
    file: std::fs::File,
}

impl AnswerFile {
    /// Opens `path` for appending; `fresh` empties it first.
    pub fn open(path: &Path, fresh: bool) -> Result<Self, String> {
        let mut o = std::fs::OpenOptions::new();
        o.create(true);
        if fresh {
            o.write(true).truncate(true);
        } else {
            o.append(true);
        }
        let file = o
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            file,
        })
    }

    /// Appends `answers` and pushes them to the disk, so that a run killed
    /// right after still has them.
    pub fn append(&mut self, answers: &[Answer]) -> Result<(), String> {
        let mut text = String::new();
        for a in answers {
            let line = serde_json::to_string(a).map_err(|e| e.to_string())?;
            text.push_str(&line);
            text.push('\n');
        }
        let err = |e: std::io::Error| format!("{}: {e}", self.path.display());
        self.file.write_all(text.as_bytes()).map_err(err)?;
        self.file.sync_data().map_err(err)
    }
}

/// The answers of an earlier run by name; a later line for a name replaces
/// an earlier one. A torn last line (the run was killed while writing it)
/// is ignored. A file that does not exist has no answers.
pub fn read_answers(path: &Path) -> Result<BTreeMap<String, Answer>, String> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut out = BTreeMap::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        if let Ok(a) = serde_json::from_str::<Answer>(&line) {
            out.insert(a.name.clone(), a);
        }
    }
    Ok(out)
}

/// How the programs are split and how often a batch may lose its VM.
#[derive(Clone, Copy, Debug)]
pub struct BatchOptions {
    /// Programs per VM.
    pub batch_size: usize,
    /// VMs one batch may boot besides those ended by the per-program
    /// timeout ([`session::run_resuming`]).
    pub max_vms: usize,
}

/// Where a run is, after each batch.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Batches finished in this run.
    pub batch: usize,
    /// Batches of this run.
    pub batches: usize,
    /// Programs with a final answer (earlier runs included).
    pub done: usize,
    /// Programs in the run (earlier runs included).
    pub total: usize,
    /// Taken from the answers file.
    pub resumed: usize,
    /// Timed out so far (earlier runs included).
    pub timed_out: usize,
    /// Without an answer after this run's batches (crashes).
    pub missing: usize,
    /// VMs booted in this run.
    pub vms: usize,
    /// Wall time of this run.
    pub elapsed: Duration,
    /// The slowest load of the last batch and its wall time.
    pub slowest: Option<(String, Duration)>,
    /// When the last batch left programs without an answer: how its last
    /// VM ended and the last lines of that VM's console.
    pub trouble: Option<String>,
}

impl Progress {
    /// One line for a terminal or a log.
    pub fn line(&self) -> String {
        let secs = self.elapsed.as_secs();
        let run_done = self.done.saturating_sub(self.resumed);
        let left = self.total.saturating_sub(self.done + self.missing);
        let eta = if run_done == 0 {
            String::new()
        } else {
            let per = self.elapsed.as_secs_f64() / run_done as f64;
            format!(", ~{:.0} s left", per * left as f64)
        };
        let slow = self
            .slowest
            .as_ref()
            .map(|(n, d)| format!("; slowest {n} {:.1} s", d.as_secs_f64()))
            .unwrap_or_default();
        let trouble = self
            .trouble
            .as_ref()
            .map(|t| format!("\n{t}"))
            .unwrap_or_default();
        format!(
            "batch {}/{}: {}/{} programs done ({} resumed), {} timed out, {} without an answer, {} VMs, {secs} s{eta}{slow}{trouble}",
            self.batch,
            self.batches,
            self.done,
            self.total,
            self.resumed,
            self.timed_out,
            self.missing,
            self.vms,
        )
    }
}

/// What a whole run produced, in the programs' order.
#[derive(Debug)]
pub struct Outcome {
    /// One per program: this run's answer, else the file's, else `None`
    /// (never reached, e.g. no batch ran).
    pub answers: Vec<Option<Answer>>,
    /// `uname -r` of the guest.
    pub release: Option<String>,
    /// Taken from the answers file.
    pub resumed: usize,
    /// VMs booted.
    pub vms: usize,
}

/// Runs `programs` (with `base`'s log settings) in batches, skipping those
/// `earlier` answers for good, appending every batch's outcome to `file`
/// and calling `progress` after each batch.
pub fn run_batches(
    cfg: &VmConfig,
    base: &Batch,
    programs: &[NamedRequest],
    earlier: &BTreeMap<String, Answer>,
    opts: BatchOptions,
    file: &mut AnswerFile,
    mut progress: impl FnMut(&Progress),
) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut answers: Vec<Option<Answer>> = programs
        .iter()
        .map(|p| earlier.get(&p.name).cloned())
        .collect();
    let todo: Vec<usize> = (0..programs.len())
        .filter(|&i| {
            !answers[i]
                .as_ref()
                .is_some_and(|a| a.is_final_under(cfg.program_timeout))
        })
        .collect();
    let resumed = programs.len() - todo.len();
    let mut release = answers.iter().flatten().find_map(|a| a.release.clone());
    let chunks: Vec<&[usize]> = todo.chunks(opts.batch_size.max(1)).collect();
    let mut vms = 0;
    for (b, chunk) in chunks.iter().enumerate() {
        let batch = Batch {
            programs: chunk.iter().map(|&i| programs[i].clone()).collect(),
            ..base.clone()
        };
        let report = session::run_resuming(cfg, &batch, opts.max_vms).map_err(|e| e.to_string())?;
        vms += report.attempts.len();
        if release.is_none() {
            release.clone_from(&report.release);
        }
        let mut batch_answers = Vec::with_capacity(chunk.len());
        let mut slowest: Option<(String, Duration)> = None;
        for r in &report.programs {
            let d = Duration::from_micros(r.wall_us);
            if slowest.as_ref().is_none_or(|(_, s)| d > *s) {
                slowest = Some((r.name.clone(), d));
            }
            batch_answers.push(Answer {
                name: r.name.clone(),
                kernel: r.kernel.clone(),
                setup_error: r.setup_error.clone(),
                timed_out: false,
                program_timeout_s: None,
                missing: None,
                wall_us: Some(r.wall_us),
                release: report.release.clone(),
            });
        }
        for m in &report.missing {
            batch_answers.push(Answer {
                name: m.name.clone(),
                kernel: None,
                setup_error: None,
                timed_out: m.timed_out,
                program_timeout_s: m
                    .timed_out
                    .then(|| cfg.program_timeout.map(|t| t.as_secs()))
                    .flatten(),
                missing: Some(m.reason.clone()),
                wall_us: None,
                release: report.release.clone(),
            });
        }
        let trouble = (report.missing.iter().any(|m| !m.timed_out)).then(|| {
            let tail: Vec<&str> = report
                .console_tail
                .as_deref()
                .unwrap_or("")
                .lines()
                .rev()
                .take(12)
                .collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!(
                "  last VM: {}; console tail:\n    {}",
                exit_text(&report.exit),
                tail.join("\n    ")
            )
        });
        file.append(&batch_answers)?;
        for a in batch_answers {
            if let Some(&i) = chunk.iter().find(|&&i| programs[i].name == a.name) {
                answers[i] = Some(a);
            }
        }
        let finals = || answers.iter().flatten().filter(|a| a.is_final());
        progress(&Progress {
            batch: b + 1,
            batches: chunks.len(),
            done: finals().count(),
            total: programs.len(),
            resumed,
            timed_out: finals().filter(|a| a.timed_out).count(),
            missing: chunks[..=b]
                .iter()
                .flat_map(|c| c.iter())
                .filter(|&&i| !answers[i].as_ref().is_some_and(Answer::is_final))
                .count(),
            vms,
            elapsed: start.elapsed(),
            slowest,
            trouble,
        });
    }
    Ok(Outcome {
        answers,
        release,
        resumed,
        vms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(name: &str, kernel: bool, timed_out: bool) -> Answer {
        Answer {
            name: name.into(),
            kernel: kernel.then(|| KernelSide {
                verdict: "accepted".into(),
                errno: None,
                error: None,
                error_insn: None,
                insns_processed: Some(2),
                max_states_per_insn: Some(0),
                total_states: Some(0),
                peak_states: Some(0),
                duration_us: Some(1),
                log: None,
            }),
            setup_error: None,
            timed_out,
            program_timeout_s: timed_out.then_some(60),
            missing: (!kernel).then(|| "x".to_owned()),
            wall_us: None,
            release: Some("6.1.0-test".into()),
        }
    }

    #[test]
    fn answers_survive_a_torn_line_and_later_lines_win() {
        let dir = std::env::temp_dir().join(format!("vm-batches-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.jsonl");
        let mut f = AnswerFile::open(&p, true).unwrap();
        f.append(&[answer("o:a", false, false), answer("o:b", false, true)])
            .unwrap();
        f.append(&[answer("o:a", true, false)]).unwrap();
        drop(f);
        // A run killed in the middle of a write.
        let mut raw = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        raw.write_all(br#"{"name":"o:c","kern"#).unwrap();
        let got = read_answers(&p).unwrap();
        assert_eq!(got.len(), 2);
        assert!(got["o:a"].is_final() && got["o:a"].kernel.is_some());
        assert!(got["o:b"].is_final() && got["o:b"].timed_out);
        assert!(!answer("o:d", false, false).is_final());
        // A longer timeout tries a timed-out program again.
        let b = &got["o:b"];
        assert!(b.is_final_under(Some(Duration::from_secs(60))));
        assert!(!b.is_final_under(Some(Duration::from_secs(600))));
        assert!(!b.is_final_under(None));
        // `fresh` starts over.
        drop(AnswerFile::open(&p, true).unwrap());
        assert!(read_answers(&p).unwrap().is_empty());
        assert!(read_answers(&dir.join("none")).unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn progress_line() {
        let p = Progress {
            batch: 2,
            batches: 4,
            done: 300,
            total: 500,
            resumed: 100,
            timed_out: 1,
            missing: 0,
            vms: 3,
            elapsed: Duration::from_secs(100),
            slowest: Some(("o:p".into(), Duration::from_millis(2500))),
            trouble: None,
        };
        assert_eq!(
            p.line(),
            "batch 2/4: 300/500 programs done (100 resumed), 1 timed out, 0 without an answer, 3 VMs, 100 s, ~100 s left; slowest o:p 2.5 s"
        );
    }
}
