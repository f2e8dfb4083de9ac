//! What the host hands the guest (a [`Batch`] in the initramfs) and what the
//! guest sends back (one [`GuestEvent`] JSON object per line on its second
//! serial port).
//!
//! The guest announces each load before starting it, so that when a kernel
//! crashes or hangs in the verifier the host can name the program.

use bpfcheck_report::KernelSide;
use bpfcheck_uapi::LoadRequest;
use serde::{Deserialize, Serialize};

/// Path of the batch inside the initramfs.
pub const BATCH_PATH: &str = "requests.json";

/// `log_level` bit 0: the verifier log.
pub const LOG_LEVEL1: u32 = 1;
/// `log_level` bit 2: the statistics lines (`verification time`, `stack depth`).
pub const LOG_STATS: u32 = 4;

/// One program to load, under a name that need not fit `prog_name`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedRequest {
    /// Identifies the program in the results (e.g. `malformed/div_k_zero`).
    pub name: String,
    /// The load; its own `name` is the kernel's `prog_name`.
    pub request: LoadRequest,
}

/// Everything the guest's init reads from [`BATCH_PATH`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// The log level the results should carry: 0 for no log, else the
    /// kernel's `log_level` bits. The guest always loads with at least
    /// [`LOG_LEVEL1`] `|` [`LOG_STATS`], for the error line and the kernel's
    /// own verification time, and drops what was not asked for.
    pub log_level: u32,
    /// Load with exactly [`Batch::log_level`] (no added bits), to see the
    /// log a kernel prints at that level; durations are then wall times.
    #[serde(default)]
    pub exact_log_level: bool,
    /// Size of the first log buffer in bytes ([`bpfcheck_sys::LoadOptions`]);
    /// 0 means the default. Kernels before 6.4 cannot say how much a
    /// truncated log needed, so there a small buffer turns a long log into
    /// `ENOSPC`.
    #[serde(default)]
    pub log_size: usize,
    /// The programs, loaded in this order.
    pub programs: Vec<NamedRequest>,
}

impl Batch {
    /// The `log_level` the guest passes to `BPF_PROG_LOAD`.
    pub fn load_log_level(&self) -> u32 {
        if self.exact_log_level {
            self.log_level
        } else {
            self.log_level | LOG_LEVEL1 | LOG_STATS
        }
    }
}

/// A program's result as the guest reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramResult {
    /// [`NamedRequest::name`].
    pub name: String,
    /// The verifier's answer, shaped like the live-kernel side of a `diff`
    /// record; `None` when the load failed before `BPF_PROG_LOAD` (see
    /// [`ProgramResult::setup_error`]).
    pub kernel: Option<KernelSide>,
    /// A map or BTF object could not be created, or the request was refused
    /// before the kernel saw it: the `bpf()` command and its error.
    pub setup_error: Option<String>,
    /// `verified_insns` of an accepted program (5.16+; 0 before).
    pub verified_insns: Option<u32>,
    /// Whether the log needed a second, larger buffer.
    pub log_retried: bool,
    /// Wall time of the whole load in the guest (maps, BTF, program),
    /// microseconds.
    pub wall_us: u64,
}

/// One line from the guest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum GuestEvent {
    /// Init started and read its batch.
    Hello {
        /// `uname -r` of the guest kernel.
        release: String,
        /// Guest uptime when init started, milliseconds (`/proc/uptime`).
        uptime_ms: u64,
        /// Programs in the batch.
        programs: usize,
    },
    /// About to load program `index`.
    Loading {
        /// Index into [`Batch::programs`].
        index: usize,
    },
    /// The answer for program `index`.
    Result {
        /// Index into [`Batch::programs`].
        index: usize,
        /// The answer (boxed: it is by far the largest event).
        result: Box<ProgramResult>,
    },
    /// All programs were loaded; the guest powers off next.
    Done {
        /// Guest uptime at the end, milliseconds.
        uptime_ms: u64,
    },
    /// Init cannot go on (no batch, `bpf()` unusable); the guest powers off.
    Fatal {
        /// What failed, naming the file or call.
        message: String,
    },
}

impl GuestEvent {
    /// The event as one line (a JSON object and `\n`); JSON escapes every
    /// control character inside strings, so the line has no other newline
    /// and no carriage return.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_else(|e| {
            // Serialising plain data cannot fail; keep the channel's framing
            // even if it did.
            format!(r#"{{"event":"fatal","message":"cannot encode an event: {e}"}}"#)
        });
        line.push('\n');
        line
    }

    /// Parses one received line. The serial line discipline may have turned
    /// `\n` into `\r\n`, and the port may carry noise before init opens it;
    /// anything that is not an event is `None`.
    pub fn parse_line(line: &str) -> Option<Self> {
        let line = line.trim_matches(|c: char| c == '\r' || c == '\n' || c == '\0');
        let start = line.find('{')?;
        serde_json::from_str(&line[start..]).ok()
    }
}

/// The guest uptime from the text of `/proc/uptime` (`12.34 56.78`), in
/// milliseconds.
pub fn parse_uptime_ms(text: &str) -> Option<u64> {
    let first = text.split_whitespace().next()?;
    let (secs, frac) = first.split_once('.').unwrap_or((first, "0"));
    let secs: u64 = secs.parse().ok()?;
    // `/proc/uptime` has two decimals; scale whatever is there to ms.
    let frac_ms = match frac.len() {
        0 => 0,
        1 => frac.parse::<u64>().ok()? * 100,
        2 => frac.parse::<u64>().ok()? * 10,
        _ => frac.get(..3)?.parse().ok()?,
    };
    secs.checked_mul(1000)?.checked_add(frac_ms)
}

