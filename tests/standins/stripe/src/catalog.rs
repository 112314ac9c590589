//! Customers, products, prices and payment links.

use serde_json::{Value, json};

use crate::api::{address, list, metadata, update_metadata};
use crate::currency;
use crate::error::ApiError;
use crate::form::Params;
use crate::ids::{new_id, now, random_text};
use crate::params as known;
use crate::state::Books;

fn check_email(email: &Option<String>) -> Result<(), ApiError> {
    if let Some(email) = email {
        let valid = email.len() <= 512
            && !email.contains(char::is_whitespace)
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
            });
        if !valid {
            return Err(ApiError::invalid(
                format!("Invalid email address: {email}"),
                Some("email"),
            )
            .with_code("email_invalid"));
        }
    }
    Ok(())
}

fn invoice_settings(p: &Params) -> Result<Value, ApiError> {
    let default_payment_method = match p.hash("invoice_settings")? {
        Some(hash) => hash.str("default_payment_method")?,
        None => None,
    };
    Ok(json!({
        "custom_fields": null,
        "default_payment_method": default_payment_method,
        "footer": null,
        "rendering_options": null,
    }))
}

/// `POST /v1/customers`.
pub fn create_customer(books: &mut Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::CREATE_CUSTOMER)?;
    let email = p.str("email")?;
    check_email(&email)?;
    let customer = json!({
        "id": new_id("cus"),
        "object": "customer",
        "address": address(p, "address")?,
        "balance": p.int("balance")?.unwrap_or(0),
        "business_name": p.str("business_name")?,
        "created": now(),
        "currency": null,
        "default_source": null,
        "delinquent": false,
        "description": p.str("description")?,
        "discount": null,
        "email": email,
        "individual_name": p.str("individual_name")?,
        "invoice_prefix": p.str("invoice_prefix")?.unwrap_or_else(|| random_text(8).to_uppercase()),
        "invoice_settings": invoice_settings(p)?,
        "livemode": books.livemode,
        "metadata": metadata(p)?,
        "name": p.str("name")?,
        "next_invoice_sequence": p.int("next_invoice_sequence")?.unwrap_or(1),
        "phone": p.str("phone")?,
        "preferred_locales": p.list("preferred_locales")?,
        "shipping": null,
        "tax_exempt": p.one_of("tax_exempt", &["exempt", "none", "reverse"])?.unwrap_or_else(|| "none".into()),
        "test_clock": null,
    });
    books.insert("customers", customer.clone());
    Ok(customer)
}

/// `POST /v1/customers/{id}`.
pub fn update_customer(books: &mut Books, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::UPDATE_CUSTOMER)?;
    let mut customer = books.get("customers", id)?;
    for field in [
        "name",
        "email",
        "phone",
        "description",
        "business_name",
        "individual_name",
        "invoice_prefix",
    ] {
        if p.has(field) {
            let value = p.str(field)?;
            if field == "email" {
                check_email(&value)?;
            }
            customer[field] = json!(value);
        }
    }
    if p.has("address") {
        customer["address"] = address(p, "address")?;
    }
    if p.has("balance") {
        customer["balance"] = json!(p.int("balance")?.unwrap_or(0));
    }
    if p.has("preferred_locales") {
        customer["preferred_locales"] = json!(p.list("preferred_locales")?);
    }
    if p.has("invoice_settings") {
        customer["invoice_settings"] = invoice_settings(p)?;
    }
    if p.has("tax_exempt") {
        customer["tax_exempt"] = json!(p.one_of("tax_exempt", &["exempt", "none", "reverse"])?);
    }
    update_metadata(&mut customer, p)?;
    books.put("customers", customer.clone());
    Ok(customer)
}

/// `GET /v1/customers`: `email` is an exact, case-sensitive match, as in Stripe.
pub fn list_customers(books: &Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::LIST_CUSTOMER)?;
    let email = p.str("email")?;
    list(books, "customers", p, |customer| {
        email
            .as_ref()
            .is_none_or(|email| customer["email"] == email.as_str())
    })
}

fn product_object(books: &Books, id: String, name: String, p: &Params) -> Result<Value, ApiError> {
    let created = now();
    Ok(json!({
        "id": id,
        "object": "product",
        "active": p.bool("active")?.unwrap_or(true),
        "attributes": [],
        "created": created,
        "default_price": null,
        "description": p.str("description")?,
        "images": p.list("images")?,
        "livemode": books.livemode,
        "marketing_features": [],
        "metadata": metadata(p)?,
        "name": name,
        "package_dimensions": null,
        "shippable": p.bool("shippable")?,
        "statement_descriptor": p.str("statement_descriptor")?,
        "tax_code": p.str("tax_code")?,
        "type": "service",
        "unit_label": p.str("unit_label")?,
        "updated": created,
        "url": p.str("url")?,
    }))
}

