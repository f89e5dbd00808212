"""`beatvae`: new beats, interpolations and humanized files from a trained model folder in seconds,
without Snakemake (for scripts and DAW users). The workflow's jobs call the same functions.

    beatvae sample MODEL_DIR -n 16 -t 0.8 --seed 3 --qpm 96 -o DIR
    beatvae interpolate MODEL_DIR A.mid B.mid --steps 8 -o DIR
    beatvae humanize GROOVE_DIR IN.mid -o OUT.mid
    beatvae info MODEL_DIR

Bad input ends the command with one line on stderr naming the file and what is wrong (exit 2).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

from beatvae.schema import setting_schema

SEED_MAX = 2**31 - 1  # numpy's and TensorFlow's seeds are 32-bit; the schema leaves seeds unbounded


class CommandError(Exception):
    """Bad input: the message names the file or option and what is wrong."""


@contextlib.contextmanager
def quiet_tensorflow():
    """Yields the terminal's stderr, with TensorFlow's and Magenta's start-up chatter (CUDA probes,
    absl lines before its logging starts, deprecations) sent to /dev/null: it is not the user's
    business here. BEATVAE_VERBOSE=1 keeps it."""
    if os.environ.get("BEATVAE_VERBOSE"):
        yield sys.stderr
        return
    import logging
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    sys.stderr.flush()
    terminal = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        with os.fdopen(os.dup(terminal), "w") as stream:
            yield stream
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)
        os.close(terminal)


def _within(key: str, maximum: float | None = None):
    """An argparse type that checks a value as the config's schema checks the setting `key` (its
    type and bounds), so the command and the workflow accept the same values."""
    entry = setting_schema(key)
    kind = int if entry["type"] == "integer" else float
    low, above = entry.get("minimum"), entry.get("exclusiveMinimum")
    high = entry.get("maximum", maximum)

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if above is not None and value <= above:
            raise argparse.ArgumentTypeError(f"{value} is not above {above}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is outside {low}-{high}")
        return value

    return parse


def load_model(model_dir: str, *, groove: bool | None):
    """The TrainedModelDir at `model_dir`, of the kind the command needs (a beat or a groove model;
    None: either)."""
    from beatvae.model import TrainedModelDir
    from beatvae.settings import is_groove

    path = Path(model_dir)
    if not path.is_dir():
        raise CommandError(f"{model_dir}: no such model folder (a trained one is results/models/<variant>)")
    try:
        model = TrainedModelDir.load(path)
    except FileNotFoundError as error:  # names the folder and the missing file
        raise CommandError(str(error)) from None
    except (ValueError, KeyError) as error:  # an unreadable training.json or checkpoint index
        raise CommandError(f"{model_dir}: not a trained model folder ({type(error).__name__}: {error})") from None
    if groove is not None and is_groove(model.representation) != groove:
        kind = "a GrooVAE (groove) model" if is_groove(model.representation) else "a drum-beat model"
        wanted = "humanize takes a groove model" if groove else "this command takes a drum-beat model"
        raise CommandError(f"{model_dir}: {kind}; {wanted}")
    return model


def midi_input(path: str) -> Path:
    """`path` as a readable MIDI file with drums, checked with the standard-library reader."""
    from beatvae.smf import MidiFileError, read_midi_facts

    file = Path(path)
    if not file.is_file():
        raise CommandError(f"{path}: no such MIDI file")
    try:
        facts = read_midi_facts(file)
    except MidiFileError as error:
        raise CommandError(f"{path}: not a readable MIDI file ({error})") from None
    if facts.drum_notes == 0:
        parts = "; ".join(part.describe() for part in facts.other_parts()) or "no notes at all"
        raise CommandError(f"{path}: no drum notes on General MIDI channel 10 ({parts})")
    return file


def sample(args) -> list[Path]:
    from beatvae.generation import generate_samples

    model = load_model(args.model_dir, groove=False)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"sample_{index:02d}.mid" for index in range(args.num_samples)]
    generation = {"seed": args.seed, "temperature": args.temperature, "qpm": args.qpm}
    generate_samples(model, generation, paths, out / "latents.npy")
    return paths


def interpolate(args) -> list[Path]:
    from beatvae.generation import file_endpoints
    from beatvae.generation import interpolate as interpolate_latents
    from beatvae.midi import sequence_qpm

    files = [midi_input(args.first), midi_input(args.last)]
    model = load_model(args.model_dir, groove=False)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    trained = model.trained_model(batch_size=args.steps, seed=args.seed)
    try:
        first_z, last_z = file_endpoints(trained, files, model.representation)
    except ValueError as error:
        raise CommandError(str(error).replace("generation.interpolation.endpoints.", "")) from None
    if args.qpm is None:
        import note_seq

        args.qpm = sequence_qpm(note_seq.midi_file_to_note_sequence(str(files[0])))
    steps = [out / f"step_{index:02d}.mid" for index in range(args.steps)]
    interpolation = {"num_steps": args.steps, "temperature": args.temperature}
    interpolate_latents(
        trained, first_z, last_z, interpolation, model.representation, args.qpm, out / "interpolation.mid", steps
    )
    return [out / "interpolation.mid", *steps]


def humanize(args) -> list[Path]:
    from beatvae.humanize import HumanizeError, humanize_midi_files

    source = midi_input(args.midi)
    load_model(args.groove_dir, groove=True)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        humanize_midi_files(args.groove_dir, [source], [output], args.temperature, args.seed)
    except HumanizeError as error:
        raise CommandError(str(error)) from None
    return [output]


def info(args) -> list[str]:
    """What a person needs to know of a model folder (beat or groove), a line each."""
    from beatvae.settings import is_groove, window_bars

    model = load_model(args.model_dir, groove=None)
    summary, variant = model.summary, model.variant
    representation = model.representation
    kind = "groove (humanize)" if is_groove(representation) else "drum beats"
    lines = [
        f"model folder: {model.path} ({kind})",
        f"representation: {representation['converter']}, {window_bars(representation)} bars per window",
        f"checkpoint: {Path(model.checkpoint).name}",
        f"z size: {model.z_size}; level lengths: {variant.get('model', {}).get('level_lengths')}",
        f"fingerprint: {model.fingerprint}",
    ]
    for key in ("exported", "best_validation"):
        if summary.get(key) is not None:
            lines.append(f"{key.replace('_', ' ')}: {json.dumps(summary[key])}")
    return lines


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="beatvae", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)

    beats = commands.add_parser("sample", help="new 4-bar beats from a drum model")
    beats.add_argument("model_dir", help="a trained drum model folder, e.g. results/models/v2-small")
    beats.add_argument("-n", "--num-samples", type=_within("generation.num_samples"), default=8)
    beats.add_argument("-t", "--temperature", type=_within("generation.temperature"), default=0.75)
    beats.add_argument("--seed", type=_within("generation.seed", SEED_MAX), default=2018)
    beats.add_argument("--qpm", type=_within("generation.qpm"), default=120.0)
    beats.add_argument("-o", "--output", required=True, help="folder for sample_NN.mid and latents.npy")
    beats.set_defaults(run=sample)

    walk = commands.add_parser("interpolate", help="a walk between two drum MIDI files' opening bars")
    walk.add_argument("model_dir")
    walk.add_argument("first", help="MIDI file the walk starts from")
    walk.add_argument("last", help="MIDI file the walk ends at")
    walk.add_argument("--steps", type=_within("generation.interpolation.num_steps"), default=8)
    walk.add_argument("-t", "--temperature", type=_within("generation.interpolation.temperature"), default=0.5)
    walk.add_argument("--seed", type=_within("generation.seed", SEED_MAX), default=2018)
    walk.add_argument("--qpm", type=_within("generation.qpm"), default=None, help="default: the first file's tempo")
    walk.add_argument("-o", "--output", required=True, help="folder for interpolation.mid and step_NN.mid")
    walk.set_defaults(run=interpolate)

    groove = commands.add_parser("humanize", help="a drum MIDI file played with a groove model's feel")
    groove.add_argument("groove_dir", help="a trained GrooVAE humanize model folder, e.g. results/models/groove-small")
    groove.add_argument("midi")
    groove.add_argument("-t", "--temperature", type=_within("humanize.temperature"), default=0.5)
    groove.add_argument("--seed", type=_within("generation.seed", SEED_MAX), default=2018)
    groove.add_argument("-o", "--output", required=True, help="the humanized MIDI file to write")
    groove.set_defaults(run=humanize)

    about = commands.add_parser("info", help="what a model folder holds")
    about.add_argument("model_dir")
    about.set_defaults(run=info)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    start = time.time()
    with quiet_tensorflow() as stderr:
        try:
            written = args.run(args)
        except CommandError as error:
            print(f"beatvae {args.command}: {error}", file=stderr)
            return 2
        except Exception:  # not the user's input: the whole story, on the terminal
            traceback.print_exc(file=stderr)
            return 1
        if args.command != "info":
            print(f"beatvae {args.command}: {len(written)} file(s) in {time.time() - start:.1f} s", file=stderr)
    print("\n".join(map(str, written)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
