//! The program generator.
//!
//! A program is a sequence of snippets (straight-line ALU, forward branches
//! around small blocks, bounded loops, stack spills and fills, map lookups,
//! helper calls, subprogram calls, packet accesses, atomics) over a simple
//! model of what each register and stack byte holds, so that most programs
//! are valid. With probability [`GenConfig::mistakes`] a snippet takes a
//! wrong variant on purpose (no null check, no packet range check, an
//! uninitialised read, an out-of-bounds offset, a wrong helper argument, a
//! missing `exit`), because rejections are half of what the verifier does.

use bpfcheck_isa::{AluOp, AtomicOp, Call, Insn, JmpOp, Operand, Size, Width};
use bpfcheck_uapi::{LoadRequest, MapSpec, MapType, ProgType, RegNo};

use crate::prog::{Node, Prog};
use crate::rng::Entropy;

/// Relative weights of the snippet kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Weights {
    /// ALU of both widths on scalars.
    pub alu: u32,
    /// A conditional jump around a small block.
    pub branch: u32,
    /// A bounded loop (counter or `may_goto`).
    pub r#loop: u32,
    /// A stack spill, or a fill of what was spilled.
    pub stack: u32,
    /// A map lookup (with or without a null check) or update.
    pub map: u32,
    /// Another helper call.
    pub helper: u32,
    /// A bpf-to-bpf call.
    pub subprog: u32,
    /// A packet access (XDP and tc only).
    pub packet: u32,
    /// An atomic operation on the stack.
    pub atomic: u32,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            alu: 40,
            branch: 14,
            r#loop: 3,
            stack: 12,
            map: 8,
            helper: 5,
            subprog: 3,
            packet: 8,
            atomic: 4,
        }
    }
}

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenConfig {
    /// Snippet weights.
    pub weights: Weights,
    /// Largest number of snippets in the main program.
    pub max_snippets: u32,
    /// Chance (per mille) that a snippet takes a deliberately wrong variant.
    pub mistakes: u32,
    /// Program types to choose from.
    pub prog_types: Vec<ProgType>,
}

impl Default for GenConfig {
    fn default() -> Self {
        Self {
            weights: Weights::default(),
            max_snippets: 24,
            mistakes: 40,
            prog_types: vec![ProgType::SOCKET_FILTER, ProgType::XDP, ProgType::SCHED_CLS],
        }
    }
}

/// What a register holds, as far as the generator knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Uninit,
    Scalar,
    Ctx,
    MapValue(u32),
    MapOrNull(u32),
    Packet,
    PacketEnd,
}

/// Values near the bounds that matter.
const EDGE_IMMS: &[i32] = &[
    0,
    1,
    -1,
    2,
    7,
    8,
    15,
    16,
    31,
    32,
    63,
    64,
    255,
    256,
    0x7fff,
    0x8000,
    0xffff,
    i32::MAX,
    i32::MIN,
    -2,
    -8,
    -512,
];

const EDGE_U64: &[u64] = &[
    0,
    1,
    u64::MAX,
    i64::MIN as u64,
    i64::MAX as u64,
    0xffff_ffff,
    0x8000_0000,
    0x7fff_ffff,
    0x1_0000_0000,
    0xffff_ffff_0000_0000,
];

const ALU_OPS: &[AluOp] = &[
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
    AluOp::Lsh,
    AluOp::Rsh,
    AluOp::Arsh,
    AluOp::Mov,
];

const JMP_OPS: &[JmpOp] = &[
    JmpOp::Jeq,
    JmpOp::Jne,
    JmpOp::Jgt,
    JmpOp::Jge,
    JmpOp::Jlt,
    JmpOp::Jle,
    JmpOp::Jsgt,
    JmpOp::Jsge,
    JmpOp::Jslt,
    JmpOp::Jsle,
    JmpOp::Jset,
];

const SIZES: &[Size] = &[Size::B, Size::H, Size::W, Size::DW];

/// Registers snippets compute in (R6 keeps the context).
const WORK_REGS: &[u8] = &[0, 1, 2, 3, 4, 5, 7, 8, 9];

