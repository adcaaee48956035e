"""Shell completion: one engine in Python, thin scripts for bash, zsh, fish and kubectl.

``candidates`` walks the parser itself (commands, sub-commands, options, an option's
choices), so completion cannot drift from the CLI; flow run names (for ``describe``,
``logs``, ``cancel``) come from the API server at completion time. Every shell asks the
same hidden entry point, ``baton __complete WORD... PARTIAL``, which prints one candidate
per line:

    source <(baton completion bash)          # or add it to ~/.bashrc
    source <(baton completion zsh)           # zsh, via bashcompinit
    baton completion fish > ~/.config/fish/completions/baton.fish

kubectl (1.26+) completes a plugin's arguments by running ``kubectl_complete-<plugin>``
with them and reading cobra's ``__complete`` format: candidates, then ``:<directive>``.
The ``kubectl_complete-baton`` script installed with Baton is ``kubectl_complete`` here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

# The commands (as their paths of words) whose argument is a FlowRun's name.
RUN_NAME_COMMANDS = frozenset(
    {"describe", "logs", "cancel", "flow-run inspect", "flow-run logs", "flow-run cancel"}
)
COMPLETE_COMMAND = "__complete"
# cobra's ShellCompDirectiveNoFileComp: do not fall back to file names.
NO_FILE_COMPLETION = 4


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(
        option
        for action in parser._actions
        for option in action.option_strings
        if action.help != argparse.SUPPRESS
    )


def _takes_value(parser: argparse.ArgumentParser, option: str) -> argparse.Action | None:
    for action in parser._actions:
        if option in action.option_strings and action.nargs != 0:
            return action
    return None


def command_table(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    """``{"": top-level words, "run": its options, "flow": ["schema"], "flow schema": ...}``."""
    table: dict[str, list[str]] = {}
    commands = _subcommands(parser)
    table[""] = sorted(commands) + _options(parser)
    for name, sub in commands.items():
        nested = _subcommands(sub)
        table[name] = sorted(nested) + _options(sub)
        for child, child_parser in nested.items():
            table[f"{name} {child}"] = _options(child_parser)
    return table


def _run_names(words: Sequence[str]) -> list[str]:
    """The namespace's FlowRun names (honouring -n/--context/--kubeconfig); [] on any error."""
    given: dict[str, str | None] = {"namespace": None, "context": None, "kubeconfig": None}
    for flag, key in (("-n", "namespace"), ("--namespace", "namespace"),
                      ("--context", "context"), ("--kubeconfig", "kubeconfig")):  # fmt: skip
        if flag in words[:-2]:
            given[key] = words[list(words).index(flag) + 1]
    try:
        from baton._kube.client import FLOWRUNS  # noqa: PLC0415
        from baton.cli.common import connect  # noqa: PLC0415

        conn = connect(argparse.Namespace(**given))
        with conn.client:
            return sorted(r["metadata"]["name"] for r in conn.client.list(FLOWRUNS, conn.namespace))
    except Exception:
        return []


def candidates(
    parser: argparse.ArgumentParser,
    words: Sequence[str],
    run_names: Callable[[Sequence[str]], list[str]] = _run_names,
) -> list[str]:
    """What may come next: ``words`` are the arguments so far, the last one being typed."""
    *before, partial = list(words) or [""]
    current, path = parser, list[str]()
    skip_value = False
    for word in before:
        if skip_value:
            skip_value = False
            continue
        if word.startswith("-"):
            skip_value = "=" not in word and _takes_value(current, word) is not None
            continue
        children = _subcommands(current)
        if word in children:
            current, path = children[word], [*path, word]
    if before and before[-1].startswith("-") and "=" not in before[-1]:
        action = _takes_value(current, before[-1])
        if action is not None:  # completing an option's value
            choices = [str(c) for c in action.choices or []]
            return [c for c in choices if c.startswith(partial)]
    if partial.startswith("-"):
        words_now = _options(current)
    else:
        words_now = sorted(n for n in _subcommands(current) if not n.startswith("_"))
        words_now += [  # a positional's fixed choices (`completion bash|zsh|fish`)
            str(choice)
            for action in current._actions
            if not action.option_strings
            and action.choices
            and not isinstance(action, argparse._SubParsersAction)
            for choice in action.choices
        ]
        if " ".join(path) in RUN_NAME_COMMANDS:
            words_now += run_names(list(words))
    return [w for w in words_now if w.startswith(partial)]


def print_candidates(words: Sequence[str], *, directive: bool = False) -> int:
    """The hidden ``baton __complete`` entry point (and kubectl's, with ``directive``)."""
    from baton.cli import build_parser  # noqa: PLC0415

    for word in candidates(build_parser(), words):
        print(word)
    if directive:
        print(f":{NO_FILE_COMPLETION}")
    return 0


def kubectl_complete() -> int:
    """``kubectl_complete-baton``: kubectl passes the plugin's arguments, the last partial."""
    return print_candidates(sys.argv[1:], directive=True)


def bash_script() -> str:
    return f"""# bash completion for baton (and kubectl-baton); generated by `baton completion bash`
_baton_complete() {{
    local IFS=$'\\n' words=("${{COMP_WORDS[@]:1:COMP_CWORD}}")
    COMPREPLY=($("${{COMP_WORDS[0]}}" {COMPLETE_COMMAND} "${{words[@]}}" 2>/dev/null))
}}
complete -o default -F _baton_complete baton kubectl-baton
"""


def zsh_script() -> str:
    return (
        "# zsh completion for baton; generated by `baton completion zsh`\n"
        "autoload -U +X compinit && compinit\n"
        "autoload -U +X bashcompinit && bashcompinit\n" + bash_script()
    )


def fish_script() -> str:
    return f"""# fish completion for baton (and kubectl-baton); generated by `baton completion fish`
function __baton_complete
    set -l words (commandline -opc)
    $words[1] {COMPLETE_COMMAND} $words[2..-1] (commandline -ct) 2>/dev/null
end
complete -c baton -f -a '(__baton_complete)'
complete -c kubectl-baton -f -a '(__baton_complete)'
"""


SCRIPTS = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}


def command(args: argparse.Namespace) -> int:
    print(SCRIPTS[args.shell](), end="")
    return 0
