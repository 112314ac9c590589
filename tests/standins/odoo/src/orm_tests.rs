//! Data-driven checks of the ORM semantics against the seeded data: domains, ordering, CRUD, errors, grouping.

use crate::dispatch::{Call, Protocol, execute};
use crate::error::OdooError;
use crate::store::{Env, MessagePost, Store};
use crate::value::Value;

fn store() -> Store {
    Store::new("admin", "admin", "test-api-key", "demo-api-key")
}

fn s(text: &str) -> Value {
    Value::str(text)
}

fn i(number: i64) -> Value {
    Value::Int(number)
}

fn leaf(path: &str, operator: &str, value: Value) -> Value {
    Value::List(vec![s(path), s(operator), value])
}

fn ints(numbers: &[i64]) -> Value {
    Value::List(numbers.iter().map(|number| Value::Int(*number)).collect())
}

fn domain(items: Vec<Value>) -> Value {
    Value::List(items)
}

fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids
}

const ACTIVE_PARTNERS: &[i64] = &[1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16];

fn active_except(excluded: &[i64]) -> Vec<i64> {
    ACTIVE_PARTNERS
        .iter()
        .copied()
        .filter(|id| !excluded.contains(id))
        .collect()
}

fn admin() -> Env {
    Env::new(2)
}

