"""examples/typescript: node's test runner and @linqapp/sdk against the harness API."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.server import RunningServer

EXAMPLE = Path(__file__).parents[2] / "examples" / "typescript" / "agent.test.mjs"


def test_the_typescript_example_passes(sdk_dir: Path, server: RunningServer) -> None:
    # ES modules resolve packages from their own directory (not NODE_PATH): run it beside the SDK.
    test_file = sdk_dir / EXAMPLE.name
    shutil.copyfile(EXAMPLE, test_file)
    result = subprocess.run(
        ["node", "--test", str(test_file)],
        env={**os.environ, "OPENLINQ_URL": server.base_url},
        cwd=sdk_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# pass 2" in result.stdout
    assert "# fail 0" in result.stdout
