//! What each send or hang-up would do, for the person asked to approve it: who is reached, from
//! which number, and what they get (with the SMS cost in segments); for a hang-up or a cancel,
//! the call or message as Twilio has it now.

use mcp_common::Previews;

use super::Twilio;
use super::calls::{EndCallArgs, MakeCallArgs};
use super::messages::{CancelMessageArgs, SendSmsArgs, SendWhatsappArgs};
use super::verify::{CheckVerificationArgs, StartVerificationArgs};
use crate::client::Host;
use crate::segments::Segments;
use crate::shape::{call_headline, message_headline};

/// Every write tool's preview.
pub(crate) fn all() -> Previews<Twilio> {
    Previews::new()
        .on("send_sms", Twilio::preview_send_sms)
        .on("send_whatsapp", Twilio::preview_send_whatsapp)
        .on("make_call", Twilio::preview_make_call)
        .on("start_verification", Twilio::preview_start_verification)
        .on("check_verification", Twilio::preview_check_verification)
        .on("end_call", Twilio::preview_end_call)
        .on("cancel_message", Twilio::preview_cancel_message)
}

/// Text quoted for a preview, cut at 300 characters.
fn quoted(text: &str) -> String {
    let mut shown: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        shown.push('…');
    }
    format!("{shown:?}")
}

impl Twilio {
    fn sender_label(&self, from: &Option<String>, service: &Option<String>) -> String {
        from.clone()
            .or_else(|| service.clone())
            .or_else(|| self.from_number.clone())
            .or_else(|| self.messaging_service_sid.clone())
            .unwrap_or_else(|| "no sender configured".into())
    }

    fn dry_run_note(&self) -> &'static str {
        if self.dry_run {
            " (dry run: TWILIO_DRY_RUN is on, nothing will be sent)"
        } else {
            ""
        }
    }

    async fn preview_send_sms(self, args: SendSmsArgs) -> Option<String> {
        let segments = Segments::of(&args.body);
        let media = match args.media_urls.as_ref().map(Vec::len) {
            Some(n) if n > 0 => format!(" with {n} attachment(s)"),
            _ => String::new(),
        };
        let when = args
            .send_at
            .as_ref()
            .map(|at| format!(", scheduled for {at}"))
            .unwrap_or_default();
        Some(format!(
            "send an SMS to {} from {}{media}{when}: {} ({}){}",
            args.to,
            self.sender_label(&args.from, &args.messaging_service_sid),
            quoted(&args.body),
            segments.describe(),
            self.dry_run_note()
        ))
    }

    async fn preview_send_whatsapp(self, args: SendWhatsappArgs) -> Option<String> {
        let content = match (&args.body, &args.content_sid) {
            (Some(body), _) => quoted(body),
            (None, Some(template)) => {
                let variables = args
                    .content_variables
                    .as_ref()
                    .map(|vars| {
                        vars.iter()
                            .map(|v| format!("{}={:?}", v.key, v.value))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .filter(|vars| !vars.is_empty())
                    .map(|vars| format!(" with {vars}"))
                    .unwrap_or_default();
                format!("the template {template}{variables}")
            }
            (None, None) => "nothing".into(),
        };
        Some(format!(
            "send a WhatsApp message to {} from {}: {content}{}",
            args.to,
            self.sender_label(&args.from, &args.messaging_service_sid),
            self.dry_run_note()
        ))
    }

    async fn preview_make_call(self, args: MakeCallArgs) -> Option<String> {
        let what = match (&args.say, &args.twiml, &args.url) {
            (Some(text), _, _) => format!("read out {}", quoted(text)),
            (None, Some(twiml), _) => format!("run the TwiML {}", quoted(twiml)),
            (None, None, Some(url)) => format!("run the TwiML that {url} returns"),
            _ => "do nothing (no instructions given)".into(),
        };
        Some(format!(
            "phone {} from {} and {what}{}",
            args.to,
            self.sender_label(&args.from, &None),
            self.dry_run_note()
        ))
    }

    async fn preview_start_verification(self, args: StartVerificationArgs) -> Option<String> {
        Some(format!(
            "send a verification code to {} by {:?}{}",
            args.to,
            args.channel,
            self.dry_run_note()
        ))
    }

    async fn preview_check_verification(self, args: CheckVerificationArgs) -> Option<String> {
        Some(format!(
            "check the code typed for {} (one of its 5 attempts; the code is not shown here)",
            args.to
        ))
    }

    async fn preview_end_call(self, args: EndCallArgs) -> Option<String> {
        let sid = args.call_sid.trim();
        let path = self.api().account_path(&format!("/Calls/{sid}.json"));
        let call = self.fetch(Host::Api, "preview", path).await.ok()?;
        let from = call["from"].as_str().unwrap_or("?");
        let since = call["start_time"]
            .as_str()
            .map(|t| format!(", started {t}"))
            .unwrap_or_default();
        Some(format!(
            "hang up {} (from {from}{since}){}",
            call_headline(&call),
            self.dry_run_note()
        ))
    }

    async fn preview_cancel_message(self, args: CancelMessageArgs) -> Option<String> {
        let sid = args.message_sid.trim();
        let path = self.api().account_path(&format!("/Messages/{sid}.json"));
        let message = self.fetch(Host::Api, "preview", path).await.ok()?;
        let body = message["body"].as_str().map(quoted).unwrap_or_default();
        Some(format!(
            "cancel {} {body}{}",
            message_headline(&message),
            self.dry_run_note()
        ))
    }
}
