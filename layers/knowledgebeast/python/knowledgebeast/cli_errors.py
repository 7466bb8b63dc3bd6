"""How the command line reports a user's mistake: one ``error:`` line saying what to do, exit code 2.

A bad argument, an invalid setting, a missing model, an empty store or an unreachable server is
something the user can fix, so it gets a sentence and no traceback (``--debug`` adds the
traceback). Anything else is a bug: one line naming it, exit code 1, and the traceback with
``--debug``.
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from knowledgebeast.errors import CollectionNotFoundError, KnowledgeBeastError, StoreUnavailableError
from knowledgebeast.schemas import COLLECTION_PATTERN

if TYPE_CHECKING:
    import pydantic

    from knowledgebeast.config import Settings

USER_ERROR = 2
BUG = 1
DEBUG_FLAG = "--debug"
_COLLECTION = re.compile(COLLECTION_PATTERN)


class NothingIngestedError(KnowledgeBeastError):
    """The collection exists but holds no chunk: every query would come back empty."""

    status_code = 404
    code = "collection_empty"

    def __init__(self, collection: str) -> None:
        super().__init__(
            f"collection {collection!r} is empty: run `knowledgebeast ingest PATH --collection {collection}` first",
            details={"collection": collection},
        )


class GuidedArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ``error:`` line pointing at ``--help`` (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(USER_ERROR, f"error: {message}; see `{self.prog} --help`\n")


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type`` accepting integers in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value

    return parse


def finite_float(text: str) -> float:
    """An argparse ``type`` for a finite number (range checks that depend on the mode come later)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def collection_name(text: str) -> str:
    """An argparse ``type`` for collection names, with the rule spelled out."""
    if 3 <= len(text) <= 63 and _COLLECTION.match(text):
        return text
    raise argparse.ArgumentTypeError(
        f"invalid collection name {text!r}: use 3-63 letters, digits, '.', '_' or '-', starting and ending "
        "with a letter or digit"
    )


def explain_settings_error(exc: pydantic.ValidationError) -> str:
    """``CHUNK_SIZE=abc`` -> which variable, what is wrong with it, where to fix it (values never echoed)."""
    problems = []
    for error in exc.errors():
        name = "_".join(str(part) for part in error.get("loc", ())).upper()
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{name}: {message}" if name else message)
    return f"invalid setting: {'; '.join(problems)}. Fix it in the environment (or the app.yaml named by CONFIG_FILE)"


def explain(exc: BaseException, settings: Settings | None = None) -> str | None:
    """One line telling the user what to do, or None when ``exc`` is not a user mistake."""
    import pydantic

    if isinstance(exc, pydantic.ValidationError):
        if exc.title == "Settings":
            return explain_settings_error(exc)
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ()))
        return f"invalid {field or 'value'}: {first.get('msg', 'invalid')}"
    if isinstance(exc, CollectionNotFoundError):
        name = (exc.details or {}).get("collection") or "default"
        return (
            f"collection {name!r} does not exist: nothing has been ingested into it yet. Run "
            f"`knowledgebeast ingest PATH --collection {name}` first (`knowledgebeast collections` lists existing ones)"
        )
    if isinstance(exc, StoreUnavailableError) and settings is not None and settings.chroma_host:
        return (
            f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port}: start it "
            "(`chroma run --path DIR --port PORT`) or unset CHROMA_HOST to use the embedded store under DATA_DIR"
        )
    if isinstance(exc, KnowledgeBeastError):
        return exc.message
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or exc}: {exc.filename}"
    return None


def split_debug(argv: Sequence[str]) -> tuple[list[str], bool]:
    """``--debug`` is accepted anywhere on the line (before or after the subcommand)."""
    rest = [arg for arg in argv if arg != DEBUG_FLAG]
    return rest, len(rest) != len(argv)


def report(exc: BaseException, *, debug: bool, settings: Settings | None = None) -> int:
    """Print the one-line error (after the traceback with ``--debug``) and return the exit code."""
    if debug:
        traceback.print_exception(exc)
    line = explain(exc, settings)
    if line is not None:
        print(f"error: {line}", file=sys.stderr)
        return USER_ERROR
    hint = "" if debug else "; rerun with --debug for the traceback"
    print(f"error: unexpected {type(exc).__name__}: {exc}{hint}", file=sys.stderr)
    return BUG
