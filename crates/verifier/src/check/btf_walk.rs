//! `btf_struct_walk` / `btf_struct_access`: what a load of `size` bytes at
//! `off` inside a kernel struct reaches, found in the kernel's BTF. Nested
//! structs and unions are entered, arrays (multi-dimensional ones
//! linearised) indexed, a flexible array at the end walked, bitfields
//! read whole; a pointer member to a struct gives a BTF pointer, anything
//! else a number.

use bpfcheck_btf::{Btf, BtfKind, BtfTypeId, Type};
use bpfcheck_uapi::Errno;

/// `MAX_RESOLVE_DEPTH`.
const MAX_RESOLVE_DEPTH: usize = 32;

/// What the access reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Walked {
    /// A number (`SCALAR_VALUE`).
    Scalar,
    /// A pointer member to a struct (`WALK_PTR`).
    Ptr {
        /// The pointee struct, modifiers skipped.
        btf_id: u32,
        /// The member's name, for the trusted-field lists.
        field: String,
        /// The member's type tag (`__rcu`, `__user`, `__percpu`).
        tag: Option<Tag>,
        /// A union with more than one member was crossed.
        via_union: bool,
    },
    /// A pointer member to anything but a struct, on kernels that type it
    /// (`WALK_PTR_UNTRUSTED`: read-only untrusted memory of size 0).
    UntrustedMem,
}

/// The type tags the walk gives meaning to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tag {
    Rcu,
    User,
    Percpu,
}

/// A refused access: the kernel's message and errno.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct WalkError {
    pub(super) msg: String,
    pub(super) errno: Errno,
}

fn fail(errno: Errno, msg: String) -> WalkError {
    WalkError { msg, errno }
}

/// The type `id` with modifiers and typedefs skipped (`btf_type_skip_modifiers`).
fn skip_mods<'b>(btf: &'b Btf<'_>, id: BtfTypeId) -> Option<Type<'b>> {
    btf.resolve(id).ok()
}

fn is_composite(t: &Type<'_>) -> bool {
    matches!(t, Type::Struct(_) | Type::Union(_))
}

/// `__btf_resolve_size`: the size of a member's type, and for an array
/// the element type and the total number of elements.
pub(super) struct Sized<'b> {
    pub(super) size: u32,
    /// The array (if any), else the resolved type.
    pub(super) ty: Type<'b>,
    /// The innermost element type, modifiers skipped.
    pub(super) elem: Type<'b>,
    pub(super) nelems: u32,
}

pub(super) fn resolve_size<'b>(btf: &'b Btf<'_>, id: BtfTypeId) -> Option<Sized<'b>> {
    let mut t = btf.type_by_id(id).ok()?;
    let mut array: Option<Type<'b>> = None;
    let mut nelems: u32 = 1;
    for _ in 0..MAX_RESOLVE_DEPTH {
        let size = match t {
            Type::Int(_)
            | Type::Struct(_)
            | Type::Union(_)
            | Type::Enum(_)
            | Type::Float(_)
            | Type::Enum64(_) => t.raw().size_or_type(),
            Type::Ptr(_) => 8,
            Type::Typedef(r)
            | Type::Volatile(r)
            | Type::Const(r)
            | Type::Restrict(r)
            | Type::TypeTag(r) => {
                t = btf.type_by_id(r.target()).ok()?;
                continue;
            }
            Type::Array(a) => {
                if array.is_none() {
                    array = Some(t);
                }
                if nelems != 0 && a.nelems() > u32::MAX / nelems {
                    return None;
                }
                nelems *= a.nelems();
                t = btf.type_by_id(a.elem_type()).ok()?;
                continue;
            }
            _ => return None,
        };
        if nelems != 0 && size > u32::MAX / nelems {
            return None;
        }
        return Some(Sized {
            size: nelems * size,
            ty: array.unwrap_or(t),
            elem: t,
            nelems,
        });
    }
    None
}

