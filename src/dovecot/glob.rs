//! `!include` patterns, expanded as Dovecot's glob(3) with `GLOB_BRACE`
//! does: `{a,b}` alternatives in the order written, then `*`, `?` and
//! `[...]` per path component, matches of one wildcard component sorted
//! bytewise (the C locale), names starting with `.` only matched by a
//! pattern that starts with `.`.

use std::path::{Path, PathBuf};

/// Expands `{a,b}` (nested too) into the alternatives, in written order.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let b = pattern.as_bytes();
    let Some(open) = b.iter().position(|&c| c == b'{') else {
        return vec![pattern.to_string()];
    };
    let mut depth = 0;
    let mut close = None;
    let mut commas = Vec::new();
    for (i, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_string()];
    };
    let head = &pattern[..open];
    let tail = &pattern[close + 1..];
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alt = &pattern[w[0] + 1..w[1]];
        out.extend(expand_braces(&format!("{head}{alt}{tail}")));
    }
    out
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Does `name` match the shell wildcard `pat` (`*`, `?`, `[abc]`, `[a-z]`,
/// `[!x]`)?
pub fn wildcard_match(pat: &str, name: &str) -> bool {
    if name.starts_with('.') && !pat.starts_with('.') {
        return false;
    }
    matches(pat.as_bytes(), name.as_bytes())
}

fn matches(p: &[u8], n: &[u8]) -> bool {
    let (mut pi, mut ni) = (0, 0);
    let (mut star_p, mut star_n) = (None, 0);
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                b'*' => {
                    star_p = Some(pi);
                    star_n = ni;
                    pi += 1;
                    continue;
                }
                b'?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                b'[' => {
                    if let Some((ok, len)) = class(&p[pi..], n[ni])
                        && ok
                    {
                        pi += len;
                        ni += 1;
                        continue;
                    }
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star_p {
            Some(sp) => {
                pi = sp + 1;
                star_n += 1;
                ni = star_n;
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// A `[...]` class at the start of `p`: (does `c` match, length of class).
fn class(p: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(1), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while i < p.len() && (p[i] != b']' || first) {
        first = false;
        if i + 2 < p.len() && p[i + 1] == b'-' && p[i + 2] != b']' {
            hit |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            hit |= p[i] == c;
            i += 1;
        }
    }
    if i >= p.len() {
        return None;
    }
    Some((hit != negate, i + 1))
}

/// Matches of one brace-free pattern under `base` (which is the directory
/// a relative pattern starts from, already on this machine). Absolute
/// patterns must have been made relative to the root by the caller.
pub fn glob(base: &Path, pattern: &str) -> Vec<PathBuf> {
    let comps: Vec<&str> = pattern
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let mut current = vec![base.to_path_buf()];
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let mut next = Vec::new();
        for dir in &current {
            if has_wildcard(comp) {
                let Ok(rd) = std::fs::read_dir(dir) else {
                    continue;
                };
                let mut names: Vec<Vec<u8>> = rd
                    .filter_map(|e| e.ok())
                    .map(|e| {
                        use std::os::unix::ffi::OsStrExt;
                        e.file_name().as_bytes().to_vec()
                    })
                    .filter(|n| wildcard_match(comp, &String::from_utf8_lossy(n)))
                    .collect();
                names.sort();
                for n in names {
                    use std::os::unix::ffi::OsStrExt;
                    let p = dir.join(std::ffi::OsStr::from_bytes(&n));
                    if last || p.is_dir() {
                        next.push(p);
                    }
                }
            } else {
                let p = dir.join(comp);
                if p.exists() || std::fs::symlink_metadata(&p).is_ok() {
                    next.push(p);
                }
            }
        }
        current = next;
    }
    if comps.is_empty() {
        return Vec::new();
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_keep_written_order() {
        assert_eq!(expand_braces("{b,a}.conf"), ["b.conf", "a.conf"]);
        assert_eq!(expand_braces("d/{2,10}.conf"), ["d/2.conf", "d/10.conf"]);
        assert_eq!(expand_braces("x{a,{b,c}}y"), ["xay", "xby", "xcy"]);
        assert_eq!(expand_braces("plain.conf"), ["plain.conf"]);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.conf", "10-auth.conf"));
        assert!(!wildcard_match("*.conf", "auth-sql.conf.ext"));
        assert!(!wildcard_match("*.conf", ".hidden.conf"));
        assert!(wildcard_match("?0-*.conf", "10-auth.conf"));
        assert!(wildcard_match("[0-9]*", "5x"));
        assert!(!wildcard_match("[!0-9]*", "5x"));
        assert!(wildcard_match("my?file.conf", "my file.conf"));
    }
}
