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
    /// `BPF_PROG_TYPE_SK_REUSEPORT` programs must have a reuseport attach
    /// type, 0 being taken as `select` (5.14+); before, any
    /// `expected_attach_type` was accepted.
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
    /// Releasing a reference moves the last one into its place
    /// (`release_reference_state` up to 6.12), which the order of `refs=`
    /// in the log shows; 6.13+ keeps the others in order (a stack, for
    /// IRQ flags).
    #[serde(default)]
    pub refs_release_swaps: bool,
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
    /// Whether `check_func_arg` requires a scalar for an `ARG_SCALAR`
    /// argument (`bpf_loop`'s count): `Some(true)` up to 6.12 (source:
    /// `R1 type=fp expected=scalar`); `Some(false)` on 6.18, where any
    /// register passes (live kernel) and a pointer count then fails
    /// `bpf_loop`'s precision marking (`verifier bug: backtracking
    /// misuse`, EFAULT); `None` where not established (a non-scalar there
    /// is `unsupported`).
    pub scalar_arg_typed: Option<bool>,
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
    /// subprogram; 6.1, whose `bpf_helper_changes_pkt_data` never listed
    /// `bpf_tail_call`, too). Between (6.12.y's fix), `bpf_tail_call`
    /// counts as a helper that changes packet data, and every packet
    /// pointer is forgotten.
    #[serde(default)]
    pub tail_call_keeps_pkt: bool,
    /// Dynptr stack slots as 6.18 keeps them: a use of the dynptr
    /// scratches both slots (they are printed after the call), and
    /// constructing or destroying one writes them in the stack liveness.
    /// Without it (6.12 tracks them with read marks, not modelled)
    /// dynptr arguments are unsupported.
    #[serde(default)]
    pub dynptr_slots_v2: bool,
    /// `bpf_fastcall` spill/fill patterns around helper calls are found
    /// before the walk (`mark_fastcall_patterns`, 6.12+); where every
    /// access to their slots belongs to a pattern and the JIT inlines the
    /// call (`bpf_get_smp_processor_id` on x86-64, the JIT being on by
    /// default in every profiled kernel), the pairs are removed and the
    /// subprogram's stack depth shrinks to what is left.
    #[serde(default)]
    pub fastcall: bool,
    /// Exceptions (6.7+): the main program may name an exception callback
    /// with a `exception_callback:` decl tag, a subprogram nothing calls,
    /// and `bpf_throw` ends a path. Without it the tag means nothing and
    /// the callback's code is unreachable.
    #[serde(default)]
    pub exceptions: bool,
    /// `bpf_map_lookup_elem` on a socket map or hash gives a socket that
    /// may be NULL (`sock_or_null`, as this workplace's 6.18 build logs
    /// it), and on an XDP socket map an `xdp_sock_or_null`. Without it
    /// (the 6.12 and 7.2 sources) the result is a map value that may be
    /// NULL, a socket only once null-checked.
    #[serde(default)]
    pub sockmap_lookup_socket: bool,
    /// `bpf_map_lookup_elem` on a map-in-map gives the inner map's meta
    /// map that may be NULL (`map_ptr_or_null`, as the live 6.18 build
    /// logs it and later upstream selftests expect). Without it (6.12's
    /// source) the result is a map value of the outer map that may be
    /// NULL, the inner map only once null-checked (`mark_ptr_not_null_reg`).
    #[serde(default)]
    pub map_in_map_lookup_map_ptr: bool,
    /// The map value a callback receives (`bpf_for_each_map_elem`'s, a
    /// timer's) gets a fresh id, as a lookup result would: the host's
    /// 6.18 build does this; the 6.12 and 7.2 sources do not.
    #[serde(default)]
    pub callback_value_id: bool,
    /// `can_be_sleepable` of 7.x: tracepoints, raw tracepoints and the
    /// tracing attach types `raw_tp`, `fsession` and the `*_multi` ones may
    /// sleep too, and any other type is refused with `Program of this type
    /// cannot be sleepable`. Without it (6.12 to 6.18) the refusal lists
    /// the types that may (`Only fentry/fexit/fmod_ret, lsm, iter, uprobe,
    /// and struct_ops programs can be sleepable`).
    #[serde(default)]
    pub sleepable_tracepoints: bool,
    /// Loads through BTF pointers as 6.17+ types them (the host's 6.18
    /// does): a pointer field reached from a trusted or RCU pointer that
    /// the kernel's trusted/RCU lists do not name is `PTR_UNTRUSTED`, and a
    /// pointer field to anything but a struct loads read-only untrusted
    /// memory of size 0. Before (6.12's source): a flagless `PTR_TO_BTF_ID`
    /// and a number.
    #[serde(default)]
    pub btf_walk_untrusted: bool,
    /// 7.x's kfunc rules: `KF_TRUSTED_ARGS` is gone because every kfunc's
    /// pointer arguments must be trusted, and the struct pointers kfuncs
    /// return are trusted. Not modelled: references, BTF-typed arguments
    /// and pointer returns of kfuncs are `unsupported` there. Without it
    /// (6.x) the flags decide, and returns are flagless.
    #[serde(default)]
    pub kfunc_trusted_by_default: bool,
    /// A tail call in a subprogram's frame may leave it (6.18): the walk
    /// goes on both ways, returning to the caller with an unknown `R0`
    /// and, queued, past the call. Before (6.12's source): past the call
    /// only.
    #[serde(default)]
    pub tail_call_exits_subprog: bool,
    /// 6.18's check of a global function's `arg:trusted` argument: a
    /// scalar is refused with `R%d must be referenced or trusted`, and a
    /// NULL where `arg:nullable` allows one is marked precise. Not known
    /// (unsupported there): other scalars, and kernel pointers neither
    /// trusted nor referenced. Before (6.12's source): `check_reg_type`'s
    /// register types alone.
    #[serde(default)]
    pub global_trusted_arg_v2: bool,
    /// How 7.x's `do_check` differs from 6.18's (all off before 7.1).
    #[serde(default)]
    pub walk_v7: WalkV7,
    /// How 6.1's `do_check` differs from 6.12's (all off from 6.12 on).
    #[serde(default)]
    pub walk_v6_1: WalkV6_1,
}

