"""Credentials.from_env: the environment, then a .env file; LiveKit's variable names."""

from __future__ import annotations

from pathlib import Path

import pytest

from livecue import ConfigError, Credentials

NAMES = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
ENV = {
    "LIVEKIT_URL": "ws://env.example:7880",
    "LIVEKIT_API_KEY": "env-key",
    "LIVEKIT_API_SECRET": "env-secret-value",
}


def write_env(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_from_environment() -> None:
    creds = Credentials.from_env(env=ENV, dotenv=None)
    assert creds == Credentials("ws://env.example:7880", "env-key", "env-secret-value")


def test_from_dotenv_file(tmp_path: Path) -> None:
    dotenv = write_env(
        tmp_path / ".env",
        "# LiveKit\n"
        "LIVEKIT_URL=wss://file.example\n"
        'LIVEKIT_API_KEY="file-key"\n'
        "export LIVEKIT_API_SECRET='file secret'\n",
    )
    creds = Credentials.from_env(env={}, dotenv=dotenv)
    assert creds == Credentials("wss://file.example", "file-key", "file secret")


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    dotenv = write_env(
        tmp_path / ".env",
        "LIVEKIT_URL=wss://file.example\nLIVEKIT_API_KEY=file-key\nLIVEKIT_API_SECRET=file-s\n",
    )
    creds = Credentials.from_env(env={"LIVEKIT_URL": "ws://env.example"}, dotenv=str(dotenv))
    assert creds == Credentials("ws://env.example", "file-key", "file-s")


def test_a_missing_dotenv_file_is_fine() -> None:
    creds = Credentials.from_env(env=ENV, dotenv="/nonexistent/dir/.env")
    assert creds.url == ENV["LIVEKIT_URL"]


def test_a_directory_is_not_a_dotenv_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        Credentials.from_env(env={}, dotenv=tmp_path)


def test_missing_everything_names_all_three() -> None:
    with pytest.raises(ConfigError) as info:
        Credentials.from_env(env={}, dotenv=None)
    for name in NAMES:
        assert name in str(info.value)


@pytest.mark.parametrize("missing", NAMES)
def test_missing_one_names_only_that_one(missing: str) -> None:
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(ConfigError) as info:
        Credentials.from_env(env=env, dotenv=None)
    message = str(info.value)
    assert missing in message
    for other in NAMES:
        if other != missing:
            assert other not in message


@pytest.mark.parametrize("missing", NAMES)
def test_empty_counts_as_missing(missing: str) -> None:
    with pytest.raises(ConfigError, match=missing):
        Credentials.from_env(env={**ENV, missing: ""}, dotenv=None)


def test_a_name_without_a_value_in_dotenv_is_missing(tmp_path: Path) -> None:
    dotenv = write_env(
        tmp_path / ".env", "LIVEKIT_URL=ws://x\nLIVEKIT_API_KEY\nLIVEKIT_API_SECRET=s\n"
    )
    with pytest.raises(ConfigError, match="LIVEKIT_API_KEY"):
        Credentials.from_env(env={}, dotenv=dotenv)


def test_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert Credentials.from_env(dotenv=None) == Credentials(*ENV.values())


def test_dotenv_in_the_working_directory_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_env(
        tmp_path / ".env",
        "LIVEKIT_URL=ws://cwd.example\nLIVEKIT_API_KEY=cwd-key\nLIVEKIT_API_SECRET=cwd-s\n",
    )
    monkeypatch.chdir(tmp_path)
    assert Credentials.from_env(env={}) == Credentials("ws://cwd.example", "cwd-key", "cwd-s")


def test_repr_hides_the_secret() -> None:
    creds = Credentials.from_env(env=ENV, dotenv=None)
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert "env-secret-value" not in text
        assert "***" in text
        assert "env-key" in text and "ws://env.example:7880" in text


def test_credentials_are_frozen() -> None:
    creds = Credentials(*ENV.values())
    with pytest.raises(AttributeError):
        creds.api_secret = "other"  # type: ignore[misc]
