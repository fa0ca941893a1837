//! Built-in parameter defaults (rule M1.4: the documented Postfix 3.x
//! values, never those of the machine mailconf runs on).
//!
//! Most defaults are plain expressions, taken from `postconf -d` of Postfix
//! 3.7.11 (`defaults.txt`). A few are computed by Postfix at run time from
//! the machine (`myhostname`, `mydomain`, `mynetworks`); mailconf computes
//! them from the server's host name instead (see [`Computed`]).

use std::collections::HashMap;
use std::sync::OnceLock;

/// Parameters whose values Postfix never expands at start-up (their `$`
/// references are filled per message); `postconf -x` prints them as written.
pub const RAW: &[&str] = &[
    "command_execution_directory",
    "default_rbl_reply",
    "forward_path",
    "luser_relay",
    "mailbox_command",
    "postscreen_expansion_filter",
    "postscreen_reject_footer",
    "smtpd_expansion_filter",
    "smtpd_reject_footer",
];

/// Obsolete names that Postfix 3.7 still accepts (their default is empty
/// and some built-in defaults refer to them, e.g. `virtual_alias_maps =
/// $virtual_maps`). Found with `postconf -d NAME` for every name in
/// postconf(5) that `postconf -d` does not list.
pub const LEGACY: &[&str] = &[
    "authorized_verp_clients",
    "fallback_relay",
    "lmtp_per_record_deadline",
    "postscreen_blacklist_action",
    "postscreen_dnsbl_ttl",
    "postscreen_dnsbl_whitelist_threshold",
    "postscreen_whitelist_interfaces",
    "smtp_per_record_deadline",
    "smtpd_per_record_deadline",
    "tlsproxy_client_level",
    "tlsproxy_client_policy",
    "virtual_maps",
];

/// Assignments to these are ignored with a warning.
pub const READ_ONLY: &[&str] = &["process_id", "process_name"];

/// Defaults that depend on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Computed {
    /// The host name, plus `.$mydomain` (or `.localdomain`) if it has no dot.
    MyHostname,
    /// `myhostname` after its first dot, or `localdomain`.
    MyDomain,
    /// The networks of the machine's interfaces; unknowable for another
    /// server, so mailconf uses the loopback networks.
    MyNetworks,
    ProcessName,
    ProcessId,
}

pub fn computed(name: &str) -> Option<Computed> {
    Some(match name {
        "myhostname" => Computed::MyHostname,
        "mydomain" => Computed::MyDomain,
        "mynetworks" => Computed::MyNetworks,
        "process_name" => Computed::ProcessName,
        "process_id" => Computed::ProcessId,
        _ => return None,
    })
}

fn table() -> &'static HashMap<&'static str, &'static str> {
    static TABLE: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    TABLE.get_or_init(|| {
        include_str!("defaults.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let (name, value) = l.split_once(" =")?;
                Some((name, value.strip_prefix(' ').unwrap_or(value)))
            })
            .collect()
    })
}

/// Names of the built-in parameters with a default expression (not the
/// legacy ones, which `postconf -d` does not list).
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    table().keys().copied()
}

/// The default expression of a built-in or legacy parameter (not the
/// computed ones).
pub fn builtin(name: &str) -> Option<&'static str> {
    table()
        .get(name)
        .copied()
        .or_else(|| LEGACY.contains(&name).then_some(""))
}

/// Every built-in parameter name, including the computed ones.
pub fn is_builtin(name: &str) -> bool {
    builtin(name).is_some() || computed(name).is_some()
}

pub fn is_raw(name: &str) -> bool {
    RAW.contains(&name)
}

const DELIVERY: &[(&str, &str)] = &[
    ("_delivery_slot_cost", "$default_delivery_slot_cost"),
    ("_delivery_slot_discount", "$default_delivery_slot_discount"),
    ("_delivery_slot_loan", "$default_delivery_slot_loan"),
    (
        "_destination_concurrency_failed_cohort_limit",
        "$default_destination_concurrency_failed_cohort_limit",
    ),
    (
        "_destination_concurrency_limit",
        "$default_destination_concurrency_limit",
    ),
    (
        "_destination_concurrency_negative_feedback",
        "$default_destination_concurrency_negative_feedback",
    ),
    (
        "_destination_concurrency_positive_feedback",
        "$default_destination_concurrency_positive_feedback",
    ),
    ("_destination_rate_delay", "$default_destination_rate_delay"),
    (
        "_destination_recipient_limit",
        "$default_destination_recipient_limit",
    ),
    ("_extra_recipient_limit", "$default_extra_recipient_limit"),
    (
        "_initial_destination_concurrency",
        "$initial_destination_concurrency",
    ),
    ("_minimum_delivery_slots", "$default_minimum_delivery_slots"),
    ("_recipient_limit", "$default_recipient_limit"),
    ("_recipient_refill_delay", "$default_recipient_refill_delay"),
    ("_recipient_refill_limit", "$default_recipient_refill_limit"),
    ("_transport_rate_delay", "$default_transport_rate_delay"),
];

const TIME_LIMIT: (&str, &str) = ("_time_limit", "$command_time_limit");

/// Per-service parameters that a master.cf service creates, from the
/// program it runs: `dovecot unix ... pipe` makes
/// `dovecot_destination_recipient_limit` a valid name whose default is
/// `$default_destination_recipient_limit`. Returns (name, default).
pub fn service_params(service: &str, command: &str) -> Vec<(String, &'static str)> {
    let mut suffixes: Vec<(&str, &str)> = Vec::new();
    match command {
        "local" | "error" | "virtual" | "smtp" | "lmtp" => suffixes.extend(DELIVERY),
        "pipe" => {
            suffixes.extend(DELIVERY);
            suffixes.push(TIME_LIMIT);
        }
        "spawn" => suffixes.push(TIME_LIMIT),
        _ => {}
    }
    suffixes
        .into_iter()
        .map(|(s, d)| (format!("{service}{s}"), d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_read() {
        assert_eq!(builtin("myorigin"), Some("$myhostname"));
        assert_eq!(builtin("relay_domains_reject_code"), Some("554"));
        assert_eq!(
            builtin("relay_domains"),
            Some("${{$compatibility_level} <level {2} ? {$mydestination} : {}}")
        );
        assert_eq!(builtin("virtual_mailbox_maps"), Some(""));
        assert!(builtin("myhostname").is_none() && is_builtin("myhostname"));
        assert_eq!(builtin("virtual_maps"), Some(""));
        assert!(!is_builtin("no_such_parameter"));
    }

    #[test]
    fn pipe_services_get_time_limits() {
        let p = service_params("dovecot", "pipe");
        assert!(p.contains(&("dovecot_time_limit".to_string(), "$command_time_limit")));
        assert!(service_params("submission", "smtpd").is_empty());
    }
}
