//! Property tests: every valid encoding from the opcode table round-trips
//! through decode/encode in both byte orders; arbitrary bytes never panic
//! the decoder, the checks or the printer.

use bpfcheck_isa::{
    AtomicOp, DefaultSymbolizer, IsaFeatures, LogEra, OPCODES, Shape, Size, Width,
    check_all_fields, check_prepass, decode, decode_all, disasm, encode,
    normalize_kernel_addresses,
};
use bpfcheck_uapi::{ByteOrder, RawInsn, op};
use proptest::prelude::*;

/// Random field values, fixed up to a valid encoding of `shape`.
fn valid_insn(code: u8, shape: Shape, r: (u8, u8, i16, i32, i32, u8)) -> Vec<RawInsn> {
    let (dst, src, off, imm, imm2, pick) = r;
    let p = usize::from(pick);
    let one = |dst, src, off, imm| vec![RawInsn::new(code, dst, src, off, imm)];
    match shape {
        Shape::Alu {
            width,
            op: bits,
            reg,
        } => {
            let div = bits == op::DIV || bits == op::MOD;
            if bits == op::MOV && reg {
                let choices: &[i16] = match width {
                    Width::W32 => &[0, 8, 16],
                    Width::W64 => &[0, 8, 16, 32, 1],
                };
                let o = choices[p % choices.len()];
                let i = if o == 1 { [1, 1 << 16][p % 2] } else { 0 };
                one(dst, src, o, i)
            } else {
                let o = if div { (p % 2) as i16 } else { 0 };
                if reg {
                    one(dst, src, o, 0)
                } else {
                    one(dst, 0, o, imm)
                }
            }
        }
        Shape::Neg(_) => one(dst, 0, 0, 0),
        Shape::Endian(_) | Shape::Bswap => one(dst, 0, 0, [16, 32, 64][p % 3]),
        Shape::Ldx { .. } => one(dst, src, off, 0),
        Shape::Stx(_) => one(dst, src, off, 0),
        Shape::St(_) => one(dst, 0, off, imm),
        Shape::Atomic(size) => {
            let ops: Vec<AtomicOp> = AtomicOp::ALL
                .iter()
                .copied()
                .filter(|a| !a.is_rmw() || matches!(size, Size::W | Size::DW))
                .collect();
            one(dst, src, off, ops[p % ops.len()].bits())
        }
        Shape::Jmp { reg, .. } => {
            if reg {
                one(dst, src, off, 0)
            } else {
                one(dst, 0, off, imm)
            }
        }
        Shape::Ja => one(0, 0, off, 0),
        Shape::Gotol => one(0, 0, 0, imm),
        Shape::MayGoto => one(0, 0, off, 0),
        Shape::Call => {
            let s = (p % 3) as u8;
            one(0, s, if s == 2 { off } else { 0 }, imm)
        }
        Shape::Exit => one(0, 0, 0, 0),
        Shape::LdImm64 => {
            let s = (p % 7) as u8;
            let hi = if s == op::PSEUDO_MAP_FD || s == op::PSEUDO_MAP_IDX {
                0
            } else {
                imm2
            };
            vec![
                RawInsn::new(code, dst, s, 0, imm),
                RawInsn::new(0, 0, 0, 0, hi),
            ]
        }
        Shape::LdAbs(_) => one(0, 0, 0, imm),
        Shape::LdInd(_) => one(0, src, 0, imm),
    }
}

fn valid_program() -> impl Strategy<Value = Vec<RawInsn>> {
    let one = (0..OPCODES.len(), any::<(u8, u8, i16, i32, i32, u8)>()).prop_map(|(i, r)| {
        let o = OPCODES[i];
        valid_insn(o.code, o.shape, r)
    });
    prop::collection::vec(one, 1..8).prop_map(|v| v.concat())
}

fn reorder(insns: &[RawInsn], order: ByteOrder) -> Vec<RawInsn> {
    let bytes = RawInsn::encode_all(insns, order);
    RawInsn::parse_all(&bytes, order).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn valid_encodings_round_trip(prog in valid_program(), big in any::<bool>()) {
        let order = if big { ByteOrder::Big } else { ByteOrder::Little };
        let prog = reorder(&prog, order);
        let decoded = decode_all(&prog).map_err(|e| TestCaseError::fail(format!("{e} {prog:?}")))?;
        let back: Vec<RawInsn> = decoded
            .iter()
            .flat_map(|d| encode(&d.insn).as_slice().to_vec())
            .collect();
        prop_assert_eq!(&back, &prog);
        prop_assert_eq!(RawInsn::encode_all(&back, order), RawInsn::encode_all(&prog, order));
        for d in &decoded {
            prop_assert_eq!(d.slots, d.insn.slots());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..48), big in any::<bool>()) {
        let order = if big { ByteOrder::Big } else { ByteOrder::Little };
        let usable = bytes.len() / 8 * 8;
        let prog = RawInsn::parse_all(&bytes[..usable], order).unwrap();
        for idx in 0..=prog.len() {
            if let Ok(d) = decode(&prog, idx) {
                // Whatever decodes re-encodes to the same slots.
                let enc = encode(&d.insn);
                prop_assert_eq!(enc.as_slice(), &prog[idx..idx + d.slots]);
            }
            for f in [IsaFeatures::V5_10, IsaFeatures::V6_1, IsaFeatures::V6_12, IsaFeatures::V6_18] {
                let _ = check_prepass(&prog, idx, &f);
                let _ = check_all_fields(&prog, idx, &f);
            }
            for era in [LogEra::V5_10, LogEra::V6_1, LogEra::V6_12, LogEra::V6_18] {
                let text = disasm(&prog, idx, era, &DefaultSymbolizer);
                let _ = normalize_kernel_addresses(&text);
            }
        }
    }

    #[test]
    fn every_single_slot_code_prints(code in any::<u8>(), dst in 0u8..16, src in 0u8..16, off in any::<i16>(), imm in any::<i32>()) {
        let prog = [RawInsn::new(code, dst, src, off, imm)];
        for era in [LogEra::V5_10, LogEra::V6_1, LogEra::V6_12, LogEra::V6_18] {
            prop_assert!(!disasm(&prog, 0, era, &DefaultSymbolizer).is_empty());
        }
    }
}

/// Found by the `isa` fuzz target: the kernel's `BPF_EXIT` check ignores
/// `off` (6.18 loads `exit` with `off = 512`), so decoding must keep it.
#[test]
fn fields_the_kernel_ignores_survive_a_round_trip() {
    let exit = RawInsn::new(0x95, 0, 0, 512, 0);
    for feats in [
        IsaFeatures::V5_10,
        IsaFeatures::V6_1,
        IsaFeatures::V6_12,
        IsaFeatures::V6_18,
    ] {
        assert!(bpfcheck_isa::check_all_fields(&[exit], 0, &feats).is_ok());
    }
    let d = decode(&[exit], 0).unwrap();
    assert_eq!(encode(&d.insn).as_slice(), &[exit]);
}
