//! `.BTF.ext` parsing and CO-RE access specs.

use bpfcheck_btf::builder::{MemberSpec, TypeSpec};
use bpfcheck_btf::core::{CoreSpec, parse_access_string};
use bpfcheck_btf::ext::{
    BtfExt, BtfExtBuilder, CoreReloKind, CoreReloRec, FuncInfoRec, LineInfoRec,
};
use bpfcheck_btf::{Btf, BtfBuilder, BtfErrorKind, BtfTypeId, ByteOrder};

#[test]
fn ext_sections_and_errors() {
    let mut b = BtfExtBuilder::default();
    b.func_info(
        5,
        vec![
            FuncInfoRec {
                insn_off: 0,
                type_id: BtfTypeId(3),
            },
            FuncInfoRec {
                insn_off: 64,
                type_id: BtfTypeId(4),
            },
        ],
    )
    .line_info(
        5,
        vec![LineInfoRec {
            insn_off: 8,
            file_name_off: 1,
            line_off: 2,
            line_col: 42 << 10 | 7,
        }],
    )
    .core_relo(
        9,
        vec![CoreReloRec {
            insn_off: 16,
            type_id: BtfTypeId(2),
            access_str_off: 3,
            kind: CoreReloKind::FieldExists,
        }],
    );
    let bytes = b.to_bytes(ByteOrder::Little);
    let ext = BtfExt::parse(&bytes).unwrap();
    assert_eq!(ext.hdr_len, 32);
    assert_eq!(ext.func_info.len(), 1);
    assert_eq!(ext.func_info[0].num_info, 2);
    let li = ext.line_info[0].line_infos().next().unwrap();
    assert_eq!((li.line(), li.column()), (42, 7));
    assert_eq!(
        ext.core_relo[0].core_relos().next().unwrap().kind,
        CoreReloKind::FieldExists
    );

    // Unknown relocation kind: the record's kind word is the last 4 bytes.
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 4..].copy_from_slice(&13u32.to_le_bytes());
    let e = BtfExt::parse(&bad).unwrap_err();
    assert_eq!(
        (e.kind(), e.offset()),
        (BtfErrorKind::UnknownCoreReloKind, Some(n - 4))
    );
    // A record size below the known minimum.
    let mut bad = bytes.clone();
    bad[32..36].copy_from_slice(&4u32.to_le_bytes());
    assert_eq!(
        BtfExt::parse(&bad).unwrap_err().kind(),
        BtfErrorKind::BadRecordSize
    );
    // num_info larger than the subsection.
    let mut bad = bytes.clone();
    bad[40..44].copy_from_slice(&100u32.to_le_bytes());
    assert_eq!(
        BtfExt::parse(&bad).unwrap_err().kind(),
        BtfErrorKind::TruncatedSection
    );
    assert_eq!(
        BtfExt::parse(&bytes[..20]).unwrap_err().kind(),
        BtfErrorKind::TruncatedHeader
    );
    // A 24-byte header (no CO-RE) still parses; longer records are accepted.
    let mut old = bytes[..24].to_vec();
    old[4..8].copy_from_slice(&24u32.to_le_bytes());
    old[16..24].copy_from_slice(&[0; 8]);
    old[12..16].copy_from_slice(&16u32.to_le_bytes());
    old.extend_from_slice(&12u32.to_le_bytes()); // rec_size 12 > 8
    old.extend_from_slice(&[5, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 3, 0, 0, 0, 9, 9, 9, 9]);
    old.truncate(24 + 4 + 8 + 12);
    old[12..16].copy_from_slice(&24u32.to_le_bytes());
    let ext = BtfExt::parse(&old).unwrap();
    assert!(ext.core_relo.is_empty());
    assert_eq!(
        ext.func_info[0].func_infos().next().unwrap(),
        FuncInfoRec {
            insn_off: 8,
            type_id: BtfTypeId(3)
        }
    );
    assert_eq!(
        BtfExt::parse(&b.to_bytes(ByteOrder::Big))
            .unwrap()
            .func_info[0]
            .num_info,
        2
    );
}

