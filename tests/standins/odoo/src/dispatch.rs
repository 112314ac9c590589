//! Calling a model method the way Odoo 19 does over each protocol.
//!
//! XML-RPC goes through `odoo.service.model.call_kw`: the method must be public (`get_public_method`), record
//! methods take their ids from `args[0]`, the `context` keyword is popped, and the method is called with
//! `*args, **kwargs` (so a bad argument is Python's own `TypeError`).
//! JSON-2 goes through `WebJson2Controller.web_json_2_rpc`: an unknown model or method is a 404, `ids` given to an
//! `@api.model` method is a 422, and the named arguments are checked with `inspect.signature(...).bind` (a 422
//! with its message).
//! Results are adapted as Odoo does: recordsets become id lists, and XML-RPC `create` with one dict returns one id.

use crate::error::OdooError;
use crate::store::{Env, MessagePost, Store, Vals};
use crate::value::Value;

/// Which external API carries the call; errors and some results differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `/xmlrpc/2/object` (`execute_kw`, `execute`).
    XmlRpc,
    /// `/json/2/<model>/<method>`.
    Json2,
}

/// One method call on a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The model, e.g. `res.partner`.
    pub model: String,
    /// The method, e.g. `search_read`.
    pub method: String,
    /// JSON-2's `ids` (XML-RPC passes ids as the first positional argument instead).
    pub ids: Option<Value>,
    /// Positional arguments (XML-RPC only).
    pub args: Vec<Value>,
    /// Keyword arguments, including `context`.
    pub kwargs: Vec<(String, Value)>,
}

/// A method's Python signature (after `self`).
struct Signature {
    qualname: &'static str,
    /// `@api.model`: called without ids.
    model_method: bool,
    /// Positional-or-keyword parameters: name and whether it is required.
    positional: &'static [(&'static str, bool)],
    /// Keyword-only parameters (all optional here).
    keyword_only: &'static [&'static str],
    /// Whether `**kwargs` is accepted.
    var_keyword: bool,
}

const MESSAGE_POST_KEYWORDS: &[&str] = &[
    "body",
    "subject",
    "message_type",
    "email_from",
    "author_id",
    "parent_id",
    "subtype_xmlid",
    "subtype_id",
    "partner_ids",
    "attachments",
    "attachment_ids",
    "body_is_html",
];

fn signature(model: &str, method: &str, mail_thread: bool) -> Option<Signature> {
    let base = |qualname, model_method, positional, var_keyword| Signature {
        qualname,
        model_method,
        positional,
        keyword_only: &[],
        var_keyword,
    };
    Some(match method {
        "search" => base(
            "BaseModel.search",
            true,
            &[
                ("domain", true),
                ("offset", false),
                ("limit", false),
                ("order", false),
            ],
            false,
        ),
        "search_count" => base(
            "BaseModel.search_count",
            true,
            &[("domain", true), ("limit", false)],
            false,
        ),
        "search_read" => base(
            "BaseModel.search_read",
            true,
            &[
                ("domain", false),
                ("fields", false),
                ("offset", false),
                ("limit", false),
                ("order", false),
            ],
            true,
        ),
        "read" => base(
            "BaseModel.read",
            false,
            &[("fields", false), ("load", false)],
            false,
        ),
        "create" => base("BaseModel.create", true, &[("vals_list", true)], false),
        "write" => base("BaseModel.write", false, &[("vals", true)], false),
        "unlink" => base("BaseModel.unlink", false, &[], false),
        "fields_get" => base(
            "BaseModel.fields_get",
            true,
            &[("allfields", false), ("attributes", false)],
            false,
        ),
        "read_group" => base(
            "BaseModel.read_group",
            true,
            &[
                ("domain", true),
                ("fields", true),
                ("groupby", true),
                ("offset", false),
                ("limit", false),
                ("orderby", false),
                ("lazy", false),
            ],
            false,
        ),
        "formatted_read_group" => base(
            "Base.formatted_read_group",
            true,
            &[
                ("domain", true),
                ("groupby", false),
                ("aggregates", false),
                ("having", false),
                ("offset", false),
                ("limit", false),
                ("order", false),
            ],
            false,
        ),
        "name_search" => base(
            "BaseModel.name_search",
            true,
            &[
                ("name", false),
                ("domain", false),
                ("operator", false),
                ("limit", false),
            ],
            false,
        ),
        "message_post" if mail_thread => Signature {
            qualname: "MailThread.message_post",
            model_method: false,
            positional: &[],
            keyword_only: MESSAGE_POST_KEYWORDS,
            var_keyword: true,
        },
        "context_get" if model == "res.users" => base("ResUsers.context_get", true, &[], false),
        _ => return None,
    })
}

