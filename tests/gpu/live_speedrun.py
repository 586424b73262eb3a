"""The speedrun preset trained by the app's own engine while its Live view is open (headless
Textual, driven by Pilot): the figures a user would see, read back from the store.

    python tests/gpu/live_speedrun.py HOME OUT_JSON OUT_SVG TIMEOUT_S

The runs must already be queued in HOME (`cifar-tui queue add ...`). A screenshot of Live is
saved while the third run (or the last, with fewer) trains.
"""

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from cifar_tui.tui.app import CifarApp
from cifar_tui.tui.worker.home import Home

ENDED = ("finished", "failed", "cancelled", "interrupted")


async def main(home_path: str, out_json: str, out_svg: str, timeout_s: float) -> None:
    home = Home(Path(home_path))
    app = CifarApp(home, engine="process")
    started = time.monotonic()
    report: dict = {"timeout_s": timeout_s}
    async with app.run_test(size=(160, 48)) as pilot:
        ids = [row["id"] for row in app.store.runs()]
        shot_at = ids[min(2, len(ids) - 1)]
        await pilot.press("3")
        shot = False
        while time.monotonic() - started < timeout_s:
            rows = [app.store.run(i) for i in ids]
            if not shot and app.live.run is not None and app.live.run.run_id == shot_at and app.live.run.step > 0:
                await pilot.pause(1.0)  # a second of live redraws
                app.save_screenshot(out_svg)
                shot = True
            if all(row["status"] in ENDED for row in rows):
                break
            await pilot.pause(0.2)
        await pilot.pause(1.0)
        report["live title"] = str(app.query_one("#live-title").render())
        report["screenshot"] = shot
        fields = ("id", "status", "seed", "epochs_done", "test_acc", "seconds", "images_per_s", "device",
                  "started_at", "finished_at", "error")  # fmt: skip
        report["runs"] = [{k: row.get(k) for k in fields} for row in (app.store.run(i) for i in ids)]
        report["app wall s"] = round(time.monotonic() - started, 1)
    done = [r for r in report["runs"] if r["status"] == "finished"]
    if done:
        accs = [r["test_acc"] for r in done]
        report["finished"] = len(done)
        report["test_acc mean"] = statistics.mean(accs)
        report["test_acc std"] = statistics.stdev(accs) if len(accs) > 1 else 0.0
        report["train seconds mean"] = statistics.mean(r["seconds"] for r in done)
    Path(out_json).write_text(json.dumps(report, indent=1, default=str))
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, default=str))
    for row in report["runs"]:
        print(row)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
