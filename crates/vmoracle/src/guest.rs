//! The guest's work, without its PID-1 duties (those are in the
//! `bpfcheck-vm-init` binary): load every program of a [`Batch`] through
//! [`bpfcheck_sys::Kernel::load`] and describe each answer.

use std::time::Instant;

use bpfcheck_report::KernelSide;
use bpfcheck_sys::{Kernel, LoadOptions, LoadOutcome, MAX_LOG_SIZE};

use crate::protocol::{
    Batch, GuestEvent, LOG_STATS, ProgramResult, error_line, last_insn_of_log, parse_uptime_ms,
    strip_stats_lines,
};

/// Guest uptime in milliseconds, 0 when `/proc` is not readable.
pub fn uptime_ms() -> u64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| parse_uptime_ms(&t))
        .unwrap_or(0)
}

/// Loads the batch's programs in order, handing `emit` a
/// [`GuestEvent::Loading`] before and a [`GuestEvent::Result`] after each.
/// Each program's maps and fds are closed before the next one is loaded.
pub fn run_batch(kernel: &Kernel, batch: &Batch, mut emit: impl FnMut(&GuestEvent)) {
    let mut opts = LoadOptions {
        log_level: batch.load_log_level(),
        ..LoadOptions::default()
    };
    if batch.log_size != 0 {
        opts.log_size = batch.log_size;
    }
    for (index, named) in batch.programs.iter().enumerate() {
        emit(&GuestEvent::Loading { index });
        let start = Instant::now();
        let mut outcome = kernel.load(&named.request, &opts);
        let mut first_log = None;
        if batch.log_size == 0
            && let Ok(out) = &outcome
            && log_overflowed_unsized(out, opts.log_size)
        {
            let big = LoadOptions {
                log_size: RETRY_LOG_SIZE.min(MAX_LOG_SIZE),
                ..opts
            };
            first_log = Some(out.log.clone());
            outcome = kernel.load(&named.request, &big);
        }
        let wall_us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        let result = match outcome {
            Ok(out) => {
                let mut r = describe(&named.name, &out, batch.log_level, wall_us);
                if let (Some(first), Some(k)) = (first_log, r.kernel.as_mut()) {
                    // The verdict, error line and counts are the whole
                    // log's; the text sent back is the first buffer's, so
                    // that tens of megabytes do not cross the serial line.
                    k.log = k.log.as_ref().map(|_| first);
                    r.log_retried = true;
                }
                r
            }
            Err(e) => ProgramResult {
                name: named.name.clone(),
                kernel: None,
                setup_error: Some(e.to_string()),
                verified_insns: None,
                log_retried: false,
                wall_us,
            },
        };
        emit(&GuestEvent::Result {
            index,
            result: Box::new(result),
        });
    }
}

/// Log buffer of the second load of a program whose log overflowed the
/// first on a kernel that cannot say how much it needed (before 6.4). Those
/// kernels answer `ENOSPC` for any full log, whatever the verifier decided
/// (a 1M-instruction walk logs tens of megabytes at level 1).
const RETRY_LOG_SIZE: usize = 128 << 20;

/// `ENOSPC` with a full buffer and no `log_true_size`: the log, not the
/// program, was refused.
fn log_overflowed_unsized(out: &LoadOutcome, log_size: usize) -> bool {
    out.errno == Some(libc::ENOSPC)
        && out.log_true_size == 0
        && log_size != 0
        && out.log.len() + 1 >= log_size
        && !out.log_retried
}

/// The result for a program that reached `BPF_PROG_LOAD`. The log keeps the
/// statistics lines only if `log_level` asked for them, and is dropped at
/// level 0; the duration is the kernel's `verification time` when it printed
/// one, else the wall time of the whole load.
fn describe(name: &str, out: &LoadOutcome, log_level: u32, wall_us: u64) -> ProgramResult {
    let stats = out.stats.as_ref();
    let log = match log_level {
        0 => None,
        l if l & LOG_STATS != 0 => Some(out.log.clone()),
        _ => Some(strip_stats_lines(&out.log)),
    };
    ProgramResult {
        name: name.to_owned(),
        kernel: Some(KernelSide {
            verdict: if out.accepted { "accepted" } else { "rejected" }.to_owned(),
            errno: out.errno,
            // Not `out.error_line`: that rule does not know 7.x's stats line.
            error: if out.accepted {
                None
            } else {
                error_line(&out.log)
            },
            error_insn: if out.accepted {
                None
            } else {
                last_insn_of_log(&out.log)
            },
            insns_processed: stats.map(|s| s.insns_processed),
            max_states_per_insn: stats.map(|s| s.max_states_per_insn),
            total_states: stats.map(|s| s.total_states),
            peak_states: stats.map(|s| s.peak_states),
            duration_us: Some(
                stats
                    .and_then(|s| s.verification_time_us)
                    .unwrap_or(wall_us),
            ),
            log,
        }),
        setup_error: None,
        verified_insns: out.verified_insns,
        log_retried: out.log_retried,
        wall_us,
    }
}
