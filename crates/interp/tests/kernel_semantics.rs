//! Instruction semantics checked against the kernel's own execution.
//!
//! Each case is a socket filter body that leaves a 64-bit value in R0. The
//! harness runs it twice: as is, and with `r0 >>= 32` before `exit`,
//! because `BPF_PROG_TEST_RUN` reports only the low 32 bits of R0 for
//! socket filters. The interpreter must produce the value the kernel did.
//!
//! The kernel's answers are committed in `kernel_results.txt`, so the
//! comparison runs without `bpf()`. Where `bpf()` works the recordings are
//! also checked against the live kernel, and the test fails if they are
//! stale; `BPFCHECK_RECORD=1` rewrites them from the live kernel.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bpfcheck_interp::{Input, Interpreter};
use bpfcheck_isa::{AluOp, AtomicOp, Endian, Insn, JmpOp, Operand, Size, SwapBits, Width, encode};
use bpfcheck_sys::{Kernel, LoadOptions, TestRun, test_support::kernel_or_skip};
use bpfcheck_uapi::{LoadRequest, ProgType, RawInsn, RegNo};

const RESULTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kernel_results.txt");

const R0: RegNo = RegNo(0);
const R1: RegNo = RegNo(1);
const R2: RegNo = RegNo(2);
const FP: RegNo = RegNo::FP;

const INT_MIN: u64 = i64::MIN as u64;
const INT32_MIN: u64 = 0x8000_0000;
const M1: u64 = u64::MAX;

struct Case {
    name: String,
    body: Vec<Insn>,
}

fn w(width: Width) -> &'static str {
    match width {
        Width::W32 => "w",
        Width::W64 => "r",
    }
}

/// `r0 = a; r1 = b; r0 op= r1` (register form).
fn alu_reg(width: Width, op: AluOp, a: u64, b: u64) -> Vec<Insn> {
    vec![
        Insn::ld_imm64(R0, a),
        Insn::ld_imm64(R1, b),
        Insn::Alu {
            width,
            op,
            dst: R0,
            src: Operand::Reg(R1),
        },
    ]
}

/// `r0 = a; r0 op= imm`.
fn alu_imm(width: Width, op: AluOp, a: u64, imm: i32) -> Vec<Insn> {
    vec![
        Insn::ld_imm64(R0, a),
        Insn::Alu {
            width,
            op,
            dst: R0,
            src: Operand::Imm(imm),
        },
    ]
}

