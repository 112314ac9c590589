//! Messages: read, list, send (SMS, MMS, WhatsApp), cancel a scheduled one.

use mcp_common::{Json, ToolError};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ListResult, ObjectResult, Outgoing, Page, SendResult, Twilio, date_of, sid_of};
use crate::client::{Call, Host};
use crate::phone;
use crate::segments::{MAX_BODY_CHARS, Segments};
use crate::shape::{Kind, message_headline, trim};

/// Message SIDs start SM (SMS, WhatsApp) or MM (MMS).
pub(crate) const MESSAGE_PREFIXES: [&str; 2] = ["SM", "MM"];

/// One message.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct GetMessageArgs {
    /// The message's SID (SM… or MM…)
    pub message_sid: String,
}

/// Which messages to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListMessagesArgs {
    /// Only messages to this number (E.164; whatsapp:+… for WhatsApp)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Only messages from this number
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Only messages sent on or after this date (YYYY-MM-DD or ISO 8601)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_after: Option<String>,
    /// Only messages sent before this date (YYYY-MM-DD or ISO 8601)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_before: Option<String>,
    /// Paging
    #[serde(flatten)]
    pub page: Page,
}

/// An SMS (or MMS, with media) to send.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SendSmsArgs {
    /// The recipient in E.164 form, e.g. +14155552671
    pub to: String,
    /// The text, at most 1600 characters (longer texts are split into segments, each billed)
    pub body: String,
    /// The sender number (E.164) from this account; default TWILIO_FROM_NUMBER
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// A Messaging Service (MG…) to send from instead of a number
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_service_sid: Option<String>,
    /// Public URLs of images or files to attach (MMS), at most 10
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_urls: Option<Vec<String>>,
    /// Schedule it for this time (ISO 8601, 15 minutes to 35 days ahead); needs a Messaging Service
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at: Option<String>,
    /// A URL Twilio calls with each status change (queued, sent, delivered, failed)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_callback: Option<String>,
    /// Send even though an identical message went to this number within the duplicate window
    #[serde(default)]
    pub allow_duplicate: bool,
}

/// One template variable, e.g. key "1", value "Ana".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TemplateVariable {
    /// The placeholder's name in the template, e.g. "1" for {{1}}
    pub key: String,
    /// Its value
    pub value: String,
}

/// A WhatsApp message to send: free text, or an approved template.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SendWhatsappArgs {
    /// The recipient's WhatsApp number in E.164 form, e.g. +34612345678 (without whatsapp:)
    pub to: String,
    /// Free text; only allowed within 24 hours of the person's last message to you
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// An approved template's Content SID (HX…), needed outside the 24-hour window
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_sid: Option<String>,
    /// The template's variables
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_variables: Option<Vec<TemplateVariable>>,
    /// The WhatsApp sender number (E.164); default TWILIO_FROM_NUMBER
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// A Messaging Service (MG…) with a WhatsApp sender, instead of a number
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_service_sid: Option<String>,
    /// Send even though an identical message went to this number within the duplicate window
    #[serde(default)]
    pub allow_duplicate: bool,
}

/// A scheduled message to cancel.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CancelMessageArgs {
    /// The scheduled message's SID (SM…)
    pub message_sid: String,
}

fn url_of(field: &str, value: &str) -> Result<String, ToolError> {
    let value = value.trim();
    if (value.starts_with("https://") || value.starts_with("http://"))
        && value.len() > 8
        && !value.contains(char::is_whitespace)
    {
        Ok(value.to_owned())
    } else {
        Err(ToolError::invalid(
            field,
            "a public http:// or https:// URL",
        ))
    }
}

