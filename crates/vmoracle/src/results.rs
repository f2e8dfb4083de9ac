//! The results file of a run: per-program answers in the shape of the
//! live-kernel side of bpfcheck's records, plus timing and how the VM ended.

use serde::{Deserialize, Serialize};

use crate::{
    protocol::{Batch, GuestEvent, ProgramResult},
    qemu::{VmExit, VmRun},
};

/// Version of the results schema. Bumped on any incompatible change.
pub const RESULTS_SCHEMA: u32 = 1;

/// Where the time went, milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// Host: QEMU start to init's first event (QEMU start-up, kernel
    /// decompression and boot, init start).
    pub host_to_init_ms: Option<u64>,
    /// Guest: uptime when init started (kernel boot alone).
    pub guest_boot_ms: Option<u64>,
    /// Guest: from init's start to its last program.
    pub guest_programs_ms: Option<u64>,
    /// Host: QEMU start to QEMU end.
    pub total_ms: u64,
}

/// A requested program without an answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    /// Its name.
    pub name: String,
    /// Why there is no answer.
    pub reason: String,
    /// The VM was ended because this program was being loaded for longer
    /// than the per-program timeout (it is not tried again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
}

/// One VM of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// How it ended.
    pub exit: VmExit,
    /// Programs it was given.
    pub programs: usize,
    /// Programs it answered.
    pub answered: usize,
    /// Host: QEMU start to init's first event.
    pub host_to_init_ms: Option<u64>,
    /// Host: QEMU start to QEMU end.
    pub total_ms: u64,
}

/// The results file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// [`RESULTS_SCHEMA`].
    pub schema: u32,
    /// The kernel image booted.
    pub kernel_image: String,
    /// `uname -r` in the guest, when init got that far.
    pub release: Option<String>,
    /// The log level the results carry.
    pub log_level: u32,
    /// Timing: boot figures of the first VM that reached init, program and
    /// total times summed over all VMs.
    pub timing: Timing,
    /// How the last VM ended.
    pub exit: VmExit,
    /// Every VM started, in order (more than one when a crash or timeout
    /// made the run resume with the unanswered programs).
    pub attempts: Vec<Attempt>,
    /// Answers, in request order.
    pub programs: Vec<ProgramResult>,
    /// Requests without an answer.
    pub missing: Vec<Missing>,
    /// Lines on the results channel that were not events.
    pub noise_lines: usize,
    /// The console's last lines of the last VM that did not complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_tail: Option<String>,
}

impl RunReport {
    /// The report of a single VM that was given the whole batch.
    pub fn new(kernel_image: &str, batch: &Batch, run: &VmRun) -> Self {
        let mut b = ReportBuilder::new(kernel_image, batch);
        let all: Vec<usize> = (0..batch.programs.len()).collect();
        b.add_run(&all, run);
        b.finish()
    }

    /// Whether every program has an answer.
    pub fn complete(&self) -> bool {
        self.missing.is_empty()
    }
}

/// How often a program may be in flight when a VM dies before it is given
/// up: once can be the emulator (QEMU 7.2's TCG crashes 6.12 guests now and
/// then), twice is the program.
const CRASHES_TO_GIVE_UP: u8 = 2;

/// Collects the answers of one or more VMs for one batch.
#[derive(Debug)]
pub struct ReportBuilder {
    report: RunReport,
    names: Vec<String>,
    slots: Vec<Option<ProgramResult>>,
    crashes: Vec<u8>,
    /// Seconds a program was in flight when the per-program timeout
    /// ended its VM.
    timed_out: Vec<Option<u64>>,
    last_in_flight: Option<usize>,
}

