//! `do_check`: the path-sensitive walk over the main program.
//!
//! One [`Checker`] holds the current path's state, the queue of branches
//! still to walk, the counters of the statistics trailer and the log
//! bookkeeping (which registers and slots an instruction touched, where the
//! last instruction line starts). Instruction classes live in their own
//! modules: [`alu`], [`mem`], [`atomic`], [`map`], [`jmp`], [`call`] (with
//! [`helper_mem`] for helper memory arguments), [`packet`] (direct packet
//! access), [`ld_abs`], [`retval`] (the return value at `exit`); context
//! rules in [`ctx`], [`ctx_net`], [`ctx_trace`], [`ctx_cgroup`] and
//! [`ctx_sock`]; [`sock`] for socket pointers and the references they
//! carry; [`subprog_call`] for bpf-to-bpf calls and exits.
//!
//! States are checkpointed at prune points with the kernel's heuristics;
//! a path reaching a checkpointed instruction is compared with the
//! checkpoints there ([`equiv`]) and ends when one covers it, after the
//! precision the checkpoint relied on is propagated ([`precision`]).
//! Checkpoints still being explored — loops, and the ancestors of the
//! current path that a second call of the same subprogram meets — are
//! handled by [`visited`] and [`loops`].

mod alloc;
mod alu;
mod atomic;
mod btf_func;
mod btf_match;
mod btf_ptr;
mod btf_walk;
mod call;
mod callback;
mod ctx;
mod ctx_cgroup;
mod ctx_net;
mod ctx_sk;
mod ctx_sock;
mod ctx_trace;
mod dynptr;
mod dynptr_call;
mod equiv;
mod exception;
mod fastcall;
mod flow_keys;
mod frames;
mod global_args;
mod graph;
mod helper_allowed;
mod helper_btf;
mod helper_mem;
mod iter;
mod jmp;
mod kfunc;
mod kfunc_dynptr;
mod kfunc_mem;
mod kfunc_ref;
mod kptr;
mod ld_abs;
mod loop_entry;
mod loops;
mod map;
mod map_call;
pub(crate) mod map_in_map;
mod map_key;
mod map_ptr;
mod mem;
mod mem_arg;
mod observe;
mod packet;
mod precision;
mod precision_v6_1;
mod print;
mod ptr_alu;
mod ptr_jmp;
mod read_marks;
mod retval;
mod ringbuf;
mod sock;
mod sock_map;
mod spin_lock;
mod stack_liveness;
mod stack_obj;
mod stack_var;
mod subprog_call;
mod timer;
mod v6_1;
mod visited;

pub(crate) use call::gpl_compatible;

pub(crate) use subprog_call::subprog_starts;

pub(crate) use btf_func::{BtfFuncs, is_prog_ctx};

/// The subprograms' BTF from `func_info`, read once for the whole walk:
/// with several subprograms it must be modelled; a lone main program's
/// that is not only goes without.
pub(crate) fn btf_funcs(req: &LoadRequest) -> Result<Option<BtfFuncs>, Unsupported> {
    let starts = subprog_starts(req);
    let funcs = BtfFuncs::from_request(req, &starts);
    if starts.len() > 1 {
        funcs
    } else {
        Ok(funcs.ok().flatten())
    }
}

use bpfcheck_isa::{RegArg, check_fields, check_reg, disasm};
use bpfcheck_profile::KernelProfile;
use bpfcheck_uapi::{
    Errno, LoadRequest, MapSpec, ProgType, RawInsn, VerifierStats,
    load::{BPF_F_STRICT_ALIGNMENT, BPF_F_TEST_STATE_FREQ},
    op,
};

use crate::domain::Era;
use crate::error::{ErrorCode, Stop, Unsupported, VerifierError};
use crate::log::Log;
use crate::prepare::subprogs::is_ldimm64;
use crate::state::{RegState, VerifierState};
use precision::{Checkpoint, HistEntry, PathMeta};

pub(crate) use loops::{compute_scc, compute_scc_with};
pub(crate) use stack_liveness::postorder as insn_postorder;

