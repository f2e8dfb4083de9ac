//! Fuzz target bodies for BTF, `.BTF.ext` and CO-RE resolution.

use bpfcheck_btf::{
    Btf, BtfTypeId,
    core::{patch_insn, resolve},
    ext::{BtfExt, CoreReloKind, CoreReloRec},
};
use bpfcheck_uapi::RawInsn;

/// Caps the work per input so a large type count cannot make a slow unit.
const MAX_IDS: u32 = 512;

fn ids(btf: &Btf<'_>) -> impl Iterator<Item = BtfTypeId> {
    (btf.first_id().0..btf.end_id().0.min(btf.first_id().0 + MAX_IDS)).map(BtfTypeId)
}

/// BTF parsing, validation and every query on every type.
pub fn btf(data: &[u8]) {
    let Ok(btf) = Btf::parse(data) else { return };
    let _ = btf.validate();
    for id in ids(&btf) {
        if let Ok(t) = btf.type_by_id(id) {
            let _ = t.name();
        }
        let _ = btf.resolve(id);
        let _ = btf.size_of(id);
        let _ = btf.align_of(id);
        let _ = btf.type_to_string(id);
        let _ = btf.member_by_name(id, "x");
        let _ = btf.member_at_offset(id, 4);
        let _ = btf.decl_tags_of(id);
    }
    let _ = btf.find_by_name("x");
    let _ = btf.kfuncs();
}

/// `.BTF.ext` parsing and every record.
pub fn btf_ext(data: &[u8]) {
    let Ok(ext) = BtfExt::parse(data) else { return };
    for s in &ext.func_info {
        let _ = s.func_infos().count();
    }
    for s in &ext.line_info {
        let _ = s.line_infos().count();
    }
    for s in &ext.core_relo {
        let _ = s.core_relos().count();
    }
}

/// CO-RE: the input's first byte splits it into a local and a target BTF;
/// every relocation kind is resolved for the first types and access
/// strings, and the results are patched into a small instruction window.
pub fn core(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let cut = (usize::from(split) * rest.len() / 255).min(rest.len());
    let (a, b) = rest.split_at(cut);
    let (Ok(local), Ok(target)) = (Btf::parse(a), Btf::parse(b)) else {
        return;
    };
    let mut insns = [
        RawInsn::new(0x79, 1, 2, 0, 0),
        RawInsn::new(0xb7, 1, 0, 0, 0),
        RawInsn::new(0x18, 1, 0, 0, 0),
        RawInsn::new(0, 0, 0, 0, 0),
    ];
    for id in ids(&local).take(32) {
        for kind in 0..13 {
            let Some(kind) = CoreReloKind::from_u32(kind) else {
                continue;
            };
            for access_str_off in [0, 1, 2, 4] {
                let relo = CoreReloRec {
                    insn_off: 0,
                    type_id: id,
                    access_str_off,
                    kind,
                };
                let r = resolve(&local, &target, &relo);
                if let Ok(v) = &r.result {
                    for at in 0..insns.len() {
                        let _ = patch_insn(&mut insns, at, v);
                    }
                }
            }
        }
    }
}
