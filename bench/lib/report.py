"""report.py: turn the benchmark's results file into the table and the one-line-per-figure
summary.

Input (argv[1]): tab-separated lines NAME, POSTHORN, INCUMBENT, UNIT, higher|lower, NOTE,
where a value may be a word ("skipped", "failed") instead of a number. The ratio is
posthorn/incumbent when higher is better and incumbent/posthorn when lower is better, so a
ratio above 1 always means Posthorn is better.
Output: the table, then lines "bench: NAME posthorn=X incumbent=Y unit=U ratio=R"."""
import sys


def num(v):
    try:
        return float(v)
    except ValueError:
        return None


def fmt(v):
    x = num(v)
    if x is None:
        return v
    if x == 0 or abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def ratio(p, i, better):
    p, i = num(p), num(i)
    if p is None or i is None or p <= 0 or i <= 0:
        return "n/a"
    return f"{(p / i if better == 'higher' else i / p):.2f}"


def main():
    rows = []
    with open(sys.argv[1]) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 5:
                rows.append((parts + [""])[:6])
    head = ("figure", "posthorn", "incumbent", "unit", "ratio", "note")
    table = [head] + [(n, fmt(p), fmt(i), u, ratio(p, i, b), note)
                      for n, p, i, u, b, note in rows]
    widths = [max(len(r[c]) for r in table) for c in range(5)]
    for k, r in enumerate(table):
        cells = [r[c].ljust(widths[c]) if c in (0, 3) else r[c].rjust(widths[c])
                 for c in range(5)]
        print("  ".join(cells) + ("  " + r[5] if r[5] else ""))
        if k == 0:
            print("  ".join("-" * w for w in widths) + "  ----")
    print()
    for n, p, i, u, b, _ in rows:
        print(f"bench: {n} posthorn={fmt(p)} incumbent={fmt(i)} unit={u} "
              f"ratio={ratio(p, i, b)}")


if __name__ == "__main__":
    main()
