"""The two routes of the Lakehouse panel: /winlake/tables and /winlake/tables/<name>."""

import asyncio
import json
import os
import re
from pathlib import Path

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

# kernel-lib/labextension/server/winlake_lakehouse -> kernel-lib/bin/winlake.js
_DEFAULT_CLI = Path(__file__).resolve().parents[3] / "bin" / "winlake.js"
# The catalog's table names (kernel-lib/src/lakehouse/catalog.ts): nothing else reaches the CLI.
_TABLE_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,127}"
_TIMEOUT_SECONDS = 120


def _cli_command():
    """``WINLAKE_CLI`` (a command line) when set, else ``$WINLAKE_NODE kernel-lib/bin/winlake.js``."""
    if os.environ.get("WINLAKE_CLI"):
        return os.environ["WINLAKE_CLI"].split()
    return [os.environ.get("WINLAKE_NODE", "node"), str(_DEFAULT_CLI)]


async def run_cli(*args):
    """Runs ``winlake <args>`` and returns its stdout parsed as JSON; raises HTTPError with its message."""
    process = await asyncio.create_subprocess_exec(
        *_cli_command(),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ.copy(),
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), _TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        process.kill()
        raise tornado.web.HTTPError(504, reason=f"winlake {' '.join(args)} took over {_TIMEOUT_SECONDS} s")
    if process.returncode != 0:
        message = stderr.decode("utf-8", "replace").strip() or f"winlake exited with {process.returncode}"
        status = 404 if "no table named" in message else 500
        raise tornado.web.HTTPError(status, reason=message.splitlines()[0][:300], log_message=message)
    return json.loads(stdout)


class _Handler(APIHandler):
    def write_error(self, status_code, **kwargs):
        self.set_header("Content-Type", "application/json")
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(error, "log_message", None) or getattr(error, "reason", None) or self._reason
        self.finish(json.dumps({"message": message}))


class TablesHandler(_Handler):
    @tornado.web.authenticated
    async def get(self):
        self.finish(await run_cli("table", "list", "--json"))


class TableHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, name):
        self.finish(await run_cli("table", "describe", name, "--history", "20"))


def setup_handlers(web_app):
    base = web_app.settings["base_url"]
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "winlake", "tables"), TablesHandler),
            (url_path_join(base, "winlake", "tables", f"({_TABLE_NAME})"), TableHandler),
        ],
    )
