//! `bpfcheck-vm-init`: PID 1 of the oracle's initramfs.
//!
//! Mounts `/proc` (uptime, `osrelease`, `sysrq-trigger`) and `/sys` (the
//! possible-CPU list per-CPU maps need), reads the batch from
//! `/requests.json`, loads every program and writes one JSON event per line
//! to `/dev/ttyS1`, then powers the machine off. `bpf()` itself needs
//! nothing mounted.
//!
//! Why the second 8250 UART: the legacy COM2 port at 0x2f8 is probed by
//! every x86 kernel with `CONFIG_SERIAL_8250=y` (all Debian flavours from
//! 5.10 on), writing to it is ordinary file I/O on a device node that the
//! initramfs itself provides (no devtmpfs, no `/dev/port`, no `ioperm`),
//! and `close()` on a serial tty waits until the UART has sent everything,
//! so nothing is lost at power-off. The console (ttyS0) stays free for
//! kernel messages. The line discipline's `\n` → `\r\n` is undone by the
//! host.
//!
//! Power-off is `o` written to `/proc/sysrq-trigger` (ACPI power-off; QEMU
//! exits). Should that not work, init returns, the kernel panics on the
//! death of PID 1, and `panic=-1` with QEMU's `-no-reboot` ends the VM.
//!
//! Build it static so that the initramfs needs no loader or libc:
//! `RUSTFLAGS="-C target-feature=+crt-static" cargo build --release
//! --target x86_64-unknown-linux-gnu --bin bpfcheck-vm-init`
//! (`tools/vm/build-init.sh`).

// mount(2), mallopt(3) and setrlimit(2) have no safe wrapper in std; the
// calls in `mount`, `fixed_mmap_threshold` and `unlimited_memlock` are this
// binary's only unsafe code.
#![allow(unsafe_code)]

use std::{
    ffi::CStr, fs::File, io::Write, os::unix::fs::OpenOptionsExt, process::ExitCode, time::Duration,
};

use bpfcheck_sys::Kernel;
use bpfcheck_vmoracle::{
    guest::{run_batch, uptime_ms},
    protocol::{BATCH_PATH, Batch, GuestEvent},
};

/// The results channel (COM2), a device node in the initramfs.
const CHANNEL: &str = "/dev/ttyS1";

fn mount(fstype: &CStr, target: &CStr) -> std::io::Result<()> {
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    // SAFETY: `fstype` and `target` are NUL-terminated strings that live
    // across the call (the source is the fstype, as for any virtual file
    // system); the data argument is null, which mount(2) accepts.
    let rc = unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Makes every large allocation a fresh `mmap`. Each load allocates a
/// 16 MiB zeroed log buffer; glibc's dynamic threshold would, after the
/// first free, serve the next ones from the heap and `memset` all 16 MiB,
/// which under TCG costs ~20 ms per program (measured: 24 ms per load
/// before, 2.7 ms after, on 6.1). Fresh mappings are zero already and
/// only the pages the kernel writes get touched.
fn fixed_mmap_threshold() {
    // SAFETY: mallopt only changes allocator parameters; it is called
    // before any other thread exists.
    let ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
    if ok != 1 {
        eprintln!("bpfcheck-vm-init: mallopt(M_MMAP_THRESHOLD) failed; loads will be slower");
    }
}

/// Lifts `RLIMIT_MEMLOCK`. Kernels before 5.11 charge every map and
/// program to the loading user's locked-memory limit, which for PID 1 is
/// the kernel's built-in 64 KiB before 5.16. Programs are uncharged only
/// when their RCU-deferred free runs, so under TCG a batch can hit the limit
/// part way through and a load fails with `EPERM` before the verifier runs
/// (seen on 5.10 in CI). libbpf-based loaders lift the limit the same way.
fn unlimited_memlock() {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: `unlimited` is a valid rlimit that lives across the call.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) };
    if rc != 0 {
        eprintln!(
            "bpfcheck-vm-init: setrlimit(RLIMIT_MEMLOCK): {}; loads on kernels before 5.11 may fail with EPERM",
            std::io::Error::last_os_error()
        );
    }
}

/// Writes events to the channel, or to the console (stderr) when the
/// channel cannot be written.
struct Channel {
    port: Option<File>,
}

impl Channel {
    fn open() -> Self {
        let port = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(CHANNEL);
        match port {
            Ok(f) => Self { port: Some(f) },
            Err(e) => {
                eprintln!("bpfcheck-vm-init: cannot open {CHANNEL}: {e}; events go to the console");
                Self { port: None }
            }
        }
    }

    fn send(&mut self, event: &GuestEvent) {
        let line = event.to_line();
        if let Some(port) = &mut self.port {
            match port.write_all(line.as_bytes()) {
                Ok(()) => return,
                Err(e) => {
                    eprintln!("bpfcheck-vm-init: writing {CHANNEL}: {e}");
                    self.port = None;
                }
            }
        }
        eprint!("{line}");
    }
}

fn read_batch() -> Result<Batch, String> {
    let path = format!("/{BATCH_PATH}");
    let text = std::fs::read(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    serde_json::from_slice(&text).map_err(|e| format!("{path} is not a batch: {e}"))
}

fn power_off() {
    if let Err(e) = std::fs::write("/proc/sysrq-trigger", b"o") {
        eprintln!("bpfcheck-vm-init: sysrq power-off failed: {e}");
        return;
    }
    // The power-off runs from a work queue; give it time before falling
    // back to the panic on init's exit.
    std::thread::sleep(Duration::from_secs(10));
}

fn main() -> ExitCode {
    fixed_mmap_threshold();
    unlimited_memlock();
    for (fs, dir) in [(c"proc", c"/proc"), (c"sysfs", c"/sys")] {
        if let Err(e) = mount(fs, dir) {
            eprintln!("bpfcheck-vm-init: mount {fs:?} on {dir:?}: {e}");
        }
    }
    let started_ms = uptime_ms();
    let mut channel = Channel::open();
    match read_batch().and_then(|b| {
        Kernel::probe()
            .map(|k| (b, k))
            .map_err(|e| format!("bpf() is unusable: {e}"))
    }) {
        Ok((batch, kernel)) => {
            channel.send(&GuestEvent::Hello {
                release: kernel.release().to_owned(),
                uptime_ms: started_ms,
                programs: batch.programs.len(),
            });
            run_batch(&kernel, &batch, |e| channel.send(e));
            channel.send(&GuestEvent::Done {
                uptime_ms: uptime_ms(),
            });
        }
        Err(message) => channel.send(&GuestEvent::Fatal { message }),
    }
    // Closing the tty drains the UART.
    drop(channel);
    power_off();
    ExitCode::FAILURE
}
