//! Exceptions: `bpf_throw` and the exception callback.
//!
//! - `bpf_throw(cookie)` ends the path as an exit of the whole program
//!   would, from any frame (`process_bpf_exit_full` with
//!   `exception_exit`): no lock, reference, RCU or preemption region may be
//!   held in any frame (`bpf_throw cannot be used inside …-ed region`,
//!   `bpf_throw would lead to reference leak`); the return-value rules are
//!   skipped, except that without an exception callback the cookie becomes
//!   the program's return value and is checked as one (`At program exit
//!   the register R1 …`).
//! - The exception callback (`exception_callback:` decl tag, found before
//!   the walk) is verified on its own after the main program, as a global
//!   function presumed called, whose only argument must be a scalar
//!   (`exception cb only supports single integer argument`) and whose exit
//!   returns for the program.
//! - After the walk, `check_max_stack_depth` refuses `bpf_throw` in a
//!   callback or in anything a callback calls, and a direct call of the
//!   exception callback (`subprog_call.rs`).
//!
//! 6.12 checks leaks on an exception exit with the code before
//! `check_resource_leak`, which is not modelled: `bpf_throw` is
//! `unsupported` there.

use bpfcheck_uapi::{Errno, RawInsn, op};

use super::{Checker, Flow};
use crate::error::{ErrorCode, Stop};

impl Checker<'_> {
    /// Whether `insn` calls the kfunc `bpf_throw`.
    pub(super) fn is_throw(&self, insn: &RawInsn) -> bool {
        insn.code == op::JMP | op::CALL
            && insn.src == op::PSEUDO_KFUNC_CALL
            && insn.off == 0
            && self.kfuncs.get(insn).is_some_and(|d| d.name == "bpf_throw")
    }

    /// `bpf_throw`'s own rule in `check_kfunc_call`, after its arguments:
    /// with the default exception callback the cookie is the program's
    /// return value.
    pub(super) fn throw_cookie(&mut self) -> Result<(), Stop> {
        if !self.profile.features.resource_leak_v2 {
            return Err(self.unsupported("exceptions (bpf_throw) with 6.12's leak checks"));
        }
        if self.exception_cb.is_none() {
            self.read_reg(1)?;
            self.check_return_reg(1)?;
        }
        Ok(())
    }

    /// The exception exit after a `bpf_throw` call: the resources of every
    /// frame, then the end of the path.
    pub(super) fn throw_exit(&mut self) -> Result<Flow, Stop> {
        self.check_resource_leak("bpf_throw")?;
        Ok(Flow::PathEnd)
    }

    /// The exception callback's prototype, once `Validating …` is logged.
    pub(super) fn check_exception_cb_args(
        &self,
        args: &[super::btf_func::ArgKind],
    ) -> Result<(), Stop> {
        if matches!(args, [super::btf_func::ArgKind::Scalar]) {
            return Ok(());
        }
        Err(self.reject(
            ErrorCode::Exception,
            Errno::EINVAL,
            "exception cb only supports single integer argument".to_owned(),
        ))
    }
}
