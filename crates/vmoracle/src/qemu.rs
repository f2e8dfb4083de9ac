//! Booting a kernel with the oracle's initramfs under QEMU (TCG) and
//! collecting the guest's events.
//!
//! The VM has no disk, network or display: `-nodefaults -display none`
//! (what `-nographic` would do, minus its implicit serial/monitor
//! multiplexing on stdio). COM1 (ttyS0, the console) goes to
//! `console.log`, COM2 (ttyS1, the results channel) to `channel.log`, both
//! in the work directory, which also holds `initrd.cpio`. The host polls
//! the channel file, so a crashed or hung guest still leaves every event it
//! sent, and a wall-clock timeout bounds the run.

use std::{
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// CPUs of every guest: what bounds `bpf_get_smp_processor_id` there.
pub const GUEST_CPUS: u32 = 1;

use crate::{VmError, initramfs, protocol::Batch, protocol::GuestEvent};

/// How often the channel file and QEMU are polled.
const POLL: Duration = Duration::from_millis(20);
/// How long QEMU gets to exit after the guest said it is done.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// Lines of the console log kept for diagnosis.
const CONSOLE_TAIL_LINES: usize = 40;

/// How to run the VM.
#[derive(Clone, Debug)]
pub struct VmConfig {
    /// `qemu-system-x86_64` (looked up in `PATH` unless a path is given).
    pub qemu: PathBuf,
    /// The kernel image (`vmlinuz`).
    pub kernel: PathBuf,
    /// The static `bpfcheck-vm-init`.
    pub init: PathBuf,
    /// Guest memory in MiB.
    pub memory_mb: u32,
    /// QEMU machine type (`q35`, `pc`).
    pub machine: String,
    /// QEMU CPU model.
    pub cpu: String,
    /// Wall-clock limit for the whole run, boot included.
    pub timeout: Duration,
    /// Wall-clock limit for one program, from its `loading` event to its
    /// result: a program that keeps the verifier busy longer ends the VM
    /// with [`VmExit::ProgramTimedOut`] (under TCG a 1M-instruction walk
    /// takes tens of seconds, and one slow program must not eat the run's
    /// whole budget). `None`: only [`VmConfig::timeout`] applies.
    pub program_timeout: Option<Duration>,
    /// Where the initramfs and the logs are written.
    pub work_dir: PathBuf,
    /// Extra kernel command-line words.
    pub extra_append: String,
}

impl VmConfig {
    /// Defaults for a kernel and an init: 512 MiB, `q35`, 120 s.
    pub fn new(kernel: PathBuf, init: PathBuf, work_dir: PathBuf) -> Self {
        Self {
            qemu: PathBuf::from("qemu-system-x86_64"),
            kernel,
            init,
            memory_mb: 512,
            machine: "q35".to_owned(),
            cpu: "max".to_owned(),
            timeout: Duration::from_secs(120),
            program_timeout: None,
            work_dir,
            extra_append: String::new(),
        }
    }

    /// The kernel command line. `panic=-1` and `oops=panic` turn a crash
    /// into an immediate reboot, which `-no-reboot` turns into QEMU's exit;
    /// `mitigations=off` only saves emulation time.
    pub fn append(&self) -> String {
        let mut s =
            "console=ttyS0 panic=-1 oops=panic quiet mitigations=off rdinit=/init".to_owned();
        if !self.extra_append.trim().is_empty() {
            s.push(' ');
            s.push_str(self.extra_append.trim());
        }
        s
    }

    fn initrd_path(&self) -> PathBuf {
        self.work_dir.join("initrd.cpio")
    }

    /// The console log of the last run.
    pub fn console_path(&self) -> PathBuf {
        self.work_dir.join("console.log")
    }

    fn channel_path(&self) -> PathBuf {
        self.work_dir.join("channel.log")
    }

    fn stderr_path(&self) -> PathBuf {
        self.work_dir.join("qemu.stderr")
    }

    /// The QEMU command for this configuration.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.qemu);
        c.args([
            "-machine",
            &self.machine,
            "-accel",
            "tcg",
            "-cpu",
            &self.cpu,
        ])
        .args([
            "-m",
            &self.memory_mb.to_string(),
            "-smp",
            &GUEST_CPUS.to_string(),
        ])
        .args(["-nodefaults", "-no-user-config", "-display", "none"])
        .args(["-no-reboot", "-monitor", "none"])
        .arg("-kernel")
        .arg(&self.kernel)
        .arg("-initrd")
        .arg(self.initrd_path())
        .args(["-append", &self.append()])
        .arg("-serial")
        .arg(format!("file:{}", self.console_path().display()))
        .arg("-serial")
        .arg(format!("file:{}", self.channel_path().display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
        c
    }
}

/// How the VM ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VmExit {
    /// The guest reported `done` and QEMU exited.
    Completed,
    /// The guest reported `done` but QEMU had to be killed.
    KilledAfterDone,
    /// The guest reported a fatal error.
    Fatal(String),
    /// QEMU exited before the guest reported `done` (crash, panic, boot
    /// failure); the status as text.
    Stopped(String),
    /// The timeout expired; QEMU was killed.
    TimedOut,
    /// One program was being loaded for longer than
    /// [`VmConfig::program_timeout`]; QEMU was killed. The index is the
    /// program's in the batch this VM was given.
    ProgramTimedOut(usize),
}

/// What one VM run produced.
#[derive(Clone, Debug)]
pub struct VmRun {
    /// Every event received, in order.
    pub events: Vec<GuestEvent>,
    /// Lines on the channel that were not events.
    pub noise_lines: usize,
    /// From QEMU's start to the `hello` event (QEMU start-up, kernel boot,
    /// init start), milliseconds, as seen by the host.
    pub host_to_hello_ms: Option<u64>,
    /// From QEMU's start to its end (or kill), milliseconds.
    pub total_ms: u64,
    /// From QEMU's start to the `loading` event of the program that had
    /// no result when the VM ended, milliseconds.
    pub in_flight_since_ms: Option<u64>,
    /// How it ended.
    pub exit: VmExit,
    /// The last lines of the console, for diagnosis.
    pub console_tail: String,
    /// QEMU's own error output.
    pub qemu_stderr: String,
}

/// Reads the lines appended to a file since the last call.
struct Tail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl Tail {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// Complete lines appended since the last call. A file that is not
    /// there yet has no lines.
    fn read_lines(&mut self) -> Result<Vec<String>, VmError> {
        let mut f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(VmError::io(&self.path, "reading the results channel", e)),
        };
        let io = |e| VmError::io(&self.path, "reading the results channel", e);
        f.seek(SeekFrom::Start(self.offset)).map_err(io)?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).map_err(io)?;
        self.offset += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        let mut lines = Vec::new();
        while let Some(nl) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=nl).collect();
            lines.push(String::from_utf8_lossy(&line).into_owned());
        }
        Ok(lines)
    }

    /// Whatever is left without a final newline.
    fn rest(&mut self) -> Option<String> {
        if self.partial.is_empty() {
            return None;
        }
        let rest = std::mem::take(&mut self.partial);
        Some(String::from_utf8_lossy(&rest).into_owned())
    }
}

