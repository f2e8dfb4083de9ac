//! `btf_struct_ids_match`: whether a BTF pointer to struct `have`, at
//! fixed offset `off`, may stand for a pointer to struct `want`. Either
//! the types are the same at offset 0, or (unless `strict`) walking
//! `have` one byte at `off` lands at the start of a nested struct that
//! is `want`, or whose own first nested struct is, and so on
//! (`btf_struct_walk` with size 1, trailing flexible arrays walked as for
//! kernel types). A
//! `struct bpf_cpumask *` thus matches `struct cpumask *`.
//!
//! Only the kernel's BTF is involved: the types are the same when their
//! ids are.

use bpfcheck_btf::{Btf, BtfTypeId, Type};

/// `MAX_RESOLVE_DEPTH`.
const MAX_RESOLVE_DEPTH: usize = 32;

/// Where a one-byte walk at an offset of a struct ends.
enum Step {
    /// At the start of a nested struct or union (`WALK_STRUCT`): its id.
    Nested(u32),
    /// In a number, or at a place no nested struct starts.
    Elsewhere,
    /// Where the kernel's walk logs a line and fails (a hole, a pointer
    /// member, past the end): not modelled here.
    Logged,
}

/// A member's size and, for an array, its innermost element type and
/// element count (`__btf_resolve_size`).
fn member_size<'b>(btf: &'b Btf<'_>, id: BtfTypeId) -> Option<(u32, Type<'b>, u32)> {
    let mut t = btf.type_by_id(id).ok()?;
    let mut nelems: u32 = 1;
    let mut array = false;
    for _ in 0..MAX_RESOLVE_DEPTH {
        match t {
            Type::Typedef(r)
            | Type::Volatile(r)
            | Type::Const(r)
            | Type::Restrict(r)
            | Type::TypeTag(r) => t = btf.type_by_id(r.target()).ok()?,
            Type::Array(a) => {
                array = true;
                nelems = nelems.checked_mul(a.nelems())?;
                t = btf.type_by_id(a.elem_type()).ok()?;
            }
            Type::Ptr(_) => return Some((nelems.checked_mul(8)?, t, nelems)),
            Type::Int(_)
            | Type::Struct(_)
            | Type::Union(_)
            | Type::Enum(_)
            | Type::Enum64(_)
            | Type::Float(_) => {
                let size = nelems.checked_mul(t.raw().size_or_type())?;
                return Some((size, t, if array { nelems } else { 1 }));
            }
            _ => return None,
        }
    }
    None
}

/// `btf_struct_walk` of one byte at `off` in the struct `id`.
fn walk_one(btf: &Btf<'_>, id: u32, off: u32) -> Step {
    let Ok(mut t) = btf.resolve(BtfTypeId(id)) else {
        return Step::Logged;
    };
    let mut off = off;
    for _ in 0..4096 {
        let (Type::Struct(c) | Type::Union(c)) = t else {
            return Step::Logged;
        };
        if off + 1 > c.size() {
            // Only a trailing flexible array reaches further (kernel types
            // walk them): of numbers a scalar, of structs the element.
            let Some(last) = c.len().checked_sub(1).and_then(|i| c.member(i)) else {
                return Step::Logged;
            };
            let Ok(Type::Array(arr)) = btf.resolve(last.ty) else {
                return Step::Logged;
            };
            let moff = last.bit_offset / 8;
            if arr.nelems() != 0 || off < moff {
                return Step::Logged;
            }
            let Ok(elem) = btf.resolve(arr.elem_type()) else {
                return Step::Logged;
            };
            let esize = elem.raw().size_or_type();
            match elem {
                Type::Int(_) => return Step::Elsewhere,
                Type::Struct(_) | Type::Union(_) if esize != 0 => {
                    off = (off - moff) % esize;
                    t = elem;
                    continue;
                }
                _ => return Step::Logged,
            }
        }
        let mut inner = None;
        for m in c.members() {
            let moff = m.bit_offset / 8;
            if off < moff {
                return Step::Logged;
            }
            if m.bitfield_size != 0 {
                let end_bit = m.bit_offset + u32::from(m.bitfield_size);
                if off <= moff && end_bit.div_ceil(8) <= off + 1 {
                    return Step::Elsewhere;
                }
                continue;
            }
            let Some((size, elem, nelems)) = member_size(btf, m.ty) else {
                return Step::Logged;
            };
            let end = moff + size;
            if off >= end {
                continue;
            }
            let mut start = moff;
            if matches!(btf.resolve(m.ty), Ok(Type::Array(_))) {
                if size == 0 || nelems == 0 {
                    continue;
                }
                let esize = size / nelems;
                start += (off - moff) / esize * esize;
            }
            match elem {
                Type::Struct(_) | Type::Union(_) => {
                    if off == start {
                        return Step::Nested(elem.id().0);
                    }
                    inner = Some((elem, off - start));
                    break;
                }
                // A pointer is 8 bytes: a one-byte access is refused.
                Type::Ptr(_) => return Step::Logged,
                _ => return Step::Elsewhere,
            }
        }
        match inner {
            Some((nested, rest)) => {
                t = nested;
                off = rest;
            }
            None => return Step::Logged,
        }
    }
    Step::Logged
}

