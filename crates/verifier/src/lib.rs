//! bpfcheck's verifier: a pure function from a load request and a kernel
//! profile to the verdict, error, log and statistics that kernel's
//! verifier would produce.
//!
//! [`verify`] reads no files, keeps no global state, and uses no `unsafe`.
//! The program arrives as a [`LoadRequest`] (what `BPF_PROG_LOAD` receives;
//! never an ELF) and everything about the kernel comes from the
//! [`KernelProfile`].
//!
//! # Kernel checks implemented
//!
//! Attribute checks of `bpf_prog_load` (syscall.c), no log written:
//! - unknown `prog_flags` bits (`EINVAL`); zero or too many instructions
//!   (`E2BIG`); unknown program type (`EINVAL`);
//! - `expected_attach_type` against the program type for programs without a
//!   BTF attach target (`bpf_prog_load_check_attach`); an `attach_btf_id`
//!   past `BTF_MAX_TYPE` or on a program type other than tracing, LSM,
//!   struct_ops and freplace (`EINVAL`).
//!
//! The passes of `bpf_check` before abstract interpretation, in order, with
//! the kernel's messages and errnos:
//! - `add_subprog_and_kfunc`: subprogram discovery from bpf-to-bpf calls and
//!   `ld_imm64` function references, `call to invalid destination`,
//!   `too many subprograms`, the `CAP_BPF` requirement, the level-2
//!   `func#N @M` table; `add_kfunc_call` (module `prepare::kfunc`) for
//!   each distinct kfunc the program calls, looked up once in the
//!   profile's kernel BTF and kfunc registrations (no index of all
//!   kfuncs is built): `cannot call kernel function from non-GPL
//!   compatible program`, `negative offset disallowed for kernel module
//!   function call` / `kfunc offset > 0 without fd_array is invalid` and
//!   `failed to find BTF for kernel function`, `too many different kernel
//!   function calls`, `kernel btf_id %u is not a function`, `kernel
//!   function btf_id %u does not have a valid func_proto`, `metadata
//!   kfuncs require device-bound program`; the prototype's argument count
//!   feeds `compute_live_registers` for kfuncs the program may call;
//! - `check_subprogs`: `jump out of range from insn %d to %d`,
//!   `last insn is not an exit or jmp`;
//! - `check_btf_info`'s `check_abnormal_return` without `func_info`:
//!   `LD_ABS is not allowed in subprogs without BTF`, `tail_call is not
//!   allowed in subprogs without BTF`, and with it (`check_btf_func`)
//!   `LD_ABS is only allowed in functions that return 'int'.`, `tail_call
//!   is only allowed in functions that return 'int'.`;
//! - `resolve_pseudo_ldimm64`: `BPF_LDX uses reserved fields`,
//!   `invalid bpf_ld_imm64 insn`, `unrecognized bpf_ld_imm64 insn`,
//!   `fd_idx without fd_array is invalid`, bad map references, direct
//!   map-value addressing (`direct value offset …`, `no direct value access
//!   support for this map type`, `invalid access to map value pointer …`),
//!   maps whose value type has BTF (the program's BTF, parsed once): the
//!   special fields of 6.18's `map_check_btf` mask are looked for as
//!   `btf_parse_fields` does (module `prepare::map_btf`: spin locks,
//!   timers, workqueues, task works, refcounts, kptrs and uptrs, list and
//!   rbtree roots, with their offsets, the map's record) and a value
//!   without any is plain memory; `check_map_prog_compatibility`'s rules
//!   for them (`socket filter progs cannot use bpf_spin_lock yet`,
//!   `tracing progs cannot use bpf_spin_lock yet`, `… bpf_timer yet` /
//!   `… bpf_wq yet` where the profile says so, `… bpf_{list_head,rb_root}
//!   yet`),
//!   the map/program compatibility rules that need no BTF (struct_ops maps,
//!   sleepable programs' map types), the per-program map limit, one cgroup
//!   storage per type, and `unknown opcode %02x`;
//! - `check_cfg`: `unreachable insn %d`, `jump into the middle of ldimm64
//!   insn %d`, `back-edge from insn %d to %d` when loops are not allowed;
//! - `compute_scc`: the strongly connected components of the CFG (the SCC
//!   column of the level-2 `Live regs before insn:` table);
//! - the first check of `check_attach_btf_id` on the 6.12, 6.18 and 7.2
//!   profiles: `Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and
//!   struct_ops programs can be sleepable` (`can_be_sleepable`; 7.x's
//!   longer list, with tracepoints, says `Program of this type cannot be
//!   sleepable`: the profile's `sleepable_tracepoints`) and `Syscall
//!   programs can only be sleepable`; then, for tracing and LSM programs,
//!   the target in the profile's kernel BTF (module `prepare::attach`,
//!   `bpf_check_attach_target`): `Tracing programs must provide btf_id`,
//!   `attach_btf_id %u is invalid`, `… is not a typedef` and `… points to
//!   wrong type name %s` (`tp_btf`: a `btf_trace_<name>` typedef), `… is
//!   not a function` (fentry, fexit, fmod_ret, iter, LSM), `%s is not
//!   sleepable` (LSM hooks outside `sleepable_lsm_hooks`), and LSM's
//!   `LSM programs must have a GPL compatible license`, `… points to
//!   disabled hook %s` and `… points to wrong type name %s` (by the
//!   profile's generated hook lists, `prepare::lsm`); iterator targets by
//!   the profile's registered targets (`prepare::iter_target`).
//!
//! What the 6.12 profile changes in the walk (features of
//! [`bpfcheck_profile::Features`], never version checks): 6.12's scalar
//! arithmetic (`scalar_arith`); no `Live regs before insn:` table
//! (`live_regs_table`); pruning liveness by read and write marks along the
//! states' parentage, printed in the states (`R1_w=`, `fp-8_rw=`) and
//! counted by `mark_read` (`static_liveness` off: module
//! `check::read_marks`); helper stack arguments always clobbered, bounds
//! errors as `invalid indirect access to stack`
//! (`helper_mem_access_types`); no non-NULL array lookups by constant key
//! (`array_lookup_not_null`); one `check_reg_sane_offset` for pointers and
//! numbers (`sane_offset_split`); `pkt_end` marks kept through arithmetic
//! (`pkt_arith_forgets_end`); every register sharing an id narrowed, live
//! or not (`linked_regs_live_only`); NULL helper arguments not marked
//! precise (`null_arg_precise`); loops found by loop entries instead of
//! SCCs (`scc_loops` off, module `check::loop_entry`): `update_loop_entry`
//! and `get_loop_entry` (with its shortening of the chain),
//! `update_branch_counts` handing a finished state's entry to its parent,
//! a finished checkpoint whose outermost entry is still explored compared
//! with 6.12's `RANGE_WITHIN` (every scalar's range, the same slot types
//! byte for byte, an uninitialised register only matching another) and
//! the path it covers joining the loop, no backedges, `SCC` lines or
//! fixed-point precision propagation, and 6.12's `peak_states` (states
//! taken less those freed at eviction: a cleaned one never named as a
//! loop entry).
//!
//! What the 6.1 profile changes in the walk (`Features::walk_v6_1`, see
//! `docs/walk-6.1.md`; module `check::v6_1`, gate `walk_v6_1`), on top of
//! the 6.12 switches: 6.1's spills and fills (`spill_rules`: only bounded
//! non-zero scalars spilled, zeros as `STACK_ZERO` made precise, narrow
//! fills unknown, a read of zeros a precise 0, backtracking only through
//! `R10`), `check_return_code` by `tnum_in` with tnum messages and no
//! precision (`return_code_tnum`), `tnum_strn` pairs in `misaligned`
//! messages (`tnum_str_hex`), `BPF_ST stores into R%d %s is not allowed`
//! (`st_ctx_refused`), 6.1's `reg_type_not_null` in `is_branch_taken`
//! (`ptr_not_null_v6_1`), 32-byte frame rounding in
//! `check_max_stack_depth` (`stack_round_32`), 6.1's linked scalars (ids
//! on every 64-bit copy, no offset links, no scalar ids in pruning, no
//! linked precision: `linked_scalars`), tail calls keeping packet pointers
//! and 6.1's sleepable rules, 6.1's log format (`state_print`: states as
//! `state::print_v6_1` prints them, slots scratched only by writes, a
//! `scalar += pointer` taking the pointer's liveness marks and parent
//! link), 6.1's precision walk and its log lines (`precision_chain`,
//! `check::precision_v6_1`), `bpf_get_local_storage`'s flags left
//! imprecise (`local_storage_flags_imprecise`), and references released by
//! moving the last into the gap (`Features::refs_release_swaps`, up to
//! 6.12). Not modelled, `unsupported` naming the switch: callbacks, spin locks and timers, loops, precision backtracking across
//! calls, helper argument type lists, zero-sized helper memory, ring
//! buffer memory and socket pointer comparisons with registers.
//!
//! `do_check` (module `check`) for the main program of a socket filter,
//! a tc classifier or action (`sched_cls`, `sched_act`), an XDP program, a
//! kprobe, tracepoint, raw tracepoint (also writable), BTF tracepoint
//! (`tp_btf`) or perf event program, a cgroup socket-buffer, socket, socket-address, socket-option,
//! device or sysctl program, a
//! lightweight-tunnel program (`lwt_in`, `lwt_out`, `lwt_xmit`,
//! `lwt_seg6local`), a `sock_ops`, a netfilter or a (sleepable) syscall
//! program, such as the loader program of a light skeleton, a socket
//! map program (`sk_skb`, `sk_msg`), a flow dissector, a reuseport
//! selector (`sk_reuseport`) or a socket lookup (`sk_lookup`) program,
//! loaded by a privileged user on the 6.18 and 6.12 profiles (the kernels
//! differ by profile features, see below), walking every path in
//! the kernel's order with the kernel's log:
//! - static bpf-to-bpf calls (module `check::subprog_call`):
//!   `check_func_call` (a new frame with the
//!   caller's `R1`–`R5`, the caller's `R0`–`R5` cleared, `the call stack
//!   of %d frames is too deep`, the level-1 `caller:`/`callee:` blocks),
//!   `prepare_func_exit` (`R0` returned, `cannot return stack pointer to
//!   the caller`, `returning from callee:`/`to caller at N:` and the
//!   `from X to Y:` state after the return), frame-qualified state
//!   print-outs, pointers into a caller's stack (`fp[N]-off`, loads,
//!   stores, spills and helper memory arguments through them), each
//!   subprogram's stack depth
//!   (`grow_stack_state`, the `stack depth A+B` statistics line) and
//!   `check_max_stack_depth` after the walk (`combined stack size of %d
//!   calls is %d. Too large`, `the call stack of %d frames is too deep !`,
//!   JIT rounding);
//! - synchronous callbacks of `bpf_loop` and `bpf_user_ringbuf_drain`
//!   (module `check::callback`; the latter's callback state below):
//!   `ld_imm64` of a function (`PTR_TO_FUNC`, `missing btf func_info`,
//!   `callback function not static`, `callback function cannot be the
//!   main program`), `ARG_PTR_TO_FUNC`, `ARG_SCALAR` and
//!   `ARG_PTR_TO_STACK` arguments, `update_loop_inline_state` (a zero
//!   `flags` made precise, and after the walk the three slots
//!   `optimize_bpf_loop` adds to the stack depth), `nr_loops` precise,
//!   `push_callback_call` with `set_loop_callback_state` (`cb` frames,
//!   `callback_depth`, `frame%d bpf_loop iteration limit reached`), the
//!   callback's exit back to the call (`R0 not a scalar value`, `At
//!   callback return the register R0 has … should have been in [0, 1]`,
//!   `widen_imprecise_scalars`), the call as a forced checkpoint where an
//!   iteration covered by one still explored ends as an SCC backedge
//!   (SCC visits keyed by call chain, `compute_scc_callchain`), precision
//!   backtracking through callback frames, and the stack liveness of the
//!   caller at the call itself;
//! - `bpf_for_each_map_elem` callbacks (same module):
//!   `set_map_elem_callback_state` (the map, `PTR_TO_MAP_KEY` and
//!   `PTR_TO_MAP_VALUE` of the element, the caller's context), `callback
//!   function not allowed for map` for maps other than arrays and hashes,
//!   return in `[0, 1]`; map key pointers (module `check::map_key`):
//!   loads within the key size (`invalid access to map key, key_size=%d
//!   off=%d size=%d`), `write to change key R%d not allowed`, helper
//!   reads of them and `R%d cannot write into map_key`, their
//!   arithmetic, print-out and pruning;
//! - `bpf_timer` in map values (module `check::timer`): the field's
//!   bytes refused to loads, stores and helpers (`bpf_timer cannot be
//!   accessed directly by load/store`), `ARG_PTR_TO_TIMER`
//!   (`process_timer_func`: `R%d type=%s expected=map_value`, `R%d
//!   doesn't have constant offset. bpf_timer has to be at the constant
//!   offset`, `map '%s' has to have BTF in order to use bpf_timer`, `map
//!   '%s' has no valid bpf_timer`, `off %lld doesn't point to 'struct
//!   bpf_timer' that is at %d`), `bpf_timer_init`'s map (`timer pointer in
//!   R1 map_uid=%d doesn't match map pointer in R2 map_uid=%d`), and
//!   `bpf_timer_set_callback`'s callback as an async callback
//!   (`push_async_cb`: a path of its own from a fresh state, frame 0
//!   running the callback with the map, key and value, no references, not
//!   sleepable; `async_entry_cnt` in the infinite-loop check; `At async
//!   callback return the register R0 …should have been in [0, 0]`; its
//!   subprogram a root of its own in `check_max_stack_depth`);
//! - subprograms with BTF `func_info` (module `check::btf_func`):
//!   `btf_prepare_func_args` for scalar, context (`struct __sk_buff *`)
//!   and, for global functions, memory arguments (`PTR_TO_MEM` maybe NULL,
//!   sized by BTF; module `check::mem_arg`: `check_mem_reg` on the
//!   caller's stack or map value, the callee's null check, loads and
//!   stores, `invalid access to memory, mem_size=%u off=%d size=%d`,
//!   `R%d invalid mem access 'mem_or_null'`) and scalar returns,
//!   `btf_check_subprog_call` at each call
//!   (`R%d is not a scalar`, `arg#%d expects pointer to ctx`, static
//!   functions marked unreliable, silently where the kernel is silent),
//!   global functions (`Func#%d ('%s') is global and assumed valid.`, an
//!   unknown `R0`, `Caller passes invalid args into func#%d ('%s')`) and
//!   `do_check_subprogs` (`Validating %s() func#%d...`, a walk from the
//!   prototype's arguments, `Func#%d ('%s') is safe for any args that
//!   match its prototype`, level-1 logs reset after each successful walk,
//!   precision stopping at a global function's arguments), and the main
//!   program's prototype (`Global function %s() doesn't return scalar.
//!   Only those are supported.` and the other refusals it logs);
//! - per instruction, the encoding checks in kernel order interleaved with
//!   `check_reg_arg` (`R%d !read_ok`, `R%d is invalid`, `frame pointer is
//!   read only`), only on instructions a path reaches;
//! - ALU/ALU64 on scalars through [`domain`] (including the and/or fork of
//!   a value known to be -1 or 0), register copies with scalar ids
//!   (`assign_scalar_id_before_mov`, `BPF_ADD_CONST`), pointer copies,
//!   32-bit copies of pointers, pointer differences, negated or
//!   byte-swapped pointers (unknown numbers);
//! - pointer arithmetic (module `check::ptr_alu`, `adjust_ptr_min_max_vals`)
//!   on context, stack, map value, sized memory and map
//!   pointers, `pointer += scalar` and `scalar += pointer`: fixed and
//!   variable offsets, the refusals (`R%d 32-bit pointer arithmetic
//!   prohibited`, `R%d pointer arithmetic on %s prohibited[, null-check it
//!   first]`, `R%d pointer %s pointer prohibited`, `R%d subtraction from
//!   stack pointer prohibited`, `R%d tried to subtract pointer from
//!   scalar`, `R%d bitwise operator %s on pointer prohibited`, `R%d pointer
//!   arithmetic with %s operator prohibited`) and `check_reg_sane_offset`'s
//!   (`math between %s pointer and …`, `%s pointer offset %d is not
//!   allowed`, `value %lld makes %s pointer be out of bounds`); a moved
//!   context pointer (`ctx(off=…,smin=…)`) refused where it is used
//!   (`check_ptr_off_reg`: `negative offset ctx ptr R%d off=%d disallowed`,
//!   `dereference of modified ctx ptr R%d off=%d disallowed`, `variable ctx
//!   access var_off=%s disallowed`, also as a helper's context argument);
//!   `same insn cannot be used with different pointers`
//!   (`save_aux_ptr_type`);
//! - conditional jumps with a pointer operand (module `check::ptr_jmp`):
//!   `is_branch_taken`'s rule for a non-NULL pointer (map, map value,
//!   sized memory, not moved out of `±BPF_MAX_VAR_OFF`) against 0, null
//!   checks, both branches with nothing learned otherwise, stack pointer
//!   operands kept out of precision backtracking
//!   (`INSN_F_DST_REG_STACK`/`INSN_F_SRC_REG_STACK`); a register compared
//!   with itself when the comparison is decided;
//! - `LDX`/`STX`/`ST` on the stack at constant offsets: alignment,
//!   `invalid read from/write to stack`, spills and fills (full, narrow,
//!   misaligned), `STACK_MISC`/`STACK_ZERO`, reads of never-written slots,
//!   `invalid size of register spill/fill`; `R%d invalid mem access 'scalar'`;
//! - stack pointers with variable offsets (module `check::stack_var`,
//!   printed `fp(off=…,smin=…,var_off=…)`): `check_stack_access_within_bounds`
//!   (`invalid unbounded variable-offset %s stack R%d`, `invalid
//!   variable-offset %s stack R%d var_off=%s off=%d size=%d`), strict
//!   alignment, `check_stack_read_var_off` (every byte in range readable,
//!   a known zero when all are `STACK_ZERO`), `check_stack_write_var_off`
//!   (dynptrs destroyed, spills forgotten, bytes `STACK_MISC` or kept zero
//!   with the written zero made precise), helper memory through them
//!   (never raw; `invalid [indirect ]read from stack R%d var_off %s+%d size
//!   %d`; 6.12's helper clobbering by `helper_mem_access_types`), `dynptr has
//!   to be at a constant offset`;
//! - map-in-map and `XSKMAP` lookups (module `check::map_in_map`): the
//!   inner map's meta map (no name) as a map of its own,
//!   `map_ptr_or_null` on 6.18 or a `map_value_or_null` of the outer map
//!   turned into the inner `map_ptr` by its null check on 6.12
//!   (`Features::map_in_map_lookup_map_ptr`), `xdp_sock_or_null` on 6.18
//!   (`Features::sockmap_lookup_socket`); a maybe-NULL pointer found
//!   equal to a non-NULL pointer is not NULL on that branch (its id kept);
//!   the refusals of `check_ptr_to_map_access` before its BTF walk for
//!   array and hash maps (`R%d is %s invalid negative access: off=%d`,
//!   `only read from %s is supported`);
//! - `ld_imm64` constants and map references (`CONST_PTR_TO_MAP`, direct
//!   `PTR_TO_MAP_VALUE`, printed as kernel-length addresses); `ja`/`gotol`;
//!   `exit` (R0 must be readable) with 6.18's `check_return_code` (module
//!   `check::retval`): the `return_retval_range` of cgroup socket-buffer
//!   programs (0..3 on egress, else 0..1), cgroup socket and `sock_ops`
//!   programs (0..1), socket-option, device and sysctl programs (0..1),
//!   socket-address
//!   programs by attach type (1 for
//!   `recvmsg`/`getpeername`/`getsockname`, 0..3 for `bind`, else 0..1),
//!   netfilter (`NF_DROP`..`NF_ACCEPT`) and kprobe/uprobe sessions (0..1),
//!   the precision of R0 (`mark_chain_precision`), `At program exit the
//!   register R0 is not a known value (%s)` and `At program exit the
//!   register R0 has smin=%lld smax=%lld should have been in [%d, %d]`
//!   (or `unknown scalar value`); the other types return anything;
//! - helper calls through the profile's prototypes and per-program-type
//!   availability (`invalid func`, `program of this type cannot use
//!   helper`, GPL-only, `might_sleep`, the `allowed` callbacks of
//!   `bpf_d_path` and `bpf_ima_inode_hash` for a program without attach
//!   target: `helper call is not allowed in probe`, module
//!   `check::helper_allowed`), arguments `ARG_ANYTHING`, `ARG_SCALAR`
//!   (any register on 6.18, `scalar_arg_typed`),
//!   `ARG_PTR_TO_CONST_STR`'s register type (`R%d type=%s
//!   expected=map_value`; the string itself is unsupported),
//!   `ARG_CONST_MAP_PTR`, `ARG_PTR_TO_CTX`, `ARG_PTR_TO_MAP_KEY/VALUE` from
//!   the stack or a map value (`R%d type=%s expected=%s`, `invalid map_ptr
//!   to access map->key`, stack bounds), `ARG_PTR_TO_MAP_VALUE |
//!   MEM_UNINIT | MEM_WRITE` (queue/stack pop and peek: bounds only, the
//!   bytes written after the arguments), the constant array key that drops
//!   `PTR_MAYBE_NULL` (`get_constant_map_key`, STACK_ZERO keys), returns
//!   `RET_INTEGER`/`RET_VOID`/`RET_PTR_TO_MAP_VALUE[_OR_NULL]` with a fresh
//!   id, `R1`–`R5` clobbered; the map helpers with hash and array maps;
//!   liveness uses each prototype's argument count; a spilled constant
//!   array key (its slot marked precise); `ARG_CONST_ALLOC_SIZE_OR_ZERO`
//!   (`R%d is not a known constant'`) and `ARG_PTR_TO_CTX | PTR_MAYBE_NULL`;
//!   BTF-typed pointers (module `check::helper_btf`): `ARG_PTR_TO_BTF_ID`,
//!   `ARG_PTR_TO_PERCPU_BTF_ID` and BTF pointers for
//!   `ARG_PTR_TO_BTF_ID_SOCK_COMMON` (`check_reg_type`'s type lists,
//!   `Possibly NULL pointer passed to helper arg%d`, `R%d is of type %s
//!   but %s is expected` through `btf_struct_ids_match`,
//!   `check::btf_match`, and `check_func_arg_reg_off`), returns
//!   `RET_PTR_TO_BTF_ID[_OR_NULL|_TRUSTED]` and `RET_PTR_TO_MEM_OR_BTF_ID`
//!   of a per-CPU struct, the `bpf_skc_to_*` casts sharing their
//!   argument's reference, `bpf_find_vma`'s callback (6.12 and later;
//!   6.1 is unsupported); the local storage helpers (`bpf_sk_storage_get`,
//!   `bpf_task_storage_get`, … and their deletes) on their storage maps,
//!   with an `ARG_PTR_TO_MAP_VALUE | PTR_MAYBE_NULL` initial value;
//! - kfunc calls (module `check::kfunc`, `check_kfunc_call` and
//!   `check_kfunc_args`), printed by name (`call bpf_rcu_read_lock#N`):
//!   `calling kernel function %s is not allowed` from the profile's
//!   registrations (`bpfcheck_profile::kfuncs`: the common hook, then the
//!   program type's), `program must be sleepable to call sleepable kfunc
//!   %s`, `Function %s has %d > %d args`, scalar arguments (`R%d is not a
//!   scalar`, `__k`: `R%d must be a known constant` and precision,
//!   `__ign`), `Unrecognized arg#%d type %s`, `Possibly NULL pointer
//!   passed to trusted arg%d` (where the data knows the flags), NULL for
//!   `__nullable`/`__opt`, the program's context (`arg#%d expected pointer
//!   to ctx, but got %s`, a moved context), `arg#%d pointer type %s %s must
//!   point to %sscalar, or struct with scalar`; `void`, scalar and `void *`
//!   returns, `R0`–`R5` clobbered, packet pointers dropped by
//!   `bpf_xdp_pull_data`, precision backtracking through the call; the
//!   regions of `bpf_rcu_read_lock`/`unlock` (`nested rcu read lock
//!   (kernel function %s)`, `unmatched rcu read unlock …`) and
//!   `bpf_preempt_disable`/`enable` (nested, `unmatched attempt to enable
//!   preemption …`), part of state equivalence, and `check_resource_leak`'s
//!   `%s cannot be used inside bpf_rcu_read_lock-ed region` /
//!   `bpf_preempt_disable-ed region` at exit, tail calls and `LD_ABS` (6.12:
//!   `bpf_rcu_read_unlock is missing`, `%d bpf_preempt_enable%s missing`);
//! - open-coded iterators of the types whose elements are memory
//!   (`bpf_iter_num`, `bpf_iter_bits`; module `check::iter`) on the 6.18
//!   profile: `process_iter_arg` for `KF_ITER_NEW`/`NEXT`/`DESTROY`
//!   kfuncs and `__iter` arguments (`arg#%d expected pointer to an
//!   iterator on stack`, `cannot pass in iter at an offset=%d`, `expected
//!   uninitialized iter_%s as arg #%d`, `expected an initialized iter_%s
//!   as arg #%d`), `STACK_ITER` slots (the constructor's 8-byte writes, a
//!   reference per iterator released by `_destroy` with the elements
//!   taken from it, `fp-8=iter_num(ref_id=…,state=…,depth=…)` in the log,
//!   stores scrubbing them to data, loads and helper reads of them
//!   refused, `Unreleased reference` at exit); `_next` returning read-only
//!   memory of the element's size tied to the iterator's reference;
//!   `process_iter_next_call` (the drained path with `R0` zero, the
//!   active one queued one level deeper with its imprecise scalars
//!   widened against the previous iteration), the forced checkpoint at
//!   every `_next` call, where an active iterator in a state an unfinished
//!   checkpoint covers with `RANGE_WITHIN` ends the path as an SCC
//!   backedge, and `iter_active_depths_differ` in the infinite-loop check;
//!   iterator slots in `stacksafe` (type, state and reference, never the
//!   depth);
//! - helpers and maps (module `check::map_call`): `record_func_map`
//!   (`write into map forbidden`, device maps being read-only),
//!   `record_func_key` (a tail call's constant index is precise),
//!   `bpf_get_local_storage` (`get_local_storage() doesn't support
//!   non-zero flags`, a non-null value), `check_map_func_compatibility`
//!   in both directions from the profile's table
//!   (`bpfcheck_profile::map_compat`: `cannot pass map_type %d into func
//!   %s#%d`, `cannot update sockmap in this context`); the pairs whose
//!   effect is modelled: map lookups, updates and deletes on hash and
//!   array maps, push/pop/peek on queue and stack maps,
//!   `bpf_map_lookup_percpu_elem` on per-CPU maps, cgroup storage, ring
//!   buffer output, perf event output and
//!   reads, stack ids, cgroup arrays, `bpf_redirect_map`, the socket map
//!   helpers (`bpf_sk_redirect_map`/`_hash`, `bpf_msg_redirect_map`/`_hash`,
//!   `bpf_sock_map_update`, `bpf_sock_hash_update`,
//!   `bpf_sk_select_reuseport`), lookups in socket maps and hashes, tail
//!   calls in programs without subprograms (leaving packet pointers alone);
//!   `bpf_get_smp_processor_id` returns `[0, nr_cpu_ids - 1]` from the
//!   profile's `possible_cpus`;
//! - spin locks in map values (module `check::spin_lock`):
//!   `process_spin_lock` (`R%d doesn't have constant offset…`, `map '%s'
//!   has to have BTF…`, `… has no valid bpf_spin_lock`, `off %lld doesn't
//!   point to 'struct bpf_spin_lock' that is at %d`, `bpf_spin_unlock
//!   without taking a lock`, `bpf_spin_unlock of different lock`), the
//!   lock held by map and pointer id (`refs=N` in state print-outs, ids
//!   kept through null checks and given to non-null lookups,
//!   `refsafe` in pruning), `function calls are not allowed while holding
//!   a lock`, `global function calls are not allowed while holding a
//!   lock`, `… cannot be used inside bpf_spin_lock-ed region` at the main
//!   program's exit and `BPF_LD_[ABS|IND]`, and `bpf_spin_lock cannot be
//!   accessed directly by load/store` for loads, stores and helper
//!   accesses touching the lock;
//! - allocated objects (module `check::alloc`): `bpf_obj_new_impl`,
//!   `bpf_percpu_obj_new_impl` and their drops, `bpf_refcount_acquire_impl`
//!   on types of the program's BTF (`PTR_TO_BTF_ID | MEM_ALLOC`, printed
//!   `ptr_<type>`, with `MEM_PERCPU` for per-CPU objects), their
//!   messages, and loads and stores of scalar members (`direct access to
//!   %s is disallowed` for the type's special fields); graph roots
//!   (`bpf_list_head`, `bpf_rb_root`) in map values with a valid
//!   `contains:` tag and their lock (module `prepare::graph_btf`), the
//!   root argument of the graph kfuncs (`bpf_spin_lock at off=%d must be
//!   held for %s`, module `check::graph`), and the kfuncs a held lock
//!   forbids;
//! - kptrs to kernel types in map values (modules `prepare::kptr_btf`,
//!   `check::kptr`): the pointee found by name in the kernel's BTF, a
//!   destructor kfunc for referenced ones; `check_map_access`'s rules
//!   (`kptr cannot be accessed indirectly by helper`, `kptr access cannot
//!   have variable offset`, `kptr access misaligned expected=%u
//!   off=%llu`, `kptr access size must be BPF_DW`), `check_map_kptr_access`
//!   (loads give `untrusted_ptr_or_null_` or, for referenced RCU-protected
//!   types inside an RCU section, `rcu_ptr_or_null_` pointers; `store to
//!   referenced kptr disallowed`, `BPF_ST imm must be 0 when storing to
//!   kptr at off=%u`, stores of NULL made precise, `… only be accessed
//!   using BPF_MEM instruction mode`), `map_kptr_match_type` (`invalid
//!   kptr access, R%d type=%s%s expected=%s%s`, the offset checks,
//!   `btf_struct_ids_match` strict or through nested first members), and
//!   `bpf_kptr_xchg` (`process_kptr_func`'s messages, the released
//!   source, the acquired `ptr_or_null_` result, `Unreleased reference`);
//! - helper memory arguments (`ARG_PTR_TO_MEM` with `MEM_RDONLY`,
//!   `MEM_UNINIT`, `MEM_WRITE`, `MEM_FIXED_SIZE`, `MEM_ALIGNED`,
//!   `PTR_MAYBE_NULL`, sized by `ARG_CONST_SIZE[_OR_ZERO]`) on the stack
//!   and map values: `check_mem_size_reg` (`R%d min value is negative,
//!   either use unsigned or 'var &= const'`, `R%d invalid zero-sized read:
//!   u64=[%lld,%lld]`, `R%d unbounded memory access, use 'var &= const' or
//!   'if (var < const)'`, precision of the size), `check_helper_mem_access`
//!   (`invalid read from/write to stack R%d off=%d size=%d` with 6.18's
//!   errnos, `write into map forbidden`, empty accesses through NULL),
//!   6.14+'s access types (read-only arguments keep spills, written ones
//!   turn bytes into `STACK_MISC`; the fib lookups' parameter block,
//!   `bpf_sysctl_get_name`'s, `bpf_read_branch_records`', `bpf_d_path`'s,
//!   `bpf_snprintf_btf`'s and `bpf_snprintf`'s buffers are, as 6.18
//!   declares them; raw tracepoints' `bpf_get_stack` buffer is
//!   uninitialised memory on 6.18), the byte-wise stores after an
//!   uninitialised-memory argument, `do_refine_retval_range` of the
//!   `*_str` and stack helpers, and `bpf_ringbuf_output` on ring buffers;
//! - atomics (`add`/`or`/`and`/`xor` with and without fetch, `xchg`,
//!   `cmpxchg`, `load_acquire`, `store_release`) on the stack and map
//!   values: the check-only read, the fetch, the unknown store, strict
//!   alignment of map values, `BPF_ATOMIC stores into/loads from R%d %s is
//!   not allowed`, their registers in the liveness table and precision
//!   backtracking (atomic fetches only where the 6.18.y stable releases
//!   agree);
//! - map values: null checks against 0 (`mark_ptr_or_null_regs` over all
//!   copies), `R%d invalid mem access 'map_value_or_null'`, loads and
//!   stores with `check_map_access_type`/`check_mem_region_access`
//!   (`invalid access to map value …`, `R%d min/max value is outside of
//!   the allowed memory range`, negative and unbounded indices), pointer
//!   arithmetic by constants and bounded scalars (`R%d pointer arithmetic
//!   on %s prohibited, null-check it first`), loads from frozen
//!   `BPF_F_RDONLY_PROG` arrays as constants (`bpf_map_direct_read`), and
//!   state comparison of map pointers;
//! - conditional jumps between scalars whose outcome is open: the queued
//!   branch, refinement of both sides, `sync_linked_regs` over the live
//!   linked registers (6.18.y `collect_linked_regs`);
//! - context access (`invalid bpf_context access off=%d size=%d`): socket
//!   filters (`sk_filter_is_valid_access`: narrow reads of `struct
//!   __sk_buff` fields, reads and writes of `cb[]`), tc
//!   (`tc_cls_act_is_valid_access` over the whole `bpf_skb_is_valid_access`:
//!   the fields tc may write, `tstamp`/`hwtstamp`/`tstamp_type` sizes,
//!   narrow reads, no sign-extending loads of the packet fields) and XDP
//!   (`xdp_is_valid_access`: whole words, no writes, `egress_ifindex` for
//!   device-map programs only); `data`, `data_meta` and `data_end` load
//!   `pkt(r=0)`, `pkt_meta(r=0)` and `pkt_end()`; the tracing types
//!   (module `check::ctx_trace`, all read-only, every read a scalar):
//!   kprobes (`kprobe_prog_is_valid_access`: aligned reads inside the
//!   168-byte `struct pt_regs`), tracepoints (`tp_prog_is_valid_access`:
//!   reads starting past the 8-byte header and before
//!   `PERF_MAX_TRACE_SIZE`), raw tracepoints (`bpf_tracing_ctx_access`:
//!   reads starting among the 12 `u64` arguments; the writable kind's
//!   first word only as a whole 8-byte read) and perf events
//!   (`pe_prog_is_valid_access`: whole registers, narrow reads of
//!   `sample_period` and `addr`); `tp_btf`, `fentry` and `fexit` programs
//!   (module `check::btf_ptr`, `btf_ctx_access` over the tracepoint's or
//!   the traced function's prototype; `fexit` also reads the return value
//!   in the slot after the arguments; a traced function's pointer
//!   arguments are flagless `ptr_`, a tracepoint's trusted, 6.1's all
//!   flagless; `prepare::attach` refuses what `btf_distill_func_proto`
//!   refuses, with its messages, and answers `unsupported` for targets on
//!   the configuration-dependent deny lists):
//!   `func '%s' offset %d is not multiple of 8`, `… doesn't have %d-th
//!   argument`, `… has type %s. Only pointer access is allowed`, `… size
//!   %d must be 8`, `… type %s is not a struct`; a pointer to a struct
//!   loads `trusted_ptr_<struct>()` after the `func '%s' arg%d has btf_id
//!   %d type %s '%s'` line, `void *` and integer pointers load numbers;
//!   BTF pointers (`PTR_TO_BTF_ID`, `state::btf_ptr`: trusted, RCU,
//!   untrusted, user and per-CPU flags printed as `reg_type_str` prints
//!   them, `or_null_` when maybe NULL): loads through them
//!   (`check_ptr_to_btf_access`, module `check::btf_walk` for
//!   `btf_struct_walk`: nested structs and unions, linearised arrays,
//!   trailing flexible arrays, bitfields; `R%d is ptr_%s invalid negative
//!   access`, `… invalid variable offset`, `… access user memory`, `…
//!   access percpu memory`, `access beyond struct %s at off %u size %u`,
//!   `cannot access ptr member %s …`, `access beyond the end of member %s
//!   …`, `struct %s doesn't have field at offset %d`), the trust of a
//!   loaded pointer (untrusted stays so; from a trusted or RCU pointer the
//!   fields named by the kernel's `<struct>__safe_trusted[_or_null]` and
//!   `__safe_rcu[_or_null]` BTF types keep trust, `__rcu` fields give
//!   `rcu_ptr_or_null_`, others flagless or, with the profile's
//!   `btf_walk_untrusted` (6.17+), untrusted), null checks, pointer
//!   arithmetic, `regs_exact` pruning, `bpf_rcu_read_unlock` turning RCU
//!   pointers untrusted; cgroup socket-buffer programs (module
//!   `check::ctx_cgroup`, `cg_skb_is_valid_access`: no `tc_classid`,
//!   `data_meta`, `wire_len`; writes of `mark`, `priority`, `cb[]`,
//!   `tstamp`; socket addresses whole, `family` and ports narrowly;
//!   `data`/`data_end` load packet pointers into a read-only packet,
//!   `cannot write into packet`); lightweight-tunnel programs
//!   (`lwt_is_valid_access`: no `tc_classid`, socket fields, `data_meta`,
//!   timestamps, `wire_len`; writes of `mark`, `priority`, `cb[]`; the
//!   packet writable by `lwt_xmit` only); socket-option programs
//!   (`cg_sockopt_is_valid_access`: `optval`/`optval_end` load packet
//!   pointers to the option buffer, which any helper may take; `retval`
//!   for `getsockopt` only, `level`/`optname` set by `setsockopt` only,
//!   `optlen` set by both); device programs
//!   (`cgroup_dev_is_valid_access`: three read-only words, the access type
//!   also narrowly) and sysctl programs (`sysctl_is_valid_access`:
//!   `write` read-only, `file_pos` written whole, both read narrowly);
//!   cgroup socket programs (module
//!   `check::ctx_sock`, `sock_filter_is_valid_access`: `struct bpf_sock`
//!   by `bpf_sock_is_valid_access`, `bound_dev_if`/`mark`/`priority` only
//!   at socket creation and release, source address and port read-only
//!   after bind; no attach type means creation) and socket-address
//!   programs (`sock_addr_is_valid_access`: the address fields of the
//!   attach type's family, 8-byte access inside the IPv6 addresses,
//!   narrow reads, whole-word writes; `user_family`, `family`, `type`,
//!   `protocol` whole and read-only); `sock_ops` programs
//!   (`sock_ops_is_valid_access`: whole words but `skb_tcp_flags`, the
//!   8-byte counters and `skb_hwtstamp`, writes of `reply` and
//!   `sk_txhash`); netfilter programs (`nf_is_valid_access`: the two
//!   pointers of `struct bpf_nf_ctx`, read whole, trusted BTF pointers to
//!   `nf_hook_state` and `sk_buff`); writable raw tracepoints (the
//!   buffer pointer `tp_buffer`, moved by constants, read and written at
//!   non-negative fixed offsets: `check_tp_buffer_access`); loads through
//!   a map pointer (`check_ptr_to_map_access`: the map type's kernel
//!   struct walked in the kernel's BTF, numbers or BTF pointers,
//!   untrusted on 6.17+); syscall programs
//!   (`syscall_prog_is_valid_access`: the caller's buffer, read and
//!   written at any offset below `U16_MAX` that is a multiple of the
//!   size; as in 6.12, 6.18 has no variable context offsets for them, and
//!   the context is no memory argument of a helper; their helpers are
//!   `bpf_sys_bpf`, `bpf_sys_close`, `bpf_btf_find_by_name_kind`,
//!   `bpf_kallsyms_lookup_name` and the tracing ones, from the profile;
//!   any return value); the socket-level types (module `check::ctx_sk`):
//!   `sk_skb` (`sk_skb_is_valid_access`: no `mark`, `tc_classid`,
//!   `data_meta`, timestamps or `wire_len`; writes of `tc_index` and
//!   `priority` only; `data`/`data_end` load packet pointers into a
//!   writable packet, `sk` a `sock_common_or_null`), `sk_msg`
//!   (`sk_msg_is_valid_access`: read-only, 8-byte `data`/`data_end`
//!   packet pointers and `sk` (a `sock`, never NULL), every other field a
//!   whole word), the flow dissector (`flow_dissector_is_valid_access`:
//!   only `data`, `data_end` and `flow_keys`; the packet read-only; the
//!   flow keys, module `check::flow_keys`, read and written inside their
//!   56 bytes, `invalid access to flow keys off=%d size=%d`, moved by
//!   known constants only, `R%d pointer arithmetic on flow_keys
//!   prohibited`, no atomics), `sk_reuseport`
//!   (`sk_reuseport_is_valid_access`: narrow reads, `eth_protocol` at
//!   least 2 bytes, `hash` whole, `sk` a `sock`, `migrating_sk` a
//!   `sock_common_or_null`, a read-only packet) and `sk_lookup`
//!   (`sk_lookup_is_valid_access`: `sk` a `sock_or_null`, narrow reads,
//!   `remote_port` also whole and its padding readable; return values
//!   `SK_DROP`..`SK_PASS`);
//! - direct packet access (module `check::packet`): packet pointer
//!   arithmetic with constants (fixed offset, range and id kept) and
//!   bounded scalars (a fresh id, range reset), `scalar += pkt`, the
//!   refusals of `adjust_ptr_min_max_vals` (`R%d pointer arithmetic on
//!   pkt_end prohibited`, `R%d bitwise operator %s on pointer prohibited`,
//!   `R%d pointer arithmetic with %s operator prohibited`, `R%d tried to
//!   subtract pointer from scalar`) and of `check_reg_sane_offset` (`math
//!   between pkt pointer and …`, `value %lld makes pkt pointer be out of
//!   bounds`); comparisons of `pkt` against `pkt_end` and of `pkt_meta`
//!   against `pkt`, in every order and with `<`, `<=`, `>`, `>=`
//!   (`try_match_pkt_pointers`, `find_good_pkt_pointers` over every
//!   register and spilled slot of the same type and id, `MAX_PACKET_OFF`,
//!   `mark_pkt_end` and the branches `is_pkt_ptr_branch_taken` decides),
//!   other comparisons of packet pointers with each other or with unlinked
//!   numbers (a plain fork); loads, stores and helper memory arguments in
//!   packets (`check_packet_access`: `R%d min value is negative, either use
//!   unsigned index or do a if (index >=0) check.`, `invalid access to
//!   packet, off=%d size=%d, R%d(id=%d,off=%d,r=%d)` then `R%d offset is
//!   outside of the packet`, `R%d invalid mem access 'pkt_end'`, `helper
//!   access to the packet is not allowed` for prototypes without
//!   `pkt_access`, atomics refused); the helpers that change packet data
//!   turn every packet pointer into an unknown number
//!   (`clear_all_pkt_pointers`); `regsafe` of packet pointers (range at
//!   least the old one, the at/beyond-end markers only themselves, same
//!   offset, id map, bounds);
//! - socket pointers and references (module `check::sock`, the list in
//!   `state::refs`): `sock`, `sock_common`, `tcp_sock` and their
//!   `_or_null` forms from `__sk_buff.sk`, `bpf_sock_ops.sk`,
//!   `bpf_sock_addr.sk`, `bpf_sockopt.sk`, the socket-level contexts and
//!   the helpers returning
//!   `RET_PTR_TO_SOCKET`/`SOCK_COMMON`/`TCP_SOCK`; lookups in socket maps
//!   and hashes (module `check::sock_map`: a referenced `sock_or_null` on
//!   6.18, a referenced `map_value_or_null` that a null check makes a
//!   `sock` on 6.12); `bpf_sk_lookup_tcp`,
//!   `bpf_sk_lookup_udp` and `bpf_skc_lookup_tcp` acquire a reference
//!   (`acquire_reference`, `ref_obj_id`), `bpf_sk_fullsock` and
//!   `bpf_tcp_sock` share their argument's, `bpf_get_listener_sock` has
//!   none; `OBJ_RELEASE` arguments (`R%d must be referenced when passed to
//!   release function`, `func %s#%d reference has not been acquired
//!   before`) release it and turn every copy into an unknown number
//!   (`release_reference`), a NULL lookup result holds nothing; the
//!   argument kinds `ARG_PTR_TO_SOCKET`, `ARG_PTR_TO_SOCK_COMMON`,
//!   `ARG_PTR_TO_BTF_ID_SOCK_COMMON` (and a socket map's value) with the
//!   kernel's lists of expected types; field loads by
//!   `bpf_sock_is_valid_access`, `bpf_sock_common_is_valid_access`,
//!   `bpf_tcp_sock_is_valid_access`, `bpf_xdp_sock_is_valid_access` (`R%d
//!   invalid %s access off=%d size=%d`, `R%d cannot write into %s`, `R%d
//!   invalid mem access '%s_or_null'`), `R%d pointer arithmetic on %s
//!   prohibited[, null-check it first]`; null checks over every copy;
//!   `refs=` in state print-outs, `refsafe` and `regs_exact` of socket
//!   pointers when pruning; comparisons of two socket pointers (where
//!   they are equal, an `_or_null` one against a checked one is not NULL,
//!   `mark_ptr_not_null_reg`) and of a socket pointer with a number (a
//!   checked socket against 0 is decided); `Unreleased reference id=%d alloc_insn=%d`
//!   then `BPF_EXIT instruction in main prog`, `tail_call` or
//!   `BPF_LD_[ABS|IND]` `would lead to reference leak`
//!   (`check_resource_leak`);
//! - ring buffer records (module `check::ringbuf`): `bpf_ringbuf_reserve`
//!   returns `ringbuf_mem_or_null` of the constant size
//!   (`ARG_CONST_ALLOC_SIZE_OR_ZERO`) holding an acquired reference
//!   (`id` and `ref_obj_id`, the `Unreleased reference` of a path that
//!   keeps it); `bpf_ringbuf_submit`/`_discard` take it by
//!   `ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE` (`R%d type=%s
//!   expected=ringbuf_mem`, `R%d must have zero offset when passed to
//!   release func or trusted arg to kfunc`) and release it, every copy
//!   becoming an unknown number; `PTR_TO_MEM` of any flags (`rdonly_`,
//!   `ringbuf_`) is loaded from, stored to (`R%d cannot write into %s`),
//!   moved by constants and bounded numbers and passed as helper memory
//!   with `check_mem_region_access` (`invalid access to memory,
//!   mem_size=%u off=%d size=%d`, `R%d min/max value is outside of the
//!   allowed memory range`, negative and unbounded offsets), and compared
//!   in pruning with its flags, size, slice and both ids;
//! - dynptrs through helpers (module `check::dynptr`, shared by any caller
//!   of `process_dynptr_func`, and `check::dynptr_call` for the helpers):
//!   `ARG_PTR_TO_DYNPTR` (`R%d type=%s expected=fp, dynptr_ptr`) with
//!   `dynptr_get_spi` (`cannot pass in dynptr at an offset=%d`), the
//!   constructors `bpf_dynptr_from_mem` (a map value only: `Unsupported
//!   reg type %s for bpf_dynptr_from_mem data`) and
//!   `bpf_ringbuf_reserve_dynptr` (`Dynptr has to be an uninitialized
//!   dynptr`, two 8-byte stores, then two `STACK_DYNPTR` slots with the
//!   dynptr's id, kind, first-slot mark and, for a ring buffer dynptr, an
//!   acquired reference), the users `bpf_dynptr_read`, `bpf_dynptr_write`
//!   and `bpf_dynptr_data` (`Expected an initialized dynptr as arg #%d`,
//!   `Expected a dynptr of type %s as arg #%d`; a slice is
//!   `mem_or_null` of the constant size carrying the dynptr's id and
//!   reference), the release by `bpf_ringbuf_submit_dynptr`/
//!   `_discard_dynptr` (`arg %d is an unacquired reference`; the reference,
//!   its slices and every dynptr sharing it go), the destruction of a
//!   dynptr by any store into either slot (`cannot overwrite referenced
//!   dynptr`; a local dynptr's slices become unknown numbers), loads and
//!   helper reads of its bytes (`invalid read from stack off %d+%d size
//!   %d`, `invalid read from stack R%d off %d+%d size %d`), helpers
//!   writing uninitialised memory over it (`potential write to dynptr at
//!   off=%d disallowed`), the level-2 print of a dynptr
//!   (`fp-16=dynptr_ringbuf(id=1,ref_id=2,dynptr_id=1)`), 6.18's stack
//!   liveness and scratch marks of its slots, and `stacksafe` of dynptr
//!   slots (kind, slot and reference id); the `CONST_PTR_TO_DYNPTR` a
//!   `bpf_user_ringbuf_drain` callback receives in `R1`
//!   (`set_user_ringbuf_callback_state`, a local dynptr with a fresh id:
//!   `cannot pass pointer to const bpf_dynptr, the helper mutates it`,
//!   `cannot release unowned const bpf_dynptr`, `R%d invalid mem access
//!   'dynptr_ptr'`, printed `dynptr_ptr(id=…,type=local)`, compared
//!   exactly when pruning);
//! - `BPF_F_STRICT_ALIGNMENT` for context, packet (`NET_IP_ALIGN`) and
//!   constant-offset map value accesses (`misaligned %saccess off …`);
//! - `BPF_LD_[ABS|IND]` (`check_ld_abs`) in socket filters and tc
//!   programs: `R6` must be the context, `R1`–`R5` are clobbered, and
//!   precision backtracking walks through them (falling back to all
//!   scalars precise when it meets the loaded `R0`);
//! - precision tracking (`mark_chain_precision`) for branches the domain
//!   decides, `ptr += reg` and misaligned stores of a zero register: the
//!   instruction history (jumps, spills/fills, linked registers), the
//!   backward walk over the current path and its checkpoint ancestors
//!   across calls and exits (arguments move to the caller at a call, `R0`
//!   into the callee at its exit, `subseq_idx`), `P` marks in every frame
//!   of the checkpoints, the fallback forcing all scalars precise, and
//!   the level-2 `mark_precise:`/`force_precise:` lines; linked scalars
//!   are collected over all frames;
//! - checkpoints at prune points with the kernel's heuristics (including
//!   the one forced by a long instruction history, and
//!   `BPF_F_TEST_STATE_FREQ`), kept in the kernel's hash buckets
//!   (instruction xor call site), `states_equal` over every frame with
//!   equal call sites against finished checkpoints cleaned with 6.18's
//!   register and stack liveness (each outer frame at its call site;
//!   `regsafe`, `stacksafe`, `check_scalar_ids`, `range_within`,
//!   `tnum_in`), checkpoints still being explored (a second call of a
//!   subprogram) skipped with the kernel's rule for adding states,
//!   precision propagation on a hit (`frame N: propagating …`), `N: safe`
//!   / `from X to Y: safe`, eviction of useless states, and
//!   `max_states_per_insn`/`total_states`/`peak_states`;
//!   `BPF_COMPLEXITY_LIMIT_INSNS` (`BPF program is too large. Processed
//!   %d insn`), `The sequence of %d jumps is too complex.`;
//! - bounded loops (module `check::loops`, 6.17+'s SCC-based version):
//!   checkpoints count the paths still walked from them (`branches`) and
//!   are cleaned, compared for pruning and freed only once finished; an
//!   unfinished checkpoint is compared exactly after `states_maybe_looping`
//!   (`infinite loop detected at insn %d` with the `cur state:` / `old
//!   state:` dumps), and in a loop new checkpoints wait for 20 jumps or
//!   100 instructions; eviction keeps unfinished states on the free list,
//!   and `peak_states` counts explored, free-listed and backedge states;
//!   the level-2 `SCC enter`/`SCC exit`/`SCC backedge` lines; on 6.12 the
//!   same walk with loop entries in place of SCC visits (see above);
//! - `may_goto` (`BPF_JCOND`, what `cond_break`/`can_loop` compile to):
//!   the taken branch first, the fall-through queued one `may_goto_depth`
//!   deeper with imprecise scalars widened against the previous iteration
//!   (`find_prev_entry`, `widen_imprecise_scalars` with 6.18's
//!   `regs_exact`), its forced checkpoints (evicted after 64 misses while
//!   explored), convergence when a checkpoint at another depth covers the
//!   state (`RANGE_WITHIN`), which records a backedge; precision is
//!   propagated along an SCC's backedges to a fixed point when the state
//!   that entered it finishes (`propagate_backedges`, each backedge walking
//!   its own instruction history, as 6.18's states own theirs);
//! - `bpf_fastcall` (module `check::fastcall`, 6.12+): the spill/fill
//!   patterns around helper calls (`mark_fastcall_patterns`), voided by any
//!   other access to their slots (`check_fastcall_stack_contract`), and the
//!   stack depth once the pairs around inlined calls are removed
//!   (`remove_fastcall_spills_fills`), as the statistics and the combined
//!   stack size check see it;
//! - the log: level 1 (failing path only, truncated at each queued branch
//!   like the kernel, empty when accepted), level 2 (the `Live regs before
//!   insn:` table, `from X to Y:` states, the padded `; R0=…` annotations of
//!   scratched registers and slots, and 6.18's stack-liveness lines
//!   `(3,6) frame 1 insn N +live …`, per call chain, with what callees
//!   read and surely write of their callers' stacks moved to the call),
//!   the `; <source> @ <file>:<line>` lines
//!   of programs with line info (`verbose_linfo`, module `linfo`, after
//!   the `check_btf_line` ordering and string checks), and the statistics.
//!
//! # Observation
//!
//! [`verify_observed`] also records, when asked ([`Observe`]), the
//! abstract states before each instruction, the failing path of a
//! rejection with what each instruction wrote, and the processed count of
//! each instruction, as data ([`observe`]); the statistics carry the main
//! program's stack depth.
//!
//! # Knowingly not implemented (yet)
//!
//! Each gives `unsupported` naming the feature at the first instruction
//! that needs it; nothing is guessed.
//! - State comparison of pointer kinds other than stack, context and map
//!   values; open-coded iterators whose elements are BTF-typed pointers
//!   (task, css, task_vma, …) and any iterator on the 6.12 profile (its
//!   loop entries); `bpf_for_each_map_elem` over values with a spin lock;
//!   map key pointers under `BPF_F_STRICT_ALIGNMENT`; inner maps'
//!   `map_uid` (the timer message prints 0);
//!   the `stack depth` statistics line of programs with `may_goto` (which
//!   would include its hidden counter slot).
//! - Kfunc calls beyond the modelled ones (see above; acquired and
//!   released references, BTF-typed pointer arguments with their trust
//!   rules and `btf_struct_ids_match`, returned struct pointers and sized
//!   memory, `bpf_cast_to_kern_ctx` and `bpf_rdonly_cast` to a struct are
//!   modelled), each naming the kfunc and what it needs: memory arguments
//!   (`__sz`/`__szk` pairs, pointers to scalars or scalar structs), returned
//!   unions, special returns (`bpf_get_kmem_cache`, `bpf_session_cookie`),
//!   `bpf_rdonly_cast` to `void`, BTF struct walks the kernel logs a line
//!   for while matching an argument's type, dynptrs,
//!   graph kfuncs once their root is checked (nodes, owning and
//!   non-owning references, `bpf_rbtree_add`'s callback), special map
//!   fields, callbacks, `__str`/`__map`/`__uninit` arguments, `bpf_throw`
//!   on 6.12 (its leak checks before `check_resource_leak`),
//!   `KF_RCU_PROTECTED`, kfuncs whose registration has a
//!   filter function or comes from source the profile data does not
//!   read, module kfuncs (`off` > 0 with an `fd_array`), a NULL or
//!   untrusted pointer passed where 6.18's `KF_TRUSTED_ARGS` (not in the
//!   7.2 source its data comes from, except where proven on the live
//!   kernel) would decide, sleepable kfuncs, sleepable helpers
//!   and global functions inside RCU or preemption regions.
//! - Subprograms whose `func_info` the kernel would refuse or which
//!   `check_btf_func` would need to judge (counts or offsets that do not
//!   match the subprograms, extern linkage); global functions with
//!   `arg:` declaration tags (dynptrs, arena, trusted BTF ids, nonnull),
//!   pointers to types without a size, accesses through their memory
//!   arguments once moved.
//! - `bpf_sock_ops`' `skb_data`/`skb_data_end` packet; stores into a
//!   read-only packet with `BPF_F_STRICT_ALIGNMENT`; strict alignment of
//!   variable map value pointers; the source line the
//!   kernel prints after an invalid context access in a stats-only log
//!   (the log is then `None`).
//! - Accesses through a map pointer under `BPF_F_STRICT_ALIGNMENT`, to
//!   map structs the kernel's BTF lacks, or reaching members that are
//!   pointers to non-structs (6.17+), tagged (6.17+) or behind a union;
//!   map-in-map lookups whose inner map has BTF
//!   special fields (a timer's or workqueue's `map_uid`).
//! - Socket pointers under `BPF_F_STRICT_ALIGNMENT`; the `bpf_skc_to_*`
//!   casts (BTF pointers);
//!   socket pointers compared with other pointer kinds or with linked
//!   numbers.
//! - Pointer types other than stack, context, map, packet, socket and
//!   memory (`PTR_TO_MEM`); pointers compared with linked scalars; two
//!   maybe-NULL pointers compared, a maybe-NULL socket or map-in-map
//!   lookup result found equal to another pointer (the ids a `map_ptr`
//!   would keep), a maybe-NULL pointer null-checked against a register;
//!   atomics through variable-offset stack pointers; a moved context pointer passed to a
//!   global function or `LD_ABS`; a register compared with itself when
//!   the comparison is open (6.18 narrows both operands in place).
//! - Arithmetic on a `CONST_PTR_TO_DYNPTR`, the kfunc dynptrs
//!   (`bpf_dynptr_from_skb`/`_xdp`, slices, clones: kfunc calls), dynptr
//!   arguments of global functions, and dynptrs on the 6.12 profile
//!   (whose read marks of dynptr slots are not modelled; the profile
//!   feature `dynptr_slots_v2`).
//! - Helper argument kinds other than those above (constant strings, BTF
//!   ids, callbacks, `MEM_UNINIT` map values…), memory arguments
//!   in map keys and other memory kinds, other return types,
//!   `bpf_get_smp_processor_id` without a machine CPU count in the
//!   profile, helpers with an `allowed`
//!   callback, helpers on map types whose effect is not modelled
//!   (device map lookups, queues and
//!   stacks, storage helpers…), tail calls with subprograms or through
//!   other maps, socket map values, spin locks in allocated objects, map
//!   values with BTF special fields other than spin locks, timers and
//!   kptrs to kernel types (workqueues, task works, refcounts, uptrs,
//!   graph roots nested in structs or with a `contains:` tag the model does
//!   not check; kptrs to program-local types — `bpf_obj_new`
//!   objects — or module types, `__percpu_kptr`, kptrs in map types or to
//!   types without a destructor that the kernel refuses at map creation)
//!   or whose BTF the kernel's field parser would refuse; kptr stores of
//!   a pointer into a nested struct across an array member, and
//!   `bpf_kptr_xchg` into allocated objects; precision
//!   through atomic fetches where a tracked register or slot meets them.
//! - For the program types added after socket filters, tc and XDP: the
//!   kernel's look at the main function's BTF prototype
//!   (`btf_prepare_func_args`, which logs `arg#0 reference type(…) size
//!   cannot be determined` and the like) is not reproduced, so a program
//!   whose prototype is not plainly a global `int f(struct named *)` gets
//!   no log (verdict and statistics are still given).
//! - Program types other than those above, unprivileged
//!   loaders, and kernels other than 6.18 and 6.12: profiles without
//!   `do_check` (5.10, 6.1), and 7.2, whose walk differs from 6.18's in
//!   the behaviours its profile names one by one
//!   ([`bpfcheck_profile::WalkV7`]: circular-number scalar ranges,
//!   pointer offsets in `var_off`, 7.1's static stack liveness, branches
//!   decided by constant folding before the walk, recursion refused by
//!   the call graph's topological sort, context pointers as memory, kprobe
//!   context writes, null checks against a register, the release message,
//!   stack arguments, the `insns processed` statistics line); module
//!   `walk_v7` answers `unsupported` with the first of them that the
//!   program meets. Modelled so far: 7.x's statistics lines and
//!   `MAX_CALL_FRAMES` 16 (profile data the walk reads), the
//!   passes 7.x runs between `check_attach_btf_id` and the walk (constant
//!   folding, `const_fold`; the call graph's topological sort and its
//!   `recursive call from %s() to %s()`, `subprog_topo`), the release
//!   message, kprobe context writes and null checks against a register
//!   known to be 0; context pointers as memory are refused where met.
//!   For those the
//!   per-instruction encoding checks are still applied in instruction
//!   order after the passes above (the kernel applies them only where a
//!   path reaches, after earlier state errors); such rejections carry no log.
//! - fmod_ret targets outside `security_` functions and sleepable
//!   fentry, fexit and fmod_ret programs (the error-injection list); LSM
//!   programs on kernels without 6.12's return rules (6.1), writes to an
//!   LSM program's context; iterator targets the profile's list lacks and
//!   iterator buffers (`PTR_TO_BUF` context fields); the kernel's finding of
//!   a traced function's address (taken to exist when its BTF does);
//!   freplace
//!   (`attach_prog_fd`) and struct_ops programs; `tp_btf` tracepoints on
//!   `raw_tp_null_args`; NULL or untrusted pointers to 6.18 kfuncs whose
//!   `KF_TRUSTED_ARGS` is not proven, `MEM_ALLOC`
//!   objects as helper arguments, per-CPU pointers to non-structs
//!   (`__ksym` variables), stores through BTF pointers, walks
//!   through a union to a listed field, 6.17's `rdonly_untrusted_mem`
//!   loads.
//! - Anything that needs the kernel's or the program's BTF (kfunc calls
//!   aside): `ld_imm64` of BTF ids, `func_info` validation
//!   (`line_info` tables the kernel would refuse are unsupported).
//!
//! Exceptions (6.18; `Features::exceptions` finds the callback on 6.12 and
//! 7.2 too): the `exception_callback:` decl tag of the main program and its
//! refusals (`multiple exception callback tags for main subprog`, `…
//! could not be found in BTF`, `… must have global linkage`, `… type id
//! not found in func_info`), the callback as a subprogram and a second root
//! of `check_cfg`, verified after the main program as a global function
//! presumed called (`exception cb only supports single integer argument`,
//! the program type's return range at its exit); `bpf_throw` ending the
//! path with `check_resource_leak`'s `bpf_throw` rules in every frame, its
//! cookie checked as the return value without a callback (`At program
//! exit the register R1 …`, `At async callback return …`); after the walk
//! `bpf_throw kfunc (insn %d) cannot be called from callback subprog %d`
//! and `insn %d cannot call exception cb directly` (logged, as the kernel
//! does, without its newline). Module `check::exception`.

