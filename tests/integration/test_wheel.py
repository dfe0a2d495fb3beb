"""openlinq installs like a product: ``python -m build`` makes a wheel that carries every
file of the package without a deprecation warning, and the wheel, installed into a fresh
virtual environment, gives an ``openlinq serve`` that answers from any directory.

Offline and quick: the wheel is built without build isolation (setuptools and build are
dev dependencies), installed without its dependencies, and the fresh environment borrows
this environment's installed dependencies through a ``.pth`` file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import httpx
import pytest

import openlinq
from tests.support.process import serving
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(openlinq.__file__).resolve().parent
# The distribution the wheel is built from: what a release tarball holds.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "src")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The wheel, built from a clean copy of the sources; and what the build printed."""
    tree = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
            shutil.copytree(source, tree / name, ignore=ignore)
        else:
            shutil.copy2(source, tree / name)
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    (wheel,) = (tree / "dist").glob("openlinq-*.whl")
    return wheel, output


def test_the_build_prints_no_deprecation_warning(built: tuple[Path, str]) -> None:
    _, output = built
    assert "deprecat" not in output.lower(), output


def test_the_wheel_carries_every_file_of_the_package(built: tuple[Path, str]) -> None:
    wheel, _ = built
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    expected = {
        f"openlinq/{path.relative_to(PACKAGE).as_posix()}"
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert expected - names == set()
    # Migrations, console assets and the type marker, by name, in case the tree is odd.
    for name in (
        "openlinq/py.typed",
        "openlinq/store/migrations/env.py",
        "openlinq/store/migrations/versions/0001_initial_schema.py",
        "openlinq/console/templates/base.html",
        "openlinq/console/static/console.css",
    ):
        assert name in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert b"License-Expression: Apache-2.0" in metadata


def test_the_installed_wheel_serves_from_any_directory(
    built: tuple[Path, str], tmp_path: Path
) -> None:
    wheel, _ = built
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    install = ["install", "--quiet", "--no-deps", "--no-index", str(wheel)]
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), *install],
        check=True,
        timeout=120,
    )
    # The dependencies: this environment's, not openlinq itself (an editable install is a
    # .pth file, which a path listed in another .pth file does not bring along).
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    located = subprocess.run(
        [python, "-c", "import openlinq; print(openlinq.__file__)"],
        cwd=elsewhere,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert located.startswith(site)

    port = free_port()
    key = "olq_wheel_test_key_0123456789abc"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("OPENLINQ_") and name != "PYTHONPATH"
    }
    env |= {"OPENLINQ_PORT": str(port), "OPENLINQ_DEV_API_KEY": key}
    base = f"http://127.0.0.1:{port}"
    with serving([str(venv / "bin" / "openlinq"), "serve"], port=port, env=env, cwd=elsewhere):
        lines = httpx.get(
            f"{base}/api/partner/v3/phone_numbers", headers={"Authorization": f"Bearer {key}"}
        )
        assert lines.status_code == 200, lines.text  # migrated, sandbox created
        assert len(lines.json()["phone_numbers"]) == 4
        assert httpx.get(f"{base}/console/static/console.css").status_code == 200
        assert httpx.get(f"{base}/docs").status_code == 200
    assert (elsewhere / ".openlinq" / "openlinq.db").exists()
