//! Robustness: truncated and bit-flipped copies of a fixture object must
//! give an error or a result, never a panic (nor an endless loop).

use std::path::Path;

use bpfcheck_obj::{LoadOptions, Object};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(p).expect("fixture present")
}

/// Parses and, when that works, builds every load request.
fn exercise(bytes: &[u8]) {
    if let Ok(obj) = Object::parse_named(bytes, "m") {
        let _ = obj.load_requests(&LoadOptions::default());
        for p in obj.programs() {
            let _ = obj.load_request(&p.name, &LoadOptions::default());
        }
    }
}

#[test]
fn every_truncation_is_handled() {
    for name in ["progs.o", "externs.o", "legacy.o"] {
        let bytes = fixture(name);
        for len in 0..bytes.len() {
            exercise(&bytes[..len]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn bit_flips_are_handled(
        which in 0usize..4,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..8),
    ) {
        let name = ["progs.o", "calls.o", "externs.o", "progs_eb.o"][which];
        let mut bytes = fixture(name);
        for (at, bit) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        exercise(&bytes);
    }

    #[test]
    fn byte_overwrites_are_handled(
        at in any::<prop::sample::Index>(),
        value in any::<[u8; 4]>(),
    ) {
        let mut bytes = fixture("progs.o");
        let i = at.index(bytes.len() - 4);
        bytes[i..i + 4].copy_from_slice(&value);
        exercise(&bytes);
    }
}
