//! Hosted domains (rule M2): `mydestination` and `virtual_mailbox_domains`
//! after expansion, with their `/file` entries and tables listed, less
//! what Postfix itself would not treat as a mailbox domain.
//!
//! Postfix tests the address classes in the order local
//! (`mydestination`), virtual alias, virtual mailbox, relay
//! (`trivial-rewrite`'s `resolve.c`). So a domain in `mydestination` is
//! local whatever else lists it, a domain in both `virtual_alias_domains`
//! and `virtual_mailbox_domains` is an alias domain, and `relay_domains`
//! can never take a domain away from the two hosted classes (at
//! compatibility level < 2 it even defaults to `$mydestination`). This
//! reads M2.2's "never hosted: relay_domains" as "listed only in
//! relay_domains", which is what Postfix does.

use std::collections::{HashMap, HashSet};

use mailconf_parsers::Span;
use mailconf_parsers::postfix::list::{Item, parse_list};
use mailconf_parsers::postfix::main_cf::Assignment;
use mailconf_parsers::postfix::table_ref::parse_table_ref;

use super::{Excluded, Source};
use crate::db::Access;
use crate::diag::{Diagnostic, Diagnostics};
use crate::dovecot::user_db::{UserDomains, user_domains};
use crate::model::Inputs;
use crate::options::Options;
use crate::postfix::PostfixConf;
use crate::postfix::client_file::Kind;
use crate::postfix::db_table::{self, DbTable};
use crate::postfix::expand::Expander;
use crate::postfix::tables::{Key, Listing, list_table};
use crate::source::{FileId, Root, SourceMap, read_text};

/// Lower-cases `name`, converts it to A-labels and checks that it is a DNS
/// name a mail domain can have (rule M2.2, M2.5).
pub fn normalize_domain(name: &str) -> Result<String, String> {
    // A trailing dot (the DNS root) is dropped, one only.
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.len() > 253 && name.is_ascii() {
        return Err("longer than 253 characters".into());
    }
    if let Some(c) = name.chars().find(|c| {
        c.is_control()
            || c.is_whitespace()
            || matches!(
                c,
                '/' | '\\'
                    | '@'
                    | '<'
                    | '>'
                    | '&'
                    | '"'
                    | '\''
                    | '%'
                    | '*'
                    | '['
                    | ']'
                    | ':'
                    | ';'
                    | ','
                    | '{'
                    | '}'
            )
    }) {
        return Err(format!("contains {c:?}"));
    }
    if name.split('.').any(str::is_empty) {
        return Err("empty label (`..` or a leading dot)".into());
    }
    if let Some(label) = name.split('.').find(|l| mixed_scripts(l)) {
        return Err(format!(
            "label `{label}` mixes Latin, Cyrillic or Greek letters (a look-alike of another name)"
        ));
    }
    let ascii = idna::domain_to_ascii_strict(name)
        .map_err(|_| "not a valid internationalised domain name".to_string())?;
    let ascii = ascii.trim_end_matches('.').to_ascii_lowercase();
    if ascii.len() > 253 {
        return Err("longer than 253 characters".into());
    }
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err("empty label (`..` or a leading dot)".into());
        }
        if label.len() > 63 {
            return Err(format!("label `{label}` is longer than 63 characters"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label `{label}` starts or ends with `-`"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(format!(
                "label `{label}` has characters other than letters, digits and `-`"
            ));
        }
    }
    Ok(ascii)
}

/// Does a label mix letters of scripts that look alike (Latin, Cyrillic,
/// Greek)? `раураl` (Cyrillic with a Latin `l`) imitates `paypal`.
fn mixed_scripts(label: &str) -> bool {
    let (mut latin, mut cyrillic, mut greek) = (false, false, false);
    for c in label.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '\u{00C0}'..='\u{024F}' => latin = true,
            '\u{0400}'..='\u{052F}' => cyrillic = true,
            '\u{0370}'..='\u{03FF}' => greek = true,
            _ => {}
        }
    }
    [latin, cyrillic, greek].iter().filter(|x| **x).count() > 1
}

/// A host name (rule M7.4): the same rules, plus at least two labels.
pub fn normalize_hostname(name: &str) -> Result<String, String> {
    let h = normalize_domain(name)?;
    if !h.contains('.') {
        return Err("a host name for clients needs a domain part".into());
    }
    Ok(h)
}

