//! Socket pointers and the references they carry.
//!
//! The socket kinds (`PTR_TO_SOCKET`, `PTR_TO_SOCK_COMMON`,
//! `PTR_TO_TCP_SOCK`, `PTR_TO_XDP_SOCK`) are read-only views whose fields
//! are checked like a context (`check_sock_access` with the
//! `bpf_*_is_valid_access` rules of net/core/filter.c), never moved by
//! arithmetic. The lookup helpers hand out sockets the program owns: such
//! a pointer carries the id of an acquired reference (`ref_obj_id`), every
//! copy loses its validity when the reference is released
//! (`release_reference`), and a path may not end, tail-call or use the
//! legacy packet loads while it still holds one (`check_resource_leak`).

use bpfcheck_profile::helpers::{ArgBase, ArgType, HelperProto, RetBase, TypeFlag};
use bpfcheck_uapi::Errno;

use super::Checker;
use super::ctx_sock::bpf_sock_access;
use super::mem::Access;
use crate::error::{ErrorCode, Stop};
use crate::state::{PtrFields, RegState, VerifierState};

/// `BPF_FUNC_sk_lookup_tcp`, `_udp`, `skc_lookup_tcp`: the helpers that
/// acquire a socket (`is_acquire_function`).
const ACQUIRING: [u32; 3] = [84, 85, 99];
/// `BPF_FUNC_sk_fullsock` and `BPF_FUNC_tcp_sock`: their result is a view
/// of the argument and shares its reference (`is_ptr_cast_function`).
const CASTING: [u32; 2] = [95, 96];
/// `BPF_FUNC_get_listener_sock`.
const GET_LISTENER_SOCK: u32 = 98;

/// `struct bpf_sock`'s `type` through `priority`: no `sock_common` has
/// them.
const SOCK_TYPE_TILL_PRIORITY: std::ops::Range<i32> = 8..24;
/// `offsetofend(struct bpf_tcp_sock, icsk_retransmits)`.
const TCP_SOCK_SIZE: i32 = 112;
/// `bytes_received` and `bytes_acked`, the 8-byte fields of `struct
/// bpf_tcp_sock`.
const TCP_SOCK_U64: [i32; 2] = [80, 88];
/// `offsetofend(struct bpf_xdp_sock, queue_id)`.
const XDP_SOCK_SIZE: i32 = 4;

/// Register types a socket argument accepts (`sock_types`,
/// `fullsock_types`, `btf_id_sock_common_types`), as the kernel lists
/// them when refusing one.
const SOCK_COMMON_TYPES: &str = "sock_common, sock, tcp_sock, xdp_sock";
const FULLSOCK_TYPES: &str = "sock";
pub(super) const BTF_ID_SOCK_COMMON_TYPES: &str =
    "sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_";

/// `mark_ptr_not_null_reg` for a socket-kind register: no longer NULL,
/// and a socket map's lookup result becomes the socket it found.
pub(super) fn mark_not_null(reg: &mut RegState) {
    if let RegState::PtrToSockMapValue { ptr, .. } = *reg {
        *reg = RegState::PtrToSocket(ptr);
    }
    if let Some(p) = sock_fields_mut(reg) {
        p.maybe_null = false;
    }
}

/// The pointer fields of a socket-kind register (a socket map's lookup
/// result included, for its nullness and reference).
pub(super) fn sock_fields(reg: &RegState) -> Option<&PtrFields> {
    match reg {
        RegState::PtrToSocket(p)
        | RegState::PtrToSockCommon(p)
        | RegState::PtrToTcpSock(p)
        | RegState::PtrToXdpSock(p)
        | RegState::PtrToSockMapValue { ptr: p, .. } => Some(p),
        _ => None,
    }
}

/// The pointer fields of a socket-kind register, mutably.
pub(super) fn sock_fields_mut(reg: &mut RegState) -> Option<&mut PtrFields> {
    match reg {
        RegState::PtrToSocket(p)
        | RegState::PtrToSockCommon(p)
        | RegState::PtrToTcpSock(p)
        | RegState::PtrToXdpSock(p)
        | RegState::PtrToSockMapValue { ptr: p, .. } => Some(p),
        _ => None,
    }
}

/// `check_sock_access`'s rules for a non-null socket pointer.
fn valid_access(reg: &RegState, off: i32, size: i32) -> bool {
    match reg {
        RegState::PtrToSockCommon(_) => {
            !SOCK_TYPE_TILL_PRIORITY.contains(&off) && bpf_sock_access(off, size)
        }
        RegState::PtrToSocket(_) => bpf_sock_access(off, size),
        RegState::PtrToTcpSock(_) => {
            (0..TCP_SOCK_SIZE).contains(&off)
                && off % size == 0
                && size == if TCP_SOCK_U64.contains(&off) { 8 } else { 4 }
        }
        RegState::PtrToXdpSock(_) => {
            (0..XDP_SOCK_SIZE).contains(&off) && off % size == 0 && size == 4
        }
        _ => false,
    }
}

