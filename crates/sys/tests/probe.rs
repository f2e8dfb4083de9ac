//! `Kernel::probe` failure paths, exercised in child processes of this test
//! binary so that the parent's environment and credentials stay untouched.

use std::process::Command;

use bpfcheck_sys::{Kernel, NO_KERNEL_ENV, ProcessFacts, test_support::kernel_or_skip};

/// Set in the child: makes `probe_child` report instead of returning.
const CHILD: &str = "BPFCHECK_SYS_PROBE_CHILD";

/// Runs in the child only: prints the probe's verdict on stdout and lets
/// `kernel_or_skip` print its skip line on stderr.
#[test]
fn probe_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    match Kernel::probe() {
        Ok(_) => println!("PROBE OK"),
        Err(why) => println!("PROBE UNAVAILABLE: {why}"),
    }
    let _ = kernel_or_skip("probe_child");
}

fn child_args() -> [&'static str; 4] {
    ["--exact", "probe_child", "--nocapture", "--test-threads=1"]
}

fn output(cmd: &mut Command) -> Option<(String, String)> {
    let out = cmd.output().ok()?;
    Some((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn environment_switch_reports_unavailable() {
    let exe = std::env::current_exe().expect("test binary path");
    let (stdout, stderr) = output(
        Command::new(exe)
            .args(child_args())
            .env(CHILD, "1")
            .env(NO_KERNEL_ENV, "1"),
    )
    .expect("run child");
    assert!(
        stdout.contains("PROBE UNAVAILABLE: disabled by BPFCHECK_NO_KERNEL in the environment"),
        "{stdout}"
    );
    assert!(
        stderr.contains(
            "SKIPPED (bpf() unavailable: disabled by BPFCHECK_NO_KERNEL in the environment): probe_child"
        ),
        "{stderr}"
    );
}

#[test]
fn unprivileged_probe_explains_why() {
    let facts = ProcessFacts::current();
    let exe = std::env::current_exe().expect("test binary path");
    if facts.euid != Some(0) {
        bpfcheck_sys::test_support::skipped(
            "needs root to drop privileges",
            "unprivileged_probe_explains_why",
        );
        return;
    }
    let Some((stdout, stderr)) = output(
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
            ])
            .arg(exe)
            .args(child_args())
            .env(CHILD, "1")
            .env_remove(NO_KERNEL_ENV),
    ) else {
        bpfcheck_sys::test_support::skipped(
            "setpriv not available",
            "unprivileged_probe_explains_why",
        );
        return;
    };
    if !stdout.contains("PROBE") {
        eprintln!(
            "SKIPPED (child could not run as nobody: {}): unprivileged_probe_explains_why",
            stderr.trim()
        );
        return;
    }
    match facts.unprivileged_bpf_disabled {
        // Unprivileged socket filters are allowed.
        Some(0) => assert!(stdout.contains("PROBE OK"), "{stdout}"),
        Some(n) => {
            let want = format!(
                "PROBE UNAVAILABLE: not root (euid 65534) and kernel.unprivileged_bpf_disabled = {n}; run as root or with CAP_BPF [EPERM (1): Operation not permitted]"
            );
            assert!(stdout.contains(&want), "{stdout}");
            assert!(
                stderr.contains("SKIPPED (bpf() unavailable: not root"),
                "{stderr}"
            );
        }
        None => assert!(stdout.contains("EPERM (1)"), "{stdout}"),
    }
}
