//! The [`Btf`] value: a checked header, an offset per type, lazy indexes.

use crate::error::{BtfErrorKind as K, Result, err};
use crate::header::{BTF_MAX_TYPE, BtfHeader, ByteOrder, Endian};
use crate::index::{DeclTagIndex, NameIndex};
use crate::strings::StringTable;
use crate::types::{BtfKind, BtfTypeId, RawType, Type};
use std::sync::{Arc, OnceLock};

/// The bytes behind a [`Btf`]: borrowed (zero-copy over a file or ELF
/// section) or shared (an embedded profile, a blob read at run time).
#[derive(Clone, Debug)]
enum Data<'a> {
    Borrowed(&'a [u8]),
    Shared(Arc<[u8]>),
}

impl Data<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Data::Borrowed(b) => b,
            Data::Shared(a) => a,
        }
    }
}

/// A parsed BTF blob, optionally split on top of a base.
///
/// Opening checks the header and string section and makes one pass over
/// the type section to record where each type starts (4 bytes per type);
/// nothing else is decoded until asked. Name and decl-tag indexes are
/// built on first use and cached inside the value. Full kernel-style
/// checks are in [`Btf::validate`].
#[derive(Debug)]
pub struct Btf<'a> {
    data: Data<'a>,
    header: BtfHeader,
    base: Option<Arc<Btf<'a>>>,
    /// First id owned by this blob (1, or the base's `end_id`).
    first_id: u32,
    /// First string offset owned by this blob (0, or the base's total).
    str_start: u32,
    /// Start of each own type, relative to the type section.
    offsets: Vec<u32>,
    pub(crate) names: OnceLock<NameIndex>,
    pub(crate) decl_tags: OnceLock<DeclTagIndex>,
}

impl<'a> Btf<'a> {
    /// Open a standalone (base) BTF blob without copying it.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        Self::open(Data::Borrowed(data), None)
    }

    /// Open a split BTF (e.g. a kernel module's) on top of `base`: its type
    /// ids start at `base.end_id()` and its string offsets at the base's
    /// total string length.
    pub fn parse_split(data: &'a [u8], base: Arc<Btf<'a>>) -> Result<Self> {
        Self::open(Data::Borrowed(data), Some(base))
    }

    fn open(data: Data<'a>, base: Option<Arc<Btf<'a>>>) -> Result<Self> {
        let bytes = data.bytes();
        let header = BtfHeader::parse(bytes)?;
        let sr = header.str_range();
        StringTable::new(&bytes[sr.clone()], sr.start, base.is_some())?;
        let (first_id, str_start) = match &base {
            Some(b) => (b.end_id().0, b.str_end()),
            None => (1, 0),
        };
        if u64::from(str_start) + sr.len() as u64 > u64::from(u32::MAX) {
            return Err(err(K::BadStringSection, "split string offsets overflow u32").at(sr.start));
        }
        let offsets = index_types(bytes, &header, first_id)?;
        Ok(Self {
            data,
            header,
            base,
            first_id,
            str_start,
            offsets,
            names: OnceLock::new(),
            decl_tags: OnceLock::new(),
        })
    }

    /// The header.
    pub fn header(&self) -> &BtfHeader {
        &self.header
    }

    /// Byte order of this blob.
    pub fn byte_order(&self) -> ByteOrder {
        self.header.order
    }

    /// The whole blob.
    pub fn bytes(&self) -> &[u8] {
        self.data.bytes()
    }

    /// The base BTF, for split BTF.
    pub fn base(&self) -> Option<&Btf<'a>> {
        self.base.as_deref()
    }

    /// The first type id this blob defines (1 for a base BTF).
    pub fn first_id(&self) -> BtfTypeId {
        BtfTypeId(self.first_id)
    }

    /// One past the last type id (libbpf's `btf__type_cnt`).
    pub fn end_id(&self) -> BtfTypeId {
        BtfTypeId(self.first_id + self.offsets.len() as u32)
    }

    /// Number of types this blob itself defines (not counting void or the base).
    pub fn own_type_count(&self) -> usize {
        self.offsets.len()
    }

    /// Ids this blob itself defines.
    pub fn own_ids(&self) -> impl ExactSizeIterator<Item = BtfTypeId> + use<> {
        let first = self.first_id;
        (0..self.offsets.len() as u32).map(move |i| BtfTypeId(first + i))
    }

    /// This blob's own string section.
    pub fn strings(&self) -> StringTable<'_> {
        let r = self.header.str_range();
        // Checked in `open`; rebuilt here because the bytes may be owned.
        StringTable::from_checked(&self.bytes()[r.clone()], r.start)
    }

    /// One past the last string offset, counting the base's strings.
    pub fn str_end(&self) -> u32 {
        self.str_start + self.header.str_len
    }

    /// The string at `off`, looking in the base for offsets below its end.
    pub fn str_at(&self, off: u32) -> Result<&str> {
        if off < self.str_start {
            return match &self.base {
                Some(b) => b.str_at(off),
                None => Err(err(
                    K::StringOffsetOutOfRange,
                    format!("string offset {off}"),
                )),
            };
        }
        self.strings().get(off - self.str_start)
    }

    /// The raw bytes of the string at `off` (names need not be UTF-8: the
    /// kernel accepts Latin-1 letters in identifiers).
    pub fn str_bytes_at(&self, off: u32) -> Result<&[u8]> {
        if off < self.str_start {
            return match &self.base {
                Some(b) => b.str_bytes_at(off),
                None => Err(err(
                    K::StringOffsetOutOfRange,
                    format!("string offset {off}"),
                )),
            };
        }
        self.strings().bytes_at(off - self.str_start)
    }

    /// Whether `off` addresses a string in this blob or its base.
    pub fn str_valid(&self, off: u32) -> bool {
        off < self.str_end()
    }

    /// The record of type `id` (id 0 is void).
    pub fn type_by_id(&self, id: BtfTypeId) -> Result<Type<'_>> {
        self.raw_by_id(id).map(Type::from_raw)
    }

    /// The common record of type `id`.
    pub fn raw_by_id(&self, id: BtfTypeId) -> Result<RawType<'_>> {
        if id.0 < self.first_id {
            return match (&self.base, id.0) {
                (_, 0) => Ok(self.void()),
                (Some(b), _) => b.raw_by_id(id).map(|r| r.rebind(self)),
                (None, _) => Err(err(K::TypeIdOutOfRange, format!("type id {id}"))),
            };
        }
        let idx = (id.0 - self.first_id) as usize;
        let Some(&off) = self.offsets.get(idx) else {
            return Err(err(
                K::TypeIdOutOfRange,
                format!("type id {id} >= end {}", self.end_id()),
            )
            .for_type(id));
        };
        Ok(self.decode_at(id, off as usize))
    }

    fn void(&self) -> RawType<'_> {
        RawType {
            btf: self.covariant(),
            id: BtfTypeId::VOID,
            kind: BtfKind::Void,
            name_off: 0,
            info: 0,
            size_or_type: 0,
            extra: &[],
            endian: Endian(self.header.order),
        }
    }

    fn covariant(&self) -> &Btf<'_> {
        self
    }

    /// Decode the record at `off` (relative to the type section), already
    /// bounds-checked by [`index_types`].
    fn decode_at(&self, id: BtfTypeId, off: usize) -> RawType<'_> {
        let types = &self.bytes()[self.header.type_range()];
        let e = Endian(self.header.order);
        let info = e.u32_or0(types, off + 4);
        let kind = BtfKind::from_u8(((info >> 24) & 0x1f) as u8).unwrap_or(BtfKind::Void);
        let start = off + 12;
        let end = start + kind.extra_len((info & 0xffff) as u16);
        RawType {
            btf: self.covariant(),
            id,
            kind,
            name_off: e.u32_or0(types, off),
            info,
            size_or_type: e.u32_or0(types, off + 8),
            extra: types.get(start..end).unwrap_or(&[]),
            endian: e,
        }
    }

    /// Absolute byte offset in the blob of own type `id`, for error locations.
    pub fn type_file_offset(&self, id: BtfTypeId) -> Option<usize> {
        let idx = id.0.checked_sub(self.first_id)? as usize;
        Some(self.header.type_range().start + *self.offsets.get(idx)? as usize)
    }

    /// Iterate over every type, base first, excluding void.
    pub fn iter(&self) -> impl Iterator<Item = Type<'_>> + '_ {
        (1..self.end_id().0).filter_map(move |i| self.type_by_id(BtfTypeId(i)).ok())
    }
}

