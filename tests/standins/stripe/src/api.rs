//! Routing of `/v1/…` requests to the resources, and what they share: lists, search results, `expand`, metadata.

use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::form::{Params, merge_metadata};
use crate::params as known;
use crate::search::Query;
use crate::state::{Books, resource_of_id};
use crate::{billing, catalog, payments};

/// Runs one API request against `books`: `method` is `GET`, `POST` or `DELETE`, `path` starts with `/v1/`.
pub fn dispatch(
    books: &mut Books,
    method: &str,
    path: &str,
    params: Params,
) -> Result<Value, ApiError> {
    let rest = path.strip_prefix("/v1/").unwrap_or("");
    let segments: Vec<&str> = rest.split('/').collect();
    let expand = params.expand();
    let result = route(books, method, &segments, &params).map_err(|error| {
        if error.code.as_deref() == Some("unrecognized_url") {
            ApiError::invalid(
                format!(
                    "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
                ),
                None,
            )
            .not_found()
        } else {
            error
        }
    })?;
    apply_expand(books, result, &expand)
}

fn unrecognized() -> ApiError {
    ApiError::invalid("", None).with_code("unrecognized_url")
}

fn route(
    books: &mut Books,
    method: &str,
    segments: &[&str],
    p: &Params,
) -> Result<Value, ApiError> {
    match (method, segments) {
        ("GET", ["account"]) => {
            p.allow(&["expand"])?;
            Ok(account(books))
        }
        ("GET", ["balance"]) => {
            p.allow(&["expand"])?;
            Ok(balance(books))
        }
        ("GET", ["balance_transactions"]) => payments::list_balance_transactions(books, p),
        ("GET", ["balance_transactions", id]) => retrieve(books, "balance_transactions", id, p),

        ("POST", ["customers"]) => catalog::create_customer(books, p),
        ("GET", ["customers"]) => catalog::list_customers(books, p),
        ("GET", ["customers", "search"]) => search(books, "customers", p),
        ("GET", ["customers", id]) => retrieve(books, "customers", id, p),
        ("POST", ["customers", id]) => catalog::update_customer(books, id, p),

        ("POST", ["products"]) => catalog::create_product(books, p),
        ("GET", ["products"]) => catalog::list_products(books, p),
        ("GET", ["products", "search"]) => search(books, "products", p),
        ("GET", ["products", id]) => retrieve(books, "products", id, p),

        ("POST", ["prices"]) => catalog::create_price(books, p),
        ("GET", ["prices"]) => catalog::list_prices(books, p),
        ("GET", ["prices", "search"]) => search(books, "prices", p),
        ("GET", ["prices", id]) => retrieve(books, "prices", id, p),

        ("POST", ["payment_links"]) => catalog::create_payment_link(books, p),
        ("GET", ["payment_links"]) => {
            p.allow(&[
                "active",
                "ending_before",
                "expand",
                "limit",
                "starting_after",
            ])?;
            let active = p.bool("active")?;
            list(books, "payment_links", p, |link| {
                active.is_none_or(|active| link["active"] == active)
            })
        }
        ("GET", ["payment_links", id]) => retrieve(books, "payment_links", id, p),

        ("POST", ["invoices"]) => billing::create_invoice(books, p),
        ("GET", ["invoices"]) => billing::list_invoices(books, p),
        ("GET", ["invoices", "search"]) => search(books, "invoices", p),
        ("GET", ["invoices", id]) => retrieve(books, "invoices", id, p),
        ("POST", ["invoices", id, "finalize"]) => billing::finalize_invoice(books, id, p),
        ("POST", ["invoices", id, "send"]) => billing::send_invoice(books, id, p),
        ("POST", ["invoices", id, "void"]) => billing::void_invoice(books, id, p),

        ("POST", ["invoiceitems"]) => billing::create_invoice_item(books, p),
        ("GET", ["invoiceitems"]) => {
            p.allow(&[
                "created",
                "customer",
                "ending_before",
                "expand",
                "invoice",
                "limit",
                "pending",
                "starting_after",
            ])?;
            let customer = p.str("customer")?;
            let invoice = p.str("invoice")?;
            list(books, "invoiceitems", p, |item| {
                customer
                    .as_ref()
                    .is_none_or(|id| item["customer"] == id.as_str())
                    && invoice
                        .as_ref()
                        .is_none_or(|id| item["invoice"] == id.as_str())
            })
        }
        ("GET", ["invoiceitems", id]) => retrieve(books, "invoiceitems", id, p),

        ("POST", ["payment_intents"]) => payments::create_payment_intent(books, p),
        ("GET", ["payment_intents"]) => payments::list_payment_intents(books, p),
        ("GET", ["payment_intents", "search"]) => search(books, "payment_intents", p),
        ("GET", ["payment_intents", id]) => {
            p.allow(&["client_secret", "expand"])?;
            books.get("payment_intents", id)
        }
        ("POST", ["payment_intents", id]) => payments::update_payment_intent(books, id, p),
        ("POST", ["payment_intents", id, "confirm"]) => {
            payments::confirm_payment_intent(books, id, p)
        }
        ("POST", ["payment_intents", id, "cancel"]) => {
            payments::cancel_payment_intent(books, id, p)
        }
        ("POST", ["payment_intents", id, "capture"]) => {
            payments::capture_payment_intent(books, id, p)
        }

        ("GET", ["charges"]) => payments::list_charges(books, p),
        ("GET", ["charges", "search"]) => search(books, "charges", p),
        ("GET", ["charges", id]) => retrieve(books, "charges", id, p),

        ("POST", ["refunds"]) => payments::create_refund(books, p),
        ("GET", ["refunds"]) => payments::list_refunds(books, p),
        ("GET", ["refunds", id]) => retrieve(books, "refunds", id, p),

        ("POST", ["subscriptions"]) => billing::create_subscription(books, p),
        ("GET", ["subscriptions"]) => billing::list_subscriptions(books, p),
        ("GET", ["subscriptions", "search"]) => search(books, "subscriptions", p),
        ("GET", ["subscriptions", id]) => retrieve(books, "subscriptions", id, p),
        ("POST", ["subscriptions", id]) => billing::update_subscription(books, id, p),
        ("DELETE", ["subscriptions", id]) => billing::cancel_subscription(books, id, p),

        ("POST", ["coupons"]) => billing::create_coupon(books, p),
        ("GET", ["coupons"]) => {
            p.allow(known::LIST_COUPON)?;
            list(books, "coupons", p, |_| true)
        }
        ("GET", ["coupons", id]) => retrieve(books, "coupons", id, p),

        ("GET", ["disputes"]) => payments::list_disputes(books, p),
        ("GET", ["disputes", id]) => retrieve(books, "disputes", id, p),
        ("POST", ["disputes", id]) => payments::update_dispute(books, id, p),

        _ => Err(unrecognized()),
    }
}

