#!/usr/bin/env bash
# Writes a man page (roff) to stdout from a program's own --help, so the page always lists the options the binary
# has: the top-level help, then each command's (`PROGRAM COMMAND --help`) for the commands its help lists, then the
# hand-written sections of EXTRA (EXIT STATUS, FILES, SEE ALSO, ...), which are roff already.
#   packaging/man.sh NAME SECTION SUMMARY DATE VERSION EXTRA -- PROGRAM [PREFIX ARGS...]
# PROGRAM and anything after it is the command line to run with --help appended; for portpublisherd that is
# `unshare -n …/portpublisherd`, so even its --help runs in a throwaway network namespace.
set -euo pipefail

[ $# -ge 8 ] && [ "$7" = -- ] || { echo "usage: man.sh NAME SECTION SUMMARY DATE VERSION EXTRA -- PROGRAM..." >&2; exit 2; }
name=$1 section=$2 summary=$3 date=$4 version=$5 extra=$6
shift 7
program=("$@")

# System.CommandLine's help: "Title:" lines open a part; its lines are "  TERM  DESCRIPTION" (two or more spaces
# between them) or "  text". Prints roff for one help text; $1: the heading for its options (OPTIONS or a
# subsection), $2: 1 for the top level (DESCRIPTION and SYNOPSIS are taken from it).
to_roff() {
  awk -v top="$2" -v name="$name" '
    function esc(s) { gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); if (s ~ /^[.\x27]/) { s = "\\&" s }; return s }
    function term(s) { return "\\fB" esc(s) "\\fR" }
    /^[A-Za-z][A-Za-z ]*:$/ { part = $0; sub(/:$/, "", part); next }
    /^$/ { next }
    {
      line = $0; sub(/^ +/, "", line)
      if (part == "Description") { description = description (description == "" ? "" : "\n") esc(line); next }
      if (part == "Usage") { usage = line; next }
      if (part == "Commands") { next }  # each command gets its own subsection from its own help
      n = index(line, "  ")
      if (n == 0) { t = line; d = "" } else { t = substr(line, 1, n - 1); d = substr(line, n); sub(/^ +/, "", d) }
      items[part] = items[part] ".TP\n" term(t) "\n" esc(d) "\n"
      if (!(part in seen)) { seen[part] = 1; order[++parts] = part }
    }
    END {
      if (top == 1) {
        rest = usage; sub(/^[^ ]+ */, "", rest)
        printf ".SH SYNOPSIS\n.B %s\n%s\n.SH DESCRIPTION\n%s\n", name, esc(rest), description
      } else {
        printf ".SS \"%s\"\n%s\n", esc(usage), description
      }
      for (i = 1; i <= parts; i++) {
        p = order[i]
        if (top == 1) { printf ".SH %s\n", toupper(p) } else { printf ".PP\n%s:\n", p }
        printf "%s", items[p]
      }
    }'
}

help=$("${program[@]}" --help)
# The commands: the first word of each line of the "Commands:" part.
mapfile -t commands < <(printf '%s\n' "$help" | awk '/^[A-Za-z ]+:$/ { inside = ($0 == "Commands:"); next } inside && NF { print $1 }')

printf '.TH %s %s "%s" "%s %s" "%s"\n' "$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')" "$section" "$date" "$name" "$version" \
  "$([ "$section" = 8 ] && echo 'System Administration' || echo 'User Commands')"
printf '.SH NAME\n%s \\- %s\n' "$name" "$summary"
printf '%s\n' "$help" | to_roff OPTIONS 1
if [ ${#commands[@]} -gt 0 ]; then
  printf '.SH COMMANDS\n'
  for c in "${commands[@]}"; do
    "${program[@]}" "$c" --help | to_roff "" 0
  done
fi
cat "$extra"
