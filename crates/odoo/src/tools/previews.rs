//! Consent previews of the write tools: what a call would change, for the person asked to
//! approve it. Each reads the same argument struct as its tool.

use rmcp::handler::server::wrapper::Parameters;
use serde_json::{Value, json};

use crate::ops::record_label;
use crate::tools::Odoo;
use crate::tools::crm::{CreateLeadArgs, LogNoteArgs, MoveLeadStageArgs, ScheduleActivityArgs};
use crate::tools::records::{CallMethodArgs, CreateRecordArgs, DeleteRecordArgs, UpdateRecordArgs};

/// Consent previews: each reads the same argument struct as its tool, so a renamed field is a
/// compile error rather than a silently empty preview. They never change anything, and a model
/// the policy refuses is never read for them.
impl Odoo {
    pub(super) async fn preview_update_record(
        self,
        Parameters(args): Parameters<UpdateRecordArgs>,
    ) -> Option<String> {
        let service = &self.service;
        let client = &service.client(args.target.instance()).ok()?;
        let model = args.model.trim();
        let ids = &args.ids;
        let fields: Vec<String> = args.values.iter().map(|v| v.field.clone()).collect();
        service.check_model(model).ok()?;
        let current = service
            .current_values(client, model, ids, &fields)
            .await
            .ok()?;
        let mut lines = Vec::new();
        for id in ids.iter().take(10) {
            let Some(record) = current.get(id) else {
                lines.push(format!("{model} {id}: does not exist"));
                continue;
            };
            let changes: Vec<String> = args
                .values
                .iter()
                .map(|v| {
                    let old = record.get(&v.field).map_or_else(|| "?".to_owned(), shown);
                    format!("{} {old} -> {}", v.field, shown(&v.value))
                })
                .collect();
            lines.push(format!(
                "{model} {id} ({}): {}",
                record_label(record),
                changes.join("; ")
            ));
        }
        if ids.len() > 10 {
            lines.push(format!("… and {} more records", ids.len() - 10));
        }
        Some(lines.join("\n"))
    }

    pub(super) async fn preview_delete_record(
        self,
        Parameters(args): Parameters<DeleteRecordArgs>,
    ) -> Option<String> {
        let service = &self.service;
        let client = &service.client(args.target.instance()).ok()?;
        let model = args.model.trim();
        let ids = &args.ids;
        service.check_model(model).ok()?;
        let labels = service.labels(client, model, ids).await.ok()?;
        let mut lines: Vec<String> = labels
            .iter()
            .take(20)
            .map(|(id, name)| format!("delete {model} {id} ({name})"))
            .collect();
        let missing: Vec<String> = ids
            .iter()
            .filter(|id| !labels.iter().any(|(found, _)| found == *id))
            .map(i64::to_string)
            .collect();
        if labels.len() > 20 {
            lines.push(format!("… and {} more records", labels.len() - 20));
        }
        if !missing.is_empty() {
            lines.push(format!("{model} {} do not exist", missing.join(", ")));
        }
        Some(lines.join("\n"))
    }

    pub(super) async fn preview_move_lead_stage(
        self,
        Parameters(args): Parameters<MoveLeadStageArgs>,
    ) -> Option<String> {
        let service = &self.service;
        let client = &service.client(args.target.instance()).ok()?;
        service.check_model("crm.lead").ok()?;
        let lead = service.read_lead(client, args.lead_id).await.ok()?;
        let to = match service.resolve_stage(client, &args.stage).await {
            Ok(stage) => stage.name,
            Err(error) => {
                return Some(format!("this move would fail: {}", error.message()));
            }
        };
        let from = lead.stage.map_or_else(|| "(none)".to_owned(), |s| s.name);
        Some(format!(
            "crm.lead {} ({}): stage {from} -> {to}",
            args.lead_id, lead.name
        ))
    }

    pub(super) async fn preview_call_method(
        self,
        Parameters(args): Parameters<CallMethodArgs>,
    ) -> Option<String> {
        let service = &self.service;
        let client = &service.client(args.target.instance()).ok()?;
        let model = args.model.trim();
        let method = args.method.trim();
        if let Err(refusal) = service.check_method(model, method) {
            return Some(format!("this call would be refused: {}", refusal.message()));
        }
        let ids = args.ids.unwrap_or_default();
        let target = if ids.is_empty() {
            format!("the model {model}")
        } else {
            let labels = service.labels(client, model, &ids).await.ok()?;
            let named: Vec<String> = labels
                .iter()
                .take(10)
                .map(|(id, name)| format!("{id} ({name})"))
                .collect();
            format!("{model} {}", named.join(", "))
        };
        let mut line = format!("run {model}.{method} on {target}");
        // As the caller wrote them: these go to Odoo unchanged.
        let given = [
            ("args", args.args.map(Value::from)),
            (
                "kwargs",
                args.kwargs.map(|kwargs| {
                    kwargs
                        .into_iter()
                        .map(|k| json!({"name": k.name, "value": k.value}))
                        .collect()
                }),
            ),
        ];
        for (key, value) in given {
            if let Some(value) = value {
                line.push_str(&format!(" with {key} {}", short(&value.to_string(), 200)));
            }
        }
        Some(line)
    }

