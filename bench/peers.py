#!/usr/bin/env python3
"""Peers on the same graph: networkx and python-igraph compute the same untimed
downstream hops as hoptrace (multi-source BFS from the seeds), the answers are
checked equal, and the BFS times are compared with hoptrace's.

Usage: peers.py PEER_DIR HOPTRACE_JSON OUT_JSON

PEER_DIR holds what `hoptrace bench --export-peers DIR` writes: edges.csv
(`from,to`), seeds.csv (`node`) and hoptrace_hops.csv (`node,hops`). The hoptrace
JSON gives `peers_hoptrace_untimed_s`, its time on that graph.
"""
import csv
import json
import sys
import time


def read(path, cols):
    with open(path, newline="") as f:
        r = csv.DictReader(f)
        return [tuple(int(row[c]) for c in cols) for row in r]


def main():
    peer_dir, hoptrace_json, out_json = sys.argv[1:4]
    edges = read(f"{peer_dir}/edges.csv", ["from", "to"])
    seeds = [s for (s,) in read(f"{peer_dir}/seeds.csv", ["node"])]
    want = dict(read(f"{peer_dir}/hoptrace_hops.csv", ["node", "hops"]))
    n = max(max(f, t) for f, t in edges) + 1
    n = max(n, max(seeds) + 1)
    source = n  # a virtual node joined to every seed
    with open(hoptrace_json) as f:
        hoptrace_s = json.load(f)["peers_hoptrace_untimed_s"]
    results = {"edges": len(edges), "nodes": n, "seeds": len(seeds), "hoptrace_s": hoptrace_s}

    import networkx as nx

    t = time.perf_counter()
    g = nx.DiGraph()
    g.add_nodes_from(range(n + 1))
    g.add_edges_from(edges)
    g.add_edges_from((source, s) for s in seeds)
    build = time.perf_counter() - t
    t = time.perf_counter()
    dist = nx.single_source_shortest_path_length(g, source)
    bfs = time.perf_counter() - t
    got = {v: d - 1 for v, d in dist.items() if v != source}
    assert got == want, "networkx disagrees with hoptrace"
    results["networkx_s"] = bfs
    results["networkx_build_s"] = build
    del g

    import igraph as ig

    t = time.perf_counter()
    g = ig.Graph(n=n + 1, edges=edges + [(source, s) for s in seeds], directed=True)
    build = time.perf_counter() - t
    t = time.perf_counter()
    vids, layers, _parents = g.bfs(source, mode="out")
    bfs = time.perf_counter() - t
    got = {}
    for depth in range(len(layers) - 1):
        for v in vids[layers[depth] : layers[depth + 1]]:
            if v != source:
                got[v] = depth - 1
    assert got == want, "igraph disagrees with hoptrace"
    results["igraph_s"] = bfs
    results["igraph_build_s"] = build

    results["ratio_networkx"] = results["networkx_s"] / hoptrace_s
    results["ratio_igraph"] = results["igraph_s"] / hoptrace_s
    with open(out_json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"peers on {len(edges)} edges, {n} nodes, {len(seeds)} seeds (same untimed hops, checked equal):")
    print(f"  hoptrace  {hoptrace_s:8.4f} s")
    print(f"  networkx  {results['networkx_s']:8.4f} s  ({results['ratio_networkx']:.0f}x hoptrace)")
    print(f"  igraph    {results['igraph_s']:8.4f} s  ({results['ratio_igraph']:.1f}x hoptrace)")


if __name__ == "__main__":
    main()
