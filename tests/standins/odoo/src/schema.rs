//! The models the stand-in serves and their fields, named and typed as in Odoo 19 (`base`, `mail`, `crm`).
//!
//! Only what a client can observe is modelled: field names, types, labels, relations, selections, requiredness,
//! default order, the name used for `display_name`, the fields `name_search` looks at, and `active`.

/// An Odoo field type, as `fields_get` reports it in `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// `char`.
    Char,
    /// `text`.
    Text,
    /// `html`.
    Html,
    /// `integer`.
    Integer,
    /// `float`.
    Float,
    /// `monetary` (a float with a currency).
    Monetary,
    /// `boolean`.
    Boolean,
    /// `date`, `YYYY-MM-DD`.
    Date,
    /// `datetime`, `YYYY-MM-DD HH:MM:SS` in UTC.
    Datetime,
    /// `selection`.
    Selection,
    /// `many2one`, read as `[id, "Display Name"]` or `False`.
    Many2one,
    /// `one2many`, read as a list of ids.
    One2many,
    /// `many2many`, read as a list of ids.
    Many2many,
    /// `many2one_reference` (`res_id` next to a model-name field), read as an integer.
    Many2oneReference,
    /// `binary`, read as base64 text.
    Binary,
}

impl FieldType {
    /// The name `fields_get` reports.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Char => "char",
            FieldType::Text => "text",
            FieldType::Html => "html",
            FieldType::Integer => "integer",
            FieldType::Float => "float",
            FieldType::Monetary => "monetary",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
            FieldType::Selection => "selection",
            FieldType::Many2one => "many2one",
            FieldType::One2many => "one2many",
            FieldType::Many2many => "many2many",
            FieldType::Many2oneReference => "many2one_reference",
            FieldType::Binary => "binary",
        }
    }

    /// Whether the field holds text compared with `like`/`ilike`.
    pub fn is_textual(self) -> bool {
        matches!(
            self,
            FieldType::Char | FieldType::Text | FieldType::Html | FieldType::Selection
        )
    }

    /// Whether the field is a number (summed by default in groupings).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Integer | FieldType::Float | FieldType::Monetary
        )
    }

    /// Whether the field points to other records.
    pub fn is_relational(self) -> bool {
        matches!(
            self,
            FieldType::Many2one | FieldType::One2many | FieldType::Many2many
        )
    }

    /// Whether the field holds several records.
    pub fn is_x2many(self) -> bool {
        matches!(self, FieldType::One2many | FieldType::Many2many)
    }
}

/// A field definition.
#[derive(Debug, Clone)]
pub struct FieldDef {
    /// Technical name.
    pub name: &'static str,
    /// Type.
    pub ftype: FieldType,
    /// Label (`string`).
    pub string: &'static str,
    /// `required`.
    pub required: bool,
    /// `readonly`.
    pub readonly: bool,
    /// `store`: false for computed fields that are not in the database (they cannot be grouped or summed).
    pub store: bool,
    /// Comodel of relational fields.
    pub relation: Option<&'static str>,
    /// For one2many fields, the many2one on the comodel that points back.
    pub inverse_name: Option<&'static str>,
    /// `(value, label)` pairs of selection fields.
    pub selection: &'static [(&'static str, &'static str)],
    /// Tooltip (`help`).
    pub help: Option<&'static str>,
    /// Whether grouping by this field lists every comodel record, even empty groups (`group_expand`).
    pub group_expand: bool,
}

impl FieldDef {
    const fn new(name: &'static str, ftype: FieldType, string: &'static str) -> FieldDef {
        FieldDef {
            name,
            ftype,
            string,
            required: false,
            readonly: false,
            store: true,
            relation: None,
            inverse_name: None,
            selection: &[],
            help: None,
            group_expand: false,
        }
    }

    const fn required(mut self) -> FieldDef {
        self.required = true;
        self
    }

    const fn readonly(mut self) -> FieldDef {
        self.readonly = true;
        self
    }

    const fn computed(mut self) -> FieldDef {
        self.store = false;
        self.readonly = true;
        self
    }

    const fn to(mut self, relation: &'static str) -> FieldDef {
        self.relation = Some(relation);
        self
    }

    const fn inverse(mut self, inverse_name: &'static str) -> FieldDef {
        self.inverse_name = Some(inverse_name);
        self
    }

    const fn choices(mut self, selection: &'static [(&'static str, &'static str)]) -> FieldDef {
        self.selection = selection;
        self
    }

    const fn help(mut self, help: &'static str) -> FieldDef {
        self.help = Some(help);
        self
    }

    const fn expand(mut self) -> FieldDef {
        self.group_expand = true;
        self
    }

