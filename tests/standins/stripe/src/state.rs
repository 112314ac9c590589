//! In-memory objects: one [`Books`] per mode (test/live) and Connect account, each object kept as the JSON Stripe
//! would answer, in creation order.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::error::ApiError;

/// The resources, their id prefixes and the names Stripe's "No such …" messages use.
pub const RESOURCES: &[(&str, &str, &str)] = &[
    ("customers", "cus", "customer"),
    ("products", "prod", "product"),
    ("prices", "price", "price"),
    ("payment_links", "plink", "payment_link"),
    ("invoices", "in", "invoice"),
    ("invoiceitems", "ii", "invoiceitem"),
    ("payment_intents", "pi", "payment_intent"),
    ("charges", "ch", "charge"),
    ("refunds", "re", "refund"),
    ("subscriptions", "sub", "subscription"),
    ("coupons", "", "coupon"),
    ("disputes", "dp", "dispute"),
    ("balance_transactions", "txn", "balance_transaction"),
];

/// The resource an id belongs to, by its prefix (coupons have free-form ids and are never found this way).
pub fn resource_of_id(id: &str) -> Option<&'static str> {
    let (prefix, _) = id.split_once('_')?;
    RESOURCES
        .iter()
        .find(|(_, known, _)| !known.is_empty() && *known == prefix)
        .map(|(resource, _, _)| *resource)
}

/// The singular name of a resource for messages (`customer`).
pub fn singular(resource: &str) -> &'static str {
    RESOURCES
        .iter()
        .find(|(name, _, _)| *name == resource)
        .map(|(_, _, singular)| *singular)
        .unwrap_or("object")
}

/// Objects of one resource in creation order.
#[derive(Debug, Clone, Default)]
pub struct Collection {
    order: Vec<String>,
    objects: HashMap<String, Value>,
}

impl Collection {
    /// Adds (or replaces) an object by its `id`.
    pub fn insert(&mut self, object: Value) {
        let id = object["id"].as_str().unwrap_or_default().to_string();
        if self.objects.insert(id.clone(), object).is_none() {
            self.order.push(id);
        }
    }

    /// The object with this id.
    pub fn get(&self, id: &str) -> Option<&Value> {
        self.objects.get(id)
    }

    /// The object with this id, to change it in place.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.objects.get_mut(id)
    }

    /// Newest first, as Stripe lists.
    pub fn newest_first(&self) -> impl Iterator<Item = &Value> {
        self.order
            .iter()
            .rev()
            .filter_map(|id| self.objects.get(id))
    }

    /// How many objects there are.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The position of `id` in creation order.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.order.iter().position(|known| known == id)
    }

    /// All objects (in no particular order), to change them in place.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        self.objects.values_mut()
    }
}

/// Everything one API key sees: a mode and an account.
#[derive(Debug, Clone)]
pub struct Books {
    /// Live mode (keys `sk_live_…`) or test mode.
    pub livemode: bool,
    /// The account the objects belong to (the platform's or a Connect account from `Stripe-Account`).
    pub account: String,
    collections: BTreeMap<&'static str, Collection>,
    /// Balance per currency: `[available, pending]`.
    pub balance: BTreeMap<String, [i64; 2]>,
    /// The next invoice number's sequence.
    pub invoice_sequence: u64,
}

impl Books {
    /// Empty books.
    pub fn new(livemode: bool, account: &str) -> Books {
        Books {
            livemode,
            account: account.to_string(),
            collections: RESOURCES
                .iter()
                .map(|(name, _, _)| (*name, Collection::default()))
                .collect(),
            balance: BTreeMap::new(),
            invoice_sequence: 1,
        }
    }

    /// One resource's objects.
    pub fn collection(&self, resource: &str) -> &Collection {
        static EMPTY: std::sync::OnceLock<Collection> = std::sync::OnceLock::new();
        self.collections
            .get(resource)
            .unwrap_or_else(|| EMPTY.get_or_init(Collection::default))
    }

    /// One resource's objects, to change.
    pub fn collection_mut(&mut self, resource: &'static str) -> &mut Collection {
        self.collections.entry(resource).or_default()
    }

    /// Adds an object to its resource.
    pub fn insert(&mut self, resource: &'static str, object: Value) {
        self.collection_mut(resource).insert(object);
    }

    /// A copy of an object named in the path, or 404 `resource_missing`.
    pub fn get(&self, resource: &'static str, id: &str) -> Result<Value, ApiError> {
        self.collection(resource)
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::no_such(singular(resource), id))
    }

    /// A copy of an object named by a parameter, or 400 `resource_missing` naming the parameter.
    pub fn get_param(
        &self,
        resource: &'static str,
        id: &str,
        param: &str,
    ) -> Result<Value, ApiError> {
        self.collection(resource)
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::no_such_param(singular(resource), id, param))
    }

    /// Stores a changed object back.
    pub fn put(&mut self, resource: &'static str, object: Value) {
        self.insert(resource, object);
    }

    /// Looks an object up by id alone (for `expand`).
    pub fn find(&self, id: &str) -> Option<&Value> {
        let resource = resource_of_id(id)?;
        self.collection(resource).get(id)
    }

    /// Adds to the balance of `currency`.
    pub fn credit(&mut self, currency: &str, available: i64, pending: i64) {
        let entry = self.balance.entry(currency.to_string()).or_insert([0, 0]);
        entry[0] += available;
        entry[1] += pending;
    }
}
