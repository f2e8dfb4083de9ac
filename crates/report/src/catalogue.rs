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
            r"invalid mem access '[a-z_]+_or_null_?'",
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
            r"R\d+ must be a known constant",
            r"cannot pass map_type \d+ into func",
            r"Possibly NULL pointer passed to helper arg",
            r"invalid zero-sized read",
            r"isn't map pointer",
            r"doesn't match map pointer",
            r"doesn't support non-zero flags",
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
            r"misaligned packet access",
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
            r"misaligned value access",
            r"invalid variable buffer offset",
            r"invalid negative access",
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
            r"call stack of \d+ frames is too deep",
            r"misaligned stack access",
            r"invalid size of register fill",
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
            r"cannot be used inside \S+-ed region",
            r"bpf_spin_unlock of different lock",
            r"can't spin_\{lock,unlock\} in",
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
            r"calling kernel function \S+ is not allowed",
            r"\(\) is not allowed$",
            r"not allowed in subprogs without BTF",
            r"instructions not allowed for this program type",
            r"is only allowed in functions that return",
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
            r"dereference of modified ctx ptr",
            r"negative offset ctx ptr",
            r"variable ctx access",
            r"misaligned context access",
            r"makes ctx pointer be out of bounds",
            r"at the time of BPF_LD_ABS\|IND R\d+ != pointer to skb",
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
            r"kernel btf_id \d+ is not a function",
            r"missing btf func_info",
            r"failed to find the address for kernel symbol",
        ],
    },
    RejectionClass {
        id: "return_value",
        title: "return value outside what the caller accepts",
        help: "the program (or a callback) returns a value its type does not allow: each \
program type has its own range of return codes (XDP actions, 0 or 1 for cgroup \
programs …), and the verifier must see that every path's R0 lies in it. Return one of \
the documented constants on every path, and return a number, not a pointer",
        codes: &[],
        patterns: &[
            r"At (program exit|callback return) the register R\d+",
            r"doesn't return scalar",
            r"cannot return stack pointer to the caller",
        ],
    },
    RejectionClass {
        id: "reference_arg",
        title: "argument must be a trusted or referenced pointer",
        help: "the kfunc or function wants a pointer the verifier can vouch for: one \
acquired and not yet released (`bpf_task_acquire`, `bpf_obj_new` …), a trusted argument \
of the program, or an RCU-protected pointer inside bpf_rcu_read_lock(). Test it against \
NULL first, pass the acquired pointer itself (not one derived by arithmetic), and release \
only what you acquired",
        codes: &[],
        patterns: &[
            r"Possibly NULL pointer passed to trusted arg",
            r"must be referenced when passed to release function",
            r"must be a rcu pointer",
            r"must be referenced or trusted",
            r"is an unacquired reference",
            r"expects refcounted PTR_TO_BTF_ID",
            r"must have zero offset when passed to release func",
            r"expected pointer to allocated object",
            r"args?#\d+ expected pointer to",
            r"pointer type \S+ \S+ must point to scalar",
            r"Caller passes invalid args into func",
            r"memory, len pair leads to invalid memory access",
            r"can only take non-owning or refcounted",
        ],
    },
    RejectionClass {
        id: "dynptr_iter_state",
        title: "dynptr or iterator in the wrong state",
        help: "a dynptr or open-coded iterator lives on the stack and goes through \
states the verifier tracks: it must be initialised (bpf_dynptr_from_mem, \
bpf_ringbuf_reserve_dynptr, bpf_iter_num_new …) before use, not overwritten or \
re-initialised while it holds a reference, and destroyed or released exactly once. Keep \
each in its own stack variable and pair every constructor with its destructor",
        codes: &[],
        patterns: &[
            r"(?i)dynptr",
            r"(initialized|uninitialized) iter_\S+ as arg",
        ],
    },
    RejectionClass {
        id: "special_field_access",
        title: "special field of a map value accessed directly",
        help: "fields such as kptrs, bpf_spin_lock, bpf_timer, bpf_list_head or bpf_rb_root \
may only be used through their helpers and kfuncs (bpf_kptr_xchg, bpf_spin_lock, \
bpf_timer_init …), with their exact type, size and offset; do not read, write or copy \
them with ordinary loads and stores",
        codes: &[],
        patterns: &[
            r"kptr",
            r"bpf_spin_lock cannot be accessed directly",
            r"must be held for bpf_rb_root|must be held for bpf_list_head",
            r"only read (from bpf_array )?is supported",
            r"tracing progs cannot use \S+ yet",
            r"not allowed in rbtree cb",
        ],
    },
    RejectionClass {
        id: "object_access",
        title: "field of a kernel object not accessible",
        help: "the pointer is to a kernel object (a socket, a task, memory a helper returned) \
of which only some fields, sizes or directions are allowed: read the fields the \
verifier exposes for this type with their declared size, do not write read-only objects, \
and read other kernel memory with BPF_CORE_READ / bpf_probe_read_kernel()",
        codes: &[],
        patterns: &[
            r"invalid \S+ access off=",
            r"invalid mem access '",
            r"(read from|write into) map forbidden",
            r"BPF_ATOMIC stores into R\d+ \S+ is not allowed",
            r"cannot write into \S+",
            r"access beyond (struct|the end of member)",
            r"may write into memory pointed by",
            r"variable \S+ access var_off=",
            r"(negative offset|dereference of modified) \S+ ptr R\d+",
        ],
    },
    RejectionClass {
        id: "pointer_arith",
        title: "pointer arithmetic the verifier forbids",
        help: "this pointer may not be moved (map pointers, sockets and pointers that may be \
NULL cannot be offset at all), or not by a value the verifier cannot bound; test a \
maybe-NULL pointer before adding to it, keep offsets constant or bounded by a mask or a \
comparison, and compute addresses from the pointer the verifier handed you",
        codes: &[],
        patterns: &[
            r"pointer arithmetic on \S+ prohibited",
            r"tried to subtract pointer from scalar",
            r"pointer \+= pointer prohibited",
            r"subtraction from stack pointer prohibited",
            r"operator \S+ on pointer prohibited",
            r"32-bit pointer arithmetic prohibited",
            r"pointer arithmetic with \S+ operator prohibited",
            r"math between \S+ pointer and",
            r"\S+ pointer offset -?\d+ is not allowed",
            r"same insn cannot be used with different pointers",
        ],
    },
    RejectionClass {
        id: "exception_rules",
        title: "exceptions (bpf_throw) used where they are not allowed",
        help: "bpf_throw unwinds the program: it may not be called from callbacks, inside \
a lock or RCU section, or with references held, and the exception callback must be a \
global function taking one integer and returning a scalar; release everything and leave \
critical sections before throwing",
        codes: &[],
        patterns: &[r"bpf_throw", r"exception cb", r"exception callback"],
    },
    RejectionClass {
        id: "attach_target",
        title: "attach target missing or not supported",
        help: "this program type is attached to a kernel function, hook or struct_ops \
member named at load time (attach_btf_id); name one that exists in this kernel and that \
the type supports — with libbpf, through the section name (`SEC(\"fentry/func\")`)",
        codes: &[],
        patterns: &[r"must provide btf_id", r"attach to unsupported member"],
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
    // The message is more specific than bpfcheck's error code (one code
    // covers several checks): every class's patterns first, then codes.
    let by_message = CATALOGUE
        .iter()
        .zip(COMPILED.iter())
        .find(|(_, re)| re.iter().any(|r| r.is_match(message)));
    by_message
        .map(|(c, _)| c)
        .or_else(|| CATALOGUE.iter().find(|c| c.matches("", code, &[])))
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
        assert!(classify(Some("unknown error"), None).is_none());
        for (msg, id) in [
            ("misaligned stack access off 0+-8+-3 size 4", "stack_bounds"),
            (
                "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]",
                "return_value",
            ),
            (
                "Possibly NULL pointer passed to trusted arg0",
                "reference_arg",
            ),
            ("cannot overwrite referenced dynptr", "dynptr_iter_state"),
            ("kptr access size must be BPF_DW", "special_field_access"),
            ("R1 invalid sock access off=0 size=8", "object_access"),
            (
                "write into map forbidden, value_size=8 off=0 size=8",
                "object_access",
            ),
            (
                "R1 pointer arithmetic on map_ptr prohibited",
                "pointer_arith",
            ),
            (
                "bpf_throw kfunc (insn 5) cannot be called from callback subprog 2",
                "exception_rules",
            ),
            (
                "BPF_EXIT instruction in main prog cannot be used inside bpf_preempt_disable-ed region",
                "lock_across_call",
            ),
            (
                "dereference of modified ctx ptr R1 off=4 disallowed",
                "ctx_access",
            ),
        ] {
            assert_eq!(classify(Some(msg), None).map(|c| c.id), Some(id), "{msg}");
        }
        assert_eq!(
            classify(None, Some("too_complex")).map(|c| c.id),
            Some("too_complex")
        );
    }
}
