//! Turning command-line inputs into load requests: ELF objects and light
//! skeleton headers through `bpfcheck-obj`, raw instruction files, and
//! assembler fixtures.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bpfcheck_uapi::{
    AttachType, ByteOrder, FdRef, LoadRequest, MapSpec, ProgType, RawInsn, parse_prog_flags,
};

/// Options that describe raw inputs (and override object-derived values).
#[derive(Clone, Debug, Default, clap::Args)]
pub(crate) struct InputOpts {
    /// Inputs are files of 8-byte little-endian instructions, as BPF_PROG_LOAD takes them.
    #[arg(long)]
    pub(crate) raw: bool,
    /// Raw inputs are big-endian (bpfeb).
    #[arg(long, requires = "raw")]
    pub(crate) big_endian: bool,
    /// Program type, by the kernel's name (socket_filter, xdp, sched_cls, kprobe, …).
    #[arg(long, value_name = "TYPE")]
    pub(crate) prog_type: Option<String>,
    /// Expected attach type, by the kernel's name (cgroup_inet_ingress, xdp, …).
    #[arg(long, value_name = "TYPE")]
    pub(crate) expected_attach_type: Option<String>,
    /// Program flags: names joined by `|` (BPF_F_SLEEPABLE|BPF_F_TEST_STATE_FREQ) or a number.
    #[arg(long, value_name = "FLAGS")]
    pub(crate) prog_flags: Option<String>,
    /// A map TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES[:FLAGS]; the i-th is the map of an ld_imm64 map-fd imm i and fd_array[i].
    #[arg(long = "map", value_name = "SPEC")]
    pub(crate) maps: Vec<String>,
    /// Only the program with this name.
    #[arg(long, value_name = "NAME")]
    pub(crate) program: Option<String>,
}

/// One program to judge.
#[derive(Clone, Debug)]
pub(crate) struct Program {
    /// The input file as given.
    pub(crate) object: PathBuf,
    /// Program name.
    pub(crate) name: String,
    /// ELF section, for objects.
    pub(crate) section: Option<String>,
    /// What to load.
    pub(crate) request: LoadRequest,
    /// Set when the program cannot be prepared for this kernel (CO-RE
    /// relocations with no kernel BTF): the verdict is `unsupported`.
    pub(crate) unprepared: Option<String>,
}

fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

fn is_asm(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "s" || e == "bpfasm")
}

/// One input file, read and parsed once.
#[derive(Debug)]
pub(crate) enum Input {
    /// A raw instruction file or an assembler fixture: one program.
    Single(Box<Program>),
    /// An assembler fixture that names kernel symbols (`call kfunc(NAME)`,
    /// `btf_id(NAME)`): its BTF ids are those of the kernel it is
    /// prepared for.
    Fixture {
        path: PathBuf,
        fixture: Box<bpfcheck_asm::Fixture>,
    },
    /// An ELF object, whose programs are prepared per kernel (CO-RE).
    Object {
        path: PathBuf,
        object: Box<bpfcheck_obj::Object>,
    },
}

/// Reads and parses every input file.
pub(crate) fn read_inputs(files: &[PathBuf], opts: &InputOpts) -> Result<Vec<Input>> {
    files
        .iter()
        .map(|f| read_input(f, opts).with_context(|| f.display().to_string()))
        .collect()
}

/// The programs of all inputs, prepared for one kernel: objects with CO-RE
/// relocations are relocated against `target_btf` (that kernel's BTF), and
/// the kernel symbols fixtures name are looked up in `symbol_btf` (the BTF
/// of the kernel the program is loaded into; without one, such a fixture is
/// an error).
///
/// `host`, for programs the running kernel loads, resolves `__kconfig` and
/// `__ksym` externs and supplies `kern_version` as libbpf would on it.
pub(crate) fn programs_for(
    inputs: &[Input],
    opts: &InputOpts,
    target_btf: Option<&bpfcheck_btf::Btf<'_>>,
    symbol_btf: Option<&bpfcheck_btf::Btf<'_>>,
    host: Option<&bpfcheck_obj::HostResolver>,
) -> Result<Vec<Program>> {
    let mut out = Vec::new();
    for input in inputs {
        let (path, mut progs) = match input {
            Input::Single(p) => (p.object.clone(), vec![(**p).clone()]),
            Input::Fixture { path, fixture } => (
                path.clone(),
                vec![
                    fixture_program(path, fixture, opts, symbol_btf)
                        .with_context(|| path.display().to_string())?,
                ],
            ),
            Input::Object { path, object } => (
                path.clone(),
                object_programs(path, object, opts, target_btf, host)
                    .with_context(|| path.display().to_string())?,
            ),
        };
        if let Some(want) = &opts.program {
            progs.retain(|p| &p.name == want);
            if progs.is_empty() {
                bail!("{}: no program named `{want}`", path.display());
            }
        }
        out.extend(progs);
    }
    Ok(out)
}

