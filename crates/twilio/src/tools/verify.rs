//! Verification codes through Twilio Verify: send one, check what the person typed.

use mcp_common::{Json, ToolError};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ObjectResult, Outgoing, SendResult, Twilio};
use crate::client::{Call, Host};
use crate::phone;

/// How the code reaches the person.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A text message (default)
    #[default]
    Sms,
    /// A voice call reading the code out
    Call,
    /// A WhatsApp message
    Whatsapp,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Call => "call",
            Channel::Whatsapp => "whatsapp",
        }
    }
}

/// A verification to start.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct StartVerificationArgs {
    /// The person's number, E.164
    pub to: String,
    /// sms (default), call or whatsapp
    #[serde(default)]
    pub channel: Channel,
    /// The language of the message, e.g. en, es, pt-BR (default: from the number's country)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Send a new code even though one went to this number within the duplicate window
    #[serde(default)]
    pub allow_duplicate: bool,
}

/// A code to check.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CheckVerificationArgs {
    /// The number the code was sent to, E.164
    pub to: String,
    /// The code the person typed (4 to 10 digits)
    pub code: String,
}

#[tool_router(router = verify_tools, vis = "pub(crate)")]
impl Twilio {
    #[tool(
        description = "Send a one-time verification code to a person by SMS, voice call or WhatsApp (Twilio Verify), to confirm they own the number; then check what they type with check_verification.",
        annotations(
            title = "Send a verification code",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn start_verification(
        &self,
        Parameters(args): Parameters<StartVerificationArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<SendResult>, ToolError> {
        let service = self.verify_service()?;
        let to = phone::e164("to", &args.to)?;
        if let Some(locale) = &args.locale {
            let valid = (2..=5).contains(&locale.len())
                && locale.chars().all(|c| c.is_ascii_alphabetic() || c == '-');
            if !valid {
                return Err(ToolError::invalid(
                    "locale",
                    "a language code such as en, es or pt-BR",
                ));
            }
        }
        let call = Call::post(
            Host::Verify,
            "start_verification",
            format!("/v2/Services/{service}/Verifications"),
        )
        .param("To", to.clone())
        .param("Channel", args.channel.as_str())
        .maybe("Locale", args.locale.clone());
        let outgoing = Outgoing {
            what: "verification",
            destination: to.clone(),
            to,
            from: None,
            content: vec![args.channel.as_str().to_owned()],
            allow_duplicate: args.allow_duplicate,
            segments: None,
            call,
            kind: None,
        };
        let mut result = self.deliver(outgoing, &context).await?;
        if let Some(object) = result.object.take() {
            result.object = Some(json!({
                "sid": object["sid"],
                "status": object["status"],
                "channel": object["channel"],
                "to": object["to"],
                "valid": object["valid"],
                "date_created": object["date_created"],
            }));
        }
        Ok(Json(result))
    }

    #[tool(
        description = "Check the code a person typed against the verification sent to their number: approved means the number is theirs; pending means the code was wrong (they may try again, up to 5 times).",
        annotations(
            title = "Check a verification code",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn check_verification(
        &self,
        Parameters(args): Parameters<CheckVerificationArgs>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let service = self.verify_service()?;
        let to = phone::e164("to", &args.to)?;
        let code = args.code.trim();
        if !(4..=10).contains(&code.len()) || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ToolError::invalid(
                "code",
                "the 4 to 10 character code the person received",
            ));
        }
        if self.dry_run {
            return Ok(Json(ObjectResult {
                summary: format!("dry run (TWILIO_DRY_RUN): the code for {to} was not checked"),
                object: json!({"to": to, "status": "not checked"}),
            }));
        }
        let call = Call::post(
            Host::Verify,
            "check_verification",
            format!("/v2/Services/{service}/VerificationCheck"),
        )
        .param("To", to.clone())
        .param("Code", code);
        let checked = self.api().send(&call).await.map_err(super::twilio_error)?;
        let status = checked["status"].as_str().unwrap_or("unknown");
        let summary = match status {
            "approved" => format!("the code is right: {to} is verified"),
            "pending" => format!("the code is wrong; the verification of {to} is still pending"),
            other => format!("the verification of {to} is {other}"),
        };
        Ok(Json(ObjectResult {
            summary,
            object: json!({
                "sid": checked["sid"],
                "status": status,
                "valid": checked["valid"],
                "to": checked["to"],
                "channel": checked["channel"],
            }),
        }))
    }
}

impl Twilio {
    fn verify_service(&self) -> Result<String, ToolError> {
        // `withheld` hides both tools without a service; this is the same refusal for a call
        // that arrives anyway.
        self.verify_service_sid.clone().ok_or_else(|| {
            ToolError::Refused("verification needs TWILIO_VERIFY_SERVICE_SID (VA…)".into())
        })
    }
}
