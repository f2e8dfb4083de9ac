//! The opcode table: every operation the 6.18 verifier accepts, once.
//!
//! Two layers, both plain data:
//!
//! * field tables ([`AluOp`], [`JmpOp`], [`Size`], [`AtomicOp`], [`PseudoSrc`],
//!   …) map each encoded field value to its variant and to the text the
//!   kernel's disassembler prints for it, so decoder, encoder and printer
//!   look the same rows up;
//! * [`OPCODES`] lists every opcode byte of the kernel's public instruction
//!   table (`bpf_opcode_in_insntable()`, kernel/bpf/core.c) with its shape
//!   and the feature that introduced it. [`opcode_in_insntable`], the
//!   decoder's class dispatch and the property tests' instruction generator
//!   all read it.

use bpfcheck_uapi::op;

use crate::features::IsaFeatures;

/// Declares a field enum together with its encoding and its kernel text.
macro_rules! field_table {
    (
        $(#[$meta:meta])*
        $name:ident: $bits_ty:ty {
            $( $(#[$vmeta:meta])* $var:ident = $bits:expr => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* $var, )*
        }

        impl $name {
            /// Every variant, in table order.
            pub const ALL: &'static [Self] = &[$(Self::$var),*];

            /// The encoded field value.
            pub const fn bits(self) -> $bits_ty {
                match self {
                    $( Self::$var => $bits, )*
                }
            }

            /// The variant encoded as `bits`, if any.
            pub const fn from_bits(bits: $bits_ty) -> Option<Self> {
                $( if bits == $bits { return Some(Self::$var); } )*
                None
            }

            /// The kernel disassembler's text for this value.
            pub const fn text(self) -> &'static str {
                match self {
                    $( Self::$var => $text, )*
                }
            }
        }
    };
}

field_table! {
    /// Binary ALU operations (`BPF_OP` of an ALU/ALU64 code other than
    /// `BPF_NEG`/`BPF_END`), with the kernel's compound-assignment text
    /// (`bpf_alu_string`). The signed division forms share `BPF_DIV`/`BPF_MOD`
    /// and are told apart by `off == 1`; see [`AluOp::SDiv`].
    AluOp: u8 {
        /// `+=`
        Add = op::ADD => "+=",
        /// `-=`
        Sub = op::SUB => "-=",
        /// `*=`
        Mul = op::MUL => "*=",
        /// Unsigned `/=`.
        Div = op::DIV => "/=",
        /// `|=`
        Or = op::OR => "|=",
        /// `&=`
        And = op::AND => "&=",
        /// `<<=`
        Lsh = op::LSH => "<<=",
        /// Logical `>>=`.
        Rsh = op::RSH => ">>=",
        /// Unsigned `%=`.
        Mod = op::MOD => "%=",
        /// `^=`
        Xor = op::XOR => "^=",
        /// `=`
        Mov = op::MOV => "=",
        /// Arithmetic `s>>=`.
        Arsh = op::ARSH => "s>>=",
        /// Signed `s/=` (cpu v4: `BPF_DIV` with `off == 1`).
        SDiv = op::DIV => "s/=",
        /// Signed `s%=` (cpu v4: `BPF_MOD` with `off == 1`).
        SMod = op::MOD => "s%=",
    }
}

impl AluOp {
    /// The `off` field this operation is encoded with (1 for the signed
    /// division forms, 0 otherwise).
    pub const fn off(self) -> i16 {
        match self {
            Self::SDiv | Self::SMod => 1,
            _ => 0,
        }
    }

    /// The operation encoded by `BPF_OP` bits `bits` and `off`: `off == 1`
    /// selects the signed division forms; any other `off` the plain ones
    /// (whether that `off` is allowed is the checks' business).
    pub const fn from_code(bits: u8, off: i16) -> Option<Self> {
        match (bits, off) {
            (op::DIV, 1) => Some(Self::SDiv),
            (op::MOD, 1) => Some(Self::SMod),
            (op::DIV, _) => Some(Self::Div),
            (op::MOD, _) => Some(Self::Mod),
            _ => Self::from_bits(bits),
        }
    }

    /// Whether this is a shift (its immediate must be below the width).
    pub const fn is_shift(self) -> bool {
        matches!(self, Self::Lsh | Self::Rsh | Self::Arsh)
    }

    /// Whether this divides (its immediate must not be zero).
    pub const fn is_div_mod(self) -> bool {
        matches!(self, Self::Div | Self::Mod | Self::SDiv | Self::SMod)
    }
}

field_table! {
    /// Conditional jump operations (`BPF_OP` of a JMP/JMP32 code), with the
    /// kernel's comparison text (`bpf_jmp_string`).
    JmpOp: u8 {
        /// `==`
        Jeq = op::JEQ => "==",
        /// Unsigned `>`.
        Jgt = op::JGT => ">",
        /// Unsigned `>=`.
        Jge = op::JGE => ">=",
        /// Bit test `&`.
        Jset = op::JSET => "&",
        /// `!=`
        Jne = op::JNE => "!=",
        /// Signed `s>`.
        Jsgt = op::JSGT => "s>",
        /// Signed `s>=`.
        Jsge = op::JSGE => "s>=",
        /// Unsigned `<`.
        Jlt = op::JLT => "<",
        /// Unsigned `<=`.
        Jle = op::JLE => "<=",
        /// Signed `s<`.
        Jslt = op::JSLT => "s<",
        /// Signed `s<=`.
        Jsle = op::JSLE => "s<=",
    }
}

field_table! {
    /// Memory access sizes (`BPF_SIZE`), with the kernel's unsigned type
    /// name (`bpf_ldst_string`).
    Size: u8 {
        /// 4 bytes.
        W = op::W => "u32",
        /// 2 bytes.
        H = op::H => "u16",
        /// 1 byte.
        B = op::B => "u8",
        /// 8 bytes.
        DW = op::DW => "u64",
    }
}

impl Size {
    /// The size in bytes.
    pub const fn bytes(self) -> u8 {
        match self {
            Self::B => 1,
            Self::H => 2,
            Self::W => 4,
            Self::DW => 8,
        }
    }

    /// The kernel's signed type name for sign-extending loads
    /// (`bpf_ldsx_string`); `None` for `DW`, which has no such load.
    pub const fn signed_text(self) -> Option<&'static str> {
        match self {
            Self::B => Some("s8"),
            Self::H => Some("s16"),
            Self::W => Some("s32"),
            Self::DW => None,
        }
    }
}

field_table! {
    /// Operations of `BPF_STX | BPF_ATOMIC`, selected by `imm`; the text is
    /// the kernel's operation name (`bpf_atomic_alu_string` and friends).
    AtomicOp: i32 {
        /// `lock *(size *)(dst + off) += src`
        Add = op::ADD as i32 => "add",
        /// `lock *(size *)(dst + off) |= src`
        Or = op::OR as i32 => "or",
        /// `lock *(size *)(dst + off) &= src`
        And = op::AND as i32 => "and",
        /// `lock *(size *)(dst + off) ^= src`
        Xor = op::XOR as i32 => "xor",
        /// `src = atomic_fetch_add(dst + off, src)`
        FetchAdd = op::ADD as i32 | op::FETCH => "add",
        /// `src = atomic_fetch_or(dst + off, src)`
        FetchOr = op::OR as i32 | op::FETCH => "or",
        /// `src = atomic_fetch_and(dst + off, src)`
        FetchAnd = op::AND as i32 | op::FETCH => "and",
        /// `src = atomic_fetch_xor(dst + off, src)`
        FetchXor = op::XOR as i32 | op::FETCH => "xor",
        /// `src = atomic_xchg(dst + off, src)`
        Xchg = op::XCHG => "xchg",
        /// `r0 = atomic_cmpxchg(dst + off, r0, src)`
        Cmpxchg = op::CMPXCHG => "cmpxchg",
        /// `dst = load_acquire(src + off)` (6.15+, all sizes).
        LoadAcquire = op::LOAD_ACQ => "load_acquire",
        /// `store_release(dst + off, src)` (6.15+, all sizes).
        StoreRelease = op::STORE_REL => "store_release",
    }
}

impl AtomicOp {
    /// Read-modify-write operations, which exist only in `W` and `DW`.
    pub const fn is_rmw(self) -> bool {
        !matches!(self, Self::LoadAcquire | Self::StoreRelease)
    }

    /// Whether the old memory value is loaded into a register.
    pub const fn fetches(self) -> bool {
        self.bits() & op::FETCH != 0 && self.is_rmw()
    }

    /// Whether this operation needs 5.12's atomics (anything but plain add,
    /// which is the old `BPF_XADD`).
    pub const fn needs_atomics(self) -> bool {
        !matches!(self, Self::Add)
    }
}

field_table! {
    /// `src_reg` of `ld_imm64`: what the 64-bit immediate means.
    PseudoSrc: u8 {
        /// A plain 64-bit constant.
        Imm = 0 => "imm",
        /// `BPF_PSEUDO_MAP_FD`: `imm` is a map fd.
        MapFd = op::PSEUDO_MAP_FD => "map_fd",
        /// `BPF_PSEUDO_MAP_VALUE`: map fd plus value offset in the second `imm`.
        MapValue = op::PSEUDO_MAP_VALUE => "map_value",
        /// `BPF_PSEUDO_BTF_ID`: a kernel variable by BTF id (second `imm`: module BTF fd).
        BtfId = op::PSEUDO_BTF_ID => "btf_id",
        /// `BPF_PSEUDO_FUNC`: a subprogram, `imm` relative to the next instruction.
        Func = op::PSEUDO_FUNC => "func",
        /// `BPF_PSEUDO_MAP_IDX`: index into `fd_array`.
        MapIdx = op::PSEUDO_MAP_IDX => "map_idx",
        /// `BPF_PSEUDO_MAP_IDX_VALUE`: `fd_array` index plus value offset.
        MapIdxValue = op::PSEUDO_MAP_IDX_VALUE => "map_idx_value",
    }
}

impl PseudoSrc {
    /// Whether the verifier rewrites the immediate into a kernel address
    /// (and the log therefore prints one).
    pub const fn is_kernel_pointer(self) -> bool {
        !matches!(self, Self::Imm | Self::Func)
    }
}

/// Operand width of ALU and conditional-jump instructions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
pub enum Width {
    /// `BPF_ALU` / `BPF_JMP32`: 32-bit subregisters (`wN`).
    W32,
    /// `BPF_ALU64` / `BPF_JMP`: full registers (`rN`).
    W64,
}

impl Width {
    /// The instruction class for ALU instructions of this width.
    pub const fn alu_class(self) -> u8 {
        match self {
            Self::W32 => op::ALU,
            Self::W64 => op::ALU64,
        }
    }

    /// The instruction class for conditional jumps of this width.
    pub const fn jmp_class(self) -> u8 {
        match self {
            Self::W32 => op::JMP32,
            Self::W64 => op::JMP,
        }
    }

    /// The register prefix the kernel prints (`w` or `r`).
    pub const fn reg_prefix(self) -> char {
        match self {
            Self::W32 => 'w',
            Self::W64 => 'r',
        }
    }

    /// Width in bits.
    pub const fn bits(self) -> i32 {
        match self {
            Self::W32 => 32,
            Self::W64 => 64,
        }
    }
}

/// Byte order of `BPF_ALU | BPF_END` (the `BPF_SRC` bit).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
pub enum Endian {
    /// `le16`/`le32`/`le64` (`BPF_TO_LE`).
    Le,
    /// `be16`/`be32`/`be64` (`BPF_TO_BE`).
    Be,
}

/// Bit width of a byte swap (`imm` of `BPF_END`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
pub enum SwapBits {
    /// 16 bits.
    B16,
    /// 32 bits.
    B32,
    /// 64 bits.
    B64,
}

impl SwapBits {
    /// Every width.
    pub const ALL: &'static [Self] = &[Self::B16, Self::B32, Self::B64];

    /// The `imm` encoding.
    pub const fn imm(self) -> i32 {
        match self {
            Self::B16 => 16,
            Self::B32 => 32,
            Self::B64 => 64,
        }
    }

    /// The width encoded by `imm`.
    pub const fn from_imm(imm: i32) -> Option<Self> {
        match imm {
            16 => Some(Self::B16),
            32 => Some(Self::B32),
            64 => Some(Self::B64),
            _ => None,
        }
    }
}

/// What the kernel feature gate of an opcode is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Gate {
    /// Present in every supported kernel.
    Always,
    /// `BPF_JMP32` class (5.1).
    Jmp32,
    /// `BPF_JMP32 | BPF_JA`, `gotol` (6.6; backported to 6.1.y stable).
    Gotol,
    /// cpu v4 encodings: `bswap`, sign-extending loads (6.6).
    CpuV4,
    /// `may_goto` (6.9).
    MayGoto,
    /// 8/16-bit `BPF_ATOMIC` for load-acquire/store-release (6.15).
    LoadAcquireStoreRelease,
}

