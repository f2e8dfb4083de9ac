//! Parsing and load-request tests on the committed fixture objects
//! (sources and `build.sh` in `tests/fixtures/`).

use std::path::Path;

use bpfcheck_obj::maps::{BPF_F_MMAPABLE, BPF_F_RDONLY_PROG};
use bpfcheck_obj::request::POISON_CALL_KFUNC_BASE;
use bpfcheck_obj::{
    Extern, ExternKind, ExternResolver, KsymValue, LoadOptions, MapOrigin, ObjError, Object,
    ProgramRequest,
};
use bpfcheck_uapi::{AttachType, ByteOrder, MapType, ProgType, RawInsn, op};

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(p).expect("fixture present")
}

fn parse(name: &str) -> Object {
    let stem = name.split('.').next().unwrap_or(name);
    Object::parse_named(&fixture(name), stem).expect("fixture parses")
}

fn request<'a>(reqs: &'a [ProgramRequest], name: &str) -> &'a ProgramRequest {
    reqs.iter()
        .find(|r| r.name == name)
        .expect("program present")
}

fn is_call(i: &RawInsn) -> bool {
    i.code == op::JMP | op::CALL && i.src == op::PSEUDO_CALL
}

#[test]
fn programs_sections_and_order() {
    let obj = parse("progs.o");
    assert_eq!(obj.byte_order, ByteOrder::Little);
    assert_eq!(obj.license, "GPL");
    let progs: Vec<_> = obj
        .programs()
        .map(|p| (p.name.as_str(), p.section.as_str(), p.autoload))
        .collect();
    assert_eq!(
        progs,
        [
            ("xdp_first", "xdp", true),
            ("xdp_second", "xdp", true),
            ("tc_prog", "tc", true),
            ("tp_off", "tracepoint/syscalls/sys_enter_getpid", false),
        ]
    );
    let subs: Vec<_> = obj
        .functions
        .iter()
        .filter(|f| obj.is_subprogram(f))
        .map(|f| (f.name.as_str(), f.global))
        .collect();
    assert_eq!(
        subs,
        [("add_one", true), ("twice", false), ("loop_cb", false)]
    );

    let reqs = obj
        .load_requests(&LoadOptions::default())
        .expect("requests");
    let first = &request(&reqs, "xdp_first").request;
    assert_eq!(
        (first.prog_type, first.expected_attach_type),
        (ProgType::XDP, AttachType::XDP)
    );
    assert_eq!(first.license, "GPL");
    let tp = &request(&reqs, "tp_off").request;
    assert_eq!(tp.prog_type, ProgType::TRACEPOINT);
    assert!(!request(&reqs, "tp_off").autoload);
    assert_eq!(
        request(&reqs, "tc_prog").request.prog_type,
        ProgType::SCHED_CLS
    );
}

#[test]
fn maps_follow_libbpf() {
    let obj = parse("progs.o");
    let maps: Vec<_> = obj
        .maps
        .iter()
        .map(|m| (m.name.as_str(), m.origin))
        .collect();
    assert_eq!(
        maps,
        [
            ("counts", MapOrigin::Btf),
            ("table", MapOrigin::Btf),
            ("outer", MapOrigin::Btf),
            ("progs.data", MapOrigin::Data),
            ("progs.rodata", MapOrigin::Rodata),
            (".data.custom", MapOrigin::Data),
            (".rodata.custom", MapOrigin::Rodata),
            ("progs.bss", MapOrigin::Bss),
        ]
    );
    let counts = &obj.maps[0].spec;
    assert_eq!(
        (
            counts.map_type,
            counts.key_size,
            counts.value_size,
            counts.max_entries
        ),
        (MapType::HASH, 4, 8, 16)
    );
    assert!(counts.btf_key_type_id != 0 && counts.btf_value_type_id != 0);
    assert_eq!(obj.maps[1].spec.flags, BPF_F_RDONLY_PROG);
    let outer = &obj.maps[2].spec;
    assert_eq!(
        (outer.map_type, outer.value_size),
        (MapType::ARRAY_OF_MAPS, 4)
    );
    let inner = outer.inner.as_deref().expect("inner template");
    assert_eq!(
        (
            inner.name.as_str(),
            inner.map_type,
            inner.key_size,
            inner.value_size,
            inner.max_entries
        ),
        ("outer.inner", MapType::ARRAY, 4, 8, 1)
    );

    let data = &obj.maps[3].spec;
    // data_var = 7 (clang folds the never-written static_data away).
    assert_eq!(data.initial_value.as_deref(), Some(&7u64.to_le_bytes()[..]));
    assert_eq!(data.flags, BPF_F_MMAPABLE);
    assert!(!data.frozen);
    let rodata = &obj.maps[4].spec;
    assert_eq!(rodata.flags, BPF_F_RDONLY_PROG | BPF_F_MMAPABLE);
    assert!(rodata.frozen);
    assert_eq!(
        rodata.initial_value.as_deref(),
        Some(&3u32.to_le_bytes()[..])
    );
    assert!(rodata.btf_value_type_id != 0);
    let bss = &obj.maps[7].spec;
    assert_eq!((bss.value_size, bss.initial_value.as_deref()), (8, None));
}

