//! CO-RE resolution against synthetic target BTFs built with `BtfBuilder`.

use bpfcheck_btf::builder::{MemberSpec, TypeSpec};
use bpfcheck_btf::core::{
    CoreError, CorePatch, CoreResolver, POISON_INSN, PoisonCause, patch_insn, resolve,
};
use bpfcheck_btf::ext::{CoreReloKind as K, CoreReloRec};
use bpfcheck_btf::{Btf, BtfBuilder, BtfTypeId, ByteOrder};
use bpfcheck_uapi::{RawInsn, op};

fn m(name: &str, ty: BtfTypeId, bit_offset: u32, bits: u8) -> MemberSpec {
    MemberSpec {
        name: name.into(),
        ty,
        bit_offset,
        bitfield_size: bits,
    }
}

/// Local: `struct task___local { int pid; int gone; unsigned flags:3 (bit 64); }`
/// plus access strings. Returns bytes, the struct id, and string offsets.
fn local() -> (Vec<u8>, BtfTypeId, [u32; 4]) {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let uint = b.int("unsigned int", 4, false);
    let s = b
        .add(&TypeSpec::Struct {
            name: "task___local".into(),
            size: 12,
            members: vec![
                m("pid", int, 0, 0),
                m("gone", int, 32, 0),
                m("flags", uint, 64, 3),
            ],
        })
        .unwrap();
    let strs = [
        b.add_str("0:0"),
        b.add_str("0:1"),
        b.add_str("0:2"),
        b.add_str("0"),
    ];
    (b.to_bytes(ByteOrder::Little), s, strs)
}

/// Target: `struct task { long x; int pid (byte 8); unsigned flags:3 (bit 100); }`
/// and, when `twin`, a flavour `task___v2` with `long pid` at byte 8.
fn target(twin: bool) -> Vec<u8> {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let long = b.int("long", 8, true);
    let uint = b.int("unsigned int", 4, false);
    b.add(&TypeSpec::Struct {
        name: "task".into(),
        size: 24,
        members: vec![
            m("x", long, 0, 0),
            m("pid", int, 64, 0),
            m("flags", uint, 100, 3),
        ],
    })
    .unwrap();
    if twin {
        b.struct_("task___v2", 16, &[("pid", long, 8)]).unwrap();
    }
    b.to_bytes(ByteOrder::Little)
}

fn rec(type_id: BtfTypeId, access: u32, kind: K) -> CoreReloRec {
    CoreReloRec {
        insn_off: 0,
        type_id,
        access_str_off: access,
        kind,
    }
}

#[test]
fn field_moved_and_flavour_renamed() {
    let (lb, s, a) = local();
    let (local, tb) = (Btf::parse(&lb).unwrap(), target(false));
    let target = Btf::parse(&tb).unwrap();
    let r = resolve(&local, &target, &rec(s, a[0], K::FieldByteOffset));
    assert_eq!(r.spec, "task___local::pid");
    assert_eq!(r.target_spec.as_deref(), Some("task::pid"));
    let v = r.result.unwrap();
    assert_eq!((v.orig, v.new, v.poison), (0, 8, false));
    // The load `r0 = *(u32 *)(r1 + 0)` moves to offset 8.
    let mut insns = [RawInsn::new(op::LDX | op::MEM | op::W, 0, 1, 0, 0)];
    assert_eq!(
        patch_insn(&mut insns, 0, &v),
        Ok(CorePatch::Off {
            old: 0,
            new: 8,
            size: None
        })
    );
    assert_eq!(insns[0].off, 8);
    // An instruction not holding the local value is refused.
    let mut wrong = [RawInsn::new(op::ALU64 | op::ADD | op::K, 1, 0, 0, 4)];
    assert!(patch_insn(&mut wrong, 0, &v).is_err());
}

