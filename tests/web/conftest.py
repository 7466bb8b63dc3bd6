"""The real app served by uvicorn in a thread (Chroma server, real ONNX model) and Debian's Chromium.

Playwright drives the system Chromium (`make chromium` installs Debian's package); `playwright
install` is never used, it downloads browsers.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import MODEL_DIR
from tests.utils.servers import free_port

CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
API_KEY = "browser-test-key-0123456789"
#: How long a page may take to show an outcome: far above what an upload or search needs on a busy
#: two-core machine (embedding runs there), so a wait only ends early by succeeding.
WAIT_MS = 120_000
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(autouse=True)
def _patient_page(page: Page) -> None:
    page.set_default_timeout(WAIT_MS)
    # Subscribing turns on Chromium's file-chooser interception now, before any test opens a chooser:
    # enabled only by expect_file_chooser(), it raced the click and the dialog was sometimes missed.
    page.on("filechooser", lambda _chooser: None)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    executable = next((path for path in CHROMIUM_PATHS if os.access(path, os.X_OK)), None)
    if executable is None:
        pytest.fail("Chromium is not installed: run `make chromium` (Debian's chromium package)")
    return {**browser_type_launch_args, "executable_path": executable, "headless": True}


@dataclass
class LiveApp:
    url: str
    services: Any
    key: str = API_KEY

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        return httpx.request(method, self.url + path, headers={"X-API-Key": self.key}, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def live_app(chroma_server: Any, embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The whole app as `knowledgebeast serve` runs it, with authentication on (an API key)."""
    import uvicorn

    from knowledgebeast.api.app import create_app
    from knowledgebeast.config import Settings
    from knowledgebeast.factory import Services

    settings = Settings(
        app_env="test",
        chroma_host="127.0.0.1",
        chroma_port=chroma_server.port,
        redis_host=None,
        data_dir=Path(tmp_path_factory.mktemp("web-data")),
        embedding_model_dir=MODEL_DIR,
        api_key=API_KEY,
        jwt_secret=None,
        rate_limit_per_minute=0,
    )
    services = Services(settings)
    services.__dict__["embedder"] = embedder  # the session's model: loaded once per test run
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(services=services), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="uvicorn-web-tests", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield LiveApp(url=f"http://127.0.0.1:{port}/", services=services)
    server.should_exit = True
    thread.join(timeout=30)
