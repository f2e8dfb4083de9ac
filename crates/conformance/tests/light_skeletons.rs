//! The loader programs of the committed light skeletons
//! (`fixtures/c/**/*.lskel.h`, from `bpftool gen skeleton -L`) against the
//! live kernel: loaded with the request `bpf_load_and_run` makes, the
//! kernel's verdict, error, processed-instruction count and logs at levels
//! 1 and 2 must be bpfcheck's on the 6.18 profile, and every loader must be
//! judged (not unsupported).

use std::path::PathBuf;

use bpfcheck_conformance::selftests::run::{
    ProgramId, ask_kernel, diff_record, kernel_side, strip_stats_lines,
};
use bpfcheck_obj::lskel::LightSkeleton;
use bpfcheck_profile::KernelProfile;
use bpfcheck_sys::test_support::kernel_or_skip;
use bpfcheck_verifier::{LOG_LEVEL1, LOG_LEVEL2};

fn headers() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/c");
    let mut v = Vec::new();
    for dir in [root.clone(), root.join("loader")] {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.to_string_lossy().ends_with(".lskel.h") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

#[test]
fn light_skeleton_loaders_agree_with_the_live_kernel() {
    let Some(kernel) = kernel_or_skip("light_skeleton_loaders_agree_with_the_live_kernel") else {
        return;
    };
    let profile = KernelProfile::builtin("6.18").unwrap();
    let files = headers();
    assert!(files.len() >= 2, "light skeletons missing: {files:?}");
    let mut differ = Vec::new();
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let req = LightSkeleton::parse(&text)
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .load_request();
        for level in [LOG_LEVEL1, LOG_LEVEL2] {
            let (out, wall) =
                ask_kernel(&kernel, &req, level).unwrap_or_else(|e| panic!("{file}: {e}"));
            let mut kside = kernel_side(&out, level, wall);
            kside.log = Some(strip_stats_lines(&out.log, level));
            let id = ProgramId {
                object: &file,
                program: &req.name,
                section: "",
            };
            let (record, _) = diff_record(id, &req, &profile, level, kside);
            let a = record.agree.expect("a live record");
            if record.verdict == "unsupported" {
                differ.push(format!(
                    "{file} (level {level}): unsupported {:?}",
                    record.unsupported
                ));
            } else if !(a.verdict && a.error && a.insns_processed && a.log) {
                differ.push(format!("{file} (level {level}): {a:?}"));
            }
        }
    }
    bpfcheck_conformance::report(&format!(
        "light skeletons: {} loaders, {} differ from the live kernel",
        files.len(),
        differ.len()
    ));
    assert!(differ.is_empty(), "differences:\n{}", differ.join("\n"));
}