#[test]
fn missing_field_is_poisoned() {
    let (lb, s, a) = local();
    let (local, tb) = (Btf::parse(&lb).unwrap(), target(false));
    let target = Btf::parse(&tb).unwrap();
    let r = resolve(&local, &target, &rec(s, a[1], K::FieldByteOffset));
    let v = r.result.clone().unwrap();
    assert!(v.poison);
    assert!(r.poison_reason().unwrap().contains("gone"));
    let mut insns = [
        RawInsn::new(op::LD | op::IMM | op::DW, 1, 0, 0, 4),
        RawInsn::new(0, 0, 0, 0, 0),
    ];
    assert_eq!(
        patch_insn(&mut insns, 0, &v),
        Ok(CorePatch::Poisoned {
            why: PoisonCause::Unresolved
        })
    );
    assert_eq!(insns, [POISON_INSN, POISON_INSN]);
    let e = resolve(&local, &target, &rec(s, a[1], K::FieldExists));
    assert_eq!(e.result.unwrap().new, 0);
}

#[test]
fn bitfield_values() {
    let (lb, s, a) = local();
    let (local, tb) = (Btf::parse(&lb).unwrap(), target(false));
    let target = Btf::parse(&tb).unwrap();
    let get = |k| resolve(&local, &target, &rec(s, a[2], k)).result.unwrap();
    // Target bits 100..103: the 4-byte unit at byte 12 holds them.
    assert_eq!(get(K::FieldByteOffset).new, 12);
    assert_eq!(get(K::FieldByteSize).new, 4);
    assert_eq!(get(K::FieldLshiftU64).new, 64 - (100 + 3 - 96));
    assert_eq!(get(K::FieldRshiftU64).new, 61);
    assert_eq!(get(K::FieldSigned).new, 0);
    assert!(!get(K::FieldByteOffset).validate);
    // Local bits 64..67.
    assert_eq!(get(K::FieldLshiftU64).orig, 64 - 3);
}

#[test]
fn ambiguity_and_cache() {
    let (lb, s, a) = local();
    let (local, tb) = (Btf::parse(&lb).unwrap(), target(true));
    let target = Btf::parse(&tb).unwrap();
    // Both flavours put pid at byte 8 but disagree on its size.
    let r = resolve(&local, &target, &rec(s, a[0], K::FieldByteSize));
    assert!(
        matches!(r.result, Err(CoreError::Ambiguous { .. })),
        "{r:?}"
    );
    assert!(
        r.result
            .unwrap_err()
            .to_string()
            .contains("relocation decision ambiguous")
    );
    // The offsets agree, so the offset relocation resolves, with the
    // first candidate's sizes (libbpf keeps the first result).
    let mut res = CoreResolver::new(&local, &target);
    let v = res
        .resolve(&rec(s, a[0], K::FieldByteOffset))
        .result
        .unwrap();
    assert_eq!((v.new, v.new_size, v.fail_memsz_adjust), (8, 4, false));
    // Against `long pid` only, the size change of a signed field makes
    // the load unsafe: poisoned.
    let mut b = BtfBuilder::new();
    let long = b.int("long", 8, true);
    b.struct_("task", 8, &[("pid", long, 0)]).unwrap();
    let tb2 = b.to_bytes(ByteOrder::Little);
    let target2 = Btf::parse(&tb2).unwrap();
    let v = resolve(&local, &target2, &rec(s, a[0], K::FieldByteOffset))
        .result
        .unwrap();
    assert!(v.fail_memsz_adjust);
    let mut insns = [RawInsn::new(op::LDX | op::MEM | op::W, 0, 1, 0, 0)];
    assert_eq!(
        patch_insn(&mut insns, 0, &v),
        Ok(CorePatch::Poisoned {
            why: PoisonCause::MemSizeAdjust
        })
    );
    // Type-based relocations see both candidates too.
    let t = resolve(&local, &target, &rec(s, a[3], K::TypeExists));
    assert_eq!(t.candidates.len(), 2);
    assert_eq!(t.result.unwrap().new, 1);
}