/// `r1 = a; r2 = b; r0 = 1; if a op b goto +1; r0 = 0`.
fn jmp_case(width: Width, op: JmpOp, a: u64, src: Operand, b: u64) -> Vec<Insn> {
    vec![
        Insn::ld_imm64(R1, a),
        Insn::ld_imm64(R2, b),
        Insn::mov64_imm(R0, 1),
        Insn::Jmp {
            width,
            op,
            dst: R1,
            src,
            off: 1,
        },
        Insn::mov64_imm(R0, 0),
    ]
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut push = |name: String, body: Vec<Insn>| out.push(Case { name, body });
    let widths = [Width::W64, Width::W32];
    let operands: &[(u64, u64)] = &[
        (0, 0),
        (1, 0),
        (0, 1),
        (7, 3),
        (M1, 1),
        (M1, M1),
        (INT_MIN, M1),
        (INT32_MIN, 0xffff_ffff),
        (0x1_0000_0005, 0xffff_fffe),
        (0x8000_0000_0000_0001, 0x1_0000_0002),
        ((-7i64) as u64, 2),
        (7, (-2i64) as u64),
    ];
    for width in widths {
        for op in [
            AluOp::Add,
            AluOp::Sub,
            AluOp::Mul,
            AluOp::Div,
            AluOp::Mod,
            AluOp::SDiv,
            AluOp::SMod,
            AluOp::Or,
            AluOp::And,
            AluOp::Xor,
            AluOp::Mov,
        ] {
            for &(a, b) in operands {
                push(
                    format!("{}.{}.x.{a:#x}.{b:#x}", w(width), op.text()),
                    alu_reg(width, op, a, b),
                );
            }
            for imm in [1, -1, i32::MIN, 3] {
                for a in [0x1_0000_0007, INT_MIN, M1] {
                    push(
                        format!("{}.{}.k.{a:#x}.{imm}", w(width), op.text()),
                        alu_imm(width, op, a, imm),
                    );
                }
            }
        }
        for op in [AluOp::Lsh, AluOp::Rsh, AluOp::Arsh] {
            for a in [1, M1, 0x8000_0000_8000_0001] {
                // Register amounts beyond the width are masked at run time.
                for amount in [0, 1, 31, 32, 63, 64, 65] {
                    push(
                        format!("{}.{}.x.{a:#x}.{amount}", w(width), op.text()),
                        alu_reg(width, op, a, amount),
                    );
                }
                let max = width.bits() - 1;
                for amount in [0, 1, max] {
                    push(
                        format!("{}.{}.k.{a:#x}.{amount}", w(width), op.text()),
                        alu_imm(width, op, a, amount),
                    );
                }
            }
        }
        for a in [0, 1, M1, INT_MIN, INT32_MIN, 0x1_0000_0000] {
            push(
                format!("{}.neg.{a:#x}", w(width)),
                vec![Insn::ld_imm64(R0, a), Insn::Neg { width, dst: R0 }],
            );
        }
        for from in [Size::B, Size::H, Size::W] {
            if width == Width::W32 && from == Size::W {
                continue;
            }
            for a in [
                0x7f,
                0x80,
                0xffff_8000,
                0x1_8000_0000,
                0xffff_ffff_ffff_7f7f,
            ] {
                push(
                    format!("{}.movsx{}.{a:#x}", w(width), from.bytes() * 8),
                    vec![
                        Insn::ld_imm64(R1, a),
                        Insn::MovSx {
                            width,
                            from,
                            dst: R0,
                            src: R1,
                        },
                    ],
                );
            }
        }
    }
    let swap_input = 0x0123_4567_89ab_cdef;
    for bits in SwapBits::ALL.iter().copied() {
        for order in [Endian::Le, Endian::Be] {
            push(
                format!("end.{order:?}{}", bits.imm()),
                vec![
                    Insn::ld_imm64(R0, swap_input),
                    Insn::Endian {
                        order,
                        bits,
                        dst: R0,
                    },
                ],
            );
        }
        push(
            format!("bswap{}", bits.imm()),
            vec![
                Insn::ld_imm64(R0, swap_input),
                Insn::Bswap { bits, dst: R0 },
            ],
        );
    }
    let pairs: &[(u64, u64)] = &[
        (5, 5),
        (4, 5),
        (M1, 1),
        (0x1_0000_0001, 1),
        (INT_MIN, 0x7fff_ffff_ffff_ffff),
        (0xffff_ffff, 0x8000_0000),
    ];
    for width in widths {
        for op in JmpOp::ALL.iter().copied() {
            for &(a, b) in pairs {
                push(
                    format!("j{}.{}.x.{a:#x}.{b:#x}", w(width), op.text()),
                    jmp_case(width, op, a, Operand::Reg(R2), b),
                );
            }
            for imm in [-1, 1] {
                push(
                    format!("j{}.{}.k.ffffffff.{imm}", w(width), op.text()),
                    jmp_case(width, op, 0xffff_ffff, Operand::Imm(imm), 0),
                );
            }
        }
    }
    // Atomics on the stack: first the memory afterwards, then (fetch
    // forms) the register.
    for size in [Size::DW, Size::W] {
        for op in AtomicOp::ALL.iter().copied().filter(|o| o.is_rmw()) {
            let init = 0xf0f0_f0f0_0000_00ff_u64;
            let operand = 0x0f0f_0f0f_8000_0101_u64;
            let setup = vec![
                Insn::ld_imm64(R1, init),
                Insn::store_reg(Size::DW, FP, -8, R1),
                Insn::ld_imm64(R1, operand),
                // cmpxchg compares with R0: make it match the low half.
                Insn::ld_imm64(R0, init),
                Insn::Atomic {
                    size,
                    op,
                    dst: FP,
                    src: R1,
                    off: -8,
                },
            ];
            let mut mem = setup.clone();
            mem.push(Insn::load(Size::DW, R0, FP, -8));
            push(format!("atomic.{op:?}.{}.mem", size.bytes()), mem);
            if op.fetches() {
                let mut r = setup.clone();
                r.push(Insn::mov64_reg(R0, R1));
                push(format!("atomic.{op:?}.{}.reg", size.bytes()), r);
            }
            if op == AtomicOp::Cmpxchg {
                // R0 gets the old value; the source register is unchanged.
                push(format!("atomic.{op:?}.{}.r0", size.bytes()), setup);
                let mut miss = vec![
                    Insn::ld_imm64(R1, init),
                    Insn::store_reg(Size::DW, FP, -8, R1),
                ];
                miss.extend([
                    Insn::ld_imm64(R1, operand),
                    Insn::mov64_imm(R0, 5),
                    Insn::Atomic {
                        size,
                        op,
                        dst: FP,
                        src: R1,
                        off: -8,
                    },
                    Insn::load(Size::DW, R0, FP, -8),
                ]);
                push(format!("atomic.{op:?}.{}.miss", size.bytes()), miss);
            }
        }
    }
    for size in [Size::B, Size::H, Size::W, Size::DW] {
        push(
            format!("load_acquire.{}", size.bytes()),
            vec![
                Insn::ld_imm64(R1, 0x8182_8384_8586_8788),
                Insn::store_reg(Size::DW, FP, -8, R1),
                Insn::Atomic {
                    size,
                    op: AtomicOp::LoadAcquire,
                    dst: R0,
                    src: FP,
                    off: -8,
                },
            ],
        );
        push(
            format!("store_release.{}", size.bytes()),
            vec![
                Insn::ld_imm64(R1, 0x8182_8384_8586_8788),
                Insn::store_reg(Size::DW, FP, -8, R1),
                Insn::ld_imm64(R1, 0x1122_3344_5566_7788),
                Insn::Atomic {
                    size,
                    op: AtomicOp::StoreRelease,
                    dst: FP,
                    src: R1,
                    off: -8,
                },
                Insn::load(Size::DW, R0, FP, -8),
            ],
        );
        if size != Size::DW {
            push(
                format!("ldsx.{}", size.bytes()),
                vec![
                    Insn::ld_imm64(R1, 0x8182_8384_8586_8788),
                    Insn::store_reg(Size::DW, FP, -8, R1),
                    Insn::Load {
                        size,
                        sign_extend: true,
                        dst: R0,
                        src: FP,
                        off: -8,
                    },
                ],
            );
        }
    }
    push(
        "gotol.skip".into(),
        vec![
            Insn::mov64_imm(R0, 1),
            Insn::jmp_imm(JmpOp::Jeq, R0, 2, 1),
            Insn::Gotol { imm: 1 },
            Insn::alu64_imm(AluOp::Add, R0, 4),
        ],
    );
    out
}

