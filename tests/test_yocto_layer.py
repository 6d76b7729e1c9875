"""The Yocto layer agrees with the project: dependencies, installed files, the unit, licenses.

No bitbake can run here (no network to fetch, hours of build), so these checks read the
recipes as text; oelint-adv (tools/test) lints them, and a real bitbake parse happens
elsewhere.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

import pytest

from fedwear.config import load_config

pytestmark = pytest.mark.host  # reads the checkout (layer, unit), not the install

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "yocto-layer" / "meta-fedwear"
RECIPE = LAYER / "recipes-python" / "python3-fedwear" / "python3-fedwear_0.1.0.bb"
UNIT = ROOT / "systemd" / "fedwear.service"
MODELS_RECIPE = LAYER / "recipes-core" / "fedwear-models" / "fedwear-models_0.1.0.bb"

# PyPI name -> the recipe that provides it (oe-core / meta-python spellings, or ours).
UPSTREAM = {
    "numpy": "python3-numpy",
    "cffi": "python3-cffi",
    "pyserial": "python3-pyserial",
    "msgpack": "python3-msgpack",
    "bleak": "python3-bleak",
    "dbus-fast": "python3-dbus-fast",
    "bumble": "python3-bumble",
    "cryptography": "python3-cryptography",
}
PROVIDED_UPSTREAM = set(UPSTREAM.values()) | {"python3-tensorflow-lite"}


def recipes() -> list[Path]:
    return sorted([*LAYER.rglob("*.bb"), *LAYER.rglob("*.bbappend")])


def variable(text: str, name: str) -> str:
    """The value of ``name = "..."`` / ``+=`` (all assignments joined), continuation lines too."""
    values = re.findall(
        rf'^{re.escape(name)}\s*[+:.]?=\s*"((?:[^"\\]|\\.|\\\n)*)"', text, flags=re.MULTILINE
    )
    return " ".join(v.replace("\\\n", " ") for v in values)


def pypi_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def test_every_runtime_dependency_has_an_rdepends_entry() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    rdepends = set(variable(RECIPE.read_text(), "RDEPENDS:${PN}").split())
    ours = {p.name.split("_")[0] for p in LAYER.rglob("*.bb")}
    tflite_append = next(LAYER.rglob("python3-fedwear_%.bbappend"))
    tflite = variable(tflite_append.read_text(), "RDEPENDS:${PN}").split()
    for req in project["dependencies"]:
        name = pypi_name(req)
        if name == "ai-edge-litert":  # on the device: tflite_runtime, from meta-tensorflow-lite
            assert tflite == ["python3-tensorflow-lite"]
            continue
        recipe = UPSTREAM.get(name, f"python3-{name}")
        assert recipe in rdepends, f"{name} from pyproject.toml is not in RDEPENDS"
        assert recipe in PROVIDED_UPSTREAM or recipe in ours, f"no recipe provides {recipe}"


def test_every_build_requirement_is_a_native_dependency() -> None:
    """bitbake builds the wheel without isolation: what [build-system] asks for must come
    as -native recipes (setuptools with the python_setuptools_build_meta class)."""
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    text = RECIPE.read_text()
    depends = set(variable(text, "DEPENDS").split())
    inherited = re.search(r"^inherit (.*)$", text, flags=re.MULTILINE)
    from_class = (
        {"setuptools"} if inherited and "python_setuptools_build_meta" in inherited[1] else set()
    )
    for requirement in build:
        name = pypi_name(requirement)
        assert name in from_class or f"python3-{name}-native" in depends, requirement


def test_rdepends_are_all_provided() -> None:
    ours = {p.name.split("_")[0] for p in LAYER.rglob("*.bb")}
    for path in recipes():
        for dep in variable(path.read_text(), "RDEPENDS:${PN}").split():
            assert dep in ours or dep in PROVIDED_UPSTREAM, f"{path.name}: nothing provides {dep}"


def test_local_files_exist_and_nothing_floats() -> None:
    for path in recipes():
        text = path.read_text()
        for name in re.findall(r"file://([^;\s\"]+)", variable(text, "SRC_URI")):
            candidates = [path.parent / d / name for d in ("files", path.stem.split("_")[0])]
            assert any(c.exists() for c in candidates), f"{path.name}: file://{name} is missing"
        assert "AUTOREV" not in text, f"{path.name} uses AUTOREV"
        for fetcher in ("wget ", "curl ", "git clone", "pip install"):
            assert fetcher not in text, f"{path.name}: '{fetcher.strip()}' needs the network"
        if "git://" in variable(text, "SRC_URI"):
            assert re.search(r'^SRCREV\s*=\s*"[0-9a-f]{40}"', text, re.MULTILINE), path.name


def test_installed_files_are_where_the_unit_expects_them() -> None:
    text = RECIPE.read_text()
    installs = dict(re.findall(r"install -m \d+ \$\{S\}/(\S+) \$\{D\}(\S+)", text))
    assert installs["systemd/fedwear.service"] == "${systemd_system_unitdir}/fedwear.service"
    config = installs["systemd/fedwear.toml"].replace("${sysconfdir}", "/etc")
    exec_start = re.search(r"^ExecStart=(.*)$", UNIT.read_text(), re.MULTILINE)
    assert exec_start and f"--config {config}" in exec_start.group(1)
    for source in installs:
        assert (ROOT / source).is_file(), f"the recipe installs {source}, which is missing"
    assert "fedwear.service" in variable(text, "SYSTEMD_SERVICE:${PN}")
    assert re.search(r"--user-group .*fedwear\"?$", variable(text, "USERADD_PARAM:${PN}"))
    assert "User=fedwear" in UNIT.read_text()


def test_models_recipe_ships_every_model_where_the_runtime_looks() -> None:
    text = MODELS_RECIPE.read_text()
    m = re.search(r"install -m 0644 ((?:\$\{S\}/models/\S+ )+)\$\{D\}(\S+)/$", text, re.M)
    assert m, "fedwear-models has no install line for models/"
    patterns = [g.removeprefix("${S}/models/") for g in m.group(1).split()]
    installed = {p.name for pattern in patterns for p in (ROOT / "models").glob(pattern)}
    assert installed == {p.name for p in (ROOT / "models").iterdir() if p.is_file()}
    target = m.group(2).replace("${datadir}", "/usr/share")
    assert target == "/usr/share/fedwear/models"
    assert f'Path("{target}")' in (ROOT / "runtime/fedwear/infer/card.py").read_text()
    assert "${datadir}/fedwear/models" in variable(text, "FILES:${PN}")
    assert "allarch" in text
    # python3-fedwear depends on it and does not ship a second copy from its wheel.
    runtime = RECIPE.read_text()
    assert "fedwear-models" in variable(runtime, "RDEPENDS:${PN}").split()
    assert "rm -rf ${D}${datadir}/fedwear" in runtime


def test_the_shipped_device_config_is_valid() -> None:
    config = load_config(ROOT / "systemd" / "fedwear.toml")
    assert config.source.kind == "replay" and config.source.pace == "realtime"


@pytest.mark.parametrize("recipe", [RECIPE, MODELS_RECIPE], ids=lambda p: p.stem)
def test_license_checksum_matches(recipe: Path) -> None:
    m = re.search(r"file://LICENSE;md5=([0-9a-f]{32})", recipe.read_text())
    assert m and hashlib.md5((ROOT / "LICENSE").read_bytes()).hexdigest() == m.group(1)


def test_layer_conf() -> None:
    conf = (LAYER / "conf" / "layer.conf").read_text()
    assert 'LAYERSERIES_COMPAT_meta-fedwear = "wrynose"' in conf
    depends = variable(conf, "LAYERDEPENDS_meta-fedwear").split()
    assert {"core", "openembedded-layer", "meta-python"} <= set(depends)
    assert "meta-tensorflow-lite" in variable(conf, "LAYERRECOMMENDS_meta-fedwear")
    dynamic = variable(conf, "BBFILES_DYNAMIC")
    assert dynamic.startswith("meta-tensorflow-lite:")
    assert list((LAYER / "dynamic-layers" / "meta-tensorflow-lite").rglob("*.bbappend"))
    for name in (
        "BBFILE_COLLECTIONS",
        "BBFILE_PATTERN_meta-fedwear",
        "BBFILE_PRIORITY_meta-fedwear",
        "LAYERVERSION_meta-fedwear",
    ):
        assert name in conf


def test_recipe_names_follow_the_convention() -> None:
    for path in LAYER.rglob("*.bb"):
        if "recipes-python" in path.parts:
            assert re.fullmatch(r"python3-[a-z0-9-]+_[0-9][0-9.]*\.bb", path.name), path.name
