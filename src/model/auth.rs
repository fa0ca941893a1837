//! Authentication (rule M5): the SASL mechanisms each service offers, and
//! the one `authentication` value a client should use.

use mailconf_parsers::postfix::list::{Item, parse_list};

use super::{AuthValue, Fact, Source, UsernameForm, username};
use crate::diag::Diagnostics;
use crate::dovecot::DovecotConf;
use crate::dovecot::tree::{Loc, split_list};
use crate::source::{Root, SourceMap};

/// What Dovecot's authentication says, read once.
pub struct DovecotAuth {
    pub username: Fact<UsernameForm>,
}

impl DovecotAuth {
    pub fn read(
        d: &DovecotConf,
        root: &Root,
        sources: &mut SourceMap,
        diags: &mut Diagnostics,
    ) -> DovecotAuth {
        DovecotAuth {
            username: username::dovecot_form(d, root, sources, diags),
        }
    }

    /// `auth_mechanisms` as a process of `protocol` sees it, lower-cased.
    pub fn mechanisms(d: &DovecotConf, protocol: &str) -> Fact<Vec<String>> {
        let v = d.for_protocol(protocol, "auth_mechanisms");
        Fact::new(
            split_list(&v.text)
                .into_iter()
                .map(|m| m.to_ascii_lowercase())
                .collect(),
            loc_source(v.loc, "Dovecot's auth_mechanisms = plain"),
        )
    }
}

pub fn loc_source(loc: Option<Loc>, default: &str) -> Source {
    match loc {
        Some(l) => Source::at(l.file, l.span),
        None => Source::Default(default.to_string()),
    }
}

/// Mechanisms a client can use with a password (rule M5.2, M5.3):
/// PLAIN or LOGIN → `password-cleartext`; otherwise CRAM-MD5 on this
/// service and on the other side's (`cram_elsewhere`) →
/// `password-encrypted`; DIGEST-MD5 and SCRAM never map to anything.
pub fn password_value(mechs: &[String], cram_elsewhere: bool) -> Option<AuthValue> {
    if mechs.iter().any(|m| m == "plain" || m == "login") {
        Some(AuthValue::PasswordCleartext)
    } else if mechs.iter().any(|m| m == "cram-md5") && cram_elsewhere {
        Some(AuthValue::PasswordEncrypted)
    } else {
        None
    }
}

/// Dovecot's security properties of each mechanism, as Postfix's
/// `smtpd_sasl_*security_options` test them.
fn mech_flags(m: &str) -> (bool, bool, bool) {
    // (plaintext, dictionary, anonymous)
    match m {
        "plain" | "login" => (true, true, false),
        "cram-md5" | "digest-md5" | "ntlm" | "apop" => (false, true, false),
        "anonymous" => (false, false, true),
        _ => (false, false, false),
    }
}

/// Applies `smtpd_sasl_tls_security_options` (`noplaintext`,
/// `nodictionary`, `noanonymous`) to a mechanism list.
pub fn apply_security_options(mechs: Vec<String>, options: &str) -> Vec<String> {
    let opts: Vec<String> = options
        .split([',', ' ', '\t'])
        .filter(|o| !o.is_empty())
        .map(|o| o.to_ascii_lowercase())
        .collect();
    mechs
        .into_iter()
        .filter(|m| {
            let (plain, dict, anon) = mech_flags(m);
            let refused = |flag: bool, option: &str| flag && opts.iter().any(|o| o == option);
            !(refused(plain, "noplaintext")
                || refused(dict, "nodictionary")
                || refused(anon, "noanonymous"))
        })
        .collect()
}

/// Applies `smtpd_sasl_mechanism_filter`, a match list over mechanism
/// names: first match wins, `!name` removes, a `static:` table matches
/// everything; other tables cannot be read offline and are taken to match.
pub fn apply_mechanism_filter(mechs: Vec<String>, filter: &str) -> Vec<String> {
    let (entries, _) = parse_list(filter);
    if entries.is_empty() {
        return mechs;
    }
    mechs
        .into_iter()
        .filter(|m| {
            for e in &entries {
                let hit = match &e.item {
                    Item::Pattern(p) => p.eq_ignore_ascii_case(m),
                    Item::Table(_) => true,
                    Item::File(_) => false,
                };
                if hit {
                    return !e.negated;
                }
            }
            false
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn m5_2_values() {
        assert_eq!(
            password_value(&v(&["plain"]), false),
            Some(AuthValue::PasswordCleartext)
        );
        assert_eq!(
            password_value(&v(&["cram-md5"]), true),
            Some(AuthValue::PasswordEncrypted)
        );
        assert_eq!(password_value(&v(&["cram-md5"]), false), None);
        assert_eq!(
            password_value(&v(&["scram-sha-256", "digest-md5"]), true),
            None
        );
    }

    #[test]
    fn postfix_filters() {
        let m = v(&["plain", "login", "cram-md5", "external"]);
        assert_eq!(
            apply_mechanism_filter(m.clone(), "!external, static:rest"),
            v(&["plain", "login", "cram-md5"])
        );
        assert_eq!(apply_mechanism_filter(m.clone(), "plain"), v(&["plain"]));
        assert_eq!(
            apply_security_options(m.clone(), "noanonymous, noplaintext"),
            v(&["cram-md5", "external"])
        );
        assert_eq!(
            apply_security_options(m, "noanonymous"),
            v(&["plain", "login", "cram-md5", "external"])
        );
    }
}
