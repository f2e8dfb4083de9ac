//! Structured errors: a stable [`BtfErrorKind`] plus where it happened.

use crate::types::BtfTypeId;
use std::fmt;

/// What is wrong, as a stable code that callers may match on and that
/// JSON/SARIF reports may print. The free-text detail of a [`BtfError`] is
/// for humans and may change; these variants do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BtfErrorKind {
    /// Fewer bytes than a header (BTF or .BTF.ext) needs.
    TruncatedHeader,
    /// The magic is neither `0xeB9F` nor its byte swap.
    BadMagic,
    /// The version byte is not 1.
    UnsupportedVersion,
    /// Header flags are non-zero, or bytes past the known header are non-zero.
    UnsupportedHeader,
    /// Section offsets/lengths point outside the blob, overlap or leave gaps.
    BadSectionLayout,
    /// The string section is empty, too long, not NUL-terminated or does
    /// not start with the empty string.
    BadStringSection,
    /// A string offset lies outside the string section(s).
    StringOffsetOutOfRange,
    /// A string is not valid UTF-8.
    InvalidUtf8,
    /// A name is empty where required, present where forbidden, or not a
    /// valid identifier/section name.
    InvalidName,
    /// A type record, or its trailing data, runs past the type section.
    TruncatedType,
    /// The kind field is 0 (reserved for void) or beyond `ENUM64`.
    UnknownKind,
    /// Reserved bits of the `info` word are set.
    BadInfo,
    /// The vlen field is not allowed for this kind.
    BadVlen,
    /// The kind_flag bit is set on a kind that does not define it.
    BadKindFlag,
    /// A type id refers past the last type (or is void where not allowed).
    TypeIdOutOfRange,
    /// The referenced type has a kind not allowed in this position.
    BadReferencedKind,
    /// A size field is invalid for the kind (int width, enum size, …).
    BadSize,
    /// An INT encoding or bit layout is invalid.
    BadIntEncoding,
    /// A member or datasec entry offset is invalid.
    BadOffset,
    /// A linkage value is not supported.
    BadLinkage,
    /// A decl tag's component index does not match its target.
    BadComponentIndex,
    /// Following a chain of references revisits a type.
    Loop,
    /// Resolving needs more than the kernel's nesting depth (32).
    DepthExceeded,
    /// The type has no size (void, func, fwd, …) where one is needed.
    NotSized,
    /// A computed size overflows `u32`.
    SizeOverflow,
    /// More types than BTF can address (`BTF_MAX_TYPE`).
    TooManyTypes,
    /// A `.BTF.ext` record size is smaller than the record it describes.
    BadRecordSize,
    /// A `.BTF.ext` section runs past its subsection.
    TruncatedSection,
    /// A CO-RE relocation kind outside the 13 known kinds.
    UnknownCoreReloKind,
    /// A CO-RE access string is malformed or does not match the type.
    BadAccessString,
    /// A lookup found nothing (a name, a member, …).
    NotFound,
    /// The BTF being built is inconsistent (builder misuse).
    Builder,
}

/// An error with its location: a byte offset into the blob being parsed
/// and/or the type id concerned, plus a short human-readable detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtfError {
    kind: BtfErrorKind,
    type_id: Option<BtfTypeId>,
    offset: Option<usize>,
    detail: String,
}

impl BtfError {
    /// A new error without a location.
    #[cold]
    pub fn new(kind: BtfErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            type_id: None,
            offset: None,
            detail: detail.into(),
        }
    }

    /// Attach the byte offset (from the start of the blob) of the offending data.
    #[must_use]
    pub fn at(mut self, offset: usize) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Attach the type id the error is about.
    #[must_use]
    pub fn for_type(mut self, id: BtfTypeId) -> Self {
        self.type_id = Some(id);
        self
    }

    /// The stable error code.
    pub fn kind(&self) -> BtfErrorKind {
        self.kind
    }

    /// The type the error is about, if known.
    pub fn type_id(&self) -> Option<BtfTypeId> {
        self.type_id
    }

    /// Byte offset into the blob of the offending data, if known.
    pub fn offset(&self) -> Option<usize> {
        self.offset
    }

    /// The human-readable detail.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for BtfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.kind)?;
        if let Some(id) = self.type_id {
            write!(f, " in type [{}]", id.0)?;
        }
        if let Some(off) = self.offset {
            write!(f, " at byte {off:#x}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for BtfError {}

/// Result alias for this crate.
pub type Result<T, E = BtfError> = std::result::Result<T, E>;

/// Shorthand used throughout the crate.
#[cold]
pub(crate) fn err(kind: BtfErrorKind, detail: impl Into<String>) -> BtfError {
    BtfError::new(kind, detail)
}