enum ItemKind {
    Names(Vec<(String, Source)>),
    /// A database table, asked about each name (alias and relay lists
    /// only need membership, and asking is exact and cheap).
    Lookup(String),
    /// Matches every name (`static:`).
    Everything,
    /// Could not be listed: the table or file.
    Unknown(String),
}

struct ListItem {
    negated: bool,
    kind: ItemKind,
}

/// A Postfix string list (mydestination, virtual_*_domains) read into
/// names: `/file` lists followed, tables listed.
struct DomainList {
    items: Vec<ListItem>,
    /// Each name, with the position of the first item that names it.
    first_named: HashMap<String, usize>,
    /// Positions of the items that are not plain names (`static:`,
    /// database look-ups), which are asked in list order.
    special: Vec<usize>,
}

impl DomainList {
    fn new(items: Vec<ListItem>) -> DomainList {
        let mut first_named = HashMap::new();
        let mut special = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match &item.kind {
                ItemKind::Names(names) => {
                    for (n, _) in names {
                        first_named.entry(n.clone()).or_insert(i);
                    }
                }
                ItemKind::Lookup(_) | ItemKind::Everything => special.push(i),
                ItemKind::Unknown(_) => {}
            }
        }
        DomainList {
            items,
            first_named,
            special,
        }
    }

    /// The tables and files of positive entries whose names could not be
    /// read.
    fn unread(&self) -> Vec<String> {
        self.items
            .iter()
            .filter(|i| !i.negated)
            .filter_map(|i| match &i.kind {
                ItemKind::Unknown(what) => Some(what.clone()),
                _ => None,
            })
            .collect()
    }

    fn positive_names(&self) -> impl Iterator<Item = &(String, Source)> {
        self.items
            .iter()
            .filter(|i| !i.negated)
            .filter_map(|i| match &i.kind {
                ItemKind::Names(n) => Some(n.iter()),
                _ => None,
            })
            .flatten()
    }
}

struct Reader<'a> {
    root: &'a Root,
    sources: &'a mut SourceMap,
    diags: &'a mut Diagnostics,
    access: &'a Access,
    /// Warn about tables that cannot be listed.
    warn: bool,
    /// Keys that database tables accept only as alias domains.
    aliases: Vec<String>,
    /// Name lists whose database tables are asked rather than listed.
    membership: bool,
    /// Database tables opened for [`ItemKind::Lookup`]; `None` once one
    /// failed (reported once).
    tables: HashMap<String, Option<DbTable>>,
}

