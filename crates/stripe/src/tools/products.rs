//! The catalogue: products, prices and payment links.

use mcp_common::{Json, Previews, ToolError};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use stripe_payment::payment_link::{CreatePaymentLink, CreatePaymentLinkLineItems};
use stripe_product::price::{
    CreatePrice, CreatePriceRecurring, CreatePriceRecurringInterval, ListPrice,
};
use stripe_product::product::{CreateProduct, ListProduct};

use super::{
    ListResult, MetadataEntry, ObjectResult, Page, ReadScope, Stripe, WriteScope, id_of, limit_of,
    metadata_of,
};
use crate::money;

/// `list_products`' filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListProductsArgs {
    /// Only active (true) or archived (false) products
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(flatten)]
    pub page: Page,
    #[serde(flatten)]
    pub scope: ReadScope,
}

/// `list_prices`' filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListPricesArgs {
    /// Only the prices of this product (prod_…)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Only active (true) or archived (false) prices
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(flatten)]
    pub page: Page,
    #[serde(flatten)]
    pub scope: ReadScope,
}

/// A new product.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CreateProductArgs {
    /// The product's name, shown to customers
    pub name: String,
    /// Its description, shown to customers
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Key-value pairs to store with the product
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataEntry>>,
    #[serde(flatten)]
    pub write: WriteScope,
}

/// How often a recurring price charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    /// Every day
    Day,
    /// Every week
    Week,
    /// Every month
    Month,
    /// Every year
    Year,
}

impl Interval {
    fn word(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }
}

/// A new price.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CreatePriceArgs {
    /// The product it prices (prod_…)
    pub product: String,
    /// Amount in the currency's smallest unit: 2900 is €29.00
    pub unit_amount: i64,
    /// Three-letter ISO currency code, e.g. eur
    pub currency: String,
    /// For a subscription price: how often it charges; without it the price is one-time
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
    /// Charge every this many intervals (default 1), e.g. 3 with month for quarterly
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_count: Option<u32>,
    /// An internal name for the price
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// A stable key to find the price by
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup_key: Option<String>,
    /// Key-value pairs to store with the price
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataEntry>>,
    #[serde(flatten)]
    pub write: WriteScope,
}

/// One line of a payment link.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LineItem {
    /// The price (price_…)
    pub price: String,
    /// How many, at least 1
    pub quantity: u64,
}

/// A new payment link.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CreatePaymentLinkArgs {
    /// What the link sells: 1 to 20 lines
    pub line_items: Vec<LineItem>,
    /// Key-value pairs to store with the link
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataEntry>>,
    #[serde(flatten)]
    pub write: WriteScope,
}