#[test]
fn relocations_point_at_maps_and_subprograms() {
    let obj = parse("progs.o");
    let reqs = obj
        .load_requests(&LoadOptions::default())
        .expect("requests");
    let first = &request(&reqs, "xdp_first").request;
    let map_refs: Vec<_> = first
        .insns
        .windows(2)
        .filter(|w| w[0].code == op::LD | op::IMM | op::DW && w[0].src != 0)
        .map(|w| (w[0].src, w[0].imm, w[1].imm))
        .collect();
    // counts by fd, data_var in .data, rodata_var in .rodata, bss_var in
    // twice() (appended subprogram).
    assert_eq!(
        map_refs,
        [
            (op::PSEUDO_MAP_FD, 0, 0),
            (op::PSEUDO_MAP_VALUE, 3, 0),
            (op::PSEUDO_MAP_VALUE, 4, 0),
            (op::PSEUDO_MAP_VALUE, 7, 0),
        ]
    );
    // Every BPF-to-BPF call lands on the first instruction of a function
    // that func_info lists.
    let starts: Vec<u32> = first.func_info.iter().map(|f| f.insn_off).collect();
    assert_eq!(starts[0], 0);
    assert_eq!(starts.len(), 3, "xdp_first, twice, add_one");
    for (i, insn) in first.insns.iter().enumerate() {
        if is_call(insn) {
            let target = i as i64 + i64::from(insn.imm) + 1;
            assert!(starts.contains(&(target as u32)), "call at {i} to {target}");
        }
    }
    // Line info is rebased and ordered.
    assert!(
        first
            .line_info
            .windows(2)
            .all(|w| w[0].insn_off <= w[1].insn_off)
    );
    assert!(
        first
            .line_info
            .iter()
            .all(|l| (l.insn_off as usize) < first.insns.len())
    );

    // The callback address is a BPF_PSEUDO_FUNC ld_imm64 to loop_cb.
    let second = &request(&reqs, "xdp_second").request;
    let (at, cb) = second
        .insns
        .iter()
        .enumerate()
        .find(|(_, i)| i.code == op::LD | op::IMM | op::DW && i.src == op::PSEUDO_FUNC)
        .expect("callback reference");
    let target = at as i64 + i64::from(cb.imm) + 1;
    assert!(
        second
            .func_info
            .iter()
            .any(|f| i64::from(f.insn_off) == target)
    );
    assert!(second.prog_btf.is_some());
}

#[test]
fn big_endian_object_relocates_alike() {
    let le = parse("progs.o");
    let be = Object::parse_named(&fixture("progs_eb.o"), "progs").expect("bpfeb parses");
    assert_eq!(be.byte_order, ByteOrder::Big);
    let opts = LoadOptions::default();
    let (lr, br) = (
        le.load_requests(&opts).expect("le"),
        be.load_requests(&opts).expect("be"),
    );
    assert_eq!(lr.len(), br.len());
    for (l, b) in lr.iter().zip(&br) {
        assert_eq!(l.name, b.name);
        assert_eq!(l.request.insns, b.request.insns, "{}", l.name);
        assert_eq!(l.request.func_info.len(), b.request.func_info.len());
        assert_eq!(l.request.line_info.len(), b.request.line_info.len());
    }
    let names = |o: &Object| o.maps.iter().map(|m| m.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&le), names(&be));
    let rodata = &be.maps[4].spec;
    assert_eq!(
        rodata.initial_value.as_deref(),
        Some(&3u32.to_be_bytes()[..])
    );
}

