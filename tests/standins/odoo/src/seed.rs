//! The data every stand-in starts with (and returns to on `/__standin/reset`).
//!
//! Ids follow a fresh Odoo database where it matters: admin is uid 2 with partner 3, New is crm.stage 1, the four
//! default activity types are 1–4, countries use Odoo's real `res.country` ids.

use std::collections::BTreeMap;

use crate::value::Value;

/// A 1×1 PNG, so `image_1920` holds a real binary.
pub const TINY_PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// The login of the non-admin user.
pub const DEMO_LOGIN: &str = "demo";
/// The password of the non-admin user.
pub const DEMO_PASSWORD: &str = "demo";
/// The uid of the non-admin user.
pub const DEMO_UID: i64 = 6;
/// The uid of the administrator.
pub const ADMIN_UID: i64 = 2;

/// One seeded table: model name and `(id, fields)` rows.
pub type Table = (&'static str, Vec<(i64, Vec<(&'static str, Value)>)>);

fn s(text: &str) -> Value {
    Value::str(text)
}

fn no() -> Value {
    Value::Bool(false)
}

const CREATED: &str = "2026-01-05 09:00:00";

/// The seeded tables. Users' names come from the configuration's admin login so the seed follows `--user`.
pub fn tables(admin_login: &str) -> Vec<Table> {
    vec![
        (
            "res.country",
            vec![
                (
                    20,
                    vec![
                        ("name", s("Belgium")),
                        ("code", s("BE")),
                        ("phone_code", Value::Int(32)),
                    ],
                ),
                (
                    57,
                    vec![
                        ("name", s("Germany")),
                        ("code", s("DE")),
                        ("phone_code", Value::Int(49)),
                    ],
                ),
                (
                    68,
                    vec![
                        ("name", s("Spain")),
                        ("code", s("ES")),
                        ("phone_code", Value::Int(34)),
                    ],
                ),
                (
                    75,
                    vec![
                        ("name", s("France")),
                        ("code", s("FR")),
                        ("phone_code", Value::Int(33)),
                    ],
                ),
                (
                    156,
                    vec![
                        ("name", s("Mexico")),
                        ("code", s("MX")),
                        ("phone_code", Value::Int(52)),
                    ],
                ),
                (
                    231,
                    vec![
                        ("name", s("United Kingdom")),
                        ("code", s("GB")),
                        ("phone_code", Value::Int(44)),
                    ],
                ),
                (
                    233,
                    vec![
                        ("name", s("United States")),
                        ("code", s("US")),
                        ("phone_code", Value::Int(1)),
                    ],
                ),
            ],
        ),
        ("res.partner", partners()),
        (
            "res.users",
            vec![
                (
                    1,
                    vec![
                        ("name", s("OdooBot")),
                        ("login", s("__system__")),
                        ("partner_id", Value::Int(2)),
                        ("email", s("odoobot@example.com")),
                        ("active", no()),
                        ("tz", s("Europe/Brussels")),
                    ],
                ),
                (
                    ADMIN_UID,
                    vec![
                        ("name", s("Mitchell Admin")),
                        ("login", s(admin_login)),
                        ("partner_id", Value::Int(3)),
                        ("email", s("admin@yourcompany.example.com")),
                        ("tz", s("Europe/Brussels")),
                        ("lang", s("en_US")),
                        ("api_key_ids", Value::List(vec![Value::Int(1)])),
                    ],
                ),
                (
                    DEMO_UID,
                    vec![
                        ("name", s("Marc Demo")),
                        ("login", s(DEMO_LOGIN)),
                        ("partner_id", Value::Int(4)),
                        ("email", s("mark.brown23@example.com")),
                        ("tz", s("Europe/Brussels")),
                        ("lang", s("en_US")),
                        ("api_key_ids", Value::List(vec![Value::Int(2)])),
                    ],
                ),
            ],
        ),
        (
            "crm.stage",
            vec![
                (1, vec![("name", s("New")), ("sequence", Value::Int(1))]),
                (
                    2,
                    vec![("name", s("Qualified")), ("sequence", Value::Int(2))],
                ),
                (
                    3,
                    vec![("name", s("Proposition")), ("sequence", Value::Int(3))],
                ),
                (
                    4,
                    vec![
                        ("name", s("Won")),
                        ("sequence", Value::Int(70)),
                        ("is_won", Value::Bool(true)),
                        ("fold", Value::Bool(false)),
                    ],
                ),
            ],
        ),
        ("crm.lead", leads()),
        (
            "mail.activity.type",
            vec![
                (
                    1,
                    vec![
                        ("name", s("Email")),
                        ("sequence", Value::Int(3)),
                        ("icon", s("fa-envelope")),
                    ],
                ),
                (
                    2,
                    vec![
                        ("name", s("Call")),
                        ("sequence", Value::Int(6)),
                        ("icon", s("fa-phone")),
                        ("category", s("phonecall")),
                        ("delay_count", Value::Int(2)),
                    ],
                ),
                (
                    3,
                    vec![
                        ("name", s("Meeting")),
                        ("sequence", Value::Int(9)),
                        ("icon", s("fa-users")),
                    ],
                ),
                (
                    4,
                    vec![
                        ("name", s("To-Do")),
                        ("sequence", Value::Int(12)),
                        ("icon", s("fa-check")),
                        ("delay_count", Value::Int(5)),
                    ],
                ),
            ],
        ),
        (
            "mail.message.subtype",
            vec![
                (
                    1,
                    vec![("name", s("Discussions")), ("sequence", Value::Int(0))],
                ),
                (
                    2,
                    vec![
                        ("name", s("Note")),
                        ("sequence", Value::Int(100)),
                        ("internal", Value::Bool(true)),
                    ],
                ),
                (
                    3,
                    vec![
                        ("name", s("Activities")),
                        ("sequence", Value::Int(90)),
                        ("internal", Value::Bool(true)),
                    ],
                ),
            ],
        ),
        ("ir.model", Vec::new()),
        (
            "mail.activity",
            vec![
                (
                    1,
                    vec![
                        ("res_model", s("crm.lead")),
                        ("res_id", Value::Int(1)),
                        ("activity_type_id", Value::Int(2)),
                        ("summary", s("Call ACME about the office layout")),
                        ("note", s("<p>Ask about the number of desks.</p>")),
                        ("date_deadline", s("2026-12-01")),
                        ("user_id", Value::Int(ADMIN_UID)),
                    ],
                ),
                (
                    2,
                    vec![
                        ("res_model", s("res.partner")),
                        ("res_id", Value::Int(8)),
                        ("activity_type_id", Value::Int(1)),
                        ("summary", s("Send the renewal offer")),
                        ("date_deadline", s("2026-11-30")),
                        ("user_id", Value::Int(DEMO_UID)),
                    ],
                ),
                (
                    3,
                    vec![
                        ("res_model", s("crm.lead")),
                        ("res_id", Value::Int(2)),
                        ("activity_type_id", Value::Int(3)),
                        ("summary", s("Contract review meeting")),
                        ("date_deadline", s("2027-01-15")),
                        ("user_id", Value::Int(DEMO_UID)),
                    ],
                ),
            ],
        ),
        (
            "mail.message",
            vec![
                (
                    1,
                    vec![
                        ("body", s("<p>Lead created</p>")),
                        ("model", s("crm.lead")),
                        ("res_id", Value::Int(1)),
                        ("message_type", s("notification")),
                        ("subtype_id", Value::Int(2)),
                        ("author_id", Value::Int(3)),
                        ("date", s("2026-02-01 10:00:00")),
                    ],
                ),
                (
                    2,
                    vec![
                        (
                            "body",
                            s("<p>Customer asked for a quote with 40 desks.</p>"),
                        ),
                        ("model", s("crm.lead")),
                        ("res_id", Value::Int(1)),
                        ("message_type", s("comment")),
                        ("subtype_id", Value::Int(1)),
                        ("author_id", Value::Int(3)),
                        ("date", s("2026-02-03 14:30:00")),
                    ],
                ),
                (
                    3,
                    vec![
                        ("body", s("<p>Met at the trade fair.</p>")),
                        ("model", s("res.partner")),
                        ("res_id", Value::Int(5)),
                        ("message_type", s("comment")),
                        ("subtype_id", Value::Int(2)),
                        ("author_id", Value::Int(4)),
                        ("date", s("2026-01-20 16:45:00")),
                    ],
                ),
            ],
        ),
    ]
}

