//! Flavoured names and the candidate search.
//!
//! CO-RE ignores a `___suffix` ("flavour") on type, enumerator and (for
//! `TYPE_MATCHES`) member names, so that a program can carry several local
//! variants of one kernel type: `task_struct___old` is matched against the
//! kernel's `task_struct`.

use crate::Btf;
use crate::core::compat::kinds_compat;
use crate::types::{BtfKind, BtfTypeId};

/// The name up to its last flavour separator: `X___Y` where neither the
/// character before nor the one after the three underscores is an
/// underscore (libbpf's `bpf_core_essential_name_len`).
pub fn essential_name(name: &str) -> &str {
    let b = name.as_bytes();
    // A separator needs one byte before and one after the `___`.
    for i in (0..b.len().saturating_sub(4)).rev() {
        if b[i] != b'_' && &b[i + 1..i + 4] == b"___" && b[i + 4] != b'_' {
            return &name[..=i];
        }
    }
    name
}

/// Names compare equal modulo flavours; an anonymous target name only
/// matches an anonymous local one (libbpf's `bpf_core_names_match`).
pub(crate) fn names_match(local: &str, targ: &str) -> bool {
    if targ.is_empty() {
        return local.is_empty();
    }
    essential_name(local) == essential_name(targ)
}

/// Every target type that is a candidate for local type `local_id`:
/// kinds compatible (ENUM and ENUM64 count as one), named, with the same
/// essential name. In id order, as libbpf's linear scan finds them.
pub fn find_candidates(
    local: &Btf<'_>,
    local_id: BtfTypeId,
    target: &Btf<'_>,
) -> Vec<(BtfTypeId, BtfKind)> {
    let Ok(lt) = local.type_by_id(local_id) else {
        return Vec::new();
    };
    let want = essential_name(lt.name().unwrap_or(""));
    if want.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for id in 1..target.end_id().0 {
        let Ok(raw) = target.raw_by_id(BtfTypeId(id)) else {
            continue;
        };
        if !kinds_compat(raw.kind(), lt.kind()) || raw.name_off() == 0 {
            continue;
        }
        // Compare bytes first: most names differ in their first bytes.
        let Ok(bytes) = target.str_bytes_at(raw.name_off()) else {
            continue;
        };
        if bytes.len() < want.len() || &bytes[..want.len()] != want.as_bytes() {
            continue;
        }
        let Ok(name) = std::str::from_utf8(bytes) else {
            continue;
        };
        if essential_name(name) == want {
            out.push((BtfTypeId(id), raw.kind()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavours() {
        assert_eq!(essential_name("task_struct___old"), "task_struct");
        assert_eq!(essential_name("a___b___c"), "a___b");
        assert_eq!(essential_name("task_struct"), "task_struct");
        assert_eq!(essential_name("x____y"), "x____y");
        assert_eq!(essential_name("x___"), "x___");
        assert_eq!(essential_name("___x"), "___x");
        assert_eq!(essential_name("_a___b"), "_a");
        assert_eq!(essential_name(""), "");
        assert!(names_match("pid___v2", "pid"));
        assert!(!names_match("pid", ""));
        assert!(names_match("", ""));
    }
}
