//! Building the fd-free [`LoadRequest`] of each program.

use bpfcheck_btf::Btf;
use bpfcheck_uapi::{InsnIdx, LoadRequest, MapSpec, RawInsn, op};

use crate::core_relo::CoreReloReport;

use crate::error::ObjError;
use crate::externs::{ExternKind, ExternResolver, KsymValue};
use crate::reloc::{self, CALL, ExtInfo, LD_IMM64, RelocKind};
use crate::{Function, Object};

/// libbpf's `POISON_CALL_KFUNC_BASE`: the `imm` of a call to an unresolved
/// weak kfunc, plus the extern's index. The verifier reports such a call
/// only if it is reachable.
pub const POISON_CALL_KFUNC_BASE: i32 = 2_002_000_000;

/// Options of [`Object::load_requests`].
#[derive(Clone, Copy, Default)]
pub struct LoadOptions<'a> {
    /// Resolves `__kconfig` / `__ksym` externs (a kernel profile). Without
    /// one, programs using non-weak externs fail with
    /// [`ObjError::UnresolvedExtern`] and weak ones read as zero.
    pub resolver: Option<&'a dyn ExternResolver>,
    /// `kern_version` for objects without a `version` section (libbpf
    /// passes the running kernel's `LINUX_VERSION_CODE`; only kprobes on
    /// kernels before 5.0 check it). 0 when `None`.
    pub kernel_version: Option<u32>,
    /// The BTF CO-RE relocations resolve against (the kernel's). Objects
    /// with CO-RE relocations cannot be loaded without it, by libbpf as
    /// here ([`ObjError::Core`]). BTF-attached programs (`fentry/`,
    /// `tp_btf/`, `lsm/`, `iter/`, …) also get their `attach_btf_id`
    /// from it, as libbpf finds it at load; without it that stays 0 and
    /// only `LoadRequest::attach_target` names the target.
    pub target_btf: Option<&'a Btf<'a>>,
}

impl std::fmt::Debug for LoadOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadOptions")
            .field("resolver", &self.resolver.is_some())
            .field("kernel_version", &self.kernel_version)
            .field("target_btf", &self.target_btf.is_some())
            .finish()
    }
}

/// One program's load request, with the names it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramRequest {
    /// Full program (symbol) name.
    pub name: String,
    /// Section name without the `?` prefix.
    pub section: String,
    /// Whether libbpf would load it by default.
    pub autoload: bool,
    /// What `BPF_PROG_LOAD` receives.
    pub request: LoadRequest,
    /// The CO-RE relocations of the program and its subprograms, at their
    /// instruction indices in `request.insns`, in libbpf's order.
    pub core: Vec<CoreReloReport>,
}

/// Kernel program names are 15 bytes.
const PROG_NAME_MAX: usize = 15;

impl Object {
    /// Load requests for all programs, in libbpf's program order, including
    /// those with autoload off (marked so), since checking them is useful.
    pub fn load_requests(&self, opts: &LoadOptions<'_>) -> Result<Vec<ProgramRequest>, ObjError> {
        let (functions, core) = self.core_relocated(opts.target_btf)?;
        let mains: Vec<usize> = (0..self.functions.len())
            .filter(|&i| !self.is_subprogram(&self.functions[i]))
            .collect();
        mains
            .into_iter()
            .map(|i| self.build(&functions, &core, i, opts))
            .collect()
    }

    /// Load requests for all programs, each on its own: a program that
    /// cannot be prepared (an unknown `SEC()`, an unresolved extern) does
    /// not take the others with it, as with libbpf, which loads the
    /// programs it can. In libbpf's program order, with the program names.
    pub fn load_requests_each(
        &self,
        opts: &LoadOptions<'_>,
    ) -> Vec<(String, Result<ProgramRequest, ObjError>)> {
        let names = self.programs().map(|f| f.name.clone());
        match self.core_relocated(opts.target_btf) {
            Ok((functions, core)) => (0..self.functions.len())
                .filter(|&i| !self.is_subprogram(&self.functions[i]))
                .map(|i| {
                    let name = self.functions[i].name.clone();
                    (name, self.build(&functions, &core, i, opts))
                })
                .collect(),
            Err(e) => names.map(|n| (n, Err(e.clone()))).collect(),
        }
    }

