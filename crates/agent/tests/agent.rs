//! mcp-agent end to end: the real `mcp-empresa` binary as the server, the OpenAI stand-in in
//! scripted mode as the model. The scripted answers quote the tool result the agent sent back
//! (`{{last_result:…}}`), so a "100" in an answer came from mcp-empresa through the agent.
//!
//! `mcp-empresa` must be built first (`cargo build -p mcp-empresa`; `just test` builds every
//! binary).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_agent::audit::Audit;
use mcp_agent::chat::{ModelClient, ModelConfig};
use mcp_agent::{
    Agent, AgentConfig, Consent, ConsentRequest, Finish, Manager, ManagerConfig, Mode, servers,
};
use mcp_common::Secret;
use mcp_common::audit::AuditLog;
use mcp_common::backend::BackendConfig;
use mcp_common::config::AuditDestination;
use openai_standin::script::Turn;
use openai_standin::{AppState, DEFAULT_API_KEY, RecordedRequest};
use serde_json::{Value, json};
use standin_kit::Running;
use tempfile::TempDir;

const QUESTION: &str = "¿Cuántos empleados tiene Empresa X?";

fn empresa_binary() -> PathBuf {
    let binary = mcp_conformance::binary_path("mcp-empresa");
    assert!(
        binary.exists(),
        "{} is missing; build it with `cargo build -p mcp-empresa` (`just test` builds every binary)",
        binary.display()
    );
    binary
}

/// A servers.json with mcp-empresa (sample data, its data in `dir`, its audit trail in
/// `dir/empresa-audit.jsonl`) and any `extra` entries.
fn servers_file(dir: &Path, extra: Value) -> PathBuf {
    let home = dir.to_string_lossy().into_owned();
    let audit = dir
        .join("empresa-audit.jsonl")
        .to_string_lossy()
        .into_owned();
    let mut servers = json!({
        "empresa": {
            "command": empresa_binary().to_string_lossy(),
            "args": [],
            "env": {"EMPRESA_SAMPLE_DATA": "true", "HOME": home, "XDG_DATA_HOME": home, "MCP_AUDIT_LOG": audit}
        }
    });
    if let (Some(servers), Value::Object(extra)) = (servers.as_object_mut(), extra) {
        servers.extend(extra);
    }
    let path = dir.join("servers.json");
    std::fs::write(&path, json!({"mcpServers": servers}).to_string()).unwrap();
    path
}

fn script(standin: &Running<AppState>, turns: Value) {
    let turns = turns
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(index, turn)| Turn::from_json(index, turn).unwrap())
        .collect();
    standin.state.script().set(turns);
}

fn chat_requests(standin: &Running<AppState>) -> Vec<RecordedRequest> {
    standin
        .state
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .collect()
}

/// mcp-common's backend policy with this per-attempt limit and retries, short backoff.
fn policy(timeout: Duration, retries: u32) -> BackendConfig {
    BackendConfig {
        timeout,
        max_retries: retries,
        base_delay: Duration::from_millis(100),
        ..BackendConfig::standard()
    }
}

fn manager_config() -> ManagerConfig {
    ManagerConfig {
        start_timeout: Duration::from_secs(30),
        call_timeout: Duration::from_secs(30),
    }
}

async fn start_manager(servers: &Path, consent: Consent) -> Arc<Manager> {
    Arc::new(Manager::start(servers::load(servers).unwrap(), manager_config(), consent).await)
}

fn agent(
    standin: &Running<AppState>,
    manager: Arc<Manager>,
    mode: Mode,
    max_steps: usize,
    consent: Consent,
) -> Agent {
    let model = ModelClient::new(ModelConfig {
        base_url: format!("{}/v1", standin.url()),
        api_key: Some(Secret::new(DEFAULT_API_KEY)),
        model: "gpt-4o-mini".to_owned(),
        policy: policy(Duration::from_secs(10), 3),
    })
    .unwrap();
    Agent::new(
        manager,
        model,
        AgentConfig {
            mode,
            max_steps,
            system_prompt: None,
            retrieval: false,
        },
        consent,
        Audit::new(AuditLog::open(&AuditDestination::Off).unwrap()),
    )
}

/// Serves the gateway of `gateway` on a loopback port, with `tokens` (none: no token asked);
/// returns its address, the server task and an HTTP client for it.
async fn serve_gateway(
    gateway: Agent,
    manager: Arc<Manager>,
    tokens: Vec<mcp_common::config::TokenHolder>,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<std::io::Result<()>>,
    reqwest::Client,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let settings = mcp_common::http::HttpSettings {
        listen: addr,
        stateless: true,
        tokens,
        allowed_hosts: mcp_common::http::default_allowed_hosts(&addr),
        allowed_origins: Vec::new(),
        max_body_bytes: 1 << 20,
        session_idle: Duration::from_secs(60),
    };
    let app = mcp_agent::gateway::app(Arc::new(gateway), manager, &settings);
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    (addr, server, http)
}

/// Runs the `mcp-agent` binary; (exit code, stdout, stderr).
/// It runs in `dir`, so no developer's `.env` is read.
async fn run_binary(dir: &Path, args: &[&str], env: &[(&str, String)]) -> (i32, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-agent"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("mcp-agent did not finish within 60 s")
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn model_env(standin: &Running<AppState>, mode: &str, audit: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("AGENT_BASE_URL", format!("{}/v1", standin.url())),
        ("AGENT_API_KEY", DEFAULT_API_KEY.to_owned()),
        ("AGENT_MODEL", "gpt-4o-mini".to_owned()),
        ("AGENT_MODE", mode.to_owned()),
        ("AGENT_AUDIT_LOG", audit.to_string_lossy().into_owned()),
    ]
}

