"""Several keys per provider against the loopback server (which records the credential of every request): calls
spread over them, a 429 on one key moves the next calls to the other without waiting its Retry-After, a 401 marks a
key bad for the session with a one-line warning naming it (never its value), each key has its own rate-limit window,
and the ledger records which key each call spent."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter

import pytest
from IPython.utils.capture import capture_output

from coditect_magics.executor import Executor, ExecutorSettings
from coditect_magics.keys import KeyPool, KeyStore
from coditect_magics.providers import errors
from tests.conftest import MESSAGES
from tests.fakes import Script

A, B = "sk-key-A-SECRET-aaaa1111", "sk-key-B-SECRET-bbbb2222"
MODEL = "openai:gpt-4.1-mini"


@pytest.fixture
def two_keys(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", A)
    monkeypatch.setenv("OPENAI_API_KEY_2", B)


@pytest.fixture
async def rotating(server, two_keys, tmp_path):
    """`rotating(**settings)`: an executor on the loopback server with the two keys; `.said` holds its warnings."""
    made: list[Executor] = []

    def make(**settings) -> Executor:
        said: list[str] = []
        pool = KeyPool(KeyStore(tmp_path / "config"), warn=said.append)
        executor = Executor(ExecutorSettings(provider_options={"openai": {"base_url": f"{server.url}/v1"}},
                                             ledger_path=str(tmp_path / "ledger.sqlite3"), cache="off",
                                             backoff_initial_s=0.01, backoff_max_s=0.05, **settings), keys=pool)
        executor.said = said
        made.append(executor)
        return executor

    yield make
    for executor in made:
        await executor.aclose()


def rows_of(executor: Executor) -> list[tuple[str, str | None]]:
    return [(r.status, r.key_name) for r in executor.ledger.rows()]


async def test_a_429_on_one_key_sends_the_next_calls_to_the_other_at_once(server, rotating):
    executor = rotating()
    server.responder = lambda r: Script(status=429, retry_after="30", error_message="slow down") \
        if r.credential == A else Script(text="ok")
    started = time.monotonic()
    for _ in range(3):
        assert (await executor.run(MODEL, MESSAGES)).text == "ok"
    assert [r.credential for r in server.requests] == [A, B, B, B]
    assert time.monotonic() - started < 10, "key A's Retry-After (30 s) holds key A only"
    assert rows_of(executor) == [("error", "OPENAI_API_KEY"), ("ok", "OPENAI_API_KEY_2"),
                                 ("ok", "OPENAI_API_KEY_2"), ("ok", "OPENAI_API_KEY_2")]
    assert executor.said == [], "a rate limit is no reason to warn"
    from coditect_magics.costs import costs
    assert costs(ledger=executor.ledger)["key_name"].tolist() == [name for _, name in rows_of(executor)]


async def test_a_401_marks_the_key_bad_for_the_session_naming_it(server, rotating):
    executor = rotating()
    server.responder = lambda r: Script(status=401, error_message="Incorrect API key provided") \
        if r.credential == A else Script(text="ok")
    for _ in range(4):
        assert (await executor.run(MODEL, MESSAGES)).text == "ok"
    assert [r.credential for r in server.requests] == [A, B, B, B, B]
    assert executor.said == ["openai key OPENAI_API_KEY was refused (HTTP 401); it is skipped for the rest of this "
                             "session"]
    assert A not in repr(executor.ledger.rows()) and A not in executor.said[0]
    assert rows_of(executor)[0] == ("error", "OPENAI_API_KEY")


async def test_when_every_key_is_refused_the_error_is_the_usual_one_line(server, rotating):
    executor = rotating()
    server.default = Script(status=403, error_message="permission denied")
    with pytest.raises(errors.AuthenticationFailed) as first:
        await executor.run(MODEL, MESSAGES)
    assert "authentication failed (HTTP 403)" in str(first.value)
    assert [r.credential for r in server.requests] == [A, B]
    with pytest.raises(errors.AuthenticationFailed) as later:
        await executor.run(MODEL, MESSAGES)
    assert str(later.value) == ("openai: every openai key was refused this session (OPENAI_API_KEY, "
                                "OPENAI_API_KEY_2); store a valid one with %llm keys set openai (or fix the variables "
                                "and restart the kernel)")
    assert len(server.requests) == 2, "no request is sent with a key known bad"
    assert executor.said == ["openai key OPENAI_API_KEY was refused (HTTP 403); it is skipped for the rest of this "
                             "session"], "the last key's refusal is the call's own error, not a second line"


async def test_calls_spread_over_both_keys_under_load(server, rotating):
    executor = rotating()
    server.latency = 0.05
    replies = await asyncio.gather(*(executor.run(MODEL, MESSAGES) for _ in range(20)))
    assert all(r.text for r in replies)
    assert Counter(r.credential for r in server.requests) == {A: 10, B: 10}
    assert Counter(name for _, name in rows_of(executor)) == {"OPENAI_API_KEY": 10, "OPENAI_API_KEY_2": 10}


async def test_each_key_has_its_own_rate_limit_window(server, rotating):
    executor = rotating(rate_limits={"openai": "1/minute"})
    started = time.monotonic()
    await asyncio.gather(executor.run(MODEL, MESSAGES), executor.run(MODEL, MESSAGES))
    assert time.monotonic() - started < 30, "one call per key went at once"
    assert sorted(r.credential for r in server.requests) == sorted([A, B])
    with pytest.raises(asyncio.TimeoutError):  # both windows are full now: a third call waits for one
        await asyncio.wait_for(executor.run(MODEL, MESSAGES), 1.0)
    assert len(server.requests) == 2


async def test_an_explicit_key_is_the_only_one(server, rotating, tmp_path):
    executor = rotating()
    executor.settings = ExecutorSettings(provider_options={"openai": {"base_url": f"{server.url}/v1",
                                                                      "api_key": "sk-explicit-SECRET-cccc"}},
                                         ledger_path=str(tmp_path / "ledger.sqlite3"), cache="off")
    await executor.run(MODEL, MESSAGES)
    await executor.run(MODEL, MESSAGES)
    assert [r.credential for r in server.requests] == ["sk-explicit-SECRET-cccc"] * 2
    assert [name for _, name in rows_of(executor)] == ["api_key=", "api_key="]


def test_in_a_notebook_the_refused_key_is_one_line_and_the_reply_comes(shell, thread_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", A)
    monkeypatch.setenv("OPENAI_API_KEY_2", B)
    thread_server.responder = lambda r: Script(status=401, error_message=f"bad key {r.credential}", echo_key=False) \
        if r.credential == A else Script(text="Hello from key B.")
    with capture_output() as captured:
        result = shell.run_line_magic("llm", f"{MODEL} Say hello")
    assert result.text == "Hello from key B."
    assert captured.stderr.strip() == ("coditect: openai key OPENAI_API_KEY was refused (HTTP 401); it is skipped "
                                       "for the rest of this session")
    listing = shell.run_line_magic("llm", "list").data
    assert "key from OPENAI_API_KEY, OPENAI_API_KEY_2" in listing
    assert A not in captured.stdout + captured.stderr + listing


async def test_a_key_window_is_shared_through_redis_by_key(server, rotating, redis_url):
    first = rotating(rate_limits={"openai": "1/minute"}, redis_url=redis_url)
    second = rotating(rate_limits={"openai": "1/minute"}, redis_url=redis_url)  # another kernel, the same Redis
    await first.run(MODEL, MESSAGES)
    await second.run(MODEL, MESSAGES)  # its turn starts at key A, whose window the first kernel filled
    assert [r.credential for r in server.requests] == [A, B]
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(second.run(MODEL, MESSAGES), 1.0)
    assert len(server.requests) == 2


async def test_when_every_key_cools_past_the_wait_budget_the_call_gives_up_at_once(server, rotating):
    executor = rotating(max_wait_s=5)
    server.default = Script(status=429, retry_after="100", error_message="slow down")
    started = time.monotonic()
    with pytest.raises(errors.RateLimited):
        await executor.run(MODEL, MESSAGES)
    assert [r.credential for r in server.requests] == [A, B]
    with pytest.raises(errors.RateLimited) as later:
        await executor.run(MODEL, MESSAGES)
    assert re.search(r"every openai key is rate limited for (99|100) s more", str(later.value))
    assert len(server.requests) == 2 and time.monotonic() - started < 30, "nothing sent, nothing waited"


async def test_the_search_wrapper_spends_the_wrapped_providers_keys(server, rotating):
    executor = rotating()
    server.responder = lambda r: Script(status=401, error_message="Incorrect API key") if r.credential == A \
        else Script(text="ok")
    executor.settings = ExecutorSettings(**{**executor.settings.__dict__, "provider_options": {
        "search": {"base_url": f"{server.url}/v1", "options": {"backend": lambda *a, **k: []}}}})
    reply = await executor.run("search:openai:gpt-4.1-mini", MESSAGES)
    assert reply.text == "ok" and [r.credential for r in server.requests] == [A, B]
    assert rows_of(executor) == [("error", "OPENAI_API_KEY"), ("ok", "OPENAI_API_KEY_2")]


def test_a_key_stored_again_after_a_refusal_is_used_at_once(shell, thread_server, monkeypatch, tmp_path):
    import getpass
    monkeypatch.setenv("CODITECT_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": A)
    shell.run_line_magic("llm", "keys set openai")
    thread_server.responder = lambda r: Script(status=401, error_message="revoked") if r.credential == A \
        else Script(text="ok")
    with capture_output() as captured:
        shell.run_line_magic("llm", f"{MODEL} one")
        shell.run_line_magic("llm", f"{MODEL} two")
    assert captured.stderr.count("authentication failed (HTTP 401)") == 2, "a lone key: each call says it"
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": B)
    shell.run_line_magic("llm", "keys set openai")  # the same name, a new value: no restart needed
    assert shell.run_line_magic("llm", f"{MODEL} three").text == "ok"
    assert [r.credential for r in thread_server.requests] == [A, A, B]


async def test_a_lone_key_refused_is_not_put_aside(server, rotating, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY_2")
    executor = rotating()
    server.script(Script(status=401, error_message="Incorrect API key provided"), Script(text="ok"))
    with pytest.raises(errors.AuthenticationFailed):
        await executor.run(MODEL, MESSAGES)
    assert (await executor.run(MODEL, MESSAGES)).text == "ok", "each call asks the server, as before"
    assert executor.said == []
