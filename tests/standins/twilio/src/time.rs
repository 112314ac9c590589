//! Clock and date formats without a date crate: Unix seconds, RFC 2822 (REST 2010) and ISO 8601 (Lookups, Verify).

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01 (Howard Hinnant's civil_from_days).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn split(seconds: i64) -> ((i64, u32, u32), i64, i64, i64, i64) {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    (
        civil_from_days(days),
        days,
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
    )
}

/// `Thu, 30 Jul 2015 20:12:31 +0000`, as the REST 2010 API writes dates.
pub fn rfc2822(seconds: i64) -> String {
    let ((year, month, day), days, hour, minute, second) = split(seconds);
    format!(
        "{}, {day:02} {} {year} {hour:02}:{minute:02}:{second:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize]
    )
}

/// `2015-07-30T20:12:31Z`, as Lookups and Verify write dates.
pub fn iso8601(seconds: i64) -> String {
    let ((year, month, day), _, hour, minute, second) = split(seconds);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

/// A parsed date filter or timestamp: the instant, and whether only a day was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instant {
    /// Unix seconds (midnight UTC for a bare date).
    pub seconds: i64,
    /// `YYYY-MM-DD` without a time.
    pub date_only: bool,
}

fn number(text: &str, len: usize) -> Option<i64> {
    (text.len() == len && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]](Z|±HH:MM|±HHMM)` (a space instead of `T` too; no zone = UTC).
pub fn parse(text: &str) -> Option<Instant> {
    let text = text.trim();
    let date = text.get(..10)?;
    let year = number(date.get(..4)?, 4)?;
    let month = number(date.get(5..7)?, 2)? as u32;
    let day = number(date.get(8..10)?, 2)? as u32;
    if &date[4..5] != "-"
        || &date[7..8] != "-"
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
    {
        return None;
    }
    let midnight = days_from_civil(year, month, day) * 86_400;
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(Instant {
            seconds: midnight,
            date_only: true,
        });
    }
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' '))?;
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let mut parts = clock.split(':');
    let hour = number(parts.next()?, 2)?;
    let minute = number(parts.next()?, 2)?;
    let second = match parts.next() {
        None => 0,
        Some(second) => {
            let whole = second.split('.').next()?;
            number(whole, 2)?
        }
    };
    if parts.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let offset = match zone {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
            let hours = number(digits.get(..2)?, 2)?;
            let minutes = number(digits.get(2..)?, 2)?;
            sign * (hours * 3600 + minutes * 60)
        }
    };
    Some(Instant {
        seconds: midnight + hour * 3600 + minute * 60 + second - offset,
        date_only: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_dates() {
        // Twilio's documentation example.
        assert_eq!(rfc2822(1_438_287_151), "Thu, 30 Jul 2015 20:12:31 +0000");
        assert_eq!(iso8601(1_438_287_151), "2015-07-30T20:12:31Z");
        let parsed = parse("2015-07-30T20:12:31Z");
        assert_eq!(parsed.map(|p| p.seconds), Some(1_438_287_151));
        assert_eq!(
            parse("2015-07-30T22:12:31+02:00").map(|p| p.seconds),
            Some(1_438_287_151)
        );
        assert_eq!(
            parse("2015-07-30"),
            Some(Instant {
                seconds: 1_438_214_400,
                date_only: true
            })
        );
        assert_eq!(parse("tomorrow"), None);
        assert_eq!(parse("2015-13-01"), None);
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    }
}
