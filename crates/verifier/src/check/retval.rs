//! The return value of the main program at `exit` (`check_return_code`):
//! program types whose caller acts on the value restrict it to a range,
//! and the value must then be a number the verifier has bounded. LSM
//! programs by their hook (6.12's rules): none for void hooks, `[-4095, 0]`
//! or `[0, 1]` compared on the low 32 bits, `BPF_LSM_CGROUP` `[0, 1]` or
//! `[1, 1]` on void hooks; iterators `[0, 1]`.

use bpfcheck_profile::KernelProfile;
use bpfcheck_profile::attach::LsmRet;
use bpfcheck_uapi::{AttachType, Errno, LoadRequest, ProgType};

use super::Checker;
use crate::error::{ErrorCode, Stop};
use crate::prepare::attach::Target;
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
            A::TRACE_ITER => range(0, 1),
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

/// `MAX_ERRNO`.
const MAX_ERRNO: i32 = 4095;

/// `bpf_lsm_get_retval_range` of an `lsm/` program's hook: 0 or a
/// negative errno, 0 or 1 for the hooks returning bool, nothing for void
/// hooks (`get_func_retval_range` is only asked for `BPF_LSM_MAC`).
pub(super) fn lsm_range(
    req: &LoadRequest,
    profile: &KernelProfile,
    target: &Target,
) -> Result<Option<RetvalRange>, Stop> {
    if req.prog_type != ProgType::LSM || req.expected_attach_type != AttachType::LSM_MAC {
        return Ok(None);
    }
    let Some(hook) = crate::prepare::lsm::hook(profile, target)? else {
        return Ok(None);
    };
    Ok(match hook.ret {
        LsmRet::Int => range(-MAX_ERRNO, 0),
        LsmRet::Bool => range(0, 1),
        LsmRet::Void => None,
    })
}

/// How an LSM program's return value is checked.
enum LsmReturn {
    /// Not at all, not even read (a void hook's `lsm/` program).
    Unchecked,
    /// Any value.
    Any,
    /// Within the range, by the low 32 bits when `return_32bit`.
    Range(RetvalRange, bool),
}

impl Checker<'_> {
    /// Whether the exit of the entry frame leaves the return value alone:
    /// the main program (or exception callback) of an `lsm/` program on
    /// a void hook (`check_return_code`'s first test).
    pub(super) fn return_unchecked(&self) -> Result<bool, Stop> {
        let entry = &self.cur.frames[0];
        if entry.subprog > 0 && !entry.in_exception_cb {
            return Ok(false);
        }
        Ok(matches!(self.lsm_return()?, Some(LsmReturn::Unchecked)))
    }

    /// The return rules of an LSM program (`None` for other types).
    fn lsm_return(&self) -> Result<Option<LsmReturn>, Stop> {
        if self.prog_type != ProgType::LSM {
            return Ok(None);
        }
        let Some(target) = crate::prepare::attach::target(self.req, self.profile) else {
            return Err(self.unsupported("LSM programs without their hook"));
        };
        let void =
            crate::prepare::lsm::hook(self.profile, &target)?.is_none_or(|h| h.ret == LsmRet::Void);
        if self.req.expected_attach_type == AttachType::LSM_CGROUP {
            let r = if void { range(1, 1) } else { range(0, 1) };
            return Ok(r.map(|r| LsmReturn::Range(r, false)));
        }
        if void {
            return Ok(Some(LsmReturn::Unchecked));
        }
        Ok(Some(match lsm_range(self.req, self.profile, &target)? {
            Some(r) => LsmReturn::Range(r, true),
            None => LsmReturn::Any,
        }))
    }

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
        if self.return_unchecked()? {
            return Ok(());
        }
        let entry = &self.cur.frames[0];
        if entry.in_async_callback_fn {
            return self.reg_in_range(
                r,
                "At async callback return",
                RetvalRange { min: 0, max: 0 },
                false,
            );
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
        let (range, return_32bit) = match self.lsm_return()? {
            None => match return_range(self.prog_type, self.req.expected_attach_type) {
                Some(range) => (range, false),
                None => return Ok(()),
            },
            Some(LsmReturn::Unchecked | LsmReturn::Any) => return Ok(()),
            Some(LsmReturn::Range(range, return_32bit)) => (range, return_32bit),
        };
        if self.profile.features.walk_v6_1.return_code_tnum {
            if self.prog_type == ProgType::LSM {
                return Err(self.unsupported("6.1's return rules of LSM programs"));
            }
            return self.return_code_v6_1(range);
        }
        let cgroup_void = self.req.expected_attach_type == AttachType::LSM_CGROUP
            && range == RetvalRange { min: 1, max: 1 };
        let res = self.reg_in_range(r, "At program exit", range, return_32bit);
        if cgroup_void && matches!(res, Err(Stop::Reject(_))) {
            // The kernel adds a note after the message.
            return Err(self.unsupported("the note on BPF_LSM_CGROUP programs of void hooks"));
        }
        res
    }

    /// The check of register `r` against a return range: a scalar, made
    /// precise, whose signed bounds (of its low half when `return_32bit`)
    /// lie in the range (`ctx` starts the message).
    fn reg_in_range(
        &mut self,
        r: u8,
        ctx: &str,
        range: RetvalRange,
        return_32bit: bool,
    ) -> Result<(), Stop> {
        let (min, max) = (i64::from(range.min), i64::from(range.max));
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
        let within = if return_32bit {
            min <= i64::from(v.s32_min) && i64::from(v.s32_max) <= max
        } else {
            min <= v.smin && v.smax <= max
        };
        if within {
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