fn request(body: &[Insn], high: bool) -> LoadRequest {
    let mut insns: Vec<RawInsn> = Vec::new();
    for i in body {
        insns.extend_from_slice(encode(i).as_slice());
    }
    if high {
        insns.extend_from_slice(encode(&Insn::alu64_imm(AluOp::Rsh, R0, 32)).as_slice());
    }
    insns.extend_from_slice(encode(&Insn::Exit { off: 0 }).as_slice());
    LoadRequest {
        prog_type: ProgType::SOCKET_FILTER,
        insns,
        license: "GPL".into(),
        ..LoadRequest::default()
    }
}

const PACKET: [u8; 64] = [0; 64];

fn interp_value(case: &Case) -> Result<u64, String> {
    let req = request(&case.body, false);
    let input = Input {
        ctx: Vec::new(),
        packet: PACKET.to_vec(),
    };
    Interpreter::new(&req, bpfcheck_interp::Config::default())
        .run(&input)
        .map(|o| o.r0)
        .map_err(|e| e.to_string())
}

fn kernel_value(k: &Kernel, case: &Case) -> Result<u64, String> {
    let mut halves = [0u32; 2];
    for (i, high) in [false, true].into_iter().enumerate() {
        let req = request(&case.body, high);
        let opts = LoadOptions {
            log_level: 1,
            ..LoadOptions::default()
        };
        let out = k.load(&req, &opts).map_err(|e| e.to_string())?;
        let Some(fd) = out.prog_fd.as_ref() else {
            return Err(format!("kernel rejected: {:?}", out.error_line));
        };
        let run = TestRun {
            data_in: &PACKET,
            ..TestRun::default()
        };
        halves[i] = k
            .test_run(std::os::fd::AsFd::as_fd(fd), &run)
            .map_err(|e| e.to_string())?
            .retval;
    }
    Ok(u64::from(halves[0]) | (u64::from(halves[1]) << 32))
}

fn recordings() -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(RESULTS).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (name, v) = l.rsplit_once(' ')?;
            let v = u64::from_str_radix(v.trim_start_matches("0x"), 16).ok()?;
            Some((name.to_owned(), v))
        })
        .collect()
}

#[test]
fn enough_cases_with_unique_names() {
    let cases = cases();
    assert!(cases.len() >= 150, "{} cases", cases.len());
    let names: std::collections::BTreeSet<_> = cases.iter().map(|c| &c.name).collect();
    assert_eq!(names.len(), cases.len(), "duplicate case names");
}

#[test]
fn interpreter_matches_recorded_kernel_results() {
    let rec = recordings();
    let mut failures = Vec::new();
    for case in cases() {
        let Some(&want) = rec.get(&case.name) else {
            failures.push(format!(
                "{}: no recording (run with BPFCHECK_RECORD=1)",
                case.name
            ));
            continue;
        };
        match interp_value(&case) {
            Ok(got) if got == want => {}
            Ok(got) => failures.push(format!(
                "{}: interpreter {got:#x}, kernel {want:#x}",
                case.name
            )),
            Err(e) => failures.push(format!("{}: interpreter error {e}", case.name)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn recordings_match_live_kernel() {
    let Some(k) = kernel_or_skip("recordings_match_live_kernel") else {
        return;
    };
    let record = std::env::var_os("BPFCHECK_RECORD").is_some();
    let rec = recordings();
    let mut text = format!(
        "# Results of BPF_PROG_TEST_RUN for the cases of kernel_semantics.rs\n# recorded on Linux {}\n",
        k.release()
    );
    let mut failures = Vec::new();
    for case in cases() {
        match kernel_value(&k, &case) {
            Ok(v) => {
                let _ = writeln!(text, "{} {v:#018x}", case.name);
                if !record && rec.get(&case.name) != Some(&v) {
                    failures.push(format!(
                        "{}: kernel {v:#x}, recorded {:?}",
                        case.name,
                        rec.get(&case.name)
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: {e}", case.name)),
        }
    }
    if record {
        std::fs::write(RESULTS, text).expect("write recordings");
    }
    assert!(
        failures.is_empty(),
        "{} stale or failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
