//! Tests against the running kernel. Each one skips loudly (see
//! `kernel_or_skip`) where `bpf()` is unavailable.

use std::os::fd::AsFd;

use bpfcheck_sys::{LoadOptions, LoadOutcome, SysError, TestRun, test_support::kernel_or_skip};
use bpfcheck_uapi::{
    FdRef, FuncInfo, LineInfo, LoadRequest, MapSpec, MapType, ProgType, RawInsn, op,
};

const EACCES: i32 = 13;
const EBADF: i32 = 9;
const EINVAL: i32 = 22;
const EPROTO: i32 = 71;

fn mov(dst: u8, imm: i32) -> RawInsn {
    RawInsn::new(op::ALU64 | op::MOV | op::K, dst, 0, 0, imm)
}
fn mov_reg(dst: u8, src: u8) -> RawInsn {
    RawInsn::new(op::ALU64 | op::MOV | op::X, dst, src, 0, 0)
}
fn exit() -> RawInsn {
    RawInsn::new(op::JMP | op::EXIT, 0, 0, 0, 0)
}
/// `ld_imm64 dst, imm` with a pseudo source: two slots.
fn ld_imm64(dst: u8, src: u8, imm: i32, hi: i32) -> [RawInsn; 2] {
    [
        RawInsn::new(op::LD | op::IMM | op::DW, dst, src, 0, imm),
        RawInsn::new(0, 0, 0, 0, hi),
    ]
}

/// `*(u32 *)(fp - 4) = 0; r2 = fp - 4; r1 = <map>; call map_lookup_elem`.
fn lookup(map_src: u8, map_imm: i32) -> Vec<RawInsn> {
    let mut v = vec![
        RawInsn::new(op::ST | op::MEM | op::W, 10, 0, -4, 0),
        mov_reg(2, 10),
        RawInsn::new(op::ALU64 | op::ADD | op::K, 2, 0, 0, -4),
    ];
    v.extend(ld_imm64(1, map_src, map_imm, 0));
    v.push(RawInsn::new(op::JMP | op::CALL, 0, 0, 0, 1));
    v
}

/// Lookup, null check, read the value, return 0.
fn checked_lookup(map_src: u8, map_imm: i32) -> Vec<RawInsn> {
    let mut v = lookup(map_src, map_imm);
    v.extend([
        RawInsn::new(op::JMP | op::JEQ | op::K, 0, 0, 1, 0),
        RawInsn::new(op::LDX | op::MEM | op::DW, 0, 0, 0, 0),
        mov(0, 0),
        exit(),
    ]);
    v
}

fn socket_filter(insns: Vec<RawInsn>) -> LoadRequest {
    LoadRequest {
        name: "bpfcheck_test".into(),
        prog_type: ProgType::SOCKET_FILTER,
        insns,
        license: "GPL".into(),
        ..LoadRequest::default()
    }
}

fn hash_map() -> MapSpec {
    MapSpec {
        name: "counts".into(),
        ..MapSpec::new(MapType::HASH, 4, 8, 1)
    }
}

fn load(req: &LoadRequest, opts: &LoadOptions, test: &str) -> Option<LoadOutcome> {
    let k = kernel_or_skip(test)?;
    match k.load(req, opts) {
        Ok(o) => Some(o),
        Err(e) => panic!("{test}: {e}"),
    }
}

#[test]
fn accepts_trivial_program_and_reports_info() {
    let req = socket_filter(vec![mov(0, 0), exit()]);
    let Some(o) = load(&req, &LoadOptions::default(), "accepts_trivial_program") else {
        return;
    };
    assert!(o.accepted, "{}", o.log);
    assert_eq!(o.errno, None);
    assert!(o.prog_fd.is_some());
    assert_eq!(o.verified_insns, Some(2));
    assert_eq!(o.xlated_len, Some(16));
    assert_eq!(o.error_line, None);
    assert!(!o.log_retried);
    assert_eq!(o.attr_size, 144);
    assert_eq!(o.stats.as_ref().map(|s| s.insns_processed), Some(2));
    assert_eq!(o.log.len() + 1, o.log_true_size as usize, "{}", o.log);

    let k = kernel_or_skip("accepts_trivial_program").expect("probed above");
    let fd = o.prog_fd.as_ref().expect("accepted");
    let info = k.prog_info(fd.as_fd()).expect("prog info");
    assert_eq!(info.prog_type, ProgType::SOCKET_FILTER);
    assert_eq!(info.name, "bpfcheck_test");
    assert_eq!(info.verified_insns, 2);
    assert!(info.gpl_compatible);
    assert!(info.id > 0);
}

