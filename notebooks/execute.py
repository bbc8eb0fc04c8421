"""Execute notebooks headlessly (nbclient) against a results folder, without saving outputs.

    python notebooks/execute.py --results results notebooks/*.ipynb

Exits 1 if any cell of any notebook raises.
"""
import argparse
import os
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", required=True, help="results folder (sets CREDIT_RESULTS)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("notebooks", nargs="+")
    args = parser.parse_args()
    os.environ["CREDIT_RESULTS"] = os.path.abspath(args.results)
    failed = []
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        here = os.path.dirname(os.path.abspath(path))
        client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                                resources={"metadata": {"path": here}})
        try:
            client.execute()
            print(f"execute: {path}: every cell ran")
        except CellExecutionError as err:
            print(f"execute: {path}: a cell failed\n{err}", file=sys.stderr)
            failed.append(path)
    if failed:
        print(f"execute: {len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
