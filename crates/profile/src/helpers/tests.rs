use super::*;
use crate::KernelProfile;

const NOBODY: Capabilities = Capabilities {
    bpf: false,
    perfmon: false,
    net_admin: false,
    sys_admin: false,
};

fn table(d: HelperData) -> &'static HelperTable {
    d.table().unwrap()
}

#[test]
fn every_embedded_table_parses() {
    for (d, protos, max) in [
        (HelperData::V6_1, 260, 210),
        (HelperData::V6_12, 270, 212),
        (HelperData::V6_18, 270, 212),
    ] {
        let t = table(d);
        assert!(t.protos().len() > protos, "{}", t.kernel());
        assert_eq!(t.max_id(), max);
        assert!(t.dispatchers().contains(&"bpf_base_func_proto"));
    }
    assert_eq!(table(HelperData::V6_18).kernel(), "6.18");
}

#[test]
fn prototypes_carry_the_kernel_types() {
    let t = table(HelperData::V6_12);
    let p = t.proto("bpf_map_lookup_elem_proto").unwrap();
    assert_eq!(
        (p.id, p.name(), p.gpl_only),
        (1, "bpf_map_lookup_elem", false)
    );
    assert_eq!(p.ret.base, RetBase::PtrToMapValue);
    assert!(p.ret.flags.has(TypeFlag::PtrMaybeNull));
    assert_eq!(p.used_args().len(), 2);
    assert_eq!(p.args[0].base, ArgBase::ConstMapPtr);
    let p = t.proto("bpf_get_current_comm_proto").unwrap();
    assert_eq!(p.args[0].base, ArgBase::PtrToMem);
    assert!(p.args[0].flags.has(TypeFlag::MemUninit));
    let p = t.proto("bpf_task_pt_regs_proto").unwrap();
    assert_eq!(
        p.ret_btf,
        Some(BtfRef::Named {
            kind: "struct",
            name: "pt_regs"
        })
    );
    let p = t.proto("bpf_strtol_proto").unwrap();
    assert_eq!(p.arg_size[3], Some(8));
}

#[test]
fn resolution_follows_the_dispatchers() {
    let p = KernelProfile::builtin("6.12").unwrap();
    let ok = |id, pt, eat| p.helper(id, pt, eat).map(|h| h.symbol);
    // bpf_base_func_proto reached through sk_filter -> bpf_sk_base.
    assert_eq!(
        ok(1, ProgType::SOCKET_FILTER, AttachType(0)),
        Ok("bpf_map_lookup_elem_proto")
    );
    // Per-type prototypes of one helper.
    assert_eq!(
        ok(8, ProgType::SOCKET_FILTER, AttachType(0)),
        Ok("bpf_get_raw_smp_processor_id_proto")
    );
    assert_eq!(
        ok(8, ProgType::XDP, AttachType(0)),
        Ok("bpf_get_smp_processor_id_proto")
    );
    // Not offered, with the 6.12 wording.
    let e = p
        .helper(9, ProgType::SOCKET_FILTER, AttachType(0))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "program of this type cannot use helper bpf_skb_store_bytes#9"
    );
    assert_eq!(
        p.helper(212, ProgType::XDP, AttachType(0))
            .unwrap_err()
            .to_string(),
        "invalid func unknown#212"
    );
    assert_eq!(
        p.helper(-1, ProgType::XDP, AttachType(0))
            .unwrap_err()
            .to_string(),
        "invalid func unknown#-1"
    );
    // 6.1 words it differently and ends at 210.
    let old = KernelProfile::builtin("6.1").unwrap();
    assert_eq!(
        old.helper(9, ProgType::SOCKET_FILTER, AttachType(0))
            .unwrap_err()
            .to_string(),
        "unknown func bpf_skb_store_bytes#9"
    );
    assert_eq!(
        old.helper(210, ProgType::XDP, AttachType(0))
            .unwrap_err()
            .to_string(),
        "invalid func unknown#210"
    );
    assert_eq!(
        KernelProfile::builtin("5.10")
            .unwrap()
            .helper(1, ProgType::XDP, AttachType(0)),
        Err(HelperUnavailable::NoData)
    );
}