/// What 6.1's walk does differently from 6.12's, one switch per behaviour,
/// each read in `linux-source-6.1` and seen on Debian's 6.1 under QEMU
/// (`fixtures/kernels/6.1.json`, its logs in `fixtures/kernels/logs/6.1.json`;
/// `docs/walk-6.1.md`). The first group is modelled; the verifier answers
/// `unsupported` naming a switch of the second group where it matters
/// (before the walk for a program property, at the instruction otherwise).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct WalkV6_1 {
    /// 6.1's stack spills and fills (`check_stack_write_fixed_off`,
    /// `check_stack_read_fixed_off`): only a bounded, non-zero scalar is
    /// spilled (a zero becomes `STACK_ZERO` with its register made
    /// precise, an unbounded one `STACK_MISC`), a spill through a register
    /// other than `R10` makes the value precise, a `BPF_ST` of 0 writes
    /// `STACK_ZERO`, a fill narrower than its spill is unknown, a read of
    /// zeros is a precise 0, and a pointer to the stack cannot be spilled
    /// into a caller's frame. 6.12 spills every scalar (with an id), reads
    /// the low end of a wider spill, and backtracks through other
    /// registers' stack accesses.
    pub spill_rules: bool,
    /// `check_return_code` of 6.1: `R0` is checked with `tnum_in` against
    /// the range as a tnum, is not made precise, and a failure prints both
    /// as tnums (`has value (0x2; 0x0) should have been in (0x0; 0x1)`);
    /// cgroup egress `skb` programs may return 0 to 3. 6.12 compares the
    /// signed bounds, marks `R0` precise and prints `smin=`/`smax=` and
    /// `[min, max]`.
    pub return_code_tnum: bool,
    /// `tnum_strn` prints every tnum as `(value; mask)`, constants
    /// included (`misaligned stack access off (0x0; 0x0)+-8+-3 size 4`);
    /// 6.12 prints a constant as a number.
    pub tnum_str_hex: bool,
    /// A `BPF_ST` into the context is refused in the walk (`BPF_ST stores
    /// into R%d %s is not allowed`, `EACCES`), before the context access
    /// is looked at; 6.12 checks it as any context write.
    pub st_ctx_refused: bool,
    /// `is_branch_taken` decides a pointer compared with 0 only for the
    /// types `reg_type_not_null` lists (map values and keys, sockets), only
    /// with the pointer as destination, and in 32-bit jumps too; 6.12 also
    /// counts a map pointer or sized memory as never NULL and looks at
    /// either operand.
    pub ptr_not_null_v6_1: bool,
    /// Each frame's stack counts rounded up to 32 bytes in
    /// `check_max_stack_depth` (6.12 with the JIT: 16).
    pub stack_round_32: bool,
    /// Linked scalars of 6.1: a 64-bit `mov` links any scalar without an
    /// id (constants too), a 32-bit `mov` never links, arithmetic always
    /// breaks a link (no `BPF_ADD_CONST`), pruning compares a precise
    /// scalar by its range and bits only (no `check_scalar_ids`), and
    /// precision is not passed on to linked registers. 6.12 links only
    /// non-constants, keeps `r += K` links, and checks scalar ids.
    pub linked_scalars: bool,
    /// Level-1 and level-2 logs print 6.1's states (`R1=ctx(off=0,imm=0)`,
    /// `R0_w=scalar(umax=…)`, ids and `refs=` as 6.1 does) and 6.1's
    /// precision lines (`last_idx`, `regs=%x stack=%llx before`, with
    /// `precision_chain`); stack slots are marked for printing only when
    /// written.
    pub state_print: bool,
    /// Callbacks (`bpf_loop`, `bpf_for_each_map_elem`, timers,
    /// `bpf_user_ringbuf_drain`) are walked once, as a call, with 6.1's
    /// `callback_ret_range` check; 6.12 explores them until their states
    /// converge. Not modelled: a program with a callback is unsupported.
    pub callbacks_once: bool,
    /// `bpf_spin_lock` and `bpf_timer` rules of 6.1 (errors are `EACCES`
    /// in helper argument checks, other map messages, no subprogram calls
    /// while a lock is held, an unlock missing at any exit). Not modelled:
    /// a program calling those helpers is unsupported.
    pub lock_rules: bool,
    /// Loops are pruned without 6.12's loop entries (`update_loop_entry`):
    /// a state inside a loop being explored may be pruned by a checkpoint
    /// of the same loop. Not modelled: a program with a back-edge is
    /// unsupported.
    pub loops_without_entries: bool,
    /// Precision backtracking gives up at a bpf-to-bpf call or exit
    /// (`-ENOTSUPP`, then every scalar of the path, the current state
    /// included, is made precise). Not modelled: unsupported where a
    /// backtracking reaches one.
    pub precision_across_calls: bool,
    /// The types a helper argument accepts are 6.1's (`R%d type=%s
    /// expected=…` lists `alloc_mem`, no `ringbuf_mem` or `trusted_ptr_`).
    /// Not modelled: unsupported where such a mismatch is found.
    pub helper_arg_types: bool,
    /// A helper's size argument that may be 0 where 0 is not allowed is
    /// refused by the check of the memory it sizes (`invalid zero-sized
    /// read` for the stack, the memory type's own message otherwise); 6.12
    /// refuses it first (`R%d invalid zero-sized read: u64=[%lld,%lld]`).
    /// Not modelled: unsupported where one is found.
    pub zero_size_checks: bool,
    /// Ring buffer memory is `PTR_TO_MEM | MEM_ALLOC`, printed `alloc_mem`
    /// (6.12: `MEM_RINGBUF`, `ringbuf_mem`). Not modelled: a program
    /// calling `bpf_ringbuf_reserve` is unsupported.
    pub alloc_mem_ringbuf: bool,
    /// Comparisons between socket pointers or a socket pointer and a
    /// register learn nothing (6.12 infers non-NULL from equality). Not
    /// modelled: unsupported where one is reached.
    pub sock_compare: bool,
    /// Variable-offset stack accesses of 6.1: its messages lack the fixed
    /// offset (`invalid variable-offset write to stack R2 var_off=%s
    /// size=%d`), and bytes written through a variable offset cannot be
    /// filled into a register later (`invalid size of register fill`).
    /// Not modelled: unsupported where one is reached.
    #[serde(default)]
    pub var_off_stack: bool,
    /// Pointer arguments of `tp_btf`, `fentry` and `fexit` programs are
    /// flagless `PTR_TO_BTF_ID`s (printed `ptr_`): 6.1 has no
    /// `prog_args_trusted`, and no `__nullable` parameters. Modelled.
    #[serde(default)]
    pub btf_tracing_args_plain: bool,
    /// Kptrs of 6.1: the type tag `kptr` is an unreferenced kptr and
    /// `kptr_ref` a referenced one (6.12: `kptr_untrusted` and `kptr`),
    /// with 6.1's load types and messages. Not modelled: a map value with
    /// a kptr field is unsupported.
    #[serde(default)]
    pub kptr_tags: bool,
    /// Global functions of 6.1 (`do_check_subprogs`, `btf_check_func_arg_match`):
    /// every global subprogram is verified before the main program, called
    /// or not; a call matches the registers against the BTF prototype
    /// argument by argument (`check_mem_reg` sizes, forward-declared
    /// pointees refused with `arg#%d reference type('%s %s') size cannot
    /// be determined`); the messages name no function (`Caller passes
    /// invalid args into func#%d`, `Func#%d is global and valid.
    /// Skipping.`); a call does not invalidate packet pointers. Not
    /// modelled: a program with a global subprogram is unsupported.
    #[serde(default)]
    pub global_funcs: bool,
    /// `bpf_get_local_storage`'s flags are checked to be zero but not made
    /// precise (6.12 marks them precise).
    #[serde(default)]
    pub local_storage_flags_imprecise: bool,
    /// 6.1's `__mark_chain_precision`: one walk per register or slot, in
    /// one frame; a mark already in a parent stays wanted and a parent
    /// gaining none ends the walk; `propagate_precision` walks only what
    /// the covering state read; its log lines (`last_idx`, `regs=%x
    /// stack=%llx before`, `parent didn't have …`). 6.12 walks a batch of
    /// registers of every frame.
    #[serde(default)]
    pub precision_chain: bool,
    /// `check_ptr_to_btf_access` lets a program without a GPL-compatible
    /// license read kernel structs (6.2+ refuses: `Cannot access kernel
    /// 'struct %s' from non-GPL compatible program`).
    #[serde(default)]
    pub btf_access_any_license: bool,
    /// `verbose_linfo` prints the source line alone (6.3+ appends ` @
    /// file:line`), and again for each new record on the same line (6.3+
    /// merges records of one line).
    #[serde(default)]
    pub linfo_plain: bool,
    /// `refsafe` compares the held references byte for byte (ids and
    /// acquiring instructions); 6.12 maps their ids (`check_ids`).
    #[serde(default)]
    pub refs_exact: bool,
    /// `regsafe`'s `check_ids` of 6.1: one-way (two old ids may map to one
    /// current id), ids of 0 mapped like others, a packet pointer's id
    /// only when the old one has one, a non-NULL map value's never.
    #[serde(default)]
    pub one_way_ids: bool,
    /// A `BPF_LD_[ABS|IND]` in a subprogram may leave it returning 0 (the
    /// JIT's hidden exit), walked first, the path past it queued; 6.12's
    /// source has no such exit (6.18 has it again,
    /// `Features::tail_call_exits_subprog`). A tail call does not leave.
    #[serde(default)]
    pub ld_abs_exits_subprog: bool,
    /// With `BPF_F_TEST_STATE_FREQ`, Debian's 6.1 prunes paths whose
    /// pointer ids differ from the checkpoint's where its source's
    /// `regsafe` should not (seen under QEMU on `id_in_regsafe_bad_access`
    /// and `null_check_ids_in_regsafe`; the cause is not found). Not
    /// modelled: such a load is unsupported.
    #[serde(default)]
    pub state_freq_pruning: bool,
    /// 6.1 has no allocated objects or graph kfuncs (they came with 6.2):
    /// `struct bpf_list_head` and `struct bpf_rb_root` are plain memory in
    /// its map values. Not modelled: such a map value, an allocation or
    /// graph kfunc call is unsupported.
    #[serde(default)]
    pub graph_objects: bool,
}

