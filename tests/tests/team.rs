//! Team mode end to end: servers started with `MCP_DATABASE_URL` against a real PostgreSQL (a
//! throwaway cluster, `pg-cluster`), several callers over HTTP with their own tokens, each with
//! its own backend credentials, consents and audit rows.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mcp_conformance::oauth::Issuer;
use mcp_conformance::servers::{load_servers, pairs, test_environment};
use mcp_conformance::{HttpServer, binary_path, result_text};
use pg_cluster::PgCluster;
use serde_json::{Value, json};

const ALICE: &str = "tok-alice-0123456789abcdef";
const BOB: &str = "tok-bob-0123456789abcdef00";
const CAROL: &str = "tok-carol-0123456789abcdef";
/// A credentials key for the tests (32 bytes of base64).
const KEY: &str = "dGVhbS1tb2RlLXRlc3Qta2V5LTMyLWJ5dGVzLWxvbmc=";

/// A server set up for team mode: its test environment (and stand-in) with a database of its
/// own, three token holders and `extra` settings.
struct Setup {
    server: &'static str,
    env: mcp_conformance::servers::TestEnvironment,
    database: String,
    /// The stand-in's base URL, for servers that have one.
    standin: String,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(pg: &PgCluster, server: &'static str, extra: &[(&str, &str)]) -> Setup {
        let database = pg.new_database(&format!("team_{server}")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let entry = load_servers()
            .unwrap()
            .into_iter()
            .find(|s| s.name == server)
            .unwrap();
        let mut env = test_environment(&entry, dir.path());
        env.push(("MCP_DATABASE_URL".into(), database.clone()));
        env.push(("MCP_CREDENTIALS_KEY".into(), KEY.into()));
        env.push((
            "MCP_AUTH_TOKENS".into(),
            format!("alice:{ALICE},bob:{BOB},carol:{CAROL}"),
        ));
        for (key, value) in extra {
            env.push(((*key).into(), (*value).into()));
        }
        let standin = env
            .standin
            .as_ref()
            .map(|s| s.url.clone())
            .unwrap_or_default();
        Setup {
            server,
            env,
            database,
            standin,
            dir,
        }
    }

    /// The server over HTTP.
    fn start(&self) -> HttpServer {
        let binary = binary_path(&format!("mcp-{}", self.server));
        HttpServer::start(&binary, &[], &pairs(&self.env)).unwrap()
    }

    /// The stand-in's record of requests.
    fn requests(&self) -> Vec<Value> {
        let requests: Value =
            reqwest::blocking::get(format!("{}/__standin/requests", self.standin))
                .unwrap()
                .json()
                .unwrap();
        requests["requests"].as_array().cloned().unwrap_or_default()
    }

    /// Posts `body` to the stand-in's control route `/__standin/<route>`.
    fn control(&self, route: &str, body: Value) {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}/__standin/{route}", self.standin))
            .json(&body)
            .send()
            .unwrap();
        assert!(response.status().is_success(), "{route} {body}");
    }
}

fn bearer(token: &str) -> [(&'static str, String); 1] {
    [("authorization", format!("Bearer {token}"))]
}

/// One caller's session on a server.
struct Session<'a> {
    server: &'a HttpServer,
    token: &'static str,
    id: Option<String>,
    next: u64,
}

impl<'a> Session<'a> {
    fn open(server: &'a HttpServer, token: &'static str) -> Session<'a> {
        let header = bearer(token);
        let extra = [("authorization", header[0].1.as_str())];
        let (id, _) = server.initialize(&extra).unwrap();
        Session {
            server,
            token,
            id,
            next: 10,
        }
    }

    fn call(&mut self, tool: &str, arguments: Value) -> Value {
        self.next += 1;
        let header = bearer(self.token);
        let extra = [("authorization", header[0].1.as_str())];
        self.server
            .call_tool(self.id.as_deref(), self.next, tool, arguments, &extra)
            .unwrap()
    }

    fn ok(&mut self, tool: &str, arguments: Value) -> Value {
        let result = self.call(tool, arguments);
        assert_ne!(result["isError"], true, "{tool}: {result}");
        result
    }

    fn err(&mut self, tool: &str, arguments: Value) -> String {
        let result = self.call(tool, arguments);
        assert_eq!(result["isError"], true, "{tool} should fail: {result}");
        result_text(&result)
    }
}

/// Rows of `sql` in `database`, each as a JSON object (columns cast to text where needed).
fn query(database: &str, sql: &str) -> Vec<Value> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(database, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let wrapped = format!("SELECT row_to_json(q)::text FROM ({sql}) q");
        client
            .query(&wrapped, &[])
            .await
            .unwrap()
            .iter()
            .map(|row| serde_json::from_str(row.get::<_, &str>(0)).unwrap())
            .collect()
    })
}

