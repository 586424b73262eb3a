import math

from textual.app import App

from cifar_tui.tui.widgets.loss_chart import LossChart, Series, downsample, nice_ticks, smooth


def test_downsample_averages_buckets_and_keeps_short_series():
    assert downsample([1.0, 2.0, 3.0], max_points=10) == ([0.0, 1.0, 2.0], [1.0, 2.0, 3.0])
    xs, ys = downsample([float(i) for i in range(10)], max_points=3)
    assert xs == [1.5, 5.5, 8.5] and ys == [1.5, 5.5, 8.5]
    assert downsample([]) == ([], [])


def test_downsample_bounds_a_million_points():
    xs, ys = downsample([1.0] * 1_000_000, max_points=1000, first_x=100)
    assert len(xs) == 1000 and set(ys) == {1.0} and xs[0] == 100 + 499.5


def test_smooth_is_a_trailing_moving_average():
    assert smooth([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], fraction=0.3) == [1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    assert smooth([]) == []


# ------------------------------------------------------------------ the chart widget


BRAILLE = range(0x2801, 0x2900)


async def chart_lines(series, size=(60, 14), **kwargs) -> list[str]:
    class One(App):
        def compose(self):
            yield LossChart(**kwargs)

    app = One()
    async with app.run_test(size=size):
        chart = app.query_one(LossChart)
        chart.show(series)
        return [chart.render_line(y).text for y in range(chart.size.height)]


def plot_rows(lines):
    """The plot's rows without their y labels: between the title and the two axis rows."""
    return [line.split("┤" if "┤" in line else "│", 1)[1] for line in lines[1:-2]]


async def test_a_rising_line_goes_from_bottom_left_to_top_right():
    lines = await chart_lines([Series("acc", [0, 50, 100], [0.0, 0.5, 1.0], color="green")], title="rise")
    assert all(len(line) == 60 for line in lines)
    assert lines[0].startswith(" rise") and "━ acc" in lines[0]
    rows = plot_rows(lines)

    def has_dots(text):
        return any(ord(c) in BRAILLE for c in text)

    assert has_dots(rows[-1][:5]) and not has_dots(rows[-1][-5:])  # starts low on the left
    assert has_dots(rows[0][-5:]) and not has_dots(rows[0][:5])  # ends high on the right
    assert all(has_dots(row) for row in rows[1:-1])  # a line, not two dots
    assert "└" in lines[-2] and lines[-1].split() == ["step", "0", "20", "40", "60", "80", "100"]


async def test_epoch_axes_label_whole_epochs_only_and_one_point_is_visible():
    lines = await chart_lines([Series("test acc", [1], [86.5])], xlabel="epoch")
    assert lines[-1].split() == ["epoch", "1"]
    assert sum(ord(c) in BRAILLE for line in plot_rows(lines) for c in line) >= 1
    lines = await chart_lines([Series("acc", [1, 2, 3, 4, 5], [60, 70, 75, 80, 82])], xlabel="epoch")
    assert lines[-1].split() == ["epoch", "1", "2", "3", "4", "5"]


async def test_an_empty_chart_says_so_and_bad_values_are_skipped():
    lines = await chart_lines([], title="batch loss")
    assert any("no data yet" in line for line in lines)
    lines = await chart_lines([Series("loss", [0, 1, 2, 3], [1.0, math.nan, math.inf, 0.5])])
    assert sum(ord(c) in BRAILLE for line in plot_rows(lines) for c in line) >= 2


def test_nice_ticks_are_round_and_inside_the_range():
    assert nice_ticks(0.0, 1.0, 5) == [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0] or [
        round(t, 6) for t in nice_ticks(0.0, 1.0, 5)
    ] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0.5, 1.5, 3, min_step=1.0) == [1.0]
    assert [round(t) for t in nice_ticks(3, 2987, 6)] == [500, 1000, 1500, 2000, 2500]


async def test_a_long_legend_gets_its_own_row():
    series = [Series(f"{i} a run with a long name", [0, 1], [1.0, 0.5]) for i in range(3)]
    lines = await chart_lines(series, size=(60, 14), title="batch loss (smoothed)")
    assert lines[0].strip() == "batch loss (smoothed)" and lines[1].startswith("   ━ 0 a run with a long name")
    assert all(len(line) == 60 for line in lines)
