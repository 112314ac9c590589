//! mcp-twilio end to end: the real binary over stdio against the Twilio stand-in
//! (`tests/standins/twilio`) served in process on a loopback port, with faults injected where a
//! real network would lose answers. The point of most tests: nothing reaches a person without
//! consent, and nothing reaches them twice.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::path::Path;

use mcp_conformance::StdioServer;
use serde_json::json;
use standin_kit::Hosted;
use twilio_standin::{ACCOUNT_SID, AppState, FROM_NUMBER, VERIFICATION_CODE, VERIFY_SERVICE_SID};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-twilio");
const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const CUSTOMER: &str = "+15558675310";

/// The stand-in on its own runtime while the test thread drives the server.
type Stand = Hosted<AppState>;

fn messages_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
}

fn server(stand: &Stand, extra: &[(&str, &str)]) -> StdioServer {
    let url = stand.url();
    let env = [
        ("TWILIO_ACCOUNT_SID", ACCOUNT_SID),
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("TWILIO_FROM_NUMBER", FROM_NUMBER),
        ("TWILIO_VERIFY_SERVICE_SID", VERIFY_SERVICE_SID),
        ("TWILIO_API_URL", url.as_str()),
        ("TWILIO_LOOKUPS_URL", url.as_str()),
        ("TWILIO_VERIFY_URL", url.as_str()),
        ("TWILIO_TIMEOUT_SECS", "2"),
        ("MCP_AUDIT_LOG", "stderr"),
    ];
    StdioServer::started(Path::new(BIN), &env, extra)
}

#[test]
fn an_sms_needs_consent_is_sent_once_and_an_identical_one_is_refused() {
    let stand = Stand::start(twilio_standin::spawn);
    let mut server = server(&stand, &[]);
    let sms = json!({"to": CUSTOMER, "body": "Your table is ready"});

    let refused = server.call_err("send_sms", sms.clone());
    assert!(refused.contains("needs the user's consent"), "{refused}");
    // The refusal shows who would be reached, from where, what, and what it costs.
    assert!(
        refused.contains(CUSTOMER)
            && refused.contains(FROM_NUMBER)
            && refused.contains("\"Your table is ready\"")
            && refused.contains("1 segment, GSM-7, 19 characters"),
        "{refused}"
    );
    assert_eq!(stand.state().count("messages"), 0);
    assert_eq!(stand.calls(&format!("POST {}", messages_path())), 0);

    let mut confirmed = sms.clone();
    confirmed["confirm"] = json!(true);
    let sent = server.call_ok("send_sms", confirmed.clone());
    assert_eq!(sent["outcome"], "sent");
    assert!(sent["sid"].as_str().unwrap().starts_with("SM"), "{sent}");
    assert_eq!(sent["segments"]["encoding"], "GSM-7");
    assert_eq!(stand.state().count("messages"), 1);

    // The agent lost track and sends it again: refused, with the first message named.
    let again = server.call_err("send_sms", confirmed.clone());
    assert!(
        again.contains("was sent")
            && again.contains(sent["sid"].as_str().unwrap())
            && again.contains("allow_duplicate"),
        "{again}"
    );
    assert_eq!(stand.state().count("messages"), 1);

    // Meant on purpose: sent.
    let mut on_purpose = confirmed;
    on_purpose["allow_duplicate"] = json!(true);
    assert_eq!(server.call_ok("send_sms", on_purpose)["outcome"], "sent");
    assert_eq!(stand.state().count("messages"), 2);

    // The audit line of the send names the message, and only the message.
    let stderr = server.stderr();
    assert!(stderr.contains(sent["sid"].as_str().unwrap()), "{stderr}");
    assert!(
        !stderr.contains(TOKEN),
        "the auth token leaked into the logs"
    );
}

