//! The kernel's instruction text (kernel/bpf/disasm.c `print_bpf_insn`,
//! with the verifier's callbacks), byte for byte.
//!
//! The kernel prints an instruction before validating it, so the printer
//! works on raw slots and renders every encoding the way the C code does,
//! junk included: names missing from the kernel's string tables print as
//! `(null)` (what `vsnprintf` does with a NULL `%s`), unknown forms as
//! `BUG_…`. The one read the C code makes past a table's end (the
//! sign-extending string of a `DW` `BPF_MEMSX`, opcode `0x99`, which the
//! kernel rejects before printing) is rendered as `(null)` too.

use std::fmt::Write as _;

use bpfcheck_uapi::{RawInsn, helper_name, op};

use crate::table::{AluOp, AtomicOp, JmpOp, PseudoSrc, Size};

/// Kernel releases whose log text differs, named by their oldest LTS.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
pub enum LogEra {
    /// ≤ 5.17 (checked against 5.10.251's disasm.c): `BPF_XADD` is printed
    /// as `lock … += rN` whatever its `imm`; no cpu v4 text; `call` prints
    /// a helper name for any source but `BPF_PSEUDO_CALL`, and otherwise
    /// `unknown` (no kfunc names, no `kernel-function`). `nospec` is
    /// printed, as in the 5.10.y stable series since its Spectre v4
    /// backport.
    V5_10,
    /// 5.18–6.7: atomics printed by operation; no cpu v4 text.
    V6_1,
    /// 6.8–6.17: `sdiv`/`smod`, `movsx`, `bswap`, sign-extending loads,
    /// `gotol`, `may_goto`, `addr_space_cast`.
    V6_12,
    /// 6.18: adds `load_acquire`/`store_release`.
    V6_18,
    /// 6.19–7.x: adds `gotox`.
    V7_2,
}

/// What the printer cannot know from the instruction alone.
pub trait Symbolizer {
    /// Name of helper `id` (the kernel's `func_id_str`), if it has one.
    fn helper_name(&self, id: i32) -> Option<String> {
        helper_name(id).map(str::to_owned)
    }

    /// Name of the kfunc with BTF id `btf_id` in the BTF selected by
    /// `fd_idx` (the verifier's `disasm_kfunc_name`). `None` prints
    /// `kernel-function`, as the kernel does without a resolver.
    fn kfunc_name(&self, btf_id: i32, fd_idx: i16) -> Option<String> {
        let _ = (btf_id, fd_idx);
        None
    }

    /// Text for the 64-bit immediate of an `ld_imm64` with pseudo source
    /// `src`. The kernel prints the value after `resolve_pseudo_ldimm64`
    /// rewrote fds into kernel addresses; `value` is the immediate as
    /// encoded. `None` prints `value` as `0x%llx`. The default prints
    /// [`KERNEL_ADDR_TOKEN`] for sources the kernel turns into addresses,
    /// which [`normalize_kernel_addresses`] also produces from real logs.
    fn ld_imm64_text(&self, src: u8, value: u64) -> Option<String> {
        let _ = value;
        PseudoSrc::from_bits(src)
            .filter(|s| s.is_kernel_pointer())
            .map(|_| KERNEL_ADDR_TOKEN.to_owned())
    }

    /// The verifier's `allow_ptr_leaks` (privileged loader): without it,
    /// pointer immediates print as `0x0`.
    fn allow_ptr_leaks(&self) -> bool {
        true
    }
}

/// The symbolizer with all defaults: uapi helper names, no BTF.
#[derive(Clone, Copy, Default, Debug)]
pub struct DefaultSymbolizer;

impl Symbolizer for DefaultSymbolizer {}

/// What kernel addresses are replaced with, on both sides of a comparison.
pub const KERNEL_ADDR_TOKEN: &str = "<kaddr>";

