//! The behaviour switches of a profile that are not instruction
//! encodings: what differs between kernels in the passes and the walk.

/// Behaviour switches that are not instruction encodings.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Features {
    /// `sizeof(union bpf_attr)`: a `BPF_PROG_LOAD` field at or past this
    /// offset is tail the kernel does not know, and a non-zero tail fails
    /// the syscall with `E2BIG` before anything else is looked at
    /// (`bpf_check_uarg_tail_zero`). A field the kernel lacks below this
    /// offset fails `CHECK_ATTR` instead (`EINVAL`).
    pub bpf_attr_size: u32,
    /// `BPF_PROG_LOAD` has `fd_array` (5.14+).
    pub fd_array: bool,
    /// `BPF_PROG_LOAD` has `fd_array_cnt` (6.14+).
    pub fd_array_cnt: bool,
    /// The `prog_flags` bits `bpf_prog_load` accepts; any other is `EINVAL`.
    pub prog_flags: u32,
    /// One past the highest attach type the kernel knows: the attach types
    /// `bpf_prog_load_check_attach` lists for a program type are those of
    /// the newest kernel, cut here.
    pub attach_type_end: u32,
    /// `BPF_PROG_TYPE_SK_REUSEPORT` programs must name their attach type
    /// (5.14+); before, any `expected_attach_type` was accepted.
    pub sk_reuseport_attach_check: bool,
    /// `__BPF_FUNC_MAX_ID`: helper ids at or past it have no name in the
    /// kernel's disassembler (`call unknown#%d`).
    pub helper_id_end: u32,
    /// `check_cfg` steps over an `ld_imm64` as one two-slot instruction and
    /// rejects a jump to its second slot (`jump into the middle of ldimm64
    /// insn %d`, 5.13+). Without it the second slot is walked as an
    /// instruction of its own, and a jump there is only caught when
    /// `do_check` reaches it (`invalid BPF_LD_IMM insn`).
    pub cfg_ldimm64_middle_check: bool,
    /// For a `CAP_BPF` loader, `check_cfg` accepts a loop closed along any
    /// edge. Without it (up to 6.1.y, the `loop_ok` argument of
    /// `push_insn`) only jump edges may close one: a fall-through or call
    /// edge back to an instruction still on the walk's stack is a
    /// `back-edge` even with `CAP_BPF`.
    pub cfg_loops_on_any_edge: bool,
    /// One past the highest program type the kernel knows.
    pub prog_type_end: u32,
    /// One past the highest map type the kernel knows.
    pub map_type_end: u32,
    /// Level-2 logs print `func#N @M` for every subprogram before checking.
    pub log_subprog_table: bool,
    /// A sleepable program's map-in-maps must hold inner maps of the types
    /// a sleepable program may use, and the refusal says `…, also as inner
    /// maps`. The 6.18.44 build of the development host has this; neither
    /// Debian's 6.12 nor 7.2 source does.
    pub sleepable_inner_maps: bool,
    /// Bytes `do_misc_fixups` adds to the stack of each subprogram of an
    /// accepted program that holds a `may_goto`, which the `stack depth`
    /// statistics then show: its loop counter (8), or on x86-64 since 6.15
    /// the timed `may_goto`'s counter and timestamp (16).
    pub may_goto_stack_extra: u32,
    /// bpfcheck models this kernel's `do_check`: the walk over the
    /// program's paths. Without it every program that passes the passes
    /// before is unsupported.
    pub do_check: bool,
    /// Whose scalar transfer functions (ALU, branch refinement, bounds
    /// deduction) the kernel has.
    pub scalar_arith: ScalarArith,
    /// `compute_live_registers` (6.15+): the liveness pruning uses, and
    /// the level-2 `Live regs before insn:` table.
    pub live_regs_table: bool,
    /// Pruning forgets what is dead by a static register liveness and
    /// 6.18's stack dataflow. Without it the kernel keeps read and write
    /// marks along each state's parentage (`REG_LIVE_READ`), prints them
    /// (`R1_w=`, `fp-8_rw=`) and counts the longest walk of a read mark
    /// (`mark_read`).
    pub static_liveness: bool,
    /// Bounded loops are checked with the strongly connected components
    /// of the CFG (6.17+). Without it the kernel tracks loop entries in
    /// the tree of states (`update_loop_entry`, `get_loop_entry`), with
    /// 6.12's stricter `RANGE_WITHIN` and `peak_states` of states not
    /// freed.
    pub scc_loops: bool,
    /// A helper's memory argument on the stack is read or written as its
    /// prototype's `MEM_WRITE` says (6.14+). Without it
    /// (`check_stack_range_initialized` of 6.12) every stack argument is
    /// clobbered as if written, and bounds errors say `invalid indirect
    /// access to stack`.
    pub helper_mem_access_types: bool,
    /// An array lookup whose key is a constant in range returns a map
    /// value that cannot be NULL (`can_elide_value_nullness`, 6.13+).
    pub array_lookup_not_null: bool,
    /// A pointer's own offsets after arithmetic are checked apart from the
    /// number added (`check_reg_sane_offset_ptr`, `pkt pointer offset %lld
    /// is not allowed`). Without it one check serves both, and a pointer's
    /// variable part out of range is `value %lld makes %s pointer be out
    /// of bounds`.
    pub sane_offset_split: bool,
    /// Arithmetic on a packet pointer known to be at or past `pkt_end`
    /// forgets that (a 6.18.y fix); before, constants and non-negative
    /// subtrahends keep the marker.
    pub pkt_arith_forgets_end: bool,
    /// A conditional jump narrows only the linked scalars in registers
    /// live there (6.18.y's `collect_linked_regs`); before, every
    /// register sharing the id.
    pub linked_regs_live_only: bool,
    /// A NULL passed for a helper's maybe-NULL argument is marked precise
    /// (a stable fix: the development host's 6.18 has it, Debian's
    /// 6.12.95 does not).
    pub null_arg_precise: bool,
    /// `rX += rX` never links `rX` to its copies by a constant (a stable
    /// fix: 6.12.117 and the host's 6.18 have it). Without it (Debian's
    /// 6.12.95) the "constant" added is the register's value after the
    /// addition, when that is known.
    pub self_add_clears_id: bool,
    /// Tracing programs may not use maps whose values hold a `bpf_timer`
    /// or `bpf_wq` (`tracing progs cannot use bpf_timer yet`): 5.15 to
    /// 6.18 (the host refuses them); 7.2 allows them.
    #[serde(default)]
    pub tracing_timers_refused: bool,
    /// Linked scalars of 6.18.y (a stable backport the host has, and 7.x):
    /// `r -= K` links too, a 32-bit `w += K` / `w -= K` links a value
    /// without upper bits (`BPF_ADD_CONST32`), and a branch narrows a
    /// register linked with another offset by the difference (zero-extended
    /// for 32-bit links, never across widths). Without it only 64-bit
    /// `r += K` links, and a narrowing by a difference is not modelled.
    #[serde(default)]
    pub offset_links_v2: bool,
    /// `check_resource_leak` of 6.14+: a lock is looked for before the
    /// references everywhere, and a leak ends with `%s would lead to
    /// reference leak`. Without it (`check_reference_leak`) an exit with a
    /// lock held says `bpf_spin_unlock is missing`, a leaking exit ends
    /// with its last `Unreleased reference` line, and `LD_ABS` looks at
    /// references first (`cannot be mixed with socket references`).
    #[serde(default)]
    pub resource_leak_v2: bool,
    /// A tail call that returns leaves the caller's packet pointers valid
    /// (6.13+: whether a program changes packet data is worked out per
    /// subprogram). Before, `bpf_tail_call` counts as a helper that
    /// changes packet data, and every packet pointer is forgotten.
    #[serde(default)]
    pub tail_call_keeps_pkt: bool,
}

/// Which kernel's scalar arithmetic the verifier reproduces.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub enum ScalarArith {
    /// 6.1.y.
    V6_1,
    /// 6.12.y.
    V6_12,
    /// 6.18.y.
    V6_18,
}
