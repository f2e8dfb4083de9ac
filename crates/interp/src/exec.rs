//! The fetch–execute loop.

use bpfcheck_isa::{
    AluOp, AtomicOp, Call, Decoded, Insn, InsnError, Operand, PseudoSrc, Size, Width, decode,
};
use bpfcheck_uapi::{FdRef, InsnIdx, LoadRequest, RawInsn, RegNo};

use crate::alu;
use crate::ctx::{CtxField, CtxLayout};
use crate::error::{Fault, InterpError};
use crate::maps::Map;
use crate::mem::{Memory, RegionId, RegionKind, Value};
use crate::{Config, Input, Observer, Outcome};

/// Bytes of stack per frame (`MAX_BPF_STACK`).
pub const STACK_SIZE: u32 = 512;
/// Nested frames the kernel allows (`MAX_CALL_FRAMES`).
pub const MAX_FRAMES: usize = 8;

/// Registers of the current frame: `None` is "never written".
pub type Regs = [Option<Value>; RegNo::COUNT];

struct Frame {
    return_pc: usize,
    /// The caller's R6–R9 and R10, restored on return.
    saved: [Option<Value>; 5],
    /// `may_goto` iterations left in this invocation.
    loops_left: u64,
}

pub(crate) struct Machine<'a> {
    decoded: &'a [Result<Decoded, InsnError>],
    req: &'a LoadRequest,
    cfg: &'a Config,
    pub(crate) mem: Memory,
    pub(crate) maps: Vec<Option<Map>>,
    pub(crate) regs: Regs,
    frames: Vec<Frame>,
    stacks: Vec<RegionId>,
    loops_left: u64,
    packet: Option<(RegionId, usize)>,
    ctx: RegionId,
    pub(crate) prandom_state: u64,
    steps: u64,
}

/// Decodes every slot once; a second `ld_imm64` slot decodes to an error
/// that only matters if control reaches it.
pub(crate) fn predecode(insns: &[RawInsn]) -> Vec<Result<Decoded, InsnError>> {
    (0..insns.len()).map(|i| decode(insns, i)).collect()
}

impl<'a> Machine<'a> {
    pub(crate) fn new(
        req: &'a LoadRequest,
        decoded: &'a [Result<Decoded, InsnError>],
        cfg: &'a Config,
        input: &Input,
    ) -> Result<Self, InterpError> {
        let at0 = |fault| InterpError {
            pc: InsnIdx(0),
            fault,
        };
        let mut mem = Memory::default();
        let exhausted = || at0(Fault::Unsupported("more than 2^32 regions"));
        let layout = CtxLayout::for_prog_type(req.prog_type);
        let mut ctx_bytes = input.ctx.clone();
        ctx_bytes.resize(ctx_bytes.len().max(layout.size), 0);
        let packet = if layout.fields.is_empty() && !layout.ld_abs {
            None
        } else {
            let id = mem
                .add(RegionKind::Packet, input.packet.clone(), true)
                .ok_or_else(exhausted)?;
            Some((id, input.packet.len()))
        };
        // Context pointer fields are rewritten loads in the kernel; stores
        // to them are refused by the verifier, so the bytes stay as given.
        let ctx = mem
            .add(RegionKind::Ctx, ctx_bytes, true)
            .ok_or_else(exhausted)?;
        let mut maps = Vec::with_capacity(req.maps.len());
        for (i, spec) in req.maps.iter().enumerate() {
            let index = u32::try_from(i).map_err(|_| at0(Fault::UnsupportedMap(u32::MAX)))?;
            // A map the model lacks only faults when the program uses it.
            maps.push(Map::create(index, spec, &mut mem).ok());
        }
        let stack = mem
            .add(RegionKind::Stack(0), vec![0; STACK_SIZE as usize], true)
            .ok_or_else(exhausted)?;
        let mut regs: Regs = [None; RegNo::COUNT];
        regs[1] = Some(Value::pointer(ctx, 0));
        regs[10] = Some(Value::pointer(stack, STACK_SIZE));
        Ok(Self {
            decoded,
            req,
            cfg,
            mem,
            maps,
            regs,
            frames: Vec::new(),
            stacks: vec![stack],
            loops_left: cfg.loop_budget,
            packet,
            ctx,
            prandom_state: cfg.prandom_seed,
            steps: 0,
        })
    }