impl Reader<'_> {
    /// First match wins; `None` when no entry says yes or no.
    fn member(&mut self, list: &DomainList, name: &str) -> Option<bool> {
        let named = list.first_named.get(name).copied();
        for &i in &list.special {
            if named.is_some_and(|n| n < i) {
                break;
            }
            let item = &list.items[i];
            let hit = match &item.kind {
                ItemKind::Lookup(spec) => self.lookup(spec, name),
                _ => true,
            };
            if hit {
                return Some(!item.negated);
            }
        }
        named.map(|n| !list.items[n].negated)
    }

    /// `relay_domains` is a domain list: by default (it is in
    /// `parent_domain_matches_subdomains`) `example.com` also matches every
    /// subdomain.
    fn member_parent_style(&mut self, list: &DomainList, name: &str) -> bool {
        let mut n = name;
        loop {
            if self.member(list, n) == Some(true) {
                return true;
            }
            match n.split_once('.') {
                Some((_, parent)) if parent.contains('.') => n = parent,
                _ => return false,
            }
        }
    }

    /// Postfix's lookup of `name` in the database table `spec`.
    fn lookup(&mut self, spec: &str, name: &str) -> bool {
        if !self.tables.contains_key(spec) {
            let table = parse_table_ref(spec)
                .and_then(|t| t.unproxied())
                .and_then(|t| Some((Kind::parse(t.kind)?, t.name)))
                .and_then(|(kind, path)| {
                    db_table::open(
                        kind,
                        spec,
                        path,
                        self.root,
                        self.sources,
                        self.diags,
                        self.access,
                    )
                    .ok()
                });
            self.tables.insert(spec.to_string(), table);
        }
        let Some(slot) = self.tables.get_mut(spec) else {
            return false;
        };
        let Some(table) = slot else { return false };
        match table.accepts(name) {
            Ok(yes) => yes,
            Err(e) => {
                table.report(&e, self.diags);
                *slot = None;
                false
            }
        }
    }

    fn list(
        &mut self,
        param: &str,
        value: &str,
        place: Place<'_>,
        negated: bool,
        depth: usize,
    ) -> Vec<ListItem> {
        let (entries, problems) = parse_list(value);
        // A problem of an expanded value that the text as written has too
        // is pointed at there.
        let written = match &place {
            Place::Expanded { assignment, .. } if !problems.is_empty() => {
                parse_list(&assignment.value).1
            }
            _ => Vec::new(),
        };
        for p in problems {
            let mut d = Diagnostic::new(p.severity, p.id, format!("{param}: {}", p.message));
            let at = match (&place, written.iter().find(|w| w.id == p.id)) {
                (Place::Expanded { file, assignment }, Some(w)) => {
                    Source::at(*file, assignment.value_file_span(w.span))
                }
                _ => place.source(p.span),
            };
            if let Source::File { file, span } = at {
                d = d.at(file, span, "");
            }
            self.diags.push(d);
        }
        let mut out = Vec::new();
        for e in entries {
            let neg = negated ^ e.negated;
            let source = &place.source(e.span);
            match e.item {
                Item::Pattern(p) => out.push(ListItem {
                    negated: neg,
                    kind: ItemKind::Names(vec![(p, source.clone())]),
                }),
                Item::File(path) => out.extend(self.file(param, &path, source, neg, depth)),
                Item::Table(spec) if self.membership && is_database(&spec) => {
                    out.push(ListItem {
                        negated: neg,
                        kind: ItemKind::Lookup(spec),
                    });
                }
                Item::Table(spec) => {
                    let listing =
                        list_table(&spec, self.root, self.sources, self.diags, self.access);
                    let names = |keys: Vec<Key>| {
                        keys.into_iter()
                            .filter(|k| !k.key.contains('@'))
                            .map(|k| {
                                let s = k.at.map_or(source.clone(), |(f, sp)| Source::at(f, sp));
                                (k.key, s)
                            })
                            .collect::<Vec<_>>()
                    };
                    let kind = match listing {
                        Listing::Keys(keys) => ItemKind::Names(names(keys)),
                        Listing::Queried {
                            keys,
                            aliases,
                            complete,
                        } => {
                            self.aliases.extend(aliases.iter().map(|k| k.key.clone()));
                            let mut all = names(keys);
                            all.extend(names(aliases));
                            if !complete {
                                // Listed, but maybe not whole: keep the names,
                                // and count the table as not read for --prune.
                                out.push(ListItem {
                                    negated: neg,
                                    kind: ItemKind::Unknown(spec.clone()),
                                });
                            }
                            ItemKind::Names(all)
                        }
                        Listing::Failed => ItemKind::Unknown(spec.clone()),
                        Listing::Invalid(id, why) => {
                            // Postfix refuses the table, so the service that
                            // uses it does not work: an error, not a guess.
                            let mut d = Diagnostic::error(
                                id,
                                format!("{param}: {why}; Postfix refuses this table"),
                            );
                            if let Source::File { file, span } = source {
                                d = d.at(*file, *span, "");
                            }
                            self.diags.push(d);
                            ItemKind::Unknown(spec.clone())
                        }
                        Listing::Everything => {
                            self.not_enumerable(param, &spec, "it matches every domain", source);
                            ItemKind::Everything
                        }
                        Listing::Unknown(why) => {
                            self.not_enumerable(param, &spec, &why, source);
                            ItemKind::Unknown(spec.clone())
                        }
                    };
                    out.push(ListItem { negated: neg, kind });
                }
            }
        }
        out
    }

    fn not_enumerable(&mut self, param: &str, spec: &str, why: &str, source: &Source) {
        if !self.warn {
            return;
        }
        let mut d = Diagnostic::warning(
            "domains_not_enumerable",
            format!("{param}: the domains in `{spec}` cannot be listed: {why}"),
        )
        .help("name the domains with --domain (repeatable) or `domains = [...]` in mailconf.toml");
        if let Source::File { file, span } = source {
            d = d.at(*file, *span, "");
        }
        self.diags.push(d);
    }

    /// `/file/name` in a list: each line not starting with `#` is a list.
    fn file(
        &mut self,
        param: &str,
        path: &str,
        source: &Source,
        negated: bool,
        depth: usize,
    ) -> Vec<ListItem> {
        let text = if depth > 20 {
            Err("too many nested /file lists".to_string())
        } else {
            self.root
                .resolve(path)
                .map_err(|e| e.to_string())
                .and_then(|p| read_text(&p).map(|t| (p, t.0)).map_err(|e| e.to_string()))
        };
        let (real, text) = match text {
            Ok(t) => t,
            Err(e) => {
                // Postfix turns every lookup that reaches a missing file
                // into an error, not a miss (E74).
                let mut d = Diagnostic::warning(
                    "list_file_unreadable",
                    format!(
                        "{param}: cannot read the list file {path}: {e}; Postfix fails every lookup that reaches it"
                    ),
                );
                if let Source::File { file, span } = source {
                    d = d.at(*file, *span, "");
                }
                self.diags.push(d);
                return vec![ListItem {
                    negated,
                    kind: ItemKind::Unknown(path.to_string()),
                }];
            }
        };
        let id = self.sources.add(real, text);
        let text = self.sources.get(id).text.clone();
        let mut out = Vec::new();
        let mut pos = 0;
        for line in text.split_inclusive('\n') {
            let start = pos;
            pos += line.len();
            let body = line.trim_end_matches(['\n', '\r']);
            if body.starts_with('#') || body.trim().is_empty() {
                continue;
            }
            let place = Place::Line { file: id, start };
            out.extend(self.list(param, body, place, negated, depth + 1));
        }
        out
    }
}