#[test]
fn legacy_maps_section() {
    let obj = parse("legacy.o");
    assert_eq!(obj.kern_version, Some(0x060c00));
    let maps: Vec<_> = obj
        .maps
        .iter()
        .map(|m| {
            let s = &m.spec;
            (
                m.name.as_str(),
                m.origin,
                s.map_type,
                s.key_size,
                s.value_size,
                s.max_entries,
            )
        })
        .collect();
    assert_eq!(
        maps,
        [
            ("old_hash", MapOrigin::Legacy, MapType::HASH, 4, 8, 32),
            ("old_array", MapOrigin::Legacy, MapType::ARRAY, 4, 4, 2),
        ]
    );
    let reqs = obj
        .load_requests(&LoadOptions::default())
        .expect("requests");
    let sock = &request(&reqs, "sock").request;
    assert_eq!(sock.kern_version, 0x060c00);
    let refs: Vec<_> = sock
        .insns
        .iter()
        .filter(|i| i.code == op::LD | op::IMM | op::DW)
        .map(|i| (i.src, i.imm))
        .collect();
    assert_eq!(refs, [(op::PSEUDO_MAP_FD, 1), (op::PSEUDO_MAP_FD, 0)]);
}

struct Profile;

impl ExternResolver for Profile {
    fn kconfig(&self, ext: &Extern) -> Option<Vec<u8>> {
        match ext.name.as_str() {
            "LINUX_KERNEL_VERSION" => Some(0x0006_1200u32.to_le_bytes().to_vec()),
            _ => None,
        }
    }
    fn ksym(&self, ext: &Extern) -> Option<KsymValue> {
        match ext.name.as_str() {
            "bpf_rcu_read_lock" => Some(KsymValue::BtfId(1000)),
            "_text" => Some(KsymValue::Address(0xffff_ffff_8100_0000)),
            _ => None,
        }
    }
}

