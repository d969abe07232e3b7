# shellcheck shell=bash
# The fleet's certificates: one CA made for this run with `rampart tls ca
# init`, and per node a certificate from `rampart tls ca sign` naming the
# node and its addresses (Prometheus scrapes by address).

# ca_init DIR
ca_init() {
  "$RAMPART_BINARY" tls ca init "$1" && [[ -s $1/ca.pem && -s $1/ca-key.pem ]]
}

# ca_sign [--client] CA_DIR OUT_PREFIX DAYS HOST...: writes OUT_PREFIX.pem
# and OUT_PREFIX-key.pem; --client makes it usable as a client certificate.
ca_sign() {
  local client=()
  [[ $1 == --client ]] && client=(--client) && shift
  local ca=$1 out=$2 days=$3
  shift 3
  local IFS=,
  "$RAMPART_BINARY" tls ca sign "$ca" --hosts "$*" --days "$days" --out "$out" "${client[@]}" &&
    [[ -s $out.pem && -s $out-key.pem ]]
}

# cert_serial FILE: the serial number as openssl prints it (hex).
cert_serial() { openssl x509 -noout -serial -in "$1" | sed 's/^serial=//'; }

# served_serial NODE: the serial of the certificate NODE's agent presents to
# a new mTLS handshake from mon (what Prometheus would see).
served_serial() {
  local node=$1
  in_ns mon timeout 5 openssl s_client -connect "$(v4 "$node"):9643" -CAfile "$E2E_CA/ca.pem" \
    -cert "$E2E_TMP/prometheus.pem" -key "$E2E_TMP/prometheus-key.pem" \
    -verify_return_error </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'
}
