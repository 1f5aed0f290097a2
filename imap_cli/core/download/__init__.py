"""Downloads, by concern: where files may go (datadir), what earlier runs kept (partials), one
object's fetch (fetch), and many in parallel (pipeline). The names callers use are here."""

from imap_cli.core.download.datadir import Planned, destination, ensure_data_dir, part_name, plan
from imap_cli.core.download.partials import etag_tag, kept_partials, tag_etag
from imap_cli.core.download.pipeline import (
    InvalidNames,
    download_files,
    parse_items,
    resolver_count,
)
from imap_cli.core.objects import file_md5, object_url, plain_md5
from imap_cli.core.shard import parse_shard

__all__ = [
    "InvalidNames",
    "Planned",
    "destination",
    "download_files",
    "ensure_data_dir",
    "etag_tag",
    "file_md5",
    "kept_partials",
    "object_url",
    "parse_items",
    "parse_shard",
    "part_name",
    "plain_md5",
    "plan",
    "resolver_count",
    "tag_etag",
]
