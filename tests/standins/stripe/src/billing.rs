//! Invoices and invoice items, subscriptions, coupons.

use serde_json::{Value, json};

use crate::api::{add_interval, list, metadata, update_metadata};
use crate::currency;
use crate::error::ApiError;
use crate::form::Params;
use crate::ids::{new_id, now, random_text};
use crate::params as known;
use crate::state::Books;

// ----------------------------------------------------------------------
// Invoices
// ----------------------------------------------------------------------

/// Lines embedded in an invoice object, as Stripe embeds them (the first 10).
const EMBEDDED_LINES: usize = 10;

/// Recomputes totals from the lines (no taxes or discounts here), and the embedded page of lines.
fn recompute(invoice: &mut Value, lines: &[Value]) {
    let subtotal: i64 = lines
        .iter()
        .map(|line| line["amount"].as_i64().unwrap_or(0))
        .sum();
    let paid = invoice["amount_paid"].as_i64().unwrap_or(0);
    for field in [
        "subtotal",
        "subtotal_excluding_tax",
        "total",
        "total_excluding_tax",
        "amount_due",
    ] {
        invoice[field] = json!(subtotal);
    }
    invoice["amount_remaining"] = json!(if invoice["status"] == "void" {
        0
    } else {
        (subtotal - paid).max(0)
    });
    invoice["lines"]["data"] = json!(lines.iter().take(EMBEDDED_LINES).collect::<Vec<_>>());
    invoice["lines"]["has_more"] = json!(lines.len() > EMBEDDED_LINES);
}

fn all_lines(books: &Books, invoice_id: &str) -> Vec<Value> {
    // Invoice items are listed newest first; invoice lines read in the order they were added.
    let mut items: Vec<&Value> = books
        .collection("invoiceitems")
        .newest_first()
        .filter(|item| item["invoice"] == invoice_id)
        .collect();
    items.reverse();
    items
        .into_iter()
        .map(|item| line_of_item(books, item))
        .collect()
}

fn line_of_item(books: &Books, item: &Value) -> Value {
    let pricing = match item["pricing"]["price_details"]["price"].as_str() {
        Some(_) => item["pricing"].clone(),
        None => Value::Null,
    };
    json!({
        "id": format!("il_{}", item["id"].as_str().unwrap_or_default().trim_start_matches("ii_")),
        "object": "line_item",
        "amount": item["amount"],
        "currency": item["currency"],
        "description": item["description"],
        "discount_amounts": [],
        "discountable": item["discountable"],
        "discounts": [],
        "invoice": item["invoice"],
        "livemode": books.livemode,
        "metadata": item["metadata"],
        "parent": {
            "invoice_item_details": {"invoice_item": item["id"], "proration": false, "proration_details": {"credited_items": null}, "subscription": null},
            "subscription_item_details": null,
            "type": "invoice_item_details",
        },
        "period": item["period"],
        "pretax_credit_amounts": [],
        "pricing": pricing,
        "quantity": item["quantity"],
        "subtotal": item["amount"],
        "taxes": [],
    })
}

