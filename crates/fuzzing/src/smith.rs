//! Fuzz bodies over generated programs: the fuzzer's bytes drive
//! `bpfcheck-smith`'s generator, so mutations stay mostly valid programs
//! and reach deep into the verifier rather than stopping at the decoder.

use bpfcheck_interp::{Config, Input, Interpreter};
use bpfcheck_profile::KernelProfile;
use bpfcheck_smith::generator::{GenConfig, generate};
use bpfcheck_smith::rng::ByteEntropy;
use bpfcheck_verifier::{VerifyOptions, verify};

/// A generated program through `verify()` for every built-in profile at
/// every log level: no panic, no hang.
pub fn verifier(data: &[u8]) {
    let req = generate(&mut ByteEntropy::new(data), &GenConfig::default());
    for profile in KernelProfile::all_builtin() {
        for log_level in [0, 1, 2, 4] {
            let _ = verify(&req, &profile, &VerifyOptions { log_level });
        }
    }
}

/// A generated program through the interpreter with a small step budget:
/// every fault is an error value, never a panic.
pub fn interp(data: &[u8]) {
    let req = generate(&mut ByteEntropy::new(data), &GenConfig::default());
    let config = Config {
        step_budget: 10_000,
        loop_budget: 64,
        ..Config::default()
    };
    let input = Input {
        ctx: data.iter().rev().take(192).copied().collect(),
        packet: data.iter().take(96).copied().collect(),
    };
    let _ = Interpreter::new(&req, config).run(&input);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn smith_verifier_smoke(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            super::verifier(&data);
        }

        #[test]
        fn smith_interp_smoke(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            super::interp(&data);
        }
    }
}