impl Gate {
    /// Whether a kernel with `feats` has it.
    pub const fn allows(self, feats: &IsaFeatures) -> bool {
        match self {
            Self::Always => true,
            Self::Jmp32 => feats.jmp32,
            Self::Gotol => feats.gotol,
            Self::CpuV4 => feats.cpu_v4,
            Self::MayGoto => feats.may_goto,
            Self::LoadAcquireStoreRelease => feats.load_acquire_store_release,
        }
    }
}

/// The shape of an opcode: which [`crate::Insn`] variant it decodes to and
/// which fields it uses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Shape {
    /// Binary ALU op, register (`X`) or immediate (`K`) source.
    Alu {
        /// Operand width.
        width: Width,
        /// `BPF_OP` bits (one of [`AluOp`]'s encodings).
        op: u8,
        /// Register source.
        reg: bool,
    },
    /// `BPF_NEG`.
    Neg(Width),
    /// `BPF_ALU | BPF_END` (`le`/`be`).
    Endian(Endian),
    /// `BPF_ALU64 | BPF_END | BPF_TO_LE` (`bswap`).
    Bswap,
    /// `BPF_LDX | BPF_MEM` or `BPF_MEMSX`.
    Ldx {
        /// Access size.
        size: Size,
        /// `BPF_MEMSX`.
        sign_extend: bool,
    },
    /// `BPF_STX | BPF_MEM`.
    Stx(Size),
    /// `BPF_ST | BPF_MEM`.
    St(Size),
    /// `BPF_STX | BPF_ATOMIC`.
    Atomic(Size),
    /// Conditional jump.
    Jmp {
        /// Operand width.
        width: Width,
        /// Comparison.
        op: JmpOp,
        /// Register source.
        reg: bool,
    },
    /// `BPF_JMP | BPF_JA`.
    Ja,
    /// `BPF_JMP32 | BPF_JA`.
    Gotol,
    /// `BPF_JMP | BPF_CALL`.
    Call,
    /// `BPF_JMP | BPF_EXIT`.
    Exit,
    /// `BPF_JMP | BPF_JCOND`.
    MayGoto,
    /// `BPF_LD | BPF_IMM | BPF_DW`, two slots.
    LdImm64,
    /// `BPF_LD | BPF_ABS`.
    LdAbs(Size),
    /// `BPF_LD | BPF_IND`.
    LdInd(Size),
}

