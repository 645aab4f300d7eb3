"""Batch runs as durable jobs, through the real SDKs and the batch adapters against the loopback batch APIs: a job
submitted from one kernel is fetched from a new one (same ledger and store), every row answered once, errored and
expired rows marked in the frame and the ledger, each request priced at the batch rate; a job over the limits goes
as several batches; cancel; a second fetch charges nothing twice; the job mirrored in Redis for another machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from tests.agent_support import agent_file
from tests.fakes import Script
from tests.fakes.batches import BatchPlan

MODELS = {"openai": "openai:gpt-4.1-mini", "anthropic": "anthropic:claude-haiku-4-5",
          "gemini": "gemini:gemini-2.5-flash"}
PRICES_ID = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}
PROVIDERS = ["openai", "anthropic", "gemini"]


class Kernels:
    """Shells that stand for one notebook's kernel across restarts: `start()` the first, `restart()` for a new one
    (a new shell and Session on the same ledger and batch store)."""

    def __init__(self, url: str, agents: Path) -> None:
        self.url, self.agents = url, agents
        self.current: InteractiveShell | None = None

    def start(self, *config: str) -> InteractiveShell:
        InteractiveShell.clear_instance()
        ip = InteractiveShell.instance()
        ip.run_line_magic("load_ext", "coditect_magics")
        url = self.url
        for line in (f"base_urls = {{'openai': '{url}/v1', 'anthropic': '{url}', 'gemini': '{url}'}}",
                     "batch_poll_s = 0.05", "batch_poll_max_s = 0.2", "remember = False",
                     f"agent_dirs = ['{self.agents}']", *config):
            ip.run_line_magic("config", f"CoditectMagics.{line}")
        self.current = ip
        return ip

    def restart(self, *config: str) -> InteractiveShell:
        self.stop()
        return self.start(*config)

    def stop(self) -> None:
        if self.current is not None:
            self.current.run_line_magic("unload_ext", "coditect_magics")
            InteractiveShell.clear_instance()
            self.current = None


@pytest.fixture
def kernels(thread_server, monkeypatch, tmp_path):
    for name, key in (("OPENAI_API_KEY", "sk-test-batch-openai"), ("ANTHROPIC_API_KEY", "sk-test-batch-anthropic"),
                      ("GEMINI_API_KEY", "test-batch-gemini")):
        monkeypatch.setenv(name, key)
    agents = tmp_path / "agents"
    agents.mkdir()
    for provider, model in MODELS.items():
        (agents / f"{provider}-helper.md").write_text(agent_file(f"{provider}-helper", model, None,
                                                                 "Answer in one word."))
    (agents / "reader.md").write_text(agent_file("reader", MODELS["openai"], "Read, Grep"))
    made = Kernels(thread_server.url, agents)
    yield made
    made.stop()


def ledger_rows(tmp_path: Path, **equals):
    from coditect_magics.costs import Ledger
    return Ledger(tmp_path / "ledger.sqlite3").rows(**equals)


def batch_price(provider: str, model: str, inp: int, out: int) -> float:
    """What genai-prices lists for this usage at the batch rate (the model must have a listed batch price)."""
    import genai_prices
    usage = genai_prices.Usage(input_tokens=inp, output_tokens=out)
    return float(genai_prices.calc_price(usage, model, provider_id=PRICES_ID[provider],
                                         price_context={"processing": "batch"}).total_price)


def batched_requests(server) -> list[str]:
    """Every custom_id the server's batches hold, over all batches."""
    return [entry.custom_id for batch in server.batches.values() for entry in batch.entries]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_map_goes_as_a_batch_and_a_new_kernel_fills_the_frame(kernels, thread_server, tmp_path, provider):
    thread_server.batch_plan = BatchPlan(polls=2, expire={"r3"})
    thread_server.script(Script(text="Red", input_tokens=1000, output_tokens=500),
                         Script(status=500, error_message="scripted failure"),
                         Script(text="Pear", input_tokens=900, output_tokens=300))
    ip = kernels.start()
    ip.run_cell("import pandas as pd\ndf = pd.DataFrame({'q': ['colour?', 'bad', 'fruit?', 'late']}, "
                "index=['a', 'b', 'c', 'd'])")
    ip.run_line_magic("agent", f"map {provider}-helper df --column q --out ans --batch")
    job = ip.user_ns["_batch"]
    assert job.provider == provider and len(job.parts) == 1 and "ans" not in ip.user_ns["df"]

    ip = kernels.restart()  # a kernel restart: nothing but the store and the ledger carries over
    ip.run_cell("import pandas as pd\ndf = pd.DataFrame({'q': ['colour?', 'bad', 'fruit?', 'late']}, "
                "index=['a', 'b', 'c', 'd'])")
    filled = ip.run_line_magic("agent", f"result {job.id} --wait")
    assert filled is ip.user_ns["df"], "the notebook's own DataFrame gets the column"
    assert list(filled["ans"]) == ["Red", None, "Pear", None]
    status = list(filled["ans_status"])
    assert status[0] == status[2] == "ok" and status[1].startswith("error:") and status[3].startswith("expired:")
    assert sorted(batched_requests(thread_server)) == ["r0", "r1", "r2", "r3"], "each row sent once"
    bodies = [json.dumps(e.request.body) for b in thread_server.batches.values() for e in b.entries]
    assert all("Answer in one word." in b for b in bodies), "the agent's system prompt goes with every row"
    assert [b for b in bodies if "colour?" in b] and [b for b in bodies if "fruit?" in b]

    rows = ledger_rows(tmp_path, run_id=job.id)
    assert sorted(r.status for r in rows) == ["error", "expired", "ok", "ok"]
    assert {r.batch_id for r in rows} == {job.parts[0].id} and {r.agent for r in rows} == {f"{provider}-helper"}
    assert {r.key_name for r in rows} == {f"{provider.upper()}_API_KEY"}, "each row names the key the batch spent"
    name = MODELS[provider].split(":", 1)[1]
    for row in (r for r in rows if r.status == "ok"):
        assert row.price_basis == "batch"
        assert row.cost_usd == pytest.approx(batch_price(provider, name, row.input_tokens, row.output_tokens))
    assert sum(r.cost_usd for r in rows if r.status != "ok") == 0
    from coditect_magics.costs import costs
    shown = costs(run_id=job.id, columns="all")
    assert sorted(shown["price_basis"].dropna()) == ["batch", "batch"] and set(shown["batch_id"]) == {job.parts[0].id}

    ip.run_line_magic("agent", f"result {job.id}")
    kernels.restart().run_line_magic("agent", f"result {job.id[:12]}")
    assert len(ledger_rows(tmp_path, run_id=job.id)) == 4, "fetching again charges nothing twice"


