//! The walk on the complexity fixtures (`fixtures/heavy/*.s`): programs
//! that take the kernel from a few thousand to a million processed
//! instructions. The speed target lives here, not in a timed test.

use std::hint::black_box;
use std::path::Path;

use bpfcheck_asm::Fixture;
use bpfcheck_profile::KernelProfile;
use bpfcheck_verifier::{LOG_STATS, VerifyOptions, verify};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let profile = KernelProfile::builtin("6.18").expect("6.18 profile");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/heavy");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures/heavy")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".s").map(str::to_owned)
        })
        .collect();
    names.sort();
    let mut group = c.benchmark_group("heavy");
    group.sample_size(10);
    for name in names {
        let text = std::fs::read_to_string(dir.join(format!("{name}.s"))).expect("fixture");
        let req = Fixture::parse(&text).expect("parses").load_request(&name);
        let opts = VerifyOptions {
            log_level: LOG_STATS,
        };
        group.bench_function(&name, |b| {
            b.iter(|| verify(black_box(&req), &profile, &opts).verdict);
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
