//! XML-RPC (`/xmlrpc/2/common` and `/xmlrpc/2/object`): requests are encoded by the `xmlrpc`
//! crate and answers read by [`xmlrpc_answer`] (quick-xml, straight into JSON), while HTTP goes
//! through the shared async reqwest client.

use std::collections::BTreeMap;

use mcp_common::Repeat;
use serde_json::Value;
use xmlrpc::{Request, Value as Xml};

use super::xmlrpc_answer::{self, Answer};
use super::{
    AttemptError, Call, Failure, FailureKind, Fault, FaultKind, OdooClient, OdooError,
    ServerVersion,
};

/// Bodies larger than this are decoded on a blocking thread, so a large answer never stalls the
/// async runtime.
const DECODE_INLINE_LIMIT: usize = 256 * 1024;

/// `common.authenticate(db, login, password, {})`: the uid, or a refused login.
pub(super) async fn authenticate(client: &OdooClient, operation: &str) -> Result<i64, OdooError> {
    let connection = &client.connection;
    let Some(user) = connection.user.as_deref() else {
        return Err(OdooError::Unsupported(format!(
            "XML-RPC needs a login, and none is configured for instance '{}' — {}",
            connection.name, connection.credentials_hint
        )));
    };
    let Some(secret) = connection.password.as_ref().or(connection.api_key.as_ref()) else {
        return Err(OdooError::Unsupported(format!(
            "no password or API key is configured for instance '{}' — {}",
            connection.name, connection.credentials_hint
        )));
    };
    let request = Request::new("authenticate")
        .arg(connection.db.as_str())
        .arg(user)
        .arg(secret.expose())
        .arg(Xml::Struct(BTreeMap::new()));
    let answer = post(
        client,
        "common",
        encode(&request),
        operation,
        Repeat::Safe,
        Target::new("res.users", "authenticate", &[]),
    )
    .await;
    match answer {
        Ok(Value::Number(uid)) if uid.as_i64().is_some_and(|uid| uid > 0) => {
            Ok(uid.as_i64().unwrap_or_default())
        }
        Ok(_) => Err(client.login_rejected()),
        Err(OdooError::Fault(fault)) if fault.kind == FaultKind::AccessDenied => {
            Err(client.login_rejected())
        }
        Err(error) => Err(error),
    }
}

/// `common.version()`.
pub(super) async fn version(
    client: &OdooClient,
    operation: &str,
) -> Result<ServerVersion, OdooError> {
    let request = Request::new("version");
    let answer = post(
        client,
        "common",
        encode(&request),
        operation,
        Repeat::Safe,
        Target::new("common", "version", &[]),
    )
    .await?;
    let version = answer
        .get("server_version")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let major = answer
        .get("server_version_info")
        .and_then(|info| info.get(0))
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .or_else(|| super::json2::major_of(&version));
    match major {
        Some(major) => Ok(ServerVersion { version, major }),
        None => Err(OdooError::Unsupported(format!(
            "the server at {} did not report an Odoo version — {}",
            client.connection.url, client.connection.url_hint
        ))),
    }
}

/// `object.execute_kw(db, uid, password, model, method, args, kwargs)`.
pub(super) async fn execute_kw(
    client: &OdooClient,
    uid: i64,
    call: &Call,
) -> Result<Value, OdooError> {
    let connection = &client.connection;
    let Some(secret) = connection.password.as_ref().or(connection.api_key.as_ref()) else {
        return Err(OdooError::Unsupported(format!(
            "no password or API key is configured for instance '{}' — {}",
            connection.name, connection.credentials_hint
        )));
    };
    let mut args = Vec::new();
    if let Some(ids) = &call.ids {
        args.push(Xml::Array(ids.iter().map(|id| int(*id)).collect()));
    }
    args.extend(call.positional.iter().map(|(_, value)| to_xml(value)));
    args.extend(call.extra_args.iter().map(to_xml));
    // A null keyword means "Odoo's default": leave it out rather than send False.
    let mut kwargs: BTreeMap<String, Xml> = call
        .keywords
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(name, value)| (name.clone(), to_xml(value)))
        .collect();
    if !call.context.is_empty() {
        kwargs.insert(
            "context".into(),
            to_xml(&Value::Object(call.context.clone())),
        );
    }
    let request = Request::new("execute_kw")
        .arg(connection.db.as_str())
        .arg(int(uid))
        .arg(secret.expose())
        .arg(call.model.as_str())
        .arg(call.method.as_str())
        .arg(Xml::Array(args))
        .arg(Xml::Struct(kwargs));
    post(
        client,
        "object",
        encode(&request),
        &call.operation(),
        call.repeat,
        Target::new(&call.model, &call.method, call.id_list()),
    )
    .await
}

