#!/usr/bin/env python3
"""Fails when a public function in lagrad's headers has no documentation comment.

    scripts/check-doc-comments.py [HEADER...]     (default: include/lagrad/*.h)

The headers document prototypes with plain /* */ comments, SQLite style, often one comment
over a group of related prototypes. Doxygen cannot be told to read /* */ as documentation,
so it cannot check them (docs/Doxyfile.in feeds it the headers through a filter for the
browsable reference). This script checks them itself, with these rules:

- A prototype is a top-level declaration that ends in ';', has a parameter list and is not
  a typedef; struct bodies, macros and extern "C" guards are skipped.
- It is documented when a comment ends on the line just before it starts (or on the same
  line, before it), or a comment follows it on its last line (`int f(void); /* ... */`),
  or the declaration just before it (ending on the line before it starts, no blank line
  between) is documented: a comment covers the group of declarations under it.

Prints FILE:LINE: NAME for each undocumented prototype and exits 1 if there is any, 0 if
none, 2 on bad usage.
"""
import glob
import os
import re
import sys


def scan(text):
    """Comments and top-level declarations of a C header, as dicts with 1-based lines."""
    items = []
    i, n, line = 0, len(text), 1
    depth = 0
    stmt = None  # the declaration being read: {"start", "text"}
    at_line_start = True
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            items.append({"kind": "comment", "start": line,
                          "end": line + text.count("\n", i, j)})
            line += text.count("\n", i, j)
            i = j
            at_line_start = False
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            items.append({"kind": "comment", "start": line, "end": line})
            i = j
            continue
        if c == "#" and at_line_start and stmt is None:
            # A preprocessor line, with its backslash continuations.
            while i < n and not (text[i] == "\n" and text[i - 1] != "\\"):
                if text[i] == "\n":
                    line += 1
                i += 1
            continue
        if c in " \t\r\f\v\n":
            if stmt is not None and depth == 0:
                stmt["text"] += " "
            if c == "\n":
                line += 1
                at_line_start = True
            i += 1
            continue
        at_line_start = False
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            if stmt is not None and depth == 0:
                stmt["text"] += text[i:j + 1]
            i = j + 1
            continue
        if stmt is None:
            stmt = {"kind": "decl", "start": line, "text": ""}
        if c == "{":
            # extern "C" { opens a scope that holds the whole header: not a body.
            if depth == 0 and re.fullmatch(r'\s*extern\s*"C"\s*', stmt["text"]):
                stmt = None
                i += 1
                continue
            depth += 1
        elif c == "}":
            if depth == 0:  # the close of extern "C" {
                stmt = None
                i += 1
                continue
            depth -= 1
        elif depth == 0:
            stmt["text"] += c
            if c == ";":
                stmt["end"] = line
                items.append(stmt)
                stmt = None
        i += 1
    return items


def prototype_name(decl):
    """The function name if decl declares a function, else None."""
    t = " ".join(decl.split())
    if t.startswith("typedef") or "(" not in t:
        return None
    m = re.search(r"([A-Za-z_]\w*)\s*\(", t)
    if not m or m.group(1) in ("sizeof", "__attribute__"):
        return None
    # A function-pointer variable ("void (*f)(void);") is not a prototype.
    if re.search(r"\(\s*\*", t[: m.end()]):
        return None
    return m.group(1)


def undocumented(path):
    with open(path, encoding="utf-8") as f:
        items = scan(f.read())
    missing = []
    prev = None  # the item before the current one
    for k, it in enumerate(items):
        if it["kind"] == "decl":
            doc = False
            if prev is not None and prev["end"] in (it["start"] - 1, it["start"]):
                doc = prev["kind"] == "comment" or prev.get("documented", False)
            nxt = items[k + 1] if k + 1 < len(items) else None
            if nxt is not None and nxt["kind"] == "comment" and nxt["start"] == it["end"]:
                doc = True
            it["documented"] = doc
            name = prototype_name(it["text"])
            if name and not doc:
                missing.append((it["start"], name))
        prev = it
    return missing


def main(argv):
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    paths = argv[1:] or sorted(glob.glob(os.path.join(root, "include", "lagrad", "*.h")))
    if not paths:
        print("check-doc-comments: no headers found", file=sys.stderr)
        return 2
    bad = 0
    checked = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            checked += sum(1 for it in scan(f.read())
                           if it["kind"] == "decl" and prototype_name(it["text"]))
        for line, name in undocumented(path):
            print(f"{os.path.relpath(path)}:{line}: {name} has no documentation comment")
            bad += 1
    print(f"check-doc-comments: {checked} prototypes in {len(paths)} headers, "
          f"{bad} undocumented")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
