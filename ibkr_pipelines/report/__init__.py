"""The portfolio report: the warehouse's views as charts in one self-contained HTML file.

``queries`` holds the SQL (each names the view it reads, and is printed under its chart so
``ibkr-pipelines sql`` gives the same numbers), ``charts`` turns frames into Vega-Altair charts,
``render`` makes them SVG/PNG offline with vl-convert, ``page`` lays out the HTML, and ``build``
puts them together for the CLI (``command``) and the Dagster asset (``assets/report.py``).
"""