/// The events of a run as they arrive, and when the milestones arrived.
struct Collector {
    start: Instant,
    events: Vec<GuestEvent>,
    noise_lines: usize,
    host_to_hello_ms: Option<u64>,
    finished_at: Option<Instant>,
    done: bool,
    fatal: Option<String>,
    /// The program being loaded and since when (host time).
    in_flight: Option<(usize, Instant)>,
}

impl Collector {
    fn new(start: Instant) -> Self {
        Self {
            start,
            events: Vec::new(),
            noise_lines: 0,
            host_to_hello_ms: None,
            finished_at: None,
            done: false,
            fatal: None,
            in_flight: None,
        }
    }

    /// The program in flight for longer than `limit`, if any.
    fn overdue(&self, limit: Option<Duration>) -> Option<usize> {
        let (index, since) = self.in_flight?;
        (since.elapsed() > limit?).then_some(index)
    }

    fn lines(&mut self, lines: &[String]) {
        for line in lines {
            let Some(event) = GuestEvent::parse_line(line) else {
                if !line.trim().is_empty() {
                    self.noise_lines += 1;
                }
                continue;
            };
            match &event {
                GuestEvent::Hello { .. } => self.host_to_hello_ms = Some(elapsed_ms(self.start)),
                GuestEvent::Done { .. } => {
                    self.done = true;
                    self.finished_at = Some(Instant::now());
                }
                GuestEvent::Fatal { message } => {
                    self.fatal = Some(message.clone());
                    self.finished_at = Some(Instant::now());
                }
                GuestEvent::Loading { index } => self.in_flight = Some((*index, Instant::now())),
                GuestEvent::Result { .. } => self.in_flight = None,
            }
            self.events.push(event);
        }
    }
}

