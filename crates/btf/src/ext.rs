//! `.BTF.ext`: per-ELF-section func_info, line_info and CO-RE relocation
//! records, as clang emits them and libbpf reads them.
//!
//! Every info subsection is `u32 record_size` followed by blocks of
//! `{ u32 sec_name_off; u32 num_info; record[num_info] }`. Record sizes come
//! from the file so newer, longer records still parse (extra bytes ignored),
//! but must be at least the known size and a multiple of 4, as libbpf demands.
//! Instruction offsets here are in *bytes* from the section start.

use crate::error::{BtfErrorKind as K, Result, err};
use crate::header::{BTF_MAGIC, BTF_VERSION, ByteOrder, Endian, detect_order};
use crate::types::BtfTypeId;

/// Known size of a `.BTF.ext` header without CO-RE relocations.
pub const EXT_HEADER_MIN: usize = 24;
/// Known size of a `.BTF.ext` header with CO-RE relocations.
pub const EXT_HEADER_CORE: usize = 32;

/// The 13 `enum bpf_core_relo_kind` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
#[allow(missing_docs)] // named after the uapi constants
pub enum CoreReloKind {
    FieldByteOffset = 0,
    FieldByteSize = 1,
    FieldExists = 2,
    FieldSigned = 3,
    FieldLshiftU64 = 4,
    FieldRshiftU64 = 5,
    TypeIdLocal = 6,
    TypeIdTarget = 7,
    TypeExists = 8,
    TypeSize = 9,
    EnumvalExists = 10,
    EnumvalValue = 11,
    TypeMatches = 12,
}

impl CoreReloKind {
    /// From the raw value.
    pub fn from_u32(v: u32) -> Option<Self> {
        use CoreReloKind::*;
        Some(match v {
            0 => FieldByteOffset,
            1 => FieldByteSize,
            2 => FieldExists,
            3 => FieldSigned,
            4 => FieldLshiftU64,
            5 => FieldRshiftU64,
            6 => TypeIdLocal,
            7 => TypeIdTarget,
            8 => TypeExists,
            9 => TypeSize,
            10 => EnumvalExists,
            11 => EnumvalValue,
            12 => TypeMatches,
            _ => return None,
        })
    }

    /// libbpf's name (`byte_off`, `type_id_target`, …).
    pub fn name(self) -> &'static str {
        use CoreReloKind::*;
        match self {
            FieldByteOffset => "byte_off",
            FieldByteSize => "byte_sz",
            FieldExists => "field_exists",
            FieldSigned => "signed",
            FieldLshiftU64 => "lshift_u64",
            FieldRshiftU64 => "rshift_u64",
            TypeIdLocal => "local_type_id",
            TypeIdTarget => "target_type_id",
            TypeExists => "type_exists",
            TypeSize => "type_size",
            EnumvalExists => "enumval_exists",
            EnumvalValue => "enumval_value",
            TypeMatches => "type_matches",
        }
    }

    /// Field-based relocations (access string walks members/array indices).
    pub fn is_field_based(self) -> bool {
        (self as u32) <= 5
    }
    /// Type-based relocations (access string is `"0"`).
    pub fn is_type_based(self) -> bool {
        matches!(self as u32, 6..=9 | 12)
    }
    /// Enumerator-based relocations (access string is the enumerator index).
    pub fn is_enumval_based(self) -> bool {
        matches!(self, Self::EnumvalExists | Self::EnumvalValue)
    }
}

/// A `bpf_func_info` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncInfoRec {
    /// Byte offset of the function's first instruction in its ELF section.
    pub insn_off: u32,
    /// Its FUNC type.
    pub type_id: BtfTypeId,
}

/// A `bpf_line_info` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInfoRec {
    /// Byte offset of the instruction in its ELF section.
    pub insn_off: u32,
    /// File name string offset.
    pub file_name_off: u32,
    /// Source line string offset.
    pub line_off: u32,
    /// `line << 10 | column`.
    pub line_col: u32,
}

impl LineInfoRec {
    /// Source line number.
    pub fn line(&self) -> u32 {
        self.line_col >> 10
    }
    /// Source column.
    pub fn column(&self) -> u32 {
        self.line_col & 0x3ff
    }
}

/// A `bpf_core_relo` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreReloRec {
    /// Byte offset of the relocated instruction in its ELF section.
    pub insn_off: u32,
    /// Local (program BTF) root type.
    pub type_id: BtfTypeId,
    /// Access string offset (`"0:1:2"`).
    pub access_str_off: u32,
    /// Relocation kind.
    pub kind: CoreReloKind,
}

