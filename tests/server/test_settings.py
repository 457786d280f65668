"""Settings from the environment, and the generated secret key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from server.settings import Settings


def test_environment_variables_use_the_admit_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIT_DATABASE_URL", "postgresql://db/admit")
    monkeypatch.setenv("ADMIT_TOKEN_TTL", "3600")
    monkeypatch.setenv("ADMIT_MERCHANT_SELF_REGISTRATION", "true")
    settings = Settings()
    assert settings.database_url == "postgresql://db/admit"
    assert settings.token_ttl == timedelta(hours=1)
    assert settings.merchant_self_registration is True
    assert settings.language == "zh-CN"
    assert settings.timezone == "Asia/Shanghai"


def test_a_set_secret_key_is_used_as_is(tmp_path: Path) -> None:
    settings = Settings(secret_key="abc", data_dir=tmp_path)  # type: ignore[arg-type]
    assert settings.resolved_secret_key() == b"abc"
    assert not (tmp_path / "secret_key").exists()


def test_an_unset_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = settings.resolved_secret_key()
    assert len(first) >= 48
    assert Settings(data_dir=tmp_path / "data").resolved_secret_key() == first
    assert (tmp_path / "data" / "secret_key").stat().st_mode & 0o777 == 0o600