#[test]
fn partner_domains_select_the_right_records() {
    let store = store();
    let cases: Vec<(&str, Value, Vec<i64>)> = vec![
        (
            "empty domain hides archived records",
            domain(vec![]),
            ACTIVE_PARTNERS.to_vec(),
        ),
        (
            "ilike is case-insensitive",
            domain(vec![leaf("name", "ilike", s("acme"))]),
            vec![5, 8, 10],
        ),
        (
            "like is case-sensitive",
            domain(vec![leaf("name", "like", s("acme"))]),
            vec![10],
        ),
        (
            "like with capital",
            domain(vec![leaf("name", "like", s("Acme"))]),
            vec![8],
        ),
        (
            "=ilike uses the pattern as given",
            domain(vec![leaf("name", "=ilike", s("acme%"))]),
            vec![5, 8, 10],
        ),
        (
            "=like uses the pattern as given",
            domain(vec![leaf("name", "=like", s("ACME%"))]),
            vec![5],
        ),
        (
            "ilike wraps its value unescaped: % and _ are wildcards",
            domain(vec![
                s("|"),
                leaf("name", "ilike", s("%")),
                leaf("name", "ilike", s("_")),
            ]),
            ACTIVE_PARTNERS.to_vec(),
        ),
        (
            "a backslash escapes % and _ in ilike",
            domain(vec![
                s("|"),
                leaf("name", "ilike", s("\\%")),
                leaf("name", "ilike", s("\\_")),
            ]),
            vec![],
        ),
        (
            "not ilike",
            domain(vec![leaf("name", "not ilike", s("acme"))]),
            active_except(&[5, 8, 10]),
        ),
        (
            "not like",
            domain(vec![leaf("name", "not like", s("Acme"))]),
            active_except(&[8]),
        ),
        (
            "= on char",
            domain(vec![leaf("name", "=", s("ACME Corporation"))]),
            vec![5],
        ),
        (
            "!= on char",
            domain(vec![leaf("name", "!=", s("ACME Corporation"))]),
            active_except(&[5]),
        ),
        (
            "<> is !=",
            domain(vec![leaf("name", "<>", s("ACME Corporation"))]),
            active_except(&[5]),
        ),
        (
            "in ids",
            domain(vec![leaf("id", "in", ints(&[1, 5, 99]))]),
            vec![1, 5],
        ),
        (
            "not in ids",
            domain(vec![leaf("id", "not in", ints(&[1, 5]))]),
            active_except(&[1, 5]),
        ),
        (
            "> on integer",
            domain(vec![leaf("color", ">", i(0))]),
            vec![5],
        ),
        (
            ">= on integer",
            domain(vec![leaf("color", ">=", i(3))]),
            vec![5],
        ),
        (
            "< on integer",
            domain(vec![leaf("color", "<", i(3))]),
            active_except(&[5]),
        ),
        (
            "<= on integer",
            domain(vec![leaf("color", "<=", i(0))]),
            active_except(&[5]),
        ),
        (
            "boolean true",
            domain(vec![leaf("is_company", "=", Value::Bool(true))]),
            vec![1, 5, 8, 11, 12, 13, 14, 16],
        ),
        (
            "boolean false",
            domain(vec![leaf("is_company", "=", Value::Bool(false))]),
            vec![3, 4, 6, 7, 9, 10],
        ),
        (
            "many2one = False",
            domain(vec![leaf("parent_id", "=", Value::Bool(false))]),
            vec![1, 5, 8, 10, 11, 12, 13, 14, 16],
        ),
        (
            "many2one != False",
            domain(vec![leaf("parent_id", "!=", Value::Bool(false))]),
            vec![3, 4, 6, 7, 9],
        ),
        (
            "many2one by id",
            domain(vec![leaf("parent_id", "=", i(5))]),
            vec![6, 7],
        ),
        (
            "many2one in ids",
            domain(vec![leaf("parent_id", "in", ints(&[5, 8]))]),
            vec![6, 7, 9],
        ),
        (
            "many2one by name ilike",
            domain(vec![leaf("parent_id", "ilike", s("acme"))]),
            vec![6, 7, 9],
        ),
        (
            "many2one by exact name",
            domain(vec![leaf("parent_id", "=", s("ACME Corporation"))]),
            vec![6, 7],
        ),
        (
            "many2one not ilike keeps unset",
            domain(vec![leaf("parent_id", "not ilike", s("acme"))]),
            active_except(&[6, 7, 9]),
        ),
        (
            "many2one name in list",
            domain(vec![leaf(
                "country_id",
                "in",
                Value::List(vec![s("Spain"), s("France")]),
            )]),
            vec![8, 9, 14],
        ),
        (
            "dotted path",
            domain(vec![leaf("country_id.code", "=", s("ES"))]),
            vec![8, 9],
        ),
        (
            "two-level path",
            domain(vec![leaf("parent_id.country_id.code", "=", s("US"))]),
            vec![6, 7],
        ),
        (
            "unset char = False",
            domain(vec![leaf("phone", "=", Value::Bool(false))]),
            active_except(&[5, 6, 8, 11]),
        ),
        (
            "set char != False",
            domain(vec![leaf("phone", "!=", Value::Bool(false))]),
            vec![5, 6, 8, 11],
        ),
        (
            "or",
            domain(vec![
                s("|"),
                leaf("city", "=", s("Madrid")),
                leaf("city", "=", s("Lyon")),
            ]),
            vec![8, 9, 14],
        ),
        (
            "explicit and with a path",
            domain(vec![
                s("&"),
                leaf("is_company", "=", Value::Bool(true)),
                leaf("country_id.code", "=", s("US")),
            ]),
            vec![5, 11, 12, 13],
        ),
        (
            "not",
            domain(vec![s("!"), leaf("is_company", "=", Value::Bool(true))]),
            vec![3, 4, 6, 7, 9, 10],
        ),
        (
            "nested or of and",
            domain(vec![
                s("|"),
                s("&"),
                leaf("is_company", "=", Value::Bool(true)),
                leaf("city", "=", s("Madrid")),
                leaf("name", "=", s("Jane Doe")),
            ]),
            vec![7, 8],
        ),
        (
            "implicit and around an or",
            domain(vec![
                leaf("is_company", "=", Value::Bool(true)),
                s("|"),
                leaf("city", "=", s("Madrid")),
                leaf("city", "=", s("Lyon")),
            ]),
            vec![8, 14],
        ),
        (
            "not of an or keeps unset cities",
            domain(vec![
                s("!"),
                s("|"),
                leaf("city", "=", s("Madrid")),
                leaf("city", "=", s("New York")),
            ]),
            vec![1, 3, 4, 10, 11, 12, 13, 14, 16],
        ),
        (
            "active = False shows archived only",
            domain(vec![leaf("active", "=", Value::Bool(false))]),
            vec![2, 15],
        ),
        (
            "active in both",
            domain(vec![leaf(
                "active",
                "in",
                Value::List(vec![Value::Bool(true), Value::Bool(false)]),
            )]),
            (1..=16).collect(),
        ),
        (
            "mentioning active lifts the filter",
            domain(vec![
                leaf("name", "ilike", s("acme")),
                leaf(
                    "active",
                    "in",
                    Value::List(vec![Value::Bool(true), Value::Bool(false)]),
                ),
            ]),
            vec![5, 8, 10, 15],
        ),
        (
            "=? with False is TRUE",
            domain(vec![leaf("vat", "=?", Value::Bool(false))]),
            ACTIVE_PARTNERS.to_vec(),
        ),
        (
            "=? with a value is =",
            domain(vec![leaf("vat", "=?", s("ESB12345678"))]),
            vec![8],
        ),
        (
            "one2many != False",
            domain(vec![leaf("child_ids", "!=", Value::Bool(false))]),
            vec![1, 5, 8],
        ),
        (
            "one2many dotted",
            domain(vec![leaf("child_ids.name", "=", s("Jane Doe"))]),
            vec![5],
        ),
        (
            "any",
            domain(vec![leaf(
                "child_ids",
                "any",
                domain(vec![leaf("function", "=", s("CFO"))]),
            )]),
            vec![5],
        ),
        (
            "not any",
            domain(vec![leaf(
                "child_ids",
                "not any",
                domain(vec![leaf("function", "=", s("CFO"))]),
            )]),
            active_except(&[5]),
        ),
        (
            "selection in",
            domain(vec![leaf(
                "lang",
                "in",
                Value::List(vec![s("es_ES"), s("fr_FR")]),
            )]),
            vec![8, 9, 14],
        ),
        (
            "datetime >= date",
            domain(vec![leaf("create_date", ">=", s("2026-01-01"))]),
            ACTIVE_PARTNERS.to_vec(),
        ),
        (
            "datetime < date",
            domain(vec![leaf("create_date", "<", s("2026-01-01"))]),
            vec![],
        ),
        (
            "html ilike",
            domain(vec![leaf("comment", "ilike", s("key account"))]),
            vec![5],
        ),
        (
            "uppercase operator",
            domain(vec![leaf("name", "ILIKE", s("ibérica"))]),
            vec![8],
        ),
        (
            "two conditions on a contact",
            domain(vec![
                leaf("parent_id", "ilike", s("acme")),
                leaf("function", "ilike", s("manager")),
            ]),
            vec![6],
        ),
        (
            "constant true leaf",
            domain(vec![Value::List(vec![i(1), s("="), i(1)])]),
            ACTIVE_PARTNERS.to_vec(),
        ),
        (
            "constant false leaf",
            domain(vec![Value::List(vec![i(0), s("="), i(1)])]),
            vec![],
        ),
        ("False domain", Value::Bool(false), vec![]),
    ];
    for (label, domain, expected) in cases {
        let found = store
            .search(&admin(), "res.partner", &domain, 0, None, None)
            .map(sorted);
        assert_eq!(found, Ok(expected), "{label}: {}", domain.py_repr());
    }
}