/// Replaces every kernel address (`0xff` and fourteen more lowercase hex
/// digits, as `%llx` prints one) in `line` by [`KERNEL_ADDR_TOKEN`].
pub fn normalize_kernel_addresses(line: &str) -> String {
    // A kernel address is sixteen hex digits from `0xff`: `0xffff…` with
    // four-level paging, `0xff1…`–`0xff4…` in a guest with five levels.
    const PREFIX: &str = "0xff";
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find(PREFIX) {
        let digits = rest[pos + 2..]
            .bytes()
            .take_while(u8::is_ascii_hexdigit)
            .count();
        out.push_str(&rest[..pos]);
        let end = pos + 2 + digits;
        if digits == 16 && rest[pos + 2..end].bytes().all(|b| !b.is_ascii_uppercase()) {
            out.push_str(KERNEL_ADDR_TOKEN);
        } else {
            out.push_str(&rest[pos..end]);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// What a NULL `%s` prints as.
const NULL: &str = "(null)";

/// `bpf_alu_string`, which also names `neg` and `endian`.
fn alu_text(opb: u8) -> &'static str {
    match opb {
        op::NEG => "neg",
        op::END => "endian",
        _ => AluOp::from_bits(opb).map_or(NULL, AluOp::text),
    }
}

/// `bpf_jmp_string`, which also names `jmp`, `call` and `exit`.
fn jmp_text(opb: u8) -> &'static str {
    match opb {
        op::JA => "jmp",
        op::CALL => "call",
        op::EXIT => "exit",
        _ => JmpOp::from_bits(opb).map_or(NULL, JmpOp::text),
    }
}

fn size_text(code: u8) -> &'static str {
    Size::from_bits(op::size(code)).map_or(NULL, Size::text)
}

fn signed_size_text(code: u8) -> &'static str {
    Size::from_bits(op::size(code))
        .and_then(Size::signed_text)
        .unwrap_or(NULL)
}

/// The text after `N: ` in the verifier log for the instruction at `idx`,
/// without the newline. An `ld_imm64` reads its second slot (absent: high
/// half 0; the kernel never prints one without). Past the end: empty.
pub fn disasm(insns: &[RawInsn], idx: usize, era: LogEra, sym: &dyn Symbolizer) -> String {
    let Some(&insn) = insns.get(idx) else {
        return String::new();
    };
    let next_imm = insns.get(idx + 1).map_or(0, |n| n.imm);
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = print(&mut s, insn, next_imm, era, sym);
    s
}

/// [`disasm`] prefixed with `"{idx}: "`, as the verifier log line reads.
pub fn line(insns: &[RawInsn], idx: usize, era: LogEra, sym: &dyn Symbolizer) -> String {
    format!("{idx}: {}", disasm(insns, idx, era, sym))
}

/// Every instruction line of a program in order, as `bpftool`-style
/// listings and the verifier's level-2 log show them: the second slot of an
/// `ld_imm64` has no line of its own.
pub fn disasm_program(insns: &[RawInsn], era: LogEra, sym: &dyn Symbolizer) -> Vec<String> {
    let mut lines = Vec::with_capacity(insns.len());
    let mut idx = 0;
    while idx < insns.len() {
        lines.push(line(insns, idx, era, sym));
        idx += if insns[idx].code == op::LD | op::IMM | op::DW {
            2
        } else {
            1
        };
    }
    lines
}

fn print(
    s: &mut String,
    i: RawInsn,
    next_imm: i32,
    era: LogEra,
    sym: &dyn Symbolizer,
) -> std::fmt::Result {
    let code = i.code;
    match i.class() {
        op::ALU | op::ALU64 => print_alu(s, i, era),
        op::STX => print_stx(s, i, era),
        op::ST => match op::mode(code) {
            op::MEM => write!(
                s,
                "({code:02x}) *({} *)(r{} {:+}) = {}",
                size_text(code),
                i.dst,
                i.off,
                i.imm
            ),
            // BPF_NOSPEC: kernel-internal, printed since 5.13 and by the
            // 5.10.y stable series.
            op::ATOMIC => write!(s, "({code:02x}) nospec"),
            _ => write!(s, "BUG_st_{code:02x}"),
        },
        op::LDX => {
            let mode = op::mode(code);
            let ty = if mode == op::MEM {
                size_text(code)
            } else if mode == op::MEMSX && era >= LogEra::V6_12 {
                signed_size_text(code)
            } else {
                return write!(s, "BUG_ldx_{code:02x}");
            };
            write!(
                s,
                "({code:02x}) r{} = *({ty} *)(r{} {:+})",
                i.dst, i.src, i.off
            )
        }
        op::LD => match op::mode(code) {
            op::ABS => write!(
                s,
                "({code:02x}) r0 = *({} *)skb[{}]",
                size_text(code),
                i.imm
            ),
            op::IND => write!(
                s,
                "({code:02x}) r0 = *({} *)skb[r{} + {}]",
                size_text(code),
                i.src,
                i.imm
            ),
            op::IMM if op::size(code) == op::DW => {
                let value = (u64::from(next_imm as u32) << 32) | u64::from(i.imm as u32);
                // Only the map fd sources are hidden from unprivileged
                // logs; every other rewritten immediate prints as it is.
                let is_ptr = i.src == op::PSEUDO_MAP_FD || i.src == op::PSEUDO_MAP_VALUE;
                let text = if is_ptr && !sym.allow_ptr_leaks() {
                    "0x0".to_owned()
                } else {
                    sym.ld_imm64_text(i.src, value)
                        .unwrap_or_else(|| format!("{value:#x}"))
                };
                write!(s, "({code:02x}) r{} = {text}", i.dst)
            }
            _ => write!(s, "BUG_ld_{code:02x}"),
        },
        _ => print_jmp(s, i, era, sym),
    }
}