/// Kills QEMU (a process this module started) and reaps it.
fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The last `n` lines of a text file, empty when unreadable.
fn file_tail(path: &Path, n: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).replace('\r', "");
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Boots the kernel with `batch` and collects the guest's events.
///
/// `Err` is for what prevents a run (unreadable init, QEMU missing); a
/// guest that crashes, hangs or reports a fatal error is an `Ok` run whose
/// [`VmRun::exit`] says so, with the events that did arrive.
pub fn run(cfg: &VmConfig, batch: &Batch) -> Result<VmRun, VmError> {
    let init = std::fs::read(&cfg.init).map_err(|e| VmError::Init {
        path: cfg.init.clone(),
        message: format!("cannot read it: {e}"),
    })?;
    std::fs::metadata(&cfg.kernel)
        .map_err(|e| VmError::io(&cfg.kernel, "opening the kernel image", e))?;
    let image = initramfs::build(&cfg.init, &init, batch)?;
    std::fs::create_dir_all(&cfg.work_dir)
        .map_err(|e| VmError::io(&cfg.work_dir, "creating the work directory", e))?;
    let initrd = cfg.initrd_path();
    std::fs::write(&initrd, &image)
        .map_err(|e| VmError::io(&initrd, "writing the initramfs", e))?;
    for p in [cfg.console_path(), cfg.channel_path()] {
        // QEMU truncates them too; removing stale ones keeps an early
        // failure from reading the previous run's events.
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(VmError::io(&p, "removing the previous log", e)),
        }
    }
    let stderr_path = cfg.stderr_path();
    let stderr = std::fs::File::create(&stderr_path)
        .map_err(|e| VmError::io(&stderr_path, "creating QEMU's stderr file", e))?;

    let start = Instant::now();
    let mut child = cfg
        .command()
        .stderr(stderr)
        .spawn()
        .map_err(|e| VmError::Qemu(format!("cannot start {}: {e}", cfg.qemu.display())))?;

    let mut tail = Tail::new(cfg.channel_path());
    let mut got = Collector::new(start);
    let exit = loop {
        let lines = match tail.read_lines() {
            Ok(l) => l,
            Err(e) => {
                kill(&mut child);
                return Err(e);
            }
        };
        got.lines(&lines);
        match child.try_wait() {
            Ok(Some(status)) => {
                // Pick up what was written between the last read and exit.
                got.lines(&tail.read_lines().unwrap_or_default());
                got.lines(tail.rest().as_slice());
                break match (got.fatal.take(), got.done) {
                    (Some(m), _) => VmExit::Fatal(m),
                    (None, true) => VmExit::Completed,
                    (None, false) => VmExit::Stopped(status.to_string()),
                };
            }
            Ok(None) => {}
            Err(e) => {
                kill(&mut child);
                return Err(VmError::Qemu(format!("waiting for QEMU: {e}")));
            }
        }
        if got
            .finished_at
            .is_some_and(|t| t.elapsed() > SHUTDOWN_GRACE)
        {
            kill(&mut child);
            break match got.fatal.take() {
                Some(m) => VmExit::Fatal(m),
                None => VmExit::KilledAfterDone,
            };
        }
        if start.elapsed() > cfg.timeout {
            kill(&mut child);
            got.lines(&tail.read_lines().unwrap_or_default());
            break VmExit::TimedOut;
        }
        if let Some(index) = got.overdue(cfg.program_timeout) {
            kill(&mut child);
            // A result that arrived at the last moment still counts.
            got.lines(&tail.read_lines().unwrap_or_default());
            break match got.in_flight {
                Some((i, _)) if i == index => VmExit::ProgramTimedOut(index),
                _ => VmExit::Stopped("killed after a program timed out".to_owned()),
            };
        }
        std::thread::sleep(POLL);
    };
    let total_ms = elapsed_ms(start);
    let in_flight_since_ms = got
        .in_flight
        .map(|(_, t)| u64::try_from(t.duration_since(start).as_millis()).unwrap_or(u64::MAX));
    Ok(VmRun {
        events: got.events,
        noise_lines: got.noise_lines,
        host_to_hello_ms: got.host_to_hello_ms,
        total_ms,
        in_flight_since_ms,
        exit,
        console_tail: file_tail(&cfg.console_path(), CONSOLE_TAIL_LINES),
        qemu_stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line() {
        let cfg = VmConfig::new("/k/vmlinuz".into(), "/i/init".into(), "/w".into());
        let c = cfg.command();
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let after = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .map(|i| args[i + 1].clone())
        };
        assert_eq!(after("-kernel").as_deref(), Some("/k/vmlinuz"));
        assert_eq!(after("-initrd").as_deref(), Some("/w/initrd.cpio"));
        assert_eq!(after("-accel").as_deref(), Some("tcg"));
        assert!(args.contains(&"-no-reboot".to_owned()));
        let serials: Vec<&String> = args
            .iter()
            .zip(args.iter().skip(1))
            .filter(|(a, _)| *a == "-serial")
            .map(|(_, b)| b)
            .collect();
        assert_eq!(serials, ["file:/w/console.log", "file:/w/channel.log"]);
        assert!(after("-append").unwrap().contains("panic=-1"));
    }

    #[test]
    fn tail_reads_only_complete_lines() {
        let dir = std::env::temp_dir().join(format!("bpfcheck-vm-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("channel.log");
        let mut t = Tail::new(p.clone());
        assert!(t.read_lines().unwrap().is_empty());
        std::fs::write(&p, "a\r\nb").unwrap();
        assert_eq!(t.read_lines().unwrap(), ["a\r\n"]);
        std::fs::write(&p, b"a\r\nbc\n\xffd").unwrap();
        assert_eq!(t.read_lines().unwrap(), ["bc\n"]);
        assert_eq!(t.rest().as_deref(), Some("\u{fffd}d"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
