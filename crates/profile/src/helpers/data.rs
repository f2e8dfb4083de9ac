//! The embedded helper data and its parser.
//!
//! Format (one record per line; `#` starts a comment line):
//!
//! ```text
//! kernel 6.12                       which kernel
//! max_id 212                        __BPF_FUNC_MAX_ID
//! msg_unavailable program of this type cannot use helper
//! requires_func yes                 a prototype without .func is refused
//! config CONFIG_A CONFIG_B …        options the sources consulted (record only)
//! inherit 6.12                      (6.18) start from another kernel's data
//! proto SYMBOL ID FILE:LINE [nofunc] [gpl_only] [pkt_access] [might_sleep]
//!       [allow_fastcall] ret=TYPE [aN=TYPE] [bN=KIND:NAME] [sN=BYTES]
//!       [rb=KIND:NAME] [allowed=FN]
//! progtype BPF_PROG_TYPE_X OPS DISPATCHER|-
//! struct_ops NAME DISPATCHER
//! btfset NAME FUNC…                 attach targets of `target@NAME`
//! dispatch NAME FILE                then indented rows:
//!   ID|* ALT;ALT…                   ALT = [LIT&LIT…]TARGET
//! offer BPF_PROG_TYPE_X ID TARGET   (6.18) a proven difference: for this
//!                                   program type the helper resolves to
//!                                   TARGET whatever the dispatchers say
//! ```
//!
//! `TARGET` is a prototype symbol, `-` (NULL), `>D` (dispatcher D's answer)
//! or `?D` (D's answer unless NULL, else the next alternative). A row's
//! alternatives are tried in order; the first whose literals all hold
//! decides; none deciding means NULL. Literals: `eat=BPF_X`
//! (expected_attach_type), `type=BPF_PROG_TYPE_X`, `cap=CAP_X`,
//! `sleepable`, `trampoline` (`bpf_prog_has_trampoline`), `recur`
//! (`bpf_prog_check_recur`), `lockdown=LOCKDOWN_X`, `target@SET`,
//! `member=M` (struct_ops member), `ok:D` (D answers non-NULL); `!` negates.

use std::collections::HashMap;

use bpfcheck_uapi::{AttachType, ProgType};

use super::types::{ArgType, RetType, parse_btf_ref};
use super::{Alt, Dispatcher, HelperProto, Lit, Pred, Target};

/// A defect in embedded helper data (a bug of the generator or of this
/// parser; reported, never panicked on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "helper data line {}: {}", self.line, self.what)
    }
}

impl std::error::Error for DataError {}

/// One kernel's parsed helper data.
#[derive(Debug, Default, Clone)]
pub(crate) struct Table {
    pub(crate) kernel: String,
    pub(crate) max_id: u32,
    pub(crate) msg_unavailable: String,
    pub(crate) requires_func: bool,
    pub(crate) protos: Vec<HelperProto>,
    pub(crate) proto_by_sym: HashMap<&'static str, usize>,
    pub(crate) dispatchers: Vec<Dispatcher>,
    pub(crate) dispatcher_by_name: HashMap<&'static str, usize>,
    /// Program type -> dispatcher (None: the type has no `get_func_proto`).
    pub(crate) prog_types: HashMap<ProgType, Option<usize>>,
    pub(crate) struct_ops: HashMap<&'static str, usize>,
    pub(crate) btf_sets: HashMap<&'static str, Vec<&'static str>>,
    /// Proven per-program-type differences (6.18): target per helper id.
    pub(crate) offers: HashMap<(ProgType, u32), Target>,
}

