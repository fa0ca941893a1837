//! Writing the output tree (rules M9.2–M9.4). The only module that writes
//! files.
//!
//! * `OUT/D/mail/config-v1.1.xml` and
//!   `OUT/D/.well-known/autoconfig/mail/config-v1.1.xml`, identical;
//! * each file is written to a temporary file in its own directory,
//!   flushed to disk, and renamed over the old one, so a reader (or a
//!   crash) only ever sees the old or the new content; an unchanged file is
//!   not touched (its mtime stays);
//! * nothing outside OUT is written and no symbolic link under OUT is
//!   followed: a symlink where mailconf needs a directory or a file is
//!   reported and left alone; OUT itself must not be a symlink;
//! * a manifest (`OUT/.mailconf-manifest`) lists the files mailconf wrote,
//!   so `--prune` removes only those;
//! * a lock file (`OUT/.mailconf.lock`) makes concurrent runs take turns.

pub mod lock;
pub mod tree;

pub use tree::{Change, ChangeKind, Mode, Tree};