    /// The load request of one program, by name.
    pub fn load_request(
        &self,
        name: &str,
        opts: &LoadOptions<'_>,
    ) -> Result<ProgramRequest, ObjError> {
        let idx = self
            .functions
            .iter()
            .position(|f| f.name == name && !self.is_subprogram(f))
            .ok_or_else(|| ObjError::Program {
                program: name.to_owned(),
                insn: None,
                what: "no such program".into(),
            })?;
        let (functions, core) = self.core_relocated(opts.target_btf)?;
        self.build(&functions, &core, idx, opts)
    }

    /// The CO-RE reports of the functions linked into one program, moved
    /// to their final instruction indices.
    fn program_core(core: &[CoreReloReport], placed: &[Option<usize>]) -> Vec<CoreReloReport> {
        let mut out = Vec::new();
        for r in core {
            let Some(base) = placed.get(r.function_index()).copied().flatten() else {
                continue;
            };
            let mut r = r.clone();
            r.insn = InsnIdx(u32::try_from(base + r.insn.get()).unwrap_or(u32::MAX));
            out.push(r);
        }
        out.sort_by_key(|r| r.insn);
        out
    }

    fn build(
        &self,
        functions: &[crate::Function],
        core: &[CoreReloReport],
        main: usize,
        opts: &LoadOptions<'_>,
    ) -> Result<ProgramRequest, ObjError> {
        let f = &functions[main];
        let def = f.sec_def.ok_or_else(|| ObjError::UnknownSection {
            program: f.name.clone(),
            section: f.section.clone(),
        })?;
        let ext = self.ext_info.as_ref().map(|(func, line)| ExtInfo {
            func_info: func,
            line_info: line,
        });
        // func/line info mean nothing to the kernel without the BTF they index.
        let ext = ext.filter(|_| self.btf.is_some());
        let exception_cb = self.exception_callback(functions, main)?;
        let linked = reloc::link(functions, main, self.text_shndx, ext.as_ref(), exception_cb)?;
        let core = Self::program_core(core, &linked.placed);
        let mut insns = linked.insns;
        for r in &linked.relocs {
            self.apply(f, &mut insns, r.insn, r.kind, opts)?;
        }
        // The maps as libbpf creates them, which is not quite as defined:
        // a PERF_EVENT_ARRAY without max_entries gets the running
        // machine's possible CPUs, as libbpf gives it.
        let cpus = crate::maps::host_possible_cpus();
        let mut maps: Vec<MapSpec> = self
            .maps
            .iter()
            .map(|m| crate::maps::creation_spec(&m.spec, cpus))
            .collect();
        if let Some(k) = self.kconfig_map {
            maps[k].initial_value = Some(self.kconfig_value(opts)?);
        }
        let mut name = f.name.clone();
        let mut end = name.len().min(PROG_NAME_MAX);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
        let attach_target = def.attach_btf_name(&f.section);
        let mut expected_attach_type = def.expected_attach_type();
        let mut struct_ops_attach = None;
        if let Some(target) = opts.target_btf {
            for st in &self.struct_ops {
                st.kern_spec(&mut maps[st.map], target);
                if struct_ops_attach.is_none()
                    && def.prog_type == bpfcheck_uapi::ProgType::STRUCT_OPS
                {
                    struct_ops_attach = st.attach(&f.name, target);
                }
            }
        }
        let mut attach_btf_id = attach_btf_id(attach_target.as_deref(), def, opts.target_btf);
        if let Some((id, member)) = struct_ops_attach {
            attach_btf_id = id;
            expected_attach_type = bpfcheck_uapi::AttachType(member);
        }
        // libbpf goes on without BTF when the kernel refuses it (and the
        // object has no struct_ops): programs and maps are loaded without.
        let without_btf = self.btf_refused.is_some() && !self.has_struct_ops;
        if without_btf {
            for m in &mut maps {
                drop_map_btf(m);
            }
        }
        let request = LoadRequest {
            name,
            prog_type: def.prog_type,
            expected_attach_type,
            insns,
            license: self.license.clone(),
            kern_version: self.kern_version.or(opts.kernel_version).unwrap_or(0),
            prog_flags: def.prog_flags(),
            attach_btf_id,
            attach_target,
            prog_btf: self.btf.clone().filter(|_| !without_btf),
            func_info: linked
                .func_info
                .filter(|_| !without_btf)
                .unwrap_or_default(),
            line_info: linked
                .line_info
                .filter(|_| !without_btf)
                .unwrap_or_default(),
            maps,
            btf_objects: Vec::new(),
            fd_array: None,
            fd_array_cnt: 0,
        };
        Ok(ProgramRequest {
            name: f.name.clone(),
            section: f.section.clone(),
            autoload: f.autoload,
            request,
            core,
        })
    }

