//! XML-RPC over HTTP: requests as Python's `xmlrpc.client` writes them, answers compared byte for byte.

use odoo_standin::Value;
use odoo_standin::xmlrpc::{encode_method_call, parse_method_response};

use crate::{client, control, standin};

/// Posts an XML-RPC body and returns (status, content type, body).
async fn post(url: &str, service: &str, body: String) -> (u16, String, String) {
    let response = client()
        .post(format!("{url}/xmlrpc/2/{service}"))
        .body(body)
        .send()
        .await
        .expect("xml-rpc request");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, response.text().await.expect("body"))
}

async fn call(
    url: &str,
    service: &str,
    method: &str,
    params: Vec<Value>,
) -> Result<Value, (i64, String)> {
    let (status, _, body) = post(url, service, encode_method_call(method, &params)).await;
    assert_eq!(status, 200, "faults travel with HTTP 200 too: {body}");
    match parse_method_response(body.as_bytes()).expect("a methodResponse") {
        Ok(value) => Ok(value),
        Err(fault) => Err((fault.code, fault.string)),
    }
}

fn s(text: &str) -> Value {
    Value::str(text)
}

fn leaf(path: &str, operator: &str, value: Value) -> Value {
    Value::List(vec![s(path), s(operator), value])
}

async fn execute_kw(
    url: &str,
    uid: i64,
    password: &str,
    model: &str,
    method: &str,
    args: Vec<Value>,
    kwargs: Vec<(&str, Value)>,
) -> Result<Value, (i64, String)> {
    let params = vec![
        s("test"),
        Value::Int(uid),
        s(password),
        s(model),
        s(method),
        Value::List(args),
        Value::dict(kwargs),
    ];
    call(url, "object", "execute_kw", params).await
}

