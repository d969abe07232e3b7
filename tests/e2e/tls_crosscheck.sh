#!/usr/bin/env bash
# A real `rampart agent` with mTLS (RequireAndVerifyClientCert, a fleet CA
# from `rampart tls ca init`) checked with the openssl and curl binaries,
# in a network namespace of its own (loopback only):
#   TLS 1.3 and 1.2 handshakes succeed, TLS 1.1 is refused;
#   curl with a fleet-signed client certificate gets /healthz, with none or
#   with one from another CA it is refused;
#   a session saved by `openssl s_client -sess_out` is resumed (-sess_in).
# Needs root. Env: RAMPART_BINARY; RAMPART_E2E_KEEP=1 keeps the temp dir.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/tls_agent.sh"
tls_setup

make_pki() {
  local rampart=$RAMPART_BINARY d=$TLS_TMP
  mkdir -p "$d/tls"
  "$rampart" tls ca init "$d/ca" &&
    "$rampart" tls ca sign "$d/ca" --hosts localhost,127.0.0.1 --days 30 --out "$d/tls/node" &&
    mv "$d/tls/node.pem" "$d/tls/cert.pem" && mv "$d/tls/node-key.pem" "$d/tls/key.pem" &&
    "$rampart" tls ca sign "$d/ca" --client --hosts prometheus --days 30 --out "$d/client" &&
    "$rampart" tls ca init "$d/other-ca" &&
    "$rampart" tls ca sign "$d/other-ca" --client --hosts intruder --days 30 --out "$d/intruder"
}
make_pki >"$TLS_TMP/pki.log" 2>&1 || { cat "$TLS_TMP/pki.log" >&2; echo "FAIL: certificates" >&2; exit 1; }
tls_agent_start "client_auth_type: RequireAndVerifyClientCert" "client_ca_file: $TLS_TMP/ca/ca.pem" || exit 1

passed=0 failed=0
check() {  # check NAME CMD...: CMD's status is the verdict
  local name=$1
  shift
  if "$@"; then tls_pass "$name"; passed=$((passed + 1)); else tls_fail "$name"; failed=$((failed + 1)); fi
}

CLIENT=(-cert "$TLS_TMP/client.pem" -key "$TLS_TMP/client-key.pem")
sclient() {  # sclient ARGS...: one handshake with the fleet client cert; prints s_client's report
  in_tls_ns timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$TLS_TMP/ca/ca.pem" \
    -verify_return_error "${CLIENT[@]}" "$@" </dev/null 2>&1
}
handshake_ok() {  # handshake_ok PROTO-FLAG EXPECTED-VERSION
  local out
  out=$(sclient "$1") || { echo "$out" | tail -n 5 >&2; return 1; }
  grep -q "Protocol *: *$2\|New, $2" <<<"$out" && grep -q 'Verify return code: 0 (ok)' <<<"$out"
}
handshake_refused() {  # the server refuses (an alert), not the client's own settings
  local out
  if out=$(sclient "$1" -cipher 'DEFAULT@SECLEVEL=0'); then echo "$out" | grep -E 'Protocol|Cipher' >&2; return 1; fi
  grep -q 'alert protocol version' <<<"$out" || { echo "$out" | grep -m2 -i error >&2; return 1; }
}
check "openssl s_client -tls1_3: handshake, chain verified" handshake_ok -tls1_3 TLSv1.3
check "openssl s_client -tls1_2: handshake, chain verified" handshake_ok -tls1_2 TLSv1.2
check "openssl s_client -tls1_1: refused by the server (protocol version alert)" handshake_refused -tls1_1

curl_get() {  # curl_get CURL-ARGS...: prints the HTTP status (000: no answer)
  in_tls_ns curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$TLS_TMP/ca/ca.pem" \
    "$@" "https://127.0.0.1:$TLS_PORT/healthz"
}
curl_status_is() {  # curl_status_is WANT CURL-ARGS...
  local want=$1 got
  shift
  got=$(curl_get "$@")
  [[ $got == "$want" ]] || { echo "    curl: HTTP $got, expected $want" >&2; return 1; }
}
check "curl --cacert with a fleet client certificate: 200" \
  curl_status_is 200 --cert "$TLS_TMP/client.pem" --key "$TLS_TMP/client-key.pem"
check "curl without a client certificate: refused (no HTTP answer)" curl_status_is 000
check "curl with a client certificate of another CA: refused (no HTTP answer)" \
  curl_status_is 000 --cert "$TLS_TMP/intruder.pem" --key "$TLS_TMP/intruder-key.pem"

resumed() {  # resumed PROTO-FLAG: a saved session is reused by the next handshake
  local sess=$TLS_TMP/session$1.pem first second
  rm -f "$sess"
  # -ign_eof with a request: s_client stays until the server's answer, so a
  # TLS 1.3 ticket (sent after the handshake) is read before it saves.
  first=$(printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
    in_tls_ns timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$TLS_TMP/ca/ca.pem" \
      "${CLIENT[@]}" "$1" -ign_eof -sess_out "$sess" 2>&1)
  [[ -s $sess ]] || { echo "    no session saved: $(grep -m1 -i error <<<"$first")" >&2; return 1; }
  second=$(sclient "$1" -sess_in "$sess")
  grep -q '^Reused' <<<"$second" || { grep -m2 -E '^(New|Reused)' <<<"$second" >&2; return 1; }
}
check "session resumption, TLS 1.3 (-sess_out, then -sess_in: Reused)" resumed -tls1_3
check "session resumption, TLS 1.2 (-sess_out, then -sess_in: Reused)" resumed -tls1_2

echo "$passed passed, $failed failed"
((failed == 0))
