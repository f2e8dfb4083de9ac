//! A cursor over one source line: whitespace-insensitive token matching with
//! error positions.
//!
//! The kernel's printer separates tokens inconsistently (`(r1 +0)`,
//! `skb[r6 + 4]`, `r1 = -r1`), so the cursor skips blanks before every token
//! and never requires them; the one place where a blank is significant (a
//! `#` comment versus `name#id`) is handled before the cursor sees the line.

use crate::AsmError;

/// Which name a register was written with: `rN` (64-bit view) or `wN`
/// (32-bit subregister view).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Width {
    /// `rN`.
    R64,
    /// `wN`.
    W32,
}

/// A register operand as written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Reg {
    /// Register number, 0..=15 (the encoding has 4 bits; only 0..=10 exist,
    /// but malformed programs must be expressible).
    pub(crate) no: u8,
    /// How it was named.
    pub(crate) width: Width,
}

/// Position and remaining text of a line being parsed.
#[derive(Clone, Debug)]
pub(crate) struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'.'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.'
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `text`, which is line `line` (1-based).
    pub(crate) fn new(text: &'a str, line: usize) -> Self {
        Self { text, pos: 0, line }
    }

    /// Current byte offset, to come back to with [`Self::reset`].
    pub(crate) fn mark(&self) -> usize {
        self.pos
    }

    /// Goes back to a [`Self::mark`].
    pub(crate) fn reset(&mut self, mark: usize) {
        self.pos = mark;
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Skips blanks.
    pub(crate) fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// 1-based character column of byte offset `pos`.
    fn column_of(&self, pos: usize) -> usize {
        let pos = pos.min(self.text.len());
        // `pos` is always on a char boundary: the cursor only steps over ASCII.
        self.text.get(..pos).map_or(pos, |p| p.chars().count()) + 1
    }

    /// 1-based line and character column of byte offset `pos`.
    pub(crate) fn position(&self, pos: usize) -> (usize, usize) {
        (self.line, self.column_of(pos))
    }

    /// An error at byte offset `pos` of this line.
    pub(crate) fn error_at(&self, pos: usize, message: impl Into<String>) -> AsmError {
        AsmError::new(self.line, self.column_of(pos), message)
    }

    /// An error at the next token: "expected WHAT, found …".
    pub(crate) fn expected(&mut self, what: &str) -> AsmError {
        self.skip_ws();
        let found = self.describe_next();
        self.error_at(self.pos, format!("expected {what}, found {found}"))
    }

    /// How the next token looks, for error messages.
    fn describe_next(&self) -> String {
        let rest = self.rest();
        if rest.is_empty() {
            return "end of line".to_owned();
        }
        let bytes = rest.as_bytes();
        let len = if is_ident_char(bytes[0]) {
            bytes.iter().take_while(|&&c| is_ident_char(c)).count()
        } else {
            rest.chars().next().map_or(1, char::len_utf8)
        };
        format!("`{}`", rest.get(..len).unwrap_or(rest))
    }

    /// Whether only blanks remain.
    pub(crate) fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.pos >= self.text.len()
    }

    /// Fails unless only blanks remain.
    pub(crate) fn finish(&mut self) -> Result<(), AsmError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.expected("end of instruction"))
        }
    }

    /// Consumes `token` if it comes next (after blanks). A token ending in an
    /// identifier character must not be followed by another one, so `exit`
    /// does not match `exitx`.
    pub(crate) fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        let Some(after) = self.rest().strip_prefix(token) else {
            return false;
        };
        let word_like = token.as_bytes().last().copied().is_some_and(is_ident_char);
        if word_like && after.as_bytes().first().copied().is_some_and(is_ident_char) {
            return false;
        }
        self.pos += token.len();
        true
    }

    /// Consumes `token` or fails saying it was expected.
    pub(crate) fn expect(&mut self, token: &str) -> Result<(), AsmError> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{token}`")))
        }
    }

    /// Consumes the first of `tokens` that comes next; list longer tokens
    /// before their prefixes.
    pub(crate) fn eat_one_of<T: Copy>(&mut self, tokens: &[(&str, T)]) -> Option<T> {
        tokens
            .iter()
            .find(|(t, _)| self.eat(t))
            .map(|&(_, value)| value)
    }

    /// Consumes an identifier (`[A-Za-z_.][A-Za-z0-9_.]*`).
    pub(crate) fn ident(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let rest = self.rest();
        let bytes = rest.as_bytes();
        if !bytes.first().copied().is_some_and(is_ident_start) {
            return None;
        }
        let len = bytes.iter().take_while(|&&c| is_ident_char(c)).count();
        self.pos += len;
        rest.get(..len)
    }

    /// Consumes a register name `rN` / `wN` with N in 0..=15.
    pub(crate) fn reg(&mut self) -> Option<Reg> {
        self.skip_ws();
        let start = self.pos;
        let word = self.ident()?;
        let parsed = parse_reg(word);
        if parsed.is_none() {
            self.pos = start;
        }
        parsed
    }

    /// Consumes a register or fails.
    pub(crate) fn expect_reg(&mut self) -> Result<Reg, AsmError> {
        self.reg()
            .ok_or_else(|| self.expected("a register (r0..r10)"))
    }

    /// Consumes a 64-bit-view register `rN` or fails.
    pub(crate) fn expect_reg64(&mut self) -> Result<u8, AsmError> {
        self.skip_ws();
        let at = self.pos;
        let reg = self.expect_reg()?;
        if reg.width != Width::R64 {
            return Err(self.error_at(at, format!("expected r{}, found w{}", reg.no, reg.no)));
        }
        Ok(reg.no)
    }

    /// Consumes an integer: optional sign, then decimal or `0x` hex digits.
    /// The value is exact (no wrapping); callers check the field's range.
    pub(crate) fn number(&mut self) -> Option<i128> {
        self.skip_ws();
        let start = self.pos;
        let negative = if self.eat_raw(b'-') {
            true
        } else {
            self.eat_raw(b'+');
            false
        };
        self.skip_ws();
        let rest = self.rest();
        let (radix, digits_at) = if rest.starts_with("0x") || rest.starts_with("0X") {
            (16, 2)
        } else {
            (10, 0)
        };
        let digits: &str = rest.get(digits_at..).unwrap_or("");
        let len = digits
            .as_bytes()
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        let value = digits
            .get(..len)
            .filter(|d| !d.is_empty() && d.len() <= 34)
            .and_then(|d| i128::from_str_radix(d, radix).ok());
        match value {
            Some(v) => {
                self.pos += digits_at + len;
                Some(if negative { -v } else { v })
            }
            None => {
                self.pos = start;
                None
            }
        }
    }

    /// Consumes an integer or fails naming `what`.
    pub(crate) fn expect_number(&mut self, what: &str) -> Result<i128, AsmError> {
        self.number().ok_or_else(|| self.expected(what))
    }

    /// Consumes an integer that must lie in `lo..=hi`.
    pub(crate) fn number_in(&mut self, what: &str, lo: i128, hi: i128) -> Result<i128, AsmError> {
        self.skip_ws();
        let at = self.pos;
        let v = self.expect_number(what)?;
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(self.error_at(at, format!("{what} {v} is out of range {lo}..={hi}")))
        }
    }

    /// A 32-bit immediate written either signed (`-5`) or as its unsigned bit
    /// pattern (`0xfffffffb`, as the printer shows jump immediates).
    pub(crate) fn imm32(&mut self, what: &str) -> Result<i32, AsmError> {
        let v = self.number_in(what, i128::from(i32::MIN), i128::from(u32::MAX))?;
        Ok(wrap_i32(v))
    }

    /// A signed 16-bit offset.
    pub(crate) fn off16(&mut self, what: &str) -> Result<i16, AsmError> {
        let v = self.number_in(what, i128::from(i16::MIN), i128::from(i16::MAX))?;
        Ok(i16::try_from(v).unwrap_or_default())
    }

    /// Consumes one byte without skipping blanks.
    fn eat_raw(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Whether the next token is a number written in hex (`0x…`, `-0x…`).
    pub(crate) fn next_is_hex(&mut self) -> bool {
        self.skip_ws();
        let rest = self.rest().trim_start_matches(['-', '+']).trim_start();
        rest.starts_with("0x") || rest.starts_with("0X")
    }

    /// Consumes the printer's opcode prefix `(xx)` (two hex digits) and
    /// returns the byte, or leaves the cursor alone.
    pub(crate) fn opcode_prefix(&mut self) -> Option<u8> {
        self.skip_ws();
        let b = self.rest().as_bytes();
        if b.len() < 4 || b[0] != b'(' || b[3] != b')' {
            return None;
        }
        if !(b[1].is_ascii_hexdigit() && b[2].is_ascii_hexdigit()) {
            return None;
        }
        let code = u8::from_str_radix(self.rest().get(1..3)?, 16).ok()?;
        self.pos += 4;
        Some(code)
    }

    /// Byte offset of the next token, after blanks.
    pub(crate) fn here(&mut self) -> usize {
        self.skip_ws();
        self.pos
    }
}

/// Parses `r0`..`r15` / `w0`..`w15`.
pub(crate) fn parse_reg(word: &str) -> Option<Reg> {
    let (width, digits) = if let Some(d) = word.strip_prefix('r') {
        (Width::R64, d)
    } else {
        (Width::W32, word.strip_prefix('w')?)
    };
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    // No leading zeros: `r01` is not a register name the printer produces.
    if digits.len() == 2 && digits.starts_with('0') {
        return None;
    }
    let no: u8 = digits.parse().ok()?;
    (no <= 15).then_some(Reg { no, width })
}

/// The low 32 bits of a value already checked to lie in
/// `i32::MIN..=u32::MAX`, as a signed immediate.
pub(crate) fn wrap_i32(v: i128) -> i32 {
    // Truncation is the point: `0xfffffffb` is the bit pattern of -5.
    (v as u32) as i32
}
