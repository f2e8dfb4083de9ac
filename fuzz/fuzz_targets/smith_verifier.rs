#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bpfcheck_fuzzing::smith::verifier(data));
