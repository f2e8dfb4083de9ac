//! Subprogram discovery (`add_subprog_and_kfunc`) and the per-subprogram
//! jump and fall-through checks (`check_subprogs`).

use bpfcheck_profile::{IsaFeatures, KernelProfile};
use bpfcheck_uapi::{Errno, LoadRequest, RawInsn, op};

use crate::{
    error::{ErrorCode, Stop, VerifierError},
    log::Log,
};

pub(crate) fn is_ldimm64(i: &RawInsn) -> bool {
    i.code == op::LD | op::IMM | op::DW
}

fn is_pseudo_func(i: &RawInsn) -> bool {
    is_ldimm64(i) && i.src == op::PSEUDO_FUNC
}

fn is_call(i: &RawInsn) -> bool {
    i.code == op::JMP | op::CALL
}

/// Finds every subprogram start (the entry, every target of a bpf-to-bpf
/// call or `ld_imm64` function reference, and the exception callback) and
/// prints the `func#N @M` table at log level 2. Gives the starts and the
/// exception callback's first instruction.
pub(crate) fn discover(
    req: &LoadRequest,
    profile: &KernelProfile,
    log: &mut Log,
    kfuncs: &mut super::kfunc::KfuncTab,
) -> Result<(Vec<usize>, Option<usize>), Stop> {
    let insns = &req.insns;
    let isa = &profile.isa;
    let mut starts = vec![0usize];
    for (i, insn) in insns.iter().enumerate() {
        // A kernel without kfuncs or function references leaves those
        // encodings to the later passes, which reject them.
        let pseudo_call = is_call(insn) && insn.src == op::PSEUDO_CALL;
        let kfunc = is_call(insn) && insn.src == op::PSEUDO_KFUNC_CALL && isa.kfunc_calls;
        let func_ref = is_pseudo_func(insn) && isa.pseudo_func;
        if !(func_ref || pseudo_call || kfunc) {
            continue;
        }
        if !profile.bpf_capable() {
            // The message grew with kfuncs, which came with function refs.
            let msg = if isa.kfunc_calls {
                "loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN"
            } else {
                "function calls to other bpf functions are allowed for CAP_BPF and CAP_SYS_ADMIN"
            };
            return Err(
                VerifierError::new(ErrorCode::NeedsCapBpf, Errno::EPERM, Some(i), msg).into(),
            );
        }
        if kfunc {
            super::kfunc::add_kfunc_call(req, profile, log, kfuncs, i, insn)?;
            continue;
        }
        let target = i64::try_from(i).unwrap_or(i64::MAX) + i64::from(insn.imm) + 1;
        let target = usize::try_from(target)
            .ok()
            .filter(|t| *t < insns.len())
            .ok_or_else(|| {
                VerifierError::new(
                    ErrorCode::InvalidCallTarget,
                    Errno::EINVAL,
                    Some(i),
                    "call to invalid destination",
                )
            })?;
        if let Err(pos) = starts.binary_search(&target) {
            if starts.len() >= profile.limits.max_subprogs as usize {
                return Err(VerifierError::new(
                    ErrorCode::TooManySubprogs,
                    Errno::E2BIG,
                    Some(i),
                    "too many subprograms",
                )
                .into());
            }
            starts.insert(pos, target);
        }
    }
    // The exception callback a decl tag names is a subprogram that no
    // instruction calls.
    let exception_cb = if profile.features.exceptions {
        super::exception_cb::find(req)?
    } else {
        None
    };
    if let Some(off) = exception_cb {
        if off >= insns.len() {
            return Err(VerifierError::new(
                ErrorCode::InvalidCallTarget,
                Errno::EINVAL,
                None,
                "call to invalid destination",
            )
            .into());
        }
        if let Err(pos) = starts.binary_search(&off) {
            if starts.len() >= profile.limits.max_subprogs as usize {
                return Err(VerifierError::new(
                    ErrorCode::TooManySubprogs,
                    Errno::E2BIG,
                    None,
                    "too many subprograms",
                )
                .into());
            }
            starts.insert(pos, off);
        }
    }
    if log.level2() && profile.features.log_subprog_table {
        for (n, start) in starts.iter().enumerate() {
            log.line(&format!("func#{n} @{start}"));
        }
    }
    Ok((starts, exception_cb))
}

