//! `btf_struct_ids_match`: whether a BTF pointer to type `have` at fixed
//! offset `off` may stand for a pointer to type `want`. Without `strict`,
//! the object at `off` may be a struct nested in `have` (at any depth),
//! and a struct whose first member is a `want` matches too — the way a
//! `struct tcp_sock *` passes for a `struct sock_common *`.
//!
//! Both types live in the kernel's BTF (helpers and kfuncs take kernel
//! types), so two types are the same when their ids are; flexible arrays
//! at the end of a struct are walked as the kernel walks them for kernel
//! pointers.

use bpfcheck_btf::{Btf, BtfTypeId, Type};

use super::btf_walk::resolve_size;

/// Nesting bound: BTF cannot nest deeper than its type count, and the
/// kernel's walk loops the same way until it leaves the struct.
const MAX_STEPS: usize = 4096;

/// `btf_struct_ids_match` for types of the kernel's BTF.
pub(super) fn struct_ids_match(
    btf: &Btf<'_>,
    have: u32,
    off: i32,
    want: u32,
    strict: bool,
) -> bool {
    if off == 0 && have == want {
        return true;
    }
    if strict {
        return false;
    }
    let Ok(mut off) = u32::try_from(off) else {
        return false;
    };
    let mut id = have;
    for _ in 0..MAX_STEPS {
        match struct_at(btf, id, off) {
            Some(inner) if inner == want => return true,
            // Go on with the nested struct's own first member.
            Some(inner) => {
                id = inner;
                off = 0;
            }
            None => return false,
        }
    }
    false
}

/// `btf_struct_walk` of one byte at `off` inside struct `id`, stopping at
/// the first composite member that starts exactly at the offset reached
/// (`WALK_STRUCT`): its id, modifiers skipped. Anything else the byte
/// lands in (a number, a pointer, a hole, past the end) is `None`.
fn struct_at(btf: &Btf<'_>, id: u32, mut off: u32) -> Option<u32> {
    let mut t = btf.resolve(BtfTypeId(id)).ok()?;
    for _ in 0..MAX_STEPS {
        let (Type::Struct(c) | Type::Union(c)) = t else {
            return None;
        };
        if off + 1 > c.size() {
            // Only a trailing flexible array of structs reaches further.
            let last = c.member(c.len().checked_sub(1)?)?;
            let Ok(Type::Array(arr)) = btf.resolve(last.ty) else {
                return None;
            };
            let moff = last.bit_offset / 8;
            if arr.nelems() != 0 || off < moff {
                return None;
            }
            let elem = btf.resolve(arr.elem_type()).ok()?;
            let esize = elem.raw().size_or_type();
            if !matches!(elem, Type::Struct(_) | Type::Union(_)) || esize == 0 {
                return None;
            }
            off = (off - moff) % esize;
            t = elem;
            continue;
        }
        let mut next = None;
        for m in c.members() {
            let moff = m.bit_offset / 8;
            if off < moff {
                // Past the offset (bitfields included), or a hole.
                return None;
            }
            if m.bitfield_size != 0 {
                // A one-byte bitfield read is a number; else the next
                // member may hold the byte.
                let end_bit = m.bit_offset + u32::from(m.bitfield_size);
                if off == moff && end_bit.div_ceil(8) <= off + 1 {
                    return None;
                }
                continue;
            }
            let sized = resolve_size(btf, m.ty)?;
            let mtrue_end = moff + sized.size;
            if off >= mtrue_end {
                continue;
            }
            let (mut moff, mut mtype) = (moff, sized.ty);
            if matches!(sized.ty, Type::Array(_)) {
                if moff == mtrue_end {
                    continue;
                }
                let esize = sized.size / sized.nelems;
                moff += (off - moff) / esize * esize;
                mtype = sized.elem;
            }
            if !matches!(mtype, Type::Struct(_) | Type::Union(_)) {
                return None;
            }
            if off == moff {
                return Some(mtype.id().0);
            }
            next = Some((mtype, off - moff));
            break;
        }
        let (inner, rest) = next?;
        t = inner;
        off = rest;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfcheck_btf::BtfKind;

    fn id(btf: &Btf<'_>, name: &str) -> u32 {
        btf.find_by_name_kind(name, BtfKind::Struct).unwrap().id().0
    }

    #[test]
    fn first_members_and_nested_structs_match() {
        let p = bpfcheck_profile::KernelProfile::builtin("6.18").unwrap();
        let btf = p.btf.as_ref().unwrap().btf().unwrap();
        let (tcp, sock, common) = (id(btf, "tcp_sock"), id(btf, "sock"), id(btf, "sock_common"));
        let task = id(btf, "task_struct");
        assert!(struct_ids_match(btf, tcp, 0, tcp, true));
        assert!(!struct_ids_match(btf, tcp, 0, common, true));
        // tcp_sock -> inet_connection_sock -> inet_sock -> sock -> sock_common.
        assert!(struct_ids_match(btf, tcp, 0, common, false));
        assert!(struct_ids_match(btf, tcp, 0, sock, false));
        assert!(!struct_ids_match(btf, sock, 0, tcp, false));
        assert!(!struct_ids_match(btf, task, 0, common, false));
        assert!(!struct_ids_match(btf, tcp, -8, common, false));
        // A byte inside `sock_common` but not at a struct's start.
        assert!(!struct_ids_match(btf, sock, 1, common, false));
    }
}