fn single(path: &Path, request: LoadRequest) -> Input {
    Input::Single(Box::new(Program {
        object: path.to_path_buf(),
        name: stem_name(path),
        section: None,
        request,
        unprepared: None,
    }))
}

fn stem_name(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "prog".into(), |s| s.to_string_lossy().into_owned())
}

/// The BTF id of a kernel symbol: the FUNC named `name` for a kfunc call,
/// the VAR (else FUNC) for `btf_id(NAME)`.
pub(crate) fn find_kernel_symbol(
    btf: &bpfcheck_btf::Btf<'_>,
    name: &str,
    kind: bpfcheck_asm::SymKind,
) -> Option<u32> {
    use bpfcheck_btf::BtfKind;
    let find = |k| btf.find_by_name_kind(name, k).map(|t| t.id().0);
    match kind {
        bpfcheck_asm::SymKind::Func => find(BtfKind::Func),
        bpfcheck_asm::SymKind::VarOrFunc => find(BtfKind::Var).or_else(|| find(BtfKind::Func)),
    }
}

/// A fixture that names kernel symbols, with their ids from `btf`.
fn fixture_program(
    path: &Path,
    fixture: &bpfcheck_asm::Fixture,
    opts: &InputOpts,
    btf: Option<&bpfcheck_btf::Btf<'_>>,
) -> Result<Program> {
    let Some(btf) = btf else {
        let sym = fixture
            .kernel_symbols()
            .first()
            .map_or_else(String::new, |s| {
                format!(" ({}, line {})", s.describe(), s.line)
            });
        bail!(
            "the fixture names kernel symbols{sym}, whose BTF ids differ from one kernel \
             build to the next: it needs a kernel profile with BTF (--kernel host or btf:PATH)"
        );
    };
    let mut fixture = fixture.clone();
    fixture
        .resolve_kernel_symbols(&|name, kind| find_kernel_symbol(btf, name, kind))
        .map_err(|e| anyhow::anyhow!("{e} (in the kernel profile's BTF)"))?;
    let name = stem_name(path);
    let mut req = fixture.load_request(&name);
    apply_overrides(&mut req, opts, !opts.maps.is_empty())?;
    Ok(Program {
        object: path.to_path_buf(),
        name,
        section: None,
        request: req,
        unprepared: None,
    })
}

fn read_input(path: &Path, opts: &InputOpts) -> Result<Input> {
    let bytes = std::fs::read(path).context("cannot read file")?;
    if opts.raw {
        let order = if opts.big_endian {
            ByteOrder::Big
        } else {
            ByteOrder::Little
        };
        let insns = RawInsn::parse_all(&bytes, order)?;
        let mut req = LoadRequest {
            insns,
            license: "GPL".into(),
            prog_type: ProgType::SOCKET_FILTER,
            ..LoadRequest::default()
        };
        apply_overrides(&mut req, opts, true)?;
        return Ok(single(path, req));
    }
    if is_asm(path) {
        let text = String::from_utf8(bytes).context("assembler input is not UTF-8")?;
        let fixture = bpfcheck_asm::Fixture::parse(&text).map_err(|e| anyhow::anyhow!("{e}"))?;
        if !fixture.kernel_symbols().is_empty() {
            // Checked now, so that bad overrides are reported early.
            apply_overrides(&mut LoadRequest::default(), opts, !opts.maps.is_empty())?;
            return Ok(Input::Fixture {
                path: path.to_path_buf(),
                fixture: Box::new(fixture),
            });
        }
        let mut req = fixture.load_request(&stem_name(path));
        apply_overrides(&mut req, opts, !opts.maps.is_empty())?;
        return Ok(single(path, req));
    }
    if bpfcheck_obj::lskel::is_light_skeleton(&bytes) {
        return light_skeleton(path, &bytes, opts);
    }
    if !is_elf(&bytes) {
        bail!(
            "not an ELF object (pass --raw for a file of raw 8-byte instructions, name an assembler file *.s, or a light skeleton header from `bpftool gen skeleton -L`)"
        );
    }
    let obj_name = bpfcheck_obj::object_name_from_path(path);
    let object =
        bpfcheck_obj::Object::parse_named(&bytes, &obj_name).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Input::Object {
        path: path.to_path_buf(),
        object: Box::new(object),
    })
}