    /// A float field standing for an aggregate value, to compare `having` conditions.
    pub fn aggregate() -> FieldDef {
        FieldDef::new("aggregate", FieldType::Float, "Aggregate")
    }

    /// The aggregate `read_group` applies when the field is listed without one (Odoo's `aggregator`).
    pub fn default_aggregator(&self) -> Option<&'static str> {
        if self.store
            && self.ftype.is_numeric()
            && self.name != "id"
            && self.name != "sequence"
            && self.name != "color"
        {
            Some("sum")
        } else {
            None
        }
    }
}

/// A model definition.
#[derive(Debug, Clone)]
pub struct ModelDef {
    /// Technical name, e.g. `res.partner`.
    pub name: &'static str,
    /// `_description`, which is also the `ir.model` name.
    pub description: &'static str,
    /// `_order`.
    pub order: &'static str,
    /// Fields, in the order `read` without `fields` lists them.
    pub fields: Vec<FieldDef>,
    /// Fields `display_name` searches match (`_rec_names_search`, or `_rec_name`).
    pub rec_names_search: &'static [&'static str],
    /// Whether the model inherits `mail.thread` (so `message_post` exists and messages follow its records).
    pub mail_thread: bool,
}

impl ModelDef {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|field| field.name == name)
    }

    /// Whether the model has an `active` field (archived records are hidden from searches).
    pub fn has_active(&self) -> bool {
        self.field("active").is_some()
    }
}

const PARTNER_TYPES: &[(&str, &str)] = &[
    ("contact", "Contact"),
    ("invoice", "Invoice Address"),
    ("delivery", "Delivery Address"),
    ("other", "Other Address"),
];
const COMPANY_TYPES: &[(&str, &str)] = &[("person", "Individual"), ("company", "Company")];
const LEAD_TYPES: &[(&str, &str)] = &[("lead", "Lead"), ("opportunity", "Opportunity")];
const PRIORITIES: &[(&str, &str)] = &[
    ("0", "Low"),
    ("1", "Medium"),
    ("2", "High"),
    ("3", "Very High"),
];
const ACTIVITY_STATES: &[(&str, &str)] = &[
    ("overdue", "Overdue"),
    ("today", "Today"),
    ("planned", "Planned"),
];
const ACTIVITY_CATEGORIES: &[(&str, &str)] = &[
    ("default", "None"),
    ("upload_file", "Upload Document"),
    ("phonecall", "Phonecall"),
];
const MESSAGE_TYPES: &[(&str, &str)] = &[
    ("email", "Incoming Email"),
    ("comment", "Comment"),
    ("email_outgoing", "Outgoing Email"),
    ("notification", "System notification"),
    ("auto_comment", "Automated Targeted Notification"),
    ("user_notification", "User Specific Notification"),
];
const LANGS: &[(&str, &str)] = &[
    ("en_US", "English (US)"),
    ("es_ES", "Spanish / Español"),
    ("fr_FR", "French / Français"),
];

use FieldType::*;

fn magic_fields(fields: Vec<FieldDef>) -> Vec<FieldDef> {
    let mut all = vec![FieldDef::new("id", Integer, "ID").readonly()];
    all.extend(fields);
    all.extend([
        FieldDef::new("display_name", Char, "Display Name").computed(),
        FieldDef::new("create_uid", Many2one, "Created by")
            .to("res.users")
            .readonly(),
        FieldDef::new("create_date", Datetime, "Created on").readonly(),
        FieldDef::new("write_uid", Many2one, "Last Updated by")
            .to("res.users")
            .readonly(),
        FieldDef::new("write_date", Datetime, "Last Updated on").readonly(),
    ]);
    all
}