/// Jumps must stay inside their subprogram, and a subprogram must not fall
/// through into the next one. A kernel without `gotol` knows no
/// `BPF_JMP32 | BPF_JA`: it range-checks that code by `off` like any other
/// jump (the opcode table refuses it only later) and does not count it as
/// a subprogram's last instruction.
pub(crate) fn check_ranges(
    insns: &[RawInsn],
    starts: &[usize],
    isa: &IsaFeatures,
) -> Result<(), Stop> {
    let gotol = |insn: &RawInsn| isa.gotol && insn.code == op::JMP32 | op::JA;
    // An indirect jump's targets are checked against its jump tables by
    // `check_cfg`; here it only ends a subprogram.
    let gotox = |insn: &RawInsn| isa.gotox && insn.code == op::JMP | op::JA | op::X;
    let mut sub = 0;
    let mut start = starts[0];
    let mut end = starts.get(1).copied().unwrap_or(insns.len());
    for (i, insn) in insns.iter().enumerate() {
        let class = insn.class();
        let opcode = op::alu_op(insn.code);
        if (class == op::JMP || class == op::JMP32)
            && opcode != op::EXIT
            && opcode != op::CALL
            && !gotox(insn)
        {
            let rel = if gotol(insn) {
                i64::from(insn.imm)
            } else {
                i64::from(insn.off)
            };
            let target = i64::try_from(i).unwrap_or(i64::MAX) + rel + 1;
            let inside = usize::try_from(target).is_ok_and(|t| t >= start && t < end);
            if !inside {
                return Err(VerifierError::new(
                    ErrorCode::JumpOutOfRange,
                    Errno::EINVAL,
                    Some(i),
                    format!("jump out of range from insn {i} to {target}"),
                )
                .into());
            }
        }
        if i + 1 == end {
            let terminal = insn.code == op::JMP | op::EXIT
                || gotol(insn)
                || gotox(insn)
                || insn.code == op::JMP | op::JA;
            if !terminal {
                return Err(VerifierError::new(
                    ErrorCode::FallThroughSubprog,
                    Errno::EINVAL,
                    Some(i),
                    "last insn is not an exit or jmp",
                )
                .into());
            }
            sub += 1;
            start = end;
            end = starts.get(sub + 1).copied().unwrap_or(insns.len());
        }
    }
    Ok(())
}

/// `check_abnormal_return` (from `check_btf_info`): without `func_info`
/// the kernel cannot tell a subprogram's return type, so no subprogram
/// but the entry may leave through `BPF_LD_[ABS|IND]` or a tail call;
/// with it (`check_btf_func`), only one returning an integer may.
pub(crate) fn check_abnormal_return(req: &LoadRequest, starts: &[usize]) -> Result<(), Stop> {
    let insns = &req.insns;
    let refuse = |code, msg: String| Err(VerifierError::new(code, Errno::EINVAL, None, msg).into());
    let int_returns = match returns_int(req, starts) {
        Some(r) => r,
        // A table the kernel refuses earlier, or no `func_info`.
        None if !req.func_info.is_empty() => return Ok(()),
        None => Vec::new(),
    };
    for (k, &start) in starts.iter().enumerate().skip(1) {
        let end = starts.get(k + 1).copied().unwrap_or(insns.len());
        let body = insns.get(start..end).unwrap_or(&[]);
        let ld_abs = body
            .iter()
            .any(|i| i.class() == op::LD && matches!(op::mode(i.code), op::ABS | op::IND));
        let tail_call = body
            .iter()
            .any(|i| i.code == op::JMP | op::CALL && i.src == 0 && i.imm == BPF_FUNC_TAIL_CALL);
        match int_returns.get(k) {
            None => {
                if ld_abs {
                    let msg = "LD_ABS is not allowed in subprogs without BTF";
                    return refuse(ErrorCode::InvalidInsn, msg.to_owned());
                }
                if tail_call {
                    let msg = "tail_call is not allowed in subprogs without BTF";
                    return refuse(ErrorCode::HelperCall, msg.to_owned());
                }
            }
            Some(true) => {}
            Some(false) => {
                if ld_abs {
                    let msg = "LD_ABS is only allowed in functions that return 'int'.";
                    return refuse(ErrorCode::InvalidInsn, msg.to_owned());
                }
                if tail_call {
                    let msg = "tail_call is only allowed in functions that return 'int'.";
                    return refuse(ErrorCode::HelperCall, msg.to_owned());
                }
            }
        }
    }
    Ok(())
}

