"""The distillation input pipeline: crops, pooled targets, seeding, validation buckets."""

import numpy as np
import pytest
import tensorflow as tf

from kerasemo.audio import CROP_SAMPLES, vggvox_spectrogram_reference
from kerasemo.audio.signals import speech_like_signal
from kerasemo.data import pipeline
from shard_fixtures import ramp_logits, write_shards


def test_frame_index_is_the_authors_formula():
    times = np.array([0.0, 0.04, 0.24, 0.279, 0.28, 0.52, 4.024])
    expected = np.floor(np.maximum(25 * times - 1, 0) / 6) + 1
    np.testing.assert_array_equal(pipeline.frame_index(times).numpy(), expected)


def test_frame_index_matches_the_builders_formula_on_every_crop_boundary():
    # Crop starts and ends on and around the samples where fps * t - 1 is a whole frame, where
    # float round-off used to put the graph version one frame below the builder's.
    from kerasemo.data.frames import frame_index_for_time

    samples = np.concatenate([np.arange(0, 200_000, 640) + d for d in (-1, 0, 1)])
    samples = samples[samples >= 0]
    for times in (samples / 16_000, (samples + 1) / 16_000):
        np.testing.assert_array_equal(
            pipeline.frame_index(times).numpy(), frame_index_for_time(times)
        )


def test_crop_window_selects_the_authors_frames():
    logits = ramp_logits(40)
    # Crop at sample 0 of 64,384: t0 = 1/16000 -> frame 1, t1 = 4.024 s -> frame 17.
    pooled = pipeline.pool_crop_logits(logits, 0, CROP_SAMPLES, "max").numpy()
    assert pooled[0] == 16 and pooled[1] == 0
    mean = pipeline.pool_crop_logits(logits, 0, CROP_SAMPLES, "mean").numpy()
    assert mean[0] == pytest.approx(np.mean(np.arange(17)))
    # Crop starting at 2 s (sample 32,000): t0 = 2.0000625 -> frame 9, t1 = 6.024 -> frame 25.
    pooled = pipeline.pool_crop_logits(logits, 32_000, CROP_SAMPLES, "max").numpy()
    assert (pooled[0], pooled[1]) == (24, -8)
    # Beyond the last labelled frame, the window is clipped to the frames that exist.
    assert pipeline.pool_crop_logits(logits[:5], 0, CROP_SAMPLES, "max").numpy()[0] == 4


def test_training_crops_match_their_targets(tmp_path):
    tracks = [(900, ramp_logits(40)), (1200, ramp_logits(52)), (450, ramp_logits(20)), (250, ramp_logits(12))]
    files = write_shards(tmp_path, tracks)
    ds = pipeline.training_dataset(files, batch_size=2, seed=3, deterministic=True)
    seen = set()
    for spectrogram, target in ds:
        assert spectrogram.shape == (2, 257, 400) and target.shape == (2, 8)
        for crop, pooled in zip(spectrogram.numpy(), target.numpy(), strict=True):
            rows, track = crop[0], int(crop[1, 0]) - 1
            frames, logits = tracks[track]
            start_frame = int(rows[0]) - 1
            valid = min(400, frames - start_frame)
            np.testing.assert_array_equal(rows[:valid], start_frame + 1 + np.arange(valid))
            assert not crop[:, valid:].any()  # zero-padded past the end of a short track
            if frames < 400:
                assert start_frame == 0
            expected = pipeline.pool_crop_logits(logits, start_frame * 160, CROP_SAMPLES, "max")
            np.testing.assert_array_equal(pooled, expected.numpy())
            seen.add(track)
    assert seen == {0, 1, 2, 3}  # one crop per track per epoch