/// Where the text of a list sits, so that a diagnostic points at the entry
/// it is about.
#[derive(Clone)]
enum Place<'a> {
    /// The value of a main.cf assignment, as written.
    Value {
        file: FileId,
        assignment: &'a Assignment,
    },
    /// The value of a main.cf assignment after `$name` expansion: entries
    /// cannot be pointed at, only the assignment.
    Expanded {
        file: FileId,
        assignment: &'a Assignment,
    },
    /// A line of a `/file/name` list, starting at byte `start`.
    Line { file: FileId, start: usize },
    /// A built-in default.
    Whole(Source),
}

impl Place<'_> {
    /// The source of the text at `span` (relative to the list's text).
    fn source(&self, span: Span) -> Source {
        match self {
            Place::Value { file, assignment } => {
                Source::at(*file, assignment.value_file_span(span))
            }
            Place::Expanded { file, assignment } => Source::at(*file, assignment.span),
            Place::Line { file, start } => Source::at(*file, span.shift(*start)),
            Place::Whole(s) => s.clone(),
        }
    }
}

/// Is `spec` a table kept in a database server?
fn is_database(spec: &str) -> bool {
    parse_table_ref(spec)
        .and_then(|t| t.unproxied())
        .is_some_and(|t| Kind::parse(t.kind).is_some())
}