impl<'b> RawType<'b> {
    /// A base record viewed through the split BTF, so that names resolve
    /// through the same object the caller holds.
    fn rebind(self, btf: &'b Btf<'b>) -> Self {
        Self { btf, ..self }
    }
}

impl Btf<'static> {
    /// Open a blob held in shared memory (an embedded profile, a file read
    /// at run time). The result owns a reference to the bytes.
    pub fn from_arc(data: Arc<[u8]>) -> Result<Self> {
        Self::open(Data::Shared(data), None)
    }

    /// Split BTF over shared bytes.
    pub fn from_arc_split(data: Arc<[u8]>, base: Arc<Btf<'static>>) -> Result<Self> {
        Self::open(Data::Shared(data), Some(base))
    }
}

/// The one linear pass of opening: record where each type starts and check
/// that every record and its trailing data fit in the type section.
fn index_types(bytes: &[u8], h: &BtfHeader, first_id: u32) -> Result<Vec<u32>> {
    let range = h.type_range();
    let types = &bytes[range.clone()];
    let e = Endian(h.order);
    let mut offsets = Vec::with_capacity(types.len() / 24);
    let mut off = 0usize;
    while off < types.len() {
        let id = BtfTypeId(first_id + offsets.len() as u32);
        let at = range.start + off;
        if id.0 > BTF_MAX_TYPE {
            return Err(err(
                K::TooManyTypes,
                format!("type id {id} exceeds BTF_MAX_TYPE"),
            )
            .at(at));
        }
        let Some(info) = e.u32(types, off + 4).filter(|_| off + 12 <= types.len()) else {
            return Err(err(
                K::TruncatedType,
                format!("{} bytes left, a type needs 12", types.len() - off),
            )
            .at(at)
            .for_type(id));
        };
        let raw_kind = ((info >> 24) & 0x1f) as u8;
        let kind = match BtfKind::from_u8(raw_kind) {
            Some(k) if k != BtfKind::Void => k,
            _ => {
                return Err(err(K::UnknownKind, format!("kind {raw_kind}"))
                    .at(at)
                    .for_type(id));
            }
        };
        let need = 12 + kind.extra_len((info & 0xffff) as u16);
        if types.len() - off < need {
            return Err(err(
                K::TruncatedType,
                format!(
                    "{kind} with vlen {} needs {need} bytes, {} left",
                    info & 0xffff,
                    types.len() - off
                ),
            )
            .at(at)
            .for_type(id));
        }
        offsets.push(off as u32);
        off += need;
    }
    Ok(offsets)
}
