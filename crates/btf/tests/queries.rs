//! Hand-built BTF: every kind, queries, printing, split BTF, both byte orders.

use bpfcheck_btf::builder::{MemberSpec, TypeSpec};
use bpfcheck_btf::types::{IntEncoding, Linkage, VarSecInfo};
use bpfcheck_btf::{Btf, BtfBuilder, BtfErrorKind, BtfKind, BtfTypeId, ByteOrder, Type};
use std::sync::Arc;

struct Ids {
    int: BtfTypeId,
    long: BtfTypeId,
    chr: BtfTypeId,
    void_ptr: BtfTypeId,
    task: BtfTypeId,
    task_ptr: BtfTypeId,
    cb_ptr: BtfTypeId,
    kfunc: BtfTypeId,
    arr: BtfTypeId,
    cptr: BtfTypeId,
}

fn m(name: &str, ty: BtfTypeId, bit_offset: u32, bitfield_size: u8) -> MemberSpec {
    MemberSpec {
        name: name.into(),
        ty,
        bit_offset,
        bitfield_size,
    }
}

fn sample() -> (BtfBuilder, Ids) {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let long = b.int("long", 8, true);
    let chr = b
        .add(&TypeSpec::Int {
            name: "char".into(),
            size: 1,
            encoding: 2,
            offset: 0,
            bits: 8,
        })
        .unwrap();
    let void_ptr = b.ptr(BtfTypeId::VOID);
    let arr = b
        .add(&TypeSpec::Array {
            elem: chr,
            index: int,
            nelems: 16,
        })
        .unwrap();
    // struct task_struct { int pid; union { long a; int b; }; char comm[16]; unsigned x:3, y:5; }
    let anon = b
        .add(&TypeSpec::Union {
            name: "".into(),
            size: 8,
            members: vec![m("a", long, 0, 0), m("b", int, 0, 0)],
        })
        .unwrap();
    let task = b
        .add(&TypeSpec::Struct {
            name: "task_struct".into(),
            size: 40,
            members: vec![
                m("pid", int, 0, 0),
                m("", anon, 64, 0),
                m("comm", arr, 128, 0),
                m("x", int, 256, 3),
                m("y", int, 259, 5),
            ],
        })
        .unwrap();
    let task_ptr = b.ptr(task);
    let proto = b
        .add(&TypeSpec::FuncProto {
            ret: int,
            params: vec![("p".into(), void_ptr), ("n".into(), long)],
        })
        .unwrap();
    let cb_ptr = b.ptr(proto);
    let kfunc = b
        .func("bpf_task_acquire", task_ptr, &[("p", task_ptr)])
        .unwrap();
    b.add(&TypeSpec::DeclTag {
        value: "bpf_kfunc".into(),
        target: kfunc,
        component: None,
        attr: false,
    })
    .unwrap();
    b.add(&TypeSpec::DeclTag {
        value: "arg".into(),
        target: kfunc,
        component: Some(0),
        attr: true,
    })
    .unwrap();
    let cchr = b.add(&TypeSpec::Const { ty: chr }).unwrap();
    let cptr = b.ptr(cchr);
    b.add(&TypeSpec::Enum {
        name: "e".into(),
        size: 4,
        signed: true,
        values: vec![("A".into(), u64::MAX), ("B".into(), 7)],
    })
    .unwrap();
    b.add(&TypeSpec::Enum64 {
        name: "e64".into(),
        size: 8,
        signed: false,
        values: vec![("C".into(), 1 << 40)],
    })
    .unwrap();
    b.add(&TypeSpec::Fwd {
        name: "u".into(),
        union: true,
    })
    .unwrap();
    b.add(&TypeSpec::Typedef {
        name: "pid_t".into(),
        ty: int,
    })
    .unwrap();
    b.add(&TypeSpec::Float {
        name: "double".into(),
        size: 8,
    })
    .unwrap();
    let tt = b
        .add(&TypeSpec::TypeTag {
            value: "rcu".into(),
            target: task,
            attr: false,
        })
        .unwrap();
    b.ptr(tt);
    let var = b
        .add(&TypeSpec::Var {
            name: "g".into(),
            ty: int,
            linkage: Linkage::Global,
        })
        .unwrap();
    b.add(&TypeSpec::Datasec {
        name: ".data".into(),
        size: 4,
        entries: vec![VarSecInfo {
            ty: var,
            offset: 0,
            size: 4,
        }],
    })
    .unwrap();
    (
        b,
        Ids {
            int,
            long,
            chr,
            void_ptr,
            task,
            task_ptr,
            cb_ptr,
            kfunc,
            arr,
            cptr,
        },
    )
}

