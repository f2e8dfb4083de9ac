//! `bpfcheck`: judge BPF programs as the kernel's verifier would, for one
//! or many kernels, without loading them — and compare with the running
//! kernel when it is there.

/// `println!` to stdout through [`write_stdout`].
macro_rules! out {
    () => { $crate::write_stdout(format_args!("\n")) };
    ($($t:tt)*) => { $crate::write_stdout(format_args!("{}\n", format_args!($($t)*))) };
}

/// `print!` to stdout through [`write_stdout`].
macro_rules! out_nonl {
    ($($t:tt)*) => { $crate::write_stdout(format_args!($($t)*)) };
}

mod commands;
mod dump;
mod explain;
mod input;
mod progress;
mod records;
mod source;
mod stats;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand, ValueEnum};

/// Checks BPF programs against the verifiers of many kernels.
#[derive(Debug, Parser)]
#[command(name = "bpfcheck", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The machine's possible CPUs (what bounds bpf_get_smp_processor_id),
    /// for every profile; `--kernel host` reads the running machine's.
    #[arg(long, global = true, value_name = "N")]
    cpus: Option<u32>,
}

/// Output format of records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON array of records (schema in the README).
    Json,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
}

/// Output format of `stats` and `compare`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum TableFormat {
    /// Aligned columns.
    #[default]
    Table,
    /// Comma-separated values with a header line.
    Csv,
    /// A JSON array.
    Json,
}

