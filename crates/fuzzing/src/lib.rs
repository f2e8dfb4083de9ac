//! Fuzz target bodies. Each takes arbitrary bytes and must return without
//! panicking, hanging or allocating without bound. `fuzz/` wraps them for
//! cargo-fuzz (libFuzzer, nightly); the tests below run each a few hundred
//! times on random and mutated inputs under plain `cargo test`, so a crash
//! a fuzzer once found stays fixed on every machine.

#![deny(missing_docs)]

pub mod btf;

pub mod smith;

use bpfcheck_isa::{
    DefaultSymbolizer, IsaFeatures, LogEra, check_all_fields, check_prepass, decode, disasm, encode,
};
use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::{ByteOrder, LoadRequest, MapSpec, MapType, ProgType, RawInsn};
use bpfcheck_verifier::{VerifyOptions, verify};

/// The first byte picks the byte order; the rest is an instruction stream.
fn insns_of(data: &[u8]) -> Vec<RawInsn> {
    let order = if data.first().is_some_and(|b| b & 1 == 1) {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };
    let body = data.get(1..).unwrap_or(&[]);
    let whole = body.len() / 8 * 8;
    RawInsn::parse_all(&body[..whole], order).unwrap_or_default()
}

/// Decoder, encoder, field checks and printer on every slot: decoding what
/// was encoded gives the same instruction back.
pub fn isa(data: &[u8]) {
    let insns = insns_of(data);
    for feats in [
        IsaFeatures::V5_10,
        IsaFeatures::V6_1,
        IsaFeatures::V6_12,
        IsaFeatures::V6_18,
    ] {
        for idx in 0..insns.len() {
            let _ = check_prepass(&insns, idx, &feats);
            let _ = check_all_fields(&insns, idx, &feats);
        }
    }
    for era in [
        LogEra::V5_10,
        LogEra::V6_1,
        LogEra::V6_12,
        LogEra::V6_18,
        LogEra::V7_2,
    ] {
        for idx in 0..insns.len() {
            let _ = disasm(&insns, idx, era, &DefaultSymbolizer);
        }
    }
    for idx in 0..insns.len() {
        if let Ok(d) = decode(&insns, idx) {
            let enc = encode(&d.insn);
            assert_eq!(
                enc.as_slice(),
                &insns[idx..idx + enc.as_slice().len()],
                "re-encoding slot {idx}"
            );
        }
    }
}

/// The verifier on an arbitrary program, for every built-in profile, with
/// a couple of maps for `ld_imm64` to name.
pub fn verifier(data: &[u8]) {
    let insns = insns_of(data);
    let prog_type = ProgType(u32::from(data.first().copied().unwrap_or(1) >> 1) % 34);
    let req = LoadRequest {
        prog_type,
        insns,
        license: "GPL".into(),
        maps: vec![
            MapSpec::new(MapType::ARRAY, 4, 8, 1),
            MapSpec::new(MapType::HASH, 4, 8, 16),
        ],
        ..LoadRequest::default()
    };
    for profile in KernelProfile::all_builtin() {
        for log_level in [0, 1, 2, 4] {
            let _ = verify(&req, &profile, &VerifyOptions { log_level });
        }
    }
}

/// The text assembler and fixture header parser.
pub fn asm(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = bpfcheck_asm::assemble(&text);
    if let Ok(mut f) = bpfcheck_asm::Fixture::parse(&text) {
        // Named kernel symbols need a kernel's BTF: exercise a lookup that
        // finds nothing, then one that finds everything.
        if !f.kernel_symbols().is_empty() {
            let _ = f.resolve_kernel_symbols(&|_, _| None);
            let _ = f.resolve_kernel_symbols(&|name, _| u32::try_from(name.len()).ok());
        }
        if f.kernel_symbols().is_empty() {
            let _ = f.load_request("fuzz");
        }
    }
}

/// The ELF object loader, end to end to load requests.
pub fn elf(data: &[u8]) {
    if let Ok(obj) = bpfcheck_obj::Object::parse(data) {
        let _ = obj.load_requests(&bpfcheck_obj::LoadOptions::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seed_object() -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/c/tc_globals.v4.o");
        std::fs::read(p).expect("fixture object")
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn isa_smoke(data in proptest::collection::vec(any::<u8>(), 0..257)) { isa(&data); }

        #[test]
        fn verifier_smoke(data in proptest::collection::vec(any::<u8>(), 0..257)) { verifier(&data); }

        #[test]
        fn btf_smoke(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut d = vec![0x9f, 0xeb, 1, 0, 24, 0, 0, 0];
            d.extend(data);
            crate::btf::btf(&d);
            crate::btf::btf_ext(&d);
        }

        #[test]
        fn core_smoke(data in proptest::collection::vec(any::<u8>(), 0..600)) { crate::btf::core(&data); }

        #[test]
        fn asm_smoke(data in proptest::collection::vec(any::<u8>(), 0..200)) { asm(&data); }

        #[test]
        fn asm_text_smoke(text in "[ a-z0-9=+*()#;:,.\\-<>&|^!]{0,80}") { asm(text.as_bytes()); }

        #[test]
        fn elf_mutation_smoke(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16), cut in any::<usize>()) {
            let mut obj = seed_object();
            for (at, b) in flips {
                let n = obj.len();
                obj[at % n] ^= b;
            }
            let keep = cut % (obj.len() + 1);
            elf(&obj[..keep.max(obj.len() / 2)]);
            elf(&obj);
        }
    }
}