#[test]
fn externs_are_listed_and_resolved() {
    let obj = parse("externs.o");
    let ext: Vec<_> = obj
        .externs
        .iter()
        .map(|e| (e.name.as_str(), e.weak, e.kind))
        .collect();
    assert_eq!(
        ext[0],
        (
            "LINUX_KERNEL_VERSION",
            false,
            ExternKind::Kconfig {
                offset: 0,
                size: 4,
                align: 4
            }
        )
    );
    assert_eq!(
        ext[1],
        (
            "CONFIG_BPF_SYSCALL",
            true,
            ExternKind::Kconfig {
                offset: 4,
                size: 1,
                align: 1
            }
        )
    );
    let ksyms: Vec<_> = ext[2..].iter().map(|e| (e.0, e.1)).collect();
    assert_eq!(
        ksyms,
        [
            ("_text", false),
            ("bpf_no_such_kfunc", true),
            ("bpf_rcu_read_lock", false),
            ("bpf_rcu_read_unlock", false),
        ]
    );
    let kconfig = obj.kconfig_map().expect("kconfig map");
    assert_eq!(obj.maps[kconfig].name, "externs.kconfig");
    assert_eq!(obj.maps[kconfig].spec.value_size, 5);

    // Without a profile: the program using them fails, the others load.
    let none = LoadOptions::default();
    assert!(obj.load_request("plain", &none).is_ok());
    let err = obj.load_request("BPF_PROG_fentry", &none).unwrap_err();
    assert!(
        matches!(
            &err,
            ObjError::UnresolvedExtern { name, section: ".kconfig", program } if name == "LINUX_KERNEL_VERSION" && program == "BPF_PROG_fentry"
        ),
        "{err}"
    );
    assert!(obj.load_requests(&none).is_err());

    let opts = LoadOptions {
        resolver: Some(&Profile),
        kernel_version: Some(0x0006_1200),
        target_btf: None,
    };
    let fentry = obj
        .load_request("BPF_PROG_fentry", &opts)
        .expect("resolved")
        .request;
    assert_eq!(fentry.attach_target.as_deref(), Some("bpf_fentry_test1"));
    assert_eq!(fentry.kern_version, 0x0006_1200);
    assert_eq!(fentry.expected_attach_type, AttachType::TRACE_FENTRY);
    let lds: Vec<_> = fentry
        .insns
        .windows(2)
        .filter(|w| w[0].code == op::LD | op::IMM | op::DW)
        .map(|w| (w[0].src, w[0].imm, w[1].imm))
        .collect();
    let k = kconfig as i32;
    assert_eq!(
        lds,
        [(op::PSEUDO_MAP_VALUE, k, 0), (op::PSEUDO_MAP_VALUE, k, 4)]
    );
    let value = fentry.maps[kconfig]
        .initial_value
        .clone()
        .expect("kconfig value");
    assert_eq!(value, [0x00, 0x12, 0x06, 0x00, 0x00]);

    // bpf_rcu_read_unlock is neither resolved nor weak.
    let err = obj.load_request("uses_ksym", &opts).unwrap_err();
    assert!(
        matches!(&err, ObjError::UnresolvedExtern { name, .. } if name == "bpf_rcu_read_unlock")
    );
    struct All;
    impl ExternResolver for All {
        fn kconfig(&self, _: &Extern) -> Option<Vec<u8>> {
            None
        }
        fn ksym(&self, ext: &Extern) -> Option<KsymValue> {
            match ext.name.as_str() {
                "bpf_rcu_read_unlock" => Some(KsymValue::BtfId(1001)),
                "bpf_no_such_kfunc" => None,
                _ => Profile.ksym(ext),
            }
        }
    }
    let all = LoadOptions {
        resolver: Some(&All),
        ..LoadOptions::default()
    };
    let tp = obj
        .load_request("uses_ksym", &all)
        .expect("resolved")
        .request;
    assert_eq!(tp.attach_target.as_deref(), Some("btf_trace_sched_switch"));
    let calls: Vec<_> = tp
        .insns
        .iter()
        .filter(|i| i.code == op::JMP | op::CALL)
        .map(|i| (i.src, i.imm))
        .collect();
    // The unresolved weak kfunc is poisoned with its extern index, as
    // libbpf does, so the verifier complains only if it is reachable.
    let weak_idx = obj
        .externs
        .iter()
        .position(|e| e.name == "bpf_no_such_kfunc")
        .expect("weak kfunc") as i32;
    assert_eq!(
        calls,
        [
            (op::PSEUDO_KFUNC_CALL, 1000),
            (op::PSEUDO_KFUNC_CALL, 1001),
            (0, POISON_CALL_KFUNC_BASE + weak_idx),
        ]
    );
    let ld = tp
        .insns
        .windows(2)
        .find(|w| w[0].code == op::LD | op::IMM | op::DW)
        .expect("ksym load");
    assert_eq!(
        (ld[0].src, ld[0].imm, ld[1].imm),
        (0, 0x8100_0000u32 as i32, -1)
    );
}

#[test]
fn static_function_in_program_section_is_rejected() {
    let err = Object::parse(&fixture("bad_static.o")).unwrap_err();
    assert!(
        matches!(&err, ObjError::Unsupported { what } if what.contains("in_sec")),
        "{err}"
    );
}

#[test]
fn non_elf_input_is_an_error() {
    assert!(matches!(Object::parse(b"hello"), Err(ObjError::Elf { .. })));
    assert!(Object::parse(&[]).is_err());
    let bytes = fixture("progs.o");
    assert!(Object::parse(&bytes[..64]).is_err());
}

fn loader_fixture(name: &str) -> Object {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/c/loader")
        .join(name);
    let bytes = std::fs::read(&p).expect("loader fixture present");
    Object::parse_named(&bytes, &bpfcheck_obj::object_name_from_path(&p)).expect("parses")
}