/// `map_fd(0)` is an array, `map_fd(1)` a hash map; both 4-byte keys.
fn maps() -> Vec<MapSpec> {
    let mut a = MapSpec::new(MapType::ARRAY, 4, 16, 4);
    a.name = "smith_array".into();
    let mut h = MapSpec::new(MapType::HASH, 4, 16, 8);
    h.name = "smith_hash".into();
    vec![a, h]
}

const VALUE_SIZE: i16 = 16;

struct Gen<'e, E: Entropy> {
    e: &'e mut E,
    cfg: &'e GenConfig,
    prog_type: ProgType,
    nodes: Vec<Node>,
    regs: [Kind; RegNo::COUNT],
    /// Which of the 512 stack bytes hold data on every path.
    stack: [bool; 512],
    /// Subprogram calls to patch: node index and subprogram number.
    calls: Vec<(usize, usize)>,
    subprogs: usize,
    depth: u32,
}

/// Generates one program from `e`.
pub fn generate<E: Entropy>(e: &mut E, cfg: &GenConfig) -> LoadRequest {
    let prog_type = e.pick(&cfg.prog_types).unwrap_or(ProgType::SOCKET_FILTER);
    let mut g = Gen {
        e,
        cfg,
        prog_type,
        nodes: Vec::new(),
        regs: [Kind::Uninit; RegNo::COUNT],
        stack: [false; 512],
        calls: Vec::new(),
        subprogs: 0,
        depth: 0,
    };
    g.regs[1] = Kind::Ctx;
    g.regs[10] = Kind::Ctx; // never a destination; only its role matters
    g.main();
    let prog = g.finish();
    LoadRequest {
        name: "smith".into(),
        prog_type,
        insns: prog.to_raw().unwrap_or_default(),
        license: "GPL".into(),
        maps: maps(),
        ..LoadRequest::default()
    }
}

