"""Images for the model through `%llm --image` in a real InteractiveShell: the image part each SDK really sent to the
loopback server (media type and base64 payload), `--image _`, figures, PIL and IPython images, files, and the
clear refusal (with no request) for models that cannot read images."""

from __future__ import annotations

import base64
import io
import random
import subprocess
import sys

import pytest

from coditect_magics.images import MAX_BYTES, MAX_SIDE, image_part
from coditect_magics.providers.types import ImagePart
from tests import parts
from tests.fakes import Script

matplotlib = parts.module("matplotlib", "pip install -e '.[dev]'")
matplotlib.use("Agg")
Image = parts.module("PIL.Image", "pip install -e '.[dev]' (pillow)")


@pytest.fixture(autouse=True)
def nothing_shown_before():
    """pyplot's figures are process-wide, and so are the display outputs IPython keeps (a class-level dict shared
    by every shell): each test starts and ends with none."""
    import matplotlib.pyplot as plt
    from IPython.core.history import HistoryManager
    plt.close("all")
    HistoryManager.outputs.clear()
    yield
    plt.close("all")
    HistoryManager.outputs.clear()


def png_bytes(size: tuple[int, int] = (4, 3), color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def sent_images(body: dict, provider: str) -> list[tuple[str | None, bytes]]:
    """(media type, bytes) of each image in the last user turn, read from the provider's own wire format."""
    if provider == "anthropic":
        blocks = body["messages"][-1]["content"]
        return [(b["source"]["media_type"], base64.b64decode(b["source"]["data"])) for b in blocks
                if b["type"] == "image"]
    if provider == "openai":
        images = []
        for part in body["messages"][-1]["content"]:
            if part["type"] == "image_url":
                header, data = part["image_url"]["url"].split(",", 1)
                images.append((header.removeprefix("data:").removesuffix(";base64"), base64.b64decode(data)))
        return images
    if provider == "ollama":  # Ollama's API carries bare base64 images, no media type
        return [(None, base64.b64decode(data)) for data in body["messages"][-1].get("images", [])]
    if provider == "gemini":
        parts = body["contents"][-1]["parts"]
        return [(p["inlineData"].get("mimeType", p["inlineData"].get("mime_type")),
                 base64.b64decode(p["inlineData"]["data"])) for p in parts if "inlineData" in p]
    raise AssertionError(provider)


def sent_text(body: dict, provider: str) -> str:
    if provider == "gemini":
        return "".join(p.get("text", "") for p in body["contents"][-1]["parts"])
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content)


@pytest.fixture
def gemini_too(shell, thread_server, monkeypatch):
    """Gemini pointed at the loopback server as well (by %config, as a user would)."""
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-test-key-0001")
    url = thread_server.url
    shell.run_line_magic("config", f"CoditectMagics.base_urls = {{'openai': '{url}/v1', 'anthropic': '{url}', "
                                   f"'ollama': '{url}', 'gemini': '{url}'}}")
    return shell


@pytest.mark.parametrize("model", ["anthropic:claude-sonnet-4-6", "openai:gpt-4o", "ollama:llama3.2-vision",
                                   "gemini:gemini-2.5-flash"])
def test_an_image_file_reaches_each_provider_as_its_image_part(gemini_too, thread_server, tmp_path, model):
    png = png_bytes()
    (tmp_path / "chart.png").write_bytes(png)
    thread_server.script(Script(text="A red square."))
    result = gemini_too.run_line_magic("llm", f"--image {tmp_path / 'chart.png'} {model} What is this?")
    assert result.text == "A red square."
    provider = model.split(":")[0]
    media_type, data = sent_images(thread_server.last.body, provider)[0]
    assert data == png and media_type == (None if provider == "ollama" else "image/png")
    assert sent_text(thread_server.last.body, provider) == "What is this?"


def test_last_figure_shown_with_underscore(shell, thread_server):
    shell.run_cell("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.bar(['a', 'b'], [3, 5])",
                   store_history=True)
    shell.run_line_magic("llm", "--image _ openai:gpt-4o What does the chart show?")
    [(media_type, data)] = sent_images(thread_server.last.body, "openai")
    assert media_type == "image/png" and data == image_part(shell.user_ns["fig"]).data
    assert Image.open(io.BytesIO(data)).size[0] > 100


def test_underscore_finds_a_closed_figure_through_the_output_history(shell, thread_server):
    """The inline backend closes figures once shown; the artists `plt.plot` returned still hold theirs."""
    shell.run_cell("import matplotlib.pyplot as plt\nfirst = plt.figure()\nplt.plot([1, 2])", store_history=True)
    shell.run_cell("second = plt.figure()\nplt.plot([2, 1])", store_history=True)
    shell.run_cell("plt.close('all')", store_history=True)
    shell.run_line_magic("llm", "--image _ openai:gpt-4o Which way does the line go?")
    [(_, data)] = sent_images(thread_server.last.body, "openai")
    assert data == image_part(shell.user_ns["second"]).data != image_part(shell.user_ns["first"]).data


def test_underscore_finds_an_image_ipython_displayed(shell, thread_server):
    png = png_bytes(color="blue")
    shell.user_ns["png"] = png
    shell.run_cell("from IPython.display import display, Image\ndisplay(Image(data=png))", store_history=True)
    shell.run_line_magic("llm", "--image _ anthropic:claude-sonnet-4-6 What colour?")
    assert sent_images(thread_server.last.body, "anthropic") == [("image/png", png)]


def test_underscore_with_nothing_shown_is_a_clear_error(shell, thread_server, capsys):
    assert shell.run_line_magic("llm", "--image _ openai:gpt-4o What is this?") is None
    assert "--image _: no figure or image shown yet" in capsys.readouterr().err
    assert not thread_server.requests


