"""Recording readers: the shipped samples, the shared datasets, and malformed files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import memory_cap

from fedwear.errors import DatasetError
from fedwear.ingest.recordings import (
    heart_rate_from_beats,
    read_beat_text,
    read_edf,
    read_mobifall,
    read_recording,
    read_wfdb,
    read_wfdb_annotations,
    recordings_in,
    resample,
)
from fedwear.ingest.replay import bundled_recording

RATES = {"imu": 100.0, "ppg": 64.0, "ecg": 250.0, "hr": 1.0}


def test_resample_irregular_timestamps() -> None:
    t = np.array([0, 9_000_000, 21_000_000, 21_000_000, 30_000_000], dtype=np.int64)
    v = np.array([0.0, 0.9, 2.1, 99.0, 3.0])
    grid, out = resample(t, v, 100.0)
    assert list(grid) == [0, 10_000_000, 20_000_000, 30_000_000]
    np.testing.assert_allclose(out[:, 0], [0.0, 1.0, 2.0, 3.0], atol=1e-6)


def test_mobifall_trial_merges_acc_and_gyro(data_dir: Path) -> None:
    rec = read_mobifall(data_dir / "mobifall" / "FOL_gyro_2_1.txt", 100.0)
    t, v = rec.streams["imu"]
    assert v.shape[1] == 6 and t[0] == 0
    assert np.all(np.diff(t) == 10_000_000)
    assert 5 < rec.duration_s() < 30
    # Gravity is in the accelerometer: its magnitude at rest is about 1 g.
    assert 8 < np.median(np.linalg.norm(v[:, :3], axis=1)) < 12


def test_wfdb_excerpt_gives_ecg_and_heart_rate(data_dir: Path) -> None:
    pytest.importorskip("wfdb", reason="the wfdb extra is not installed (as on the device)")
    rec = read_wfdb(data_dir / "mitbih" / "119_60s.hea", RATES)
    t, _ = rec.streams["ecg"]
    assert abs(rec.duration_s() - 60) < 1
    assert np.all(np.diff(t) == 4_000_000)  # 360 Hz resampled to 250 Hz
    _, hr = rec.streams["hr"]
    assert 40 < np.median(hr) < 120


def test_wfdb_reads_mlii_wherever_the_record_stores_it(data_dir: Path, tmp_path: Path) -> None:
    """MIT-BIH 114 stores V5 first and MLII second; the beat model wants MLII."""
    wfdb = pytest.importorskip("wfdb", reason="the wfdb extra is not installed")
    src = wfdb.rdrecord(str(data_dir / "mitbih" / "119_60s"))
    mlii = src.p_signal[:, src.sig_name.index("MLII")]
    other = -0.5 * mlii + 0.3  # a different, recognisable lead
    rates = {"ecg": float(src.fs)}
    for names, columns in ((["V5", "MLII"], [other, mlii]), (["V5", "V1"], [other, mlii])):
        wfdb.wrsamp(
            "swapped",
            fs=src.fs,
            units=["mV", "mV"],
            sig_name=names,
            p_signal=np.column_stack(columns),
            fmt=["212", "212"],
            write_dir=str(tmp_path),
        )
        _, ecg = read_wfdb(tmp_path / "swapped.hea", rates).streams["ecg"]
        expected = mlii if "MLII" in names else other
        n = len(ecg)  # the resampled grid may end a sample early
        assert np.corrcoef(ecg[:, 0], expected[:n])[0, 1] > 0.99  # the other lead gives -1


def test_wfdb_reads_the_lead_asked_for(data_dir: Path) -> None:
    """A device whose electrodes see another lead is evaluated on that lead; a lead the
    record lacks is a precise error, not a silent fallback to the first column."""
    wfdb = pytest.importorskip("wfdb", reason="the wfdb extra is not installed")
    path = data_dir / "mitbih" / "119_60s.hea"
    src = wfdb.rdrecord(str(path.with_suffix("")))
    rates = {"ecg": float(src.fs)}
    for lead in ("V1", "MLII"):
        _, ecg = read_recording(path, rates, ecg_lead=lead).streams["ecg"]
        column = src.p_signal[: len(ecg), src.sig_name.index(lead)]
        np.testing.assert_allclose(ecg[:, 0], column, atol=1e-4)
    with pytest.raises(DatasetError, match=r"no lead 'V5' \(its leads: MLII, V1\)") as err:
        read_wfdb(path, rates, lead="V5")
    assert err.value.code == "missing-lead"


def test_bundled_edf_has_every_wearable_stream() -> None:
    rec = read_edf(bundled_recording(), RATES)
    assert set(rec.streams) == {"imu", "ppg", "ecg", "hr"}
    assert abs(rec.duration_s() - 120) < 2
    _, imu = rec.streams["imu"]
    assert np.abs(imu[:, 3:]).max() < 20  # gyro converted from deg/s to rad/s
    _, hr = rec.streams["hr"]
    assert 50 < np.median(hr) < 130


def test_heart_rate_ignores_implausible_intervals() -> None:
    _, hr = heart_rate_from_beats(np.array([0.0, 1.0, 2.0, 3.0, 4.0, 9.0, 10.0]), 1.0)
    assert np.allclose(hr[:, 0], 60.0)  # the 5 s pause is left out, not averaged in
    _, hr = heart_rate_from_beats(np.array([0.0, 1.0, 2.0, 2.05, 3.0, 4.0]), 1.0)
    assert hr.max() < 240  # the 50 ms interval (an extra detection) is left out


def write_mobifall(path: Path, rows: list[str]) -> Path:
    path.write_text("#header\n@DATA\n" + "\n".join(rows) + "\n")
    return path


def test_garbled_mobifall_line_names_file_and_line(tmp_path: Path) -> None:
    acc = write_mobifall(
        tmp_path / "FOL_acc_9_1.txt", ["1000, 1, 2, 3", "2000, 1, 2, 3", "3000, 1, oops, 3"]
    )
    write_mobifall(tmp_path / "FOL_gyro_9_1.txt", ["1000, 1, 2, 3", "3000, 1, 2, 3"])
    with pytest.raises(DatasetError, match=r"FOL_acc_9_1.txt:5: expected 'timestamp_ns, x, y, z'"):
        read_mobifall(acc, 100.0)


def test_a_timestamp_past_reason_is_refused_before_the_grid_is_built(tmp_path: Path) -> None:
    """One corrupt timestamp 285 years on made the resampling grid 6.5 TiB (a
    MemoryError traceback); one beyond int64 an OverflowError."""
    rows = [f"{i * 10_000_000}, 1, 2, 3" for i in range(100)]
    write_mobifall(tmp_path / "FOL_gyro_9_1.txt", rows)
    acc = write_mobifall(tmp_path / "FOL_acc_9_1.txt", [*rows, "9000000000000000000, 1, 2, 3"])
    with pytest.raises(DatasetError, match=r"timestamps span 9e\+09 s for 101 samples"):
        read_mobifall(acc, 100.0)
    for stamp in ("99999999999999999999", "-5"):
        write_mobifall(acc, [*rows, f"{stamp}, 1, 2, 3"])
        with pytest.raises(DatasetError, match=r"FOL_acc_9_1.txt:103: expected"):
            read_mobifall(acc, 100.0)
    write_mobifall(acc, rows)  # 100 samples a second: read
    assert read_mobifall(acc, 100.0).duration_s() == pytest.approx(0.99)


def test_truncated_and_half_missing_mobifall(tmp_path: Path) -> None:
    acc = write_mobifall(tmp_path / "FOL_acc_9_1.txt", ["1000, 1, 2, 3"])
    with pytest.raises(DatasetError, match="missing half"):
        read_mobifall(acc, 100.0)
    write_mobifall(tmp_path / "FOL_gyro_9_1.txt", ["1000, 1, 2, 3", "3000, 1, 2, 3"])
    with pytest.raises(DatasetError, match="fewer than two samples"):
        read_mobifall(acc, 100.0)
    write_mobifall(acc, ["1000, 1, 2, 3", "3000, 1, 2, 3"])
    (tmp_path / "FOL_gyro_9_1.txt").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DatasetError, match="not UTF-8"):
        read_mobifall(acc, 100.0)


def test_a_text_file_without_end_is_refused_at_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial's half replaced by /dev/zero: stat() gives it size 0, so the size check
    passed and the read ran until memory did ("missing half", before, for not being a
    regular file). The limit is lowered here to keep the test light."""
    import fedwear.ingest.recordings as recordings

    monkeypatch.setattr(recordings, "_MAX_TEXT_BYTES", 1 << 20)
    acc = write_mobifall(tmp_path / "FOL_acc_9_1.txt", ["1000, 1, 2, 3", "3000, 1, 2, 3"])
    (tmp_path / "FOL_gyro_9_1.txt").symlink_to("/dev/zero")
    with memory_cap(), pytest.raises(DatasetError, match=r"FOL_gyro_9_1\.txt: holds more than"):
        read_mobifall(acc, 100.0)


