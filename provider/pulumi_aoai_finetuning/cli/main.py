"""The ``aoai-ft`` entry point: parses the command line and runs one of the four commands.

Exit status: 0 done (or the job succeeded), 1 a dataset has errors (``validate``) or the job failed or was
cancelled (``watch``), 2 the command could not run (bad options, the service refused, no pulumi CLI),
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.text import Text

from ..client import AzureOpenAIError
from . import jobs, report, validate, watch
from .connection import CliError

EXIT_ERROR = 2

Command = Callable[[argparse.Namespace, Console], int]


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(
        prog="aoai-ft",
        description="Azure OpenAI fine-tuning companion: validate datasets, watch jobs, report training curves.",
    )
    subparsers = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (validate, watch, report, jobs):
        module.add_parser(subparsers).set_defaults(run=module.run)
    return p


def main(argv: Sequence[str] | None = None, *, console: Console | None = None) -> int:
    """Run ``aoai-ft`` with ``argv`` (default: the process's arguments); returns the exit status."""
    args = parser().parse_args(argv)
    out = console or Console()
    err = Console(stderr=True) if console is None else console
    command: Command = args.run
    try:
        return command(args, out)
    except CliError as e:
        err.print(Text(f"aoai-ft {args.command}: {e}", style="red"), soft_wrap=True)
    except AzureOpenAIError as e:
        # The client's messages name the status, the service's code and message, and never carry a key.
        err.print(Text(f"aoai-ft {args.command}: {e}", style="red"), soft_wrap=True)
    except KeyboardInterrupt:
        err.print(Text(f"aoai-ft {args.command}: interrupted", style="red"))
        return watch.EXIT_INTERRUPTED
    except OSError as e:
        err.print(Text(f"aoai-ft {args.command}: {e}", style="red"), soft_wrap=True)
    except Exception as e:
        if not _sign_in_failed(e):
            raise
        err.print(
            Text(
                f"aoai-ft {args.command}: no account key in ${args.api_key_env}, and Microsoft Entra ID sign-in "
                f"failed (az login, or set the key): {e}",
                style="red",
            ),
            soft_wrap=True,
        )
    return EXIT_ERROR


def _sign_in_failed(error: Exception) -> bool:
    """True for azure-identity's "could not get a token" error.

    azure-identity (and azure-core with it) is imported only when Entra ID signs a request, so its exception
    class is looked up among the loaded modules instead of imported up front for every command.
    """
    exceptions = sys.modules.get("azure.core.exceptions")
    failure = getattr(exceptions, "ClientAuthenticationError", None)
    return isinstance(failure, type) and isinstance(error, failure)


if __name__ == "__main__":
    sys.exit(main())
