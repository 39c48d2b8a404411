"""app.py as a Hugging Face Space starts it: the Space's address and port, and the study kept
in the Space's persistent storage behind a secure cookie (the study's `space` preset)."""
from __future__ import annotations

import app as app_module
from study.settings import PRESETS


def test_space_address_and_port_from_gradio_variables():
    a = app_module.build_parser({"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7861"}).parse_args([])
    assert (a.host, a.port) == ("0.0.0.0", 7861)
    a = app_module.build_parser({}).parse_args([])
    assert (a.host, a.port, a.db) == ("127.0.0.1", 7860, None)
    a = app_module.build_parser({"SALSAV_HOST": "10.0.0.1", "GRADIO_SERVER_NAME": "0.0.0.0",
                                 "SALSAV_PORT": "9000"}).parse_args(["--port", "9001"])
    assert (a.host, a.port) == ("10.0.0.1", 9001)             # ours, then the flag, win


def test_space_with_persistent_storage_keeps_the_study_there(tmp_path):
    settings, derived = app_module.deployment(None, {"SPACE_ID": "user/salsav"}, data=tmp_path)
    assert settings.db_url == f"sqlite:///{tmp_path / 'study.db'}"
    assert settings.cookie_secure and settings.cookie_secure == PRESETS["space"].cookie_secure
    assert derived == tmp_path / "studies-derived"
    # the database is usable there: the demo study loads into it and survives a "restart"
    study_id = app_module.ensure_demo_study(settings.db_url, derived=derived)
    assert study_id is not None and (tmp_path / "study.db").is_file()
    assert app_module.ensure_demo_study(settings.db_url, derived=derived) is None   # already there


def test_without_persistent_storage_or_off_a_space(tmp_path):
    settings, derived = app_module.deployment(None, {"SPACE_ID": "user/salsav"}, data=tmp_path / "none")
    assert settings.db_url == app_module.LOCAL_DB and settings.cookie_secure
    settings, derived = app_module.deployment(None, {}, data=tmp_path)
    assert settings.db_url == app_module.LOCAL_DB and not settings.cookie_secure
    assert derived == app_module.ROOT / "studies" / "demo" / "_derived"
    settings, derived = app_module.deployment("sqlite:///x.db", {"SALSAV_DERIVED_DIR": str(tmp_path)})
    assert settings.db_url == "sqlite:///x.db" and derived == tmp_path
