"""UsageParser: the argparse parser every raspy tool uses, so that a usage error is
one line and exit status 2, never argparse's whole usage; a value that begins with
`-` is read after its option, and a negative number is never taken for an option."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final

from raspy.cli import EXIT_USAGE, reader_left, stdout_failed

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

_NO_VALUE: Final = re.compile(r"argument (.+): expected one argument")
# a negative number as JSON and float() write it (`-3`, `-0.5`, `-1.5e2`, `-1E3`,
# `-.5`); `\Z`, since argparse calls match()
_NEGATIVE_NUMBER: Final = re.compile(r"-(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\Z")


# the unknown options of the parsers above the one parsing now (`raspy-kv --bogus
# backup`: `--bogus`), for its usage error to name; set around each parse
_ABOVE_UNKNOWN: ContextVar[tuple[str, ...]] = ContextVar(
    "raspy_above_unknown", default=()
)


class UsageParser(argparse.ArgumentParser):
    """Usage errors in one line (`raspy call: argument --server: …`) and exit status
    2, as every tool of raspy says them (argparse prints the whole usage first).

    A value that begins with `-` is taken after its option with a space too
    (`--since -1h`, `--timeout -1e3`), as after `=`: argparse reads one that is not
    a plain number (`-5`) as an option, and said the option "expected one
    argument". An option followed by another option, or by nothing, is said to
    have no value.

    A word that is a negative number is a value, never an option, wherever it
    stands (`raspy device pi.fake.dimmer level -1.5e2`): argparse knows `-5` and
    `-1.5` as numbers but took `-1.5e2` for an unknown option, so a negative
    setpoint in exponent form needed `--` before it. As in argparse, a parser that
    has an option spelled as a number (none of raspy's) reads them as options.

    An unknown option is named before the required ones missing: argparse said only
    `the following arguments are required: --data-dir, --to` for `--bogus` alone,
    and the mistake went unnamed. One given before a sub-command (`raspy-kv
    --bogus backup`) is named too: the sub-command's parser says the error, and
    argparse keeps the parent's unknown words until after it.

    `intermixed=True`: options may stand between positionals (`raspy call .echo
    --server S hi`): argparse gave a `*` positional nothing once an option stood
    between it and the one before, and said the words after the option were
    "unrecognized". Its own parse_intermixed_args read the words after `--` as
    options again (Python 3.11), so this parser's options are taken first instead."""

    def __init__(self, *args: Any, intermixed: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._intermixed = intermixed
        # the pattern argparse's _parse_optional tests a word beginning with `-`
        # against before it takes it for an option (Python 3.11 to 3.13)
        self._negative_number_matcher = _NEGATIVE_NUMBER
        # the unknown options of the parse under way (or the last), for error()
        self._unknown: tuple[str, ...] = ()

    def parse_known_args(  # type: ignore[override]  # typeshed's overloads
        self,
        args: Sequence[str] | None = None,
        namespace: argparse.Namespace | None = None,
    ) -> tuple[argparse.Namespace, list[str]]:
        given = self._regrouped(sys.argv[1:] if args is None else list(args))
        self._unknown = (*_ABOVE_UNKNOWN.get(), *self._unknown_options(given))
        # a sub-command's parser runs inside this parse: it names these too
        above = _ABOVE_UNKNOWN.set(self._unknown)
        try:
            return super().parse_known_args(given, namespace)
        finally:
            _ABOVE_UNKNOWN.reset(above)

    def _unknown_options(self, given: list[str]) -> list[str]:
        """The words of `given` that look like options this parser does not have,
        up to `--` or a sub-command (whose words its own parser reads)."""
        commands = {
            name
            for action in self._actions
            if isinstance(action, argparse._SubParsersAction)
            for name in action.choices
        }
        unknown: list[str] = []
        for arg in given:
            if arg == "--" or arg in commands:
                break
            if (
                arg.startswith("-")
                and arg != "-"
                and not self._negative_number_matcher.match(arg)
                and not self._is_option(arg)
            ):
                unknown.append(arg)
        return unknown

    def _is_option(self, arg: str) -> bool:
        """Whether argparse takes `arg` for one of this parser's options: its name,
        `--name=value`, a long name's unique beginning, or `-oVALUE`."""
        name = arg.partition("=")[0] if arg.startswith("--") else arg
        if (
            name in self._option_string_actions
            or arg[:2] in self._option_string_actions
        ):
            return True
        return name.startswith("--") and any(
            option.startswith(name) for option in self._option_string_actions
        )

    def _regrouped(self, args: list[str]) -> list[str]:
        """`args` as argparse is to read them, in one walk up to `--` (the rest as
        given): each of this parser's one-value options with its value (one word
        for a value that begins with `-`: _with_value); `intermixed`, its options,
        each with its value, moved before the other words in their order. An
        option whose value is missing (last, or before `--`) stays where it is, for
        argparse to say so."""
        options: list[str] = []
        others: list[str] = []
        front = options if self._intermixed else others
        index = 0
        while index < len(args) and args[index] != "--":
            arg = args[index]
            valued = self._takes_one_value(arg)
            if valued and index + 1 < len(args) and args[index + 1] != "--":
                front += self._with_value(arg, args[index + 1])
                index += 2
                continue
            if self._is_option(arg) and not valued:
                front.append(arg)
            else:  # a positional, or an option whose value is missing
                others.append(arg)
            index += 1
        return options + others + args[index:]

    def _with_value(self, option: str, value: str) -> list[str]:
        """`option` and its `value`, one word (`--option=value`, `-ovalue`) when the
        value begins with `-`, which argparse would take for an option; else two
        (argparse reads `-h`, `-oFILE` or `--json` there as the option it is, and
        says the value is missing)."""
        if (
            value.startswith("-")
            and not value.startswith("--")
            and value not in self._option_string_actions
            and value[:2] not in self._option_string_actions  # `-oFILE`: one
        ):
            # a short option's value is written attached without `=` (`-o-x`)
            return [f"{option}{value}" if option[1] != "-" else f"{option}={value}"]
        return [option, value]

    def _takes_one_value(self, arg: str) -> bool:
        """Whether `arg` names an option of this parser (or, as argparse allows,
        begins the name of just one long option) that takes exactly one value."""
        if arg in self._option_string_actions:
            return self._option_string_actions[arg].nargs is None
        if not arg.startswith("--") or "=" in arg:
            return False
        names = [name for name in self._option_string_actions if name.startswith(arg)]
        if len(names) != 1:
            return False
        return self._option_string_actions[names[0]].nargs is None

    def _print_message(
        self, message: str, file: SupportsWrite[str] | None = None
    ) -> None:
        """`--help` and `--version` written out now, so that a stdout that cannot
        take them (a full disk) is said in one line, exit 1, as every command says
        it; argparse dropped the OSError, and the tool exited 0 having printed
        nothing. A reader that left (`--help | head -1`) is exit 1 too."""
        stdout = sys.stdout  # None when it is closed (`>&-`)
        to_stdout = stdout is not None and file is stdout
        if not message or not to_stdout or stdout is None:
            super()._print_message(message, file)
            return
        try:
            stdout.write(message)
            stdout.flush()
        except BrokenPipeError:
            self.exit(reader_left())
        except OSError as exc:
            self.exit(stdout_failed(self.prog, exc))

    def error(self, message: str) -> None:  # type: ignore[override]  # argparse declares NoReturn
        no_value = _NO_VALUE.fullmatch(message)
        if no_value is not None:  # argparse's words for `--since` with none after it
            message = f"argument {no_value.group(1)}: expected a value, got none"
        if message.startswith("the following arguments are required") and self._unknown:
            message = f"unrecognized arguments: {' '.join(self._unknown)}; {message}"
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\n")
