//! Helpers for tests, in this and other crates, that need the live kernel.

use crate::Kernel;

/// Returns the kernel handle, or prints
/// `SKIPPED (bpf() unavailable: <reason>): <test name>` to stderr and returns
/// `None`, so that a test can `let Some(k) = kernel_or_skip("name") else {
/// return };` and pass where `bpf()` cannot be used (containers, CI without
/// privileges, `BPFCHECK_NO_KERNEL=1`).
pub fn kernel_or_skip(test_name: &str) -> Option<Kernel> {
    match Kernel::probe() {
        Ok(k) => Some(k),
        Err(why) => {
            skipped(&format!("bpf() unavailable: {why}"), test_name);
            None
        }
    }
}

/// Prints a loud `SKIPPED (reason): test` line that the test harness does
/// not capture: it goes to the process's stderr directly, not through
/// `eprintln!`, which libtest swallows for passing tests.
pub fn skipped(reason: &str, test_name: &str) {
    use std::io::Write;
    let line = format!("SKIPPED ({reason}): {test_name}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
