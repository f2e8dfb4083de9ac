//! The selftests corpus harness: annotation parsing on hand-made BTF
//! (always), and the whole compiled corpus against the running kernel and
//! bpfcheck when `tools/selftests/build.sh` has filled the cache.

use std::collections::HashMap;

use bpfcheck_btf::builder::TypeSpec;
use bpfcheck_btf::{Btf, BtfBuilder, BtfTypeId, ByteOrder};
use bpfcheck_conformance::report;
use bpfcheck_conformance::selftests::run::{check_annotation, load_log_level, visible_log};
use bpfcheck_conformance::selftests::{
    CorpusReport, Harness, HostResolver, MsgPattern, Status, corpus, default_cache_dir, match_msgs,
    parse_tags, spec_of,
};
use bpfcheck_obj::host::{parse_kconfig, version_code};
use bpfcheck_obj::{Extern, ExternKind, ExternResolver};
use bpfcheck_uapi::load::{
    BPF_F_STRICT_ALIGNMENT, BPF_F_TEST_REG_INVARIANTS, BPF_F_TEST_RND_HI32, BPF_F_TEST_STATE_FREQ,
};

/// BTF with FUNCs `prog` and `other`, each tagged with the given strings;
/// one member-level tag on `prog` (component 0) that must be ignored.
fn btf_with_tags(prog_tags: &[&str], other_tags: &[&str]) -> Vec<u8> {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let ptr = b.ptr(BtfTypeId::VOID);
    let prog = b.func("prog", int, &[("ctx", ptr)]).expect("func");
    let other = b.func("other", int, &[("ctx", ptr)]).expect("func");
    let tag = |b: &mut BtfBuilder, value: &str, target, component| {
        b.add(&TypeSpec::DeclTag {
            value: value.into(),
            target,
            component,
            attr: false,
        })
        .expect("decl tag");
    };
    for t in prog_tags {
        tag(&mut b, t, prog, None);
    }
    tag(&mut b, "comment:test_expect_failure", prog, Some(0));
    for t in other_tags {
        tag(&mut b, t, other, None);
    }
    b.to_bytes(ByteOrder::Little)
}

#[test]
fn annotations_are_read_from_decl_tags_of_the_program_only() {
    let bytes = btf_with_tags(
        &[
            "comment:test_description=and of negative number",
            "comment:test_expect_success",
            "comment:test_expect_msg=10=R0=0",
            "comment:test_expect_msg=11={{R[0-9]}} pointer",
            "comment:test_log_level=2",
            "comment:test_prog_flags=BPF_F_TEST_STATE_FREQ",
            "comment:test_prog_flags=!BPF_F_TEST_RND_HI32",
            "comment:test_retval=POINTER_VALUE",
            "comment:test_arch=X86_64",
            "btf_decl_tag_not_a_test",
        ],
        &["comment:test_auxiliary"],
    );
    let btf = Btf::parse(&bytes).expect("BTF");
    let s = spec_of(&btf, "prog").expect("spec");
    assert!(s.annotated && s.has_verdict && s.priv_mode && !s.unpriv_mode);
    assert!(!s.auxiliary);
    // The member-level `__failure` tag is not the function's.
    assert!(!s.privileged.expect_failure);
    assert_eq!(s.description.as_deref(), Some("and of negative number"));
    let msgs: Vec<_> = s.privileged.msgs.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(msgs, ["R0=0", "{{R[0-9]}} pointer"]);
    assert_eq!(s.log_level, 2);
    assert_eq!(s.privileged.retval, Some(0xcafe_4a11_u32 as i32));
    assert!(s.runs_on_x86_64());
    assert_eq!(
        s.prog_flags(
            BPF_F_TEST_RND_HI32 | BPF_F_TEST_REG_INVARIANTS,
            BPF_F_STRICT_ALIGNMENT
        ),
        BPF_F_TEST_STATE_FREQ | BPF_F_TEST_REG_INVARIANTS | BPF_F_STRICT_ALIGNMENT
    );

    let aux = spec_of(&btf, "other").expect("spec");
    assert!(aux.auxiliary && !aux.has_verdict);
    assert!(spec_of(&btf, "missing").is_err());
}

