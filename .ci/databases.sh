#!/usr/bin/env bash
# .ci/databases.sh - install, start and seed the real database servers that
# mailconf's SQL/LDAP tests query (issue 7), on Debian 12, as root.
#
# What it does, in order (safe to run again: every step checks first, and
# every seeded database is dropped and recreated):
#   1. installs mariadb-server mariadb-client postgresql slapd ldap-utils
#      sqlite3 when one of them is missing (apt-get update only then; slapd
#      preseeded through debconf: base DN dc=example,dc=com, no prompt);
#   2. starts the SYSTEM instances on their standard local endpoints, the
#      ones the client files under fixtures/deployments/*/case.in name:
#        MariaDB     unix:/run/mysqld/mysqld.sock and 127.0.0.1:3306
#        PostgreSQL  127.0.0.1:5432 (password/SCRAM over TCP) and
#                    /var/run/postgresql
#        slapd       ldap://127.0.0.1:389 (and ldapi:/// for seeding)
#      with `service NAME start`, or by launching the daemon directly when
#      there is no working init (containers); each must answer within a
#      bounded time, else the script fails naming the server;
#   3. seeds one database and one read-only account per deployment from
#      fixtures/databases/ (names and fake passwords exactly as the fixture
#      client files use them, see the tables below and
#      fixtures/databases/README.md), then checks each account by logging in
#      over the endpoint its fixture uses, and prints one summary line per
#      seeded database.
#
# Usage:  .ci/databases.sh            (re-executes itself with sudo if needed)
# Env:    DB_WAIT_SECONDS   how long to wait for each server (default 60)
set -euo pipefail

