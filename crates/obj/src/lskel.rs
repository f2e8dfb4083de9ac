//! Light skeletons (`bpftool gen skeleton -L`): C headers that embed a
//! loader program and its data blob, which `bpf_load_and_run`
//! (`<bpf/skel_internal.h>`) loads as a sleepable `BPF_PROG_TYPE_SYSCALL`
//! program with the blob in a one-element array map passed by `fd_array`.
//!
//! [`LightSkeleton::parse`] reads the two C string literals (`opts.data`,
//! `opts.insns`, either assigned inline as bpftool ≤ 7.5 writes them or
//! through the `opts_data[]` / `opts_insn[]` arrays of later versions),
//! checks them against the `*_sz` assignments when those are numbers, and
//! [`LightSkeleton::load_request`] forms the request `bpf_load_and_run`
//! makes.

use std::fmt;

use bpfcheck_uapi::{
    ByteOrder, FdRef, LoadRequest, MapSpec, MapType, ProgType, RawInsn, load::BPF_F_SLEEPABLE,
};

/// The loader program's name, as `bpf_load_and_run` sets it.
pub const LOADER_PROG_NAME: &str = "__loader.prog";
/// The data map's name, as `bpf_load_and_run` creates it.
pub const LOADER_MAP_NAME: &str = "__loader.map";
/// The loader program's license, as `bpf_load_and_run` sets it.
pub const LOADER_LICENSE: &str = "Dual BSD/GPL";

/// Whether `bytes` look like a light skeleton: C text including
/// `skel_internal.h` and handing a loader to `bpf_load_and_run`.
pub fn is_light_skeleton(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    text.contains("skel_internal.h") && text.contains("bpf_load_and_run(")
}

/// A place in the header and what is wrong there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LskelError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong.
    pub what: String,
}

impl fmt::Display for LskelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.what
        )
    }
}

impl std::error::Error for LskelError {}

/// The loader of a light skeleton.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LightSkeleton {
    /// The loader program's instructions (`opts.insns`).
    pub insns: Vec<RawInsn>,
    /// The loader map's only value (`opts.data`).
    pub data: Vec<u8>,
}

impl LightSkeleton {
    /// Reads the loader out of a light skeleton header.
    pub fn parse(text: &str) -> Result<Self, LskelError> {
        let data = blob(text, "data", "opts_data")?;
        let insn_bytes = blob(text, "insns", "opts_insn")?;
        check_size(text, "data_sz", data.bytes.len())?;
        check_size(text, "insns_sz", insn_bytes.bytes.len())?;
        if insn_bytes.bytes.is_empty() || insn_bytes.bytes.len() % 8 != 0 {
            return Err(error_at(
                text,
                insn_bytes.at,
                format!(
                    "opts.insns holds {} bytes, not a whole number of 8-byte instructions",
                    insn_bytes.bytes.len()
                ),
            ));
        }
        if data.bytes.is_empty() {
            // An array map's value cannot be empty: the kernel would
            // refuse the map before the program.
            return Err(error_at(text, data.at, "opts.data is empty".to_owned()));
        }
        let insns = RawInsn::parse_all(&insn_bytes.bytes, ByteOrder::Little)
            .map_err(|e| error_at(text, insn_bytes.at, format!("opts.insns: {e}")))?;
        Ok(Self {
            insns,
            data: data.bytes,
        })
    }

    /// The `BPF_PROG_LOAD` request of `bpf_load_and_run`: a sleepable
    /// syscall program named `__loader.prog`, whose `fd_array` holds the
    /// data map, an array of one `data`-sized value with key size 4.
    pub fn load_request(&self) -> LoadRequest {
        let value_size = u32::try_from(self.data.len()).unwrap_or(u32::MAX);
        let map = MapSpec {
            name: LOADER_MAP_NAME.to_owned(),
            initial_value: Some(self.data.clone()),
            ..MapSpec::new(MapType::ARRAY, 4, value_size, 1)
        };
        LoadRequest {
            name: LOADER_PROG_NAME.to_owned(),
            prog_type: ProgType::SYSCALL,
            insns: self.insns.clone(),
            license: LOADER_LICENSE.to_owned(),
            prog_flags: BPF_F_SLEEPABLE,
            maps: vec![map],
            fd_array: Some(vec![FdRef::Map(0)]),
            ..LoadRequest::default()
        }
    }
}

