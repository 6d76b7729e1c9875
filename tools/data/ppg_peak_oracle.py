"""How close could any reader of the wrist PPG's spectrum get to the true heart rate?

For every 2 s step with a chest-ECG reference, an oracle that knows the true rate takes
the nearest of the PPG spectrum's 1, 3 and 5 largest peaks (`fedwear.infer.heart.
largest_peaks`). No estimator that reports one of those peaks can beat it, so it bounds
the whole family of spectral trackers on a recording. `fedwear eval ppg-hr` gives the
same figure for the runtime's own spectra (8 s, 64 Hz, 3 BPM apart); this script asks
whether another window, sampling rate, or an adaptive motion canceller would have left
more of the heart in the input (docs/models.md, "PPG: what the input allows").

    python tools/data/ppg_peak_oracle.py ../shared/data/wristppg \\
        [--window-s 8 16 32] [--ppg-hz 64] [--nlms]

The spectra: the PPG band-passed to 0.5-4 Hz (the recording at once, zero phase), each
window Hann-tapered, magnitudes at 1 BPM steps over the runtime's 30-219 BPM. --nlms
first subtracts what a normalised LMS filter (16 taps, step 0.01) predicts from each
accelerometer axis in turn, the usual cascade.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fedwear.evaluate.ppg import reference_beats, reference_bpm
from fedwear.infer.heart import HOP_S, HR_BINS_BPM, largest_peaks
from fedwear.ingest.recordings import read_edf, recordings_in

RATES_BPM = np.arange(HR_BINS_BPM[0], HR_BINS_BPM[-1] + 1.0, 1.0)
PEAKS = (1, 3, 5)
BAND_HZ = (0.5, 4.0)
NLMS_TAPS, NLMS_STEP = 16, 0.01


def band_passed(x: np.ndarray, hz: float) -> np.ndarray:
    """Zero-phase: the spectrum outside BAND_HZ set to zero."""
    spec = np.fft.rfft(x - x.mean())
    freqs = np.fft.rfftfreq(len(x), 1.0 / hz)
    spec[(freqs < BAND_HZ[0]) | (freqs > BAND_HZ[1])] = 0.0
    return np.fft.irfft(spec, len(x))


def nlms_cleaned(ppg: np.ndarray, references: list[np.ndarray]) -> np.ndarray:
    """The PPG minus what each reference predicts of it, one reference after another."""
    e = ppg.copy()
    for ref in references:
        r = np.concatenate([np.zeros(NLMS_TAPS - 1), ref / (ref.std() + 1e-12)])
        w = np.zeros(NLMS_TAPS)
        for i in range(len(e)):
            x = r[i : i + NLMS_TAPS][::-1]
            err = e[i] - w @ x
            e[i] = err
            w += NLMS_STEP * err * x / (x @ x + 1e-6)
    return e


def oracle_errors(edf: Path, hz: float, window_s: float, nlms: bool) -> dict[int, list[float]]:
    rec = read_edf(edf, {"imu": hz, "ppg": hz})
    (tp, vp), (ti, vi) = rec.streams["ppg"], rec.streams["imu"]
    ppg = band_passed(np.asarray(vp[:, 0], float), hz)
    if nlms:  # the IMU on the PPG's clock: both streams are resampled from one EDF
        axes = [np.interp(tp, ti, vi[:, c]) for c in range(3)]
        ppg = nlms_cleaned(ppg, [band_passed(a, hz) for a in axes])
    n = round(window_s * hz)
    basis = np.exp(-2j * np.pi * np.outer(RATES_BPM / 60.0, np.arange(n) / hz)) * np.hanning(n)
    beats = reference_beats(edf)
    errors: dict[int, list[float]] = {k: [] for k in PEAKS}
    step_ns = int(HOP_S * 1e9)
    for end in range(n, len(tp) + 1):
        t_ns = int(tp[end - 1])
        if (end - n) and t_ns // step_ns == int(tp[end - 2]) // step_ns:
            continue  # one window per 2 s step, as the runtime
        ref = reference_bpm(beats, t_ns / 1e9)
        peaks = largest_peaks(np.abs(basis @ ppg[end - n : end]), max(PEAKS), RATES_BPM)
        if ref is None or not peaks:
            continue
        for k in PEAKS:
            errors[k].append(min(abs(p - ref) for p in peaks[:k]))
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="laid out like ../shared/data/wristppg")
    parser.add_argument("--window-s", type=float, nargs="+", default=[8.0, 16.0, 32.0])
    parser.add_argument("--ppg-hz", type=float, default=64.0)
    parser.add_argument("--nlms", action="store_true", help="cancel the motion first")
    args = parser.parse_args()
    edfs = [p for p in recordings_in(args.folder) if p.suffix.lower() == ".edf"]
    for window_s in args.window_s:
        per = {edf.stem: oracle_errors(edf, args.ppg_hz, window_s, args.nlms) for edf in edfs}
        print(
            f"\n{window_s:g} s windows, PPG at {args.ppg_hz:g} Hz" + (", NLMS" if args.nlms else "")
        )
        print("recording".ljust(24) + "".join(f"nearest of {k}".rjust(14) for k in PEAKS))
        for name, errs in [*per.items(), ("overall", _pooled(per))]:
            row = "".join(f"{np.mean(errs[k]):14.2f}" for k in PEAKS)
            print(name.ljust(24) + row, flush=True)


def _pooled(per: dict[str, dict[int, list[float]]]) -> dict[int, list[float]]:
    return {k: [e for errs in per.values() for e in errs[k]] for k in PEAKS}


if __name__ == "__main__":
    main()