impl WalkV6_1 {
    /// Linux 6.1 (and older kernels, whose walk is not modelled at all).
    pub const V6_1: Self = Self {
        spill_rules: true,
        return_code_tnum: true,
        tnum_str_hex: true,
        st_ctx_refused: true,
        ptr_not_null_v6_1: true,
        stack_round_32: true,
        linked_scalars: true,
        state_print: true,
        callbacks_once: true,
        lock_rules: true,
        loops_without_entries: true,
        precision_across_calls: true,
        helper_arg_types: true,
        zero_size_checks: true,
        alloc_mem_ringbuf: true,
        sock_compare: true,
        var_off_stack: true,
        btf_tracing_args_plain: true,
        kptr_tags: true,
        global_funcs: true,
        local_storage_flags_imprecise: true,
        precision_chain: true,
        btf_access_any_license: true,
        linfo_plain: true,
        refs_exact: true,
        one_way_ids: true,
        ld_abs_exits_subprog: true,
        state_freq_pruning: true,
        graph_objects: true,
    };
}

/// What 7.x's walk does differently from 6.18's, one switch per behaviour,
/// each seen on Debian's 7.2.13 under QEMU (`fixtures/kernels/7.2.json`,
/// its logs in `fixtures/kernels/logs/7.2.json`) and read in its source.
/// The verifier models `recursion_before_walk` (before the walk),
/// `release_ref_message`, `kprobe_ctx_writes`, `null_check_by_register`
/// and `stats_insns_processed`; `const_fold_branches` and `stack_args` are
/// refused only for programs they change, `ctx_as_memory` and
/// `dynptr_args` at the instruction that meets them, the others for every
/// program (module
/// `walk_v7` of the verifier, `docs/walk-7.2.md`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct WalkV7 {
    /// A scalar's 64- and 32-bit ranges are circular numbers (`struct
    /// cnum64`/`cnum32`, `kernel/bpf/cnum.c`): one wrapped interval per
    /// width instead of the signed and unsigned pairs, so additions,
    /// subtractions, negations, the deductions between widths and the
    /// branch refinements give other bounds than 6.18's.
    pub cnum_scalars: bool,
    /// A pointer's fixed offset is part of its `var_off` (`reg->off` is
    /// gone): states print `imm=N` (`off=` is the link delta), messages
    /// lose a term (`misaligned value access off 4+0 size 8`), and packet
    /// accesses out of range say `R%d min value is outside of the allowed
    /// memory range` instead of `R%d offset is outside of the packet`.
    pub ptr_offset_in_var_off: bool,
    /// Before the walk, a forward constant analysis
    /// (`bpf_compute_const_regs`) turns every conditional jump it decides
    /// into a `goto` (`bpf_prune_dead_branches`): the log prints the
    /// rewritten jump, and the walk counts and checkpoints change.
    pub const_fold_branches: bool,
    /// 7.1's static stack liveness (`kernel/bpf/liveness.c`): each
    /// subprogram's stack uses and definitions are found before the walk,
    /// in the subprograms' topological order, and logged at level 2
    /// (`topo_order[N] = …`, `subprog#N: analyzing (depth D)...`, `stack
    /// use/def subprog#N … (dD,csN):` with `; use:`/`; def:` marks); 6.18's
    /// dataflow over the walk's call chains is gone.
    pub static_stack_liveness: bool,
    /// Recursion is refused before the walk by the topological sort of the
    /// call graph (`sort_subprogs_topo`: `recursive call from %s() to
    /// %s()`, `EINVAL`, no instruction processed) rather than by the call
    /// depth the walk reaches.
    pub recursion_before_walk: bool,
    /// A context pointer is a memory argument of helpers (`, ctx` ends the
    /// list of `R%d type=%s expected=…`); a syscall program's context is
    /// accessed as memory (variable and misaligned offsets, `R%d min value
    /// is outside of the allowed memory range`).
    pub ctx_as_memory: bool,
    /// Kprobe programs may write their `struct pt_regs` context
    /// (`kprobe_write_ctx`).
    pub kprobe_ctx_writes: bool,
    /// A comparison of a maybe-NULL pointer with a register known to be 0
    /// is a null check, as one with the constant 0 is.
    pub null_check_by_register: bool,
    /// Releasing an unreferenced pointer says `release helper %s expects
    /// referenced PTR_TO_BTF_ID passed to R%d` (6.18: `R%d must be
    /// referenced when passed to release function`).
    pub release_ref_message: bool,
    /// Stack arguments: loads and stores through `BPF_REG_PARAMS` (the
    /// register after R10) pass a subprogram's sixth and later arguments.
    pub stack_args: bool,
    /// At log level 4 the statistics add `insns processed N[+M…]` (per
    /// global subprogram) and `stack depth … max M`.
    pub stats_insns_processed: bool,
    /// 7.x's `process_dynptr_func`: arguments are named by register
    /// (`Expected an initialized dynptr as R3`, 6.18: `as arg #2`), a
    /// released dynptr's type is checked before its reference, and a
    /// constant dynptr refused release with `CONST_PTR_TO_DYNPTR cannot be
    /// released`.
    #[serde(default)]
    pub dynptr_args: bool,
}

