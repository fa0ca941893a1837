//! Files mailconf has read, and where to find the server's files.
//!
//! [`Root`] maps the server's own absolute paths (`/etc/postfix/main.cf`,
//! `hash:/etc/postfix/vdomains`, `!include /etc/dovecot/...`) to paths on
//! this machine, the way `chroot` would: a copy of another server's `/etc`
//! under `--root DIR` is read as if it were that server (rule M1.1).
//! [`SourceMap`] keeps the text of every file read, so that diagnostics
//! can quote it; line and column numbers are computed here, only when a
//! diagnostic is rendered.

use std::io;
use std::path::{Component, Path, PathBuf};

use mailconf_parsers::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(u32);

pub struct SourceFile {
    /// The path shown to the user: the path on this machine.
    pub path: PathBuf,
    /// The text as parsed.
    pub text: String,
    /// The text as shown in diagnostics: the same bytes with secrets
    /// (password values) replaced by `*` (rule M11.3).
    display: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn display_text(&self) -> &str {
        &self.display
    }

    /// 1-based line and column (in characters) of byte `offset`.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }

    /// Byte range of the 1-based line `line`, without its newline.
    pub fn line_range(&self, line: usize) -> std::ops::Range<usize> {
        let start = self.line_starts[line - 1];
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&e| e.saturating_sub(1));
        start..end.max(start)
    }
}

#[derive(Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, path: PathBuf, text: String) -> FileId {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let display = redact_secrets(&text);
        self.files.push(SourceFile {
            path,
            text,
            display,
            line_starts,
        });
        FileId(u32::try_from(self.files.len() - 1).expect("fewer than 4 billion files"))
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// `path:line:col` of a span's start.
    pub fn location(&self, id: FileId, span: Span) -> String {
        let f = self.get(id);
        let (l, c) = f.line_col(span.start);
        format!("{}:{l}:{c}", f.path.display())
    }

    /// `path:line` of a span's start.
    pub fn line_location(&self, id: FileId, span: Span) -> String {
        let f = self.get(id);
        format!("{}:{}", f.path.display(), f.line_col(span.start).0)
    }
}

/// Does this setting name hold a secret? Covers Postfix table client files
/// (`password`, `bind_pw`), Dovecot (`dnpass`, `*_password`, `ssl_key`
/// contents) and the tool's own files.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    let last = k.rsplit(['_', '/', '.']).next().unwrap_or(&k);
    matches!(
        last,
        "password" | "passwd" | "pass" | "pw" | "secret" | "dnpass" | "passphrase"
    ) || k.ends_with("password")
}

/// Replaces secret values with `*`, byte for byte, so that spans stay
/// valid: `key = value` lines whose key holds a secret, and
/// `password=value` words inside values (SQL connect strings).
pub fn redact_secrets(text: &str) -> String {
    let mut out = text.as_bytes().to_vec();
    let mut pos = 0;
    // After `password = ...` at the start of a line, indented lines go on
    // with the same value (main.cf-style files): they are masked too.
    let mut in_secret = false;
    for line in text.split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        if in_secret && body.starts_with([' ', '\t']) && !body.trim().is_empty() {
            mask(&mut out, start, start + body.len());
            continue;
        }
        in_secret = false;
        mask_url_passwords(body, start, &mut out);
        if let Some(eq) = body.find('=') {
            let key = body[..eq].trim();
            if !key.is_empty() && !key.contains(char::is_whitespace) && is_secret_key(key) {
                let v_start = start + eq + 1;
                let v_end = start + body.len();
                mask(&mut out, v_start, v_end);
                in_secret = !body.starts_with([' ', '\t']);
                continue;
            }
        }
        // `password secret`, a line whose `=` is missing: the syntax error
        // quotes it, so the value is masked all the same.
        let indent = body.len() - body.trim_start().len();
        let word_len = body[indent..]
            .find(char::is_whitespace)
            .unwrap_or(body.len() - indent);
        let word = &body[indent..indent + word_len];
        if !body.contains('=') && !word.is_empty() && is_secret_key(word) {
            mask(&mut out, start + indent + word_len, start + body.len());
            in_secret = indent == 0;
            continue;
        }
        // `password=secret` words, as in Dovecot `connect = ... password=x`
        // or `args = ... password=x`.
        let lower = body.to_ascii_lowercase();
        let mut search = 0;
        while let Some(i) = lower[search..].find("password=").map(|i| i + search) {
            let v_start = i + "password=".len();
            let v_end = body[v_start..]
                .find(char::is_whitespace)
                .map_or(body.len(), |e| v_start + e);
            mask(&mut out, start + v_start, start + v_end);
            search = v_end;
        }
    }
    // Only ASCII `*` replaced whole UTF-8 sequences, so this cannot fail.
    String::from_utf8(out).unwrap_or_default()
}

