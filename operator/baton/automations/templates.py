"""Message templates: Jinja in a sandbox, with bounded work and bounded output.

A template is written by whoever may write an Automation, so it is hostile input: the
sandbox refuses attribute access to Python internals, ``range`` is capped by Jinja's
sandbox, ``*`` and ``**`` are checked before they build huge values, nested loops are
refused when the template is compiled, and rendering stops as soon as the output passes
``TEMPLATE_OUTPUT_LIMIT``. Every failure is a ``TemplateProblem`` with a message the
Automation's ``Ready`` condition can carry.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from baton.resources.automation import TEMPLATE_OUTPUT_LIMIT

#: Largest number of characters/items an intercepted ``*`` may produce, and the largest
#: exponent ``**`` may use.
PRODUCT_LIMIT = 100_000
EXPONENT_LIMIT = 64


class TemplateProblem(Exception):
    """A template that does not compile, fails to render, or renders too much."""


class _Bounded(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: jinja2.runtime.Context, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            if isinstance(right, int | float) and abs(right) > EXPONENT_LIMIT:
                raise TemplateProblem(f"exponent {right} is larger than {EXPONENT_LIMIT}")
            return operator.pow(left, right)
        sizes = [len(v) for v in (left, right) if isinstance(v, str | list | tuple)]
        counts = [v for v in (left, right) if isinstance(v, int) and not isinstance(v, bool)]
        if sizes and counts and sizes[0] * abs(counts[0]) > PRODUCT_LIMIT:
            raise TemplateProblem(f"a repetition longer than {PRODUCT_LIMIT} items")
        return operator.mul(left, right)


_ENV = _Bounded(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)


def _nested_loop(tree: nodes.Node) -> bool:
    return any(
        loop.recursive or any(True for _ in loop.find_all(nodes.For))
        for loop in tree.find_all(nodes.For)
    )


@functools.lru_cache(maxsize=256)
def compile_template(source: str) -> jinja2.Template:
    """Parse and check ``source``; raises ``TemplateProblem``."""
    try:
        tree = _ENV.parse(source)
    except jinja2.TemplateSyntaxError as error:
        raise TemplateProblem(f"line {error.lineno}: {error.message}") from error
    if _nested_loop(tree):
        raise TemplateProblem("nested or recursive loops are not allowed")
    return _ENV.from_string(tree)


def render(source: str, context: Mapping[str, Any]) -> str:
    """``source`` rendered with ``context``; raises ``TemplateProblem``."""
    template = compile_template(source)
    out: list[str] = []
    size = 0
    try:
        for chunk in template.generate(**context):
            size += len(chunk)
            if size > TEMPLATE_OUTPUT_LIMIT:
                raise TemplateProblem(
                    f"the rendered text is longer than {TEMPLATE_OUTPUT_LIMIT} characters"
                )
            out.append(chunk)
    except TemplateProblem:
        raise
    except jinja2.UndefinedError as error:
        raise TemplateProblem(f"undefined: {error.message}") from error
    except jinja2.TemplateError as error:
        raise TemplateProblem(str(error)[:500]) from error
    except (ArithmeticError, TypeError, ValueError, RecursionError, LookupError) as error:
        raise TemplateProblem(f"{type(error).__name__}: {error}"[:500]) from error
    return "".join(out)
