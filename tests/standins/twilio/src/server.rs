//! The stand-in's state, its routes and the kit's controls around them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};
use standin_kit::{Faults, Running, Service};

use crate::error::{ApiResult, TwilioError};
use crate::form::{Params, encode};
use crate::phone;
use crate::time;
use crate::{
    ACCOUNT_SID, FROM_NUMBER, MESSAGING_SERVICE_SID, VERIFICATION_CODE, VERIFY_SERVICE_SID,
    VOICE_ONLY_NUMBER, WHATSAPP_OPEN_RECIPIENT,
};

/// A JSON answer.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An object and when it was created (for date filters and ordering).
#[derive(Debug, Clone)]
struct Stored {
    at: i64,
    object: Value,
}

#[derive(Debug, Clone)]
struct Verification {
    sid: String,
    to: String,
    channel: String,
    status: &'static str,
    wrong: u32,
    at: i64,
}

#[derive(Debug, Default)]
struct Inner {
    messages: Vec<Stored>,
    calls: Vec<Stored>,
    numbers: Vec<Stored>,
    verifications: Vec<Verification>,
    verification_sends: HashMap<String, Vec<i64>>,
    whatsapp_open: HashSet<String>,
    created: HashMap<&'static str, usize>,
    sent: Vec<Value>,
    next_id: u64,
}

impl Inner {
    fn fresh() -> Inner {
        let mut inner = Inner::default();
        let day = 86_400;
        let now = time::now();
        for (number, name, sms) in [
            (FROM_NUMBER, "Main line", true),
            (VOICE_ONLY_NUMBER, "Madrid office", false),
        ] {
            let sid = inner.sid("PN");
            inner.numbers.push(Stored {
                at: now - 30 * day,
                object: incoming_number(&sid, number, name, sms, now - 30 * day),
            });
        }
        inner
            .whatsapp_open
            .insert(WHATSAPP_OPEN_RECIPIENT.to_string());
        let sid = inner.sid("SM");
        let mut shipped = message_object(
            &sid,
            "+15558675310",
            Some(FROM_NUMBER),
            "Your order has shipped",
            None,
            "delivered",
            0,
            now - 2 * day,
        );
        shipped["date_sent"] = json!(time::rfc2822(now - 2 * day));
        inner.messages.push(Stored {
            at: now - 2 * day,
            object: shipped,
        });
        let sid = inner.sid("CA");
        let mut call = call_object(&sid, "+15558675310", FROM_NUMBER, now - day);
        call["status"] = json!("completed");
        call["start_time"] = json!(time::rfc2822(now - day));
        call["end_time"] = json!(time::rfc2822(now - day + 42));
        call["duration"] = json!("42");
        inner.calls.push(Stored {
            at: now - day,
            object: call,
        });
        inner
    }

    fn sid(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        // Distinct per object and per run of the stand-in, still 32 hex digits.
        format!("{prefix}{:016x}{:016x}", time::now() as u64, self.next_id)
    }

    fn created(&mut self, resource: &'static str) {
        *self.created.entry(resource).or_default() += 1;
    }
}

/// The stand-in's state: seeded data, what the API created, and the fault plan.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Mutex<Inner>>,
    faults: Arc<Faults>,
}

impl Default for AppState {
    fn default() -> Self {
        AppState::new()
    }
}

