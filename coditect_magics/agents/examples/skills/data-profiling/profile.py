"""The data-profiling skill's tool: a compact profile of a DataFrame held in a notebook variable."""

from __future__ import annotations


def profile_frame(name: str) -> str:
    """Profile a pandas DataFrame held in a notebook variable: shape, column types, missing values, examples.

    Args:
        name: The notebook variable that holds the DataFrame.
    """
    from IPython import get_ipython
    shell = get_ipython()
    frame = shell.user_ns.get(name) if shell is not None else None
    if frame is None or not hasattr(frame, "dtypes"):
        return f"no DataFrame named {name!r} in the notebook"
    lines = [f"shape: {frame.shape[0]} rows x {frame.shape[1]} columns"]
    for column in frame.columns:
        series = frame[column]
        sample = ", ".join(repr(v) for v in series.dropna().head(3).tolist())
        lines.append(f"{column}: {series.dtype}, {int(series.isna().sum())} missing, e.g. {sample}")
    return "\n".join(lines)
