"""A real browser for the tests: Debian's Chromium driven by Playwright, and a JupyterLab
server on a free localhost port. Nothing is downloaded: Playwright is pointed at the
system's Chromium (``executable_path``) and ``playwright install`` is never run.

Where Chromium or Playwright is missing, :func:`chromium_or_skip` skips the test with one
line saying how to install it; under CI (``CI=true``) it fails instead, so that a green
CI run always means the browser test ran.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "browser"
INSTALL = "install it with `apt-get install -y chromium` (Debian/Ubuntu, as root) and `make setup`"


def chromium_or_skip() -> str:
    """The Chromium executable (``HANDLIB_CHROMIUM`` or ``chromium`` on the PATH) with
    Playwright importable; otherwise skip (fail under ``CI=true``)."""
    exe = os.environ.get("HANDLIB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    problem = None
    if exe is None:
        problem = f"Chromium not found: {INSTALL}"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "Playwright is not installed: run `make setup` (it is a dev dependency)"
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser test cannot run under CI: {problem}")
        pytest.skip(problem)
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(root: Path, env: dict | None = None, timeout: float = 120.0):
    """Start JupyterLab on a free port serving ``root`` (no token, no browser, no news
    or update pop-ups, settings and workspaces in ``root``), yield its base URL, and stop
    it (with its kernels) afterwards."""
    root = Path(root)
    settings = root / ".jupyter-settings"
    notif = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notif.parent.mkdir(parents=True, exist_ok=True)
    notif.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port = free_port()
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
           "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=", "--ServerApp.password=",
           f"--ServerApp.root_dir={root}", "--ServerApp.disable_check_xsrf=True"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        cmd.append("--allow-root")
    full_env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings),
                "JUPYTERLAB_WORKSPACES_DIR": str(root / ".jupyter-workspaces"),
                "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    log = open(root / "jupyterlab.log", "w")
    proc = subprocess.Popen(cmd, cwd=root, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError("JupyterLab did not start:\n" + (root / "jupyterlab.log").read_text()[-3000:])
            time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@contextlib.contextmanager
def browser_page(exe: str, width: int = 1400, height: int = 1000):
    """A headless Chromium page (Playwright) with its console errors and page errors
    collected in ``page.errors`` (a list of strings)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.errors = []
            page.on("console", lambda m: m.type == "error" and page.errors.append(f"console: {m.text}"))
            page.on("pageerror", lambda e: page.errors.append(f"pageerror: {e}"))
            yield page
        finally:
            browser.close()


def write_notebook(path: Path, cells: list[str]) -> Path:
    """A notebook of code ``cells`` (no outputs) for the Python 3 kernel."""
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": f"cell{i}", "metadata": {},
                     "outputs": [], "source": src} for i, src in enumerate(cells)],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                       "language_info": {"name": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1))
    return path
