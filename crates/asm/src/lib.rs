//! An assembler for the instruction text of the kernel's BPF verifier log.
//!
//! [`assemble`] inverts `print_bpf_insn` (kernel/bpf/disasm.c, as of 6.18):
//! every line the kernel prints for a valid instruction assembles back to
//! that instruction. A few extensions name what the kernel prints as kernel
//! addresses, and labels make hand-written programs readable. [`Fixture`]
//! reads bpfcheck's fixture files: the same text with `;!` load directives.
//!
//! # Syntax
//!
//! One instruction per line, optionally preceded by the log's `N:` index and
//! `(xx)` opcode; when the opcode is given it must equal the first byte of
//! the encoding produced, which catches text that reads two ways. Comments
//! run from `;`, or from a `#` that starts a word, to the end of the line.
//! Labels are `name:` (alone or before an instruction); a jump or call
//! target is `pc+N`, `pc-N`, `+N`, `-N` or a label.
//!
//! | form | encodes |
//! |------|---------|
//! | `r1 += r2`, `w1 -= 5`, `r1 s/= r2`, `w1 s%= 3`, `r1 s>>= 1`, … | ALU64 / ALU, K or X; `s/=` `s%=` set `off = 1` |
//! | `r1 = r2`, `w1 = 5`, `r1 = (s8)r2`, `w1 = (s16)w2` | MOV, MOVSX (`off` 8/16/32) |
//! | `r1 = -r1`, `w1 = -w1` | NEG |
//! | `r1 = be16 r1`, `r1 = le64 r1`, `r1 = bswap32 r1` | ALU END (to BE / to LE), ALU64 END |
//! | `r1 = *(u32 *)(r2 +4)`, `r1 = *(s8 *)(r2 -1)` | LDX MEM, LDX MEMSX |
//! | `*(u16 *)(r10 -8) = r1`, `*(u64 *)(r10 -8) = 7` | STX MEM, ST MEM |
//! | `lock *(u64 *)(r1 +0) += r2` (`+= &= \|= ^=`) | atomic op |
//! | `r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)`, `…_and/_or/_xor` | atomic fetch op |
//! | `r2 = atomic_xchg((u32 *)(r1 +0), r2)`, `r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)` | xchg, cmpxchg |
//! | `r1 = load_acquire((u8 *)(r2 +0))`, `store_release((u16 *)(r1 +0), r2)` | load-acquire, store-release |
//! | `r0 = *(u8 *)skb[12]`, `r0 = *(u32 *)skb[r6 + 4]` | LD ABS, LD IND |
//! | `r1 = 0x123456789`, `r1 = 5 ll` | `ld_imm64` (hex without `ll` is `ld_imm64`, as the kernel prints it; decimal is `mov`) |
//! | `r1 = map_fd(N)`, `map_value(N, OFF)`, `btf_id(ID)`, `func(pc+N)`, `map_idx(N)`, `map_idx_value(N, OFF)` | `ld_imm64` with pseudo source 1, 2, 3, 4, 5, 6 |
//! | `if r1 > 0x5 goto pc+2`, `if w1 s< w2 goto out` | JMP / JMP32, K or X |
//! | `goto pc+1`, `gotol pc+1000`, `may_goto pc+2`, `exit` | JA, JMP32 JA, JCOND, EXIT |
//! | `call bpf_map_lookup_elem#1`, `call 1`, `call bpf_ktime_get_ns` | helper call |
//! | `call pc+3`, `call sub` | bpf-to-bpf call (a label wins over a helper name) |
//! | `call kfunc(ID)`, `call kfunc(ID, OFF)`, `call some_kfunc#ID` | kfunc call |
//! | `call kfunc(NAME)`, `r1 = btf_id(NAME)` | kfunc call, `ld_imm64` src 3, by kernel symbol name (see below) |
//! | `r1 = addr_space_cast(r2, 0, 1)`, `r1 = &(void __percpu *)(r2)`, `nospec`, `gotox r1` | arena cast; kernel-internal forms; indirect jump |
//! | `.insn CODE DST SRC OFF IMM` | one raw slot with any field values |
//!
//! Registers are `r0`..`r15` and `w0`..`w15`: numbers above 10 encode (so
//! malformed programs can be written) but do not exist. Besides the kernel's
//! spelling, LLVM's is accepted where it is unambiguous: blanks inside
//! `(r10 - 8)`, `wN` operands of narrow loads, stores and atomics, and
//! `atomic_` without `64` on a `u64` access.
//!
//! # Kernel symbols by name
//!
//! BTF ids are those of one kernel build: the same release built twice
//! numbers its types differently. So a program can name the kernel symbol
//! instead: `call kfunc(bpf_rcu_read_lock)` calls the vmlinux `FUNC` of that
//! name ([`SymKind::Func`]), `r1 = btf_id(bpf_prog_active)` loads the
//! vmlinux `VAR` (or, failing that, `FUNC`) of that name
//! ([`SymKind::VarOrFunc`]). Such a program has no final bytes until a
//! kernel's BTF is known: [`assemble`] refuses it with an error at the
//! first name; [`assemble_with_symbols`] returns the instructions (`imm` 0
//! in those slots) and the [`KernelSymbol`]s, which
//! [`Assembled::resolve`] or [`Fixture::resolve_kernel_symbols`] fill in
//! through a caller's lookup (`&dyn Fn(&str, SymKind) -> Option<u32>`,
//! typically a search of `/sys/kernel/btf/vmlinux` by name and kind). A
//! name the lookup does not find is an error naming the symbol and its
//! line. Module kfuncs (`kfunc(ID, OFF)` with an `fd_array` index) have no
//! named form.
//!
//! ```
//! use bpfcheck_asm::{SymKind, assemble, assemble_with_symbols};
//!
//! let text = "call kfunc(bpf_rcu_read_lock)\nr0 = 0\nexit";
//! assert!(assemble(text).is_err());
//! let out = assemble_with_symbols(text).unwrap();
//! assert_eq!(out.kernel_symbols[0].name, "bpf_rcu_read_lock");
//! let insns = out
//!     .resolve(&|name, kind| (name == "bpf_rcu_read_lock" && kind == SymKind::Func).then_some(42))
//!     .unwrap();
//! assert_eq!(insns[0].imm, 42);
//! ```
//!
//! # Not implemented
//!
//! - The printer's `BUG_…` and `(xx) ld`-style fallbacks for undefined
//!   encodings are not parsed; use `.insn`.
//! - Text that the printer produces for several encodings (a K-form `mov`
//!   with non-zero `off`, `call` of an unnamed kfunc, a map's kernel address)
//!   assembles to the canonical encoding only.

#![deny(missing_docs)]

mod cursor;
mod error;
mod fixture;
mod func_btf;
mod program;
mod rhs;
mod stmt;
mod symbols;

#[cfg(test)]
mod tests;

pub use error::AsmError;
pub use fixture::{Expectation, Fixture, SpecialStruct};
pub use program::{assemble, assemble_with_symbols};
pub use symbols::{Assembled, KernelSymbol, SymKind, SymbolLookup};
