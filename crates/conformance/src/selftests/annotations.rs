//! The `bpf_misc.h` annotations of one program, read from its BTF decl
//! tags, and the `__msg` matching of `test_loader.c`.

use bpfcheck_btf::{Btf, BtfKind, Type};
use bpfcheck_uapi::load::PROG_FLAG_NAMES;
use serde::Serialize;

const PFX: &str = "comment:";
const EXPECT_SUCCESS: &str = "test_expect_success";
const EXPECT_FAILURE: &str = "test_expect_failure";
const EXPECT_SUCCESS_UNPRIV: &str = "test_expect_success_unpriv";
const EXPECT_FAILURE_UNPRIV: &str = "test_expect_failure_unpriv";
const AUXILIARY: &str = "test_auxiliary";
const AUXILIARY_UNPRIV: &str = "test_auxiliary_unpriv";
const MSG: &str = "test_expect_msg=";
const MSG_UNPRIV: &str = "test_expect_msg_unpriv=";
const XLATED: &str = "test_expect_xlated=";
const XLATED_UNPRIV: &str = "test_expect_xlated_unpriv=";
const JITED: &str = "test_jited=";
const JITED_UNPRIV: &str = "test_jited_unpriv=";
const LOG_LEVEL: &str = "test_log_level=";
const PROG_FLAGS: &str = "test_prog_flags=";
const DESCRIPTION: &str = "test_description=";
const RETVAL: &str = "test_retval=";
const RETVAL_UNPRIV: &str = "test_retval_unpriv=";
const BTF_PATH: &str = "test_btf_path=";
const ARCH: &str = "test_arch=";

/// `POINTER_VALUE` of the selftests (`0xcafe4all`), truncated to the
/// `int` `test_loader.c` keeps.
const POINTER_VALUE: i32 = 0xcafe_4a11_u32 as i32;
/// `TEST_DATA_LEN` of the selftests.
const TEST_DATA_LEN: i32 = 64;

/// The architectures `__arch()` names, as `test_loader.c`'s mask bits.
pub const ARCH_X86_64: u32 = 1;
/// `__arch_arm64`.
pub const ARCH_ARM64: u32 = 2;
/// `__arch_riscv64`.
pub const ARCH_RISCV64: u32 = 4;

/// One `__msg` pattern: a substring, or (with `{{…}}` parts) a regular
/// expression whose other parts are literal.
#[derive(Clone, Debug)]
pub struct MsgPattern {
    /// The pattern as written in the annotation.
    pub text: String,
    regex: Option<regex::Regex>,
}

impl MsgPattern {
    /// Compiles `text` as `test_loader.c`'s `compile_regex()` does: text
    /// outside `{{ }}` is literal, text inside is an extended regular
    /// expression; `.` and anchors work line by line (`REG_NEWLINE`).
    pub fn new(text: &str) -> Result<Self, String> {
        if !text.contains("{{") {
            return Ok(Self {
                text: text.to_owned(),
                regex: None,
            });
        }
        let mut re = String::from("(?m)");
        let mut rest = text;
        loop {
            let Some(open) = rest.find("{{") else {
                re.push_str(&regex::escape(rest));
                break;
            };
            re.push_str(&regex::escape(&rest[..open]));
            let inner = &rest[open + 2..];
            let close = inner
                .find("}}")
                .ok_or_else(|| format!("`{{{{` without `}}}}` in {text:?}"))?;
            re.push_str(&inner[..close]);
            rest = &inner[close + 2..];
        }
        let regex = regex::Regex::new(&re).map_err(|e| format!("regex {re:?}: {e}"))?;
        Ok(Self {
            text: text.to_owned(),
            regex: Some(regex),
        })
    }

    /// The first match in `hay`, as a byte range.
    fn find(&self, hay: &str) -> Option<(usize, usize)> {
        match &self.regex {
            Some(re) => re.find(hay).map(|m| (m.start(), m.end())),
            None => hay.find(&self.text).map(|s| (s, s + self.text.len())),
        }
    }
}

/// Matches `msgs` against `log` in order, each search starting where the
/// previous match ended (`validate_msgs()`). `Err(i)`: pattern `i` is the
/// first one not found.
pub fn match_msgs(log: &str, msgs: &[MsgPattern]) -> Result<(), usize> {
    let mut pos = 0;
    for (i, m) in msgs.iter().enumerate() {
        match m.find(&log[pos..]) {
            Some((_, end)) => pos += end,
            None => return Err(i),
        }
    }
    Ok(())
}

/// What one run mode (privileged or not) expects.
#[derive(Clone, Debug, Default)]
pub struct Expectation {
    /// `__failure`: the load must fail; else it must succeed.
    pub expect_failure: bool,
    /// `__msg` patterns, in order.
    pub msgs: Vec<MsgPattern>,
    /// `__retval`: the result of a `BPF_PROG_TEST_RUN`.
    pub retval: Option<i32>,
    /// `__xlated` lines (checked against post-rewrite disassembly, which
    /// this harness does not compare; kept for the report).
    pub xlated: Vec<String>,
}

