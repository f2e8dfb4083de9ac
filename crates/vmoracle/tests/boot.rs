//! Boots a real kernel from the cache of `tools/vm/fetch-kernel.sh` and
//! checks three verdicts. Skipped loudly when no kernel is cached or QEMU
//! is missing. The static init is taken from `$BPFCHECK_VM_INIT` or built
//! (once, into `<target>/vm-init`) the way `tools/vm/build-init.sh` does.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use bpfcheck_asm::assemble;
use bpfcheck_sys::test_support::skipped;
use bpfcheck_uapi::{LoadRequest, MapSpec, MapType, ProgType};
use bpfcheck_vmoracle::{
    initramfs::check_static_init,
    protocol::{Batch, NamedRequest},
    qemu::VmConfig,
    session::run_resuming,
};

const TEST: &str = "boot::real_kernel_answers";
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// `$BPFCHECK_VM_KERNEL`, else the first cached kernel, preferring bookworm
/// (the fastest to boot).
fn cached_kernel() -> Option<PathBuf> {
    if let Some(k) = std::env::var_os("BPFCHECK_VM_KERNEL") {
        return Some(PathBuf::from(k));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?
        .join("bpfcheck/kernels");
    let preferred = cache.join("bookworm/vmlinuz");
    if preferred.exists() {
        return Some(preferred);
    }
    let mut all: Vec<PathBuf> = std::fs::read_dir(&cache)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("vmlinuz")))
        .filter(|p| p.exists())
        .collect();
    all.sort();
    all.into_iter().next()
}

fn qemu_available() -> bool {
    Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The static init: from the environment, or built with cargo into a
/// separate target directory (the test's own one is locked by `cargo test`).
fn static_init() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("BPFCHECK_VM_INIT") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // <target>/debug/deps/boot-… → <target>
    let target = exe
        .ancestors()
        .nth(3)
        .ok_or("cannot find the target directory")?
        .to_owned();
    let target_dir = target.join("vm-init");
    let init = target_dir.join(TARGET).join("release/bpfcheck-vm-init");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "--offline",
            "--target",
            TARGET,
        ])
        .args(["-p", "bpfcheck-vmoracle", "--bin", "bpfcheck-vm-init"])
        .arg("--target-dir")
        .arg(&target_dir)
        // As tools/vm/build-init.sh does.
        .env(
            "RUSTFLAGS",
            "-C target-feature=+crt-static -C strip=debuginfo",
        )
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the static init failed ({status})"));
    }
    Ok(init)
}

fn request(name: &str, text: &str, maps: Vec<MapSpec>) -> NamedRequest {
    NamedRequest {
        name: name.to_owned(),
        request: LoadRequest {
            name: name.to_owned(),
            prog_type: ProgType::SOCKET_FILTER,
            insns: assemble(text).unwrap(),
            license: "GPL".to_owned(),
            maps,
            ..LoadRequest::default()
        },
    }
}

#[test]
fn real_kernel_answers() {
    let Some(kernel) = cached_kernel() else {
        skipped(
            "no kernel in the cache; run tools/vm/fetch-kernel.sh bookworm",
            TEST,
        );
        return;
    };
    if !qemu_available() {
        skipped(
            "qemu-system-x86_64 not found (apt-get install qemu-system-x86)",
            TEST,
        );
        return;
    }
    let init = static_init().unwrap();
    let bytes = std::fs::read(&init).unwrap();
    check_static_init(&init, &bytes).unwrap();

    let batch = Batch {
        log_level: 2,
        exact_log_level: false,
        log_size: 0,
        programs: vec![
            request("accepted", "r0 = 0\nexit\n", Vec::new()),
            request("uninit_r0", "exit\n", Vec::new()),
            request(
                "map_lookup",
                "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map_fd(0)\n\
                 call bpf_map_lookup_elem#1\nr0 = *(u64 *)(r0 +0)\nexit\n",
                vec![MapSpec::new(MapType::HASH, 4, 8, 16)],
            ),
        ],
    };
    let work = std::env::temp_dir().join(format!("bpfcheck-vm-boot-{}", std::process::id()));
    let mut cfg = VmConfig::new(kernel, init, work.clone());
    cfg.timeout = Duration::from_secs(180);
    // Up to three VMs: QEMU 7.2's TCG now and then crashes a guest at boot.
    let report = run_resuming(&cfg, &batch, 3).unwrap();
    assert!(report.complete(), "{report:#?}");
    let side = |i: usize| report.programs[i].kernel.as_ref().unwrap();
    assert_eq!(side(0).verdict, "accepted");
    assert_eq!(side(0).insns_processed, Some(2));
    assert!(side(0).log.as_deref().unwrap().contains("1: (95) exit"));
    assert_eq!(side(1).verdict, "rejected");
    assert_eq!(side(1).errno, Some(13));
    assert_eq!(side(1).error.as_deref(), Some("R0 !read_ok"));
    assert_eq!(side(2).verdict, "rejected");
    assert_eq!(side(2).errno, Some(13));
    // `R0 invalid mem access 'map_value_or_null'` on every version.
    assert!(
        side(2)
            .error
            .as_deref()
            .unwrap()
            .contains("invalid mem access"),
        "{:?}",
        side(2).error
    );
    // ld_imm64 takes slots 3 and 4, the call 5, the load 6.
    assert_eq!(side(2).error_insn, Some(6));
    assert!(report.timing.host_to_init_ms.is_some());
    let _ = std::fs::remove_dir_all(&work);
}
