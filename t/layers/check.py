#!/usr/bin/python3
"""t/layers/check.py - every #include "..." in lib/LAYER/ names a header of LAYER itself or of
a layer LAYER links to (directly or below), as declared by posthorn_layer() in
lib/CMakeLists.txt; a file that breaks the layering is named with its line. The compiler
enforces the same rule (an upward header is not on the include path: see
t/layers/upward.c); this check also reports a header that only resolves by accident."""
import os
import re
import sys

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../.."))
lib = os.path.join(root, "lib")
deps = {}
text = open(os.path.join(lib, "CMakeLists.txt")).read()
for m in re.finditer(r"^posthorn_layer\((\w+)([^)]*)\)", text, re.M):
    args = m.group(2).split()
    d, mode = [], None
    for a in args:
        if a in ("DEPS", "PKGS"):
            mode = a
        elif mode == "DEPS":
            d.append(a)
    deps[m.group(1)] = d


def below(layer, seen=None):
    seen = set() if seen is None else seen
    for d in deps[layer]:
        if d not in seen:
            seen.add(d)
            below(d, seen)
    return seen


headers = {}
for layer in deps:
    for f in os.listdir(os.path.join(lib, layer)):
        if f.endswith((".h", ".def")):
            headers.setdefault(f, []).append(layer)
problems = []
for name, owners in headers.items():
    if len(owners) > 1:
        problems.append(f"lib: {name} exists in several layers: {', '.join(owners)}")
for layer in deps:
    allowed = below(layer) | {layer}
    folder = os.path.join(lib, layer)
    for f in sorted(os.listdir(folder)):
        if not f.endswith((".c", ".h")):
            continue
        for n, line in enumerate(open(os.path.join(folder, f), errors="replace"), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            owner = headers.get(m.group(1))
            if owner is None:
                problems.append(f"lib/{layer}/{f}:{n}: {m.group(1)} is not a header of any layer")
            elif owner[0] not in allowed:
                problems.append(f"lib/{layer}/{f}:{n}: includes {m.group(1)} of layer {owner[0]}, "
                                f"above {layer} (it may use: {', '.join(sorted(allowed))})")
for p in problems:
    print(p)
print(f"layers: {len(deps)} libraries, {sum(len(v) for v in headers.values())} headers, "
      f"{len(problems)} problems")
sys.exit(1 if problems else 0)
