"""Prometheus' HTTP query API (`/api/v1/query`, `/api/v1/query_range`) over urllib, with specific errors."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Final

Json = dict[str, Any]

DEFAULT_TIMEOUT_SECONDS: Final = 30.0


class PrometheusUnreachableError(Exception):
    """No HTTP answer from Prometheus at all (refused, timed out, not HTTP): nothing can be queried."""


class QueryError(Exception):
    """Prometheus answered, but refused or failed one query (a PromQL error, a bad parameter)."""


class PrometheusHttp:
    """The two query endpoints a dashboard needs; results as Prometheus returns them (`data.result`)."""

    def __init__(self, base_url: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds

    def query(self, expr: str, at: float) -> list[Json]:
        """An instant query evaluated at `at` (Unix seconds): a vector (or a scalar as one sample)."""
        data = self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        if data.get("resultType") == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[Json] = data["result"]
        return result

    def query_range(self, expr: str, start: float, end: float, step_seconds: float) -> list[Json]:
        """A range query: one series per label set, `values` a list of [time, "value"]."""
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_seconds:g}"}
        data = self._get("/api/v1/query_range", params)
        if data.get("resultType") == "scalar":
            return [{"metric": {}, "values": [data["result"]]}]
        result: list[Json] = data["result"]
        return result

    def _get(self, path: str, params: dict[str, str]) -> Json:
        url = f"{self.base_url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_seconds) as response:  # noqa: S310 - http(s) checked
                body = response.read()
        except urllib.error.HTTPError as exc:
            # 400/422/503 carry Prometheus' JSON error; anything else is not a Prometheus answering.
            body = exc.read()
            try:
                document = json.loads(body)
            except ValueError:
                raise PrometheusUnreachableError(f"{self.base_url}: HTTP {exc.code} from {path}") from exc
            raise QueryError(f"{document.get('errorType')}: {document.get('error')}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise PrometheusUnreachableError(f"{self.base_url}: {reason}") from exc
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise PrometheusUnreachableError(f"{self.base_url}{path}: the answer is not JSON") from exc
        if document.get("status") != "success":
            raise QueryError(f"{document.get('errorType')}: {document.get('error')}")
        data: Json = document["data"]
        return data
