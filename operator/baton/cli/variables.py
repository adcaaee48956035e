"""``baton variable ls|get|set|unset``: Prefect 3's variables from the command line.

The cluster of ``--kubeconfig``/``--context``/``-n`` (the ConfigMap ``baton-variables``),
or the local store when no cluster is configured — where ``Variable.get`` looks.
"""

from __future__ import annotations

import argparse
import json

from baton import variables
from baton.cli.blocks import _place, _where
from baton.cli.common import CliError, parse_value


def ls_command(args: argparse.Namespace) -> int:
    place = _place(args)
    found = variables.listed(place)
    if not found:
        print(f"no variables in {_where(place)}")
        return 0
    width = max(len(n) for n in found)
    print(f"{'NAME':<{width}}  {'VALUE':<40}  TAGS")
    for name, (value, tags) in found.items():
        shown = json.dumps(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        print(f"{name:<{width}}  {shown:<40}  {','.join(tags)}")
    return 0


def get_command(args: argparse.Namespace) -> int:
    place = _place(args)
    found = variables.get_at(place, args.name)
    if found is None:
        raise CliError(f'variable "{args.name}" not found in {_where(place)}')
    value = found[0]
    print(value if isinstance(value, str) else json.dumps(value))
    return 0


def set_command(args: argparse.Namespace) -> int:
    place = _place(args)
    try:
        variables.set_at(
            place, args.name, parse_value(args.value), tags=args.tags, overwrite=args.overwrite
        )
    except ValueError as error:
        raise CliError(str(error)) from None
    print(f"variable {args.name} set in {_where(place)}")
    return 0


def unset_command(args: argparse.Namespace) -> int:
    place = _place(args)
    if not variables.unset_at(place, args.name):
        raise CliError(f'variable "{args.name}" not found in {_where(place)}')
    print(f"variable {args.name} unset in {_where(place)}")
    return 0
