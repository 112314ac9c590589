//! A Twilio-faithful test stand-in: a loopback HTTP server speaking the three Twilio APIs
//! `mcp-twilio` uses, over seeded in-memory data, for testing without the network.
//!
//! `twilio-standin [--listen 127.0.0.1:0]` prints `twilio-standin: listening on http://ADDR`;
//! point `TWILIO_API_URL`, `TWILIO_LOOKUPS_URL` and `TWILIO_VERIFY_URL` all at `http://ADDR` (the
//! three hosts' paths do not collide). In process: [`spawn`].
//!
//! # Faithful
//!
//! - **Wire format.** HTTP basic auth (account SID and auth token, or API key `SK…` and secret;
//!   an empty secret or one containing `invalid` is 401 error 20003 with `WWW-Authenticate`); a
//!   path account other than the authenticated one is 404 20404; form-encoded bodies and query
//!   strings (`DateSent%3E=…` style keys, repeated `MediaUrl`); JSON answers with every property
//!   of the objects in Twilio's OpenAPI specs (`twilio_api_v2010.json`, `twilio_lookups_v2.json`,
//!   `twilio_verify_v2.json` of npm `@twilio-alpha/mcp` 0.7.0); RFC 2822 dates in the 2010 API,
//!   ISO 8601 in Lookup and Verify.
//! - **Errors** as `{"code", "message", "more_info", "status"}`: 21604/21603/21602 for a missing
//!   To, sender or body, 21211 for a `To` that is not E.164, 21606 for a `From` that is not one of
//!   the account's SMS-capable numbers, 21617 for a body over 1600 characters, 63016 for WhatsApp
//!   free text outside the 24-hour window, Twilio's magic test numbers as destinations
//!   (`+15005550001` 21211, `+15005550002` 21612, `+15005550003` 21408, `+15005550004` 21610,
//!   `+15005550009` 21614), 30409-style refusals of a cancel that is not of a scheduled message
//!   (code 21220 here), and 429 20429 / 500 20500 / 503 20503 through faults.
//! - **Lists** newest first with `PageSize` (default 50, max 1000), `Page` and `PageToken`, the
//!   envelope's `next_page_uri` (null on the last page) and filters `To`, `From`, `DateSent`,
//!   `DateSent<`, `DateSent>` (messages), `Status`, `StartTime<`, `StartTime>` (calls),
//!   `PhoneNumber` (numbers).
//! - **Sends.** A new message is `queued` (`accepted` through a Messaging Service, `scheduled`
//!   with `ScheduleType=fixed` and `SendAt`, which needs a Messaging Service); `num_segments` is
//!   counted from the body (GSM-7 or UCS-2). A call needs exactly one of `Url`, `Twiml`,
//!   `ApplicationSid`; it is `queued`, and updating it with `Status=completed` ends it when in
//!   progress, `Status=canceled` when queued or ringing.
//! - **Verify.** A verification is `pending`; the right code (`VERIFICATION_CODE`) approves it,
//!   a wrong one leaves it pending, the fifth wrong one is 429 60202, no pending verification is
//!   404 20404, a sixth send within 10 minutes is 429 60203.
//!
//! # Simplified
//!
//! Statuses move only when a test says so (`/__standin/advance`); no status callbacks are
//! called; prices are null; WhatsApp templates are any `HX…` SID with a JSON object of
//! variables; one account; Lookup knows +1, +34, +44 and +49.
//!
//! # Control routes (loopback only)
//!
//! - The kit's `POST /__standin/fault`, `POST /__standin/reset`, `GET /__standin/calls`; a fault of
//!   mode `status` answers Twilio's error body for that status.
//! - `GET /__standin/count/{messages|calls|verifications}`: `{"resource", "count"}` of those
//!   created through the API since the last reset.
//! - `GET /__standin/sent`: the messages created through the API, in order (`to`, `from`, `body`,
//!   `content_sid`, `status`).
//! - `POST /__standin/advance {"sid", "status", "error_code"}`: sets a message's or call's status.
//! - `POST /__standin/whatsapp_inbound {"from": "whatsapp:+…"}`: opens that recipient's window.

pub mod error;
pub mod form;
pub mod phone;
pub mod server;
pub mod time;

pub use server::{AppState, app, spawn};

/// The seeded account.
pub const ACCOUNT_SID: &str = "ACa1b2c3d4e5f60718293a4b5c6d7e8f90";
/// The account's number with SMS, MMS and voice.
pub const FROM_NUMBER: &str = "+15017122661";
/// The account's voice-only number.
pub const VOICE_ONLY_NUMBER: &str = "+34910000000";
/// The seeded Messaging Service.
pub const MESSAGING_SERVICE_SID: &str = "MG00000000000000000000000000000001";
/// The seeded Verify service.
pub const VERIFY_SERVICE_SID: &str = "VA00000000000000000000000000000001";
/// The code every verification accepts.
pub const VERIFICATION_CODE: &str = "123456";
/// A WhatsApp recipient inside the 24-hour window from the start.
pub const WHATSAPP_OPEN_RECIPIENT: &str = "whatsapp:+34600000001";