/// The type tag right under a pointer member, if it is one of ours.
fn tag_of(btf: &Btf<'_>, ptr: &Type<'_>) -> Option<Tag> {
    let Type::Ptr(p) = ptr else { return None };
    let t = btf.type_by_id(p.target()).ok()?;
    if t.kind() != BtfKind::TypeTag {
        return None;
    }
    match t.name().ok()? {
        "rcu" => Some(Tag::Rcu),
        "user" => Some(Tag::User),
        "percpu" => Some(Tag::Percpu),
        _ => None,
    }
}

/// `btf_struct_access` for a kernel struct (flexible arrays walked);
/// `untrusted_mem`: pointers to non-structs are [`Walked::UntrustedMem`].
pub(super) fn struct_access(
    btf: &Btf<'_>,
    id: u32,
    off: i32,
    size: i32,
    untrusted_mem: bool,
) -> Result<Walked, WalkError> {
    let mut t = btf
        .type_by_id(BtfTypeId(id))
        .map_err(|_| fail(Errno::EINVAL, "Type '' is not a struct".to_owned()))?;
    let mut off = u32::try_from(off).unwrap_or(0);
    let size = u32::try_from(size).unwrap_or(0);
    let mut via_union = false;
    // Each round enters one nested struct or flexible array element.
    for _ in 0..4096 {
        if t.kind().is_modifier() {
            t = skip_mods(btf, t.id()).ok_or_else(|| fail(Errno::EINVAL, String::new()))?;
        }
        let tname = t.name().unwrap_or("").to_owned();
        let (Type::Struct(c) | Type::Union(c)) = t else {
            return Err(fail(
                Errno::EINVAL,
                format!("Type '{tname}' is not a struct"),
            ));
        };
        if c.is_union() && c.len() != 1 {
            via_union = true;
        }
        let beyond = || {
            fail(
                Errno::EACCES,
                format!("access beyond struct {tname} at off {off} size {size}"),
            )
        };
        if off + size > c.size() {
            // Only a trailing flexible array makes room past the end.
            let Some(last) = c.len().checked_sub(1).and_then(|i| c.member(i)) else {
                return Err(beyond());
            };
            let Some(Type::Array(arr)) = skip_mods(btf, last.ty) else {
                return Err(beyond());
            };
            if arr.nelems() != 0 {
                return Err(beyond());
            }
            let moff = last.bit_offset / 8;
            if off < moff {
                return Err(beyond());
            }
            let elem = skip_mods(btf, arr.elem_type()).ok_or_else(beyond)?;
            if matches!(elem, Type::Int(_)) {
                return Ok(Walked::Scalar);
            }
            if !is_composite(&elem) || elem.raw().size_or_type() == 0 {
                return Err(beyond());
            }
            off = (off - moff) % elem.raw().size_or_type();
            t = elem;
            continue;
        }
        let mut entered = None;
        for m in c.members() {
            let moff = m.bit_offset / 8;
            if off + size <= moff {
                break;
            }
            if m.bitfield_size != 0 {
                let end_bit = m.bit_offset + u32::from(m.bitfield_size);
                if off <= moff && end_bit.div_ceil(8) <= off + size {
                    return Ok(Walked::Scalar);
                }
                continue;
            }
            if off < moff {
                break;
            }
            let mname = m.name().unwrap_or("").to_owned();
            let Some(sized) = resolve_size(btf, m.ty) else {
                return Err(fail(
                    Errno::EFAULT,
                    format!("field {mname} doesn't have size"),
                ));
            };
            let mtrue_end = moff + sized.size;
            if off >= mtrue_end {
                continue;
            }
            let (mut moff, mut msize, mut mtype) = (moff, sized.size, sized.ty);
            if matches!(sized.ty, Type::Array(_)) {
                if moff == mtrue_end {
                    continue;
                }
                msize /= sized.nelems;
                moff += (off - moff) / msize * msize;
                mtype = sized.elem;
            }
            if is_composite(&mtype) {
                if off == moff {
                    entered = Some((mtype, 0));
                } else {
                    entered = Some((mtype, off - moff));
                }
                break;
            }
            if let Type::Ptr(p) = mtype {
                if msize != size || off != moff {
                    return Err(fail(
                        Errno::EACCES,
                        format!(
                            "cannot access ptr member {mname} with moff {moff} in struct {tname} with off {off} size {size}"
                        ),
                    ));
                }
                if let Some(st) = skip_mods(btf, p.target())
                    && is_composite(&st)
                {
                    return Ok(Walked::Ptr {
                        btf_id: st.id().0,
                        field: mname,
                        tag: tag_of(btf, &mtype),
                        via_union,
                    });
                }
                if untrusted_mem {
                    return Ok(Walked::UntrustedMem);
                }
            }
            if off + size > mtrue_end && !via_union {
                return Err(fail(
                    Errno::EACCES,
                    format!(
                        "access beyond the end of member {mname} (mend:{mtrue_end}) in struct {tname} with off {off} size {size}"
                    ),
                ));
            }
            return Ok(Walked::Scalar);
        }
        match entered {
            Some((inner, rest)) => {
                t = inner;
                off = rest;
            }
            None => {
                return Err(fail(
                    Errno::EINVAL,
                    format!("struct {tname} doesn't have field at offset {off}"),
                ));
            }
        }
    }
    Err(fail(Errno::EINVAL, String::new()))
}

