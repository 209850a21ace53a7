"""`sslab data download NAME`: official data sets with checksum and safe extraction."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_download(args: argparse.Namespace) -> int:
    from sslab.data.download import download

    download(args.name, args.root)
    return 0


def register(commands, data_commands) -> None:
    from sslab.data.download import DATASETS

    p = data_commands.add_parser(
        "download", help="download an official data set (checksum verified, safe extraction)",
        description="Download an official data set, verify its md5 and extract it safely. "
        "Without internet, copy the data set yourself and pass its folder with --data.")
    p.add_argument("name", choices=sorted(DATASETS), help="which data set")
    p.add_argument("--root", type=Path, default=Path("data"), help="folder to put it in (default: ./data)")
    p.set_defaults(func=cmd_download)
