"""Views of a run: the results model (results.json), the HTML report, ladder diagrams, the matrix."""
