//! Phone numbers: the account's own, and Lookup v2 of any number.

use mcp_common::{Json, ToolError};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ListResult, ObjectResult, Page, Twilio};
use crate::client::{Call, Host};
use crate::phone;
use crate::shape::Kind;

/// A number to look up.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LookupArgs {
    /// The number, E.164 (+14155552671), or national form with country_code
    pub phone_number: String,
    /// ISO country code (ES, US, GB…) for a number given in national form
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    /// Also ask for the line type and carrier (a paid Lookup package; default true)
    #[serde(default = "yes")]
    pub line_type: bool,
    /// Also ask for the registered caller name (a paid package, US numbers; default false)
    #[serde(default)]
    pub caller_name: bool,
}

fn yes() -> bool {
    true
}

/// Which of the account's numbers to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListNumbersArgs {
    /// Only numbers containing these digits
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// Paging
    #[serde(flatten)]
    pub page: Page,
}

/// The number's digits and `+` percent-encoded for the path.
fn path_segment(number: &str) -> String {
    number.replace('+', "%2B")
}

#[tool_router(router = number_tools, vis = "pub(crate)")]
impl Twilio {
    #[tool(
        description = "Look up a phone number with Twilio Lookup v2: whether it is valid, its E.164 and national formats, country, and (where the account has the packages) line type (mobile, landline, VoIP) and carrier, or caller name.",
        annotations(
            title = "Look up a phone number",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn lookup_phone_number(
        &self,
        Parameters(args): Parameters<LookupArgs>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let country = match &args.country_code {
            Some(code) => {
                let code = code.trim().to_ascii_uppercase();
                if code.len() != 2 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
                    return Err(ToolError::invalid(
                        "country_code",
                        "a two-letter ISO country code such as ES or US",
                    ));
                }
                Some(code)
            }
            None => None,
        };
        let number = match &country {
            // A national number: only its digits, checked by Twilio against the country.
            Some(_) => {
                let digits: String = args
                    .phone_number
                    .chars()
                    .filter(|c| c.is_ascii_digit() || *c == '+')
                    .collect();
                if digits.len() < 3 {
                    return Err(ToolError::invalid(
                        "phone_number",
                        "a phone number with its digits",
                    ));
                }
                digits
            }
            None => phone::e164("phone_number", &args.phone_number)?,
        };
        let mut fields = Vec::new();
        if args.line_type {
            fields.push("line_type_intelligence");
        }
        if args.caller_name {
            fields.push("caller_name");
        }
        let path = format!("/v2/PhoneNumbers/{}", path_segment(&number));
        let call = Call::get(Host::Lookups, "lookup_phone_number", path)
            .maybe("Fields", (!fields.is_empty()).then(|| fields.join(",")))
            .maybe("CountryCode", country);
        let found = self.api().send(&call).await.map_err(super::twilio_error)?;
        let valid = found["valid"].as_bool().unwrap_or(false);
        let line = &found["line_type_intelligence"];
        let mut object = json!({
            "phone_number": found["phone_number"],
            "valid": valid,
            "national_format": found["national_format"],
            "country_code": found["country_code"],
            "calling_country_code": found["calling_country_code"],
        });
        if let Some(errors) = found["validation_errors"]
            .as_array()
            .filter(|e| !e.is_empty())
        {
            object["validation_errors"] = Value::Array(errors.clone());
        }
        if line.is_object() {
            object["line_type"] = line["type"].clone();
            object["carrier"] = line["carrier_name"].clone();
        }
        if found["caller_name"].is_object() {
            object["caller_name"] = found["caller_name"]["caller_name"].clone();
            object["caller_type"] = found["caller_name"]["caller_type"].clone();
        }
        let summary = if valid {
            let kind = line["type"]
                .as_str()
                .map(|t| format!(", {t}"))
                .unwrap_or_default();
            let carrier = line["carrier_name"]
                .as_str()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            format!(
                "{} is valid: {} in {}{kind}{carrier}",
                found["phone_number"].as_str().unwrap_or(&number),
                found["national_format"].as_str().unwrap_or("?"),
                found["country_code"].as_str().unwrap_or("?"),
            )
        } else {
            let why = found["validation_errors"]
                .as_array()
                .map(|errors| {
                    errors
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .filter(|why| !why.is_empty())
                .unwrap_or_else(|| "no reason given".into());
            format!("{number} is not a valid phone number ({why})")
        };
        Ok(Json(ObjectResult { summary, object }))
    }

    #[tool(
        description = "List this account's own phone numbers and what each can do (voice, SMS, MMS, fax): the numbers send_sms, send_whatsapp and make_call can use as from.",
        annotations(
            title = "List the account's phone numbers",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn list_phone_numbers(
        &self,
        Parameters(args): Parameters<ListNumbersArgs>,
    ) -> Result<Json<ListResult>, ToolError> {
        let contains = match &args.contains {
            Some(digits) => {
                let digits: String = digits.chars().filter(|c| !c.is_whitespace()).collect();
                if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '+') {
                    return Err(ToolError::invalid(
                        "contains",
                        "digits of the number, e.g. 555",
                    ));
                }
                Some(digits)
            }
            None => None,
        };
        let page = self
            .list(
                "list_phone_numbers",
                "IncomingPhoneNumbers",
                "incoming_phone_numbers",
                Kind::PhoneNumber,
                &args.page,
                vec![("PhoneNumber", contains)],
            )
            .await?;
        Ok(Json(page))
    }
}
