//! Calls: read, list, place one (TwiML given, built from text to say, or fetched from a URL),
//! hang one up.

use mcp_common::{Json, ToolError};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ListResult, ObjectResult, Outgoing, Page, SendResult, Twilio, date_of, sid_of};
use crate::client::{Call, Host};
use crate::phone;
use crate::shape::{Kind, call_headline, trim};
use crate::twiml;

/// One call.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct GetCallArgs {
    /// The call's SID (CA…)
    pub call_sid: String,
}

/// A call's status, as Twilio filters by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    /// Waiting to be placed
    Queued,
    /// Ringing
    Ringing,
    /// Answered and going on
    InProgress,
    /// Cancelled before it was answered
    Canceled,
    /// Ended after being answered
    Completed,
    /// Could not be placed
    Failed,
    /// The line was busy
    Busy,
    /// Nobody answered
    NoAnswer,
}

impl CallStatus {
    fn as_str(self) -> &'static str {
        match self {
            CallStatus::Queued => "queued",
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Canceled => "canceled",
            CallStatus::Completed => "completed",
            CallStatus::Failed => "failed",
            CallStatus::Busy => "busy",
            CallStatus::NoAnswer => "no-answer",
        }
    }
}

/// Which calls to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListCallsArgs {
    /// Only calls to this number (E.164)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Only calls from this number (E.164)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Only calls with this status
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CallStatus>,
    /// Only calls started on or after this date (YYYY-MM-DD or ISO 8601)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_after: Option<String>,
    /// Only calls started before this date (YYYY-MM-DD or ISO 8601)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_before: Option<String>,
    /// Paging
    #[serde(flatten)]
    pub page: Page,
}

/// A call to place. Give exactly one of `say`, `twiml` or `url`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MakeCallArgs {
    /// The number to call, E.164, e.g. +14155552671
    pub to: String,
    /// The caller number (E.164) from this account; default TWILIO_FROM_NUMBER
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Text to read out when the call is answered
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub say: Option<String>,
    /// The voice for `say`, e.g. alice, Polly.Lucia, Google.es-ES-Standard-A
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    /// The language for `say`, e.g. en-US, es-ES
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// TwiML to run, as text: <Response>…</Response>, at most 4000 bytes
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twiml: Option<String>,
    /// A URL that answers with the TwiML to run
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A URL Twilio calls when the call ends (and, with Twilio's defaults, only then)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_callback: Option<String>,
    /// Seconds to let it ring before giving up, 5 to 600 (default 60)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u32>,
    /// Call even though an identical call went to this number within the duplicate window
    #[serde(default)]
    pub allow_duplicate: bool,
}

/// A call to hang up.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EndCallArgs {
    /// The call's SID (CA…)
    pub call_sid: String,
}

fn url_of(field: &str, value: &str) -> Result<String, ToolError> {
    let value = value.trim();
    if (value.starts_with("https://") || value.starts_with("http://"))
        && !value.contains(char::is_whitespace)
    {
        Ok(value.to_owned())
    } else {
        Err(ToolError::invalid(field, "an http:// or https:// URL"))
    }
}

/// Statuses in which a call has ended and there is nothing to hang up.
const ENDED: [&str; 5] = ["completed", "canceled", "failed", "busy", "no-answer"];