/// `POST /v1/invoices`: a draft for a customer (pending invoice items are not pulled in, as with
/// `pending_invoice_items_behavior=exclude`, the default of current API versions).
pub fn create_invoice(books: &mut Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::CREATE_INVOICE)?;
    let customer_id = p.required_str("customer")?;
    let customer = books.get_param("customers", &customer_id, "customer")?;
    let collection_method = p
        .one_of(
            "collection_method",
            &["charge_automatically", "send_invoice"],
        )?
        .unwrap_or_else(|| "charge_automatically".into());
    let days_until_due = p.non_negative("days_until_due")?;
    let due_date = p.int("due_date")?;
    if collection_method == "charge_automatically"
        && (days_until_due.is_some() || due_date.is_some())
    {
        return Err(ApiError::invalid(
            "Invalid days_until_due: can only be set when collection_method is send_invoice.",
            Some(if days_until_due.is_some() {
                "days_until_due"
            } else {
                "due_date"
            }),
        ));
    }
    if collection_method == "send_invoice" && days_until_due.is_none() && due_date.is_none() {
        return Err(ApiError::invalid(
            "Missing required param: days_until_due or due_date when collection_method is send_invoice.",
            Some("days_until_due"),
        ));
    }
    let currency = match p.str("currency")? {
        Some(currency) => currency::check(&currency, "currency")?,
        None => customer["currency"].as_str().unwrap_or("usd").to_string(),
    };
    let subscription = p.str("subscription")?;
    if let Some(subscription) = &subscription {
        books.get_param("subscriptions", subscription, "subscription")?;
    }
    let created = now();
    let id = new_id("in");
    let mut invoice = json!({
        "id": id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Stand-in Platform Ltd",
        "account_tax_ids": null,
        "amount_due": 0,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "application": null,
        "attempt_count": 0,
        "attempted": false,
        "auto_advance": p.bool("auto_advance")?.unwrap_or(false),
        "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null, "provider": null, "status": null},
        "automatically_finalizes_at": null,
        "billing_reason": "manual",
        "collection_method": collection_method,
        "created": created,
        "currency": currency,
        "custom_fields": null,
        "customer": customer_id,
        "customer_address": customer["address"],
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "customer_phone": customer["phone"],
        "customer_shipping": null,
        "customer_tax_exempt": customer["tax_exempt"],
        "customer_tax_ids": [],
        "default_payment_method": p.str("default_payment_method")?,
        "default_source": null,
        "default_tax_rates": [],
        "description": p.str("description")?,
        "discounts": [],
        "due_date": due_date.or(days_until_due.map(|days| created + days * 86_400)),
        "effective_at": null,
        "ending_balance": null,
        "footer": p.str("footer")?,
        "from_invoice": null,
        "hosted_invoice_url": null,
        "invoice_pdf": null,
        "issuer": {"type": "self"},
        "last_finalization_error": null,
        "latest_revision": null,
        "lines": {"object": "list", "data": [], "has_more": false, "url": format!("/v1/invoices/{id}/lines")},
        "livemode": books.livemode,
        "metadata": metadata(p)?,
        "next_payment_attempt": null,
        "number": null,
        "on_behalf_of": null,
        "parent": match &subscription {
            Some(subscription) => json!({"quote_details": null, "subscription_details": {"metadata": null, "subscription": subscription}, "type": "subscription_details"}),
            None => Value::Null,
        },
        "payment_settings": {"default_mandate": null, "payment_method_options": null, "payment_method_types": null},
        "period_end": created,
        "period_start": created,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": null,
        "rendering": null,
        "shipping_cost": null,
        "shipping_details": null,
        "starting_balance": 0,
        "statement_descriptor": p.str("statement_descriptor")?,
        "status": "draft",
        "status_transitions": {"finalized_at": null, "marked_uncollectible_at": null, "paid_at": null, "voided_at": null},
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "test_clock": null,
        "total": 0,
        "total_discount_amounts": [],
        "total_excluding_tax": 0,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": null,
    });
    if collection_method == "send_invoice" {
        invoice["days_until_due"] = json!(days_until_due);
    }
    recompute(&mut invoice, &[]);
    books.insert("invoices", invoice.clone());
    Ok(invoice)
}

/// `GET /v1/invoices`.
pub fn list_invoices(books: &Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::LIST_INVOICE)?;
    let customer = p.str("customer")?;
    let status = p.one_of(
        "status",
        &["draft", "open", "paid", "uncollectible", "void"],
    )?;
    let subscription = p.str("subscription")?;
    let collection_method = p.str("collection_method")?;
    list(books, "invoices", p, |invoice| {
        customer
            .as_ref()
            .is_none_or(|id| invoice["customer"] == id.as_str())
            && status
                .as_ref()
                .is_none_or(|status| invoice["status"] == status.as_str())
            && subscription.as_ref().is_none_or(|id| {
                invoice["parent"]["subscription_details"]["subscription"] == id.as_str()
            })
            && collection_method
                .as_ref()
                .is_none_or(|method| invoice["collection_method"] == method.as_str())
    })
}