/// One row of the opcode table.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Opcode {
    /// The opcode byte.
    pub code: u8,
    /// What it encodes.
    pub shape: Shape,
    /// The feature that introduced it.
    pub gate: Gate,
}

const fn alu(width: Width, op: u8, reg: bool) -> Opcode {
    let class = width.alu_class();
    let src = if reg { op::X } else { op::K };
    Opcode {
        code: class | op | src,
        shape: Shape::Alu { width, op, reg },
        gate: Gate::Always,
    }
}

const fn jmp(width: Width, op: JmpOp, reg: bool) -> Opcode {
    let src = if reg { op::X } else { op::K };
    Opcode {
        code: width.jmp_class() | op.bits() | src,
        shape: Shape::Jmp { width, op, reg },
        gate: match width {
            Width::W32 => Gate::Jmp32,
            Width::W64 => Gate::Always,
        },
    }
}

const fn row(code: u8, shape: Shape, gate: Gate) -> Opcode {
    Opcode { code, shape, gate }
}

/// Lists the table rows: binary ALU ops for both widths and sources,
/// conditional jumps likewise, then the one-off rows.
macro_rules! opcode_rows {
    (
        alu: [$($aop:ident),*];
        jmp: [$($jop:ident),*];
        rows: [$($row:expr),* $(,)?];
    ) => {
        &[
            $( alu(Width::W32, op::$aop, true), alu(Width::W32, op::$aop, false),
               alu(Width::W64, op::$aop, true), alu(Width::W64, op::$aop, false), )*
            $( jmp(Width::W64, JmpOp::$jop, true), jmp(Width::W64, JmpOp::$jop, false),
               jmp(Width::W32, JmpOp::$jop, true), jmp(Width::W32, JmpOp::$jop, false), )*
            $($row),*
        ]
    };
}

