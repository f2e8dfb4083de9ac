//! The record of one verdict.

use serde::{Deserialize, Serialize};

use crate::trace::Trace;

/// Version of the JSON record schema. Bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// What bpfcheck could not judge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsupportedInfo {
    /// The feature, in words.
    pub feature: String,
    /// The first instruction needing it.
    pub insn: Option<u32>,
}

/// Where in the source an instruction came from, from the program's BTF
/// line info.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLocation {
    /// The file name as the compiler recorded it.
    pub file: String,
    /// 1-based line number.
    pub line: u32,
    /// 1-based column; 0 when the compiler recorded none.
    pub column: u32,
    /// The line's text as BTF carries it, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// One verdict on one program for one kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub schema: u32,
    /// The input file.
    pub object: String,
    /// Program name.
    pub program: String,
    /// ELF section, when the input is an object.
    pub section: Option<String>,
    /// Program type (kernel name).
    pub prog_type: String,
    /// In a `check` record, the kernel profile's name (`6.18`). In a `diff`
    /// record, the live kernel's answer, and the profile bpfcheck used is in
    /// [`Record::profile`].
    pub kernel: KernelField,
    /// The profile bpfcheck used, in `diff` records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// `accepted`, `rejected` or `unsupported`.
    pub verdict: String,
    /// errno of a rejection.
    pub errno: Option<i32>,
    /// The kernel's last error line (its exact text); `null` when accepted,
    /// or when the kernel refused the load without a log line.
    pub error: Option<String>,
    /// Stable class of the error (`unknown_opcode` …), bpfcheck's side only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The instruction the error is tied to.
    pub error_insn: Option<u32>,
    /// Why the verdict is `unsupported`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<UnsupportedInfo>,
    /// Processed instructions.
    pub insns_processed: Option<u64>,
    /// Most states kept at one instruction.
    pub max_states_per_insn: Option<u64>,
    /// States ever created.
    pub total_states: Option<u64>,
    /// Most states alive at once.
    pub peak_states: Option<u64>,
    /// Wall time of the verification, microseconds.
    pub duration_us: Option<u64>,
    /// Stack depth of each subprogram in bytes (`stack depth A+B`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_depth: Option<Vec<u32>>,
    /// The kernel-format log, when a log level was asked for and it is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Which parts agree (`bpfcheck diff` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agree: Option<Agreement>,
    /// The source line of [`Record::error_insn`], when the program has line
    /// info (added in schema 1; absent in older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceLocation>,
    /// What usually fixes this kind of rejection (the catalogue's help),
    /// when the error belongs to a known class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The failing path of a rejection as bpfcheck's verifier walked it,
    /// whatever the log level (`check` and `diff` records; absent in older
    /// records and in the kernel's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Trace>,
    /// How many times bpfcheck's verifier processed each instruction, when
    /// asked for (`stats --top-src-lines`); not serialised.
    #[serde(skip)]
    pub processed_per_insn: Option<Vec<u64>>,
}

/// The `kernel` field: a profile name, or the live kernel's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KernelField {
    /// The profile bpfcheck judged for.
    Profile(String),
    /// What the running kernel said (`diff` records).
    Live(Box<KernelSide>),
}

impl Record {
    /// The profile bpfcheck judged for, in either kind of record.
    pub fn profile_name(&self) -> &str {
        match (&self.kernel, &self.profile) {
            (KernelField::Profile(p), _) => p,
            (KernelField::Live(_), Some(p)) => p,
            (KernelField::Live(_), None) => "",
        }
    }

    /// The live kernel's side, in `diff` records.
    pub fn live(&self) -> Option<&KernelSide> {
        match &self.kernel {
            KernelField::Live(k) => Some(k),
            KernelField::Profile(_) => None,
        }
    }
}

/// The running kernel's answer to the same load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct KernelSide {
    /// `accepted` or `rejected`.
    pub verdict: String,
    /// errno when rejected.
    pub errno: Option<i32>,
    /// The verifier's last error line.
    pub error: Option<String>,
    /// The instruction of the last instruction line before the error.
    pub error_insn: Option<u32>,
    /// Processed instructions.
    pub insns_processed: Option<u64>,
    /// Most states kept at one instruction.
    pub max_states_per_insn: Option<u64>,
    /// States ever created.
    pub total_states: Option<u64>,
    /// Most states alive at once.
    pub peak_states: Option<u64>,
    /// `verification time` reported by the kernel (log level 4), else the
    /// wall time of the `bpf()` call, microseconds.
    pub duration_us: Option<u64>,
    /// The kernel's log, when a log level was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// Agreement between bpfcheck and the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Agreement {
    /// Same verdict (an `unsupported` verdict never agrees).
    pub verdict: bool,
    /// Same last error line (both none counts as agreement).
    pub error: bool,
    /// Same processed-instruction count.
    pub insns_processed: bool,
    /// Same log, byte for byte after kernel addresses are normalised.
    pub log: bool,
}

impl Agreement {
    /// Whether everything compared agrees.
    pub fn all(&self) -> bool {
        self.verdict && self.error && self.insns_processed && self.log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_record_serialises_kernel_under_its_name() {
        let r = Record {
            schema: SCHEMA_VERSION,
            object: "a.o".into(),
            program: "p".into(),
            section: None,
            prog_type: "xdp".into(),
            kernel: KernelField::Live(Box::new(KernelSide {
                verdict: "rejected".into(),
                ..KernelSide::default()
            })),
            profile: Some("6.18".into()),
            verdict: "rejected".into(),
            errno: Some(22),
            error: Some("unknown opcode 8d".into()),
            error_code: Some("unknown_opcode".into()),
            error_insn: Some(1),
            unsupported: None,
            insns_processed: Some(0),
            max_states_per_insn: Some(0),
            total_states: Some(0),
            peak_states: Some(0),
            duration_us: Some(3),
            log: None,
            agree: Some(Agreement {
                verdict: true,
                ..Agreement::default()
            }),
            source: None,
            hint: None,
            trace: None,
            processed_per_insn: None,
            stack_depth: None,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["profile"], "6.18");
        assert_eq!(v["kernel"]["verdict"], "rejected");
        assert_eq!(v["agree"]["verdict"], true);
        let back: Record = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }
}
