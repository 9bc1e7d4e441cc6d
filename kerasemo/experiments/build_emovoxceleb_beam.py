"""Build EmoVoxCeleb-style TFRecord shards with Apache Beam (DirectRunner, Dataflow, Flink, Spark).

The same build as `build_emovoxceleb` (same arguments, plan, shard files, sidecars, manifest,
figures and summary), run as a Beam pipeline (`kerasemo.data.beam_build`): decoding, face crops,
the front-end and the teacher (RunInference with a Keras model handler, loaded once per worker
process) are spread over the runner's workers. Arguments this tool does not know are Beam
pipeline options. Needs the beam extra: pip install "kerasemo[beam]".

Examples:

    # DirectRunner (the default), one worker in this process; then 4 worker processes:
    python -m kerasemo.experiments.build_emovoxceleb_beam --root data/synthetic \\
        --layout voxceleb1 --teacher runs/teacher/teacher.keras --out tfrecords/demo \\
        --config demo
    python -m kerasemo.experiments.build_emovoxceleb_beam --root data/voxceleb1 \\
        --layout voxceleb1 --teacher saved_models/teacher.keras --out tfrecords/emovoxceleb \\
        --direct_num_workers 4 --direct_running_mode multi_processing
    # Google Cloud Dataflow (corpus, teacher and --out on a filesystem every worker mounts at
    # the same path, e.g. Filestore; workers get kerasemo from a container image):
    python -m kerasemo.experiments.build_emovoxceleb_beam --root /mnt/vox/voxceleb1 \\
        --layout voxceleb1 --teacher /mnt/vox/teacher.keras --out /mnt/vox/emovoxceleb \\
        --runner DataflowRunner --project my-project --region europe-west4 \\
        --temp_location gs://my-bucket/tmp --sdk_container_image IMAGE --max_num_workers 50
    # Apache Flink (job server started by Beam; workers run the SDK in Docker):
    python -m kerasemo.experiments.build_emovoxceleb_beam ... \\
        --runner FlinkRunner --flink_master flink-host:8081 --parallelism 16 \\
        --environment_type DOCKER --environment_config IMAGE
    # Apache Spark:
    python -m kerasemo.experiments.build_emovoxceleb_beam ... \\
        --runner SparkRunner --spark_master_url spark://spark-host:7077 \\
        --environment_type DOCKER --environment_config IMAGE

Workers need kerasemo and its dependencies. A worker image is the robust way: one built FROM
the Beam Python SDK image of this Beam version (apache/beam_python3.11_sdk:2.77.0) with
pip install "kerasemo[beam]" (--sdk_container_image on Dataflow, --environment_config on Flink
and Spark). Dataflow can also install the package at worker start-up: --setup_file
./pyproject.toml (needs the 'build' module here), or --extra_package dist/kerasemo-*.whl with
--requirements_file listing the dependencies. --environment_type LOOPBACK runs the SDK in this
process (handy to try a local Flink or Spark).

Paths: workers read the corpus, the teacher and the work lists and write the shards with plain
file operations, so --root, --teacher/--logits and --out must be at the same paths on every
worker (the DirectRunner and a single-host cluster need nothing special). By default the
DirectRunner is Beam's Python runner (--direct_num_workers, --direct_running_mode apply); give
--runner PrismRunner for Beam's Go-based local runner.

Rerunning the same command resumes (finished shard files are kept), and either tool can
resume the other's build. The output folder then holds what build_emovoxceleb writes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasemo import quiet  # noqa: E402
from kerasemo import arguments
from kerasemo.experiments import build_emovoxceleb  # noqa: E402

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = arguments.docstring_parser(
        "kerasemo.experiments.build_emovoxceleb_beam",
        __doc__,
        allow_abbrev=False,  # abbreviations would take Beam's options for ours
    )
    build_emovoxceleb.add_build_arguments(parser, engine="beam")
    return parser


def _check_pipeline_arguments(parser: argparse.ArgumentParser, beam_args: list[str]) -> None:
    """Stops on an unknown argument that is one of ours misspelt (``--shard_mb``); warns about
    the others Beam does not know (a runner may still accept them)."""
    ours = {
        option.lstrip("-").replace("_", "-"): option
        for action in parser._actions  # noqa: SLF001 - argparse offers no public listing
        for option in action.option_strings
    }
    for arg in beam_args:
        name = arg.split("=", 1)[0]
        key = name.lstrip("-").replace("_", "-")
        if name.startswith("--") and key in ours:
            parser.error(f"unrecognized argument {name}: did you mean {ours[key]}?")
    from apache_beam.options.pipeline_options import PipelineOptions

    options = PipelineOptions(beam_args)
    unknown = sorted(
        set(options.get_all_options(retain_unknown_options=True))
        - set(options.get_all_options())
    )
    if unknown:
        logger.warning(
            "Beam does not know the option(s) %s; they are passed to the runner as they are "
            "(check their spelling).",
            ", ".join(f"--{name}" for name in unknown),
        )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, beam_args = arguments.parse(parser, argv, known=True)
    experiment = arguments.load_experiment(args)
    build_emovoxceleb.check_build_arguments(parser, args)
    options = build_emovoxceleb.options_from_args(args, progress=False)
    quiet.import_tensorflow_quietly()
    with arguments.one_line_errors(ImportError):
        from kerasemo.data import beam_build
    _check_pipeline_arguments(parser, beam_args)

    from kerasemo.data import emovoxceleb
    from kerasemo.data.build_stage import file_labeller, scan_tracks

    # Beam's workers load the teacher themselves (once per process): only a logits file is
    # read here (check_build_arguments reported a missing teacher before the scan).
    with arguments.one_line_errors(emovoxceleb.PlanMismatchError):
        labeller = None if args.logits is None else file_labeller(args.logits)
        tracks, report = scan_tracks(experiment, args.root, args.layout)
        result = beam_build.build(
            tracks,
            report,
            args.out,
            config=experiment,
            teacher=args.teacher if labeller is None else None,
            labeller=labeller,
            options=options,
            pipeline_options=beam_args,
        )

    build_emovoxceleb.print_result(result, "Beam build")
    if result.finalized:
        build_emovoxceleb.print_summary(args.out, result.summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
