//! The `bpf(2)` system call, so that bpfcheck can compare its verdicts with
//! the running kernel's verifier.
//!
//! This is the only crate of the workspace that uses `unsafe`: the syscall
//! itself, and adopting the file descriptors it returns. All of it sits
//! behind safe functions that own every buffer whose address they hand to
//! the kernel.
//!
//! # Commands
//!
//! | command | function |
//! |---|---|
//! | `BPF_PROG_LOAD` | [`Kernel::probe`], [`Kernel::load`] |
//! | `BPF_MAP_CREATE`, `BPF_MAP_UPDATE_ELEM`, `BPF_MAP_FREEZE` | [`Kernel::create_map`], [`MapFd::update`], [`MapFd::freeze`] |
//! | `BPF_BTF_LOAD` | [`Kernel::load_btf`] |
//! | `BPF_OBJ_GET_INFO_BY_FD` (programs) | [`Kernel::prog_info`] |
//! | `BPF_PROG_TEST_RUN` | [`Kernel::test_run`] |
//!
//! The attribute structs ([`attr`]) have the complete 6.18 layout of their
//! `union bpf_attr` member.
//!
//! # Attribute size policy
//!
//! The `size` argument is the end of the last field that is actually set
//! (libbpf's `offsetofend()`), never the full struct: a kernel that predates
//! a field copies only its own `sizeof(union bpf_attr)` and answers `E2BIG`
//! if any byte beyond it is non-zero, so a request that does not use
//! `fd_array_cnt` (6.14) or a token must not send those bytes.
//! `BPF_PROG_LOAD` always covers `log_true_size` (offset 140, 6.4+) because
//! the loader reads it back; an older kernel sees a zero there and accepts
//! it as tail. See [`attr::Attr::wire_size`] and [`LoadOutcome::attr_size`].
//!
//! # Errors
//!
//! A failed command is a [`SysError`] naming the command, the errno with
//! `strerror`-style text (`EACCES (13): Permission denied`) and context. A
//! program the verifier rejects is *not* an error: [`Kernel::load`] returns
//! a [`LoadOutcome`] with `accepted == false`, the errno, the complete log
//! and the [`error_line`]. When `bpf()` is unusable, [`Kernel::probe`]
//! returns [`Unavailable`], which says why (not root, no `CAP_BPF`,
//! `kernel.unprivileged_bpf_disabled`, seccomp or LSM, no syscall);
//! [`test_support::kernel_or_skip`] turns that into a loud skip for tests,
//! and setting [`NO_KERNEL_ENV`] (`BPFCHECK_NO_KERNEL=1`) forces that path.
//!
//! # Not implemented
//!
//! Attaching, links, pinning, map lookups and iteration, BTF-id lookups
//! (`BPF_*_GET_FD_BY_ID`), BPF tokens, program signatures, CO-RE relocation
//! records (`core_relos` is always empty: bpfcheck's requests arrive
//! relocated), `prog_ifindex` offload, `attach_prog_fd` (freplace/fentry on
//! BPF programs) — none of which a `LoadRequest` can express.
//! Kernels before 6.4 do not report `log_true_size`, so there a truncated
//! log stays truncated (the outcome's `errno` is `ENOSPC`).

#![deny(missing_docs)]
// The bpf() syscall and fd adoption cannot be expressed in safe Rust; this
// crate is the workspace's single place for them (see the crate docs).
#![allow(unsafe_code)]

pub mod attr;
mod error;
mod kernel;
mod load;
mod log;
mod probe;
mod syscall;
pub mod test_support;

pub use error::{SysError, Unavailable, UnavailableReason, errno_text};
pub use kernel::{Kernel, MAX_LOG_SIZE, MapFd, ProgInfo, TestRun, TestRunOutcome};
pub use load::{DEFAULT_LOG_SIZE, LoadOptions, LoadOutcome};
pub use log::error_line;
pub use probe::{NO_KERNEL_ENV, ProcessFacts};