fn not_editable(invoice: &Value, action: &str) -> ApiError {
    ApiError::state(
        "invoice_not_editable",
        format!(
            "You can only {action} invoices with status {}; this invoice ({}) has status {}.",
            match action {
                "finalize" | "add items to" => "draft",
                "void" => "open or uncollectible",
                _ => "open",
            },
            invoice["id"].as_str().unwrap_or_default(),
            invoice["status"].as_str().unwrap_or_default()
        ),
        None,
    )
}

/// `POST /v1/invoices/{id}/finalize`: draft → open with a number (→ paid at once when nothing is due).
pub fn finalize_invoice(books: &mut Books, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::FINALIZE_INVOICE_INVOICE)?;
    let mut invoice = books.get("invoices", id)?;
    if invoice["status"] != "draft" {
        return Err(not_editable(&invoice, "finalize"));
    }
    let prefix = books
        .collection("customers")
        .get(invoice["customer"].as_str().unwrap_or_default())
        .and_then(|customer| customer["invoice_prefix"].as_str().map(str::to_string))
        .unwrap_or_else(|| random_text(8).to_uppercase());
    let number = format!("{prefix}-{:04}", books.invoice_sequence);
    books.invoice_sequence += 1;
    let at = now();
    let host = if books.livemode { "live" } else { "test" };
    let token = random_text(40);
    invoice["number"] = json!(number);
    invoice["status"] = json!("open");
    invoice["effective_at"] = json!(at);
    invoice["status_transitions"]["finalized_at"] = json!(at);
    invoice["hosted_invoice_url"] = json!(format!(
        "https://invoice.stripe.com/i/{}/{host}_{token}",
        books.account
    ));
    invoice["invoice_pdf"] = json!(format!(
        "https://pay.stripe.com/invoice/{}/{host}_{token}/pdf",
        books.account
    ));
    invoice["ending_balance"] = json!(0);
    if invoice["amount_due"] == 0 {
        invoice["status"] = json!("paid");
        invoice["status_transitions"]["paid_at"] = json!(at);
    }
    books.put("invoices", invoice.clone());
    Ok(invoice)
}

/// `POST /v1/invoices/{id}/send`: only open invoices collected by `send_invoice`.
pub fn send_invoice(books: &mut Books, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::SEND_INVOICE_INVOICE)?;
    let mut invoice = books.get("invoices", id)?;
    if invoice["collection_method"] != "send_invoice" {
        return Err(ApiError::state(
            "invoice_not_editable",
            "You can only manually send an invoice if its collection method is 'send_invoice'.",
            None,
        ));
    }
    if invoice["status"] != "open" {
        return Err(not_editable(&invoice, "send"));
    }
    invoice["webhooks_delivered_at"] = json!(now());
    books.put("invoices", invoice.clone());
    Ok(invoice)
}

/// `POST /v1/invoices/{id}/void`: only open or uncollectible invoices.
pub fn void_invoice(books: &mut Books, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::VOID_INVOICE_INVOICE)?;
    let mut invoice = books.get("invoices", id)?;
    if !matches!(invoice["status"].as_str(), Some("open" | "uncollectible")) {
        return Err(not_editable(&invoice, "void"));
    }
    invoice["status"] = json!("void");
    invoice["amount_remaining"] = json!(0);
    invoice["status_transitions"]["voided_at"] = json!(now());
    books.put("invoices", invoice.clone());
    Ok(invoice)
}

