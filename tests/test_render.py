"""Notebook values rendered for the model by type (render.render, through interpolate and the magics): compact bounded
tables, JSON, tracebacks, rich reprs and arrays, each with a note when cut; keys scrubbed; braces left alone."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from coditect_magics.context import interpolate
from coditect_magics.providers.secrets import remember
from coditect_magics.render import LIMITS, Limits, render
from tests.fakes import Script


def table_rows(text: str) -> list[list[str]]:
    """The cells of each Markdown table line after the header and separator."""
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line[2:-2].split(" | ")] for line in lines[2:]]


# tables

def test_small_frame_is_a_whole_table_under_its_shape_and_dtypes():
    frame = pd.DataFrame({"city": ["Oslo", "Lima"], "temp": [3.25, 19.0], "rain": [True, False]})
    text = render(frame)
    head, dtypes, blank, header, separator, *rows = text.splitlines()
    assert head == "DataFrame: 2 rows × 3 columns"
    assert dtypes == f"dtypes: city {frame.dtypes['city']}, temp float64, rain bool"  # str or object by pandas version
    assert (header, separator) == ("|  | city | temp | rain |", "| --- | --- | --- | --- |")
    assert rows == ["| 0 | Oslo | 3.25 | True |", "| 1 | Lima | 19 | False |"]
    assert "truncated" not in text


def test_long_frame_shows_head_and_tail_with_a_note_and_the_full_shape():
    frame = pd.DataFrame({"n": range(1000), "square": [i * i for i in range(1000)]})
    text = render(frame)
    assert text.splitlines()[0] == ("DataFrame: 1000 rows × 2 columns (truncated: showing the first 10 and last 10 "
                                    "of 1000 rows)")
    rows = table_rows(text)
    assert [r[0] for r in rows] == [*map(str, range(10)), "…", *map(str, range(990, 1000))]
    assert rows[-1] == ["999", "999", "998001"]
    assert len(text) < LIMITS.chars


def test_wide_frame_keeps_the_first_and_last_columns():
    frame = pd.DataFrame([list(range(30))], columns=[f"c{i}" for i in range(30)])
    text = render(frame, Limits(columns=4))
    assert "(truncated: showing the first 2 and last 2 of 30 columns)" in text.splitlines()[0]
    assert table_rows(text) == [["0", "0", "1", "…", "28", "29"]]
    assert "| --- | --- | --- | --- | --- | --- |" in text


def test_a_frame_shrinks_to_the_character_bound_and_cuts_long_cells():
    frame = pd.DataFrame({"text": ["word " * 50] * 200, "n": range(200)})
    limits = Limits(rows=40, cell_chars=30, chars=1200)
    text = render(frame, limits)
    assert len(text) <= 1200
    rows = table_rows(text)
    assert len(rows[0][1]) == 30 and rows[0][1].endswith("…")
    assert "of 200 rows" in text.splitlines()[0] and len(rows) < 40


def test_pipes_and_newlines_in_cells_do_not_break_the_table():
    text = render(pd.DataFrame({"a": ["x|y", "two\nlines"]}))
    assert table_rows(text) == [["0", "x\\|y"], ["1", "two lines"]]


def test_series_and_styler():
    text = render(pd.Series([1.5, 2.5, 4.0], name="price"))
    assert text.splitlines()[0] == "Series 'price': 3 values"
    assert table_rows(text) == [["0", "1.5"], ["1", "2.5"], ["2", "4"]]
    styled = render(pd.DataFrame({"a": [1]}).style.highlight_max())
    assert styled.startswith("DataFrame: 1 rows × 1 columns") and "<style" not in styled


# JSON, tracebacks, reprs, arrays, text

def test_dict_list_and_tuple_as_json():
    value = {"name": "run-7", "scores": [0.5, 1], "ok": True, "none": None, "nested": {"a": (1, 2)}}
    assert json.loads(render(value)) == {**value, "nested": {"a": [1, 2]}}
    assert json.loads(render([1, "two", 3.0])) == [1, "two", 3.0]
    assert render((1, 2)) == "[1, 2]"


def test_big_json_is_cut_with_a_note():
    text = render(list(range(5000)), Limits(chars=300))
    body, note = text.rsplit("\n", 1)
    assert len(body) == 300 and body.startswith("[0, 1, 2")
    assert note == f"… (truncated JSON: 5000 items, {len(json.dumps(list(range(5000))))} characters in full)"


def test_json_that_cannot_be_json_falls_back_to_str():
    assert render({(1, 2): "pair"}) == "{(1, 2): 'pair'}"
    looped: list = []
    looped.append(looped)
    assert render(looped) == "[[...]]"


def raise_chained(depth: int) -> None:
    """A long traceback: each level re-raises the one below as its cause."""
    try:
        if depth:
            raise_chained(depth - 1)
        raise KeyError("the missing column")
    except Exception as exc:
        raise RuntimeError(f"loading failed at step {depth}") from exc


def test_exception_as_its_traceback_with_the_key_redacted():
    remember("sk-render-secret-0042")
    try:
        raise ValueError("rejected key sk-render-secret-0042")
    except ValueError as exc:
        text = render(exc)
    assert text.startswith("Traceback (most recent call last):")
    assert "test_render.py" in text and text.endswith("ValueError: rejected key ***")
    assert "sk-render-secret-0042" not in text


def test_long_traceback_keeps_its_end():
    try:
        raise_chained(40)
    except RuntimeError as exc:
        text = render(exc, Limits(chars=800))
    first, rest = text.split("\n", 1)
    assert first.startswith("… (traceback cut: the first ") and first.endswith("characters left out)")
    assert len(rest) == 800 and rest.endswith("RuntimeError: loading failed at step 40")


class Markdowned:
    def _repr_markdown_(self) -> str:
        return "**bold** summary"

    def _repr_html_(self) -> str:
        return "<b>not this</b>"


class Htmled:
    def _repr_html_(self) -> tuple[str, dict]:
        return ("<style>td {color: red}</style><h3>Report</h3><table><tr><th>k</th><th>v</th></tr>"
                "<tr><td>a</td><td>1 &amp; 2</td></tr></table><script>alert(1)</script>", {})


class Declines:
    def _repr_markdown_(self) -> None:
        return None

    def __str__(self) -> str:
        return "plain str"


class AnswersEverything:
    def __getattr__(self, name: str):
        return "not callable"

    def __str__(self) -> str:
        return "answers everything"


def test_rich_reprs_markdown_first_then_html_as_text():
    assert render(Markdowned()) == "**bold** summary"
    assert render(Htmled()) == "Report\nk | v\na | 1 & 2"
    assert render(Declines()) == "plain str"
    assert render(AnswersEverything()) == "answers everything"


def test_numpy_array_in_summarised_form():
    text = render(np.arange(10_000).reshape(100, 100))
    lines = text.splitlines()
    assert lines[0] == "ndarray shape (100, 100) dtype int64"
    assert lines[1] == "[[   0    1    2 ...   97   98   99]" and "..." in lines[4]
    assert len(lines) == 8


def test_text_goes_whole_and_other_values_bounded():
    long_text = "word " * 5000
    assert render(long_text) == long_text
    assert render(range(0, 10), Limits(chars=5)) == "range\n… (truncated: 12 characters in full)"


def test_render_imports_neither_pandas_nor_numpy():
    code = ("import sys, coditect_magics.context, coditect_magics.render;"
            "print(sorted(m for m in ('pandas', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# interpolation

def test_interpolate_renders_by_type_and_leaves_json_and_unknown_names_alone():
    namespace = {"df": pd.DataFrame({"a": [1, 2]}), "cfg": {"k": [1]}}
    text = interpolate('Data {df} with {cfg} and {cfg[\'k\']}; keep {"a": 1}, {missing} and {{df}}', namespace)
    assert text == ("Data DataFrame: 2 rows × 1 columns\ndtypes: a int64\n\n|  | a |\n| --- | --- |\n| 0 | 1 |\n"
                    "| 1 | 2 | with {\"k\": [1]} and [1]; keep {\"a\": 1}, {missing} and {df}")


def test_dataframe_reaches_the_server_as_the_compact_table(shell, thread_server):
    thread_server.script(Script(text="Sales rise."))
    shell.run_cell("import pandas as pd\nsales = pd.DataFrame({'month': range(1, 101), 'total': range(100, 200)})")
    shell.run_line_magic("llm", "openai:gpt-4o Describe {sales} in one line")
    prompt = thread_server.last.body["messages"][-1]["content"]
    assert prompt.startswith("Describe DataFrame: 100 rows × 2 columns (truncated: showing the first 10 and last 10 "
                             "of 100 rows)\n")
    assert prompt.endswith("\n| 99 | 100 | 199 | in one line")
    rows = table_rows(prompt)
    assert rows[0] == ["0", "1", "100"] and len(rows) == 21


def test_explain_sends_the_rendered_value(shell, thread_server):
    thread_server.script(Script(text="A tiny table."))
    shell.run_cell("import pandas as pd\nscores = pd.DataFrame({'x': [1, 2]})")
    result = shell.run_line_magic("llm", "explain scores openai:gpt-4o")
    assert result.text == "A tiny table."
    system, user = thread_server.last.body["messages"]
    assert system["role"] == "system" and "Jupyter notebook" in system["content"]
    assert user["content"] == ("Explain this value from the notebook (`scores`, a pandas.DataFrame):\n\n"
                               + render(shell.user_ns["scores"]))


def test_explain_of_a_word_that_names_nothing_stays_a_prompt(shell, thread_server):
    shell.run_line_magic("config", "CoditectMagics.default_model = 'openai:gpt-4o'")
    shell.run_line_magic("llm", "explain recursion")  # no variable `recursion`: the words are the prompt
    assert thread_server.last.body["messages"] == [{"role": "user", "content": "explain recursion"}]


def test_error_sends_the_redacted_traceback(shell, thread_server, capsys):
    shell.run_line_magic("llm", "openai:gpt-4o hi")  # the key is now one the kit has used
    shell.run_cell("def load():\n    raise PermissionError('denied for sk-test-magics-openai')\nload()")
    capsys.readouterr()
    shell.run_line_magic("llm", "error openai:gpt-4o")
    prompt = thread_server.last.body["messages"][-1]["content"]
    assert prompt.startswith("Explain this error and how to fix it:\n\n```\nTraceback")
    assert "in load" in prompt and prompt.endswith("PermissionError: denied for ***\n```")
    assert "sk-test-magics-openai" not in prompt