/// `GET /v1/<resource>/<id>`.
pub fn retrieve(
    books: &Books,
    resource: &'static str,
    id: &str,
    p: &Params,
) -> Result<Value, ApiError> {
    p.allow(&["expand"])?;
    books.get(resource, id)
}

// ----------------------------------------------------------------------
// Account and balance
// ----------------------------------------------------------------------

/// The id of the platform account every key belongs to.
pub const PLATFORM_ACCOUNT: &str = "acct_1StandinPlatfrm";

fn account(books: &Books) -> Value {
    let platform = books.account == PLATFORM_ACCOUNT;
    let name = if platform {
        "Stand-in Platform Ltd"
    } else {
        "Connected Shop"
    };
    json!({
        "id": books.account,
        "object": "account",
        "business_profile": {
            "mcc": "5734",
            "name": name,
            "support_email": "support@example.com",
            "support_phone": null,
            "support_url": "https://example.com/support",
            "url": "https://example.com",
        },
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": true,
        "controller": null,
        "country": "US",
        "created": 1_600_000_000,
        "default_currency": "usd",
        "details_submitted": true,
        "email": "owner@example.com",
        "metadata": {},
        "payouts_enabled": true,
        "settings": null,
        "type": if platform { "standard" } else { "express" },
    })
}

