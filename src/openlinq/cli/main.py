"""The root ``openlinq`` command: its command groups, ``--debug`` and the one-line errors."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from openlinq.cli import chats, mcp, operator, server, sim, webhooks
from openlinq.cli.common import CliError, user_error

if TYPE_CHECKING:
    # typer vendors click; its groups are invoked with this context class.
    from typer._click.core import Context


def _debugging(ctx: Context) -> bool:
    root = ctx.find_root()
    return bool(root.params.get("debug")) or os.environ.get("OPENLINQ_DEBUG", "") not in ("", "0")


def describe(error: BaseException) -> str:
    """An unexpected failure in one line (the traceback is for --debug)."""
    known = user_error(error)
    if known is not None:
        return known
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if not isinstance(error, OSError) else text


class ErrorsInOneLine(TyperGroup):
    """Every command's failures end as one line on stderr and a non-zero status."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as error:
            if _debugging(ctx):
                raise
            typer.echo(f"openlinq: {error}", err=True)
            raise typer.Exit(error.exit_code) from None
        except (typer.TyperException, typer.Exit, typer.Abort):
            raise
        except Exception as error:
            if _debugging(ctx):
                raise
            known = user_error(error)
            if known is not None:
                typer.echo(f"openlinq: {known}", err=True)
            else:
                typer.echo(f"openlinq: {describe(error)} (--debug shows the traceback)", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=ErrorsInOneLine,
    help="openlinq: a self-hosted Linq Partner API v3 server, its simulator and its tools.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks (OPENLINQ_DEBUG=1).")
    ] = False,
) -> None:
    """openlinq: a self-hosted Linq Partner API v3 server, its simulator and its tools."""


server.register(app)
app.add_typer(operator.accounts_app, name="accounts")
app.add_typer(operator.keys_app, name="keys")
app.add_typer(operator.lines_app, name="lines")
app.add_typer(webhooks.webhooks_app, name="webhooks")
app.add_typer(chats.chats_app, name="chats")
app.add_typer(chats.messages_app, name="messages")
app.add_typer(sim.sim_app, name="sim")
mcp.register(app)