/// `btf_struct_ids_match`, or `None` where the kernel's walk would log a
/// line (the caller answers `unsupported` there).
pub(super) fn ids_match(
    btf: &Btf<'_>,
    have: u32,
    off: i32,
    want: u32,
    strict: bool,
) -> Option<bool> {
    if off == 0 && have == want {
        return Some(true);
    }
    if strict {
        return Some(false);
    }
    let Ok(mut off) = u32::try_from(off) else {
        return None;
    };
    let mut id = have;
    for _ in 0..MAX_RESOLVE_DEPTH * 64 {
        match walk_one(btf, id, off) {
            Step::Nested(n) if n == want => return Some(true),
            Step::Nested(n) => {
                id = n;
                off = 0;
            }
            Step::Elsewhere => return Some(false),
            Step::Logged => return None,
        }
    }
    None
}

/// `btf_struct_ids_match` (a case the kernel logs counts as no match, so
/// the verdict is the kernel's; its log line is not written): the
/// interface of the helpers' BTF arguments.
pub(super) fn struct_ids_match(
    btf: &Btf<'_>,
    have: u32,
    off: i32,
    want: u32,
    strict: bool,
) -> bool {
    ids_match(btf, have, off, want, strict) == Some(true)
}

/// `btf_is_projection_of`: a kfunc taking the program's view of a context
/// accepts the kernel's struct behind it.
pub(super) fn is_projection_of(pname: &str, tname: &str) -> bool {
    matches!(
        (pname, tname),
        ("__sk_buff", "sk_buff") | ("xdp_md", "xdp_buff")
    )
}

/// `btf_type_ids_nocast_alias`: one name is the other with `___init`
/// appended (`nf_conn___init` and `nf_conn`), which no walk may convert.
pub(super) fn nocast_alias(reg_name: &str, arg_name: &str) -> bool {
    const SUFFIX: &str = "___init";
    let (short, long) = if reg_name.len() < arg_name.len() {
        (reg_name, arg_name)
    } else {
        (arg_name, reg_name)
    };
    if long.len() != short.len() + SUFFIX.len() {
        return false;
    }
    // The kernel compares the prefix and finds the suffix anywhere.
    long.starts_with(short) && long.contains(SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfcheck_profile::KernelProfile;

    fn with_btf(f: impl FnOnce(&Btf<'_>)) {
        let profile = KernelProfile::builtin("6.18").unwrap();
        let btf = profile.btf.as_ref().unwrap().btf().unwrap();
        f(btf);
    }

    fn struct_id(btf: &Btf<'_>, name: &str) -> u32 {
        btf.find_by_name_kind(name, bpfcheck_btf::BtfKind::Struct)
            .unwrap()
            .id()
            .0
    }

    #[test]
    fn first_members_match_unless_strict() {
        with_btf(|btf| {
            let bpf_cpumask = struct_id(btf, "bpf_cpumask");
            let cpumask = struct_id(btf, "cpumask");
            let task = struct_id(btf, "task_struct");
            assert!(struct_ids_match(btf, cpumask, 0, cpumask, true));
            assert!(struct_ids_match(btf, bpf_cpumask, 0, cpumask, false));
            assert!(!struct_ids_match(btf, bpf_cpumask, 0, cpumask, true));
            assert!(!struct_ids_match(btf, task, 0, cpumask, false));
        });
    }

    #[test]
    fn nested_first_members_and_offsets() {
        with_btf(|btf| {
            let tcp = struct_id(btf, "tcp_sock");
            let sk = struct_id(btf, "sock");
            let common = struct_id(btf, "sock_common");
            assert!(struct_ids_match(btf, tcp, 0, sk, false));
            assert!(struct_ids_match(btf, tcp, 0, common, false));
            assert!(!struct_ids_match(btf, tcp, 8, common, false));
            assert!(!struct_ids_match(btf, tcp, -8, common, false));
        });
    }

    #[test]
    fn numbers_do_not_match() {
        with_btf(|btf| {
            // `struct prog_test_ref_kfunc { int a; int b; struct
            // prog_test_member memb; … }`.
            let (outer, memb) = (
                struct_id(btf, "prog_test_ref_kfunc"),
                struct_id(btf, "prog_test_member"),
            );
            assert_eq!(ids_match(btf, outer, 0, outer, false), Some(true));
            assert_eq!(ids_match(btf, outer, 8, memb, false), Some(true));
            assert_eq!(ids_match(btf, outer, 4, outer, false), Some(false));
            assert_eq!(ids_match(btf, outer, 0, memb, false), Some(false));
        });
    }

    #[test]
    fn names() {
        assert!(nocast_alias("nf_conn___init", "nf_conn"));
        assert!(nocast_alias("nf_conn", "nf_conn___init"));
        assert!(!nocast_alias("nf_conn", "nf_conn"));
        assert!(is_projection_of("__sk_buff", "sk_buff"));
        assert!(!is_projection_of("sk_buff", "__sk_buff"));
    }
}
