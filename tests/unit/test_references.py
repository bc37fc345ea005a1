"""Every reference in the repository resolves inside it: the docs and sections that code and READMEs cite, the
predecessor bug ids they name, the test files comments point at, the package data pyproject.toml ships, and no
citation of a specification kept outside the repository. Pure: reads the tracked files (git ls-files)."""

from __future__ import annotations

import re
import subprocess
import tomllib
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
RULES = ROOT / "docs" / "business-rules.md"
SKIPPED = (re.compile(r"^tests/histories/.*\.json$"), re.compile(r"^tests/fixtures/"))

# Specifications outside the repository (built from parts so this file does not cite them itself).
EXTERNAL = re.compile("|".join(re.escape(s) for s in ("domain" + ".md", ".." + "/shared", "shared" + "/docs")))
EXTERNAL_PATH = re.compile(r"(?<![\w.-])(?:\.\./)*shared/(?:docs|fixtures)\b")
DOCS_PATH = re.compile(r"(?<![\w./-])docs/(?:[\w.-]+/)*[\w-][\w.-]*\.(?:md|txt|png|svg)(?:#[\w-]+)?")
SECTION = re.compile(r"§\s*(\d+)")
TEST_PATH = re.compile(r"(?<![\w./-])tests/(?:[\w-]+/)*[\w-]+\.py\b")
ISSUE = re.compile(r"\b[Ii]ssue\s+#?\d+")
# Predecessor bug ids as the code writes them: "bug B16", "bugs B1/B2/B13", "(B15)", "(B15 …", "… B15)".
# A B followed by digits inside an IBAN, a BIC or hex (INGB0001234567, 0xB12) is not one: it never stands alone.
BUG_PHRASE = re.compile(r"\bbugs?\s+(B\d{1,2}(?:\s*(?:/|,|and)\s*B\d{1,2})*)\b", re.IGNORECASE)
BUG_PARENS = re.compile(r"(?:\(B(\d{1,2})(?![\w-]))|(?:(?<![\w-])B(\d{1,2})\))")
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")


@cache
def tracked() -> tuple[str, ...]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
        ).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        pytest.skip("needs a git checkout (git ls-files)")
    return tuple(p for p in out.split("\0") if p and not any(s.search(p) for s in SKIPPED))


@cache
def text_of(path: str) -> str | None:
    """The file's text, or None for a binary (or missing: a deletion not staged yet) file."""
    try:
        data = (ROOT / path).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def lines() -> list[tuple[str, int, str]]:
    found = []
    for path in tracked():
        text = text_of(path)
        if text is not None:
            found += [(path, n, line) for n, line in enumerate(text.splitlines(), 1)]
    return found


def slug(heading: str) -> str:
    """The anchor a Markdown renderer (GitHub's rules) gives a heading."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    text = path.read_text()
    ids = set(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", text))
    ids |= {slug(h) for h in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.MULTILINE)}
    return frozenset(ids)


@cache
def sections() -> frozenset[int]:
    return frozenset(int(n) for n in re.findall(r"^##\s+§(\d+)\b", RULES.read_text(), re.MULTILINE))


@cache
def listed_bugs() -> frozenset[str]:
    """Bug ids named in the headings of business-rules.md's "Mistakes of the predecessor system"."""
    text = RULES.read_text()
    start = text.index("## Mistakes of the predecessor system")
    end = text.find("\n## ", start + 1)
    part = text[start : end if end != -1 else len(text)]
    return frozenset(re.findall(r"\bB\d{1,2}\b", "\n".join(re.findall(r"^###.*$", part, re.MULTILINE))))


def cited_bugs(line: str) -> list[str]:
    ids = [b for m in BUG_PHRASE.finditer(line) for b in re.findall(r"B\d{1,2}", m.group(1))]
    ids += [f"B{a or b}" for a, b in BUG_PARENS.findall(line)]
    return list(dict.fromkeys(ids))


def test_the_rules_have_their_sections_and_list_predecessor_bugs() -> None:
    assert sections() >= set(range(1, 9)), sorted(sections())
    assert listed_bugs(), "business-rules.md lists no predecessor bug under its headings"


def test_nothing_cites_a_specification_outside_the_repository() -> None:
    bad = [
        f"{path}:{n}: {line.strip()}"
        for path, n, line in lines()
        if EXTERNAL.search(line) or EXTERNAL_PATH.search(line)
    ]
    assert bad == []


def test_cited_docs_exist_with_their_anchors() -> None:
    bad = []
    for path, n, line in lines():
        for ref in DOCS_PATH.findall(line):
            file, _, anchor = ref.partition("#")
            target = ROOT / file
            if not target.is_file():
                bad.append(f"{path}:{n}: {ref} does not exist")
            elif anchor and anchor not in anchors(target):
                bad.append(f"{path}:{n}: {ref} has no anchor #{anchor}")
    assert bad == []


def test_relative_markdown_links_resolve() -> None:
    bad = []
    for path, n, line in lines():
        if not path.endswith(".md"):
            continue
        for link in MD_LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", link):  # http:, https:, mailto:
                continue
            file, _, anchor = link.partition("#")
            target = (ROOT / path).parent / file if file else ROOT / path
            if not target.exists():
                bad.append(f"{path}:{n}: link {link} does not resolve")
            elif anchor and target.is_file() and anchor not in anchors(target):
                bad.append(f"{path}:{n}: link {link} has no anchor #{anchor}")
    assert bad == []


def test_every_section_sign_names_a_section_of_the_business_rules() -> None:
    bad = [
        f"{path}:{n}: §{number} is not a section of docs/business-rules.md"
        for path, n, line in lines()
        for number in SECTION.findall(line)
        if int(number) not in sections()
    ]
    assert bad == []


def test_every_predecessor_bug_id_is_listed_in_the_business_rules() -> None:
    bad = [
        f"{path}:{n}: {bug} is not listed under 'Mistakes of the predecessor system' in docs/business-rules.md"
        for path, n, line in lines()
        for bug in cited_bugs(line)
        if bug not in listed_bugs()
    ]
    assert bad == []


def test_cited_test_files_exist() -> None:
    bad = [
        f"{path}:{n}: {ref} does not exist"
        for path, n, line in lines()
        for ref in TEST_PATH.findall(line)
        if not (ROOT / ref).is_file()
    ]
    assert bad == []


def test_no_reference_to_an_issue_number() -> None:
    """Issue numbers live in a tracker a reader of the code may not have: say what is meant instead."""
    bad = [f"{path}:{n}: {line.strip()}" for path, n, line in lines() if ISSUE.search(line)]
    assert bad == []


def test_package_data_exists() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_data = config.get("tool", {}).get("setuptools", {}).get("package-data", {})
    bad = [
        f"{package}: {pattern} matches no file"
        for package, patterns in package_data.items()
        for pattern in patterns
        if not any((ROOT / package.replace(".", "/")).glob(pattern))
    ]
    assert bad == []


@pytest.mark.parametrize(
    ("line", "ids"),
    [
        ("# After the commit, never before (bug B16).", ["B16"]),
        ("so the last writer wins (bugs B1/B2/B13).", ["B1", "B2", "B13"]),
        ("assert x is None  # not daily (B15)", ["B15"]),
        ('"iban": "NL20INGB0001234567", "bic": "INGBNL2A"', []),
        ("run id 0xB12 and ABB12) and (B123", []),
    ],
)
def test_bug_ids_are_told_apart_from_bank_identifiers_and_hex(line: str, ids: list[str]) -> None:
    assert cited_bugs(line) == ids