/// `POST /v1/products` (with `default_price_data` creating its price).
pub fn create_product(books: &mut Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::CREATE_PRODUCT)?;
    let name = p.required_str("name")?;
    let id = match p.str("id")? {
        Some(id) => {
            if books.collection("products").get(&id).is_some() {
                return Err(ApiError::state(
                    "resource_already_exists",
                    "Product already exists.",
                    Some("id"),
                ));
            }
            id
        }
        None => new_id("prod"),
    };
    let mut product = product_object(books, id.clone(), name, p)?;
    if let Some(data) = p.hash("default_price_data")? {
        let mut price_params = data.clone();
        price_params.0.insert("product".into(), json!(id));
        // Validate before storing anything, so a bad price leaves no product behind.
        let price = price_object(books, &price_params, &product)?;
        product["default_price"] = price["id"].clone();
        books.insert("products", product.clone());
        books.insert("prices", price);
    } else {
        books.insert("products", product.clone());
    }
    Ok(product)
}

/// `GET /v1/products`.
pub fn list_products(books: &Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::LIST_PRODUCT)?;
    let active = p.bool("active")?;
    let ids: Option<Vec<String>> = p.has("ids").then(|| {
        p.list("ids")
            .unwrap_or_default()
            .iter()
            .filter_map(|id| id.as_str().map(str::to_string))
            .collect()
    });
    list(books, "products", p, |product| {
        active.is_none_or(|active| product["active"] == active)
            && ids
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|id| product["id"] == id.as_str()))
    })
}

fn price_object(books: &Books, p: &Params, product: &Value) -> Result<Value, ApiError> {
    let currency = currency::check(&p.required_str("currency")?, "currency")?;
    let unit_amount = match (
        p.non_negative("unit_amount")?,
        p.str("unit_amount_decimal")?,
    ) {
        (Some(amount), _) => amount,
        (None, Some(decimal)) => decimal
            .parse::<f64>()
            .map(|value| value.round() as i64)
            .map_err(|_| {
                ApiError::invalid(
                    format!("Invalid decimal: {decimal}"),
                    Some("unit_amount_decimal"),
                )
            })?,
        (None, None) if p.has("custom_unit_amount") || p.has("tiers") => 0,
        (None, None) => return Err(ApiError::missing("unit_amount")),
    };
    let recurring = match p.hash("recurring")? {
        None => Value::Null,
        Some(recurring) => {
            let interval = recurring
                .one_of("interval", &["day", "month", "week", "year"])
                .map_err(|error| ApiError {
                    param: Some("recurring[interval]".into()),
                    ..error
                })?
                .ok_or_else(|| ApiError::missing("recurring[interval]"))?;
            let interval_count = recurring.int("interval_count")?.unwrap_or(1);
            let max = match interval.as_str() {
                "day" => 1095,
                "week" => 156,
                "month" => 36,
                _ => 3,
            };
            if !(1..=max).contains(&interval_count) {
                return Err(ApiError::invalid(
                    format!(
                        "Invalid recurring[interval_count]: the maximum billing period is 3 years ({max} {interval}s)"
                    ),
                    Some("recurring[interval_count]"),
                ));
            }
            json!({
                "interval": interval,
                "interval_count": interval_count,
                "meter": null,
                "trial_period_days": recurring.int("trial_period_days")?,
                "usage_type": recurring.one_of("usage_type", &["licensed", "metered"])?.unwrap_or_else(|| "licensed".into()),
            })
        }
    };
    Ok(json!({
        "id": new_id("price"),
        "object": "price",
        "active": p.bool("active")?.unwrap_or(true),
        "billing_scheme": "per_unit",
        "created": now(),
        "currency": currency,
        "custom_unit_amount": null,
        "livemode": books.livemode,
        "lookup_key": p.str("lookup_key")?,
        "metadata": metadata(p)?,
        "nickname": p.str("nickname")?,
        "product": product["id"],
        "recurring": recurring.clone(),
        "tax_behavior": p.one_of("tax_behavior", &["exclusive", "inclusive", "unspecified"])?.unwrap_or_else(|| "unspecified".into()),
        "tiers_mode": null,
        "transform_quantity": null,
        "type": if recurring.is_null() { "one_time" } else { "recurring" },
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_amount.to_string(),
    }))
}