/// Found by the libbpf oracle's kernel comparison: the kernel refused to
/// create these maps from bpfcheck's requests (EINVAL / ENOTSUPP) because
/// they carried the BTF key and value types libbpf drops, and a perf event
/// array without max_entries, which libbpf sizes to the possible CPUs.
#[test]
fn maps_are_requested_as_libbpf_creates_them() {
    for (file, map) in [
        ("maps_events.v3.o", "events"),
        ("maps_special.v3.o", "queue"),
        ("maps_special.v3.o", "traces"),
        ("maps_in_maps.v3.o", "outer_arr"),
        ("maps_sock.v3.o", "sock_map"),
        ("maps_redirect.v3.o", "xsks"),
        ("maps_redirect.v3.o", "devmap"),
    ] {
        let obj = loader_fixture(file);
        let idx = obj.maps.iter().position(|m| m.name == map).expect("map");
        let reqs = obj
            .load_requests(&LoadOptions::default())
            .expect("requests");
        let spec = &reqs[0].request.maps[idx];
        assert_eq!(
            (spec.btf_key_type_id, spec.btf_value_type_id),
            (0, 0),
            "{file}: {map}"
        );
        if map == "events" {
            assert_eq!(obj.maps[idx].spec.max_entries, 0, "as defined");
            let cpus = bpfcheck_obj::maps::host_possible_cpus().unwrap_or(0);
            assert_eq!(spec.max_entries, cpus, "as created");
        }
    }
    // Other maps keep their BTF types.
    let obj = loader_fixture("maps_array_hash.v3.o");
    let reqs = obj
        .load_requests(&LoadOptions::default())
        .expect("requests");
    let arr = &reqs[0].request.maps[0];
    assert_eq!(arr.name, "arr");
    assert!(arr.btf_key_type_id != 0 && arr.btf_value_type_id != 0);
}

/// Found by the same comparison: BTF-attached programs were requested with
/// attach_btf_id 0, which the kernel refuses ("must provide btf_id");
/// libbpf looks the target up in the kernel's BTF.
#[test]
fn attach_btf_id_comes_from_the_target_btf() {
    let Ok(raw) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        eprintln!("*** SKIPPED: no /sys/kernel/btf/vmlinux ***");
        return;
    };
    let vmlinux = bpfcheck_obj::bpfcheck_btf::Btf::parse(&raw).expect("vmlinux BTF");
    let obj = loader_fixture("tracing.v3.o");
    let with = LoadOptions {
        target_btf: Some(&vmlinux),
        ..LoadOptions::default()
    };
    let id = |name: &str, kind| {
        vmlinux
            .find_by_name_kind(name, kind)
            .map(|t| t.id().0)
            .expect("in vmlinux")
    };
    use bpfcheck_obj::bpfcheck_btf::BtfKind;
    for (prog, target, kind) in [
        ("fentry_test1", "bpf_fentry_test1", BtfKind::Func),
        ("fmod_ret_test", "bpf_modify_return_test", BtfKind::Func),
        (
            "tp_btf_exit",
            "btf_trace_sched_process_exit",
            BtfKind::Typedef,
        ),
        ("iter_tasks", "bpf_iter_task", BtfKind::Func),
    ] {
        let r = obj.load_request(prog, &with).expect("request").request;
        assert_eq!(r.attach_btf_id, id(target, kind), "{prog}");
        assert_eq!(r.attach_target.as_deref(), Some(target));
    }
    let kprobe = obj.load_request("kprobe_entry", &with).expect("request");
    assert_eq!(kprobe.request.attach_btf_id, 0);
}

/// Found by the libbpf oracle over the selftests (naked functions): the
/// kernel refuses BTF whose FUNC prototype has an unnamed argument; libbpf
/// then loads without BTF, which bpfcheck's requests must mirror or the
/// load fails at BPF_BTF_LOAD.
#[test]
fn kernel_refused_btf_is_left_out_as_libbpf_does() {
    let obj = loader_fixture("naked_btf.v3.o");
    let why = obj.btf_refused.as_deref().expect("refused");
    assert!(
        why.contains("FUNC naked_filter") && why.ends_with("Invalid arg#1"),
        "{why}"
    );
    for r in obj
        .load_requests(&LoadOptions::default())
        .expect("requests")
    {
        let q = &r.request;
        assert!(q.prog_btf.is_none(), "{}", r.name);
        assert!(
            q.func_info.is_empty() && q.line_info.is_empty(),
            "{}",
            r.name
        );
        assert!(
            q.maps
                .iter()
                .all(|m| m.btf_key_type_id == 0 && m.btf_value_type_id == 0)
        );
    }
    // An object with valid BTF keeps it.
    let obj = loader_fixture("subprogs.v3.o");
    assert!(obj.btf_refused.is_none());
    let reqs = obj
        .load_requests(&LoadOptions::default())
        .expect("requests");
    assert!(reqs.iter().all(|r| r.request.prog_btf.is_some()));
}