/// `scheme://user:password@host`: the password is masked.
fn mask_url_passwords(body: &str, start: usize, out: &mut [u8]) {
    let mut from = 0;
    while let Some(i) = body[from..].find("://").map(|i| i + from) {
        let auth_start = i + 3;
        let auth_len = body[auth_start..]
            .find(|c: char| c.is_whitespace() || c == ',' || c == '?')
            .unwrap_or(body.len() - auth_start);
        let auth = &body[auth_start..auth_start + auth_len];
        if let Some(at) = auth.rfind('@')
            && let Some(colon) = auth[..at].find(':')
        {
            mask(out, start + auth_start + colon + 1, start + auth_start + at);
        }
        from = auth_start + auth_len;
    }
}

fn mask(out: &mut [u8], from: usize, to: usize) {
    for b in &mut out[from..to] {
        if !b.is_ascii_whitespace() {
            *b = b'*';
        }
    }
}

/// Why a server path could not be turned into a path on this machine.
#[derive(Debug)]
pub enum PathError {
    /// `..` or a symbolic link would leave `--root`.
    Escapes,
    /// More than 40 symbolic links.
    Loop,
    Io(io::Error),
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathError::Escapes => write!(f, "the path leaves the --root directory"),
            PathError::Loop => write!(f, "too many levels of symbolic links"),
            PathError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// The server's file system, rooted at `--root` (default `/`).
#[derive(Clone, Debug)]
pub struct Root {
    dir: PathBuf,
}

impl Root {
    pub fn new(dir: impl Into<PathBuf>) -> Root {
        Root { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn is_host_root(&self) -> bool {
        self.dir == Path::new("/")
    }

    /// The path on this machine for the server path `path` (absolute, or
    /// relative to the server's `/`). Symbolic links are followed inside the
    /// root: an absolute link target is taken relative to the root, as under
    /// chroot; a path that climbs above the root is refused.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, PathError> {
        let mut todo: Vec<String> = Vec::new();
        push_components(&mut todo, Path::new(path));
        let mut stack: Vec<std::ffi::OsString> = Vec::new();
        let mut links = 0;
        while let Some(c) = todo.pop() {
            match c.as_str() {
                "" | "." => {}
                ".." => {
                    if stack.pop().is_none() && !self.is_host_root() {
                        return Err(PathError::Escapes);
                    }
                }
                _ => {
                    stack.push(c.into());
                    let real = self.join(&stack);
                    match std::fs::symlink_metadata(&real) {
                        Ok(m) if m.file_type().is_symlink() => {
                            links += 1;
                            if links > 40 {
                                return Err(PathError::Loop);
                            }
                            let target = std::fs::read_link(&real).map_err(PathError::Io)?;
                            stack.pop();
                            if target.is_absolute() {
                                stack.clear();
                            }
                            push_components(&mut todo, &target);
                        }
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) if e.kind() == io::ErrorKind::NotADirectory => {}
                        Err(e) => return Err(PathError::Io(e)),
                    }
                }
            }
        }
        Ok(self.join(&stack))
    }

    /// Resolves `rel` against `base_dir`, a directory on this machine. When
    /// `base_dir` lies inside the root the result stays confined to it.
    pub fn resolve_from(&self, base_dir: &Path, rel: &str) -> Result<PathBuf, PathError> {
        if Path::new(rel).is_absolute() {
            return self.resolve(rel);
        }
        if let Ok(inside) = base_dir.strip_prefix(&self.dir) {
            let server = Path::new("/").join(inside).join(rel);
            return self.resolve(&server.to_string_lossy());
        }
        Ok(base_dir.join(rel))
    }

