//! The server's host name, where Postfix and Dovecot would ask the
//! operating system (`gethostname()`).

use crate::source::Root;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    /// Where the name came from, for the administrator.
    pub source: String,
}

impl Host {
    /// With `--root /`: the running machine's name. With another root: the
    /// first line of `ROOT/etc/hostname` (the server being migrated), or
    /// `localhost` when that file is missing.
    pub fn discover(root: &Root) -> Host {
        if root.is_host_root() {
            let name = rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned();
            return Host {
                name,
                source: "the running machine's host name".to_string(),
            };
        }
        let path = root.resolve("/etc/hostname");
        let name = path
            .as_ref()
            .ok()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| {
                t.lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string)
            });
        match (name, path) {
            (Some(name), Ok(p)) => Host {
                name,
                source: format!("{}", p.display()),
            },
            _ => Host {
                name: "localhost".to_string(),
                source: format!(
                    "no {}/etc/hostname: assumed `localhost`",
                    root.dir().display()
                ),
            },
        }
    }
}
