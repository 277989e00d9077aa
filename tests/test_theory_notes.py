"""Every ``docs/theory/<note>.md`` the code, tests and READMEs cite exists, and the notes' links resolve."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT / "docs" / "theory"
#: notes maintained with another part of the package, which may be merged separately
ELSEWHERE = {"layers.md"}


def _cited():
    files = [*ROOT.glob("mftsym/**/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("*.md"),
             *ROOT.glob("*/README.md"), *ROOT.glob("*/*/README.md")]
    out = {}
    for f in files:
        for name in re.findall(r"docs/theory/([A-Za-z0-9_]+\.md)", f.read_text(errors="replace")):
            out.setdefault(name, f.relative_to(ROOT))
    return out


def test_cited_notes_exist():
    cited = _cited()
    assert {"README.md", "nngp_ntk.md", "nnft.md", "adaptive_kernel.md"} <= set(cited)
    missing = {n: str(f) for n, f in cited.items() if not (NOTES / n).exists() and n not in ELSEWHERE}
    assert not missing, f"cited but not written: {missing}"


def test_links_between_notes_resolve():
    for note in NOTES.glob("*.md"):
        for target in re.findall(r"\]\(([A-Za-z0-9_]+\.md)(?:#[a-z0-9-]+)?\)", note.read_text()):
            assert (NOTES / target).exists() or target in ELSEWHERE, f"{note.name} links to missing {target}"


def test_no_reference_to_the_old_theory_file():
    for f in [*ROOT.glob("mftsym/**/*.py"), *ROOT.glob("tests/**/*.py")]:
        if f.name != "test_theory_notes.py":
            assert "THEORY.md" not in f.read_text(), f"{f} cites THEORY.md; cite docs/theory/<note>.md"
