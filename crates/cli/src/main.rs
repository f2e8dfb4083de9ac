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
mod input;
mod records;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand, ValueEnum};

/// Checks BPF programs against the verifiers of many kernels.
#[derive(Debug, Parser)]
#[command(name = "bpfcheck", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Judge programs as the kernel's verifier would (the main command).
    ///
    /// Exit status: 0 all accepted, 1 any rejected, 2 bad input or usage,
    /// 3 any unsupported (and none rejected).
    Check {
        /// ELF objects, raw instruction files (--raw) or assembler fixtures (*.s).
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
        /// Kernel log level: 0 none, 1 failing path, 2 every path; add 4 for statistics.
        #[arg(long, default_value_t = 0)]
        log_level: u32,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Print programs in the kernel verifier log's instruction syntax.
    Disasm {
        /// An ELF object, a raw instruction file (--raw) or an assembler fixture (*.s).
        files: Vec<PathBuf>,
        #[command(flatten)]
        input: input::InputOpts,
        /// Kernel whose log format and BTF (kfunc names) to print with: a profile
        /// name, `host`, or `btf:PATH[@VERSION]`.
        #[arg(long, value_name = "PROFILE", default_value = bpfcheck_profile::KernelProfile::DEFAULT)]
        kernel: String,
    },
    /// List the programs, maps and externs of ELF objects as bpfcheck's loader sees them.
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
    },
    /// Run bpfcheck and the running kernel on the same programs and compare them.
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
            log_level,
            format,
        } => commands::check(&files, &input, &kernel, log_level, format),
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
        } => commands::kernel(&files, &input, log_level, format),
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
    };
    match result {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            eprintln!("bpfcheck: {e:#}");
            ExitCode::from(commands::EXIT_BAD_INPUT)
        }
    }
}
