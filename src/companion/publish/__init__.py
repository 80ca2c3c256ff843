"""What chapters publish: citable figure files with their sidecars, the plotting style, and claim tables.

``figures``, ``claims``. Chapters import these; the book machinery (:mod:`companion.book`) collects them.
"""
