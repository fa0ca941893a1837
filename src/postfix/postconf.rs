//! `mailconf postconf`: what mailconf understood, printed exactly as
//! Postfix's own `postconf` prints it (`-n`, `-x`, `-h`, `-d`, `-M`, `-P`).
//! This is the surface of the differential tests against the real
//! postconf, and lets an administrator look at an old server's
//! configuration on a machine without Postfix.

use mailconf_parsers::postfix::master_cf::postconf_args;

use super::conf::PostfixConf;
use super::defaults;
use super::expand::{Expander, Origin, Owner, Scope, parse_level};
use super::known::{Known, known_names, postconf_overrides};
use crate::diag::{Diagnostic, Diagnostics, Fatal, Severity};

#[derive(Clone, Debug, Default)]
pub struct Request {
    /// `-n`: only explicit main.cf settings.
    pub n: bool,
    /// `-x`: expand `$name`.
    pub x: bool,
    /// `-h`: values only.
    pub h: bool,
    /// `-d`: built-in defaults.
    pub d: bool,
    /// `-M`: master.cf entries.
    pub master: bool,
    /// `-P`: master.cf `-o` parameters.
    pub params: bool,
    pub names: Vec<String>,
}

/// postconf's `pcf_print_line()`: whitespace runs become one space.
fn print_line(out: &mut String, text: &str) {
    let mut first = true;
    for w in text
        .split([' ', '\t', '\r', '\n'])
        .filter(|w| !w.is_empty())
    {
        if !first {
            out.push(' ');
        }
        out.push_str(w);
        first = false;
    }
    out.push('\n');
}

fn name_value(out: &mut String, h: bool, name: &str, value: &str) {
    if h {
        print_line(out, value);
    } else {
        print_line(out, &format!("{name} = {value}"));
    }
}

/// Runs the request. `Err(Fatal)` means a fatal problem, reported in `diags`
/// (postconf would print nothing and fail).
pub fn run(conf: &PostfixConf, req: &Request, diags: &mut Diagnostics) -> Result<String, Fatal> {
    let mut out = String::new();
    if req.d && !req.master && !req.params {
        // `postconf -d` does not read main.cf, only master.cf.
        let master_errors = diags.iter().any(|d| {
            d.severity == Severity::Error
                && d.primary
                    .as_ref()
                    .is_some_and(|l| Some(l.file) == conf.master_file)
        });
        if master_errors {
            return Err(Fatal);
        }
        show_defaults(conf, req, &mut out, diags)?;
        return Ok(out);
    }
    if diags.has_errors() {
        return Err(Fatal);
    }
    let known = known_names(conf, diags);
    check_compatibility_level(conf, diags)?;
    check_builtin_values(conf, diags)?;
    if req.master {
        show_master(conf, req, &mut out, diags)?;
    } else if req.params {
        show_master_params(conf, req, &mut out, diags)?;
    } else if req.n && req.names.is_empty() {
        show_explicit(conf, &known, req, &mut out, diags)?;
    } else {
        show_named(conf, &known, req, &mut out, diags)?;
    }
    Ok(out)
}

/// A `compatibility_level` that is not a level stops every command: the
/// built-in defaults compare against it.
fn check_compatibility_level(conf: &PostfixConf, diags: &mut Diagnostics) -> Result<(), Fatal> {
    let Some(a) = conf.setting("compatibility_level") else {
        return Ok(());
    };
    let scope = conf.main_scope();
    let v = expand_value(conf, &scope, "compatibility_level", diags)?;
    if parse_level(&v).is_none() {
        diags.push(conf.bad_compatibility_level(a, &v));
        return Err(Fatal);
    }
    Ok(())
}

/// postconf evaluates every built-in parameter set in main.cf (to find
/// database client files); an error on that path is fatal for every
/// command. Errors in values nobody evaluates are only warnings.
fn check_builtin_values(conf: &PostfixConf, diags: &mut Diagnostics) -> Result<(), Fatal> {
    let scope = conf.main_scope();
    for a in conf.settings() {
        if !(defaults::is_builtin(&a.name) || conf.service_params.contains_key(&a.name))
            || defaults::is_raw(&a.name)
        {
            continue;
        }
        let mut e = Expander::new(&scope);
        if let Err(err) = e.value(&a.name) {
            diags.push(conf.expand_diag(&err, "expansion_error"));
            return Err(Fatal);
        }
    }
    Ok(())
}