impl AppState {
    /// A freshly seeded state.
    pub fn new() -> AppState {
        AppState {
            inner: Arc::new(Mutex::new(Inner::fresh())),
            faults: Arc::new(Faults::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many `messages`, `calls` or `verifications` the API created since the last reset.
    pub fn count(&self, resource: &str) -> usize {
        self.lock()
            .created
            .iter()
            .find(|(name, _)| **name == resource)
            .map(|(_, count)| *count)
            .unwrap_or(0)
    }

    /// The messages the API created, in order: `to`, `from`, `body`, `content_sid`, `status`.
    pub fn sent(&self) -> Vec<Value> {
        self.lock().sent.clone()
    }
}

impl Service for AppState {
    fn fault_response(&self, status: StatusCode) -> Response {
        TwilioError::for_status(status).into_response()
    }

    fn reset(&self) {
        *self.lock() = Inner::fresh();
    }
}

/// Twilio's routes plus the control routes, with the kit's fault plan around them.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/__standin/count/{resource}", get(control_count))
        .route("/__standin/sent", get(control_sent))
        .route("/__standin/advance", post(control_advance))
        .route("/__standin/whatsapp_inbound", post(control_inbound))
        .fallback(api_endpoint)
        .with_state(state.clone());
    let faults = state.faults.clone();
    standin_kit::with_controls(api, state, faults)
}

/// Binds 127.0.0.1 on a free port and serves a freshly seeded stand-in there in the background.
pub async fn spawn() -> std::io::Result<Running<AppState>> {
    let state = AppState::new();
    standin_kit::spawn(app(state.clone()), state).await
}

// ---------------------------------------------------------------------------------------------
// Objects

fn account_uri(rest: &str) -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT_SID}{rest}")
}

fn incoming_number(sid: &str, number: &str, name: &str, sms: bool, at: i64) -> Value {
    json!({
        "account_sid": ACCOUNT_SID, "address_requirements": "none", "address_sid": null,
        "api_version": "2010-04-01", "beta": false, "bundle_sid": null,
        "capabilities": {"fax": false, "mms": sms, "sms": sms, "voice": true},
        "date_created": time::rfc2822(at), "date_updated": time::rfc2822(at),
        "emergency_address_sid": null, "emergency_address_status": "unregistered",
        "emergency_status": "Active", "friendly_name": name, "identity_sid": null,
        "origin": "twilio", "phone_number": number, "sid": sid, "sms_application_sid": null,
        "sms_fallback_method": "POST", "sms_fallback_url": "", "sms_method": "POST",
        "sms_url": "", "status": "in-use", "status_callback": "", "status_callback_method": "POST",
        "subresource_uris": {"assigned_add_ons": account_uri(&format!("/IncomingPhoneNumbers/{sid}/AssignedAddOns.json"))},
        "trunk_sid": null, "type": "local", "uri": account_uri(&format!("/IncomingPhoneNumbers/{sid}.json")),
        "voice_application_sid": null, "voice_caller_id_lookup": false, "voice_fallback_method": "POST",
        "voice_fallback_url": null, "voice_method": "POST", "voice_receive_mode": "voice", "voice_url": null,
    })
}

/// The segments Twilio bills for `body`: GSM-7 (160, or 153 per part) unless a character needs UCS-2 (70, or 67).
fn segments(body: &str) -> usize {
    const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    const EXTENDED: &str = "^{}\\[~]|€\u{c}";
    let gsm = body
        .chars()
        .all(|c| BASIC.contains(c) || EXTENDED.contains(c));
    let (units, single, part) = if gsm {
        let units = body
            .chars()
            .map(|c| if EXTENDED.contains(c) { 2 } else { 1 })
            .sum();
        (units, 160, 153)
    } else {
        (body.encode_utf16().count(), 70, 67)
    };
    if units <= single {
        1
    } else {
        units.div_ceil(part)
    }
}

#[allow(clippy::too_many_arguments)] // One message's fields, named where it is built.
fn message_object(
    sid: &str,
    to: &str,
    from: Option<&str>,
    body: &str,
    service: Option<&str>,
    status: &str,
    media: usize,
    at: i64,
) -> Value {
    let uri = account_uri(&format!("/Messages/{sid}.json"));
    json!({
        "account_sid": ACCOUNT_SID, "api_version": "2010-04-01", "body": body,
        "date_created": time::rfc2822(at), "date_sent": null, "date_updated": time::rfc2822(at),
        "direction": "outbound-api", "error_code": null, "error_message": null, "from": from,
        "messaging_service_sid": service, "num_media": media.to_string(),
        "num_segments": segments(body).to_string(), "price": null, "price_unit": "USD",
        "sid": sid, "status": status,
        "subresource_uris": {
            "media": account_uri(&format!("/Messages/{sid}/Media.json")),
            "feedback": account_uri(&format!("/Messages/{sid}/Feedback.json")),
        },
        "to": to, "uri": uri,
    })
}

