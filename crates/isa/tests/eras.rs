//! Older kernels' behaviour (from the local 6.1 and 6.12 sources), the
//! symbolizer hooks, and table coverage.

use bpfcheck_isa::{
    AluOp, DefaultSymbolizer, Insn, InsnErrorKind, IsaFeatures, KERNEL_ADDR_TOKEN, LogEra, OPCODES,
    Symbolizer, check_all_fields, check_prepass, decode, disasm, encode, line,
    normalize_kernel_addresses, opcode_in_insntable,
};
use bpfcheck_uapi::{RawInsn, RegNo};

fn msg(prog: &[RawInsn], f: &IsaFeatures) -> String {
    match check_prepass(prog, 0, f).and_then(|_| check_all_fields(prog, 0, f)) {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.message,
    }
}

#[test]
fn cpu_v4_encodings_on_6_1() {
    let f = IsaFeatures::V6_1;
    let movsx = [RawInsn::new(0xbf, 1, 2, 8, 0)];
    assert_eq!(msg(&movsx, &f), "BPF_MOV uses reserved fields");
    assert_eq!(msg(&movsx, &IsaFeatures::V6_12), "ok");
    let sdiv = [RawInsn::new(0x37, 1, 0, 1, 3)];
    assert_eq!(msg(&sdiv, &f), "BPF_ALU uses reserved fields");
    let may_goto = [RawInsn::new(0xe5, 0, 0, 1, 0)];
    assert_eq!(msg(&may_goto, &f), "unknown opcode e5");
    let bswap = [RawInsn::new(0xd7, 1, 0, 0, 16)];
    assert_eq!(msg(&bswap, &f), "unknown opcode d7");
    // The LDX pre-pass check comes before the opcode table.
    let memsx = [RawInsn::new(0x91, 1, 2, 0, 0)];
    assert_eq!(msg(&memsx, &f), "BPF_LDX uses reserved fields");
    // 6.1.y carries the gotol verifier backport.
    let gotol = [RawInsn::new(0x06, 0, 0, 0, 1)];
    assert_eq!(msg(&gotol, &f), "ok");
    assert_eq!(msg(&gotol, &IsaFeatures::V5_10), "unknown opcode 06");
}

#[test]
fn may_goto_and_atomics_by_version() {
    let zero = [RawInsn::new(0xe5, 0, 0, 0, 0)];
    assert_eq!(
        msg(&zero, &IsaFeatures::V6_12),
        "invalid may_goto off 0 imm 0"
    );
    assert_eq!(msg(&zero, &IsaFeatures::V6_18), "ok");
    let acq = [RawInsn::new(0xdb, 0, 1, 0, 0x100)];
    assert_eq!(
        msg(&acq, &IsaFeatures::V6_12),
        "BPF_ATOMIC uses invalid atomic opcode 100"
    );
    assert_eq!(msg(&acq, &IsaFeatures::V6_18), "ok");
    let acq8 = [RawInsn::new(0xd3, 0, 1, 0, 0x100)];
    assert_eq!(msg(&acq8, &IsaFeatures::V6_12), "unknown opcode d3");
    // 5.10 (the BPF_XADD era): a store's imm is reserved, checked by the
    // load-time pre-pass before the opcode table.
    let fetch = [RawInsn::new(0xdb, 10, 1, -8, 0x01)];
    assert_eq!(
        msg(&fetch, &IsaFeatures::V5_10),
        "BPF_STX uses reserved fields"
    );
    let fetch8 = [RawInsn::new(0xd3, 10, 1, -8, 0x01)];
    assert_eq!(
        msg(&fetch8, &IsaFeatures::V5_10),
        "BPF_STX uses reserved fields"
    );
    assert_eq!(msg(&fetch8, &IsaFeatures::V6_1), "unknown opcode d3");
    let xadd8 = [RawInsn::new(0xd3, 10, 1, -8, 0)];
    assert_eq!(msg(&xadd8, &IsaFeatures::V5_10), "unknown opcode d3");
    let stx_imm_mode = [RawInsn::new(0x03, 10, 1, -8, 0)];
    assert_eq!(
        msg(&stx_imm_mode, &IsaFeatures::V5_10),
        "BPF_STX uses reserved fields"
    );
    assert_eq!(msg(&stx_imm_mode, &IsaFeatures::V6_1), "unknown opcode 03");
    let xadd = [RawInsn::new(0xdb, 10, 1, -8, 0)];
    assert_eq!(msg(&xadd, &IsaFeatures::V5_10), "ok");
    // The XADD check itself, which the pre-pass makes unreachable.
    assert_eq!(
        check_all_fields(&fetch, 0, &IsaFeatures::V5_10)
            .unwrap_err()
            .message,
        "BPF_XADD uses reserved fields"
    );
    let kfunc = [RawInsn::new(0x85, 0, 2, 0, 100)];
    assert_eq!(
        msg(&kfunc, &IsaFeatures::V5_10),
        "BPF_CALL uses reserved fields"
    );
    let func = [RawInsn::new(0x18, 1, 4, 0, 2), RawInsn::new(0, 0, 0, 0, 0)];
    assert_eq!(
        msg(&func, &IsaFeatures::V5_10),
        "unrecognized bpf_ld_imm64 insn"
    );
}

