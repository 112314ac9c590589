//! Checks of tool schemas and tool calls, run against every server in servers.json: schemas are
//! valid JSON Schema, results validate against their output schemas, bad arguments get errors that
//! name the field, completion answers where it is declared, and one HTTP session serves concurrent
//! requests. JSON Schema validation uses the `jsonschema` crate, independent of the servers' own
//! validator.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use mcp_conformance::results::for_each_server;
use mcp_conformance::servers::{ServerEntry, pairs, smoke_call, test_environment};
use mcp_conformance::{HttpServer, StdioServer, binary_path, result_text};
use serde_json::{Value, json};
use tempfile::TempDir;

fn spawn(server: &ServerEntry, dir: &TempDir) -> (StdioServer, Value, Vec<Value>) {
    let env = test_environment(server, dir.path());
    let mcp = StdioServer::spawn(&binary_path(&server.command), &[], &pairs(&env)).unwrap();
    // The environment holds the stand-in backend, if any: it must outlive the server.
    let mut mcp = mcp.keep_alive(env);
    let init = mcp.initialize().unwrap();
    let tools = mcp.request("tools/list", json!({})).unwrap()["result"]["tools"]
        .as_array()
        .cloned()
        .unwrap();
    (mcp, init, tools)
}

fn is_read_only(tool: &Value) -> bool {
    tool["annotations"]["readOnlyHint"] == true
}

fn required(tool: &Value) -> Vec<String> {
    tool["inputSchema"]["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn schemas_are_valid_and_results_match_their_output_schemas() {
    for_each_server(
        "stdio",
        "schemas valid, results match outputSchema",
        |server| {
            let dir = TempDir::new().unwrap();
            let (mut mcp, _, tools) = spawn(server, &dir);
            let name = &server.name;
            for tool in &tools {
                for key in ["inputSchema", "outputSchema"] {
                    let schema = &tool[key];
                    if let Err(error) = jsonschema::meta::validate(schema) {
                        panic!(
                            "{name}: tool `{}`: {key} is not valid JSON Schema: {error}\n{schema}",
                            tool["name"]
                        );
                    }
                }
            }
            // The smoke call, and every read-only tool that needs no arguments.
            let mut calls: Vec<(String, Value)> = smoke_call(name)
                .unwrap()
                .map(|(t, a, _)| vec![(t, a)])
                .unwrap_or_default();
            calls.extend(
                tools
                    .iter()
                    .filter(|t| is_read_only(t) && required(t).is_empty())
                    .map(|t| (t["name"].as_str().unwrap().to_owned(), json!({}))),
            );
            assert!(
                !calls.is_empty(),
                "{name}: no read-only tool could be called"
            );
            for (tool_name, arguments) in calls {
                let tool = tools
                    .iter()
                    .find(|t| t["name"] == tool_name.as_str())
                    .unwrap();
                let result = mcp.call_tool(&tool_name, arguments.clone()).unwrap();
                assert_ne!(
                    result["isError"], true,
                    "{name}/stdio: tools/call {tool_name} {arguments} failed: {result}"
                );
                let structured = &result["structuredContent"];
                assert!(
                    structured.is_object(),
                    "{name}/stdio: tools/call {tool_name} returned no structuredContent object: {result}"
                );
                let validator = jsonschema::validator_for(&tool["outputSchema"]).unwrap();
                let errors: Vec<String> = validator
                    .iter_errors(structured)
                    .map(|e| format!("{} at {}", e, e.instance_path()))
                    .collect();
                assert!(
                    errors.is_empty(),
                    "{name}/stdio: tools/call {tool_name} {arguments}: structuredContent does not match outputSchema: {}",
                    errors.join("; ")
                );
            }
        },
    );
}

#[test]
fn missing_and_mistyped_arguments_get_errors_naming_the_field() {
    for_each_server("stdio", "bad arguments name the field", |server| {
        let dir = TempDir::new().unwrap();
        let (mut mcp, _, tools) = spawn(server, &dir);
        let name = &server.name;
        // Read-only tools with a required string argument; the check needs no side effects.
        let mut checked = 0;
        for tool in tools.iter().filter(|t| is_read_only(t)) {
            let tool_name = tool["name"].as_str().unwrap();
            for field in required(tool) {
                if tool["inputSchema"]["properties"][&field]["type"] != "string" {
                    continue;
                }
                for arguments in [json!({}), json!({ field.clone(): 12345 })] {
                    let result = mcp.call_tool(tool_name, arguments.clone()).unwrap();
                    let text = result_text(&result);
                    assert_eq!(
                        result["isError"], true,
                        "{name}/stdio: tools/call {tool_name} {arguments} must fail: {result}"
                    );
                    assert!(
                        text.contains(&format!("`{field}`")),
                        "{name}/stdio: tools/call {tool_name} {arguments}: the error must name `{field}`: {text}"
                    );
                }
                checked += 1;
            }
        }
        assert!(
            checked > 0,
            "{name}: no read-only tool with a required string argument to check"
        );
    });
}

#[test]
fn completion_answers_where_it_is_declared() {
    for_each_server("stdio", "completion/complete", |server| {
        let dir = TempDir::new().unwrap();
        let (mut mcp, init, _) = spawn(server, &dir);
        let name = &server.name;
        if !init["capabilities"]["completions"].is_object() {
            let answer = mcp.request("completion/complete", json!({"ref": {"type": "ref/prompt", "name": "x"}, "argument": {"name": "a", "value": ""}})).unwrap();
            assert!(
                answer.get("error").is_some()
                    || answer["result"]["completion"]["values"].is_array(),
                "{name}: {answer}"
            );
            return;
        }
        let prompts = mcp.request("prompts/list", json!({})).unwrap();
        for prompt in prompts["result"]["prompts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            for argument in prompt["arguments"].as_array().cloned().unwrap_or_default() {
                let request = json!({"ref": {"type": "ref/prompt", "name": prompt["name"]}, "argument": {"name": argument["name"], "value": ""}});
                let answer = mcp.request("completion/complete", request.clone()).unwrap();
                assert!(
                    answer["result"]["completion"]["values"].is_array(),
                    "{name}/stdio: completion/complete {request} answered {answer}"
                );
            }
        }
    });
}

#[test]
fn concurrent_requests_on_one_http_session_are_all_answered() {
    for_each_server("http", "concurrent POSTs on one session", |server| {
        let dir = TempDir::new().unwrap();
        let env = test_environment(server, dir.path());
        let env = pairs(&env);
        let http = HttpServer::start(&binary_path(&server.command), &[], &env).unwrap();
        let (session, _) = http.initialize(&[]).unwrap();
        let session = session.unwrap();
        let answers: Vec<(u64, u16, bool)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (10..18u64)
                .map(|id| {
                    let (http, session) = (&http, &session);
                    scope.spawn(move || {
                        let answer = http
                            .post(
                                &json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"}),
                                Some(session),
                                &[],
                            )
                            .unwrap();
                        let answered = answer
                            .message_with_id(&json!(id))
                            .is_some_and(|m| m["result"]["tools"].is_array());
                        (id, answer.status, answered)
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        for (id, status, answered) in answers {
            assert!(
                status == 200 && answered,
                "{}/http: concurrent tools/list id {id} got status {status}, answered: {answered}",
                server.name
            );
        }
    });
}