#![deny(missing_docs)]

mod check;
mod const_fold;
/// The scalar value domain: tnums, range bounds, ALU and branch transfer
/// functions, and their log text.
pub mod domain;
mod error;
mod linfo;
mod liveness;
mod log;
mod main_proto;
/// Observing a verification: states, the failing path, processed counts.
pub mod observe;
mod prepare;
/// The abstract state of a path: registers, stack slots, frames.
pub mod state;
mod subprog_topo;
mod walk_v6_1;
mod walk_v7;

pub use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::{Errno, InsnIdx, LoadRequest, ProgType, VerifierStats, op};
pub use error::{ErrorCode, Unsupported, VerifierError};
pub use log::{LOG_LEVEL1, LOG_LEVEL2, LOG_STATS, stats_trailer};
pub use observe::{Observation, Observe};

use crate::{error::Stop, log::Log};

/// Options of one verification, as `BPF_PROG_LOAD`'s log attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// `log_level`: bits [`LOG_LEVEL1`], [`LOG_LEVEL2`], [`LOG_STATS`].
    pub log_level: u32,
}

/// The judgement on a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The kernel would load it.
    Accepted,
    /// The kernel would refuse it.
    Rejected,
    /// bpfcheck cannot judge it yet; [`Verification::unsupported`] says why.
    Unsupported,
}