#[test]
fn msg_tags_of_both_kernel_eras_parse() {
    // 6.1 has no counter; 6.12 puts `<N>=` in front of every message.
    let s = parse_tags([
        "comment:test_expect_failure",
        "comment:test_expect_msg=R1 type=ctx",
    ])
    .expect("6.1");
    assert_eq!(s.privileged.msgs[0].text, "R1 type=ctx");
    assert!(s.privileged.expect_failure);
    let s = parse_tags(["comment:test_expect_msg=3=invalid access"]).expect("6.12");
    assert_eq!(s.privileged.msgs[0].text, "invalid access");
    // `__msg` alone makes a privileged test expecting success.
    assert!(s.has_verdict && s.priv_mode && !s.privileged.expect_failure);
}

#[test]
fn unprivileged_expectations_inherit_unless_stated() {
    let s = parse_tags([
        "comment:test_expect_failure",
        "comment:test_expect_msg=0=priv",
    ])
    .expect("spec");
    assert!(s.unprivileged.expect_failure);
    assert_eq!(s.unprivileged.msgs[0].text, "priv");
    // Order of the tags does not matter for an explicit unprivileged result.
    for tags in [
        [
            "comment:test_expect_success_unpriv",
            "comment:test_expect_failure",
        ],
        [
            "comment:test_expect_failure",
            "comment:test_expect_success_unpriv",
        ],
    ] {
        let s = parse_tags(tags).expect("spec");
        assert!(s.priv_mode && s.unpriv_mode);
        assert!(s.privileged.expect_failure && !s.unprivileged.expect_failure);
    }
    let s = parse_tags(["comment:test_expect_failure_unpriv"]).expect("spec");
    assert!(!s.priv_mode && s.unpriv_mode);
}

#[test]
fn malformed_annotations_are_errors() {
    assert!(parse_tags(["comment:test_prog_flags=BPF_F_NO_SUCH"]).is_err());
    assert!(parse_tags(["comment:test_log_level=two"]).is_err());
    assert!(parse_tags(["comment:test_arch=MIPS"]).is_err());
    assert!(parse_tags(["comment:test_expect_msg=0={{unclosed"]).is_err());
    assert!(parse_tags(["comment:test_retval=0x"]).is_err());
    // Numbers are program flags too.
    let s = parse_tags(["comment:test_prog_flags=0x8"]).expect("spec");
    assert_eq!(s.flags_set, BPF_F_TEST_STATE_FREQ);
}

#[test]
fn messages_match_in_order_with_regex_parts() {
    let log = "0: R1=ctx() R10=fp0\n1: (b7) r0 = 0  ; R0_w=0\nR2 invalid mem access 'scalar'\n";
    let p = |s: &str| MsgPattern::new(s).expect("pattern");
    assert_eq!(
        match_msgs(log, &[p("R0_w=0"), p("invalid mem access")]),
        Ok(())
    );
    // Each search starts after the previous match.
    assert_eq!(match_msgs(log, &[p("invalid mem"), p("R0_w=0")]), Err(1));
    // Outside `{{ }}` regex syntax is literal; inside, `.` stays on its line.
    assert_eq!(
        match_msgs(log, &[p("R{{[0-9]}} invalid mem access '{{[a-z]+}}'")]),
        Ok(())
    );
    assert_eq!(match_msgs(log, &[p("(b7) r0 = {{[0-9]+}}")]), Ok(()));
    assert_eq!(match_msgs(log, &[p("R10{{.*}}invalid")]), Err(0));
    assert_eq!(match_msgs(log, &[p("^{{}}R2")]), Err(0));
    assert_eq!(match_msgs(log, &[p("{{^}}R2")]), Ok(()));
}

#[test]
fn log_levels_follow_libbpf() {
    assert_eq!(load_log_level(0), 1);
    assert_eq!(load_log_level(2), 2);
    assert_eq!(load_log_level(4), 4);
    // libbpf fetches a log for level 0 only when the load failed.
    assert_eq!(visible_log(0, true, "processed 2 insns"), "");
    assert_eq!(visible_log(0, false, "R0 !read_ok"), "R0 !read_ok");
    let s = parse_tags(["comment:test_expect_msg=0=processed"]).expect("spec");
    let c = check_annotation(&s.privileged, true, &visible_log(0, true, "processed 2"));
    assert!(c.verdict && !c.msgs);
    assert_eq!(c.first_unmatched.as_deref(), Some("processed"));
}

