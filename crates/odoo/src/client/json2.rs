//! JSON-2 (Odoo 19 and newer): `POST /json/2/<model>/<method>` with `Authorization: bearer <key>`,
//! `X-Odoo-Database` and a JSON object of named arguments; the answer is the bare result, and an
//! error is an HTTP 4xx/5xx whose JSON body names the Python exception. Also `GET /web/version`.

use mcp_common::Repeat;
use mcp_common::backend::retry_after_of;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{AttemptError, Call, Fault, FaultKind, OdooClient, OdooError, ServerVersion};

/// The body of a JSON-2 error.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    name: String,
    #[serde(default)]
    message: String,
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
                let response = request.send().await.map_err(AttemptError::Http)?;
                let status = response.status();
                if status.is_server_error() || status.as_u16() == 429 {
                    return Err(AttemptError::Status {
                        code: status.as_u16(),
                        reason: status.canonical_reason().unwrap_or_default().to_owned(),
                        retry_after: retry_after_of(response.headers()),
                    });
                }
                if !status.is_success() {
                    return Ok(None);
                }
                let body = response.bytes().await.map_err(AttemptError::Http)?;
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
                let response = request.send().await.map_err(AttemptError::Http)?;
                let status = response.status();
                let retry_after = retry_after_of(response.headers());
                let bytes = response.bytes().await.map_err(AttemptError::Http)?;
                if status.is_success() {
                    if bytes.iter().all(u8::is_ascii_whitespace) {
                        return Ok(Value::Null);
                    }
                    return serde_json::from_slice(&bytes).map_err(|e| {
                        AttemptError::Decode(format!("the answer is not JSON ({e})"))
                    });
                }
                let code = status.as_u16();
                let reason = status.canonical_reason().unwrap_or_default().to_owned();
                // Proxies answer 429/502/503/504 themselves: those are unavailability, not Odoo's
                // verdict on the call, whatever the body says.
                let overloaded = matches!(code, 429 | 502 | 503 | 504);
                match serde_json::from_slice::<ErrorBody>(&bytes) {
                    Ok(error) if !overloaded => Err(AttemptError::Fault(Fault::from_json2(
                        code,
                        &error.name,
                        &error.message,
                        &call.model,
                        &call.method,
                        call.id_list(),
                    ))),
                    _ => Err(AttemptError::Status {
                        code,
                        reason,
                        retry_after,
                    }),
                }
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
