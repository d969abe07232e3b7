#!/usr/bin/env bash
# Fault: the agent's certificate file is replaced by garbage, by an expired
# certificate, and its key by one that does not match; each time SIGHUP asks
# for a reload. The old identity keeps serving (same certificate fingerprint
# in the handshake, /healthz answers), the failure is counted
# (tls_reload_failures in `rampart status --json`), and the metrics still
# scrape. Putting the original files back is taken again.
source "$(dirname "$0")/../load/lib.sh"
fx_init cert
t0=$SECONDS
CLIENT="$RAMPART_SOURCE_DIR/tests/load/tlsclient.py"
fx_config
fx_start
TLS=$FX_STATE/tls
cp "$TLS/cert.pem" "$FX_DIR/cert.orig"; cp "$TLS/key.pem" "$FX_DIR/key.orig"
fp0=$(fx_ns "$PY" "$CLIENT" fingerprint "$FX_PORT")
failures() { fx_cli status --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["components"]["https"]["tls_reload_failures"])'; }
daemon_reloads() { fx_cli status --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["reloads"] + d["failed_reloads"])'; }
metric() { fx_ns curl -sk "https://127.0.0.1:$FX_PORT/metrics" | grep "^$1" || true; }

# An expired certificate for the same key (valid until yesterday), and a
# fresh key of its own.
openssl req -new -key "$FX_DIR/key.orig" -subj /CN=expired -out "$FX_DIR/expired.csr"
openssl x509 -req -in "$FX_DIR/expired.csr" -key "$FX_DIR/key.orig" -days -1 -out "$FX_DIR/expired.pem" 2>/dev/null ||
  fx_fail "cannot make an expired certificate"
openssl x509 -in "$FX_DIR/expired.pem" -noout -checkend 0 >/dev/null && fx_fail "the test certificate is not expired"
openssl ecparam -name prime256v1 -genkey -noout -out "$FX_DIR/other.key" 2>/dev/null

n=0
try_fault() {  # try_fault WHAT: files are in place; SIGHUP and judge
  local what=$1 before after fp
  before=$(failures)
  kill -HUP "$FX_AGENT"
  fx_wait 10 test "$(failures)" -gt "$before" || fx_fail "$what: no reload failure counted (still $before)"
  after=$(failures)
  fp=$(fx_ns "$PY" "$CLIENT" fingerprint "$FX_PORT") || fx_fail "$what: no handshake"
  [[ $fp == "$fp0" ]] || fx_fail "$what: the served certificate changed ($fp)"
  fx_ns "$PY" "$CLIENT" health "$FX_PORT" 2 >/dev/null || fx_fail "$what: /healthz"
  kill -0 "$FX_AGENT" || fx_fail "$what: the agent died"
  # Prometheus sees the refusal too.
  metric 'rampart_tls_reloads_total{result="failure"}' | grep -q " $after\$" ||
    fx_fail "$what: rampart_tls_reloads_total{result=\"failure\"} is not $after: $(metric rampart_tls_reloads_total)"
  n=$((n + 1))
  fx_log "$what: refused, failures $before -> $after, fingerprint unchanged; $(grep -c . <<<"$(metric rampart_tls_handshakes_total)") handshake series; tls collector: $(metric 'node_scrape_collector_success{collector="tls"}')"
}
restore() { cp "$FX_DIR/cert.orig" "$TLS/cert.pem"; cp "$FX_DIR/key.orig" "$TLS/key.pem"; }

head -c 3000 /dev/urandom >"$TLS/cert.pem"
try_fault "garbage certificate"
restore
printf -- '-----BEGIN CERTIFICATE-----\nMIIB\n' >"$TLS/cert.pem"
try_fault "half-written certificate"
restore
cp "$FX_DIR/expired.pem" "$TLS/cert.pem"
try_fault "expired certificate"
restore
cp "$FX_DIR/other.key" "$TLS/key.pem"
try_fault "key that does not match"
restore
# Back to the original files: taken without a failure.
before=$(failures) done0=$(daemon_reloads)
kill -HUP "$FX_AGENT"
fx_wait 10 test "$(daemon_reloads)" -gt "$done0" || fx_fail "SIGHUP after restore: no reload"
[[ $(failures) == "$before" ]] || fx_fail "restoring the original files counted a failure"
[[ $(fx_ns "$PY" "$CLIENT" fingerprint "$FX_PORT") == "$fp0" ]] || fx_fail "fingerprint after restore"
fx_stop || fx_fail "agent exit status"
fx_log "PASS: $n certificate faults survived, in $((SECONDS - t0)) s"
