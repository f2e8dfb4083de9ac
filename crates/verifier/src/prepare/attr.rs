//! `BPF_PROG_LOAD` attribute checks made by `bpf_prog_load` before the
//! verifier starts. The kernel writes no log line for any of these: the
//! errno is the whole answer.

use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::{AttachType, Errno, LoadRequest, ProgType, load};

use crate::error::{ErrorCode, Stop, Unsupported, VerifierError};

/// Program flags the 6.18 `bpf_prog_load` accepts (`BPF_F_TOKEN_FD` is 1 << 16).
const KNOWN_PROG_FLAGS: u32 = load::BPF_F_STRICT_ALIGNMENT
    | load::BPF_F_ANY_ALIGNMENT
    | load::BPF_F_TEST_RND_HI32
    | load::BPF_F_TEST_STATE_FREQ
    | load::BPF_F_SLEEPABLE
    | load::BPF_F_XDP_HAS_FRAGS
    | load::BPF_F_XDP_DEV_BOUND_ONLY
    | load::BPF_F_TEST_REG_INVARIANTS
    | (1 << 16);

fn refuse(code: ErrorCode, errno: Errno) -> Stop {
    Stop::Reject(VerifierError::new(code, errno, None, ""))
}

pub(crate) fn check(req: &LoadRequest, profile: &KernelProfile) -> Result<(), Stop> {
    if req.prog_flags & !KNOWN_PROG_FLAGS != 0 {
        return Err(refuse(ErrorCode::InvalidAttr, Errno::EINVAL));
    }
    let len = req.insns.len();
    if len == 0 || len > profile.max_prog_len() as usize {
        return Err(refuse(ErrorCode::ProgramSize, Errno::E2BIG));
    }
    if req.prog_type.0 == 0 || req.prog_type.0 >= profile.features.prog_type_end {
        return Err(refuse(ErrorCode::InvalidAttr, Errno::EINVAL));
    }
    if req.attach_btf_id != 0 || req.attach_target.is_some() {
        return Err(Unsupported::new("BTF attach targets (attach_btf_id)", None).into());
    }
    if !attach_type_allowed(req.prog_type, req.expected_attach_type) {
        return Err(refuse(ErrorCode::InvalidAttr, Errno::EINVAL));
    }
    Ok(())
}

/// `bpf_prog_load_check_attach` for programs without a BTF attach target,
/// after `bpf_prog_load_fixup_attach_type` (a cgroup/sock program with
/// attach type 0 means `sock_create`).
fn attach_type_allowed(prog: ProgType, attach: AttachType) -> bool {
    use AttachType as A;
    let one_of = |allowed: &[AttachType]| allowed.contains(&attach);
    match prog {
        ProgType::CGROUP_SOCK => {
            attach.0 == 0
                || one_of(&[
                    A::CGROUP_INET_SOCK_CREATE,
                    A::CGROUP_INET_SOCK_RELEASE,
                    A::CGROUP_INET4_POST_BIND,
                    A::CGROUP_INET6_POST_BIND,
                ])
        }
        ProgType::CGROUP_SOCK_ADDR => one_of(&[
            A::CGROUP_INET4_BIND,
            A::CGROUP_INET6_BIND,
            A::CGROUP_INET4_CONNECT,
            A::CGROUP_INET6_CONNECT,
            A::CGROUP_UNIX_CONNECT,
            A::CGROUP_INET4_GETPEERNAME,
            A::CGROUP_INET6_GETPEERNAME,
            A::CGROUP_UNIX_GETPEERNAME,
            A::CGROUP_INET4_GETSOCKNAME,
            A::CGROUP_INET6_GETSOCKNAME,
            A::CGROUP_UNIX_GETSOCKNAME,
            A::CGROUP_UDP4_SENDMSG,
            A::CGROUP_UDP6_SENDMSG,
            A::CGROUP_UNIX_SENDMSG,
            A::CGROUP_UDP4_RECVMSG,
            A::CGROUP_UDP6_RECVMSG,
            A::CGROUP_UNIX_RECVMSG,
        ]),
        ProgType::CGROUP_SKB => one_of(&[A::CGROUP_INET_INGRESS, A::CGROUP_INET_EGRESS]),
        ProgType::CGROUP_SOCKOPT => one_of(&[A::CGROUP_SETSOCKOPT, A::CGROUP_GETSOCKOPT]),
        ProgType::SK_LOOKUP => attach == A::SK_LOOKUP,
        ProgType::SK_REUSEPORT => {
            one_of(&[A::SK_REUSEPORT_SELECT, A::SK_REUSEPORT_SELECT_OR_MIGRATE])
        }
        ProgType::NETFILTER => attach == A::NETFILTER,
        ProgType::SYSCALL | ProgType::EXT => attach.0 == 0,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_types_need_their_attach_types() {
        assert!(attach_type_allowed(
            ProgType::CGROUP_SKB,
            AttachType::CGROUP_INET_EGRESS
        ));
        assert!(!attach_type_allowed(
            ProgType::CGROUP_SKB,
            AttachType::CGROUP_SOCK_OPS
        ));
        assert!(attach_type_allowed(ProgType::CGROUP_SOCK, AttachType(0)));
        assert!(!attach_type_allowed(ProgType::SYSCALL, AttachType::XDP));
        assert!(attach_type_allowed(
            ProgType::XDP,
            AttachType::CGROUP_SYSCTL
        ));
    }
}