/// The records of one ELF section within one info subsection.
#[derive(Clone, Copy, Debug)]
pub struct ExtSection<'a> {
    /// ELF section name, as an offset into the `.BTF` strings.
    pub sec_name_off: u32,
    /// Number of records.
    pub num_info: u32,
    /// Size of each record (from the subsection header).
    pub rec_size: u32,
    /// Byte offset of the first record in the `.BTF.ext` blob.
    pub file_off: usize,
    data: &'a [u8],
    endian: Endian,
}

impl<'a> ExtSection<'a> {
    fn records(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let (data, sz) = (self.data, self.rec_size as usize);
        (0..self.num_info as usize).map(move |i| data.get(i * sz..(i + 1) * sz).unwrap_or(&[]))
    }

    fn word(&self, rec: &[u8], i: usize) -> u32 {
        self.endian.u32_or0(rec, i * 4)
    }

    /// Records as func_info.
    pub fn func_infos(&self) -> impl ExactSizeIterator<Item = FuncInfoRec> + 'a {
        let s = *self;
        self.records().map(move |r| FuncInfoRec {
            insn_off: s.word(r, 0),
            type_id: BtfTypeId(s.word(r, 1)),
        })
    }

    /// Records as line_info.
    pub fn line_infos(&self) -> impl ExactSizeIterator<Item = LineInfoRec> + 'a {
        let s = *self;
        self.records().map(move |r| LineInfoRec {
            insn_off: s.word(r, 0),
            file_name_off: s.word(r, 1),
            line_off: s.word(r, 2),
            line_col: s.word(r, 3),
        })
    }

    /// Records as CO-RE relocations. Kinds were checked when parsing.
    pub fn core_relos(&self) -> impl ExactSizeIterator<Item = CoreReloRec> + 'a {
        let s = *self;
        self.records().map(move |r| CoreReloRec {
            insn_off: s.word(r, 0),
            type_id: BtfTypeId(s.word(r, 1)),
            access_str_off: s.word(r, 2),
            kind: CoreReloKind::from_u32(s.word(r, 3)).unwrap_or(CoreReloKind::FieldByteOffset),
        })
    }
}

/// A parsed `.BTF.ext` blob.
#[derive(Clone, Debug)]
pub struct BtfExt<'a> {
    /// Byte order.
    pub order: ByteOrder,
    /// `hdr_len`.
    pub hdr_len: u32,
    /// func_info sections.
    pub func_info: Vec<ExtSection<'a>>,
    /// line_info sections.
    pub line_info: Vec<ExtSection<'a>>,
    /// core_relo sections (empty if the header has none).
    pub core_relo: Vec<ExtSection<'a>>,
}

impl<'a> BtfExt<'a> {
    /// Parse and check the header and every subsection.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let order = detect_order(data, BTF_MAGIC)?;
        let e = Endian(order);
        if data.len() < EXT_HEADER_MIN {
            return Err(err(
                K::TruncatedHeader,
                format!(".BTF.ext has {} bytes", data.len()),
            )
            .at(0));
        }
        if data[2] != BTF_VERSION {
            return Err(err(K::UnsupportedVersion, format!("version {}", data[2])).at(2));
        }
        if data[3] != 0 {
            return Err(err(K::UnsupportedHeader, format!("flags {:#x}", data[3])).at(3));
        }
        let hdr_len = e.u32_or0(data, 4);
        if (hdr_len as usize) < EXT_HEADER_MIN || hdr_len as usize > data.len() {
            return Err(err(K::TruncatedHeader, format!("hdr_len {hdr_len}")).at(4));
        }
        let sub = |field: usize, min_rec: u32, kind: bool| -> Result<Vec<ExtSection<'a>>> {
            let off = e.u32_or0(data, field);
            let len = e.u32_or0(data, field + 4);
            parse_subsection(data, e, hdr_len as usize, off, len, min_rec, kind, field)
        };
        let func_info = sub(8, 8, false)?;
        let line_info = sub(16, 16, false)?;
        let core_relo = if hdr_len as usize >= EXT_HEADER_CORE {
            sub(24, 16, true)?
        } else {
            Vec::new()
        };
        Ok(Self {
            order,
            hdr_len,
            func_info,
            line_info,
            core_relo,
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn parse_subsection<'a>(
    data: &'a [u8],
    e: Endian,
    hdr_len: usize,
    off: u32,
    len: u32,
    min_rec: u32,
    core: bool,
    field: usize,
) -> Result<Vec<ExtSection<'a>>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let start = hdr_len as u64 + u64::from(off);
    let end = start + u64::from(len);
    if end > data.len() as u64 {
        return Err(err(
            K::BadSectionLayout,
            format!("subsection [{start}, {end}) past {} bytes", data.len()),
        )
        .at(field));
    }
    let (start, end) = (start as usize, end as usize);
    if start % 4 != 0 {
        return Err(err(K::BadSectionLayout, "subsection not 4-byte aligned").at(field));
    }
    let Some(rec_size) = e.u32(data, start).filter(|_| start + 4 <= end) else {
        return Err(err(K::TruncatedSection, "no record size").at(start));
    };
    if rec_size < min_rec || rec_size % 4 != 0 {
        return Err(err(
            K::BadRecordSize,
            format!("record size {rec_size}, need >= {min_rec} and a multiple of 4"),
        )
        .at(start));
    }
    let mut pos = start + 4;
    let mut out = Vec::new();
    while pos < end {
        let (Some(name), Some(num)) = (e.u32(data, pos), e.u32(data, pos + 4)) else {
            return Err(err(
                K::TruncatedSection,
                "section header runs past the subsection",
            )
            .at(pos));
        };
        if pos + 8 > end {
            return Err(err(
                K::TruncatedSection,
                "section header runs past the subsection",
            )
            .at(pos));
        }
        if num == 0 {
            return Err(err(K::TruncatedSection, "section has no records").at(pos));
        }
        let bytes = u64::from(num) * u64::from(rec_size);
        let rstart = pos + 8;
        if bytes > (end - rstart) as u64 {
            return Err(err(
                K::TruncatedSection,
                format!("{num} records of {rec_size} bytes overrun the subsection"),
            )
            .at(pos));
        }
        let rend = rstart + bytes as usize;
        let sec = ExtSection {
            sec_name_off: name,
            num_info: num,
            rec_size,
            file_off: rstart,
            data: &data[rstart..rend],
            endian: e,
        };
        if core {
            for (i, r) in sec.records().enumerate() {
                let k = e.u32_or0(r, 12);
                if CoreReloKind::from_u32(k).is_none() {
                    return Err(err(K::UnknownCoreReloKind, format!("relocation kind {k}"))
                        .at(rstart + i * rec_size as usize + 12));
                }
            }
        }
        out.push(sec);
        pos = rend;
    }
    Ok(out)
}

