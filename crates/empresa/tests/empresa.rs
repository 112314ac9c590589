//! mcp-empresa end to end: the binary over stdio and HTTP, with a fresh database per test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::path::{Path, PathBuf};

use mcp_conformance::{HttpServer, StdioServer, result_text};
use serde_json::{Value, json};
use tempfile::TempDir;

struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: TempDir::new().unwrap(),
        }
    }

    fn db(&self) -> String {
        self.dir
            .path()
            .join("empresa.db")
            .to_string_lossy()
            .into_owned()
    }

    fn audit_path(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("EMPRESA_DB_PATH".into(), self.db()),
            (
                "MCP_AUDIT_LOG".into(),
                self.audit_path().to_string_lossy().into_owned(),
            ),
        ]
    }

    fn stdio(&self) -> StdioServer {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut server =
            StdioServer::spawn(Path::new(env!("CARGO_BIN_EXE_mcp-empresa")), &[], &env).unwrap();
        server.initialize().unwrap();
        server
    }

    /// The server over HTTP, with `extra` added to the environment.
    fn http(&self, extra: &[(&str, &str)]) -> HttpServer {
        let mut env = self.env();
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        HttpServer::start(Path::new(env!("CARGO_BIN_EXE_mcp-empresa")), &[], &env).unwrap()
    }

    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.audit_path())
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

fn total_companies(server: &mut StdioServer) -> u64 {
    let page = server.call_tool("list_companies", json!({})).unwrap();
    page["structuredContent"]["total"].as_u64().unwrap()
}

#[test]
fn consultar_empresa_finds_exact_normalized_and_fuzzy_names() {
    let fixture = Fixture::new();
    let mut server = fixture.stdio();
    // (name asked, match kind, company found, employees)
    let cases = [
        ("Empresa X", "exact", "Empresa X", 100),
        ("empresa y", "normalized", "Empresa Y", 200),
        ("ÉMPRESA  X", "normalized", "Empresa X", 100),
        ("Emprsa Y", "fuzzy", "Empresa Y", 200),
    ];
    for (asked, kind, found, employees) in cases {
        let result = server
            .call_tool("consultar_empresa", json!({"nombre": asked}))
            .unwrap();
        let lookup = &result["structuredContent"];
        assert_eq!(lookup["match_kind"], kind, "{asked}: {lookup}");
        assert_eq!(lookup["company"]["name"], found, "{asked}: {lookup}");
        assert_eq!(
            lookup["company"]["employees"], employees,
            "{asked}: {lookup}"
        );
        assert_ne!(result["isError"], true);
    }
    let missing = server
        .call_tool("consultar_empresa", json!({"nombre": "Empresa"}))
        .unwrap();
    assert_eq!(
        missing["structuredContent"]["match_kind"], "none",
        "{missing}"
    );
    let suggestions = missing["structuredContent"]["suggestions"]
        .as_array()
        .unwrap();
    assert!(
        !suggestions.is_empty(),
        "close names are suggested: {missing}"
    );
}

#[test]
fn buscar_documentos_ranks_hits_and_returns_snippets() {
    let fixture = Fixture::new();
    let mut server = fixture.stdio();
    let result = server
        .call_tool("buscar_documentos", json!({"nombre_documento": "contrato"}))
        .unwrap();
    let hits = result["structuredContent"]["hits"]
        .as_array()
        .unwrap()
        .clone();
    assert!(hits.len() >= 2, "{result}");
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "hits are ranked best first: {scores:?}"
    );
    assert!(
        hits.iter()
            .all(|h| h["snippet"].as_str().unwrap().contains("**")),
        "every hit marks its match: {hits:?}"
    );
    assert!(
        hits[0]["title"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("contrato"),
        "a title match ranks first: {hits:?}"
    );
    let text = result_text(&result);
    assert!(
        text.contains("\"hits\""),
        "the text content carries the same JSON: {text}"
    );
}

