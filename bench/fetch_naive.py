#!/usr/bin/env python3
"""The naive baseline for `bench/fetch`: one JSON-RPC request at a time, no
batching, no concurrency -- what a first script does. Python 3 stdlib only.

Per block: eth_getBlockByNumber(n, true); eth_getTransactionReceipt for every
transaction with a value (for its status); trace_block(n); then eth_getLogs for the
Transfer topic over the whole range in one call (anvil has no result limit).
It builds the same transfers as `hoptrace fetch` (native, internal, ERC-20) and
prints one JSON line: {"blocks", "transfers", "requests", "seconds"}.

Usage: fetch_naive.py URL FIRST LAST
"""
import json
import sys
import time
import urllib.request

TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def main():
    url, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    requests = 0

    def rpc(method, *params):
        nonlocal requests
        requests += 1
        body = json.dumps({"jsonrpc": "2.0", "id": requests, "method": method, "params": list(params)})
        req = urllib.request.Request(url, data=body.encode(), headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=600) as r:
            answer = json.loads(r.read())
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    started = time.time()
    transfers = 0
    for n in range(first, last + 1):
        block = rpc("eth_getBlockByNumber", hex(n), True)
        for tx in block["transactions"]:
            if int(tx["value"], 16) == 0:
                continue
            receipt = rpc("eth_getTransactionReceipt", tx["hash"])
            if receipt["status"] == "0x1":
                transfers += 1
        failed = []
        for t in rpc("trace_block", hex(n)):
            address = t["traceAddress"]
            if t.get("error"):
                failed.append(address)
            if not address or not t.get("transactionHash"):
                continue
            if any(address[: len(f)] == f for f in failed):
                continue
            action = t["action"]
            value = int(action.get("value", action.get("balance", "0x0")), 16)
            if value and (t["type"] != "call" or action.get("callType") == "call"):
                transfers += 1
    logs = rpc("eth_getLogs", {"fromBlock": hex(first), "toBlock": hex(last), "topics": [TRANSFER]})
    transfers += sum(1 for log in logs if len(log["topics"]) == 3 and len(log["data"]) == 66)
    seconds = time.time() - started
    print(json.dumps({"blocks": last - first + 1, "transfers": transfers, "requests": requests,
                      "seconds": round(seconds, 2)}))


if __name__ == "__main__":
    main()
