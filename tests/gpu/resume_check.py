"""Resume on the device: 3 epochs of seed-cnn trained straight (twice: the device's own noise),
stopped with SIGINT once epoch 2 is recorded then resumed, the same with SIGKILL, and dropout 0
straight and resumed; each compared with the straight run (losses and epochs) in OUT_JSON.
Usage: resume_check.py HOME DEVICE OUT_JSON [RUN ARGS]."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

home, device, out = sys.argv[1], sys.argv[2], sys.argv[3]
extra = sys.argv[4:]
cli = [sys.executable, "-m", "cifar_tui.tui.cli", "--home", home]
db_path = os.path.join(home, "runs.db")


def query(sql, *args):
    for _ in range(50):
        try:
            db = sqlite3.connect(db_path, timeout=10)
            try:
                return db.execute(sql, args).fetchall()
            finally:
                db.close()
        except sqlite3.OperationalError as error:  # not created yet, or busy
            last = error
            time.sleep(0.1)
    raise last


def last_id():
    return query("SELECT max(id) FROM runs")[0][0] or 0


def run_command(name, *flags):
    """`cifar-tui run` of 3 epochs of seed-cnn on the device."""
    preset = ["--preset", "seed-cnn", "--dataset", "synthetic", "--device", device, "--epochs", "3"]
    return [*cli, "run", *preset, "--name", name, *flags, *extra]


def run(name, *flags):
    cmd = run_command(name, *flags)
    start = time.time()
    rc = subprocess.run(cmd, timeout=120).returncode
    print(f"[{name}] exit {rc} in {time.time() - start:.1f}s", flush=True)
    return last_id(), rc


def stopped_and_resumed(name, sig, *flags):
    before = last_id()
    cmd = run_command(name, *flags)
    child = subprocess.Popen(cmd, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    run_id, done, start = None, 0, time.time()
    while time.time() - start < 120 and child.poll() is None:
        if run_id is None and last_id() > before:
            run_id = last_id()
        if run_id is not None:
            done = query("SELECT epochs_done FROM runs WHERE id = ?", run_id)[0][0]
            if done >= 2:
                break
        time.sleep(0.02)
    info = {"run_id": run_id, "signal": sig.name, "epochs_done_at_signal": done}
    if child.poll() is not None:
        info["problem"] = f"the run ended (exit {child.returncode}) before it could be stopped"
    else:
        child.send_signal(sig)
        try:
            info["stopped_exit"] = child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            info["stopped_exit"] = f"did not stop within 60 s of {sig.name}; killed"
            child.wait()
    row = query("SELECT status, epochs_done, error FROM runs WHERE id = ?", run_id)[0] if run_id else None
    info["status_after_stop"] = row and list(row)
    info["losses_at_stop"] = query("SELECT count(*) FROM losses WHERE run_id = ?", run_id)[0][0] if run_id else None
    print(f"[{name}] stopped: {info}", flush=True)
    if run_id is not None:
        start = time.time()
        info["resume_exit"] = subprocess.run(cli + ["resume", str(run_id)], timeout=120).returncode
        print(f"[{name}] resume exit {info['resume_exit']} in {time.time() - start:.1f}s", flush=True)
    return run_id, info


def losses(run_id):
    return {
        step: (epoch, loss)
        for step, epoch, loss in query("SELECT step, epoch, loss FROM losses WHERE run_id = ? ORDER BY step", run_id)
    }


def epochs(run_id):
    return {
        epoch: (acc, loss)
        for epoch, acc, loss in query(
            "SELECT epoch, test_acc, test_loss FROM epochs WHERE run_id = ? ORDER BY epoch", run_id
        )
    }


def compare(ref, other):
    a, b = losses(ref), losses(other)
    per_epoch = {}
    for step in sorted(set(a) | set(b)):
        epoch = (a.get(step) or b.get(step))[0]
        entry = per_epoch.setdefault(epoch, {"steps": 0, "missing": 0, "max_abs_diff": 0.0, "first_step_diff": None})
        if step not in a or step not in b:
            entry["missing"] += 1
            continue
        diff = abs(a[step][1] - b[step][1])
        entry["steps"] += 1
        entry["max_abs_diff"] = max(entry["max_abs_diff"], diff)
        if entry["first_step_diff"] is None:
            entry["first_step_diff"] = diff
    ea, eb = epochs(ref), epochs(other)
    status = query("SELECT status FROM runs WHERE id = ?", other)[0][0]
    return {
        "run": other,
        "vs": ref,
        "status": status,
        "loss_rows": [len(a), len(b)],
        "per_epoch": per_epoch,
        "test_acc": {e: [ea.get(e, (None,))[0], eb.get(e, (None,))[0]] for e in sorted(set(ea) | set(eb))},
        "test_acc_equal": ea.keys() == eb.keys() and all(ea[e][0] == eb[e][0] for e in ea),
    }


report = {"device": device, "extra_flags": extra}


def save(key=None, value=None):
    """Record a result and rewrite the report, so that a timeout still leaves what was measured."""
    if key is not None:
        report[key] = value
    with open(out, "w") as f:
        json.dump(report, f, indent=1)
    if isinstance(value, dict) and "per_epoch" in value:
        cells = "  ".join(
            f"e{e}: max {v['max_abs_diff']:.3g}, first step {'-' if v['first_step_diff'] is None else format(v['first_step_diff'], '.3g')}"
            + (f", {v['missing']} missing" if v["missing"] else "")
            for e, v in sorted(value["per_epoch"].items())
        )
        print(
            f"== {key}: status {value['status']}, test acc equal: {value['test_acc_equal']}\n   |loss diff| per epoch"
            f" (epoch 3 is after the resume): {cells}\n   test acc per epoch [ref, run]: {value['test_acc']}",
            flush=True,
        )


a, rc = run("e-A")
save("A_exit", rc)
a2, rc = run("e-A2")
save("A2_exit", rc)
save("A2_vs_A (run-to-run noise)", compare(a, a2))
b, info = stopped_and_resumed("e-B-sigint", signal.SIGINT)
save("B", info)
if b:
    save("B_vs_A (SIGINT + resume, dropout 0.2)", compare(a, b))
d0, rc = run("e-D0-straight", "--dropout", "0")
save("D0_exit", rc)
d0r, info = stopped_and_resumed("e-D0r-sigint", signal.SIGINT, "--dropout", "0")
save("D0r", info)
if d0r:
    save("D0r_vs_D0 (SIGINT + resume, dropout 0)", compare(d0, d0r))
c, info = stopped_and_resumed("e-C-sigkill", signal.SIGKILL)
save("C", info)
if c:
    save("C_vs_A (kill -9 + resume, dropout 0.2)", compare(a, c))