    /// The `.kconfig` map value: resolved externs at their offsets, zero
    /// elsewhere (and for unresolved weak externs).
    fn kconfig_value(&self, opts: &LoadOptions<'_>) -> Result<Vec<u8>, ObjError> {
        let size = crate::externs::kconfig_size(&self.externs).unwrap_or(0) as usize;
        let mut value = vec![0; size];
        let Some(resolver) = opts.resolver else {
            return Ok(value);
        };
        for e in &self.externs {
            let ExternKind::Kconfig { offset, size, .. } = e.kind else {
                continue;
            };
            let Some(bytes) = resolver.kconfig(e) else {
                continue;
            };
            if bytes.len() != size as usize {
                return Err(ObjError::Extern {
                    name: e.name.clone(),
                    what: format!(
                        "resolver gave {} bytes for a {size}-byte value",
                        bytes.len()
                    ),
                });
            }
            let off = offset as usize;
            if let Some(slot) = value.get_mut(off..off + bytes.len()) {
                slot.copy_from_slice(&bytes);
            }
        }
        Ok(value)
    }

    /// The exception callback of a main program (an
    /// `exception_callback:NAME` decl tag on it): a global, non-hidden
    /// `.text` function, as libbpf requires. Several tags: none (the
    /// verifier refuses the program).
    fn exception_callback(
        &self,
        functions: &[crate::Function],
        main: usize,
    ) -> Result<Option<usize>, ObjError> {
        let prog = &functions[main].name;
        let mut tags = self.exception_cbs.iter().filter(|(p, _)| p == prog);
        let Some((_, cb)) = tags.next() else {
            return Ok(None);
        };
        if tags.next().is_some() {
            return Ok(None);
        }
        let idx = functions
            .iter()
            .position(|f| self.is_subprogram(f) && &f.name == cb)
            .ok_or_else(|| ObjError::Program {
                program: prog.clone(),
                insn: None,
                what: format!("cannot find exception callback '{cb}'"),
            })?;
        if !functions[idx].global || functions[idx].hidden {
            return Err(ObjError::Program {
                program: prog.clone(),
                insn: None,
                what: format!("exception callback {cb} must be a global non-hidden function"),
            });
        }
        Ok(Some(idx))
    }

    /// A ksym as libbpf resolves it: kfuncs by their essential name, and,
    /// when the kernel's BTF is at hand, a typed symbol whose kernel type
    /// is incompatible with its declaration (`bpf_core_types_are_compat`)
    /// is unresolved for a weak kfunc and an error otherwise.
    fn ksym_value(
        &self,
        e: &crate::externs::Extern,
        opts: &LoadOptions<'_>,
    ) -> Result<Option<KsymValue>, ObjError> {
        let Some(resolver) = opts.resolver else {
            return Ok(None);
        };
        let value = crate::externs::resolve_ksym(resolver, e);
        let (Some(KsymValue::BtfId(id)), Some(target), ExternKind::Ksym { func, type_id }) =
            (value, opts.target_btf, e.kind)
        else {
            return Ok(value);
        };
        let Some(local) = self.btf.as_deref().and_then(|b| Btf::parse(b).ok()) else {
            return Ok(value);
        };
        if type_id == 0 {
            return Ok(value);
        }
        use bpfcheck_btf::BtfTypeId;
        let compat = target
            .type_by_id(BtfTypeId(id))
            .ok()
            .and_then(|t| t.ref_type())
            .and_then(|targ| {
                bpfcheck_btf::core::types_are_compat(&local, BtfTypeId(type_id), target, targ).ok()
            })
            .unwrap_or(false);
        match (compat, func && e.weak) {
            (true, _) => Ok(value),
            (false, true) => Ok(None),
            (false, false) => Err(ObjError::Extern {
                name: e.name.clone(),
                what: format!(
                    "its declared type is incompatible with the kernel's [{id}] (libbpf refuses it)"
                ),
            }),
        }
    }

