# pyalloc.py: benchmark workload for python3 (run with PYTHONMALLOC=malloc so
# every object goes through malloc): builds and drops dicts, lists, strings
# and tuples in rounds. Deterministic; prints a checksum.
# Usage: python3 pyalloc.py ROUNDS
import sys

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
check = 0
keep = []
for r in range(rounds):
    table = {}
    for i in range(20000):
        key = "key-%d-%d" % (r, i)
        table[key] = {"id": i, "name": key.upper(), "tags": [key[:3], str(i % 97)]}
    words = [k.split("-") for k in table]
    joined = ",".join(w[1] for w in words)
    check += len(joined) + sum(len(v["tags"]) for v in table.values())
    pairs = sorted((v["id"] % 101, k) for k, v in table.items())
    check += pairs[len(pairs) // 2][0]
    keep.append(table)          # a few rounds survive a while, as in real code
    if len(keep) > 3:
        keep.pop(0)
print(check)