#[tokio::test]
async fn version_authenticate_and_search_read_match_odoo_byte_for_byte() {
    let standin = standin().await;
    let url = standin.url();
    // What Python's ServerProxy(...).version() sends.
    let request = "<?xml version='1.0'?>\n<methodCall>\n<methodName>version</methodName>\n<params>\n</params>\n</methodCall>\n";
    let (status, content_type, body) = post(&url, "common", request.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/xml; charset=utf-8");
    let expected = "<?xml version=\"1.0\"?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n\
<member>\n<name>server_version</name>\n<value><string>19.0</string></value>\n</member>\n\
<member>\n<name>server_version_info</name>\n<value><array><data>\n<value><int>19</int></value>\n<value><int>0</int></value>\n<value><int>0</int></value>\n<value><string>final</string></value>\n<value><int>0</int></value>\n<value><string></string></value>\n</data></array></value>\n</member>\n\
<member>\n<name>server_serie</name>\n<value><string>19.0</string></value>\n</member>\n\
<member>\n<name>protocol_version</name>\n<value><int>1</int></value>\n</member>\n\
</struct></value>\n</param>\n</params>\n\n</methodResponse>\n";
    assert_eq!(body, expected);

    let authenticate =
        |password: &str| vec![s("test"), s("admin"), s(password), Value::Dict(vec![])];
    assert_eq!(
        call(&url, "common", "authenticate", authenticate("admin")).await,
        Ok(Value::Int(2))
    );
    assert_eq!(
        call(&url, "common", "authenticate", authenticate("wrong")).await,
        Ok(Value::Bool(false))
    );
    assert_eq!(
        call(
            &url,
            "common",
            "login",
            vec![s("test"), s("demo"), s("demo")]
        )
        .await,
        Ok(Value::Int(6))
    );

    // A hand-written execute_kw with an untyped string value, the way many clients write them.
    let request = "<?xml version=\"1.0\"?><methodCall><methodName>execute_kw</methodName><params>\
<param><value>test</value></param><param><value><i4>2</i4></value></param><param><value><string>admin</string></value></param>\
<param><value>res.partner</value></param><param><value>search_read</value></param>\
<param><value><array><data><value><array><data><value><array><data>\
<value>name</value><value>=</value><value>acme test</value></data></array></value></data></array></value></data></array></value></param>\
<param><value><struct><member><name>fields</name><value><array><data><value>name</value><value>email</value><value>country_id</value></data></array></value></member></struct></value></param>\
</params></methodCall>";
    let (_, _, body) = post(&url, "object", request.to_string()).await;
    let expected = "<?xml version=\"1.0\"?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n<value><struct>\n\
<member>\n<name>id</name>\n<value><int>10</int></value>\n</member>\n\
<member>\n<name>name</name>\n<value><string>acme test</string></value>\n</member>\n\
<member>\n<name>email</name>\n<value><string>acme.test@example.com</string></value>\n</member>\n\
<member>\n<name>country_id</name>\n<value><boolean>0</boolean></value>\n</member>\n\
</struct></value>\n</data></array></value>\n</param>\n</params>\n\n</methodResponse>\n";
    assert_eq!(body, expected);

    let leads = execute_kw(
        &url,
        2,
        "admin",
        "crm.lead",
        "search_read",
        vec![Value::List(vec![leaf("partner_id", "ilike", s("acme"))])],
        vec![(
            "fields",
            Value::List(vec![s("name"), s("stage_id"), s("expected_revenue")]),
        )],
    )
    .await;
    assert_eq!(
        leads,
        Ok(Value::List(vec![
            Value::dict([
                ("id", Value::Int(1)),
                ("name", s("Office furniture for ACME HQ")),
                ("stage_id", Value::List(vec![Value::Int(2), s("Qualified")])),
                ("expected_revenue", Value::Float(12000.0))
            ]),
            Value::dict([
                ("id", Value::Int(2)),
                ("name", s("Acme Ibérica renewal")),
                (
                    "stage_id",
                    Value::List(vec![Value::Int(3), s("Proposition")])
                ),
                ("expected_revenue", Value::Float(8500.0))
            ]),
        ]))
    );
}

#[tokio::test]
async fn faults_carry_odoos_codes_and_strings() {
    let standin = standin().await;
    let url = standin.url();
    let everything = Value::List(vec![]);

    // Wrong password and wrong uid: AccessDenied, code 3, exactly as Odoo writes it.
    let (_, _, body) = post(
        &url,
        "object",
        encode_method_call(
            "execute_kw",
            &[
                s("test"),
                Value::Int(2),
                s("wrong"),
                s("res.partner"),
                s("search"),
                Value::List(vec![everything.clone()]),
            ],
        ),
    )
    .await;
    let expected = "<?xml version=\"1.0\"?>\n<methodResponse>\n<fault>\n<value><struct>\n\
<member>\n<name>faultCode</name>\n<value><int>3</int></value>\n</member>\n\
<member>\n<name>faultString</name>\n<value><string>Access Denied</string></value>\n</member>\n\
</struct></value>\n</fault>\n\n</methodResponse>\n";
    assert_eq!(body, expected);
    assert_eq!(
        execute_kw(
            &url,
            99,
            "admin",
            "res.partner",
            "search",
            vec![everything.clone()],
            vec![]
        )
        .await,
        Err((3, "Access Denied".into()))
    );
    assert_eq!(
        execute_kw(
            &url,
            2,
            "",
            "res.partner",
            "search",
            vec![everything.clone()],
            vec![]
        )
        .await,
        Err((3, "Access Denied".into()))
    );

    // An unknown database fails when the registry opens, with a traceback (code 1).
    let wrong_db = call(
        &url,
        "object",
        "execute_kw",
        vec![
            s("nope"),
            Value::Int(2),
            s("admin"),
            s("res.partner"),
            s("search"),
            Value::List(vec![everything.clone()]),
        ],
    )
    .await;
    let (code, string) = wrong_db.expect_err("fault");
    assert_eq!(code, 1);
    assert!(
        string.starts_with("Traceback (most recent call last):"),
        "{string}"
    );
    assert!(string.contains("psycopg2.OperationalError: connection to server on socket \"/var/run/postgresql/.s.PGSQL.5432\" failed: FATAL:  database \"nope\" does not exist"), "{string}");

    // (model, method, args, kwargs, fault code, text the fault string contains)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<Value>,
        Vec<(&'a str, Value)>,
        i64,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "res.partner",
            "read",
            vec![Value::List(vec![Value::Int(999)])],
            vec![],
            2,
            "Record does not exist or has been deleted.\n(Record: res.partner(999,), User: 2)",
        ),
        (
            "res.partner",
            "search",
            vec![Value::List(vec![leaf("nope", "=", Value::Int(1))])],
            vec![],
            1,
            "\nValueError: Invalid field res.partner.nope in condition ('nope', '=', 1)\n",
        ),
        (
            "crm.lead",
            "create",
            vec![Value::dict([("email_from", s("x@example.com"))])],
            vec![],
            2,
            "The operation cannot be completed: Missing required value for the field 'Opportunity' (name).",
        ),
        (
            "res.partner",
            "frobnicate",
            vec![],
            vec![],
            1,
            "\nAttributeError: The method 'res.partner.frobnicate' does not exist\n",
        ),
        (
            "no.such.model",
            "search",
            vec![everything.clone()],
            vec![],
            2,
            "Object no.such.model doesn't exist",
        ),
        (
            "res.partner",
            "_private",
            vec![],
            vec![],
            4,
            "Private methods (such as 'res.partner._private') cannot be called remotely.",
        ),
        (
            "res.partner",
            "search",
            vec![everything.clone()],
            vec![("bogus", Value::Int(1))],
            1,
            "\nTypeError: BaseModel.search() got an unexpected keyword argument 'bogus'\n",
        ),
    ];
    for (model, method, args, kwargs, code, text) in cases {
        let (fault_code, string) = execute_kw(&url, 2, "admin", model, method, args, kwargs)
            .await
            .expect_err("fault");
        assert_eq!(fault_code, code, "{model}.{method}: {string}");
        assert!(string.contains(text), "{model}.{method}: {string}");
    }

    // The demo user may not delete leads: AccessError, code 4.
    let (code, string) = execute_kw(
        &url,
        6,
        "demo",
        "crm.lead",
        "unlink",
        vec![Value::List(vec![Value::Int(2)])],
        vec![],
    )
    .await
    .expect_err("fault");
    assert_eq!(code, 4);
    assert_eq!(
        string,
        "You are not allowed to delete 'Lead/Opportunity' (crm.lead) records.\n\nThis operation is allowed for the following groups:\n\t- Sales/Administrator\n\nContact your administrator to request access if necessary."
    );

    // Malformed XML is a fault too, never a crash or an HTTP error.
    for body in [
        "<methodCall><methodName>version",
        "",
        "not xml",
        "<methodCall><methodName>x</methodName><params><param><value><int>NaN</int></value></param></params></methodCall>",
    ] {
        let (status, _, answer) = post(&url, "common", body.to_string()).await;
        assert_eq!(status, 200);
        let fault = parse_method_response(answer.as_bytes())
            .expect("a methodResponse")
            .expect_err("a fault");
        assert_eq!(fault.code, 1, "{body:?}: {}", fault.string);
    }
    let (_, _, answer) = post(&url, "common", "<oops".to_string()).await;
    assert!(
        answer.contains("xml.parsers.expat.ExpatError: "),
        "{answer}"
    );
    let (_, _, answer) = post(&url, "nosuchservice", encode_method_call("x", &[])).await;
    assert!(answer.contains("KeyError: 'nosuchservice'"), "{answer}");
    let get = client()
        .get(format!("{url}/xmlrpc/2/common"))
        .send()
        .await
        .expect("get");
    assert_eq!(get.status(), 405);
}