#[tool_router(router = product_tools, vis = "pub(crate)")]
impl Stripe {
    #[tool(
        description = "List products, newest first, a page at a time; optionally only active or archived ones.",
        annotations(title = "List products", read_only_hint = true, open_world_hint = true)
    )]
    async fn list_products(
        &self,
        Parameters(args): Parameters<ListProductsArgs>,
    ) -> Result<Json<ListResult>, ToolError> {
        let mut request = ListProduct::new();
        if let Some(limit) = limit_of(&args.page)? {
            request = request.limit(limit);
        }
        if let Some(after) = &args.page.starting_after {
            request = request.starting_after(after.trim().to_owned());
        }
        if let Some(active) = args.active {
            request = request.active(active);
        }
        self.list("list_products", &args.scope, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "List prices, newest first, a page at a time; optionally of one product, or only active or archived ones.",
        annotations(title = "List prices", read_only_hint = true, open_world_hint = true)
    )]
    async fn list_prices(
        &self,
        Parameters(args): Parameters<ListPricesArgs>,
    ) -> Result<Json<ListResult>, ToolError> {
        let mut request = ListPrice::new();
        if let Some(limit) = limit_of(&args.page)? {
            request = request.limit(limit);
        }
        if let Some(after) = &args.page.starting_after {
            request = request.starting_after(id_of("starting_after", after, &["price_"])?);
        }
        if let Some(product) = &args.product {
            request = request.product(id_of("product", product, &["prod_"])?);
        }
        if let Some(active) = args.active {
            request = request.active(active);
        }
        self.list("list_prices", &args.scope, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Create a product (name, description, metadata); give it prices with create_price.",
        annotations(
            title = "Create a product",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn create_product(
        &self,
        Parameters(args): Parameters<CreateProductArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let name = args.name.trim();
        if name.is_empty() {
            return Err(ToolError::invalid("name", "a non-empty product name"));
        }
        let mut request = CreateProduct::new(name.to_owned());
        if let Some(description) = &args.description {
            request = request.description(description.clone());
        }
        if let Some(metadata) = metadata_of(&args.metadata)? {
            request = request.metadata(metadata);
        }
        self.write("create_product", &args, &args.write, &context, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Create a price for a product: one-time, or recurring every day, week, month or year (amount in the currency's smallest unit).",
        annotations(
            title = "Create a price",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn create_price(
        &self,
        Parameters(args): Parameters<CreatePriceArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let currency =
            money::currency(&args.currency).map_err(|e| ToolError::invalid("currency", e))?;
        let amount = money::amount("unit_amount", args.unit_amount, &args.currency)?;
        let product = id_of("product", &args.product, &["prod_"])?;
        let mut request = CreatePrice::new(currency)
            .product(product)
            .unit_amount(amount);
        match (args.interval, args.interval_count) {
            (Some(interval), count) => {
                let mut recurring = CreatePriceRecurring::new(match interval {
                    Interval::Day => CreatePriceRecurringInterval::Day,
                    Interval::Week => CreatePriceRecurringInterval::Week,
                    Interval::Month => CreatePriceRecurringInterval::Month,
                    Interval::Year => CreatePriceRecurringInterval::Year,
                });
                if let Some(count) = count {
                    if count == 0 {
                        return Err(ToolError::invalid(
                            "interval_count",
                            "a whole number of at least 1",
                        ));
                    }
                    recurring.interval_count = Some(u64::from(count));
                }
                request = request.recurring(recurring);
            }
            (None, Some(_)) => {
                return Err(ToolError::invalid(
                    "interval",
                    "day, week, month or year when interval_count is given",
                ));
            }
            (None, None) => {}
        }
        if let Some(nickname) = &args.nickname {
            request = request.nickname(nickname.clone());
        }
        if let Some(key) = &args.lookup_key {
            request = request.lookup_key(key.clone());
        }
        if let Some(metadata) = metadata_of(&args.metadata)? {
            request = request.metadata(metadata);
        }
        self.write("create_price", &args, &args.write, &context, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Create a payment link that sells the given prices (1 to 20 lines); anyone with the link can pay.",
        annotations(
            title = "Create a payment link",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn create_payment_link(
        &self,
        Parameters(args): Parameters<CreatePaymentLinkArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        if args.line_items.is_empty() || args.line_items.len() > 20 {
            return Err(ToolError::invalid(
                "line_items",
                "1 to 20 lines of price and quantity",
            ));
        }
        let mut lines = Vec::with_capacity(args.line_items.len());
        for (index, line) in args.line_items.iter().enumerate() {
            let price = id_of(
                &format!("line_items[{index}].price"),
                &line.price,
                &["price_"],
            )?;
            if line.quantity == 0 {
                return Err(ToolError::invalid(
                    format!("line_items[{index}].quantity"),
                    "a whole number of at least 1",
                ));
            }
            let mut item = CreatePaymentLinkLineItems::new(line.quantity);
            item.price = Some(price);
            lines.push(item);
        }
        let mut request = CreatePaymentLink::new(lines);
        if let Some(metadata) = metadata_of(&args.metadata)? {
            request = request.metadata(metadata);
        }
        self.write(
            "create_payment_link",
            &args,
            &args.write,
            &context,
            &request,
        )
        .await
        .map(Json)
    }
}

/// The consent previews of the catalogue's writes.
pub(crate) fn previews(previews: Previews<Stripe>) -> Previews<Stripe> {
    previews
        .on(
            "create_product",
            |_: Stripe, args: CreateProductArgs| async move {
                Some(format!("create the product {:?}", args.name.trim()))
            },
        )
        .on(
            "create_price",
            |_: Stripe, args: CreatePriceArgs| async move { Some(price_preview(&args)) },
        )
        .on(
            "create_payment_link",
            |stripe: Stripe, args: CreatePaymentLinkArgs| async move {
                let mut lines = Vec::new();
                for line in &args.line_items {
                    let request = stripe_product::price::RetrievePrice::new(line.price.clone());
                    let shown = match stripe.read("preview", &args.write.account, &request).await {
                        Ok(price) => {
                            match (price["unit_amount"].as_i64(), price["currency"].as_str()) {
                                (Some(amount), Some(currency)) => {
                                    format!(
                                        "{} × {} ({})",
                                        line.quantity,
                                        money::display(amount, currency),
                                        line.price
                                    )
                                }
                                _ => format!("{} × {}", line.quantity, line.price),
                            }
                        }
                        Err(_) => format!("{} × {}", line.quantity, line.price),
                    };
                    lines.push(shown);
                }
                Some(format!(
                    "create a public payment link selling {}; anyone with the link can pay",
                    lines.join(", ")
                ))
            },
        )
}

/// `create a price of €29.00 every month for the product prod_1`.
fn price_preview(args: &CreatePriceArgs) -> String {
    let amount = money::display(args.unit_amount, &args.currency);
    let every = match (args.interval, args.interval_count) {
        (Some(interval), Some(count)) if count > 1 => {
            format!(" every {count} {}s", interval.word())
        }
        (Some(interval), _) => format!(" every {}", interval.word()),
        (None, _) => " (one-time)".to_owned(),
    };
    format!(
        "create a price of {amount}{every} for the product {}",
        args.product
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(interval: Option<Interval>, count: Option<u32>) -> CreatePriceArgs {
        CreatePriceArgs {
            product: "prod_1".into(),
            unit_amount: 2900,
            currency: "eur".into(),
            interval,
            interval_count: count,
            nickname: None,
            lookup_key: None,
            metadata: None,
            write: WriteScope::default(),
        }
    }

    #[test]
    fn price_previews_say_amount_and_rhythm() {
        // (interval, count, preview)
        let cases = [
            (
                None,
                None,
                "create a price of €29.00 (one-time) for the product prod_1",
            ),
            (
                Some(Interval::Month),
                None,
                "create a price of €29.00 every month for the product prod_1",
            ),
            (
                Some(Interval::Month),
                Some(3),
                "create a price of €29.00 every 3 months for the product prod_1",
            ),
            (
                Some(Interval::Year),
                Some(1),
                "create a price of €29.00 every year for the product prod_1",
            ),
        ];
        for (interval, count, expected) in cases {
            assert_eq!(price_preview(&price(interval, count)), expected);
        }
    }
}
