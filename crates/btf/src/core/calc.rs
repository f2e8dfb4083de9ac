//! The value a relocation asks for, computed from one spec (libbpf's
//! `bpf_core_calc_{field,type,enumval}_relo`). `None` for the spec means
//! "no target matched": existence checks then read 0, other field and
//! enumerator relocations ask for the instruction to be poisoned.

use crate::Btf;
use crate::core::{CoreError, CoreSpec};
use crate::ext::CoreReloKind as K;
use crate::header::ByteOrder;
use crate::types::{BtfTypeId, Type};

/// One side's value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SideValue {
    pub(crate) val: u64,
    /// Size of the accessed field for load/store size adjustment (0 when
    /// not applicable: bitfields, non-offset kinds).
    pub(crate) mem_size: u32,
    /// The field's type (modifiers skipped), for the size-adjustment test.
    pub(crate) type_id: BtfTypeId,
    /// Whether the instruction must already hold this value.
    pub(crate) validate: bool,
}

/// Result of one side: a value, or a request to poison.
pub(crate) enum Side {
    Value(SideValue),
    Poison,
}

fn size(btf: &Btf<'_>, id: BtfTypeId) -> Result<u32, CoreError> {
    btf.size_of(id).map_err(|e| CoreError::Size(e.to_string()))
}

/// Field-based kinds.
pub(crate) fn field(
    kind: K,
    btf: &Btf<'_>,
    spec: Option<&CoreSpec>,
    order: ByteOrder,
) -> Result<Side, CoreError> {
    let mut out = SideValue {
        validate: true,
        ..SideValue::default()
    };
    if kind == K::FieldExists {
        out.val = u64::from(spec.is_some());
        return Ok(Side::Value(out));
    }
    let Some(spec) = spec else {
        return Ok(Side::Poison);
    };
    let Some(acc) = spec.accessors.last() else {
        return Err(CoreError::Size("empty field spec".into()));
    };
    if acc.name.is_none() {
        // The spec ends in an array element (or the root itself).
        match kind {
            K::FieldByteOffset => {
                out.val = spec.bit_offset / 8;
                out.mem_size = size(btf, acc.type_id)?;
                out.type_id = acc.type_id;
            }
            K::FieldByteSize => out.val = u64::from(size(btf, acc.type_id)?),
            _ => return Err(CoreError::ArrayAccess(kind)),
        }
        return Ok(Side::Value(out));
    }
    let parent = btf
        .composite(acc.type_id)
        .map_err(|e| CoreError::Size(e.to_string()))?;
    let m = parent
        .member(acc.idx as usize)
        .ok_or_else(|| CoreError::Size(format!("member {} of {}", acc.idx, acc.type_id)))?;
    let mt = btf
        .resolve(m.ty)
        .map_err(|e| CoreError::Size(e.to_string()))?;
    let bit_off = spec.bit_offset;
    let bitfield = m.bitfield_size > 0;
    let (byte_off, byte_sz, bit_sz) = if bitfield {
        let bit_sz = u64::from(m.bitfield_size);
        // The storage unit: the member type's size, doubled until one
        // aligned load of that size covers every bit of the field.
        let mut byte_sz = u64::from(mt.raw().size_or_type());
        if byte_sz == 0 {
            return Err(CoreError::Size(format!(
                "bitfield `{}` has a zero-sized type",
                acc.name.as_deref().unwrap_or("")
            )));
        }
        let mut byte_off = bit_off / 8 / byte_sz * byte_sz;
        while bit_off + bit_sz - byte_off * 8 > byte_sz * 8 {
            if byte_sz >= 8 {
                return Err(CoreError::BitfieldTooWide);
            }
            byte_sz *= 2;
            byte_off = bit_off / 8 / byte_sz * byte_sz;
        }
        (byte_off, byte_sz, bit_sz)
    } else {
        let sz = u64::from(size(btf, mt.id())?);
        (bit_off / 8, sz, sz * 8)
    };
    // Offsets and sizes of bitfields may legitimately differ from what the
    // compiler wrote; only signedness and the right shift are certain.
    out.validate = !bitfield;
    match kind {
        K::FieldByteOffset => {
            out.val = byte_off;
            if !bitfield {
                out.mem_size = byte_sz as u32;
                out.type_id = mt.id();
            }
        }
        K::FieldByteSize => out.val = byte_sz,
        K::FieldSigned => {
            out.val = u64::from(match &mt {
                Type::Enum(e) | Type::Enum64(e) => e.is_signed(),
                Type::Int(i) => (i.raw_data() >> 24) & 1 != 0,
                _ => false,
            });
            out.validate = true;
        }
        K::FieldLshiftU64 => {
            out.val = match order {
                // Wrapping, as libbpf's u64 arithmetic does for fields
                // wider than 8 bytes (the value is then meaningless anyway).
                ByteOrder::Little => 64u64.wrapping_sub(bit_off + bit_sz - byte_off * 8),
                ByteOrder::Big => (8u64.wrapping_sub(byte_sz))
                    .wrapping_mul(8)
                    .wrapping_add(bit_off - byte_off * 8),
            };
        }
        K::FieldRshiftU64 => {
            out.val = 64u64.wrapping_sub(bit_sz);
            out.validate = true;
        }
        _ => return Err(CoreError::Unsupported(kind)),
    }
    Ok(Side::Value(out))
}

/// Type-based kinds other than `TYPE_ID_LOCAL`.
pub(crate) fn ty(kind: K, btf: &Btf<'_>, spec: Option<&CoreSpec>) -> Result<Side, CoreError> {
    let mut out = SideValue {
        validate: true,
        ..SideValue::default()
    };
    let Some(spec) = spec else {
        return Ok(Side::Value(out));
    };
    match kind {
        K::TypeIdTarget => {
            out.val = u64::from(spec.root_type_id.0);
            // Type ids move when objects are linked: never checked.
            out.validate = false;
        }
        K::TypeExists | K::TypeMatches => out.val = 1,
        K::TypeSize => out.val = u64::from(size(btf, spec.root_type_id)?),
        _ => return Err(CoreError::Unsupported(kind)),
    }
    Ok(Side::Value(out))
}

/// Enumerator-based kinds.
pub(crate) fn enumval(kind: K, btf: &Btf<'_>, spec: Option<&CoreSpec>) -> Result<Side, CoreError> {
    let mut out = SideValue {
        validate: true,
        ..SideValue::default()
    };
    match kind {
        K::EnumvalExists => out.val = u64::from(spec.is_some()),
        K::EnumvalValue => {
            let Some(acc) = spec.and_then(|s| s.accessors.first()) else {
                return Ok(Side::Poison);
            };
            let t = btf
                .type_by_id(acc.type_id)
                .map_err(|e| CoreError::Size(e.to_string()))?;
            let e = t
                .as_enum()
                .ok_or_else(|| CoreError::Size(format!("{} is not an enum", acc.type_id)))?;
            let v = e
                .value(acc.idx as usize)
                .ok_or_else(|| CoreError::Size(format!("enumerator {}", acc.idx)))?;
            // libbpf reads a 32-bit enumerator as `s32`, so it widens with
            // its sign whatever the enum's signedness.
            out.val = if e.is_64() {
                v.raw
            } else {
                i64::from(v.raw as u32 as i32) as u64
            };
        }
        _ => return Err(CoreError::Unsupported(kind)),
    }
    Ok(Side::Value(out))
}