/// `POST /v1/invoiceitems`: `amount` + `currency`, or `pricing[price]` (× `quantity`); added to `invoice` when given
/// (a draft of the same customer), which gets a line and new totals.
pub fn create_invoice_item(books: &mut Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::CREATE_INVOICE_ITEM)?;
    let invoice = match p.str("invoice")? {
        Some(id) => Some(books.get_param("invoices", &id, "invoice")?),
        None => None,
    };
    let customer_id = match (p.str("customer")?, &invoice) {
        (Some(customer), _) => customer,
        (None, Some(invoice)) => invoice["customer"].as_str().unwrap_or_default().to_string(),
        (None, None) => return Err(ApiError::missing("customer")),
    };
    books.get_param("customers", &customer_id, "customer")?;
    if let Some(invoice) = &invoice {
        if invoice["customer"] != customer_id.as_str() {
            return Err(ApiError::invalid(
                format!(
                    "The invoice {} belongs to another customer.",
                    invoice["id"].as_str().unwrap_or_default()
                ),
                Some("invoice"),
            ));
        }
        if invoice["status"] != "draft" {
            return Err(not_editable(invoice, "add items to"));
        }
    }
    let quantity = p.int("quantity")?.unwrap_or(1);
    if quantity < 0 {
        return Err(ApiError::invalid(
            "Invalid quantity: must be at least 0",
            Some("quantity"),
        ));
    }
    // Current API versions name the price as `pricing[price]` (the top-level `price` parameter is gone).
    let price = match p.hash("pricing")? {
        Some(pricing) => {
            pricing.allow(&["price"]).map_err(|error| ApiError {
                param: Some(format!(
                    "pricing[{}]",
                    error.param.clone().unwrap_or_default()
                )),
                ..error
            })?;
            match pricing.str("price")? {
                Some(id) => Some(books.get_param("prices", &id, "pricing[price]")?),
                None => None,
            }
        }
        None => None,
    };
    let (amount, currency, unit) = match (&price, p.int("amount")?) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "You may only specify one of these parameters: amount, pricing.",
                None,
            ));
        }
        (Some(price), None) => {
            let unit = price["unit_amount"].as_i64().unwrap_or(0);
            (
                unit * quantity,
                price["currency"].as_str().unwrap_or("usd").to_string(),
                unit,
            )
        }
        (None, Some(amount)) => {
            let currency = match p.str("currency")? {
                Some(currency) => currency::check(&currency, "currency")?,
                None => match &invoice {
                    Some(invoice) => invoice["currency"].as_str().unwrap_or("usd").to_string(),
                    None => return Err(ApiError::missing("currency")),
                },
            };
            (amount, currency, amount)
        }
        (None, None) => match p.int("unit_amount_decimal")? {
            Some(unit) => {
                let currency = currency::check(&p.required_str("currency")?, "currency")?;
                (unit * quantity, currency, unit)
            }
            None => return Err(ApiError::missing("amount")),
        },
    };
    if let Some(invoice) = &invoice
        && invoice["currency"] != currency.as_str()
    {
        return Err(ApiError::invalid(
            format!(
                "The currency of this invoice item ({currency}) does not match the currency of the invoice ({}).",
                invoice["currency"].as_str().unwrap_or_default()
            ),
            Some("currency"),
        ));
    }
    let at = now();
    let item = json!({
        "id": new_id("ii"),
        "object": "invoiceitem",
        "amount": amount,
        "currency": currency,
        "customer": customer_id,
        "date": at,
        "description": match p.str("description")? {
            Some(description) => json!(description),
            // Stripe describes a price's item by its product's name.
            None => price
                .as_ref()
                .and_then(|price| books.collection("products").get(price["product"].as_str().unwrap_or_default()))
                .map(|product| product["name"].clone())
                .unwrap_or(Value::Null),
        },
        "discountable": p.bool("discountable")?.unwrap_or(true),
        "discounts": [],
        "invoice": invoice.as_ref().map(|invoice| invoice["id"].clone()),
        "livemode": books.livemode,
        "metadata": metadata(p)?,
        "net_amount": amount,
        "parent": null,
        "period": {"end": at, "start": at},
        "pricing": {
            "price_details": price.as_ref().map(|price| json!({"price": price["id"], "product": price["product"]})),
            "type": "price_details",
            "unit_amount_decimal": unit.to_string(),
        },
        "proration": false,
        "quantity": quantity,
        "quantity_decimal": quantity.to_string(),
        "tax_rates": [],
        "test_clock": null,
    });
    books.insert("invoiceitems", item.clone());
    if let Some(mut invoice) = invoice {
        let id = invoice["id"].as_str().unwrap_or_default().to_string();
        let lines = all_lines(books, &id);
        recompute(&mut invoice, &lines);
        books.put("invoices", invoice);
    }
    Ok(item)
}