/// The hosted domains, the names left out with the reason, and the
/// tables or files of the domain lists that could not be read (then the
/// list of domains may be short: nothing may be pruned).
pub fn hosted(
    inputs: &Inputs,
    options: &Options,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> (Vec<super::Domain>, Vec<Excluded>, Vec<String>) {
    let mut found: Vec<(String, Source)> = Vec::new();
    let mut excluded: Vec<Excluded> = Vec::new();
    let mut unread: Vec<String> = Vec::new();
    if let Some(pf) = &inputs.postfix {
        let users = inputs
            .dovecot
            .as_ref()
            .and_then(|d| user_domains(d, &inputs.root, sources, diags, &options.databases));
        postfix_domains(
            pf,
            &inputs.root,
            &options.databases,
            users.as_ref(),
            sources,
            diags,
            &mut found,
            &mut excluded,
            &mut unread,
        );
    }
    for d in &options.extra_domains {
        match normalize_domain(d) {
            Ok(n) => found.push((n, Source::Option(format!("--domain {d}")))),
            Err(e) => diags.push(Diagnostic::error(
                "invalid_domain_name",
                format!("--domain {d}: {e}"),
            )),
        }
    }
    let excludes: Vec<String> = options
        .excluded_domains
        .iter()
        .map(|d| normalize_domain(d).unwrap_or_else(|_| d.to_ascii_lowercase()))
        .collect();
    let mut out: Vec<super::Domain> = Vec::new();
    let mut taken: HashSet<String> = HashSet::new();
    for (name, source) in found {
        if excludes.contains(&name) {
            excluded.push(Excluded {
                name,
                reason: "excluded by --exclude-domain or exclude_domains".into(),
                source: Source::Option("--exclude-domain".into()),
            });
            continue;
        }
        if !taken.insert(name.clone()) {
            continue;
        }
        let dopts = options.domains.get(&name);
        let display_name = dopts
            .and_then(|d| d.display_name.clone())
            .or_else(|| options.display_name.clone())
            .unwrap_or_else(|| name.clone());
        let display_short_name = dopts
            .and_then(|d| d.display_short_name.clone())
            .or_else(|| options.display_short_name.clone())
            .unwrap_or_else(|| short_name(&name));
        out.push(super::Domain {
            name,
            source,
            hosts: Vec::new(),
            display_name,
            display_short_name,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    // Kept for the whole run: not up to twice its size.
    out.shrink_to_fit();
    if out.is_empty() {
        let mut d = Diagnostic::error(
            "no_hosted_domains",
            "no hosted mail domain found: mailconf looked in mydestination and virtual_mailbox_domains (rule M2.1)",
        )
        .help("add domains with --domain, or check that main.cf lists them");
        if let Some(pf) = &inputs.postfix {
            for name in ["mydestination", "virtual_mailbox_domains"] {
                match pf.setting(name) {
                    Some(a) => d = d.also(pf.main_file, a.span, format!("{name} read here")),
                    None => {
                        d = d.note_text(format!(
                            "{name} is not set in main.cf (Postfix's default applies)"
                        ))
                    }
                }
            }
        }
        if !excluded.is_empty() {
            let list: Vec<String> = excluded
                .iter()
                .take(8)
                .map(|e| format!("{} ({})", e.name, e.reason))
                .collect();
            d = d.note_text(format!("left out: {}", list.join("; ")));
        }
        diags.push(d);
    }
    (out, excluded, unread)
}

/// `displayShortName` default: the first label, at most 12 characters
/// (rule M9.1).
pub fn short_name(domain: &str) -> String {
    domain
        .split('.')
        .next()
        .unwrap_or(domain)
        .chars()
        .take(12)
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn postfix_domains(
    pf: &PostfixConf,
    root: &Root,
    access: &Access,
    users: Option<&UserDomains>,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    found: &mut Vec<(String, Source)>,
    excluded: &mut Vec<Excluded>,
    unread: &mut Vec<String>,
) {
    let scope = pf.main_scope();
    let value = |name: &str, diags: &mut Diagnostics| -> (String, Place<'_>) {
        let mut e = Expander::new(&scope);
        let v = match e.value(name) {
            Ok(v) => v.unwrap_or_default(),
            Err(err) => {
                diags.push(pf.expand_diag(&err, "expansion_error"));
                String::new()
            }
        };
        let place = match pf.setting(name) {
            // Unexpanded, the text is the file's: entries can be pointed at.
            Some(a) if a.value == v => Place::Value {
                file: pf.main_file,
                assignment: a,
            },
            Some(a) => Place::Expanded {
                file: pf.main_file,
                assignment: a,
            },
            None => Place::Whole(Source::Default(format!("Postfix's default {name}"))),
        };
        (v, place)
    };
    let (myhostname, _) = value("myhostname", diags);
    let myhostname = myhostname.to_ascii_lowercase();
    let (dest, dest_src) = value("mydestination", diags);
    let (mbox, mbox_src) = value("virtual_mailbox_domains", diags);
    let (alias, alias_src) = value("virtual_alias_domains", diags);
    let alias_explicit = pf.setting("virtual_alias_domains").is_some();
    let (relay, relay_src) = value("relay_domains", diags);
    let relay_explicit = pf.setting("relay_domains").is_some();
    let mut r = Reader {
        root,
        sources,
        diags,
        access,
        warn: true,
        aliases: Vec::new(),
        membership: false,
        tables: HashMap::new(),
    };
    let local = DomainList::new(r.list("mydestination", &dest, dest_src, false, 0));
    let mailbox = DomainList::new(r.list("virtual_mailbox_domains", &mbox, mbox_src, false, 0));
    // An alias table that cannot be listed (the default
    // `$virtual_alias_maps` is often SQL) only matters when it is explicit.
    r.warn = alias_explicit;
    r.membership = true;
    let aliases = DomainList::new(r.list("virtual_alias_domains", &alias, alias_src, false, 0));
    // Only an explicit relay_domains names backup-MX domains (below
    // compatibility level 2 the default is `$mydestination`).
    r.warn = false;
    let relays = DomainList::new(if relay_explicit {
        r.list("relay_domains", &relay, relay_src.clone(), false, 0)
    } else {
        Vec::new()
    });
    let mut candidates: Vec<(String, Source, bool)> = local
        .positive_names()
        .chain(mailbox.positive_names())
        .map(|(n, s)| (n.clone(), s.clone(), false))
        .collect();
    // Dovecot's users stand in for a Postfix table that could not be read.
    unread.extend(local.unread());
    unread.extend(mailbox.unread());
    let incomplete = !unread.is_empty();
    if incomplete && let Some(u) = users {
        for d in &u.domains {
            candidates.push((d.clone(), u.source(), true));
        }
    }
    let found_before = found.len();
    let mut seen: HashSet<String> = HashSet::new();
    for (raw, source, from_users) in candidates {
        if !seen.insert(raw.clone()) {
            continue;
        }
        let mut exclude = |reason: &str| {
            excluded.push(Excluded {
                name: raw.clone(),
                reason: reason.to_string(),
                source: source.clone(),
            })
        };
        let lower = raw.to_ascii_lowercase();
        if lower == "localhost" || lower.starts_with("localhost.") {
            exclude("a localhost name (M2.2)");
            continue;
        }
        if lower == "all" {
            exclude("the pseudo-domain ALL (M2.2)");
            continue;
        }
        if lower.starts_with('[') {
            exclude("an address literal, not a domain");
            continue;
        }
        if lower.starts_with('.') && normalize_domain(&lower[1..]).is_ok() {
            let mut d = Diagnostic::warning(
                "invalid_domain_name",
                format!(
                    "`{raw}` is not a domain name: in this list (an exact-match string list) a leading dot matches only the text `{raw}` itself, not subdomains, so Postfix hosts nothing through it"
                ),
            );
            if let Source::File { file, span } = &source {
                d = d.at(*file, *span, "");
            }
            r.diags.push(d);
            exclude("a `.parent` key: in this list it only matches itself, not subdomains");
            continue;
        }
        let name = match normalize_domain(&raw) {
            Ok(n) => n,
            Err(e) => {
                let mut d = Diagnostic::warning(
                    "invalid_domain_name",
                    format!("`{raw}` is not a valid domain name ({e}); it gets no file"),
                );
                if let Source::File { file, span } = &source {
                    d = d.at(*file, *span, "");
                }
                r.diags.push(d);
                exclude("not a valid DNS name (M2.2)");
                continue;
            }
        };
        if !name.contains('.') {
            exclude("a name without a dot is a host's short name, not a mail domain");
            continue;
        }
        let is_local = r.member(&local, &lower) == Some(true);
        let is_mailbox = r.member(&mailbox, &lower) == Some(true) || from_users;
        if is_local {
            if name == myhostname && !is_mailbox {
                exclude("equal to $myhostname: the server's own name, not a mail domain (M2.2)");
                continue;
            }
        } else if r.member(&aliases, &lower) == Some(true) {
            exclude(
                "listed in virtual_alias_domains: an alias domain, whose users log in at the target domain (M2.2)",
            );
            continue;
        } else if is_mailbox && r.aliases.contains(&lower) {
            exclude(
                "an alias domain: the domain table accepts it only through its alias-domain part, and its users log in at the target domain (M2.2)",
            );
            continue;
        } else if is_mailbox && r.member_parent_style(&relays, &lower) {
            // Postfix would treat it as a mailbox domain (and log "do not
            // list domain in BOTH"); a domain in relay_domains is a backup
            // MX whose users log in elsewhere, so it gets no file (M2.2).
            let mut d = Diagnostic::warning(
                "domain_in_relay_domains",
                format!("`{name}` is listed both as a hosted (virtual mailbox) domain and in relay_domains: mailconf treats it as a relayed (backup MX) domain and writes no file for it"),
            )
            .help("remove it from one of the two lists (Postfix logs a warning about it too)");
            if let Source::File { file, span } = &source {
                d = d.at(*file, *span, "hosted here");
            }
            if let Source::File { file, span } = relay_src.source(Span::new(0, relay.len())) {
                d = d.also(file, span, "relayed here");
            }
            r.diags.push(d);
            exclude("also listed in relay_domains: a relayed (backup MX) domain (M2.2)");
            continue;
        } else if !is_mailbox {
            // A negated entry in the list took it out again.
            exclude("excluded by a `!` entry of its list");
            continue;
        }
        found.push((name, source));
    }
    if let Some(u) = users {
        cross_check(u, &found[found_before..], excluded, incomplete, r.diags);
    }
}

/// Compares the hosted domains with the domains of Dovecot's users.
fn cross_check(
    u: &UserDomains,
    found: &[(String, Source)],
    excluded: &[Excluded],
    incomplete: bool,
    diags: &mut Diagnostics,
) {
    let at = |d: Diagnostic| match u.at {
        Some((f, s)) => d.at(f, s, ""),
        None => d,
    };
    let from_users: Vec<&str> = found
        .iter()
        .filter(|(n, s)| u.domains.contains(n) && *s == u.source())
        .map(|(n, _)| n.as_str())
        .collect();
    if incomplete && !from_users.is_empty() {
        diags.push(at(Diagnostic::note(
            "domains_from_dovecot",
            format!(
                "a Postfix domain table could not be read, so the domains of Dovecot's users (iterate_query) stand in for it: {}",
                name_sample(from_users.iter().copied())
            ),
        )));
    }
    let without_users: Vec<&str> = found
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !u.domains.contains(*n))
        .collect();
    if !without_users.is_empty() && u.users > 0 {
        diags.push(at(Diagnostic::note(
            "domain_without_users",
            format!(
                "Dovecot's user list (iterate_query, {} users) has no user in {}; their files are written all the same",
                u.users,
                name_sample(without_users.iter().copied())
            ),
        )));
    }
    let hosted: HashSet<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    let unhosted: Vec<&str> = u
        .domains
        .iter()
        .map(String::as_str)
        .filter(|d| !hosted.contains(d))
        .collect();
    if !unhosted.is_empty() {
        let reasons: HashMap<String, &Excluded> = excluded
            .iter()
            .map(|e| (e.name.to_ascii_lowercase(), e))
            .collect();
        let why: Vec<String> = unhosted
            .iter()
            .map(|d| match reasons.get(*d) {
                Some(e) => format!("{d} ({})", e.reason),
                None => format!("{d} (not in Postfix's hosted domains)"),
            })
            .collect();
        diags.push(at(Diagnostic::note(
            "users_in_unhosted_domain",
            format!(
                "Dovecot has users in domains that get no file: {}",
                name_sample(why.iter().map(String::as_str))
            ),
        )));
    }
}

/// The first few names of a list, for a message.
fn name_sample<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let all: Vec<&str> = names.collect();
    let shown = all.iter().take(10).copied().collect::<Vec<_>>().join(", ");
    if all.len() > 10 {
        format!("{shown} and {} more", all.len() - 10)
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names() {
        assert_eq!(normalize_domain("Example.COM").unwrap(), "example.com");
        assert_eq!(
            normalize_domain("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(normalize_domain("example.com.").unwrap(), "example.com");
        for bad in [
            "../../etc",
            "a/b",
            "a b.example",
            "shop..example",
            "-x.example",
            "x@y.example",
            "a<b.example",
            "a&b.example",
            "a\u{0}b.example",
            "",
            ".example",
        ] {
            assert!(normalize_domain(bad).is_err(), "{bad:?}");
        }
        assert!(
            normalize_domain("раураl.example").is_err(),
            "mixed Cyrillic and Latin"
        );
        assert_eq!(
            normalize_domain("пример.рф").unwrap(),
            "xn--e1afmkfd.xn--p1ai"
        );
        let long_label = format!("{}.example", "a".repeat(64));
        assert!(normalize_domain(&long_label).is_err());
        let long_name = format!("{}.example", ["abcdefghij"; 30].join("."));
        assert!(long_name.len() > 253 && normalize_domain(&long_name).is_err());
    }

    #[test]
    fn short_names() {
        assert_eq!(short_name("example.com"), "example");
        assert_eq!(short_name("averyveryverylongname.example"), "averyveryver");
    }
}
