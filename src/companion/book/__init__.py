"""The book machinery: execute chapters with caching, generate Colab notebooks and pages, build the site,
and the ``companion`` command line. ``python -m companion.book.build`` is the entry point.

``build``, ``colab``, ``pages`` (MathJax, generated pages, the Sphinx extension), ``cli``.
"""