#[test]
fn attach_targets_resolve_as_libbpf_does() {
    use bpfcheck_conformance::selftests::run::{needs_trampoline, resolve_attach_btf_id};
    use bpfcheck_uapi::{AttachType, LoadRequest, ProgType};
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let f = b
        .func("bpf_fentry_test1", int, &[("a", int)])
        .expect("func");
    let td = b
        .add(&TypeSpec::Typedef {
            name: "btf_trace_sys_enter".into(),
            ty: int,
        })
        .expect("typedef");
    let bytes = b.to_bytes(ByteOrder::Little);
    let btf = Btf::parse(&bytes).expect("BTF");
    let mut fentry = LoadRequest {
        prog_type: ProgType::TRACING,
        expected_attach_type: AttachType::TRACE_FENTRY,
        attach_target: Some("bpf_fentry_test1".into()),
        ..LoadRequest::default()
    };
    resolve_attach_btf_id(&mut fentry, &btf);
    assert_eq!(fentry.attach_btf_id, f.0);
    assert!(needs_trampoline(&fentry));
    let mut tp = LoadRequest {
        prog_type: ProgType::TRACING,
        expected_attach_type: AttachType::TRACE_RAW_TP,
        attach_target: Some("btf_trace_sys_enter".into()),
        ..LoadRequest::default()
    };
    resolve_attach_btf_id(&mut tp, &btf);
    assert_eq!(tp.attach_btf_id, td.0);
    assert!(!needs_trampoline(&tp));
    let mut missing = LoadRequest {
        attach_target: Some("bpf_testmod_test_read".into()),
        ..fentry.clone()
    };
    missing.attach_btf_id = 0;
    resolve_attach_btf_id(&mut missing, &btf);
    assert_eq!(missing.attach_btf_id, 0);
}

#[test]
fn host_facts_parse() {
    assert_eq!(version_code("6.18.44-fc-v657"), 0x06_12_2c);
    assert_eq!(version_code("5.10.300"), 0x05_0a_ff);
    let cfg = parse_kconfig("# c\nCONFIG_BPF=y\nCONFIG_HZ=250\nCONFIG_X=\"ab\"\nFOO=1\n");
    assert_eq!(cfg.len(), 3);
    let r = HostResolver::new(None, cfg, Default::default(), 0x06_12_2c);
    let kc = |name: &str, size| Extern {
        name: name.into(),
        weak: false,
        kind: ExternKind::Kconfig {
            offset: 0,
            size,
            align: 1,
        },
        btf_id: 1,
        sym_index: 1,
    };
    assert_eq!(r.kconfig(&kc("CONFIG_BPF", 1)), Some(vec![1]));
    assert_eq!(r.kconfig(&kc("CONFIG_HZ", 4)), Some(vec![250, 0, 0, 0]));
    assert_eq!(r.kconfig(&kc("CONFIG_X", 4)), Some(b"ab\0\0".to_vec()));
    assert_eq!(
        r.kconfig(&kc("LINUX_KERNEL_VERSION", 4)),
        Some(vec![0x2c, 0x12, 6, 0])
    );
    assert_eq!(r.kconfig(&kc("CONFIG_NONE", 1)), None);
}

