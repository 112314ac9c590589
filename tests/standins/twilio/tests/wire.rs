//! The stand-in over real HTTP: Twilio's authentication, form encoding, error bodies, magic
//! test numbers, lists and state changes, as `mcp-twilio` and Twilio's own clients meet them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use serde_json::{Value, json};
use twilio_standin::{ACCOUNT_SID, FROM_NUMBER, VERIFICATION_CODE, VERIFY_SERVICE_SID};

/// Form fields of a request.
type Form<'a> = &'a [(&'a str, &'a str)];

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// The message properties of `api.v2010.account.message` in Twilio's OpenAPI spec
/// (twilio_api_v2010.json of npm @twilio-alpha/mcp 0.7.0).
const MESSAGE_PROPERTIES: [&str; 20] = [
    "account_sid",
    "api_version",
    "body",
    "date_created",
    "date_sent",
    "date_updated",
    "direction",
    "error_code",
    "error_message",
    "from",
    "messaging_service_sid",
    "num_media",
    "num_segments",
    "price",
    "price_unit",
    "sid",
    "status",
    "subresource_uris",
    "to",
    "uri",
];

async fn post(
    http: &reqwest::Client,
    url: &str,
    user: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let response = http
        .post(url)
        .basic_auth(user, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = http
        .get(url)
        .basic_auth(ACCOUNT_SID, Some(TOKEN))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn messages_are_created_listed_and_refused_as_twilio_does() {
    let running = twilio_standin::spawn().await.unwrap();
    let base = running.url();
    let http = reqwest::Client::new();
    let messages = format!("{base}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json");

    let (status, created) = post(
        &http,
        &messages,
        ACCOUNT_SID,
        TOKEN,
        &[
            ("To", "+15558675310"),
            ("From", FROM_NUMBER),
            ("Body", "Hello 👍"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{created}");
    for property in MESSAGE_PROPERTIES {
        assert!(
            created.get(property).is_some(),
            "missing {property}: {created}"
        );
    }
    assert_eq!(created["status"], "queued");
    assert_eq!(created["num_segments"], "1");
    assert!(created["date_created"].as_str().unwrap().ends_with("+0000"));
    assert_eq!(running.state.count("messages"), 1);

    // (form, status, Twilio error code)
    let refusals: [(Form, u16, u64); 7] = [
        (&[("From", FROM_NUMBER), ("Body", "x")], 400, 21604),
        (&[("To", "+15558675310"), ("Body", "x")], 400, 21603),
        (&[("To", "+15558675310"), ("From", FROM_NUMBER)], 400, 21602),
        (
            &[("To", "5558675310"), ("From", FROM_NUMBER), ("Body", "x")],
            400,
            21211,
        ),
        (
            &[("To", "+15005550004"), ("From", FROM_NUMBER), ("Body", "x")],
            400,
            21610,
        ),
        (
            &[
                ("To", "+15558675310"),
                ("From", "+15550000000"),
                ("Body", "x"),
            ],
            400,
            21606,
        ),
        (
            &[
                ("To", "whatsapp:+34600000099"),
                ("From", "whatsapp:+15017122661"),
                ("Body", "x"),
            ],
            400,
            63016,
        ),
    ];
    for (form, status, code) in refusals {
        let (got, body) = post(&http, &messages, ACCOUNT_SID, TOKEN, form).await;
        assert_eq!(
            (got, body["code"].as_u64()),
            (status, Some(code)),
            "{form:?}: {body}"
        );
        assert_eq!(
            body["more_info"],
            format!("https://www.twilio.com/docs/errors/{code}")
        );
    }
    assert_eq!(
        running.state.count("messages"),
        1,
        "refused sends create nothing"
    );

    // Authentication: a bad secret, and another account's path.
    let (status, body) = post(
        &http,
        &messages,
        ACCOUNT_SID,
        "invalid-token",
        &[("To", "+15558675310")],
    )
    .await;
    assert_eq!((status, body["code"].as_u64()), (401, Some(20003)));
    let (status, _) = post(
        &http,
        &messages,
        "SK0123456789abcdef0123456789abcdef",
        "secret",
        &[
            ("To", "+15558675310"),
            ("From", FROM_NUMBER),
            ("Body", "by API key"),
        ],
    )
    .await;
    assert_eq!(status, 201);
    let other = messages.replace(ACCOUNT_SID, "AC00000000000000000000000000000000");
    let (status, body) = post(&http, &other, ACCOUNT_SID, TOKEN, &[("To", "+15558675310")]).await;
    assert_eq!((status, body["code"].as_u64()), (404, Some(20404)));

    // Lists: newest first, filtered, paged through next_page_uri.
    let (_, page) = get(&http, &format!("{messages}?To=%2B15558675310&PageSize=2")).await;
    let listed = page["messages"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{page}");
    assert_eq!(listed[0]["body"], "by API key");
    let next = page["next_page_uri"].as_str().unwrap();
    let (_, second) = get(&http, &format!("{base}{next}")).await;
    assert_eq!(second["messages"].as_array().unwrap().len(), 1, "{second}");
    assert_eq!(second["messages"][0]["body"], "Your order has shipped");
    assert!(second["next_page_uri"].is_null());
    let (_, future) = get(&http, &format!("{messages}?DateSent%3E=2099-01-01")).await;
    assert!(future["messages"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn calls_lookups_and_verifications_follow_their_states() {
    let running = twilio_standin::spawn().await.unwrap();
    let base = running.url();
    let http = reqwest::Client::new();
    let calls = format!("{base}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json");
    let (status, call) = post(
        &http,
        &calls,
        ACCOUNT_SID,
        TOKEN,
        &[
            ("To", "+15558675310"),
            ("From", FROM_NUMBER),
            ("Twiml", "<Response><Say>Hi</Say></Response>"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{call}");
    let sid = call["sid"].as_str().unwrap();
    let one = format!("{base}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json");
    // A queued call cannot be "completed", only canceled.
    let (status, body) = post(&http, &one, ACCOUNT_SID, TOKEN, &[("Status", "completed")]).await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(21220)));
    let (status, ended) = post(&http, &one, ACCOUNT_SID, TOKEN, &[("Status", "canceled")]).await;
    assert_eq!((status, ended["status"].as_str()), (200, Some("canceled")));
    let (status, body) = post(
        &http,
        &calls,
        ACCOUNT_SID,
        TOKEN,
        &[("To", "+15558675310"), ("From", FROM_NUMBER)],
    )
    .await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(21205)));

    let (_, found) = get(
        &http,
        &format!("{base}/v2/PhoneNumbers/910000000?CountryCode=ES&Fields=line_type_intelligence"),
    )
    .await;
    assert_eq!(found["phone_number"], "+34910000000");
    assert_eq!(found["national_format"], "910 00 00 00");
    assert_eq!(found["line_type_intelligence"]["type"], "landline");
    let (_, plain) = get(&http, &format!("{base}/v2/PhoneNumbers/%2B15017122661")).await;
    assert!(
        plain["line_type_intelligence"].is_null(),
        "no package asked: {plain}"
    );

    let verify = format!("{base}/v2/Services/{VERIFY_SERVICE_SID}");
    let (status, started) = post(
        &http,
        &format!("{verify}/Verifications"),
        ACCOUNT_SID,
        TOKEN,
        &[("To", "+15558675310"), ("Channel", "sms")],
    )
    .await;
    assert_eq!((status, started["status"].as_str()), (201, Some("pending")));
    let check = format!("{verify}/VerificationCheck");
    let (_, wrong) = post(
        &http,
        &check,
        ACCOUNT_SID,
        TOKEN,
        &[("To", "+15558675310"), ("Code", "000000")],
    )
    .await;
    assert_eq!(wrong["status"], "pending");
    let (_, right) = post(
        &http,
        &check,
        ACCOUNT_SID,
        TOKEN,
        &[("To", "+15558675310"), ("Code", VERIFICATION_CODE)],
    )
    .await;
    assert_eq!(
        (right["status"].as_str(), right["valid"].as_bool()),
        (Some("approved"), Some(true))
    );
    let (status, gone) = post(
        &http,
        &check,
        ACCOUNT_SID,
        TOKEN,
        &[("To", "+15558675310"), ("Code", VERIFICATION_CODE)],
    )
    .await;
    assert_eq!((status, gone["code"].as_u64()), (404, Some(20404)));
    assert_eq!(running.state.count("verifications"), 1);
}

#[tokio::test]
async fn a_hang_after_fault_still_records_the_message_and_status_faults_speak_twilio() {
    let running = twilio_standin::spawn().await.unwrap();
    let base = running.url();
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(500))
        .build()
        .unwrap();
    let messages = format!("{base}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json");
    http.post(format!("{base}/__standin/fault"))
        .json(&json!({"mode": "hang_after", "path": "/2010-04-01/", "count": 1}))
        .send()
        .await
        .unwrap();
    let lost = http
        .post(&messages)
        .basic_auth(ACCOUNT_SID, Some(TOKEN))
        .form(&[
            ("To", "+15558675310"),
            ("From", FROM_NUMBER),
            ("Body", "lost answer"),
        ])
        .send()
        .await;
    assert!(lost.is_err(), "the answer must never come");
    assert_eq!(running.state.count("messages"), 1);
    assert_eq!(running.state.sent()[0]["body"], "lost answer");

    http.post(format!("{base}/__standin/fault"))
        .json(&json!({"mode": "status", "status": 429, "retry_after": 3}))
        .send()
        .await
        .unwrap();
    let limited = http
        .get(&messages)
        .basic_auth(ACCOUNT_SID, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status().as_u16(), 429);
    assert_eq!(limited.headers()["retry-after"], "3");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["code"], 20429);
}
