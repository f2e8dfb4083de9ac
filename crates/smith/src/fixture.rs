//! Writing a program and the kernel's answer as an assembler fixture (the
//! `fixtures/` `.s` format of `bpfcheck-asm`, see `fixtures/README.md`).

use std::fmt::Write as _;

use bpfcheck_asm::{Fixture, assemble};
use bpfcheck_isa::{LogEra, PseudoSrc, Symbolizer, decode, disasm};
use bpfcheck_uapi::{Errno, LoadRequest, RawInsn};

use crate::diff::KernelAnswer;

/// Prints map pseudo sources as the assembler's `map_fd(N)` forms.
#[derive(Clone, Copy, Debug, Default)]
pub struct FixtureSymbolizer;

impl Symbolizer for FixtureSymbolizer {
    fn ld_imm64_text(&self, src: u8, value: u64) -> Option<String> {
        let lo = value as u32 as i32;
        let hi = (value >> 32) as u32 as i32;
        match PseudoSrc::from_bits(src)? {
            PseudoSrc::MapFd => Some(format!("map_fd({lo})")),
            PseudoSrc::MapIdx => Some(format!("map_idx({lo})")),
            PseudoSrc::MapValue => Some(format!("map_value({lo}, {hi})")),
            PseudoSrc::MapIdxValue => Some(format!("map_idx_value({lo}, {hi})")),
            PseudoSrc::BtfId => Some(format!("btf_id({lo})")),
            PseudoSrc::Imm | PseudoSrc::Func => None,
        }
    }
}

/// The body lines: the kernel's text for each instruction when it
/// assembles back to the same slots, else `.insn` lines.
pub fn body_lines(insns: &[RawInsn]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < insns.len() {
        let slots = decode(insns, i).map_or(1, |d| d.slots).min(insns.len() - i);
        let text = disasm(insns, i, LogEra::V6_18, &FixtureSymbolizer);
        // Strip the `(xx) ` opcode prefix the log prints.
        let text = match text.split_once(") ") {
            Some((code, rest)) if code.starts_with('(') => rest.to_owned(),
            _ => text,
        };
        if assemble(&text).is_ok_and(|a| a == insns[i..i + slots]) {
            out.push(text);
        } else {
            for r in &insns[i..i + slots] {
                out.push(format!(
                    ".insn {:#04x} {} {} {} {}",
                    r.code, r.dst, r.src, r.off, r.imm
                ));
            }
        }
        i += slots;
    }
    out
}

/// A complete fixture: directives, `comments` (one `;` line each), body.
/// Fails (with the reason) if the text does not parse back to `req`.
pub fn fixture_text(
    req: &LoadRequest,
    kernel: &KernelAnswer,
    comments: &[String],
) -> Result<String, String> {
    let mut s = String::new();
    if let Some(name) = req.prog_type.name() {
        let _ = writeln!(s, ";! prog_type: {name}");
    } else {
        let _ = writeln!(s, ";! prog_type: {}", req.prog_type.0);
    }
    for m in &req.maps {
        let ty = m
            .map_type
            .name()
            .map_or_else(|| m.map_type.0.to_string(), str::to_owned);
        let _ = write!(
            s,
            ";! map: {ty}:{}:{}:{}",
            m.key_size, m.value_size, m.max_entries
        );
        if m.flags != 0 {
            let _ = write!(s, ":{}", m.flags);
        }
        s.push('\n');
    }
    if kernel.accepted {
        s.push_str(";! expect: accepted\n");
    } else {
        let errno = kernel.errno.unwrap_or(0);
        let name = Errno(errno)
            .name()
            .map_or_else(|| errno.to_string(), str::to_owned);
        let msg = kernel.error_line.as_deref().unwrap_or("");
        let _ = writeln!(s, ";! expect: rejected {name} {msg}");
    }
    for c in comments {
        for line in c.lines() {
            let _ = writeln!(s, "; {line}");
        }
    }
    for l in body_lines(&req.insns) {
        s.push_str(&l);
        s.push('\n');
    }
    let back = Fixture::parse(&s).map_err(|e| format!("fixture does not parse back: {e}"))?;
    if back.insns != req.insns {
        return Err("fixture assembles to different instructions".into());
    }
    Ok(s)
}