fn call_object(sid: &str, to: &str, from: &str, at: i64) -> Value {
    json!({
        "account_sid": ACCOUNT_SID, "annotation": null, "answered_by": null,
        "api_version": "2010-04-01", "caller_name": null, "date_created": time::rfc2822(at),
        "date_updated": time::rfc2822(at), "direction": "outbound-api", "duration": null,
        "end_time": null, "forwarded_from": null, "from": from,
        "from_formatted": phone::call_format(from), "group_sid": null, "parent_call_sid": null,
        "phone_number_sid": null, "price": null, "price_unit": "USD", "queue_time": "0",
        "sid": sid, "start_time": null, "status": "queued",
        "subresource_uris": {
            "notifications": account_uri(&format!("/Calls/{sid}/Notifications.json")),
            "recordings": account_uri(&format!("/Calls/{sid}/Recordings.json")),
        },
        "to": to, "to_formatted": phone::call_format(to), "trunk_sid": null,
        "uri": account_uri(&format!("/Calls/{sid}.json")),
    })
}

fn verification_object(v: &Verification) -> Value {
    json!({
        "sid": v.sid, "service_sid": VERIFY_SERVICE_SID, "account_sid": ACCOUNT_SID,
        "to": v.to, "channel": v.channel, "status": v.status, "valid": v.status == "approved",
        "lookup": {}, "amount": null, "payee": null,
        "send_code_attempts": [{"attempt_sid": format!("VL{}", &v.sid[2..]), "channel": v.channel, "time": time::iso8601(v.at)}],
        "date_created": time::iso8601(v.at), "date_updated": time::iso8601(time::now()),
        "sna": null,
        "url": format!("https://verify.twilio.com/v2/Services/{VERIFY_SERVICE_SID}/Verifications/{}", v.sid),
    })
}

// ---------------------------------------------------------------------------------------------
// Requests

/// The authenticated user: an account SID or an API key.
fn authenticate(headers: &HeaderMap) -> Result<String, TwilioError> {
    let encoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .ok_or_else(TwilioError::authenticate)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(TwilioError::authenticate)?;
    let (user, secret) = decoded
        .split_once(':')
        .ok_or_else(TwilioError::authenticate)?;
    let sid_shaped = |prefix: &str| {
        user.strip_prefix(prefix)
            .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let known = user == ACCOUNT_SID || sid_shaped("SK");
    if !known || secret.is_empty() || secret.contains("invalid") {
        return Err(TwilioError::authenticate());
    }
    Ok(user.to_string())
}

async fn api_endpoint(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = Params::parse(uri.query().unwrap_or(""));
    let form = Params::parse(&String::from_utf8_lossy(&body));
    let outcome = authenticate(&headers).and_then(|_| route(&state, &method, &path, &query, &form));
    match outcome {
        Ok((status, body)) => json_response(status, &body),
        Err(error) => error.into_response(),
    }
}

fn route(
    state: &AppState,
    method: &Method,
    path: &str,
    query: &Params,
    form: &Params,
) -> ApiResult {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["2010-04-01", "Accounts", account, rest @ ..] => {
            let account = account.trim_end_matches(".json");
            if account != ACCOUNT_SID {
                return Err(TwilioError::not_found(path));
            }
            match (method.as_str(), rest) {
                ("GET", []) => Ok((
                    StatusCode::OK,
                    json!({"sid": ACCOUNT_SID, "status": "active", "friendly_name": "Stand-in account", "type": "Full"}),
                )),
                ("GET", ["Messages.json"]) => list(state, "messages", path, query),
                ("POST", ["Messages.json"]) => create_message(state, form),
                ("GET", ["Messages", sid]) => fetch(state, "messages", sid, path),
                ("POST", ["Messages", sid]) => update_message(state, sid, path, form),
                ("GET", ["Calls.json"]) => list(state, "calls", path, query),
                ("POST", ["Calls.json"]) => create_call(state, form),
                ("GET", ["Calls", sid]) => fetch(state, "calls", sid, path),
                ("POST", ["Calls", sid]) => update_call(state, sid, path, form),
                ("GET", ["IncomingPhoneNumbers.json"]) => {
                    list(state, "incoming_phone_numbers", path, query)
                }
                _ => Err(TwilioError::not_found(path)),
            }
        }
        ["v2", "PhoneNumbers", number] if method == Method::GET => lookup(number, query),
        ["v2", "Services", service, action] if method == Method::POST => {
            if *service != VERIFY_SERVICE_SID {
                return Err(TwilioError::not_found(path));
            }
            match *action {
                "Verifications" => start_verification(state, form),
                "VerificationCheck" => check_verification(state, form),
                _ => Err(TwilioError::not_found(path)),
            }
        }
        _ => Err(TwilioError::not_found(path)),
    }
}

