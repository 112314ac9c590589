//! JSON-2 (Odoo 19 and newer): `POST /json/2/<model>/<method>` with `Authorization: bearer <key>`,
//! `X-Odoo-Database` and a JSON object of named arguments; the answer is the bare result, and an
//! error is an HTTP 4xx/5xx whose JSON body names the Python exception. Also `GET /web/version`.

use std::sync::{Arc, Mutex};

use mcp_common::Repeat;
use mcp_common::api::{Explanation, decode_json};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    AttemptError, Call, Failure, Fault, FaultKind, OdooClient, OdooError, ServerVersion,
    too_large_hint,
};

/// The body of a JSON-2 error (`{"name", "message", "arguments", "context", "debug"}`; only the
/// exception and its message matter).
#[derive(Debug, Deserialize)]
struct ErrorBody {
    name: String,
    #[serde(default)]
    message: String,
}

/// What an error status of a JSON-2 exchange said.
#[derive(Debug)]
struct Refusal {
    /// The HTTP status.
    code: u16,
    /// Odoo's refusal of the call, when its body is Odoo's error.
    fault: Option<Fault>,
}

/// Odoo's refusal of `call` in an error body, unless the status is one proxies answer themselves
/// (429/502/503/504): those are unavailability, not Odoo's verdict on the call, whatever the body
/// says.
fn fault_of(code: u16, body: &[u8], target: &Target) -> Option<Fault> {
    if matches!(code, 429 | 502 | 503 | 504) {
        return None;
    }
    let error: ErrorBody = serde_json::from_slice(body).ok()?;
    let Target { model, method, ids } = target;
    Some(Fault::from_json2(
        code,
        &error.name,
        &error.message,
        model,
        method,
        ids,
    ))
}

/// Odoo's refusal of `model.method` in a JSON-2 error body, if it is one. For the fuzz targets.
pub(super) fn refusal_in(code: u16, body: &[u8], model: &str, method: &str) -> Option<String> {
    let target = Target {
        model: model.to_owned(),
        method: method.to_owned(),
        ids: Vec::new(),
    };
    fault_of(code, body, &target).map(|fault| fault.to_string())
}

/// What a call is about, to phrase Odoo's refusal of it.
#[derive(Debug)]
struct Target {
    model: String,
    method: String,
    ids: Vec<i64>,
}

/// One JSON-2 exchange through the API client: the body of a success, or the failure as
/// mcp-common classifies it, with what its error status said. An error body that is Odoo's error
/// about `call` becomes the [`Fault`] (and its sentence explains the status).
async fn exchange(
    client: &OdooClient,
    request: reqwest::RequestBuilder,
    call: Option<&Call>,
) -> Result<Vec<u8>, (Failure, Option<Refusal>)> {
    let seen: Arc<Mutex<Option<Refusal>>> = Arc::default();
    let target = call.map(|call| Target {
        model: call.model.clone(),
        method: call.method.clone(),
        ids: call.id_list().to_vec(),
    });
    let api = client.api.clone().explaining({
        let seen = Arc::clone(&seen);
        move |code, body| {
            let fault = target
                .as_ref()
                .and_then(|target| fault_of(code, body, target));
            let explanation = Explanation {
                message: fault.as_ref().map(Fault::to_string),
                hint: too_large_hint(code),
            };
            if let Ok(mut slot) = seen.lock() {
                *slot = Some(Refusal { code, fault });
            }
            explanation
        }
    });
    api.exchange(request).await.map_err(|failure| {
        let refusal = seen.lock().ok().and_then(|mut slot| slot.take());
        (failure, refusal)
    })
}