#[test]
fn bad_arguments_get_errors_naming_the_field() {
    let fixture = Fixture::new();
    let mut server = fixture.stdio();
    let cases = [
        (
            json!({"nombre": 5}),
            "`nombre`: expected a string, got a number (5)",
        ),
        (
            json!({}),
            "`nombre`: missing required argument (expected a string)",
        ),
        (json!({"nombre": "  "}), "invalid argument `nombre`"),
    ];
    for (arguments, expected) in cases {
        let result = server
            .call_tool("consultar_empresa", arguments.clone())
            .unwrap();
        assert_eq!(result["isError"], true, "{arguments}: {result}");
        assert!(
            result_text(&result).contains(expected),
            "{arguments}: {}",
            result_text(&result)
        );
    }
}

#[test]
fn writes_without_consent_change_nothing_and_with_consent_are_applied_and_audited() {
    let fixture = Fixture::new();
    let mut server = fixture.stdio();
    let before = total_companies(&mut server);
    let new_company = json!({"name": "Acme Ibérica", "employees": 42, "city": "Sevilla"});

    let refused = server
        .call_tool("create_company", new_company.clone())
        .unwrap();
    assert_eq!(refused["isError"], true, "{refused}");
    assert!(result_text(&refused).contains("confirm: true"), "{refused}");
    assert_eq!(
        total_companies(&mut server),
        before,
        "a refused write changes nothing"
    );

    let mut confirmed = new_company.clone();
    confirmed["confirm"] = json!(true);
    let created = server.call_tool("create_company", confirmed).unwrap();
    assert_ne!(created["isError"], true, "{created}");
    let id = created["structuredContent"]["id"].as_i64().unwrap();
    assert_eq!(total_companies(&mut server), before + 1);

    let refused_delete = server
        .call_tool("delete_company", json!({"id": id}))
        .unwrap();
    assert_eq!(refused_delete["isError"], true);
    assert_eq!(
        total_companies(&mut server),
        before + 1,
        "a refused delete changes nothing"
    );
    let deleted = server
        .call_tool("delete_company", json!({"id": id, "confirm": true}))
        .unwrap();
    assert_eq!(
        deleted["structuredContent"]["company"]["name"], "Acme Ibérica",
        "{deleted}"
    );
    assert_eq!(total_companies(&mut server), before);

    let audit = fixture.audit();
    let calls: Vec<(&str, &str)> = audit
        .iter()
        .map(|r| (r["tool"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        calls,
        [
            ("list_companies", "ok"),
            ("create_company", "refused"),
            ("list_companies", "ok"),
            ("create_company", "ok"),
            ("list_companies", "ok"),
            ("delete_company", "refused"),
            ("list_companies", "ok"),
            ("delete_company", "ok"),
            ("list_companies", "ok"),
        ],
        "one audit line per call"
    );
    let create = &audit[3];
    assert_eq!(create["consent"], "argument");
    assert_eq!(create["arguments"]["name"], "Acme Ibérica");
    assert_eq!(create["caller"]["transport"], "stdio");
    assert!(create["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(create["time"].as_str().unwrap().ends_with('Z'));
}

/// The refusal without consent says what would go: the company by name and its documents,
/// or each field's old and new value, so the user is not asked to approve a bare id.
#[test]
fn refusals_preview_the_company_and_what_goes_with_it() {
    let fixture = Fixture::new();
    let mut server = fixture.stdio();
    let found = server
        .call_tool("consultar_empresa", json!({"nombre": "Empresa Y"}))
        .unwrap();
    let id = found["structuredContent"]["company"]["id"]
        .as_i64()
        .unwrap();
    let profile = server.call_tool("get_company", json!({"id": id})).unwrap();
    let documents = profile["structuredContent"]["documents"]
        .as_array()
        .unwrap()
        .len();
    assert!(documents >= 2, "{profile}");
    let before = total_companies(&mut server);

    let refused = server
        .call_tool("delete_company", json!({"id": id}))
        .unwrap();
    assert_eq!(refused["isError"], true, "{refused}");
    let text = result_text(&refused);
    assert!(
        text.contains(&format!(
            "delete company {id} \"Empresa Y\" and its {documents} documents"
        )),
        "{text}"
    );
    assert_eq!(total_companies(&mut server), before, "nothing was deleted");
    let still = server.call_tool("get_company", json!({"id": id})).unwrap();
    assert_eq!(
        still["structuredContent"]["documents"]
            .as_array()
            .unwrap()
            .len(),
        documents,
        "{still}"
    );

    let unknown = server
        .call_tool("delete_company", json!({"id": 999_999}))
        .unwrap();
    assert!(
        result_text(&unknown).contains("no company has id 999999"),
        "{unknown}"
    );

    let employees = found["structuredContent"]["company"]["employees"].clone();
    let update = server
        .call_tool(
            "update_company",
            json!({"id": id, "employees": 250, "city": "Bilbao"}),
        )
        .unwrap();
    assert_eq!(update["isError"], true, "{update}");
    let text = result_text(&update);
    assert!(
        text.contains(&format!("update company {id} \"Empresa Y\":")),
        "{text}"
    );
    assert!(
        text.contains(&format!("employees: {employees} -> 250")),
        "{text}"
    );
    assert!(text.contains("city: "), "{text}");
    assert!(text.contains("-> \"Bilbao\""), "{text}");
    let unchanged = server.call_tool("get_company", json!({"id": id})).unwrap();
    assert_eq!(
        unchanged["structuredContent"]["company"]["employees"], employees,
        "nothing was changed"
    );
}

#[test]
fn audit_redacts_secrets_in_arguments() {
    let fixture = Fixture::new();
    let mut server = fixture.stdio();
    let result = server
        .call_tool(
            "consultar_empresa",
            json!({"nombre": "Empresa X", "api_key": "sk-live-very-secret-1"}),
        )
        .unwrap();
    assert!(
        result_text(&result).contains("`api_key`: unknown argument"),
        "{result}"
    );
    let audit = std::fs::read_to_string(fixture.audit_path()).unwrap();
    assert!(!audit.contains("sk-live-very-secret-1"), "{audit}");
    assert!(audit.contains(r#""api_key":"[redacted]""#), "{audit}");
    assert!(!server.stderr().contains("sk-live-very-secret-1"));
}

#[test]
fn import_reports_every_bad_line_and_writes_nothing() {
    let fixture = Fixture::new();
    let mut server = fixture.stdio();
    let before = total_companies(&mut server);
    let csv = "name,employees,email\nBuena SA,10,info@buena.example\nMala SA,muchos,info@mala.example\n,5,x@y.example\nPeor SL,7,sin-arroba\n";
    let result = server
        .call_tool(
            "import_data",
            json!({"format": "csv", "kind": "companies", "data": csv, "confirm": true}),
        )
        .unwrap();
    assert_eq!(result["isError"], true, "{result}");
    let text = result_text(&result);
    for expected in [
        "line 3",
        "`employees`",
        "line 4",
        "`name`",
        "line 5",
        "`email`",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in {text}");
    }
    assert!(
        !text.contains("line 2"),
        "the good line is not reported: {text}"
    );
    assert_eq!(
        total_companies(&mut server),
        before,
        "a rejected import writes nothing"
    );

    let good = "name,employees\nBuena SA,10\nOtra SL,3\n";
    let imported = server
        .call_tool(
            "import_data",
            json!({"format": "csv", "kind": "companies", "data": good, "confirm": true}),
        )
        .unwrap();
    assert_eq!(imported["structuredContent"]["inserted"], 2, "{imported}");
    assert_eq!(total_companies(&mut server), before + 2);
}

#[test]
fn resources_and_prompt_describe_companies() {
    let fixture = Fixture::new();
    let mut server = fixture.stdio();
    let listed = server.request("resources/list", json!({})).unwrap();
    let resources = listed["result"]["resources"].as_array().unwrap();
    assert!(
        resources.iter().any(|r| r["name"] == "Empresa X"),
        "{listed}"
    );
    let uri = resources.iter().find(|r| r["name"] == "Empresa X").unwrap()["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(uri.starts_with("empresa://companies/"));
    let read = server
        .request("resources/read", json!({"uri": uri}))
        .unwrap();
    let text = read["result"]["contents"][0]["text"].as_str().unwrap();
    assert!(text.contains("\"employees\": 100"), "{text}");

    // Documents come after companies, on a later page of the same listing.
    let next = listed["result"]["nextCursor"].as_str().unwrap();
    let documents = server
        .request("resources/list", json!({"cursor": next}))
        .unwrap();
    let first = documents["result"]["resources"][0]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(first.starts_with("empresa://documents/"), "{documents}");
    let document = server
        .request("resources/read", json!({"uri": first}))
        .unwrap();
    assert!(
        document["result"]["contents"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("# "),
        "{document}"
    );

    let missing = server
        .request(
            "resources/read",
            json!({"uri": "empresa://companies/999999"}),
        )
        .unwrap();
    assert_eq!(missing["error"]["code"], -32002, "{missing}");
    assert_eq!(
        missing["error"]["data"]["uri"], "empresa://companies/999999",
        "{missing}"
    );

    let templates = server
        .request("resources/templates/list", json!({}))
        .unwrap();
    assert_eq!(
        templates["result"]["resourceTemplates"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let completion = server
        .request(
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "brief_company"}, "argument": {"name": "nombre", "value": "empresa"}}),
        )
        .unwrap();
    let values = completion["result"]["completion"]["values"]
        .as_array()
        .unwrap();
    assert!(
        values.contains(&json!("Empresa X")) && values.contains(&json!("Empresa Y")),
        "{completion}"
    );

    let prompt = server
        .request(
            "prompts/get",
            json!({"name": "brief_company", "arguments": {"nombre": "empresa y"}}),
        )
        .unwrap();
    let message = prompt["result"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("Empresa Y") && message.contains("200"),
        "{message}"
    );
}

#[test]
fn data_persists_across_restarts_without_reseeding() {
    let fixture = Fixture::new();
    let mut first = fixture.stdio();
    let seeded = total_companies(&mut first);
    first
        .call_tool(
            "create_company",
            json!({"name": "Persistente SA", "confirm": true}),
        )
        .unwrap();
    drop(first);
    let mut second = fixture.stdio();
    assert_eq!(total_companies(&mut second), seeded + 1);
    let found = second
        .call_tool("consultar_empresa", json!({"nombre": "Persistente SA"}))
        .unwrap();
    assert_eq!(found["structuredContent"]["match_kind"], "exact");
}

#[test]
fn http_with_a_token_serves_tools_and_audits_the_caller() {
    let fixture = Fixture::new();
    let http = fixture.http(&[("MCP_AUTH_TOKENS", "alice:alice-token-123456")]);
    let auth = [("authorization", "Bearer alice-token-123456")];
    let (session, _) = http.initialize(&auth).unwrap();
    let result = http
        .call_tool(
            session.as_deref(),
            2,
            "consultar_empresa",
            json!({"nombre": "Empresa X"}),
            &auth,
        )
        .unwrap();
    assert_eq!(
        result["structuredContent"]["company"]["employees"], 100,
        "{result}"
    );
    let without = http
        .post(
            &json!({"jsonrpc":"2.0","id":3,"method":"tools/list"}),
            session.as_deref(),
            &[],
        )
        .unwrap();
    assert_eq!(without.status, 401);
    let audit = fixture.audit();
    let record = audit.last().unwrap();
    assert_eq!(record["caller"]["transport"], "http");
    assert_eq!(record["caller"]["principal"], "alice");
    assert!(
        record["caller"]["remote"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert_eq!(record["caller"]["session"], session.unwrap().as_str());
    // With tokens configured, /readyz details (record counts) are for token holders only.
    let ready = http
        .client
        .get(format!("{}/readyz", http.base))
        .header(auth[0].0, auth[0].1)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        ready.contains("\"ready\":true") && ready.contains("companies"),
        "{ready}"
    );
    let anonymous = http
        .client
        .get(format!("{}/readyz", http.base))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(anonymous, "{\"ready\":true}");
}

/// Runs `mcp-empresa grants ARGS` against the fixture's grants file; returns stdout.
fn grants_cli(fixture: &Fixture, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-empresa"))
        .arg("grants")
        .args(args)
        .envs(fixture.env())
        .env("MCP_GRANTS_FILE", fixture.dir.path().join("grants.json"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "grants {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn grant_id(added: &str) -> String {
    added
        .split_whitespace()
        .find(|w| w.starts_with("g-"))
        .unwrap()
        .to_owned()
}

#[test]
fn local_documents_need_no_consent_while_updates_do_unless_an_operator_grants_it() {
    let fixture = Fixture::new();
    let grants_file = fixture.dir.path().join("grants.json");
    let mut env = fixture.env();
    env.push((
        "MCP_GRANTS_FILE".into(),
        grants_file.to_string_lossy().into_owned(),
    ));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut server =
        StdioServer::spawn(Path::new(env!("CARGO_BIN_EXE_mcp-empresa")), &[], &env).unwrap();
    server.initialize().unwrap();

    // A document in the server's own store is a local additive write: no question.
    let document = json!({"title": "Nota", "body": "Llamar al proveedor de cartón."});
    let added = server.call_tool("add_document", document.clone()).unwrap();
    assert_ne!(added["isError"], true, "{added}");
    let again = server.call_tool("add_document", document).unwrap();
    assert_eq!(
        again["structuredContent"]["id"], added["structuredContent"]["id"],
        "adding it again keeps one copy"
    );

    fn server_company(server: &mut StdioServer) -> Value {
        server.call_tool("get_company", json!({"id": 1})).unwrap()["structuredContent"]["company"]
            .clone()
    }
    let city_before = server_company(&mut server)["city"].clone();
    let update = json!({"id": 1, "city": "Bilbao"});
    let refused = server.call_tool("update_company", update.clone()).unwrap();
    assert_eq!(refused["isError"], true, "{refused}");
    assert!(
        result_text(&refused).contains("grants add update_company"),
        "the refusal names the way to a standing grant: {refused}"
    );
    assert_eq!(
        server_company(&mut server)["city"],
        city_before,
        "refused: unchanged"
    );

    // An operator's grant for three seconds lets the call through without asking...
    let short = grant_id(&grants_cli(
        &fixture,
        &["add", "update_company", "--caller", "local", "--for", "3s"],
    ));
    let listed = grants_cli(&fixture, &["list"]);
    assert!(
        listed.contains(&short) && listed.contains("tool=update_company"),
        "{listed}"
    );
    let granted = server.call_tool("update_company", update.clone()).unwrap();
    assert_ne!(granted["isError"], true, "{granted}");
    assert_eq!(server_company(&mut server)["city"], "Bilbao");
    // ...until it expires.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let expired = server
        .call_tool("update_company", json!({"id": 1, "city": "Vigo"}))
        .unwrap();
    assert_eq!(expired["isError"], true, "expired grant: {expired}");
    assert_eq!(server_company(&mut server)["city"], "Bilbao");

    // A grant without expiry lasts until `grants revoke`.
    let lasting = grant_id(&grants_cli(&fixture, &["add", "update_company"]));
    let granted = server
        .call_tool("update_company", json!({"id": 1, "city": "Vigo"}))
        .unwrap();
    assert_ne!(granted["isError"], true, "{granted}");
    let revoked = grants_cli(&fixture, &["revoke", &lasting]);
    assert!(revoked.contains(&format!("revoked {lasting}")), "{revoked}");
    let after = server
        .call_tool("update_company", json!({"id": 1, "city": "Cádiz"}))
        .unwrap();
    assert_eq!(after["isError"], true, "revoked: {after}");
    assert_eq!(server_company(&mut server)["city"], "Vigo");
    assert!(grants_cli(&fixture, &["list"]).contains("no grants"));

    let consents: Vec<(String, String)> = fixture
        .audit()
        .iter()
        .filter(|r| r["tool"] != "get_company")
        .map(|r| {
            (
                r["tool"].as_str().unwrap().to_owned(),
                r["consent"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    let expected = [
        ("add_document", "not_required".to_owned()),
        ("add_document", "not_required".to_owned()),
        ("update_company", "-".to_owned()),
        ("update_company", format!("grant:{short}")),
        ("update_company", "-".to_owned()),
        ("update_company", format!("grant:{lasting}")),
        ("update_company", "-".to_owned()),
    ]
    .map(|(t, c)| (t.to_owned(), c));
    assert_eq!(consents, expected);
}

/// Debug logging never prints tool arguments: rmcp logs each raw request at `debug`, so a
/// password passed to a tool would otherwise reach stderr (and the audit record redacts it).
/// Only a filter that names rmcp itself shows them, with a warning.
#[test]
fn debug_logs_never_print_secret_arguments() {
    let password = "hunter2-Sup3r-s3cret-pw";
    let api_key = "sk_live_51HxTESTabcdefghijklmnop";
    // (MCP_LOG_LEVEL, whether raw requests are printed)
    for (filter, raw) in [
        ("debug", false),
        ("trace", false),
        ("debug,rmcp=debug", true),
    ] {
        let fixture = Fixture::new();
        let env = [
            ("EMPRESA_DB_PATH", fixture.db()),
            ("MCP_LOG_LEVEL", filter.to_owned()),
            ("MCP_AUDIT_LOG", "stderr".to_owned()),
        ];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut server =
            StdioServer::spawn(Path::new(env!("CARGO_BIN_EXE_mcp-empresa")), &[], &env).unwrap();
        server.initialize().unwrap();
        let refused = server
            .call_tool(
                "consultar_empresa",
                json!({"nombre": "Empresa X", "password": password}),
            )
            .unwrap();
        assert_eq!(refused["isError"], true, "{refused}");
        let refused = server
            .call_tool(
                "list_companies",
                json!({"name_contains": "Empresa", "api_key": api_key, "limit": 1}),
            )
            .unwrap();
        assert_eq!(refused["isError"], true, "{refused}");
        // The audit record of the last call is written before its answer, but read by another
        // thread: give it a moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !server.stderr().contains("\"tool\":\"list_companies\"")
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let stderr = server.stderr();
        assert!(
            stderr.contains("\"tool\":\"list_companies\""),
            "{filter}: the audit record is on stderr:\n{stderr}"
        );
        for secret in [password, api_key] {
            assert_eq!(
                stderr.contains(secret),
                raw,
                "{filter}: {secret} on stderr:\n{stderr}"
            );
        }
        assert_eq!(
            stderr.contains("print raw requests"),
            raw,
            "{filter}: warned:\n{stderr}"
        );
    }
}

/// A database file that cannot be opened stops start-up before anything is served: no
/// `initialize` answer, exit code 2, and a message naming the file and the setting. (Any change
/// that opens the database off the start-up path, to answer sooner, must keep this.)
#[test]
fn a_database_that_cannot_be_opened_stops_start_up_before_initialize() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let fixture = Fixture::new();
    std::fs::write(
        fixture.db(),
        "this is not an SQLite database, and is long enough to be read as a header",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-empresa"))
        .envs(fixture.env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "test", "version": "1"}}
    });
    // Written before the server has read anything, so it is waiting when (if) serving starts.
    // The write may fail once the server has exited: that is the expected outcome too.
    let _ = writeln!(child.stdin.take().unwrap(), "{initialize}");
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(stdout.trim().is_empty(), "nothing is served: {stdout}");
    assert!(
        stderr.contains(&format!(
            "could not open the company database at {}",
            fixture.db()
        )) && stderr.contains("(EMPRESA_DB_PATH)"),
        "{stderr}"
    );
}

/// Over HTTP each core's thread serves the connections handed to it: a new connection naming a
/// session goes to the session's thread, and a session also goes on over a connection another
/// thread serves; an ended session is gone for every thread.
#[test]
fn http_sessions_work_whichever_thread_serves_the_connection() {
    let fixture = Fixture::new();
    let http = fixture.http(&[("TOKIO_WORKER_THREADS", "3")]);
    let threads: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", http.pid()))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect();
    for name in ["mcp-http-1", "mcp-http-2"] {
        assert!(threads.iter().any(|t| t == name), "{name} in {threads:?}");
    }
    // No idle connection is kept: each request opens its own.
    let fresh = reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let begin = || {
        let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}});
        let answer = http.post_with(&fresh, &initialize, None, &[]).unwrap();
        let session = answer.session.clone().expect("a session id");
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let ack = http
            .post_with(&fresh, &initialized, Some(&session), &[])
            .unwrap();
        assert_eq!(ack.status, 202, "{}", ack.body);
        session
    };
    let call = |id: u64| json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "consultar_empresa", "arguments": {"nombre": "Empresa X"}}});
    let answered = |id: u64, status: u16, messages: Vec<Value>| {
        let message = messages
            .into_iter()
            .find(|m| m["id"] == json!(id))
            .unwrap_or_else(|| panic!("call {id}: status {status}, no answer"));
        assert!(
            result_text(&message["result"]).contains("Empresa X"),
            "call {id}: {message}"
        );
    };
    // Begun on different threads (each initialize comes over a new connection, dealt in turn).
    let first = begin();
    let second = begin();
    for id in 2..6 {
        for session in [&first, &second] {
            let answer = http
                .post_with(&fresh, &call(id), Some(session), &[])
                .unwrap();
            let messages = answer.message_with_id(&json!(id)).into_iter().collect();
            answered(id, answer.status, messages);
        }
    }
    // One keep-alive connection, placed by the second session's request, carries the first
    // session's too, which lives on another thread.
    let mut connection = mcp_conformance::http1::Connection::open(
        &http.base,
        "/mcp",
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    for (id, session) in [(10, &second), (11, &first), (12, &first), (13, &second)] {
        let answer = connection
            .post(call(id).to_string().as_bytes(), Some(session))
            .unwrap();
        let messages = answer
            .message_texts()
            // SSE's priming event carries no message.
            .filter(|text| !text.trim().is_empty())
            .map(|text| serde_json::from_str(text).unwrap())
            .collect();
        answered(id, answer.status, messages);
    }
    // An ended session is gone for every thread.
    let ended = http
        .client
        .delete(http.mcp_url())
        .header("mcp-session-id", &first)
        .send()
        .unwrap();
    assert!(ended.status().is_success(), "{}", ended.status());
    for id in 20..23 {
        let answer = http
            .post_with(&fresh, &call(id), Some(&first), &[])
            .unwrap();
        assert_eq!(
            answer.status, 404,
            "call {id} after the end: {}",
            answer.body
        );
    }
    let answer = connection
        .post(call(23).to_string().as_bytes(), Some(&first))
        .unwrap();
    assert_eq!(answer.status, 404, "{}", answer.body);
}
