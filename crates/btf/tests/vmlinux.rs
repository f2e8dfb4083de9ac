//! Against the running kernel's BTF, when there is one.

use bpfcheck_btf::{Btf, BtfKind, Type};

fn vmlinux() -> Option<Vec<u8>> {
    match std::fs::read("/sys/kernel/btf/vmlinux") {
        Ok(d) => Some(d),
        Err(_) => {
            eprintln!("SKIPPED (no /sys/kernel/btf/vmlinux)");
            None
        }
    }
}

#[test]
fn vmlinux_task_struct_kfuncs_bpf_map() {
    let Some(data) = vmlinux() else { return };
    let btf = Btf::parse(&data).unwrap();
    btf.validate().unwrap();
    // 6.18 has ~127k types; any recent kernel has tens of thousands.
    assert!(btf.own_type_count() > 50_000, "{}", btf.own_type_count());
    let task = btf
        .find_by_name_kind("task_struct", BtfKind::Struct)
        .unwrap();
    let pid = btf.member_by_name(task.id(), "pid").unwrap().unwrap();
    let tgid = btf.member_by_name(task.id(), "tgid").unwrap().unwrap();
    // pid_t pid; pid_t tgid; are adjacent in every kernel.
    assert_eq!(tgid.bit_offset, pid.bit_offset + 32);
    assert_eq!(btf.type_to_string(pid.member.ty), "pid_t");
    assert_eq!(btf.size_of(pid.member.ty).unwrap(), 4);
    assert_eq!(
        btf.size_of(task.id()).unwrap(),
        task.as_composite().unwrap().size()
    );
    let at = btf
        .member_at_offset(task.id(), pid.bit_offset / 8)
        .unwrap()
        .unwrap();
    assert_eq!(at.member.name().unwrap(), "pid");

    let kf = btf
        .find_kfunc("bpf_task_acquire")
        .or_else(|| btf.find_kfunc("bpf_obj_drop_impl"))
        .unwrap();
    let s = btf.type_to_string(kf.id());
    assert!(
        s.contains("bpf_task_acquire(struct task_struct *)") || s.contains("bpf_obj_drop_impl"),
        "{s}"
    );
    assert!(
        btf.find_kfunc("bpf_map_lookup_elem").is_none(),
        "a helper is not a kfunc"
    );
    let n = btf.kfuncs().len();
    assert!(n > 50, "{n} kfuncs");

    let map = btf
        .composite(
            btf.find_by_name_kind("bpf_map", BtfKind::Struct)
                .unwrap()
                .id(),
        )
        .unwrap();
    let names: Vec<&str> = map.members().map(|m| m.name().unwrap()).collect();
    for want in ["ops", "key_size", "value_size", "max_entries", "map_type"] {
        assert!(names.contains(&want), "bpf_map lacks {want}: {names:?}");
    }
    let ops = btf.member_by_name(map.id(), "ops").unwrap().unwrap();
    assert_eq!(
        btf.type_to_string(ops.member.ty),
        "const struct bpf_map_ops *"
    );
    // Every type prints and every sized type has a size without error.
    for t in btf.iter() {
        let _ = btf.type_to_string(t.id());
        if let Type::Struct(c) | Type::Union(c) = t {
            assert_eq!(btf.size_of(t.id()).unwrap(), c.size());
            btf.align_of(t.id()).unwrap();
        }
    }
    println!(
        "vmlinux: {} types, task_struct {} size {}, pid at bit {}, {} kfuncs",
        btf.own_type_count(),
        task.id(),
        task.as_composite().unwrap().size(),
        pid.bit_offset,
        n
    );
}

#[test]
fn vmlinux_split_module_if_present() {
    let Some(data) = vmlinux() else { return };
    let Ok(modbytes) = std::fs::read_dir("/sys/kernel/btf").map(|d| {
        d.filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.file_name().is_some_and(|n| n != "vmlinux"))
    }) else {
        return;
    };
    let Some(path) = modbytes else {
        eprintln!("SKIPPED (no module BTF in /sys/kernel/btf)");
        return;
    };
    let m = std::fs::read(&path).unwrap();
    let base = std::sync::Arc::new(Btf::parse(&data).unwrap());
    let split = Btf::parse_split(&m, base.clone()).unwrap();
    split.validate().unwrap();
    assert_eq!(split.first_id(), base.end_id());
    for t in split.iter().skip(base.own_type_count()) {
        let _ = btf_name(&t);
        let _ = split.type_to_string(t.id());
    }
    println!("{}: {} types", path.display(), split.own_type_count());
}

fn btf_name<'b>(t: &Type<'b>) -> &'b str {
    t.name().unwrap()
}