fn collection<'a>(inner: &'a mut Inner, resource: &str) -> &'a mut Vec<Stored> {
    match resource {
        "messages" => &mut inner.messages,
        "calls" => &mut inner.calls,
        _ => &mut inner.numbers,
    }
}

fn fetch(state: &AppState, resource: &str, file: &str, path: &str) -> ApiResult {
    let sid = file.trim_end_matches(".json");
    let mut inner = state.lock();
    collection(&mut inner, resource)
        .iter()
        .find(|stored| stored.object["sid"] == sid)
        .map(|stored| (StatusCode::OK, stored.object.clone()))
        .ok_or_else(|| TwilioError::not_found(path))
}

/// Whether a stored object passes the list's filters.
fn matches(resource: &str, stored: &Stored, query: &Params) -> bool {
    let object = &stored.object;
    let same = |field: &str, key: &str| {
        query
            .phone(key)
            .is_none_or(|wanted| object[field].as_str() == Some(wanted.as_str()))
    };
    let (date_key, status_ok) = match resource {
        "messages" => ("DateSent", true),
        "calls" => (
            "StartTime",
            query
                .non_empty("Status")
                .is_none_or(|status| object["status"] == status),
        ),
        _ => {
            let contains = query.non_empty("PhoneNumber").is_none_or(|digits| {
                object["phone_number"]
                    .as_str()
                    .is_some_and(|n| n.contains(digits.trim()))
            });
            return contains;
        }
    };
    let within = |key: &str, test: &dyn Fn(time::Instant) -> bool| {
        query.non_empty(key).and_then(time::parse).is_none_or(test)
    };
    let at = stored.at;
    same("to", "To")
        && same("from", "From")
        && status_ok
        && within(&format!("{date_key}>"), &|i| at >= i.seconds)
        && within(&format!("{date_key}<"), &|i| {
            at < i.seconds + if i.date_only { 86_400 } else { 0 }
        })
        && within(date_key, &|i| {
            at >= i.seconds && at < i.seconds + if i.date_only { 86_400 } else { 1 }
        })
}

fn list(state: &AppState, resource: &str, path: &str, query: &Params) -> ApiResult {
    let page_size = match query.non_empty("PageSize") {
        None => 50,
        Some(size) => match size.parse::<usize>() {
            Ok(size @ 1..=1000) => size,
            _ => {
                return Err(TwilioError::bad(
                    20001,
                    "PageSize must be between 1 and 1000",
                ));
            }
        },
    };
    let page: usize = query
        .non_empty("Page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let offset = query
        .non_empty("PageToken")
        .and_then(|token| token.strip_prefix("PT"))
        .and_then(|offset| offset.parse().ok())
        .unwrap_or(page * page_size);
    let mut inner = state.lock();
    let mut found: Vec<Stored> = collection(&mut inner, resource)
        .iter()
        .filter(|stored| matches(resource, stored, query))
        .cloned()
        .collect();
    drop(inner);
    // Newest first; equal times in creation order reversed.
    found.reverse();
    found.sort_by_key(|stored| std::cmp::Reverse(stored.at));
    let items: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(page_size)
        .map(|s| s.object.clone())
        .collect();
    let filters: String = query
        .0
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "PageSize" | "Page" | "PageToken"))
        .map(|(key, value)| format!("{}={}&", encode(key), encode(value)))
        .collect();
    let uri_of = |page: usize, token: Option<usize>| {
        let token = token
            .map(|t| format!("&PageToken=PT{t}"))
            .unwrap_or_default();
        format!("{path}?{filters}PageSize={page_size}&Page={page}{token}")
    };
    let next = offset + page_size;
    let next_page_uri = (next < found.len()).then(|| uri_of(page + 1, Some(next)));
    let previous_page_uri =
        (page > 0).then(|| uri_of(page - 1, Some(offset.saturating_sub(page_size))));
    Ok((
        StatusCode::OK,
        json!({
            resource: items,
            "end": offset + items.len().saturating_sub(1),
            "first_page_uri": uri_of(0, None),
            "next_page_uri": next_page_uri,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": previous_page_uri,
            "start": offset,
            "uri": uri_of(page, (offset > 0).then_some(offset)),
        }),
    ))
}

