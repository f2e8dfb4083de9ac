//! Turning command-line inputs into load requests: ELF objects through
//! `bpfcheck-obj`, raw instruction files, and assembler fixtures.

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
}

fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

fn is_asm(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "s" || e == "bpfasm")
}

/// Reads every program of every input.
pub(crate) fn load_all(files: &[PathBuf], opts: &InputOpts) -> Result<Vec<Program>> {
    let mut out = Vec::new();
    for f in files {
        let mut progs = load_file(f, opts).with_context(|| f.display().to_string())?;
        if let Some(want) = &opts.program {
            progs.retain(|p| &p.name == want);
            if progs.is_empty() {
                bail!("{}: no program named `{want}`", f.display());
            }
        }
        out.extend(progs);
    }
    Ok(out)
}

fn load_file(path: &Path, opts: &InputOpts) -> Result<Vec<Program>> {
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
            ..LoadRequest::default()
        };
        req.prog_type = ProgType::SOCKET_FILTER;
        apply_overrides(&mut req, opts, true)?;
        let name = path
            .file_stem()
            .map_or_else(|| "prog".into(), |s| s.to_string_lossy().into_owned());
        return Ok(vec![Program {
            object: path.to_path_buf(),
            name,
            section: None,
            request: req,
        }]);
    }
    if is_asm(path) {
        let text = String::from_utf8(bytes).context("assembler input is not UTF-8")?;
        let fixture = bpfcheck_asm::Fixture::parse(&text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let name = path
            .file_stem()
            .map_or_else(|| "prog".into(), |s| s.to_string_lossy().into_owned());
        let mut req = fixture.load_request(&name);
        apply_overrides(&mut req, opts, !opts.maps.is_empty())?;
        return Ok(vec![Program {
            object: path.to_path_buf(),
            name,
            section: None,
            request: req,
        }]);
    }
    if !is_elf(&bytes) {
        bail!(
            "not an ELF object (pass --raw for a file of raw 8-byte instructions, or name an assembler file *.s)"
        );
    }
    let obj_name = bpfcheck_obj::object_name_from_path(path);
    let object =
        bpfcheck_obj::Object::parse_named(&bytes, &obj_name).map_err(|e| anyhow::anyhow!("{e}"))?;
    let requests = object
        .load_requests(&bpfcheck_obj::LoadOptions::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = Vec::new();
    for p in requests {
        let mut req = p.request;
        apply_overrides(&mut req, opts, false)?;
        out.push(Program {
            object: path.to_path_buf(),
            name: p.name,
            section: Some(p.section),
            request: req,
        });
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
