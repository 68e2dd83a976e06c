"""NN Lab's NumPy engine: layers, models, losses, optimizers, data and training.

Imports only NumPy and the standard library.
"""

__version__ = "0.3.0"


def _keep_freed_memory() -> None:
    """Ask glibc to keep freed blocks instead of unmapping them (Linux only; a no-op elsewhere).

    Training allocates and frees the same large temporaries every batch. By default glibc serves
    blocks over 128 KiB with mmap and returns them on free, so each batch pays for fresh zeroed
    pages (page faults), which made CNN epochs several times slower (bench/engine.py shows it).
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)  # glibc's own cap for its dynamic threshold
        libc.mallopt(m_trim_threshold, 1024 * 1024 * 1024)
    except (OSError, AttributeError):
        pass


_keep_freed_memory()