impl ReportBuilder {
    /// An empty report for `batch`.
    pub fn new(kernel_image: &str, batch: &Batch) -> Self {
        let n = batch.programs.len();
        Self {
            report: RunReport {
                schema: RESULTS_SCHEMA,
                kernel_image: kernel_image.to_owned(),
                release: None,
                log_level: batch.log_level,
                timing: Timing::default(),
                exit: VmExit::Completed,
                attempts: Vec::new(),
                programs: Vec::new(),
                missing: Vec::new(),
                noise_lines: 0,
                console_tail: None,
            },
            names: batch.programs.iter().map(|p| p.name.clone()).collect(),
            slots: vec![None; n],
            crashes: vec![0; n],
            timed_out: vec![None; n],
            last_in_flight: None,
        }
    }

    /// Indices of the programs that another VM should load: unanswered and
    /// not given up.
    pub fn remaining(&self) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&i| {
                self.slots[i].is_none()
                    && self.crashes[i] < CRASHES_TO_GIVE_UP
                    && self.timed_out[i].is_none()
            })
            .collect()
    }

    /// Adds a VM that was given the programs `index_map` (its batch index
    /// `j` is this batch's `index_map[j]`). Returns whether another VM could
    /// answer more: the VM crashed or timed out and programs remain.
    ///
    /// A program that ended its VM by the per-program timeout is given up
    /// at once: the next VM would spend as long on it again.
    pub fn add_run(&mut self, index_map: &[usize], run: &VmRun) -> bool {
        let mut boot = None;
        let mut done = None;
        let mut in_flight = None;
        let mut answered = 0;
        for e in &run.events {
            match e {
                GuestEvent::Hello {
                    release, uptime_ms, ..
                } => {
                    self.report.release.get_or_insert_with(|| release.clone());
                    boot = Some(*uptime_ms);
                }
                GuestEvent::Loading { index } => in_flight = index_map.get(*index).copied(),
                GuestEvent::Result { index, result } => {
                    let Some(&i) = index_map.get(*index) else {
                        continue;
                    };
                    if let Some(slot) = self.slots.get_mut(i) {
                        *slot = Some(result.as_ref().clone());
                        answered += 1;
                    }
                    if in_flight == Some(i) {
                        in_flight = None;
                    }
                }
                GuestEvent::Done { uptime_ms } => done = Some(*uptime_ms),
                GuestEvent::Fatal { .. } => {}
            }
        }
        let ended_early = matches!(
            run.exit,
            VmExit::Stopped(_) | VmExit::TimedOut | VmExit::ProgramTimedOut(_)
        );
        if let VmExit::ProgramTimedOut(j) = run.exit
            && let Some(&i) = index_map.get(j)
            && self.slots.get(i).is_some_and(Option::is_none)
        {
            let since_loading = run
                .total_ms
                .saturating_sub(run.in_flight_since_ms.unwrap_or(run.total_ms));
            self.timed_out[i] = Some(since_loading / 1000);
            in_flight = None;
        }
        if ended_early && let Some(i) = in_flight {
            self.crashes[i] = self.crashes[i].saturating_add(1);
        }
        self.last_in_flight = in_flight;
        let t = &mut self.report.timing;
        if t.host_to_init_ms.is_none() {
            t.host_to_init_ms = run.host_to_hello_ms;
            t.guest_boot_ms = boot;
        }
        if let (Some(b), Some(d)) = (boot, done) {
            *t.guest_programs_ms.get_or_insert(0) += d.saturating_sub(b);
        }
        t.total_ms = t.total_ms.saturating_add(run.total_ms);
        self.report.attempts.push(Attempt {
            exit: run.exit.clone(),
            programs: index_map.len(),
            answered,
            host_to_init_ms: run.host_to_hello_ms,
            total_ms: run.total_ms,
        });
        self.report.exit = run.exit.clone();
        self.report.noise_lines += run.noise_lines;
        let complete = matches!(run.exit, VmExit::Completed | VmExit::KilledAfterDone);
        if !complete || !run.qemu_stderr.trim().is_empty() {
            let mut t = run.console_tail.clone();
            if !run.qemu_stderr.trim().is_empty() {
                t.push_str("\n--- qemu stderr ---\n");
                t.push_str(run.qemu_stderr.trim());
            }
            self.report.console_tail = Some(t);
        }
        ended_early && !self.remaining().is_empty()
    }

    /// The report, with a reason for every program without an answer.
    pub fn finish(mut self) -> RunReport {
        let exit = self.report.exit.clone();
        let vms = self.report.attempts.len();
        for (i, slot) in self.slots.into_iter().enumerate() {
            if let Some(r) = slot {
                self.report.programs.push(r);
                continue;
            }
            let timed_out = self.timed_out[i];
            let reason = if let Some(secs) = timed_out {
                format!(
                    "timed out: the kernel was still loading it after {secs} s (per-program timeout)"
                )
            } else if self.crashes[i] >= CRASHES_TO_GIVE_UP {
                format!(
                    "the VM died while the kernel was loading it, {} times (crash or hang; see the console tail)",
                    self.crashes[i]
                )
            } else if self.last_in_flight == Some(i) {
                format!(
                    "the VM ended while the kernel was loading it ({}; see the console tail)",
                    exit_text(&exit)
                )
            } else {
                match &exit {
                    VmExit::Completed | VmExit::KilledAfterDone => {
                        "the guest finished without it".to_owned()
                    }
                    VmExit::Fatal(_) => "init stopped with a fatal error".to_owned(),
                    VmExit::Stopped(_) => {
                        format!("the VM stopped before it was loaded ({vms} VMs)")
                    }
                    VmExit::TimedOut => {
                        format!("the run timed out before it was loaded ({vms} VMs)")
                    }
                    VmExit::ProgramTimedOut(_) => {
                        format!("another program timed out before it was loaded ({vms} VMs)")
                    }
                }
            };
            self.report.missing.push(Missing {
                name: self.names[i].clone(),
                reason,
                timed_out: timed_out.is_some(),
            });
        }
        self.report
    }
}

