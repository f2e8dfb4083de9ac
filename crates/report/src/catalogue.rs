//! The catalogue of common rejection classes: how to recognise each one
//! from the kernel's error line (or bpfcheck's [error code]), and what
//! usually fixes it.
//!
//! Classes are tried in order and the first match wins, so the narrower
//! patterns come first (a NULL check before other memory errors).
//!
//! [error code]: crate::Record::error_code

use std::sync::LazyLock;

use regex::Regex;

/// One class of rejection.
#[derive(Debug)]
pub struct RejectionClass {
    /// Stable identifier, used as the SARIF rule id (`missing_null_check`).
    pub id: &'static str,
    /// A short name for the class.
    pub title: &'static str,
    /// What usually fixes it, one paragraph.
    pub help: &'static str,
    /// bpfcheck error codes that belong to this class whatever the message.
    codes: &'static [&'static str],
    /// Patterns over the kernel's error line.
    patterns: &'static [&'static str],
}

impl RejectionClass {
    fn matches(&self, message: &str, code: Option<&str>, compiled: &[Regex]) -> bool {
        code.is_some_and(|c| self.codes.contains(&c))
            || compiled.iter().any(|r| r.is_match(message))
    }
}

/// Every class, in matching order.
pub static CATALOGUE: &[RejectionClass] = &[
    RejectionClass {
        id: "missing_null_check",
        title: "pointer that may be NULL is dereferenced",
        help: "the pointer comes from something that returns NULL when it finds nothing \
(bpf_map_lookup_elem, bpf_sk_lookup_*, bpf_ringbuf_reserve …); test it and leave the \
path when it is NULL (`if (!p) return 0;`) before the access, and dereference the tested \
variable itself: a copy taken before the test stays `_or_null`",
        codes: &[],
        patterns: &[
            r"invalid mem access '[a-z_]+_or_null'",
            r"R\d+ type=[a-z_]+_or_null expected=",
        ],
    },
    RejectionClass {
        id: "helper_arg_type",
        title: "helper argument of the wrong kind",
        help: "the register passed to the helper holds a different kind of value than its \
prototype asks for (for example a scalar where a pointer to the stack or to a map is \
expected, or a pointer into the packet where memory must be on the stack); pass the \
object the helper documents — take the address of a stack variable, pass the map itself \
(`&my_map`), or copy packet data to the stack first",
        codes: &[],
        patterns: &[
            r"R\d+ type=\S+ expected=",
            r"^expected=",
            r"helper access to the packet is not allowed",
        ],
    },
    RejectionClass {
        id: "packet_range",
        title: "packet access not proven within data_end",
        help: "every packet access must be preceded, on the same path, by a comparison of \
the accessed end against `data_end` (`if (data + off + sizeof(*hdr) > data_end) return \
XDP_DROP;`); compare the very pointer you then dereference, and repeat the check after \
helpers that may change the packet (bpf_xdp_adjust_head, bpf_skb_pull_data …), which \
invalidate earlier checks",
        codes: &[],
        patterns: &[
            r"invalid access to packet",
            r"offset is outside of the packet",
            r"cannot write into packet",
        ],
    },
    RejectionClass {
        id: "reordered_bound_check",
        title: "bound check not seen on the register that is used",
        help: "the source checks the index, but the verifier did not see that check on the \
register used for the access: the check is on a signed value (so it proves no lower \
bound), or the compiler compared a copy, a 32-bit half, or moved the pointer arithmetic \
before the check. Make the index unsigned, check both bounds, and keep the compiler from \
reordering with `barrier_var(idx)` (libbpf's bpf_helpers.h) right after the check, or \
bound it with a mask (`idx &= N - 1`)",
        codes: &[],
        patterns: &[
            r"min value is negative, either use unsigned",
            r"unbounded memory access",
            r"math between \S+ pointer and register with unbounded min value",
        ],
    },
    RejectionClass {
        id: "unbounded_index",
        title: "offset not proven within the object",
        help: "the verifier cannot prove that the offset stays inside the object (map value, \
context, memory from a helper) on every path; check the index against the size before \
using it (`if (i >= ARRAY_SIZE(v->slots)) return 0;`) with an unsigned type, and make \
sure the check is on the same variable that indexes",
        codes: &[],
        patterns: &[
            r"(min|max) value is outside of the allowed memory range",
            r"invalid access to (map value|memory)",
            r"value is outside of the allowed memory range",
        ],
    },
    RejectionClass {
        id: "uninit_stack",
        title: "stack memory read before it is written",
        help: "the program reads stack bytes no instruction wrote on this path — often \
padding of a struct passed to a helper, or a variable written on only one branch. \
Initialise the whole object first (`struct key k = {};` or `__builtin_memset(&k, 0, \
sizeof(k))`) so that padding is written too",
        codes: &[],
        patterns: &[r"invalid (indirect )?read from stack (R\d+ )?(off|var_off) \S+\+"],
    },
    RejectionClass {
        id: "stack_bounds",
        title: "stack access out of bounds",
        help: "the access falls outside the 512 bytes of the BPF stack (or outside this \
frame); move large buffers into a per-CPU array map, avoid large local arrays and \
structs, and make sure a variable offset into a stack buffer is bounded",
        codes: &[],
        patterns: &[
            r"invalid (read from|write to) stack R\d+ off=",
            r"invalid (unbounded )?variable-offset (read from|write to|indirect read from) stack",
            r"stack size \S+ is too large|stack size of \S+ calls is \d+\. Too large|Too large",
        ],
    },
    RejectionClass {
        id: "uninit_register",
        title: "register read before it is written",
        help: "a register is used on a path where nothing set it: most often R0 at `exit` \
(a function path that returns no value), or an argument register that a helper call \
clobbered (calls clobber R1-R5). Make every path return a value; hand-written code must \
reload arguments after each call",
        codes: &["uninit_register"],
        patterns: &[r"R\d+ !read_ok"],
    },
    RejectionClass {
        id: "reference_leak",
        title: "acquired reference not released",
        help: "an object taken with an acquiring helper or kfunc (bpf_sk_lookup_tcp, \
bpf_ringbuf_reserve, bpf_task_acquire …) is still held when the program exits on some \
path; release it (bpf_sk_release, bpf_ringbuf_submit/discard, bpf_task_release …) on \
every path, including early returns",
        codes: &[],
        patterns: &[r"Unreleased reference", r"would lead to reference leak"],
    },
    RejectionClass {
        id: "lock_across_call",
        title: "lock held across a call or exit",
        help: "between bpf_spin_lock and bpf_spin_unlock only plain loads and stores are \
allowed: no helper or function calls, and no return; compute what you need before taking \
the lock, keep the critical section short and unlock on every path",
        codes: &[],
        patterns: &[
            r"calls are not allowed while holding a lock",
            r"bpf_spin_unlock is missing",
            r"cannot be used inside bpf_spin_lock-ed region",
            r"bpf_spin_unlock without taking a lock",
            r"Locking two bpf_spin_locks",
        ],
    },
    RejectionClass {
        id: "infinite_loop",
        title: "loop not provably bounded",
        help: "the verifier found a loop whose state repeats without progress, or a back edge \
it cannot bound; give the loop a constant upper bound the verifier can see (`for (i = 0; \
i < 64 && i < n; i++)`), or use bpf_loop() / open-coded iterators (bpf_for) / \
can_loop on kernels that have them",
        codes: &["back_edge"],
        patterns: &[
            r"infinite loop detected",
            r"back-edge from insn",
            r"loop is not bounded",
        ],
    },
    RejectionClass {
        id: "too_complex",
        title: "program too complex to verify",
        help: "the verifier explored its limit of 1 million instructions (or of pending \
branches) before finishing: each path through the program counts separately. Reduce the \
number of paths — move work into subprograms (`__noinline`), replace unrolled loops with \
bpf_loop(), bound loops more tightly, and avoid long chains of independent branches",
        codes: &["too_complex", "program_size"],
        patterns: &[
            r"BPF program is too large",
            r"jumps is too complex",
            r"too many states",
            r"complexity limit",
        ],
    },
    RejectionClass {
        id: "unknown_opcode",
        title: "instruction this kernel does not know",
        help: "the instruction is newer than the kernel: the object was built for a newer \
ISA (clang's default -mcpu, or -mcpu=v4 whose sign-extending loads and moves, signed \
division, bswap and gotol need Linux 6.6). Build with a lower -mcpu (v3 for Linux 5.1+, \
v2 for older) or target a newer kernel",
        codes: &["unknown_opcode"],
        patterns: &[
            r"unknown opcode",
            r"invalid BPF_ALU opcode",
            r"invalid BPF_JMP",
        ],
    },
    RejectionClass {
        id: "helper_not_allowed",
        title: "helper not available to this program type",
        help: "this program type (or this kernel) does not offer the helper; check the \
helper's list of program types for your kernel, change the program's section (type), or \
use an equivalent available here (for example bpf_probe_read_kernel instead of the \
deprecated bpf_probe_read); tracing-only helpers need a tracing program",
        codes: &[],
        patterns: &[
            r"program of this type cannot use helper",
            r"(unknown|invalid) func \S+#\d+",
        ],
    },
    RejectionClass {
        id: "scalar_deref",
        title: "a number is used as a pointer",
        help: "the register holds a value the verifier knows only as a number, not as a \
pointer it can check: an integer cast to a pointer, a pointer read back from a map or \
from kernel memory, or a context field that is not a pointer for this program type. \
Read kernel memory with bpf_probe_read_kernel() (or BPF_CORE_READ), and keep pointers \
the verifier handed you in registers or on the stack, not in maps",
        codes: &[],
        patterns: &[r"invalid mem access 'scalar'"],
    },
    RejectionClass {
        id: "ctx_access",
        title: "context field not accessible",
        help: "this program type may not read or write that field of its context (or not \
with this size or alignment): each type exposes its own fields, `struct __sk_buff` and \
`struct xdp_md` are views that the kernel rewrites, and most fields are read-only. Check \
the field against the program type, access it with its declared size through the \
struct (not by casting the context pointer), and read fields of other kernel objects \
with BPF_CORE_READ",
        codes: &[],
        patterns: &[
            r"invalid bpf_context access",
            r"(loads from|stores into) R\d+ ctx is not allowed",
        ],
    },
    RejectionClass {
        id: "malformed_insn",
        title: "invalid instruction encoding",
        help: "the instruction's encoding or operands are invalid (reserved fields set, a \
jump or call outside the program, a broken ld_imm64 pair, a constant shift or division \
that cannot be right, r10 written). Compilers do not emit these: look at hand-written \
or generated bytecode, inline asm, or a loader that left a relocation unapplied, and \
compare the instruction shown with the BPF instruction-set documentation",
        codes: &[
            "reserved_fields",
            "invalid_ld_imm64",
            "jump_into_ld_imm64",
            "invalid_call_target",
            "jump_out_of_range",
            "fall_through_subprog",
            "unreachable_insn",
            "invalid_register",
            "invalid_insn",
            "invalid_shift",
            "div_by_zero",
            "bad_map_fd",
            "fd_idx_without_fd_array",
            "map_value_address",
        ],
        patterns: &[
            r"uses reserved fields",
            r"(invalid|unrecognized) bpf_ld_imm64 insn",
            r"jump out of range from insn",
            r"jump into the middle of ldimm64",
            r"last insn is not an exit or jmp",
            r"unreachable insn \d+",
            r"^R\d+ is invalid",
            r"frame pointer is read only",
            r"^invalid shift",
            r"^div by zero",
            r"invalid atomic operand size|uses invalid atomic opcode",
            r"call to invalid destination",
            r"is not pointing to valid bpf_map",
            r"fd_idx without fd_array",
            r"no direct value access support",
            r"invalid may_goto imm",
        ],
    },
];