/// Every model the stand-in serves, in `ir.model` id order.
pub fn models() -> Vec<ModelDef> {
    vec![
        ModelDef {
            name: "res.partner",
            description: "Contact",
            order: "complete_name ASC, id DESC",
            rec_names_search: &["complete_name", "email", "ref", "vat"],
            mail_thread: true,
            fields: magic_fields(vec![
                FieldDef::new("name", Char, "Name"),
                FieldDef::new("complete_name", Char, "Complete Name").readonly(),
                FieldDef::new("is_company", Boolean, "Is a Company")
                    .help("Check if the contact is a company, otherwise it is a person"),
                FieldDef::new("company_type", Selection, "Company Type").choices(COMPANY_TYPES).computed(),
                FieldDef::new("parent_id", Many2one, "Related Company").to("res.partner"),
                FieldDef::new("child_ids", One2many, "Contact").to("res.partner").inverse("parent_id"),
                FieldDef::new("type", Selection, "Address Type").choices(PARTNER_TYPES),
                FieldDef::new("function", Char, "Job Position"),
                FieldDef::new("email", Char, "Email"),
                FieldDef::new("phone", Char, "Phone"),
                FieldDef::new("website", Char, "Website Link"),
                FieldDef::new("street", Char, "Street"),
                FieldDef::new("city", Char, "City"),
                FieldDef::new("zip", Char, "Zip"),
                FieldDef::new("country_id", Many2one, "Country").to("res.country"),
                FieldDef::new("vat", Char, "Tax ID").help(
                    "The Tax Identification Number. Values here will be validated based on the country format. You can use '/' to indicate that the partner is not subject to tax.",
                ),
                FieldDef::new("ref", Char, "Reference"),
                FieldDef::new("lang", Selection, "Language").choices(LANGS),
                FieldDef::new("comment", Html, "Notes"),
                FieldDef::new("color", Integer, "Color Index"),
                FieldDef::new("image_1920", Binary, "Image"),
                FieldDef::new("user_ids", One2many, "Users").to("res.users").inverse("partner_id"),
                FieldDef::new("active", Boolean, "Active"),
            ]),
        },
        ModelDef {
            name: "res.users",
            description: "User",
            order: "name, login",
            rec_names_search: &["name", "login"],
            mail_thread: false,
            fields: magic_fields(vec![
                FieldDef::new("name", Char, "Name").required(),
                FieldDef::new("login", Char, "Login").required().help("Used to log into the system"),
                FieldDef::new("password", Char, "Password")
                    .help("Keep empty if you don't want the user to be able to connect on the system."),
                FieldDef::new("email", Char, "Email"),
                FieldDef::new("partner_id", Many2one, "Related Partner").to("res.partner").required()
                    .help("Partner-related data of the user"),
                FieldDef::new("share", Boolean, "Share User").readonly().help(
                    "External user with limited access, created only for the purpose of sharing data.",
                ),
                FieldDef::new("tz", Char, "Timezone"),
                FieldDef::new("lang", Selection, "Language").choices(LANGS),
                FieldDef::new("api_key_ids", One2many, "API Keys").to("res.users.apikeys").inverse("user_id"),
                FieldDef::new("active", Boolean, "Active"),
            ]),
        },
        ModelDef {
            name: "res.country",
            description: "Country",
            order: "name, id",
            rec_names_search: &["name", "code"],
            mail_thread: false,
            fields: magic_fields(vec![
                FieldDef::new("name", Char, "Country Name").required(),
                FieldDef::new("code", Char, "Country Code")
                    .help("The ISO country code in two chars. \nYou can use this field for quick search."),
                FieldDef::new("phone_code", Integer, "Country Calling Code"),
            ]),
        },
        ModelDef {
            name: "crm.stage",
            description: "CRM Stages",
            order: "sequence, name, id",
            rec_names_search: &["name"],
            mail_thread: false,
            fields: magic_fields(vec![
                FieldDef::new("name", Char, "Stage Name").required(),
                FieldDef::new("sequence", Integer, "Sequence").help("Used to order stages. Lower is better."),
                FieldDef::new("is_won", Boolean, "Is Won Stage?"),
                FieldDef::new("fold", Boolean, "Folded in Pipeline")
                    .help("This stage is folded in the kanban view when there are no records in that stage to display."),
                FieldDef::new("requirements", Text, "Requirements").help(
                    "Enter here the internal requirements for this stage (ex: Offer sent to customer). It will appear as a tooltip over the stage's name.",
                ),
            ]),
        },
        ModelDef {
            name: "crm.lead",
            description: "Lead/Opportunity",
            order: "priority desc, id desc",
            rec_names_search: &["name"],
            mail_thread: true,
            fields: magic_fields(vec![
                FieldDef::new("name", Char, "Opportunity").required(),
                FieldDef::new("type", Selection, "Type").choices(LEAD_TYPES).required(),
                FieldDef::new("partner_id", Many2one, "Customer").to("res.partner").help(
                    "Linked partner (optional). Usually created when converting the lead. You can find a partner by its Name, TIN, Email or Internal Reference.",
                ),
                FieldDef::new("partner_name", Char, "Company Name")
                    .help("The name of the future partner company that will be created while converting the lead into opportunity"),
                FieldDef::new("contact_name", Char, "Contact Name"),
                FieldDef::new("email_from", Char, "Email"),
                FieldDef::new("phone", Char, "Phone"),
                FieldDef::new("stage_id", Many2one, "Stage").to("crm.stage").expand(),
                FieldDef::new("user_id", Many2one, "Salesperson").to("res.users"),
                FieldDef::new("expected_revenue", Monetary, "Expected Revenue"),
                FieldDef::new("probability", Float, "Probability"),
                FieldDef::new("priority", Selection, "Priority").choices(PRIORITIES),
                FieldDef::new("description", Html, "Notes"),
                FieldDef::new("date_deadline", Date, "Expected Closing").help("Estimate of the date on which the opportunity will be won."),
                FieldDef::new("country_id", Many2one, "Country").to("res.country"),
                FieldDef::new("city", Char, "City"),
                FieldDef::new("color", Integer, "Color Index"),
                FieldDef::new("activity_ids", One2many, "Activities").to("mail.activity").inverse("res_id"),
                FieldDef::new("active", Boolean, "Active"),
            ]),
        },
        ModelDef {
            name: "mail.activity.type",
            description: "Activity Type",
            order: "sequence, id",
            rec_names_search: &["name"],
            mail_thread: false,
            fields: magic_fields(vec![
                FieldDef::new("name", Char, "Name").required(),
                FieldDef::new("summary", Char, "Default Summary"),
                FieldDef::new("sequence", Integer, "Sequence"),
                FieldDef::new("category", Selection, "Action").choices(ACTIVITY_CATEGORIES),
                FieldDef::new("icon", Char, "Icon").help("Font awesome icon e.g. fa-tasks"),
                FieldDef::new("delay_count", Integer, "Schedule")
                    .help("Number of days/week/month before executing the action after or before the scheduled plan date."),
                FieldDef::new("active", Boolean, "Active"),
            ]),
        },
        ModelDef {
            name: "mail.activity",
            description: "Activity",
            order: "date_deadline ASC, id ASC",
            rec_names_search: &["summary"],
            mail_thread: false,
            fields: magic_fields(vec![
                FieldDef::new("res_model_id", Many2one, "Document Model").to("ir.model").required(),
                FieldDef::new("res_model", Char, "Related Document Model").readonly(),
                FieldDef::new("res_id", Many2oneReference, "Related Document ID").required(),
                FieldDef::new("res_name", Char, "Document Name").computed(),
                FieldDef::new("activity_type_id", Many2one, "Activity Type").to("mail.activity.type"),
                FieldDef::new("summary", Char, "Summary"),
                FieldDef::new("note", Html, "Note"),
                FieldDef::new("date_deadline", Date, "Due Date").required(),
                FieldDef::new("user_id", Many2one, "Assigned to").to("res.users"),
                FieldDef::new("state", Selection, "State").choices(ACTIVITY_STATES).computed(),
                FieldDef::new("active", Boolean, "Active"),
            ]),
        },
        ModelDef {
            name: "mail.message",
            description: "Message",
            order: "id desc",
            rec_names_search: &["subject"],
            mail_thread: false,
            fields: magic_fields(vec![
                FieldDef::new("subject", Char, "Subject"),
                FieldDef::new("body", Html, "Contents"),
                FieldDef::new("model", Char, "Related Document Model"),
                FieldDef::new("res_id", Many2oneReference, "Related Document ID"),
                FieldDef::new("record_name", Char, "Message Record Name").computed(),
                FieldDef::new("message_type", Selection, "Type").choices(MESSAGE_TYPES).required().help(
                    "Used to categorize message generator\n'email': generated by an incoming email e.g. mailgateway\n'comment': generated by user input e.g. through discuss or composer\n'email_outgoing': generated by a mailing\n'notification': generated by system e.g. tracking messages\n'auto_comment': generated by automated notification mechanism e.g. acknowledgment\n'user_notification': generated for a specific recipient",
                ),
                FieldDef::new("subtype_id", Many2one, "Subtype").to("mail.message.subtype"),
                FieldDef::new("author_id", Many2one, "Author").to("res.partner")
                    .help("Author of the message. If not set, email_from may hold an email address that did not match any partner."),
                FieldDef::new("email_from", Char, "From")
                    .help("Email address of the sender. This field is set when no matching partner is found and replaces the author_id field in the chatter."),
                FieldDef::new("partner_ids", Many2many, "Recipients").to("res.partner"),
                FieldDef::new("date", Datetime, "Date"),
            ]),
        },
        ModelDef {
            name: "mail.message.subtype",
            description: "Message subtypes",
            order: "sequence, id",
            rec_names_search: &["name"],
            mail_thread: false,
            fields: magic_fields(vec![
                FieldDef::new("name", Char, "Message Type").required(),
                FieldDef::new("description", Text, "Description"),
                FieldDef::new("internal", Boolean, "Internal Only"),
                FieldDef::new("sequence", Integer, "Sequence"),
            ]),
        },
        ModelDef {
            name: "ir.model",
            description: "Models",
            order: "model",
            rec_names_search: &["name"],
            mail_thread: false,
            fields: magic_fields(vec![
                FieldDef::new("name", Char, "Model Description").required(),
                FieldDef::new("model", Char, "Model").required(),
                FieldDef::new("info", Text, "Information"),
                FieldDef::new("transient", Boolean, "Transient Model"),
            ]),
        },
    ]
}
