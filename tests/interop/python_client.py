"""Checks one MCP server with the official Python SDK client (`mcp` 2.x from PyPI).

It connects over stdio (spawning the server) or streamable HTTP, in the SDK's default mode (which
probes `server/discover`, protocol 2026-07-28, before falling back to `initialize`) or in legacy
mode; lists the tools; calls one read-only tool with real arguments and checks the answer; calls an
unknown tool and expects an error. Prints "OK" on success; on failure prints what was sent, what
was expected and what came back, and exits 1.

usage: python_client.py --mode auto|legacy --tool NAME --arguments JSON [--expect TEXT]
                        (--url URL | --env KEY=VALUE ... -- COMMAND ARGS...)
"""

import argparse
import asyncio
import json
import sys

from exception_groups import find_in_groups
import warnings

warnings.filterwarnings("ignore", message="ping is removed")

from mcp import Client, MCPError, StdioServerParameters  # noqa: E402


class CheckFailed(Exception):
    """A check did not hold; the message says what was sent, expected and seen."""


def fail(message: str) -> None:
    raise CheckFailed(message)


def find_failure(error: BaseException) -> CheckFailed | None:
    """The CheckFailed inside the exception groups the SDK's task groups wrap errors in."""
    return find_in_groups(error, CheckFailed)


async def check(target, mode: str, tool: str, arguments: dict, expect: str | None) -> None:
    async with Client(target, mode=mode, read_timeout_seconds=20) as client:
        print(f"negotiated protocol: {client.protocol_version}", flush=True)
        tools = (await client.list_tools()).tools
        names = [t.name for t in tools]
        if tool not in names:
            fail(f"tools/list does not include {tool!r}; it lists {names}")
        for listed in tools:
            if not isinstance(listed.input_schema, dict) or listed.input_schema.get("type") != "object":
                fail(f"tool {listed.name!r} has input schema {listed.input_schema!r}, expected an object schema")
        result = await client.call_tool(tool, arguments)
        texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
        if result.is_error:
            fail(f"tools/call {tool} {json.dumps(arguments)} returned isError: {texts}")
        if not isinstance(result.structured_content, dict):
            fail(f"tools/call {tool} {json.dumps(arguments)} returned no structuredContent object: {result.structured_content!r}")
        if expect is not None and not any(expect in text for text in texts):
            fail(f"tools/call {tool} {json.dumps(arguments)}: expected {expect!r} in the text, got {texts}")
        try:
            unknown = await client.call_tool("definitely_not_a_tool_xyz", {})
        except MCPError:
            pass
        else:
            if not unknown.is_error:
                fail("tools/call of an unknown tool succeeded")
        if not str(client.protocol_version).startswith("2026"):
            await client.send_ping()
    print("OK", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["auto", "legacy"], required=True)
    parser.add_argument("--tool", required=True)
    parser.add_argument("--arguments", default="{}")
    parser.add_argument("--expect")
    parser.add_argument("--url")
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("command", nargs="*")
    options = parser.parse_args()
    if options.url:
        target = options.url
    elif options.command:
        env = dict(pair.split("=", 1) for pair in options.env)
        target = StdioServerParameters(command=options.command[0], args=options.command[1:], env=env)
    else:
        print("FAILED: give --url or a command after --", flush=True)
        sys.exit(2)
    arguments = json.loads(options.arguments)
    try:
        asyncio.run(asyncio.wait_for(check(target, options.mode, options.tool, arguments, options.expect), timeout=60))
    except BaseException as error:  # noqa: BLE001 - report check failures plainly, re-raise the rest
        found = find_failure(error)
        if found is None:
            raise
        print(f"FAILED: {found}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