/// `btf_nested_type_is_trusted`: whether the struct `<name><suffix>` the
/// kernel's BTF carries lists a pointer member `field` to `target`.
pub(super) fn listed(btf: &Btf<'_>, parent: u32, field: &str, target: u32, suffix: &str) -> bool {
    let Ok(walk) = btf.type_by_id(BtfTypeId(parent)) else {
        return false;
    };
    let name = format!("{}{suffix}", walk.name().unwrap_or(""));
    if name.len() >= 64 {
        return false;
    }
    let Some(safe) = btf.find_by_name_kind(&name, walk.kind()) else {
        return false;
    };
    let (Type::Struct(c) | Type::Union(c)) = safe else {
        return false;
    };
    c.members().any(|m| {
        let Ok(Type::Ptr(p)) = btf.type_by_id(m.ty) else {
            return false;
        };
        skip_mods(btf, p.target()).is_some_and(|t| t.id().0 == target)
            && m.name().is_ok_and(|n| n == field)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_btf(f: impl FnOnce(&Btf<'_>, u32)) {
        let p = bpfcheck_profile::KernelProfile::builtin("6.18").unwrap();
        let btf = p.btf.as_ref().unwrap().btf().unwrap();
        let task = btf
            .find_by_name_kind("task_struct", BtfKind::Struct)
            .unwrap()
            .id()
            .0;
        f(btf, task);
    }

    #[test]
    fn members_of_task_struct() {
        with_btf(|btf, task| {
            // `comm` is a char[16] at 1752: bytes inside are a number,
            // past its end the kernel's message.
            assert_eq!(struct_access(btf, task, 1752, 8, false), Ok(Walked::Scalar));
            let e = struct_access(btf, task, 1752, 17, false).unwrap_err();
            assert_eq!(
                e.msg,
                "access beyond the end of member comm (mend:1768) in struct task_struct with off 1752 size 17"
            );
            assert_eq!(e.errno, Errno::EACCES);
            let Ok(Walked::Ptr { field, .. }) = struct_access(btf, task, 1280, 8, false) else {
                panic!("real_parent is a pointer to a struct");
            };
            assert_eq!(field, "real_parent");
            let e = struct_access(btf, task, 1281, 4, false).unwrap_err();
            assert!(
                e.msg
                    .starts_with("cannot access ptr member real_parent with moff 1280")
            );
            let e = struct_access(btf, task, 3264, 8, false).unwrap_err();
            assert_eq!(e.msg, "access beyond struct task_struct at off 3264 size 8");
        });
    }

    #[test]
    fn trusted_lists_come_from_the_kernels_btf() {
        with_btf(|btf, task| {
            assert!(listed(btf, task, "real_parent", task, "__safe_rcu"));
            assert!(!listed(btf, task, "real_parent", task, "__safe_trusted"));
            assert!(!listed(btf, task, "parent", task, "__safe_rcu"));
        });
    }
}