#[test]
fn lead_domains_select_the_right_records() {
    let store = store();
    let cases: Vec<(Value, Vec<i64>)> = vec![
        (domain(vec![]), vec![1, 2, 3, 4, 6]),
        (domain(vec![leaf("stage_id", "=", i(1))]), vec![3, 6]),
        (
            domain(vec![leaf("stage_id.name", "=", s("New"))]),
            vec![3, 6],
        ),
        (domain(vec![leaf("stage_id", "ilike", s("qual"))]), vec![1]),
        (
            domain(vec![leaf("partner_id", "ilike", s("acme"))]),
            vec![1, 2],
        ),
        (
            domain(vec![leaf("partner_id.country_id.code", "=", s("US"))]),
            vec![1, 4, 6],
        ),
        (
            domain(vec![leaf("expected_revenue", ">", i(5000))]),
            vec![1, 2],
        ),
        (
            domain(vec![
                leaf("expected_revenue", ">=", i(3000)),
                leaf("expected_revenue", "<=", Value::Float(8500.0)),
            ]),
            vec![2, 4, 6],
        ),
        (domain(vec![leaf("probability", "<", i(20))]), vec![3]),
        (domain(vec![leaf("type", "=", s("lead"))]), vec![3]),
        (
            domain(vec![leaf("date_deadline", "<", s("2026-12-31"))]),
            vec![1, 4, 6],
        ),
        (
            domain(vec![leaf("date_deadline", "=", Value::Bool(false))]),
            vec![3],
        ),
        (domain(vec![leaf("user_id", "=", i(6))]), vec![2, 4]),
        (
            domain(vec![leaf("user_id.login", "=", s("demo"))]),
            vec![2, 4],
        ),
        (
            domain(vec![leaf("partner_id", "=", Value::Bool(false))]),
            vec![3],
        ),
        (
            domain(vec![leaf("active", "=", Value::Bool(false))]),
            vec![5],
        ),
        (
            domain(vec![leaf("stage_id.is_won", "=", Value::Bool(true))]),
            vec![4],
        ),
        (
            domain(vec![leaf(
                "partner_id.name",
                "in",
                Value::List(vec![s("Deco Addict"), s("Gemini Furniture")]),
            )]),
            vec![4, 6],
        ),
        (domain(vec![leaf("partner_id", "=", Value::Nil)]), vec![3]),
        // An XML-RPC dateTime value compares like Odoo's date string.
        (
            domain(vec![leaf(
                "date_deadline",
                ">=",
                Value::DateTime("2026-12-16 00:00:00".into()),
            )]),
            vec![2, 6],
        ),
    ];
    for (domain, expected) in cases {
        let found = store
            .search(&admin(), "crm.lead", &domain, 0, None, None)
            .map(sorted);
        assert_eq!(found, Ok(expected), "{}", domain.py_repr());
    }
    // context active_test=False shows archived records too.
    let all = Env {
        uid: 2,
        active_test: false,
    };
    assert_eq!(
        store
            .search(&all, "crm.lead", &domain(vec![]), 0, None, None)
            .map(sorted),
        Ok(vec![1, 2, 3, 4, 5, 6])
    );
}

#[test]
fn bad_domains_raise_odoos_errors() {
    let store = store();
    let cases: Vec<(Value, OdooError)> = vec![
        (
            domain(vec![leaf("nope", "=", i(1))]),
            OdooError::value_error("Invalid field res.partner.nope in condition ('nope', '=', 1)"),
        ),
        (
            domain(vec![leaf("parent_id.nope", "=", i(1))]),
            OdooError::value_error("Invalid field res.partner.nope in condition ('nope', '=', 1)"),
        ),
        (
            domain(vec![leaf("name", "~", s("x"))]),
            OdooError::value_error("Invalid operator in condition ('name', '~', 'x')"),
        ),
        (
            domain(vec![s("&"), leaf("name", "=", s("x"))]),
            OdooError::value_error("Domain() malformed domain ['&', ['name', '=', 'x']]"),
        ),
        (
            domain(vec![s("|")]),
            OdooError::value_error("Domain() malformed domain ['|']"),
        ),
        (
            domain(vec![leaf("name", "any", domain(vec![]))]),
            OdooError::value_error(
                "Cannot use 'any' with non-relational fields in condition ('name', 'any', [])",
            ),
        ),
        (
            s("name = acme"),
            OdooError::type_error("Domain() invalid argument type for domain: 'name = acme'"),
        ),
        (
            domain(vec![Value::List(vec![s("name"), s("=")])]),
            OdooError::value_error("Domain() invalid item in domain: ['name', '=']"),
        ),
    ];
    for (domain, expected) in cases {
        assert_eq!(
            store.search(&admin(), "res.partner", &domain, 0, None, None),
            Err(expected),
            "{}",
            domain.py_repr()
        );
    }
}

#[test]
fn ordering_offset_and_limit() {
    let store = store();
    let companies = domain(vec![leaf("is_company", "=", Value::Bool(true))]);
    // (order, offset, limit, expected ids)
    type Case<'a> = (Option<&'a str>, usize, Option<usize>, Vec<i64>);
    let cases: Vec<Case> = vec![
        // Default res.partner order: complete_name ASC (case-insensitive collation), id DESC.
        (None, 0, None, vec![5, 8, 13, 11, 12, 1, 14, 16]),
        (
            Some("name desc"),
            0,
            None,
            vec![16, 14, 1, 12, 11, 13, 8, 5],
        ),
        (Some("id"), 0, None, vec![1, 5, 8, 11, 12, 13, 14, 16]),
        (Some("id desc"), 2, Some(3), vec![13, 12, 11]),
        // Many2one orders by the comodel's order (res.country: name): Belgium, France, Germany, Spain, United States.
        (
            Some("country_id, id"),
            0,
            None,
            vec![1, 14, 16, 8, 5, 11, 12, 13],
        ),
        (
            Some("country_id desc, name asc"),
            0,
            Some(4),
            vec![5, 13, 11, 12],
        ),
        (Some("city, id"), 0, Some(2), vec![16, 1]),
    ];
    for (order, offset, limit, expected) in cases {
        assert_eq!(
            store.search(&admin(), "res.partner", &companies, offset, limit, order),
            Ok(expected),
            "{order:?}"
        );
    }
    // NULLs sort last ascending and first descending, unless the clause says otherwise (only partner 10 has no city).
    let everyone = domain(vec![]);
    assert_eq!(
        store.search(
            &admin(),
            "res.partner",
            &everyone,
            0,
            Some(2),
            Some("city asc nulls first, id")
        ),
        Ok(vec![10, 16])
    );
    assert_eq!(
        store.search(
            &admin(),
            "res.partner",
            &everyone,
            0,
            Some(1),
            Some("city desc")
        ),
        Ok(vec![10])
    );
    let ascending = store
        .search(&admin(), "res.partner", &everyone, 0, None, Some("city"))
        .unwrap_or_default();
    assert_eq!(ascending.last(), Some(&10));
    let leads = store.search(&admin(), "crm.lead", &domain(vec![]), 0, None, None);
    assert_eq!(
        leads,
        Ok(vec![1, 2, 6, 4, 3]),
        "crm.lead: priority desc, id desc"
    );
    assert_eq!(
        store.search(&admin(), "res.partner", &companies, 0, None, Some("name; drop table")),
        Err(OdooError::UserError(
            "Invalid \"order\" specified (name; drop table). A valid \"order\" specification is a comma-separated list of valid field names (optionally followed by asc/desc for the direction)".into()
        ))
    );
    assert_eq!(
        store.search(
            &admin(),
            "res.partner",
            &companies,
            0,
            None,
            Some("nope desc")
        ),
        Err(OdooError::value_error(
            "Invalid field 'nope' on model 'res.partner'"
        ))
    );
}