/// The refusals Twilio's magic test numbers give as destinations.
fn magic_destination(to: &str) -> Result<(), TwilioError> {
    let (code, message) = match to {
        "+15005550001" => (21211, format!("Invalid 'To' Phone Number: {to}")),
        "+15005550002" => (
            21612,
            format!(
                "The 'To' phone number: {to}, is not currently reachable using the 'From' phone number via SMS."
            ),
        ),
        "+15005550003" => (
            21408,
            format!(
                "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}."
            ),
        ),
        "+15005550004" => (
            21610,
            "Attempt to send to unsubscribed recipient".to_string(),
        ),
        "+15005550009" => (
            21614,
            format!("'To' number {to} is not a valid mobile number"),
        ),
        _ => return Ok(()),
    };
    Err(TwilioError::bad(code, message))
}

fn create_message(state: &AppState, form: &Params) -> ApiResult {
    let to = form
        .phone("To")
        .ok_or_else(|| TwilioError::bad(21604, "A 'To' phone number is required."))?;
    let whatsapp = to.starts_with("whatsapp:");
    let bare_to = to.trim_start_matches("whatsapp:");
    if !phone::is_e164(bare_to) {
        return Err(TwilioError::bad(
            21211,
            format!("Invalid 'To' Phone Number: {to}"),
        ));
    }
    magic_destination(bare_to)?;
    let from = form.phone("From");
    let service = form.non_empty("MessagingServiceSid").map(str::to_string);
    if from.is_none() && service.is_none() {
        return Err(TwilioError::bad(
            21603,
            "A 'From' phone number is required.",
        ));
    }
    if let Some(service) = &service
        && service != MESSAGING_SERVICE_SID
    {
        return Err(TwilioError::new(
            404,
            20404,
            format!("The requested resource /Services/{service} was not found"),
        ));
    }
    if let Some(from) = &from {
        let number = from.trim_start_matches("whatsapp:");
        let owned = state.lock().numbers.iter().any(|stored| {
            stored.object["phone_number"] == number && stored.object["capabilities"]["sms"] == true
        });
        if !owned {
            return Err(TwilioError::bad(
                21606,
                format!(
                    "The From phone number {from} is not a valid, SMS-capable inbound phone number or short code for your account."
                ),
            ));
        }
    }
    let body = form.get("Body").unwrap_or("").to_string();
    let media = form.all("MediaUrl");
    let content = form.non_empty("ContentSid").map(str::to_string);
    if body.is_empty() && media.is_empty() && content.is_none() {
        return Err(TwilioError::bad(21602, "Message body is required."));
    }
    if body.chars().count() > 1600 {
        return Err(TwilioError::bad(
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        ));
    }
    if let Some(sid) = &content {
        let shaped = sid
            .strip_prefix("HX")
            .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        if !shaped {
            return Err(TwilioError::bad(
                21655,
                format!("The Content SID {sid} is invalid."),
            ));
        }
        if let Some(variables) = form.non_empty("ContentVariables")
            && !serde_json::from_str::<Value>(variables).is_ok_and(|v| v.is_object())
        {
            return Err(TwilioError::bad(
                21656,
                "The ContentVariables parameter is invalid.",
            ));
        }
    }
    let now = time::now();
    let mut status = if service.is_some() {
        "accepted"
    } else {
        "queued"
    };
    if let Some(kind) = form.non_empty("ScheduleType") {
        if kind != "fixed" {
            return Err(TwilioError::bad(35111, "ScheduleType must be fixed."));
        }
        if service.is_none() {
            return Err(TwilioError::bad(
                35118,
                "MessagingServiceSid is required to schedule a message.",
            ));
        }
        let at = form
            .non_empty("SendAt")
            .and_then(time::parse)
            .ok_or_else(|| TwilioError::bad(35114, "SendAt must be a valid ISO 8601 date-time."))?;
        if at.seconds < now + 900 || at.seconds > now + 35 * 86_400 {
            return Err(TwilioError::bad(
                35114,
                "SendAt time must be between 15 minutes and 35 days from now.",
            ));
        }
        status = "scheduled";
    }
    let mut inner = state.lock();
    if whatsapp && content.is_none() && !inner.whatsapp_open.contains(&to) {
        return Err(TwilioError::bad(
            63016,
            "Failed to send freeform message because you are outside the allowed window. If you are using WhatsApp, please use a Message Template.",
        ));
    }
    let sid = inner.sid(if media.is_empty() { "SM" } else { "MM" });
    let message = message_object(
        &sid,
        &to,
        from.as_deref(),
        &body,
        service.as_deref(),
        status,
        media.len(),
        now,
    );
    inner.sent.push(json!({
        "to": to, "from": from, "body": body, "content_sid": content, "status": status,
        "media": media, "messaging_service_sid": service,
    }));
    inner.messages.push(Stored {
        at: now,
        object: message.clone(),
    });
    inner.created("messages");
    Ok((StatusCode::CREATED, message))
}

