//! Opening vmlinux BTF and looking names up.

use bpfcheck_btf::{Btf, BtfKind};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let Ok(data) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        eprintln!("SKIPPED (no /sys/kernel/btf/vmlinux)");
        return;
    };
    c.bench_function("open (header + offset index)", |b| {
        b.iter(|| Btf::parse(black_box(&data)).map(|b| b.own_type_count()));
    });
    c.bench_function("first name lookup (open + build name index)", |b| {
        b.iter(|| {
            let btf = Btf::parse(black_box(&data)).ok()?;
            btf.find_by_name_kind("task_struct", BtfKind::Struct)
                .map(|t| t.id())
        });
    });
    let btf = Btf::parse(&data).expect("vmlinux parses");
    let _ = btf.find_by_name("task_struct");
    c.bench_function("subsequent lookup (find_by_name_kind task_struct)", |b| {
        b.iter(|| {
            btf.find_by_name_kind(black_box("task_struct"), BtfKind::Struct)
                .map(|t| t.id())
        });
    });
    c.bench_function("subsequent lookup (find_kfunc bpf_task_acquire)", |b| {
        b.iter(|| {
            btf.find_kfunc(black_box("bpf_task_acquire"))
                .map(|t| t.id())
        });
    });
    let task = btf
        .find_by_name_kind("task_struct", BtfKind::Struct)
        .map(|t| t.id())
        .unwrap_or_default();
    c.bench_function("member_by_name task_struct.pid", |b| {
        b.iter(|| {
            btf.member_by_name(task, black_box("pid"))
                .ok()
                .flatten()
                .map(|m| m.bit_offset)
        });
    });
    let mut g = c.benchmark_group("slow");
    g.sample_size(10);
    g.bench_function("validate (all kernel checks)", |b| {
        b.iter(|| btf.validate().is_ok());
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
