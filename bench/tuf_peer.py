"""The peer of bench/tuf-bench.sh: python-tuf's ngclient doing what
pawl-tuf-client does (init from a trusted root, refresh, one download).

usage: tuf_peer.py METADATA_DIR ROOT METADATA_URL TARGETS_URL TARGET_DIR TARGET
"""
import os
import shutil
import sys

from tuf.ngclient import Updater


def main() -> int:
    md_dir, root, md_url, tg_url, tg_dir, target = sys.argv[1:7]
    os.makedirs(md_dir, exist_ok=True)
    shutil.copyfile(root, os.path.join(md_dir, "root.json"))
    updater = Updater(md_dir, md_url, tg_dir, tg_url)
    updater.refresh()
    info = updater.get_targetinfo(target)
    if info is None:
        print(f"tuf_peer: {target} not found", file=sys.stderr)
        return 1
    updater.download_target(info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
