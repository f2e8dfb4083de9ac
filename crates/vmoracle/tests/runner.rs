//! The host side of a run against stand-in "QEMU" scripts: event
//! collection, crash attribution and the timeout, without booting anything.

use std::{os::unix::fs::PermissionsExt, path::PathBuf, time::Duration};

use bpfcheck_uapi::LoadRequest;
use bpfcheck_vmoracle::{
    protocol::{Batch, NamedRequest},
    qemu::{self, VmConfig, VmExit},
    results::RunReport,
    session::run_resuming,
};

/// A fresh directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bpfcheck-vm-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The smallest file that passes the static-init check: an ELF64 x86-64
/// header with no program headers.
fn fake_init(dir: &std::path::Path) -> PathBuf {
    let mut e = vec![0u8; 64];
    e[..4].copy_from_slice(b"\x7fELF");
    e[4] = 2;
    e[5] = 1;
    e[18] = 62;
    let p = dir.join("init");
    std::fs::write(&p, e).unwrap();
    p
}

/// A stand-in for qemu-system-x86_64: finds the second `-serial file:`
/// argument (the results channel) and runs `body` with it in `$chan`.
fn fake_qemu(dir: &std::path::Path, body: &str) -> PathBuf {
    let script = format!(
        "#!/bin/sh\nn=0\nprev=\nfor a in \"$@\"; do\n  if [ \"$prev\" = -serial ]; then n=$((n+1)); [ $n -eq 2 ] && chan=${{a#file:}}; fi\n  prev=$a\ndone\n{body}\n"
    );
    let p = dir.join("qemu");
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn batch(n: usize) -> Batch {
    Batch {
        log_level: 1,
        exact_log_level: false,
        log_size: 0,
        programs: (0..n)
            .map(|i| NamedRequest {
                name: format!("prog{i}"),
                request: LoadRequest::default(),
            })
            .collect(),
    }
}

fn config(dir: &std::path::Path, qemu: PathBuf, timeout: Duration) -> VmConfig {
    let kernel = dir.join("vmlinuz");
    std::fs::write(&kernel, b"not really a kernel").unwrap();
    let mut cfg = VmConfig::new(kernel, fake_init(dir), dir.join("work"));
    cfg.qemu = qemu;
    cfg.timeout = timeout;
    cfg
}

const RESULT0: &str = r#"{"event":"result","index":0,"result":{"name":"prog0","kernel":{"verdict":"rejected","errno":13,"error":"R0 !read_ok","error_insn":0,"insns_processed":1,"max_states_per_insn":0,"total_states":0,"peak_states":0,"duration_us":5},"setup_error":null,"verified_insns":null,"log_retried":false,"wall_us":40}}"#;

#[test]
fn completed_run_with_crlf_and_noise() {
    let dir = scratch("complete");
    let body = format!(
        "printf 'boot noise\\r\\n' > \"$chan\"\nprintf '%s\\r\\n' '{{\"event\":\"hello\",\"release\":\"6.1.0-test\",\"uptime_ms\":1500,\"programs\":1}}' '{{\"event\":\"loading\",\"index\":0}}' '{RESULT0}' '{{\"event\":\"done\",\"uptime_ms\":1600}}' >> \"$chan\""
    );
    let cfg = config(&dir, fake_qemu(&dir, &body), Duration::from_secs(30));
    let b = batch(1);
    let run = qemu::run(&cfg, &b).unwrap();
    assert_eq!(run.exit, VmExit::Completed);
    assert_eq!(run.noise_lines, 1);
    let report = RunReport::new("vmlinuz", &b, &run);
    assert!(report.complete(), "{report:?}");
    assert_eq!(report.release.as_deref(), Some("6.1.0-test"));
    let k = report.programs[0].kernel.as_ref().unwrap();
    assert_eq!(
        (k.verdict.as_str(), k.errno, k.error.as_deref()),
        ("rejected", Some(13), Some("R0 !read_ok"))
    );
    assert_eq!(report.timing.guest_programs_ms, Some(100));
    // The initramfs was written where QEMU was told to look.
    assert!(dir.join("work/initrd.cpio").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn crash_during_a_load_names_the_program() {
    let dir = scratch("crash");
    let body = format!(
        "printf '%s\\n' '{{\"event\":\"hello\",\"release\":\"x\",\"uptime_ms\":1,\"programs\":3}}' '{{\"event\":\"loading\",\"index\":0}}' '{RESULT0}' '{{\"event\":\"loading\",\"index\":1}}' > \"$chan\"\nexit 0"
    );
    let cfg = config(&dir, fake_qemu(&dir, &body), Duration::from_secs(30));
    let b = batch(3);
    let run = qemu::run(&cfg, &b).unwrap();
    assert!(matches!(run.exit, VmExit::Stopped(_)), "{:?}", run.exit);
    let report = RunReport::new("vmlinuz", &b, &run);
    assert!(!report.complete());
    assert_eq!(report.programs.len(), 1);
    assert_eq!(report.missing[0].name, "prog1");
    assert!(
        report.missing[0]
            .reason
            .contains("while the kernel was loading it")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn timeout_kills_the_vm() {
    let dir = scratch("timeout");
    // `exec` so that the process QEMU's stand-in started is the one killed.
    let cfg = config(
        &dir,
        fake_qemu(&dir, "exec sleep 60"),
        Duration::from_millis(500),
    );
    let start = std::time::Instant::now();
    let run = qemu::run(&cfg, &batch(1)).unwrap();
    assert_eq!(run.exit, VmExit::TimedOut);
    assert!(start.elapsed() < Duration::from_secs(10));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_qemu_and_bad_init_are_errors() {
    let dir = scratch("errors");
    let mut cfg = config(&dir, dir.join("no-such-qemu"), Duration::from_secs(5));
    let err = qemu::run(&cfg, &batch(1)).unwrap_err();
    assert!(err.to_string().contains("no-such-qemu"), "{err}");
    std::fs::write(dir.join("dyn"), b"#!/bin/sh\n").unwrap();
    cfg.init = dir.join("dyn");
    let err = qemu::run(&cfg, &batch(1)).unwrap_err();
    assert!(err.to_string().contains("not an ELF"), "{err}");
    cfg.init = dir.join("absent");
    let err = qemu::run(&cfg, &batch(1)).unwrap_err();
    assert!(err.to_string().contains("absent"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_vm_that_dies_during_boot_is_replaced() {
    let dir = scratch("resume");
    // The first "VM" dies before init; the second answers.
    let body = format!(
        "if [ ! -e \"$chan.first\" ]; then : > \"$chan.first\"; exit 0; fi\nprintf '%s\\n' '{{\"event\":\"hello\",\"release\":\"x\",\"uptime_ms\":1,\"programs\":1}}' '{RESULT0}' '{{\"event\":\"done\",\"uptime_ms\":2}}' > \"$chan\""
    );
    let cfg = config(&dir, fake_qemu(&dir, &body), Duration::from_secs(30));
    let report = run_resuming(&cfg, &batch(1), 3).unwrap();
    assert!(report.complete(), "{report:?}");
    assert_eq!(report.attempts.len(), 2);
    assert!(matches!(report.attempts[0].exit, VmExit::Stopped(_)));
    assert_eq!(report.exit, VmExit::Completed);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_slow_program_is_timed_out_and_the_batch_goes_on() {
    let dir = scratch("program-timeout");
    // The first "VM" hangs in program 0; the second (given programs 1 and
    // 2 as its 0 and 1) answers both.
    let result = |i: usize, name: &str| {
        RESULT0
            .replace("\"index\":0", &format!("\"index\":{i}"))
            .replace("prog0", name)
    };
    let body = format!(
        "if [ ! -e \"$chan.first\" ]; then : > \"$chan.first\"; printf '%s\\n' '{{\"event\":\"hello\",\"release\":\"x\",\"uptime_ms\":1,\"programs\":3}}' '{{\"event\":\"loading\",\"index\":0}}' > \"$chan\"; exec sleep 60; fi\nprintf '%s\\n' '{{\"event\":\"hello\",\"release\":\"x\",\"uptime_ms\":1,\"programs\":2}}' '{}' '{}' '{{\"event\":\"done\",\"uptime_ms\":2}}' > \"$chan\"",
        result(0, "prog1"),
        result(1, "prog2")
    );
    let mut cfg = config(&dir, fake_qemu(&dir, &body), Duration::from_secs(30));
    cfg.program_timeout = Some(Duration::from_millis(500));
    let start = std::time::Instant::now();
    // One VM allowed: the timed-out one does not count.
    let report = run_resuming(&cfg, &batch(3), 1).unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(report.attempts.len(), 2);
    assert_eq!(report.attempts[0].exit, VmExit::ProgramTimedOut(0));
    let names: Vec<&str> = report.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["prog1", "prog2"]);
    assert_eq!(report.missing.len(), 1);
    assert_eq!(report.missing[0].name, "prog0");
    assert!(report.missing[0].timed_out);
    assert!(
        report.missing[0].reason.contains("timed out"),
        "{}",
        report.missing[0].reason
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