#[test]
fn a_send_whose_answer_is_lost_is_reported_unknown_and_never_resent() {
    let stand = Stand::start(twilio_standin::spawn);
    let mut server = server(&stand, &[]);
    // Twilio accepts the message, then the answer never comes (a timeout) or the connection is
    // reset before it does.
    for (round, mode) in ["hang_after", "drop_after"].into_iter().enumerate() {
        let body = format!("Payment {round} received, thanks");
        let posts = stand.calls(&format!("POST {}", messages_path()));
        let messages = stand.state().count("messages");
        stand.control(
            "fault",
            json!({"mode": mode, "path": messages_path(), "count": 1}),
        );
        let arguments = json!({"to": CUSTOMER, "body": body, "confirm": true});
        let lost = server.call_ok("send_sms", arguments.clone());
        assert_eq!(lost["outcome"], "unknown", "{mode}: {lost}");
        let summary = lost["summary"].as_str().unwrap();
        assert!(
            summary.contains("may or may not have been sent")
                && summary.contains("list_messages")
                && summary.contains("not retried"),
            "{mode}: {summary}"
        );
        // Exactly one request reached Twilio, and exactly one message exists.
        assert_eq!(
            stand.calls(&format!("POST {}", messages_path())),
            posts + 1,
            "{mode}"
        );
        assert_eq!(stand.state().count("messages"), messages + 1, "{mode}");

        // Trying again at once is refused as a possible duplicate; the log shows it was sent.
        let again = server.call_err("send_sms", arguments);
        assert!(again.contains("outcome is unknown"), "{mode}: {again}");
        assert_eq!(stand.state().count("messages"), messages + 1, "{mode}");
        let listed = server.call_ok("list_messages", json!({"to": CUSTOMER}));
        let bodies: Vec<&str> = listed["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["body"].as_str())
            .collect();
        assert!(bodies.contains(&body.as_str()), "{mode}: {listed}");
    }
}

#[test]
fn a_rate_limited_send_is_resent_because_twilio_did_nothing_but_a_failing_one_is_not() {
    let stand = Stand::start(twilio_standin::spawn);
    let mut server = server(&stand, &[]);
    stand.control(
        "fault",
        json!({"mode": "status", "status": 429, "retry_after": 1, "path": messages_path(), "count": 1}),
    );
    let sent = server.call_ok(
        "send_sms",
        json!({"to": CUSTOMER, "body": "Rate limited once", "confirm": true}),
    );
    assert_eq!(sent["outcome"], "sent");
    assert_eq!(stand.calls(&format!("POST {}", messages_path())), 2);
    assert_eq!(stand.state().count("messages"), 1);

    // A 500 may come after Twilio acted: sent at most once, reported as unknown.
    stand.control(
        "fault",
        json!({"mode": "status", "status": 500, "path": messages_path(), "count": 3}),
    );
    let failing = server.call_ok(
        "send_sms",
        json!({"to": CUSTOMER, "body": "Server error", "confirm": true}),
    );
    assert_eq!(failing["outcome"], "unknown", "{failing}");
    assert_eq!(stand.calls(&format!("POST {}", messages_path())), 3);
}

#[test]
fn bad_numbers_and_disallowed_destinations_are_refused_before_anything_is_sent() {
    let stand = Stand::start(twilio_standin::spawn);
    let mut server = server(
        &stand,
        &[("TWILIO_ALLOWED_DESTINATIONS", "+34,+1555,+1500555")],
    );
    let bad = server.call_err(
        "send_sms",
        json!({"to": "612 34 56 78", "body": "hi", "confirm": true}),
    );
    assert!(
        bad.contains("`to`") && bad.contains("E.164") && bad.contains("+14155552671"),
        "{bad}"
    );

    let outside = server.call_err(
        "send_sms",
        json!({"to": "+4930123456", "body": "hi", "confirm": true}),
    );
    assert!(
        outside.contains("not an allowed destination") && outside.contains("+34, +1555, +1500555"),
        "{outside}"
    );
    let call = server.call_err(
        "make_call",
        json!({"to": "+4930123456", "say": "hi", "confirm": true}),
    );
    assert!(call.contains("not an allowed destination"), "{call}");
    assert_eq!(stand.state().count("messages"), 0);
    assert_eq!(stand.state().count("calls"), 0);

    // Inside the list: sent.
    let sent = server.call_ok(
        "send_sms",
        json!({"to": "+34612345678", "body": "hola", "confirm": true}),
    );
    assert_eq!(sent["outcome"], "sent");

    // Twilio's own refusals come back as sentences with the code and its page.
    let unsubscribed = server.call_err(
        "send_sms",
        json!({"to": "+15005550004", "body": "hi", "confirm": true}),
    );
    assert!(
        unsubscribed.contains("21610")
            && unsubscribed.contains("https://www.twilio.com/docs/errors/21610")
            && unsubscribed.contains("START"),
        "{unsubscribed}"
    );
    // A refused send is not a duplicate: it was never sent.
    let again = server.call_err(
        "send_sms",
        json!({"to": "+15005550004", "body": "hi", "confirm": true}),
    );
    assert!(again.contains("21610"), "{again}");
}

#[test]
fn a_dry_run_sends_nothing_and_shows_the_segments() {
    let stand = Stand::start(twilio_standin::spawn);
    let mut server = server(&stand, &[("TWILIO_DRY_RUN", "true")]);
    let body = "Recordatorio: su cita es mañana a las 10:00. Responda SÍ para confirmar 👍";
    let shown = server.call_ok(
        "send_sms",
        json!({"to": CUSTOMER, "body": body, "confirm": true}),
    );
    assert_eq!(shown["outcome"], "dry_run");
    assert_eq!(shown["segments"]["encoding"], "UCS-2");
    assert_eq!(shown["segments"]["segments"], 2);
    assert_eq!(shown["request"]["To"], CUSTOMER);
    assert_eq!(shown["request"]["Body"], body);
    let call = server.call_ok(
        "make_call",
        json!({"to": CUSTOMER, "say": "Hello", "confirm": true}),
    );
    assert_eq!(call["outcome"], "dry_run");
    assert!(
        call["request"]["Twiml"]
            .as_str()
            .unwrap()
            .contains("<Say>Hello</Say>")
    );
    assert_eq!(stand.state().count("messages"), 0);
    assert_eq!(stand.state().count("calls"), 0);
    assert_eq!(stand.calls(&format!("POST {}", messages_path())), 0);
}

#[test]
fn whatsapp_free_text_needs_the_window_and_templates_do_not() {
    let stand = Stand::start(twilio_standin::spawn);
    let mut server = server(&stand, &[]);
    let inside = twilio_standin::WHATSAPP_OPEN_RECIPIENT.trim_start_matches("whatsapp:");
    let sent = server.call_ok(
        "send_whatsapp",
        json!({"to": inside, "body": "Hola Ana", "confirm": true}),
    );
    assert_eq!(sent["outcome"], "sent");
    assert_eq!(sent["to"], format!("whatsapp:{inside}"));

    let outside = server.call_err(
        "send_whatsapp",
        json!({"to": "+34600000099", "body": "Hola", "confirm": true}),
    );
    assert!(
        outside.contains("63016") && outside.contains("content_sid"),
        "{outside}"
    );

    let template = server.call_ok(
        "send_whatsapp",
        json!({
            "to": "+34600000099",
            "content_sid": "HX0123456789abcdef0123456789abcdef",
            "content_variables": [{"key": "1", "value": "Ana"}, {"key": "2", "value": "10:00"}],
            "confirm": true
        }),
    );
    assert_eq!(template["outcome"], "sent");
    let sent = stand.state().sent();
    let last = sent.last().unwrap();
    assert_eq!(
        last["content_sid"], "HX0123456789abcdef0123456789abcdef",
        "{last}"
    );
    let both = server.call_err("send_whatsapp",
        json!({"to": inside, "body": "x", "content_sid": "HX0123456789abcdef0123456789abcdef", "confirm": true}),
    );
    assert!(both.contains("`body`"), "{both}");
}

#[test]
fn calls_are_placed_read_and_ended_and_scheduled_messages_canceled() {
    let stand = Stand::start(twilio_standin::spawn);
    let mut server = server(
        &stand,
        &[(
            "TWILIO_MESSAGING_SERVICE_SID",
            twilio_standin::MESSAGING_SERVICE_SID,
        )],
    );
    let placed = server.call_ok(
        "make_call",
        json!({"to": CUSTOMER, "say": "Your order #12 is ready", "confirm": true}),
    );
    let sid = placed["sid"].as_str().unwrap().to_owned();
    assert_eq!(stand.state().count("calls"), 1);
    stand.control("advance", json!({"sid": sid, "status": "in-progress"}));
    let refused = server.call_err("end_call", json!({"call_sid": sid}));
    assert!(
        refused.contains("What it would change:")
            && refused.contains(CUSTOMER)
            && refused.contains("in-progress"),
        "{refused}"
    );
    let ended = server.call_ok("end_call", json!({"call_sid": sid, "confirm": true}));
    assert_eq!(ended["object"]["status"], "completed", "{ended}");
    let again = server.call_ok("end_call", json!({"call_sid": sid, "confirm": true}));
    assert!(
        again["summary"].as_str().unwrap().contains("already ended"),
        "{again}"
    );
    let got = server.call_ok("get_call", json!({"call_sid": sid}));
    assert_eq!(got["object"]["status"], "completed");
    let resource = server
        .request(
            "resources/read",
            json!({"uri": format!("twilio://calls/{sid}")}),
        )
        .unwrap();
    let text = resource["result"]["contents"][0]["text"].as_str().unwrap();
    assert!(text.contains("\"completed\""), "{resource}");
    let missing = server
        .request(
            "resources/read",
            json!({"uri": "twilio://calls/CA00000000000000000000000000000000"}),
        )
        .unwrap();
    assert_eq!(missing["error"]["code"], -32002, "{missing}");

    let in_two_days = twilio_standin::time::iso8601(twilio_standin::time::now() + 2 * 86_400);
    let scheduled = server.call_ok("send_sms",
        json!({"to": CUSTOMER, "body": "See you tomorrow", "send_at": in_two_days, "confirm": true}),
    );
    assert_eq!(scheduled["status"], "scheduled", "{scheduled}");
    let message = scheduled["sid"].as_str().unwrap().to_owned();
    let canceled = server.call_ok(
        "cancel_message",
        json!({"message_sid": message, "confirm": true}),
    );
    assert_eq!(canceled["object"]["status"], "canceled", "{canceled}");
    let got = server.call_ok("get_message", json!({"message_sid": message}));
    assert_eq!(got["object"]["status"], "canceled");
    let wrong = server.call_err(
        "get_message",
        json!({"message_sid": "CA0123456789abcdef0123456789abcdef"}),
    );
    assert!(wrong.contains("`message_sid`"), "{wrong}");
}

#[test]
fn lookups_numbers_lists_and_verification() {
    let stand = Stand::start(twilio_standin::spawn);
    let mut server = server(&stand, &[]);
    let numbers = server.call_ok("list_phone_numbers", json!({}));
    let first = &numbers["objects"][0];
    assert!(
        first["phone_number"].as_str().unwrap().starts_with('+'),
        "{numbers}"
    );
    assert!(first["capabilities"].is_object(), "{numbers}");

    let found = server.call_ok(
        "lookup_phone_number",
        json!({"phone_number": "+34612345678"}),
    );
    assert_eq!(found["object"]["valid"], true, "{found}");
    assert_eq!(found["object"]["country_code"], "ES");
    assert_eq!(found["object"]["line_type"], "mobile");
    let invalid = server.call_ok(
        "lookup_phone_number",
        json!({"phone_number": "+3412345678"}),
    );
    assert_eq!(invalid["object"]["valid"], false, "{invalid}");

    // Paging: two messages a page until the end, every message once.
    for i in 0..3 {
        server.call_ok(
            "send_sms",
            json!({"to": "+15558675320", "body": format!("page {i}"), "confirm": true}),
        );
    }
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..10 {
        let mut arguments = json!({"to": "+15558675320", "page_size": 2});
        if let Some(page) = &next {
            arguments["next_page"] = json!(page);
        }
        let page = server.call_ok("list_messages", arguments);
        for message in page["objects"].as_array().unwrap() {
            seen.push(message["sid"].as_str().unwrap().to_owned());
        }
        next = page["next_page"].as_str().map(str::to_owned);
        if next.is_none() {
            break;
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let forged = server.call_err(
        "list_messages",
        json!({"next_page": "https://evil.example/x"}),
    );
    assert!(forged.contains("`next_page`"), "{forged}");

    let started = server.call_ok(
        "start_verification",
        json!({"to": CUSTOMER, "confirm": true}),
    );
    assert_eq!(started["object"]["status"], "pending", "{started}");
    let wrong = server.call_ok(
        "check_verification",
        json!({"to": CUSTOMER, "code": "000000", "confirm": true}),
    );
    assert_eq!(wrong["object"]["status"], "pending");
    let right = server.call_ok(
        "check_verification",
        json!({"to": CUSTOMER, "code": VERIFICATION_CODE, "confirm": true}),
    );
    assert_eq!(right["object"]["status"], "approved", "{right}");
    // The code is a secret: never in the audit records.
    let stderr = server.stderr();
    let leaked: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("check_verification") && l.contains(VERIFICATION_CODE))
        .collect();
    assert!(
        stderr.contains("\"tool\":\"check_verification\""),
        "no audit line: {stderr}"
    );
    assert!(
        leaked.is_empty(),
        "the verification code was logged: {leaked:#?}"
    );
}

#[test]
fn without_a_verify_service_the_verification_tools_are_withheld() {
    let stand = Stand::start(twilio_standin::spawn);
    let mut server = server(&stand, &[("TWILIO_VERIFY_SERVICE_SID", "")]);
    let tools = server.request("tools/list", json!({})).unwrap();
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"send_sms") && !names.contains(&"start_verification"),
        "{names:?}"
    );
    let refused = server.call_err(
        "start_verification",
        json!({"to": CUSTOMER, "confirm": true}),
    );
    assert!(refused.contains("TWILIO_VERIFY_SERVICE_SID"), "{refused}");
}

