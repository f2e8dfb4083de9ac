//! The two passes over a program text: statements and labels first, then
//! jump and call targets.

use std::collections::HashMap;

use bpfcheck_uapi::{RawInsn, op};

use crate::cursor::{Cursor, parse_reg};
use crate::stmt::{self, Fixup, Stmt, Target};
use crate::symbols::unresolved_error;
use crate::{AsmError, Assembled, KernelSymbol};

/// A statement with where it came from and where it lands.
struct Placed<'a> {
    stmt: Stmt,
    /// Index of its first slot.
    slot: usize,
    line_no: usize,
    /// The comment-stripped line, for positioning fixup errors.
    text: &'a str,
}

/// Cuts a line at its comment: `;` anywhere, `#` at the start of a word
/// (so that the printer's `call bpf_map_lookup_elem#1` survives).
pub(crate) fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let end = bytes
        .iter()
        .enumerate()
        .find(|&(i, &c)| c == b';' || (c == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace())))
        .map_or(line.len(), |(i, _)| i);
    line.get(..end).unwrap_or(line)
}

/// Assembles a whole program to its final bytes. See the crate
/// documentation for the syntax.
///
/// A program that names kernel symbols (`call kfunc(NAME)`,
/// `btf_id(NAME)`) has no final bytes without a kernel's BTF: it fails with
/// an error at the first such name. [`assemble_with_symbols`] assembles it.
pub fn assemble(text: &str) -> Result<Vec<RawInsn>, AsmError> {
    let out = assemble_with_symbols(text)?;
    match out.kernel_symbols.first() {
        Some(sym) => Err(unresolved_error(sym)),
        None => Ok(out.insns),
    }
}

/// Assembles a whole program whose kernel symbols may still be unknown:
/// the instructions, with `imm` 0 where a named kernel symbol's BTF id
/// goes, and the list of those symbols ([`Assembled::resolve`] fills them
/// in from a kernel's BTF).
pub fn assemble_with_symbols(text: &str) -> Result<Assembled, AsmError> {
    let mut placed: Vec<Placed<'_>> = Vec::new();
    let mut labels: HashMap<&str, usize> = HashMap::new();
    let mut slot = 0usize;

    for (i, raw_line) in text.lines().enumerate() {
        let line_no = i + 1;
        let code = strip_comment(raw_line);
        let mut cur = Cursor::new(code, line_no);
        if cur.at_end() {
            continue;
        }
        skip_index(&mut cur);
        define_labels(&mut cur, &mut labels, slot)?;
        let prefix_at = cur.here();
        let prefix = cur.opcode_prefix();
        if cur.at_end() {
            if prefix.is_some() {
                return Err(cur.expected("an instruction after the opcode"));
            }
            continue;
        }
        let stmt = stmt::parse(&mut cur)?;
        if let (Some(want), Some(first)) = (prefix, stmt.slots.first())
            && want != first.code
        {
            return Err(cur.error_at(
                prefix_at,
                format!(
                    "opcode ({want:02x}) does not match the instruction's encoding ({:02x})",
                    first.code
                ),
            ));
        }
        let width = stmt.slots.len();
        placed.push(Placed {
            stmt,
            slot,
            line_no,
            text: code,
        });
        slot += width;
    }

    let mut out = Vec::with_capacity(slot);
    let mut kernel_symbols = Vec::new();
    for p in placed {
        let Placed {
            mut stmt,
            slot,
            line_no,
            text,
        } = p;
        let cur = Cursor::new(text, line_no);
        let resolve = |t: &Target| -> Result<i128, AsmError> {
            match t {
                Target::Rel(n) => Ok(*n),
                Target::Label(name, at) => labels
                    .get(name.as_str())
                    .map(|&dest| dest as i128 - slot as i128 - 1)
                    .ok_or_else(|| cur.error_at(*at, format!("undefined label `{name}`"))),
            }
        };
        let target_at = |t: &Target| match t {
            Target::Label(_, at) => *at,
            Target::Rel(_) => 0,
        };
        if let Some(first) = stmt.slots.first_mut() {
            match &stmt.fixup {
                Fixup::None => {}
                Fixup::Off(t) => {
                    let rel = resolve(t)?;
                    first.off = i16::try_from(rel).map_err(|_| {
                        cur.error_at(
                            target_at(t),
                            format!(
                                "jump distance {rel} does not fit the 16-bit offset (use gotol)"
                            ),
                        )
                    })?;
                }
                Fixup::Imm(t) => {
                    let rel = resolve(t)?;
                    first.imm = i32::try_from(rel).map_err(|_| {
                        cur.error_at(
                            target_at(t),
                            format!("distance {rel} does not fit the 32-bit immediate"),
                        )
                    })?;
                }
                Fixup::Kernel(name, at, kind) => {
                    let (line, column) = cur.position(*at);
                    kernel_symbols.push(KernelSymbol {
                        slot,
                        name: name.clone(),
                        kind: *kind,
                        line,
                        column,
                    });
                }
                Fixup::CallName(name, at) => {
                    if let Some(&dest) = labels.get(name.as_str()) {
                        first.src = op::PSEUDO_CALL;
                        let rel = dest as i128 - slot as i128 - 1;
                        first.imm = i32::try_from(rel).map_err(|_| {
                            cur.error_at(*at, format!("call distance {rel} does not fit 32 bits"))
                        })?;
                    } else if let Some(id) = bpfcheck_uapi::helper_id(name) {
                        first.imm = id;
                    } else {
                        return Err(cur.error_at(
                            *at,
                            format!("`{name}` is neither a label nor a helper name"),
                        ));
                    }
                }
            }
        }
        out.extend(stmt.slots);
    }
    Ok(Assembled {
        insns: out,
        kernel_symbols,
    })
}

/// Skips the printer's `N:` instruction index.
fn skip_index(cur: &mut Cursor<'_>) {
    let mark = cur.mark();
    let is_index = cur.number().is_some_and(|n| n >= 0) && cur.eat(":");
    if !is_index {
        cur.reset(mark);
    }
}

/// Records every `name:` at the start of the line as a label for `slot`.
fn define_labels<'a>(
    cur: &mut Cursor<'a>,
    labels: &mut HashMap<&'a str, usize>,
    slot: usize,
) -> Result<(), AsmError> {
    loop {
        let at = cur.here();
        let Some(name) = cur.ident() else {
            return Ok(());
        };
        if !cur.eat(":") {
            cur.reset(at);
            return Ok(());
        }
        if name == "pc" || parse_reg(name).is_some() {
            return Err(cur.error_at(
                at,
                format!("`{name}` cannot be a label: it is a register or `pc`"),
            ));
        }
        if labels.insert(name, slot).is_some() {
            return Err(cur.error_at(at, format!("label `{name}` is defined twice")));
        }
    }
}