def test_truncated_edf_and_wfdb_are_dataset_errors(tmp_path: Path, data_dir: Path) -> None:
    pytest.importorskip("wfdb", reason="the wfdb extra is not installed (as on the device)")
    edf = tmp_path / "cut.edf"
    edf.write_bytes(bundled_recording().read_bytes()[:3000])
    with pytest.raises(DatasetError, match=r"cut\.edf"):
        read_recording(edf, RATES)
    for name in ("119_60s.hea", "119_60s.atr"):
        shutil.copyfile(data_dir / "mitbih" / name, tmp_path / name)
    (tmp_path / "119_60s.dat").write_bytes((data_dir / "mitbih" / "119_60s.dat").read_bytes()[:100])
    with pytest.raises(DatasetError, match="119_60s"):
        read_recording(tmp_path / "119_60s.hea", RATES)


@pytest.mark.parametrize(
    ("record_line", "message"),
    [
        ("119_60s 2 0 21600", "sampling frequency 0.0 in the header"),
        ("119_60s 2 -360 21600", "sampling frequency -360.0 in the header"),  # wfdb: 250 Hz
        ("119_60s 2 fast 21600", "sampling frequency nan in the header"),
        ("119_60s 2 360 9000000000", "truncated: 64800 bytes, the header describes 27000000000"),
    ],
)
def test_a_header_that_lies_is_a_dataset_error_before_any_sample_is_read(
    tmp_path: Path, data_dir: Path, record_line: str, message: str
) -> None:
    """A header is checked first: a sampling frequency that is not a positive number (which
    wfdb reads as 250 Hz, or divides by), and a length the signal file cannot hold (which
    wfdb would allocate, all of it, before finding the file short)."""
    pytest.importorskip("wfdb", reason="the wfdb extra is not installed (as on the device)")
    from fedwear.evaluate.references import mitbih_reference

    for name in ("119_60s.dat", "119_60s.atr"):
        shutil.copyfile(data_dir / "mitbih" / name, tmp_path / name)
    lines = (data_dir / "mitbih" / "119_60s.hea").read_text().splitlines()
    (tmp_path / "119_60s.hea").write_text("\n".join([record_line, *lines[1:]]) + "\n")
    with pytest.raises(DatasetError, match=message):
        read_recording(tmp_path / "119_60s.hea", RATES)
    with pytest.raises(DatasetError, match=message):
        mitbih_reference(tmp_path / "119_60s.hea")


