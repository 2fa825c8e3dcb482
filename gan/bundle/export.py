"""`export-onnx`: add the ONNX exports to a bundle of any kind written without them."""

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
        description="Export each Keras network of a model bundle to ONNX (a drawing bundle's "
        "generator.keras, a swap bundle's swap_target.keras and swap_user.keras), each checked "
        "against Keras within 1e-4, and list them in bundle.json, so that live-mirror, reenact "
        "and evaluate run them with ONNX Runtime.",
    )
    p.add_argument("model", help="model bundle directory (RUN/model)")
    p.add_argument("-v", "--verbose", action="store_true", help="show TensorFlow's own notes too")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    def body() -> int:
        from gan.bundle import add_onnx, read_bundle_info

        read_bundle_info(args.model)  # a mistyped path fails before TensorFlow loads
        import_tensorflow(args.verbose)
        started = time.perf_counter()
        records = add_onnx(args.model)
        written = ", ".join(f"{n} written ({r['bytes'] / 1e6:.1f} MB)" for n, r in records.items())
        print(f"{args.model}: {written} in {time.perf_counter() - started:.0f} s")
        return 0

    return run_command(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