fn partners() -> Vec<(i64, Vec<(&'static str, Value)>)> {
    let png = s(TINY_PNG_BASE64);
    vec![
        (
            1,
            vec![
                ("name", s("My Company")),
                ("is_company", Value::Bool(true)),
                ("city", s("Brussels")),
                ("country_id", Value::Int(20)),
                ("email", s("info@yourcompany.example.com")),
            ],
        ),
        (
            2,
            vec![
                ("name", s("OdooBot")),
                ("email", s("odoobot@example.com")),
                ("active", no()),
            ],
        ),
        (
            3,
            vec![
                ("name", s("Mitchell Admin")),
                ("parent_id", Value::Int(1)),
                ("email", s("admin@yourcompany.example.com")),
                ("city", s("Brussels")),
                ("country_id", Value::Int(20)),
            ],
        ),
        (
            4,
            vec![
                ("name", s("Marc Demo")),
                ("parent_id", Value::Int(1)),
                ("email", s("mark.brown23@example.com")),
                ("city", s("Brussels")),
                ("country_id", Value::Int(20)),
            ],
        ),
        (
            5,
            vec![
                ("name", s("ACME Corporation")),
                ("is_company", Value::Bool(true)),
                ("email", s("info@acme.example.com")),
                ("phone", s("+1 555-0100")),
                ("website", s("https://acme.example.com")),
                ("street", s("1 Industrial Way")),
                ("city", s("New York")),
                ("zip", s("10001")),
                ("country_id", Value::Int(233)),
                ("vat", s("US123456789")),
                ("comment", s("<p>Key account since 2019.</p>")),
                ("color", Value::Int(3)),
                ("image_1920", png.clone()),
            ],
        ),
        (
            6,
            vec![
                ("name", s("John Smith")),
                ("parent_id", Value::Int(5)),
                ("function", s("Purchasing Manager")),
                ("email", s("john.smith@acme.example.com")),
                ("phone", s("+1 555-0101")),
                ("city", s("New York")),
                ("country_id", Value::Int(233)),
            ],
        ),
        (
            7,
            vec![
                ("name", s("Jane Doe")),
                ("parent_id", Value::Int(5)),
                ("function", s("CFO")),
                ("email", s("jane.doe@acme.example.com")),
                ("city", s("New York")),
                ("country_id", Value::Int(233)),
            ],
        ),
        (
            8,
            vec![
                ("name", s("Acme Ibérica S.L.")),
                ("is_company", Value::Bool(true)),
                ("email", s("hola@acme-iberica.example.es")),
                ("phone", s("+34 910 000 000")),
                ("street", s("Calle Mayor 1")),
                ("city", s("Madrid")),
                ("zip", s("28013")),
                ("country_id", Value::Int(68)),
                ("vat", s("ESB12345678")),
                ("lang", s("es_ES")),
                ("image_1920", png),
            ],
        ),
        (
            9,
            vec![
                ("name", s("Lucía Fernández")),
                ("parent_id", Value::Int(8)),
                ("function", s("Directora de Compras")),
                ("email", s("lucia.fernandez@acme-iberica.example.es")),
                ("city", s("Madrid")),
                ("country_id", Value::Int(68)),
                ("lang", s("es_ES")),
            ],
        ),
        (
            10,
            vec![
                ("name", s("acme test")),
                ("email", s("acme.test@example.com")),
                ("comment", s("<p>Test contact, do not invoice.</p>")),
            ],
        ),
        (
            11,
            vec![
                ("name", s("Deco Addict")),
                ("is_company", Value::Bool(true)),
                ("email", s("deco.addict82@example.com")),
                ("phone", s("(603)-996-3829")),
                ("city", s("Pleasant Hill")),
                ("country_id", Value::Int(233)),
                ("vat", s("US12345673")),
            ],
        ),
        (
            12,
            vec![
                ("name", s("Gemini Furniture")),
                ("is_company", Value::Bool(true)),
                ("email", s("gemini.furniture39@example.com")),
                ("city", s("Fairfield")),
                ("country_id", Value::Int(233)),
            ],
        ),
        (
            13,
            vec![
                ("name", s("Azure Interior")),
                ("is_company", Value::Bool(true)),
                ("email", s("azure.Interior24@example.com")),
                ("city", s("Fremont")),
                ("country_id", Value::Int(233)),
            ],
        ),
        (
            14,
            vec![
                ("name", s("Ready Mat")),
                ("is_company", Value::Bool(true)),
                ("email", s("ready.mat28@example.com")),
                ("city", s("Lyon")),
                ("country_id", Value::Int(75)),
                ("lang", s("fr_FR")),
            ],
        ),
        (
            15,
            vec![
                ("name", s("Old Acme Supplier")),
                ("is_company", Value::Bool(true)),
                ("email", s("old@acme-supplier.example.com")),
                ("city", s("Leeds")),
                ("country_id", Value::Int(231)),
                ("active", no()),
            ],
        ),
        (
            16,
            vec![
                ("name", s("Wood Corner")),
                ("is_company", Value::Bool(true)),
                ("email", s("wood.corner26@example.com")),
                ("city", s("Berlin")),
                ("country_id", Value::Int(57)),
            ],
        ),
    ]
}

fn leads() -> Vec<(i64, Vec<(&'static str, Value)>)> {
    vec![
        (
            1,
            vec![
                ("name", s("Office furniture for ACME HQ")),
                ("partner_id", Value::Int(5)),
                ("email_from", s("john.smith@acme.example.com")),
                ("phone", s("+1 555-0101")),
                ("stage_id", Value::Int(2)),
                ("user_id", Value::Int(ADMIN_UID)),
                ("expected_revenue", Value::Float(12000.0)),
                ("probability", Value::Float(30.0)),
                ("priority", s("2")),
                (
                    "description",
                    s("<p>40 desks and chairs for the new floor.</p>"),
                ),
                ("date_deadline", s("2026-12-15")),
                ("country_id", Value::Int(233)),
            ],
        ),
        (
            2,
            vec![
                ("name", s("Acme Ibérica renewal")),
                ("partner_id", Value::Int(8)),
                ("email_from", s("hola@acme-iberica.example.es")),
                ("stage_id", Value::Int(3)),
                ("user_id", Value::Int(crate::seed::DEMO_UID)),
                ("expected_revenue", Value::Float(8500.0)),
                ("probability", Value::Float(60.0)),
                ("priority", s("1")),
                ("date_deadline", s("2027-01-31")),
                ("country_id", Value::Int(68)),
            ],
        ),
        (
            3,
            vec![
                ("name", s("Website redesign inquiry")),
                ("type", s("lead")),
                ("contact_name", s("Paul Martin")),
                ("partner_name", s("Martin & Fils")),
                ("email_from", s("paul.martin@example.com")),
                ("stage_id", Value::Int(1)),
                ("user_id", Value::Int(ADMIN_UID)),
                ("probability", Value::Float(10.0)),
            ],
        ),
        (
            4,
            vec![
                ("name", s("Deco Addict chairs")),
                ("partner_id", Value::Int(11)),
                ("email_from", s("deco.addict82@example.com")),
                ("stage_id", Value::Int(4)),
                ("user_id", Value::Int(crate::seed::DEMO_UID)),
                ("expected_revenue", Value::Float(4200.0)),
                ("probability", Value::Float(100.0)),
                ("date_deadline", s("2026-10-01")),
            ],
        ),
        (
            5,
            vec![
                ("name", s("Lost deal (archived)")),
                ("partner_id", Value::Int(12)),
                ("stage_id", Value::Int(1)),
                ("user_id", Value::Int(ADMIN_UID)),
                ("expected_revenue", Value::Float(1500.0)),
                ("probability", Value::Float(0.0)),
                ("active", no()),
            ],
        ),
        (
            6,
            vec![
                ("name", s("Gemini desks")),
                ("partner_id", Value::Int(12)),
                ("email_from", s("gemini.furniture39@example.com")),
                ("stage_id", Value::Int(1)),
                ("user_id", Value::Int(ADMIN_UID)),
                ("expected_revenue", Value::Float(3000.0)),
                ("probability", Value::Float(20.0)),
                ("date_deadline", s("2026-12-20")),
            ],
        ),
    ]
}

/// Builds stored records from a seeded table, filling the audit fields Odoo would have set.
pub fn rows(table: &Table) -> BTreeMap<i64, BTreeMap<String, Value>> {
    table
        .1
        .iter()
        .map(|(id, fields)| {
            let mut record: BTreeMap<String, Value> = fields
                .iter()
                .map(|(name, value)| ((*name).to_string(), value.clone()))
                .collect();
            record
                .entry("create_date".into())
                .or_insert_with(|| s(CREATED));
            record
                .entry("write_date".into())
                .or_insert_with(|| s(CREATED));
            record.entry("create_uid".into()).or_insert(Value::Int(1));
            record.entry("write_uid".into()).or_insert(Value::Int(1));
            (*id, record)
        })
        .collect()
}