#[test]
fn both_byte_orders_parse_validate_and_agree() {
    let (b, ids) = sample();
    let le = b.to_bytes(ByteOrder::Little);
    let be = b.to_bytes(ByteOrder::Big);
    assert_ne!(le, be);
    let (l, bb) = (Btf::parse(&le).unwrap(), Btf::parse(&be).unwrap());
    assert_eq!(bb.byte_order(), ByteOrder::Big);
    l.validate().unwrap();
    bb.validate().unwrap();
    for id in l.own_ids() {
        assert_eq!(l.type_spec(id).unwrap(), bb.type_spec(id).unwrap());
    }
    assert_eq!(
        bb.member_by_name(ids.task, "comm")
            .unwrap()
            .unwrap()
            .bit_offset,
        128
    );
}

#[test]
fn views_and_kind_flags() {
    let (b, ids) = sample();
    let bytes = b.to_bytes(ByteOrder::Little);
    let btf = Btf::parse(&bytes).unwrap();
    let Type::Int(i) = btf.type_by_id(ids.chr).unwrap() else {
        panic!()
    };
    assert_eq!(
        (i.encoding(), i.bits(), i.size()),
        (IntEncoding::Char, 8, 1)
    );
    let c = btf.composite(ids.task).unwrap();
    assert!(c.kind_flag());
    let x = c.member(3).unwrap();
    assert_eq!(
        (x.name().unwrap(), x.bit_offset, x.bitfield_size),
        ("x", 256, 3)
    );
    let e = btf
        .find_by_name_kind("e", BtfKind::Enum)
        .unwrap()
        .as_enum()
        .unwrap();
    assert!(e.is_signed());
    assert_eq!(e.value(0).unwrap().as_i64(), -1);
    let e64 = btf
        .find_by_name_kind("e64", BtfKind::Enum64)
        .unwrap()
        .as_enum()
        .unwrap();
    assert_eq!(e64.value(0).unwrap().raw, 1 << 40);
    let Type::Fwd(f) = btf.find_by_name("u").unwrap() else {
        panic!()
    };
    assert!(f.is_union());
    let tags = btf.decl_tags_of(ids.kfunc);
    assert_eq!(tags.len(), 2);
    assert_eq!(tags[1].component_idx(), Ok(Some(0)));
    assert!(tags[1].is_attribute() && !tags[0].is_attribute());
    assert_eq!(
        btf.find_by_name_kind("void", BtfKind::Void).unwrap().id(),
        BtfTypeId::VOID
    );
    assert!(
        btf.find_by_name_kind("task_struct", BtfKind::Union)
            .is_none()
    );
}

#[test]
fn sizes_alignment_and_members() {
    let (b, ids) = sample();
    let bytes = b.to_bytes(ByteOrder::Little);
    let btf = Btf::parse(&bytes).unwrap();
    assert_eq!(btf.size_of(ids.task).unwrap(), 40);
    assert_eq!(btf.size_of(ids.arr).unwrap(), 16);
    assert_eq!(btf.size_of(ids.task_ptr).unwrap(), 8);
    assert_eq!(
        btf.size_of(btf.find_by_name("pid_t").unwrap().id())
            .unwrap(),
        4
    );
    assert_eq!(btf.size_of(btf.find_by_name("g").unwrap().id()).unwrap(), 4);
    assert_eq!(
        btf.size_of(BtfTypeId::VOID).unwrap_err().kind(),
        BtfErrorKind::NotSized
    );
    assert_eq!(
        btf.size_of(ids.kfunc).unwrap_err().kind(),
        BtfErrorKind::NotSized
    );
    assert_eq!(btf.align_of(ids.task).unwrap(), 8);
    assert_eq!(btf.align_of(ids.arr).unwrap(), 1);
    // `a` lives in an anonymous union at byte 8.
    let a = btf.member_by_name(ids.task, "a").unwrap().unwrap();
    assert_eq!((a.bit_offset, a.member.ty), (64, ids.long));
    assert!(btf.member_by_name(ids.task, "nope").unwrap().is_none());
    assert!(btf.member_by_name(ids.task_ptr, "pid").is_err());
    let at = btf.member_at_offset(ids.task, 20).unwrap().unwrap();
    assert_eq!(at.member.name().unwrap(), "comm");
    let at = btf.member_at_offset(ids.task, 32).unwrap().unwrap();
    assert_eq!(at.member.name().unwrap(), "x");
    assert!(btf.member_at_offset(ids.task, 36).unwrap().is_none());
    assert_eq!(
        btf.resolve(btf.find_by_name("pid_t").unwrap().id())
            .unwrap()
            .id(),
        ids.int
    );
}

