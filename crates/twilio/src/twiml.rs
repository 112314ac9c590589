//! TwiML, the XML Twilio runs for a call: built from a text to say, or checked when given.

use mcp_common::ToolError;

/// Twilio refuses inline TwiML longer than this (error 21230 "Twiml too long").
pub const MAX_TWIML_BYTES: usize = 4000;

/// `<Response><Say>text</Say></Response>`, with the text escaped and an optional voice and
/// language (e.g. `Polly.Lucia`, `es-ES`).
pub fn say(text: &str, voice: Option<&str>, language: Option<&str>) -> String {
    let mut attributes = String::new();
    if let Some(voice) = voice {
        attributes.push_str(&format!(" voice=\"{}\"", escape(voice)));
    }
    if let Some(language) = language {
        attributes.push_str(&format!(" language=\"{}\"", escape(language)));
    }
    format!(
        "<Response><Say{attributes}>{}</Say></Response>",
        escape(text)
    )
}

/// Checks TwiML given as text: a `<Response>` document within Twilio's size limit.
pub fn check(field: &str, twiml: &str) -> Result<String, ToolError> {
    let trimmed = twiml.trim();
    let body = trimmed
        .strip_prefix("<?xml")
        .and_then(|rest| rest.split_once("?>").map(|(_, rest)| rest.trim_start()))
        .unwrap_or(trimmed);
    let is_response =
        body.starts_with("<Response") && (body.ends_with("</Response>") || body.ends_with("/>"));
    if !is_response {
        return Err(ToolError::invalid(
            field,
            "TwiML: an XML document whose root is <Response>, e.g. <Response><Say>Hello</Say></Response>",
        ));
    }
    if trimmed.len() > MAX_TWIML_BYTES {
        return Err(ToolError::invalid(
            field,
            format!(
                "TwiML of at most {MAX_TWIML_BYTES} bytes (this is {}); host longer TwiML at a URL and pass `url`",
                trimmed.len()
            ),
        ));
    }
    Ok(trimmed.to_owned())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn say_is_escaped_and_given_twiml_checked() {
        assert_eq!(
            say("Tom & <Jerry>", Some("Polly.Lucia"), Some("es-ES")),
            "<Response><Say voice=\"Polly.Lucia\" language=\"es-ES\">Tom &amp; &lt;Jerry&gt;</Say></Response>"
        );
        assert!(check("twiml", "<Response><Hangup/></Response>").is_ok());
        assert!(
            check(
                "twiml",
                "<?xml version=\"1.0\"?>\n<Response><Say>Hi</Say></Response>"
            )
            .is_ok()
        );
        assert!(
            check("twiml", "<Say>Hi</Say>")
                .unwrap_err()
                .message()
                .contains("`twiml`")
        );
        let long = format!("<Response><Say>{}</Say></Response>", "a".repeat(4000));
        assert!(
            check("twiml", &long)
                .unwrap_err()
                .message()
                .contains("at most 4000 bytes")
        );
    }
}
