"""What the SDC's answers hold: the fields of each table's records, a processing job's fields,
and the most bytes one answer can carry.

The client (`imap query`, `imap jobs`, the query splitter) and `imap serve` both read these, so
that the server sends what the client expects and the client knows what the SDC sends.
"""

from __future__ import annotations

# A Lambda behind API Gateway cannot send more; a larger answer is the gateway's 500 (or 502).
MAX_RESPONSE_BYTES = 6_291_556

# The fields of a science (and quicklook) row, in the order the SDC sends them.
SCIENCE_FIELDS = (
    "file_path",
    "instrument",
    "data_level",
    "descriptor",
    "start_date",
    "repointing",
    "major_version",
    "minor_version",
    "version",
    "extension",
    "ingestion_date",
    "cr",
    "crid",
    "released",
)
ANCILLARY_FIELDS = (
    "file_path",
    "instrument",
    "descriptor",
    "start_date",
    "end_date",
    "version",
    "extension",
    "ingestion_date",
    "released",
)
# What a kernel's coverage says, in SPICE's three time systems and the kernels they need.
KERNEL_COVERAGE_FIELDS = (
    "min_date_j2000",
    "max_date_j2000",
    "file_intervals_j2000",
    "min_date_datetime",
    "max_date_datetime",
    "file_intervals_datetime",
    "min_date_sclk",
    "max_date_sclk",
    "file_intervals_sclk",
    "sclk_kernel",
    "lsk_kernel",
)
# A kernel row of /spice-query, in the order the SDC sends it.
SPICE_FIELDS = (
    "file_name",
    "file_root",
    "kernel_type",
    "version",
    *KERNEL_COVERAGE_FIELDS,
    "ingestion_date",
    "timestamp",
)
RECORD_FIELDS = {
    "science": SCIENCE_FIELDS,
    "ancillary": ANCILLARY_FIELDS,
    "spice": SPICE_FIELDS,
    "quicklook": SCIENCE_FIELDS,
}

# A processing job's fields: every one but job_command is a column /processing-jobs filters on.
JOB_FIELDS = (
    "status",
    "instrument",
    "data_level",
    "descriptor",
    "start_date",
    "major_version",
    "minor_version",
    "repointing",
    "started_at",
    "stopped_at",
    "job_log_stream_id",
    "job_definition",
    "job_command",
    "container_image",
    "container_image_digest",
    "dependency_hash",
)
JOB_FILTERS = tuple(field for field in JOB_FIELDS if field != "job_command")
