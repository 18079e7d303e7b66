"""The documentation cannot drift: generated parts match the code, links resolve, the README stays a front door,
and measured figures live only in docs/ (docs/measurements.md), where each has a date and the command behind it."""
import ast
import glob
import importlib.util
import io
import os
import re
import tokenize

import pytest
from test_timm_family import BIG

from mindcv_resnetv2.models import list_models
from mindcv_resnetv2.models.summary import model_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("update_readme", os.path.join(ROOT, "scripts", "update_readme.py"))
docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs)

README_MAX_LINES = 350


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _rows(text, block):
    return [line for line in docs.block_pattern(block).search(text).group(2).splitlines() if line.startswith("| ")]


def _without_gflops(row):
    """A model-table row without its last column (GFLOPs), up to and including the separator before it."""
    return row[:row.rstrip(" |").rindex("| ")]


def test_every_generated_part_has_its_block_in_its_file():
    for name, path in docs.FILES.items():
        text = _read(path)
        assert f"<!-- generated: {name} -->\n" in text and f"<!-- end generated: {name} -->" in text, path


def test_configuration_keys_are_current():
    text = docs.read("keys")
    assert docs.render(text, ["keys"]) == text, "run: python scripts/update_readme.py"


def test_readmes_short_model_table_is_current():
    """The README's rows, one model per family, as `python -m mindcv_resnetv2.models` prints them, without the
    GFLOPs (a forward pass each); the slow test below checks the same counting for every model."""
    rows = _rows(docs.read("models_short"), "models_short")
    assert [row.split(" | ")[0][2:] for row in rows] == ["model"] + list(docs.SHORT_MODELS), \
        "run: python scripts/update_readme.py"
    expected = docs.short_table(flops=False).splitlines()
    assert [_without_gflops(row) for row in rows[1:]] == [_without_gflops(row) for row in expected[2:]], \
        "run: python scripts/update_readme.py"


@pytest.mark.slow
def test_readmes_short_model_table_gflops_are_current():
    text = docs.read("models_short")
    assert docs.render(text, ["models_short"]) == text, "run: python scripts/update_readme.py"


@pytest.mark.slow
def test_full_model_table_is_current():
    """Every row of docs/models.md as `python -m mindcv_resnetv2.models` prints it. The four widest BiT nets are
    compared without their GFLOPs (40 s of forward passes here); the same counting gives the GFLOPs of their
    narrower siblings."""
    rows = _rows(docs.read("models"), "models")
    assert [row.split(" | ")[0][2:] for row in rows] == ["model"] + list_models(), \
        "run: python scripts/update_readme.py"
    for row, name in zip(rows[1:], list_models()):
        expected = model_table(name, flops=name not in BIG).splitlines()[-1]
        if name in BIG:
            row = _without_gflops(row) + "| - |"
        assert row == expected, "run: python scripts/update_readme.py"


def test_a_missing_block_is_an_error():
    with pytest.raises(ValueError, match="generated: keys"):
        docs.render("no markers here", ["keys"])


def test_the_readme_is_at_most_350_lines():
    lines = _read(os.path.join(ROOT, "README.md")).count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move detail to docs/"


# ---- links ----

_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^\s*```")


def _outside_code(text):
    """The text's lines outside fenced code blocks, with inline code removed."""
    kept, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            kept.append(re.sub(r"`[^`]*`", "", line))
    return kept


def anchors(text):
    """GitHub's heading anchors of a markdown text (lower case, punctuation dropped, spaces as hyphens) and the
    explicit `<a id="...">` ones."""
    found = set(re.findall(r'<a id="([^"]+)"', text))
    for line in _outside_code(text.replace("`", "")):
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            found.add(re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-"))
    return found


def broken_links(path):
    """Relative links of a markdown file whose target file, or #anchor in it, does not exist."""
    text, broken = _read(path), []
    for line in _outside_code(text):
        for target in _LINK.findall(line):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not os.path.exists(resolved):
                broken.append(target)
            elif anchor and resolved.endswith(".md") and anchor not in anchors(_read(resolved)):
                broken.append(target)
    return broken


def _markdown_files():
    return [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "configs", "resnetv2", "README.md")] + \
        sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: os.path.relpath(p, ROOT))
