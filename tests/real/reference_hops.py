#!/usr/bin/env python3
"""Independent reference for the figures hard-coded in `tests/it/real_cases.rs`.

Anyone can re-derive every number those tests assert by running, from the
repository root (the shared data is expected at `../shared/data`, or pass
`--data DIR`):

    python3 tests/real/reference_hops.py ronin
    python3 tests/real/reference_hops.py mftracer LIFI \
        --upstream-seed 0xd90e2f925da726b50c4ed8d0fb90ad053324f31b
    python3 tests/real/reference_hops.py mftracer 54m \
        --upstream-seed 0xf1da173228fcf015f43f3ea15abbb51f0d8f1123
    python3 tests/real/reference_hops.py mftracer Atomic \
        --upstream-seed 0x92e929d8b2c8430bcaf4cd87654789578bb2b786
    python3 tests/real/reference_hops.py mftracer XScam \
        --upstream-seed 0x83e159a9c7ada6313c1bd59e0e6306b63b3fd8e3
    python3 tests/real/reference_hops.py tornado-ofac
    python3 tests/real/reference_hops.py selftest   # the reference on DESIGN.md's small cases

(Without --upstream-seed, `mftracer` lists the terminals that most sources reach,
which is how those seeds were picked.)

This script shares no code with hoptrace. It reads the raw shared files itself and
computes hops straight from the contract in DESIGN.md, as a Bellman-Ford over hop
levels on an edge list (no adjacency, no keys, no binary search):

* an edge is one transfer (from, to, block) with a positive amount;
* downstream: level k holds, per address, the earliest block at which tainted
  value can be there using <= k transfers. A seed is there from its `since`
  block (hop 0). An edge (u, v, b) is usable at level k+1 iff u is a seed or not a
  service, u is at level k by block a, and b >= a. The hop count of an address is
  the first level at which it appears.
* upstream: the mirror image. Level k holds, per address, the latest block at
  which it can send value that still reaches a seed with <= k transfers. An edge
  (u, v, b) makes u reach a seed iff v is a seed and b >= since(v) (the last
  transfer counts from the seed's `since`), or v already reaches one and
  b <= latest(v); v must be a seed or not a service.

Only the Python standard library is used.
"""

import argparse
import csv
import json
import os
import sys
from collections import Counter, defaultdict
from decimal import Decimal

INF = float("inf")


# ----------------------------------------------------------------------------
# The reference algorithm
# ----------------------------------------------------------------------------


def downstream_hops(edges, seeds, services=frozenset(), max_hops=25):
    """edges: iterable of (from, to, block); seeds: {address: since_block}.

    Returns ({address: hops}, {address: earliest arrival block at its first level}).
    """
    arrival = dict(seeds)  # address -> earliest block tainted value is there
    hops = {s: 0 for s in seeds}
    for level in range(1, max_hops + 1):
        nxt = dict(arrival)
        for u, v, b in edges:
            if u not in arrival:
                continue
            if u in services and u not in seeds:
                continue
            if b < arrival[u]:
                continue
            if b < nxt.get(v, INF):
                nxt[v] = b
            if v not in hops:
                hops[v] = level
        if nxt == arrival:
            break
        arrival = nxt
    return hops


def upstream_hops(edges, seeds, services=frozenset(), max_hops=25):
    """Mirror of downstream_hops: who sent value that reached a seed in time."""
    latest = {}  # address -> latest block it can send and still reach a seed
    hops = {s: 0 for s in seeds}
    for level in range(1, max_hops + 1):
        nxt = dict(latest)
        for u, v, b in edges:
            if v in services and v not in seeds:
                continue
            via_root = v in seeds and b >= seeds[v]
            via_path = v in latest and b <= latest[v]
            if not (via_root or via_path):
                continue
            if b > nxt.get(u, -INF):
                nxt[u] = b
            if u not in hops:
                hops[u] = level
        if nxt == latest:
            break
        latest = nxt
    return hops


def plain_bfs(edges, seeds, reverse=False):
    """Hops ignoring time: only to show where time order matters."""
    adj = defaultdict(list)
    for u, v, _ in edges:
        if reverse:
            u, v = v, u
        adj[u].append(v)
    hops = {s: 0 for s in seeds}
    frontier = list(seeds)
    level = 0
    while frontier:
        level += 1
        nxt = []
        for u in frontier:
            for v in adj[u]:
                if v not in hops:
                    hops[v] = level
                    nxt.append(v)
        frontier = nxt
    return hops


def histogram(hops):
    return dict(sorted(Counter(hops.values()).items()))


