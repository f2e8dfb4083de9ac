//! The checks the kernel makes before abstract interpretation. Every
//! expected message and errno here was observed on the live 6.18 kernel
//! (root); the differential fixture tests re-check them against it.

use bpfcheck_profile::{Capabilities, KernelProfile};
use bpfcheck_uapi::{Errno, FdRef, LoadRequest, MapSpec, MapType, ProgType, RawInsn, load};
use bpfcheck_verifier::{ErrorCode, LOG_LEVEL1, LOG_LEVEL2, Verdict, VerifyOptions, verify};

fn i(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> RawInsn {
    RawInsn::new(code, dst, src, off, imm)
}
const MOV0: RawInsn = RawInsn::new(0xb7, 0, 0, 0, 0);
const EXIT: RawInsn = RawInsn::new(0x95, 0, 0, 0, 0);

fn req(insns: Vec<RawInsn>) -> LoadRequest {
    LoadRequest {
        prog_type: ProgType::SOCKET_FILTER,
        insns,
        license: "GPL".into(),
        ..LoadRequest::default()
    }
}

fn profile() -> KernelProfile {
    KernelProfile::builtin("6.18").unwrap()
}

/// Verifies at log level 1 and returns (errno, message, log).
fn reject(r: &LoadRequest) -> (Errno, String, String) {
    let v = verify(
        r,
        &profile(),
        &VerifyOptions {
            log_level: LOG_LEVEL1,
        },
    );
    assert_eq!(v.verdict, Verdict::Rejected, "{v:?}");
    let e = v.error.unwrap();
    (e.errno, e.message, v.log.unwrap_or_default())
}

fn msg(insns: Vec<RawInsn>) -> String {
    reject(&req(insns)).1
}

#[test]
fn unreachable_code() {
    assert_eq!(msg(vec![MOV0, EXIT, MOV0, EXIT]), "unreachable insn 2");
}

#[test]
fn last_insn_must_end_the_subprogram() {
    assert_eq!(msg(vec![MOV0]), "last insn is not an exit or jmp");
    assert_eq!(
        msg(vec![MOV0, i(0x85, 0, 1, 0, 1), EXIT, MOV0]),
        "last insn is not an exit or jmp"
    );
    assert_eq!(
        msg(vec![MOV0, i(0x18, 1, 0, 0, 1)]),
        "last insn is not an exit or jmp"
    );
}

#[test]
fn call_targets_must_exist() {
    assert_eq!(
        msg(vec![i(0x85, 0, 1, 0, 5), EXIT]),
        "call to invalid destination"
    );
}

#[test]
fn jumps_stay_in_range() {
    assert_eq!(
        msg(vec![i(0x05, 0, 0, -5, 0), EXIT]),
        "jump out of range from insn 0 to -4"
    );
    assert_eq!(
        msg(vec![MOV0, i(0x06, 0, 0, 0, 100), EXIT]),
        "jump out of range from insn 1 to 102"
    );
    assert_eq!(
        msg(vec![MOV0, i(0x05, 0, 0, 5, 0), EXIT]),
        "jump out of range from insn 1 to 7"
    );
}

#[test]
fn jump_into_second_half_of_ld_imm64_leaves_first_half_unreached() {
    let p = vec![
        MOV0,
        i(0x05, 0, 0, 1, 0),
        i(0x18, 1, 0, 0, 1),
        i(0, 0, 0, 0, 0),
        EXIT,
    ];
    assert_eq!(msg(p), "unreachable insn 2");
}

#[test]
fn ld_imm64_encodings() {
    assert_eq!(
        msg(vec![i(0x18, 1, 0, 0, 1), i(0, 1, 0, 0, 0), MOV0, EXIT]),
        "invalid bpf_ld_imm64 insn"
    );
    assert_eq!(
        msg(vec![i(0x18, 1, 7, 0, 1), i(0, 0, 0, 0, 0), MOV0, EXIT]),
        "unrecognized bpf_ld_imm64 insn"
    );
    assert_eq!(
        msg(vec![i(0x18, 1, 1, 0, 77), i(0, 0, 0, 0, 5), MOV0, EXIT]),
        "unrecognized bpf_ld_imm64 insn"
    );
    let (errno, m, _) = reject(&req(vec![
        i(0x18, 1, 5, 0, 0),
        i(0, 0, 0, 0, 0),
        MOV0,
        EXIT,
    ]));
    assert_eq!(
        (errno, m.as_str()),
        (Errno::EPROTO, "fd_idx without fd_array is invalid")
    );
}

#[test]
fn map_references() {
    let (errno, m, _) = reject(&req(vec![
        i(0x18, 1, 1, 0, 77),
        i(0, 0, 0, 0, 0),
        MOV0,
        EXIT,
    ]));
    assert_eq!(
        (errno, m.as_str()),
        (Errno::EBADF, "fd 77 is not pointing to valid bpf_map")
    );

    let with_map = |map: MapSpec, off: i32| {
        let mut r = req(vec![i(0x18, 1, 2, 0, 0), i(0, 0, 0, 0, off), MOV0, EXIT]);
        r.maps = vec![map];
        r
    };
    let (errno, m, _) = reject(&with_map(MapSpec::new(MapType::ARRAY, 4, 8, 1), 8));
    assert_eq!(
        (errno, m.as_str()),
        (
            Errno::EINVAL,
            "invalid access to map value pointer, value_size=8 off=8"
        )
    );
    let (errno, m, _) = reject(&with_map(MapSpec::new(MapType::ARRAY, 4, 8, 2), 0));
    assert_eq!(
        (errno, m.as_str()),
        (
            Errno::ENOTSUPP,
            "invalid access to map value pointer, value_size=8 off=0"
        )
    );
    let (_, m, _) = reject(&with_map(MapSpec::new(MapType::HASH, 4, 8, 2), 0));
    assert_eq!(m, "no direct value access support for this map type");

    // Through fd_array, a valid single-entry array passes every check.
    let mut r = with_map(MapSpec::new(MapType::ARRAY, 4, 8, 1), 0);
    r.insns[0].src = 6;
    r.fd_array = Some(vec![FdRef::Map(0)]);
    let v = verify(&r, &profile(), &VerifyOptions::default());
    assert_eq!(v.verdict, Verdict::Accepted);
}

#[test]
fn sleepable_programs_use_few_map_types() {
    let mut r = req(vec![i(0x18, 1, 1, 0, 0), i(0, 0, 0, 0, 0), MOV0, EXIT]);
    r.maps = vec![MapSpec::new(MapType::PERF_EVENT_ARRAY, 4, 4, 4)];
    r.prog_flags = load::BPF_F_SLEEPABLE;
    assert_eq!(
        reject(&r).1,
        "Sleepable programs can only use array, hash, ringbuf and local storage maps, also as inner maps"
    );
    // The inner map of a map-in-map counts on the host's 6.18 build.
    let mut inner = MapSpec::new(MapType::ARRAY_OF_MAPS, 4, 4, 1);
    inner.inner = Some(Box::new(MapSpec::new(MapType::LPM_TRIE, 8, 4, 4)));
    r.maps = vec![inner.clone()];
    assert_eq!(
        reject(&r).1,
        "Sleepable programs can only use array, hash, ringbuf and local storage maps, also as inner maps"
    );
    inner.inner = Some(Box::new(MapSpec::new(MapType::HASH, 4, 4, 4)));
    r.maps = vec![inner];
    // The maps pass; what a socket filter refuses next is being sleepable.
    assert_eq!(
        reject(&r).1,
        "Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs can be sleepable"
    );
}

#[test]
fn unknown_opcodes_and_ldx_fields() {
    assert_eq!(
        msg(vec![MOV0, i(0x8d, 0, 0, 0, 0), EXIT]),
        "unknown opcode 8d"
    );
    assert_eq!(
        msg(vec![MOV0, i(0x61, 0, 1, 0, 1), EXIT]),
        "BPF_LDX uses reserved fields"
    );
}

#[test]
fn loops_need_cap_bpf() {
    // Root: the self-loop is allowed by check_cfg; the dead exit is not.
    assert_eq!(
        msg(vec![MOV0, i(0x05, 0, 0, -1, 0), EXIT]),
        "unreachable insn 2"
    );
    let mut unpriv = profile();
    unpriv.caps = Capabilities {
        bpf: false,
        perfmon: false,
        net_admin: false,
        sys_admin: false,
    };
    let r = req(vec![MOV0, i(0x15, 0, 0, -2, 0), EXIT]);
    let v = verify(&r, &unpriv, &VerifyOptions::default());
    assert_eq!(v.error.unwrap().message, "back-edge from insn 1 to 0");
    let r = req(vec![MOV0, i(0x85, 0, 1, 0, 1), EXIT, MOV0, EXIT]);
    let v = verify(&r, &unpriv, &VerifyOptions::default());
    assert_eq!(v.error.unwrap().code, ErrorCode::NeedsCapBpf);
}

#[test]
fn attribute_refusals_have_no_log() {
    let v = verify(
        &req(vec![]),
        &profile(),
        &VerifyOptions {
            log_level: LOG_LEVEL1,
        },
    );
    let e = v.error.unwrap();
    assert_eq!((e.errno, e.message.as_str()), (Errno::E2BIG, ""));
    assert_eq!(v.log.as_deref(), Some(""));
    let mut r = req(vec![MOV0, EXIT]);
    r.prog_type = ProgType::CGROUP_SKB;
    r.expected_attach_type = bpfcheck_uapi::AttachType::XDP;
    assert_eq!(
        verify(&r, &profile(), &VerifyOptions::default())
            .error
            .unwrap()
            .errno,
        Errno::EINVAL
    );
}

#[test]
fn logs_match_the_kernel_byte_for_byte() {
    let r = req(vec![MOV0, i(0x8d, 0, 0, 0, 0), EXIT]);
    let v = verify(
        &r,
        &profile(),
        &VerifyOptions {
            log_level: LOG_LEVEL2,
        },
    );
    let log = v.log.unwrap() + &bpfcheck_verifier::stats_trailer(LOG_LEVEL2, &v.stats.unwrap(), 0);
    assert_eq!(
        log,
        "func#0 @0\nunknown opcode 8d\nprocessed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"
    );
    let (_, _, log1) = reject(&req(vec![MOV0, i(0x05, 0, 0, 5, 0), EXIT]));
    assert_eq!(log1, "jump out of range from insn 1 to 7\n");
}

#[test]
fn structurally_sound_programs_are_not_guessed() {
    // `do_check` models `r1 = 0; r2 = 0; call kfunc; r0 = 0; exit`, but not
    // the rbtrees of `bpf_rbtree_first`: the program passes
    // every check before interpretation and must then be reported as
    // unsupported at the call, not judged.
    let p = profile();
    let btf = p.btf.as_ref().unwrap().btf().unwrap();
    let rbtree_first = btf
        .find_by_name_kind("bpf_rbtree_first", bpfcheck_btf::BtfKind::Func)
        .expect("6.18 has bpf_rbtree_first")
        .id()
        .0;
    let mut r = req(vec![
        i(0xb7, 1, 0, 0, 0),
        i(0xb7, 2, 0, 0, 0),
        i(0x85, 0, 2, 0, rbtree_first as i32),
        MOV0,
        EXIT,
    ]);
    r.prog_type = ProgType::SCHED_CLS;
    let v = verify(&r, &p, &VerifyOptions::default());
    assert_eq!(v.verdict, Verdict::Unsupported, "{:?}", v.error);
    let u = v.unsupported.unwrap();
    assert_eq!(
        (u.feature.as_str(), u.insn),
        ("kfunc bpf_rbtree_first: graph roots", Some(2.into()))
    );
    let v = verify(
        &req(vec![MOV0, EXIT]),
        &profile(),
        &VerifyOptions::default(),
    );
    assert_eq!(v.verdict, Verdict::Accepted);
}