/// A branch queued for later (`struct bpf_verifier_stack_elem`).
struct Pending {
    state: VerifierState,
    insn: usize,
    prev: usize,
    log_pos: usize,
    path: PathMeta,
    hist_end: usize,
}

/// `BPF_COMPLEXITY_LIMIT_JMP_SEQ`.
const JMP_SEQ_LIMIT: usize = 8192;

/// Entries of the instruction history after which the kernel forces a
/// checkpoint.
pub(super) const HISTORY_FORCE: usize = 40;

pub(crate) struct Checker<'a> {
    insns: &'a [RawInsn],
    /// The load request (maps, `fd_array`, license, attach type).
    req: &'a LoadRequest,
    /// The request's maps, indexed by [`crate::state::MapIdx`].
    maps: &'a [MapSpec],
    /// What each map's non-NULL lookup results are.
    non_null: &'a [map_in_map::NonNullAs],
    /// Each map's value fields (`map->record`), same index.
    map_fields: Vec<Vec<crate::prepare::map_btf::Field>>,
    prog_type: ProgType,
    /// `BPF_F_STRICT_ALIGNMENT`.
    strict_alignment: bool,
    /// `BPF_F_TEST_STATE_FREQ`: a checkpoint at every prune point.
    test_state_freq: bool,
    profile: &'a KernelProfile,
    era: Era,
    log: &'a mut Log,
    cur: VerifierState,
    queue: Vec<Pending>,
    insn_idx: usize,
    prev_insn_idx: Option<usize>,
    prune_point: Vec<bool>,
    jmp_point: Vec<bool>,
    force_checkpoint: Vec<bool>,
    /// Checkpoints taken at each instruction (indices into `checkpoints`).
    checkpoint_at: Vec<Vec<usize>>,
    checkpoints: Vec<Checkpoint>,
    /// The current state's place in the checkpoint tree.
    path: PathMeta,
    stack_live: stack_liveness::StackLiveness,
    subprogs: subprog_call::Subprogs,
    /// The frame of the stack slot the current instruction accesses.
    access_frame: usize,
    /// The subprograms' BTF, with `func_info`.
    btf_funcs: Option<btf_func::BtfFuncs>,
    /// Where `do_check_subprogs` stands.
    globals: btf_func::GlobalsQueue,
    /// Registers live before each instruction (`compute_live_registers`).
    live_regs: Vec<crate::liveness::RegSet>,
    /// The instruction history (`env->insn_hist`); entries past
    /// `hist_len`, the current path's end, belong to other paths.
    hist: Vec<HistEntry>,
    hist_len: usize,
    /// SCC of each instruction, 0 outside loops.
    scc: Vec<u32>,
    /// Per SCC id.
    visits: std::collections::BTreeMap<loops::SccKey, loops::SccVisit>,
    num_backedges: u64,
    explored_size: u64,
    free_list_size: u64,
    peak_states: u64,
    /// The error's message is in the log already, with what follows it.
    error_logged: bool,
    /// The entry the current instruction pushed, if any.
    cur_hist_ent: Option<usize>,
    /// `env->prev_insn_idx` while the current instruction runs.
    hist_prev: i64,
    insn_processed: u64,
    jmps_processed: u64,
    prev_jmps_processed: u64,
    prev_insn_processed: u64,
    total_states: u64,
    max_states_per_insn: u64,
    id_gen: u32,
    scratched_regs: u16,
    scratched_slots: u64,
    prev_log_pos: usize,
    prev_insn_print_len: usize,
    /// What [`crate::observe`] records, when asked.
    obs: Option<Box<observe::Recorder>>,
    /// The pointer type each load or store first went through
    /// (`insn_aux_data.ptr_type`).
    ptr_type_seen: Vec<Option<&'static str>>,
    /// Pruning liveness by read marks ([`read_marks`]).
    read_marks: bool,
    /// `longest_mark_read_walk`.
    longest_mark_read: u64,
    /// Helper calls that call a callback (`calls_callback`).
    calls_callback: Vec<bool>,
    /// `bpf_loop`'s inlining state per call instruction.
    loop_inline: std::collections::BTreeMap<usize, callback::LoopInline>,
    /// The kfuncs the program calls (`kfunc_tab`).
    kfuncs: crate::prepare::kfunc::KfuncTab,
    /// `bpf_fastcall` spill/fill patterns.
    fastcall: fastcall::Fastcall,
    /// Subprograms run as async callbacks (`is_async_cb`).
    async_cbs: std::collections::BTreeSet<usize>,
    /// Subprograms run as callbacks, synchronous or not (`is_cb`).
    cb_subprogs: std::collections::BTreeSet<usize>,
    /// The exception callback's subprogram, verified on its own.
    exception_cb: Option<usize>,
}

