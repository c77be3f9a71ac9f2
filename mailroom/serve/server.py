"""Running the profile API on uvicorn (httptools and uvloop when installed)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from mailroom.serve.app import LOG_LEVEL_ENV, SERVING_DIR_ENV
from mailroom.serve.auth import keys_from_env
from mailroom.serve.snapshot import current_snapshot_path


def event_loop_and_parser() -> tuple[str, str]:
    """uvloop and httptools when importable, else asyncio and h11."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return loop, http


def check_startup(serving_dir: Path) -> Path:
    """Refuse to start without API keys or a snapshot (ApiKeyConfigError / SnapshotError)."""
    keys_from_env()
    return current_snapshot_path(serving_dir)


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    serving_dir: Path = Path("data/serving"),
    workers: int = 1,
    log_level: str = "info",
) -> None:
    """Serve until interrupted. Each worker process opens the snapshot itself."""
    import uvicorn

    check_startup(serving_dir)
    os.environ[SERVING_DIR_ENV] = str(serving_dir.resolve())
    os.environ[LOG_LEVEL_ENV] = log_level
    loop, http = event_loop_and_parser()
    uvicorn.run(
        "mailroom.serve.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop=loop,
        http=http,
        access_log=False,  # its lines hold the path, and so e-mails; the app logs its own
        log_level=log_level,
        server_header=False,
        proxy_headers=False,
    )