#[test]
fn errors_carry_kind_and_index() {
    let prog = [
        RawInsn::new(0x07, 0, 0, 0, 1),
        RawInsn::new(0x8d, 0, 0, 0, 0),
    ];
    let e = decode(&prog, 1).unwrap_err();
    assert_eq!(e.kind, InsnErrorKind::UnknownOpcode);
    assert_eq!(e.insn.get(), 1);
    assert_eq!(e.to_string(), "unknown opcode 8d");
    let lone = [RawInsn::new(0x18, 0, 0, 0, 1)];
    assert_eq!(
        decode(&lone, 0).unwrap_err().kind,
        InsnErrorKind::InvalidLdImm64
    );
    assert_eq!(
        decode(&lone, 5).unwrap_err().kind,
        InsnErrorKind::OutOfRange
    );
}

#[test]
fn older_eras_print_older_text() {
    let s = DefaultSymbolizer;
    let bswap = [RawInsn::new(0xd7, 1, 0, 0, 16)];
    assert_eq!(disasm(&bswap, 0, LogEra::V6_12, &s), "(d7) r1 = bswap16 r1");
    assert_eq!(disasm(&bswap, 0, LogEra::V6_1, &s), "BUG_alu64_d7");
    let movsx = [RawInsn::new(0xbf, 1, 2, 8, 0)];
    assert_eq!(disasm(&movsx, 0, LogEra::V6_1, &s), "(bf) r1 = r2");
    let gotol = [RawInsn::new(0x06, 0, 0, 0, 2)];
    assert_eq!(
        disasm(&gotol, 0, LogEra::V6_1, &s),
        "(06) if w0 jmp 0x2 goto pc+0"
    );
    let fetch = [RawInsn::new(0xdb, 10, 1, -8, 0x01)];
    assert_eq!(
        disasm(&fetch, 0, LogEra::V6_1, &s),
        "(db) r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)"
    );
    assert_eq!(
        disasm(&fetch, 0, LogEra::V5_10, &s),
        "(db) lock *(u64 *)(r10 -8) += r1"
    );
    let acq = [RawInsn::new(0xdb, 0, 1, 0, 0x100)];
    assert_eq!(disasm(&acq, 0, LogEra::V6_12, &s), "BUG_db");
    assert_eq!(
        line(&acq, 0, LogEra::V6_18, &s),
        "0: (db) r0 = load_acquire((u64 *)(r1 +0))"
    );
    let memsx = [RawInsn::new(0x91, 0, 1, 0, 0)];
    assert_eq!(disasm(&memsx, 0, LogEra::V6_1, &s), "BUG_ldx_91");
}

#[test]
fn conditional_jump_check_order() {
    // `if r11 == 0x0` with a non-zero src_reg: 5.10 checks the reserved
    // fields before any register, 6.1 reads dst_reg first.
    let k = [RawInsn::new(0x15, 11, 1, 0, 0)];
    assert_eq!(
        msg(&k, &IsaFeatures::V5_10),
        "BPF_JMP/JMP32 uses reserved fields"
    );
    assert_eq!(msg(&k, &IsaFeatures::V6_1), "R11 is invalid");
    // `if r12 == r11`: 5.10 reads src_reg before dst_reg.
    let x = [RawInsn::new(0x1d, 12, 11, 0, 0)];
    assert_eq!(msg(&x, &IsaFeatures::V5_10), "R11 is invalid");
    assert_eq!(msg(&x, &IsaFeatures::V6_1), "R12 is invalid");
}