/// Every register and spilled register of every frame (`bpf_for_each_reg_in_vstate`).
pub(super) fn for_each_reg(state: &mut VerifierState, mut f: impl FnMut(&mut RegState)) {
    for frame in &mut state.frames {
        frame.regs.iter_mut().for_each(&mut f);
        for slot in &mut frame.stack {
            if slot.is_spill() {
                f(&mut slot.spilled);
            }
        }
    }
}

/// The return of a helper that gives a socket pointer, before its ids.
fn sock_return(base: RetBase, ptr: PtrFields) -> Option<RegState> {
    Some(match base {
        RetBase::PtrToSocket => RegState::PtrToSocket(ptr),
        RetBase::PtrToSockCommon => RegState::PtrToSockCommon(ptr),
        RetBase::PtrToTcpSock => RegState::PtrToTcpSock(ptr),
        _ => return None,
    })
}

/// What the socket arguments of a helper call established.
#[derive(Default)]
pub(super) struct RefMeta {
    /// The argument to release (`release_regno`).
    pub(super) release_regno: Option<u8>,
    /// The reference an argument carries (`ref_obj_id`).
    pub(super) ref_obj_id: u32,
}

impl Checker<'_> {
    /// A load or store through a socket pointer (the `type_is_sk_pointer`
    /// branch of `check_mem_access`); a load gives an unknown number.
    pub(super) fn sock_access(
        &mut self,
        regno: u8,
        base: &RegState,
        off: i16,
        size: i32,
        access: Access,
    ) -> Result<(), Stop> {
        let Some(ptr) = sock_fields(base) else {
            return Err(self.unsupported("memory access through this pointer type"));
        };
        if ptr.maybe_null {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!("R{regno} invalid mem access '{}'", base.type_str()),
            ));
        }
        if self.strict_alignment && size != 1 {
            return Err(self.unsupported("strict alignment of socket pointers"));
        }
        if access == Access::Write {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!("R{regno} cannot write into {}", base.type_str()),
            ));
        }
        let off = i32::from(off);
        if !valid_access(base, off, size) {
            return Err(self.reject(
                ErrorCode::InvalidMemAccess,
                Errno::EACCES,
                format!(
                    "R{regno} invalid {} access off={off} size={size}",
                    base.type_str()
                ),
            ));
        }
        Ok(())
    }

    /// `check_reg_type` for `ARG_PTR_TO_SOCK_COMMON`, `ARG_PTR_TO_SOCKET`
    /// and `ARG_PTR_TO_BTF_ID_SOCK_COMMON` (a NULL the argument allows
    /// has been let through before).
    pub(super) fn sock_arg(&self, regno: u8, arg: ArgType, reg: &RegState) -> Result<(), Stop> {
        let known = [TypeFlag::PtrMaybeNull, TypeFlag::ObjRelease];
        if arg.flags.iter().any(|f| !known.contains(&f)) {
            return Err(self.unsupported(&format!("helper argument type {arg}")));
        }
        // A socket map's lookup result is a map value until checked; the
        // argument's own `PTR_MAYBE_NULL` admits the `_or_null` kinds.
        let unchecked_map_value = matches!(reg, RegState::PtrToSockMapValue { .. });
        let fits = |p: &PtrFields| !unchecked_map_value && (!p.maybe_null || arg.maybe_null());
        let (ok, expected) = match arg.base {
            ArgBase::PtrToSocket => (
                matches!(reg, RegState::PtrToSocket(p) if fits(p)),
                FULLSOCK_TYPES,
            ),
            ArgBase::PtrToSockCommon => (sock_fields(reg).is_some_and(fits), SOCK_COMMON_TYPES),
            ArgBase::PtrToBtfIdSockCommon => {
                if matches!(reg, RegState::PtrToBtfId { .. }) {
                    return Err(self.unsupported("BTF pointers as socket arguments"));
                }
                (sock_fields(reg).is_some_and(fits), BTF_ID_SOCK_COMMON_TYPES)
            }
            _ => return Err(self.unsupported(&format!("helper argument type {arg}"))),
        };
        if ok {
            Ok(())
        } else if self.profile.features.walk_v6_1.helper_arg_types {
            Err(self
                .unsupported("helper argument types of kernel 6.1 (walk_v6_1.helper_arg_types)"))
        } else {
            Err(self.reject(
                ErrorCode::HelperCall,
                Errno::EACCES,
                format!("R{regno} type={} expected={expected}", reg.type_str()),
            ))
        }
    }

    /// The reference bookkeeping of `check_func_arg` after the type
    /// check: a release argument must carry a reference (or be NULL),
    /// and at most one argument may carry one.
    pub(super) fn arg_refs(
        &self,
        regno: u8,
        arg: ArgType,
        reg: &RegState,
        meta: &mut RefMeta,
    ) -> Result<(), Stop> {
        let ref_obj_id = ref_obj_id(reg);
        if arg.flags.has(TypeFlag::ObjRelease) {
            if ref_obj_id == 0 && !super::helper_mem::is_null(reg) {
                let message = if self.profile.features.walk_v7.release_ref_message {
                    // 7.x names the helper (`func_id_name`).
                    let helper = self.req.insns[self.insn_idx].imm;
                    format!(
                        "release helper {} expects referenced PTR_TO_BTF_ID passed to R{regno}",
                        bpfcheck_uapi::helper_name(helper).unwrap_or("unknown")
                    )
                } else {
                    format!("R{regno} must be referenced when passed to release function")
                };
                return Err(self.reject(ErrorCode::HelperCall, Errno::EINVAL, message));
            }
            if meta.release_regno.is_some() {
                return Err(self.unsupported("helpers with two release arguments"));
            }
            meta.release_regno = Some(regno);
        }
        if ref_obj_id != 0 {
            if meta.ref_obj_id != 0 {
                return Err(self.unsupported("helpers with two referenced arguments"));
            }
            meta.ref_obj_id = ref_obj_id;
        }
        Ok(())
    }

    /// The release of `check_helper_call`, once the arguments are checked.
    pub(super) fn release_arg(&mut self, proto: &HelperProto, meta: &RefMeta) -> Result<(), Stop> {
        let Some(regno) = meta.release_regno else {
            return Ok(());
        };
        let released = if meta.ref_obj_id != 0 {
            self.release_reference(meta.ref_obj_id)
        } else {
            super::helper_mem::is_null(self.cur.cur().reg(regno))
        };
        if released {
            return Ok(());
        }
        Err(self.reject(
            ErrorCode::HelperCall,
            Errno::EINVAL,
            format!(
                "func {}#{} reference has not been acquired before",
                proto.name(),
                proto.id
            ),
        ))
    }

    /// `release_reference`: the reference is dropped and every register
    /// still holding it becomes an unknown number for a loader allowed to
    /// leak pointers, else unreadable (`mark_reg_invalid`).
    pub(super) fn release_reference(&mut self, id: u32) -> bool {
        if !self
            .cur
            .refs
            .release(id, self.profile.features.refs_release_swaps)
        {
            return false;
        }
        let caps = self.profile.caps;
        let invalid = if caps.perfmon || caps.sys_admin {
            RegState::unknown()
        } else {
            RegState::NotInit
        };
        for_each_reg(&mut self.cur, |r| {
            if ref_obj_id(r) == id {
                *r = invalid;
            }
        });
        true
    }

    /// `R0` of a helper returning a socket pointer: a fresh nullness id,
    /// then the reference it acquires or shares.
    pub(super) fn sock_ret(
        &mut self,
        proto: &HelperProto,
        meta: &RefMeta,
    ) -> Result<Option<RegState>, Stop> {
        let ret = proto.ret;
        if !matches!(
            ret.base,
            RetBase::PtrToSocket | RetBase::PtrToSockCommon | RetBase::PtrToTcpSock
        ) {
            return Ok(None);
        }
        if ret.flags.iter().any(|f| f != TypeFlag::PtrMaybeNull) {
            return Err(self.unsupported(&format!("helper return type {ret}")));
        }
        let maybe_null = ret.flags.has(TypeFlag::PtrMaybeNull);
        let mut ptr = PtrFields::fresh(if maybe_null { self.new_id() } else { 0 }, maybe_null);
        if CASTING.contains(&proto.id) {
            ptr.ref_obj_id = meta.ref_obj_id;
        } else if ACQUIRING.contains(&proto.id) {
            let id = self.new_id();
            self.cur.refs.acquire(id, self.insn_idx);
            ptr.id = id;
            ptr.ref_obj_id = id;
        } else if proto.id != GET_LISTENER_SOCK {
            return Err(self.unsupported(&format!("helper return type {ret} of this helper")));
        }
        Ok(sock_return(ret.base, ptr))
    }

    /// `check_resource_leak` without locks to check: every reference
    /// still held is named, then the refusal with `what`'s prefix.
    pub(super) fn check_resource_leak(&mut self, what: &str) -> Result<(), Stop> {
        if !self.profile.features.resource_leak_v2 {
            return self.check_reference_leak_v1(what);
        }
        // A subprogram's exit may keep a lock its caller releases.
        let exit = what.starts_with("BPF_EXIT");
        let check_lock = !exit || self.cur.frames.len() == 1;
        if check_lock {
            self.no_lock_held(what)?;
        }
        // A static subprogram may hand its references back to its caller;
        // an exception exit (`bpf_throw`) leaves from every frame at once.
        let exception_exit = what == "bpf_throw";
        let sub_exit = self.cur.frames.len() > 1 && !exception_exit;
        if self.cur.refs.pointers().next().is_none() || sub_exit {
            if check_lock {
                self.no_region_held(what)?;
            }
            return Ok(());
        }
        let mut text = String::new();
        for r in self.cur.refs.pointers() {
            text.push_str(&format!(
                "Unreleased reference id={} alloc_insn={}\n",
                r.id, r.insn_idx
            ));
        }
        self.log.push(&text);
        Err(self.reject(
            ErrorCode::ReferenceLeak,
            Errno::EINVAL,
            format!("{what} would lead to reference leak"),
        ))
    }
}

