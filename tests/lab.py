"""A real JupyterLab on 127.0.0.1 (own port, token, settings and workspace dirs; autosave and news off), its kernel
pointed at a loopback provider server, and a headless Debian chromium driven by Playwright: shared by the browser
tests and the panel benchmarks."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if os.path.exists(p)), None)
SETTINGS = {
    # a news toast would cover the page; autosave would write the test's outputs back to the notebook
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if CHROMIUM is None:
        return "no chromium at /usr/lib/chromium/chromium: apt-get install chromium fonts-liberation fonts-dejavu-core"
    for module in ("playwright", "jupyterlab", "ipywidgets"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed: pip install 'coditect-magics[browser-tests]'"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def provider_env(url: str, data: Path) -> dict[str, str]:
    """Every provider at the loopback server, and the kit's ledger, threads, cache and memory in `data`."""
    return {"ANTHROPIC_API_KEY": "sk-ant-lab-test", "ANTHROPIC_BASE_URL": url,
            "OPENAI_API_KEY": "sk-lab-test", "OPENAI_BASE_URL": f"{url}/v1",
            "GEMINI_API_KEY": "lab-gemini-test", "GOOGLE_GEMINI_BASE_URL": url, "HF_BASE_URL": url,
            "OLLAMA_HOST": url, "LMSTUDIO_BASE_URL": f"{url}/v1", "NO_PROXY": "127.0.0.1,localhost",
            "CODITECT_LEDGER": str(data / "ledger.sqlite3"), "CODITECT_CACHE": str(data / "cache.sqlite3"),
            "CODITECT_THREADS": str(data / "threads.sqlite3"), "CODITECT_MEMORY_DIR": str(data / "memory")}


@contextmanager
def jupyterlab(root: Path, env: dict[str, str]) -> Iterator[str]:
    """JupyterLab serving `root`; yields its URL with the token as a query (`{url}/lab?token=...`)."""
    port, token = free_port(), secrets.token_hex(16)
    settings, workspaces = root.parent / "lab-settings", root.parent / "lab-workspaces"
    for name, values in SETTINGS.items():
        path = settings / name.replace("/", os.sep, 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    workspaces.mkdir(exist_ok=True)
    env = {**os.environ, **env, "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(workspaces),
           "JUPYTER_RUNTIME_DIR": str(root.parent / "lab-runtime")}
    log = open(root.parent / "lab.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--no-browser", "--allow-root"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start: {(root.parent / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.2)
        yield f"{base}?token={token}"
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def write_notebook(path: Path, sources: list[str]) -> Path:
    import nbformat
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources], metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(notebook, path)
    return path


@contextmanager
def browser() -> Iterator[Any]:
    """A headless chromium page (1280 × 900)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium.new_page(viewport={"width": 1280, "height": 900})
        finally:
            chromium.close()


def open_and_run_all(page: Any, lab_url: str, notebook: str) -> None:
    """Open the notebook, wait for an idle kernel, and run every cell from the Run menu."""
    base, _, query = lab_url.partition("?")
    page.goto(f"{base}/lab/tree/{notebook}?{query}")
    page.locator("#jp-main-statusbar", has_text="| Idle").wait_for(timeout=90_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator('li.lm-Menu-item[data-command="runmenu:run-all"]').click()


def wait_idle(page: Any, timeout_s: float = 180) -> None:
    """Wait until the kernel has run every cell (widget messages queue behind running cells)."""
    page.wait_for_timeout(500)
    page.locator("#jp-main-statusbar", has_text="| Idle").wait_for(timeout=timeout_s * 1000)


def shoot(locator: Any, path: Path) -> Path:
    """A screenshot of one panel."""
    path.parent.mkdir(parents=True, exist_ok=True)
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(path))
    return path


@contextmanager
def notebook_page(root: Path, data: Path, notebook: str, server_url: str) -> Iterator[Any]:
    """JupyterLab on `root` with `notebook` open in chromium, its kernel idle, its first cell (the extension's load)
    run; the providers point at the loopback server at `server_url`."""
    with jupyterlab(root, provider_env(server_url, data)) as url, browser() as page:
        base_url, _, query = url.partition("?")
        page.goto(f"{base_url}/lab/tree/{notebook}?{query}")
        page.locator("#jp-main-statusbar", has_text="| Idle").wait_for(timeout=90_000)
        page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Control+Enter")
        wait_idle(page)
        yield page


def run_cell(page: Any, marker: str) -> Any:
    """Click into the cell holding `marker` and run it in place (Ctrl+Enter); its locator."""
    cell = page.locator(".jp-Notebook .jp-Cell", has_text=marker).first
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    return cell


def card_of(cell: Any) -> Any:
    """The approval card in a cell's output, once it shows."""
    card = cell.locator(".jp-OutputArea-output .cm-approval").first
    card.wait_for(timeout=60_000)
    return card


def tool_result(recorded: Any) -> str | None:
    """The tool message the kit sent back (OpenAI's wire form), if this request carries one."""
    found = [m for m in (recorded.body or {}).get("messages", []) if m.get("role") == "tool"]
    return found[-1]["content"] if found else None


def requests_for(page: Any, marker: str) -> list:
    """The chat requests the page's loopback server received for the cell holding `marker`."""
    return [r for r in page.server.requests if r.path.endswith("/chat/completions") and marker in r.prompt]
