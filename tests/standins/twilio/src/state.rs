//! In-memory data: messages, calls, incoming numbers and verifications of the one account, with the seed.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, Hasher as _};

use serde_json::{Value, json};

use crate::time::{now, rfc2822};
use crate::{ACCOUNT_SID, FROM_NUMBER, WHATSAPP_OPEN_RECIPIENT};

/// The REST 2010 version every object carries.
pub const API_VERSION: &str = "2010-04-01";

/// The SID of the seeded voice-only Spanish number.
pub const SPANISH_NUMBER: &str = "+34910000000";

/// A message or call as answered, plus the instants lists filter on.
#[derive(Debug, Clone)]
pub struct Record {
    /// The object exactly as the API answers it.
    pub json: Value,
    /// When it was sent (messages) or started (calls), Unix seconds.
    pub at: Option<i64>,
    /// When a call ended, Unix seconds.
    pub ended: Option<i64>,
}

impl Record {
    /// The `sid` member.
    pub fn sid(&self) -> &str {
        self.json["sid"].as_str().unwrap_or_default()
    }

    /// A string member (empty when null).
    pub fn text(&self, key: &str) -> &str {
        self.json[key].as_str().unwrap_or_default()
    }
}

/// One Verify verification.
#[derive(Debug, Clone)]
pub struct Verification {
    /// `VE…`.
    pub sid: String,
    /// The service.
    pub service_sid: String,
    /// Recipient (E.164 or e-mail).
    pub to: String,
    /// `sms`, `call`, `email`, `whatsapp`, `sna`.
    pub channel: String,
    /// `pending`, `approved`, `canceled`, `max_attempts_reached`, `expired`.
    pub status: String,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds.
    pub updated: i64,
    /// (attempt sid, channel, time).
    pub attempts: Vec<(String, String, i64)>,
    /// Wrong codes checked so far.
    pub wrong_checks: u32,
}

/// Everything the stand-in holds.
#[derive(Debug)]
pub struct Inner {
    /// Messages in creation order.
    pub messages: Vec<Record>,
    /// Calls in creation order.
    pub calls: Vec<Record>,
    /// The account's incoming phone numbers, as answered.
    pub numbers: Vec<Value>,
    /// Verifications in creation order.
    pub verifications: Vec<Verification>,
    /// Send times per Verify recipient (for the 5-per-10-minutes limit).
    pub verify_sends: HashMap<String, Vec<i64>>,
    /// WhatsApp recipients (`whatsapp:+…`) and when they last messaged in.
    pub whatsapp_inbound: HashMap<String, i64>,
    /// Objects created through the API since the last reset, per resource.
    pub created: HashMap<String, usize>,
    /// Messages created through the API: (sid, ContentSid, ContentVariables).
    pub api_messages: Vec<(String, Option<String>, Option<String>)>,
    sequence: u64,
    hasher: std::collections::hash_map::RandomState,
}

