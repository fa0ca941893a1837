//! How doveconf shows time and size values: `60s` is `1 mins`, `1024` is
//! `1 k` (the largest unit that divides the value exactly).

/// A time interval in seconds, from Dovecot's syntax (`5 s`, `1min`,
/// `2 hours`, `1d`, `3 weeks`). `None` when it is not one.
pub fn parse_time(v: &str) -> Option<u64> {
    let v = v.trim();
    if v == "0" {
        return Some(0);
    }
    let split = v.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = v[..split].parse().ok()?;
    let unit = v[split..].trim();
    let mult = match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return None,
    };
    n.checked_mul(mult)
}

pub fn show_time(secs: u64) -> String {
    if secs == 0 {
        return "0".to_string();
    }
    for (unit, size) in [
        ("weeks", 604_800),
        ("days", 86_400),
        ("hours", 3600),
        ("mins", 60),
    ] {
        if secs.is_multiple_of(size) {
            return format!("{} {unit}", secs / size);
        }
    }
    format!("{secs} secs")
}

/// A size in bytes (`100`, `1k`, `256 M`, `1G`).
pub fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let n: u64 = v[..split].parse().ok()?;
    let mult: u64 = match v[split..].trim() {
        "" | "B" | "b" => 1,
        "k" | "K" | "kB" | "KB" => 1 << 10,
        "M" | "MB" => 1 << 20,
        "G" | "GB" => 1 << 30,
        "T" | "TB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

pub fn show_size(bytes: u64) -> String {
    if bytes == 0 {
        return "0".to_string();
    }
    for (unit, shift) in [("T", 40), ("G", 30), ("M", 20), ("k", 10)] {
        if bytes.is_multiple_of(1u64 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} B")
}

/// The canonical spelling of `value` for a setting whose default is
/// `default`: times and sizes are re-spelled, anything else is kept.
pub fn canonical(value: &str, default: &str) -> Option<String> {
    let is_time = ["secs", "mins", "hours", "days", "weeks"]
        .iter()
        .any(|u| default.ends_with(&format!(" {u}")));
    let is_size = ["B", "k", "M", "G", "T"]
        .iter()
        .any(|u| default.ends_with(&format!(" {u}")));
    let has_unit = !value
        .trim()
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim()
        .is_empty();
    if is_time {
        parse_time(value).map(show_time)
    } else if is_size {
        parse_size(value).map(show_size)
    } else if default == "0" && has_unit {
        // A zero default says nothing about the type; the unit does.
        parse_time(value)
            .map(show_time)
            .or_else(|| parse_size(value).map(show_size))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_doveconf_shows_them() {
        for (v, shown) in [
            ("0", "0"),
            ("5 s", "5 secs"),
            ("60s", "1 mins"),
            ("7200 secs", "2 hours"),
            ("1d", "1 days"),
            ("2 weeks", "2 weeks"),
            ("120 mins", "2 hours"),
        ] {
            assert_eq!(canonical(v, "2 secs").as_deref(), Some(shown), "{v}");
        }
        for (v, shown) in [
            ("0", "0"),
            ("100", "100 B"),
            ("1k", "1 k"),
            ("1024", "1 k"),
            ("256M", "256 M"),
            ("1048576", "1 M"),
        ] {
            assert_eq!(canonical(v, "256 M").as_deref(), Some(shown), "{v}");
        }
        assert_eq!(canonical("90", "2 secs"), None);
    }
}
