//! The MCP face of Twilio: messages (`messages`), calls (`calls`), phone numbers and lookups
//! (`numbers`) and verification (`verify`).
//!
//! Every send goes through [`Twilio::deliver`]: the destination allow-list, dry-run, the
//! duplicate and per-destination checks of [`SendLedger`], one request that is never repeated
//! once it may have reached Twilio, and an honest "unknown" when the answer was lost.

mod calls;
mod messages;
mod numbers;
mod previews;
mod verify;

use std::sync::Arc;

use mcp_common::{Caller, Domain, Previews, Probe, ToolError, ToolKind};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler, tool_handler};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{ApiError, Call, Host, TwilioApi, TwilioError};
use crate::config::{TwilioConfig, is_sid};
use crate::ledger::{SendLedger, Settled, Ticket, fingerprint};
use crate::phone::Destinations;
use crate::segments::Segments;
use crate::shape::{Kind, trim};
use mcp_common::team::{ClientCache, CredentialField, caller_credentials};

/// The twilio MCP server.
#[derive(Clone)]
pub struct Twilio {
    /// The configured account.
    shared_api: TwilioApi,
    /// In team mode, each caller's own account or key, one client (and breaker) per set.
    per_caller: Arc<ClientCache<TwilioApi>>,
    ledger: Arc<SendLedger>,
    pub(crate) destinations: Destinations,
    pub(crate) dry_run: bool,
    pub(crate) from_number: Option<String>,
    pub(crate) messaging_service_sid: Option<String>,
    pub(crate) verify_service_sid: Option<String>,
    tools: Arc<ToolRouter<Twilio>>,
}

impl std::fmt::Debug for Twilio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Twilio")
            .field("api", &self.shared_api)
            .finish()
    }
}

/// What callers may bring in team mode (`ServerIdentity::credentials`).
pub const CALLER_CREDENTIALS: &[CredentialField] = &[
    CredentialField {
        name: ACCOUNT_SID,
        description: "Your Twilio account SID (AC…); your messages and calls go out from it",
        required: true,
    },
    CredentialField {
        name: AUTH_TOKEN,
        description: "The account's auth token, or an API key's secret when api_key_sid is given",
        required: true,
    },
    CredentialField {
        name: API_KEY_SID,
        description: "An API key SID (SK…), safer than the auth token: revocable on its own",
        required: false,
    },
];

const ACCOUNT_SID: &str = "account_sid";
const AUTH_TOKEN: &str = "auth_token";
const API_KEY_SID: &str = "api_key_sid";

impl Twilio {
    /// The API this call goes through: in team mode, the caller's own account (or API key)
    /// when it has one (mcp-common refuses callers without one unless the deployment shares its
    /// own); otherwise the configured account.
    pub(crate) fn api(&self) -> TwilioApi {
        let Some(credentials) = caller_credentials() else {
            return self.shared_api.clone();
        };
        let (Some(account), Some(secret)) =
            (credentials.get(ACCOUNT_SID), credentials.get(AUTH_TOKEN))
        else {
            return self.shared_api.clone();
        };
        let key_sid = credentials
            .get(API_KEY_SID)
            .map(|sid| sid.expose().to_owned());
        let api = self.per_caller.get_or_try_insert(&credentials, |_| {
            Ok::<_, std::convert::Infallible>(self.shared_api.with_account(
                account.expose(),
                key_sid,
                secret.clone(),
            ))
        });
        match api {
            Ok(api) => (*api).clone(),
            Err(never) => match never {},
        }
    }

