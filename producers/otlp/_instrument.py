"""One-line instrumentation of the model clients that are installed (``tracestream[instrument]``).

:func:`instrument_libraries` turns on OpenInference's maintained
instrumentations for ``openai``, ``anthropic`` and LangChain (``langchain_core``)
where both the client and its instrumentation are installed, and skips the
rest silently (each skip is reported in :attr:`Instrumented.skipped`). Their
spans go through an OpenTelemetry ``BatchSpanProcessor`` (bounded queue,
drops when full, never blocks the call) to a :class:`TracestreamSpanExporter`,
so they become our ``span`` events through the receiver's own conversion.

Why OpenInference rather than our own wrappers or the other packages (checked
against the real clients; ``tests/integration/otlp/test_instrument.py``):

- it records, on span attributes and without any opt-in flag, the model
  (the response's, which prices exactly), invocation parameters, input and
  output messages with tool calls, tool definitions, the assembled output of
  streams, usage with ``prompt_details.cache_read``/``cache_write`` and
  ``completion_details.reasoning``, and errors (an ``exception`` event for
  OpenAI, the status message for Anthropic); one dialect for all three
  libraries, which our conversion maps attribute by attribute;
- the official ``opentelemetry-instrumentation-openai-v2`` covers OpenAI only
  and records message content only with
  ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (as log events, unless
  the experimental GenAI opt-in is set), so a plain setup would store no
  prompts; OpenLLMetry's packages would serve too, but come with the larger
  ``traceloop`` dependency set.

What none of them can do, and we do not do either: the OpenAI API reports no
usage for a streamed chat completion unless the caller asks for it
(``stream_options={"include_usage": True}``); adding that to the caller's
request would add a chunk without choices to the caller's stream, so we leave
requests as they are and such a span carries no usage.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

__all__ = ["LIBRARIES", "Instrumented", "instrument_libraries"]

logger = logging.getLogger("tracestream.producers.otlp")


@dataclass(frozen=True, slots=True)
class _Library:
    client: str  # the module the application imports
    instrumentor: str  # "module:Class" of the OpenInference instrumentor
    package: str  # the distribution to install for it


#: What :func:`instrument_libraries` knows, by the name it reports.
LIBRARIES: Final[Mapping[str, _Library]] = {
    "openai": _Library(
        "openai",
        "openinference.instrumentation.openai:OpenAIInstrumentor",
        "openinference-instrumentation-openai",
    ),
    "anthropic": _Library(
        "anthropic",
        "openinference.instrumentation.anthropic:AnthropicInstrumentor",
        "openinference-instrumentation-anthropic",
    ),
    "langchain": _Library(
        "langchain_core",
        "openinference.instrumentation.langchain:LangChainInstrumentor",
        "openinference-instrumentation-langchain",
    ),
}


@dataclass
class Instrumented:
    """What :func:`instrument_libraries` turned on; stop it with :meth:`shutdown`.

    Attributes:
        libraries: the names instrumented (keys of :data:`LIBRARIES`).
        skipped: name -> why it was not (the client or its instrumentation absent).
        tracer_provider: the provider the instrumentations write to.
    """

    libraries: tuple[str, ...]
    skipped: dict[str, str]
    tracer_provider: TracerProvider
    _instrumentors: list[Any] = field(default_factory=list, repr=False)
    _owns_provider: bool = field(default=True, repr=False)

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Export what the batch processor holds and wait for the exporter; False on timeout."""
        return self.tracer_provider.force_flush(int(timeout_s * 1000))

    def shutdown(self) -> None:
        """Turn the instrumentations off, then flush and close the provider (if it is ours).

        Blocks for at most the exporter's shutdown timeout. Idempotent.
        """
        while self._instrumentors:
            instrumentor = self._instrumentors.pop()
            try:
                instrumentor.uninstrument()
            except Exception:  # a third-party uninstrument must not stop the rest
                logger.warning(
                    "tracestream: could not uninstrument %r", instrumentor, exc_info=True
                )
        if self._owns_provider:
            self.tracer_provider.shutdown()
        else:
            self.tracer_provider.force_flush()


_lock = threading.Lock()
_current: Instrumented | None = None


def _load(name: str, library: _Library) -> tuple[Any | None, str]:
    """The instrumentor for ``library``, or None and why not."""
    if importlib.util.find_spec(library.client) is None:
        return None, f"{library.client} is not installed"
    module_name, _, class_name = library.instrumentor.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None, f"{library.package} is not installed (pip install 'tracestream[instrument]')"
    return getattr(module, class_name)(), ""


def instrument_libraries(
    exporter: SpanExporter,
    *,
    resource: Mapping[str, str] | None = None,
    tracer_provider: TracerProvider | None = None,
    libraries: Iterable[str] | None = None,
    max_queue_size: int = 2048,
    schedule_delay_ms: int = 1000,
) -> Instrumented:
    """Instrument the installed model clients, exporting their spans to ``exporter``.

    Process-wide: a previous :class:`Instrumented` is shut down first, so calling
    this twice does not record every call twice.

    Args:
        exporter: where spans go (a :class:`TracestreamSpanExporter`).
        resource: resource attributes of a provider made here (``service.name``,
            ``deployment.environment.name``, ``service.version``).
        tracer_provider: an application's own provider to add the exporter to
            (all its spans then go to tracestream too); default a new one,
            not made the global provider.
        libraries: names from :data:`LIBRARIES` to try (default all).
        max_queue_size: spans the batch processor holds before dropping.
        schedule_delay_ms: how long spans may wait before being exported.

    Raises:
        ValueError: an unknown library name (absent packages never raise).
    """
    global _current
    names = list(LIBRARIES) if libraries is None else list(libraries)
    unknown = sorted(set(names) - set(LIBRARIES))
    if unknown:
        raise ValueError(f"unknown libraries {unknown}; known: {sorted(LIBRARIES)}")
    with _lock:
        if _current is not None:
            _current.shutdown()
            _current = None
        owns = tracer_provider is None
        provider = tracer_provider or TracerProvider(resource=Resource.create(dict(resource or {})))
        provider.add_span_processor(
            BatchSpanProcessor(
                exporter, max_queue_size=max_queue_size, schedule_delay_millis=schedule_delay_ms
            )
        )
        done = Instrumented((), {}, provider, _owns_provider=owns)
        for name in names:
            instrumentor, why = _load(name, LIBRARIES[name])
            if instrumentor is None:
                done.skipped[name] = why
                continue
            if instrumentor.is_instrumented_by_opentelemetry:
                # Someone else (an earlier call we no longer own, the app) turned it
                # on: take it over rather than wrap the client twice.
                instrumentor.uninstrument()
            instrumentor.instrument(tracer_provider=provider)
            done._instrumentors.append(instrumentor)
            done.libraries = (*done.libraries, name)
        _current = done
        logger.info("tracestream: instrumented %s; skipped %s", done.libraries or "nothing",
                    done.skipped or "nothing")  # fmt: skip
        return done
