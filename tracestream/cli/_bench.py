"""``tracestream bench``: the benchmarks of a source checkout.

The benchmarks live in the checkout's ``benchmarks/`` folder, apart from the
product code, and are not shipped in the wheel. This command finds them (on
``sys.path``, or beside the installed package when it is an editable install of
a checkout) and says how to get them when they are absent.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import click

__all__ = ["bench"]


def _benchmarks() -> ModuleType:
    try:
        return importlib.import_module("benchmarks")
    except ImportError:
        pass
    # An editable install resolves tracestream to <checkout>/tracestream.
    checkout = Path(__file__).resolve().parent.parent.parent
    if (checkout / "benchmarks" / "__init__.py").is_file():
        sys.path.insert(0, str(checkout))
        return importlib.import_module("benchmarks")
    raise click.ClickException(
        "the benchmarks are not installed: they live in a source checkout. "
        "Fix: git clone the tracestream repository and run `tracestream bench` from it "
        "(after `make bootstrap`)."
    )


class _LazyBench(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_benchmarks().BENCHES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _benchmarks().BENCHES.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyBench)
def bench() -> None:
    """Measure throughput; each benchmark prints one JSON report (source checkout only)."""
