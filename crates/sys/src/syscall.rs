//! The one place that enters the kernel: `syscall(SYS_bpf, cmd, attr, size)`.

use std::{
    io,
    os::fd::{FromRawFd, OwnedFd, RawFd},
};

use crate::{SysError, attr::Attr};

/// How often a command interrupted by a signal (`EAGAIN` from the verifier's
/// `signal_pending()` check, `EINTR` elsewhere) is re-issued; libbpf uses
/// the same bound.
const INTERRUPT_RETRIES: usize = 5;

/// Issues the command of `A` with the first [`Attr::wire_size`] bytes of
/// `attr`, returning the syscall's non-negative result.
///
/// # Safety
///
/// Every address stored in `attr` must be zero or point to memory that stays
/// valid for the whole call: readable for the size the command reads (the
/// size field next to the address, or the fixed size the command implies,
/// e.g. a map's key and value size), writable for the size of every output
/// buffer (log buffers, info and test-run outputs).
pub(crate) unsafe fn sys_bpf<A: Attr>(attr: &mut A) -> Result<i64, SysError> {
    let size = attr.wire_size().min(size_of::<A>());
    let mut tries = 0;
    loop {
        // SAFETY: `attr` is a live, exclusively borrowed `#[repr(C)]` value of
        // at least `size` bytes, and the caller guarantees the addresses
        // inside it (the only memory the kernel touches besides `attr`).
        let ret = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                libc::c_long::from(A::CMD as i32),
                std::ptr::from_mut(attr),
                size as libc::c_uint,
            )
        };
        if ret >= 0 {
            return Ok(ret);
        }
        let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        tries += 1;
        if (errno == libc::EAGAIN || errno == libc::EINTR) && tries < INTERRUPT_RETRIES {
            continue;
        }
        return Err(SysError::new(A::NAME, errno));
    }
}

/// [`sys_bpf`] for commands whose result is a new file descriptor.
///
/// # Safety
///
/// As for [`sys_bpf`].
pub(crate) unsafe fn sys_bpf_fd<A: Attr>(attr: &mut A) -> Result<OwnedFd, SysError> {
    // SAFETY: forwarded to the caller.
    let ret = unsafe { sys_bpf(attr) }?;
    let fd = RawFd::try_from(ret).map_err(|_| SysError::new(A::NAME, libc::EBADF))?;
    // SAFETY: a successful fd-creating command returns a descriptor that this
    // process has not seen before, so nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Issues `cmd` with an arbitrary attribute buffer, to test how the kernel
/// treats sizes and tail bytes. The buffer holds no addresses.
#[cfg(test)]
pub(crate) fn sys_bpf_bytes(cmd: u32, attr: &mut [u8]) -> Result<i64, i32> {
    // SAFETY: `attr` is a live buffer of exactly the length passed; tests
    // only put scalars in it, and a command that creates an fd leaks it at
    // worst.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            libc::c_long::from(cmd as i32),
            attr.as_mut_ptr(),
            attr.len() as libc::c_uint,
        )
    };
    if ret >= 0 {
        Ok(ret)
    } else {
        Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{attr::BPF_MAP_CREATE, test_support::kernel_or_skip};

    /// The kernel accepts an attribute longer than it knows only if the
    /// unknown tail is zero; this is why `wire_size` stops at the last
    /// field in use.
    #[test]
    fn non_zero_unknown_tail_is_e2big() {
        if kernel_or_skip("non_zero_unknown_tail_is_e2big").is_none() {
            return;
        }
        // Map type 0 (`BPF_MAP_TYPE_UNSPEC`) never creates a map, so no fd
        // can leak; 512 bytes is past every member of 6.18's union.
        let mut attr = [0u8; 512];
        assert_eq!(sys_bpf_bytes(BPF_MAP_CREATE, &mut attr), Err(libc::EINVAL));
        attr[511] = 1;
        assert_eq!(sys_bpf_bytes(BPF_MAP_CREATE, &mut attr), Err(libc::E2BIG));
    }
}