/// Found by the same comparison (tcp congestion controls): struct_ops
/// programs need their map's kernel type as attach_btf_id and their
/// member's index as expected_attach_type; the maps are STRUCT_OPS maps
/// of the kernel's value type.
#[test]
fn struct_ops_maps_and_programs() {
    let obj = loader_fixture("struct_ops.v3.o");
    let maps: Vec<_> = obj
        .maps
        .iter()
        .map(|m| {
            (
                m.name.as_str(),
                m.spec.map_type,
                m.spec.value_size,
                m.spec.flags,
            )
        })
        .collect();
    assert_eq!(
        maps,
        [
            ("fx_cc", MapType::STRUCT_OPS, 48, 0),
            (
                "fx_cc_link",
                MapType::STRUCT_OPS,
                48,
                bpfcheck_obj::struct_ops::BPF_F_LINK
            ),
        ]
    );
    // Without the kernel's BTF nothing is known of the kernel's struct.
    let r = obj
        .load_request("fx_undo_cwnd", &LoadOptions::default())
        .expect("request")
        .request;
    assert_eq!((r.attach_btf_id, r.expected_attach_type.0), (0, 0));
    let Ok(raw) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        eprintln!("*** SKIPPED: no /sys/kernel/btf/vmlinux ***");
        return;
    };
    use bpfcheck_obj::bpfcheck_btf::{Btf, BtfKind};
    let vmlinux = Btf::parse(&raw).expect("vmlinux BTF");
    let with = LoadOptions {
        target_btf: Some(&vmlinux),
        ..LoadOptions::default()
    };
    let ops = vmlinux
        .find_by_name_kind("tcp_congestion_ops", BtfKind::Struct)
        .expect("tcp_congestion_ops");
    let index = |member: &str| {
        ops.as_composite()
            .expect("struct")
            .members()
            .position(|m| m.name().ok() == Some(member))
            .expect("member") as u32
    };
    for (prog, member) in [
        ("fx_ssthresh", "ssthresh"),
        ("fx_cong_avoid", "cong_avoid"),
        ("fx_undo_cwnd", "undo_cwnd"),
        ("fx_init", "init"),
    ] {
        let r = obj.load_request(prog, &with).expect("request").request;
        assert_eq!(r.prog_type, ProgType::STRUCT_OPS);
        assert_eq!(
            (r.attach_btf_id, r.expected_attach_type.0),
            (ops.id().0, index(member)),
            "{prog}"
        );
        let value = vmlinux
            .find_by_name_kind("bpf_struct_ops_tcp_congestion_ops", BtfKind::Struct)
            .expect("value type");
        for m in &r.maps {
            assert_eq!(m.btf_vmlinux_value_type_id, value.id().0);
            assert_eq!(m.value_size, value.as_composite().expect("struct").size());
            assert_eq!(m.btf_value_type_id, 0);
        }
    }
}