#[test]
fn era_5_10_text() {
    let s = DefaultSymbolizer;
    // Any source but BPF_PSEUDO_CALL looks the helper table up.
    let kf = [RawInsn::new(0x85, 0, 2, 0, 1)];
    assert_eq!(
        disasm(&kf, 0, LogEra::V5_10, &s),
        "(85) call bpf_map_lookup_elem#1"
    );
    assert_eq!(
        disasm(&kf, 0, LogEra::V6_1, &s),
        "(85) call kernel-function#1"
    );
    let kf_unknown = [RawInsn::new(0x85, 0, 2, 0, 100_000)];
    assert_eq!(
        disasm(&kf_unknown, 0, LogEra::V5_10, &s),
        "(85) call unknown#100000"
    );
    let pc = [RawInsn::new(0x85, 0, 1, 0, 3)];
    assert_eq!(disasm(&pc, 0, LogEra::V5_10, &s), "(85) call pc+3");
    let gotol = [RawInsn::new(0x06, 0, 0, 1, 2)];
    assert_eq!(
        disasm(&gotol, 0, LogEra::V5_10, &s),
        "(06) if w0 jmp 0x2 goto pc+1"
    );
    // 5.10.y carries the Spectre v4 `nospec` backport.
    let nospec = [RawInsn::new(0xc2, 0, 0, 0, 0)];
    assert_eq!(disasm(&nospec, 0, LogEra::V5_10, &s), "(c2) nospec");
    let xadd = [RawInsn::new(0xc3, 1, 2, 0, 0)];
    assert_eq!(
        disasm(&xadd, 0, LogEra::V5_10, &s),
        "(c3) lock *(u32 *)(r1 +0) += r2"
    );
}

struct Btf;
impl Symbolizer for Btf {
    fn kfunc_name(&self, btf_id: i32, _fd_idx: i16) -> Option<String> {
        (btf_id == 7).then(|| "bpf_rcu_read_lock".to_owned())
    }
    fn allow_ptr_leaks(&self) -> bool {
        false
    }
}

#[test]
fn symbolizer_hooks() {
    let kf = [RawInsn::new(0x85, 0, 2, 0, 7)];
    assert_eq!(
        disasm(&kf, 0, LogEra::V6_18, &Btf),
        "(85) call bpf_rcu_read_lock#7"
    );
    assert_eq!(
        disasm(&kf, 0, LogEra::V6_18, &DefaultSymbolizer),
        "(85) call kernel-function#7"
    );
    let map = [RawInsn::new(0x18, 1, 1, 0, 3), RawInsn::new(0, 0, 0, 0, 0)];
    assert_eq!(
        disasm(&map, 0, LogEra::V6_18, &DefaultSymbolizer),
        format!("(18) r1 = {KERNEL_ADDR_TOKEN}")
    );
    assert_eq!(disasm(&map, 0, LogEra::V6_18, &Btf), "(18) r1 = 0x0");
    // Only the map fd sources are hidden from unprivileged logs.
    let idx = [RawInsn::new(0x18, 1, 5, 0, 0), RawInsn::new(0, 0, 0, 0, 0)];
    assert_eq!(
        disasm(&idx, 0, LogEra::V6_18, &Btf),
        format!("(18) r1 = {KERNEL_ADDR_TOKEN}")
    );
    assert_eq!(
        normalize_kernel_addresses("9: (18) r1 = 0xffff8881046c3400 x 0xffff12"),
        format!("9: (18) r1 = {KERNEL_ADDR_TOKEN} x 0xffff12")
    );
    // A guest with five-level paging maps the kernel at 0xff1…–0xff4….
    assert_eq!(
        normalize_kernel_addresses("0: (18) r1 = 0xff2d59383ea95e00 ; 0xff2d5938"),
        format!("0: (18) r1 = {KERNEL_ADDR_TOKEN} ; 0xff2d5938")
    );
}