def test_a_model_without_a_listed_batch_price_is_charged_the_documented_discount(kernels, thread_server, tmp_path):
    from coditect_magics.costs import price
    from coditect_magics.costs.prices import lists_batch_price
    assert not lists_batch_price("openai", "gpt-5.3")
    thread_server.default = Script(text="Yes", input_tokens=2000, output_tokens=100)
    ip = kernels.start()
    ip.user_ns["prompts"] = ["one?", "two?"]
    answers = ip.run_line_magic("llm", "batch openai:gpt-5.3 prompts -o answers --wait")
    assert answers == ip.user_ns["answers"] == ["Yes", "Yes"]
    rows = [r for r in ledger_rows(tmp_path) if r.batch_id]
    standard = price("openai", "gpt-5.3", {"input_tokens": 2000, "output_tokens": 100}).usd
    assert [(r.price_basis, r.cost_usd) for r in rows] == [("batch-discount", pytest.approx(standard / 2))] * 2


def test_a_wait_rides_out_passing_faults_and_a_long_outage_leaves_the_job_to_fetch_later(kernels, thread_server):
    thread_server.batch_plan = BatchPlan(polls=1, failing_polls=2)
    thread_server.default = Script(text="Yes")
    ip = kernels.start()
    ip.user_ns["prompts"] = ["one?", "two?"]
    assert ip.run_line_magic("llm", "batch openai:gpt-4.1-mini prompts --wait") == ["Yes", "Yes"]
    thread_server.batch_plan = BatchPlan(polls=1, failing_polls=6)  # five faults in a row end the wait
    with capture_output() as captured:
        ip.run_line_magic("llm", "batch openai:gpt-4.1-mini prompts -o later --wait")
    lines = [line for line in captured.stderr.splitlines() if line.startswith("coditect:")]  # not the progress bar
    assert len(lines) == 1 and "HTTP 503" in lines[0] and "Traceback" not in captured.stderr, captured.stderr
    assert "later" not in ip.user_ns
    job = ip.user_ns["_batch"].id
    ip = kernels.restart()
    ip.run_line_magic("agent", f"result {job} --wait")
    assert ip.user_ns["later"] == ["Yes", "Yes"]