static COMPILED: LazyLock<Vec<Vec<Regex>>> = LazyLock::new(|| {
    CATALOGUE
        .iter()
        .map(|c| {
            c.patterns
                .iter()
                // The patterns are literals of this file, checked by a test.
                .filter_map(|p| Regex::new(p).ok())
                .collect()
        })
        .collect()
});

/// The class of a rejection, from the kernel's error line and bpfcheck's
/// error code (either may be missing).
pub fn classify(message: Option<&str>, code: Option<&str>) -> Option<&'static RejectionClass> {
    let message = message.unwrap_or("");
    CATALOGUE
        .iter()
        .zip(COMPILED.iter())
        .find(|(c, re)| c.matches(message, code, re))
        .map(|(c, _)| c)
}

/// The class with this id.
pub fn class_by_id(id: &str) -> Option<&'static RejectionClass> {
    CATALOGUE.iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for c in CATALOGUE {
            for p in c.patterns {
                assert!(Regex::new(p).is_ok(), "{}: {p}", c.id);
            }
        }
    }

    #[test]
    fn kernel_messages_find_their_class() {
        let cases = [
            (
                "R0 invalid mem access 'map_value_or_null'",
                "missing_null_check",
            ),
            (
                "R1 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_",
                "helper_arg_type",
            ),
            (
                "invalid access to packet, off=0 size=2, R2(id=0,off=0,r=0)",
                "packet_range",
            ),
            (
                "R1 min value is negative, either use unsigned index or do a if (index >=0) check.",
                "reordered_bound_check",
            ),
            (
                "R1 min value is outside of the allowed memory range",
                "unbounded_index",
            ),
            (
                "invalid access to map value, value_size=8 off=8 size=4",
                "unbounded_index",
            ),
            (
                "invalid indirect read from stack R2 off -8+0 size 8",
                "uninit_stack",
            ),
            ("invalid read from stack off -8+0 size 8", "uninit_stack"),
            ("invalid write to stack R1 off=-520 size=8", "stack_bounds"),
            ("R0 !read_ok", "uninit_register"),
            ("Unreleased reference id=2 alloc_insn=7", "reference_leak"),
            (
                "BPF_EXIT instruction in main prog would lead to reference leak",
                "reference_leak",
            ),
            (
                "invalid variable-offset write to stack R1 var_off=(0x0; 0x1f) off=-16 size=1",
                "stack_bounds",
            ),
            (
                "function calls are not allowed while holding a lock",
                "lock_across_call",
            ),
            ("infinite loop detected at insn 3", "infinite_loop"),
            (
                "BPF program is too large. Processed 1000001 insn",
                "too_complex",
            ),
            ("unknown opcode 8d", "unknown_opcode"),
            (
                "program of this type cannot use helper bpf_probe_read#4",
                "helper_not_allowed",
            ),
        ];
        for (msg, id) in cases {
            assert_eq!(classify(Some(msg), None).map(|c| c.id), Some(id), "{msg}");
        }
        for (msg, id) in [
            ("jump out of range from insn 1 to 9", "malformed_insn"),
            ("BPF_ALU uses reserved fields", "malformed_insn"),
            ("R1 invalid mem access 'scalar'", "scalar_deref"),
            ("invalid bpf_context access off=76 size=4", "ctx_access"),
            ("invalid func unknown#9999", "helper_not_allowed"),
        ] {
            assert_eq!(classify(Some(msg), None).map(|c| c.id), Some(id), "{msg}");
        }
        assert!(classify(Some("misaligned stack access off 0+-8+-3 size 4"), None).is_none());
        assert_eq!(
            classify(None, Some("too_complex")).map(|c| c.id),
            Some("too_complex")
        );
    }
}