fn print_alu(s: &mut String, i: RawInsn, era: LogEra) -> std::fmt::Result {
    let code = i.code;
    let alu64 = i.class() == op::ALU64;
    let r = if alu64 { 'r' } else { 'w' };
    let opb = op::alu_op(code);
    let v4 = era >= LogEra::V6_12;
    if opb == op::END {
        if !alu64 {
            let order = if op::src(code) == op::TO_BE {
                "be"
            } else {
                "le"
            };
            return write!(s, "({code:02x}) r{} = {order}{} r{}", i.dst, i.imm, i.dst);
        }
        if v4 {
            return write!(s, "({code:02x}) r{} = bswap{} r{}", i.dst, i.imm, i.dst);
        }
        return write!(s, "BUG_alu64_{code:02x}");
    }
    if opb == op::NEG {
        return write!(s, "({code:02x}) {r}{} = -{r}{}", i.dst, i.dst);
    }
    let mov64x = code == op::ALU64 | op::MOV | op::X;
    if v4 && mov64x && i.off == 1 {
        let imm = i.imm as u32;
        return write!(
            s,
            "({code:02x}) r{} = addr_space_cast(r{}, {}, {})",
            i.dst,
            i.src,
            imm >> 16,
            imm as u16
        );
    }
    if v4 && mov64x && i.off == -1 {
        return write!(
            s,
            "({code:02x}) r{} = &(void __percpu *)(r{})",
            i.dst, i.src
        );
    }
    let signed_div = v4 && i.off == 1 && (opb == op::DIV || opb == op::MOD);
    let op_text = if signed_div {
        AluOp::from_code(opb, 1).map_or(NULL, AluOp::text)
    } else {
        alu_text(opb)
    };
    if op::src(code) == op::X {
        let sx = match (v4 && opb == op::MOV, i.off) {
            (true, 8) => "(s8)",
            (true, 16) => "(s16)",
            (true, 32) => "(s32)",
            _ => "",
        };
        write!(s, "({code:02x}) {r}{} {op_text} {sx}{r}{}", i.dst, i.src)
    } else {
        write!(s, "({code:02x}) {r}{} {op_text} {}", i.dst, i.imm)
    }
}