/// Everything [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// The verdict.
    pub verdict: Verdict,
    /// Why it was rejected.
    pub error: Option<VerifierError>,
    /// What bpfcheck could not judge.
    pub unsupported: Option<Unsupported>,
    /// The kernel-format log before the statistics trailer, when bpfcheck
    /// can produce it exactly; `None` when it cannot (see the crate docs).
    pub log: Option<String>,
    /// The statistics, when known (see [`stats_trailer`] to render them).
    pub stats: Option<VerifierStats>,
    /// What [`verify_observed`] was asked to observe, when the program reached
    /// `do_check` (accepted, or rejected there); `None` otherwise.
    pub observation: Option<Box<Observation>>,
}

impl Verification {
    /// The errno `bpf()` would return, when rejected.
    pub fn errno(&self) -> Option<Errno> {
        self.error.as_ref().map(|e| e.errno)
    }

    /// The instruction of the error or of the unsupported feature.
    pub fn insn(&self) -> Option<InsnIdx> {
        self.error
            .as_ref()
            .and_then(|e| e.insn)
            .or(self.unsupported.as_ref().and_then(|u| u.insn))
    }
}

/// Verifies one program as `profile`'s kernel would.
pub fn verify(req: &LoadRequest, profile: &KernelProfile, opts: &VerifyOptions) -> Verification {
    verify_observed(req, profile, opts, Observe::default())
}

