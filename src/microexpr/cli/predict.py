"""``microexpr train`` and ``microexpr predict``: a final model, and prediction on recordings.

Two plain command functions, registered on the main app in
:mod:`microexpr.cli`; each collects options, calls one library function and
prints a one-line summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from microexpr.cli._common import handle_errors

__all__ = ["predict", "train"]


def _face_box_option(text: str | None) -> str | tuple[int, ...] | None:
    """``--face-box``: ``detect``, ``full`` or ``X,Y,W,H`` (four integers, W and H >= 16)."""
    from microexpr.errors import ConfigError

    if text is None or text.strip().lower() in ("detect", "full"):
        return None if text is None else text.strip().lower()
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4 or not all(p.lstrip("-").isdigit() for p in parts):
        raise ConfigError(
            f"--face-box {text!r}: expected X,Y,W,H (four integers, pixels), 'detect' or 'full'"
        )
    x, y, w, h = (int(p) for p in parts)
    if w < 16 or h < 16:
        raise ConfigError(f"--face-box {text!r}: width and height must be >= 16 pixels")
    return (x, y, w, h)


@handle_errors
def train(
    config: Annotated[
        Path, typer.Option(help="Experiment YAML: data, preprocess, model, training.")
    ],
    out: Annotated[Path, typer.Option(help="Model folder to write.")] = Path("model"),
    device: Annotated[
        Optional[str],  # noqa: UP045 (typer needs Optional on 3.10)
        typer.Option(help="Override training.device (cpu, cuda)."),
    ] = None,
    epochs: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Override training.epochs."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Train the model used by `microexpr predict` on all clips of a dataset or protocol.

    Every usable clip of the configured data trains the model for the
    configured number of epochs; nothing is held out and the model after the
    last epoch is kept (quote the LOSO results of the same config for its
    accuracy). Writes checkpoint.pt (weights, model name and options,
    preprocessing settings, class names, microexpr version), model.json (the
    same, readable), training_curve.png and skipped.json to --out.
    """
    from microexpr.cli._common import override_training
    from microexpr.config import load_config
    from microexpr.experiment import train_final_model

    cfg = override_training(load_config(config), epochs=epochs)
    result = train_final_model(cfg, out, device=device, progress=not quiet)
    counts = ", ".join(f"{k} {v}" for k, v in result.class_counts.items())
    typer.echo(
        f"trained {cfg.model.name} on {result.n_clips} clips "
        f"({counts}; {result.n_skipped} skipped), "
        f"{len(result.losses)} epochs, final loss {result.losses[-1]:.4f}, {result.seconds:.1f} s; "
        f"model: {result.checkpoint}"
    )


@handle_errors
def predict(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="A video (mp4, mov, avi), a folder of frames, or two images: ONSET APEX."
        ),
    ],
    model: Annotated[Path, typer.Option(help="Model folder written by `microexpr train`.")] = Path(
        "model"
    ),
    out: Annotated[Path, typer.Option(help="Output folder for result.json and figures.")] = Path(
        "prediction"
    ),
    onset: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Onset frame number (0-based); with --apex, skips spotting."),
    ] = None,
    apex: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Apex frame number (0-based); with --onset, skips spotting."),
    ] = None,
    fps: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Frame rate of a folder of frames (videos carry their own; default 30)."),
    ] = None,
    device: Annotated[str, typer.Option(help="Torch device of the model (cpu, cuda).")] = "cpu",
    face_box: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            metavar="X,Y,W,H",
            help="The face is in this box (pixels of the upright frame): no detection; "
            "or 'full' (frames are pre-cropped faces), 'detect' (default: the model's setting).",
        ),
    ] = None,
    min_face: Annotated[
        int,
        typer.Option(
            metavar="PIXELS", help="Narrowest face analysed (box width); smaller ones are reported."
        ),
    ] = 48,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Spot micro-expressions in a recording, classify each one, and show why.

    For a video or a folder of frames: decodes the frames one at a time,
    tracks the largest face, spots candidate intervals (onset, apex, offset)
    from facial-region motion against the frames 0.2 s before and after
    (head motion removed, blinks and speech masked), then computes TV-L1
    flow and optical strain from
    onset to apex and classifies each candidate. --onset and --apex skip
    spotting; two images are an onset/apex pair. With several faces the
    largest is followed (result.json says so); --face-box X,Y,W,H names the
    face to follow instead.

    Writes to --out: result.json (every candidate's onset, apex and offset
    frame and time, class and probabilities; problems met with their frame
    numbers; "complete": false when part of the input could not be used), a
    PNG panel per candidate (onset and apex faces, u, v, strain, CBAM spatial
    attention) and motion.png (motion over time, spotted intervals marked).
    """
    from microexpr._io import check_output_folder
    from microexpr.inference.predict import predict as run_predict

    check_output_folder(out)

    result = run_predict(
        inputs,
        model,
        out,
        onset=onset,
        apex=apex,
        fps=fps,
        device=device,
        progress=not quiet,
        face_box=_face_box_option(face_box),
        min_face=min_face,
    )
    typer.echo(result.summary())