fn update_message(state: &AppState, file: &str, path: &str, form: &Params) -> ApiResult {
    let sid = file.trim_end_matches(".json");
    let mut inner = state.lock();
    let stored = inner
        .messages
        .iter_mut()
        .find(|stored| stored.object["sid"] == sid)
        .ok_or_else(|| TwilioError::not_found(path))?;
    match form.non_empty("Status") {
        Some("canceled") => {
            if stored.object["status"] != "scheduled" {
                return Err(TwilioError::bad(
                    21220,
                    format!("Message {sid} cannot be canceled: it is not scheduled."),
                ));
            }
            stored.object["status"] = json!("canceled");
        }
        Some(other) => {
            return Err(TwilioError::bad(
                20001,
                format!("Invalid Status {other}: only canceled is allowed."),
            ));
        }
        None => {
            if let Some(body) = form.get("Body") {
                stored.object["body"] = json!(body);
            }
        }
    }
    stored.object["date_updated"] = json!(time::rfc2822(time::now()));
    Ok((StatusCode::OK, stored.object.clone()))
}

fn create_call(state: &AppState, form: &Params) -> ApiResult {
    let to = form
        .phone("To")
        .ok_or_else(|| TwilioError::bad(21201, "No 'To' number is specified"))?;
    if !phone::is_e164(&to) {
        return Err(TwilioError::bad(
            21211,
            format!("Invalid 'To' Phone Number: {to}"),
        ));
    }
    let from = form
        .phone("From")
        .ok_or_else(|| TwilioError::bad(21213, "No 'From' number is specified"))?;
    let owned = state
        .lock()
        .numbers
        .iter()
        .any(|stored| stored.object["phone_number"] == from.as_str());
    if !owned {
        return Err(TwilioError::bad(
            21210,
            format!(
                "The source phone number provided, {from}, is not yet verified for your account."
            ),
        ));
    }
    let given = ["Url", "Twiml", "ApplicationSid"]
        .iter()
        .filter(|key| form.non_empty(key).is_some())
        .count();
    if given != 1 {
        return Err(TwilioError::bad(
            21205,
            "Exactly one of Url, Twiml or ApplicationSid is required.",
        ));
    }
    if form.get("Twiml").is_some_and(|twiml| twiml.len() > 4000) {
        return Err(TwilioError::bad(
            21230,
            "Twiml is too long: at most 4000 characters.",
        ));
    }
    let now = time::now();
    let mut inner = state.lock();
    let sid = inner.sid("CA");
    let call = call_object(&sid, &to, &from, now);
    inner.calls.push(Stored {
        at: now,
        object: call.clone(),
    });
    inner.created("calls");
    Ok((StatusCode::CREATED, call))
}

