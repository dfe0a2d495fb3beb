"""What ``openlinq serve`` prints once it answers: the base URL, the sandbox key and lines,
where the database is, who runs the jobs, and the console's address.

Outside the CLI package: the serving process prints it, and that process never loads the
CLI's libraries (typer, click).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openlinq.config import Settings
    from openlinq.domain.accounts import Sandbox

SANDBOX_KEY_FILE = "sandbox-api-key"


def _remember_sandbox_key(settings: Settings, sandbox: Sandbox) -> str | None:
    """Keep the generated sandbox key in the data dir so every start can show it."""
    from openlinq.filemodes import make_private_dir, open_private

    path = settings.data_dir / SANDBOX_KEY_FILE
    if sandbox.api_key:
        if sandbox.created and not settings.dev_api_key:
            make_private_dir(settings.data_dir)
            with open_private(path) as handle:
                handle.write(sandbox.api_key.encode() + b"\n")
        return sandbox.api_key
    return path.read_text().strip() if path.exists() else None


def _processes(settings: Settings) -> str:
    """What the banner says about this server's processes and who runs its jobs."""
    api = f"{settings.workers} API"
    if settings.clock == "manual":
        return f"{api}; jobs run when the manual clock advances"
    if not settings.run_worker:
        return f"{api}, no job runner (OPENLINQ_RUN_WORKER=false): start `openlinq worker`"
    return f"{api}, " + ("each running jobs" if settings.workers > 1 else "running jobs")


def banner(settings: Settings) -> Callable[[Sandbox | None], None]:
    def show(sandbox: Sandbox | None) -> None:
        from rich.console import Console
        from rich.table import Table

        console = Console(soft_wrap=True)  # the URLs stay whole on one line each
        base = f"{settings.base_url}/api/partner"
        console.print(
            f"[bold green]openlinq[/] is serving the Linq Partner API v3 at [bold]{base}[/]"
        )
        console.print(f"  LINQ_API_V3_BASE_URL={base}")
        if sandbox is None:
            console.print(
                "  hosted mode: no sandbox account; add accounts with `openlinq accounts create`"
            )
            console.print(f"  database: {settings.resolved_database_url.split('@')[-1]}")
            console.print(f"  processes: {_processes(settings)}")
            return
        key = _remember_sandbox_key(settings, sandbox)
        console.print(f"  LINQ_API_V3_API_KEY={key or '(set OPENLINQ_DEV_API_KEY to choose one)'}")
        grid = Table("line", "type", "status", title=f"sandbox account {sandbox.account.id}")
        for line in sandbox.lines:
            grid.add_row(line.phone_number, line.line_type.value, line.status.value)
        console.print(grid)
        console.print(f"  database: {settings.resolved_database_url.split('@')[-1]}")
        console.print(f"  processes: {_processes(settings)}")
        docs = f"{settings.base_url}/docs" if settings.api_docs else "off"
        console.print(f"  clock: {settings.clock}   docs: {docs}")
        console.print(f"  console: {settings.base_url}/console  (open it in a browser)")

    return show
