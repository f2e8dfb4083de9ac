#!/usr/bin/env python3
"""Generates bpfcheck's helper profile data from a kernel source tree.

    gen_helpers.py --ksrc DIR --config FILE --name 6.12 --source LABEL --out FILE

Reads, from the kernel's own sources:
  * include/uapi/linux/bpf.h          helper ids (__BPF_FUNC_MAPPER)
  * include/linux/bpf_types.h         program type -> verifier ops
  * every .c file under kernel/ net/ security/ drivers/ fs/ mm/ lib/ that
    mentions `bpf_func_proto`:
      - `struct bpf_func_proto NAME = { ... }` definitions (the prototypes),
      - `struct bpf_verifier_ops NAME = { .get_func_proto = F }`,
      - `struct bpf_struct_ops` initialisers (struct_ops name -> verifier ops),
      - every function returning `const struct bpf_func_proto *` (the
        dispatchers), symbolically executed per helper id,
      - BTF_ID_LIST / BTF_SOCK_TYPE / BTF_TRACING_TYPE tables, to name the
        BTF types of `argN_btf_id` / `ret_btf_id`.
Preprocessor conditionals are resolved against FILE (a kernel .config):
the data describes that build of the kernel.

The output is a line-oriented text file (format described in its header and
in crates/profile/src/helpers/data.rs). The output depends only on the
inputs: files are visited in sorted order and every table is sorted.
"""

import argparse
import gzip
import os
import re
import sys

SCAN_DIRS = ["kernel", "net", "security", "drivers", "fs", "mm", "lib"]


def die(msg):
    sys.stderr.write(f"gen_helpers: {msg}\n")
    sys.exit(1)


# ---------------------------------------------------------------- config --

def read_config(path):
    opener = gzip.open if path.endswith(".gz") else open
    cfg = {}
    with opener(path, "rt") as f:
        for line in f:
            m = re.match(r"^(CONFIG_\w+)=(.*)$", line.strip())
            if m:
                cfg[m.group(1)] = m.group(2)
    return cfg


class Config:
    def __init__(self, values):
        self.values = values
        self.consulted = {}

    def enabled(self, sym, builtin_only=False):
        v = self.values.get(sym)
        on = v == "y" or (v == "m" and not builtin_only)
        self.consulted[sym] = v or "n"
        return on

    def eval_pp(self, expr, where):
        """Evaluates a #if expression made of config tests."""
        e = expr
        e = re.sub(r"IS_ENABLED\((CONFIG_\w+)\)", lambda m: "1" if self.enabled(m.group(1)) else "0", e)
        e = re.sub(r"IS_BUILTIN\((CONFIG_\w+)\)", lambda m: "1" if self.enabled(m.group(1), True) else "0", e)
        e = re.sub(r"IS_REACHABLE\((CONFIG_\w+)\)", lambda m: "1" if self.enabled(m.group(1)) else "0", e)
        e = re.sub(r"defined\s*\(\s*(CONFIG_\w+)\s*\)", lambda m: "1" if self.enabled(m.group(1)) else "0", e)
        e = re.sub(r"defined\s+(CONFIG_\w+)", lambda m: "1" if self.enabled(m.group(1)) else "0", e)
        e = re.sub(r"\b(CONFIG_\w+)\b", lambda m: "1" if self.enabled(m.group(1)) else "0", e)
        e = e.replace("&&", " and ").replace("||", " or ")
        e = re.sub(r"!(?!=)", " not ", e)
        if not re.fullmatch(r"[\s01()andortn]*", e):
            # Not a configuration test (e.g. an architecture or compiler
            # macro): such blocks never hold helper code; keep them.
            return True
        try:
            return bool(eval(e, {"__builtins__": {}}))  # noqa: S307 - digits and and/or/not only
        except SyntaxError:
            die(f"{where}: cannot evaluate #if {expr!r}")


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def preprocess(text, cfg, where):
    """Drops lines in inactive #if branches; joins continuation lines."""
    text = strip_comments(text).replace("\\\n", " ")
    out = []
    stack = []  # (parent_active, this_branch_taken, currently_active)
    active = True
    for line in text.split("\n"):
        s = line.strip()
        m = re.match(r"#\s*(ifdef|ifndef|if|elif|else|endif)\b(.*)", s)
        if not m:
            out.append(line if active else "")
            continue
        d, rest = m.group(1), m.group(2).strip()
        if d in ("ifdef", "ifndef", "if"):
            if d == "ifdef":
                val = cfg.enabled(rest) if rest.startswith("CONFIG_") else True
            elif d == "ifndef":
                val = not cfg.enabled(rest) if rest.startswith("CONFIG_") else True
            else:
                val = cfg.eval_pp(rest, where)
            stack.append((active, val))
            active = active and val
        elif d == "elif":
            parent, taken = stack[-1]
            val = (not taken) and cfg.eval_pp(rest, where)
            stack[-1] = (parent, taken or val)
            active = parent and val
        elif d == "else":
            parent, taken = stack[-1]
            stack[-1] = (parent, True)
            active = parent and not taken
        else:
            if stack:
                active, _ = stack.pop()
        out.append("")
    return "\n".join(out)