/// Every opcode of the kernel's public instruction table, as of 6.18.
pub static OPCODES: &[Opcode] = opcode_rows! {
    alu: [ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, MOD, XOR, MOV, ARSH];
    jmp: [Jeq, Jgt, Jge, Jset, Jne, Jsgt, Jsge, Jlt, Jle, Jslt, Jsle];
    rows: [
        row(op::ALU | op::NEG, Shape::Neg(Width::W32), Gate::Always),
        row(op::ALU64 | op::NEG, Shape::Neg(Width::W64), Gate::Always),
        row(op::ALU | op::END | op::TO_LE, Shape::Endian(Endian::Le), Gate::Always),
        row(op::ALU | op::END | op::TO_BE, Shape::Endian(Endian::Be), Gate::Always),
        row(op::ALU64 | op::END | op::TO_LE, Shape::Bswap, Gate::CpuV4),
        row(op::LDX | op::MEM | op::B, Shape::Ldx { size: Size::B, sign_extend: false }, Gate::Always),
        row(op::LDX | op::MEM | op::H, Shape::Ldx { size: Size::H, sign_extend: false }, Gate::Always),
        row(op::LDX | op::MEM | op::W, Shape::Ldx { size: Size::W, sign_extend: false }, Gate::Always),
        row(op::LDX | op::MEM | op::DW, Shape::Ldx { size: Size::DW, sign_extend: false }, Gate::Always),
        row(op::LDX | op::MEMSX | op::B, Shape::Ldx { size: Size::B, sign_extend: true }, Gate::CpuV4),
        row(op::LDX | op::MEMSX | op::H, Shape::Ldx { size: Size::H, sign_extend: true }, Gate::CpuV4),
        row(op::LDX | op::MEMSX | op::W, Shape::Ldx { size: Size::W, sign_extend: true }, Gate::CpuV4),
        row(op::STX | op::MEM | op::B, Shape::Stx(Size::B), Gate::Always),
        row(op::STX | op::MEM | op::H, Shape::Stx(Size::H), Gate::Always),
        row(op::STX | op::MEM | op::W, Shape::Stx(Size::W), Gate::Always),
        row(op::STX | op::MEM | op::DW, Shape::Stx(Size::DW), Gate::Always),
        row(op::ST | op::MEM | op::B, Shape::St(Size::B), Gate::Always),
        row(op::ST | op::MEM | op::H, Shape::St(Size::H), Gate::Always),
        row(op::ST | op::MEM | op::W, Shape::St(Size::W), Gate::Always),
        row(op::ST | op::MEM | op::DW, Shape::St(Size::DW), Gate::Always),
        row(op::STX | op::ATOMIC | op::B, Shape::Atomic(Size::B), Gate::LoadAcquireStoreRelease),
        row(op::STX | op::ATOMIC | op::H, Shape::Atomic(Size::H), Gate::LoadAcquireStoreRelease),
        row(op::STX | op::ATOMIC | op::W, Shape::Atomic(Size::W), Gate::Always),
        row(op::STX | op::ATOMIC | op::DW, Shape::Atomic(Size::DW), Gate::Always),
        row(op::JMP | op::JA, Shape::Ja, Gate::Always),
        row(op::JMP32 | op::JA, Shape::Gotol, Gate::Gotol),
        row(op::JMP | op::CALL, Shape::Call, Gate::Always),
        row(op::JMP | op::EXIT, Shape::Exit, Gate::Always),
        row(op::JMP | op::JCOND, Shape::MayGoto, Gate::MayGoto),
        row(op::LD | op::IMM | op::DW, Shape::LdImm64, Gate::Always),
        row(op::LD | op::ABS | op::B, Shape::LdAbs(Size::B), Gate::Always),
        row(op::LD | op::ABS | op::H, Shape::LdAbs(Size::H), Gate::Always),
        row(op::LD | op::ABS | op::W, Shape::LdAbs(Size::W), Gate::Always),
        row(op::LD | op::IND | op::B, Shape::LdInd(Size::B), Gate::Always),
        row(op::LD | op::IND | op::H, Shape::LdInd(Size::H), Gate::Always),
        row(op::LD | op::IND | op::W, Shape::LdInd(Size::W), Gate::Always),
    ];
};

