//! The return value of the main program at `exit` (`check_return_code`):
//! program types whose caller acts on the value restrict it to a range,
//! and the value must then be a number the verifier has bounded.

use bpfcheck_uapi::{AttachType, Errno, ProgType};

use super::Checker;
use crate::error::{ErrorCode, Stop};
use crate::state::RegState;

/// The values a program may return (`struct bpf_retval_range`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RetvalRange {
    pub min: i32,
    pub max: i32,
}

const fn range(min: i32, max: i32) -> Option<RetvalRange> {
    Some(RetvalRange { min, max })
}

/// `return_retval_range` for the program types the checker walks; `None`
/// when any value is allowed. Raw tracepoints get a range only with a BTF
/// attach target, which never reaches the checker.
pub(super) fn return_range(prog_type: ProgType, attach: AttachType) -> Option<RetvalRange> {
    use AttachType as A;
    match prog_type {
        ProgType::CGROUP_SKB if attach == A::CGROUP_INET_EGRESS => range(0, 3),
        ProgType::CGROUP_SKB
        | ProgType::CGROUP_SOCK
        | ProgType::SOCK_OPS
        | ProgType::CGROUP_SOCKOPT
        | ProgType::CGROUP_DEVICE
        | ProgType::CGROUP_SYSCTL => range(0, 1),
        ProgType::CGROUP_SOCK_ADDR => match attach {
            A::CGROUP_UDP4_RECVMSG
            | A::CGROUP_UDP6_RECVMSG
            | A::CGROUP_UNIX_RECVMSG
            | A::CGROUP_INET4_GETPEERNAME
            | A::CGROUP_INET6_GETPEERNAME
            | A::CGROUP_UNIX_GETPEERNAME
            | A::CGROUP_INET4_GETSOCKNAME
            | A::CGROUP_INET6_GETSOCKNAME
            | A::CGROUP_UNIX_GETSOCKNAME => range(1, 1),
            A::CGROUP_INET4_BIND | A::CGROUP_INET6_BIND => range(0, 3),
            _ => range(0, 1),
        },
        ProgType::TRACING => match attach {
            A::TRACE_FENTRY | A::TRACE_FEXIT => range(0, 0),
            _ => None,
        },
        ProgType::KPROBE => match attach {
            A::TRACE_KPROBE_SESSION | A::TRACE_UPROBE_SESSION => range(0, 1),
            _ => None,
        },
        // NF_DROP..NF_ACCEPT.
        ProgType::NETFILTER => range(0, 1),
        // SK_DROP..SK_PASS.
        ProgType::SK_LOOKUP => range(0, 1),
        _ => None,
    }
}

impl Checker<'_> {
    /// `check_return_code` for the main program, R0 already read: within
    /// the program type's range when it has one. Only for the main
    /// program's own exit: a global subprogram verified on its own returns
    /// any scalar (`At subprogram exit the register R%d is not a scalar
    /// value (%s)` otherwise), and a callee's exit returns to its caller.
    pub(super) fn check_return_code(&mut self) -> Result<(), Stop> {
        self.check_return_reg(0)
    }

    /// `check_return_code` of register `r` (R0 at an exit, `bpf_throw`'s
    /// cookie in R1 without an exception callback). The rules are those
    /// of the walk's entry frame: an async callback returns 0, a global
    /// function any scalar, the main program and the exception callback
    /// what the program type allows.
    pub(super) fn check_return_reg(&mut self, r: u8) -> Result<(), Stop> {
        let entry = &self.cur.frames[0];
        if entry.in_async_callback_fn {
            return self.reg_in_range(r, "At async callback return", 0, 0);
        }
        if entry.subprog > 0 && !entry.in_exception_cb {
            let reg = self.cur.cur().reg(r);
            if matches!(reg, RegState::Scalar(_)) {
                return Ok(());
            }
            let ty = reg.type_str();
            return Err(self.reject(
                ErrorCode::ReturnValue,
                Errno::EINVAL,
                format!("At subprogram exit the register R{r} is not a scalar value ({ty})"),
            ));
        }
        let Some(range) = return_range(self.prog_type, self.req.expected_attach_type) else {
            return Ok(());
        };
        if self.profile.features.walk_v6_1.return_code_tnum {
            return self.return_code_v6_1(range);
        }
        self.reg_in_range(r, "At program exit", range.min.into(), range.max.into())
    }

    /// The check of register `r` against a return range: a scalar, made
    /// precise, whose signed bounds lie in `[min, max]` (`ctx` starts the
    /// message).
    fn reg_in_range(&mut self, r: u8, ctx: &str, min: i64, max: i64) -> Result<(), Stop> {
        let RegState::Scalar(_) = self.cur.cur().reg(r) else {
            let ty = self.cur.cur().reg(r).type_str();
            return Err(self.reject(
                ErrorCode::ReturnValue,
                Errno::EINVAL,
                format!("{ctx} the register R{r} is not a known value ({ty})"),
            ));
        };
        self.mark_chain_precision(r)?;
        let Some(v) = self.cur.cur().reg(r).scalar().map(|s| s.value) else {
            return Err(self.unsupported("return value check of a non-scalar"));
        };
        if min <= v.smin && v.smax <= max {
            return Ok(());
        }
        let msg =
            invalid_scalar(ctx, &v, min, max).replacen("register R0", &format!("register R{r}"), 1);
        Err(self.reject(ErrorCode::ReturnValue, Errno::EINVAL, msg))
    }
}

/// `verbose_invalid_scalar` for `R0`: its signed bounds against the range
/// it should have had.
pub(super) fn invalid_scalar(ctx: &str, v: &crate::domain::Scalar, min: i64, max: i64) -> String {
    let mut msg = format!("{ctx} the register R0 has");
    if v.smin > i64::MIN {
        msg.push_str(&format!(" smin={}", v.smin));
    }
    if v.smax < i64::MAX {
        msg.push_str(&format!(" smax={}", v.smax));
    }
    if v.smin == i64::MIN && v.smax == i64::MAX {
        msg.push_str(" unknown scalar value");
    }
    msg.push_str(&format!(" should have been in [{min}, {max}]"));
    msg
}
