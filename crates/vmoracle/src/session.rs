//! A run that survives a dying VM: when the guest crashes or hangs, a new
//! VM is booted with the programs that have no answer yet, so that one
//! emulator crash does not lose the rest of the batch and one program that
//! kills the kernel every time is named and skipped.

use crate::{
    VmError,
    protocol::Batch,
    qemu::{self, VmConfig, VmExit},
    results::{ReportBuilder, RunReport},
};

/// Runs `batch`, booting at most `max_vms` VMs (at least one) that crash,
/// hang or complete; a VM ended by the per-program timeout
/// ([`VmConfig::program_timeout`]) does not count, since each one gives up
/// the program it names and the next VM starts after it. A program that
/// was being loaded when two VMs died is given up; see [`ReportBuilder`].
pub fn run_resuming(cfg: &VmConfig, batch: &Batch, max_vms: usize) -> Result<RunReport, VmError> {
    let mut builder = ReportBuilder::new(&cfg.kernel.display().to_string(), batch);
    let mut todo: Vec<usize> = (0..batch.programs.len()).collect();
    let mut vms = 0;
    while vms < max_vms.max(1) {
        let sub = Batch {
            programs: todo.iter().map(|&i| batch.programs[i].clone()).collect(),
            ..batch.clone()
        };
        let run = qemu::run(cfg, &sub)?;
        if !matches!(run.exit, VmExit::ProgramTimedOut(_)) {
            vms += 1;
        }
        if !builder.add_run(&todo, &run) {
            break;
        }
        todo = builder.remaining();
    }
    Ok(builder.finish())
}