impl WalkV7 {
    /// Linux 7.2.
    pub const V7_2: Self = Self {
        cnum_scalars: true,
        ptr_offset_in_var_off: true,
        const_fold_branches: true,
        static_stack_liveness: true,
        recursion_before_walk: true,
        ctx_as_memory: true,
        kprobe_ctx_writes: true,
        null_check_by_register: true,
        release_ref_message: true,
        stack_args: true,
        stats_insns_processed: true,
        dynptr_args: true,
    };

    /// The behaviours switched on, by name, most pervasive first.
    pub fn enabled(&self) -> Vec<&'static str> {
        [
            (self.cnum_scalars, "cnum_scalars"),
            (self.ptr_offset_in_var_off, "ptr_offset_in_var_off"),
            (self.static_stack_liveness, "static_stack_liveness"),
            (self.const_fold_branches, "const_fold_branches"),
            (self.recursion_before_walk, "recursion_before_walk"),
            (self.ctx_as_memory, "ctx_as_memory"),
            (self.kprobe_ctx_writes, "kprobe_ctx_writes"),
            (self.null_check_by_register, "null_check_by_register"),
            (self.release_ref_message, "release_ref_message"),
            (self.stack_args, "stack_args"),
            (self.stats_insns_processed, "stats_insns_processed"),
            (self.dynptr_args, "dynptr_args"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
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