fn print_stx(s: &mut String, i: RawInsn, era: LogEra) -> std::fmt::Result {
    let code = i.code;
    let size = size_text(code);
    let mode = op::mode(code);
    if mode == op::MEM {
        return write!(
            s,
            "({code:02x}) *({size} *)(r{} {:+}) = r{}",
            i.dst, i.off, i.src
        );
    }
    if mode != op::ATOMIC {
        return write!(s, "BUG_{code:02x}");
    }
    if era == LogEra::V5_10 {
        // BPF_XADD: the imm was reserved and not printed.
        return write!(
            s,
            "({code:02x}) lock *({size} *)(r{} {:+}) += r{}",
            i.dst, i.off, i.src
        );
    }
    let dw = if op::size(code) == op::DW { "64" } else { "" };
    let Some(a) = AtomicOp::from_bits(i.imm) else {
        return write!(s, "BUG_{code:02x}");
    };
    match a {
        AtomicOp::Add | AtomicOp::Or | AtomicOp::And | AtomicOp::Xor => write!(
            s,
            "({code:02x}) lock *({size} *)(r{} {:+}) {} r{}",
            i.dst,
            i.off,
            alu_text(a.bits() as u8),
            i.src
        ),
        AtomicOp::FetchAdd | AtomicOp::FetchOr | AtomicOp::FetchAnd | AtomicOp::FetchXor => {
            write!(
                s,
                "({code:02x}) r{} = atomic{dw}_fetch_{}(({size} *)(r{} {:+}), r{})",
                i.src,
                a.text(),
                i.dst,
                i.off,
                i.src
            )
        }
        AtomicOp::Cmpxchg => write!(
            s,
            "({code:02x}) r0 = atomic{dw}_cmpxchg(({size} *)(r{} {:+}), r0, r{})",
            i.dst, i.off, i.src
        ),
        AtomicOp::Xchg => write!(
            s,
            "({code:02x}) r{} = atomic{dw}_xchg(({size} *)(r{} {:+}), r{})",
            i.src, i.dst, i.off, i.src
        ),
        AtomicOp::LoadAcquire if era >= LogEra::V6_18 => write!(
            s,
            "({code:02x}) r{} = load_acquire(({size} *)(r{} {:+}))",
            i.dst, i.src, i.off
        ),
        AtomicOp::StoreRelease if era >= LogEra::V6_18 => write!(
            s,
            "({code:02x}) store_release(({size} *)(r{} {:+}), r{})",
            i.dst, i.off, i.src
        ),
        AtomicOp::LoadAcquire | AtomicOp::StoreRelease => write!(s, "BUG_{code:02x}"),
    }
}

fn print_jmp(s: &mut String, i: RawInsn, era: LogEra, sym: &dyn Symbolizer) -> std::fmt::Result {
    let code = i.code;
    let opb = op::alu_op(code);
    let v4 = era >= LogEra::V6_12;
    if opb == op::CALL {
        if era == LogEra::V5_10 && i.src != op::PSEUDO_CALL {
            // Before kfuncs the helper table was consulted whatever the
            // source register, and nothing else named a call.
            let name = sym
                .helper_name(i.imm)
                .unwrap_or_else(|| "unknown".to_owned());
            return write!(s, "({code:02x}) call {name}#{}", i.imm);
        }
        let helper = if i.src == 0 {
            sym.helper_name(i.imm)
        } else {
            None
        };
        return if i.src == op::PSEUDO_CALL {
            write!(s, "({code:02x}) call pc{:+}", i.imm)
        } else {
            let name = helper.unwrap_or_else(|| {
                if i.src == op::PSEUDO_KFUNC_CALL {
                    sym.kfunc_name(i.imm, i.off)
                        .unwrap_or_else(|| "kernel-function".to_owned())
                } else {
                    "unknown".to_owned()
                }
            });
            write!(s, "({code:02x}) call {name}#{}", i.imm)
        };
    }
    if code == op::JMP | op::JA {
        return write!(s, "({code:02x}) goto pc{:+}", i.off);
    }
    if era >= LogEra::V7_2 && code == op::JMP | op::JA | op::X {
        return write!(s, "({code:02x}) gotox r{}", i.dst);
    }
    if v4 && code == op::JMP | op::JCOND && i.src == op::MAY_GOTO {
        return write!(s, "({code:02x}) may_goto pc{:+}", i.off);
    }
    if v4 && code == op::JMP32 | op::JA {
        return write!(s, "({code:02x}) gotol pc{:+}", i.imm);
    }
    if code == op::JMP | op::EXIT {
        return write!(s, "({code:02x}) exit");
    }
    let r = if i.class() == op::JMP32 { 'w' } else { 'r' };
    let cmp = jmp_text(opb);
    if op::src(code) == op::X {
        write!(
            s,
            "({code:02x}) if {r}{} {cmp} {r}{} goto pc{:+}",
            i.dst, i.src, i.off
        )
    } else {
        write!(
            s,
            "({code:02x}) if {r}{} {cmp} {:#x} goto pc{:+}",
            i.dst, i.imm as u32, i.off
        )
    }
}