#[test]
fn read_answers_odoos_shapes() {
    let store = store();
    let fields: Vec<String> = [
        "name",
        "parent_id",
        "country_id",
        "is_company",
        "color",
        "phone",
        "child_ids",
        "create_date",
    ]
    .iter()
    .map(|name| name.to_string())
    .collect();
    let rows = store.read(&admin(), "res.partner", &[6], Some(&fields), true);
    let expected = Value::dict([
        ("id", i(6)),
        ("name", s("John Smith")),
        ("parent_id", Value::List(vec![i(5), s("ACME Corporation")])),
        ("country_id", Value::List(vec![i(233), s("United States")])),
        ("is_company", Value::Bool(false)),
        ("color", i(0)),
        ("phone", s("+1 555-0101")),
        ("child_ids", Value::List(vec![])),
        ("create_date", s("2026-01-05 09:00:00")),
    ]);
    assert_eq!(rows, Ok(vec![expected]));

    let unloaded = store.read(
        &admin(),
        "res.partner",
        &[6],
        Some(&["parent_id".to_string()]),
        false,
    );
    assert_eq!(
        unloaded,
        Ok(vec![Value::dict([("id", i(6)), ("parent_id", i(5))])])
    );

    // All fields: the binary travels as base64 text, the password reads empty, archived records read by id.
    let partner = store
        .read(&admin(), "res.partner", &[5], None, true)
        .unwrap_or_default();
    assert_eq!(
        partner[0].get("image_1920"),
        Some(&s(crate::seed::TINY_PNG_BASE64))
    );
    assert_eq!(partner[0].get("child_ids"), Some(&ints(&[7, 6])));
    assert_eq!(partner[0].get("display_name"), Some(&s("ACME Corporation")));
    let user = store
        .read(&admin(), "res.users", &[2], None, true)
        .unwrap_or_default();
    assert_eq!(user[0].get("password"), Some(&s("")));
    assert_eq!(user[0].get("api_key_ids"), Some(&ints(&[1])));
    let archived = store.read(
        &admin(),
        "crm.lead",
        &[5],
        Some(&["name".to_string()]),
        true,
    );
    assert_eq!(
        archived,
        Ok(vec![Value::dict([
            ("id", i(5)),
            ("name", s("Lost deal (archived)"))
        ])])
    );

    assert_eq!(
        store.read(&admin(), "res.partner", &[999], Some(&fields), true),
        Err(OdooError::MissingError(
            "Record does not exist or has been deleted.\n(Record: res.partner(999,), User: 2)"
                .into()
        ))
    );
    assert_eq!(
        store.read(
            &admin(),
            "res.partner",
            &[5],
            Some(&["nope".to_string()]),
            true
        ),
        Err(OdooError::value_error(
            "Invalid field 'nope' on model 'res.partner'"
        ))
    );
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
fn create_write_unlink() {
    let mut store = store();
    let vals = Value::dict([
        ("name", s("Wile E. Coyote")),
        ("parent_id", i(5)),
        ("email", s("wile@acme.example.com")),
    ]);
    let created = execute(
        &mut store,
        2,
        call("res.partner", "create", vec![vals], vec![]),
        Protocol::XmlRpc,
    );
    assert_eq!(created, Ok(i(17)));
    let read = store.read(
        &admin(),
        "res.partner",
        &[17],
        Some(&["display_name".into(), "active".into(), "type".into()]),
        true,
    );
    assert_eq!(
        read,
        Ok(vec![Value::dict([
            ("id", i(17)),
            ("display_name", s("ACME Corporation, Wile E. Coyote")),
            ("active", Value::Bool(true)),
            ("type", s("contact")),
        ])])
    );

    let write = call(
        "res.partner",
        "write",
        vec![
            ints(&[17]),
            Value::dict([("phone", s("+1 555-0199")), ("active", Value::Bool(false))]),
        ],
        vec![],
    );
    assert_eq!(
        execute(&mut store, 2, write, Protocol::XmlRpc),
        Ok(Value::Bool(true))
    );
    assert_eq!(
        store.search(
            &admin(),
            "res.partner",
            &domain(vec![leaf("phone", "=", s("+1 555-0199"))]),
            0,
            None,
            None
        ),
        Ok(vec![])
    );
    let archived = domain(vec![
        leaf("phone", "=", s("+1 555-0199")),
        leaf("active", "=", Value::Bool(false)),
    ]);
    assert_eq!(
        store.search(&admin(), "res.partner", &archived, 0, None, None),
        Ok(vec![17])
    );

    assert_eq!(
        execute(
            &mut store,
            2,
            call("res.partner", "unlink", vec![ints(&[17])], vec![]),
            Protocol::XmlRpc
        ),
        Ok(Value::Bool(true))
    );
    let missing = OdooError::MissingError(
        "Record does not exist or has been deleted.\n(Record: res.partner(17,), User: 2)".into(),
    );
    assert_eq!(
        execute(
            &mut store,
            2,
            call("res.partner", "unlink", vec![ints(&[17])], vec![]),
            Protocol::XmlRpc
        ),
        Err(missing.clone())
    );
    let write_missing = call(
        "res.partner",
        "write",
        vec![ints(&[17]), Value::dict([("name", s("x"))])],
        vec![],
    );
    assert_eq!(
        execute(&mut store, 2, write_missing, Protocol::XmlRpc),
        Err(missing)
    );

    // Deleting a document takes its activities and messages with it, and clears many2ones pointing at it.
    assert_eq!(store.unlink(&admin(), "crm.lead", &[1]), Ok(()));
    let on_lead = |field: &str| {
        domain(vec![
            leaf(field, "=", s("crm.lead")),
            leaf("res_id", "=", i(1)),
        ])
    };
    assert_eq!(
        store.search(
            &admin(),
            "mail.activity",
            &on_lead("res_model"),
            0,
            None,
            None
        ),
        Ok(vec![])
    );
    assert_eq!(
        store.search(&admin(), "mail.message", &on_lead("model"), 0, None, None),
        Ok(vec![])
    );
    assert_eq!(store.unlink(&admin(), "res.partner", &[8]), Ok(()));
    let lead = store.read(
        &admin(),
        "crm.lead",
        &[2],
        Some(&["partner_id".into()]),
        true,
    );
    assert_eq!(
        lead,
        Ok(vec![Value::dict([
            ("id", i(2)),
            ("partner_id", Value::Bool(false))
        ])])
    );
}

#[test]
fn create_validates_like_odoo() {
    let mut store = store();
    let nameless = Value::dict([("email_from", s("x@example.com"))]);
    assert_eq!(
        store.create(&admin(), "crm.lead", &[nameless.get("email_from").map(|email| vec![("email_from".to_string(), email.clone())]).unwrap_or_default()]),
        Err(OdooError::ValidationError(
            "The operation cannot be completed: Missing required value for the field 'Opportunity' (name).\nModel: 'Lead/Opportunity' (crm.lead)\n- create/update: a mandatory field is not set\n- delete: another model requires the record being deleted, you can archive it instead\n".into()
        ))
    );
    // A nameless lead with a customer gets a computed name, the first stage and the caller as salesperson.
    let ids = store.create(
        &Env::new(6),
        "crm.lead",
        &[vec![("partner_id".to_string(), i(11))]],
    );
    assert_eq!(ids, Ok(vec![7]));
    let fields: Vec<String> = ["name", "stage_id", "user_id", "type", "probability"]
        .iter()
        .map(|name| name.to_string())
        .collect();
    assert_eq!(
        store.read(&admin(), "crm.lead", &[7], Some(&fields), true),
        Ok(vec![Value::dict([
            ("id", i(7)),
            ("name", s("Deco Addict's opportunity")),
            ("stage_id", Value::List(vec![i(1), s("New")])),
            ("user_id", Value::List(vec![i(6), s("Marc Demo")])),
            ("type", s("opportunity")),
            ("probability", Value::Float(10.0)),
        ])])
    );
    let cases: Vec<(Vec<(&str, Value)>, OdooError)> = vec![
        (
            vec![("name", s("x")), ("bogus", i(1))],
            OdooError::value_error("Invalid field 'bogus' in 'crm.lead'"),
        ),
        (
            vec![("name", s("x")), ("type", s("deal"))],
            OdooError::value_error("Wrong value for crm.lead.type: 'deal'"),
        ),
        (
            vec![("name", s("x")), ("date_deadline", s("31/12/2026"))],
            OdooError::value_error("time data '31/12/2026' does not match format '%Y-%m-%d'"),
        ),
        (
            vec![("name", s("x")), ("expected_revenue", s("lots"))],
            OdooError::value_error("Wrong value for crm.lead.expected_revenue: 'lots'"),
        ),
    ];
    for (vals, expected) in cases {
        let vals: Vec<(String, Value)> = vals
            .into_iter()
            .map(|(key, value)| (key.to_string(), value))
            .collect();
        assert_eq!(store.create(&admin(), "crm.lead", &[vals]), Err(expected));
    }
    assert_eq!(
        store.write(&admin(), "crm.lead", &[1], &vec![("name".into(), Value::Bool(false))]),
        Err(OdooError::ValidationError(
            "The operation cannot be completed: Missing required value for the field 'Opportunity' (name).\nModel: 'Lead/Opportunity' (crm.lead)\n- create/update: a mandatory field is not set\n- delete: another model requires the record being deleted, you can archive it instead\n".into()
        ))
    );
    assert_eq!(
        store.write(&admin(), "crm.lead", &[1], &vec![("nope".into(), i(1))]),
        Err(OdooError::value_error(
            "Invalid field 'nope' on model 'crm.lead'"
        ))
    );
}

#[test]
fn the_demo_user_has_limited_access() {
    let mut store = store();
    let demo = Env::new(6);
    assert_eq!(
        store.write(&demo, "res.users", &[6], &vec![("name".into(), s("Marc"))]),
        Err(OdooError::AccessError(
            "You are not allowed to modify 'User' (res.users) records.\n\nThis operation is allowed for the following groups:\n\t- Administration/Access Rights\n\nContact your administrator to request access if necessary.".into()
        ))
    );
    assert_eq!(
        store.unlink(&demo, "crm.lead", &[2]),
        Err(OdooError::AccessError(
            "You are not allowed to delete 'Lead/Opportunity' (crm.lead) records.\n\nThis operation is allowed for the following groups:\n\t- Sales/Administrator\n\nContact your administrator to request access if necessary.".into()
        ))
    );
    assert!(matches!(
        store.create(&demo, "crm.stage", &[vec![("name".into(), s("Lost"))]]),
        Err(OdooError::AccessError(_))
    ));
    assert_eq!(
        store.write(
            &demo,
            "crm.lead",
            &[2],
            &vec![("probability".into(), i(70))]
        ),
        Ok(())
    );
    assert_eq!(
        store.search(&demo, "res.users", &domain(vec![]), 0, None, None),
        Ok(vec![6, 2]),
        "name order: Marc before Mitchell"
    );
    assert_eq!(store.unlink(&admin(), "crm.lead", &[2]), Ok(()));
}

#[test]
fn credentials() {
    let mut store = store();
    assert_eq!(store.authenticate("admin", "admin"), Some(2));
    assert_eq!(
        store.authenticate("admin", "test-api-key"),
        Some(2),
        "API keys work as RPC passwords"
    );
    assert_eq!(store.authenticate("admin", "wrong"), None);
    assert_eq!(store.authenticate("demo", "demo"), Some(6));
    assert_eq!(store.authenticate("__system__", ""), None);
    assert_eq!(store.authenticate("nobody", "admin"), None);
    assert_eq!(store.uid_for_api_key("demo-api-key"), Some(6));
    assert_eq!(store.uid_for_api_key("nope"), None);
    assert!(store.set_password("admin", "new"));
    assert!(!store.check_credentials(2, "admin"));
    assert!(store.check_credentials(2, "new"));
    assert!(!store.set_password("nobody", "x"));
}

#[test]
fn fields_get_describes_fields() {
    let store = store();
    let attributes: Vec<String> = ["type", "string", "required", "relation", "selection"]
        .iter()
        .map(|name| name.to_string())
        .collect();
    let allfields: Vec<String> = ["stage_id", "type", "name", "nope"]
        .iter()
        .map(|name| name.to_string())
        .collect();
    let described = store.fields_get(&admin(), "crm.lead", Some(&allfields), Some(&attributes));
    assert_eq!(
        described,
        Ok(Value::dict([
            (
                "name",
                Value::dict([
                    ("type", s("char")),
                    ("required", Value::Bool(true)),
                    ("string", s("Opportunity"))
                ])
            ),
            (
                "type",
                Value::dict([
                    ("type", s("selection")),
                    ("required", Value::Bool(true)),
                    ("string", s("Type")),
                    (
                        "selection",
                        Value::List(vec![
                            Value::List(vec![s("lead"), s("Lead")]),
                            Value::List(vec![s("opportunity"), s("Opportunity")])
                        ])
                    ),
                ]),
            ),
            (
                "stage_id",
                Value::dict([
                    ("type", s("many2one")),
                    ("required", Value::Bool(false)),
                    ("string", s("Stage")),
                    ("relation", s("crm.stage"))
                ]),
            ),
        ]))
    );
    let everything = store
        .fields_get(&admin(), "res.users", None, None)
        .unwrap_or(Value::Nil);
    let password = everything.get("password").cloned().unwrap_or(Value::Nil);
    assert_eq!(password.get("type"), Some(&s("char")));
    assert_eq!(password.get("store"), Some(&Value::Bool(true)));
    assert!(password.get("help").is_some());
    assert_eq!(
        everything
            .get("api_key_ids")
            .and_then(|field| field.get("relation")),
        Some(&s("res.users.apikeys"))
    );
}

#[test]
fn name_search_matches_display_names() {
    let store = store();
    let found = store.name_search(
        &admin(),
        "res.partner",
        "acme",
        &domain(vec![leaf("is_company", "=", Value::Bool(true))]),
        "ilike",
        Some(100),
    );
    assert_eq!(
        found,
        Ok(vec![
            Value::List(vec![i(5), s("ACME Corporation")]),
            Value::List(vec![i(8), s("Acme Ibérica S.L.")])
        ])
    );
    let exact = store.name_search(&admin(), "crm.stage", "Won", &domain(vec![]), "=", None);
    assert_eq!(exact, Ok(vec![Value::List(vec![i(4), s("Won")])]));
    let limited = store.name_search(
        &admin(),
        "res.partner",
        "",
        &domain(vec![]),
        "ilike",
        Some(2),
    );
    assert_eq!(limited.map(|rows| rows.len()), Ok(2));
    // By email too (res.partner searches complete_name, email, ref and vat).
    let by_email = store.name_search(
        &admin(),
        "res.partner",
        "deco.addict82",
        &domain(vec![]),
        "ilike",
        None,
    );
    assert_eq!(
        by_email,
        Ok(vec![Value::List(vec![i(11), s("Deco Addict")])])
    );
}

#[test]
fn read_group_shapes() {
    let store = store();
    let expected_revenue = vec!["expected_revenue".to_string()];
    // Lazy grouping on a group_expand field lists every stage, even empty ones.
    let rows = store.read_group(
        &admin(),
        "crm.lead",
        &domain(vec![leaf("type", "=", s("lead"))]),
        &expected_revenue,
        &["stage_id".into()],
        0,
        None,
        None,
        true,
    );
    assert_eq!(
        rows,
        Ok(vec![
            Value::dict([
                ("stage_id", Value::List(vec![i(1), s("New")])),
                ("stage_id_count", i(1)),
                ("expected_revenue", Value::Float(0.0)),
                (
                    "__domain",
                    Value::List(vec![
                        s("&"),
                        leaf("stage_id", "=", i(1)),
                        leaf("type", "=", s("lead"))
                    ])
                ),
            ]),
            Value::dict([
                ("stage_id", Value::List(vec![i(2), s("Qualified")])),
                ("stage_id_count", i(0)),
                ("expected_revenue", Value::Bool(false)),
                (
                    "__domain",
                    Value::List(vec![
                        s("&"),
                        leaf("stage_id", "=", i(2)),
                        leaf("type", "=", s("lead"))
                    ])
                ),
            ]),
            Value::dict([
                ("stage_id", Value::List(vec![i(3), s("Proposition")])),
                ("stage_id_count", i(0)),
                ("expected_revenue", Value::Bool(false)),
                (
                    "__domain",
                    Value::List(vec![
                        s("&"),
                        leaf("stage_id", "=", i(3)),
                        leaf("type", "=", s("lead"))
                    ])
                ),
            ]),
            Value::dict([
                ("stage_id", Value::List(vec![i(4), s("Won")])),
                ("stage_id_count", i(0)),
                ("expected_revenue", Value::Bool(false)),
                (
                    "__domain",
                    Value::List(vec![
                        s("&"),
                        leaf("stage_id", "=", i(4)),
                        leaf("type", "=", s("lead"))
                    ])
                ),
            ]),
        ])
    );
    // Non-lazy, two groupbys: `__count`; dates group by month with a label and a range.
    let rows = store
        .read_group(
            &admin(),
            "crm.lead",
            &domain(vec![]),
            &["expected_revenue:sum".into()],
            &["date_deadline".into(), "user_id".into()],
            0,
            None,
            None,
            false,
        )
        .unwrap_or_default();
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[0],
        Value::dict([
            ("date_deadline", s("October 2026")),
            ("user_id", Value::List(vec![i(6), s("Marc Demo")])),
            ("__count", i(1)),
            ("expected_revenue", Value::Float(4200.0)),
            (
                "__domain",
                Value::List(vec![
                    s("&"),
                    s("&"),
                    leaf("date_deadline", ">=", s("2026-10-01")),
                    leaf("date_deadline", "<", s("2026-11-01")),
                    leaf("user_id", "=", i(6)),
                ]),
            ),
            (
                "__range",
                Value::dict([(
                    "date_deadline",
                    Value::dict([("from", s("2026-10-01")), ("to", s("2026-11-01"))])
                )])
            ),
        ])
    );
    assert_eq!(rows[1].get("date_deadline"), Some(&s("December 2026")));
    assert_eq!(
        rows[1].get("expected_revenue"),
        Some(&Value::Float(15000.0))
    );
    assert_eq!(
        rows[3].get("date_deadline"),
        Some(&Value::Bool(false)),
        "undated leads come last"
    );
    // Lazy grouping on two fields hands the rest over in __context.
    let rows = store
        .read_group(
            &admin(),
            "crm.lead",
            &domain(vec![]),
            &[],
            &["user_id".into(), "stage_id".into()],
            0,
            None,
            Some("user_id desc"),
            true,
        )
        .unwrap_or_default();
    assert_eq!(
        rows[0].get("user_id"),
        Some(&Value::List(vec![i(2), s("Mitchell Admin")])),
        "name order: Mitchell before Marc, reversed"
    );
    assert_eq!(
        rows[0].get("__context"),
        Some(&Value::dict([(
            "group_by",
            Value::List(vec![s("stage_id")])
        )]))
    );
    assert_eq!(rows[0].get("user_id_count"), Some(&i(3)));
    assert_eq!(
        store.read_group(
            &admin(),
            "crm.lead",
            &domain(vec![]),
            &[],
            &["nope".into()],
            0,
            None,
            None,
            true
        ),
        Err(OdooError::value_error(
            "Invalid field 'nope' on model 'crm.lead'"
        ))
    );
}