def test_a_job_over_the_limits_goes_as_several_batches_and_comes_back_whole(kernels, thread_server, monkeypatch):
    from coditect_magics.providers.batching import BatchLimits
    from coditect_magics.providers.openai_batch import OpenAIBatch
    monkeypatch.setattr(OpenAIBatch, "limits", BatchLimits(max_requests=2, max_bytes=10_000, one_model=True))
    thread_server.responder = lambda recorded: Script(text=f"re: {recorded.body['messages'][-1]['content']}")
    ip = kernels.start()
    ip.user_ns["prompts"] = [f"p{i}" for i in range(5)]
    ip.run_line_magic("llm", "batch openai:gpt-4.1-mini prompts")
    job = kernels.restart().run_line_magic("agent", "batches").iloc[0]
    assert job["total"] == 5 and len(job["batches"].split(", ")) == 3
    assert kernels.current.run_line_magic("agent", f"result {job['id']} --wait") == [f"re: p{i}" for i in range(5)]
    assert len(thread_server.batches) == 3

    monkeypatch.setattr(OpenAIBatch, "limits", BatchLimits(max_requests=50, max_bytes=400, one_model=True))
    kernels.current.user_ns["long"] = ["short", "x" * 1000]
    with capture_output() as captured:
        kernels.current.run_line_magic("llm", "batch openai:gpt-4.1-mini long")
    assert "request r1 is" in captured.stderr and "at most 400" in captured.stderr
    assert "Traceback" not in captured.stderr and len(thread_server.batches) == 3, "nothing was uploaded"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_cancelled_job_has_every_row_cancelled(kernels, thread_server, tmp_path, provider):
    thread_server.batch_plan = BatchPlan(polls=1000)
    ip = kernels.start()
    ip.user_ns["prompts"] = ["a", "b", "c"]
    ip.run_line_magic("llm", f"batch {MODELS[provider]} prompts -o got")
    job = ip.user_ns["_batch"]
    with capture_output() as captured:
        assert ip.run_line_magic("agent", f"result {job.id}") is None
    assert f"batch job {job.id} is in_progress (0 of 3 done)" in captured.stdout and "got" not in ip.user_ns
    with capture_output() as captured:
        ip.run_line_magic("agent", "cancel _batch")  # the job the cell kept
    assert f"batch job {job.id}" in captured.stdout
    assert ip.run_line_magic("agent", f"result {job.id} --wait 30") == [None, None, None]
    assert list(ip.user_ns["_batch_rows"]["status"]) == ["cancelled"] * 3
    assert [r.status for r in ledger_rows(tmp_path, run_id=job.id)] == ["cancelled"] * 3
    assert ip.run_line_magic("agent", "batches").iloc[0]["status"] == "cancelled"


def test_an_agent_with_tools_is_refused_a_batch(kernels, thread_server):
    ip = kernels.start()
    ip.run_cell("import pandas as pd\ndf = pd.DataFrame({'q': ['x']})")
    with capture_output() as captured:
        ip.run_line_magic("agent", "map reader df --column q --batch")
    assert "agent reader has tools (Read, Grep)" in captured.stderr and "without --batch" in captured.stderr
    assert not thread_server.requests and not thread_server.batches


def test_a_job_mirrored_in_redis_is_fetched_on_other_machines_and_charged_once(kernels, thread_server, tmp_path,
                                                                             redis_url):
    import redis
    thread_server.batch_plan = BatchPlan(polls=1)
    thread_server.responder = lambda recorded: Script(text=recorded.body["messages"][-1]["content"].upper())
    machine = [f"redis_url = '{redis_url}'", "batches_path = '{}'"]
    ip = kernels.start(machine[0], machine[1].format(tmp_path / "a" / "batches.sqlite3"))
    ip.user_ns["prompts"] = ["one", "two"]
    ip.run_line_magic("llm", "batch openai:gpt-4.1-mini prompts")
    job = ip.user_ns["_batch"]
    for name in ("b", "c"):  # two other machines: their own job stores, the team's Redis and ledger
        other = kernels.restart(machine[0], machine[1].format(tmp_path / name / "batches.sqlite3"))
        assert list(other.run_line_magic("agent", "batches")["id"]) == [job.id]
        assert other.run_line_magic("agent", f"result {job.id} --wait") == ["ONE", "TWO"]
    downloads = [r for r in thread_server.requests if r.path.endswith("/content")]
    assert len(downloads) == 2, "each machine fetched the results from the provider"
    assert len(ledger_rows(tmp_path, run_id=job.id)) == 2, "the same requests' rows, written twice, are kept once"
    stored = redis.Redis.from_url(redis_url)
    kept = b"".join(b"".join(stored.hvals(k)) if stored.type(k) == b"hash" else stored.get(k)
                    for k in stored.keys("coditect:batches*"))
    assert job.id.encode() in kept and b"sk-test-batch" not in kept