    /// libbpf's `bpf_object__relocate_data` for one relocation.
    fn apply(
        &self,
        f: &Function,
        insns: &mut [RawInsn],
        at: usize,
        kind: RelocKind,
        opts: &LoadOptions<'_>,
    ) -> Result<(), ObjError> {
        let err = |what: String| ObjError::Program {
            program: f.name.clone(),
            insn: Some(u32::try_from(at).unwrap_or(u32::MAX)),
            what,
        };
        let index = |i: usize| i32::try_from(i).map_err(|_| err("map index overflows imm".into()));
        let pair = |insns: &mut [RawInsn]| -> Result<(), ObjError> {
            if insns.get(at).is_some_and(|i| i.code == LD_IMM64) && at + 1 < insns.len() {
                Ok(())
            } else {
                Err(err("relocation needs a complete ld_imm64".into()))
            }
        };
        match kind {
            RelocKind::Call { .. } | RelocKind::SubprogAddr { .. } => {}
            RelocKind::Map { map } => {
                pair(insns)?;
                insns[at].src = op::PSEUDO_MAP_FD;
                insns[at].imm = index(map)?;
            }
            RelocKind::Data { map, sym_off } => {
                pair(insns)?;
                let off = i64::from(insns[at].imm) + sym_off as i64;
                insns[at + 1].imm = off as i32;
                insns[at].src = op::PSEUDO_MAP_VALUE;
                insns[at].imm = index(map)?;
            }
            RelocKind::ExternLd { ext } => {
                pair(insns)?;
                let e = &self.externs[ext];
                match e.kind {
                    ExternKind::Kconfig { offset, .. } => {
                        let resolved = opts.resolver.and_then(|r| r.kconfig(e)).is_some();
                        if !resolved && !e.weak {
                            return Err(unresolved(f, e));
                        }
                        let map = self
                            .kconfig_map
                            .ok_or_else(|| err("kconfig extern without a .kconfig map".into()))?;
                        insns[at].src = op::PSEUDO_MAP_VALUE;
                        insns[at].imm = index(map)?;
                        insns[at + 1].imm = offset as i32;
                    }
                    ExternKind::Ksym { .. } => {
                        match self.ksym_value(e, opts)? {
                            Some(KsymValue::BtfId(id)) => {
                                insns[at].src = op::PSEUDO_BTF_ID;
                                insns[at].imm = id as i32;
                                // 0: the id is in vmlinux BTF.
                                insns[at + 1].imm = 0;
                            }
                            Some(KsymValue::Address(addr)) => {
                                insns[at].imm = addr as u32 as i32;
                                insns[at + 1].imm = (addr >> 32) as u32 as i32;
                            }
                            None if e.weak => {
                                insns[at].imm = 0;
                                insns[at + 1].imm = 0;
                            }
                            None => return Err(unresolved(f, e)),
                        }
                    }
                }
            }
            RelocKind::ExternCall { ext } => {
                let e = &self.externs[ext];
                let call = insns
                    .get_mut(at)
                    .filter(|i| i.code == CALL)
                    .ok_or_else(|| err("kfunc relocation on a non-call".into()))?;
                match self.ksym_value(e, opts)? {
                    Some(KsymValue::BtfId(id)) => {
                        call.src = op::PSEUDO_KFUNC_CALL;
                        call.imm = id as i32;
                        call.off = 0;
                    }
                    Some(KsymValue::Address(_)) => {
                        return Err(err(format!("kfunc '{}' resolved to an address", e.name)));
                    }
                    None if e.weak => {
                        *call = RawInsn::new(CALL, 0, 0, 0, POISON_CALL_KFUNC_BASE + index(ext)?);
                    }
                    None => return Err(unresolved(f, e)),
                }
            }
        }
        Ok(())
    }
}

/// A map created without the program's BTF.
fn drop_map_btf(m: &mut MapSpec) {
    m.btf_key_type_id = 0;
    m.btf_value_type_id = 0;
    if let Some(inner) = &mut m.inner {
        drop_map_btf(inner);
    }
}

/// libbpf's `find_kernel_btf_id` in the target BTF: the attach target of
/// a BTF-attached program (`btf_trace_*` typedef for `tp_btf`, a function
/// otherwise). 0 without a target BTF, or when the target is not in it
/// (module functions, `mod:func` names): the kernel then refuses the load,
/// as it refuses libbpf's, which fails earlier.
fn attach_btf_id(target: Option<&str>, def: &crate::SecDef, btf: Option<&Btf<'_>>) -> u32 {
    let (Some(target), Some(btf)) = (target, btf) else {
        return 0;
    };
    let kind = if def.attach_type == bpfcheck_uapi::AttachType::TRACE_RAW_TP {
        bpfcheck_btf::BtfKind::Typedef
    } else {
        bpfcheck_btf::BtfKind::Func
    };
    btf.find_by_name_kind(target, kind).map_or(0, |t| t.id().0)
}

fn unresolved(f: &Function, e: &crate::externs::Extern) -> ObjError {
    ObjError::UnresolvedExtern {
        name: e.name.clone(),
        section: e.section(),
        program: f.name.clone(),
    }
}
