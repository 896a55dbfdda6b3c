"""The README's Python example runs as written (from a scratch folder, so its run folder lands there)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python_block(section: str) -> str:
    text = (ROOT / "README.md").read_text()
    part = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", part, flags=re.S)
    assert blocks, f"no python block under '## {section}'"
    return blocks[0]


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "data_samples").is_dir(), reason="needs data_samples/")
def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    code = _python_block("Using the library")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)   # noqa: S102 - the README's own example
    out = capsys.readouterr().out
    assert "scheme megc2019:" in out and "hsta-tiny-synthme" in out
    result = namespace["result"]
    assert result.complete and result.metrics["n_samples"] == len(namespace["index"])
    assert (tmp_path / "runs" / "demo" / "metrics.json").is_file()
    assert namespace["info"]["prep"] == namespace["data"].prep_cfg