fn audit_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_calls_consultar_empresa_on_mcp_empresa_and_answers_100() {
    let dir = TempDir::new().unwrap();
    let servers = servers_file(dir.path(), json!({}));
    let standin = openai_standin::spawn().await.unwrap();
    script(
        &standin,
        json!([
            {"tool_calls": [{"name": "empresa__consultar_empresa", "arguments": {"nombre": "Empresa X"}}]},
            {"content": "Empresa X tiene {{last_result:/company/employees}} empleados."}
        ]),
    );
    let audit = dir.path().join("audit.jsonl");
    let (code, stdout, stderr) = run_binary(
        dir.path(),
        &["--servers", servers.to_str().unwrap(), "ask", QUESTION],
        &model_env(&standin, "native", &audit),
    )
    .await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(
        stdout.trim(),
        "Empresa X tiene 100 empleados.",
        "stderr: {stderr}"
    );

    let requests = chat_requests(&standin);
    assert_eq!(requests.len(), 2);
    let first = &requests[0].body;
    assert_eq!(first["messages"][0]["content"], QUESTION);
    let offered = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == "empresa__consultar_empresa")
        .expect("consultar_empresa offered");
    assert_eq!(offered["function"]["strict"], true);
    assert_eq!(
        offered["function"]["parameters"]["required"],
        json!(["nombre"])
    );
    // What went back to the model is mcp-empresa's own answer.
    let messages = requests[1].body["messages"].as_array().unwrap();
    let tool_message = messages.iter().find(|m| m["role"] == "tool").unwrap();
    let result: Value = serde_json::from_str(tool_message["content"].as_str().unwrap()).unwrap();
    assert_eq!(result["company"]["name"], "Empresa X");
    assert_eq!(result["company"]["employees"], 100);
    assert_eq!(result["match_kind"], "exact");

    let lines = audit_lines(&audit);
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(
        events,
        ["model_call", "tool_call", "model_call"],
        "{lines:?}"
    );
    assert_eq!(lines[1]["server"], "empresa");
    assert_eq!(lines[1]["tool"], "consultar_empresa");
    assert_eq!(lines[1]["outcome"], "ok");
    assert_eq!(lines[1]["arguments"], json!({"nombre": "Empresa X"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn react_mode_answers_100_with_the_prototypes_json_protocol() {
    let dir = TempDir::new().unwrap();
    let servers = servers_file(dir.path(), json!({}));
    let standin = openai_standin::spawn().await.unwrap();
    script(
        &standin,
        json!([
            {"content": "Voy a consultar.\n```json\n{\"herramienta_llamada\": \"consultar_empresa\", \"parametros\": {\"nombre\": \"Empresa X\"}}\n```"},
            {"content": "{\"respuesta\": \"Empresa X tiene {{last_result:/company/employees}} empleados.\"}"}
        ]),
    );
    let audit = dir.path().join("audit.jsonl");
    let (code, stdout, stderr) = run_binary(
        dir.path(),
        &[
            "--servers",
            servers.to_str().unwrap(),
            "ask",
            "--json",
            QUESTION,
        ],
        &model_env(&standin, "react", &audit),
    )
    .await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let outcome: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(outcome["answer"], "Empresa X tiene 100 empleados.");
    assert_eq!(outcome["mode"], "react");
    assert_eq!(
        outcome["tool_calls"][0]["function"],
        "empresa__consultar_empresa"
    );
    assert_eq!(outcome["tool_calls"][0]["outcome"], "ok");

    let requests = chat_requests(&standin);
    assert_eq!(requests.len(), 2);
    assert!(
        requests[0].body.get("tools").is_none(),
        "{}",
        requests[0].body
    );
    let system = requests[0].body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("herramienta_llamada") && system.contains("empresa__consultar_empresa"),
        "{system}"
    );
    let result = requests[1].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(result["role"], "user");
    assert!(
        result["content"]
            .as_str()
            .unwrap()
            .contains("\"employees\":100"),
        "{result}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_mode_switches_to_react_when_the_model_refuses_tools_and_repairs_bad_json() {
    let dir = TempDir::new().unwrap();
    let standin = openai_standin::spawn().await.unwrap();
    script(
        &standin,
        json!([
            {"error": {"status": 400, "message": "registry.ollama.ai/library/gemma3:1b does not support tools"}},
            {"content": "Claro, consultaré la empresa {\"herramienta_llamada\": \"empresa__consultar_empresa\", \"parametros\": {\"nombre\": \"Empresa X\""},
            {"content": "{\"herramienta_llamada\": \"empresa__consultar_empresa\", \"parametros\": {\"nombre\": \"Empresa X\"}}"},
            {"content": "{\"respuesta\": \"{{last_result:/company/employees}}\"}"}
        ]),
    );
    let manager = start_manager(&servers_file(dir.path(), json!({})), Consent::decline_all()).await;
    let agent = agent(
        &standin,
        manager.clone(),
        Mode::Auto,
        8,
        Consent::decline_all(),
    );
    let outcome = agent.ask(QUESTION).await.unwrap();
    assert_eq!(
        (outcome.answer.as_str(), outcome.mode, outcome.finish),
        ("100", "react", Finish::Answered)
    );
    let requests = chat_requests(&standin);
    assert_eq!(requests.len(), 4);
    assert!(requests[0].body.get("tools").is_some());
    assert!(requests[1].body.get("tools").is_none());
    let repair = requests[2].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        repair["content"]
            .as_str()
            .unwrap()
            .contains("could not be read: the JSON object is not valid"),
        "{repair}"
    );
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_calls_malformed_arguments_and_unknown_tools_each_get_an_answer() {
    let dir = TempDir::new().unwrap();
    let standin = openai_standin::spawn().await.unwrap();
    script(
        &standin,
        json!([
            {"tool_calls": [
                {"name": "empresa__consultar_empresa", "arguments": {"nombre": "Empresa X"}, "id": "x"},
                {"name": "empresa__consultar_empresa", "arguments": {"nombre": "Empresa Y"}, "id": "y"},
                {"name": "empresa__consultar_empresa", "arguments": "{\"nombre\": \"Empresa", "id": "bad"},
                {"name": "empresa__no_such_tool", "arguments": {}, "id": "unknown"}
            ]},
            {"content": "listo"}
        ]),
    );
    let manager = start_manager(&servers_file(dir.path(), json!({})), Consent::decline_all()).await;
    let agent = agent(
        &standin,
        manager.clone(),
        Mode::Native,
        8,
        Consent::decline_all(),
    );
    let outcome = agent.ask("¿Y las dos empresas?").await.unwrap();
    let outcomes: Vec<&str> = outcome.tool_calls.iter().map(|c| c.outcome).collect();
    assert_eq!(outcomes, ["ok", "ok", "invalid_arguments", "unknown_tool"]);
    let requests = chat_requests(&standin);
    let messages = requests[1].body["messages"].as_array().unwrap();
    let answers: Vec<(&str, &str)> = messages
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            (
                m["tool_call_id"].as_str().unwrap(),
                m["content"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(answers.len(), 4);
    assert_eq!(answers[0].0, "x");
    assert!(
        answers[0].1.contains("\"employees\":100"),
        "{}",
        answers[0].1
    );
    assert_eq!(answers[1].0, "y");
    assert!(
        answers[1].1.contains("\"employees\":200"),
        "{}",
        answers[1].1
    );
    assert!(
        answers[2].1.contains("could not be read (not valid JSON"),
        "{}",
        answers[2].1
    );
    assert!(
        answers[3]
            .1
            .contains("no tool named `empresa__no_such_tool`"),
        "{}",
        answers[3].1
    );
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_model_runs_a_call_once_is_asked_to_answer_and_stops_at_the_step_limit() {
    let dir = TempDir::new().unwrap();
    let standin = openai_standin::spawn().await.unwrap();
    let call = json!({"tool_calls": [{"name": "empresa__consultar_empresa", "arguments": {"nombre": "Empresa X"}}]});
    script(&standin, json!([call, call, {"content": "100"}]));
    let manager = start_manager(&servers_file(dir.path(), json!({})), Consent::decline_all()).await;
    let looping = agent(
        &standin,
        manager.clone(),
        Mode::Native,
        8,
        Consent::decline_all(),
    );
    let outcome = looping.ask(QUESTION).await.unwrap();
    let outcomes: Vec<&str> = outcome.tool_calls.iter().map(|c| c.outcome).collect();
    assert_eq!(outcomes, ["ok", "repeated"]);
    let requests = chat_requests(&standin);
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[1].body["tool_choice"], "auto");
    assert_eq!(requests[2].body["tool_choice"], "none");

    // A model that keeps asking for new calls is stopped at the limit, not left running.
    standin.state.faults().reset();
    let names = ["Empresa X", "Empresa Y", "Empresa Z", "Empresa W"];
    let turns: Vec<Value> = names
        .iter()
        .map(|name| json!({"tool_calls": [{"name": "empresa__consultar_empresa", "arguments": {"nombre": name}}]}))
        .collect();
    script(&standin, Value::Array(turns));
    let limited = agent(
        &standin,
        manager.clone(),
        Mode::Native,
        3,
        Consent::decline_all(),
    );
    let before = chat_requests(&standin).len();
    let outcome = limited.ask(QUESTION).await.unwrap();
    assert_eq!((outcome.finish, outcome.steps), (Finish::StepLimit, 3));
    assert!(
        outcome.answer.contains("No answer after 3 model calls"),
        "{}",
        outcome.answer
    );
    assert_eq!(chat_requests(&standin).len() - before, 3);
    manager.shutdown().await;
}

fn recording_consent(approve: bool) -> (Consent, Arc<Mutex<Vec<ConsentRequest>>>) {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    let consent = Consent::new(move |request| {
        log.lock().unwrap().push(request);
        Box::pin(async move { approve })
    });
    (consent, asked)
}

async fn company_names(manager: &Manager) -> Vec<String> {
    let listed = manager
        .call(
            "empresa",
            "list_companies",
            json!({"limit": 100}).as_object().unwrap().clone(),
            false,
            true,
        )
        .await
        .unwrap();
    listed["structuredContent"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_is_not_run_when_consent_is_declined_and_runs_once_approved() {
    let dir = TempDir::new().unwrap();
    let standin = openai_standin::spawn().await.unwrap();
    let create = json!({"tool_calls": [{"name": "empresa__create_company", "arguments": {
        "name": "Agente Pruebas SA", "city": null, "country": null, "description": null, "email": null,
        "employees": 7, "industry": null, "legal_id": null, "phone": null, "website": null, "confirm": true
    }}]});
    let servers = servers_file(dir.path(), json!({}));

    let (declining, asked) = recording_consent(false);
    script(&standin, json!([create, {"content": "no se creó"}]));
    let manager = start_manager(&servers, declining.clone()).await;
    let outcome = agent(&standin, manager.clone(), Mode::Native, 8, declining)
        .ask("Crea la empresa Agente Pruebas SA con 7 empleados")
        .await
        .unwrap();
    assert_eq!(outcome.tool_calls[0].outcome, "declined");
    assert!(outcome.tool_calls[0].result.contains("declined"));
    {
        let asked = asked.lock().unwrap();
        assert_eq!(asked.len(), 1);
        assert_eq!(
            (asked[0].server.as_str(), asked[0].tool.as_str()),
            ("empresa", "create_company")
        );
        assert_eq!(asked[0].arguments["name"], "Agente Pruebas SA");
        // The model's own `confirm: true` never counts as the user's approval.
        assert!(asked[0].arguments.get("confirm").is_none());
    }
    assert!(
        !company_names(&manager)
            .await
            .contains(&"Agente Pruebas SA".to_owned())
    );
    // mcp-empresa's own audit trail: the declined call never reached it.
    let server_audit = dir.path().join("empresa-audit.jsonl");
    let creates = |lines: Vec<Value>| -> Vec<Value> {
        lines
            .into_iter()
            .filter(|l| l["tool"] == "create_company")
            .collect()
    };
    assert_eq!(creates(audit_lines(&server_audit)), Vec::<Value>::new());
    manager.shutdown().await;

    // The same call approved is made, and the server's own consent question is not asked again.
    let (approving, asked) = recording_consent(true);
    script(&standin, json!([create, {"content": "creada"}]));
    let manager = start_manager(&servers, approving.clone()).await;
    let outcome = agent(&standin, manager.clone(), Mode::Native, 8, approving)
        .ask("Crea la empresa Agente Pruebas SA con 7 empleados")
        .await
        .unwrap();
    assert_eq!(
        outcome.tool_calls[0].outcome, "ok",
        "{}",
        outcome.tool_calls[0].result
    );
    assert_eq!(asked.lock().unwrap().len(), 1);
    assert!(
        company_names(&manager)
            .await
            .contains(&"Agente Pruebas SA".to_owned())
    );
    // The server asked through elicitation, answered from the user's approval of this call.
    let created = creates(audit_lines(&server_audit));
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(
        (
            created[0]["outcome"].as_str(),
            created[0]["consent"].as_str()
        ),
        (Some("ok"), Some("elicitation"))
    );
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_is_restarted_and_the_next_call_works() {
    let dir = TempDir::new().unwrap();
    let standin = openai_standin::spawn().await.unwrap();
    let manager = start_manager(&servers_file(dir.path(), json!({})), Consent::decline_all()).await;
    let status = manager.status().await;
    let first_pid = status[0].pid.expect("empresa is running");
    assert_eq!(status[0].starts, 1);
    let killed = std::process::Command::new("kill")
        .args(["-9", &first_pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while manager.status().await[0].running {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the manager never saw the server exit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    script(
        &standin,
        json!([
            {"tool_calls": [{"name": "empresa__consultar_empresa", "arguments": {"nombre": "Empresa X"}}]},
            {"content": "{{last_result:/company/employees}}"}
        ]),
    );
    let outcome = agent(
        &standin,
        manager.clone(),
        Mode::Native,
        8,
        Consent::decline_all(),
    )
    .ask(QUESTION)
    .await
    .unwrap();
    assert_eq!(outcome.answer, "100");
    let status = manager.status().await;
    assert!(status[0].running);
    assert_eq!(status[0].starts, 2);
    assert_ne!(status[0].pid, Some(first_pid));
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_fails_to_start_is_named_while_the_others_work() {
    let dir = TempDir::new().unwrap();
    let standin = openai_standin::spawn().await.unwrap();
    let servers = servers_file(
        dir.path(),
        json!({
            "missing": {"command": dir.path().join("no-such-server").to_string_lossy()},
            "crashing": {"command": "sh", "args": ["-c", "echo 'crashing: cannot open its database' >&2; exit 3"]}
        }),
    );
    script(
        &standin,
        json!([
            {"tool_calls": [{"name": "empresa__consultar_empresa", "arguments": {"nombre": "Empresa X"}}]},
            {"content": "{{last_result:/company/employees}}"}
        ]),
    );
    let manager = start_manager(&servers, Consent::decline_all()).await;
    let outcome = agent(
        &standin,
        manager.clone(),
        Mode::Native,
        8,
        Consent::decline_all(),
    )
    .ask(QUESTION)
    .await
    .unwrap();
    assert_eq!(outcome.answer, "100");
    let unavailable = outcome.unavailable.join("\n");
    assert!(
        unavailable.contains("the missing server could not be started")
            && unavailable.contains("was not found"),
        "{unavailable}"
    );
    assert!(
        unavailable.contains("the crashing server could not be started")
            && unavailable.contains("cannot open its database"),
        "{unavailable}"
    );
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_endpoint_that_hangs_is_an_error_naming_it_not_a_hang() {
    let dir = TempDir::new().unwrap();
    let standin = openai_standin::spawn().await.unwrap();
    standin
        .state
        .faults()
        .set(standin_kit::Fault::from_json(&json!({"mode": "hang_after", "count": null})).unwrap());
    let manager = start_manager(&servers_file(dir.path(), json!({})), Consent::decline_all()).await;
    let model = ModelClient::new(ModelConfig {
        base_url: format!("{}/v1", standin.url()),
        api_key: None,
        model: "gpt-4o-mini".to_owned(),
        policy: policy(Duration::from_secs(1), 1),
    })
    .unwrap();
    let agent = Agent::new(
        manager.clone(),
        model,
        AgentConfig {
            mode: Mode::Native,
            max_steps: 4,
            system_prompt: None,
            retrieval: false,
        },
        Consent::decline_all(),
        Audit::new(AuditLog::open(&AuditDestination::Off).unwrap()),
    );
    let error = tokio::time::timeout(Duration::from_secs(15), agent.ask(QUESTION))
        .await
        .expect("ask returned")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&standin.url()) && error.contains("after 2 attempts"),
        "{error}"
    );
    // mcp-common's policy: a timeout is retried (the request changes nothing), once here.
    assert_eq!(chat_requests(&standin).len(), 2);
    manager.shutdown().await;
}

/// mcp-common's backend policy: a 429 from the model endpoint is retried after its
/// `Retry-After`, and the question is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_from_the_model_is_retried_after_retry_after() {
    let dir = TempDir::new().unwrap();
    let standin = openai_standin::spawn().await.unwrap();
    standin.state.faults().set(
        standin_kit::Fault::from_json(&json!({"mode": "status", "status": 429, "retry_after": 1, "count": 1, "path": "/v1/chat/completions"})).unwrap(),
    );
    script(&standin, json!([{"content": "hola"}]));
    let manager = start_manager(&servers_file(dir.path(), json!({})), Consent::decline_all()).await;
    let started = std::time::Instant::now();
    let outcome = agent(
        &standin,
        manager.clone(),
        Mode::Native,
        4,
        Consent::decline_all(),
    )
    .ask("hola")
    .await
    .unwrap();
    assert_eq!(outcome.answer, "hola");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After not honoured"
    );
    assert_eq!(
        standin
            .state
            .faults()
            .call_count("POST /v1/chat/completions"),
        2,
        "{:?}",
        standin.state.faults().calls()
    );
    manager.shutdown().await;
}

/// Every tool of every server in servers.json, as pinned in tests/snapshots, gets an OpenAI
/// name of at most 64 characters of `[A-Za-z0-9_-]`, unique across servers.
#[test]
fn every_server_tool_name_fits_openai() {
    let root = mcp_conformance::servers::workspace_root();
    let entries = servers::load(&root.join("servers.json")).unwrap();
    assert!(entries.len() >= 5, "{entries:?}");
    let mut lists = Vec::new();
    for entry in &entries {
        let snapshot = root
            .join("tests/snapshots")
            .join(format!("{}.tools.json", entry.name));
        let text = std::fs::read_to_string(&snapshot)
            .unwrap_or_else(|error| panic!("{}: {error}", snapshot.display()));
        let tools: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert!(!tools.is_empty(), "{}", entry.name);
        lists.push((entry.name.clone(), tools));
    }
    // The same tools under a long server name (a user's own servers.json) must still fit.
    let long_name = "my-companys-enterprise-resource-planning-production-server".to_owned();
    lists.push((long_name.clone(), lists[0].1.clone()));
    let translated = mcp_agent::translate::translate_all(&lists);
    let total: usize = lists.iter().map(|(_, tools)| tools.len()).sum();
    assert_eq!(translated.len(), total);
    let mut names = std::collections::BTreeSet::new();
    for tool in &translated {
        assert!(tool.name.len() <= 64, "{}", tool.name);
        assert!(
            tool.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "{}",
            tool.name
        );
        assert!(names.insert(tool.name.clone()), "duplicate {}", tool.name);
    }
    assert!(
        translated
            .iter()
            .any(|t| t.server == long_name && t.name.len() == 64)
    );
    assert!(translated.iter().any(|t| t.name == "odoo__obtener_cliente"));
}

/// Tool lists are cached (a second listing asks the server nothing) and listed again after the
/// server sends `notifications/tools/list_changed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_lists_are_cached_until_the_server_says_they_changed() {
    let dir = TempDir::new().unwrap();
    let script_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/list_changing.py");
    let servers = dir.path().join("servers.json");
    std::fs::write(
        &servers,
        json!({"mcpServers": {"changing": {"command": "python3", "args": [script_path.to_string_lossy()]}}}).to_string(),
    )
    .unwrap();
    let manager = start_manager(&servers, Consent::decline_all()).await;
    let names = |lists: Vec<(String, Vec<Value>)>| -> Vec<String> {
        lists[0]
            .1
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let list_count = || async {
        let result = manager
            .call(
                "changing",
                "list_count",
                serde_json::Map::new(),
                false,
                true,
            )
            .await
            .unwrap();
        result["content"][0]["text"].as_str().unwrap().to_owned()
    };
    let (first, failures) = manager.all_tools().await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(names(first), ["add_tool", "environment", "list_count"]);
    let (again, _) = manager.all_tools().await;
    assert_eq!(names(again), ["add_tool", "environment", "list_count"]);
    assert_eq!(list_count().await, "1");

    manager
        .call("changing", "add_tool", serde_json::Map::new(), false, false)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (now, _) = manager.all_tools().await;
        if names(now.clone()).contains(&"second".to_owned()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the list was never refreshed: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(list_count().await, "2");
    manager.shutdown().await;
}

/// `mcp-agent chat` answers one question per line, streamed (tool calls put together from their
/// streamed pieces), and sends each earlier question and answer with the next one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_keeps_the_conversation_across_lines() {
    use tokio::io::AsyncWriteExt;
    let dir = TempDir::new().unwrap();
    let servers = servers_file(dir.path(), json!({}));
    let standin = openai_standin::spawn().await.unwrap();
    script(
        &standin,
        json!([
            {"tool_calls": [{"name": "empresa__consultar_empresa", "arguments": {"nombre": "Empresa X"}}]},
            {"content": "Empresa X: {{last_result:/company/employees}}"},
            {"tool_calls": [{"name": "empresa__consultar_empresa", "arguments": {"nombre": "Empresa Y"}}]},
            {"content": "Empresa Y: {{last_result:/company/employees}}"}
        ]),
    );
    let audit = dir.path().join("audit.jsonl");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-agent"))
        .args(["--servers", servers.to_str().unwrap(), "chat"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(model_env(&standin, "native", &audit))
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{QUESTION}\n\n¿Y Empresa Y?\n/exit\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("mcp-agent chat did not finish within 60 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["Empresa X: 100", "Empresa Y: 200"]
    );
    let requests = chat_requests(&standin);
    assert_eq!(requests.len(), 4);
    assert!(
        requests.iter().all(|r| r.body["stream"] == true),
        "not streamed"
    );
    // The streamed tool call was put together: mcp-empresa answered it.
    let tool_message = requests[1].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        tool_message["content"]
            .as_str()
            .unwrap()
            .contains("\"employees\":100"),
        "{tool_message}"
    );
    let third: Vec<(String, String)> = requests[2].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        third,
        [
            ("user".to_owned(), QUESTION.to_owned()),
            ("assistant".to_owned(), "Empresa X: 100".to_owned()),
            ("user".to_owned(), "¿Y Empresa Y?".to_owned())
        ]
    );
}

/// The gateway answers `POST /chat` with a token, keeps the conversation for its holder, and
/// refuses without a token, with a wrong one, or for another holder's conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_answers_chat_with_a_token_and_refuses_without_one() {
    use mcp_common::config::TokenHolder;
    let dir = TempDir::new().unwrap();
    let standin = openai_standin::spawn().await.unwrap();
    script(
        &standin,
        json!([
            {"tool_calls": [{"name": "empresa__consultar_empresa", "arguments": {"nombre": "Empresa X"}}]},
            {"content": "{{last_result:/company/employees}}"},
            {"content": "sigue siendo 100"},
            {"content": "Empresa X tiene 100 empleados, sí"}
        ]),
    );
    let manager = start_manager(&servers_file(dir.path(), json!({})), Consent::decline_all()).await;
    let holder = |name: &str, token: &str| TokenHolder {
        name: name.to_owned(),
        token: Secret::new(token),
        variable: "MCP_AUTH_TOKENS",
    };
    let gateway = agent(
        &standin,
        manager.clone(),
        Mode::Native,
        8,
        Consent::decline_all(),
    );
    let (addr, server, http) = serve_gateway(
        gateway,
        manager.clone(),
        vec![
            holder("alice", "alice-token-0123456789"),
            holder("bob", "bob-token-0123456789"),
        ],
    )
    .await;
    let url = |path: &str| format!("http://{addr}{path}");

    let health: Value = http
        .get(url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        health,
        json!({"status": "ok", "servers": {"empresa": true}})
    );

    let question = json!({"message": QUESTION});
    let anonymous = http
        .post(url("/chat"))
        .json(&question)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let wrong = http
        .post(url("/chat"))
        .bearer_auth("not-a-token-at-all-0000")
        .json(&question)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(
        chat_requests(&standin).is_empty(),
        "a refused request reached the model"
    );

    let bad = http
        .post(url("/chat"))
        .bearer_auth("alice-token-0123456789")
        .json(&json!({"message": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    assert!(bad.text().await.unwrap().contains("`message`"));

    let first = http
        .post(url("/chat"))
        .bearer_auth("alice-token-0123456789")
        .json(&question)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status().as_u16(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["answer"], "100");
    assert_eq!(first["tool_calls"][0]["tool"], "consultar_empresa");
    let conversation = first["conversation_id"].as_str().unwrap().to_owned();

    let follow_up = json!({"message": "¿Seguro?", "conversation_id": conversation});
    let stolen = http
        .post(url("/chat"))
        .bearer_auth("bob-token-0123456789")
        .json(&follow_up)
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status().as_u16(), 404);
    let second: Value = http
        .post(url("/chat"))
        .bearer_auth("alice-token-0123456789")
        .json(&follow_up)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            second["answer"].as_str(),
            second["conversation_id"].as_str()
        ),
        (Some("sigue siendo 100"), Some(conversation.as_str()))
    );
    let requests = chat_requests(&standin);
    assert_eq!(requests.len(), 3);
    let sent = &requests[2].body["messages"];
    assert_eq!(
        (
            sent[0]["content"].as_str(),
            sent[1]["content"].as_str(),
            sent[2]["content"].as_str()
        ),
        (Some(QUESTION), Some("100"), Some("¿Seguro?"))
    );

    // Streamed: the text as server-sent events while the model writes, then the whole answer.
    let streamed = http
        .post(url("/chat"))
        .bearer_auth("alice-token-0123456789")
        .json(&json!({"message": "¿De verdad?", "conversation_id": conversation, "stream": true}))
        .send()
        .await
        .unwrap();
    assert!(
        streamed.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let body = streamed.text().await.unwrap();
    let events: Vec<(&str, Value)> = body
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').unwrap();
            (
                name.trim_start_matches("event: "),
                serde_json::from_str(data.trim_start_matches("data: ")).unwrap(),
            )
        })
        .collect();
    let text: String = events
        .iter()
        .filter(|(n, _)| *n == "text")
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Empresa X tiene 100 empleados, sí");
    assert!(
        events.iter().filter(|(n, _)| *n == "text").count() > 1,
        "{body}"
    );
    let (last, done) = events.last().unwrap();
    assert_eq!(
        (
            *last,
            done["answer"].as_str(),
            done["conversation_id"].as_str()
        ),
        (
            "done",
            Some("Empresa X tiene 100 empleados, sí"),
            Some(conversation.as_str())
        )
    );
    assert_eq!(chat_requests(&standin)[3].body["stream"], true);
    server.abort();
    manager.shutdown().await;
}

/// With retrieval on, `recuperar_contexto` of the real `mcp-rag` (lexical-only, no model) is
/// called with the question first, and what it recalls reaches the model before the question.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrieval_recalls_context_before_the_model() {
    let dir = TempDir::new().unwrap();
    let rag = mcp_conformance::binary_path("mcp-rag");
    assert!(
        rag.exists(),
        "{} is missing; build it with `cargo build -p mcp-rag` (`just test` builds every binary)",
        rag.display()
    );
    let home = dir.path().to_string_lossy().into_owned();
    let servers = servers_file(
        dir.path(),
        json!({"rag": {"command": rag.to_string_lossy(), "env": {
            "HOME": home, "XDG_DATA_HOME": home, "RAG_MODEL_DOWNLOAD": "false", "MCP_AUDIT_LOG": "off"
        }}}),
    );
    let manager = start_manager(&servers, Consent::decline_all()).await;
    let remembered = manager
        .call(
            "rag",
            "memorizar_informacion",
            json!({"texto": "La reunión trimestral con Empresa X es el jueves a las 10 en Valencia"}).as_object().unwrap().clone(),
            false,
            false,
        )
        .await
        .unwrap();
    assert_ne!(remembered["isError"], true, "{remembered}");
    let standin = openai_standin::spawn().await.unwrap();
    script(&standin, json!([{"content": "El jueves a las 10"}]));
    let model = ModelClient::new(ModelConfig {
        base_url: format!("{}/v1", standin.url()),
        api_key: Some(Secret::new(DEFAULT_API_KEY)),
        model: "gpt-4o-mini".to_owned(),
        policy: policy(Duration::from_secs(10), 3),
    })
    .unwrap();
    let agent = Agent::new(
        manager.clone(),
        model,
        AgentConfig {
            mode: Mode::Native,
            max_steps: 4,
            system_prompt: None,
            retrieval: true,
        },
        Consent::decline_all(),
        Audit::new(AuditLog::open(&AuditDestination::Off).unwrap()),
    );
    let question = "¿Cuándo es la reunión trimestral con Empresa X?";
    let outcome = agent.ask(question).await.unwrap();
    assert_eq!(
        outcome.tool_calls[0].tool.as_deref(),
        Some("recuperar_contexto")
    );
    assert_eq!(
        outcome.tool_calls[0].arguments,
        json!({"pregunta": question})
    );
    let requests = chat_requests(&standin);
    let messages = requests[0].body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    let context = messages[0]["content"].as_str().unwrap();
    assert!(
        context.contains("recuperar_contexto") && context.contains("jueves a las 10 en Valencia"),
        "{context}"
    );
    assert_eq!(messages[1]["content"], question);
    manager.shutdown().await;
}

/// Over the gateway a write is not run but returned as a pending approval; approving it runs
/// exactly those arguments, the model hears the result, and an answered approval cannot be used
/// again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_returns_writes_as_pending_approvals_and_runs_them_once_approved() {
    let dir = TempDir::new().unwrap();
    let standin = openai_standin::spawn().await.unwrap();
    script(
        &standin,
        json!([
            {"tool_calls": [{"name": "empresa__create_company", "arguments": {
                "name": "Agente Gateway SA", "city": null, "country": null, "description": null, "email": null,
                "employees": 3, "industry": null, "legal_id": null, "phone": null, "website": null
            }}]},
            {"content": "Necesito tu aprobación para crearla"},
            {"content": "Creada"}
        ]),
    );
    let consent = mcp_agent::gateway::consent();
    let manager = start_manager(&servers_file(dir.path(), json!({})), consent.clone()).await;
    let gateway = agent(&standin, manager.clone(), Mode::Native, 8, consent);
    let (addr, server, http) = serve_gateway(gateway, manager.clone(), Vec::new()).await;
    let chat = |body: Value| http.post(format!("http://{addr}/chat")).json(&body).send();

    let first: Value =
        chat(json!({"message": "Crea la empresa Agente Gateway SA con 3 empleados"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(first["answer"], "Necesito tu aprobación para crearla");
    assert_eq!(first["tool_calls"][0]["outcome"], "pending_approval");
    let pending = &first["pending_approvals"][0];
    assert_eq!(
        (pending["server"].as_str(), pending["tool"].as_str()),
        (Some("empresa"), Some("create_company"))
    );
    // The arguments as they would be sent (nulls the server's schema accepts kept), never `confirm`.
    assert_eq!(
        (
            pending["arguments"]["name"].as_str(),
            pending["arguments"]["employees"].as_i64()
        ),
        (Some("Agente Gateway SA"), Some(3))
    );
    assert!(pending["arguments"].get("confirm").is_none());
    assert!(
        !company_names(&manager)
            .await
            .contains(&"Agente Gateway SA".to_owned())
    );
    let told = chat_requests(&standin)[1].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        told["content"]
            .as_str()
            .unwrap()
            .contains("approval has been requested"),
        "{told}"
    );

    let conversation = first["conversation_id"].as_str().unwrap().to_owned();
    let approval = json!({"conversation_id": conversation, "approve": [pending["id"]]});
    let second: Value = chat(approval.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(second["approved"][0]["outcome"], "ok", "{second}");
    assert_eq!(second["answer"], "Creada");
    assert!(
        company_names(&manager)
            .await
            .contains(&"Agente Gateway SA".to_owned())
    );
    let heard = chat_requests(&standin)[2].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        heard["content"]
            .as_str()
            .unwrap()
            .contains("The user approved `empresa__create_company`"),
        "{heard}"
    );

    let again = chat(approval).await.unwrap();
    assert_eq!(again.status().as_u16(), 400);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("not a pending approval")
    );
    server.abort();
    manager.shutdown().await;
}

/// Servers inherit the agent's environment but not its own `AGENT_*` settings (the model's key).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_do_not_inherit_the_agents_settings() {
    let dir = TempDir::new().unwrap();
    let script_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/list_changing.py");
    let servers = dir.path().join("servers.json");
    std::fs::write(
        &servers,
        json!({"mcpServers": {"changing": {"command": "python3", "args": [script_path.to_string_lossy()], "env": {"AGENT_GIVEN_BY_ENTRY": "1"}}}}).to_string(),
    )
    .unwrap();
    let standin = openai_standin::spawn().await.unwrap();
    script(
        &standin,
        json!([
            {"tool_calls": [{"name": "changing__environment", "arguments": {}}]},
            {"content": "{{last_result:/agent_variables}}"}
        ]),
    );
    let audit = dir.path().join("audit.jsonl");
    let (code, stdout, stderr) = run_binary(
        dir.path(),
        &[
            "--servers",
            servers.to_str().unwrap(),
            "ask",
            "¿Qué variables ves?",
        ],
        &model_env(&standin, "native", &audit),
    )
    .await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    // Only what servers.json itself gives the server.
    assert_eq!(
        stdout.trim(),
        "[\"AGENT_GIVEN_BY_ENTRY\"]",
        "stderr: {stderr}"
    );
}

/// A server reached over streamable HTTP (`url` with `bearer_token_env`): `consultar_empresa`
/// answers 100 through it; a wrong token is a start failure naming the 401; after the server
/// expired the session (MCP_SESSION_IDLE_SECS=1) the next call initialises a new one and works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_servers_are_called_with_their_token_and_reinitialised_after_an_expired_session() {
    let dir = TempDir::new().unwrap();
    // The test cannot set variables in its own process, so the token is one cargo sets for
    // every test run: bearer_token_env names where the agent reads it, not what it is.
    let token = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let home = dir.path().to_string_lossy().into_owned();
    let server_env = [
        ("EMPRESA_SAMPLE_DATA", "true"),
        ("HOME", home.as_str()),
        ("XDG_DATA_HOME", home.as_str()),
        ("MCP_AUTH_TOKEN", token.as_str()),
        ("MCP_SESSION_IDLE_SECS", "1"),
        ("MCP_AUDIT_LOG", "off"),
    ];
    let empresa = empresa_binary();
    let server_env: Vec<(String, String)> = server_env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let http = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = server_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        mcp_conformance::HttpServer::start(&empresa, &[], &env).unwrap()
    })
    .await
    .unwrap();
    let servers = dir.path().join("servers.json");
    std::fs::write(
        &servers,
        json!({"mcpServers": {
            "web": {"url": http.mcp_url(), "bearer_token_env": "CARGO_MANIFEST_DIR"},
            "wrong": {"url": http.mcp_url(), "bearer_token_env": "CARGO_PKG_NAME"}
        }})
        .to_string(),
    )
    .unwrap();
    let manager = start_manager(&servers, Consent::decline_all()).await;
    let status = manager.status().await;
    let web = status.iter().find(|s| s.name == "web").unwrap();
    assert!(web.running, "{status:?}");
    let wrong = status.iter().find(|s| s.name == "wrong").unwrap();
    assert!(!wrong.running);
    assert!(
        wrong.error.as_deref().unwrap_or_default().contains("401"),
        "{status:?}"
    );

    let standin = openai_standin::spawn().await.unwrap();
    let ask = || async {
        script(
            &standin,
            json!([
                {"tool_calls": [{"name": "web__consultar_empresa", "arguments": {"nombre": "Empresa X"}}]},
                {"content": "{{last_result:/company/employees}}"}
            ]),
        );
        agent(
            &standin,
            manager.clone(),
            Mode::Native,
            4,
            Consent::decline_all(),
        )
        .ask(QUESTION)
        .await
        .unwrap()
    };
    assert_eq!(ask().await.answer, "100");
    let starts_before = |statuses: Vec<mcp_agent::manager::ServerStatus>| {
        statuses
            .into_iter()
            .find(|s| s.name == "web")
            .map_or(0, |s| s.starts)
    };
    // Normally 1; more only if a slow machine let the 1 s session expire already.
    let first_starts = starts_before(manager.status().await);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after_expiry = ask().await;
    assert_eq!(after_expiry.answer, "100", "{:?}", after_expiry.tool_calls);
    let web = manager
        .status()
        .await
        .into_iter()
        .find(|s| s.name == "web")
        .unwrap();
    assert!(web.running && web.starts > first_starts, "{web:?}");
    let second_starts = web.starts;

    // A write whose session expired was refused by the server before any tool ran, so it is
    // sent again on a new session, and happens exactly once. (The tool list is cached first,
    // so the expired session is met by the write itself.)
    let (_, failures) = manager.all_tools().await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    script(
        &standin,
        json!([
            {"tool_calls": [{"name": "web__create_company", "arguments": {
                "name": "Agente HTTP SA", "city": null, "country": null, "description": null, "email": null,
                "employees": 4, "industry": null, "legal_id": null, "phone": null, "website": null
            }}]},
            {"content": "creada"}
        ]),
    );
    let created = agent(
        &standin,
        manager.clone(),
        Mode::Native,
        4,
        Consent::approve_all(),
    )
    .ask("Crea Agente HTTP SA")
    .await
    .unwrap();
    assert_eq!(
        created.tool_calls[0].outcome, "ok",
        "{}",
        created.tool_calls[0].result
    );
    let listed = manager
        .call(
            "web",
            "list_companies",
            json!({"limit": 100}).as_object().unwrap().clone(),
            false,
            true,
        )
        .await
        .unwrap();
    let copies = listed["structuredContent"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "Agente HTTP SA")
        .count();
    assert_eq!(copies, 1);
    let web = manager
        .status()
        .await
        .into_iter()
        .find(|s| s.name == "web")
        .unwrap();
    assert!(web.starts > second_starts, "{web:?}");
    manager.shutdown().await;
    drop(http);
}
