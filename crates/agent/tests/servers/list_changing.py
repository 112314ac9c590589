"""A minimal stdio MCP server whose tool list changes: `add_tool` adds `second` and sends
notifications/tools/list_changed; `list_count` says how many times tools/list was asked;
`environment` lists the AGENT_* variables it was started with.
For mcp-agent's tests of its tool-list cache (no server of this workspace changes its list) and
of what the servers inherit."""

import json
import os
import sys

tools = ["add_tool", "environment", "list_count"]
lists = 0


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def tool(name):
    return {"name": name, "description": name, "inputSchema": {"type": "object", "properties": {}},
            "annotations": {"readOnlyHint": name != "add_tool"}}


for line in sys.stdin:
    request = json.loads(line)
    method, ident = request.get("method"), request.get("id")
    if ident is None:
        continue
    if method == "initialize":
        result = {"protocolVersion": request["params"]["protocolVersion"],
                  "capabilities": {"tools": {"listChanged": True}},
                  "serverInfo": {"name": "list-changing", "version": "0"}}
    elif method == "tools/list":
        lists += 1
        result = {"tools": [tool(name) for name in tools]}
    elif method == "tools/call":
        name = request["params"]["name"]
        if name == "add_tool" and "second" not in tools:
            tools.append("second")
            send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        if name == "list_count":
            text = str(lists)
        elif name == "environment":
            text = json.dumps({"agent_variables": sorted(k for k in os.environ if k.startswith("AGENT_"))})
        else:
            text = "done"
        result = {"content": [{"type": "text", "text": text}], "isError": False}
    else:
        send({"jsonrpc": "2.0", "id": ident, "error": {"code": -32601, "message": method}})
        continue
    send({"jsonrpc": "2.0", "id": ident, "result": result})