/// How an instruction ends.
pub(crate) enum Flow {
    /// Continue at the next instruction.
    Next,
    /// Continue at this instruction.
    Goto(usize),
    /// Continue at this instruction after a callee's exit, printing the
    /// state first.
    Return(usize),
    /// The path ended; take the next queued branch.
    PathEnd,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(
        req: &'a LoadRequest,
        maps: &'a map_in_map::MapTable,
        profile: &'a KernelProfile,
        log: &'a mut Log,
        live_regs: Vec<crate::liveness::RegSet>,
        scc: Vec<u32>,
        btf_funcs: Option<BtfFuncs>,
    ) -> Self {
        let insns = &req.insns[..];
        let (prune_point, jmp_point) = prune_points(insns);
        let subprogs = subprog_call::Subprogs::new(req);
        let exception_cb = subprog_call::exception_cb(req).and_then(|s| subprogs.index_of(s));
        let fastcall =
            fastcall::Fastcall::mark(req, profile, &subprogs.starts, &Default::default());
        // `may_goto` always checkpoints (`mark_force_checkpoint`).
        // and so do callback-calling helpers.
        let force_checkpoint = insns
            .iter()
            .map(|i| {
                i.class() == op::JMP && op::alu_op(i.code) == op::JCOND
                    || callback::calls_callback(i)
            })
            .collect();
        Self {
            insns,
            req,
            maps: &maps.maps,
            non_null: &maps.non_null,
            map_fields: crate::prepare::map_btf::map_records(req, &maps.maps, profile),
            prog_type: req.prog_type,
            strict_alignment: req.prog_flags & BPF_F_STRICT_ALIGNMENT != 0,
            test_state_freq: req.prog_flags & BPF_F_TEST_STATE_FREQ != 0,
            profile,
            era: Era::of(profile),
            log,
            cur: VerifierState::entry(),
            queue: Vec::new(),
            insn_idx: 0,
            prev_insn_idx: None,
            prune_point,
            jmp_point,
            force_checkpoint,
            checkpoint_at: vec![Vec::new(); insns.len()],
            checkpoints: Vec::new(),
            path: PathMeta::default(),
            stack_live: stack_liveness::StackLiveness::new(insns, &subprogs.starts),
            subprogs,
            access_frame: 0,
            btf_funcs,
            globals: btf_func::GlobalsQueue::default(),
            live_regs,
            hist: Vec::new(),
            hist_len: 0,
            visits: std::collections::BTreeMap::new(),
            scc,
            num_backedges: 0,
            explored_size: 0,
            free_list_size: 0,
            peak_states: 0,
            error_logged: false,
            cur_hist_ent: None,
            hist_prev: -1,
            insn_processed: 0,
            jmps_processed: 0,
            prev_jmps_processed: 0,
            prev_insn_processed: 0,
            total_states: 0,
            max_states_per_insn: 0,
            id_gen: 0,
            scratched_regs: u16::MAX,
            scratched_slots: u64::MAX,
            prev_log_pos: 0,
            prev_insn_print_len: 0,
            obs: None,
            ptr_type_seen: vec![None; insns.len()],
            read_marks: !profile.features.static_liveness,
            longest_mark_read: 0,
            calls_callback: insns.iter().map(callback::calls_callback).collect(),
            loop_inline: std::collections::BTreeMap::new(),
            kfuncs: crate::prepare::kfunc::KfuncTab::default(),
            fastcall,
            async_cbs: std::collections::BTreeSet::new(),
            cb_subprogs: std::collections::BTreeSet::new(),
            exception_cb,
        }
    }

