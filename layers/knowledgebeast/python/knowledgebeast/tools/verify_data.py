"""``python -m knowledgebeast.tools.verify_data BACKUP``: is this backup restorable?

Needs no settings and no vector store (an operator can check a bucket from any machine with read
access). Exit codes: 0 valid, 1 incomplete or corrupt, 2 the location cannot be opened.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from knowledgebeast.backup.cli import add_verify_arguments, cmd_verify
from knowledgebeast.errors import KnowledgeBeastError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledgebeast.tools.verify_data", description=__doc__)
    add_verify_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return cmd_verify(args)
    except KnowledgeBeastError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