    fn join(&self, parts: &[std::ffi::OsString]) -> PathBuf {
        let mut p = self.dir.clone();
        p.extend(parts);
        p
    }
}

/// Pushes the components of `p` onto `todo` so that the first component is
/// popped first.
fn push_components(todo: &mut Vec<String>, p: &Path) {
    let parts: Vec<String> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            _ => None,
        })
        .collect();
    todo.extend(parts.into_iter().rev());
}

/// Reads a file as text. Bytes that are not UTF-8 are replaced (Postfix and
/// Dovecot read bytes; mailconf only needs the ASCII structure), and the
/// caller is told so it can warn.
/// Where the first byte that was not UTF-8 stood in a text [`read_text`]
/// returned with `lossy` set: the bytes before it came through unchanged,
/// so it is where the first replacement character is.
pub fn first_bad_byte(text: &str, lossy: bool) -> Option<usize> {
    lossy.then(|| text.find('\u{FFFD}')).flatten()
}

pub fn read_text(path: &Path) -> io::Result<(String, bool)> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking open, then only regular files: a named pipe or a device
    // where a configuration file should be must not hang or flood a run.
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    f.read_to_end(&mut bytes)?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => (s, false),
        Err(e) => (String::from_utf8_lossy(e.as_bytes()).into_owned(), true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        let mut m = SourceMap::default();
        let id = m.add("f".into(), "ab\ncdé f\n".into());
        assert_eq!(m.get(id).line_col(0), (1, 1));
        assert_eq!(m.get(id).line_col(3), (2, 1));
        assert_eq!(m.get(id).line_col(8), (2, 5));
        assert_eq!(m.location(id, Span::at(4)), "f:2:2");
        assert_eq!(m.get(id).line_range(2), 3..9);
    }

    #[test]
    fn continued_and_url_passwords_are_masked() {
        let t = "password =\n  Rv-secret-77\nuser = x\nhosts = postgresql://u:Url/Se@cret@db:5432/x other\n";
        let r = redact_secrets(t);
        assert!(
            !r.contains("Rv-secret-77") && !r.contains("Url/Se@cret"),
            "{r}"
        );
        assert!(
            r.contains("user = x")
                && r.contains("postgresql://u:")
                && r.contains("@db:5432/x other")
        );
        assert_eq!(r.len(), t.len());
        let m = redact_secrets("password Sekr1t\n  submission_relay_password Sekr2t\n");
        assert!(!m.contains("Sekr1t") && !m.contains("Sekr2t"), "{m}");
        // A Dovecot section after an indented password line is not a
        // continuation.
        let d = "passdb {\n  password = a\n  driver = sql\n}\n";
        assert!(redact_secrets(d).contains("driver = sql"));
    }

    #[test]
    fn secrets_are_masked_byte_for_byte() {
        let t = "user = mail\npassword = s3cr3t\nconnect = host=db password=hunter2 dbname=x\nbind_pw=abc\n";
        let r = redact_secrets(t);
        assert_eq!(r.len(), t.len());
        assert!(!r.contains("s3cr3t") && !r.contains("hunter2") && !r.contains("abc"));
        assert!(r.contains("user = mail") && r.contains("dbname=x"));
    }

    #[test]
    fn root_resolution_stays_inside() {
        let dir = std::env::temp_dir().join(format!("mailconf-root-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc/dovecot/private")).unwrap();
        std::fs::create_dir_all(dir.join("etc/ssl")).unwrap();
        std::fs::write(dir.join("etc/ssl/cert.pem"), "x").unwrap();
        std::os::unix::fs::symlink(
            "/etc/ssl/cert.pem",
            dir.join("etc/dovecot/private/dovecot.pem"),
        )
        .unwrap();
        std::os::unix::fs::symlink("../../../../../../etc/passwd", dir.join("etc/escape")).unwrap();
        let root = Root::new(&dir);
        assert_eq!(
            root.resolve("/etc/dovecot/private/dovecot.pem").unwrap(),
            dir.join("etc/ssl/cert.pem")
        );
        assert!(matches!(
            root.resolve("/etc/escape"),
            Err(PathError::Escapes)
        ));
        assert!(matches!(
            root.resolve("/../etc/passwd"),
            Err(PathError::Escapes)
        ));
        assert_eq!(
            root.resolve_from(&dir.join("etc/dovecot"), "conf.d/x.conf")
                .unwrap(),
            dir.join("etc/dovecot/conf.d/x.conf")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