def match_brace(text, start):
    """Index just past the brace block opening at text[start] == '{'."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"' or c == "'":
            q = c
            i += 1
            while i < n and text[i] != q:
                i += 2 if text[i] == "\\" else 1
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def split_top(s, sep=","):
    parts, depth, cur = [], 0, []
    for c in s:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def norm(s):
    return re.sub(r"\s+", " ", s).strip()


# ---------------------------------------------------------------- tables --

def helper_ids(ksrc):
    text = open(os.path.join(ksrc, "include/uapi/linux/bpf.h")).read()
    ids = {}
    m = re.search(r"#define _{2,3}BPF_FUNC_MAPPER\(FN[^)]*\)((?:[^\n]*\\\n)*[^\n]*)", text)
    if not m:
        die("no __BPF_FUNC_MAPPER in include/uapi/linux/bpf.h")
    body = m.group(1)
    n = 0
    for m in re.finditer(r"\bFN\((\w+)(?:,\s*(\d+))?", body):
        name, num = m.group(1), m.group(2)
        if name in ids:
            break
        ids[name] = int(num) if num is not None else n
        n += 1
    return ids


def prog_types(ksrc, cfg):
    path = os.path.join(ksrc, "include/linux/bpf_types.h")
    text = preprocess(open(path).read(), cfg, path)
    out = []
    for m in re.finditer(r"BPF_PROG_TYPE\((BPF_PROG_TYPE_\w+),\s*(\w+)", text):
        out.append((m.group(1), m.group(2)))
    return out


def btf_id_tables(text, tables):
    """BTF_ID_LIST(_SINGLE|_GLOBAL...) and BTF_ID lines -> name -> [types]."""
    cur = None
    for line in text.split("\n"):
        s = line.strip()
        m = re.match(r"BTF_ID_LIST(?:_GLOBAL)?_SINGLE\((\w+),\s*(\w+),\s*(\w+)\)", s)
        if m:
            tables[m.group(1)] = [f"{m.group(2)} {m.group(3)}"]
            cur = None
            continue
        m = re.match(r"BTF_ID_LIST(?:_GLOBAL)?\((\w+)(?:,\s*\d+)?\)", s)
        if m:
            cur = m.group(1)
            tables[cur] = []
            continue
        if cur is not None:
            m = re.match(r"BTF_ID\((\w+),\s*(\w+)\)", s)
            if m:
                tables[cur].append(f"{m.group(1)} {m.group(2)}")
            elif s.startswith("BTF_ID_UNUSED"):
                tables[cur].append("?")
            elif s:
                cur = None


def btf_sets(text, sets):
    """BTF_SET_START(name) ... BTF_SET_END(name): the attach targets a set names."""
    for m in re.finditer(r"BTF_SET_START\((\w+)\)(.*?)BTF_SET_END\(\1\)", text, re.S):
        sets[m.group(1)] = sorted(re.findall(r"BTF_ID\(func,\s*(\w+)\)", m.group(2)))


def type_aliases(ksrc):
    """`ARG_PTR_TO_UNINIT_MEM = MEM_UNINIT | MEM_WRITE | ARG_PTR_TO_MEM` and
    the like, from enum bpf_arg_type / bpf_return_type: alias -> parts."""
    text = strip_comments(open(os.path.join(ksrc, "include/linux/bpf.h")).read())
    out = {}
    for enum in ("bpf_arg_type", "bpf_return_type"):
        m = re.search(r"enum " + enum + r" \{(.*?)\n\};", text, re.S)
        for am in re.finditer(r"\b((?:ARG|RET)_\w+)\s*=\s*([A-Z_|\s]+),", m.group(1)):
            parts = [x.strip() for x in am.group(2).split("|")]
            if len(parts) > 1:
                out[am.group(1)] = parts
    return out


def expand_type(t, aliases, where):
    """A type written with aliases -> BASE|FLAG|FLAG (base first, flags sorted)."""
    parts = []
    for x in t.replace(" ", "").split("|"):
        parts.extend(aliases.get(x, [x]))
    bases = [x for x in parts if x.startswith(("ARG_", "RET_"))]
    flags = sorted(set(x for x in parts if not x.startswith(("ARG_", "RET_"))))
    if len(bases) != 1:
        die(f"{where}: type {t} has bases {bases}")
    return "|".join(bases + flags)


def enum_type_tables(ksrc):
    """BTF_SOCK_TYPE_x -> struct y and BTF_TRACING_TYPE_x -> struct y."""
    text = open(os.path.join(ksrc, "include/linux/btf_ids.h")).read()
    idx = {}
    for macro, table in (("BTF_SOCK_TYPE", "btf_sock_ids"), ("BTF_TRACING_TYPE", "btf_tracing_ids")):
        for m in re.finditer(macro + r"\((\w+),\s*(\w+)\)", text):
            idx[(table, m.group(1))] = f"struct {m.group(2)}"
    return idx


# -------------------------------------------------------------- protos --

PROTO_RE = re.compile(r"(?:static\s+)?(?:const\s+)?struct\s+bpf_func_proto\s+(\w+)\s*=\s*\{")


def parse_protos(text, rel, protos, line_of):
    for m in PROTO_RE.finditer(text):
        name = m.group(1)
        end = match_brace(text, m.end() - 1)
        body = text[m.end():end - 1]
        fields = {}
        for item in split_top(body):
            fm = re.match(r"\.(\w+)\s*=\s*(.*)$", item, re.S)
            if fm:
                fields[fm.group(1)] = norm(fm.group(2))
        if name in protos:
            die(f"{rel}: prototype {name} defined twice")
        protos[name] = {"fields": fields, "at": f"{rel}:{line_of(m.start())}"}


# ---------------------------------------------------------- dispatchers --

DISPATCH_RE = re.compile(
    r"^(?:static\s+)?const\s+struct\s+bpf_func_proto\s*\*\s*(\w+)\s*\(([^)]*)\)\s*\{", re.M)


class Tok:
    def __init__(self, text):
        self.toks = re.findall(
            r"->|==|!=|<=|>=|&&|\|\||[A-Za-z_]\w*|\d+|\"(?:\\.|[^\"])*\"|\S", text)
        self.i = 0

    def peek(self, k=0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def next(self):
        t = self.peek()
        self.i += 1
        return t

    def expect(self, t):
        got = self.next()
        if got != t:
            raise SyntaxError(f"expected {t!r}, got {got!r} near {' '.join(self.toks[self.i - 5:self.i + 5])}")

    def until(self, stop, depth0=0):
        """Tokens up to (not including) `stop` at nesting depth 0."""
        out, depth = [], depth0
        while True:
            t = self.peek()
            if t is None:
                raise SyntaxError(f"missing {stop!r}")
            if depth == 0 and t == stop:
                return out
            if t in "([{":
                depth += 1
            elif t in ")]}":
                depth -= 1
            out.append(self.next())


def parse_block(tk):
    """Statements until the closing brace (consumed)."""
    stmts = []
    while tk.peek() != "}":
        stmts.append(parse_stmt(tk))
    tk.next()
    return stmts


def parse_stmt(tk):
    t = tk.peek()
    if t == "{":
        tk.next()
        return ("block", parse_block(tk))
    if t == "switch":
        tk.next()
        tk.expect("(")
        subject = tk.until(")")
        tk.next()
        tk.expect("{")
        arms = []  # [labels, stmts]
        while tk.peek() != "}":
            if tk.peek() == "case":
                tk.next()
                label = tk.until(":")
                tk.next()
                if arms and not arms[-1][1]:
                    arms[-1][0].append(" ".join(label))
                else:
                    arms.append([[" ".join(label)], []])
            elif tk.peek() == "default":
                tk.next()
                tk.expect(":")
                if arms and not arms[-1][1]:
                    arms[-1][0].append("default")
                else:
                    arms.append([["default"], []])
            else:
                if not arms:
                    raise SyntaxError("statement before first case")
                arms[-1][1].append(parse_stmt(tk))
        tk.next()
        return ("switch", " ".join(subject), arms)
    if t == "if":
        tk.next()
        tk.expect("(")
        cond = tk.until(")")
        tk.next()
        then = parse_stmt(tk)
        other = None
        if tk.peek() == "else":
            tk.next()
            other = parse_stmt(tk)
        return ("if", cond, then, other)
    if t == "return":
        tk.next()
        e = tk.until(";")
        tk.next()
        return ("return", e)
    if t == "break":
        tk.next()
        tk.expect(";")
        return ("break",)
    toks = tk.until(";")
    tk.next()
    # `func_proto = f(func_id, prog);` and declarations with initialisers.
    if "=" in toks:
        k = toks.index("=")
        if k >= 1 and re.fullmatch(r"[A-Za-z_]\w*", toks[k - 1]) and "struct" not in toks[k + 1:]:
            return ("assign", toks[k - 1], toks[k + 1:])
    return ("other", " ".join(toks))


# Conditions are kept as nested tuples:
#   ("atom", text) ("not", c) ("and", a, b) ("or", a, b) ("true",) ("false",)

def parse_cond(toks):
    pos = [0]

    def peek():
        return toks[pos[0]] if pos[0] < len(toks) else None

    def take():
        pos[0] += 1
        return toks[pos[0] - 1]

    def primary():
        if peek() == "!":
            take()
            return ("not", primary())
        if peek() == "(":
            # A parenthesised condition, or the start of an atom such as
            # `(x & y)`; try the condition first.
            take()
            c = orexpr()
            if peek() != ")":
                raise SyntaxError("unbalanced condition")
            take()
            return c
        out, depth = [], 0
        while peek() is not None:
            t = peek()
            if depth == 0 and t in ("&&", "||", ")", "?", ":"):
                break
            if t in "([":
                depth += 1
            elif t in ")]":
                depth -= 1
            out.append(take())
        return ("atom", " ".join(out))

    def andexpr():
        a = primary()
        while peek() == "&&":
            take()
            a = ("and", a, primary())
        return a

    def orexpr():
        a = andexpr()
        while peek() == "||":
            take()
            a = ("or", a, andexpr())
        return a

    c = orexpr()
    if pos[0] != len(toks):
        raise SyntaxError(f"trailing tokens in condition {' '.join(toks)}")
    return c


# BTF ids a subsystem looks up by name at init time rather than through a
# BTF_ID_LIST (net/ipv4/bpf_tcp_ca.c: btf_find_by_name_kind(.., "tcp_sock", ..)).
RUNTIME_BTF_IDS = {
    "tcp_sock_id": "struct tcp_sock",
}


# `.argN_size` values (x86-64 sizes of the types the prototypes name).
SIZES = {
    "sizeof(u32)": 4, "sizeof(u64)": 8, "sizeof(s64)": 8,
    "sizeof(structiphdr)": 20, "sizeof(structipv6hdr)": 40, "sizeof(structtcphdr)": 20,
}


# Conditions on run-time state that is not a property of the program: the
# value they have in a working kernel (allocations succeed; the tunnel
# metadata of bpf_get_skb_set_tunnel_proto() is allocated on first use).
ASSUMED = {
    "md_dst": "false",
    "tmp": "true",
    "cmpxchg(&md_dst,NULL,tmp)": "false",
}


def cond_literal(atom):
    """Maps a C condition atom to a profile predicate, or None when unknown."""
    a = atom.replace(" ", "")
    if a in ASSUMED:
        return ASSUMED[a]
    m = re.fullmatch(r"prog->expected_attach_type(==|!=)(BPF_\w+)", a)
    if m:
        lit = f"eat={m.group(2)}"
        return lit if m.group(1) == "==" else "!" + lit
    m = re.fullmatch(r"prog->type(==|!=)(BPF_PROG_TYPE_\w+)", a)
    if m:
        lit = f"type={m.group(2)}"
        return lit if m.group(1) == "==" else "!" + lit
    m = re.fullmatch(r"bpf_token_capable\(prog->aux->token,(CAP_\w+)\)", a)
    if m:
        return "cap=" + m.group(1)
    if a == "bpf_capable()":
        return "cap=CAP_BPF"
    if a == "perfmon_capable()":
        return "cap=CAP_PERFMON"
    m = re.fullmatch(r"capable\((CAP_\w+)\)", a)
    if m:
        return "cap=" + m.group(1)
    m = re.fullmatch(r"btf_id_set_contains\(&(\w+),prog->aux->attach_btf_id\)", a)
    if m:
        return "target@" + m.group(1)
    m = re.fullmatch(r"prog_ops_moff\(prog\)(==|!=)offsetof\(struct\w+,(\w+)\)", a)
    if m:
        return ("" if m.group(1) == "==" else "!") + "member=" + m.group(2)
    if a in ("prog->aux->sleepable", "prog->sleepable"):
        return "sleepable"
    if a == "bpf_prog_has_trampoline(prog)":
        return "trampoline"
    if a == "bpf_prog_check_recur(prog)":
        return "recur"
    m = re.fullmatch(r"security_locked_down\((LOCKDOWN_\w+)\)<0", a)
    if m:
        return "lockdown=" + m.group(1)
    return None


# `static bool f(const struct bpf_prog *prog) { return COND; }`: one-line
# predicates on the program, expanded where a dispatcher tests them.
PREDICATES = {}
WHO = {}
PRED_RE = re.compile(
    r"static\s+(?:inline\s+)?bool\s+(\w+)\s*\(\s*const\s+struct\s+bpf_prog\s*\*\s*prog\s*\)\s*"
    r"\{\s*return\s+([^;{}]*);\s*\}")


class Dnf:
    """Disjunctive normal form over predicate literals."""

    @staticmethod
    def of(c, where, env=None):
        kind = c[0]
        if kind == "atom" and env and c[1] in env and env[c[1]][0] == "call":
            # A variable holding a dispatcher's answer: non-NULL or not.
            return [["ok:" + env[c[1]][1]]]
        if kind == "atom":
            m = re.fullmatch(r"(\w+)\(prog\)", c[1].replace(" ", ""))
            if m and m.group(1) in PREDICATES:
                return Dnf.of(parse_cond(Tok(PREDICATES[m.group(1)]).toks), where)
            lit = cond_literal(c[1])
            if lit is None:
                die(f"{where}: condition `{c[1]}` is not understood; teach cond_literal()")
            return [[lit]]
        if kind == "not":
            return Dnf.negate(Dnf.of(c[1], where, env))
        if kind == "and":
            return [x + y for x in Dnf.of(c[1], where, env) for y in Dnf.of(c[2], where, env)]
        if kind == "or":
            return Dnf.of(c[1], where, env) + Dnf.of(c[2], where, env)
        die(f"{where}: bad condition {c}")

    @staticmethod
    def negate(dnf):
        out = [[]]
        for conj in dnf:
            out = [x + [neg(l)] for x in out for l in conj]
        return out


def neg(lit):
    return lit[1:] if lit.startswith("!") else "!" + lit


def simplify(conj):
    """Drops duplicates; None for a contradictory conjunction."""
    out = []
    for l in conj:
        if l in ("true", "!false"):
            continue
        if l in ("false", "!true"):
            return None
        if neg(l) in out:
            return None
        if l not in out:
            out.append(l)
    # Two different required attach types cannot both hold.
    eats = [l for l in out if l.startswith("eat=")]
    if len(eats) > 1:
        return None
    if eats:
        out = [l for l in out if not (l.startswith("!eat=") and l != "!" + eats[0])]
    return out


def parse_ret_expr(toks, where):
    """Return-expression -> list of (conj, action)."""
    s = " ".join(toks)
    if "?" in toks:
        q = toks.index("?")
        depth = 0
        for k in range(q + 1, len(toks)):
            if toks[k] in "([":
                depth += 1
            elif toks[k] in ")]":
                depth -= 1
            elif toks[k] == ":" and depth == 0:
                c = parse_cond(toks[:q])
                pos = Dnf.of(c, where)
                negd = Dnf.negate(pos)
                a = parse_ret_expr(toks[q + 1:k], where)
                b = parse_ret_expr(toks[k + 1:], where)
                return [(p + g, act) for p in pos for g, act in a] + \
                       [(p + g, act) for p in negd for g, act in b]
        die(f"{where}: bad conditional expression {s}")
    a = s.replace(" ", "")
    if a == "NULL":
        return [([], ("null",))]
    m = re.fullmatch(r"&(\w+)", a)
    if m:
        return [([], ("proto", m.group(1)))]
    m = re.fullmatch(r"(\w+)\((?:func_id,prog|func_id|)\)", a)
    if m:
        return [([], ("call", m.group(1)))]
    m = re.fullmatch(r"\w+", a)
    if m:
        return [([], ("var", a))]
    die(f"{where}: return expression `{s}` is not understood")


class Exec:
    """Symbolic execution of one dispatcher for one helper id."""

    def __init__(self, name, param, helper, ids):
        self.name = name
        self.param = param
        self.helper = helper  # a BPF_FUNC_ name, or None for "any other id"
        self.ids = ids
        self.out = []  # (conj, action) in program order

    def run(self, stmts):
        self.block(stmts, [], {})

    def block(self, stmts, path, env):
        """Runs statements; returns the paths that fall off the end (or break)."""
        paths = [(path, env)]
        for st in stmts:
            nxt = []
            for p, e in paths:
                if e.get("__break"):
                    nxt.append((p, e))  # leaving the switch
                else:
                    nxt.extend(self.stmt(st, p, e))
            paths = nxt
            if not paths:
                break
        return paths

    def emit(self, path, actions):
        for g, act in actions:
            c = simplify(path + g)
            if c is not None:
                self.out.append((c, act))

    def stmt(self, st, path, env):
        kind = st[0]
        where = f"{self.name}({self.helper})"
        if kind == "block":
            return self.block(st[1], path, env)
        if kind == "return":
            acts = parse_ret_expr(st[1], where)
            resolved = []
            for g, act in acts:
                if act[0] == "var":
                    if act[1] not in env:
                        die(f"{where}: returns unassigned {act[1]}")
                    resolved.append((g, env[act[1]]))
                else:
                    resolved.append((g, act))
            self.emit(path, resolved)
            return []
        if kind == "break":
            return [(path, dict(env, __break=True))]
        if kind == "assign":
            a = "".join(st[2])
            if re.fullmatch(r"\w+\((func_id,prog|func_id|)\)|&\w+|NULL", a):
                acts = parse_ret_expr(st[2], where)
                return [(path, dict(env, **{st[1]: acts[0][1]}))]
            # Any other value (an allocation) cannot be returned as a
            # prototype; remember that it is opaque.
            return [(path, dict(env, **{st[1]: ("opaque", a)}))]
        if kind == "other":
            return [(path, env)]
        if kind == "if":
            cond = st[1]
            # `if (var) return var;` after `var = f(...)`: try f.
            dnf = Dnf.of(parse_cond(cond), where, env)
            out = []
            for conj in dnf:
                c = simplify(path + conj)
                if c is not None:
                    out.extend(self.stmt(st[2], c, env))
            for conj in Dnf.negate(dnf):
                c = simplify(path + conj)
                if c is None:
                    continue
                if st[3] is not None:
                    out.extend(self.stmt(st[3], c, env))
                else:
                    out.append((c, env))
            return out
        if kind == "switch":
            arms = st[2]
            if st[1].replace(" ", "") == "prog->expected_attach_type":
                return self.attach_switch(arms, path, env)
            if st[1] != self.param:
                die(f"{where}: switch on {st[1]}")
            start = None
            for k, (labels, _) in enumerate(arms):
                if self.helper is not None and f"BPF_FUNC_{self.helper}" in labels:
                    start = k
            if start is None:
                for k, (labels, _) in enumerate(arms):
                    if "default" in labels:
                        start = k
            if start is None:
                return [(path, env)]
            body = [s for _, stmts in arms[start:] for s in stmts]
            paths = []
            for p, e in self.block(body, path, env):
                e = dict(e)
                e.pop("__break", None)
                paths.append((p, e))
            return paths
        die(f"{where}: statement {kind}")


def _attach_switch(self, arms, path, env):
    """`switch (prog->expected_attach_type)`: one path per arm."""
    every = [l for labels, _ in arms for l in labels if l != "default"]
    out = []
    for k, (labels, _) in enumerate(arms):
        body = [s for _, stmts in arms[k:] for s in stmts]
        if "default" in labels:
            guards = [["!eat=" + l for l in every]]
        else:
            guards = []
        guards += [["eat=" + l] for l in labels if l != "default"]
        for g in guards:
            c = simplify(path + g)
            if c is None:
                continue
            for p, e in self.block(body, c, env):
                e = dict(e)
                e.pop("__break", None)
                out.append((p, e))
    if not any("default" in labels for labels, _ in arms):
        c = simplify(path + ["!eat=" + l for l in every])
        if c is not None:
            out.append((c, env))
    return out


Exec.attach_switch = _attach_switch


def case_ids(stmts, acc):
    for st in stmts:
        if st[0] == "switch":
            attach = st[1].replace(" ", "") == "prog->expected_attach_type"
            for labels, body in st[2]:
                if attach:
                    case_ids(body, acc)
                    continue
                for l in labels:
                    m = re.fullmatch(r"BPF_FUNC_(\w+)", l)
                    if m:
                        acc.add(m.group(1))
                    elif l != "default":
                        die(f"case label {l}")
                case_ids(body, acc)
        elif st[0] == "block":
            case_ids(st[1], acc)
        elif st[0] == "if":
            case_ids([st[2]], acc)
            if st[3] is not None:
                case_ids([st[3]], acc)


# ---------------------------------------------------------------- main --

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ksrc", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--config-label", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--source", required=True, help="what the kernel source is, for the header")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    cfg = Config(read_config(args.config))
    ids = helper_ids(args.ksrc)
    ptypes = prog_types(args.ksrc, cfg)
    enum_types = enum_type_tables(args.ksrc)
    aliases = type_aliases(args.ksrc)

    files = []
    for d in SCAN_DIRS:
        for root, dirs, names in os.walk(os.path.join(args.ksrc, d)):
            dirs.sort()
            for n in sorted(names):
                if n.endswith(".c"):
                    p = os.path.join(root, n)
                    with open(p, errors="replace") as f:
                        t = f.read()
                    if "bpf_func_proto" in t or "BTF_ID_LIST" in t:
                        files.append((os.path.relpath(p, args.ksrc), t))

    protos, dispatchers, vops, stops, btf_tables, sets = {}, {}, {}, {}, {}, {}
    for rel, raw in files:
        text = preprocess(raw, cfg, rel)
        starts = [0] + [m.end() for m in re.finditer("\n", text)]

        def line_of(off, starts=starts):
            lo, hi = 0, len(starts) - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if starts[mid] <= off:
                    lo = mid
                else:
                    hi = mid - 1
            return lo + 1

        btf_id_tables(text, btf_tables)
        btf_sets(text, sets)
        for m in PRED_RE.finditer(text):
            PREDICATES[m.group(1)] = m.group(2)
        if "bpf_func_proto" not in text:
            continue
        parse_protos(text, rel, protos, line_of)
        for m in DISPATCH_RE.finditer(text):
            name = m.group(1)
            end = match_brace(text, m.end() - 1)
            body = text[m.end():end - 1]
            try:
                stmts = parse_block(Tok(body + " }"))
            except SyntaxError as e:
                die(f"{rel}: {name}: {e}")
            if name in dispatchers:
                die(f"{rel}: dispatcher {name} defined twice")
            pm = re.search(r"enum\s+bpf_func_id\s+(\w+)", m.group(2))
            dispatchers[name] = (rel, pm.group(1) if pm else None, stmts)
        for m in re.finditer(r"struct\s+bpf_verifier_ops\s+(\w+)\s*=\s*\{", text):
            end = match_brace(text, m.end() - 1)
            fm = re.search(r"\.get_func_proto\s*=\s*(\w+)", text[m.end():end])
            vops[m.group(1)] = fm.group(1) if fm else None
        for m in re.finditer(r"struct\s+bpf_struct_ops\s+(\w+)\s*=\s*\{", text):
            end = match_brace(text, m.end() - 1)
            body = text[m.end():end]
            vm = re.search(r"\.verifier_ops\s*=\s*&(\w+)", body)
            nm = re.search(r"\.name\s*=\s*\"(\w+)\"", body)
            if vm and nm:
                stops[nm.group(1)] = vm.group(1)

    # Symbolic execution of every dispatcher, per helper id it names plus
    # one run for all other ids.
    dispatch_out = {}
    used_protos = {}
    for name in sorted(dispatchers):
        rel, param, stmts = dispatchers[name]
        named = set()
        case_ids(stmts, named)
        rows = {}
        for h in sorted(named, key=lambda n: ids.get(n, 10**6)):
            if h not in ids:
                die(f"{name}: unknown helper BPF_FUNC_{h}")
            ex = Exec(name, param, h, ids)
            ex.run(stmts)
            rows[ids[h]] = ex.out
        ex = Exec(name, param, None, ids)
        ex.run(stmts)
        rows["*"] = ex.out
        dispatch_out[name] = (rel, rows)
        for key, outs in rows.items():
            for _, act in outs:
                if act[0] == "proto":
                    if act[1] not in protos:
                        die(f"{name}: returns unknown prototype {act[1]}")
                    used_protos.setdefault(act[1], set()).add(key)
                    WHO.setdefault(act[1], set()).add(f"{name}:{key}")

    # Getters without a helper-id parameter (bpf_get_trace_printk_proto())
    # serve the helper id of the case that calls them.
    for name, (rel, rows) in sorted(dispatch_out.items()):
        for key, outs in rows.items():
            if key == "*":
                continue
            for conj, act in outs:
                if act[0] == "call" and dispatchers[act[1]][1] is None:
                    for _, a2 in dispatch_out[act[1]][1]["*"]:
                        if a2[0] == "proto":
                            used_protos[a2[1]].add(key)
                            used_protos[a2[1]].discard("*")
    # A dispatcher reached only through calls but never from a program type
    # still matters (they are shared); keep every one that is reachable.
    roots = set()
    for pt, ops in ptypes:
        f = vops.get(f"{ops}_verifier_ops")
        if f:
            roots.add(f)
    for st, v in stops.items():
        if vops.get(v):
            roots.add(vops[v])
    reach, todo = set(), sorted(roots)
    while todo:
        d = todo.pop()
        if d in reach:
            continue
        if d not in dispatch_out:
            die(f"dispatcher {d} not found")
        reach.add(d)
        for outs in dispatch_out[d][1].values():
            for _, act in outs:
                if act[0] in ("call", "try"):
                    todo.append(act[1])

    lines = []
    w = lines.append
    w(f"# bpfcheck helper profile data: Linux {args.name}")
    w(f"# source: {args.source}")
    w(f"# config: {args.config_label}")
    w("# generated by tools/gen-profile/gen_helpers.py; do not edit by hand")
    w("# format: crates/profile/src/helpers/data.rs")
    w(f"kernel {args.name}")
    w(f"max_id {max(ids.values()) + 1}")
    w("msg_unavailable " + ("program of this type cannot use helper" if
                             "program of this type cannot use helper" in
                             open(os.path.join(args.ksrc, "kernel/bpf/verifier.c")).read()
                             else "unknown func"))
    vtext = open(os.path.join(args.ksrc, "kernel/bpf/verifier.c")).read()
    # 6.10+: get_helper_proto() refuses a prototype without .func.
    w("requires_func " + ("yes" if re.search(r"\(\*ptr\)->func\s*\?", vtext) else "no"))
    w("# config options the sources consulted that are enabled")
    on = sorted(k for k, v in cfg.consulted.items() if v in ("y", "m"))
    for k in range(0, len(on), 8):
        w("config " + " ".join(on[k:k + 8]))

    def btf_name(v):
        v = v.lstrip("&").replace(" ", "")
        if v == "BPF_PTR_POISON":
            return "poison"
        if v in RUNTIME_BTF_IDS:
            return RUNTIME_BTF_IDS[v]
        m = re.fullmatch(r"(\w+)\[(\w+)\]", v)
        if m:
            t = enum_types.get((m.group(1), m.group(2)))
            if t:
                return t
            tab = btf_tables.get(m.group(1))
            if tab and m.group(2).isdigit() and int(m.group(2)) < len(tab):
                return tab[int(m.group(2))]
        tab = btf_tables.get(v)
        if tab:
            return tab[0]
        m = re.fullmatch(r"(\w+)\[0\]", v)
        if m and btf_tables.get(m.group(1)):
            return btf_tables[m.group(1)][0]
        return None

    w("# proto SYMBOL ID file:line then key=value fields")
    proto_names = sorted(used_protos, key=lambda p: (min(k for k in used_protos[p] if k != "*") if any(k != "*" for k in used_protos[p]) else 10**6, p))
    for p in proto_names:
        f = protos[p]["fields"]
        keys = [k for k in used_protos[p] if k != "*"]
        if len(set(keys)) != 1:
            die(f"prototype {p} is returned for several helper ids {keys}: {sorted(WHO[p])}")
        hid = keys[0]
        parts = [f"proto {p} {hid} {protos[p]['at']}"]
        if "func" not in f or f["func"] in ("NULL",):
            parts.append("nofunc")
        for flag in ("gpl_only", "pkt_access", "might_sleep", "allow_fastcall"):
            if f.get(flag) == "true":
                parts.append(flag)
            elif f.get(flag) not in (None, "false"):
                die(f"{p}: {flag} = {f[flag]}")
        parts.append("ret=" + expand_type(f.get("ret_type", "RET_INTEGER"), aliases, p))
        for k in range(1, 6):
            a = f.get(f"arg{k}_type")
            if a:
                parts.append(f"a{k}=" + expand_type(a, aliases, p))
        for k in range(1, 6):
            for key in (f"arg{k}_btf_id",):
                if key in f:
                    t = btf_name(f[key])
                    if t is None:
                        die(f"{p}: cannot name BTF type of {key} = {f[key]}")
                    parts.append(f"b{k}=" + t.replace(" ", ":"))
            if f"arg{k}_size" in f:
                sz = f[f"arg{k}_size"].replace(" ", "")
                if sz not in SIZES:
                    die(f"{p}: size {sz} unknown; add it to SIZES")
                parts.append(f"s{k}={SIZES[sz]}")
        if "arg_btf_id" in f:
            die(f"{p}: arg_btf_id array form")
        if "ret_btf_id" in f:
            t = btf_name(f["ret_btf_id"])
            if t is None:
                die(f"{p}: cannot name BTF type of ret_btf_id = {f['ret_btf_id']}")
            parts.append("rb=" + t.replace(" ", ":"))
        if "allowed" in f:
            parts.append("allowed=" + f["allowed"].lstrip("&"))
        for k in sorted(f):
            if k not in ("func", "gpl_only", "pkt_access", "might_sleep", "allow_fastcall", "ret_type",
                         "ret_btf_id", "allowed") and not re.fullmatch(r"arg\d_(type|btf_id|size)", k):
                die(f"{p}: unknown field .{k}")
        w(" ".join(parts))

    w("# progtype PROG_TYPE VERIFIER_OPS DISPATCHER|-")
    for pt, ops in ptypes:
        f = vops.get(f"{ops}_verifier_ops")
        w(f"progtype {pt} {ops}_verifier_ops {f or '-'}")
    w("# struct_ops NAME DISPATCHER")
    for st in sorted(stops):
        f = vops.get(stops[st])
        if f:
            w(f"struct_ops {st} {f}")
    w("# btfset NAME FUNC...: attach targets of a `target@NAME` guard")
    used_sets = sorted({l.split("@", 1)[1].lstrip("!") for d in reach for outs in dispatch_out[d][1].values()
                        for conj, _ in outs for l in conj if "target@" in l})
    for st in used_sets:
        if st not in sets:
            die(f"BTF set {st} not found")
        w(f"btfset {st} " + " ".join(sets[st]))
    w("# dispatch NAME file, then: ID|* ALT;ALT... with ALT = [GUARD&GUARD]TARGET,")
    w("# TARGET = proto symbol | - (NULL) | >dispatcher (its answer) | ?dispatcher (its answer unless NULL, else go on)")
    for d in sorted(reach):
        rel, rows = dispatch_out[d]
        w(f"dispatch {d} {rel}")
        for key in sorted(rows, key=lambda k: -1 if k == "*" else k):
            alts = []
            tried = []  # (guard, g) of earlier `?g` entries
            for conj, act in rows[key]:
                # `!ok:g` is implied when an earlier `[G]?g` has G within
                # this guard: had g answered, that entry would have matched.
                conj = [l for l in conj if not (l.startswith("!ok:") and any(
                    g == l[4:] and all(x in conj for x in gg) for gg, g in tried))]
                # `[G&ok:g]>g` is written `[G]?g`.
                tgt = {"proto": lambda a: a[1], "null": lambda a: "-",
                       "call": lambda a: ">" + a[1]}[act[0]](act)
                if act[0] == "call" and "ok:" + act[1] in conj:
                    tgt = "?" + act[1]
                    conj = [l for l in conj if l != "ok:" + act[1]]
                    tried.append((conj, act[1]))
                g = "&".join(conj)
                alts.append((f"[{g}]" if g else "") + tgt)
            # Falling off the end of the list is NULL: trailing NULLs go.
            while alts and alts[-1].endswith("]-"):
                alts.pop()
            if not alts:
                alts = ["-"]
            w(f"  {key} " + ";".join(alts))
    data = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(data)
    sys.stderr.write(
        f"gen_helpers: {args.name}: {len(used_protos)} prototypes, {len(reach)} dispatchers, "
        f"{len(ptypes)} program types, {len(stops)} struct_ops, {len(data)} bytes\n")


if __name__ == "__main__":
    main()
