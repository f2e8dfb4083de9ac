//! A concrete, sandboxed interpreter for BPF programs: what the program
//! computes when the kernel runs it, for differential tests against
//! `BPF_PROG_TEST_RUN` and for checking that bpfcheck's abstract states
//! contain every concrete execution.
//!
//! # Implemented
//!
//! * Every instruction of the 6.18 ISA that [`bpfcheck_isa::decode`]
//!   accepts, with the runtime semantics of [`alu`]: ALU/ALU64 including
//!   `sdiv`/`smod`/`movsx`/`bswap`/`le`/`be` (little-endian host), division
//!   by zero and masked shifts as the kernel executes them; JMP/JMP32, `ja`,
//!   `gotol`; LDX/ST/STX including sign-extending loads; atomics including
//!   the fetch forms, `xchg`, `cmpxchg`, `load_acquire`, `store_release`;
//!   `ld_imm64` constants and map pseudo sources (`map_fd`, `map_value`,
//!   and their `fd_array` forms); legacy `LD_ABS`/`LD_IND` (network order;
//!   out of range ends the program with 0, as the kernel does); bpf-to-bpf
//!   calls with 8 frames of 512 bytes and callee-saved R6–R9; `may_goto`
//!   with a per-invocation budget ([`Config::loop_budget`], by default the
//!   kernel's `BPF_MAX_LOOPS`); `exit`.
//! * A sandboxed memory ([`mem`]): stack frames, the context, the packet,
//!   map values. Any access outside a region, a read of a register no path
//!   wrote, a write to R10, is an [`InterpError`]; nothing panics.
//! * Helpers ([`helpers::MODELLED_HELPERS`]): `map_lookup_elem`,
//!   `map_update_elem`, `map_delete_elem` on array and hash maps,
//!   `ktime_get_ns` (a fixed value), `get_prandom_u32` (seeded),
//!   `get_smp_processor_id` (0), `trace_printk` (no output; returns the
//!   format's length, as the kernel does for a format without conversions).
//!   Helper calls clobber R1–R5.
//! * A step budget ([`Config::step_budget`]), so every run ends.
//! * An [`Observer`] called before each instruction with the registers, for
//!   soundness checks.
//!
//! # Knowingly not implemented
//!
//! Other helpers and map types, kfuncs, callbacks (`ld_imm64` of
//! subprograms), BTF-id pointers, arenas (`addr_space_cast`), tail calls;
//! the context's non-pointer fields are whatever bytes [`Input::ctx`] holds
//! (the kernel computes them from the `sk_buff`); the x86-64 JIT's time-based
//! `may_goto` budget (6.13+) is modelled as the plain count.

#![deny(missing_docs)]

pub mod alu;
mod ctx;
mod error;
mod exec;
pub mod helpers;
mod maps;
pub mod mem;

pub use ctx::{CtxField, CtxLayout};
pub use error::{Fault, InterpError};
pub use exec::{MAX_FRAMES, Regs, STACK_SIZE};

use bpfcheck_isa::{Decoded, InsnError};
use bpfcheck_uapi::{InsnIdx, LoadRequest};

/// The kernel's `may_goto` budget (`BPF_MAX_LOOPS`).
pub const BPF_MAX_LOOPS: u64 = 8 * 1024 * 1024;

/// How runs are bounded and what the environment returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Instructions executed before the run is stopped with
    /// [`Fault::StepBudget`].
    pub step_budget: u64,
    /// `may_goto` iterations per call frame.
    pub loop_budget: u64,
    /// Seed of `bpf_get_prandom_u32`.
    pub prandom_seed: u64,
    /// What `bpf_ktime_get_ns` returns.
    pub ktime_ns: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            step_budget: 1 << 20,
            loop_budget: BPF_MAX_LOOPS,
            prandom_seed: 0x5eed,
            ktime_ns: 1_000_000_000,
        }
    }
}

/// The data a run starts from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Input {
    /// Context bytes (padded with zeros to the program type's context size;
    /// see [`CtxLayout`]).
    pub ctx: Vec<u8>,
    /// Packet bytes, for program types with a packet.
    pub packet: Vec<u8>,
}

/// A finished run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// R0 at the main program's `exit`.
    pub r0: u64,
    /// Whether R0 holds a pointer (its value is a sandbox address, not
    /// what the kernel would return).
    pub r0_is_pointer: bool,
    /// Instructions executed.
    pub steps: u64,
    /// Loads that read stack bytes the program never wrote (allowed for
    /// privileged loaders; the kernel would read leftover data there).
    pub uninit_stack_reads: u64,
}

/// Watches a run: called before each instruction executes.
pub trait Observer {
    /// `regs` are the registers of call depth `depth` (0: main program)
    /// before the instruction at `pc`.
    fn before(&mut self, pc: InsnIdx, depth: usize, regs: &Regs);
}

/// An observer that does nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn before(&mut self, _pc: InsnIdx, _depth: usize, _regs: &Regs) {}
}

/// A program ready to run many times: decoded once.
#[derive(Debug)]
pub struct Interpreter<'a> {
    req: &'a LoadRequest,
    decoded: Vec<Result<Decoded, InsnError>>,
    config: Config,
}

impl<'a> Interpreter<'a> {
    /// Prepares `req`'s program and maps. Undecodable slots fault only when
    /// control reaches them.
    pub fn new(req: &'a LoadRequest, config: Config) -> Self {
        Self {
            req,
            decoded: exec::predecode(&req.insns),
            config,
        }
    }

    /// Runs once from fresh maps and memory.
    pub fn run(&self, input: &Input) -> Result<Outcome, InterpError> {
        self.run_observed(input, &mut NoObserver)
    }

    /// Runs once, calling `obs` before each instruction.
    pub fn run_observed(
        &self,
        input: &Input,
        obs: &mut dyn Observer,
    ) -> Result<Outcome, InterpError> {
        exec::Machine::new(self.req, &self.decoded, &self.config, input)?.run(obs)
    }
}

/// Runs `req` once with the default [`Config`].
pub fn run(req: &LoadRequest, input: &Input) -> Result<Outcome, InterpError> {
    Interpreter::new(req, Config::default()).run(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfcheck_uapi::{MapSpec, MapType, ProgType, RawInsn};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Arbitrary slots (biased to real opcodes by the codec's checks)
        /// end in an outcome or a fault, never a panic.
        #[test]
        fn arbitrary_programs_never_panic(
            slots in proptest::collection::vec(any::<(u8, u8, i16, i32)>(), 1..40),
            xdp in any::<bool>(),
        ) {
            let insns = slots
                .iter()
                .map(|(code, regs, off, imm)| RawInsn::new(*code, regs & 0xf, regs >> 4, *off % 8, *imm % 64))
                .collect();
            let req = LoadRequest {
                prog_type: if xdp { ProgType::XDP } else { ProgType::SOCKET_FILTER },
                insns,
                maps: vec![MapSpec::new(MapType::ARRAY, 4, 8, 2), MapSpec::new(MapType::HASH, 4, 8, 2)],
                ..LoadRequest::default()
            };
            let config = Config { step_budget: 1000, loop_budget: 10, ..Config::default() };
            let input = Input { ctx: vec![1; 8], packet: vec![2; 20] };
            let _ = Interpreter::new(&req, config).run(&input);
        }
    }
}
