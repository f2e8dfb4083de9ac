//! The kernels' own BTF, embedded in the built-in profiles.
//!
//! `data/btf/NAME.btf.zst` is the `.BTF` section of the kernel image a
//! profile describes (`tools/gen-profile/btf.sh` makes it and records its
//! origin and checksum in `data/btf/sources.txt`). It is decompressed the
//! first time a query needs it, so a check that touches nothing BTF-typed
//! costs nothing. Decompressing takes 60–100 ms for 3.4–5.5 MB of BTF and
//! opening it 1–2 ms (`cargo bench -p bpfcheck-profile`).

use std::io::Read;
use std::sync::OnceLock;

use crate::KernelBtf;

/// `(profile name, zstd-compressed vmlinux BTF)`.
const EMBEDDED: &[(&str, &[u8])] = &[
    ("5.10", include_bytes!("../data/btf/5.10.btf.zst")),
    ("6.1", include_bytes!("../data/btf/6.1.btf.zst")),
    ("6.12", include_bytes!("../data/btf/6.12.btf.zst")),
    ("6.18", include_bytes!("../data/btf/6.18.btf.zst")),
    ("7.2", include_bytes!("../data/btf/7.2.btf.zst")),
];

/// The embedded BTF of the built-in profile `name`, read lazily. Every
/// profile of one kernel shares one copy: it is immutable data of the
/// binary, decompressed and indexed at most once per process.
pub(crate) fn btf_of(name: &str) -> Option<KernelBtf> {
    static SHARED: [OnceLock<KernelBtf>; EMBEDDED.len()] =
        [const { OnceLock::new() }; EMBEDDED.len()];
    let i = EMBEDDED.iter().position(|(n, _)| *n == name)?;
    let (name, zst) = EMBEDDED[i];
    let btf = SHARED[i].get_or_init(|| {
        KernelBtf::lazy(format!("the embedded BTF of {name}"), move || {
            decompress(zst)
        })
    });
    Some(btf.clone())
}

/// The raw bytes of the embedded BTF of `name` (for tools and benchmarks).
pub fn embedded_btf_bytes(name: &str) -> Option<Result<Vec<u8>, String>> {
    let &(_, zst) = EMBEDDED.iter().find(|(n, _)| *n == name)?;
    Some(decompress(zst))
}

fn decompress(mut zst: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(zst.len() * 4);
    ruzstd::decoding::StreamingDecoder::new(&mut zst)
        .map_err(|e| format!("corrupt zstd frame: {e}"))?
        .read_to_end(&mut out)
        .map_err(|e| format!("corrupt zstd data: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_btf_opens_and_names_its_kernel() {
        for (name, _) in EMBEDDED {
            let btf = btf_of(name).expect("embedded");
            let b = btf.btf().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                b.own_type_count() > 50_000,
                "{name}: {} types",
                b.own_type_count()
            );
            // Every kernel since 5.5 has the trampoline's `bpf_prog`.
            assert!(
                b.find_by_name_kind("bpf_prog", bpfcheck_btf::BtfKind::Struct)
                    .is_some(),
                "{name}: no struct bpf_prog"
            );
        }
    }

    #[test]
    fn corrupt_data_is_an_error_not_a_panic() {
        assert!(decompress(b"not zstd").is_err());
        let truncated = &EMBEDDED[0].1[..100];
        assert!(decompress(truncated).is_err());
    }
}