def test_a_record_header_without_end_is_refused(tmp_path: Path, data_dir: Path) -> None:
    """wfdb reads a header whole: /dev/zero in its place was read until memory ran out."""
    pytest.importorskip("wfdb", reason="the wfdb extra is not installed (as on the device)")
    for name in ("119_60s.dat", "119_60s.atr"):
        shutil.copyfile(data_dir / "mitbih" / name, tmp_path / name)
    (tmp_path / "119_60s.hea").symlink_to("/dev/zero")
    with memory_cap(), pytest.raises(DatasetError, match=r"119_60s\.hea: holds more than"):
        read_recording(tmp_path / "119_60s.hea", RATES)


def test_an_undefined_annotation_label_is_a_dataset_error(tmp_path: Path, data_dir: Path) -> None:
    """A label byte changed to a code WFDB does not define reads as a NaN symbol, and the
    beat would leave the reference unseen: the file is refused at that sample."""
    pytest.importorskip("wfdb", reason="the wfdb extra is not installed (as on the device)")
    for name in ("119_60s.hea", "119_60s.dat", "119_60s.atr"):
        shutil.copyfile(data_dir / "mitbih" / name, tmp_path / name)
    hea, atr = tmp_path / "119_60s.hea", tmp_path / "119_60s.atr"
    words = np.frombuffer(atr.read_bytes(), "<u2").copy()
    samples, symbols, _ = read_wfdb_annotations(hea)
    k = next(k for k, w in enumerate(words) if w >> 10 == 1)  # the first N beat's word
    expected = int(samples[symbols.index("N")])
    for code in (15, 42, 58):  # unused, user-definable yet undefined, past the table
        changed = words.copy()
        changed[k] = (code << 10) | (changed[k] & 0x3FF)
        atr.write_bytes(changed.tobytes())
        with pytest.raises(
            DatasetError,
            match=rf"1 annotation\(s\) with a label code WFDB "
            rf"does not define, the first at sample {expected}$",
        ):
            read_wfdb_annotations(hea)


