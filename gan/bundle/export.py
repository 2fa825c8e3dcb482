"""`export-onnx`: add generator.onnx to a model bundle written without one."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from common.cli import import_tensorflow, run_command

PROG = "export-onnx"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Export a model bundle's generator.keras to generator.onnx (checked against "
        "Keras within 1e-4) and list it in bundle.json, so that live-mirror, reenact and evaluate "
        "run it with ONNX Runtime.",
    )
    p.add_argument("model", help="model bundle directory (RUN/model)")
    p.add_argument("-v", "--verbose", action="store_true", help="show TensorFlow's own notes too")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    def body() -> int:
        from gan.kinds.drawing.bundle import read_bundle_info

        read_bundle_info(args.model)  # a mistyped path fails before TensorFlow loads
        import_tensorflow(args.verbose)
        from gan.kinds.drawing.bundle import add_onnx

        started = time.perf_counter()
        record = add_onnx(args.model)
        print(
            f"{args.model}: generator.onnx written ({record['bytes'] / 1e6:.1f} MB, "
            f"{time.perf_counter() - started:.0f} s)"
        )
        return 0

    return run_command(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