/// `POST /v1/prices`: `product` must exist (or `product_data` creates one).
pub fn create_price(books: &mut Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::CREATE_PRICE)?;
    let product = match (p.str("product")?, p.hash("product_data")?) {
        (Some(id), _) => books.get_param("products", &id, "product")?,
        (None, Some(data)) => {
            let name = data
                .required_str("name")
                .map_err(|_| ApiError::missing("product_data[name]"))?;
            product_object(books, new_id("prod"), name, &data)?
        }
        (None, None) => return Err(ApiError::missing("product")),
    };
    if let Some(key) = p.str("lookup_key")?
        && !p.bool("transfer_lookup_key")?.unwrap_or(false)
        && books
            .collection("prices")
            .newest_first()
            .any(|price| price["lookup_key"] == key.as_str())
    {
        return Err(ApiError::invalid(
            format!(
                "A price (`{key}`) already uses that lookup key. Pass `transfer_lookup_key=true` to move it."
            ),
            Some("lookup_key"),
        ));
    }
    let price = price_object(books, p, &product)?;
    if books
        .collection("products")
        .get(product["id"].as_str().unwrap_or_default())
        .is_none()
    {
        books.insert("products", product);
    }
    books.insert("prices", price.clone());
    Ok(price)
}

/// `GET /v1/prices`.
pub fn list_prices(books: &Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::LIST_PRICE)?;
    let active = p.bool("active")?;
    let product = p.str("product")?;
    let currency = p.str("currency")?;
    let kind = p.one_of("type", &["one_time", "recurring"])?;
    list(books, "prices", p, |price| {
        active.is_none_or(|active| price["active"] == active)
            && product
                .as_ref()
                .is_none_or(|id| price["product"] == id.as_str())
            && currency
                .as_ref()
                .is_none_or(|currency| price["currency"] == currency.as_str())
            && kind
                .as_ref()
                .is_none_or(|kind| price["type"] == kind.as_str())
    })
}

/// `POST /v1/payment_links`: every line item needs an active price and a quantity.
pub fn create_payment_link(books: &mut Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::CREATE_PAYMENT_LINK)?;
    let items = p.list("line_items")?;
    if items.is_empty() {
        return Err(ApiError::missing("line_items"));
    }
    let mut currency: Option<String> = None;
    for (index, item) in items.iter().enumerate() {
        let item = Params(item.as_object().cloned().unwrap_or_default());
        let param = |name: &str| format!("line_items[{index}][{name}]");
        let price_id = item
            .str("price")?
            .ok_or_else(|| ApiError::missing(&param("price")))?;
        let price = books.get_param("prices", &price_id, &param("price"))?;
        if price["active"] != true {
            return Err(ApiError::invalid(
                format!("The price `{price_id}` is not active."),
                Some(&param("price")),
            ));
        }
        let quantity = item
            .int("quantity")
            .map_err(|error| ApiError {
                param: Some(param("quantity")),
                ..error
            })?
            .ok_or_else(|| ApiError::missing(&param("quantity")))?;
        if quantity < 1 {
            return Err(ApiError::invalid(
                "Invalid quantity: must be at least 1",
                Some(&param("quantity")),
            ));
        }
        let price_currency = price["currency"].as_str().unwrap_or("usd").to_string();
        if currency
            .as_ref()
            .is_some_and(|known| *known != price_currency)
        {
            return Err(ApiError::invalid(
                "All prices on a payment link must have the same currency.",
                Some(&param("price")),
            ));
        }
        currency = Some(price_currency);
    }
    let id = new_id("plink");
    let mode = if books.livemode { "" } else { "test_" };
    let link = json!({
        "id": id,
        "object": "payment_link",
        "active": true,
        "after_completion": {"hosted_confirmation": {"custom_message": null}, "type": "hosted_confirmation"},
        "allow_promotion_codes": p.bool("allow_promotion_codes")?.unwrap_or(false),
        "application": null,
        "application_fee_amount": null,
        "application_fee_percent": null,
        "automatic_tax": {"enabled": false, "liability": null},
        "billing_address_collection": p.one_of("billing_address_collection", &["auto", "required"])?.unwrap_or_else(|| "auto".into()),
        "consent_collection": null,
        "currency": currency,
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "customer_creation": p.one_of("customer_creation", &["always", "if_required"])?.unwrap_or_else(|| "if_required".into()),
        "inactive_message": null,
        "invoice_creation": null,
        "livemode": books.livemode,
        "metadata": metadata(p)?,
        "on_behalf_of": null,
        "payment_intent_data": null,
        "payment_method_collection": "always",
        "payment_method_types": null,
        "phone_number_collection": {"enabled": false},
        "restrictions": null,
        "shipping_address_collection": null,
        "shipping_options": [],
        "submit_type": p.one_of("submit_type", &["auto", "book", "donate", "pay", "subscribe"])?.unwrap_or_else(|| "auto".into()),
        "subscription_data": null,
        "tax_id_collection": {"enabled": false, "required": "never"},
        "transfer_data": null,
        "url": format!("https://buy.stripe.com/{mode}{}", random_text(20)),
    });
    books.insert("payment_links", link.clone());
    Ok(link)
}
