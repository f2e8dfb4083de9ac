//! `BPF_PROG_LOAD` attribute checks made by `bpf_prog_load` before the
//! verifier starts. The kernel writes no log line for any of these: the
//! errno is the whole answer.

use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::{AttachType, Errno, LoadRequest, ProgType};

use crate::error::{ErrorCode, Stop, VerifierError};

/// Offsets of the `BPF_PROG_LOAD` fields a [`LoadRequest`] can set that
/// not every kernel has (uapi layout, stable across kernels).
const FD_ARRAY_OFFSET: u32 = 120;
const FD_ARRAY_CNT_OFFSET: u32 = 148;

fn refuse(code: ErrorCode, errno: Errno) -> Stop {
    Stop::Reject(VerifierError::new(code, errno, None, ""))
}

pub(crate) fn check(req: &LoadRequest, profile: &KernelProfile) -> Result<(), Stop> {
    check_attr_fields(req, profile)?;
    if req.prog_flags & !profile.features.prog_flags != 0 {
        return Err(refuse(ErrorCode::InvalidAttr, Errno::EINVAL));
    }
    let len = req.insns.len();
    if len == 0 || len > profile.max_prog_len() as usize {
        return Err(refuse(ErrorCode::ProgramSize, Errno::E2BIG));
    }
    if req.prog_type.0 == 0 || req.prog_type.0 >= profile.features.prog_type_end {
        return Err(refuse(ErrorCode::InvalidAttr, Errno::EINVAL));
    }
    super::attach::check_attr(req, profile)?;
    if !attach_type_allowed(req.prog_type, req.expected_attach_type, profile) {
        return Err(refuse(ErrorCode::InvalidAttr, Errno::EINVAL));
    }
    if !name_is_valid(&req.name) {
        return Err(refuse(ErrorCode::InvalidAttr, Errno::EINVAL));
    }
    Ok(())
}