def selftest():
    """The reference on the small cases that DESIGN.md's semantics spell out."""
    # A->B at 10, B->C at 5: C is not downstream of A; upstream of C, A is not.
    e = [("a", "b", 10), ("b", "c", 5)]
    assert downstream_hops(e, {"a": 0}) == {"a": 0, "b": 1}
    assert upstream_hops(e, {"c": 0}) == {"c": 0, "b": 1}
    # Same block is fine.
    e = [("a", "b", 7), ("b", "c", 7), ("c", "d", 7)]
    assert downstream_hops(e, {"a": 0}) == {"a": 0, "b": 1, "c": 2, "d": 3}
    assert upstream_hops(e, {"d": 0}) == {"d": 0, "c": 1, "b": 2, "a": 3}
    # A longer, earlier path carries taint further than a short, late one.
    e = [("s", "a", 50), ("s", "x", 1), ("x", "a", 2), ("a", "b", 10)]
    assert downstream_hops(e, {"s": 0}) == {"s": 0, "a": 1, "x": 1, "b": 3}
    # Services are reached, not expanded (unless seeds).
    e = [("s", "ex", 1), ("ex", "c", 2)]
    assert downstream_hops(e, {"s": 0}, services={"ex"}) == {"s": 0, "ex": 1}
    assert upstream_hops(e, {"c": 0}, services={"ex"}) == {"c": 0, "ex": 1}
    assert downstream_hops(e, {"ex": 0}, services={"ex"}) == {"ex": 0, "c": 1}
    # since: downstream the first transfer counts from `since`...
    e = [("s", "a", 50), ("s", "b", 150), ("a", "c", 200)]
    assert downstream_hops(e, {"s": 100}) == {"s": 0, "b": 1}
    # ...upstream the last one does.
    e = [("x", "t", 50), ("y", "t", 150), ("z", "y", 120), ("w", "x", 10)]
    assert upstream_hops(e, {"t": 100}) == {"t": 0, "y": 1, "z": 2}
    # A seed tainted earlier through another seed passes that on.
    e = [("s2", "s1", 10), ("s1", "a", 20)]
    assert downstream_hops(e, {"s1": 100, "s2": 0}) == {"s1": 0, "s2": 0, "a": 2}
    # Parallel edges each count.
    e = [("s", "a", 20), ("s", "a", 5), ("a", "b", 10)]
    assert downstream_hops(e, {"s": 0}) == {"s": 0, "a": 1, "b": 2}
    # max_hops stops the search.
    e = [("a", "b", 1), ("b", "c", 2), ("c", "d", 3)]
    assert downstream_hops(e, {"a": 0}, max_hops=2) == {"a": 0, "b": 1, "c": 2}
    print("selftest ok")


# ----------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------


def read_address_list(path):
    with open(path, newline="") as f:
        return [line.strip().lower() for line in f if line.strip()]