#[test]
fn rejects_exit_without_r0() {
    for level in [1, 2] {
        let opts = LoadOptions {
            log_level: level,
            ..LoadOptions::default()
        };
        let Some(o) = load(
            &socket_filter(vec![exit()]),
            &opts,
            "rejects_exit_without_r0",
        ) else {
            return;
        };
        assert!(!o.accepted);
        assert!(o.prog_fd.is_none());
        assert_eq!(o.errno, Some(EACCES));
        assert_eq!(o.error_line.as_deref(), Some("R0 !read_ok"), "{}", o.log);
        assert_eq!(o.verified_insns, None);
        assert_eq!(o.stats.as_ref().map(|s| s.insns_processed), Some(1));
    }
}

#[test]
fn rejects_uninit_register_read() {
    let req = socket_filter(vec![mov_reg(0, 2), exit()]);
    let Some(o) = load(
        &req,
        &LoadOptions::default(),
        "rejects_uninit_register_read",
    ) else {
        return;
    };
    assert_eq!(o.errno, Some(EACCES));
    assert_eq!(o.error_line.as_deref(), Some("R2 !read_ok"));
}

#[test]
fn hash_map_through_ld_imm64_map_fd() {
    let mut req = socket_filter(checked_lookup(op::PSEUDO_MAP_FD, 0));
    req.maps.push(hash_map());
    let Some(o) = load(&req, &LoadOptions::default(), "hash_map_through_ld_imm64") else {
        return;
    };
    assert!(o.accepted, "{}", o.log);
    let map = o.map(0).expect("map created");
    assert_eq!(map.map_type(), MapType::HASH);
    map.update(&1u32.to_ne_bytes(), &7u64.to_ne_bytes(), 0)
        .expect("update");
    assert!(
        map.update(&[0; 3], &[0; 8], 0).is_err(),
        "short key refused"
    );

    // Without the null check the verifier refuses the dereference.
    let mut insns = lookup(op::PSEUDO_MAP_FD, 0);
    insns.extend([RawInsn::new(op::LDX | op::MEM | op::DW, 0, 0, 0, 0), exit()]);
    req.insns = insns;
    let Some(o) = load(&req, &LoadOptions::default(), "hash_map_through_ld_imm64") else {
        return;
    };
    assert_eq!(o.errno, Some(EACCES));
    assert_eq!(
        o.error_line.as_deref(),
        Some("R0 invalid mem access 'map_value_or_null'")
    );
}

#[test]
fn map_index_that_names_no_map_reaches_the_kernel() {
    let req = socket_filter(checked_lookup(op::PSEUDO_MAP_FD, 100_000));
    let Some(o) = load(&req, &LoadOptions::default(), "map_index_names_no_map") else {
        return;
    };
    assert_eq!(o.errno, Some(EBADF));
    assert_eq!(
        o.error_line.as_deref(),
        Some("fd 100000 is not pointing to valid bpf_map")
    );
}