impl From<TableFormat> for bpfcheck_report::StatsFormat {
    fn from(f: TableFormat) -> Self {
        match f {
            TableFormat::Table => Self::Table,
            TableFormat::Csv => Self::Csv,
            TableFormat::Json => Self::Json,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Judge programs as the kernel's verifier would (the main command).
    ///
    /// Each program of each input is judged for each kernel profile named
    /// with --kernel. A rejection is printed as a diagnostic: the kernel's
    /// error line, the source line it happened on (from the program's BTF
    /// line info; build with `clang -g`), read from the source file when it
    /// is found next to the object or where the compiler recorded it, the
    /// instruction in the verifier log's syntax, the path that led there
    /// when a log was made (--log-level 1), and, for the common classes of
    /// rejection, what usually fixes it (`= help:`). With several kernels
    /// and no log, a verdict table is printed instead.
    ///
    /// Exit status: 0 all accepted, 1 any rejected, 2 bad input or usage,
    /// 3 any unsupported (and none rejected).
    ///
    /// Examples:
    ///   bpfcheck check prog.bpf.o --kernel 6.1,6.18
    ///   bpfcheck check prog.bpf.o --format sarif > bpfcheck.sarif
    #[command(verbatim_doc_comment)]
    Check {
        /// ELF objects, raw instruction files (--raw), assembler fixtures (*.s) or light skeleton headers (bpftool gen skeleton -L).
        /// With no file, the bundled example object is checked.
        files: Vec<PathBuf>,
        #[command(flatten)]
        input: input::InputOpts,
        /// Kernel profiles to judge for: names (5.10, 6.1, 6.12, 6.18), `host` (the
        /// running kernel, with its BTF), `btf:PATH[@VERSION]` (a kernel's BTF file,
        /// judged with the rules of the nearest built-in version), comma-separated
        /// or repeated, or `all`.
        #[arg(long, value_name = "PROFILE", default_value = bpfcheck_profile::KernelProfile::DEFAULT)]
        kernel: Vec<String>,
        /// Also write the load requests prepared for the first kernel, as a JSON
        /// list of `{name, request}` (`OBJECT/PROGRAM`): what `bpfcheck-vm run
        /// --requests` loads into a kernel booted under QEMU.
        #[arg(long, value_name = "FILE")]
        requests_out: Option<PathBuf>,
        /// Kernel log level: 0 none, 1 failing path, 2 every path; add 4 for statistics.
        #[arg(long, default_value_t = 0)]
        log_level: u32,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// Colour text output: auto (when stdout is a terminal), always, never.
        #[arg(long, value_enum, default_value_t, value_name = "WHEN")]
        color: explain::ColorChoice,
    },
    /// Print programs in the kernel verifier log's instruction syntax.
    ///
    /// One line per instruction, `N: (xx) text`, exactly as the verifier log
    /// of the kernel named with --kernel prints it (helper and kfunc names
    /// included), so that a log and a disassembly can be read side by side.
    ///
    /// Example:
    ///   bpfcheck disasm prog.bpf.o --program count
    #[command(verbatim_doc_comment)]
    Disasm {
        /// An ELF object, a raw instruction file (--raw), an assembler fixture (*.s) or a light skeleton header.
        files: Vec<PathBuf>,
        #[command(flatten)]
        input: input::InputOpts,
        /// Kernel whose log format and BTF (kfunc names) to print with: a profile
        /// name, `host`, or `btf:PATH[@VERSION]`.
        #[arg(long, value_name = "PROFILE", default_value = bpfcheck_profile::KernelProfile::DEFAULT)]
        kernel: String,
    },
    /// List the programs, maps and externs of ELF objects as bpfcheck's loader sees them.
    ///
    /// For each object: its programs (section, type, size), maps (libbpf's
    /// names, including the internal .data/.rodata/.bss maps), externs, and
    /// every CO-RE relocation with what it resolves to against the kernel
    /// BTF named with --kernel.
    ///
    /// Example:
    ///   bpfcheck dump prog.bpf.o --kernel host --format json
    #[command(verbatim_doc_comment)]
    Dump {
        /// ELF objects.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format (text or json).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// Kernel whose BTF CO-RE relocations resolve against: a profile with BTF
        /// (`host`, `btf:PATH[@VERSION]`). Default: `host` when the running kernel
        /// exposes its BTF.
        #[arg(long, value_name = "PROFILE")]
        kernel: Option<String>,
    },
    /// Load programs into the running kernel and report its verdict in bpfcheck's shape.
    ///
    /// Needs the privilege to load programs (root or CAP_BPF). The kernel's
    /// rejections are shown as `check` shows bpfcheck's: as diagnostics with
    /// the source line, the instruction, the path from the kernel's log and
    /// a hint. Nothing stays loaded.
    ///
    /// Example:
    ///   sudo bpfcheck kernel prog.bpf.o --format json
    #[command(verbatim_doc_comment)]
    Kernel {
        /// Inputs, as for `check`.
        files: Vec<PathBuf>,
        #[command(flatten)]
        input: input::InputOpts,
        /// Kernel log level: 0 none, 1 failing path, 2 every path; add 4 for statistics.
        #[arg(long, default_value_t = 1)]
        log_level: u32,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// Colour text output: auto (when stdout is a terminal), always, never.
        #[arg(long, value_enum, default_value_t, value_name = "WHEN")]
        color: explain::ColorChoice,
    },
    /// Run bpfcheck and the running kernel on the same programs and compare them.
    ///
    /// For each program: both verdicts, error lines, processed-instruction
    /// counts and logs, and whether they agree. With --report, a corpus
    /// summary (agreement by program type and kernel error) is printed and
    /// every record written to a JSON file. Exit status 0 when verdicts and
    /// errors agree everywhere, 1 otherwise.
    ///
    /// Example:
    ///   sudo bpfcheck diff fixtures/c/*.o --report diff.json
    #[command(verbatim_doc_comment)]
    Diff {
        /// Inputs, as for `check`.
        files: Vec<PathBuf>,
        #[command(flatten)]
        input: input::InputOpts,
        /// The profile bpfcheck judges with: by default the running kernel's
        /// (`host`: its release and BTF).
        #[arg(long, value_name = "PROFILE", default_value = "host")]
        kernel: String,
        /// Log level for both sides (at least 1, so that error lines can be compared).
        #[arg(long, default_value_t = 1)]
        log_level: u32,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// Corpus mode: write every record and the summary to this JSON file and
        /// print the summary table (agreement by program type and kernel error,
        /// disagreements, verification times) instead of the records.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
    /// Verification cost per program, in the spirit of veristat.
    ///
    /// One row per program and kernel: verdict, processed instructions,
    /// total and peak states, the largest state count at one instruction,
    /// stack depth (all subprograms) and verification time. --filter keeps
    /// rows matching FIELD OP VALUE (OP one of = != < <= > >= ~, `~` meaning
    /// contains; repeat for AND), --sort orders by a field (numbers largest
    /// first). Fields: object, program, prog_type, kernel, verdict, insns,
    /// states, peak_states, max_states_per_insn, stack, duration.
    ///
    /// --top-src-lines N adds the N source lines on which the verifier
    /// processed the most instructions (summed over the programs). The count
    /// comes from a level-2 log, where every processed instruction is
    /// printed: bpfcheck's own for the programs it can log, or the running
    /// kernel's with --live.
    ///
    /// With --live the programs are loaded into the running kernel and its
    /// figures reported instead of bpfcheck's.
    ///
    /// Examples:
    ///   bpfcheck stats build/*.o --kernel 6.18 --sort insns --filter 'insns>1000'
    ///   sudo bpfcheck stats prog.bpf.o --live --top-src-lines 10
    #[command(verbatim_doc_comment)]
    Stats {
        /// Inputs, as for `check`.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        input: input::InputOpts,
        /// Kernel profiles, as for `check`.
        #[arg(long, value_name = "PROFILE", default_value = bpfcheck_profile::KernelProfile::DEFAULT)]
        kernel: Vec<String>,
        /// Sort rows by this field.
        #[arg(long, value_name = "FIELD")]
        sort: Option<String>,
        /// Keep rows matching FIELD OP VALUE (repeatable; all must match).
        #[arg(long, value_name = "EXPR")]
        filter: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: TableFormat,
        /// Also list the N source lines where the verifier spends its work.
        #[arg(long, value_name = "N")]
        top_src_lines: Option<usize>,
        /// Measure with the running kernel instead of bpfcheck.
        #[arg(long)]
        live: bool,
    },
    /// Show the records of an earlier `--format json` run as diagnostics.
    ///
    /// Reads JSON arrays of records written by `check`, `kernel` or `stats
    /// --format json` (schema in the README) and prints them as `check`
    /// prints rejections: the error, the source line, the instruction, the
    /// path (when the record holds a log) and a hint. The objects the records
    /// name are read again when they still exist; otherwise the source line
    /// the record carries is shown.
    ///
    /// Example:
    ///   bpfcheck check prog.bpf.o --format json > out.json; bpfcheck explain out.json
    #[command(verbatim_doc_comment)]
    Explain {
        /// JSON files of records.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Colour: auto (when stdout is a terminal), always, never.
        #[arg(long, value_enum, default_value_t, value_name = "WHEN")]
        color: explain::ColorChoice,
        /// Also print the logs the records hold.
        #[arg(long)]
        log: bool,
    },
    /// Compare two `check --format json` outputs: two builds, or two kernels.
    ///
    /// Programs are paired by object file name and program name (and by
    /// kernel when a file holds several). For each: the verdict in A and B,
    /// and processed instructions, states and time with the change in
    /// percent. Changed programs are marked `*`; programs whose processed
    /// instructions in B reach 80% of the 1,000,000-instruction limit are
    /// marked `!` and listed.
    ///
    /// Examples:
    ///   bpfcheck check old/*.o --format json > a.json
    ///   bpfcheck check new/*.o --format json > b.json
    ///   bpfcheck compare a.json b.json
    #[command(verbatim_doc_comment)]
    Compare {
        /// The baseline run.
        a: PathBuf,
        /// The run compared with it.
        b: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: TableFormat,
    },
}

/// Writes to stdout. When the reader has gone (`bpfcheck … | head`), the
/// program ends quietly, as Unix tools do, instead of panicking.
pub(crate) fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("bpfcheck: cannot write the output: {e}");
        std::process::exit(2);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(n) = cli.cpus {
        let _ = commands::CPUS.set(n);
    }
    let result = match cli.command {
        Command::Dump {
            files,
            format,
            kernel,
        } => match kernel {
            Some(k) => dump::dump_with_kernel(&files, format, Some(&k)),
            None => dump::dump(&files, format),
        },
        Command::Check {
            files,
            input,
            kernel,
            requests_out,
            log_level,
            format,
            color,
        } => commands::check(
            &files,
            &input,
            &kernel,
            log_level,
            format,
            color,
            requests_out.as_deref(),
        ),
        Command::Disasm {
            files,
            input,
            kernel,
        } => commands::disasm(&files, &input, &kernel),
        Command::Kernel {
            files,
            input,
            log_level,
            format,
            color,
        } => commands::kernel(&files, &input, log_level, format, color),
        Command::Diff {
            files,
            input,
            kernel,
            log_level,
            format,
            report,
        } => commands::diff(
            &files,
            &input,
            &kernel,
            log_level,
            format,
            report.as_deref(),
        ),
        Command::Stats {
            files,
            input,
            kernel,
            sort,
            filter,
            format,
            top_src_lines,
            live,
        } => stats::stats(
            &files,
            &input,
            &stats::StatsOpts {
                kernels: kernel,
                sort,
                filters: filter,
                format: format.into(),
                top_src_lines,
                live,
            },
        ),
        Command::Explain { files, color, log } => explain::explain(&files, color, log),
        Command::Compare { a, b, format } => stats::compare_files(&a, &b, format.into()),
    };
    match result {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            eprintln!("bpfcheck: {e:#}");
            ExitCode::from(commands::EXIT_BAD_INPUT)
        }
    }
}