/// Waits until `sql` (a count) reaches `expected`, for audit rows written in the background.
fn wait_for_count(database: &str, sql: &str, expected: i64) -> i64 {
    let started = Instant::now();
    loop {
        let count = query(database, sql)[0]["count"].as_i64().unwrap();
        if count >= expected || started.elapsed() > Duration::from_secs(10) {
            return count;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn each_caller_reaches_openai_with_its_own_key_and_a_wrong_key_breaks_only_its_owner() {
    let Some(pg) = PgCluster::for_tests() else {
        return;
    };
    let setup = Setup::new(pg, "openai", &[]);
    let database = setup.database.clone();
    let alice_key = "sk-alice-own-key-0000aaaa";
    let bob_key = "sk-bob-mistyped-key-bbbb";
    setup.control("keys", json!({"keys": [alice_key]}));
    let server = setup.start();

    let mut alice = Session::open(&server, ALICE);
    let mut bob = Session::open(&server, BOB);
    let mut carol = Session::open(&server, CAROL);

    // Without credentials of its own, and with sharing off (the default), a caller is refused
    // and told how to set them.
    let refused = carol.err("list_models", json!({}));
    assert!(refused.contains("set_my_credentials"), "{refused}");

    // Setting them needs consent like any write, and the answer never holds the value.
    let unconfirmed = alice.err("set_my_credentials", json!({"api_key": alice_key}));
    assert!(unconfirmed.contains("consent"), "{unconfirmed}");
    let set = alice.ok(
        "set_my_credentials",
        json!({"api_key": alice_key, "confirm": true}),
    );
    assert_eq!(
        set["structuredContent"]["fields_set"],
        json!(["api_key"]),
        "{set}"
    );
    assert!(!set.to_string().contains(alice_key), "{set}");
    bob.ok(
        "set_my_credentials",
        json!({"api_key": bob_key, "confirm": true}),
    );

    alice.ok("list_models", json!({}));
    // Bob's key is wrong: his calls fail, often enough to open his circuit breaker.
    for _ in 0..6 {
        let error = bob.err("list_models", json!({}));
        assert!(!error.contains(bob_key), "{error}");
    }
    // Alice is untouched by Bob's failures.
    alice.ok("list_models", json!({}));
    alice.ok("embed", json!({"texts": ["hello"]}));

    // Every request reached the endpoint with its caller's own key, never the deployment's.
    let requests = setup.requests();
    assert!(!requests.is_empty());
    let by_suffix = |suffix: &str| {
        requests
            .iter()
            .filter(|r| r["key_suffix"] == suffix)
            .map(|r| r["auth"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let alices = by_suffix("aaaa");
    let bobs = by_suffix("bbbb");
    assert!(
        alices.len() >= 3 && alices.iter().all(|a| a == "valid"),
        "{alices:?}"
    );
    assert!(
        !bobs.is_empty() && bobs.iter().all(|a| a == "invalid"),
        "{bobs:?}"
    );
    assert_eq!(
        alices.len() + bobs.len(),
        requests.len(),
        "a request went out with another key: {requests:?}"
    );

    // The credentials are sealed: no column of any row holds the plaintext.
    let rows = query(&database, "SELECT * FROM mcp_credentials");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let dump = serde_json::to_string(&rows).unwrap();
    for secret in [alice_key, bob_key, "alice-own", "mistyped"] {
        assert!(!dump.contains(secret), "{secret} in {dump}");
    }
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    assert!(!dump.contains(&hex(alice_key)), "{dump}");
    // Every caller is recorded, with or without credentials of its own.
    let principals = query(
        &database,
        "SELECT name, kind, last_seen IS NOT NULL AS seen FROM mcp_principals ORDER BY name",
    );
    assert_eq!(
        principals,
        vec![
            json!({"name": "alice", "kind": "token", "seen": true}),
            json!({"name": "bob", "kind": "token", "seen": true}),
            json!({"name": "carol", "kind": "token", "seen": true})
        ]
    );

    // Every call is a row of the audit trail, with its caller: Alice made 5 (a refused and an
    // approved set_my_credentials, two list_models, one embed), Bob 7, Carol 1.
    let per_principal = "SELECT count(*) AS count FROM mcp_tool_executions WHERE principal = ";
    assert_eq!(
        wait_for_count(&database, &format!("{per_principal}'alice'"), 5),
        5
    );
    assert_eq!(
        wait_for_count(&database, &format!("{per_principal}'bob'"), 7),
        7
    );
    assert_eq!(
        wait_for_count(&database, &format!("{per_principal}'carol'"), 1),
        1
    );
    let carols = query(
        &database,
        "SELECT tool, outcome, caller->>'transport' AS transport FROM mcp_tool_executions WHERE principal = 'carol'",
    );
    assert_eq!(
        carols,
        vec![json!({"tool": "list_models", "outcome": "refused", "transport": "http"})]
    );
    let sets = query(
        &database,
        "SELECT arguments::text AS arguments, result_summary FROM mcp_tool_executions WHERE tool = 'set_my_credentials' AND outcome = 'ok'",
    );
    assert_eq!(sets.len(), 2, "{sets:?}");
    let trail =
        serde_json::to_string(&query(&database, "SELECT * FROM mcp_tool_executions")).unwrap();
    let stderr = server.stderr();
    for secret in [alice_key, bob_key] {
        assert!(!trail.contains(secret), "{secret} in the audit trail");
        assert!(!stderr.contains(secret), "{secret} in stderr:\n{stderr}");
    }
    let audit_file = std::fs::read_to_string(setup.dir.path().join("audit.jsonl")).unwrap();
    assert!(audit_file.contains("set_my_credentials"), "{audit_file}");
    for secret in [alice_key, bob_key] {
        assert!(!audit_file.contains(secret), "{secret} in the audit file");
    }

    // The server and its tools are registered.
    let tools = query(
        &database,
        "SELECT name, kind FROM mcp_tools WHERE server = 'openai' ORDER BY name",
    );
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"chat") && names.contains(&"set_my_credentials"),
        "{names:?}"
    );
}

#[test]
fn each_caller_works_in_odoo_as_its_own_user_with_its_own_consents() {
    let Some(pg) = PgCluster::for_tests() else {
        return;
    };
    let setup = Setup::new(pg, "odoo", &[]);
    let (database, env) = (setup.database.clone(), &setup.env);
    let binary = binary_path("mcp-odoo");

    // The operator sets Alice's login from the command line (values on stdin, never echoed)
    // and grants her standing consent for create_record; Bob sets his own through the tool.
    let run = |args: &[&str], input: &str| {
        let mut child = Command::new(&binary)
            .args(args)
            .envs(pairs(env))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{args:?}: {stdout}{stderr}");
        assert!(!stdout.contains("admin\n") && !stderr.contains("admin\n"));
        stdout
    };
    let said = run(&["credentials", "set", "alice"], "admin\nadmin\n");
    assert!(said.contains("set login, password for alice"), "{said}");
    let listed = run(&["credentials", "list"], "");
    assert!(
        listed.contains("alice  odoo  login") && listed.contains("alice  odoo  password"),
        "{listed}"
    );
    let granted = run(&["grants", "add", "create_record", "--caller", "alice"], "");
    assert!(granted.contains("team database"), "{granted}");

    let server = setup.start();
    let mut alice = Session::open(&server, ALICE);
    let mut bob = Session::open(&server, BOB);
    bob.ok(
        "set_my_credentials",
        json!({"login": "demo", "password": "demo", "confirm": true}),
    );

    let create =
        |name: &str| json!({"model": "res.partner", "values": [{"field": "name", "value": name}]});
    // Alice's standing consent covers her call; it does not cover Bob's.
    let by_alice = alice.ok("create_record", create("Made by Alice"));
    let refused = bob.err("create_record", create("Made by Bob"));
    assert!(refused.contains("consent"), "{refused}");
    let by_bob = bob.ok("create_record", {
        let mut args = create("Made by Bob");
        args["confirm"] = json!(true);
        args
    });
    let creator = |session: &mut Session, id: &Value| {
        let read = session.ok(
            "read_records",
            json!({"model": "res.partner", "ids": [id], "fields": ["create_uid"]}),
        );
        read["structuredContent"]["records"][0]["create_uid"]["id"].clone()
    };
    // Odoo recorded each partner as made by its caller's own user: admin is uid 2, demo uid 6.
    assert_eq!(
        creator(&mut alice, &by_alice["structuredContent"]["id"]),
        json!(2)
    );
    assert_eq!(
        creator(&mut bob, &by_bob["structuredContent"]["id"]),
        json!(6)
    );

    // Bob's password changes in Odoo: his calls fail, Alice's go on.
    setup.control("password", json!({"login": "demo", "password": "changed"}));
    let failed = bob.err(
        "search_records",
        json!({"model": "res.partner", "limit": 1}),
    );
    assert!(!failed.contains("\"demo\""), "{failed}");
    alice.ok(
        "search_records",
        json!({"model": "res.partner", "limit": 1}),
    );

    let consents = query(
        &database,
        "SELECT tool, caller, server FROM mcp_user_consents",
    );
    assert_eq!(
        consents,
        vec![json!({"tool": "create_record", "caller": "alice", "server": "odoo"})]
    );
}

#[test]
fn each_caller_reaches_stripe_with_its_own_key_and_a_live_key_of_a_caller_only_reads() {
    let Some(pg) = PgCluster::for_tests() else {
        return;
    };
    let setup = Setup::new(pg, "stripe", &[]);
    let server = setup.start();
    let mut alice = Session::open(&server, ALICE);
    let mut bob = Session::open(&server, BOB);
    let mut carol = Session::open(&server, CAROL);
    alice.ok(
        "set_my_credentials",
        json!({"secret_key": "sk_test_alice0000000001", "confirm": true}),
    );
    // The stand-in refuses keys containing "revoked", as Stripe refuses a revoked key.
    bob.ok(
        "set_my_credentials",
        json!({"secret_key": "sk_test_revoked00000001", "confirm": true}),
    );
    carol.ok(
        "set_my_credentials",
        json!({"secret_key": "rk_live_carol0000000001", "confirm": true}),
    );

    let created = alice.ok(
        "create_customer",
        json!({"name": "Alice's customer", "confirm": true}),
    );
    assert_eq!(
        created["structuredContent"]["object"]["name"], "Alice's customer",
        "{created}"
    );
    let refused = bob.err("list_customers", json!({}));
    assert!(!refused.contains("revoked0000"), "{refused}");
    alice.ok("list_customers", json!({}));

    // Carol's key is a live one: she reads, and her writes are held back as the operator's
    // would be without STRIPE_LIVE_WRITES.
    carol.ok("list_customers", json!({}));
    let held = carol.err(
        "create_customer",
        json!({"name": "Carol's customer", "confirm": true}),
    );
    assert!(held.contains("live-mode key"), "{held}");
}

#[test]
fn stopping_postgresql_under_load_loses_no_audit_record() {
    // A cluster of the test's own, since it is taken away for a while.
    let Some(pg) = PgCluster::own_for_tests() else {
        return;
    };
    let setup = Setup::new(&pg, "empresa", &[]);
    let database = setup.database.clone();
    let server = setup.start();
    let mut alice = Session::open(&server, ALICE);

    let mut calls = 0;
    let started = Instant::now();
    let mut spooled_seen = 0;
    while started.elapsed() < Duration::from_secs(7) {
        let at = started.elapsed();
        if at >= Duration::from_secs(2) && pg.is_running() && at < Duration::from_secs(5) {
            pg.stop().unwrap();
        }
        if at >= Duration::from_secs(5) && !pg.is_running() {
            pg.start_again().unwrap();
        }
        alice.ok("consultar_empresa", json!({"nombre": "Empresa X"}));
        calls += 1;
        if !pg.is_running() && calls % 10 == 0 {
            let spooled = metric(&server, "mcp_audit_spooled_records").unwrap_or(0);
            spooled_seen = spooled_seen.max(spooled);
        }
    }
    assert!(calls > 50, "only {calls} calls in 7 s");
    assert!(
        spooled_seen > 0,
        "no record was spooled while PostgreSQL was down"
    );
    // Once PostgreSQL is back, every call is a row, exactly once.
    let count = "SELECT count(*) AS count FROM mcp_tool_executions WHERE principal = 'alice'";
    let rows = {
        let started = Instant::now();
        loop {
            let rows = query(&database, count)[0]["count"].as_i64().unwrap();
            if rows >= calls || started.elapsed() > Duration::from_secs(45) {
                break rows;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    assert_eq!(rows, calls, "{calls} calls made");
    let distinct = query(
        &database,
        "SELECT count(DISTINCT request_id) AS count FROM mcp_tool_executions",
    );
    assert_eq!(distinct[0]["count"].as_i64().unwrap(), calls);
    // The server's own count of rows written agrees.
    let written = metric(&server, "mcp_audit_written_records_total")
        .unwrap_or_else(|| panic!("no mcp_audit_written_records_total in /metrics"));
    assert_eq!(written, calls);
}

/// The value of the audit metric `name` in the server's `/metrics`, read as Alice.
fn metric(server: &HttpServer, name: &str) -> Option<i64> {
    let metrics = server
        .client
        .get(format!("{}/metrics", server.base))
        .header("authorization", format!("Bearer {ALICE}"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    metrics
        .lines()
        .find(|line| line.starts_with(&format!("{name}{{")))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|n| n.trim().parse().ok())
}

#[test]
fn an_oauth_subject_is_a_principal_with_its_own_credentials_and_audit_rows() {
    let Some(pg) = PgCluster::for_tests() else {
        return;
    };
    let issuer = Issuer::start();
    let setup = Setup::new(pg, "openai", &[("MCP_OAUTH_ISSUER", &issuer.url)]);
    let database = setup.database.clone();
    let dana_key = "sk-dana-own-key-0000dddd";
    setup.control("keys", json!({"keys": [dana_key]}));
    let server = setup.start();
    let resource = server.mcp_url();
    let reader = issuer.token(json!({"sub": "dana", "scope": "mcp:read", "aud": resource}));
    let writer =
        issuer.token(json!({"sub": "dana", "scope": "mcp:read mcp:write", "aud": resource}));
    let reader: &'static str = Box::leak(reader.into_boxed_str());
    let writer: &'static str = Box::leak(writer.into_boxed_str());

    // Storing credentials is a write: a read-only token is stopped at the door (403).
    let mut reading = Session::open(&server, reader);
    reading.next += 1;
    let answer = server
        .post(
            &json!({"jsonrpc": "2.0", "id": reading.next, "method": "tools/call", "params": {"name": "set_my_credentials", "arguments": {"api_key": dana_key, "confirm": true}}}),
            reading.id.as_deref(),
            &[("authorization", format!("Bearer {reader}").as_str())],
        )
        .unwrap();
    assert_eq!(answer.status, 403, "{}", answer.body);

    let mut dana = Session::open(&server, writer);
    dana.ok(
        "set_my_credentials",
        json!({"api_key": dana_key, "confirm": true}),
    );
    // Her calls, with either token, go out with her own key.
    reading.ok("list_models", json!({}));
    dana.ok("list_models", json!({}));
    let requests = setup.requests();
    let suffixes: Vec<&str> = requests
        .iter()
        .map(|r| r["key_suffix"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(suffixes, vec!["dddd", "dddd"]);

    let principals = query(&database, "SELECT name, kind FROM mcp_principals");
    assert_eq!(
        principals,
        vec![json!({"name": "oauth:dana", "kind": "oauth"})]
    );
    let rows = "SELECT count(*) AS count FROM mcp_tool_executions WHERE principal = 'oauth:dana'";
    assert_eq!(wait_for_count(&database, rows, 3), 3);
}

#[test]
fn with_shared_credentials_a_caller_without_its_own_uses_the_servers() {
    let Some(pg) = PgCluster::for_tests() else {
        return;
    };
    let setup = Setup::new(pg, "openai", &[("MCP_SHARED_CREDENTIALS", "true")]);
    let configured = setup
        .env
        .iter()
        .find(|(k, _)| k == "OPENAI_API_KEY")
        .map(|(_, v)| v.clone())
        .unwrap();
    let server = setup.start();
    let mut carol = Session::open(&server, CAROL);
    carol.ok("list_models", json!({}));
    let requests = setup.requests();
    let request = &requests[0];
    assert_eq!(request["auth"], "valid", "{request}");
    assert_eq!(
        request["key_suffix"].as_str().unwrap(),
        &configured[configured.len() - 4..]
    );
}

#[test]
fn each_caller_reaches_twilio_as_its_own_account_or_key() {
    let Some(pg) = PgCluster::for_tests() else {
        return;
    };
    let setup = Setup::new(pg, "twilio", &[]);
    let server = setup.start();
    let mut alice = Session::open(&server, ALICE);
    let mut bob = Session::open(&server, BOB);
    // Alice brings an API key of the account; Bob the account's SID with a token Twilio
    // refuses (the stand-in refuses secrets containing "invalid").
    alice.ok(
        "set_my_credentials",
        json!({
            "account_sid": "ACa1b2c3d4e5f60718293a4b5c6d7e8f90",
            "api_key_sid": "SK0123456789abcdef0123456789abcdef",
            "auth_token": "alice-api-key-secret",
            "confirm": true
        }),
    );
    let partial = bob.err(
        "set_my_credentials",
        json!({"auth_token": "bob-invalid-token", "confirm": true}),
    );
    assert!(partial.contains("account_sid"), "{partial}");
    bob.ok(
        "set_my_credentials",
        json!({
            "account_sid": "ACa1b2c3d4e5f60718293a4b5c6d7e8f90",
            "auth_token": "bob-invalid-token",
            "confirm": true
        }),
    );
    alice.ok("list_messages", json!({}));
    let refused = bob.err("list_messages", json!({}));
    assert!(!refused.contains("bob-invalid-token"), "{refused}");
    alice.ok("list_messages", json!({}));
}
