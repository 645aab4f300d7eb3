"""LM Studio's OpenAI-compatible local server, through the `openai` SDK."""

from __future__ import annotations

import os
from typing import Any

from .base import ProviderSpec
from .openai import OpenAIProvider

SPEC = ProviderSpec(
    name="lmstudio", default_model="local-model", description="LM Studio server (OpenAI-compatible)",
    extra="lmstudio", sdk_modules=("openai",), key_env=("LMSTUDIO_API_KEY",), key_required=False,
    base_url_env="LMSTUDIO_BASE_URL", default_base_url="http://127.0.0.1:1234/v1", probe_server=True,
    output="json_schema")  # a json_schema response format, which LM Studio turns into a grammar


class LMStudioProvider(OpenAIProvider):
    spec = SPEC
    max_tokens_field = "max_tokens"  # OpenAI-compatible servers know the classic field

    def client_options(self) -> dict[str, Any]:
        # LM Studio needs no key, but the SDK insists on one
        key = self.settings.api_key or os.environ.get("LMSTUDIO_API_KEY") or "lm-studio"
        return {"api_key": key, "base_url": self.spec.base_url(self.settings)}


PROVIDER = LMStudioProvider
