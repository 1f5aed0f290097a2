"""An independent fake of the SDC's operations routes, on top of
realistic_sdc.RealisticSDC (API Gateway + S3). Written from the protocol, not from `imap serve`.

Routes added to the API origin:
- `POST /api-key/reprocess`, `/authorized/reprocess` (no public route: the gateway's 404):
  200 {"message": "Reprocess job queued", "reprocess_id": uuid}; nothing is validated.
- `GET /api-key/release` only: the lambda's checks in its order; the manifest must be in S3 at
  imap/release/<inst>/<name>; 200 JSON string "Successfully released data per specification in
  <name>" and `fake.released_manifests` records it.
- `GET /processing-jobs` (every prefix): exact-match filters on the jobs' columns, 400
  {"error": "Invalid parameter: <p>"}, newest first; `GET /processing-logs/<stream>`: text, or
  500 {"error": "Could not fetch logs for id [<stream>]: ..."}.
- `GET /metakernel`: `fake.kernels` (bare names, in load order) for list_files=true; 404 plain
  text "No files found."; 422 `fake.coverage_gaps` when require_coverage=true and gaps are set.
- `GET /spin-table`, `/repoint-table`, `/small-forces-table` (or only `/thruster-table` when
  `fake.old_table_names`): `fake.table_rows[table]`, with the documented parameter check.
"""

from __future__ import annotations

import uuid
from typing import Any

from realistic_sdc import RealisticSDC, Seen, _ApiHandler

JOB_COLUMNS = [
    "status", "instrument", "data_level", "descriptor", "start_date", "major_version",
    "minor_version", "repointing", "job_definition", "job_log_stream_id", "container_image",
    "container_image_digest", "dependency_hash", "started_at", "stopped_at",
]  # fmt: skip
TABLE_PARAMETERS = [
    "file_path", "start_date", "end_date", "latest", "start_ingest_date", "end_ingest_date",
]  # fmt: skip