/// Unresolved references, fixed up once every record has been read.
enum Pending {
    Proto(&'static str),
    Call(&'static str),
    Try(&'static str),
    Null,
}

fn prog_type_of(name: &str) -> Option<ProgType> {
    ProgType::from_name(name.strip_prefix("BPF_PROG_TYPE_")?)
}

fn attach_type_of(name: &str) -> Option<AttachType> {
    AttachType::from_name(name.strip_prefix("BPF_")?)
}

/// Loads the table an `inherit` record names.
pub(crate) type BaseLoader<'a> = &'a dyn Fn(&str) -> Result<Table, DataError>;

pub(crate) fn parse(text: &'static str, base: Option<BaseLoader<'_>>) -> Result<Table, DataError> {
    let mut t = Table::default();
    // Rows waiting for name resolution: (dispatcher, key, guard, target, line).
    type Row = (usize, Option<u32>, Vec<(bool, RawLit)>, Pending, usize);
    let mut rows: Vec<Row> = Vec::new();
    let mut offers: Vec<(ProgType, u32, Pending, usize)> = Vec::new();
    // Prototypes below this index came from the inherited table.
    let mut inherited_protos = 0;
    let mut current: Option<usize> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let err = |what: String| DataError { line, what };
        if raw.starts_with('#') || raw.trim().is_empty() {
            continue;
        }
        if let Some(row) = raw.strip_prefix("  ") {
            let d = current.ok_or_else(|| err("row outside a dispatcher".into()))?;
            let (key, alts) = row
                .split_once(' ')
                .ok_or_else(|| err("row without alternatives".into()))?;
            let key = match key {
                "*" => None,
                k => Some(k.parse().map_err(|_| err(format!("bad helper id {k}")))?),
            };
            for alt in alts.split(';') {
                let (guard, target) = match alt.strip_prefix('[') {
                    Some(rest) => rest
                        .split_once(']')
                        .ok_or_else(|| err(format!("unclosed guard in {alt}")))?,
                    None => ("", alt),
                };
                let lits = guard
                    .split('&')
                    .filter(|l| !l.is_empty())
                    .map(|l| parse_lit(l).ok_or_else(|| err(format!("bad literal {l}"))))
                    .collect::<Result<Vec<_>, _>>()?;
                rows.push((d, key, lits, pending(target), line));
            }
            continue;
        }
        let mut words = raw.split(' ');
        let head = words.next().unwrap_or_default();
        let rest: Vec<&'static str> = words.collect();
        let word = |i: usize| -> Result<&'static str, DataError> {
            rest.get(i)
                .copied()
                .ok_or_else(|| err(format!("`{head}` needs field {}", i + 1)))
        };
        match head {
            "kernel" => t.kernel = word(0)?.to_owned(),
            "max_id" => {
                t.max_id = word(0)?.parse().map_err(|_| err("bad max_id".into()))?;
            }
            "msg_unavailable" => t.msg_unavailable = rest.join(" "),
            "requires_func" => t.requires_func = word(0)? == "yes",
            "config" => {}
            "inherit" => {
                let from = word(0)?;
                let load = base.ok_or_else(|| err("inherit without a base".into()))?;
                let kernel = std::mem::take(&mut t.kernel);
                t = load(from)?;
                t.kernel = kernel;
                inherited_protos = t.protos.len();
            }
            "proto" => {
                let p = parse_proto(&rest).map_err(err)?;
                match t.proto_by_sym.get(p.symbol).copied() {
                    // The kernel changed an inherited prototype: replaced in
                    // place, so the dispatchers that name it get the new one.
                    Some(i) if i < inherited_protos => t.protos[i] = p,
                    Some(_) => return Err(err(format!("prototype {} twice", p.symbol))),
                    None => {
                        t.proto_by_sym.insert(p.symbol, t.protos.len());
                        t.protos.push(p);
                    }
                }
            }
            "progtype" => {
                let pt = prog_type_of(word(0)?)
                    .ok_or_else(|| err(format!("unknown program type {}", rest[0])))?;
                let d = word(2)?;
                let idx = if d == "-" {
                    None
                } else {
                    Some(dispatcher_slot(&mut t, d))
                };
                t.prog_types.insert(pt, idx);
            }
            "struct_ops" => {
                let idx = dispatcher_slot(&mut t, word(1)?);
                t.struct_ops.insert(word(0)?, idx);
            }
            "btfset" => {
                t.btf_sets.insert(word(0)?, rest[1..].to_vec());
            }
            "dispatch" => {
                let idx = dispatcher_slot(&mut t, word(0)?);
                t.dispatchers[idx].file = word(1)?;
                t.dispatchers[idx].defined = true;
                t.dispatchers[idx].rows.clear();
                t.dispatchers[idx].default.clear();
                current = Some(idx);
            }
            "offer" => {
                let pt = prog_type_of(word(0)?)
                    .ok_or_else(|| err(format!("unknown program type {}", rest[0])))?;
                let id = word(1)?.parse().map_err(|_| err("bad helper id".into()))?;
                offers.push((pt, id, pending(word(2)?), line));
            }
            other => return Err(err(format!("unknown record `{other}`"))),
        }
    }
    for (d, key, lits, target, line) in rows {
        let err = |what: String| DataError { line, what };
        let guard = lits
            .into_iter()
            .map(|(neg, l)| resolve_lit(&mut t, l).map(|pred| Lit { neg, pred }))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        let target = resolve_target(&mut t, target).map_err(err)?;
        let disp = &mut t.dispatchers[d];
        let alts = match key {
            Some(id) => disp.rows.entry(id).or_default(),
            None => &mut disp.default,
        };
        alts.push(Alt { guard, target });
    }
    for (pt, id, target, line) in offers {
        let target = resolve_target(&mut t, target).map_err(|what| DataError { line, what })?;
        t.offers.insert((pt, id), target);
    }
    if let Some(d) = t.dispatchers.iter().find(|d| !d.defined) {
        return Err(DataError {
            line: 0,
            what: format!("dispatcher {} referenced but not defined", d.name),
        });
    }
    if t.max_id == 0 || t.msg_unavailable.is_empty() {
        return Err(DataError {
            line: 0,
            what: "max_id or msg_unavailable missing".into(),
        });
    }
    Ok(t)
}

fn pending(target: &'static str) -> Pending {
    if target == "-" {
        Pending::Null
    } else if let Some(d) = target.strip_prefix('>') {
        Pending::Call(d)
    } else if let Some(d) = target.strip_prefix('?') {
        Pending::Try(d)
    } else {
        Pending::Proto(target)
    }
}

fn dispatcher_slot(t: &mut Table, name: &'static str) -> usize {
    if let Some(&i) = t.dispatcher_by_name.get(name) {
        return i;
    }
    t.dispatchers.push(Dispatcher {
        name,
        file: "",
        defined: false,
        rows: HashMap::new(),
        default: Vec::new(),
    });
    t.dispatcher_by_name.insert(name, t.dispatchers.len() - 1);
    t.dispatchers.len() - 1
}

fn resolve_target(t: &mut Table, p: Pending) -> Result<Target, String> {
    Ok(match p {
        Pending::Null => Target::Null,
        Pending::Call(d) => Target::Call(dispatcher_slot(t, d)),
        Pending::Try(d) => Target::Try(dispatcher_slot(t, d)),
        Pending::Proto(s) => Target::Proto(
            *t.proto_by_sym
                .get(s)
                .ok_or_else(|| format!("unknown prototype {s}"))?,
        ),
    })
}

/// A literal before dispatcher names are resolved.
enum RawLit {
    Pred(Pred),
    Ok(&'static str),
}

fn parse_lit(l: &'static str) -> Option<(bool, RawLit)> {
    let (neg, l) = match l.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, l),
    };
    let pred = if let Some(v) = l.strip_prefix("eat=") {
        Pred::AttachType(attach_type_of(v)?)
    } else if let Some(v) = l.strip_prefix("type=") {
        Pred::ProgType(prog_type_of(v)?)
    } else if let Some(v) = l.strip_prefix("cap=") {
        Pred::Capable(super::Cap::from_kernel_name(v)?)
    } else if let Some(v) = l.strip_prefix("lockdown=") {
        Pred::LockedDown(v)
    } else if let Some(v) = l.strip_prefix("target@") {
        Pred::TargetIn(v)
    } else if let Some(v) = l.strip_prefix("member=") {
        Pred::Member(v)
    } else if let Some(v) = l.strip_prefix("ok:") {
        return Some((neg, RawLit::Ok(v)));
    } else {
        match l {
            "sleepable" => Pred::Sleepable,
            "trampoline" => Pred::HasTrampoline,
            "recur" => Pred::CheckRecur,
            _ => return None,
        }
    };
    Some((neg, RawLit::Pred(pred)))
}

