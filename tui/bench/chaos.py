"""`cifar-tui bench chaos`: a chaos soak of the queue, the workers and the store.

N tiny runs (a sweep, and one grid search whose pruner stops most trials after their first
epoch) are queued on one home and trained at once by every kind of worker, each a real
`cifar-tui` process: two plain workers, a `--devices cpu,cpu` pool and, with Ray, a `--ray`
dispatcher on a local Ray of its own. Every few seconds a seeded driver injects one fault (kill
-9 of a plain worker, a pool member, a training child or the dispatcher; SIGSTOP then SIGCONT
of a worker; the store's write lock held by another program) and restarts what it killed; the
kinds are drawn from a shuffled bag, so none is starved. After the set time every worker is
stopped (SIGINT, then SIGKILL), what ended interrupted, failed or cancelled is queued again as
the Runs tab's `r` does (store/actions.requeue_run: the command line has no requeue, and
`resume` would train each run in the foreground), and one `cifar-tui worker --until-empty`
drains the queue. Then the store is checked: the invariants of README's Reliability section,
each held or not, with a detail.

Everything the soak starts carries a marker in its environment, so that the driver finds (and
finally ends) every process of its own, Ray's included, and nothing of anyone else's. Its Ray
is its own (RAY_ADDRESS=local, a temporary RAY_TMPDIR): a `--ray` without an address would
otherwise join the cluster of a `ray start` on this machine. Each process's output, and a line
per fault, go to `<home>/chaos/`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

from ..worker.device_pool import QUICK_DEATH_S

KINDS = {
    "kill_worker": "kill -9 a plain worker",
    "kill_member": "kill -9 a pool member",
    "kill_trainer": "kill -9 a training child",
    "kill_dispatcher": "kill -9 the Ray dispatcher",
    "stop_cont": "SIGSTOP a worker, then SIGCONT",
    "hold_lock": "hold the store's write lock",
}
EVERY_S = 3.0  # between two faults, on average (each drawn from 0.5x to 1.5x)
PAUSE_S = (2.0, 4.0)  # how long a SIGSTOP or a held write lock lasts: under the store's 10 s busy timeout
EPOCHS, BATCHES = 2, 8  # a tiny run: about a second on a warm 2-core CPU
RUN_FLAGS = ("--dataset", "synthetic", "--device", "cpu", "--epochs", str(EPOCHS), "--limit-batches", str(BATCHES))
PARALLEL = 3  # the search's trials queued or running at once
ORPHAN_GRACE_S = 10.0  # a process of the soak whose parent is gone must have exited by then
SAMPLE_S = 0.25  # how often the driver reads who holds each running run
STOP_S = 45.0  # a worker's Ctrl-C may take this long (the dispatcher waits up to 30 s for its actors)
MARKER = "CIFAR_TUI_CHAOS_SOAK"
ENDED_BY_FAULTS = ("interrupted", "failed", "cancelled")
PLAIN = ("worker-1", "worker-2")
ROLE_ARGS = {
    "worker-1": ("worker",),
    "worker-2": ("worker",),
    "pool": ("worker", "--devices", "cpu,cpu"),
    "dispatcher": ("worker", "--ray", "--cpus-per-run", "1"),
}


def trials_of(runs: int) -> int:
    """The search's share of the runs: a tenth, at least 6, at most 50 (a grid's learning rates
    at 3 significant digits stay distinct)."""
    return min(50, max(6, runs // 10))


def soak(home: Path | str, runs: int, seconds: float, seed: int, ray: bool = True, every: float = EVERY_S) -> dict:
    """Queue `runs` tiny runs on home, train them under faults for `seconds`, drain the queue and
    check the store. Ray is left out where it is not installed (the result says so)."""
    if runs < trials_of(runs) + 1:
        raise ValueError(f"runs: at least {trials_of(runs) + 1} (a search of {trials_of(runs)} trials and a sweep)")
    with_ray = ray and importlib.util.find_spec("ray") is not None
    return Soak(Path(home), seed, with_ray, every).run(runs, seconds)


def soak_fresh(runs: int, seconds: float, seed: int, ray: bool = True, every: float = EVERY_S) -> dict:
    """The soak on a fresh home in the temporary folder, removed afterwards unless an invariant
    failed: then it is kept for a look (its path is in the result)."""
    home = Path(tempfile.mkdtemp(prefix="cifar-tui-chaos-"))
    result = soak(home, runs, seconds, seed, ray, every)
    if result["held"]:
        shutil.rmtree(home, ignore_errors=True)
        result["home"] = f"{home} (removed: every invariant held)"
    return result


def figures(result: dict[str, Any]) -> dict[str, Any]:
    """The result as one flat table for print_result: a nested figure as `group: name`, an
    invariant as `held: detail` or `FAILED: detail`."""
    flat: dict[str, Any] = {}
    for key, value in result.items():
        if key == "invariants":
            for name, held in value.items():
                flat[f"invariant: {name}"] = f"{'held' if held['held'] else 'FAILED'}: {held['detail']}"
        elif isinstance(value, dict):
            flat.update({f"{key}: {name}": figure for name, figure in value.items()})
        else:
            flat[key] = value
    return flat


# ------------------------------------------------------------------ processes, from /proc


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError:
        return b""


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command's name (state first); [] for no such process."""
    return _read(f"/proc/{pid}/stat").decode(errors="replace").rpartition(")")[2].split()