    /// The statistics so far.
    pub(crate) fn stats(&self) -> VerifierStats {
        VerifierStats {
            insns_processed: self.insn_processed,
            insn_limit: u64::from(self.profile.limits.complexity_insns),
            max_states_per_insn: self.max_states_per_insn,
            total_states: self.total_states,
            peak_states: self.peak_states,
            mark_read: self.longest_mark_read,
            stack_depth: Some(self.subprogs.depths()),
            max_stack_depth: self
                .profile
                .features
                .walk_v7
                .stats_insns_processed
                .then(|| self.subprogs.max_depth()),
            insns_by_function: self
                .profile
                .features
                .walk_v7
                .stats_insns_processed
                .then(|| {
                    self.subprogs.insns_by_function(|k| {
                        self.btf_funcs.as_ref().is_some_and(|b| b.is_global(k))
                    })
                }),
            ..VerifierStats::default()
        }
    }

    /// Whether the error returned by [`Checker::run`] was logged with what
    /// the kernel prints after it.
    pub(crate) fn error_logged(&self) -> bool {
        self.error_logged
    }

    /// Walks every path; `Ok` when all end in a valid exit.
    pub(crate) fn run(&mut self) -> Result<(), Stop> {
        if self.globals.verifying.is_none() {
            self.check_main_prototype()?;
        }
        let mut do_print_state = false;
        loop {
            let idx = self.insn_idx;
            let Some(&insn) = self.insns.get(idx) else {
                return Err(self.reject(
                    ErrorCode::InvalidInsn,
                    Errno::EFAULT,
                    format!("invalid insn idx {idx} insn_cnt {}", self.insns.len()),
                ));
            };
            self.cur_hist_ent = None;
            self.hist_prev = self.prev_insn_idx.map_or(-1, |p| p as i64);
            self.insn_processed += 1;
            self.subprogs
                .count_processed(self.cur.frames.iter().map(|f| f.subprog));
            self.obs_processed(idx);
            if self.insn_processed > u64::from(self.profile.limits.complexity_insns) {
                return Err(self.reject(
                    ErrorCode::InvalidInsn,
                    Errno::E2BIG,
                    format!(
                        "BPF program is too large. Processed {} insn",
                        self.insn_processed
                    ),
                ));
            }
            let pruned = self.prune_point[idx] && self.is_state_visited()?;
            if pruned {
                if self.log.level1() {
                    if do_print_state {
                        let from = self.prev_insn_idx.map_or(-1, |p| p as i64);
                        self.log.line(&format!("\nfrom {from} to {idx}: safe"));
                    } else {
                        self.log.line(&format!("{idx}: safe"));
                    }
                }
                self.scratch_all();
                if let Some(next) = self.end_path()? {
                    do_print_state = next;
                    continue;
                }
                return self.walk_done();
            }
            if self.jmp_point[idx] {
                self.push_hist(None, Vec::new());
            }
            if self.log.level2() && do_print_state {
                let from = self.prev_insn_idx.map_or(-1, |p| p as i64);
                self.log.push(&format!("\nfrom {from} to {idx}:"));
                let text = print::state(&self.cur, None, self.print_style());
                self.log.push(&text);
                do_print_state = false;
            }
            if self.log.level1() {
                if self.scratched_regs != 0 || self.scratched_slots != 0 {
                    self.print_insn_state();
                }
                self.log.source_line(idx, "; ");
                self.prev_log_pos = self.log.pos();
                let era = self.profile.log_era;
                self.log.line(&format!(
                    "{idx}: {}",
                    disasm(self.insns, idx, era, &print::KernelAddrs(&self.kfuncs))
                ));
                self.prev_insn_print_len = self.log.pos() - self.prev_log_pos;
                self.prev_log_pos = self.log.pos();
            }
            self.prev_insn_idx = Some(idx);
            self.stack_live.reset_writes(&self.cur, idx);
            self.obs_before_step(idx);
            let flow = self.step(&insn)?;
            self.obs_after_step();
            if !matches!(flow, Flow::PathEnd) {
                self.stack_live.commit_writes();
            }
            match flow {
                Flow::Next => {
                    self.insn_idx = idx + if is_ldimm64(&insn) { 2 } else { 1 };
                }
                Flow::Goto(t) => self.insn_idx = t,
                Flow::Return(t) => {
                    self.insn_idx = t;
                    do_print_state = true;
                }
                Flow::PathEnd => {
                    self.scratch_all();
                    match self.end_path()? {
                        Some(next) => do_print_state = next,
                        None => return self.walk_done(),
                    }
                }
            }
        }
    }

