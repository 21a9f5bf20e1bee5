"""Benchmarks of lstm-ae, outside the library (which never imports them). Run from the repository root:

python -m benchmarks.bench [--quick]       # the harness: ours vs a course-style reference
python -m benchmarks.sweeps pruning|parallel
python -m benchmarks.levers WHAT           # micro-benchmarks behind docs/speed.md
python benchmarks/threads.py               # threads x wait policy x other busy processes
"""