/// What a request is about, to phrase Odoo's faults.
#[derive(Clone)]
struct Target {
    model: String,
    method: String,
    ids: Vec<i64>,
}

impl Target {
    fn new(model: &str, method: &str, ids: &[i64]) -> Target {
        Target {
            model: model.to_owned(),
            method: method.to_owned(),
            ids: ids.to_vec(),
        }
    }
}

fn encode(request: &Request<'_>) -> Vec<u8> {
    let mut body = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = request.write_as_xml(&mut body);
    body
}

async fn post(
    client: &OdooClient,
    service: &str,
    body: Vec<u8>,
    operation: &str,
    repeat: Repeat,
    target: Target,
) -> Result<Value, OdooError> {
    let path = format!("/xmlrpc/2/{service}");
    client
        .send(operation, repeat, || {
            let request = client
                .api
                .post(&path)
                .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
                .body(body.clone());
            let target = target.clone();
            async move {
                let answer = client
                    .api
                    .exchange(request)
                    .await
                    .map_err(AttemptError::Failed)?;
                if answer.len() > DECODE_INLINE_LIMIT {
                    tokio::task::spawn_blocking(move || decode(answer, &target))
                        .await
                        .map_err(|e| {
                            AttemptError::Failed(Failure::new(
                                FailureKind::Protocol,
                                format!("decoding failed: {e}"),
                            ))
                        })?
                } else {
                    decode(answer, &target)
                }
            }
        })
        .await
}

/// Decodes an answer of `model.method` as a call would: the value, Odoo's fault, or the
/// sentence saying why it is not XML-RPC. For the fuzz targets (`crate::fuzz`).
pub(super) fn decode_answer(body: Vec<u8>, model: &str, method: &str) -> Result<Value, String> {
    decode(body, &Target::new(model, method, &[])).map_err(|error| match error {
        AttemptError::Failed(failure) => failure.detail,
        AttemptError::Fault(fault) => fault.to_string(),
    })
}

/// Decodes a `<methodResponse>`: the value, or Odoo's fault.
fn decode(body: Vec<u8>, target: &Target) -> Result<Value, AttemptError> {
    match xmlrpc_answer::read(&body) {
        Ok(Answer::Value(value)) => Ok(value),
        Ok(Answer::Fault { code, text }) => Err(AttemptError::Fault(Fault::from_xmlrpc(
            code,
            &text,
            &target.model,
            &target.method,
            &target.ids,
        ))),
        Err(error) => Err(AttemptError::Failed(Failure::new(
            FailureKind::Protocol,
            format!("the answer is not XML-RPC ({error})"),
        ))),
    }
}

fn int(n: i64) -> Xml {
    match i32::try_from(n) {
        Ok(small) => Xml::Int(small),
        Err(_) => Xml::Int64(n),
    }
}

