//! Runs the libbpf oracle over a corpus of objects: for every program
//! libbpf can prepare, bpfcheck's relocated instructions must equal
//! libbpf's, and (with `--kernel`) bpfcheck's load request must get the
//! kernel verdict libbpf's load got.
//!
//! ```text
//! cargo run -p bpfcheck-obj --example libbpf_corpus -- [--kernel] [--quiet] PATH...
//! ```
//! A PATH that is a directory stands for its `*.o` files (recursively);
//! without PATH, the BPF selftests cache
//! (`~/.cache/bpfcheck/selftests-6.12/objs`, see `tools/selftests/build.sh`).
//! `BPFCHECK_LIBBPF_ROOT` selects another libbpf than the system's (see
//! `tests/oracle/harness.rs`). Needs root; prints objects, programs libbpf
//! prepared, programs identical, and the differences by class.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/oracle/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};

fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == "o") {
                collect(&e, out);
            }
        }
    } else {
        out.push(path.to_path_buf());
    }
}

fn main() {
    let mut kernel = false;
    let mut quiet = false;
    let mut paths = Vec::new();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--kernel" => kernel = true,
            "--quiet" => quiet = true,
            _ => paths.push(PathBuf::from(a)),
        }
    }
    if paths.is_empty() {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map_or_else(|| home.join(".cache"), PathBuf::from)
            .join("bpfcheck/selftests-6.12/objs");
        if !cache.is_dir() {
            eprintln!(
                "*** SKIPPED: no selftests cache at {} (tools/selftests/build.sh builds it) ***",
                cache.display()
            );
            return;
        }
        paths.push(cache);
    }
    let mut files = Vec::new();
    for p in &paths {
        collect(p, &mut files);
    }
    let oracle = match harness::build_oracle() {
        Ok(o) => o,
        Err(why) => {
            eprintln!("*** SKIPPED: no libbpf oracle: {why} ***");
            return;
        }
    };
    let host = harness::Host::probe();
    let k = if kernel {
        match bpfcheck_sys::Kernel::probe() {
            Ok(k) => Some(k),
            Err(e) => {
                eprintln!("*** kernel comparison SKIPPED: {e} ***");
                None
            }
        }
    } else {
        None
    };
    let mut summary = harness::Summary::default();
    for (i, f) in files.iter().enumerate() {
        let o = match harness::run_oracle(&oracle, f) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("{}: {e}", f.display());
                continue;
            }
        };
        let outcomes = harness::compare_object(f, &o, &host, k.as_ref());
        if !quiet {
            for p in &outcomes {
                let diff = p
                    .diff
                    .as_ref()
                    .map_or("identical".to_owned(), |(c, _)| c.clone());
                eprintln!(
                    "[{}/{}] {}/{}: libbpf {:?}; {}; kernel same: {:?}",
                    i + 1,
                    files.len(),
                    p.object,
                    p.program,
                    p.libbpf,
                    if p.libbpf.prepared() {
                        diff.as_str()
                    } else {
                        "-"
                    },
                    p.kernel_agrees()
                );
            }
        }
        summary.add_object(&o, &outcomes);
    }
    summary.print(&oracle.libbpf);
}
