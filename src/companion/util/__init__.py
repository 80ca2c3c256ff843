"""Infrastructure shared by every layer: argument validation, atomic files and caches, resumable sweeps.

``validate`` (named errors for bad arguments), ``storage`` (atomic writes, hashes, a verified
content-addressed cache), ``sweep`` (resumable parameter sweeps).
"""