#[tokio::test]
async fn crud_execute_and_message_post() {
    let standin = standin().await;
    let url = standin.url();
    // `execute` passes positional arguments only.
    let found = call(
        &url,
        "object",
        "execute",
        vec![
            s("test"),
            Value::Int(2),
            s("admin"),
            s("crm.stage"),
            s("search"),
            Value::List(vec![leaf("is_won", "=", Value::Bool(true))]),
        ],
    )
    .await;
    assert_eq!(found, Ok(Value::List(vec![Value::Int(4)])));

    let created = execute_kw(
        &url,
        2,
        "admin",
        "res.partner",
        "create",
        vec![Value::dict([
            ("name", s("Road Runner Inc.")),
            ("is_company", Value::Bool(true)),
        ])],
        vec![],
    )
    .await;
    assert_eq!(
        created,
        Ok(Value::Int(17)),
        "create with one dict returns the id"
    );
    let many = execute_kw(
        &url,
        2,
        "admin",
        "res.partner",
        "create",
        vec![Value::List(vec![
            Value::dict([("name", s("A"))]),
            Value::dict([("name", s("B"))]),
        ])],
        vec![],
    )
    .await;
    assert_eq!(
        many,
        Ok(Value::List(vec![Value::Int(18), Value::Int(19)])),
        "create with a list returns the ids"
    );
    let written = execute_kw(
        &url,
        2,
        "admin",
        "res.partner",
        "write",
        vec![
            Value::List(vec![Value::Int(17)]),
            Value::dict([("city", s("Tucson"))]),
        ],
        vec![],
    )
    .await;
    assert_eq!(written, Ok(Value::Bool(true)));
    let read = execute_kw(
        &url,
        2,
        "admin",
        "res.partner",
        "read",
        vec![Value::List(vec![Value::Int(17)])],
        vec![("fields", Value::List(vec![s("city"), s("is_company")]))],
    )
    .await;
    assert_eq!(
        read,
        Ok(Value::List(vec![Value::dict([
            ("id", Value::Int(17)),
            ("city", s("Tucson")),
            ("is_company", Value::Bool(true))
        ])]))
    );
    assert_eq!(
        execute_kw(
            &url,
            2,
            "admin",
            "res.partner",
            "unlink",
            vec![Value::List(vec![Value::Int(17)])],
            vec![]
        )
        .await,
        Ok(Value::Bool(true))
    );
    let gone = execute_kw(
        &url,
        2,
        "admin",
        "res.partner",
        "read",
        vec![Value::List(vec![Value::Int(17)])],
        vec![],
    )
    .await;
    assert_eq!(gone.map_err(|(code, _)| code), Err(2));

    let posted = execute_kw(
        &url,
        2,
        "admin",
        "crm.lead",
        "message_post",
        vec![Value::List(vec![Value::Int(1)])],
        vec![
            ("body", s("Quote sent")),
            ("message_type", s("comment")),
            ("subtype_xmlid", s("mail.mt_comment")),
        ],
    )
    .await;
    assert_eq!(
        posted,
        Ok(Value::List(vec![Value::Int(4)])),
        "recordset results come back as id lists"
    );
    let count = execute_kw(
        &url,
        2,
        "admin",
        "mail.message",
        "search_count",
        vec![Value::List(vec![
            leaf("model", "=", s("crm.lead")),
            leaf("res_id", "=", Value::Int(1)),
        ])],
        vec![],
    )
    .await;
    assert_eq!(count, Ok(Value::Int(3)));
    // The context travels as a keyword and controls archived records.
    let archived = execute_kw(
        &url,
        2,
        "admin",
        "crm.lead",
        "search_count",
        vec![Value::List(vec![])],
        vec![(
            "context",
            Value::dict([("active_test", Value::Bool(false))]),
        )],
    )
    .await;
    assert_eq!(archived, Ok(Value::Int(6)));
}

