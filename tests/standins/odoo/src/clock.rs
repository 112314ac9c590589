//! Dates in Odoo's server formats (`YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS`, UTC) without a date library.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in UTC, as Odoo writes datetimes.
pub fn now() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    let seconds = i64::try_from(seconds).unwrap_or(0);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        of_day / 3600,
        (of_day % 3600) / 60,
        of_day % 60
    )
}

/// Today, in UTC, as Odoo writes dates.
pub fn today() -> String {
    now()[..10].to_string()
}

/// Days since 1970-01-01 → (year, month, day), after Howard Hinnant's `civil_from_days`.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400;
    (if month <= 2 { year + 1 } else { year }, month, day)
}

/// (year, month, day) → days since 1970-01-01.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Parses the date part of `YYYY-MM-DD[ HH:MM:SS]`.
pub fn parse_date(text: &str) -> Option<(i64, u32, u32)> {
    let date = text.get(..10)?;
    let mut parts = date.split('-');
    let year = parts.next()?.parse::<i64>().ok()?;
    let month = parts.next()?.parse::<u32>().ok()?;
    let day = parts.next()?.parse::<u32>().ok()?;
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && date.as_bytes().get(4) == Some(&b'-');
    valid.then_some((year, month, day))
}

/// Whether `text` is a valid `YYYY-MM-DD HH:MM:SS`.
pub fn is_datetime(text: &str) -> bool {
    let bytes = text.as_bytes();
    parse_date(text).is_some()
        && bytes.len() == 19
        && bytes[10] == b' '
        && bytes[13] == b':'
        && bytes[16] == b':'
        && text[11..]
            .split(':')
            .all(|part| part.parse::<u32>().is_ok())
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A date group for `read_group`: the range start, the next range start and Odoo's (babel, `en_US`) label.
pub fn date_group(text: &str, granularity: &str) -> Option<(String, String, String)> {
    let (year, month, day) = parse_date(text)?;
    let format = |year: i64, month: u32, day: u32| format!("{year:04}-{month:02}-{day:02}");
    Some(match granularity {
        "year" => (
            format(year, 1, 1),
            format(year + 1, 1, 1),
            format!("{year}"),
        ),
        "quarter" => {
            let quarter = (month - 1) / 3;
            let start_month = quarter * 3 + 1;
            let (next_year, next_month) = if start_month + 3 > 12 {
                (year + 1, 1)
            } else {
                (year, start_month + 3)
            };
            (
                format(year, start_month, 1),
                format(next_year, next_month, 1),
                format!("Q{} {year}", quarter + 1),
            )
        }
        "month" => {
            let (next_year, next_month) = if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            };
            (
                format(year, month, 1),
                format(next_year, next_month, 1),
                format!("{} {year}", MONTHS[month as usize - 1]),
            )
        }
        "day" => {
            let (next_year, next_month, next_day) =
                civil_from_days(days_from_civil(year, month, day) + 1);
            let short = &MONTHS[month as usize - 1][..3];
            (
                format(year, month, day),
                format(next_year, next_month, next_day),
                format!("{day:02} {short} {year}"),
            )
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-1, 0, 1, 19_000, 20_779, 20_818, 73_000] {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_778), (2026, 11, 21));
    }

    #[test]
    fn date_groups() {
        assert_eq!(
            date_group("2026-11-21", "month"),
            Some((
                "2026-11-01".into(),
                "2026-12-01".into(),
                "November 2026".into()
            ))
        );
        assert_eq!(
            date_group("2026-12-31 23:00:00", "day"),
            Some((
                "2026-12-31".into(),
                "2027-01-01".into(),
                "31 Dec 2026".into()
            ))
        );
        assert_eq!(
            date_group("2026-11-21", "quarter"),
            Some(("2026-10-01".into(), "2027-01-01".into(), "Q4 2026".into()))
        );
        assert_eq!(
            date_group("2026-11-21", "year"),
            Some(("2026-01-01".into(), "2027-01-01".into(), "2026".into()))
        );
        assert_eq!(date_group("2026-11-21", "fortnight"), None);
        assert!(is_datetime("2026-11-21 10:00:00"));
        assert!(!is_datetime("2026-11-21"));
        assert!(now().len() == 19 && is_datetime(&now()));
    }
}
