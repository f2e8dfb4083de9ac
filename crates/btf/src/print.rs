//! A short, deterministic C-like rendering of types for diagnostics:
//! `struct task_struct *`, `const char *`, `int (*)(void *, long)`, `u8[16]`.
//! Type tags are omitted; nesting past [`MAX_RESOLVE_DEPTH`] prints `...`.

use crate::Btf;
use crate::query::MAX_RESOLVE_DEPTH;
use crate::types::{BtfTypeId, Type};

/// Most type records one rendering may visit.
const PRINT_BUDGET: u32 = 256;

impl<'a> Btf<'a> {
    /// Render type `id` as C would spell an abstract declarator of it.
    pub fn type_to_string(&self, id: BtfTypeId) -> String {
        self.decl(id, String::new(), 0, &mut { PRINT_BUDGET })
    }

    /// Render `id` declaring `name` (`char *comm`, `int (*cb)(void *)`).
    pub fn decl_to_string(&self, id: BtfTypeId, name: &str) -> String {
        self.decl(id, name.to_string(), 0, &mut { PRINT_BUDGET })
    }

    fn leaf_name(&self, t: &Type<'_>) -> String {
        let name = match t.name() {
            Ok("") => "(anon)",
            Ok(n) => n,
            Err(_) => "(invalid-name)",
        };
        match t {
            Type::Void(_) => "void".into(),
            Type::Struct(_) => format!("struct {name}"),
            Type::Union(_) => format!("union {name}"),
            Type::Enum(_) | Type::Enum64(_) => format!("enum {name}"),
            Type::Fwd(f) => format!("{} {name}", if f.is_union() { "union" } else { "struct" }),
            Type::Datasec(_) => format!("SEC(\"{name}\")"),
            _ => name.to_string(),
        }
    }

    fn decl(&self, id: BtfTypeId, inner: String, depth: usize, budget: &mut u32) -> String {
        // Depth bounds chains; the budget bounds fan-out (a proto whose
        // parameters point back at itself would otherwise grow exponentially).
        *budget = budget.saturating_sub(1);
        if depth > MAX_RESOLVE_DEPTH || *budget == 0 {
            return join("...", &inner);
        }
        let Ok(t) = self.type_by_id(id) else {
            return join(&format!("<bad type {}>", id.0), &inner);
        };
        let d = depth + 1;
        match t {
            Type::Ptr(r) => {
                let needs_parens = matches!(
                    self.skip_mods(r.target()),
                    Ok(Type::FuncProto(_) | Type::Array(_))
                );
                let inner = if needs_parens {
                    format!("(*{inner})")
                } else {
                    format!("*{inner}")
                };
                self.decl(r.target(), inner, d, budget)
            }
            Type::Const(r) | Type::Volatile(r) | Type::Restrict(r) => {
                let q = match t {
                    Type::Const(_) => "const",
                    Type::Volatile(_) => "volatile",
                    _ => "restrict",
                };
                if matches!(self.type_by_id(r.target()), Ok(Type::Ptr(_))) {
                    // `char *const p`: the qualifier binds to the pointer.
                    self.decl(r.target(), join(q, &inner), d, budget)
                } else {
                    format!("{q} {}", self.decl(r.target(), inner, d, budget))
                }
            }
            Type::TypeTag(r) => self.decl(r.target(), inner, d, budget),
            Type::Array(a) => {
                self.decl(a.elem_type(), format!("{inner}[{}]", a.nelems()), d, budget)
            }
            Type::FuncProto(p) => {
                let mut params: Vec<String> = p
                    .params()
                    .map(|q| {
                        if q.ty.is_void() {
                            "...".into()
                        } else {
                            self.decl(q.ty, String::new(), d, budget)
                        }
                    })
                    .collect();
                if params.is_empty() {
                    params.push("void".into());
                }
                self.decl(
                    p.return_type(),
                    format!("{inner}({})", params.join(", ")),
                    d,
                    budget,
                )
            }
            Type::Func(f) => {
                let name = t.name().unwrap_or("(invalid-name)");
                self.decl(f.proto(), join(name, &inner), d, budget)
            }
            Type::Var(v) => {
                let name = t.name().unwrap_or("(invalid-name)");
                self.decl(v.ty(), join(name, &inner), d, budget)
            }
            Type::DeclTag(g) => self.decl(g.target(), inner, d, budget),
            _ => join(&self.leaf_name(&t), &inner),
        }
    }
}

/// `base` then the declarator, with a space unless the declarator is empty
/// or starts with an array/call suffix.
fn join(base: &str, inner: &str) -> String {
    if inner.is_empty() {
        base.to_string()
    } else if inner.starts_with('[') || inner.starts_with('(') && !inner.starts_with("(*") {
        format!("{base}{inner}")
    } else {
        format!("{base} {inner}")
    }
}