// ----------------------------------------------------------------------
// Subscriptions
// ----------------------------------------------------------------------

fn plan_of(price: &Value) -> Value {
    json!({
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": "per_unit",
        "created": price["created"],
        "currency": price["currency"],
        "interval": price["recurring"]["interval"],
        "interval_count": price["recurring"]["interval_count"],
        "livemode": price["livemode"],
        "metadata": price["metadata"],
        "meter": null,
        "nickname": price["nickname"],
        "product": price["product"],
        "tiers_mode": null,
        "transform_usage": null,
        "trial_period_days": null,
        "usage_type": price["recurring"]["usage_type"],
    })
}

fn recurring_price(books: &Books, id: &str, param: &str) -> Result<Value, ApiError> {
    let price = books.get_param("prices", id, param)?;
    if price["type"] != "recurring" {
        return Err(ApiError::invalid(
            format!(
                "The price specified ({id}) is set to `type=one_time` but this field only accepts prices with `type=recurring`."
            ),
            Some(param),
        ));
    }
    if price["active"] != true {
        return Err(ApiError::invalid(
            format!("The price specified ({id}) is inactive."),
            Some(param),
        ));
    }
    Ok(price)
}

fn subscription_item(
    books: &Books,
    subscription: &str,
    price: &Value,
    quantity: i64,
    item: &Params,
    start: i64,
    end: i64,
) -> Result<Value, ApiError> {
    let mut metadata_object = json!({"metadata": {}});
    update_metadata(&mut metadata_object, item)?;
    Ok(json!({
        "id": new_id("si"),
        "object": "subscription_item",
        "billing_thresholds": null,
        "created": now(),
        "current_period_end": end,
        "current_period_start": start,
        "discounts": [],
        "livemode": books.livemode,
        "metadata": metadata_object["metadata"],
        "plan": plan_of(price),
        "price": price,
        "quantity": quantity,
        "subscription": subscription,
        "tax_rates": [],
    }))
}

fn item_params(value: &Value) -> Params {
    Params(value.as_object().cloned().unwrap_or_default())
}

fn quantity_of(item: &Params, param: &str) -> Result<Option<i64>, ApiError> {
    match item.int("quantity").map_err(|error| ApiError {
        param: Some(param.into()),
        ..error
    })? {
        Some(quantity) if quantity < 0 => Err(ApiError::invalid(
            "Invalid quantity: must be at least 0",
            Some(param),
        )),
        other => Ok(other),
    }
}

