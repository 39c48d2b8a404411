"""`python -m study import`: other systems' outputs, one folder per system, any format."""

from __future__ import annotations

import pytest
import soundfile
from sqlalchemy import select

from study import db, media
from study.__main__ import main
from tests.study.helpers import make_compare_folders


def test_import_three_systems_from_mixed_formats(tmp_path, capsys):
    videos, folders = make_compare_folders(tmp_path)
    url = f"sqlite:///{tmp_path / 'cmp.db'}"
    args = ["import", "--name", "compare", "--videos", str(videos), "--out", str(tmp_path / "study"),
            "--create", "--db", url] + [f"--system={s}={f}" for s, f in folders.items()]
    assert main(args) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "scene_01" in err and "'salsav'" in err and "trimmed" in err      # the over-long track, named
    engine = db.make_engine(url, create=False)
    with db.read_session(engine) as s:
        study = s.scalars(select(db.Study)).one()
        assert sorted(x.name for x in study.systems) == ["foleycrafter", "mmaudio", "salsav"]
        clips = {c.name: c for c in study.clips}
        assert sorted(clips) == ["scene_00", "scene_01", "scene_02"]
        for c in clips.values():
            assert media.probe(c.video_path)["audio"] == []                 # the ground truth is gone
            sizes, lufs = set(), []
            for t in c.tracks:
                sizes.add(soundfile.info(t.audio_path).frames)
                wave, sr = soundfile.read(t.audio_path, always_2d=True)
                lufs.append(media.integrated_loudness(wave, sr))
                assert t.source_path.endswith((".m4a", ".mp4", ".flac", ".wav"))
            assert len(sizes) == 1 and all(abs(v - (-23.0)) < 1.0 for v in lufs), lufs
        codecs = {t.media_info["source_codec"] for c in clips.values() for t in c.tracks}
        assert codecs == {"aac", "flac", "pcm_s16le"}


def test_import_names_every_missing_file(tmp_path, capsys):
    videos, folders = make_compare_folders(tmp_path, n_clips=2, duration=1.0)
    (folders["foleycrafter"] / "scene_01.flac").unlink()
    base = ["import", "--name", "c2", "--videos", str(videos), "--out", str(tmp_path / "s")]
    base += [f"--system={s}={f}" for s, f in folders.items()]
    assert main(base) == 2
    assert "clip 'scene_01' has no file in the folder of system(s) ['foleycrafter']" in capsys.readouterr().err
    assert main(base + ["--skip-incomplete", "--no-loudness", "--trials", "1"]) == 0
    import yaml
    m = yaml.safe_load((tmp_path / "s" / "manifest.yaml").read_text())
    assert [c["name"] for c in m["clips"]] == ["scene_00"] and m["media"] == {"loudness": None}
    assert main(["import", "--name", "x", "--videos", str(videos), "--out", str(tmp_path / "t"),
                 "--system", "nofolder"]) == 2
    with pytest.raises(SystemExit):
        main(["import", "--name", "x"])
