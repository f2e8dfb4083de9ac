//! Where the kernel's context structures hold packet pointers.
//!
//! The verifier rewrites 4-byte loads of `data`, `data_end` and `data_meta`
//! into loads of the real 64-bit pointers; the interpreter does the same
//! by giving those offsets pointer values into the packet region.

use bpfcheck_uapi::ProgType;

/// A context field that reads as a packet pointer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CtxField {
    /// Start of the packet.
    Data,
    /// One past its end.
    DataEnd,
    /// Start of the metadata area (empty here, so equal to `Data`).
    DataMeta,
}

/// The context of a program type, as the interpreter models it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtxLayout {
    /// Size of the context structure in bytes.
    pub size: usize,
    /// Offsets of 4-byte fields that read as packet pointers.
    pub fields: Vec<(u32, CtxField)>,
    /// Whether legacy `LD_ABS`/`LD_IND` read the packet.
    pub ld_abs: bool,
}

impl CtxLayout {
    /// `struct __sk_buff` for socket filters and tc; `struct xdp_md` for
    /// XDP; otherwise a 512-byte opaque buffer with no pointer fields.
    pub fn for_prog_type(t: ProgType) -> Self {
        match t {
            ProgType::SOCKET_FILTER | ProgType::SCHED_CLS | ProgType::SCHED_ACT => Self {
                size: 192,
                fields: vec![
                    (76, CtxField::Data),
                    (80, CtxField::DataEnd),
                    (140, CtxField::DataMeta),
                ],
                ld_abs: true,
            },
            ProgType::XDP => Self {
                size: 24,
                fields: vec![
                    (0, CtxField::Data),
                    (4, CtxField::DataEnd),
                    (8, CtxField::DataMeta),
                ],
                ld_abs: false,
            },
            _ => Self {
                size: 512,
                fields: Vec::new(),
                ld_abs: false,
            },
        }
    }
}
