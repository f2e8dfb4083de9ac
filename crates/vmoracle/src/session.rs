//! A run that survives a dying VM: when the guest crashes or hangs, a new
//! VM is booted with the programs that have no answer yet, so that one
//! emulator crash does not lose the rest of the batch and one program that
//! kills the kernel every time is named and skipped.

use crate::{
    VmError,
    protocol::Batch,
    qemu::{self, VmConfig},
    results::{ReportBuilder, RunReport},
};

/// Runs `batch`, booting at most `max_vms` VMs (at least one). A program
/// that was being loaded when two VMs died is given up; see
/// [`ReportBuilder`].
pub fn run_resuming(cfg: &VmConfig, batch: &Batch, max_vms: usize) -> Result<RunReport, VmError> {
    let mut builder = ReportBuilder::new(&cfg.kernel.display().to_string(), batch);
    let mut todo: Vec<usize> = (0..batch.programs.len()).collect();
    for _ in 0..max_vms.max(1) {
        let sub = Batch {
            programs: todo.iter().map(|&i| batch.programs[i].clone()).collect(),
            ..batch.clone()
        };
        let run = qemu::run(cfg, &sub)?;
        if !builder.add_run(&todo, &run) {
            break;
        }
        todo = builder.remaining();
    }
    Ok(builder.finish())
}