#[test]
fn fd_array_with_pseudo_map_idx() {
    let mut req = socket_filter(checked_lookup(op::PSEUDO_MAP_IDX, 1));
    req.maps = vec![MapSpec::new(MapType::ARRAY, 4, 4, 1), hash_map()];
    req.fd_array = Some(vec![FdRef::Raw(-1), FdRef::Map(1)]);
    let Some(o) = load(
        &req,
        &LoadOptions::default(),
        "fd_array_with_pseudo_map_idx",
    ) else {
        return;
    };
    assert!(o.accepted, "{}", o.log);
    assert_eq!(o.attr_size, 144);

    // 6.14+: binding the leading entries up front needs the longer attr;
    // the -1 in slot 0 is then rejected before verification.
    req.fd_array = Some(vec![FdRef::Map(1), FdRef::Map(0)]);
    req.insns = checked_lookup(op::PSEUDO_MAP_IDX, 0);
    req.fd_array_cnt = 2;
    let Some(o) = load(
        &req,
        &LoadOptions::default(),
        "fd_array_with_pseudo_map_idx",
    ) else {
        return;
    };
    assert!(o.accepted, "{}", o.log);
    assert_eq!(o.attr_size, 152);

    req.fd_array = None;
    req.fd_array_cnt = 0;
    let Some(o) = load(
        &req,
        &LoadOptions::default(),
        "fd_array_with_pseudo_map_idx",
    ) else {
        return;
    };
    assert_eq!(o.errno, Some(EPROTO));
    assert_eq!(
        o.error_line.as_deref(),
        Some("fd_idx without fd_array is invalid")
    );

    req.fd_array = Some(vec![FdRef::Map(0)]);
    req.fd_array_cnt = 2;
    let k = kernel_or_skip("fd_array_with_pseudo_map_idx").expect("probed above");
    let e = k.load(&req, &LoadOptions::default()).unwrap_err();
    assert_eq!(e.errno, EINVAL);
    assert!(e.context.contains("fd_array_cnt 2"), "{e}");
}

#[test]
fn map_creation_errors_are_structured() {
    let mut req = socket_filter(vec![mov(0, 0), exit()]);
    req.maps.push(MapSpec {
        name: "bad".into(),
        ..MapSpec::new(MapType::HASH, 0, 8, 1)
    });
    let Some(k) = kernel_or_skip("map_creation_errors_are_structured") else {
        return;
    };
    let e: SysError = k.load(&req, &LoadOptions::default()).unwrap_err();
    assert_eq!(e.op, "BPF_MAP_CREATE");
    assert_eq!(e.errno, EINVAL);
    assert_eq!(
        e.to_string(),
        "BPF_MAP_CREATE (map 0 `bad`): EINVAL (22): Invalid argument"
    );
}

/// A BTF blob: `int`, `int (void)`, `static int main(void)` and the strings
/// for one line of line info.
fn tiny_btf() -> Vec<u8> {
    const STRINGS: &[u8] = b"\0int\0main\0a.c\0return 0;\0";
    let types: [u32; 10] = [
        1,
        1 << 24,
        4,
        (1 << 24) | 32, // [1] INT 'int' size 4, signed, 32 bits
        0,
        13 << 24,
        1, // [2] FUNC_PROTO returning [1], no params
        5,
        12 << 24,
        2, // [3] FUNC 'main' (static) of type [2]
    ];
    let type_len = (types.len() * 4) as u32;
    let mut b = Vec::new();
    b.extend(0xeb9f_u16.to_ne_bytes());
    b.extend([1u8, 0]); // version, flags
    for v in [24, 0, type_len, type_len, STRINGS.len() as u32] {
        b.extend(u32::to_ne_bytes(v));
    }
    for t in types {
        b.extend(t.to_ne_bytes());
    }
    b.extend(STRINGS);
    b
}

