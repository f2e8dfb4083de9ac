//! Socket map lookups on the 6.12 profile, where (by the 6.12 sources)
//! the result is a map value until null-checked; the live 6.18 build
//! gives a socket at once, which the golden logs of `do_check.rs` hold.

use std::path::Path;

use bpfcheck_asm::Fixture;
use bpfcheck_profile::KernelProfile;
use bpfcheck_verifier::{LOG_LEVEL2, Verdict, VerifyOptions, verify};

fn log_of(name: &str, profile: &str) -> (Verdict, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../fixtures/asm/{name}.s"));
    let text = std::fs::read_to_string(&path).unwrap();
    let req = Fixture::parse(&text).unwrap().load_request(name);
    let profile = KernelProfile::builtin(profile).unwrap();
    let v = verify(
        &req,
        &profile,
        &VerifyOptions {
            log_level: LOG_LEVEL2,
        },
    );
    (v.verdict, v.log.unwrap_or_default())
}

#[test]
fn a_sockmap_lookup_is_a_map_value_until_checked_on_6_12() {
    let (verdict, log) = log_of("sk_skb_sockmap_leak", "6.12");
    assert_eq!(verdict, Verdict::Rejected, "{log}");
    assert!(
        log.contains("R0_w=map_value_or_null(id=2,ref_obj_id=2,map=mapsockhash,ks=4,vs=8)"),
        "{log}"
    );
    assert!(log.contains("R0_w=sock(ref_obj_id=2)"), "{log}");
    assert!(
        log.contains("Unreleased reference id=2 alloc_insn=6"),
        "{log}"
    );
}

#[test]
fn a_sockmap_lookup_is_a_socket_on_6_18() {
    let (verdict, log) = log_of("sk_lookup_assign", "6.18");
    assert_eq!(verdict, Verdict::Accepted, "{log}");
    assert!(log.contains("R0=sock_or_null(id=2,ref_obj_id=2)"), "{log}");
}