/// `POST /v1/subscriptions`: active at once (or trialing with `trial_period_days`); the first invoice and its
/// payment are not modelled.
pub fn create_subscription(books: &mut Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::CREATE_SUBSCRIPTION)?;
    let customer_id = p.required_str("customer")?;
    books.get_param("customers", &customer_id, "customer")?;
    let items = p.list("items")?;
    if items.is_empty() {
        return Err(ApiError::missing("items"));
    }
    let id = new_id("sub");
    let start = now();
    let trial_days = p.non_negative("trial_period_days")?;
    let mut prices: Vec<(Value, (Params, i64))> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let item = item_params(item);
        let param = format!("items[{index}][price]");
        let price_id = item
            .str("price")?
            .ok_or_else(|| ApiError::missing(&param))?;
        let price = recurring_price(books, &price_id, &param)?;
        if let Some((first, _)) = prices.first()
            && (price["currency"] != first["currency"]
                || price["recurring"]["interval"] != first["recurring"]["interval"])
        {
            return Err(ApiError::invalid(
                "Currency and interval fields must match across all plans on this subscription.",
                Some(&param),
            ));
        }
        let quantity = quantity_of(&item, &format!("items[{index}][quantity]"))?.unwrap_or(1);
        prices.push((price, (item, quantity)));
    }
    let (first, _) = &prices[0];
    let interval = first["recurring"]["interval"]
        .as_str()
        .unwrap_or("month")
        .to_string();
    let count = first["recurring"]["interval_count"].as_i64().unwrap_or(1);
    let currency = first["currency"].clone();
    let trial_end = trial_days
        .filter(|days| *days > 0)
        .map(|days| start + days * 86_400);
    let end = trial_end.unwrap_or_else(|| add_interval(start, &interval, count));
    let mut data = Vec::new();
    for (price, (item, quantity)) in &prices {
        data.push(subscription_item(
            books, &id, price, *quantity, item, start, end,
        )?);
    }
    let collection_method = p
        .one_of(
            "collection_method",
            &["charge_automatically", "send_invoice"],
        )?
        .unwrap_or_else(|| "charge_automatically".into());
    let subscription = json!({
        "id": id,
        "object": "subscription",
        "application": null,
        "application_fee_percent": null,
        "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null},
        "billing_cycle_anchor": end,
        "billing_cycle_anchor_config": null,
        "billing_mode": {"type": "classic"},
        "billing_schedules": [],
        "billing_thresholds": null,
        "cancel_at": null,
        "cancel_at_period_end": p.bool("cancel_at_period_end")?.unwrap_or(false),
        "canceled_at": null,
        "cancellation_details": {"comment": null, "feedback": null, "reason": null},
        "collection_method": collection_method,
        "created": start,
        "currency": currency,
        "customer": customer_id,
        "days_until_due": p.int("days_until_due")?,
        "default_payment_method": p.str("default_payment_method")?,
        "default_source": null,
        "default_tax_rates": [],
        "description": p.str("description")?,
        "discounts": [],
        "ended_at": null,
        "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
        "items": {"object": "list", "data": data, "has_more": false, "url": format!("/v1/subscription_items?subscription={id}")},
        "latest_invoice": null,
        "livemode": books.livemode,
        "metadata": metadata(p)?,
        "next_pending_invoice_item_invoice": null,
        "on_behalf_of": null,
        "pause_collection": null,
        "payment_settings": {"payment_method_options": null, "payment_method_types": null, "save_default_payment_method": "off"},
        "pending_invoice_item_interval": null,
        "pending_setup_intent": null,
        "pending_update": null,
        "schedule": null,
        "start_date": start,
        "status": if trial_end.is_some() { "trialing" } else { "active" },
        "test_clock": null,
        "transfer_data": null,
        "trial_end": trial_end,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": trial_end.map(|_| start),
    });
    let mut subscription = subscription;
    if subscription["cancel_at_period_end"] == true {
        subscription["cancel_at"] = json!(end);
    }
    books.insert("subscriptions", subscription.clone());
    Ok(subscription)
}

/// `GET /v1/subscriptions`: canceled ones only with `status=canceled|ended|all`, as in Stripe.
pub fn list_subscriptions(books: &Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::LIST_SUBSCRIPTION)?;
    let customer = p.str("customer")?;
    let price = p.str("price")?;
    let status = p.one_of(
        "status",
        &[
            "active",
            "all",
            "canceled",
            "ended",
            "incomplete",
            "incomplete_expired",
            "past_due",
            "paused",
            "trialing",
            "unpaid",
        ],
    )?;
    list(books, "subscriptions", p, |subscription| {
        let state = subscription["status"].as_str().unwrap_or_default();
        let status_ok = match status.as_deref() {
            None => state != "canceled" && state != "incomplete_expired",
            Some("all") => true,
            Some("ended") => state == "canceled" || state == "incomplete_expired",
            Some(wanted) => state == wanted,
        };
        let price_ok = price.as_ref().is_none_or(|price| {
            subscription["items"]["data"]
                .as_array()
                .is_some_and(|items| {
                    items
                        .iter()
                        .any(|item| item["price"]["id"] == price.as_str())
                })
        });
        status_ok
            && price_ok
            && customer
                .as_ref()
                .is_none_or(|id| subscription["customer"] == id.as_str())
    })
}