    pub(super) async fn preview_create_record(
        self,
        Parameters(args): Parameters<CreateRecordArgs>,
    ) -> Option<String> {
        self.service.client(args.target.instance()).ok()?;
        let listed: Vec<String> = args
            .values
            .iter()
            .map(|v| format!("{} = {}", v.field, shown(&v.value)))
            .collect();
        Some(format!(
            "create a {} record: {}",
            args.model.trim(),
            listed.join("; ")
        ))
    }

    pub(super) async fn preview_create_lead(
        self,
        Parameters(args): Parameters<CreateLeadArgs>,
    ) -> Option<String> {
        self.service.client(args.target.instance()).ok()?;
        // The arguments given, by argument name in alphabetical order.
        let given: [(&str, Option<Value>); 10] = [
            ("description", args.description.map(Value::from)),
            ("email", args.email.map(Value::from)),
            ("expected_revenue", args.expected_revenue.map(as_written)),
            ("name", Some(Value::from(args.name))),
            ("partner_id", args.partner_id.map(Value::from)),
            ("partner_name", args.partner_name.map(Value::from)),
            ("phone", args.phone.map(Value::from)),
            ("probability", args.probability.map(as_written)),
            ("salesperson_id", args.salesperson_id.map(Value::from)),
            ("type", args.lead_type.map(|t| Value::from(t.as_str()))),
        ];
        let listed: Vec<String> = given
            .into_iter()
            .filter_map(|(key, value)| Some(format!("{key} = {}", shown(&value?))))
            .collect();
        Some(format!("create a crm.lead: {}", listed.join("; ")))
    }

    pub(super) async fn preview_log_note(
        self,
        Parameters(args): Parameters<LogNoteArgs>,
    ) -> Option<String> {
        let service = &self.service;
        let client = &service.client(args.target.instance()).ok()?;
        let model = args.model.trim();
        // Never show data of a model the policy refuses, not even in a consent request.
        service.check_model(model).ok()?;
        let record_id = args.record_id;
        let name = service
            .labels(client, model, &[record_id])
            .await
            .ok()
            .and_then(|l| l.into_iter().next())
            .map_or_else(|| "not found".to_owned(), |(_, name)| name);
        Some(format!(
            "post an internal note on {model} {record_id} ({name}): {}",
            short(&args.body, 200)
        ))
    }

    pub(super) async fn preview_schedule_activity(
        self,
        Parameters(args): Parameters<ScheduleActivityArgs>,
    ) -> Option<String> {
        self.service.client(args.target.instance()).ok()?;
        Some(format!(
            "schedule a {} on {} {} due {}: {}",
            args.activity.as_str(),
            args.model.trim(),
            args.record_id,
            args.deadline,
            short(&args.summary, 200)
        ))
    }
}

/// A number as the caller most likely wrote it: whole numbers without a fraction (`5000`, not
/// `5000.0`), since the tool reads them as floats.
fn as_written(value: f64) -> Value {
    // Below 2^53 every whole float is exactly an integer.
    if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
        Value::from(value as i64)
    } else {
        Value::from(value)
    }
}

/// `text` cut to `max` characters, with an ellipsis when cut.
pub(super) fn short(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    } else {
        text.to_owned()
    }
}

/// A value as shown in a consent preview: a many2one by name, text quoted, null as "(empty)".
fn shown(value: &Value) -> String {
    match value {
        Value::Null | Value::Bool(false) => "(empty)".into(),
        Value::Object(map) if map.contains_key("name") && map.contains_key("id") => {
            let name = map.get("name").and_then(Value::as_str).unwrap_or_default();
            format!(
                "{name} (id {})",
                map.get("id").cloned().unwrap_or(Value::Null)
            )
        }
        Value::Object(map) if map.contains_key("ids") => format!(
            "{} record(s)",
            map.get("count").and_then(Value::as_u64).unwrap_or_default()
        ),
        other => short(&other.to_string(), 80),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_values_read_like_odoo_shows_them() {
        // (shaped value, as shown in a consent request)
        let cases = [
            (json!(null), "(empty)"),
            (json!(false), "(empty)"),
            (json!("a@x.com"), "\"a@x.com\""),
            (json!(42), "42"),
            (json!({"id": 2, "name": "Qualified"}), "Qualified (id 2)"),
            (json!({"ids": [1, 2], "count": 2}), "2 record(s)"),
        ];
        for (value, text) in cases {
            assert_eq!(shown(&value), text, "{value}");
        }
        assert_eq!(short(&"x".repeat(90), 80).chars().count(), 81);
    }

    #[test]
    fn previews_show_numbers_as_the_caller_wrote_them() {
        // (the float the tool reads, as the preview shows it)
        let cases = [(5000.0, "5000"), (0.5, "0.5"), (12.25, "12.25"), (0.0, "0")];
        for (value, text) in cases {
            assert_eq!(shown(&as_written(value)), text, "{value}");
        }
    }
}
