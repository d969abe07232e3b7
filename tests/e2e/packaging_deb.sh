#!/usr/bin/env bash
# packaging: the .deb built by CPack from the build tree the tests run in is
# named rampart_VERSION_ARCH.deb, holds what SPEC.md and docs/packaging.md
# say with Debian's owners and modes, depends on what the binary links
# (not on nftables), and lintian finds no error in it; every lintian warning
# is explained in docs/packaging.md. The configurations it ships pass
# `rampart check`.
source "$(dirname "$0")/../packaging/lib.sh"

[[ -x "${RAMPART_BINARY:-}" ]] || skip "RAMPART_BINARY is not set to a built rampart"
build=$(dirname "$RAMPART_BINARY")
[[ -f $build/CPackConfig.cmake ]] || { fail "no CPackConfig.cmake in $build"; finish; }
for tool in cpack dpkg-deb dpkg-shlibdeps lintian; do
	command -v $tool >/dev/null || skip "$tool is not installed"
done

# 1. Build it, as docs/packaging.md says (cpack in the build tree), into a
# directory of our own.
if ! cpack --config "$build/CPackConfig.cmake" -B "$TMP/out" >"$TMP/cpack.log" 2>&1; then
	fail "cpack failed:"
	tail -30 "$TMP/cpack.log" >&2
	finish
fi
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
arch=$(dpkg --print-architecture)
deb=$TMP/out/rampart_${version}_${arch}.deb
if [[ -f $deb ]]; then
	pass "built $(basename "$deb")"
else
	fail "no rampart_${version}_${arch}.deb; cpack made: $(ls "$TMP/out")"
	finish
fi

# 2. Control fields.
depends=$(dpkg-deb -f "$deb" Depends)
[[ $(dpkg-deb -f "$deb" Package) == rampart ]] || fail "Package is not rampart"
[[ $(dpkg-deb -f "$deb" Version) == "$version" ]] || fail "Version is not $version"
[[ $depends == *libc6* ]] || fail "Depends has no libc6 (shlibdeps did not run?): $depends"
[[ $depends == *adduser* ]] || fail "Depends lacks adduser (postinst uses it): $depends"
[[ $depends != *nftables* ]] || fail "Depends on nftables, which the agent does not need: $depends"
pass "Depends: $depends"

# 3. Contents, owners and modes.
dpkg-deb -c "$deb" >"$TMP/contents"
expect() { # MODE PATH
	local line
	line=$(awk -v p="./$2" '$6 == p' "$TMP/contents")
	if [[ -z $line ]]; then
		fail "the package lacks $2"
	elif [[ $(awk '{print $1, $2}' <<<"$line") != "$1 root/root" ]]; then
		fail "$2 is '$(awk '{print $1, $2}' <<<"$line")', expected '$1 root/root'"
	fi
}
expect -rwxr-xr-x usr/bin/rampart
expect -rw-r--r-- lib/systemd/system/rampart.service
expect -rw-r--r-- etc/rampart/rampart.yaml
for role in web app db lb; do
	expect -rw-r--r-- "usr/share/doc/rampart/examples/$role.yaml"
done
expect -rw-r--r-- usr/share/doc/rampart/copyright
expect -rw-r--r-- usr/share/doc/rampart/changelog.gz
expect -rw-r--r-- usr/share/man/man1/rampart.1.gz
expect -rw-r--r-- usr/share/rampart/grafana/rampart-fleet.json
expect -rw-r--r-- usr/share/rampart/grafana/rampart-node.json
expect -rw-r--r-- usr/share/rampart/prometheus/rampart.rules.yml
expect -rw-r--r-- usr/share/rampart/prometheus/prometheus.example.yml
if awk '$1 ~ /^d/ && $1 != "drwxr-xr-x"' "$TMP/contents" | grep -q .; then
	fail "directories not 0755: $(awk '$1 ~ /^d/ && $1 != "drwxr-xr-x" {print $6}' "$TMP/contents")"
fi
pass "contents: $(grep -vc '/$' "$TMP/contents") files"

