"""Take screenshots of dashboard pages with headless Chromium (for the README and for looking).

    .venv/bin/python scripts/screenshots.py http://127.0.0.1:8050 / runs compare?runs=1,2 --out docs
"""

from __future__ import annotations

import argparse
import os
import time


def driver(width: int = 1400, height: int = 1000):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options

    o = Options()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", f"--window-size={width},{height}"):
        o.add_argument(arg)
    return webdriver.Chrome(options=o)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("base")
    p.add_argument("paths", nargs="+")
    p.add_argument("--out", default="docs")
    p.add_argument("--wait", type=float, default=4.0, help="seconds to let callbacks settle")
    p.add_argument("--height", type=int, default=1000)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    d = driver(height=args.height)
    try:
        for path in args.paths:
            name = path.strip("/").split("?")[0].replace("/", "-") or "launch"
            d.get(args.base.rstrip("/") + "/" + path.lstrip("/"))
            time.sleep(args.wait)
            target = os.path.join(args.out, f"{name}.png")
            d.save_screenshot(target)
            print(target)
    finally:
        d.quit()


if __name__ == "__main__":
    main()
