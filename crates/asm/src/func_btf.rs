//! `;! func_info:` — the smallest program BTF that gives every subprogram
//! a `FUNC` record, so that raw fixtures can use what the kernel allows
//! only with `func_info` (callbacks passed by `ld_imm64` of a function).
//!
//! Every function gets the prototype `int (void)`; the first subprogram is
//! the main program. A name may carry `:static` or `:global` (default:
//! global for the main program, static for the others).

use bpfcheck_uapi::{FuncInfo, RawInsn, op};

/// One `FUNC` record of the directive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FuncDecl {
    name: String,
    global: bool,
}

/// Parses `NAME[:static|:global] ...`.
pub(crate) fn parse(value: &str) -> Result<Vec<FuncDecl>, String> {
    value
        .split_whitespace()
        .enumerate()
        .map(|(i, word)| {
            let (name, linkage) = word.split_once(':').unwrap_or((word, ""));
            let global = match linkage {
                "" => i == 0,
                "global" => true,
                "static" => false,
                other => return Err(format!("func_info `{word}`: unknown linkage `{other}`")),
            };
            if name.is_empty() {
                return Err(format!("func_info `{word}`: empty name"));
            }
            Ok(FuncDecl {
                name: name.to_owned(),
                global,
            })
        })
        .collect()
}

/// Subprogram starts as the kernel finds them: targets of bpf-to-bpf calls
/// and of function references, plus 0.
fn subprog_starts(insns: &[RawInsn]) -> Vec<u32> {
    let mut starts = vec![0u32];
    for (i, insn) in insns.iter().enumerate() {
        let call = insn.code == op::JMP | op::CALL && insn.src == op::PSEUDO_CALL;
        let func = insn.code == op::LD | op::IMM | op::DW && insn.src == op::PSEUDO_FUNC;
        if call || func {
            let t = i as i64 + i64::from(insn.imm) + 1;
            if let Ok(t) = u32::try_from(t) {
                starts.push(t);
            }
        }
    }
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// BTF kinds and the `int` encoding used.
const KIND_INT: u32 = 1;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const INT_SIGNED: u32 = 1 << 24;

/// The BTF bytes and `func_info` records for `decls`, one per subprogram
/// of `insns` in order.
pub(crate) fn build(
    decls: &[FuncDecl],
    insns: &[RawInsn],
) -> Result<(Vec<u8>, Vec<FuncInfo>), String> {
    let starts = subprog_starts(insns);
    if starts.len() != decls.len() {
        return Err(format!(
            "func_info names {} functions, the program has {} subprograms",
            decls.len(),
            starts.len()
        ));
    }
    let mut strings = b"\0int\0".to_vec();
    let mut types: Vec<u32> = vec![
        // [1] int
        1,
        KIND_INT << 24,
        4,
        INT_SIGNED | 32,
        // [2] int (void)
        0,
        KIND_FUNC_PROTO << 24,
        1,
    ];
    let mut infos = Vec::with_capacity(decls.len());
    for (k, (decl, start)) in decls.iter().zip(&starts).enumerate() {
        let name_off = u32::try_from(strings.len()).map_err(|e| e.to_string())?;
        strings.extend_from_slice(decl.name.as_bytes());
        strings.push(0);
        types.extend([name_off, KIND_FUNC << 24 | u32::from(decl.global), 2]);
        infos.push(FuncInfo {
            insn_off: *start,
            type_id: 3 + u32::try_from(k).map_err(|e| e.to_string())?,
        });
    }
    let type_len = u32::try_from(types.len() * 4).map_err(|e| e.to_string())?;
    let str_len = u32::try_from(strings.len()).map_err(|e| e.to_string())?;
    let mut btf = Vec::new();
    btf.extend(0xeb9f_u16.to_le_bytes());
    btf.extend([1u8, 0]);
    for word in [24, 0, type_len, type_len, str_len] {
        btf.extend(u32::to_le_bytes(word));
    }
    for word in types {
        btf.extend(word.to_le_bytes());
    }
    btf.extend(strings);
    Ok((btf, infos))
}

/// The `FUNC` records of `decls` added to a program BTF being built (for
/// a fixture whose maps give that BTF too), and their `func_info`.
pub(crate) fn add_to(
    b: &mut bpfcheck_btf::BtfBuilder,
    decls: &[FuncDecl],
    insns: &[RawInsn],
) -> Result<Vec<FuncInfo>, String> {
    use bpfcheck_btf::builder::TypeSpec;
    use bpfcheck_btf::types::Linkage;
    let starts = subprog_starts(insns);
    if starts.len() != decls.len() {
        return Err(format!(
            "func_info names {} functions, the program has {} subprograms",
            decls.len(),
            starts.len()
        ));
    }
    let int = b.int("int", 4, true);
    let proto = b
        .add(&TypeSpec::FuncProto {
            ret: int,
            params: Vec::new(),
        })
        .map_err(|e| e.to_string())?;
    decls
        .iter()
        .zip(&starts)
        .map(|(decl, start)| {
            let linkage = if decl.global {
                Linkage::Global
            } else {
                Linkage::Static
            };
            let func = b
                .add(&TypeSpec::Func {
                    name: decl.name.clone(),
                    proto,
                    linkage,
                })
                .map_err(|e| e.to_string())?;
            Ok(FuncInfo {
                insn_off: *start,
                type_id: func.0,
            })
        })
        .collect()
}