/// The expanded value of `name`; an expansion error is fatal.
fn expand_value(
    conf: &PostfixConf,
    scope: &dyn Scope,
    name: &str,
    diags: &mut Diagnostics,
) -> Result<String, Fatal> {
    let mut e = Expander::new(scope);
    let r = e.value(name);
    report_undefined(conf, &e, diags);
    match r {
        Ok(v) => Ok(v.unwrap_or_default()),
        Err(err) => {
            diags.push(conf.expand_diag(&err, "expansion_error"));
            Err(Fatal)
        }
    }
}

fn report_undefined(conf: &PostfixConf, e: &Expander, diags: &mut Diagnostics) {
    for (name, owner) in &e.undefined {
        let mut d = Diagnostic::warning(
            "undefined_parameter",
            format!("`${name}` refers to a parameter that has no value; it expands to nothing"),
        );
        if let Some((f, s)) = conf.locate(owner, None) {
            d = d.at(f, s, "");
        }
        diags.push(d);
    }
}

fn show_explicit(
    conf: &PostfixConf,
    known: &Known,
    req: &Request,
    out: &mut String,
    diags: &mut Diagnostics,
) -> Result<(), Fatal> {
    let mut names: Vec<&str> = conf
        .settings()
        .map(|a| a.name.as_str())
        .filter(|n| known.is_known(conf, n))
        .collect();
    if conf.explicit_dir.is_some() && !names.contains(&"config_directory") {
        names.push("config_directory");
    }
    names.sort_unstable();
    let scope = conf.main_scope();
    for name in names {
        let value = if req.x && !defaults::is_raw(name) {
            expand_value(conf, &scope, name, diags)?
        } else {
            scope
                .raw(name)
                .map(|r| r.text.into_owned())
                .unwrap_or_default()
        };
        name_value(out, req.h, name, &value);
    }
    Ok(())
}

fn show_named(
    conf: &PostfixConf,
    known: &Known,
    req: &Request,
    out: &mut String,
    diags: &mut Diagnostics,
) -> Result<(), Fatal> {
    let scope = conf.main_scope();
    let names: Vec<String> = if req.names.is_empty() {
        let mut all: Vec<String> = defaults::builtin_names()
            .chain([
                "myhostname",
                "mydomain",
                "mynetworks",
                "process_id",
                "process_name",
            ])
            .map(str::to_string)
            .chain(conf.service_params.keys().cloned())
            .chain(known.user.iter().cloned())
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    } else {
        req.names.clone()
    };
    for name in &names {
        let set_here = conf.setting(name).is_some()
            || (name == "config_directory" && conf.explicit_dir.is_some());
        if !known.is_known(conf, name) || (req.n && !set_here) {
            if !req.n {
                diags.push(Diagnostic::warning(
                    "unknown_parameter",
                    format!("`{name}` is not a Postfix parameter"),
                ));
            }
            continue;
        }
        let value = if req.x && !defaults::is_raw(name) {
            expand_value(conf, &scope, name, diags)?
        } else {
            match scope.raw(name) {
                Some(r) if matches!(r.origin, Origin::Computed(_)) => {
                    expand_value(conf, &scope, name, diags)?
                }
                Some(r) => r.text.into_owned(),
                None => String::new(),
            }
        };
        name_value(out, req.h, name, &value);
    }
    Ok(())
}

fn show_defaults(
    conf: &PostfixConf,
    req: &Request,
    out: &mut String,
    diags: &mut Diagnostics,
) -> Result<(), Fatal> {
    let scope = conf.defaults_scope();
    let names: Vec<String> = if req.names.is_empty() {
        let mut all: Vec<String> = defaults::builtin_names()
            .chain([
                "myhostname",
                "mydomain",
                "mynetworks",
                "process_id",
                "process_name",
            ])
            .map(str::to_string)
            .chain(conf.service_params.keys().cloned())
            .collect();
        all.sort_unstable();
        all
    } else {
        req.names.clone()
    };
    for name in &names {
        let Some(raw) = scope.raw(name) else {
            diags.push(Diagnostic::warning(
                "unknown_parameter",
                format!("`{name}` is not a Postfix parameter"),
            ));
            continue;
        };
        let value =
            if (req.x && !defaults::is_raw(name)) || matches!(raw.origin, Origin::Computed(_)) {
                expand_value(conf, &scope, name, diags)?
            } else {
                raw.text.into_owned()
            };
        name_value(out, req.h, name, &value);
    }
    Ok(())
}

/// `service[/type[/param]]` selectors of `-M` and `-P`; `*` matches all.
fn selected(pattern: &str, service: &str, kind: &str) -> (bool, Option<String>) {
    let mut parts = pattern.splitn(3, '/');
    let s = parts.next().unwrap_or("");
    let t = parts.next();
    let p = parts.next().map(str::to_string);
    let ok = (s == "*" || s == service) && t.is_none_or(|t| t == "*" || t == kind);
    (ok, p)
}

