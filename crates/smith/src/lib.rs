//! bpfcheck-smith: generated programs for testing bpfcheck.
//!
//! * [`generator`] — a generator of mostly valid programs from a seed
//!   ([`rng::SeedRng`]) or from fuzzer bytes ([`rng::ByteEntropy`]):
//!   socket filters, XDP and tc programs with ALU of both widths near the
//!   bounds that matter, branches of every kind, bounded loops (counted and
//!   `may_goto`), stack spills and fills of every size, array and hash map
//!   lookups and updates with and without null checks, helper calls with
//!   right and wrong arguments, bpf-to-bpf calls, packet accesses with and
//!   without range checks, atomics; weights in [`generator::Weights`].
//! * [`diff`] — bpfcheck's `verify()` against the running kernel
//!   ([`diff::Oracle`]), classified as agreement, `unsupported`, or a
//!   [`diff::Disagreement`] (verdict, error line, instructions processed).
//! * [`reduce`] — delta debugging of a program while a predicate holds.
//! * [`fixture`] — the reduced program as a `fixtures/` `.s` file with the
//!   kernel's answer.
//! * [`campaign`] — the loop of all of the above (`bpfcheck-smith diff`).
//! * [`sound`] — soundness by execution: the interface the verifier must
//!   provide ([`sound::StateHook`]) and the check over it, plus the same
//!   check on the scalar domain alone.
//! * [`prog`] — programs whose jumps name instructions, for editing.
//!
//! Knowingly not here: kfuncs, BTF, tail calls, callbacks, spin locks and
//! other program types in the generator; reduction of map declarations.

#![deny(missing_docs)]

pub mod campaign;
pub mod diff;
pub mod fixture;
pub mod generator;
pub mod prog;
pub mod reduce;
pub mod rng;
pub mod sound;