/// `OPCODES` indexed by opcode byte.
static BY_CODE: [Option<Opcode>; 256] = {
    let mut t: [Option<Opcode>; 256] = [None; 256];
    let mut i = 0;
    while i < OPCODES.len() {
        t[OPCODES[i].code as usize] = Some(OPCODES[i]);
        i += 1;
    }
    t
};

/// The table row of an opcode byte, whatever the kernel version.
pub fn opcode(code: u8) -> Option<&'static Opcode> {
    BY_CODE[usize::from(code)].as_ref()
}

/// The kernel's `bpf_opcode_in_insntable()` for a kernel with `feats`: the
/// pre-pass in `resolve_pseudo_ldimm64` rejects any other opcode with
/// `unknown opcode %02x`.
pub fn opcode_in_insntable(code: u8, feats: &IsaFeatures) -> bool {
    // `gotox` has no row: no kernel whose verifier bpfcheck interprets has
    // it, and its operand is a jump table, not an instruction field.
    opcode(code).is_some_and(|o| o.gate.allows(feats))
        || (feats.gotox && code == op::JMP | op::JA | op::X)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_no_duplicate_codes() {
        let mut seen = [false; 256];
        for o in OPCODES {
            assert!(!seen[usize::from(o.code)], "duplicate {:#04x}", o.code);
            seen[usize::from(o.code)] = true;
        }
    }

    #[test]
    fn table_sizes_match_kernel_lists() {
        // 6.18: the BPF_INSN_MAP list (136 rows with the 6.15 atomics) plus
        // six cBPF carry-over loads and BPF_JMP | BPF_JCOND.
        let n = (0..=255u8)
            .filter(|&c| opcode_in_insntable(c, &IsaFeatures::V6_18))
            .count();
        assert_eq!(n, OPCODES.len());
        // 6.1: no bswap, no memsx, no may_goto, no 8/16-bit atomics.
        let n61 = (0..=255u8)
            .filter(|&c| opcode_in_insntable(c, &IsaFeatures::V6_1))
            .count();
        assert_eq!(n61, OPCODES.len() - 7);
    }

    #[test]
    fn field_tables_round_trip() {
        for &o in AluOp::ALL {
            assert_eq!(AluOp::from_code(o.bits(), o.off()), Some(o));
        }
        for &o in AtomicOp::ALL {
            assert_eq!(AtomicOp::from_bits(o.bits()), Some(o));
        }
        for &s in Size::ALL {
            assert_eq!(Size::from_bits(s.bits()), Some(s));
        }
    }
}