PROG=databases.sh
die() { echo "$PROG: error: $*" >&2; exit 1; }
log() { echo "$PROG: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    exec sudo -E "$0" "$@"
fi

cd "$(dirname "$0")/.."
SEEDS=$PWD/fixtures/databases
[ -d "$SEEDS" ] || die "missing $SEEDS"
WAIT=${DB_WAIT_SECONDS:-60}
export DEBIAN_FRONTEND=noninteractive

# ---------------------------------------------------------------------------
# What is seeded.  Fields: deployment | database | user | password | seed file
# | database charset | collation | domain table | user table | endpoint the
# fixture uses (socket or tcp).  Fake credentials, copied from the client
# files under fixtures/deployments/<deployment>/case.in.
MYSQL_SEEDS=(
    "postfixadmin|postfix|postfix|fake-password-2|postfixadmin.sql|utf8mb4|utf8mb4_general_ci|domain|mailbox|socket"
    "mailcow|mailcow|mailcow|fake-password-4|mailcow.sql|utf8mb4|utf8mb4_unicode_ci|domain|mailbox|socket"
    "iredmail|vmail|vmail|fake-password-3|iredmail.sql|utf8mb3|utf8mb3_general_ci|domain|mailbox|tcp"
    "ispmail|mailserver|mailserver|fake-password-1|ispmail.sql|utf8mb4|utf8mb4_general_ci|virtual_domains|virtual_users|tcp"
)
# deployment | database | role | password | seed file | domain table | user table
PGSQL_SEEDS=(
    "modoboa|modoboa|modoboa|fake-password-7|modoboa.sql|admin_domain|core_user"
)
LDAP_BASE="dc=example,dc=com"
LDAP_BIND_DN="cn=vmail,$LDAP_BASE"
LDAP_BIND_PW="fake-password-8"
LDAP_SCHEMA_LDIF=iredmail-ldap.schema.ldif
LDAP_SEED_LDIF=iredmail-ldap.ldif
SQLITE_SEEDS=("mail-in-a-box|mail-in-a-box.sql|users")

MYSQL_SOCKET=/run/mysqld/mysqld.sock
PG_SOCKET_DIR=/var/run/postgresql

# ---------------------------------------------------------------------------
# helpers

# wait_for NAME CMD...: run CMD every half second until it succeeds or WAIT
# seconds have passed.
wait_for() {
    local name=$1; shift
    local deadline=$((SECONDS + WAIT))
    while ! "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            die "$name did not answer within ${WAIT}s (checked with: $*)"
        fi
        sleep 0.5
    done
}

# start_service NAME DIRECT_FN: `service NAME start`, else DIRECT_FN.
start_service() {
    local name=$1 direct=$2
    if command -v service >/dev/null 2>&1 && [ -x "/etc/init.d/$name" ] \
        && service "$name" start >/dev/null 2>&1; then
        return 0
    fi
    log "service $name start did not work; launching the daemon directly"
    "$direct"
}

installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# ---------------------------------------------------------------------------
# 1. packages

PKGS=(mariadb-server mariadb-client postgresql slapd ldap-utils sqlite3)
missing=()
for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    # slapd asks for its suffix and admin password; answer beforehand.
    # (Only used when slapd is configured for the first time.)
    debconf-set-selections <<'EOF'
slapd slapd/no_configuration boolean false
slapd slapd/domain string example.com
slapd shared/organization string Example
slapd slapd/password1 password fake-ldap-admin-password
slapd slapd/password2 password fake-ldap-admin-password
slapd slapd/purge_database boolean true
slapd slapd/move_old_database boolean true
EOF
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
for p in "${PKGS[@]}"; do installed "$p" || die "package $p is not installed"; done

# ---------------------------------------------------------------------------
# 2. servers

# MariaDB -------------------------------------------------------------------
mysql_alive() { mysqladmin --socket="$MYSQL_SOCKET" --connect-timeout=2 ping; }
mysqld_direct() {
    install -d -o mysql -g mysql -m 755 /run/mysqld
    if [ ! -d /var/lib/mysql/mysql ]; then
        mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    fi
    setsid nohup mysqld_safe </dev/null >/dev/null 2>&1 &
}
if ! mysql_alive >/dev/null 2>&1; then
    start_service mariadb mysqld_direct
fi
wait_for "MariaDB (unix:$MYSQL_SOCKET)" mysql_alive

# root over the socket (Debian: unix_socket authentication for root)
mysql_root() {
    if [ -r /etc/mysql/debian.cnf ]; then
        mysql --defaults-file=/etc/mysql/debian.cnf --socket="$MYSQL_SOCKET" "$@"
    else
        mysql --socket="$MYSQL_SOCKET" -u root "$@"
    fi
}
mysql_root -N -B -e 'SELECT 1' >/dev/null \
    || die "MariaDB: cannot log in as root over $MYSQL_SOCKET (unix_socket auth)"
port=$(mysql_root -N -B -e 'SELECT @@port')
skip=$(mysql_root -N -B -e 'SELECT @@skip_networking')
[ "$port" = 3306 ] && [ "$skip" = 0 ] \
    || die "MariaDB must listen on 127.0.0.1:3306 (port=$port skip_networking=$skip)"

# PostgreSQL ----------------------------------------------------------------
pg_cluster=$(pg_lsclusters -h 2>/dev/null | awk '$2 == "main" { print $1; exit }')
if [ -z "$pg_cluster" ]; then
    pg_cluster=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    log "creating PostgreSQL cluster $pg_cluster/main"
    pg_createcluster "$pg_cluster" main >/dev/null
fi
pg_port=$(pg_lsclusters -h | awk -v v="$pg_cluster" '$1 == v && $2 == "main" { print $3 }')
[ "$pg_port" = 5432 ] || die "PostgreSQL cluster $pg_cluster/main uses port $pg_port, not 5432"
pg_alive() {
    pg_isready -q -t 2 -h 127.0.0.1 -p 5432 && pg_isready -q -t 2 -h "$PG_SOCKET_DIR" -p 5432
}
pg_direct() { pg_ctlcluster "$pg_cluster" main start; }
if ! pg_alive; then
    start_service postgresql pg_direct
    # `service postgresql start` can succeed without starting this cluster
    # (start.conf set to manual): start it explicitly then.
    pg_alive || pg_ctlcluster "$pg_cluster" main start >/dev/null 2>&1 || true
fi
wait_for "PostgreSQL (127.0.0.1:5432 and $PG_SOCKET_DIR)" pg_alive
psql_admin() { PGOPTIONS="--client-min-messages=warning" runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# slapd ---------------------------------------------------------------------
[ -d /etc/ldap/slapd.d ] \
    || die "slapd has no cn=config (/etc/ldap/slapd.d); run: dpkg-reconfigure slapd"
# Debian's default SLAPD_SERVICES="ldap:/// ldapi:///" listens on every
# interface; the seeded directory only needs loopback.
SLAPD_URLS="ldap://127.0.0.1:389/ ldapi:///"
slapd_restart=no
if [ -f /etc/default/slapd ] && ! grep -qx "SLAPD_SERVICES=\"$SLAPD_URLS\"" /etc/default/slapd; then
    if grep -q '^SLAPD_SERVICES=' /etc/default/slapd; then
        sed -i "s|^SLAPD_SERVICES=.*|SLAPD_SERVICES=\"$SLAPD_URLS\"|" /etc/default/slapd
    else
        echo "SLAPD_SERVICES=\"$SLAPD_URLS\"" >>/etc/default/slapd
    fi
    slapd_restart=yes
fi
ldap_alive() {
    ldapsearch -x -H ldap://127.0.0.1:389 -o nettimeout=2 -s base -b "" -LLL namingContexts \
        && ldapsearch -Q -Y EXTERNAL -H ldapi:/// -s base -b "" -LLL namingContexts
}
slapd_direct() {
    install -d -o openldap -g openldap -m 755 /run/slapd
    /usr/sbin/slapd -h "$SLAPD_URLS" -u openldap -g openldap -F /etc/ldap/slapd.d
}
slapd_stop() {
    if [ -x /etc/init.d/slapd ] && service slapd stop >/dev/null 2>&1; then return 0; fi
    local pid
    pid=$(cat /run/slapd/slapd.pid 2>/dev/null || true)
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait_for "slapd (stopping pid $pid)" bash -c "! kill -0 $pid"
    fi
}
if [ "$slapd_restart" = yes ] && ldap_alive >/dev/null 2>&1; then
    log "restarting slapd to listen on loopback only ($SLAPD_URLS)"
    slapd_stop
fi
if ! ldap_alive >/dev/null 2>&1; then
    start_service slapd slapd_direct
fi
wait_for "slapd (ldap://127.0.0.1:389 and ldapi:///)" ldap_alive

# ---------------------------------------------------------------------------
# 3. seeds

# MariaDB: one database + one SELECT-only user per deployment, for the three
# ways a client reaches the server (socket = 'localhost', 127.0.0.1, ::1).
for entry in "${MYSQL_SEEDS[@]}"; do
    IFS='|' read -r name db user pass seed cs coll dtable utable via <<<"$entry"
    [ -r "$SEEDS/$seed" ] || die "missing seed $SEEDS/$seed"
    {
        echo "DROP DATABASE IF EXISTS \`$db\`;"
        echo "CREATE DATABASE \`$db\` CHARACTER SET $cs COLLATE $coll;"
        echo "USE \`$db\`;"
        cat "$SEEDS/$seed"
        echo
        for host in localhost 127.0.0.1 ::1; do
            echo "DROP USER IF EXISTS '$user'@'$host';"
            echo "CREATE USER '$user'@'$host' IDENTIFIED BY '$pass';"
            echo "GRANT SELECT ON \`$db\`.* TO '$user'@'$host';"
        done
    } | mysql_root --batch || die "MariaDB: loading $seed into $db failed"

    count_sql="SELECT (SELECT COUNT(*) FROM \`$dtable\`), (SELECT COUNT(*) FROM \`$utable\`)"
    sock=$(MYSQL_PWD=$pass mysql --protocol=socket --socket="$MYSQL_SOCKET" -u "$user" \
        -N -B -e "$count_sql" "$db") || die "MariaDB: $user cannot log in over $MYSQL_SOCKET"
    tcp=$(MYSQL_PWD=$pass mysql --protocol=tcp -h 127.0.0.1 -P 3306 --connect-timeout=5 \
        -u "$user" -N -B -e "$count_sql" "$db") || die "MariaDB: $user cannot log in over 127.0.0.1:3306"
    [ "$sock" = "$tcp" ] || die "MariaDB: socket and TCP disagree for $db"
    read -r ndom nusr <<<"$tcp"
    if [ "$via" = socket ]; then ep="unix:$MYSQL_SOCKET (+ 127.0.0.1:3306)"; else ep="127.0.0.1:3306 (+ unix:$MYSQL_SOCKET)"; fi
    printf 'seeded %-14s mysql   db=%-11s user=%-11s %3s rows in %s, %s in %s; login checked via %s\n' \
        "$name" "$db" "$user" "$ndom" "$dtable" "$nusr" "$utable" "$ep"
done

# PostgreSQL: database owned by postgres, login role with SELECT only.
for entry in "${PGSQL_SEEDS[@]}"; do
    IFS='|' read -r name db role pass seed dtable utable <<<"$entry"
    [ -r "$SEEDS/$seed" ] || die "missing seed $SEEDS/$seed"
    psql_admin -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
    psql_admin -d postgres -c "DROP ROLE IF EXISTS \"$role\""
    psql_admin -d postgres -c "CREATE ROLE \"$role\" LOGIN PASSWORD '$pass'"
    psql_admin -d postgres -c "CREATE DATABASE \"$db\" OWNER postgres ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
    psql_admin -d "$db" -f - <"$SEEDS/$seed" >/dev/null || die "PostgreSQL: loading $seed into $db failed"
    psql_admin -d "$db" -c "GRANT CONNECT ON DATABASE \"$db\" TO \"$role\"; GRANT USAGE ON SCHEMA public TO \"$role\"; GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"$role\""
    counts=$(PGPASSWORD=$pass PGCONNECT_TIMEOUT=5 psql -X -At -F ' ' -h 127.0.0.1 -p 5432 -U "$role" -d "$db" \
        -c "SELECT (SELECT COUNT(*) FROM $dtable), (SELECT COUNT(*) FROM $utable)") \
        || die "PostgreSQL: $role cannot log in over 127.0.0.1:5432"
    read -r ndom nusr <<<"$counts"
    printf 'seeded %-14s pgsql   db=%-11s user=%-11s %3s rows in %s, %s in %s; login checked via 127.0.0.1:5432\n' \
        "$name" "$db" "$role" "$ndom" "$dtable" "$nusr" "$utable"
done

# OpenLDAP: iRedMail schema (loaded once: a changed schema file needs a fresh
# slapd), a database for dc=example,dc=com, the ACL of the read-only bind
# account, then the tree (previous copy deleted first).
ldapi() { local cmd=$1; shift; "$cmd" -Q -Y EXTERNAL -H ldapi:/// "$@"; }
schemas=$(ldapi ldapsearch -LLL -b cn=schema,cn=config '(cn=*iredmail)' dn) \
    || die "slapd: cannot read cn=schema,cn=config over ldapi:///"
if ! grep -q '^dn:' <<<"$schemas"; then
    ldapi ldapadd -f "$SEEDS/$LDAP_SCHEMA_LDIF" >/dev/null || die "slapd: loading $LDAP_SCHEMA_LDIF failed"
fi
ldap_db_dn() {
    ldapi ldapsearch -LLL -o ldif-wrap=no -b cn=config "(olcSuffix=$LDAP_BASE)" dn | sed -n 's/^dn: //p' | head -n 1
}
db_dn=$(ldap_db_dn)
if [ -z "$db_dn" ]; then
    # slapd was configured earlier for another suffix: add a database.
    log "adding an mdb database for $LDAP_BASE"
    install -d -o openldap -g openldap -m 700 /var/lib/ldap-mailconf
    ldapi ldapadd >/dev/null <<EOF || die "slapd: cannot add a database for $LDAP_BASE"
dn: olcDatabase=mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: mdb
olcDbDirectory: /var/lib/ldap-mailconf
olcSuffix: $LDAP_BASE
olcDbMaxSize: 104857600
EOF
    db_dn=$(ldap_db_dn)
fi
ldapi ldapmodify >/dev/null <<EOF || die "slapd: cannot set the ACL of $db_dn"
dn: $db_dn
changetype: modify
replace: olcAccess
olcAccess: {0}to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth manage by * break
olcAccess: {1}to attrs=userPassword by self write by anonymous auth by dn.exact="$LDAP_BIND_DN" read by * none
olcAccess: {2}to dn.subtree="o=domains,$LDAP_BASE" by dn.exact="$LDAP_BIND_DN" read by * none
olcAccess: {3}to * by self read by * none
EOF
if ! ldapi ldapsearch -LLL -s base -b "$LDAP_BASE" dn >/dev/null 2>&1; then
    ldapi ldapadd >/dev/null <<EOF || die "slapd: cannot add $LDAP_BASE"
dn: $LDAP_BASE
objectClass: top
objectClass: dcObject
objectClass: organization
o: Example
dc: example
EOF
fi
for dn in "o=domains,$LDAP_BASE" "$LDAP_BIND_DN"; do
    rc=0
    ldapi ldapdelete -r "$dn" >/dev/null 2>&1 || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 32 ] || die "slapd: cannot delete $dn (ldapdelete exit $rc)"
done
ldapi ldapadd -f "$SEEDS/$LDAP_SEED_LDIF" >/dev/null || die "slapd: loading $LDAP_SEED_LDIF failed"
ndom=$(ldapsearch -x -LLL -H ldap://127.0.0.1:389 -o nettimeout=5 -D "$LDAP_BIND_DN" -w "$LDAP_BIND_PW" \
        -b "o=domains,$LDAP_BASE" -s one '(objectClass=mailDomain)' dn | grep -c '^dn:') \
    || die "slapd: $LDAP_BIND_DN cannot bind and search over ldap://127.0.0.1:389"
nusr=$(ldapsearch -x -LLL -H ldap://127.0.0.1:389 -o nettimeout=5 -D "$LDAP_BIND_DN" -w "$LDAP_BIND_PW" \
        -b "o=domains,$LDAP_BASE" '(objectClass=mailUser)' dn | grep -c '^dn:') || true
nanon=$(ldapsearch -x -LLL -H ldap://127.0.0.1:389 -o nettimeout=5 \
        -b "o=domains,$LDAP_BASE" '(objectClass=*)' dn 2>/dev/null | grep -c '^dn:') || true
[ "$nanon" = 0 ] || die "slapd: anonymous clients can read o=domains,$LDAP_BASE (ACL not applied)"
printf 'seeded %-14s ldap    base=o=domains,%s bind=%s %s mailDomain, %s mailUser entries; anonymous sees 0; checked via ldap://127.0.0.1:389\n' \
    iredmail-ldap "$LDAP_BASE" "$LDAP_BIND_DN" "$ndom" "$nusr"

# SQLite: the test harness builds the file at test time; check it loads.
for entry in "${SQLITE_SEEDS[@]}"; do
    IFS='|' read -r name seed utable <<<"$entry"
    tmp=$(mktemp -d)
    sqlite3 -bail "$tmp/users.sqlite" <"$SEEDS/$seed" || { rm -rf "$tmp"; die "sqlite3: $seed does not load"; }
    nusr=$(sqlite3 "$tmp/users.sqlite" "SELECT COUNT(*) FROM $utable")
    rm -rf "$tmp"
    printf 'checked %-13s sqlite  %s loads (%s rows in %s); the tests build the file from it\n' \
        "$name" "$seed" "$nusr" "$utable"
done
