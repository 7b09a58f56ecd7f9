# The crawl benchmark's aiohttp client: N distinct URLs through `conc`
# coroutines sharing one ClientSession; prints its wall and CPU time.
import asyncio
import sys
import time

import aiohttp


async def main(base, n, conc):
    bad = 0
    ids = iter(range(1, n + 1))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as s:
        async def worker():
            nonlocal bad
            for i in ids:
                async with s.get(f"{base}/p/{i}") as r:
                    body = await r.read()
                    if r.status != 200 or len(body) != 2048 or not body.startswith(f"page /p/{i} ".encode()):
                        bad += 1
        t0, c0 = time.monotonic(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(conc)))
        print(f"ok {n - bad} bad {bad} wall {time.monotonic() - t0:.4f} cpu {time.process_time() - c0:.4f}")


asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