#[test]
fn btf_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Btf<'static>>();
    assert_send_sync::<Btf<'_>>();
}

#[test]
fn kfuncs_by_decl_tag() {
    let (b, ids) = sample();
    let bytes = b.to_bytes(ByteOrder::Little);
    let btf = Btf::parse(&bytes).unwrap();
    let f = btf.find_kfunc("bpf_task_acquire").unwrap();
    assert_eq!(f.id(), ids.kfunc);
    assert_eq!(btf.kfuncs().len(), 1);
    assert!(btf.find_kfunc("task_struct").is_none());
}

#[test]
fn printer() {
    let (b, ids) = sample();
    let bytes = b.to_bytes(ByteOrder::Little);
    let btf = Btf::parse(&bytes).unwrap();
    assert_eq!(btf.type_to_string(ids.task_ptr), "struct task_struct *");
    assert_eq!(btf.type_to_string(ids.cb_ptr), "int (*)(void *, long)");
    assert_eq!(btf.type_to_string(ids.arr), "char[16]");
    assert_eq!(btf.type_to_string(ids.cptr), "const char *");
    assert_eq!(btf.type_to_string(ids.void_ptr), "void *");
    assert_eq!(
        btf.type_to_string(ids.kfunc),
        "struct task_struct *bpf_task_acquire(struct task_struct *)"
    );
    assert_eq!(
        btf.decl_to_string(ids.cb_ptr, "cb"),
        "int (*cb)(void *, long)"
    );
    assert_eq!(btf.type_to_string(BtfTypeId(9999)), "<bad type 9999>");
    let mut b2 = BtfBuilder::new();
    let i = b2.int("int", 4, true);
    let p = b2.ptr(i);
    let cp = b2.add(&TypeSpec::Const { ty: p }).unwrap();
    let bytes = b2.to_bytes(ByteOrder::Little);
    let btf2 = Btf::parse(&bytes).unwrap();
    assert_eq!(btf2.type_to_string(cp), "int *const");
    let _ = ids.int;
}

#[test]
fn split_btf_continues_ids_and_strings() {
    let (b, ids) = sample();
    let base = Arc::new(Btf::from_arc(b.to_bytes(ByteOrder::Little).into()).unwrap());
    let mut sb = BtfBuilder::new_split(&base);
    let first = sb.next_id();
    assert_eq!(first, base.end_id());
    let modp = sb.ptr(ids.task);
    let mod_s = sb.struct_("mod_struct", 8, &[("t", modp, 0)]).unwrap();
    let kf = sb.func("mod_kfunc", ids.int, &[("t", modp)]).unwrap();
    sb.add(&TypeSpec::DeclTag {
        value: "bpf_kfunc".into(),
        target: kf,
        component: None,
        attr: false,
    })
    .unwrap();
    let bytes = sb.to_bytes(ByteOrder::Little);
    let split = Btf::from_arc_split(bytes.into(), base.clone()).unwrap();
    split.validate().unwrap();
    assert_eq!(split.first_id(), first);
    assert_eq!(
        split
            .find_by_name_kind("mod_struct", BtfKind::Struct)
            .unwrap()
            .id(),
        mod_s
    );
    assert_eq!(
        split
            .find_by_name_kind("task_struct", BtfKind::Struct)
            .unwrap()
            .id(),
        ids.task
    );
    assert_eq!(split.type_to_string(mod_s), "struct mod_struct");
    assert_eq!(split.type_to_string(modp), "struct task_struct *");
    assert!(split.find_kfunc("mod_kfunc").is_some());
    assert!(split.find_kfunc("bpf_task_acquire").is_some());
    assert_eq!(split.kfuncs().len(), 2);
    assert_eq!(
        split.member_by_name(mod_s, "t").unwrap().unwrap().member.ty,
        modp
    );
    // The member name "t" must come from the split strings, "pid" from the base.
    assert!(split.str_at(split.str_end()).is_err());
}

