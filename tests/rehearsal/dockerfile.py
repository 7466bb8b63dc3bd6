"""Read what a Dockerfile promises at run time: final base image, ENV, COPYed programs, HEALTHCHECK.

Only what the rehearsal needs, read the way Docker reads it: continuation lines joined, ``ARG``
defaults substituted in ``FROM``, JSON (exec) form told apart from shell form. No build happens.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


@dataclass(frozen=True)
class Copy:
    """One ``COPY`` of the final stage: ``source`` is a context path, or a path in ``stage``."""

    source: str
    destination: str
    stage: str | None


@dataclass(frozen=True)
class HealthCheck:
    """The ``HEALTHCHECK`` command as Docker will run it: exec form (argv) or a ``/bin/sh -c`` string."""

    command: tuple[str, ...]
    shell: bool
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Dockerfile:
    path: Path
    instructions: tuple[Instruction, ...]

    @classmethod
    def read(cls, path: Path) -> Dockerfile:
        return cls(path, tuple(_instructions(path.read_text())))

    @property
    def context(self) -> Path:
        return self.path.parent

    def _final_stage(self) -> list[Instruction]:
        starts = [i for i, ins in enumerate(self.instructions) if ins.keyword == "FROM"]
        if not starts:
            raise ValueError(f"{self.path}: no FROM")
        return list(self.instructions[starts[-1] :])

    def build_args(self) -> dict[str, str]:
        """Defaults of the ``ARG`` lines before the first ``FROM`` (the ones ``FROM`` may use)."""
        values: dict[str, str] = {}
        for ins in self.instructions:
            if ins.keyword == "FROM":
                break
            if ins.keyword == "ARG" and "=" in ins.arguments:
                name, _, value = ins.arguments.partition("=")
                values[name.strip()] = value.strip().strip('"')
        return values

    def stages(self) -> dict[str, str]:
        """Stage name -> image reference (with digest), ``ARG`` defaults substituted."""
        found: dict[str, str] = {}
        for ins in self.instructions:
            if ins.keyword == "FROM":
                words = [w for w in ins.arguments.split() if not w.startswith("--")]
                image = _substitute(words[0], self.build_args())
                name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(found))
                found[name] = image
        return found

    def base_image(self) -> str:
        """The final stage's base image as ``name:tag@digest`` (a stage name is followed back)."""
        stages = self.stages()
        image = list(stages.values())[-1]
        while image in stages:
            image = stages[image]
        return image

    def env(self) -> dict[str, str]:
        """``ENV`` values of the final stage, as the container starts with them."""
        values: dict[str, str] = {}
        for ins in self._final_stage():
            if ins.keyword == "ENV":
                for word in shlex.split(ins.arguments):
                    name, _, value = word.partition("=")
                    values[name] = _substitute(value, values)
        return values

    def copies(self) -> list[Copy]:
        result = []
        for ins in self._final_stage():
            if ins.keyword != "COPY":
                continue
            words = shlex.split(ins.arguments)
            flags = {w.split("=", 1)[0]: w.split("=", 1)[-1] for w in words if w.startswith("--")}
            paths = [w for w in words if not w.startswith("--")]
            result.extend(Copy(source, paths[-1], flags.get("--from")) for source in paths[:-1])
        return result

    def entrypoint(self) -> list[str]:
        """ENTRYPOINT followed by CMD of the final stage (exec form only: shell form needs ``sh -c``)."""
        argv: dict[str, list[str]] = {"ENTRYPOINT": [], "CMD": []}
        for ins in self._final_stage():
            if ins.keyword in argv:
                if not ins.arguments.startswith("["):
                    raise ValueError(f"{self.path}: {ins.keyword} in shell form; the rehearsal runs exec form")
                argv[ins.keyword] = list(json.loads(ins.arguments))
        return argv["ENTRYPOINT"] + argv["CMD"]

    def healthcheck(self) -> HealthCheck:
        (ins,) = [i for i in self._final_stage() if i.keyword == "HEALTHCHECK"]
        options_text, _, command = ins.arguments.partition("CMD ")
        options = dict(word.lstrip("-").split("=", 1) for word in options_text.split())
        command = command.strip()
        if command.startswith("["):
            return HealthCheck(tuple(json.loads(command)), shell=False, options=options)
        return HealthCheck((command,), shell=True, options=options)


def _substitute(text: str, values: dict[str, str]) -> str:
    return _VARIABLE.sub(lambda m: values.get(m.group(1) or m.group(2), ""), text)


def _instructions(text: str) -> list[Instruction]:
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    result = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        result.append(Instruction(keyword.upper(), arguments.strip()))
    return result