/// Every annotation of one program, as `parse_test_spec()` reads them.
#[derive(Clone, Debug, Default)]
pub struct Spec {
    /// `__description`, else the program name.
    pub description: Option<String>,
    /// Run privileged (`__success`, `__failure`, `__msg`, or no mode tag).
    pub priv_mode: bool,
    /// Run unprivileged (`…_unpriv` tags).
    pub unpriv_mode: bool,
    /// The privileged run's expectation.
    pub privileged: Expectation,
    /// The unprivileged run's expectation.
    pub unprivileged: Expectation,
    /// `__log_level`.
    pub log_level: u32,
    /// Flags set by `__flag(X)`.
    pub flags_set: u32,
    /// Flags cleared by `__flag(!X)`.
    pub flags_cleared: u32,
    /// `__auxiliary`: loaded with other tests, not a test itself.
    pub auxiliary: bool,
    /// `__btf_path`: custom BTF for CO-RE relocation.
    pub btf_path: Option<String>,
    /// `__arch_*` mask; 0 means every architecture.
    pub arch_mask: u32,
    /// Whether any `comment:test_` tag was present.
    pub annotated: bool,
    /// Whether a mode tag (`__success`, `__failure` or a `_unpriv` one) or
    /// `__msg` was present: what makes a program a verifier test here.
    pub has_verdict: bool,
    /// A `_unpriv` result tag was seen: the privileged one no longer
    /// stands in for it.
    unpriv_result_set: bool,
}

impl Spec {
    /// The program flags the load uses: the test runner's default flags,
    /// updated by `__flag`, or-ed with those of the program's section.
    pub fn prog_flags(&self, testing_flags: u32, section_flags: u32) -> u32 {
        ((testing_flags | self.flags_set) & !self.flags_cleared) | section_flags
    }

    /// Whether the annotations allow running on x86-64.
    pub fn runs_on_x86_64(&self) -> bool {
        self.arch_mask == 0 || self.arch_mask & ARCH_X86_64 != 0
    }
}

/// Strips `<N>=` from a `__msg` tag's value: 6.12 adds a counter so equal
/// messages make distinct tags; 6.1 has none (`test_expect_msg=text`).
fn msg_text(v: &str) -> &str {
    match v.split_once('=') {
        Some((n, text)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => text,
        _ => v,
    }
}

fn parse_int(v: &str) -> Result<i64, String> {
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16),
        None => v.parse::<i64>(),
    };
    parsed.map_err(|_| format!("not a number: {v:?}"))
}

fn parse_retval(v: &str) -> Result<i32, String> {
    match v {
        "INT_MIN" => Ok(i32::MIN),
        "POINTER_VALUE" => Ok(POINTER_VALUE),
        "TEST_DATA_LEN" => Ok(TEST_DATA_LEN),
        // strtol into an int: out-of-range values wrap as C truncates.
        _ => parse_int(v).map(|n| n as i32),
    }
}

fn prog_flag(name: &str) -> Result<u32, String> {
    if let Some(&(_, v)) = PROG_FLAG_NAMES.iter().find(|(n, _)| *n == name) {
        return Ok(v);
    }
    parse_int(name)
        .ok()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("unknown program flag {name:?}"))
}

