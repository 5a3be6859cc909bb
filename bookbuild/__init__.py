"""The book compiler: executable chapters in, a typeset PDF out.

The pipeline has one stage per module, in the order a build runs them:
``config`` (book.yml) -> ``sources`` (discover chapters) -> ``execute``
(nbclient, cached) -> ``render`` (nbconvert + Jinja2 + pandoc) ->
``typeset`` (latexmk).  ``cli`` strings them together.
"""
