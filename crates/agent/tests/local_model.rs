//! mcp-agent with the real local model (SmolLM2-135M-Instruct, fetched by `just tools`, named by
//! `MCP_LOCAL_MODEL`) and three real servers (mcp-empresa with its sample data, mcp-rag on its
//! embedded store, mcp-odoo against the Odoo stand-in): twenty questions, and which tool the
//! model picks with which arguments. The replies are held to the JSON protocol, so every reply
//! is a real tool with arguments of its shape, or an answer; whether it is the right tool is the
//! model's doing, and the score is printed.
//!
//! The servers must be built first (`just test` builds every binary).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // Tests fail loudly and report.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_agent::audit::Audit;
use mcp_agent::local::LocalClient;
use mcp_agent::{Agent, AgentConfig, Consent, Manager, ManagerConfig, Mode, servers};
use mcp_common::audit::AuditLog;
use mcp_common::config::AuditDestination;
use mcp_conformance::servers::{TestEnvironment, load_servers, test_environment};
use serde_json::{Value, json};

/// servers.json entries for empresa, rag and odoo as the conformance suite runs them (odoo's
/// stand-in started), each in its own directory under `dir`.
fn three_servers(dir: &Path) -> (std::path::PathBuf, Vec<TestEnvironment>) {
    let mut entries = serde_json::Map::new();
    let mut environments = Vec::new();
    for server in load_servers().unwrap() {
        if !["empresa", "rag", "odoo"].contains(&server.name.as_str()) {
            continue;
        }
        let home = dir.join(&server.name);
        std::fs::create_dir_all(&home).unwrap();
        let mut environment = test_environment(&server, &home);
        if server.name == "empresa" {
            environment.push(("EMPRESA_SAMPLE_DATA".into(), "true".into()));
        }
        let env: serde_json::Map<String, Value> = environment
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let binary = mcp_conformance::binary_path(&server.command);
        assert!(
            binary.exists(),
            "{} is missing; `just test` builds it",
            binary.display()
        );
        entries.insert(
            server.name.clone(),
            json!({"command": binary, "args": server.args, "env": env}),
        );
        environments.push(environment);
    }
    assert_eq!(entries.len(), 3);
    let path = dir.join("servers.json");
    std::fs::write(&path, json!({"mcpServers": entries}).to_string()).unwrap();
    (path, environments)
}

/// A question, the tool it needs and the argument (name and text it must contain) that shows
/// the model understood what to look up.
struct Case {
    question: &'static str,
    tool: &'static str,
    argument: Option<(&'static str, &'static str)>,
}