#[test]
fn capability_gates_of_bpf_base_func_proto() {
    let t = table(HelperData::V6_12);
    let q = |caps| ProgQuery::new(ProgType::SOCKET_FILTER, AttachType(0), caps);
    // bpf_spin_lock needs CAP_BPF; bpf_trace_printk CAP_PERFMON.
    assert!(t.resolve(93, &q(Capabilities::ROOT)).is_ok());
    assert!(t.resolve(93, &q(NOBODY)).is_err());
    let bpf_only = Capabilities {
        bpf: true,
        ..NOBODY
    };
    assert!(t.resolve(93, &q(bpf_only)).is_ok());
    assert!(t.resolve(6, &q(bpf_only)).is_err());
    let sys_admin = Capabilities {
        sys_admin: true,
        ..NOBODY
    };
    assert!(t.resolve(6, &q(sys_admin)).is_ok());
    assert!(t.resolve(1, &q(NOBODY)).is_ok());
}

#[test]
fn attach_type_and_program_conditions() {
    let t = table(HelperData::V6_12);
    let root = Capabilities::ROOT;
    let q = |pt, eat| ProgQuery::new(pt, eat, root);
    // bpf_get_func_ip: kprobe.multi vs plain kprobe prototypes.
    assert_eq!(
        t.resolve(173, &q(ProgType::KPROBE, AttachType(0)))
            .unwrap()
            .symbol,
        "bpf_get_func_ip_proto_kprobe"
    );
    assert_eq!(
        t.resolve(173, &q(ProgType::KPROBE, AttachType::TRACE_KPROBE_MULTI))
            .unwrap()
            .symbol,
        "bpf_get_func_ip_proto_kprobe_multi"
    );
    // bpf_get_func_arg only with a trampoline.
    assert!(
        t.resolve(183, &q(ProgType::TRACING, AttachType::TRACE_FENTRY))
            .is_ok()
    );
    assert!(
        t.resolve(183, &q(ProgType::TRACING, AttachType::TRACE_ITER))
            .is_err()
    );
    // bpf_seq_printf only for iterators.
    assert!(
        t.resolve(126, &q(ProgType::TRACING, AttachType::TRACE_ITER))
            .is_ok()
    );
    assert!(
        t.resolve(126, &q(ProgType::TRACING, AttachType::TRACE_FENTRY))
            .is_err()
    );
    // Sleepable variant of bpf_get_task_stack.
    let mut sq = q(ProgType::TRACING, AttachType::TRACE_FENTRY);
    sq.sleepable = true;
    assert_eq!(
        t.resolve(141, &sq).unwrap().symbol,
        "bpf_get_task_stack_sleepable_proto"
    );
    // LSM cgroup hooks: setsockopt depends on the hook.
    let mut lq = q(ProgType::LSM, AttachType::LSM_CGROUP);
    assert!(t.resolve(49, &lq).is_err());
    lq.attach_target = Some("bpf_lsm_socket_post_create");
    assert_eq!(
        t.resolve(49, &lq).unwrap().symbol,
        "bpf_unlocked_sk_setsockopt_proto"
    );
    // struct_ops answer through their own verifier ops.
    let mut so = q(ProgType::STRUCT_OPS, AttachType(0));
    assert!(t.resolve(1, &so).is_err());
    so.struct_ops = Some("tcp_congestion_ops");
    assert!(t.resolve(1, &so).is_ok());
    assert!(t.resolve(49, &so).is_ok());
    so.attach_target = Some("release");
    assert!(t.resolve(49, &so).is_err());
    // Extensions answer as their target.
    let mut ext = q(ProgType::EXT, AttachType(0));
    assert!(t.resolve(189, &ext).is_err());
    ext.ext_target = Some((ProgType::XDP, AttachType(0)));
    assert_eq!(
        t.resolve(189, &ext).unwrap().symbol,
        "bpf_xdp_load_bytes_proto"
    );
}

/// Cross-check against the reference extraction (not the source of the
/// data): /work/shared/reference/helper-{protos,progtype}-V.csv, when
/// present.
mod reference;
