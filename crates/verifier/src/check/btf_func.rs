//! Subprograms described by the program's BTF (`func_info`): the
//! argument kinds `btf_prepare_func_args` derives from each function's
//! prototype, the check of a call's registers against them
//! (`btf_check_func_arg_match`), and global functions, which a call
//! assumes valid and which are verified on their own after the main
//! program (`do_check_subprogs`).
//!
//! Modelled: the argument kinds of `super::global_args` (scalars, the
//! context by name or `arg:ctx`, sized memory, `arg:nonnull`,
//! `arg:nullable`, `arg:trusted`, `arg:arena`), the lines the kernel logs
//! for `void` and forward-declared pointees, non-scalar returns and
//! refused tags, and static functions whose prototypes the kernel
//! silently gives up on. Dynptr arguments, `arg:untrusted` and pointees
//! whose size the model cannot work out are reported as unsupported.

use bpfcheck_btf::types::Linkage;
use bpfcheck_btf::{Btf, BtfTypeId, Type};
use bpfcheck_uapi::{Errno, LoadRequest, ProgType, op};

use super::Checker;
use super::precision::PathMeta;
use super::subprog_call::call_target;
use crate::error::{ErrorCode, Stop, Unsupported};
use crate::state::{FuncState, RegState, VerifierState};

/// The struct names an argument's pointee may have to be the program
/// type's context (`btf_is_prog_ctx_type`): the user-side context type of
/// `bpf_types.h`, what a typedef there resolves to, and the kernel-side
/// "projection" the kernel also accepts for `__sk_buff` and `xdp_md`.
/// Types whose context is `void *` have none.
pub(super) fn ctx_names(prog_type: ProgType) -> &'static [&'static str] {
    match prog_type {
        ProgType::SOCKET_FILTER
        | ProgType::SCHED_CLS
        | ProgType::SCHED_ACT
        | ProgType::CGROUP_SKB
        | ProgType::LWT_IN
        | ProgType::LWT_OUT
        | ProgType::LWT_XMIT
        | ProgType::LWT_SEG6LOCAL
        | ProgType::SK_SKB
        | ProgType::FLOW_DISSECTOR => &["__sk_buff", "sk_buff"],
        ProgType::XDP => &["xdp_md", "xdp_buff"],
        ProgType::CGROUP_SOCK => &["bpf_sock"],
        ProgType::CGROUP_SOCK_ADDR => &["bpf_sock_addr"],
        ProgType::SOCK_OPS => &["bpf_sock_ops"],
        ProgType::SK_MSG => &["sk_msg_md"],
        ProgType::KPROBE => &["bpf_user_pt_regs_t", "pt_regs"],
        ProgType::TRACEPOINT => &["__u64", "long long unsigned int"],
        ProgType::LIRC_MODE2 => &["__u32", "unsigned int"],
        ProgType::PERF_EVENT => &["bpf_perf_event_data"],
        ProgType::RAW_TRACEPOINT | ProgType::RAW_TRACEPOINT_WRITABLE => {
            &["bpf_raw_tracepoint_args"]
        }
        ProgType::CGROUP_DEVICE => &["bpf_cgroup_dev_ctx"],
        ProgType::CGROUP_SYSCTL => &["bpf_sysctl"],
        ProgType::CGROUP_SOCKOPT => &["bpf_sockopt"],
        ProgType::SK_REUSEPORT => &["sk_reuseport_md"],
        ProgType::SK_LOOKUP => &["bpf_sk_lookup"],
        ProgType::NETFILTER => &["bpf_nf_ctx"],
        _ => &[],
    }
}

/// Whether a pointer to `pointee` is the program's context
/// (`btf_is_prog_ctx_type`). Kprobes may name their context by the
/// `bpf_user_pt_regs_t` typedef even when its struct is only declared.
pub(crate) fn is_prog_ctx(btf: &Btf<'_>, pointee: BtfTypeId, prog_type: ProgType) -> bool {
    if prog_type == ProgType::KPROBE
        && let Ok(Type::Typedef(t)) = btf.skip_mods(pointee)
        && t.name() == Ok("bpf_user_pt_regs_t")
    {
        return true;
    }
    match btf.resolve(pointee) {
        Ok(Type::Struct(c) | Type::Union(c)) => {
            let name = c.name().unwrap_or("");
            !name.is_empty() && ctx_names(prog_type).contains(&name)
        }
        _ => false,
    }
}

pub(super) use super::global_args::ArgKind;
use super::global_args::{Prep, prepare};

