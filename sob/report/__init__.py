"""The contract report: a contract's life from its ledger, as data, SVG charts and one HTML page.

``sob.report.data`` reads the closed quarters (never the raw evidence) into
one JSON-ready dict; ``sob.report.charts`` draws that dict as inline SVG;
``sob.report.html`` lays both out as a self-contained, printable page;
``sob.report.pdf`` turns an HTML page into PDF when the optional extra is
installed.
"""