/// Found by the libbpf oracle over the selftests (task_kfunc_success):
/// kfuncs are looked up by their essential name, and a flavour whose
/// prototype is incompatible with the kernel's stays unresolved.
#[test]
fn kfunc_flavours_resolve_like_libbpf() {
    let Ok(raw) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        eprintln!("*** SKIPPED: no /sys/kernel/btf/vmlinux ***");
        return;
    };
    use bpfcheck_obj::bpfcheck_btf::{Btf, BtfKind};
    let vmlinux = Btf::parse(&raw).expect("vmlinux BTF");
    struct Vmlinux<'a>(&'a Btf<'a>);
    impl ExternResolver for Vmlinux<'_> {
        fn kconfig(&self, _: &Extern) -> Option<Vec<u8>> {
            None
        }
        fn ksym(&self, ext: &Extern) -> Option<KsymValue> {
            let ExternKind::Ksym { func, .. } = ext.kind else {
                return None;
            };
            let kind = if func { BtfKind::Func } else { BtfKind::Var };
            self.0
                .find_by_name_kind(&ext.name, kind)
                .map(|t| KsymValue::BtfId(t.id().0))
        }
    }
    let resolver = Vmlinux(&vmlinux);
    let opts = LoadOptions {
        resolver: Some(&resolver),
        target_btf: Some(&vmlinux),
        ..LoadOptions::default()
    };
    let obj = loader_fixture("ksyms.v3.o");
    let r = obj
        .load_request("flavored_kfunc", &opts)
        .expect("request")
        .request;
    let acquire = vmlinux
        .find_by_name_kind("bpf_task_acquire", BtfKind::Func)
        .expect("bpf_task_acquire")
        .id()
        .0 as i32;
    let ld: Vec<_> = r
        .insns
        .iter()
        .filter(|i| i.code == op::LD | op::IMM | op::DW)
        .map(|i| (i.src, i.imm))
        .collect();
    // `&bpf_task_acquire___one` is the kfunc, `&bpf_task_acquire___two`
    // (two arguments) is not.
    assert_eq!(ld, [(op::PSEUDO_BTF_ID, acquire), (0, 0)]);
    let calls: Vec<_> = r
        .insns
        .iter()
        .filter(|i| is_kfunc_or_poison(i))
        .map(|i| (i.src, i.imm))
        .collect();
    assert_eq!(calls.first(), Some(&(op::PSEUDO_KFUNC_CALL, acquire)));
    assert!(
        calls
            .iter()
            .any(|&(src, imm)| src == 0 && imm >= POISON_CALL_KFUNC_BASE),
        "{calls:?}"
    );
}

fn is_kfunc_or_poison(i: &RawInsn) -> bool {
    i.code == op::JMP | op::CALL
        && (i.src == op::PSEUDO_KFUNC_CALL || (i.src == 0 && i.imm >= POISON_CALL_KFUNC_BASE))
}

/// Found by the libbpf oracle over the selftests (exceptions): the
/// exception callback named by a decl tag is appended to its program,
/// after the subprograms the program calls.
#[test]
fn exception_callbacks_are_appended() {
    let obj = loader_fixture("exceptions.v3.o");
    let cb = obj
        .functions
        .iter()
        .find(|f| f.name == "fx_exception_cb")
        .expect("callback");
    let check = obj
        .functions
        .iter()
        .find(|f| f.name == "check_len")
        .expect("subprogram");
    let main = obj.program("throwing").expect("program");
    // No kernel BTF needed: bpf_throw stays unresolved here.
    struct Throw;
    impl ExternResolver for Throw {
        fn kconfig(&self, _: &Extern) -> Option<Vec<u8>> {
            None
        }
        fn ksym(&self, _: &Extern) -> Option<KsymValue> {
            Some(KsymValue::BtfId(4242))
        }
    }
    let opts = LoadOptions {
        resolver: Some(&Throw),
        ..LoadOptions::default()
    };
    let r = obj
        .load_request("throwing", &opts)
        .expect("request")
        .request;
    let n = main.insns.len() + check.insns.len();
    assert_eq!(r.insns.len(), n + cb.insns.len());
    assert_eq!(&r.insns[n..], &cb.insns[..]);
    let starts: Vec<u32> = r.func_info.iter().map(|f| f.insn_off).collect();
    assert_eq!(starts, [0, main.insns.len() as u32, n as u32]);
    // A program without the tag gets no callback.
    let other = obj
        .load_request("not_throwing", &opts)
        .expect("request")
        .request;
    assert_eq!(
        other.insns.len(),
        obj.program("not_throwing").expect("p").insns.len()
    );
}

/// Found by the libbpf oracle over the selftests (test_custom_sec_handlers):
/// a program of an unknown section fails alone; libbpf loads the others.
#[test]
fn one_unpreparable_program_does_not_take_the_others() {
    let obj = loader_fixture("custom_sec.v3.o");
    assert!(matches!(
        obj.load_requests(&LoadOptions::default()),
        Err(ObjError::UnknownSection { .. })
    ));
    let each = obj.load_requests_each(&LoadOptions::default());
    let summary: Vec<_> = each
        .iter()
        .map(|(name, r)| (name.as_str(), r.is_ok()))
        .collect();
    assert_eq!(summary, [("custom_handler", false), ("known_filter", true)]);
    assert!(
        matches!(&each[0].1, Err(ObjError::UnknownSection { section, .. }) if section == "bpfcheck_custom/handler")
    );
}