    /// The server over `api`.
    pub fn new(api: TwilioApi, config: &TwilioConfig) -> Twilio {
        Twilio {
            shared_api: api,
            per_caller: Arc::new(ClientCache::default()),
            ledger: Arc::new(SendLedger::new(
                config.duplicate_window,
                config.destination_limit,
                config.destination_window,
            )),
            destinations: config.allowed_destinations.clone(),
            dry_run: config.dry_run,
            from_number: config.from_number.clone(),
            messaging_service_sid: config.messaging_service_sid.clone(),
            verify_service_sid: config.verify_service_sid.clone(),
            tools: Arc::new(
                Self::message_tools()
                    + Self::call_tools()
                    + Self::number_tools()
                    + Self::verify_tools(),
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Results

/// How a send ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Twilio accepted it
    Sent,
    /// The request may have reached Twilio but no answer came back: it may have been sent.
    /// It was not retried; check before trying again
    Unknown,
    /// TWILIO_DRY_RUN is on: checked, nothing sent
    DryRun,
}

/// The result of a send (message, call or verification).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SendResult {
    /// sent, unknown or dry_run
    pub outcome: Outcome,
    /// One line saying what happened and what to do next
    pub summary: String,
    /// Twilio's id of what was created (SM…, CA…, VE…)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Twilio's status of it, e.g. queued, scheduled, pending
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The destination
    pub to: String,
    /// The sender used, when one was given or configured
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Encoding, characters and billed segments of an SMS body
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<Segments>,
    /// The created object, trimmed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<Value>,
    /// In a dry run: the form fields that would have been sent
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
}

/// One object.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ObjectResult {
    /// One line about it
    pub summary: String,
    /// The object, trimmed
    pub object: Value,
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListResult {
    /// The objects on this page, newest first
    pub objects: Vec<Value>,
    /// Pass as `next_page` to get the next page; absent on the last one
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Arguments and checks shared by the tools

/// Which page of a list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Page {
    /// How many to return, 1 to 100 (default 20)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// The `next_page` of the previous result, to get the one after it
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page: Option<String>,
}

/// A SID of one of `prefixes` (e.g. `SM`, `MM` for messages), with `field` named if not.
pub(crate) fn sid_of(field: &str, value: &str, prefixes: &[&str]) -> Result<String, ToolError> {
    let value = value.trim();
    if prefixes.iter().any(|prefix| is_sid(value, prefix)) {
        return Ok(value.to_owned());
    }
    Err(ToolError::invalid(
        field,
        format!(
            "a Twilio SID: {} followed by 32 hex digits",
            prefixes.join(" or ")
        ),
    ))
}

/// `YYYY-MM-DD` or an ISO 8601 date-time, as Twilio's date filters take them.
pub(crate) fn date_of(field: &str, value: &Option<String>) -> Result<Option<String>, ToolError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let value = value.trim();
    let bytes = value.as_bytes();
    let date_like = bytes.len() >= 10
        && bytes[..10].iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
        && (bytes.len() == 10 || bytes[10] == b'T');
    if date_like {
        Ok(Some(value.to_owned()))
    } else {
        Err(ToolError::invalid(
            field,
            "a date as YYYY-MM-DD or an ISO 8601 date-time such as 2026-03-01T09:00:00Z",
        ))
    }
}

/// The caller's name for the duplicate check: the HTTP token holder, or `local`.
pub(crate) fn caller_of(context: &RequestContext<RoleServer>) -> String {
    Caller::of(context)
        .principal
        .unwrap_or_else(|| mcp_common::grants::LOCAL_CALLER.to_owned())
}

/// A send, checked and ready for [`Twilio::deliver`].
pub(crate) struct Outgoing<'a> {
    /// "SMS", "WhatsApp message", "call", "verification".
    pub what: &'static str,
    /// The destination in E.164 (without a channel prefix), for the allow-list and limits.
    pub destination: String,
    /// The address as sent (`whatsapp:+…` for WhatsApp).
    pub to: String,
    /// The sender, as shown to the caller.
    pub from: Option<String>,
    /// What makes two sends identical besides the caller and destination.
    pub content: Vec<String>,
    /// The caller asked to send an identical message again.
    pub allow_duplicate: bool,
    /// Encoding and segments of an SMS body.
    pub segments: Option<Segments>,
    /// The request.
    pub call: Call<'a>,
    /// How to trim the answer (`None`: keep Twilio's fields as they are).
    pub kind: Option<Kind>,
}

