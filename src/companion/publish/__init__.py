"""What chapters publish: citable figure files with their sidecars and data, the plotting style, claim
tables, and what a chapter reports (progress to the build's terminal, its parameters as a table).

``figures`` (with ``figure_data``), ``claims``, ``report``. Chapters import these; the book machinery (:mod:`companion.book`) collects them.
"""