/// The exit in words.
pub fn exit_text(exit: &VmExit) -> String {
    match exit {
        VmExit::Completed => "completed".to_owned(),
        VmExit::KilledAfterDone => "completed; QEMU did not power off and was killed".to_owned(),
        VmExit::Fatal(m) => format!("init failed: {m}"),
        VmExit::Stopped(s) => format!("QEMU exited early ({s})"),
        VmExit::TimedOut => "timed out; QEMU killed".to_owned(),
        VmExit::ProgramTimedOut(i) => {
            format!("program {i} of the VM's batch timed out; QEMU killed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::NamedRequest;
    use bpfcheck_uapi::LoadRequest;

    fn batch(n: usize) -> Batch {
        Batch {
            log_level: 1,
            exact_log_level: false,
            log_size: 0,
            programs: (0..n)
                .map(|i| NamedRequest {
                    name: format!("p{i}"),
                    request: LoadRequest::default(),
                })
                .collect(),
        }
    }

    fn result(name: &str) -> ProgramResult {
        ProgramResult {
            name: name.into(),
            kernel: None,
            setup_error: Some("x".into()),
            verified_insns: None,
            log_retried: false,
            wall_us: 1,
        }
    }

    fn run(events: Vec<GuestEvent>, exit: VmExit) -> VmRun {
        VmRun {
            events,
            noise_lines: 0,
            host_to_hello_ms: Some(900),
            total_ms: 1000,
            in_flight_since_ms: None,
            exit,
            console_tail: "Kernel panic".into(),
            qemu_stderr: String::new(),
        }
    }

    #[test]
    fn crash_names_the_program_in_flight() {
        let events = vec![
            GuestEvent::Hello {
                release: "6.1.0".into(),
                uptime_ms: 700,
                programs: 3,
            },
            GuestEvent::Loading { index: 0 },
            GuestEvent::Result {
                index: 0,
                result: Box::new(result("p0")),
            },
            GuestEvent::Loading { index: 1 },
        ];
        let r = RunReport::new(
            "vmlinuz",
            &batch(3),
            &run(events, VmExit::Stopped("exit status: 0".into())),
        );
        assert_eq!(r.programs.len(), 1);
        assert_eq!(r.missing.len(), 2);
        assert!(
            r.missing[0]
                .reason
                .contains("while the kernel was loading it")
        );
        assert!(r.missing[1].reason.contains("stopped before"));
        assert_eq!(r.release.as_deref(), Some("6.1.0"));
        assert_eq!(r.timing.guest_boot_ms, Some(700));
        assert!(!r.complete());
        assert_eq!(r.console_tail.as_deref(), Some("Kernel panic"));
        let json = serde_json::to_string(&r).unwrap();
        let back: RunReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn complete_run() {
        let events = vec![
            GuestEvent::Hello {
                release: "6.12".into(),
                uptime_ms: 700,
                programs: 1,
            },
            GuestEvent::Result {
                index: 0,
                result: Box::new(result("p0")),
            },
            // An index that names nothing is ignored.
            GuestEvent::Result {
                index: 9,
                result: Box::new(result("p9")),
            },
            GuestEvent::Done { uptime_ms: 1700 },
        ];
        let r = RunReport::new("vmlinuz", &batch(1), &run(events, VmExit::Completed));
        assert!(r.complete());
        assert_eq!(r.timing.guest_programs_ms, Some(1000));
        assert_eq!(r.console_tail, None);
    }

    #[test]
    fn resumed_runs_merge_by_index_map() {
        let b = batch(3);
        let mut builder = ReportBuilder::new("vmlinuz", &b);
        let first = run(
            vec![
                GuestEvent::Loading { index: 0 },
                GuestEvent::Result {
                    index: 0,
                    result: Box::new(result("p0")),
                },
                GuestEvent::Loading { index: 1 },
            ],
            VmExit::Stopped("exit status: 0".into()),
        );
        assert!(builder.add_run(&[0, 1, 2], &first));
        assert_eq!(builder.remaining(), [1, 2]);
        let second = run(
            vec![
                GuestEvent::Result {
                    index: 0,
                    result: Box::new(result("p1")),
                },
                GuestEvent::Result {
                    index: 1,
                    result: Box::new(result("p2")),
                },
                GuestEvent::Done { uptime_ms: 800 },
            ],
            VmExit::Completed,
        );
        assert!(!builder.add_run(&[1, 2], &second));
        let r = builder.finish();
        assert!(r.complete(), "{r:?}");
        let names: Vec<&str> = r.programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["p0", "p1", "p2"]);
        assert_eq!(r.attempts.len(), 2);
        assert_eq!((r.attempts[0].answered, r.attempts[1].answered), (1, 2));
        assert_eq!(r.timing.total_ms, 2000);
    }

    #[test]
    fn a_program_in_flight_in_two_dead_vms_is_given_up() {
        let b = batch(2);
        let mut builder = ReportBuilder::new("vmlinuz", &b);
        let dies = |events| run(events, VmExit::TimedOut);
        assert!(builder.add_run(&[0, 1], &dies(vec![GuestEvent::Loading { index: 0 }])));
        assert_eq!(builder.remaining(), [0, 1]);
        // The second VM gets both again and hangs on program 0 again.
        assert!(builder.add_run(&[0, 1], &dies(vec![GuestEvent::Loading { index: 0 }])));
        assert_eq!(builder.remaining(), [1]);
        let third = run(
            vec![GuestEvent::Result {
                index: 0,
                result: Box::new(result("p1")),
            }],
            VmExit::Completed,
        );
        assert!(!builder.add_run(&[1], &third));
        let r = builder.finish();
        assert_eq!(r.programs.len(), 1);
        assert_eq!(r.missing.len(), 1);
        assert!(
            r.missing[0].reason.contains("2 times"),
            "{}",
            r.missing[0].reason
        );
        assert!(!r.complete());
    }
}