/// Reads the annotations of a list of decl-tag strings (in BTF id order).
/// Tags outside the `comment:` namespace are ignored; malformed ones are
/// errors, as they fail the test in `test_loader.c`.
pub fn parse_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> Result<Spec, String> {
    let mut s = Spec::default();
    for tag in tags {
        let Some(t) = tag.strip_prefix(PFX) else {
            continue;
        };
        if t.starts_with("test_") {
            s.annotated = true;
        }
        match t {
            EXPECT_SUCCESS => mode(&mut s, false, false),
            EXPECT_FAILURE => mode(&mut s, false, true),
            EXPECT_SUCCESS_UNPRIV => mode(&mut s, true, false),
            EXPECT_FAILURE_UNPRIV => mode(&mut s, true, true),
            AUXILIARY => {
                s.auxiliary = true;
                s.priv_mode = true;
            }
            AUXILIARY_UNPRIV => {
                s.auxiliary = true;
                s.unpriv_mode = true;
            }
            _ => {}
        }
        if let Some(v) = t.strip_prefix(DESCRIPTION) {
            s.description = Some(v.to_owned());
        } else if let Some(v) = t.strip_prefix(MSG) {
            s.privileged.msgs.push(MsgPattern::new(msg_text(v))?);
            s.priv_mode = true;
            s.has_verdict = true;
        } else if let Some(v) = t.strip_prefix(MSG_UNPRIV) {
            s.unprivileged.msgs.push(MsgPattern::new(msg_text(v))?);
            s.unpriv_mode = true;
            s.has_verdict = true;
        } else if let Some(v) = t.strip_prefix(XLATED) {
            s.privileged.xlated.push(msg_text(v).to_owned());
            s.priv_mode = true;
        } else if let Some(v) = t.strip_prefix(XLATED_UNPRIV) {
            s.unprivileged.xlated.push(msg_text(v).to_owned());
            s.unpriv_mode = true;
        } else if t.starts_with(JITED) || t.starts_with(JITED_UNPRIV) {
            // JIT output is compared per architecture; not this harness's
            // business, and it does not change the load.
        } else if let Some(v) = t.strip_prefix(RETVAL) {
            s.privileged.retval = Some(parse_retval(v)?);
            s.priv_mode = true;
        } else if let Some(v) = t.strip_prefix(RETVAL_UNPRIV) {
            s.unprivileged.retval = Some(parse_retval(v)?);
            s.unpriv_mode = true;
        } else if let Some(v) = t.strip_prefix(LOG_LEVEL) {
            s.log_level = u32::try_from(parse_int(v)?).map_err(|_| format!("log level {v:?}"))?;
        } else if let Some(v) = t.strip_prefix(PROG_FLAGS) {
            match v.strip_prefix('!') {
                Some(name) => {
                    let f = prog_flag(name)?;
                    s.flags_cleared |= f;
                    s.flags_set &= !f;
                }
                None => {
                    let f = prog_flag(v)?;
                    s.flags_set |= f;
                    s.flags_cleared &= !f;
                }
            }
        } else if let Some(v) = t.strip_prefix(BTF_PATH) {
            s.btf_path = Some(v.to_owned());
        } else if let Some(v) = t.strip_prefix(ARCH) {
            s.arch_mask |= match v {
                "X86_64" => ARCH_X86_64,
                "ARM64" => ARCH_ARM64,
                "RISCV64" => ARCH_RISCV64,
                _ => return Err(format!("bad arch spec {v:?}")),
            };
        }
    }
    if !s.priv_mode && !s.unpriv_mode {
        s.priv_mode = true;
    }
    // As parse_test_spec(): the unprivileged run inherits what it does
    // not state itself.
    if s.unprivileged.msgs.is_empty() {
        s.unprivileged.msgs = s.privileged.msgs.clone();
    }
    if s.unprivileged.xlated.is_empty() {
        s.unprivileged.xlated = s.privileged.xlated.clone();
    }
    if s.unprivileged.retval.is_none() {
        s.unprivileged.retval = s.privileged.retval;
    }
    Ok(s)
}

fn mode(s: &mut Spec, unpriv: bool, failure: bool) {
    s.has_verdict = true;
    if unpriv {
        s.unpriv_mode = true;
        s.unprivileged.expect_failure = failure;
        s.unpriv_result_set = true;
    } else {
        s.priv_mode = true;
        s.privileged.expect_failure = failure;
        if !s.unpriv_result_set {
            s.unprivileged.expect_failure = failure;
        }
    }
}

/// The annotations of program `name`: the decl tags on its FUNC with
/// `component_idx == -1`, in BTF id order.
pub fn spec_of(btf: &Btf<'_>, name: &str) -> Result<Spec, String> {
    let func = btf
        .find_by_name_kind(name, BtfKind::Func)
        .ok_or_else(|| format!("no BTF FUNC for program `{name}`"))?;
    let tags = btf.decl_tags_of(func.id());
    let mut values = Vec::with_capacity(tags.len());
    for t in &tags {
        if t.component_idx() != Ok(None) {
            continue;
        }
        let v = Type::DeclTag(*t)
            .name()
            .map_err(|e| format!("decl tag of `{name}`: {e}"))?;
        values.push(v);
    }
    parse_tags(values)
}

/// Summary of a [`Spec`] for the JSON report.
#[derive(Clone, Debug, Serialize)]
pub struct SpecSummary {
    /// `success` or `failure`.
    pub expect: &'static str,
    /// The `__msg` patterns.
    pub msgs: Vec<String>,
    /// `__log_level`.
    pub log_level: u32,
    /// `__flag` names set (numbers as given).
    pub flags_set: u32,
    /// `__flag(!…)` cleared.
    pub flags_cleared: u32,
    /// `__retval`.
    pub retval: Option<i32>,
    /// `__description`.
    pub description: Option<String>,
}

impl From<&Spec> for SpecSummary {
    fn from(s: &Spec) -> Self {
        Self {
            expect: if s.privileged.expect_failure {
                "failure"
            } else {
                "success"
            },
            msgs: s.privileged.msgs.iter().map(|m| m.text.clone()).collect(),
            log_level: s.log_level,
            flags_set: s.flags_set,
            flags_cleared: s.flags_cleared,
            retval: s.privileged.retval,
            description: s.description.clone(),
        }
    }
}