/// `true` when `sid` is `prefix` followed by 32 lowercase or uppercase hex digits.
pub fn is_sid(sid: &str, prefix: &str) -> bool {
    sid.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Inner {
    /// Freshly seeded data.
    pub fn fresh() -> Inner {
        let mut inner = Inner {
            messages: Vec::new(),
            calls: Vec::new(),
            numbers: Vec::new(),
            verifications: Vec::new(),
            verify_sends: HashMap::new(),
            whatsapp_inbound: HashMap::new(),
            created: HashMap::new(),
            api_messages: Vec::new(),
            sequence: 0,
            hasher: std::collections::hash_map::RandomState::new(),
        };
        seed(&mut inner);
        inner
    }

    /// A new SID: `prefix` + 32 lowercase hex digits, unique in this process.
    pub fn sid(&mut self, prefix: &str) -> String {
        self.sequence += 1;
        let mut first = self.hasher.build_hasher();
        first.write_u64(self.sequence);
        let mut second = self.hasher.build_hasher();
        second.write_u64(self.sequence ^ 0x9e37_79b9_7f4a_7c15);
        format!("{prefix}{:016x}{:016x}", first.finish(), second.finish())
    }

    /// Counts one object created through the API.
    pub fn count_created(&mut self, resource: &str) {
        *self.created.entry(resource.to_string()).or_insert(0) += 1;
    }

    /// The incoming number object for `number` (E.164), if the account owns it.
    pub fn number(&self, number: &str) -> Option<&Value> {
        self.numbers.iter().find(|n| n["phone_number"] == number)
    }
}

/// The `uri` of an account's resource.
pub fn account_uri(rest: &str) -> String {
    format!("/{API_VERSION}/Accounts/{ACCOUNT_SID}/{rest}")
}

/// An incoming phone number object with every spec property.
pub fn incoming_number(
    sid: &str,
    number: &str,
    friendly: &str,
    voice: bool,
    sms: bool,
    mms: bool,
    created: i64,
) -> Value {
    json!({
        "account_sid": ACCOUNT_SID,
        "address_sid": null,
        "address_requirements": "none",
        "api_version": API_VERSION,
        "beta": false,
        "capabilities": {"voice": voice, "sms": sms, "mms": mms, "fax": false},
        "date_created": rfc2822(created),
        "date_updated": rfc2822(created),
        "friendly_name": friendly,
        "identity_sid": null,
        "phone_number": number,
        "origin": "twilio",
        "sid": sid,
        "sms_application_sid": "",
        "sms_fallback_method": "POST",
        "sms_fallback_url": "",
        "sms_method": "POST",
        "sms_url": if sms { "https://demo.twilio.com/welcome/sms/reply" } else { "" },
        "status_callback": "",
        "status_callback_method": "POST",
        "trunk_sid": null,
        "uri": account_uri(&format!("IncomingPhoneNumbers/{sid}.json")),
        "voice_receive_mode": "voice",
        "voice_application_sid": null,
        "voice_caller_id_lookup": false,
        "voice_fallback_method": "POST",
        "voice_fallback_url": null,
        "voice_method": "POST",
        "voice_url": "https://demo.twilio.com/welcome/voice/",
        "emergency_status": "Inactive",
        "emergency_address_sid": null,
        "emergency_address_status": "unregistered",
        "bundle_sid": null,
        "status": "in-use",
        "subresource_uris": {
            "assigned_add_ons": account_uri(&format!("IncomingPhoneNumbers/{sid}/AssignedAddOns.json")),
        },
    })
}

fn seed(inner: &mut Inner) {
    let now = now();
    let day = 86_400;
    inner.numbers.push(incoming_number(
        "PN00000000000000000000000000000001",
        FROM_NUMBER,
        "(501) 712-2661",
        true,
        true,
        true,
        now - 90 * day,
    ));
    inner.numbers.push(incoming_number(
        "PN00000000000000000000000000000002",
        SPANISH_NUMBER,
        "Madrid office",
        true,
        false,
        false,
        now - 60 * day,
    ));

    let shipped = crate::rest::message_json(&crate::rest::NewMessage {
        sid: "SM00000000000000000000000000000001".into(),
        to: "+15558675310".into(),
        from: Some(FROM_NUMBER.into()),
        body: "Your order has shipped".into(),
        messaging_service_sid: None,
        status: "delivered".into(),
        direction: "outbound-api",
        created: now - 2 * day,
        num_media: 0,
    });
    let mut shipped = shipped;
    shipped["date_sent"] = json!(rfc2822(now - 2 * day + 1));
    shipped["price"] = json!("-0.00790");
    inner.messages.push(Record {
        json: shipped,
        at: Some(now - 2 * day + 1),
        ended: None,
    });
    let mut reply = crate::rest::message_json(&crate::rest::NewMessage {
        sid: "SM00000000000000000000000000000002".into(),
        to: FROM_NUMBER.into(),
        from: Some("+15558675310".into()),
        body: "Thanks! When will it arrive?".into(),
        messaging_service_sid: None,
        status: "received".into(),
        direction: "inbound",
        created: now - 2 * day + 600,
        num_media: 0,
    });
    reply["date_sent"] = json!(rfc2822(now - 2 * day + 600));
    reply["price"] = json!("-0.00790");
    inner.messages.push(Record {
        json: reply,
        at: Some(now - 2 * day + 600),
        ended: None,
    });
    let mut inbound = crate::rest::message_json(&crate::rest::NewMessage {
        sid: "SM00000000000000000000000000000003".into(),
        to: format!("whatsapp:{FROM_NUMBER}"),
        from: Some(WHATSAPP_OPEN_RECIPIENT.into()),
        body: "Hola, ¿tenéis cita mañana?".into(),
        messaging_service_sid: None,
        status: "received".into(),
        direction: "inbound",
        created: now - 3600,
        num_media: 0,
    });
    inbound["date_sent"] = json!(rfc2822(now - 3600));
    inner.messages.push(Record {
        json: inbound,
        at: Some(now - 3600),
        ended: None,
    });
    inner
        .whatsapp_inbound
        .insert(WHATSAPP_OPEN_RECIPIENT.to_string(), now - 3600);

    let start = now - day;
    let mut call = crate::rest::call_json(
        "CA00000000000000000000000000000001",
        "+15558675310",
        FROM_NUMBER,
        "PN00000000000000000000000000000001",
        start - 5,
    );
    call["status"] = json!("completed");
    call["start_time"] = json!(rfc2822(start));
    call["end_time"] = json!(rfc2822(start + 42));
    call["duration"] = json!("42");
    call["price"] = json!("-0.01300");
    inner.calls.push(Record {
        json: call,
        at: Some(start),
        ended: Some(start + 42),
    });
}