class _OpsHandler(_ApiHandler):
    def handle_request(self) -> None:
        segments = self.path.split("?", 1)[0].split("/")[1:]
        prefix = segments[0] if segments and segments[0] in ("api-key", "authorized") else ""
        route = segments[1 if prefix else 0] if len(segments) > (1 if prefix else 0) else ""
        ours = {
            "reprocess",
            "release",
            "processing-jobs",
            "processing-logs",
            "metakernel",
            "spin-table",
            "repoint-table",
            "small-forces-table",
            "thruster-table",
        }
        if route not in ours:
            super().handle_request()
            return
        body = self._read_body() or b""
        seen = self._record(body)
        fake: OpsSDC = self.server.fake
        fault = fake._take_fault(seen)
        if fault is not None:
            self._api_fault(seen, fault)
            return
        rest = "/".join(seen.path.split("/")[(3 if prefix else 2) :])
        method = {"reprocess": "POST"}.get(route, "GET")
        exists = self.command == method and (
            (route != "reprocess" or prefix)
            and (route != "release" or prefix == "api-key")
            and (bool(rest) == (route == "processing-logs"))
            and not (route == "small-forces-table" and fake.old_table_names)
            and not (route == "thruster-table" and not fake.old_table_names)
        )
        if not exists:
            self._json(seen, 404, {"message": "Not Found"})
            return
        denial = self._authorize(seen, prefix)
        if denial is not None:
            self._json(seen, denial[0], {"message": denial[1]})
            return
        getattr(self, "_" + route.replace("-", "_"))(seen, rest)

    def _reprocess(self, seen: Seen, _rest: str) -> None:
        self._json(
            seen, 200, {"message": "Reprocess job queued", "reprocess_id": str(uuid.uuid4())}
        )

    def _release(self, seen: Seen, _rest: str) -> None:
        fake: OpsSDC = self.server.fake
        params = seen.query
        if seen.header("x-api-key") in fake.read_only_keys:
            self._json(seen, 403, "Release operation denied. Your API key has read permissions.")
            return
        kind = params.get("release_type")
        if kind is None:
            self._json(seen, 500, {"message": "Internal Server Error"})
            return
        if kind not in ("release", "unrelease", "early-release"):
            self._json(
                seen,
                400,
                f"'{kind}' is not a valid release_type. Valid options are: "
                "['release', 'unrelease', 'early-release']",
            )
            return
        for name in params:
            if name not in ("release_type", "manifest_file"):
                self._json(
                    seen,
                    400,
                    f"'{name}' is not a valid query parameter. Valid query parameters are: "
                    "['release_type', 'manifest_file']",
                )
                return
        manifest = params.get("manifest_file")
        if not manifest:
            self._json(
                seen, 400, "Missing required query parameter 'manifest_file' for release operation."
            )
            return
        instrument = manifest.split("_")[1] if manifest.count("_") > 2 else ""
        if f"imap/release/{instrument}/{manifest}" not in fake.objects:
            self._json(seen, 500, {"message": "Internal Server Error"})
            return
        fake.released_manifests.append(manifest)
        self._json(seen, 200, f"Successfully released data per specification in {manifest}")

    def _processing_jobs(self, seen: Seen, _rest: str) -> None:
        fake: OpsSDC = self.server.fake
        for name, value in seen.query.items():
            if name not in JOB_COLUMNS:
                self._json(seen, 400, {"error": f"Invalid parameter: {name}"})
                return
            if name == "start_date" and not (len(value) == 8 and value.isdigit()):
                self._json(
                    seen, 400, {"error": "Invalid date format for start_date. Expected YYYYMMDD."}
                )
                return
        rows = []
        for job in fake.jobs:
            ok = True
            for name, value in seen.query.items():
                cell = job.get(name)
                if name == "start_date":
                    ok &= str(cell).replace("-", "").startswith(value)
                else:
                    ok &= cell is not None and str(cell) == value
            if ok:
                rows.append(job)
        rows.sort(key=lambda j: j.get("started_at") or "", reverse=True)
        self._json(seen, 200, rows[:500])

    def _processing_logs(self, seen: Seen, stream: str) -> None:
        fake: OpsSDC = self.server.fake
        if stream not in fake.logs:
            self._json(
                seen,
                500,
                {
                    "error": f"Could not fetch logs for id [{stream}]: An error occurred "
                    "(ResourceNotFoundException) when calling the GetLogEvents operation: "
                    "The specified log stream does not exist."
                },
            )
            return
        self._send(seen, 200, fake.logs[stream].encode(), {"Content-Type": "text/plain"})

    def _metakernel(self, seen: Seen, _rest: str) -> None:
        fake: OpsSDC = self.server.fake
        params = seen.query
        if params.get("require_coverage") == "true" and fake.coverage_gaps:
            self._json(seen, 422, fake.coverage_gaps)
            return
        if params.get("list_files") == "true":
            if not fake.kernels:
                self._send(seen, 404, b"No files found.", {"Content-Type": "text/plain"})
                return
            self._json(seen, 200, fake.kernels)
            return
        self._send(seen, 200, b"\\begindata\n\\begintext\n", {"Content-Type": "text/plain"})

    def _table(self, seen: Seen, table: str) -> None:
        for name in seen.query:
            if name not in TABLE_PARAMETERS:
                self._json(
                    seen,
                    400,
                    f"{name} is not a valid query parameter. Valid query parameters are: "
                    f"{TABLE_PARAMETERS}",
                )
                return
        self._json(seen, 200, self.server.fake.table_rows.get(table, []))

    def _spin_table(self, seen: Seen, _rest: str) -> None:
        self._table(seen, "spin")

    def _repoint_table(self, seen: Seen, _rest: str) -> None:
        self._table(seen, "repoint")

    def _small_forces_table(self, seen: Seen, _rest: str) -> None:
        self._table(seen, "small-forces")

    def _thruster_table(self, seen: Seen, _rest: str) -> None:
        self._table(seen, "small-forces")


class OpsSDC(RealisticSDC):
    """RealisticSDC plus the operations routes; state in plain attributes (see module doc)."""

    api_handler = _OpsHandler

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.jobs: list[dict] = []
        self.logs: dict[str, str] = {}
        self.kernels: list[str] = []
        self.coverage_gaps: dict[str, list[list[float]]] = {}
        self.table_rows: dict[str, list[dict]] = {}
        self.old_table_names = False
        self.released_manifests: list[str] = []