fn raw_btf(f: impl FnOnce(&mut BtfBuilder)) -> Vec<u8> {
    let mut b = BtfBuilder::new();
    f(&mut b);
    b.to_bytes(ByteOrder::Little)
}

fn validate_kind(bytes: &[u8]) -> BtfErrorKind {
    match Btf::parse(bytes) {
        Err(e) => e.kind(),
        Ok(b) => b
            .validate()
            .expect_err("expected a validation error")
            .kind(),
    }
}

#[test]
fn validation_errors_are_structured() {
    use BtfErrorKind as K;
    let ok = raw_btf(|b| {
        b.int("int", 4, true);
    });
    assert!(Btf::parse(&ok).unwrap().validate().is_ok());
    // Header problems.
    assert_eq!(
        Btf::parse(&ok[..10]).unwrap_err().kind(),
        K::TruncatedHeader
    );
    let mut bad = ok.clone();
    bad[0] = 0;
    assert_eq!(Btf::parse(&bad).unwrap_err().kind(), K::BadMagic);
    let mut bad = ok.clone();
    bad[2] = 2;
    assert_eq!(Btf::parse(&bad).unwrap_err().kind(), K::UnsupportedVersion);
    let mut bad = ok.clone();
    bad.push(0);
    assert_eq!(Btf::parse(&bad).unwrap_err().kind(), K::BadSectionLayout);
    let mut bad = ok;
    *bad.last_mut().unwrap() = b'x';
    assert_eq!(Btf::parse(&bad).unwrap_err().kind(), K::BadStringSection);
    // Type records.
    let kind = |k: u32, vlen: u32, kflag: bool| u32::from(kflag) << 31 | k << 24 | vlen;
    let e = Btf::parse(&raw_btf(|b| {
        b.add_raw(0, kind(25, 0, false), 0, &[]);
    }))
    .unwrap_err();
    assert_eq!(
        (e.kind(), e.type_id(), e.offset()),
        (K::UnknownKind, Some(BtfTypeId(1)), Some(24))
    );
    assert_eq!(
        Btf::parse(&raw_btf(|b| {
            b.add_raw(0, kind(4, 3, false), 4, &[0, 1, 0]);
        }))
        .unwrap_err()
        .kind(),
        K::TruncatedType
    );
    let cases: Vec<(K, Vec<u8>)> = vec![
        (
            K::BadKindFlag,
            raw_btf(|b| {
                b.add_raw(0, kind(2, 0, true), 0, &[]);
            }),
        ),
        (
            K::BadVlen,
            raw_btf(|b| {
                b.add_raw(0, kind(2, 1, false), 0, &[]);
            }),
        ),
        (
            K::StringOffsetOutOfRange,
            raw_btf(|b| {
                b.add_raw(999, kind(1, 0, false), 4, &[32]);
            }),
        ),
        (
            K::TypeIdOutOfRange,
            raw_btf(|b| {
                b.add_raw(0, kind(2, 0, false), 7, &[]);
            }),
        ),
        (
            K::InvalidName,
            raw_btf(|b| {
                let n = b.add_str("a b");
                b.add_raw(n, kind(8, 0, false), 0, &[]);
            }),
        ),
        (
            K::BadSize,
            raw_btf(|b| {
                let n = b.add_str("i");
                b.add_raw(n, kind(1, 0, false), 2, &[24]);
            }),
        ),
        (
            K::BadIntEncoding,
            raw_btf(|b| {
                let n = b.add_str("i");
                b.add_raw(n, kind(1, 0, false), 4, &[3 << 24 | 32]);
            }),
        ),
        (
            K::Loop,
            raw_btf(|b| {
                b.add_raw(0, kind(10, 0, false), 2, &[]);
                b.add_raw(0, kind(9, 0, false), 1, &[]);
            }),
        ),
        (
            K::Loop,
            raw_btf(|b| {
                b.add_raw(0, kind(2, 0, false), 1, &[]);
            }),
        ),
        (
            K::NotSized,
            raw_btf(|b| {
                let i = b.int("int", 4, true);
                let f = b
                    .add(&TypeSpec::Fwd {
                        name: "f".into(),
                        union: false,
                    })
                    .unwrap();
                b.struct_("s", 8, &[("a", i, 0), ("b", f, 4)]).unwrap();
            }),
        ),
        (
            K::BadOffset,
            raw_btf(|b| {
                let i = b.int("int", 4, true);
                b.struct_("s", 4, &[("a", i, 0), ("b", i, 2)]).unwrap();
            }),
        ),
        (
            K::BadReferencedKind,
            raw_btf(|b| {
                let i = b.int("int", 4, true);
                let n = b.add_str("f");
                b.add_raw(n, kind(12, 0, false), i.0, &[]);
            }),
        ),
        (
            K::BadComponentIndex,
            raw_btf(|b| {
                let i = b.int("int", 4, true);
                let s = b.struct_("s", 4, &[("a", i, 0)]).unwrap();
                b.add(&TypeSpec::DeclTag {
                    value: "t".into(),
                    target: s,
                    component: Some(1),
                    attr: false,
                })
                .unwrap();
            }),
        ),
        (
            K::BadLinkage,
            raw_btf(|b| {
                let i = b.int("int", 4, true);
                b.add(&TypeSpec::Var {
                    name: "v".into(),
                    ty: i,
                    linkage: Linkage::Extern,
                })
                .unwrap();
            }),
        ),
        (K::TruncatedType, raw_btf(|_| {})),
        (
            K::BadInfo,
            raw_btf(|b| {
                b.add_raw(0, kind(2, 0, false) | 1 << 20, 0, &[]);
            }),
        ),
        (
            K::InvalidName,
            raw_btf(|b| {
                let i = b.int("int", 4, true);
                b.func("f", i, &[("", i)]).unwrap();
            }),
        ),
        (
            K::BadReferencedKind,
            raw_btf(|b| {
                let i = b.int("int", 4, true);
                let c = b.add(&TypeSpec::Const { ty: i }).unwrap();
                b.add(&TypeSpec::TypeTag {
                    value: "user".into(),
                    target: c,
                    attr: false,
                })
                .unwrap();
                let c2 = b.add(&TypeSpec::Const { ty: BtfTypeId(3) }).unwrap();
                b.ptr(c2);
            }),
        ),
        (
            K::Loop,
            raw_btf(|b| {
                let i = b.int("int", 4, true);
                let arr = b
                    .add(&TypeSpec::Array {
                        elem: BtfTypeId(3),
                        index: i,
                        nelems: 1,
                    })
                    .unwrap();
                b.struct_("s", 8, &[("a", arr, 0)]).unwrap();
            }),
        ),
    ];
    for (want, bytes) in cases {
        let e = match Btf::parse(&bytes) {
            Err(e) => e,
            Ok(b) => b.validate().expect_err("expected a validation error"),
        };
        assert_eq!(e.kind(), want, "{e}");
        if want != K::TruncatedType {
            assert!(e.type_id().is_some() && e.offset().is_some(), "{e}");
        }
    }
    assert_eq!(
        validate_kind(&raw_btf(|b| {
            b.add_raw(0, kind(10, 0, false), 1, &[]);
        })),
        K::Loop
    );
    // Queries on a looping chain report it rather than spinning.
    let bytes = raw_btf(|b| {
        b.add_raw(0, kind(10, 0, false), 2, &[]);
        b.add_raw(0, kind(9, 0, false), 1, &[]);
    });
    let btf = Btf::parse(&bytes).unwrap();
    assert_eq!(btf.resolve(BtfTypeId(1)).unwrap_err().kind(), K::Loop);
    assert_eq!(btf.size_of(BtfTypeId(1)).unwrap_err().kind(), K::Loop);
    assert!(btf.type_to_string(BtfTypeId(1)).matches("const").count() > 3);
}