impl Twilio {
    /// Reads one object.
    pub(crate) async fn fetch(
        &self,
        host: Host,
        operation: &str,
        path: String,
    ) -> Result<Value, ToolError> {
        self.api()
            .send(&Call::get(host, operation, path))
            .await
            .map_err(twilio_error)
    }

    /// Reads one page of the account's `resource` (e.g. `Messages`), whose items Twilio lists
    /// under `key` (e.g. `messages`).
    pub(crate) async fn list(
        &self,
        operation: &str,
        resource: &str,
        key: &str,
        kind: Kind,
        page: &Page,
        filters: Vec<(&str, Option<String>)>,
    ) -> Result<ListResult, ToolError> {
        let path = self.api().account_path(&format!("/{resource}.json"));
        let call = match &page.next_page {
            Some(next) => {
                // Only a page of this account's same list: the value goes into the URL.
                let next = next.trim();
                if !next.starts_with(&format!("{path}?")) || next.contains("://") {
                    return Err(ToolError::invalid(
                        "next_page",
                        format!("the next_page value of a previous {operation} result"),
                    ));
                }
                Call::get(Host::Api, operation, next.to_owned())
            }
            None => {
                let size = match page.page_size {
                    None => 20,
                    Some(size @ 1..=100) => size,
                    Some(_) => {
                        return Err(ToolError::invalid("page_size", "a number from 1 to 100"));
                    }
                };
                let mut call =
                    Call::get(Host::Api, operation, path).param("PageSize", size.to_string());
                for (name, value) in filters {
                    call = call.maybe(name, value);
                }
                call
            }
        };
        let page = self.api().send(&call).await.map_err(twilio_error)?;
        let objects = page[key]
            .as_array()
            .map(|items| items.iter().map(|item| trim(item, kind)).collect())
            .unwrap_or_default();
        Ok(ListResult {
            objects,
            next_page: page["next_page_uri"]
                .as_str()
                .filter(|uri| !uri.is_empty())
                .map(str::to_owned),
        })
    }

    /// The sender of a message: the `from` given, else the messaging service given, else
    /// TWILIO_FROM_NUMBER, else TWILIO_MESSAGING_SERVICE_SID; a scheduled message (`scheduled`)
    /// prefers the configured service to the configured number, since only a service schedules.
    /// Returns the form field and its value.
    pub(crate) fn sender(
        &self,
        from: &Option<String>,
        messaging_service_sid: &Option<String>,
        whatsapp: bool,
        scheduled: bool,
    ) -> Result<(&'static str, String), ToolError> {
        let number = |number: String| {
            if whatsapp {
                ("From", crate::phone::whatsapp(&number))
            } else {
                ("From", number)
            }
        };
        if let Some(from) = from {
            return Ok(number(crate::phone::e164("from", from)?));
        }
        if let Some(service) = messaging_service_sid {
            return Ok((
                "MessagingServiceSid",
                sid_of("messaging_service_sid", service, &["MG"])?,
            ));
        }
        if scheduled && let Some(service) = &self.messaging_service_sid {
            return Ok(("MessagingServiceSid", service.clone()));
        }
        if let Some(from) = &self.from_number {
            return Ok(number(from.clone()));
        }
        if let Some(service) = &self.messaging_service_sid {
            return Ok(("MessagingServiceSid", service.clone()));
        }
        Err(ToolError::invalid(
            "from",
            "a sender: pass `from` (one of list_phone_numbers) or have the operator set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID",
        ))
    }