/// `bpf_obj_name_cpy`: the kernel keeps the first 15 bytes of `prog_name`
/// (the loader truncates longer names) and refuses any but ASCII letters,
/// digits, `_` and `.` among them.
pub(crate) fn name_is_valid(name: &str) -> bool {
    name.bytes()
        .take(15)
        .take_while(|&b| b != 0)
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

/// Fields of the request the kernel has no room for. Past the kernel's
/// `union bpf_attr` they are a non-zero tail, refused by `__sys_bpf` before
/// `bpf_prog_load` runs (`E2BIG`); inside it, past the command's last
/// field, `CHECK_ATTR` refuses them (`EINVAL`). The tail check comes first
/// whatever the field order.
fn check_attr_fields(req: &LoadRequest, profile: &KernelProfile) -> Result<(), Stop> {
    let f = &profile.features;
    // A loader passes `fd_array` as a pointer, non-zero even when empty.
    let unknown = [
        (req.fd_array.is_some() && !f.fd_array, FD_ARRAY_OFFSET),
        (
            req.fd_array_cnt != 0 && !f.fd_array_cnt,
            FD_ARRAY_CNT_OFFSET,
        ),
    ];
    let offsets = || unknown.iter().filter(|(set, _)| *set).map(|(_, off)| *off);
    if offsets().any(|off| off >= f.bpf_attr_size) {
        return Err(refuse(ErrorCode::InvalidAttr, Errno::E2BIG));
    }
    if offsets().next().is_some() {
        return Err(refuse(ErrorCode::InvalidAttr, Errno::EINVAL));
    }
    Ok(())
}

/// `bpf_prog_load_check_attach` for programs without a BTF attach target,
/// after `bpf_prog_load_fixup_attach_type` (attach type 0 means
/// `sock_create` for a cgroup/sock program, `select` for sk_reuseport).
fn attach_type_allowed(prog: ProgType, attach: AttachType, profile: &KernelProfile) -> bool {
    use AttachType as A;
    // The lists are the newest kernel's; an older one lacks the later types.
    let known = attach.0 < profile.features.attach_type_end;
    let one_of = |allowed: &[AttachType]| known && allowed.contains(&attach);
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
        ProgType::SK_REUSEPORT if profile.features.sk_reuseport_attach_check => {
            attach.0 == 0 || one_of(&[A::SK_REUSEPORT_SELECT, A::SK_REUSEPORT_SELECT_OR_MIGRATE])
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
    fn program_names_follow_bpf_obj_name_cpy() {
        assert!(name_is_valid("xdp_prog.v2"));
        assert!(name_is_valid(""));
        assert!(!name_is_valid("flag-test"));
        // Only the 15 bytes the kernel keeps are looked at.
        assert!(name_is_valid("abcdefghijklmno-too-long"));
    }

    fn profile(name: &str) -> KernelProfile {
        KernelProfile::builtin(name).unwrap()
    }

    #[test]
    fn cgroup_types_need_their_attach_types() {
        let p = profile("6.18");
        assert!(attach_type_allowed(
            ProgType::CGROUP_SKB,
            AttachType::CGROUP_INET_EGRESS,
            &p
        ));
        assert!(!attach_type_allowed(
            ProgType::CGROUP_SKB,
            AttachType::CGROUP_SOCK_OPS,
            &p
        ));
        assert!(attach_type_allowed(
            ProgType::CGROUP_SOCK,
            AttachType(0),
            &p
        ));
        assert!(!attach_type_allowed(ProgType::SYSCALL, AttachType::XDP, &p));
        assert!(attach_type_allowed(
            ProgType::XDP,
            AttachType::CGROUP_SYSCTL,
            &p
        ));
    }

    #[test]
    fn older_kernels_know_fewer_attach_types() {
        let unix = AttachType::CGROUP_UNIX_CONNECT;
        assert!(attach_type_allowed(
            ProgType::CGROUP_SOCK_ADDR,
            unix,
            &profile("6.12")
        ));
        assert!(!attach_type_allowed(
            ProgType::CGROUP_SOCK_ADDR,
            unix,
            &profile("6.1")
        ));
        // 5.10 does not check SK_REUSEPORT's attach type at all.
        assert!(attach_type_allowed(
            ProgType::SK_REUSEPORT,
            AttachType(0),
            &profile("5.10")
        ));
        // Later ones do, after turning 0 into `select`.
        assert!(attach_type_allowed(
            ProgType::SK_REUSEPORT,
            AttachType(0),
            &profile("6.1")
        ));
        assert!(!attach_type_allowed(
            ProgType::SK_REUSEPORT,
            AttachType::XDP,
            &profile("6.1")
        ));
    }

    fn request() -> LoadRequest {
        LoadRequest {
            prog_type: ProgType::SOCKET_FILTER,
            insns: vec![bpfcheck_uapi::RawInsn::new(0x95, 0, 0, 0, 0)],
            ..LoadRequest::default()
        }
    }

    fn errno(req: &LoadRequest, name: &str) -> Option<Errno> {
        match check(req, &profile(name)) {
            Ok(()) => None,
            Err(Stop::Reject(e)) => Some(e.errno),
            Err(_) => panic!("unexpected outcome"),
        }
    }

    #[test]
    fn fields_a_kernel_lacks_are_refused_by_where_they_lie() {
        let mut req = request();
        req.fd_array = Some(Vec::new());
        assert_eq!(errno(&req, "5.10"), Some(Errno::E2BIG));
        assert_eq!(errno(&req, "6.1"), None);
        let mut req = request();
        req.fd_array_cnt = 1;
        // Past 6.1's 144-byte union, inside 6.12's 152 bytes.
        assert_eq!(errno(&req, "6.1"), Some(Errno::E2BIG));
        assert_eq!(errno(&req, "6.12"), Some(Errno::EINVAL));
        assert_eq!(errno(&req, "6.18"), None);
        // The tail check precedes the flag check.
        req.prog_flags = 1 << 31;
        assert_eq!(errno(&req, "6.1"), Some(Errno::E2BIG));
    }

    #[test]
    fn prog_flags_by_kernel() {
        let mut req = request();
        req.prog_flags = bpfcheck_uapi::load::BPF_F_XDP_DEV_BOUND_ONLY;
        assert_eq!(errno(&req, "6.1"), Some(Errno::EINVAL));
        assert_eq!(errno(&req, "6.12"), None);
        req.prog_flags = bpfcheck_uapi::load::BPF_F_XDP_HAS_FRAGS;
        assert_eq!(errno(&req, "5.10"), Some(Errno::EINVAL));
        assert_eq!(errno(&req, "6.1"), None);
    }
}