def mftracer(data, case, max_hops, upstream_seed):
    d = os.path.join(data, "mftracer-ground-truth", case)
    with open(os.path.join(d, f"{case}.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    sources = read_address_list(os.path.join(d, "source addresses.csv"))
    terminals = read_address_list(os.path.join(d, "terminal addresses.csv"))
    edges = []
    for r in rows:
        usd = Decimal(r["Value_in_USD"])
        if max(1, round(usd * 100)) <= 0:  # never: amounts are all positive
            continue
        edges.append((r["From"].lower(), r["To"].lower(), int(r["Block"])))
    seeds = {s: 0 for s in sources}
    hops = downstream_hops(edges, seeds, max_hops=max_hops)
    nodes = {u for u, _, _ in edges} | {v for _, v, _ in edges}
    print(f"== {case}: {len(rows)} rows, {len(nodes)} addresses, {len(sources)} sources, "
          f"{len(terminals)} terminals; tx hashes with several rows: "
          f"{sum(1 for n in Counter(r['Tx_hash'] for r in rows).values() if n > 1)}")
    print(f"downstream reached: {len(hops)}  histogram: {histogram(hops)}  max hop: {max(hops.values())}")
    plain = plain_bfs(edges, sources)
    print(f"  (ignoring time, plain BFS would reach {len(plain)} with histogram {histogram(plain)})")
    unreached = sorted(nodes - set(hops))
    print(f"addresses never reached: {len(unreached)}")
    for a in unreached:
        ins = sorted(b for u, v, b in edges if v == a)
        print(f"  {a}: in-edges at blocks {ins[:6]}{' ...' if len(ins) > 6 else ''}")
    reached_terms = [t for t in terminals if t in hops]
    print(f"terminals reached: {len(reached_terms)} of {len(terminals)}")
    print("terminal hops histogram:", histogram({t: hops[t] for t in reached_terms}))
    for t in terminals:
        print(f"  terminal {t}: {hops.get(t)}")
    for t in terminals:
        if t not in hops:
            explain_unreached(t, edges, hops, seeds)
    if upstream_seed:
        up = upstream_hops(edges, {upstream_seed.lower(): 0}, max_hops=max_hops)
        print(f"upstream of {upstream_seed}: reached {len(up)}  histogram: {histogram(up)}")
        for s in sources:
            # Self-check: the fewest transfers on a time-respecting path s -> terminal is
            # the same whether searched forwards from s or backwards from the terminal.
            forward = downstream_hops(edges, {s: 0}, max_hops=max_hops).get(upstream_seed.lower())
            assert forward == up.get(s), (s, forward, up.get(s))
            print(f"  source {s}: upstream hops {up.get(s)}")
        plain = plain_bfs(edges, [upstream_seed.lower()], reverse=True)
        print(f"  (ignoring time, plain reverse BFS would reach {len(plain)} addresses and "
              f"{sum(1 for s in sources if s in plain)} sources)")
    else:
        # Suggest a terminal for the upstream check: the one most sources reach.
        best = []
        for t in terminals:
            up = upstream_hops(edges, {t: 0}, max_hops=max_hops)
            best.append((sum(1 for s in sources if s in up), len(up), t))
        best.sort(reverse=True)
        print("terminals by number of sources upstream (sources, reached, terminal):", best[:5])


def explain_unreached(t, edges, hops, seeds):
    """Why a terminal is not reached: does it have in-edges from reached addresses,
    and are they before the sender was tainted?"""
    arrival = earliest_arrivals(edges, seeds)
    ins = [(u, b) for u, v, b in edges if v == t]
    print(f"  UNREACHED terminal {t}: {len(ins)} in-edges")
    for u, b in sorted(ins, key=lambda x: x[1])[:10]:
        print(f"    from {u} at block {b}; sender reached: {u in hops}, sender tainted from: {arrival.get(u)}")


def earliest_arrivals(edges, seeds):
    """Earliest block taint can be at each address with any number of hops."""
    arrival = dict(seeds)
    changed = True
    while changed:
        changed = False
        for u, v, b in edges:
            if u in arrival and b >= arrival[u] and b < arrival.get(v, INF):
                arrival[v] = b
                changed = True
    return arrival


def ronin(data):
    path = os.path.join(data, "ronin-lazarus-tayvano", "DERIVED_ronin_tc_withdrawals.csv")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    pool = "0xa160cdab225685da1d56aa342ad8841c3b53f291"
    assert {r["pool_address"].lower() for r in rows} == {pool}
    edges = [(pool, r["to"].lower(), int(r["block_number"])) for r in rows]
    blocks = [b for _, _, b in edges]
    print(f"== ronin: {len(rows)} withdrawals, blocks {min(blocks)}..{max(blocks)}")
    for since in (0, 14700000, 15295000):
        hops = downstream_hops(edges, {pool: since}, max_hops=6)
        print(f"since {since}: histogram {histogram(hops)}")
    # The bundled fixture (fixtures/ronin) used by the test: its labels make every
    # listed address a seed, known to the store even without transfers.
    repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(repo, "fixtures", "ronin", "labels.csv"), newline="") as f:
        labels = list(csv.DictReader(f))
    seed_cats = {"sanctioned", "hack", "mixer", "scam", "phishing", "ransomware", "darknet"}
    fixture_seeds = {l["address"].lower() for l in labels if l["category"] in seed_cats}
    nodes = {pool} | {v for _, v, _ in edges}
    print(f"fixture: {len(fixture_seeds)} seed addresses (hop 0); "
          f"stats addresses = {len(nodes | fixture_seeds)}")
    with open(os.path.join(repo, "fixtures", "ronin", "wallets.csv"), newline="") as f:
        wallets = list(csv.DictReader(f))
    hops = downstream_hops(edges, {a: 0 for a in fixture_seeds}, max_hops=6)
    for w in wallets:
        print(f"  wallet {w['address']} {w['role']}: downstream hops {hops.get(w['address'].lower())}")
    earliest = {}
    for r in rows:
        a = r["to"].lower()
        if a not in earliest or int(r["block_number"]) < int(earliest[a]["block_number"]):
            earliest[a] = r
    for a in sorted(earliest)[:3] + ["0x8f510dcd206b69e625fd9c2e41f34a1240242fff"]:
        r = earliest[a]
        print(f"  {a}: earliest withdrawal block {r['block_number']} tx {r['transaction_hash']} "
              f"amount {10**20 - int(r['fee'])} wei")
    # For since 14700000: the path of an address withdrawn to both before and after.
    for a in sorted(earliest):
        bs = sorted(int(r["block_number"]) for r in rows if r["to"].lower() == a)
        if bs[0] < 14700000 <= bs[-1]:
            after = min((r for r in rows if r["to"].lower() == a and int(r["block_number"]) >= 14700000),
                        key=lambda r: int(r["block_number"]))
            print(f"  since 14700000: {a} first withdrawal {bs[0]}, first at/after since "
                  f"{after['block_number']} tx {after['transaction_hash']}")
            break


DECIMALS = {"ETH": 18, "DAI": 18, "CDAI": 8, "USDC": 6, "USDT": 6, "WBTC": 8}


def tornado_ofac(data):
    path = os.path.join(data, "tornado-cash", "DERIVED_tornado_withdrawals_mainnet.csv")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(data, "ofac-thomasgregg", "sanctioned-addresses_2025-02-28.json")) as f:
        ofac = json.load(f)["addresses"]
    seeds = {a.lower(): 0 for a in ofac
             if a.lower().startswith("0x") and len(a) == 42
             and all(c in "0123456789abcdef" for c in a.lower()[2:])}
    print(f"== tornado-ofac: {len(rows)} withdrawal rows, {len(seeds)} EVM OFAC seeds")
    # Identity of a row: (tx_hash, kind, index), index = order within its tx in the file.
    per_tx = defaultdict(int)
    ids = []
    edges = []
    for r in rows:
        sym = r["pool"].split()[1].upper()
        kind = "internal" if sym == "ETH" else "erc20"
        idx = per_tx[r["transaction_hash"].lower()]
        per_tx[r["transaction_hash"].lower()] += 1
        ids.append((r["transaction_hash"].lower(), kind, idx))
        denom = int(Decimal(r["pool"].split()[0]) * 10 ** DECIMALS[sym])
        amount = denom - int(r["fee"])
        assert amount > 0, r
        edges.append((r["pool_address"].lower(), r["to"].lower(), int(r["block_number"])))
    print(f"distinct identities: {len(set(ids))}; distinct tx hashes: {len(per_tx)}; "
          f"txs with several rows: {sum(1 for n in per_tx.values() if n > 1)} "
          f"(rows in them: {sum(n for n in per_tx.values() if n > 1)}); "
          f"distinct nullifiers: {len({r['nullifier_hash'] for r in rows})}; "
          f"exact duplicate rows: {len(rows) - len({tuple(r.values()) for r in rows})}")
    nodes = {u for u, _, _ in edges} | {v for _, v, _ in edges}
    print(f"addresses: {len(nodes)}; pools: {len({u for u, _, _ in edges})}; "
          f"pools that are seeds: {sum(1 for u in {u for u, _, _ in edges} if u in seeds)}; "
          f"seeds in the graph: {sum(1 for a in nodes if a in seeds)}")
    hops = downstream_hops(edges, seeds, max_hops=6)
    h = histogram({a: n for a, n in hops.items() if a in nodes})
    print(f"downstream histogram over addresses in the graph: {h}")
    print(f"downstream histogram with every listed address (hoptrace knows them from the "
          f"labels, as seeds): {histogram(hops)}; stats addresses after labels: {len(nodes | set(seeds))}")
    recips = {v for _, v, _ in edges}
    print(f"distinct recipients: {len(recips)}, of which seeds: {sum(1 for v in recips if v in seeds)}")
    seed_recips = sorted(v for v in recips if v in seeds)
    print(f"OFAC-listed recipients: {seed_recips}")
    print(f"withdrawals to OFAC-listed recipients: {sum(1 for _, v, _ in edges if v in seeds)}")
    print(f"zero-address recipient withdrawals: {sum(1 for _, v, _ in edges if int(v, 16) == 0)}")
    up = upstream_hops(edges, seeds, max_hops=6)
    print(f"upstream histogram over addresses in the graph: "
          f"{histogram({a: n for a, n in up.items() if a in nodes})}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.path.join(here, "..", "..", "..", "shared", "data"))
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mftracer")
    m.add_argument("case")
    m.add_argument("--max-hops", type=int, default=25)
    m.add_argument("--upstream-seed")
    sub.add_parser("ronin")
    sub.add_parser("tornado-ofac")
    sub.add_parser("selftest")
    a = p.parse_args()
    if a.cmd == "selftest":
        selftest()
    elif a.cmd == "mftracer":
        mftracer(a.data, a.case, a.max_hops, a.upstream_seed)
    elif a.cmd == "ronin":
        ronin(a.data)
    else:
        tornado_ofac(a.data)


if __name__ == "__main__":
    sys.exit(main())
