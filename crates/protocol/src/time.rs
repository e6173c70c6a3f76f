//! Timestamps as Python's `datetime.isoformat()` writes them in UTC with a literal `Z`:
//! `2024-01-15T14:30:00.123456Z`, and `2024-01-15T14:30:00Z` when the microseconds are zero.

use std::fmt;

/// A UTC instant with microsecond precision, as microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

const MICROS_PER_SEC: i64 = 1_000_000;
const SECS_PER_DAY: i64 = 86_400;

impl Timestamp {
    /// From microseconds since the Unix epoch.
    pub fn from_unix_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    /// From milliseconds since the Unix epoch (the browser's `Date.now()`).
    pub fn from_unix_millis(millis: f64) -> Self {
        Timestamp((millis * 1000.0).round() as i64)
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(self) -> i64 {
        self.0
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// Parses both Python forms (with six fractional digits and without any), and also accepts
    /// 1 to 9 fractional digits and a `+00:00` or missing zone. `None` for anything else.
    pub fn parse(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let part = s.get(r)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let mut rest = &s[19..];
        let mut micros = 0i64;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 9 {
                return None;
            }
            let mut padded: String = frac[..digits].chars().take(6).collect();
            while padded.len() < 6 {
                padded.push('0');
            }
            micros = padded.parse().ok()?;
            rest = &frac[digits..];
        }
        if !matches!(rest, "Z" | "z" | "+00:00" | "") {
            return None;
        }
        let days = days_from_civil(year, month as u32, day as u32);
        let secs = days * SECS_PER_DAY + hour * 3600 + minute * 60 + second;
        Some(Timestamp(secs * MICROS_PER_SEC + micros))
    }

    /// `HH:MM:SS` in UTC, as the terminal consumer prints the time.
    pub fn hms_utc(self) -> String {
        let secs = self.0.div_euclid(MICROS_PER_SEC);
        let tod = secs.rem_euclid(SECS_PER_DAY);
        format!("{:02}:{:02}:{:02}", tod / 3600, tod % 3600 / 60, tod % 60)
    }
}

impl fmt::Display for Timestamp {
    /// Python's `isoformat()` plus `Z`: no fractional part when the microseconds are zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(MICROS_PER_SEC);
        let micros = self.0.rem_euclid(MICROS_PER_SEC);
        let (y, m, d) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
        let tod = secs.rem_euclid(SECS_PER_DAY);
        write!(f, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", tod / 3600, tod % 3600 / 60, tod % 60)?;
        if micros != 0 {
            write!(f, ".{micros:06}")?;
        }
        f.write_str("Z")
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the classic era-based algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_python_forms_parse_and_print_back() {
        for s in ["2024-01-15T14:30:00.123456Z", "2024-01-15T14:30:00Z", "2026-11-28T00:12:03.905143Z"] {
            let t = Timestamp::parse(s).expect(s);
            assert_eq!(t.to_string(), s);
        }
    }

    #[test]
    fn known_instants() {
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z"), Some(Timestamp(0)));
        assert_eq!(Timestamp::parse("2024-01-15T14:30:00Z"), Some(Timestamp(1_705_329_000 * MICROS_PER_SEC)));
        assert_eq!(Timestamp::parse("2000-02-29T00:00:00.5Z"), Some(Timestamp(951_782_400 * MICROS_PER_SEC + 500_000)));
        assert_eq!(Timestamp(1_705_329_000_000_001).to_string(), "2024-01-15T14:30:00.000001Z");
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn other_zone_forms_and_precision() {
        let base = Timestamp::parse("2024-01-15T14:30:00.123456Z").unwrap();
        assert_eq!(Timestamp::parse("2024-01-15T14:30:00.123456+00:00"), Some(base));
        assert_eq!(Timestamp::parse("2024-01-15T14:30:00.123456789Z"), Some(base));
        assert_eq!(Timestamp::parse("2024-01-15T14:30:00.123456"), Some(base));
    }

    #[test]
    fn garbage_is_rejected_not_panicking() {
        for s in [
            "", "2024", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-01-15T24:00:00Z",
            "2024-01-15T14:30:00.Z", "2024-01-15T14:30:00+02:00", "2024-01-15T14:30:00Zjunk",
            "２０２４-01-15T14:30:00Z", "2024-01-15T14:30:00.1234567890Z", "abcd-ef-ghTij:kl:mnZ",
        ] {
            assert_eq!(Timestamp::parse(s), None, "{s:?}");
        }
    }

    #[test]
    fn day_conversion_round_trips_over_centuries() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn hms_is_the_consumer_clock() {
        assert_eq!(Timestamp::parse("2024-01-15T04:05:06.7Z").unwrap().hms_utc(), "04:05:06");
    }
}