/// Arguments bound to a signature.
struct Bound {
    values: Vec<(&'static str, Value)>,
    extra: Vals,
}

impl Bound {
    fn get(&self, name: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }
}

fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        format!("{count} {word}")
    } else {
        format!("{count} {word}s")
    }
}

/// Python's list of names in a "missing arguments" message: `'a'`, `'a' and 'b'`, `'a', 'b', and 'c'`.
fn name_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("'{name}'")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        2 => format!("{} and {}", quoted[0], quoted[1]),
        _ => format!(
            "{}, and {}",
            quoted[..quoted.len() - 1].join(", "),
            quoted[quoted.len() - 1]
        ),
    }
}

/// Binds arguments like a Python call (XML-RPC) or like `Signature.bind` (JSON-2), with their error messages.
fn bind(
    signature: &Signature,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
    protocol: Protocol,
) -> Result<Bound, OdooError> {
    let qualname = signature.qualname;
    let error = |call_style: String, bind_style: String| match protocol {
        Protocol::XmlRpc => OdooError::type_error(call_style),
        Protocol::Json2 => OdooError::http(422, bind_style),
    };
    if args.len() > signature.positional.len() {
        let required = signature
            .positional
            .iter()
            .filter(|(_, required)| *required)
            .count()
            + 1;
        let total = signature.positional.len() + 1;
        let given = args.len() + 1;
        let takes = if required == total {
            format!("takes {}", plural(total, "positional argument"))
        } else {
            format!("takes from {required} to {total} positional arguments")
        };
        let verb = if given == 1 { "was" } else { "were" };
        return Err(error(
            format!("{qualname}() {takes} but {given} {verb} given"),
            "too many positional arguments".into(),
        ));
    }
    let mut values: Vec<(&'static str, Value)> = signature
        .positional
        .iter()
        .zip(args)
        .map(|((name, _), value)| (*name, value))
        .collect();
    let mut extra = Vals::new();
    for (key, value) in kwargs {
        if values.iter().any(|(name, _)| *name == key) {
            return Err(error(
                format!("{qualname}() got multiple values for argument '{key}'"),
                format!("multiple values for argument '{key}'"),
            ));
        }
        let known = signature
            .positional
            .iter()
            .map(|(name, _)| *name)
            .chain(signature.keyword_only.iter().copied())
            .find(|name| *name == key);
        match known {
            Some(name) => values.push((name, value)),
            None if signature.var_keyword => extra.push((key, value)),
            None => {
                return Err(error(
                    format!("{qualname}() got an unexpected keyword argument '{key}'"),
                    format!("got an unexpected keyword argument '{key}'"),
                ));
            }
        }
    }
    let missing: Vec<&str> = signature
        .positional
        .iter()
        .filter(|(name, required)| *required && !values.iter().any(|(bound, _)| bound == name))
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(error(
            format!(
                "{qualname}() missing {} required positional {}: {}",
                missing.len(),
                if missing.len() == 1 {
                    "argument"
                } else {
                    "arguments"
                },
                name_list(&missing)
            ),
            format!("missing a required argument: '{}'", missing[0]),
        ));
    }
    Ok(Bound { values, extra })
}

/// `browse(ids)`: an id, a list of ids, or nothing.
fn browse(value: &Value) -> Result<Vec<i64>, OdooError> {
    match value {
        Value::Nil | Value::Bool(false) => Ok(Vec::new()),
        Value::Int(id) => Ok(vec![*id]),
        Value::List(items) => items
            .iter()
            .map(|item| {
                item.as_int().ok_or_else(|| {
                    OdooError::value_error(format!("Invalid id: {}", item.py_repr()))
                })
            })
            .collect(),
        other => Err(OdooError::value_error(format!(
            "Invalid id: {}",
            other.py_repr()
        ))),
    }
}