#[derive(Clone, Debug)]
struct FuncSig {
    name: String,
    global: bool,
    prep: Prep,
}

/// The BTF view of every subprogram and what the walk learnt of them.
pub(crate) struct BtfFuncs {
    sigs: Vec<FuncSig>,
    /// `func_info_aux[].unreliable`.
    unreliable: Vec<bool>,
    /// Global functions a call reached, and those verified.
    called: Vec<bool>,
    verified: Vec<bool>,
}

/// `do_check_subprogs`' progress: the global function being verified on
/// its own, where the search for the next one goes on, and how many were
/// verified in this pass over the subprograms.
#[derive(Default)]
pub(super) struct GlobalsQueue {
    pub(super) verifying: Option<usize>,
    cursor: usize,
    new_in_pass: u32,
}

/// How a call's registers matched the callee's prototype.
pub(super) enum ArgsMatch {
    Match,
    /// A mismatch, with the line the kernel logs for it, if any.
    Mismatch(Option<String>),
}

fn unsupported(why: impl Into<String>) -> Unsupported {
    Unsupported::new(
        format!("subprograms with BTF func_info ({})", why.into()),
        None,
    )
}

impl BtfFuncs {
    /// The subprograms' BTF (`check_btf_func`); `None` without
    /// `func_info`. Tables the kernel would refuse are not modelled.
    pub(super) fn from_request(
        req: &LoadRequest,
        starts: &[usize],
    ) -> Result<Option<Self>, Unsupported> {
        if req.func_info.is_empty() {
            return Ok(None);
        }
        let bytes = req
            .prog_btf
            .as_deref()
            .ok_or_else(|| unsupported("no program BTF"))?;
        let btf = Btf::parse(bytes).map_err(|e| unsupported(format!("unreadable BTF: {e}")))?;
        if req.func_info.len() != starts.len() {
            return Err(unsupported("func_info that does not match the subprograms"));
        }
        let mut sigs = Vec::with_capacity(starts.len());
        for (fi, &start) in req.func_info.iter().zip(starts) {
            if fi.insn_off as usize != start {
                return Err(unsupported("func_info that does not match the subprograms"));
            }
            let Ok(Type::Func(f)) = btf.type_by_id(BtfTypeId(fi.type_id)) else {
                return Err(unsupported("a func_info type that is not a function"));
            };
            let name = f.name().unwrap_or("").to_owned();
            let global = match f.linkage() {
                Linkage::Static => false,
                Linkage::Global => true,
                _ => return Err(unsupported("extern functions")),
            };
            let prep = prepare(
                &btf,
                BtfTypeId(fi.type_id),
                f.proto(),
                global,
                &name,
                req.prog_type,
                req.expected_attach_type,
            );
            sigs.push(FuncSig { name, global, prep });
        }
        let n = sigs.len();
        Ok(Some(Self {
            sigs,
            unreliable: vec![false; n],
            called: vec![false; n],
            verified: vec![false; n],
        }))
    }

    /// Whether a subprogram other than the entry is global.
    pub(super) fn any_global_subprog(&self) -> bool {
        self.sigs.iter().skip(1).any(|s| s.global)
    }

    pub(super) fn is_global(&self, k: usize) -> bool {
        self.sigs.get(k).is_some_and(|s| s.global)
    }

    /// The first instructions of the global functions.
    pub(super) fn global_starts(&self, starts: &[usize]) -> Vec<usize> {
        (0..self.sigs.len())
            .filter(|k| self.sigs[*k].global)
            .filter_map(|k| starts.get(k).copied())
            .collect()
    }

    /// The arguments of subprogram `k` to check a call against, or why
    /// the call is not checked (`btf_check_subprog_call` before the
    /// registers are looked at).
    fn call_args(&mut self, k: usize) -> Result<Result<Vec<ArgKind>, ArgsMatch>, Unsupported> {
        if self.unreliable[k] {
            return Ok(Err(ArgsMatch::Mismatch(None)));
        }
        match &self.sigs[k].prep {
            Prep::Args(a) => Ok(Ok(a.clone())),
            Prep::Silent => {
                self.unreliable[k] = true;
                Ok(Err(ArgsMatch::Mismatch(None)))
            }
            Prep::Refused(line) => {
                self.unreliable[k] = true;
                Ok(Err(ArgsMatch::Mismatch(Some(line.clone()))))
            }
            Prep::Unsupported(why) => Err(unsupported(why.clone())),
        }
    }
}