/// 6.12's `testing_prog_flags()` probes with the program name
/// `flag-test`, which `bpf_obj_name_cpy()` refuses (only alphanumerics,
/// `_` and `.`): the probe always fails and the verifier tests of 6.12 run
/// without `BPF_F_TEST_RND_HI32` / `BPF_F_TEST_REG_INVARIANTS` unless
/// annotated. The harness probes the same way; this shows why it finds 0.
#[test]
fn live_testing_flags_probe_fails_on_its_name() {
    let Some(k) = bpfcheck_sys::test_support::kernel_or_skip("live_testing_flags_probe") else {
        return;
    };
    use bpfcheck_uapi::{LoadRequest, ProgType, RawInsn, op};
    let load = |name: &str| {
        let req = LoadRequest {
            name: name.into(),
            prog_type: ProgType::SOCKET_FILTER,
            insns: vec![
                RawInsn::new(op::ALU64 | op::MOV | op::K, 0, 0, 0, 0),
                RawInsn::new(op::JMP | op::EXIT, 0, 0, 0, 0),
            ],
            license: "GPL".into(),
            prog_flags: BPF_F_TEST_RND_HI32 | BPF_F_TEST_REG_INVARIANTS,
            ..LoadRequest::default()
        };
        k.load(&req, &bpfcheck_sys::LoadOptions::default())
            .map(|o| o.accepted)
            .unwrap_or(false)
    };
    assert!(!load("flag-test"));
    assert!(load("flag_test"));
    let Some(profile) = bpfcheck_conformance::host_profile() else {
        return;
    };
    assert_eq!(Harness::new(k, profile).testing_flags(), 0);
}

#[test]
fn live_selftests_corpus() {
    const NAME: &str = "live_selftests_corpus";
    let Some(cache) = default_cache_dir() else {
        bpfcheck_sys::test_support::skipped("no home directory for the cache", NAME);
        return;
    };
    let objects = corpus::objects_in(&cache);
    if objects.is_empty() {
        bpfcheck_sys::test_support::skipped(
            &format!(
                "no compiled selftests in {}: run tools/selftests/build.sh",
                cache.display()
            ),
            NAME,
        );
        return;
    }
    let Some(k) = bpfcheck_sys::test_support::kernel_or_skip(NAME) else {
        return;
    };
    let profile = bpfcheck_conformance::host_profile().expect("host profile");
    let harness = Harness::new(k, profile);
    let reports = harness.run_all(&objects);
    let s = CorpusReport::of(&reports);
    report(&format!(
        "selftests: {} objects, {} programs, {} annotated, {} tested; kernel = annotation: \
         verdict {}, verdict+msgs {}; bpfcheck = kernel verdict {} of {} ({} unsupported)",
        s.objects,
        s.programs,
        s.annotated,
        s.bpfcheck_vs_kernel.total.programs,
        s.kernel_verdict_ok,
        s.kernel_all_ok,
        s.bpfcheck_vs_kernel.total.verdict,
        s.bpfcheck_vs_kernel.total.programs,
        s.bpfcheck_vs_kernel.total.unsupported,
    ));
    // The harness works: most objects are read, every annotated program
    // gets a status, and the kernel mostly agrees with the annotations
    // (the rest is 6.12 → running-kernel drift, listed in the report).
    assert!(s.objects_unreadable * 10 < s.objects, "{}", s.render());
    assert!(s.annotated > 0);
    // `.BTF.ext` CO-RE sections are read (vmlinux.h makes many programs
    // carry relocations).
    assert!(s.tested_with_core_relos > 0, "{}", s.render());
    let tested = s.by_status.get(Status::Tested.name()).copied().unwrap_or(0);
    assert!(tested * 2 > s.annotated, "{}", s.render());
    assert!(s.kernel_verdict_ok * 100 >= tested * 95, "{}", s.render());
    // Diagnostics of the kernel's rejections: a source line nearly always,
    // a causal account from bpfcheck's own analysis for at least 80% (the
    // issue's target, met when measured; the kernel's log is never its
    // source).
    assert!(
        s.diagnosed_source_line * 100 >= s.diagnosed * 95,
        "{}",
        s.render()
    );
    assert!(
        s.diagnosed_causal * 100 >= s.diagnosed * 80,
        "{}",
        s.render()
    );
    // Every judged bpfcheck verdict that disagrees with the kernel is a
    // finding for the verifier; the harness only requires that such
    // programs be listed.
    let listed: HashMap<_, _> = s
        .bpfcheck_vs_kernel
        .disagreements
        .iter()
        .map(|d| (d.program.clone(), d.reason.clone()))
        .collect();
    for d in &listed {
        report(&format!("selftests disagreement: {}: {}", d.0, d.1));
    }
}