// Log reading is shared with the host side: every kernel version's
// statistics lines are known to uapi, the error-line rule to sys.
pub use bpfcheck_sys::error_line;
pub use bpfcheck_uapi::{is_stats_line, last_insn_of_log, strip_level4_lines as strip_stats_lines};

#[cfg(test)]
mod tests {
    use super::*;
    use bpfcheck_uapi::{MapSpec, MapType, ProgType, RawInsn, op};

    fn sample_batch() -> Batch {
        let mut req = LoadRequest {
            name: "div_k_zero".into(),
            prog_type: ProgType::SOCKET_FILTER,
            insns: vec![
                RawInsn::new(op::ALU64 | op::MOV | op::K, 0, 0, 0, 0),
                RawInsn::new(op::JMP | op::EXIT, 0, 0, 0, 0),
            ],
            license: "GPL".into(),
            ..LoadRequest::default()
        };
        req.maps.push(MapSpec::new(MapType::HASH, 4, 8, 16));
        Batch {
            log_level: 2,
            exact_log_level: false,
            log_size: 0,
            programs: vec![NamedRequest {
                name: "malformed/div_k_zero".into(),
                request: req,
            }],
        }
    }

    #[test]
    fn batch_round_trips() {
        let b = sample_batch();
        let text = serde_json::to_string(&b).unwrap();
        let back: Batch = serde_json::from_str(&text).unwrap();
        assert_eq!(back, b);
        assert_eq!(b.load_log_level(), 2 | 1 | 4);
    }

    #[test]
    fn events_round_trip_through_a_serial_line() {
        let result = ProgramResult {
            name: "asm/alu64".into(),
            kernel: Some(KernelSide {
                verdict: "rejected".into(),
                errno: Some(13),
                error: Some("R0 !read_ok".into()),
                error_insn: Some(0),
                insns_processed: Some(1),
                max_states_per_insn: Some(0),
                total_states: Some(0),
                peak_states: Some(0),
                duration_us: Some(12),
                log: Some("0: (95) exit\r\nR0 !read_ok\n".into()),
            }),
            setup_error: None,
            verified_insns: None,
            log_retried: false,
            wall_us: 345,
        };
        let events = [
            GuestEvent::Hello {
                release: "6.1.0-56-cloud-amd64".into(),
                uptime_ms: 4210,
                programs: 1,
            },
            GuestEvent::Loading { index: 0 },
            GuestEvent::Result {
                index: 0,
                result: Box::new(result),
            },
            GuestEvent::Done { uptime_ms: 5000 },
            GuestEvent::Fatal {
                message: "x\ny".into(),
            },
        ];
        for e in &events {
            let line = e.to_line();
            assert_eq!(line.matches('\n').count(), 1, "{line}");
            assert!(!line.contains('\r'));
            // What ONLCR makes of it on the host side.
            let wire = line.replace('\n', "\r\n");
            assert_eq!(GuestEvent::parse_line(&wire).as_ref(), Some(e));
        }
        let hello = serde_json::to_value(&events[0]).unwrap();
        assert_eq!(hello["event"], "hello");
    }

    #[test]
    fn noise_is_not_an_event() {
        assert_eq!(GuestEvent::parse_line(""), None);
        assert_eq!(GuestEvent::parse_line("\0\0garbage"), None);
        assert_eq!(GuestEvent::parse_line(r#"{"event":"nope"}"#), None);
        assert_eq!(GuestEvent::parse_line(r#"{"event":"done""#), None);
        assert_eq!(
            GuestEvent::parse_line("\u{0}\u{0}{\"event\":\"loading\",\"index\":3}\r"),
            Some(GuestEvent::Loading { index: 3 })
        );
    }

    #[test]
    fn uptime() {
        assert_eq!(parse_uptime_ms("12.34 56.78\n"), Some(12_340));
        assert_eq!(parse_uptime_ms("3.5 1.0"), Some(3_500));
        assert_eq!(parse_uptime_ms("7 1"), Some(7_000));
        assert_eq!(parse_uptime_ms("1.2345 0"), Some(1_234));
        assert_eq!(parse_uptime_ms("x"), None);
        assert_eq!(parse_uptime_ms(""), None);
    }

    #[test]
    fn log_helpers() {
        let log =
            "0: (b7) r0 = 0\n1: (95) exit\nverification time 3 usec\nstack depth 0\nR0 !read_ok\n";
        assert_eq!(last_insn_of_log(log), Some(1));
        assert_eq!(last_insn_of_log("func#0 @0\n: (x\n"), None);
        assert_eq!(
            strip_stats_lines(log),
            "0: (b7) r0 = 0\n1: (95) exit\nR0 !read_ok\n"
        );
        // 7.x adds `insns processed N` after the error.
        let seven = "BPF_ALU uses reserved fields\ninsns processed 0\nprocessed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
        assert_eq!(
            error_line(seven).as_deref(),
            Some("BPF_ALU uses reserved fields")
        );
        assert!(!is_stats_line("insns processed"));
        assert!(!is_stats_line("insns processed by x"));
        assert_eq!(
            error_line("R0 !read_ok\nverification time 3 usec\n").as_deref(),
            Some("R0 !read_ok")
        );
    }
}
