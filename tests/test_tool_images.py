"""Images back to the model: a figure RunPython draws reaches each provider as an image in (or right after) the tool
result, in the form its API takes; a model that reads no images gets a note instead."""

from __future__ import annotations

import base64

import pytest

from tests import parts
from tests.fakes import Script

parts.module("matplotlib", "pip install -e '.[dev]'")

DRAW = ("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "plt.figure(figsize=(2, 2)); plt.plot([1, 3, 2]); 'drawn'")
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()[:10]   # how every base64 PNG starts


def call(id_: str, name: str, **arguments) -> dict:
    return {"id": id_, "name": name, "arguments": arguments}


@pytest.fixture
def drawing(shell, thread_server, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "test-gemini-key")
    url = thread_server.url
    shell.run_line_magic("config", f"CoditectMagics.base_urls = {{'openai': '{url}/v1', 'anthropic': '{url}', "
                                   f"'ollama': '{url}', 'gemini': '{url}'}}")

    def run(model: str) -> dict:
        thread_server.script(Script(tool_calls=[call("c1", "RunPython", code=DRAW)]), Script(text="A line."))
        shell.run_cell_magic("llm", f"{model} --tools RunPython --allow run", "Draw it and look.")
        import matplotlib.pyplot as plt
        plt.close("all")
        return thread_server.last.body

    return run


def test_anthropic_gets_the_figure_inside_the_tool_result(drawing):
    body = drawing("anthropic:claude-sonnet-4-6")
    [result] = [b for b in body["messages"][-1]["content"] if b["type"] == "tool_result"]
    text, image = result["content"]
    assert "[result]\n'drawn'" in text["text"] and "[figures] 1 made" in text["text"]
    assert image["type"] == "image" and image["source"]["media_type"] == "image/png"
    assert image["source"]["data"].startswith(PNG)


def test_openai_gets_the_figure_in_a_user_message_right_after_the_tool_message(drawing):
    body = drawing("openai:gpt-4o")
    tool, after = body["messages"][-2:]
    assert tool["role"] == "tool" and "'drawn'" in tool["content"]
    assert after["role"] == "user" and after["content"][1]["image_url"]["url"].startswith(f"data:image/png;base64,{PNG}")


def test_gemini_gets_the_figure_after_the_function_response(drawing):
    body = drawing("gemini:gemini-2.5-flash")
    parts = body["contents"][-1]["parts"]
    assert "functionResponse" in parts[0] and "'drawn'" in parts[0]["functionResponse"]["response"]["output"]
    inline = parts[1]["inlineData"]   # google-genai writes the mime type in either case
    assert inline.get("mimeType", inline.get("mime_type")) == "image/png" and inline["data"].startswith(PNG)


def test_an_ollama_vision_model_gets_it_and_a_text_model_a_note(drawing):
    body = drawing("ollama:llava")
    tool = body["messages"][-1]
    assert tool["role"] == "tool" and tool["images"][0].startswith(PNG)
    body = drawing("ollama:llama3.2")
    tool = body["messages"][-1]
    assert "images" not in tool and "1 image(s) left out: ollama:llama3.2 does not read images" in tool["content"]
