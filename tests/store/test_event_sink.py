from dataclasses import MISSING, fields
from typing import get_args

import pytest

from cifar_tui.engine.events import HANDLERS, Event, EventSink, RunFinished


def each_event():
    """One made-up instance of every event class (its fields' values do not matter here)."""
    for event_class in get_args(Event):
        yield event_class(**{f.name: 0 for f in fields(event_class) if f.default is MISSING})


def test_every_event_has_one_handler_that_the_sink_defines():
    names = [HANDLERS[event_class] for event_class in get_args(Event)]
    assert len(set(names)) == len(names) == len(HANDLERS)  # one name each, none shared
    defined = {name for name in vars(EventSink) if name.startswith("on_")}
    assert defined == set(names)  # an event without its method (or a method without its event) fails here


def test_handle_calls_the_one_method_of_each_events_type():
    class Calls(EventSink):
        def __init__(self):
            self.calls = []

    sink = Calls()
    for name in HANDLERS.values():
        setattr(sink, name, lambda event, name=name: sink.calls.append((name, type(event))))
    for event in each_event():
        sink(event)
    assert sink.calls == [(name, event_class) for event_class, name in HANDLERS.items()]
    sink.handle(object())  # not an event: nothing is called
    assert len(sink.calls) == len(HANDLERS)


def test_a_handler_that_names_no_event_is_refused_when_the_class_is_made():
    with pytest.raises(TypeError, match="on_run_finshed handles no event"):

        class Misspelt(EventSink):
            def on_run_finshed(self, event):
                pass

    class Kept(EventSink):
        def __init__(self):
            self.finished = []

        def on_run_finished(self, event):
            self.finished.append(event.run_id)

    kept = Kept()
    kept.handle(RunFinished(3, 90.0, 0.3, 10.0))
    assert kept.finished == [3]
