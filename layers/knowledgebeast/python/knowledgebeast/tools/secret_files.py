"""``python -m knowledgebeast.tools.secret_files DIR NAME=ARN...``: Secrets Manager values as files.

For containers that read a secret from a file or their environment but cannot call AWS
themselves (Chroma's token proxy, Valkey): an init container of the API image runs this with
the pod's AWS identity (EKS Pod Identity) and writes each value into a memory-backed volume
shared with the main container, readable by the pod's user only. Nothing is printed, and no
value ever passes through a Kubernetes Secret, a manifest or a CloudFormation template.

``--line NAME='requirepass {}'`` writes the value into a line of a config file instead.
Exit codes: 0 written, 2 a secret could not be read.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from knowledgebeast.errors import ConfigurationError
from knowledgebeast.secrets import fetch_secret


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or "/" in name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with a plain file name, got {text!r}")
    return name, value


def write_secret_files(directory: Path, secrets: dict[str, str], lines: dict[str, str]) -> list[Path]:
    """Write each secret to ``directory/NAME`` (mode 0400); ``lines[NAME]`` formats it with ``{}``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, arn in secrets.items():
        value = fetch_secret(arn)
        text = lines[name].replace("{}", value) + "\n" if name in lines else value
        path = directory / name
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledgebeast.tools.secret_files", description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("secrets", nargs="+", type=_pair, metavar="NAME=ARN")
    parser.add_argument("--line", action="append", type=_pair, default=[], metavar="NAME=TEMPLATE")
    args = parser.parse_args(argv)
    try:
        written = write_secret_files(args.directory, dict(args.secrets), dict(args.line))
    except ConfigurationError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} secret file(s) to {args.directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