    /// The end of a path (`process_bpf_exit`): the stack liveness update,
    /// then the next queued branch, if any (`Some(true)`: its state is to
    /// be printed).
    fn end_path(&mut self) -> Result<Option<bool>, Stop> {
        self.finish_path(self.path)?;
        self.update_stack_liveness();
        let Some(p) = self.queue.pop() else {
            return Ok(None);
        };
        if !self.log.level2() {
            self.log.truncate(p.log_pos);
        }
        self.cur = p.state;
        self.insn_idx = p.insn;
        self.prev_insn_idx = Some(p.prev);
        self.path = p.path;
        self.hist_len = p.hist_end;
        self.obs_branch_resumed();
        Ok(Some(true))
    }

    /// `bpf_update_live_stack` for the current state's call chain.
    fn update_stack_liveness(&mut self) {
        let mut text = String::new();
        // Only 6.18's stack liveness logs its updates.
        let level2 = self.log.level2() && self.profile.features.static_liveness;
        self.stack_live.update(
            &self.cur,
            self.insns,
            &self.prune_point,
            level2.then_some(&mut text),
        );
        self.log.push(&text);
    }

    /// One instruction, after its log line.
    fn step(&mut self, insn: &RawInsn) -> Result<Flow, Stop> {
        let idx = self.insn_idx;
        check_fields(self.insns, idx, &self.profile.isa).map_err(VerifierError::from)?;
        match insn.class() {
            op::ALU | op::ALU64 => self.alu(insn).map(|()| Flow::Next),
            op::LDX => self.ldx(insn).map(|()| Flow::Next),
            op::STX if op::mode(insn.code) == op::ATOMIC => self.atomic(insn).map(|()| Flow::Next),
            op::STX => self.stx(insn).map(|()| Flow::Next),
            op::ST => self.st(insn).map(|()| Flow::Next),
            op::JMP | op::JMP32 => {
                self.jmps_processed += 1;
                match op::alu_op(insn.code) {
                    op::CALL => {
                        self.call_under_lock(insn)?;
                        if insn.src == op::PSEUDO_CALL {
                            self.pseudo_call()
                        } else {
                            self.call(insn)?;
                            if self.is_throw(insn) {
                                self.throw_exit()
                            } else if insn.src == 0
                                && insn.imm == subprog_call::TAIL_CALL
                                && self.abnormal_exit_leaves_frame()
                            {
                                *self.cur.cur_mut().reg_mut(0) = RegState::unknown();
                                self.scratch_reg(0);
                                self.abnormal_exit()
                            } else {
                                Ok(Flow::Next)
                            }
                        }
                    }
                    op::JA => Ok(Flow::Goto(jmp::ja_target(idx, insn))),
                    op::EXIT => self.exit(),
                    op::JCOND => self.may_goto(insn),
                    _ => self.cond_jmp(insn),
                }
            }
            _ => {
                self.ld(insn)?;
                let ld_abs = matches!(op::mode(insn.code), op::ABS | op::IND);
                let leaves = self.abnormal_exit_leaves_frame()
                    || self.cur.frames.len() > 1
                        && self.profile.features.walk_v6_1.ld_abs_exits_subprog;
                if ld_abs && leaves {
                    self.abnormal_exit()
                } else {
                    Ok(Flow::Next)
                }
            }
        }
    }