def test_cut_or_empty_beat_annotations_are_dataset_errors(tmp_path: Path, data_dir: Path) -> None:
    """wfdb reads an annotation file cut short without complaint, and an empty beat list
    scores every figure as empty: both would be figures over the wrong reference."""
    pytest.importorskip("wfdb", reason="the wfdb extra is not installed (as on the device)")
    from fedwear.evaluate.references import mitbih_reference

    for name in ("119_60s.hea", "119_60s.dat", "119_60s.atr"):
        shutil.copyfile(data_dir / "mitbih" / name, tmp_path / name)
    hea, atr = tmp_path / "119_60s.hea", tmp_path / "119_60s.atr"
    whole = atr.read_bytes()
    assert len(read_wfdb_annotations(hea)[0]) > 60  # the whole file reads
    for cut in (whole[: len(whole) // 2], whole[:-1], whole[:-2], b""):
        atr.write_bytes(cut)
        with pytest.raises(DatasetError, match=r"119_60s\.atr: truncated annotation file"):
            read_wfdb_annotations(hea)
        with pytest.raises(DatasetError, match="truncated annotation file"):
            read_recording(hea, RATES)  # the replay reads it for the heart-rate stream
    atr.write_bytes(bytes(len(whole)))  # zeros: a valid file that ends at once
    with pytest.raises(DatasetError, match=r"119_60s\.atr: no beat annotations"):
        mitbih_reference(hea)

    text = tmp_path / "walk.txt"
    text.write_text("      Time   Sample #  Type  Sub Chan  Num\tAux\n")
    with pytest.raises(DatasetError, match=r"walk\.txt: 0 beat\(s\)"):
        read_beat_text(text)
    text.write_text("Time Sample Type\n0:00.098 25 N 0 1 0\n0:00.809 207 ~ 0 1 0\n")
    with pytest.raises(DatasetError, match=r"1 beat\(s\)"):
        read_beat_text(text)
    beats = ["0:00.098 25 N", "0:00.809 207 N", "0:01.512 387 N"]
    text.write_text("\n".join(["Time Sample Type", *beats]) + "\n")
    assert read_beat_text(text).tolist() == [25 / 256, 207 / 256, 387 / 256]
    for lines, message in (
        ([beats[0], beats[2], beats[1]], r"walk\.txt:4: beat at sample 207 after one at 387"),
        ([beats[0], beats[0]], r"walk\.txt:3: beat at sample 25 after one at 25"),
        (["0:00.0 -3 N", *beats], r"walk\.txt:2: negative sample number -3"),
        (["x ## time resolution: 0", *beats], r"walk\.txt:2: time resolution '0' is not"),
        ([*beats, "99:00.0 999999999999999 N"], r"walk\.txt: beats span 3\.906e\+12 s for 4 beats"),
    ):
        text.write_text("\n".join(["Time Sample Type", *lines]) + "\n")
        with pytest.raises(DatasetError, match=message):
            read_beat_text(text)


def test_a_cut_padded_or_garbled_edf_says_so_and_prints_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    whole = bundled_recording().read_bytes()
    edf = tmp_path / "bad.edf"
    for content, message in (
        (
            whole[:-1],
            rf"bad\.edf: EDF file truncated: {len(whole) - 1} bytes, its header "
            rf"describes {len(whole)}",
        ),
        (whole + b"\0\0", rf"longer than its header says: {len(whole) + 2} bytes"),
        (whole[:200], "not an EDF file"),
        (b"0" * 252 + b"9999" + whole[256:], "not an EDF file"),
    ):
        edf.write_bytes(content)
        with pytest.raises(DatasetError, match=message):
            read_recording(edf, RATES)
    # pyedflib's C code prints its own complaint to standard output: it must never run
    # on such a file, or the JSON report and the event stream get a stray line.
    assert capfd.readouterr().out == ""


def _edf_field(edf: bytes, offset: int, text: str) -> bytes:
    return edf[:offset] + text.encode("ascii").ljust(8) + edf[offset + 8 :]


def test_an_edf_header_pyedflib_would_trip_on_is_a_dataset_error(tmp_path: Path) -> None:
    """A data record of no duration raised ZeroDivisionError inside pyedflib; a signal
    with an empty digital range would scale every sample to infinity or NaN."""
    whole = bundled_recording().read_bytes()
    count = int(whole[252:256])
    digital_min, digital_max = 256 + 120 * count, 256 + 128 * count  # signal 0's fields
    plain = whole[:192] + b" " * 44 + whole[236:]  # "EDF+C" blanked
    for content, message in (
        (_edf_field(whole, 244, "0"), r"data record duration 0 s .* not a positive number"),
        (_edf_field(whole, 244, "-2"), r"data record duration -2 s"),
        (
            # plain EDF: pyedflib refuses such a range in EDF+ itself, but reads it in EDF
            _edf_field(_edf_field(plain, digital_min, "1"), digital_max, "1"),
            r"channel 'chest_ecg': digital minimum 1 is not below its maximum 1",
        ),
    ):
        edf = tmp_path / "bad.edf"
        edf.write_bytes(content)
        with pytest.raises(DatasetError, match=message):
            read_recording(edf, RATES)


def _wrist_edf(path: Path, channels: dict[str, np.ndarray], fs: int = 64) -> None:
    """An EDF of wrist channels, each ``channels[label]`` at ``fs``."""
    import pyedflib

    writer = pyedflib.EdfWriter(str(path), len(channels))
    writer.setSignalHeaders(
        [
            {
                "label": label,
                "dimension": "mV" if "ppg" in label else "ms^-2" if "acc" in label else "rad/s",
                "sample_frequency": fs,
                "physical_min": -100.0,
                "physical_max": 100.0,
                "digital_min": -32768,
                "digital_max": 32767,
            }
            for label in channels
        ]
    )
    writer.writeSamples(list(channels.values()))
    writer.close()


def test_the_edf_writers_fill_at_the_end_is_not_read_as_samples(tmp_path: Path) -> None:
    """EDF stores whole data records, and a writer fills the last one: in the wrist set
    every channel, its clock too, ends 0-2 s flat. Replayed, that fill was a stuck sensor
    on every stream at every recording's end. Where every channel ends flat, each
    channel's flat end is left out; where only some do, nothing is."""
    fs, real, fill = 64, 20 * 64, 64  # whole records: pyedflib pads a partial one with 0
    rng = np.random.default_rng(5)
    channels = {
        "wrist_ppg": rng.normal(0, 10, real + fill),
        **{f"acc_{a}": rng.normal(0, 1, real + fill) for a in "xyz"},
        **{f"gyro_{a}": rng.normal(0, 1, real + fill) for a in "xyz"},
        "sample_times": np.arange(real + fill) / fs,
    }
    for x in channels.values():
        x[real:] = -1.0  # the writer's fill: one value per channel to the record's end
    channels["wrist_ppg"][real - 10 :] = -1.0  # a channel may end flat a little earlier
    _wrist_edf(tmp_path / "filled.edf", channels, fs)
    rec = read_edf(tmp_path / "filled.edf", RATES)
    assert len(rec.streams["ppg"][0]) == real - 10
    assert rec.streams["imu"][0][-1] / 1e9 == pytest.approx((real - 1) / fs, abs=0.011)
    assert not np.any(np.isclose(rec.streams["imu"][1][-5:, :3], -1.0, atol=0.01))

    channels["sample_times"][real:] = np.arange(fill) / fs + real / fs  # a clock still going
    _wrist_edf(tmp_path / "going.edf", channels, fs)
    rec = read_edf(tmp_path / "going.edf", RATES)
    assert len(rec.streams["ppg"][0]) == real + fill
    assert np.all(np.isclose(rec.streams["imu"][1][-5:, :3], -1.0, atol=0.01))


def test_unknown_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "notes.csv").write_text("a,b\n")
    with pytest.raises(DatasetError, match="unknown recording type"):
        read_recording(tmp_path / "notes.csv", RATES)
    with pytest.raises(DatasetError, match="no recordings"):
        recordings_in(tmp_path)
    with pytest.raises(DatasetError, match="no such file"):
        recordings_in(tmp_path / "absent")
    # Not a folder, so a file to read (it said "no recordings in this folder").
    assert recordings_in(Path("/dev/null")) == [Path("/dev/null")]
    with pytest.raises(DatasetError, match="/dev/null: unknown recording type"):
        read_recording(Path("/dev/null"), RATES)


def test_recordings_come_in_the_order_people_count(tmp_path: Path) -> None:
    """sub2 before sub10 (MobiFall's subjects, records 100 and 1000): tables read in order."""
    names = ["sub10/FOL_acc_10_1.txt", "sub2/FOL_acc_2_10.txt", "sub2/FOL_acc_2_9.txt"]
    names += ["sub1/FOL_acc_1_1.txt", "1000.hea", "100.hea"]
    for name in names:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    found = [p.relative_to(tmp_path).as_posix() for p in recordings_in(tmp_path)]
    assert found == [
        "100.hea",
        "1000.hea",
        "sub1/FOL_acc_1_1.txt",
        "sub2/FOL_acc_2_9.txt",
        "sub2/FOL_acc_2_10.txt",
        "sub10/FOL_acc_10_1.txt",
    ]


@pytest.mark.shared
def test_shared_datasets_load(shared_data: Path) -> None:
    pytest.importorskip("wfdb", reason="the wfdb extra is not installed (as on the device)")
    rec = read_recording(shared_data / "mitbih" / "208.hea", RATES)
    assert abs(rec.duration_s() - 1805) < 5
    rec = read_recording(shared_data / "wristppg" / "edf" / "s3_run.edf", RATES)
    assert {"imu", "ppg", "hr"} <= set(rec.streams)
    trials = recordings_in(shared_data / "mobifall" / "sub1")
    assert trials and all("_acc_" in p.name for p in trials)