/// `POST /v1/subscriptions/{id}`: items (change price or quantity by `id`, add without, `deleted=true` removes),
/// `cancel_at_period_end`, `proration_behavior`, `metadata`, `description`.
pub fn update_subscription(books: &mut Books, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::UPDATE_SUBSCRIPTION)?;
    let mut subscription = books.get("subscriptions", id)?;
    p.one_of(
        "proration_behavior",
        &["always_invoice", "create_prorations", "none"],
    )?;
    if subscription["status"] == "canceled" {
        let only_allowed =
            p.0.keys()
                .all(|key| ["cancellation_details", "metadata", "expand"].contains(&key.as_str()));
        if !only_allowed {
            return Err(ApiError::state(
                "resource_missing",
                "A canceled subscription can only update its cancellation_details and metadata.",
                None,
            )
            .with_code("subscription_canceled"));
        }
    }
    let mut data: Vec<Value> = subscription["items"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let start = data
        .first()
        .and_then(|item| item["current_period_start"].as_i64())
        .unwrap_or_else(now);
    let end = data
        .first()
        .and_then(|item| item["current_period_end"].as_i64())
        .unwrap_or_else(now);
    for (index, change) in p.list("items")?.iter().enumerate() {
        let change = item_params(change);
        let param = |name: &str| format!("items[{index}][{name}]");
        let price = match change.str("price")? {
            Some(price_id) => {
                let price = recurring_price(books, &price_id, &param("price"))?;
                if price["currency"] != subscription["currency"] {
                    return Err(ApiError::invalid(
                        "Currency and interval fields must match across all plans on this subscription.",
                        Some(&param("price")),
                    ));
                }
                Some(price)
            }
            None => None,
        };
        let quantity = quantity_of(&change, &param("quantity"))?;
        match change.str("id")? {
            Some(item_id) => {
                let Some(position) = data.iter().position(|item| item["id"] == item_id.as_str())
                else {
                    return Err(ApiError::no_such_param(
                        "subscription_item",
                        &item_id,
                        &param("id"),
                    ));
                };
                if change.bool("deleted")?.unwrap_or(false) {
                    data.remove(position);
                    continue;
                }
                let item = &mut data[position];
                if let Some(price) = &price {
                    item["price"] = price.clone();
                    item["plan"] = plan_of(price);
                }
                if let Some(quantity) = quantity {
                    item["quantity"] = json!(quantity);
                }
                update_metadata(item, &change)?;
            }
            None => {
                let Some(price) = price else {
                    return Err(ApiError::missing(&param("price")));
                };
                data.push(subscription_item(
                    books,
                    id,
                    &price,
                    quantity.unwrap_or(1),
                    &change,
                    start,
                    end,
                )?);
            }
        }
    }
    if data.is_empty() {
        return Err(ApiError::invalid(
            "A subscription must have at least one active plan. To cancel a subscription, please use the cancel API endpoint.",
            Some("items"),
        ));
    }
    subscription["items"]["data"] = json!(data);
    if let Some(cancel) = p.bool("cancel_at_period_end")? {
        subscription["cancel_at_period_end"] = json!(cancel);
        subscription["cancel_at"] = if cancel { json!(end) } else { Value::Null };
        subscription["canceled_at"] = if cancel { json!(now()) } else { Value::Null };
    }
    for field in ["description", "default_payment_method"] {
        if p.has(field) {
            subscription[field] = json!(p.str(field)?);
        }
    }
    if let Some(details) = p.hash("cancellation_details")? {
        subscription["cancellation_details"]["comment"] = json!(details.str("comment")?);
        subscription["cancellation_details"]["feedback"] = json!(details.str("feedback")?);
    }
    update_metadata(&mut subscription, p)?;
    books.put("subscriptions", subscription.clone());
    Ok(subscription)
}