/// A decoded string literal and the byte offset of its opening quote.
struct Blob {
    bytes: Vec<u8>,
    at: usize,
}

/// The literal assigned to `opts.FIELD = (void *)"…"`, or initialising
/// `static const char ARRAY[] … = "…"`.
fn blob(text: &str, field: &str, array: &str) -> Result<Blob, LskelError> {
    let inline = format!("opts.{field} = (void *)");
    let inline_literal = text
        .find(&inline)
        .map(|p| skip_blank(text, p + inline.len()))
        .filter(|&p| text[p..].starts_with('"'));
    let start = if let Some(p) = inline_literal {
        p
    } else if let Some(p) = text.find(&format!("{array}[]")) {
        text[p..]
            .find('=')
            .map(|e| p + e + 1)
            .ok_or_else(|| error_at(text, p, format!("`{array}[]` has no initialiser")))?
    } else {
        return Err(error_at(
            text,
            text.len(),
            format!("no `opts.{field}` string: not a light skeleton bpftool wrote"),
        ));
    };
    let at = skip_blank(text, start);
    if !text[at..].starts_with('"') {
        return Err(error_at(
            text,
            at,
            format!("opts.{field}: expected a string literal"),
        ));
    }
    let bytes = c_string(text, at)?;
    Ok(Blob { bytes, at })
}

/// Checks `opts.FIELD = N;` against the decoded length; `sizeof(…) - 1`
/// forms need no check (the compiler computes them from the literal).
fn check_size(text: &str, field: &str, len: usize) -> Result<(), LskelError> {
    let key = format!("opts.{field} = ");
    let Some(p) = text.find(&key) else {
        return Err(error_at(
            text,
            text.len(),
            format!("no `opts.{field}` assignment"),
        ));
    };
    let start = p + key.len();
    let end = text[start..].find(';').map_or(text.len(), |e| start + e);
    let value = text[start..end].trim();
    if value.starts_with("sizeof") {
        return Ok(());
    }
    let n: usize = value.parse().map_err(|_| {
        error_at(
            text,
            start,
            format!("opts.{field}: `{value}` is not a size"),
        )
    })?;
    if n != len {
        return Err(error_at(
            text,
            start,
            format!("opts.{field} is {n} but the string holds {len} bytes"),
        ));
    }
    Ok(())
}

fn skip_blank(text: &str, mut at: usize) -> usize {
    let b = text.as_bytes();
    while at < b.len() && b[at].is_ascii_whitespace() {
        at += 1;
    }
    at
}

