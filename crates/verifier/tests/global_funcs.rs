//! Subprograms described by BTF `func_info`: static functions whose
//! arguments the kernel checks against their prototypes, and global
//! functions, assumed valid at the call and verified on their own after
//! the main program.
//!
//! The programs are written in the fixture syntax and given a small BTF
//! built here (assembler fixtures carry none). Each log, at levels 1 and
//! 2, is compared with a golden file and, where `bpf()` works, with the
//! live kernel's, byte for byte. `BPFCHECK_BLESS=1` rewrites the golden
//! files.

use std::path::Path;

use bpfcheck_asm::Fixture;
use bpfcheck_btf::builder::TypeSpec;
use bpfcheck_btf::types::Linkage;
use bpfcheck_btf::{BtfBuilder, ByteOrder};
use bpfcheck_isa::normalize_kernel_addresses;
use bpfcheck_profile::KernelProfile;
use bpfcheck_sys::LoadOptions;
use bpfcheck_sys::test_support::kernel_or_skip;
use bpfcheck_uapi::LoadRequest;
use bpfcheck_uapi::load::FuncInfo;
use bpfcheck_verifier::{LOG_LEVEL1, LOG_LEVEL2, Verdict, VerifyOptions, stats_trailer, verify};

/// An argument or return type of the test functions.
#[derive(Clone, Copy)]
enum Ty {
    Int,
    Ctx,
    /// `int *`: memory of four bytes for a global function.
    IntPtr,
    /// A type with `arg:` declaration tags (`btf_prepare_func_args`).
    Tagged(&'static Ty, &'static [&'static str]),
    /// `void *`.
    VoidPtr,
}

/// A function: name, global or static, parameters; all return `int`.
struct Func {
    name: &'static str,
    global: bool,
    params: &'static [Ty],
}

struct Case {
    name: &'static str,
    asm: &'static str,
    funcs: &'static [Func],
}

const MAIN: Func = Func {
    name: "prog",
    global: true,
    params: &[Ty::Ctx],
};

const CASES: &[Case] = &[
    Case {
        // A static function called with one argument its prototype does
        // not get (the compiler dropped a constant one): the kernel says
        // so, marks it unreliable and carries on.
        name: "static_arg_missing",
        asm: "
r6 = *(u32 *)(r1 +0)
r1 = r6
call add
r0 &= 1
exit
add:
r0 = r1
r0 |= 2
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "add",
                global: false,
                params: &[Ty::Int, Ty::Int],
            },
        ],
    },
    Case {
        // Two global functions, the first calling the second, and a
        // static one taking the context.
        name: "globals_nested",
        asm: "
r6 = r1
call st_len
r7 = r0
r1 = r6
r2 = *(u32 *)(r6 +8)
call glob1
r0 |= r7
exit
st_len:
r0 = *(u32 *)(r1 +0)
r0 >>= 6
exit
glob1:
r0 = 1
r3 = *(u32 *)(r1 +16)
if r3 != r2 goto +2
r1 = r2
call glob2
exit
glob2:
r0 = r1
r0 &= 7
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "st_len",
                global: false,
                params: &[Ty::Ctx],
            },
            Func {
                name: "glob1",
                global: true,
                params: &[Ty::Ctx, Ty::Int],
            },
            Func {
                name: "glob2",
                global: true,
                params: &[Ty::Int],
            },
        ],
    },
    Case {
        // The context where the prototype says int.
        name: "global_wrong_arg",
        asm: "
r2 = 3
call glob
exit
glob:
r0 = r1
r0 ^= r2
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "glob",
                global: true,
                params: &[Ty::Int, Ty::Int],
            },
        ],
    },
    Case {
        // A global function fails on its own, whatever the caller passed.
        name: "global_fails_alone",
        asm: "
r1 = *(u32 *)(r1 +0)
call bad
exit
bad:
r0 = *(u32 *)(r1 +0)
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "bad",
                global: true,
                params: &[Ty::Int],
            },
        ],
    },
    Case {
        // A checkpoint at every prune point: precision wanted for a
        // global function's argument reaches the checkpoint at its entry.
        name: "global_arg_precise_at_entry",
        asm: "
;! prog_flags: BPF_F_TEST_STATE_FREQ
;! map: array:4:16:1
r1 = *(u32 *)(r1 +0)
call pick
exit
pick:
r6 = r1
r6 &= 7
r1 = 0
*(u32 *)(r10 -4) = r1
r2 = r10
r2 += -4
r1 = map_fd(0)
call bpf_map_lookup_elem#1
if r0 == 0 goto +2
r0 += r6
r0 = *(u8 *)(r0 +0)
r0 = 0
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "pick",
                global: true,
                params: &[Ty::Int],
            },
        ],
    },
    Case {
        // Pointer arguments of a global function: the stack, NULL, a map
        // value the caller did not check; the callee checks for NULL,
        // then reads and writes its four bytes.
        name: "global_mem_args",
        asm: "
;! map: hash:4:16:1
r6 = *(u32 *)(r1 +0)
*(u32 *)(r10 -4) = r6
r1 = r10
r1 += -4
call sum
r1 = 0
call sum
r1 = 0
*(u32 *)(r10 -8) = r1
r2 = r10
r2 += -8
r1 = map_fd(0)
call bpf_map_lookup_elem#1
r1 = r0
call sum
r0 = *(u32 *)(r10 -4)
exit
sum:
r0 = 0
if r1 == 0 goto +3
r0 = *(u32 *)(r1 +0)
r0 &= 255
*(u32 *)(r1 +0) = r0
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "sum",
                global: true,
                params: &[Ty::IntPtr],
            },
        ],
    },
    Case {
        // Too small a buffer on the caller's stack.
        name: "global_mem_arg_too_small",
        asm: "
r1 = r10
r1 += -2
call sum
exit
sum:
r0 = 0
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "sum",
                global: true,
                params: &[Ty::IntPtr],
            },
        ],
    },
    Case {
        // The context where the prototype wants memory.
        name: "global_mem_arg_ctx",
        asm: "
call sum
exit
sum:
r0 = 0
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "sum",
                global: true,
                params: &[Ty::IntPtr],
            },
        ],
    },
    Case {
        // The callee dereferences its argument without a NULL check.
        name: "global_mem_arg_unchecked",
        asm: "
r1 = 0
call sum
exit
sum:
r0 = *(u32 *)(r1 +0)
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "sum",
                global: true,
                params: &[Ty::IntPtr],
            },
        ],
    },
    Case {
        // The callee reads past its argument's four bytes.
        name: "global_mem_arg_oob",
        asm: "
r1 = 0
call sum
exit
sum:
r0 = 0
if r1 == 0 goto +1
r0 = *(u32 *)(r1 +2)
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "sum",
                global: true,
                params: &[Ty::IntPtr],
            },
        ],
    },
    Case {
        // `arg:nonnull` memory: the callee reads without a NULL check; the
        // caller passes its stack, then a map value it did not check.
        name: "tag_nonnull_mem",
        asm: "
;! map: hash:4:16:1
r6 = 0
*(u32 *)(r10 -4) = r6
r1 = r10
r1 += -4
call get
r2 = r10
r2 += -4
r1 = map_fd(0)
call bpf_map_lookup_elem#1
r1 = r0
call get
exit
get:
r0 = *(u32 *)(r1 +0)
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "get",
                global: true,
                params: &[Ty::Tagged(&Ty::IntPtr, &["nonnull"])],
            },
        ],
    },
    Case {
        // `arg:ctx` on `void *`: any program type's context; a moved
        // context is refused before its type is looked at.
        name: "tag_ctx_void",
        asm: "
r6 = r1
call len
r1 = r6
r1 += 4
call len
exit
len:
r0 = *(u32 *)(r1 +0)
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "len",
                global: true,
                params: &[Ty::Tagged(&Ty::VoidPtr, &["ctx"])],
            },
        ],
    },
    Case {
        // `arg:nullable` alone is not for memory.
        name: "tag_nullable_mem",
        asm: "
r1 = 0
call get
exit
get:
r0 = 0
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "get",
                global: true,
                params: &[Ty::Tagged(&Ty::IntPtr, &["nullable"])],
            },
        ],
    },
    Case {
        // A tag on an integer.
        name: "tag_on_int",
        asm: "
r1 = 0
call get
exit
get:
r0 = 0
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "get",
                global: true,
                params: &[Ty::Tagged(&Ty::Int, &["ctx"])],
            },
        ],
    },
    Case {
        // Tags in a static function: logged, the function is unreliable,
        // and the call goes on.
        name: "tag_static",
        asm: "
call get
r0 = 0
exit
get:
r0 = 0
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "get",
                global: false,
                params: &[Ty::Tagged(&Ty::VoidPtr, &["ctx"])],
            },
        ],
    },
    Case {
        // `arg:arena`: a scalar to the callee, which the caller may pass.
        name: "tag_arena",
        asm: "
r1 = 7
call get
exit
get:
r0 = r1
r0 &= 1
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "get",
                global: true,
                params: &[Ty::Tagged(&Ty::VoidPtr, &["arena"])],
            },
        ],
    },
    Case {
        // An unknown tag.
        name: "tag_unknown",
        asm: "
call get
exit
get:
r0 = 0
exit
",
        funcs: &[
            MAIN,
            Func {
                name: "get",
                global: true,
                params: &[Ty::Tagged(&Ty::VoidPtr, &["whatever"])],
            },
        ],
    },
];

