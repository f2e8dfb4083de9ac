//! Type queries: resolving modifiers, sizes and alignment, member lookup,
//! kfuncs. All are cycle-safe: chains are bounded by [`MAX_RESOLVE_DEPTH`].

use crate::Btf;
use crate::error::{BtfErrorKind as K, Result, err};
use crate::types::{BtfKind, BtfTypeId, Composite, Func, Member, Type};

/// The kernel's `MAX_RESOLVE_DEPTH`: how many references a chain may follow.
pub const MAX_RESOLVE_DEPTH: usize = 32;

/// Most type records one recursive walk (alignment, anonymous member
/// search) may visit: depth alone does not bound a walk whose fan-out
/// revisits shared types, as hostile BTF can arrange.
const WALK_BUDGET: u32 = 1 << 16;

/// Size of a pointer on BPF (always a 64-bit target).
pub const PTR_SIZE: u32 = 8;

/// The decl tag the kernel puts on kfuncs (`__bpf_kfunc`).
pub const KFUNC_DECL_TAG: &str = "bpf_kfunc";

/// A member found by name or offset, with its offset from the start of
/// the outermost struct searched (anonymous members accumulate).
#[derive(Clone, Copy, Debug)]
pub struct FoundMember<'b> {
    /// The member record itself (its `bit_offset` is relative to its own parent).
    pub member: Member<'b>,
    /// The parent struct/union that directly holds the member.
    pub parent: BtfTypeId,
    /// Bit offset from the start of the struct the search began in.
    pub bit_offset: u32,
}

fn loop_or_depth(chain: &[BtfTypeId], next: BtfTypeId) -> crate::error::BtfError {
    if chain.contains(&next) {
        err(
            K::Loop,
            format!("type {next} is reached again while resolving"),
        )
        .for_type(next)
    } else {
        err(
            K::DepthExceeded,
            format!("more than {MAX_RESOLVE_DEPTH} references"),
        )
        .for_type(next)
    }
}

