"""The key table is the one source: igor.conf.example, the README table and Config's defaults follow it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from igor_tui.config import Config, parse_config
from igor_tui.config.docs import README_END, README_START, render_example, render_readme_table
from igor_tui.config.keys import BY_NAME, KEYS, Key
from igor_tui.values import field_names

ROOT = Path(__file__).resolve().parent.parent
_PYTHON_TYPES = {"str": str, "path": str, "int": int, "bool": bool}


def test_example_is_written_from_the_key_table() -> None:
    assert (ROOT / "igor.conf.example").read_text(encoding="utf-8") == render_example(), (
        "igor.conf.example is out of date: run .venv/bin/python scripts/config_docs.py"
    )


def test_readme_table_is_written_from_the_key_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = readme.index(README_START), readme.index(README_END) + len(README_END)
    assert readme[start:end] == render_readme_table(), (
        "README.md's configuration table is out of date: run .venv/bin/python scripts/config_docs.py"
    )


def test_readme_table_and_example_name_every_documented_key() -> None:
    table = render_readme_table()
    example = json.loads(render_example())
    for key in KEYS:
        assert f"| `{key.name}` |" in table, key.name
        if key.doc:
            assert example[f"#{key.name}"] == key.doc and key.name in example, key.name
    assert [key.name for key in KEYS if not key.doc] == ["advanced"]


def test_the_check_fails_when_a_document_is_stale(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "config_docs.py"
    ok = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    copy = tmp_path / "scripts"
    copy.mkdir()
    (copy / "config_docs.py").write_text(script.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "igor.conf.example").write_text(render_example().replace("kn", "xx", 1), encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (tmp_path / "README.md").write_text(readme, encoding="utf-8")
    stale = subprocess.run(
        [sys.executable, str(copy / "config_docs.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert stale.returncode == 1
    assert stale.stderr.strip() == "config_docs: igor.conf.example is out of date; run scripts/config_docs.py"


@pytest.mark.parametrize("key", KEYS, ids=lambda key: key.name)
def test_every_key_has_a_section_field_and_a_default_of_its_kind(key: Key) -> None:
    if key.kind in _PYTHON_TYPES:
        assert type(key.default) is _PYTHON_TYPES[key.kind], key.name
        assert getattr(Config(), key.name) == key.default, (
            key.name
        )  # the section's field default is the table's
    if key.low is not None:
        assert key.kind == "int" and key.low <= key.default, key.name
        assert key.high is None or key.default <= key.high, key.name
    assert key.name in field_names(Config) or key.name == "advanced", key.name


def test_the_example_and_the_defaults_are_valid() -> None:
    config = parse_config(json.loads(render_example()))
    assert config.tftproot == "/srv/tftp"
    assert parse_config({"tftproot": "/srv/tftp"}).powertimeout == BY_NAME["powertimeout"].default
