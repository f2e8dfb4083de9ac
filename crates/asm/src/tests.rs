//! Unit tests: every form against its encoding, errors with positions, and
//! random input never panicking.

use bpfcheck_uapi::{Errno, FdRef, MapType, ProgType, RawInsn};
use proptest::prelude::*;

use crate::{
    AsmError, Expectation, Fixture, KernelSymbol, SymKind, assemble, assemble_with_symbols,
};

fn i(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> RawInsn {
    RawInsn::new(code, dst, src, off, imm)
}

fn asm(text: &str) -> Vec<RawInsn> {
    match assemble(text) {
        Ok(v) => v,
        Err(e) => panic!("`{text}`: {e}"),
    }
}

fn err(text: &str) -> AsmError {
    match assemble(text) {
        Ok(v) => panic!("`{text}` assembled to {v:?}"),
        Err(e) => e,
    }
}

/// Checks single-slot forms, each with and without the log's prefixes.
fn check(cases: &[(&str, RawInsn)]) {
    for (text, want) in cases {
        assert_eq!(asm(text), vec![*want], "`{text}`");
        let logged = format!("7: ({:02x}) {text}", want.code);
        assert_eq!(asm(&logged), vec![*want], "`{logged}`");
    }
}

#[test]
fn alu_forms() {
    check(&[
        ("r1 += r2", i(0x0f, 1, 2, 0, 0)),
        ("w1 += w2", i(0x0c, 1, 2, 0, 0)),
        ("r1 += 5", i(0x07, 1, 0, 0, 5)),
        ("w3 -= -7", i(0x14, 3, 0, 0, -7)),
        ("r1 *= r9", i(0x2f, 1, 9, 0, 0)),
        ("r1 /= 3", i(0x37, 1, 0, 0, 3)),
        ("r1 s/= r2", i(0x3f, 1, 2, 1, 0)),
        ("w1 s/= 3", i(0x34, 1, 0, 1, 3)),
        ("r1 %= r2", i(0x9f, 1, 2, 0, 0)),
        ("r1 s%= -3", i(0x97, 1, 0, 1, -3)),
        ("r1 |= 0x10", i(0x47, 1, 0, 0, 16)),
        ("r1 &= r2", i(0x5f, 1, 2, 0, 0)),
        ("r1 <<= 63", i(0x67, 1, 0, 0, 63)),
        ("w1 >>= w2", i(0x7c, 1, 2, 0, 0)),
        ("r1 s>>= 3", i(0xc7, 1, 0, 0, 3)),
        ("w1 s>>= w2", i(0xcc, 1, 2, 0, 0)),
        ("r1 ^= r1", i(0xaf, 1, 1, 0, 0)),
        ("r0 = 0", i(0xb7, 0, 0, 0, 0)),
        ("w0 = -1", i(0xb4, 0, 0, 0, -1)),
        ("w0 = 0xffffffff", i(0xb4, 0, 0, 0, -1)),
        ("r1 = r10", i(0xbf, 1, 10, 0, 0)),
        ("w1 = w2", i(0xbc, 1, 2, 0, 0)),
        ("r1 = (s8)r2", i(0xbf, 1, 2, 8, 0)),
        ("r1 = (s16)r2", i(0xbf, 1, 2, 16, 0)),
        ("r1 = (s32)r2", i(0xbf, 1, 2, 32, 0)),
        ("w1 = (s8)w2", i(0xbc, 1, 2, 8, 0)),
        ("w1 = (s16)w2", i(0xbc, 1, 2, 16, 0)),
        ("r1 = -r1", i(0x87, 1, 0, 0, 0)),
        ("w4 = -w4", i(0x84, 4, 0, 0, 0)),
        ("r1 = be16 r1", i(0xdc, 1, 0, 0, 16)),
        ("r1 = be64 r1", i(0xdc, 1, 0, 0, 64)),
        ("r1 = le32 r1", i(0xd4, 1, 0, 0, 32)),
        ("r1 = bswap16 r1", i(0xd7, 1, 0, 0, 16)),
        ("r1 = bswap64 r1", i(0xd7, 1, 0, 0, 64)),
        ("r1 = le8 r1", i(0xd4, 1, 0, 0, 8)),
        ("r1 = addr_space_cast(r2, 0, 1)", i(0xbf, 1, 2, 1, 1)),
        ("r1 = &(void __percpu *)(r2)", i(0xbf, 1, 2, -1, 0)),
    ]);
}

#[test]
fn memory_forms() {
    check(&[
        ("r0 = *(u8 *)(r1 +0)", i(0x71, 0, 1, 0, 0)),
        ("r0 = *(u16 *)(r1 +2)", i(0x69, 0, 1, 2, 0)),
        ("r0 = *(u32 *)(r1 -4)", i(0x61, 0, 1, -4, 0)),
        ("r0 = *(u64 *)(r10 -8)", i(0x79, 0, 10, -8, 0)),
        ("r0 = *(s8 *)(r1 +0)", i(0x91, 0, 1, 0, 0)),
        ("r0 = *(s16 *)(r1 +0)", i(0x89, 0, 1, 0, 0)),
        ("r0 = *(s32 *)(r1 +0)", i(0x81, 0, 1, 0, 0)),
        ("w0 = *(u32 *)(r1 + 8)", i(0x61, 0, 1, 8, 0)),
        ("*(u8 *)(r10 -1) = r1", i(0x73, 10, 1, -1, 0)),
        ("*(u16 *)(r10 -2) = r1", i(0x6b, 10, 1, -2, 0)),
        ("*(u32 *)(r10 -4) = w1", i(0x63, 10, 1, -4, 0)),
        ("*(u64 *)(r10 -8) = r1", i(0x7b, 10, 1, -8, 0)),
        ("*(u8 *)(r10 -1) = 7", i(0x72, 10, 0, -1, 7)),
        ("*(u16 *)(r10 -2) = -7", i(0x6a, 10, 0, -2, -7)),
        ("*(u32 *)(r10 -4) = 1", i(0x62, 10, 0, -4, 1)),
        ("*(u64 *)(r10 - 8) = 0", i(0x7a, 10, 0, -8, 0)),
        ("lock *(u32 *)(r1 +0) += r2", i(0xc3, 1, 2, 0, 0x00)),
        ("lock *(u64 *)(r1 +8) &= r2", i(0xdb, 1, 2, 8, 0x50)),
        ("lock *(u64 *)(r1 +0) |= r2", i(0xdb, 1, 2, 0, 0x40)),
        ("lock *(u32 *)(r1 +0) ^= r2", i(0xc3, 1, 2, 0, 0xa0)),
        (
            "r2 = atomic_fetch_add((u32 *)(r1 +0), r2)",
            i(0xc3, 1, 2, 0, 0x01),
        ),
        (
            "r2 = atomic64_fetch_and((u64 *)(r1 +0), r2)",
            i(0xdb, 1, 2, 0, 0x51),
        ),
        (
            "r2 = atomic64_fetch_or((u64 *)(r1 +0), r2)",
            i(0xdb, 1, 2, 0, 0x41),
        ),
        (
            "r3 = atomic64_fetch_xor((u64 *)(r1 -8), r3)",
            i(0xdb, 1, 3, -8, 0xa1),
        ),
        (
            "r2 = atomic_fetch_add((u64 *)(r1 +0), r2)",
            i(0xdb, 1, 2, 0, 0x01),
        ),
        (
            "r2 = atomic64_xchg((u64 *)(r1 +0), r2)",
            i(0xdb, 1, 2, 0, 0xe1),
        ),
        (
            "r2 = atomic_xchg((u32 *)(r1 +0), r2)",
            i(0xc3, 1, 2, 0, 0xe1),
        ),
        (
            "r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)",
            i(0xdb, 1, 2, 0, 0xf1),
        ),
        (
            "r0 = atomic_cmpxchg((u32 *)(r1 +0), r0, r2)",
            i(0xc3, 1, 2, 0, 0xf1),
        ),
        ("r1 = load_acquire((u8 *)(r2 +0))", i(0xd3, 1, 2, 0, 0x100)),
        ("r1 = load_acquire((u16 *)(r2 +0))", i(0xcb, 1, 2, 0, 0x100)),
        ("w1 = load_acquire((u32 *)(r2 +0))", i(0xc3, 1, 2, 0, 0x100)),
        ("r1 = load_acquire((u64 *)(r2 +0))", i(0xdb, 1, 2, 0, 0x100)),
        ("store_release((u8 *)(r1 +0), r2)", i(0xd3, 1, 2, 0, 0x110)),
        (
            "store_release((u64 *)(r1 -8), r2)",
            i(0xdb, 1, 2, -8, 0x110),
        ),
        ("r0 = *(u8 *)skb[12]", i(0x30, 0, 0, 0, 12)),
        ("r0 = *(u16 *)skb[-4]", i(0x28, 0, 0, 0, -4)),
        ("r0 = *(u32 *)skb[0]", i(0x20, 0, 0, 0, 0)),
        ("r0 = *(u8 *)skb[r6 + 4]", i(0x50, 0, 6, 0, 4)),
        ("r0 = *(u16 *)skb[r6 + -2]", i(0x48, 0, 6, 0, -2)),
        ("r0 = *(u32 *)skb[r7]", i(0x40, 0, 7, 0, 0)),
        ("nospec", i(0xc2, 0, 0, 0, 0)),
    ]);
}

#[test]
fn jump_forms() {
    check(&[
        ("if r1 > 0x5 goto pc+2", i(0x25, 1, 0, 2, 5)),
        ("if r1 == 0xfffffffb goto pc+0", i(0x15, 1, 0, 0, -5)),
        ("if r1 s> -5 goto +1", i(0x65, 1, 0, 1, -5)),
        ("if w1 s< w2 goto pc-3", i(0xce, 1, 2, -3, 0)),
        ("if r1 != r2 goto pc+1", i(0x5d, 1, 2, 1, 0)),
        ("if r1 >= r2 goto pc+1", i(0x3d, 1, 2, 1, 0)),
        ("if r1 < 0x1 goto pc+1", i(0xa5, 1, 0, 1, 1)),
        ("if r1 <= 0x1 goto pc+1", i(0xb5, 1, 0, 1, 1)),
        ("if w1 & 0x1 goto pc+1", i(0x46, 1, 0, 1, 1)),
        ("if r1 s>= r2 goto pc+1", i(0x7d, 1, 2, 1, 0)),
        ("if r1 s<= 0x0 goto pc+1", i(0xd5, 1, 0, 1, 0)),
        ("if r1 jmp r2 goto pc+1", i(0x0d, 1, 2, 1, 0)),
        ("goto pc-1", i(0x05, 0, 0, -1, 0)),
        ("gotol pc+70000", i(0x06, 0, 0, 0, 70000)),
        ("may_goto pc+2", i(0xe5, 0, 0, 2, 0)),
        ("gotox r3", i(0x0d, 3, 0, 0, 0)),
        ("exit", i(0x95, 0, 0, 0, 0)),
        ("call bpf_map_lookup_elem#1", i(0x85, 0, 0, 0, 1)),
        ("call bpf_unspec#0", i(0x85, 0, 0, 0, 0)),
        ("call unknown#999", i(0x85, 0, 0, 0, 999)),
        ("call bpf_obj_new_impl#12345", i(0x85, 0, 2, 0, 12345)),
        ("call 5", i(0x85, 0, 0, 0, 5)),
        ("call bpf_ktime_get_ns", i(0x85, 0, 0, 0, 5)),
        ("call ktime_get_ns", i(0x85, 0, 0, 0, 5)),
        ("call pc+3", i(0x85, 0, 1, 0, 3)),
        ("call pc-10", i(0x85, 0, 1, 0, -10)),
        ("call kfunc(100)", i(0x85, 0, 2, 0, 100)),
        ("call kfunc(100, 2)", i(0x85, 0, 2, 2, 100)),
    ]);
}

#[test]
fn ld_imm64_forms() {
    let lo = |dst, src, imm| i(0x18, dst, src, 0, imm);
    let hi = |imm| i(0, 0, 0, 0, imm);
    let cases = [
        ("r1 = 0x123456789", [lo(1, 0, 0x2345_6789), hi(1)]),
        ("r1 = 0x123456789 ll", [lo(1, 0, 0x2345_6789), hi(1)]),
        ("r2 = 5 ll", [lo(2, 0, 5), hi(0)]),
        ("r2 = -1 ll", [lo(2, 0, -1), hi(-1)]),
        ("r2 = 0xffffffffffffffff", [lo(2, 0, -1), hi(-1)]),
        ("r1 = map_fd(0)", [lo(1, 1, 0), hi(0)]),
        ("r1 = map_value(1, 16)", [lo(1, 2, 1), hi(16)]),
        ("r1 = btf_id(77)", [lo(1, 3, 77), hi(0)]),
        ("r1 = func(pc+3)", [lo(1, 4, 3), hi(0)]),
        ("r1 = map_idx(2)", [lo(1, 5, 2), hi(0)]),
        ("r1 = map_idx_value(2, 8)", [lo(1, 6, 2), hi(8)]),
    ];
    for (text, want) in cases {
        assert_eq!(asm(text), want.to_vec(), "`{text}`");
        assert_eq!(asm(&format!("3: (18) {text}")), want.to_vec(), "`{text}`");
    }
}

#[test]
fn raw_slots() {
    assert_eq!(
        asm(".insn 0xff 11 12 -1 0x80000000"),
        vec![i(0xff, 11, 12, -1, i32::MIN)]
    );
    assert_eq!(asm(".insn 0x18 r1 0 0xffff 1"), vec![i(0x18, 1, 0, -1, 1)]);
    assert!(err(".insn 0x100 0 0 0 0").message.contains("out of range"));
    assert!(err(".insn 7 16 0 0 0").message.contains("out of range"));
}

#[test]
fn labels_resolve_in_slots() {
    let prog = asm("
        r0 = 0            ; comment
        start:
        r1 = 0x100000000  # ld_imm64 takes two slots
        if r1 > 3 goto out
        goto start
        call sub
        out: exit
        sub:
          r0 = func(sub)
          gotol start
          may_goto out
          exit
    ");
    assert_eq!(prog.len(), 12);
    assert_eq!(prog[3], i(0x25, 1, 0, 2, 3)); // to `out`, slot 6
    assert_eq!(prog[4], i(0x05, 0, 0, -4, 0)); // to `start`, slot 1
    assert_eq!(prog[5], i(0x85, 0, 1, 0, 1)); // to `sub`, slot 7
    assert_eq!(prog[7], i(0x18, 0, 4, 0, -1));
    assert_eq!(prog[9], i(0x06, 0, 0, 0, -9));
    assert_eq!(prog[10], i(0xe5, 0, 0, -5, 0));
}

#[test]
fn log_lines_with_state_comments() {
    let text = "0: R1=ctx() R10=fp0\n";
    assert!(assemble(text).is_err());
    let text = "0: (b7) r0 = 0                        ; R0_w=0\n1: (95) exit\n";
    assert_eq!(asm(text), vec![i(0xb7, 0, 0, 0, 0), i(0x95, 0, 0, 0, 0)]);
}

#[test]
fn errors_name_line_column_and_expectation() {
    let e = err("r0 = 0\nr1 += q");
    assert_eq!((e.line, e.column), (2, 7));
    assert!(
        e.message
            .contains("expected a register or 32-bit immediate"),
        "{e}"
    );

    let e = err("(b7) r1 = r2");
    assert_eq!((e.line, e.column), (1, 1));
    assert!(e.message.contains("does not match"), "{e}");

    let e = err("  goto nowhere");
    assert_eq!((e.line, e.column), (1, 8));
    assert!(e.message.contains("undefined label `nowhere`"));

    assert!(err("r1 = -r2").message.contains("expected r1"));
    assert!(err("r1 += w2").message.contains("same width"));
    assert!(
        err("r2 = atomic_fetch_add((u32 *)(r1 +0), r3)")
            .message
            .contains("expected r2")
    );
    assert!(
        err("r1 = atomic64_fetch_add((u32 *)(r1 +0), r1)")
            .message
            .contains("u64")
    );
    assert!(err("r1 = *(u8 *)skb[1]").message.contains("r0"));
    assert!(
        err("*(s8 *)(r1 +0) = r2")
            .message
            .contains("sign-extending")
    );
    assert!(err("r1 = 4294967296").message.contains("ll"));
    assert!(err("w1 = 5 ll").message.contains("64-bit"));
    assert!(err("r16 = 1").message.contains("expected an instruction"));
    assert!(
        err("call bpf_map_lookup_elem#2")
            .message
            .contains("has id 1")
    );
    assert!(
        err("call nosuch")
            .message
            .contains("neither a label nor a helper")
    );
    assert!(err("x:\nx:\nexit").message.contains("defined twice"));
    assert!(err("r1: exit").message.contains("cannot be a label"));
    assert!(
        err("r0 = *(u32 *)(r1 +40000)")
            .message
            .contains("out of range")
    );
    assert!(
        err("exit exit")
            .message
            .contains("expected end of instruction")
    );
    let far = format!("goto end\n{}end: exit", "r0 = 0\n".repeat(40000));
    assert!(err(&far).message.contains("gotol"));
}

#[test]
fn fixture_header() {
    let f = Fixture::parse(
        ";! prog_type: xdp\n\
         ;! map: hash:4:8:16\n\
         ;! map: array:4:4:1\n\
         ;! fd_array: map1 btf0 -1\n\
         ;! prog_flags: BPF_F_SLEEPABLE\n\
         ;! expected_attach_type: BPF_XDP\n\
         ;! expect: rejected EACCES R0 !read_ok\n\
         exit\n",
    )
    .unwrap();
    assert_eq!(f.prog_type, ProgType::XDP);
    assert_eq!(f.maps.len(), 2);
    assert_eq!(f.maps[1].map_type, MapType::ARRAY);
    assert_eq!(
        f.fd_array,
        Some(vec![FdRef::Map(1), FdRef::Btf(0), FdRef::Raw(-1)])
    );
    assert_eq!(f.prog_flags, 1 << 4);
    assert_eq!(f.expected_attach_type.name(), Some("xdp"));
    assert_eq!(
        f.expect,
        Some(Expectation::Rejected {
            errno: Errno::EACCES,
            message: "R0 !read_ok".to_owned()
        })
    );
    let req = f.load_request("t");
    assert_eq!((req.insns.len(), req.license.as_str()), (1, "GPL"));

    let f = Fixture::parse(";! expect: accepted\nr0 = 0\nexit").unwrap();
    assert_eq!(f.prog_type, ProgType::SOCKET_FILTER);
    assert_eq!(f.expect, Some(Expectation::Accepted));
    let f = Fixture::parse(";! expect: rejected EINVAL\n").unwrap();
    assert!(
        matches!(f.expect, Some(Expectation::Rejected { ref message, .. }) if message.is_empty())
    );

    let e = Fixture::parse("\n;! colour: blue\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("unknown directive"));
    assert!(Fixture::parse(";! expect: maybe").is_err());
    assert!(Fixture::parse(";! map: hash:4").is_err());
}

/// A stand-in for a kernel's BTF: two functions and a variable.
fn lookup(name: &str, kind: SymKind) -> Option<u32> {
    match (name, kind) {
        ("bpf_rcu_read_lock", SymKind::Func | SymKind::VarOrFunc) => Some(65_472),
        ("bpf_rcu_read_unlock", SymKind::Func | SymKind::VarOrFunc) => Some(65_474),
        ("bpf_prog_active", SymKind::VarOrFunc) => Some(13_780),
        _ => None,
    }
}

#[test]
fn kernel_symbols_by_name() {
    let text = "start:\n\
                call kfunc(bpf_rcu_read_lock)\n\
                r1 = btf_id(bpf_prog_active)\n\
                7: (85) call kfunc( bpf_rcu_read_unlock )\n\
                r2 = btf_id(bpf_rcu_read_lock)\n\
                r0 = 0\n\
                exit\n";
    let out = assemble_with_symbols(text).unwrap();
    let sym = |slot, name: &str, kind, line, column| KernelSymbol {
        slot,
        name: name.to_owned(),
        kind,
        line,
        column,
    };
    assert_eq!(
        out.kernel_symbols,
        vec![
            sym(0, "bpf_rcu_read_lock", SymKind::Func, 2, 12),
            sym(1, "bpf_prog_active", SymKind::VarOrFunc, 3, 13),
            sym(3, "bpf_rcu_read_unlock", SymKind::Func, 4, 21),
            sym(4, "bpf_rcu_read_lock", SymKind::VarOrFunc, 5, 13),
        ]
    );
    // Until resolved, the slots carry no id.
    assert_eq!(out.insns[0], i(0x85, 0, 2, 0, 0));
    assert_eq!(out.insns[1], i(0x18, 1, 3, 0, 0));
    let insns = out.resolve(&lookup).unwrap();
    assert_eq!(
        insns,
        vec![
            i(0x85, 0, 2, 0, 65_472),
            i(0x18, 1, 3, 0, 13_780),
            i(0, 0, 0, 0, 0),
            i(0x85, 0, 2, 0, 65_474),
            i(0x18, 2, 3, 0, 65_472),
            i(0, 0, 0, 0, 0),
            i(0xb7, 0, 0, 0, 0),
            i(0x95, 0, 0, 0, 0),
        ]
    );
    // The same program with the numeric ids assembles to the same bytes.
    let numeric = asm("call kfunc(65472)\nr1 = btf_id(13780)\ncall kfunc(65474)\n\
                       r2 = btf_id(65472)\nr0 = 0\nexit");
    assert_eq!(insns, numeric);
}

#[test]
fn kernel_symbols_need_a_kernel() {
    // `assemble` has no kernel: it names the line and the symbol.
    let e = err("r0 = 0\ncall kfunc(bpf_rcu_read_lock)\nexit");
    assert_eq!((e.line, e.column), (2, 12));
    assert!(e.message.contains("kfunc `bpf_rcu_read_lock`"), "{e}");
    assert!(e.message.contains("kernel's BTF"), "{e}");
    let e = err("r1 = btf_id(bpf_prog_active)\nexit");
    assert_eq!((e.line, e.column), (1, 13));
    assert!(e.message.contains("`bpf_prog_active`"), "{e}");

    // A lookup that finds nothing names the symbol and the kind wanted.
    let out = assemble_with_symbols("call kfunc(bpf_prog_active)\nexit").unwrap();
    let e = out.resolve(&lookup).unwrap_err();
    assert_eq!((e.line, e.column), (1, 12));
    assert!(e.message.contains("kfunc `bpf_prog_active`"), "{e}");
    assert!(e.message.contains("no FUNC"), "{e}");
    let out = assemble_with_symbols("exit\nr3 = btf_id(no_such_var)").unwrap();
    let e = out.resolve(&lookup).unwrap_err();
    assert_eq!(e.line, 2);
    assert!(
        e.message.contains("`no_such_var`") && e.message.contains("VAR or FUNC"),
        "{e}"
    );
    let e = assemble_with_symbols("exit\nr3 = btf_id(x)").unwrap();
    let big = |_: &str, _: SymKind| Some(u32::MAX);
    assert!(e.resolve(&big).unwrap_err().message.contains("32 bits"));

    // Forms that do not take names.
    assert!(
        err("call kfunc(bpf_rcu_read_lock, 1)")
            .message
            .contains("kfunc(ID, OFF)")
    );
    assert!(
        err("r1 = map_fd(my_map)")
            .message
            .contains("expected an index or id")
    );
    assert!(
        err("w1 = btf_id(bpf_prog_active)")
            .message
            .contains("64-bit register")
    );
    assert!(err("call kfunc()").message.contains("kernel function name"));
}

#[test]
fn fixtures_keep_kernel_symbols() {
    let text = ";! prog_type: syscall\n\
                ;! expect: accepted\n\
                call kfunc(bpf_rcu_read_lock)\n\
                call kfunc(bpf_rcu_read_unlock)\n\
                r0 = 0\n\
                exit\n";
    let mut f = Fixture::parse(text).unwrap();
    assert_eq!(f.prog_type, ProgType::SYSCALL);
    let names: Vec<_> = f.kernel_symbols().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["bpf_rcu_read_lock", "bpf_rcu_read_unlock"]);
    assert_eq!(f.kernel_symbols()[1].slot, 1);

    // A failed lookup names the symbol and leaves the fixture as it was.
    let only_lock = |name: &str, kind| lookup(name, kind).filter(|_| name == "bpf_rcu_read_lock");
    let before = f.clone();
    let e = f.resolve_kernel_symbols(&only_lock).unwrap_err();
    assert_eq!(e.line, 4);
    assert!(e.message.contains("`bpf_rcu_read_unlock`"), "{e}");
    assert_eq!(f, before);

    f.resolve_kernel_symbols(&lookup).unwrap();
    assert!(f.kernel_symbols().is_empty());
    let req = f.load_request("kfunc");
    assert_eq!(req.insns[0], i(0x85, 0, 2, 0, 65_472));
    assert_eq!(req.insns[1], i(0x85, 0, 2, 0, 65_474));

    // Without names there is nothing to resolve.
    let mut plain = Fixture::parse("call kfunc(1)\nexit").unwrap();
    assert!(plain.kernel_symbols().is_empty());
    plain.resolve_kernel_symbols(&|_, _| None).unwrap();
    assert_eq!(plain.insns[0].imm, 1);
}

#[test]
#[should_panic(expected = "kfunc `bpf_rcu_read_lock` is not resolved")]
fn unresolved_fixtures_have_no_load_request() {
    let f = Fixture::parse("call kfunc(bpf_rcu_read_lock)\nexit").unwrap();
    let _ = f.load_request("x");
}

proptest! {
    #[test]
    fn random_text_never_panics(s in "\\PC{0,80}") {
        let _ = assemble(&s);
        let _ = Fixture::parse(&s);
    }

    #[test]
    fn random_asm_like_text_never_panics(
        s in "[rw0-9 =+*/%<>&|^()sugl.:#;,\\-\\[\\]abcdefkmpxoint_]{0,60}"
    ) {
        let _ = assemble(&s);
    }

    #[test]
    fn printed_alu_round_trips(dst in 0u8..11, src in 0u8..11, imm in any::<i32>(), opi in 0usize..13) {
        let ops = ["+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "%=", "^=", "s>>=", "s/=", "s%="];
        let k = asm(&format!("r{dst} {} {imm}", ops[opi]));
        prop_assert_eq!(k[0].imm, imm);
        let x = asm(&format!("w{dst} {} w{src}", ops[opi]));
        prop_assert_eq!((x[0].dst, x[0].src), (dst, src));
    }

    #[test]
    fn printed_jump_imm_round_trips(imm in any::<i32>(), off in any::<i16>()) {
        // The printer shows jump immediates as `0x%x` and offsets as `%+d`.
        let text = format!("if r1 == 0x{:x} goto pc{:+}", imm as u32, off);
        prop_assert_eq!(asm(&text), vec![i(0x15, 1, 0, off, imm)]);
    }
}