    /// Sends `outgoing` once: allow-list, dry run, duplicate and rate checks, then one request.
    /// An answer lost after the request left is reported as an unknown outcome, never resent.
    pub(crate) async fn deliver(
        &self,
        outgoing: Outgoing<'_>,
        context: &RequestContext<RoleServer>,
    ) -> Result<SendResult, ToolError> {
        let Outgoing {
            what,
            destination,
            to,
            from,
            content,
            allow_duplicate,
            segments,
            call,
            kind,
        } = outgoing;
        self.destinations.check("to", &destination)?;
        if self.dry_run {
            let request: serde_json::Map<String, Value> = call
                .params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            let cost = segments
                .as_ref()
                .map(|s| format!(" ({})", s.describe()))
                .unwrap_or_default();
            return Ok(SendResult {
                outcome: Outcome::DryRun,
                summary: format!(
                    "dry run (TWILIO_DRY_RUN): the {what} to {to}{cost} was checked and not sent"
                ),
                sid: None,
                status: None,
                to,
                from,
                segments,
                object: None,
                request: Some(Value::Object(request)),
            });
        }
        let content: Vec<&str> = content.iter().map(String::as_str).collect();
        let print = fingerprint(&caller_of(context), what, &to, &content);
        let ticket = self.ledger.admit(
            print,
            &destination,
            allow_duplicate,
            &format!("an identical {what}"),
        )?;
        match self.api().send(&call).await {
            Ok(answer) => {
                let sid = answer["sid"].as_str().unwrap_or_default().to_owned();
                self.ledger.settle(ticket, Settled::Sent(sid.clone()));
                mcp_common::audit::note("sid", sid.clone());
                let status = answer["status"].as_str().map(str::to_owned);
                let cost = segments
                    .as_ref()
                    .map(|s| format!(", {}", s.describe()))
                    .unwrap_or_default();
                Ok(SendResult {
                    outcome: Outcome::Sent,
                    summary: format!(
                        "{what} {sid} to {to}: {}{cost}",
                        status.as_deref().unwrap_or("accepted")
                    ),
                    sid: Some(sid).filter(|s| !s.is_empty()),
                    status,
                    to,
                    from,
                    segments,
                    object: Some(match kind {
                        Some(kind) => trim(&answer, kind),
                        None => answer,
                    }),
                    request: None,
                })
            }
            // Twilio answered with success, so it accepted the send; only its answer is lost. Said
            // as an unknown outcome, never as a failure the agent would simply repeat.
            Err(error @ TwilioError::Unreadable { .. }) => {
                self.unknown_outcome(ticket, what, &destination, to, from, segments, &error)
            }
            Err(TwilioError::Backend(error)) if error.maybe_applied => {
                self.unknown_outcome(ticket, what, &destination, to, from, segments, &error)
            }
            Err(error) => {
                self.ledger.settle(ticket, Settled::NotSent);
                Err(twilio_error(error))
            }
        }
    }

    /// The result of a send whose request left but whose answer was lost or unreadable: kept in
    /// the ledger as unknown (an identical send is refused), never retried.
    #[allow(clippy::too_many_arguments)] // The parts of the result, as `deliver` holds them.
    fn unknown_outcome(
        &self,
        ticket: Ticket,
        what: &str,
        destination: &str,
        to: String,
        from: Option<String>,
        segments: Option<Segments>,
        error: &dyn std::fmt::Display,
    ) -> Result<SendResult, ToolError> {
        self.ledger.settle(ticket, Settled::Unknown);
        mcp_common::audit::note("outcome", "unknown");
        let check = match what {
            "call" => format!("list_calls with to {destination}"),
            "verification" => "with the person whether a code arrived".to_owned(),
            _ => format!("list_messages with to {to}"),
        };
        Ok(SendResult {
            outcome: Outcome::Unknown,
            summary: format!(
                "the {what} to {to} may or may not have been sent: {error}. It was not retried, so it was sent at most once. Check {check} before trying again; an identical send is refused for the duplicate window unless allow_duplicate is true"
            ),
            sid: None,
            status: None,
            to,
            from,
            segments,
            object: None,
            request: None,
        })
    }
}

/// A Twilio failure as the caller reads it: Twilio's code, its documentation link and what to
/// do, never the raw body.
pub(crate) fn twilio_error(error: TwilioError) -> ToolError {
    match error {
        TwilioError::Api { operation, error } => api_error(&operation, &error),
        TwilioError::Backend(error) => ToolError::Backend(error),
        unreadable @ TwilioError::Unreadable { .. } => ToolError::Other(unreadable.to_string()),
    }
}

