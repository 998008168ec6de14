"""Where OpenAI-compatible providers live and which environment variable holds each one's key.

Data, not code paths: every provider below is reached by the same ``OpenAIClient``; a preset only fills
in the base URL and says where to look for the key. ``docs/providers.md`` shows the flags for each.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlparse, urlunparse

from ..errors import ConfigError

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Sent to servers that need no key (Ollama, vLLM, llama.cpp): the SDK insists on some string.
NO_KEY = "no-key"


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    base_url: str | None  # None: --base-url / $OPENAI_BASE_URL / OpenAI's own endpoint
    key_env: tuple[str, ...]  # checked in order, before $OPENAI_API_KEY
    needs_key: bool
    multi_sample: bool = True  # accepts n > 1 in one request (Anthropic's endpoint insists on n = 1)


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider("openai", None, (), needs_key=False),
        Provider("openrouter", "https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",), needs_key=True),
        Provider(
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta/openai/",
            ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
            needs_key=True,
        ),
        Provider(
            "anthropic",
            "https://api.anthropic.com/v1/",
            ("ANTHROPIC_API_KEY",),
            needs_key=True,
            multi_sample=False,
        ),
        Provider("ollama", "http://localhost:11434/v1", (), needs_key=False),
        Provider("vllm", "http://localhost:8000/v1", (), needs_key=False),
        Provider("llamacpp", "http://localhost:8080/v1", (), needs_key=False),
    )
}

# Hosts whose key lives in a provider-specific variable, so `--base-url` alone finds the right key.
_KEYED_HOSTS: dict[str, Provider] = {
    "api.openai.com": Provider("openai", OPENAI_BASE_URL, (), needs_key=True),
    "openrouter.ai": PROVIDERS["openrouter"],
    "generativelanguage.googleapis.com": PROVIDERS["gemini"],
    "api.anthropic.com": PROVIDERS["anthropic"],
}


def resolve_base_url(base_url: str | None, provider: Provider | None = None) -> str:
    """Explicit URL, else the preset's, else ``$OPENAI_BASE_URL``, else OpenAI's endpoint."""
    url = base_url or (provider.base_url if provider else None) or os.environ.get("OPENAI_BASE_URL")
    url = url or OPENAI_BASE_URL
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(
            f"base URL {without_credentials(url)!r} is not an http(s) URL, e.g. http://localhost:11434/v1"
        )
    return url


def without_credentials(url: str) -> str:
    """``url`` without a ``user:password@`` part, for anything shown or recorded (provenance, errors)."""
    parsed = urlparse(url)
    if "@" not in parsed.netloc:
        return url
    return urlunparse(parsed._replace(netloc=parsed.netloc.rpartition("@")[2]))


def resolve_api_key(base_url: str, api_key: str | None = None, provider: Provider | None = None) -> str:
    """Explicit key, else the provider's own variable(s), else ``$OPENAI_API_KEY``.

    A hosted provider without any key is a ``ConfigError`` naming the variable to set; other servers
    (local or self-hosted ones that do not check keys) get a placeholder the server ignores.
    """
    if api_key:
        return api_key
    known = provider if provider and provider.key_env else known_provider(base_url)
    names = (*(known.key_env if known else ()), "OPENAI_API_KEY")
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    if known is not None and known.needs_key:
        raise ConfigError(f"no API key for {base_url}: set {names[0]}")
    return NO_KEY


def known_provider(base_url: str) -> Provider | None:
    """The hosted provider behind ``base_url``, if it is one we know."""
    return _KEYED_HOSTS.get(urlparse(base_url).hostname or "")


def key_hint(base_url: str) -> str:
    """Which variable a user should check when ``base_url`` refuses the key."""
    known = known_provider(base_url)
    return known.key_env[0] if known and known.key_env else "OPENAI_API_KEY"


__all__ = [
    "OPENAI_BASE_URL",
    "PROVIDERS",
    "Provider",
    "key_hint",
    "resolve_api_key",
    "resolve_base_url",
    "without_credentials",
]
