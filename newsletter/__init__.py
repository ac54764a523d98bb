"""Trending papers in your inbox: a self-hosted weekly digest of research papers."""

import os

# One BLAS thread per process, set before numpy loads OpenBLAS: the products here are small
# (a week's vectors times one topic), and each worker is already a process per core, so
# OpenBLAS's own threads only fight the other workers (a matrix-vector product measured 10x
# slower on busy cores with them). An operator's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