fn api_error(operation: &str, error: &ApiError) -> ToolError {
    let message = error
        .message
        .as_deref()
        .unwrap_or("no reason given")
        .trim_end_matches('.');
    let code = error.code.unwrap_or(0);
    let link = error
        .more_info
        .as_deref()
        .map(|link| format!(" ({link})"))
        .unwrap_or_default();
    let hint = match code {
        20003 => {
            return ToolError::Other(format!(
                "Twilio rejected the credentials: {message}, error 20003{link} — check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET)"
            ));
        }
        20404 => {
            return ToolError::NotFound {
                what: format!("{message} (Twilio error 20404)"),
                hint: Some("check the SID; list_messages and list_calls show valid ones".into()),
            };
        }
        21211 => "the `to` number is not a valid phone number; check it with lookup_phone_number",
        21610 => {
            "the recipient replied STOP to this sender and is unsubscribed: they must reply START before they can be messaged again; do not retry"
        }
        21612 => "Twilio cannot route a message from this sender to this number",
        21614 => {
            "the `to` number cannot receive SMS (a landline?); check it with lookup_phone_number or call instead"
        }
        21408 => {
            "the account may not send to this country: enable it in the Twilio Console under Messaging → Settings → Geo permissions"
        }
        21606 | 21659 | 21212 => {
            "the `from` number is not one of this account's numbers able to send this: see list_phone_numbers, or use TWILIO_FROM_NUMBER"
        }
        21617 => "shorten the body to 1600 characters or fewer",
        35111 | 35114 | 35118 => {
            "`send_at` must be an ISO 8601 time 15 minutes to 35 days ahead, sent through a Messaging Service"
        }
        63016 => {
            "the person has not messaged this WhatsApp sender in the last 24 hours: send an approved template with content_sid instead of free text"
        }
        20429 => {
            "Twilio is limiting this account's request rate: wait a minute before sending more"
        }
        60200 => "check the arguments Twilio names",
        60202 | 60203 => {
            "the attempts for this verification are used up: wait 10 minutes and start a new verification"
        }
        _ if error.status == 401 => "check TWILIO_ACCOUNT_SID and the auth token or API key",
        _ if error.status == 403 => "this account or API key is not permitted to do this",
        _ => "see Twilio's error page",
    };
    let code = if code == 0 {
        format!("HTTP {}", error.status)
    } else {
        format!("error {code}")
    };
    ToolError::Other(format!(
        "Twilio refused {operation}: {message}, {code}{link} — {hint}"
    ))
}

const MESSAGES_URI: &str = "twilio://messages/";
const CALLS_URI: &str = "twilio://calls/";

#[tool_handler(router = self.tools)]
impl ServerHandler for Twilio {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_instructions(
            "Twilio: SMS, WhatsApp, calls, phone number lookups and verification codes. Numbers are E.164 (+14155552671). A send is never repeated by the server: if its outcome is unknown the result says so; check list_messages or get_message before sending again. An identical send within the duplicate window is refused unless allow_duplicate is true.",
        )
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, rmcp::ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new(format!("{MESSAGES_URI}{{sid}}"), "message")
                .with_description("A message with its status, segments, price and any error")
                .with_mime_type("application/json"),
            ResourceTemplate::new(format!("{CALLS_URI}{{sid}}"), "call")
                .with_description("A call with its status, times and duration")
                .with_mime_type("application/json"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, rmcp::ErrorData> {
        let uri = request.uri.clone();
        let (kind, sid, resource) = if let Some(sid) = uri.strip_prefix(MESSAGES_URI) {
            let sid = sid_of("sid", sid, &messages::MESSAGE_PREFIXES)
                .map_err(|e| e.into_resource_error(&uri))?;
            (Kind::Message, sid, "Messages")
        } else if let Some(sid) = uri.strip_prefix(CALLS_URI) {
            let sid = sid_of("sid", sid, &["CA"]).map_err(|e| e.into_resource_error(&uri))?;
            (Kind::Call, sid, "Calls")
        } else {
            return Err(mcp_common::error::resource_not_found(
                &uri,
                format!("no resource {uri}; use {MESSAGES_URI}{{sid}} or {CALLS_URI}{{sid}}"),
            ));
        };
        let path = self.api().account_path(&format!("/{resource}/{sid}.json"));
        let object = self
            .fetch(Host::Api, "read_resource", path)
            .await
            .map_err(|e| e.into_resource_error(&uri))?;
        let text = serde_json::to_string_pretty(&trim(&object, kind))
            .map_err(|e| rmcp::ErrorData::internal_error(e.to_string(), None))?;
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, &uri).with_mime_type("application/json"),
        ])
        .into())
    }
}

