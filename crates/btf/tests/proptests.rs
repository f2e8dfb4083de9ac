//! Property tests: build → parse round-trips; arbitrary and mutated bytes
//! never panic the parser or any query.

use bpfcheck_btf::builder::{MemberSpec, TypeSpec};
use bpfcheck_btf::core::CoreSpec;
use bpfcheck_btf::ext::{
    BtfExt, BtfExtBuilder, CoreReloKind, CoreReloRec, FuncInfoRec, LineInfoRec,
};
use bpfcheck_btf::types::{Linkage, VarSecInfo};
use bpfcheck_btf::{Btf, BtfBuilder, BtfKind, BtfTypeId, ByteOrder};
use proptest::prelude::*;

const NAMES: &[&str] = &[
    "",
    "a",
    "task_struct",
    "pid",
    "bpf_kfunc",
    "x.y",
    "long unsigned int",
];

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(NAMES).prop_map(str::to_string)
}

fn spec(n: u32) -> impl Strategy<Value = TypeSpec> {
    let id = move || (0..=n).prop_map(BtfTypeId);
    let linkage = prop::sample::select(vec![Linkage::Static, Linkage::Global, Linkage::Extern]);
    let member = move || {
        (name(), id(), 0u32..0x00ff_ffff, any::<u8>()).prop_map(
            |(name, ty, bit_offset, bitfield_size)| MemberSpec {
                name,
                ty,
                bit_offset,
                bitfield_size,
            },
        )
    };
    prop_oneof![
        (name(), 1u32..17, 0u8..16, any::<u8>(), any::<u8>()).prop_map(
            |(name, size, encoding, offset, bits)| TypeSpec::Int {
                name,
                size,
                encoding,
                offset,
                bits
            }
        ),
        id().prop_map(|ty| TypeSpec::Ptr { ty }),
        (id(), id(), any::<u32>()).prop_map(|(elem, index, nelems)| TypeSpec::Array {
            elem,
            index,
            nelems
        }),
        (name(), any::<u32>(), prop::collection::vec(member(), 0..6)).prop_map(
            |(name, size, members)| TypeSpec::Struct {
                name,
                size,
                members
            }
        ),
        (name(), any::<u32>(), prop::collection::vec(member(), 0..6)).prop_map(
            |(name, size, members)| TypeSpec::Union {
                name,
                size,
                members
            }
        ),
        (
            name(),
            any::<bool>(),
            prop::collection::vec((name(), any::<u32>()), 0..5)
        )
            .prop_map(|(name, signed, vs)| {
                let values = vs
                    .into_iter()
                    .map(|(n, v)| {
                        (
                            n,
                            if signed {
                                i64::from(v as i32) as u64
                            } else {
                                u64::from(v)
                            },
                        )
                    })
                    .collect();
                TypeSpec::Enum {
                    name,
                    size: 4,
                    signed,
                    values,
                }
            }),
        (
            name(),
            any::<bool>(),
            prop::collection::vec((name(), any::<u64>()), 0..5)
        )
            .prop_map(|(name, signed, values)| TypeSpec::Enum64 {
                name,
                size: 8,
                signed,
                values
            }),
        (name(), any::<bool>()).prop_map(|(name, union)| TypeSpec::Fwd { name, union }),
        (name(), id()).prop_map(|(name, ty)| TypeSpec::Typedef { name, ty }),
        id().prop_map(|ty| TypeSpec::Volatile { ty }),
        id().prop_map(|ty| TypeSpec::Const { ty }),
        id().prop_map(|ty| TypeSpec::Restrict { ty }),
        (name(), id(), linkage.clone()).prop_map(|(name, proto, linkage)| TypeSpec::Func {
            name,
            proto,
            linkage
        }),
        (id(), prop::collection::vec((name(), id()), 0..5))
            .prop_map(|(ret, params)| TypeSpec::FuncProto { ret, params }),
        (name(), id(), linkage).prop_map(|(name, ty, linkage)| TypeSpec::Var { name, ty, linkage }),
        (
            name(),
            any::<u32>(),
            prop::collection::vec((id(), any::<u32>(), any::<u32>()), 0..4)
        )
            .prop_map(|(name, size, es)| TypeSpec::Datasec {
                name,
                size,
                entries: es
                    .into_iter()
                    .map(|(ty, offset, size)| VarSecInfo { ty, offset, size })
                    .collect(),
            }),
        (name(), prop::sample::select(vec![2u32, 4, 8, 12, 16]))
            .prop_map(|(name, size)| TypeSpec::Float { name, size }),
        (name(), id(), prop::option::of(0u32..100), any::<bool>()).prop_map(
            |(value, target, component, attr)| TypeSpec::DeclTag {
                value,
                target,
                component,
                attr
            }
        ),
        (name(), id(), any::<bool>()).prop_map(|(value, target, attr)| TypeSpec::TypeTag {
            value,
            target,
            attr
        }),
    ]
}