#[test]
fn core_access_specs() {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let arr = b
        .add(&TypeSpec::Array {
            elem: int,
            index: int,
            nelems: 4,
        })
        .unwrap();
    let flex = b
        .add(&TypeSpec::Array {
            elem: int,
            index: int,
            nelems: 0,
        })
        .unwrap();
    let anon = b.struct_("", 8, &[("x", int, 0), ("y", int, 4)]).unwrap();
    let s = b
        .add(&TypeSpec::Struct {
            name: "s".into(),
            size: 32,
            members: vec![
                MemberSpec {
                    name: "a".into(),
                    ty: int,
                    bit_offset: 0,
                    bitfield_size: 0,
                },
                MemberSpec {
                    name: "".into(),
                    ty: anon,
                    bit_offset: 32,
                    bitfield_size: 0,
                },
                MemberSpec {
                    name: "arr".into(),
                    ty: arr,
                    bit_offset: 96,
                    bitfield_size: 0,
                },
                MemberSpec {
                    name: "tail".into(),
                    ty: flex,
                    bit_offset: 224,
                    bitfield_size: 0,
                },
            ],
        })
        .unwrap();
    let td = b
        .add(&TypeSpec::Typedef {
            name: "s_t".into(),
            ty: s,
        })
        .unwrap();
    let e = b
        .add(&TypeSpec::Enum {
            name: "e".into(),
            size: 4,
            signed: false,
            values: vec![("A".into(), 0), ("B".into(), 1)],
        })
        .unwrap();
    let bytes = b.to_bytes(ByteOrder::Little);
    let btf = Btf::parse(&bytes).unwrap();
    btf.validate().unwrap();

    let sp = CoreSpec::parse(&btf, td, "0:1:1", CoreReloKind::FieldByteOffset).unwrap();
    assert_eq!(sp.bit_offset, 64);
    let names: Vec<_> = sp.accessors.iter().map(|a| a.name.clone()).collect();
    assert_eq!(
        names,
        vec![None, Some("y".to_string())],
        "anonymous members are not listed"
    );
    let sp = CoreSpec::parse(&btf, s, "1:2:3", CoreReloKind::FieldByteSize).unwrap();
    assert_eq!(sp.bit_offset, 32 * 8 + 96 + 3 * 32);
    assert!(CoreSpec::parse(&btf, s, "0:2:4", CoreReloKind::FieldExists).is_err());
    assert_eq!(
        CoreSpec::parse(&btf, s, "0:3:100", CoreReloKind::FieldExists)
            .unwrap()
            .bit_offset,
        224 + 3200
    );
    assert!(
        CoreSpec::parse(&btf, s, "0:0:1", CoreReloKind::FieldExists).is_err(),
        "int is not indexable"
    );
    assert!(CoreSpec::parse(&btf, s, "0:9", CoreReloKind::FieldExists).is_err());
    let sp = CoreSpec::parse(&btf, s, "0", CoreReloKind::TypeSize).unwrap();
    assert!(sp.accessors.is_empty());
    assert!(CoreSpec::parse(&btf, s, "0:1", CoreReloKind::TypeExists).is_err());
    let sp = CoreSpec::parse(&btf, e, "1", CoreReloKind::EnumvalValue).unwrap();
    assert_eq!(sp.accessors[0].name.as_deref(), Some("B"));
    assert!(CoreSpec::parse(&btf, e, "2", CoreReloKind::EnumvalExists).is_err());
    assert!(CoreSpec::parse(&btf, s, "0", CoreReloKind::EnumvalExists).is_err());
    for bad in ["", ":", "0:", "a", "-1", "0::1", "99999999999"] {
        assert_eq!(
            parse_access_string(bad).unwrap_err().kind(),
            BtfErrorKind::BadAccessString,
            "{bad:?}"
        );
    }
    assert_eq!(parse_access_string("0:10:2").unwrap(), vec![0, 10, 2]);
    assert!(parse_access_string(&vec!["0"; 65].join(":")).is_err());
}