/// Whether each function of `func_info` returns an integer or enum of at
/// most 8 bytes (`btf_type_is_small_int`, `btf_is_any_enum`); `None`
/// without `func_info` or when the table is one `check_btf_func` refuses
/// first (or is unreadable: the walk then reports it unsupported).
fn returns_int(req: &LoadRequest, starts: &[usize]) -> Option<Vec<bool>> {
    use bpfcheck_btf::{Btf, BtfTypeId, Type};
    if req.func_info.is_empty() || req.func_info.len() != starts.len() {
        return None;
    }
    let btf = Btf::parse(req.prog_btf.as_deref()?).ok()?;
    let mut out = Vec::with_capacity(starts.len());
    for (fi, &start) in req.func_info.iter().zip(starts) {
        if fi.insn_off as usize != start {
            return None;
        }
        let Ok(Type::Func(f)) = btf.type_by_id(BtfTypeId(fi.type_id)) else {
            return None;
        };
        let Ok(Type::FuncProto(p)) = btf.type_by_id(f.proto()) else {
            return None;
        };
        let int = match btf.resolve(p.return_type()).ok()? {
            Type::Int(i) => i.size() <= 8,
            Type::Enum(_) | Type::Enum64(_) => true,
            _ => false,
        };
        out.push(int);
    }
    Some(out)
}

/// `BPF_FUNC_tail_call`.
const BPF_FUNC_TAIL_CALL: i32 = 12;

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(insns: &[RawInsn], isa: &IsaFeatures) -> Result<(), String> {
        check_ranges(insns, &[0], isa).map_err(|e| match e {
            Stop::Reject(e) => e.message,
            Stop::Unsupported(u) => u.to_string(),
        })
    }

    #[test]
    fn jmp32_ja_without_gotol_is_ranged_by_off() {
        let off_set = [
            RawInsn::new(0xb7, 0, 0, 0, 0),
            RawInsn::new(0x06, 0, 0, 1, 0),
            RawInsn::new(0x95, 0, 0, 0, 0),
        ];
        assert_eq!(
            ranges(&off_set, &IsaFeatures::V5_10).unwrap_err(),
            "jump out of range from insn 1 to 3"
        );
        assert_eq!(ranges(&off_set, &IsaFeatures::V6_1), Ok(()));
        let far = [
            RawInsn::new(0xb7, 0, 0, 0, 0),
            RawInsn::new(0x06, 0, 0, 0, 100_000),
            RawInsn::new(0x95, 0, 0, 0, 0),
        ];
        assert_eq!(ranges(&far, &IsaFeatures::V5_10), Ok(()));
        assert_eq!(
            ranges(&far, &IsaFeatures::V6_1).unwrap_err(),
            "jump out of range from insn 1 to 100002"
        );
        // Nor does it end a subprogram.
        let last = [RawInsn::new(0x06, 0, 0, -1, 0)];
        assert_eq!(
            ranges(&last, &IsaFeatures::V5_10).unwrap_err(),
            "last insn is not an exit or jmp"
        );
    }
}
