//! JSON-2 over HTTP: named arguments in, bare JSON results out, Odoo 19's status codes and error bodies.

use serde_json::{Value as Json, json};

use crate::{client, standin};

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Json {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text))
    }

    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("json-2 request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Answer {
        status,
        headers,
        text: response.text().await.expect("body"),
    }
}

async fn rpc_as(url: &str, key: &str, model: &str, method: &str, body: Json) -> Answer {
    let request = client()
        .post(format!("{url}/json/2/{model}/{method}"))
        .header("Authorization", format!("bearer {key}"))
        .header("X-Odoo-Database", "test")
        .json(&body);
    send(request).await
}

async fn rpc(url: &str, model: &str, method: &str, body: Json) -> Answer {
    rpc_as(url, "test-api-key", model, method, body).await
}

/// Checks an error answer: status and the `serialize_exception` body.
fn assert_error(answer: &Answer, status: u16, name: &str, message: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(
        answer.header("content-type"),
        "application/json; charset=utf-8"
    );
    let body = answer.json();
    let keys: Vec<&str> = body
        .as_object()
        .map(|map| map.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        sorted(keys),
        vec!["arguments", "context", "debug", "message", "name"],
        "{}",
        answer.text
    );
    assert_eq!(body["name"], name, "{}", answer.text);
    assert_eq!(body["message"], message, "{}", answer.text);
    assert_eq!(body["arguments"][0], message);
    assert_eq!(body["context"], json!({}));
    assert!(
        body["debug"]
            .as_str()
            .unwrap_or_default()
            .contains(message.lines().next().unwrap_or_default())
    );
}