/// The form fields of an SMS, checked, and its segments.
pub(crate) fn sms_request<'a>(
    twilio: &Twilio,
    path: String,
    args: &SendSmsArgs,
) -> Result<(Call<'a>, String, String, Segments), ToolError> {
    let to = phone::e164("to", &args.to)?;
    let segments = Segments::of(&args.body);
    if args.body.trim().is_empty() && args.media_urls.as_ref().is_none_or(Vec::is_empty) {
        return Err(ToolError::invalid("body", "the text to send"));
    }
    if !segments.fits() {
        return Err(ToolError::invalid(
            "body",
            format!(
                "at most {MAX_BODY_CHARS} characters (this one has {})",
                segments.characters
            ),
        ));
    }
    let (sender_field, sender) = twilio.sender(
        &args.from,
        &args.messaging_service_sid,
        false,
        args.send_at.is_some(),
    )?;
    let mut call = Call::post(Host::Api, "send_sms", path)
        .param("To", to.clone())
        .param("Body", args.body.clone())
        .param(sender_field, sender.clone());
    if let Some(urls) = &args.media_urls {
        if urls.len() > 10 {
            return Err(ToolError::invalid("media_urls", "at most 10 URLs"));
        }
        for url in urls {
            call = call.param("MediaUrl", url_of("media_urls", url)?);
        }
    }
    if let Some(at) = &args.send_at {
        let at = date_of("send_at", &Some(at.clone()))?.unwrap_or_default();
        if !at.contains('T') {
            return Err(ToolError::invalid(
                "send_at",
                "an ISO 8601 date-time with a time zone, such as 2026-03-01T09:00:00Z",
            ));
        }
        if sender_field != "MessagingServiceSid" {
            return Err(ToolError::invalid(
                "messaging_service_sid",
                "a Messaging Service (MG…): Twilio schedules messages only through one (or set TWILIO_MESSAGING_SERVICE_SID)",
            ));
        }
        call = call.param("ScheduleType", "fixed").param("SendAt", at);
    }
    if let Some(callback) = &args.status_callback {
        call = call.param("StatusCallback", url_of("status_callback", callback)?);
    }
    Ok((call, to, sender, segments))
}