/// The load request of `case`: its program with BTF and `func_info`.
fn request(case: &Case) -> LoadRequest {
    let fx = Fixture::parse(case.asm).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let mut req = fx.load_request(case.name);
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let skb = b.struct_("__sk_buff", 4, &[("len", int, 0)]).unwrap();
    let ctx = b.ptr(skb);
    let int_ptr = b.ptr(int);
    let void_ptr = b.ptr(bpfcheck_btf::BtfTypeId(0));
    let starts = subprog_starts(&req);
    assert_eq!(starts.len(), case.funcs.len(), "{}", case.name);
    for (f, start) in case.funcs.iter().zip(starts) {
        let base = |t: &Ty| match t {
            Ty::Int => int,
            Ty::Ctx => ctx,
            Ty::IntPtr => int_ptr,
            Ty::VoidPtr => void_ptr,
            Ty::Tagged(..) => unreachable!("tags on a tagged type"),
        };
        let params = f
            .params
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let ty = match t {
                    Ty::Tagged(t, _) => base(t),
                    t => base(t),
                };
                (format!("a{i}"), ty)
            })
            .collect();
        let proto = b.add(&TypeSpec::FuncProto { ret: int, params }).unwrap();
        let linkage = if f.global {
            Linkage::Global
        } else {
            Linkage::Static
        };
        let id = b
            .add(&TypeSpec::Func {
                name: f.name.into(),
                proto,
                linkage,
            })
            .unwrap();
        for (i, t) in f.params.iter().enumerate() {
            if let Ty::Tagged(_, tags) = t {
                for tag in *tags {
                    b.add(&TypeSpec::DeclTag {
                        value: format!("arg:{tag}"),
                        target: id,
                        component: Some(u32::try_from(i).unwrap()),
                        attr: false,
                    })
                    .unwrap();
                }
            }
        }
        req.func_info.push(FuncInfo {
            insn_off: u32::try_from(start).unwrap(),
            type_id: id.0,
        });
    }
    req.prog_btf = Some(b.to_bytes(ByteOrder::Little));
    req
}

