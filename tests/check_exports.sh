#!/usr/bin/env bash
# The shared library exports exactly the functions its public headers declare: every
# exported symbol must be declared in one of the headers given, and every function those
# headers declare must be exported (a header that forgot its visibility pragma fails here).
#   tests/check_exports.sh LIB.so HEADER...
# Prototypes are read from the headers with comments removed: a name followed by '(' at
# the start of a declaration, after its return type (static inline helpers excluded).
set -euo pipefail
lib=${1:?usage: check_exports.sh LIB.so HEADER...}
shift
[ $# -gt 0 ] || { echo "check_exports: no headers given" >&2; exit 2; }
command -v nm > /dev/null || { echo "check_exports: nm not found (binutils)" >&2; exit 2; }

# The BLAS/LAPACK error handlers that backend/cpu/cpu_gemm.c replaces so that OpenBLAS never
# prints: exported on purpose, to interpose on OpenBLAS's own; no header declares them.
ALLOWED="xerbla_ cblas_xerbla LAPACKE_xerbla"
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TWDBRV]$/ {print $3}' | sed 's/@.*//' |
           grep -vxF -f <(tr ' ' '\n' <<< "$ALLOWED") | sort -u)
declared=$(/usr/bin/env python3 - "$@" <<'PY'
import re, sys
names = set()
for path in sys.argv[1:]:
    text = open(path).read()
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)  # comments
    text = re.sub(r'(?m)^\s*#.*$', ' ', text)             # preprocessor lines
    text = re.sub(r'extern\s+"C"\s*\{', ' ', text)
    for stmt in text.split(';'):
        stmt = ' '.join(stmt.split())
        if not stmt or stmt.startswith(('typedef', 'static')) or '{' in stmt:
            stmt = stmt.split('}')[-1].strip()
            if not stmt or stmt.startswith(('typedef', 'static')):
                continue
        m = re.match(r'^(?:extern\s+)?(?:const\s+)?[A-Za-z_]\w*[\s\*]+(?:const\s+)?\**\s*(\w+)\s*\(', stmt)
        if m:
            names.add(m.group(1))
print('\n'.join(sorted(names)))
PY
)
status=0
extra=$(comm -23 <(echo "$exported") <(echo "$declared"))
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
if [ -n "$extra" ]; then
  echo "check_exports: $lib exports symbols no public header declares:"
  echo "$extra" | sed 's/^/  /'
  status=1
fi
if [ -n "$missing" ]; then
  echo "check_exports: public headers declare functions $lib does not export:"
  echo "$missing" | sed 's/^/  /'
  status=1
fi
[ $status -eq 0 ] && echo "check_exports: $(echo "$exported" | wc -l) exported symbols, each declared in a public header, and every declared function exported"
exit $status
