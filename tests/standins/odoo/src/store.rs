//! The in-memory database and the ORM methods Odoo exposes over RPC, with Odoo 19's semantics and error messages.
//!
//! Records hold stored values in their raw form (many2one as an id or `False`, unset text as `False`); `read` turns
//! them into what Odoo answers (many2one as `[id, "Display Name"]`, unset integers as `0`).
//! Computed fields (`display_name`, `complete_name`, one2many lists, activity `state`, ...) are computed on access.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use crate::clock;
use crate::domain::{Condition, Domain, like_match};
use crate::error::OdooError;
use crate::schema::{FieldDef, FieldType, ModelDef};
use crate::seed;
use crate::value::Value;

/// Stored values of one record, by field name.
pub type Record = BTreeMap<String, Value>;

/// Who calls, and with which context flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Env {
    /// The calling user.
    pub uid: i64,
    /// `context['active_test']`: hide archived records from searches (default true).
    pub active_test: bool,
}

impl Env {
    /// An environment for `uid` with the default context.
    pub fn new(uid: i64) -> Env {
        Env {
            uid,
            active_test: true,
        }
    }
}

/// The database: every table, the users' secrets and the id sequences.
#[derive(Clone)]
pub struct Store {
    models: Vec<ModelDef>,
    tables: BTreeMap<String, BTreeMap<i64, Record>>,
    next_ids: BTreeMap<String, i64>,
    passwords: BTreeMap<i64, String>,
    api_keys: Vec<(String, i64)>,
}

impl std::fmt::Debug for Store {
    // Passwords and API keys stay out of debug output, as secrets do everywhere in the workspace.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sizes: BTreeMap<&str, usize> = self
            .tables
            .iter()
            .map(|(name, table)| (name.as_str(), table.len()))
            .collect();
        formatter
            .debug_struct("Store")
            .field("tables", &sizes)
            .finish_non_exhaustive()
    }
}

/// The sort keys of an `order` clause: field, descending, and whether nulls come first.
type OrderKeys = Vec<(FieldDef, bool, bool)>;

/// A domain compiled against a model: fields resolved and relational sub-searches already run.
enum Node {
    Const(bool),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Compare {
        field: FieldDef,
        operator: String,
        value: Value,
    },
    IdsIn {
        field: FieldDef,
        ids: BTreeSet<i64>,
    },
}

/// What `create`, `write` and `message_post` take: field values by name.
pub type Vals = Vec<(String, Value)>;

/// The arguments of `message_post` the stand-in acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagePost {
    /// `body`: text, escaped unless `body_is_html`.
    pub body: Value,
    /// `body_is_html`.
    pub body_is_html: bool,
    /// `message_type` (default `notification`).
    pub message_type: String,
    /// `subtype_xmlid` (default `mail.mt_note`).
    pub subtype_xmlid: Option<String>,
    /// Other keyword arguments, written on the message (`subject`, `partner_ids`, ...).
    pub extra: Vals,
}

impl Store {
    /// A freshly seeded database. `admin_login`, `admin_password` and `api_key` are admin's credentials;
    /// `demo_api_key` is the non-admin user's API key.
    pub fn new(
        admin_login: &str,
        admin_password: &str,
        api_key: &str,
        demo_api_key: &str,
    ) -> Store {
        let models = crate::schema::models();
        let mut store = Store {
            models,
            tables: BTreeMap::new(),
            next_ids: BTreeMap::new(),
            passwords: BTreeMap::from([
                (seed::ADMIN_UID, admin_password.to_string()),
                (seed::DEMO_UID, seed::DEMO_PASSWORD.to_string()),
            ]),
            api_keys: vec![
                (api_key.to_string(), seed::ADMIN_UID),
                (demo_api_key.to_string(), seed::DEMO_UID),
            ],
        };
        for table in seed::tables(admin_login) {
            store.tables.insert(table.0.to_string(), seed::rows(&table));
        }
        let ir_models: Vec<(i64, &'static str, &'static str)> = store
            .models
            .iter()
            .enumerate()
            .map(|(index, model)| (index as i64 + 1, model.name, model.description))
            .collect();
        let ir_table = store.tables.entry("ir.model".to_string()).or_default();
        for (id, name, description) in &ir_models {
            let mut record = Record::new();
            record.insert("model".into(), Value::str(*name));
            record.insert("name".into(), Value::str(*description));
            record.insert("create_date".into(), Value::str("2026-01-05 09:00:00"));
            record.insert("write_date".into(), Value::str("2026-01-05 09:00:00"));
            ir_table.insert(*id, record);
        }
        // Defaults for seeded records, and the ir.model link of seeded activities.
        let names: Vec<&'static str> = store.models.iter().map(|model| model.name).collect();
        for name in names {
            let ids: Vec<i64> = store
                .tables
                .get(name)
                .map(|table| table.keys().copied().collect())
                .unwrap_or_default();
            for id in ids {
                let mut record = store
                    .tables
                    .get(name)
                    .and_then(|table| table.get(&id))
                    .cloned()
                    .unwrap_or_default();
                store.apply_defaults(name, &mut record, seed::ADMIN_UID);
                if name == "mail.activity" {
                    let res_model = record
                        .get("res_model")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    if let Some(model_id) = store.ir_model_id(&res_model) {
                        record.insert("res_model_id".into(), Value::Int(model_id));
                    }
                }
                if let Some(table) = store.tables.get_mut(name) {
                    table.insert(id, record);
                }
            }
            let next = store
                .tables
                .get(name)
                .and_then(|table| table.keys().max().copied())
                .unwrap_or(0)
                + 1;
            store.next_ids.insert(name.to_string(), next);
        }
        store
    }

    /// The definition of model `name`.
    pub fn model(&self, name: &str) -> Option<&ModelDef> {
        self.models.iter().find(|model| model.name == name)
    }

    fn model_or_err(&self, name: &str) -> Result<&ModelDef, OdooError> {
        self.model(name).ok_or_else(|| OdooError::key_error(name))
    }

    fn table(&self, model: &str) -> Option<&BTreeMap<i64, Record>> {
        self.tables.get(model)
    }

    fn record(&self, model: &str, id: i64) -> Option<&Record> {
        self.table(model).and_then(|table| table.get(&id))
    }

    fn ir_model_id(&self, model: &str) -> Option<i64> {
        self.table("ir.model")?
            .iter()
            .find(|(_, record)| record.get("model").and_then(Value::as_str) == Some(model))
            .map(|(id, _)| *id)
    }

    // ------------------------------------------------------------------
    // Users, passwords, API keys
    // ------------------------------------------------------------------

    /// `res.users.authenticate`: the uid of an active user whose password (or API key) matches.
    pub fn authenticate(&self, login: &str, password: &str) -> Option<i64> {
        let (uid, _) = self
            .table("res.users")?
            .iter()
            .find(|(_, record)| record.get("login").and_then(Value::as_str) == Some(login))?;
        self.check_credentials(*uid, password).then_some(*uid)
    }

    /// `_check_uid_passwd`: whether `uid` is an active user and `password` is its password or one of its API keys
    /// (Odoo accepts API keys in place of passwords for RPC).
    pub fn check_credentials(&self, uid: i64, password: &str) -> bool {
        let active = self
            .record("res.users", uid)
            .is_some_and(|record| record.get("active") != Some(&Value::Bool(false)));
        let password_ok = !password.is_empty()
            && self
                .passwords
                .get(&uid)
                .is_some_and(|stored| stored == password);
        let key_ok = self
            .api_keys
            .iter()
            .any(|(key, owner)| *owner == uid && key == password);
        active && (password_ok || key_ok)
    }

    /// The active user owning API key `key`.
    pub fn uid_for_api_key(&self, key: &str) -> Option<i64> {
        let uid = self
            .api_keys
            .iter()
            .find(|(stored, _)| stored == key)
            .map(|(_, uid)| *uid)?;
        let active = self
            .record("res.users", uid)
            .is_some_and(|record| record.get("active") != Some(&Value::Bool(false)));
        active.then_some(uid)
    }

    /// Sets the password of the user logging in as `login`; false when there is no such user.
    pub fn set_password(&mut self, login: &str, password: &str) -> bool {
        let uid = self.table("res.users").and_then(|table| {
            table
                .iter()
                .find(|(_, record)| record.get("login").and_then(Value::as_str) == Some(login))
                .map(|(id, _)| *id)
        });
        match uid {
            Some(uid) => {
                self.passwords.insert(uid, password.to_string());
                true
            }
            None => false,
        }
    }

    /// `res.users.context_get()` for `uid`.
    pub fn context_get(&self, uid: i64) -> Value {
        let record = self.record("res.users", uid);
        let text = |name: &str, default: &str| {
            record
                .and_then(|record| record.get(name))
                .and_then(Value::as_str)
                .unwrap_or(default)
                .to_string()
        };
        Value::dict([
            ("lang", Value::str(text("lang", "en_US"))),
            ("tz", Value::str(text("tz", "Europe/Brussels"))),
            ("uid", Value::Int(uid)),
        ])
    }

    // ------------------------------------------------------------------
    // Access rights
    // ------------------------------------------------------------------

    /// Model access (`ir.model.access`): administrators may do everything; other users are refused these operations,
    /// with the message Odoo's `_make_access_error` builds.
    pub fn check_access(&self, env: &Env, model: &str, operation: &str) -> Result<(), OdooError> {
        if env.uid == seed::ADMIN_UID || env.uid == 1 {
            return Ok(());
        }
        let group = match (model, operation) {
            ("res.users", "write" | "create" | "unlink") => "Administration/Access Rights",
            ("crm.lead", "unlink") | ("crm.stage", "write" | "create" | "unlink") => {
                "Sales/Administrator"
            }
            (
                "res.country" | "mail.activity.type" | "mail.message.subtype" | "ir.model",
                "write" | "create" | "unlink",
            ) => "Administration/Settings",
            _ => return Ok(()),
        };
        let verb = match operation {
            "read" => "access",
            "write" => "modify",
            "create" => "create",
            _ => "delete",
        };
        let description = self
            .model(model)
            .map(|definition| definition.description)
            .unwrap_or(model);
        Err(OdooError::AccessError(format!(
            "You are not allowed to {verb} '{description}' ({model}) records.\n\n\
             This operation is allowed for the following groups:\n\t- {group}\n\n\
             Contact your administrator to request access if necessary."
        )))
    }

    // ------------------------------------------------------------------
    // Field values
    // ------------------------------------------------------------------

    fn unset(field: &FieldDef) -> Value {
        match field.ftype {
            FieldType::Integer | FieldType::Many2oneReference => Value::Int(0),
            FieldType::Float | FieldType::Monetary => Value::Float(0.0),
            FieldType::Many2many | FieldType::One2many => Value::List(Vec::new()),
            _ => Value::Bool(false),
        }
    }