/// Writes a `.BTF.ext` blob (for tests and for re-emitting adjusted info).
#[derive(Clone, Debug, Default)]
pub struct BtfExtBuilder {
    func: Vec<(u32, Vec<FuncInfoRec>)>,
    line: Vec<(u32, Vec<LineInfoRec>)>,
    core: Vec<(u32, Vec<CoreReloRec>)>,
}

impl BtfExtBuilder {
    /// Add func_info records for the ELF section named by `sec_name_off`.
    pub fn func_info(&mut self, sec_name_off: u32, recs: Vec<FuncInfoRec>) -> &mut Self {
        self.func.push((sec_name_off, recs));
        self
    }
    /// Add line_info records.
    pub fn line_info(&mut self, sec_name_off: u32, recs: Vec<LineInfoRec>) -> &mut Self {
        self.line.push((sec_name_off, recs));
        self
    }
    /// Add CO-RE relocation records.
    pub fn core_relo(&mut self, sec_name_off: u32, recs: Vec<CoreReloRec>) -> &mut Self {
        self.core.push((sec_name_off, recs));
        self
    }

    /// Serialize with the 32-byte header (CO-RE capable).
    pub fn to_bytes(&self, order: ByteOrder) -> Vec<u8> {
        let e = Endian(order);
        fn sub<T>(
            e: Endian,
            rec: u32,
            secs: &[(u32, Vec<T>)],
            words: impl Fn(&T) -> Vec<u32>,
        ) -> Vec<u8> {
            let mut out = Vec::new();
            if secs.is_empty() {
                return out;
            }
            e.put_u32(&mut out, rec);
            for (name, recs) in secs {
                e.put_u32(&mut out, *name);
                e.put_u32(&mut out, recs.len() as u32);
                for r in recs {
                    for w in words(r) {
                        e.put_u32(&mut out, w);
                    }
                }
            }
            out
        }
        let f = sub(e, 8, &self.func, |r| vec![r.insn_off, r.type_id.0]);
        let l = sub(e, 16, &self.line, |r| {
            vec![r.insn_off, r.file_name_off, r.line_off, r.line_col]
        });
        let c = sub(e, 16, &self.core, |r| {
            vec![r.insn_off, r.type_id.0, r.access_str_off, r.kind as u32]
        });
        let mut out = Vec::new();
        e.put_u16(&mut out, BTF_MAGIC);
        out.push(BTF_VERSION);
        out.push(0);
        let (fl, ll, cl) = (f.len() as u32, l.len() as u32, c.len() as u32);
        for v in [EXT_HEADER_CORE as u32, 0, fl, fl, ll, fl + ll, cl] {
            e.put_u32(&mut out, v);
        }
        out.extend(f);
        out.extend(l);
        out.extend(c);
        out
    }
}
