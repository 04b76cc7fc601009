# shellcheck shell=bash
# Shared helpers for the ci/ scripts (sourced, not run).
# Messages go to stderr so stdout stays free for values a caller captures.

ci_name=${CI_NAME:-$(basename "$0" .sh)}

say() { printf '%s: %s\n' "$ci_name" "$*" >&2; }
die() { printf '%s: error: %s\n' "$ci_name" "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run as root, through sudo when we are not root and sudo can do it without a prompt.
as_root() {
    if is_root; then "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"
    else return 1
    fi
}

# Print the Debian mirror the machine's apt already uses: the first URI given
# for a Debian release suite (not -security/-updates, not another distribution).
# DEBIAN_MIRROR overrides; APT_ETC (default /etc/apt) is where to look. The
# mirror is read at run time on purpose: no host name lives in the repo.
debian_suites='^(buster|bullseye|bookworm|trixie|forky|duke|sid|oldstable|stable|testing|unstable)$'
debian_mirror() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then printf '%s\n' "$DEBIAN_MIRROR"; return 0; fi
    local etc=${APT_ETC:-/etc/apt} f uri
    for f in "$etc/sources.list.d/debian.sources" "$etc"/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        uri=$(awk -v suites="$debian_suites" 'BEGIN { RS = ""; FS = "\n" }
            {
                uri = ""; debian = 0
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
                    if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] ~ suites) debian = 1 }
                }
                if (uri != "" && debian) { print uri; exit }
            }' "$f")
        if [ -n "$uri" ]; then printf '%s\n' "$uri"; return 0; fi
    done
    for f in "$etc/sources.list" "$etc"/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        # deb [options] URI SUITE COMPONENTS...
        uri=$(awk -v suites="$debian_suites" '$1 == "deb" {
                i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i + 1) ~ suites) { print $i; exit } }' "$f")
        if [ -n "$uri" ]; then printf '%s\n' "$uri"; return 0; fi
    done
    return 1
}
