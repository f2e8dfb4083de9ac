//! The kernel's BPF selftests as a conformance corpus.
//!
//! `tools/selftests/build.sh` compiles the `progs/*.c` of Linux 6.12's
//! `tools/testing/selftests/bpf` into a cache directory. This module reads
//! each object's programs and their `bpf_misc.h` annotations (BTF decl
//! tags `comment:test_…`, module [`annotations`]), builds the load request
//! the way `test_loader.c` does, loads it into the running kernel, runs
//! bpfcheck's [`verify`](bpfcheck_verifier::verify) on the same request
//! and compares three ways: annotation against kernel (is the corpus
//! valid on this kernel?), annotation against bpfcheck, and bpfcheck
//! against kernel (verdict, first error line, processed instructions,
//! states, log at the annotation's log level).
//!
//! Implemented, as `test_loader.c` (6.12) does it:
//! - tags: `__success`, `__failure`, `__msg` (6.12 `=<N>=` and 6.1 forms,
//!   `{{regex}}` parts), `__log_level`, `__flag` (names and numbers, `!` to
//!   clear), `__description`, `__retval`, `__auxiliary`, `__btf_path`,
//!   `__arch_*`, `__xlated`, and the `_unpriv` variants;
//! - program flags: the runner's `BPF_F_TEST_RND_HI32 |
//!   BPF_F_TEST_REG_INVARIANTS`, each kept only if the kernel takes it,
//!   probed as `testing_prog_flags()` does — with the program name
//!   `flag-test`, which `bpf_obj_name_cpy()` refuses, so that 6.12's runner
//!   (and this harness) end up with no flags; then `__flag` updates, and
//!   the section's flags are or-ed in;
//! - log level: the annotation's; a level-0 load is made at level 1, and
//!   the log the messages are matched against is empty when it succeeded
//!   (libbpf fetches a log only to report a failure);
//! - `__msg` patterns found in order, each search starting after the
//!   previous match;
//! - externs resolved against the running kernel (the object loader's
//!   [`HostResolver`]) and `attach_btf_id` looked up in vmlinux BTF, as
//!   libbpf does at load time.
//!
//! Knowingly not done:
//! - unprivileged runs: `kernel.unprivileged_bpf_disabled` is set on the
//!   machines this runs on, and `test_loader.c` skips them then too;
//!   programs annotated only for them are counted, not run;
//! - `__retval` (`BPF_PROG_TEST_RUN`), `__xlated` and `__jited` checks:
//!   they test the rewrite and the JIT, not the verifier's judgement;
//! - auxiliary programs are reported but not loaded with each test:
//!   bpfcheck-obj loads each program with its own maps, so there is no
//!   shared object for them to join, and the verifier's judgement of a
//!   program never depends on another being loaded;
//! - CO-RE: bpfcheck-obj relocates against the running kernel's BTF (as
//!   libbpf does); `__btf_path` tests are run without their custom BTF.
//!   Programs with CO-RE relocations are counted (`core_relos`) so that a
//!   relocation problem can be told from a verifier one;
//! - objects the selftests Makefile links with `bpftool gen object`
//!   (`linked_*`, `test_subskeleton*`) are read one by one and fail on
//!   their cross-object externs; arena objects (`.addr_space.1`) and the
//!   Makefile's own skip list (`test_pinning_invalid`, `test_sk_assign`)
//!   are not readable by bpfcheck-obj either. They count as unreadable;
//! - programs attaching through a trampoline (fentry, fexit, fmod_ret,
//!   LSM) and `freplace` are refused by this kernel before verification:
//!   recorded as "kernel cannot judge here";
//! - kfuncs and attach targets of `bpf_testmod` (module BTF): the request
//!   cannot be built and the program says so.

pub mod annotations;
pub mod corpus;
pub mod run;
pub mod summary;
pub mod vm;
pub mod vm_batches;

pub use annotations::{MsgPattern, Spec, match_msgs, parse_tags, spec_of};
pub use bpfcheck_obj::HostResolver;
pub use corpus::{Harness, ObjectReport, ProgramReport, Status, default_cache_dir};
pub use summary::CorpusReport;
