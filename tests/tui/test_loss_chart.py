from tui.widgets.loss_chart import downsample, smooth


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
