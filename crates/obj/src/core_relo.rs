//! CO-RE relocations, applied as libbpf's `bpf_object__relocate_core` does
//! at load time: per `.BTF.ext` section and record, in file order, on the
//! instructions of the function (program or `.text` subprogram) holding
//! the relocated instruction, before subprograms are appended. One
//! candidate cache serves the whole object, so the relocations of one
//! local type narrow its candidates for the later ones, as in libbpf.
//!
//! Without a target BTF libbpf cannot load an object that has CO-RE
//! relocations at all (`bpf_object__load_vmlinux_btf` fails the load), so
//! [`Object::load_requests`] then fails with [`ObjError::Core`]; it does not
//! guess. Likewise an unresolvable relocation (ambiguity, bad access
//! string, unpatchable instruction) fails every program of the object.
//! A relocation that merely found no target poisons its instruction.
//!
//! Programs with autoload off are relocated after all others: libbpf skips
//! them, so they must not narrow the candidate cache the others see.

use bpfcheck_btf::Btf;
use bpfcheck_btf::core::{CorePatch, CorePatchError, CoreResolution, CoreResolver, patch_insn};
use bpfcheck_btf::ext::{BtfExt, CoreReloRec};
use bpfcheck_uapi::{InsnIdx, RawInsn};

use crate::error::ObjError;
use crate::{Function, Object};

/// One CO-RE relocation and what became of its instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreReloReport {
    /// The function (program or subprogram) holding the instruction.
    pub function: String,
    /// The instruction: relative to that function in
    /// [`Object::core_relocations`], in the final program on
    /// [`ProgramRequest::core`](crate::ProgramRequest::core).
    pub insn: InsnIdx,
    /// The resolution: what was asked, candidates, values or failure.
    pub resolution: CoreResolution,
    /// What patching did; `None` when resolution failed.
    pub patch: Option<Result<CorePatch, CorePatchError>>,
    /// The instruction before and after (equal when nothing changed).
    pub before: RawInsn,
    /// After patching.
    pub after: RawInsn,
    /// Index of the function in [`Object::functions`].
    func: usize,
}

impl CoreReloReport {
    /// Index of the function in [`Object::functions`].
    pub fn function_index(&self) -> usize {
        self.func
    }

    /// Whether libbpf would fail the load over this relocation.
    pub fn is_fatal(&self) -> bool {
        !matches!(self.patch, Some(Ok(_)))
    }

    /// Why it is fatal, in words.
    pub fn failure(&self) -> Option<String> {
        match (&self.resolution.result, &self.patch) {
            (Err(e), _) => Some(e.to_string()),
            (_, Some(Err(e))) => Some(e.to_string()),
            _ => None,
        }
    }
}

/// `.BTF.ext` CO-RE records by ELF section index, in file order.
pub(crate) type CoreRecords = Vec<(usize, Vec<CoreReloRec>)>;

/// Reads the core_relo records of `.BTF.ext`, naming sections through the
/// object's BTF. Records of sections the object lacks are dropped, as
/// libbpf drops them.
pub(crate) fn collect(
    ext_data: &[u8],
    btf: &Btf<'_>,
    section_index: impl Fn(&str) -> Option<usize>,
) -> Result<CoreRecords, ObjError> {
    let ext = BtfExt::parse(ext_data).map_err(|e| ObjError::BtfExt {
        offset: e.offset().unwrap_or(0),
        what: e.to_string(),
    })?;
    let mut out = Vec::new();
    for sec in &ext.core_relo {
        let name = btf.str_at(sec.sec_name_off).map_err(|e| ObjError::BtfExt {
            offset: sec.file_off,
            what: format!("core_relo section name: {e}"),
        })?;
        if name.is_empty() {
            return Err(ObjError::BtfExt {
                offset: sec.file_off,
                what: "core_relo section without a name".into(),
            });
        }
        if let Some(idx) = section_index(name) {
            out.push((idx, sec.core_relos().collect()));
        }
    }
    Ok(out)
}

impl Object {
    /// Whether the object carries CO-RE relocations.
    pub fn has_core_relocations(&self) -> bool {
        self.core_relos.iter().any(|(_, r)| !r.is_empty())
    }

    /// Resolves and applies every CO-RE relocation against `target` on a
    /// copy of the functions, in libbpf's order. Returns the relocated
    /// functions and one report per relocation (instruction indices
    /// relative to their function). Never fails: failures are in the
    /// reports (see [`CoreReloReport::is_fatal`]).
    pub fn core_relocations(&self, target: &Btf<'_>) -> (Vec<Function>, Vec<CoreReloReport>) {
        let mut functions = self.functions.clone();
        let mut reports = Vec::new();
        let Some(local_bytes) = self.btf.as_deref() else {
            return (functions, reports);
        };
        let Ok(local) = Btf::parse(local_bytes) else {
            return (functions, reports);
        };
        let mut resolver = CoreResolver::new(&local, target);
        for autoload_pass in [true, false] {
            for (shndx, recs) in &self.core_relos {
                for rec in recs {
                    if rec.insn_off % 8 != 0 {
                        continue;
                    }
                    let sec_insn = (rec.insn_off / 8) as usize;
                    let Some(fidx) = crate::reloc::find_function(&functions, *shndx, sec_insn)
                    else {
                        continue;
                    };
                    let f = &mut functions[fidx];
                    if f.autoload != autoload_pass {
                        continue;
                    }
                    let at = sec_insn - f.insn_offset;
                    let before = f.insns[at];
                    let resolution = resolver.resolve(rec);
                    let patch = resolution
                        .result
                        .as_ref()
                        .ok()
                        .map(|v| patch_insn(&mut f.insns, at, v));
                    reports.push(CoreReloReport {
                        function: f.name.clone(),
                        insn: InsnIdx(u32::try_from(at).unwrap_or(u32::MAX)),
                        resolution,
                        patch,
                        before,
                        after: f.insns[at],
                        func: fidx,
                    });
                }
            }
        }
        (functions, reports)
    }

    /// The functions with CO-RE applied for `target`, and the reports; an
    /// error when libbpf would fail the load.
    pub(crate) fn core_relocated(
        &self,
        target: Option<&Btf<'_>>,
    ) -> Result<(Vec<Function>, Vec<CoreReloReport>), ObjError> {
        if !self.has_core_relocations() {
            return Ok((self.functions.clone(), Vec::new()));
        }
        let target = target.ok_or_else(|| ObjError::Core {
            program: None,
            insn: None,
            what: "the object has CO-RE relocations and no target BTF was given \
                   (libbpf fails to load it without the kernel's BTF)"
                .into(),
        })?;
        let (functions, reports) = self.core_relocations(target);
        if let Some(r) = reports.iter().find(|r| r.is_fatal()) {
            return Err(ObjError::Core {
                program: Some(r.function.clone()),
                insn: Some(r.insn.0),
                what: format!(
                    "relocation {} ({}): {}",
                    r.resolution.relo.kind.name(),
                    r.resolution.spec,
                    r.failure().unwrap_or_default()
                ),
            });
        }
        Ok((functions, reports))
    }
}
