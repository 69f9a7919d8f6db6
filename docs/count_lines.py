"""Lines of the notebooks' library, the command line and the generated modules: all lines, and code only (without
blank lines, comments and docstrings). Run from the repository root: ``python docs/count_lines.py``."""

import ast
from pathlib import Path

UTILS = Path(__file__).resolve().parent.parent / "utils"
GENERATED = {"cnn.py", "transfer.py"}

def counts(path) -> tuple[int, int]:
    """(all lines, code lines) of one Python file."""
    text = Path(path).read_text(encoding="utf-8")
    lines = text.splitlines()
    doc = set()
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                doc.update(range(body[0].lineno, body[0].end_lineno + 1))
    code = 0
    for i, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#") or i in doc:
            continue
        code += 1
    return len(lines), code



def report(name, paths):
    lines = code = 0
    for path in paths:
        a, c = counts(path)
        lines, code = lines + a, code + c
    print(f"{name:<45} {lines:>6} lines, {code:>6} of them code")


report("the notebooks' library (utils/, not generated)",
       [p for p in sorted(UTILS.glob("*.py")) if p.name not in GENERATED and p.name != "__main__.py"])
report("the command line (utils/cli/, utils/__main__.py)",
       [*sorted((UTILS / "cli").glob("*.py")), UTILS / "__main__.py"])
report("generated from notebooks 02 and 04", [UTILS / name for name in sorted(GENERATED)])