/// JSON to XML-RPC. Null becomes `False`, which is how Odoo spells "empty" in values and domains.
pub(super) fn to_xml(value: &Value) -> Xml {
    match value {
        Value::Null => Xml::Bool(false),
        Value::Bool(flag) => Xml::Bool(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(n) => int(n),
            None => Xml::Double(number.as_f64().unwrap_or_default()),
        },
        Value::String(text) => Xml::String(text.clone()),
        Value::Array(items) => Xml::Array(items.iter().map(to_xml).collect()),
        Value::Object(map) => Xml::Struct(
            map.iter()
                .map(|(key, inner)| (key.clone(), to_xml(inner)))
                .collect(),
        ),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use serde_json::{Number, json};
    use std::io::Cursor;
    use xmlrpc::Transport;

    /// A transport that "transmits" by returning an answer that has already arrived: the
    /// `xmlrpc` crate's reader, which mcp-odoo used before, is the oracle in these tests, and
    /// `Request::call` is the only way to reach it.
    struct Received(Vec<u8>);

    impl Transport for Received {
        type Stream = Cursor<Vec<u8>>;

        fn transmit(
            self,
            _request: &Request<'_>,
        ) -> Result<Self::Stream, Box<dyn std::error::Error + Send + Sync>> {
            Ok(Cursor::new(self.0))
        }
    }

    /// XML-RPC to JSON as mcp-odoo converted the crate's values (binary values as a size marker).
    fn from_xml(value: Xml) -> Value {
        match value {
            Xml::Int(n) => Value::from(n),
            Xml::Int64(n) => Value::from(n),
            Xml::Bool(flag) => Value::Bool(flag),
            Xml::String(text) => Value::String(text),
            Xml::Double(x) => Number::from_f64(x).map_or(Value::Null, Value::Number),
            Xml::DateTime(when) => Value::String(when.to_string()),
            Xml::Base64(bytes) => xmlrpc_answer::binary_marker(bytes.len()),
            Xml::Struct(map) => Value::Object(
                map.into_iter()
                    .map(|(key, inner)| (key, from_xml(inner)))
                    .collect(),
            ),
            Xml::Array(items) => Value::Array(items.into_iter().map(from_xml).collect()),
            Xml::Nil => Value::Null,
        }
    }

    /// The crate's reading of an answer: the value, Odoo's fault (code, text), or an error.
    pub(in crate::client) fn oracle(body: &[u8]) -> Result<Answer, String> {
        match Request::new("response").call(Received(body.to_vec())) {
            Ok(value) => Ok(Answer::Value(from_xml(value))),
            Err(error) => match error.fault() {
                Some(fault) => Ok(Answer::Fault {
                    code: fault.fault_code,
                    text: fault.fault_string.clone(),
                }),
                None => Err(error.to_string()),
            },
        }
    }

    fn target() -> Target {
        Target::new("res.partner", "search_read", &[])
    }

    #[test]
    fn values_round_trip_between_json_and_xml_rpc() {
        let value = json!({"name": "Acme", "ids": [1, 2, 3_000_000_000_i64], "rate": 0.5, "active": true, "parent_id": null, "tags": [[6, 0, [1]]]});
        let xml = to_xml(&value);
        let back = from_xml(xml);
        let mut expected = value.clone();
        expected["parent_id"] = json!(false);
        assert_eq!(back, expected);
    }

    #[test]
    fn a_received_answer_is_decoded() {
        let body = br#"<?xml version="1.0"?>
<methodResponse><params><param><value><array><data>
<value><struct>
<member><name>id</name><value><int>7</int></value></member>
<member><name>name</name><value><string>Acme &amp; Co</string></value></member>
<member><name>country_id</name><value><array><data><value><int>68</int></value><value><string>Spain</string></value></data></array></value></member>
<member><name>email</name><value><boolean>0</boolean></value></member>
<member><name>credit</name><value><double>12.5</double></value></member>
</struct></value>
</data></array></value></param></params></methodResponse>"#;
        let value = decode(body.to_vec(), &target()).unwrap();
        assert_eq!(
            value,
            json!([{"id": 7, "name": "Acme & Co", "country_id": [68, "Spain"], "email": false, "credit": 12.5}])
        );
    }

    #[test]
    fn faults_and_garbage_are_told_apart() {
        let fault = br#"<?xml version="1.0"?>
<methodResponse><fault><value><struct>
<member><name>faultCode</name><value><int>3</int></value></member>
<member><name>faultString</name><value><string>Access Denied</string></value></member>
</struct></value></fault></methodResponse>"#;
        match decode(fault.to_vec(), &target()) {
            Err(AttemptError::Fault(fault)) => assert_eq!(fault.kind, FaultKind::AccessDenied),
            other => panic!("expected a fault, got {other:?}"),
        }
        match decode(b"<html>502 Bad Gateway</html>".to_vec(), &target()) {
            Err(AttemptError::Failed(failure)) => {
                assert_eq!(failure.kind, FailureKind::Protocol);
                assert!(
                    failure.detail.starts_with("the answer is not XML-RPC"),
                    "{}",
                    failure.detail
                )
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
    }

    #[test]
    fn requests_are_encoded_as_execute_kw() {
        let request = Request::new("execute_kw")
            .arg("test")
            .arg(int(2))
            .arg("pw")
            .arg("res.partner")
            .arg("search_read")
            .arg(Xml::Array(vec![to_xml(&json!([[
                "name", "ilike", "acme"
            ]]))]))
            .arg(Xml::Struct(BTreeMap::new()));
        let text = String::from_utf8(encode(&request)).unwrap();
        assert!(
            text.contains("<methodName>execute_kw</methodName>"),
            "{text}"
        );
        assert!(text.contains("<string>ilike</string>"), "{text}");
    }
}