    /// The display name of a record, as `display_name` computes it per model.
    pub fn display_name(&self, model: &str, id: i64) -> String {
        let Some(record) = self.record(model, id) else {
            return String::new();
        };
        let text = |name: &str| {
            record
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        match model {
            "res.partner" => self.partner_complete_name(id),
            "mail.activity" => {
                let summary = text("summary");
                if summary.is_empty() {
                    record
                        .get("activity_type_id")
                        .and_then(Value::as_int)
                        .map(|type_id| self.display_name("mail.activity.type", type_id))
                        .unwrap_or_default()
                } else {
                    summary
                }
            }
            "mail.message" => {
                let subject = text("subject");
                if subject.is_empty() {
                    self.reference_name(record, "model")
                } else {
                    subject
                }
            }
            _ => text("name"),
        }
    }

    /// `complete_name`: a contact of a company is shown as "Company, Contact".
    fn partner_complete_name(&self, id: i64) -> String {
        let Some(record) = self.record("res.partner", id) else {
            return String::new();
        };
        let mut name = record
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let partner_type = record
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("contact");
        let parent = record
            .get("parent_id")
            .and_then(Value::as_int)
            .filter(|parent| *parent > 0);
        if let Some(parent) = parent {
            if name.is_empty() && partner_type != "contact" {
                name = self
                    .model("res.partner")
                    .and_then(|model| model.field("type"))
                    .and_then(|field| {
                        field
                            .selection
                            .iter()
                            .find(|(value, _)| *value == partner_type)
                    })
                    .map(|(_, label)| (*label).to_string())
                    .unwrap_or_default();
            }
            let is_company = record.get("is_company").is_some_and(Value::is_truthy);
            if !is_company {
                let parent_name = self
                    .record("res.partner", parent)
                    .and_then(|parent| parent.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                name = format!("{parent_name}, {name}");
            }
        }
        name
    }

    /// The display name of the document a `(model, res_id)` pair points to.
    fn reference_name(&self, record: &Record, model_field: &str) -> String {
        let model = record
            .get(model_field)
            .and_then(Value::as_str)
            .unwrap_or_default();
        let res_id = record.get("res_id").and_then(Value::as_int).unwrap_or(0);
        self.display_name(model, res_id)
    }

    /// The logical value of a field: stored value, or computed for computed and one2many fields.
    fn value(&self, model: &ModelDef, id: i64, field: &FieldDef) -> Value {
        let Some(record) = self.record(model.name, id) else {
            return Self::unset(field);
        };
        match field.name {
            "id" => return Value::Int(id),
            "display_name" => return Value::Str(self.display_name(model.name, id)),
            "complete_name" if model.name == "res.partner" => {
                return Value::Str(self.partner_complete_name(id));
            }
            "company_type" => {
                let company = record.get("is_company").is_some_and(Value::is_truthy);
                return Value::str(if company { "company" } else { "person" });
            }
            "res_name" => return Value::Str(self.reference_name(record, "res_model")),
            "record_name" => {
                let name = self.reference_name(record, "model");
                return if name.is_empty() {
                    Value::Bool(false)
                } else {
                    Value::Str(name)
                };
            }
            "state" if model.name == "mail.activity" => {
                let deadline = record
                    .get("date_deadline")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let today = clock::today();
                let state = match deadline.cmp(today.as_str()) {
                    Ordering::Less => "overdue",
                    Ordering::Equal => "today",
                    Ordering::Greater => "planned",
                };
                return Value::str(state);
            }
            "password" => return Value::str(""),
            _ => {}
        }
        if field.ftype == FieldType::One2many
            && let (Some(comodel), Some(inverse)) = (
                field.relation.and_then(|name| self.model(name)),
                field.inverse_name,
            )
        {
            return Value::List(
                self.inverse_ids(model.name, id, comodel, inverse)
                    .into_iter()
                    .map(Value::Int)
                    .collect(),
            );
        }
        record
            .get(field.name)
            .cloned()
            .unwrap_or_else(|| Self::unset(field))
    }

    /// Ids of `comodel` records whose `inverse` field points to `model`/`id`, in the comodel's order.
    fn inverse_ids(&self, model: &str, id: i64, comodel: &ModelDef, inverse: &str) -> Vec<i64> {
        let Some(table) = self.table(comodel.name) else {
            return Vec::new();
        };
        let scoped_by_model = comodel.field("res_model").is_some() && inverse == "res_id";
        let ids: Vec<i64> = table
            .iter()
            .filter(|(_, record)| record.get(inverse).and_then(Value::as_int) == Some(id))
            .filter(|(_, record)| {
                !scoped_by_model || record.get("res_model").and_then(Value::as_str) == Some(model)
            })
            .filter(|(_, record)| {
                !comodel.has_active() || record.get("active") != Some(&Value::Bool(false))
            })
            .map(|(id, _)| *id)
            .collect();
        self.sort(comodel, ids, &self.default_order(comodel), 0)
    }

    /// The value as `read` answers it: many2one as `[id, name]` (or the id when `load` is not `_classic_read`).
    fn read_value(&self, model: &ModelDef, id: i64, field: &FieldDef, classic: bool) -> Value {
        let value = self.value(model, id, field);
        match field.ftype {
            FieldType::Many2one => match value.as_int() {
                Some(target) if target > 0 => {
                    let comodel = field.relation.unwrap_or_default();
                    if self.record(comodel, target).is_none() {
                        Value::Bool(false)
                    } else if classic {
                        Value::List(vec![
                            Value::Int(target),
                            Value::Str(self.display_name(comodel, target)),
                        ])
                    } else {
                        Value::Int(target)
                    }
                }
                _ => Value::Bool(false),
            },
            FieldType::Boolean => Value::Bool(value.is_truthy()),
            FieldType::Integer | FieldType::Many2oneReference => {
                Value::Int(value.as_int().unwrap_or(0))
            }
            FieldType::Float | FieldType::Monetary => Value::Float(value.as_f64().unwrap_or(0.0)),
            _ => value,
        }
    }

    // ------------------------------------------------------------------
    // Domains
    // ------------------------------------------------------------------

    fn compile(&self, env: &Env, model: &ModelDef, domain: &Domain) -> Result<Node, OdooError> {
        Ok(match domain {
            Domain::Bool(flag) => Node::Const(*flag),
            Domain::And(children) => Node::And(
                children
                    .iter()
                    .map(|child| self.compile(env, model, child))
                    .collect::<Result<_, _>>()?,
            ),
            Domain::Or(children) => Node::Or(
                children
                    .iter()
                    .map(|child| self.compile(env, model, child))
                    .collect::<Result<_, _>>()?,
            ),
            Domain::Not(child) => Node::Not(Box::new(self.compile(env, model, child)?)),
            Domain::Cond(condition) => self.compile_condition(env, model, condition)?,
        })
    }

    fn compile_condition(
        &self,
        env: &Env,
        model: &ModelDef,
        condition: &Condition,
    ) -> Result<Node, OdooError> {
        let (name, rest) = match condition.path.split_once('.') {
            Some((name, rest)) => (name, Some(rest)),
            None => (condition.path.as_str(), None),
        };
        let field = model
            .field(name)
            .ok_or_else(|| condition.error(&format!("Invalid field {}.{}", model.name, name)))?
            .clone();
        if let Some(rest) = rest {
            // A path is a sub-search: ('partner_id.name', 'ilike', 'x') == ('partner_id', 'any', [('name', 'ilike', 'x')]).
            if !field.ftype.is_relational() {
                return Err(
                    condition.error(&format!("Invalid field {}.{}", model.name, condition.path))
                );
            }
            let sub = Domain::Cond(Condition {
                path: rest.to_string(),
                ..condition.clone()
            });
            return self.compile_any(env, model, &field, &sub);
        }
        let mut operator = condition.operator.as_str();
        let value = &condition.value;
        match operator {
            "<>" => operator = "!=",
            "=?" if !value.is_truthy() => return Ok(Node::Const(true)),
            "=?" => operator = "=",
            "any" | "not any" => {
                if !field.ftype.is_relational() && field.name != "id" {
                    return Err(condition.error("Cannot use 'any' with non-relational fields"));
                }
                let sub = Domain::parse(value)?;
                let node = self.compile_any(env, model, &field, &sub)?;
                return Ok(if operator == "any" {
                    node
                } else {
                    Node::Not(Box::new(node))
                });
            }
            _ => {}
        }
        if field.ftype.is_relational() {
            let comodel = self.model_or_err(field.relation.unwrap_or_default())?;
            // Many2one sub-searches ignore archived-ness (Odoo runs them with active_test=False).
            let sub_env = Env {
                active_test: field.ftype != FieldType::Many2one && env.active_test,
                ..env.clone()
            };
            let negative = operator.starts_with("not ") || operator == "!=";
            let positive = operator.trim_start_matches("not ");
            let by_name = match (positive, value) {
                ("like" | "ilike" | "=like" | "=ilike", Value::Str(text)) => {
                    Some(self.name_matches(&sub_env, comodel, positive, text)?)
                }
                ("=" | "!=", Value::Str(text)) => {
                    Some(self.name_equals(&sub_env, comodel, &[text.as_str()])?)
                }
                ("in", Value::List(items))
                    if items.iter().any(|item| matches!(item, Value::Str(_))) =>
                {
                    let names: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                    let mut ids = self.name_equals(&sub_env, comodel, &names)?;
                    ids.extend(items.iter().filter_map(Value::as_int));
                    Some(ids)
                }
                _ => None,
            };
            if let Some(ids) = by_name {
                let node = Node::IdsIn { field, ids };
                return Ok(if negative {
                    Node::Not(Box::new(node))
                } else {
                    node
                });
            }
        }
        Ok(Node::Compare {
            field,
            operator: operator.to_string(),
            value: value.clone(),
        })
    }

    /// `(field, 'any', sub_domain)`: the records whose related records match `sub`.
    fn compile_any(
        &self,
        env: &Env,
        model: &ModelDef,
        field: &FieldDef,
        sub: &Domain,
    ) -> Result<Node, OdooError> {
        let comodel = if field.name == "id" {
            model
        } else {
            self.model_or_err(field.relation.unwrap_or_default())?
        };
        let sub_env = Env {
            active_test: field.ftype != FieldType::Many2one && env.active_test,
            ..env.clone()
        };
        let ids = self
            .search_domain(&sub_env, comodel, sub)?
            .into_iter()
            .collect();
        Ok(Node::IdsIn {
            field: field.clone(),
            ids,
        })
    }

    /// Records of `comodel` whose searchable names match a `like` pattern (Odoo's `_search_display_name`).
    fn name_matches(
        &self,
        env: &Env,
        comodel: &ModelDef,
        operator: &str,
        text: &str,
    ) -> Result<BTreeSet<i64>, OdooError> {
        let pattern = if operator.starts_with('=') {
            text.to_string()
        } else {
            format!("%{text}%")
        };
        let insensitive = operator.ends_with("ilike");
        let mut ids = BTreeSet::new();
        for id in self.search_domain(env, comodel, &Domain::Bool(true))? {
            let matched = comodel
                .rec_names_search
                .iter()
                .filter_map(|name| comodel.field(name))
                .any(|name_field| {
                    self.value(comodel, id, name_field)
                        .as_str()
                        .is_some_and(|value| like_match(&pattern, value, insensitive))
                });
            if matched {
                ids.insert(id);
            }
        }
        Ok(ids)
    }

    /// Records of `comodel` whose display name is one of `names`.
    fn name_equals(
        &self,
        env: &Env,
        comodel: &ModelDef,
        names: &[&str],
    ) -> Result<BTreeSet<i64>, OdooError> {
        Ok(self
            .search_domain(env, comodel, &Domain::Bool(true))?
            .into_iter()
            .filter(|id| names.contains(&self.display_name(comodel.name, *id).as_str()))
            .collect())
    }

    fn eval(&self, model: &ModelDef, id: i64, node: &Node) -> bool {
        match node {
            Node::Const(flag) => *flag,
            Node::And(children) => children.iter().all(|child| self.eval(model, id, child)),
            Node::Or(children) => children.iter().any(|child| self.eval(model, id, child)),
            Node::Not(child) => !self.eval(model, id, child),
            Node::IdsIn { field, ids } => match self.value(model, id, field) {
                Value::Int(target) if field.ftype != FieldType::Many2one || target > 0 => {
                    ids.contains(&target)
                }
                Value::List(items) => items
                    .iter()
                    .filter_map(Value::as_int)
                    .any(|target| ids.contains(&target)),
                _ => false,
            },
            Node::Compare {
                field,
                operator,
                value,
            } => {
                let current = self.value(model, id, field);
                compare(field, &current, operator, value)
            }
        }
    }

    /// Ids of `model` matching a parsed domain (no active filtering, no order).
    fn search_domain(
        &self,
        env: &Env,
        model: &ModelDef,
        domain: &Domain,
    ) -> Result<Vec<i64>, OdooError> {
        let domain = self.with_active_test(env, model, domain.clone());
        let node = self.compile(env, model, &domain)?;
        let ids: Vec<i64> = self
            .table(model.name)
            .map(|table| table.keys().copied().collect())
            .unwrap_or_default();
        Ok(ids
            .into_iter()
            .filter(|id| self.eval(model, *id, &node))
            .collect())
    }

    /// Adds `('active', '=', True)` unless the context disables it or the domain already mentions `active`.
    fn with_active_test(&self, env: &Env, model: &ModelDef, domain: Domain) -> Domain {
        let mentions_active = domain
            .conditions()
            .iter()
            .any(|condition| condition.path == "active");
        if env.active_test && model.has_active() && !mentions_active {
            let active = Domain::Cond(Condition {
                path: "active".into(),
                operator: "=".into(),
                value: Value::Bool(true),
            });
            Domain::and(vec![domain, active])
        } else {
            domain
        }
    }

    // ------------------------------------------------------------------
    // Ordering
    // ------------------------------------------------------------------

    fn default_order(&self, model: &ModelDef) -> OrderKeys {
        self.parse_order(model, model.order).unwrap_or_default()
    }

    /// Parses `"name asc, id desc"`; an unparsable clause is Odoo's `UserError`, an unknown field a `ValueError`.
    fn parse_order(&self, model: &ModelDef, order: &str) -> Result<OrderKeys, OdooError> {
        let invalid = || {
            OdooError::UserError(format!(
                "Invalid \"order\" specified ({order}). A valid \"order\" specification is a comma-separated list of valid field names (optionally followed by asc/desc for the direction)"
            ))
        };
        let mut keys = Vec::new();
        for term in order.split(',') {
            let words: Vec<String> = term.split_whitespace().map(str::to_lowercase).collect();
            let Some((name, modifiers)) = words.split_first() else {
                return Err(invalid());
            };
            let name = name.trim_matches('"');
            let valid_name = !name.is_empty()
                && name.chars().all(|character| {
                    character.is_ascii_lowercase()
                        || character.is_ascii_digit()
                        || character == '_'
                        || character == ':'
                        || character == '.'
                });
            if !valid_name {
                return Err(invalid());
            }
            let modifiers: Vec<&str> = modifiers.iter().map(String::as_str).collect();
            let (descending, nulls) = match modifiers.as_slice() {
                [] => (false, None),
                ["asc"] => (false, None),
                ["desc"] => (true, None),
                ["nulls", which @ ("first" | "last")] => (false, Some(*which == "first")),
                [
                    direction @ ("asc" | "desc"),
                    "nulls",
                    which @ ("first" | "last"),
                ] => (*direction == "desc", Some(*which == "first")),
                _ => return Err(invalid()),
            };
            let field_name = name.strip_suffix(".id").unwrap_or(name);
            let field = model
                .field(field_name)
                .ok_or_else(|| {
                    OdooError::value_error(format!(
                        "Invalid field '{field_name}' on model '{}'",
                        model.name
                    ))
                })?
                .clone();
            // PostgreSQL puts NULLs last when ascending and first when descending.
            keys.push((field, descending, nulls.unwrap_or(descending)));
        }
        Ok(keys)
    }

    /// Sorts ids by order keys; many2one fields sort by the comodel's own order, ties by id.
    fn sort(
        &self,
        model: &ModelDef,
        mut ids: Vec<i64>,
        keys: &[(FieldDef, bool, bool)],
        depth: usize,
    ) -> Vec<i64> {
        let ranks: Vec<Option<BTreeMap<i64, usize>>> = keys
            .iter()
            .map(|(field, _, _)| {
                let comodel = field.relation.and_then(|name| self.model(name));
                match (field.ftype, comodel) {
                    (FieldType::Many2one, Some(comodel)) if depth < 3 => {
                        let all: Vec<i64> = self
                            .table(comodel.name)
                            .map(|table| table.keys().copied().collect())
                            .unwrap_or_default();
                        let ordered =
                            self.sort(comodel, all, &self.default_order(comodel), depth + 1);
                        Some(
                            ordered
                                .into_iter()
                                .enumerate()
                                .map(|(rank, id)| (id, rank))
                                .collect(),
                        )
                    }
                    _ => None,
                }
            })
            .collect();
        let sort_key = |id: i64| -> Vec<Option<SortValue>> {
            keys.iter()
                .zip(&ranks)
                .map(|((field, _, _), rank)| {
                    let value = self.value(model, id, field);
                    match (rank, value.as_int()) {
                        (Some(rank), Some(target)) if target > 0 => rank
                            .get(&target)
                            .map(|rank| SortValue::Number(*rank as f64)),
                        (Some(_), _) => None,
                        _ => SortValue::from_value(field, &value),
                    }
                })
                .collect()
        };
        let mut keyed: Vec<(Vec<Option<SortValue>>, i64)> =
            ids.drain(..).map(|id| (sort_key(id), id)).collect();
        keyed.sort_by(|(left, left_id), (right, right_id)| {
            for ((left_value, right_value), (_, descending, nulls_first)) in
                left.iter().zip(right).zip(keys)
            {
                let ordering = match (left_value, right_value) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => {
                        if *nulls_first {
                            Ordering::Less
                        } else {
                            Ordering::Greater
                        }
                    }
                    (Some(_), None) => {
                        if *nulls_first {
                            Ordering::Greater
                        } else {
                            Ordering::Less
                        }
                    }
                    (Some(left_value), Some(right_value)) => {
                        let ordering = left_value.cmp_to(right_value);
                        if *descending {
                            ordering.reverse()
                        } else {
                            ordering
                        }
                    }
                };
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            left_id.cmp(right_id)
        });
        keyed.into_iter().map(|(_, id)| id).collect()
    }

    // ------------------------------------------------------------------
    // ORM methods
    // ------------------------------------------------------------------

    /// `search(domain, offset, limit, order)`.
    pub fn search(
        &self,
        env: &Env,
        model: &str,
        domain: &Value,
        offset: usize,
        limit: Option<usize>,
        order: Option<&str>,
    ) -> Result<Vec<i64>, OdooError> {
        let model = self.model_or_err(model)?;
        self.check_access(env, model.name, "read")?;
        let domain = Domain::parse(domain)?;
        let ids = self.search_domain(env, model, &domain)?;
        let keys = match order {
            Some(order) if !order.trim().is_empty() => self.parse_order(model, order)?,
            _ => self.default_order(model),
        };
        let ids = self.sort(model, ids, &keys, 0);
        Ok(ids
            .into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect())
    }

    /// `search_count(domain, limit)`.
    pub fn search_count(
        &self,
        env: &Env,
        model: &str,
        domain: &Value,
        limit: Option<usize>,
    ) -> Result<i64, OdooError> {
        let count = self.search(env, model, domain, 0, limit, None)?.len();
        Ok(count as i64)
    }

    /// `read(fields, load)` on `ids`: one dict per record, `id` first, then the fields in the order asked.
    pub fn read(
        &self,
        env: &Env,
        model: &str,
        ids: &[i64],
        fields: Option<&[String]>,
        classic: bool,
    ) -> Result<Vec<Value>, OdooError> {
        let model = self.model_or_err(model)?;
        self.check_access(env, model.name, "read")?;
        let fields: Vec<&FieldDef> = match fields {
            Some(names) if !names.is_empty() => names
                .iter()
                .filter(|name| *name != "id")
                .map(|name| {
                    model.field(name).ok_or_else(|| {
                        OdooError::value_error(format!(
                            "Invalid field '{name}' on model '{}'",
                            model.name
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
            _ => model
                .fields
                .iter()
                .filter(|field| field.name != "id")
                .collect(),
        };
        let mut rows = Vec::with_capacity(ids.len());
        for id in ids {
            self.ensure_exists(env, model, *id)?;
            let mut row = vec![("id".to_string(), Value::Int(*id))];
            for field in &fields {
                row.push((
                    field.name.to_string(),
                    self.read_value(model, *id, field, classic),
                ));
            }
            rows.push(Value::Dict(row));
        }
        Ok(rows)
    }

    fn ensure_exists(&self, env: &Env, model: &ModelDef, id: i64) -> Result<(), OdooError> {
        if self.record(model.name, id).is_some() {
            return Ok(());
        }
        Err(OdooError::MissingError(format!(
            "Record does not exist or has been deleted.\n(Record: {}({id},), User: {})",
            model.name, env.uid
        )))
    }

    /// `fields_get(allfields, attributes)`.
    pub fn fields_get(
        &self,
        env: &Env,
        model: &str,
        allfields: Option<&[String]>,
        attributes: Option<&[String]>,
    ) -> Result<Value, OdooError> {
        let model = self.model_or_err(model)?;
        self.check_access(env, model.name, "read")?;
        let mut out = Vec::new();
        for field in &model.fields {
            if let Some(names) = allfields.filter(|names| !names.is_empty())
                && !names.iter().any(|name| name == field.name)
            {
                continue;
            }
            let description = describe_field(field);
            let description = match attributes.filter(|attributes| !attributes.is_empty()) {
                Some(wanted) => description
                    .into_iter()
                    .filter(|(key, _)| wanted.iter().any(|name| name == key))
                    .collect(),
                None => description,
            };
            out.push((field.name.to_string(), Value::Dict(description)));
        }
        Ok(Value::Dict(out))
    }

    /// `name_search(name, domain, operator, limit)`: `[[id, display_name], ...]`.
    pub fn name_search(
        &self,
        env: &Env,
        model: &str,
        name: &str,
        domain: &Value,
        operator: &str,
        limit: Option<usize>,
    ) -> Result<Vec<Value>, OdooError> {
        let definition = self.model_or_err(model)?;
        self.check_access(env, model, "read")?;
        let extra = Domain::parse(domain)?;
        let positive = operator.trim_start_matches("not ");
        if !crate::domain::OPERATORS.contains(&operator) {
            return Err(OdooError::value_error(format!(
                "Invalid operator in condition ('display_name', {}, {})",
                Value::str(operator).py_repr(),
                Value::str(name).py_repr()
            )));
        }
        let candidates = self.search_domain(env, definition, &extra)?;
        let matching: BTreeSet<i64> = if name.is_empty() && positive == "ilike" {
            candidates.iter().copied().collect()
        } else {
            let matched = match positive {
                "=" => self.name_equals(env, definition, &[name])?,
                _ => self.name_matches(env, definition, positive, name)?,
            };
            let negative = operator.starts_with("not ") || operator == "!=";
            candidates
                .iter()
                .copied()
                .filter(|id| matched.contains(id) != negative)
                .collect()
        };
        let ids = self.sort(
            definition,
            matching.into_iter().collect(),
            &self.default_order(definition),
            0,
        );
        Ok(ids
            .into_iter()
            .take(limit.unwrap_or(usize::MAX))
            .map(|id| {
                Value::List(vec![
                    Value::Int(id),
                    Value::Str(self.display_name(model, id)),
                ])
            })
            .collect())
    }

    /// `create(vals_list)`: the new ids.
    pub fn create(
        &mut self,
        env: &Env,
        model: &str,
        vals_list: &[Vals],
    ) -> Result<Vec<i64>, OdooError> {
        let definition = self.model_or_err(model)?.clone();
        self.check_access(env, model, "create")?;
        let now = clock::now();
        let mut created = Vec::new();
        for vals in vals_list {
            let mut record = Record::new();
            let mut x2many = Vec::new();
            for (name, value) in vals {
                let field = definition.field(name).ok_or_else(|| {
                    OdooError::value_error(format!("Invalid field '{name}' in '{model}'"))
                })?;
                if field.ftype.is_x2many() {
                    x2many.push((field.clone(), value.clone()));
                    continue;
                }
                if let Some(converted) = self.convert(&definition, field, value)? {
                    record.insert(field.name.to_string(), converted);
                }
            }
            if model == "res.users" {
                self.ensure_user_partner(env, &mut record, vals)?;
            }
            self.apply_defaults(model, &mut record, env.uid);
            self.check_required(&definition, &record)?;
            for (audit, value) in [
                ("create_date", Value::str(now.clone())),
                ("write_date", Value::str(now.clone())),
                ("create_uid", Value::Int(env.uid)),
                ("write_uid", Value::Int(env.uid)),
            ] {
                record.insert(audit.to_string(), value);
            }
            let id = self.next_ids.get(model).copied().unwrap_or(1);
            self.next_ids.insert(model.to_string(), id + 1);
            if model == "res.users"
                && let Some(password) = vals
                    .iter()
                    .find(|(name, _)| name == "password")
                    .and_then(|(_, value)| value.as_str())
            {
                self.passwords.insert(id, password.to_string());
            }
            self.tables
                .entry(model.to_string())
                .or_default()
                .insert(id, record);
            for (field, value) in x2many {
                self.write_x2many(env, &definition, id, &field, &value)?;
            }
            created.push(id);
        }
        Ok(created)
    }

    /// Creating a user creates its partner, as `res.users` `_inherits` `res.partner`.
    fn ensure_user_partner(
        &mut self,
        env: &Env,
        record: &mut Record,
        vals: &Vals,
    ) -> Result<(), OdooError> {
        if record
            .get("partner_id")
            .and_then(Value::as_int)
            .is_some_and(|id| id > 0)
        {
            return Ok(());
        }
        let mut partner = Vals::new();
        for name in ["name", "email"] {
            if let Some((_, value)) = vals.iter().find(|(field, _)| field == name) {
                partner.push((name.to_string(), value.clone()));
            }
        }
        let ids = self.create(env, "res.partner", &[partner])?;
        if let Some(id) = ids.first() {
            record.insert("partner_id".into(), Value::Int(*id));
        }
        Ok(())
    }

    /// Field defaults and create-time computes, applied to fields that were not given.
    fn apply_defaults(&self, model: &str, record: &mut Record, uid: i64) {
        let defaults: Vec<(&str, Value)> = match model {
            "res.partner" => vec![
                ("active", Value::Bool(true)),
                ("type", Value::str("contact")),
                ("lang", Value::str("en_US")),
            ],
            "res.users" => vec![
                ("active", Value::Bool(true)),
                ("share", Value::Bool(false)),
                ("tz", Value::str("Europe/Brussels")),
            ],
            "crm.lead" => vec![
                ("active", Value::Bool(true)),
                ("type", Value::str("opportunity")),
                ("priority", Value::str("0")),
                ("stage_id", Value::Int(1)),
                ("user_id", Value::Int(uid)),
                ("probability", Value::Float(10.0)),
                ("expected_revenue", Value::Float(0.0)),
            ],
            "crm.stage" => vec![("sequence", Value::Int(1))],
            "mail.activity.type" => vec![
                ("active", Value::Bool(true)),
                ("sequence", Value::Int(10)),
                ("category", Value::str("default")),
            ],
            "mail.activity" => vec![
                ("active", Value::Bool(true)),
                ("user_id", Value::Int(uid)),
                ("date_deadline", Value::str(clock::today())),
            ],
            "mail.message" => vec![
                ("message_type", Value::str("comment")),
                ("date", Value::str(clock::now())),
            ],
            "mail.message.subtype" => vec![("sequence", Value::Int(1))],
            _ => Vec::new(),
        };
        for (name, value) in defaults {
            record.entry(name.to_string()).or_insert(value);
        }
        match model {
            // crm.lead `_compute_name`: a nameless lead with a customer is "<customer>'s opportunity".
            "crm.lead" if !record.get("name").is_some_and(Value::is_truthy) => {
                let partner = record
                    .get("partner_id")
                    .and_then(Value::as_int)
                    .filter(|id| *id > 0);
                if let Some(partner) = partner {
                    let partner_name = self
                        .record("res.partner", partner)
                        .and_then(|p| p.get("name"))
                        .and_then(Value::as_str);
                    if let Some(partner_name) = partner_name {
                        record.insert(
                            "name".into(),
                            Value::Str(format!("{partner_name}'s opportunity")),
                        );
                    }
                }
            }
            // mail.activity `res_model` is related to `res_model_id.model`.
            "mail.activity" => {
                let model_id = record.get("res_model_id").and_then(Value::as_int);
                let res_model = model_id
                    .and_then(|id| self.record("ir.model", id))
                    .and_then(|ir| ir.get("model"))
                    .cloned();
                if let Some(res_model) = res_model {
                    record.insert("res_model".into(), res_model);
                }
            }
            _ => {}
        }
    }

    /// A NOT NULL violation becomes the `ValidationError` Odoo's `retrying` raises.
    fn check_required(&self, model: &ModelDef, record: &Record) -> Result<(), OdooError> {
        for field in model
            .fields
            .iter()
            .filter(|field| field.required && field.store)
        {
            let missing = match record.get(field.name) {
                None | Some(Value::Bool(false)) | Some(Value::Nil) => true,
                Some(Value::Int(0)) => {
                    field.ftype == FieldType::Many2one
                        || field.ftype == FieldType::Many2oneReference
                }
                _ => false,
            };
            if missing {
                return Err(OdooError::ValidationError(format!(
                    "The operation cannot be completed: Missing required value for the field '{}' ({}).\nModel: '{}' ({})\n- create/update: a mandatory field is not set\n- delete: another model requires the record being deleted, you can archive it instead\n",
                    field.string, field.name, model.description, model.name
                )));
            }
        }
        Ok(())
    }

    /// `convert_to_cache`: checks and normalises a value written to a field; `None` means "ignore this field".
    fn convert(
        &self,
        model: &ModelDef,
        field: &FieldDef,
        value: &Value,
    ) -> Result<Option<Value>, OdooError> {
        let wrong = || {
            OdooError::value_error(format!(
                "Wrong value for {}.{}: {}",
                model.name,
                field.name,
                value.py_repr()
            ))
        };
        if !field.store
            || matches!(
                field.name,
                "id" | "create_date" | "write_date" | "create_uid" | "write_uid"
            )
        {
            // Odoo ignores writes to magic columns and to computed fields without an inverse.
            return Ok(None);
        }
        if field.name == "password" {
            return Ok(None);
        }
        let falsy = value.is_none_or_false();
        Ok(Some(match field.ftype {
            FieldType::Char | FieldType::Text | FieldType::Html => match value {
                _ if falsy => Value::Bool(false),
                Value::Str(text) | Value::DateTime(text) => Value::Str(text.clone()),
                Value::Int(number) => Value::Str(number.to_string()),
                Value::Float(number) => Value::Str(crate::value::py_float_repr(*number)),
                _ => return Err(wrong()),
            },
            FieldType::Selection => match value {
                _ if falsy => Value::Bool(false),
                Value::Str(text) if field.selection.iter().any(|(key, _)| key == text) => {
                    Value::Str(text.clone())
                }
                _ => return Err(wrong()),
            },
            FieldType::Integer => match value {
                _ if falsy => Value::Int(0),
                Value::Int(number) => Value::Int(*number),
                Value::Bool(true) => Value::Int(1),
                Value::Float(number) => Value::Int(*number as i64),
                _ => return Err(wrong()),
            },
            FieldType::Float | FieldType::Monetary => match value.as_f64() {
                _ if falsy => Value::Float(0.0),
                Some(number) => Value::Float(number),
                None => return Err(wrong()),
            },
            FieldType::Boolean => Value::Bool(value.is_truthy()),
            FieldType::Date => match value {
                _ if falsy => Value::Bool(false),
                Value::Str(text) | Value::DateTime(text) if clock::parse_date(text).is_some() => {
                    Value::Str(text[..10].to_string())
                }
                Value::Str(text) => {
                    return Err(OdooError::value_error(format!(
                        "time data {} does not match format '%Y-%m-%d'",
                        Value::str(text.clone()).py_repr()
                    )));
                }
                _ => return Err(wrong()),
            },
            FieldType::Datetime => match value {
                _ if falsy => Value::Bool(false),
                Value::Str(text) | Value::DateTime(text) if clock::is_datetime(text) => {
                    Value::Str(text.clone())
                }
                Value::Str(text) if text.len() == 10 && clock::parse_date(text).is_some() => {
                    Value::Str(format!("{text} 00:00:00"))
                }
                Value::Str(text) => {
                    return Err(OdooError::value_error(format!(
                        "time data {} does not match format '%Y-%m-%d %H:%M:%S'",
                        Value::str(text.clone()).py_repr()
                    )));
                }
                _ => return Err(wrong()),
            },
            FieldType::Binary => match value {
                _ if falsy => Value::Bool(false),
                Value::Str(text) => Value::Str(text.clone()),
                Value::Binary(bytes) => {
                    use base64::Engine as _;
                    Value::Str(base64::engine::general_purpose::STANDARD.encode(bytes))
                }
                _ => return Err(wrong()),
            },
            FieldType::Many2one => match value {
                _ if falsy => Value::Bool(false),
                Value::Int(id) => {
                    let comodel = field.relation.unwrap_or_default();
                    if self.record(comodel, *id).is_none() {
                        // The foreign key refuses it; Odoo turns the IntegrityError into this ValidationError.
                        return Err(OdooError::ValidationError(format!(
                            "The operation cannot be completed: Another model is using the record you are trying to delete.\n\nThe troublemaker is: '{}' ({})\nThanks to the following constraint: '{}' ({})\nHow about archiving the record instead?",
                            model.description, model.name, field.string, field.name
                        )));
                    }
                    Value::Int(*id)
                }
                _ => return Err(wrong()),
            },
            FieldType::Many2oneReference => match value {
                _ if falsy => Value::Int(0),
                Value::Int(id) => Value::Int(*id),
                _ => return Err(wrong()),
            },
            FieldType::One2many | FieldType::Many2many => return Err(wrong()),
        }))
    }

    /// Applies x2many commands: `(6, 0, ids)`, `(4, id)`, `(3, id)`, `(5,)`, or a plain list of ids.
    fn write_x2many(
        &mut self,
        env: &Env,
        model: &ModelDef,
        id: i64,
        field: &FieldDef,
        value: &Value,
    ) -> Result<(), OdooError> {
        let wrong = || {
            OdooError::value_error(format!(
                "Wrong value for {}.{}: {}",
                model.name,
                field.name,
                value.py_repr()
            ))
        };
        let items = value.as_list().ok_or_else(wrong)?;
        let current: Vec<i64> = self
            .value(model, id, field)
            .as_list()
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_int)
            .collect();
        let mut target: Vec<i64> = current.clone();
        let plain_ids = items.iter().all(|item| matches!(item, Value::Int(_)));
        if plain_ids {
            target = items.iter().filter_map(Value::as_int).collect();
        } else {
            for command in items {
                let parts = command.as_list().ok_or_else(wrong)?;
                match parts.first().and_then(Value::as_int) {
                    Some(6) => {
                        target = parts
                            .get(2)
                            .and_then(Value::as_list)
                            .ok_or_else(wrong)?
                            .iter()
                            .filter_map(Value::as_int)
                            .collect();
                    }
                    Some(4) => {
                        let linked = parts.get(1).and_then(Value::as_int).ok_or_else(wrong)?;
                        if !target.contains(&linked) {
                            target.push(linked);
                        }
                    }
                    Some(3) => {
                        let unlinked = parts.get(1).and_then(Value::as_int).ok_or_else(wrong)?;
                        target.retain(|existing| *existing != unlinked);
                    }
                    Some(5) => target.clear(),
                    _ => return Err(wrong()),
                }
            }
        }
        let comodel = field.relation.unwrap_or_default();
        if let Some(missing) = target.iter().find(|target_id| {
            self.model(comodel).is_some() && self.record(comodel, **target_id).is_none()
        }) {
            let env_missing = OdooError::MissingError(format!(
                "Record does not exist or has been deleted.\n(Record: {comodel}({missing},), User: {})",
                env.uid
            ));
            return Err(env_missing);
        }
        match (field.ftype, field.inverse_name) {
            (FieldType::One2many, Some(inverse)) if self.model(comodel).is_some() => {
                for removed in current.iter().filter(|existing| !target.contains(existing)) {
                    if let Some(record) = self
                        .tables
                        .get_mut(comodel)
                        .and_then(|table| table.get_mut(removed))
                    {
                        record.insert(inverse.to_string(), Value::Bool(false));
                    }
                }
                for added in &target {
                    if let Some(record) = self
                        .tables
                        .get_mut(comodel)
                        .and_then(|table| table.get_mut(added))
                    {
                        record.insert(inverse.to_string(), Value::Int(id));
                    }
                }
            }
            _ => {
                if let Some(record) = self
                    .tables
                    .get_mut(model.name)
                    .and_then(|table| table.get_mut(&id))
                {
                    record.insert(
                        field.name.to_string(),
                        Value::List(target.into_iter().map(Value::Int).collect()),
                    );
                }
            }
        }
        Ok(())
    }

    /// `write(vals)` on `ids`.
    pub fn write(
        &mut self,
        env: &Env,
        model: &str,
        ids: &[i64],
        vals: &Vals,
    ) -> Result<(), OdooError> {
        let definition = self.model_or_err(model)?.clone();
        self.check_access(env, model, "write")?;
        for id in ids {
            self.ensure_exists(env, &definition, *id)?;
        }
        let mut simple = Vec::new();
        let mut x2many = Vec::new();
        for (name, value) in vals {
            let field = definition.field(name).ok_or_else(|| {
                OdooError::value_error(format!("Invalid field '{name}' on model '{model}'"))
            })?;
            if field.ftype.is_x2many() {
                x2many.push((field.clone(), value.clone()));
            } else if let Some(converted) = self.convert(&definition, field, value)? {
                simple.push((field.name.to_string(), converted));
            }
        }
        let now = clock::now();
        for id in ids {
            let mut record = self.record(model, *id).cloned().unwrap_or_default();
            for (name, value) in &simple {
                record.insert(name.clone(), value.clone());
            }
            if model == "mail.activity" {
                self.apply_defaults(model, &mut record, env.uid);
            }
            self.check_required(&definition, &record)?;
            record.insert("write_date".into(), Value::str(now.clone()));
            record.insert("write_uid".into(), Value::Int(env.uid));
            if let Some(table) = self.tables.get_mut(model) {
                table.insert(*id, record);
            }
            for (field, value) in &x2many {
                self.write_x2many(env, &definition, *id, field, value)?;
            }
        }
        if model == "res.users"
            && let Some(password) = vals
                .iter()
                .find(|(name, _)| name == "password")
                .and_then(|(_, value)| value.as_str())
        {
            for id in ids {
                self.passwords.insert(*id, password.to_string());
            }
        }
        Ok(())
    }

    /// `unlink()` on `ids`: references to them are cleared, and a document's messages and activities go with it.
    pub fn unlink(&mut self, env: &Env, model: &str, ids: &[i64]) -> Result<(), OdooError> {
        let definition = self.model_or_err(model)?.clone();
        self.check_access(env, model, "unlink")?;
        for id in ids {
            self.ensure_exists(env, &definition, *id)?;
        }
        if model == "res.users" && ids.iter().any(|id| *id <= seed::ADMIN_UID) {
            return Err(OdooError::UserError(
                "You can not remove the admin user as it is used internally for resources created by Odoo (updates, module installation, ...)".to_string(),
            ));
        }
        if let Some(table) = self.tables.get_mut(model) {
            for id in ids {
                table.remove(id);
            }
        }
        // Many2one columns pointing here become NULL (ondelete='set null').
        let references: Vec<(&'static str, &'static str)> = self
            .models
            .iter()
            .flat_map(|other| {
                other
                    .fields
                    .iter()
                    .filter(|field| {
                        field.ftype == FieldType::Many2one && field.relation == Some(model)
                    })
                    .map(|field| (other.name, field.name))
            })
            .collect();
        for (other, field) in references {
            if let Some(table) = self.tables.get_mut(other) {
                for record in table.values_mut() {
                    if record
                        .get(field)
                        .and_then(Value::as_int)
                        .is_some_and(|target| ids.contains(&target))
                    {
                        record.insert(field.to_string(), Value::Bool(false));
                    }
                }
            }
        }
        if definition.mail_thread {
            for (other, model_field) in [("mail.activity", "res_model"), ("mail.message", "model")]
            {
                if let Some(table) = self.tables.get_mut(other) {
                    table.retain(|_, record| {
                        let same_model =
                            record.get(model_field).and_then(Value::as_str) == Some(model);
                        let res_id = record.get("res_id").and_then(Value::as_int).unwrap_or(0);
                        !(same_model && ids.contains(&res_id))
                    });
                }
            }
        }
        Ok(())
    }

    /// `message_post(...)` on one record of a `mail.thread` model: the new `mail.message` id.
    pub fn message_post(
        &mut self,
        env: &Env,
        model: &str,
        ids: &[i64],
        post: &MessagePost,
    ) -> Result<i64, OdooError> {
        let MessagePost {
            body,
            body_is_html,
            message_type,
            subtype_xmlid,
            extra,
        } = post;
        let (body_is_html, message_type, subtype_xmlid) = (
            *body_is_html,
            message_type.as_str(),
            subtype_xmlid.as_deref(),
        );
        let definition = self.model_or_err(model)?.clone();
        if ids.len() != 1 {
            let listed: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
            let suffix = if ids.len() == 1 { "," } else { "" };
            return Err(OdooError::value_error(format!(
                "Expected singleton: {model}({}{suffix})",
                listed.join(", ")
            )));
        }
        let id = ids[0];
        self.ensure_exists(env, &definition, id)?;
        self.check_access(env, model, "read")?;
        // An unknown message_type is refused by the mail.message selection when the message is created.
        let xmlid = subtype_xmlid.unwrap_or("mail.mt_note");
        let xmlid = if xmlid.contains('.') {
            xmlid.to_string()
        } else {
            format!("mail.{xmlid}")
        };
        let subtype = match xmlid.as_str() {
            "mail.mt_comment" => 1,
            "mail.mt_note" => 2,
            "mail.mt_activities" => 3,
            _ => {
                return Err(OdooError::value_error(format!(
                    "External ID not found in the system: {xmlid}"
                )));
            }
        };
        // A plain-text body is escaped; `body_is_html=True` keeps it as markup.
        let body_text = body.as_str().unwrap_or_default();
        let body_html = if body_is_html || body.is_none_or_false() {
            body_text.to_string()
        } else {
            html_escape(body_text)
        };
        let author = self
            .record("res.users", env.uid)
            .and_then(|user| user.get("partner_id"))
            .cloned()
            .unwrap_or(Value::Bool(false));
        let mut vals: Vals = vec![
            ("body".into(), Value::Str(body_html)),
            ("model".into(), Value::str(model)),
            ("res_id".into(), Value::Int(id)),
            ("message_type".into(), Value::str(message_type)),
            ("subtype_id".into(), Value::Int(subtype)),
            ("author_id".into(), author),
        ];
        for (name, value) in extra {
            match vals.iter_mut().find(|(existing, _)| existing == name) {
                Some(slot) => slot.1 = value.clone(),
                None => vals.push((name.clone(), value.clone())),
            }
        }
        let system = Env::new(1);
        let ids = self.create(&system, "mail.message", &[vals])?;
        ids.first()
            .copied()
            .ok_or_else(|| OdooError::value_error("message not created"))
    }

    // ------------------------------------------------------------------
    // Grouping
    // ------------------------------------------------------------------

    /// The key of one record in one groupby spec, plus its label and the group's domain condition(s).
    fn group_key(&self, model: &ModelDef, id: i64, spec: &GroupSpec) -> GroupKey {
        let value = self.value(model, id, &spec.field);
        match (&spec.granularity, spec.field.ftype) {
            (Some(granularity), _) => match value
                .as_str()
                .and_then(|text| clock::date_group(text, granularity))
            {
                Some((start, next, label)) => GroupKey {
                    raw: Value::Str(start.clone()),
                    label: Value::Str(label),
                    range: Some((start, next)),
                },
                None => GroupKey {
                    raw: Value::Bool(false),
                    label: Value::Bool(false),
                    range: None,
                },
            },
            (None, FieldType::Many2one) => match value.as_int().filter(|target| *target > 0) {
                Some(target) => {
                    let comodel = spec.field.relation.unwrap_or_default();
                    GroupKey {
                        raw: Value::Int(target),
                        label: Value::List(vec![
                            Value::Int(target),
                            Value::Str(self.display_name(comodel, target)),
                        ]),
                        range: None,
                    }
                }
                None => GroupKey {
                    raw: Value::Bool(false),
                    label: Value::Bool(false),
                    range: None,
                },
            },
            (None, FieldType::Boolean) => {
                let flag = Value::Bool(value.is_truthy());
                GroupKey {
                    raw: flag.clone(),
                    label: flag,
                    range: None,
                }
            }
            _ => GroupKey {
                raw: value.clone(),
                label: value,
                range: None,
            },
        }
    }

    /// Parses `field[:granularity]`; the legacy `read_group` groups dates by month by default, `formatted_read_group`
    /// by their exact value.
    fn parse_group_spec(
        &self,
        model: &ModelDef,
        spec: &str,
        legacy: bool,
    ) -> Result<GroupSpec, OdooError> {
        let (name, granularity) = match spec.split_once(':') {
            Some((name, granularity)) => (name, Some(granularity.to_string())),
            None => (spec, None),
        };
        let field = model
            .field(name)
            .ok_or_else(|| {
                OdooError::value_error(
                    format!("Invalid field {name:?} on model {:?}", model.name).replace('"', "'"),
                )
            })?
            .clone();
        if !field.store || field.ftype == FieldType::Binary || field.ftype == FieldType::One2many {
            return Err(OdooError::value_error(format!(
                "Field {} is not groupable",
                Value::str(format!("{}.{}", model.name, name)).py_repr()
            )));
        }
        let temporal = matches!(field.ftype, FieldType::Date | FieldType::Datetime);
        let granularity = match (temporal, granularity) {
            (true, None) if legacy => Some("month".to_string()),
            (true, None) => None,
            (true, Some(granularity))
                if matches!(granularity.as_str(), "day" | "month" | "quarter" | "year") =>
            {
                Some(granularity)
            }
            (true, Some(granularity)) => {
                return Err(OdooError::value_error(format!(
                    "Granularity {} is not supported",
                    Value::str(granularity).py_repr()
                )));
            }
            (false, Some(_)) => {
                return Err(OdooError::value_error(format!(
                    "Granularity set on a no-datetime field or property: {}",
                    Value::str(spec).py_repr()
                )));
            }
            (false, None) => None,
        };
        Ok(GroupSpec {
            spec: spec.to_string(),
            field,
            granularity,
        })
    }

    /// Groups matching ids by the given specs, in the default group order (the groupby fields' order).
    fn group_rows(
        &self,
        env: &Env,
        model: &ModelDef,
        domain: &Domain,
        specs: &[GroupSpec],
        expand: bool,
    ) -> Result<Vec<Group>, OdooError> {
        let ids = self.search_domain(env, model, domain)?;
        let mut groups: Vec<Group> = Vec::new();
        for id in ids {
            let keys: Vec<GroupKey> = specs
                .iter()
                .map(|spec| self.group_key(model, id, spec))
                .collect();
            match groups.iter_mut().find(|group| {
                group
                    .keys
                    .iter()
                    .zip(&keys)
                    .all(|(left, right)| left.raw == right.raw)
            }) {
                Some(group) => group.ids.push(id),
                None => groups.push(Group {
                    keys,
                    ids: vec![id],
                }),
            }
        }
        // group_expand (crm.lead stage_id): every stage appears, even without records.
        if expand && specs.len() == 1 && specs[0].field.group_expand {
            let comodel = self.model_or_err(specs[0].field.relation.unwrap_or_default())?;
            for stage in self.search_domain(env, comodel, &Domain::Bool(true))? {
                if !groups
                    .iter()
                    .any(|group| group.keys[0].raw == Value::Int(stage))
                {
                    let label = Value::List(vec![
                        Value::Int(stage),
                        Value::Str(self.display_name(comodel.name, stage)),
                    ]);
                    groups.push(Group {
                        keys: vec![GroupKey {
                            raw: Value::Int(stage),
                            label,
                            range: None,
                        }],
                        ids: Vec::new(),
                    });
                }
            }
        }
        // Order groups as SQL would with ORDER BY the groupby columns (many2one by the comodel's order).
        let mut ranks: Vec<BTreeMap<String, usize>> = Vec::new();
        for spec in specs {
            let mut rank = BTreeMap::new();
            if let (FieldType::Many2one, Some(comodel)) = (
                spec.field.ftype,
                spec.field.relation.and_then(|name| self.model(name)),
            ) {
                let all: Vec<i64> = self
                    .table(comodel.name)
                    .map(|table| table.keys().copied().collect())
                    .unwrap_or_default();
                for (index, id) in self
                    .sort(comodel, all, &self.default_order(comodel), 0)
                    .into_iter()
                    .enumerate()
                {
                    rank.insert(id.to_string(), index);
                }
            }
            ranks.push(rank);
        }
        groups.sort_by(|left, right| {
            for (index, spec) in specs.iter().enumerate() {
                let ordering = compare_group_values(
                    &spec.field,
                    &left.keys[index].raw,
                    &right.keys[index].raw,
                    &ranks[index],
                );
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            Ordering::Equal
        });
        Ok(groups)
    }

    fn aggregate(&self, model: &ModelDef, ids: &[i64], field: &FieldDef, function: &str) -> Value {
        let values: Vec<Value> = ids.iter().map(|id| self.value(model, *id, field)).collect();
        let numbers: Vec<f64> = values.iter().filter_map(Value::as_f64).collect();
        let integral = matches!(
            field.ftype,
            FieldType::Integer | FieldType::Many2oneReference
        );
        let number = |total: f64| {
            if integral {
                Value::Int(total as i64)
            } else {
                Value::Float(total)
            }
        };
        if ids.is_empty() {
            return if function == "count" || function == "count_distinct" {
                Value::Int(0)
            } else {
                Value::Bool(false)
            };
        }
        match function {
            "sum" => number(numbers.iter().sum()),
            "avg" => Value::Float(numbers.iter().sum::<f64>() / numbers.len().max(1) as f64),
            "min" if field.ftype.is_numeric() => {
                number(numbers.iter().copied().fold(f64::INFINITY, f64::min))
            }
            "max" if field.ftype.is_numeric() => {
                number(numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max))
            }
            "min" | "max" => {
                let mut texts: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
                texts.sort_unstable();
                let picked = if function == "min" {
                    texts.first()
                } else {
                    texts.last()
                };
                picked
                    .map(|text| Value::str(*text))
                    .unwrap_or(Value::Bool(false))
            }
            "count" => Value::Int(
                values
                    .iter()
                    .filter(|value| !matches!(value, Value::Bool(false) | Value::Nil))
                    .count() as i64,
            ),
            "count_distinct" => {
                let distinct: BTreeSet<String> = values
                    .iter()
                    .filter(|value| !matches!(value, Value::Bool(false) | Value::Nil))
                    .map(Value::py_repr)
                    .collect();
                Value::Int(distinct.len() as i64)
            }
            "bool_and" => Value::Bool(values.iter().all(Value::is_truthy)),
            "bool_or" => Value::Bool(values.iter().any(Value::is_truthy)),
            _ => Value::Bool(false),
        }
    }

    /// The legacy `read_group(domain, fields, groupby, offset, limit, orderby, lazy)` (deprecated in 19.0 but served).
    #[allow(clippy::too_many_arguments)]
    pub fn read_group(
        &self,
        env: &Env,
        model: &str,
        domain: &Value,
        fields: &[String],
        groupby: &[String],
        offset: usize,
        limit: Option<usize>,
        orderby: Option<&str>,
        lazy: bool,
    ) -> Result<Vec<Value>, OdooError> {
        let definition = self.model_or_err(model)?;
        self.check_access(env, model, "read")?;
        let parsed = Domain::parse(domain)?;
        let lazy_groupby: Vec<String> = if lazy {
            groupby.iter().take(1).cloned().collect()
        } else {
            groupby.to_vec()
        };
        let specs = lazy_groupby
            .iter()
            .map(|spec| self.parse_group_spec(definition, spec, true))
            .collect::<Result<Vec<_>, _>>()?;
        let count_key = if lazy && specs.len() == 1 {
            format!(
                "{}_count",
                specs[0].spec.split(':').next().unwrap_or_default()
            )
        } else {
            "__count".to_string()
        };
        // Aggregates: `name` (its default aggregator), `name:agg` or `alias:agg(name)`.
        let mut aggregates: Vec<(String, FieldDef, String)> = Vec::new();
        for spec in fields {
            if spec == "__count" {
                continue;
            }
            let (alias, function, name) = parse_aggregate_spec(spec).ok_or_else(|| {
                OdooError::value_error(format!(
                    "Invalid field specification {}.",
                    Value::str(spec.clone()).py_repr()
                ))
            })?;
            let field = definition.field(&name).ok_or_else(|| {
                OdooError::value_error(format!("Invalid field '{name}' on model '{model}'"))
            })?;
            let function = match function {
                Some(function) => function,
                None => match field.default_aggregator() {
                    Some(function) if !lazy_groupby.contains(spec) => function.to_string(),
                    _ => continue,
                },
            };
            check_aggregate_function(&function, spec)?;
            aggregates.push((alias, field.clone(), function));
        }
        let expand = lazy && specs.len() == 1;
        let mut groups = self.group_rows(env, definition, &parsed, &specs, expand)?;
        if let Some(orderby) = orderby.filter(|text| !text.trim().is_empty()) {
            let mut keys: Vec<String> = aggregates
                .iter()
                .map(|(alias, _, _)| alias.clone())
                .collect();
            keys.extend([count_key.clone(), "__count".to_string()]);
            self.order_groups(
                &mut groups,
                &specs,
                orderby,
                &keys,
                &|group: &Group, key: &str| {
                    if key == count_key || key == "__count" {
                        return Some(Value::Int(group.ids.len() as i64));
                    }
                    aggregates.iter().find(|(alias, _, _)| alias == key).map(
                        |(_, field, function)| {
                            self.aggregate(definition, &group.ids, field, function)
                        },
                    )
                },
            )?;
        }
        let mut rows = Vec::new();
        for group in groups
            .into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
        {
            let mut row: Vec<(String, Value)> = Vec::new();
            for (spec, key) in specs.iter().zip(&group.keys) {
                row.push((spec.spec.clone(), key.label.clone()));
            }
            row.push((count_key.clone(), Value::Int(group.ids.len() as i64)));
            for (alias, field, function) in &aggregates {
                row.push((
                    alias.clone(),
                    self.aggregate(definition, &group.ids, field, function),
                ));
            }
            let group_domain = Domain::and(
                specs
                    .iter()
                    .zip(&group.keys)
                    .flat_map(|(spec, key)| group_conditions(spec, key))
                    .chain([parsed.clone()])
                    .collect(),
            );
            row.push(("__domain".to_string(), group_domain.to_value()));
            if lazy_groupby.len() < groupby.len() {
                let rest: Vec<Value> = groupby[lazy_groupby.len()..]
                    .iter()
                    .map(|spec| Value::str(spec.clone()))
                    .collect();
                row.push((
                    "__context".to_string(),
                    Value::dict([("group_by", Value::List(rest))]),
                ));
            }
            let ranges: Vec<(String, Value)> = specs
                .iter()
                .zip(&group.keys)
                .filter_map(|(spec, key)| {
                    key.range.as_ref().map(|(start, next)| {
                        (
                            spec.spec.clone(),
                            Value::dict([
                                ("from", Value::str(start.clone())),
                                ("to", Value::str(next.clone())),
                            ]),
                        )
                    })
                })
                .collect();
            if !ranges.is_empty() {
                row.push(("__range".to_string(), Value::Dict(ranges)));
            }
            rows.push(Value::Dict(row));
        }
        Ok(rows)
    }

    /// Odoo 19's `formatted_read_group(domain, groupby, aggregates, having, offset, limit, order)`.
    #[allow(clippy::too_many_arguments)]
    pub fn formatted_read_group(
        &self,
        env: &Env,
        model: &str,
        domain: &Value,
        groupby: &[String],
        aggregates: &[String],
        having: &Value,
        offset: usize,
        limit: Option<usize>,
        order: Option<&str>,
    ) -> Result<Vec<Value>, OdooError> {
        let definition = self.model_or_err(model)?;
        self.check_access(env, model, "read")?;
        let parsed = Domain::parse(domain)?;
        let specs = groupby
            .iter()
            .map(|spec| self.parse_group_spec(definition, spec, false))
            .collect::<Result<Vec<_>, _>>()?;
        let mut resolved: Vec<(String, Option<(FieldDef, String)>)> = Vec::new();
        for spec in aggregates {
            if spec == "__count" {
                resolved.push((spec.clone(), None));
                continue;
            }
            let (name, function) = match spec.split_once(':') {
                Some((name, function)) => (name, function),
                None => (spec.as_str(), ""),
            };
            let field = definition.field(name).ok_or_else(|| {
                OdooError::value_error(format!(
                    "Invalid field '{name}' on model '{model}' for '{spec}'."
                ))
            })?;
            if function.is_empty() {
                return Err(OdooError::value_error(format!(
                    "Aggregate method is mandatory for '{name}'"
                )));
            }
            check_aggregate_function(function, spec)?;
            resolved.push((spec.clone(), Some((field.clone(), function.to_string()))));
        }
        let mut groups = self.group_rows(env, definition, &parsed, &specs, false)?;
        if specs.is_empty() && groups.is_empty() {
            // Without groupby, SQL aggregates over no rows still give one row.
            groups.push(Group {
                keys: Vec::new(),
                ids: Vec::new(),
            });
        }
        let value_of = |group: &Group, key: &str| -> Option<Value> {
            if key == "__count" {
                return Some(Value::Int(group.ids.len() as i64));
            }
            resolved
                .iter()
                .find(|(spec, _)| spec == key)
                .and_then(|(_, field)| field.as_ref())
                .map(|(field, function)| self.aggregate(definition, &group.ids, field, function))
                .or_else(|| {
                    let (name, function) = key.split_once(':')?;
                    let field = definition.field(name)?;
                    check_aggregate_function(function, key).ok()?;
                    Some(self.aggregate(definition, &group.ids, field, function))
                })
        };
        // `having` filters groups on aggregate values, e.g. [('__count', '>', 1)].
        let having = Domain::parse(having)?;
        if having != Domain::Bool(true) {
            let mut kept = Vec::new();
            for group in groups {
                if eval_having(&having, &|key| value_of(&group, key))? {
                    kept.push(group);
                }
            }
            groups = kept;
        }
        if let Some(order) = order.filter(|text| !text.trim().is_empty()) {
            let mut keys: Vec<String> = resolved.iter().map(|(spec, _)| spec.clone()).collect();
            keys.push("__count".to_string());
            // Odoo also accepts ordering by an aggregate that is not selected, e.g. `expected_revenue:sum desc`.
            for term in order.split(',') {
                let key = term.split_whitespace().next().unwrap_or_default();
                if let Some((name, function)) = key.split_once(':')
                    && definition.field(name).is_some()
                    && check_aggregate_function(function, key).is_ok()
                {
                    keys.push(key.to_string());
                }
            }
            self.order_groups(&mut groups, &specs, order, &keys, &value_of)?;
        }
        let mut rows = Vec::new();
        for group in groups
            .into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
        {
            let conditions: Vec<Domain> = specs
                .iter()
                .zip(&group.keys)
                .flat_map(|(spec, key)| group_conditions(spec, key))
                .collect();
            let extra = if conditions.is_empty() {
                Value::List(Vec::new())
            } else {
                Domain::and(conditions).to_value()
            };
            let mut row = vec![("__extra_domain".to_string(), extra)];
            for (spec, key) in specs.iter().zip(&group.keys) {
                let label = match &key.range {
                    Some((start, _)) => {
                        Value::List(vec![Value::str(start.clone()), key.label.clone()])
                    }
                    None => key.label.clone(),
                };
                row.push((spec.spec.clone(), label));
            }
            for (spec, _) in &resolved {
                row.push((
                    spec.clone(),
                    value_of(&group, spec).unwrap_or(Value::Bool(false)),
                ));
            }
            rows.push(Value::Dict(row));
        }
        Ok(rows)
    }

    /// Re-orders groups by an `order` clause over groupby specs and aggregate keys.
    fn order_groups(
        &self,
        groups: &mut [Group],
        specs: &[GroupSpec],
        order: &str,
        aggregate_keys: &[String],
        aggregate_of: &dyn Fn(&Group, &str) -> Option<Value>,
    ) -> Result<(), OdooError> {
        let mut terms: Vec<(String, bool)> = Vec::new();
        for term in order.split(',') {
            let words: Vec<&str> = term.split_whitespace().collect();
            let (key, descending) = match words.as_slice() {
                [key] => (*key, false),
                [key, direction] if direction.eq_ignore_ascii_case("asc") => (*key, false),
                [key, direction] if direction.eq_ignore_ascii_case("desc") => (*key, true),
                _ => {
                    return Err(OdooError::value_error(format!(
                        "Invalid order {} for _read_group()",
                        Value::str(order).py_repr()
                    )));
                }
            };
            terms.push((key.to_string(), descending));
        }
        let mut ranks: Vec<BTreeMap<String, usize>> = Vec::new();
        for spec in specs {
            let mut rank = BTreeMap::new();
            if let (FieldType::Many2one, Some(comodel)) = (
                spec.field.ftype,
                spec.field.relation.and_then(|name| self.model(name)),
            ) {
                let all: Vec<i64> = self
                    .table(comodel.name)
                    .map(|table| table.keys().copied().collect())
                    .unwrap_or_default();
                for (index, id) in self
                    .sort(comodel, all, &self.default_order(comodel), 0)
                    .into_iter()
                    .enumerate()
                {
                    rank.insert(id.to_string(), index);
                }
            }
            ranks.push(rank);
        }
        for (key, _) in &terms {
            let is_groupby = specs
                .iter()
                .any(|spec| spec.spec == *key || spec.field.name == key.as_str());
            if !is_groupby && !aggregate_keys.iter().any(|known| known == key) {
                return Err(OdooError::value_error(format!(
                    "Order term {} is not a valid aggregate nor valid groupby",
                    Value::str(key.clone()).py_repr()
                )));
            }
        }
        groups.sort_by(|left, right| {
            for (key, descending) in &terms {
                let ordering = match specs
                    .iter()
                    .position(|spec| spec.spec == *key || spec.field.name == key.as_str())
                {
                    Some(index) => compare_group_values(
                        &specs[index].field,
                        &left.keys[index].raw,
                        &right.keys[index].raw,
                        &ranks[index],
                    ),
                    None => {
                        let left_value = aggregate_of(left, key)
                            .and_then(|value| value.as_f64())
                            .unwrap_or(0.0);
                        let right_value = aggregate_of(right, key)
                            .and_then(|value| value.as_f64())
                            .unwrap_or(0.0);
                        left_value
                            .partial_cmp(&right_value)
                            .unwrap_or(Ordering::Equal)
                    }
                };
                let ordering = if *descending {
                    ordering.reverse()
                } else {
                    ordering
                };
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            Ordering::Equal
        });
        Ok(())
    }
}

/// One `groupby` spec: `stage_id`, `date_deadline:month`.
struct GroupSpec {
    spec: String,
    field: FieldDef,
    granularity: Option<String>,
}

/// One record's position in one groupby: raw value (for matching), label (for output), date range.
#[derive(Clone)]
struct GroupKey {
    raw: Value,
    label: Value,
    range: Option<(String, String)>,
}

struct Group {
    keys: Vec<GroupKey>,
    ids: Vec<i64>,
}

/// The domain conditions that select one group.
fn group_conditions(spec: &GroupSpec, key: &GroupKey) -> Vec<Domain> {
    let condition = |operator: &str, value: Value| {
        Domain::Cond(Condition {
            path: spec.field.name.to_string(),
            operator: operator.to_string(),
            value,
        })
    };
    match &key.range {
        Some((start, next)) => vec![Domain::And(vec![
            condition(">=", Value::str(start.clone())),
            condition("<", Value::str(next.clone())),
        ])],
        None => vec![condition("=", key.raw.clone())],
    }
}

fn compare_group_values(
    field: &FieldDef,
    left: &Value,
    right: &Value,
    rank: &BTreeMap<String, usize>,
) -> Ordering {
    let left_null =
        matches!(left, Value::Bool(false) | Value::Nil) && field.ftype != FieldType::Boolean;
    let right_null =
        matches!(right, Value::Bool(false) | Value::Nil) && field.ftype != FieldType::Boolean;
    match (left_null, right_null) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    if !rank.is_empty() {
        let position = |value: &Value| {
            value
                .as_int()
                .and_then(|id| rank.get(&id.to_string()).copied())
                .unwrap_or(usize::MAX)
        };
        return position(left).cmp(&position(right));
    }
    match (
        SortValue::from_value(field, left),
        SortValue::from_value(field, right),
    ) {
        (Some(left), Some(right)) => left.cmp_to(&right),
        _ => Ordering::Equal,
    }
}

/// `name`, `name:agg` or `alias:agg(name)` → (alias, aggregate, field name).
fn parse_aggregate_spec(spec: &str) -> Option<(String, Option<String>, String)> {
    let valid = |text: &str| {
        !text.is_empty()
            && text
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || character == '_')
    };
    match spec.split_once(':') {
        None => valid(spec).then(|| (spec.to_string(), None, spec.to_string())),
        Some((alias, rest)) => match rest.split_once('(') {
            Some((function, field)) => {
                let field = field.strip_suffix(')')?;
                (valid(alias) && valid(function) && valid(field)).then(|| {
                    (
                        alias.to_string(),
                        Some(function.to_string()),
                        field.to_string(),
                    )
                })
            }
            None => (valid(alias) && valid(rest))
                .then(|| (alias.to_string(), Some(rest.to_string()), alias.to_string())),
        },
    }
}

fn check_aggregate_function(function: &str, spec: &str) -> Result<(), OdooError> {
    const FUNCTIONS: &[&str] = &[
        "sum",
        "avg",
        "min",
        "max",
        "count",
        "count_distinct",
        "bool_and",
        "bool_or",
        "array_agg",
    ];
    if FUNCTIONS.contains(&function) {
        Ok(())
    } else {
        Err(OdooError::value_error(format!(
            "Invalid aggregate method '{function}' for '{spec}'."
        )))
    }
}

/// Evaluates a `having` domain whose conditions name aggregates (`('__count', '>', 1)`).
fn eval_having(
    domain: &Domain,
    value_of: &dyn Fn(&str) -> Option<Value>,
) -> Result<bool, OdooError> {
    Ok(match domain {
        Domain::Bool(flag) => *flag,
        Domain::And(children) => {
            let mut all = true;
            for child in children {
                all &= eval_having(child, value_of)?;
            }
            all
        }
        Domain::Or(children) => {
            let mut any = false;
            for child in children {
                any |= eval_having(child, value_of)?;
            }
            any
        }
        Domain::Not(child) => !eval_having(child, value_of)?,
        Domain::Cond(condition) => {
            let current = value_of(&condition.path).ok_or_else(|| {
                OdooError::value_error(format!(
                    "Invalid having clause {}: not a valid aggregate",
                    condition.repr()
                ))
            })?;
            compare(
                &FieldDef::aggregate(),
                &current,
                &condition.operator,
                &condition.value,
            )
        }
    })
}

/// Values compared when sorting: numbers, or text compared case-insensitively first (like a PostgreSQL collation).
#[derive(Debug, Clone)]
enum SortValue {
    Number(f64),
    Text(String),
}

impl SortValue {
    fn from_value(field: &FieldDef, value: &Value) -> Option<SortValue> {
        match value {
            Value::Bool(flag) if field.ftype == FieldType::Boolean => {
                Some(SortValue::Number(f64::from(u8::from(*flag))))
            }
            Value::Bool(false) | Value::Nil => None,
            Value::Bool(true) => Some(SortValue::Number(1.0)),
            Value::Int(number) => Some(SortValue::Number(*number as f64)),
            Value::Float(number) => Some(SortValue::Number(*number)),
            Value::Str(text) | Value::DateTime(text) => Some(SortValue::Text(text.clone())),
            _ => None,
        }
    }

    fn cmp_to(&self, other: &SortValue) -> Ordering {
        match (self, other) {
            (SortValue::Number(left), SortValue::Number(right)) => {
                left.partial_cmp(right).unwrap_or(Ordering::Equal)
            }
            (SortValue::Text(left), SortValue::Text(right)) => left
                .to_lowercase()
                .cmp(&right.to_lowercase())
                .then_with(|| left.cmp(right)),
            (SortValue::Number(_), SortValue::Text(_)) => Ordering::Less,
            (SortValue::Text(_), SortValue::Number(_)) => Ordering::Greater,
        }
    }
}

/// Whether a value counts as "not set" for `= False` (Odoo 19 treats a field's falsy value like NULL).
fn is_unset(field: &FieldDef, value: &Value) -> bool {
    match value {
        Value::Nil | Value::Bool(false) => true,
        Value::Str(text) => text.is_empty(),
        Value::Int(0) => field.ftype != FieldType::Boolean,
        Value::Float(number) => *number == 0.0,
        Value::List(items) => items.is_empty(),
        _ => false,
    }
}

/// Normalises a compared value to the field's representation (dates padded for datetimes, booleans, numbers).
fn comparable(field: &FieldDef, value: &Value) -> Value {
    match (field.ftype, value) {
        // An XML-RPC dateTime compares as Odoo's string form.
        (FieldType::Date, Value::DateTime(text)) => Value::Str(text.chars().take(10).collect()),
        (_, Value::DateTime(text)) => Value::Str(text.clone()),
        (FieldType::Datetime, Value::Str(text)) if text.len() == 10 => {
            Value::Str(format!("{text} 00:00:00"))
        }
        (FieldType::Boolean, other) => Value::Bool(other.is_truthy()),
        (FieldType::Integer | FieldType::Float | FieldType::Monetary, Value::Str(text)) => text
            .trim()
            .parse::<f64>()
            .map(Value::Float)
            .unwrap_or_else(|_| value.clone()),
        _ => value.clone(),
    }
}

fn equals(field: &FieldDef, current: &Value, target: &Value) -> bool {
    if target.is_none_or_false() && field.ftype != FieldType::Boolean {
        return is_unset(field, current);
    }
    let target = comparable(field, target);
    match (current, &target) {
        (Value::List(items), _) => {
            items.contains(&target)
                || target
                    .as_int()
                    .is_some_and(|id| items.iter().any(|item| item.as_int() == Some(id)))
        }
        (Value::Bool(left), Value::Bool(right)) => left == right,
        (Value::Bool(false), _) => false,
        (left, right) if left.as_f64().is_some() && right.as_f64().is_some() => {
            left.as_f64() == right.as_f64()
        }
        (Value::Str(left), Value::Str(right)) => left == right,
        (Value::Str(left), Value::Int(right)) => *left == right.to_string(),
        _ => current == &target,
    }
}

fn inequality(field: &FieldDef, current: &Value, operator: &str, target: &Value) -> bool {
    if target.is_none_or_false() || (is_unset(field, current) && !field.ftype.is_numeric()) {
        return false;
    }
    let target = comparable(field, target);
    let ordering = match (current, &target) {
        (left, right)
            if left.as_f64().is_some()
                && right.as_f64().is_some()
                && !matches!(left, Value::Bool(_)) =>
        {
            left.as_f64().partial_cmp(&right.as_f64())
        }
        (Value::Bool(left), right) => Some(i64::from(*left).cmp(&right.as_int().unwrap_or(0))),
        (Value::Str(left), Value::Str(right)) => Some(left.as_str().cmp(right.as_str())),
        _ => None,
    };
    match (ordering, operator) {
        (Some(ordering), "<") => ordering == Ordering::Less,
        (Some(ordering), "<=") => ordering != Ordering::Greater,
        (Some(ordering), ">") => ordering == Ordering::Greater,
        (Some(ordering), ">=") => ordering != Ordering::Less,
        _ => false,
    }
}

/// Evaluates `current <operator> target` for one record, with SQL's NULL rules as Odoo writes them
/// (negative operators include unset values, inequalities exclude them).
fn compare(field: &FieldDef, current: &Value, operator: &str, target: &Value) -> bool {
    match operator {
        "=" => equals(field, current, target),
        "!=" => !equals(field, current, target),
        "in" | "not in" => {
            let found = match target {
                Value::List(items) => items.iter().any(|item| equals(field, current, item)),
                single => equals(field, current, single),
            };
            found == (operator == "in")
        }
        "<" | "<=" | ">" | ">=" => inequality(field, current, operator, target),
        "like" | "ilike" | "=like" | "=ilike" | "not like" | "not ilike" => {
            let negative = operator.starts_with("not ");
            let positive = operator.trim_start_matches("not ");
            if target.is_none_or_false() {
                return is_unset(field, current) != negative;
            }
            let text = match target {
                Value::Str(text) => text.clone(),
                other => other.py_repr(),
            };
            let pattern = if positive.starts_with('=') {
                text
            } else {
                format!("%{text}%")
            };
            let current_text = match current {
                Value::Str(text) => Some(text.clone()),
                Value::Int(number) if field.ftype.is_numeric() => Some(number.to_string()),
                Value::Float(number) => Some(crate::value::py_float_repr(*number)),
                Value::List(items) => Some(
                    items
                        .iter()
                        .map(Value::py_repr)
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                _ => None,
            };
            match current_text {
                Some(text) => like_match(&pattern, &text, positive.ends_with("ilike")) != negative,
                None => negative,
            }
        }
        _ => false,
    }
}

fn describe_field(field: &FieldDef) -> Vec<(String, Value)> {
    let mut description: Vec<(String, Value)> = vec![
        ("type".into(), Value::str(field.ftype.name())),
        ("change_default".into(), Value::Bool(false)),
        ("company_dependent".into(), Value::Bool(false)),
        ("depends".into(), Value::List(Vec::new())),
        ("exportable".into(), Value::Bool(true)),
        (
            "groupable".into(),
            Value::Bool(
                field.store && !matches!(field.ftype, FieldType::Binary | FieldType::One2many),
            ),
        ),
        ("manual".into(), Value::Bool(false)),
        ("name".into(), Value::str(field.name)),
        ("readonly".into(), Value::Bool(field.readonly)),
        ("required".into(), Value::Bool(field.required)),
        ("searchable".into(), Value::Bool(true)),
        (
            "sortable".into(),
            Value::Bool(field.store && !field.ftype.is_x2many()),
        ),
        ("store".into(), Value::Bool(field.store)),
        ("string".into(), Value::str(field.string)),
    ];
    if let Some(help) = field.help {
        description.push(("help".into(), Value::str(help)));
    }
    if let Some(aggregator) = field.default_aggregator() {
        description.push(("aggregator".into(), Value::str(aggregator)));
    }
    if let Some(relation) = field.relation {
        description.push(("relation".into(), Value::str(relation)));
        description.push(("context".into(), Value::Dict(Vec::new())));
        description.push(("domain".into(), Value::List(Vec::new())));
    }
    if let Some(inverse) = field.inverse_name {
        description.push(("relation_field".into(), Value::str(inverse)));
    }
    if field.ftype == FieldType::Many2oneReference {
        let model_field = if field.name == "res_id" {
            "res_model"
        } else {
            "model"
        };
        description.push(("model_field".into(), Value::str(model_field)));
    }
    if field.ftype == FieldType::Selection {
        let choices = field
            .selection
            .iter()
            .map(|(value, label)| Value::List(vec![Value::str(*value), Value::str(*label)]))
            .collect();
        description.push(("selection".into(), Value::List(choices)));
    }
    if matches!(
        field.ftype,
        FieldType::Char | FieldType::Text | FieldType::Html
    ) {
        description.push(("translate".into(), Value::Bool(false)));
    }
    if field.ftype == FieldType::Char {
        description.push(("trim".into(), Value::Bool(true)));
    }
    if field.ftype == FieldType::Html {
        description.push(("sanitize".into(), Value::Bool(true)));
    }
    description
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}