fn sorted(mut keys: Vec<&str>) -> Vec<&str> {
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn results_are_bare_json_in_odoos_format() {
    let standin = standin().await;
    let url = standin.url();
    let answer = rpc(
        &url,
        "res.partner",
        "search_read",
        json!({"domain": [["name", "=", "acme test"]], "fields": ["name", "email", "parent_id"]}),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        "application/json; charset=utf-8"
    );
    // Python's json.dumps: ", " and ": " separators, keys in read order with `id` first.
    assert_eq!(
        answer.text,
        r#"[{"id": 10, "name": "acme test", "email": "acme.test@example.com", "parent_id": false}]"#
    );

    let leads = rpc(&url, "crm.lead", "search_read", json!({"domain": [["stage_id", "=", 2]], "fields": ["name", "stage_id", "expected_revenue", "type"]})).await;
    assert_eq!(
        leads.text,
        r#"[{"id": 1, "name": "Office furniture for ACME HQ", "stage_id": [2, "Qualified"], "expected_revenue": 12000.0, "type": "opportunity"}]"#
    );

    let created = rpc(
        &url,
        "res.partner",
        "create",
        json!({"vals_list": {"name": "Coyote Ltd", "email": "wile@example.com"}}),
    )
    .await;
    assert_eq!(
        (created.status, created.text.as_str()),
        (200, "[17]"),
        "JSON-2 answers record.ids"
    );
    let written = rpc(
        &url,
        "res.partner",
        "write",
        json!({"ids": [17], "vals": {"phone": "+1 555-0123"}}),
    )
    .await;
    assert_eq!(written.text, "true");
    let read = rpc(
        &url,
        "res.partner",
        "read",
        json!({"ids": [17], "fields": ["phone"], "load": null}),
    )
    .await;
    assert_eq!(read.text, r#"[{"id": 17, "phone": "+1 555-0123"}]"#);
    let count = rpc(
        &url,
        "res.partner",
        "search_count",
        json!({"domain": [["name", "ilike", "coyote"]]}),
    )
    .await;
    assert_eq!(count.text, "1");
    let ids = rpc(
        &url,
        "res.partner",
        "search",
        json!({"domain": [["is_company", "=", true]], "order": "id desc", "limit": 2, "offset": 1}),
    )
    .await;
    assert_eq!(ids.text, "[14, 13]");
    let unlinked = rpc(&url, "res.partner", "unlink", json!({"ids": [17]})).await;
    assert_eq!(unlinked.text, "true");

    let names = rpc(
        &url,
        "res.partner",
        "name_search",
        json!({"name": "ibérica", "limit": 10}),
    )
    .await;
    assert_eq!(
        names.text,
        r#"[[8, "Acme Ibérica S.L."], [9, "Acme Ibérica S.L., Lucía Fernández"]]"#
    );
    let groups = rpc(&url, "crm.lead", "formatted_read_group", json!({"domain": [["user_id", "=", 6]], "groupby": ["stage_id"], "aggregates": ["__count", "expected_revenue:sum"]})).await;
    assert_eq!(
        groups.json(),
        json!([
            {"__extra_domain": [["stage_id", "=", 3]], "stage_id": [3, "Proposition"], "__count": 1, "expected_revenue:sum": 8500.0},
            {"__extra_domain": [["stage_id", "=", 4]], "stage_id": [4, "Won"], "__count": 1, "expected_revenue:sum": 4200.0}
        ])
    );
    let legacy = rpc(&url, "crm.lead", "read_group", json!({"domain": [["user_id", "=", 6]], "fields": ["expected_revenue"], "groupby": ["user_id"]})).await;
    assert_eq!(
        legacy.json(),
        json!([{"user_id": [6, "Marc Demo"], "user_id_count": 2, "expected_revenue": 12700.0, "__domain": ["&", ["user_id", "=", 6], ["user_id", "=", 6]]}])
    );
    let fields = rpc(
        &url,
        "crm.lead",
        "fields_get",
        json!({"allfields": ["stage_id"], "attributes": ["type", "relation", "string"]}),
    )
    .await;
    assert_eq!(
        fields.json(),
        json!({"stage_id": {"type": "many2one", "string": "Stage", "relation": "crm.stage"}})
    );
    let posted = rpc(&url, "res.partner", "message_post", json!({"ids": [5], "body": "Hello", "message_type": "comment", "subtype_xmlid": "mail.mt_comment"})).await;
    assert_eq!(posted.text, "[4]");
    let own = rpc(&url, "res.users", "context_get", json!({})).await;
    assert_eq!(own.json()["uid"], 2, "the caller's uid, from the API key");
    let demo_own = rpc_as(&url, "demo-api-key", "res.users", "context_get", json!({})).await;
    assert_eq!(demo_own.json()["uid"], 6);

    let version = send(client().get(format!("{url}/web/version"))).await;
    assert_eq!(version.status, 200);
    assert_eq!(
        version.text,
        r#"{"version_info": [19, 0, 0, "final", 0, ""], "version": "19.0"}"#
    );
}

#[tokio::test]
async fn errors_use_odoo_19s_statuses_and_bodies() {
    let standin = standin().await;
    let url = standin.url();

    let unauthenticated = send(
        client()
            .post(format!("{url}/json/2/res.partner/search"))
            .json(&json!({"domain": []})),
    )
    .await;
    assert_error(
        &unauthenticated,
        401,
        "werkzeug.exceptions.Unauthorized",
        "User not authenticated, use an API Key with a Bearer Authorization header.",
    );
    assert_eq!(
        unauthenticated.json()["arguments"],
        json!([
            "User not authenticated, use an API Key with a Bearer Authorization header.",
            401
        ])
    );
    let bad_key = rpc_as(
        &url,
        "wrong-key",
        "res.partner",
        "search",
        json!({"domain": []}),
    )
    .await;
    assert_error(
        &bad_key,
        401,
        "werkzeug.exceptions.Unauthorized",
        "Invalid apikey",
    );
    assert_eq!(bad_key.header("www-authenticate"), "Bearer");
    let shouting = send(
        client()
            .post(format!("{url}/json/2/res.partner/search_count"))
            .header("Authorization", "BEARER test-api-key")
            .json(&json!({"domain": []})),
    )
    .await;
    assert_eq!(
        (shouting.status, shouting.text.as_str()),
        (200, "14"),
        "the scheme is case-insensitive and X-Odoo-Database optional"
    );

    let cases = vec![
        (
            "does.not.exist",
            "search",
            json!({}),
            404,
            "werkzeug.exceptions.NotFound",
            "the model 'does.not.exist' does not exist",
        ),
        (
            "res.partner",
            "frobnicate",
            json!({}),
            404,
            "werkzeug.exceptions.NotFound",
            "The method 'res.partner.frobnicate' does not exist",
        ),
        (
            "res.partner",
            "search_count",
            json!({"domain": [], "bogus_kwarg": 1}),
            422,
            "werkzeug.exceptions.UnprocessableEntity",
            "got an unexpected keyword argument 'bogus_kwarg'",
        ),
        (
            "res.partner",
            "write",
            json!({"ids": [5]}),
            422,
            "werkzeug.exceptions.UnprocessableEntity",
            "missing a required argument: 'vals'",
        ),
        (
            "res.partner",
            "create",
            json!({"ids": [1], "vals_list": [{"name": "X"}]}),
            422,
            "werkzeug.exceptions.UnprocessableEntity",
            "cannot call res.partner.create with ids",
        ),
        (
            "res.partner",
            "read",
            json!({"ids": [999], "fields": ["name"]}),
            404,
            "odoo.exceptions.MissingError",
            "Record does not exist or has been deleted.\n(Record: res.partner(999,), User: 2)",
        ),
        (
            "crm.lead",
            "create",
            json!({"vals_list": [{"email_from": "x@example.com"}]}),
            422,
            "odoo.exceptions.ValidationError",
            "The operation cannot be completed: Missing required value for the field 'Opportunity' (name).\nModel: 'Lead/Opportunity' (crm.lead)\n- create/update: a mandatory field is not set\n- delete: another model requires the record being deleted, you can archive it instead\n",
        ),
        (
            "res.partner",
            "search",
            json!({"domain": [["nope", "=", 1]]}),
            500,
            "builtins.ValueError",
            "Invalid field res.partner.nope in condition ('nope', '=', 1)",
        ),
        (
            "res.partner",
            "search",
            json!({"domain": ["&", ["name", "=", "x"]]}),
            500,
            "builtins.ValueError",
            "Domain() malformed domain ['&', ['name', '=', 'x']]",
        ),
        (
            "res.partner",
            "_read",
            json!({}),
            403,
            "odoo.exceptions.AccessError",
            "Private methods (such as 'res.partner._read') cannot be called remotely.",
        ),
        (
            "res.partner",
            "name_search",
            json!({"name": "acme", "args": []}),
            422,
            "werkzeug.exceptions.UnprocessableEntity",
            "got an unexpected keyword argument 'args'",
        ),
    ];
    for (model, method, body, status, name, message) in cases {
        let answer = rpc(&url, model, method, body).await;
        assert_error(&answer, status, name, message);
    }
    let demo = rpc_as(
        &url,
        "demo-api-key",
        "res.users",
        "write",
        json!({"ids": [6], "vals": {"name": "Marc"}}),
    )
    .await;
    assert_error(
        &demo,
        403,
        "odoo.exceptions.AccessError",
        "You are not allowed to modify 'User' (res.users) records.\n\nThis operation is allowed for the following groups:\n\t- Administration/Access Rights\n\nContact your administrator to request access if necessary.",
    );

    let not_json = send(
        client()
            .post(format!("{url}/json/2/res.partner/search"))
            .header("Authorization", "bearer test-api-key")
            .header("Content-Type", "application/json")
            .body("{nope"),
    )
    .await;
    assert_eq!(not_json.status, 400);
    assert_eq!(not_json.json()["name"], "werkzeug.exceptions.BadRequest");
    assert!(
        not_json.json()["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("could not parse the body as json: ")
    );

    let get = send(
        client()
            .get(format!("{url}/json/2/res.partner/search"))
            .header("Authorization", "bearer test-api-key"),
    )
    .await;
    assert_error(
        &get,
        404,
        "werkzeug.exceptions.NotFound",
        "Did you mean POST /json/2/<model>/<method>?",
    );
    let root = send(client().post(format!("{url}/json/2"))).await;
    assert_eq!(root.status, 404);

    // Another database name leaves the request without a database: werkzeug's HTML 404.
    let other_db = send(
        client()
            .post(format!("{url}/json/2/res.partner/search"))
            .header("Authorization", "bearer test-api-key")
            .header("X-Odoo-Database", "other")
            .json(&json!({"domain": []})),
    )
    .await;
    assert_eq!(other_db.status, 404);
    assert_eq!(other_db.header("content-type"), "text/html; charset=utf-8");
    assert!(other_db.text.contains("<title>404 Not Found</title>"));
}

#[tokio::test]
async fn parallel_requests_are_safe() {
    let standin = standin().await;
    let url = standin.url();
    let mut tasks = Vec::new();
    for index in 0..16 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            rpc(
                &url,
                "crm.lead",
                "create",
                json!({"vals_list": [{"name": format!("Parallel lead {index}")}]}),
            )
            .await
            .json()
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        let created = task.await.expect("task");
        ids.push(created[0].as_i64().expect("an id"));
    }
    ids.sort_unstable();
    assert_eq!(
        ids,
        (7..23).collect::<Vec<i64>>(),
        "every create got its own id"
    );
    let count = rpc(
        &url,
        "crm.lead",
        "search_count",
        json!({"domain": [["name", "=like", "Parallel lead %"]]}),
    )
    .await;
    assert_eq!(count.text, "16");
    assert_eq!(standin.state.call_count("json2", "crm.lead", "create"), 16);
}