#[test]
fn every_table_opcode_decodes_and_encodes() {
    for o in OPCODES {
        assert!(opcode_in_insntable(o.code, &IsaFeatures::V6_18));
        // A canonical instance of each shape: all-zero fields, with the few
        // that must be non-zero set.
        let imm = match o.code {
            0xd4 | 0xdc | 0xd7 => 16,
            0xd3 | 0xcb => 0x100,
            _ => 0,
        };
        let prog = [RawInsn::new(o.code, 0, 0, 0, imm), RawInsn::default()];
        let d = decode(&prog, 0).unwrap_or_else(|e| panic!("{:#04x}: {e}", o.code));
        assert_eq!(encode(&d.insn).as_slice(), &prog[..d.slots]);
    }
}

#[test]
fn constructors_encode_as_expected() {
    let r1 = RegNo(1);
    assert_eq!(
        encode(&Insn::mov64_imm(r1, 5)).as_slice(),
        &[RawInsn::new(0xb7, 1, 0, 0, 5)]
    );
    assert_eq!(
        encode(&Insn::alu32_reg(AluOp::SDiv, r1, RegNo(2))).as_slice(),
        &[RawInsn::new(0x3c, 1, 2, 1, 0)]
    );
    let ld = encode(&Insn::ld_imm64(r1, 0x1_0000_0002));
    assert_eq!(
        ld.as_slice(),
        &[RawInsn::new(0x18, 1, 0, 0, 2), RawInsn::new(0, 0, 0, 0, 1)]
    );
}

#[test]
fn the_7_x_load_time_pass() {
    let f = IsaFeatures::V7_2;
    let pre = |prog: &[RawInsn], f: &IsaFeatures| match check_prepass(prog, 0, f) {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.message,
    };
    // LDX | IMM: 6.18's pre-pass checks LDX fields before the opcode
    // table; 7.x checks the table first.
    let ldx_imm = [RawInsn::new(0x01, 0, 1, 0, 0)];
    assert_eq!(
        pre(&ldx_imm, &IsaFeatures::V6_18),
        "BPF_LDX uses reserved fields"
    );
    assert_eq!(pre(&ldx_imm, &f), "unknown opcode 01");
    // Every class's fields, and registers, are checked at load time.
    let alu = [RawInsn::new(0x07, 1, 2, 0, 1)];
    assert_eq!(pre(&alu, &IsaFeatures::V6_18), "ok");
    assert_eq!(pre(&alu, &f), "BPF_ALU uses reserved fields");
    let bad_reg = [RawInsn::new(0xb7, 11, 0, 0, 0)];
    assert_eq!(pre(&bad_reg, &f), "R11 is invalid");
    // …but for the stack-argument forms, which name BPF_REG_PARAMS (11).
    let stack_arg_st = [RawInsn::new(0x7a, 11, 0, -8, 0)];
    assert_eq!(pre(&stack_arg_st, &f), "ok");
    let stack_arg_ldx = [RawInsn::new(0x79, 1, 11, 8, 0)];
    assert_eq!(pre(&stack_arg_ldx, &f), "ok");
    let misaligned = [RawInsn::new(0x79, 1, 11, 4, 0)];
    assert_eq!(pre(&misaligned, &f), "R11 is invalid");
    // gotox: known to 7.x, with its own reserved fields; the off of an
    // ld_imm64 is reserved.
    let gotox = [RawInsn::new(0x0d, 1, 0, 0, 0)];
    assert_eq!(pre(&gotox, &IsaFeatures::V6_18), "unknown opcode 0d");
    assert_eq!(pre(&gotox, &f), "ok");
    let gotox_off = [RawInsn::new(0x0d, 1, 0, 1, 0)];
    assert_eq!(pre(&gotox_off, &f), "BPF_JA|BPF_X uses reserved fields");
    let ld64 = [RawInsn::new(0x18, 1, 0, 1, 0), RawInsn::new(0, 0, 0, 0, 0)];
    assert_eq!(pre(&ld64, &f), "BPF_LD_IMM64 uses reserved fields");
    assert_eq!(
        disasm(&gotox, 0, LogEra::V7_2, &DefaultSymbolizer),
        "(0d) gotox r1"
    );
}
