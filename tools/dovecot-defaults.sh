#!/bin/sh
# Prints src/dovecot/defaults-2.3.conf from the doveconf installed on this
# machine. Install every Debian Dovecot package first (dovecot-core
# dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-submissiond
# dovecot-managesieved dovecot-sieve dovecot-mysql dovecot-pgsql
# dovecot-sqlite dovecot-ldap), so that every setting name is known.
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
: > "$dir/dovecot.conf"
cat <<'HDR'
# Built-in defaults of Dovecot 2.3.19.1 (Debian 12 build), as printed by
# 'doveconf -a' for an empty dovecot.conf with every Debian Dovecot package
# installed (core, imapd, pop3d, lmtpd, submissiond, managesieved, sieve,
# mysql, pgsql, sqlite, ldap). Read by mailconf's own parser: it gives the
# default of every setting and the names Dovecot 2.3 knows.
# Regenerate with tools/dovecot-defaults.sh and review the diff.
HDR
doveconf -c "$dir/dovecot.conf" -a 2>/dev/null | grep -v '^#'
