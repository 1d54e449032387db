"""Evidence files: read, type and check claims, the register and cohort results (SPEC 4).

``read_evidence`` turns the evidence files into typed polars frames plus a
:class:`~sob.findings.Finding` for every data error, without a Python loop
over rows.  The package has one module per concern:

* :mod:`~sob.evidence.source`: the bytes of a file (opening, encoding, the background byte scan)
* :mod:`~sob.evidence.header`: the header record and column matching
* :mod:`~sob.evidence.csv_reader`, :mod:`~sob.evidence.parquet_reader`, :mod:`~sob.evidence.inline`:
  the readers, each giving a raw all-text frame (:mod:`~sob.evidence.raw`)
* :mod:`~sob.evidence.cells` and :mod:`~sob.evidence.checks`: cell parsing and the row checks of SPEC 4.4
* :mod:`~sob.evidence.register`: the participants register claims are checked against
* :mod:`~sob.evidence.duplicates`: duplicated ids
* :mod:`~sob.evidence.detailed` and :mod:`~sob.evidence.compact`: the two typing paths
  (a test holds them to identical frames and findings)
* :mod:`~sob.evidence.assemble`: ``read_evidence`` and ``read_inline``
* :mod:`~sob.evidence.model`: what they return; :mod:`~sob.evidence.kinds`: the three files
  (from the column catalogue :mod:`sob.columns`); :mod:`~sob.evidence.frames`: collecting queries
"""

from sob.columns import KIND_COLUMNS, STATUSES
from sob.evidence.assemble import read_evidence, read_inline
from sob.evidence.model import Evidence, EvidenceFile

__all__ = ["KIND_COLUMNS", "STATUSES", "Evidence", "EvidenceFile", "read_evidence", "read_inline"]