#[test]
fn formatted_read_group_shapes() {
    let store = store();
    let rows = store.formatted_read_group(
        &admin(),
        "crm.lead",
        &domain(vec![]),
        &["date_deadline:month".into()],
        &[
            "__count".into(),
            "expected_revenue:sum".into(),
            "probability:max".into(),
        ],
        &domain(vec![]),
        0,
        None,
        None,
    );
    let expected_first = Value::dict([
        (
            "__extra_domain",
            Value::List(vec![
                s("&"),
                leaf("date_deadline", ">=", s("2026-10-01")),
                leaf("date_deadline", "<", s("2026-11-01")),
            ]),
        ),
        (
            "date_deadline:month",
            Value::List(vec![s("2026-10-01"), s("October 2026")]),
        ),
        ("__count", i(1)),
        ("expected_revenue:sum", Value::Float(4200.0)),
        ("probability:max", Value::Float(100.0)),
    ]);
    let rows = rows.unwrap_or_default();
    assert_eq!(rows.first(), Some(&expected_first));
    assert_eq!(
        rows.last().and_then(|row| row.get("__extra_domain")),
        Some(&Value::List(vec![leaf(
            "date_deadline",
            "=",
            Value::Bool(false)
        )]))
    );

    let by_stage = store
        .formatted_read_group(
            &admin(),
            "crm.lead",
            &domain(vec![]),
            &["stage_id".into()],
            &["__count".into()],
            &domain(vec![leaf("__count", ">", i(0))]),
            0,
            None,
            Some("__count desc, stage_id"),
        )
        .unwrap_or_default();
    let labels: Vec<Value> = by_stage
        .iter()
        .filter_map(|row| row.get("stage_id").cloned())
        .collect();
    assert_eq!(
        labels,
        vec![
            Value::List(vec![i(1), s("New")]),
            Value::List(vec![i(2), s("Qualified")]),
            Value::List(vec![i(3), s("Proposition")]),
            Value::List(vec![i(4), s("Won")]),
        ]
    );
    let having = store
        .formatted_read_group(
            &admin(),
            "crm.lead",
            &domain(vec![]),
            &["stage_id".into()],
            &["__count".into()],
            &domain(vec![leaf("__count", ">", i(1))]),
            0,
            None,
            None,
        )
        .unwrap_or_default();
    assert_eq!(
        having,
        vec![Value::dict([
            (
                "__extra_domain",
                Value::List(vec![leaf("stage_id", "=", i(1))])
            ),
            ("stage_id", Value::List(vec![i(1), s("New")])),
            ("__count", i(2))
        ])]
    );
    let errors = [
        (
            vec!["expected_revenue".to_string()],
            OdooError::value_error("Aggregate method is mandatory for 'expected_revenue'"),
        ),
        (
            vec!["expected_revenue:median".to_string()],
            OdooError::value_error(
                "Invalid aggregate method 'median' for 'expected_revenue:median'.",
            ),
        ),
        (
            vec!["nope:sum".to_string()],
            OdooError::value_error("Invalid field 'nope' on model 'crm.lead' for 'nope:sum'."),
        ),
    ];
    for (aggregates, expected) in errors {
        let result = store.formatted_read_group(
            &admin(),
            "crm.lead",
            &domain(vec![]),
            &["stage_id".into()],
            &aggregates,
            &domain(vec![]),
            0,
            None,
            None,
        );
        assert_eq!(result, Err(expected));
    }
}