#[tool_router(router = message_tools, vis = "pub(crate)")]
impl Twilio {
    #[tool(
        description = "Get one message by SID (SM…/MM…): status (queued, sent, delivered, undelivered, failed, scheduled, canceled), to, from, body, segments, price and any error code.",
        annotations(title = "Get a message", read_only_hint = true, open_world_hint = true)
    )]
    async fn get_message(
        &self,
        Parameters(args): Parameters<GetMessageArgs>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let sid = sid_of("message_sid", &args.message_sid, &MESSAGE_PREFIXES)?;
        let path = self.api().account_path(&format!("/Messages/{sid}.json"));
        let message = self.fetch(Host::Api, "get_message", path).await?;
        Ok(Json(ObjectResult {
            summary: message_headline(&message),
            object: trim(&message, Kind::Message),
        }))
    }

    #[tool(
        description = "List the account's messages, newest first, optionally only to or from one number and sent within a date range; page with next_page.",
        annotations(title = "List messages", read_only_hint = true, open_world_hint = true)
    )]
    async fn list_messages(
        &self,
        Parameters(args): Parameters<ListMessagesArgs>,
    ) -> Result<Json<ListResult>, ToolError> {
        let filters = vec![
            ("To", args.to.clone()),
            ("From", args.from.clone()),
            ("DateSent>", date_of("sent_after", &args.sent_after)?),
            ("DateSent<", date_of("sent_before", &args.sent_before)?),
        ];
        let page = self
            .list(
                "list_messages",
                "Messages",
                "messages",
                Kind::Message,
                &args.page,
                filters,
            )
            .await?;
        Ok(Json(page))
    }

    #[tool(
        description = "Send an SMS (or an MMS with media_urls) to a phone number. The result gives the encoding (GSM-7 or UCS-2) and billed segments. Never repeated by the server; an identical send within the duplicate window is refused unless allow_duplicate is true.",
        annotations(
            title = "Send an SMS",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn send_sms(
        &self,
        Parameters(args): Parameters<SendSmsArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<SendResult>, ToolError> {
        let path = self.api().account_path("/Messages.json");
        let (call, to, from, segments) = sms_request(self, path, &args)?;
        let mut content = vec![args.body.clone()];
        content.extend(args.media_urls.clone().unwrap_or_default());
        let outgoing = Outgoing {
            what: "SMS",
            destination: to.clone(),
            to,
            from: Some(from),
            content,
            allow_duplicate: args.allow_duplicate,
            segments: Some(segments),
            call,
            kind: Some(Kind::Message),
        };
        Ok(Json(self.deliver(outgoing, &context).await?))
    }

    #[tool(
        description = "Send a WhatsApp message: free text (body) within 24 hours of the person's last message, or an approved template (content_sid with content_variables) at any time. Never repeated by the server; an identical send within the duplicate window is refused unless allow_duplicate is true.",
        annotations(
            title = "Send a WhatsApp message",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn send_whatsapp(
        &self,
        Parameters(args): Parameters<SendWhatsappArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<SendResult>, ToolError> {
        let number = phone::e164("to", &args.to)?;
        let to = phone::whatsapp(&number);
        let (sender_field, sender) =
            self.sender(&args.from, &args.messaging_service_sid, true, false)?;
        let mut call = Call::post(
            Host::Api,
            "send_whatsapp",
            self.api().account_path("/Messages.json"),
        )
        .param("To", to.clone())
        .param(sender_field, sender.clone());
        let content = match (&args.body, &args.content_sid) {
            (Some(body), None) => {
                if body.trim().is_empty() {
                    return Err(ToolError::invalid("body", "the text to send"));
                }
                if body.chars().count() > MAX_BODY_CHARS {
                    return Err(ToolError::invalid(
                        "body",
                        format!("at most {MAX_BODY_CHARS} characters"),
                    ));
                }
                if args.content_variables.is_some() {
                    return Err(ToolError::invalid(
                        "content_variables",
                        "no variables with free text: they fill a template given as content_sid",
                    ));
                }
                call = call.param("Body", body.clone());
                vec![body.clone()]
            }
            (None, Some(template)) => {
                let template = sid_of("content_sid", template, &["HX"])?;
                let variables = variables_json(&args.content_variables)?;
                call = call
                    .param("ContentSid", template.clone())
                    .maybe("ContentVariables", variables.clone());
                vec![template, variables.unwrap_or_default()]
            }
            _ => {
                return Err(ToolError::invalid(
                    "body",
                    "either `body` (free text) or `content_sid` (a template), not both and not neither",
                ));
            }
        };
        let outgoing = Outgoing {
            what: "WhatsApp message",
            destination: number,
            to,
            from: Some(sender),
            content,
            allow_duplicate: args.allow_duplicate,
            segments: None,
            call,
            kind: Some(Kind::Message),
        };
        Ok(Json(self.deliver(outgoing, &context).await?))
    }

    #[tool(
        description = "Cancel a scheduled message (status scheduled) before it is sent. A message already queued or sent cannot be canceled.",
        annotations(
            title = "Cancel a scheduled message",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cancel_message(
        &self,
        Parameters(args): Parameters<CancelMessageArgs>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let sid = sid_of("message_sid", &args.message_sid, &MESSAGE_PREFIXES)?;
        let path = self.api().account_path(&format!("/Messages/{sid}.json"));
        if self.dry_run {
            let message = self.fetch(Host::Api, "get_message", path).await?;
            return Ok(Json(ObjectResult {
                summary: format!(
                    "dry run (TWILIO_DRY_RUN): would cancel {}",
                    message_headline(&message)
                ),
                object: trim(&message, Kind::Message),
            }));
        }
        let call = Call::post(Host::Api, "cancel_message", path).param("Status", "canceled");
        let message = self.api().send(&call).await.map_err(super::twilio_error)?;
        mcp_common::audit::note("sid", sid);
        Ok(Json(ObjectResult {
            summary: message_headline(&message),
            object: trim(&message, Kind::Message),
        }))
    }
}

/// `{"1": "Ana", "2": "12:00"}` as Twilio's ContentVariables takes it.
fn variables_json(variables: &Option<Vec<TemplateVariable>>) -> Result<Option<String>, ToolError> {
    let Some(variables) = variables else {
        return Ok(None);
    };
    let mut object = serde_json::Map::new();
    for TemplateVariable { key, value } in variables {
        if key.trim().is_empty() {
            return Err(ToolError::invalid(
                "content_variables",
                "a non-empty key for every variable",
            ));
        }
        if object.insert(key.clone(), value.clone().into()).is_some() {
            return Err(ToolError::invalid(
                "content_variables",
                format!("each key once; `{key}` is given twice"),
            ));
        }
    }
    Ok(Some(serde_json::Value::Object(object).to_string()))
}