def test_relative_links_resolve(path):
    assert broken_links(path) == []


def test_a_broken_link_or_anchor_is_found(tmp_path):
    (tmp_path / "other.md").write_text("# A heading: with `code`\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#a-heading-with-code) [gone](missing.md) [bad](other.md#nope)\n"
                    "```\n[in code](ignored.md)\n```\n[self](#title)\n# Title\n")
    assert broken_links(str(page)) == ["missing.md", "other.md#nope"]


# ---- measured figures ----

FIGURE = re.compile(r"\d+(?:\.\d+)? ?(?:img/s|images/s|ms/step|s/step)\b|\d+(?:\.\d+)?% top-[15]\b", re.I)


def python_prose(path):
    """(line, text) of every docstring and comment of a Python file."""
    source = _read(path)
    prose = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and \
                    isinstance(first.value.value, str):
                prose.append((first.lineno, first.value.value))
    prose += [(tok.start[0], tok.string) for tok in tokenize.generate_tokens(io.StringIO(source).readline)
              if tok.type == tokenize.COMMENT]
    return prose


def figures_in(path):
    """'path:line: figure' for every measured figure in a file's prose (Python: docstrings and comments)."""
    if path.endswith(".py"):
        prose = python_prose(path)
    else:
        prose = list(enumerate(_read(path).splitlines(), 1))
    rel = os.path.relpath(path, ROOT)
    return [f"{rel}:{line + text[:match.start()].count(chr(10))}: {match.group(0)}"
            for line, text in prose for match in FIGURE.finditer(text)]


def _scanned_files():
    return sorted(glob.glob(os.path.join(ROOT, "mindcv_resnetv2", "**", "*.py"), recursive=True)) + \
        sorted(glob.glob(os.path.join(ROOT, "configs", "**", "*.yaml"), recursive=True)) + \
        [os.path.join(ROOT, "README.md")]


def test_measured_figures_live_in_docs_only():
    """Throughput and accuracy figures belong in docs/measurements.md (dated, with their command), not in code
    comments, recipes or the README, where they go stale unseen."""
    found = [hit for path in _scanned_files() for hit in figures_in(path)]
    assert found == [], "move these to docs/measurements.md and link there:\n" + "\n".join(found)


def measurement_sections(text):
    """{heading: body} of the `## ` sections of docs/measurements.md."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def undated_measurements(text):
    """Headings of the sections that lack a date, the machine, the MindSpore version or the command."""
    return [heading for heading, body in measurement_sections(text).items()
            if not re.match(r"\d{4}-\d{2}-\d{2}: ", heading) or "\n- Machine" not in body
            or "\n- Command" not in body or not re.search(r"MindSpore \d+\.\d+", body)]


def test_every_measurement_says_when_where_with_what_and_how_to_rerun_it():
    text = _read(os.path.join(ROOT, "docs", "measurements.md"))
    assert len(measurement_sections(text)) > 10
    assert undated_measurements(text) == []


def test_an_undated_measurement_is_found():
    text = ("## 2026-12-04: good\n\n- Machine: 2-core VM, MindSpore 2.8.0\n- Command: `x`\n\n"
            "## someday: no date\n\n- Machine: MindSpore 2.8.0\n- Command: `x`\n\n"
            "## 2026-12-04: no command\n\n- Machine: MindSpore 2.8.0\n")
    assert undated_measurements(text) == ["someday: no date", "2026-12-04: no command"]


def test_the_figure_scan_finds_figures_in_docstrings_comments_and_text(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('"""Fast.\n\nMeasured 406.9 img/s."""\nx = "12 ms/step"  # 91.05% top-1 here\n\n\n'
                      'def f():\n    """3.2 s/step."""\n')
    recipe = tmp_path / "r.yaml"
    recipe.write_text("# trains at 250 images/s\nlr: 0.1\n")
    assert [hit.split(": ", 1)[1] for hit in figures_in(str(module))] == ["406.9 img/s", "3.2 s/step", "91.05% top-1"]
    assert [hit.split(": ", 1)[1] for hit in figures_in(str(recipe))] == ["250 images/s"]
    assert figures_in(str(module))[0].endswith(":3: 406.9 img/s")