impl Domain for Twilio {
    fn tools(&self) -> Vec<Tool> {
        self.tools.list_all()
    }

    fn probes(&self) -> Vec<Probe> {
        let api = self.shared_api.clone();
        vec![Probe::new("twilio", move || {
            let api = api.clone();
            async move {
                // The cheapest authenticated read: proves the URL and the credentials.
                let path = api.account_path("/IncomingPhoneNumbers.json");
                let call = Call::get(Host::Api, "list_phone_numbers", path).param("PageSize", "1");
                match api.send(&call).await {
                    Ok(_) => Ok(format!("account {}", api.account_sid())),
                    Err(error) => Err(twilio_error(error).message()),
                }
            }
        })]
    }

    fn sensitive_arguments(&self) -> Vec<&'static str> {
        // A verification code is a one-time secret: kept out of audit records and logs.
        vec!["code"]
    }

    fn previews(&self) -> Previews<Self> {
        previews::all()
    }

    fn withheld(&self, tool: &str, _kind: ToolKind) -> Option<String> {
        let verification = matches!(tool, "start_verification" | "check_verification");
        (verification && self.verify_service_sid.is_none()).then(|| {
            format!(
                "`{tool}` needs a Twilio Verify service: the operator sets TWILIO_VERIFY_SERVICE_SID (VA…). Nothing was sent."
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_errors_read_as_sentences_with_code_and_link() {
        let unsubscribed = ApiError::parse(
            400,
            br#"{"code": 21610, "message": "Attempt to send to unsubscribed recipient", "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400}"#,
        );
        assert_eq!(
            api_error("send_sms", &unsubscribed).message(),
            "Twilio refused send_sms: Attempt to send to unsubscribed recipient, error 21610 (https://www.twilio.com/docs/errors/21610) — the recipient replied STOP to this sender and is unsubscribed: they must reply START before they can be messaged again; do not retry"
        );
        let missing = ApiError::parse(
            404,
            br#"{"code": 20404, "message": "The requested resource was not found"}"#,
        );
        assert!(matches!(
            api_error("get_message", &missing),
            ToolError::NotFound { .. }
        ));
        let auth = ApiError::parse(401, br#"{"code": 20003, "message": "Authenticate"}"#);
        assert!(
            api_error("list_messages", &auth)
                .message()
                .contains("TWILIO_AUTH_TOKEN")
        );
    }

    #[test]
    fn sids_and_dates_are_checked() {
        assert!(
            sid_of(
                "message_sid",
                "SM0123456789abcdef0123456789abcdef",
                &["SM", "MM"]
            )
            .is_ok()
        );
        let error = sid_of("call_sid", "SM0123456789abcdef0123456789abcdef", &["CA"]).unwrap_err();
        assert_eq!(
            error.message(),
            "invalid argument `call_sid`: expected a Twilio SID: CA followed by 32 hex digits"
        );
        assert!(date_of("sent_after", &Some("2026-03-01".into())).is_ok());
        assert!(date_of("sent_after", &Some("2026-03-01T09:00:00Z".into())).is_ok());
        assert!(date_of("sent_after", &Some("March 1".into())).is_err());
    }
}
