//! What a built-in profile's embedded BTF costs the first query that needs
//! it: decompression, then opening (header and offset index).

use bpfcheck_btf::Btf;
use bpfcheck_profile::embedded_btf_bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    for name in ["5.10", "6.18"] {
        c.bench_function(&format!("{name}: decompress embedded BTF"), |b| {
            b.iter(|| embedded_btf_bytes(black_box(name)).map(|r| r.map(|v| v.len())));
        });
        let bytes = embedded_btf_bytes(name)
            .expect("embedded")
            .expect("decompresses");
        c.bench_function(&format!("{name}: open decompressed BTF"), |b| {
            b.iter(|| Btf::parse(black_box(&bytes)).map(|b| b.own_type_count()));
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
