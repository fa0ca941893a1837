#!/bin/sh
# Prints src/postfix/defaults.txt from the postconf installed on this
# machine (Postfix 3.7.11 on Debian 12 when the file was made).
# Usage: tools/postfix-defaults.sh > src/postfix/defaults.txt
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
: > "$dir/main.cf"
: > "$dir/master.cf"
touch -d '1 hour ago' "$dir/main.cf" "$dir/master.cf"
cat <<'HDR'
# Built-in parameter defaults of Postfix 3.7.11 (Debian 12 build), as
# printed by 'postconf -d' with an empty configuration directory.
# Host-dependent values (myhostname, mydomain, mynetworks, process_id,
# process_name) are left out: mailconf computes them (src/postfix/defaults.rs).
# Regenerate with tools/postfix-defaults.sh and review the diff.
HDR
postconf -c "$dir" -d | grep -vE '^(myhostname|mydomain|mynetworks|process_id|process_name) = '