/// The loader program of a light skeleton, as `bpf_load_and_run` loads it.
fn light_skeleton(path: &Path, bytes: &[u8], opts: &InputOpts) -> Result<Input> {
    let text = std::str::from_utf8(bytes).context("light skeleton is not UTF-8")?;
    let skeleton = bpfcheck_obj::lskel::LightSkeleton::parse(text)
        .map_err(|e| anyhow::anyhow!("light skeleton: {e}"))?;
    let mut request = skeleton.load_request();
    apply_overrides(&mut request, opts, !opts.maps.is_empty())?;
    Ok(Input::Single(Box::new(Program {
        object: path.to_path_buf(),
        name: request.name.clone(),
        section: None,
        request,
        unprepared: None,
    })))
}

fn object_programs(
    path: &Path,
    object: &bpfcheck_obj::Object,
    opts: &InputOpts,
    target_btf: Option<&bpfcheck_btf::Btf<'_>>,
    host: Option<&bpfcheck_obj::HostResolver>,
) -> Result<Vec<Program>> {
    let unprepared = |name: &str, section: Option<String>, why: String| Program {
        object: path.to_path_buf(),
        name: name.to_owned(),
        section,
        request: LoadRequest::default(),
        unprepared: Some(why),
    };
    if object.needs_kernel_btf() && target_btf.is_none() {
        // libbpf cannot prepare such an object without the kernel's BTF,
        // and neither can bpfcheck: say so per program, it is no bad input.
        let why = "the kernel's BTF (CO-RE, BTF attach targets or kernel symbols), which this \
                   kernel profile lacks: use --kernel host or btf:PATH";
        return Ok(object
            .programs()
            .map(|f| unprepared(&f.name, Some(f.section.clone()), why.to_owned()))
            .collect());
    }
    let load_opts = bpfcheck_obj::LoadOptions {
        target_btf,
        resolver: host.map(|h| h as &dyn bpfcheck_obj::externs::ExternResolver),
        kernel_version: host.map(bpfcheck_obj::HostResolver::version_code),
    };
    let mut out = Vec::new();
    // Each program on its own, as libbpf loads the programs it can prepare:
    // one that cannot be (an unknown SEC(), an extern this kernel lacks)
    // is reported as such and does not take the others with it.
    for (name, prepared) in object.load_requests_each(&load_opts) {
        match prepared {
            Ok(p) => {
                let mut req = p.request;
                apply_overrides(&mut req, opts, false)?;
                out.push(Program {
                    object: path.to_path_buf(),
                    name: p.name,
                    section: Some(p.section),
                    request: req,
                    unprepared: None,
                });
            }
            Err(e) => {
                let section = object.program(&name).map(|f| f.section.clone());
                out.push(unprepared(
                    &name,
                    section,
                    format!("preparing the program as libbpf would: {e}"),
                ));
            }
        }
    }
    Ok(out)
}

fn apply_overrides(req: &mut LoadRequest, opts: &InputOpts, set_maps: bool) -> Result<()> {
    if let Some(t) = &opts.prog_type {
        req.prog_type =
            ProgType::from_name(t).with_context(|| format!("unknown program type `{t}`"))?;
    }
    if let Some(t) = &opts.expected_attach_type {
        req.expected_attach_type =
            AttachType::from_name(t).with_context(|| format!("unknown attach type `{t}`"))?;
    }
    if let Some(f) = &opts.prog_flags {
        req.prog_flags = parse_prog_flags(f).map_err(|e| anyhow::anyhow!(e))?;
    }
    if set_maps {
        req.maps = opts
            .maps
            .iter()
            .map(|s| s.parse::<MapSpec>())
            .collect::<Result<_, _>>()?;
        if !req.maps.is_empty() {
            req.fd_array = Some((0..req.maps.len()).map(|i| FdRef::Map(i as u32)).collect());
        }
    }
    Ok(())
}