/// `DELETE /v1/subscriptions/{id}`: canceled now.
pub fn cancel_subscription(books: &mut Books, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::CANCEL_SUBSCRIPTION)?;
    let mut subscription = books.get("subscriptions", id)?;
    if subscription["status"] == "canceled" {
        return Err(ApiError::no_such("subscription", id));
    }
    let at = now();
    subscription["status"] = json!("canceled");
    subscription["canceled_at"] = json!(at);
    subscription["ended_at"] = json!(at);
    subscription["cancellation_details"]["reason"] = json!("cancellation_requested");
    if let Some(details) = p.hash("cancellation_details")? {
        subscription["cancellation_details"]["comment"] = json!(details.str("comment")?);
        subscription["cancellation_details"]["feedback"] = json!(details.str("feedback")?);
    }
    books.put("subscriptions", subscription.clone());
    Ok(subscription)
}

// ----------------------------------------------------------------------
// Coupons
// ----------------------------------------------------------------------

/// `POST /v1/coupons`: `percent_off` or `amount_off` with `currency`; `duration` once (default), repeating (with
/// `duration_in_months`) or forever.
pub fn create_coupon(books: &mut Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::CREATE_COUPON)?;
    let percent_off = p.float("percent_off")?;
    let amount_off = p.non_negative("amount_off")?;
    let currency = match p.str("currency")? {
        Some(currency) => Some(currency::check(&currency, "currency")?),
        None => None,
    };
    match (percent_off, amount_off) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "You may only specify one of these parameters: amount_off, percent_off.",
                None,
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "You must pass either `percent_off` or `amount_off`.",
                None,
            ));
        }
        (Some(percent), None) if !(percent > 0.0 && percent <= 100.0) => {
            return Err(ApiError::invalid(
                "Invalid percent_off: must be greater than 0 and at most 100",
                Some("percent_off"),
            ));
        }
        (None, Some(_)) if currency.is_none() => {
            return Err(ApiError::invalid(
                "You must pass currency when passing amount_off",
                Some("currency"),
            ));
        }
        _ => {}
    }
    let duration = p
        .one_of("duration", &["forever", "once", "repeating"])?
        .unwrap_or_else(|| "once".into());
    let months = p.int("duration_in_months")?;
    if duration == "repeating" && months.is_none() {
        return Err(ApiError::missing("duration_in_months"));
    }
    if duration != "repeating" && months.is_some() {
        return Err(ApiError::invalid(
            "Invalid duration_in_months: can only be set when duration is repeating",
            Some("duration_in_months"),
        ));
    }
    let id = match p.str("id")? {
        Some(id) => {
            if books.collection("coupons").get(&id).is_some() {
                return Err(ApiError::state(
                    "resource_already_exists",
                    "Coupon already exists.",
                    Some("id"),
                ));
            }
            id
        }
        None => random_text(8),
    };
    let coupon = json!({
        "id": id,
        "object": "coupon",
        "amount_off": amount_off,
        "applies_to": null,
        "created": now(),
        "currency": if amount_off.is_some() { json!(currency) } else { Value::Null },
        "duration": duration,
        "duration_in_months": months,
        "livemode": books.livemode,
        "max_redemptions": p.int("max_redemptions")?,
        "metadata": metadata(p)?,
        "name": p.str("name")?,
        "percent_off": percent_off,
        "redeem_by": p.int("redeem_by")?,
        "times_redeemed": 0,
        "valid": true,
    });
    books.insert("coupons", coupon.clone());
    Ok(coupon)
}