fn balance(books: &Books) -> Value {
    let amounts = |slot: usize| {
        let mut rows: Vec<Value> = books
            .balance
            .iter()
            .map(|(currency, amounts)| {
                json!({"amount": amounts[slot], "currency": currency, "source_types": {"card": amounts[slot]}})
            })
            .collect();
        if rows.is_empty() {
            rows.push(json!({"amount": 0, "currency": "usd", "source_types": {"card": 0}}));
        }
        rows
    };
    json!({
        "object": "balance",
        "available": amounts(0),
        "connect_reserved": [],
        "livemode": books.livemode,
        "pending": amounts(1),
    })
}

// ----------------------------------------------------------------------
// Lists and search
// ----------------------------------------------------------------------

fn limit_of(p: &Params) -> Result<usize, ApiError> {
    match p.int("limit")? {
        None => Ok(10),
        Some(limit) if limit < 1 => Err(ApiError::invalid(
            "This value must be greater than or equal to 1.",
            Some("limit"),
        )),
        Some(limit) if limit > 100 => Err(ApiError::invalid(
            "This value must be less than or equal to 100.",
            Some("limit"),
        )),
        Some(limit) => Ok(limit as usize),
    }
}

/// Whether `created` passes the `created` filter (`created=N` or `created[gt|gte|lt|lte]=N`).
fn created_ok(filter: &Option<Value>, created: i64) -> Result<bool, ApiError> {
    let bound = |value: &Value| -> Result<i64, ApiError> {
        value
            .as_str()
            .and_then(|text| text.parse::<i64>().ok())
            .ok_or_else(|| ApiError::invalid(format!("Invalid integer: {value}"), Some("created")))
    };
    match filter {
        None => Ok(true),
        Some(exact @ Value::String(_)) => Ok(created == bound(exact)?),
        Some(Value::Object(range)) => {
            for (op, value) in range {
                let value = bound(value)?;
                let ok = match op.as_str() {
                    "gt" => created > value,
                    "gte" => created >= value,
                    "lt" => created < value,
                    "lte" => created <= value,
                    other => {
                        return Err(ApiError::invalid(
                            format!("Received unknown parameter: created[{other}]"),
                            Some(&format!("created[{other}]")),
                        ));
                    }
                };
                if !ok {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Some(_) => Err(ApiError::invalid("Invalid created", Some("created"))),
    }
}

/// A list page of `resource` (newest first) filtered by `keep`, with `limit`, `starting_after`, `ending_before`
/// and `created` as Stripe applies them.
pub fn list(
    books: &Books,
    resource: &'static str,
    p: &Params,
    keep: impl Fn(&Value) -> bool,
) -> Result<Value, ApiError> {
    let url = format!("/v1/{resource}");
    list_at(books, resource, &url, p, keep)
}

/// [`list`] with another `url` (e.g. a nested list).
pub fn list_at(
    books: &Books,
    resource: &'static str,
    url: &str,
    p: &Params,
    keep: impl Fn(&Value) -> bool,
) -> Result<Value, ApiError> {
    let limit = limit_of(p)?;
    let created = p.get("created").cloned();
    let collection = books.collection(resource);
    let cursor = |param: &str| -> Result<Option<usize>, ApiError> {
        match p.str(param)? {
            None => Ok(None),
            Some(id) => collection.position(&id).map(Some).ok_or_else(|| {
                ApiError::no_such_param(crate::state::singular(resource), &id, param)
            }),
        }
    };
    let after = cursor("starting_after")?;
    let before = cursor("ending_before")?;
    if after.is_some() && before.is_some() {
        return Err(ApiError::invalid(
            "You may only specify one of these parameters: ending_before, starting_after.",
            None,
        ));
    }
    // Creation positions, newest first, of the objects that pass the filters.
    let mut matching: Vec<(usize, &Value)> = Vec::new();
    let total = collection.len();
    for (rank, object) in collection.newest_first().enumerate() {
        let position = total - 1 - rank;
        if keep(object) && created_ok(&created, object["created"].as_i64().unwrap_or(0))? {
            matching.push((position, object));
        }
    }
    let (page, has_more): (Vec<&Value>, bool) = if let Some(before) = before {
        // The `limit` objects just newer than the cursor, still listed newest first.
        let newer: Vec<&(usize, &Value)> = matching
            .iter()
            .filter(|(position, _)| *position > before)
            .collect();
        let start = newer.len().saturating_sub(limit);
        (
            newer[start..].iter().map(|(_, object)| *object).collect(),
            start > 0,
        )
    } else {
        let older: Vec<&(usize, &Value)> = matching
            .iter()
            .filter(|(position, _)| after.is_none_or(|after| *position < after))
            .collect();
        let has_more = older.len() > limit;
        (
            older
                .into_iter()
                .take(limit)
                .map(|(_, object)| *object)
                .collect(),
            has_more,
        )
    };
    Ok(json!({
        "object": "list",
        "data": page,
        "has_more": has_more,
        "url": url,
    }))
}

fn page_token(offset: usize, query: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    query.hash(&mut hasher);
    format!("page_{offset:x}_{:x}", hasher.finish() & 0xffff_ffff)
}

/// `GET /v1/<resource>/search`: a search result page, newest first, with `page` tokens for the next page.
pub fn search(books: &Books, resource: &'static str, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::SEARCH_CUSTOMER)?;
    let query_text = p.required_str("query")?;
    let query = Query::parse(resource, &query_text)?;
    let limit = limit_of(p)?;
    let offset = match p.str("page")? {
        None => 0,
        Some(token) => {
            let offset = token
                .strip_prefix("page_")
                .and_then(|rest| rest.split_once('_'))
                .and_then(|(offset, _)| usize::from_str_radix(offset, 16).ok())
                .filter(|offset| page_token(*offset, &query_text) == token);
            offset
                .ok_or_else(|| ApiError::invalid(format!("Invalid page: {token}"), Some("page")))?
        }
    };
    let hits: Vec<&Value> = books
        .collection(resource)
        .newest_first()
        .filter(|object| query.matches(object))
        .collect();
    let page: Vec<&Value> = hits.iter().skip(offset).take(limit).copied().collect();
    let has_more = hits.len() > offset + limit;
    Ok(json!({
        "object": "search_result",
        "data": page,
        "has_more": has_more,
        "next_page": if has_more { Value::String(page_token(offset + limit, &query_text)) } else { Value::Null },
        "url": format!("/v1/{resource}/search"),
    }))
}

// ----------------------------------------------------------------------
// expand[]
// ----------------------------------------------------------------------

fn apply_expand(books: &Books, mut value: Value, paths: &[String]) -> Result<Value, ApiError> {
    for path in paths {
        let segments: Vec<&str> = path.split('.').collect();
        if segments.len() > 4 {
            return Err(ApiError::invalid(
                format!("You cannot expand more than 4 levels of a property. Property: {path}"),
                Some("expand"),
            ));
        }
        expand_at(books, &mut value, &segments, path)?;
    }
    Ok(value)
}

fn expand_at(
    books: &Books,
    value: &mut Value,
    segments: &[&str],
    path: &str,
) -> Result<(), ApiError> {
    if let Value::Array(items) = value {
        for item in items {
            expand_at(books, item, segments, path)?;
        }
        return Ok(());
    }
    let Some((first, rest)) = segments.split_first() else {
        return Ok(());
    };
    let cannot = || {
        ApiError::invalid(
            format!("This property cannot be expanded ({path})."),
            Some("expand"),
        )
    };
    let Some(slot) = value.get_mut(*first) else {
        return Err(cannot());
    };
    if rest.is_empty() {
        match slot {
            Value::Null | Value::Object(_) => Ok(()),
            Value::String(id) => {
                if resource_of_id(id).is_none() {
                    return Err(cannot());
                }
                if let Some(found) = books.find(id) {
                    *slot = found.clone();
                }
                Ok(())
            }
            _ => Err(cannot()),
        }
    } else {
        expand_at(books, slot, rest, path)
    }
}

// ----------------------------------------------------------------------
// Shared readers
// ----------------------------------------------------------------------

/// The `metadata` parameter of a create call as an object.
pub fn metadata(p: &Params) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    if let Some(update) = p.get("metadata") {
        merge_metadata(&mut out, update)?;
    }
    Ok(out)
}

/// Applies a `metadata` update to `object["metadata"]`.
pub fn update_metadata(object: &mut Value, p: &Params) -> Result<(), ApiError> {
    if let Some(update) = p.get("metadata") {
        let mut current = object["metadata"].as_object().cloned().unwrap_or_default();
        merge_metadata(&mut current, update)?;
        object["metadata"] = Value::Object(current);
    }
    Ok(())
}

/// An `address[…]` hash as Stripe's address object.
pub fn address(p: &Params, name: &str) -> Result<Value, ApiError> {
    let Some(hash) = p.hash(name)? else {
        return Ok(Value::Null);
    };
    hash.allow(&["city", "country", "line1", "line2", "postal_code", "state"])
        .map_err(|error| ApiError {
            param: Some(format!(
                "{name}[{}]",
                error.param.clone().unwrap_or_default()
            )),
            ..error
        })?;
    Ok(json!({
        "city": hash.str("city")?,
        "country": hash.str("country")?,
        "line1": hash.str("line1")?,
        "line2": hash.str("line2")?,
        "postal_code": hash.str("postal_code")?,
        "state": hash.str("state")?,
    }))
}

/// Days since 1970-01-01 of a civil date, and back: calendar months for billing periods.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `start` plus `count` billing intervals (`day`, `week`, `month`, `year`), months clamped to the month's end.
pub fn add_interval(start: i64, interval: &str, count: i64) -> i64 {
    let days = start.div_euclid(86_400);
    let seconds = start.rem_euclid(86_400);
    match interval {
        "day" => start + count * 86_400,
        "week" => start + count * 7 * 86_400,
        "month" | "year" => {
            let months = if interval == "year" {
                count * 12
            } else {
                count
            };
            let (year, month, day) = civil_from_days(days);
            let total = year * 12 + (month - 1) + months;
            let (year, month) = (total.div_euclid(12), total.rem_euclid(12) + 1);
            let next_first = if month == 12 {
                days_from_civil(year + 1, 1, 1)
            } else {
                days_from_civil(year, month + 1, 1)
            };
            let last_day = next_first - days_from_civil(year, month, 1);
            days_from_civil(year, month, day.min(last_day)) * 86_400 + seconds
        }
        _ => start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_calendar_months_clamped_to_the_end() {
        let jan31 = days_from_civil(2025, 1, 31) * 86_400 + 3600;
        let feb28 = days_from_civil(2025, 2, 28) * 86_400 + 3600;
        assert_eq!(add_interval(jan31, "month", 1), feb28);
        assert_eq!(
            add_interval(jan31, "year", 1),
            days_from_civil(2026, 1, 31) * 86_400 + 3600
        );
        assert_eq!(add_interval(0, "week", 2), 14 * 86_400);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }
}