def test_a_provider_without_a_batch_api_is_named_in_one_line(kernels, thread_server):
    ip = kernels.start()
    ip.user_ns["prompts"] = ["a"]
    with capture_output() as captured:
        ip.run_line_magic("llm", "batch ollama:llama3.2 prompts")
        ip.run_line_magic("llm", "batch openai:gpt-4.1-mini 42")  # not a variable: a prompt, not a batch
    lines = captured.stderr.strip().splitlines()
    assert "ollama has no batch API; batches run on" in lines[0] and "openai" in lines[0]
    assert "Traceback" not in captured.stderr and not thread_server.batches
    assert thread_server.last.body["messages"][-1]["content"] == "batch openai:gpt-4.1-mini 42"


def test_a_spent_budget_refuses_a_new_batch_in_one_line(kernels, thread_server):
    ip = kernels.start()
    ip.user_ns["prompts"] = ["one?", "two?"]
    ip.run_line_magic("llm", "openai:gpt-4.1-mini Spend a little first.")
    ip.run_line_magic("config", "CoditectMagics.budget_total_usd = 0.000001")
    with capture_output() as captured:
        ip.run_line_magic("llm", "batch openai:gpt-4.1-mini prompts -o answers")
    lines = captured.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("coditect: overall budget of $0.0000 reached: $"), lines
    assert not thread_server.batches and "answers" not in ip.user_ns


def test_a_new_kernel_without_the_frame_gets_one_and_a_series_comes_back_on_its_index(kernels, thread_server):
    thread_server.responder = lambda recorded: Script(text=f"re: {recorded.body['messages'][-1]['content']}")
    ip = kernels.start()
    ip.run_cell("import pandas as pd\ndf = pd.DataFrame({'q': ['x', 'y']}, index=[10, 20])\n"
                "s = pd.Series(['u', 'v'], index=['k1', 'k2'])")
    ip.run_line_magic("agent", "map openai-helper df --column q --batch")
    frame_job = ip.user_ns["_batch"].id
    ip.run_line_magic("llm", "batch openai:gpt-4.1-mini s -o answers")
    series_job = ip.user_ns["_batch"].id

    ip = kernels.restart()
    made = ip.run_line_magic("agent", f"result {frame_job} --wait")
    assert made is ip.user_ns["df"] and list(made.index) == [10, 20]
    assert list(made["q"]) == ["x", "y"] and list(made["openai-helper_answer"]) == ["re: x", "re: y"]
    answers = ip.run_line_magic("agent", f"result {series_job} --wait")
    assert answers.to_dict() == {"k1": "re: u", "k2": "re: v"} and answers.name == "answers"
    assert ip.user_ns["answers"] is answers


def test_a_job_keeps_to_the_key_that_made_it(kernels, thread_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY_2", "sk-test-batch-second")
    ip = kernels.start()
    ip.user_ns["prompts"] = ["a"]
    ip.run_line_magic("llm", "batch openai:gpt-4.1-mini prompts")
    job = ip.user_ns["_batch"]
    assert job.key_name == "OPENAI_API_KEY" and thread_server.last.credential == "sk-test-batch-openai"
    monkeypatch.delenv("OPENAI_API_KEY")  # the new kernel has only the second key: not the batch's account
    sent = len(thread_server.requests)
    with capture_output() as captured:
        assert kernels.restart().run_line_magic("agent", f"result {job.id} --wait") is None
    assert "the openai key OPENAI_API_KEY that made this batch job is not set here" in captured.stderr
    assert "Traceback" not in captured.stderr and len(thread_server.requests) == sent
