"""The Python prototype's agent loop, run unchanged against one server.

The prototype this project replaces ran an `MCPManager` on the official `mcp` 1.x Python SDK: it
started each server of servers.json as a stdio subprocess (StdioServerParameters with the entry's
command, args and env), ran `ClientSession.initialize()` and `list_tools()`, and called tools with
`session.call_tool(name, arguments)`, treating a result with isError as a failure. This script does
exactly that, with the 1.x API and a plain `ClientSession` (no callbacks, so, like the prototype, it
declares no elicitation capability and sends no `confirm` argument), so that the Rust servers are
proven to work for the agent that already exists.

The calls are a JSON list of {"tool", "arguments", "expect"}: each call must not be an error, and
every string of "expect" must appear in its structuredContent or in one of its text blocks. Prints
each call and its outcome; prints "OK" at the end on success; on the first failure prints
"FAILED: ..." saying what was sent, expected and seen, and exits 1.

usage: prototype_agent.py --server NAME --calls JSON --env KEY=VALUE ... -- COMMAND ARGS...
"""

import argparse
import asyncio
import importlib.metadata
import json
import sys

from exception_groups import find_in_groups

# The point is the prototype's SDK, so check it before importing it: a 2.x install would prove
# something else (or fail to import with a less helpful message).
MCP_VERSION = importlib.metadata.version("mcp")
if not MCP_VERSION.startswith("1."):
    print(f"FAILED: this is the prototype's loop on the mcp 1.x SDK, but mcp {MCP_VERSION} is installed", flush=True)
    sys.exit(1)

from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402


class CallFailed(Exception):
    """A step of the loop did not hold; the message says what was sent, expected and seen."""


def find_failure(error: BaseException) -> CallFailed | None:
    """The CallFailed inside the exception groups the SDK's task groups wrap errors in."""
    return find_in_groups(error, CallFailed)


def describe(error: BaseException) -> str:
    """The exceptions inside the SDK's exception groups, by type and message."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(describe(inner) for inner in error.exceptions)
    return f"{type(error).__name__}: {error}"


def compact(value) -> str:
    """JSON without spaces, so an expectation such as "employees":100 reads the same whether the
    server sent structuredContent or JSON text."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def haystacks(result) -> list[str]:
    """Where an expected string may appear: the structured content and every text block (also
    re-serialised compactly when it is JSON)."""
    found = []
    if result.structuredContent is not None:
        found.append(compact(result.structuredContent))
    for block in result.content:
        text = getattr(block, "text", None)
        if text is None:
            continue
        found.append(text)
        try:
            found.append(compact(json.loads(text)))
        except ValueError:
            pass
    return found


def shorten(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


async def run(server_name: str, params: StdioServerParameters, calls: list[dict]) -> None:
    # The MCPManager's loop for one server: start it, initialize, list its tools, call them.
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            print(f"{server_name}: initialize -> {init.serverInfo.name} {init.serverInfo.version}, protocol {init.protocolVersion}", flush=True)
            tools = (await session.list_tools()).tools
            names = [tool.name for tool in tools]
            print(f"{server_name}: list_tools -> {len(names)} tools: {', '.join(names)}", flush=True)
            if not names:
                raise CallFailed(f"{server_name}: list_tools returned no tools")
            for call in calls:
                tool, arguments, expect = call["tool"], call["arguments"], call.get("expect", [])
                sent = f"{server_name}: call_tool({tool!r}, {compact(arguments)})"
                if tool not in names:
                    raise CallFailed(f"{sent}: the server does not list {tool!r}; it lists {names}")
                result = await session.call_tool(tool, arguments)
                seen = haystacks(result)
                if result.isError:
                    print(f"{sent} -> isError", flush=True)
                    raise CallFailed(f"{sent} returned isError (the prototype treats that as a failure): {' | '.join(seen)}")
                missing = [e for e in expect if not any(e in text for text in seen)]
                if missing:
                    print(f"{sent} -> ok, but without {missing}", flush=True)
                    raise CallFailed(f"{sent}: expected {missing} in structuredContent or text, got {shorten(' | '.join(seen))}")
                print(f"{sent} -> ok: {shorten(seen[0] if seen else '(no content)', 300)}", flush=True)
    print("OK", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--calls", default="[]")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("command", nargs="+")
    options = parser.parse_args()

    print(f"mcp {MCP_VERSION} (Python {sys.version.split()[0]})", flush=True)

    env = dict(pair.split("=", 1) for pair in options.env)
    params = StdioServerParameters(command=options.command[0], args=options.command[1:], env=env)
    calls = json.loads(options.calls)
    try:
        asyncio.run(asyncio.wait_for(run(options.server, params, calls), timeout=options.timeout))
    except BaseException as error:  # noqa: BLE001 - report failures plainly, whatever raised them
        found = find_failure(error)
        if found is not None:
            message = str(found)
        elif isinstance(error, TimeoutError):
            message = f"{options.server}: the loop did not finish within {options.timeout:g} s"
        else:
            message = f"{options.server}: {describe(error)}"
            # What the SDK raises when the server's end of stdio went away.
            if any(word in message for word in ("BrokenResource", "ClosedResource", "EndOfStream", "Connection closed")):
                message += " (the server closed stdio, so it probably exited; its stderr says why)"
        print(f"FAILED: {message}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
