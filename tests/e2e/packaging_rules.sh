#!/usr/bin/env bash
# packaging: the alert rules are valid (promtool check rules), each alert
# does what its unit tests say (promtool test rules), and the example scrape
# configuration is a valid Prometheus configuration.
source "$(dirname "$0")/../packaging/lib.sh"
command -v promtool >/dev/null || skip "promtool is not installed"

rules=$PKG_SRC/prometheus/rampart.rules.yml
if promtool check rules "$rules" >"$TMP/out" 2>&1; then
	pass "promtool check rules: $(grep -o '[0-9]* rules found' "$TMP/out")"
else
	fail "promtool check rules $rules"
	cat "$TMP/out" >&2
fi

if promtool test rules "$RAMPART_SOURCE_DIR/tests/packaging/rules_test.yml" >"$TMP/out" 2>&1; then
	pass "promtool test rules tests/packaging/rules_test.yml"
else
	fail "promtool test rules"
	cat "$TMP/out" >&2
fi

# Every alert in the rules file has at least one test that expects it to fire.
missing=$(python3 - "$rules" "$RAMPART_SOURCE_DIR/tests/packaging/rules_test.yml" <<'PY'
import sys, yaml
alerts = {r["alert"] for g in yaml.safe_load(open(sys.argv[1]))["groups"] for r in g["rules"] if "alert" in r}
tested = {t["alertname"] for case in yaml.safe_load(open(sys.argv[2]))["tests"]
          for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
print(" ".join(sorted(alerts - tested)))
PY
)
if [[ -z $missing ]]; then
	pass "every alert has a test in which it fires"
else
	fail "alerts without a firing test: $missing"
fi

# The example configuration, with its certificate paths pointing at files
# that exist here (promtool checks that they do).
for f in fleet-ca.pem prometheus.pem prometheus.key; do : >"$TMP/$f"; done
sed -e "s#/etc/prometheus/rampart/#$TMP/#g" -e "s#/usr/share/rampart/prometheus/#$PKG_SRC/prometheus/#g" \
	"$PKG_SRC/prometheus/prometheus.example.yml" >"$TMP/prometheus.yml"
if promtool check config "$TMP/prometheus.yml" >"$TMP/out" 2>&1; then
	pass "promtool check config prometheus.example.yml"
else
	fail "promtool check config prometheus.example.yml"
	cat "$TMP/out" >&2
fi

finish
