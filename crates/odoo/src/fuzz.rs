//! Entry points for the fuzz targets in `tests/fuzz`: what an Odoo server, or something posing as
//! one, can send back, read exactly as the client reads it. A failure must be a sentence, never a
//! panic.

// A fuzz target reports a wrong answer by panicking; that is its whole job.
#![allow(clippy::expect_used, clippy::panic)]

use serde_json::Value;

/// Reads `body` as the XML-RPC answer to `res.partner.search_read`: the value, or the sentence
/// the caller would get (Odoo's fault, or why the answer is not XML-RPC).
pub fn xmlrpc_answer(body: &[u8]) -> Result<Value, String> {
    let answer = crate::client::decode_xmlrpc_answer(body.to_vec(), "res.partner", "search_read");
    if let Err(sentence) = &answer {
        assert!(
            !sentence.trim().is_empty(),
            "an unreadable answer without a reason"
        );
    }
    answer
}

/// Reads `body` as a JSON-2 error body with `status`: Odoo's refusal as a sentence, if it is one.
pub fn json2_error(status: u16, body: &[u8]) -> Option<String> {
    crate::client::json2_refusal(status, body, "res.partner", "search_read")
}