/// [`verify`], also recording what `observe` asks for in
/// [`Verification::observation`] (see [`observe`]). The verdict, error, log
/// and statistics are those of [`verify`] unless
/// [`Observe::explore_all_paths`] is set.
pub fn verify_observed(
    req: &LoadRequest,
    profile: &KernelProfile,
    opts: &VerifyOptions,
    observe: Observe,
) -> Verification {
    let mut log = Log::new(opts.log_level);
    // Statistics of a load refused before interpretation: nothing processed.
    let zero_stats = || VerifierStats {
        insn_limit: u64::from(profile.limits.complexity_insns),
        max_stack_depth: profile.features.walk_v7.stats_insns_processed.then_some(0),
        insns_by_function: profile
            .features
            .walk_v7
            .stats_insns_processed
            .then(|| vec![0]),
        ..VerifierStats::default()
    };
    let prepared = prepare::run(req, profile, &mut log)
        .and_then(|k| walk_v7::before_walk(req, profile, &mut log).map(|()| k));
    match prepared {
        Err(Stop::Reject(err)) => {
            // Attribute refusals happen before the verifier's log exists.
            let pre_verifier = err.message.is_empty();
            log.line(&err.message);
            Verification {
                verdict: Verdict::Rejected,
                error: Some(err),
                unsupported: None,
                log: if pre_verifier {
                    Some(String::new())
                } else {
                    Some(log.into_text())
                },
                stats: if pre_verifier {
                    None
                } else {
                    Some(zero_stats())
                },
                observation: None,
            }
        }
        Err(Stop::Unsupported(u)) => unsupported(u),
        Ok(kfuncs) => match interpretable(req, profile) {
            Ok(funcs) => interpret(req, profile, log, observe, funcs, kfuncs),
            Err(why) => match first_encoding_error(req, profile) {
                Some(err) => Verification {
                    verdict: Verdict::Rejected,
                    error: Some(err),
                    unsupported: None,
                    log: None,
                    stats: None,
                    observation: None,
                },
                None => unsupported(why),
            },
        },
    }
}