/// Found by the fault table (`tests/tests/fault_table.rs`): Twilio accepted the SMS but its answer
/// could not be read, and the send was reported as a plain error and forgotten by the ledger, so
/// the agent's natural retry would text the person twice.
#[test]
fn a_send_whose_success_answer_is_unreadable_is_reported_unknown_and_not_repeated() {
    let stand = Stand::start(twilio_standin::spawn);
    let mut server = server(&stand, &[]);
    for (round, mode) in ["malformed", "truncated"].into_iter().enumerate() {
        let messages = stand.state().count("messages");
        stand.control(
            "fault",
            json!({"mode": mode, "path": messages_path(), "count": 1}),
        );
        let arguments =
            json!({"to": CUSTOMER, "body": format!("Unreadable {round}"), "confirm": true});
        let lost = server.call_ok("send_sms", arguments.clone());
        assert_eq!(lost["outcome"], "unknown", "{mode}: {lost}");
        assert!(
            lost["summary"]
                .as_str()
                .unwrap()
                .contains("may or may not have been sent"),
            "{mode}: {lost}"
        );
        assert_eq!(stand.state().count("messages"), messages + 1, "{mode}");
        let again = server.call_err("send_sms", arguments);
        assert!(again.contains("outcome is unknown"), "{mode}: {again}");
        assert_eq!(stand.state().count("messages"), messages + 1, "{mode}");
    }
}
