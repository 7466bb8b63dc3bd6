"""Where the deployable folders live, and the checks that make a missing build obvious.

Lambda layers are staged from folders that ``make layers`` builds ahead of time (no Docker
bundling at synth). Tests pass small stand-in folders instead; ``cdk/app.py`` insists on the
real ones and says how to build them.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: Never shipped to Lambda: byte-code caches and packaging metadata of the editable install.
ASSET_EXCLUDES: tuple[str, ...] = ("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", ".DS_Store")
#: The built deps layer ships Python 3.12 bytecode on purpose (``layers/build.py --bytecode``, some
#: modules sourceless): nothing in it may be excluded.
BUILT_LAYER_EXCLUDES: tuple[str, ...] = (".DS_Store",)
#: Lambda's limit for function code plus all layers, unzipped (262,144,000 bytes).
LAMBDA_UNZIPPED_LIMIT_BYTES = 262_144_000


class MissingAssetError(FileNotFoundError):
    """A folder the stacks deploy from does not exist (usually: layers not built yet)."""


class AssetTooLargeError(ValueError):
    """Code plus layers exceed what Lambda accepts unzipped; the deploy would fail late."""


@dataclass(frozen=True)
class AssetPaths:
    """Folders the stacks stage as assets (absolute paths)."""

    query_function: Path
    ingest_function: Path
    backup_function: Path
    package_layer: Path
    deps_layer: Path
    models_layer: Path
    chroma_image: Path
    reconcile_function: Path

    @classmethod
    def for_repo(
        cls,
        root: Path,
        *,
        deps_layer: str | os.PathLike[str] | None = None,
        models_layer: str | os.PathLike[str] | None = None,
    ) -> AssetPaths:
        """The repository layout; the two built layers may be relocated (context or arguments)."""
        root = root.resolve()
        return cls(
            query_function=root / "functions" / "query",
            ingest_function=root / "functions" / "ingest",
            backup_function=root / "functions" / "backup",
            package_layer=root / "layers" / "knowledgebeast",
            deps_layer=root / (deps_layer or Path("build") / "layers" / "deps"),
            models_layer=root / (models_layer or Path("build") / "layers" / "models"),
            chroma_image=root / "containers" / "chromadb",
            reconcile_function=root / "functions" / "reconcile",
        )

    def require_present(self) -> None:
        """Fail before synth when a folder is missing, naming the command that creates it."""
        missing = [(name, path) for name, path in vars(self).items() if not path.is_dir() or not any(path.iterdir())]
        if not missing:
            return
        lines = [f"  {name}: {path}" for name, path in missing]
        built = {"deps_layer", "models_layer"} & {name for name, _ in missing}
        hint = (
            "Build the Lambda layers first: run `make layers` (it writes build/layers/deps and "
            "build/layers/models), or point the context keys deps_layer_dir / models_layer_dir at "
            "prebuilt folders."
            if built
            else "These folders are part of the repository: is the checkout complete?"
        )
        raise MissingAssetError("Missing or empty asset folders:\n" + "\n".join(lines) + "\n" + hint)

    def require_layer_layout(self) -> None:
        """Lambda mounts layers at /opt: python code must sit under python/, the model under models/."""
        expected = {
            "deps_layer": self.deps_layer / "python",
            "package_layer": self.package_layer / "python" / "knowledgebeast",
            "models_layer": self.models_layer / "models",
        }
        wrong = [f"  {name}: expected {path}" for name, path in expected.items() if not path.is_dir()]
        if wrong:
            raise MissingAssetError(
                "Layer folders do not have the Lambda layout (/opt/python, /opt/models):\n"
                + "\n".join(wrong)
                + "\nRebuild them with `make layers`."
            )

    def require_within_lambda_limit(self) -> None:
        """Sum what the biggest function mounts and fail now rather than at deploy time."""
        layers = (self.deps_layer, self.models_layer, self.package_layer)
        for function in (self.query_function, self.ingest_function, self.backup_function):
            total = sum(
                folder_size(path, BUILT_LAYER_EXCLUDES if path == self.deps_layer else ASSET_EXCLUDES)
                for path in (*layers, function)
            )
            if total > LAMBDA_UNZIPPED_LIMIT_BYTES:
                raise AssetTooLargeError(
                    f"{function.name}: code + layers unzipped = {total / 1e6:.1f} MB, over Lambda's "
                    f"{LAMBDA_UNZIPPED_LIMIT_BYTES / 1e6:.1f} MB limit. Trim the deps layer or use an "
                    "int8 model."
                )


def _excluded(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def folder_size(path: Path, excludes: Iterable[str] = ASSET_EXCLUDES) -> int:
    """Bytes of regular files under ``path``, skipping what the assets exclude."""
    patterns = tuple(excludes)
    total = 0
    for current, dirs, files in os.walk(path):
        dirs[:] = [name for name in dirs if not _excluded(name, patterns)]
        for name in files:
            if not _excluded(name, patterns):
                file = Path(current) / name
                if not file.is_symlink():
                    total += file.stat().st_size
    return total


#: A few bytes per folder in the Lambda layout: enough to synthesize, never to deploy.
PLACEHOLDER_FILES: dict[str, str] = {
    "functions/query/handler.py": "def handler(event, context):\n    return {}\n",
    "functions/ingest/handler.py": "def handler(event, context):\n    return {}\n",
    "functions/backup/handler.py": "def handler(event, context):\n    return {}\n",
    "functions/reconcile/handler.py": "def handler(event, context):\n    return {}\n",
    "layers/knowledgebeast/python/knowledgebeast/__init__.py": "",
    "build/layers/deps/python/stub_dependency/__init__.py": "",
    "build/layers/models/models/all-MiniLM-L6-v2/config.json": "{}\n",
}


def write_placeholder_assets(root: Path, *, chroma_image: Path) -> AssetPaths:
    """Stand-in layer/function folders under ``root`` for synth-only work (tests, cost estimates).

    Templates do not depend on what the folders hold, so a synth from placeholders counts the
    same resources as one from ``make layers``; the Chroma image folder is the real one.
    """
    for relative, text in PLACEHOLDER_FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    paths = AssetPaths.for_repo(root)
    return AssetPaths(**{**vars(paths), "chroma_image": chroma_image})