#[tokio::test]
async fn a_changed_password_forces_reauthentication() {
    let standin = standin().await;
    let url = standin.url();
    let search = |password: &'static str| {
        let url = url.clone();
        async move {
            execute_kw(
                &url,
                2,
                password,
                "res.partner",
                "search_count",
                vec![Value::List(vec![])],
                vec![],
            )
            .await
        }
    };
    assert_eq!(search("admin").await, Ok(Value::Int(14)));
    control(
        &standin,
        "password",
        serde_json::json!({"login": "admin", "password": "rotated"}),
    )
    .await;
    assert_eq!(search("admin").await, Err((3, "Access Denied".into())));
    assert_eq!(
        call(
            &url,
            "common",
            "authenticate",
            vec![s("test"), s("admin"), s("admin"), Value::Dict(vec![])]
        )
        .await,
        Ok(Value::Bool(false))
    );
    assert_eq!(
        call(
            &url,
            "common",
            "authenticate",
            vec![s("test"), s("admin"), s("rotated"), Value::Dict(vec![])]
        )
        .await,
        Ok(Value::Int(2))
    );
    assert_eq!(search("rotated").await, Ok(Value::Int(14)));
    assert_eq!(
        search("test-api-key").await,
        Ok(Value::Int(14)),
        "the API key still works as a password"
    );
    control(&standin, "reset", serde_json::json!({})).await;
    assert_eq!(
        search("admin").await,
        Ok(Value::Int(14)),
        "reset restores the configured password"
    );
}
