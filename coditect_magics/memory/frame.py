"""Search results as a pandas DataFrame that reads well inline (imports pandas, so it is imported on first use).

The data holds what the hits hold (every source of a hit, joined by ", "); only the display is shaped for the eye:
the text column one line wide enough to read, each source relative to the working directory and shortened from the
left, never losing its file name (pandas would cut every cell at 50 characters, file names first)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

import pandas as pd

from coditect_magics.text import one_line

from .sources import JOIN, shown_sources

COLUMNS = ["score", "text", "kind", "role", "source", "time", "id"]
SNIPPET = 200      # characters of a hit's text kept in the data
TEXT_WIDTH = 110   # characters of it shown: one line


class HitsFrame(pd.DataFrame):
    """A DataFrame of `Memory.search` hits whose inline display (HTML and text) keeps what a person needs: a line
    of text, and sources shortened from the left. Frames derived from it (filters, sorts) are plain DataFrames."""

    _metadata = ["sources"]

    @property
    def _constructor(self):  # derived frames are ordinary DataFrames: the display is for this result only
        return pd.DataFrame

    def display_frame(self) -> pd.DataFrame:
        """A copy for the eyes only: text cut to one line, sources shortened from the left."""
        frame = pd.DataFrame(self, copy=True)
        lists = getattr(self, "sources", None)
        if lists is None or len(lists) != len(frame):
            lists = [str(s).split(JOIN) if s else [] for s in frame["source"].tolist()]
        frame["text"] = [one_line(t, TEXT_WIDTH) for t in frame["text"].tolist()]
        frame["source"] = [shown_sources(s) for s in lists]
        return frame

    def _repr_html_(self) -> str | None:
        with pd.option_context("display.max_colwidth", None):
            return self.display_frame()._repr_html_()

    def __repr__(self) -> str:
        with pd.option_context("display.max_colwidth", None, "display.width", 10_000, "display.max_columns", None):
            return repr(self.display_frame())


def hits_frame(hits: Sequence[Any]) -> HitsFrame:
    """Search results as a HitsFrame: score, text (a snippet), kind, role, source (every source), time (local),
    id (the first 12 characters, enough for `%memory forget`)."""
    rows = [{"score": round(hit.score, 3), "text": one_line(hit.text, SNIPPET), "kind": hit.metadata.get("kind", ""),
             "role": hit.metadata.get("role", ""), "source": JOIN.join(hit.sources),
             "time": datetime.fromtimestamp(hit.metadata["timestamp"])
             if isinstance(hit.metadata.get("timestamp"), (int, float)) else pd.NaT,
             "id": hit.id[:12]} for hit in hits]
    frame = HitsFrame(rows, columns=COLUMNS)
    frame.sources = [list(hit.sources) for hit in hits]
    return frame