def test_crops_are_seeded_and_change_between_epochs(tmp_path):
    files = write_shards(tmp_path, [(2000, ramp_logits(83)) for _ in range(4)], per_shard=2)

    def starts(ds):
        return sorted(int(s[0, 0]) for batch, _ in ds for s in batch.numpy())

    ds = pipeline.training_dataset(files, batch_size=2, seed=7, deterministic=True)
    first, second = starts(ds), starts(ds)
    assert first != second  # a new crop per track every epoch
    again = pipeline.training_dataset(files, batch_size=2, seed=7, deterministic=True)
    assert starts(again) == first  # same seed, same crops
    other = pipeline.training_dataset(files, batch_size=2, seed=8, deterministic=True)
    assert starts(other) != first


def test_waveform_storage_gives_the_recipe_spectrogram(tmp_path):
    # A track shorter than a crop starts at sample 0, so the crop is known exactly.
    files = write_shards(tmp_path, [(300, ramp_logits(13))], per_shard=1, kind="waveform")
    (spectrogram, target), = pipeline.training_dataset(files, batch_size=1, seed=0).take(1)
    assert spectrogram.shape == (1, 257, 400)
    waveform = np.round(speech_like_signal(300 * 160 / 16000, seed=0) * 32768) / 32768
    padded = np.pad(waveform, (0, CROP_SAMPLES - len(waveform)))
    reference = vggvox_spectrogram_reference(padded, mirror=False, normalize=False)
    np.testing.assert_allclose(spectrogram.numpy()[0], reference, rtol=1e-3, atol=1e-3 * reference.max())
    np.testing.assert_array_equal(target.numpy()[0], ramp_logits(13).max(axis=0))


def test_validation_uses_whole_tracks_in_length_buckets(tmp_path):
    lengths = [30, 120, 500, 900, 1700]
    files = write_shards(tmp_path, [(n, ramp_logits(max(1, n // 24))) for n in lengths], split="unheard_val")
    batches = list(pipeline.validation_dataset(files, batch_size=4, with_ids=True))
    frames, targets = [], []
    for spectrogram, target, ids in batches:
        rows = spectrogram.numpy()[:, 0, :]
        frames += [int((r > 0).sum()) for r in rows]
        targets += list(target.numpy()[:, 0])
        assert spectrogram.shape[2] >= 63
    assert sorted(frames) == lengths  # every track whole, none cropped
    assert sorted(targets) == sorted(max(1, n // 24) - 1.0 for n in lengths)  # max over all frames


def test_missing_shards_explain_how_to_build_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="No train shards .*build_emovoxceleb"):
        pipeline.shard_files(tmp_path, "train")
    with pytest.raises(ValueError, match="split must be one of"):
        pipeline.shard_files(tmp_path, "test")


def test_frequency_warp_stretches_bins_and_is_seeded(tmp_path):
    window = np.tile(np.arange(257, dtype=np.float32), (3, 1))
    np.testing.assert_allclose(pipeline.warp_frequency(window, 1.0).numpy(), window)
    up = pipeline.warp_frequency(window, 2.0).numpy()[0]
    np.testing.assert_allclose(up[:5], [0.0, 0.5, 1.0, 1.5, 2.0])  # bin k holds bin k / 2
    down = pipeline.warp_frequency(window, 0.5).numpy()[0]
    assert down[100] == 200 and not down[130:].any()  # no source above the top bin
    files = write_shards(tmp_path, [(500, ramp_logits(20))] * 4, per_shard=4)

    def first_batch(warp, seed=0):
        (spectrogram, target), = pipeline.training_dataset(
            files, batch_size=4, seed=seed, frequency_warp=warp, deterministic=True
        ).take(1)
        return spectrogram.numpy(), target.numpy()

    plain, warped = first_batch(0.0), first_batch(0.2)
    np.testing.assert_array_equal(plain[1], warped[1])  # targets untouched
    assert not np.allclose(plain[0], warped[0])
    np.testing.assert_array_equal(first_batch(0.2)[0], warped[0])  # same seed, same warp
    with pytest.raises(ValueError, match="frequency_warp must be in"):
        pipeline.training_dataset(files, frequency_warp=1.5)