const fn case(
    question: &'static str,
    tool: &'static str,
    argument: Option<(&'static str, &'static str)>,
) -> Case {
    Case {
        question,
        tool,
        argument,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_model_picks_tools_for_twenty_questions() {
    let Some(model_path) = mcp_conformance::tool_paths(&["MCP_LOCAL_MODEL"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (servers_path, _environments) = three_servers(dir.path());
    let manager = Arc::new(
        Manager::start(
            servers::load(&servers_path).unwrap(),
            ManagerConfig {
                start_timeout: Duration::from_secs(60),
                call_timeout: Duration::from_secs(60),
            },
            Consent::decline_all(),
        )
        .await,
    );
    let path = model_path[0].clone();
    let model = tokio::task::spawn_blocking(move || LocalClient::load(Path::new(&path)))
        .await
        .unwrap()
        .unwrap();
    // One model call per question: the first reply is the choice being measured.
    let agent = Agent::new(
        manager.clone(),
        model,
        AgentConfig {
            mode: Mode::Auto,
            max_steps: 1,
            system_prompt: None,
            retrieval: false,
        },
        Consent::decline_all(),
        Audit::new(AuditLog::open(&AuditDestination::Off).unwrap()),
    );
    let (tools, unavailable) = agent.tools().await;
    assert!(unavailable.is_empty(), "{unavailable:?}");
    assert!(tools.len() > 30, "{} tools", tools.len());

    let cases = [
        case(
            "¿Cuántos empleados tiene Empresa X?",
            "empresa__consultar_empresa",
            Some(("nombre", "Empresa X")),
        ),
        case(
            "Tell me about the company Acme Corp.",
            "empresa__consultar_empresa",
            Some(("nombre", "Acme")),
        ),
        case(
            "Find documents named contrato marco.",
            "empresa__buscar_documentos",
            Some(("nombre_documento", "contrato")),
        ),
        case(
            "Search the documents for the annual report.",
            "empresa__buscar_documentos",
            Some(("nombre_documento", "report")),
        ),
        case(
            "List the companies in Madrid.",
            "empresa__list_companies",
            Some(("city", "Madrid")),
        ),
        case(
            "Show me the company with id 3.",
            "empresa__get_company",
            None,
        ),
        case("Show me document number 2.", "empresa__get_document", None),
        case(
            "Remember that the meeting with Acme is on Friday.",
            "rag__memorizar_informacion",
            Some(("texto", "Friday")),
        ),
        case(
            "What do you remember about the Acme meeting?",
            "rag__recuperar_contexto",
            Some(("pregunta", "Acme")),
        ),
        case(
            "Recall what we know about the budget for 2026.",
            "rag__recuperar_contexto",
            Some(("pregunta", "budget")),
        ),
        case(
            "Search the knowledge base for vaccine efficacy.",
            "rag__search",
            Some(("query", "vaccine")),
        ),
        case(
            "Which collections does the knowledge base have?",
            "rag__list_collections",
            None,
        ),
        case(
            "Give me the statistics of the default collection.",
            "rag__collection_stats",
            None,
        ),
        case(
            "Obtén el cliente Azure Interior de Odoo.",
            "odoo__obtener_cliente",
            Some(("nombre", "Azure")),
        ),
        case(
            "Look up the customer Deco Addict in Odoo.",
            "odoo__obtener_cliente",
            Some(("nombre", "Deco")),
        ),
        case("List the CRM leads in Odoo.", "odoo__list_leads", None),
        case(
            "How many partners are there in Odoo (res.partner)?",
            "odoo__count_records",
            Some(("model", "res.partner")),
        ),
        case(
            "Describe the Odoo model crm.lead.",
            "odoo__describe_model",
            Some(("model", "crm.lead")),
        ),
        case(
            "Which Odoo models are about sales?",
            "odoo__list_models",
            None,
        ),
        case(
            "Search Odoo res.partner records named Gemini.",
            "odoo__search_records",
            Some(("model", "res.partner")),
        ),
    ];
    let mut right_tool = 0;
    let mut right_arguments = 0;
    let mut first = None;
    for case in &cases {
        let started = Instant::now();
        let outcome = agent.ask(case.question).await.unwrap();
        // Held to the protocol: one model call, never an unreadable reply.
        assert_eq!(outcome.steps, 1, "{}: {:?}", case.question, outcome.finish);
        assert_ne!(
            outcome.finish,
            mcp_agent::Finish::Unreadable,
            "{}",
            case.question
        );
        let call = outcome.tool_calls.first();
        let picked = call.map_or("(answered)", |c| c.function.as_str());
        if let Some(call) = call {
            assert!(
                tools.iter().any(|t| t.name == call.function),
                "{}: {} is not a tool",
                case.question,
                call.function
            );
        }
        let tool_ok = picked == case.tool;
        let arguments_ok = tool_ok
            && case.argument.is_none_or(|(name, text)| {
                call.and_then(|c| c.arguments.get(name))
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.to_lowercase().contains(&text.to_lowercase()))
            });
        right_tool += usize::from(tool_ok);
        right_arguments += usize::from(arguments_ok);
        eprintln!(
            "{} | {} | {} | {} | {:.1} s",
            case.question,
            picked,
            call.map_or(Value::Null, |c| c.arguments.clone()),
            if arguments_ok {
                "right"
            } else if tool_ok {
                "right tool"
            } else {
                "wrong"
            },
            started.elapsed().as_secs_f64()
        );
        first.get_or_insert(arguments_ok);
    }
    eprintln!(
        "local model: right tool for {right_tool}/20 questions, right tool and arguments for {right_arguments}/20"
    );
    manager.shutdown().await;
    // The prototype's own question, the must-show.
    assert_eq!(
        first,
        Some(true),
        "the first question must pick consultar_empresa(nombre: Empresa X)"
    );
}