/// Whether [`check`]'s interpreter models this load: the 6.18 log format
/// and arithmetic, a privileged loader, a program type whose context and
/// return rules are modelled, and subprograms whose BTF is (returned, to
/// be read once).
fn interpretable(
    req: &LoadRequest,
    profile: &KernelProfile,
) -> Result<Option<check::BtfFuncs>, Unsupported> {
    if !profile.features.do_check {
        return Err(Unsupported::new(
            format!(
                "abstract interpretation (do_check) for kernel {}",
                profile.name
            ),
            Some(0),
        ));
    }
    if let Some(u) = walk_v7::unmodelled(req, profile) {
        return Err(u);
    }
    if let Some(u) = walk_v6_1::unmodelled(req, profile) {
        return Err(u);
    }
    let caps = &profile.caps;
    if !(caps.sys_admin || (caps.bpf && caps.perfmon)) {
        return Err(Unsupported::new("unprivileged loaders", Some(0)));
    }
    if !matches!(
        req.prog_type,
        ProgType::SOCKET_FILTER
            | ProgType::XDP
            | ProgType::SCHED_CLS
            | ProgType::SCHED_ACT
            | ProgType::KPROBE
            | ProgType::TRACEPOINT
            | ProgType::RAW_TRACEPOINT
            | ProgType::RAW_TRACEPOINT_WRITABLE
            | ProgType::PERF_EVENT
            | ProgType::CGROUP_SKB
            | ProgType::LWT_IN
            | ProgType::LWT_OUT
            | ProgType::LWT_XMIT
            | ProgType::LWT_SEG6LOCAL
            | ProgType::CGROUP_SOCK
            | ProgType::CGROUP_SOCK_ADDR
            | ProgType::CGROUP_SOCKOPT
            | ProgType::CGROUP_DEVICE
            | ProgType::CGROUP_SYSCTL
            | ProgType::SOCK_OPS
            | ProgType::NETFILTER
            | ProgType::SYSCALL
            | ProgType::SK_SKB
            | ProgType::SK_MSG
            | ProgType::FLOW_DISSECTOR
            | ProgType::SK_REUSEPORT
            | ProgType::SK_LOOKUP
    ) && !prepare::attach::walks_tracing(req, profile)
    {
        return Err(Unsupported::new(
            format!("abstract interpretation of program type {}", req.prog_type),
            Some(0),
        ));
    }
    check::btf_funcs(req)
}

