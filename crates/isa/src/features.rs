//! Which instruction encodings a kernel accepts.

/// Instruction-set features of a kernel; a kernel profile fills it. With a
/// feature off, the checks behave as the older kernel does (e.g. `movsx` on
/// 6.1 fails with `BPF_MOV uses reserved fields`, code `0xe5` with
/// `unknown opcode e5`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
pub struct IsaFeatures {
    /// `BPF_JMP32` conditional jumps (5.1).
    pub jmp32: bool,
    /// Conditional jumps read `dst_reg` before checking their reserved
    /// fields and reading `src_reg` (6.1 has it). Off, as in 5.10's
    /// `check_cond_jmp_op`: the reserved fields first, then `src_reg`, then
    /// `dst_reg`.
    pub jmp_dst_first: bool,
    /// `BPF_ATOMIC` operations beyond `BPF_XADD`: fetch forms, and/or/xor,
    /// xchg, cmpxchg (5.12). Off is the `BPF_XADD` era: `imm` of every
    /// `BPF_STX` is reserved and checked, with its mode, in the load-time
    /// pre-pass (`BPF_STX uses reserved fields` before the opcode table).
    pub atomics: bool,
    /// `ld_imm64` with `BPF_PSEUDO_BTF_ID` (5.10).
    pub pseudo_btf_id: bool,
    /// kfunc calls, `call` with `src_reg == BPF_PSEUDO_KFUNC_CALL` (5.13).
    pub kfunc_calls: bool,
    /// kfuncs from module BTF: `off` of a kfunc call indexes `fd_array` (5.18).
    pub kfunc_module_btf: bool,
    /// `ld_imm64` with `BPF_PSEUDO_FUNC` (5.13).
    pub pseudo_func: bool,
    /// `ld_imm64` with `BPF_PSEUDO_MAP_IDX[_VALUE]` (5.14).
    pub fd_array_idx: bool,
    /// cpu v4: `sdiv`/`smod`, `movsx`, sign-extending loads, `bswap` (6.6).
    pub cpu_v4: bool,
    /// `gotol` (`BPF_JMP32 | BPF_JA` with a 32-bit target): 6.6, and
    /// backported to the 6.1.y stable series (the local 6.1.192 has it).
    pub gotol: bool,
    /// `may_goto` (`BPF_JMP | BPF_JCOND`, 6.9).
    pub may_goto: bool,
    /// `may_goto` with `off == 0` is accepted, and a bad one is reported
    /// as `invalid may_goto imm %d` rather than `invalid may_goto off %d imm
    /// %d` (6.14).
    pub may_goto_off_zero: bool,
    /// `addr_space_cast` (`BPF_ALU64 | BPF_MOV | BPF_X` with `off == 1`, 6.9).
    pub addr_space_cast: bool,
    /// `load_acquire`/`store_release` atomics, also in B and H sizes (6.15).
    pub load_acquire_store_release: bool,
    /// `gotox rN` (`BPF_JMP | BPF_JA | BPF_X`), indirect jumps through the
    /// jump tables of `BPF_MAP_TYPE_INSN_ARRAY` maps (6.19).
    pub gotox: bool,
    /// Every instruction's encoding is checked at load time, in program
    /// order, by the pass that resolves `ld_imm64` (7.x's
    /// `check_and_resolve_insns`): register numbers, the opcode table, then
    /// each class's reserved fields but an atomic's (`check_atomic` stays in
    /// `do_check`). Before, `do_check` checked the fields
    /// of the instructions a path reached, and the load-time loop only
    /// `BPF_LDX` (before the opcode table) and `ld_imm64`.
    pub fields_at_load: bool,
}

impl IsaFeatures {
    /// Linux 7.2 (Debian's 7.2.13 source and kernel).
    pub const V7_2: Self = Self {
        gotox: true,
        fields_at_load: true,
        ..Self::V6_18
    };

    /// Linux 6.18.
    pub const V6_18: Self = Self {
        jmp32: true,
        jmp_dst_first: true,
        atomics: true,
        pseudo_btf_id: true,
        kfunc_calls: true,
        kfunc_module_btf: true,
        pseudo_func: true,
        fd_array_idx: true,
        cpu_v4: true,
        gotol: true,
        may_goto: true,
        may_goto_off_zero: true,
        addr_space_cast: true,
        load_acquire_store_release: true,
        gotox: false,
        fields_at_load: false,
    };

    /// Linux 6.12.
    pub const V6_12: Self = Self {
        load_acquire_store_release: false,
        may_goto_off_zero: false,
        ..Self::V6_18
    };

    /// Linux 6.1 (as of the 6.1.192 stable release, which carries the
    /// `gotol` verifier backport but no other cpu v4 encoding).
    pub const V6_1: Self = Self {
        cpu_v4: false,
        may_goto: false,
        addr_space_cast: false,
        ..Self::V6_12
    };

    /// Linux 5.10 (checked against Debian's 5.10.251 source and kernel):
    /// the `BPF_XADD` era, no kfuncs, no `BPF_PSEUDO_FUNC`, no `fd_array`
    /// sources, no `gotol` (`BPF_JMP32 | BPF_JA` is not in its opcode table).
    pub const V5_10: Self = Self {
        jmp_dst_first: false,
        atomics: false,
        kfunc_calls: false,
        kfunc_module_btf: false,
        pseudo_func: false,
        fd_array_idx: false,
        gotol: false,
        ..Self::V6_1
    };
}

impl Default for IsaFeatures {
    fn default() -> Self {
        Self::V6_18
    }
}