#[test]
fn message_post_creates_a_message() {
    let mut store = store();
    let post = MessagePost {
        body: s("Called <b>John</b>: send the quote"),
        body_is_html: false,
        message_type: "comment".into(),
        subtype_xmlid: Some("mail.mt_comment".into()),
        extra: vec![],
    };
    assert_eq!(store.message_post(&admin(), "crm.lead", &[1], &post), Ok(4));
    let fields: Vec<String> = [
        "body",
        "model",
        "res_id",
        "message_type",
        "subtype_id",
        "author_id",
        "record_name",
    ]
    .iter()
    .map(|name| name.to_string())
    .collect();
    assert_eq!(
        store.read(&admin(), "mail.message", &[4], Some(&fields), true),
        Ok(vec![Value::dict([
            ("id", i(4)),
            ("body", s("Called &lt;b&gt;John&lt;/b&gt;: send the quote")),
            ("model", s("crm.lead")),
            ("res_id", i(1)),
            ("message_type", s("comment")),
            ("subtype_id", Value::List(vec![i(1), s("Discussions")])),
            (
                "author_id",
                Value::List(vec![i(3), s("My Company, Mitchell Admin")])
            ),
            ("record_name", s("Office furniture for ACME HQ")),
        ])])
    );
    let html = MessagePost {
        body: s("<p>Hi</p>"),
        body_is_html: true,
        message_type: "notification".into(),
        subtype_xmlid: None,
        extra: vec![("subject".into(), s("Hello"))],
    };
    assert_eq!(
        store.message_post(&Env::new(6), "res.partner", &[8], &html),
        Ok(5)
    );
    let message = store.read(
        &admin(),
        "mail.message",
        &[5],
        Some(&["body".into(), "subtype_id".into(), "subject".into()]),
        true,
    );
    assert_eq!(
        message,
        Ok(vec![Value::dict([
            ("id", i(5)),
            ("body", s("<p>Hi</p>")),
            ("subtype_id", Value::List(vec![i(2), s("Note")])),
            ("subject", s("Hello"))
        ])])
    );
    assert_eq!(
        store.message_post(&admin(), "crm.lead", &[1, 2], &post),
        Err(OdooError::value_error("Expected singleton: crm.lead(1, 2)"))
    );
    assert_eq!(
        store.message_post(&admin(), "crm.lead", &[99], &post),
        Err(OdooError::MissingError(
            "Record does not exist or has been deleted.\n(Record: crm.lead(99,), User: 2)".into()
        ))
    );
    let bad_type = MessagePost {
        message_type: "shout".into(),
        ..post.clone()
    };
    assert_eq!(
        store.message_post(&admin(), "crm.lead", &[1], &bad_type),
        Err(OdooError::value_error(
            "Wrong value for mail.message.message_type: 'shout'"
        ))
    );
    let bad_subtype = MessagePost {
        subtype_xmlid: Some("mail.mt_nope".into()),
        ..post
    };
    assert_eq!(
        store.message_post(&admin(), "crm.lead", &[1], &bad_subtype),
        Err(OdooError::value_error(
            "External ID not found in the system: mail.mt_nope"
        ))
    );
}

