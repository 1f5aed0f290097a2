"""200 files of 256 KiB behind 40 ms of SDC latency: `imap download -j 8` vs the others.

The objects are served by nginx on 127.0.0.1; the SDC is a stub (see bench_download_large.py)
whose /download/<key> waits 40 ms, like the real SDC's Lambda, then answers 302. Compared:

* `imap download -j 8 -` with the 200 keys on stdin;
* the official client, `imap_data_access.download(key)` in a loop (target: imap >= 5x faster);
* curl run 8 ways parallel (`xargs -P 8`) straight on the object URLs, with no SDC round trip
  at all (target: imap within 1.2x); also with one `sync` of the files at the end, since imap
  fsyncs every file before it renames it.

    python benchmarks/bench_download_many.py [--files 200] [--kib 256] [--latency 0.04] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_download_large import IMAP, clean_env, make_file, measure, nginx, row, sdc_stub


def keys_for(count: int) -> list[str]:
    """`count` distinct valid science keys (one per day from 2025-01-01)."""
    import datetime

    start = datetime.date(2025, 1, 1)
    out = []
    for i in range(count):
        day = start + datetime.timedelta(days=i)
        name = f"imap_mag_l1a_norm-mago_{day:%Y%m%d}_v001.0001.cdf"
        out.append(f"imap/mag/l1a/{day:%Y}/{day:%m}/{name}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--kib", type=int, default=256)
    parser.add_argument("--latency", type=float, default=0.04)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--skip-official", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-many-", dir=os.environ.get("BENCH_TMP")))
    try:
        keys = keys_for(args.files)
        root = work / "objects"
        for key in keys:
            make_file(root / key, args.kib << 10)
        key_list = work / "keys.txt"
        key_list.write_text("".join(k + "\n" for k in keys))
        with nginx(root) as objects, sdc_stub(objects, args.latency) as sdc:
            tools = [
                f"curl xargs -P {args.jobs}",
                f"curl xargs -P {args.jobs} + sync",
                f"imap download -j {args.jobs}",
            ]
            if not args.skip_official:
                tools.append("official download() loop")
            results: dict[str, tuple[list[float], list[float]]] = {t: ([], []) for t in tools}
            for run in range(args.runs):
                for tool in tools:
                    data = work / f"data-{run}"
                    shutil.rmtree(data, ignore_errors=True)
                    data.mkdir()
                    if tool.startswith("curl"):
                        pairs = work / "pairs.txt"
                        pairs.write_text("".join(f"{data / k} {objects}/{k}\n" for k in keys))
                        sync = (
                            f' && cd "{data}" && find . -type f -exec sync {{}} +'
                            if "sync" in tool
                            else ""
                        )
                        script = (
                            f'xargs -P {args.jobs} -n 2 curl -s --create-dirs -o < "{pairs}"{sync}'
                        )
                        wall, rss = measure(["sh", "-c", script])
                    elif tool.startswith("imap"):
                        cmd = [*IMAP, "-q", "download", "-j", str(args.jobs), "-"]
                        wall, rss = measure(cmd, clean_env(data, sdc), stdin=str(key_list))
                    else:
                        code = (
                            "import imap_data_access, sys\n"
                            "for key in open(sys.argv[1]).read().split():\n"
                            "    imap_data_access.download(key)\n"
                        )
                        cmd = [sys.executable, "-c", code, str(key_list)]
                        wall, rss = measure(cmd, clean_env(data, sdc))
                    got = sum(1 for k in keys if (data / k).stat().st_size == args.kib << 10)
                    if got != len(keys):
                        raise RuntimeError(f"{tool}: {got} of {len(keys)} files complete")
                    results[tool][0].append(wall)
                    results[tool][1].append(rss)
                    shutil.rmtree(data, ignore_errors=True)
        curl = statistics.median(results[tools[0]][0])
        print(
            f"\n{args.files} files of {args.kib} KiB, SDC latency {args.latency * 1000:.0f} ms, "
            f"objects from nginx on 127.0.0.1 (median of {args.runs} runs)"
        )
        print(f"{'tool':<34} {'wall':>10}  {'ratio':>6}   {'peak RSS':>11}")
        for tool in tools:
            print(row(tool, *results[tool], None if tool == tools[0] else curl))
        imap = statistics.median(results[tools[2]][0])
        synced = statistics.median(results[tools[1]][0])
        ok_curl = imap <= 1.2 * curl
        print(
            f"\nimap / curl xargs: {imap / curl:.2f}x (target <= 1.2x: "
            f"{'ok' if ok_curl else 'MISSED'}); imap / (curl + sync): {imap / synced:.2f}x"
        )
        ok_official = True
        if not args.skip_official:
            official = statistics.median(results[tools[3]][0])
            ok_official = official >= 5 * imap
            print(
                f"official / imap: {official / imap:.1f}x faster "
                f"(target >= 5x: {'ok' if ok_official else 'MISSED'})"
            )
        return 0 if ok_curl and ok_official else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