#[test]
fn btf_load_and_program_btf_with_line_info() {
    let Some(k) = kernel_or_skip("btf_load_and_program_btf") else {
        return;
    };
    k.load_btf(&tiny_btf()).expect("tiny BTF loads");

    let mut bad = tiny_btf();
    bad[0] = 0; // magic
    let e = k.load_btf(&bad).unwrap_err();
    assert_eq!(e.op, "BPF_BTF_LOAD");
    assert_eq!(e.errno, EINVAL);
    assert!(e.log.as_deref().is_some_and(|l| !l.is_empty()), "{e:?}");

    let mut req = socket_filter(vec![mov(0, 0), exit()]);
    req.prog_btf = Some(tiny_btf());
    req.func_info = vec![FuncInfo {
        insn_off: 0,
        type_id: 3,
    }];
    req.line_info = vec![LineInfo {
        insn_off: 0,
        file_name_off: 10,
        line_off: 14,
        line_col: (7 << 10) | 2,
    }];
    let opts = LoadOptions {
        log_level: 2,
        ..LoadOptions::default()
    };
    let o = k.load(&req, &opts).expect("load");
    assert!(o.accepted, "{}", o.log);
    assert!(o.log.contains("; return 0; @ a.c:7"), "{}", o.log);
    assert_eq!(o.btf_fds().len(), 1);
    let info = k
        .prog_info(o.prog_fd.as_ref().expect("accepted").as_fd())
        .expect("info");
    assert!(info.btf_id > 0);
}

#[test]
fn frozen_global_data_and_test_run() {
    // r1 = &map[0].value; r0 = *(u64 *)(r1 + 0); exit
    let mut insns = ld_imm64(1, op::PSEUDO_MAP_VALUE, 0, 0).to_vec();
    insns.extend([RawInsn::new(op::LDX | op::MEM | op::DW, 0, 1, 0, 0), exit()]);
    let mut req = socket_filter(insns);
    req.maps.push(MapSpec {
        name: ".rodata".into(),
        flags: 0x80, // BPF_F_RDONLY_PROG
        initial_value: Some(42u64.to_ne_bytes().to_vec()),
        frozen: true,
        ..MapSpec::new(MapType::ARRAY, 4, 8, 1)
    });
    let Some(o) = load(
        &req,
        &LoadOptions::default(),
        "frozen_global_data_and_test_run",
    ) else {
        return;
    };
    assert!(o.accepted, "{}", o.log);
    // Frozen: user space can no longer write it.
    let map = o.map(0).expect("map");
    assert!(map.update(&[0; 4], &[0; 8], 0).is_err());

    let k = kernel_or_skip("frozen_global_data_and_test_run").expect("probed above");
    let run = k
        .test_run(
            o.prog_fd.as_ref().expect("accepted").as_fd(),
            &TestRun {
                data_in: &[0u8; 64],
                repeat: 3,
                ..TestRun::default()
            },
        )
        .expect("test run");
    assert_eq!(run.retval, 42);
}

#[test]
fn truncated_log_is_fetched_again() {
    let req = socket_filter(checked_lookup(op::PSEUDO_MAP_FD, 0));
    let req = LoadRequest {
        maps: vec![hash_map()],
        ..req
    };
    for fixed_log in [false, true] {
        let opts = LoadOptions {
            log_level: 2,
            log_size: 64,
            fixed_log,
        };
        let Some(o) = load(&req, &opts, "truncated_log_is_fetched_again") else {
            return;
        };
        assert!(o.accepted, "{}", o.log);
        assert!(o.log_retried);
        assert_eq!(o.log.len() + 1, o.log_true_size as usize);
        assert!(o.log.starts_with("func#0 @0\n"), "{}", o.log);
        assert!(o.stats.is_some());
    }

    // No buffer at all: the kernel only reports the size it would need.
    let opts = LoadOptions {
        log_level: 1,
        log_size: 0,
        fixed_log: false,
    };
    let Some(o) = load(&req, &opts, "truncated_log_is_fetched_again") else {
        return;
    };
    assert!(o.accepted);
    assert!(!o.log_retried);
    assert!(o.log.is_empty());
    assert!(o.log_true_size > 0);
}

#[test]
fn log_level_zero_has_no_log() {
    let opts = LoadOptions {
        log_level: 0,
        ..LoadOptions::default()
    };
    let Some(o) = load(
        &socket_filter(vec![exit()]),
        &opts,
        "log_level_zero_has_no_log",
    ) else {
        return;
    };
    assert_eq!(o.errno, Some(EACCES));
    assert_eq!(
        (o.log.as_str(), o.error_line, o.log_true_size),
        ("", None, 0)
    );
}
