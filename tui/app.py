"""The interactive app: New experiment form, Queue, Live training view and the Runs browser."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane

from ..store.actions import ActionError, cancel_run
from ..store.follower import StoreFollower
from .ending_notices import EndingNotices
from .live_state import LiveState
from .safe_text import markup_safe
from .views.live_view import LiveView
from .views.new_run import NewRunForm
from .views.queue_view import QueueView
from .views.runs_view import RunsView
from .worker.engine_host import EngineHost
from .worker.engine_process import EngineProcess

FOLLOW_S = 0.5
DEVICES_SETTING = "engine_devices"  # in <home>/settings.json: the engine's `worker --devices`, "" for one


class CifarApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "cifar-tui"
    BINDINGS = [
        # The tabs' labels carry their numbers: the footer keeps room for each tab's own keys.
        Binding("1", "show_tab('new')", "New", show=False),
        Binding("2", "show_tab('queue')", "Queue", show=False),
        Binding("3", "show_tab('live')", "Live", show=False),
        Binding("4", "show_tab('runs')", "Runs", show=False),
        *(
            Binding(f"f{i}", f"show_tab('{tab}')", tab, show=False, priority=True)
            for i, tab in enumerate(("new", "queue", "live", "runs"), start=1)
        ),
        Binding("ctrl+s", "add_run", "Add to queue", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, home, start_engine: bool = True, engine: str | Callable[[Any], EngineHost] = "process"):
        """engine: "process" trains in a `cifar-tui worker` child (tui/worker/engine_process.py);
        "thread" on a thread of this process (tui/worker/engine_thread.py); or what makes the
        EngineHost from the home (the fast tests' scripted engine)."""
        super().__init__()
        self.home = home
        self.engine_kind = engine
        self.store = home.store()  # the UI thread's connection; the engine and recorder have their own
        self.live = LiveState()
        self.notices = EndingNotices(self.notify, self.bell)
        self.start_engine = start_engine
        self.engine: EngineHost | None = None  # started in on_mount
        self._devices_pending = False  # new engine devices wait for the running runs to end

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="live", id="tabs"):
            with TabPane("1 New", id="new"):
                yield NewRunForm(id="new-run")
            with TabPane("2 Queue", id="queue"):
                yield QueueView(id="queue-view")
            with TabPane("3 Live", id="live"):
                yield LiveView(self.live, id="live-view")
            with TabPane("4 Runs", id="runs"):
                yield RunsView(id="runs-view")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.home.path)
        if self.start_engine and callable(self.engine_kind):
            self.engine = self.engine_kind(self.home)
            self.engine.start()
        elif self.start_engine and self.engine_kind == "process":
            self._start_engine_process()
        elif self.start_engine:
            # After the first frame: the engine imports torch, a second or more that the screen need not wait for.
            self.set_timer(0.05, self._start_engine_thread)
        self.follower = StoreFollower(self.store, emit=self.show_event)
        self.set_interval(FOLLOW_S, self._follow)

    def _start_engine_process(self) -> None:
        devices = self.home.setting(DEVICES_SETTING)
        self.engine = EngineProcess(self.home.path, self.home.path / "worker.log", self.store, devices)
        self.engine.start()

    def _start_engine_thread(self) -> None:
        from .worker.engine_thread import EngineThread

        self.engine = EngineThread(self.home)
        self.engine.start()

    def _follow(self) -> None:
        """Every run reaches the screen one way: through the store, whoever trains it."""
        problem = self.engine.keep_alive() if self.engine is not None else None
        if self._devices_pending and not self.engine.training():
            self._restart_engine()
        if problem:
            self.notify(problem, severity="error", timeout=20)
        self.follower.poll()

    def on_unmount(self) -> None:
        if self.engine is not None:
            self.engine.close()
        self.store.close()

    # ------------------------------------------------------------ run events

    def show_event(self, event) -> None:
        """An event of a run, read from the store (store/follower.py): Live shows it, and the
        user hears of every ending that was not their own doing."""
        self.live.apply(event)
        self.notices.handle(event)

    # ------------------------------------------------------------ actions

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    @on(TabbedContent.TabActivated)
    def _focus_tab(self, event: TabbedContent.TabActivated) -> None:
        # Focus lands inside the tab, so that its keys (shown in the footer) work at once.
        target = {"new": "#field-model", "queue": "#queue-table", "live": "#live-view", "runs": "#runs-table"}
        if event.pane.id != event.tabbed_content.active:
            return  # a late event for a tab already left
        for view in event.pane.query("QueueView, RunsView"):
            view.reload()  # fresh at once, not at the next timer tick
        for widget in event.tabbed_content.query(target[event.pane.id]):
            widget.focus()

    def action_show_ledger(self) -> None:
        from .screens.ledger import LedgerScreen

        self.push_screen(LedgerScreen(self.store.ledger()))

    def action_add_run(self) -> None:
        self.query_one(NewRunForm).submit()

    @on(NewRunForm.Submitted)
    def _queue_runs(self, message: NewRunForm.Submitted) -> None:
        if message.search is not None:
            name, ids = self.store.enqueue_study(*message.search[:1], None, message.search[1])
            if self.engine is not None:
                self.engine.wake()
            self.notify(f"queued search {name}: {len(ids)} of its trials now, the next as these end")
            self.query_one(QueueView).reload()
            return
        if len(message.configs) == 1:
            ids, sweep = [self.store.enqueue(message.configs[0].to_dict())], None
        else:  # one transaction, one sweep name
            sweep, ids = self.store.enqueue_sweep([config.to_dict() for config in message.configs])
        if self.engine is not None:
            self.engine.wake()
        self.notify(f"queued run {ids[0]}" if sweep is None else f"queued runs {ids[0]}–{ids[-1]} as sweep {sweep}")
        self.query_one(QueueView).reload()

    @property
    def engine_devices(self) -> list[str] | None:
        """What the app's engine can train on, as it registered it in the store."""
        return self.store.worker_devices(self.engine.worker_name) if self.engine is not None else None

    @property
    def engine_paused(self) -> bool:
        return self.engine is not None and self.store.worker_paused(self.engine.worker_name)

    def action_toggle_pause(self) -> None:
        """Hold or release the app's engine's queue (a request in the store, as for any worker)."""
        if self.engine is None:
            self.notify("this app has no engine of its own", severity="warning")
            return
        paused = not self.engine_paused
        self.store.pause_worker(self.engine.worker_name, paused)
        if paused:
            self.notify("engine paused: the current run finishes, no new run starts")
        else:
            self.engine.wake()
            self.notify("engine resumed: it takes the next queued run")
        self.query_one(QueueView).reload()

    def action_engine_devices(self) -> None:
        """Ask which devices the app's engine trains on (a pool of workers, one per device),
        remember it in the home, and restart the engine with it once it is idle."""
        from .screens.text_prompt import TextPrompt
        from .worker.device_pool import DevicesError, expand_devices

        if self.engine_kind != "process" or self.engine is None:
            self.notify("only the app's engine process (the default) trains on several devices", severity="warning")
            return
        prompt = TextPrompt(
            "Devices the engine trains on, a run on each at once",
            self.home.setting(DEVICES_SETTING),
            "cuda:0,cuda:1 · all (every GPU) · cpu,cpu (the cores split) · empty: one device",
        )

        def answered(text: str | None) -> None:
            if text is None or text.strip() == self.home.setting(DEVICES_SETTING):
                return
            try:
                devices = ",".join(expand_devices(text, ["cpu"])) if text.strip() not in ("", "all") else text.strip()
            except DevicesError as error:
                self.notify(str(error), severity="error")
                return
            self.home.remember(DEVICES_SETTING, devices)
            if self.engine.training():
                self.notify(f"engine devices: {devices or 'one'}; used once no run is training (or at the next start)")
                self._devices_pending = True
                return
            self._restart_engine()

        self.push_screen(prompt, answered)

    def _restart_engine(self) -> None:
        self._devices_pending = False
        paused = self.engine_paused
        self.engine.close()
        self._start_engine_process()
        if paused:
            self.store.pause_worker(self.engine.worker_name)
        devices = self.home.setting(DEVICES_SETTING)
        self.notify(f"the engine now trains on {devices}" if devices else "the engine now trains on one device")

    def action_toggle_run_pause(self) -> None:
        """Hold the run Live shows at its next batch, or let it go on, whichever process trains it."""
        run = self.live.run
        if run is None or run.status != "running":
            self.notify("no run is training", severity="warning")
            return
        paused = not self.store.run(run.run_id)["pause_requested"]
        if self.store.request_pause(run.run_id, paused):
            self.notify(
                f"run {run.run_id} paused at its next batch (p goes on)" if paused else f"run {run.run_id} goes on"
            )

    def action_watch_run(self) -> None:
        """Choose which of the runs training now (any worker, any device) Live follows."""
        from ..store.export import run_record

        running = [run_record(row, {}) for row in self.store.find("status=running", sort="id")]
        if len(running) < 2:
            self.notify("one run at a time is training: Live follows it" if running else "no run is training")
            return
        from .screens.pick_run import PickRunScreen

        def chosen(run_id: int | None) -> None:
            if run_id is not None:
                self.follower.watch(run_id)

        current = self.live.run.run_id if self.live.run else None
        self.push_screen(PickRunScreen(running, current), chosen)

    def action_cancel_current(self) -> None:
        """Cancel the run the Live view shows, whichever process trains it."""
        run = self.live.run
        if run is None or run.status != "running":
            self.notify("no run is training", severity="warning")
        else:
            self.cancel_run(run.run_id)

    def cancel_run(self, run_id: int, then: Callable[[], None] = lambda: None) -> None:
        """Cancel a queued run, or stop a training one (in any process), after asking."""
        run = self.store.run(run_id)
        if run is None or run["status"] not in ("queued", "running"):
            self.notify(f"run {run_id} is not queued or training", severity="warning")
            return
        from .screens.confirm import ConfirmScreen

        def answer(confirmed: bool | None) -> None:
            if not confirmed:
                return
            try:
                outcome = cancel_run(self.store, run_id)
            except ActionError:
                self.notify(f"run {run_id} is no longer queued or training", severity="warning")
            else:
                asked = f"cancelling run {run_id} (its worker stops it within a second)…"
                self.notify(f"run {run_id} cancelled" if outcome == "cancelled" else asked)
            then()

        question = (
            f"Stop run {run_id}, which is training? Its last checkpoint stays: r in Runs resumes it."
            if run["status"] == "running"
            else f"Cancel queued run {run_id}?"
        )
        self.push_screen(ConfirmScreen(question, "Cancel run", "Keep it"), answer)

    def clone_run(self, run_id: int) -> None:
        run = self.store.run(run_id)
        if run is None:
            return
        self.query_one(NewRunForm).clone(run["config"])
        self.action_show_tab("new")
        self.notify(f"run {run_id}'s config is in the form: change it, then ctrl+s")

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        tabs = [
            ("1 New", [*NewRunForm.BINDINGS, Binding("enter", "", "next field"),
                       Binding("tab,shift+tab", "", "next / previous field")]),
            ("2 Queue", QueueView.BINDINGS),
            ("3 Live", LiveView.BINDINGS),
            ("4 Runs", RunsView.BINDINGS),
        ]  # fmt: skip
        self.push_screen(HelpScreen(tabs))

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """The palette's Screenshot: into the home folder, which exists (Textual's default may not)."""
        return super().deliver_screenshot(filename, path or str(self.home.path), time_format)

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG of the screen into the home folder (Textual's default folder may not exist)."""
        saved = self.save_screenshot(filename, path or str(self.home.path))
        self.notify(markup_safe(f"screenshot saved to {saved}"))

    async def action_quit(self) -> None:
        current = self.engine.training() if self.engine is not None else []
        if not current:
            self.exit()
            return
        from .screens.confirm import ConfirmScreen

        def answer(confirmed: bool | None) -> None:
            if confirmed:
                self.exit()  # on_unmount cancels the run and waits for it to be recorded

        self.push_screen(
            ConfirmScreen(
                f"Run {current[0]} is training. Cancel it and quit?"
                if len(current) == 1
                else f"Runs {', '.join(map(str, current))} are training. Cancel them and quit?",
                "Cancel and quit",
                "Keep training",
            ),
            answer,
        )

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("New experiment", "Open the form (1)", lambda: self.action_show_tab("new"))
        yield SystemCommand("Queue", "Queued and running runs (2)", lambda: self.action_show_tab("queue"))
        yield SystemCommand("Live", "The run that is training (3)", lambda: self.action_show_tab("live"))
        yield SystemCommand("Runs", "Browse, compare and export past runs (4)", lambda: self.action_show_tab("runs"))
        yield SystemCommand("Add to queue", "Queue the form's experiment (ctrl+s)", self.action_add_run)
        yield SystemCommand(
            "Pause or resume the engine", "Finish the current run, start no new one", self.action_toggle_pause
        )
        yield SystemCommand(
            "Engine devices",
            "Train on several devices at once (cuda:0,cuda:1 · all · cpu,cpu)",
            self.action_engine_devices,
        )
        yield SystemCommand("Cancel the training run", "Stop it at the next batch", self.action_cancel_current)
        yield SystemCommand(
            "Pause or continue the training run", "Hold it at its next batch (p on Live)", self.action_toggle_run_pause
        )
        yield SystemCommand(
            "Export runs",
            "Write the run table as csv, json, md or latex",
            lambda: self.query_one(RunsView).action_export(),
        )
        yield SystemCommand(
            "Compare selected runs", "Overlay their curves", lambda: self.query_one(RunsView).action_compare()
        )
        yield SystemCommand(
            "Presets ledger", "Each preset's published accuracy beside its runs here", self.action_show_ledger
        )