    /// `check_ld_imm` for plain 64-bit constants and maps, and
    /// `BPF_LD_[ABS|IND]`; other pseudo sources are not modelled.
    fn ld(&mut self, insn: &RawInsn) -> Result<(), Stop> {
        match op::mode(insn.code) {
            op::ABS | op::IND => self.ld_abs(insn),
            _ => {
                self.write_reg(insn.dst, RegArg::Dst)?;
                let second = self
                    .insns
                    .get(self.insn_idx + 1)
                    .copied()
                    .unwrap_or_default();
                match insn.src {
                    0 => {}
                    op::PSEUDO_MAP_FD
                    | op::PSEUDO_MAP_IDX
                    | op::PSEUDO_MAP_VALUE
                    | op::PSEUDO_MAP_IDX_VALUE => {
                        let reg = self.ld_map(insn, &second)?;
                        *self.cur.cur_mut().reg_mut(insn.dst) = reg;
                        return Ok(());
                    }
                    op::PSEUDO_FUNC => {
                        let reg = self.ld_func(insn)?;
                        *self.cur.cur_mut().reg_mut(insn.dst) = reg;
                        return Ok(());
                    }
                    _ => {
                        return Err(self.unsupported("ld_imm64 pseudo sources (BTF)"));
                    }
                }
                let hi = second.imm;
                let v = (u64::from(hi as u32) << 32) | u64::from(insn.imm as u32);
                *self.cur.cur_mut().reg_mut(insn.dst) = RegState::constant(v);
                Ok(())
            }
        }
    }

    /// `exit` of the main program: R0 must be readable, and in range for
    /// the program types that restrict it.
    fn exit(&mut self) -> Result<Flow, Stop> {
        if self.cur.frames.len() > 1 {
            return self.subprog_exit();
        }
        self.check_resource_leak("BPF_EXIT instruction in main prog")?;
        if !self.return_unchecked()? {
            self.read_reg(0)?;
            self.check_return_code()?;
        }
        Ok(Flow::PathEnd)
    }

    /// `check_reg_arg(r, SRC_OP)`.
    pub(crate) fn read_reg(&mut self, r: u8) -> Result<&RegState, Stop> {
        check_reg(self.insn_idx, r, RegArg::Src).map_err(VerifierError::from)?;
        self.scratch_reg(r);
        if matches!(self.cur.cur().reg(r), RegState::NotInit) {
            return Err(self.reject(
                ErrorCode::UninitRegister,
                Errno::EACCES,
                format!("R{r} !read_ok"),
            ));
        }
        self.live_read_reg(r);
        Ok(self.cur.cur().reg(r))
    }

    /// `check_reg_arg(r, DST_OP)` / `DST_OP_NO_MARK`.
    pub(crate) fn write_reg(&mut self, r: u8, arg: RegArg) -> Result<(), Stop> {
        check_reg(self.insn_idx, r, arg).map_err(VerifierError::from)?;
        self.scratch_reg(r);
        self.live_write_reg(r);
        if arg == RegArg::Dst {
            *self.cur.cur_mut().reg_mut(r) = RegState::unknown();
        }
        Ok(())
    }

    pub(crate) fn scratch_reg(&mut self, r: u8) {
        self.scratched_regs |= 1 << (r & 15);
    }

    pub(crate) fn scratch_slot(&mut self, spi: usize) {
        if spi < 64 {
            self.scratched_slots |= 1 << spi;
        }
    }

    fn scratch_all(&mut self) {
        self.scratched_regs = u16::MAX;
        self.scratched_slots = u64::MAX;
    }

    /// Queues `state` to be walked from `insn` (`push_stack`).
    pub(crate) fn push_branch(
        &mut self,
        state: VerifierState,
        insn: usize,
        prev: usize,
    ) -> Result<(), Stop> {
        self.obs_branch_queued(&state, insn, prev);
        if let Some(parent) = self.path.parent {
            self.checkpoints[parent].branches += 1;
        }
        self.queue.push(Pending {
            state,
            insn,
            prev,
            log_pos: self.log.pos(),
            path: self.path,
            hist_end: self.hist_len,
        });
        if self.queue.len() > JMP_SEQ_LIMIT {
            return Err(self.reject(
                ErrorCode::TooComplex,
                Errno::E2BIG,
                format!("The sequence of {} jumps is too complex.", self.queue.len()),
            ));
        }
        Ok(())
    }

