#!/usr/bin/env bash
# Checks the operator-facing outputs of mailconf against the real programs
# (issue 6): `mailconf dns` with named-checkzone, `mailconf webserver nginx`
# with `nginx -t` and a running nginx on loopback, `mailconf webserver
# apache` with `apache2ctl configtest` and a running Apache on loopback.
#
# Installs nginx, apache2 and bind9-utils (Debian); needs root. Touches no
# system configuration: every server runs from its own configuration in a
# temporary directory, on 127.0.0.1 and a free high port, and is stopped at
# the end. Safe to run again.
#
# Environment: MAILCONF=path/to/mailconf to test a given binary (default:
# the debug build, built when needed); FIXTURE=deployment directory
# (default fixtures/deployments/postfixadmin/case.in).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
repo=$(pwd)

fails=0
passes=0
pass() { echo "PASS: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
die() { echo "FAIL: $*"; echo "web-test: FAILED (setup step)"; exit 1; }
check() { # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
indent() { sed 's/^/    | /'; }
step() { echo "--- $* ($(( $(date +%s) - t0 ))s)"; }
t0=$(date +%s)

[ "$(id -u)" -eq 0 ] || die "run as root (apt-get, servers)"

step "install nginx, apache2, bind9-utils"
need=()
command -v nginx >/dev/null || need+=(nginx)
command -v apache2ctl >/dev/null || need+=(apache2)
command -v named-checkzone >/dev/null || need+=(bind9-utils)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
if [ "${#need[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    # Installing a server must not start it (no systemd here; port 80 may
    # be taken): policy-rc.d says "not now" to invoke-rc.d for this install.
    own_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    apt-get update -qq || die "apt-get update"
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    rc=$?
    [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" -eq 0 ] || die "apt-get install ${need[*]}"
fi
pass "tools: $(nginx -v 2>&1 | sed 's/.*: //'), $(apache2 -v | sed -n 's/^Server version: //p'), $(named-checkzone -v)"

work=$(mktemp -d /tmp/mailconf-web-test.XXXXXX)
# The servers' workers (www-data, nobody) read the files under it.
chmod 755 "$work"
nginx_conf=$work/nginx/nginx.conf
apache_dir=$work/apache2
cleanup() {
    if [ -f "$work/nginx/nginx.pid" ]; then
        nginx -p "$work/nginx" -c "$nginx_conf" -e "$work/nginx/error.log" -s stop 2>/dev/null ||
            kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null
    fi
    if [ -f "$apache_dir/run/apache2.pid" ]; then
        kill "$(cat "$apache_dir/run/apache2.pid")" 2>/dev/null
    fi
    sleep 0.2
    rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${MAILCONF:-}" ]; then
    target_dir=$(cargo metadata --no-deps --format-version 1 --locked |
        sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    [ -n "$target_dir" ] || die "cannot find cargo's target directory"
    cargo build --locked --bin mailconf --quiet || die "cargo build"
    MAILCONF=$target_dir/debug/mailconf
fi
mc() { NO_COLOR=1 "$MAILCONF" "$@"; }
fixture=${FIXTURE:-$repo/fixtures/deployments/postfixadmin/case.in}

step "mailconf generate"
out=$work/out
if mc generate --root "$fixture" --out "$out" >"$work/generate.log" 2>"$work/generate.err"; then
    pass "mailconf generate --root $fixture"
else
    indent <"$work/generate.err"
    die "mailconf generate --root $fixture"
fi
mapfile -t domains < <(mc webserver nginx --root "$fixture" --out "$out" --names 2>/dev/null |
    grep -v '^autoconfig\.')
[ "${#domains[@]}" -gt 0 ] || die "mailconf webserver --names listed no domain"
echo "domains: ${domains[*]}"
for d in "${domains[@]}"; do
    check "generated $d/mail/config-v1.1.xml" [ -s "$out/$d/mail/config-v1.1.xml" ]
done

step "mailconf dns | named-checkzone"
mc dns --root "$fixture" >"$work/dns.txt" 2>/dev/null || fail "mailconf dns exit status"
# Each "; zone DOMAIN" section, wrapped in a minimal zone (SOA, NS, and an
# address for the in-zone names the records point at), loaded with the
# real zone checker. Out-of-zone targets are not looked up (-i local).
mkdir -p "$work/zones"
awk -v dir="$work/zones" '
    /^; zone / { f = dir "/" $3 ".records"; print $3 >> (dir "/list"); next }
    f != "" && NF > 0 && $0 !~ /^;/ { print > f }
' "$work/dns.txt"
zones=$(cat "$work/zones/list" 2>/dev/null)
check "dns output has one zone section per domain" \
    [ "$(echo "$zones" | sort | tr '\n' ' ')" = "$(printf '%s\n' "${domains[@]}" | sort | tr '\n' ' ')" ]
for z in $zones; do
    zf=$work/zones/$z.zone
    {
        echo "\$ORIGIN $z."
        echo "\$TTL 3600"
        echo "@ IN SOA ns1.$z. hostmaster.$z. ( 1 3600 900 604800 300 )"
        echo "@ IN NS ns1.$z."
        echo "ns1.$z. IN A 192.0.2.53"
        # Targets inside this zone need an address record of their own.
        awk '$4 == "CNAME" { print $5 } $4 == "SRV" { print $8 }' "$work/zones/$z.records" |
            grep -E "(^|\.)${z//./\\.}\.\$" | sort -u |
            while read -r t; do
                grep -q "^$t " "$work/zones/$z.records" || echo "$t IN A 192.0.2.25"
            done
        cat "$work/zones/$z.records"
    } >"$zf"
    if named-checkzone -i local -k fail -n fail "$z" "$zf" >"$work/zones/$z.log" 2>&1 &&
        ! grep -qi 'out-of-zone\|ignoring' "$work/zones/$z.log"; then
        pass "named-checkzone $z ($(grep -c . "$work/zones/$z.records") records)"
    else
        indent <"$work/zones/$z.log"
        indent <"$zf"
        fail "named-checkzone $z"
    fi
    for s in _submissions _submission _imaps _imap _pop3s _pop3; do
        check "zone $z has an SRV record for $s._tcp" \
            grep -q "^$s\._tcp\.$z\. .* IN SRV " "$work/zones/$z.records"
    done
    check "zone $z has autoconfig.$z CNAME" grep -q "^autoconfig\.$z\. .* IN CNAME " "$work/zones/$z.records"
done

if command -v python3 >/dev/null; then
    # The JSON form names the same zones.
    json_zones=$(mc dns --root "$fixture" --format json 2>/dev/null |
        python3 -c 'import json, sys; print(" ".join(sorted(z["domain"] for z in json.load(sys.stdin))))')
    check "mailconf dns --format json is JSON with the same zones" \
        [ "$json_zones" = "$(echo "$zones" | sort | tr '\n' ' ' | sed 's/ $//')" ]
fi

step "TLS certificate"
mapfile -t names < <(mc webserver nginx --root "$fixture" --out "$out" --names 2>/dev/null)
san=$(printf 'DNS:%s,' "${names[@]}")
san=${san%,}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=${names[0]}" -addext "subjectAltName=$san" \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>"$work/openssl.log" ||
    { indent <"$work/openssl.log"; die "openssl req"; }
chmod 644 "$work/key.pem"
pass "self-signed certificate for ${names[*]}"

# A free port on 127.0.0.1 for the running servers.
free_port() {
    local p
    for p in "$@"; do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
    done
    return 1
}

# fetch NAME PORT PATH -> "CODE CONTENT-TYPE" on stdout, body in $work/body
fetch() {
    curl -sk --max-time 10 --resolve "$1:$2:127.0.0.1" -o "$work/body" \
        -w '%{http_code} %{content_type}' "https://$1:$2$3"
}

# serve_checks SERVER PORT: the fetches every server must pass.
serve_checks() {
    local server=$1 port=$2 d got
    for d in "${domains[@]}"; do
        got=$(fetch "autoconfig.$d" "$port" /mail/config-v1.1.xml)
        check "$server: https://autoconfig.$d/mail/config-v1.1.xml -> 200 application/xml (got: $got)" \
            [ "$got" = "200 application/xml" ]
        check "$server: autoconfig.$d serves exactly $d/mail/config-v1.1.xml" \
            cmp -s "$work/body" "$out/$d/mail/config-v1.1.xml"
        got=$(fetch "autoconfig.$d" "$port" /nothing)
        check "$server: https://autoconfig.$d/nothing -> 404 (got: ${got%% *})" [ "${got%% *}" = 404 ]
        for p in /mail/ /mail /.well-known/autoconfig/mail/config-v1.1.xml /mail/config-v1.1.xml.bak; do
            got=$(fetch "autoconfig.$d" "$port" "$p")
            check "$server: https://autoconfig.$d$p -> 404 (got: ${got%% *})" [ "${got%% *}" = 404 ]
        done
    done
}

step "nginx"
mkdir -p "$work/nginx/tmp"
mc webserver nginx --root "$fixture" --out "$out" --tls-cert "$work/cert.pem" \
    --tls-key "$work/key.pem" >"$work/nginx/mailconf.conf" 2>/dev/null ||
    fail "mailconf webserver nginx exit status"
# The .well-known location from the snippet's comment, in a server block
# for the domains themselves (as an administrator would paste it).
sed -n '/^#    location = \/\.well-known\//,/^#    }/p' "$work/nginx/mailconf.conf" |
    sed 's/^#//' >"$work/nginx/well-known.location"
check "nginx snippet's comment has the .well-known location" \
    grep -q 'location = /.well-known/autoconfig/mail/config-v1.1.xml' "$work/nginx/well-known.location"
write_nginx_conf() { # write_nginx_conf SNIPPET LISTEN
    cat >"$nginx_conf" <<EOF
# Written by mailconf's .ci/web-test.sh.
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $work/nginx/access.log;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;

    include $1;

    # The domains' own site.
    server {
        listen $2;
        server_name ${domains[*]};
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        root $work/site;
$(sed 's/^/    /' "$work/nginx/well-known.location")
        location / {
            return 404;
        }
    }
}
EOF
}
write_nginx_conf "$work/nginx/mailconf.conf" "443 ssl"
if nginx -t -q -p "$work/nginx" -e "$work/nginx/error.log" -c "$nginx_conf" >"$work/nginx/t.log" 2>&1; then
    pass "nginx -t (snippet as printed, in the http context, with the .well-known location)"
else
    indent <"$work/nginx/t.log"
    fail "nginx -t"
fi
# Run it on loopback: only the listen lines change.
port=$(free_port 18443 28443 38443 48443) || die "no free port for nginx"
sed -e "s/^\( *\)listen 443 ssl;/\1listen 127.0.0.1:$port ssl;/" -e '/listen \[::\]:443 ssl;/d' \
    "$work/nginx/mailconf.conf" >"$work/nginx/mailconf-loopback.conf"
write_nginx_conf "$work/nginx/mailconf-loopback.conf" "127.0.0.1:$port ssl"
if nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$nginx_conf" >"$work/nginx/start.log" 2>&1; then
    pass "nginx started on 127.0.0.1:$port"
    for _ in $(seq 50); do [ -s "$work/nginx/nginx.pid" ] && break; sleep 0.1; done
    serve_checks nginx "$port"
    for d in "${domains[@]}"; do
        got=$(fetch "$d" "$port" /.well-known/autoconfig/mail/config-v1.1.xml)
        check "nginx: https://$d/.well-known/autoconfig/mail/config-v1.1.xml -> 200 application/xml (got: $got)" \
            [ "$got" = "200 application/xml" ]
        check "nginx: $d serves exactly $d/.well-known/autoconfig/mail/config-v1.1.xml" \
            cmp -s "$work/body" "$out/$d/.well-known/autoconfig/mail/config-v1.1.xml"
        got=$(fetch "$d" "$port" /.well-known/autoconfig/mail/other.xml)
        check "nginx: https://$d/.well-known/autoconfig/mail/other.xml -> 404 (got: ${got%% *})" [ "${got%% *}" = 404 ]
    done
    got=$(fetch unknown.invalid "$port" /mail/config-v1.1.xml)
    check "nginx: an unknown host name gets no file (got: ${got%% *})" [ "${got%% *}" = 404 ]
    nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$nginx_conf" -s stop 2>/dev/null
    for _ in $(seq 50); do [ -e "$work/nginx/nginx.pid" ] || break; sleep 0.1; done
    check "nginx stopped" [ ! -e "$work/nginx/nginx.pid" ]
else
    indent <"$work/nginx/start.log"
    indent <"$work/nginx/error.log" 2>/dev/null
    fail "nginx start on 127.0.0.1:$port"
fi

step "apache"
# A private Apache configuration directory (apache2ctl reads
# APACHE_CONFDIR/envvars and APACHE_CONFDIR/apache2.conf).
mkdir -p "$apache_dir/run" "$apache_dir/log" "$apache_dir/lock"
cat >"$apache_dir/envvars" <<EOF
unset HOME
export APACHE_RUN_USER=www-data
export APACHE_RUN_GROUP=www-data
export APACHE_PID_FILE=$apache_dir/run/apache2.pid
export APACHE_RUN_DIR=$apache_dir/run
export APACHE_LOCK_DIR=$apache_dir/lock
export APACHE_LOG_DIR=$apache_dir/log
export LANG=C
EOF
mc webserver apache --root "$fixture" --out "$out" --tls-cert "$work/cert.pem" \
    --tls-key "$work/key.pem" >"$apache_dir/mailconf.conf" 2>/dev/null ||
    fail "mailconf webserver apache exit status"
write_apache_conf() { # write_apache_conf SNIPPET LISTEN
    cat >"$apache_dir/apache2.conf" <<EOF
# Written by mailconf's .ci/web-test.sh: the modules Debian enables by
# default that the snippet needs, plus ssl.
ServerRoot /etc/apache2
ServerName localhost
PidFile \${APACHE_PID_FILE}
DefaultRuntimeDir \${APACHE_RUN_DIR}
Mutex file:\${APACHE_LOCK_DIR} default
User \${APACHE_RUN_USER}
Group \${APACHE_RUN_GROUP}
ErrorLog \${APACHE_LOG_DIR}/error.log
LogLevel warn
Include mods-available/mpm_event.load
Include mods-available/mpm_event.conf
Include mods-available/authz_core.load
Include mods-available/alias.load
Include mods-available/mime.load
Include mods-available/mime.conf
Include mods-available/headers.load
Include mods-available/socache_shmcb.load
Include mods-available/ssl.load
Include mods-available/ssl.conf
<Directory />
    AllowOverride None
    Require all denied
</Directory>
Listen $2 https
Include $1
EOF
    [ -z "${3:-}" ] || echo "Include $3" >>"$apache_dir/apache2.conf"
}
write_apache_conf "$apache_dir/mailconf.conf" 443
if APACHE_CONFDIR=$apache_dir apache2ctl configtest >"$apache_dir/t.log" 2>&1; then
    pass "apache2ctl configtest (snippet as printed, with mod_ssl)"
else
    indent <"$apache_dir/t.log"
    fail "apache2ctl configtest"
fi
aport=$(free_port 18444 28444 38444 48444) || die "no free port for apache"
sed "s/<VirtualHost \*:443>/<VirtualHost 127.0.0.1:$aport>/" "$apache_dir/mailconf.conf" \
    >"$apache_dir/mailconf-loopback.conf"
# The domains' own sites, each with the Alias line from the snippet's
# comment (as an administrator would paste it).
for d in "${domains[@]}"; do
    alias_line=$(sed -n "s|^#   $d: \(Alias .*\)|\1|p" "$apache_dir/mailconf.conf")
    [ -n "$alias_line" ] || fail "apache snippet's comment has an Alias line for $d"
    cat <<EOF
<VirtualHost 127.0.0.1:$aport>
    ServerName $d
    DocumentRoot "$work/site"
    SSLEngine on
    SSLCertificateFile "$work/cert.pem"
    SSLCertificateKeyFile "$work/key.pem"
    $alias_line
</VirtualHost>
EOF
done >"$apache_dir/sites.conf"
write_apache_conf "$apache_dir/mailconf-loopback.conf" "127.0.0.1:$aport" "$apache_dir/sites.conf"
if APACHE_CONFDIR=$apache_dir apache2ctl start >"$apache_dir/start.log" 2>&1; then
    for _ in $(seq 50); do
        [ -s "$apache_dir/run/apache2.pid" ] && curl -sk -o /dev/null --max-time 1 "https://127.0.0.1:$aport/" && break
        sleep 0.1
    done
    pass "apache started on 127.0.0.1:$aport"
    serve_checks apache "$aport"
    # The Alias line the snippet suggests for each domain's own virtual
    # host works through the snippet's top-level <Directory> grant.
    for d in "${domains[@]}"; do
        got=$(fetch "$d" "$aport" /.well-known/autoconfig/mail/config-v1.1.xml)
        check "apache: https://$d/.well-known/autoconfig/mail/config-v1.1.xml -> 200 application/xml (got: $got)" \
            [ "$got" = "200 application/xml" ]
        check "apache: $d serves exactly $d/.well-known/autoconfig/mail/config-v1.1.xml" \
            cmp -s "$work/body" "$out/$d/.well-known/autoconfig/mail/config-v1.1.xml"
    done
    APACHE_CONFDIR=$apache_dir apache2ctl stop >/dev/null 2>&1
    for _ in $(seq 50); do [ -e "$apache_dir/run/apache2.pid" ] || break; sleep 0.1; done
    check "apache stopped" [ ! -e "$apache_dir/run/apache2.pid" ]
else
    indent <"$apache_dir/start.log"
    indent <"$apache_dir/log/error.log" 2>/dev/null
    fail "apache start on 127.0.0.1:$aport"
fi

echo "web-test: $(( $(date +%s) - t0 ))s"
echo "web-test: $passes passed, $fails failed"
[ "$fails" -eq 0 ] || exit 1