    pub(crate) fn run(&mut self, obs: &mut dyn Observer) -> Result<Outcome, InterpError> {
        let mut pc = 0usize;
        loop {
            match self.step(pc, obs) {
                Ok(Next::Goto(next)) => pc = next,
                Ok(Next::Exit(r0)) => {
                    return Ok(Outcome {
                        r0: r0.bits,
                        r0_is_pointer: r0.region.is_some(),
                        steps: self.steps,
                        uninit_stack_reads: self.mem.uninit_reads,
                    });
                }
                Err(fault) => {
                    return Err(InterpError {
                        pc: InsnIdx::from(pc),
                        fault,
                    });
                }
            }
        }
    }

    fn step(&mut self, pc: usize, obs: &mut dyn Observer) -> Result<Next, Fault> {
        if self.steps >= self.cfg.step_budget {
            return Err(Fault::StepBudget(self.cfg.step_budget));
        }
        self.steps += 1;
        let d = match self.decoded.get(pc) {
            Some(Ok(d)) => *d,
            Some(Err(e)) => return Err(Fault::Decode(e.clone())),
            None => return Err(Fault::PcOutOfRange(pc as i64)),
        };
        obs.before(InsnIdx::from(pc), self.frames.len(), &self.regs);
        let next = pc + d.slots;
        match d.insn {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => {
                let s = match src {
                    Operand::Reg(r) => self.read(r)?,
                    Operand::Imm(i) => Value::scalar(i64::from(i) as u64),
                };
                let a = if op == AluOp::Mov {
                    Value::scalar(0)
                } else {
                    self.read(dst)?
                };
                let bits = alu::alu(op, width, a.bits, s.bits);
                let region = match (width, op) {
                    (Width::W64, AluOp::Mov) => s.region,
                    (Width::W64, AluOp::Add) => a.region.xor(s.region),
                    (Width::W64, AluOp::Sub) if s.region.is_none() => a.region,
                    _ => None,
                };
                self.write(dst, Value { bits, region })?;
            }
            Insn::MovSx {
                width,
                from,
                dst,
                src,
            } => {
                let v = self.read(src)?.bits;
                self.write(dst, Value::scalar(alu::movsx(width, from, v)))?;
            }
            Insn::Neg { width, dst } => {
                let v = self.read(dst)?.bits;
                self.write(dst, Value::scalar(alu::neg(width, v)))?;
            }
            Insn::Endian { order, bits, dst } => {
                let v = self.read(dst)?.bits;
                self.write(dst, Value::scalar(alu::endian(order, bits, v)))?;
            }
            Insn::Bswap { bits, dst } => {
                let v = self.read(dst)?.bits;
                self.write(dst, Value::scalar(alu::bswap(bits, v)))?;
            }
            Insn::AddrSpaceCast { .. } => return Err(Fault::Unsupported("addr_space_cast")),
            Insn::Load {
                size,
                sign_extend,
                dst,
                src,
                off,
            } => {
                let base = self.read(src)?;
                let v = self.load(base, off, size)?;
                let v = if sign_extend {
                    Value::scalar(alu::sign_extend(size, v.bits))
                } else {
                    v
                };
                self.write(dst, v)?;
            }
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => {
                let base = self.read(dst)?;
                let v = match src {
                    Operand::Reg(r) => self.read(r)?,
                    Operand::Imm(i) => Value::scalar(i64::from(i) as u64),
                };
                self.mem.store(
                    base.bits.wrapping_add(i64::from(off) as u64),
                    usize::from(size.bytes()),
                    v,
                )?;
            }
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => self.atomic(size, op, dst, src, off)?,
            Insn::Jmp {
                width,
                op,
                dst,
                src,
                off,
            } => {
                let a = self.read(dst)?.bits;
                let b = match src {
                    Operand::Reg(r) => self.read(r)?.bits,
                    Operand::Imm(i) => i64::from(i) as u64,
                };
                if alu::jmp(op, width, a, b) {
                    return jump(next, i64::from(off));
                }
            }
            Insn::Ja { off } => return jump(next, i64::from(off)),
            Insn::Gotol { imm } => return jump(next, i64::from(imm)),
            Insn::MayGoto { off } => {
                // The budget counts down while there is some; only an
                // exhausted budget takes the branch.
                if self.loops_left == 0 {
                    return jump(next, i64::from(off));
                }
                self.loops_left -= 1;
            }
            Insn::Call(Call::Helper(id)) => {
                let r0 = self.helper(id)?;
                for r in 1..=5 {
                    self.regs[r] = None;
                }
                self.regs[0] = Some(r0);
            }
            Insn::Call(Call::Subprog(imm)) => {
                let target = jump(next, i64::from(imm))?;
                self.call(next)?;
                return Ok(target);
            }
            Insn::Call(Call::Kfunc { .. }) => return Err(Fault::Unsupported("kfunc calls")),
            Insn::Exit { .. } => {
                let r0 = self.read(RegNo(0))?;
                let Some(frame) = self.frames.pop() else {
                    return Ok(Next::Exit(r0));
                };
                for r in 1..=5 {
                    self.regs[r] = None;
                }
                self.regs[6..=10].copy_from_slice(&frame.saved);
                self.loops_left = frame.loops_left;
                return Ok(Next::Goto(frame.return_pc));
            }
            Insn::LdImm64 {
                dst,
                src,
                imm,
                next_imm,
            } => {
                let v = self.ld_imm64(src, imm, next_imm)?;
                self.write(dst, v)?;
            }
            Insn::LdAbs { size, imm } => {
                return self.ld_packet(size, i64::from(imm), next);
            }
            Insn::LdInd { size, src, imm } => {
                let base = self.read(src)?.bits as u32 as i32;
                return self.ld_packet(size, i64::from(base) + i64::from(imm), next);
            }
        }
        Ok(Next::Goto(next))
    }

