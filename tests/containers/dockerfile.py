"""Read a Dockerfile the way the rehearsal needs it: RUN lines, final ENV, ENTRYPOINT/CMD, HEALTHCHECK."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Stage:
    name: str
    base: str
    runs: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.partition(" ")
        out.append((keyword.upper(), rest.strip()))
        current = ""
    return out


def stages(path: Path) -> list[Stage]:
    result: list[Stage] = []
    for keyword, rest in instructions(path.read_text()):
        if keyword == "FROM":
            words = rest.split()
            result.append(Stage(name=words[-1] if "AS" in (w.upper() for w in words) else "", base=words[0]))
        elif keyword == "RUN":
            result[-1].runs.append(rest)
        elif keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                result[-1].env[key] = value
        elif keyword in ("ENTRYPOINT", "CMD"):
            setattr(result[-1], keyword.lower(), json.loads(rest))
        elif keyword == "HEALTHCHECK":
            result[-1].healthcheck = ["CMD", *json.loads(rest[rest.index("CMD") + 3 :].strip())]
    return result


def image_config(path: Path) -> Stage:
    """The final stage: what ``docker run`` gets."""
    return stages(path)[-1]