/// `compute_live_registers` and `do_check` for the main program.
fn interpret(
    req: &LoadRequest,
    profile: &KernelProfile,
    mut log: Log,
    observe: Observe,
    btf_funcs: Option<check::BtfFuncs>,
    kfuncs: prepare::kfunc::KfuncTab,
) -> Verification {
    match linfo::SourceLines::new(req, profile.features.walk_v6_1.linfo_plain) {
        Ok(lines) => log.set_source_lines(lines),
        Err(u) => return unsupported(u),
    }
    // `compute_call_live_regs`: a helper or kfunc uses the registers of
    // its prototype's arguments; an unavailable helper is taken to use all.
    let call_args = |insn: &bpfcheck_uapi::RawInsn| {
        if insn.src == op::PSEUDO_KFUNC_CALL {
            return kfuncs.nargs(insn);
        }
        profile
            .helper(insn.imm, req.prog_type, req.expected_attach_type)
            .ok()
            .and_then(|p| u8::try_from(p.used_args().len()).ok())
    };
    if main_proto::has_arg_tags(req) {
        // The kernel reads `arg:` declaration tags and type tags of the
        // main function's parameters (`btf_prepare_func_args`) and may log
        // about them; those are not modelled.
        log.mark_inexact();
    }
    let live = liveness::live_before(&req.insns, &call_args);
    let kfunc_callbacks: Vec<bool> = req.insns.iter().map(|i| kfuncs.calls_callback(i)).collect();
    let scc = check::compute_scc_with(&req.insns, &kfunc_callbacks);
    if log.level2() && profile.features.live_regs_table {
        let names = prepare::kfunc::KfuncNames(&kfuncs);
        log.push(&liveness::table(
            &req.insns,
            &live,
            &scc,
            profile.log_era,
            &names,
        ));
    }
    let maps = check::map_in_map::MapTable::new(&req.maps);
    let mut stats_inexact = false;
    let mut checker = check::Checker::new(req, &maps, profile, &mut log, live, scc, btf_funcs);
    checker.set_kfuncs(kfuncs);
    checker.observe(observe);
    let outcome = checker.run();
    let mut stats = checker.stats();
    if outcome.is_ok() && stats.insns_by_function.is_some() && checker.may_use_private_stack() {
        // 7.x's `stack depth … max M` counts private stacks apart.
        stats_inexact = true;
    }
    if outcome.is_ok() {
        checker.add_inlined_loop_stack(&mut stats);
        add_may_goto_stack(req, profile, &mut stats);
    }
    let logged = checker.error_logged();
    // A walk that stopped (refused, or at something not modelled) has a
    // current path: the one that reached the instruction where it stopped.
    let observation = checker.take_observation(outcome.is_err());
    if stats_inexact && log.stats() {
        log.mark_inexact();
    }
    let exact = |log: Log| log.is_exact().then(|| log.into_text());
    match outcome {
        Ok(()) => Verification {
            // A successful walk at level 1 leaves no log (do_check_common),
            // but for what verifying global functions adds after it.
            log: if log.enabled() {
                exact(log)
            } else {
                Some(String::new())
            },
            verdict: Verdict::Accepted,
            error: None,
            unsupported: None,
            stats: Some(stats),
            observation,
        },
        Err(Stop::Reject(err)) => {
            if !logged && err.unterminated {
                log.push(&err.message);
            } else if !logged {
                log.line(&err.message);
            }
            Verification {
                verdict: Verdict::Rejected,
                error: Some(err),
                unsupported: None,
                log: if log.enabled() {
                    exact(log)
                } else {
                    Some(String::new())
                },
                stats: Some(stats),
                observation,
            }
        }
        Err(Stop::Unsupported(u)) => Verification {
            observation,
            ..unsupported(u)
        },
    }
}