#[tool_router(router = call_tools, vis = "pub(crate)")]
impl Twilio {
    #[tool(
        description = "Get one call by SID (CA…): status, to, from, start and end time, duration in seconds, price, and who answered.",
        annotations(title = "Get a call", read_only_hint = true, open_world_hint = true)
    )]
    async fn get_call(
        &self,
        Parameters(args): Parameters<GetCallArgs>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let sid = sid_of("call_sid", &args.call_sid, &["CA"])?;
        let path = self.api().account_path(&format!("/Calls/{sid}.json"));
        let call = self.fetch(Host::Api, "get_call", path).await?;
        Ok(Json(ObjectResult {
            summary: call_headline(&call),
            object: trim(&call, Kind::Call),
        }))
    }

    #[tool(
        description = "List the account's calls, newest first, optionally only to or from one number, with one status, or started within a date range; page with next_page.",
        annotations(title = "List calls", read_only_hint = true, open_world_hint = true)
    )]
    async fn list_calls(
        &self,
        Parameters(args): Parameters<ListCallsArgs>,
    ) -> Result<Json<ListResult>, ToolError> {
        let filters = vec![
            ("To", args.to.clone()),
            ("From", args.from.clone()),
            ("Status", args.status.map(|s| s.as_str().to_owned())),
            ("StartTime>", date_of("started_after", &args.started_after)?),
            (
                "StartTime<",
                date_of("started_before", &args.started_before)?,
            ),
        ];
        let page = self
            .list(
                "list_calls",
                "Calls",
                "calls",
                Kind::Call,
                &args.page,
                filters,
            )
            .await?;
        Ok(Json(page))
    }

    #[tool(
        description = "Place a phone call that reads out a text (say), runs TwiML given as text (twiml), or runs the TwiML a URL returns (url). Never repeated by the server; an identical call within the duplicate window is refused unless allow_duplicate is true.",
        annotations(
            title = "Place a call",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn make_call(
        &self,
        Parameters(args): Parameters<MakeCallArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<SendResult>, ToolError> {
        let to = phone::e164("to", &args.to)?;
        let from = match &args.from {
            Some(from) => phone::e164("from", from)?,
            None => self.from_number.clone().ok_or_else(|| {
                ToolError::invalid(
                    "from",
                    "a caller number: pass `from` (one of list_phone_numbers) or have the operator set TWILIO_FROM_NUMBER",
                )
            })?,
        };
        let mut call = Call::post(
            Host::Api,
            "make_call",
            self.api().account_path("/Calls.json"),
        )
        .param("To", to.clone())
        .param("From", from.clone());
        let instructions = match (&args.say, &args.twiml, &args.url) {
            (Some(text), None, None) => {
                if text.trim().is_empty() {
                    return Err(ToolError::invalid("say", "the text to read out"));
                }
                let built = twiml::check(
                    "say",
                    &twiml::say(text, args.voice.as_deref(), args.language.as_deref()),
                )?;
                call = call.param("Twiml", built.clone());
                built
            }
            (None, Some(given), None) => {
                let checked = twiml::check("twiml", given)?;
                call = call.param("Twiml", checked.clone());
                checked
            }
            (None, None, Some(url)) => {
                let url = url_of("url", url)?;
                call = call.param("Url", url.clone());
                url
            }
            _ => {
                return Err(ToolError::invalid(
                    "say",
                    "exactly one of `say` (text to read out), `twiml` (TwiML as text) or `url` (where to fetch TwiML)",
                ));
            }
        };
        if (args.voice.is_some() || args.language.is_some()) && args.say.is_none() {
            return Err(ToolError::invalid(
                "voice",
                "no voice or language without `say`: put them in the TwiML instead",
            ));
        }
        if let Some(callback) = &args.status_callback {
            call = call.param("StatusCallback", url_of("status_callback", callback)?);
        }
        if let Some(timeout) = args.timeout_secs {
            if !(5..=600).contains(&timeout) {
                return Err(ToolError::invalid(
                    "timeout_secs",
                    "a number of seconds from 5 to 600",
                ));
            }
            call = call.param("Timeout", timeout.to_string());
        }
        let outgoing = Outgoing {
            what: "call",
            destination: to.clone(),
            to,
            from: Some(from),
            content: vec![instructions],
            allow_duplicate: args.allow_duplicate,
            segments: None,
            call,
            kind: Some(Kind::Call),
        };
        Ok(Json(self.deliver(outgoing, &context).await?))
    }

    #[tool(
        description = "Hang up a call: one in progress is ended, one still queued or ringing is canceled. A call that has already ended is left as it is.",
        annotations(
            title = "End a call",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn end_call(
        &self,
        Parameters(args): Parameters<EndCallArgs>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let sid = sid_of("call_sid", &args.call_sid, &["CA"])?;
        let path = self.api().account_path(&format!("/Calls/{sid}.json"));
        let current = self.fetch(Host::Api, "get_call", path.clone()).await?;
        let status = current["status"].as_str().unwrap_or_default();
        if ENDED.contains(&status) {
            return Ok(Json(ObjectResult {
                summary: format!(
                    "{} (already ended; nothing was changed)",
                    call_headline(&current)
                ),
                object: trim(&current, Kind::Call),
            }));
        }
        // Twilio hangs up an answered call with `completed` and withdraws one not yet
        // answered with `canceled`; the other value is refused in each state.
        let target = if status == "in-progress" {
            "completed"
        } else {
            "canceled"
        };
        if self.dry_run {
            return Ok(Json(ObjectResult {
                summary: format!(
                    "dry run (TWILIO_DRY_RUN): would set {} to {target}",
                    call_headline(&current)
                ),
                object: trim(&current, Kind::Call),
            }));
        }
        let request = Call::post(Host::Api, "end_call", path).param("Status", target);
        let ended = self
            .api()
            .send(&request)
            .await
            .map_err(super::twilio_error)?;
        mcp_common::audit::note("sid", sid);
        Ok(Json(ObjectResult {
            summary: call_headline(&ended),
            object: trim(&ended, Kind::Call),
        }))
    }
}
