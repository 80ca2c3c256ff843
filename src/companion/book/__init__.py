"""The book's own generated pages and their build-time data: the depth explorer (``explorer``)."""