    pub(crate) fn ktime_ns(&self) -> u64 {
        self.cfg.ktime_ns
    }

    pub(crate) fn read(&self, r: RegNo) -> Result<Value, Fault> {
        match self.regs.get(usize::from(r.0)) {
            Some(Some(v)) => Ok(*v),
            Some(None) => Err(Fault::UninitRegister(r)),
            None => Err(Fault::InvalidRegister(r)),
        }
    }

    fn write(&mut self, r: RegNo, v: Value) -> Result<(), Fault> {
        if r == RegNo::FP {
            return Err(Fault::FramePointerWrite);
        }
        let slot = self
            .regs
            .get_mut(usize::from(r.0))
            .ok_or(Fault::InvalidRegister(r))?;
        *slot = Some(v);
        Ok(())
    }

    /// A load through `base + off`; context pointer fields give pointers.
    fn load(&mut self, base: Value, off: i16, size: Size) -> Result<Value, Fault> {
        let addr = base.bits.wrapping_add(i64::from(off) as u64);
        let bytes = usize::from(size.bytes());
        if let (Some(field), Some((pkt, len))) = (self.ctx_field(addr, bytes), self.packet) {
            let len = u32::try_from(len).map_err(|_| Fault::Unsupported("packets of 4 GiB"))?;
            return Ok(match field {
                CtxField::Data | CtxField::DataMeta => Value::pointer(pkt, 0),
                CtxField::DataEnd => Value::pointer(pkt, len),
            });
        }
        self.mem.load(addr, bytes)
    }

    fn ctx_field(&self, addr: u64, size: usize) -> Option<CtxField> {
        let (id, off) = self.mem.locate(addr, size).ok()?;
        if id != self.ctx || size != 4 {
            return None;
        }
        CtxLayout::for_prog_type(self.req.prog_type)
            .fields
            .iter()
            .find(|(o, _)| *o as usize == off)
            .map(|(_, f)| *f)
    }

    fn atomic(
        &mut self,
        size: Size,
        op: AtomicOp,
        dst: RegNo,
        src: RegNo,
        off: i16,
    ) -> Result<(), Fault> {
        let bytes = usize::from(size.bytes());
        match op {
            AtomicOp::LoadAcquire => {
                let base = self.read(src)?;
                let v = self.load(base, off, size)?;
                return self.write(dst, v);
            }
            AtomicOp::StoreRelease => {
                let base = self.read(dst)?;
                let v = self.read(src)?;
                let addr = base.bits.wrapping_add(i64::from(off) as u64);
                return self.mem.store(addr, bytes, v);
            }
            _ => {}
        }
        let addr = self.read(dst)?.bits.wrapping_add(i64::from(off) as u64);
        let operand = self.read(src)?.bits;
        let old = self.mem.load(addr, bytes)?.bits;
        let new = match op {
            AtomicOp::Add | AtomicOp::FetchAdd => old.wrapping_add(operand),
            AtomicOp::Or | AtomicOp::FetchOr => old | operand,
            AtomicOp::And | AtomicOp::FetchAnd => old & operand,
            AtomicOp::Xor | AtomicOp::FetchXor => old ^ operand,
            AtomicOp::Xchg => operand,
            AtomicOp::Cmpxchg => {
                let expected = alu::truncate(size, self.read(RegNo(0))?.bits);
                self.regs[0] = Some(Value::scalar(old));
                if old == expected { operand } else { old }
            }
            AtomicOp::LoadAcquire | AtomicOp::StoreRelease => return Ok(()),
        };
        self.mem.store(addr, bytes, Value::scalar(new))?;
        // cmpxchg returns the old value in R0 (above), not in `src`.
        if op.fetches() && op != AtomicOp::Cmpxchg {
            self.write(src, Value::scalar(old))?;
        }
        Ok(())
    }