impl Checker<'_> {
    /// The same checks before 6.14 (`check_reference_leak` and the lock
    /// tests around it), in their order and with their messages.
    fn check_reference_leak_v1(&mut self, what: &str) -> Result<(), Stop> {
        let main = self.cur.frames.len() == 1;
        let exit = what.starts_with("BPF_EXIT");
        let ld_abs = what.starts_with("BPF_LD_");
        if exit && main && self.cur.refs.lock().is_some() {
            return Err(self.reject(
                ErrorCode::InvalidInsn,
                Errno::EINVAL,
                "bpf_spin_unlock is missing".to_owned(),
            ));
        }
        if exit && main {
            self.no_region_at_exit_v1()?;
        }
        if !exit && !ld_abs {
            self.no_lock_held(what)?;
        }
        let mut lines: Vec<String> = if main {
            self.cur
                .refs
                .pointers()
                .map(|r| format!("Unreleased reference id={} alloc_insn={}", r.id, r.insn_idx))
                .collect()
        } else {
            Vec::new()
        };
        if let Some(last) = lines.pop() {
            let message = if exit {
                last
            } else {
                lines.push(last);
                if ld_abs {
                    "BPF_LD_[ABS|IND] cannot be mixed with socket references".to_owned()
                } else {
                    format!("{what} would lead to reference leak")
                }
            };
            for l in &lines {
                self.log.push(&format!("{l}\n"));
            }
            return Err(self.reject(ErrorCode::ReferenceLeak, Errno::EINVAL, message));
        }
        if ld_abs {
            self.no_lock_held(what)?;
        }
        if !exit {
            self.no_region_held(what)?;
        }
        Ok(())
    }
}