impl<'a> Btf<'a> {
    /// Skip typedef, const, volatile, restrict and type tags (libbpf's
    /// `skip_mods_and_typedefs`).
    pub fn resolve(&self, id: BtfTypeId) -> Result<Type<'_>> {
        self.skip_while(id, BtfKind::is_modifier)
    }

    /// Like [`Btf::resolve`] but keeps typedefs (CO-RE and the printer care).
    pub fn skip_mods(&self, id: BtfTypeId) -> Result<Type<'_>> {
        self.skip_while(id, |k| k.is_modifier() && k != BtfKind::Typedef)
    }

    fn skip_while(&self, id: BtfTypeId, skip: impl Fn(BtfKind) -> bool) -> Result<Type<'_>> {
        let mut chain = [BtfTypeId::VOID; MAX_RESOLVE_DEPTH];
        let mut cur = id;
        for slot in chain.iter_mut() {
            let t = self.type_by_id(cur)?;
            if !skip(t.kind()) {
                return Ok(t);
            }
            *slot = cur;
            cur = BtfTypeId(t.raw().size_or_type());
        }
        Err(loop_or_depth(&chain, cur))
    }

    /// Size in bytes, following the kernel's and libbpf's rules: ints,
    /// enums, floats, composites and datasecs carry their size; pointers
    /// are 8; arrays multiply; modifiers, VAR and tags follow their target.
    /// Void, FWD, FUNC and FUNC_PROTO have no size.
    pub fn size_of(&self, id: BtfTypeId) -> Result<u32> {
        let mut chain = [BtfTypeId::VOID; MAX_RESOLVE_DEPTH];
        let mut cur = id;
        let mut nelems: u32 = 1;
        for slot in chain.iter_mut() {
            *slot = cur;
            let t = self.type_by_id(cur)?;
            let size = match t {
                Type::Int(_)
                | Type::Enum(_)
                | Type::Enum64(_)
                | Type::Struct(_)
                | Type::Union(_)
                | Type::Datasec(_)
                | Type::Float(_) => t.raw().size_or_type(),
                Type::Ptr(_) => PTR_SIZE,
                Type::Array(a) => {
                    nelems = nelems.checked_mul(a.nelems()).ok_or_else(|| overflow(id))?;
                    cur = a.elem_type();
                    continue;
                }
                Type::Typedef(_)
                | Type::Volatile(_)
                | Type::Const(_)
                | Type::Restrict(_)
                | Type::TypeTag(_)
                | Type::Var(_)
                | Type::DeclTag(_) => {
                    cur = BtfTypeId(t.raw().size_or_type());
                    continue;
                }
                Type::Void(_) | Type::Fwd(_) | Type::Func(_) | Type::FuncProto(_) => {
                    return Err(
                        err(K::NotSized, format!("{} {cur} has no size", t.kind())).for_type(id)
                    );
                }
            };
            return size.checked_mul(nelems).ok_or_else(|| overflow(id));
        }
        Err(loop_or_depth(&chain, cur).for_type(id))
    }

    /// Alignment in bytes, as libbpf's `btf__align_of` computes it: scalars
    /// align to their size capped at 8, composites to their most aligned
    /// member, or 1 when the layout shows the struct is packed.
    pub fn align_of(&self, id: BtfTypeId) -> Result<u32> {
        self.align_of_depth(id, 0, &mut { WALK_BUDGET })
    }

    fn align_of_depth(&self, id: BtfTypeId, depth: usize, budget: &mut u32) -> Result<u32> {
        *budget = budget.saturating_sub(1);
        if depth > MAX_RESOLVE_DEPTH || *budget == 0 {
            return Err(err(K::DepthExceeded, "alignment nests too deeply").for_type(id));
        }
        let t = self.type_by_id(id)?;
        match t {
            Type::Int(_) | Type::Enum(_) | Type::Enum64(_) | Type::Float(_) => {
                Ok(t.raw().size_or_type().clamp(1, PTR_SIZE))
            }
            Type::Ptr(_) => Ok(PTR_SIZE),
            Type::Typedef(r)
            | Type::Volatile(r)
            | Type::Const(r)
            | Type::Restrict(r)
            | Type::TypeTag(r) => self.align_of_depth(r.target(), depth + 1, budget),
            Type::Array(a) => self.align_of_depth(a.elem_type(), depth + 1, budget),
            Type::Struct(c) | Type::Union(c) => {
                let mut max = 1;
                for m in c.members() {
                    let al = self.align_of_depth(m.ty, depth + 1, budget)?;
                    // A non-bitfield member off its natural alignment means
                    // `__attribute__((packed))`.
                    if m.bitfield_size == 0 && m.bit_offset % (al * 8) != 0 {
                        return Ok(1);
                    }
                    max = max.max(al);
                }
                Ok(if c.size() % max != 0 { 1 } else { max })
            }
            _ => Err(err(K::NotSized, format!("{} has no alignment", t.kind())).for_type(id)),
        }
    }

    /// The struct/union behind `id` (after [`Btf::resolve`]).
    pub fn composite(&self, id: BtfTypeId) -> Result<Composite<'_>> {
        let t = self.resolve(id)?;
        t.as_composite().ok_or_else(|| {
            err(
                K::BadReferencedKind,
                format!("{} is {}, not a struct or union", t.id(), t.kind()),
            )
        })
    }

    /// Find member `name` of the struct/union `id`, searching through
    /// anonymous struct/union members as C name lookup does.
    pub fn member_by_name(&self, id: BtfTypeId, name: &str) -> Result<Option<FoundMember<'_>>> {
        self.member_by_name_depth(id, name, 0, 0, &mut { WALK_BUDGET })
    }

    fn member_by_name_depth(
        &self,
        id: BtfTypeId,
        name: &str,
        base_bits: u32,
        depth: usize,
        budget: &mut u32,
    ) -> Result<Option<FoundMember<'_>>> {
        *budget = budget.saturating_sub(1);
        if depth > MAX_RESOLVE_DEPTH || *budget == 0 {
            return Err(err(K::DepthExceeded, "anonymous members nest too deeply").for_type(id));
        }
        let c = self.composite(id)?;
        for m in c.members() {
            let bit_offset = base_bits.saturating_add(m.bit_offset);
            if m.name_off == 0 {
                let inner = self.resolve(m.ty)?;
                if inner.kind().is_composite()
                    && let Some(found) =
                        self.member_by_name_depth(inner.id(), name, bit_offset, depth + 1, budget)?
                {
                    return Ok(Some(found));
                }
            } else if m.name()? == name {
                return Ok(Some(FoundMember {
                    member: m,
                    parent: c.id(),
                    bit_offset,
                }));
            }
        }
        Ok(None)
    }

    /// The direct member of struct/union `id` whose bytes contain
    /// `byte_off` (the first such for unions). Bitfields count by the bytes
    /// they touch. Zero-sized trailing arrays match their start offset.
    pub fn member_at_offset(
        &self,
        id: BtfTypeId,
        byte_off: u32,
    ) -> Result<Option<FoundMember<'_>>> {
        let c = self.composite(id)?;
        let want = u64::from(byte_off) * 8;
        for m in c.members() {
            let start = u64::from(m.bit_offset);
            let bits = if m.bitfield_size != 0 {
                u64::from(m.bitfield_size)
            } else {
                u64::from(self.size_of(m.ty)?) * 8
            };
            let hit = if bits == 0 {
                want == start
            } else {
                want + 8 > start && want < start + bits
            };
            if hit {
                return Ok(Some(FoundMember {
                    member: m,
                    parent: c.id(),
                    bit_offset: m.bit_offset,
                }));
            }
        }
        Ok(None)
    }

    /// The FUNC named `name` if it carries the `bpf_kfunc` decl tag.
    pub fn find_kfunc(&self, name: &str) -> Option<Func<'_>> {
        let mut found = None;
        self.for_each_named(name, &mut |t| {
            if t.kind() == BtfKind::Func && self.has_decl_tag(t.id(), KFUNC_DECL_TAG) {
                found = Some(t.id());
                return false;
            }
            true
        });
        match self.type_by_id(found?) {
            Ok(Type::Func(f)) => Some(f),
            _ => None,
        }
    }

    /// Every FUNC tagged `bpf_kfunc`, in id order.
    pub fn kfuncs(&self) -> Vec<Func<'_>> {
        let mut out: Vec<Func<'_>> = self
            .iter()
            .filter_map(|t| match t {
                Type::DeclTag(d)
                    if d.component_idx() == Ok(None)
                        && d.name().is_ok_and(|n| n == KFUNC_DECL_TAG) =>
                {
                    match self.type_by_id(d.target()) {
                        Ok(Type::Func(f)) => Some(f),
                        _ => None,
                    }
                }
                _ => None,
            })
            .collect();
        out.sort_by_key(|f| f.id());
        out.dedup_by_key(|f| f.id());
        out
    }
}

fn overflow(id: BtfTypeId) -> crate::error::BtfError {
    err(K::SizeOverflow, "size overflows u32").for_type(id)
}