    /// How this profile's log prints states.
    pub(crate) fn print_style(&self) -> print::Style<'a> {
        print::Style {
            maps: self.maps,
            v6_1: self.profile.features.walk_v6_1.state_print,
        }
    }

    /// `print_insn_state`: the touched registers after the instruction
    /// line, or on a line of their own when something was logged between.
    pub(crate) fn print_insn_state(&mut self) {
        if !self.log.level1() {
            return;
        }
        let text = print::state(
            &self.cur,
            Some((self.scratched_regs, self.scratched_slots)),
            self.print_style(),
        );
        if self.prev_log_pos != 0 && self.prev_log_pos == self.log.pos() {
            self.log.truncate(self.prev_log_pos - 1);
            let pad = crate::log::alignment(self.prev_insn_print_len);
            self.log.push(&format!("{:>pad$};", ' '));
        } else {
            self.log.push(&format!("{}:", self.insn_idx));
        }
        self.log.push(&text);
        self.scratched_regs = 0;
        self.scratched_slots = 0;
    }

    pub(crate) fn new_id(&mut self) -> u32 {
        self.id_gen += 1;
        self.id_gen
    }

    pub(crate) fn reject(&self, code: ErrorCode, errno: Errno, msg: String) -> Stop {
        Stop::Reject(VerifierError::new(code, errno, Some(self.insn_idx), msg))
    }

    pub(crate) fn unsupported(&self, feature: &str) -> Stop {
        Stop::Unsupported(Unsupported::new(feature, Some(self.insn_idx)))
    }
}

/// Prune and jump points as `check_cfg` marks them: every conditional
/// jump and its branch target, `ja` targets, and the instruction after a
/// call.
fn prune_points(insns: &[RawInsn]) -> (Vec<bool>, Vec<bool>) {
    let n = insns.len();
    let mut prune = vec![false; n];
    let mut jmp = vec![false; n];
    let mark = |v: &mut Vec<bool>, t: i64| {
        if let Ok(t) = usize::try_from(t)
            && t < n
        {
            v[t] = true;
        }
    };
    for (i, insn) in insns.iter().enumerate() {
        let class = insn.class();
        if i > 0 && is_ldimm64(&insns[i - 1]) {
            continue;
        }
        // A function reference: its target is explored as a branch.
        if insn.code == op::LD | op::IMM | op::DW && insn.src == op::PSEUDO_FUNC {
            let here = i64::try_from(i).unwrap_or(i64::MAX);
            mark(&mut prune, here + 2);
            mark(&mut jmp, here + 2);
            prune[i] = true;
            let t = here + 1 + i64::from(insn.imm);
            mark(&mut prune, t);
            mark(&mut jmp, t);
            continue;
        }
        if class != op::JMP && class != op::JMP32 {
            continue;
        }
        if callback::calls_callback(insn) {
            prune[i] = true;
            jmp[i] = true;
        }
        let here = i64::try_from(i).unwrap_or(i64::MAX);
        match op::alu_op(insn.code) {
            op::EXIT => {}
            op::CALL => {
                mark(&mut prune, here + 1);
                mark(&mut jmp, here + 1);
                // `visit_func_call_insn` with the callee as a branch.
                if insn.src == op::PSEUDO_CALL {
                    prune[i] = true;
                    let t = here + 1 + i64::from(insn.imm);
                    mark(&mut prune, t);
                    mark(&mut jmp, t);
                }
            }
            op::JA => {
                let t = here + 1 + i64::from(jmp::ja_offset(insn));
                mark(&mut prune, t);
                mark(&mut jmp, t);
            }
            _ => {
                prune[i] = true;
                let t = here + 1 + i64::from(insn.off);
                mark(&mut prune, t);
                mark(&mut jmp, t);
            }
        }
    }
    (prune, jmp)
}
