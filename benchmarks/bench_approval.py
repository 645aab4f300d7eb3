"""The approval card in the browser: how long after the model's tool call arrives the card is on screen (goal
≤ 100 ms), for a `%%llm --tools RunPython` cell in JupyterLab against a loopback OpenAI server with no latency.

    python benchmarks/bench_approval.py [--runs 10]

From the loopback server handing out the streamed tool call (time.time() as the response starts; the reply is a
few hundred bytes on loopback) to the frame after the card's element enters the page (performance.timeOrigin +
performance.now(), the same clock), through the real path: the SDK's stream, the kit's tool loop and approval
policy, the event to the kernel's main thread, the card's widgets, the comm messages and the widget renderer. The
first run of a kernel is reported apart (it imports ipywidgets and pygments unless a run warmed them)."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import Report, quantile  # noqa: E402

from tests import lab  # noqa: E402
from tests.fakes import FakeServer, Script  # noqa: E402

CELLS = ["%load_ext coditect_magics\n%config CoditectMagics.remember = False",
         "%%llm openai:gpt-4o --tools RunPython\nCompute the bench total."]
CODE = "bench_total = sum(range(1000))\nprint(bench_total)"

WATCH_JS = """() => {
  window.cmCardShown = null;
  const seen = new MutationObserver(() => {
    if (document.querySelector('.jp-OutputArea-output .cm-approval:not(.cm-decided)')) {
      seen.disconnect();
      requestAnimationFrame(() => { window.cmCardShown = performance.timeOrigin + performance.now(); });
    }
  });
  seen.observe(document.querySelector('.jp-Notebook'), {childList: true, subtree: true});
}"""


class Model:
    """The loopback model: a RunPython call at once (its send time kept), then a short answer."""

    def __init__(self) -> None:
        self.sent: list[float] = []

    def __call__(self, recorded) -> Script:
        if any(m.get("role") == "tool" for m in (recorded.body or {}).get("messages", [])):
            return Script(text="Done.")
        self.sent.append(time.time())
        return Script(text="", tool_calls=[{"id": f"call-{len(self.sent)}", "name": "RunPython",
                                            "arguments": {"code": CODE}}])


def card_ms(page, model: Model) -> float:
    """Run the cell once; milliseconds from the tool call leaving the server to the card on screen."""
    page.evaluate(WATCH_JS)
    cell = page.locator(".jp-Notebook .jp-Cell", has_text="bench total").first
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => window.cmCardShown !== null", timeout=60_000)
    shown = page.evaluate("() => window.cmCardShown")
    cell.locator(".cm-approval button.cm-deny").click()
    cell.locator(".cm-decided").wait_for(timeout=30_000)
    lab.wait_idle(page)
    return shown - model.sent[-1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if lab.missing():
        sys.exit(f"cannot run: {lab.missing()}")
    model, server = Model(), FakeServer()
    server.start_in_thread()
    server.responder = model
    with tempfile.TemporaryDirectory() as tmp:
        root, data = Path(tmp) / "root", Path(tmp) / "data"
        root.mkdir()
        data.mkdir()
        lab.write_notebook(root / "bench_approval.ipynb", CELLS)
        with lab.notebook_page(root, data, "bench_approval.ipynb", server.url) as page:
            times = [card_ms(page, model) for _ in range(args.runs + 1)]
    server.stop_thread()
    first, warm = times[0], times[1:]
    table = Report(width=56)
    table.line("approval card on screen after the tool call, median", statistics.median(warm), "ms", 100,
               sign="≤")
    table.info("p90 / max", f"{quantile(warm, 0.9):.0f} / {max(warm):.0f} ms over {len(warm)} runs")
    table.info("first card of the kernel", f"{first:.0f} ms")


if __name__ == "__main__":
    main()