fn graph() -> impl Strategy<Value = Vec<TypeSpec>> {
    (1u32..40).prop_flat_map(|n| prop::collection::vec(spec(n), n as usize))
}

fn build(specs: &[TypeSpec]) -> BtfBuilder {
    let mut b = BtfBuilder::new();
    for s in specs {
        b.add(s).unwrap();
    }
    b
}

/// Run every query on every id (and a few past the end); none may panic.
fn exercise(btf: &Btf<'_>) {
    let _ = btf.validate();
    for i in 0..btf.end_id().0 + 3 {
        let id = BtfTypeId(i);
        let _ = btf.type_spec(id);
        let _ = btf.size_of(id);
        let _ = btf.align_of(id);
        let _ = btf.resolve(id);
        let _ = btf.member_by_name(id, "a");
        let _ = btf.member_at_offset(id, 3);
        let _ = btf.type_to_string(id);
        let _ = btf.decl_tags_of(id);
        for kind in [
            CoreReloKind::FieldByteOffset,
            CoreReloKind::TypeSize,
            CoreReloKind::EnumvalValue,
        ] {
            let _ = CoreSpec::parse(btf, id, "0:1:0", kind);
        }
        if let Ok(t) = btf.type_by_id(id) {
            let _ = t.name();
            if let Some(c) = t.as_composite() {
                for m in c.members() {
                    let _ = m.name();
                }
            }
        }
    }
    for n in NAMES {
        let _ = btf.find_by_name_kind(n, BtfKind::Struct);
        let _ = btf.find_kfunc(n);
    }
    let _ = btf.kfuncs();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn build_parse_roundtrip(specs in graph(), big in any::<bool>()) {
        let order = if big { ByteOrder::Big } else { ByteOrder::Little };
        let b = build(&specs);
        let bytes = b.to_bytes(order);
        let btf = Btf::parse(&bytes).unwrap();
        prop_assert_eq!(btf.own_type_count(), specs.len());
        let back: Vec<TypeSpec> = btf.own_ids().map(|id| btf.type_spec(id).unwrap()).collect();
        prop_assert_eq!(&back, &specs);
        // Re-building from what was parsed gives identical bytes.
        prop_assert_eq!(&build(&back).to_bytes(order), &bytes);
        exercise(&btf);
    }

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(btf) = Btf::parse(&data) {
            exercise(&btf);
        }
        let _ = BtfExt::parse(&data);
    }

    #[test]
    fn mutated_btf_never_panics(
        specs in graph(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = build(&specs).to_bytes(ByteOrder::Little);
        for (at, v) in flips {
            let i = at.index(bytes.len());
            bytes[i] = v;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Ok(btf) = Btf::parse(&bytes) {
            exercise(&btf);
        }
    }

    #[test]
    fn ext_roundtrip_and_mutation(
        funcs in prop::collection::vec((any::<u32>(), any::<u32>()), 1..5),
        lines in prop::collection::vec(any::<[u32; 4]>(), 1..5),
        relos in prop::collection::vec((any::<u32>(), any::<u32>(), any::<u32>(), 0u32..13), 1..5),
        flip in any::<prop::sample::Index>(),
        v in any::<u8>(),
    ) {
        let mut b = BtfExtBuilder::default();
        let f: Vec<_> = funcs.iter().map(|&(o, t)| FuncInfoRec { insn_off: o, type_id: BtfTypeId(t) }).collect();
        let l: Vec<_> = lines
            .iter()
            .map(|w| LineInfoRec { insn_off: w[0], file_name_off: w[1], line_off: w[2], line_col: w[3] })
            .collect();
        let c: Vec<_> = relos
            .iter()
            .map(|&(o, t, a, k)| CoreReloRec {
                insn_off: o,
                type_id: BtfTypeId(t),
                access_str_off: a,
                kind: CoreReloKind::from_u32(k).unwrap(),
            })
            .collect();
        b.func_info(1, f.clone()).line_info(2, l.clone()).core_relo(3, c.clone());
        for order in [ByteOrder::Little, ByteOrder::Big] {
            let bytes = b.to_bytes(order);
            let ext = BtfExt::parse(&bytes).unwrap();
            prop_assert_eq!(ext.func_info[0].func_infos().collect::<Vec<_>>(), f.clone());
            prop_assert_eq!(ext.line_info[0].line_infos().collect::<Vec<_>>(), l.clone());
            prop_assert_eq!(ext.core_relo[0].core_relos().collect::<Vec<_>>(), c.clone());
            prop_assert_eq!(ext.core_relo[0].sec_name_off, 3);
            let mut m = bytes.clone();
            let i = flip.index(m.len());
            m[i] = v;
            if let Ok(ext) = BtfExt::parse(&m) {
                for s in ext.func_info.iter().chain(&ext.line_info).chain(&ext.core_relo) {
                    let _ = s.func_infos().count() + s.line_infos().count() + s.core_relos().count();
                }
            }
        }
    }
}