fn resolve_lit(t: &mut Table, l: RawLit) -> Result<Pred, String> {
    Ok(match l {
        RawLit::Pred(Pred::TargetIn(set)) if !t.btf_sets.contains_key(set) => {
            return Err(format!("unknown BTF set {set}"));
        }
        RawLit::Pred(p) => p,
        RawLit::Ok(d) => Pred::Answers(dispatcher_slot(t, d)),
    })
}

fn parse_proto(f: &[&'static str]) -> Result<HelperProto, String> {
    let [symbol, id, at, rest @ ..] = f else {
        return Err("proto needs SYMBOL ID FILE:LINE".into());
    };
    let id: u32 = id.parse().map_err(|_| format!("bad helper id {id}"))?;
    let mut p = HelperProto {
        symbol,
        id,
        defined_at: at,
        has_func: true,
        gpl_only: false,
        pkt_access: false,
        might_sleep: false,
        allow_fastcall: false,
        ret: RetType::parse("RET_INTEGER").ok_or("RET_INTEGER")?,
        args: [ArgType::DONTCARE; 5],
        arg_btf: [None; 5],
        arg_size: [None; 5],
        ret_btf: None,
        allowed: None,
    };
    for item in rest {
        match *item {
            "nofunc" => p.has_func = false,
            "gpl_only" => p.gpl_only = true,
            "pkt_access" => p.pkt_access = true,
            "might_sleep" => p.might_sleep = true,
            "allow_fastcall" => p.allow_fastcall = true,
            _ => {
                let (k, v) = item
                    .split_once('=')
                    .ok_or_else(|| format!("bad field {item}"))?;
                let bad = || format!("bad {k}={v} in {symbol}");
                let slot = |k: &str| -> Result<usize, String> {
                    let n: usize = k[1..].parse().map_err(|_| bad())?;
                    (1..=5).contains(&n).then(|| n - 1).ok_or_else(bad)
                };
                match (k, k.as_bytes().first()) {
                    ("ret", _) => p.ret = RetType::parse(v).ok_or_else(bad)?,
                    ("rb", _) => p.ret_btf = Some(parse_btf_ref(v).ok_or_else(bad)?),
                    ("allowed", _) => p.allowed = Some(v),
                    (_, Some(b'a')) => p.args[slot(k)?] = ArgType::parse(v).ok_or_else(bad)?,
                    (_, Some(b'b')) => {
                        p.arg_btf[slot(k)?] = Some(parse_btf_ref(v).ok_or_else(bad)?);
                    }
                    (_, Some(b's')) => {
                        p.arg_size[slot(k)?] = Some(v.parse().map_err(|_| bad())?);
                    }
                    _ => return Err(bad()),
                }
            }
        }
    }
    Ok(p)
}
