"""The GPU studies' profile: the kernels that take the most GPU time, where the next speed-up is."""

from collections.abc import Callable


def kernel_table(train_once: Callable[[], object], rows: int = 25, width: int = 70) -> list[str]:
    """Profile train_once() on the CPU and CUDA; the table of its top kernels by GPU time, printed
    and returned as lines."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        train_once()
    table = prof.key_averages().table(sort_by="device_time_total", row_limit=rows, max_name_column_width=width)
    print(table, flush=True)
    return table.splitlines()
