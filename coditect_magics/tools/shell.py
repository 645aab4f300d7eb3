"""`Bash`, only when the user allows it: a shell command run in the root directory with a time limit, without the
environment's keys and tokens, its output bounded and scrubbed of the kit's keys. The working directory is the only
confinement a shell can be given: a command can still name paths elsewhere, which is why it needs `allow`."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
from typing import Annotated

from pydantic import Field

from coditect_magics.providers.secrets import redact

from .errors import ToolError
from .files import Root
from .schema import Tool

log = logging.getLogger("coditect_magics.tools")

MAX_OUTPUT_CHARS = 30_000
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)


def clean_env() -> dict[str, str]:
    """The kernel's environment less anything that looks like a credential, so `env` cannot show a model a key."""
    return {name: value for name, value in os.environ.items() if not SECRET_NAME.search(name)}


def bash_tool(root: Root) -> Tool:
    async def bash(command: str, timeout: Annotated[int, Field(ge=1, le=600_000)] = 120_000,
                   description: str = "") -> str:
        """Run a shell command in the working directory and return its output (stdout and stderr together).

        Args:
            command: The command line to run.
            timeout: Milliseconds before the command is killed (at most 600000).
            description: A few words saying what the command does, shown to the user.
        """
        log.info("Bash in %s: %s", root.path, command)
        process = await asyncio.create_subprocess_shell(
            command, cwd=root.path, env=clean_env(), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout / 1000)
        except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: the whole group it started goes too
            await process.wait()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise ToolError(f"the command was killed after {timeout} ms") from None
        text = redact(output.decode("utf-8", errors="replace"))
        if len(text) > MAX_OUTPUT_CHARS:
            text = text[:MAX_OUTPUT_CHARS] + f"\n... ({len(text) - MAX_OUTPUT_CHARS} more characters cut)"
        if process.returncode:
            raise ToolError(f"exit code {process.returncode}\n{text}")
        return text or "(no output)"

    return Tool.from_function(bash, name="Bash")
