//! A Stripe-faithful test stand-in: a loopback HTTP server speaking Stripe's REST API v1 the way async-stripe
//! 1.0.0-rc.10 sends it, over seeded in-memory data, for testing `mcp-stripe` without the network.
//!
//! `stripe-standin [--listen 127.0.0.1:0]` prints `stripe-standin: listening on http://ADDR`; point the client at
//! `http://ADDR` (no trailing slash) and send requests to `http://ADDR/v1/…`. In process: [`spawn`].
//!
//! # Faithful
//!
//! - **Wire format.** `Authorization: Bearer KEY`; form-encoded bodies and query strings in bracket notation
//!   (`metadata[k]=v`, `items[0][price]=p`, `expand[0]=x`, brackets literal or percent-encoded as serde_qs writes
//!   them); unknown parameters refused with "Received unknown parameter: …" (the known ones are generated from
//!   async-stripe's request builders); `Stripe-Version` accepted and echoed; every response has `Request-Id:
//!   req_…`.
//! - **Keys.** `sk_test_…`/`rk_test_…` (test mode) and `sk_live_…`/`rk_live_…` (live mode, objects with
//!   `livemode: true`), at least 10 alphanumeric characters after the prefix; anything else, or a key containing
//!   `revoked`, is 401 "Invalid API Key provided: sk_test_****LAST4" (never the whole key). Test and live data are
//!   separate.
//! - **Connect.** `Stripe-Account: acct_…` scopes every object to that account (each starts empty); `GET
//!   /v1/account` answers that account.
//! - **Objects.** Current-API shapes that async-stripe's miniserde models decode: every non-optional field, valid
//!   enum variants, Stripe id prefixes, `object`, `created`, `livemode`, `metadata`.
//! - **Errors.** `{"error": {"type", "code", "decline_code", "message", "param", "doc_url", "request_log_url"}}`:
//!   400 `invalid_request_error` (`parameter_missing`, `resource_missing` for objects named by a parameter,
//!   `amount_too_large`, `charge_already_refunded`, …), 401, 402 `card_error`, 404 `resource_missing` with param
//!   `id`, 409/400 `idempotency_error`, and 429/500 through faults.
//! - **Lists** newest first with `limit` (1..=100, default 10), `starting_after`, `ending_before`, `created`
//!   ranges and each endpoint's filters; **search** with Stripe's query language (exact, substring, metadata,
//!   numeric ranges, `null`, negation, all-AND (or spaces) or all-OR), per-resource fields and `page` tokens;
//!   **expand** of id fields (`expand[]=latest_charge`, `data.customer`).
//! - **Payments.** Test payment methods decide a confirmation: `pm_card_visa`, `pm_card_mastercard` (and other
//!   brands) succeed with a charge and a pending balance transaction; `pm_card_chargeDeclined*` answer 402 with
//!   `decline_code` and the payment intent in the error; `pm_card_createDispute` opens a dispute. As in current
//!   API versions, an intent without `allowed_payment_method_types` has automatic payment methods with redirects
//!   allowed, so confirming it needs a `return_url` (or `automatic_payment_methods[allow_redirects]=never`);
//!   minimum amounts per currency (`amount_too_small`). Refunds are limited to what remains (`amount_too_large`,
//!   `charge_already_refunded`, `charge_disputed`).
//! - **Billing.** Invoices are drafts until finalized (number, hosted URL; `send` only for `send_invoice`, `void`
//!   only when open); invoice items (`amount` + `currency`, or `pricing[price]` × `quantity`, as current API
//!   versions name it) add lines and totals to a draft; subscriptions need recurring prices of one currency and
//!   interval, have calendar billing periods on their items, and are hidden from lists once canceled unless
//!   `status=all|canceled|ended`.
//! - **Idempotency.** A POST's first result under an `Idempotency-Key` (2xx, and errors raised while executing,
//!   including 402) is kept 24 h per key, mode and account; the same request replays it with `Idempotent-Replayed:
//!   true`; other parameters give 400 `idempotency_error`; a request arriving while the first still executes gives
//!   409 `idempotency_error`; validation failures are not saved.
//!
//! # Simplified
//!
//! No webhooks or events; search sees new objects at once (Stripe indexes with a delay of up to a minute) and
//! orders hits newest first; subscriptions start active without a first invoice or payment (`latest_invoice` is
//! null, no prorations); invoices have no taxes or discounts, are never charged automatically, and embed
//! their first 10 lines (there is no `/lines` endpoint); only card payments, no 3-D Secure (`requires_action`)
//! flows, no PaymentMethod objects (test tokens become fresh `pm_` ids); balance transactions of charges stay
//! pending (seed funds are available); coupons are not applied to anything; Connect accounts are any `acct_…` id
//! (none is created or verified). Endpoints not listed in `api::dispatch` answer 404 "Unrecognized request URL".
//!
//! # Control routes (loopback only)
//!
//! - `POST /__standin/fault` `{"mode": "none|status|slow|close|drop_after|hang_after", "count": N|null, "path":
//!   "/v1/…", "status": 429, "retry_after": 2, "delay_ms": 500}` (see `standin_kit`); `status` answers a
//!   Stripe-shaped error for that status.
//! - `POST /__standin/reset`: reseeds, forgets idempotency keys, clears faults, latency and call counts.
//! - `GET /__standin/calls`: request counts per `"METHOD /v1/path"`.
//! - `POST /__standin/seed {"customers": N}`: adds customers `Customer 0001`… in test mode.
//! - `GET /__standin/count/{resource}[?mode=live&account=acct_…]`: `{"resource", "count"}`, e.g. `payment_intents`.
//! - `POST /__standin/latency {"ms": N}`: every API request then takes N ms to execute (holding its idempotency
//!   key, so a concurrent request with the same key sees 409).
//!
//! # Seed data (test and live mode)
//!
//! Customers "Acme Corporation" (`acme-billing@example.com`), "Globex GmbH", "Initech Inc."; product "Pro plan"
//! with prices of 29 €/month (`pro_monthly`) and 290 €/year, product "Onboarding workshop" (1500 € one time);
//! a succeeded payment of 49 € by Acme, a disputed one of 120 € by Globex (dispute `needs_response`), one of $25
//! awaiting a payment method; Acme's open invoice (workshop + consulting) and active subscription (5 × Pro
//! monthly); coupon `WELCOME10`; a payment link; available funds in eur.

// The invoice object has more members than `json!` expands by default.
#![recursion_limit = "512"]

pub mod api;
pub mod billing;
pub mod catalog;
pub mod currency;
pub mod error;
pub mod form;
pub mod ids;
pub mod params;
pub mod payments;
pub mod search;
pub mod seed;
pub mod server;
pub mod state;

pub use server::{API_VERSION, AppState, app, spawn};