/// The entry and every bpf-to-bpf call target, in order.
fn subprog_starts(req: &LoadRequest) -> Vec<usize> {
    let mut starts: Vec<usize> = req
        .insns
        .iter()
        .enumerate()
        .filter(|(_, i)| i.code == 0x85 && i.src == 1)
        .map(|(n, i)| usize::try_from(n as i64 + i64::from(i.imm) + 1).unwrap())
        .collect();
    starts.push(0);
    starts.sort_unstable();
    starts.dedup();
    starts
}

fn our_log(req: &LoadRequest, level: u32) -> String {
    let profile = KernelProfile::builtin("6.18").unwrap();
    let v = verify(req, &profile, &VerifyOptions { log_level: level });
    assert_ne!(
        v.verdict,
        Verdict::Unsupported,
        "{}: {:?}",
        req.name,
        v.unsupported
    );
    let log = v.log.expect("a log");
    let stats = v.stats.expect("stats");
    format!("{log}{}", stats_trailer(level, &stats, 0))
}

/// 7.x's `insns processed N+M…`: the main program's instructions (its
/// static callees' included), then each global function's, which together
/// are every instruction processed; the 7.2 profile is taken with the walk
/// switches bpfcheck does not model off.
#[test]
fn seven_x_counts_instructions_per_global_function() {
    let case = CASES.iter().find(|c| c.name == "globals_nested").unwrap();
    let req = request(case);
    let mut profile = KernelProfile::builtin("7.2").unwrap();
    let v7 = &mut profile.features.walk_v7;
    v7.cnum_scalars = false;
    v7.ptr_offset_in_var_off = false;
    v7.static_stack_liveness = false;
    let v = verify(
        &req,
        &profile,
        &VerifyOptions {
            log_level: LOG_LEVEL1 | bpfcheck_verifier::LOG_STATS,
        },
    );
    assert_eq!(v.verdict, Verdict::Accepted, "{:?}", v.unsupported);
    let stats = v.stats.unwrap();
    let by_function = stats.insns_by_function.clone().unwrap();
    // `prog` (with `st_len`), `glob1`, `glob2`.
    assert_eq!(by_function.len(), 3);
    assert_eq!(by_function[0], 11);
    assert_eq!(by_function.iter().sum::<u64>(), stats.insns_processed);
    let lines = stats.level4_lines();
    assert!(lines.ends_with(&format!(
        "\ninsns processed {}+{}+{}\n",
        by_function[0], by_function[1], by_function[2]
    )));
    // 6.18 prints neither.
    let v = verify(
        &req,
        &KernelProfile::builtin("6.18").unwrap(),
        &VerifyOptions {
            log_level: LOG_LEVEL1,
        },
    );
    assert_eq!(v.stats.unwrap().insns_by_function, None);
}