    fn call(&mut self, return_pc: usize) -> Result<(), Fault> {
        let depth = self.frames.len() + 1;
        if depth >= MAX_FRAMES {
            return Err(Fault::CallDepth);
        }
        let stack = match self.stacks.get(depth) {
            Some(&id) => {
                self.mem.clear(id);
                id
            }
            None => {
                let kind = RegionKind::Stack(depth as u8);
                let id = self
                    .mem
                    .add(kind, vec![0; STACK_SIZE as usize], true)
                    .ok_or(Fault::Unsupported("more than 2^32 regions"))?;
                self.stacks.push(id);
                id
            }
        };
        let mut saved = [None; 5];
        saved.copy_from_slice(&self.regs[6..=10]);
        self.frames.push(Frame {
            return_pc,
            saved,
            loops_left: self.loops_left,
        });
        self.loops_left = self.cfg.loop_budget;
        for r in 6..=9 {
            self.regs[r] = None;
        }
        self.regs[10] = Some(Value::pointer(stack, STACK_SIZE));
        Ok(())
    }

    fn ld_imm64(&self, src: PseudoSrc, imm: i32, next_imm: i32) -> Result<Value, Fault> {
        let map_of = |idx: i32| -> Result<&Map, Fault> {
            let i = u32::try_from(idx).map_err(|_| Fault::UnsupportedMap(u32::MAX))?;
            self.maps
                .get(i as usize)
                .and_then(Option::as_ref)
                .ok_or(Fault::UnsupportedMap(i))
        };
        let via_fd_array = |idx: i32| -> Result<i32, Fault> {
            let entry = usize::try_from(idx)
                .ok()
                .and_then(|i| self.req.fd_array.as_ref()?.get(i).copied());
            match entry {
                Some(FdRef::Map(m)) => i32::try_from(m).map_err(|_| Fault::UnsupportedMap(m)),
                _ => Err(Fault::Unsupported("fd_array entries that are not maps")),
            }
        };
        let value_ptr = |map: &Map, off: i32| -> Result<Value, Fault> {
            let off =
                u32::try_from(off).map_err(|_| Fault::Unsupported("negative map value offsets"))?;
            Ok(Value::pointer(map.first_value()?, off))
        };
        match src {
            PseudoSrc::Imm => Ok(Value::scalar(
                u64::from(imm as u32) | (u64::from(next_imm as u32) << 32),
            )),
            PseudoSrc::MapFd => Ok(Value::pointer(map_of(imm)?.object, 0)),
            PseudoSrc::MapIdx => Ok(Value::pointer(map_of(via_fd_array(imm)?)?.object, 0)),
            PseudoSrc::MapValue => value_ptr(map_of(imm)?, next_imm),
            PseudoSrc::MapIdxValue => value_ptr(map_of(via_fd_array(imm)?)?, next_imm),
            PseudoSrc::BtfId => Err(Fault::Unsupported("ld_imm64 of BTF ids")),
            PseudoSrc::Func => Err(Fault::Unsupported("ld_imm64 of subprogram addresses")),
        }
    }

    /// Legacy `LD_ABS`/`LD_IND`: a network-order load from the packet; out
    /// of range, the program ends returning 0 (the kernel's behaviour).
    fn ld_packet(&mut self, size: Size, off: i64, next: usize) -> Result<Next, Fault> {
        let (pkt, len) = self
            .packet
            .ok_or(Fault::Unsupported("LD_ABS/LD_IND for this program type"))?;
        let bytes = usize::from(size.bytes());
        let in_range = usize::try_from(off)
            .ok()
            .and_then(|o| o.checked_add(bytes))
            .is_some_and(|end| end <= len);
        if !in_range {
            return Ok(Next::Exit(Value::scalar(0)));
        }
        let addr = pkt.addr(off as u32);
        let raw = self.mem.read_bytes(addr, bytes)?;
        let v = raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        for r in 1..=5 {
            self.regs[r] = None;
        }
        self.regs[0] = Some(Value::scalar(v));
        Ok(Next::Goto(next))
    }
}

pub(crate) enum Next {
    Goto(usize),
    Exit(Value),
}

fn jump(next: usize, off: i64) -> Result<Next, Fault> {
    let target = next as i64 + off;
    usize::try_from(target)
        .map(Next::Goto)
        .map_err(|_| Fault::PcOutOfRange(target))
}