/// `GET /web/version`; `None` when the server does not have it (Odoo before 19).
pub(super) async fn web_version(
    client: &OdooClient,
    operation: &str,
) -> Result<Option<ServerVersion>, OdooError> {
    client
        .send(operation, Repeat::Safe, || {
            let request = client.api.get("/web/version");
            async move {
                let body = match exchange(client, request, None).await {
                    Ok(body) => body,
                    // Only an overloaded or failing server is worth an error (and a retry); any
                    // other status, 408 and 425 included, means the route is not there.
                    Err((_, Some(Refusal { code, .. })))
                        if code != 429 && !(500..600).contains(&code) =>
                    {
                        return Ok(None);
                    }
                    Err((failure, _)) => return Err(AttemptError::Failed(failure)),
                };
                let Ok(answer) = serde_json::from_slice::<Value>(&body) else {
                    return Ok(None);
                };
                let version = answer
                    .get("version")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let major = answer
                    .get("version_info")
                    .and_then(|info| info.get(0))
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
                    .or_else(|| major_of(&version));
                Ok(major.map(|major| ServerVersion { version, major }))
            }
        })
        .await
}

/// The major version in "19.0", "saas~18.4" or "17.0+e".
pub(super) fn major_of(version: &str) -> Option<u32> {
    let digits: String = version
        .trim_start_matches("saas~")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Runs one call over JSON-2.
pub(super) async fn execute(client: &OdooClient, call: &Call) -> Result<Value, OdooError> {
    let connection = &client.connection;
    if !call.extra_args.is_empty() {
        return Err(OdooError::Unsupported(format!(
            "instance '{}' speaks JSON-2, which takes named arguments only: pass them as kwargs (positional args need the XML-RPC protocol)",
            connection.name
        )));
    }
    let Some(key) = connection.api_key.as_ref() else {
        return Err(OdooError::Unsupported(format!(
            "JSON-2 needs an API key, and none is configured for instance '{}' — {}",
            connection.name, connection.api_key_hint
        )));
    };
    let mut body = Map::new();
    for (name, value) in &call.positional {
        body.insert(name.clone(), value.clone());
    }
    for (name, value) in &call.keywords {
        // A null keyword means "Odoo's default": leave it out.
        if !value.is_null() {
            body.insert(name.clone(), value.clone());
        }
    }
    if let Some(ids) = &call.ids {
        body.insert("ids".into(), Value::from(ids.clone()));
    }
    if !call.context.is_empty() {
        body.insert("context".into(), Value::Object(call.context.clone()));
    }
    let body = Value::Object(body);
    let path = format!("/json/2/{}/{}", call.model, call.method);
    let authorization = format!("bearer {}", key.expose());
    let answer = client
        .send(&call.operation(), call.repeat, || {
            let request = client
                .api
                .post(&path)
                .header(reqwest::header::AUTHORIZATION, &authorization)
                .header("X-Odoo-Database", &connection.db)
                .json(&body);
            async move {
                let body =
                    exchange(client, request, Some(call))
                        .await
                        .map_err(|(failure, refusal)| match refusal.and_then(|r| r.fault) {
                            Some(fault) => AttemptError::Fault(fault),
                            None => AttemptError::Failed(failure),
                        })?;
                if body.iter().all(u8::is_ascii_whitespace) {
                    return Ok(Value::Null);
                }
                decode_json(&body, "JSON").map_err(AttemptError::Failed)
            }
        })
        .await;
    match answer {
        Err(OdooError::Fault(fault)) if fault.kind == FaultKind::AccessDenied => {
            Err(OdooError::LoginRejected {
                what: "API key".into(),
                db: connection.db.clone(),
                hint: connection.api_key_hint.clone(),
            })
        }
        other => other,
    }
}

/// The user id behind the API key, from `res.users.context_get` (any authenticated call proves
/// the key works).
pub(super) async fn whoami(client: &OdooClient) -> Result<Option<i64>, OdooError> {
    let call = Call::read("res.users", "context_get");
    let context = execute(client, &call).await?;
    Ok(context.get("uid").and_then(Value::as_i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_versions_are_read_from_version_strings() {
        for (version, major) in [
            ("19.0", Some(19)),
            ("saas~18.4", Some(18)),
            ("17.0+e", Some(17)),
            ("", None),
            ("master", None),
        ] {
            assert_eq!(major_of(version), major, "{version}");
        }
    }
}
