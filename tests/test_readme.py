"""The README's Python tour runs as written (with the validation run scaled down)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
SCALE_DOWN = {  # README text -> the same call, small enough for the default test run
    "widths=[32, 128], ensemble=8": "widths=[8, 16], ensemble=2",
    "steps=4000, burn_in=1000": "steps=200, burn_in=50",
    'out_dir="out/val"': "out_dir=OUT, progress=False",
}


def test_readme_python_tour_runs(tmp_path, capsys):
    code = "\n".join(re.findall(r"```python\n(.*?)```", README.read_text(), re.S))
    for text, small in SCALE_DOWN.items():
        assert text in code, f"README no longer contains {text!r}: update tests/test_readme.py"
        code = code.replace(text, small)
    exec(compile(code, str(README), "exec"), {"OUT": str(tmp_path / "val"), "__name__": "readme"})  # the README's own code (safe: our file)
    assert (tmp_path / "val" / "report.md").exists()
