//! The VM oracle: boots real Debian kernels under QEMU (TCG) with a tiny
//! initramfs and asks their verifiers, so that bpfcheck's per-kernel
//! predictions can be checked against the kernels themselves.
//!
//! # How a run works
//!
//! 1. The host builds an initramfs ([`initramfs::build`], written by the
//!    in-crate `newc` [`cpio`] writer): the static `bpfcheck-vm-init`
//!    binary as `/init`, the [`protocol::Batch`] as `/requests.json`, and
//!    the device nodes init needs (`/dev/console`, `/dev/ttyS1`).
//! 2. [`qemu::run`] boots the kernel with it: no disk, no network, console
//!    on COM1, results on COM2, a wall-clock timeout.
//! 3. In the guest, init mounts `/proc` and `/sys`, loads each program
//!    through [`bpfcheck_sys::Kernel::load`] ([`guest::run_batch`]) and
//!    writes one [`protocol::GuestEvent`] JSON line per step to COM2, then
//!    powers off.
//! 4. [`results::RunReport`] puts the answers in request order, in the
//!    shape of [`bpfcheck_report::KernelSide`], with boot and load timing
//!    and, for a crashed or hung guest, which program was in flight and the
//!    console's last lines.
//! 5. [`session::run_resuming`] boots another VM with the unanswered
//!    programs when one dies (QEMU 7.2's TCG crashes a 6.12 guest during
//!    boot about one time in six), giving up on a program only when it was
//!    in flight in two dying VMs.
//!
//! [`fixtures`] turns the repository's `fixtures/asm` and
//! `fixtures/malformed` into a batch and compares the answers with the
//! `;! expect:` lines recorded on 6.18. Kernel images come from
//! `tools/vm/fetch-kernel.sh`; the static init from `tools/vm/build-init.sh`.
//!
//! # Not implemented
//!
//! - KVM: the oracle always uses TCG (it must run where KVM is not usable);
//!   `-accel` is fixed.
//! - Architectures other than x86-64, and kernels that need modules for
//!   BPF, serial or initramfs support (Debian builds all of them in).
//! - `BPF_PROG_TEST_RUN` and attaching: only the verifier's verdict is
//!   asked for.
//! - Requests whose maps or BTF refer to host objects by fd; a
//!   [`bpfcheck_uapi::LoadRequest`] is fd-free by design. Programs using
//!   vmlinux BTF ids (kfuncs, `ld_imm64` BTF ids) carry the ids of the
//!   kernel they were made for and mean something else elsewhere.

#![deny(missing_docs)]

pub mod cpio;
mod error;
pub mod fixtures;
pub mod guest;
pub mod initramfs;
pub mod protocol;
pub mod qemu;
pub mod results;
pub mod session;

pub use error::VmError;