/// The reference a register carries, 0 for none.
pub(super) fn ref_obj_id(reg: &RegState) -> u32 {
    match reg {
        RegState::PtrToSocket(p)
        | RegState::PtrToSockCommon(p)
        | RegState::PtrToTcpSock(p)
        | RegState::PtrToXdpSock(p)
        | RegState::PtrToSockMapValue { ptr: p, .. } => p.ref_obj_id,
        RegState::PtrToMem { ptr, .. } | RegState::PtrToBtfId { ptr, .. } => ptr.ref_obj_id,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::valid_access;
    use crate::state::PtrFields;
    use crate::state::RegState;

    #[test]
    fn socket_field_rules() {
        let sock = RegState::PtrToSocket(PtrFields::fresh(0, false));
        let common = RegState::PtrToSockCommon(PtrFields::fresh(0, false));
        let tcp = RegState::PtrToTcpSock(PtrFields::fresh(0, false));
        let xdp = RegState::PtrToXdpSock(PtrFields::fresh(0, false));
        // `type` through `priority` exist only in full sockets.
        assert!(valid_access(&sock, 8, 4) && !valid_access(&common, 8, 4));
        assert!(valid_access(&sock, 20, 4) && !valid_access(&common, 20, 4));
        assert!(valid_access(&common, 4, 4) && valid_access(&common, 48, 2));
        assert!(!valid_access(&sock, 50, 2) && !valid_access(&sock, 80, 4));
        // The two 64-bit counters of `struct bpf_tcp_sock`, words elsewhere.
        assert!(valid_access(&tcp, 80, 8) && valid_access(&tcp, 88, 8));
        assert!(!valid_access(&tcp, 80, 4) && !valid_access(&tcp, 0, 8));
        assert!(valid_access(&tcp, 108, 4) && !valid_access(&tcp, 112, 4));
        assert!(!valid_access(&tcp, 2, 2));
        assert!(valid_access(&xdp, 0, 4) && !valid_access(&xdp, 0, 2));
        assert!(!valid_access(&xdp, 4, 4));
    }
}