def test_pil_image_goes_as_png_scaled_down(shell, thread_server):
    shell.user_ns["photo"] = Image.new("RGB", (4000, 2000), "green")
    shell.run_line_magic("llm", "--image photo anthropic:claude-sonnet-4-6 Describe")
    [(media_type, data)] = sent_images(thread_server.last.body, "anthropic")
    sent = Image.open(io.BytesIO(data))
    assert media_type == "image/png" and sent.format == "PNG"
    assert sent.size == (MAX_SIDE, MAX_SIDE // 2) and sent.getpixel((0, 0)) == (0, 128, 0)


def test_ipython_image_and_jpeg_file_keep_their_bytes_and_several_images_keep_their_order(shell, thread_server,
                                                                                          tmp_path):
    from IPython.display import Image as IPythonImage
    png = png_bytes(color="white")
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "black").save(buffer, format="JPEG")
    (tmp_path / "photo.jpg").write_bytes(buffer.getvalue())
    shell.user_ns["shown"] = IPythonImage(data=png)
    shell.user_ns["path"] = str(tmp_path / "photo.jpg")
    shell.run_cell_magic("llm", "--image shown --image path openai:gpt-4o", "Compare the two.")
    assert sent_images(thread_server.last.body, "openai") == [("image/png", png), ("image/jpeg", buffer.getvalue())]
    assert sent_text(thread_server.last.body, "openai") == "Compare the two."


@pytest.mark.parametrize("model, suggestion", [
    ("openai:gpt-3.5-turbo", "openai:gpt-4.1-mini"),
    ("ollama:llama3.2", "ollama:llama3.2-vision"),
    ("ollama:gemma3:1b", "ollama:llama3.2-vision"),
])
def test_a_model_that_cannot_read_images_is_refused_before_any_request(shell, thread_server, capsys, model,
                                                                        suggestion):
    shell.user_ns["pic"] = Image.new("RGB", (2, 2))
    assert shell.run_line_magic("llm", f"--image pic {model} Describe") is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{model} does not accept images; use a vision model such as {suggestion}" in err
    assert not thread_server.requests


def test_a_fallback_that_cannot_read_images_is_refused_too(shell, thread_server, capsys):
    shell.user_ns["pic"] = Image.new("RGB", (2, 2))
    shell.run_line_magic("llm", "--image pic --fallback openai:gpt-3.5-turbo openai:gpt-4o Describe")
    assert "openai:gpt-3.5-turbo does not accept images" in capsys.readouterr().err
    assert not thread_server.requests


def test_bad_image_arguments_say_what_to_pass(shell, thread_server, capsys, tmp_path):
    shell.run_line_magic("llm", "--image nowhere.png openai:gpt-4o Describe")
    assert "--image nowhere.png: no variable or image file of that name" in capsys.readouterr().err
    shell.user_ns["numbers"] = [1, 2]
    shell.run_line_magic("llm", "--image numbers openai:gpt-4o Describe")
    assert "cannot send a list as an image: pass a matplotlib figure" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("not a picture")
    shell.run_line_magic("llm", f"--image {tmp_path / 'notes.txt'} openai:gpt-4o Describe")
    assert "notes.txt is not an image" in capsys.readouterr().err
    (tmp_path / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(6 * 2**20))
    shell.run_line_magic("llm", f"--image {tmp_path / 'huge.png'} openai:gpt-4o Describe")
    assert "huge.png is 6.0 MB, over the 5 MB a model takes per image" in capsys.readouterr().err
    assert not thread_server.requests


def test_other_formats_are_converted_to_png():
    buffer = io.BytesIO()
    Image.new("RGB", (3, 3), "red").save(buffer, format="BMP")
    part = image_part(buffer.getvalue())
    assert part.media_type == "image/png" and Image.open(io.BytesIO(part.data)).getpixel((1, 1)) == (255, 0, 0)
    buffer = io.BytesIO()
    Image.new("RGB", (3, 3)).save(buffer, format="WEBP")
    assert image_part(buffer.getvalue()) == ImagePart("image/webp", buffer.getvalue())


def test_pil_images_png_cannot_hold_are_converted_and_noisy_photos_go_as_jpeg():
    cmyk = image_part(Image.new("CMYK", (3, 3), (0, 255, 255, 0)))
    assert cmyk.media_type == "image/png" and Image.open(io.BytesIO(cmyk.data)).getpixel((0, 0)) == (255, 0, 0)
    noise = Image.frombytes("RGB", (1600, 1600), random.Random(7).randbytes(1600 * 1600 * 3))
    photo = image_part(noise)  # as PNG it would be ~7 MB, over the limit
    assert photo.media_type == "image/jpeg" and len(photo.data) <= MAX_BYTES
    assert Image.open(io.BytesIO(photo.data)).size == (MAX_SIDE, MAX_SIDE)


def test_explain_a_figure_sends_it_as_an_image(shell, thread_server):
    shell.run_cell("import matplotlib.pyplot as plt\nfig = plt.figure()\nplt.plot([1, 4, 9])")
    shell.run_line_magic("llm", "explain fig anthropic:claude-sonnet-4-6")
    body = thread_server.last.body
    assert sent_images(body, "anthropic") == [("image/png", image_part(shell.user_ns["fig"]).data)]
    assert sent_text(body, "anthropic") == "Explain this image from the notebook (`fig`, a matplotlib.figure.Figure)."


def test_images_module_imports_neither_matplotlib_nor_pil():
    code = ("import sys, coditect_magics.images;"
            "print(sorted(m for m in ('matplotlib', 'PIL', 'numpy', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