#[test]
fn activities_link_to_documents() {
    let store = store();
    let fields: Vec<String> = [
        "res_model_id",
        "res_model",
        "res_id",
        "res_name",
        "activity_type_id",
        "user_id",
        "date_deadline",
    ]
    .iter()
    .map(|name| name.to_string())
    .collect();
    let rows = store.read(&admin(), "mail.activity", &[1], Some(&fields), true);
    assert_eq!(
        rows,
        Ok(vec![Value::dict([
            ("id", i(1)),
            (
                "res_model_id",
                Value::List(vec![i(5), s("Lead/Opportunity")])
            ),
            ("res_model", s("crm.lead")),
            ("res_id", i(1)),
            ("res_name", s("Office furniture for ACME HQ")),
            ("activity_type_id", Value::List(vec![i(2), s("Call")])),
            ("user_id", Value::List(vec![i(2), s("Mitchell Admin")])),
            ("date_deadline", s("2026-12-01")),
        ])])
    );
    let lead = store.read(
        &admin(),
        "crm.lead",
        &[1],
        Some(&["activity_ids".into()]),
        true,
    );
    assert_eq!(
        lead,
        Ok(vec![Value::dict([
            ("id", i(1)),
            ("activity_ids", ints(&[1]))
        ])])
    );
    let models = store.search(
        &admin(),
        "ir.model",
        &domain(vec![leaf(
            "model",
            "in",
            Value::List(vec![s("crm.lead"), s("res.partner")]),
        )]),
        0,
        None,
        None,
    );
    assert_eq!(models, Ok(vec![5, 1]), "ir.model orders by model name");
    let stages = store.search(&admin(), "crm.stage", &domain(vec![]), 0, None, None);
    assert_eq!(stages, Ok(vec![1, 2, 3, 4]));
}