mkdir -p "$TMP/control" "$TMP/root"
dpkg-deb -e "$deb" "$TMP/control"
dpkg-deb -x "$deb" "$TMP/root"
[[ $(cat "$TMP/control/conffiles") == /etc/rampart/rampart.yaml ]] ||
	fail "conffiles is not exactly /etc/rampart/rampart.yaml: $(cat "$TMP/control/conffiles")"
[[ -s $TMP/control/md5sums ]] || fail "no md5sums"
(cd "$TMP/root" && md5sum --quiet -c "$TMP/control/md5sums") || fail "md5sums do not match the files"
for s in postinst prerm postrm; do
	[[ $(stat -c %a "$TMP/control/$s") == 755 ]] || fail "$s is not mode 0755"
	sh -n "$TMP/control/$s" || fail "$s: sh syntax error"
done
if command -v shellcheck >/dev/null; then
	shellcheck -s sh "$TMP/control/postinst" "$TMP/control/prerm" "$TMP/control/postrm" ||
		fail "shellcheck of the maintainer scripts"
fi
pass "control: conffiles, md5sums, maintainer scripts"

# 4. The documents.
changelog_version=$(zcat "$TMP/root/usr/share/doc/rampart/changelog.gz" | sed -n '1s/^rampart (\([^)]*\)).*/\1/p')
[[ $changelog_version == "$version" ]] ||
	fail "changelog's newest entry is $changelog_version, the package $version"
if ! LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$TMP/root/usr/share/man/man1/rampart.1.gz" \
	>/dev/null 2>"$TMP/man.err" || [[ -s $TMP/man.err ]]; then
	fail "man page warnings:"
	cat "$TMP/man.err" >&2
fi
grep -q '^License: Apache-2.0' "$TMP/root/usr/share/doc/rampart/copyright" ||
	fail "copyright does not say Apache-2.0"
# Every verb the binary offers (its --help) is in the man page.
man_text=$(MANWIDTH=200 man -l "$TMP/root/usr/share/man/man1/rampart.1.gz" 2>/dev/null | tr -s ' ')
subcommands() { # rampart [GROUP] --help -> the names under "Subcommands:"
	"$RAMPART_BINARY" "$@" --help 2>/dev/null |
		awk '/^[A-Za-z ]*[Ss]ubcommands:/ {on = 1; next} on && /^  *[a-z]/ {print $1} on && /^$/ {on = 0}'
}
verbs=$(subcommands)
[[ -n $verbs ]] || fail "rampart --help lists no subcommands"
for verb in $verbs; do
	[[ $man_text == *"rampart $verb"* || $man_text == *" $verb "* ]] ||
		fail "man page lacks the verb '$verb' (rampart --help)"
	for sub in $(subcommands "$verb"); do
		[[ $man_text == *"$verb $sub"* ]] || fail "man page lacks '$verb $sub' (rampart $verb --help)"
	done
done
pass "changelog, copyright, man page"

# 5. The shipped configurations are valid for the binary they ship with.
for f in etc/rampart/rampart.yaml usr/share/doc/rampart/examples/{web,app,db,lb}.yaml; do
	if "$RAMPART_BINARY" check --config "$TMP/root/$f" >"$TMP/check.out" 2>&1; then
		pass "rampart check $f"
	else
		fail "rampart check $f:"
		cat "$TMP/check.out" >&2
	fi
done

# 6. lintian: no errors; each warning explained in docs/packaging.md.
lintian --no-tag-display-limit "$deb" >"$TMP/lintian" 2>&1
if grep -q '^E: ' "$TMP/lintian"; then
	fail "lintian errors:"
	grep '^E: ' "$TMP/lintian" >&2
else
	pass "lintian: no errors"
fi
doc=$RAMPART_SOURCE_DIR/docs/packaging.md
while read -r tag; do
	if grep -qF -- "$tag" "$doc" 2>/dev/null; then
		echo "lintian warning (explained in docs/packaging.md): $tag"
	else
		fail "lintian warning $tag is not explained in docs/packaging.md"
	fi
done < <(sed -n 's/^W: rampart[^:]*: \([a-z0-9-]*\).*/\1/p' "$TMP/lintian" | sort -u)

finish
