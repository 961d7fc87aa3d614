//! Minimal UTC timestamp formatting from [`SystemTime`].
//!
//! Only two shapes are needed (RFC 3339 with milliseconds for the file,
//! `HH:MM:SS` for the console), which does not justify a date/time crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// Broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UtcTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
}

impl UtcTime {
    /// Converts a system time; instants before 1970 are clamped to the epoch
    /// (a clock that wrong cannot produce a meaningful log time anyway).
    pub fn from_system(t: SystemTime) -> Self {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        Self::from_unix_millis(since.as_secs(), since.subsec_millis())
    }

    fn from_unix_millis(secs: u64, millis: u32) -> Self {
        let days = secs / 86_400;
        let rem = secs % 86_400;
        // `days` fits i64 for any u64 seconds value divided by 86 400.
        let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX / 2));
        UtcTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: ((rem % 3600) / 60) as u32,
            second: (rem % 60) as u32,
            millis,
        }
    }

    /// `2026-11-22T03:04:05.678Z`.
    pub fn rfc3339_millis(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millis
        )
    }

    /// `03:04:05`.
    pub fn hms(&self) -> String {
        format!("{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }
}

/// Converts days since 1970-01-01 into a proleptic Gregorian (year, month,
/// day), working in 400-year eras that start on March 1st so leap days fall
/// at the end of each cycle.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days.saturating_add(719_468); // days since 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097); // 0..=146_096
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, millis: u32) -> String {
        UtcTime::from_unix_millis(secs, millis).rfc3339_millis()
    }

    #[test]
    fn known_instants() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_700_000_000, 123), "2023-11-14T22:13:20.123Z");
        assert_eq!(at(1_709_164_799, 999), "2024-02-28T23:59:59.999Z");
        assert_eq!(at(1_709_164_800, 0), "2024-02-29T00:00:00.000Z");
        assert_eq!(at(4_102_444_800, 0), "2100-01-01T00:00:00.000Z");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000Z");
    }

    #[test]
    fn before_epoch_and_far_future_do_not_panic() {
        let early = UNIX_EPOCH.checked_sub(Duration::from_secs(10));
        if let Some(early) = early {
            assert_eq!(
                UtcTime::from_system(early).rfc3339_millis(),
                "1970-01-01T00:00:00.000Z"
            );
        }
        let _ = UtcTime::from_unix_millis(u64::MAX, 999).rfc3339_millis();
    }

    #[test]
    fn hms_shape() {
        assert_eq!(UtcTime::from_unix_millis(3_723, 0).hms(), "01:02:03");
    }
}