fn unsupported(u: Unsupported) -> Verification {
    Verification {
        verdict: Verdict::Unsupported,
        error: None,
        unsupported: Some(u),
        log: None,
        stats: None,
        observation: None,
    }
}

/// The first instruction whose encoding `do_check` refuses, when the kernel
/// is certain to reach it before anything else can fail — used for the
/// loads the interpreter does not model yet. The kernel checks encodings
/// only on instructions a path reaches, after the state checks of the
/// instructions before them; so the answer is definite only on the entry's
/// straight-line prefix of instructions that cannot fail (constants, moves,
/// arithmetic on scalars the prefix made), and only if the refused
/// instruction reads initialised registers. Anywhere else: `None`, and the
/// caller says `unsupported`.
fn first_encoding_error(req: &LoadRequest, profile: &KernelProfile) -> Option<VerifierError> {
    use bpfcheck_isa::{
        CheckStep, check_alu_imm, check_fields, check_jmp_operand_fields, check_reg, reg_args,
    };
    use bpfcheck_uapi::op;

    let insns = &req.insns;
    let isa = &profile.isa;
    // Registers holding a value at entry (R1 = ctx, R10 = fp), and which of
    // the initialised ones are scalars.
    let mut init: u16 = (1 << 1) | (1 << 10);
    let mut scalar: u16 = 0;
    let bit = |r: u8| 1u16.checked_shl(u32::from(r)).unwrap_or(0);
    let mut i = 0;
    while i < insns.len() {
        let raw = insns[i];
        if let Err(e) = check_fields(insns, i, isa) {
            return Some(e.into());
        }
        for step in reg_args(&raw, isa) {
            let r = match step {
                CheckStep::Reg(r, arg) => {
                    if let Err(e) = check_reg(i, r, arg) {
                        return Some(e.into());
                    }
                    if arg == bpfcheck_isa::RegArg::Src && init & bit(r) == 0 {
                        // `R%d !read_ok` comes first: a state error.
                        return None;
                    }
                    Ok(())
                }
                CheckStep::JmpOperandFields => check_jmp_operand_fields(&raw, i),
                CheckStep::AluImm => check_alu_imm(&raw, i),
            };
            if let Err(e) = r {
                return Some(e.into());
            }
        }
        // Only instructions that cannot fail on state extend the prefix.
        let class = raw.class();
        let is_scalar = |r: u8| scalar & bit(r) != 0;
        let alu = class == op::ALU || class == op::ALU64;
        if raw.code == op::LD | op::IMM | op::DW && raw.src == 0 {
            init |= bit(raw.dst);
            scalar |= bit(raw.dst);
            i += 2;
            continue;
        }
        if !alu {
            return None;
        }
        let opc = op::alu_op(raw.code);
        let from_reg = op::src(raw.code) == op::X && opc != op::END;
        let ok = match opc {
            // A plain 64-bit register copy moves pointers too.
            op::MOV if from_reg && class == op::ALU64 && raw.off == 0 => {
                if is_scalar(raw.src) {
                    scalar |= bit(raw.dst);
                } else {
                    scalar &= !bit(raw.dst);
                }
                true
            }
            op::MOV if from_reg => is_scalar(raw.src),
            op::MOV => true,
            op::NEG | op::END => is_scalar(raw.dst),
            _ => is_scalar(raw.dst) && (!from_reg || is_scalar(raw.src)),
        };
        if !ok {
            return None;
        }
        init |= bit(raw.dst);
        if !(opc == op::MOV && from_reg && class == op::ALU64 && raw.off == 0) {
            scalar |= bit(raw.dst);
        }
        i += 1;
    }
    None
}

/// The stack `do_misc_fixups` gives the `may_goto` counters of an accepted
/// program, which its `stack depth` statistics include.
fn add_may_goto_stack(req: &LoadRequest, profile: &KernelProfile, stats: &mut VerifierStats) {
    let extra = profile.features.may_goto_stack_extra;
    let Some(depths) = stats.stack_depth.as_mut() else {
        return;
    };
    if extra == 0 {
        return;
    }
    let starts = check::subprog_starts(req);
    for (k, depth) in depths.iter_mut().enumerate() {
        let (Some(&start), end) = (starts.get(k), starts.get(k + 1).copied()) else {
            continue;
        };
        let end = end.unwrap_or(req.insns.len());
        let may_goto = req.insns[start..end]
            .iter()
            .any(|i| i.code == op::JMP | op::JCOND && i.src == op::MAY_GOTO);
        if may_goto {
            *depth += extra;
        }
    }
}