#[test]
fn logs_match_the_golden_files() {
    let bless = std::env::var_os("BPFCHECK_BLESS").is_some();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/btf_func");
    for case in CASES {
        let req = request(case);
        for (level, suffix) in [(LOG_LEVEL1, "l1"), (LOG_LEVEL2, "l2")] {
            let path = dir.join(format!("{}.{suffix}.log", case.name));
            let ours = our_log(&req, level);
            if bless {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &ours).unwrap();
                continue;
            }
            let golden = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(ours, golden, "{} at level {level}", case.name);
        }
    }
}

#[test]
fn logs_match_the_live_kernel() {
    let Some(kernel) = kernel_or_skip("btf_func logs_match_the_live_kernel") else {
        return;
    };
    for case in CASES {
        let req = request(case);
        for level in [LOG_LEVEL1, LOG_LEVEL2] {
            let opts = LoadOptions {
                log_level: level,
                log_size: 1 << 20,
                fixed_log: false,
            };
            let out = kernel.load(&req, &opts).unwrap();
            // Map references print as kernel addresses, which differ.
            let norm = |s: &str| {
                s.lines()
                    .map(normalize_kernel_addresses)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(
                norm(&our_log(&req, level)),
                norm(&out.log),
                "{} at level {level}",
                case.name
            );
        }
    }
}