fn update_call(state: &AppState, file: &str, path: &str, form: &Params) -> ApiResult {
    let sid = file.trim_end_matches(".json");
    let mut inner = state.lock();
    let stored = inner
        .calls
        .iter_mut()
        .find(|stored| stored.object["sid"] == sid)
        .ok_or_else(|| TwilioError::not_found(path))?;
    let current = stored.object["status"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let now = time::now();
    match form.non_empty("Status") {
        Some("completed") if current == "in-progress" => {
            stored.object["status"] = json!("completed");
            stored.object["end_time"] = json!(time::rfc2822(now));
            stored.object["duration"] = json!((now - stored.at).max(0).to_string());
        }
        Some("canceled") if current == "queued" || current == "ringing" => {
            stored.object["status"] = json!("canceled");
        }
        Some(_) => {
            return Err(TwilioError::bad(
                21220,
                "Call is not in-progress. Cannot redirect.",
            ));
        }
        None => {}
    }
    stored.object["date_updated"] = json!(time::rfc2822(now));
    Ok((StatusCode::OK, stored.object.clone()))
}

fn lookup(number: &str, query: &Params) -> ApiResult {
    let input = crate::form::decode(number, false);
    let parsed = phone::parse(&input, query.non_empty("CountryCode"));
    let fields: Vec<&str> = query
        .non_empty("Fields")
        .map(|f| f.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let valid = parsed.valid();
    let package = |name: &str, value: Value| {
        if valid && fields.contains(&name) {
            value
        } else {
            Value::Null
        }
    };
    let caller =
        json!({"caller_name": "STAND-IN CALLER", "caller_type": "CONSUMER", "error_code": null});
    Ok((
        StatusCode::OK,
        json!({
            "calling_country_code": parsed.calling_country_code,
            "country_code": parsed.country_code,
            "phone_number": parsed.phone_number,
            "national_format": phone::national_format(&parsed),
            "valid": valid,
            "validation_errors": parsed.errors,
            "caller_name": package("caller_name", caller),
            "sim_swap": null, "call_forwarding": null, "line_status": null,
            "line_type_intelligence": package("line_type_intelligence", phone::line_type_intelligence(&parsed)),
            "identity_match": null, "reassigned_number": null, "sms_pumping_risk": null,
            "phone_number_quality_score": null, "pre_fill": null,
            "url": format!("https://lookups.twilio.com/v2/PhoneNumbers/{}", encode(&parsed.phone_number)),
        }),
    ))
}

fn start_verification(state: &AppState, form: &Params) -> ApiResult {
    let to = form.phone("To").unwrap_or_default();
    if !phone::is_e164(&to) {
        return Err(TwilioError::bad(60200, "Invalid parameter `To`"));
    }
    let channel = form.non_empty("Channel").unwrap_or_default().to_string();
    if !matches!(channel.as_str(), "sms" | "call" | "whatsapp" | "email") {
        return Err(TwilioError::bad(60200, "Invalid parameter `Channel`"));
    }
    let now = time::now();
    let mut inner = state.lock();
    let sends = inner.verification_sends.entry(to.clone()).or_default();
    sends.retain(|at| now - at < 600);
    if sends.len() >= 5 {
        return Err(TwilioError::new(429, 60203, "Max send attempts reached"));
    }
    sends.push(now);
    let existing = inner
        .verifications
        .iter()
        .position(|v| v.to == to && v.status == "pending");
    let verification = match existing {
        Some(index) => {
            inner.verifications[index].channel = channel;
            inner.verifications[index].clone()
        }
        None => {
            let sid = inner.sid("VE");
            let verification = Verification {
                sid,
                to,
                channel,
                status: "pending",
                wrong: 0,
                at: now,
            };
            inner.verifications.push(verification.clone());
            verification
        }
    };
    inner.created("verifications");
    Ok((StatusCode::CREATED, verification_object(&verification)))
}

fn check_verification(state: &AppState, form: &Params) -> ApiResult {
    let code = form
        .non_empty("Code")
        .ok_or_else(|| TwilioError::bad(60200, "Invalid parameter `Code`"))?;
    let to = form.phone("To");
    let sid = form.non_empty("VerificationSid");
    let mut inner = state.lock();
    let verification = inner
        .verifications
        .iter_mut()
        .find(|v| {
            v.status == "pending"
                && (to.as_deref() == Some(v.to.as_str()) || sid == Some(v.sid.as_str()))
        })
        .ok_or_else(|| {
            TwilioError::new(
                404,
                20404,
                "The requested resource /Services/VerificationCheck was not found",
            )
        })?;
    if code == VERIFICATION_CODE {
        verification.status = "approved";
    } else {
        verification.wrong += 1;
        if verification.wrong >= 5 {
            verification.status = "canceled";
            return Err(TwilioError::new(429, 60202, "Max check attempts reached"));
        }
    }
    let mut answer = verification_object(verification);
    if let Some(object) = answer.as_object_mut() {
        object.remove("send_code_attempts");
        object.remove("lookup");
        object.remove("url");
    }
    Ok((StatusCode::OK, answer))
}

// ---------------------------------------------------------------------------------------------
// Control routes

fn control_error(message: &str) -> Response {
    json_response(StatusCode::BAD_REQUEST, &json!({"error": message}))
}

async fn control_count(State(state): State<AppState>, Path(resource): Path<String>) -> Response {
    if !matches!(resource.as_str(), "messages" | "calls" | "verifications") {
        return control_error("resource must be messages, calls or verifications");
    }
    let count = state.count(&resource);
    json_response(
        StatusCode::OK,
        &json!({"resource": resource, "count": count}),
    )
}

async fn control_sent(State(state): State<AppState>) -> Response {
    json_response(StatusCode::OK, &json!({"sent": state.sent()}))
}

async fn control_advance(State(state): State<AppState>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return control_error("the body must be JSON: {\"sid\", \"status\", \"error_code\"}");
    };
    let (Some(sid), Some(status)) = (request["sid"].as_str(), request["status"].as_str()) else {
        return control_error("sid and status are required");
    };
    let now = time::now();
    let mut inner = state.lock();
    let Inner {
        messages, calls, ..
    } = &mut *inner;
    let stored = messages
        .iter_mut()
        .chain(calls.iter_mut())
        .find(|stored| stored.object["sid"] == sid);
    let Some(stored) = stored else {
        return control_error(&format!("no message or call {sid}"));
    };
    stored.object["status"] = json!(status);
    stored.object["date_updated"] = json!(time::rfc2822(now));
    if sid.starts_with("CA") {
        if status == "in-progress" {
            stored.object["start_time"] = json!(time::rfc2822(now));
        }
    } else if matches!(status, "sent" | "delivered") {
        stored.object["date_sent"] = json!(time::rfc2822(now));
    }
    if let Some(code) = request["error_code"].as_u64() {
        stored.object["error_code"] = json!(code);
        stored.object["error_message"] = json!("Unreachable destination handset");
    }
    json_response(StatusCode::OK, &stored.object.clone())
}

async fn control_inbound(State(state): State<AppState>, body: Bytes) -> Response {
    let from = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["from"].as_str().map(str::to_string));
    match from {
        Some(from) if from.starts_with("whatsapp:+") => {
            state.lock().whatsapp_open.insert(from.clone());
            json_response(StatusCode::OK, &json!({"open": from}))
        }
        _ => control_error("from must be whatsapp:+E164"),
    }
}
