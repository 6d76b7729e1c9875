"""The wheel, built as Yocto builds it: without build isolation, from pyproject.toml alone.

An editable install (what the rest of the suite runs) reads the checkout, so a package-data
glob that misses a file or a data-files entry that misses a model would pass unnoticed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.host, pytest.mark.slow]  # needs the checkout and a compiler


def _checkout_copy(dest: Path) -> Path:
    """The checkout without what .gitignore names (environments, caches, build output), so
    that nothing built here lands in the checkout. By name: every pattern there is one."""
    patterns = [
        line.rstrip("/").rsplit("/", 1)[-1]
        for line in (ROOT / ".gitignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(".git", *patterns))
    return dest


def _pip(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _summary(command: list[str], cwd: Path, **env: str) -> dict[str, object]:
    """`fedwear run` on the embedded default; its JSON summary line."""
    result = subprocess.run(
        [*command, "run", "--quiet", "--event-log", "ev.jsonl"],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_wheel_holds_everything_fedwear_run_needs(tmp_path: Path) -> None:
    source = _checkout_copy(tmp_path / "src")
    dist = tmp_path / "dist"
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", str(source), "-w", str(dist))
    (wheel,) = dist.glob("fedwear-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert any(n.startswith("fedwear/_native") and n.endswith(".so") for n in names)
    assert {"fedwear/py.typed", "fedwear/data/wrist_walk_excerpt.edf"} <= names
    shipped = {p.name for p in (ROOT / "models").iterdir() if p.suffix in (".tflite", ".json")}
    data = "fedwear-0.1.0.data/data/share/fedwear/models/"
    assert {data + name for name in shipped} <= names

    # Into a new environment of its own: installed here, it would replace the editable
    # install. The dependencies (numpy, the TFLite runtime) come from this environment.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    _pip("--python", str(venv / "bin" / "python"), "install", "--no-deps", "--no-index", str(wheel))
    deps = sysconfig.get_paths()["purelib"]
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import fedwear.native as n; print(n.__file__)"],
        env={"PYTHONPATH": deps},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), where
    # The console script as a user runs it, finding the models where pip put them
    # (<prefix>/share/fedwear/models); the same job from the checkout, for comparison.
    installed = _summary([str(venv / "bin" / "fedwear")], tmp_path, PYTHONPATH=deps)
    checkout = _summary([sys.executable, "-m", "fedwear.cli"], tmp_path)
    assert installed["samples"] == checkout["samples"] and installed["samples"]
    assert installed["events_by_detector"] == checkout["events_by_detector"]