impl Checker<'_> {
    /// `btf_check_subprog_call`: the caller's `R1`–`R5` against subprogram
    /// `k`'s prototype (`btf_check_func_arg_match`); a mismatch makes the
    /// subprogram's BTF unreliable.
    pub(super) fn btf_check_call(&mut self, k: usize) -> Result<ArgsMatch, Stop> {
        let Some(b) = self.btf_funcs.as_mut() else {
            return Ok(ArgsMatch::Match);
        };
        let args = match b.call_args(k) {
            Ok(Ok(args)) => args,
            Ok(Err(m)) => return Ok(m),
            Err(u) => {
                return Err(Stop::Unsupported(Unsupported::new(
                    u.feature,
                    Some(self.insn_idx),
                )));
            }
        };
        // The kernel types of `arg:trusted` arguments are looked up while
        // the prototype is prepared, before any register.
        let trusted = match self.trusted_arg_types(&args)? {
            Ok(t) => t,
            Err(line) => {
                if let Some(b) = self.btf_funcs.as_mut() {
                    b.unreliable[k] = true;
                }
                return Ok(ArgsMatch::Mismatch(Some(line)));
            }
        };
        for (i, (arg, ty)) in args.iter().zip(trusted).enumerate() {
            let bad = self.check_global_arg(i, arg, ty)?;
            if let Some(line) = bad {
                if let Some(b) = self.btf_funcs.as_mut() {
                    b.unreliable[k] = true;
                }
                return Ok(ArgsMatch::Mismatch(Some(line)));
            }
        }
        Ok(ArgsMatch::Match)
    }

    /// Whether the program has a global function besides its entry.
    pub(super) fn has_global_subprogs(&self) -> bool {
        self.btf_funcs
            .as_ref()
            .is_some_and(BtfFuncs::any_global_subprog)
    }

    /// The main program's prototype is checked when its walk starts
    /// (`do_check_common`); a global one the kernel refuses is only
    /// logged, the program's BTF then being unreliable.
    pub(super) fn check_main_prototype(&mut self) -> Result<(), Stop> {
        let Some(b) = self.btf_funcs.as_ref() else {
            return Ok(());
        };
        // 6.1 prepares no arguments for the main function (but of an
        // extension program, which has no walk here).
        if self.profile.features.walk_v6_1.global_funcs {
            return Ok(());
        }
        match &b.sigs[0].prep {
            Prep::Refused(line) => {
                let line = line.clone();
                self.log.line(&line);
                Ok(())
            }
            Prep::Unsupported(why) => {
                let u = unsupported(why.clone());
                Err(Stop::Unsupported(Unsupported::new(u.feature, Some(0))))
            }
            Prep::Args(_) | Prep::Silent => Ok(()),
        }
    }

    /// A call of global function `k` (`check_func_call`): valid whatever
    /// it does, verified later; the caller sees an unknown `R0`.
    pub(super) fn global_call(&mut self, k: usize, matched: bool) -> Result<(), Stop> {
        self.global_call_under_lock()?;
        if self.cur.regions.any() {
            return Err(self.unsupported("global function calls inside RCU or preemption regions"));
        }
        let Some(b) = self.btf_funcs.as_mut() else {
            return Err(self.unsupported("global functions without BTF"));
        };
        let name = b.sigs[k].name.clone();
        if !matched {
            return Err(self.reject(
                ErrorCode::InvalidCallTarget,
                Errno::EINVAL,
                format!("Caller passes invalid args into func#{k} ('{name}')"),
            ));
        }
        b.called[k] = true;
        self.log
            .line(&format!("Func#{k} ('{name}') is global and assumed valid."));
        if self.subprog_changes_pkt_data(k) {
            self.clear_all_pkt_pointers();
        }
        let caller = self.cur.cur_mut();
        for r in &mut caller.regs[..=5] {
            *r = RegState::NotInit;
        }
        caller.regs[0] = RegState::unknown();
        for r in 0..=5u8 {
            self.scratch_reg(r);
        }
        let frame = self.cur.frames.len() - 1;
        self.live_clobber_caller_saved(frame);
        Ok(())
    }

    /// `changes_pkt_data` of subprogram `k` as `check_cfg` finds it: it, or
    /// a subprogram it calls, calls a helper that changes packet data.
    fn subprog_changes_pkt_data(&self, k: usize) -> bool {
        let starts = &self.subprogs.starts;
        let mut seen = vec![false; starts.len()];
        let mut todo = vec![k];
        while let Some(k) = todo.pop() {
            if std::mem::replace(&mut seen[k], true) {
                continue;
            }
            let end = starts.get(k + 1).copied().unwrap_or(self.insns.len());
            for i in starts[k]..end {
                let insn = &self.insns[i];
                if insn.code != op::JMP | op::CALL {
                    continue;
                }
                if insn.src == 0 && super::packet::changes_pkt_data(insn.imm) {
                    return true;
                }
                if let Some(callee) =
                    call_target(self.insns, i).and_then(|t| self.subprogs.index_of(t))
                {
                    todo.push(callee);
                }
            }
        }
        false
    }

    /// After a successful walk (`do_check_common`'s end, then
    /// `do_check_subprogs`): at level 1 the log of a successful walk is
    /// dropped; the next global function called and not yet verified is
    /// walked from a state built from its prototype.
    pub(super) fn walk_done(&mut self) -> Result<(), Stop> {
        if !self.log.level2() {
            self.log.truncate(0);
        }
        let Some(b) = self.btf_funcs.as_mut() else {
            return self.check_max_stack_depth();
        };
        let q = &mut self.globals;
        if let Some(k) = q.verifying.take() {
            b.verified[k] = true;
            q.new_in_pass += 1;
            q.cursor = k + 1;
            let name = &b.sigs[k].name;
            let line = format!("Func#{k} ('{name}') is safe for any args that match its prototype");
            if self.log.level1() {
                self.log.line(&line);
            }
        }
        // The exception callback is presumed called (`do_check_subprogs`).
        if let Some(k) = self.exception_cb
            && let Some(c) = b.called.get_mut(k)
        {
            *c = true;
        }
        let pending = |b: &BtfFuncs, from: usize| {
            (from.max(1)..b.sigs.len()).find(|&i| b.sigs[i].global && b.called[i] && !b.verified[i])
        };
        let mut next = pending(b, q.cursor);
        if next.is_none() && q.new_in_pass > 0 {
            q.new_in_pass = 0;
            next = pending(b, 1);
        }
        let Some(k) = next else {
            return self.check_max_stack_depth();
        };
        let sig = b.sigs[k].clone();
        let exception_cb = self.exception_cb == Some(k);
        // Only the exception callback, which no call checked, can reach
        // its validation with a prototype the kernel refuses.
        if let (Prep::Refused(line), true) = (&sig.prep, exception_cb) {
            self.log
                .line(&format!("Validating {}() func#{k}...", sig.name));
            return Err(self.reject(ErrorCode::Exception, Errno::EINVAL, line.clone()));
        }
        let Prep::Args(args) = sig.prep else {
            return Err(self.unsupported("global functions the kernel cannot prepare"));
        };
        self.log
            .line(&format!("Validating {}() func#{k}...", sig.name));
        if exception_cb {
            self.check_exception_cb_args(&args)?;
        }
        let Ok(trusted) = self.trusted_arg_types(&args)? else {
            return Err(self.unsupported("arg:trusted types found at a call only"));
        };
        let mut frame = FuncState::entry();
        frame.regs[1] = RegState::NotInit;
        frame.subprog = k;
        frame.in_exception_cb = exception_cb;
        for (i, (a, ty)) in args.iter().zip(trusted).enumerate() {
            frame.regs[i + 1] = self.global_arg_reg(a, ty)?;
        }
        self.globals.verifying = Some(k);
        self.start_walk(
            VerifierState {
                frames: vec![frame],
                may_goto_depth: 0,
                refs: crate::state::Refs::default(),
                callback_unroll_depth: 0,
                regions: crate::state::Regions::default(),
            },
            self.subprogs.starts[k],
        );
        self.run()
    }

    /// A fresh walk from `insn` (`do_check_common`): nothing queued, no
    /// history, no checkpoints (`free_states`); counters go on.
    fn start_walk(&mut self, state: VerifierState, insn: usize) {
        self.cur = state;
        self.queue.clear();
        self.insn_idx = insn;
        self.prev_insn_idx = None;
        self.hist.clear();
        self.hist_len = 0;
        self.cur_hist_ent = None;
        // `free_states` drops the SCC visits with their backedges; the
        // state counters go on across walks, as the kernel's do.
        self.visits.clear();
        self.path = PathMeta {
            parent: None,
            first_idx: insn,
            hist_start: 0,
            loop_entry: None,
        };
        for bucket in &mut self.checkpoint_at {
            bucket.clear();
        }
        self.scratched_regs = u16::MAX;
        self.scratched_slots = u64::MAX;
        self.log.reset_source_lines();
        self.stack_live.reset_chain();
    }
}