/// Column goals of the eight fields in `postconf -M` output.
const COLUMNS: [usize; 8] = [0, 11, 17, 25, 33, 41, 49, 57];

fn show_master(
    conf: &PostfixConf,
    req: &Request,
    out: &mut String,
    diags: &mut Diagnostics,
) -> Result<(), Fatal> {
    let views = postconf_overrides(conf);
    let mut matched = vec![false; req.names.len()];
    for (i, s) in conf.services.iter().enumerate() {
        let hits = if req.names.is_empty() {
            1
        } else {
            let mut n = 0;
            for (j, pat) in req.names.iter().enumerate() {
                if selected(pat, s.name(), &s.entry.type_word().text).0 {
                    matched[j] = true;
                    n += 1;
                }
            }
            n
        };
        for _ in 0..hits {
            master_line(conf, i, &views[i], req.x, out, diags)?;
        }
    }
    for (pat, m) in req.names.iter().zip(matched) {
        if !m {
            diags.push(Diagnostic::warning(
                "unmatched_request",
                format!("no master.cf service matches `{pat}`"),
            ));
        }
    }
    Ok(())
}

fn master_line(
    conf: &PostfixConf,
    i: usize,
    view: &[(String, String)],
    x: bool,
    out: &mut String,
    diags: &mut Diagnostics,
) -> Result<(), Fatal> {
    let s = &conf.services[i];
    let mut line = String::new();
    for (f, col) in COLUMNS.iter().enumerate() {
        if !line.is_empty() {
            line.push(' ');
            while line.len() < *col {
                line.push(' ');
            }
        }
        line.push_str(&s.entry.words[f].text);
    }
    let (argv, _) = postconf_args(&s.entry);
    let scope = conf.service_scope_with(i, view);
    let blank = |t: &str| t.contains([' ', '\t', '\r', '\n']);
    let mut in_options = true;
    let mut k = 0;
    while k < argv.len() {
        let arg = &argv[k];
        line.push(' ');
        if in_options && (!arg.starts_with('-') || arg == "--") {
            in_options = false;
        }
        if in_options && arg.as_bytes().get(1) == Some(&b'o') && k + 1 < argv.len() {
            let mut val = argv[k + 1].clone();
            if x && arg == "-o" {
                val = expand_override(conf, &scope, &val, i, diags)?;
            }
            line.push_str(arg);
            line.push(' ');
            if blank(&val) {
                line.push('{');
                line.push_str(&val);
                line.push('}');
            } else {
                line.push_str(&val);
            }
            k += 2;
            continue;
        }
        if !in_options && blank(arg) {
            line.push('{');
            line.push_str(arg);
            line.push('}');
        } else {
            line.push_str(arg);
        }
        k += 1;
    }
    out.push_str(&line);
    out.push('\n');
    Ok(())
}

/// Expands the value part of a `name=value` option in its service scope.
fn expand_override(
    conf: &PostfixConf,
    scope: &dyn Scope,
    text: &str,
    service: usize,
    diags: &mut Diagnostics,
) -> Result<String, Fatal> {
    let mut e = Expander::new(scope);
    let owner = Owner {
        name: conf.services[service].name().to_string(),
        origin: Origin::Default,
    };
    let r = e.expand(text, &owner);
    report_undefined(conf, &e, diags);
    r.map_err(|err| {
        diags.push(conf.expand_diag(&err, "expansion_error"));
        Fatal
    })
}

fn show_master_params(
    conf: &PostfixConf,
    req: &Request,
    out: &mut String,
    diags: &mut Diagnostics,
) -> Result<(), Fatal> {
    let all = postconf_overrides(conf);
    for (i, s) in conf.services.iter().enumerate() {
        let mut params = all[i].clone();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let kind = &s.entry.type_word().text;
        let scope = conf.service_scope_with(i, &all[i]);
        for (name, value) in &params {
            if !req.names.is_empty()
                && !req.names.iter().any(|p| {
                    let (ok, param) = selected(p, s.name(), kind);
                    ok && param.as_deref().is_none_or(|q| q == "*" || q == name)
                })
            {
                continue;
            }
            let v = if req.x && !defaults::is_raw(name) {
                expand_value(conf, &scope, name, diags)?
            } else {
                value.clone()
            };
            let full = format!("{}/{}/{}", s.name(), kind, name);
            name_value(out, req.h, &full, &v);
        }
    }
    Ok(())
}