fn strings(value: Option<&Value>) -> Result<Option<Vec<String>>, OdooError> {
    match value {
        None | Some(Value::Nil) | Some(Value::Bool(false)) => Ok(None),
        Some(Value::Str(text)) => Ok(Some(vec![text.clone()])),
        Some(Value::List(items)) => items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_string).ok_or_else(|| {
                    OdooError::type_error(format!("expected a field name, got {}", item.py_repr()))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(OdooError::type_error(format!(
            "expected a list of field names, got {}",
            other.py_repr()
        ))),
    }
}

fn count(value: Option<&Value>, what: &str) -> Result<Option<usize>, OdooError> {
    match value {
        None | Some(Value::Nil) | Some(Value::Bool(false)) | Some(Value::Int(0)) => Ok(None),
        Some(Value::Int(number)) if *number > 0 => Ok(Some(*number as usize)),
        Some(Value::Int(_)) => Err(OdooError::value_error(format!(
            "{what} must not be negative"
        ))),
        Some(other) => Err(OdooError::type_error(format!(
            "invalid {what}: {}",
            other.py_repr()
        ))),
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_string)
}

fn vals(value: &Value) -> Result<Vals, OdooError> {
    match value {
        Value::Dict(pairs) => Ok(pairs.clone()),
        other => Err(OdooError::attribute_error(format!(
            "'{}' object has no attribute 'items'",
            match other {
                Value::List(_) => "list",
                Value::Str(_) => "str",
                Value::Int(_) => "int",
                Value::Bool(_) => "bool",
                _ => "NoneType",
            }
        ))),
    }
}

/// Runs one call as user `uid` and returns the result as the protocol sends it.
pub fn execute(
    store: &mut Store,
    uid: i64,
    call: Call,
    protocol: Protocol,
) -> Result<Value, OdooError> {
    let Call {
        model,
        method,
        ids,
        mut args,
        kwargs,
    } = call;
    let Some(definition) = store.model(&model) else {
        return Err(match protocol {
            Protocol::XmlRpc => OdooError::UserError(format!("Object {model} doesn't exist")),
            Protocol::Json2 => OdooError::http(
                404,
                format!(
                    "the model {} does not exist",
                    Value::str(model.clone()).py_repr()
                ),
            ),
        });
    };
    let mail_thread = definition.mail_thread;
    if method.starts_with('_') {
        return Err(OdooError::AccessError(format!(
            "Private methods (such as '{model}.{method}') cannot be called remotely."
        )));
    }
    let Some(signature) = signature(&model, &method, mail_thread) else {
        let message = format!("The method '{model}.{method}' does not exist");
        return Err(match protocol {
            Protocol::XmlRpc => OdooError::attribute_error(message),
            Protocol::Json2 => OdooError::http(404, message),
        });
    };
    // The context travels as a keyword argument and is popped before the call.
    let mut env = Env::new(uid);
    let mut remaining = Vec::with_capacity(kwargs.len());
    for (key, value) in kwargs {
        if key == "context" {
            if let Some(active_test) = value.get("active_test") {
                env.active_test = active_test.is_truthy();
            }
        } else {
            remaining.push((key, value));
        }
    }
    let record_ids = match protocol {
        Protocol::Json2 => {
            let ids = browse(ids.as_ref().unwrap_or(&Value::Nil))?;
            if signature.model_method && !ids.is_empty() {
                return Err(OdooError::http(
                    422,
                    format!("cannot call {model}.{method} with ids"),
                ));
            }
            ids
        }
        Protocol::XmlRpc if signature.model_method => Vec::new(),
        Protocol::XmlRpc => {
            if args.is_empty() {
                return Err(OdooError::Python {
                    module: "builtins",
                    name: "IndexError",
                    message: "list index out of range".into(),
                });
            }
            browse(&args.remove(0))?
        }
    };
    let bound = bind(&signature, args, remaining, protocol)?;
    run(store, &env, &model, &method, &record_ids, &bound, protocol)
}

fn run(
    store: &mut Store,
    env: &Env,
    model: &str,
    method: &str,
    ids: &[i64],
    bound: &Bound,
    protocol: Protocol,
) -> Result<Value, OdooError> {
    let int_list = |ids: Vec<i64>| Value::List(ids.into_iter().map(Value::Int).collect());
    let empty_domain = Value::List(Vec::new());
    match method {
        "search" => {
            let offset = count(bound.get("offset"), "offset")?.unwrap_or(0);
            let limit = count(bound.get("limit"), "limit")?;
            let order = text(bound.get("order"));
            let domain = bound.get("domain").unwrap_or(&empty_domain);
            Ok(int_list(store.search(
                env,
                model,
                domain,
                offset,
                limit,
                order.as_deref(),
            )?))
        }
        "search_count" => {
            let limit = count(bound.get("limit"), "limit")?;
            let domain = bound.get("domain").unwrap_or(&empty_domain);
            Ok(Value::Int(store.search_count(env, model, domain, limit)?))
        }
        "search_read" => {
            // search_read(domain=None, ...): `domain or []`; extra keywords go to read(), which only takes `load`.
            let domain = bound
                .get("domain")
                .filter(|domain| !domain.is_none_or_false())
                .unwrap_or(&empty_domain);
            let mut classic = true;
            for (key, value) in &bound.extra {
                if key == "load" {
                    classic = value.as_str() == Some("_classic_read");
                } else {
                    return Err(OdooError::type_error(format!(
                        "BaseModel.read() got an unexpected keyword argument '{key}'"
                    )));
                }
            }
            let fields = strings(bound.get("fields"))?;
            let offset = count(bound.get("offset"), "offset")?.unwrap_or(0);
            let limit = count(bound.get("limit"), "limit")?;
            let order = text(bound.get("order"));
            let found = store.search(env, model, domain, offset, limit, order.as_deref())?;
            Ok(Value::List(store.read(
                env,
                model,
                &found,
                fields.as_deref(),
                classic,
            )?))
        }
        "read" => {
            let fields = strings(bound.get("fields"))?;
            let classic = bound
                .get("load")
                .is_none_or(|load| load.as_str() == Some("_classic_read"));
            Ok(Value::List(store.read(
                env,
                model,
                ids,
                fields.as_deref(),
                classic,
            )?))
        }
        "create" => {
            let vals_list = bound.get("vals_list").cloned().unwrap_or(Value::Nil);
            let (many, list) = match vals_list {
                Value::List(items) => {
                    (true, items.iter().map(vals).collect::<Result<Vec<_>, _>>()?)
                }
                single => (false, vec![vals(&single)?]),
            };
            let created = store.create(env, model, &list)?;
            // call_kw: `result.id if isinstance(args[0], Mapping) else result.ids`; JSON-2 always gives `.ids`.
            match (protocol, many, created.first()) {
                (Protocol::XmlRpc, false, Some(id)) => Ok(Value::Int(*id)),
                _ => Ok(int_list(created)),
            }
        }
        "write" => {
            let values = vals(bound.get("vals").unwrap_or(&Value::Nil))?;
            store.write(env, model, ids, &values)?;
            Ok(Value::Bool(true))
        }
        "unlink" => {
            store.unlink(env, model, ids)?;
            Ok(Value::Bool(true))
        }
        "fields_get" => {
            let allfields = strings(bound.get("allfields"))?;
            let attributes = strings(bound.get("attributes"))?;
            store.fields_get(env, model, allfields.as_deref(), attributes.as_deref())
        }
        "read_group" => {
            let domain = bound.get("domain").unwrap_or(&empty_domain);
            let fields = strings(bound.get("fields"))?.unwrap_or_default();
            let groupby = strings(bound.get("groupby"))?.unwrap_or_default();
            let offset = count(bound.get("offset"), "offset")?.unwrap_or(0);
            let limit = count(bound.get("limit"), "limit")?;
            let orderby = text(bound.get("orderby"));
            let lazy = bound.get("lazy").is_none_or(Value::is_truthy);
            let rows = store.read_group(
                env,
                model,
                domain,
                &fields,
                &groupby,
                offset,
                limit,
                orderby.as_deref(),
                lazy,
            )?;
            Ok(Value::List(rows))
        }
        "formatted_read_group" => {
            let domain = bound.get("domain").unwrap_or(&empty_domain);
            let groupby = strings(bound.get("groupby"))?.unwrap_or_default();
            let aggregates = strings(bound.get("aggregates"))?.unwrap_or_default();
            let having = bound
                .get("having")
                .filter(|having| !having.is_none_or_false())
                .unwrap_or(&empty_domain);
            let offset = count(bound.get("offset"), "offset")?.unwrap_or(0);
            let limit = count(bound.get("limit"), "limit")?;
            let order = text(bound.get("order"));
            let rows = store.formatted_read_group(
                env,
                model,
                domain,
                &groupby,
                &aggregates,
                having,
                offset,
                limit,
                order.as_deref(),
            )?;
            Ok(Value::List(rows))
        }
        "name_search" => {
            let name = text(bound.get("name")).unwrap_or_default();
            let domain = bound
                .get("domain")
                .filter(|domain| !domain.is_none_or_false())
                .unwrap_or(&empty_domain);
            let operator = text(bound.get("operator")).unwrap_or_else(|| "ilike".to_string());
            let limit = match bound.get("limit") {
                None => Some(100),
                other => count(other, "limit")?,
            };
            Ok(Value::List(store.name_search(
                env, model, &name, domain, &operator, limit,
            )?))
        }
        "message_post" => {
            let mut post = MessagePost {
                body: bound.get("body").cloned().unwrap_or(Value::str("")),
                body_is_html: bound.get("body_is_html").is_some_and(Value::is_truthy),
                message_type: text(bound.get("message_type"))
                    .unwrap_or_else(|| "notification".to_string()),
                subtype_xmlid: text(bound.get("subtype_xmlid")),
                extra: bound.extra.clone(),
            };
            for name in ["subject", "email_from", "author_id", "partner_ids"] {
                if let Some(value) = bound.get(name).filter(|value| !value.is_none_or_false()) {
                    post.extra.push((name.to_string(), value.clone()));
                }
            }
            let message = store.message_post(env, model, ids, &post)?;
            // message_post returns a mail.message record; call_kw and JSON-2 both answer `record.ids`.
            Ok(int_list(vec![message]))
        }
        "context_get" => Ok(store.context_get(env.uid)),
        _ => Err(OdooError::attribute_error(format!(
            "The method '{model}.{method}' does not exist"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::new("admin", "admin", "key", "demo-key")
    }

    fn call(model: &str, method: &str, args: Vec<Value>, kwargs: Vec<(&str, Value)>) -> Call {
        Call {
            model: model.into(),
            method: method.into(),
            ids: None,
            args,
            kwargs: kwargs
                .into_iter()
                .map(|(key, value)| (key.to_string(), value))
                .collect(),
        }
    }

    #[test]
    fn argument_errors_are_pythons() {
        let cases = vec![
            (
                call("res.partner", "search", vec![], vec![]),
                OdooError::type_error(
                    "BaseModel.search() missing 1 required positional argument: 'domain'",
                ),
            ),
            (
                call(
                    "res.partner",
                    "search",
                    vec![Value::List(vec![])],
                    vec![("bogus", Value::Int(1))],
                ),
                OdooError::type_error(
                    "BaseModel.search() got an unexpected keyword argument 'bogus'",
                ),
            ),
            (
                call(
                    "res.partner",
                    "search",
                    vec![Value::List(vec![])],
                    vec![("domain", Value::List(vec![]))],
                ),
                OdooError::type_error(
                    "BaseModel.search() got multiple values for argument 'domain'",
                ),
            ),
            (
                call(
                    "res.partner",
                    "search_count",
                    vec![Value::List(vec![]), Value::Int(1), Value::Int(2)],
                    vec![],
                ),
                OdooError::type_error(
                    "BaseModel.search_count() takes from 2 to 3 positional arguments but 4 were given",
                ),
            ),
            (
                call(
                    "res.partner",
                    "read_group",
                    vec![Value::List(vec![])],
                    vec![],
                ),
                OdooError::type_error(
                    "BaseModel.read_group() missing 2 required positional arguments: 'fields' and 'groupby'",
                ),
            ),
            (
                call(
                    "res.partner",
                    "message_post",
                    vec![Value::Int(5), Value::str("hi")],
                    vec![],
                ),
                OdooError::type_error(
                    "MailThread.message_post() takes 1 positional argument but 2 were given",
                ),
            ),
            (
                call(
                    "res.partner",
                    "name_search",
                    vec![],
                    vec![("args", Value::List(vec![]))],
                ),
                OdooError::type_error(
                    "BaseModel.name_search() got an unexpected keyword argument 'args'",
                ),
            ),
            (
                call("res.partner", "frobnicate", vec![], vec![]),
                OdooError::attribute_error("The method 'res.partner.frobnicate' does not exist"),
            ),
            (
                call("res.partner", "_read", vec![], vec![]),
                OdooError::AccessError(
                    "Private methods (such as 'res.partner._read') cannot be called remotely."
                        .into(),
                ),
            ),
            (
                call("no.such", "search", vec![], vec![]),
                OdooError::UserError("Object no.such doesn't exist".into()),
            ),
            (
                call("res.country", "message_post", vec![Value::Int(1)], vec![]),
                OdooError::attribute_error("The method 'res.country.message_post' does not exist"),
            ),
        ];
        let mut store = store();
        for (call, expected) in cases {
            let label = format!("{}.{}", call.model, call.method);
            assert_eq!(
                execute(&mut store, 2, call, Protocol::XmlRpc),
                Err(expected),
                "{label}"
            );
        }
    }

    #[test]
    fn json2_argument_errors_are_http_errors() {
        let mut store = store();
        let json2 =
            |model: &str, method: &str, ids: Option<Value>, kwargs: Vec<(&str, Value)>| Call {
                ids,
                ..call(model, method, vec![], kwargs)
            };
        let cases = vec![
            (
                json2(
                    "res.partner",
                    "write",
                    Some(Value::List(vec![Value::Int(5)])),
                    vec![],
                ),
                OdooError::http(422, "missing a required argument: 'vals'"),
            ),
            (
                json2(
                    "res.partner",
                    "search_count",
                    None,
                    vec![
                        ("domain", Value::List(vec![])),
                        ("bogus_kwarg", Value::Int(1)),
                    ],
                ),
                OdooError::http(422, "got an unexpected keyword argument 'bogus_kwarg'"),
            ),
            (
                json2(
                    "res.partner",
                    "create",
                    Some(Value::List(vec![Value::Int(1)])),
                    vec![("vals_list", Value::List(vec![]))],
                ),
                OdooError::http(422, "cannot call res.partner.create with ids"),
            ),
            (
                json2("does.not.exist", "read", None, vec![]),
                OdooError::http(404, "the model 'does.not.exist' does not exist"),
            ),
            (
                json2("res.partner", "nope", None, vec![]),
                OdooError::http(404, "The method 'res.partner.nope' does not exist"),
            ),
        ];
        for (call, expected) in cases {
            let label = format!("{}.{}", call.model, call.method);
            assert_eq!(
                execute(&mut store, 2, call, Protocol::Json2),
                Err(expected),
                "{label}"
            );
        }
    }

    #[test]
    fn create_results_differ_per_protocol() {
        let mut store = store();
        let vals = Value::dict([("name", Value::str("New Co"))]);
        let single = execute(
            &mut store,
            2,
            call("res.partner", "create", vec![vals.clone()], vec![]),
            Protocol::XmlRpc,
        );
        assert_eq!(single, Ok(Value::Int(17)));
        let many = execute(
            &mut store,
            2,
            call(
                "res.partner",
                "create",
                vec![Value::List(vec![vals.clone()])],
                vec![],
            ),
            Protocol::XmlRpc,
        );
        assert_eq!(many, Ok(Value::List(vec![Value::Int(18)])));
        let json = Call {
            ids: None,
            ..call("res.partner", "create", vec![], vec![("vals_list", vals)])
        };
        assert_eq!(
            execute(&mut store, 2, json, Protocol::Json2),
            Ok(Value::List(vec![Value::Int(19)]))
        );
    }
}
