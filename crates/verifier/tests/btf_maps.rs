//! Maps whose value type is described by the program's BTF, and the
//! `; <source> @ <file>:<line>` lines of programs with line info: golden
//! logs at levels 1 and 2, compared byte for byte with the live kernel
//! where `bpf()` is available (`BPFCHECK_BLESS=1` rewrites the goldens).

use std::path::Path;

use bpfcheck_asm::Fixture;
use bpfcheck_btf::{BtfBuilder, ByteOrder};
use bpfcheck_isa::normalize_kernel_addresses;
use bpfcheck_profile::KernelProfile;
use bpfcheck_sys::LoadOptions;
use bpfcheck_sys::test_support::kernel_or_skip;
use bpfcheck_uapi::{LineInfo, LoadRequest};
use bpfcheck_verifier::{LOG_LEVEL1, LOG_LEVEL2, Verdict, VerifyOptions, stats_trailer, verify};

/// `map_lookup.s` with a BTF key (`int`) and value (`struct val`, two
/// longs, no special fields) and line info: two records on one line that
/// differ only in column, and a file name with directories.
fn request(special_value: Option<&str>) -> LoadRequest {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/asm/map_lookup.s");
    let text = std::fs::read_to_string(path).unwrap();
    let mut req = Fixture::parse(&text).unwrap().load_request("btf_map");
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let long = b.int("long", 8, true);
    let value = match special_value {
        // The second long replaced by a lock.
        Some("bpf_spin_lock") => {
            let uint = b.int("unsigned int", 4, false);
            let lock = b.struct_("bpf_spin_lock", 4, &[("val", uint, 0)]).unwrap();
            b.struct_("val", 16, &[("a", long, 0), ("lock", lock, 8)])
                .unwrap()
        }
        // The whole value a workqueue.
        Some(name) => {
            let wq = b.struct_(name, 16, &[("a", long, 0)]).unwrap();
            b.struct_("val", 16, &[("w", wq, 0)]).unwrap()
        }
        None => b
            .struct_("val", 16, &[("a", long, 0), ("b", long, 8)])
            .unwrap(),
    };
    let file = b.add_str("/src/prog/btf_map.c");
    let lines = [
        (0, "\t__u32 key = 0;", 10, 2),
        (3, "  struct val *v = bpf_map_lookup_elem(&m, &key);", 11, 5),
        (
            6,
            "  struct val *v = bpf_map_lookup_elem(&m, &key);",
            11,
            20,
        ),
        (7, "if (!v)", 12, 2),
        (8, "v->b++;", 14, 2),
        (11, "return 0;", 15, 2),
    ];
    req.line_info = lines
        .iter()
        .map(|&(insn, src, line, col)| LineInfo {
            insn_off: insn,
            file_name_off: file,
            line_off: b.add_str(src),
            line_col: line << 10 | col,
        })
        .collect();
    req.maps[0].btf_key_type_id = int.0;
    req.maps[0].btf_value_type_id = value.0;
    req.prog_btf = Some(b.to_bytes(ByteOrder::Little));
    req
}

fn our_log(req: &LoadRequest, level: u32) -> String {
    let profile = KernelProfile::builtin("6.18").unwrap();
    let v = verify(req, &profile, &VerifyOptions { log_level: level });
    assert_eq!(v.verdict, Verdict::Accepted, "{:?}", v.unsupported);
    format!(
        "{}{}",
        v.log.expect("a log"),
        stats_trailer(level, &v.stats.expect("stats"), 0)
    )
}

#[test]
fn btf_value_without_special_fields_is_plain_memory() {
    let req = request(None);
    let bless = std::env::var_os("BPFCHECK_BLESS").is_some();
    for level in [LOG_LEVEL1, LOG_LEVEL2] {
        let ours = our_log(&req, level);
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/golden/btf_map_linfo.l{level}.log"));
        if bless {
            std::fs::write(&path, &ours).unwrap();
            continue;
        }
        let golden = std::fs::read_to_string(&path).unwrap();
        assert_eq!(ours, golden, "level {level}");
    }
}

#[test]
fn btf_value_with_a_workqueue_is_unsupported() {
    let profile = KernelProfile::builtin("6.18").unwrap();
    let v = verify(
        &request(Some("bpf_wq")),
        &profile,
        &VerifyOptions { log_level: 1 },
    );
    assert_eq!(v.verdict, Verdict::Unsupported);
    let feature = v.unsupported.expect("why").feature;
    assert!(feature.contains("struct bpf_wq"), "{feature}");
}

#[test]
fn socket_filters_may_not_use_spin_locks() {
    let profile = KernelProfile::builtin("6.18").unwrap();
    let req = request(Some("bpf_spin_lock"));
    let v = verify(&req, &profile, &VerifyOptions { log_level: 1 });
    assert_eq!(v.verdict, Verdict::Rejected);
    let message = v.error.expect("why").message;
    // `map_lookup.s` is a socket filter.
    assert_eq!(message, "socket filter progs cannot use bpf_spin_lock yet");
    if let Some(kernel) = kernel_or_skip("socket_filters_may_not_use_spin_locks") {
        let opts = LoadOptions {
            log_level: 1,
            log_size: 1 << 20,
            fixed_log: false,
        };
        let out = kernel.load(&req, &opts).unwrap();
        assert!(out.log.contains(&message), "{}", out.log);
    }
}

#[test]
fn btf_map_logs_match_the_live_kernel() {
    let Some(kernel) = kernel_or_skip("btf_map_logs_match_the_live_kernel") else {
        return;
    };
    let req = request(None);
    for level in [LOG_LEVEL1, LOG_LEVEL2] {
        let opts = LoadOptions {
            log_level: level,
            log_size: 1 << 20,
            fixed_log: false,
        };
        let out = kernel.load(&req, &opts).unwrap();
        let norm = |s: &str| {
            s.lines()
                .map(normalize_kernel_addresses)
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(norm(&our_log(&req, level)), norm(&out.log), "level {level}");
    }
}