impl<E: Entropy> Gen<'_, E> {
    fn mistake(&mut self) -> bool {
        self.e.chance(self.cfg.mistakes)
    }

    fn push(&mut self, insn: Insn) {
        self.nodes.push(Node::plain(insn));
    }

    fn regs_of(&self, kind: Kind) -> Vec<u8> {
        WORK_REGS
            .iter()
            .copied()
            .filter(|r| self.regs[usize::from(*r)] == kind)
            .collect()
    }

    /// A register holding a scalar, making one if there is none.
    fn scalar_reg(&mut self) -> RegNo {
        let have = self.regs_of(Kind::Scalar);
        if let Some(r) = self.e.pick(&have) {
            return RegNo(r);
        }
        let r = RegNo(self.e.pick(&[7, 8, 9]).unwrap_or(7));
        self.init_scalar(r);
        r
    }

    fn set(&mut self, r: RegNo, k: Kind) {
        if let Some(slot) = self.regs.get_mut(usize::from(r.0)) {
            *slot = k;
        }
    }

    fn imm(&mut self) -> i32 {
        if self.e.chance(700) {
            self.e.pick(EDGE_IMMS).unwrap_or(0)
        } else {
            let base = self.e.pick(EDGE_IMMS).unwrap_or(0);
            base.wrapping_add(self.e.below(5) as i32 - 2)
        }
    }

    /// Makes `r` a scalar: a constant, a 64-bit constant, a random number,
    /// or a context field.
    fn init_scalar(&mut self, r: RegNo) {
        match self.e.below(4) {
            0 => {
                let imm = self.imm();
                self.push(Insn::mov64_imm(r, imm));
            }
            1 => {
                let v = self.e.pick(EDGE_U64).unwrap_or(0);
                let v = v.wrapping_add(self.e.below(3));
                self.push(Insn::ld_imm64(r, v));
            }
            2 if self.regs[6] == Kind::Ctx => {
                // skb->len / xdp_md->ingress_ifindex: an unknown u32.
                let off = if self.prog_type == ProgType::XDP {
                    12
                } else {
                    0
                };
                self.push(Insn::load(Size::W, r, RegNo(6), off));
            }
            _ => {
                self.call_helper(7);
                if r.0 != 0 {
                    self.push(Insn::mov64_reg(r, RegNo(0)));
                }
            }
        }
        self.set(r, Kind::Scalar);
    }

    fn call_helper(&mut self, id: i32) {
        self.push(Insn::call_helper(id));
        for r in 1..=5 {
            self.regs[r] = Kind::Uninit;
        }
        self.regs[0] = Kind::Scalar;
    }

    fn main(&mut self) {
        // Keep the context where calls do not clobber it.
        self.push(Insn::mov64_reg(RegNo(6), RegNo(1)));
        self.regs[6] = Kind::Ctx;
        let n = 1 + self.e.below(u64::from(self.cfg.max_snippets.max(1)));
        for _ in 0..n {
            self.snippet();
        }
        self.epilogue();
    }

    fn epilogue(&mut self) {
        if self.mistake() {
            // Either R0 unset, or no exit at all.
            if self.e.chance(500) {
                self.regs[0] = Kind::Uninit;
                self.push(Insn::Exit { off: 0 });
            }
            return;
        }
        let scalars = self.regs_of(Kind::Scalar);
        match self.e.pick(&scalars) {
            Some(r) if self.prog_type != ProgType::XDP && self.e.chance(400) => {
                self.push(Insn::mov64_reg(RegNo(0), RegNo(r)));
            }
            _ => {
                let v = self.e.below(3) as i32;
                self.push(Insn::mov64_imm(RegNo(0), v));
            }
        }
        self.push(Insn::Exit { off: 0 });
    }

    fn snippet(&mut self) {
        let w = self.cfg.weights;
        let packet = if self.prog_type == ProgType::SOCKET_FILTER {
            0
        } else {
            w.packet
        };
        let nested = self.depth > 0;
        let weights = [
            w.alu,
            if nested { 0 } else { w.branch },
            if nested { 0 } else { w.r#loop },
            w.stack,
            w.map,
            w.helper,
            if nested { 0 } else { w.subprog },
            packet,
            w.atomic,
        ];
        match self.e.weighted(&weights) {
            Some(1) => self.branch(),
            Some(2) => self.bounded_loop(),
            Some(3) => self.stack_op(),
            Some(4) => self.map_op(),
            Some(5) => self.helper_op(),
            Some(6) => self.subprog_call(),
            Some(7) => self.packet_op(),
            Some(8) => self.atomic_op(),
            _ => self.alu(),
        }
    }

    fn alu(&mut self) {
        let width = if self.e.chance(500) {
            Width::W64
        } else {
            Width::W32
        };
        let op = self.e.pick(ALU_OPS).unwrap_or(AluOp::Add);
        if self.e.chance(60) {
            let dst = self.scalar_reg();
            let insn = match self.e.below(4) {
                0 => Insn::Neg { width, dst },
                1 => Insn::MovSx {
                    width,
                    from: self.e.pick(&[Size::B, Size::H, Size::W]).unwrap_or(Size::B),
                    dst,
                    src: dst,
                },
                2 => Insn::Bswap {
                    bits: self
                        .e
                        .pick(bpfcheck_isa::SwapBits::ALL)
                        .unwrap_or(bpfcheck_isa::SwapBits::B16),
                    dst,
                },
                _ => Insn::Endian {
                    order: if self.e.chance(500) {
                        bpfcheck_isa::Endian::Le
                    } else {
                        bpfcheck_isa::Endian::Be
                    },
                    bits: self
                        .e
                        .pick(bpfcheck_isa::SwapBits::ALL)
                        .unwrap_or(bpfcheck_isa::SwapBits::B16),
                    dst,
                },
            };
            // 32-bit movsx from a word does not exist.
            if let Insn::MovSx {
                width: Width::W32,
                from: Size::W,
                ..
            } = insn
            {
                return;
            }
            self.push(insn);
            return;
        }
        let dst = if op == AluOp::Mov {
            RegNo(self.e.pick(WORK_REGS).unwrap_or(0))
        } else if self.mistake() {
            // Possibly uninitialised, possibly a pointer.
            RegNo(self.e.pick(WORK_REGS).unwrap_or(0))
        } else {
            self.scalar_reg()
        };
        let src = if self.e.chance(500) {
            let mut imm = self.imm();
            let bits = width.bits();
            if op.is_shift() && !self.mistake() {
                imm = imm.rem_euclid(bits);
            }
            if op.is_div_mod() && imm == 0 && !self.mistake() {
                imm = 3;
            }
            Operand::Imm(imm)
        } else {
            Operand::Reg(self.scalar_reg())
        };
        self.push(Insn::Alu {
            width,
            op,
            dst,
            src,
        });
        self.set(dst, Kind::Scalar);
    }

    /// `if rX op K goto skip; block; skip:`.
    fn branch(&mut self) {
        let width = if self.e.chance(600) {
            Width::W64
        } else {
            Width::W32
        };
        let op = self.e.pick(JMP_OPS).unwrap_or(JmpOp::Jeq);
        let dst = self.scalar_reg();
        let src = if self.e.chance(700) {
            Operand::Imm(self.imm())
        } else {
            Operand::Reg(self.scalar_reg())
        };
        let at = self.nodes.len();
        self.nodes.push(Node {
            insn: Insn::Jmp {
                width,
                op,
                dst,
                src,
                off: 0,
            },
            target: None,
        });
        let n = 1 + self.e.below(3);
        self.block(n);
        self.nodes[at].target = Some(self.nodes.len());
    }

    /// A few nested snippets whose effects are forgotten afterwards unless
    /// they hold on both paths.
    fn block(&mut self, n: u64) {
        let regs = self.regs;
        let stack = self.stack;
        self.depth += 1;
        for _ in 0..n {
            self.snippet();
        }
        self.depth -= 1;
        for (r, before) in regs.iter().enumerate() {
            if self.regs[r] != *before {
                self.regs[r] = Kind::Uninit;
            }
        }
        self.stack = stack;
    }

    fn bounded_loop(&mut self) {
        if self.e.chance(300) {
            // may_goto bounds an otherwise endless loop.
            let head = self.nodes.len();
            self.nodes.push(Node::plain(Insn::MayGoto { off: 0 }));
            // The body leaves the state as it was, so the verifier's
            // second visit is pruned; a body that counts would make every
            // iteration a new state, up to the kernel's 8M-iteration budget.
            let r = RegNo(self.e.pick(WORK_REGS).unwrap_or(0));
            let imm = self.imm();
            self.push(Insn::mov64_imm(r, imm));
            self.set(r, Kind::Scalar);
            self.nodes.push(Node {
                insn: Insn::Ja { off: 0 },
                target: Some(head),
            });
            self.nodes[head].target = Some(self.nodes.len());
            return;
        }
        let counter = RegNo(9);
        self.push(Insn::mov64_imm(counter, 0));
        self.set(counter, Kind::Scalar);
        let head = self.nodes.len();
        let body = self.regs_of(Kind::Scalar);
        let body: Vec<u8> = body.into_iter().filter(|r| *r != 9).collect();
        if let Some(r) = self.e.pick(&body) {
            let op = self
                .e
                .pick(&[AluOp::Add, AluOp::Xor, AluOp::Mul, AluOp::Or])
                .unwrap_or(AluOp::Add);
            let imm = self.imm();
            self.push(Insn::alu64_imm(op, RegNo(r), imm));
        }
        self.push(Insn::alu64_imm(AluOp::Add, counter, 1));
        // A long loop rather than an endless one: a loop the verifier cannot
        // bound costs the kernel a million instructions (seconds) to refuse.
        let bound = if self.mistake() {
            1000 + self.e.below(2000) as i32
        } else {
            1 + self.e.below(16) as i32
        };
        self.nodes.push(Node {
            insn: Insn::jmp_imm(JmpOp::Jlt, counter, bound, 0),
            target: Some(head),
        });
    }

    /// A stack offset (negative, from R10) aligned to `size`.
    fn stack_off(&mut self, size: Size) -> i16 {
        let align = i16::from(size.bytes());
        let slot = 1 + self.e.below(16) as i16;
        let mut off = -slot * 8;
        if size != Size::DW {
            off += align * self.e.below(u64::from(8 / size.bytes())) as i16;
        }
        if self.mistake() {
            off += self.e.pick(&[1, -512, 8, 3]).unwrap_or(1);
        }
        off
    }

    fn mark_stack(&mut self, off: i16, len: u8) {
        let start = 512 + i32::from(off);
        for b in start..start + i32::from(len) {
            if let Some(s) = usize::try_from(b).ok().and_then(|b| self.stack.get_mut(b)) {
                *s = true;
            }
        }
    }

    fn stack_ready(&self, off: i16, len: u8) -> bool {
        let start = 512 + i32::from(off);
        (start..start + i32::from(len)).all(|b| {
            usize::try_from(b)
                .ok()
                .and_then(|b| self.stack.get(b))
                .copied()
                == Some(true)
        })
    }

    fn stack_op(&mut self) {
        let size = self.e.pick(SIZES).unwrap_or(Size::DW);
        let off = self.stack_off(size);
        let fill = self.e.chance(450) && (self.stack_ready(off, size.bytes()) || self.mistake());
        if fill {
            let dst = RegNo(self.e.pick(WORK_REGS).unwrap_or(0));
            let sign_extend = size != Size::DW && self.e.chance(200);
            self.push(Insn::Load {
                size,
                sign_extend,
                dst,
                src: RegNo::FP,
                off,
            });
            self.set(dst, Kind::Scalar);
            return;
        }
        if self.e.chance(300) {
            let imm = self.imm();
            self.push(Insn::store_imm(size, RegNo::FP, off, imm));
        } else {
            let src = self.scalar_reg();
            self.push(Insn::store_reg(size, RegNo::FP, off, src));
        }
        self.mark_stack(off, size.bytes());
    }

    /// Puts a 4-byte key at a fresh stack slot and returns its offset.
    fn key_on_stack(&mut self) -> i16 {
        let off = -8 * (1 + self.e.below(8) as i16);
        let k = self.e.below(6) as i32;
        self.push(Insn::store_imm(Size::W, RegNo::FP, off, k));
        self.mark_stack(off, 4);
        off
    }

    fn map_op(&mut self) {
        let map = self.e.below(2) as u32;
        let key = self.key_on_stack();
        if self.e.chance(250) {
            // update: the value is 16 bytes of stack.
            let voff = -64 - 16 * self.e.below(4) as i16;
            let v = self.scalar_reg();
            self.push(Insn::store_reg(Size::DW, RegNo::FP, voff, v));
            if !self.mistake() {
                self.push(Insn::store_imm(Size::DW, RegNo::FP, voff + 8, 0));
            }
            self.mark_stack(voff, 16);
            self.push(Insn::ld_map_fd(RegNo(1), map as i32));
            self.push(Insn::mov64_reg(RegNo(2), RegNo::FP));
            self.push(Insn::alu64_imm(AluOp::Add, RegNo(2), i32::from(key)));
            self.push(Insn::mov64_reg(RegNo(3), RegNo::FP));
            self.push(Insn::alu64_imm(AluOp::Add, RegNo(3), i32::from(voff)));
            let flags = self.e.below(3) as i32;
            self.push(Insn::mov64_imm(RegNo(4), flags));
            self.call_helper(2);
            return;
        }
        self.push(Insn::ld_map_fd(RegNo(1), map as i32));
        if self.mistake() {
            let s = self.e.pick(&[0, 4, 8]).unwrap_or(0);
            self.push(Insn::mov64_imm(RegNo(2), s));
        } else {
            self.push(Insn::mov64_reg(RegNo(2), RegNo::FP));
            self.push(Insn::alu64_imm(AluOp::Add, RegNo(2), i32::from(key)));
        }
        self.call_helper(1);
        self.regs[0] = Kind::MapOrNull(map);
        let keep = RegNo(self.e.pick(&[7, 8]).unwrap_or(7));
        self.push(Insn::mov64_reg(keep, RegNo(0)));
        self.set(keep, Kind::MapOrNull(map));
        let checked = !self.mistake();
        let at = self.nodes.len();
        if checked {
            self.nodes.push(Node {
                insn: Insn::jmp_imm(JmpOp::Jeq, keep, 0, 0),
                target: None,
            });
            self.set(keep, Kind::MapValue(map));
        }
        let size = self.e.pick(SIZES).unwrap_or(Size::W);
        let mut off = i16::from(size.bytes()) * self.e.below(u64::from(16 / size.bytes())) as i16;
        if self.mistake() {
            off = VALUE_SIZE - 1;
        }
        if self.e.chance(500) {
            let dst = RegNo(self.e.pick(&[0, 2, 3]).unwrap_or(0));
            self.push(Insn::load(size, dst, keep, off));
            self.set(dst, Kind::Scalar);
        } else {
            let v = self.scalar_reg();
            self.push(Insn::store_reg(size, keep, off, v));
        }
        if checked {
            self.nodes[at].target = Some(self.nodes.len());
            // Merge: on the other path the registers set above are unset.
            for r in 0..=5 {
                if !matches!(self.regs[r], Kind::MapOrNull(_)) {
                    self.regs[r] = Kind::Uninit;
                }
            }
            self.set(keep, Kind::MapOrNull(map));
        }
    }

    fn helper_op(&mut self) {
        match self.e.below(4) {
            0 => self.call_helper(5),
            1 => self.call_helper(7),
            2 => {
                // trace_printk("hi\n") from the stack.
                let off = -8 * (1 + self.e.below(8) as i16);
                self.push(Insn::store_imm(Size::W, RegNo::FP, off, 0x000a_6968));
                self.mark_stack(off, 4);
                self.push(Insn::mov64_reg(RegNo(1), RegNo::FP));
                self.push(Insn::alu64_imm(AluOp::Add, RegNo(1), i32::from(off)));
                let len = if self.mistake() { 64 } else { 4 };
                self.push(Insn::mov64_imm(RegNo(2), len));
                self.call_helper(6);
            }
            _ if self.mistake() => {
                // A lookup with a wrong first argument.
                let r = self.scalar_reg();
                self.push(Insn::mov64_reg(RegNo(1), r));
                self.push(Insn::mov64_reg(RegNo(2), RegNo::FP));
                self.push(Insn::alu64_imm(AluOp::Add, RegNo(2), -8));
                self.call_helper(1);
            }
            _ => self.call_helper(8),
        }
    }

    fn subprog_call(&mut self) {
        let arg = self.scalar_reg();
        if arg.0 != 1 {
            self.push(Insn::mov64_reg(RegNo(1), arg));
        }
        let n = self.subprogs.min(1 + self.e.below(2) as usize);
        let idx = if n == self.subprogs {
            self.subprogs += 1;
            n
        } else {
            self.e.below(self.subprogs as u64) as usize
        };
        self.calls.push((self.nodes.len(), idx));
        self.nodes.push(Node::plain(Insn::Call(Call::Subprog(0))));
        for r in 1..=5 {
            self.regs[r] = Kind::Uninit;
        }
        self.regs[0] = Kind::Scalar;
    }

    fn packet_op(&mut self) {
        let (data, end) = if self.prog_type == ProgType::XDP {
            (0, 4)
        } else {
            (76, 80)
        };
        if self.regs[6] != Kind::Ctx {
            return;
        }
        self.push(Insn::load(Size::W, RegNo(2), RegNo(6), data));
        self.push(Insn::load(Size::W, RegNo(3), RegNo(6), end));
        self.set(RegNo(2), Kind::Packet);
        self.set(RegNo(3), Kind::PacketEnd);
        let len = 1 + self.e.below(64) as i32;
        self.push(Insn::mov64_reg(RegNo(4), RegNo(2)));
        self.push(Insn::alu64_imm(AluOp::Add, RegNo(4), len));
        self.set(RegNo(4), Kind::Packet);
        let checked = !self.mistake();
        let at = self.nodes.len();
        if checked {
            let op = self.e.pick(&[JmpOp::Jgt, JmpOp::Jge]).unwrap_or(JmpOp::Jgt);
            self.nodes.push(Node {
                insn: Insn::jmp_reg(op, RegNo(4), RegNo(3), 0),
                target: None,
            });
        }
        let size = self.e.pick(&[Size::B, Size::H, Size::W]).unwrap_or(Size::B);
        let max = (len - i32::from(size.bytes())).max(0);
        let mut off = self.e.below(max as u64 + 1) as i16;
        if self.mistake() {
            off = len as i16;
        }
        let dst = RegNo(self.e.pick(&[0, 5]).unwrap_or(0));
        self.push(Insn::load(size, dst, RegNo(2), off));
        self.set(dst, Kind::Scalar);
        if checked {
            self.nodes[at].target = Some(self.nodes.len());
            self.set(dst, Kind::Uninit);
        }
    }

    fn atomic_op(&mut self) {
        let size = if self.e.chance(500) {
            Size::DW
        } else {
            Size::W
        };
        let off = -8 * (1 + self.e.below(8) as i16);
        if !self.stack_ready(off, 8) || self.mistake() {
            let v = self.e.below(100) as i32;
            self.push(Insn::store_imm(Size::DW, RegNo::FP, off, v));
            self.mark_stack(off, 8);
        }
        let op = self
            .e
            .pick(&[
                AtomicOp::Add,
                AtomicOp::Or,
                AtomicOp::And,
                AtomicOp::Xor,
                AtomicOp::FetchAdd,
                AtomicOp::FetchOr,
                AtomicOp::FetchAnd,
                AtomicOp::FetchXor,
                AtomicOp::Xchg,
                AtomicOp::Cmpxchg,
            ])
            .unwrap_or(AtomicOp::Add);
        let src = self.scalar_reg();
        if op == AtomicOp::Cmpxchg && self.regs[0] != Kind::Scalar {
            self.push(Insn::mov64_imm(RegNo(0), 0));
            self.regs[0] = Kind::Scalar;
        }
        self.push(Insn::Atomic {
            size,
            op,
            dst: RegNo::FP,
            src,
            off,
        });
    }

    /// Appends the subprograms and points the calls at them.
    fn finish(mut self) -> Prog {
        let mut starts = Vec::with_capacity(self.subprogs);
        for _ in 0..self.subprogs {
            starts.push(self.nodes.len());
            self.regs = [Kind::Uninit; RegNo::COUNT];
            self.regs[1] = Kind::Scalar;
            self.stack = [false; 512];
            self.push(Insn::mov64_reg(RegNo(0), RegNo(1)));
            self.regs[0] = Kind::Scalar;
            self.depth = 1;
            for _ in 0..1 + self.e.below(3) {
                self.alu();
            }
            if self.regs[0] != Kind::Scalar {
                self.push(Insn::mov64_imm(RegNo(0), 0));
            }
            self.push(Insn::Exit { off: 0 });
        }
        for (at, idx) in std::mem::take(&mut self.calls) {
            if let (Some(n), Some(&s)) = (self.nodes.get_mut(at), starts.get(idx)) {
                n.target = Some(s);
            }
        }
        Prog { nodes: self.nodes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{ByteEntropy, SeedRng};

    #[test]
    fn deterministic_and_encodable() {
        let cfg = GenConfig::default();
        for seed in 0..200 {
            let a = generate(&mut SeedRng::new(seed), &cfg);
            let b = generate(&mut SeedRng::new(seed), &cfg);
            assert_eq!(a.insns, b.insns);
            assert!(!a.insns.is_empty());
            assert!(Prog::from_raw(&a.insns).is_some(), "seed {seed}");
        }
    }

    #[test]
    fn bytes_drive_generation() {
        let cfg = GenConfig::default();
        let p = generate(&mut ByteEntropy::new(&[]), &cfg);
        assert!(!p.insns.is_empty());
        let q = generate(&mut ByteEntropy::new(&[0xff; 300]), &cfg);
        assert!(!q.insns.is_empty());
    }
}