/// Decodes the C string literal opening at `at` (adjacent literals
/// concatenated, backslash-newline continuations dropped), with C's
/// escapes: `\x` takes every hex digit that follows, octal up to three.
fn c_string(text: &str, mut at: usize) -> Result<Vec<u8>, LskelError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    loop {
        // `at` is on an opening quote.
        let mut i = at + 1;
        loop {
            let Some(&c) = b.get(i) else {
                return Err(error_at(text, at, "unterminated string literal".to_owned()));
            };
            match c {
                b'"' => break,
                b'\n' => {
                    return Err(error_at(
                        text,
                        i,
                        "newline inside a string literal".to_owned(),
                    ));
                }
                b'\\' => {
                    let (byte, next) = escape(text, i)?;
                    if let Some(byte) = byte {
                        out.push(byte);
                    }
                    i = next;
                }
                _ => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        let next = skip_blank(text, i + 1);
        if b.get(next) == Some(&b'"') {
            at = next;
        } else {
            return Ok(out);
        }
    }
}

/// One escape sequence at the backslash `at`: its byte (none for a line
/// continuation) and where the literal goes on.
fn escape(text: &str, at: usize) -> Result<(Option<u8>, usize), LskelError> {
    let b = text.as_bytes();
    let Some(&c) = b.get(at + 1) else {
        return Err(error_at(text, at, "unterminated escape".to_owned()));
    };
    let simple = |v: u8| Ok((Some(v), at + 2));
    match c {
        b'\n' => Ok((None, at + 2)),
        b'\r' if b.get(at + 2) == Some(&b'\n') => Ok((None, at + 3)),
        b'n' => simple(b'\n'),
        b't' => simple(b'\t'),
        b'r' => simple(b'\r'),
        b'a' => simple(0x07),
        b'b' => simple(0x08),
        b'f' => simple(0x0c),
        b'v' => simple(0x0b),
        b'\\' | b'"' | b'\'' | b'?' => simple(c),
        b'x' => {
            let digits = b[at + 2..]
                .iter()
                .take_while(|d| d.is_ascii_hexdigit())
                .count();
            let hex = &text[at + 2..at + 2 + digits];
            match u8::from_str_radix(hex, 16) {
                Ok(v) if digits > 0 => Ok((Some(v), at + 2 + digits)),
                _ => Err(error_at(
                    text,
                    at,
                    format!("bad hexadecimal escape `\\x{hex}`"),
                )),
            }
        }
        b'0'..=b'7' => {
            let digits = b[at + 1..]
                .iter()
                .take(3)
                .take_while(|d| (b'0'..=b'7').contains(d))
                .count();
            let oct = &text[at + 1..at + 1 + digits];
            u8::from_str_radix(oct, 8)
                .map(|v| (Some(v), at + 1 + digits))
                .map_err(|_| error_at(text, at, format!("octal escape `\\{oct}` exceeds a byte")))
        }
        _ => Err(error_at(
            text,
            at,
            format!("unknown escape `\\{}`", char::from(c)),
        )),
    }
}

fn error_at(text: &str, at: usize, what: String) -> LskelError {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    LskelError { line, column, what }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "#include <bpf/skel_internal.h>\n\
        static inline int x__load(struct x *skel)\n{\n\
        \topts.data_sz = 3;\n\
        \topts.data = (void *)\"\\\n\\x01\\0\\x7f\";\n\
        \topts.insns_sz = 16;\n\
        \topts.insns = (void *)\"\\\n\\xb7\\0\\0\\0\\0\\0\\0\\0\\\n\\x95\\0\\0\\0\\0\\0\\0\\0\";\n\
        \terr = bpf_load_and_run(&opts);\n}\n";

    #[test]
    fn reads_the_loader_and_forms_the_request() {
        assert!(is_light_skeleton(HEADER.as_bytes()));
        let sk = LightSkeleton::parse(HEADER).unwrap();
        assert_eq!(sk.data, [1, 0, 0x7f]);
        assert_eq!(sk.insns.len(), 2);
        let req = sk.load_request();
        assert_eq!(req.prog_type, ProgType::SYSCALL);
        assert_eq!(req.prog_flags, BPF_F_SLEEPABLE);
        assert_eq!(req.name, "__loader.prog");
        assert_eq!(req.maps[0].value_size, 3);
        assert_eq!(req.fd_array, Some(vec![FdRef::Map(0)]));
    }

    #[test]
    fn later_bpftool_arrays_are_read_too() {
        let text = "#include <bpf/skel_internal.h>\n\
            static const char opts_data[] __attribute__((__aligned__(8))) = \"\\\n\\x01\\x02\";\n\
            static const char opts_insn[] __attribute__((__aligned__(8))) = \"\\\n\\x95\\0\\0\\0\\0\\0\\0\\0\";\n\
            opts.data = (void *)opts_data;\n opts.data_sz = sizeof(opts_data) - 1;\n\
            opts.insns = (void *)opts_insn;\n opts.insns_sz = sizeof(opts_insn) - 1;\n\
            err = bpf_load_and_run(&opts);\n";
        let sk = LightSkeleton::parse(text).unwrap();
        assert_eq!(sk.data, [1, 2]);
        assert_eq!(sk.insns.len(), 1);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for end in 0..HEADER.len() {
            let _ = LightSkeleton::parse(&HEADER[..end]);
        }
    }

    #[test]
    fn errors_name_the_place() {
        let bad = HEADER.replace("\\x7f", "\\q");
        let e = LightSkeleton::parse(&bad).unwrap_err();
        assert_eq!((e.line, e.what.as_str()), (6, "unknown escape `\\q`"));
        let short = HEADER.replace("opts.data_sz = 3", "opts.data_sz = 4");
        let e = LightSkeleton::parse(&short).unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.what.contains("is 4 but the string holds 3 bytes"), "{e}");
        let odd = HEADER.replace("\\x95\\0\\0\\0\\0\\0\\0\\0\"", "\\x95\"");
        let e = LightSkeleton::parse(&odd.replace("insns_sz = 16", "insns_sz = 9")).unwrap_err();
        assert!(e.what.contains("not a whole number"), "{e}");
    }
}