def _alive(pid: int) -> bool:
    """A process that runs or is stopped; a zombie has exited."""
    fields = _stat(pid)
    return bool(fields) and fields[0] != "Z"


def _ppid(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields else None


def _age_s(pid: int) -> float:
    """Seconds since the process started (0 when it is gone)."""
    fields = _stat(pid)
    if not fields:
        return 0.0
    uptime = float(_read("/proc/uptime").split()[0])
    return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _cmdline(pid: int) -> str:
    return _read(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode(errors="replace").strip()


def _children(pid: int) -> list[int]:
    """The live children of a process: every thread's, since a child started from a thread (the
    training child, from the worker's thread) is listed under that thread."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        found += [int(child) for child in _read(f"/proc/{pid}/task/{task}/children").split()]
    return [child for child in found if _alive(child)]


def _marked(marker: str, ray_nodes: set[str] = frozenset()) -> list[int]:
    """Every live process whose environment carries this soak's marker, or names one of its Ray
    nodes (Ray starts its agents with an environment of their own, RAY_NODE_ID in it)."""
    needles = [f"{MARKER}={marker}".encode(), *(f"RAY_NODE_ID={node}".encode() for node in ray_nodes)]
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            environ = _read(f"/proc/{name}/environ")
            if any(needle in environ for needle in needles) and _alive(int(name)):
                found.append(int(name))
    return found


def _ray_node(pid: int, ray_dir: str) -> str | None:
    """The node id of a raylet of the soak's own Ray (its command line names the soak's RAY_TMPDIR)."""
    command = _cmdline(pid)
    if "raylet" not in command or ray_dir not in command:
        return None
    return next((word.partition("=")[2] for word in command.split() if word.startswith("--node_id=")), None)


def _descendants(roots: list[int]) -> set[int]:
    """The roots and every live process below them."""
    seen, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in seen and _alive(pid):
            seen.add(pid)
            todo += _children(pid)
    return seen


def _is_ray(pid: int) -> bool:
    command = _cmdline(pid)
    return command.startswith("ray::") or "/ray/" in command


# ------------------------------------------------------------------ who holds the running runs


class Sampler(threading.Thread):
    """Reads, every SAMPLE_S on a connection of its own, which worker holds each running run and
    under which claim token: the soak's record of ownership over time."""

    def __init__(self, db_path: Path):
        super().__init__(name="chaos-sampler", daemon=True)
        self.db_path = db_path
        self.owners: dict[tuple[int, int], set[str]] = defaultdict(set)  # (run, claim) -> workers seen
        self.running: dict[int, str] = {}  # the latest sample: run -> its worker
        self.samples = 0
        self._lock = threading.Lock()
        self._done = threading.Event()

    def run(self) -> None:
        connection = sqlite3.connect(self.db_path, timeout=1)
        try:
            while not self._done.wait(SAMPLE_S):
                try:
                    rows = connection.execute("SELECT id, worker, claim FROM runs WHERE status = 'running'").fetchall()
                except sqlite3.Error:
                    continue
                with self._lock:
                    for run_id, worker, claim in rows:
                        self.owners[(run_id, claim)].add(worker)
                    self.running = {run_id: worker for run_id, worker, _ in rows}
                    self.samples += 1
        finally:
            connection.close()

    def stop(self) -> None:
        self._done.set()
        self.join(10)

    def held_by(self, pid: int) -> list[int]:
        """The runs the latest sample shows this process holding."""
        with self._lock:
            return sorted(run_id for run_id, worker in self.running.items() if worker.rpartition(":")[2] == str(pid))


# ------------------------------------------------------------------ the soak


@dataclass
class Started:
    """A process the soak started, and where its output goes."""

    role: str
    process: subprocess.Popen
    log: Path


@dataclass
class Soak:
    home: Path
    seed: int
    ray: bool
    every: float
    rng: random.Random = field(init=False)
    faults: Counter = field(default_factory=Counter)
    restarts: Counter = field(default_factory=Counter)
    processes: dict[str, Started] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)  # a worker that stopped without being killed
    orphans: list[str] = field(default_factory=list)  # a process of ours that outlived its parent
    ray_leftovers: int = 0  # Ray's own processes that a killed dispatcher left behind, ended here
    requeued: set[int] = field(default_factory=set)
    refused: dict[int, str] = field(default_factory=dict)  # runs the requeue refused, and why

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.folder = self.home / "chaos"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.db_path = self.home / "runs.db"
        self.marker = uuid4().hex
        self.ray_dir = tempfile.mkdtemp(prefix="chaos-ray-", dir="/tmp")  # short: Ray's socket paths have a limit
        self.env = {
            **os.environ,
            "CIFAR_TUI_HOME": str(self.home),
            MARKER: self.marker,
            "RAY_ADDRESS": "local",  # a Ray of the soak's own, never a `ray start` cluster of this machine
            "RAY_TMPDIR": self.ray_dir,
            "RAY_AUTH_MODE": "disabled",  # no token written into ~/.ray
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        self.roles = [*PLAIN, "pool", *(["dispatcher"] if self.ray else [])]
        self.kinds = [kind for kind in KINDS if self.ray or kind != "kill_dispatcher"]
        self.incarnations: Counter = Counter()
        self.fault_log = self.folder / "faults.log"
        self.sampler = Sampler(self.db_path)
        self.began = time.monotonic()
        self._first_seen: dict[int, float] = {}  # orphan candidates -> when first seen
        self.ray_nodes: set[str] = set()  # the node ids of the soak's Ray instances, one a dispatcher
        self.statuses_before: Counter = Counter()  # the runs' statuses once the faults ended
        self.errors: Counter = Counter()  # the failed runs' reasons then
        self._checked_at = 0.0

    def run(self, runs: int, seconds: float) -> dict[str, Any]:
        queued = self._queue(runs)
        chaos_s = drain_s = 0.0
        try:
            self.sampler.start()
            for role in self.roles:
                self._start(role)
            started = time.monotonic()
            self._chaos(seconds)
            chaos_s = time.monotonic() - started
            stopped = self._stop_all()
            drained, drain_s = self._drain(runs)
        finally:
            self._end_everything()
            self.sampler.stop()
            shutil.rmtree(self.ray_dir, ignore_errors=True)
        return self._result(queued, stopped, drained, chaos_s, drain_s)

    # -------------------------------------------------------------- queueing and starting

    def _cli(self, *args: str, timeout: float = 300) -> str:
        """`cifar-tui ARGS` on the home: its stdout; RuntimeError when it fails."""
        done = subprocess.run(
            [sys.executable, "-m", "cifar_tui.tui.cli", "--home", str(self.home), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise RuntimeError(f"cifar-tui {' '.join(args[:3])} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def _queue(self, runs: int) -> dict[str, Any]:
        """The search first (its first trials at the queue's head, so that they meet the faults),
        then the sweep: a tenth of the runs are trials, at least 6, of a grid over the learning
        rate, where no two trials may have the same point."""
        trials = trials_of(runs)
        rates = ",".join(f"{1e-4 * 300 ** (i / (trials - 1)):.3g}" for i in range(trials))
        search_flags = ["--search", "grid", "--trials", str(trials), "--prune", "asha", "--parallel", str(PARALLEL)]
        search = json.loads(self._cli("queue", "add", "--json", *RUN_FLAGS, *search_flags, "--lr", rates))
        sweep = json.loads(
            self._cli("queue", "add", "--json", *RUN_FLAGS, "--seed", f"0..{runs - trials - 1}", "--yes")
        )
        return {"search": search["sweep"], "trials": trials, "sweep": sweep["sweep"], "sweep runs": len(sweep["ids"])}

    def _start(self, role: str, args: tuple[str, ...] | None = None) -> Started:
        """A `cifar-tui` process in a session of its own (no terminal signal reaches it), its
        output into chaos/ROLE-N.log."""
        self.incarnations[role] += 1
        log = self.folder / f"{role}-{self.incarnations[role]}.log"
        with open(log, "w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "cifar_tui.tui.cli", "--home", str(self.home), *(args or ROLE_ARGS[role])],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = self.processes[role] = Started(role, process, log)
        return started

    # -------------------------------------------------------------- the faults

    def _chaos(self, seconds: float) -> None:
        """One fault every `every` seconds or so until `seconds` are up; what dies unasked is
        restarted and noted, and orphans are looked for all along."""
        end = time.monotonic() + seconds
        bag: list[str] = []
        next_at = time.monotonic() + self._gap()
        while time.monotonic() < end:
            self._look_after()
            if time.monotonic() < next_at:
                time.sleep(0.1)
                continue
            bag = bag or self.rng.sample(self.kinds, len(self.kinds))
            picked = self._pick(bag)
            if picked is None:  # none of the kinds left has a target now (no trainer yet, say)
                time.sleep(0.2)
                continue
            kind, target = picked
            bag.remove(kind)
            self._inject(kind, target)
            next_at = max(time.monotonic(), next_at) + self._gap()

    def _gap(self) -> float:
        return self.rng.uniform(0.5, 1.5) * self.every

    def _pid(self, role: str) -> int | None:
        started = self.processes.get(role)
        return started.process.pid if started and started.process.poll() is None else None

    def _pick(self, bag: list[str]) -> tuple[str, Any] | None:
        """The first kind in the bag that has a target now, and a target drawn for it."""
        for kind in bag:
            targets = self._targets(kind)
            if targets:
                return kind, self.rng.choice(targets)
        return None

    def _targets(self, kind: str) -> list[Any]:
        plain = [pid for pid in map(self._pid, PLAIN) if pid]
        pool, dispatcher = self._pid("pool"), self._pid("dispatcher")
        # A member killed young thrice in a row is given up by its pool, by design: only old ones.
        members = [pid for pid in _children(pool) if "--pool" in _cmdline(pid)] if pool else []
        if kind == "kill_worker":
            return plain
        if kind == "kill_member":
            return [pid for pid in members if _age_s(pid) > QUICK_DEATH_S + 1]
        if kind == "kill_trainer":
            return self._trainers([*plain, *members], dispatcher)  # (child, its worker) pairs
        if kind == "kill_dispatcher":
            return [dispatcher] if dispatcher else []
        if kind == "stop_cont":
            return [pid for pid in [*plain, *members, pool, dispatcher] if pid]
        return [self.db_path]  # hold_lock

    def _trainers(self, workers: list[int], dispatcher: int | None) -> list[tuple[int, int]]:
        """(child, its worker) for the training children of the workers and the dispatcher's
        Ray actors; only those whose worker holds a running run, when any does."""
        found = {
            child: worker
            for worker in workers
            for child in _children(worker)
            if "multiprocessing.spawn" in _cmdline(child)
        }
        if dispatcher:
            for raylet in (pid for pid in _children(dispatcher) if "raylet" in _cmdline(pid)):
                found |= {pid: dispatcher for pid in _children(raylet) if _cmdline(pid).startswith("ray::RemoteRun")}
        pairs = sorted(found.items())
        busy = [pair for pair in pairs if self.sampler.held_by(pair[1])]
        return busy or pairs

    def _role_of(self, pid: int) -> str:
        """The role of a process the soak started; a pool member's otherwise."""
        return next((s.role for s in self.processes.values() if s.process.pid == pid), "a pool member")

    def _inject(self, kind: str, target: Any) -> None:
        """Do one fault and restart what it killed (a pool restarts its members itself, a worker
        its training child), with a line in chaos/faults.log."""
        self.faults[kind] += 1
        if kind == "hold_lock":
            seconds = self.rng.uniform(*PAUSE_S)
            self._note(kind, f"{seconds:.1f} s")
            holder = sqlite3.connect(target, timeout=30, isolation_level=None)
            try:
                holder.execute("BEGIN IMMEDIATE")  # another program writing: nobody else may write
                time.sleep(seconds)
                holder.execute("ROLLBACK")
            finally:
                holder.close()
            return
        target, owner = target if kind == "kill_trainer" else (target, target)
        what = f"pid {target} of {self._role_of(owner)} (pid {owner}, holding runs {self.sampler.held_by(owner)})"
        if kind == "stop_cont":
            seconds = self.rng.uniform(*PAUSE_S)
            self._note(kind, f"{what} for {seconds:.1f} s")
            os.kill(target, signal.SIGSTOP)
            try:
                time.sleep(seconds)
            finally:
                os.kill(target, signal.SIGCONT)
            return
        self._note(kind, what)
        if kind == "kill_dispatcher":
            self._remember_ray()
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            return  # it ended by itself meanwhile
        role = self._role_of(target)
        if role in self.processes:  # a plain worker or the dispatcher: the soak restarts it
            self.processes[role].process.wait()
            self._start(role)
            self.restarts["dispatcher (by the soak)" if role == "dispatcher" else "plain workers (by the soak)"] += 1

    def _note(self, kind: str, what: str) -> None:
        with open(self.fault_log, "a") as log:
            log.write(f"{time.monotonic() - self.began:8.2f} s  {kind:<15} {what}\n")

    def _look_after(self) -> None:
        """Restart a worker that stopped without being killed (and say so), and look for
        processes of the soak that outlived their parents, every 2 s."""
        for role, started in list(self.processes.items()):
            code = started.process.poll()
            if code is not None and role in self.roles:
                self.unexpected.append(f"{role} exited {code} (see {started.log.name})")
                self._start(role)
        if time.monotonic() - self._checked_at >= 2.0:
            self._checked_at = time.monotonic()
            self._find_orphans()

    def _find_orphans(self, grace_s: float = ORPHAN_GRACE_S) -> None:
        """A process of the soak that no live worker started (its worker was killed) has
        ORPHAN_GRACE_S to exit. Ray's own (the agents of a killed dispatcher's Ray) are ended and
        counted; anything else, a training child above all, is an orphan: noted and ended."""
        self._remember_ray()
        ours = self._ours()
        now = time.monotonic()
        stray = [pid for pid in self._everything() if pid not in ours]
        self._first_seen = {pid: self._first_seen.get(pid, now) for pid in stray}
        for pid in stray:
            if now - self._first_seen[pid] < grace_s:
                continue
            if _is_ray(pid):
                self.ray_leftovers += 1
            else:
                self.orphans.append(f"pid {pid} ({_cmdline(pid)[:80]}) outlived its parent by {grace_s:g} s")
            _kill(pid)
            self._first_seen.pop(pid, None)

    # -------------------------------------------------------------- stopping and draining

    def _stop_all(self) -> dict[str, int | None]:
        """Ctrl-C to every worker, as a user stops them; SIGKILL to one that has not exited in
        STOP_S. Their exit statuses (None: killed)."""
        self._remember_ray()
        for started in self.processes.values():
            if started.process.poll() is None:
                started.process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_S
        codes: dict[str, int | None] = {}
        for role, started in self.processes.items():
            try:
                codes[role] = started.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                started.process.kill()
                started.process.wait()
                codes[role] = None
        self.processes.clear()
        deadline = time.monotonic() + ORPHAN_GRACE_S + 2  # nothing of the soak may live on now
        while self._everything() and time.monotonic() < deadline:
            self._find_orphans()
            time.sleep(0.5)
        return codes

    def _drain(self, runs: int) -> tuple[bool, float]:
        """Queue again what the faults ended (opening the store marks a dead worker's run
        interrupted first), as the Runs tab's `r`, then one `worker --until-empty`. (whether
        it exited 0 in time, its seconds)"""
        from ...store.actions import ActionError, requeue_run
        from ...store.runs import RunStore

        store = RunStore(self.db_path)
        try:
            ended = [
                row[0]
                for row in store.db.execute("SELECT id, status FROM runs ORDER BY id")
                if row[1] in ENDED_BY_FAULTS
            ]
            self.statuses_before = Counter(row[0] for row in store.db.execute("SELECT status FROM runs"))
            self.errors = Counter(
                (row[0] or "")[:90] for row in store.db.execute("SELECT error FROM runs WHERE status = 'failed'")
            )
            for run_id in ended:
                try:
                    requeue_run(store, run_id, self.home / "checkpoints")
                    self.requeued.add(run_id)
                except ActionError as error:
                    self.refused[run_id] = str(error)
        finally:
            store.close()
        began = time.monotonic()
        drain = self._start("drain", ("worker", "--until-empty"))
        try:
            code = drain.process.wait(timeout=120 + 5 * runs)
        except subprocess.TimeoutExpired:
            drain.process.kill()
            drain.process.wait()
            code = None
        self.processes.clear()
        return code == 0, time.monotonic() - began

    def _end_everything(self) -> None:
        """Whatever happened, nothing the soak started lives on: a stopped process is continued
        and every process with the soak's marker is killed."""
        for pid in self._everything():
            _kill(pid)
        for started in self.processes.values():
            started.process.kill()
            started.process.wait()
        deadline = time.monotonic() + 30
        while self._everything() and time.monotonic() < deadline:
            time.sleep(0.2)

    def _ours(self) -> set[int]:
        """The live processes the soak started and everything below them."""
        return _descendants([s.process.pid for s in self.processes.values() if s.process.poll() is None])

    def _remember_ray(self) -> None:
        """Note the node ids of the soak's live Ray instances, by which their agents are found
        once their dispatcher is gone (before a kill, and before the stop)."""
        self.ray_nodes |= {node for pid in self._ours() if (node := _ray_node(pid, self.ray_dir))}

    def _everything(self) -> list[int]:
        """Every live process of the soak's, its Ray's agents too."""
        return _marked(self.marker, self.ray_nodes)

    # -------------------------------------------------------------- the figures

    def _result(
        self, queued: dict[str, Any], stopped: dict[str, int | None], drained: bool, chaos_s: float, drain_s: float
    ) -> dict[str, Any]:
        statuses = Counter(dict(_query(self.db_path, "SELECT status, count(*) FROM runs GROUP BY status")))
        logs = "".join(path.read_text(errors="replace") for path in sorted(self.folder.glob("*.log")))
        self.restarts["pool members (by the pool)"] = logs.count("stopped (exit -9); starting a new one")
        training_killed = logs.count("the training process died") + logs.count("its Ray worker was lost")
        invariants = check(self.db_path, queued["search"], self, logs, drained)
        return {
            "home": str(self.home),
            "seed": self.seed,
            "fault every s": self.every,
            "runs queued": queued["sweep runs"] + queued["trials"],
            "sweep runs": queued["sweep runs"],
            "search trials": queued["trials"],
            "ray": "on (its own local Ray)" if self.ray else "off",
            "faults": sum(self.faults.values()),
            "faults by kind": {KINDS[kind]: self.faults[kind] for kind in self.kinds},
            "restarts": dict(self.restarts),
            "after the faults": {status: self.statuses_before[status] for status in sorted(self.statuses_before)},
            "failed with": dict(self.errors.most_common(3)),
            "runs ended by a killed training child or actor": training_killed,
            "requeued for the drain": len(self.requeued),
            "stop exit statuses": ", ".join(f"{role} {code}" for role, code in stopped.items()),
            "ray processes left behind (ended by the soak)": self.ray_leftovers,
            "finished": statuses["finished"],
            "pruned": statuses["pruned"],
            "ownership samples": self.sampler.samples,
            "chaos s": round(chaos_s, 1),
            "drain s": round(drain_s, 1),
            "wall s": round(time.monotonic() - self.began, 1),
            "invariants": invariants,
            "held": all(held["held"] for held in invariants.values()),
            "fault log": str(self.fault_log),
        }


def _kill(pid: int) -> None:
    try:
        os.kill(
            pid, signal.SIGCONT
        )  # a stopped process dies of SIGKILL all the same; continued, it is not left stopped
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _query(db_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    connection = sqlite3.connect(db_path, timeout=30)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


# ------------------------------------------------------------------ the invariants


def check(db_path: Path, search: str, soak: Soak, logs: str, drained: bool) -> dict[str, dict[str, Any]]:
    """Each invariant: held or not, and a detail naming what broke it (a run id and its rows)."""
    return {
        "every run finished, a search trial finished or pruned": _ended(db_path, drained, soak.refused),
        "each run's loss rows exactly its steps": _losses(db_path),
        "each epoch recorded once": _epochs(db_path),
        "no run trained by two owners at once": _one_owner(db_path, soak, logs),
        "no search trial proposed twice": _proposed_once(db_path, search),
        "a killed worker's training child exits; no worker stops unasked": _no_orphans(soak),
        "the store's integrity check clean": _integrity(db_path),
    }


def _held(broken: list[str], fine: str) -> dict[str, Any]:
    return {
        "held": not broken,
        "detail": fine if not broken else "; ".join(broken[:5]) + (" ..." if len(broken) > 5 else ""),
    }


def _ended(db_path: Path, drained: bool, refused: dict[int, str]) -> dict[str, Any]:
    rows = _query(db_path, "SELECT id, status, trial, error FROM runs")
    broken = [
        f"run {run_id} {status}" + (f" ({error[:80]})" if error else "")
        for run_id, status, trial, error in rows
        if status != "finished" and not (status == "pruned" and trial is not None)
    ]
    broken += [f"run {run_id}: requeue refused ({why})" for run_id, why in refused.items()]
    if not drained:
        broken.insert(0, "the drain's worker --until-empty did not exit 0 in time")
    counts = Counter(status for _, status, _, _ in rows)
    return _held(broken, f"{counts['finished']} finished, {counts['pruned']} pruned trials, of {len(rows)}")


def _losses(db_path: Path) -> dict[str, Any]:
    """A finished run has epochs x batches loss rows, a pruned one epochs done x batches: steps 0
    to n - 1 each once (the key is (run, step)), each under the epoch it belongs to."""
    rows = _query(
        db_path,
        """SELECT r.id, r.status, r.epochs, r.epochs_done, r.total_steps, json_extract(r.config, '$.limit_batches'),
                  count(l.step), min(l.step), max(l.step),
                  coalesce(sum(l.epoch != l.step / json_extract(r.config, '$.limit_batches') + 1), 0)
           FROM runs r LEFT JOIN losses l ON l.run_id = r.id GROUP BY r.id""",
    )
    broken, total = [], 0
    for run_id, status, epochs, done, total_steps, batches, count, low, high, misplaced in rows:
        expected = (epochs if status == "finished" else done) * batches
        total += count
        if status == "finished" and total_steps != expected:
            broken.append(f"run {run_id}: total_steps {total_steps}, not {expected}")
        if (count, low or 0, high if high is not None else -1) != (expected, 0, expected - 1) or misplaced:
            broken.append(
                f"run {run_id} ({status}): {count} loss rows, steps {low}..{high}, {misplaced} under another epoch; expected {expected}"
            )
    return _held(broken, f"{total:,} loss rows, each run's steps 0..n-1 once")


def _epochs(db_path: Path) -> dict[str, Any]:
    """Epochs 1..E, each once, at step e x batches; E the run's epochs (a pruned trial: the epoch
    it was pruned at), and runs.epochs_done the same count."""
    rows = _query(
        db_path,
        """SELECT r.id, r.status, r.epochs, r.epochs_done, json_extract(r.config, '$.limit_batches'),
                  json_extract(r.trial_attrs, '$."cifar-tui:pruned_at"'),
                  (SELECT group_concat(epoch || ':' || step, ' ') FROM (SELECT epoch, step FROM epochs
                   WHERE run_id = r.id ORDER BY epoch))
           FROM runs r""",
    )
    broken, total = [], 0
    for run_id, status, epochs, done, batches, pruned_at, recorded in rows:
        last = epochs if status == "finished" else (pruned_at if status == "pruned" else done)
        expected = " ".join(f"{e}:{e * batches}" for e in range(1, (last or 0) + 1))
        total += len((recorded or "").split())
        if (recorded or "") != expected or done != (last or 0):
            broken.append(
                f"run {run_id} ({status}): epochs {recorded or 'none'}, epochs_done {done}; expected {expected}"
            )
    return _held(broken, f"{total:,} epoch rows, each run's epochs 1..E once")


def _one_owner(db_path: Path, soak: Soak, logs: str) -> dict[str, Any]:
    """From the claim tokens: nothing took a run from its owner during the faults, so each run's
    token counts one claim, plus one if the drain requeued it; every (run, token) was held by one
    worker in every sample; no worker was fenced off a run it trained (`this worker lost the
    run`); and every process of the faults was gone before the drain's worker claimed anything."""
    broken = []
    for run_id, claim in _query(db_path, "SELECT id, claim FROM runs"):
        expected = 1 + (run_id in soak.requeued)
        if claim != expected:
            broken.append(f"run {run_id}: claim token {claim}, expected {expected} (claimed more often than queued)")
    for (run_id, claim), workers in sorted(soak.sampler.owners.items()):
        if len(workers) > 1:
            broken.append(f"run {run_id}: claim {claim} held by {sorted(workers)}")
    fenced = [line for line in logs.splitlines() if "this worker lost the run" in line]
    broken += [f"fenced: {line[:120]}" for line in fenced]
    held_by = {run_id: worker for (run_id, _), workers in soak.sampler.owners.items() for worker in workers}
    return _held(
        broken,
        f"{len(held_by)} runs seen training across {soak.sampler.samples} samples, one owner per claim; "
        f"claims = 1 + requeues ({len(soak.requeued)}); no worker fenced off a run",
    )


def _proposed_once(db_path: Path, search: str) -> dict[str, Any]:
    """The search's trials are numbered 0..N-1, each once, N its trials; a grid's points differ."""
    (trials,) = _query(db_path, "SELECT trials FROM studies WHERE name = ?", (search,))[0]
    rows = _query(
        db_path, "SELECT trial, json_extract(config, '$.lr') FROM runs WHERE sweep = ? ORDER BY trial", (search,)
    )
    numbers = [number for number, _ in rows]
    broken = []
    if numbers != list(range(trials)):
        repeated = sorted(n for n, times in Counter(numbers).items() if times > 1)
        broken.append(f"trial numbers {numbers} (repeated: {repeated}), expected 0..{trials - 1}")
    points = Counter(lr for _, lr in rows)
    broken += [f"lr {lr} proposed {times} times" for lr, times in points.items() if times > 1]
    return _held(broken, f"{len(rows)} trials of {trials}, numbers 0..{trials - 1} once, every grid point once")


def _no_orphans(soak: Soak) -> dict[str, Any]:
    return _held(
        soak.orphans + soak.unexpected, "every killed worker's training child exited; no worker exited unasked"
    )


def _integrity(db_path: Path) -> dict[str, Any]:
    integrity = _query(db_path, "PRAGMA integrity_check")
    foreign = _query(db_path, "PRAGMA foreign_key_check")
    broken = [] if integrity == [("ok",)] else [f"integrity_check: {integrity[:3]}"]
    broken += [f"foreign_key_check: {row}" for row in foreign[:3]]
    return _held(broken, "integrity_check ok, foreign_key_check empty")
