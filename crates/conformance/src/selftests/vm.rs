//! The selftests corpus against a kernel booted under QEMU (the VM
//! oracle), for the profiles of kernels other than the running one:
//! requests are prepared for the profile's kernel (CO-RE and BTF attach
//! targets against its own BTF), loaded in the guest in one batch, and each
//! answer is compared with bpfcheck's for that profile exactly as the
//! live-kernel runner compares them.
//!
//! Programs whose preparation needs the target machine (ksym and kconfig
//! externs) are counted apart, as are those the annotations say are not
//! for a privileged x86-64 run.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use bpfcheck_btf::Btf;
use bpfcheck_btf::BtfKind;
use bpfcheck_obj::{
    Extern, ExternKind, ExternResolver, HostResolver, KsymValue, LoadOptions, Object,
};
use bpfcheck_report::{KernelSide, Record, Summary};
use bpfcheck_uapi::LoadRequest;
use bpfcheck_verifier::KernelProfile;

use super::annotations::spec_of;
use super::run::{ProgramId, diff_record, resolve_attach_btf_id};

/// One program ready for the guest.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Object file name.
    pub object: String,
    /// Program name.
    pub program: String,
    /// ELF section.
    pub section: String,
    /// What `BPF_PROG_LOAD` receives.
    pub request: LoadRequest,
}

impl Prepared {
    /// The name the batch and the results use.
    pub fn label(&self) -> String {
        format!("{}:{}", self.object, self.program)
    }
}

/// The programs of `objects` to load, in order, and how many were left out
/// by reason.
pub fn prepare(
    objects: &[PathBuf],
    profile: &KernelProfile,
) -> (Vec<Prepared>, BTreeMap<String, u64>) {
    prepare_programs(objects, profile, false, None)
}

/// [`prepare`], with `untested` also the programs no annotation gives a
/// verdict (auxiliary programs, and those of objects the selftests load
/// from their own C tests): the kernel's answer is what bpfcheck is
/// compared with, so a program needs no expected verdict. 6.1's selftests
/// mostly predate the annotations.
///
/// With `kconfig`, the guest kernel's configuration (the `config` fetched
/// beside its image), externs resolve as libbpf would resolve them in the
/// guest: `__kconfig` from it, `__ksym` functions and typed variables by
/// name in the profile's BTF (the guest's own); address-only `__ksym`s
/// still cannot be prepared. Without it, no extern resolves.
pub fn prepare_programs(
    objects: &[PathBuf],
    profile: &KernelProfile,
    untested: bool,
    kconfig: Option<&HashMap<String, String>>,
) -> (Vec<Prepared>, BTreeMap<String, u64>) {
    let vmlinux = profile.btf.as_ref().and_then(|b| b.btf().ok());
    let resolver = kconfig.map(|kconfig| {
        let v = &profile.version;
        let code =
            (u32::from(v.major) << 16) | (u32::from(v.minor) << 8) | u32::from(v.patch.min(255));
        GuestResolver {
            kconfig: HostResolver::new(None, kconfig.clone(), HashMap::new(), code),
            vmlinux,
        }
    });
    let mut out = Vec::new();
    let mut skipped = BTreeMap::new();
    let mut skip = |why: &str| *skipped.entry(why.to_owned()).or_insert(0) += 1;
    for path in objects {
        let Some((obj, btf)) = open(path) else {
            skip("object unreadable");
            continue;
        };
        let object = path
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        for f in obj.programs() {
            let Ok(spec) = spec_of(&btf, &f.name) else {
                skip("bad annotation");
                continue;
            };
            if !untested && (spec.auxiliary || !spec.has_verdict) {
                skip("not a test");
                continue;
            }
            if !spec.priv_mode || !spec.runs_on_x86_64() {
                skip("not for a privileged x86-64 run");
                continue;
            }
            if spec.btf_path.is_some() {
                skip("__btf_path");
                continue;
            }
            let opts = LoadOptions {
                resolver: resolver.as_ref().map(|r| r as &dyn ExternResolver),
                kernel_version: None,
                target_btf: vmlinux,
            };
            let mut req = match obj.load_request(&f.name, &opts) {
                Ok(p) => p.request,
                Err(_) => {
                    skip("cannot be prepared without the target machine (externs)");
                    continue;
                }
            };
            if let Some(v) = vmlinux {
                resolve_attach_btf_id(&mut req, v);
            }
            req.prog_flags = spec.prog_flags(0, req.prog_flags);
            out.push(Prepared {
                object: object.clone(),
                program: f.name.clone(),
                section: f.section.clone(),
                request: req,
            });
        }
    }
    (out, skipped)
}

/// Externs as libbpf resolves them in the guest (see [`prepare_programs`]).
struct GuestResolver<'a> {
    kconfig: HostResolver,
    vmlinux: Option<&'a Btf<'static>>,
}

impl ExternResolver for GuestResolver<'_> {
    fn kconfig(&self, ext: &Extern) -> Option<Vec<u8>> {
        self.kconfig.kconfig(ext)
    }

    fn ksym(&self, ext: &Extern) -> Option<KsymValue> {
        let ExternKind::Ksym { func, type_id } = ext.kind else {
            return None;
        };
        if !func && type_id == 0 {
            return None;
        }
        let kind = if func { BtfKind::Func } else { BtfKind::Var };
        self.vmlinux?
            .find_by_name_kind(&ext.name, kind)
            .map(|t| KsymValue::BtfId(t.id().0))
    }
}

fn open(path: &Path) -> Option<(Object, Btf<'static>)> {
    let bytes = std::fs::read(path).ok()?;
    let obj = Object::parse_named(&bytes, &bpfcheck_obj::object_name_from_path(path)).ok()?;
    let btf = Btf::from_arc(std::sync::Arc::from(obj.btf.clone()?)).ok()?;
    Some((obj, btf))
}

/// bpfcheck's verdicts for `profile` against the guest's answers (`None`
/// for a program the guest could not load: a map it could not create,
/// or no answer at all).
pub fn compare(
    prepared: &[Prepared],
    answers: &[Option<KernelSide>],
    profile: &KernelProfile,
    log_level: u32,
) -> (Vec<Record>, Summary) {
    let records: Vec<Record> = prepared
        .iter()
        .zip(answers)
        .filter_map(|(p, k)| {
            let k = k.clone()?;
            let id = ProgramId {
                object: &p.object,
                program: &p.program,
                section: &p.section,
            };
            Some(diff_record(id, &p.request, profile, log_level, k).0)
        })
        .collect();
    let summary = Summary::of(&records);
    (records, summary)
}
